# SPDX-License-Identifier: Apache-2.0
"""Tags on every role's tasks (install, configure, run), read by ansible-playbook itself
(--list-tasks --tags ...): `--tags install` runs the installer (artifact_install, or apt) and never
the service call, `--tags configure` and `--tags run` the service call (service_setup, or the
scheduler's systemd_service) and never an installer; every task has one of the three; site.yml's
includes always run, so the tags reach the roles."""
import os
import re
import subprocess
import sys

import pytest
import yaml

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
import roleplay  # noqa: E402  pylint: disable=wrong-import-position

ROOT = roleplay.ROOT
ROLES = sorted(r for r in os.listdir(os.path.join(ROOT, "roles"))
               if os.path.isfile(os.path.join(ROOT, "roles", r, "tasks", "main.yml")) and r != "common")
pytestmark = pytest.mark.skipif(not os.path.exists(roleplay.PLAYBOOK_BIN), reason="ansible-playbook not installed")
INSTALLERS = ("fleetwatch.observability.artifact_install",)
# What sets up and runs the service: service_setup, or (the scheduler's timers) the unit files themselves.
SERVICE_CALLS = ("fleetwatch.observability.service_setup", "ansible.builtin.systemd_service")


def listed(tmp_path, tags):
    """{'<role> : <task name>': tags} ansible-playbook would run with --tags, for a play with every role."""
    (tmp_path / "play.yml").write_text(yaml.safe_dump([{"name": "tags", "hosts": "localhost", "gather_facts": False,
                                                        "roles": ["fleetwatch.observability.%s" % r for r in ROLES]}]))
    env = dict(os.environ, ANSIBLE_COLLECTIONS_PATH=os.path.join(ROOT, ".cache", "collections"),
               ANSIBLE_CONFIG=os.path.join(ROOT, "ansible.cfg"), ANSIBLE_NOCOLOR="1")
    out = subprocess.run([roleplay.PLAYBOOK_BIN, "-i", "localhost,", str(tmp_path / "play.yml"), "--list-tasks", "--tags", tags],
                         stdout=subprocess.PIPE, stderr=subprocess.STDOUT, universal_newlines=True, env=env, cwd=str(tmp_path),
                         check=False)
    assert out.returncode == 0, out.stdout
    tasks = {}
    for line in out.stdout.splitlines():
        match = re.match(r"^\s+(\S+) : (.*?)\s+TAGS: \[(.*)\]$", line)
        if match and not match.group(2).startswith("Validating arguments against arg spec"):  # role argument checks: always
            tasks["%s : %s" % (match.group(1).rsplit(".", 1)[-1], match.group(2))] = set(
                t.strip() for t in match.group(3).split(",") if t.strip())
    return tasks


@pytest.fixture(scope="module")
def by_tag(tmp_path_factory):
    return dict((tag, listed(tmp_path_factory.mktemp("tags"), tag)) for tag in ("install", "configure", "run", "install,configure,run"))


def task_modules(role):
    """{'<role> : <task name>': module} of the role's main task file (not its static imports)."""
    out = {}
    with open(os.path.join(ROOT, "roles", role, "tasks", "main.yml")) as handle:
        for task in yaml.safe_load(handle) or []:
            module = [k for k in task if "." in k][0]
            if module != "ansible.builtin.import_tasks":  # listed as the tasks it imports, which take its tags
                out["%s : %s" % (role, task["name"])] = module
    return out


@pytest.mark.parametrize("role", ROLES)
def test_install_tag_runs_the_installer_and_not_the_service(by_tag, role):
    tasks = by_tag["install"]
    mine = [name for name in tasks if name.startswith(role + " : ")]
    modules = task_modules(role)
    installers = [n for n, m in modules.items() if m in INSTALLERS or m == "ansible.builtin.apt"]
    assert installers, "%s has no installer task (artifact_install or apt)" % role
    assert set(installers) <= set(mine), set(installers) - set(mine)
    assert not any(modules.get(n, "").endswith(SERVICE_CALLS) for n in mine), mine


@pytest.mark.parametrize("role", ROLES)
@pytest.mark.parametrize("tag", ["configure", "run"])
def test_configure_and_run_tags_skip_the_installer_and_keep_the_service(by_tag, role, tag):
    tasks = by_tag[tag]
    mine = [name for name in tasks if name.startswith(role + " : ")]
    modules = task_modules(role)
    services = [n for n, m in modules.items() if m.endswith(SERVICE_CALLS)]
    assert services and set(services) <= set(mine), (services, mine)
    assert not any(modules.get(n) in INSTALLERS or modules.get(n) == "ansible.builtin.apt" for n in mine), mine
    # every task of the role has one of the three tags: none runs only without --tags
    every = by_tag["install,configure,run"]
    assert set(n for n in modules if n in every) == set(modules), set(modules) - set(every)


def test_site_includes_always_run_so_the_roles_tags_apply():
    with open(os.path.join(ROOT, "playbooks", "site.yml")) as handle:
        plays = yaml.safe_load(handle)
    includes = [t for p in plays for t in p.get("tasks", []) if "ansible.builtin.include_role" in t]
    assert len(includes) == 2 and all(t.get("tags") == ["always"] for t in includes)
