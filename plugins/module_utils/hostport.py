# -*- coding: utf-8 -*-
# Copyright: fleetwatch engineers
# SPDX-License-Identifier: Apache-2.0
"""Addresses, durations and sizes of the collection's variables, checked with messages naming the
variable and the inventory host.

* ``parse_listen("0.0.0.0:9100", var, host)`` -> ("0.0.0.0", 9100); "[fd18::3]:9100", ":9100" too;
* ``join(host, port)`` -> "host:port", with IPv6 in brackets ("[fd18::3]:9100");
* ``connect_host(listen_host, fallback)`` -> where others reach a service: the listen address when it
  is a specific IP or name, else (0.0.0.0, ::, empty) the fallback (ansible_host or the inventory
  hostname). A loopback listen address (``is_loopback``) is reachable from the same host only;
* ``check_duration`` (Prometheus durations: 30d, 1h30m, 500ms) and ``check_size`` (10GB, 512MiB).

Named hostport (not netaddr) so that it never shadows the PyPI package of that name. It imports
nothing from Ansible: the harness scripts use it directly.
"""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

import ipaddress
import re

try:
    from urllib.parse import urlsplit
except ImportError:  # pragma: no cover - Python 2
    from urlparse import urlsplit

WILDCARDS = ("", "0.0.0.0", "::", "0:0:0:0:0:0:0:0")
LABEL_RE = re.compile(r"^[A-Za-z0-9_]([A-Za-z0-9_-]{0,61}[A-Za-z0-9_])?$")
PORT_RE = re.compile(r"^[0-9]{1,5}$")
# github.com/prometheus/common/model.ParseDuration
DURATION_RE = re.compile(r"^(([0-9]+)y)?(([0-9]+)w)?(([0-9]+)d)?(([0-9]+)h)?(([0-9]+)m)?(([0-9]+)s)?(([0-9]+)ms)?$")
# github.com/alecthomas/units.ParseBase2Bytes (what --storage.tsdb.retention.size reads)
SIZE_RE = re.compile(r"^([0-9]+(\.[0-9]+)?(EiB|PiB|TiB|GiB|MiB|KiB|EB|PB|TB|GB|MB|KB|B))+$")


class HostPortError(ValueError):
    """A value that is not what its variable needs; the message names the variable and the host."""


def _where(variable, host):
    if variable and host:
        return "%s on %s" % (variable, host)
    return str(variable or host or "value")


def describe_kind(value):
    """What kind of value a user gave ("a list", "a number", ...), for error messages."""
    if isinstance(value, bool):
        return "a boolean"
    if isinstance(value, (int, float)):
        return "a number"
    if isinstance(value, dict):
        return "a mapping"
    if isinstance(value, (list, tuple, set)):
        return "a list"
    if value is None:
        return "null"
    return "a string" if isinstance(value, str) else "a %s" % type(value).__name__


def _shown(value):
    if isinstance(value, str):
        return "'%s'" % value
    return "%r (%s)" % (value, describe_kind(value))


def valid_host(text):
    """True for an IPv4/IPv6 address (without brackets) or a host name (labels of letters, digits, - and _)."""
    if not isinstance(text, str) or not text:
        return False
    try:
        ipaddress.ip_address(text)
        return True
    except ValueError:
        pass
    if ":" in text or len(text) > 253:
        return False
    if re.match(r"^[0-9.]+$", text):  # looks like an IPv4 address but is not one (999.1.1.1, 10.1)
        return False
    return all(LABEL_RE.match(label) for label in text.split("."))


def parse_listen(address, variable=None, host=None):
    """"host:port", "[v6]:port" or ":port" -> (host, port). The host is "" for ":port"; an IPv6
    host is returned without brackets. Anything else raises HostPortError naming variable and host."""
    where = _where(variable, host)
    if not isinstance(address, str):
        hint = ""
        if isinstance(address, int) and not isinstance(address, bool):
            hint = ": quote it as a string, e.g. \":%d\" or \"0.0.0.0:%d\"" % (address, address)
        raise HostPortError("%s: %s is not host:port%s" % (where, _shown(address), hint))
    text = address
    if text != text.strip() or re.search(r"\s", text):
        raise HostPortError("%s: %s is not host:port (it contains white space)" % (where, _shown(address)))
    if text.startswith("["):
        match = re.match(r"^\[([^\[\]]*)\]:([^:]*)$", text)
        if not match:
            raise HostPortError("%s: %s is not host:port (an IPv6 address is written [address]:port)" % (where, _shown(address)))
        name, port = match.group(1), match.group(2)
        try:
            ipaddress.IPv6Address(name)
        except ValueError:
            raise HostPortError("%s: %s is not host:port (%r in brackets is not an IPv6 address)" % (where, _shown(address), name))
    else:
        name, sep, port = text.rpartition(":")
        if not sep:
            raise HostPortError("%s: %s is not host:port (no port: write \"host:port\" or \":port\")" % (where, _shown(address)))
        if ":" in name:
            raise HostPortError("%s: %s is not host:port (an IPv6 address needs brackets: [%s]:%s)" % (where, _shown(address), name, port))
        if name and not valid_host(name):
            raise HostPortError("%s: %s is not host:port (%r is not an IP address or host name)" % (where, _shown(address), name))
    if not PORT_RE.match(port) or not 0 < int(port) < 65536:
        raise HostPortError("%s: %s is not host:port (port must be 1-65535)" % (where, _shown(address)))
    return name, int(port)


