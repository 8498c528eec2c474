# SPDX-License-Identifier: Apache-2.0
"""The built collection: `ansible-galaxy collection build` of a copy of this checkout (its tracked files,
plus the clutter of a working copy: caches, compiled files, an earlier build) into a temporary
directory, its file list read with `tar tzf`. It holds the product (roles, plugins, playbooks, meta, README,
LICENSE) and none of the harness, tests, Molecule scenarios, inventories or lab configuration; the
tarball installed into an empty collections path is usable on its own (no other collection, no
checkout)."""
import json
import os
import shutil
import subprocess
import sys
import tarfile

import pytest
import yaml

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
BIN = os.path.dirname(sys.executable)


def tool(name):
    path = os.path.join(BIN, name)
    return path if os.path.exists(path) else shutil.which(name)


pytestmark = pytest.mark.skipif(not tool("ansible-galaxy") or not shutil.which("tar"),
                                reason="ansible-galaxy or tar not installed")

# Paths (a directory stands for everything below it) that must never be in the tarball.
NOT_PRODUCT = (
    "harness/", "extensions/", "molecule/", "tests/", "inventories/", "benchmarks/", ".ci/", ".config/", ".cache/", ".venv/",
    ".git/", ".github/", ".pytest_cache/", "Makefile", "ansible.cfg", "requirements.txt", "requirements.yml",
    "pytest.ini", ".yamllint", ".ansible-lint", ".ansible-lint-ignore", ".gitignore", "galaxy.yml",
)
# Names that are lab or test material wherever they are.
NOT_PRODUCT_NAMES = ("containers.conf", "lab.yml", "lab.sh", "conftest.py", "molecule.yml", "hosts.yml")


def clean_env(tmp):
    """An environment that sees neither the checkout's ansible.cfg nor its .cache/collections."""
    config = os.path.join(tmp, "ansible.cfg")
    with open(config, "w") as handle:
        handle.write("[defaults]\n")
    env = dict((k, v) for k, v in os.environ.items() if not k.startswith("ANSIBLE_"))
    env.update(ANSIBLE_CONFIG=config, ANSIBLE_COLLECTIONS_PATH=os.path.join(tmp, "collections"),
               ANSIBLE_COLLECTIONS_SCAN_SYS_PATH="false", ANSIBLE_HOME=os.path.join(tmp, "home"),
               ANSIBLE_LOCAL_TEMP=os.path.join(tmp, "tmp"), ANSIBLE_NOCOLOR="1", PATH=BIN + os.pathsep + env.get("PATH", ""))
    return env


def run(argv, tmp, **kwargs):
    proc = subprocess.run(argv, cwd=tmp, env=clean_env(tmp), stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
                          universal_newlines=True, timeout=300, check=False, **kwargs)
    assert proc.returncode == 0, "%s failed:\n%s" % (" ".join(argv), proc.stdout)
    return proc.stdout


def tracked_files():
    """The checkout's files as git tracks them (what a clone has), or all of them outside git."""
    if os.path.isdir(os.path.join(ROOT, ".git")) and shutil.which("git"):
        out = subprocess.run(["git", "-C", ROOT, "ls-files", "-z"], stdout=subprocess.PIPE, check=True).stdout
        return [p for p in out.decode("utf-8").split("\0") if p and os.path.isfile(os.path.join(ROOT, p))]
    skip = (".git", ".cache", ".venv", ".pytest_cache")
    return [os.path.relpath(os.path.join(d, f), ROOT) for d, dirs, files in os.walk(ROOT)
            for f in files if not os.path.relpath(d, ROOT).split(os.sep)[0] in skip]


# What a working copy holds besides the tracked files (caches, compiled files, an earlier build).
CLUTTER = (".cache/collections/x.yml", ".venv/bin/x", ".pytest_cache/x", "plugins/module_utils/__pycache__/x.cpython-311.pyc",
           "roles/common/__pycache__/x.pyc", "fleetwatch-observability-0.0.1.tar.gz")


@pytest.fixture(scope="module")
def built(tmp_path_factory):
    """(tmp dir, tarball path, [member names]) of the collection built from a copy of this checkout."""
    tmp = str(tmp_path_factory.mktemp("build"))
    src = os.path.join(tmp, "src")
    for rel in tracked_files() + list(CLUTTER):
        dest = os.path.join(src, rel)
        os.makedirs(os.path.dirname(dest), exist_ok=True)
        if rel in CLUTTER:
            with open(dest, "w") as handle:
                handle.write("clutter\n")
        else:
            shutil.copy2(os.path.join(ROOT, rel), dest)
    run([tool("ansible-galaxy"), "collection", "build", src, "--output-path", os.path.join(tmp, "dist")], tmp)
    with open(os.path.join(ROOT, "galaxy.yml")) as handle:
        meta = yaml.safe_load(handle)
    tarball = os.path.join(tmp, "dist", "%s-%s-%s.tar.gz" % (meta["namespace"], meta["name"], meta["version"]))
    assert os.path.isfile(tarball), os.listdir(os.path.join(tmp, "dist"))
    listing = subprocess.run(["tar", "tzf", tarball], stdout=subprocess.PIPE, universal_newlines=True, check=True).stdout
    names = [n[2:] if n.startswith("./") else n for n in listing.splitlines() if n.strip()]
    return tmp, tarball, names


