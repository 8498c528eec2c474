# -*- coding: utf-8 -*-
# Copyright: fleetwatch engineers
# SPDX-License-Identifier: Apache-2.0
"""Fluent Bit's YAML configuration for the fluent_bit role: the systemd journal and chosen files
shipped to Loki with ``host``, ``job`` and ``unit`` labels, positions in databases, and a filesystem
buffer with retries while Loki is unreachable.

How a record travels (checked against the real Fluent Bit 5.1.1 and Loki 3.4.6 in
extensions/molecule/logs and tests/unit/test_fluent_bit_config.py):

* each input inserts its job into the record (key ``fleetwatch_job``) with a ``content_modifier``
  processor; the journal input first keeps only ``MESSAGE`` and ``_SYSTEMD_UNIT``
  (``record_modifier`` processor, ``allowlist_key``);
* one ``loki`` output per Loki endpoint takes every record (``match: "*"``): labels
  ``job=$fleetwatch_job``, ``unit=$_SYSTEMD_UNIT`` (left out when the record has none), ``host`` and
  the user's static labels; those keys are removed and the one that remains (``MESSAGE`` or the
  tail's ``log``) is the line (``drop_single_key: raw``);
* inputs buffer in ``storage.path`` (``storage.type: filesystem``); each output keeps at most
  ``storage.total_limit_size`` queued and retries (``retry_limit``; ``no_limits`` by default) with
  a backoff between ``scheduler.base`` and ``scheduler.cap`` seconds (cap >= base: Fluent Bit 5.1.1
  crashes with SIGFPE on its first retry otherwise).

Values that Fluent Bit would read differently than written are refused, with the variable named:
commas in label values, job names and paths (comma-separated lists), ``${`` (environment
expansion), a leading ``$`` (record accessor), line breaks. The Loki password is never in the
configuration: the output sends ``Authorization: Basic ${FLUENT_BIT_LOKI_AUTH}`` (base64 of
user:password), set from a root-only environment file by the unit.

This file imports nothing from Ansible (the filter plugin ``fluent_bit_config`` wraps it).
"""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

import re

try:
    from urllib.parse import urlsplit
except ImportError:  # pragma: no cover  (Python 2)
    from urlparse import urlsplit  # pylint: disable=import-error

JOB_KEY = "fleetwatch_job"
UNIT_KEY = "_SYSTEMD_UNIT"
AUTH_ENV = "FLUENT_BIT_LOKI_AUTH"
PUSH_PATH = "/loki/api/v1/push"
LABEL_NAME_RE = re.compile(r"^[a-zA-Z_][a-zA-Z0-9_]*$")
RESERVED_LABELS = ("job", "host", "unit")
SIZE_RE = re.compile(r"^\d+(\.\d+)?\s*([KMGT]B?|[kmgt]b?)?$")
LOG_LEVELS = ("off", "error", "warn", "info", "debug", "trace")


class FluentBitError(ValueError):
    pass


def _text(value, variable, host, allow_empty=False, list_item=False, accessor_ok=False):
    """A value Fluent Bit reads as written; errors name the variable and the host."""
    where = "%s on %s" % (variable, host)
    if value is None or isinstance(value, (dict, list, tuple, bool)):
        raise FluentBitError("%s: expected a string, got %r" % (where, value))
    text = str(value)
    if not text.strip() and not allow_empty:
        raise FluentBitError("%s: must not be empty" % where)
    if "\n" in text or "\r" in text:
        raise FluentBitError("%s: must not contain a line break: %r" % (where, text))
    if "${" in text:
        raise FluentBitError("%s: must not contain '${' (Fluent Bit would expand it as an environment variable): %r"
                             % (where, text))
    if list_item and "," in text:
        raise FluentBitError("%s: must not contain a comma (Fluent Bit reads it as a list): %r" % (where, text))
    if not accessor_ok and text.startswith("$"):
        raise FluentBitError("%s: must not start with '$' (Fluent Bit would read a record key): %r" % (where, text))
    if text != text.strip():
        raise FluentBitError("%s: must not start or end with spaces: %r" % (where, text))
    return text


