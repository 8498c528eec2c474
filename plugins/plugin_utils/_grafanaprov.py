# -*- coding: utf-8 -*-
# Copyright: fleetwatch engineers
# SPDX-License-Identifier: Apache-2.0
"""Grafana's files, generated: grafana.ini, the provisioned data sources and dashboard providers.

* ``ini_text({section: {key: value}})``: grafana.ini (booleans as true/false, no value with a line
  break, no key or section Grafana could misread);
* ``datasources(groups, hostvars, me, options)``: the data sources of the inventory's Prometheus,
  Alertmanager, Loki and Tempo hosts, reached as Prometheus reaches its scrape targets (address,
  route prefix, https, basic auth: ``scrape.jobs``), linked to each other (Prometheus exemplars and
  Loki derived fields -> Tempo, Tempo traces -> Loki logs and -> Prometheus metrics, service map);
  returns the provisioning document ``{apiVersion, prune, datasources}`` with every ``$`` of the
  values doubled (Grafana expands ``$NAME``, ``${NAME}`` and ``$__file{...}`` in provisioning files:
  https://grafana.com/docs/grafana/latest/administration/provisioning/#use-of-the-special-character-)
  and files referenced as ``$__file{path}`` (CA, client certificate);
* ``dashboards(shipped, user, options)``: the dashboard files (stable uids, no ``id``), the folders
  and the dashboard provider document.

Passwords go into secureJsonData of the data sources file itself, ``$`` doubled: Grafana's
provisioning expands ``$__file{}`` and then expands ``$NAME`` again in what the file held
(pkg/services/provisioning/values), so a password with ``$`` cannot come from a file reference.
The role writes the data sources file as a secret file (0640, root, group grafana).
"""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

import hashlib
import json
import re

from ansible_collections.fleetwatch.observability.plugins.module_utils import registry
from ansible_collections.fleetwatch.observability.plugins.module_utils import scrape

UID_RE = re.compile(r"^[A-Za-z0-9_-]{1,40}$")
INI_NAME_RE = re.compile(r"^[A-Za-z0-9_.-]+$")
KINDS = ("prometheus", "alertmanager", "loki", "tempo")
TITLES = {"prometheus": "Prometheus", "alertmanager": "Alertmanager", "loki": "Loki", "tempo": "Tempo"}
# What the links of the data sources match (the log shipper's labels: host, job, unit).
DEFAULT_LINKS = {
    # Loki derived field: a trace id in a log line ("trace_id=...", "traceID": "...") -> Tempo.
    "trace_id_regex": r"""(?:trace_?id|traceID)["'=: ]+(\w+)""",
    # Tempo span attribute -> Loki label (traces to logs) and Prometheus label (traces to metrics).
    "log_tags": [{"key": "host.name", "value": "host"}, {"key": "service.name", "value": "job"}],
    "metric_tags": [{"key": "service.name", "value": "service"}],
    "span_start_shift": "-5m",
    "span_end_shift": "5m",
    # Prometheus exemplar label holding the trace id.
    "exemplar_label": "trace_id",
}


class GrafanaError(ValueError):
    pass


# --- grafana.ini -----------------------------------------------------------------------------------

def ini_value(value, where):
    if isinstance(value, bool):
        return "true" if value else "false"
    if value is None:
        return ""
    if isinstance(value, (dict, list, tuple)):
        raise GrafanaError("%s: a grafana.ini value must be a string, number or boolean, not %s" % (where, type(value).__name__))
    text = str(value)
    if "\n" in text or "\r" in text:
        raise GrafanaError("%s: a grafana.ini value cannot span lines" % where)
    return text


def ini_text(sections, header="# Managed by fleetwatch.observability: local changes are overwritten."):
    """grafana.ini from {section: {key: value}} (sections and keys in the given order; None drops a key)."""
    if not isinstance(sections, dict):
        raise GrafanaError("the grafana.ini settings must be a mapping of section to {key: value}, not %r" % (sections,))
    lines = [header] if header else []
    for section, keys in sections.items():
        if not isinstance(section, str) or not INI_NAME_RE.match(section):
            raise GrafanaError("grafana.ini section name %r: letters, digits, _ . - only" % (section,))
        if keys is None:
            continue
        if not isinstance(keys, dict):
            raise GrafanaError("grafana.ini section [%s] must be a mapping of key to value, not %r" % (section, keys))
        body = []
        for key, value in keys.items():
            if not isinstance(key, str) or not INI_NAME_RE.match(key):
                raise GrafanaError("grafana.ini key %r in [%s]: letters, digits, _ . - only" % (key, section))
            if value is None:
                continue
            body.append("%s = %s" % (key, ini_value(value, "[%s] %s" % (section, key))))
        if body:
            lines.append("")
            lines.append("[%s]" % section)
            lines.extend(body)
    return "\n".join(lines) + "\n"


