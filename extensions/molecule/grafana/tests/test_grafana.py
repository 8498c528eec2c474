# SPDX-License-Identifier: Apache-2.0
"""The real Grafana (official archive) as the grafana role sets it up, read through its own API.

fw-grafana-1: Grafana, Prometheus (basic auth; Grafana's password has quotes and $), node_exporter;
fw-grafana-2: Loki, Alertmanager, node_exporter. Every HTTP call runs with curl inside a test host.
This scenario needs the Grafana artifact in the mirror (./requires): without it `make molecule`
reports it skipped with that reason.
"""
import json
import time

import pytest
import testinfra
import yaml

import helpers

GRAFANA = "http://127.0.0.1:3000"


@pytest.fixture(scope="module")
def graf():
    return testinfra.get_host("podman://fw-grafana-1")


@pytest.fixture(scope="module")
def logs():
    return testinfra.get_host("podman://fw-grafana-2")


@pytest.fixture(scope="module")
def secrets(graf):
    values = yaml.safe_load(open(__file__.rsplit("/tests/", 1)[0] + "/molecule.yml"))["provisioner"]["inventory"]["group_vars"]["all"]
    return {"admin": values["fw_test_admin_password"].replace("$$", "$"), "prom": values["fw_test_prom_password"].replace("$$", "$")}


@pytest.fixture(scope="module")
def api(graf, secrets):
    return helpers.Service(graf, GRAFANA, auth=("admin", secrets["admin"]))


def test_grafana_is_healthy_and_the_pinned_version(api):
    health = api.get_json("/api/health", auth=False)
    assert health["database"] == "ok"
    defaults = yaml.safe_load(open(__file__.rsplit("/extensions/molecule/", 1)[0] + "/roles/grafana/defaults/main.yml"))
    assert health["version"] == defaults["grafana_version"]


def secrets_of(api):
    return {"admin": api.auth[1]}


def test_admin_password_with_quotes_and_dollar_logs_in_and_nobody_else(api):
    assert api.get_json("/api/user")["login"] == "admin"
    assert api.call("/api/user", auth=False).status == 401, "anonymous access must be off"
    bad = helpers.Service(api.host, GRAFANA, auth=("admin", "admin"))
    assert bad.call("/api/user").status == 401
    # What Grafana runs with (Admin API, settings by section; secrets shown redacted).
    settings = api.get_json("/api/admin/settings")
    assert settings["auth.anonymous"]["enabled"] == "false"
    assert (settings["users"]["allow_sign_up"], settings["users"]["allow_org_create"]) == ("false", "false")
    assert settings["security"]["admin_password"] != secrets_of(api)["admin"]


def test_datasources_are_provisioned_and_linked(api):
    sources = dict((s["uid"], s) for s in api.get_json("/api/datasources"))
    assert sorted(sources) == ["alertmanager", "loki", "prometheus"]
    assert sources["prometheus"]["isDefault"] is True and sources["prometheus"]["url"] == "http://fw-grafana-1:9090"
    prometheus = api.get_json("/api/datasources/uid/prometheus")
    assert prometheus["basicAuth"] is True and prometheus["secureJsonFields"].get("basicAuthPassword") is True
    assert prometheus["readOnly"] is True
    loki = api.get_json("/api/datasources/uid/loki")
    assert loki["url"] == "http://fw-grafana-2:3100"


def test_a_query_through_grafana_reaches_prometheus_with_the_password(api):
    health = api.get_json("/api/datasources/uid/prometheus/health")
    assert health["status"] == "OK", health
    now = int(time.time() * 1000)
    body = {"from": str(now - 300000), "to": str(now), "queries": [
        {"refId": "A", "datasource": {"type": "prometheus", "uid": "prometheus"}, "expr": 'up{job="node_exporter"}',
         "instant": True, "range": False}]}
    answer = api.call("/api/ds/query", method="POST", data=body)
    assert answer.status == 200, answer
    frames = answer.json()["results"]["A"]["frames"]
    assert len(frames) == 2, frames  # node_exporter on both hosts


def test_a_logql_query_through_grafana_reaches_loki(api, logs):
    marker = "grafana-roundtrip-%d" % time.time_ns()
    push = {"streams": [{"stream": {"host": "fw-grafana-2", "job": "molecule"}, "values": [[str(time.time_ns()), marker]]}]}
    out = logs.run("curl -sS -o /dev/null -w '%%{http_code}' -H 'Content-Type: application/json' --data-binary %s "
                   "http://127.0.0.1:3100/loki/api/v1/push", json.dumps(push))
    assert out.stdout.strip() == "204", out
    now = int(time.time() * 1000)
    body = {"from": str(now - 300000), "to": str(now + 60000), "queries": [
        {"refId": "A", "datasource": {"type": "loki", "uid": "loki"}, "expr": '{job="molecule"} |= "%s"' % marker,
         "queryType": "range"}]}

    def found():
        answer = api.call("/api/ds/query", method="POST", data=body)
        return answer.status == 200 and marker in answer.body
    helpers.wait_for("the pushed line through Grafana's Loki data source", found, timeout=60, interval=2)


def test_dashboards_are_provisioned_in_their_folder_with_stable_uids(api):
    found = dict((d["uid"], d) for d in api.get_json("/api/search?type=dash-db"))
    assert {"fw-hosts", "fw-postgresql", "fw-redis", "fw-stack", "fw-logs"} <= set(found)
    assert {found[u]["folderTitle"] for u in ("fw-hosts", "fw-logs")} == {"Fleetwatch"}
    hosts = api.get_json("/api/dashboards/uid/fw-hosts")
    assert hosts["meta"]["provisioned"] is True and hosts["dashboard"]["title"] == "Hosts"


def test_files_modes_and_secrets_nowhere_else(graf, logs, secrets):
    for path in ("/etc/grafana/grafana.ini", "/etc/grafana/secrets/admin_password", "/etc/grafana/provisioning/datasources/fleetwatch.yml"):
        item = graf.file(path)
        assert (item.user, item.group, item.mode) == ("root", "grafana", 0o640), path
    assert graf.file("/etc/grafana/secrets/admin_password").content_string == secrets["admin"]
    helpers.check_secret_search(graf)
    helpers.assert_secrets_nowhere([graf, logs], {"grafana admin": secrets["admin"], "prometheus password": secrets["prom"]}, allowed={
        "grafana admin": ["/etc/grafana/secrets/admin_password"],
        "prometheus password": ["/etc/grafana/provisioning/datasources/fleetwatch.yml"]})


def test_unit_is_hardened(graf):
    out = graf.check_output("systemd-analyze security grafana.service --no-pager | tail -1")
    exposure = float(out.split("exposure level for grafana.service:")[1].split()[0])
    assert exposure <= 2.0, out
