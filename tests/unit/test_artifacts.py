# SPDX-License-Identifier: Apache-2.0
"""The artifact table and the installer's pure logic (plugins/module_utils/artifacts.py)."""
import io
import os
import stat
import tarfile
import zipfile

import pytest

from ansible_collections.fleetwatch.observability.plugins.module_utils import artifacts as art


# --- architecture and versions -------------------------------------------------------------

@pytest.mark.parametrize("machine,expected", [
    ("x86_64", "amd64"), ("aarch64", "arm64"), ("armv7l", "armv7"), ("AMD64", "amd64"), ("ppc64le", "ppc64le"),
])
def test_normalize_arch(machine, expected):
    assert art.normalize_arch(machine) == expected


def test_unknown_arch_is_a_clear_error():
    with pytest.raises(art.ArtifactError, match="unsupported architecture 'mips'"):
        art.normalize_arch("mips")


@pytest.mark.parametrize("given,expected", [
    ("1.9.0", "1.9.0"), ("v1.9.0", "1.9.0"), (" 2.53.3 ", "2.53.3"), ("3.0.0-rc.1", "3.0.0-rc.1"),
])
def test_normalize_version(given, expected):
    assert art.normalize_version(given) == expected


@pytest.mark.parametrize("bad", ["latest", "1.9", "", None, "1.9.0; rm -rf /", "../1.9.0"])
def test_bad_versions_are_refused(bad):
    with pytest.raises(art.ArtifactError):
        art.normalize_version(bad)


@pytest.mark.parametrize("output,expected", [
    ("node_exporter, version 1.9.0 (branch: HEAD, revision: abc)", "1.9.0"),
    ("prometheus, version 2.53.3+ds1 (branch: debian/sid, revision: 2.53.3+ds1-2)", "2.53.3"),
    ("alloy, version v1.9.0 (branch: HEAD, revision: 1)", "1.9.0"),
    ("Version 12.0.0 (commit: 01dfd6c, branch: HEAD)", "12.0.0"),
    ("loki, version 3.5.0-rc.1 (branch: k)", "3.5.0-rc.1"),
    ("usage: tool [flags]", None),
    ("", None),
])
def test_parse_version_output(output, expected):
    assert art.parse_version_output(output) == expected


# --- the table ------------------------------------------------------------------------------

def test_upstream_node_exporter():
    info = art.resolve("node_exporter", "v1.9.0", "x86_64")
    assert info["url"] == ("https://github.com/prometheus/node_exporter/releases/download/v1.9.0/"
                           "node_exporter-1.9.0.linux-amd64.tar.gz")
    assert info["checksum_url"] == ("https://github.com/prometheus/node_exporter/releases/download/v1.9.0/"
                                    "sha256sums.txt")
    assert info["sha256"] is None
    assert info["format"] == "tar"
    assert info["binaries"] == [{"member": "node_exporter", "name": "node_exporter"}]


def test_redis_exporter_file_name_keeps_the_v():
    info = art.resolve("redis_exporter", "1.69.0", "aarch64")
    assert info["filename"] == "redis_exporter-v1.69.0.linux-arm64.tar.gz"


def test_zip_components_with_arch_in_member_name():
    info = art.resolve("alloy", "1.9.0", "x86_64")
    assert info["format"] == "zip"
    assert info["checksum_url"].endswith("/v1.9.0/SHA256SUMS")
    assert info["binaries"] == [{"member": "alloy-linux-amd64", "name": "alloy"}]


def test_grafana_checksum_is_a_per_file_sha256_and_tree_is_kept():
    info = art.resolve("grafana", "12.0.0", "x86_64")
    assert info["checksum_url"] == info["url"] + ".sha256"
    assert info["extract_all"] is True
    assert info["binaries"] == [{"member": "bin/grafana", "name": "grafana"}]


@pytest.mark.parametrize("name", sorted(art.COMPONENTS))
def test_every_component_resolves_for_amd64_and_arm64(name):
    for arch in ("x86_64", "aarch64"):
        info = art.resolve(name, "1.2.3", arch)
        assert info["url"].startswith("https://")
        assert "1.2.3" in info["url"]
        assert info["checksum_url"].startswith("https://")


