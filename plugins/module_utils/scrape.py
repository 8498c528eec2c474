# -*- coding: utf-8 -*-
# Copyright: fleetwatch engineers
# SPDX-License-Identifier: Apache-2.0
"""Scrape jobs (and the Alertmanagers to notify) derived from the inventory.

Every host in a component's group is a target of that component's job (the jobs come from the
component registry, see registry.scrape_jobs); how to reach it comes from the host's own variables
of that role:

* address: ``<prefix>_listen_address`` (port; a specific IP or name is connected to as such, a
  wildcard 0.0.0.0/:: means the host's ``ansible_host`` or inventory hostname; IPv6 in brackets).
  A loopback listen address is reachable from the same host only: elsewhere it is an error. Of a
  list of listen addresses (node_exporter), the first that is not loopback;
* multi-instance components (``multi_instance``): one target per ``<prefix>_instances`` entry (the
  first on ``<prefix>_listen_address``, the others on their own ``listen_address``), each labelled
  ``instance_name`` = the instance's name;
* path: route prefix (``web.route-prefix`` in ``<prefix>_extra_flags``, else the path of the
  external URL, ``<prefix>_external_url``) + the metrics path (``web.telemetry-path`` when set);
* scheme https when ``<prefix>_tls_cert_file`` is set, with Prometheus' client TLS settings
  (CA, client certificate for mutual TLS, insecure_skip_verify);
* basic auth: user ``scrape_user`` of ``<prefix>_basic_auth_users``.

A Prometheus scrape config has one scheme, path and set of credentials, so targets that differ
there are split into several scrape configs of the same job (``job_name`` node_exporter,
node_exporter_2, ... with the ``job`` label set back to the job's name); ``instance`` is the
inventory hostname. Errors name the host and the variable.
"""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

import json
import re

try:
    from ansible_collections.fleetwatch.observability.plugins.module_utils import exporterinstances as ei
    from ansible_collections.fleetwatch.observability.plugins.module_utils import hostport
except ImportError:  # a harness script with plugins/module_utils on sys.path
    import exporterinstances as ei  # noqa: E402  pylint: disable=import-error
    import hostport  # noqa: E402  pylint: disable=import-error


JOB_RE = re.compile(r"^[A-Za-z_][A-Za-z0-9_]{0,99}$")


class ScrapeError(Exception):
    pass


def port_of(listen_address, default, variable=None, host=None):
    """The port of a listen address; the default when it is unset."""
    if listen_address in (None, ""):
        return int(default)
    try:
        return hostport.parse_listen(listen_address, variable, host)[1]
    except hostport.HostPortError as exc:
        raise ScrapeError(str(exc))


def members(groups, name):
    found = groups.get(name) or []
    if isinstance(found, str) or not isinstance(found, (list, tuple)):
        raise ScrapeError("the inventory group %s is not a list of hosts: %r" % (name, found))
    return list(found)


def _job_entry(job, entry):
    if not isinstance(job, str) or not JOB_RE.match(job):
        raise ScrapeError("scrape job name %r must be letters, digits and _ (it names files)" % (job,))
    if not isinstance(entry, dict):
        raise ScrapeError("scrape job %s: its settings must be a mapping {group, port, prefix, metrics_path}, not %r"
                          % (job, entry))
    if "port" not in entry:
        raise ScrapeError("job %s needs a default port" % job)
    port = entry["port"]
    if isinstance(port, bool) or not str(port).isdigit() or not 0 < int(port) < 65536:
        raise ScrapeError("scrape job %s: port %r must be 1-65535" % (job, port))
    group = entry.get("group", job)
    prefix = entry.get("prefix", job)
    metrics_path = entry.get("metrics_path", "/metrics")
    for key, value in (("group", group), ("prefix", prefix), ("metrics_path", metrics_path)):
        if not isinstance(value, str) or not value:
            raise ScrapeError("scrape job %s: %s must be a non-empty string, not %r" % (job, key, value))
    if not metrics_path.startswith("/"):
        raise ScrapeError("scrape job %s: metrics_path %r must start with /" % (job, metrics_path))
    return {"group": group, "prefix": prefix, "port": int(port), "metrics_path": metrics_path,
            "multi_instance": bool(entry.get("multi_instance", False))}


