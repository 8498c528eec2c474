# -*- coding: utf-8 -*-
# Copyright: fleetwatch engineers
# SPDX-License-Identifier: Apache-2.0

from __future__ import absolute_import, division, print_function

__metaclass__ = type

DOCUMENTATION = r"""
name: listen_address
short_description: Check a "host:port" listen address and return it normalised
version_added: 0.2.0
author:
  - fleetwatch engineers (@fleetwatch)
description:
  - Accepts C(host:port), C([IPv6]:port) and C(:port) with a port of 1-65535 (digits only). Anything else (no port,
    a bare IPv6 address, a number, a list, a boolean) fails with a message naming the variable and the inventory host.
  - "Example message: C(node_exporter_listen_address on fw-node1: '0.0.0.0:91OO' is not host:port (port must be 1-65535))."
  - The same plugin file provides C(listen_addresses), C(listen_port), C(join_host_port), C(connect_host), C(duration), C(size) and
    C(check_values).
positional: variable, host
options:
  _input:
    description: The listen address.
    type: str
    required: true
  variable:
    description: Name of the variable (for the message).
    type: str
    required: true
  host:
    description: Inventory hostname (for the message).
    type: str
    required: true
"""

EXAMPLES = r"""
- name: Checked listen address
  ansible.builtin.debug:
    msg: "{{ node_exporter_listen_address | fleetwatch.observability.listen_address('node_exporter_listen_address', inventory_hostname) }}"
"""

RETURN = r"""
_value:
  description: The address, written the canonical way (C(0.0.0.0:9100), C([::]:9100), C(:9100)).
  type: str
"""

from ansible.errors import AnsibleFilterError

from ansible_collections.fleetwatch.observability.plugins.module_utils import hostport


def _call(func, *args):
    try:
        return func(*args)
    except hostport.HostPortError as exc:
        raise AnsibleFilterError(str(exc))


def listen_address(value, variable, host):
    return _call(hostport.normalise_listen, value, variable, host)


def listen_addresses(value, variable, host):
    return _call(hostport.normalise_listen_list, value, variable, host)


def listen_port(value, variable, host):
    return _call(lambda *a: hostport.parse_listen(*a)[1], value, variable, host)


def join_host_port(host, port):
    return _call(hostport.join, host, port)


def connect_host(listen_host, fallback):
    return _call(hostport.connect_host, listen_host, fallback)


def duration(value, variable, host, required=True):
    return _call(hostport.check_duration, value, variable, host, required)


def size(value, variable, host, required=False):
    return _call(hostport.check_size, value, variable, host, required)


def check_values(values, host):
    return _call(hostport.check_values, dict(values or {}), host)


class FilterModule(object):
    def filters(self):
        return {"listen_address": listen_address, "listen_addresses": listen_addresses, "listen_port": listen_port, "join_host_port": join_host_port,
                "connect_host": connect_host, "duration": duration, "size": size, "check_values": check_values}
