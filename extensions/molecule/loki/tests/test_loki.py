# SPDX-License-Identifier: Apache-2.0
"""Loki 3.4.6 (the real binary) read through its own APIs, and the Prometheus and Alertmanager
around it.

fw-loki-1: Loki, node_exporter; fw-loki-2: Prometheus, Alertmanager, node_exporter. Every HTTP
call runs with curl inside a test host.
"""
import json
import time
import urllib.parse
import uuid

import pytest
import testinfra
import yaml

import helpers

LOKI = "http://127.0.0.1:3100"


@pytest.fixture(scope="module")
def loki():
    return testinfra.get_host("podman://fw-loki-1")


@pytest.fixture(scope="module")
def mon():
    return testinfra.get_host("podman://fw-loki-2")


def push(host, labels, line):
    body = json.dumps({"streams": [{"stream": labels, "values": [[str(time.time_ns()), line]]}]})
    out = host.run("curl -sS -o /dev/null -w '%%{http_code}' -H 'Content-Type: application/json' "
                   "--data-binary %s %s/loki/api/v1/push", body, LOKI)
    assert out.rc == 0 and out.stdout.strip() == "204", out


def query_range(host, logql):
    now = time.time_ns()
    url = "%s/loki/api/v1/query_range?%s" % (LOKI, urllib.parse.urlencode(
        {"query": logql, "start": now - 600 * 10**9, "end": now + 60 * 10**9, "limit": 100}))
    data = helpers.get_json(host, url)
    assert data["status"] == "success", data
    return data["data"]["result"]


def test_loki_is_ready_and_is_the_real_3_4_6(loki):
    response = helpers.curl(loki, LOKI + "/ready")
    assert response.status == 200 and response.body.strip() == "ready", response
    info = helpers.get_json(loki, LOKI + "/loki/api/v1/status/buildinfo")
    assert info["version"] == "3.4.6", info
    assert loki.check_output("loki --version 2>&1 | head -1").startswith("loki, version 3.4.6")


def test_config_tsdb_v13_retention_and_limits(loki):
    config = loki.file("/etc/loki/loki.yml")
    assert (config.user, config.group, config.mode) == ("root", "loki", 0o640)
    loaded = yaml.safe_load(loki.check_output("cat /etc/loki/loki.yml"))
    schema = loaded["schema_config"]["configs"][0]
    assert (schema["store"], schema["schema"], schema["object_store"]) == ("tsdb", "v13", "filesystem")
    assert loaded["compactor"]["retention_enabled"] is True
    assert loaded["limits_config"]["max_line_size"] == "64KB"
    assert loaded["ruler"]["alertmanager_url"] == "http://fw-loki-2:9093"
    # What Loki itself runs with (its /config endpoint).
    running = yaml.safe_load(helpers.curl(loki, LOKI + "/config").body)
    assert helpers.seconds(running["limits_config"]["retention_period"]) == helpers.seconds(loaded["limits_config"]["retention_period"]) > 0
    assert running["limits_config"]["ingestion_rate_mb"] == 2


def test_grpc_listens_on_loopback_only(loki):
    listening = loki.check_output("ss -Htlnp")
    assert "127.0.0.1:9096" in listening
    assert "0.0.0.0:9096" not in listening and "*:9096" not in listening


def test_a_pushed_line_comes_back_with_its_labels(loki):
    marker = "fleetwatch-molecule-%s" % uuid.uuid4().hex
    push(loki, {"job": "molecule", "host": "fw-loki-1", "unit": "test.service"}, "hello %s" % marker)

    def found():
        return [s for s in query_range(loki, '{job="molecule", host="fw-loki-1"} |= "%s"' % marker) if s["values"]]
    streams = helpers.wait_for("the pushed line in a LogQL query", found, timeout=60)
    assert streams[0]["stream"]["job"] == "molecule"
    assert streams[0]["stream"]["host"] == "fw-loki-1"
    assert streams[0]["stream"]["unit"] == "test.service"
    assert streams[0]["values"][0][1] == "hello %s" % marker


def test_the_ruler_loaded_the_shipped_and_the_users_rules(loki):
    def groups():
        data = helpers.get_json(loki, LOKI + "/prometheus/api/v1/rules")
        return {g["name"]: [r["name"] for r in g["rules"]] for g in data["data"]["groups"]}
    loaded = helpers.wait_for("both rule groups", lambda: len(groups()) >= 2 and groups(), timeout=60)
    assert loaded["fleetwatch-logs"] == ["LogErrorLinesHigh"]
    assert loaded["molecule"] == ["MoleculeLogMarker"]


def test_a_ruler_alert_fires_into_alertmanager(loki, mon):
    push(loki, {"job": "molecule", "host": "fw-loki-1"}, "fleetwatch-alert-marker %s" % uuid.uuid4().hex)

    def alert():
        alerts = helpers.get_json(mon, "http://127.0.0.1:9093/api/v2/alerts")
        return [a for a in alerts if a["labels"].get("alertname") == "MoleculeLogMarker"]
    fired = helpers.wait_for("MoleculeLogMarker in Alertmanager", alert, timeout=120, interval=2)
    assert fired[0]["labels"]["host"] == "fw-loki-1"
    assert fired[0]["labels"]["severity"] == "warning"


def test_prometheus_scrapes_loki_from_the_inventory(mon):
    prom = helpers.Prometheus(mon, "http://127.0.0.1:9090")

    def up():
        targets = prom.targets("loki")
        return [t for t in targets if t["health"] == "up"] and targets
    targets = helpers.wait_for("Loki's target up", up, timeout=60)
    assert [(t["labels"]["instance"], t["scrapeUrl"]) for t in targets] == [("fw-loki-1", "http://fw-loki-1:3100/metrics")]
    assert prom.query('loki_build_info{job="loki", instance="fw-loki-1", version="3.4.6"}')


def test_unit_is_hardened(loki):
    out = loki.check_output("systemd-analyze security loki.service --no-pager | tail -1")
    score = float(out.split("exposure level for loki.service: ")[1].split()[0])
    assert score <= 2.0, out
    assert loki.user("loki").shell in ("/usr/sbin/nologin", "/sbin/nologin", "/bin/false")


def test_loki_down_fires_against_the_real_loki(loki, mon):
    """The rule bundle's LokiDown (up{job="loki"} == 0): silent while Loki runs, firing for
    fw-loki-1 once Loki is stopped (for: 4s here); Loki is started again and ready afterwards."""
    prom = helpers.Prometheus(mon, "http://127.0.0.1:9090")

    def loki_down(state):
        return [a for a in prom.alerts() if a["labels"]["alertname"] == "LokiDown" and a["state"] == state]
    assert not loki_down("firing") and not loki_down("pending")
    loki.check_output("systemctl stop loki.service")
    try:
        alerts = helpers.wait_for("LokiDown firing", lambda: loki_down("firing"), timeout=90, interval=2)
        assert (alerts[0]["labels"]["instance"], alerts[0]["labels"]["job"]) == ("fw-loki-1", "loki")
        assert alerts[0]["labels"]["severity"] == "critical"
    finally:
        loki.check_output("systemctl start loki.service")
        helpers.wait_for("Loki ready again", lambda: helpers.curl(loki, LOKI + "/ready").body.strip() == "ready",
                         timeout=120, interval=2)
    helpers.wait_for("LokiDown resolved", lambda: not loki_down("firing"), timeout=90, interval=2)
