# -*- coding: utf-8 -*-
# Copyright: fleetwatch engineers
# SPDX-License-Identifier: Apache-2.0

from __future__ import absolute_import, division, print_function

__metaclass__ = type

DOCUMENTATION = r"""
name: exporter_instances
short_description: The instances of a multi-instance exporter, checked and completed
version_added: 0.2.0
author:
  - fleetwatch engineers (@fleetwatch)
description:
  - Checks a role's C(<component>_instances) list (unique names and ports; the first instance
    listens on C(<component>_listen_address), the others need their own C(listen_address)) and adds
    C(index), C(listen_port), C(service) (C(<component>) for the first, C(<component>-<name>) for the
    others), C(unit_path) and C(env_file) (C(<config_dir>/<name>.env)).
  - The module also provides the C(env_file) filter, the text of a systemd C(EnvironmentFile=) from a
    dict, every value double-quoted and escaped.
options:
  _input:
    description: The instances.
    type: list
    elements: dict
    required: true
  component:
    description: Role name.
    type: str
    required: true
  listen_address:
    description: Listen address of the first instance.
    type: str
    required: true
  config_dir:
    description: Directory of the environment files.
    type: str
    required: true
  systemd_dir:
    description: Directory of the units.
    type: str
    default: /etc/systemd/system
  defaults:
    description: Settings every instance starts from; an instance's own non-null keys win.
    type: dict
  host:
    description: The inventory hostname, named in error messages.
    type: str
"""

EXAMPLES = r"""
- name: Instances
  ansible.builtin.debug:
    msg: "{{ [{'name': 'main'}] | fleetwatch.observability.exporter_instances('redis_exporter', '0.0.0.0:9121', '/etc/redis_exporter') }}"
- name: An environment file
  ansible.builtin.debug:
    msg: "{{ {'REDIS_PASSWORD': 'se\"cret'} | fleetwatch.observability.env_file }}"
"""

RETURN = r"""
_value:
  description: The completed instances.
  type: list
  elements: dict
"""

from ansible.errors import AnsibleFilterError

from ansible_collections.fleetwatch.observability.plugins.module_utils import exporterinstances as ei


def exporter_instances(instances, component, listen_address, config_dir, systemd_dir="/etc/systemd/system", defaults=None,
                       host=None):
    try:
        return ei.normalise(instances, component, listen_address, config_dir, systemd_dir, defaults, host)
    except ei.InstanceError as exc:
        raise AnsibleFilterError(str(exc))


def env_file(variables):
    try:
        return ei.env_file(variables)
    except ei.InstanceError as exc:
        raise AnsibleFilterError("environment file: %s" % exc)


class FilterModule(object):
    def filters(self):
        return {"exporter_instances": exporter_instances, "env_file": env_file}
