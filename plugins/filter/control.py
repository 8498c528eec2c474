# -*- coding: utf-8 -*-
# Copyright: fleetwatch engineers
# SPDX-License-Identifier: Apache-2.0

from __future__ import absolute_import, division, print_function

__metaclass__ = type

DOCUMENTATION = r"""
name: control
short_description: How a role reaches the service it set up (readiness, reload checks)
version_added: 0.2.0
author:
  - fleetwatch engineers (@fleetwatch)
description:
  - Returns the C(control) option of the C(services) of P(fleetwatch.observability.service_setup#module),
    the service's own address (its listen IP; 127.0.0.1 or ::1 when it listens on all addresses),
    route prefix (path of the external URL or C(web.route-prefix)), TLS, the client certificate a
    service with a client CA requires, and the first basic auth user (or C(control_user)).
positional: prefix, host
options:
  _input:
    description: >-
      C(listen_address), C(tls_cert_file), C(tls_key_file), C(client_ca_file), C(basic_auth_users),
      C(external_url), C(extra_flags), C(control_user), C(control_cert_file), C(control_key_file),
      C(ready_path), C(metrics_path).
    type: dict
    required: true
  prefix:
    description: The role's variable prefix, named in error messages.
    type: str
    required: true
  host:
    description: The inventory hostname, named in error messages.
    type: str
    required: true
"""

EXAMPLES = r"""
- name: Control path of Prometheus
  ansible.builtin.debug:
    msg: "{{ {'listen_address': '0.0.0.0:9090', 'ready_path': '/-/ready'} | fleetwatch.observability.control('prometheus', inventory_hostname) }}"
"""

RETURN = r"""
_value:
  description: C(url), C(ready_path), C(metrics_path), C(timeout), and where needed C(username), C(password), C(cert_file), C(key_file).
  type: dict
"""

from ansible.errors import AnsibleFilterError

from ansible_collections.fleetwatch.observability.plugins.module_utils import controlpath


def control(settings, prefix, host):
    try:
        return controlpath.control(dict(settings or {}), prefix, host)
    except controlpath.ControlError as exc:
        raise AnsibleFilterError(str(exc))


class FilterModule(object):
    def filters(self):
        return {"control": control}
