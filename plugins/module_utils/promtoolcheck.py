# -*- coding: utf-8 -*-
# Copyright: fleetwatch engineers
# SPDX-License-Identifier: Apache-2.0
"""The collection's one promtool wrapper: run a check and read promtool's output into a result.

Subcommands (``COMMANDS``): ``check config``, ``check rules``, ``check web-config`` and
``test rules`` (rule unit tests). ``check(command, files, ...)`` runs promtool once on every file
(stdout and stderr in one stream, so each message stays under the file it belongs to) and returns::

    {"command": "promtool check rules", "argv": [...], "rc": 1, "ok": False,
     "files": [{"path": "rules/x.yml", "kind": "rules", "ok": False, "groups": 1, "rules": None,
                "errors": [{"file": "rules/x.yml", "line": 5, "column": 15, "group": "g",
                            "rule": "Broken", "rule_index": 1, "message": "could not parse ..."}],
                "lint": [], "warnings": [], "failures": []}, ...],
     "errors": [... every error of every file ...], "warnings": [...], "summary": "...", "output": "..."}

``parse(command, files, rc, output)`` is the parser alone (tests feed it captured output).
``summary(result)`` is the readable text (it names the subcommand, each file and line).

This file imports nothing from Ansible or the rest of the collection: it also runs on its own as
a command (see ``main``), so that a role's validate command can call the same wrapper::

    python3 promtoolcheck.py --promtool /usr/local/bin/promtool check rules /etc/prometheus/rules/x.yml

prints the summary (``--json``: the whole result) and exits 0 when promtool passed every file,
1 when a file failed, 2 when promtool could not be run. ``result_of(argv, rc, output)`` reads a
promtool call made by someone else (service_setup's validate step, with stdout and stderr merged)
into the same result: service_setup reports the roles' refused promtool validations through it.
"""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

import glob
import json
import os
import re
import subprocess
import sys
import textwrap

try:
    import yaml
    HAS_YAML = True
except ImportError:  # pragma: no cover - PyYAML is optional on targets: group counts are then None
    HAS_YAML = False

COMMANDS = {
    "check config": ("check", "config"),
    "check rules": ("check", "rules"),
    "check web-config": ("check", "web-config"),
    "test rules": ("test", "rules"),
}
KINDS = {"check config": "config", "check rules": "rules", "check web-config": "web-config", "test rules": "rule-tests"}
LINT_CHOICES = ("all", "duplicate-rules", "none")
SEARCH_PATH = ("/usr/local/bin", "/usr/bin", "/bin")

RULES_FOUND_RE = re.compile(r"^\s+SUCCESS: (\d+) rules found\s*$")
RULE_FILES_FOUND_RE = re.compile(r"^\s+SUCCESS: (\d+) rule files found\s*$")
CONFIG_VALID_RE = re.compile(r"^\s+SUCCESS: (.*) is valid prometheus config file syntax\s*$")
POSITION_RE = re.compile(r"^(\d+):(\d+): ")
GO_STRING = r'"((?:[^"\\]|\\.)*)"'
GROUP_RULE_RE = re.compile(r"^group %s, rule (\d+), %s: (.*)$" % (GO_STRING, GO_STRING), re.DOTALL)
YAML_LINE_RE = re.compile(r"^yaml: line (\d+): (.*)$", re.DOTALL)
UNMARSHAL_LINE_RE = re.compile(r"^\s*line (\d+): (.*)$")
PARSING_RE = re.compile(r"^parsing YAML file (.*?): (.*)$", re.DOTALL)
# "<rule file>: <what promtool says about a rule file>" (in a unit test's output the rule files are
# not known in advance): a position, a group, a YAML error.
FILE_PREFIX_RE = re.compile(r'^(\S.*?): ((?:\d+:\d+: |group "|yaml: |groupname: |Groupname ).*)$', re.DOTALL)
TEST_START_RE = re.compile(r"^    (name|alertname|expr|rule): ")
LABELS_RE = re.compile(r'([A-Za-z_][A-Za-z0-9_]*)=%s' % GO_STRING)


