# -*- coding: utf-8 -*-
# Copyright: fleetwatch engineers
# SPDX-License-Identifier: Apache-2.0
"""Verification of a fleet: what to check on each host (plan), the checks themselves (run), and
their report (JUnit XML, a readable summary, textfile metrics).

The plan is made on the controller from the inventory (the component registry's groups and each
host's variables of its roles, as Prometheus' scrape jobs are made: ``scrape.py``). Each host then
runs its own checks, reaching its services through the control path the roles use
(``controlpath.control``: listen address, route prefix, TLS, client certificate, basic auth):

* every component of ``CHECKS`` whose group the host is in: its systemd units are active
  (``service``) and its health path answers (``ready``; one per instance of a multi-instance
  exporter). A component of the table without a role yet (Tempo, Grafana) is checked as soon as
  its group has hosts;
* Prometheus hosts: the targets API against the inventory (every host of every scrape job up,
  none missing: ``targets.py``), the rules API (no rule with an error), and for each database
  exporter host its ``pg_up`` / ``redis_up`` through a query (reported as that host's check);
* Alertmanager hosts: the cluster status has as many peers as the inventory's Alertmanagers
  (``alertmanager_cluster_group`` plus ``alertmanager_cluster_peers_extra``), and the always-firing
  Watchdog alert of the rule bundle is present (the alert path from Prometheus is live).

A result is ``{host, component, check, ok, message, details, seconds}``; ``host`` is the host the
check is about (an exporter's host for its ``pg_up``), ``ran_on`` the host that ran it.
"""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

import copy
import json
import time
from xml.sax.saxutils import escape, quoteattr

try:
    from urllib.parse import quote
except ImportError:  # pragma: no cover - Python 2
    from urllib import quote  # type: ignore

try:
    from ansible_collections.fleetwatch.observability.plugins.module_utils import controlpath
    from ansible_collections.fleetwatch.observability.plugins.module_utils import exporterinstances as ei
    from ansible_collections.fleetwatch.observability.plugins.module_utils import registry
    from ansible_collections.fleetwatch.observability.plugins.module_utils import scrape
    from ansible_collections.fleetwatch.observability.plugins.module_utils import targets as tg
except ImportError:  # a harness script with plugins/module_utils on sys.path
    import controlpath  # noqa: E402  pylint: disable=import-error
    import exporterinstances as ei  # noqa: E402  pylint: disable=import-error
    import registry  # noqa: E402  pylint: disable=import-error
    import scrape  # noqa: E402  pylint: disable=import-error
    import targets as tg  # noqa: E402  pylint: disable=import-error

# What is checked of each component on the hosts of its group. A new component adds its line here
# (and its registry entry); its checks start when its group has hosts.
CHECKS = {
    "node_exporter": ["service", "ready"],
    "postgres_exporter": ["service", "ready"],
    "redis_exporter": ["service", "ready"],
    "loki": ["service", "ready"],
    "tempo": ["service", "ready"],
    "alertmanager": ["service", "ready", "cluster", "watchdog"],
    "prometheus": ["service", "ready", "targets", "rules", "exporter_up"],
    "grafana": ["service", "ready"],
}
# The database exporters' "can I reach my database" metric, queried through Prometheus.
EXPORTER_UP = {"postgres_exporter": "pg_up", "redis_exporter": "redis_up"}
KINDS = ("service", "ready", "targets", "rules", "exporter_up", "cluster", "watchdog", "error")
WATCHDOG = "Watchdog"


class VerifyError(Exception):
    pass


# --- the plan (on the controller) ------------------------------------------------------------------

def _hv(hostvars, host):
    found = hostvars.get(host) if hasattr(hostvars, "get") else None
    return found if found is not None else {}


