# -*- coding: utf-8 -*-
# Copyright: fleetwatch engineers
# SPDX-License-Identifier: Apache-2.0
"""How a role reaches the service it set up: the control path.

The role's readiness checks and reload checks talk to the service on its own host, with the
service's own settings: the address it listens on (one IP, IPv6, or all addresses), its route
prefix (the path of ``--web.external-url``, or ``--web.route-prefix``), TLS, a client certificate
when the service requires one, and basic auth with one of the service's users.
"""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

from ansible_collections.fleetwatch.observability.plugins.module_utils import hostport
from ansible_collections.fleetwatch.observability.plugins.module_utils.webconfig import is_bcrypt_hash

# Where the role reaches a service that listens on every address.
LOOPBACK = {"": "127.0.0.1", "0.0.0.0": "127.0.0.1", "::": "::1"}


class ControlError(Exception):
    pass


def control(settings, prefix, host="this host"):
    """The control dict of service_setup's services[].control from a role's settings.

    settings: listen_address, tls_cert_file, tls_key_file, client_ca_file, basic_auth_users,
    external_url, extra_flags, control_user, control_cert_file, control_key_file, ready_path,
    metrics_path, timeout. prefix: the role's variable prefix (for messages).
    """
    s = dict(settings or {})
    listen = s.get("listen_address")
    if isinstance(listen, (list, tuple)) and listen:  # several listen addresses: the role checks the first
        listen = listen[0]
    try:
        listen_host, port = hostport.parse_listen(listen, prefix + "_listen_address", host)
        path = hostport.service_route_prefix({prefix + "_external_url": s.get("external_url"),
                                              prefix + "_extra_flags": s.get("extra_flags") or {}}, prefix, host)
    except hostport.HostPortError as exc:
        raise ControlError(str(exc))
    address = LOOPBACK.get(listen_host, listen_host)
    scheme = "https" if s.get("tls_cert_file") else "http"
    out = {
        "url": "%s://%s%s" % (scheme, hostport.join(address, port), path),
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
