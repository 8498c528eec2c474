# SPDX-License-Identifier: Apache-2.0
"""The scrape, alerting and control paths in the setups the roles advertise, read from the live
services (curl inside the test hosts, with the scenario's CA, client certificate and passwords).

fw-cp-prom: Prometheus (mutual TLS + basic auth, under /prom/), Alertmanager am1 (basic auth, under
/amprefix/, cluster on its IPv6 address), node_exporter on its IPv4 address only. fw-cp-am6:
Alertmanager reached over IPv6 only (mutual TLS, /amprefix/). fw-cp-node: node_exporter requiring a
client certificate. Addresses and passwords as in molecule.yml.
"""
import pytest
import testinfra

import helpers

TLS = "/etc/fleetwatch-tls"
PROM_IP4, PROM_IP6 = "10.213.37.10", "fd42:f1ee:7::10"
AM6_IP4, AM6_IP6 = "10.213.37.20", "fd42:f1ee:7::20"
ADMIN = ("admin", "cp-admin-Zc1-secret")
SECRETS = {
    "prometheus_basic_auth_users.admin": "cp-admin-Zc1-secret",
    "prometheus_basic_auth_users.prometheus": "cp-self-Zc2-secret",
    "alertmanager_basic_auth_users.prometheus (fw-cp-prom)": "cp-am1-Zc3-secret",
}
CLIENT = {"cacert": TLS + "/ca.crt", "cert": TLS + "/client.crt", "key": TLS + "/client.key"}
PROM_URL = "https://fw-cp-prom:9090/prom"
AM1_URL = "http://fw-cp-prom:9093/amprefix"
AM6_URL = "https://[%s]:9093/amprefix" % AM6_IP6


@pytest.fixture(scope="module")
def prom_host():
    return testinfra.get_host("podman://fw-cp-prom")


@pytest.fixture(scope="module")
def am6_host():
    return testinfra.get_host("podman://fw-cp-am6")


@pytest.fixture(scope="module")
def node_host():
    return testinfra.get_host("podman://fw-cp-node")


@pytest.fixture(scope="module")
def prom(prom_host):
    return helpers.Prometheus(prom_host, PROM_URL, auth=ADMIN, **CLIENT)


@pytest.fixture(scope="module")
def am1(prom_host):
    return helpers.Service(prom_host, AM1_URL, auth=("prometheus", "cp-am1-Zc3-secret"))


@pytest.fixture(scope="module")
def am6(prom_host):
    return helpers.Service(prom_host, AM6_URL, **CLIENT)


def test_every_inventory_target_is_up_at_its_address_and_path(prom):
    """Each target is scraped where its service listens (listen IP, IPv6 in brackets, the host name
    for 0.0.0.0) under its route prefix, with TLS, client certificate and basic auth as it needs."""
    expected = {
        ("prometheus", "fw-cp-prom"): "https://fw-cp-prom:9090/prom/metrics",
        ("alertmanager", "fw-cp-prom"): "http://fw-cp-prom:9093/amprefix/metrics",
        ("alertmanager", "fw-cp-am6"): "https://[%s]:9093/amprefix/metrics" % AM6_IP6,
        ("node_exporter", "fw-cp-prom"): "http://%s:9100/metrics" % PROM_IP4,
        ("node_exporter", "fw-cp-node"): "https://fw-cp-node:9100/metrics",
    }

    def targets():
        found = {(t["labels"]["job"], t["labels"]["instance"]): t for t in prom.targets()}
        return found if set(found) == set(expected) and all(t["health"] == "up" for t in found.values()) else None
    found = helpers.wait_for("every target up", targets, timeout=60)
    assert {key: t["scrapeUrl"] for key, t in found.items()} == expected


def test_prometheus_answers_only_with_client_certificate_and_password(prom):
    assert prom.call("/api/v1/targets", cert=False).status is None  # TLS handshake refused
    assert prom.call("/api/v1/targets", auth=False).status == 401
    wrong = helpers.Prometheus(prom.host, PROM_URL, auth=("admin", "wrong"), **CLIENT)
    assert wrong.call("/api/v1/targets").status == 401
    assert prom.call("/api/v1/targets").status == 200
    # The API lives under the route prefix only.
    assert helpers.Service(prom.host, "https://fw-cp-prom:9090", auth=ADMIN, **CLIENT).call("/api/v1/targets").status == 404


def test_prometheus_sends_to_both_alertmanagers_under_their_prefix(prom):
    expected = ["http://fw-cp-prom:9093/amprefix/api/v2/alerts", "https://[%s]:9093/amprefix/api/v2/alerts" % AM6_IP6]

    def urls():
        found = prom.alertmanager_urls()
        return found if len(found) == 2 else None
    assert helpers.wait_for("two Alertmanagers", urls, timeout=30) == expected


