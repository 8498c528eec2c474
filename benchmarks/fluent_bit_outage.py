# SPDX-License-Identifier: Apache-2.0
"""Benchmark (not a test): how many log lines Fluent Bit carries through a Loki outage, and how long
they take to arrive once Loki is back. Runs against the hosts of the `logs` Molecule scenario
(`molecule converge -s logs` first; fw-logs-1 runs Loki and Fluent Bit, fw-logs-2 Fluent Bit):

    .venv/bin/python benchmarks/fluent_bit_outage.py [--outage 60] [--lines 5000] [--no-record]

Loki is stopped; during --outage seconds each host writes --lines journal entries (systemd-cat) and
--lines lines to a file (job app), spread over the outage; Loki is started again. Reported: lines
written, lines in Loki afterwards (counted exactly, per host and job), seconds from Loki's start
until all were there, lines lost and lines stored twice (each line is numbered: read back page by
page), and the size of the disk buffer at the end of the outage. The result is
printed and appended to benchmarks/results.md (--no-record: printed only).
"""
import argparse
import datetime
import json
import os
import subprocess
import sys
import time
import urllib.parse
import uuid

HOSTS = ("fw-logs-1", "fw-logs-2")
ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


def sh(host, command, check=True):
    out = subprocess.run(["podman", "exec", host, "sh", "-c", command], stdout=subprocess.PIPE,
                         stderr=subprocess.PIPE, universal_newlines=True, check=False)
    if check and out.returncode != 0:
        raise SystemExit("%s: %s failed: %s" % (host, command, out.stderr))
    return out.stdout


def count(marker, host, job):
    now = time.time_ns()
    query = 'sum(count_over_time({host="%s", job="%s"} |~ "^%s [0-9]+$" [1h]))' % (host, job, marker)
    url = "http://127.0.0.1:3100/loki/api/v1/query?" + urllib.parse.urlencode({"query": query, "time": now})
    answer = sh("fw-logs-1", "curl -sf '%s'" % url, check=False)
    try:
        result = json.loads(answer)["data"]["result"]
    except (ValueError, KeyError):
        return 0
    return int(float(result[0]["value"][1])) if result else 0


def numbers(marker, host, job, start_ns, end_ns):
    """The line numbers in Loki (a list, with repeats), read window by window (a window that hits the
    query limit is halved: a page boundary is never guessed from timestamps)."""
    query = '{host="%s", job="%s"} |~ "^%s [0-9]+$"' % (host, job, marker)
    url = "http://127.0.0.1:3100/loki/api/v1/query_range?" + urllib.parse.urlencode(
        {"query": query, "start": start_ns, "end": end_ns, "limit": 5000, "direction": "forward"})
    result = json.loads(sh("fw-logs-1", "curl -sf '%s'" % url))["data"]["result"]
    lines = [line for stream in result for _ts, line in stream["values"]]
    if len(lines) >= 5000:
        middle = (start_ns + end_ns) // 2
        return numbers(marker, host, job, start_ns, middle) + numbers(marker, host, job, middle, end_ns)
    return [int(line.rsplit(" ", 1)[1]) for line in lines]


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--outage", type=int, default=60)
    parser.add_argument("--lines", type=int, default=5000)
    parser.add_argument("--no-record", action="store_true")
    args = parser.parse_args()
    marker = "bench-%s" % uuid.uuid4().hex[:12]
    batches = 10
    per_batch = args.lines // batches
    sh("fw-logs-1", "systemctl stop loki")
    stopped = time.time()
    for batch in range(batches):
        for host in HOSTS:
            first, last = batch * per_batch + 1, (batch + 1) * per_batch
            sh(host, "seq %d %d | sed 's/^/%s /' | systemd-cat -t fwbench" % (first, last, marker))
            sh(host, "seq %d %d | sed 's/^/%s /' >> /var/log/fleetwatch-test/bench.log" % (first, last, marker))
        time.sleep(max(0, stopped + (batch + 1) * args.outage / batches - time.time()))
    buffered = {h: sh(h, "du -sk /var/lib/fluent-bit/storage | cut -f1").strip() for h in HOSTS}
    outage = time.time() - stopped
    sh("fw-logs-1", "systemctl start loki")
    started = time.time()
    written = per_batch * batches
    counts = {}
    while time.time() - started < 600:
        counts = {(h, j): count(marker, h, j) for h in HOSTS for j in ("systemd-journal", "app")}
        if all(c >= written for c in counts.values()):
            break
        time.sleep(2)
    delay = time.time() - started
    # at-least-once: a push Loki stored but answered too late (timeout, 5xx) is sent again
    seen = {(h, j): numbers(marker, h, j, int((stopped - 600) * 1e9), time.time_ns()) for h in HOSTS
            for j in ("systemd-journal", "app")}
    lost = {k: written - len(set(v) & set(range(1, written + 1))) for k, v in seen.items()}
    twice = {k: len(v) - len(set(v)) for k, v in seen.items()}
    complete = not any(lost.values())
    line = ("| %s | Fluent Bit through a Loki outage (`molecule converge -s logs`, then `.venv/bin/python "
            "benchmarks/fluent_bit_outage.py --outage %d --lines %d`): Loki stopped %.0f s; per host %d journal "
            "+ %d file lines written meanwhile; in Loki afterwards (exact counts per host and job): %s; all there "
            "%.0f s after Loki's start (Loki itself needs about 15-20 s to be ready); lost %d, sent twice %d "
            "(pushes Loki stored but answered too late); disk buffer at the end of the outage %s KB; load average %s "
            "| 2 | | | |"
            % (datetime.date.today().isoformat(), args.outage, args.lines, outage, written, written,
               ", ".join("%s/%s %d" % (h, j, c) for (h, j), c in sorted(counts.items())), delay,
               sum(lost.values()), sum(twice.values()), " / ".join("%s %s" % (h, buffered[h]) for h in HOSTS),
               os.getloadavg()[0]))
    print(line)
    if not complete:
        print("LINES LOST: %s of %d" % (lost, written))
        return 1
    if not args.no_record:
        with open(os.path.join(ROOT, "benchmarks", "results.md"), "a") as handle:
            handle.write(line + "\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
