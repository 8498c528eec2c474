# SPDX-License-Identifier: Apache-2.0
"""The component registry (plugins/module_utils/registry.py) and everything that must read it:
installer artifacts, test mirror, lab URLs, Prometheus' default scrape jobs, the plays of site.yml."""
import json
import os
import subprocess
import sys

import pytest
import yaml

from ansible_collections.fleetwatch.observability.plugins.lookup import components as components_lookup
from ansible_collections.fleetwatch.observability.plugins.module_utils import artifacts
from ansible_collections.fleetwatch.observability.plugins.module_utils import registry

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
sys.path.insert(0, os.path.join(ROOT, "harness"))
import lab_urls  # noqa: E402  pylint: disable=wrong-import-position

FIELDS = {"name", "artifact", "debian", "port", "prefix", "group", "tier", "multi_instance", "metrics_path",
          "health_path", "scrape", "has_role", "lab_path", "backup"}


def read(*parts):
    with open(os.path.join(ROOT, *parts)) as handle:
        return handle.read()


def lookup_plugin():
    return components_lookup.LookupModule()


def lookup(view, variables=None, **kwargs):
    return lookup_plugin().run([view], variables=variables or {}, **kwargs)[0]


# --- the table ---------------------------------------------------------------------------------

def test_every_component_has_every_field_with_sane_values():
    ports = {}
    for name, entry in registry.COMPONENTS.items():
        assert set(entry) == FIELDS, name
        assert entry["name"] == entry["prefix"] == entry["group"] == name
        assert entry["tier"] in registry.TIERS
        assert isinstance(entry["port"], int) and 0 < entry["port"] < 65536
        assert entry["port"] not in ports, "%s and %s share port %d" % (name, ports.get(entry["port"]), entry["port"])
        ports[entry["port"]] = name
        for key in ("metrics_path", "health_path", "lab_path"):
            assert entry[key].startswith("/"), (name, key)
        if entry["artifact"] is None:  # installed by its role from the vendor's package repository
            assert entry["has_role"], name
        else:
            assert entry["artifact"]["url"].startswith("https://") and "{version}" in entry["artifact"]["url"]


def test_the_known_components():
    assert registry.ORDER == ["node_exporter", "postgres_exporter", "redis_exporter", "blackbox_exporter", "alloy",
                              "fluent_bit", "promtail", "loki", "tempo", "alertmanager", "prometheus", "grafana"]
    health = dict((n, e["health_path"]) for n, e in registry.COMPONENTS.items())
    assert health["prometheus"] == health["alertmanager"] == "/-/ready"
    assert health["node_exporter"] == health["postgres_exporter"] == health["redis_exporter"] == "/"
    assert health["loki"] == health["tempo"] == "/ready"
    assert health["grafana"] == "/api/health"
    assert [n for n, e in registry.COMPONENTS.items() if e["multi_instance"]] == ["postgres_exporter", "redis_exporter"]


def test_agents_deploy_before_servers_and_alertmanager_before_prometheus():
    tiers = [registry.COMPONENTS[n]["tier"] for n in registry.ORDER]
    assert tiers == sorted(tiers, key=registry.TIERS.index)
    assert registry.ORDER.index("alertmanager") < registry.ORDER.index("prometheus")
    agents = ["node_exporter", "postgres_exporter", "redis_exporter", "fluent_bit"]
    assert [e["name"] for e in registry.select(tier="agent", has_role=True)] == agents
    assert [e["name"] for e in registry.select(tier="server", has_role=True)] == ["loki", "tempo", "alertmanager", "prometheus", "grafana"]


def test_every_component_with_a_role_has_its_role_and_every_role_is_in_the_registry():
    roles = sorted(d for d in os.listdir(os.path.join(ROOT, "roles")) if os.path.isdir(os.path.join(ROOT, "roles", d)))
    with_role = sorted(n for n, e in registry.COMPONENTS.items() if e["has_role"])
    for name in with_role:
        assert os.path.isfile(os.path.join(ROOT, "roles", name, "tasks", "main.yml")), name
    # Roles that are no component of the stack: common (shared defaults) and scheduler (systemd
    # timers on a controller host running the backup and verify playbooks).
    assert sorted(set(roles) - {"common", "scheduler"}) == with_role