def _paths(value, variable, host):
    items = [value] if isinstance(value, str) else value
    if not isinstance(items, (list, tuple)) or not items:
        raise FluentBitError("%s on %s: expected a path (glob) or a list of them, got %r" % (variable, host, value))
    out = []
    for item in items:
        text = _text(item, variable, host, list_item=True)
        if not text.startswith("/"):
            raise FluentBitError("%s on %s: %r is not an absolute path" % (variable, host, text))
        out.append(text)
    return out


def _int(value, variable, host, minimum=0):
    if isinstance(value, bool):
        raise FluentBitError("%s on %s: expected a number, got %r" % (variable, host, value))
    try:
        number = int(str(value).strip())
    except ValueError:
        raise FluentBitError("%s on %s: expected a whole number, got %r" % (variable, host, value))
    if number < minimum:
        raise FluentBitError("%s on %s: must be at least %d, got %d" % (variable, host, minimum, number))
    return number


def _size(value, variable, host):
    text = _text(value, variable, host)
    if not SIZE_RE.match(text):
        raise FluentBitError("%s on %s: expected a size such as 512M or 1G, got %r" % (variable, host, text))
    return text


def _bool(value, variable, host):
    if isinstance(value, bool):
        return value
    text = str(value).strip().lower()
    if text in ("true", "yes", "on", "1"):
        return True
    if text in ("false", "no", "off", "0"):
        return False
    raise FluentBitError("%s on %s: expected true or false, got %r" % (variable, host, value))


def job_file_name(job):
    """The position database's name of a file job (one per job, so positions follow the job, not the list order)."""
    return "files-%s.db" % re.sub(r"[^A-Za-z0-9_.-]", "_", job)


def labels_text(host_label, labels, host):
    """Fluent Bit's ``labels`` list: job and unit from the record, host and the static labels."""
    items = ["job=$%s" % JOB_KEY, "unit=$%s" % UNIT_KEY,
             "host=%s" % _text(host_label, "fluent_bit_host_label", host, list_item=True)]
    if not isinstance(labels or {}, dict):
        raise FluentBitError("fluent_bit_labels on %s: expected a mapping of label to value, got %r" % (host, labels))
    for name in sorted(labels or {}):
        variable = "fluent_bit_labels.%s" % name
        if not LABEL_NAME_RE.match(str(name)):
            raise FluentBitError("%s on %s: %r is not a Loki label name ([a-zA-Z_][a-zA-Z0-9_]*)" % (variable, host, name))
        if name in RESERVED_LABELS:
            raise FluentBitError("%s on %s: %s is set by the role (job, host, unit)" % (variable, host, name))
        items.append("%s=%s" % (name, _text(labels[name], variable, host, list_item=True)))
    return ", ".join(items)


def endpoint_from_url(url, host):
    """{scheme, host, port, path} of an extra Loki URL (fluent_bit_loki_urls_extra)."""
    text = _text(url, "fluent_bit_loki_urls_extra", host)
    parts = urlsplit(text)
    if parts.scheme not in ("http", "https") or not parts.hostname:
        raise FluentBitError("fluent_bit_loki_urls_extra on %s: %r is not an http(s) URL" % (host, text))
    try:
        port = parts.port or (443 if parts.scheme == "https" else 80)
    except ValueError:
        raise FluentBitError("fluent_bit_loki_urls_extra on %s: %r has a bad port" % (host, text))
    if parts.username or parts.password or parts.query or parts.fragment:
        raise FluentBitError("fluent_bit_loki_urls_extra on %s: %r: give credentials in fluent_bit_loki_user/"
                             "fluent_bit_loki_password, without query or fragment" % (host, text))
    return {"scheme": parts.scheme, "host": parts.hostname, "port": port, "path": parts.path.rstrip("/")}


def endpoint_from_target(scheme, address, path_prefix, host):
    """{scheme, host, port, path} of an inventory Loki (address "host:port", IPv6 in brackets)."""
    match = re.match(r"^\[([^\]]+)\]:(\d+)$", address) or re.match(r"^([^:]+):(\d+)$", address)
    if not match:
        raise FluentBitError("fluent_bit_loki_group on %s: bad Loki address %r" % (host, address))
    return {"scheme": scheme, "host": match.group(1), "port": int(match.group(2)),
            "path": (path_prefix or "").rstrip("/")}


