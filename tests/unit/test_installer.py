# SPDX-License-Identifier: Apache-2.0
"""The shared installer end to end on the local filesystem: the target-side module
(plugins/modules/artifact_install.py) and the controller-side cache of the action plugin.

The archives here are built by the tests; their "binary" is a shell script that prints a version
line like the real programs do, so the module's version check runs for real.
"""
import errno
import io
import json
import os
import re
import tarfile

import pytest

from ansible.errors import AnsibleActionFail
from ansible.module_utils.testing import patch_module_args

from ansible_collections.fleetwatch.observability.plugins.action import artifact_install as action
from ansible_collections.fleetwatch.observability.plugins.module_utils import artifacts as art
from ansible_collections.fleetwatch.observability.plugins.modules import artifact_install as module


def release(folder, version, reported=None, name="tool"):
    """A release-shaped archive whose binary reports `reported` (default: version)."""
    script = ("#!/bin/sh\necho '%s, version %s (branch: HEAD, revision: test)'\n" % (name, reported or version)).encode()
    path = os.path.join(str(folder), "%s-%s.linux-amd64.tar.gz" % (name, version))
    with tarfile.open(path, "w:gz") as tar:
        for member, data in (("%s-%s.linux-amd64/%s" % (name, version, name), script),
                             ("%s-%s.linux-amd64/LICENSE" % (name, version), b"license")):
            info = tarfile.TarInfo(member)
            info.size = len(data)
            info.mode = 0o755
            tar.addfile(info, io.BytesIO(data))
    return path


def run(capsys, **args):
    with patch_module_args(args):
        with pytest.raises(SystemExit):
            module.main()
    return json.loads(capsys.readouterr().out)


@pytest.fixture
def dirs(tmp_path):
    install, bindir = tmp_path / "opt", tmp_path / "bin"
    return {"install_dir": str(install), "bin_dir": str(bindir), "name": "tool", "binaries": ["tool"],
            "url": "https://example.invalid/tool-{version}.linux-{arch}.tar.gz", "arch": "x86_64"}


def install(capsys, dirs, archive, version, **extra):
    args = dict(dirs, version=version, src=archive, sha256=art.sha256_file(archive),
                url_used=os.path.basename(archive), **extra)
    return run(capsys, **args)


def link_of(dirs):
    return os.readlink(os.path.join(dirs["bin_dir"], "tool"))


def test_install_then_rerun_changes_nothing(tmp_path, capsys, dirs):
    archive = release(tmp_path, "1.0.0")
    first = install(capsys, dirs, archive, "1.0.0")
    assert first["changed"] is True and first["action"] == "install"
    assert first["reported_version"] == "1.0.0"
    assert link_of(dirs) == os.path.join(dirs["install_dir"], "tool", "1.0.0", "tool")
    marker = json.load(open(os.path.join(dirs["install_dir"], "tool", "1.0.0", art.MARKER)))
    assert marker["version"] == "1.0.0" and marker["sha256"] == art.sha256_file(archive)
    # the probe of a rerun: installed, nothing to transfer
    probe = run(capsys, **dict(dirs, version="1.0.0"))
    assert probe["changed"] is False and probe["action"] == "none"
    assert "needs_archive" not in probe
    assert probe["previous_version"] == "1.0.0"


def test_probe_asks_for_the_archive_when_version_differs(tmp_path, capsys, dirs):
    install(capsys, dirs, release(tmp_path, "1.0.0"), "1.0.0")
    probe = run(capsys, **dict(dirs, version="v2.0.0"))
    assert probe["needs_archive"] is True
    assert probe["previous_version"] == "1.0.0"
    assert probe["arch"] == "amd64"
    assert link_of(dirs).endswith("/1.0.0/tool")


