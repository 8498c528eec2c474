# SPDX-License-Identifier: Apache-2.0
"""The prometheus role's features for users of prometheus.prometheus, rendered by Ansible itself
(tests/roleplay.py) from the role's defaults, vars and checks: agent mode (flags by version, a
config without rules, alerting or remote read, promtool --agent, the real prometheus started with
the rendered flags), the remote-write receiver, alert relabeling, scrape config files and static
targets from the controller (checked, validated by promtool with prometheus.yml), the stop
timeout (TimeoutStopSec written once whatever the overrides say) and GOMAXPROCS/GOMEMLIMIT."""
import json
import os
import shlex
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request

import pytest
import yaml

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
import roleplay  # noqa: E402  pylint: disable=wrong-import-position
import rulebundle  # noqa: E402  pylint: disable=wrong-import-position

PROMTOOL = rulebundle.find_tool("promtool", "PROMTOOL")
PROMETHEUS = rulebundle.find_tool("prometheus", "PROMETHEUS")
pytestmark = pytest.mark.skipif(not os.path.exists(roleplay.PLAYBOOK_BIN), reason="ansible-playbook not installed")
needs_promtool = pytest.mark.skipif(PROMTOOL is None, reason="promtool not found: `make tools` puts it in .cache/tools")
needs_prometheus = pytest.mark.skipif(PROMETHEUS is None, reason="prometheus not found: `make tools` puts it in .cache/tools")

INVENTORY = {
    "all": {"vars": {"ansible_connection": "local", "ansible_python_interpreter": sys.executable}},
    "prometheus": {"hosts": {"mon1": {"ansible_host": "fd18::10"}}},
    "alertmanager": {"hosts": {"am1": {"ansible_host": "fd18::21"}}},
    "node_exporter": {"hosts": {"app1.example.com": {"node_exporter_listen_address": "10.0.0.5:9100"}}},
}

PLAY = """
- name: Render the prometheus role's files for one host
  hosts: "{{ target_host }}"
  gather_facts: false
  tasks:
    - name: Shared defaults
      ansible.builtin.include_vars: {file: "%(root)s/roles/common/defaults/main.yml"}
    - name: Role defaults
      ansible.builtin.include_vars: {dir: "%(root)s/roles/prometheus/defaults/main"}
    - name: Role vars
      ansible.builtin.include_vars: {dir: "%(root)s/roles/prometheus/vars/main"}
    - name: The role's checks
      ansible.builtin.import_tasks: "%(root)s/roles/prometheus/tasks/checks.yml"
    - name: Write what service_setup would get
      ansible.builtin.copy:
        dest: "{{ out_dir }}/result.json"
        mode: "0600"
        content: >-
          {{ {'config': prometheus_config_file.content, 'config_path': prometheus_config_file.path,
              'validate': prometheus_config_file.validate, 'flags': prometheus_flags,
              'argv': prometheus_unit.exec_start, 'unit': prometheus_unit | fleetwatch.observability.systemd_unit,
              'file_sd': prometheus_file_sd_files + prometheus_static_jobs.files + prometheus_static_targets_file_entries,
              'scrape_config_files': prometheus_scrape_config_file_entries,
              'secrets': prometheus_secret_files, 'web': prometheus_web_config
                 | fleetwatch.observability.web_config(inventory_hostname ~ '/prometheus') | to_nice_yaml(indent=2)} | to_json }}
"""


def run(tmp_path, extra=None, inventory=None):
    (tmp_path / "templates").mkdir(exist_ok=True)
    link = tmp_path / "templates" / "prometheus.yml.j2"
    if not link.exists():
        link.symlink_to(os.path.join(ROOT, "roles", "prometheus", "templates", "prometheus.yml.j2"))
    # The version of the real prometheus/promtool in .cache/tools (the role's default is upstream's
    # current release); tests of other versions set prometheus_version themselves.
    values = {"target_host": "mon1", "prometheus_config_dir": str(tmp_path / "etc"),
              "prometheus_storage_path": str(tmp_path / "data"), "prometheus_version": "2.53.3"}
    values.update(extra or {})
    return roleplay.run(tmp_path, PLAY % {"root": ROOT}, inventory or INVENTORY, values)


