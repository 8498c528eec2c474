# -*- coding: utf-8 -*-
# Copyright: fleetwatch engineers
# SPDX-License-Identifier: Apache-2.0
"""Prometheus files that come from the user rather than from the inventory: static targets given as
variables (one file_sd file and one scrape job per job name), file_sd files and scrape config files
read on the controller. Every input is checked here, so that a mistake fails before any file is
written, naming the variable, the host and the file."""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

import json
import os
import re

try:
    import yaml
    HAS_YAML = True
except ImportError:  # pragma: no cover - only the controller's filters use this module, and Ansible has PyYAML
    HAS_YAML = False

# Job names become file names (file_sd/<job>.json): no slash, no leading dot.
JOB_NAME_RE = re.compile(r"^[A-Za-z0-9_][A-Za-z0-9_.:-]*$")
FILE_STEM_RE = re.compile(r"^[A-Za-z0-9_][A-Za-z0-9_.-]*$")
LABEL_NAME_RE = re.compile(r"^[A-Za-z_][A-Za-z0-9_]*$")
EXTENSIONS = (".yml", ".yaml", ".json")


class UserFileError(Exception):
    pass


def _where(variable, host):
    return "%s on %s" % (variable, host) if host else variable


def target_groups(groups, variable, host=None, path=None):
    """Check file_sd target groups ([{targets: [str], labels: {str: str}}]); return them normalised
    (targets as strings, labels as string values, no other key). Errors name the variable, the
    group's index, the file (path) and the host."""
    source = " in %s" % path if path else ""
    if isinstance(groups, dict):
        groups = [groups]
    if not isinstance(groups, list):
        raise UserFileError("%s%s: expected a list of target groups ({targets, labels}), not %s" % (
            _where(variable, host), source, type(groups).__name__))
    out = []
    for index, group in enumerate(groups):
        where = _where("%s[%d]" % (variable, index), host) + source
        if not isinstance(group, dict):
            raise UserFileError("%s: a target group is a mapping with targets and labels, not %r" % (where, group))
        unknown = sorted(set(group) - {"targets", "labels"})
        if unknown:
            raise UserFileError("%s: unknown key(s) %s (a target group has targets and labels)" % (where, ", ".join(map(str, unknown))))
        targets = group.get("targets")
        if isinstance(targets, str) or not isinstance(targets, list) or not targets:
            raise UserFileError("%s: targets must be a non-empty list of host:port strings, not %r" % (where, targets))
        for target in targets:
            if not isinstance(target, str) or not target.strip() or any(c.isspace() for c in target):
                raise UserFileError("%s: %r is not a target (host:port)" % (where, target))
        labels = group.get("labels") or {}
        if not isinstance(labels, dict):
            raise UserFileError("%s: labels must be a mapping of label name to value, not %r" % (where, labels))
        clean = {}
        for name, value in labels.items():
            if not isinstance(name, str) or not LABEL_NAME_RE.match(name):
                raise UserFileError("%s: %r is not a label name" % (where, name))
            if isinstance(value, (dict, list)) or value is None:
                raise UserFileError("%s: label %s must have a string value, not %r" % (where, name, value))
            clean[name] = value if isinstance(value, str) else json.dumps(value) if isinstance(value, bool) else str(value)
        entry = {"targets": list(targets)}
        if clean:
            entry["labels"] = clean
        out.append(entry)
    return out


def _json(value):
    return json.dumps(value, indent=4, sort_keys=True, separators=(",", ": "))