class PromtoolError(Exception):
    """promtool could not be run (not found, not executable, timed out, bad options)."""


# --- running --------------------------------------------------------------------------------------

def find_promtool(path=None):
    """The promtool to run: ``path`` (a file, or a name searched in PATH), else promtool in PATH or
    /usr/local/bin, /usr/bin, /bin."""
    name = path or "promtool"
    if os.sep in name:
        if os.path.isfile(name) and os.access(name, os.X_OK):
            return name
        raise PromtoolError("promtool %s is not an executable file" % name)
    dirs = [d for d in os.environ.get("PATH", "").split(os.pathsep) if d] + list(SEARCH_PATH)
    for directory in dirs:
        candidate = os.path.join(directory, name)
        if os.path.isfile(candidate) and os.access(candidate, os.X_OK):
            return candidate
    raise PromtoolError("%s not found in PATH or %s: give its path" % (name, ", ".join(SEARCH_PATH)))


def build_argv(promtool, command, files, syntax_only=False, lint=None, lint_fatal=False, run=None):
    """promtool's command line; options that the subcommand does not have are refused by name."""
    if command not in COMMANDS:
        raise PromtoolError("unknown command %r: use one of %s" % (command, ", ".join(sorted(COMMANDS))))
    where = "promtool %s" % command
    argv = [promtool] + list(COMMANDS[command])
    if syntax_only:
        if command != "check config":
            raise PromtoolError("%s: syntax_only is an option of promtool check config only" % where)
        argv.append("--syntax-only")
    if lint is not None:
        if command not in ("check config", "check rules"):
            raise PromtoolError("%s: lint is an option of promtool check config and check rules only" % where)
        if lint not in LINT_CHOICES:
            raise PromtoolError("%s: lint must be one of %s, not %r" % (where, ", ".join(LINT_CHOICES), lint))
        argv.append("--lint=%s" % lint)
    if lint_fatal:
        if command not in ("check config", "check rules"):
            raise PromtoolError("%s: lint_fatal is an option of promtool check config and check rules only" % where)
        argv.append("--lint-fatal")
    for pattern in run or []:
        if command != "test rules":
            raise PromtoolError("%s: run (test group names) is an option of promtool test rules only" % where)
        try:
            re.compile(pattern)
        except re.error as exc:
            raise PromtoolError("%s: run pattern %r is not a regular expression: %s" % (where, pattern, exc))
        argv.append("--run=%s" % pattern)
    if command in ("check rules", "test rules", "check config", "check web-config") and any(
            str(f).startswith("-") for f in files):
        # promtool would take it for a flag.
        raise PromtoolError("%s: file names must not start with '-': %s" % (where, ", ".join(f for f in files if str(f).startswith("-"))))
    return argv + [str(f) for f in files]


def run_merged(argv, timeout=120):
    """(rc, output): stdout and stderr through one pipe, in the order promtool wrote them."""
    env = dict(os.environ, LANG="C", LC_ALL="C")
    try:
        proc = subprocess.Popen(argv, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL,
                                env=env, close_fds=True)
    except OSError as exc:
        raise PromtoolError("cannot run %s: %s" % (argv[0], exc))
    try:
        out, _err = proc.communicate(timeout=timeout)
    except subprocess.TimeoutExpired:
        proc.kill()
        proc.communicate()
        raise PromtoolError("promtool %s did not finish within %ss" % (" ".join(argv[1:3]), timeout))
    return proc.returncode, out.decode("utf-8", "replace")