def control_of(component, hv, host, listen_address=None):
    """The control dict of one component on one host from the host's variables of its role (the
    registry's port and health path when unset), as the role reaches it."""
    entry = registry.component(component)
    prefix = entry["prefix"]

    def var(name):
        return hv.get("%s_%s" % (prefix, name))
    settings = {
        "listen_address": listen_address or var("listen_address") or "0.0.0.0:%d" % entry["port"],
        "tls_cert_file": var("tls_cert_file"), "tls_key_file": var("tls_key_file"),
        "client_ca_file": var("tls_client_ca_file"), "basic_auth_users": var("basic_auth_users"),
        "external_url": var("external_url"), "extra_flags": var("extra_flags") or {},
        "control_user": var("control_user"), "control_cert_file": var("control_cert_file"),
        "control_key_file": var("control_key_file"), "ready_path": entry["health_path"],
        "metrics_path": entry["metrics_path"],
    }
    try:
        return controlpath.control(settings, prefix, host)
    except controlpath.ControlError as exc:
        raise VerifyError(str(exc))


def instances_of(component, hv, host):
    """[(instance name or None, listen address, unit)] of a component on a host."""
    entry = registry.component(component)
    prefix = entry["prefix"]
    listen = hv.get(prefix + "_listen_address") or "0.0.0.0:%d" % entry["port"]
    if not entry["multi_instance"]:
        return [(None, listen, "%s.service" % component)]
    instances = hv.get(prefix + "_instances") or [{"name": "main"}]
    try:
        items = ei.normalise(instances, prefix, listen, "/nonexistent", host=host)
    except Exception as exc:  # InstanceError, HostPortError: the message names the variable
        raise VerifyError(str(exc))
    return [(item["name"], item["listen_address"], item["service"] + ".service") for item in items]


def scrape_spec(hv):
    """The Prometheus role's jobs: the registry's, with the host's prometheus_exporter_jobs over them."""
    spec = registry.scrape_jobs()
    for job, value in (hv.get("prometheus_exporter_jobs") or {}).items():
        if value is None:
            spec.pop(job, None)
        elif isinstance(value, dict):
            spec[job] = dict(spec.get(job) or {}, **value)
    return spec


def expected_targets(host, groups, hostvars):
    """{job: [labels]} of every target the Prometheus on host should have (itself in job prometheus)."""
    hv = _hv(hostvars, host)
    try:
        slices = scrape.jobs(scrape_spec(hv), dict(groups), hostvars,
                             hv.get("prometheus_scrape_basic_auth_user") or "prometheus",
                             {"prometheus": [host]}, None, host)
    except scrape.ScrapeError as exc:
        raise VerifyError(str(exc))
    out = {}
    for piece in slices:
        for target in piece["targets"]:
            labels = dict(target["labels"], instance=target["instance"])
            if labels not in out.setdefault(piece["job"], []):
                out[piece["job"]].append(labels)
    return out


def _spec(host, component, check, kind, **extra):
    out = {"host": host, "component": component, "check": check, "kind": kind}
    out.update(extra)
    return out


def _component_checks(host, component, hv, groups, hostvars, watchdog):
    out = []
    wanted = CHECKS[component]
    if component == "prometheus" and str(hv.get("prometheus_agent_mode", False)).lower() in ("true", "yes", "1", "on"):
        # A Prometheus agent answers no queries and has no rules (HTTP 422 "unavailable with Prometheus Agent"):
        # its service, readiness and targets are checked.
        wanted = [w for w in wanted if w not in ("rules", "exporter_up")]
    instances = instances_of(component, hv, host)
    if "service" in wanted:
        out.append(_spec(host, component, "service", "service", units=[unit for _n, _l, unit in instances]))
    if "ready" in wanted:
        for name, listen, _unit in instances:
            control = control_of(component, hv, host, listen)
            out.append(_spec(host, component, "ready" if name is None else "ready %s" % name, "ready",
                             control=control, path=control["ready_path"]))
    control = control_of(component, hv, host)
    if "targets" in wanted:
        out.append(_spec(host, component, "targets", "targets", control=control,
                         expected_targets=expected_targets(host, groups, hostvars)))
    if "rules" in wanted:
        out.append(_spec(host, component, "rules", "rules", control=control))
    if "exporter_up" in wanted:
        expected = expected_targets(host, groups, hostvars)
        for exporter, metric in sorted(EXPORTER_UP.items()):
            by_host = {}
            for labels in expected.get(exporter, []):
                by_host.setdefault(labels["instance"], []).append(labels)
            for target_host in sorted(by_host):
                out.append(_spec(target_host, exporter, "%s via %s" % (metric, host), "exporter_up", control=control,
                                 metric=metric, job=exporter, expected=by_host[target_host]))
    if "cluster" in wanted:
        group = hv.get("alertmanager_cluster_group") or "alertmanager"
        extra = hv.get("alertmanager_cluster_peers_extra") or []
        out.append(_spec(host, component, "cluster", "cluster", control=control,
                         expected_peers=len(scrape.members(groups, group)) + len(extra)))
    if "watchdog" in wanted:
        out.append(_spec(host, component, "watchdog", "watchdog", control=control, alertname=watchdog))
    return out


