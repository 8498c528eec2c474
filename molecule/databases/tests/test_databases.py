"""Testinfra checks of postgres_exporter and redis_exporter against the real PostgreSQL and Redis
of fw-db-db1, scraped by the Prometheus on fw-db-mon1 (queried from inside that host with curl).

The tests run in file order; the last ones stop PostgreSQL (and start it again).
"""
import json
import re
import time
import urllib.parse

import pytest
import testinfra

PG_TOKEN = "Zq7-PGSECRET"
PG_PASSWORD = "pg_Zq7-PGSECRET-\"q\"$d\\b'x"  # as in molecule.yml
REDIS_PASSWORD = "rd Zq8-RDSECRET-\"q\"$d\\b'x"
REDIS_TOKEN = "Zq8-RDSECRET"
SCRAPE = ("prometheus", "scrape-Zq9-secret")
# Collector -> a metric it exports (molecule.yml enables these; prepare.yml gives them rows).
COLLECTOR_METRICS = {
    "database": "pg_database_size_bytes",
    "locks": "pg_locks_count",
    "replication": "pg_replication_is_replica",
    "replication_slot": "pg_replication_slot_slot_is_active",
    "stat_bgwriter": "pg_stat_bgwriter_buffers_clean_total",
    "stat_database": "pg_stat_database_xact_commit",
    "stat_statements": "pg_stat_statements_calls_total",
    "stat_user_tables": "pg_stat_user_tables_n_live_tup",
    "statio_user_tables": "pg_statio_user_tables_heap_blocks_read",
    "wal": "pg_wal_segments",
    "long_running_transactions": "pg_long_running_transactions",
}


@pytest.fixture(scope="module")
def db():
    return testinfra.get_host("podman://fw-db-db1")


@pytest.fixture(scope="module")
def mon():
    return testinfra.get_host("podman://fw-db-mon1")


def query(mon, promql):
    out = mon.check_output("curl -sf --get --data-urlencode %s http://localhost:9090/api/v1/query",
                           "query=" + promql)
    data = json.loads(out)
    assert data["status"] == "success", data
    return data["data"]["result"]


def wait_for(mon, promql, timeout=60):
    """Poll an instant query until it returns a result; return the result."""
    deadline = time.time() + timeout
    while True:
        result = query(mon, promql)
        if result or time.time() > deadline:
            return result
        time.sleep(1)


def alerts(mon):
    return json.loads(mon.check_output("curl -sf http://localhost:9090/api/v1/alerts"))["data"]["alerts"]


def scrape(db, port, auth=True):
    """(HTTP status, body) of an exporter's /metrics on fw-db-db1."""
    user = "-u %s:%s " % SCRAPE if auth else ""
    cmd = db.run("curl -sk -o /tmp/fw-body -w '%%{http_code}' %shttps://localhost:%d/metrics && echo && cat /tmp/fw-body"
                 % (user, port))
    assert cmd.rc == 0, cmd.stderr
    status, _, body = cmd.stdout.partition("\n")
    return int(status), body


@pytest.mark.parametrize("service", ["postgres_exporter", "postgres_exporter-wrongpw", "redis_exporter",
                                     "postgresql", "redis-server"])
def test_services_running(db, service):
    assert db.service(service).is_running
    if "exporter" in service:
        assert db.service(service).is_enabled


@pytest.mark.parametrize("unit", ["postgres_exporter", "postgres_exporter-wrongpw", "redis_exporter"])
def test_units_are_hardened(db, unit):
    out = db.check_output("systemd-analyze security %s.service 2>&1 | tail -1", unit)
    score = float(re.search(r"exposure level for \S+: ([0-9.]+)", out).group(1))
    assert score <= 2.0, out


@pytest.mark.parametrize("name,user", [("postgres_exporter", "postgres_exporter"), ("redis_exporter", "redis_exporter")])
def test_exporters_run_unprivileged(db, name, user):
    users = set(db.check_output("ps -o user= -C %s", name).split())
    assert users == {user}


def test_monitoring_role_is_least_privilege(db):
    out = db.check_output(
        "runuser -u postgres -- psql -X -A -t -c \"SELECT rolsuper, rolcreaterole, rolcreatedb, "
        "pg_has_role('postgres_exporter', 'pg_monitor', 'MEMBER') FROM pg_roles WHERE rolname = 'postgres_exporter'\"")
    assert out.strip() == "f|f|f|t"


def test_endpoints_need_tls_and_basic_auth(db):
    for port in (9187, 9121):
        assert scrape(db, port, auth=False)[0] == 401
        assert db.run("curl -sf -o /dev/null http://localhost:%d/metrics" % port).rc != 0
        status, body = scrape(db, port)
        assert status == 200 and "# HELP" in body