def test_upgrade_then_downgrade_to_a_kept_version_only_relinks(tmp_path, capsys, dirs):
    install(capsys, dirs, release(tmp_path, "1.0.0"), "1.0.0")
    up = install(capsys, dirs, release(tmp_path, "2.0.0"), "2.0.0")
    assert up["changed"] and up["previous_version"] == "1.0.0"
    assert link_of(dirs).endswith("/2.0.0/tool")
    down = run(capsys, **dict(dirs, version="1.0.0"))  # no archive given: 1.0.0 is still on disk
    assert down["changed"] is True and down["action"] == "relink"
    assert link_of(dirs).endswith("/1.0.0/tool")


def test_old_versions_are_pruned(tmp_path, capsys, dirs):
    for version in ("1.0.0", "1.1.0", "1.2.0"):
        result = install(capsys, dirs, release(tmp_path, version), version, keep=2)
    assert result["removed_versions"] == ["1.0.0"]
    assert sorted(v for v in os.listdir(os.path.join(dirs["install_dir"], "tool")) if not v.startswith(".")) == [
        "1.1.0", "1.2.0"]


def versions_on_disk(dirs):
    root = os.path.join(dirs["install_dir"], "tool")
    return sorted(v for v in os.listdir(root) if not v.startswith("."))


def aged_install(capsys, tmp_path, dirs, version, when, **extra):
    """Install, then date the new version's directory `when` seconds into the epoch, as if the
    installs had happened far apart (the order of the switches is what matters, not mtimes)."""
    result = install(capsys, dirs, release(tmp_path, version), version, **extra)
    os.utime(os.path.join(dirs["install_dir"], "tool", version), (when, when))
    return result


def switch(capsys, dirs, version, **extra):
    """Go back to a kept version: no archive, only the links change."""
    result = run(capsys, **dict(dirs, version=version, **extra))
    assert result["action"] == "relink", result
    return result


def test_upgrade_downgrade_upgrade_keeps_the_real_rollback_target(tmp_path, capsys, dirs):
    aged_install(capsys, tmp_path, dirs, "1.0.0", 1000)
    aged_install(capsys, tmp_path, dirs, "2.0.0", 2000)   # upgrade
    switch(capsys, dirs, "1.0.0")                          # downgrade: 2.0.0 was bad
    up = aged_install(capsys, tmp_path, dirs, "3.0.0", 3000)  # upgrade again, from 1.0.0
    assert up["previous_version"] == "1.0.0"
    # 1.0.0 was current before this switch: it is the rollback target and must stay, although
    # 2.0.0's directory is newer.
    assert up["removed_versions"] == ["2.0.0"]
    assert versions_on_disk(dirs) == ["1.0.0", "3.0.0"]
    back = switch(capsys, dirs, "1.0.0")
    assert back["changed"] is True and link_of(dirs).endswith("/1.0.0/tool")


def test_keep_one_keeps_only_the_current_version(tmp_path, capsys, dirs):
    aged_install(capsys, tmp_path, dirs, "1.0.0", 1000, keep=1)
    result = aged_install(capsys, tmp_path, dirs, "2.0.0", 2000, keep=1)
    assert result["removed_versions"] == ["1.0.0"]
    assert versions_on_disk(dirs) == ["2.0.0"]


def test_keep_three_keeps_the_last_three_current_versions(tmp_path, capsys, dirs):
    aged_install(capsys, tmp_path, dirs, "1.0.0", 1000, keep=3)
    aged_install(capsys, tmp_path, dirs, "2.0.0", 2000, keep=3)
    aged_install(capsys, tmp_path, dirs, "3.0.0", 3000, keep=3)
    assert versions_on_disk(dirs) == ["1.0.0", "2.0.0", "3.0.0"]
    switch(capsys, dirs, "1.0.0", keep=3)   # history: 1.0.0, 3.0.0, 2.0.0
    result = aged_install(capsys, tmp_path, dirs, "4.0.0", 4000, keep=3)
    # current 4.0.0, then 1.0.0 (current before), then 3.0.0; 2.0.0 is the oldest switch
    assert result["removed_versions"] == ["2.0.0"]
    assert versions_on_disk(dirs) == ["1.0.0", "3.0.0", "4.0.0"]


