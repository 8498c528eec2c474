# SPDX-License-Identifier: Apache-2.0
"""The tempo role's config (vars/main.yml) rendered by Ansible itself: OTLP receivers on the checked
listen addresses (IPv6, one turned off), every path Tempo writes under the storage path, retention,
the metrics generator's remote_write to the inventory's Prometheus hosts (IPv6, https, route prefix,
basic auth through a password file, never in tempo.yml), TLS, the unit's stop timeout, bad values
naming the variable and the host; and the real Tempo 3.0.3 (when the mirror has it) accepting the
generated config with -config.verify=true and refusing a broken one.

Also scrape.remote_write_configs (the remote_write_configs filter) on its own, with bad input."""
import glob
import os
import subprocess
import sys
import tarfile

import pytest
import yaml

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
import roleplay  # noqa: E402  pylint: disable=wrong-import-position

sys.path.insert(0, os.path.join(roleplay.ROOT, "plugins", "module_utils"))
import scrape  # noqa: E402  pylint: disable=wrong-import-position,import-error

ROOT = roleplay.ROOT
needs_ansible = pytest.mark.skipif(not os.path.exists(roleplay.PLAYBOOK_BIN), reason="ansible-playbook not installed")

PROM_SECRET = "pr'om $ecret\"1"
INVENTORY = {
    "all": {"vars": {"ansible_connection": "local", "ansible_python_interpreter": sys.executable}},
    "tempo": {"hosts": {"traces.example.org": {}}},
    "prometheus": {"hosts": {
        "prom1": {"ansible_host": "fd18::31", "prometheus_external_url": "https://prom.example/prom/",
                  "prometheus_tls_cert_file": "/etc/prometheus/tls.crt",
                  "prometheus_basic_auth_users": {"tempo": PROM_SECRET, "admin": "other"},
                  "prometheus_remote_write_receiver": True},
        "prom2": {"prometheus_listen_address": "10.0.0.32:9091"},
    }},
}

PLAY = """
- name: Render the tempo role's files
  hosts: traces.example.org
  gather_facts: false
  tasks:
    - name: Shared defaults
      ansible.builtin.include_vars: {file: "%(root)s/roles/common/defaults/main.yml"}
    - name: Role defaults
      ansible.builtin.include_vars: {file: "%(root)s/roles/tempo/defaults/main.yml"}
    - name: Role vars
      ansible.builtin.include_vars: {file: "%(root)s/roles/tempo/vars/main.yml"}
    - name: Write what service_setup would get
      ansible.builtin.copy:
        dest: "{{ out_dir }}/result.json"
        mode: "0600"
        content: >-
          {{ {'config': tempo_config_text, 'unit': tempo_unit | fleetwatch.observability.systemd_unit,
              'control': tempo_control, 'secret_files': tempo_secret_files,
              'without_receiver': tempo_prometheus_without_receiver} | to_json }}
"""


def run(tmp_path, extra=None, inventory=None):
    return roleplay.run(tmp_path, PLAY % {"root": ROOT}, inventory or INVENTORY, extra)


@pytest.fixture(scope="module")
def rendered(tmp_path_factory):
    if not os.path.exists(roleplay.PLAYBOOK_BIN):
        pytest.skip("ansible-playbook not installed")
    tmp_path = tmp_path_factory.mktemp("tempo")
    out, result = run(tmp_path, extra={
        "tempo_tls_cert_file": "/etc/tempo/tls.crt", "tempo_tls_key_file": "/etc/tempo/tls.key",
        "tempo_otlp_grpc_listen_address": "[::]:4317", "tempo_retention_period": "2w",
        "tempo_prometheus_ca_file": "/etc/tempo/prom-ca.crt",
        "tempo_remote_write_extra": [{"url": "https://tsdb.example/api/v1/write",
                                      "basic_auth": {"username": "u", "password": "extra-Secret-2"}}]})
    assert out.returncode == 0, out.stdout
    return tmp_path, result