def output(endpoint, settings, host, index):
    """One loki output."""
    out = {
        "name": "loki",
        "alias": "loki_%d" % index,
        "match": "*",
        "host": endpoint["host"],
        "port": endpoint["port"],
        "uri": endpoint["path"] + PUSH_PATH,
        "labels": labels_text(settings.get("host_label"), settings.get("labels"), host),
        "remove_keys": "$%s, $%s" % (JOB_KEY, UNIT_KEY),
        "drop_single_key": "raw",
        "line_format": "key_value",
        "retry_limit": settings["retry_limit"],
        "storage.total_limit_size": settings["total_limit_size"],
    }
    if endpoint["scheme"] == "https":
        out["tls"] = "on"
        out["tls.verify"] = "on" if settings["tls_verify"] else "off"
        for key, option in (("ca_file", "tls.ca_file"), ("cert_file", "tls.crt_file"), ("key_file", "tls.key_file")):
            if settings.get(key):
                out[option] = _text(settings[key], "fluent_bit_loki_" + key, host)
    if settings.get("tenant_id"):
        out["tenant_id"] = _text(settings["tenant_id"], "fluent_bit_loki_tenant_id", host)
    if settings.get("user"):
        # Basic auth as a header whose value comes from the environment: base64 has no "$" nor "{", so
        # Fluent Bit's expansion of ${...} (applied again to an expanded value: a password with "${x}"
        # given through http_passwd loses it, seen with 5.1.1) leaves it intact.
        user = _text(settings["user"], "fluent_bit_loki_user", host)
        if ":" in user:
            raise FluentBitError("fluent_bit_loki_user on %s: must not contain ':' (basic auth)" % host)
        out["header"] = "Authorization Basic ${%s}" % AUTH_ENV
    return out