def test_history_starts_from_the_linked_version_on_an_older_install(tmp_path, capsys, dirs):
    """A root installed before the history existed: the linked version is the previous one."""
    aged_install(capsys, tmp_path, dirs, "1.0.0", 2000)
    aged_install(capsys, tmp_path, dirs, "0.9.0", 3000)
    switch(capsys, dirs, "1.0.0")
    os.unlink(os.path.join(dirs["install_dir"], "tool", module.STATE))
    result = aged_install(capsys, tmp_path, dirs, "2.0.0", 4000)
    assert result["removed_versions"] == ["0.9.0"]
    assert versions_on_disk(dirs) == ["1.0.0", "2.0.0"]


def test_wrong_checksum_leaves_the_installed_version(tmp_path, capsys, dirs):
    install(capsys, dirs, release(tmp_path, "1.0.0"), "1.0.0")
    archive = release(tmp_path, "2.0.0")
    result = run(capsys, **dict(dirs, version="2.0.0", src=archive, sha256="0" * 64, url_used=os.path.basename(archive)))
    assert result["failed"] is True
    assert "sha256 mismatch" in result["msg"]
    assert link_of(dirs).endswith("/1.0.0/tool")
    assert not os.path.exists(os.path.join(dirs["install_dir"], "tool", "2.0.0"))


def test_binary_reporting_another_version_is_refused(tmp_path, capsys, dirs):
    install(capsys, dirs, release(tmp_path, "1.0.0"), "1.0.0")
    result = install(capsys, dirs, release(tmp_path, "3.0.0", reported="2.9.9"), "3.0.0")
    assert result["failed"] is True
    assert "reports version 2.9.9, expected 3.0.0" in result["msg"]
    assert link_of(dirs).endswith("/1.0.0/tool")
    assert not os.path.exists(os.path.join(dirs["install_dir"], "tool", "3.0.0"))


def test_check_mode_changes_nothing(tmp_path, capsys, dirs):
    archive = release(tmp_path, "1.0.0")
    result = install(capsys, dirs, archive, "1.0.0", _ansible_check_mode=True)
    assert result["changed"] is True
    assert not os.path.exists(dirs["bin_dir"])
    assert not os.path.exists(os.path.join(dirs["install_dir"], "tool", "1.0.0"))


def test_a_binary_installed_by_other_means_is_kept_aside(tmp_path, capsys, dirs):
    os.makedirs(dirs["bin_dir"])
    with open(os.path.join(dirs["bin_dir"], "tool"), "w") as handle:
        handle.write("old")
    install(capsys, dirs, release(tmp_path, "1.0.0"), "1.0.0")
    assert link_of(dirs).endswith("/1.0.0/tool")
    assert open(os.path.join(dirs["bin_dir"], "tool.fleetwatch-replaced")).read() == "old"


def test_explicit_sha256_different_from_installed_asks_for_archive(tmp_path, capsys, dirs):
    install(capsys, dirs, release(tmp_path, "1.0.0"), "1.0.0")
    probe = run(capsys, **dict(dirs, version="1.0.0", checksum="sha256:" + "1" * 64))
    assert probe["needs_archive"] is True


@pytest.mark.parametrize("bad,message", [
    ({"version": "latest"}, "invalid version"),
    ({"version": "1.0.0", "arch": "mips"}, "unsupported architecture"),
    ({"version": "1.0.0", "checksum": "nope"}, "invalid sha256"),
])
def test_bad_input_fails_clearly(capsys, dirs, bad, message):
    result = run(capsys, **dict(dirs, **bad))
    assert result["failed"] is True
    assert message in result["msg"]


# --- controller cache (action plugin) -------------------------------------------------------

