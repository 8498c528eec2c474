# -*- coding: utf-8 -*-
# Copyright: fleetwatch engineers
# SPDX-License-Identifier: Apache-2.0

from __future__ import absolute_import, division, print_function

__metaclass__ = type

DOCUMENTATION = r"""
name: remote_write_configs
short_description: Prometheus remote_write entries towards the targets of scrape_jobs slices
version_added: 0.2.0
author:
  - fleetwatch engineers (@fleetwatch)
description:
  - One C(remote_write) entry per target of the slices, for a program that writes to the inventory's Prometheus hosts
    (the tempo role's metrics generator), reached as Prometheus' own scrape jobs reach them.
  - C(url) is scheme, address, route prefix and O(path); C(name) is C(<job>-<instance>); basic auth is given by
    C(password_file) only (build the slices with a C(secrets_dir) and write their password files with
    C(prometheus_secret_files)); C(tls_config) comes from the slice.
seealso:
  - plugin: fleetwatch.observability.scrape_jobs
    plugin_type: filter
options:
  _input:
    description: Slices of the C(scrape_jobs) filter.
    type: list
    elements: dict
    required: true
  path:
    description: Path of the remote write receiver, after the route prefix.
    type: str
    default: /api/v1/write
  settings:
    description: Fields added to every entry (for example C(send_exemplars)).
    type: dict
"""

EXAMPLES = r"""
- name: Remote write to the inventory's Prometheus hosts
  ansible.builtin.debug:
    msg: >-
      {{ {'prometheus': {'group': 'prometheus', 'port': 9090}}
         | fleetwatch.observability.scrape_jobs(groups, hostvars, 'tempo', none, {'secrets_dir': '/etc/tempo/secrets'})
         | fleetwatch.observability.remote_write_configs('/api/v1/write', {'send_exemplars': true}) }}
"""

RETURN = r"""
_value:
  description: The entries, each with C(url), C(name), and C(basic_auth) (C(username), C(password_file)) and
    C(tls_config) when the target needs them.
  type: list
  elements: dict
"""

from collections.abc import Mapping

from ansible.errors import AnsibleFilterError

from ansible_collections.fleetwatch.observability.plugins.module_utils import scrape


def remote_write_configs(slices, path="/api/v1/write", settings=None):
    try:
        return scrape.remote_write_configs(list(slices or []), path, dict(settings) if isinstance(settings, Mapping) else settings)
    except scrape.ScrapeError as exc:
        raise AnsibleFilterError("remote write: %s" % exc)


class FilterModule(object):
    def filters(self):
        return {"remote_write_configs": remote_write_configs}
