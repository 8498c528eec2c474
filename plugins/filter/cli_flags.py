# -*- coding: utf-8 -*-
# Copyright: fleetwatch engineers
# SPDX-License-Identifier: Apache-2.0

from __future__ import absolute_import, division, print_function

__metaclass__ = type

DOCUMENTATION = r"""
name: cli_flags
short_description: Turn a dict into command-line flags for a systemd ExecStart=
version_added: 0.1.0
author:
  - fleetwatch engineers (@fleetwatch)
description:
  - C(true) gives C(--flag), C(false) gives C(--no-flag), a list repeats the flag, C(null) drops it.
  - Values with spaces or special characters are quoted for systemd. Flags are sorted by name.
options:
  _input:
    description: Flag name (without C(--)) to value.
    type: dict
    required: true
"""

EXAMPLES = r"""
- name: Flags of node_exporter
  ansible.builtin.debug:
    msg: "{{ {'web.listen-address': ':9100', 'collector.systemd': true} | fleetwatch.observability.cli_flags }}"
"""

RETURN = r"""
_value:
  description: The flags, one list element each.
  type: list
  elements: str
"""

from ansible.errors import AnsibleFilterError

from ansible_collections.fleetwatch.observability.plugins.plugin_utils import _cliflags as cliflags


def cli_flags(value):
    try:
        return cliflags.render(value)
    except cliflags.FlagError as exc:
        raise AnsibleFilterError(str(exc))


def collector_flags(value, variable="collector options"):
    try:
        return cliflags.collector_flags(value, variable)
    except cliflags.FlagError as exc:
        raise AnsibleFilterError(str(exc))


class FilterModule(object):
    def filters(self):
        return {"cli_flags": cli_flags, "collector_flags": collector_flags}
