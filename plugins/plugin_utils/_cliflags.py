# -*- coding: utf-8 -*-
# Copyright: fleetwatch engineers
# SPDX-License-Identifier: Apache-2.0
"""Command-line flags of Prometheus-style programs (kingpin/pflag) from a dict."""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

import re

FLAG_RE = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._-]*$")


class FlagError(Exception):
    pass


def _quote(value):
    """Quote a value for systemd's ExecStart= when it needs it."""
    text = str(value)
    if text == "" or re.search(r"[\s\"'\\;$%]", text):
        return '"%s"' % text.replace("\\", "\\\\").replace('"', '\\"').replace("$", "$$").replace("%", "%%")
    return text


def render(flags):
    """{"web.listen-address": ":9100", "collector.systemd": True, "collector.wifi": False,
    "collector.filesystem.mount-points-exclude": None, "log.level": ["a", "b"]}
    -> ["--collector.systemd", "--no-collector.wifi", "--log.level=a", "--log.level=b",
        "--web.listen-address=:9100"], sorted by name; None drops a flag.
    """
    if flags is None:
        return []
    if not isinstance(flags, dict):
        raise FlagError("flags must be a mapping of flag name to value, not %r" % (flags,))
    out = []
    for name in sorted(flags, key=lambda n: str(n).lstrip("-")):
        value = flags[name]
        key = str(name)
        if key.startswith("--"):
            key = key[2:]
        if not FLAG_RE.match(key):
            raise FlagError("invalid flag name %r" % (name,))
        if value is None:
            continue
        if value is True:
            out.append("--%s" % key)
        elif value is False:
            out.append("--no-%s" % key)
        elif isinstance(value, (list, tuple)):
            out.extend("--%s=%s" % (key, _quote(v)) for v in value)
        elif isinstance(value, dict):
            raise FlagError("flag %r: a value cannot be a mapping" % (name,))
        else:
            out.append("--%s=%s" % (key, _quote(value)))
    return out


COLLECTOR_RE = re.compile(r"^[a-z0-9][a-z0-9_]*$")


def collector_flags(options, variable="collector options"):
    """{"filesystem": {"mount-points-exclude": "^/(dev|proc)($|/)"}} ->
    {"collector.filesystem.mount-points-exclude": "^/(dev|proc)($|/)"} (node_exporter's layout)."""
    if options in (None, ""):
        return {}
    if not isinstance(options, dict):
        raise FlagError("%s must be a mapping of collector to {option: value}, not %r" % (variable, options))
    out = {}
    for collector in sorted(options, key=str):
        settings = options[collector]
        if not isinstance(collector, str) or not COLLECTOR_RE.match(collector):
            raise FlagError("%s: invalid collector name %r" % (variable, collector))
        if not isinstance(settings, dict):
            raise FlagError("%s.%s must be a mapping of option to value, not %r" % (variable, collector, settings))
        for option, value in settings.items():
            name = "collector.%s.%s" % (collector, option)
            if not isinstance(option, str) or not FLAG_RE.match(name):
                raise FlagError("%s.%s: invalid option name %r" % (variable, collector, option))
            if isinstance(value, dict):
                raise FlagError("%s.%s.%s: a value cannot be a mapping" % (variable, collector, option))
            out[name] = value
    return out