def test_select_and_errors():
    assert [e["name"] for e in registry.select(names=["prometheus", "node_exporter"])] == ["node_exporter", "prometheus"]
    with pytest.raises(registry.RegistryError, match="unknown tier"):
        registry.select(tier="edge")
    with pytest.raises(registry.RegistryError, match="unknown component"):
        registry.select(names=["nope"])
    with pytest.raises(registry.RegistryError, match="unknown component 'nope'"):
        registry.component("nope")
    entry = registry.component("prometheus")
    entry["port"] = 1
    assert registry.COMPONENTS["prometheus"]["port"] == 9090, "callers get copies"


def test_roles_for_a_host_in_registry_order():
    assert registry.roles("server", ["prometheus", "alertmanager", "lab"]) == [
        "fleetwatch.observability.alertmanager", "fleetwatch.observability.prometheus"]
    assert registry.roles("agent", ["redis_exporter", "node_exporter"]) == [
        "fleetwatch.observability.node_exporter", "fleetwatch.observability.redis_exporter"]
    assert registry.roles("agent", []) == []


# --- the installer reads its artifacts from the registry ---------------------------------------------

def test_artifacts_come_from_the_registry_only():
    assert artifacts.COMPONENTS == registry.artifact_table()
    assert set(artifacts.COMPONENTS) == set(registry.ORDER) - {"fluent_bit"}, "every component but the apt-installed one"
    assert "releases/download" not in read("plugins", "module_utils", "artifacts.py"), "a second artifact table"


def test_artifacts_import_without_ansible(tmp_path):
    """As the mirror builder does it: plugins/module_utils on sys.path, no ansible_collections."""
    code = ("import sys; sys.path.insert(0, %r); import artifacts, registry; "
            "assert artifacts.COMPONENTS == registry.artifact_table(); print(len(artifacts.COMPONENTS))"
            % os.path.join(ROOT, "plugins", "module_utils"))
    out = subprocess.run([sys.executable, "-S", "-c", code], cwd=str(tmp_path), stdout=subprocess.PIPE,
                         stderr=subprocess.STDOUT, universal_newlines=True, check=False)
    assert out.returncode == 0, out.stdout
    assert out.stdout.strip() == str(len([n for n in registry.ORDER if registry.COMPONENTS[n]["artifact"]]))


# --- the test mirror ------------------------------------------------------------------------------

def test_mirror_packages_come_from_the_registry():
    code = ("import sys; sys.path.insert(0, %r); sys.path.insert(0, %r); import build_mirror, registry, json; "
            "print(json.dumps(build_mirror.PACKAGES == registry.debian_packages())); "
            "print(json.dumps(sorted(build_mirror.PACKAGES)))"
            % (os.path.join(ROOT, "plugins", "module_utils"), os.path.join(ROOT, "harness")))
    out = subprocess.run([sys.executable, "-c", code], stdout=subprocess.PIPE, stderr=subprocess.STDOUT, universal_newlines=True, check=False)
    assert out.returncode == 0, out.stdout
    same, names = out.stdout.splitlines()
    assert json.loads(same) is True
    assert json.loads(names) == ["alertmanager", "blackbox_exporter", "node_exporter", "postgres_exporter",
                                 "prometheus", "redis_exporter"]
    assert "prometheus-node-exporter" not in read("harness", "build_mirror.py"), "a second package table"
    packages = registry.debian_packages()
    assert packages["prometheus"] == ("prometheus", {"prometheus": "usr/bin/prometheus", "promtool": "promtool:usr/bin/promtool"})


# --- the lab's URLs -------------------------------------------------------------------------------

def test_lab_lists_every_component_with_a_role():
    assert [e["name"] for e in lab_urls.services()] == [n for n in registry.ORDER if registry.COMPONENTS[n]["has_role"]]
    assert "SERVICES" not in read("harness", "lab_urls.py"), "a second service table"


