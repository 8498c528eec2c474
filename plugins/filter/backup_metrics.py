# -*- coding: utf-8 -*-
# Copyright: fleetwatch engineers
# SPDX-License-Identifier: Apache-2.0

from __future__ import absolute_import, division, print_function

__metaclass__ = type

DOCUMENTATION = r"""
name: backup_metrics
short_description: The outcome of the backup playbook as metrics for node_exporter's textfile collector
version_added: 0.2.0
author:
  - fleetwatch engineers (@fleetwatch)
description:
  - Turns the results of a loop of P(fleetwatch.observability.backup#module) (registered, each with its C(item), the
    backup entry) into the O(fleetwatch.observability.textfile_metrics#module:metrics) of
    P(fleetwatch.observability.textfile_metrics#module), one set per entry with the label C(component).
  - A successful backup gives C(fleetwatch_backup_last_run_timestamp_seconds),
    C(fleetwatch_backup_last_success_timestamp_seconds), C(fleetwatch_backup_success) 1,
    C(fleetwatch_backup_duration_seconds) and C(fleetwatch_backup_size_bytes).
  - A failed one gives only C(fleetwatch_backup_last_run_timestamp_seconds) (O(now)) and C(fleetwatch_backup_success)
    0, so that the textfile module's merge mode keeps the last success, duration and size of the previous run.
positional: now
options:
  _input:
    description: The registered results (C(results) of the loop).
    type: list
    elements: dict
    required: true
  now:
    description: The time of the run, seconds since the epoch (the last run of a failed entry).
    type: float
    required: true
"""

EXAMPLES = r"""
- name: Publish the outcome
  fleetwatch.observability.textfile_metrics:
    name: fleetwatch_backup
    merge: true
    metrics: "{{ backup_results.results | fleetwatch.observability.backup_metrics(now().timestamp()) }}"
"""

RETURN = r"""
_value:
  description: A list of C(name), C(help), C(type), C(value), C(labels) (C(component)).
  type: list
  elements: dict
"""

from ansible.errors import AnsibleFilterError

from ansible_collections.fleetwatch.observability.plugins.module_utils import backup


def backup_metrics(results, now):
    try:
        return backup.outcome_metrics(results, now)
    except backup.BackupError as exc:
        raise AnsibleFilterError(str(exc))


class FilterModule(object):
    def filters(self):
        return {"backup_metrics": backup_metrics}
