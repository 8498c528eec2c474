# SPDX-License-Identifier: Apache-2.0
"""Regression tests of defects found in review, one section each."""
import json
import os
import shutil
import subprocess
import time

import pytest

from ansible.errors import AnsibleFilterError
from ansible.module_utils.testing import patch_module_args

from ansible_collections.fleetwatch.observability.plugins.filter import alertmanager_receivers as am_filter
from ansible_collections.fleetwatch.observability.plugins.filter import redis_quote as redis_quote_filter
from ansible_collections.fleetwatch.observability.plugins.plugin_utils import _amtemplates as amtemplates
from ansible_collections.fleetwatch.observability.plugins.module_utils import pgroles
from ansible_collections.fleetwatch.observability.plugins.plugin_utils import _redisconf as redisconf
from ansible_collections.fleetwatch.observability.plugins.module_utils import safelog
from ansible_collections.fleetwatch.observability.plugins.plugin_utils import _systemdunit as systemdunit
from ansible_collections.fleetwatch.observability.plugins.modules import postgres_query_check


# --- postgres_query_check: user SQL is never run in check mode -------------------------------

INSTANCES = [{"name": "main", "host": "127.0.0.1", "port": 5432, "user": "postgres_exporter", "password": "pw'\"$",
              "database": "postgres", "sslmode": "prefer"},
             {"name": "second", "host": "db2", "port": 5433, "user": "monitor", "password": "",
              "database": "app", "sslmode": "require"}]
QUERIES = {"pg_b": "SELECT delete_old_rows()", "pg_a": "SELECT 1 AS one"}


@pytest.fixture
def psql_calls(monkeypatch):
    """psql is "installed"; every command the module runs is recorded and answers a failure of pg_b."""
    calls = []

    def run_command(self, args, data=None, environ_update=None, **kwargs):
        calls.append({"args": args, "data": data, "env": environ_update})
        return 0, "FWQ-FAILED 1 function delete_old_rows() does not exist\n", ""

    monkeypatch.setattr(safelog.SafeLogModule, "get_bin_path", lambda self, name, *a, **k: "/usr/bin/" + name)
    monkeypatch.setattr(safelog.SafeLogModule, "run_command", run_command)
    return calls


def run_query_check(capsys, **args):
    with patch_module_args(dict({"instances": INSTANCES, "queries": QUERIES}, **args)):
        with pytest.raises(SystemExit):
            postgres_query_check.main()
    return json.loads(capsys.readouterr().out)


def test_query_check_runs_nothing_in_check_mode(capsys, psql_calls):
    result = run_query_check(capsys, _ansible_check_mode=True)
    assert psql_calls == []
    assert result["changed"] is False and result["failed_queries"] == []
    assert result["msg"] == ("check mode: would run the custom queries pg_a, pg_b as monitor, postgres_exporter "
                             "on instances main, second, and report those that fail")


def test_query_check_check_mode_still_refuses_an_empty_query(capsys, psql_calls):
    result = run_query_check(capsys, _ansible_check_mode=True, queries={"pg_a": " ; "})
    assert result["failed"] is True and "custom query 'pg_a' is empty" in result["msg"]
    assert psql_calls == []


def test_query_check_runs_the_queries_otherwise(capsys, psql_calls):
    result = run_query_check(capsys)
    assert [c["env"]["PGHOST"] for c in psql_calls] == ["127.0.0.1", "db2"]
    assert all("delete_old_rows" in c["data"] for c in psql_calls)
    assert all("pw" not in " ".join(c["args"]) for c in psql_calls)  # the password is not an argument
    assert [(f["instance"], f["query"]) for f in result["failed_queries"]] == [("main", "pg_b"), ("second", "pg_b")]
    assert "msg" not in result


def test_query_check_env_keeps_the_password_out_of_the_command_line():
    env = pgroles.query_check_env(INSTANCES[0])
    assert env == {"PGHOST": "127.0.0.1", "PGPORT": "5432", "PGUSER": "postgres_exporter", "PGPASSWORD": "pw'\"$",
                   "PGDATABASE": "postgres", "PGSSLMODE": "prefer", "PGCONNECT_TIMEOUT": "5",
                   "PGAPPNAME": "fleetwatch-query-check"}
    assert pgroles.query_check_env(dict(INSTANCES[1], password=None))["PGPASSWORD"] == ""


def test_query_check_preview():
    assert pgroles.query_check_preview(["pg_a"], INSTANCES[:1]) == (
        "check mode: would run the custom queries pg_a as postgres_exporter on instance main, and report those that fail")
    assert pgroles.query_check_preview([], INSTANCES) == "no custom queries to check"


# --- systemd units: no ExecReload unless the program reloads on SIGHUP; Restart=; no duplicates ---

UNIT = {"description": "svc", "user": "svc", "exec_start": ["/usr/local/bin/svc"],
        "hardening": {"ProtectSystem": "strict", "NoNewPrivileges": True}}


def directive_values(text, key):
    return [line.split("=", 1)[1] for line in text.splitlines() if line.startswith(key + "=")]


