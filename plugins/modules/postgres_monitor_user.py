#!/usr/bin/python
# -*- coding: utf-8 -*-
# Copyright: fleetwatch engineers
# SPDX-License-Identifier: Apache-2.0

from __future__ import absolute_import, division, print_function

__metaclass__ = type

DOCUMENTATION = r"""
---
module: postgres_monitor_user
short_description: Least-privilege PostgreSQL login roles for exporters (pg_monitor), with psql only
version_added: 0.2.0
description:
  - Creates each login role when missing, grants it C(pg_monitor) (or the given roles), and sets its
    password when the stored one does not match, in one round trip for all local instances.
  - Runs C(psql) as the C(postgres) OS user over the local socket; no Python driver is needed on
    the host. The password is hashed on the host (SCRAM-SHA-256, like C(psql)'s C(\password)), so
    the plain text reaches neither the server (nor its statement log) nor any command line.
  - A rerun with the same password changes nothing (the stored SCRAM or md5 verifier is checked).
options:
  users:
    description: Roles to manage.
    type: list
    elements: dict
    required: true
    suboptions:
      name:
        description: Role name.
        type: str
        required: true
      password:
        description: Password (plain text).
        type: str
        required: true
      port:
        description: Port of the local PostgreSQL server (selects its socket).
        type: int
        default: 5432
      grants:
        description: Roles to grant.
        type: list
        elements: str
        default: [pg_monitor]
  os_user:
    description: OS user that is a superuser through peer authentication.
    type: str
    default: postgres
  socket_dir:
    description: Directory of the server's Unix socket.
    type: path
    default: /var/run/postgresql
extends_documentation_fragment:
  - fleetwatch.observability.attributes
attributes:
  check_mode:
    support: full
    details: Reads the roles and their verifiers and reports what would be created or updated.
  diff_mode:
    support: none
  platform:
    platforms: posix
    details: A host with a local PostgreSQL server and its C(psql).
seealso:
  - module: community.postgresql.postgresql_user
    description: General role management through a Python driver (psycopg2) on the host.
  - name: PostgreSQL pg_monitor role
    description: What the predefined monitoring role may read.
    link: https://www.postgresql.org/docs/current/predefined-roles.html
author:
  - fleetwatch engineers (@fleetwatch)
"""

EXAMPLES = r"""
- name: Monitoring role for postgres_exporter
  fleetwatch.observability.postgres_monitor_user:
    users:
      - {name: postgres_exporter, password: "{{ vault_pg_monitor_password }}"}
"""

RETURN = r"""
created:
  description: Roles created.
  returned: always
  type: list
  elements: str
  sample: [postgres_exporter]
updated:
  description: Existing roles whose login, password or memberships were changed.
  returned: always
  type: list
  elements: str
  sample: []
"""

import os

from ansible_collections.fleetwatch.observability.plugins.module_utils.safelog import SafeLogModule as AnsibleModule
from ansible_collections.fleetwatch.observability.plugins.module_utils import pgroles


def main():
    module = AnsibleModule(
        argument_spec=dict(
            users=dict(type="list", elements="dict", required=True, options=dict(
                name=dict(type="str", required=True),
                password=dict(type="str", required=True, no_log=True),
                port=dict(type="int", default=5432),
                grants=dict(type="list", elements="str", default=["pg_monitor"]),
            )),
            os_user=dict(type="str", default="postgres"),
            socket_dir=dict(type="path", default="/var/run/postgresql"),
        ),
        supports_check_mode=True,
    )
    p = module.params
    psql = module.get_bin_path("psql", required=True)
    prefix = []
    if os.geteuid() == 0 and p["os_user"] != "root":
        prefix = [module.get_bin_path("runuser", required=True), "-u", p["os_user"], "--"]
    result = dict(changed=False, created=[], updated=[])

    def run(port, sql):
        cmd = prefix + [psql, "-X", "-q", "-A", "-t", "-v", "ON_ERROR_STOP=1", "-h", p["socket_dir"],
                        "-p", str(port), "-d", "postgres", "-f", "-"]
        rc, out, err = module.run_command(cmd, data=sql, binary_data=True)
        if rc != 0:
            module.fail_json(msg="psql on port %s failed: %s" % (port, (err or out).strip()), **result)
        return out

    try:
        for user in p["users"]:
            state = pgroles.parse_state(run(user["port"], pgroles.read_sql(user["name"])))
            statements = pgroles.plan(user["name"], user["password"], user["grants"], state)
            if not statements:
                continue
            result["created" if state is None else "updated"].append(user["name"])
            if not module.check_mode:
                run(user["port"], "BEGIN;\n%s\nCOMMIT;\n" % "\n".join(statements))
    except pgroles.RoleError as exc:
        module.fail_json(msg=str(exc), **result)
    result["changed"] = bool(result["created"] or result["updated"])
    module.exit_json(**result)


if __name__ == "__main__":
    main()
