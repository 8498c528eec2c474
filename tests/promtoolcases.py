# SPDX-License-Identifier: Apache-2.0
"""Inputs for promtool (valid and broken rule files, configurations, web configs, rule unit tests)
and promtool's captured output for them, for the tests of module_utils/promtoolcheck.py.

The inputs are written out by ``materialise(dest)`` (they are kept here, not as .yml files, because
most of them are broken on purpose and the linters read every .yml file of the repository). Each
case is one promtool call with relative paths, run in ``dest``; ``tests/unit/fixtures/promtool/<case>.txt``
holds what the real promtool printed for it (standard output and standard error through one pipe):

    # promtool 2.53.3
    # argv: check rules rules/good.yml ...
    # rc: 1
    <output>

Recapture after a promtool upgrade with ``python tests/promtoolcases.py`` (it uses the promtool of
``make tools``, .cache/tools/promtool, or $PROMTOOL); the unit tests compare the captures with what
the promtool found prints now when its version is the captured one.
"""
import os
import re
import subprocess
import sys

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
CAPTURED = os.path.join(ROOT, "tests", "unit", "fixtures", "promtool")

FILES = {
    # --- rule files ---------------------------------------------------------------------------
    "rules/good.yml": """\
groups:
  - name: node
    rules:
      - record: job:up:sum
        expr: sum by (job) (up)
      - alert: InstanceDown
        expr: up == 0
        for: 5m
        labels: {severity: critical}
        annotations:
          summary: "{{ $labels.instance }} of {{ $labels.job }} is down"
  - name: watchdog
    rules:
      - alert: Watchdog
        expr: vector(1)
        labels: {severity: none}
""",
    "rules/broken.yml": """\
groups:
  - name: node
    rules:
      - alert: Broken
        expr: sum(rate(x[5m]) by
      - alert: Fine
        expr: up == 0
      - record: bad name
        expr: up
""",
    "rules/badyaml.yml": """\
groups:
  - name: g
    rules:
      - alert: A
        expr: up
       bad: indent
""",
    "rules/unknownfield.yml": """\
groups:
  - name: g
    rulez: []
""",
    "rules/dupgroup.yml": """\
groups:
  - name: g
    rules:
      - record: a
        expr: up
  - name: g
    rules: []
""",
    "rules/misc.yml": """\
groups:
  - name: g
    rules:
      - alert: BadTemplate
        expr: up == 0
        annotations:
          summary: "{{ $labels.instance "
      - record: r:x
        expr: up
        for: 5m
      - alert: BadLabel
        expr: up
        labels:
          "0bad": x
      - alert: ""
        expr: up
  - name: ""
    rules: []
""",
    "rules/duprules.yml": """\
groups:
  - name: g
    rules:
      - record: a
        expr: up
        labels: {x: "1"}
      - record: a
        expr: up
        labels: {x: "1"}
      - record: b
        expr: up
      - record: b
        expr: up
""",
    "rules/empty.yml": "",
    # --- configurations -----------------------------------------------------------------------
    "config/good.yml": """\
global:
  scrape_interval: 15s
rule_files:
  - ../rules/good.yml
  - ../rules/dup*.yml
scrape_configs:
  - job_name: prometheus
    static_configs: [{targets: ['localhost:9090']}]
""",
    "config/onlygood.yml": """\
rule_files: [../rules/good.yml]
scrape_configs:
  - job_name: prometheus
    static_configs: [{targets: ['localhost:9090']}]
""",
    "config/badrule.yml": """\
rule_files: [../rules/broken.yml, ../rules/good.yml]
""",
    "config/duration.yml": """\
global:
  scrape_interval: 15x
""",
    "config/unknown.yml": """\
global:
  scrape_intervall: 15s
""",
    "config/missingcert.yml": """\
scrape_configs:
  - job_name: p
    tls_config: {cert_file: /nonexistent/client.pem, key_file: /nonexistent/client.key}
    static_configs: [{targets: ['localhost:9090']}]
""",
    # --- web configs --------------------------------------------------------------------------
    "web/good.yml": """\
basic_auth_users:
  admin: $2y$10$abcdefghijklmnopqrstuuKLUbz6f/ZTdSWRLVRyr0wE6xE9Ohc1K
""",
    "web/nokey.yml": """\
tls_server_config:
  cert_file: /nonexistent/server.pem
""",
    "web/unknown.yml": """\
tls_server_config:
  cert_filez: x
""",
    "web/badyaml.yml": "basic_auth_users: [1\n",
    # --- rule unit tests ----------------------------------------------------------------------
    "tests/pass.test.yml": """\
rule_files: [../rules/good.yml]
evaluation_interval: 1m
tests:
  - name: instance down
    interval: 1m
    input_series:
      - series: 'up{job="node",instance="web1"}'
        values: '0x10'
    alert_rule_test:
      - eval_time: 10m
        alertname: InstanceDown
        exp_alerts:
          - exp_labels: {severity: critical, job: node, instance: web1}
            exp_annotations: {summary: "web1 of node is down"}
    promql_expr_test:
      - expr: job:up:sum
        eval_time: 1m
        exp_samples:
          - labels: 'job:up:sum{job="node"}'
            value: 0
""",
    "tests/fail.test.yml": """\
rule_files: [../rules/good.yml]
evaluation_interval: 1m
tests:
  - name: wrong severity
    interval: 1m
    input_series:
      - series: 'up{job="node",instance="web1"}'
        values: '0x10'
    alert_rule_test:
      - eval_time: 10m
        alertname: InstanceDown
        exp_alerts:
          - exp_labels: {severity: warning, job: node, instance: web1}
            exp_annotations: {summary: "web1 of node is down"}
  - name: expected silence
    interval: 1m
    input_series:
      - series: 'up{job="node",instance="web1"}'
        values: '0x10'
    alert_rule_test:
      - eval_time: 10m
        alertname: InstanceDown
        exp_alerts: []
    promql_expr_test:
      - expr: job:up:sum
        eval_time: 1m
        exp_samples:
          - labels: 'job:up:sum{job="node"}'
            value: 5
  - name: all up
    interval: 1m
    input_series:
      - series: 'up{job="node",instance="web1"}'
        values: '1x10'
    alert_rule_test:
      - eval_time: 10m
        alertname: InstanceDown
        exp_alerts: []
""",
    "tests/badrule.test.yml": """\
rule_files: [../rules/broken.yml]
tests:
  - interval: 1m
    input_series: []
""",
    "tests/badyaml.test.yml": """\
rule_files: [../rules/good.yml]
tests:
  - interval: 1m
    input_seriez: []
""",
    "tests/badseries.test.yml": """\
rule_files: [../rules/good.yml]
tests:
  - interval: 1m
    input_series:
      - series: 'up{job="a"'
        values: '0x10'
""",
    "tests/errors.test.yml": """\
rule_files: [../rules/good.yml]
tests:
  - name: bad expression
    interval: 1m
    input_series:
      - series: 'up{job="a",instance="h1"}'
        values: '0x10'
    promql_expr_test:
      - expr: sum(
        eval_time: 1m
        exp_samples: []
  - interval: 1m
    input_series: []
    alert_rule_test:
      - eval_time: 1m
        exp_alerts: []
""",
    "tests/annotations.test.yml": """\
rule_files: [../rules/good.yml]
tests:
  - name: annotations
    interval: 1m
    input_series:
      - series: 'up{job="node",instance="web1"}'
        values: '0x10'
    alert_rule_test:
      - eval_time: 10m
        alertname: InstanceDown
        exp_alerts:
          - exp_labels: {severity: critical, job: node, instance: web1}
            exp_annotations: {summary: "web1 is down"}
""",
    "tests/norules.test.yml": """\
rule_files: [../rules/nothing-*.yml]
tests:
  - interval: 1m
    input_series: []
""",
}

