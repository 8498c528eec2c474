# SPDX-License-Identifier: Apache-2.0
"""The fluent_bit role's configuration: plugins/plugin_utils/_fluentbit.py directly (structure, hostile values),
the role's variables rendered by ansible-playbook for an inventory with Lokis (IPv6, TLS, a route prefix),
the deb822 sources file (key by URL and as content), and the real Fluent Bit 5.1.1 from the mirror
checking the rendered config (`--dry-run`) and refusing a broken one."""
import base64
import os
import subprocess
import sys
import tarfile

import pytest
import yaml

from ansible_collections.fleetwatch.observability.plugins.plugin_utils import _fluentbit as fluentbit

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
import roleplay  # noqa: E402  pylint: disable=wrong-import-position

ROOT = roleplay.ROOT
needs_playbook = pytest.mark.skipif(not os.path.exists(roleplay.PLAYBOOK_BIN), reason="ansible-playbook not installed")

BASE = {
    "listen_host": "0.0.0.0", "listen_port": 2020, "log_level": "info", "flush": 1, "data_dir": "/var/lib/fluent-bit",
    "storage_sync": "normal", "backlog_mem_limit": "16M", "retry_min_wait": 5, "retry_max_wait": 60,
    "retry_limit": False, "total_limit_size": "1G", "journal": True, "journal_job": "systemd-journal",
    "journal_filters": [], "journal_read_from_tail": True,
    "files": [{"job": "app", "path": "/var/log/app/*.log"}], "refresh_interval": 10,
    "host_label": "web1.example.org", "labels": {}, "tls_verify": True,
    "endpoints": [{"scheme": "http", "host": "loki1", "port": 3100, "path": ""}],
}


def build(**changes):
    settings = dict(BASE)
    settings.update(changes)
    return fluentbit.config(settings, "web1")


# --- module_utils ---------------------------------------------------------------------------------

def test_journal_and_files_to_loki_with_labels_positions_and_buffer():
    config = build()
    service = config["service"]
    assert service["storage.path"] == "/var/lib/fluent-bit/storage"
    assert (service["scheduler.base"], service["scheduler.cap"]) == (5, 60)
    assert (service["http_server"], service["http_listen"], service["http_port"]) == ("on", "0.0.0.0", 2020)
    journal, tail = config["pipeline"]["inputs"]
    assert journal["name"] == "systemd" and journal["db"] == "/var/lib/fluent-bit/journal.db"
    assert journal["storage.type"] == tail["storage.type"] == "filesystem"
    assert journal["processors"]["logs"] == [
        {"name": "record_modifier", "allowlist_key": ["MESSAGE", "_SYSTEMD_UNIT"]},
        {"name": "content_modifier", "action": "insert", "key": "fleetwatch_job", "value": "systemd-journal"}]
    assert (tail["name"], tail["path"], tail["db"]) == ("tail", "/var/log/app/*.log", "/var/lib/fluent-bit/files-app.db")
    assert tail["processors"]["logs"][0]["value"] == "app"
    [output] = config["pipeline"]["outputs"]
    assert output["labels"] == "job=$fleetwatch_job, unit=$_SYSTEMD_UNIT, host=web1.example.org"
    assert output["remove_keys"] == "$fleetwatch_job, $_SYSTEMD_UNIT"
    assert (output["host"], output["port"], output["uri"]) == ("loki1", 3100, "/loki/api/v1/push")
    assert (output["retry_limit"], output["storage.total_limit_size"]) == ("no_limits", "1G")
    assert "tls" not in output and "http_user" not in output and "http_passwd" not in output