def rendered(tmp_path, extra=None, inventory=None):
    out, result = run(tmp_path, extra, inventory)
    assert out.returncode == 0, out.stdout
    return result


def failure(tmp_path, extra=None, inventory=None):
    out, _result = run(tmp_path, extra, inventory)
    assert out.returncode != 0
    return " ".join(out.stdout.split())


def subdir(tmp_path, name):
    path = tmp_path / name
    path.mkdir()
    return path


def write_all(result):
    """Put every file the role would write at its path (the test's own config directory)."""
    for entry in result["file_sd"] + result["secrets"] + result["scrape_config_files"] + [
            {"path": result["config_path"], "content": result["config"]},
            {"path": os.path.join(os.path.dirname(result["config_path"]), "web.yml"), "content": result["web"]}]:
        os.makedirs(os.path.dirname(entry["path"]), exist_ok=True)
        with open(entry["path"], "w") as handle:
            handle.write(entry["content"])


def promtool_validate(result):
    """The role's own validate command (promtool check config [--agent] %s) on the written config."""
    write_all(result)
    argv = shlex.split(result["validate"].replace("%s", result["config_path"]))
    argv[0] = PROMTOOL
    return subprocess.run(argv, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, universal_newlines=True,
                          timeout=120, check=False)


def free_port():
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def start_prometheus(result, tmp_path):
    """Start the real prometheus with the argv of the rendered unit (listen address moved to a free
    loopback port); return (process, base URL) once /-/ready answers 200, or fail with its log."""
    write_all(result)
    port = free_port()
    argv = [PROMETHEUS] + [a for a in result["argv"][1:] if not a.startswith("--web.listen-address=")]
    argv.append("--web.listen-address=127.0.0.1:%d" % port)
    log = open(str(tmp_path / "prometheus.log"), "w")
    proc = subprocess.Popen(argv, stdout=log, stderr=subprocess.STDOUT)
    url = "http://127.0.0.1:%d" % port
    deadline = time.time() + 30
    while time.time() < deadline:
        if proc.poll() is not None:
            break
        try:
            with urllib.request.urlopen(url + "/-/ready", timeout=2) as response:
                if response.status == 200:
                    return proc, url, response.read().decode()
        except OSError:
            time.sleep(0.2)
    proc.kill()
    proc.wait()
    raise AssertionError("prometheus did not become ready: %s" % (tmp_path / "prometheus.log").read_text())


def stop(proc):
    proc.terminate()
    try:
        proc.wait(timeout=30)
    except subprocess.TimeoutExpired:
        proc.kill()
        proc.wait()


# --- agent mode -------------------------------------------------------------------------------

AGENT = {"prometheus_agent_mode": True,
         "prometheus_remote_write": [{"url": "http://central.example:9090/api/v1/write",
                                      "basic_auth": {"username": "agent", "password": "rw-'Secret\"$1"}}],
         "prometheus_external_labels": {"agent": "mon1"}}


def test_agent_mode_2x_flags_and_config(tmp_path):
    result = rendered(tmp_path, AGENT)
    argv = result["argv"]
    assert "--enable-feature=agent" in argv and "--agent" not in argv
    assert "--storage.agent.path=%s/agent" % (tmp_path / "data") in argv
    assert not [a for a in argv if a.startswith("--storage.tsdb.")], argv
    config = yaml.safe_load(result["config"])
    assert "rule_files" not in config and "alerting" not in config and "remote_read" not in config
    assert config["remote_write"][0]["basic_auth"]["password_file"].endswith(".password")
    assert "rw-'Secret" not in result["config"]
    # No alerting password file either (the Alertmanager of the inventory is not notified by an agent).
    assert not [s for s in result["secrets"] if "alerting" in s["path"]]
    assert result["validate"].split()[1:4] == ["check", "config", "--agent"]
    # The Prometheus of the inventory is scraped as for a server.
    assert {s["job_name"] for s in config["scrape_configs"]} >= {"prometheus", "node_exporter", "alertmanager"}