def file_ref(path, what="file"):
    """$__file{path}: Grafana reads the file (its content trimmed) where the reference stands."""
    text = str(path or "")
    if not text.startswith("/") or "}" in text or "\n" in text:
        raise GrafanaError("%s %r must be an absolute path without '}' (Grafana reads it as $__file{path})" % (what, path))
    return "$__file{%s}" % text


# --- provisioning: data sources --------------------------------------------------------------------

def escape(value):
    """Every $ of every string doubled (keys untouched): Grafana's provisioning reads $$ as one $."""
    if isinstance(value, str):
        return value.replace("$", "$$")
    if isinstance(value, dict):
        return dict((k, escape(v)) for k, v in value.items())
    if isinstance(value, (list, tuple)):
        return [escape(v) for v in value]
    return value


def unescape(value):
    """What Grafana makes of an escaped value without references ($$ -> $), for the tests."""
    if isinstance(value, str):
        return value.replace("$$", "$")
    if isinstance(value, dict):
        return dict((k, unescape(v)) for k, v in value.items())
    if isinstance(value, list):
        return [unescape(v) for v in value]
    return value


def slug(text, limit=40):
    out = re.sub(r"[^A-Za-z0-9_-]+", "-", str(text)).strip("-").lower()
    return out[:limit].rstrip("-") or "x"


def stable_uid(prefix, name):
    """A uid (<= 40 characters, Grafana's limit) derived from a name: the same name, the same uid."""
    base = slug("%s-%s" % (prefix, name))
    if len(base) <= 40 and base == "%s-%s" % (prefix, str(name).lower()):
        return base
    digest = hashlib.sha256(str(name).encode("utf-8")).hexdigest()[:8]
    return "%s-%s" % (base[:31].rstrip("-"), digest)


def _check_uid(uid, what):
    if not isinstance(uid, str) or not UID_RE.match(uid):
        raise GrafanaError("%s: uid %r must be 1-40 letters, digits, - and _" % (what, uid))
    return uid


def _spec(kind):
    job = registry.scrape_jobs()[kind]
    return {kind: {"group": job["group"], "port": job["port"], "prefix": job["prefix"], "metrics_path": "/"}}


def _endpoints(kind, group, groups, hostvars, user, me, client):
    spec = _spec(kind)
    spec[kind]["group"] = group
    try:
        slices = scrape.jobs(spec, groups, hostvars, user, None, client, me)
    except scrape.ScrapeError as exc:
        raise GrafanaError("Grafana's %s data source: %s (Grafana connects as grafana_datasource_user %r)" % (TITLES[kind], exc, user))
    out = []
    for item in slices:
        prefix = item["path_prefix"].rstrip("/")
        for target in item["targets"]:
            out.append({"host": target["instance"], "url": "%s://%s%s" % (item["scheme"], target["address"], prefix),
                        "scheme": item["scheme"], "username": item["username"], "password": item["password"]})
    return sorted(out, key=lambda e: e["host"])


def _client_settings(entry, options):
    json_data, secure = {}, {}
    if entry["username"]:
        secure["basicAuthPassword"] = entry["password"]
    if entry["scheme"] == "https":
        if options.get("ca_file"):
            json_data["tlsAuthWithCACert"] = True
            secure["tlsCACert"] = ("file", options["ca_file"], "grafana_datasource_ca_file")
        if options.get("cert_file") or options.get("key_file"):
            if not (options.get("cert_file") and options.get("key_file")):
                raise GrafanaError("grafana_datasource_cert_file and grafana_datasource_key_file go together: set both or neither")
            json_data["tlsAuth"] = True
            secure["tlsClientCert"] = ("file", options["cert_file"], "grafana_datasource_cert_file")
            secure["tlsClientKey"] = ("file", options["key_file"], "grafana_datasource_key_file")
        if options.get("insecure_skip_verify"):
            json_data["tlsSkipVerify"] = True
    return json_data, secure


def _uids(kind, entries):
    """The first host's data source has the component's name as uid (what the dashboards use)."""
    out = []
    for index, entry in enumerate(entries):
        out.append(kind if index == 0 else stable_uid(kind, entry["host"]))
    return out


