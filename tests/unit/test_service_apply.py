# SPDX-License-Identifier: Apache-2.0
"""service_setup's change sets (all or nothing, rollback) and service application from live state."""
import json
import os
import stat
import subprocess

import pytest

from ansible_collections.fleetwatch.observability.plugins.module_utils import controlpath
from ansible_collections.fleetwatch.observability.plugins.module_utils import serviceapply as sa
from ansible_collections.fleetwatch.observability.plugins.module_utils import servicesetup as ss

ME = __import__("pwd").getpwuid(os.getuid()).pw_name
MYGROUP = __import__("grp").getgrgid(os.getgid()).gr_name


def run(cmd):
    proc = subprocess.run(cmd, stdout=subprocess.PIPE, stderr=subprocess.PIPE, universal_newlines=True, check=False)
    return proc.returncode, proc.stdout, proc.stderr


def namespaces_work():
    if os.geteuid() != 0:
        return False
    try:
        return run(["unshare", "--mount", "--propagation", "private", "true"])[0] == 0
    except OSError:
        return False


def f(path, content, validate=None, origin=None, mode="0640"):
    out = ss.normalise_file({"path": str(path), "content": content, "owner": ME, "group": MYGROUP, "mode": mode,
                             "validate": validate})
    out["origin"] = origin
    return out


def d(path, purge=None):
    return ss.normalise_dir({"path": str(path), "owner": ME, "group": MYGROUP, "mode": "0750", "purge": purge})


# --- change sets -------------------------------------------------------------------------------

def test_duplicate_paths_are_refused_naming_both_origins(tmp_path):
    files = [f(tmp_path / "rules" / "node.yml", "a", origin="the rule bundle (node.yml.j2)"),
             f(tmp_path / "rules" / "node.yml", "b", origin="prometheus_rule_files (files/node.yml)")]
    with pytest.raises(ss.SetupError, match=r"node.yml is given twice \(the rule bundle \(node.yml.j2\) and "
                                            r"prometheus_rule_files \(files/node.yml\)\)"):
        ss.ChangeSet([], files, run)


def test_a_failed_validation_changes_no_file_of_the_set(tmp_path):
    """A new secret (password) and a new config with a broken part: neither goes live."""
    conf, secret = tmp_path / "app.yml", tmp_path / "password"
    conf.write_text("route: good\n")
    secret.write_text("old-password")
    files = [f(secret, "new-password"), f(conf, "route: broken\n", validate="grep -q good %s")]
    cs = ss.ChangeSet([d(tmp_path)], files, run)
    cs._namespace_works = lambda: False
    with pytest.raises(ss.SetupError, match=r"failed validation"):
        cs.plan().validate()
    assert conf.read_text() == "route: good\n"
    assert secret.read_text() == "old-password"
    assert sorted(os.listdir(str(tmp_path))) == ["app.yml", "password"]  # nothing left aside


@pytest.mark.skipif(not namespaces_work(), reason="needs root and unshare (a private mount namespace)")
def test_validation_sees_the_whole_new_set_at_the_real_paths(tmp_path):
    """The config is checked with the new rule file it reads, not the live one; the host sees none of it."""
    root = tmp_path / "etc"
    (root / "rules").mkdir(parents=True)
    (root / "rules" / "a.yml").write_text("old rule\n")
    (root / "main.yml").write_text("main\n")
    check = "sh -c 'grep -q \"new rule\" %s/rules/a.yml && grep -q main %%s'" % root
    files = [f(root / "rules" / "a.yml", "new rule\n"), f(root / "main.yml", "main\n", validate=check)]
    cs = ss.ChangeSet([d(root), d(root / "rules")], files, run)
    cs.plan().validate()  # passes only when the new rule is seen at its real path
    assert (root / "rules" / "a.yml").read_text() == "old rule\n"  # nothing live changed yet
    cs.commit()
    assert (root / "rules" / "a.yml").read_text() == "new rule\n"


