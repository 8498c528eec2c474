# -*- coding: utf-8 -*-
# Copyright: fleetwatch engineers
# SPDX-License-Identifier: Apache-2.0
"""Release artifacts of every component the collection installs, and the logic around them.

The artifact specs (URL and checksum-file templates, archive format, binaries) come from the
component registry (registry.py); this file holds the pure logic used on both sides of the shared
installer:

* on the controller (action plugin ``artifact_install``): resolve the URL and checksum for the
  target's architecture, honour a mirror, parse checksum files, verify downloads;
* on the target (module ``artifact_install``): extract the needed members safely, detect the
  installed version.

It imports nothing from Ansible so that the test mirror builder and the unit tests can use it
directly.
"""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

import hashlib
import os
import posixpath
import re
import shutil
import stat
import tarfile
import zipfile
from zlib import error as zlib_error

# The artifact specs live in the component registry (registry.py), the one table of components.
# Imported both ways: as part of the collection (controller, modules), and as a plain module when
# a harness script puts plugins/module_utils on sys.path (build_mirror.py).
try:
    from ansible_collections.fleetwatch.observability.plugins.module_utils import registry
except ImportError:
    import registry  # noqa: E402  pylint: disable=import-error

GITHUB = registry.GITHUB

# Upstream release artifacts, {name: spec}. ``{version}`` has no leading "v"; ``{arch}`` is Go's
# GOARCH name. ``checksums`` is either the name of a checksum list next to the archive
# ("sha256sums.txt", "SHA256SUMS") or, for vendors that publish one file per archive, "{url}.sha256".
COMPONENTS = registry.artifact_table()

# uname -m -> GOARCH
ARCHES = {
    "x86_64": "amd64",
    "amd64": "amd64",
    "aarch64": "arm64",
    "arm64": "arm64",
    "armv7l": "armv7",
    "armv6l": "armv6",
    "i386": "386",
    "i686": "386",
    "ppc64le": "ppc64le",
    "s390x": "s390x",
    "riscv64": "riscv64",
}

SHA256_RE = re.compile(r"^[0-9a-f]{64}$")
VERSION_RE = re.compile(r"^v?(\d+\.\d+\.\d+(?:[-+.~][0-9A-Za-z.+~-]+)?)$")
# "node_exporter, version 1.9.0 (branch: ...)", "grafana version 12.0.0", "Version 12.0.0 (commit:",
# "alloy, version v1.9.0", "loki, version 3.5.0"
VERSION_OUTPUT_RE = re.compile(r"\bversion\s+v?(\d+\.\d+\.\d+(?:-[0-9A-Za-z.]+)?)", re.IGNORECASE)
NAME_RE = re.compile(r"^[a-z][a-z0-9_-]*$")
MARKER = ".fleetwatch-artifact.json"


class ArtifactError(Exception):
    """A clear, user-facing error about an artifact."""


def normalize_arch(machine):
    """Map ``uname -m`` (or a GOARCH name) to the architecture name used in release file names."""
    try:
        return ARCHES[str(machine).strip().lower()]
    except KeyError:
        raise ArtifactError(
            "unsupported architecture %r (known: %s)" % (machine, ", ".join(sorted(set(ARCHES))))
        )


def normalize_version(version):
    """Return the version without a leading "v"; reject anything that is not a release version."""
    if version is None:
        raise ArtifactError("a version is required")
    match = VERSION_RE.match(str(version).strip())
    if not match:
        raise ArtifactError(
            "invalid version %r: expected a release version such as 1.9.0 or v1.9.0" % (version,)
        )
    return match.group(1)


def version_tuple(version):
    """(major, minor, patch) of a release version (pre-release and build suffixes ignored)."""
    return tuple(int(part) for part in normalize_version(version).split("-")[0].split("+")[0].split(".")[:3])


LATEST = "latest"


def newest_version(versions):
    """The newest release version among names (a mirror's folders, a release tag); anything that is
    not a release version is ignored. None when there is none."""
    found = []
    for text in versions:
        try:
            found.append((version_tuple(text), normalize_version(text)))
        except (ArtifactError, ValueError):
            continue
    return max(found)[1] if found else None