def datasources(groups, hostvars, me=None, options=None):
    """The provisioning document of the data sources (values escaped, secrets inside: a secret file).

    options: user (basic auth user, default grafana), groups ({kind: inventory group}), extra (more
    data source dicts, given as Grafana documents them), ca_file, cert_file, key_file,
    insecure_skip_verify, links (overrides of DEFAULT_LINKS), scrape_interval (Prometheus' timeInterval).
    """
    options = dict(options or {})
    user = options.get("user") or "grafana"
    names = dict((k, k) for k in KINDS)
    names.update(options.get("groups") or {})
    links = dict(DEFAULT_LINKS)
    links.update(options.get("links") or {})
    found = {}
    for kind in KINDS:
        entries = _endpoints(kind, names[kind], groups, hostvars, user, me, options)
        found[kind] = list(zip(_uids(kind, entries), entries))
    first = dict((kind, found[kind][0][0] if found[kind] else None) for kind in KINDS)
    out = []
    for kind in KINDS:
        for index, (uid, entry) in enumerate(found[kind]):
            name = TITLES[kind] if index == 0 else "%s (%s)" % (TITLES[kind], entry["host"])
            json_data, secure = _client_settings(entry, options)
            json_data.update(_links(kind, first, links, options))
            source = {"name": name, "type": kind, "uid": _check_uid(uid, name), "access": "proxy", "orgId": 1,
                      "url": entry["url"], "isDefault": kind == "prometheus" and index == 0, "editable": False,
                      "jsonData": json_data}
            if entry["username"]:
                source["basicAuth"] = True
                source["basicAuthUser"] = entry["username"]
            if secure:
                source["secureJsonData"] = secure
            out.append(source)
    for extra in options.get("extra") or []:
        if not isinstance(extra, dict) or not extra.get("name") or not extra.get("type"):
            raise GrafanaError("grafana_datasources_extra: each entry needs at least name and type, not %r" % (extra,))
        if extra.get("uid") is not None:
            _check_uid(extra["uid"], extra["name"])
        out.append(dict(extra))
    _unique(out)
    return {"apiVersion": 1, "prune": True, "datasources": [_finish(s) for s in out]}


def _unique(sources):
    for key in ("name", "uid"):
        seen = set()
        for source in sources:
            value = source.get(key)
            if value is None:
                continue
            if value in seen:
                raise GrafanaError("two data sources have the %s %r (grafana_datasources_extra?)" % (key, value))
            seen.add(value)
    if sum(1 for s in sources if s.get("isDefault")) > 1:
        raise GrafanaError("more than one data source is the default (isDefault): the inventory's first Prometheus is")


def _finish(source):
    """Escape the values; file references (("file", path, variable)) become $__file{path} afterwards."""
    secure = source.pop("secureJsonData", None)
    out = escape(source)
    if secure is not None:
        done = {}
        for key, value in secure.items():
            if isinstance(value, tuple):
                done[key] = file_ref(value[1], value[2])
            else:
                done[key] = escape(value)
        out["secureJsonData"] = done
    return out


def _links(kind, first, links, options):
    if kind == "prometheus":
        data = {"httpMethod": "POST", "prometheusType": "Prometheus"}
        if options.get("scrape_interval"):
            data["timeInterval"] = str(options["scrape_interval"])
        if first["tempo"]:
            data["exemplarTraceIdDestinations"] = [{"name": links["exemplar_label"], "datasourceUid": first["tempo"]}]
        return data
    if kind == "alertmanager":
        return {"implementation": "prometheus", "handleGrafanaManagedAlerts": False}
    if kind == "loki":
        data = {"maxLines": 1000}
        if first["tempo"]:
            data["derivedFields"] = [{"name": "TraceID", "matcherType": "regex", "matcherRegex": links["trace_id_regex"],
                                      "url": "${__value.raw}", "datasourceUid": first["tempo"],
                                      "urlDisplayLabel": "View trace"}]
        return data
    data = {"nodeGraph": {"enabled": True}, "search": {"hide": False}}
    if first["loki"]:
        data["tracesToLogsV2"] = {"datasourceUid": first["loki"], "spanStartTimeShift": links["span_start_shift"],
                                  "spanEndTimeShift": links["span_end_shift"], "tags": list(links["log_tags"]),
                                  "filterByTraceID": True, "filterBySpanID": False}
        data["lokiSearch"] = {"datasourceUid": first["loki"]}
    if first["prometheus"]:
        data["tracesToMetrics"] = {
            "datasourceUid": first["prometheus"], "spanStartTimeShift": links["span_start_shift"],
            "spanEndTimeShift": links["span_end_shift"], "tags": list(links["metric_tags"]),
            "queries": [{"name": "Span rate", "query": "sum(rate(traces_spanmetrics_calls_total{$__tags}[5m]))"},
                        {"name": "Span errors", "query": 'sum(rate(traces_spanmetrics_calls_total{$__tags, status_code="STATUS_CODE_ERROR"}[5m]))'}]}
        data["serviceMap"] = {"datasourceUid": first["prometheus"]}
    return data


