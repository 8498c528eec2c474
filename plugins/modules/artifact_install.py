#!/usr/bin/python
# -*- coding: utf-8 -*-
# Copyright: fleetwatch engineers
# SPDX-License-Identifier: Apache-2.0

from __future__ import absolute_import, division, print_function

__metaclass__ = type

DOCUMENTATION = r"""
---
module: artifact_install
short_description: Install a release artifact (tar.gz, zip or bare binary) with checksum verification
version_added: 0.1.0
description:
  - The one installer every role of the collection uses for its binaries.
  - On the controller (action plugin), the artifact for the target's architecture is downloaded
    once into a cache, and its sha256 is verified against an explicit value or the release's
    checksum file, for every host and architecture.
  - On the target (this module), the archive is checked again, unpacked into a versioned
    directory C(<install_dir>/<name>/<version>/) and its binaries are linked from O(bin_dir).
    The installed version is recorded, so a rerun with the same version changes nothing and
    transfers nothing.
  - Changing O(version) upgrades or downgrades; earlier versions are kept (O(keep)) for a quick
    rollback.
  - A downgrade that upstream says loses data (the component registry's C(downgrade_floors), for
    example Prometheus 3 to a version older than 2.55, which cannot read its TSDB) is refused before
    anything is changed, naming the versions and what to do.
  - A wrong checksum fails before anything on the target is touched; the installed version keeps
    running.
  - O(mirror) replaces upstream for all components at once, as a base URL or a local directory
    on the controller laid out as C(<mirror>/<name>/<version>/<file>) with the checksum list beside
    the file.
options:
  name:
    description:
      - Component name. Known components (node_exporter, prometheus, alertmanager, blackbox_exporter,
        postgres_exporter, redis_exporter, loki, alloy, tempo, grafana) have upstream URL templates
        built in; any other needs O(url) and O(binaries).
    type: str
    required: true
  version:
    description:
      - Release version to install, with or without a leading C(v).
      - V(latest) is resolved on the controller, once, from the newest version folder of a O(mirror)
        directory or else from the component's GitHub "latest release", and pinned in
        C(<cache_dir>/<name>/latest.lock); every later run and host uses the pinned version, so a rerun
        never changes version by itself. Delete that file to move to the newest release on the next run.
        Check mode resolves without pinning.
    type: str
    required: true
  url:
    description:
      - Artifact URL (or template with C({version}) and C({arch})), replacing the built-in one.
      - Takes precedence over O(mirror).
    type: str
  checksum:
    description:
      - Expected sha256 of the artifact (C(<hex>) or C(sha256:<hex>)), or the URL of a checksum
        file that lists it. Default is the release's checksum file.
    type: str
  mirror:
    description:
      - Base URL (C(https://), C(http://), C(file://)) or local directory on the controller that
        replaces upstream for every component.
    type: str
  binaries:
    description:
      - Files of the archive to install, each a base name, a path below the archive's top
        directory, or a dict with C(member) and C(name). Default from the component table.
    type: list
    elements: raw
  extract_all:
    description: Unpack the whole archive (top directory stripped), not only the binaries.
    type: bool
  install_dir:
    description: Root of the versioned install directories.
    type: path
    default: /opt/fleetwatch
  bin_dir:
    description: Where the binaries are linked.
    type: path
    default: /usr/local/bin
  cache_dir:
    description:
      - Controller-side download cache, C(<cache_dir>/<name>/<version>/<key of the URL>/<file>); the same
        file name from another URL (another mirror, a changed O(url)) is downloaded anew.
      - A cached file is verified on each use; one that does not match the expected sha256 (for
        example after O(checksum) was changed) is downloaded once more before the task fails.
      - A cache that cannot be written (permissions, disk full) fails the task with a message naming the path.
    type: path
    default: ~/.cache/fleetwatch/artifacts
  keep:
    description:
      - How many installed versions to keep, the current one included. With the default V(2), the
        current version and the previous one (the version that was current before the last
        switch, the rollback target) stay; older ones are removed after an install.
      - The order of switches is recorded in C(<install_dir>/<name>/.fleetwatch-versions.json).
    type: int
    default: 2
  version_check:
    description:
      - Run the first binary with C(--version) after unpacking and fail, leaving the previous
        version in place, when it reports another version.
    type: bool
    default: true
  validate_certs:
    description: Verify TLS certificates of downloads.
    type: bool
    default: true
  timeout:
    description: Download timeout in seconds.
    type: int
    default: 60
  src:
    description:
      - Internal, set by the action plugin. Path of the transferred archive on the target.
    type: path
  sha256:
    description: Internal, set by the action plugin. Verified sha256 of O(src).
    type: str
  arch:
    description: Internal, set by the action plugin.
    type: str
  url_used:
    description: Internal, set by the action plugin; recorded in the install marker.
    type: str
extends_documentation_fragment:
  - fleetwatch.observability.attributes
  - fleetwatch.observability.attributes.action
attributes:
  check_mode:
    support: full
    details: Says whether an install, a relink or nothing would be done; nothing is downloaded.
  diff_mode:
    support: none
  platform:
    platforms: posix
    details: Linux targets; the release file is chosen by the target's architecture (C(uname -m)).
  action:
    support: full
    details: Downloads and verifies the artifact on the controller, once per version and architecture.
seealso:
  - module: fleetwatch.observability.service_setup
    description: The other half of every role, the service's user, files and unit.
  - module: ansible.builtin.unarchive
    description: General-purpose unpacking of archives, without versioned directories or checksum lists.
author:
  - fleetwatch engineers (@fleetwatch)
"""

