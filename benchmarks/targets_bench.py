# SPDX-License-Identifier: Apache-2.0
"""Benchmark (not a test) of the prometheus_targets module's own work on a large fleet.

    .venv/bin/python benchmarks/targets_bench.py [--targets 5000] [--runs 20] [--no-record]

A targets API answer with 5,000 targets (5 jobs; some down, some never scraped, every record as
Prometheus 2.53 writes it) is built first, outside the timing. Each run then does what the module
does with an answer: check the expectations (each job's inventory hosts), parse the JSON, compare,
and write the summary, through the module's own code (module_utils/targets.py). The number
reported is the median wall time of the runs (CPU time beside it); the goal is under 1 s.

For scale, two more figures that are not the module's own time alone: the same answer read over
loopback HTTP through the module's client (serviceapply.Control) from a server in this process, then
compared; and the whole module run as a process the way Ansible runs it (Python start, Ansible's
argument parsing, HTTP, comparison; without the AnsiballZ wrapper and the connection).

The result is printed and appended to benchmarks/results.md (--no-record: printed only).
"""
import argparse
import datetime
import json
import os
import statistics
import subprocess
import sys
import threading
import time

from http.server import BaseHTTPRequestHandler, HTTPServer

import benchpath  # benchmarks/benchpath.py (the script's own directory is on sys.path)

benchpath.setup()
ROOT = benchpath.ROOT

from ansible_collections.fleetwatch.observability.plugins.module_utils import serviceapply as sa  # noqa: E402
from ansible_collections.fleetwatch.observability.plugins.module_utils import targets as tg  # noqa: E402
import targetsdata  # noqa: E402  pylint: disable=import-error

RESULTS = benchpath.RESULTS


def module_work(body, inventory):
    """What the module does with one answer of the API."""
    expectations = tg.check_expectations(None, None, inventory)
    result = tg.compare(tg.parse_targets(body), expectations)
    result["summary"] = tg.summary(result, "http://127.0.0.1:9090")
    return result


def timed(function, runs):
    walls, cpus, result = [], [], None
    for _run in range(runs):
        wall, cpu = time.perf_counter(), time.process_time()
        result = function()
        walls.append(time.perf_counter() - wall)
        cpus.append(time.process_time() - cpu)
    return walls, cpus, result


def run_module(url, inventory):
    """plugins/modules/prometheus_targets.py run as Ansible runs a module (minus the AnsiballZ wrapper)."""
    args = json.dumps({"ANSIBLE_MODULE_ARGS": {"url": url, "expected_targets": inventory, "timeout": 30}})
    env = dict(os.environ, PYTHONPATH=benchpath.COLLECTIONS)
    proc = subprocess.run([sys.executable, os.path.join(ROOT, "plugins", "modules", "prometheus_targets.py")], input=args,
                          stdout=subprocess.PIPE, stderr=subprocess.PIPE, universal_newlines=True, env=env, check=False)
    return json.loads(proc.stdout)


def serve(body):
    data = body.encode("utf-8")

    class Handler(BaseHTTPRequestHandler):
        def do_GET(self):  # noqa: N802 - http.server's name
            self.send_response(200)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(data)))
            self.end_headers()
            self.wfile.write(data)

        def log_message(self, *args):
            pass

    server = HTTPServer(("127.0.0.1", 0), Handler)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    return server


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n", maxsplit=1)[0])
    parser.add_argument("--targets", type=int, default=5000)
    parser.add_argument("--runs", type=int, default=20)
    parser.add_argument("--no-record", action="store_true", help="print only, do not append to benchmarks/results.md")
    args = parser.parse_args()

    body, instances = targetsdata.synthetic(args.targets)
    inventory = dict((job, list(hosts)) for job, hosts in instances.items())
    walls, cpus, result = timed(lambda: module_work(body, inventory), args.runs)
    median, worst = statistics.median(walls), max(walls)
    down = sum(c["down"] for c in result["counts"].values())
    unknown = sum(c["unknown"] for c in result["counts"].values())

    server = serve(body)
    ctl = sa.Control("http://127.0.0.1:%d" % server.server_address[1], timeout=30)
    http_walls, _http_cpus, _result = timed(lambda: module_work(tg.fetch(ctl), inventory), max(3, args.runs // 4))
    process_walls, _process_cpus, answer = timed(lambda: run_module(ctl.url, inventory), max(3, args.runs // 4))
    server.shutdown()
    server.server_close()
    if "counts" not in answer:
        raise SystemExit("the module did not answer as expected: %r" % answer)

    what = ("%d targets (%d jobs, %d down, %d never scraped; answer %.1f MB), each job's inventory hosts expected"
            % (result["total"], len(result["jobs"]), down, unknown, len(body) / 1e6))
    print("prometheus_targets on %s" % what)
    print("module's own time (check expectations, parse JSON, compare, summary), %d runs: median %.3f s, "
          "min %.3f s, max %.3f s; CPU median %.3f s; goal < 1 s: %s"
          % (args.runs, median, min(walls), worst, statistics.median(cpus), "met" if worst < 1 else "NOT met"))
    print("not the module's own time alone: with the answer read over loopback HTTP through its client, median %.3f s; "
          "the whole module as a process (Python start, Ansible's argument parsing, HTTP, comparison), median %.3f s"
          % (statistics.median(http_walls), statistics.median(process_walls)))
    if not args.no_record:
        command = ".venv/bin/python benchmarks/targets_bench.py" + ("" if args.targets == 5000 else " --targets %d" % args.targets)
        row = ("| %s | prometheus_targets, %s: JSON parsing + comparison + summary, module's own time, median of %d runs "
               "(max %.3f s; read over loopback HTTP %.3f s; the whole module as a process %.3f s), goal < 1 s: `%s` | | "
               "%.3f (module's own time) | | |\n"
               % (datetime.datetime.now(datetime.timezone.utc).strftime("%Y-%m-%d"), what, args.runs, worst, statistics.median(http_walls),
                  statistics.median(process_walls), command, median))
        with open(RESULTS, "a") as handle:
            handle.write(row)
        print("appended to benchmarks/results.md")
    return 0 if worst < 1 else 1


if __name__ == "__main__":
    sys.exit(main())
