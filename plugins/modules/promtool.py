#!/usr/bin/python
# -*- coding: utf-8 -*-
# Copyright: fleetwatch engineers
# SPDX-License-Identifier: Apache-2.0

from __future__ import absolute_import, division, print_function

__metaclass__ = type

DOCUMENTATION = r"""
---
module: promtool
short_description: Check Prometheus configuration, rule and web config files, and run rule unit tests, with promtool
version_added: 0.2.0
description:
  - Runs C(promtool check config), C(promtool check rules), C(promtool check web-config) or C(promtool test rules)
    once on every file and returns promtool's verdict per file, with each error's file and line (where promtool
    gives them), the number of groups and rules of a rule file, and every failed rule unit test with the expected
    and the actual alerts or samples.
  - It changes nothing on the host, so it runs in check mode too and never reports a change.
  - A failing file fails the task with a message that names the subcommand and lists one line per problem
    (file, line and column, group and rule, reason); the structured result is returned with the failure, so
    C(failed_when) or C(ignore_errors) can collect it (for a report) instead.
  - The logic lives in the collection's C(promtoolcheck) module utility, which also runs on its own as a command
    (C(python3 promtoolcheck.py check rules FILE)), for validate commands.
options:
  command:
    description: The promtool subcommand.
    type: str
    required: true
    choices: [check config, check rules, check web-config, test rules]
  files:
    description:
      - Files to check (absolute paths). A path with C(*), C(?) or C([) is a pattern (for example
        C(/etc/prometheus/rules/*.yml)), expanded in sorted order.
      - A file that does not exist, a directory, or a pattern that matches nothing is a failed file (promtool would
        refuse the whole call); the others are still checked.
      - For O(command=check config), the rule files the configuration names are checked too and are returned as
        files of their own (with RV(files[].referenced_by)).
    type: list
    elements: str
    required: true
  promtool:
    description: Path of promtool; default the first C(promtool) in C(PATH), C(/usr/local/bin), C(/usr/bin), C(/bin).
    type: path
  syntax_only:
    description: O(command=check config) only; check the syntax only, not the files the configuration names (C(--syntax-only)).
    type: bool
    default: false
  lint:
    description:
      - O(command=check config) and O(command=check rules) only; which lint checks promtool runs (C(--lint)).
        Promtool's own default (C(duplicate-rules)) when not set. Findings are warnings unless O(lint_fatal).
    type: str
    choices: [all, duplicate-rules, none]
  lint_fatal:
    description: O(command=check config) and O(command=check rules) only; a lint finding fails the file (C(--lint-fatal)).
    type: bool
    default: false
  run:
    description: O(command=test rules) only; run only the test groups whose names match one of these regular expressions (C(--run)).
    type: list
    elements: str
  timeout:
    description: Seconds promtool may run.
    type: int
    default: 120
extends_documentation_fragment:
  - fleetwatch.observability.attributes
attributes:
  check_mode:
    support: full
    details: It changes nothing, so promtool runs in check mode too.
  diff_mode:
    support: none
  platform:
    platforms: posix
    details: A host with promtool (the prometheus role installs it beside Prometheus).
notes:
  - The number of groups of a rule file is read from the file with PyYAML; without PyYAML on the host it is null
    (promtool itself reports the number of rules only).
  - Errors without a line (promtool gives none, for example an unknown duration unit in a configuration) have a null
    C(line) in RV(errors).
seealso:
  - name: promtool unit testing for rules
    description: The rule unit test file format.
    link: https://prometheus.io/docs/prometheus/latest/configuration/unit_testing_rules/
author:
  - fleetwatch engineers (@fleetwatch)
"""

EXAMPLES = r"""
- name: Check every rule file
  fleetwatch.observability.promtool:
    command: check rules
    files: [/etc/prometheus/rules/*.yml]
  register: rules_check

- name: Check the configuration with the rule files it names
  fleetwatch.observability.promtool:
    command: check config
    files: [/etc/prometheus/prometheus.yml]
    promtool: /usr/local/bin/promtool

- name: Check the web config (TLS, basic auth) of Prometheus and Alertmanager
  fleetwatch.observability.promtool:
    command: check web-config
    files: [/etc/prometheus/web.yml, /etc/alertmanager/web.yml]

- name: Run the rule unit tests, keeping the result for a report
  fleetwatch.observability.promtool:
    command: test rules
    files: [/etc/prometheus/tests/*.test.yml]
  register: rule_tests
  failed_when: false

- name: Say which unit tests failed
  ansible.builtin.debug:
    msg: "{{ rule_tests.errors | map(attribute='message') | list }}"
  when: not rule_tests.ok
"""

