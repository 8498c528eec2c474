# -*- coding: utf-8 -*-
# Copyright: fleetwatch engineers
# SPDX-License-Identifier: Apache-2.0
"""Bring a systemd service in line with its files, decided from the host's live state.

What a service runs is decided here, not from what the current run happened to change, so that a
run interrupted after writing files (a lost connection, Ctrl-C, a failing later task) converges on
the next one:

* a record (the *stamp*, ``<state_dir>/<component>.json``) holds, per service, the digest of the
  files whose change needs a restart (unit, environment files, the resolved binary) and of those
  whose change needs a reload (configuration, rules, templates, secrets), written only after the
  service was seen ready (restart) or its reload was seen successful;
* the running process' executable (``/proc/<MainPID>/exe``) is compared with the installed binary,
  and systemd's NeedDaemonReload with the unit on disk;
* a digest that differs from the stamp means the change was never applied: restart, or reload.

After a restart the service must answer on its readiness URL (through its own TLS, client
certificate and basic auth) before ``ready_timeout``; a crash loop is noticed at once. After a
reload, the program's own ``<reload_metric>_successful`` and ``..._success_timestamp_seconds``
say whether it took the new configuration. A failure is reported with the program's reason from
the journal; the caller then puts the previous files back (see servicesetup.ChangeSet).
"""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

import base64
import hashlib
import json
import os
import re
import ssl
import stat
import tempfile
import time
from urllib.error import HTTPError, URLError

from ansible.module_utils.urls import ConnectionError as UrlsConnectionError, Request

from ansible_collections.fleetwatch.observability.plugins.module_utils.servicesetup import read_bytes

SHOW_PROPS = ("ActiveState", "SubState", "MainPID", "NRestarts", "NeedDaemonReload", "UnitFileState",
              "ExecMainStartTimestamp", "LoadState")


def started_at(show):
    """ExecMainStartTimestamp as epoch seconds (systemctl show --timestamp=unix gives "@<secs>")."""
    value = show.get("ExecMainStartTimestamp", "")
    if value.startswith("@"):
        try:
            return float(value[1:])
        except ValueError:
            return None
    return None


METRIC_RE = r"^%s(?:\{[^}]*\})?\s+(\S+)"


class ApplyError(Exception):
    """The service did not take the new settings; the message says why."""


# --- digests and the stamp -----------------------------------------------------------------------

def newest_mtime(entries):
    """Latest modification time of the named files (a directory entry: of it and its files)."""
    times = []
    for entry in entries or []:
        paths = [entry]
        if entry.endswith("/") and os.path.isdir(entry):
            paths += [os.path.join(entry, n) for n in os.listdir(entry)]
        for path in paths:
            try:
                times.append(os.stat(path).st_mtime)
            except OSError:
                continue
    return max(times) if times else 0


def digest(entries, extra=None, overrides=None):
    """sha256 over the named files; an entry ending in '/' stands for every regular file below it.

    A missing file counts as absent (so that removing one changes the digest); ``extra`` (text, for
    example the resolved binary) is mixed in. ``overrides`` (path -> bytes, None for removed)
    stands for files as they will be once a planned change is applied (check mode).
    """
    overrides = overrides or {}
    h = hashlib.sha256()
    for entry in sorted(set(entries or [])):
        if entry.endswith("/"):
            found = set()
            for root, dirs, names in os.walk(entry):
                dirs.sort()
                found.update(os.path.join(root, n) for n in names
                             if not n.startswith(".") and os.path.isfile(os.path.join(root, n)))
            found.update(p for p in overrides if p.startswith(entry))
            paths = sorted(p for p in found if overrides.get(p, True) is not None)
        else:
            paths = [entry]
        for path in paths:
            data = overrides[path] if path in overrides else read_bytes(path)
            h.update(path.encode("utf-8") + b"\0")
            h.update(b"<absent>" if data is None else hashlib.sha256(data).digest())
            h.update(b"\0")
    if extra:
        h.update(str(extra).encode("utf-8"))
    return h.hexdigest()


