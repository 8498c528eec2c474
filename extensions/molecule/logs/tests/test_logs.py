# SPDX-License-Identifier: Apache-2.0
"""Fluent Bit 5.1.1 (the real binary, installed from a signed apt repository laid out like
upstream's) shipping the journal and a file to the real Loki 3.4.6.

fw-logs-1: Loki, Fluent Bit; fw-logs-2: Fluent Bit, node_exporter, Prometheus. Every HTTP call
runs with curl inside a test host. The tests run in file order: the outage test leaves Loki up.
"""
import time
import urllib.parse
import uuid

import pytest
import testinfra

import helpers
import promql  # tests/promql.py (extensions/molecule/conftest.py puts tests/ on sys.path)

LOKI = "http://127.0.0.1:3100"
HOSTS = ("fw-logs-1", "fw-logs-2")
REPO = "http://fw-logs-1:8080/debian/trixie"
OUTAGE_LINES = 300


@pytest.fixture(scope="module")
def loki():
    return testinfra.get_host("podman://fw-logs-1")


@pytest.fixture(scope="module")
def mon():
    return testinfra.get_host("podman://fw-logs-2")


@pytest.fixture(scope="module")
def hosts(loki, mon):
    return {"fw-logs-1": loki, "fw-logs-2": mon}


def query_range(loki, logql, limit=5000):
    now = time.time_ns()
    url = "%s/loki/api/v1/query_range?%s" % (LOKI, urllib.parse.urlencode(
        {"query": logql, "start": now - 900 * 10**9, "end": now + 60 * 10**9, "limit": limit}))
    data = helpers.get_json(loki, url, timeout=20)
    assert data["status"] == "success", data
    return data["data"]["result"]


def lines(loki, logql):
    """[(labels, line)] of every entry of the query."""
    return [(s["stream"], v[1]) for s in query_range(loki, logql) for v in s["values"]]


def whole(prefix, marker, numbered=False):
    """A LogQL filter matching the test's own lines only, whole ("<prefix> <marker>" or with " <n>")."""
    return '|~ "^%s %s%s$"' % (prefix, marker, " [0-9]+" if numbered else "")


def wait_count(loki, logql, count, timeout):
    def enough():
        found = lines(loki, logql)
        return found if len(found) >= count else None
    return helpers.wait_for("%d lines of %s" % (count, logql), enough, timeout=timeout, interval=2)


def journal(host, unit, text):
    """A journal entry from a unit of its own (its _SYSTEMD_UNIT is <unit>.service)."""
    host.check_output("systemd-run --quiet --wait --unit=%s -- /bin/echo %s", unit, text)


def append(host, text, count=None, path="/var/log/fleetwatch-test/app.log"):
    """Lines into a log file like /var/log's (root:adm 0640): Fluent Bit reads it through the adm group.
    One line ``text``, or ``count`` lines ``text <n>``."""
    create = "test -e %s || install -m 0640 -o root -g adm /dev/null %s" % (path, path)
    if count is None:
        write = "echo '%s' >> %s" % (text, path)
    else:
        write = 'for i in $(seq 1 %d); do echo "%s $i"; done >> %s' % (count, text, path)
    host.check_output(create + "; " + write)


# --- installed the users' way ----------------------------------------------------------------------

@pytest.mark.parametrize("name", HOSTS)
def test_installed_from_the_apt_repository(hosts, name):
    host = hosts[name]
    package = host.package("fluent-bit")
    assert package.is_installed and package.version == "5.1.1"
    policy = host.check_output("apt-cache policy fluent-bit")
    assert REPO in policy, policy
    sources = host.file("/etc/apt/sources.list.d/fluent-bit.sources").content_string
    assert "URIs: %s\n" % REPO in sources and "Suites: trixie\n" in sources
    if name == "fw-logs-1":  # key by URL, downloaded into the keyrings
        assert "Signed-By: /etc/apt/keyrings/fluent-bit.asc\n" in sources
        assert host.file("/etc/apt/keyrings/fluent-bit.asc").content_string.startswith("-----BEGIN PGP PUBLIC KEY BLOCK-----")
    else:  # key as content, inside the sources file
        assert "Signed-By:\n -----BEGIN PGP PUBLIC KEY BLOCK-----\n" in sources
    # apt checks the repository's signature: with another key it refuses the same repository
    only = "-o Dir::Etc::sourcelist=%s -o Dir::Etc::sourceparts=/nonexistent"
    good = host.run("apt-get update " + only % "/etc/apt/sources.list.d/fluent-bit.sources")
    assert good.rc == 0 and "W:" not in good.stderr and "E:" not in good.stderr, good.stderr
    host.check_output("sed 's|^Signed-By:.*|Signed-By: /usr/share/keyrings/debian-archive-keyring.gpg|; /^ /d' "
                      "/etc/apt/sources.list.d/fluent-bit.sources > /tmp/wrong-key.sources")
    bad = host.run("apt-get update " + only % "/tmp/wrong-key.sources")
    assert "OpenPGP signature verification failed" in bad.stderr and "Missing key" in bad.stderr, bad.stderr
    assert host.check_output("/opt/fluent-bit/bin/fluent-bit --version").startswith("Fluent Bit v5.1.1")


