# SPDX-License-Identifier: Apache-2.0
"""For the benchmark scripts, run as ``python3 benchmarks/<script>.py``: the checkout importable as
ansible_collections.fleetwatch.observability (the link tests/conftest.py makes too) and the test
helpers of tests/ importable by name."""
import os
import sys

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(HERE)
COLLECTIONS = os.path.join(ROOT, ".cache", "collections")
RESULTS = os.path.join(HERE, "results.md")


def setup():
    link = os.path.join(COLLECTIONS, "ansible_collections", "fleetwatch", "observability")
    if not os.path.lexists(link):
        os.makedirs(os.path.dirname(link), exist_ok=True)
        os.symlink("../../../..", link)
    for path in (os.path.join(ROOT, "tests"), COLLECTIONS):
        if path not in sys.path:
            sys.path.insert(0, path)