def github_latest_api(name):
    """GitHub's "latest release" API URL of a component whose artifact is a GitHub release; None else
    (the registry knows where each release comes from)."""
    return registry.latest_release_api(name)


def check_downgrade(name, current, wanted, floors=None):
    """Refuse a version switch that upstream says loses data: each of the component's
    ``downgrade_floors`` ({from, floor, reason}, registry.py) forbids going from ``from`` or newer
    to a version older than ``floor``. ``current`` is the version installed now (None: a first
    install). Raises ArtifactError naming both versions and what to do; returns None otherwise."""
    if not current:
        return None
    floors = COMPONENTS.get(name, {}).get("downgrade_floors", []) if floors is None else floors
    try:
        now, new = version_tuple(current), version_tuple(wanted)
    except (ArtifactError, ValueError):
        return None  # a version that cannot be compared is not a known unsafe downgrade
    for rule in floors:
        if now >= version_tuple(rule["from"]) and new < version_tuple(rule["floor"]):
            raise ArtifactError(
                "%s %s -> %s refused before any change: %s Go back to %s or newer instead, or move "
                "the data directory aside first (a new, empty one then starts)."
                % (name, current, wanted, rule["reason"], rule["floor"]))
    return None


def normalize_sha256(value):
    """Accept "<64 hex>" or "sha256:<64 hex>"; return the lower-case hex digest."""
    text = str(value).strip().lower()
    if text.startswith("sha256:"):
        text = text[len("sha256:"):]
    if not SHA256_RE.match(text):
        raise ArtifactError("invalid sha256 %r: expected 64 hexadecimal digits" % (value,))
    return text


def parse_version_output(text):
    """Find the version in a program's ``--version`` output; None when there is none."""
    match = VERSION_OUTPUT_RE.search(text or "")
    return match.group(1) if match else None


def binary_specs(binaries, arch, version):
    """Normalise the binaries list to [{"member": path-or-basename, "name": installed name}]."""
    if not binaries:
        raise ArtifactError("no binaries to install")
    specs = []
    for item in binaries:
        if isinstance(item, dict):
            member = item.get("member") or item.get("name")
            name = item.get("name") or posixpath.basename(member or "")
        else:
            member, name = item, posixpath.basename(str(item))
        if not member or not name:
            raise ArtifactError("invalid binaries entry %r" % (item,))
        member = str(member).format(arch=arch, version=version)
        name = str(name).format(arch=arch, version=version)
        if "/" in name or name in (".", "..") or name.startswith("."):
            raise ArtifactError("invalid binary name %r" % (name,))
        specs.append({"member": member, "name": name})
    names = [s["name"] for s in specs]
    if len(set(names)) != len(names):
        raise ArtifactError("binaries are installed under the same name twice: %s" % names)
    return specs


def _mirror_url(mirror, name, version, filename):
    base = str(mirror).rstrip("/")
    return "%s/%s/%s/%s" % (base, name, version, filename)