def expand(files):
    """(paths to check, problems): glob patterns expanded (sorted); a missing file or a pattern that
    matches nothing is a problem, not something to hand to promtool (it would check nothing else)."""
    paths, problems = [], []
    for entry in files:
        entry = str(entry)
        if any(ch in entry for ch in "*?["):
            matches = sorted(glob.glob(entry))
            if not matches:
                problems.append((entry, "no file matches this pattern"))
            paths.extend(m for m in matches if m not in paths)
        elif not os.path.exists(entry):
            problems.append((entry, "does not exist"))
        elif os.path.isdir(entry):
            problems.append((entry, "is a directory (give the files, or a pattern such as %s/*.yml)" % entry.rstrip("/")))
        elif entry not in paths:
            paths.append(entry)
    return paths, problems


# --- parsing --------------------------------------------------------------------------------------

def _entry(path, kind, referenced_by=None):
    out = {"path": path, "kind": kind, "ok": None, "errors": [], "lint": [], "warnings": [], "failures": []}
    if kind in ("rules", "config"):
        out["groups"] = None
        out["rules"] = None
    if kind == "config":
        out["rule_files"] = None
    if referenced_by:
        out["referenced_by"] = referenced_by
    return out


def unquote(text):
    """A Go %q string's content."""
    try:
        return json.loads('"%s"' % text)
    except ValueError:
        return text


def parse_labels(text):
    """'{a="1", b="x\\"y"}' -> {"a": "1", "b": 'x"y'}."""
    return dict((m.group(1), unquote(m.group(2))) for m in LABELS_RE.finditer(text or ""))


def parse_error(text, path, positions=True):
    """One promtool error message about ``path`` -> [error dicts] (a YAML unmarshal error lists one
    error per line it names)."""
    text = text.rstrip()
    error = {"file": path, "line": None, "column": None, "message": text}
    match = PARSING_RE.match(text)
    if match and match.group(1) == path:
        text = match.group(2)
    found = []
    match = POSITION_RE.match(text) if positions else None
    while match:
        found.append((int(match.group(1)), int(match.group(2))))
        text = text[match.end():]
        match = POSITION_RE.match(text)
    real = [p for p in found if p != (0, 0)]
    if real:
        error["line"], error["column"] = real[-1]
    match = GROUP_RULE_RE.match(text)
    if match:
        error["group"] = unquote(match.group(1))
        error["rule_index"] = int(match.group(2))
        error["rule"] = unquote(match.group(3))
        text = match.group(4)
    lines = text.split("\n")
    if lines[0].strip() == "yaml: unmarshal errors:" and len(lines) > 1:
        out = []
        for line in lines[1:]:
            m = UNMARSHAL_LINE_RE.match(line)
            if m:
                out.append(dict(error, line=int(m.group(1)), column=None, message=m.group(2).strip()))
            elif line.strip() and out:
                out[-1]["message"] += "\n" + line.strip()
        if out:
            return out
    match = YAML_LINE_RE.match(text)
    if match and error["line"] is None:
        error["line"] = int(match.group(1))
        text = "yaml: " + match.group(2)
    error["message"] = text
    return [error]


def parse_lint(lines):
    """promtool's duplicate-rules lint block -> [{"check": "duplicate-rules", "metric": ..., "labels": {...}}]."""
    found = []
    for line in lines:
        if line.startswith("Metric: "):
            found.append({"check": "duplicate-rules", "metric": line[len("Metric: "):].strip(), "labels": {}})
        elif found and line.startswith("\t") and ": " in line:
            key, _sep, value = line.strip().partition(": ")
            found[-1]["labels"][key] = value
    if not found and lines:
        found.append({"check": "lint", "message": "\n".join(lines).strip()})
    return found


def _alerts(block):
    """The alerts of an exp:/got: part of a failed alert test -> [{"labels": {...}, "annotations": {...}}]."""
    alerts = []
    for line in block:
        stripped = line.strip()
        if stripped.startswith("Labels:"):
            alerts.append({"labels": parse_labels(stripped[len("Labels:"):]), "annotations": {}})
        elif stripped.startswith("Annotations:") and alerts:
            alerts[-1]["annotations"] = parse_labels(stripped[len("Annotations:"):])
    return alerts


