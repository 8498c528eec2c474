# -*- coding: utf-8 -*-
# Copyright: fleetwatch engineers
# SPDX-License-Identifier: Apache-2.0
"""Controller side of fleetwatch.observability.artifact_install (see the module for the docs).

One round trip when the version is already installed: the module is run in probe mode and says
whether it needs the archive. Only then is the artifact resolved for the target's architecture,
downloaded once into the controller cache (locked against parallel forks), verified, sent and
installed.
"""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

import fcntl
import hashlib
import json
import os
import tempfile
import time

from ansible.errors import AnsibleActionFail
from ansible.module_utils.common.text.converters import to_native
from ansible.module_utils.urls import open_url
from ansible.plugins.action import ActionBase

from ansible_collections.fleetwatch.observability.plugins.module_utils import artifacts as art

MODULE = "fleetwatch.observability.artifact_install"
CONTROLLER_ONLY = ("mirror", "cache_dir", "validate_certs", "timeout")


def _local_path(location):
    if location.startswith("file://"):
        return location[len("file://"):]
    if "://" not in location:
        return location
    return None


class CacheError(art.ArtifactError):
    """The controller cache itself failed (not the artifact): unwritable, full, locked out."""


def _cache_error(path, exc):
    reason = getattr(exc, "strerror", None) or to_native(exc)
    return CacheError(
        "cannot use the controller's artifact cache at %s: %s (cache_dir, fleetwatch_artifact_cache_dir "
        "in the roles, must be a writable directory with room for the artifact)" % (path, reason))


_BLOCK = 1024 * 1024


def _copy(src, out, location, tmp):
    """Copy src to out; a read error is the download's, a write error the cache's."""
    while True:
        try:
            block = src.read(_BLOCK)
        except Exception as exc:  # socket, TLS, HTTP and OS errors of the source alike
            raise art.ArtifactError("cannot download %s: %s" % (location, to_native(exc)))
        if not block:
            return
        try:
            out.write(block)
        except (IOError, OSError) as exc:
            raise _cache_error(tmp, exc)


def fetch(location, dest, timeout=60, validate_certs=True):
    """Copy a URL or a local path to dest atomically.

    An unreachable or missing source is an ArtifactError naming the source; a cache that cannot
    be written (permissions, disk full) is a CacheError naming the cache file.
    """
    tmp = dest + ".part"
    local = _local_path(location)
    try:
        try:
            out = open(tmp, "wb")
        except (IOError, OSError) as exc:
            raise _cache_error(tmp, exc)
        try:
            if local is not None:
                if not os.path.isfile(local):
                    raise art.ArtifactError("%s does not exist" % local)
                try:
                    src = open(local, "rb")
                except (IOError, OSError) as exc:
                    raise art.ArtifactError("cannot read %s: %s" % (local, to_native(exc)))
            else:
                try:
                    src = open_url(location, timeout=timeout, validate_certs=validate_certs,
                                   http_agent="fleetwatch-artifact-install")
                except Exception as exc:  # urllib, socket and OS errors alike
                    raise art.ArtifactError("cannot download %s: %s" % (location, to_native(exc)))
            try:
                _copy(src, out, location, tmp)
            finally:
                src.close()
        finally:
            try:
                out.close()
            except (IOError, OSError) as exc:  # a delayed write error (disk full on flush)
                raise _cache_error(tmp, exc)
        try:
            os.rename(tmp, dest)
        except (IOError, OSError) as exc:
            raise _cache_error(dest, exc)
    finally:
        if os.path.lexists(tmp):
            try:
                os.unlink(tmp)
            except OSError:
                pass


class _Lock(object):
    def __init__(self, path):
        self.path = path
        self.handle = None

    def __enter__(self):
        try:
            self.handle = open(self.path, "w")
            fcntl.flock(self.handle, fcntl.LOCK_EX)
        except (IOError, OSError) as exc:
            if self.handle is not None:
                self.handle.close()
            raise _cache_error(self.path, exc)
        return self

    def __exit__(self, *exc):
        fcntl.flock(self.handle, fcntl.LOCK_UN)
        self.handle.close()


def cache_folder(info, cache_dir):
    """<cache_dir>/<name>/<version>/<key of the URL>/: the same file name from another URL (another
    mirror, a changed archive_url) is another artifact and never reuses this one."""
    key = hashlib.sha256(info["url"].encode("utf-8")).hexdigest()[:16]
    return os.path.join(os.path.expanduser(cache_dir), info["name"], info["version"], key)


