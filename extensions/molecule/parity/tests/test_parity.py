# SPDX-License-Identifier: Apache-2.0
"""prometheus.prometheus parity on fw-parity-1, read from the live services (curl, ss, amtool,
systemd-analyze inside the host): a single Alertmanager with no cluster port; receivers in
Alertmanager's syntax (Opsgenie, Microsoft Teams) delivering to the test webhook receiver with
their secrets read from files; amtool working from /etc/amtool/config.yml; node_exporter answering
on both listen addresses without a textfile directory, with the systemd collector over D-Bus under
the unit's hardening, and a pre-hashed ($2y$) user logging in with its plaintext."""
import json
import re
import time

import pytest
import testinfra

import helpers

OG_KEY = "og-Key$'\"1"
TEAMS_URL = "http://fw-parity-1:8080/teams/hook-Secret-9"
AM_AUTH = ("operator", "am-Op'\"$pw")
# Debian's amtool build (the test mirror's) reads ~/.config/prometheus/amtool.yml instead of upstream's
# /etc/amtool/config.yml, which the role writes: the tests point a scratch HOME's file at the role's.
AMTOOL = ("mkdir -p /tmp/fw-amtool/.config/prometheus && ln -sf /etc/amtool/config.yml "
          "/tmp/fw-amtool/.config/prometheus/amtool.yml && HOME=/tmp/fw-amtool amtool")


@pytest.fixture(scope="module")
def host1():
    return testinfra.get_host("podman://fw-parity-1")


def test_a_single_alertmanager_opens_no_cluster_port(host1):
    sockets = host1.check_output("ss -H -lntu")
    assert not re.search(r":9094\s", sockets), sockets
    # Go writes a wildcard listener as *:port (one dual-stack socket)
    assert re.search(r"127\.0\.0\.1:9100\s", sockets) and re.search(r"(0\.0\.0\.0|\*|\[::\]):9110\s", sockets), sockets
    unit = host1.file("/etc/systemd/system/alertmanager.service").content_string
    assert '--cluster.listen-address=""' in unit and "--cluster.peer" not in unit and "gossip-interval" not in unit


def test_node_exporter_answers_on_both_addresses_without_a_textfile_directory(host1):
    ip = host1.check_output("hostname -I").split()[0]
    for url in ("http://127.0.0.1:9100/metrics", "http://%s:9110/metrics" % ip):
        ok = helpers.curl(host1, url, auth=("legacy", "legacy-Plain$1"))
        assert ok.status == 200 and "node_exporter_build_info" in ok.body, ok
        assert helpers.curl(host1, url, auth=("legacy", "legacy-Plain$2")).status == 401
        assert helpers.curl(host1, url, auth=("prometheus", "parity-scrape-pw")).status == 200
    unit = host1.file("/etc/systemd/system/node_exporter.service").content_string
    assert "textfile.directory" not in unit and not host1.file("/var/lib/node_exporter/textfile").exists
    web = host1.file("/etc/node_exporter/web.yml").content_string
    assert "$2y$10$ZYg37TqlgyiWnS1ZEcCk6uoUuve1yTtnKwWeRgwyKNtLSehuIvAGi" in web  # the hash as it was given


def test_the_systemd_collector_reads_units_over_dbus_under_the_hardening(host1):
    body = helpers.curl(host1, "http://127.0.0.1:9100/metrics", auth=("prometheus", "parity-scrape-pw")).body
    assert re.search(r'^node_systemd_unit_state\{name="alertmanager.service",state="active",type="simple"\} 1$', body, re.M), \
        [l for l in body.splitlines() if "systemd" in l][:10]
    assert not re.search(r'^node_scrape_collector_success\{collector="systemd"\} 0', body, re.M)


def exposure(host1, unit):
    out = host1.check_output("systemd-analyze security --offline=yes %s 2>&1 | tail -1" % unit)
    return float(re.search(r"exposure level .*?: ([0-9.]+)", out).group(1))


def test_the_systemd_collector_costs_no_exposure(host1):
    """The same unit with and without --collector.systemd, scored offline: the collector needed no relaxation."""
    live = float(re.search(r"exposure level .*?: ([0-9.]+)",
                           host1.check_output("systemd-analyze security node_exporter.service 2>&1 | tail -1")).group(1))
    assert live <= 2.0
    host1.run("sed '/--collector.systemd/d' /etc/systemd/system/node_exporter.service > /tmp/fw-ne-nosystemd.service")
    host1.run("cp /etc/systemd/system/node_exporter.service /tmp/fw-ne-systemd.service")
    without = exposure(host1, "/tmp/fw-ne-nosystemd.service")
    with_collector = exposure(host1, "/tmp/fw-ne-systemd.service")
    print("node_exporter exposure: live %.1f, offline with the systemd collector %.1f, without %.1f" % (live, with_collector, without))
    assert with_collector == without and with_collector <= 2.0


