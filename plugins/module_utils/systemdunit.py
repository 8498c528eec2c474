# -*- coding: utf-8 -*-
# Copyright: fleetwatch engineers
# Apache License 2.0
"""Hardened systemd service units for the collection's services, from a dict."""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

import re

KEY_RE = re.compile(r"^[A-Z][A-Za-z0-9]*$")
REQUIRED = ("description", "user", "exec_start")


class UnitError(Exception):
    pass


def _value_lines(key, value):
    if value is None:
        return []
    if isinstance(value, bool):
        return ["%s=%s" % (key, "yes" if value else "no")]
    if isinstance(value, (list, tuple)):
        return ["%s=%s" % (key, v) for v in value]
    if isinstance(value, dict):
        raise UnitError("%s: a directive's value cannot be a mapping" % key)
    text = str(value)
    if "\n" in text:
        raise UnitError("%s: a directive's value cannot span lines" % key)
    return ["%s=%s" % (key, text)]


def render(spec):
    """Render a unit.

    spec: description, user, exec_start (list: binary then arguments) required; optional
    group (default user), documentation, environment_file, exec_reload (default SIGHUP;
    null for none), limit_nofile, after/wants (lists), directives (extra [Service] settings),
    hardening (the sandboxing settings; a null value drops a directive).
    """
    missing = [k for k in REQUIRED if not spec.get(k)]
    if missing:
        raise UnitError("the unit needs %s" % ", ".join(missing))
    argv = spec["exec_start"]
    if isinstance(argv, str) or not argv:
        raise UnitError("exec_start must be a non-empty list (binary, then its arguments)")
    if not str(argv[0]).startswith("/"):
        raise UnitError("exec_start must start with an absolute path, not %r" % (argv[0],))
    for arg in argv:
        if "\n" in str(arg):
            raise UnitError("an argument of exec_start contains a line break: %r" % (arg,))
    after = spec.get("after") or ["network-online.target"]
    wants = spec.get("wants") or ["network-online.target"]
    lines = [
        "# Managed by fleetwatch.observability: local changes are overwritten.",
        "[Unit]",
        "Description=%s" % spec["description"],
    ]
    if spec.get("documentation"):
        lines.append("Documentation=%s" % spec["documentation"])
    lines += ["Wants=%s" % " ".join(wants), "After=%s" % " ".join(after), "", "[Service]", "Type=simple",
              "User=%s" % spec["user"], "Group=%s" % (spec.get("group") or spec["user"])]
    if spec.get("environment_file"):
        lines.append("EnvironmentFile=%s" % spec["environment_file"])
    lines.append("ExecStart=%s" % " \\\n    ".join(str(a) for a in argv))
    reload_cmd = spec.get("exec_reload", "/bin/kill -HUP $MAINPID")
    if reload_cmd:
        lines.append("ExecReload=%s" % reload_cmd)
    lines += ["Restart=on-failure", "RestartSec=5s", "TimeoutStopSec=%s" % spec.get("timeout_stop", "60s"),
              "LimitNOFILE=%s" % spec.get("limit_nofile", 8192)]
    for section in ("directives", "hardening"):
        settings = spec.get(section) or {}
        if not isinstance(settings, dict):
            raise UnitError("%s must be a mapping of directive to value" % section)
        if section == "hardening":
            lines.append("# Sandboxing (fleetwatch_systemd_hardening + the role's overrides)")
        for key in sorted(settings):
            if not KEY_RE.match(str(key)):
                raise UnitError("invalid directive name %r" % (key,))
            lines += _value_lines(key, settings[key])
    lines += ["", "[Install]", "WantedBy=multi-user.target", ""]
    return "\n".join(lines)