def plan(host, host_groups, groups, hostvars, watchdog=WATCHDOG, components=None):
    """The checks of one host: a list of check specs for run(). A component whose settings cannot be
    read becomes one failing check of kind error naming the problem (the other checks still run)."""
    if not isinstance(host_groups, (list, tuple)):
        raise VerifyError("the host's groups must be a list, not %r" % (host_groups,))
    if components is not None:
        unknown = [c for c in components if c not in CHECKS]
        if unknown:
            raise VerifyError("components: %s cannot be verified (known: %s)" % (", ".join(map(str, unknown)), ", ".join(sorted(CHECKS))))
    if not isinstance(watchdog, str) or not watchdog:
        raise VerifyError("the Watchdog alert's name must be a non-empty string, not %r" % (watchdog,))
    hv = _hv(hostvars, host)
    out = []
    for name in registry.ORDER:
        if name not in CHECKS or (components is not None and name not in components):
            continue
        if registry.COMPONENTS[name]["group"] not in host_groups:
            continue
        try:
            out.extend(_component_checks(host, name, hv, groups, hostvars, watchdog))
        except (VerifyError, scrape.ScrapeError, registry.RegistryError) as exc:
            out.append(_spec(host, name, "settings", "error", reason=str(exc)))
    return out


# --- the checks (on each host) ---------------------------------------------------------------------

def _get_json(control, path):
    status, body = control.get(path)
    where = "%s%s" % (control.url, path.split("?")[0])
    if status is None:
        raise VerifyError("cannot reach %s: %s" % (where, body))
    if status == 401:
        raise VerifyError("%s refused the credentials (HTTP 401)" % where)
    if status != 200:
        raise VerifyError("%s answered HTTP %s: %s" % (where, status, (body or "")[:200]))
    try:
        return json.loads(body)
    except ValueError:
        raise VerifyError("%s did not answer JSON: %r" % (where, (body or "")[:100]))


def _api_data(doc, where):
    if not isinstance(doc, dict) or doc.get("status") != "success":
        raise VerifyError("%s answered %r" % (where, doc if not isinstance(doc, dict) else doc.get("error", doc.get("status"))))
    return doc.get("data")


def check_service(spec, run_command):
    states = {}
    for unit in spec["units"]:
        rc, out, err = run_command(["systemctl", "is-active", unit])
        states[unit] = (out or err or "").strip() or ("active" if rc == 0 else "rc %s" % rc)
    bad = dict((u, s) for u, s in states.items() if s != "active")
    if bad:
        return False, "; ".join("%s is %s" % (u, s) for u, s in sorted(bad.items())), {"units": states}
    return True, "%s active" % ", ".join(sorted(states)), {"units": states}


def check_ready(spec, control):
    status, body = control.get(spec["path"])
    where = control.url + spec["path"]
    if status is None:
        return False, "%s does not answer: %s" % (where, body), {"status": None}
    if not 200 <= status < 300:
        return False, "%s answered HTTP %s" % (where, status), {"status": status}
    return True, "%s answered HTTP %s" % (where, status), {"status": status}


def check_targets(spec, control):
    try:
        expectations = tg.check_expectations(expected_targets=spec["expected_targets"])
        result = tg.compare(tg.parse_targets(tg.fetch(control)), expectations, True, False)
    except tg.TargetsError as exc:
        return False, str(exc), {}
    details = dict((k, result[k]) for k in ("counts", "unhealthy", "missing", "extra", "total"))
    if result["ok"]:
        return True, "%d targets up in %d jobs" % (result["total"], len(result["counts"])), details
    lines = tg.summary(result).splitlines()[1:]
    return False, "; ".join(lines), details


