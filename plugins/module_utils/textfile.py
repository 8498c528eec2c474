# -*- coding: utf-8 -*-
# Copyright: fleetwatch engineers
# SPDX-License-Identifier: Apache-2.0
"""Metrics for node_exporter's textfile collector: checked, rendered in the text exposition format
and written atomically.

node_exporter reads every ``*.prom`` file of its textfile directory at each scrape. A file it reads
while it is being written would give half the metrics (or a parse error that drops all of them), so
the text goes to a temporary file in the same directory (a name without ``.prom``, which the
collector ignores), is flushed to disk and renamed over the ``.prom`` file: a reader sees the old
file or the new one, never a part.

Samples are identified by metric name and label set. In merge mode, the samples already in the file
are kept unless the run gives a sample with the same name and labels (it replaces that one): a
backup run for one component updates that component's lines and keeps the lines of the others. A
run without merge writes exactly the samples it is given (lines of components that are gone
disappear). The rendered text is sorted (families by name, samples by labels) so that the same
samples always give the same file, whatever the order they came in.

Label values are escaped as the format requires (backslash, double quote, line feed); ``$`` and
every other character have no meaning in the format and are written as they are.
"""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

import math
import os
import re
import tempfile

METRIC_NAME_RE = re.compile(r"^[a-zA-Z_:][a-zA-Z0-9_:]*$")
LABEL_NAME_RE = re.compile(r"^[a-zA-Z_][a-zA-Z0-9_]*$")
# The file's base name: no path, no hidden file, the collector's own suffix added by us.
FILE_NAME_RE = re.compile(r"^[A-Za-z0-9_][A-Za-z0-9_.-]*$")
TYPES = ("gauge", "counter")
MODE = 0o644


class TextfileError(ValueError):
    pass


# --- input -----------------------------------------------------------------------------------------

def check_name(name):
    """The file base name (``.prom`` is added); raises TextfileError."""
    if not isinstance(name, str) or not FILE_NAME_RE.match(name) or name.endswith(".prom") or len(name) > 200:
        raise TextfileError("name: %r is not a file base name (letters, digits, '_', '.', '-', not starting with '.' "
                            "or '-', without the .prom suffix, which is added)" % (name,))
    return name


def path_of(directory, name):
    if not isinstance(directory, str) or not directory.startswith("/"):
        raise TextfileError("directory: %r is not an absolute path" % (directory,))
    return os.path.join(directory, check_name(name) + ".prom")


def number(value, where):
    """A sample value as float: numbers, numeric strings, NaN/+Inf/-Inf, booleans as 1/0."""
    if isinstance(value, bool):
        return 1.0 if value else 0.0
    if isinstance(value, (int, float)):
        return float(value)
    if isinstance(value, str):
        text = value.strip()
        special = {"nan": float("nan"), "+inf": float("inf"), "inf": float("inf"), "-inf": float("-inf")}
        if text.lower() in special:
            return special[text.lower()]
        try:
            return float(text)
        except ValueError:
            pass
    raise TextfileError("%s: value %r is not a number" % (where, value))


def check_labels(labels, where):
    if labels is None:
        return {}
    if not isinstance(labels, dict):
        raise TextfileError("%s: labels must be a mapping of label name to value, not %r" % (where, labels))
    out = {}
    for key, value in labels.items():
        if not isinstance(key, str) or not LABEL_NAME_RE.match(key) or key.startswith("__"):
            raise TextfileError("%s: %r is not a label name ([a-zA-Z_][a-zA-Z0-9_]*, not starting with '__')" % (where, key))
        if value is None or isinstance(value, (dict, list)):
            raise TextfileError("%s: label %s has the value %r; give a string" % (where, key, value))
        if isinstance(value, bool):
            value = "true" if value else "false"
        out[key] = str(value)
    return out