def parse_test_failure(lines, path):
    """One failed rule unit test (the lines promtool prints for it) -> a failure dict."""
    failure = {"file": path, "test_group": None, "message": textwrap.dedent("\n".join(l.rstrip() for l in lines)).strip()}
    rest = list(lines)
    if rest and rest[0].startswith("    name: "):
        failure["test_group"] = rest.pop(0)[len("    name: "):].rstrip().rstrip(",")
    head = rest[0].strip() if rest else ""
    match = re.match(r"^alertname: (.*?), time: (\S+?),\s*$", head)
    if match:
        failure.update(kind="alert", alertname=match.group(1), eval_time=match.group(2))
        body = rest[1:]
        got_at = next((i for i, l in enumerate(body) if l.strip().startswith("got:")), len(body))
        failure["expected"] = _alerts(body[:got_at])
        failure["got"] = _alerts(body[got_at:])
        return failure
    match = re.match(r'^expr: %s, time: (\S+?),(?: err: (.*))?$' % GO_STRING, head, re.DOTALL)
    if match:
        failure.update(kind="expression", expr=unquote(match.group(1)), eval_time=match.group(2))
        if match.group(3) is not None:
            failure["error"] = "\n".join([match.group(3)] + [l.strip() for l in rest[1:]]).strip()
        for line in rest[1:]:
            stripped = line.strip()
            if stripped.startswith("exp: "):
                failure["expected"] = stripped[len("exp: "):]
            elif stripped.startswith("got: "):
                failure["got"] = stripped[len("got: "):]
        return failure
    match = re.match(r"^rule: (.*), time: (\S+?), err: (.*)$", head, re.DOTALL)
    if match:
        failure.update(kind="rule evaluation", rule=match.group(1), eval_time=match.group(2), error=match.group(3))
        return failure
    failure["kind"] = "other"
    return failure


def _split_items(lines):
    """The lines of a FAILED block -> one list of lines per message (a message starts at a line
    without indent, or at a unit test's name/alertname/expr/rule line; a blank line ends one)."""
    items = []
    current = None
    for line in lines:
        if not line.strip():
            current = None
            continue
        starts = not line.startswith((" ", "\t")) or bool(TEST_START_RE.match(line))
        if starts and current is not None and TEST_START_RE.match(line) and current[-1].startswith("    name: ") \
                and len(current) == 1:
            starts = False  # "name:" belongs to the alertname/expr line that follows it
        if starts or current is None:
            current = [line]
            items.append(current)
        else:
            current.append(line)
    return items


def _strip_file(line, paths):
    for path in sorted(paths, key=len, reverse=True):
        if line.startswith(path + ": "):
            return path, line[len(path) + 2:]
    match = FILE_PREFIX_RE.match(line)
    if match:
        return match.group(1), match.group(2)
    return None, line


def _finish_block(entry, block, command, lint_fatal):
    """Turn the lines of a file's FAILED block into its errors, lint findings or test failures."""
    if not entry or not block:
        return
    path = entry["path"]
    if block[0].startswith("lint error"):
        entry["lint"].extend(parse_lint(block))
        entry["ok"] = not lint_fatal
        return
    entry["ok"] = False
    for item in _split_items(block):
        if entry["kind"] == "rule-tests" and item[0].startswith("    "):
            entry["failures"].append(parse_test_failure(item, path))
            continue
        named, first = _strip_file(item[0], [path])
        text = "\n".join([first] + item[1:])
        # Positions at the start of a message are lines of the named file; in a message about a
        # unit test file itself (an input series that does not parse) they are not.
        positions = not (entry["kind"] == "rule-tests" and named is None)
        for error in parse_error(text, named or path, positions):
            if named and named != path:  # a rule file a unit test file loads
                error["referenced_by"] = path
            elif entry.get("referenced_by"):  # a rule file a configuration names
                error["referenced_by"] = entry["referenced_by"]
            if error not in entry["errors"]:  # promtool prints some YAML errors twice
                entry["errors"].append(error)


