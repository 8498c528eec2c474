# SPDX-License-Identifier: Apache-2.0
"""module_utils/textfile.py and the textfile_metrics module: metrics checked and rendered in the
text exposition format (read back by the real promtool's parser where it is installed), label
values with quotes, backslashes, line feeds and `$`, bad input refused, the atomic write (a
failure midway leaves the old file and no temporary file), merge mode, check mode, idempotence."""
import json
import os
import stat
import subprocess
import sys

import pytest

from ansible_collections.fleetwatch.observability.plugins.module_utils import textfile as tf

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
import rulebundle  # noqa: E402  pylint: disable=wrong-import-position

ROOT = rulebundle.ROOT
PROMTOOL = rulebundle.find_tool("promtool", "PROMTOOL")
needs_promtool = pytest.mark.skipif(PROMTOOL is None, reason="promtool not found: `make tools` puts it in .cache/tools")

HOSTILE = 'pw "q" \\ back\nline $HOME ${x} \u00e9'

VERIFY = [
    {"name": "fleetwatch_verify_failed_checks", "help": "Checks that failed.", "type": "gauge", "value": 2},
    {"name": "fleetwatch_verify_checks", "help": "Checks run.", "type": "gauge", "value": 12},
    {"name": "fleetwatch_verify_duration_seconds", "type": "gauge", "value": 3.25},
]


def backup(component, value, help_text="1 when the last backup succeeded."):
    return {"name": "fleetwatch_backup_success", "help": help_text, "type": "gauge", "value": value,
            "labels": {"component": component}}


# --- rendering -------------------------------------------------------------------------------------

def test_rendered_sorted_with_help_and_type_whatever_the_order():
    text = tf.render(*tf.check_metrics(VERIFY))
    assert text == (
        "# HELP fleetwatch_verify_checks Checks run.\n"
        "# TYPE fleetwatch_verify_checks gauge\n"
        "fleetwatch_verify_checks 12\n"
        "# TYPE fleetwatch_verify_duration_seconds gauge\n"
        "fleetwatch_verify_duration_seconds 3.25\n"
        "# HELP fleetwatch_verify_failed_checks Checks that failed.\n"
        "# TYPE fleetwatch_verify_failed_checks gauge\n"
        "fleetwatch_verify_failed_checks 2\n")
    assert tf.render(*tf.check_metrics(list(reversed(VERIFY)))) == text


def test_label_values_escaped_and_read_back_unchanged():
    families, samples = tf.check_metrics([{"name": "m", "value": 1, "labels": {"b": HOSTILE, "a": "plain"}}])
    text = tf.render(families, samples)
    assert text == 'm{a="plain",b="pw \\"q\\" \\\\ back\\nline $HOME ${x} \u00e9"} 1\n'
    assert tf.parse(text)[1] == samples


def test_help_escaped_and_values_special():
    families, samples = tf.check_metrics([
        {"name": "m", "help": "a\\b\nc", "value": "NaN", "labels": {"k": "1"}},
        {"name": "m", "value": "+Inf", "labels": {"k": "2"}},
        {"name": "m", "value": float("-inf"), "labels": {"k": "3"}},
        {"name": "n", "value": True}, {"name": "o", "value": " 1e3 "}, {"name": "p", "value": 1700000000.123},
        {"name": "q", "value": 2 ** 70}])
    text = tf.render(families, samples)
    assert text.splitlines() == ['# HELP m a\\\\b\\nc', 'm{k="1"} NaN', 'm{k="2"} +Inf', 'm{k="3"} -Inf', "n 1", "o 1000",
                                 "p 1700000000.123", "q 1.1805916207174113e+21"]
    back_families, back = tf.parse(text)
    assert back_families["m"]["help"] == "a\\b\nc"
    assert [s["value"] for s in back][1:] == [float("inf"), float("-inf"), 1.0, 1000.0, 1700000000.123, 2.0 ** 70]


