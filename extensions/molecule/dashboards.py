# SPDX-License-Identifier: Apache-2.0
"""The PromQL and LogQL of the grafana role's shipped dashboards, made concrete for a test.

``queries(kind)`` returns every query of the dashboards for data sources of that kind (prometheus
or loki) as (dashboard, panel, concrete expression, expects data): Grafana's template variables are
replaced by what "All" selects (the variable's allValue), and the built-in intervals by fixed
durations. A variable query ``label_values(metric, label)`` becomes ``group by (label) (metric)``.
Used by the unit tests (promtool parses every PromQL) and by the Molecule scenarios that evaluate
them against a live Prometheus and Loki (extensions/molecule/loki, extensions/molecule/databases).
"""
import glob
import json
import os
import re

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))  # extensions/molecule/dashboards.py
DASHBOARDS = os.path.join(ROOT, "roles", "grafana", "files", "dashboards")
BUILTINS = {"__rate_interval": "1m", "__interval": "1m", "__range": "10m", "__auto": "1m"}
LABEL_VALUES = re.compile(r"^label_values\((?:(.*),\s*)?([A-Za-z_][A-Za-z0-9_]*)\)$")
VARIABLE = re.compile(r"\$(?:\{([A-Za-z_][A-Za-z0-9_]*)(?::[a-z]+)?\}|([A-Za-z_][A-Za-z0-9_]*))")
# Panels of the stack dashboard whose sources a scenario may not have (parse only there).
OPTIONAL = re.compile(r"tempo_|traces_spanmetrics|ALERTS|rule_evaluation_failures|notifications_dropped|notifications_failed|status_code=~\"5")


def load(name=None):
    """{dashboard file name: model} of the shipped dashboards."""
    out = {}
    for path in sorted(glob.glob(os.path.join(DASHBOARDS, "*.json"))):
        key = os.path.basename(path)[:-5]
        if name is None or key == name:
            with open(path) as handle:
                out[key] = json.load(handle)
    if not out:  # a wrong path must fail the tests that use it, not give them nothing to check
        raise FileNotFoundError("no dashboard %s in %s" % ("*.json" if name is None else name + ".json", DASHBOARDS))
    return out


def all_values(model):
    """{variable: what "All" (or the default) selects} of a dashboard."""
    values = dict(BUILTINS)
    for variable in model.get("templating", {}).get("list", []):
        if variable["type"] == "textbox":
            values[variable["name"]] = (variable.get("current") or {}).get("value", "")
        elif variable["type"] == "query":
            values[variable["name"]] = variable.get("allValue") or ".*"
    return values


def concrete(expr, values):
    def replace(match):
        name = match.group(1) or match.group(2)
        if name not in values:
            raise KeyError("$%s is not a variable of the dashboard" % name)
        return values[name]
    text = VARIABLE.sub(replace, expr)
    found = LABEL_VALUES.match(text.strip())
    if found:
        metric = found.group(1) or "up"
        text = "group by (%s) (%s)" % (found.group(2), metric)
    return text


def queries(kind, names=None):
    """[(dashboard, panel title, expression with variables replaced, data expected)] for one kind."""
    out = []
    for name, model in load().items():
        if names and name not in names:
            continue
        values = all_values(model)
        panels = list(model.get("panels") or [])
        for variable in model.get("templating", {}).get("list", []):
            query = variable.get("query")
            if variable["type"] == "query" and (variable.get("datasource") or {}).get("type") == kind:
                text = query if isinstance(query, str) else None
                if isinstance(query, dict) and kind == "loki" and query.get("label"):
                    text = None  # a label list, asked through the labels API by the test itself
                if text:
                    out.append((name, "variable " + variable["name"], concrete(text, values), True))
        while panels:
            panel = panels.pop(0)
            panels.extend(panel.get("panels") or [])
            for target in panel.get("targets") or []:
                ds = (target.get("datasource") or panel.get("datasource") or {}).get("type")
                if ds == kind and target.get("expr"):
                    expr = concrete(target["expr"], values)
                    out.append((name, panel["title"], expr, not OPTIONAL.search(target["expr"])))
    return out
