# SPDX-License-Identifier: Apache-2.0
"""Agent mode with the real Prometheus 2.53.3: an agent (fw-agentmode-1) scrapes its node_exporter
and remote-writes to a central Prometheus (fw-agentmode-2) with the remote-write receiver on and
basic auth. The central one does not scrape node_exporter: node series can only have come through
the agent. The central one also reads static targets and, until the side effect took it away, a
scrape config file from the controller. Every HTTP call runs with curl inside a test host.
"""
import pytest
import testinfra
import yaml

import helpers

URL = "http://127.0.0.1:9090"
# No $ in it: Molecule expands $NAME in molecule.yml (not everywhere alike); the unit tests cover $.
REMOTE_WRITE_PASSWORD = "agent-'Remote\"Write-7"


@pytest.fixture(scope="module")
def agent_host():
    return testinfra.get_host("podman://fw-agentmode-1")


@pytest.fixture(scope="module")
def central_host():
    return testinfra.get_host("podman://fw-agentmode-2")


@pytest.fixture(scope="module")
def agent(agent_host):
    return helpers.Prometheus(agent_host, URL)


@pytest.fixture(scope="module")
def central(central_host):
    return helpers.Prometheus(central_host, URL, auth=("prometheus", "central-Scrape-3"))


def test_agent_is_an_agent(agent):
    ready = agent.call("/-/ready")
    assert ready.status == 200 and "Prometheus Agent is Ready" in ready.body, ready
    refused = agent.call("/api/v1/query", form={"query": "up"})
    assert refused.status == 422 and "unavailable with Prometheus Agent" in refused.body, refused

    # It scrapes: its node_exporter and both Prometheus servers are up in its own targets API.
    def up_targets():
        up = [t for t in agent.targets() if t["health"] == "up"]
        return up if len(up) >= 3 else None
    targets = helpers.wait_for("node_exporter and both Prometheus servers up in the agent's targets", up_targets, timeout=60)
    assert {t["labels"]["job"] for t in targets} == {"node_exporter", "prometheus"}


def test_agent_unit_flags_and_config(agent_host):
    unit = agent_host.file("/etc/systemd/system/prometheus.service").content_string
    assert "--enable-feature=agent" in unit
    assert "--storage.agent.path=/var/lib/prometheus/agent" in unit
    assert "--storage.tsdb" not in unit
    assert [line for line in unit.splitlines() if line.startswith("TimeoutStopSec")] == ["TimeoutStopSec=2m"]
    assert agent_host.check_output("systemctl show -p TimeoutStopUSec --value prometheus") == "2min"
    config = yaml.safe_load(agent_host.check_output("cat /etc/prometheus/prometheus.yml"))
    assert "rule_files" not in config and "alerting" not in config
    assert config["remote_write"][0]["basic_auth"]["password_file"].startswith("/etc/prometheus/secrets/")
    # No rule file is deployed on an agent.
    assert agent_host.check_output("find /etc/prometheus/rules -type f | wc -l") == "0"
    assert agent_host.file("/var/lib/prometheus/agent/wal").is_directory
    # Prometheus 2.x sets GOMAXPROCS/GOMEMLIMIT from the host's limits when asked to (3.x always does).
    journal = agent_host.check_output("journalctl -u prometheus --no-pager -o cat")
    assert "Automatically set GOMAXPROCS" in journal and "Automatically set GOMEMLIMIT" in journal


def test_node_series_arrive_at_the_central_prometheus_through_remote_write(central, agent_host):
    assert not central.targets("node_exporter")  # not scraped by the central one
    series = helpers.wait_for("node series from the agent", lambda: central.query(
        'node_uname_info{job="node_exporter", agent="fw-agentmode-1", instance="fw-agentmode-1"}'), timeout=90)
    assert series[0]["metric"]["nodename"] == "fw-agentmode-1"

    # The agent keeps sending and nothing fails any more (samples sent while the central Prometheus
    # was not yet converged, one host at a time, were refused then).
    def counters():
        metrics = agent_host.check_output("curl -sS %s/metrics", URL)
        values = {}
        for line in metrics.splitlines():
            for name in ("prometheus_remote_storage_samples_total", "prometheus_remote_storage_samples_failed_total"):
                if line.startswith(name + "{"):
                    values[name] = float(line.rsplit(" ", 1)[1])
        return values
    first = counters()

    def more_sent():
        now = counters()
        return now if now["prometheus_remote_storage_samples_total"] > first["prometheus_remote_storage_samples_total"] else None
    second = helpers.wait_for("more samples sent", more_sent, timeout=30)
    assert second["prometheus_remote_storage_samples_failed_total"] == first["prometheus_remote_storage_samples_failed_total"], (first, second)


def test_remote_write_needs_the_password(central_host):
    out = central_host.run("curl -sS -o /dev/null -w '%%{http_code}' -X POST --data-binary x %s/api/v1/write", URL)
    assert out.stdout.strip() == "401", out
    receiver = helpers.curl(central_host, URL + "/api/v1/write", method="POST", data="x",
                            auth=("agent", REMOTE_WRITE_PASSWORD))
    # Past the password, the receiver itself refuses a body that is not a snappy protobuf: 400 (2.x) or
    # 415 (3.x checks the content type first); never 401 (auth) or 404 (no receiver).
    assert receiver.status in (400, 415), receiver


def test_static_targets_scraped(central):
    up = helpers.wait_for("static_node up", lambda: central.query('up{job="static_node", source="static"} == 1'), timeout=60)
    assert up[0]["metric"]["instance"] == "fw-agentmode-1:9100"


def test_scrape_config_file_was_scraped_then_purged(central, central_host):
    # Scraped while the file was there (converge), gone after the side effect took it away.
    before = central.query('max_over_time(up{job="extra_node"}[15m])')
    assert before and before[0]["value"][1] == "1", before
    assert not central_host.file("/etc/prometheus/scrape_configs/extra_node.yml").exists
    config = yaml.safe_load(central_host.check_output("cat /etc/prometheus/prometheus.yml"))
    assert "scrape_config_files" not in config
    helpers.wait_for("extra_node dropped", lambda: not central.targets("extra_node"), timeout=30)


def test_remote_write_password_only_in_secret_files(agent_host, central_host):
    helpers.assert_secrets_nowhere([agent_host, central_host], {"remote_write_password": REMOTE_WRITE_PASSWORD})