@needs_promtool
def test_the_real_parser_reads_the_text():
    metrics = VERIFY + [backup("prometheus", 1), backup(HOSTILE, 0),
                        {"name": "fleetwatch_backup_size_bytes", "type": "gauge", "value": 12345678901,
                         "labels": {"component": "alertmanager", "host": "db1.example.com"}}]
    text = tf.render(*tf.check_metrics(metrics))
    proc = subprocess.run([PROMTOOL, "check", "metrics"], input=text, stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
                          universal_newlines=True, timeout=60, check=False)
    # 0: clean, 3: lint findings only; 1 is a parse error
    assert proc.returncode in (0, 3) and "error" not in proc.stdout, proc.stdout
    broken = text.replace('\\"q\\"', '\\$q')
    proc = subprocess.run([PROMTOOL, "check", "metrics"], input=broken, stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
                          universal_newlines=True, timeout=60, check=False)
    assert proc.returncode == 1 and "invalid escape" in proc.stdout


# --- bad input -------------------------------------------------------------------------------------

@pytest.mark.parametrize("metrics,message", [
    ("x", "must be a list"),
    ([1], "is not a mapping"),
    ([{"name": "1abc", "value": 1}], "'1abc' is not a metric name"),
    ([{"name": "a-b", "value": 1}], "is not a metric name"),
    ([{"name": None, "value": 1}], "None is not a metric name"),
    ([{"name": "m"}], r"metrics\[0\] \(m\): no value"),
    ([{"name": "m", "value": "ten"}], "value 'ten' is not a number"),
    ([{"name": "m", "value": None}], "value None is not a number"),
    ([{"name": "m", "value": [1]}], "is not a number"),
    ([{"name": "m", "value": 1, "type": "histogram"}], "type 'histogram' is not one of gauge, counter"),
    ([{"name": "m", "value": -1, "type": "counter"}], "a counter cannot be negative"),
    ([{"name": "m", "value": 1, "labels": {"a.b": "x"}}], "'a.b' is not a label name"),
    ([{"name": "m", "value": 1, "labels": {"__name__": "x"}}], "'__name__' is not a label name"),
    ([{"name": "m", "value": 1, "labels": {"a": None}}], "label a has the value None"),
    ([{"name": "m", "value": 1, "labels": {"a": {"b": 1}}}], "label a has the value"),
    ([{"name": "m", "value": 1, "labels": ["a"]}], "labels must be a mapping"),
    ([{"name": "m", "value": 1, "help": 5}], "help must be a string"),
    ([{"name": "m", "value": 1, "colour": "red"}], "unknown key"),
    ([{"name": "m", "value": 1, "type": "gauge"}, {"name": "m", "value": 2, "type": "counter", "labels": {"a": "1"}}],
     r"metrics\[1\] \(m\): type 'counter' differs"),
    ([{"name": "m", "value": 1, "help": "x"}, {"name": "m", "value": 2, "help": "y", "labels": {"a": "1"}}], "help 'y' differs"),
    ([{"name": "m", "value": 1, "labels": {"a": "1"}}, {"name": "m", "value": 2, "labels": {"a": "1"}}], "given twice"),
])
def test_bad_metrics_refused_naming_the_entry(metrics, message):
    with pytest.raises(tf.TextfileError, match=message):
        tf.check_metrics(metrics)


@pytest.mark.parametrize("name", ["", ".hidden", "-x", "a/b", "../x", "x.prom", "a b", None, 5, "x" * 201])
def test_bad_file_names_refused(name):
    with pytest.raises(tf.TextfileError, match="name"):
        tf.path_of("/tmp", name)


def test_a_relative_directory_refused():
    with pytest.raises(tf.TextfileError, match="not an absolute path"):
        tf.path_of("textfile", "x")


def test_labels_of_other_types_become_strings():
    samples = tf.check_metrics([{"name": "m", "value": 1, "labels": {"port": 9100, "ok": True, "ip": "::1"}}])[1]
    assert samples[0]["labels"] == {"port": "9100", "ok": "true", "ip": "::1"}


@pytest.mark.parametrize("text,message", [
    ("m{a=\"1} 1\n", "cannot read the labels|not a sample line"),
    ("m{a=\"\\x\"} 1\n", "invalid escape"),
    ("m one\n", "is not a number"),
    ("just words here\n", "not a sample line"),
])
def test_unreadable_files_refused_naming_the_line(text, message):
    with pytest.raises(tf.TextfileError, match="f line 1: .*(%s)" % message):
        tf.parse(text, "f")


# --- the file --------------------------------------------------------------------------------------

def mode_of(path):
    return stat.S_IMODE(os.stat(path).st_mode)


