# -*- coding: utf-8 -*-
# Copyright: fleetwatch engineers
# SPDX-License-Identifier: Apache-2.0
"""Prometheus' scrape targets compared with what should be scraped (the prometheus_targets module).

* ``check_url(url)`` and ``check_expectations(jobs, min_targets, expected_targets)`` refuse bad
  input with messages that name the option and the job;
* ``fetch(control)`` reads ``/api/v1/targets?state=active`` through serviceapply.Control (route
  prefix in its URL, TLS with CA and client certificate, basic auth);
* ``parse_targets(body)`` reads the API's JSON into plain target records;
* ``compare(targets, expectations)`` is the pure comparison: targets per job and health, missing
  jobs, jobs below their minimum, expected instances that are not targets, extra targets, and every
  unhealthy target with its last error and last scrape;
* ``wait(...)`` repeats fetch and compare until all is well or a deadline passes;
* ``summary(result)`` is the readable text, one line per problem naming job and instance.

Expected instances per job are the inventory's hosts (the collection's scrape jobs label each target
``instance`` = inventory hostname, and ``instance_name`` for each instance of a multi-instance
exporter): an entry is an instance name, or a mapping of labels a target must have
(``{instance: db1, instance_name: main}``).
"""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

import json
import re
import time

from ansible_collections.fleetwatch.observability.plugins.module_utils.hostport import describe_kind

try:
    from urllib.parse import urlsplit
except ImportError:  # pragma: no cover - Python 2
    from urlparse import urlsplit

API_PATH = "/api/v1/targets?state=active"
NEVER = ("0001-01-01T00:00:00Z", "")
JOB_RE = re.compile(r"^\S+$")
MAX_LINES = 50


class TargetsError(Exception):
    """Bad input, or an answer that is not the targets API's; the message says which."""


# --- input ---------------------------------------------------------------------------------------

def check_url(url):
    """The base URL of Prometheus (with its route prefix) without the trailing slash."""
    if not isinstance(url, str) or not url:
        raise TargetsError("url: %r (%s) is not a URL such as https://prometheus.example:9090/prom" % (url, describe_kind(url)))
    if re.search(r"\s", url):
        raise TargetsError("url: %r is not a URL (it contains white space)" % url)
    try:
        parts = urlsplit(url)
        port = parts.port
    except ValueError as exc:
        raise TargetsError("url: %r is not a URL (%s)" % (url, exc))
    if parts.scheme not in ("http", "https"):
        raise TargetsError("url: %r must start with http:// or https://" % url)
    if not parts.hostname:
        raise TargetsError("url: %r has no host" % url)
    if port is not None and not 0 < port < 65536:
        raise TargetsError("url: %r: port must be 1-65535" % url)
    if parts.query or parts.fragment:
        raise TargetsError("url: %r must not have a query or fragment (give the base URL with the route prefix only)" % url)
    if parts.username or parts.password:
        raise TargetsError("url: give the user and password as username and password, not in the URL")
    return url.rstrip("/")


def _count(value, where):
    if isinstance(value, bool) or value is None or isinstance(value, (list, dict)):
        raise TargetsError("%s: %r (%s) is not a number of targets" % (where, value, describe_kind(value)))
    if isinstance(value, float):
        if value != int(value):
            raise TargetsError("%s: %r is not a whole number of targets" % (where, value))
        value = int(value)
    if isinstance(value, str):
        if not re.match(r"^\s*-?[0-9]+\s*$", value):
            raise TargetsError("%s: %r is not a number of targets" % (where, value))
        value = int(value)
    if value < 0:
        raise TargetsError("%s: %d is negative (give the least number of targets the job must have)" % (where, value))
    return value


def _job(name, where):
    if not isinstance(name, str) or not JOB_RE.match(name):
        raise TargetsError("%s: %r (%s) is not a job name" % (where, name, describe_kind(name)))
    return name