def test_mirror_replaces_upstream_for_url_and_checksums():
    info = art.resolve("prometheus", "2.53.3", "x86_64", mirror="https://mirror.internal/fleetwatch/")
    assert info["url"] == "https://mirror.internal/fleetwatch/prometheus/2.53.3/prometheus-2.53.3.linux-amd64.tar.gz"
    assert info["checksum_url"] == "https://mirror.internal/fleetwatch/prometheus/2.53.3/sha256sums.txt"
    assert info["upstream_url"].startswith("https://github.com/prometheus/prometheus/")


def test_mirror_as_local_directory():
    info = art.resolve("node_exporter", "1.9.0", "x86_64", mirror="/srv/mirror")
    assert info["url"] == "/srv/mirror/node_exporter/1.9.0/node_exporter-1.9.0.linux-amd64.tar.gz"


def test_explicit_url_wins_over_mirror_and_is_templated():
    info = art.resolve("node_exporter", "1.9.0", "x86_64", mirror="/srv/mirror",
                       url="https://files.example/ne-{version}-{arch}.tar.gz")
    assert info["url"] == "https://files.example/ne-1.9.0-amd64.tar.gz"
    assert info["checksum_url"] == "https://files.example/sha256sums.txt"


@pytest.mark.parametrize("checksum", ["A" * 64, "sha256:" + "a" * 64])
def test_explicit_sha256(checksum):
    info = art.resolve("node_exporter", "1.9.0", "x86_64", checksum=checksum)
    assert info["sha256"] == "a" * 64
    assert info["checksum_url"] is None


def test_checksum_url_is_used_as_given():
    info = art.resolve("node_exporter", "1.9.0", "x86_64", checksum="https://sums.example/{version}/SUMS")
    assert info["checksum_url"] == "https://sums.example/1.9.0/SUMS"
    assert info["sha256"] is None


@pytest.mark.parametrize("bad", ["abc", "sha256:" + "g" * 64, "md5:" + "a" * 32, "a" * 63])
def test_bad_checksums_are_refused(bad):
    with pytest.raises(art.ArtifactError, match="invalid sha256"):
        art.resolve("node_exporter", "1.9.0", "x86_64", checksum=bad)


def test_unknown_component_needs_a_url():
    with pytest.raises(art.ArtifactError, match="unknown component 'mytool'"):
        art.resolve("mytool", "1.0.0", "x86_64")
    info = art.resolve("mytool", "1.0.0", "x86_64", url="https://x.example/mytool-{version}.tar.gz")
    assert info["binaries"] == [{"member": "mytool", "name": "mytool"}]


@pytest.mark.parametrize("name", ["", "../etc", "Node", "a b"])
def test_bad_component_names(name):
    with pytest.raises(art.ArtifactError, match="invalid component name"):
        art.resolve(name, "1.0.0", "x86_64", url="https://x.example/a.tar.gz")


def test_unsupported_artifact_type():
    with pytest.raises(art.ArtifactError, match="unsupported artifact type"):
        art.resolve("x", "1.0.0", "x86_64", url="https://x.example/x.deb")


def test_binary_specs_refuse_duplicates_and_paths():
    with pytest.raises(art.ArtifactError, match="same name twice"):
        art.binary_specs(["a/tool", "b/tool"], "amd64", "1.0.0")
    with pytest.raises(art.ArtifactError, match="invalid binary name"):
        art.binary_specs([{"member": "x", "name": "../x"}], "amd64", "1.0.0")
    with pytest.raises(art.ArtifactError, match="no binaries"):
        art.binary_specs([], "amd64", "1.0.0")


# --- checksum files -------------------------------------------------------------------------

SUMS = """\
{a}  node_exporter-1.9.0.darwin-amd64.tar.gz
{b}  node_exporter-1.9.0.linux-amd64.tar.gz
{c} *node_exporter-1.9.0.linux-arm64.tar.gz
""".format(a="1" * 64, b="2" * 64, c="3" * 64)


