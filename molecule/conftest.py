# SPDX-License-Identifier: Apache-2.0
"""Shared by the Testinfra tests of every Molecule scenario.

Molecule hands Testinfra an Ansible inventory; Testinfra's Ansible backend runs every command as
an ad-hoc Ansible call (over a second each). For hosts reached with the podman connection the
``host`` fixture switches to Testinfra's own podman backend (``podman exec``), which runs the
same commands in the same container. Other hosts (ssh, a live fleet) keep the Ansible backend.
"""
import os
import sys

import pytest
import testinfra

# The collection's module_utils (PromQL selectors, ...) are importable as in tests/unit.
COLLECTIONS = os.path.join(os.path.dirname(os.path.dirname(os.path.abspath(__file__))), ".cache", "collections")
if COLLECTIONS not in sys.path:
    sys.path.insert(0, COLLECTIONS)

PODMAN_CONNECTIONS = ("podman", "containers.podman.podman")


@pytest.fixture(scope="module")
def host(_testinfra_host):
    backend = _testinfra_host.backend
    if getattr(backend, "NAME", "") == "ansible":
        variables = backend.get_variables()
        if variables.get("ansible_connection") in PODMAN_CONNECTIONS:
            name = variables.get("ansible_host") or variables["inventory_hostname"]
            fast = testinfra.get_host("podman://" + name)
            fast.inventory_hostname = variables["inventory_hostname"]
            return fast
    _testinfra_host.inventory_hostname = backend.get_hostname()
    return _testinfra_host