def test_the_product_is_in_the_tarball(built):
    _tmp, _tarball, names = built
    for top in ("README.md", "LICENSE", "MANIFEST.json", "FILES.json", "meta/runtime.yml", "playbooks/site.yml"):
        assert top in names, top
    for directory in ("roles/", "plugins/", "playbooks/", "meta/"):
        assert any(n.startswith(directory) and n != directory for n in names), directory
    tracked = tracked_files()
    roles = sorted(set(p.split("/")[1] for p in tracked if p.startswith("roles/") and p.endswith("/tasks/main.yml")))
    assert roles, "no role in the checkout"
    for role in roles:
        assert "roles/%s/tasks/main.yml" % role in names, role
    # Every file of the product directories, so that a file build_ignore catches by mistake fails here.
    missing = [p for p in tracked if p.startswith(("roles/", "plugins/", "playbooks/", "meta/", "docs/")) and p not in names]
    assert missing == []


def test_no_harness_tests_molecule_inventories_or_lab_files(built):
    _tmp, _tarball, names = built
    leaked = [n for n in names
              if any(n == p.rstrip("/") or n.startswith(p) for p in NOT_PRODUCT)
              or os.path.basename(n.rstrip("/")) in NOT_PRODUCT_NAMES
              or "__pycache__" in n.split("/") or n.endswith((".pyc", ".tar.gz"))]
    assert leaked == []


def test_the_license_is_the_full_apache_2_text(built):
    _tmp, tarball, _names = built
    with tarfile.open(tarball) as archive:
        text = archive.extractfile("LICENSE").read().decode("utf-8")
        manifest = json.loads(archive.extractfile("MANIFEST.json").read().decode("utf-8"))
    assert "Apache License" in text and "Version 2.0, January 2004" in text
    assert "END OF TERMS AND CONDITIONS" in text and "APPENDIX: How to apply the Apache License" in text
    info = manifest["collection_info"]
    assert info["license"] == ["Apache-2.0"]
    assert info["dependencies"] == {}, "the roles and plugins use ansible.builtin only"
    assert info["repository"].startswith("https://") and "example" not in info["repository"]


def test_the_installed_tarball_works_without_the_checkout(built):
    """Installed into an empty collections path (no checkout, no other collection): its docs load, and
    site.yml from the installed collection lists the hosts of an inventory (its lookup and roles
    resolve); a playbook importing every role passes the syntax check."""
    tmp, tarball, names = built
    run([tool("ansible-galaxy"), "collection", "install", "--offline", "--no-deps", "-p", os.path.join(tmp, "collections"),
         tarball], tmp)
    installed = os.path.join(tmp, "collections", "ansible_collections", "fleetwatch", "observability")
    assert os.path.isfile(os.path.join(installed, "MANIFEST.json"))
    assert not os.path.islink(installed)
    out = run([tool("ansible-doc"), "-t", "module", "fleetwatch.observability.service_setup"], tmp)
    assert "secret_files" in out
    inventory = os.path.join(tmp, "hosts.yml")
    with open(inventory, "w") as handle:
        yaml.safe_dump({"all": {"children": {
            "node_exporter": {"hosts": {"app1": {}, "mon1": {}}},
            "prometheus": {"hosts": {"mon1": {}}},
            "alertmanager": {"hosts": {"mon1": {}}}}}}, handle)
    out = run([tool("ansible-playbook"), "-i", inventory, "fleetwatch.observability.site", "--list-hosts"], tmp)
    assert "app1" in out and "mon1" in out
    roles = sorted(set(n.split("/")[1] for n in names if n.startswith("roles/") and n.count("/") >= 2))
    play = os.path.join(tmp, "roles.yml")
    with open(play, "w") as handle:
        yaml.safe_dump([{"name": "Every role", "hosts": "all", "gather_facts": False,
                         "tasks": [{"name": "Role " + r, "ansible.builtin.import_role": {"name": "fleetwatch.observability." + r}}
                                   for r in roles]}], handle)
    run([tool("ansible-playbook"), "-i", inventory, play, "--syntax-check"], tmp)