def test_receivers_server_and_tls(rendered):
    config = yaml.safe_load(rendered[1]["config"])
    protocols = config["distributor"]["receivers"]["otlp"]["protocols"]
    tls = {"cert_file": "/etc/tempo/tls.crt", "key_file": "/etc/tempo/tls.key"}
    assert protocols == {"grpc": {"endpoint": "[::]:4317", "tls": tls}, "http": {"endpoint": "0.0.0.0:4318", "tls": tls}}
    server = config["server"]
    assert (server["http_listen_address"], server["http_listen_port"]) == ("0.0.0.0", 3200)
    assert (server["grpc_listen_address"], server["grpc_listen_port"]) == ("127.0.0.1", 9095)
    assert server["http_tls_config"] == tls
    assert rendered[1]["control"]["url"] == "https://127.0.0.1:3200"
    assert rendered[1]["control"]["ready_path"] == "/ready"
    assert config["usage_report"] == {"reporting_enabled": False}


def test_every_path_is_under_the_storage_path(rendered):
    config = yaml.safe_load(rendered[1]["config"])
    paths = [config["live_store"]["wal"]["path"], config["live_store"]["shutdown_marker_dir"],
             config["block_builder"]["wal"]["path"], config["backend_scheduler"]["local_work_path"],
             config["metrics_generator"]["storage"]["path"], config["storage"]["trace"]["wal"]["path"],
             config["storage"]["trace"]["local"]["path"]]
    assert all(p.startswith("/var/lib/tempo/") for p in paths), paths
    assert len(set(paths)) == len(paths)
    assert "/var/tempo" not in rendered[1]["config"]


def test_retention_and_generator_processors(rendered):
    config = yaml.safe_load(rendered[1]["config"])
    defaults = config["overrides"]["defaults"]
    assert defaults["compaction"]["block_retention"] == "2w"
    assert defaults["metrics_generator"]["processors"] == ["service-graphs", "span-metrics"]
    assert config["metrics_generator"]["registry"]["collection_interval"] == "15s"


def test_remote_write_to_the_inventorys_prometheus_hosts_without_secrets_in_the_config(rendered):
    config = yaml.safe_load(rendered[1]["config"])
    remote_write = config["metrics_generator"]["storage"]["remote_write"]
    assert remote_write[0] == {
        "url": "https://[fd18::31]:9090/prom/api/v1/write", "name": "prometheus-prom1", "send_exemplars": True,
        "basic_auth": {"username": "tempo", "password_file": "/etc/tempo/secrets/remote_write_prometheus.password"},
        "tls_config": {"ca_file": "/etc/tempo/prom-ca.crt", "insecure_skip_verify": False}}
    assert remote_write[1] == {"url": "http://10.0.0.32:9091/api/v1/write", "name": "prometheus-prom2", "send_exemplars": True}
    assert remote_write[2]["url"] == "https://tsdb.example/api/v1/write"
    assert remote_write[2]["basic_auth"]["username"] == "u" and "password" not in remote_write[2]["basic_auth"]
    assert PROM_SECRET not in rendered[1]["config"] and "extra-Secret-2" not in rendered[1]["config"]
    files = {f["path"]: f for f in rendered[1]["secret_files"]}
    assert files["/etc/tempo/secrets/remote_write_prometheus.password"]["content"] == PROM_SECRET
    assert remote_write[2]["basic_auth"]["password_file"] in files
    assert files[remote_write[2]["basic_auth"]["password_file"]]["content"] == "extra-Secret-2"
    assert all((f["group"], f["mode"]) == ("tempo", "0640") for f in files.values())


def test_prometheus_hosts_without_the_receiver_are_named(rendered):
    assert rendered[1]["without_receiver"] == ["prom2"]


def test_unit_stops_in_bounded_time_and_has_no_reload(rendered):
    unit = rendered[1]["unit"]
    assert "TimeoutStopSec=15s" in unit, "Tempo 3.0.3 does not exit on SIGTERM: systemd must kill it"
    assert "ExecReload" not in unit, "Tempo has no reload on SIGHUP: a config change restarts it"
    assert "ExecStart=/usr/local/bin/tempo \\\n    --config.file=/etc/tempo/tempo.yml\n" in unit
    assert "ReadWritePaths=/var/lib/tempo" in unit


@needs_ansible
def test_one_receiver_off_no_tls_no_prometheus(tmp_path):
    inventory = {"all": INVENTORY["all"], "tempo": INVENTORY["tempo"]}
    out, result = run(tmp_path, inventory=inventory, extra={"tempo_otlp_grpc_listen_address": "",
                                                            "tempo_metrics_generator_processors": []})
    assert out.returncode == 0, out.stdout
    config = yaml.safe_load(result["config"])
    assert config["distributor"]["receivers"]["otlp"]["protocols"] == {"http": {"endpoint": "0.0.0.0:4318"}}
    assert "http_tls_config" not in config["server"]
    assert config["metrics_generator"]["storage"]["remote_write"] == []
    assert config["overrides"]["defaults"]["metrics_generator"]["processors"] == []
    assert result["secret_files"] == [] and result["without_receiver"] == []