def client_tls(options):
    """tls_config of https targets from {ca_file, cert_file, key_file, insecure_skip_verify}."""
    options = options or {}
    cert, key = options.get("cert_file") or "", options.get("key_file") or ""
    if bool(cert) != bool(key):
        raise ScrapeError("prometheus_scrape_cert_file and prometheus_scrape_key_file go together (client certificate "
                          "and its key for mutual TLS): set both or neither")
    tls = {}
    if options.get("ca_file"):
        tls["ca_file"] = str(options["ca_file"])
    if cert:
        tls["cert_file"] = str(cert)
        tls["key_file"] = str(key)
    tls["insecure_skip_verify"] = bool(options.get("insecure_skip_verify", False))
    return tls


def _get(hostvars, host):
    hv = hostvars.get(host)
    if hv is None:
        return {}
    return hv


def _credentials(hv, prefix, host, job, scrape_user):
    variable = prefix + "_basic_auth_users"
    users = hv.get(variable) or {}
    if not isinstance(users, dict):
        raise ScrapeError("%s on %s must be a mapping of user name to password, not %r" % (variable, host, type(users).__name__))
    if not users:
        return None, None
    if scrape_user not in users:
        raise ScrapeError(
            "%s protects %s with basic auth but has no user %r for Prometheus: add it to %s on %s "
            "(or set prometheus_scrape_basic_auth_user)" % (host, job, scrape_user, variable, host))
    password = users[scrape_user]
    if isinstance(password, bool) or password is None or isinstance(password, (dict, list)):
        raise ScrapeError("%s[%r] on %s must be the password (a string)" % (variable, scrape_user, host))
    password = str(password)
    if password.startswith("$2") and len(password) == 60:
        raise ScrapeError(
            "%s[%r] on %s is a bcrypt hash: Prometheus needs the password itself to scrape" % (variable, scrape_user, host))
    return scrape_user, password


def _flags(value, variable, host):
    if value in (None, ""):
        return {}
    if not isinstance(value, dict):
        raise ScrapeError("%s on %s must be a mapping of flag name to value" % (variable, host))
    return value


def _endpoints(job, entry, host, hv):
    """[(listen address, variable naming it, flags, extra labels)] of the host's instances of the job."""
    prefix = entry["prefix"]
    variable = prefix + "_listen_address"
    listen = hv.get(variable)
    if listen in (None, ""):
        listen = ":%d" % entry["port"]
    role_flags = _flags(hv.get(prefix + "_extra_flags"), prefix + "_extra_flags", host)
    if not entry["multi_instance"]:
        return [(listen, variable, role_flags, {})]
    instances = hv.get(prefix + "_instances")
    if instances in (None, ""):
        instances = [{"name": "main"}]  # the roles' default: one instance
    try:
        hostport.parse_listen(listen, variable, host)
        normalised = ei.normalise(instances, prefix, listen, "/nonexistent", host=host)
    except hostport.HostPortError as exc:
        raise ScrapeError(str(exc))
    except ei.InstanceError as exc:
        text = str(exc)
        if " on %s: " % host in text:  # the message names the variable and the host already
            raise ScrapeError(text)
        raise ScrapeError("%s on %s: %s" % (prefix + "_instances", host, text))
    out = []
    for item in normalised:
        where = variable if item["index"] == 0 else "%s_instances[%d].listen_address" % (prefix, item["index"])
        flags = dict(role_flags)
        flags.update(_flags(item.get("flags"), "%s_instances[%d].flags" % (prefix, item["index"]), host))
        out.append((item["listen_address"], where, flags, {"instance_name": item["name"]}))
    return out