def cached_artifact(info, cache_dir, timeout=60, validate_certs=True):
    """Return (path, sha256) of the verified artifact in the controller cache.

    The cache is keyed by name, version and URL. The expected sha256 is the explicit one or the
    one in the release's checksum file (fetched with the archive). A cached archive is verified
    again each time it is used; when it does not match (a pinned checksum changed, a damaged or
    outdated file), it is downloaded once more, and only a fresh download that does not match
    fails (and is deleted). Errors of the cache itself (unwritable directory, disk full, lock
    file denied) are a CacheError naming the path.
    """
    folder = cache_folder(info, cache_dir)
    try:
        return _cached_artifact(info, folder, timeout, validate_certs)
    except art.ArtifactError:
        raise
    except (IOError, OSError) as exc:
        raise _cache_error(getattr(exc, "filename", None) or folder, exc)


def _cached_artifact(info, folder, timeout, validate_certs):
    if not os.path.isdir(folder):
        os.makedirs(folder, 0o755)  # an OSError here is named by cached_artifact
    path = os.path.join(folder, info["filename"])
    with _Lock(path + ".lock"):
        downloaded = False
        while True:
            # The checksum list is fetched together with the archive, never reused for a new
            # download: a rebuilt mirror or a re-published release must not meet a stale list.
            if not os.path.exists(path):
                fetch(info["url"], path, timeout, validate_certs)
                downloaded = True
            expected = _expected_sha256(info, folder, refresh=downloaded, timeout=timeout,
                                        validate_certs=validate_certs)
            try:
                art.verify_sha256(path, expected, info["url"])
                return path, expected
            except art.ArtifactError:
                os.unlink(path)
                if downloaded:
                    raise
                # A cached copy that does not match (a pinned checksum changed, a damaged file):
                # fetch it once more, with its checksum list, before failing.


def _expected_sha256(info, folder, refresh, timeout, validate_certs):
    if info["sha256"] is not None:
        return info["sha256"]
    sums = os.path.join(folder, "checksums-%s-%s" % (
        hashlib.sha256(info["checksum_url"].encode()).hexdigest()[:12],
        os.path.basename(info["checksum_url"])))
    if refresh or not os.path.exists(sums):
        fetch(info["checksum_url"], sums, timeout, validate_certs)
    with open(sums) as handle:
        text = handle.read()
    try:
        return art.parse_checksums(text, info["filename"])
    except art.ArtifactError as exc:
        os.unlink(sums)
        raise art.ArtifactError("%s (%s)" % (exc, info["checksum_url"]))


def latest_lock(cache_dir, name):
    return os.path.join(os.path.expanduser(cache_dir or "~/.cache/fleetwatch/artifacts"), name, "latest.lock")


def _github_json(url, timeout, validate_certs):
    try:
        response = open_url(url, timeout=timeout, validate_certs=validate_certs,
                            headers={"Accept": "application/vnd.github+json"})
        return json.loads(response.read().decode("utf-8"))
    except Exception as exc:  # HTTP, TLS, socket and JSON errors alike
        raise art.ArtifactError("cannot read %s: %s" % (url, to_native(exc)))


def resolve_latest(name, args, pin=True, fetch_json=None):
    """version: latest -> (release version, lock path, resolved now). The first resolution is pinned
    in <cache_dir>/<name>/latest.lock, and every later run (every host, every rerun) uses it, so a
    run never changes version by itself; deleting the lock moves to the newest release on the next
    run. Sources: the newest version folder of a mirror directory, else the component's GitHub
    "latest release". In check mode (pin False) nothing is written."""
    lock = latest_lock(args.get("cache_dir"), name)
    try:
        with open(lock) as handle:
            return art.normalize_version(json.load(handle)["version"]), lock, False
    except (IOError, OSError):
        pass
    except (ValueError, KeyError, TypeError, art.ArtifactError) as exc:
        raise art.ArtifactError("the pinned latest version in %s is unreadable (%s): delete the file to resolve "
                                "latest again" % (lock, to_native(exc)))
    mirror = args.get("mirror")
    local = _local_path(str(mirror)) if mirror else None
    if args.get("url"):
        raise art.ArtifactError("version latest cannot be resolved for an artifact url of its own: give a version")
    if mirror and local is None:
        raise art.ArtifactError("version latest needs upstream's releases or a mirror directory, not the mirror "
                                "URL %s (it cannot be listed): give a version" % mirror)
    if local:
        folder = os.path.join(local, name)
        versions = os.listdir(folder) if os.path.isdir(folder) else []
        source = folder
    else:
        source = art.github_latest_api(name)
        if source is None:
            raise art.ArtifactError("version latest is resolved from GitHub releases, and %s has none: give a version"
                                    % name)
        data = (fetch_json or _github_json)(source, int(args.get("timeout") or 60), bool(args.get("validate_certs", True)))
        versions = [data.get("tag_name", "")] if isinstance(data, dict) else []
    version = art.newest_version(versions)
    if version is None:
        raise art.ArtifactError("no release version found for %s latest in %s" % (name, source))
    if pin:
        try:
            os.makedirs(os.path.dirname(lock), exist_ok=True)
            fd, tmp = tempfile.mkstemp(prefix=".latest.", dir=os.path.dirname(lock))
            with os.fdopen(fd, "w") as handle:
                json.dump({"version": version, "source": source, "resolved_at": int(time.time())}, handle)
            os.rename(tmp, lock)
        except (IOError, OSError) as exc:
            raise _cache_error(lock, exc)
    return version, lock, True


