# SPDX-License-Identifier: Apache-2.0
"""The verify playbook against the scenario's hosts, and the scheduled jobs on the controller host.

fw-verify-1: Prometheus, Alertmanager, node_exporter, the scheduler role's timers; fw-verify-2:
node_exporter. The playbook runs from this machine (ansible-playbook with Molecule's inventory);
the scheduled runs on fw-verify-1 (started with systemctl start, as the timers start them). The
tests run in file order: a passing verification, a failing one, the verify timer, the broken backup.
"""
import os
import subprocess
import time
import xml.etree.ElementTree as ET

import pytest
import testinfra

import helpers

# extensions/molecule/verify/tests/test_verify.py
ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))))
PROM = "http://127.0.0.1:9090"
# Prometheus' second user (the tests' curl goes through a shell; verify itself uses admin, whose
# password has a quote and a $)
AUTH = ("prometheus", "self-scrape-pw")
TEXTFILE = "/var/lib/node_exporter/textfile"


@pytest.fixture(scope="module")
def mon():
    return testinfra.get_host("podman://fw-verify-1")


@pytest.fixture(scope="module")
def app():
    return testinfra.get_host("podman://fw-verify-2")


@pytest.fixture(scope="module")
def prometheus(mon):
    return helpers.Prometheus(mon, PROM, auth=AUTH)


def inventory():
    path = os.environ.get("MOLECULE_INVENTORY_FILE")
    if path and os.path.exists(path):
        return os.path.dirname(path)
    return os.path.join(os.environ["MOLECULE_EPHEMERAL_DIRECTORY"], "inventory")


def run_verify(tmp_path, *extra):
    """ansible-playbook fleetwatch.observability.verify (the collection's playbook) from this machine."""
    junit = tmp_path / "junit.xml"
    env = dict(os.environ, ANSIBLE_COLLECTIONS_PATH=os.path.join(ROOT, ".cache", "collections"),
               ANSIBLE_CONFIG=os.path.join(ROOT, "ansible.cfg"), ANSIBLE_FORCE_COLOR="0", ANSIBLE_NOCOLOR="1")
    proc = subprocess.run(["ansible-playbook", "-i", inventory(), "fleetwatch.observability.verify",
                           "-e", "fleetwatch_verify_junit_path=%s" % junit] + list(extra),
                          stdout=subprocess.PIPE, stderr=subprocess.STDOUT, universal_newlines=True, env=env,
                          timeout=600, check=False)
    cases = {}
    if junit.exists():
        for case in ET.parse(str(junit)).getroot().iter("testcase"):
            host, component = case.get("classname").split(".", 1)
            failure = case.find("failure")
            cases[(host, component, case.get("name"))] = None if failure is None else failure.get("message")
    return proc, cases


EXPECTED = {
    ("fw-verify-1", "node_exporter", "service"), ("fw-verify-1", "node_exporter", "ready"),
    ("fw-verify-1", "alertmanager", "service"), ("fw-verify-1", "alertmanager", "ready"),
    ("fw-verify-1", "alertmanager", "cluster"), ("fw-verify-1", "alertmanager", "watchdog"),
    ("fw-verify-1", "prometheus", "service"), ("fw-verify-1", "prometheus", "ready"),
    ("fw-verify-1", "prometheus", "targets"), ("fw-verify-1", "prometheus", "rules"),
    ("fw-verify-2", "node_exporter", "service"), ("fw-verify-2", "node_exporter", "ready"),
}


def test_verify_passes_when_all_is_well(tmp_path, prometheus):
    started = time.time()
    proc, cases = run_verify(tmp_path, "-e", "fleetwatch_verify_wait_timeout=60")
    assert proc.returncode == 0, proc.stdout[-3000:]
    assert set(cases) == EXPECTED
    assert [k for k, failure in cases.items() if failure] == []
    assert "fleetwatch verify: all 12 checks passed on 2 hosts" in proc.stdout
    # the outcome, published on the Prometheus host, is scraped. Wait for this run's success time:
    # an earlier run (the scheduler's timer) may have left its own samples, and the run and success
    # samples are two files that a scrape can catch one at a time.
    success = helpers.wait_for("this run's fleetwatch_verify_last_success_timestamp_seconds in Prometheus", lambda: [
        r for r in prometheus.query('fleetwatch_verify_last_success_timestamp_seconds{instance="fw-verify-1"}')
        if float(r["value"][1]) >= started - 5], timeout=30)
    assert success
    result = helpers.wait_for("this run's verify metrics in Prometheus", lambda: [
        r for r in prometheus.query('fleetwatch_verify_last_run_timestamp_seconds{instance="fw-verify-1"}')
        if float(r["value"][1]) >= started - 5], timeout=30)
    assert result
    checks = prometheus.query('fleetwatch_verify_checks{instance="fw-verify-1",component="prometheus"}')
    assert checks and checks[0]["value"][1] == "4"


