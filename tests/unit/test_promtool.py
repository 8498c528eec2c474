# SPDX-License-Identifier: Apache-2.0
"""module_utils/promtoolcheck.py (the promtool module and the roles' one promtool wrapper) on
promtool's real output.

Two sources of output: the captures in tests/unit/fixtures/promtool (what promtool 2.53.3 printed
for the inputs in tests/promtoolcases.py), parsed without the binary; and the real promtool run on
the same inputs, when it is there (`make tools`). The captures are checked against the binary's
output while its version is the captured one, so they cannot drift from what promtool prints.
"""
import json
import os
import subprocess
import sys

import pytest

from ansible_collections.fleetwatch.observability.plugins.module_utils import promtoolcheck as pc

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
import promtoolcases  # noqa: E402  pylint: disable=wrong-import-position
import rulebundle  # noqa: E402  pylint: disable=wrong-import-position

PROMTOOL = rulebundle.find_tool("promtool", "PROMTOOL")
needs_promtool = pytest.mark.skipif(PROMTOOL is None, reason="promtool not found: `make tools` puts it in .cache/tools")
ROOT = promtoolcases.ROOT


def captured(case):
    """The result parsed from a capture (paths relative, as promtool printed them)."""
    _version, rc, output = promtoolcases.load(case)
    command, files, options = promtoolcases.command_of(case)
    return pc.parse(command, files, rc, output, lint_fatal=options["lint_fatal"])


def by_path(result, kind=None):
    out = {}
    for entry in result["files"]:
        if kind is None or entry["kind"] == kind:
            out.setdefault(entry["path"], entry)
    return out


def where(errors):
    return [(e["file"], e["line"], e["column"]) for e in errors]


@pytest.fixture(scope="module")
def inputs(tmp_path_factory):
    return promtoolcases.materialise(str(tmp_path_factory.mktemp("promtool")))


# --- check rules ---------------------------------------------------------------------------------

def test_rule_files_each_with_its_errors_file_line_group_and_rule():
    result = captured("rules_mixed")
    files = by_path(result)
    assert not result["ok"] and result["rc"] == 1
    assert [e["path"] for e in result["files"]] == promtoolcases.CASES["rules_mixed"][2:]
    assert [p for p, e in files.items() if e["ok"]] == ["rules/good.yml", "rules/duprules.yml", "rules/empty.yml"]
    assert files["rules/good.yml"]["rules"] == 3 and files["rules/empty.yml"]["rules"] == 0

    broken = files["rules/broken.yml"]["errors"]
    assert where(broken) == [("rules/broken.yml", 5, 15), ("rules/broken.yml", 8, 17)]
    assert (broken[0]["group"], broken[0]["rule_index"], broken[0]["rule"]) == ("node", 1, "Broken")
    assert broken[0]["message"] == "could not parse expression: 1:17: parse error: unexpected <by> in aggregation"
    assert (broken[1]["rule"], broken[1]["message"]) == ("bad name", "invalid recording rule name: bad name")

    # promtool prints this YAML error twice: it is one error
    assert where(files["rules/badyaml.yml"]["errors"]) == [("rules/badyaml.yml", 3, None)]
    assert files["rules/badyaml.yml"]["errors"][0]["message"] == "yaml: did not find expected '-' indicator"
    unknown = files["rules/unknownfield.yml"]["errors"]
    assert where(unknown) == [("rules/unknownfield.yml", 3, None)]
    assert unknown[0]["message"] == "field rulez not found in type rulefmt.RuleGroup"
    assert where(files["rules/dupgroup.yml"]["errors"]) == [("rules/dupgroup.yml", 6, 5)]

    misc = files["rules/misc.yml"]["errors"]
    assert [(e["line"], e.get("rule")) for e in misc] == [
        (None, "BadTemplate"), (8, "r:x"), (None, "BadLabel"), (15, ""), (17, None)]
    assert "unclosed action" in misc[0]["message"]
    assert misc[4]["message"] == "Groupname must not be empty"


