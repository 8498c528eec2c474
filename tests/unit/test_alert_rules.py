# SPDX-License-Identifier: Apache-2.0
"""The alert rule bundle: valid for promtool, every alert unit-tested (fires and stays silent).

The rule templates are rendered with the role's defaults as the role renders them. The test files
in tests/rules give, for each case, the input series, the time and the expected labels; the
expected annotations are the rule's own annotation templates filled with those labels (the
bundle's annotations use only $labels), so promtool checks labels and annotations exactly.
"""
import os
import re
import shutil
import subprocess
import sys

import pytest
import yaml

import promql  # tests/promql.py (tests/ is on sys.path: its conftest.py)

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
import rulebundle  # noqa: E402  pylint: disable=wrong-import-position

PROMTOOL = rulebundle.find_tool("promtool", "PROMTOOL")
needs_promtool = pytest.mark.skipif(PROMTOOL is None, reason="promtool not found: `make tools` puts it in .cache/tools")
TEST_FILES = sorted(f for f in os.listdir(rulebundle.TESTS) if f.endswith(".test.yml"))
LABEL_REF = re.compile(r"\{\{\s*\$labels\.([a-zA-Z_][a-zA-Z0-9_]*)\s*\}\}")
ALWAYS_FIRING = {"Watchdog"}  # by design it has no silent case


@pytest.fixture(scope="module")
def rendered(tmp_path_factory):
    dest = tmp_path_factory.mktemp("rules")
    return str(dest), rulebundle.render_all(str(dest))


def fill(template, labels):
    if "{{" in LABEL_REF.sub("", template):
        raise AssertionError("annotation uses more than $labels: %r" % template)
    return LABEL_REF.sub(lambda m: labels[m.group(1)], template)


def complete(test_doc, rules):
    """Add exp_annotations to every expected alert from its rule (matched by name and severity)."""
    for case in test_doc["tests"]:
        for check in case.get("alert_rule_test", []):
            for alert in check.get("exp_alerts") or []:
                labels = alert["exp_labels"]
                matches = [r for _path, r in rules if r["alert"] == check["alertname"]
                           and r["labels"].get("severity") == labels.get("severity")]
                assert len(matches) == 1, "no single rule %s with severity %s" % (check["alertname"], labels.get("severity"))
                alert.setdefault("exp_annotations",
                                 dict((k, fill(v, labels)) for k, v in matches[0]["annotations"].items()))
    return test_doc


def run(*args):
    return subprocess.run([PROMTOOL] + list(args), stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
                          universal_newlines=True, timeout=120, check=False)


@needs_promtool
def test_every_rule_file_passes_promtool_check(rendered):
    dest, files = rendered
    result = run("check", "rules", *[os.path.join(dest, f) for f in sorted(files)])
    assert result.returncode == 0, result.stdout


@needs_promtool
def test_promtool_check_can_fail(tmp_path):
    bad = tmp_path / "bad.yml"
    bad.write_text("groups:\n  - name: g\n    rules:\n      - alert: Broken\n        expr: sum(rate(x[5m]) by\n")
    result = run("check", "rules", str(bad))
    assert result.returncode != 0
    assert "parse error" in result.stdout


@needs_promtool
@pytest.mark.parametrize("test_file", TEST_FILES)
def test_rule_unit_tests(rendered, tmp_path, test_file):
    dest, files = rendered
    with open(os.path.join(rulebundle.TESTS, test_file)) as handle:
        doc = yaml.safe_load(handle)
    complete(doc, rulebundle.alerts(files))
    for name in doc["rule_files"]:
        shutil.copy(os.path.join(dest, name), str(tmp_path / name))
    with open(str(tmp_path / test_file), "w") as handle:
        yaml.safe_dump(doc, handle, sort_keys=False)
    result = run("test", "rules", str(tmp_path / test_file))
    assert result.returncode == 0, result.stdout


@needs_promtool
def test_a_wrong_expectation_fails(rendered, tmp_path):
    dest, files = rendered
    shutil.copy(os.path.join(dest, "targets.yml"), str(tmp_path / "targets.yml"))
    doc = {"rule_files": ["targets.yml"], "evaluation_interval": "30s", "tests": [{
        "interval": "30s", "input_series": [{"series": 'up{job="node_exporter",instance="a"}', "values": "1x10"}],
        "alert_rule_test": [{"eval_time": "3m", "alertname": "InstanceDown",
                             "exp_alerts": [{"exp_labels": {"severity": "critical", "instance": "a", "job": "node_exporter"}}]}]}]}
    (tmp_path / "t.yml").write_text(yaml.safe_dump(doc))
    assert run("test", "rules", str(tmp_path / "t.yml")).returncode != 0


def test_every_alert_has_severity_and_annotations(rendered):
    _tmp, files = rendered
    for name, rule in rulebundle.alerts(files):
        assert rule["labels"].get("severity") in ("critical", "warning", "none"), (name, rule["alert"])
        for key in ("summary", "description", "runbook_url"):
            assert rule.get("annotations", {}).get(key), "%s in %s has no %s" % (rule["alert"], name, key)
        assert rule["annotations"]["runbook_url"].startswith("https://")


def test_every_alert_fires_and_stays_silent_in_some_test(rendered):
    _tmp, files = rendered
    fires, silent = set(), set()
    for test_file in TEST_FILES:
        with open(os.path.join(rulebundle.TESTS, test_file)) as handle:
            for case in yaml.safe_load(handle)["tests"]:
                for check in case.get("alert_rule_test", []):
                    (fires if check.get("exp_alerts") else silent).add(check["alertname"])
    names = set(rule["alert"] for _path, rule in rulebundle.alerts(files))
    assert sorted(names - fires) == [], "alerts with no test where they fire"
    assert sorted(names - silent - ALWAYS_FIRING) == [], "alerts with no test where they stay silent"


def test_thresholds_are_variables(tmp_path):
    files = rulebundle.render_all(str(tmp_path), {"prometheus_alert_cpu_warning_percent": 55})
    assert "> 55\n" in files["node.yml"] or "> 55 " in files["node.yml"]


def test_every_alert_of_the_bundle_selects_series_except_the_watchdog(rendered):
    """Each shipped alert names at least one series (only the Watchdog is a constant); the
    Molecule scenarios query these selectors on live exporters."""
    _tmp, files = rendered
    empty = [rule["alert"] for _path, rule in rulebundle.alerts(files) if not promql.selectors(rule["expr"])]
    assert empty == ["Watchdog"]
