#!/usr/bin/python
# -*- coding: utf-8 -*-
# Copyright: fleetwatch engineers
# SPDX-License-Identifier: Apache-2.0

from __future__ import absolute_import, division, print_function

__metaclass__ = type

DOCUMENTATION = r"""
---
module: textfile_metrics
short_description: Publish metrics through node_exporter's textfile collector, written atomically
version_added: 0.2.0
description:
  - Writes metrics (gauges and counters with labels) in Prometheus' text exposition format to
    C(<directory>/<name>.prom), the directory node_exporter's textfile collector reads at every scrape. Scheduled
    jobs (the collection's backup and verify playbooks) publish their outcome this way, and Prometheus alerts on it.
  - The file is written atomically, a temporary file in the same directory (not named C(*.prom), so the collector
    ignores it) flushed and renamed over the old one, with mode 0644; node_exporter never reads half a file.
  - Metric and label names are checked, label values escaped as the format requires (backslash, double quote, line
    feed; other characters, C($) included, are written as they are), the same metric and labels twice refused.
  - The text is sorted (metrics by name, samples by labels), so the same metrics always give the same file and
    the task reports a change only when a value, label, help text or the file's mode changes.
options:
  directory:
    description: The textfile collector's directory (the node_exporter role's C(node_exporter_textfile_dir)). It must exist.
    type: path
    default: /var/lib/node_exporter/textfile
  name:
    description: Base name of the file; C(.prom) is added. Letters, digits, C(_), C(.) and C(-), not starting with C(.) or C(-).
    type: str
    required: true
  metrics:
    description:
      - The samples. Samples with the same name form one metric; they must agree on O(metrics[].help) and
        O(metrics[].type) (one of them giving them is enough).
    type: list
    elements: dict
    default: []
    suboptions:
      name:
        description: Metric name (C([a-zA-Z_:][a-zA-Z0-9_:]*)).
        type: str
        required: true
      help:
        description: The metric's help text.
        type: str
      type:
        description: The metric's type. A counter cannot be negative.
        type: str
        choices: [gauge, counter]
      value:
        description: A number, a numeric string, C(NaN), C(+Inf) or C(-Inf); true and false are 1 and 0.
        type: raw
        required: true
      labels:
        description: Label name to value. Names C([a-zA-Z_][a-zA-Z0-9_]*), not starting with C(__).
        type: dict
        default: {}
  merge:
    description:
      - Keep the samples already in the file whose metric name and label set this run does not give; the given
        ones replace theirs. A run that updates one label set (for example one C(component) of a backup) keeps the
        lines of the others.
      - Without merge the file holds exactly the given samples (lines of a component that is gone disappear).
      - A file that cannot be read as the exposition format fails the task in merge mode (remove it or run without merge).
    type: bool
    default: false
  state:
    description: C(absent) removes the file.
    type: str
    choices: [present, absent]
    default: present
extends_documentation_fragment:
  - fleetwatch.observability.attributes
attributes:
  check_mode:
    support: full
    details: Reports whether the file would change and returns its would-be content without writing it.
  diff_mode:
    support: none
  platform:
    platforms: posix
    details: A host whose node_exporter has the textfile collector (the node_exporter role's default).
seealso:
  - name: node_exporter's textfile collector
    description: How node_exporter reads C(*.prom) files.
    link: https://github.com/prometheus/node_exporter#textfile-collector
  - name: Exposition formats
    description: The text format written here.
    link: https://prometheus.io/docs/instrumenting/exposition_formats/
author:
  - fleetwatch engineers (@fleetwatch)
"""

EXAMPLES = r"""
- name: Outcome of a verification run
  fleetwatch.observability.textfile_metrics:
    name: fleetwatch_verify
    metrics:
      - name: fleetwatch_verify_last_run_timestamp_seconds
        help: When the last verification ran.
        type: gauge
        value: "{{ now(utc=true).timestamp() }}"
      - name: fleetwatch_verify_failed_checks
        type: gauge
        value: 0

- name: One component's backup; the other components' lines stay
  fleetwatch.observability.textfile_metrics:
    name: fleetwatch_backup
    merge: true
    metrics:
      - name: fleetwatch_backup_success
        type: gauge
        value: 1
        labels:
          component: prometheus

- name: Remove the file
  fleetwatch.observability.textfile_metrics:
    name: fleetwatch_backup
    state: absent
"""

RETURN = r"""
path:
  description: The file.
  returned: always
  type: str
  sample: /var/lib/node_exporter/textfile/fleetwatch_verify.prom
content:
  description: The file's text (after the merge in merge mode; what it would be in check mode; empty when absent).
  returned: always
  type: str
  sample: |
    # HELP fleetwatch_verify_failed_checks Checks that failed in the last verification.
    # TYPE fleetwatch_verify_failed_checks gauge
    fleetwatch_verify_failed_checks 0
samples:
  description: Number of samples in the file.
  returned: always
  type: int
  sample: 5
families:
  description: Metric names in the file.
  returned: always
  type: list
  elements: str
  sample: [fleetwatch_verify_failed_checks, fleetwatch_verify_last_run_timestamp_seconds]
"""

from ansible_collections.fleetwatch.observability.plugins.module_utils.safelog import SafeLogModule as AnsibleModule
from ansible_collections.fleetwatch.observability.plugins.module_utils import textfile


def main():
    module = AnsibleModule(
        argument_spec=dict(
            directory=dict(type="path", default="/var/lib/node_exporter/textfile"),
            name=dict(type="str", required=True),
            metrics=dict(type="list", elements="dict", default=[], options=dict(
                name=dict(type="str", required=True),
                help=dict(type="str"),
                type=dict(type="str", choices=list(textfile.TYPES)),
                value=dict(type="raw", required=True),
                labels=dict(type="dict", default={}),
            )),
            merge=dict(type="bool", default=False),
            state=dict(type="str", choices=["present", "absent"], default="present"),
        ),
        supports_check_mode=True,
    )
    p = module.params
    metrics = [dict((k, v) for k, v in entry.items() if v is not None) for entry in p["metrics"]]
    try:
        result = textfile.apply(p["directory"], p["name"], metrics, merge_mode=p["merge"], state=p["state"],
                                check_mode=module.check_mode)
    except textfile.TextfileError as exc:
        module.fail_json(msg="textfile_metrics: %s" % exc)
    module.exit_json(**result)


if __name__ == "__main__":
    main()