def mirror_with(tmp_path, version="1.0.0"):
    mirror = tmp_path / "mirror"
    folder = mirror / "tool" / version
    folder.mkdir(parents=True)
    archive = release(folder, version)
    (folder / "sha256sums.txt").write_text("%s  %s\n" % (art.sha256_file(archive), os.path.basename(archive)))
    return mirror, archive


def resolve(mirror, version="1.0.0", **kw):
    return art.resolve("tool", version, "x86_64", url=kw.pop("url", None), mirror=str(mirror),
                       table={"tool": {"url": "https://example.invalid/tool-{version}.linux-{arch}.tar.gz",
                                       "checksums": "sha256sums.txt", "binaries": ["tool"]}}, **kw)


def test_cache_downloads_once_and_verifies(tmp_path):
    mirror, archive = mirror_with(tmp_path)
    cache = tmp_path / "cache"
    path, sha = action.cached_artifact(resolve(mirror), str(cache))
    assert sha == art.sha256_file(archive)
    assert open(path, "rb").read() == open(archive, "rb").read()
    os.unlink(archive)  # the mirror is no longer needed: the cache serves the next host
    again, _sha = action.cached_artifact(resolve(mirror), str(cache))
    assert again == path


def test_cache_replaces_a_corrupted_cached_file(tmp_path):
    """A cached copy that no longer matches is downloaded once more, not an error."""
    mirror, archive = mirror_with(tmp_path)
    cache = tmp_path / "cache"
    path, _sha = action.cached_artifact(resolve(mirror), str(cache))
    with open(path, "ab") as handle:
        handle.write(b"tampered")
    again, sha = action.cached_artifact(resolve(mirror), str(cache))
    assert again == path and sha == art.sha256_file(archive) == art.sha256_file(path)


def test_cache_drops_a_download_that_does_not_match(tmp_path):
    mirror, archive = mirror_with(tmp_path)
    cache = tmp_path / "cache"
    path, _sha = action.cached_artifact(resolve(mirror), str(cache))
    with open(archive, "ab") as handle:  # the mirror's file is damaged, its list is not
        handle.write(b"tampered")
    with open(path, "ab") as handle:
        handle.write(b"tampered")
    with pytest.raises(art.ArtifactError, match="sha256 mismatch"):
        action.cached_artifact(resolve(mirror), str(cache))
    assert not os.path.exists(path)


def test_cache_explicit_checksum_wrong(tmp_path):
    mirror, _archive = mirror_with(tmp_path)
    with pytest.raises(art.ArtifactError, match="sha256 mismatch"):
        action.cached_artifact(resolve(mirror, checksum="f" * 64), str(tmp_path / "cache"))


def test_cache_missing_artifact_and_missing_checksum_entry(tmp_path):
    mirror, _archive = mirror_with(tmp_path)
    with pytest.raises(art.ArtifactError, match="does not exist"):
        action.cached_artifact(resolve(mirror, version="9.9.9"), str(tmp_path / "cache"))
    (mirror / "tool" / "1.0.0" / "sha256sums.txt").write_text("%s  other.tar.gz\n" % ("1" * 64))
    with pytest.raises(art.ArtifactError, match="lists no sha256 for tool-1.0.0.linux-amd64.tar.gz"):
        action.cached_artifact(resolve(mirror), str(tmp_path / "cache2"))


def test_fetch_reports_unreachable_urls(tmp_path):
    with pytest.raises(art.ArtifactError, match="cannot download http://127.0.0.1:9/x"):
        action.fetch("http://127.0.0.1:9/x", str(tmp_path / "x"), timeout=2)
    assert not os.path.exists(str(tmp_path / "x.part"))


