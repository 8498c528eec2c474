#!/usr/bin/python
# -*- coding: utf-8 -*-
# Copyright: fleetwatch engineers
# SPDX-License-Identifier: Apache-2.0

from __future__ import absolute_import, division, print_function

__metaclass__ = type

DOCUMENTATION = r"""
---
module: prometheus_targets
short_description: Check Prometheus' scrape targets against the jobs and instances that should be scraped
version_added: 0.2.0
description:
  - Reads Prometheus' targets API (C(/api/v1/targets), active targets) and compares it with what is expected
    (jobs that must have targets, a least number of targets per job, or the instances of each job, for example the
    inventory's hosts), and checks that every target of those jobs is up.
  - Returns the targets per job and health, the unhealthy targets with their last error and last scrape time, the
    missing ones (jobs without targets, jobs below their minimum, expected instances that are not targets) and the
    extra ones (targets of a job that are not among its expected instances).
  - With O(wait_timeout) it asks again every O(wait_interval) seconds until all is well (targets are C(unknown)
    until their first scrape, exporters may still be starting) and fails after the timeout with a summary that names
    each job and instance.
  - It changes nothing, so it runs in check mode too.
  - Prometheus is reached the way the roles' control path reaches services (the same HTTP client), with the route
    prefix in O(url), TLS (CA, client certificate) and basic auth.
options:
  url:
    description: Base URL of Prometheus with its route prefix, for example C(https://127.0.0.1:9090/prom).
    type: str
    required: true
  username:
    description: Basic auth user.
    type: str
  password:
    description: Basic auth password.
    type: str
  ca_file:
    description:
      - CA to check Prometheus' certificate with. Without it (and without O(check_hostname)) the certificate is not checked.
      - The host name is not checked unless O(check_hostname), since the roles reach Prometheus by address on its own host.
    type: path
  cert_file:
    description: Client certificate, for a Prometheus that requires one (mutual TLS).
    type: path
  key_file:
    description: Key of O(cert_file).
    type: path
  check_hostname:
    description:
      - Check that Prometheus' certificate is valid for the host of O(url), against O(ca_file) or, without it,
        the system's CAs.
    type: bool
    default: false
  timeout:
    description: Seconds per request.
    type: int
    default: 10
  jobs:
    description: Jobs that must have at least one target.
    type: list
    elements: str
  min_targets:
    description: Job name to the least number of targets it must have (0 or more).
    type: dict
  expected_targets:
    description:
      - Job name to its expected instances, for example each job to the hosts of its inventory group (see the examples).
        Each is an instance name (the C(instance) label, the inventory hostname in the collection's scrape jobs) or a
        mapping of labels a target must have, such as C(instance) C(db1) and C(instance_name) C(main) for one instance
        of a multi-instance exporter.
      - An expected instance without a target is missing; a target of the job that matches no entry is extra.
        A job without any target is reported once, not per instance.
    type: dict
  require_healthy:
    description: Every target of the checked jobs (those named in O(jobs), O(min_targets) and O(expected_targets), or every job when none is) must be up.
    type: bool
    default: true
  fail_on_extra:
    description: Extra targets (see O(expected_targets)) fail the check too; otherwise they are only returned.
    type: bool
    default: false
  wait_timeout:
    description: Seconds to keep asking until all is well; 0 asks once.
    type: float
    default: 0
  wait_interval:
    description: Seconds between two questions while waiting.
    type: float
    default: 5
extends_documentation_fragment:
  - fleetwatch.observability.attributes
attributes:
  check_mode:
    support: full
    details: It changes nothing, so it asks Prometheus in check mode too.
  diff_mode:
    support: none
  platform:
    platforms: posix
    details: Any host that reaches Prometheus (its own host, or the controller).
notes:
  - Unhealthy targets of jobs no expectation names are not checked when expectations are given; their jobs are
    listed in RV(unexpected_jobs).
author:
  - fleetwatch engineers (@fleetwatch)
"""

EXAMPLES = r"""
- name: Every exporter of the inventory is scraped and up
  fleetwatch.observability.prometheus_targets:
    url: https://127.0.0.1:9090/prom
    ca_file: /etc/prometheus/tls/ca.pem
    cert_file: /etc/prometheus/tls/client.pem
    key_file: /etc/prometheus/tls/client.key
    username: admin
    password: "{{ prometheus_admin_password }}"
    expected_targets:
      node_exporter: "{{ groups['node_exporter'] }}"
      postgres_exporter:
        - {instance: db1, instance_name: main}
        - {instance: db1, instance_name: second}
    wait_timeout: 120
    wait_interval: 5
  register: targets

- name: At least two Alertmanagers and the Prometheus job itself
  fleetwatch.observability.prometheus_targets:
    url: http://127.0.0.1:9090
    jobs: [prometheus]
    min_targets: {alertmanager: 2}

- name: Report without failing
  fleetwatch.observability.prometheus_targets:
    url: http://127.0.0.1:9090
  register: all_targets
  failed_when: false
"""

