# -*- coding: utf-8 -*-
# Copyright: fleetwatch engineers
# SPDX-License-Identifier: Apache-2.0
"""The one table of every component the collection knows, and the views derived from it.

Everything that lists components reads this table: the installer's artifact specs
(``artifacts.COMPONENTS``), the test mirror (``harness/build_mirror.py``), the lab's URL list
(``harness/lab_urls.py``), Prometheus' default scrape jobs and the plays of ``playbooks/site.yml``
(lookup ``fleetwatch.observability.components``). Adding a component (a role for Loki, Tempo,
Grafana, a log shipper) means adding or completing its entry here, its role, and its tests.

Per component (the key is the component's name):

* ``artifact``: the upstream release archive: ``url`` (``{version}`` without "v", ``{arch}`` =
  GOARCH), ``checksums`` ("sha256sums.txt", "SHA256SUMS" or "{url}.sha256"), ``binaries`` (names,
  or {member, name}), optional ``extract_all`` (unpack the whole tree), optional
  ``downgrade_floors`` (version switches upstream says lose data, refused by the installer);
  None for a component its role installs from the vendor's package repository (fluent_bit: no
  release archive upstream), which the installer and the test mirror then leave out;
* ``debian``: how the test mirror repacks Debian's package as that archive: {package,
  binaries: {upstream binary name: "path" or "other-package:path"}}, or None (not in Debian);
* ``port``: default port of ``<prefix>_listen_address``;
* ``prefix`` (variable prefix) and ``group`` (inventory group): the role's name;
* ``tier``: "agent" (runs on many hosts, all at once) or "server" (rolled one host at a time);
* ``multi_instance``: the role runs one process per ``<prefix>_instances`` entry (see exporterinstances);
* ``metrics_path``, ``health_path`` (readiness: what the role and the lab probe), ``lab_path``
  (the URL the lab prints);
* ``scrape``: Prometheus scrapes the members of the group (job = component name);
* ``has_role``: ``roles/<name>/`` exists; without it the component is an artifact only;
* ``backup``: what the backup and restore modules save of it (``plugins/module_utils/backup.py``),
  a list of entries ``{name, component, kind, paths, units, after_restore, reload_metric, binary}``:
  ``kind`` is the mechanism its authors provide (``files``: configuration and rule files;
  ``prometheus_snapshot``: a TSDB snapshot through the admin API; ``alertmanager_silences``: the
  silences API; ``sqlite``: SQLite's online backup), ``paths`` the role variables naming what is
  saved with their role defaults, ``units`` what is reloaded or restarted after a restore. Entries of
  a component without a role wait for it (the backup playbook runs on the role's inventory group).

The order of the table is the order of deployment within a tier: agents (exporters) first, then
the servers Loki, Tempo, Alertmanager, Prometheus (its config names the others), Grafana.

This file imports nothing, not even from Ansible: the harness adds plugins/module_utils to
sys.path and imports it as ``registry``.
"""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

import copy

GITHUB = "https://github.com"
TIERS = ("agent", "server")
COLLECTION = "fleetwatch.observability"


def _release(owner, name, file_name, checksums="sha256sums.txt", binaries=None, **extra):
    spec = {"url": "%s/%s/%s/releases/download/v{version}/%s" % (GITHUB, owner, name, file_name),
            "checksums": checksums, "binaries": binaries or [name]}
    spec.update(extra)
    return spec


def _backup(component, suffix, kind, paths, after_restore="restart", units=None, reload_metric=None, binary=None,
            database=None):
    """One backup entry: ``paths`` is [(role variable, its default)]; ``database``: the SQLite file in the first."""
    return {"name": "%s_%s" % (component, suffix), "component": component, "kind": kind,
            "paths": [{"var": var, "default": default} for var, default in paths],
            "units": list(units or ["%s.service" % component]), "after_restore": after_restore,
            "reload_metric": reload_metric, "binary": binary or component, "database": database}


