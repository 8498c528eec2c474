# SPDX-License-Identifier: Apache-2.0
"""The prometheus role's scrape/alerting variables (vars/main/scrape.yml) and prometheus.yml.j2, rendered
by Ansible itself for an inventory with IPv6, names with dots, multi-instance exporters, route prefixes,
mutual TLS and credentials: prometheus.yml refers to files only, every secret is in a secret file,
promtool accepts the result, and bad values fail naming the host and the variable."""
import json
import os
import subprocess
import sys

import pytest
import yaml

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
import roleplay  # noqa: E402  pylint: disable=wrong-import-position
import rulebundle  # noqa: E402  pylint: disable=wrong-import-position

PROMTOOL = rulebundle.find_tool("promtool", "PROMTOOL")
pytestmark = pytest.mark.skipif(not os.path.exists(roleplay.PLAYBOOK_BIN), reason="ansible-playbook not installed")

SECRETS = ["am-Secret-1", "pg-Secret-2", "rd-Secret-3", "rw-Secret-4", "rwtok-Secret-5", "extra-Secret-6",
           "amx-Secret-7", "rr-Secret-8", "AKIA-Secret-9", "aws-Secret-10"]

INVENTORY = {
    "all": {"vars": {"ansible_connection": "local", "ansible_python_interpreter": sys.executable}},
    "prometheus": {"hosts": {
        # mon1's own prometheus_* settings are extra vars (the test loads the role's defaults with include_vars)
        "mon1": {"ansible_host": "fd18::10"},
        "mon2.example.com": {"prometheus_extra_flags": {"web.route-prefix": "/inner"}},
    }},
    "alertmanager": {"hosts": {
        "am1": {"ansible_host": "fd18::21", "alertmanager_external_url": "https://am.example/am/",
                "alertmanager_tls_cert_file": "/etc/am/tls.crt", "alertmanager_basic_auth_users": {"prometheus": "am-Secret-1"}},
    }},
    "node_exporter": {"hosts": {"app1": {"node_exporter_listen_address": "10.0.0.5:9100"}, "mon1": {}}},
    "postgres_exporter": {"hosts": {"db1.example.com": {
        "ansible_host": "fd18::31", "postgres_exporter_tls_cert_file": "/etc/pg/tls.crt",
        "postgres_exporter_basic_auth_users": {"prometheus": "pg-Secret-2"},
        "postgres_exporter_instances": [{"name": "main"}, {"name": "wrongpw", "listen_address": "0.0.0.0:9188"}],
    }}},
    "redis_exporter": {"hosts": {"db1.example.com": {
        "redis_exporter_basic_auth_users": {"prometheus": "rd-Secret-3"},
        "redis_exporter_instances": [{"name": "cache"}, {"name": "queue", "listen_address": "[fd18::32]:9122"}],
    }}},
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
    - name: Write what service_setup would get
      ansible.builtin.copy:
        dest: "{{ out_dir }}/result.json"
        mode: "0600"
        content: >-
          {{ {'config': prometheus_config_file.content, 'config_path': prometheus_config_file.path,
              'file_sd': prometheus_file_sd_files, 'secrets': prometheus_secret_files,
              'environment': prometheus_environment, 'checked': prometheus_checked_values} | to_json }}
"""


def run(tmp_path, host="mon1", extra=None, inventory=None):
    (tmp_path / "templates").mkdir(exist_ok=True)
    link = tmp_path / "templates" / "prometheus.yml.j2"
    if not link.exists():
        link.symlink_to(os.path.join(ROOT, "roles", "prometheus", "templates", "prometheus.yml.j2"))
    values = {"target_host": host, "prometheus_config_dir": str(tmp_path / "etc")}
    values.update(extra or {})
    return roleplay.run(tmp_path, PLAY % {"root": ROOT}, inventory or INVENTORY, values)


MON1_EXTRA = {
    "prometheus_external_url": "https://mon.example/prom/",
    "prometheus_scrape_ca_file": "CA", "prometheus_scrape_cert_file": "CERT", "prometheus_scrape_key_file": "KEY",
    "prometheus_remote_write": [
        {"name": "cortex", "url": "https://cortex.example/api/v1/push", "basic_auth": {"username": "mon", "password": "rw-Secret-4"}},
        {"url": "https://other.example/write", "authorization": {"credentials": "rwtok-Secret-5"}},
        {"url": "https://aps.example/write", "sigv4": {"region": "eu-west-1", "access_key": "AKIA-Secret-9", "secret_key": "aws-Secret-10"}},
    ],
    "prometheus_remote_read": [{"url": "https://cortex.example/api/v1/read", "bearer_token": "rr-Secret-8"}],
    "prometheus_scrape_configs_extra": [{"job_name": "external", "basic_auth": {"username": "u", "password": "extra-Secret-6"},
                                         "static_configs": [{"targets": ["ext.example:9100"]}]}],
    "prometheus_alertmanagers_extra": [{"basic_auth": {"username": "u", "password": "amx-Secret-7"},
                                        "static_configs": [{"targets": ["am-ext.example:9093"]}]}],
}


@pytest.fixture(scope="module")
def rendered(tmp_path_factory):
    tmp_path = tmp_path_factory.mktemp("prom")
    extra = dict(MON1_EXTRA)
    for key in ("prometheus_scrape_ca_file", "prometheus_scrape_cert_file", "prometheus_scrape_key_file"):
        extra[key] = str(tmp_path / extra[key].lower())
        (tmp_path / extra[key].rsplit("/", 1)[1]).write_text("dummy\n")
    out, result = run(tmp_path, extra=extra)
    assert out.returncode == 0, out.stdout
    return tmp_path, result, out.stdout


def test_prometheus_yml_has_no_secret_and_only_file_references(rendered):
    _tmp, result, _out = rendered
    text = result["config"]
    for secret in SECRETS:
        assert secret not in text, secret
    config = yaml.safe_load(text)
    for scrape in config["scrape_configs"]:
        assert "password" not in scrape.get("basic_auth", {})
    assert config["remote_write"][0]["basic_auth"]["password_file"].endswith("/remote_write-0-cortex-basic_auth-password.password")
    assert config["remote_write"][1]["authorization"]["credentials_file"].endswith(".password")
    assert config["remote_write"][2]["sigv4"]["profile"].startswith("fleetwatch-")
    assert config["remote_read"][0]["bearer_token_file"].endswith(".password")


def test_every_secret_is_in_a_secret_file(rendered):
    tmp_path, result, _out = rendered
    contents = "\n".join(f["content"] for f in result["secrets"])
    for secret in SECRETS:
        assert secret in contents, secret
    for entry in result["secrets"]:
        assert entry["path"].startswith(str(tmp_path / "etc" / "secrets") + "/")
        assert (entry["group"], entry["mode"]) == ("prometheus", "0640")
    paths = [f["path"] for f in result["secrets"]]
    assert len(paths) == len(set(paths))
    assert result["environment"] == {"AWS_SHARED_CREDENTIALS_FILE": str(tmp_path / "etc" / "secrets" / "aws_credentials.password")}


def test_file_sd_targets(rendered):
    tmp_path, result, _out = rendered
    files = dict((f["path"].rsplit("/", 1)[1], json.loads(f["content"])) for f in result["file_sd"])
    for entry in result["file_sd"]:
        for secret in SECRETS:
            assert secret not in entry["content"]
    assert files["postgres_exporter.json"] == [
        {"labels": {"instance": "db1.example.com", "instance_name": "main"}, "targets": ["[fd18::31]:9187"]},
        {"labels": {"instance": "db1.example.com", "instance_name": "wrongpw"}, "targets": ["[fd18::31]:9188"]}]
    assert files["redis_exporter.json"] == [
        {"labels": {"instance": "db1.example.com", "instance_name": "cache"}, "targets": ["[fd18::31]:9121"]},
        {"labels": {"instance": "db1.example.com", "instance_name": "queue"}, "targets": ["[fd18::32]:9122"]}]
    assert sorted(t["targets"][0] for t in files["node_exporter.json"]) == ["10.0.0.5:9100", "[fd18::10]:9100"]
    assert files["alertmanager.json"] == [{"labels": {"instance": "am1"}, "targets": ["[fd18::21]:9093"]}]


def test_paths_tls_and_alerting(rendered):
    tmp_path, result, _out = rendered
    config = yaml.safe_load(result["config"])
    jobs = dict((s["job_name"], s) for s in config["scrape_configs"])
    prom = [s for s in config["scrape_configs"] if s["job_name"].startswith("prometheus")]
    assert sorted(s["metrics_path"] for s in prom) == ["/inner/metrics", "/prom/metrics"]
    assert jobs["alertmanager"]["metrics_path"] == "/am/metrics"
    assert jobs["alertmanager"]["tls_config"] == {"ca_file": str(tmp_path / "ca"), "cert_file": str(tmp_path / "cert"),
                                                  "key_file": str(tmp_path / "key"), "insecure_skip_verify": False}
    assert jobs["postgres_exporter"]["scheme"] == "https" and "tls_config" in jobs["postgres_exporter"]
    assert jobs["redis_exporter"]["scheme"] == "http" and "tls_config" not in jobs["redis_exporter"]
    ours, extra = config["alerting"]["alertmanagers"]
    assert ours["path_prefix"] == "/am"
    assert ours["static_configs"] == [{"targets": ["[fd18::21]:9093"]}]
    assert ours["basic_auth"] == {"username": "prometheus", "password_file": str(tmp_path / "etc" / "secrets" / "alerting_alertmanager.password")}
    assert ours["tls_config"]["cert_file"] == str(tmp_path / "cert")
    assert "password_file" in extra["basic_auth"] and "password" not in extra["basic_auth"]


@pytest.mark.skipif(PROMTOOL is None, reason="promtool not found: `make tools` puts it in .cache/tools")
def test_promtool_accepts_the_config_with_its_files(rendered):
    tmp_path, result, _out = rendered
    for entry in result["file_sd"] + result["secrets"] + [{"path": result["config_path"], "content": result["config"]}]:
        os.makedirs(os.path.dirname(entry["path"]), exist_ok=True)
        with open(entry["path"], "w") as handle:
            handle.write(entry["content"])
    out = subprocess.run([PROMTOOL, "check", "config", result["config_path"]], stdout=subprocess.PIPE,
                         stderr=subprocess.STDOUT, universal_newlines=True, timeout=120, check=False)
    assert out.returncode == 0, out.stdout


def test_checked_values(rendered):
    _tmp, result, _out = rendered
    assert result["checked"]["prometheus_retention_time"] == "30d"
    assert result["checked"]["prometheus_listen_address"] == "0.0.0.0:9090"


def test_warns_when_there_is_no_alertmanager(tmp_path):
    inventory = {"all": INVENTORY["all"], "prometheus": {"hosts": {"mon1": {}}}}
    out, result = run(tmp_path, inventory=inventory)
    assert out.returncode == 0, out.stdout
    assert "Prometheus on mon1 has NO Alertmanager" in " ".join(out.stdout.split())
    assert yaml.safe_load(result["config"])["alerting"]["alertmanagers"] == [{"static_configs": []}]


def test_a_bad_target_address_names_host_and_variable(tmp_path):
    inventory = json.loads(json.dumps(INVENTORY))
    inventory["node_exporter"]["hosts"]["app1"]["node_exporter_listen_address"] = "0.0.0.0:91OO"
    out, _result = run(tmp_path, inventory=inventory)
    assert out.returncode != 0
    assert "node_exporter_listen_address on app1: '0.0.0.0:91OO' is not host:port (port must be 1-65535)" in " ".join(out.stdout.split())


def test_a_bad_flag_value_fails_before_any_file(tmp_path):
    out, _result = run(tmp_path, extra={"prometheus_retention_time": "30 days", "prometheus_retention_size": "10 GB"})
    assert out.returncode != 0
    text = " ".join(out.stdout.split())
    assert "prometheus_retention_time on mon1: '30 days' is not a duration" in text
    assert "prometheus_retention_size on mon1: '10 GB' is not a size" in text
    assert not (tmp_path / "result.json").exists()