def target_of(job, entry, host, hv, listen, variable, me=None):
    """The address Prometheus connects to for one endpoint (of a list of listen addresses, the first
    that is not loopback; on Prometheus' own host, the first)."""
    if isinstance(listen, (list, tuple)):
        try:
            hostport.normalise_listen_list(listen, variable, host)
        except hostport.HostPortError as exc:
            raise ScrapeError(str(exc))
        listen = hostport.pick_listen(listen, local=(host == me))
    try:
        listen_host, port = hostport.parse_listen(listen, variable, host)
    except hostport.HostPortError as exc:
        raise ScrapeError(str(exc))
    if hostport.is_loopback(listen_host) and host != me:
        raise ScrapeError(
            "%s on %s: %r listens on loopback only, so Prometheus%s cannot reach it: listen on an address of the host "
            "(or 0.0.0.0), or take %s out of the %s group" % (variable, host, listen, " on %s" % me if me else "", host, entry["group"]))
    fallback = hv.get("ansible_host") or host
    try:
        return hostport.join(hostport.connect_host(listen_host, fallback), port)
    except hostport.HostPortError as exc:
        raise ScrapeError("%s on %s: %s" % (variable, host, exc))


def jobs(spec, groups, hostvars, scrape_user="prometheus", include=None, options=None, me=None, name_prefix=""):
    """Return the scrape slices of every job.

    spec: {job: {group, port, prefix (default job), metrics_path (default /metrics), multi_instance}};
    a job whose settings are null is left out (how a user drops a default job).
    include: {job: [hosts]} added to a job's group (for example the Prometheus host itself).
    options: {secrets_dir, ca_file, cert_file, key_file, insecure_skip_verify}: the client side.
    me: the Prometheus host (the only one that reaches targets listening on loopback).
    name_prefix: put before each slice's name (the alerting slices: "alerting_").

    Each slice: {name, job, scheme, metrics_path, path_prefix, username, password, password_file,
    tls_config, targets: [{address, instance, labels}]} (password_file: <secrets_dir>/<name>.password).
    """
    if not isinstance(spec, dict):
        raise ScrapeError("the scrape jobs must be a mapping of job name to settings, not %r" % (spec,))
    options = options or {}
    tls = client_tls(options)
    secrets_dir = str(options.get("secrets_dir") or "").rstrip("/")
    slices = []
    include = include or {}
    for job in sorted(spec, key=str):
        if spec[job] is None:
            continue
        entry = _job_entry(job, spec[job])
        hosts = members(groups, entry["group"])
        for extra in include.get(job, []):
            if extra not in hosts:
                hosts.append(extra)
        by_settings = {}
        order = []
        for host in sorted(hosts):
            hv = _get(hostvars, host)
            prefix = entry["prefix"]
            scheme = "https" if hv.get(prefix + "_tls_cert_file") else "http"
            username, password = _credentials(hv, prefix, host, job, scrape_user)
            try:
                route = hostport.service_route_prefix(hv, prefix, host)
            except hostport.HostPortError as exc:
                raise ScrapeError(str(exc))
            for listen, variable, flags, labels in _endpoints(job, entry, host, hv):
                path = flags.get("web.telemetry-path") or hv.get(prefix + "_telemetry_path") or entry["metrics_path"]
                if not isinstance(path, str) or not path.startswith("/"):
                    raise ScrapeError("web.telemetry-path of %s on %s: %r must be a path starting with /" % (prefix, host, path))
                key = (scheme, username, password, route + path, route or "/")
                if key not in by_settings:
                    by_settings[key] = []
                    order.append(key)
                by_settings[key].append({"address": target_of(job, entry, host, hv, listen, variable, me),
                                         "instance": host, "labels": dict(labels)})
        for index, key in enumerate(order):
            scheme, username, password, metrics_path, path_prefix = key
            name = name_prefix + (job if index == 0 else "%s_%d" % (job, index + 1))
            slices.append({
                "name": name,
                "job": job,
                "scheme": scheme,
                "metrics_path": metrics_path,
                "path_prefix": path_prefix,
                "username": username,
                "password": password,
                "password_file": ("%s/%s.password" % (secrets_dir, name)) if (username and secrets_dir) else None,
                "tls_config": dict(tls) if scheme == "https" else None,
                "targets": by_settings[key],
            })
    return slices


