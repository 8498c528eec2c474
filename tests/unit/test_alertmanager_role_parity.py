# SPDX-License-Identifier: Apache-2.0
"""The alertmanager role's prometheus.prometheus parity features, rendered with the role's own
defaults and vars (tests/render_role.py) and checked by the real Alertmanager 0.28.1: receivers in
Alertmanager's syntax (amtool check-config on the role's whole config), the amtool config file
(amtool talks to a real Alertmanager with TLS, a route prefix and basic auth through it), extra
cluster flags, pre-hashed bcrypt passwords served by the exporter-toolkit."""
import base64
import os
import shutil
import ssl
import subprocess
import sys
import time
import urllib.error
import urllib.request

import bcrypt
import pytest
import yaml

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
import amhelpers  # noqa: E402  pylint: disable=wrong-import-position
import localhttp  # noqa: E402  pylint: disable=wrong-import-position
from unit.test_role_templates import RenderError, render  # noqa: E402  pylint: disable=wrong-import-position

ONE = {"groups": {"all": ["fw-test-1"], "alertmanager": ["fw-test-1"]}}
TWO = {"groups": {"all": ["fw-test-1", "fw-test-2"], "alertmanager": ["fw-test-1", "fw-test-2"]}}
RECEIVERS = [
    {"name": "default"}, {"name": "watchdog"},
    {"name": "teams", "msteams_configs": [{"webhook_url": "https://teams.test/hook/t$k'n", "title": "{{ .CommonLabels.alertname }}"}]},
    {"name": "opsgenie", "opsgenie_configs": [{"api_key": "og-\"key\"$1", "api_url": "http://127.0.0.1:9/"}],
     "webhook": {"url": "http://hook.test/"}},
]


@pytest.fixture(scope="module")
def am(tmp_path_factory):
    return amhelpers.binaries(tmp_path_factory)


def unit(**overrides):
    return render("alertmanager", "{{ alertmanager_unit | fleetwatch.observability.systemd_unit }}", **overrides)


def test_the_roles_config_with_raw_receivers_passes_the_real_amtool(am, tmp_path):
    values = dict(ONE, alertmanager_config_dir=str(tmp_path), alertmanager_receivers=RECEIVERS,
                  alertmanager_critical_receiver="teams", alertmanager_warning_receiver="opsgenie",
                  alertmanager_global={"resolve_timeout": "5m", "smtp_auth_password": "g$mtp"})
    text = render("alertmanager", "{{ alertmanager_config_text }}", **values)
    secrets = render("alertmanager", "{{ alertmanager_built.secrets }}", **values)
    for word in ("t$k'n", "og-\"key\"$1", "g$mtp", "hook.test"):
        assert word not in text
    assert sorted(s["content"] for s in secrets) == sorted(["https://teams.test/hook/t$k'n", "og-\"key\"$1", "g$mtp", "http://hook.test/"])
    amhelpers.write_secrets(secrets)
    (tmp_path / "alertmanager.yml").write_text(text)
    code, out = amhelpers.check_config(am["amtool"], tmp_path / "alertmanager.yml")
    assert code == 0, out
    config = yaml.safe_load(text)
    teams = [r for r in config["receivers"] if r["name"] == "teams"][0]
    assert teams["msteams_configs"][0]["webhook_url_file"] == str(tmp_path / "secrets/teams-msteams_configs-0-webhook_url")
    assert config["global"]["smtp_auth_password_file"] == str(tmp_path / "secrets/global-smtp_auth_password")


def test_sns_keys_reach_alertmanager_through_the_aws_credentials_file():
    sns = {"topic_arn": "arn:aws:sns:eu-west-1:1:t", "sigv4": {"access_key": "AK", "secret_key": "SK", "region": "eu-west-1"}}
    receivers = RECEIVERS[:2] + [{"name": "sns", "sns_configs": [sns]}]
    text = unit(alertmanager_receivers=receivers, **ONE)
    assert "Environment=AWS_SHARED_CREDENTIALS_FILE=/etc/alertmanager/secrets/aws_credentials.password" in text
    assert "Environment=" not in unit(**ONE)


