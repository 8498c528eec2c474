# SPDX-License-Identifier: Apache-2.0
"""Selectors of PromQL expressions (plugins/module_utils/promql.py)."""
import pytest

import promql  # tests/promql.py (tests/ is on sys.path: its conftest.py)


@pytest.mark.parametrize("expr,expected", [
    ("up == 0", ["up"]),
    ('up{job="node_exporter"} == 0', ['up{job="node_exporter"}']),
    ('100 * sum by (instance, job) (pg_stat_activity_count) / on (instance, job) max by (instance, job) (pg_settings_max_connections) > 70',
     ["pg_stat_activity_count", "pg_settings_max_connections"]),
    ('sum(rate(node_cpu_seconds_total{mode!="idle"}[5m])) without (cpu, mode) / count without (cpu) (node_cpu_seconds_total{mode="idle"})',
     ['node_cpu_seconds_total{mode!="idle"}', 'node_cpu_seconds_total{mode="idle"}']),
    ("predict_linear(node_filesystem_avail_bytes{fstype!~\"tmpfs|x\"}[6h], 24 * 3600) < 0 and node_filesystem_readonly == 0",
     ['node_filesystem_avail_bytes{fstype!~"tmpfs|x"}', "node_filesystem_readonly"]),
    ('label_replace(up, "host", "$1", "instance", "(.*):.*") offset 5m', ["up"]),
    ("rate(http_requests_total[5m] offset 1h) > bool 0.5e3", ["http_requests_total"]),
    ('{__name__=~"pg_.*", job="x"}', ['{__name__=~"pg_.*", job="x"}']),
    ("vector(1)", []),
    ("a unless on (instance) b or c and ignoring (job) group_left (x) d", ["a", "b", "c", "d"]),
    ('max_over_time(up[10m:1m]) # a comment naming fake_metric\n', ["up"]),
    ("time() - process_start_time_seconds > Inf", ["process_start_time_seconds"]),
    ("up == 0 or up == 0", ["up"]),
])
def test_selectors(expr, expected):
    assert promql.selectors(expr) == expected


@pytest.mark.parametrize("expr", ['up{job="x"', 'up{job="x}', "rate(up[5m)", "up ~ 1"])
def test_bad_expressions_raise(expr):
    with pytest.raises(promql.PromQLError):
        promql.selectors(expr)