def test_parse_checksums_text_and_binary_mode():
    assert art.parse_checksums(SUMS, "node_exporter-1.9.0.linux-amd64.tar.gz") == "2" * 64
    assert art.parse_checksums(SUMS, "node_exporter-1.9.0.linux-arm64.tar.gz") == "3" * 64


def test_parse_checksums_bsd_and_single_hash_and_dot_slash():
    assert art.parse_checksums("SHA256 (loki-linux-amd64.zip) = %s\n" % ("4" * 64), "loki-linux-amd64.zip") == "4" * 64
    assert art.parse_checksums("%s\n" % ("5" * 64), "grafana.tar.gz") == "5" * 64
    assert art.parse_checksums("%s  ./tempo.tar.gz\n" % ("6" * 64), "tempo.tar.gz") == "6" * 64


def test_parse_checksums_missing_and_conflicting():
    with pytest.raises(art.ArtifactError, match="no sha256 for node_exporter-1.9.0.linux-386.tar.gz"):
        art.parse_checksums(SUMS, "node_exporter-1.9.0.linux-386.tar.gz")
    conflicting = "%s  a.tar.gz\n%s  a.tar.gz\n" % ("1" * 64, "2" * 64)
    with pytest.raises(art.ArtifactError, match="different sha256"):
        art.parse_checksums(conflicting, "a.tar.gz")
    with pytest.raises(art.ArtifactError):
        art.parse_checksums("<html>not found</html>", "a.tar.gz")


def test_verify_sha256(tmp_path):
    path = tmp_path / "f"
    path.write_bytes(b"hello")
    good = "2cf24dba5fb0a30e26e83b2ac5b9e29e1b161e5c1fa7425e73043362938b9824"
    assert art.verify_sha256(str(path), "sha256:" + good) == good
    with pytest.raises(art.ArtifactError, match="sha256 mismatch for f: expected 0+, got 2cf24d"):
        art.verify_sha256(str(path), "0" * 64)


# --- unpacking ------------------------------------------------------------------------------

def make_tar(path, files, top="tool-1.0.0.linux-amd64"):
    with tarfile.open(path, "w:gz") as tar:
        for name, data in files.items():
            info = tarfile.TarInfo(("%s/%s" % (top, name)) if top else name)
            info.size = len(data)
            info.mode = 0o644
            tar.addfile(info, io.BytesIO(data))
    return str(path)


def make_zip(path, files):
    with zipfile.ZipFile(path, "w") as zf:
        for name, data in files.items():
            zf.writestr(name, data)
    return str(path)


def test_extract_tar_binaries_only(tmp_path):
    archive = make_tar(tmp_path / "a.tar.gz", {"tool": b"#!bin", "promtool": b"#!p", "LICENSE": b"L"})
    dest = tmp_path / "out"
    dest.mkdir()
    specs = art.binary_specs(["tool", "promtool"], "amd64", "1.0.0")
    assert art.extract(archive, "tar", str(dest), specs) == {"tool": "tool", "promtool": "promtool"}
    assert sorted(os.listdir(dest)) == ["promtool", "tool"]
    assert stat.S_IMODE(os.stat(dest / "tool").st_mode) == 0o755
    assert (dest / "tool").read_bytes() == b"#!bin"


def test_extract_zip_renames_member(tmp_path):
    archive = make_zip(tmp_path / "loki.zip", {"loki-linux-amd64": b"ELF"})
    dest = tmp_path / "out"
    dest.mkdir()
    specs = art.binary_specs([{"member": "loki-linux-{arch}", "name": "loki"}], "amd64", "3.5.0")
    assert art.extract(archive, "zip", str(dest), specs) == {"loki": "loki"}
    assert (dest / "loki").read_bytes() == b"ELF"
    assert os.access(str(dest / "loki"), os.X_OK)


