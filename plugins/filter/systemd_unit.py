# -*- coding: utf-8 -*-
# Copyright: fleetwatch engineers
# SPDX-License-Identifier: Apache-2.0

from __future__ import absolute_import, division, print_function

__metaclass__ = type

DOCUMENTATION = r"""
name: systemd_unit
short_description: Render a hardened systemd service unit from a dict
version_added: 0.1.0
author:
  - fleetwatch engineers (@fleetwatch)
description:
  - The unit of every service of the collection. Required keys C(description), C(user),
    C(exec_start) (list, absolute binary path first).
  - Optional C(group), C(documentation), C(environment_file), C(exec_reload), C(restart),
    C(timeout_stop), C(limit_nofile), C(after), C(wants), C(directives) and C(hardening) (mappings
    of directive to value; a list gives the directive once per element; null drops it).
  - C(exec_reload) has no default, so a unit has no C(ExecReload=) and C(systemctl reload) fails
    instead of killing a program that exits on SIGHUP (node_exporter, postgres_exporter,
    redis_exporter). Programs that reload on SIGHUP (Prometheus, Alertmanager) opt in with
    C(exec_reload) set to C(/bin/kill -HUP $MAINPID).
  - C(restart) is the C(Restart=) policy (C(no), C(on-success), C(on-failure), C(on-abnormal),
    C(on-watchdog), C(on-abort), C(always)); default C(always) (a clean exit is no reason to stay down;
    C(systemctl stop) still stops it). C(timeout_stop) defaults to
    C(60s), C(limit_nofile) to C(8192).
  - A directive given in C(directives) or C(hardening) (for example C(TimeoutStopSec) in a role's
    C(<role>_systemd_overrides)) replaces the one the unit writes itself (C(Type), C(ExecReload),
    C(Restart), C(RestartSec), C(TimeoutStopSec), C(LimitNOFILE)) and is written once; null there
    leaves it out. C(ExecStart), C(User) and C(Group) come only from the unit's own keys.
options:
  _input:
    description: The unit's settings.
    type: dict
    required: true
"""

EXAMPLES = r"""
- name: Unit of node_exporter
  ansible.builtin.debug:
    msg: >-
      {{ {'description': 'node_exporter', 'user': 'node_exporter', 'exec_start': ['/usr/local/bin/node_exporter']}
         | fleetwatch.observability.systemd_unit }}
"""

RETURN = r"""
_value:
  description: The unit file's text.
  type: str
"""

from ansible.errors import AnsibleFilterError

from ansible_collections.fleetwatch.observability.plugins.plugin_utils import _systemdunit as systemdunit


def systemd_unit(spec):
    try:
        return systemdunit.render(dict(spec or {}))
    except systemdunit.UnitError as exc:
        raise AnsibleFilterError("systemd unit: %s" % exc)


class FilterModule(object):
    def filters(self):
        return {"systemd_unit": systemd_unit}