CASES = {
    "rules_mixed": ["check", "rules", "rules/good.yml", "rules/broken.yml", "rules/badyaml.yml", "rules/unknownfield.yml",
                    "rules/dupgroup.yml", "rules/misc.yml", "rules/duprules.yml", "rules/empty.yml"],
    "rules_good": ["check", "rules", "rules/good.yml"],
    "rules_lint_fatal": ["check", "rules", "--lint-fatal", "rules/duprules.yml"],
    "config_mixed": ["check", "config", "config/good.yml", "config/badrule.yml", "config/duration.yml",
                     "config/unknown.yml", "config/missingcert.yml"],
    "config_good": ["check", "config", "config/onlygood.yml"],
    "web_mixed": ["check", "web-config", "web/good.yml", "web/nokey.yml", "web/unknown.yml", "web/badyaml.yml"],
    "tests_mixed": ["test", "rules", "tests/pass.test.yml", "tests/fail.test.yml", "tests/badrule.test.yml",
                    "tests/badyaml.test.yml", "tests/badseries.test.yml", "tests/errors.test.yml",
                    "tests/annotations.test.yml", "tests/norules.test.yml"],
    "tests_pass": ["test", "rules", "tests/pass.test.yml"],
}


def materialise(dest):
    for name, text in FILES.items():
        path = os.path.join(dest, name)
        if not os.path.isdir(os.path.dirname(path)):
            os.makedirs(os.path.dirname(path))
        with open(path, "w") as handle:
            handle.write(text)
    return dest