def _config_backup(component, after_restore="restart", reload_metric=None, units=None):
    """The role's configuration directory (config, rules, secrets, web config), ``<component>_config_dir``."""
    return _backup(component, "config", "files", [(component + "_config_dir", "/etc/" + component)],
                   after_restore=after_restore, reload_metric=reload_metric, units=units)


def _instances(component):
    """Units of a multi-instance exporter: the first instance and the others (glob)."""
    return ["%s.service" % component, "%s-*.service" % component]


def _component(name, port, tier, artifact, debian=None, has_role=False, scrape=True, multi_instance=False,
               metrics_path="/metrics", health_path="/", lab_path=None, backup=None):
    return {
        "name": name, "artifact": artifact, "debian": debian, "port": port, "prefix": name, "group": name,
        "tier": tier, "multi_instance": multi_instance, "metrics_path": metrics_path, "health_path": health_path,
        "scrape": scrape, "has_role": has_role, "lab_path": metrics_path if lab_path is None else lab_path,
        "backup": list(backup or []),
    }


_TABLE = [
    # --- agents: on many hosts, deployed on all of them at once
    _component(
        "node_exporter", 9100, "agent", has_role=True, backup=[_config_backup("node_exporter")],
        artifact=_release("prometheus", "node_exporter", "node_exporter-{version}.linux-{arch}.tar.gz"),
        debian={"package": "prometheus-node-exporter",
                "binaries": {"node_exporter": "usr/bin/prometheus-node-exporter"}}),
    _component(
        "postgres_exporter", 9187, "agent", has_role=True, multi_instance=True,
        backup=[_config_backup("postgres_exporter", units=_instances("postgres_exporter"))],
        artifact=_release("prometheus-community", "postgres_exporter", "postgres_exporter-{version}.linux-{arch}.tar.gz"),
        debian={"package": "prometheus-postgres-exporter",
                "binaries": {"postgres_exporter": "usr/bin/prometheus-postgres-exporter"}}),
    _component(
        "redis_exporter", 9121, "agent", has_role=True, multi_instance=True,
        backup=[_config_backup("redis_exporter", units=_instances("redis_exporter"))],
        artifact=_release("oliver006", "redis_exporter", "redis_exporter-v{version}.linux-{arch}.tar.gz"),
        debian={"package": "prometheus-redis-exporter",
                "binaries": {"redis_exporter": "usr/bin/prometheus-redis-exporter"}}),
    # Artifact only for now (no role): probes need their own scrape jobs, not the inventory's.
    _component(
        "blackbox_exporter", 9115, "agent", scrape=False,
        artifact=_release("prometheus", "blackbox_exporter", "blackbox_exporter-{version}.linux-{arch}.tar.gz"),
        debian={"package": "prometheus-blackbox-exporter",
                "binaries": {"blackbox_exporter": "usr/bin/prometheus-blackbox-exporter"}}),
    _component(
        "alloy", 12345, "agent", health_path="/-/ready", lab_path="/",
        # the zip holds one file named like the archive
        artifact=_release("grafana", "alloy", "alloy-linux-{arch}.zip", checksums="SHA256SUMS",
                          binaries=[{"member": "alloy-linux-{arch}", "name": "alloy"}])),
    # The log shipper: Fluent Bit, installed from upstream's apt repository (its only Linux
    # distribution: no release archive, so no artifact); HTTP server with metrics on 2020.
    _component(
        "fluent_bit", 2020, "agent", has_role=True, artifact=None, metrics_path="/api/v2/metrics/prometheus",
        health_path="/", lab_path="/api/v2/metrics/prometheus",
        # The vendor package's unit name and directory; a restored config restarts it.
        backup=[_backup("fluent_bit", "config", "files", [("fluent_bit_config_dir", "/etc/fluent-bit")],
                        units=["fluent-bit.service"], binary="fluent-bit")]),
    # Promtail: artifact only (end of life since 2026-03-02; Fluent Bit is the collection's shipper).
    _component(
        "promtail", 9080, "agent", scrape=False, health_path="/ready",
        artifact=_release("grafana", "loki", "promtail-linux-{arch}.zip", checksums="SHA256SUMS",
                          binaries=[{"member": "promtail-linux-{arch}", "name": "promtail"}])),
    # --- servers: one host at a time (HA pairs stay up during an upgrade)
    _component(
        "loki", 3100, "server", has_role=True, health_path="/ready", lab_path="/ready",
        # Loki has no SIGHUP reload: a restored config restarts it.
        backup=[_config_backup("loki")],
        artifact=_release("grafana", "loki", "loki-linux-{arch}.zip", checksums="SHA256SUMS",
                          binaries=[{"member": "loki-linux-{arch}", "name": "loki"}])),
    _component(
        "tempo", 3200, "server", has_role=True, health_path="/ready", lab_path="/ready",
        # Tempo has no SIGHUP reload: a restored config restarts it.
        backup=[_config_backup("tempo")],
        artifact=_release("grafana", "tempo", "tempo_{version}_linux_{arch}.tar.gz", checksums="SHA256SUMS",
                          binaries=["tempo"])),
    _component(
        "alertmanager", 9093, "server", has_role=True, health_path="/-/ready", lab_path="/",
        backup=[_config_backup("alertmanager", after_restore="reload", reload_metric="alertmanager_config_last_reload"),
                # Silences through the API (restored by posting them back); the notification log is
                # not saved (see plugins/module_utils/backup.py).
                _backup("alertmanager", "silences", "alertmanager_silences", [], after_restore="none")],
        artifact=_release("prometheus", "alertmanager", "alertmanager-{version}.linux-{arch}.tar.gz",
                          binaries=["alertmanager", "amtool"]),
        debian={"package": "prometheus-alertmanager",
                "binaries": {"alertmanager": "usr/bin/prometheus-alertmanager", "amtool": "usr/bin/amtool"}}),
    _component(
        "prometheus", 9090, "server", has_role=True, health_path="/-/ready", lab_path="/",
        backup=[_config_backup("prometheus", after_restore="reload", reload_metric="prometheus_config_last_reload"),
                # A TSDB snapshot through the admin API (prometheus_admin_api), restored with Prometheus stopped.
                _backup("prometheus", "tsdb", "prometheus_snapshot", [("prometheus_storage_path", "/var/lib/prometheus")])],
        artifact=_release("prometheus", "prometheus", "prometheus-{version}.linux-{arch}.tar.gz",
                          binaries=["prometheus", "promtool"],
                          # Prometheus 3.0 migration guide, "TSDB format and downgrade".
                          downgrade_floors=[{"from": "3.0.0", "floor": "2.55.0", "reason": (
                              "a TSDB written by Prometheus 3 can only be read by Prometheus 2.55 or newer "
                              "(upstream's migration guide).")}]),
        debian={"package": "prometheus",
                "binaries": {"prometheus": "usr/bin/prometheus", "promtool": "promtool:usr/bin/promtool"}}),
    _component(
        "grafana", 3000, "server", has_role=True, health_path="/api/health", lab_path="/",
        # grafana.ini and the provisioned files (<config dir>/provisioning), and the SQLite database.
        backup=[_config_backup("grafana"),
                _backup("grafana", "database", "sqlite", [("grafana_data_path", "/var/lib/grafana")], database="grafana.db")],
        artifact={"url": "https://dl.grafana.com/oss/release/grafana-{version}.linux-{arch}.tar.gz",
                  "checksums": "{url}.sha256",
                  # Grafana needs its whole tree (public/, conf/): unpacked as a whole, binaries linked.
                  "extract_all": True, "binaries": ["bin/grafana"]}),
]