def check_metrics(metrics):
    """The metrics option checked: a list of samples {name, help, type, value, labels}.

    Samples of one name form a family: they must agree on help and type (a sample may leave them out).
    The same name and label set twice is an error. Raises TextfileError naming the entry."""
    if not isinstance(metrics, list):
        raise TextfileError("metrics must be a list of {name, help, type, value, labels}, not %r" % (metrics,))
    families = {}
    seen = set()
    samples = []
    for index, entry in enumerate(metrics):
        where = "metrics[%d]" % index
        if not isinstance(entry, dict):
            raise TextfileError("%s: %r is not a mapping with name and value" % (where, entry))
        unknown = sorted(set(entry) - set(("name", "help", "type", "value", "labels")))
        if unknown:
            raise TextfileError("%s: unknown key(s) %s (known: name, help, type, value, labels)" % (where, ", ".join(map(str, unknown))))
        name = entry.get("name")
        if not isinstance(name, str) or not METRIC_NAME_RE.match(name):
            raise TextfileError("%s: %r is not a metric name ([a-zA-Z_:][a-zA-Z0-9_:]*)" % (where, name))
        where = "metrics[%d] (%s)" % (index, name)
        if "value" not in entry:
            raise TextfileError("%s: no value" % where)
        value = number(entry.get("value"), where)
        kind = entry.get("type")
        if kind is not None and kind not in TYPES:
            raise TextfileError("%s: type %r is not one of %s" % (where, kind, ", ".join(TYPES)))
        if kind == "counter" and value < 0:
            raise TextfileError("%s: a counter cannot be negative (%s)" % (where, entry.get("value")))
        help_text = entry.get("help")
        if help_text is not None and not isinstance(help_text, str):
            raise TextfileError("%s: help must be a string, not %r" % (where, help_text))
        labels = check_labels(entry.get("labels"), where)
        family = families.setdefault(name, {"help": None, "type": None})
        for key, given in (("help", help_text), ("type", kind)):
            if given is None:
                continue
            if family[key] is not None and family[key] != given:
                raise TextfileError("%s: %s %r differs from an earlier sample's %r" % (where, key, given, family[key]))
            family[key] = given
        identity = (name, tuple(sorted(labels.items())))
        if identity in seen:
            raise TextfileError("%s: the same metric and labels %s are given twice" % (where, render_labels(labels) or "{}"))
        seen.add(identity)
        samples.append({"name": name, "labels": labels, "value": value})
    return families, samples


# --- the exposition format --------------------------------------------------------------------------

def escape_label_value(value):
    return value.replace("\\", "\\\\").replace("\"", "\\\"").replace("\n", "\\n")


def escape_help(text):
    return text.replace("\\", "\\\\").replace("\n", "\\n")


def render_labels(labels):
    if not labels:
        return ""
    return "{" + ",".join('%s="%s"' % (k, escape_label_value(v)) for k, v in sorted(labels.items())) + "}"


def render_value(value):
    if math.isnan(value):
        return "NaN"
    if math.isinf(value):
        return "+Inf" if value > 0 else "-Inf"
    if value == int(value) and abs(value) < 1e15:
        return str(int(value))
    return repr(value)


def render(families, samples):
    """The exposition text: per family (sorted by name) its HELP, TYPE and samples (sorted by labels)."""
    by_name = {}
    for sample in samples:
        by_name.setdefault(sample["name"], []).append(sample)
    lines = []
    for name in sorted(by_name):
        family = families.get(name) or {}
        if family.get("help") is not None:
            lines.append("# HELP %s %s" % (name, escape_help(family["help"])))
        if family.get("type") is not None:
            lines.append("# TYPE %s %s" % (name, family["type"]))
        for sample in sorted(by_name[name], key=lambda s: sorted(s["labels"].items())):
            lines.append("%s%s %s" % (name, render_labels(sample["labels"]), render_value(sample["value"])))
    return "".join(line + "\n" for line in lines)


def _unescape(text, where):
    out = []
    i = 0
    while i < len(text):
        char = text[i]
        if char == "\\":
            nxt = text[i + 1:i + 2]
            if nxt not in ("\\", "\"", "n"):
                raise TextfileError("%s: invalid escape \\%s" % (where, nxt))
            out.append("\n" if nxt == "n" else nxt)
            i += 2
            continue
        out.append(char)
        i += 1
    return "".join(out)


SAMPLE_RE = re.compile(r"^([a-zA-Z_:][a-zA-Z0-9_:]*)(\{(.*)\})?\s+(\S+)(\s+-?\d+)?\s*$")
LABEL_RE = re.compile(r'\s*([a-zA-Z_][a-zA-Z0-9_]*)\s*=\s*"((?:[^"\\]|\\.)*)"\s*(,|$)')