@needs_promtool
def test_agent_config_accepted_by_promtool_agent_and_a_server_config_refused(tmp_path):
    result = rendered(tmp_path, AGENT)
    out = promtool_validate(result)
    assert out.returncode == 0, out.stdout
    server = rendered(subdir(tmp_path, "server"))
    server["validate"] = result["validate"]  # the agent's check on a server's config: rule_files/alerting refused
    out = promtool_validate(server)
    assert out.returncode != 0 and "not allowed in agent mode" in out.stdout, out.stdout


@needs_prometheus
def test_real_prometheus_runs_as_agent_with_the_rendered_flags(tmp_path):
    result = rendered(tmp_path, AGENT)
    proc, url, body = start_prometheus(result, tmp_path)
    try:
        assert "Agent" in body
        with urllib.request.urlopen(url + "/api/v1/query?query=up", timeout=5) as response:
            pytest.fail("an agent answered a query: %r" % response.read())
    except urllib.error.HTTPError as exc:
        assert exc.code == 422 and b"unavailable with Prometheus Agent" in exc.read()
        # The role's reload check reads this metric: an agent has it too.
        with urllib.request.urlopen(url + "/metrics", timeout=5) as response:
            assert b"prometheus_config_last_reload_successful 1" in response.read()
    finally:
        stop(proc)
    assert os.path.isdir(str(tmp_path / "data" / "agent" / "wal"))


@needs_prometheus
def test_real_prometheus_server_with_receiver_and_auto_limits(tmp_path):
    result = rendered(tmp_path, {"prometheus_remote_write_receiver": True})
    assert "--web.enable-remote-write-receiver" in result["argv"]
    proc, url, _body = start_prometheus(result, tmp_path)
    try:
        # An empty remote-write body reaches the receiver (400: not snappy), not a 404 of a missing endpoint.
        request = urllib.request.Request(url + "/api/v1/write", data=b"", method="POST")
        with pytest.raises(urllib.error.HTTPError) as caught:
            urllib.request.urlopen(request, timeout=5)
        assert caught.value.code == 400
    finally:
        stop(proc)
    log = (tmp_path / "prometheus.log").read_text()
    assert "Automatically set GOMAXPROCS" in log and "Automatically set GOMEMLIMIT" in log


def test_agent_mode_3x_uses_the_agent_flag_and_no_feature_flags(tmp_path):
    result = rendered(tmp_path, dict(AGENT, prometheus_version="3.5.3"))
    argv = result["argv"]
    assert "--agent" in argv
    assert not [a for a in argv if a.startswith("--enable-feature")], argv
    assert "--storage.agent.path=%s/agent" % (tmp_path / "data") in argv


@pytest.mark.parametrize("variable,value", [
    ("prometheus_remote_read", [{"url": "http://x/read"}]),
    ("prometheus_rules", [{"name": "g", "rules": [{"record": "a", "expr": "up"}]}]),
    ("prometheus_alert_relabel_configs", [{"action": "labeldrop", "regex": "replica"}]),
    ("prometheus_alertmanagers_extra", [{"static_configs": [{"targets": ["am:9093"]}]}]),
])
def test_agent_mode_refuses_settings_an_agent_would_ignore(tmp_path, variable, value):
    text = failure(tmp_path, dict(AGENT, **{variable: value}))
    assert "prometheus_agent_mode on mon1: a Prometheus agent has no rules, alerting or remote read, yet %s is set" % variable in text


# --- feature flags by version -----------------------------------------------------------------

def features(result):
    return sorted(a.split("=", 1)[1] for a in result["argv"] if a.startswith("--enable-feature="))


