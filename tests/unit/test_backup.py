# SPDX-License-Identifier: Apache-2.0
"""module_utils/backup.py: backups written atomically with a manifest, retention, refusal of a
corrupted or mismatched backup before anything changes, restores with rollback.

The TSDB snapshot is tested against the real Prometheus (.cache/tools, `make tools`; skipped
without it) with the admin API and basic auth; the restore's stop/swap/start sequence with a
recording service object; silences against a stand-in of Alertmanager's silences API (a local HTTP
server, mechanics only: the real Alertmanager is exercised by extensions/molecule/restoredrill).
"""
import hashlib
import json
import os
import shutil
import signal
import sqlite3
import subprocess
import tarfile
import time
import pytest

from ansible_collections.fleetwatch.observability.plugins.module_utils import backup as bk
from ansible_collections.fleetwatch.observability.plugins.module_utils import registry
from ansible_collections.fleetwatch.observability.plugins.module_utils import serviceapply as sa
from ansible_collections.fleetwatch.observability.plugins.module_utils import webconfig
from tests import localhttp, rulebundle

PROMETHEUS = rulebundle.find_tool("prometheus", "PROMETHEUS")
PROMTOOL = rulebundle.find_tool("promtool", "PROMTOOL")
needs_prometheus = pytest.mark.skipif(PROMETHEUS is None or PROMTOOL is None,
                                      reason="prometheus/promtool not found: `make tools` puts them in .cache/tools")


def files_entry(tmp_path, name="node_exporter_config"):
    """The registry's entry, with its directory moved under tmp_path through settings (as a playbook does)."""
    spec = bk.entry(name)
    conf = tmp_path / "etc" / "node_exporter"
    (conf / "rules").mkdir(parents=True)
    (conf / "web.yml").write_text("basic_auth_users:\n  admin: $2b$10$x\n")
    (conf / "rules" / "a.yml").write_text("groups: []\n")
    os.chmod(str(conf / "web.yml"), 0o640)
    os.symlink("rules/a.yml", str(conf / "link.yml"))
    return spec, {spec["paths"][0]["var"]: str(conf)}, conf


class Clock(object):
    def __init__(self, start=1764100000.0):
        self.now = start

    def __call__(self):
        self.now += 1.5
        return self.now


def read_manifest(result):
    with open(result["manifest_path"]) as f:
        return json.load(f)


class RecordingService(object):
    """Stands in for bk.Service: records the calls; ``fail`` names calls that raise (once each)."""

    def __init__(self, fail=()):
        self.calls = []
        self.fail = list(fail)

    def _call(self, what):
        self.calls.append(what)
        if what in self.fail:
            self.fail.remove(what)
            raise sa.ApplyError("%s refused (test)" % what)

    def stop(self):
        self._call("stop")

    def start(self):
        self._call("start")

    def apply(self, action):
        self._call("apply:" + action)


# --- the table ------------------------------------------------------------------------------------

def test_every_role_and_the_coming_ones_have_backup_entries():
    names = [b["name"] for b in registry.backups()]
    assert len(names) == len(set(names))
    for role in registry.groups():  # every component with a role says what to back up of it
        assert "%s_config" % role in names, role
    for name in ("prometheus_tsdb", "alertmanager_silences", "tempo_config", "grafana_config", "grafana_database"):
        assert name in names
    for b in registry.backups():
        assert b["kind"] in bk.KINDS
        assert b["after_restore"] in ("reload", "restart", "none")
        for p in b["paths"]:
            assert p["var"].startswith(b["component"] + "_") and p["default"].startswith("/")
        if b["after_restore"] == "reload":
            assert b["reload_metric"]


def test_config_paths_are_the_roles_defaults():
    import yaml
    root = os.path.join(os.path.dirname(__file__), "..", "..", "roles")
    for b in registry.backups():
        if not os.path.isdir(os.path.join(root, b["component"])):
            continue
        base = os.path.join(root, b["component"], "defaults")
        path = os.path.join(base, "main.yml") if os.path.exists(os.path.join(base, "main.yml")) else os.path.join(base, "main", "main.yml")
        with open(path) as f:
            defaults = yaml.safe_load(f)
        for p in b["paths"]:
            assert defaults[p["var"]] == p["default"], (b["name"], p["var"])


def test_unknown_entry_and_bad_inputs(tmp_path):
    spec, settings, conf = files_entry(tmp_path)
    with pytest.raises(bk.BackupError, match="unknown backup 'nope'"):
        bk.entry("nope")
    for bad in (0, -1, "3", True, 2.5):
        with pytest.raises(bk.BackupError, match="retention"):
            bk.backup(spec, str(tmp_path / "b"), "h1", bad, settings=settings)
    for host in ("", "a/b", None, 3):
        with pytest.raises(bk.BackupError, match="host"):
            bk.backup(spec, str(tmp_path / "b"), host, 2, settings=settings)
    with pytest.raises(bk.BackupError, match="must be an absolute path"):
        bk.backup(spec, str(tmp_path / "b"), "h1", 2, settings={spec["paths"][0]["var"]: "etc/x"})
    with pytest.raises(bk.BackupError, match="settings must be a mapping"):
        bk.backup(spec, str(tmp_path / "b"), "h1", 2, settings=["x"])
    with pytest.raises(bk.BackupError, match="backup_dir must be an absolute path"):
        bk.backup(spec, "relative", "h1", 2, settings=settings)
    with pytest.raises(bk.BackupError, match="does not exist on this host"):
        bk.backup(spec, str(tmp_path / "b"), "h1", 2, settings={spec["paths"][0]["var"]: str(tmp_path / "none")})
    assert bk.leftovers(str(tmp_path / "b" / spec["name"])) == []
    with pytest.raises(bk.BackupError, match="needs the service's control path"):
        bk.backup(bk.entry("prometheus_tsdb"), str(tmp_path / "b"), "h1", 2)
    with pytest.raises(bk.BackupError, match="control.url"):
        bk.control_client({"url": "ftp://x"}, sa.Control)