COMPONENTS = dict((entry["name"], entry) for entry in _TABLE)
ORDER = [entry["name"] for entry in _TABLE]


class RegistryError(ValueError):
    pass


def component(name):
    """One component's entry (a copy)."""
    if name not in COMPONENTS:
        raise RegistryError("unknown component %r (known: %s)" % (name, ", ".join(ORDER)))
    return copy.deepcopy(COMPONENTS[name])


def select(tier=None, has_role=None, scrape=None, multi_instance=None, names=None):
    """The components matching every given criterion, in registry order (copies)."""
    if tier is not None and tier not in TIERS:
        raise RegistryError("unknown tier %r (use %s)" % (tier, " or ".join(TIERS)))
    wanted = None
    if names:
        unknown = [n for n in names if n not in COMPONENTS]
        if unknown:
            raise RegistryError("unknown component(s) %s (known: %s)" % (", ".join(map(str, unknown)), ", ".join(ORDER)))
        wanted = set(names)
    out = []
    for entry in _TABLE:
        if wanted is not None and entry["name"] not in wanted:
            continue
        if tier is not None and entry["tier"] != tier:
            continue
        if has_role is not None and bool(entry["has_role"]) != bool(has_role):
            continue
        if scrape is not None and bool(entry["scrape"]) != bool(scrape):
            continue
        if multi_instance is not None and bool(entry["multi_instance"]) != bool(multi_instance):
            continue
        out.append(copy.deepcopy(entry))
    return out


