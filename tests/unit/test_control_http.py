# SPDX-License-Identifier: Apache-2.0
"""serviceapply.Control against real local HTTP(S) servers: basic auth, status codes, refused
connections, no proxy from the environment, server certificate checked only against ca_file (not
the host name), client certificates."""
import base64
import os
import ssl
import sys

import pytest

from ansible_collections.fleetwatch.observability.plugins.module_utils import serviceapply as sa

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
import localhttp  # noqa: E402  pylint: disable=wrong-import-position

AUTH = "Basic " + base64.b64encode(b"ctl:s3cret-pass").decode("ascii")


class Handler(localhttp.QuietHandler):
    def do_GET(self):  # noqa: N802 - http.server's name
        if self.headers.get("Authorization") != AUTH and self.path != "/open":
            self.reply(401)
            return
        self.reply(200, b"Ready" if self.path.endswith("/-/ready") else b"up 1\n")


@pytest.fixture
def http_server():
    with localhttp.running(Handler) as url:
        yield url


def test_basic_auth_status_and_body(http_server):
    assert sa.Control(http_server + "/prom/", "ctl", "s3cret-pass").get("/-/ready") == (200, "Ready")
    status, reason = sa.Control(http_server, "ctl", "wrong").get("-/ready")
    assert status == 401 and reason.startswith("HTTP 401")
    assert sa.Control(http_server).get("/metrics")[0] == 401


def test_environment_proxy_is_not_used(http_server, monkeypatch):
    for name in ("http_proxy", "HTTP_PROXY", "https_proxy", "HTTPS_PROXY"):
        monkeypatch.setenv(name, "http://127.0.0.1:9")  # discard port: nothing answers there
    monkeypatch.delenv("no_proxy", raising=False)
    monkeypatch.delenv("NO_PROXY", raising=False)
    assert sa.Control(http_server).get("/open") == (200, "up 1\n")


def test_refused_connection_gives_a_reason():
    port = localhttp.free_port()
    status, reason = sa.Control("http://127.0.0.1:%d" % port, timeout=2).get("/-/ready")
    assert status is None and reason


make_cert = localhttp.make_cert
needs_openssl = localhttp.needs_openssl


@needs_openssl
def test_https_server_checked_only_against_ca_file(tmp_path):
    crt, key = make_cert(tmp_path, "server")
    other, _other_key = make_cert(tmp_path, "other")
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    context.load_cert_chain(crt, key)
    with localhttp.running(Handler, context) as url:
        assert sa.Control(url, "ctl", "s3cret-pass").get("/-/ready") == (200, "Ready")
        # the certificate names another host: only the CA is checked on this same-host path
        assert sa.Control(url, "ctl", "s3cret-pass", ca_file=crt).get("/-/ready") == (200, "Ready")
        status, reason = sa.Control(url, "ctl", "s3cret-pass", ca_file=other).get("/-/ready")
        assert status is None and "certificate" in reason.lower()


@needs_openssl
def test_client_certificate_when_the_service_requires_one(tmp_path):
    crt, key = make_cert(tmp_path, "server")
    client_crt, client_key = make_cert(tmp_path, "client")
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    context.load_cert_chain(crt, key)
    context.load_verify_locations(client_crt)
    context.verify_mode = ssl.CERT_REQUIRED
    with localhttp.running(Handler, context) as url:
        assert sa.Control(url, "ctl", "s3cret-pass", cert_file=client_crt, key_file=client_key).get("/-/ready") == (200, "Ready")
        assert sa.Control(url, "ctl", "s3cret-pass", timeout=3).get("/-/ready")[0] is None


def test_no_netrc_credentials(http_server, tmp_path, monkeypatch):
    netrc = tmp_path / "netrc"
    netrc.write_text("machine 127.0.0.1 login ctl password s3cret-pass\n")
    os.chmod(str(netrc), 0o600)
    monkeypatch.setenv("NETRC", str(netrc))
    assert sa.Control(http_server).get("/-/ready")[0] == 401
