# -*- coding: utf-8 -*-
# Copyright: fleetwatch engineers
# SPDX-License-Identifier: Apache-2.0

from __future__ import absolute_import, division, print_function

__metaclass__ = type

DOCUMENTATION = r"""
name: fluent_bit_config
short_description: Fluent Bit's YAML configuration shipping the journal and files to Loki
version_added: 0.2.0
author:
  - fleetwatch engineers (@fleetwatch)
description:
  - Builds the configuration of the fluent_bit role (service, inputs, outputs) as a dict, to be dumped as YAML.
  - The systemd journal and each job of files become inputs (positions in databases under the data directory,
    filesystem buffering); each Loki endpoint becomes a C(loki) output with the labels C(job), C(host), C(unit)
    (from C(_SYSTEMD_UNIT)) and the static ones, retries and a size limit for its queue on disk.
  - Loki endpoints come from the inventory (O(_input.loki_slices), the output of
    P(fleetwatch.observability.scrape_jobs#filter) for the Loki group) and from URLs (O(_input.urls_extra)).
  - Values Fluent Bit would read differently than written (commas in lists, C(${), a leading C($), line breaks)
    are refused with the variable and the host named.
positional: host
options:
  _input:
    description: >-
      The role's settings (see plugins/plugin_utils/_fluentbit.py), plus C(listen_address) (host:port),
      C(loki_slices) and C(urls_extra).
    type: dict
    required: true
  host:
    description: The inventory hostname, named in error messages.
    type: str
    required: true
"""

EXAMPLES = r"""
- name: Fluent Bit configuration
  ansible.builtin.debug:
    msg: >-
      {{ {'listen_address': '0.0.0.0:2020', 'data_dir': '/var/lib/fluent-bit', 'journal_job': 'systemd-journal',
          'host_label': inventory_hostname, 'total_limit_size': '1G', 'urls_extra': ['http://loki.example.org:3100']}
         | fleetwatch.observability.fluent_bit_config(inventory_hostname) | to_nice_yaml }}
"""

RETURN = r"""
_value:
  description: The configuration (keys C(service) and C(pipeline)).
  type: dict
"""

from ansible.errors import AnsibleFilterError

from ansible_collections.fleetwatch.observability.plugins.plugin_utils import _fluentbit as fluentbit
from ansible_collections.fleetwatch.observability.plugins.module_utils import hostport


def fluent_bit_config(value, host):
    settings = dict(value or {})
    try:
        listen_host, listen_port = hostport.parse_listen(settings.pop("listen_address", None),
                                                         "fluent_bit_listen_address", host)
        settings["listen_host"] = listen_host or "0.0.0.0"
        settings["listen_port"] = listen_port
        endpoints = []
        for entry in settings.pop("loki_slices", None) or []:
            for target in entry.get("targets") or []:
                endpoints.append(fluentbit.endpoint_from_target(entry.get("scheme") or "http", target["address"],
                                                                entry.get("path_prefix"), host))
        for url in settings.pop("urls_extra", None) or []:
            endpoints.append(fluentbit.endpoint_from_url(url, host))
        settings["endpoints"] = endpoints
        return fluentbit.config(settings, host)
    except (fluentbit.FluentBitError, hostport.HostPortError) as exc:
        raise AnsibleFilterError("fluent_bit: %s" % exc)


class FilterModule(object):
    def filters(self):
        return {"fluent_bit_config": fluent_bit_config}