def test_written_0644_then_unchanged_then_changed(tmp_path):
    os.umask(0o077)
    try:
        out = tf.apply(str(tmp_path), "fleetwatch_verify", VERIFY)
    finally:
        os.umask(0o022)
    path = str(tmp_path / "fleetwatch_verify.prom")
    assert out["changed"] and out["path"] == path and out["samples"] == 3
    assert mode_of(path) == 0o644
    with open(path) as handle:
        assert handle.read() == out["content"]
    assert os.listdir(str(tmp_path)) == ["fleetwatch_verify.prom"]
    assert not tf.apply(str(tmp_path), "fleetwatch_verify", list(reversed(VERIFY)))["changed"]
    os.chmod(path, 0o600)
    assert tf.apply(str(tmp_path), "fleetwatch_verify", VERIFY)["changed"] and mode_of(path) == 0o644
    changed = [dict(m) for m in VERIFY]
    changed[0]["value"] = 0
    assert tf.apply(str(tmp_path), "fleetwatch_verify", changed)["changed"]
    assert "fleetwatch_verify_failed_checks 0\n" in open(path).read()


def test_check_mode_writes_nothing(tmp_path):
    out = tf.apply(str(tmp_path), "x", VERIFY, check_mode=True)
    assert out["changed"] and "fleetwatch_verify_checks 12" in out["content"]
    assert os.listdir(str(tmp_path)) == []
    tf.apply(str(tmp_path), "x", VERIFY)
    out = tf.apply(str(tmp_path), "x", [], check_mode=True)
    assert out["changed"] and out["content"] == "" and "fleetwatch_verify_checks 12" in open(out["path"]).read()
    assert tf.apply(str(tmp_path), "x", None, state="absent", check_mode=True)["changed"]
    assert os.path.exists(out["path"])


def test_absent_removes_the_file(tmp_path):
    tf.apply(str(tmp_path), "x", VERIFY)
    assert tf.apply(str(tmp_path), "x", None, state="absent")["changed"]
    assert os.listdir(str(tmp_path)) == []
    assert not tf.apply(str(tmp_path), "x", None, state="absent")["changed"]


def test_a_missing_directory_is_named(tmp_path):
    with pytest.raises(tf.TextfileError, match="directory %s does not exist" % (tmp_path / "none")):
        tf.apply(str(tmp_path / "none"), "x", VERIFY)


def test_a_write_that_fails_midway_leaves_the_old_file_and_no_temporary(tmp_path, monkeypatch):
    tf.apply(str(tmp_path), "x", VERIFY)
    path = str(tmp_path / "x.prom")
    before = open(path).read()

    def broken_fsync(fd):
        raise OSError(28, "No space left on device")
    monkeypatch.setattr(tf.os, "fsync", broken_fsync)
    with pytest.raises(tf.TextfileError, match="cannot write .*x.prom: .*No space left"):
        tf.apply(str(tmp_path), "x", VERIFY[:1])
    assert open(path).read() == before
    assert os.listdir(str(tmp_path)) == ["x.prom"]


def test_the_temporary_file_is_in_the_same_directory_and_not_read_by_the_collector(tmp_path, monkeypatch):
    seen = []
    real_rename = os.rename

    def spy(src, dst):
        seen.append((src, dst))
        return real_rename(src, dst)
    monkeypatch.setattr(tf.os, "rename", spy)
    tf.apply(str(tmp_path), "x", VERIFY)
    (src, dst), = seen
    assert os.path.dirname(src) == str(tmp_path) and not src.endswith(".prom") and dst == str(tmp_path / "x.prom")
    assert os.path.basename(src).startswith(".")


def test_a_directory_in_the_way_is_named(tmp_path):
    os.mkdir(str(tmp_path / "x.prom"))
    with pytest.raises(tf.TextfileError, match="cannot read .*x.prom"):
        tf.apply(str(tmp_path), "x", VERIFY)
    assert os.listdir(str(tmp_path)) == ["x.prom"]


# --- merge -----------------------------------------------------------------------------------------