def test_every_python_file_has_the_spdx_header():
    """The license of every Python file is named in its first lines (SPDX), as the tarball's LICENSE says."""
    missing = []
    for rel in tracked_files():
        if rel.endswith(".py"):
            with open(os.path.join(ROOT, rel)) as handle:
                head = [handle.readline() for _line in range(5)]
            if "# SPDX-License-Identifier: Apache-2.0\n" not in head:
                missing.append(rel)
    assert missing == []


def test_the_checkouts_ansible_cfg_weakens_nothing_a_fleet_command_would_pick_up():
    """A user running the README's fleet commands from a checkout gets this ansible.cfg: no host key
    checking turned off, no lab inventory as the default (the lab names its own, harness/lab.sh)."""
    import configparser
    cfg = configparser.ConfigParser()
    cfg.read(os.path.join(ROOT, "ansible.cfg"))
    defaults = dict(cfg["defaults"])
    assert defaults.get("host_key_checking", "true").lower() not in ("false", "no", "0")
    assert "inventory" not in defaults
    with open(os.path.join(ROOT, "harness", "lab.sh")) as handle:
        lab = handle.read()
    assert 'INV=(-i "$INVENTORY/hosts.yml" ' in lab and '"${INV[@]}" playbooks/site.yml' in lab


def test_the_tests_lab_and_benchmarks_pin_the_same_versions():
    """harness/test_versions.yml: the versions the test mirror holds, pinned by the lab (a link),
    the benchmarks (-e @file) and Molecule's base config (a copy: Molecule reads no file)."""
    with open(os.path.join(ROOT, "harness", "test_versions.yml")) as handle:
        pins = yaml.safe_load(handle)
    assert set(pins) == {"prometheus_version", "alertmanager_version", "node_exporter_version",
                         "postgres_exporter_version", "redis_exporter_version"}
    with open(os.path.join(ROOT, "extensions", "molecule", "config.yml")) as handle:
        base = yaml.safe_load(handle)["provisioner"]["inventory"]["group_vars"]["all"]
    assert {k: base[k] for k in pins} == pins
    lab = os.path.join(ROOT, "inventories", "lab", "group_vars", "all", "versions.yml")
    assert os.path.realpath(lab) == os.path.join(ROOT, "harness", "test_versions.yml")
    with open(os.path.join(ROOT, "benchmarks", "run.sh")) as handle:
        assert '"@$here/harness/test_versions.yml"' in handle.read()
    mirror = os.path.join(ROOT, ".cache", "mirror")
    if not os.path.isdir(mirror):
        pytest.skip("no test mirror (.cache/mirror): `make mirror` builds it")
    for key, version in pins.items():
        component = key[:-len("_version")]
        assert os.path.isdir(os.path.join(mirror, component, str(version))), (component, version)


def _release(version):
    import re
    return tuple(int(x) for x in re.match(r"(\d+)\.(\d+)\.(\d+)", str(version)).groups())


def test_the_defaults_are_not_older_than_what_the_tests_run():
    """The roles default to upstream's current releases: never older than the newest Debian has."""
    with open(os.path.join(ROOT, "harness", "test_versions.yml")) as handle:
        pins = yaml.safe_load(handle)
    for key, tested in pins.items():
        role = key[:-len("_version")]
        path = os.path.join(ROOT, "roles", role, "defaults", "main.yml")
        if not os.path.exists(path):
            path = os.path.join(ROOT, "roles", role, "defaults", "main", "main.yml")
        with open(path) as handle:
            default = yaml.safe_load(handle)[key]
        assert _release(default) >= _release(tested), (role, default, tested)


def test_meta_claims_exactly_the_platforms_the_tests_run():
    """Debian trixie (the main test image) and bookworm (harness OTHER_SUITES, make molecule's
    platform matrix); nothing else is claimed, since nothing else is tested."""
    import re
    with open(os.path.join(ROOT, "harness", "harness.sh")) as handle:
        harness = handle.read()
    main = re.search(r'^SUITE=\$\{FLEETWATCH_TEST_SUITE:-(\w+)\}', harness, re.M).group(1)
    others = re.search(r'^OTHER_SUITES=\(([^)]*)\)', harness, re.M).group(1).split()
    with open(os.path.join(ROOT, "Makefile")) as handle:
        makefile = handle.read()
    for suite in others:
        assert "localhost/fleetwatch-debian:%s" % suite in makefile, suite
    roles = sorted(os.listdir(os.path.join(ROOT, "roles")))
    assert roles
    for role in roles:
        with open(os.path.join(ROOT, "roles", role, "meta", "main.yml")) as handle:
            platforms = yaml.safe_load(handle)["galaxy_info"]["platforms"]
        assert platforms == [{"name": "Debian", "versions": sorted([main] + others)}], role
