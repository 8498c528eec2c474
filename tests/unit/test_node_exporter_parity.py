# SPDX-License-Identifier: Apache-2.0
"""node_exporter's prometheus.prometheus parity features, rendered with the role's defaults and vars
and run by the real node_exporter (the mirror's newest): several listen addresses (each answers;
Prometheus scrapes the first that is not loopback; the role checks the first), the whole web config
(any tls_server_config key, http_server_config) through the webconfig util, pre-hashed bcrypt
passwords ($2a$/$2b$/$2y$) kept as they are and accepted by the exporter-toolkit."""
import base64
import glob
import os
import shlex
import ssl
import subprocess
import sys
import tarfile
import time
import urllib.error
import urllib.request

import bcrypt
import pytest
import yaml

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
import localhttp  # noqa: E402  pylint: disable=wrong-import-position
from unit.test_role_templates import ROOT, RenderError, render  # noqa: E402  pylint: disable=wrong-import-position

from ansible_collections.fleetwatch.observability.plugins.module_utils import scrape, webconfig  # noqa: E402


def hashed(prefix, plain):
    value = bcrypt.hashpw(plain.encode(), bcrypt.gensalt(rounds=4)).decode()
    return "$%s$%s" % (prefix, value[4:])  # the same bcrypt, under the ident passlib or htpasswd wrote


@pytest.fixture(scope="module")
def node_exporter(tmp_path_factory):
    tarballs = sorted(glob.glob(os.path.join(ROOT, ".cache", "mirror", "node_exporter", "*", "node_exporter-*.linux-amd64.tar.gz")),
                      key=lambda path: [int(p) for p in os.path.basename(os.path.dirname(path)).split(".") if p.isdigit()])
    if not tarballs or os.uname().machine != "x86_64":
        pytest.skip("skipped: no node_exporter artifact in .cache/mirror (../shared/mirror is missing)")
    where = tmp_path_factory.mktemp("ne-bin")
    with tarfile.open(tarballs[-1]) as archive:
        member = [m for m in archive.getmembers() if os.path.basename(m.name) == "node_exporter"][0]
        member.name = "node_exporter"
        archive.extract(member, str(where))
    return str(where / "node_exporter")


def test_a_list_of_listen_addresses_gives_one_flag_each_and_the_role_checks_the_first():
    unit = render("node_exporter", "{{ node_exporter_unit | fleetwatch.observability.systemd_unit }}",
                  node_exporter_listen_address=["127.0.0.1:9100", "[fd18::5]:9100", ":9101"])
    assert "--web.listen-address=127.0.0.1:9100 \\\n    --web.listen-address=[fd18::5]:9100 \\\n    --web.listen-address=:9101" in unit
    control = render("node_exporter", "{{ node_exporter_control }}", node_exporter_listen_address=["[fd18::5]:9100", "0.0.0.0:9101"])
    assert control["url"] == "http://[fd18::5]:9100"
    one = render("node_exporter", "{{ node_exporter_unit | fleetwatch.observability.systemd_unit }}")
    assert one.count("--web.listen-address=") == 1 and "--web.listen-address=0.0.0.0:9100" in one
    with pytest.raises(RenderError, match="listed twice"):
        render("node_exporter", "{{ node_exporter_unit }}", node_exporter_listen_address=["0.0.0.0:9100", "0.0.0.0:9100"])


SPEC = {"node_exporter": {"group": "node_exporter", "port": 9100}}


def targets(listen, me="prom1", host="node1"):
    hostvars = {host: {"node_exporter_listen_address": listen, "ansible_host": "10.0.0.7"}}
    slices = scrape.jobs(SPEC, {"node_exporter": [host]}, hostvars, me=me)
    return [t["address"] for s in slices for t in s["targets"]]


def test_prometheus_scrapes_the_first_address_that_is_not_loopback():
    assert targets(["127.0.0.1:9100", "[fd18::7]:9102"]) == ["[fd18::7]:9102"]
    assert targets(["127.0.0.1:9100", "0.0.0.0:9101"]) == ["10.0.0.7:9101"]
    assert targets(["0.0.0.0:9100"]) == ["10.0.0.7:9100"] == targets("0.0.0.0:9100")
    assert targets(["127.0.0.1:9100", "0.0.0.0:9101"], me="node1") == ["127.0.0.1:9100"]  # Prometheus on the same host
    with pytest.raises(scrape.ScrapeError, match="listens on loopback only"):
        targets(["127.0.0.1:9100", "[::1]:9100"])
    with pytest.raises(scrape.ScrapeError, match=r"node_exporter_listen_address\[1\] on node1"):
        targets(["127.0.0.1:9100", "9100"])


@pytest.mark.parametrize("kwargs,message", [
    ({"tls_server_config": {"cert_file": "/x"}}, "tls_server_config.cert_file: set it with <role>_tls_cert_file"),
    ({"tls_cert_file": "/c", "tls_key_file": "/k", "tls_server_config": {"key": "-----BEGIN"}}, "tls_server_config.key"),
    ({"tls_server_config": {"max_version": "TLS13"}}, "needs TLS"),
    ({"tls_cert_file": "/c", "tls_key_file": "/k", "tls_server_config": ["max_version"]}, "must be a mapping"),
    ({"http_server_config": "http2"}, "must be a mapping"),
])
def test_web_config_passthrough_bad_input(kwargs, message):
    with pytest.raises(webconfig.WebConfigError, match=message):
        webconfig.build(**kwargs)