@pytest.mark.parametrize("name", HOSTS)
def test_runs_hardened_as_its_user_with_the_roles_config(hosts, name):
    host = hosts[name]
    pid = helpers.main_pid(host, "fluent-bit")
    assert host.check_output("readlink /proc/%s/exe", str(pid)) == "/opt/fluent-bit/bin/fluent-bit"
    assert host.check_output("ps -o user= -p %s", str(pid)) == "fluent-bit"
    groups = host.check_output("grep ^Groups: /proc/%s/status", str(pid)).split()[1:]
    assert {host.check_output("getent group systemd-journal | cut -d: -f3"),
            host.check_output("getent group adm | cut -d: -f3")} <= set(groups)
    assert "-c /etc/fluent-bit/fleetwatch.yaml" in host.check_output("tr '\\0' ' ' < /proc/%s/cmdline", str(pid))
    config = host.file("/etc/fluent-bit/fleetwatch.yaml")
    assert (config.user, config.group, config.mode) == ("root", "fluent-bit", 0o640)
    out = host.check_output("systemd-analyze security fluent-bit.service --no-pager | tail -1")
    score = float(out.split("exposure level for fluent-bit.service: ")[1].split()[0])
    assert score <= 2.0, out
    # its HTTP server answers (metrics for Prometheus, build info)
    info = helpers.curl(host, "http://127.0.0.1:2020/").json()
    assert info["fluent-bit"]["version"] == "5.1.1"


# --- journal and file lines come back from Loki with their labels ----------------------------------

@pytest.mark.parametrize("name", HOSTS)
def test_journal_and_file_lines_reach_loki_with_labels(loki, hosts, name):
    host = hosts[name]
    marker = "fleetwatch-logs-%s" % uuid.uuid4().hex
    unit = "fw-logtest-%s" % marker[-8:]
    journal(host, unit, "journal " + marker)
    append(host, "file " + marker)
    # (Loki logs the queries it runs, marker included, into fw-logs-1's journal: lines are matched whole)
    (stream, line), = wait_count(loki, '{host="%s", job="systemd-journal"} %s' % (name, whole("journal", marker)), 1, 90)
    assert line == "journal " + marker
    assert stream["unit"] == unit + ".service"
    assert (stream["host"], stream["job"], stream["env"]) == (name, "systemd-journal", "molecule")
    (stream, line), = wait_count(loki, '{host="%s", job="app"} %s' % (name, whole("file", marker)), 1, 90)
    assert line == "file " + marker
    assert (stream["host"], stream["job"], stream["env"]) == (name, "app", "molecule")
    assert "unit" not in stream


# --- Loki down for a while: nothing lost, nothing twice; a restart resends nothing -------------------

def firing(mon, alertname):
    """Instances for which the alert fires, from Prometheus' alerts API."""
    prom = helpers.Prometheus(mon, "http://127.0.0.1:9090")
    return sorted(a["labels"]["instance"] for a in prom.alerts()
                  if a["labels"]["alertname"] == alertname and a["state"] == "firing")


