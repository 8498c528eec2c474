# SPDX-License-Identifier: Apache-2.0
"""Testinfra checks of postgres_exporter and redis_exporter against the real PostgreSQL and Redis
servers of fw-db-db1 (two of each), scraped by the Prometheus on fw-db-mon1 through its
inventory-driven jobs alone (queried from inside that host with curl).

The tests run in file order; the last one stops the main PostgreSQL cluster (and starts it again).
"""
import re

import pytest
import testinfra

import helpers

# As in molecule.yml (the $$ there is one $).
PG_PASSWORD = "pg_Zq7-PGSECRET-\"q\"$d\\b'x"
PG2_PASSWORD = "pg2_Zq6-PG2SECRET-\"q\"$d\\b'x"
PG_WRONG_PASSWORD = "wrong_Zq4-PGWRONG-\"q\"$d\\b'x"
REDIS_PASSWORD = "rd Zq8-RDSECRET-\"q\"$d\\b'x"
REDIS2_PASSWORD = "rd2 Zq5-RD2SECRET-\"q\"$d\\b'x"
SCRAPE = ("prometheus", "scrape-Zq9-secret")
SECRETS = {
    "postgres_exporter_db_password (main)": PG_PASSWORD,
    "postgres_exporter_instances[second].password": PG2_PASSWORD,
    "postgres_exporter_instances[wrongpw].password": PG_WRONG_PASSWORD,
    "redis_exporter_redis_password (main)": REDIS_PASSWORD,
    "redis_exporter_instances[second].password": REDIS2_PASSWORD,
    "exporters' basic auth password (Prometheus' scrape password)": SCRAPE[1],
}
# A Redis server's own configuration holds its requirepass (the server's secret, set by prepare.yml).
SERVER_FILES = {
    "redis_exporter_redis_password (main)": ["/etc/redis/redis.conf"],
    "redis_exporter_instances[second].password": ["/etc/redis/redis-second.conf"],
}
# (unit, port, instance_name) of every exporter instance.
POSTGRES = [("postgres_exporter", 9187, "main"), ("postgres_exporter-second", 9189, "second"),
            ("postgres_exporter-wrongpw", 9188, "wrongpw")]
REDIS = [("redis_exporter", 9121, "main"), ("redis_exporter-second", 9122, "second")]
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


@pytest.fixture(scope="module")
def prom(mon):
    return helpers.Prometheus(mon, "http://localhost:9090")


def scrape(db, port, auth=True):
    """(HTTP status, body) of an exporter's /metrics on fw-db-db1."""
    response = helpers.curl(db, "https://localhost:%d/metrics" % port, auth=SCRAPE if auth else None, insecure=True)
    assert response.rc == 0, response
    return response.status, response.body


def wait_for_query(prom, expr, timeout=60):
    return helpers.wait_for(expr, lambda: prom.query(expr), timeout=timeout)


@pytest.mark.parametrize("service", [unit for unit, _port, _name in POSTGRES + REDIS]
                         + ["postgresql@*-main", "postgresql@*-second", "redis-server", "redis-server@second"])
def test_services_running(db, service):
    if "*" in service:
        service = db.check_output("systemctl list-units --plain --no-legend %s.service | awk '{print $1}'", service)
    assert db.service(service).is_running
    if "exporter" in service:
        assert db.service(service).is_enabled


@pytest.mark.parametrize("unit", [unit for unit, _port, _name in POSTGRES + REDIS])
def test_units_are_hardened(db, unit):
    out = db.check_output("systemd-analyze security %s.service 2>&1 | tail -1", unit)
    score = float(re.search(r"exposure level for \S+: ([0-9.]+)", out).group(1))
    assert score <= 2.0, out


@pytest.mark.parametrize("name,user,count", [("postgres_exporter", "postgres_exporter", 3),
                                             ("redis_exporter", "redis_exporter", 2)])
def test_exporters_run_unprivileged(db, name, user, count):
    users = db.check_output("ps -o user= -C %s", name).split()
    assert users == [user] * count


