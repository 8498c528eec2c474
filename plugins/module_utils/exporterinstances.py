# -*- coding: utf-8 -*-
# Copyright: fleetwatch engineers
# SPDX-License-Identifier: Apache-2.0
"""Several instances of one exporter on a host, and the environment files that carry their secrets.

An exporter role (postgres_exporter, redis_exporter) runs one process per database instance it
watches. The first instance is the role's main service (unit ``<component>.service``, listening
on ``<component>_listen_address``, which Prometheus' inventory-driven job reads); each further
instance is ``<component>-<name>.service`` with its own listen address. Secrets (DSN, passwords)
go into one environment file per instance (``EnvironmentFile=``), never into the unit or the
command line.
"""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

import re

try:
    from ansible_collections.fleetwatch.observability.plugins.module_utils import hostport
except ImportError:  # a harness script with plugins/module_utils on sys.path
    import hostport  # noqa: E402  pylint: disable=import-error

NAME_RE = re.compile(r"^[a-z0-9][a-z0-9_-]{0,39}$")
ENV_KEY_RE = re.compile(r"^[A-Za-z_][A-Za-z0-9_]*$")


class InstanceError(Exception):
    pass


def normalise(instances, component, listen_address, config_dir, systemd_dir="/etc/systemd/system", defaults=None,
              host=None):
    """Return the instances with name, index, listen_address, listen_port, service, unit_path and env_file set.

    defaults: settings every instance starts from (an instance's own keys win, except null ones).

    The first instance listens on listen_address (the role's <component>_listen_address); the
    others need their own listen_address, on a port no other instance uses.
    """
    if not isinstance(instances, (list, tuple)) or not instances:
        raise InstanceError("%s_instances must be a non-empty list of instances" % component)
    out = []
    names = {}
    ports = {}
    for index, entry in enumerate(instances):
        if not isinstance(entry, dict):
            raise InstanceError("%s_instances[%d] must be a mapping, not %r" % (component, index, entry))
        name = entry.get("name")
        if not isinstance(name, str) or not NAME_RE.match(name):
            raise InstanceError("%s_instances[%d]: name %r must match %s" % (component, index, name, NAME_RE.pattern))
        if name in names:
            raise InstanceError("%s_instances: the name %r is used twice" % (component, name))
        names[name] = index
        address = entry.get("listen_address")
        if index == 0:
            if address and str(address) != str(listen_address):
                raise InstanceError(
                    "%s_instances[0] (%s): set %s_listen_address instead of its listen_address (Prometheus reads that)"
                    % (component, name, component))
            address = listen_address
        elif not address:
            raise InstanceError("%s_instances[%d] (%s) needs its own listen_address (host:port)" % (component, index, name))
        variable = component + "_listen_address" if index == 0 else "%s_instances[%d].listen_address" % (component, index)
        try:
            address = hostport.normalise_listen(address, variable, host)
            port = hostport.parse_listen(address, variable, host)[1]
        except hostport.HostPortError as exc:
            raise InstanceError(str(exc))
        if port in ports:
            raise InstanceError("%s_instances: %s and %s both listen on port %d" % (component, ports[port], name, port))
        ports[port] = name
        service = component if index == 0 else "%s-%s" % (component, name)
        if defaults is not None and not isinstance(defaults, dict):
            raise InstanceError("the defaults of the instances must be a mapping")
        item = dict(defaults or {})
        item.update((k, v) for k, v in entry.items() if v is not None)
        item.update(name=name, index=index, listen_address=address, listen_port=port, service=service,
                    unit_path="%s/%s.service" % (systemd_dir.rstrip("/"), service),
                    env_file="%s/%s.env" % (config_dir.rstrip("/"), name))
        out.append(item)
    return out


def _env_value(key, value):
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, (list, tuple)):
        value = ",".join(str(v) for v in value)
    if isinstance(value, dict):
        raise InstanceError("environment variable %s: a value cannot be a mapping" % key)
    text = str(value)
    if re.search(r"[\r\n\x00]", text):
        raise InstanceError("environment variable %s: the value contains a line break or NUL" % key)
    return text


def env_file(variables):
    """Text of a systemd EnvironmentFile= from a dict; None values are left out.

    Every value is double-quoted; inside, \\ " ` $ are escaped (systemd reads the file with the
    shell's double-quote rules), so passwords with any printable character survive unchanged.
    """
    if variables is None:
        variables = {}
    if not isinstance(variables, dict):
        raise InstanceError("environment must be a mapping of variable name to value")
    lines = ["# Managed by fleetwatch.observability: local changes are overwritten."]
    for key in sorted(variables, key=str):
        if not isinstance(key, str) or not ENV_KEY_RE.match(key):
            raise InstanceError("invalid environment variable name %r" % (key,))
        value = variables[key]
        if value is None:
            continue
        text = _env_value(key, value)
        escaped = re.sub(r'([\\"`$])', r"\\\1", text)
        lines.append('%s="%s"' % (key, escaped))
    return "\n".join(lines) + "\n"


def parse_env_file(text):
    """Read back what env_file writes (double-quoted values only); for tests and checks."""
    out = {}
    for line in text.splitlines():
        if not line or line.startswith("#"):
            continue
        key, sep, rest = line.partition("=")
        if not sep or len(rest) < 2 or rest[0] != '"' or rest[-1] != '"':
            raise InstanceError("unexpected line %r" % line)
        out[key] = re.sub(r'\\([\\"`$])', r"\1", rest[1:-1])
    return out