def config(settings, host):
    """The whole configuration (a dict, dumped as YAML by the role).

    settings: listen_host, listen_port, log_level, flush, data_dir, storage_sync, backlog_mem_limit,
    retry_min_wait, retry_max_wait, retry_limit (False/"no_limits" or a number), total_limit_size, journal (bool),
    journal_job, journal_filters, journal_read_from_tail, files [{job, path, exclude, read_from_head}],
    refresh_interval, host_label, labels, endpoints [{scheme, host, port, path}], tls_verify, ca_file,
    cert_file, key_file, tenant_id, user.
    """
    settings = dict(settings)
    data_dir = _text(settings.get("data_dir"), "fluent_bit_data_dir", host).rstrip("/")
    if not data_dir.startswith("/"):
        raise FluentBitError("fluent_bit_data_dir on %s: %r is not an absolute path" % (host, data_dir))
    level = str(settings.get("log_level", "info"))
    if level not in LOG_LEVELS:
        raise FluentBitError("fluent_bit_log_level on %s: one of %s, not %r" % (host, ", ".join(LOG_LEVELS), level))
    retry = settings.get("retry_limit")
    if retry is False or retry is None or (isinstance(retry, str) and retry.strip().lower() in ("no_limits", "false")):
        settings["retry_limit"] = "no_limits"
    else:
        settings["retry_limit"] = _int(retry, "fluent_bit_retry_limit", host, minimum=1)
    settings["total_limit_size"] = _size(settings.get("total_limit_size"), "fluent_bit_storage_total_limit_size", host)
    settings["tls_verify"] = _bool(settings.get("tls_verify", True), "fluent_bit_loki_tls_verify", host)
    sync = settings.get("storage_sync", "normal")
    if sync not in ("normal", "full"):
        raise FluentBitError("fluent_bit_storage_sync on %s: normal or full, not %r" % (host, sync))
    service = {
        "flush": _int(settings.get("flush", 1), "fluent_bit_flush_interval", host, minimum=1),
        "log_level": level,
        "http_server": "on",
        "http_listen": settings["listen_host"],
        "http_port": int(settings["listen_port"]),
        "storage.path": data_dir + "/storage",
        "storage.sync": sync,
        "storage.metrics": "on",
        "storage.backlog.mem_limit": _size(settings.get("backlog_mem_limit", "16M"),
                                           "fluent_bit_storage_backlog_mem_limit", host),
        "scheduler.base": _int(settings.get("retry_min_wait", 5), "fluent_bit_retry_min_wait", host, minimum=1),
        "scheduler.cap": _int(settings.get("retry_max_wait", 60), "fluent_bit_retry_max_wait", host, minimum=1),
    }
    # Fluent Bit 5.1.1 draws each wait uniformly from [base, cap]: with cap < base the range is empty and
    # the first retry divides by zero (SIGFPE, seen in extensions/molecule/logs with cap 4 and the default base 5).
    if service["scheduler.cap"] < service["scheduler.base"]:
        raise FluentBitError("fluent_bit_retry_max_wait on %s: %d is less than fluent_bit_retry_min_wait (%d); "
                             "Fluent Bit would crash on its first retry" % (host, service["scheduler.cap"],
                                                                            service["scheduler.base"]))
    inputs = []
    if _bool(settings.get("journal", True), "fluent_bit_journal", host):
        journal = {
            "name": "systemd",
            "tag": "journal",
            "db": data_dir + "/journal.db",
            "db.sync": "normal",
            "read_from_tail": "on" if _bool(settings.get("journal_read_from_tail", True),
                                            "fluent_bit_journal_read_from_tail", host) else "off",
            "storage.type": "filesystem",
            "processors": {"logs": [
                {"name": "record_modifier", "allowlist_key": ["MESSAGE", UNIT_KEY]},
                {"name": "content_modifier", "action": "insert", "key": JOB_KEY,
                 "value": _text(settings.get("journal_job"), "fluent_bit_journal_job", host, list_item=True)},
            ]},
        }
        filters = settings.get("journal_filters") or []
        if not isinstance(filters, (list, tuple)):
            raise FluentBitError("fluent_bit_journal_filters on %s: expected a list, got %r" % (host, filters))
        checked = []
        for item in filters:
            text = _text(item, "fluent_bit_journal_filters", host)
            if not re.match(r"^[A-Z0-9_]+=.+$", text):
                raise FluentBitError("fluent_bit_journal_filters on %s: %r is not a journal match FIELD=value" % (host, text))
            checked.append(text)
        if checked:
            journal["systemd_filter"] = checked
        inputs.append(journal)
    files = settings.get("files") or []
    if not isinstance(files, (list, tuple)):
        raise FluentBitError("fluent_bit_files on %s: expected a list of {job, path}, got %r" % (host, files))
    jobs = set()
    for index, entry in enumerate(files):
        variable = "fluent_bit_files[%d]" % index
        if not isinstance(entry, dict):
            raise FluentBitError("%s on %s: expected a mapping with job and path, got %r" % (variable, host, entry))
        unknown = sorted(set(entry) - {"job", "path", "exclude", "read_from_head"})
        if unknown:
            raise FluentBitError("%s on %s: unknown keys %s (job, path, exclude, read_from_head)"
                                 % (variable, host, ", ".join(map(str, unknown))))
        job = _text(entry.get("job"), variable + ".job", host, list_item=True)
        if job in jobs:
            raise FluentBitError("%s on %s: job %r is listed twice (one entry per job, with a list of paths)"
                                 % (variable, host, job))
        jobs.add(job)
        tail = {
            "name": "tail",
            "tag": "file.%s" % re.sub(r"[^A-Za-z0-9_-]", "_", job),
            "path": ",".join(_paths(entry.get("path"), variable + ".path", host)),
            "db": "%s/%s" % (data_dir, job_file_name(job)),
            "db.sync": "normal",
            "read_from_head": "on" if _bool(entry.get("read_from_head", False), variable + ".read_from_head", host) else "off",
            "refresh_interval": _int(settings.get("refresh_interval", 10), "fluent_bit_files_refresh_interval", host, 1),
            "skip_long_lines": "on",
            "storage.type": "filesystem",
            "processors": {"logs": [
                {"name": "content_modifier", "action": "insert", "key": JOB_KEY, "value": job},
            ]},
        }
        if entry.get("exclude"):
            tail["exclude_path"] = ",".join(_paths(entry["exclude"], variable + ".exclude", host))
        inputs.append(tail)
    if not inputs:
        raise FluentBitError("fluent_bit_journal and fluent_bit_files on %s: nothing to ship (the journal is off and "
                             "no files are listed)" % host)
    endpoints = settings.get("endpoints") or []
    outputs = [output(e, settings, host, i) for i, e in enumerate(endpoints)]
    if not outputs:
        raise FluentBitError("fluent_bit_loki_group on %s: no Loki to ship to (no host in the group, no "
                             "fluent_bit_loki_urls_extra)" % host)
    return {"service": service, "pipeline": {"inputs": inputs, "outputs": outputs}}
