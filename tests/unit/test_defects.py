"""Regression tests of defects found in review, one section each."""
import json

import pytest

from ansible.module_utils.testing import patch_module_args

from ansible_collections.fleetwatch.observability.plugins.module_utils import pgroles
from ansible_collections.fleetwatch.observability.plugins.module_utils import safelog
from ansible_collections.fleetwatch.observability.plugins.module_utils import systemdunit
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
    assert directive_values(systemdunit.render(UNIT), "Restart") == ["on-failure"]
    assert directive_values(systemdunit.render(dict(UNIT, restart="always")), "Restart") == ["always"]
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