def test_cache_after_the_mirror_is_rebuilt(tmp_path):
    """A new archive (new sha256) in the mirror is checked against the new list, not a cached one."""
    mirror, archive = mirror_with(tmp_path)
    cache = tmp_path / "cache"
    path, first = action.cached_artifact(resolve(mirror), str(cache))
    os.unlink(path)  # e.g. dropped after a failed run
    with open(archive, "ab") as handle:  # the rebuilt archive differs...
        handle.write(b"\0" * 64)
    sums = mirror / "tool" / "1.0.0" / "sha256sums.txt"  # ...and so does its list
    sums.write_text("%s  %s\n" % (art.sha256_file(archive), os.path.basename(archive)))
    _first, second = action.cached_artifact(resolve(mirror), str(cache))
    assert second == art.sha256_file(archive) != first


# --- the cache is keyed by the URL; a cached file that fails the checksum is fetched once more -----

@pytest.fixture
def fetches(monkeypatch):
    """Every location action.fetch is asked for, in order (the real fetch still runs)."""
    seen = []
    real = action.fetch

    def spy(location, dest, *args, **kwargs):
        seen.append(location)
        return real(location, dest, *args, **kwargs)

    monkeypatch.setattr(action, "fetch", spy)
    return seen


def archives(seen):
    return [u for u in seen if u.endswith(".tar.gz")]


def two_mirrors(tmp_path):
    """Two mirrors with a file of the same name and different content (another build)."""
    a, archive_a = mirror_with(tmp_path / "a")
    b_folder = tmp_path / "b" / "mirror" / "tool" / "1.0.0"
    b_folder.mkdir(parents=True)
    archive_b = release(b_folder, "1.0.0", reported="1.0.0 rebuilt")
    (b_folder / "sha256sums.txt").write_text("%s  %s\n" % (art.sha256_file(archive_b), os.path.basename(archive_b)))
    assert os.path.basename(archive_a) == os.path.basename(archive_b)
    assert art.sha256_file(archive_a) != art.sha256_file(archive_b)
    return (a, archive_a), (tmp_path / "b" / "mirror", archive_b)


def test_cache_is_keyed_by_the_url(tmp_path, fetches):
    (mirror_a, archive_a), (mirror_b, archive_b) = two_mirrors(tmp_path)
    cache = str(tmp_path / "cache")
    path_a, sha_a = action.cached_artifact(resolve(mirror_a), cache)
    path_b, sha_b = action.cached_artifact(resolve(mirror_b), cache)  # same file name, another mirror
    assert path_a != path_b
    assert (sha_a, sha_b) == (art.sha256_file(archive_a), art.sha256_file(archive_b))
    assert open(path_b, "rb").read() == open(archive_b, "rb").read()
    assert archives(fetches) == [str(mirror_a) + "/tool/1.0.0/" + os.path.basename(archive_a),
                                 str(mirror_b) + "/tool/1.0.0/" + os.path.basename(archive_b)]
    # each stays cached: neither is downloaded again
    del fetches[:]
    assert action.cached_artifact(resolve(mirror_a), cache)[0] == path_a
    assert action.cached_artifact(resolve(mirror_b), cache)[0] == path_b
    assert archives(fetches) == []


def test_cache_a_changed_archive_url_is_fetched_from_the_new_url(tmp_path, fetches):
    (mirror_a, archive_a), (mirror_b, archive_b) = two_mirrors(tmp_path)
    cache = str(tmp_path / "cache")
    url = "file://%s/tool/1.0.0/tool-{version}.linux-{arch}.tar.gz"
    first = action.cached_artifact(resolve(None, url=url % mirror_a, checksum=art.sha256_file(archive_a)), cache)
    second = action.cached_artifact(resolve(None, url=url % mirror_b, checksum=art.sha256_file(archive_b)), cache)
    assert first[1] == art.sha256_file(archive_a) and second[1] == art.sha256_file(archive_b)
    assert archives(fetches) == [url.format(version="1.0.0", arch="amd64") % m for m in (mirror_a, mirror_b)]


