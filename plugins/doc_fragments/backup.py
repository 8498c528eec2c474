# -*- coding: utf-8 -*-
# Copyright: fleetwatch engineers
# SPDX-License-Identifier: Apache-2.0
"""Options the backup and restore modules share."""

from __future__ import absolute_import, division, print_function

__metaclass__ = type


class ModuleDocFragment(object):

    DOCUMENTATION = r"""
options:
  component:
    description:
      - The backup entry of the component registry (plugins/module_utils/registry.py), each saved through the
        mechanism its authors provide -
        C(node_exporter_config), C(postgres_exporter_config), C(redis_exporter_config), C(fluent_bit_config),
        C(loki_config), C(tempo_config), C(alertmanager_config), C(prometheus_config), C(grafana_config) (the
        role's configuration directory - config, rules, secrets, web config); C(prometheus_tsdb) (a TSDB snapshot
        through the admin API); C(alertmanager_silences) (the silences API); C(grafana_database) (SQLite online
        backup).
    type: str
    required: true
  backup_dir:
    description:
      - Where the backups are kept on the host, one directory per O(component) (created 0700).
      - The archives hold secrets of the configuration (passwords files, keys named there) - keep the directory root's.
    type: path
    default: /var/backups/fleetwatch
  host:
    description: The name written into (backup) or expected in (restore) the manifest, the inventory hostname.
    type: str
    required: true
  settings:
    description:
      - Values of the role variables that name what is saved (for example C(prometheus_config_dir),
        C(prometheus_storage_path)); a variable that is missing or empty takes the role's default.
    type: dict
    default: {}
  control:
    description:
      - How the module reaches the service, as the roles' C(<role>_control) gives it (the
        P(fleetwatch.observability.control#filter) filter) - its own address and route prefix, TLS, client certificate,
        basic auth. Needed by C(prometheus_tsdb) and C(alertmanager_silences).
    type: dict
    suboptions:
      url:
        description: Base URL with the route prefix, for example C(https://127.0.0.1:9090/prom).
        type: str
        required: true
      username:
        description: Basic auth user.
        type: str
      password:
        description: Basic auth password (never logged).
        type: str
      cert_file:
        description: Client certificate (mutual TLS).
        type: path
      key_file:
        description: Key of O(control.cert_file).
        type: path
      ca_file:
        description: CA to check the service's certificate with (not checked without it).
        type: path
      timeout:
        description: Seconds per request.
        type: int
        default: 30
      ready_path:
        description: Readiness path (restores wait for it).
        type: str
        default: /
      metrics_path:
        description: Metrics path (reload checks read it).
        type: str
        default: /metrics
"""