@pytest.mark.skipif(not namespaces_work(), reason="needs root and unshare (a private mount namespace)")
def test_an_unchanged_config_is_checked_again_with_a_purged_file_gone(tmp_path):
    root = tmp_path / "etc"
    (root / "rules").mkdir(parents=True)
    (root / "rules" / "needed.yml").write_text("x\n")
    (root / "main.yml").write_text("main\n")
    check = "test -e %s/rules/needed.yml" % root
    files = [f(root / "main.yml", "main\n", validate=check + " -a -e %s")]
    cs = ss.ChangeSet([d(root), d(root / "rules", purge="*.yml")], files, run).plan()
    assert cs.purged == {str(root / "rules" / "needed.yml"): b"x\n"}
    with pytest.raises(ss.SetupError, match=r"no file was changed: the new set failed validation of .*main.yml \(test\)"):
        cs.validate()
    assert (root / "rules" / "needed.yml").exists()


BROKEN_RULES = """groups:
  - name: node
    rules:
      - alert: Fine
        expr: up == 0
      - alert: Broken
        expr: rate(up[5m]
"""


def _promtool():
    import sys
    sys.path.insert(0, os.path.join(os.path.dirname(__file__), ".."))
    import rulebundle
    return rulebundle.find_tool("promtool", "PROMTOOL")


@pytest.mark.parametrize("namespace", [False, True])
def test_a_rule_file_refused_by_promtool_is_reported_by_the_one_promtool_wrapper(tmp_path, namespace):
    """The role's validate command (promtool check rules) refuses the new rules: the failure names
    file, line, group and rule through module_utils/promtoolcheck, and the live file stays."""
    promtool = _promtool()
    if promtool is None:
        pytest.skip("promtool not found: `make tools` puts it in .cache/tools")
    if namespace and not namespaces_work():
        pytest.skip("needs root and unshare (a private mount namespace)")
    rules = tmp_path / "rules" / "node.yml"
    rules.parent.mkdir()
    rules.write_text("groups: []\n")
    cs = ss.ChangeSet([d(rules.parent)], [f(rules, BROKEN_RULES, validate=promtool + " check rules %s")], run)
    if not namespace:
        cs._namespace_works = lambda: False
    with pytest.raises(ss.SetupError) as caught:
        cs.plan().validate()
    validation = caught.value.validation
    assert validation["command"] == "promtool check rules" and validation["ok"] is False
    [error] = validation["errors"]
    assert error["line"] == 7 and error["group"] == "node" and error["rule"] == "Broken"
    shown = str(rules) + (" (new)" if not namespace else "")
    assert error["file"] == shown
    assert '%s:7:15: group "node", rule 2 "Broken"' % shown in str(caught.value)
    assert rules.read_text() == "groups: []\n"


def test_a_refusal_by_another_tool_keeps_its_own_text(tmp_path):
    conf = tmp_path / "am.yml"
    conf.write_text("ok\n")
    cs = ss.ChangeSet([d(tmp_path)], [f(conf, "bad\n", validate="sh -c 'echo \"bad field\"; exit 1' %s")], run)
    cs._namespace_works = lambda: False
    with pytest.raises(ss.SetupError, match="bad field") as caught:
        cs.plan().validate()
    assert caught.value.validation is None


def test_commit_then_rollback_to_what_was_there(tmp_path):
    a, b = tmp_path / "a", tmp_path / "b"
    a.write_text("old a")
    cs = ss.ChangeSet([d(tmp_path)], [f(a, "new a"), f(b, "new b")], run).plan()
    assert cs.content_changed == [str(a), str(b)] and cs.created == [str(b)]
    cs.commit()
    assert (a.read_text(), b.read_text()) == ("new a", "new b")
    state = tmp_path / "state"
    assert sorted(cs.rollback(str(state), "svc")) == [str(a), str(b)]
    assert a.read_text() == "old a" and not b.exists()


