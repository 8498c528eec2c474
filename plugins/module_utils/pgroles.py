# -*- coding: utf-8 -*-
# Copyright: fleetwatch engineers
# SPDX-License-Identifier: Apache-2.0
"""PostgreSQL login roles for exporters, without a driver on the host.

The password is hashed here (SCRAM-SHA-256, as ``psql``'s ``\\password`` does on the client), so
the plain text never reaches the server, its statement log or the process list; the stored
verifier is read back and checked against the wanted password, so a rerun changes nothing.
The SQL is run by ``psql`` as the ``postgres`` OS user over the local socket.
"""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

import base64
import hashlib
import hmac
import os
import re
import unicodedata

ROLE_RE = re.compile(r"^[A-Za-z_][A-Za-z0-9_]{0,62}$")
SCRAM_RE = re.compile(r"^SCRAM-SHA-256\$(\d+):([A-Za-z0-9+/=]+)\$([A-Za-z0-9+/=]+):([A-Za-z0-9+/=]+)$")
ITERATIONS = 4096


class RoleError(Exception):
    pass


def check_role_name(name):
    if not isinstance(name, str) or not ROLE_RE.match(name):
        raise RoleError("role name %r must match %s" % (name, ROLE_RE.pattern))
    return name


def _prepare(password):
    """Password bytes as PostgreSQL hashes them (SASLprep; ASCII passwords are unchanged)."""
    text = str(password)
    if not text:
        raise RoleError("the password is empty")
    try:
        text.encode("ascii")
    except UnicodeEncodeError:
        text = unicodedata.normalize("NFKC", text)
    return text.encode("utf-8")


def _b64(data):
    return base64.b64encode(data).decode("ascii")


def scram_verifier(password, salt=None, iterations=ITERATIONS):
    """SCRAM-SHA-256 verifier in PostgreSQL's rolpassword format."""
    if salt is None:
        salt = os.urandom(16)
    if int(iterations) < 1:
        raise RoleError("iterations must be positive")
    salted = hashlib.pbkdf2_hmac("sha256", _prepare(password), salt, int(iterations))
    client_key = hmac.new(salted, b"Client Key", hashlib.sha256).digest()
    stored_key = hashlib.sha256(client_key).digest()
    server_key = hmac.new(salted, b"Server Key", hashlib.sha256).digest()
    return "SCRAM-SHA-256$%d:%s$%s:%s" % (int(iterations), _b64(salt), _b64(stored_key), _b64(server_key))


def password_matches(password, stored, role):
    """Whether the stored rolpassword (SCRAM or md5) is the hash of password."""
    if not stored:
        return False
    match = SCRAM_RE.match(stored)
    if match:
        iterations, salt = int(match.group(1)), base64.b64decode(match.group(2))
        return hmac.compare_digest(scram_verifier(password, salt, iterations), stored)
    if stored.startswith("md5") and len(stored) == 35:
        wanted = "md5" + hashlib.md5((str(password) + role).encode("utf-8")).hexdigest()
        return hmac.compare_digest(wanted, stored)
    return False


def read_sql(role):
    """SQL printing "canlogin|rolpassword|member_roles" of a role (nothing when it does not exist)."""
    check_role_name(role)
    return ("SELECT r.rolcanlogin, coalesce(a.rolpassword, ''), "
            "coalesce((SELECT string_agg(g.rolname, ',' ORDER BY g.rolname) FROM pg_auth_members m "
            "JOIN pg_roles g ON g.oid = m.roleid WHERE m.member = r.oid), '') "
            "FROM pg_roles r JOIN pg_authid a ON a.oid = r.oid WHERE r.rolname = '%s';\n" % role)


def parse_state(output):
    """Parse read_sql's output (psql -A -t): None when the role does not exist."""
    line = (output or "").strip()
    if not line:
        return None
    parts = line.split("|")
    if len(parts) != 3:
        raise RoleError("unexpected answer from psql: %r" % (line[:200],))
    return {"login": parts[0] == "t", "password": parts[1], "member_of": [g for g in parts[2].split(",") if g]}


def plan(role, password, grants, state):
    """SQL statements bringing the role to LOGIN, the password and membership of grants (a list)."""
    check_role_name(role)
    for grant in grants:
        check_role_name(grant)
    statements = []
    if state is None:
        statements.append("CREATE ROLE \"%s\" LOGIN PASSWORD '%s';" % (role, scram_verifier(password)))
        missing = list(grants)
    else:
        if not state["login"]:
            statements.append("ALTER ROLE \"%s\" LOGIN;" % role)
        if not password_matches(password, state["password"], role):
            statements.append("ALTER ROLE \"%s\" PASSWORD '%s';" % (role, scram_verifier(password)))
        missing = [g for g in grants if g not in state["member_of"]]
    statements += ["GRANT \"%s\" TO \"%s\";" % (g, role) for g in missing]
    return statements


def query_check_script(names, queries):
    """psql script running every query (in the order of names); after a failing one it prints
    "FWQ-FAILED <index> <error message>" (psql 12 or newer: \\if, :ERROR, :LAST_ERROR_MESSAGE)."""
    lines = ["\\set ON_ERROR_STOP 0"]
    for index, name in enumerate(names):
        sql = str(queries[name] or "").strip().rstrip(";").strip()
        if not sql:
            raise RoleError("custom query %r is empty" % (name,))
        lines += [sql + ";", "\\if :ERROR", "\\echo FWQ-FAILED %d :LAST_ERROR_MESSAGE" % index, "\\endif"]
    return "\n".join(lines) + "\n"


def parse_query_check(output, names):
    """[{query, error}] of the failed queries from query_check_script's output."""
    failed = []
    for line in (output or "").splitlines():
        if line.startswith("FWQ-FAILED "):
            _tag, index, message = (line.split(" ", 2) + [""])[:3]
            if index.isdigit() and int(index) < len(names):
                failed.append({"query": names[int(index)], "error": message.strip()})
    return failed


def query_check_env(instance):
    """psql's environment for one instance of postgres_query_check (the password in PGPASSWORD,
    never on the command line)."""
    return {"PGHOST": instance["host"], "PGPORT": str(instance["port"]), "PGUSER": instance["user"],
            "PGPASSWORD": instance.get("password") or "", "PGDATABASE": instance["database"],
            "PGSSLMODE": instance["sslmode"], "PGCONNECT_TIMEOUT": "5", "PGAPPNAME": "fleetwatch-query-check"}


def query_check_preview(names, instances):
    """What postgres_query_check would do, for check mode, where the queries (user SQL, with
    whatever side effects and cost they have) are not run."""
    if not names:
        return "no custom queries to check"
    return "check mode: would run the custom queries %s as %s on instance%s %s, and report those that fail" % (
        ", ".join(names), ", ".join(sorted(set(str(i["user"]) for i in instances))) or "-",
        "" if len(instances) == 1 else "s", ", ".join(str(i["name"]) for i in instances) or "(none)")