@pytest.mark.parametrize("extra,expected", [
    ({}, ["auto-gomaxprocs", "auto-gomemlimit"]),
    ({"prometheus_version": "2.45.0"}, ["auto-gomaxprocs"]),
    ({"prometheus_version": "2.30.3"}, []),
    ({"prometheus_version": "3.5.3"}, []),
    ({"prometheus_version": "3.13.5"}, []),
    ({"prometheus_version": "latest"}, []),
    ({"prometheus_go_auto_limits": False}, []),
    ({"prometheus_extra_flags": {"enable-feature": "exemplar-storage"}}, ["auto-gomaxprocs", "auto-gomemlimit", "exemplar-storage"]),
    ({"prometheus_extra_flags": {"enable-feature": ["auto-gomaxprocs", "memory-snapshot-on-shutdown"]}},
     ["auto-gomaxprocs", "auto-gomemlimit", "memory-snapshot-on-shutdown"]),
])
def test_go_limits_and_user_feature_flags(tmp_path, extra, expected):
    assert features(rendered(tmp_path, extra)) == expected


def test_server_flags_unchanged_without_the_new_settings(tmp_path):
    result = rendered(tmp_path)
    argv = result["argv"]
    assert "--storage.tsdb.path=%s" % (tmp_path / "data") in argv
    assert "--storage.tsdb.retention.time=30d" in argv
    assert not [a for a in argv if a.startswith("--storage.agent") or a in ("--agent", "--web.enable-remote-write-receiver")]


# --- stop timeout -----------------------------------------------------------------------------

def stop_lines(unit):
    return [line for line in unit.splitlines() if line.startswith("TimeoutStopSec")]


@pytest.mark.parametrize("extra,expected", [
    ({}, ["TimeoutStopSec=300s"]),
    ({"prometheus_stop_timeout": "10m"}, ["TimeoutStopSec=10m"]),
    ({"prometheus_stop_timeout": "10m", "prometheus_systemd_overrides": {"TimeoutStopSec": "20s"}}, ["TimeoutStopSec=20s"]),
    ({"prometheus_systemd_overrides": {"TimeoutStopSec": None}}, []),
])
def test_stop_timeout_written_once(tmp_path, extra, expected):
    assert stop_lines(rendered(tmp_path, extra)["unit"]) == expected


def test_bad_stop_timeout_names_the_variable(tmp_path):
    text = failure(tmp_path, {"prometheus_stop_timeout": "ten minutes"})
    assert "prometheus_stop_timeout on mon1: 'ten minutes' is not a duration" in text


# --- alert relabeling --------------------------------------------------------------------------

@needs_promtool
def test_alert_relabel_configs(tmp_path):
    relabel = [{"action": "labeldrop", "regex": "replica"},
               {"source_labels": ["severity"], "regex": "info", "action": "drop"}]
    result = rendered(tmp_path, {"prometheus_alert_relabel_configs": relabel})
    config = yaml.safe_load(result["config"])
    assert config["alerting"]["alert_relabel_configs"] == relabel
    assert config["alerting"]["alertmanagers"][0]["static_configs"] == [{"targets": ["[fd18::21]:9093"]}]
    out = promtool_validate(result)
    assert out.returncode == 0, out.stdout
    bad = rendered(subdir(tmp_path, "bad"), {"prometheus_alert_relabel_configs": [{"action": "nonsense"}]})
    out = promtool_validate(bad)
    assert out.returncode != 0 and "nonsense" in out.stdout, out.stdout


# --- scrape config files from the controller ---------------------------------------------------

def controller_files(tmp_path, files):
    src = tmp_path / "controller"
    src.mkdir(exist_ok=True)
    for name, text in files.items():
        (src / name).write_text(text)
    return src


BLACKBOX = """scrape_configs:
  - job_name: blackbox
    metrics_path: /probe
    params: {module: [http_2xx]}
    basic_auth: {username: probe, password: "bb-Secret-'$1"}
    static_configs:
      - targets: ["www.example.com:443"]
"""


