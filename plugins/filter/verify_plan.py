# -*- coding: utf-8 -*-
# Copyright: fleetwatch engineers
# SPDX-License-Identifier: Apache-2.0

from __future__ import absolute_import, division, print_function

__metaclass__ = type

DOCUMENTATION = r"""
name: verify_plan
short_description: The fleet verification checks of one host, from the inventory
version_added: 0.2.0
author:
  - fleetwatch engineers (@fleetwatch)
description:
  - Returns the checks P(fleetwatch.observability.verify_checks#module) runs on a host, from its inventory groups and
    variables (the component registry's groups, each role's listen address, route prefix, TLS, client certificate
    and basic auth, with the registry's port and health path when unset).
  - Every component of the host's groups is checked for its systemd units and its health path (each instance of a
    multi-instance exporter). Prometheus hosts also check their targets against the inventory, their rules, and the
    database exporters' C(pg_up) / C(redis_up); Alertmanager hosts their cluster peers and the Watchdog alert.
  - A component whose settings cannot be read gives one failing check of kind C(error) that names the problem.
  - The same plugin file provides C(verify_report) (JUnit XML, summary, metrics of the results).
positional: host_groups, groups, hostvars, watchdog, components
options:
  _input:
    description: The inventory hostname.
    type: str
    required: true
  host_groups:
    description: The host's C(group_names).
    type: list
    elements: str
    required: true
  groups:
    description: The inventory's C(groups).
    type: dict
    required: true
  hostvars:
    description: The inventory's C(hostvars).
    type: dict
    required: true
  watchdog:
    description: Name of the always-firing alert of the rule bundle.
    type: str
    default: Watchdog
  components:
    description: Only these components (default every component of the host's groups).
    type: list
    elements: str
"""

EXAMPLES = r"""
- name: Checks of this host
  ansible.builtin.debug:
    msg: "{{ inventory_hostname | fleetwatch.observability.verify_plan(group_names, groups, hostvars) }}"
"""

RETURN = r"""
_value:
  description: The checks, C({host, component, check, kind}) and what the kind needs (units, control, path, ...).
  type: list
  elements: dict
"""

from ansible.errors import AnsibleFilterError

from ansible_collections.fleetwatch.observability.plugins.module_utils import verify


def verify_plan(host, host_groups, groups, hostvars, watchdog=verify.WATCHDOG, components=None):
    try:
        return verify.plan(str(host), list(host_groups or []), dict(groups or {}), hostvars, watchdog, components)
    except verify.VerifyError as exc:
        raise AnsibleFilterError("verify_plan on %s: %s" % (host, exc))


def verify_report(results, output, name="fleetwatch verify", timestamp=None, started=None, finished=None):
    try:
        if isinstance(results, dict):
            results = verify.collect(dict(results))
        if output == "results":
            return verify.check_results(list(results or []))
        if output == "junit":
            return verify.junit(list(results or []), name, timestamp)
        if output == "summary":
            return verify.summary(list(results or []))
        if output == "metrics":
            return verify.metrics(list(results or []), started, finished)
    except verify.VerifyError as exc:
        raise AnsibleFilterError("verify_report: %s" % exc)
    raise AnsibleFilterError("verify_report: output must be results, junit, summary or metrics, not %r" % (output,))


class FilterModule(object):
    def filters(self):
        return {"verify_plan": verify_plan, "verify_report": verify_report}
