#!/usr/bin/python
# -*- coding: utf-8 -*-
# Copyright: fleetwatch engineers
# SPDX-License-Identifier: Apache-2.0

from __future__ import absolute_import, division, print_function

__metaclass__ = type

DOCUMENTATION = r"""
---
module: backup
short_description: Back up one component of the observability stack through the mechanism its authors provide
version_added: 0.2.0
description:
  - Saves one backup entry of the component registry on the host - configuration and rule files, Prometheus' TSDB (a
    snapshot through the admin API, archived and then deleted), Alertmanager's active and pending silences (API), a
    SQLite database (online backup).
  - One backup is a gzip'd tar archive and a manifest (JSON - component, kind, program version, host, time, duration,
    sizes, the sha256 of the archive and of every member) in O(backup_dir)/O(component)/. Both are written under a
    temporary name in that directory, flushed to disk and renamed, the manifest last - an interrupted backup never
    looks complete, and the next run removes what it left (temporary files, an archive without a manifest).
  - Keeps the newest O(retention) backups of the component and removes older ones.
  - The program version comes from the API (Prometheus, Alertmanager) or from C(<binary> --version) in O(bin_dir).
  - Prometheus' admin API must be on for C(prometheus_tsdb) (C(prometheus_admin_api) of the prometheus role, which
    refuses it without basic auth unless Prometheus listens on loopback only).
options:
  retention:
    description: How many backups of the component to keep (the newest).
    type: int
    default: 7
  bin_dir:
    description: Where the programs are installed (for their version).
    type: path
    default: /usr/local/bin
  compression_level:
    description: gzip level of the archive (1 fastest - 9 smallest).
    type: int
    default: 6
extends_documentation_fragment:
  - fleetwatch.observability.attributes
  - fleetwatch.observability.backup
attributes:
  check_mode:
    support: full
    details: Reports what would be saved, cleaned and pruned; asks for no snapshot and writes nothing.
  diff_mode:
    support: none
  platform:
    platforms: posix
    details: The host that runs the component.
seealso:
  - module: fleetwatch.observability.restore
  - plugin: fleetwatch.observability.components
    plugin_type: lookup
author:
  - fleetwatch engineers (@fleetwatch)
"""

EXAMPLES = r"""
- name: Snapshot Prometheus' TSDB (the admin API on, basic auth)
  fleetwatch.observability.backup:
    component: prometheus_tsdb
    host: "{{ inventory_hostname }}"
    settings:
      prometheus_storage_path: /var/lib/prometheus
    control:
      url: http://127.0.0.1:9090
      username: admin
      password: "{{ prometheus_admin_password }}"
    retention: 14
  register: tsdb_backup

- name: Alertmanager's configuration directory
  fleetwatch.observability.backup:
    component: alertmanager_config
    host: "{{ inventory_hostname }}"
    backup_dir: /srv/backups
"""

RETURN = r"""
component:
  description: The backup entry.
  returned: always
  type: str
  sample: prometheus_tsdb
kind:
  description: Its mechanism (C(files), C(prometheus_snapshot), C(alertmanager_silences), C(sqlite)).
  returned: always
  type: str
  sample: prometheus_snapshot
host:
  description: The host name in the manifest.
  returned: always
  type: str
  sample: prom1
backup_dir:
  description: The component's backup directory.
  returned: always
  type: str
  sample: /var/backups/fleetwatch/prometheus_tsdb
archive:
  description: The archive written.
  returned: changed
  type: str
  sample: /var/backups/fleetwatch/prometheus_tsdb/prometheus_tsdb-20261125T210000Z.tar.gz
manifest_path:
  description: Its manifest.
  returned: changed
  type: str
  sample: /var/backups/fleetwatch/prometheus_tsdb/prometheus_tsdb-20261125T210000Z.manifest.json
size:
  description: Bytes of the archive.
  returned: changed
  type: int
  sample: 1048576
data_size:
  description: Bytes of the saved files (before compression).
  returned: changed
  type: int
  sample: 4194304
sha256:
  description: sha256 of the archive.
  returned: changed
  type: str
  sample: 9f86d081884c7d659a2feaa0c55ad015a3bf4f1b2b0b822cd15d6c15b0f00a08
members:
  description: Members of the archive (files, directories, links).
  returned: changed
  type: int
  sample: 12
version:
  description: The program's version (null when it could not be told).
  returned: changed
  type: str
  sample: 2.53.3
created:
  description: When the backup started (UTC).
  returned: changed
  type: str
  sample: "2026-11-25T21:00:00Z"
created_epoch:
  description: When the backup started (seconds since the epoch).
  returned: changed
  type: float
  sample: 1795640400.0
finished_epoch:
  description: When the backup was complete (seconds since the epoch; the time of the last success).
  returned: changed
  type: float
  sample: 1795640401.25
duration:
  description: Seconds the backup took.
  returned: changed
  type: float
  sample: 1.25
details:
  description: Per kind - C(snapshot) (the snapshot's name), C(silences) (how many).
  returned: changed
  type: dict
  sample: {snapshot: 20261125T210000Z-1b2c3d4e5f607182}
cleaned:
  description: Leftovers of interrupted runs that were removed.
  returned: always
  type: list
  elements: str
  sample: [/var/backups/fleetwatch/prometheus_tsdb/.tmp-archive-k2j3h4]
pruned:
  description: Backups removed by the retention.
  returned: always
  type: list
  elements: str
  sample: [prometheus_tsdb-20261118T210000Z]
would_save:
  description: In check mode, what would be saved (paths with their sizes, or the number of silences).
  returned: check mode
  type: list
  elements: dict
  sample: [{path: /etc/prometheus, size: 20480}]
would_clean:
  description: In check mode, the leftovers that would be removed.
  returned: check mode
  type: list
  elements: str
  sample: []
would_prune:
  description: In check mode, the backups the retention would remove.
  returned: check mode
  type: list
  elements: str
  sample: []
"""

import os

from ansible_collections.fleetwatch.observability.plugins.module_utils.safelog import SafeLogModule as AnsibleModule
from ansible_collections.fleetwatch.observability.plugins.module_utils import backup as bk
from ansible_collections.fleetwatch.observability.plugins.module_utils import serviceapply as sa


def main():
    module = AnsibleModule(
        argument_spec=bk.argument_spec(
            retention=dict(type="int", default=7),
            bin_dir=dict(type="path", default="/usr/local/bin"),
            compression_level=dict(type="int", default=6),
        ),
        supports_check_mode=True,
    )
    p = module.params
    try:
        spec = bk.entry(p["component"])
        if not 1 <= p["compression_level"] <= 9:
            raise bk.BackupError("compression_level must be 1 to 9, not %s" % p["compression_level"])
        control = bk.control_client(p["control"], sa.Control)
        version = None
        if spec["kind"] not in bk.API_KINDS:
            version = bk.binary_version(module.run_command, os.path.join(p["bin_dir"], spec["binary"]))
        result = bk.backup(spec, p["backup_dir"], p["host"], p["retention"], settings=p["settings"], control=control,
                           version=version, check_mode=module.check_mode, level=p["compression_level"])
    except (bk.BackupError, IOError, OSError) as exc:
        module.fail_json(msg="backup of %s failed: %s" % (p["component"], exc), component=p["component"])
    module.exit_json(**result)


if __name__ == "__main__":
    main()