def test_a_bad_receiver_fails_the_render_with_its_name():
    with pytest.raises(RenderError, match=r"receiver mail: email_configs\[0\].auth_secret: Alertmanager 0.28 cannot"):
        render("alertmanager", "{{ alertmanager_config_text }}", alertmanager_version="0.28.1",
               alertmanager_receivers=RECEIVERS[:2] + [{"name": "mail", "email_configs": [{"to": "a@b", "auth_secret": "x"}]}], **ONE)
    text = render("alertmanager", "{{ alertmanager_config_text }}", alertmanager_version="0.33.1",
                  alertmanager_receivers=RECEIVERS[:2] + [{"name": "mail", "email_configs": [{"to": "a@b", "auth_secret": "x"}]}], **ONE)
    assert "auth_secret_file: /etc/alertmanager/secrets/mail-email_configs-0-auth_secret" in text


def test_a_single_alertmanager_has_no_cluster_port_and_ignores_cluster_flags():
    text = unit(alertmanager_cluster_flags={"gossip-interval": "100ms"}, **ONE)
    assert '--cluster.listen-address="" ' in text, text
    assert "gossip-interval" not in text and "--cluster.peer" not in text
    with pytest.raises(RenderError, match=r"alertmanager_cluster_flags\['gossip-interval'\] on fw-test-1: '1d'"):
        unit(alertmanager_cluster_flags={"gossip-interval": "1d"}, **ONE)


def test_two_alertmanagers_get_the_cluster_flags():
    text = unit(alertmanager_cluster_flags={"gossip-interval": "100ms", "label": "eu"}, **TWO)
    assert "--cluster.gossip-interval=100ms" in text and "--cluster.label=eu" in text
    assert "--cluster.peer=fw-test-2:9094" in text and "--cluster.listen-address=0.0.0.0:9094" in text
    with pytest.raises(RenderError, match="comes from the alertmanager group"):
        unit(alertmanager_cluster_flags={"peer": "x:1"}, **TWO)


def test_amtool_config_files_are_root_owned_secrets_with_the_group():
    files = render("alertmanager", "{{ alertmanager_amtool_files }}", alertmanager_amtool_group="ops",
                   alertmanager_basic_auth_users={"ops": "pw"}, **ONE)
    assert [f["path"] for f in files] == ["/etc/amtool/config.yml", "/etc/amtool/http_config.yml", "/etc/amtool/alertmanager.password"]
    assert all((f["owner"], f["group"], f["mode"]) == ("root", "ops", "0640") for f in files)
    assert yaml.safe_load(files[0]["content"]) == {"alertmanager.url": "http://127.0.0.1:9093", "output": "extended",
                                                   "http.config.file": "/etc/amtool/http_config.yml"}
    assert "pw" not in files[0]["content"] + files[1]["content"] and files[2]["content"] == "pw"
    plain = render("alertmanager", "{{ alertmanager_amtool_files }}", **ONE)
    assert [f["path"] for f in plain] == ["/etc/amtool/config.yml"] and "http.config.file" not in plain[0]["content"]
    assert render("alertmanager", "{{ alertmanager_amtool_files }}", alertmanager_amtool_config=False, **ONE) == []
    dirs = render("alertmanager", task="Configure and run Alertmanager (user, directories, secrets, templates, config, unit)",
                  arg="directories", alertmanager_amtool_group="ops", **ONE)
    assert {"path": "/etc/amtool", "group": "ops", "mode": "0750"} in dirs


def wait_ready(url, headers, context, timeout=20):
    deadline = time.time() + timeout
    while True:
        try:
            with urllib.request.urlopen(urllib.request.Request(url, headers=headers), context=context, timeout=2) as resp:
                return resp.status
        except (urllib.error.URLError, ConnectionError, OSError):
            if time.time() > deadline:
                raise
            time.sleep(0.2)


def basic(user, password):
    return {"Authorization": "Basic " + base64.b64encode(("%s:%s" % (user, password)).encode()).decode()}