def test_one_output_per_loki_tls_prefix_ipv6_and_a_password_from_the_environment():
    endpoints = [fluentbit.endpoint_from_target("https", "[fd18::31]:3100", "/logs/", "web1"),
                 fluentbit.endpoint_from_url("https://logs.example.org/loki", "web1")]
    config = build(endpoints=endpoints, ca_file="/etc/ssl/loki-ca.pem", cert_file="/etc/fb/c.pem", key_file="/etc/fb/c.key",
                   user="ship'per", tenant_id="team.a", retry_limit=12, labels={"env": "prod", "dc": "fra-1"})
    first, second = config["pipeline"]["outputs"]
    assert (first["host"], first["port"], first["uri"]) == ("fd18::31", 3100, "/logs/loki/api/v1/push")
    assert (second["host"], second["port"], second["uri"]) == ("logs.example.org", 443, "/loki/loki/api/v1/push")
    assert first["alias"] != second["alias"]
    for out in (first, second):
        assert (out["tls"], out["tls.verify"], out["tls.ca_file"]) == ("on", "on", "/etc/ssl/loki-ca.pem")
        assert (out["tls.crt_file"], out["tls.key_file"]) == ("/etc/fb/c.pem", "/etc/fb/c.key")
        assert out["header"] == "Authorization Basic ${FLUENT_BIT_LOKI_AUTH}" and "http_passwd" not in out
        assert out["tenant_id"] == "team.a" and out["retry_limit"] == 12
        assert out["labels"].endswith("host=web1.example.org, dc=fra-1, env=prod")


def test_journal_off_filters_and_file_options():
    config = build(journal=False, files=[{"job": "nginx", "path": ["/var/log/nginx/*.log", "/srv/x.log"],
                                          "exclude": "/var/log/nginx/*.gz", "read_from_head": True}])
    [tail] = config["pipeline"]["inputs"]
    assert tail["path"] == "/var/log/nginx/*.log,/srv/x.log" and tail["exclude_path"] == "/var/log/nginx/*.gz"
    assert tail["read_from_head"] == "on"
    journal = build(journal_filters=["_SYSTEMD_UNIT=ssh.service"])["pipeline"]["inputs"][0]
    assert journal["systemd_filter"] == ["_SYSTEMD_UNIT=ssh.service"]


@pytest.mark.parametrize("changes, message", [
    ({"labels": {"env": "a,b"}}, "fluent_bit_labels.env on web1: must not contain a comma"),
    ({"labels": {"env": "${HOME}"}}, "fluent_bit_labels.env on web1: must not contain '${'"),
    ({"labels": {"env": "$HOSTNAME"}}, "must not start with '$'"),
    ({"labels": {"env": "a\nb"}}, "line break"),
    ({"labels": {"bad-name": "x"}}, "is not a Loki label name"),
    ({"labels": {"job": "x"}}, "set by the role"),
    ({"labels": ["env"]}, "expected a mapping"),
    ({"host_label": "web1,evil=1"}, "fluent_bit_host_label on web1"),
    ({"journal_job": ""}, "fluent_bit_journal_job on web1: must not be empty"),
    ({"journal_filters": ["ssh.service"]}, "is not a journal match"),
    ({"files": [{"job": "a", "path": "relative/*.log"}]}, "is not an absolute path"),
    ({"files": [{"job": "a", "path": "/a,/b"}]}, "fluent_bit_files[0].path on web1: must not contain a comma"),
    ({"files": [{"job": "a", "path": "/a"}, {"job": "a", "path": "/b"}]}, "listed twice"),
    ({"files": [{"job": "a", "path": "/a", "color": "red"}]}, "unknown keys color"),
    ({"files": ["/var/log/x.log"]}, "expected a mapping with job and path"),
    ({"files": {"job": "a"}}, "expected a list"),
    ({"files": [{"job": "a", "path": 5}]}, "expected a path"),
    ({"files": [{"job": 5, "path": "/a"}]}, None),
    ({"retry_max_wait": 4}, "is less than fluent_bit_retry_min_wait"),
    ({"retry_limit": 0}, "fluent_bit_retry_limit on web1: must be at least 1"),
    ({"retry_limit": "often"}, "expected a whole number"),
    ({"total_limit_size": "lots"}, "expected a size"),
    ({"log_level": "loud"}, "fluent_bit_log_level"),
    ({"flush": True}, "expected a number"),
    ({"storage_sync": "sometimes"}, "normal or full"),
    ({"journal": False, "files": []}, "nothing to ship"),
    ({"endpoints": []}, "no Loki to ship to"),
    ({"data_dir": "var/lib/fb"}, "fluent_bit_data_dir on web1"),
    ({"user": "${USER}"}, "fluent_bit_loki_user on web1"),
    ({"tls_verify": "maybe"}, "expected true or false"),
])
def test_hostile_values_are_refused_naming_the_variable(changes, message):
    if message is None:  # a job given as a number is a fine label value ("5")
        assert build(**changes)["pipeline"]["inputs"][1]["processors"]["logs"][0]["value"] == "5"
        return
    with pytest.raises(fluentbit.FluentBitError) as info:
        build(**changes)
    assert message in str(info.value)