@needs_promtool
def test_scrape_config_files_written_and_validated_with_the_config(tmp_path):
    src = controller_files(tmp_path, {"blackbox.yml": BLACKBOX,
                                      "snmp.json": json.dumps({"scrape_configs": [{"job_name": "snmp", "static_configs": [{"targets": ["sw1:161"]}]}]}),
                                      "notes.txt": "not a scrape config"})
    result = rendered(tmp_path, {"prometheus_scrape_config_files": [str(src / "*.yml"), str(src / "*.json"), str(src / "blackbox.yml")]})
    files = dict((f["path"], f) for f in result["scrape_config_files"])
    directory = str(tmp_path / "etc" / "scrape_configs")
    assert sorted(files) == [directory + "/blackbox.yml", directory + "/snmp.yml"]
    assert files[directory + "/blackbox.yml"]["content"] == BLACKBOX
    assert (files[directory + "/blackbox.yml"]["group"], files[directory + "/blackbox.yml"]["mode"]) == ("prometheus", "0640")
    assert files[directory + "/blackbox.yml"]["origin"] == "prometheus_scrape_config_files (%s)" % (src / "blackbox.yml")
    config = yaml.safe_load(result["config"])
    assert config["scrape_config_files"] == [directory + "/*.yml"]
    assert "bb-Secret" not in result["config"]
    out = promtool_validate(result)
    assert out.returncode == 0, out.stdout


@needs_promtool
def test_a_scrape_config_file_promtool_refuses_fails_the_validation(tmp_path):
    # Well-formed for the role (a scrape_configs list) but a job of the inventory's name and an unknown field.
    src = controller_files(tmp_path, {"dup.yml": "scrape_configs:\n  - job_name: node_exporter\n    static_configs: [{targets: ['a:1']}]\n",
                                      "typo.yml": "scrape_configs:\n  - job_name: typo\n    scrape_intervall: 1m\n"})
    result = rendered(tmp_path, {"prometheus_scrape_config_files": [str(src / "dup.yml")]})
    out = promtool_validate(result)
    assert out.returncode != 0 and 'multiple scrape configs with job name "node_exporter"' in out.stdout, out.stdout
    result = rendered(subdir(tmp_path, "typo"), {"prometheus_scrape_config_files": [str(src / "typo.yml")]})
    out = promtool_validate(result)
    assert out.returncode != 0 and "scrape_intervall" in out.stdout, out.stdout


@pytest.mark.parametrize("files,message", [
    ({"a.yml": "scrape_configs:\n  - job_name: a\n", "sub/a.json": "{}"}, "would both be written as a.yml: rename one"),
    ({"x.yml": "- job_name: x\n"}, "must be a mapping with a scrape_configs list"),
    ({"x.yml": "scrape_configs: []\nglobal: {}\n"}, "only scrape_configs is allowed in a scrape config file, not global"),
    ({"x.yml": "scrape_configs: [\n"}, "is not valid YAML or JSON"),
    ({"x.conf": "scrape_configs: []\n"}, "is neither .yml, .yaml nor .json"),
])
def test_bad_scrape_config_files_name_the_file(tmp_path, files, message):
    src = tmp_path / "controller"
    for name, text in files.items():
        (src / name).parent.mkdir(parents=True, exist_ok=True)
        (src / name).write_text(text)
    text = failure(tmp_path, {"prometheus_scrape_config_files": [str(src / name) for name in files]})
    assert "prometheus_scrape_config_files on mon1:" in text and message in text, text


def test_scrape_config_files_need_2_43(tmp_path):
    src = controller_files(tmp_path, {"a.yml": "scrape_configs: []\n"})
    text = failure(tmp_path, {"prometheus_version": "2.42.0", "prometheus_scrape_config_files": [str(src / "a.yml")]})
    assert "prometheus_scrape_config_files on mon1: Prometheus 2.42.0 has no scrape_config_files" in text


def test_no_scrape_config_files_no_section(tmp_path):
    result = rendered(tmp_path, {"prometheus_scrape_config_files": [str(tmp_path / "nothing-here" / "*.yml")]})
    assert result["scrape_config_files"] == []
    assert "scrape_config_files" not in yaml.safe_load(result["config"])