def check_rules(spec, control):
    where = control.url + "/api/v1/rules"
    data = _api_data(_get_json(control, "/api/v1/rules"), where)
    groups = (data or {}).get("groups")
    if not isinstance(groups, list):
        raise VerifyError("%s has no list of groups" % where)
    total, unknown, bad = 0, 0, []
    for group in groups:
        for rule in group.get("rules") or []:
            total += 1
            health = rule.get("health")
            if health == "unknown":
                unknown += 1
            if health == "err" or rule.get("lastError"):
                bad.append("group %s, rule %s: %s" % (group.get("name"), rule.get("name"), rule.get("lastError") or health))
    details = {"groups": len(groups), "rules": total, "not_evaluated": unknown, "errors": bad}
    if not total:
        return False, "no rules loaded", details
    if bad:
        return False, "%d of %d rules fail: %s" % (len(bad), total, "; ".join(bad)), details
    note = " (%d not evaluated yet)" % unknown if unknown else ""
    return True, "%d rules in %d groups, no errors%s" % (total, len(groups), note), details


def check_exporter_up(spec, control):
    metric, job = spec["metric"], spec["job"]
    query = '%s{job="%s"}' % (metric, job)
    where = control.url + "/api/v1/query"
    data = _api_data(_get_json(control, "/api/v1/query?query=" + quote(query, safe="")), where)
    found = []
    for sample in (data or {}).get("result") or []:
        labels = sample.get("metric") or {}
        try:
            value = float(sample.get("value")[1])
        except (TypeError, ValueError, IndexError):
            value = None
        found.append((labels, value))
    problems, values = [], {}
    for wanted in spec["expected"]:
        name = ", ".join("%s=%s" % (k, v) for k, v in sorted(wanted.items()) if k != "instance")
        who = wanted["instance"] + (" (%s)" % name if name else "")
        match = [v for labels, v in found if all(labels.get(k) == v2 for k, v2 in wanted.items())]
        values[who] = match[0] if match else None
        if not match:
            problems.append("%s: no %s series (is the exporter scraped?)" % (who, metric))
        elif match[0] != 1:
            problems.append("%s: %s is %s, the exporter cannot reach its database" % (who, metric, match[0]))
    if problems:
        return False, "; ".join(problems), {"values": values}
    return True, "%s = 1 for %s" % (metric, ", ".join(sorted(values))), {"values": values}


def check_cluster(spec, control):
    where = control.url + "/api/v2/status"
    doc = _get_json(control, "/api/v2/status")
    cluster = (doc or {}).get("cluster") if isinstance(doc, dict) else None
    if not isinstance(cluster, dict):
        raise VerifyError("%s has no cluster status" % where)
    status, peers = cluster.get("status"), cluster.get("peers") or []
    expected = spec["expected_peers"]
    details = {"status": status, "peers": len(peers), "expected": expected,
               "names": sorted(p.get("name", "") for p in peers if isinstance(p, dict))}
    if expected <= 1 and status == "disabled":
        return True, "one Alertmanager, clustering off", details
    if status != "ready":
        return False, "cluster status is %s (%d of %d peers)" % (status, len(peers), expected), details
    if len(peers) != expected:
        return False, "%d of %d peers in the cluster" % (len(peers), expected), details
    return True, "cluster ready with %d peers" % len(peers), details


def check_watchdog(spec, control):
    name = spec["alertname"]
    path = "/api/v2/alerts?filter=" + quote('alertname="%s"' % name, safe="")
    doc = _get_json(control, path)
    if not isinstance(doc, list):
        raise VerifyError("%s/api/v2/alerts did not answer a list" % control.url)
    found = [a for a in doc if isinstance(a, dict) and (a.get("labels") or {}).get("alertname") == name]
    details = {"alerts": len(found), "states": sorted(set(((a.get("status") or {}).get("state") or "") for a in found))}
    if not found:
        return False, "no %s alert in this Alertmanager: the alert path from Prometheus is broken" % name, details
    return True, "%s alert present (%s)" % (name, ", ".join(details["states"])), details