def test_rollback_after_an_interrupted_run_uses_the_last_applied_set(tmp_path):
    """Run 1 applied "v1" and saved it; run 2 wrote "v2" and died; run 3 finds v2 on disk (nothing
    to change) but the service refuses it: the last applied set, v1, comes back."""
    conf, state = tmp_path / "conf", str(tmp_path / "state")
    first = ss.ChangeSet([], [f(conf, "v1", mode="0600")], run).plan()
    first.commit()
    first.save_good(state, "svc")
    good = ss.ChangeSet.good_dir(state, "svc")
    assert stat.S_IMODE(os.stat(state).st_mode) == 0o700
    assert all(stat.S_IMODE(os.stat(os.path.join(good, n)).st_mode) == 0o600 for n in os.listdir(good) if n != "index.json")
    conf.write_text("v2")  # the interrupted run
    third = ss.ChangeSet([], [f(conf, "v2", mode="0600")], run).plan()
    assert third.content_changed == []
    assert third.rollback(state, "svc") == [str(conf)]
    assert conf.read_text() == "v1"
    assert stat.S_IMODE(os.stat(str(conf)).st_mode) == 0o600


def test_symlinked_data_directory_is_followed(tmp_path):
    real = tmp_path / "data" / "prometheus"
    real.mkdir(parents=True)
    os.chmod(str(real), 0o700)
    link = tmp_path / "prometheus"
    link.symlink_to(real)
    assert ss.ensure_directory(d(link)) is True
    assert os.path.islink(str(link)) and stat.S_IMODE(os.stat(str(real)).st_mode) == 0o750
    assert ss.ensure_directory(d(link)) is False
    dangling = tmp_path / "gone"
    dangling.symlink_to(tmp_path / "nowhere")
    with pytest.raises(ss.SetupError, match="symbolic link to .*nowhere, which does not exist"):
        ss.ensure_directory(d(dangling))


@pytest.mark.parametrize("command,tool", [
    ("/usr/local/bin/promtool check rules %s", "promtool check rules"),
    ("/usr/local/bin/promtool check web-config %s", "promtool check web-config"),
    ("/bin/sh -c '/usr/local/bin/amtool check-config %s && /usr/local/bin/amtool config routes test'", "amtool check-config"),
    ("/usr/local/bin/amtool template render --template.glob=%s --template.text=ok", "amtool template render"),
])
def test_validation_messages_name_the_subcommand(command, tool):
    assert ss._tool_of(command) == tool


# --- digests, stamps, decisions ----------------------------------------------------------------

def test_digest_covers_directories_removals_and_planned_contents(tmp_path):
    (tmp_path / "rules").mkdir()
    (tmp_path / "rules" / "a.yml").write_text("a")
    entries = [str(tmp_path / "rules") + "/", str(tmp_path / "main.yml")]
    base = sa.digest(entries)
    assert sa.digest(entries) == base
    (tmp_path / "rules" / "b.yml").write_text("b")
    with_b = sa.digest(entries)
    assert with_b != base
    planned = sa.digest(entries, overrides={str(tmp_path / "rules" / "b.yml"): None})
    assert planned == base  # b.yml purged by the planned change
    assert sa.digest(entries, extra="/opt/x/1.0/x") != sa.digest(entries, extra="/opt/x/1.1/x")


def test_stamp_is_written_atomically_and_root_only(tmp_path):
    state = str(tmp_path / "state")
    assert sa.read_stamp(state, "prometheus") is None
    sa.write_stamp(state, "prometheus", {"services": {"prometheus.service": {"restart": "r", "reload": "l"}}})
    assert sa.read_stamp(state, "prometheus")["services"]["prometheus.service"]["reload"] == "l"
    assert stat.S_IMODE(os.stat(sa.stamp_path(state, "prometheus")).st_mode) == 0o600
    open(sa.stamp_path(state, "prometheus"), "w").write("{half a file")
    assert sa.read_stamp(state, "prometheus") is None  # a damaged record means: not known to be applied


