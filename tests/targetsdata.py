# SPDX-License-Identifier: Apache-2.0
"""Targets API answers for the tests and the benchmark of module_utils/targets.py.

``REAL`` is what Prometheus 2.53.3 answered on /prom/api/v1/targets (route prefix /prom) with five
scrape targets: node_exporter web1 (up), node_exporter web2 (nothing listening: down), two
postgres_exporter instances of db1 of which relabelling dropped one (the other down) and Prometheus
itself at the wrong path (down, HTTP 404). ``synthetic(...)`` builds a large answer of the same
shape, every record as Prometheus writes it.
"""
import json
import os

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
REAL = os.path.join(ROOT, "tests", "unit", "fixtures", "targets", "prometheus-2.53.3.json")


def real():
    with open(REAL) as handle:
        return handle.read()


def record(job, instance, port, health="up", extra_labels=None, error=None):
    labels = dict({"instance": instance, "job": job}, **(extra_labels or {}))
    url = "http://%s:%d/metrics" % (instance, port)
    return {
        "discoveredLabels": dict({"__address__": "%s:%d" % (instance, port), "__metrics_path__": "/metrics",
                                  "__scheme__": "http", "__scrape_interval__": "15s", "__scrape_timeout__": "10s"}, **labels),
        "labels": labels,
        "scrapePool": job,
        "scrapeUrl": url,
        "globalUrl": url,
        "lastError": "" if health == "up" else (error or 'Get "%s": dial tcp: connect: connection refused' % url),
        "lastScrape": "0001-01-01T00:00:00Z" if health == "unknown" else "2026-11-25T18:20:01.397248264Z",
        "lastScrapeDuration": 0 if health == "unknown" else 0.012345678,
        "health": health,
        "scrapeInterval": "15s",
        "scrapeTimeout": "10s",
    }


JOBS = (("node_exporter", 9100), ("postgres_exporter", 9187), ("redis_exporter", 9121), ("blackbox_exporter", 9115),
        ("alertmanager", 9093))


def hosts(n):
    return ["host%05d.example.net" % i for i in range(n)]


def synthetic(n=5000, down_every=97, unknown_every=251):
    """An answer with n targets spread over JOBS (instances host00000..., job by index), every
    down_every-th down and every unknown_every-th never scraped. Returns (body, {job: [instances]})."""
    active = []
    instances = {}
    for i, host in enumerate(hosts(n)):
        job, port = JOBS[i % len(JOBS)]
        health = "up"
        if down_every and i % down_every == down_every - 1:
            health = "down"
        elif unknown_every and i % unknown_every == unknown_every - 1:
            health = "unknown"
        active.append(record(job, host, port, health))
        instances.setdefault(job, []).append(host)
    counts = dict((job, 0) for job, _port in JOBS)
    body = json.dumps({"status": "success", "data": {"activeTargets": active, "droppedTargets": [], "droppedTargetCounts": counts}})
    return body, instances