@pytest.mark.parametrize("port", [5432, 5433])
def test_monitoring_role_is_least_privilege(db, port):
    out = db.check_output(
        "runuser -u postgres -- psql -X -A -t -p %s -c \"SELECT rolsuper, rolcreaterole, rolcreatedb, "
        "pg_has_role('postgres_exporter', 'pg_monitor', 'MEMBER') FROM pg_roles WHERE rolname = 'postgres_exporter'\"",
        str(port))
    assert out.strip() == "f|f|f|t"


@pytest.mark.parametrize("port", [port for _unit, port, _name in POSTGRES + REDIS])
def test_endpoints_need_tls_and_basic_auth(db, port):
    assert scrape(db, port, auth=False)[0] == 401
    assert db.run("curl -sf -o /dev/null http://localhost:%s/metrics", str(port)).rc != 0
    status, body = scrape(db, port)
    assert status == 200 and "# HELP" in body


def test_exporters_see_their_servers(db):
    assert re.search(r"^pg_up 1$", scrape(db, 9187)[1], re.M)
    assert re.search(r"^pg_up 1$", scrape(db, 9189)[1], re.M)
    assert re.search(r"^pg_up 0$", scrape(db, 9188)[1], re.M)
    assert re.search(r"^redis_up 1$", scrape(db, 9121)[1], re.M)
    assert re.search(r"^redis_up 1$", scrape(db, 9122)[1], re.M)


def test_each_instance_reaches_its_own_server(db):
    """The second instances read the second servers (their port), not the main ones."""
    assert re.search(r'^pg_settings_port\S* 5432$', scrape(db, 9187)[1], re.M)
    assert re.search(r'^pg_settings_port\S* 5433$', scrape(db, 9189)[1], re.M)
    assert re.search(r'^redis_instance_info\{[^}]*tcp_port="6379"', scrape(db, 9121)[1], re.M)
    assert re.search(r'^redis_instance_info\{[^}]*tcp_port="6380"', scrape(db, 9122)[1], re.M)


def test_custom_query_runs(db):
    assert re.search(r"^pg_fleetwatch_answer\{[^}]*\} 42$", scrape(db, 9187)[1], re.M)


def test_redis_key_metrics(db):
    body = scrape(db, 9121)[1]
    assert re.search(r'^redis_key_group_count\{db="db0",key_group="fleetwatch"\} 1$', body, re.M)
    assert re.search(r'^redis_key_size\{db="db0",key="fleetwatch:single"\} \d+$', body, re.M)


@pytest.mark.parametrize("job,instances", [("postgres_exporter", POSTGRES), ("redis_exporter", REDIS)])
def test_prometheus_scrapes_every_instance_from_the_inventory(prom, job, instances):
    """No hand-written scrape config: the inventory-driven job has one up target per instance,
    each labelled with its instance_name, at the instance's own port."""
    expected = {name: "https://fw-db-db1:%d/metrics" % port for _unit, port, name in instances}

    def targets():
        found = {t["labels"].get("instance_name"): t for t in prom.targets(job)}
        return found if set(found) == set(expected) and all(t["health"] == "up" for t in found.values()) else None
    found = helpers.wait_for("every %s instance up" % job, targets, timeout=60)
    assert {name: t["scrapeUrl"] for name, t in found.items()} == expected
    assert {t["labels"]["instance"] for t in found.values()} == {"fw-db-db1"}


@pytest.mark.parametrize("expr,expected", [
    ('pg_up{job="postgres_exporter"}', {"main": "1", "second": "1", "wrongpw": "0"}),
    ('redis_up{job="redis_exporter"}', {"main": "1", "second": "1"}),
])
def test_prometheus_sees_each_database_by_instance_name(prom, expr, expected):
    def values():
        found = {r["metric"]["instance_name"]: r["value"][1] for r in prom.query(expr)}
        return found if found == expected else None
    helpers.wait_for("%s == %s" % (expr, expected), values, timeout=60)


def test_prometheus_has_no_hand_written_scrape_config(mon):
    config = mon.file("/etc/prometheus/prometheus.yml").content_string
    assert "9188" not in config and "9189" not in config and "9122" not in config
    assert "postgres_exporter_wrongpw" not in config