EXAMPLES = r"""
- name: Install node_exporter from upstream (checksum from the release's sha256sums.txt)
  fleetwatch.observability.artifact_install:
    name: node_exporter
    version: 1.9.0

- name: Install from an air-gapped mirror directory on the controller
  fleetwatch.observability.artifact_install:
    name: prometheus
    version: 2.53.3
    mirror: /srv/mirror

- name: A component of your own, pinned by sha256
  fleetwatch.observability.artifact_install:
    name: mytool
    version: 1.2.3
    url: https://example.com/mytool-{version}-linux-{arch}.tar.gz
    checksum: sha256:9f86d081884c7d659a2feaa0c55ad015a3bf4f1b2b0b822cd15d6c15b0f00a08
    binaries: [mytool]
"""

RETURN = r"""
version:
  description: The version now installed.
  returned: always
  type: str
  sample: 1.9.0
latest:
  description: With O(version=latest), the version it resolved to and where it is pinned.
  returned: when O(version=latest)
  type: dict
  sample: {version: 3.13.5, lock: /root/.cache/fleetwatch/artifacts/prometheus/latest.lock, resolved_now: false}
previous_version:
  description: The version linked before this run, if any.
  returned: always
  type: str
  sample: 1.8.2
arch:
  description: The target's architecture, as used in release file names.
  returned: always
  type: str
  sample: amd64
binaries:
  description: Installed name of each binary and the file its link points to.
  returned: always
  type: dict
  sample: {node_exporter: /opt/fleetwatch/node_exporter/1.9.0/node_exporter}
path:
  description: The versioned install directory.
  returned: always
  type: str
  sample: /opt/fleetwatch/node_exporter/1.9.0
action:
  description: What was (or in check mode, would be) done. C(none), C(relink) or C(install).
  returned: always
  type: str
  sample: install
url:
  description: Where the artifact came from (when it had to be fetched).
  returned: when an install was needed
  type: str
  sample: https://github.com/prometheus/node_exporter/releases/download/v1.9.0/node_exporter-1.9.0.linux-amd64.tar.gz
sha256:
  description: The verified sha256 of the artifact (when it had to be fetched).
  returned: when an install was needed
  type: str
  sample: 9f86d081884c7d659a2feaa0c55ad015a3bf4f1b2b0b822cd15d6c15b0f00a08
"""

import json
import os
import shutil
import tempfile

from ansible.module_utils.basic import AnsibleModule
from ansible_collections.fleetwatch.observability.plugins.module_utils import artifacts as art


def read_marker(path):
    try:
        with open(os.path.join(path, art.MARKER)) as handle:
            return json.load(handle)
    except (IOError, OSError, ValueError):
        return None


def current_target(link):
    """Return the file a bin_dir link points to, or None."""
    if os.path.islink(link):
        return os.path.realpath(link)
    return None