RUNNERS = {"ready": check_ready, "targets": check_targets, "rules": check_rules, "exporter_up": check_exporter_up,
           "cluster": check_cluster, "watchdog": check_watchdog}


def run_one(spec, make_control, run_command, clock=time.time):
    """One check: its result dict (never raises for a failing service or API)."""
    start = clock()
    result = {"host": spec["host"], "component": spec["component"], "check": spec["check"], "kind": spec["kind"]}
    try:
        if spec["kind"] == "error":
            ok, message, details = False, spec.get("reason") or "error", {}
        elif spec["kind"] == "service":
            ok, message, details = check_service(spec, run_command)
        elif spec["kind"] in RUNNERS:
            ok, message, details = RUNNERS[spec["kind"]](spec, make_control(spec["control"]))
        else:
            raise VerifyError("unknown kind of check %r (known: %s)" % (spec["kind"], ", ".join(KINDS)))
    except (VerifyError, tg.TargetsError) as exc:
        ok, message, details = False, str(exc), {}
    result.update(ok=bool(ok), message=message, details=details, seconds=round(max(clock() - start, 0.0), 3))
    return result


def run(specs, make_control, run_command, wait_timeout=0, wait_interval=5, clock=time.time, sleep=time.sleep):
    """Every check; the failing ones asked again every wait_interval until wait_timeout. Results in
    the order of the specs."""
    start = clock()
    results = [run_one(s, make_control, run_command, clock) for s in specs]
    while wait_timeout > 0 and any(not r["ok"] and r["kind"] != "error" for r in results):
        if clock() - start + wait_interval > wait_timeout:
            break
        sleep(wait_interval)
        results = [r if r["ok"] or r["kind"] == "error" else run_one(s, make_control, run_command, clock)
                   for s, r in zip(specs, results)]
    return results


# --- the report (on the controller) ----------------------------------------------------------------

def collect(registered):
    """Every host's results from {host: the registered result of verify_checks, or None when the host
    did not run it}: a host that was unreachable or whose task failed before any check becomes one
    failing result of component "host" naming why."""
    if not isinstance(registered, dict):
        raise VerifyError("the registered results must be a mapping of host to the result of verify_checks, not %r" % (registered,))
    out = []
    for host in sorted(registered, key=str):
        reg = registered[host]
        if reg is None:
            continue
        if not isinstance(reg, dict):
            raise VerifyError("the result of %s is not a mapping: %r" % (host, reg))
        if reg.get("unreachable"):
            out.append({"host": str(host), "component": "host", "check": "reachable", "kind": "error", "ok": False,
                        "message": "unreachable: %s" % (reg.get("msg") or "no answer"), "details": {}, "seconds": 0})
        elif isinstance(reg.get("results"), list):
            out.extend(reg["results"])
        elif reg.get("skipped"):
            continue
        else:
            out.append({"host": str(host), "component": "host", "check": "verify_checks", "kind": "error", "ok": False,
                        "message": "the checks did not run: %s" % (reg.get("msg") or "no results"), "details": {}, "seconds": 0})
    return out


def check_results(results):
    if not isinstance(results, list):
        raise VerifyError("the results must be a list, not %r" % (results,))
    out = []
    for index, item in enumerate(results):
        if not isinstance(item, dict) or not all(k in item for k in ("host", "component", "check", "ok")):
            raise VerifyError("results[%d] is not a check result {host, component, check, ok, message}: %r" % (index, item))
        out.append(item)
    return out