def test_duplicate_rules_are_warnings_unless_lint_is_fatal():
    files = by_path(captured("rules_mixed"))
    assert files["rules/duprules.yml"]["ok"]
    assert files["rules/duprules.yml"]["lint"] == [
        {"check": "duplicate-rules", "metric": "a", "labels": {"x": "1"}},
        {"check": "duplicate-rules", "metric": "b", "labels": {}}]
    assert "rules/duprules.yml: duplicate rule a{x=1}" in captured("rules_mixed")["warnings"]

    fatal = captured("rules_lint_fatal")
    assert fatal["rc"] == 3 and not fatal["ok"] and not fatal["files"][0]["ok"]
    assert fatal["warnings"] == [] and fatal["general_errors"] == []
    assert fatal["summary"].splitlines() == [
        "promtool check rules: 1 of 1 file failed",
        "rules/duprules.yml: lint: duplicate rule a{x=1}",
        "rules/duprules.yml: lint: duplicate rule b"]


def test_failure_summary_names_the_subcommand_and_every_problem():
    lines = captured("rules_mixed")["summary"].splitlines()
    assert lines[0] == "promtool check rules: 5 of 8 files failed"
    assert lines[1] == ('rules/broken.yml:5:15: group "node", rule 1 "Broken": '
                        "could not parse expression: 1:17: parse error: unexpected <by> in aggregation")
    assert "rules/dupgroup.yml:6:5: groupname: \"g\" is repeated in the same file" in lines
    assert lines[-3:] == ["warnings:", "rules/duprules.yml: duplicate rule a{x=1}", "rules/duprules.yml: duplicate rule b"]


def test_a_passing_check_says_what_it_checked():
    result = captured("rules_good")
    assert result["ok"] and result["errors"] == [] and result["summary"] == (
        "promtool check rules: 1 file passed: rules/good.yml (3 rules)")


# --- check config --------------------------------------------------------------------------------

def test_configurations_and_the_rule_files_they_name():
    result = captured("config_mixed")
    assert not result["ok"]
    summary = [(e["path"], e["kind"], e["ok"], e.get("referenced_by")) for e in result["files"]]
    assert summary == [
        ("config/good.yml", "config", True, None),
        ("rules/good.yml", "rules", True, "config/good.yml"),
        ("rules/dupgroup.yml", "rules", False, "config/good.yml"),
        ("rules/duprules.yml", "rules", True, "config/good.yml"),
        ("config/badrule.yml", "config", True, None),
        ("rules/broken.yml", "rules", False, "config/badrule.yml"),
        ("rules/good.yml", "rules", True, "config/badrule.yml"),
        ("config/duration.yml", "config", False, None),
        ("config/unknown.yml", "config", False, None),
        ("config/missingcert.yml", "config", False, None),
    ]
    files = by_path(result)
    assert files["config/good.yml"]["rule_files"] == 3
    assert files["config/duration.yml"]["errors"] == [{
        "file": "config/duration.yml", "line": None, "column": None, "message": 'unknown unit "x" in duration "15x"'}]
    assert files["config/unknown.yml"]["errors"] == [{
        "file": "config/unknown.yml", "line": 2, "column": None, "message": "field scrape_intervall not found in type config.plain"}]
    assert files["config/missingcert.yml"]["errors"][0]["message"].startswith('error checking client cert file "/nonexistent/client.pem"')
    broken = by_path(result, "rules")["rules/broken.yml"]["errors"]
    assert [e["referenced_by"] for e in broken] == ["config/badrule.yml"] * 2
    assert ('rules/broken.yml:5:15 (named in config/badrule.yml): group "node", rule 1 "Broken": '
            "could not parse expression: 1:17: parse error: unexpected <by> in aggregation") in result["summary"].splitlines()


def test_a_good_configuration():
    result = captured("config_good")
    assert result["ok"]
    assert [(e["path"], e["kind"], e["ok"]) for e in result["files"]] == [
        ("config/onlygood.yml", "config", True), ("rules/good.yml", "rules", True)]
    assert result["files"][0]["rule_files"] == 1 and result["files"][1]["rules"] == 3


# --- check web-config ----------------------------------------------------------------------------

