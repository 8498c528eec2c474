#!/usr/bin/python
# -*- coding: utf-8 -*-
# Copyright: fleetwatch engineers
# SPDX-License-Identifier: Apache-2.0

from __future__ import absolute_import, division, print_function

__metaclass__ = type

DOCUMENTATION = r"""
---
module: restore
short_description: Restore one component of the observability stack from a backup, checked first
version_added: 0.2.0
description:
  - Puts back a backup written by P(fleetwatch.observability.backup#module) - the newest by default, or the one named
    in O(backup).
  - Before anything is touched, the manifest is read and checked (entry, kind, host), and the archive's size and
    sha256 and every member's sha256 are compared with it; a corrupted, incomplete or mismatched backup is refused and
    nothing changes.
  - Configuration files - each put in place under a temporary name and renamed, files the backup does not have
    removed, then the service reloads (its reload metric must report success) or restarts (and must become ready); if
    it refuses them, the previous files are put back. Unchanged files change nothing.
  - Prometheus' TSDB - the snapshot is unpacked next to the data (same file system), Prometheus is stopped, the data
    dir's contents are moved aside and the snapshot's blocks moved in, Prometheus is started and must become ready
    within O(ready_timeout); otherwise the previous data are put back and Prometheus started with them. The previous
    data are deleted once Prometheus is ready. Samples written after the backup are lost.
  - Alertmanager's silences - each saved silence that has not ended and is not there (same matchers, comment, creator
    and end) is created again through the API (with a new ID).
  - A SQLite database - replaced with the service stopped, the previous one put back if it does not become ready.
  - The service is left running and ready.
options:
  backup:
    description:
      - Which backup - C(latest), or its name (C(prometheus_tsdb-20261125T210000Z), the archive's or manifest's file
        name) or time (C(20261125T210000Z)).
    type: str
    default: latest
  source_host:
    description: Restore a backup taken on this other host (the manifest must name it); by default it must name O(host).
    type: str
  ready_timeout:
    description: Seconds the service has to become ready (or to report its reload) after the restore.
    type: int
    default: 600
extends_documentation_fragment:
  - fleetwatch.observability.attributes
  - fleetwatch.observability.backup
attributes:
  check_mode:
    support: full
    details: Chooses and checks the backup (sha256 of every member) and reports what would change; changes nothing.
  diff_mode:
    support: none
  platform:
    platforms: posix
    details: The host that runs the component (systemd).
seealso:
  - module: fleetwatch.observability.backup
author:
  - fleetwatch engineers (@fleetwatch)
"""

EXAMPLES = r"""
- name: Put Prometheus' newest TSDB backup back
  fleetwatch.observability.restore:
    component: prometheus_tsdb
    host: "{{ inventory_hostname }}"
    control:
      url: http://127.0.0.1:9090
      username: admin
      password: "{{ prometheus_admin_password }}"
      ready_path: /-/ready

- name: Alertmanager's configuration of a given day
  fleetwatch.observability.restore:
    component: alertmanager_config
    host: "{{ inventory_hostname }}"
    backup: 20261124T030000Z
"""

RETURN = r"""
component:
  description: The backup entry.
  returned: always
  type: str
  sample: prometheus_tsdb
kind:
  description: Its mechanism.
  returned: always
  type: str
  sample: prometheus_snapshot
backup:
  description: The backup restored.
  returned: always
  type: str
  sample: prometheus_tsdb-20261125T210000Z
archive:
  description: Its archive.
  returned: always
  type: str
  sample: /var/backups/fleetwatch/prometheus_tsdb/prometheus_tsdb-20261125T210000Z.tar.gz
manifest_path:
  description: Its manifest.
  returned: always
  type: str
  sample: /var/backups/fleetwatch/prometheus_tsdb/prometheus_tsdb-20261125T210000Z.manifest.json
created:
  description: When the backup was taken.
  returned: always
  type: str
  sample: "2026-11-25T21:00:00Z"
version:
  description: The program's version when the backup was taken.
  returned: always
  type: str
  sample: 2.53.3
verified:
  description: The manifest, the archive and every member were checked.
  returned: always
  type: bool
  sample: true
members:
  description: Members checked.
  returned: always
  type: int
  sample: 12
service_action:
  description: What was done to the service (C(none), C(reload), C(restart)).
  returned: always
  type: str
  sample: restart
restored_files:
  description: Files put back (configuration).
  returned: when the kind is files
  type: list
  elements: str
  sample: [/etc/prometheus/rules/fleetwatch-inline.yml]
removed_files:
  description: Files removed because the backup does not have them (configuration).
  returned: when the kind is files
  type: list
  elements: str
  sample: []
data_dir:
  description: The TSDB data dir.
  returned: when the kind is prometheus_snapshot
  type: str
  sample: /var/lib/prometheus
blocks:
  description: Blocks of the snapshot moved in.
  returned: when the kind is prometheus_snapshot and not in check mode
  type: int
  sample: 3
replaced:
  description: Entries of the data dir that were replaced (deleted once Prometheus was ready).
  returned: when the kind is prometheus_snapshot
  type: list
  elements: str
  sample: [01JDQ3W4M5N6P7Q8R9S0T1V2W3, chunks_head, wal]
silences_created:
  description: Silences created again, with their old and new IDs.
  returned: when the kind is alertmanager_silences
  type: list
  elements: dict
  sample: [{old_id: 5d2c..., id: 9a1b...}]
silences_present:
  description: IDs of saved silences that were there already.
  returned: when the kind is alertmanager_silences
  type: list
  elements: str
  sample: []
silences_expired:
  description: IDs of saved silences that have ended since (not created).
  returned: when the kind is alertmanager_silences
  type: list
  elements: str
  sample: []
database:
  description: The database replaced.
  returned: when the kind is sqlite
  type: str
  sample: /var/lib/grafana/grafana.db
"""

from ansible_collections.fleetwatch.observability.plugins.module_utils.safelog import SafeLogModule as AnsibleModule
from ansible_collections.fleetwatch.observability.plugins.module_utils import backup as bk
from ansible_collections.fleetwatch.observability.plugins.module_utils import serviceapply as sa


def main():
    module = AnsibleModule(
        argument_spec=bk.argument_spec(
            backup=dict(type="str", default="latest"),
            source_host=dict(type="str"),
            ready_timeout=dict(type="int", default=600),
        ),
        supports_check_mode=True,
    )
    p = module.params
    try:
        spec = bk.entry(p["component"])
        if p["ready_timeout"] <= 0:
            raise bk.BackupError("ready_timeout must be a positive number of seconds, not %s" % p["ready_timeout"])
        control = bk.control_client(p["control"], sa.Control)
        unit = spec["units"][0]
        svc = {"name": unit[:-len(".service")] if unit.endswith(".service") else unit, "control": p["control"],
               "ready_timeout": p["ready_timeout"], "reload_metric": spec["reload_metric"], "reload": "signal"}
        systemd = sa.Systemd(module.run_command)
        service = bk.Service(systemd, sa.Applier(systemd), spec["units"], svc)
        result = bk.restore(spec, p["backup_dir"], p["host"], which=p["backup"], settings=p["settings"],
                            control=control, service=service, check_mode=module.check_mode,
                            source_host=p["source_host"])
    except (bk.BackupError, sa.ApplyError, IOError, OSError) as exc:
        module.fail_json(msg="restore of %s failed: %s" % (p["component"], exc), component=p["component"])
    module.exit_json(**result)


if __name__ == "__main__":
    main()