def test_cache_a_new_pinned_checksum_fetches_again(tmp_path, fetches):
    """The file behind the URL was re-published and the pin updated: fetch it again, don't fail."""
    mirror, archive = mirror_with(tmp_path)
    cache = str(tmp_path / "cache")
    old_sha = art.sha256_file(archive)
    path, _sha = action.cached_artifact(resolve(mirror, checksum=old_sha), cache)
    with open(archive, "ab") as handle:
        handle.write(b"\0" * 64)
    new_sha = art.sha256_file(archive)
    del fetches[:]
    again, sha = action.cached_artifact(resolve(mirror, checksum="sha256:" + new_sha), cache)
    assert again == path and sha == new_sha == art.sha256_file(path)
    assert len(archives(fetches)) == 1


def test_cache_a_wrong_pin_fails_after_one_more_download(tmp_path, fetches):
    mirror, archive = mirror_with(tmp_path)
    cache = str(tmp_path / "cache")
    path, _sha = action.cached_artifact(resolve(mirror, checksum=art.sha256_file(archive)), cache)
    del fetches[:]
    with pytest.raises(art.ArtifactError, match="sha256 mismatch"):
        action.cached_artifact(resolve(mirror, checksum="e" * 64), cache)
    assert len(archives(fetches)) == 1  # once more, not in a loop
    assert not os.path.exists(path)


# --- errors of the cache itself: a clear message naming the path, not a traceback -------------

def test_cache_dir_that_cannot_be_created(tmp_path):
    mirror, _archive = mirror_with(tmp_path)
    blocker = tmp_path / "not-a-dir"
    blocker.write_text("a file where the cache should be")
    with pytest.raises(action.CacheError, match="cannot use the controller's artifact cache at %s" % blocker):
        action.cached_artifact(resolve(mirror), str(blocker / "cache"))
    with pytest.raises(AnsibleActionFail) as failure:
        action.controller_artifact(resolve(mirror), {"cache_dir": str(blocker / "cache")}, installed="0.9.0")
    message = str(failure.value)
    assert str(blocker) in message and "tool 0.9.0 stays in place" in message


def test_cache_lock_denied(tmp_path, monkeypatch):
    mirror, _archive = mirror_with(tmp_path)
    info = resolve(mirror)
    lock = os.path.join(action.cache_folder(info, str(tmp_path / "cache")), info["filename"] + ".lock")

    def denied(handle, operation):
        raise PermissionError(errno.EACCES, "Permission denied")

    monkeypatch.setattr(action.fcntl, "flock", denied)
    with pytest.raises(AnsibleActionFail, match="artifact cache at %s: Permission denied" % re.escape(lock)):
        action.controller_artifact(info, {"cache_dir": str(tmp_path / "cache")})


def test_cache_lock_file_that_cannot_be_opened(tmp_path):
    mirror, _archive = mirror_with(tmp_path)
    info = resolve(mirror)
    lock = os.path.join(action.cache_folder(info, str(tmp_path / "cache")), info["filename"] + ".lock")
    os.makedirs(lock)  # open(..., "w") fails (as it would for a lock file of another user)
    with pytest.raises(action.CacheError, match=re.escape(lock)):
        action.cached_artifact(info, str(tmp_path / "cache"))


@pytest.mark.skipif(not os.path.exists("/dev/full"), reason="needs /dev/full")
def test_cache_disk_full(tmp_path):
    """Writing the download fails with ENOSPC: the cache file is named, no partial file stays."""
    mirror, _archive = mirror_with(tmp_path)
    info = resolve(mirror)
    folder = action.cache_folder(info, str(tmp_path / "cache"))
    os.makedirs(folder)
    part = os.path.join(folder, info["filename"] + ".part")
    os.symlink("/dev/full", part)  # every write to the partial download: no space left on device
    with pytest.raises(AnsibleActionFail) as failure:
        action.controller_artifact(info, {"cache_dir": str(tmp_path / "cache")})
    assert "artifact cache at %s: No space left on device" % part in str(failure.value)
    assert not os.path.lexists(part)
    assert not os.path.exists(os.path.join(folder, info["filename"]))
    # with room again, the next run downloads
    assert action.cached_artifact(info, str(tmp_path / "cache"))[0] == os.path.join(folder, info["filename"])