def version_of_link(install_root, link):
    """Installed version as seen from the link: <install_root>/<version>/..."""
    target = current_target(link)
    if target and target.startswith(install_root.rstrip("/") + "/"):
        return target[len(install_root.rstrip("/")) + 1:].split("/", 1)[0]
    return None


def relink(links):
    """Point each link at its target atomically; return True if anything changed."""
    changed = False
    for link, target in links.items():
        if os.path.islink(link) and os.readlink(link) == target:
            continue
        if os.path.exists(link) and not os.path.islink(link):
            # a binary installed by other means: keep it as <name>.fleetwatch-replaced once
            backup = link + ".fleetwatch-replaced"
            if not os.path.exists(backup):
                os.rename(link, backup)
        tmp = "%s.fleetwatch-tmp" % link
        if os.path.lexists(tmp):
            os.unlink(tmp)
        os.symlink(target, tmp)
        os.rename(tmp, link)
        changed = True
    return changed


STATE = ".fleetwatch-versions.json"


def read_state(install_root):
    """The install root's record of switches: {"history": [current, previous, ...]}, or None."""
    try:
        with open(os.path.join(install_root, STATE)) as handle:
            state = json.load(handle)
    except (IOError, OSError, ValueError):
        return None
    if not isinstance(state, dict) or not isinstance(state.get("history"), list):
        return None
    return state


def record_switch(install_root, version, previous):
    """Record that `version` is now current; the version current before it goes next in line.

    The history (newest first, each version once) is what prune() keeps: the current version,
    then the one it replaced, and so on. Roots installed before the history existed start from
    the version the links pointed to (`previous`).
    """
    state = read_state(install_root)
    history = state["history"] if state else ([previous] if previous else [])
    history = [version] + [v for v in history if v != version and isinstance(v, str)]
    tmp = os.path.join(install_root, STATE + ".tmp")
    with open(tmp, "w") as handle:
        json.dump({"history": history}, handle)
    os.rename(tmp, os.path.join(install_root, STATE))
    return history


def prune(install_root, keep, current):
    """Remove the version directories beyond the `keep` last current ones (current included).

    Which versions were current, and in which order, comes from the root's history (see
    record_switch), not from directory times: after upgrade -> downgrade -> upgrade the
    rollback target is the version current before the last switch, however old its directory.
    """
    removed = []
    state = read_state(install_root)
    history = state["history"] if state else []
    if not history or history[0] != current:
        history = [current] + [v for v in history if v != current]
    kept = set(history[:max(keep, 1)])
    try:
        entries = sorted(e for e in os.listdir(install_root) if not e.startswith("."))
    except OSError:
        return removed
    for entry in entries:
        if entry in kept or not os.path.isdir(os.path.join(install_root, entry)):
            continue
        shutil.rmtree(os.path.join(install_root, entry), ignore_errors=True)
        removed.append(entry)
    return removed