def test_extract_all_keeps_tree_and_strips_top(tmp_path):
    archive = make_tar(tmp_path / "g.tar.gz", {"bin/grafana": b"G", "public/index.html": b"<html>", "conf/defaults.ini": b"x"},
                       top="grafana-v12.0.0")
    dest = tmp_path / "out"
    dest.mkdir()
    specs = art.binary_specs(["bin/grafana"], "amd64", "12.0.0")
    assert art.extract(archive, "tar", str(dest), specs, extract_all=True) == {"grafana": "bin/grafana"}
    assert (dest / "public" / "index.html").read_bytes() == b"<html>"
    assert os.access(str(dest / "bin" / "grafana"), os.X_OK)


def test_extract_reports_missing_and_ambiguous_members(tmp_path):
    archive = make_tar(tmp_path / "a.tar.gz", {"x/tool": b"1", "y/tool": b"2"})
    dest = tmp_path / "out"
    dest.mkdir()
    with pytest.raises(art.ArtifactError, match="several files matching 'tool'"):
        art.extract(archive, "tar", str(dest), art.binary_specs(["tool"], "amd64", "1"))
    with pytest.raises(art.ArtifactError, match="no file 'other'"):
        art.extract(archive, "tar", str(dest), art.binary_specs(["other"], "amd64", "1"))


def test_extract_refuses_path_traversal(tmp_path):
    archive = make_tar(tmp_path / "evil.tar.gz", {"../../etc/passwd": b"root"}, top=None)
    dest = tmp_path / "out"
    dest.mkdir()
    with pytest.raises(art.ArtifactError, match="unsafe path"):
        art.extract(archive, "tar", str(dest), art.binary_specs(["passwd"], "amd64", "1"))
    assert not (tmp_path / "etc").exists()


def test_extract_corrupt_archive_fails(tmp_path):
    bad = tmp_path / "bad.tar.gz"
    bad.write_bytes(b"not a tarball")
    with pytest.raises(art.ArtifactError, match="cannot unpack bad.tar.gz"):
        art.extract(str(bad), "tar", str(tmp_path), art.binary_specs(["x"], "amd64", "1"))


# --- downgrades upstream says lose data (registry: downgrade_floors) ---------------------------

@pytest.mark.parametrize("current,wanted", [
    ("3.5.3", "2.53.3"), ("3.0.0", "2.54.1"), ("3.13.5", "v2.42.0"), ("4.0.0", "2.53.3"),
])
def test_a_prometheus_3_tsdb_is_not_handed_to_a_prometheus_older_than_2_55(current, wanted):
    with pytest.raises(art.ArtifactError) as caught:
        art.check_downgrade("prometheus", current, wanted)
    text = str(caught.value)
    assert "prometheus %s -> %s refused before any change" % (current, wanted) in text
    assert "2.55.0 or newer" in text and "Prometheus 3" in text


@pytest.mark.parametrize("current,wanted", [
    (None, "2.53.3"),          # first install
    ("2.53.3", "3.5.3"),       # the upgrade
    ("3.5.3", "2.55.1"),       # the downgrade upstream supports
    ("3.5.3", "3.0.0"),
    ("2.53.3", "2.42.0"),      # within 2.x
    ("3.5.3", "3.5.3"),
])
def test_other_prometheus_switches_pass(current, wanted):
    assert art.check_downgrade("prometheus", current, wanted) is None


def test_components_without_floors_downgrade_freely():
    assert art.check_downgrade("alertmanager", "0.33.1", "0.28.1") is None
    assert art.check_downgrade("node_exporter", "1.11.1", "1.5.0") is None


def test_unparsable_installed_versions_are_not_taken_for_a_known_downgrade():
    assert art.check_downgrade("prometheus", "main-build", "2.53.3") is None
    floors = [{"from": "1.0.0", "floor": "0.9.0", "reason": "format changed."}]
    with pytest.raises(art.ArtifactError, match=r"x 1\.2\.0 -> 0\.8\.1 refused.*format changed\. Go back to 0\.9\.0"):
        art.check_downgrade("x", "1.2.0", "0.8.1", floors)
    assert art.check_downgrade("x", "0.9.5", "0.8.1", floors) is None