def test_lines_written_while_loki_is_down_all_arrive_once(loki, mon, hosts):
    marker = "fleetwatch-outage-%s" % uuid.uuid4().hex
    loki.check_output("systemctl stop loki")
    try:
        stopped = time.time()
        for name, host in sorted(hosts.items()):
            host.check_output("for i in $(seq 1 %d); do echo \"journal %s $i\"; done | systemd-cat -t fwoutage"
                              % (OUTAGE_LINES, marker))
            append(host, "file " + marker, count=OUTAGE_LINES)

        def retrying():
            counts = [float(helpers.curl(h, "http://127.0.0.1:2020/api/v2/metrics/prometheus").body.split(
                'fluentbit_output_retries_total{name="loki_0"} ')[1].split()[0]) for h in hosts.values()]
            return all(c > 0 for c in counts) and counts
        helpers.wait_for("both Fluent Bits retrying", retrying, timeout=60)
        # and their buffers hold the lines on disk
        for host in hosts.values():
            assert host.check_output("find /var/lib/fluent-bit/storage -name '*.flb' | wc -l") != "0"
        # the bundle's alert for a host that stopped sending logs fires for both (window 20 s here)
        helpers.wait_for("FluentBitLogsNotDelivered firing for both hosts",
                         lambda: firing(mon, "FluentBitLogsNotDelivered") == list(HOSTS), timeout=90, interval=2)
        time.sleep(max(0, 20 - (time.time() - stopped)))
    finally:
        loki.check_output("systemctl start loki")
    started = time.time()
    helpers.wait_for("Loki ready again", lambda: helpers.curl(loki, LOKI + "/ready").status == 200, timeout=120, interval=2)
    for name in sorted(hosts):
        for job in ("systemd-journal", "app"):
            prefix = "journal" if job == "systemd-journal" else "file"
            query = '{host="%s", job="%s"} %s' % (name, job, whole(prefix, marker, numbered=True))
            found = wait_count(loki, query, OUTAGE_LINES, timeout=180)
            texts = sorted(line for _labels, line in found)
            assert texts == sorted("%s %s %d" % (prefix, marker, i) for i in range(1, OUTAGE_LINES + 1)), query
    print("outage: %d lines per host and job written with Loki down for >= 20 s, all in Loki %.0f s after its start"
          % (OUTAGE_LINES, time.time() - started))
    # delivering again: the alert resolves
    helpers.wait_for("FluentBitLogsNotDelivered resolved",
                     lambda: firing(mon, "FluentBitLogsNotDelivered") == [], timeout=90, interval=2)
    # positions: a restart of Fluent Bit resends none of them. fw-logs-2's stays down until
    # FluentBitDown fires for it (after 4 s here).
    hosts["fw-logs-1"].check_output("systemctl restart fluent-bit")
    hosts["fw-logs-2"].check_output("systemctl stop fluent-bit")
    try:
        helpers.wait_for("FluentBitDown firing for fw-logs-2", lambda: firing(mon, "FluentBitDown") == ["fw-logs-2"],
                         timeout=90, interval=2)
    finally:
        hosts["fw-logs-2"].check_output("systemctl start fluent-bit")
    after = "fleetwatch-after-%s" % uuid.uuid4().hex
    for name, host in sorted(hosts.items()):
        journal(host, "fw-logtest-%s" % after[-8:], "journal " + after)
        append(host, "file " + after)
    for name in sorted(hosts):
        for job, prefix in (("systemd-journal", "journal"), ("app", "file")):
            wait_count(loki, '{host="%s", job="%s"} %s' % (name, job, whole(prefix, after)), 1, 90)
        for job, prefix in (("systemd-journal", "journal"), ("app", "file")):
            query = '{host="%s", job="%s"} %s' % (name, job, whole(prefix, marker, numbered=True))
            assert len(lines(loki, query)) == OUTAGE_LINES, query
            assert len(lines(loki, '{host="%s", job="%s"} %s' % (name, job, whole(prefix, after)))) == 1


# --- Prometheus scrapes Fluent Bit; the bundle's alerts read its series ----------------------------

def test_prometheus_scrapes_both_fluent_bits(mon):
    prom = helpers.Prometheus(mon, "http://127.0.0.1:9090")

    def up():
        targets = prom.targets("fluent_bit")
        return len(targets) == 2 and all(t["health"] == "up" for t in targets) and targets
    targets = helpers.wait_for("both Fluent Bit targets up", up, timeout=60)
    assert sorted((t["labels"]["instance"], t["scrapeUrl"]) for t in targets) == [
        (h, "http://%s:2020/api/v2/metrics/prometheus" % h) for h in HOSTS]
    delivered = prom.query('sum by (instance) (fluentbit_output_proc_records_total{job="fluent_bit"}) > 0')
    assert sorted(r["metric"]["instance"] for r in delivered) == list(HOSTS)


def test_the_bundles_fluent_bit_alerts_select_live_series_and_stay_silent(mon):
    prom = helpers.Prometheus(mon, "http://127.0.0.1:9090")
    rules = [r for g in prom.api("rules")["groups"] for r in g["rules"]
             if r["type"] == "alerting" and r["name"].startswith("FluentBit")]
    assert sorted(r["name"] for r in rules) == ["FluentBitDown", "FluentBitLogsDropped", "FluentBitLogsNotDelivered"]
    for rule in rules:
        for selector in promql.selectors(rule["query"]):
            assert prom.query("count(%s)" % selector), (rule["name"], selector)
        helpers.wait_for("%s silent" % rule["name"], lambda rule=rule: prom.query(rule["query"]) == [], timeout=60)
