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


def is_bcrypt_hash(value):
    return isinstance(value, str) and value[:4] in ("$2a$", "$2b$", "$2y$") and len(value) == 60


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


def build(tls_cert_file=None, tls_key_file=None, basic_auth_users=None, client_ca_file=None,
          tls_min_version="TLS12", seed="", cost=10):
    """Return the web config as a dict (empty: plain HTTP, no auth)."""
    config = {}
    if bool(tls_cert_file) != bool(tls_key_file):
        raise WebConfigError("TLS needs both a certificate file and a key file (only one is set)")
    if tls_cert_file:
        if tls_min_version not in TLS_VERSIONS:
            raise WebConfigError("tls_min_version must be one of %s, not %r" % (", ".join(TLS_VERSIONS), tls_min_version))
        tls = {"cert_file": str(tls_cert_file), "key_file": str(tls_key_file), "min_version": tls_min_version}
        if client_ca_file:
            tls["client_ca_file"] = str(client_ca_file)
            tls["client_auth_type"] = "RequireAndVerifyClientCert"
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
    return config