ACTIVE = {"ActiveState": "active", "SubState": "running", "MainPID": "42", "LoadState": "loaded"}
SVC = {"name": "prometheus.service", "reload": "signal"}


@pytest.mark.parametrize("show,stamp,exe,unit_changed,expected", [
    ({"ActiveState": "inactive", "LoadState": "loaded"}, {"restart": "R", "reload": "L"}, None, False, "start"),
    ({"ActiveState": "activating", "SubState": "auto-restart", "LoadState": "loaded"}, {"restart": "R", "reload": "L"}, None,
     False, "start"),
    (ACTIVE, {"restart": "R", "reload": "L"}, "/opt/fleetwatch/prometheus/2.53.3/prometheus", False, "restart"),
    (ACTIVE, {"restart": "R", "reload": "L"}, "/opt/fleetwatch/prometheus/3.5.3/prometheus (deleted)", False, "restart"),
    (dict(ACTIVE, NeedDaemonReload="yes"), {"restart": "R", "reload": "L"}, None, False, "restart"),
    (ACTIVE, {"restart": "R", "reload": "L"}, None, True, "restart"),
    (ACTIVE, {"restart": "old", "reload": "L"}, None, False, "restart"),
    (ACTIVE, {"restart": "R", "reload": "old"}, None, False, "reload"),
    (ACTIVE, {"restart": "R", "reload": "L"}, "/opt/fleetwatch/prometheus/3.5.3/prometheus", False, None),
    (ACTIVE, None, None, False, "restart"),
])
def test_decide_from_live_state(show, stamp, exe, unit_changed, expected):
    action, reason = sa.decide(SVC, show, stamp, "R", "L", exe, "/opt/fleetwatch/prometheus/3.5.3/prometheus",
                               unit_changed)
    assert action == expected
    assert (reason is None) == (expected is None)


def test_decide_without_a_stamp_trusts_a_process_started_after_its_files():
    """A host set up by an earlier version (no stamp): no restart when the process is newer than its
    unit and binary; the configuration is reloaded once to be sure."""
    assert sa.decide(SVC, ACTIVE, None, "R", "L", None, None, False, started_at=2000.0, restart_mtime=1000.0)[0] == "reload"
    assert sa.decide(SVC, ACTIVE, None, "R", "L", None, None, False, started_at=1000.0, restart_mtime=2000.0)[0] == "restart"


@pytest.mark.parametrize("how,expected", [("signal", "reload"), ("restart", "restart"), ("none", None)])
def test_decide_config_change_by_reload_kind(how, expected):
    assert sa.decide(dict(SVC, reload=how), ACTIVE, {"restart": "R", "reload": "old"}, "R", "L", None, None, False)[0] == expected


def test_decide_refuses_a_missing_unit():
    with pytest.raises(sa.ApplyError, match="no unit"):
        sa.decide(SVC, {"LoadState": "not-found", "ActiveState": "inactive"}, None, "R", "L", None, None, False)


# --- applying, with a fake systemd and a fake service ------------------------------------------

class FakeClock(object):
    def __init__(self):
        self.now = 1000.0

    def __call__(self):
        return self.now

    def sleep(self, seconds):
        self.now += seconds


class FakeSystemd(object):
    def __init__(self, shows, journal="level=error msg=\"Error loading config\" err=\"bad\""):
        self.shows = list(shows)
        self.calls = []
        self.log = journal

    def show(self, unit):
        return self.shows.pop(0) if len(self.shows) > 1 else self.shows[0]

    def call(self, *args):
        self.calls.append(args)

    def journal(self, unit, since, lines=15):
        return self.log


class FakeControl(object):
    def __init__(self, answers):
        self.answers = list(answers)
        self.paths = []

    def __call__(self, *args):
        return self

    def get(self, path):
        self.paths.append(path)
        answer = self.answers.pop(0) if len(self.answers) > 1 else self.answers[0]
        return answer(path) if callable(answer) else answer