# --- version: latest, resolved once and pinned ------------------------------------------------------

def test_latest_from_a_mirror_directory_is_pinned_and_never_moves_by_itself(tmp_path):
    mirror = tmp_path / "mirror"
    for version in ("1.9.0", "1.11.1", "1.5.0", "not-a-version"):
        (mirror / "node_exporter" / version).mkdir(parents=True)
    args = {"mirror": str(mirror), "cache_dir": str(tmp_path / "cache")}
    version, lock, fresh = action.resolve_latest("node_exporter", args)
    assert (version, fresh) == ("1.11.1", True)
    assert json.loads(open(lock).read())["version"] == "1.11.1"
    (mirror / "node_exporter" / "1.12.0").mkdir()  # a newer release appears in the mirror
    assert action.resolve_latest("node_exporter", args)[:3:2] == ("1.11.1", False)
    os.unlink(lock)  # the operator asks for the newest again
    assert action.resolve_latest("node_exporter", args)[0] == "1.12.0"


def test_latest_from_github_reads_the_release_tag_once(tmp_path):
    calls = []

    def fetch_json(url, timeout, validate_certs):
        calls.append(url)
        return {"tag_name": "v3.13.5"}
    args = {"cache_dir": str(tmp_path / "cache")}
    assert action.resolve_latest("prometheus", args, fetch_json=fetch_json)[0] == "3.13.5"
    assert action.resolve_latest("prometheus", args, fetch_json=fetch_json)[0] == "3.13.5"
    assert calls == ["https://api.github.com/repos/prometheus/prometheus/releases/latest"]


def test_latest_in_check_mode_pins_nothing(tmp_path):
    mirror = tmp_path / "mirror"
    (mirror / "tempo" / "3.0.3").mkdir(parents=True)
    args = {"mirror": "file://%s" % mirror, "cache_dir": str(tmp_path / "cache")}
    version, lock, fresh = action.resolve_latest("tempo", args, pin=False)
    assert (version, fresh) == ("3.0.3", True) and not os.path.exists(lock)


@pytest.mark.parametrize("args,message", [
    ({"mirror": "https://mirror.example/fleetwatch"}, r"not the mirror URL .* \(it cannot be listed\)"),
    ({"url": "https://x.example/tool-{version}.tar.gz"}, r"artifact url of its own"),
    ({}, r"GitHub releases, and grafana has none"),
])
def test_latest_that_cannot_be_resolved_says_why(tmp_path, args, message):
    args = dict(args, cache_dir=str(tmp_path / "cache"))
    name = "grafana" if not args.get("mirror") and not args.get("url") else "node_exporter"
    with pytest.raises(art.ArtifactError, match=message):
        action.resolve_latest(name, args, fetch_json=lambda *a: {"tag_name": "v1.0.0"})


def test_a_damaged_lock_is_named(tmp_path):
    lock = tmp_path / "cache" / "node_exporter" / "latest.lock"
    lock.parent.mkdir(parents=True)
    lock.write_text("{not json")
    with pytest.raises(art.ArtifactError, match=r"latest.lock is unreadable .* delete the file"):
        action.resolve_latest("node_exporter", {"cache_dir": str(tmp_path / "cache"), "mirror": str(tmp_path)})


def test_release_tags_and_folders_pick_the_newest():
    assert art.newest_version(["v0.28.1", "0.33.1", "0.9.9", "main", ""]) == "0.33.1"
    assert art.newest_version(["x"]) is None
    assert art.github_latest_api("loki") == "https://api.github.com/repos/grafana/loki/releases/latest"
    assert art.github_latest_api("grafana") is None
