#!/usr/bin/python
# -*- coding: utf-8 -*-
# Copyright: fleetwatch engineers
# SPDX-License-Identifier: Apache-2.0

from __future__ import absolute_import, division, print_function

__metaclass__ = type

DOCUMENTATION = r"""
---
module: verify_checks
short_description: Run the fleet verification checks of one host and return a result per check
version_added: 0.2.0
description:
  - Runs the checks the P(fleetwatch.observability.verify_plan#filter) filter plans for a host from the inventory
    and returns one structured result per check (component, check, the host it is about, ok, message, details,
    seconds). The C(fleetwatch.observability.verify) playbook runs it on every host and writes the JUnit report,
    the summary and the outcome metrics from the results.
  - "Kinds of checks: C(service) (systemd units active), C(ready) (the health path answers through the control
    path: listen address, route prefix, TLS, client certificate, basic auth), C(targets) (Prometheus' targets API
    against the inventory: every expected target present and up), C(rules) (Prometheus' rules API: no rule with an
    error), C(exporter_up) (a database exporter's C(pg_up) or C(redis_up) is 1, queried through Prometheus),
    C(cluster) (Alertmanager's cluster has the expected number of peers), C(watchdog) (the always-firing alert is
    in Alertmanager: the alert path is live), C(error) (a component whose settings could not be read)."
  - It changes nothing, so it runs in check mode too.
options:
  checks:
    description: The checks, as the P(fleetwatch.observability.verify_plan#filter) filter returns them.
    type: list
    elements: dict
    required: true
    suboptions:
      host:
        description: The host the check is about (reported in the results).
        type: str
        required: true
      component:
        description: The component checked.
        type: str
        required: true
      check:
        description: Name of the check (the JUnit test case's name).
        type: str
        required: true
      kind:
        description: What is checked.
        type: str
        required: true
        choices: [service, ready, targets, rules, exporter_up, cluster, watchdog, error]
      units:
        description: C(service) only; the systemd units that must be active.
        type: list
        elements: str
      path:
        description: C(ready) only; the path that must answer 2xx.
        type: str
      control:
        description: How the service is reached (the control path of the C(fleetwatch.observability.control) filter).
        type: dict
        suboptions:
          url:
            description: Base URL with the route prefix.
            type: str
            required: true
          username:
            description: Basic auth user.
            type: str
          password:
            description: Basic auth password.
            type: str
          cert_file:
            description: Client certificate (mutual TLS).
            type: path
          key_file:
            description: Key of O(checks[].control.cert_file).
            type: path
          ready_path:
            description: Health path.
            type: str
          metrics_path:
            description: Metrics path.
            type: str
          timeout:
            description: Seconds per request.
            type: int
            default: 5
      expected_targets:
        description: C(targets) only; job name to the labels of each expected target.
        type: dict
      metric:
        description: C(exporter_up) only; the metric (C(pg_up), C(redis_up)).
        type: str
      job:
        description: C(exporter_up) only; the exporter's job.
        type: str
      expected:
        description: C(exporter_up) only; the labels of each target that must have the metric at 1.
        type: list
        elements: dict
      expected_peers:
        description: C(cluster) only; the number of Alertmanagers of the cluster.
        type: int
      alertname:
        description: C(watchdog) only; the always-firing alert's name.
        type: str
      reason:
        description: C(error) only; the problem.
        type: str
  wait_timeout:
    description: Seconds to ask the failing checks again (every O(wait_interval)) before they count as failed; 0 asks once.
    type: float
    default: 0
  wait_interval:
    description: Seconds between two rounds while waiting.
    type: float
    default: 5
  fail:
    description: Fail the task when a check fails (the playbook sets false and reports all hosts first).
    type: bool
    default: true
extends_documentation_fragment:
  - fleetwatch.observability.attributes
attributes:
  check_mode:
    support: full
    details: It only reads, so it runs in check mode too.
  diff_mode:
    support: none
  platform:
    platforms: posix
    details: The host whose services are checked (the control path reaches them on their own host).
seealso:
  - module: fleetwatch.observability.prometheus_targets
  - plugin: fleetwatch.observability.verify_plan
    plugin_type: filter
author:
  - fleetwatch engineers (@fleetwatch)
"""

EXAMPLES = r"""
- name: Checks of this host
  fleetwatch.observability.verify_checks:
    checks: "{{ inventory_hostname | fleetwatch.observability.verify_plan(group_names, groups, hostvars) }}"
    wait_timeout: 30
    fail: false
  register: verify_result
"""

