# -*- coding: utf-8 -*-
# Copyright: fleetwatch engineers
# SPDX-License-Identifier: Apache-2.0
"""Logic of the service_setup module: a service's user, directories and files in one pass.

Every role of the collection needs the same three things on a host before its service runs: a
system user, a few directories, and a few files (unit, config, web config, secrets). Doing them
in one module call keeps a no-op rerun to one round trip instead of one per item.
"""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

import fnmatch
import hashlib
import json
import grp
import os
import pwd
import re
import shlex
import shutil
import stat
import tempfile

from ansible_collections.fleetwatch.observability.plugins.module_utils import promtoolcheck

NAME_RE = re.compile(r"^[a-z_][a-z0-9_-]{0,31}$")
MODE_RE = re.compile(r"^0?[0-7]{3,4}$")


class SetupError(Exception):
    """A refused change. ``validation``: the structured result of the collection's promtool wrapper
    (module_utils/promtoolcheck.py) when the refusing validate command was a promtool check."""

    def __init__(self, message, validation=None):
        super(SetupError, self).__init__(message)
        self.validation = validation


def parse_mode(mode):
    text = str(mode).strip()
    if isinstance(mode, int) and not isinstance(mode, bool):
        # YAML 0750 without quotes arrives as the decimal 488: take it as the octal it was.
        if 0 <= mode <= 0o7777:
            return mode
    if not MODE_RE.match(text):
        raise SetupError("invalid mode %r: use a quoted octal string such as '0640'" % (mode,))
    return int(text, 8)


def check_user_name(name):
    if not name or not NAME_RE.match(str(name)):
        raise SetupError("invalid user or group name %r" % (name,))
    return str(name)


def uid_of(name):
    try:
        return pwd.getpwnam(name).pw_uid
    except KeyError:
        raise SetupError("no user %r on the host" % (name,))


def gid_of(name):
    try:
        return grp.getgrnam(name).gr_gid
    except KeyError:
        raise SetupError("no group %r on the host" % (name,))


def user_exists(name):
    try:
        pwd.getpwnam(name)
        return True
    except KeyError:
        return False


def useradd_command(name, home="/nonexistent", shell="/usr/sbin/nologin", comment=None):
    """The useradd call for a system user with its own group and no home directory."""
    cmd = ["useradd", "--system", "--user-group", "--no-create-home", "--home-dir", home, "--shell", shell]
    if comment:
        cmd += ["--comment", comment]
    return cmd + [name]


def normalise_dir(item):
    if not isinstance(item, dict) or not item.get("path"):
        raise SetupError("each directory needs a path: %r" % (item,))
    path = str(item["path"])
    if not os.path.isabs(path):
        raise SetupError("directory %r is not an absolute path" % path)
    purge = item.get("purge") or None
    if purge is not None and ("/" in str(purge) or not str(purge).strip()):
        raise SetupError("purge of %s must be a file name pattern such as '*.yml', not %r" % (path, purge))
    return {
        "path": os.path.normpath(path),
        "owner": check_user_name(item.get("owner") or "root"),
        "group": check_user_name(item.get("group") or "root"),
        "mode": parse_mode(item.get("mode") or "0755"),
        "purge": purge,
    }


def purge_directory(d, keep, check_mode=False):
    """Remove the files of a managed directory that match its purge pattern and are not in keep.

    Returns the removed (or, in check mode, to be removed) paths, sorted.
    """
    if not d.get("purge") or not os.path.isdir(d["path"]):
        return []
    keep = set(os.path.normpath(k) for k in keep)
    doomed = []
    for name in sorted(os.listdir(d["path"])):
        path = os.path.join(d["path"], name)
        if fnmatch.fnmatch(name, d["purge"]) and os.path.isfile(path) and not os.path.islink(path) and path not in keep:
            doomed.append(path)
    if not check_mode:
        for path in doomed:
            os.unlink(path)
    return doomed


def normalise_file(item):
    if not isinstance(item, dict) or not item.get("path"):
        raise SetupError("each file needs a path: %r" % (item,))
    if item.get("content") is None:
        raise SetupError("file %s has no content" % item["path"])
    path = str(item["path"])
    if not os.path.isabs(path):
        raise SetupError("file %r is not an absolute path" % path)
    validate = item.get("validate") or None
    if validate and "%s" not in validate:
        raise SetupError("validate command of %s must contain %%s (the file to check): %r" % (path, validate))
    return {
        "path": os.path.normpath(path),
        "content": str(item["content"]),
        "owner": check_user_name(item.get("owner") or "root"),
        "group": check_user_name(item.get("group") or "root"),
        "mode": parse_mode(item.get("mode") or "0644"),
        "validate": validate,
        "secret": bool(item.get("secret", False)),
    }