def parse(command, files, rc, output, lint_fatal=False):
    """promtool's output (stdout and stderr merged) for ``files`` -> the result (see the module doc)."""
    if command not in COMMANDS:
        raise PromtoolError("unknown command %r" % command)
    kind = KINDS[command]
    files = [str(f) for f in files]
    entries = []
    general = []
    current = None
    block = None  # lines of a FAILED: block
    continued = None  # the error a "FAILED: message" line started (for its continuation lines)
    config = None
    for raw in (output or "").split("\n"):
        line = raw.rstrip("\r")
        header = None
        if line.startswith("Checking ") and command in ("check rules", "check config"):
            header = line[len("Checking "):]
        elif line.startswith("Unit Testing: ") and command == "test rules":
            header = line[len("Unit Testing: "):].lstrip(" ")
        if header is not None:
            _finish_block(current, block, command, lint_fatal)
            block = continued = None
            if command == "check config" and header in files:
                current = config = _entry(header, "config")
            elif command == "check config":
                current = _entry(header if header != "standard input" else "-", "rules", referenced_by=config and config["path"])
            else:
                current = _entry(header, kind)
            entries.append(current)
            continue
        if command == "check web-config":
            target = next((f for f in sorted(files, key=len, reverse=True)
                           if line == f + " SUCCESS" or line.startswith(f + " FAILED: ")), None)
            if target is not None:
                current = _entry(target, kind)
                entries.append(current)
                if line.endswith(" SUCCESS") and line == target + " SUCCESS":
                    current["ok"] = True
                    continued = None
                else:
                    current["ok"] = False
                    continued = {"text": line[len(target) + len(" FAILED: "):], "entry": current}
                    current["_pending"] = continued
                continue
        if line.startswith("promtool: error: "):
            _finish_block(current, block, command, lint_fatal)
            block = continued = None
            general.append(line[len("promtool: error: "):].strip())
            continue
        if block is not None:
            block.append(line)
            continue
        if continued is not None:
            if line.strip():
                continued["text"] += "\n" + line
            else:
                continued = None
            continue
        if current is None:
            if line.strip():
                general.append(line.strip())
            continue
        match = RULES_FOUND_RE.match(line)
        if match:
            current["rules"] = int(match.group(1))
            current["ok"] = True
            continue
        match = RULE_FILES_FOUND_RE.match(line)
        if match and current["kind"] == "config":
            current["rule_files"] = int(match.group(1))
            continue
        if CONFIG_VALID_RE.match(line) and current["kind"] == "config":
            current["ok"] = True
            continue
        if line.strip() == "SUCCESS":
            current["ok"] = True
            continue
        if line.strip() == "FAILED:":
            block = []
            continue
        if line.lstrip().startswith("FAILED: "):
            current["ok"] = False
            continued = {"text": line.lstrip()[len("FAILED: "):], "entry": current}
            current["_pending"] = continued
            continue
        if line.lstrip().startswith("WARNING: "):
            current["warnings"].append(line.lstrip()[len("WARNING: "):].strip())
            continue
        if line.strip():
            current["warnings"].append(line.strip())
    _finish_block(current, block, command, lint_fatal)
    for entry in entries:
        pending = entry.pop("_pending", None)
        if pending:
            for error in parse_error(pending["text"], entry["path"]):
                if error not in entry["errors"]:
                    entry["errors"].append(error)
        if entry["ok"] is None:
            entry["ok"] = False if (entry["errors"] or entry["failures"]) else (rc == 0)
    seen = set(e["path"] for e in entries)
    for f in files:
        if f not in seen:
            # promtool stopped before this file (a usage error): it was not checked.
            entry = _entry(f, kind)
            entry["ok"] = False
            entry["errors"].append({"file": f, "line": None, "column": None,
                                    "message": "not checked: %s" % ("; ".join(general) or "promtool stopped before it")})
            entries.append(entry)
    return _result(command, rc, output, entries, general)