def stamp_path(state_dir, component):
    return os.path.join(state_dir, "%s.json" % component)


def read_stamp(state_dir, component):
    data = read_bytes(stamp_path(state_dir, component))
    if data is None:
        return None
    try:
        stamp = json.loads(data.decode("utf-8"))
    except ValueError:
        return None
    return stamp if isinstance(stamp, dict) else None


def write_stamp(state_dir, component, stamp):
    """Write the stamp atomically, root-only."""
    if not os.path.isdir(state_dir):
        os.makedirs(state_dir, 0o700)
    fd, tmp = tempfile.mkstemp(prefix=".stamp.", dir=state_dir)
    try:
        os.fchmod(fd, 0o600)
        with os.fdopen(fd, "w") as handle:
            json.dump(stamp, handle, sort_keys=True, indent=1)
        os.rename(tmp, stamp_path(state_dir, component))
    except Exception:
        if os.path.exists(tmp):
            os.unlink(tmp)
        raise


# --- systemd -------------------------------------------------------------------------------------

def parse_show(text):
    out = {}
    for line in (text or "").splitlines():
        key, sep, value = line.partition("=")
        if sep:
            out[key] = value
    return out


class Systemd(object):
    """systemctl/journalctl through a runner ``run(argv) -> (rc, out, err)``."""

    def __init__(self, run):
        self.run = run

    def show(self, unit):
        rc, out, err = self.run(["systemctl", "show", unit, "--timestamp=unix", "-p", ",".join(SHOW_PROPS)])
        if rc != 0 and "timestamp" in (err or ""):  # systemd older than 248
            rc, out, err = self.run(["systemctl", "show", unit, "-p", ",".join(SHOW_PROPS)])
        if rc != 0:
            raise ApplyError("systemctl show %s failed: %s" % (unit, (err or out).strip()))
        return parse_show(out)

    def call(self, *args):
        rc, out, err = self.run(["systemctl"] + list(args))
        if rc != 0:
            raise ApplyError("systemctl %s failed: %s" % (" ".join(args), (err or out).strip()))

    def journal(self, unit, since, lines=15):
        rc, out, err = self.run(["journalctl", "-u", unit, "--since", "@%d" % int(since), "-n", str(lines),
                                 "--no-pager", "-o", "cat"])
        return (out or "").strip() if rc == 0 else ""


def running_executable(pid):
    """Resolved path of a running process' executable; None when there is no such process."""
    try:
        pid = int(pid)
    except (TypeError, ValueError):
        return None
    if pid <= 0:
        return None
    try:
        return os.readlink("/proc/%d/exe" % pid)
    except OSError:
        return None


def is_active(show):
    return show.get("ActiveState") in ("active", "reloading") or (
        show.get("ActiveState") == "activating" and show.get("SubState") != "auto-restart")


def crashed(show, pid0=None):
    """True when the service stopped or restarts by itself (crash loop)."""
    if show.get("ActiveState") in ("failed", "inactive", "deactivating"):
        return True
    if show.get("SubState") == "auto-restart":
        return True
    pid = show.get("MainPID", "0")
    return bool(pid0 and pid not in ("0", "") and pid != pid0)


# --- the control path (HTTP to the service itself) -----------------------------------------------

