# -*- coding: utf-8 -*-
# Copyright: fleetwatch engineers
# SPDX-License-Identifier: Apache-2.0

from __future__ import absolute_import, division, print_function

__metaclass__ = type

DOCUMENTATION = r"""
name: grafana_datasources
short_description: Grafana's provisioned data sources from the inventory's Prometheus, Alertmanager, Loki and Tempo hosts
version_added: 0.2.0
author:
  - fleetwatch engineers (@fleetwatch)
description:
  - One data source per host of each group, reached as Prometheus reaches its scrape targets (address from
    C(<role>_listen_address), route prefix, https when C(<role>_tls_cert_file) is set, basic auth user O(options.user)
    of C(<role>_basic_auth_users)). The first host's data source has the component's name as uid (C(prometheus),
    C(loki), ...); the first Prometheus is the default data source.
  - "Linked: Prometheus exemplars and Loki derived fields open the trace in Tempo; Tempo traces open Loki logs
    (tracesToLogsV2) and Prometheus metrics (tracesToMetrics, service map)."
  - Every C($) of the values is doubled (Grafana's provisioning expands C($NAME)); CA and client certificate are
    C($__file{path}) references. Passwords are in the document itself (secureJsonData), so write it as a secret file.
  - The same plugin file provides C(grafana_dashboards) and C(grafana_ini).
positional: groups, hostvars, me, options
options:
  _input:
    description: Ignored (give C(none) or anything); the inventory is read from O(groups) and O(hostvars).
    type: raw
  groups:
    description: The inventory's C(groups).
    type: dict
    required: true
  hostvars:
    description: The inventory's C(hostvars).
    type: dict
    required: true
  me:
    description: The Grafana host (the only one that reaches services listening on loopback).
    type: str
  options:
    description: >-
      C(user) (basic auth user, default grafana), C(groups) (component to inventory group), C(extra) (more data
      sources as Grafana documents them), C(ca_file), C(cert_file), C(key_file), C(insecure_skip_verify),
      C(scrape_interval), C(links) (trace id regex, tag mappings, time shifts).
    type: dict
"""

EXAMPLES = r"""
- name: Data sources of the inventory
  ansible.builtin.debug:
    msg: "{{ none | fleetwatch.observability.grafana_datasources(groups, hostvars, inventory_hostname, {'user': 'grafana'}) }}"
"""

RETURN = r"""
_value:
  description: The provisioning document C({apiVersion, prune, datasources}).
  type: dict
"""

import os

from ansible.errors import AnsibleFilterError

from ansible_collections.fleetwatch.observability.plugins.plugin_utils import _grafanaprov as grafanaprov


def grafana_datasources(_ignored, groups, hostvars, me=None, options=None):
    try:
        return grafanaprov.datasources(dict(groups), hostvars, me, dict(options or {}))
    except grafanaprov.GrafanaError as exc:
        raise AnsibleFilterError("grafana data sources: %s" % exc)


def grafana_dashboards(paths, contents, folders, directory, options=None):
    paths, contents, folders = list(paths or []), list(contents or []), list(folders or [])
    if not len(paths) == len(contents) == len(folders):
        raise AnsibleFilterError("grafana dashboards: %d files, %d contents and %d folders" % (len(paths), len(contents), len(folders)))
    items = []
    for path, content, folder in zip(paths, contents, folders):
        name = os.path.basename(str(path))
        name = name[:-5] if name.endswith(".json") else name
        items.append({"name": name, "content": content, "folder": folder, "origin": str(path)})
    try:
        return grafanaprov.dashboards(items, directory, dict(options or {}))
    except grafanaprov.GrafanaError as exc:
        raise AnsibleFilterError("grafana dashboards: %s" % exc)


def grafana_ini(sections):
    try:
        return grafanaprov.ini_text(dict(sections or {}))
    except grafanaprov.GrafanaError as exc:
        raise AnsibleFilterError("grafana.ini: %s" % exc)


class FilterModule(object):
    def filters(self):
        return {"grafana_datasources": grafana_datasources, "grafana_dashboards": grafana_dashboards,
                "grafana_ini": grafana_ini}