@pytest.mark.parametrize("collector,metric", sorted(COLLECTOR_METRICS.items()))
def test_metric_of_each_enabled_collector_in_prometheus(prom, collector, metric):
    assert wait_for_query(prom, 'count(%s{instance="fw-db-db1",instance_name="main"})' % metric), \
        "no %s (collector %s)" % (metric, collector)


def test_disabled_collector_is_off(db):
    assert not re.search(r"^pg_roles_connection_limit", scrape(db, 9187)[1], re.M)


def test_environment_files_are_private(db):
    for path, group in (("/etc/postgres_exporter/main.env", "postgres_exporter"),
                        ("/etc/postgres_exporter/second.env", "postgres_exporter"),
                        ("/etc/postgres_exporter/wrongpw.env", "postgres_exporter"),
                        ("/etc/redis_exporter/main.env", "redis_exporter"),
                        ("/etc/redis_exporter/second.env", "redis_exporter")):
        f = db.file(path)
        assert (f.user, f.group, f.mode) == ("root", group, 0o600), path
    assert "Zq7-PGSECRET" in db.file("/etc/postgres_exporter/main.env").content_string
    assert "Zq6-PG2SECRET" in db.file("/etc/postgres_exporter/second.env").content_string
    assert "Zq8-RDSECRET" in db.file("/etc/redis_exporter/main.env").content_string
    assert "Zq5-RD2SECRET" in db.file("/etc/redis_exporter/second.env").content_string


def test_passwords_nowhere_else(db, mon):
    """No password or scrape password in the process list, the journal, or any file of either host
    but the roles' secret files (and each Redis server's own configuration for its password)."""
    helpers.assert_secrets_nowhere([db, mon], SECRETS, allowed=SERVER_FILES)


def test_the_secret_search_works(db):
    """It fails when grep fails, finds a planted secret, and finds the passwords in their files:
    the PostgreSQL passwords in the environment files only (the servers keep SCRAM verifiers)."""
    helpers.check_secret_search(db)
    for token, instance in (("Zq7-PGSECRET", "main"), ("Zq6-PG2SECRET", "second")):
        found = [f for f in helpers.grep_files(db, [token], ["/etc", "/var", "/run", "/opt", "/usr/local", "/root", "/tmp"])
                 if not f.startswith("/var/lib/fleetwatch/state/postgres_exporter.good/")]
        assert found == ["/etc/postgres_exporter/%s.env" % instance], found


def environ(db, service):
    pid = helpers.main_pid(db, service)
    raw = db.check_output("tr '\\0' '\\n' < /proc/%s/environ", str(pid))
    return dict(line.split("=", 1) for line in raw.splitlines() if "=" in line)


def test_passwords_with_special_characters_reach_the_exporters_unchanged(db):
    """Quotes, $, backslash and spaces survive the environment file (systemd's quoting rules)."""
    assert environ(db, "postgres_exporter")["DATA_SOURCE_PASS"] == PG_PASSWORD
    assert environ(db, "postgres_exporter-second")["DATA_SOURCE_PASS"] == PG2_PASSWORD
    assert environ(db, "redis_exporter")["REDIS_PASSWORD"] == REDIS_PASSWORD
    assert environ(db, "redis_exporter-second")["REDIS_PASSWORD"] == REDIS2_PASSWORD


def test_postgresql_down_alert_fires_for_the_stopped_cluster_only(db, prom):
    main = db.check_output("systemctl list-units --plain --no-legend 'postgresql@*-main.service' | awk '{print $1}'")
    assert main

    def firing(name):
        return [a for a in prom.alerts() if a["labels"]["alertname"] == "PostgreSQLDown"
                and a["labels"].get("instance_name") == name and a["state"] == "firing"]
    assert firing("main") == [] and firing("second") == []
    db.check_output("systemctl stop %s", main)
    try:
        alert = helpers.wait_for("PostgreSQLDown for main", lambda: firing("main"), timeout=90)[0]
        assert alert["labels"]["severity"] == "critical"
        assert alert["labels"]["instance"] == "fw-db-db1"
        assert prom.query('pg_up{instance_name="second"}')[0]["value"][1] == "1"
        assert firing("second") == []
    finally:
        db.check_output("systemctl start %s", main)
    assert wait_for_query(prom, 'pg_up{instance_name="main"} == 1')