@pytest.mark.parametrize("name, hv, ip, printed, probed, loopback", [
    ("prometheus", {}, "10.89.0.2", "http://10.89.0.2:9090/", "http://10.89.0.2:9090/-/ready", False),
    ("node_exporter", {"node_exporter_listen_address": "0.0.0.0:9200"}, "10.89.0.3",
     "http://10.89.0.3:9200/metrics", "http://10.89.0.3:9200/", False),
    # a specific IP wins over the container's address
    ("node_exporter", {"node_exporter_listen_address": "10.89.0.77:9100"}, "10.89.0.3",
     "http://10.89.0.77:9100/metrics", "http://10.89.0.77:9100/", False),
    ("alertmanager", {"alertmanager_listen_address": "[fd18::3]:9093", "alertmanager_tls_cert_file": "/c.crt"}, "10.89.0.3",
     "https://[fd18::3]:9093/", "https://[fd18::3]:9093/-/ready", False),
    ("prometheus", {"prometheus_external_url": "https://mon.example/prom/"}, "fd18::9",
     "http://[fd18::9]:9090/prom/", "http://[fd18::9]:9090/prom/-/ready", False),
    ("prometheus", {"prometheus_extra_flags": {"web.route-prefix": "/x/"}}, None,
     "http://fw-lab-mon1:9090/x/", "http://fw-lab-mon1:9090/x/-/ready", False),
    ("node_exporter", {"node_exporter_listen_address": "127.0.0.1:9100"}, "10.89.0.3",
     "http://127.0.0.1:9100/metrics", "http://127.0.0.1:9100/", True),
])
def test_lab_urls_follow_each_hosts_settings(name, hv, ip, printed, probed, loopback):
    assert lab_urls.urls(registry.component(name), "fw-lab-mon1", hv, ip) == (printed, probed, loopback)


def test_lab_urls_name_the_bad_variable():
    with pytest.raises(lab_urls.hostport.HostPortError, match="node_exporter_listen_address on fw-lab-app1"):
        lab_urls.urls(registry.component("node_exporter"), "fw-lab-app1", {"node_exporter_listen_address": "9100"}, "10.0.0.1")


# --- Prometheus' default jobs -----------------------------------------------------------------------

def test_scrape_jobs_default_comes_from_the_registry():
    jobs = registry.scrape_jobs()
    assert {j: (v["group"], v["port"]) for j, v in jobs.items() if registry.COMPONENTS[j]["has_role"]} == {
        "node_exporter": ("node_exporter", 9100), "postgres_exporter": ("postgres_exporter", 9187),
        "redis_exporter": ("redis_exporter", 9121), "fluent_bit": ("fluent_bit", 2020),
        "loki": ("loki", 3100), "tempo": ("tempo", 3200), "alertmanager": ("alertmanager", 9093),
        "prometheus": ("prometheus", 9090), "grafana": ("grafana", 3000)}
    assert jobs["loki"]["metrics_path"] == "/metrics"
    assert jobs["fluent_bit"]["metrics_path"] == "/api/v2/metrics/prometheus"
    assert jobs["postgres_exporter"]["multi_instance"] is True
    assert "blackbox_exporter" not in jobs and "promtail" not in jobs
    defaults = yaml.safe_load(read("roles", "prometheus", "defaults", "main", "main.yml"))
    assert defaults["prometheus_exporter_jobs"] == {}, "the jobs are the registry's; the variable only extends them"
    scrape_vars = yaml.safe_load(read("roles", "prometheus", "vars", "main", "scrape.yml"))
    assert "lookup('fleetwatch.observability.components', 'scrape_jobs')" in scrape_vars["prometheus_scrape_jobs"]
    assert "prometheus_scrape_jobs" in scrape_vars["prometheus_scrape_slices"]


# --- the lookup -------------------------------------------------------------------------------------

def test_lookup_views():
    assert lookup("scrape_jobs") == registry.scrape_jobs()
    assert lookup("groups", tier="agent") == ["node_exporter", "postgres_exporter", "redis_exporter", "fluent_bit"]
    assert lookup("groups", tier="agent", has_role=False) == ["blackbox_exporter", "alloy", "promtail"]
    assert lookup("groups", tier="server", existing=True, variables={"groups": {"prometheus": [], "all": []}}) == ["prometheus"]
    assert lookup("roles", tier="server", host_groups=["prometheus", "alertmanager"]) == [
        "fleetwatch.observability.alertmanager", "fleetwatch.observability.prometheus"]
    assert lookup("names", scrape=True, multi_instance=True) == ["postgres_exporter", "redis_exporter"]
    assert [e["name"] for e in lookup("components", tier="server")] == ["loki", "tempo", "alertmanager", "prometheus", "grafana"]


@pytest.mark.parametrize("terms, kwargs, message", [
    ([], {}, "give one of"), (["roles", "groups"], {}, "give one of"), (["hosts"], {}, "give one of"),
    (["roles"], {"tier": "edge"}, "unknown tier"), (["roles"], {"tier": 1}, "tier must be a str"),
    (["roles"], {"host_groups": "prometheus"}, "host_groups must be a list"), (["roles"], {"color": "red"}, "unknown option"),
])
def test_lookup_errors(terms, kwargs, message):
    from ansible.errors import AnsibleError
    with pytest.raises(AnsibleError, match=message):
        lookup_plugin().run(terms, variables={}, **kwargs)