def _lstat(path):
    try:
        return os.lstat(path)
    except OSError:
        return None


def _needs_attrs(st, uid, gid, mode):
    return st.st_uid != uid or st.st_gid != gid or stat.S_IMODE(st.st_mode) != mode


def ensure_directory(d, check_mode=False):
    """Create or fix a directory; return True when something changed (or would)."""
    uid, gid = uid_of(d["owner"]), gid_of(d["group"])
    st = _lstat(d["path"])
    if st is not None and stat.S_ISLNK(st.st_mode):
        # A data directory moved to another disk (/var/lib/prometheus -> /data/prometheus): the
        # link is the operator's; the directory it points to is managed.
        try:
            st = os.stat(d["path"])
        except OSError:
            raise SetupError("%s is a symbolic link to %s, which does not exist" % (d["path"], os.readlink(d["path"])))
    if st is not None and not stat.S_ISDIR(st.st_mode):
        raise SetupError("%s exists and is not a directory" % d["path"])
    if st is not None and not _needs_attrs(st, uid, gid, d["mode"]):
        return False
    if check_mode:
        return True
    if st is None:
        parent = os.path.dirname(d["path"])
        if not os.path.isdir(parent):
            os.makedirs(parent, 0o755)
        os.mkdir(d["path"], d["mode"])
    os.chown(d["path"], uid, gid)
    os.chmod(d["path"], d["mode"])
    return True


def read_bytes(path):
    try:
        with open(path, "rb") as handle:
            return handle.read()
    except (IOError, OSError):
        return None


def _validate_content(f, data, run_validate):
    fd, tmp = tempfile.mkstemp(prefix=".fleetwatch-check.")
    try:
        with os.fdopen(fd, "wb") as handle:
            handle.write(data)
        _check(f, tmp, run_validate)
    finally:
        os.unlink(tmp)


def _tool_of(command):
    """The tool and its subcommand of a validate command ("promtool check rules"; the first
    command of the script for ``sh -c SCRIPT``)."""
    parts = shlex.split(command)
    if len(parts) > 2 and os.path.basename(parts[0]) in ("sh", "bash") and parts[1] == "-c":
        parts = shlex.split(parts[2])
    words = [os.path.basename(parts[0])] if parts else []
    for part in parts[1:]:
        if part.startswith("-") or "%s" in part or part in ("&&", ";", "|") or len(words) == 3:
            break
        words.append(part)
    return " ".join(words)


def _check(f, tmp, run_validate):
    cmd = [part.replace("%s", tmp) for part in shlex.split(f["validate"])]
    rc, out, err = run_validate(cmd)
    if rc != 0:
        def named(text):
            return text.replace(tmp, f["path"] + " (new)").replace(os.path.basename(tmp), os.path.basename(f["path"]) + " (new)")
        message, validation = validation_failure(cmd, rc, out, err, named)
        raise SetupError("%s was not changed: the new content failed validation (%s):\n%s"
                         % (f["path"], _tool_of(f["validate"]), message), validation)


def validation_failure(cmd, rc, out, err, named):
    """The explanation of a failed validate command, and its structured result when the command was
    a promtool check: then the one promtool wrapper (promtoolcheck) reads the output, so a role's
    refused config names file, line, group and rule exactly as the promtool module does. Tools differ
    in where they explain (amtool prints the reason on stdout and a summary on stderr): both kept."""
    message = "\n".join(part for part in ((out or "").strip(), (err or "").strip()) if part)
    validation = promtoolcheck.result_of(cmd, rc, "\n".join(part for part in (out or "", err or "") if part))
    if validation is None:
        return named(message), None
    validation = json.loads(named(json.dumps(validation)))
    return named(validation["summary"]), validation


# --- change sets: all or nothing ---------------------------------------------------------------

# Run a command in a private mount namespace in which each staged directory is bind-mounted over
# the live one: the tool sees the whole new set at the real paths, the host sees nothing of it.
NAMESPACE_SCRIPT = 'while [ "$1" != -- ]; do mount --bind "$1" "$2" || exit 97; shift 2; done; shift; exec "$@"'


def origin_of(f):
    return f.get("origin") or "a file of this task"


def check_duplicates(files):
    """Two entries for one path: the later would silently replace the earlier, and every run
    would report a change. Refuse it, naming both."""
    seen = {}
    for f in files:
        if f["path"] in seen:
            raise SetupError(
                "%s is given twice (%s and %s): rename one of them" % (f["path"], origin_of(seen[f["path"]]), origin_of(f)))
        seen[f["path"]] = f


def _inside(path, directory):
    return path == directory or path.startswith(directory.rstrip("/") + "/")


