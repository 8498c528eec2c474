# -*- coding: utf-8 -*-
# Copyright: fleetwatch engineers
# SPDX-License-Identifier: Apache-2.0

from __future__ import absolute_import, division, print_function

__metaclass__ = type

DOCUMENTATION = r"""
name: web_config
short_description: Render an exporter-toolkit web config (TLS, basic auth) without passlib
version_added: 0.1.0
author:
  - fleetwatch engineers (@fleetwatch)
description:
  - Builds the C(--web.config.file) content used by Prometheus, Alertmanager and the exporters.
  - Plain-text passwords are hashed with bcrypt (the C(bcrypt) package); a value that already is a
    bcrypt hash (C($2a$), C($2b$) or C($2y$), as passlib and htpasswd write them) is kept as it is.
    The salt is derived from O(seed) and the user name, so reruns give the same file.
  - An empty result means plain HTTP without authentication.
positional: seed
options:
  _input:
    description: >-
      A dict with optional keys C(tls_cert_file), C(tls_key_file), C(client_ca_file),
      C(tls_min_version), C(basic_auth_users) (user name to password), C(tls_server_config) (more
      exporter-toolkit C(tls_server_config) keys such as C(cipher_suites), C(max_version) or
      C(client_allowed_sans), merged over the built ones; the certificate, key and client CA only
      from their own keys) and C(http_server_config) (C(headers), C(http2), as they are).
    type: dict
    required: true
  seed:
    description: Per-host, per-service string for the salt (for example C(inventory_hostname ~ '/node_exporter')).
    type: str
    required: true
  cost:
    description: bcrypt cost.
    type: int
    default: 10
"""

EXAMPLES = r"""
- name: Web config of node_exporter
  ansible.builtin.copy:
    content: "{{ {'basic_auth_users': {'prometheus': vault_pw}} | fleetwatch.observability.web_config(inventory_hostname) | to_nice_yaml }}"
    dest: /etc/node_exporter/web.yml
    mode: "0640"
"""

RETURN = r"""
_value:
  description: The web config as a dict.
  type: dict
"""

from ansible.errors import AnsibleFilterError

from ansible_collections.fleetwatch.observability.plugins.module_utils import webconfig


def web_config(value, seed, cost=10):
    value = dict(value or {})
    try:
        return webconfig.build(
            tls_cert_file=value.get("tls_cert_file"),
            tls_key_file=value.get("tls_key_file"),
            client_ca_file=value.get("client_ca_file"),
            tls_min_version=value.get("tls_min_version") or "TLS12",
            basic_auth_users=value.get("basic_auth_users"),
            tls_server_config=value.get("tls_server_config"),
            http_server_config=value.get("http_server_config"),
            seed=seed,
            cost=cost,
        )
    except webconfig.WebConfigError as exc:
        raise AnsibleFilterError("web config: %s" % exc)


class FilterModule(object):
    def filters(self):
        return {"web_config": web_config}