def test_a_stopped_exporter_fails_naming_it_and_the_junit_file_lists_every_check(tmp_path, app, prometheus):
    app.check_output("systemctl stop node_exporter.service")
    try:
        proc, cases = run_verify(tmp_path)
    finally:
        app.check_output("systemctl start node_exporter.service")
    assert proc.returncode != 0
    assert "FAILED node_exporter service on fw-verify-2: node_exporter.service is inactive" in proc.stdout
    assert "FAILED node_exporter ready on fw-verify-2: http://127.0.0.1:9100/ does not answer" in proc.stdout
    assert set(cases) == EXPECTED
    assert cases[("fw-verify-2", "node_exporter", "service")] == \
        "node_exporter on fw-verify-2: node_exporter.service is inactive"
    assert cases[("fw-verify-2", "node_exporter", "ready")].startswith("node_exporter on fw-verify-2: ")
    for key in EXPECTED - {("fw-verify-2", "node_exporter", "service"), ("fw-verify-2", "node_exporter", "ready"),
                           ("fw-verify-1", "prometheus", "targets")}:
        assert cases[key] is None, (key, cases[key])
    # the failed checks are published, and the verification's alert fires
    helpers.wait_for("fleetwatch_verify_failed_checks of node_exporter", lambda: [
        r for r in prometheus.query('fleetwatch_verify_failed_checks{component="node_exporter"}')
        if float(r["value"][1]) >= 2], timeout=30)
    helpers.wait_for("VerifyFailed firing", lambda: [
        a for a in prometheus.alerts() if a["labels"]["alertname"] == "VerifyFailed"
        and a["labels"].get("component") == "node_exporter" and a["state"] == "firing"], timeout=30)


def test_the_scheduler_units(mon):
    for job, calendar in (("verify", "hourly"), ("backup", "*-*-* 02:00:00")):
        timer = mon.check_output("systemctl cat fleetwatch-%s.timer", job)
        assert "OnCalendar=%s" % calendar in timer and "Persistent=true" in timer and "RandomizedDelaySec=" in timer
        assert mon.run("systemctl is-enabled --quiet fleetwatch-%s.timer", job).rc == 0
        assert mon.run("systemctl is-active --quiet fleetwatch-%s.timer", job).rc == 0
        unit = mon.check_output("systemctl cat fleetwatch-%s.service", job)
        assert "Type=oneshot" in unit and "fleetwatch.observability.%s" % job in unit
    assert mon.file("/etc/fleetwatch-scheduler/extra-vars.yml").mode == 0o600
    exposure = mon.check_output("systemd-analyze security fleetwatch-verify.service | tail -1")
    print("systemd-analyze security fleetwatch-verify.service:", exposure)
    assert float(exposure.split("exposure level for fleetwatch-verify.service:")[1].split()[0]) <= 6.0
    assert "fleetwatch.observability" in mon.check_output(
        "ANSIBLE_COLLECTIONS_PATH=/usr/share/fleetwatch-scheduler/collections ansible-galaxy collection list")


def test_the_verify_timer_publishes_the_outcome(mon, prometheus):
    started = time.time()
    mon.run("systemctl reset-failed fleetwatch-verify.service")
    run = mon.run("systemctl start fleetwatch-verify.service")
    journal = mon.check_output("journalctl -u fleetwatch-verify.service --no-pager -n 60")
    assert run.rc == 0, journal
    assert mon.check_output("systemctl show -p Result --value fleetwatch-verify.service") == "success"
    root = ET.fromstring(mon.file("/var/lib/fleetwatch-scheduler/verify/junit.xml").content_string)
    assert root.get("failures") == "0" and int(root.get("tests")) == 10
    assert "all 10 checks passed on 1 hosts" in mon.file("/var/lib/fleetwatch-scheduler/verify/summary.txt").content_string
    last = helpers.wait_for("a new fleetwatch_verify_last_success_timestamp_seconds in Prometheus", lambda: [
        r for r in prometheus.query('fleetwatch_verify_last_success_timestamp_seconds{instance="fw-verify-1"}')
        if float(r["value"][1]) >= started - 5], timeout=30)
    assert last
    duration = prometheus.query('fleetwatch_verify_duration_seconds{instance="fw-verify-1"}')
    assert duration and 0 < float(duration[0]["value"][1]) < 600


def test_a_broken_backup_job_fires_backup_too_old(mon, prometheus):
    # Test scaffolding: the metrics of a backup that succeeded just now (what the backup playbook
    # publishes); from here on the scheduled job is broken and nothing refreshes them.
    now = int(time.time())
    seed = "".join("%s{component=\\\"prometheus\\\"} %s\\n" % pair for pair in (
        ("fleetwatch_backup_last_success_timestamp_seconds", now), ("fleetwatch_backup_last_run_timestamp_seconds", now),
        ("fleetwatch_backup_success", 1)))
    mon.check_output("printf \"%s\" > %s/.seed.tmp && mv %s/.seed.tmp %s/fleetwatch_backup.prom" % (seed, TEXTFILE, TEXTFILE, TEXTFILE))
    helpers.wait_for("the backup metrics in Prometheus", lambda: prometheus.query(
        'fleetwatch_backup_last_success_timestamp_seconds{component="prometheus"}'), timeout=30)
    assert not [a for a in prometheus.alerts() if a["labels"]["alertname"] == "BackupTooOld"]
    mon.run("systemctl reset-failed fleetwatch-backup.service")
    run = mon.run("systemctl start fleetwatch-backup.service")
    assert run.rc != 0
    assert mon.check_output("systemctl show -p Result --value fleetwatch-backup.service") == "exit-code"
    assert "no-such-inventory.yml" in mon.check_output("journalctl -u fleetwatch-backup.service --no-pager -n 40")
    alert = helpers.wait_for("BackupTooOld firing", lambda: [
        a for a in prometheus.alerts() if a["labels"]["alertname"] == "BackupTooOld" and a["state"] == "firing"],
        timeout=90, interval=2)
    assert alert[0]["labels"]["component"] == "prometheus" and alert[0]["labels"]["instance"] == "fw-verify-1"
    assert time.time() - now >= 30