def _result(command, rc, output, entries, general):
    errors = [e for entry in entries for e in entry["errors"]]
    for entry in entries:
        for failure in entry["failures"]:
            errors.append({"file": failure["file"], "line": None, "column": None,
                           "message": describe_failure(failure)})
    warnings = ["%s: %s" % (entry["path"], w) for entry in entries for w in entry["warnings"]]
    # Lint findings are warnings unless they failed the file (lint_fatal): then they are its reason.
    warnings += ["%s: %s" % (entry["path"], describe_lint(l)) for entry in entries if entry["ok"] for l in entry["lint"]]
    ok = bool(rc == 0 and not general and entries and all(entry["ok"] for entry in entries))
    result = {
        "command": "promtool %s" % command,
        "rc": rc,
        "ok": ok,
        "files": entries,
        "errors": errors,
        "warnings": warnings,
        "general_errors": general,
        "output": output or "",
    }
    if rc not in (0, None) and all(entry["ok"] for entry in entries) and not general:
        result["general_errors"] = ["promtool exited with status %s: %s" % (rc, (output or "").strip() or "no output")]
    result["summary"] = summary(result)
    return result


def count_groups(entry):
    """Fill groups (and rules when promtool did not say) of a rules entry from the file itself."""
    if not HAS_YAML or entry.get("kind") not in ("rules",) or entry["path"] == "-":
        return entry
    try:
        with open(entry["path"]) as handle:
            doc = yaml.safe_load(handle)
    except Exception:  # pylint: disable=broad-except  # promtool already said what is wrong with it
        return entry
    groups = (doc or {}).get("groups") if isinstance(doc, dict) or doc is None else None
    if isinstance(groups, list):
        entry["groups"] = len(groups)
        if entry.get("rules") is None:
            entry["rules"] = sum(len(g.get("rules") or []) for g in groups if isinstance(g, dict))
    elif doc is None:
        entry["groups"] = 0
    return entry


# --- text -----------------------------------------------------------------------------------------

def describe_lint(finding):
    if finding.get("metric") is not None:
        labels = ", ".join("%s=%s" % kv for kv in sorted(finding["labels"].items()))
        return "duplicate rule %s%s" % (finding["metric"], "{%s}" % labels if labels else "")
    return finding.get("message", "lint")


def _alerts_text(alerts):
    if not alerts:
        return "none"
    return "; ".join("{%s}" % ", ".join('%s="%s"' % kv for kv in sorted(a["labels"].items())
                                        if kv[0] != "alertname") for a in alerts)


def describe_failure(failure):
    """One line for a failed rule unit test."""
    where = 'test group "%s", ' % failure["test_group"] if failure.get("test_group") else ""
    kind = failure.get("kind")
    if kind == "alert":
        exp, got = failure["expected"], failure["got"]
        text = "%salert %s at %s: expected %d firing (%s), got %d (%s)" % (
            where, failure["alertname"], failure["eval_time"], len(exp), _alerts_text(exp), len(got), _alerts_text(got))
        if [a["labels"] for a in exp] == [a["labels"] for a in got] and exp != got:
            text += ": the annotations differ (expected %s, got %s)" % (
                [a["annotations"] for a in exp], [a["annotations"] for a in got])
        return text
    if kind == "expression":
        if failure.get("error"):
            return "%sexpression %s at %s: %s" % (where, failure["expr"], failure["eval_time"], failure["error"])
        return "%sexpression %s at %s: expected %s, got %s" % (
            where, failure["expr"], failure["eval_time"], failure.get("expected"), failure.get("got"))
    if kind == "rule evaluation":
        return "%srule %s failed to evaluate at %s: %s" % (where, failure["rule"], failure["eval_time"], failure["error"])
    return where + " ".join(failure["message"].split())