@pytest.mark.parametrize("prefix", ["2a", "2b", "2y"])
def test_pre_hashed_passwords_are_kept_as_they_are(prefix):
    value = hashed(prefix, "known")
    assert webconfig.is_bcrypt_hash(value)
    assert webconfig.build(basic_auth_users={"legacy": value}, seed="s")["basic_auth_users"]["legacy"] == value
    assert bcrypt.checkpw(b"known", ("$2b$" + value[4:]).encode())
    for not_a_hash in ("$2b$10$short", "$2b$99$" + "a" * 53, "$1$" + "a" * 57, "$2b$10$" + "a" * 52 + "!"):
        assert not webconfig.is_bcrypt_hash(not_a_hash)  # a password that only looks like one is hashed
        assert webconfig.build(basic_auth_users={"u": not_a_hash}, seed="s")["basic_auth_users"]["u"] != not_a_hash


def get(url, user=None, password=None, context=None):
    headers = {}
    if user:
        headers["Authorization"] = "Basic " + base64.b64encode(("%s:%s" % (user, password)).encode()).decode()
    try:
        with urllib.request.urlopen(urllib.request.Request(url, headers=headers), context=context, timeout=10) as resp:
            return resp.status, dict(resp.headers), resp.read().decode()
    except urllib.error.HTTPError as exc:
        return exc.code, dict(exc.headers), ""


def wait(url, context=None, timeout=20):
    deadline = time.time() + timeout
    while True:
        try:
            return get(url, context=context)
        except (urllib.error.URLError, ConnectionError, OSError):
            if time.time() > deadline:
                raise
            time.sleep(0.2)


@localhttp.needs_openssl
def test_the_real_node_exporter_serves_both_addresses_with_the_whole_web_config(node_exporter, tmp_path):
    """The role's flags and web config: two addresses, no textfile directory, TLS capped at 1.2 and a header
    through tls_server_config/http_server_config, a $2y$ user (plaintext known) and a plain one."""
    crt, key = localhttp.make_cert(tmp_path, "ne")
    ports = [localhttp.free_port(), localhttp.free_port()]
    values = {"node_exporter_listen_address": ["127.0.0.1:%d" % ports[0], "127.0.0.2:%d" % ports[1]],
              "node_exporter_config_dir": str(tmp_path), "node_exporter_textfile_dir": "", "node_exporter_enabled_collectors": [],
              "node_exporter_tls_cert_file": crt, "node_exporter_tls_key_file": key,
              "node_exporter_tls_server_config": {"max_version": "TLS12", "cipher_suites": ["TLS_ECDHE_RSA_WITH_AES_128_GCM_SHA256"]},
              "node_exporter_http_server_config": {"headers": {"X-Frame-Options": "deny"}, "http2": False},
              "node_exporter_basic_auth_users": {"legacy": hashed("2y", "known-Plain$1"), "prometheus": "p\"w'$"}}
    web = render("node_exporter", "{{ node_exporter_web_config | fleetwatch.observability.web_config(inventory_hostname ~ '/node_exporter') }}",
                 **values)
    (tmp_path / "web.yml").write_text(yaml.safe_dump(web))
    unit = render("node_exporter", "{{ node_exporter_unit | fleetwatch.observability.systemd_unit }}", **values)
    assert "collector.textfile.directory" not in unit
    exec_start = [line for line in unit.replace("\\\n", " ").splitlines() if line.startswith("ExecStart=")][0]
    argv = [node_exporter] + shlex.split(exec_start)[1:]
    log = open(str(tmp_path / "node_exporter.log"), "w")
    proc = subprocess.Popen(argv, stdout=log, stderr=log)
    try:
        context = ssl.create_default_context(cafile=crt)
        context.check_hostname = False
        try:
            wait("https://127.0.0.1:%d/metrics" % ports[0], context)
        except urllib.error.URLError:
            raise AssertionError((tmp_path / "node_exporter.log").read_text()[-2000:] + " ".join(argv))
        for port, address in zip(ports, ("127.0.0.1", "127.0.0.2")):
            url = "https://%s:%d/metrics" % (address, port)
            assert wait(url, context)[0] == 401
            status, headers, body = get(url, "legacy", "known-Plain$1", context)
            assert status == 200 and "node_exporter_build_info" in body
            assert headers.get("X-Frame-Options") == "deny"
            assert get(url, "prometheus", "p\"w'$", context)[0] == 200
            assert get(url, "legacy", "known-Plain$2", context)[0] == 401
        tls13 = ssl.create_default_context(cafile=crt)
        tls13.check_hostname = False
        tls13.minimum_version = ssl.TLSVersion.TLSv1_3
        with pytest.raises((ssl.SSLError, urllib.error.URLError)):
            get("https://127.0.0.1:%d/metrics" % ports[0], "legacy", "known-Plain$1", tls13)
    finally:
        proc.terminate()
        proc.wait(timeout=10)
        log.close()
