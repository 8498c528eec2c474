"""Role task arguments rendered with Ansible's own templating, on the role's defaults and vars."""
import os

import pytest

from ansible.parsing.dataloader import DataLoader
from ansible.template import Templar, trust_as_template
from ansible.utils.collection_loader._collection_finder import _AnsibleCollectionFinder

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
COLLECTIONS = os.path.join(ROOT, ".cache", "collections")


@pytest.fixture(autouse=True, scope="module")
def collection_loader():
    """Let Ansible's plugin loader find fleetwatch.observability's filters, as ansible-playbook does."""
    finder = _AnsibleCollectionFinder(paths=[COLLECTIONS])
    finder._install()
    yield
    finder._remove()


def load(path):
    """YAML as Ansible reads a role's files: its strings are templates."""
    return DataLoader().load_from_file(path, trusted_as_template=True)


def role_vars(role, **overrides):
    out = {}
    for kind in ("defaults", "vars"):
        base = os.path.join(ROOT, "roles", role, kind)
        files = [os.path.join(base, "main.yml")] if os.path.isfile(os.path.join(base, "main.yml")) else sorted(
            os.path.join(base, "main", n) for n in os.listdir(os.path.join(base, "main")))
        for path in files:
            out.update(load(path) or {})
    common = load(os.path.join(ROOT, "roles", "common", "defaults", "main.yml"))
    merged = dict(common, **out)
    merged.update(inventory_hostname="fw-test-1", groups={"all": ["fw-test-1"]}, hostvars={})
    merged.update(overrides)
    return merged


def task_arg(role, task_name, arg):
    tasks = load(os.path.join(ROOT, "roles", role, "tasks", "main.yml"))
    for task in tasks:
        if task.get("name") == task_name:
            module = [k for k in task if "." in k][0]
            return task[module][arg]
    raise KeyError(task_name)


def render(role, task_name, arg, **overrides):
    templar = Templar(loader=DataLoader(), variables=role_vars(role, **overrides))
    return templar.template(task_arg(role, task_name, arg))


def test_node_exporter_manages_its_textfile_directory_not_the_parent():
    """A Debian-style path must not make node_exporter take over /var/lib/prometheus (root 0755)."""
    dirs = render("node_exporter", "Configure and run node_exporter", "directories",
                  node_exporter_textfile_dir="/var/lib/prometheus/node-exporter")
    paths = [d["path"] for d in dirs]
    assert "/var/lib/prometheus/node-exporter" in paths
    assert "/var/lib/prometheus" not in paths


def test_node_exporter_textfile_directory_can_be_turned_off():
    dirs = render("node_exporter", "Configure and run node_exporter", "directories", node_exporter_textfile_dir="")
    assert [d["path"] for d in dirs] == ["/etc/node_exporter"]
    templar = Templar(loader=DataLoader(), variables=role_vars("node_exporter", node_exporter_textfile_dir=""))
    unit = templar.template(trust_as_template("{{ node_exporter_unit | fleetwatch.observability.systemd_unit }}"))
    assert "collector.textfile.directory" not in unit


@pytest.mark.parametrize("role,reloads", [("node_exporter", False), ("prometheus", True), ("alertmanager", True)])
def test_only_programs_that_reload_on_sighup_get_execreload(role, reloads):
    """systemctl reload node_exporter used to stop node_exporter for good (it exits on SIGHUP)."""
    overrides = {"groups": {"all": ["fw-test-1"], "alertmanager": []}} if role == "alertmanager" else {}
    templar = Templar(loader=DataLoader(), variables=role_vars(role, **overrides))
    unit = templar.template(trust_as_template("{{ %s_unit | fleetwatch.observability.systemd_unit }}" % role))
    assert ("ExecReload=/bin/kill -HUP $MAINPID" in unit) is reloads