RETURN = r"""
ok:
  description: Whether every check passed.
  returned: always
  type: bool
  sample: false
results:
  description: One result per check, in the order of O(checks).
  returned: always
  type: list
  elements: dict
  sample:
    - host: db1
      component: postgres_exporter
      check: service
      kind: service
      ok: false
      message: postgres_exporter.service is inactive
      details: {units: {postgres_exporter.service: inactive}}
      seconds: 0.012
failed_checks:
  description: Number of failing checks.
  returned: always
  type: int
  sample: 1
summary:
  description: Readable summary, one line per check, the failing ones first.
  returned: always
  type: str
  sample: "fleetwatch verify: 1 of 6 checks failed on 1 hosts"
"""

import ssl

from ansible_collections.fleetwatch.observability.plugins.module_utils.safelog import SafeLogModule as AnsibleModule
from ansible_collections.fleetwatch.observability.plugins.module_utils import serviceapply as sa
from ansible_collections.fleetwatch.observability.plugins.module_utils import verify


def make_control(control):
    try:
        return sa.Control(control["url"], control.get("username"), control.get("password"), control.get("cert_file"),
                          control.get("key_file"), None, control.get("timeout") or 5)
    except (IOError, OSError, ssl.SSLError, ValueError) as exc:
        raise verify.VerifyError("cannot use the client certificate %s: %s" % (control.get("cert_file"), exc))


class _Broken(object):
    """A control whose TLS files cannot be used: every request fails with the reason."""

    def __init__(self, url, reason):
        self.url, self.reason = url, reason

    def get(self, path):
        return None, self.reason


def main():
    module = AnsibleModule(
        argument_spec=dict(
            checks=dict(type="list", elements="dict", required=True, options=dict(
                host=dict(type="str", required=True),
                component=dict(type="str", required=True),
                check=dict(type="str", required=True),
                kind=dict(type="str", required=True, choices=list(verify.KINDS)),
                units=dict(type="list", elements="str"),
                path=dict(type="str"),
                control=dict(type="dict", options=dict(
                    url=dict(type="str", required=True),
                    username=dict(type="str"),
                    password=dict(type="str", no_log=True),
                    cert_file=dict(type="path"),
                    key_file=dict(type="path"),
                    ready_path=dict(type="str"),
                    metrics_path=dict(type="str"),
                    timeout=dict(type="int", default=5),
                )),
                expected_targets=dict(type="dict"),
                metric=dict(type="str"),
                job=dict(type="str"),
                expected=dict(type="list", elements="dict"),
                expected_peers=dict(type="int"),
                alertname=dict(type="str"),
                reason=dict(type="str"),
            )),
            wait_timeout=dict(type="float", default=0),
            wait_interval=dict(type="float", default=5),
            fail=dict(type="bool", default=True),
        ),
        supports_check_mode=True,
    )
    p = module.params
    if p["wait_timeout"] < 0 or p["wait_interval"] <= 0:
        module.fail_json(msg="verify_checks: wait_timeout must be 0 or more and wait_interval more than 0 seconds")
    needs = {"service": "units", "ready": "path", "targets": "expected_targets", "exporter_up": "expected",
             "cluster": "expected_peers", "watchdog": "alertname"}
    for index, spec in enumerate(p["checks"]):
        missing = [k for k in (needs.get(spec["kind"]), "control") if k and spec.get(k) is None
                   and (k != "control" or spec["kind"] not in ("service", "error"))]
        if missing:
            module.fail_json(msg="verify_checks: checks[%d] (%s %s on %s, kind %s) needs %s"
                             % (index, spec["component"], spec["check"], spec["host"], spec["kind"], " and ".join(missing)))

    def control_or_broken(control):
        try:
            return make_control(control)
        except verify.VerifyError as exc:
            return _Broken(control["url"], str(exc))

    def run_command(argv):
        return module.run_command(argv)

    results = verify.run(p["checks"], control_or_broken, run_command, p["wait_timeout"], p["wait_interval"])
    failed = sum(1 for r in results if not r["ok"])
    out = dict(changed=False, ok=not failed, results=results, failed_checks=failed, summary=verify.summary(results))
    if failed and p["fail"]:
        module.fail_json(msg=out["summary"].splitlines()[0] + "\n" + "\n".join(
            line for line in out["summary"].splitlines()[1:] if line.startswith("FAILED")), **out)
    module.exit_json(**out)


if __name__ == "__main__":
    main()
