# SPDX-License-Identifier: Apache-2.0
"""Testinfra checks of the node_exporter role on the Molecule hosts.

fw-node-plain serves plain HTTP without auth; fw-node-secure serves TLS with basic auth
(user prometheus). The HTTP calls run inside each host with curl.
"""
import re

import pytest

PASSWORD = "scrape-secret-123"


def is_secure(host):
    return host.inventory_hostname == "fw-node-secure"


def curl(host, path="/metrics", user=None, password=None):
    """Return (HTTP status, body) of a request to the local node_exporter."""
    scheme = "https" if is_secure(host) else "http"
    url = "%s://localhost:9100%s" % (scheme, path)
    if user:
        cmd = host.run("curl -sk -o /tmp/fw-body -w '%%{http_code}' -u %s %s && echo && cat /tmp/fw-body",
                       "%s:%s" % (user, password), url)
    else:
        cmd = host.run("curl -sk -o /tmp/fw-body -w '%%{http_code}' %s && echo && cat /tmp/fw-body", url)
    assert cmd.rc == 0, cmd.stderr
    status, _sep, body = cmd.stdout.partition("\n")
    return int(status), body


def metrics(host):
    if is_secure(host):
        return curl(host, user="prometheus", password=PASSWORD)
    return curl(host)


def test_service_enabled_and_running(host):
    service = host.service("node_exporter")
    assert service.is_enabled
    assert service.is_running


def test_runs_as_unprivileged_user(host):
    user = host.check_output("ps -o user= -C node_exporter").strip()
    assert user == "node_exporter"
    assert host.user("node_exporter").shell == "/usr/sbin/nologin"


def test_port_listening(host):
    assert host.socket("tcp://0.0.0.0:9100").is_listening


def test_binary_is_the_installed_version(host):
    link = host.file("/usr/local/bin/node_exporter")
    assert link.is_symlink
    assert link.linked_to == "/opt/fleetwatch/node_exporter/1.9.0/node_exporter"
    out = host.run("/usr/local/bin/node_exporter --version")
    assert "version 1.9.0" in out.stdout + out.stderr


def test_metrics_serve_cpu_seconds(host):
    status, body = metrics(host)
    assert status == 200
    assert re.search(r'^node_cpu_seconds_total\{cpu="0",mode="idle"\} [0-9.e+]+$', body, re.M)


def test_textfile_collector_exports_written_metric(host):
    _status, body = metrics(host)
    if host.inventory_hostname == "fw-node-plain":
        assert 'fleetwatch_molecule_marker{scenario="node_exporter"} 42' in body
    # and on every host the collector reports the directory without errors
    assert re.search(r"^node_textfile_scrape_error 0$", body, re.M)


def test_web_config_is_private(host):
    web = host.file("/etc/node_exporter/web.yml")
    assert web.user == "root"
    assert web.group == "node_exporter"
    assert web.mode == 0o640


@pytest.mark.parametrize("user,password,expected", [
    ("prometheus", PASSWORD, 200),
    ("prometheus", "wrong-password", 401),
    (None, None, 401),
])
def test_basic_auth(host, user, password, expected):
    if not is_secure(host):
        pytest.skip("basic auth is configured on fw-node-secure only")
    status, _body = curl(host, user=user, password=password)
    assert status == expected


def test_password_is_stored_hashed(host):
    if not is_secure(host):
        pytest.skip("basic auth is configured on fw-node-secure only")
    web = host.file("/etc/node_exporter/web.yml").content_string
    assert PASSWORD not in web
    assert re.search(r"prometheus: \$2b\$10\$.{53}", web)


def test_plain_http_refused_when_tls(host):
    if not is_secure(host):
        pytest.skip("TLS is configured on fw-node-secure only")
    cmd = host.run("curl -s -o /dev/null -w '%{http_code}' http://localhost:9100/metrics")
    assert cmd.stdout.strip() == "400"


def test_collector_switches_reach_the_process(host):
    if not is_secure(host):
        pytest.skip("collector switches are set on fw-node-secure only")
    args = host.check_output("cat /proc/$(pgrep -x node_exporter)/cmdline | tr '\\0' ' '")
    assert "--collector.systemd" in args
    assert "--no-collector.wifi" in args


def test_unit_is_hardened(host):
    out = host.check_output("systemd-analyze security node_exporter.service --no-pager")
    score = float(re.search(r"Overall exposure level for node_exporter.service: ([0-9.]+)", out).group(1))
    # Debian's own prometheus-node-exporter.service scores 9.2 (UNSAFE).
    assert score <= 2.0, out
