# -*- coding: utf-8 -*-
# Copyright: fleetwatch engineers
# Apache License 2.0
"""Logic of the service_setup module: a service's user, directories and files in one pass.

Every role of the collection needs the same three things on a host before its service runs: a
system user, a few directories, and a few files (unit, config, web config, secrets). Doing them
in one module call keeps a no-op rerun to one round trip instead of one per item.
"""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

import fnmatch
import grp
import os
import pwd
import re
import shlex
import stat
import tempfile

NAME_RE = re.compile(r"^[a-z_][a-z0-9_-]{0,31}$")
MODE_RE = re.compile(r"^0?[0-7]{3,4}$")


class SetupError(Exception):
    pass


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


def ensure_file(f, run_validate=None, check_mode=False):
    """Write a file atomically when its content or attributes differ.

    ``run_validate(cmd_list) -> (rc, out, err)`` runs the validate command on the new content
    before it replaces the old file; a failure raises SetupError with the tool's message and
    leaves the old file as it was. Returns (changed, content_changed, before_text).
    """
    uid, gid = uid_of(f["owner"]), gid_of(f["group"])
    new = f["content"].encode("utf-8")
    old = read_bytes(f["path"])
    st = _lstat(f["path"])
    if st is not None and not stat.S_ISREG(st.st_mode):
        raise SetupError("%s exists and is not a regular file" % f["path"])
    content_changed = old != new
    attrs_changed = st is not None and _needs_attrs(st, uid, gid, f["mode"])
    if not content_changed and not attrs_changed:
        return False, False, None
    before = None if old is None else old.decode("utf-8", "replace")
    if check_mode:
        # Validation runs in check mode too: a bad config is reported before any real run.
        if content_changed and f["validate"] and run_validate is not None:
            _validate_content(f, new, run_validate)
        return True, content_changed, before
    if not content_changed:
        os.chown(f["path"], uid, gid)
        os.chmod(f["path"], f["mode"])
        return True, False, before
    directory = os.path.dirname(f["path"])
    if not os.path.isdir(directory):
        raise SetupError("directory %s of %s does not exist" % (directory, f["path"]))
    fd, tmp = tempfile.mkstemp(prefix=".%s." % os.path.basename(f["path"]), dir=directory)
    try:
        os.fchmod(fd, f["mode"])
        os.fchown(fd, uid, gid)
        with os.fdopen(fd, "wb") as handle:
            handle.write(new)
        if f["validate"] and run_validate is not None:
            _check(f, tmp, run_validate)
        os.rename(tmp, f["path"])
    except Exception:
        if os.path.exists(tmp):
            os.unlink(tmp)
        raise
    return True, True, before


def _validate_content(f, data, run_validate):
    fd, tmp = tempfile.mkstemp(prefix=".fleetwatch-check.")
    try:
        with os.fdopen(fd, "wb") as handle:
            handle.write(data)
        _check(f, tmp, run_validate)
    finally:
        os.unlink(tmp)


def _tool_of(command):
    """The first two words of a validate command (of its script, for ``sh -c SCRIPT``)."""
    parts = shlex.split(command)
    if len(parts) > 2 and os.path.basename(parts[0]) in ("sh", "bash") and parts[1] == "-c":
        parts = shlex.split(parts[2])
    return " ".join(parts[:2])


def _check(f, tmp, run_validate):
    cmd = [part.replace("%s", tmp) for part in shlex.split(f["validate"])]
    rc, out, err = run_validate(cmd)
    if rc != 0:
        # Tools differ in where they explain: amtool prints the reason on stdout and a summary on stderr.
        message = "\n".join(part for part in ((out or "").strip(), (err or "").strip()) if part)
        raise SetupError(
            "%s was not changed: the new content failed validation (%s):\n%s"
            % (f["path"], _tool_of(f["validate"]),
               message.replace(tmp, f["path"] + " (new)").replace(os.path.basename(tmp), os.path.basename(f["path"]) + " (new)")))