@pytest.mark.parametrize("url, message", [
    ("ftp://loki:3100", "is not an http(s) URL"), ("loki:3100", "is not an http(s) URL"),
    ("https://u:p@loki:3100", "credentials"), ("http://loki:99999", "bad port"), ("http://loki/?x=1", "without query"),
])
def test_bad_extra_urls(url, message):
    with pytest.raises(fluentbit.FluentBitError, match=message.replace("(", r"\(").replace(")", r"\)").replace("?", r"\?")):
        fluentbit.endpoint_from_url(url, "web1")


def test_position_databases_follow_the_job_name():
    assert fluentbit.job_file_name("app") == "files-app.db"
    assert fluentbit.job_file_name("my app/x") == "files-my_app_x.db"


# --- the role's variables, rendered by Ansible ------------------------------------------------------

INVENTORY = {
    "all": {"vars": {"ansible_connection": "local", "ansible_python_interpreter": sys.executable}},
    "fluent_bit": {"hosts": {"web1.example.org": {}}},
    "loki": {"hosts": {
        "logs1": {"ansible_host": "fd18::31", "loki_tls_cert_file": "/etc/loki/tls.crt", "loki_tls_key_file": "/etc/loki/k"},
        "logs2": {"loki_listen_address": "10.0.0.9:3101"},
    }},
}

PLAY = """
- name: Render the fluent_bit role's files
  hosts: web1.example.org
  gather_facts: false
  tasks:
    - name: The distribution facts the role gathers for upstream's repository
      ansible.builtin.setup: {gather_subset: ["!all", "!min", distribution]}
    - name: Shared defaults
      ansible.builtin.include_vars: {file: "%(root)s/roles/common/defaults/main.yml"}
    - name: Role defaults
      ansible.builtin.include_vars: {file: "%(root)s/roles/fluent_bit/defaults/main.yml"}
    - name: Role vars
      ansible.builtin.include_vars: {file: "%(root)s/roles/fluent_bit/vars/main.yml"}
    - name: Write what the tasks would get
      ansible.builtin.copy:
        dest: "{{ out_dir }}/result.json"
        mode: "0600"
        content: >-
          {{ {'config': fluent_bit_config_text, 'unit': fluent_bit_unit | fleetwatch.observability.systemd_unit,
              'sources': fluent_bit_sources_text, 'url': fluent_bit_apt_url | trim, 'control': fluent_bit_control,
              'distribution': ansible_facts['distribution'], 'release': ansible_facts['distribution_release'],
              'env': fluent_bit_env_text}
             | to_json }}
"""


def run(tmp_path, extra=None, inventory=None):
    return roleplay.run(tmp_path, PLAY % {"root": ROOT}, inventory or INVENTORY, extra)


@pytest.fixture(scope="module")
def rendered(tmp_path_factory):
    tmp_path = tmp_path_factory.mktemp("fluent_bit")
    out, result = run(tmp_path, extra={"fluent_bit_files": [{"job": "app", "path": "/var/log/app/*.log"}],
                                       "fluent_bit_loki_ca_file": "/etc/ssl/ca.pem", "fluent_bit_loki_user": "shipper",
                                       "fluent_bit_loki_password": 'Pa"Ss-SeCrEt $x ${y} `z`'})
    assert out.returncode == 0, out.stdout
    return result


@needs_playbook
def test_role_ships_to_every_loki_of_the_inventory(rendered):
    config = yaml.safe_load(rendered["config"])
    outputs = [(o["host"], o["port"], o.get("tls"), o.get("tls.ca_file")) for o in config["pipeline"]["outputs"]]
    assert outputs == [("fd18::31", 3100, "on", "/etc/ssl/ca.pem"), ("10.0.0.9", 3101, None, None)]
    assert all(o["labels"].endswith("host=web1.example.org") for o in config["pipeline"]["outputs"])
    # the password is in the root-only environment file only, escaped for systemd
    assert "SeCrEt" not in rendered["config"] + rendered["unit"] and "${FLUENT_BIT_LOKI_AUTH}" in rendered["config"]
    assert rendered["env"].splitlines()[-1] == 'FLUENT_BIT_LOKI_AUTH="%s"' % base64.b64encode(b'shipper:Pa"Ss-SeCrEt $x ${y} `z`').decode()


