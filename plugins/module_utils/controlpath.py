# -*- coding: utf-8 -*-
# Copyright: fleetwatch engineers
# Apache License 2.0
"""How a role reaches the service it set up: the control path.

The role's readiness checks and reload checks talk to the service on its own host, with the
service's own settings: the address it listens on (one IP, IPv6, or all addresses), its route
prefix (the path of ``--web.external-url``, or ``--web.route-prefix``), TLS, a client certificate
when the service requires one, and basic auth with one of the service's users.
"""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

try:
    from urllib.parse import urlparse
except ImportError:  # pragma: no cover
    from urlparse import urlparse

from ansible_collections.fleetwatch.observability.plugins.module_utils.webconfig import is_bcrypt_hash

WILDCARDS = {"": "127.0.0.1", "0.0.0.0": "127.0.0.1", "::": "::1"}


class ControlError(Exception):
    pass


def _split(address, variable, host):
    text = address if isinstance(address, str) else None
    head, sep, port = (text or "").rpartition(":")
    if head.startswith("[") and head.endswith("]"):
        head = head[1:-1]
    if not sep or not port.isdigit() or not 0 < int(port) < 65536 or (":" in head and not text.startswith("[")):
        raise ControlError("%s on %s: %r is not host:port (port 1-65535, IPv6 as [addr]:port)" % (variable, host, address))
    return head, int(port)


def _join(address, port):
    return "[%s]:%d" % (address, port) if ":" in address else "%s:%d" % (address, port)


def route_prefix(external_url=None, extra_flags=None):
    """'/prom' for external URL http://host:9090/prom/ (or an explicit web.route-prefix); '' for the root."""
    flags = extra_flags or {}
    if flags.get("web.route-prefix"):
        prefix = str(flags["web.route-prefix"])
    elif external_url:
        prefix = urlparse(str(external_url)).path or ""
    else:
        prefix = ""
    prefix = "/" + prefix.strip("/")
    return "" if prefix == "/" else prefix


def control(settings, prefix, host="this host"):
    """The control dict of service_setup's services[].control from a role's settings.

    settings: listen_address, tls_cert_file, tls_key_file, client_ca_file, basic_auth_users,
    external_url, extra_flags, control_user, control_cert_file, control_key_file, ready_path,
    metrics_path, timeout. prefix: the role's variable prefix (for messages).
    """
    s = dict(settings or {})
    listen_host, port = _split(s.get("listen_address"), prefix + "_listen_address", host)
    address = WILDCARDS.get(listen_host, listen_host)
    scheme = "https" if s.get("tls_cert_file") else "http"
    out = {
        "url": "%s://%s%s" % (scheme, _join(address, port), route_prefix(s.get("external_url"), s.get("extra_flags"))),
        "ready_path": s.get("ready_path") or "/",
        "metrics_path": s.get("metrics_path") or "/metrics",
        "timeout": int(s.get("timeout") or 5),
    }
    users = s.get("basic_auth_users") or {}
    if users:
        if not isinstance(users, dict):
            raise ControlError("%s_basic_auth_users on %s must be a mapping of user to password" % (prefix, host))
        user = s.get("control_user") or sorted(users)[0]
        if user not in users:
            raise ControlError("%s_control_user on %s: %r is not in %s_basic_auth_users" % (prefix, host, user, prefix))
        password = str(users[user])
        if is_bcrypt_hash(password):
            raise ControlError(
                "%s_basic_auth_users[%r] on %s is a bcrypt hash: the role needs one user's password in plain text to "
                "reach the service (readiness, reload checks); set %s_control_user to such a user" % (prefix, user, host, prefix))
        out["username"], out["password"] = str(user), password
    if s.get("client_ca_file"):
        if not s.get("tls_cert_file"):
            raise ControlError("%s_tls_client_ca_file on %s needs %s_tls_cert_file (client certificates need TLS)"
                               % (prefix, host, prefix))
        # The service requires a client certificate: the role shows one signed by that CA, by default
        # the service's own (a certificate without extended key usage, or with clientAuth, serves both).
        out["cert_file"] = s.get("control_cert_file") or s.get("tls_cert_file")
        out["key_file"] = s.get("control_key_file") or s.get("tls_key_file")
    return out