@pytest.mark.parametrize("name", ["am1", "am6"])
def test_the_watchdog_reaches_each_alertmanager(request, name):
    """Alerts are not shared by the cluster: each Alertmanager has the Watchdog from Prometheus itself."""
    am = request.getfixturevalue(name)

    def watchdog():
        alerts = am.get_json("/api/v2/alerts")
        return [a for a in alerts if a["labels"].get("alertname") == "Watchdog"]
    found = helpers.wait_for("the Watchdog on %s" % name, watchdog, timeout=60)
    assert found[0]["labels"]["cluster"] == "controlpath"
    assert found[0]["generatorURL"].startswith("https://fw-cp-prom:9090/prom/")


def test_alertmanagers_form_a_cluster_of_two_over_ipv6(am1, am6, prom_host):
    for name, am in (("am1", am1), ("am6", am6)):
        def status(am=am):
            cluster = am.get_json("/api/v2/status")["cluster"]
            return cluster if cluster["status"] == "ready" and len(cluster.get("peers") or []) == 2 else None
        cluster = helpers.wait_for("a ready cluster of two on %s" % name, status, timeout=60)
        assert sorted(p["address"] for p in cluster["peers"]) == sorted(["[%s]:9094" % AM6_IP6, "[%s]:9094" % PROM_IP6])
    # am1's peer flag names am6 by its bracketed IPv6 address.
    pid = helpers.main_pid(prom_host, "alertmanager")
    argv = prom_host.check_output("tr '\\0' '\\n' < /proc/%s/cmdline", str(pid)).splitlines()
    assert "--cluster.peer=[%s]:9094" % AM6_IP6 in argv


def test_alertmanager_am6_listens_on_its_ipv6_address_only(am6_host):
    for address in ("127.0.0.1", AM6_IP4, "[::1]"):
        refused = am6_host.run("curl -sS -o /dev/null --max-time 5 -k https://%s:9093/amprefix/-/ready" % address)
        assert refused.rc == 7, (address, refused.stderr)  # connection refused
    ok = helpers.curl(am6_host, AM6_URL + "/-/ready", **CLIENT)
    assert ok.status == 200, ok
    assert helpers.curl(am6_host, AM6_URL + "/-/ready", cacert=CLIENT["cacert"]).status is None  # no client certificate


def test_node_exporter_listens_on_its_ip_only(prom_host):
    assert prom_host.run("curl -sS -o /dev/null --max-time 5 http://127.0.0.1:9100/metrics").rc == 7  # refused
    assert prom_host.run("curl -sS -o /dev/null --max-time 5 http://[::1]:9100/metrics").rc == 7
    ok = helpers.curl(prom_host, "http://%s:9100/metrics" % PROM_IP4)
    assert ok.status == 200 and "node_exporter_build_info" in ok.body


def test_node_exporter_requires_a_client_certificate(prom_host):
    url = "https://fw-cp-node:9100/metrics"
    assert helpers.curl(prom_host, url, cacert=CLIENT["cacert"]).status is None
    ok = helpers.curl(prom_host, url, **CLIENT)
    assert ok.status == 200 and "node_exporter_build_info" in ok.body


@pytest.mark.parametrize("path", ["/prom/-/quit", "/prom/-/reload", "/-/quit"])
def test_an_unauthenticated_client_cannot_stop_or_reload_prometheus(prom, prom_host, path):
    pid = helpers.main_pid(prom_host, "prometheus")
    assert pid
    reloads = prom.query("prometheus_config_last_reload_success_timestamp_seconds")[0]["value"][1]
    root = helpers.Service(prom_host, "https://fw-cp-prom:9090", **CLIENT)
    assert root.call(path, method="POST").status == 401
    assert root.call(path, method="POST", cert=False).status is None
    # Even with the password, the lifecycle API is off by default.
    if path == "/prom/-/reload":
        assert helpers.Service(prom_host, "https://fw-cp-prom:9090", auth=ADMIN, **CLIENT).call(
            path, method="POST").status == 403
    assert helpers.unit_active(prom_host, "prometheus")
    assert helpers.main_pid(prom_host, "prometheus") == pid
    assert prom.call("/-/ready").status == 200
    assert prom.query("prometheus_config_last_reload_success_timestamp_seconds")[0]["value"][1] == reloads


def test_secrets_are_in_the_secret_files_only(prom_host, am6_host, node_host):
    helpers.assert_secrets_nowhere([prom_host, am6_host, node_host], SECRETS)


def test_the_secret_search_works(prom_host):
    """It fails when grep fails, finds a planted secret, and sees the scrape passwords in their files."""
    helpers.check_secret_search(prom_host)
    assert helpers.grep_files(prom_host, ["cp-self-Zc2-secret"], ["/etc/prometheus"]) == [
        "/etc/prometheus/secrets/prometheus.password"]