def test_web_configs():
    result = captured("web_mixed")
    assert [(e["path"], e["ok"]) for e in result["files"]] == [
        ("web/good.yml", True), ("web/nokey.yml", False), ("web/unknown.yml", False), ("web/badyaml.yml", False)]
    files = by_path(result)
    assert files["web/nokey.yml"]["errors"][0]["message"] == "missing one of key or key_file"
    assert where(files["web/unknown.yml"]["errors"]) == [("web/unknown.yml", 2, None)]
    assert files["web/unknown.yml"]["errors"][0]["message"] == "field cert_filez not found in type web.TLSConfig"
    assert where(files["web/badyaml.yml"]["errors"]) == [("web/badyaml.yml", 1, None)]
    assert result["summary"].splitlines()[0] == "promtool check web-config: 3 of 4 files failed"


# --- test rules ----------------------------------------------------------------------------------

def test_failed_rule_unit_tests_with_expected_and_actual_alerts():
    result = captured("tests_mixed")
    files = by_path(result)
    assert [(e["path"], e["ok"]) for e in result["files"]] == [
        ("tests/pass.test.yml", True), ("tests/fail.test.yml", False), ("tests/badrule.test.yml", False),
        ("tests/badyaml.test.yml", False), ("tests/badseries.test.yml", False), ("tests/errors.test.yml", False),
        ("tests/annotations.test.yml", False), ("tests/norules.test.yml", True)]
    wrong, silence, expr = files["tests/fail.test.yml"]["failures"]
    assert (wrong["kind"], wrong["test_group"], wrong["alertname"], wrong["eval_time"]) == (
        "alert", "wrong severity", "InstanceDown", "10m")
    assert wrong["expected"] == [{"labels": {"alertname": "InstanceDown", "instance": "web1", "job": "node", "severity": "warning"},
                                  "annotations": {"summary": "web1 of node is down"}}]
    assert wrong["got"][0]["labels"]["severity"] == "critical"
    assert (silence["test_group"], silence["expected"], len(silence["got"])) == ("expected silence", [], 1)
    assert (expr["kind"], expr["test_group"], expr["expr"], expr["eval_time"]) == ("expression", None, "job:up:sum", "1m")
    assert expr["expected"] == '{__name__="job:up:sum", job="node"} 5E+00'
    assert expr["got"] == '{__name__="job:up:sum", job="node"} 0E+00'
    assert ('tests/fail.test.yml: test group "wrong severity", alert InstanceDown at 10m: expected 1 firing '
            '({instance="web1", job="node", severity="warning"}), got 1 ({instance="web1", job="node", severity="critical"})'
            ) in result["summary"].splitlines()


def test_unit_test_files_that_do_not_load():
    files = by_path(captured("tests_mixed"))
    badrule = files["tests/badrule.test.yml"]["errors"]
    assert where(badrule) == [("rules/broken.yml", 5, 15), ("rules/broken.yml", 8, 17)]
    assert badrule[0]["referenced_by"] == "tests/badrule.test.yml" and badrule[0]["rule"] == "Broken"
    assert where(files["tests/badyaml.test.yml"]["errors"]) == [("tests/badyaml.test.yml", 4, None)]
    # the position of an input series error is inside the series, not a line of the file
    series = files["tests/badseries.test.yml"]["errors"]
    assert where(series) == [("tests/badseries.test.yml", None, None)]
    assert series[0]["message"] == "2:12: parse error: unexpected character inside braces: '0'"
    errors = files["tests/errors.test.yml"]
    assert [(f["kind"], f["expr"], f["error"]) for f in errors["failures"]] == [
        ("expression", "sum(", "1:5: parse error: unclosed left parenthesis")]
    assert errors["errors"][0]["message"] == "an item under alert_rule_test misses required attribute alertname at eval_time 1m"


def test_annotations_that_differ_are_named_and_warnings_kept():
    result = captured("tests_mixed")
    files = by_path(result)
    (failure,) = files["tests/annotations.test.yml"]["failures"]
    assert failure["expected"][0]["annotations"] == {"summary": "web1 is down"}
    assert failure["got"][0]["annotations"] == {"summary": "web1 of node is down"}
    assert "the annotations differ" in pc.describe_failure(failure)
    assert files["tests/norules.test.yml"]["warnings"] == ["no file match pattern rules/nothing-*.yml"]
    assert "tests/norules.test.yml: no file match pattern rules/nothing-*.yml" in result["warnings"]
    # every failed test is also an error of its file, so a report can list errors alone
    assert len([e for e in result["errors"] if e["file"] == "tests/fail.test.yml"]) == 3