@needs_playbook
def test_unit_reads_the_journal_and_writes_only_its_data_dir(rendered):
    unit = rendered["unit"]
    assert "ExecStart=/opt/fluent-bit/bin/fluent-bit \\\n    -c \\\n    /etc/fluent-bit/fleetwatch.yaml" in unit
    assert "SupplementaryGroups=systemd-journal adm\n" in unit
    assert "ReadWritePaths=/var/lib/fluent-bit\n" in unit and "ProtectSystem=strict\n" in unit
    assert "User=fluent-bit\n" in unit and "EnvironmentFile=-/etc/fluent-bit/fleetwatch.env\n" in unit
    assert rendered["control"]["url"] == "http://127.0.0.1:2020" and rendered["control"]["ready_path"] == "/"


@needs_playbook
def test_upstreams_repository_by_default_with_the_key_from_its_url(rendered):
    # upstream's layout: https://packages.fluentbit.io/<debian|ubuntu>/<codename>, suite <codename>
    distro, release = rendered["distribution"].lower(), rendered["release"]
    assert distro and release
    assert rendered["url"] == "https://packages.fluentbit.io/%s/%s" % (distro, release)
    assert rendered["sources"].splitlines()[1:] == [
        "Types: deb", "URIs: " + rendered["url"], "Suites: " + release, "Components: main",
        "Signed-By: /etc/apt/keyrings/fluent-bit.asc"]


@needs_playbook
def test_a_mirror_with_its_key_as_content(tmp_path):
    key = "-----BEGIN PGP PUBLIC KEY BLOCK-----\n\nmDMEabc\n=xyz\n-----END PGP PUBLIC KEY BLOCK-----\n"
    out, result = run(tmp_path, extra={"fluent_bit_apt_repository_url": "http://mirror.internal/fluent-bit/debian/trixie",
                                       "fluent_bit_apt_suite": "trixie", "fluent_bit_apt_components": ["main", "extra"],
                                       "fluent_bit_apt_key": key})
    assert out.returncode == 0, out.stdout
    assert result["sources"].splitlines()[1:] == [
        "Types: deb", "URIs: http://mirror.internal/fluent-bit/debian/trixie", "Suites: trixie", "Components: main extra",
        "Signed-By:", " -----BEGIN PGP PUBLIC KEY BLOCK-----", " .", " mDMEabc", " =xyz", " -----END PGP PUBLIC KEY BLOCK-----"]


@needs_playbook
@pytest.mark.parametrize("variable, value, named", [
    ("fluent_bit_listen_address", "2020", "fluent_bit_listen_address"),
    ("fluent_bit_labels", {"env": "a,b"}, "fluent_bit_labels.env"),
    ("fluent_bit_retry_max_wait", 1, "fluent_bit_retry_max_wait"),
    ("fluent_bit_files", [{"job": "x", "path": "x.log"}], "fluent_bit_files[0].path"),
])
def test_bad_values_name_the_variable_and_the_host(tmp_path, variable, value, named):
    out, _result = run(tmp_path, extra={variable: value})
    assert out.returncode != 0
    assert "%s on web1.example.org" % named in out.stdout, out.stdout


# --- the real Fluent Bit checks the config ---------------------------------------------------------

def fluent_bit_binary(tmp_path):
    archives = sorted(p for p in (os.path.join(ROOT, ".cache", "mirror", "fluent-bit", v, f)
                                  for v in os.listdir(os.path.join(ROOT, ".cache", "mirror", "fluent-bit"))
                                  for f in os.listdir(os.path.join(ROOT, ".cache", "mirror", "fluent-bit", v))
                                  if f.endswith(".tar.gz"))) \
        if os.path.isdir(os.path.join(ROOT, ".cache", "mirror", "fluent-bit")) else []
    if not archives or os.uname().machine != "x86_64":
        pytest.skip("skipped: no Fluent Bit artifact in .cache/mirror (../shared/mirror is missing)")
    with tarfile.open(archives[-1]) as archive:
        archive.extract("fluent-bit", str(tmp_path))
    return str(tmp_path / "fluent-bit")