def static_targets(jobs, directory, group, host=None, variable="prometheus_static_targets", taken=None):
    """{job: [target groups]} -> {files: [{path, content, group, mode, origin}], scrape_configs: [...]}.

    Each job gets file_sd/<job>.json and a scrape config reading it (re-read by Prometheus on change,
    no reload). taken: job names already used (the inventory's jobs), an error when reused."""
    if jobs in (None, ""):
        jobs = {}
    if not isinstance(jobs, dict):
        raise UserFileError("%s: expected a mapping of job name to target groups, not %s" % (_where(variable, host), type(jobs).__name__))
    taken = set(taken or [])
    files = []
    configs = []
    for job in sorted(jobs, key=str):
        where = _where("%s.%s" % (variable, job), host)
        if not isinstance(job, str) or not JOB_NAME_RE.match(job):
            raise UserFileError("%s: %r is not a usable job name (letters, digits, _ . : -)" % (_where(variable, host), job))
        if job in taken:
            raise UserFileError("%s: job %s is already a job of the inventory (prometheus_exporter_jobs): choose another name" % (where, job))
        path = "%s/%s.json" % (str(directory).rstrip("/"), job)
        files.append({"path": path, "content": _json(target_groups(jobs[job], "%s.%s" % (variable, job), host)),
                      "group": group, "mode": "0640",
                      "origin": "%s.%s" % (variable, job)})
        configs.append({"job_name": job, "file_sd_configs": [{"files": [path]}]})
    return {"files": files, "scrape_configs": configs}


def _stem(path, variable, host):
    name = os.path.basename(str(path))
    stem, ext = os.path.splitext(name)
    if ext.lower() not in EXTENSIONS:
        raise UserFileError("%s: %s is neither .yml, .yaml nor .json" % (_where(variable, host), path))
    if not FILE_STEM_RE.match(stem):
        raise UserFileError("%s: %s: the file name must be letters, digits, _ . -" % (_where(variable, host), path))
    return stem


def _load(path, content, variable, host):
    if not HAS_YAML:  # pragma: no cover
        raise UserFileError("PyYAML is needed to read %s" % path)
    try:
        return yaml.safe_load(content)
    except yaml.YAMLError as exc:
        raise UserFileError("%s: %s is not valid YAML or JSON: %s" % (_where(variable, host), path, " ".join(str(exc).split())))


def controller_files(sources, directory, kind, group, host=None, variable=None):
    """Files read on the controller ([[source path, content]]) -> service_setup files.

    kind file_sd: each is a list of target groups, written as <directory>/<stem>.json (JSON, whatever
    the source's format: a YAML file becomes JSON so that one pattern purges them all).
    kind scrape_config: each is a document with a scrape_configs list (Prometheus' scrape_config_files),
    written unchanged as <directory>/<stem>.yml; promtool check config reads it with prometheus.yml.
    Two sources with the same stem are an error naming both."""
    if kind not in ("file_sd", "scrape_config"):
        raise UserFileError("unknown kind %r" % (kind,))
    variable = variable or ("prometheus_static_targets_files" if kind == "file_sd" else "prometheus_scrape_config_files")
    seen = {}
    out = []
    for item in list(sources or []):
        if not isinstance(item, (list, tuple)) or len(item) != 2:
            raise UserFileError("%s: expected [path, content] pairs, not %r" % (_where(variable, host), item))
        path, content = item
        stem = _stem(path, variable, host)
        if stem in seen:
            raise UserFileError("%s: %s and %s would both be written as %s: rename one" % (
                _where(variable, host), seen[stem], path, stem + (".json" if kind == "file_sd" else ".yml")))
        seen[stem] = path
        data = _load(path, content, variable, host)
        if kind == "file_sd":
            text = _json(target_groups(data if data is not None else [], variable, host, path))
            target = "%s/%s.json" % (str(directory).rstrip("/"), stem)
        else:
            if not isinstance(data, dict) or not isinstance(data.get("scrape_configs"), list):
                raise UserFileError("%s: %s must be a mapping with a scrape_configs list (as Prometheus' scrape_config_files)" % (
                    _where(variable, host), path))
            unknown = sorted(set(data) - {"scrape_configs"})
            if unknown:
                raise UserFileError("%s: %s: only scrape_configs is allowed in a scrape config file, not %s" % (
                    _where(variable, host), path, ", ".join(map(str, unknown))))
            text = content if str(content).endswith("\n") else str(content) + "\n"
            target = "%s/%s.yml" % (str(directory).rstrip("/"), stem)
        out.append({"path": target, "content": text, "group": group, "mode": "0640", "origin": "%s (%s)" % (variable, path)})
    return out