def resolve(name, version, arch, url=None, checksum=None, mirror=None, table=None):
    """Work out where an artifact comes from and how its sha256 is known.

    Returns a dict with ``name``, ``version``, ``arch``, ``url``, ``filename``, ``format``,
    ``sha256`` (when given explicitly, else None), ``checksum_url`` (else None),
    ``binaries`` and ``extract_all``.

    * ``url`` replaces the table's URL template (``{version}``/``{arch}`` are filled in);
    * ``mirror`` (base URL or local directory) replaces upstream for all components:
      ``<mirror>/<name>/<version>/<file name>``, and the checksum list beside it;
    * ``checksum`` is a sha256 ("<hex>" or "sha256:<hex>") or the URL of a checksum file.
    """
    table = COMPONENTS if table is None else table
    if not name or not NAME_RE.match(str(name)):
        raise ArtifactError("invalid component name %r" % (name,))
    entry = table.get(name)
    if entry is None and not url:
        raise ArtifactError(
            "unknown component %r: give its url, or use one of %s" % (name, ", ".join(sorted(table)))
        )
    entry = entry or {}
    version = normalize_version(version)
    arch = normalize_arch(arch)
    fields = {"version": version, "arch": arch}
    try:
        upstream = (url or entry["url"]).format(**fields)
    except (KeyError, IndexError, ValueError) as exc:
        raise ArtifactError("invalid url template %r: %s" % (url or entry.get("url"), exc))
    filename = posixpath.basename(upstream.split("?", 1)[0])
    if not filename:
        raise ArtifactError("cannot tell the file name from url %r" % (upstream,))
    fmt = archive_format(filename)

    checksums = entry.get("checksums", "sha256sums.txt")
    if mirror and not url:
        final_url = _mirror_url(mirror, name, version, filename)
    else:
        final_url = upstream

    sha256 = None
    checksum_url = None
    if checksum:
        text = str(checksum).strip()
        if "://" in text or text.startswith("/"):
            checksum_url = text.format(**fields) if "{" in text else text
        else:
            sha256 = normalize_sha256(text)
    elif checksums == "{url}.sha256":
        checksum_url = final_url + ".sha256"
    else:
        checksum_url = posixpath.join(posixpath.dirname(final_url), checksums)

    return {
        "name": name,
        "version": version,
        "arch": arch,
        "url": final_url,
        "upstream_url": upstream,
        "filename": filename,
        "format": fmt,
        "sha256": sha256,
        "checksum_url": checksum_url,
        "binaries": binary_specs(entry.get("binaries", [name]) if entry else [name], arch, version),
        "extract_all": bool(entry.get("extract_all", False)),
    }


def archive_format(filename):
    """tar (gz, xz, bz2), zip, or a bare binary."""
    lower = filename.lower()
    if lower.endswith((".tar.gz", ".tgz", ".tar.xz", ".tar.bz2", ".tar")):
        return "tar"
    if lower.endswith(".zip"):
        return "zip"
    if lower.endswith((".gz", ".xz", ".bz2", ".7z", ".rar", ".deb", ".rpm")):
        raise ArtifactError("unsupported artifact type: %s" % filename)
    return "binary"


def parse_checksums(text, filename):
    """Find ``filename``'s sha256 in a checksum file.

    Understands "<hash>  <name>", "<hash> *<name>" (binary mode), "<hash>  ./<name>", BSD style
    "SHA256 (<name>) = <hash>", and a file holding just one hash.
    """
    found = []
    lines = [line.strip() for line in (text or "").splitlines() if line.strip()]
    bsd = re.compile(r"^SHA256\s*\((.+)\)\s*=\s*([0-9a-fA-F]{64})$")
    for line in lines:
        match = bsd.match(line)
        if match:
            name, digest = match.group(1), match.group(2)
        else:
            parts = line.split(None, 1)
            if len(parts) == 1:
                if len(lines) == 1 and SHA256_RE.match(parts[0].lower()):
                    return parts[0].lower()
                continue
            digest, name = parts[0], parts[1].strip()
            if name.startswith("*"):
                name = name[1:]
        if name.startswith("./"):
            name = name[2:]
        if posixpath.basename(name) == filename and SHA256_RE.match(digest.lower()):
            found.append(digest.lower())
    if not found:
        raise ArtifactError("the checksum file lists no sha256 for %s" % filename)
    if len(set(found)) > 1:
        raise ArtifactError("the checksum file lists different sha256 values for %s" % filename)
    return found[0]


def sha256_file(path, chunk=1024 * 1024):
    digest = hashlib.sha256()
    with open(path, "rb") as handle:
        while True:
            block = handle.read(chunk)
            if not block:
                break
            digest.update(block)
    return digest.hexdigest()


def verify_sha256(path, expected, what=None):
    """Raise ArtifactError when the file's sha256 is not the expected one."""
    actual = sha256_file(path)
    expected = normalize_sha256(expected)
    if actual != expected:
        raise ArtifactError(
            "sha256 mismatch for %s: expected %s, got %s" % (what or os.path.basename(path), expected, actual)
        )
    return actual


def _strip_top(path):
    """Drop a single leading directory ("node_exporter-1.9.0.linux-amd64/node_exporter")."""
    parts = [p for p in path.split("/") if p not in ("", ".")]
    return "/".join(parts[1:]) if len(parts) > 1 else "/".join(parts)