def _labels(entry, where):
    """An expected target: an instance name or a mapping of labels -> {label: value}."""
    if isinstance(entry, str) and entry:
        return {"instance": entry}
    if isinstance(entry, dict) and entry:
        out = {}
        for key, value in entry.items():
            if not isinstance(key, str) or not re.match(r"^[A-Za-z_][A-Za-z0-9_]*$", key):
                raise TargetsError("%s: %r is not a label name" % (where, key))
            if isinstance(value, bool) or not isinstance(value, (str, int)):
                raise TargetsError("%s: label %s is %r (%s), not a string" % (where, key, value, describe_kind(value)))
            out[key] = str(value)
        return out
    raise TargetsError("%s: %r (%s) is not an instance name or a mapping of labels" % (where, entry, describe_kind(entry)))


def check_expectations(jobs=None, min_targets=None, expected_targets=None):
    """Checked expectations: {"jobs": [...], "min_targets": {job: n}, "expected_targets": {job: [labels]}}."""
    out = {"jobs": [], "min_targets": {}, "expected_targets": {}}
    if jobs is not None:
        if not isinstance(jobs, (list, tuple)):
            raise TargetsError("jobs: %r (%s) is not a list of job names" % (jobs, describe_kind(jobs)))
        for index, job in enumerate(jobs):
            name = _job(job, "jobs[%d]" % index)
            if name not in out["jobs"]:
                out["jobs"].append(name)
    if min_targets is not None:
        if not isinstance(min_targets, dict):
            raise TargetsError("min_targets: %r (%s) is not a mapping of job name to number" % (min_targets, describe_kind(min_targets)))
        for job, count in min_targets.items():
            _job(job, "min_targets")
            out["min_targets"][job] = _count(count, "min_targets.%s" % job)
    if expected_targets is not None:
        if not isinstance(expected_targets, dict):
            raise TargetsError("expected_targets: %r (%s) is not a mapping of job name to a list of instances"
                               % (expected_targets, describe_kind(expected_targets)))
        for job, entries in expected_targets.items():
            _job(job, "expected_targets")
            where = "expected_targets.%s" % job
            if isinstance(entries, str) or not isinstance(entries, (list, tuple)):
                raise TargetsError("%s: %r (%s) is not a list of instances" % (where, entries, describe_kind(entries)))
            wanted, seen = [], set()
            for index, entry in enumerate(entries):
                labels = _labels(entry, "%s[%d]" % (where, index))
                key = frozenset(labels.items())
                if key not in seen:  # a set: thousands of hosts per job
                    seen.add(key)
                    wanted.append(labels)
            out["expected_targets"][job] = wanted
    return out


# --- the API -------------------------------------------------------------------------------------

def fetch(control):
    """The body of the targets API (active targets), through a serviceapply.Control."""
    status, body = control.get(API_PATH)
    where = "%s/api/v1/targets" % control.url
    if status is None:
        raise TargetsError("cannot reach %s: %s" % (where, body))
    if status == 401:
        raise TargetsError("%s refused the request (HTTP 401): give username and password (or the right ones)" % where)
    if status == 404:
        raise TargetsError("%s answered HTTP 404: no Prometheus API there (is the route prefix in url right?)" % where)
    if status != 200:
        raise TargetsError("%s answered HTTP %s: %s" % (where, status, (body or "")[:200]))
    return body


def _text(value):
    return value if isinstance(value, str) else ("" if value is None else str(value))