def test_exporters_see_their_servers(db):
    assert re.search(r"^pg_up 1$", scrape(db, 9187)[1], re.M)
    assert re.search(r"^pg_up 0$", scrape(db, 9188)[1], re.M)
    assert re.search(r"^redis_up 1$", scrape(db, 9121)[1], re.M)


def test_custom_query_runs(db):
    assert re.search(r"^pg_fleetwatch_answer\{[^}]*\} 42$", scrape(db, 9187)[1], re.M)


def test_redis_key_metrics(db):
    body = scrape(db, 9121)[1]
    assert re.search(r'^redis_key_group_count\{db="db0",key_group="fleetwatch"\} 1$', body, re.M)
    assert re.search(r'^redis_key_size\{db="db0",key="fleetwatch:single"\} \d+$', body, re.M)


def test_prometheus_sees_both_databases_up(mon):
    assert wait_for(mon, 'pg_up{job="postgres_exporter",instance="fw-db-db1",instance_name="main"} == 1')
    assert wait_for(mon, 'redis_up{job="redis_exporter",instance="fw-db-db1",instance_name="main"} == 1')


def test_prometheus_sees_wrong_credentials_as_down(mon):
    # The inventory-driven job scrapes every instance: the second one is labelled instance_name="wrongpw".
    assert wait_for(mon, 'pg_up{job="postgres_exporter",instance="fw-db-db1",instance_name="wrongpw"} == 0')


@pytest.mark.parametrize("collector,metric", sorted(COLLECTOR_METRICS.items()))
def test_metric_of_each_enabled_collector_in_prometheus(mon, collector, metric):
    assert wait_for(mon, 'count(%s{instance="fw-db-db1"})' % metric), "no %s (collector %s)" % (metric, collector)


def test_disabled_collector_is_off(db):
    assert not re.search(r"^pg_roles_connection_limit", scrape(db, 9187)[1], re.M)


def test_environment_files_are_private(db):
    for path, user in (("/etc/postgres_exporter/main.env", "postgres_exporter"),
                       ("/etc/postgres_exporter/wrongpw.env", "postgres_exporter"),
                       ("/etc/redis_exporter/main.env", "redis_exporter")):
        f = db.file(path)
        assert (f.user, f.group, f.mode) == (user, user, 0o600), path
    assert PG_TOKEN in db.file("/etc/postgres_exporter/main.env").content_string
    assert REDIS_TOKEN in db.file("/etc/redis_exporter/main.env").content_string


def test_passwords_nowhere_else(db, mon):
    """Not in the process list, the journal, units, or any other file of the hosts."""
    for host in (db, mon):
        for token in (PG_TOKEN, REDIS_TOKEN):
            assert token not in host.check_output("ps auxww"), "in ps"
            assert token not in host.check_output("journalctl --no-pager -o cat"), "in the journal"
            found = host.run(
                "grep -rlF -- %s /etc /var/log /run /opt /usr/local /root /tmp /var/lib/postgresql /var/lib/redis "
                "--exclude-dir=proc 2>/dev/null", token).stdout.split()
            allowed = {"/etc/postgres_exporter/main.env", "/etc/redis_exporter/main.env",
                       # Redis' own configuration holds its requirepass (the server's secret, not the exporter's).
                       "/etc/redis/redis.conf"}
            assert set(found) <= allowed, found
    # The postgres password is in no file but the environment file (the server keeps a SCRAM verifier).
    found = db.run("grep -rlF -- %s /etc /var /run /opt /usr/local /root /tmp 2>/dev/null", PG_TOKEN).stdout.split()
    assert found == ["/etc/postgres_exporter/main.env"], found


def environ(db, service):
    pid = db.check_output("systemctl show -p MainPID --value %s", service).strip()
    raw = db.check_output("tr '\\0' '\\n' < /proc/%s/environ", pid)
    return dict(line.split("=", 1) for line in raw.splitlines() if "=" in line)


def test_passwords_with_special_characters_reach_the_exporters_unchanged(db):
    """Quotes, $, backslash and spaces survive the environment file (systemd's quoting rules)."""
    assert environ(db, "postgres_exporter")["DATA_SOURCE_PASS"] == PG_PASSWORD
    assert environ(db, "redis_exporter")["REDIS_PASSWORD"] == REDIS_PASSWORD


def test_postgresql_down_alert_fires_and_resolves(db, mon):
    db.check_output("systemctl stop postgresql")
    try:
        deadline = time.time() + 90
        firing = []
        while time.time() < deadline and not firing:
            firing = [a for a in alerts(mon) if a["labels"]["alertname"] == "PostgreSQLDown"
                      and a["labels"]["instance"] == "fw-db-db1" and a["state"] == "firing"]
            time.sleep(1)
        assert firing, alerts(mon)
        assert firing[0]["labels"]["severity"] == "critical"
    finally:
        db.check_output("systemctl start postgresql")
    assert wait_for(mon, 'pg_up{instance="fw-db-db1"} == 1')