def dry_run(binary, path):
    out = subprocess.run([binary, "--dry-run", "-c", str(path)], stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
                         universal_newlines=True, check=False, timeout=60)
    if "error while loading shared libraries" in out.stdout:
        pytest.skip("skipped: the mirror's Fluent Bit needs Debian 12 libraries this machine lacks: %s" % out.stdout.strip())
    return out


@needs_playbook
def test_the_real_fluent_bit_accepts_the_config_and_refuses_a_broken_one(rendered, tmp_path):
    binary = fluent_bit_binary(tmp_path)
    good = tmp_path / "fleetwatch.yaml"
    good.write_text(rendered["config"])
    out = dry_run(binary, good)
    assert out.returncode == 0 and "configuration test is successful" in out.stdout, out.stdout
    broken = tmp_path / "broken.yaml"
    broken.write_text(rendered["config"].replace("drop_single_key: raw", "drop_single_key: raw\n    no_such_option: 1"))
    assert broken.read_text() != good.read_text()
    out = dry_run(binary, broken)
    assert out.returncode != 0 and "unknown configuration property 'no_such_option'" in out.stdout, out.stdout


def test_the_real_fluent_bit_accepts_hostile_but_valid_values(tmp_path):
    binary = fluent_bit_binary(tmp_path)
    config = build(host_label="web-1.dc.example.org", labels={"env": 'q"uote'}, user="u",
                   endpoints=[fluentbit.endpoint_from_target("https", "[fd18::31]:3100", "", "web1")],
                   files=[{"job": "my app", "path": ["/var/log/a b/*.log"]}])
    path = tmp_path / "c.yaml"
    path.write_text(yaml.safe_dump(config, sort_keys=False))
    out = dry_run(binary, path)
    assert out.returncode == 0, out.stdout


def test_the_real_fluent_bit_pushes_with_the_labels_and_the_password_from_its_environment(tmp_path):
    """The generated config run by the real Fluent Bit against a local stand-in for Loki's push API (it
    only records the requests): the password reaches the Authorization header intact from the
    environment (quotes, $, ${...}, backticks; http_passwd would lose "${y}"), the line and its
    labels are as configured."""
    import json
    import time

    import localhttp

    binary = fluent_bit_binary(tmp_path)
    seen = []

    class Push(localhttp.QuietHandler):
        def do_POST(self):  # noqa: N802  (http.server's naming)
            body = self.rfile.read(int(self.headers.get("Content-Length", 0)))
            seen.append((self.path, self.headers.get("Authorization"), body))
            self.reply(204)

    log = tmp_path / "app.log"
    log.write_text("hello from the unit test\n")
    password = 'Pa"Ss-SeCrEt $x ${y} `z` \\ end'
    with localhttp.running(Push) as base_url:
        config = build(journal=False, data_dir=str(tmp_path / "data"), listen_host="127.0.0.1",
                       listen_port=localhttp.free_port(), user="ship'per", labels={"env": "unit"},
                       files=[{"job": "app", "path": str(log), "read_from_head": True}],
                       endpoints=[{"scheme": "http", "host": "127.0.0.1", "port": int(base_url.rsplit(":", 1)[1]), "path": "/p"}])
        path = tmp_path / "c.yaml"
        path.write_text(yaml.safe_dump(config, sort_keys=False))
        if dry_run(binary, path).returncode != 0:
            pytest.fail("the config was refused")
        process = subprocess.Popen([binary, "-c", str(path)], stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
                                   env=dict(os.environ, FLUENT_BIT_LOKI_AUTH=base64.b64encode(
                                       ("ship'per:" + password).encode()).decode()))
        try:
            deadline = time.time() + 30
            while not seen and time.time() < deadline and process.poll() is None:
                time.sleep(0.2)
        finally:
            process.terminate()
            output = process.communicate(timeout=30)[0].decode(errors="replace")
    assert seen, output
    url, auth, body = seen[0]
    assert url == "/p/loki/api/v1/push"
    assert auth == "Basic " + base64.b64encode(("ship'per:" + password).encode()).decode()
    [stream] = json.loads(body)["streams"]
    assert stream["stream"] == {"job": "app", "host": "web1.example.org", "env": "unit"}
    assert [v[1] for v in stream["values"]] == ["hello from the unit test"]