# --- targets from variables and from files on the controller ----------------------------------

@needs_promtool
def test_static_targets_and_file_sd_files(tmp_path):
    src = controller_files(tmp_path, {
        "legacy.yml": "- targets: ['[fd18::99]:9100', 'old.example.com:9100']\n  labels: {env: prod, rack: 12}\n",
        "switches.json": json.dumps([{"targets": ["sw1:9116"]}])})
    static = {"blackbox": [{"targets": ["probe1.example.com:9115"], "labels": {"site": "a", "tier": 1}}],
              "windows": [{"targets": ["[fd18::50]:9182", "win2:9182"]}]}
    result = rendered(tmp_path, {"prometheus_static_targets": static,
                                 "prometheus_static_targets_files": [str(src / "*")]})
    files = dict((f["path"].rsplit("/", 1)[1], f) for f in result["file_sd"])
    assert json.loads(files["blackbox.json"]["content"]) == [
        {"targets": ["probe1.example.com:9115"], "labels": {"site": "a", "tier": "1"}}]
    assert json.loads(files["windows.json"]["content"]) == [{"targets": ["[fd18::50]:9182", "win2:9182"]}]
    assert json.loads(files["legacy.json"]["content"]) == [
        {"targets": ["[fd18::99]:9100", "old.example.com:9100"], "labels": {"env": "prod", "rack": "12"}}]
    assert json.loads(files["switches.json"]["content"]) == [{"targets": ["sw1:9116"]}]
    assert files["node_exporter.json"]  # the inventory's jobs stay
    directory = str(tmp_path / "etc" / "file_sd")
    jobs = dict((s["job_name"], s) for s in yaml.safe_load(result["config"])["scrape_configs"])
    assert jobs["blackbox"]["file_sd_configs"] == [{"files": [directory + "/blackbox.json"]}]
    assert jobs["windows"]["file_sd_configs"] == [{"files": [directory + "/windows.json"]}]
    assert "legacy" not in jobs  # files from the controller are for the user's own scrape configs
    out = promtool_validate(result)
    assert out.returncode == 0, out.stdout


@pytest.mark.parametrize("static,message", [
    ({"node_exporter": [{"targets": ["a:1"]}]}, "job node_exporter is already a job of the inventory"),
    ({"../up": [{"targets": ["a:1"]}]}, "'../up' is not a usable job name"),
    ({"web": [{"targets": "a:1"}]}, "targets must be a non-empty list"),
    ({"web": [{"targets": ["a:1"], "labels": {"bad-name": "x"}}]}, "'bad-name' is not a label name"),
    ({"web": [{"targets": ["a 1"]}]}, "'a 1' is not a target"),
    ({"web": [{"targets": ["a:1"], "lables": {}}]}, "unknown key(s) lables"),
    ({"web": "a:1"}, "expected a list of target groups"),
])
def test_bad_static_targets_name_the_job(tmp_path, static, message):
    text = failure(tmp_path, {"prometheus_static_targets": static})
    assert "prometheus_static_targets" in text and " on mon1: " in text and message in text, text


def test_bad_file_sd_file_names_the_file(tmp_path):
    src = controller_files(tmp_path, {"broken.yml": "- targets: [a:1\n"})
    text = failure(tmp_path, {"prometheus_static_targets_files": [str(src / "broken.yml")]})
    assert "prometheus_static_targets_files on mon1: %s is not valid YAML or JSON" % (src / "broken.yml") in text


def test_a_named_file_that_does_not_exist_fails(tmp_path):
    src = controller_files(tmp_path, {"present.yml": "scrape_configs: []\n"})
    text = failure(tmp_path, {"prometheus_scrape_config_files": [str(src / "present.yml"), str(src / "typo.yml")],
                              "prometheus_static_targets_files": [str(src / "nothing" / "*.json")]})
    assert "prometheus_scrape_config_files / prometheus_static_targets_files on mon1: typo.yml not found on the controller" in text
