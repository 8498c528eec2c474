# SPDX-License-Identifier: Apache-2.0
"""Benchmark (not a test) of the TSDB backup against the size of the TSDB.

    .venv/bin/python benchmarks/snapshot_bench.py [--sizes 100x1440,1000x1440,5000x2880] [--no-record]

For each size (series x samples per series, one sample a minute), a TSDB is made with
`promtool tsdb create-blocks-from openmetrics` (Debian's promtool, .cache/tools, `make tools`),
outside the timing. The real Prometheus (.cache/tools) then runs on it on loopback, with basic auth
and the admin API, and the backup module's own code (module_utils/backup.py, the prometheus_tsdb
entry, through the roles' HTTP client serviceapply.Control) takes the backup: the snapshot
(POST /api/v1/admin/tsdb/snapshot, hard links of the blocks plus the head written as a block),
then the archive (tar.gz, sha256 of every member and of the archive, manifest, fsync, rename) and
the deletion of the snapshot. Reported per size: the TSDB on disk, the snapshot and archive times,
the whole backup, the archive's size; and the restore's own work on the same archive (check of
every sha256, unpacking, swap; the service calls stubbed). Rows are appended to
benchmarks/results.md (--no-record: printed only).
"""
import argparse
import datetime
import json
import os
import shutil
import signal
import subprocess
import tempfile
import time

import benchpath  # benchmarks/benchpath.py (the script's own directory is on sys.path)

benchpath.setup()

from ansible_collections.fleetwatch.observability.plugins.module_utils import backup as bk  # noqa: E402
from ansible_collections.fleetwatch.observability.plugins.module_utils import serviceapply as sa  # noqa: E402
from ansible_collections.fleetwatch.observability.plugins.module_utils import webconfig  # noqa: E402
import localhttp  # noqa: E402  pylint: disable=import-error
import rulebundle  # noqa: E402  pylint: disable=import-error

RESULTS = benchpath.RESULTS


def du(path):
    total = 0
    for root, dirs, files in os.walk(path):
        for f in files:
            p = os.path.join(root, f)
            if not os.path.islink(p):
                total += os.path.getsize(p)
    return total