RETURN = r"""
command:
  description: The promtool subcommand that ran.
  returned: always
  type: str
  sample: promtool check rules
argv:
  description: Promtool's command line.
  returned: always
  type: list
  elements: str
  sample: [/usr/local/bin/promtool, check, rules, /etc/prometheus/rules/node.yml, /etc/prometheus/rules/broken.yml]
rc:
  description: Promtool's exit status (null when no file could be checked).
  returned: always
  type: int
  sample: 1
ok:
  description: Whether every file passed.
  returned: always
  type: bool
  sample: false
files:
  description: One entry per file, in promtool's order (for O(command=check config), each configuration followed by its rule files).
  returned: always
  type: list
  elements: dict
  contains:
    path:
      description: The file, as promtool names it.
      type: str
    kind:
      description: C(config), C(rules), C(web-config) or C(rule-tests).
      type: str
    ok:
      description: Whether promtool accepted it.
      type: bool
    groups:
      description: Rule groups in the file (rule files; null when unknown).
      type: int
    rules:
      description: Rules in the file (rule files; null when unknown).
      type: int
    rule_files:
      description: Rule files a configuration names, as promtool counted them (configurations).
      type: int
    referenced_by:
      description: The configuration that names this rule file (O(command=check config)).
      type: str
    errors:
      description: Its errors, in the form of RV(errors).
      type: list
      elements: dict
    failures:
      description:
        - Failed rule unit tests (O(command=test rules)). C(kind) is C(alert) (with C(alertname), C(eval_time), and
          C(expected) and C(got), lists of alerts with their C(labels) and C(annotations)), C(expression) (with
          C(expr), C(eval_time), C(expected) and C(got) as promtool prints the samples, or C(error)) or C(rule evaluation)
          (C(rule), C(eval_time), C(error)); C(test_group) is the test group's name when it has one, C(message) promtool's text.
      type: list
      elements: dict
    lint:
      description: Lint findings (duplicate rules, with C(metric) and C(labels)).
      type: list
      elements: dict
    warnings:
      description: Promtool's warnings about the file (for example a rule file pattern of a unit test that matches nothing).
      type: list
      elements: str
  sample:
    - path: /etc/prometheus/rules/node.yml
      kind: rules
      ok: true
      groups: 2
      rules: 9
      errors: []
      failures: []
      lint: []
      warnings: []
    - path: /etc/prometheus/rules/broken.yml
      kind: rules
      ok: false
      groups: 1
      rules: 2
      errors:
        - {file: /etc/prometheus/rules/broken.yml, line: 5, column: 15, group: node, rule_index: 1, rule: NodeDown,
           message: "could not parse expression: 1:17: parse error: unexpected <by> in aggregation"}
      failures: []
      lint: []
      warnings: []
errors:
  description: Every error of every file; C(line) and C(column) are null where promtool gives none, C(group),
    C(rule_index) and C(rule) are set for an error in a rule; C(referenced_by) names the configuration or unit test
    file that named the rule file. A failed unit test is an error of its test file too.
  returned: always
  type: list
  elements: dict
  sample:
    - {file: /etc/prometheus/rules/broken.yml, line: 5, column: 15, group: node, rule_index: 1, rule: NodeDown,
       message: "could not parse expression: 1:17: parse error: unexpected <by> in aggregation"}
    - {file: /etc/prometheus/tests/node.test.yml, line: null, column: null,
       message: "test group \"node down\", alert NodeDown at 10m: expected 1 firing ({instance=\"web1\", severity=\"critical\"}), got 0 (none)"}
promtool_warnings:
  description: Promtool's warnings, and lint findings that did not fail a file (also shown as the task's warnings).
  returned: always
  type: list
  elements: str
  sample: ["/etc/prometheus/rules/node.yml: duplicate rule instance:node_cpu:rate5m"]
general_errors:
  description: Problems not about one file (promtool's usage errors, an exit status its output does not explain).
  returned: always
  type: list
  elements: str
  sample: []
summary:
  description: Readable summary (the task's message when it fails).
  returned: always
  type: str
  sample: |-
    promtool check rules: 1 of 2 files failed
    /etc/prometheus/rules/broken.yml:5:15: group "node", rule 1 "NodeDown": could not parse expression: 1:17: parse error: unexpected <by> in aggregation
output:
  description: Promtool's output, standard output and standard error in the order it wrote them.
  returned: always
  type: str
"""

from ansible_collections.fleetwatch.observability.plugins.module_utils.safelog import SafeLogModule as AnsibleModule
from ansible_collections.fleetwatch.observability.plugins.module_utils import promtoolcheck as pc


def main():
    module = AnsibleModule(
        argument_spec=dict(
            command=dict(type="str", required=True, choices=sorted(pc.COMMANDS)),
            files=dict(type="list", elements="str", required=True),
            promtool=dict(type="path"),
            syntax_only=dict(type="bool", default=False),
            lint=dict(type="str", choices=list(pc.LINT_CHOICES)),
            lint_fatal=dict(type="bool", default=False),
            run=dict(type="list", elements="str"),
            timeout=dict(type="int", default=120),
        ),
        supports_check_mode=True,
    )
    p = module.params
    command = "promtool %s" % p["command"]
    if p["timeout"] <= 0:
        module.fail_json(msg="%s: timeout must be a positive number of seconds, not %s" % (command, p["timeout"]))
    try:
        result = pc.check(p["command"], p["files"], promtool=p["promtool"], syntax_only=p["syntax_only"], lint=p["lint"],
                          lint_fatal=p["lint_fatal"], run=p["run"], timeout=p["timeout"])
    except pc.PromtoolError as exc:
        message = str(exc)
        if not message.startswith(command):
            message = "%s: %s" % (command, message)
        module.fail_json(msg=message, command=command, ok=False)
    # "warnings" is Ansible's own key of a module result: promtool's are returned as promtool_warnings
    # and shown as the task's warnings.
    result["promtool_warnings"] = result.pop("warnings")
    for warning in result["promtool_warnings"]:
        module.warn("%s: %s" % (command, warning))
    result["changed"] = False
    if not result["ok"]:
        module.fail_json(msg=result["summary"], **result)
    module.exit_json(msg=result["summary"], **result)


if __name__ == "__main__":
    main()
