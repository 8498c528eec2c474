# SPDX-License-Identifier: Apache-2.0
"""The restore drill, after side_effect.yml: known series and silences were created, backup.yml
took the backups, a damaged archive was refused (side_effect asserts it changed nothing), the
TSDB, the silences and a rule file were destroyed, restore.yml put them back, and a backup killed
midway left nothing that looks complete. Here what the APIs answer now is compared with what they
answered before the backup (/root/drill/before.json), and the backups and their published
outcome are checked.
"""
import hashlib
import json
import os
import re

import pytest
import yaml

import helpers

PROM = "http://127.0.0.1:9090"
AM = "http://127.0.0.1:9093"
BACKUPS = "/var/backups/fleetwatch"
ENTRIES = ("node_exporter_config", "alertmanager_config", "alertmanager_silences", "prometheus_config", "prometheus_tsdb")


@pytest.fixture(scope="module")
def before(host):
    return json.loads(host.file("/root/drill/before.json").content_string)


def scenario_vars():
    """The inventory variables of molecule.yml, with Molecule's $$ read as one $."""
    with open(os.path.join(os.path.dirname(os.path.dirname(os.path.abspath(__file__))), "molecule.yml")) as f:
        return yaml.safe_load(f.read().replace("$$", "$"))["provisioner"]["inventory"]["group_vars"]["all"]


@pytest.fixture(scope="module")
def prom(host):
    p = helpers.Prometheus(host, PROM, auth=("admin", scenario_vars()["prometheus_basic_auth_users"]["admin"]))
    helpers.wait_for("Prometheus ready", lambda: p.call("/-/ready").status == 200, timeout=60)
    return p


def by_labels(result):
    return sorted((json.dumps(x["metric"], sort_keys=True), x["value"]) for x in result)


def silence_key(s):
    matchers = sorted(json.dumps(m, sort_keys=True) for m in s["matchers"])
    return (tuple(matchers), s["comment"], s["createdBy"], s["endsAt"][:19])


def test_services_run_and_are_ready(host, prom):
    for unit in ("prometheus", "alertmanager", "node_exporter"):
        assert helpers.unit_active(host, unit), unit
    assert helpers.curl(host, AM + "/-/ready").status == 200
    assert prom.call("/-/ready", auth=False).status == 401  # basic auth on Prometheus


def test_series_are_back(prom, before):
    t1 = before["t1"]
    now = prom.api("series", **{"match[]": '{__name__=~".+"}', "start": str(t1 - 300), "end": str(t1)})
    assert len(before["series"]) > 100
    assert sorted(json.dumps(s, sort_keys=True) for s in now) == sorted(json.dumps(s, sort_keys=True) for s in before["series"])


def test_samples_are_back(prom, before):
    now = prom.api("query", query="count_over_time(fw_drill_known[10m])", time=str(before["t1"]))["result"]
    assert len(before["samples"]) == 2 and all(int(x["value"][1]) >= 20 for x in before["samples"])
    assert by_labels(now) == by_labels(before["samples"])  # the same series, the same count at the same time
    values = prom.api("query", query='fw_drill_known{drill="a"}', time=str(before["t1"]))["result"]
    assert values[0]["value"][1] == "42"


def test_silences_are_back(host, before):
    now = [s for s in helpers.Service(host, AM).get_json("/api/v2/silences") if s["status"]["state"] in ("active", "pending")]
    assert len(before["silences"]) == 3
    assert sorted(map(silence_key, now)) == sorted(map(silence_key, before["silences"]))
    assert sorted(s["status"]["state"] for s in now) == ["active", "active", "pending"]
    assert not set(s["id"] for s in now) & set(s["id"] for s in before["silences"])  # new IDs


def test_rule_file_is_back_and_loaded(host, prom):
    manifest = newest_manifest(host, "prometheus_config")
    member = [m for m in manifest["members"] if m["name"] == "etc/prometheus/rules/fleetwatch-inline.yml"][0]
    f = host.file("/etc/prometheus/rules/fleetwatch-inline.yml")
    assert f.exists and f.user == "root" and f.group == "prometheus" and f.mode == 0o640
    assert hashlib.sha256(f.content).hexdigest() == member["sha256"]
    groups = prom.api("rules")["groups"]
    assert any(g["name"] == "drill" and len(g["rules"]) == 2 for g in groups)
    helpers.wait_for("the recording rule writes again",
                     lambda: prom.query('fw_drill_known{drill="b"}'), timeout=30)


def newest_manifest(host, entry):
    names = host.check_output("ls -1 %s/%s", BACKUPS, entry).split()
    manifests = sorted(n for n in names if n.endswith(".manifest.json"))
    assert manifests, names
    return json.loads(host.file("%s/%s/%s" % (BACKUPS, entry, manifests[-1])).content_string)


def test_every_backup_has_a_manifest_matching_its_archive(host):
    for entry in ENTRIES:
        m = newest_manifest(host, entry)
        assert (m["component"], m["host"]) == (entry, host.inventory_hostname)
        archive = "%s/%s/%s" % (BACKUPS, entry, m["archive"]["name"])
        assert host.check_output("sha256sum %s", archive).split()[0] == m["archive"]["sha256"]
        assert host.file(archive).size == m["archive"]["size"] and host.file(archive).mode == 0o600
        assert m["members"] and re.match(r"^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ$", m["created"])
    assert newest_manifest(host, "prometheus_tsdb")["version"].startswith(("2.", "3."))
    assert newest_manifest(host, "alertmanager_silences")["details"]["silences"] == 3
    assert host.file(BACKUPS).mode == 0o700
    # the snapshot was archived, then deleted from Prometheus' data dir
    assert host.check_output("ls -A /var/lib/prometheus/snapshots 2>/dev/null || true") == ""
    # the previous data, moved aside during the restore, are gone now that Prometheus is ready
    assert "fleetwatch-" not in host.check_output("ls -A /var/lib/prometheus")


def test_the_outcome_is_published_for_prometheus(host):
    text = host.file("/var/lib/node_exporter/textfile/fleetwatch_backup.prom").content_string
    metrics = helpers.curl(host, "http://127.0.0.1:9100/metrics").body
    for entry in ENTRIES:
        for name in ("fleetwatch_backup_success", "fleetwatch_backup_last_success_timestamp_seconds",
                     "fleetwatch_backup_last_run_timestamp_seconds", "fleetwatch_backup_duration_seconds",
                     "fleetwatch_backup_size_bytes"):
            line = re.search(r'^%s\{component="%s"\} (\S+)$' % (name, entry), metrics, re.M)
            assert line, (name, entry, text)
            if name == "fleetwatch_backup_success":
                assert line.group(1) == "1"
            else:
                assert float(line.group(1)) > 0


def test_the_interrupted_backup_left_only_one_complete_backup(host):
    names = host.check_output("ls -A /var/backups/drill-interrupt/node_exporter_config").split()
    assert [n for n in names if n.startswith(".tmp-")] == []
    assert len([n for n in names if n.endswith(".manifest.json")]) == 1
    assert len([n for n in names if n.endswith(".tar.gz")]) == 1