def file_sd_target(target):
    """{address, instance, labels} -> one file_sd entry."""
    labels = dict(target.get("labels") or {})
    labels["instance"] = target["instance"]
    return {"targets": [target["address"]], "labels": labels}


def file_sd_files(slices, directory, group, mode="0640"):
    """The file_sd JSON files of the scrape slices: [{path, content, group, mode}] (no secret in them)."""
    out = []
    for item in slices:
        content = json.dumps([file_sd_target(t) for t in item["targets"]], indent=4, sort_keys=True, separators=(",", ": "))
        out.append({"path": "%s/%s.json" % (str(directory).rstrip("/"), item["name"]), "content": content,
                    "group": group, "mode": mode})
    return out


def secret_files(slices, extra=None, group=None, mode="0640"):
    """The password files of the slices, and extra [{path, content}] files: [{path, content, group, mode}].

    One path with two different contents is an error (two settings would share one file)."""
    found = {}
    order = []
    for item in list(slices or []):
        if item.get("username"):
            if not item.get("password_file"):
                raise ScrapeError("scrape config %s has basic auth but no password file (give secrets_dir)" % item["name"])
            entry = {"path": item["password_file"], "content": item["password"]}
        else:
            continue
        _add_secret(found, order, entry, "scrape config %s" % item["name"])
    for entry in list(extra or []):
        _add_secret(found, order, {"path": entry["path"], "content": entry["content"]}, entry["path"])
    out = []
    for path in order:
        entry = dict(found[path])
        if group:
            entry["group"] = group
        entry["mode"] = mode
        out.append(entry)
    return out


def _add_secret(found, order, entry, what):
    path = entry["path"]
    if path in found:
        if found[path]["content"] != entry["content"]:
            raise ScrapeError("two different secrets would be written to %s (%s): rename one of the jobs" % (path, what))
        return
    found[path] = entry
    order.append(path)


def remote_write_configs(slices, path="/api/v1/write", settings=None):
    """One Prometheus ``remote_write`` entry per target of the slices (a sender such as Tempo's
    metrics generator writing to the inventory's Prometheus hosts).

    url = scheme://address + route prefix + path; name = ``<job>-<instance>`` (plus the
    ``instance_name`` label of a multi-instance target: names are unique, as Prometheus wants);
    basic auth by ``password_file`` only (the slices need ``secrets_dir``), TLS from the slice;
    ``settings`` (for example ``send_exemplars``) are added to every entry.
    """
    if not isinstance(path, str) or not path.startswith("/"):
        raise ScrapeError("the remote write path %r must start with /" % (path,))
    if settings is not None and not isinstance(settings, dict):
        raise ScrapeError("the remote write settings must be a mapping, not %r" % (settings,))
    out = []
    for item in list(slices or []):
        prefix = str(item.get("path_prefix") or "/").rstrip("/")
        for target in item["targets"]:
            name = "%s-%s" % (item["job"], target["instance"])
            if (target.get("labels") or {}).get("instance_name"):
                name += "-" + str(target["labels"]["instance_name"])
            entry = {"url": "%s://%s%s%s" % (item["scheme"], target["address"], prefix, path), "name": name}
            if item.get("username"):
                if not item.get("password_file"):
                    raise ScrapeError("%s has basic auth but no password file (give secrets_dir)" % item["name"])
                entry["basic_auth"] = {"username": item["username"], "password_file": item["password_file"]}
            if item.get("tls_config"):
                entry["tls_config"] = dict(item["tls_config"])
            entry.update(settings or {})
            out.append(entry)
    return out
