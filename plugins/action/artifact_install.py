# -*- coding: utf-8 -*-
# Copyright: fleetwatch engineers
# Apache License 2.0
"""Controller side of fleetwatch.observability.artifact_install (see the module for the docs).

One round trip when the version is already installed: the module is run in probe mode and says
whether it needs the archive. Only then is the artifact resolved for the target's architecture,
downloaded once into the controller cache (locked against parallel forks), verified, sent and
installed.
"""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

import fcntl
import os
import shutil
import tempfile

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


def fetch(location, dest, timeout=60, validate_certs=True):
    """Copy a URL or a local path to dest atomically."""
    tmp = dest + ".part"
    local = _local_path(location)
    try:
        if local is not None:
            if not os.path.isfile(local):
                raise art.ArtifactError("%s does not exist" % local)
            shutil.copyfile(local, tmp)
        else:
            response = open_url(location, timeout=timeout, validate_certs=validate_certs,
                                http_agent="fleetwatch-artifact-install")
            with open(tmp, "wb") as out:
                shutil.copyfileobj(response, out)
        os.rename(tmp, dest)
    except art.ArtifactError:
        raise
    except Exception as exc:  # urllib, socket and OS errors alike
        raise art.ArtifactError("cannot download %s: %s" % (location, to_native(exc)))
    finally:
        if os.path.exists(tmp):
            os.unlink(tmp)


class _Lock(object):
    def __init__(self, path):
        self.path = path
        self.handle = None

    def __enter__(self):
        self.handle = open(self.path, "w")
        fcntl.flock(self.handle, fcntl.LOCK_EX)
        return self

    def __exit__(self, *exc):
        fcntl.flock(self.handle, fcntl.LOCK_UN)
        self.handle.close()


def cached_artifact(info, cache_dir, timeout=60, validate_certs=True):
    """Return (path, sha256) of the verified artifact in the controller cache.

    The expected sha256 is the explicit one or the one in the release's checksum file (also
    cached). A cached archive is verified again each time it is used; on a mismatch it is
    deleted and the error says so.
    """
    folder = os.path.join(os.path.expanduser(cache_dir), info["name"], info["version"])
    if not os.path.isdir(folder):
        os.makedirs(folder, 0o755)
    path = os.path.join(folder, info["filename"])
    with _Lock(path + ".lock"):
        # The checksum list is fetched together with the archive, never reused for a new
        # download: a rebuilt mirror or a re-published release must not meet a stale list.
        downloaded = False
        if not os.path.exists(path):
            fetch(info["url"], path, timeout, validate_certs)
            downloaded = True
        expected = info["sha256"]
        if expected is None:
            sums = os.path.join(folder, "checksums-%s-%s" % (
                art.hashlib.sha256(info["checksum_url"].encode()).hexdigest()[:12],
                os.path.basename(info["checksum_url"])))
            if downloaded or not os.path.exists(sums):
                fetch(info["checksum_url"], sums, timeout, validate_certs)
            with open(sums) as handle:
                text = handle.read()
            try:
                expected = art.parse_checksums(text, info["filename"])
            except art.ArtifactError as exc:
                os.unlink(sums)
                raise art.ArtifactError("%s (%s)" % (exc, info["checksum_url"]))
        try:
            art.verify_sha256(path, expected, info["url"])
        except art.ArtifactError:
            os.unlink(path)
            raise
    return path, expected


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

        try:
            local, sha256 = cached_artifact(
                info, args.get("cache_dir") or "~/.cache/fleetwatch/artifacts",
                timeout=int(args.get("timeout") or 60),
                validate_certs=bool(args.get("validate_certs", True)))
        except art.ArtifactError as exc:
            installed = probe.get("previous_version")
            raise AnsibleActionFail(
                "%s: %s. Nothing was installed; %s" % (
                    name, to_native(exc),
                    "%s %s stays in place." % (name, installed) if installed else "no version was in place."))

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