CONTROL_SVC = {"name": "prometheus.service", "ready_timeout": 30,
               "control": {"url": "http://127.0.0.1:9090/prom", "ready_path": "/-/ready", "metrics_path": "/metrics"},
               "reload_metric": "prometheus_config_last_reload"}


def test_restart_waits_until_ready():
    clock = FakeClock()
    control = FakeControl([(None, "connection refused"), (503, "HTTP 503"), (200, "Ready")])
    systemd = FakeSystemd([ACTIVE])
    sa.Applier(systemd, control, clock, clock.sleep).run(CONTROL_SVC, "restart")
    assert systemd.calls == [("restart", "prometheus.service")]
    assert control.paths == ["/-/ready"] * 3


def test_a_crash_loop_fails_at_once_with_the_program_reason():
    """Bad flags (node_exporter_listen_address: 0.0.0.0:91OO): no 60 s of 'Connection refused'."""
    clock = FakeClock()
    systemd = FakeSystemd([dict(ACTIVE, MainPID="7"), {"ActiveState": "activating", "SubState": "auto-restart", "MainPID": "0"}],
                          journal='listen tcp: address 91OO: unknown port')
    with pytest.raises(sa.ApplyError, match="stopped after it was started .*unknown port"):
        sa.Applier(systemd, FakeControl([(None, "connection refused")]), clock, clock.sleep).run(CONTROL_SVC, "restart")
    assert clock.now - 1000.0 < 5


def test_not_ready_in_time_fails_with_the_last_answer():
    clock = FakeClock()
    with pytest.raises(sa.ApplyError, match=r"not ready within 30s \(HTTP 503 on /-/ready\)"):
        sa.Applier(FakeSystemd([ACTIVE]), FakeControl([(503, "")]), clock, clock.sleep).run(CONTROL_SVC, "restart")


def metrics(ok, when):
    return (200, "# HELP x\nprometheus_config_last_reload_successful %s\n"
                 "prometheus_config_last_reload_success_timestamp_seconds %s\n" % (ok, when))


def test_reload_succeeds_when_the_program_says_so():
    clock = FakeClock()
    control = FakeControl([metrics(1, 900), metrics(1, 900), metrics(1, 1000)])
    systemd = FakeSystemd([ACTIVE])
    sa.Applier(systemd, control, clock, clock.sleep).run(CONTROL_SVC, "reload")
    assert systemd.calls == [("reload", "prometheus.service")]
    assert control.paths == ["/metrics"] * 3


def test_a_refused_reload_fails_with_the_reason():
    clock = FakeClock()
    control = FakeControl([metrics(1, 900), metrics(0, 900)])
    with pytest.raises(sa.ApplyError, match=r"refused the new configuration .*Error loading config"):
        sa.Applier(FakeSystemd([ACTIVE]), control, clock, clock.sleep).run(CONTROL_SVC, "reload")


def test_metric_value_ignores_other_series():
    text = "a_successful 0\nprometheus_config_last_reload_successful 1\n"
    assert sa.metric_value(text, "prometheus_config_last_reload_successful") == 1
    assert sa.metric_value(text, "missing") is None


# --- the control path --------------------------------------------------------------------------

@pytest.mark.parametrize("listen,url", [
    ("0.0.0.0:9090", "http://127.0.0.1:9090"),
    (":9090", "http://127.0.0.1:9090"),
    ("[::]:9090", "http://[::1]:9090"),
    ("10.1.2.3:9090", "http://10.1.2.3:9090"),
    ("[fd18::3]:9090", "http://[fd18::3]:9090"),
    ("mon1.example.com:9090", "http://mon1.example.com:9090"),
])
def test_control_url_follows_the_listen_address(listen, url):
    assert controlpath.control({"listen_address": listen}, "prometheus", "h1")["url"] == url