def artifact_table():
    """{name: artifact spec} for the installer (artifacts.COMPONENTS)."""
    return dict((e["name"], copy.deepcopy(e["artifact"])) for e in _TABLE if e.get("artifact"))


def latest_release_api(name):
    """GitHub's "latest release" API URL of a component released on GitHub (``version: latest``); None
    for the others (Grafana's archive, apt-installed components) and unknown names."""
    url = ((COMPONENTS.get(name) or {}).get("artifact") or {}).get("url") or ""
    prefix = GITHUB + "/"
    if not url.startswith(prefix) or "/releases/download/" not in url:
        return None
    owner, repo = url[len(prefix):].split("/")[:2]
    return "https://api.github.com/repos/%s/%s/releases/latest" % (owner, repo)


def debian_packages():
    """{name: (Debian package, {binary: "path" or "package:path"})} for the test mirror."""
    return dict((e["name"], (e["debian"]["package"], dict(e["debian"]["binaries"])))
                for e in _TABLE if e.get("debian"))


def backups(names=None):
    """Every backup entry of the components (or of the named ones), in registry order."""
    return [dict(copy.deepcopy(b)) for e in select(names=names) for b in e["backup"]]


def backup_entry(name):
    """One backup entry by its name (``prometheus_tsdb``, ``alertmanager_silences``, ...)."""
    for entry in backups():
        if entry["name"] == name:
            return entry
    raise RegistryError("unknown backup %r (known: %s)" % (name, ", ".join(b["name"] for b in backups())))


def scrape_jobs():
    """Prometheus' inventory-driven jobs: {job: {group, port, prefix, metrics_path, multi_instance}}."""
    return dict((e["name"], {"group": e["group"], "port": e["port"], "prefix": e["prefix"],
                             "metrics_path": e["metrics_path"], "multi_instance": e["multi_instance"]})
                for e in _TABLE if e["scrape"])


def roles(tier=None, host_groups=None):
    """Fully qualified role names in deployment order; with host_groups only those of a host's groups."""
    groups = None if host_groups is None else set(host_groups)
    return ["%s.%s" % (COLLECTION, e["name"]) for e in select(tier=tier, has_role=True)
            if groups is None or e["group"] in groups]


def groups(tier=None, has_role=True):
    """Inventory groups of the components (with a role, by default) in deployment order."""
    return [e["group"] for e in select(tier=tier, has_role=has_role)]