def _position(error):
    if error.get("line") is None:
        return error["file"]
    if error.get("column") is None:
        return "%s:%d" % (error["file"], error["line"])
    return "%s:%d:%d" % (error["file"], error["line"], error["column"])


def describe_error(error):
    rule = ""
    if error.get("rule") is not None or error.get("group") is not None:
        rule = 'group "%s", rule %s "%s": ' % (error.get("group"), error.get("rule_index"), error.get("rule"))
    via = " (named in %s)" % error["referenced_by"] if error.get("referenced_by") else ""
    return "%s%s: %s%s" % (_position(error), via, rule, error["message"])


def summary(result):
    """Readable text: the subcommand, how many files failed, then one line per problem."""
    entries = result["files"]
    failed = [e for e in entries if not e["ok"]]
    what = result["command"]
    if result["ok"]:
        parts = []
        for e in entries:
            if e["kind"] == "rules" and e.get("rules") is not None:
                groups = "" if e.get("groups") is None else "%d groups, " % e["groups"]
                parts.append("%s (%s%d rules)" % (e["path"], groups, e["rules"]))
            else:
                parts.append(e["path"])
        text = "%s: %d file%s passed: %s" % (what, len(entries), "" if len(entries) == 1 else "s", ", ".join(parts))
        if result["warnings"]:
            text += "\nwarnings:\n" + "\n".join(result["warnings"])
        return text
    lines = []
    for e in failed:
        lines.extend(describe_error(err) for err in e["errors"])
        lines.extend("%s: %s" % (e["path"], describe_failure(f)) for f in e["failures"])
        if e["lint"] and not e["errors"]:
            lines.extend("%s: lint: %s" % (e["path"], describe_lint(l)) for l in e["lint"])
        if not e["errors"] and not e["failures"] and not e["lint"]:
            lines.append("%s: failed (promtool gave no reason)" % e["path"])
    lines.extend(result.get("general_errors") or [])
    head = "%s: %d of %d file%s failed" % (what, len(failed), len(entries), "" if len(entries) == 1 else "s")
    if not entries:
        head = "%s failed" % what
    if result["warnings"]:
        lines += ["warnings:"] + result["warnings"]
    return "\n".join([head] + lines)


# --- the whole check ------------------------------------------------------------------------------

def check(command, files, promtool=None, syntax_only=False, lint=None, lint_fatal=False, run=None, timeout=120,
          runner=None):
    """Run ``promtool <command>`` on files (glob patterns expanded) and return the result.

    runner(argv, timeout) -> (rc, merged output); run_merged by default. Raises PromtoolError when
    promtool cannot be run at all; a file that does not exist is a failed file in the result.
    """
    if not isinstance(files, (list, tuple)) or not files:
        raise PromtoolError("promtool %s: give at least one file" % command)
    binary = find_promtool(promtool)
    paths, problems = expand(files)
    argv = build_argv(binary, command, paths, syntax_only, lint, lint_fatal, run)
    if paths:
        rc, output = (runner or run_merged)(argv, timeout)
        result = parse(command, paths, rc, output, lint_fatal)
    else:
        result = _result(command, None, "", [], [])
    for path, problem in problems:
        entry = _entry(path, KINDS[command])
        entry["ok"] = False
        entry["errors"].append({"file": path, "line": None, "column": None, "message": problem})
        result["files"].append(entry)
        result["errors"].append(entry["errors"][0])
    for entry in result["files"]:
        count_groups(entry)
    result["argv"] = argv
    result["ok"] = bool(result["ok"] and not problems)
    result["summary"] = summary(result)
    return result


# --- a promtool command line someone else ran (validate commands) --------------------------------