# --- provisioning: dashboards ----------------------------------------------------------------------

def load_dashboard(text, what):
    try:
        model = json.loads(text) if isinstance(text, str) else text
    except ValueError as exc:
        raise GrafanaError("%s is not JSON: %s" % (what, exc))
    if not isinstance(model, dict) or not isinstance(model.get("title"), str) or not model["title"]:
        raise GrafanaError("%s is not a Grafana dashboard (a JSON object with a title)" % what)
    return model


def dashboards(items, directory, options=None):
    """Dashboard files and their provider document.

    items: [{name (file name without .json), content (JSON text or object), folder, origin}].
    options: update_interval (seconds), group (of the files and directories).
    Each dashboard gets a stable uid (its own when it has one, else derived from folder and name) and
    no numeric id (Grafana assigns those); each folder a uid derived from its name and a provider
    reading <directory>/<folder uid>/. Returns {files: [{path, content, origin, group, mode}],
    folders: [{title, uid, path}], directories: [{path, group, mode, purge}], providers: {apiVersion,
    providers}}. Two dashboards with one uid are an error.
    """
    options = dict(options or {})
    directory = str(directory).rstrip("/")
    interval = options.get("update_interval", 30)
    if isinstance(interval, bool) or not str(interval).isdigit() or int(interval) < 1:
        raise GrafanaError("the dashboards' update interval must be a number of seconds (1 or more), not %r" % (interval,))
    interval = int(interval)
    owner = dict((k, options[k]) for k in ("group",) if options.get(k))
    files, folders, uids, paths = [], {}, {}, {}
    for item in items or []:
        name, folder = item.get("name"), item.get("folder")
        what = item.get("origin") or "dashboard %s" % name
        if not isinstance(name, str) or not re.match(r"^[A-Za-z0-9_.-]+$", name):
            raise GrafanaError("%s: file name %r must be letters, digits, . _ - (without .json)" % (what, name))
        if not isinstance(folder, str) or not folder.strip():
            raise GrafanaError("%s: a dashboard needs a folder (a non-empty title)" % what)
        model = dict(load_dashboard(item.get("content"), what))
        folder_uid = stable_uid("fw-folder", folder)
        uid = model.get("uid") or stable_uid("fw", "%s/%s" % (folder, name))
        _check_uid(uid, what)
        if uid in uids:
            raise GrafanaError("%s and %s have the same uid %r: a uid names one dashboard" % (uids[uid], what, uid))
        uids[uid] = what
        model["uid"] = uid
        model.pop("id", None)
        path = "%s/%s/%s.json" % (directory, folder_uid, name)
        if path in paths:
            raise GrafanaError("%s and %s are both %s: rename one" % (paths[path], what, path))
        paths[path] = what
        folders.setdefault(folder_uid, {"title": folder, "uid": folder_uid, "path": "%s/%s" % (directory, folder_uid)})
        entry = {"path": path, "content": json.dumps(model, indent=2, sort_keys=True) + "\n", "origin": what}
        entry.update(owner, mode="0640")
        files.append(entry)
    providers = [{"name": "fleetwatch-%s" % f["uid"], "orgId": 1, "type": "file", "folder": f["title"], "folderUid": f["uid"],
                  "disableDeletion": False, "allowUiUpdates": False, "updateIntervalSeconds": interval,
                  "options": {"path": f["path"], "foldersFromFilesStructure": False}}
                 for f in sorted(folders.values(), key=lambda f: f["uid"])]
    folders = sorted(folders.values(), key=lambda f: f["uid"])
    directories = [dict(owner, path=f["path"], mode="0750", purge="*.json") for f in folders]
    return {"files": files, "folders": folders, "directories": directories,
            "providers": escape({"apiVersion": 1, "providers": providers})}


def expressions(model):
    """[(panel title, refId, datasource type, expression)] of every query of a dashboard (rows' panels too)."""
    out = []
    panels = list(model.get("panels") or [])
    while panels:
        panel = panels.pop(0)
        panels.extend(panel.get("panels") or [])
        default = (panel.get("datasource") or {}).get("type")
        for target in panel.get("targets") or []:
            kind = (target.get("datasource") or {}).get("type") or default
            if target.get("expr"):
                out.append((panel.get("title"), target.get("refId"), kind, target["expr"]))
    for variable in (model.get("templating") or {}).get("list") or []:
        query = variable.get("query")
        if isinstance(query, dict):
            query = query.get("query")
        if variable.get("type") == "query" and isinstance(query, str) and query:
            out.append(("variable " + variable["name"], None, (variable.get("datasource") or {}).get("type"), query))
    return out