def test_passing_unit_tests():
    result = captured("tests_pass")
    assert result["ok"] and result["files"][0]["failures"] == []


# --- output promtool gives when it cannot start --------------------------------------------------

def test_usage_errors_and_unexplained_exit_statuses():
    result = pc.parse("check rules", ["a.yml"], 1, "promtool: error: path 'a.yml' does not exist, try --help\n")
    assert not result["ok"] and result["general_errors"] == ["path 'a.yml' does not exist, try --help"]
    assert result["files"][0]["errors"][0]["message"].startswith("not checked: path 'a.yml' does not exist")
    result = pc.parse("check rules", ["a.yml"], 2, "Checking a.yml\n  SUCCESS: 1 rules found\n\n")
    assert not result["ok"] and result["general_errors"] == [
        "promtool exited with status 2: Checking a.yml\n  SUCCESS: 1 rules found"]


@pytest.mark.parametrize("kwargs,message", [
    ({"syntax_only": True}, "promtool check rules: syntax_only is an option of promtool check config only"),
    ({"run": ["x"]}, "run (test group names) is an option of promtool test rules only"),
    ({"lint": "some"}, "lint must be one of all, duplicate-rules, none"),
    ({"command": "test rules", "lint_fatal": True}, "lint_fatal is an option of promtool check config and check rules only"),
    ({"command": "test rules", "run": ["(unclosed"]}, "run pattern '(unclosed' is not a regular expression"),
    ({"files": ["-x.yml"]}, "file names must not start with '-'"),
    ({"command": "check metrics"}, "unknown command 'check metrics'"),
])
def test_options_a_subcommand_does_not_have_are_refused(kwargs, message):
    args = dict({"command": "check rules", "files": ["a.yml"]}, **kwargs)
    with pytest.raises(pc.PromtoolError, match=message.replace("(", r"\(").replace(")", r"\)")):
        pc.build_argv("promtool", args.pop("command"), args.pop("files"), **args)


def test_argv():
    assert pc.build_argv("/p", "check config", ["c.yml"], syntax_only=True, lint="none") == [
        "/p", "check", "config", "--syntax-only", "--lint=none", "c.yml"]
    assert pc.build_argv("/p", "test rules", ["t.yml"], run=["^node", "x"]) == [
        "/p", "test", "rules", "--run=^node", "--run=x", "t.yml"]


def test_missing_files_directories_and_empty_patterns(tmp_path):
    (tmp_path / "a.yml").write_text("groups: []\n")
    (tmp_path / "b.yml").write_text("groups: []\n")
    paths, problems = pc.expand([str(tmp_path / "*.yml"), str(tmp_path / "a.yml"), str(tmp_path / "none.yml"),
                                 str(tmp_path), str(tmp_path / "x*.yml")])
    assert paths == [str(tmp_path / "a.yml"), str(tmp_path / "b.yml")]
    assert [(os.path.basename(p), m.split(" (")[0]) for p, m in problems] == [
        ("none.yml", "does not exist"), (tmp_path.name, "is a directory"), ("x*.yml", "no file matches this pattern")]


def test_promtool_that_is_not_there(tmp_path, monkeypatch):
    monkeypatch.setenv("PATH", str(tmp_path))
    monkeypatch.setattr(pc, "SEARCH_PATH", (str(tmp_path),))
    with pytest.raises(pc.PromtoolError, match="promtool not found in PATH or"):
        pc.find_promtool()
    (tmp_path / "promtool").write_text("not executable")
    with pytest.raises(pc.PromtoolError, match="is not an executable file"):
        pc.find_promtool(str(tmp_path / "promtool"))


# --- the real promtool ---------------------------------------------------------------------------

