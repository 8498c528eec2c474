# -*- coding: utf-8 -*-
# Copyright: fleetwatch engineers
# Apache License 2.0

from __future__ import absolute_import, division, print_function

__metaclass__ = type

DOCUMENTATION = r"""
name: systemd_unit
short_description: Render a hardened systemd service unit from a dict
version_added: 0.1.0
description:
  - The unit of every service of the collection. Required keys C(description), C(user),
    C(exec_start) (list, absolute binary path first).
  - Optional C(group), C(documentation), C(environment_file), C(exec_reload) (default SIGHUP),
    C(limit_nofile), C(after), C(wants), C(directives) and C(hardening) (mappings of directive to
    value; a list gives the directive once per element; null drops it).
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

from ansible_collections.fleetwatch.observability.plugins.module_utils import systemdunit


def systemd_unit(spec):
    try:
        return systemdunit.render(dict(spec or {}))
    except systemdunit.UnitError as exc:
        raise AnsibleFilterError("systemd unit: %s" % exc)


class FilterModule(object):
    def filters(self):
        return {"systemd_unit": systemd_unit}