def test_merge_replaces_the_given_label_sets_and_keeps_the_others(tmp_path):
    d = str(tmp_path)
    tf.apply(d, "backup", [backup("prometheus", 1), backup("alertmanager", 1),
                           {"name": "fleetwatch_backup_size_bytes", "value": 10, "labels": {"component": "prometheus"}}])
    out = tf.apply(d, "backup", [backup("prometheus", 0)], merge_mode=True)
    assert out["changed"]
    assert out["content"].splitlines() == [
        "fleetwatch_backup_size_bytes{component=\"prometheus\"} 10",
        "# HELP fleetwatch_backup_success 1 when the last backup succeeded.",
        "# TYPE fleetwatch_backup_success gauge",
        "fleetwatch_backup_success{component=\"alertmanager\"} 1",
        "fleetwatch_backup_success{component=\"prometheus\"} 0"]
    assert not tf.apply(d, "backup", [backup("prometheus", 0)], merge_mode=True)["changed"]
    # a new help text wins; without merge the other components' lines are gone
    out = tf.apply(d, "backup", [backup("loki", 1, "new help")], merge_mode=True)
    assert "# HELP fleetwatch_backup_success new help" in out["content"] and out["samples"] == 4
    out = tf.apply(d, "backup", [backup("loki", 1)])
    assert out["samples"] == 1 and "alertmanager" not in open(out["path"]).read()


def test_merge_keeps_hostile_label_values_of_earlier_runs(tmp_path):
    d = str(tmp_path)
    tf.apply(d, "b", [backup(HOSTILE, 1)])
    out = tf.apply(d, "b", [backup("prometheus", 1)], merge_mode=True)
    assert [s["labels"]["component"] for s in tf.parse(out["content"])[1]] == ["prometheus", HOSTILE]


def test_merge_into_a_missing_file_and_an_unreadable_one(tmp_path):
    d = str(tmp_path)
    assert tf.apply(d, "b", [backup("prometheus", 1)], merge_mode=True)["samples"] == 1
    with open(str(tmp_path / "b.prom"), "w") as handle:
        handle.write("not metrics at all\n")
    with pytest.raises(tf.TextfileError, match="b.prom line 1: not a sample line"):
        tf.apply(d, "b", [backup("prometheus", 1)], merge_mode=True)
    assert tf.apply(d, "b", [backup("prometheus", 1)])["changed"]


# --- the module, as Ansible runs it ----------------------------------------------------------------

def module_run(args, check_mode=False):
    params = dict(args, _ansible_check_mode=check_mode)
    env = dict(os.environ, PYTHONPATH=os.path.join(ROOT, ".cache", "collections"))
    proc = subprocess.run([sys.executable, os.path.join(ROOT, "plugins", "modules", "textfile_metrics.py")],
                          input=json.dumps({"ANSIBLE_MODULE_ARGS": params}), stdout=subprocess.PIPE,
                          stderr=subprocess.PIPE, universal_newlines=True, env=env, timeout=60, check=False)
    return json.loads(proc.stdout)


def test_the_module_writes_checks_and_refuses(tmp_path):
    args = {"directory": str(tmp_path), "name": "fleetwatch_verify",
            "metrics": VERIFY + [{"name": "fleetwatch_verify_checks_by", "value": "4", "labels": {"host": HOSTILE}}]}
    out = module_run(args, check_mode=True)
    assert out["changed"] and os.listdir(str(tmp_path)) == []
    out = module_run(args)
    assert out["changed"] and out["path"] == str(tmp_path / "fleetwatch_verify.prom") and out["samples"] == 4
    assert out["families"] == ["fleetwatch_verify_checks", "fleetwatch_verify_checks_by",
                               "fleetwatch_verify_duration_seconds", "fleetwatch_verify_failed_checks"]
    assert mode_of(out["path"]) == 0o644
    assert not module_run(args)["changed"]
    bad = module_run(dict(args, metrics=[{"name": "m", "value": "x"}]))
    assert bad["failed"] and bad["msg"] == "textfile_metrics: metrics[0] (m): value 'x' is not a number"
    bad = module_run(dict(args, metrics=[{"name": "m", "value": 1, "type": "summary"}]))
    assert bad["failed"] and "summary" in bad["msg"]
    bad = module_run(dict(args, name="../etc/passwd"))
    assert bad["failed"] and "is not a file base name" in bad["msg"]
    assert module_run(dict(args, state="absent"))["changed"] and os.listdir(str(tmp_path)) == []