def test_unit_has_no_exec_reload_by_default():
    """node_exporter and the database exporters exit on SIGHUP: `systemctl reload` must not send it."""
    text = systemdunit.render(UNIT)
    assert "ExecReload" not in text
    assert directive_values(systemdunit.render(dict(UNIT, exec_reload=None)), "ExecReload") == []


def test_unit_exec_reload_opt_in():
    text = systemdunit.render(dict(UNIT, exec_reload="/bin/kill -HUP $MAINPID"))
    assert directive_values(text, "ExecReload") == ["/bin/kill -HUP $MAINPID"]


def test_unit_restart_policy():
    # A lifecycle quit or a SIGHUP to a program without a handler exits cleanly: not a reason to stay down.
    assert directive_values(systemdunit.render(UNIT), "Restart") == ["always"]
    assert directive_values(systemdunit.render(dict(UNIT, restart="on-failure")), "Restart") == ["on-failure"]
    with pytest.raises(systemdunit.UnitError, match="restart must be one of no, on-success, on-failure"):
        systemdunit.render(dict(UNIT, restart="sometimes"))


def test_timeout_stop_from_overrides_is_written_once():
    """prometheus passes timeout_stop 300s; an override of TimeoutStopSec in the hardening dict wins, once."""
    text = systemdunit.render(dict(UNIT, timeout_stop="300s", hardening=dict(UNIT["hardening"], TimeoutStopSec="10min")))
    assert directive_values(text, "TimeoutStopSec") == ["10min"]
    assert directive_values(systemdunit.render(dict(UNIT, timeout_stop="300s")), "TimeoutStopSec") == ["300s"]
    assert directive_values(systemdunit.render(UNIT), "TimeoutStopSec") == ["60s"]
    # null in the overrides: systemd's default, not ours
    assert directive_values(systemdunit.render(dict(UNIT, hardening={"TimeoutStopSec": None})), "TimeoutStopSec") == []


def test_defaults_given_explicitly_are_written_once():
    text = systemdunit.render(dict(UNIT, restart="always", limit_nofile=65536,
                                   directives={"Restart": "on-abnormal", "RestartSec": "30s", "Type": "exec"},
                                   hardening={"LimitNOFILE": 1024, "RestartSec": "1s"}))
    assert directive_values(text, "Restart") == ["on-abnormal"]
    assert directive_values(text, "RestartSec") == ["1s"]   # hardening (the overrides) wins over directives
    assert directive_values(text, "LimitNOFILE") == ["1024"]
    assert directive_values(text, "Type") == ["exec"]
    keys = [line.split("=", 1)[0] for line in text.splitlines() if "=" in line and not line.startswith("#")]
    assert len(keys) == len(set(keys))


@pytest.mark.parametrize("key", ["ExecStart", "User", "Group"])
def test_unit_keys_cannot_come_from_the_mappings(key):
    with pytest.raises(systemdunit.UnitError, match="hardening: %s comes from the unit's" % key):
        systemdunit.render(dict(UNIT, hardening={key: "/bin/x"}))


# --- Redis' requirepass: quoted for Redis' config parser ---------------------------------------

PASSWORDS = [
    'pa"ss',            # double quote
    "it's",             # single quote
    "pa$$word$HOME",    # dollar signs (no expansion anywhere)
    "back\\slash\\",    # backslashes, one at the end
    "with spaces  and\ttab",
    "#starts-like-a-comment",
    " leading and trailing ",
    "",
    "line\nbreak\r",
    "\\x41 is not A",   # a literal backslash-x must not become an escape
    "ünï€ode",
    "\"'\\$# all of them",
]


@pytest.mark.parametrize("password", PASSWORDS)
def test_redis_quote_reads_back_as_the_same_password(password):
    line = "requirepass " + redisconf.quote(password)
    assert "\n" not in line and "\r" not in line and line.isascii()
    assert redisconf.split_args(line) == [b"requirepass", password.encode("utf-8")]
    # the filter of the lab playbook gives the same text
    assert redis_quote_filter.redis_quote(password) == redisconf.quote(password)


def test_redis_quote_escapes():
    assert redisconf.quote('a"b\\c') == '"a\\"b\\\\c"'
    assert redisconf.quote("$x #y") == '"$x #y"'
    assert redisconf.quote("#x") == '"#x"'
    assert redisconf.quote("é\x01") == '"\\xc3\\xa9\\x01"'
    assert redisconf.config_line("requirepass", "a b") == 'requirepass "a b"'


@pytest.mark.parametrize("password", ['pa"ss', "with spaces", "it's", 'ends"with"quotes"'])
def test_unquoted_requirepass_breaks(password):
    """What the lab playbook wrote before: Redis reads another password, or refuses the line
    (and logs it). Unquoted, a backslash or "$" is read literally; quoted, they need care."""
    try:
        args = redisconf.split_args("requirepass " + password)
    except redisconf.RedisConfError:
        return
    assert args != [b"requirepass", password.encode("utf-8")]


