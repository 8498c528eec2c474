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

# The collection (ansible_collections.fleetwatch.observability) is importable as in tests/unit, and
# so are the test-only modules of tests/ (promql: PromQL selectors); this file is
# extensions/molecule/conftest.py.
ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
COLLECTIONS = os.path.join(ROOT, ".cache", "collections")
if COLLECTIONS not in sys.path:
    sys.path.insert(0, COLLECTIONS)
if os.path.join(ROOT, "tests") not in sys.path:
    sys.path.append(os.path.join(ROOT, "tests"))

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