def parse_argv(argv):
    """A promtool command line -> (command, files, {"lint_fatal": bool}), or None when it is not a
    promtool check config/rules/web-config or test rules call (for example an amtool command)."""
    if not argv or os.path.basename(str(argv[0])) != "promtool":
        return None
    words, files, options = [], [], {"lint_fatal": False}
    for part in argv[1:]:
        part = str(part)
        if part.startswith("-"):
            options["lint_fatal"] = options["lint_fatal"] or part == "--lint-fatal"
        elif len(words) < 2:
            words.append(part)
        else:
            files.append(part)
    command = " ".join(words)
    if command not in COMMANDS or not files:
        return None
    return command, files, options


def result_of(argv, rc, output):
    """The result (see parse) of a promtool call made elsewhere, with stdout and stderr merged in
    ``output``: service_setup's validate step (servicesetup.validation_failure) uses it to name file,
    line and rule when a role's new configuration or rules fail. None when argv is not a promtool check (the caller keeps the tool's text)."""
    parsed = parse_argv(argv)
    if parsed is None:
        return None
    command, files, options = parsed
    result = parse(command, files, rc, output, options["lint_fatal"])
    result["argv"] = [str(a) for a in argv]
    return result


# --- command line (for validate commands) ---------------------------------------------------------

USAGE = """usage: promtoolcheck.py [--promtool PATH] [--json] [--syntax-only] [--lint all|duplicate-rules|none]
                        [--lint-fatal] [--run REGEX]... [--timeout SECONDS] COMMAND FILE...
COMMAND: check config | check rules | check web-config | test rules
Runs promtool and prints which file failed where (--json: the structured result). Exit status:
0 every file passed, 1 a file failed, 2 promtool could not be run or the arguments are wrong.
"""


def main(argv=None, out=None):
    out = out or sys.stdout
    args = list(sys.argv[1:] if argv is None else argv)
    opts = {"promtool": None, "json": False, "syntax_only": False, "lint": None, "lint_fatal": False, "run": [],
            "timeout": 120}
    try:
        while args and args[0].startswith("--"):
            flag = args.pop(0)
            name, eq, value = flag[2:].partition("=")
            if name in ("promtool", "lint", "run", "timeout") and not eq:
                if not args:
                    raise PromtoolError("%s needs a value" % flag)
                value = args.pop(0)
            if name == "promtool":
                opts["promtool"] = value
            elif name == "json":
                opts["json"] = True
            elif name == "syntax-only":
                opts["syntax_only"] = True
            elif name == "lint":
                opts["lint"] = value
            elif name == "lint-fatal":
                opts["lint_fatal"] = True
            elif name == "run":
                opts["run"].append(value)
            elif name == "timeout":
                opts["timeout"] = int(value)
            elif name == "help":
                out.write(USAGE)
                return 0
            else:
                raise PromtoolError("unknown option %s" % flag)
        command = " ".join(args[:2])
        if command not in COMMANDS or len(args) < 3:
            raise PromtoolError("give a command (%s) and at least one file" % ", ".join(sorted(COMMANDS)))
    except (PromtoolError, ValueError) as exc:
        out.write("promtoolcheck: %s\n%s" % (exc, USAGE))
        return 2
    try:
        result = check(command, args[2:], promtool=opts["promtool"], syntax_only=opts["syntax_only"], lint=opts["lint"],
                       lint_fatal=opts["lint_fatal"], run=opts["run"], timeout=opts["timeout"])
    except PromtoolError as exc:
        out.write("promtoolcheck: %s\n" % exc)
        return 2
    if opts["json"]:
        out.write(json.dumps(result, indent=1, sort_keys=True) + "\n")
    else:
        out.write(result["summary"] + "\n")
    return 0 if result["ok"] else 1


if __name__ == "__main__":
    # Run as the validate command on the host (python3 promtoolcheck.py ...), not as a module: its
    # exit status is main()'s (0 accepted, 1 refused, 2 could not check).
    raise SystemExit(main())