def parse_targets(body):
    """The API's JSON (text or bytes) -> [{"job", "instance", "labels", "scrape_pool", "scrape_url", "health",
    "last_error", "last_scrape", "last_scrape_duration"}] for every active target."""
    if isinstance(body, bytes):
        body = body.decode("utf-8", "replace")
    try:
        doc = json.loads(body)
    except (TypeError, ValueError) as exc:
        raise TargetsError("the targets API did not answer JSON (%s): %r" % (exc, (body or "")[:200]))
    if not isinstance(doc, dict):
        raise TargetsError("the targets API answered %s, not an object" % describe_kind(doc))
    if doc.get("status") != "success":
        raise TargetsError("the targets API answered status %r: %s %s"
                           % (doc.get("status"), doc.get("errorType", ""), doc.get("error", "")))
    data = doc.get("data")
    active = data.get("activeTargets") if isinstance(data, dict) else None
    if active is None and isinstance(data, dict):
        active = []  # Prometheus leaves the key out when nothing is scraped
    if not isinstance(active, list):
        raise TargetsError("the targets API's data has no list of activeTargets")
    out = []
    for item in active:
        if not isinstance(item, dict):
            raise TargetsError("the targets API listed %s as a target" % describe_kind(item))
        labels = item.get("labels") if isinstance(item.get("labels"), dict) else {}
        last = _text(item.get("lastScrape"))
        out.append({
            "job": _text(labels.get("job") or item.get("scrapePool")),
            "instance": _text(labels.get("instance")),
            "labels": labels,
            "scrape_pool": _text(item.get("scrapePool")),
            "scrape_url": _text(item.get("scrapeUrl")),
            "health": _text(item.get("health")) or "unknown",
            "last_error": _text(item.get("lastError")),
            "last_scrape": None if last in NEVER else last,
            "last_scrape_duration": item.get("lastScrapeDuration"),
        })
    return out


# --- comparison ----------------------------------------------------------------------------------

def _extra_labels(target):
    return dict((k, v) for k, v in target["labels"].items() if k not in ("job", "instance"))


def _report(target):
    return {"job": target["job"], "instance": target["instance"], "labels": _extra_labels(target),
            "scrape_url": target["scrape_url"], "health": target["health"], "last_error": target["last_error"],
            "last_scrape": target["last_scrape"], "last_scrape_duration": target["last_scrape_duration"]}


def _matches(target, wanted):
    labels = target["labels"]
    for key, value in wanted.items():
        if key == "instance":
            if target["instance"] != value:
                return False
        elif labels.get(key) != value:
            return False
    return True


def compare(targets, expectations=None, require_healthy=True, fail_on_extra=False):
    """Targets (parse_targets) against checked expectations (check_expectations) -> the result.

    Jobs checked: the jobs named by any expectation, or every job when there is none. Returns
    {"ok", "counts", "jobs", "unhealthy", "missing", "extra", "unexpected_jobs", "total", "summary"}.
    """
    expectations = expectations or {"jobs": [], "min_targets": {}, "expected_targets": {}}
    by_job = {}
    for target in targets:
        by_job.setdefault(target["job"], []).append(target)
    counts = {}
    for job, items in by_job.items():
        count = {"total": len(items), "up": 0, "down": 0, "unknown": 0}
        for target in items:
            health = target["health"] if target["health"] in ("up", "down") else "unknown"
            count[health] += 1
        counts[job] = count

    named = set(expectations["jobs"]) | set(expectations["min_targets"]) | set(expectations["expected_targets"])
    checked = named or set(by_job)
    missing = []
    for job in sorted(named):
        found = len(by_job.get(job, ()))
        least = max(expectations["min_targets"].get(job, 0),
                    1 if job in expectations["jobs"] or job in expectations["expected_targets"] else 0)
        if found == 0 and least > 0:
            missing.append({"job": job, "instance": None, "labels": {}, "expected": least, "found": 0,
                            "reason": "no target of this job"})
        elif found < least:
            missing.append({"job": job, "instance": None, "labels": {}, "expected": least, "found": found,
                            "reason": "%d target%s, at least %d expected" % (found, "" if found == 1 else "s", least)})

    extra = []
    for job in sorted(expectations["expected_targets"]):
        wanted = expectations["expected_targets"][job]
        items = by_job.get(job, [])
        by_instance = {}
        for target in items:
            by_instance.setdefault(target["instance"], []).append(target)
        matched = set()
        for labels in wanted:
            pool = by_instance.get(labels["instance"], ()) if "instance" in labels else items
            hits = [t for t in pool if _matches(t, labels)]
            if not hits and items:
                instance = labels.get("instance")
                others = dict((k, v) for k, v in labels.items() if k != "instance")
                missing.append({"job": job, "instance": instance, "labels": others, "expected": None, "found": 0,
                                "reason": "expected, not a target"})
            matched.update(id(t) for t in hits)
        extra.extend(_report(t) for t in items if id(t) not in matched)

    unhealthy = [_report(t) for job in sorted(checked) for t in by_job.get(job, ()) if t["health"] != "up"]
    unexpected_jobs = sorted(set(by_job) - checked) if named else []
    ok = not missing and not (require_healthy and unhealthy) and not (fail_on_extra and extra)
    result = {
        "ok": ok,
        "total": len(targets),
        "jobs": sorted(by_job),
        "counts": counts,
        "unhealthy": unhealthy,
        "missing": missing,
        "extra": extra,
        "unexpected_jobs": unexpected_jobs,
        "require_healthy": require_healthy,
        "fail_on_extra": fail_on_extra,
    }
    result["summary"] = summary(result)
    return result