def _write_atomic(path, data, uid, gid, mode):
    directory = os.path.dirname(path)
    if not os.path.isdir(directory):
        raise SetupError("directory %s of %s does not exist" % (directory, path))
    fd, tmp = tempfile.mkstemp(prefix=".%s." % os.path.basename(path), dir=directory)
    try:
        os.fchmod(fd, mode)
        os.fchown(fd, uid, gid)
        with os.fdopen(fd, "wb") as handle:
            handle.write(data)
    except Exception:
        os.unlink(tmp)
        raise
    return tmp


class ChangeSet(object):
    """A service's files as one change: planned, validated together, then put in place.

    plan() reads what is on the host; validate() runs every validate command of the set against
    the complete new set (see NAMESPACE_SCRIPT) before any live file changes; commit() writes all
    new contents aside first and then renames them into place; rollback() puts the previous set
    back (the last applied set saved by save_good(), else what was there before this run).
    """

    def __init__(self, directories, files, run, check_mode=False, warn=None):
        self.directories = directories
        self.files = files
        self.run = run
        self.check_mode = check_mode
        self.warn = warn or (lambda msg: None)
        self.entries = []
        self.purged = {}
        check_duplicates(files)

    # planning ------------------------------------------------------------------------------
    def plan(self):
        self.entries = []
        for f in self.files:
            st = _lstat(f["path"])
            if st is not None and not stat.S_ISREG(st.st_mode):
                raise SetupError("%s exists and is not a regular file" % f["path"])
            old = read_bytes(f["path"])
            new = f["content"].encode("utf-8")
            entry = {"file": f, "old": old, "new": new, "content_changed": old != new, "attrs_changed": False}
            if st is not None and not entry["content_changed"]:
                try:
                    entry["attrs_changed"] = _needs_attrs(st, uid_of(f["owner"]), gid_of(f["group"]), f["mode"])
                except SetupError:
                    if not self.check_mode:
                        raise
                    entry["attrs_changed"] = True  # the owner is created by this run
            self.entries.append(entry)
        keep = [f["path"] for f in self.files]
        self.purged = {}
        for d in self.directories:
            for path in purge_directory(d, keep, check_mode=True):
                self.purged[path] = read_bytes(path)
        return self

    @property
    def content_changed(self):
        return [e["file"]["path"] for e in self.entries if e["content_changed"]]

    @property
    def changed(self):
        return [e["file"]["path"] for e in self.entries if e["content_changed"] or e["attrs_changed"]]

    @property
    def created(self):
        return [e["file"]["path"] for e in self.entries if e["old"] is None]

    def overrides(self):
        """path -> content once the set is applied (None: removed); for digests in check mode."""
        out = dict((e["file"]["path"], e["new"]) for e in self.entries)
        out.update((p, None) for p in self.purged)
        return out

    # validation ----------------------------------------------------------------------------
    def _root_of(self, path):
        """The top-most managed directory holding path (the unit a tool reads together)."""
        best = None
        for d in self.directories:
            if _inside(path, d["path"]) and (best is None or len(d["path"]) < len(best)):
                best = d["path"]
        return best or os.path.dirname(path)

    def validate(self):
        affected = self.content_changed + list(self.purged)
        if not affected:
            return
        dirty = set(self._root_of(p) for p in affected)
        checks = [e for e in self.entries if e["file"]["validate"] and self._root_of(e["file"]["path"]) in dirty]
        if not checks:
            return
        staged = [r for r in dirty if os.path.isdir(r)]
        if staged and len(staged) == len(dirty) and self._namespace_works():
            self._validate_staged(sorted(staged), checks)
        else:
            # No private mount namespace here (or the directories do not exist yet, in check mode on a
            # new host): each changed file is checked on its own.
            for e in checks:
                if e["content_changed"]:
                    _validate_content(e["file"], e["new"], self.run)

    def _namespace_works(self):
        if os.geteuid() != 0:
            return False
        rc, out, err = self.run(["unshare", "--mount", "--propagation", "private", "true"])
        if rc != 0:
            self.warn("cannot use a private mount namespace (%s): each file is validated on its own, "
                      "not together with the rest of the new set" % (err or out).strip())
            return False
        return True

    def _validate_staged(self, roots, checks):
        base = tempfile.mkdtemp(prefix="fleetwatch-stage.", dir="/run" if os.access("/run", os.W_OK) else None)
        try:
            binds = []
            for index, root in enumerate(roots):
                stage = os.path.join(base, str(index))
                shutil.copytree(root, stage, symlinks=True)
                for e in self.entries:
                    path = e["file"]["path"]
                    if e["content_changed"] and _inside(path, root):
                        target = os.path.join(stage, os.path.relpath(path, root))
                        if not os.path.isdir(os.path.dirname(target)):
                            os.makedirs(os.path.dirname(target), 0o700)
                        with open(target, "wb") as handle:
                            handle.write(e["new"])
                        os.chmod(target, e["file"]["mode"])
                for path in self.purged:
                    if _inside(path, root):
                        os.unlink(os.path.join(stage, os.path.relpath(path, root)))
                binds += [stage, root]
            for e in checks:
                cmd = [part.replace("%s", e["file"]["path"]) for part in shlex.split(e["file"]["validate"])]
                wrapped = ["unshare", "--mount", "--propagation", "private", "/bin/sh", "-c", NAMESPACE_SCRIPT,
                           "sh"] + binds + ["--"] + cmd
                rc, out, err = self.run(wrapped)
                if rc != 0:
                    message, validation = validation_failure(cmd, rc, out, err, lambda text: text.replace(base, "(new set)"))
                    raise SetupError(
                        "no file was changed: the new set failed validation of %s (%s):\n%s"
                        % (e["file"]["path"], _tool_of(e["file"]["validate"]), message), validation)
        finally:
            shutil.rmtree(base, ignore_errors=True)

    # applying ------------------------------------------------------------------------------
    def commit(self):
        """Write every new content aside, then rename all into place, then remove the purged."""
        pending = []
        try:
            for e in self.entries:
                f = e["file"]
                if e["content_changed"]:
                    pending.append((_write_atomic(f["path"], e["new"], uid_of(f["owner"]), gid_of(f["group"]), f["mode"]),
                                    f["path"]))
        except Exception:
            for tmp, _path in pending:
                if os.path.exists(tmp):
                    os.unlink(tmp)
            raise
        for tmp, path in pending:
            os.rename(tmp, path)
        for e in self.entries:
            if e["attrs_changed"]:
                os.chown(e["file"]["path"], uid_of(e["file"]["owner"]), gid_of(e["file"]["group"]))
                os.chmod(e["file"]["path"], e["file"]["mode"])
        for path in self.purged:
            if os.path.exists(path):
                os.unlink(path)

    # the last applied set ------------------------------------------------------------------
    @staticmethod
    def good_dir(state_dir, component):
        return os.path.join(state_dir, "%s.good" % component)

    def save_good(self, state_dir, component):
        """Keep a root-only copy of the set as applied (the rollback target of a later run)."""
        final = self.good_dir(state_dir, component)
        new = final + ".new"
        if os.path.isdir(new):
            shutil.rmtree(new)
        if not os.path.isdir(state_dir):
            os.makedirs(state_dir, 0o700)
        os.mkdir(new, 0o700)
        index = {}
        for e in self.entries:
            path = e["file"]["path"]
            data = read_bytes(path)
            st = _lstat(path)
            if data is None or st is None:
                continue
            blob = hashlib.sha256(data).hexdigest()
            fd = os.open(os.path.join(new, blob), os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
            with os.fdopen(fd, "wb") as handle:
                handle.write(data)
            index[path] = {"blob": blob, "uid": st.st_uid, "gid": st.st_gid, "mode": stat.S_IMODE(st.st_mode)}
        with open(os.path.join(new, "index.json"), "w") as handle:
            json.dump(index, handle, sort_keys=True)
        old = final + ".old"
        if os.path.isdir(old):
            shutil.rmtree(old)
        if os.path.isdir(final):
            os.rename(final, old)
        os.rename(new, final)
        if os.path.isdir(old):
            shutil.rmtree(old)

    def rollback(self, state_dir, component):
        """Put the previous set back; returns the paths restored or removed."""
        good = self.good_dir(state_dir, component)
        try:
            with open(os.path.join(good, "index.json")) as handle:
                index = json.load(handle)
        except (IOError, OSError, ValueError):
            index = {}
        touched = []
        previous = dict((e["file"]["path"], e["old"]) for e in self.entries)
        previous.update(self.purged)
        for path in sorted(previous):
            if path in index:
                meta = index[path]
                data = read_bytes(os.path.join(good, meta["blob"]))
                uid, gid, mode = meta["uid"], meta["gid"], meta["mode"]
            else:
                data = previous[path]
                st = _lstat(path)
                uid, gid, mode = (st.st_uid, st.st_gid, stat.S_IMODE(st.st_mode)) if st else (0, 0, 0o600)
            if data is None:
                if os.path.exists(path):
                    os.unlink(path)
                    touched.append(path)
                continue
            if read_bytes(path) != data:
                os.rename(_write_atomic(path, data, uid, gid, mode), path)
                touched.append(path)
        return touched