def main():
    module = AnsibleModule(
        argument_spec=dict(
            name=dict(type="str", required=True),
            version=dict(type="str", required=True),
            url=dict(type="str"),
            checksum=dict(type="str", no_log=False),
            mirror=dict(type="str"),
            binaries=dict(type="list", elements="raw"),
            extract_all=dict(type="bool"),
            install_dir=dict(type="path", default="/opt/fleetwatch"),
            bin_dir=dict(type="path", default="/usr/local/bin"),
            cache_dir=dict(type="path", default="~/.cache/fleetwatch/artifacts"),
            keep=dict(type="int", default=2),
            version_check=dict(type="bool", default=True),
            validate_certs=dict(type="bool", default=True),
            timeout=dict(type="int", default=60),
            src=dict(type="path"),
            sha256=dict(type="str"),
            arch=dict(type="str"),
            url_used=dict(type="str"),
        ),
        supports_check_mode=True,
    )
    p = module.params
    try:
        arch = art.normalize_arch(p["arch"] or os.uname()[4])
        version = art.normalize_version(p["version"])
        entry = art.COMPONENTS.get(p["name"], {})
        specs = art.binary_specs(p["binaries"] or entry.get("binaries") or [p["name"]], arch, version)
        extract_all = p["extract_all"] if p["extract_all"] is not None else bool(entry.get("extract_all"))
        explicit_sha = None
        if p["checksum"] and "://" not in p["checksum"] and not p["checksum"].startswith("/"):
            explicit_sha = art.normalize_sha256(p["checksum"])
    except art.ArtifactError as exc:
        module.fail_json(msg=str(exc))

    root = os.path.join(p["install_dir"], p["name"])
    vdir = os.path.join(root, version)
    previous = None
    for spec in specs:
        previous = previous or version_of_link(root, os.path.join(p["bin_dir"], spec["name"]))

    try:
        art.check_downgrade(p["name"], previous, version)
    except art.ArtifactError as exc:
        module.fail_json(msg=str(exc), version=version, previous_version=previous)

    marker = read_marker(vdir)
    installed_ok = (
        marker is not None
        and marker.get("version") == version
        and marker.get("arch") == arch
        and (explicit_sha is None or marker.get("sha256") == explicit_sha)
        and (p["sha256"] is None or marker.get("sha256") == p["sha256"])
        and all(os.path.exists(os.path.join(vdir, rel)) for rel in marker.get("binaries", {}).values())
        and sorted(marker.get("binaries", {})) == sorted(s["name"] for s in specs)
    )
    result = dict(changed=False, version=version, previous_version=previous, arch=arch, path=vdir)

    if installed_ok:
        links = dict((os.path.join(p["bin_dir"], b), os.path.join(vdir, rel))
                     for b, rel in marker["binaries"].items())
        result["binaries"] = dict((os.path.basename(k), v) for k, v in links.items())
        if all(os.path.islink(k) and os.readlink(k) == v for k, v in links.items()):
            result["action"] = "none"
            module.exit_json(**result)
        result["action"] = "relink"
        result["changed"] = True
        if not module.check_mode:
            if not os.path.isdir(p["bin_dir"]):
                os.makedirs(p["bin_dir"], 0o755)
            relink(links)
            record_switch(root, version, previous)
        module.exit_json(**result)

    result["action"] = "install"
    if p["src"] is None:
        # Probe (or check mode): tell the controller an archive is needed.
        result["changed"] = True
        result["needs_archive"] = True
        module.exit_json(**result)

    if module.check_mode:
        result["changed"] = True
        module.exit_json(**result)

    try:
        art.verify_sha256(p["src"], p["sha256"], os.path.basename(p["url_used"] or p["src"]))
        fmt = art.archive_format(os.path.basename(p["url_used"] or p["src"]))
        if not os.path.isdir(root):
            os.makedirs(root, 0o755)
        staging = tempfile.mkdtemp(prefix=".staging-", dir=root)
        os.chmod(staging, 0o755)
        try:
            binaries = art.extract(p["src"], fmt, staging, specs, extract_all)
            if p["version_check"]:
                first = os.path.join(staging, binaries[specs[0]["name"]])
                rc, out, err = module.run_command([first, "--version"])
                reported = art.parse_version_output(out + "\n" + err)
                if reported is not None and reported != version:
                    raise art.ArtifactError(
                        "%s reports version %s, expected %s: wrong artifact for this version? "
                        "Nothing was changed." % (specs[0]["name"], reported, version))
                result["reported_version"] = reported
            with open(os.path.join(staging, art.MARKER), "w") as handle:
                json.dump(dict(name=p["name"], version=version, arch=arch, sha256=p["sha256"],
                               url=p["url_used"], binaries=binaries), handle, sort_keys=True)
            if os.path.isdir(vdir):
                shutil.rmtree(vdir)
            os.rename(staging, vdir)
        except Exception:
            shutil.rmtree(staging, ignore_errors=True)
            raise
        if not os.path.isdir(p["bin_dir"]):
            os.makedirs(p["bin_dir"], 0o755)
        links = dict((os.path.join(p["bin_dir"], b), os.path.join(vdir, rel)) for b, rel in binaries.items())
        relink(links)
        record_switch(root, version, previous)
        result["binaries"] = dict((os.path.basename(k), v) for k, v in links.items())
        result["removed_versions"] = prune(root, p["keep"], version)
        result["changed"] = True
    except art.ArtifactError as exc:
        module.fail_json(msg=str(exc), **result)
    module.exit_json(**result)


if __name__ == "__main__":
    main()
