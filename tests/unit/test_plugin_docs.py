# SPDX-License-Identifier: Apache-2.0
"""Every plugin's documentation is YAML that Ansible can read (ansible-doc, ansible-lint and Galaxy
parse it; a parse error there is only printed, so it is caught here)."""
import ast
import glob
import os

import pytest
import yaml

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
PY = sorted(glob.glob(os.path.join(ROOT, "plugins", "*", "*.py")))
SIDECARS = sorted(glob.glob(os.path.join(ROOT, "plugins", "*", "*.yml")))


def doc_blocks(path):
    tree = ast.parse(open(path).read())
    for node in tree.body:
        if isinstance(node, ast.Assign) and isinstance(node.targets[0], ast.Name) \
                and node.targets[0].id in ("DOCUMENTATION", "EXAMPLES", "RETURN"):
            yield node.targets[0].id, node.value.value


@pytest.mark.parametrize("path", PY, ids=lambda p: os.path.relpath(p, ROOT))
def test_python_plugin_docs_parse(path):
    for name, text in doc_blocks(path):
        yaml.safe_load(text)


@pytest.mark.parametrize("path", SIDECARS, ids=lambda p: os.path.relpath(p, ROOT))
def test_sidecar_docs_parse(path):
    assert yaml.safe_load(open(path))["DOCUMENTATION"]