def _safe_member(path):
    norm = posixpath.normpath(path)
    if norm.startswith("/") or norm == ".." or norm.startswith("../") or "/../" in norm:
        raise ArtifactError("unsafe path in archive: %s" % path)
    return norm


def list_members(archive, fmt):
    """Regular files (and symlinks for tar) in the archive, as normalised relative paths."""
    if fmt == "tar":
        with tarfile.open(archive, "r:*") as tar:
            return [_safe_member(m.name) for m in tar.getmembers() if m.isfile()]
    if fmt == "zip":
        with zipfile.ZipFile(archive) as zf:
            return [_safe_member(i.filename) for i in zf.infolist() if not i.is_dir()]
    raise ArtifactError("not an archive format: %s" % fmt)


def match_members(members, specs):
    """Map each binary spec to exactly one archive member.

    A member given with a "/" is matched against the path below the archive's top directory (or
    the full path); one without is matched by base name.
    """
    result = {}
    for spec in specs:
        want = spec["member"]
        if "/" in want:
            hits = [m for m in members if m == want or _strip_top(m) == want]
        else:
            hits = [m for m in members if posixpath.basename(m) == want]
        if not hits:
            raise ArtifactError("the archive has no file %r (it has: %s)" % (want, ", ".join(members[:20])))
        if len(hits) > 1:
            raise ArtifactError("the archive has several files matching %r: %s" % (want, ", ".join(hits)))
        result[spec["name"]] = hits[0]
    return result


def extract(archive, fmt, dest, specs, extract_all=False):
    """Unpack an artifact; a damaged archive is an ArtifactError (see _extract)."""
    try:
        return _extract(archive, fmt, dest, specs, extract_all)
    except (tarfile.TarError, zipfile.BadZipfile, EOFError, zlib_error) as exc:
        raise ArtifactError("cannot unpack %s: %s" % (os.path.basename(archive), exc))


def _extract(archive, fmt, dest, specs, extract_all=False):
    """Unpack an artifact into ``dest`` (which must exist and be empty).

    Without ``extract_all`` only the binaries are written, as ``dest/<name>``. With it, the whole
    archive is unpacked with its top directory stripped, and each binary stays where it is.
    Returns {name: path relative to dest} for the binaries.
    """
    if fmt == "binary":
        if len(specs) != 1:
            raise ArtifactError("a bare binary artifact can provide only one binary")
        target = os.path.join(dest, specs[0]["name"])
        shutil.copyfile(archive, target)
        os.chmod(target, 0o755)
        return {specs[0]["name"]: specs[0]["name"]}

    members = list_members(archive, fmt)
    mapping = match_members(members, specs)
    wanted = set(members) if extract_all else set(mapping.values())
    written = {}
    if fmt == "tar":
        with tarfile.open(archive, "r:*") as tar:
            for info in tar.getmembers():
                if not info.isfile():
                    continue
                name = _safe_member(info.name)
                if name not in wanted:
                    continue
                rel = _strip_top(name) if extract_all else None
                written[name] = _write(tar.extractfile(info), dest, rel, info.mode, name, mapping)
    else:
        with zipfile.ZipFile(archive) as zf:
            for info in zf.infolist():
                if info.is_dir():
                    continue
                name = _safe_member(info.filename)
                if name not in wanted:
                    continue
                rel = _strip_top(name) if extract_all else None
                mode = (info.external_attr >> 16) & 0o7777 or 0o644
                with zf.open(info) as src:
                    written[name] = _write(src, dest, rel, mode, name, mapping)
    return dict((binary, written[member]) for binary, member in mapping.items())


def _write(src, dest, rel, mode, member, mapping):
    binary_for = dict((m, b) for b, m in mapping.items())
    if rel is None:  # binaries only: flat, under their installed name
        rel = binary_for[member]
    target = os.path.join(dest, rel)
    parent = os.path.dirname(target)
    if parent and not os.path.isdir(parent):
        os.makedirs(parent, 0o755)
    with open(target, "wb") as out:
        shutil.copyfileobj(src, out)
    if member in binary_for:
        mode = 0o755
    os.chmod(target, (mode & 0o755) | stat.S_IRUSR | stat.S_IWUSR)
    return rel