def normalised(result, base):
    """Files and errors of a result with the base directory taken out of every path."""
    def strip(text):
        return text.replace(base + "/", "") if base and text else text

    out = []
    for entry in result["files"]:
        # promtool counts the rules of a file it passes without lint findings; the others are counted
        # from the file (test_groups_and_rules_of_each_rule_file)
        out.append((strip(entry["path"]), entry["kind"], entry["ok"], entry.get("rules") if entry["ok"] and not entry["lint"] else None,
                    entry.get("rule_files"),
                    [(strip(e["file"]), e["line"], e["column"], e.get("rule"), strip(e["message"])) for e in entry["errors"]],
                    [dict(f, file=strip(f["file"]), message=None) for f in entry["failures"]],
                    entry["lint"], [strip(w) for w in entry["warnings"]]))
    return out


@needs_promtool
@pytest.mark.parametrize("case", sorted(promtoolcases.CASES))
def test_the_captures_are_what_promtool_prints(case, inputs):
    version, rc, output = promtoolcases.load(case)
    found = promtoolcases.version(PROMTOOL)
    if found != version:
        pytest.skip("captured with promtool %s, found %s: recapture with python tests/promtoolcases.py" % (version, found))
    assert promtoolcases.run_case(PROMTOOL, case, inputs) == (rc, output)


@needs_promtool
@pytest.mark.parametrize("case", sorted(promtoolcases.CASES))
def test_the_real_promtool_on_absolute_paths_gives_the_same_result(case, inputs):
    command, files, options = promtoolcases.command_of(case)
    live = pc.check(command, [os.path.join(inputs, f) for f in files], promtool=PROMTOOL, **options)
    assert live["argv"][:3] == [PROMTOOL] + command.split()
    assert normalised(live, inputs) == normalised(captured(case), "")
    assert live["ok"] == captured(case)["ok"]


@needs_promtool
def test_groups_and_rules_of_each_rule_file(inputs):
    result = pc.check("check rules", [os.path.join(inputs, "rules", "*.yml")], promtool=PROMTOOL)
    files = dict((os.path.relpath(e["path"], inputs), (e["groups"], e["rules"])) for e in result["files"])
    assert files["rules/good.yml"] == (2, 3)
    assert files["rules/empty.yml"] == (0, 0)
    assert files["rules/broken.yml"] == (1, 3)  # promtool gives no count for a failed file: read from the file
    assert files["rules/badyaml.yml"] == (None, None)


@needs_promtool
def test_a_missing_file_fails_alone_and_the_others_are_still_checked(inputs):
    result = pc.check("check rules", [os.path.join(inputs, "rules", "good.yml"), "/nonexistent/rules.yml"], promtool=PROMTOOL)
    assert not result["ok"] and result["rc"] == 0
    assert [(e["path"], e["ok"]) for e in result["files"]] == [
        (os.path.join(inputs, "rules", "good.yml"), True), ("/nonexistent/rules.yml", False)]
    assert result["summary"].splitlines() == ["promtool check rules: 1 of 2 files failed",
                                              "/nonexistent/rules.yml: does not exist"]


def module_run(args, check_mode=False):
    """Run plugins/modules/promtool.py as Ansible runs it; its JSON answer."""
    params = dict(args, _ansible_check_mode=check_mode)
    env = dict(os.environ, PYTHONPATH=os.path.join(ROOT, ".cache", "collections"))
    proc = subprocess.run([sys.executable, os.path.join(ROOT, "plugins", "modules", "promtool.py")],
                          input=json.dumps({"ANSIBLE_MODULE_ARGS": params}), stdout=subprocess.PIPE,
                          stderr=subprocess.PIPE, universal_newlines=True, env=env, timeout=120, check=False)
    return json.loads(proc.stdout)


@needs_promtool
def test_the_module_fails_naming_the_subcommand_and_changes_nothing_in_check_mode(inputs):
    files = [os.path.join(inputs, "rules", "good.yml"), os.path.join(inputs, "rules", "broken.yml")]
    out = module_run({"command": "check rules", "files": files, "promtool": PROMTOOL}, check_mode=True)
    assert out["failed"] and not out["changed"]
    assert out["msg"].splitlines()[:2] == [
        "promtool check rules: 1 of 2 files failed",
        '%s/rules/broken.yml:5:15: group "node", rule 1 "Broken": could not parse expression: 1:17: parse error: '
        "unexpected <by> in aggregation" % inputs]
    assert [f["ok"] for f in out["files"]] == [True, False] and out["files"][0]["groups"] == 2
    out = module_run({"command": "check rules", "files": [os.path.join(inputs, "rules", "duprules.yml")], "promtool": PROMTOOL})
    assert not out.get("failed") and not out["changed"] and out["ok"]
    assert out["promtool_warnings"] == ["%s/rules/duprules.yml: duplicate rule a{x=1}" % inputs,
                                        "%s/rules/duprules.yml: duplicate rule b" % inputs]
    assert any("duplicate rule b" in str(w) for w in out["warnings"])