def test_receiver_secrets_are_files_not_config(host1):
    config = host1.file("/etc/alertmanager/alertmanager.yml").content_string
    assert OG_KEY not in config and "hook-Secret-9" not in config
    assert "api_key_file: /etc/alertmanager/secrets/opsgenie-opsgenie_configs-0-api_key" in config
    assert "webhook_url_file: /etc/alertmanager/secrets/teams-msteams_configs-0-webhook_url" in config
    for path, content in (("/etc/alertmanager/secrets/opsgenie-opsgenie_configs-0-api_key", OG_KEY),
                          ("/etc/alertmanager/secrets/teams-msteams_configs-0-webhook_url", TEAMS_URL)):
        secret = host1.file(path)
        assert (secret.user, secret.group, secret.mode) == ("root", "alertmanager", 0o640)
        assert host1.check_output("cat %s" % path) == content


def test_amtool_works_from_its_config_file(host1):
    for name in ("config.yml", "http_config.yml", "alertmanager.password"):
        item = host1.file("/etc/amtool/" + name)
        assert (item.user, item.group, item.mode) == ("root", "root", 0o640), name
    assert "alertmanager.url: http://127.0.0.1:9093" in host1.file("/etc/amtool/config.yml").content_string
    out = host1.run(AMTOOL + " -o json silence query")
    assert out.rc == 0, out.stderr
    assert isinstance(json.loads(out.stdout), list)
    # without the file, amtool gets no further than the login
    bare = host1.run("mkdir -p /tmp/fw-amtool-none && HOME=/tmp/fw-amtool-none amtool -o json silence query")
    assert bare.rc != 0 and "401" in bare.stderr + bare.stdout, (bare.stdout, bare.stderr)


def received(host1, path_prefix):
    lines = helpers.curl(host1, "http://127.0.0.1:8080/received").body.splitlines()
    return [json.loads(l) for l in lines if l.strip() and json.loads(l)["path"].startswith(path_prefix)]


def test_opsgenie_and_teams_deliver_with_their_secrets_from_files(host1):
    tag = str(int(time.time()))
    for name, severity in (("ParityCritical" + tag, "critical"), ("ParityWarning" + tag, "warning")):
        out = host1.run(AMTOOL + " alert add %s severity=%s instance=fw-parity-1" % (name, severity))
        assert out.rc == 0, out.stderr

    def delivered(prefix, name):
        return [r for r in received(host1, prefix) if name in json.dumps(r["payload"])]

    og = helpers.wait_for("the Opsgenie notification", lambda: delivered("/og/", "ParityCritical" + tag), timeout=60)
    assert og[0]["path"] == "/og/v2/alerts" and og[0]["authorization"] == "GenieKey " + OG_KEY
    teams = helpers.wait_for("the Teams notification", lambda: delivered("/teams/", "ParityWarning" + tag), timeout=60)
    assert teams[0]["path"] == "/teams/hook-Secret-9"
    assert "ParityCritical" not in json.dumps(teams[0]["payload"])  # routed by severity


def test_the_secrets_are_nowhere_else(host1):
    """Not in any process's argv, the journal or a file, besides the roles' secret files, the amtool password
    file and the test webhook receiver's records (its log file, and its access log lines in the journal, which
    show the Teams URL's path: test scaffolding, checked to be the only journal entries holding it)."""
    receiver = ["/var/lib/fw-webhook/*"]
    secrets = {"opsgenie api_key": OG_KEY, "teams webhook_url": "hook-Secret-9",
               "alertmanager operator password": AM_AUTH[1], "node_exporter prometheus password": "parity-scrape-pw"}
    found = helpers.find_secrets(host1, secrets, allowed={
        "opsgenie api_key": receiver, "teams webhook_url": receiver + ["/var/log/journal/*"],
        "alertmanager operator password": ["/etc/amtool/alertmanager.password"]})
    if ("teams webhook_url", "the journal") in found:
        entries = [json.loads(line) for line in host1.check_output("journalctl --no-pager -q -o json").splitlines() if line.strip()]
        units = set(e.get("_SYSTEMD_UNIT") for e in entries if "hook-Secret-9" in json.dumps(e))
        assert units == {"fw-webhook-receiver.service"}, units
        found.remove(("teams webhook_url", "the journal"))
    assert found == [], found