def junit(results, name="fleetwatch verify", timestamp=None):
    """JUnit XML: one testsuite per host, one testcase per check (classname host.component)."""
    results = check_results(results)
    by_host = {}
    for item in results:
        by_host.setdefault(str(item["host"]), []).append(item)
    failures = sum(1 for r in results if not r["ok"])
    total_time = sum(float(r.get("seconds") or 0) for r in results)
    lines = ['<?xml version="1.0" encoding="UTF-8"?>',
             '<testsuites name=%s tests="%d" failures="%d" errors="0" time="%.3f">'
             % (quoteattr(name), len(results), failures, total_time)]
    for host in sorted(by_host):
        items = by_host[host]
        attrs = 'name=%s tests="%d" failures="%d" errors="0" skipped="0" time="%.3f"' % (
            quoteattr(host), len(items), sum(1 for r in items if not r["ok"]), sum(float(r.get("seconds") or 0) for r in items))
        if timestamp:
            attrs += " timestamp=%s" % quoteattr(timestamp)
        lines.append("  <testsuite %s>" % attrs)
        for item in items:
            head = '    <testcase classname=%s name=%s time="%.3f"' % (
                quoteattr("%s.%s" % (host, item["component"])), quoteattr(str(item["check"])), float(item.get("seconds") or 0))
            message = str(item.get("message") or "")
            if item["ok"]:
                lines.append(head + ">")
                lines.append("      <system-out>%s</system-out>" % escape(message))
                lines.append("    </testcase>")
            else:
                lines.append(head + ">")
                lines.append('      <failure message=%s type="check failed">%s</failure>' % (
                    quoteattr("%s on %s: %s" % (item["component"], host, message.splitlines()[0] if message else "failed")),
                    escape("%s %s on %s: %s" % (item["component"], item["check"], host, message))))
                lines.append("    </testcase>")
        lines.append("  </testsuite>")
    lines.append("</testsuites>")
    return "\n".join(lines) + "\n"


def summary(results):
    """A readable summary: the count, then one line per failing check naming component and host, then the passing ones."""
    results = check_results(results)
    failed = [r for r in results if not r["ok"]]
    hosts = sorted(set(str(r["host"]) for r in results))
    if not results:
        return "fleetwatch verify: no checks ran"
    lines = ["fleetwatch verify: %d of %d checks failed on %d hosts" % (len(failed), len(results), len(hosts))
             if failed else "fleetwatch verify: all %d checks passed on %d hosts" % (len(results), len(hosts))]
    for item in failed:
        lines.append("FAILED %s %s on %s: %s" % (item["component"], item["check"], item["host"], item.get("message", "")))
    for item in results:
        if item["ok"]:
            lines.append("ok     %s %s on %s: %s" % (item["component"], item["check"], item["host"], item.get("message", "")))
    return "\n".join(lines)


def metrics(results, started, finished):
    """The textfile_metrics samples of a run: {"run": per component its checks and failed checks, the
    run's end time and duration; "success": the last success time when every check passed, else []}.
    The playbook writes "run" at every run and "success" only after a successful one (a file of its
    own), so the last success survives failed runs."""
    results = check_results(results)
    try:
        started, finished = float(started), float(finished)
    except (TypeError, ValueError):
        raise VerifyError("started and finished must be Unix times in seconds, not %r and %r" % (started, finished))
    per = {}
    for item in results:
        count = per.setdefault(str(item["component"]), [0, 0])
        count[0] += 1
        count[1] += 0 if item["ok"] else 1
    run_ = []
    for component in sorted(per):
        run_.append({"name": "fleetwatch_verify_checks", "type": "gauge", "value": per[component][0],
                     "help": "Checks of the component in the last run of the verify playbook.", "labels": {"component": component}})
        run_.append({"name": "fleetwatch_verify_failed_checks", "type": "gauge", "value": per[component][1],
                     "help": "Failed checks of the component in the last run of the verify playbook.", "labels": {"component": component}})
    run_.append({"name": "fleetwatch_verify_last_run_timestamp_seconds", "type": "gauge", "value": finished,
                 "help": "When the last run of the verify playbook ended (Unix time).", "labels": {}})
    run_.append({"name": "fleetwatch_verify_duration_seconds", "type": "gauge", "value": round(max(finished - started, 0.0), 3),
                 "help": "How long the last run of the verify playbook took.", "labels": {}})
    success = []
    if results and all(r["ok"] for r in results):
        success.append({"name": "fleetwatch_verify_last_success_timestamp_seconds", "type": "gauge", "value": finished,
                        "help": "When the last run of the verify playbook whose checks all passed ended (Unix time).",
                        "labels": {}})
    return copy.deepcopy({"run": run_, "success": success})
