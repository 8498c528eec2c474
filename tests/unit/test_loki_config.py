# SPDX-License-Identifier: Apache-2.0
"""The loki role's config (vars/main.yml) and shipped rules, rendered by Ansible itself: the ruler's
Alertmanager URLs come from the inventory like Prometheus' (IPv6, route prefix, https, basic auth),
TLS reaches server.http_tls_config, bad values fail naming the variable and the host, and the real
Loki (when the mirror has it) accepts the generated config with -verify-config."""
import glob
import os
import subprocess
import sys
import zipfile

import pytest
import yaml

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
import roleplay  # noqa: E402  pylint: disable=wrong-import-position

ROOT = roleplay.ROOT
pytestmark = pytest.mark.skipif(not os.path.exists(roleplay.PLAYBOOK_BIN), reason="ansible-playbook not installed")

INVENTORY = {
    "all": {"vars": {"ansible_connection": "local", "ansible_python_interpreter": sys.executable}},
    "loki": {"hosts": {"logs1": {}}},
    "alertmanager": {"hosts": {
        "am1": {"ansible_host": "fd18::21", "alertmanager_external_url": "https://am.example/am/",
                "alertmanager_tls_cert_file": "/etc/am/tls.crt", "alertmanager_basic_auth_users": {"prometheus": "am-Secret-1"}},
        "am2": {"ansible_host": "fd18::22", "alertmanager_tls_cert_file": "/etc/am/tls.crt",
                "alertmanager_basic_auth_users": {"prometheus": "am-Secret-1"}},
    }},
}

PLAY = """
- name: Render the loki role's files
  hosts: logs1
  gather_facts: false
  tasks:
    - name: Shared defaults
      ansible.builtin.include_vars: {file: "%(root)s/roles/common/defaults/main.yml"}
    - name: Role defaults
      ansible.builtin.include_vars: {file: "%(root)s/roles/loki/defaults/main.yml"}
    - name: Role vars
      ansible.builtin.include_vars: {file: "%(root)s/roles/loki/vars/main.yml"}
    - name: Write what service_setup would get
      ansible.builtin.copy:
        dest: "{{ out_dir }}/result.json"
        mode: "0600"
        content: >-
          {{ {'config': loki_config_text, 'unit': loki_unit | fleetwatch.observability.systemd_unit,
              'control': loki_control,
              'rules': lookup('ansible.builtin.template', '%(root)s/roles/loki/templates/rules/fleetwatch.yml.j2',
                              variable_start_string='[[', variable_end_string=']]')} | to_json }}
"""


def run(tmp_path, extra=None, inventory=None):
    return roleplay.run(tmp_path, PLAY % {"root": ROOT}, inventory or INVENTORY, extra)


@pytest.fixture(scope="module")
def rendered(tmp_path_factory):
    tmp_path = tmp_path_factory.mktemp("loki")
    out, result = run(tmp_path, extra={"loki_tls_cert_file": "/etc/loki/tls.crt", "loki_tls_key_file": "/etc/loki/tls.key",
                                       "loki_alertmanagers_extra": ["https://am-ext.example:9443"]})
    assert out.returncode == 0, out.stdout
    return tmp_path, result


def test_ruler_sends_to_the_inventorys_alertmanagers(rendered):
    config = yaml.safe_load(rendered[1]["config"])
    ruler = config["ruler"]
    assert ruler["alertmanager_url"] == "https://[fd18::21]:9093/am,https://[fd18::22]:9093,https://am-ext.example:9443"
    assert ruler["alertmanager_client"] == {"basic_auth_username": "prometheus", "basic_auth_password": "am-Secret-1"}
    assert ruler["storage"] == {"type": "local", "local": {"directory": "/etc/loki/rules"}}


def test_storage_schema_retention_and_tls(rendered):
    config = yaml.safe_load(rendered[1]["config"])
    assert config["auth_enabled"] is False
    assert config["schema_config"]["configs"] == [{"from": "2024-01-01", "store": "tsdb", "object_store": "filesystem",
                                                   "schema": "v13", "index": {"prefix": "index_", "period": "24h"}}]
    assert config["compactor"]["retention_enabled"] is True
    assert config["ingester"]["wal"] == {"enabled": True, "dir": "/var/lib/loki/wal", "flush_on_shutdown": True}
    assert config["compactor"]["delete_request_store"] == "filesystem"
    assert config["limits_config"]["retention_period"] == "744h"
    assert config["limits_config"]["ingestion_rate_mb"] == 4
    assert config["server"]["http_tls_config"] == {"cert_file": "/etc/loki/tls.crt", "key_file": "/etc/loki/tls.key"}
    assert (config["server"]["grpc_listen_address"], config["server"]["grpc_listen_port"]) == ("127.0.0.1", 9096)
    assert config["analytics"] == {"reporting_enabled": False}
    assert rendered[1]["control"]["url"] == "https://127.0.0.1:3100"
    assert rendered[1]["control"]["ready_path"] == "/ready"
    assert "ExecReload" not in rendered[1]["unit"], "Loki has no reload on SIGHUP: a config change restarts it"


