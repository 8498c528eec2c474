# SPDX-License-Identifier: Apache-2.0
"""The end state after side_effect.yml's upgrade and rollbacks, read through the programs' APIs:
Prometheus 3.5.3 serving the data of 2.53.3 with its rules, Alertmanager back on 0.28.1 with the
silence made before the upgrade, node_exporter back on 1.9.0."""
import json
import urllib.parse

import pytest
import testinfra

import helpers


@pytest.fixture(scope="module")
def host():
    return testinfra.get_host("podman://fw-upg-1")


def running_binary(host, unit):
    return host.check_output("readlink /proc/$(systemctl show -p MainPID --value %s)/exe" % unit)


@pytest.mark.parametrize("unit,version", [("prometheus", "3.5.3"), ("alertmanager", "0.28.1"), ("node_exporter", "1.9.0")])
def test_each_service_runs_the_version_it_was_left_on(host, unit, version):
    assert "/%s/%s/" % (unit, version) in running_binary(host, unit)
    assert host.service(unit).is_running


def test_prometheus_3_holds_the_samples_written_by_2_53(host):
    # The recording rule's samples span the upgrade: older than the newest start of Prometheus.
    started = float(host.check_output(
        "date -d \"$(systemctl show -p ActiveEnterTimestamp --value prometheus)\" +%s"))
    query = urllib.parse.quote("min_over_time(timestamp(upgrade:node_cpu_seconds:count)[1h:1s])")
    data = helpers.get_json(host, "http://127.0.0.1:9090/api/v1/query?query=%s&time=%d" % (query, int(started) + 5))
    [result] = data["data"]["result"]
    assert float(result["value"][1]) < started - 10


def test_the_silence_made_before_the_upgrade_is_active(host):
    silences = helpers.get_json(host, "http://127.0.0.1:9093/api/v2/silences")
    drill = [s for s in silences if s["comment"] == "kept across the upgrade and the rollback"]
    assert [s["status"]["state"] for s in drill] == ["active"], json.dumps(silences)