# --- backup ---------------------------------------------------------------------------------------

def test_files_backup_archive_and_manifest(tmp_path):
    spec, settings, conf = files_entry(tmp_path)
    out = bk.backup(spec, str(tmp_path / "b"), "web1.example.org", 3, settings=settings, version="1.9.0", clock=Clock())
    assert out["changed"] and os.path.isfile(out["archive"]) and os.path.isfile(out["manifest_path"])
    assert out["archive"].endswith(".tar.gz") and os.path.dirname(out["archive"]) == str(tmp_path / "b" / spec["name"])
    assert oct(os.stat(str(tmp_path / "b")).st_mode & 0o777) == "0o700"
    m = read_manifest(out)
    assert (m["component"], m["kind"], m["host"], m["version"]) == ("node_exporter_config", "files", "web1.example.org", "1.9.0")
    assert m["archive"]["sha256"] == hashlib.sha256(open(out["archive"], "rb").read()).hexdigest() == out["sha256"]
    assert m["archive"]["size"] == os.path.getsize(out["archive"]) == out["size"]
    assert m["duration_seconds"] > 0 and m["created"].endswith("Z")
    members = dict((x["name"], x) for x in m["members"])
    web = str(conf / "web.yml").lstrip("/")
    assert members[web]["sha256"] == hashlib.sha256((conf / "web.yml").read_bytes()).hexdigest()
    link = str(conf / "link.yml").lstrip("/")
    assert members[link] == {"name": link, "type": "symlink", "size": 0, "target": "rules/a.yml"}
    assert m["data_size"] == sum(x["size"] for x in m["members"]) == len((conf / "web.yml").read_bytes()) + len(b"groups: []\n")
    with tarfile.open(out["archive"]) as tar:
        assert sorted(tar.getnames()) == sorted(members)
        assert tar.getmember(web).mode == 0o640
    assert bk.verify(m, out["archive"], spec, "web1.example.org")


def test_interrupted_backup_never_looks_complete_and_is_cleaned(tmp_path):
    spec, settings, conf = files_entry(tmp_path)
    directory = str(tmp_path / "b" / spec["name"])

    def die(stage, path):
        assert stage == "archive" and os.path.isfile(path)
        raise KeyboardInterrupt("killed between the archive and the manifest")
    with pytest.raises(KeyboardInterrupt):
        bk.backup(spec, str(tmp_path / "b"), "h1", 3, settings=settings, hook=die)
    assert bk.complete_backups(directory) == []
    with pytest.raises(bk.BackupError, match="no backup of node_exporter_config"):
        bk.choose(str(tmp_path / "b"), spec["name"])
    left = bk.leftovers(directory)
    assert len(left) == 1 and left[0].endswith(".tar.gz")
    # a process killed while writing the archive leaves a temporary file
    (tmp_path / "b" / spec["name"] / ".tmp-archive-x1").write_bytes(b"\x1f\x8b half")
    out = bk.backup(spec, str(tmp_path / "b"), "h1", 3, settings=settings)
    assert sorted(out["cleaned"]) == sorted(left + [directory + "/.tmp-archive-x1"])
    assert sorted(os.listdir(directory)) == sorted([bk.LOCK_NAME, os.path.basename(out["archive"]),
                                                    os.path.basename(out["manifest_path"])])


def test_failed_archive_leaves_nothing(tmp_path, monkeypatch):
    spec, settings, conf = files_entry(tmp_path)

    def broken(self, path, arcname):
        raise OSError("disk full")
    monkeypatch.setattr(bk.Archive, "add_path", broken)
    with pytest.raises(OSError, match="disk full"):
        bk.backup(spec, str(tmp_path / "b"), "h1", 3, settings=settings)
    assert os.listdir(str(tmp_path / "b" / spec["name"])) == [bk.LOCK_NAME]


def test_retention_keeps_the_newest(tmp_path):
    spec, settings, conf = files_entry(tmp_path)
    clock = Clock()
    names = []
    for i in range(4):
        (conf / "web.yml").write_text("# %d\n" % i)
        out = bk.backup(spec, str(tmp_path / "b"), "h1", 2, settings=settings, clock=clock)
        names.append(bk.base_name(out["manifest_path"]))
        clock.now += 3600
    assert out["pruned"] == [names[1]]
    kept = [bk.base_name(item[2]) for item in bk.complete_backups(str(tmp_path / "b" / spec["name"]))]
    assert kept == names[2:]
    assert len([n for n in os.listdir(str(tmp_path / "b" / spec["name"])) if n.endswith(".tar.gz")]) == 2


def test_two_backups_in_one_second_get_two_names(tmp_path):
    spec, settings, conf = files_entry(tmp_path)
    a = bk.backup(spec, str(tmp_path / "b"), "h1", 5, settings=settings, clock=lambda: 1764100000.0)
    b = bk.backup(spec, str(tmp_path / "b"), "h1", 5, settings=settings, clock=lambda: 1764100000.0)
    assert a["archive"] != b["archive"] and len(bk.complete_backups(str(tmp_path / "b" / spec["name"]))) == 2


def test_check_mode_writes_nothing(tmp_path):
    spec, settings, conf = files_entry(tmp_path)
    out = bk.backup(spec, str(tmp_path / "b"), "h1", 2, settings=settings, check_mode=True)
    assert out["changed"] and out["would_save"] == [{"path": str(conf), "size": len((conf / "web.yml").read_bytes()) + 11}]
    assert not os.path.exists(str(tmp_path / "b"))


def test_a_second_run_waits_for_none_while_one_holds_the_lock(tmp_path):
    spec, settings, conf = files_entry(tmp_path)
    directory = bk.entry_dir(str(tmp_path / "b"), spec["name"])
    with bk.Lock(directory):
        with pytest.raises(bk.BackupError, match="another backup or restore is running"):
            bk.backup(spec, str(tmp_path / "b"), "h1", 2, settings=settings)


