# SPDX-License-Identifier: Apache-2.0
"""Evaluate the grafana role's dashboard queries against a scenario's live Prometheus and Loki.

Shared by extensions/molecule/loki/tests/test_dashboards.py and extensions/molecule/databases/tests/test_dashboards.py:
every query of a kind must parse (the API answers success; a broken one answers 400, checked too),
and every panel of the dashboards whose sources the scenario has must return data (one of its
queries at least). Queries come from extensions/molecule/dashboards.py (variables replaced by "All").
"""
import json
import time
import urllib.parse

import helpers
import dashboards


def prometheus_result(prom, expr):
    """(HTTP status, API answer) of an instant query."""
    response = prom.call("/api/v1/query", form={"query": expr})
    assert response.rc == 0, response
    return response.status, response.json() if response.body.strip() else None


def check_prometheus(prom, with_data):
    """Every PromQL of the dashboards parses; the panels of the with_data dashboards return data."""
    status, answer = prometheus_result(prom, 'rate(up{job="x"}[1m]')
    assert status == 400 and answer["errorType"] == "bad_data", "a broken query must be refused: %r" % answer
    queries = dashboards.queries("prometheus")
    for name, panel, expr, _expected in queries:
        status, answer = prometheus_result(prom, expr)
        assert status == 200 and answer["status"] == "success", "%s / %s: %s -> %r" % (name, panel, expr, answer)
    panels = {}
    for name, panel, expr, expected in queries:
        if name in with_data and expected:
            panels.setdefault((name, panel), []).append(expr)
    assert panels, "no panel to check"

    def empty_panels():
        out = []
        for (name, panel), exprs in sorted(panels.items()):
            if not any(prometheus_result(prom, e)[1]["data"]["result"] for e in exprs):
                out.append("%s / %s" % (name, panel))
        return out
    wait_for_data(empty_panels, ", ".join(with_data), 90)
    return sorted(panels)


def wait_for_data(empty_panels, what, timeout):
    """Poll until no panel is empty; fail naming the empty ones."""
    deadline = time.monotonic() + timeout
    empty = empty_panels()
    while empty and time.monotonic() < deadline:
        time.sleep(3)
        empty = empty_panels()
    assert not empty, "panels of %s without data after %ss: %s" % (what, timeout, ", ".join(empty))


def loki_query_range(host, base, logql, minutes=15):
    now = time.time_ns()
    url = "%s/loki/api/v1/query_range?%s" % (base, urllib.parse.urlencode(
        {"query": logql, "start": now - minutes * 60 * 10**9, "end": now + 60 * 10**9, "step": "60", "limit": 100}))
    response = helpers.curl(host, url)
    assert response.rc == 0, response
    return response.status, response.json() if response.body.strip().startswith("{") else response.body


def push(host, base, labels, lines):
    now = time.time_ns()
    body = json.dumps({"streams": [{"stream": labels, "values": [[str(now + i), line] for i, line in enumerate(lines)]}]})
    out = host.run("curl -sS -o /dev/null -w '%%{http_code}' -H 'Content-Type: application/json' --data-binary %s %s/loki/api/v1/push",
                   body, base)
    assert out.rc == 0 and out.stdout.strip() == "204", out


def check_loki(host, base):
    """Every LogQL of the logs dashboard parses and returns data; its variables' labels exist."""
    status, answer = loki_query_range(host, base, '{host=~".+"} |~ "unclosed')
    assert status == 400, "a broken LogQL must be refused: %r" % (answer,)
    panels = {}
    for name, panel, expr, _expected in dashboards.queries("loki"):
        status, answer = loki_query_range(host, base, expr)
        assert status == 200 and answer["status"] == "success", "%s / %s: %s -> %r" % (name, panel, expr, answer)
        panels.setdefault((name, panel), []).append(expr)

    def empty_panels():
        return ["%s / %s" % key for key, exprs in sorted(panels.items())
                if not any(loki_query_range(host, base, e)[1]["data"]["result"] for e in exprs)]
    wait_for_data(empty_panels, "the logs dashboard", 60)
    model = dashboards.load("logs")["logs"]
    for variable in model["templating"]["list"]:
        if variable["type"] == "query":
            response = helpers.curl(host, "%s/loki/api/v1/label/%s/values" % (base, variable["query"]["label"]))
            assert response.status == 200 and response.json()["data"], (variable["name"], response)
    return sorted(panels)
