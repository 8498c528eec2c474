# SPDX-License-Identifier: Apache-2.0
"""The grafana role's PostgreSQL and Redis dashboards against this scenario's live Prometheus, which
scrapes two PostgreSQL and two Redis servers through their exporters (no Grafana here: the queries
are what Grafana would send). Every PromQL of every dashboard parses; every PostgreSQL and Redis
panel returns data."""
import pytest
import testinfra

import dashboards_live
import helpers


@pytest.fixture(scope="module")
def prom():
    return helpers.Prometheus(testinfra.get_host("podman://fw-db-mon1"), "http://127.0.0.1:9090")


def test_dashboard_promql_parses_and_the_database_panels_have_data(prom):
    checked = dashboards_live.check_prometheus(prom, ["postgresql", "redis"])
    assert {d for d, _p in checked} == {"postgresql", "redis"}
    assert ("postgresql", "Cache hit ratio") in checked and ("redis", "Keyspace hit ratio") in checked