# --- verify: refused before anything changes ------------------------------------------------------

def rewrite(archive, change):
    """Rebuild an archive with ``change(name, data) -> data`` applied to its regular members."""
    tmp = archive + ".new"
    with tarfile.open(archive) as src, tarfile.open(tmp, "w:gz") as dst:
        for info in src.getmembers():
            data = src.extractfile(info).read() if info.isreg() else None
            if data is not None:
                data = change(info.name, data)
                info.size = len(data)
                import io
                dst.addfile(info, io.BytesIO(data))
            else:
                dst.addfile(info)
    os.rename(tmp, archive)


def refresh_archive_hash(manifest_path, archive):
    with open(manifest_path) as f:
        m = json.load(f)
    m["archive"]["sha256"] = bk.sha256_file(archive)
    m["archive"]["size"] = os.path.getsize(archive)
    with open(manifest_path, "w") as f:
        json.dump(m, f)


@pytest.mark.parametrize("damage, message", [
    ("flip", "has sha256 .* its manifest says .*: refused"),
    ("truncate", "has \\d+ bytes, its manifest says"),
    ("member", "has another sha256 than its manifest says"),
    ("manifest_json", "manifest .* cannot be read"),
    ("other_host", "was taken on 'h1', not on 'h2'"),
    ("other_component", "is of prometheus_config"),
    ("missing_archive", "is missing"),
    ("missing_member", "lacks members its manifest lists"),
])
def test_a_damaged_or_mismatched_backup_is_refused_and_nothing_changes(tmp_path, damage, message):
    spec, settings, conf = files_entry(tmp_path)
    out = bk.backup(spec, str(tmp_path / "b"), "h1", 2, settings=settings)
    archive, mpath = out["archive"], out["manifest_path"]
    host = "h1"
    if damage == "flip":
        data = bytearray(open(archive, "rb").read())
        data[len(data) // 2] ^= 0xFF
        open(archive, "wb").write(bytes(data))
    elif damage == "truncate":
        open(archive, "r+b").truncate(os.path.getsize(archive) - 10)
    elif damage == "member":
        rewrite(archive, lambda name, data: data + b"# injected\n" if name.endswith("web.yml") else data)
        refresh_archive_hash(mpath, archive)
    elif damage == "manifest_json":
        open(mpath, "w").write('{"format": 1, "compo')
    elif damage == "other_host":
        host = "h2"
    elif damage == "other_component":
        m = json.load(open(mpath))
        m["component"] = "prometheus_config"
        json.dump(m, open(mpath, "w"))
    elif damage == "missing_archive":
        os.unlink(archive)
    elif damage == "missing_member":
        m = json.load(open(mpath))
        m["members"].append({"name": "etc/ghost.yml", "type": "file", "size": 1, "sha256": "0" * 64})
        json.dump(m, open(mpath, "w"))
    (conf / "web.yml").write_text("live: changed after the backup\n")
    (conf / "extra.yml").write_text("new\n")
    before = dict((p, open(p, "rb").read()) for p in [str(conf / "web.yml"), str(conf / "extra.yml")])
    service = RecordingService()
    with pytest.raises(bk.BackupError, match=message):
        bk.restore(spec, str(tmp_path / "b"), host, settings=settings, service=service)
    assert service.calls == []
    assert dict((p, open(p, "rb").read()) for p in before) == before


@pytest.mark.parametrize("name", ["../../etc/passwd", "/etc/passwd"])
def test_unsafe_member_names_are_refused(tmp_path, name):
    spec, settings, conf = files_entry(tmp_path)
    out = bk.backup(spec, str(tmp_path / "b"), "h1", 2, settings=settings)
    import io
    with tarfile.open(out["archive"], "w:gz") as tar:
        info = tarfile.TarInfo(name)
        info.size = 2
        tar.addfile(info, io.BytesIO(b"x\n"))
    m = json.load(open(out["manifest_path"]))
    m["members"] = [{"name": name, "type": "file", "size": 2, "sha256": hashlib.sha256(b"x\n").hexdigest()}]
    json.dump(m, open(out["manifest_path"], "w"))
    refresh_archive_hash(out["manifest_path"], out["archive"])
    with pytest.raises(bk.BackupError, match="unsafe name"):
        bk.restore(spec, str(tmp_path / "b"), "h1", settings=settings, service=RecordingService())


def test_member_below_a_symlink_is_refused(tmp_path):
    spec, settings, conf = files_entry(tmp_path)
    out = bk.backup(spec, str(tmp_path / "b"), "h1", 2, settings=settings)
    import io
    with tarfile.open(out["archive"], "w:gz") as tar:
        link = tarfile.TarInfo("etc/x")
        link.type = tarfile.SYMTYPE
        link.linkname = "/etc"
        tar.addfile(link)
        info = tarfile.TarInfo("etc/x/passwd")
        info.size = 2
        tar.addfile(info, io.BytesIO(b"x\n"))
    m = json.load(open(out["manifest_path"]))
    m["members"] = [{"name": "etc/x", "type": "symlink", "size": 0, "target": "/etc"},
                    {"name": "etc/x/passwd", "type": "file", "size": 2, "sha256": hashlib.sha256(b"x\n").hexdigest()}]
    json.dump(m, open(out["manifest_path"], "w"))
    refresh_archive_hash(out["manifest_path"], out["archive"])
    with pytest.raises(bk.BackupError, match="below a symlink"):
        bk.restore(spec, str(tmp_path / "b"), "h1", settings=settings, service=RecordingService())


# --- restore of files -----------------------------------------------------------------------------

def test_files_restore_puts_back_exactly_the_backup_and_applies_once(tmp_path):
    spec, settings, conf = files_entry(tmp_path, "node_exporter_config")
    out = bk.backup(spec, str(tmp_path / "b"), "h1", 2, settings=settings)
    original = (conf / "web.yml").read_bytes()
    (conf / "web.yml").write_text("changed\n")
    os.chmod(str(conf / "web.yml"), 0o644)
    (conf / "rules" / "a.yml").unlink()
    (conf / "rules" / "new.yml").write_text("groups: [x]\n")
    service = RecordingService()
    res = bk.restore(spec, str(tmp_path / "b"), "h1", settings=settings, service=service)
    assert res["changed"] and res["verified"] and res["backup"] == bk.base_name(out["manifest_path"])
    assert service.calls == ["apply:restart"]
    assert (conf / "web.yml").read_bytes() == original and oct(os.stat(str(conf / "web.yml")).st_mode & 0o777) == "0o640"
    assert (conf / "rules" / "a.yml").read_text() == "groups: []\n"
    assert not (conf / "rules" / "new.yml").exists()
    assert os.readlink(str(conf / "link.yml")) == "rules/a.yml"
    assert sorted(res["restored_files"]) == sorted([str(conf / "web.yml"), str(conf / "rules" / "a.yml")])
    assert res["removed_files"] == [str(conf / "rules" / "new.yml")]
    # nothing left behind, and a second restore changes nothing
    assert [n for n in os.listdir(str(tmp_path / "b" / spec["name"])) if n.startswith(bk.TMP_PREFIX)] == []
    assert not [n for n in os.listdir(str(conf)) if n.startswith(bk.TMP_PREFIX)]
    service2 = RecordingService()
    again = bk.restore(spec, str(tmp_path / "b"), "h1", settings=settings, service=service2)
    assert not again["changed"] and service2.calls == []


def test_files_restore_refused_by_the_service_is_rolled_back(tmp_path):
    spec, settings, conf = files_entry(tmp_path, "node_exporter_config")
    spec["after_restore"] = "reload"
    bk.backup(spec, str(tmp_path / "b"), "h1", 2, settings=settings)
    (conf / "web.yml").write_text("live\n")
    (conf / "extra.yml").write_text("extra\n")
    service = RecordingService(fail=["apply:reload"])
    with pytest.raises(bk.BackupError, match="refused the restored files .*the previous files are back and the service runs"):
        bk.restore(spec, str(tmp_path / "b"), "h1", settings=settings, service=service)
    assert service.calls == ["apply:reload", "apply:reload"]
    assert (conf / "web.yml").read_text() == "live\n" and (conf / "extra.yml").read_text() == "extra\n"


def test_check_mode_restore_verifies_and_changes_nothing(tmp_path):
    spec, settings, conf = files_entry(tmp_path)
    bk.backup(spec, str(tmp_path / "b"), "h1", 2, settings=settings)
    (conf / "web.yml").write_text("live\n")
    service = RecordingService()
    res = bk.restore(spec, str(tmp_path / "b"), "h1", settings=settings, service=service, check_mode=True)
    assert res["changed"] and res["verified"] and res["restored_files"] == [str(conf / "web.yml")]
    assert service.calls == [] and (conf / "web.yml").read_text() == "live\n"


def test_choose_by_name_time_and_file(tmp_path):
    spec, settings, conf = files_entry(tmp_path)
    clock = Clock()
    first = bk.backup(spec, str(tmp_path / "b"), "h1", 5, settings=settings, clock=clock)
    clock.now += 7200
    second = bk.backup(spec, str(tmp_path / "b"), "h1", 5, settings=settings, clock=clock)
    d = str(tmp_path / "b")
    assert bk.choose(d, spec["name"])[1] == second["archive"]
    assert bk.choose(d, spec["name"], "latest")[1] == second["archive"]
    base = bk.base_name(first["manifest_path"])
    assert bk.choose(d, spec["name"], base)[1] == first["archive"]
    assert bk.choose(d, spec["name"], os.path.basename(first["archive"]))[1] == first["archive"]
    assert bk.choose(d, spec["name"], base[len(spec["name"]) + 1:])[1] == first["archive"]  # its time only
    with pytest.raises(bk.BackupError, match="no backup '2020' of node_exporter_config"):
        bk.choose(d, spec["name"], "2020")


# --- TSDB: the restore's sequence -----------------------------------------------------------------

def fake_snapshot_archive(tmp_path, blocks):
    """A prometheus_tsdb backup whose snapshot holds ``blocks`` (name -> content), written by bk.backup
    through a stand-in of the admin API that makes the snapshot directory as Prometheus would."""
    data = tmp_path / "data"
    (data / "snapshots").mkdir(parents=True, exist_ok=True)

    class AdminApi(localhttp.QuietHandler):
        def do_POST(self):
            snap = data / "snapshots" / "20261125T200000Z-0123456789abcdef"
            for name, content in blocks.items():
                (snap / name).mkdir(parents=True)
                (snap / name / "meta.json").write_text(content)
            self.reply(200, b'{"status":"success","data":{"name":"20261125T200000Z-0123456789abcdef"}}')

        def do_GET(self):
            self.reply(200, b'{"status":"success","data":{"version":"2.53.3"}}')
    spec = bk.entry("prometheus_tsdb")
    settings = {"prometheus_storage_path": str(data)}
    with localhttp.running(AdminApi) as url:
        out = bk.backup(spec, str(tmp_path / "b"), "prom1", 2, settings=settings, control=sa.Control(url))
    assert out["version"] == "2.53.3" and out["details"]["snapshot"] == "20261125T200000Z-0123456789abcdef"
    assert os.listdir(str(data / "snapshots")) == []  # archived, then deleted
    return spec, settings, data


def test_tsdb_restore_swaps_the_data_with_prometheus_stopped(tmp_path):
    spec, settings, data = fake_snapshot_archive(tmp_path, {"01BACKUPBLOCK000000000000A": "a", "01BACKUPBLOCK000000000000B": "b"})
    (data / "01LIVEBLOCK00000000000000Z").mkdir()
    (data / "wal").mkdir()
    (data / "wal" / "00000001").write_text("w")
    (data / "lock").write_text("")
    service = RecordingService()
    res = bk.restore(spec, str(tmp_path / "b"), "prom1", settings=settings, service=service)
    assert service.calls == ["stop", "start"]
    assert res["blocks"] == 2 and res["replaced"] == ["01LIVEBLOCK00000000000000Z", "lock", "wal"]
    assert sorted(os.listdir(str(data))) == ["01BACKUPBLOCK000000000000A", "01BACKUPBLOCK000000000000B", "snapshots"]
    assert (data / "01BACKUPBLOCK000000000000B" / "meta.json").read_text() == "b"


def test_tsdb_restore_rolls_back_when_prometheus_does_not_get_ready(tmp_path):
    spec, settings, data = fake_snapshot_archive(tmp_path, {"01BACKUPBLOCK000000000000A": "a"})
    (data / "01LIVEBLOCK00000000000000Z").mkdir()
    (data / "01LIVEBLOCK00000000000000Z" / "meta.json").write_text("live")
    service = RecordingService(fail=["start"])
    with pytest.raises(bk.BackupError, match="did not become ready with the restored TSDB .*previous data are back"):
        bk.restore(spec, str(tmp_path / "b"), "prom1", settings=settings, service=service)
    assert service.calls == ["stop", "start", "stop", "start"]
    assert sorted(os.listdir(str(data))) == ["01LIVEBLOCK00000000000000Z", "snapshots"]
    assert (data / "01LIVEBLOCK00000000000000Z" / "meta.json").read_text() == "live"


def test_admin_api_off_is_named(tmp_path):
    class Off(localhttp.QuietHandler):
        def do_POST(self):
            self.reply(503, b'{"status":"error","errorType":"unavailable","error":"admin APIs disabled"}')

        def do_GET(self):
            self.reply(404)
    (tmp_path / "data").mkdir()
    with localhttp.running(Off) as url:
        with pytest.raises(bk.BackupError, match="admin API is off .*prometheus_admin_api: true"):
            bk.backup(bk.entry("prometheus_tsdb"), str(tmp_path / "b"), "p", 2,
                      settings={"prometheus_storage_path": str(tmp_path / "data")}, control=sa.Control(url))
    assert os.listdir(str(tmp_path / "b" / "prometheus_tsdb")) == [bk.LOCK_NAME]


# --- TSDB: the real Prometheus --------------------------------------------------------------------

def openmetrics(series, samples, start):
    lines = ["# HELP fw_bench_metric Benchmark series.", "# TYPE fw_bench_metric gauge"]
    for i in range(samples):
        t = start + i * 60
        for s in range(series):
            lines.append('fw_bench_metric{series="%d"} %d %d' % (s, i + s, t))
    lines.append("# EOF")
    return "\n".join(lines) + "\n"


def start_prometheus(tmp_path, data, admin=True, password="pa'ss$word\"", port=None):
    port = port or localhttp.free_port()
    hashed = webconfig.bcrypt_hash(password, "test", "admin", cost=4)
    (tmp_path / "web.yml").write_text(json.dumps({"basic_auth_users": {"admin": hashed}}))
    (tmp_path / "prometheus.yml").write_text("global: {scrape_interval: 1h}\n")
    argv = [PROMETHEUS, "--config.file", str(tmp_path / "prometheus.yml"), "--storage.tsdb.path", str(data),
            "--web.listen-address", "127.0.0.1:%d" % port, "--web.config.file", str(tmp_path / "web.yml")]
    if admin:
        argv.append("--web.enable-admin-api")
    proc = subprocess.Popen(argv, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    ctl = sa.Control("http://127.0.0.1:%d" % port, "admin", password)
    deadline = time.time() + 30
    while ctl.get("/-/ready")[0] != 200:
        assert proc.poll() is None and time.time() < deadline, "prometheus did not start"
        time.sleep(0.2)
    return proc, ctl


def series_count(ctl, start, end):
    status, body = ctl.get("/api/v1/query?query=count(count_over_time(fw_bench_metric[2h]))&time=%d" % end)
    assert status == 200, body
    result = json.loads(body)["data"]["result"]
    return int(result[0]["value"][1]) if result else 0


@needs_prometheus
def test_real_prometheus_snapshot_backup_and_restore(tmp_path):
    data = tmp_path / "data"
    data.mkdir()
    start = int(time.time()) - 3 * 3600
    start -= start % 7200
    (tmp_path / "in.om").write_text(openmetrics(20, 60, start))
    subprocess.run([PROMTOOL, "tsdb", "create-blocks-from", "openmetrics", str(tmp_path / "in.om"), str(data)],
                   check=True, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    proc, ctl = start_prometheus(tmp_path, data)
    try:
        assert ctl.get("/api/v1/status/buildinfo")[0] == 200
        assert sa.Control(ctl.url).get("/api/v1/status/buildinfo")[0] == 401  # no password, no answer
        before = series_count(ctl, start, start + 3600)
        assert before == 20
        spec = bk.entry("prometheus_tsdb")
        settings = {"prometheus_storage_path": str(data)}
        out = bk.backup(spec, str(tmp_path / "b"), "prom1", 2, settings=settings, control=ctl)
        assert out["version"].startswith("2.") and out["members"] > 3
        assert os.listdir(str(data / "snapshots")) == []
        with tarfile.open(out["archive"]) as tar:
            assert any(n.endswith("/meta.json") for n in tar.getnames())

        class RealService(object):
            """Runs this test's Prometheus process the way systemd would."""
            def __init__(self):
                self.proc = proc

            def stop(self):
                self.proc.send_signal(signal.SIGTERM)
                self.proc.wait(30)

            def start(self):
                self.proc = start_prometheus(tmp_path, data, port=int(ctl.url.rsplit(":", 1)[1]))[0]
        service = RealService()
        service.stop()
        shutil.rmtree(str(data))
        data.mkdir()
        service.start()
        proc = service.proc
        assert series_count(ctl, start, start + 3600) == 0
        res = bk.restore(spec, str(tmp_path / "b"), "prom1", settings=settings, service=service)
        proc = service.proc
        assert res["blocks"] >= 1
        assert series_count(ctl, start, start + 3600) == before
    finally:
        proc.send_signal(signal.SIGTERM)
        proc.wait(30)


@needs_prometheus
def test_real_prometheus_without_admin_api_is_refused_clearly(tmp_path):
    data = tmp_path / "data"
    data.mkdir()
    proc, ctl = start_prometheus(tmp_path, data, admin=False)
    try:
        with pytest.raises(bk.BackupError, match="admin API is off"):
            bk.backup(bk.entry("prometheus_tsdb"), str(tmp_path / "b"), "p", 2,
                      settings={"prometheus_storage_path": str(data)}, control=ctl)
        wrong = sa.Control(ctl.url, "admin", "wrong")
        with pytest.raises(bk.BackupError, match="401"):
            bk.backup(bk.entry("prometheus_tsdb"), str(tmp_path / "b"), "p", 2,
                      settings={"prometheus_storage_path": str(data)}, control=wrong)
    finally:
        proc.send_signal(signal.SIGTERM)
        proc.wait(30)


# --- silences (stand-in of Alertmanager's API: mechanics only) ------------------------------------

def silences_api(store, posted):
    class Api(localhttp.QuietHandler):
        def do_GET(self):
            if self.path == "/api/v2/status":
                self.reply(200, b'{"versionInfo": {"version": "0.28.1"}}')
            else:
                self.reply(200, json.dumps(store).encode())

        def do_POST(self):
            body = json.loads(self.rfile.read(int(self.headers["Content-Length"])))
            posted.append(body)
            new = dict(body, id="new-%d" % len(posted), status={"state": "active"})
            store.append(new)
            self.reply(200, json.dumps({"silenceID": new["id"]}).encode())
    return Api


def silence(sid, comment, ends, state="active"):
    return {"id": sid, "matchers": [{"name": "alertname", "value": "Disk", "isRegex": False, "isEqual": True}],
            "startsAt": "2026-11-25T10:00:00.123Z", "endsAt": ends, "createdBy": "ops", "comment": comment,
            "status": {"state": state}, "updatedAt": "2026-11-25T10:00:00Z"}


def test_silences_backup_and_restore(tmp_path):
    store = [silence("a", "maintenance", "2099-01-01T00:00:00Z"), silence("b", "old", "2020-01-01T00:00:00Z", "expired"),
             silence("c", "pending one", "2099-01-02T00:00:00.5+02:00", "pending"),
             silence("d", "ends soon", "2026-11-26T00:00:00Z")]
    posted = []
    spec = bk.entry("alertmanager_silences")
    with localhttp.running(silences_api(store, posted)) as url:
        ctl = sa.Control(url)
        out = bk.backup(spec, str(tmp_path / "b"), "am1", 2, control=ctl)
        assert out["details"]["silences"] == 3 and out["version"] == "0.28.1"
        with tarfile.open(out["archive"]) as tar:
            saved = json.loads(tar.extractfile("silences.json").read())
        assert sorted(s["id"] for s in saved) == ["a", "c", "d"]
        del store[:]
        store.append(silence("x", "maintenance", "2099-01-01T00:00:00.000Z"))  # the same as "a", another ID
        res = bk.restore_silences(out["archive"], ctl, False, now=bk.parse_time("2026-11-26T12:00:00Z"))
    assert res["silences_present"] == ["a"] and res["silences_expired"] == ["d"]
    assert [c["old_id"] for c in res["silences_created"]] == ["c"] and res["silences_created"][0]["id"] == "new-1"
    assert posted == [dict((k, store[1][k]) for k in bk.SILENCE_KEYS)]
    assert "id" not in posted[0] and "status" not in posted[0]


def test_silence_times_and_keys():
    assert bk.parse_time("2026-11-25T10:00:00Z") == bk.parse_time("2026-11-25T12:00:00+02:00") == 1795600800
    assert bk.parse_time("2026-11-25T10:00:00.250Z") == 1795600800.25
    assert bk.parse_time("2026-11-25T08:30:00-01:30") == 1795600800
    assert bk.parse_time("yesterday") is None and bk.parse_time(None) is None
    a = silence("a", "c", "2099-01-01T00:00:00Z")
    b = dict(silence("b", "c", "2099-01-01T00:00:00.000Z"), matchers=list(reversed(a["matchers"])))
    assert bk.silence_key(a) == bk.silence_key(b)
    assert bk.silence_key(a) != bk.silence_key(silence("a", "other comment", "2099-01-01T00:00:00Z"))


# --- SQLite (Grafana's database, for the coming role) ---------------------------------------------

def test_sqlite_online_backup_and_restore(tmp_path):
    db = tmp_path / "grafana.db"
    con = sqlite3.connect(str(db))
    con.execute("create table dashboard (title text)")
    con.execute("insert into dashboard values ('Node')")
    con.commit()
    spec = bk.entry("grafana_database")
    settings = {"grafana_data_path": str(tmp_path)}
    out = bk.backup(spec, str(tmp_path / "b"), "g1", 2, settings=settings)  # while the connection is open
    con.execute("delete from dashboard")
    con.commit()
    con.close()
    service = RecordingService()
    res = bk.restore(spec, str(tmp_path / "b"), "g1", settings=settings, service=service)
    assert res["changed"] and service.calls == ["stop", "start"]
    assert sqlite3.connect(str(db)).execute("select title from dashboard").fetchall() == [("Node",)]
    assert not os.path.exists(str(db) + ".fleetwatch-previous") and out["members"] == 1


# --- the control path's POST ----------------------------------------------------------------------

def test_control_request_sends_json_with_basic_auth_and_returns_refusals():
    seen = []

    class Api(localhttp.QuietHandler):
        def do_POST(self):
            seen.append((self.headers.get("Authorization"), self.headers.get("Content-Type"),
                         self.rfile.read(int(self.headers["Content-Length"]))))
            if self.path == "/bad":
                self.reply(400, b'{"error": "bad matcher"}')
            else:
                self.reply(200, b"{}")
    with localhttp.running(Api) as url:
        ctl = sa.Control(url, "ops", "p'a$s\"")
        assert ctl.request("POST", "/ok", {"a": 1}) == (200, "{}")
        status, text = ctl.request("POST", "/bad", {"a": 2})
    assert status == 400 and "bad matcher" in text
    import base64
    assert seen[0] == ("Basic " + base64.b64encode(b"ops:p'a$s\"").decode(), "application/json", b'{"a": 1}')


# --- the prometheus role: the admin API never open to unauthenticated clients ---------------------

ADMIN_TASK = "Check that the admin API is not open to unauthenticated clients"


def admin_api_allowed(**overrides):
    """The role's own condition (the assert task's ``that``), evaluated on its defaults and ``overrides``."""
    from tests.unit.test_role_templates import render
    conditions = render("prometheus", task=ADMIN_TASK, arg="that", **overrides)
    return all(render("prometheus", "{{ %s }}" % c.strip(), **overrides) in (True, "True") for c in conditions)


@pytest.mark.parametrize("overrides, allowed", [
    ({}, True),  # off
    ({"prometheus_admin_api": True}, False),  # on, every address, no password
    ({"prometheus_admin_api": True, "prometheus_listen_address": "[::]:9090"}, False),
    ({"prometheus_admin_api": True, "prometheus_listen_address": "10.0.0.5:9090"}, False),
    ({"prometheus_admin_api": True, "prometheus_listen_address": "127.0.0.1.example.org:9090"}, False),
    ({"prometheus_admin_api": True, "prometheus_basic_auth_users": {"admin": "pw'$x"}}, True),
    ({"prometheus_admin_api": True, "prometheus_listen_address": "127.0.0.1:9090"}, True),
    ({"prometheus_admin_api": True, "prometheus_listen_address": "[::1]:9090"}, True),
    ({"prometheus_admin_api": True, "prometheus_listen_address": "localhost:9090"}, True),
])
def test_prometheus_refuses_an_open_admin_api(overrides, allowed):
    assert admin_api_allowed(**overrides) is allowed


def test_admin_api_flag_follows_the_variable():
    from tests.unit.test_role_templates import render
    unit = render("prometheus", "{{ prometheus_unit | fleetwatch.observability.systemd_unit }}")
    assert "--web.enable-admin-api" not in unit
    unit = render("prometheus", "{{ prometheus_unit | fleetwatch.observability.systemd_unit }}", prometheus_admin_api=True,
                  prometheus_basic_auth_users={"admin": "pw"})
    assert "--web.enable-admin-api" in unit


# --- the outcome as metrics -----------------------------------------------------------------------

def test_outcome_metrics_success_and_failure(tmp_path):
    ok = {"item": {"name": "prometheus_tsdb"}, "archive": "/b/x.tar.gz", "finished_epoch": 1795600800.5,
          "duration": 2.25, "size": 4096, "changed": True}
    bad = {"item": {"name": "alertmanager_silences"}, "failed": True, "msg": "no answer"}
    skipped = {"item": {"name": "loki_config"}, "skipped": True}
    out = bk.outcome_metrics([ok, bad, skipped], 1795600900)
    got = dict(((m["name"], m["labels"]["component"]), m["value"]) for m in out)
    assert got == {
        ("fleetwatch_backup_last_run_timestamp_seconds", "prometheus_tsdb"): 1795600800.5,
        ("fleetwatch_backup_last_success_timestamp_seconds", "prometheus_tsdb"): 1795600800.5,
        ("fleetwatch_backup_success", "prometheus_tsdb"): 1,
        ("fleetwatch_backup_duration_seconds", "prometheus_tsdb"): 2.25,
        ("fleetwatch_backup_size_bytes", "prometheus_tsdb"): 4096,
        # a failure: the run and success 0 only; merge mode keeps the last success, duration and size
        ("fleetwatch_backup_last_run_timestamp_seconds", "alertmanager_silences"): 1795600900.0,
        ("fleetwatch_backup_success", "alertmanager_silences"): 0,
    }
    assert all(m["type"] == "gauge" and m["help"] for m in out)
    # through textfile_metrics' merge mode: a later failure of prometheus_tsdb keeps its last success
    from ansible_collections.fleetwatch.observability.plugins.module_utils import textfile
    textfile.apply(str(tmp_path), "fleetwatch_backup", out, merge_mode=True)
    failed = dict(bad, item={"name": "prometheus_tsdb"})
    text = textfile.apply(str(tmp_path), "fleetwatch_backup", bk.outcome_metrics([failed], 1795690000), merge_mode=True)["content"]
    assert 'fleetwatch_backup_success{component="prometheus_tsdb"} 0\n' in text
    assert 'fleetwatch_backup_last_run_timestamp_seconds{component="prometheus_tsdb"} 1795690000' in text
    assert 'fleetwatch_backup_last_success_timestamp_seconds{component="prometheus_tsdb"} 1795600800.5' in text
    assert 'fleetwatch_backup_size_bytes{component="prometheus_tsdb"} 4096' in text
    assert 'fleetwatch_backup_success{component="alertmanager_silences"} 0\n' in text


@pytest.mark.parametrize("results, now, message", [
    ({"a": 1}, 1, "must be the list"),
    ([{"archive": "x"}], 1, "without the backup entry"),
    ([], "soon", "now must be a number"),
])
def test_outcome_metrics_bad_input(results, now, message):
    with pytest.raises(bk.BackupError, match=message):
        bk.outcome_metrics(results, now)


# --- the modules, run as Ansible runs them ---------------------------------------------------------

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))


def module_run(name, args, check_mode=False):
    import sys
    params = dict(args, _ansible_check_mode=check_mode)
    env = dict(os.environ, PYTHONPATH=os.path.join(ROOT, ".cache", "collections"))
    proc = subprocess.run([sys.executable, os.path.join(ROOT, "plugins", "modules", name + ".py")],
                          input=json.dumps({"ANSIBLE_MODULE_ARGS": params}), stdout=subprocess.PIPE,
                          stderr=subprocess.PIPE, universal_newlines=True, env=env, timeout=120, check=False)
    return json.loads(proc.stdout)


def test_modules_back_up_restore_and_refuse(tmp_path):
    spec, settings, conf = files_entry(tmp_path)
    tool = tmp_path / "bin" / "node_exporter"
    tool.parent.mkdir()
    tool.write_text("#!/bin/sh\necho 'node_exporter, version 1.9.0 (branch: HEAD)'\n")
    os.chmod(str(tool), 0o755)
    args = {"component": "node_exporter_config", "host": "web1", "backup_dir": str(tmp_path / "b"), "settings": settings}
    out = module_run("backup", dict(args, bin_dir=str(tool.parent)), check_mode=True)
    assert out["changed"] and out["would_save"][0]["path"] == str(conf) and not os.path.exists(str(tmp_path / "b"))
    out = module_run("backup", dict(args, bin_dir=str(tool.parent), retention=2))
    assert out["changed"] and out["version"] == "1.9.0" and out["size"] == os.path.getsize(out["archive"])
    assert out["finished_epoch"] >= out["created_epoch"] and out["duration"] >= 0 and out["members"] == 5
    # restore in check mode: verified, nothing changed
    (conf / "web.yml").write_text("changed\n")
    out = module_run("restore", dict(args), check_mode=True)
    assert out["changed"] and out["verified"] and out["restored_files"] == [str(conf / "web.yml")]
    assert (conf / "web.yml").read_text() == "changed\n"
    # another host's name: refused
    out = module_run("restore", dict(args, host="web2"))
    assert out["failed"] and "was taken on 'web1', not on 'web2'" in out["msg"]
    out = module_run("restore", dict(args, host="web2", source_host="web1"), check_mode=True)
    assert not out.get("failed") and out["verified"]


@pytest.mark.parametrize("name, args, message", [
    ("backup", {"component": "nope"}, "unknown backup 'nope'"),
    ("backup", {"compression_level": 0}, "compression_level must be 1 to 9"),
    ("backup", {"retention": 0}, "retention must be a whole number"),
    ("backup", {"component": "prometheus_tsdb"}, "needs the service's control path"),
    ("backup", {"component": "prometheus_tsdb", "control": {"url": "file:///etc/passwd"}}, "control.url must be"),
    ("restore", {"ready_timeout": 0}, "ready_timeout must be a positive"),
    ("restore", {}, "no backup of node_exporter_config"),
])
def test_modules_refuse_bad_input(tmp_path, name, args, message):
    base = {"component": "node_exporter_config", "host": "h1", "backup_dir": str(tmp_path / "b")}
    out = module_run(name, dict(base, **args))
    assert out["failed"] and message in out["msg"], out


def test_module_never_logs_the_password(tmp_path):
    out = module_run("backup", {"component": "alertmanager_silences", "host": "h1", "backup_dir": str(tmp_path / "b"),
                                "control": {"url": "http://127.0.0.1:%d" % localhttp.free_port(), "username": "u",
                                            "password": "s3cr'et$pw"}})
    assert out["failed"] and "no answer" in out["msg"]
    assert "s3cr'et$pw" not in json.dumps(out)


class StoppingPrometheus(RecordingService):
    """Like Prometheus: stopping removes its lock file."""

    def __init__(self, data, fail=()):
        RecordingService.__init__(self, fail)
        self.data = data

    def stop(self):
        RecordingService.stop(self)
        if (self.data / "lock").exists():
            (self.data / "lock").unlink()


def test_tsdb_restore_lists_the_data_once_prometheus_has_stopped(tmp_path):
    spec, settings, data = fake_snapshot_archive(tmp_path, {"01BACKUPBLOCK000000000000A": "a"})
    (data / "wal").mkdir()
    (data / "lock").write_text("")
    service = StoppingPrometheus(data)
    res = bk.restore(spec, str(tmp_path / "b"), "prom1", settings=settings, service=service)
    assert service.calls == ["stop", "start"] and res["replaced"] == ["wal"]
    assert sorted(os.listdir(str(data))) == ["01BACKUPBLOCK000000000000A", "snapshots"]


def test_tsdb_swap_failing_midway_keeps_every_live_entry_and_restarts(tmp_path, monkeypatch):
    spec, settings, data = fake_snapshot_archive(tmp_path, {"01BACKUPBLOCK000000000000A": "a"})
    for name in ("01LIVEA00000000000000000000", "01LIVEB00000000000000000000", "wal"):
        (data / name).mkdir()
        (data / name / "x").write_text(name)
    real_rename = os.rename
    calls = []

    def flaky(src, dst):
        calls.append(src)
        if len(calls) == 2:  # the second live entry cannot be moved aside
            raise OSError("device busy (test)")
        real_rename(src, dst)
    monkeypatch.setattr(bk.os, "rename", flaky)
    service = RecordingService()
    with pytest.raises(bk.BackupError, match="could not be swapped .*previous data are back and Prometheus runs"):
        bk.restore(spec, str(tmp_path / "b"), "prom1", settings=settings, service=service)
    monkeypatch.setattr(bk.os, "rename", real_rename)
    assert service.calls == ["stop", "stop", "start"]
    assert sorted(os.listdir(str(data))) == ["01LIVEA00000000000000000000", "01LIVEB00000000000000000000", "snapshots", "wal"]
    assert all((data / n / "x").read_text() == n for n in ("01LIVEA00000000000000000000", "01LIVEB00000000000000000000", "wal"))
