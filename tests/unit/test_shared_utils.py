# SPDX-License-Identifier: Apache-2.0
"""Shared logic of the roles: service_setup, web config (bcrypt without passlib), flags, units."""
import os
import stat

import bcrypt
import pytest

from ansible_collections.fleetwatch.observability.plugins.plugin_utils import _cliflags as cliflags
from ansible_collections.fleetwatch.observability.plugins.module_utils import servicesetup as ss
from ansible_collections.fleetwatch.observability.plugins.plugin_utils import _systemdunit as systemdunit
from ansible_collections.fleetwatch.observability.plugins.module_utils import webconfig

ME = __import__("pwd").getpwuid(os.getuid()).pw_name
MYGROUP = __import__("grp").getgrgid(os.getgid()).gr_name


# --- service_setup ----------------------------------------------------------------------------

def a_file(path, content="x\n", mode="0640", validate=None):
    return ss.normalise_file({"path": str(path), "content": content, "owner": ME, "group": MYGROUP,
                              "mode": mode, "validate": validate})


def test_directory_created_then_unchanged(tmp_path):
    d = ss.normalise_dir({"path": str(tmp_path / "etc" / "svc"), "owner": ME, "group": MYGROUP, "mode": "0750"})
    assert ss.ensure_directory(d) is True
    assert stat.S_IMODE(os.stat(d["path"]).st_mode) == 0o750
    assert ss.ensure_directory(d) is False
    os.chmod(d["path"], 0o777)
    assert ss.ensure_directory(d, check_mode=True) is True
    assert stat.S_IMODE(os.stat(d["path"]).st_mode) == 0o777  # check mode touched nothing
    assert ss.ensure_directory(d) is True


def apply(f, run_validate=None, check_mode=False):
    """One file as a change set, validated file by file (no mount namespace): (changed, content_changed, before)."""
    cs = ss.ChangeSet([], [f], run_validate, check_mode)
    cs._namespace_works = lambda: False
    cs.plan()
    cs.validate()
    entry = cs.entries[0]
    if not check_mode:
        cs.commit()
    before = None if entry["old"] is None or not entry["content_changed"] else entry["old"].decode()
    return bool(cs.changed), entry["content_changed"], before


def test_file_written_atomically_then_unchanged(tmp_path):
    f = a_file(tmp_path / "a.yml", "one\n")
    assert apply(f) == (True, True, None)
    assert (tmp_path / "a.yml").read_text() == "one\n"
    assert stat.S_IMODE(os.stat(f["path"]).st_mode) == 0o640
    assert apply(f) == (False, False, None)
    changed, content_changed, before = apply(a_file(tmp_path / "a.yml", "two\n"))
    assert (changed, content_changed, before) == (True, True, "one\n")
    assert sorted(os.listdir(tmp_path)) == ["a.yml"]  # no temporary file left behind


def test_mode_only_change_is_not_a_content_change(tmp_path):
    apply(a_file(tmp_path / "a", "x"))
    assert apply(a_file(tmp_path / "a", "x", mode="0600"))[:2] == (True, False)
    assert stat.S_IMODE(os.stat(str(tmp_path / "a")).st_mode) == 0o600


def test_failed_validation_keeps_the_old_file(tmp_path):
    apply(a_file(tmp_path / "c.yml", "good\n"))

    def validator(cmd):
        content = open(cmd[-1]).read()
        return (0, "", "") if "good" in content else (1, "", "FAILED: %s: parse error at line 1" % cmd[-1])

    bad = a_file(tmp_path / "c.yml", "bad\n", validate="checker check %s")
    with pytest.raises(ss.SetupError, match=r"(?s)c.yml was not changed.*parse error at line 1") as err:
        apply(bad, validator)
    assert "(new)" in str(err.value)
    assert (tmp_path / "c.yml").read_text() == "good\n"
    assert sorted(os.listdir(tmp_path)) == ["c.yml"]
    # check mode validates too, and writes nothing
    with pytest.raises(ss.SetupError):
        apply(bad, validator, check_mode=True)
    good = a_file(tmp_path / "c.yml", "good and new\n", validate="checker check %s")
    assert apply(good, validator)[0] is True


