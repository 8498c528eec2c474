# SPDX-License-Identifier: Apache-2.0
"""The grafana role's dashboards against this scenario's live Prometheus 2.53.3 and Loki 3.4.6 (no
Grafana here: its queries are what Grafana would send). Every PromQL of every dashboard parses; the
hosts panels (node_exporter on both hosts) and the Prometheus, Alertmanager and Loki panels of the
stack dashboard return data; every LogQL of the logs dashboard parses and returns data for a log
line with the shipper's labels (host, job, unit). The LogQL test runs first: Loki's ingestion
metrics (the stack dashboard's Loki panels) exist once it received lines."""
import pytest
import testinfra

import dashboards_live
import helpers

LOKI = "http://127.0.0.1:3100"


@pytest.fixture(scope="module")
def loki():
    return testinfra.get_host("podman://fw-loki-1")


@pytest.fixture(scope="module")
def prom():
    return helpers.Prometheus(testinfra.get_host("podman://fw-loki-2"), "http://127.0.0.1:9090")


def test_dashboard_logql_parses_and_every_logs_panel_has_data(loki):
    dashboards_live.push(loki, LOKI, {"host": "fw-loki-1", "job": "fleetwatch-dashboards", "unit": "dashboards-test.service"},
                         ["level=error msg=\"dashboard test line\" trace_id=4bf92f3577b34da6a3ce929d0e0e4736",
                          "level=info msg=\"dashboard test line\""])
    checked = dashboards_live.check_loki(loki, LOKI)
    assert [p for _d, p in checked] == ["Error lines per host and job", "Log lines", "Log lines per host", "Noisiest units"]


def test_dashboard_promql_parses_and_the_hosts_and_stack_panels_have_data(prom):
    checked = dashboards_live.check_prometheus(prom, ["hosts", "stack"])
    assert ("hosts", "CPU busy") in checked and ("stack", "Loki lines received") in checked
