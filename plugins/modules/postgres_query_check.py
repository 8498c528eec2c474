#!/usr/bin/python
# -*- coding: utf-8 -*-
# Copyright: fleetwatch engineers
# SPDX-License-Identifier: Apache-2.0

from __future__ import absolute_import, division, print_function

__metaclass__ = type

DOCUMENTATION = r"""
---
module: postgres_query_check
short_description: Run postgres_exporter's custom queries once and report those that fail
version_added: 0.2.0
description:
  - postgres_exporter's custom-queries file (C(--extend.query-path)) is deprecated upstream, and a
    failing query only shows as C(pg_exporter_last_scrape_error 1) without saying which one.
    This module runs every query with C(psql) as the exporter's user against each instance and
    returns (and warns about) those that fail, with PostgreSQL's error message.
  - It also warns that the feature is deprecated. It never changes anything and never fails on a
    failing query.
  - The queries are user SQL; they are not run in check mode, where the result only says what
    would be checked. The role runs this module only when the queries file or an instance's
    connection (its environment file, so also a new instance) changed.
  - The password goes to C(psql) through its environment (C(PGPASSWORD)), not its command line.
options:
  instances:
    description: Where to run the queries (the exporter's instances).
    type: list
    elements: dict
    required: true
    suboptions:
      name:
        description: Instance name (for the report).
        type: str
        required: true
      host:
        description: Server host.
        type: str
        default: 127.0.0.1
      port:
        description: Server port.
        type: int
        default: 5432
      user:
        description: Login role.
        type: str
        required: true
      password:
        description: Its password.
        type: str
        default: ""
      database:
        description: Database.
        type: str
        default: postgres
      sslmode:
        description: libpq sslmode.
        type: str
        default: prefer
  queries:
    description:
      - Query name (the metric namespace) to SQL text. A free-form mapping, so it has no suboptions.
    type: dict
    required: true
  deprecation_warning:
    description: Warn that the custom-queries file is deprecated upstream.
    type: bool
    default: true
extends_documentation_fragment:
  - fleetwatch.observability.attributes
attributes:
  check_mode:
    support: full
    details: Nothing is run in check mode; RV(msg) says which queries would be run where.
  diff_mode:
    support: none
  platform:
    platforms: posix
    details: A host with C(psql) that reaches the instances.
seealso:
  - module: fleetwatch.observability.postgres_monitor_user
    description: The login role the queries run as.
  - name: postgres_exporter
    description: The exporter, its flags and the deprecation of the custom-queries file.
    link: https://github.com/prometheus-community/postgres_exporter
author:
  - fleetwatch engineers (@fleetwatch)
"""

EXAMPLES = r"""
- name: Check the custom queries
  fleetwatch.observability.postgres_query_check:
    instances: [{name: main, user: postgres_exporter, password: "{{ pw }}"}]
    queries: {pg_app: "SELECT count(*) AS orders FROM orders"}
"""

RETURN = r"""
failed_queries:
  description: The queries that failed.
  returned: always
  type: list
  elements: dict
  contains:
    instance:
      description: Name of the instance (O(instances[].name)).
      type: str
      sample: main
    query:
      description: Name of the query (a key of O(queries)); null when the instance could not be reached at all.
      type: str
      sample: pg_app
    error:
      description: PostgreSQL's message.
      type: str
      sample: relation "orders" does not exist
  sample: [{instance: main, query: pg_app, error: 'relation "orders" does not exist'}]
msg:
  description: In check mode, what would be checked (nothing is run).
  returned: in check mode
  type: str
  sample: "check mode: would run the custom queries pg_app as postgres_exporter on instance main, and report those that fail"
"""

from ansible_collections.fleetwatch.observability.plugins.module_utils.safelog import SafeLogModule as AnsibleModule
from ansible_collections.fleetwatch.observability.plugins.module_utils import pgroles

DEPRECATED = ("postgres_exporter: the custom-queries file (--extend.query-path) is deprecated upstream and may "
              "disappear in a future release; prefer the built-in collectors or a dedicated exporter (sql_exporter)")


def main():
    module = AnsibleModule(
        argument_spec=dict(
            instances=dict(type="list", elements="dict", required=True, options=dict(
                name=dict(type="str", required=True),
                host=dict(type="str", default="127.0.0.1"),
                port=dict(type="int", default=5432),
                user=dict(type="str", required=True),
                password=dict(type="str", default="", no_log=True),
                database=dict(type="str", default="postgres"),
                sslmode=dict(type="str", default="prefer"),
            )),
            queries=dict(type="dict", required=True),
            deprecation_warning=dict(type="bool", default=True),
        ),
        supports_check_mode=True,
    )
    p = module.params
    if p["deprecation_warning"]:
        module.warn(DEPRECATED)
    names = sorted(p["queries"])
    result = dict(changed=False, failed_queries=[])
    if not names:
        module.exit_json(**result)
    try:
        sql = pgroles.query_check_script(names, p["queries"])
    except pgroles.RoleError as exc:
        module.fail_json(msg=str(exc), **result)
    if module.check_mode:
        # User SQL may be slow or have side effects (a function call, a lock): never in check mode.
        result["msg"] = pgroles.query_check_preview(names, p["instances"])
        module.exit_json(**result)
    psql = module.get_bin_path("psql")
    if not psql:
        module.warn("postgres_exporter: psql is not installed on this host, the custom queries were not checked")
        module.exit_json(**result)
    for inst in p["instances"]:
        env = pgroles.query_check_env(inst)
        rc, out, err = module.run_command([psql, "-X", "-q", "-o", "/dev/null", "-f", "-"], data=sql, environ_update=env)
        if rc != 0 and "FWQ-FAILED" not in out:
            result["failed_queries"].append({"instance": inst["name"], "query": None, "error": (err or out).strip()})
            module.warn("postgres_exporter instance %s: cannot run the custom queries: %s" % (inst["name"], (err or out).strip()))
            continue
        for failure in pgroles.parse_query_check(out, names):
            failure["instance"] = inst["name"]
            result["failed_queries"].append(failure)
            module.warn("postgres_exporter instance %s: custom query %s fails: %s" % (inst["name"], failure["query"], failure["error"]))
    module.exit_json(**result)


if __name__ == "__main__":
    main()