def make_tsdb(promtool, data, series, samples, work):
    start = int(time.time()) - samples * 60 - 7200
    start -= start % 7200
    source = os.path.join(work, "in.om")
    with open(source, "w") as f:
        f.write("# HELP fw_bench_metric Benchmark series.\n# TYPE fw_bench_metric gauge\n")
        for i in range(samples):
            t = start + i * 60
            f.write("".join('fw_bench_metric{series="%d",host="host-%d"} %d %d\n' % (s, s % 97, (i * 7 + s) % 1000, t)
                            for s in range(series)))
        f.write("# EOF\n")
    subprocess.run([promtool, "tsdb", "create-blocks-from", "openmetrics", source, data], check=True,
                   stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    os.unlink(source)


def run_prometheus(prometheus, data, work, password):
    port = localhttp.free_port()
    with open(os.path.join(work, "web.yml"), "w") as f:
        json.dump({"basic_auth_users": {"admin": webconfig.bcrypt_hash(password, "bench", "admin", cost=4)}}, f)
    with open(os.path.join(work, "prometheus.yml"), "w") as f:
        f.write("global: {scrape_interval: 1h}\n")
    proc = subprocess.Popen([prometheus, "--config.file", os.path.join(work, "prometheus.yml"), "--storage.tsdb.path", data,
                             "--storage.tsdb.retention.time", "3650d",
                             "--web.listen-address", "127.0.0.1:%d" % port, "--web.config.file", os.path.join(work, "web.yml"),
                             "--web.enable-admin-api"], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    ctl = sa.Control("http://127.0.0.1:%d" % port, "admin", password, timeout=300)
    deadline = time.time() + 120
    while ctl.get("/-/ready")[0] != 200:
        if proc.poll() is not None or time.time() > deadline:
            raise SystemExit("prometheus did not start on %s" % data)
        time.sleep(0.2)
    return proc, ctl


class Timed(object):
    """The control path with the time of the snapshot request measured."""

    def __init__(self, ctl):
        self.ctl = ctl
        self.url = ctl.url
        self.snapshot = 0.0

    def get(self, path):
        return self.ctl.get(path)

    def request(self, method, path, body=None):
        t = time.perf_counter()
        try:
            return self.ctl.request(method, path, body)
        finally:
            if "snapshot" in path:
                self.snapshot += time.perf_counter() - t


class NoService(object):
    def stop(self):
        pass

    def start(self):
        pass


def bench(size, prometheus, promtool):
    series, samples = size
    work = tempfile.mkdtemp(prefix="fw-snapshot-bench-")
    data = os.path.join(work, "data")
    os.makedirs(data)
    try:
        make_tsdb(promtool, data, series, samples, work)
        tsdb = du(data)
        proc, ctl = run_prometheus(prometheus, data, work, "bench-pw'$")
        try:
            timed = Timed(ctl)
            spec = bk.entry("prometheus_tsdb")
            t = time.perf_counter()
            out = bk.backup(spec, os.path.join(work, "backups"), "bench", 2,
                            settings={"prometheus_storage_path": data}, control=timed)
            total = time.perf_counter() - t
        finally:
            proc.send_signal(signal.SIGTERM)
            proc.wait(120)
        t = time.perf_counter()
        bk.restore(spec, os.path.join(work, "backups"), "bench", settings={"prometheus_storage_path": data},
                   service=NoService())
        restore = time.perf_counter() - t
        return {"series": series, "samples": samples, "tsdb_bytes": tsdb, "snapshot_s": timed.snapshot,
                "archive_s": total - timed.snapshot, "total_s": total, "archive_bytes": out["size"],
                "restore_s": restore}
    finally:
        shutil.rmtree(work)


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sizes", default="100x1440,1000x1440,5000x2880",
                        help="comma-separated SERIESxSAMPLES (one sample a minute per series)")
    parser.add_argument("--no-record", action="store_true", help="print only, do not append to benchmarks/results.md")
    args = parser.parse_args()
    prometheus = rulebundle.find_tool("prometheus", "PROMETHEUS")
    promtool = rulebundle.find_tool("promtool", "PROMTOOL")
    if not prometheus or not promtool:
        raise SystemExit("prometheus and promtool are needed (`make tools` puts them in .cache/tools)")
    version = subprocess.run([prometheus, "--version"], stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
                             universal_newlines=True, check=True).stdout.split("\n")[0]
    sizes = [tuple(int(x) for x in s.split("x")) for s in args.sizes.split(",")]
    rows = []
    load = os.getloadavg()[0]
    for size in sizes:
        r = bench(size, prometheus, promtool)
        print("%6d series x %5d samples: TSDB %7.1f MB, snapshot %.2f s, archive %.2f s, backup %.2f s, archive %.1f MB, "
              "restore (checks, unpack, swap) %.2f s"
              % (r["series"], r["samples"], r["tsdb_bytes"] / 1e6, r["snapshot_s"], r["archive_s"], r["total_s"],
                 r["archive_bytes"] / 1e6, r["restore_s"]))
        rows.append(r)
    if not args.no_record:
        today = datetime.date.today().isoformat()
        with open(RESULTS, "a") as handle:
            for r in rows:
                handle.write("| %s | TSDB backup (%s), %d series x %d samples (%.1f MB on disk, %.1f MB archive): snapshot "
                             "%.2f s + archive/sha256/manifest %.2f s; restore's checks + unpack + swap %.2f s; "
                             "load %.1f: `.venv/bin/python benchmarks/snapshot_bench.py --sizes %s` | 1 | %.2f (whole backup) | | |\n"
                             % (today, version, r["series"], r["samples"], r["tsdb_bytes"] / 1e6, r["archive_bytes"] / 1e6,
                                r["snapshot_s"], r["archive_s"], r["restore_s"], load, args.sizes, r["total_s"]))
        print("appended to benchmarks/results.md")


if __name__ == "__main__":
    main()