# --- site.yml ---------------------------------------------------------------------------------------

def test_site_yml_plays_come_from_the_registry():
    plays = yaml.safe_load(read("playbooks", "site.yml"))
    assert len(plays) == 2
    agents, servers = plays
    text = read("playbooks", "site.yml")
    for name in registry.ORDER:
        assert "fleetwatch.observability.%s" % name not in text, "site.yml names a role itself: %s" % name
    assert "tier='agent'" in agents["hosts"] and "components" in agents["hosts"]
    assert "tier='server'" in servers["hosts"] and "components" in servers["hosts"]
    assert "serial" not in agents
    assert servers["serial"] == "{{ fleetwatch_server_serial | default(1) }}"
    for play, tier in ((agents, "agent"), (servers, "server")):
        (task,) = play["tasks"]
        assert "ansible.builtin.include_role" in task
        assert "tier='%s'" % tier in task["loop"] and "host_groups=group_names" in task["loop"]


def run_list_hosts(inventory):
    env = dict(os.environ, ANSIBLE_COLLECTIONS_PATH=os.path.join(ROOT, ".cache", "collections"),
               ANSIBLE_CONFIG=os.path.join(ROOT, "ansible.cfg"))
    out = subprocess.run([os.path.join(os.path.dirname(sys.executable), "ansible-playbook"), "-i", inventory,
                          os.path.join(ROOT, "playbooks", "site.yml"), "--list-hosts"],
                         stdout=subprocess.PIPE, stderr=subprocess.STDOUT, universal_newlines=True, env=env, cwd=ROOT, check=False)
    assert out.returncode == 0, out.stdout
    plays, current = [], None
    for line in out.stdout.splitlines():
        line = line.strip()
        if line.startswith("play #"):
            current = []
            plays.append(current)
        elif current is not None and line and not line.startswith(("pattern:", "hosts (")):
            current.append(line)
    return plays, out.stdout


@pytest.mark.skipif(not os.path.exists(os.path.join(os.path.dirname(sys.executable), "ansible-playbook")),
                    reason="ansible-playbook not installed")
def test_site_yml_hosts_on_the_lab_inventory():
    plays, output = run_list_hosts(os.path.join(ROOT, "inventories", "lab", "hosts.yml"))
    assert sorted(plays[0]) == ["fw-lab-app1", "fw-lab-db1", "fw-lab-mon1"]
    assert plays[1] == ["fw-lab-mon1"]
    assert "Could not match" not in output


def play_hosts(inventory_path, tier):
    """The hosts of site.yml's play of a tier, in the order Ansible runs them (pattern order;
    ansible-playbook --list-hosts shows them as a set)."""
    from ansible.inventory.manager import InventoryManager
    from ansible.parsing.dataloader import DataLoader
    inventory = InventoryManager(loader=DataLoader(), sources=[str(inventory_path)])
    pattern = lookup("groups", tier=tier, existing=True, variables={"groups": inventory.get_groups_dict()})
    return [h.name for h in inventory.get_hosts(pattern, order="inventory")]


def test_site_yml_rolls_servers_with_alertmanagers_first(tmp_path):
    inventory = tmp_path / "hosts.yml"
    inventory.write_text(yaml.safe_dump({
        "prometheus": {"hosts": {"p1": None, "p2": None, "p0": None}},
        "alertmanager": {"hosts": {"p2": None, "am1": None}},
        "node_exporter": {"hosts": {"p1": None, "app1": None}},
        "loki": {"hosts": {"l1": None}},
    }))
    assert sorted(play_hosts(inventory, "agent")) == ["app1", "p1"]
    servers = play_hosts(inventory, "server")
    assert sorted(servers) == ["am1", "l1", "p0", "p1", "p2"]
    assert servers[0] == "l1", "Loki's hosts come first (registry order: loki, alertmanager, prometheus)"
    assert sorted(servers[1:3]) == ["am1", "p2"], "hosts with an Alertmanager come before those with Prometheus only"
    assert registry.roles("server", ["prometheus", "alertmanager"]) == [
        "fleetwatch.observability.alertmanager", "fleetwatch.observability.prometheus"]
