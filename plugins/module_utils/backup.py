# -*- coding: utf-8 -*-
# Copyright: fleetwatch engineers
# SPDX-License-Identifier: Apache-2.0
"""Backups and restores of the components, each through the mechanism its authors provide.

What is saved comes from the one table of components (``registry.py``, each component's
``backup`` entries), so that a new component is a table entry:

* ``files``: configuration and rule files (the role's ``<component>_config_dir``); restored files
  are put in place one by one (temporary name, rename), then the service reloads (its reload
  metric is checked) or restarts (and must become ready); a refused restore puts the previous files
  back.
* ``prometheus_snapshot``: ``POST /api/v1/admin/tsdb/snapshot`` (admin API) makes a snapshot of
  the TSDB in ``<data dir>/snapshots/<name>``; it is archived and deleted. The restore stops
  Prometheus, moves the data dir's contents aside (same file system: renames), moves the snapshot's
  blocks in, starts Prometheus and waits until it is ready; if it does not become ready, the
  previous contents are put back and Prometheus started again.
* ``alertmanager_silences``: the active and pending silences of ``GET /api/v2/silences``;
  restored by posting each one that is not already there (same matchers, comment, creator and end)
  and not expired; Alertmanager gives them new IDs (and shares them with its cluster peers).
  The notification log is not saved: it only remembers which notifications were sent (to wait
  ``repeat_interval`` before repeating them). Without it, alerts that are firing are notified once
  more after a restore; with an old one, Alertmanager could hold back a notification it never
  sent. It has no API and its file format is internal, so it is left to Alertmanager (and to its
  cluster peers, which gossip it).
* ``sqlite``: SQLite's online backup (``sqlite3.Connection.backup``) of a database (Grafana's);
  restored with the service stopped.

One backup is one gzip'd tar archive and a manifest (JSON: component, kind, program version, host,
time, duration, the archive's size and sha256, every member's name, type, size and sha256) in
``<backup dir>/<entry name>/``. Both are written to a temporary name (``.tmp-*``) in that directory,
flushed to disk and renamed; the manifest last, so a backup without its manifest is not one: an
interrupted backup never looks complete, and its leftovers (temporary files, an archive without a
manifest) are removed by the next run. A lock file keeps two runs on one entry apart. A restore
checks the manifest, the archive's and every member's sha256, the entry and the host before it
changes anything.
"""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

import calendar
import errno
import fcntl
import hashlib
import io
import json
import os
import re
import shutil
import sqlite3
import stat
import tarfile
import tempfile
import time

from ansible_collections.fleetwatch.observability.plugins.module_utils import registry

FORMAT = 1
KINDS = ("files", "prometheus_snapshot", "alertmanager_silences", "sqlite")
API_KINDS = ("prometheus_snapshot", "alertmanager_silences")
ARCHIVE_SUFFIX = ".tar.gz"
MANIFEST_SUFFIX = ".manifest.json"
TMP_PREFIX = ".tmp-"
LOCK_NAME = ".lock"
CHUNK = 1024 * 1024
# Entries of the TSDB data dir a restore leaves where they are.
TSDB_KEEP = ("snapshots",)
TSDB_ASIDE = ".fleetwatch-previous"
TSDB_STAGING = ".fleetwatch-restore"
SILENCE_KEYS = ("matchers", "startsAt", "endsAt", "createdBy", "comment")
SILENCE_STATES = ("active", "pending")
NAME_RE = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._-]*$")


class BackupError(Exception):
    pass


def entry(name):
    """The backup entry of the registry named ``name``."""
    try:
        return registry.backup_entry(name)
    except registry.RegistryError as exc:
        raise BackupError(str(exc))


def entry_paths(spec, settings=None):
    """The entry's paths on this host: each role variable's value from ``settings``, or its role default."""
    settings = settings or {}
    if not isinstance(settings, dict):
        raise BackupError("settings must be a mapping of role variable to value, not %r" % (settings,))
    out = []
    for p in spec["paths"]:
        value = settings.get(p["var"])
        if value in (None, ""):
            value = p["default"]
        if not isinstance(value, str) or not value.startswith("/"):
            raise BackupError("%s: %s must be an absolute path, not %r" % (spec["name"], p["var"], value))
        out.append(os.path.normpath(value))
    return out


def check_retention(value):
    if isinstance(value, bool) or not isinstance(value, int) or value < 1:
        raise BackupError("retention must be a whole number of backups, 1 or more, not %r" % (value,))
    return value


def check_host(host):
    if not isinstance(host, str) or not host or "/" in host or "\0" in host:
        raise BackupError("host must be a host name, not %r" % (host,))
    return host


# --- files and hashes ----------------------------------------------------------------------------

def sha256_file(path):
    h = hashlib.sha256()
    with open(path, "rb") as f:
        for block in iter(lambda: f.read(CHUNK), b""):
            h.update(block)
    return h.hexdigest()


