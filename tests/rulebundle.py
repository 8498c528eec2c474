# SPDX-License-Identifier: Apache-2.0
"""The alert rule bundle as the prometheus role renders it, for tests.

render_all(dest) renders every template of prometheus_alert_rule_files with the role's defaults
(variables in [[ ]], Prometheus' own {{ }} left alone), as the role does on the controller.
"""
import os
import re
import shutil

import jinja2
import yaml

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
ROLE = os.path.join(ROOT, "roles", "prometheus")
TESTS = os.path.join(ROOT, "tests", "rules")


def defaults():
    with open(os.path.join(ROLE, "defaults", "main", "alerts.yml")) as handle:
        return yaml.safe_load(handle)


def find_tool(name, env):
    for candidate in (os.environ.get(env), os.path.join(ROOT, ".cache", "tools", name), shutil.which(name)):
        if candidate and os.access(candidate, os.X_OK):
            return candidate
    return None


def render_all(dest, overrides=None):
    """Render the bundle into dest; return {file name: rendered text}."""
    context = dict(defaults(), **(overrides or {}))
    env = jinja2.Environment(loader=jinja2.FileSystemLoader(os.path.join(ROLE, "templates", "rules")),
                             variable_start_string="[[", variable_end_string="]]",
                             undefined=jinja2.StrictUndefined, trim_blocks=True, lstrip_blocks=True,
                             keep_trailing_newline=True)
    out = {}
    for template in context["prometheus_alert_rule_files"]:
        name = re.sub(r"\.j2$", "", template)
        text = env.get_template(template).render(**context)
        with open(os.path.join(dest, name), "w") as handle:
            handle.write(text)
        out[name] = text
    return out


def alerts(rendered):
    """[(file, rule dict)] for every alerting rule."""
    found = []
    for name, text in sorted(rendered.items()):
        for group in yaml.safe_load(text)["groups"]:
            for rule in group["rules"]:
                if "alert" in rule:
                    found.append((name, rule))
    return found