@needs_ansible
@pytest.mark.parametrize("variable, value", [
    ("tempo_otlp_http_listen_address", "4318"), ("tempo_listen_address", "[::1]:99999"),
    ("tempo_retention_period", "two weeks"), ("tempo_stop_timeout", 15)])
def test_bad_values_name_the_variable_and_the_host(tmp_path, variable, value):
    out, _result = run(tmp_path, extra={variable: value})
    assert out.returncode != 0
    assert "%s on traces.example.org" % variable in out.stdout, out.stdout


@needs_ansible
def test_prometheus_with_basic_auth_but_no_user_for_tempo_is_an_error(tmp_path):
    out, _result = run(tmp_path, extra={"tempo_prometheus_user": "nobody"})
    assert out.returncode != 0
    assert "no user 'nobody'" in out.stdout and "prom1" in out.stdout, out.stdout


# --- scrape.remote_write_configs -------------------------------------------------------------------

SLICES = [{"name": "remote_write_prometheus", "job": "prometheus", "scheme": "http", "path_prefix": "/",
           "username": None, "password": None, "password_file": None, "tls_config": None,
           "targets": [{"address": "a.example:9090", "instance": "a.example", "labels": {}},
                       {"address": "[fd00::1]:9090", "instance": "b", "labels": {"instance_name": "two"}}]}]


def test_remote_write_configs_one_entry_per_target():
    entries = scrape.remote_write_configs(SLICES, "/api/v1/write", {"send_exemplars": False})
    assert entries == [
        {"url": "http://a.example:9090/api/v1/write", "name": "prometheus-a.example", "send_exemplars": False},
        {"url": "http://[fd00::1]:9090/api/v1/write", "name": "prometheus-b-two", "send_exemplars": False}]
    assert scrape.remote_write_configs([]) == []


@pytest.mark.parametrize("path, settings, message", [
    ("api/v1/write", None, "must start with /"), (None, None, "must start with /"),
    ("/api/v1/write", ["send_exemplars"], "must be a mapping")])
def test_remote_write_configs_bad_input(path, settings, message):
    with pytest.raises(scrape.ScrapeError, match=message):
        scrape.remote_write_configs(SLICES, path, settings)


def test_remote_write_configs_basic_auth_needs_a_password_file():
    slices = [dict(SLICES[0], username="tempo", password="x")]
    with pytest.raises(scrape.ScrapeError, match="no password file"):
        scrape.remote_write_configs(slices)


# --- the real Tempo --------------------------------------------------------------------------------

def tempo_binary(tmp_path):
    archives = sorted(glob.glob(os.path.join(ROOT, ".cache", "mirror", "tempo", "*", "tempo_*_linux_amd64.tar.gz")))
    if not archives or os.uname().machine != "x86_64":
        pytest.skip("skipped: no Tempo artifact in .cache/mirror (../shared/mirror is missing)")
    with tarfile.open(archives[-1]) as archive:
        member = archive.getmember("tempo")
        with archive.extractfile(member) as source, open(str(tmp_path / "tempo"), "wb") as target:
            target.write(source.read())
    path = str(tmp_path / "tempo")
    os.chmod(path, 0o755)
    return path


def verify(tempo, path):
    return subprocess.run([tempo, "-config.verify=true", "-config.file=%s" % path], stdout=subprocess.PIPE,
                          stderr=subprocess.STDOUT, universal_newlines=True, check=False)


def test_the_real_tempo_accepts_the_config_and_refuses_a_broken_one(rendered, tmp_path):
    tempo = tempo_binary(tmp_path)
    good = tmp_path / "tempo.yml"
    good.write_text(rendered[1]["config"])
    out = verify(tempo, good)
    assert out.returncode == 0, out.stdout
    broken = tmp_path / "broken.yml"
    broken.write_text(rendered[1]["config"].replace("usage_report:\n", "usage_report:\n  no_such_field: 1\n"))
    out = verify(tempo, broken)
    assert out.returncode != 0 and "no_such_field" in out.stdout, out.stdout