RETURN = r"""
ok:
  description: Whether all is well (nothing missing, every checked target up, no extra target when O(fail_on_extra)).
  returned: always
  type: bool
  sample: false
total:
  description: Active targets.
  returned: always
  type: int
  sample: 5
jobs:
  description: Jobs that have targets.
  returned: always
  type: list
  elements: str
  sample: [node_exporter, postgres_exporter, prometheus]
counts:
  description: Per job, its targets by health.
  returned: always
  type: dict
  sample: {node_exporter: {total: 3, up: 2, down: 1, unknown: 0}, prometheus: {total: 1, up: 1, down: 0, unknown: 0}}
unhealthy:
  description:
    - Targets of the checked jobs that are not up (C(down), or C(unknown) before their first scrape), with their
      other labels (for example C(instance_name)), scrape URL, last error and last scrape time (null when never scraped).
  returned: always
  type: list
  elements: dict
  sample:
    - job: node_exporter
      instance: web2
      labels: {}
      scrape_url: http://10.0.0.12:9100/metrics
      health: down
      last_error: 'Get "http://10.0.0.12:9100/metrics": dial tcp 10.0.0.12:9100: connect: connection refused'
      last_scrape: "2026-11-25T18:20:00.592437065Z"
      last_scrape_duration: 0.000412
missing:
  description:
    - What should be scraped and is not. C(instance) is null for a job without targets or below its minimum
      (C(expected) and C(found) give the numbers); C(labels) are an expected instance's other labels.
  returned: always
  type: list
  elements: dict
  sample:
    - {job: redis_exporter, instance: null, labels: {}, expected: 1, found: 0, reason: no target of this job}
    - {job: node_exporter, instance: web3, labels: {}, expected: null, found: 0, reason: "expected, not a target"}
extra:
  description: Targets of a job of O(expected_targets) that match none of its expected instances (same fields as RV(unhealthy)).
  returned: always
  type: list
  elements: dict
  sample: []
unexpected_jobs:
  description: Jobs with targets that no expectation names (not checked), when expectations are given.
  returned: always
  type: list
  elements: str
  sample: [prometheus]
attempts:
  description: How many times the API was asked.
  returned: always
  type: int
  sample: 3
waited:
  description: Seconds spent asking and waiting.
  returned: always
  type: float
  sample: 10.02
fetch_error:
  description: Why the last question while waiting got no answer, when an earlier one did.
  returned: when the last question failed
  type: str
summary:
  description: Readable summary (the task's message), one line per problem naming job and instance.
  returned: always
  type: str
  sample: |-
    prometheus_targets at http://127.0.0.1:9090: 2 problems, 4 targets in 3 jobs
    job redis_exporter: no target of this job
    job node_exporter, instance web2: down (last scrape 2026-11-25T18:20:00.592437065Z): connection refused
"""

import ssl

from ansible_collections.fleetwatch.observability.plugins.module_utils.safelog import SafeLogModule as AnsibleModule
from ansible_collections.fleetwatch.observability.plugins.module_utils import serviceapply as sa
from ansible_collections.fleetwatch.observability.plugins.module_utils import targets as tg


def control(p, url):
    """The roles' HTTP client (serviceapply.Control) for Prometheus; raises TargetsError on unreadable TLS files."""
    try:
        ctl = sa.Control(url, p["username"], p["password"], p["cert_file"], p["key_file"], p["ca_file"], p["timeout"])
    except (IOError, OSError, ssl.SSLError, ValueError) as exc:
        raise tg.TargetsError("cannot use the TLS files (ca_file %s, cert_file %s, key_file %s): %s"
                              % (p["ca_file"], p["cert_file"], p["key_file"], exc))
    if p["check_hostname"]:
        if ctl.context is None:
            raise tg.TargetsError("check_hostname needs an https:// url")
        # Control checks the certificate only against ca_file; here the host name too (and the
        # system's CAs without ca_file).
        ctl.context.verify_mode = ssl.CERT_REQUIRED
        ctl.context.check_hostname = True
    return ctl


def main():
    module = AnsibleModule(
        argument_spec=dict(
            url=dict(type="str", required=True),
            username=dict(type="str"),
            password=dict(type="str", no_log=True),
            ca_file=dict(type="path"),
            cert_file=dict(type="path"),
            key_file=dict(type="path"),
            check_hostname=dict(type="bool", default=False),
            timeout=dict(type="int", default=10),
            jobs=dict(type="list", elements="str"),
            min_targets=dict(type="dict"),
            expected_targets=dict(type="dict"),
            require_healthy=dict(type="bool", default=True),
            fail_on_extra=dict(type="bool", default=False),
            wait_timeout=dict(type="float", default=0),
            wait_interval=dict(type="float", default=5),
        ),
        required_by={"key_file": "cert_file", "password": "username"},
        supports_check_mode=True,
    )
    p = module.params
    try:
        url = tg.check_url(p["url"])
        if p["timeout"] <= 0:
            raise tg.TargetsError("timeout: %s is not a positive number of seconds" % p["timeout"])
        if p["wait_timeout"] < 0 or p["wait_interval"] <= 0:
            raise tg.TargetsError("wait_timeout must be 0 or more and wait_interval more than 0 seconds (%s, %s)"
                                  % (p["wait_timeout"], p["wait_interval"]))
        expectations = tg.check_expectations(p["jobs"], p["min_targets"], p["expected_targets"])
        ctl = control(p, url)
        result, attempts, waited = tg.wait(lambda: tg.fetch(ctl), expectations, p["require_healthy"], p["fail_on_extra"],
                                           p["wait_timeout"], p["wait_interval"])
    except tg.TargetsError as exc:
        module.fail_json(msg="prometheus_targets: %s" % exc, ok=False)
    result["summary"] = tg.summary(result, url, waited if p["wait_timeout"] > 0 and not result["ok"] else None)
    if result.get("fetch_error"):
        result["summary"] += "\n(the last question got no answer: %s)" % result["fetch_error"]
    result.update(changed=False, attempts=attempts, waited=waited)
    for key in ("require_healthy", "fail_on_extra"):
        result.pop(key)
    if not result["ok"]:
        module.fail_json(msg=result["summary"], **result)
    module.exit_json(msg=result["summary"], **result)


if __name__ == "__main__":
    main()