class Control(object):
    """GET requests to a service's own endpoints with its TLS, client certificate and basic auth.

    The service is on this host; its certificate names the host, not the address the role uses,
    so the server certificate is checked only when ``ca_file`` is given.
    """

    def __init__(self, url, username=None, password=None, cert_file=None, key_file=None, ca_file=None, timeout=5):
        self.url = str(url).rstrip("/")
        self.headers = {}
        if username:
            token = base64.b64encode(("%s:%s" % (username, password or "")).encode("utf-8")).decode("ascii")
            self.headers["Authorization"] = "Basic " + token
        self.timeout = timeout
        self.context = None
        if self.url.startswith("https://"):
            context = ssl.create_default_context(cafile=ca_file or None)
            if not ca_file:
                context.check_hostname = False
                context.verify_mode = ssl.CERT_NONE
            else:
                context.check_hostname = False
            if cert_file:
                context.load_cert_chain(cert_file, key_file or None)
            self.context = context

    def get(self, path):
        """(status, body) or (None, reason).

        Straight to the service: no proxy from the environment, no credentials from ~/.netrc, the
        SSL context built above (it checks the server only against ``ca_file``).
        """
        return self.request("GET", path)

    def request(self, method, path, body=None):
        """Like get() with any method; ``body`` (a dict or list) is sent as JSON. The body of an
        error answer is returned too (APIs explain their refusals there)."""
        url = self.url + "/" + str(path).lstrip("/")
        headers = dict(self.headers)
        data = None
        if body is not None:
            data = json.dumps(body).encode("utf-8")
            headers["Content-Type"] = "application/json"
        try:
            response = Request().open(method, url, data=data, headers=headers, timeout=self.timeout, use_proxy=False,
                                      use_netrc=False, context=self.context, validate_certs=False)
            try:
                return response.getcode(), response.read().decode("utf-8", "replace")
            finally:
                response.close()
        except HTTPError as exc:
            if method == "GET":
                return exc.code, "HTTP %d %s" % (exc.code, exc.reason)
            try:
                detail = exc.read().decode("utf-8", "replace").strip()[:500]
            except Exception:  # the answer's body is only a detail of the message
                detail = ""
            return exc.code, "HTTP %d %s%s" % (exc.code, exc.reason, (": " + detail) if detail else "")
        except (URLError, UrlsConnectionError, ssl.SSLError, IOError, OSError, ValueError) as exc:
            return None, str(getattr(exc, "reason", exc))


def metric_value(text, name):
    match = re.search(METRIC_RE % re.escape(name), text or "", re.MULTILINE)
    if not match:
        return None
    try:
        return float(match.group(1))
    except ValueError:
        return None


# --- decisions -----------------------------------------------------------------------------------

def decide(svc, show, stamp, restart_digest, reload_digest, exe, binary_real, unit_changed,
           started_at=None, restart_mtime=None):
    """(action, reason): action is start, restart, reload or None; pure, for tests.

    svc: the service options; show: systemctl show; stamp: this service's record or None;
    exe: the running executable or None; binary_real: the resolved binary the unit runs;
    started_at/restart_mtime: when the running process started and when its unit and restart
    files last changed (epoch seconds), used when there is no stamp yet (a host set up by an
    earlier version of the collection): a process started after its files were written runs them.
    """
    if show.get("LoadState") == "not-found" and not unit_changed:
        raise ApplyError("there is no unit %s on the host" % svc["name"])
    if not is_active(show):
        return "start", "not running"
    if binary_real and exe and exe != binary_real:
        return "restart", "runs %s, installed is %s" % (exe, binary_real)
    if show.get("NeedDaemonReload") == "yes" or unit_changed:
        return "restart", "the unit changed"
    if stamp is None:
        if started_at is None or restart_mtime is None or restart_mtime > started_at:
            return "restart", "no record of the settings it runs with"
        stamp = {"restart": restart_digest, "reload": None}
    if stamp.get("restart") != restart_digest:
        return "restart", "its flags or environment changed since it started"
    if stamp.get("reload") != reload_digest:
        how = svc.get("reload") or "signal"
        if how == "none":
            return None, None
        return ("reload" if how == "signal" else "restart"), "its configuration changed since it was last loaded"
    return None, None