def command_of(case):
    """("check rules", [files], {"lint_fatal": True}) of a case."""
    argv = CASES[case]
    options = {"lint_fatal": "--lint-fatal" in argv}
    return " ".join(argv[:2]), [a for a in argv[2:] if not a.startswith("--")], options


def version(promtool):
    out = subprocess.run([promtool, "--version"], stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
                         universal_newlines=True, check=False).stdout
    match = re.search(r"version (\d+\.\d+\.\d+)", out)
    return match.group(1) if match else out.strip()


def run_case(promtool, case, dest):
    """(rc, merged output) of the real promtool for a case, run in dest."""
    proc = subprocess.run([promtool] + CASES[case], cwd=dest, stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
                          env=dict(os.environ, LANG="C", LC_ALL="C"), timeout=120, check=False)
    return proc.returncode, proc.stdout.decode("utf-8", "replace")


def load(case):
    """(version, rc, output) captured for a case."""
    with open(os.path.join(CAPTURED, case + ".txt")) as handle:
        text = handle.read()
    head, _sep, rest = text.partition("\n")
    argv_line, _sep, rest = rest.partition("\n")
    rc_line, _sep, output = rest.partition("\n")
    assert head.startswith("# promtool ") and argv_line == "# argv: " + " ".join(CASES[case]), case
    return head[len("# promtool "):], int(rc_line[len("# rc: "):]), output


def capture(promtool):
    import tempfile
    dest = materialise(tempfile.mkdtemp(prefix="promtoolcases."))
    if not os.path.isdir(CAPTURED):
        os.makedirs(CAPTURED)
    for case in sorted(CASES):
        rc, output = run_case(promtool, case, dest)
        with open(os.path.join(CAPTURED, case + ".txt"), "w") as handle:
            handle.write("# promtool %s\n# argv: %s\n# rc: %d\n%s" % (version(promtool), " ".join(CASES[case]), rc, output))
        sys.stdout.write("%s: rc %d\n" % (case, rc))


if __name__ == "__main__":
    sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
    import rulebundle  # noqa: E402  pylint: disable=import-error
    tool = rulebundle.find_tool("promtool", "PROMTOOL")
    if tool is None:
        sys.exit("promtool not found: `make tools` puts it in .cache/tools")
    capture(tool)