@needs_promtool
def test_the_module_refuses_options_of_another_subcommand(inputs):
    out = module_run({"command": "check rules", "files": [os.path.join(inputs, "rules", "good.yml")], "promtool": PROMTOOL,
                      "syntax_only": True})
    assert out["failed"] and out["msg"] == "promtool check rules: syntax_only is an option of promtool check config only"
    out = module_run({"command": "check rules", "files": ["/x.yml"], "promtool": "/nonexistent/promtool"})
    assert out["failed"] and out["msg"] == "promtool check rules: promtool /nonexistent/promtool is not an executable file"


@needs_promtool
def test_the_command_line_for_validate_commands(inputs):
    """What a role's validate command would run: the summary on standard output, 0/1/2."""
    script = os.path.join(ROOT, "plugins", "module_utils", "promtoolcheck.py")

    def cli(*args):
        proc = subprocess.run([sys.executable, script, "--promtool", PROMTOOL] + list(args), stdout=subprocess.PIPE,
                              stderr=subprocess.STDOUT, universal_newlines=True, timeout=120, check=False)
        return proc.returncode, proc.stdout

    rc, out = cli("check", "rules", os.path.join(inputs, "rules", "good.yml"))
    assert (rc, out) == (0, "promtool check rules: 1 file passed: %s/rules/good.yml (2 groups, 3 rules)\n" % inputs)
    rc, out = cli("test", "rules", os.path.join(inputs, "tests", "fail.test.yml"))
    assert rc == 1 and out.splitlines()[0] == "promtool test rules: 1 of 1 file failed"
    rc, out = cli("--json", "check", "web-config", os.path.join(inputs, "web", "nokey.yml"))
    assert rc == 1 and json.loads(out)["errors"][0]["message"] == "missing one of key or key_file"
    rc, out = cli("check", "metrics", "x")
    assert rc == 2 and out.startswith("promtoolcheck: give a command")


# --- promtool calls made elsewhere (the roles' validate commands) --------------------------------

@pytest.mark.parametrize("validate,expected", [
    ("/usr/local/bin/promtool check rules %s", ("check rules", ["F"], {"lint_fatal": False})),
    ("/usr/local/bin/promtool check config %s", ("check config", ["F"], {"lint_fatal": False})),
    ("/usr/local/bin/promtool check config --syntax-only %s", ("check config", ["F"], {"lint_fatal": False})),
    ("/usr/local/bin/promtool check web-config %s", ("check web-config", ["F"], {"lint_fatal": False})),
    ("promtool check rules --lint-fatal %s", ("check rules", ["F"], {"lint_fatal": True})),
    ("/usr/local/bin/amtool check-config %s", None),
    ("/usr/local/bin/promtool check metrics", None),
    ("/usr/local/bin/promtool check rules", None),
])
def test_the_roles_validate_commands_are_recognised(validate, expected):
    """The validate commands of the prometheus role (roles/prometheus/tasks/main.yml and
    vars/main/scrape.yml) as service_setup runs them, %s being the file."""
    assert pc.parse_argv([part.replace("%s", "F") for part in validate.split()]) == expected


def test_a_validate_commands_output_read_by_the_wrapper():
    _version, rc, output = promtoolcases.load("config_mixed")
    argv = ["/usr/local/bin/promtool"] + promtoolcases.CASES["config_mixed"]
    result = pc.result_of(argv, rc, output)
    assert result["argv"] == argv and result["summary"] == captured("config_mixed")["summary"]
    assert pc.result_of(["/usr/local/bin/amtool", "check-config", "a.yml"], 1, "FAILED") is None
