"""Regression tests of defects found in review, one section each."""
import json

import pytest

from ansible.module_utils.testing import patch_module_args

from ansible_collections.fleetwatch.observability.plugins.module_utils import pgroles
from ansible_collections.fleetwatch.observability.plugins.module_utils import safelog
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
    assert "deprecated upstream" in json.dumps(result["warnings"])


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
