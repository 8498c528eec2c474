# -*- coding: utf-8 -*-
# Copyright: fleetwatch engineers
# SPDX-License-Identifier: Apache-2.0
"""Hardened systemd service units for the collection's services, from a dict."""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

import re

KEY_RE = re.compile(r"^[A-Z][A-Za-z0-9]*$")
REQUIRED = ("description", "user", "exec_start")
# systemd.service(5), Restart=
RESTART_POLICIES = ("no", "on-success", "on-failure", "on-abnormal", "on-watchdog", "on-abort", "always")
# Written only from the unit's own keys (a second User= would silently win, a second ExecStart= is an error).
UNIT_KEYS = {"ExecStart": "exec_start", "User": "user", "Group": "group"}


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


def _mapping(spec, section):
    settings = spec.get(section) or {}
    if not isinstance(settings, dict):
        raise UnitError("%s must be a mapping of directive to value" % section)
    for key in settings:
        if not KEY_RE.match(str(key)):
            raise UnitError("invalid directive name %r" % (key,))
        if key in UNIT_KEYS:
            raise UnitError("%s: %s comes from the unit's %s, not from %s" % (section, key, UNIT_KEYS[key], section))
    return settings


def render(spec):
    """Render a unit.

    spec: description, user, exec_start (list: binary then arguments) required; optional
    group (default user), documentation, environment_file, exec_reload (default: none, so
    that `systemctl reload` fails instead of stopping a program that exits on SIGHUP; a program
    that reloads on SIGHUP opts in with "/bin/kill -HUP $MAINPID"), restart (Restart=, default
    always: a clean exit, such as a lifecycle quit or an unhandled SIGHUP, is no reason to stay
    down), timeout_stop (default 60s), limit_nofile (default 8192), after/wants (lists),
    directives (extra [Service] settings), hardening (the sandboxing settings; a null value
    drops a directive).

    A directive given in directives or hardening (TimeoutStopSec from a role's overrides, say)
    replaces the one the unit would write from its own keys and is written once; a null value
    there leaves it out (systemd's default). A directive in both mappings is written once, from
    hardening (where <role>_systemd_overrides end up). This holds for Type, ExecReload, Restart,
    RestartSec, TimeoutStopSec and LimitNOFILE; ExecStart, User and Group come only from the
    unit's keys (an error in a mapping).
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
    restart = spec.get("restart") or "always"
    if restart not in RESTART_POLICIES:
        raise UnitError("restart must be one of %s, not %r" % (", ".join(RESTART_POLICIES), restart))
    directives = _mapping(spec, "directives")
    hardening = _mapping(spec, "hardening")
    after = spec.get("after") or ["network-online.target"]
    wants = spec.get("wants") or ["network-online.target"]
    lines = [
        "# Managed by fleetwatch.observability: local changes are overwritten.",
        "[Unit]",
        "Description=%s" % spec["description"],
    ]
    if spec.get("documentation"):
        lines.append("Documentation=%s" % spec["documentation"])
    lines += ["Wants=%s" % " ".join(wants), "After=%s" % " ".join(after), "", "[Service]"]
    explicit = set(directives) | set(hardening)
    if "Type" not in explicit:
        lines.append("Type=simple")
    lines += ["User=%s" % spec["user"], "Group=%s" % (spec.get("group") or spec["user"])]
    if spec.get("environment_file"):  # more EnvironmentFile= in the mappings add to it, as in systemd
        lines.append("EnvironmentFile=%s" % spec["environment_file"])
    lines.append("ExecStart=%s" % " \\\n    ".join(str(a) for a in argv))
    defaults = (("ExecReload", spec.get("exec_reload") or None),
                ("Restart", restart),
                ("RestartSec", "5s"),
                ("TimeoutStopSec", spec.get("timeout_stop") or "60s"),
                ("LimitNOFILE", spec.get("limit_nofile") or 8192))
    for key, value in defaults:
        if key not in explicit:  # the explicit key wins, written once (a null there: systemd's default)
            lines += _value_lines(key, value)
    for key in sorted(directives):
        if key not in hardening:
            lines += _value_lines(key, directives[key])
    lines.append("# Sandboxing (fleetwatch_systemd_hardening + the role's overrides)")
    for key in sorted(hardening):
        lines += _value_lines(key, hardening[key])
    lines += ["", "[Install]", "WantedBy=multi-user.target", ""]
    return "\n".join(lines)
