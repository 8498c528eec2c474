# SPDX-License-Identifier: Apache-2.0
"""The mirror's Alertmanager 0.28.1 (alertmanager and amtool, unpacked once per test session) and a
helper that writes a rendered configuration with its secret files and runs amtool check-config."""
import glob
import os
import shutil
import subprocess
import tarfile

import pytest

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


def binaries(tmp_path_factory):
    """{alertmanager, amtool, tarball} of the newest Alertmanager in .cache/mirror (skips without the artifact)."""
    tarballs = sorted(glob.glob(os.path.join(ROOT, ".cache", "mirror", "alertmanager", "*", "alertmanager-*.linux-amd64.tar.gz")),
                      key=lambda path: [int(p) for p in os.path.basename(os.path.dirname(path)).split(".") if p.isdigit()])
    if not tarballs or os.uname().machine != "x86_64":
        pytest.skip("skipped: no Alertmanager artifact in .cache/mirror (../shared/mirror is missing)")
    where = tmp_path_factory.mktemp("am-bin")
    with tarfile.open(tarballs[-1]) as archive:
        members = [m for m in archive.getmembers() if os.path.basename(m.name) in ("alertmanager", "amtool")]
        for member in members:
            member.name = os.path.basename(member.name)
            archive.extract(member, str(where))
    return {"alertmanager": str(where / "alertmanager"), "amtool": str(where / "amtool"), "tarball": tarballs[-1]}


def write_secrets(secrets):
    for item in secrets:
        os.makedirs(os.path.dirname(item["path"]), exist_ok=True)
        with open(item["path"], "w") as handle:
            handle.write(item["content"])
        os.chmod(item["path"], 0o640)


def check_config(amtool, path):
    """(returncode, output) of amtool check-config PATH."""
    out = subprocess.run([amtool, "check-config", str(path)], stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
                         universal_newlines=True, check=False)
    return out.returncode, out.stdout


# Debian's build of Alertmanager (the test mirror's) reads its notification templates from
# /usr/share/prometheus/alertmanager/ (upstream's embeds them; the test hosts carry them, see
# harness.sh). Here it runs in a private mount namespace with empty ones there (parsing needs the
# files; these tests send no notification), leaving the machine's /usr/share untouched.
DEBIAN_TEMPLATES = ("mount -t tmpfs fw-am /usr/share && mkdir -p /usr/share/prometheus/alertmanager"
                    " && : > /usr/share/prometheus/alertmanager/default.tmpl"
                    " && : > /usr/share/prometheus/alertmanager/email.tmpl && exec \"$0\" \"$@\"")


def start_alertmanager(binary, args):
    """A running Alertmanager (Popen); skips where a private mount namespace cannot be made."""
    probe = subprocess.run(["unshare", "--mount", "--propagation", "private", "true"], stdout=subprocess.DEVNULL,
                           stderr=subprocess.DEVNULL, check=False) if shutil.which("unshare") else None
    if probe is None or probe.returncode != 0:
        pytest.skip("skipped: Debian's Alertmanager build needs its templates in /usr/share, given in a private mount "
                    "namespace, which needs unshare and root")
    return subprocess.Popen(["unshare", "--mount", "--propagation", "private", "sh", "-c", DEBIAN_TEMPLATES, binary] + list(args),
                            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