def normalise_listen(address, variable=None, host=None):
    """The checked listen address, written the canonical way ("[::]:9100", ":9100", "10.0.0.1:9100")."""
    name, port = parse_listen(address, variable, host)
    return ":%d" % port if name == "" else join(name, port)


def normalise_listen_list(value, variable=None, host=None):
    """One address or a list of them (a program that listens on several, as node_exporter does with
    repeated --web.listen-address) -> the list of checked, normalised addresses (no duplicates)."""
    where = _where(variable, host)
    items = [value] if isinstance(value, str) else value
    if not isinstance(items, (list, tuple)) or not items:
        raise HostPortError("%s: %s is not host:port or a non-empty list of them" % (where, _shown(value)))
    out, problems = [], []
    for index, item in enumerate(items):
        try:
            address = normalise_listen(item, "%s[%d]" % (variable, index) if variable and len(items) > 1 else variable, host)
        except HostPortError as exc:
            problems.append(str(exc))
            continue
        if address in out:
            problems.append("%s: %s is listed twice" % (where, _shown(item)))
        out.append(address)
    if problems:
        raise HostPortError("\n".join(problems))
    return out


def pick_listen(value, local=False):
    """The address of a listen list others connect to: the first that is not loopback (local: the
    first one). A single address is returned as it is."""
    if isinstance(value, str) or not isinstance(value, (list, tuple)) or not value:
        return value
    if local:
        return value[0]
    for item in value:
        try:
            if not is_loopback(parse_listen(item)[0]):
                return item
        except HostPortError:
            return item  # reported by whoever parses it
    return value[0]


def strip_brackets(host):
    text = str(host)
    if text.startswith("[") and text.endswith("]"):
        return text[1:-1]
    return text


def join(host, port):
    """host and port -> "host:port"; an IPv6 address gets brackets (an already bracketed one keeps them)."""
    if isinstance(port, bool) or not isinstance(port, (int, str)) or not str(port).isdigit() or not 0 < int(port) < 65536:
        raise HostPortError("port %r must be 1-65535" % (port,))
    name = strip_brackets(host)
    if not name:
        raise HostPortError("no host to join with port %s" % port)
    if ":" in name:
        return "[%s]:%d" % (name, int(port))
    return "%s:%d" % (name, int(port))


def is_wildcard(host):
    """True when the listen host means "every address" (0.0.0.0, ::, empty)."""
    return strip_brackets(host or "") in WILDCARDS


def is_loopback(host):
    """True for 127.0.0.0/8, ::1 and localhost: reachable from the same host only."""
    name = strip_brackets(host or "").lower().rstrip(".")
    if name == "localhost" or name.endswith(".localhost"):
        return True
    try:
        return ipaddress.ip_address(name).is_loopback
    except ValueError:
        return False


def connect_host(listen_host, fallback):
    """Where others reach a service listening on listen_host: that address itself when it is a
    specific IP or name, else the fallback (the host's ansible_host or inventory hostname)."""
    if is_wildcard(listen_host):
        if fallback in (None, ""):
            raise HostPortError("no address to reach a service that listens on every address")
        return strip_brackets(fallback)
    return strip_brackets(listen_host)


def check_duration(value, variable=None, host=None, required=True):
    """A Prometheus duration ("30d", "1h30m", "0"); "" is accepted only when not required."""
    where = _where(variable, host)
    if value is None and not required:
        return ""
    if not isinstance(value, str):
        hint = ""
        if isinstance(value, int) and not isinstance(value, bool):
            hint = " (give a unit, e.g. \"%ds\")" % value
        raise HostPortError("%s: %s is not a duration such as 30s, 15m or 1h30m%s" % (where, _shown(value), hint))
    if value == "":
        if required:
            raise HostPortError("%s: a duration is required (e.g. 30s, 15m, 30d), not an empty string" % where)
        return ""
    if value != "0" and not DURATION_RE.match(value):
        raise HostPortError("%s: %s is not a duration such as 30s, 15m or 1h30m "
                            "(units y w d h m s ms, largest first, no spaces or signs)" % (where, _shown(value)))
    return value


