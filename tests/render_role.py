# SPDX-License-Identifier: Apache-2.0
"""Render an expression with a role's defaults and vars, as Ansible does, in a clean interpreter.

Usage: python render_role.py ROLE   (stdin: JSON {"expression": "...", "vars": {...}}, or {"task": name,
"arg": argument or [arguments], "vars": {...}} for what a task of the role passes to its module)
Prints JSON {"value": ...} or {"error": "..."}. The tests run it in a subprocess so that Ansible's
collection loader is set up exactly as ansible-playbook sets it up, whatever the test process
imported before.
"""
import json
import os
import sys

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
COLLECTIONS = os.path.join(ROOT, ".cache", "collections")

from ansible.parsing.dataloader import DataLoader  # noqa: E402
from ansible.plugins.loader import init_plugin_loader  # noqa: E402
from ansible.template import Templar, trust_as_template  # noqa: E402


def load(path):
    return DataLoader().load_from_file(path, trusted_as_template=True)


def role_vars(role):
    out = dict(load(os.path.join(ROOT, "roles", "common", "defaults", "main.yml")) or {})
    for kind in ("defaults", "vars"):
        base = os.path.join(ROOT, "roles", role, kind)
        files = [os.path.join(base, "main.yml")] if os.path.isfile(os.path.join(base, "main.yml")) else sorted(
            os.path.join(base, "main", n) for n in os.listdir(os.path.join(base, "main")))
        for path in files:
            out.update(load(path) or {})
    return out


def main(role):
    request = json.load(sys.stdin)
    init_plugin_loader([COLLECTIONS])
    variables = role_vars(role)
    variables.update(inventory_hostname="fw-test-1", groups={"all": ["fw-test-1"]}, hostvars={})
    variables.update(request.get("vars") or {})
    expression = request.get("expression", "")
    if request.get("task"):
        tasks = load(os.path.join(ROOT, "roles", role, "tasks", "main.yml"))
        task = [t for t in tasks if t.get("name") == request["task"]][0]
        module = [k for k in task if "." in k][0]
        args = request["arg"]  # one argument, or a list of them (then the value is {argument: value})
        expression = dict((a, task[module][a]) for a in args) if isinstance(args, list) else task[module][args]
    else:
        expression = trust_as_template(expression)
    try:
        value = Templar(loader=DataLoader(), variables=variables).template(expression)
    except Exception as exc:  # the test asserts on the message
        print(json.dumps({"error": "%s: %s" % (type(exc).__name__, exc)}))
        return
    print(json.dumps({"value": value}, default=str))


if __name__ == "__main__":
    main(sys.argv[1])
