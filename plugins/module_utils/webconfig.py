# -*- coding: utf-8 -*-
# Copyright: fleetwatch engineers
# SPDX-License-Identifier: Apache-2.0
"""The web configuration file of Prometheus' exporter-toolkit (TLS and basic auth).

Used by every component with a Prometheus-style HTTP endpoint (exporters, Prometheus,
Alertmanager). Passwords are hashed with bcrypt directly (the ``bcrypt`` package), not through
passlib, which breaks with bcrypt 5. The salt is derived from a per-host, per-service seed and
the user name, never from the password, so the same password gives the same hash on every run
(reruns change nothing) while the hash still costs a full bcrypt to attack.
"""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

import hashlib
import re

try:
    import bcrypt

    HAS_BCRYPT = True
except ImportError:  # pragma: no cover - reported at use
    HAS_BCRYPT = False

BCRYPT_ALPHABET = "./ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789"
TLS_VERSIONS = ("TLS10", "TLS11", "TLS12", "TLS13")


class WebConfigError(Exception):
    pass


def bcrypt_b64(data):
    """bcrypt's own base64 (no padding); 16 bytes give the 22-character salt."""
    out = []
    bits = 0
    nbits = 0
    for byte in bytearray(data):
        bits = (bits << 8) | byte
        nbits += 8
        while nbits >= 6:
            nbits -= 6
            out.append(BCRYPT_ALPHABET[(bits >> nbits) & 0x3F])
    if nbits:
        out.append(BCRYPT_ALPHABET[(bits << (6 - nbits)) & 0x3F])
    return "".join(out)


BCRYPT_HASH_RE = re.compile(r"^\$2[aby]\$(0[4-9]|[12][0-9]|3[01])\$[./A-Za-z0-9]{53}$")


def is_bcrypt_hash(value):
    """A bcrypt hash as passlib, htpasswd, Python's bcrypt or Go write it ($2a$, $2b$ or $2y$, cost 04-31):
    kept as it is (the exporter-toolkit accepts all three)."""
    return isinstance(value, str) and bool(BCRYPT_HASH_RE.match(value))


def bcrypt_hash(password, seed, user="", cost=10):
    """Deterministic bcrypt hash of ``password`` (an existing bcrypt hash is returned as is)."""
    if password is None or str(password) == "":
        raise WebConfigError("basic auth user %r has an empty password" % (user,))
    password = str(password)
    if is_bcrypt_hash(password):
        return password
    if not HAS_BCRYPT:
        raise WebConfigError("the Python package 'bcrypt' is needed on the controller (pip install bcrypt)")
    if not 4 <= int(cost) <= 16:
        raise WebConfigError("bcrypt cost must be between 4 and 16, not %r" % (cost,))
    if len(password.encode("utf-8")) > 72:
        raise WebConfigError("basic auth password of %r is longer than bcrypt's 72 bytes" % (user,))
    salt16 = hashlib.sha256(("fleetwatch-web-salt\0%s\0%s" % (seed, user)).encode("utf-8")).digest()[:16]
    salt = ("$2b$%02d$" % int(cost)) + bcrypt_b64(salt16)
    return bcrypt.hashpw(password.encode("utf-8"), salt.encode("ascii")).decode("ascii")


def verify(password, hashed):
    return bcrypt.checkpw(str(password).encode("utf-8"), hashed.encode("ascii"))


# tls_server_config keys that come from the role's own variables (Prometheus' scrape jobs and the
# role's checks follow those): {key: variable suffix}.
TLS_FROM_VARIABLES = {"cert_file": "_tls_cert_file", "key_file": "_tls_key_file", "client_ca_file": "_tls_client_ca_file",
                      "cert": "_tls_cert_file", "key": "_tls_key_file", "client_ca": "_tls_client_ca_file"}


def _extra(value, what):
    if value in (None, "", {}):
        return {}
    if not isinstance(value, dict):
        raise WebConfigError("%s must be a mapping of exporter-toolkit web config keys" % what)
    return dict(value)


def build(tls_cert_file=None, tls_key_file=None, basic_auth_users=None, client_ca_file=None,
          tls_min_version="TLS12", seed="", cost=10, tls_server_config=None, http_server_config=None):
    """Return the web config as a dict (empty: plain HTTP, no auth).

    tls_server_config: more keys of the exporter-toolkit's tls_server_config (cipher_suites,
    curve_preferences, min_version, max_version, client_auth_type, client_allowed_sans, ...), merged
    over the ones built from the certificate variables; the certificate, key and client CA come only
    from those variables (whatever reaches the service follows them). http_server_config: the
    exporter-toolkit's http_server_config (headers, http2), as it is.
    """
    config = {}
    tls_extra = _extra(tls_server_config, "tls_server_config")
    http_extra = _extra(http_server_config, "http_server_config")
    for key in sorted(tls_extra):
        if key in TLS_FROM_VARIABLES:
            raise WebConfigError("tls_server_config.%s: set it with <role>%s instead (Prometheus' scrape jobs and the "
                                 "role's checks follow that variable)" % (key, TLS_FROM_VARIABLES[key]))
    if tls_extra and not tls_cert_file:
        raise WebConfigError("tls_server_config (%s) needs TLS: set the certificate and key files" % ", ".join(sorted(tls_extra)))
    if bool(tls_cert_file) != bool(tls_key_file):
        raise WebConfigError("TLS needs both a certificate file and a key file (only one is set)")
    if tls_cert_file:
        if tls_min_version not in TLS_VERSIONS:
            raise WebConfigError("tls_min_version must be one of %s, not %r" % (", ".join(TLS_VERSIONS), tls_min_version))
        tls = {"cert_file": str(tls_cert_file), "key_file": str(tls_key_file), "min_version": tls_min_version}
        if client_ca_file:
            tls["client_ca_file"] = str(client_ca_file)
            tls["client_auth_type"] = "RequireAndVerifyClientCert"
        tls.update(tls_extra)
        config["tls_server_config"] = tls
    elif client_ca_file:
        raise WebConfigError("client certificate checks need TLS (set the certificate and key files)")
    users = basic_auth_users or {}
    if not isinstance(users, dict):
        raise WebConfigError("basic auth users must be a mapping of user name to password")
    if users:
        hashed = {}
        for user, password in sorted(users.items()):
            if not user or ":" in str(user):
                raise WebConfigError("invalid basic auth user name %r" % (user,))
            hashed[str(user)] = bcrypt_hash(password, seed, str(user), cost)
        config["basic_auth_users"] = hashed
    if http_extra:
        config["http_server_config"] = http_extra
    return config