def test_shipped_rules_are_logql_alert_rules(rendered):
    rules = yaml.safe_load(rendered[1]["rules"])
    [group] = rules["groups"]
    [rule] = group["rules"]
    assert rule["alert"] == "LogErrorLinesHigh"
    assert rule["expr"].startswith('sum by (host, job) (count_over_time({job=~".+"}') and rule["expr"].endswith("> 100")
    assert rule["for"] == "10m" and rule["labels"] == {"severity": "warning"}
    assert "{{ $labels.host }}" in rule["annotations"]["summary"], "Loki's own templating is kept"


def test_without_alertmanagers_the_ruler_has_no_url(tmp_path):
    inventory = {"all": INVENTORY["all"], "loki": INVENTORY["loki"]}
    out, result = run(tmp_path, inventory=inventory)
    assert out.returncode == 0, out.stdout
    ruler = yaml.safe_load(result["config"])["ruler"]
    assert "alertmanager_url" not in ruler and "alertmanager_client" not in ruler


@pytest.mark.parametrize("variable, value", [("loki_listen_address", "3100"), ("loki_retention_period", "a week")])
def test_bad_values_name_the_variable_and_the_host(tmp_path, variable, value):
    out, _result = run(tmp_path, extra={variable: value})
    assert out.returncode != 0
    assert "%s on logs1" % variable in out.stdout, out.stdout


def loki_binary(tmp_path):
    zips = sorted(glob.glob(os.path.join(ROOT, ".cache", "mirror", "loki", "*", "loki-linux-amd64.zip")))
    if not zips or os.uname().machine != "x86_64":
        pytest.skip("skipped: no Loki artifact in .cache/mirror (../shared/mirror is missing)")
    with zipfile.ZipFile(zips[-1]) as archive:
        archive.extract("loki-linux-amd64", str(tmp_path))
    path = str(tmp_path / "loki-linux-amd64")
    os.chmod(path, 0o755)
    return path


def test_the_real_loki_accepts_the_config_and_refuses_a_broken_one(rendered, tmp_path):
    loki = loki_binary(tmp_path)
    good = tmp_path / "loki.yml"
    good.write_text(rendered[1]["config"])
    out = subprocess.run([loki, "-verify-config", "-config.file=%s" % good], stdout=subprocess.PIPE,
                         stderr=subprocess.STDOUT, universal_newlines=True, check=False)
    assert out.returncode == 0, out.stdout
    broken = tmp_path / "broken.yml"
    broken.write_text(rendered[1]["config"].replace("limits_config:\n", "limits_config:\n  no_such_limit: 1\n"))
    out = subprocess.run([loki, "-verify-config", "-config.file=%s" % broken], stdout=subprocess.PIPE,
                         stderr=subprocess.STDOUT, universal_newlines=True, check=False)
    assert out.returncode != 0 and "no_such_limit" in out.stdout, out.stdout


S3 = {"endpoint": "minio.example:9000", "bucketnames": "loki-chunks", "region": "eu-west-1",
      "access_key_id": "fleetwatch", "secret_access_key": "s3-Secret'\"$1", "s3forcepathstyle": True, "insecure": True}


def test_an_s3_compatible_object_store_holds_chunks_and_index(tmp_path):
    out, result = run(tmp_path, extra={"loki_object_store": "s3", "loki_s3": S3})
    assert out.returncode == 0, out.stdout
    config = yaml.safe_load(result["config"])
    assert config["common"]["storage"] == {"s3": S3}
    assert config["schema_config"]["configs"][0]["object_store"] == "s3"
    assert config["compactor"]["delete_request_store"] == "s3"
    assert "s3-Secret" not in out.stdout, "the secret key never reaches the play's output"
    loki = loki_binary(tmp_path)
    path = tmp_path / "loki-s3.yml"
    path.write_text(result["config"])
    checked = subprocess.run([loki, "-verify-config", "-config.file=%s" % path], stdout=subprocess.PIPE,
                             stderr=subprocess.STDOUT, universal_newlines=True, check=False)
    assert checked.returncode == 0, checked.stdout


@pytest.mark.parametrize("extra", [{"loki_object_store": "s3"}, {"loki_object_store": "s3", "loki_s3": {"region": "x"}}])
def test_an_s3_store_without_a_bucket_is_refused_naming_the_variable_and_host(tmp_path, extra):
    out, _result = run(tmp_path, extra=extra)
    assert out.returncode != 0
    assert "loki_s3.bucketnames on logs1 is required" in out.stdout, out.stdout
