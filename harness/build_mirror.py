# SPDX-License-Identifier: Apache-2.0
"""Build the local artifact mirror used by tests and the lab.

Runs inside a Debian test-host container (it needs apt for the suite's packages). For each
component it downloads the Debian package, takes the real binaries out of it and packs them as
the upstream release archive would be (same file name, one top directory, binaries under their
upstream names), with a ``sha256sums.txt`` beside it, in ``<mirror>/<component>/<version>/``:
the layout the collection's ``fleetwatch_artifact_mirror`` expects. The archives exercise the same
download, checksum and unpack code path as upstream's.

Which components, and from which Debian packages, is the registry's business
(plugins/module_utils/registry.py); Grafana, Loki, Tempo, Alloy and Promtail are not packaged by
Debian, so they are not in this mirror.

Usage: build_mirror.py MIRROR_DIR   (with the collection mounted at /src)
"""
import io
import os
import re
import subprocess
import sys
import tarfile
import tempfile

sys.path.insert(0, "/src/plugins/module_utils")
import artifacts  # noqa: E402  pylint: disable=wrong-import-position
import registry  # noqa: E402  pylint: disable=wrong-import-position

# component: (Debian package giving the version, {upstream binary name: "package:path"}), from the
# component registry (plugins/module_utils/registry.py: each component's "debian" entry).
PACKAGES = registry.debian_packages()


# Releases from other Debian suites besides the image's (trixie), so that upgrades and downgrades
# run with real binaries: sid's are the newest Debian carries (Prometheus 3, the current
# Alertmanager and exporters: what the tests pin), trixie's the previous ones (the Prometheus 2.53
# -> 3 upgrade starts there), bookworm's node_exporter an older one still.
NEWEST = "sid"
EXTRA_SUITES = {
    "prometheus": [NEWEST], "alertmanager": [NEWEST], "node_exporter": ["bookworm", NEWEST],
    "postgres_exporter": [NEWEST], "redis_exporter": [NEWEST],
}


def upstream_version(debian_version):
    """'1:2.53.3+ds1-2+b1' -> '2.53.3'"""
    version = debian_version.split(":", 1)[-1].rsplit("-", 1)[0]
    return re.split(r"[+~]", version, maxsplit=1)[0]


def run(*cmd, **kw):
    return subprocess.run(cmd, check=True, stdout=subprocess.PIPE, universal_newlines=True, **kw).stdout


def image_suite():
    with open("/etc/os-release") as handle:
        for line in handle:
            if line.startswith("VERSION_CODENAME="):
                return line.split("=", 1)[1].strip().strip('"')
    raise SystemExit("build_mirror: no VERSION_CODENAME in /etc/os-release")


def download(names, work, suite=None):
    """Download packages (of the image's suite, or another one) into work; return name -> deb."""
    os.makedirs(work, exist_ok=True)
    run("apt-get", "download", "-qq", *["%s/%s" % (n, suite) if suite else n for n in names], cwd=work)
    return {f.split("_", 1)[0]: os.path.join(work, f) for f in os.listdir(work) if f.endswith(".deb")}


def main(mirror):
    arch = artifacts.normalize_arch(os.uname().machine)
    suites = sorted(set(s for lst in EXTRA_SUITES.values() for s in lst))
    if suites:
        with open("/etc/apt/sources.list.d/fleetwatch-extra.sources", "w") as out:
            # sid's Release file in the package registry's copy can be past its Valid-Until date
            # (see ../shared/notes/test-harness.md): still signed, so it is accepted without that check.
            out.write("Types: deb\nURIs: http://deb.debian.org/debian\nSuites: %s\nComponents: main\n"
                      "Check-Valid-Until: no\n"
                      "Signed-By: /usr/share/keyrings/debian-archive-keyring.gpg\n" % " ".join(suites))
    run("apt-get", "update", "-qq")
    work = tempfile.mkdtemp()
    names = sorted(set([pkg for pkg, _bins in PACKAGES.values()] + [
        path.split(":", 1)[0] for _pkg, bins in PACKAGES.values() for path in bins.values() if ":" in path]))
    # With the extra suites in the sources, apt would pick their newer versions: name the image's own.
    builds = [(None, download(names, os.path.join(work, "default"), image_suite()))]
    for suite in suites:
        wanted = sorted(set(p for c, (p, b) in PACKAGES.items() if suite in EXTRA_SUITES.get(c, [])
                            for p in [p] + [x.split(":", 1)[0] for x in b.values() if ":" in x]))
        builds.append((suite, download(wanted, os.path.join(work, suite), suite)))
    versions = {}
    for suite, debs in builds:
        for component, (package, binaries) in sorted(PACKAGES.items()):
            if suite and suite not in EXTRA_SUITES.get(component, []):
                continue
            pack(mirror, arch, debs, component, package, binaries, versions)
    with open(os.path.join(mirror, "versions.yml"), "w") as out:
        out.write("---\n# Versions in this mirror (made from Debian packages)\n")
        for component, found in sorted(versions.items()):
            out.write("%s: [%s]\n" % (component, ", ".join(found)))


def pack(mirror, arch, debs, component, package, binaries, versions):
    """Repack one Debian package as the upstream release archive, with its sha256sums.txt."""
    deb = debs[package]
    version = upstream_version(run("dpkg-deb", "-f", deb, "Version").strip())
    trees = {}
    for pkg in set([package] + [p.split(":", 1)[0] for p in binaries.values() if ":" in p]):
        trees[pkg] = os.path.join(os.path.dirname(debs[pkg]), "tree-" + pkg)
        run("dpkg-deb", "-x", debs[pkg], trees[pkg])
    info = artifacts.resolve(component, version, arch)
    top = re.sub(r"\.(tar\.gz|tgz)$", "", info["filename"])
    outdir = os.path.join(mirror, component, version)
    os.makedirs(outdir, exist_ok=True)
    archive = os.path.join(outdir, info["filename"])
    with tarfile.open(archive, "w:gz") as tar:
        for name, path in binaries.items():
            pkg, path = path.split(":", 1) if ":" in path else (package, path)
            tar.add(os.path.join(trees[pkg], path), arcname="%s/%s" % (top, name))
        note = ("Built for the fleetwatch test mirror from Debian package %s %s.\n"
                "Not an upstream release archive.\n" % (package, version)).encode()
        ti = tarfile.TarInfo("%s/NOTICE.fleetwatch-mirror" % top)
        ti.size = len(note)
        tar.addfile(ti, io.BytesIO(note))
    digest = artifacts.sha256_file(archive)
    with open(os.path.join(outdir, "sha256sums.txt"), "w") as out:
        out.write("%s  %s\n" % (digest, info["filename"]))
    versions.setdefault(component, []).append(version)
    print("%-18s %-8s %s" % (component, version, info["filename"]))


if __name__ == "__main__":
    main(sys.argv[1])