def test_failed_validation_reports_stdout_and_stderr_and_the_tool_of_a_script(tmp_path):
    def validator(cmd):
        return 1, "route: undefined receiver \"nowhere\"\n", "amtool: error: failed to validate 1 file(s)\n"
    bad = a_file(tmp_path / "am.yml", "x\n", validate="/bin/sh -c 'amtool check-config %s && amtool config routes test'")
    with pytest.raises(ss.SetupError) as err:
        apply(bad, validator)
    assert "(amtool check-config)" in str(err.value)
    assert 'undefined receiver "nowhere"' in str(err.value)
    assert "failed to validate 1 file(s)" in str(err.value)
    assert not (tmp_path / "am.yml").exists()


@pytest.mark.parametrize("item,message", [
    ({"path": "relative/x", "content": "a"}, "not an absolute path"),
    ({"path": "/x"}, "has no content"),
    ({"path": "/x", "content": "a", "mode": "rwx"}, "invalid mode"),
    ({"path": "/x", "content": "a", "validate": "promtool check config"}, "must contain %s"),
    ({"path": "/x", "content": "a", "owner": "Bad Name"}, "invalid user or group name"),
])
def test_bad_file_entries(item, message):
    with pytest.raises(ss.SetupError, match=message):
        ss.normalise_file(item)


def test_unknown_owner_is_reported(tmp_path):
    f = ss.normalise_file({"path": str(tmp_path / "x"), "content": "a", "owner": "no_such_user_fw"})
    with pytest.raises(ss.SetupError, match="no user 'no_such_user_fw'"):
        apply(f)


def test_yaml_octal_integer_mode_is_understood():
    assert ss.parse_mode(0o640) == 0o640
    assert ss.parse_mode("640") == 0o640


def test_useradd_command():
    assert ss.useradd_command("node_exporter") == [
        "useradd", "--system", "--user-group", "--no-create-home", "--home-dir", "/nonexistent",
        "--shell", "/usr/sbin/nologin", "node_exporter"]


# --- web config -------------------------------------------------------------------------------

def test_web_config_empty_is_plain_http():
    assert webconfig.build() == {}
    assert webconfig.build(tls_cert_file="", tls_key_file="", basic_auth_users={}) == {}


def test_bcrypt_hash_is_deterministic_verifiable_and_salted_per_seed():
    first = webconfig.bcrypt_hash("s3cret", "host1/node_exporter", "prometheus")
    assert first == webconfig.bcrypt_hash("s3cret", "host1/node_exporter", "prometheus")
    assert first.startswith("$2b$10$") and len(first) == 60
    assert bcrypt.checkpw(b"s3cret", first.encode())
    assert not bcrypt.checkpw(b"wrong", first.encode())
    other_host = webconfig.bcrypt_hash("s3cret", "host2/node_exporter", "prometheus")
    assert other_host != first and bcrypt.checkpw(b"s3cret", other_host.encode())


def test_existing_bcrypt_hash_is_kept():
    hashed = bcrypt.hashpw(b"pw", bcrypt.gensalt(4)).decode()
    assert webconfig.build(basic_auth_users={"u": hashed}, seed="s") == {"basic_auth_users": {"u": hashed}}


def test_tls_and_client_ca():
    config = webconfig.build(tls_cert_file="/c.crt", tls_key_file="/c.key", client_ca_file="/ca.crt")
    assert config["tls_server_config"] == {
        "cert_file": "/c.crt", "key_file": "/c.key", "min_version": "TLS12",
        "client_ca_file": "/ca.crt", "client_auth_type": "RequireAndVerifyClientCert"}


@pytest.mark.parametrize("kwargs,message", [
    ({"tls_cert_file": "/c.crt"}, "both a certificate file and a key file"),
    ({"client_ca_file": "/ca"}, "need TLS"),
    ({"basic_auth_users": {"u": ""}}, "empty password"),
    ({"basic_auth_users": {"a:b": "x"}}, "invalid basic auth user name"),
    ({"basic_auth_users": ["u"]}, "must be a mapping"),
    ({"basic_auth_users": {"u": "x" * 73}}, "72 bytes"),
    ({"tls_cert_file": "/c", "tls_key_file": "/k", "tls_min_version": "SSL3"}, "tls_min_version"),
])
def test_web_config_bad_input(kwargs, message):
    with pytest.raises(webconfig.WebConfigError, match=message):
        webconfig.build(seed="s", **kwargs)