def controller_artifact(info, args, installed=None):
    """cached_artifact with the task's settings; any failure is an AnsibleActionFail that says
    what failed (the artifact, or the cache and its path) and what stays in place."""
    name = info["name"]
    try:
        return cached_artifact(
            info, args.get("cache_dir") or "~/.cache/fleetwatch/artifacts",
            timeout=int(args.get("timeout") or 60),
            validate_certs=bool(args.get("validate_certs", True)))
    except art.ArtifactError as exc:
        raise AnsibleActionFail(
            "%s: %s. Nothing was installed; %s" % (
                name, to_native(exc),
                "%s %s stays in place." % (name, installed) if installed else "no version was in place."))
    except (IOError, OSError) as exc:  # anything cached_artifact did not name (should not happen)
        raise AnsibleActionFail("%s: the controller's artifact cache failed: %s" % (name, to_native(exc)))


class ActionModule(ActionBase):
    TRANSFERS_FILES = True
    _VALID_ARGS = frozenset((
        "name", "version", "url", "checksum", "mirror", "binaries", "extract_all", "install_dir",
        "bin_dir", "cache_dir", "keep", "version_check", "validate_certs", "timeout"))

    def run(self, tmp=None, task_vars=None):
        task_vars = task_vars or {}
        result = super(ActionModule, self).run(tmp, task_vars)
        del tmp
        args = dict(self._task.args)
        for key in ("name", "version"):
            if not args.get(key):
                raise AnsibleActionFail("%s is required" % key)
        if str(args["version"]).strip().lower() == art.LATEST:
            try:
                args["version"], lock, fresh = resolve_latest(args["name"], args, pin=not self._play_context.check_mode)
            except art.ArtifactError as exc:
                raise AnsibleActionFail("%s: %s" % (args["name"], to_native(exc)))
            result["latest"] = {"version": args["version"], "lock": lock, "resolved_now": fresh}
        remote_args = dict((k, v) for k, v in args.items() if k not in CONTROLLER_ONLY)
        # the mirror is controller-side; an explicit checksum matters to the marker check
        probe = self._execute_module(MODULE, module_args=remote_args, task_vars=task_vars)
        if probe.get("failed") or not probe.get("needs_archive"):
            probe.pop("needs_archive", None)
            result.update(probe)
            return result

        name = args["name"]
        try:
            info = art.resolve(name, args["version"], probe["arch"], url=args.get("url"),
                               checksum=args.get("checksum"), mirror=args.get("mirror"))
        except art.ArtifactError as exc:
            raise AnsibleActionFail(to_native(exc))
        result.update(probe)
        result.pop("needs_archive", None)
        result["url"] = info["url"]
        if self._play_context.check_mode:
            result["msg"] = "would install %s %s from %s" % (name, info["version"], info["url"])
            return result

        local, sha256 = controller_artifact(info, args, probe.get("previous_version"))

        try:
            remote_tmp = self._connection._shell.tmpdir or self._make_tmp_path()
            remote_src = self._connection._shell.join_path(remote_tmp, info["filename"])
            self._transfer_file(local, remote_src)
            self._fixup_perms2((remote_tmp, remote_src))
            remote_args.update(src=remote_src, sha256=sha256, arch=probe["arch"], url_used=info["url"])
            installed = self._execute_module(MODULE, module_args=remote_args, task_vars=task_vars)
        finally:
            self._remove_tmp_path(self._connection._shell.tmpdir)
        result.update(installed)
        result["url"] = info["url"]
        result["sha256"] = sha256
        return result