class Applier(object):
    """Applies the decisions through Systemd and Control; ``clock``/``sleep`` injectable for tests."""

    def __init__(self, systemd, control_factory=Control, clock=time.time, sleep=time.sleep, poll=0.5):
        self.systemd = systemd
        self.control_factory = control_factory
        self.clock = clock
        self.sleep = sleep
        self.poll = poll

    def control(self, svc):
        c = svc.get("control") or {}
        if not c.get("url"):
            return None
        return self.control_factory(c["url"], c.get("username"), c.get("password"), c.get("cert_file"),
                                    c.get("key_file"), c.get("ca_file"), int(c.get("timeout") or 5))

    def wait_ready(self, svc, since):
        unit = svc["name"]
        show = self.systemd.show(unit)
        pid0 = show.get("MainPID")
        ctl = self.control(svc)
        ready_path = (svc.get("control") or {}).get("ready_path") or "/"
        deadline = self.clock() + float(svc.get("ready_timeout") or 60)
        last = "no answer yet"
        while True:
            if ctl is None:
                if is_active(show):
                    return
            else:
                status, body = ctl.get(ready_path)
                if status == 200:
                    return
                last = body if status is None else "HTTP %s on %s" % (status, ready_path)
            show = self.systemd.show(unit)
            if crashed(show, pid0):
                raise ApplyError("%s stopped after it was started (%s/%s): %s" % (
                    unit, show.get("ActiveState"), show.get("SubState"),
                    self.systemd.journal(unit, since) or "nothing in its journal"))
            if self.clock() > deadline:
                raise ApplyError("%s was not ready within %ss (%s): %s" % (
                    unit, svc.get("ready_timeout") or 60, last, self.systemd.journal(unit, since) or "nothing in its journal"))
            self.sleep(self.poll)

    def reload(self, svc):
        unit = svc["name"]
        metric = svc.get("reload_metric")
        ctl = self.control(svc)
        metrics_path = (svc.get("control") or {}).get("metrics_path") or "/metrics"
        before = None
        if metric and ctl is not None:
            status, body = ctl.get(metrics_path)
            before = metric_value(body, metric + "_successful") if status == 200 else None
        since = self.clock()
        self.systemd.call("reload", unit)
        if not metric or ctl is None:
            return
        deadline = since + float(svc.get("ready_timeout") or 60)
        while True:
            status, body = ctl.get(metrics_path)
            if status == 200:
                ok = metric_value(body, metric + "_successful")
                when = metric_value(body, metric + "_success_timestamp_seconds")
                if ok == 1 and when is not None and when >= int(since):
                    return
                if ok == 0 and (before == 1 or self.clock() > since + 5):
                    raise ApplyError("%s refused the new configuration (%s_successful is 0): %s" % (
                        unit, metric, self.systemd.journal(unit, since - 1) or "nothing in its journal"))
            if self.clock() > deadline:
                raise ApplyError("%s did not report a successful reload within %ss: %s" % (
                    unit, svc.get("ready_timeout") or 60, self.systemd.journal(unit, since - 1) or "nothing in its journal"))
            self.sleep(self.poll)

    def run(self, svc, action):
        """Carry out one action (start, restart, reload) and check its outcome."""
        unit = svc["name"]
        since = self.clock()
        if action in ("start", "restart"):
            self.systemd.call(action, unit)
            self.wait_ready(svc, since - 1)
        elif action == "reload":
            self.reload(svc)


def binary_realpath(binary):
    if not binary:
        return None
    try:
        st = os.stat(binary)
    except OSError:
        return None
    if not stat.S_ISREG(st.st_mode):
        return None
    return os.path.realpath(binary)


def relink_previous(binary, previous):
    """Point an installed binary's link back at the executable that ran before a refused upgrade.

    binary: the link the unit runs (``/usr/local/bin/prometheus``); previous: what the process
    ran before (``/proc/<pid>/exe``). Returns the restored target, or None when there is nothing
    to go back to (not a link, the same file, or the previous version is gone).
    """
    if not binary or not previous or not os.path.islink(binary):
        return None
    if previous.endswith(" (deleted)") or not os.path.isfile(previous) or os.path.realpath(binary) == previous:
        return None
    tmp = binary + ".fleetwatch-rollback"
    if os.path.lexists(tmp):
        os.unlink(tmp)
    os.symlink(previous, tmp)
    os.rename(tmp, binary)
    return previous