def test_bcrypt_b64_of_16_bytes_is_22_chars():
    assert len(webconfig.bcrypt_b64(b"\0" * 16)) == 22
    assert webconfig.bcrypt_b64(b"\0" * 16) == "." * 22


# --- flags ------------------------------------------------------------------------------------

def test_flags_render_sorted_with_bools_lists_and_none():
    assert cliflags.render({
        "web.listen-address": ":9100", "collector.systemd": True, "collector.wifi": False,
        "dropped": None, "--log.level": "info", "collector.filesystem.fs-types-exclude": ["a", "b"],
    }) == ["--collector.filesystem.fs-types-exclude=a", "--collector.filesystem.fs-types-exclude=b",
           "--collector.systemd", "--no-collector.wifi", "--log.level=info", "--web.listen-address=:9100"]


def test_flags_quote_for_systemd():
    assert cliflags.render({"x": "a b$%"}) == ['--x="a b$$%%"']


@pytest.mark.parametrize("bad", [{"bad flag": 1}, {"x": {"y": 1}}, ["x"]])
def test_bad_flags(bad):
    with pytest.raises(cliflags.FlagError):
        cliflags.render(bad)


# --- systemd units ----------------------------------------------------------------------------

SPEC = {"description": "svc", "user": "svc", "exec_start": ["/usr/local/bin/svc", "--a=1"],
        "hardening": {"ProtectSystem": "strict", "SystemCallFilter": ["@system-service", "~@privileged"],
                      "PrivateUsers": None, "NoNewPrivileges": True}}


def test_unit_renders_hardening_and_reload():
    text = systemdunit.render(dict(SPEC, exec_reload="/bin/kill -HUP $MAINPID"))
    assert "ExecStart=/usr/local/bin/svc \\\n    --a=1\n" in text
    assert "ExecReload=/bin/kill -HUP $MAINPID" in text
    assert "ProtectSystem=strict" in text and "NoNewPrivileges=yes" in text
    assert "SystemCallFilter=@system-service\nSystemCallFilter=~@privileged" in text
    assert "PrivateUsers" not in text
    assert text.rstrip().endswith("WantedBy=multi-user.target")


@pytest.mark.parametrize("change,message", [
    ({"exec_start": "/bin/x --a"}, "non-empty list"),
    ({"exec_start": ["svc"]}, "absolute path"),
    ({"user": ""}, "needs user"),
    ({"hardening": {"bad key": 1}}, "invalid directive"),
    ({"hardening": {"X": "a\nb"}}, "cannot span lines"),
])
def test_unit_bad_input(change, message):
    with pytest.raises(systemdunit.UnitError, match=message):
        systemdunit.render(dict(SPEC, **change))


def test_purge_removes_only_unwanted_matching_files(tmp_path):
    rules = tmp_path / "rules"
    rules.mkdir()
    for name in ("keep.yml", "old.yml", "notes.txt"):
        (rules / name).write_text("x")
    (rules / "sub.yml").mkdir()
    d = ss.normalise_dir({"path": str(rules), "owner": ME, "group": MYGROUP, "purge": "*.yml"})
    assert ss.purge_directory(d, [str(rules / "keep.yml")], check_mode=True) == [str(rules / "old.yml")]
    assert (rules / "old.yml").exists()
    assert ss.purge_directory(d, [str(rules / "keep.yml")]) == [str(rules / "old.yml")]
    assert sorted(os.listdir(rules)) == ["keep.yml", "notes.txt", "sub.yml"]
    assert ss.purge_directory(d, [str(rules / "keep.yml")]) == []


def test_purge_pattern_must_be_a_name():
    with pytest.raises(ss.SetupError, match="file name pattern"):
        ss.normalise_dir({"path": "/etc/x", "purge": "../*.yml"})