@pytest.mark.parametrize("external,flags,prefix", [
    ("https://mon.example.com/prom/", {}, "/prom"),
    ("https://mon.example.com/", {}, ""),
    ("", {"web.route-prefix": "/inner/"}, "/inner"),
    ("https://mon.example.com/outer", {"web.route-prefix": "/"}, ""),
])
def test_control_url_has_the_route_prefix(external, flags, prefix):
    out = controlpath.control({"listen_address": ":9090", "external_url": external, "extra_flags": flags}, "prometheus", "h1")
    assert out["url"] == "http://127.0.0.1:9090" + prefix


def test_control_with_mutual_tls_and_basic_auth():
    out = controlpath.control({"listen_address": "0.0.0.0:9090", "tls_cert_file": "/tls/c", "tls_key_file": "/tls/k",
                               "client_ca_file": "/tls/ca", "basic_auth_users": {"zed": "z", "admin": "a$'\"b"},
                               "external_url": "https://x/prom/"}, "prometheus", "h1")
    assert out["url"] == "https://127.0.0.1:9090/prom"
    assert (out["username"], out["password"]) == ("admin", "a$'\"b")
    assert (out["cert_file"], out["key_file"]) == ("/tls/c", "/tls/k")


@pytest.mark.parametrize("settings,message", [
    ({"listen_address": "0.0.0.0:91OO"}, r"prometheus_listen_address on h1: '0.0.0.0:91OO' is not host:port"),
    ({"listen_address": "9090"}, r"is not host:port"),
    ({"listen_address": []}, r"is not host:port"),
    ({"listen_address": ["0.0.0.0:9O90", "127.0.0.1:9090"]}, r"is not host:port"),
    ({"listen_address": "fd18::3:9090"}, r"IPv6 address needs brackets"),
    ({"listen_address": "0.0.0.0:70000"}, r"port must be 1-65535"),
    ({"listen_address": "0.0.0.0:9090", "external_url": "https://x/a b/"}, r"prometheus_external_url on h1"),
    ({"listen_address": "0.0.0.0:9090", "basic_auth_users": {"a": "$2b$10$" + "x" * 53}}, r"is a bcrypt hash"),
    ({"listen_address": "0.0.0.0:9090", "basic_auth_users": {"a": "p"}, "control_user": "b"}, r"'b' is not in"),
    ({"listen_address": "0.0.0.0:9090", "client_ca_file": "/ca"}, r"needs prometheus_tls_cert_file"),
])
def test_control_refuses_bad_settings_naming_variable_and_host(settings, message):
    with pytest.raises(controlpath.ControlError, match=message):
        controlpath.control(settings, "prometheus", "h1")


def test_control_of_several_listen_addresses_checks_the_first():
    """node_exporter listens on a list of addresses; the role's checks go to the first one."""
    out = controlpath.control({"listen_address": ["10.0.0.5:9100", "[::1]:9101"]}, "node_exporter", "h1")
    assert out["url"].startswith("http://10.0.0.5:9100")


def test_module_docs_and_options_agree():
    """Every service option of the module is documented (ansible-test validates the rest)."""
    import yaml
    from ansible_collections.fleetwatch.observability.plugins.modules import service_setup as mod
    doc = yaml.safe_load(mod.DOCUMENTATION)
    assert set(doc["options"]["services"]["suboptions"]) == set(mod.SERVICE_OPTIONS)
    assert set(doc["options"]["services"]["suboptions"]["control"]["suboptions"]) == set(
        mod.SERVICE_OPTIONS["control"]["options"])
    assert json.dumps(doc["options"]["services"]["suboptions"]["control"]["suboptions"]["password"]) != "null"


def test_rollback_brings_back_every_service_the_attempt_touched():
    """Instance 1 restarted into its new flags, instance 2 refused them: after the files are put back
    both match the record again, yet instance 1 runs the new flags: it is restarted once more, and a
    refused reload is reloaded so that the reload metric reads 1 again."""
    from ansible_collections.fleetwatch.observability.plugins.modules import service_setup as mod
    one, two, three = ({"unit_name": "a.service"}, {"unit_name": "b.service"}, {"unit_name": "c.service"})
    back = [(one, ACTIVE, None, None, {}), (two, {"ActiveState": "failed"}, "start", "not running", {}),
            (three, ACTIVE, None, None, {})]
    out = mod.rollback_actions(back, {"a.service": "restart", "b.service": "restart"})
    assert [action for svc, show, action, reason, record in out] == ["restart", "start", None]
    out = mod.rollback_actions([(one, ACTIVE, None, None, {})], {"a.service": "reload"})
    assert out[0][2] == "reload"