def test_a_password_starting_with_hash_is_not_a_comment_when_quoted():
    assert redisconf.split_args('"#secret"') == [b"#secret"]
    assert redisconf.split_args("# requirepass x") == []


@pytest.mark.parametrize("line,message", [
    ('requirepass "abc', "unbalanced quotes"),
    ('requirepass "abc"def', "closing quote must be followed by a space"),
    ("requirepass 'abc", "unbalanced quotes"),
])
def test_redis_split_args_refuses_what_redis_refuses(line, message):
    with pytest.raises(redisconf.RedisConfError, match=message):
        redisconf.split_args(line)


def test_redis_quote_filter_refuses_none():
    with pytest.raises(AnsibleFilterError, match="redis_quote: no value to quote"):
        redis_quote_filter.redis_quote(None)


@pytest.mark.skipif(not shutil.which("redis-server") or not shutil.which("redis-cli"), reason="needs redis-server")
@pytest.mark.parametrize("password", PASSWORDS)
def test_real_redis_reads_the_quoted_password(tmp_path, password):
    """The same line in a config include of a real Redis: AUTH with the password works."""
    if not password:
        pytest.skip("an empty requirepass means no password")
    sock = str(tmp_path / "redis.sock")
    (tmp_path / "auth.conf").write_text("requirepass %s\n" % redisconf.quote(password))
    (tmp_path / "redis.conf").write_text("port 0\nunixsocket %s\nsave \"\"\nappendonly no\ndir %s\ninclude %s\n" % (
        sock, tmp_path, tmp_path / "auth.conf"))
    server = subprocess.Popen(["redis-server", str(tmp_path / "redis.conf")], stdout=subprocess.PIPE,
                              stderr=subprocess.STDOUT)
    try:
        for _attempt in range(100):
            if os.path.exists(sock) or server.poll() is not None:
                break
            time.sleep(0.05)
        assert server.poll() is None, server.stdout.read().decode()
        env = dict(os.environ, REDISCLI_AUTH=password)
        answer = subprocess.run(["redis-cli", "-s", sock, "PING"], env=env, capture_output=True, text=True, timeout=10, check=False)
        assert answer.stdout.strip() == "PONG", answer
        wrong = subprocess.run(["redis-cli", "-s", sock, "PING"], env=dict(os.environ, REDISCLI_AUTH=password + "x"),
                               capture_output=True, text=True, timeout=10, check=False)
        assert "PONG" not in wrong.stdout
    finally:
        server.terminate()
        server.wait(10)


# --- Alertmanager: a user template named like the shipped one --------------------------------

SHIPPED_TMPL = os.path.join(os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__)))),
                            "roles", "alertmanager", "files", "fleetwatch.tmpl")


def template_files(user_templates):
    """What the role's set_fact builds (shipped first, read like lookup('file') does), mapped through
    the filter like the service_setup task does."""
    shipped = open(SHIPPED_TMPL).read().rstrip()
    items = [{"name": "fleetwatch", "content": shipped}] + [{"name": k, "content": v} for k, v in user_templates.items()]
    return [am_filter.alertmanager_template_file(i, "/etc/alertmanager/templates", "alertmanager", "/usr/local/bin/amtool")
            for i in items]


def test_user_template_named_like_the_shipped_one_is_refused():
    with pytest.raises(AnsibleFilterError) as failure:
        template_files({"ops": '{{ define "ops.title" }}x{{ end }}', "fleetwatch": '{{ define "mine" }}y{{ end }}'})
    message = str(failure.value)
    assert "alertmanager_templates" in message and "'fleetwatch'" in message
    assert "fleetwatch.tmpl" in message and "fleetwatch.title" in message and "'my_fleetwatch'" in message


def test_shipped_and_other_user_templates_pass():
    files = template_files({"ops": '{{ define "ops.title" }}x{{ end }}', "fleetwatch_extra": "z"})
    assert [f["path"] for f in files] == ["/etc/alertmanager/templates/fleetwatch.tmpl",
                                          "/etc/alertmanager/templates/ops.tmpl",
                                          "/etc/alertmanager/templates/fleetwatch_extra.tmpl"]


def test_check_template_logic():
    shipped = {"fleetwatch": '{{ define "fleetwatch.title" }}t{{ end }}\n'}
    assert amtemplates.check_template("fleetwatch", '{{ define "fleetwatch.title" }}t{{ end }}', shipped) == "fleetwatch"
    assert amtemplates.check_template("ops", "anything", shipped) == "ops"
    with pytest.raises(amtemplates.TemplateError, match="alertmanager_templates: 'fleetwatch' is the name"):
        amtemplates.check_template("fleetwatch", "other", shipped)
    with pytest.raises(amtemplates.TemplateError, match="invalid Alertmanager template name '../x'"):
        amtemplates.check_template("../x", "", shipped)
    assert amtemplates.shipped_templates(os.path.dirname(SHIPPED_TMPL))["fleetwatch"] == open(SHIPPED_TMPL).read()