def check_size(value, variable=None, host=None, required=False):
    """A byte size as Prometheus reads it ("512MB", "10GB", "1.5TiB"); "" (no limit) unless required."""
    where = _where(variable, host)
    if value is None and not required:
        return ""
    if not isinstance(value, str):
        raise HostPortError("%s: %s is not a size such as 512MB or 10GB" % (where, _shown(value)))
    if value == "":
        if required:
            raise HostPortError("%s: a size is required (e.g. 512MB, 10GB), not an empty string" % where)
        return ""
    if value != "0" and not SIZE_RE.match(value):
        raise HostPortError("%s: %s is not a size such as 512MB or 10GB (units B KB MB GB TB PB EB or KiB MiB ..., "
                            "no spaces)" % (where, _shown(value)))
    return value


def url_path(url, variable=None, host=None):
    """The path of a URL ("https://mon.example/prom/" -> "/prom"), without the trailing slash; "" for none."""
    where = _where(variable, host)
    if url in (None, ""):
        return ""
    if not isinstance(url, str) or re.search(r"\s", url):
        raise HostPortError("%s: %s is not a URL" % (where, _shown(url)))
    try:
        parts = urlsplit(url)
    except ValueError as exc:
        raise HostPortError("%s: %s is not a URL (%s)" % (where, _shown(url), exc))
    return route_prefix(parts.path, variable, host)


def route_prefix(path, variable=None, host=None):
    """A route prefix ("/prom/", "prom", "/") -> "/prom" ("" for the root)."""
    where = _where(variable, host)
    if path in (None, ""):
        return ""
    if not isinstance(path, str) or re.search(r"[\s?#]", path):
        raise HostPortError("%s: %s is not a URL path" % (where, _shown(path)))
    text = "/" + path.strip("/")
    return "" if text == "/" else text


def _checked_url(value, variable, host, required):
    if value in (None, ""):
        if required:
            raise HostPortError("%s: a URL is required" % _where(variable, host))
        return ""
    url_path(value, variable, host)
    return value


def service_route_prefix(hostvars, prefix, host):
    """The route prefix of a Prometheus-style service from the host's variables of its role:
    ``web.route-prefix`` in ``<prefix>_extra_flags``, else the path of ``web.external-url`` there,
    else the path of ``<prefix>_external_url`` (as the programs themselves derive it). "" for /."""
    flags = hostvars.get(prefix + "_extra_flags") or {}
    if not isinstance(flags, dict):
        raise HostPortError("%s: %s must be a mapping of flag name to value" % (_where(prefix + "_extra_flags", host), _shown(flags)))
    if flags.get("web.route-prefix") not in (None, ""):
        return route_prefix(flags["web.route-prefix"], prefix + "_extra_flags['web.route-prefix']", host)
    if flags.get("web.external-url") not in (None, ""):
        return url_path(flags["web.external-url"], prefix + "_extra_flags['web.external-url']", host)
    return url_path(hostvars.get(prefix + "_external_url"), prefix + "_external_url", host)


KINDS = {
    "listen": lambda v, var, host, req: normalise_listen(v, var, host) if (req or v not in (None, "")) else "",
    "duration": check_duration,
    "size": check_size,
    "url": _checked_url,
}
# (suffix of the variable name, kind, required by default)
SUFFIX_KINDS = (
    ("_listen_address", "listen", True),
    ("_external_url", "url", False),
    ("_retention_size", "size", False),
    ("_size", "size", False),
    ("_retention_time", "duration", True),
    ("_retention", "duration", True),
    ("_interval", "duration", True),
    ("_timeout", "duration", True),
    ("_for", "duration", True),
)


def kind_of(variable):
    for suffix, kind, required in SUFFIX_KINDS:
        if variable.endswith(suffix):
            return kind, required
    return None, True


def check_values(values, host):
    """Check several variables at once; return {variable: normalised value}.

    values: {variable: value} (the kind follows from the name: *_listen_address, *_external_url,
    *_retention_size/*_size, *_retention_time/*_retention/*_interval/*_timeout/*_for) or
    {variable: {"value": v, "kind": "listen|duration|size|url", "required": bool}}.
    Every problem is reported at once, one line each, naming the variable and the host.
    """
    if not isinstance(values, dict):
        raise HostPortError("the values to check on %s must be a mapping of variable name to value" % host)
    out, problems = {}, []
    for variable in sorted(values, key=str):
        value = values[variable]
        kind, required = kind_of(str(variable))
        if isinstance(value, dict) and "kind" in value:
            kind = value["kind"]
            required = bool(value.get("required", required))
            value = value.get("value")
        if kind not in KINDS:
            problems.append("%s on %s: no check known for this variable (give {'value': ..., 'kind': %s})"
                            % (variable, host, "|".join(sorted(KINDS))))
            continue
        try:
            out[variable] = KINDS[kind](value, variable, host, required)
        except HostPortError as exc:
            problems.append(str(exc))
    if problems:
        raise HostPortError("\n".join(problems))
    return out