def test_a_refused_new_binary_is_relinked_to_the_one_that_ran_before(tmp_path):
    old, new = tmp_path / "2.53.3" / "prometheus", tmp_path / "3.5.3" / "prometheus"
    for path in (old, new):
        path.parent.mkdir()
        path.write_text("#!/bin/sh\n")
    link = tmp_path / "bin-prometheus"
    link.symlink_to(new)
    assert sa.relink_previous(str(link), str(old)) == str(old)
    assert os.readlink(str(link)) == str(old)
    assert sa.relink_previous(str(link), str(old)) is None  # already there
    assert sa.relink_previous(str(link), str(new) + " (deleted)") is None  # pruned meanwhile
    assert sa.relink_previous(str(link), None) is None  # nothing ran before
    plain = tmp_path / "plain"
    plain.write_text("x")
    assert sa.relink_previous(str(plain), str(old)) is None  # not installed by the collection's installer
    assert not any(p.name.endswith(".fleetwatch-rollback") for p in tmp_path.iterdir())


def test_a_refused_first_install_is_undone_not_brought_back(tmp_path):
    """Nothing ran before: the new unit and config are removed and the started service stopped; the
    message says so, not "the previous files were put back ... Unit not found"."""
    from ansible_collections.fleetwatch.observability.plugins.modules import service_setup as mod
    unit, conf = tmp_path / "x.service", tmp_path / "x.yml"
    cs = ss.ChangeSet([d(tmp_path)], [f(unit, "[Service]\n"), f(conf, "new")], run).plan()
    cs.commit()
    svc = {"unit_name": "x.service", "binary": str(tmp_path / "x"), "unit": str(unit), "restart_files": [],
           "reload_files": [str(conf)]}
    plans = [(svc, {"ActiveState": "inactive", "LoadState": "not-found", "_exe": None}, "start", "new", {})]
    systemd = FakeSystemd([{"ActiveState": "failed", "LoadState": "not-found"}])
    said = mod.roll_back([svc], plans, cs, {"x.service": "start"}, str(tmp_path / "state"), "x", systemd, None)
    assert not unit.exists() and not conf.exists()
    assert systemd.calls == [("stop", "x.service"), ("daemon-reload",)]
    assert said == "x.service did not exist before this run: its new files were removed (%s, %s), and it was stopped" % (
        unit, conf)
    assert "put back" not in said


def test_a_refused_change_of_a_running_service_is_brought_back(tmp_path):
    """The service existed: its previous config comes back and it is brought back into it (not stopped)."""
    from ansible_collections.fleetwatch.observability.plugins.modules import service_setup as mod
    conf = tmp_path / "x.yml"
    conf.write_text("old")
    cs = ss.ChangeSet([], [f(conf, "new")], run).plan()
    cs.commit()
    svc = {"unit_name": "x.service", "binary": "", "unit": None, "restart_files": [], "reload_files": [str(conf)],
           "reload": "reload", "enabled": True}
    plans = [(svc, dict(ACTIVE, _exe=None), "reload", "config changed", {})]
    applied = []

    class Applier(object):
        def run(self, service, action):
            applied.append((service["unit_name"], action))

    said = mod.roll_back([svc], plans, cs, {"x.service": "reload"}, str(tmp_path / "state"), "x",
                         FakeSystemd([dict(ACTIVE, UnitFileState="enabled")]), Applier())
    assert conf.read_text() == "old"
    assert said == "the previous files were put back (%s) and it runs with them" % conf
    assert [unit for unit, action in applied] == ["x.service"]  # brought back into the old files (decide() says how)