def parse(text, where="file"):
    """(families, samples) of an exposition text (what render() writes, and hand-written files of the
    same format); raises TextfileError naming the line."""
    families = {}
    samples = []
    for number_, line in enumerate(text.splitlines(), 1):
        here = "%s line %d" % (where, number_)
        if not line.strip():
            continue
        if line.startswith("#"):
            parts = line.split(None, 3)
            if len(parts) >= 3 and parts[1] in ("HELP", "TYPE"):
                family = families.setdefault(parts[2], {"help": None, "type": None})
                rest = parts[3] if len(parts) > 3 else ""
                if parts[1] == "HELP":
                    family["help"] = _unescape(rest, here)
                else:
                    family["type"] = rest.strip()
            continue
        match = SAMPLE_RE.match(line)
        if not match:
            raise TextfileError("%s: not a sample line: %r" % (here, line))
        labels = {}
        body = match.group(3) or ""
        pos = 0
        while pos < len(body):
            lm = LABEL_RE.match(body, pos)
            if not lm or lm.end() == pos:
                raise TextfileError("%s: cannot read the labels of %r" % (here, line))
            labels[lm.group(1)] = _unescape(lm.group(2), here)
            pos = lm.end()
        samples.append({"name": match.group(1), "labels": labels, "value": number(match.group(4), here)})
    return families, samples


def merge(old, new):
    """old's samples whose (name, labels) the new ones do not give, plus the new ones; help and type
    from the new run where it gives them."""
    old_families, old_samples = old
    new_families, new_samples = new
    given = set((s["name"], tuple(sorted(s["labels"].items()))) for s in new_samples)
    samples = [s for s in old_samples if (s["name"], tuple(sorted(s["labels"].items()))) not in given] + list(new_samples)
    families = {}
    for name in set(s["name"] for s in samples):
        old_f = old_families.get(name) or {}
        new_f = new_families.get(name) or {}
        families[name] = {"help": new_f.get("help") if new_f.get("help") is not None else old_f.get("help"),
                          "type": new_f.get("type") if new_f.get("type") is not None else old_f.get("type")}
    return families, samples


# --- the file --------------------------------------------------------------------------------------

def read(path):
    """The file's text, or None when it does not exist."""
    try:
        with open(path, "r", encoding="utf-8") as handle:
            return handle.read()
    except (IOError, OSError) as exc:
        if getattr(exc, "errno", None) == 2:
            return None
        raise TextfileError("cannot read %s: %s" % (path, exc))


def write_atomic(path, text, mode=MODE):
    """text into path through a temporary file of the same directory (not named *.prom), flushed and
    renamed over it; the temporary file is removed on any failure."""
    directory = os.path.dirname(path)
    fd, tmp = tempfile.mkstemp(dir=directory, prefix="." + os.path.basename(path) + ".", suffix=".tmp")
    try:
        with os.fdopen(fd, "w", encoding="utf-8") as handle:
            handle.write(text)
            handle.flush()
            os.fsync(handle.fileno())
        os.chmod(tmp, mode)
        os.rename(tmp, path)
    except BaseException:
        try:
            os.unlink(tmp)
        except OSError:
            pass
        raise


def apply(directory, name, metrics, merge_mode=False, state="present", check_mode=False):
    """Make the file hold the metrics (state present) or be gone (state absent).

    Returns {changed, path, content, samples, families}; raises TextfileError."""
    path = path_of(directory, name)
    if not os.path.isdir(directory):
        raise TextfileError("directory %s does not exist (is node_exporter's textfile collector set up on this host? "
                            "node_exporter_textfile_dir)" % directory)
    current = read(path)
    if state == "absent":
        if current is not None and not check_mode:
            try:
                os.unlink(path)
            except OSError as exc:
                raise TextfileError("cannot remove %s: %s" % (path, exc))
        return {"changed": current is not None, "path": path, "content": "", "samples": 0, "families": []}
    new = check_metrics(metrics or [])
    if merge_mode and current is not None:
        new = merge(parse(current, path), new)
    text = render(*new)
    try:
        mode_ok = current is None or (os.stat(path).st_mode & 0o7777) == MODE
    except OSError:
        mode_ok = False
    changed = current != text or not mode_ok
    if changed and not check_mode:
        try:
            write_atomic(path, text)
        except (IOError, OSError) as exc:
            raise TextfileError("cannot write %s: %s" % (path, exc))
    return {"changed": changed, "path": path, "content": text, "samples": len(new[1]),
            "families": sorted(set(s["name"] for s in new[1]))}