def fsync_dir(path):
    fd = os.open(path, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def temp_file(directory, what):
    """A new temporary file in ``directory`` (same file system as its final name): (fd, path)."""
    return tempfile.mkstemp(prefix="%s%s-" % (TMP_PREFIX, what), dir=directory)


def finish(tmp, final):
    """Make a written temporary file final: fsync, rename, fsync the directory."""
    fd = os.open(tmp, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)
    os.rename(tmp, final)
    fsync_dir(os.path.dirname(final))


class _Hashing(object):
    """A file object that hashes what tarfile reads from it."""

    def __init__(self, f):
        self.f = f
        self.h = hashlib.sha256()
        self.n = 0

    def read(self, size=-1):
        data = self.f.read(size)
        self.h.update(data)
        self.n += len(data)
        return data


class Archive(object):
    """A tar.gz being written to a temporary file, recording each member for the manifest."""

    def __init__(self, path, level=6):
        self.path = path
        self.members = []
        self.tar = tarfile.open(path, "w:gz", compresslevel=level, format=tarfile.PAX_FORMAT)

    def _record(self, info, sha=None):
        kind = "file" if info.isreg() else "dir" if info.isdir() else "symlink" if info.issym() else "other"
        m = {"name": info.name, "type": kind, "size": info.size if info.isreg() else 0}
        if sha is not None:
            m["sha256"] = sha
        if info.issym():
            m["target"] = info.linkname
        self.members.append(m)

    def add_path(self, path, arcname):
        """A file, symlink or a whole directory tree (recursively, in name order)."""
        info = self.tar.gettarinfo(path, arcname)
        if info.isreg():
            with open(path, "rb") as f:
                hashing = _Hashing(f)
                self.tar.addfile(info, hashing)
            if hashing.n != info.size:
                raise BackupError("%s changed while it was archived" % path)
            self._record(info, hashing.h.hexdigest())
        elif info.isdir():
            self.tar.addfile(info)
            self._record(info)
            for name in sorted(os.listdir(path)):
                self.add_path(os.path.join(path, name), arcname + "/" + name)
        elif info.issym():
            self.tar.addfile(info)
            self._record(info)
        # sockets, FIFOs and devices are not configuration: left out

    def add_bytes(self, arcname, data, mode=0o600):
        info = tarfile.TarInfo(arcname)
        info.size = len(data)
        info.mode = mode
        info.mtime = int(time.time())
        self.tar.addfile(info, io.BytesIO(data))
        self._record(info, hashlib.sha256(data).hexdigest())

    def close(self):
        self.tar.close()


# --- the backup directory -------------------------------------------------------------------------

def entry_dir(backup_dir, name, create=True):
    if not isinstance(backup_dir, str) or not backup_dir.startswith("/"):
        raise BackupError("backup_dir must be an absolute path, not %r" % (backup_dir,))
    path = os.path.join(backup_dir, name)
    if create:
        for d in (backup_dir, path):
            if not os.path.isdir(d):
                os.makedirs(d, 0o700)
    return path


class Lock(object):
    """An exclusive lock on an entry's directory (two runs never write there at once)."""

    def __init__(self, directory):
        self.path = os.path.join(directory, LOCK_NAME)
        self.fd = None

    def __enter__(self):
        self.fd = os.open(self.path, os.O_RDWR | os.O_CREAT, 0o600)
        try:
            fcntl.flock(self.fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except (IOError, OSError) as exc:
            os.close(self.fd)
            if exc.errno in (errno.EAGAIN, errno.EACCES):
                raise BackupError("another backup or restore is running in %s" % os.path.dirname(self.path))
            raise
        return self

    def __exit__(self, *exc):
        fcntl.flock(self.fd, fcntl.LOCK_UN)
        os.close(self.fd)


def base_name(path):
    name = os.path.basename(path)
    for suffix in (MANIFEST_SUFFIX, ARCHIVE_SUFFIX):
        if name.endswith(suffix):
            return name[:-len(suffix)]
    return name


def complete_backups(directory):
    """[(manifest dict, archive path, manifest path)] of the backups whose manifest is there, oldest first.

    A manifest that cannot be read is listed with ``manifest = None`` (a restore refuses it)."""
    out = []
    if not os.path.isdir(directory):
        return out
    for name in os.listdir(directory):
        if name.startswith(".") or not name.endswith(MANIFEST_SUFFIX):
            continue
        mpath = os.path.join(directory, name)
        apath = os.path.join(directory, base_name(name) + ARCHIVE_SUFFIX)
        try:
            with open(mpath) as f:
                manifest = json.load(f)
            if not isinstance(manifest, dict):
                manifest = None
        except (IOError, OSError, ValueError):
            manifest = None
        out.append((manifest, apath, mpath))

    def key(item):
        m = item[0] or {}
        created = m.get("created_epoch")
        return (created if isinstance(created, (int, float)) else 0, base_name(item[2]))
    out.sort(key=key)
    return out


def leftovers(directory):
    """Paths an interrupted run left: temporary files and archives without a manifest."""
    out = []
    if not os.path.isdir(directory):
        return out
    names = set(os.listdir(directory))
    for name in sorted(names):
        path = os.path.join(directory, name)
        if name.startswith(TMP_PREFIX):
            out.append(path)
        elif name.endswith(ARCHIVE_SUFFIX) and base_name(name) + MANIFEST_SUFFIX not in names:
            out.append(path)
    return out


def remove(path):
    if os.path.isdir(path) and not os.path.islink(path):
        shutil.rmtree(path)
    elif os.path.lexists(path):
        os.unlink(path)


def prune(directory, retention):
    """Remove the oldest complete backups beyond ``retention`` (manifest first: never a half backup)."""
    removed = []
    backups = complete_backups(directory)
    for manifest, apath, mpath in backups[:max(0, len(backups) - retention)]:
        os.unlink(mpath)
        if os.path.exists(apath):
            os.unlink(apath)
        removed.append(base_name(mpath))
    return removed


def new_base(directory, name, now):
    stamp = time.strftime("%Y%m%dT%H%M%SZ", time.gmtime(now))
    base = "%s-%s" % (name, stamp)
    n = 1
    while any(os.path.exists(os.path.join(directory, base + s)) for s in (ARCHIVE_SUFFIX, MANIFEST_SUFFIX)):
        base = "%s-%s-%d" % (name, stamp, n)
        n += 1
    return base


# --- what each kind saves -------------------------------------------------------------------------

def api_json(control, method, path, what, body=None):
    """JSON answer of a service's API through the control path; BackupError naming ``what`` otherwise."""
    status, text = control.request(method, path, body) if method != "GET" else control.get(path)
    if status is None:
        raise BackupError("%s: no answer from %s%s: %s" % (what, control.url, path, text))
    if status >= 300:
        raise BackupError("%s: %s %s%s answered %s" % (what, method, control.url, path, text))
    if not text.strip():
        return None
    try:
        return json.loads(text)
    except ValueError:
        raise BackupError("%s: %s%s did not answer JSON: %r" % (what, control.url, path, text[:200]))


def prometheus_snapshot(control, data_dir):
    """Ask Prometheus for a snapshot; returns its directory."""
    status, text = control.request("POST", "/api/v1/admin/tsdb/snapshot?skip_head=false")
    if status is None:
        raise BackupError("TSDB snapshot: no answer from %s: %s" % (control.url, text))
    if status in (404, 503) or "admin APIs disabled" in text:
        raise BackupError("TSDB snapshot: Prometheus' admin API is off (%s); the TSDB backup needs it: set "
                          "prometheus_admin_api: true on this host (with prometheus_basic_auth_users, or a loopback "
                          "prometheus_listen_address)" % text)
    if status >= 300:
        raise BackupError("TSDB snapshot: POST %s/api/v1/admin/tsdb/snapshot answered %s" % (control.url, text))
    try:
        name = json.loads(text)["data"]["name"]
    except (ValueError, KeyError, TypeError):
        raise BackupError("TSDB snapshot: unexpected answer %r" % text[:200])
    if not isinstance(name, str) or not NAME_RE.match(name):
        raise BackupError("TSDB snapshot: unexpected snapshot name %r" % (name,))
    path = os.path.join(data_dir, "snapshots", name)
    if not os.path.isdir(path):
        raise BackupError("TSDB snapshot %s is not in %s: is prometheus_storage_path (%s) the data dir Prometheus "
                          "runs with?" % (name, os.path.dirname(path), data_dir))
    return path


def silence_key(s):
    """What makes two silences the same after a restore (IDs and start times change)."""
    matchers = sorted(json.dumps(m, sort_keys=True) for m in s.get("matchers") or [])
    return (tuple(matchers), s.get("comment"), s.get("createdBy"), parse_time(s.get("endsAt")))


def parse_time(value):
    """Epoch seconds of an RFC 3339 time as Alertmanager writes it (fractions and zone allowed)."""
    if not isinstance(value, str):
        return None
    m = re.match(r"^(\d{4})-(\d\d)-(\d\d)T(\d\d):(\d\d):(\d\d)(\.\d+)?(Z|[+-]\d\d:\d\d)$", value)
    if not m:
        return None
    seconds = calendar.timegm(tuple(int(m.group(i)) for i in range(1, 7)) + (0, 0, 0))
    frac = float(m.group(7)) if m.group(7) else 0.0
    zone = m.group(8)
    if zone != "Z":
        sign = 1 if zone[0] == "+" else -1
        seconds -= sign * (int(zone[1:3]) * 3600 + int(zone[4:6]) * 60)
    return round(seconds + frac, 3)


def current_silences(control):
    data = api_json(control, "GET", "/api/v2/silences", "silences")
    if not isinstance(data, list):
        raise BackupError("silences: GET /api/v2/silences did not answer a list")
    return [s for s in data if isinstance(s, dict) and (s.get("status") or {}).get("state") in SILENCE_STATES]


def program_version(control, kind):
    """The running program's version from its API (None when it does not say)."""
    try:
        if kind == "prometheus_snapshot":
            data = api_json(control, "GET", "/api/v1/status/buildinfo", "version")
            return (data or {}).get("data", {}).get("version")
        if kind == "alertmanager_silences":
            data = api_json(control, "GET", "/api/v2/status", "version")
            return ((data or {}).get("versionInfo") or {}).get("version")
    except (BackupError, AttributeError):
        return None
    return None


def binary_version(run, binary):
    """``<binary> --version``'s version (upstream programs print "<name>, version X (...)")."""
    if not binary or not os.path.exists(binary):
        return None
    rc, out, err = run([binary, "--version"])
    m = re.search(r"version\s+v?([0-9][^\s,()]*)", (out or "") + "\n" + (err or ""))
    return m.group(1) if m else None


def sqlite_copy(database, dest):
    """SQLite's online backup of ``database`` (consistent while the program writes) into ``dest``."""
    if not os.path.isfile(database):
        raise BackupError("the database %s does not exist" % database)
    src = sqlite3.connect("file:%s?mode=ro" % database, uri=True)
    try:
        out = sqlite3.connect(dest)
        try:
            src.backup(out)
        finally:
            out.close()
    except sqlite3.Error as exc:
        raise BackupError("SQLite backup of %s failed: %s" % (database, exc))
    finally:
        src.close()


# --- backup ---------------------------------------------------------------------------------------

def plan(spec, paths):
    """What a files backup would save (check mode): [(path, size)]."""
    out = []
    for path in paths:
        if not os.path.lexists(path):
            raise BackupError("%s: %s does not exist on this host" % (spec["name"], path))
        total = 0
        for root, dirs, files in os.walk(path):
            for f in files:
                p = os.path.join(root, f)
                if os.path.isfile(p) and not os.path.islink(p):
                    total += os.path.getsize(p)
        if os.path.isfile(path):
            total = os.path.getsize(path)
        out.append({"path": path, "size": total})
    return out


def backup(spec, backup_dir, host, retention, settings=None, control=None, version=None, clock=time.time,
           hook=None, check_mode=False, level=6):
    """Take one backup of the entry ``spec``; returns the result dict.

    ``control``: the service's control path (serviceapply.Control) for the API kinds.
    ``hook(stage, path)``: called after the archive is final and before the manifest is written
    (stage ``archive``), for tests of an interrupted backup.
    """
    host = check_host(host)
    retention = check_retention(retention)
    if spec["kind"] not in KINDS:
        raise BackupError("%s: unknown kind %r" % (spec["name"], spec["kind"]))
    if spec["kind"] in API_KINDS and control is None:
        raise BackupError("%s: the backup needs the service's control path (control)" % spec["name"])
    paths = entry_paths(spec, settings)
    started = clock()
    directory = entry_dir(backup_dir, spec["name"], create=not check_mode)
    result = {"component": spec["name"], "kind": spec["kind"], "host": host, "backup_dir": directory,
              "cleaned": [], "pruned": []}
    if check_mode:
        result["changed"] = True
        if spec["kind"] == "files":
            result["would_save"] = plan(spec, paths)
        elif spec["kind"] == "alertmanager_silences":
            result["would_save"] = [{"silences": len(current_silences(control))}]
        else:
            result["would_save"] = [{"path": p} for p in paths]
        result["would_clean"] = leftovers(directory)
        existing = complete_backups(directory)
        result["would_prune"] = [base_name(item[2]) for item in existing[:max(0, len(existing) + 1 - retention)]]
        return result
    with Lock(directory):
        for path in leftovers(directory):
            remove(path)
            result["cleaned"].append(path)
        version, details, archive_tmp = _write_archive(spec, directory, paths, control, version, level)
        try:
            base = new_base(directory, spec["name"], started)
            archive = os.path.join(directory, base + ARCHIVE_SUFFIX)
            archive_sha, archive_size = sha256_file(archive_tmp), os.path.getsize(archive_tmp)
            members = details.pop("members")
            finish(archive_tmp, archive)
        except BaseException:
            remove(archive_tmp)
            raise
        if hook:
            hook("archive", archive)
        finished = clock()
        manifest = {
            "format": FORMAT, "component": spec["name"], "service": spec["component"], "kind": spec["kind"],
            "version": version, "host": host,
            "created": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(started)), "created_epoch": round(started, 3),
            "duration_seconds": round(finished - started, 3),
            "archive": {"name": os.path.basename(archive), "size": archive_size, "sha256": archive_sha},
            "data_size": sum(m["size"] for m in members), "paths": paths, "details": details,
            "members": members,
        }
        fd, manifest_tmp = temp_file(directory, "manifest")
        try:
            with os.fdopen(fd, "w") as f:
                json.dump(manifest, f, indent=1, sort_keys=True)
            manifest_path = os.path.join(directory, base + MANIFEST_SUFFIX)
            finish(manifest_tmp, manifest_path)
        except BaseException:
            remove(manifest_tmp)
            raise
        result["pruned"] = prune(directory, retention)
    result.update(changed=True, archive=archive, manifest_path=manifest_path, size=archive_size,
                  data_size=manifest["data_size"], sha256=archive_sha, members=len(members), version=version,
                  duration=round(clock() - started, 3), created=manifest["created"], details=details,
                  created_epoch=manifest["created_epoch"])
    result["finished_epoch"] = round(started + result["duration"], 3)
    return result


def _write_archive(spec, directory, paths, control, version, level):
    """(version, details with members, temporary archive path)."""
    fd, tmp = temp_file(directory, "archive")
    os.close(fd)
    details = {}
    cleanup = []
    try:
        archive = Archive(tmp, level)
        try:
            if spec["kind"] == "files":
                for path in paths:
                    if not os.path.lexists(path):
                        raise BackupError("%s: %s does not exist on this host" % (spec["name"], path))
                    archive.add_path(path, path.lstrip("/"))
            elif spec["kind"] == "prometheus_snapshot":
                version = version or program_version(control, spec["kind"])
                snap = prometheus_snapshot(control, paths[0])
                cleanup.append(snap)
                details["snapshot"] = os.path.basename(snap)
                archive.add_path(snap, "snapshot")
            elif spec["kind"] == "alertmanager_silences":
                version = version or program_version(control, spec["kind"])
                silences = current_silences(control)
                details["silences"] = len(silences)
                archive.add_bytes("silences.json", json.dumps(silences, indent=1, sort_keys=True).encode("utf-8"))
            elif spec["kind"] == "sqlite":
                fd2, copy = temp_file(directory, "sqlite")
                os.close(fd2)
                cleanup.append(copy)
                sqlite_copy(os.path.join(paths[0], spec["database"]), copy)
                archive.add_path(copy, "database/" + spec["database"])
        finally:
            archive.close()
        details["members"] = archive.members
        return version, details, tmp
    except BaseException:
        remove(tmp)
        raise
    finally:
        for path in cleanup:
            remove(path)


# --- restore: choosing and checking ---------------------------------------------------------------

def choose(backup_dir, name, which=None):
    """(manifest, archive path, manifest path) of the backup to restore: the newest, or the one named
    ``which`` (its base name, archive or manifest file name, or its time ``YYYYmmddTHHMMSSZ``)."""
    directory = entry_dir(backup_dir, name, create=False)
    backups = complete_backups(directory)
    if not backups:
        raise BackupError("no backup of %s in %s" % (name, directory))
    if not which or which == "latest":
        return backups[-1]
    wanted = base_name(str(which))
    for item in backups:
        b = base_name(item[2])
        if b == wanted or b == "%s-%s" % (name, wanted):
            return item
    raise BackupError("no backup %r of %s in %s (there are: %s)" % (
        which, name, directory, ", ".join(base_name(item[2]) for item in backups)))


def safe_member_name(name):
    parts = name.split("/")
    return bool(name) and not name.startswith("/") and ".." not in parts and "\0" not in name


def verify(manifest, archive, spec, host, manifest_path=None):
    """Check a backup before anything is touched; returns the manifest's members by name.

    Refuses (BackupError) a manifest that cannot be read or is of another entry, kind or host, an
    archive whose size or sha256 differ, a member missing, added, changed or with an unsafe name."""
    where = manifest_path or archive
    if not isinstance(manifest, dict):
        raise BackupError("the manifest %s cannot be read" % where)
    if manifest.get("format") != FORMAT:
        raise BackupError("the manifest %s is of format %r, not %r" % (where, manifest.get("format"), FORMAT))
    if manifest.get("component") != spec["name"] or manifest.get("kind") != spec["kind"]:
        raise BackupError("the backup %s is of %s (%s), not of %s (%s)" % (
            where, manifest.get("component"), manifest.get("kind"), spec["name"], spec["kind"]))
    if manifest.get("host") != host:
        raise BackupError("the backup %s was taken on %r, not on %r (restore it there, or name its host in "
                          "source_host)" % (where, manifest.get("host"), host))
    info = manifest.get("archive") or {}
    if not os.path.isfile(archive):
        raise BackupError("the archive %s is missing" % archive)
    size = os.path.getsize(archive)
    if size != info.get("size"):
        raise BackupError("the archive %s has %d bytes, its manifest says %r: refused" % (archive, size, info.get("size")))
    sha = sha256_file(archive)
    if sha != info.get("sha256"):
        raise BackupError("the archive %s has sha256 %s, its manifest says %s: refused" % (archive, sha, info.get("sha256")))
    expected = {}
    for m in manifest.get("members") or []:
        if not isinstance(m, dict) or not isinstance(m.get("name"), str):
            raise BackupError("the manifest %s lists a member without a name" % where)
        expected[m["name"]] = m
    seen, links = set(), set()
    try:
        with tarfile.open(archive, "r:gz") as tar:
            for info in tar:
                parents = info.name.split("/")
                if any("/".join(parents[:i]) in links for i in range(1, len(parents))):
                    raise BackupError("the archive %s has a member below a symlink: %s: refused" % (archive, info.name))
                if not safe_member_name(info.name):
                    raise BackupError("the archive %s has a member with an unsafe name %r: refused" % (archive, info.name))
                m = expected.get(info.name)
                if m is None:
                    raise BackupError("the archive %s has a member its manifest does not list: %s" % (archive, info.name))
                if info.isreg():
                    h = hashlib.sha256()
                    f = tar.extractfile(info)
                    for block in iter(lambda: f.read(CHUNK), b""):
                        h.update(block)
                    if h.hexdigest() != m.get("sha256"):
                        raise BackupError("the member %s of %s has another sha256 than its manifest says: refused"
                                          % (info.name, archive))
                elif info.issym():
                    links.add(info.name)
                elif not info.isdir():
                    raise BackupError("the archive %s has a member of an unexpected type: %s" % (archive, info.name))
                seen.add(info.name)
    except (tarfile.TarError, EOFError, OSError, zlib_error()) as exc:
        raise BackupError("the archive %s cannot be read: %s" % (archive, exc))
    missing = sorted(set(expected) - seen)
    if missing:
        raise BackupError("the archive %s lacks members its manifest lists: %s" % (archive, ", ".join(missing[:5])))
    return expected


def zlib_error():
    import zlib
    return zlib.error


def extract(archive, dest, prefix=None):
    """Extract the archive (checked by verify) into ``dest``; with ``prefix`` only that subtree."""
    with tarfile.open(archive, "r:gz") as tar:
        members = [m for m in tar.getmembers()
                   if prefix is None or m.name == prefix or m.name.startswith(prefix + "/")]
        for m in members:
            if not safe_member_name(m.name):
                raise BackupError("unsafe member %r" % m.name)
        kwargs = {"filter": "fully_trusted"} if hasattr(tarfile, "fully_trusted_filter") else {}
        tar.extractall(dest, members=members, numeric_owner=True, **kwargs)
    return members


# --- restore: the service -------------------------------------------------------------------------

class Service(object):
    """How a restore drives the service: systemctl through ``systemd`` (serviceapply.Systemd) and
    readiness and reload checks through ``applier`` (serviceapply.Applier) with ``svc`` (name,
    control, ready_timeout, reload_metric)."""

    def __init__(self, systemd, applier, units, svc):
        self.systemd = systemd
        self.applier = applier
        self.units = units
        self.svc = svc

    def stop(self):
        self.systemd.call("stop", *self.units)

    def start(self):
        since = time.time()
        self.systemd.call("start", *self.units)
        self.wait(since)

    def wait(self, since):
        self.applier.wait_ready(self.svc, since - 1)

    def apply(self, action):
        """Bring the service in line with restored files: reload (checked) or restart (ready)."""
        if action == "none":
            return
        if action == "reload":
            self.applier.reload(self.svc)
            return
        since = time.time()
        self.systemd.call("restart", *self.units)
        self.wait(since)


def chown_tree(path, uid, gid):
    os.lchown(path, uid, gid)
    for root, dirs, files in os.walk(path):
        for name in dirs + files:
            os.lchown(os.path.join(root, name), uid, gid)


def restore(spec, backup_dir, host, which=None, settings=None, control=None, service=None, check_mode=False,
            source_host=None):
    """Restore the chosen backup of ``spec`` (checked first); returns the result dict."""
    host = check_host(host)
    paths = entry_paths(spec, settings)
    directory = entry_dir(backup_dir, spec["name"], create=False)
    manifest, archive, manifest_path = choose(backup_dir, spec["name"], which)
    members = verify(manifest, archive, spec, source_host or host, manifest_path)
    result = {"component": spec["name"], "kind": spec["kind"], "archive": archive, "manifest_path": manifest_path,
              "backup": base_name(manifest_path), "created": manifest.get("created"),
              "version": manifest.get("version"), "verified": True, "members": len(members)}
    if spec["kind"] == "alertmanager_silences" and control is None:
        raise BackupError("%s: the restore needs the service's control path (control)" % spec["name"])
    with Lock(directory) if not check_mode else _NoLock():
        if spec["kind"] == "files":
            result.update(restore_files(spec, manifest, archive, directory, service, check_mode))
        elif spec["kind"] == "prometheus_snapshot":
            result.update(restore_tsdb(archive, paths[0], directory, service, check_mode))
        elif spec["kind"] == "alertmanager_silences":
            result.update(restore_silences(archive, control, check_mode))
        elif spec["kind"] == "sqlite":
            result.update(restore_sqlite(archive, os.path.join(paths[0], spec["database"]), directory, service, check_mode))
    return result


class _NoLock(object):
    def __enter__(self):
        return self

    def __exit__(self, *exc):
        return False


def _live_state(roots):
    """{path: (type, sha256 or link target)} of everything under the roots now."""
    out = {}
    for root in roots:
        if not os.path.lexists(root):
            continue
        for top, dirs, files in os.walk(root):
            out[top] = ("dir", None)
            for name in files + [d for d in dirs if os.path.islink(os.path.join(top, d))]:
                p = os.path.join(top, name)
                if os.path.islink(p):
                    out[p] = ("symlink", os.readlink(p))
                elif os.path.isfile(p):
                    out[p] = ("file", sha256_file(p))
            dirs[:] = [d for d in dirs if not os.path.islink(os.path.join(top, d))]
    return out


def restore_files(spec, manifest, archive, directory, service, check_mode):
    roots = ["/" + p.lstrip("/") for p in manifest.get("paths") or []]
    wanted = {}
    for m in manifest["members"]:
        wanted["/" + m["name"]] = (m["type"], m.get("sha256") if m["type"] == "file" else m.get("target"))
    live = _live_state(roots)
    differ = sorted(p for p in wanted if live.get(p) != wanted[p] and wanted[p][0] != "dir")
    differ += sorted(p for p in wanted if wanted[p][0] == "dir" and p not in live)
    extra = sorted(p for p in live if p not in wanted)
    out = {"changed": bool(differ or extra), "restored_files": differ, "removed_files": extra}
    if check_mode or not out["changed"]:
        out["service_action"] = "none"
        return out
    staging = tempfile.mkdtemp(prefix=TMP_PREFIX + "restore-", dir=directory)
    aside = tempfile.mkdtemp(prefix=TMP_PREFIX + "previous-", dir=directory)
    try:
        extract(archive, staging)
        for root in roots:
            if os.path.lexists(root):
                _copy_tree(root, os.path.join(aside, root.lstrip("/")))
        _replace(roots, staging, extra)
        try:
            service.apply(spec["after_restore"])
        except Exception as exc:
            _replace(roots, aside, sorted(p for p in _live_state(roots) if not os.path.lexists(os.path.join(aside, p.lstrip("/")))))
            try:
                service.apply(spec["after_restore"])
                again = "the previous files are back and the service runs with them"
            except Exception as exc2:
                again = "the previous files are back but the service failed with them too: %s" % exc2
            raise BackupError("%s refused the restored files (%s); %s" % (spec["units"][0], exc, again))
    finally:
        remove(staging)
        remove(aside)
    out["service_action"] = spec["after_restore"]
    return out


def _copy_tree(src, dest):
    """A copy keeping modes, owners and links (aside copy of the live files)."""
    if os.path.isdir(src) and not os.path.islink(src):
        shutil.copytree(src, dest, symlinks=True, copy_function=shutil.copy2)
        for top, dirs, files in os.walk(src):
            for name in [""] + dirs + files:
                s = os.path.join(top, name) if name else top
                d = os.path.join(dest, os.path.relpath(s, src))
                st = os.lstat(s)
                os.lchown(d, st.st_uid, st.st_gid)
    else:
        parent = os.path.dirname(dest)
        if not os.path.isdir(parent):
            os.makedirs(parent)
        shutil.copy2(src, dest, follow_symlinks=False)
        st = os.lstat(src)
        os.lchown(dest, st.st_uid, st.st_gid)


def _replace(roots, source, extra):
    """Make the files under ``roots`` those of ``source`` (a tree with the same absolute layout):
    each file through a temporary name in its own directory and a rename; ``extra`` removed."""
    for root in roots:
        src_root = os.path.join(source, root.lstrip("/"))
        if not os.path.lexists(src_root):
            continue
        for top, dirs, files in os.walk(src_root):
            rel = os.path.relpath(top, source)
            target_dir = "/" + rel
            st = os.lstat(top)
            if not os.path.isdir(target_dir):
                os.makedirs(target_dir)
            os.chmod(target_dir, stat.S_IMODE(st.st_mode))
            os.lchown(target_dir, st.st_uid, st.st_gid)
            for name in files + [d for d in dirs if os.path.islink(os.path.join(top, d))]:
                s = os.path.join(top, name)
                t = os.path.join(target_dir, name)
                sst = os.lstat(s)
                fd, tmp = tempfile.mkstemp(prefix=TMP_PREFIX, dir=target_dir)
                os.close(fd)
                try:
                    if stat.S_ISLNK(sst.st_mode):
                        os.unlink(tmp)
                        os.symlink(os.readlink(s), tmp)
                    else:
                        shutil.copyfile(s, tmp)
                        os.chmod(tmp, stat.S_IMODE(sst.st_mode))
                    os.lchown(tmp, sst.st_uid, sst.st_gid)
                    if os.path.isdir(t) and not os.path.islink(t):
                        shutil.rmtree(t)
                    os.rename(tmp, t)
                except BaseException:
                    remove(tmp)
                    raise
            dirs[:] = [d for d in dirs if not os.path.islink(os.path.join(top, d))]
    for path in sorted(extra, reverse=True):
        remove(path)


def restore_tsdb(archive, data_dir, directory, service, check_mode):
    """Replace the TSDB's contents with the snapshot's, Prometheus stopped; roll back unless it gets ready."""
    if not os.path.isdir(data_dir):
        raise BackupError("the TSDB data dir %s does not exist" % data_dir)
    out = {"changed": True, "data_dir": data_dir, "replaced": _tsdb_entries(data_dir)}
    if check_mode:
        out["service_action"] = "restart"
        return out
    st = os.stat(data_dir)
    # Leftovers of an interrupted restore (the live data are already in place: see below).
    for name in os.listdir(data_dir):
        if name.startswith(TSDB_STAGING):
            remove(os.path.join(data_dir, name))
    staging = tempfile.mkdtemp(prefix=TSDB_STAGING + "-", dir=data_dir)
    aside = None
    try:
        extract(archive, staging, prefix="snapshot")
        snap = os.path.join(staging, "snapshot")
        if not os.path.isdir(snap):
            os.makedirs(snap)
        chown_tree(snap, st.st_uid, st.st_gid)
        blocks = sorted(os.listdir(snap))
        out["blocks"] = len(blocks)
        service.stop()
        aside = tempfile.mkdtemp(prefix=TSDB_ASIDE + "-", dir=data_dir)
        try:
            # Listed once Prometheus has stopped: it removes its lock file (and may compact) while it stops.
            out["replaced"] = _tsdb_entries(data_dir)
            moved_in = []
            for name in out["replaced"]:
                os.rename(os.path.join(data_dir, name), os.path.join(aside, name))
            for name in blocks:
                os.rename(os.path.join(snap, name), os.path.join(data_dir, name))
                moved_in.append(name)
            fsync_dir(data_dir)
        except BaseException as exc:
            # Only what came from the snapshot goes: live entries not moved aside yet stay where they are.
            _tsdb_rollback(data_dir, aside, service, moved_in)
            aside = None
            raise BackupError("the TSDB could not be swapped (%s); its previous data are back and Prometheus runs "
                              "with them" % exc)
        try:
            service.start()
        except Exception as exc:
            # Prometheus ran on the restored data: everything in the data dir is the restore's.
            _tsdb_rollback(data_dir, aside, service)
            aside = None
            raise BackupError("Prometheus did not become ready with the restored TSDB (%s); its previous data are "
                              "back and it runs with them" % exc)
    finally:
        remove(staging)
    if aside:
        remove(aside)
    out["service_action"] = "restart"
    return out


def _tsdb_entries(data_dir):
    """What the data dir holds besides snapshots/ and a restore's own directories."""
    return sorted(n for n in os.listdir(data_dir) if n not in TSDB_KEEP and not n.startswith(TSDB_ASIDE)
                  and not n.startswith(TSDB_STAGING))


def _tsdb_rollback(data_dir, aside, service, moved_in=None):
    """Put the data moved aside back and start Prometheus; what the restore brought (``moved_in``, or
    every entry of the data dir when Prometheus ran on it) is removed."""
    try:
        service.stop()
    finally:
        trash = tempfile.mkdtemp(prefix=TSDB_STAGING + "-", dir=data_dir)
        for name in _tsdb_entries(data_dir) if moved_in is None else moved_in:
            os.rename(os.path.join(data_dir, name), os.path.join(trash, name))
        for name in os.listdir(aside):
            os.rename(os.path.join(aside, name), os.path.join(data_dir, name))
        os.rmdir(aside)
        remove(trash)
        service.start()


def restore_silences(archive, control, check_mode, now=None):
    with tarfile.open(archive, "r:gz") as tar:
        f = tar.extractfile("silences.json")
        saved = json.loads(f.read().decode("utf-8"))
    if not isinstance(saved, list):
        raise BackupError("silences.json of %s is not a list" % archive)
    now = time.time() if now is None else now
    present = set(silence_key(s) for s in current_silences(control))
    created, existing, expired = [], [], []
    for s in saved:
        key = silence_key(s)
        ends = parse_time(s.get("endsAt"))
        if ends is not None and ends <= now:
            expired.append(s.get("id"))
            continue
        if key in present:
            existing.append(s.get("id"))
            continue
        body = dict((k, s[k]) for k in SILENCE_KEYS if k in s)
        if not check_mode:
            answer = api_json(control, "POST", "/api/v2/silences", "silence %s" % s.get("id"), body)
            created.append({"old_id": s.get("id"), "id": (answer or {}).get("silenceID")})
        else:
            created.append({"old_id": s.get("id"), "id": None})
        present.add(key)
    return {"changed": bool(created), "silences_created": created, "silences_present": existing,
            "silences_expired": expired, "service_action": "none"}


def restore_sqlite(archive, database, directory, service, check_mode):
    with tarfile.open(archive, "r:gz") as tar:
        names = [m.name for m in tar.getmembers() if m.isreg() and m.name.startswith("database/")]
    if len(names) != 1:
        raise BackupError("the archive %s holds no single database" % archive)
    out = {"changed": True, "database": database, "service_action": "restart"}
    if check_mode:
        return out
    staging = tempfile.mkdtemp(prefix=TMP_PREFIX + "restore-", dir=directory)
    aside = None
    try:
        extract(archive, staging, prefix="database")
        new = os.path.join(staging, names[0])
        parent = os.path.dirname(database)
        fd, tmp = temp_file(parent, "db")
        os.close(fd)
        shutil.copyfile(new, tmp)
        if os.path.exists(database):
            st = os.stat(database)
            os.chmod(tmp, stat.S_IMODE(st.st_mode))
            os.chown(tmp, st.st_uid, st.st_gid)
        service.stop()
        if os.path.exists(database):
            aside = database + ".fleetwatch-previous"
            os.rename(database, aside)
        os.rename(tmp, database)
        try:
            service.start()
        except Exception as exc:
            service.stop()
            if aside:
                os.rename(aside, database)
                aside = None
            service.start()
            raise BackupError("the service did not become ready with the restored database (%s); the previous one "
                              "is back" % exc)
    finally:
        remove(staging)
    if aside:
        remove(aside)
    return out


# --- what the modules share -----------------------------------------------------------------------

def argument_spec(**extra):
    """The options of the backup and restore modules (doc fragment fleetwatch.observability.backup) and ``extra``."""
    spec = dict(
        component=dict(type="str", required=True),
        backup_dir=dict(type="path", default="/var/backups/fleetwatch"),
        host=dict(type="str", required=True),
        settings=dict(type="dict", default={}),
        control=dict(type="dict", options=dict(
            url=dict(type="str", required=True),
            username=dict(type="str"),
            password=dict(type="str", no_log=True),
            cert_file=dict(type="path"),
            key_file=dict(type="path"),
            ca_file=dict(type="path"),
            timeout=dict(type="int", default=30),
            ready_path=dict(type="str", default="/"),
            metrics_path=dict(type="str", default="/metrics"),
        )),
    )
    spec.update(extra)
    return spec


def control_client(control, factory):
    """The control path's HTTP client (``factory`` = serviceapply.Control) or None without ``control``."""
    if not control:
        return None
    if not str(control.get("url") or "").startswith(("http://", "https://")):
        raise BackupError("control.url must be an http:// or https:// URL, not %r" % (control.get("url"),))
    try:
        return factory(control["url"], control.get("username"), control.get("password"), control.get("cert_file"),
                       control.get("key_file"), control.get("ca_file"), int(control.get("timeout") or 30))
    except (IOError, OSError, ValueError) as exc:
        raise BackupError("cannot use the control path's TLS files (cert_file %s, key_file %s, ca_file %s): %s" % (
            control.get("cert_file"), control.get("key_file"), control.get("ca_file"), exc))


# --- the outcome as metrics (node_exporter's textfile collector) ----------------------------------

METRICS_HELP = {
    "fleetwatch_backup_last_run_timestamp_seconds": "When the backup of the component last ran (successful or not).",
    "fleetwatch_backup_last_success_timestamp_seconds": "When the backup of the component last succeeded.",
    "fleetwatch_backup_success": "Whether the last backup of the component succeeded (1) or failed (0).",
    "fleetwatch_backup_duration_seconds": "Seconds the last successful backup of the component took.",
    "fleetwatch_backup_size_bytes": "Bytes of the archive of the last successful backup of the component.",
}


def outcome_metrics(results, now):
    """Samples for textfile_metrics (merge mode) from the backup module's loop results.

    A success gives every metric; a failure only last_run and success 0, so that merge mode keeps
    the last success, duration and size of the previous successful run."""
    if not isinstance(results, list):
        raise BackupError("backup_metrics: the input must be the list of the backup task's results, not %r" % (results,))
    try:
        now = float(now)
    except (TypeError, ValueError):
        raise BackupError("backup_metrics: now must be a number of seconds, not %r" % (now,))
    out = []

    def sample(name, value, component):
        out.append({"name": name, "help": METRICS_HELP[name], "type": "gauge", "value": value,
                    "labels": {"component": component}})
    for r in results:
        if not isinstance(r, dict) or not isinstance(r.get("item"), dict) or not r["item"].get("name"):
            raise BackupError("backup_metrics: a result without the backup entry it ran for (item.name): %r" % (r,))
        if r.get("skipped"):
            continue
        component = r["item"]["name"]
        ok = bool(r.get("archive")) and not r.get("failed")
        if ok:
            sample("fleetwatch_backup_last_run_timestamp_seconds", r.get("finished_epoch", now), component)
            sample("fleetwatch_backup_last_success_timestamp_seconds", r.get("finished_epoch", now), component)
            sample("fleetwatch_backup_success", 1, component)
            sample("fleetwatch_backup_duration_seconds", r.get("duration", 0), component)
            sample("fleetwatch_backup_size_bytes", r.get("size", 0), component)
        else:
            sample("fleetwatch_backup_last_run_timestamp_seconds", now, component)
            sample("fleetwatch_backup_success", 0, component)
    return out