# --- text ----------------------------------------------------------------------------------------

def _who(item):
    text = "job %s" % item["job"]
    if item.get("instance") is not None:
        text += ", instance %s" % item["instance"]
    if item.get("labels"):
        text += " (%s)" % ", ".join("%s=%s" % kv for kv in sorted(item["labels"].items()))
    return text


def describe_unhealthy(item):
    when = "never scraped" if item["last_scrape"] is None else "last scrape %s" % item["last_scrape"]
    error = ": %s" % item["last_error"] if item["last_error"] else ""
    return "%s: %s (%s)%s" % (_who(item), item["health"], when, error)


def summary(result, url=None, waited=None):
    """Readable text: what was found, then one line per problem (missing, unhealthy, extra when it fails)."""
    jobs = len(result["jobs"])
    where = " at %s" % url if url else ""
    if waited:
        where += " after %ss" % int(round(waited))
    found = "%d target%s in %d job%s" % (result["total"], "" if result["total"] == 1 else "s", jobs, "" if jobs == 1 else "s")
    lines = ["%s: %s" % (_who(m), m["reason"]) for m in result["missing"]]
    if result["require_healthy"]:
        lines += [describe_unhealthy(u) for u in result["unhealthy"]]
    if result["fail_on_extra"]:
        lines += ["%s: extra (not an expected instance), %s" % (_who(e), e["health"]) for e in result["extra"]]
    if not lines:
        up = sum(c["up"] for c in result["counts"].values())
        return "prometheus_targets%s: all well, %s (%d up)" % (where, found, up)
    head = "prometheus_targets%s: %d problem%s, %s" % (where, len(lines), "" if len(lines) == 1 else "s", found)
    if len(lines) > MAX_LINES:
        lines = lines[:MAX_LINES] + ["... and %d more (see missing, unhealthy and extra in the result)" % (len(lines) - MAX_LINES)]
    return "\n".join([head] + lines)


# --- waiting -------------------------------------------------------------------------------------

def wait(fetch_body, expectations, require_healthy=True, fail_on_extra=False, timeout=0, interval=5,
         clock=time.time, sleep=time.sleep):
    """Fetch and compare until the result is ok or ``timeout`` seconds have passed.

    fetch_body() -> the API's body (raises TargetsError when it cannot). A fetch error is retried
    until the deadline (Prometheus may be starting); returns (result, attempts, seconds waited),
    the result of the last comparison; raises the last TargetsError when no fetch succeeded.
    """
    start = clock()
    deadline = start + max(0, timeout)
    attempts = 0
    result = None
    while True:
        attempts += 1
        error = None
        try:
            result = compare(parse_targets(fetch_body()), expectations, require_healthy, fail_on_extra)
        except TargetsError as exc:
            error = exc
        if error is None and result["ok"]:
            break
        now = clock()
        if now >= deadline:
            if error is not None and result is None:
                raise error
            if error is not None:
                result = dict(result, fetch_error=str(error))
            break
        sleep(min(interval, deadline - now))
    return result, attempts, round(clock() - start, 3)
