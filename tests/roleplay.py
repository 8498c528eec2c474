# SPDX-License-Identifier: Apache-2.0
"""Render a role's variables with ansible-playbook itself, for an inventory of the test's own (the
hostvars and groups a role's templates read), and return what the play wrote as JSON."""
import json
import os
import subprocess
import sys

import yaml

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
PLAYBOOK_BIN = os.path.join(os.path.dirname(sys.executable), "ansible-playbook")


def run(tmp_path, play, inventory, extra=None):
    """Run play (text; it writes {{ out_dir }}/result.json) against inventory (a dict) with extra vars.

    Returns (the finished process, with its output in .stdout; the JSON result or None on failure).
    """
    (tmp_path / "play.yml").write_text(play)
    (tmp_path / "hosts.yml").write_text(yaml.safe_dump(inventory))
    values = {"out_dir": str(tmp_path)}
    values.update(extra or {})
    (tmp_path / "extra.json").write_text(json.dumps(values))
    env = dict(os.environ, ANSIBLE_COLLECTIONS_PATH=os.path.join(ROOT, ".cache", "collections"),
               ANSIBLE_CONFIG=os.path.join(ROOT, "ansible.cfg"), ANSIBLE_NOCOLOR="1", ANSIBLE_FORCE_COLOR="0")
    out = subprocess.run([PLAYBOOK_BIN, "-i", str(tmp_path / "hosts.yml"), str(tmp_path / "play.yml"),
                          "-e", "@" + str(tmp_path / "extra.json")],
                         stdout=subprocess.PIPE, stderr=subprocess.STDOUT, universal_newlines=True, env=env,
                         cwd=str(tmp_path), check=False)
    result = None
    if out.returncode == 0:
        with open(str(tmp_path / "result.json")) as handle:
            result = json.load(handle)
    return out, result