@localhttp.needs_openssl
@pytest.mark.parametrize("prefix", ["2a", "2b", "2y"])
def test_amtool_reaches_a_real_alertmanager_with_tls_prefix_and_a_pre_hashed_user(am, tmp_path, prefix):
    """The role's web config (one user pre-hashed by passlib-era tools, one plain) and its amtool files, used by
    the real Alertmanager and the real amtool: amtool reads the URL with the route prefix, the CA and server
    name, the control user's password from its file; the pre-hashed user logs in with its plaintext."""
    crt, key = localhttp.make_cert(tmp_path, "am")
    port = localhttp.free_port()
    hashed = bcrypt.hashpw(b"known-Plain$1", bcrypt.gensalt(rounds=4, prefix=b"2b")).decode()
    hashed = "$%s$%s" % (prefix, hashed[4:])  # the same bcrypt under the ident passlib wrote
    values = dict(ONE, alertmanager_config_dir=str(tmp_path / "etc"), alertmanager_amtool_config_dir=str(tmp_path / "amtool"),
                  alertmanager_listen_address="127.0.0.1:%d" % port, alertmanager_external_url="https://fw-test.invalid:%d/am/" % port,
                  alertmanager_tls_cert_file=crt, alertmanager_tls_key_file=key,
                  alertmanager_basic_auth_users={"legacy": hashed, "ops": "ops-\"pw\"$x"}, alertmanager_control_user="ops",
                  alertmanager_amtool_ca_file=crt, alertmanager_amtool_server_name="fw-test.invalid")
    web = render("alertmanager", "{{ alertmanager_web_config | fleetwatch.observability.web_config(inventory_hostname ~ '/alertmanager') }}", **values)
    assert web["basic_auth_users"]["legacy"] == hashed  # passed through as it is
    files = render("alertmanager", "{{ alertmanager_amtool_files }}", **values)
    amhelpers.write_secrets(files)
    (tmp_path / "web.yml").write_text(yaml.safe_dump(web))
    (tmp_path / "am.yml").write_text(yaml.safe_dump({"route": {"receiver": "default"}, "receivers": [{"name": "default"}]}))
    proc = amhelpers.start_alertmanager(am["alertmanager"], [
        "--config.file=%s" % (tmp_path / "am.yml"), "--storage.path=%s" % (tmp_path / "data"),
        "--web.listen-address=127.0.0.1:%d" % port, "--web.config.file=%s" % (tmp_path / "web.yml"),
        "--web.external-url=https://fw-test.invalid:%d/am/" % port, "--cluster.listen-address="])
    try:
        context = ssl.create_default_context(cafile=crt)
        context.check_hostname = False
        assert wait_ready("https://127.0.0.1:%d/am/-/ready" % port, basic("legacy", "known-Plain$1"), context) == 200
        with pytest.raises(urllib.error.HTTPError) as err:
            urllib.request.urlopen(urllib.request.Request("https://127.0.0.1:%d/am/-/ready" % port,
                                                          headers=basic("legacy", "known-Plain$2")), context=context, timeout=5)
        assert err.value.code == 401
        home = tmp_path / "home"
        # upstream amtool reads ~/.config/amtool/config.yml (the role writes /etc/amtool/config.yml); Debian's build,
        # which the test mirror ships, reads ~/.config/prometheus/amtool.yml: both point at the role's file
        for where in ("amtool/config.yml", "prometheus/amtool.yml"):
            (home / ".config" / where).parent.mkdir(parents=True, exist_ok=True)
            shutil.copy(str(tmp_path / "amtool" / "config.yml"), str(home / ".config" / where))
        env = dict(os.environ, HOME=str(home))
        out = subprocess.run([am["amtool"], "-o", "simple", "config", "show"], stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
                             universal_newlines=True, env=env, check=False, timeout=30)
        assert out.returncode == 0 and "receiver: default" in out.stdout, out.stdout
        (tmp_path / "amtool" / "alertmanager.password").write_text("wrong")
        out = subprocess.run([am["amtool"], "-o", "simple", "config", "show"], stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
                             universal_newlines=True, env=env, check=False, timeout=30)
        assert out.returncode != 0 and "receiver: default" not in out.stdout, out.stdout
    finally:
        proc.terminate()
        proc.wait(timeout=10)
