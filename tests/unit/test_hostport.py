# SPDX-License-Identifier: Apache-2.0
"""Addresses, durations and sizes (plugins/module_utils/hostport.py) and their filters."""
import pytest

from ansible.errors import AnsibleFilterError

from ansible_collections.fleetwatch.observability.plugins.filter import hostport as hostport_filters
from ansible_collections.fleetwatch.observability.plugins.module_utils import hostport as hp

V, H = "node_exporter_listen_address", "fw-node1"


@pytest.mark.parametrize("given, expected", [
    ("0.0.0.0:9100", ("0.0.0.0", 9100)),
    ("10.1.2.3:1", ("10.1.2.3", 1)),
    ("[::]:9100", ("::", 9100)),
    ("[fd18::3]:65535", ("fd18::3", 65535)),
    ("[::1]:9100", ("::1", 9100)),
    (":9100", ("", 9100)),
    ("mon.example.com:9090", ("mon.example.com", 9090)),
    ("db_1.internal:9187", ("db_1.internal", 9187)),
    ("localhost:9100", ("localhost", 9100)),
])
def test_parse_listen_accepts(given, expected):
    assert hp.parse_listen(given, V, H) == expected


def test_the_message_names_variable_host_and_value():
    with pytest.raises(hp.HostPortError) as info:
        hp.parse_listen("0.0.0.0:91OO", V, H)
    assert str(info.value) == "node_exporter_listen_address on fw-node1: '0.0.0.0:91OO' is not host:port (port must be 1-65535)"


@pytest.mark.parametrize("bad, why", [
    ("0.0.0.0:91OO", "port must be 1-65535"),
    ("0.0.0.0:0", "port must be 1-65535"),
    ("0.0.0.0:65536", "port must be 1-65535"),
    ("0.0.0.0:-1", "port must be 1-65535"),
    ("0.0.0.0:+91", "port must be 1-65535"),
    ("0.0.0.0: 9100", "white space"),
    (" 0.0.0.0:9100", "white space"),
    ("0.0.0.0:9100\n", "white space"),
    ("9100", "no port"),
    ("", "no port"),
    ("host:", "port must be 1-65535"),
    ("::1:9100", "needs brackets"),
    ("fd18::3:9100", "needs brackets"),
    ("[fd18::3]", "written \\[address\\]:port"),
    ("[fd18::3]9100", "written \\[address\\]:port"),
    ("[not-v6]:9100", "not an IPv6 address"),
    ("[10.0.0.1]:9100", "not an IPv6 address"),
    ("999.1.1.1:9100", "not an IP address or host name"),
    ("10.1:9100", "not an IP address or host name"),
    ("bad host:9100", "white space"),
    ("-bad.example:9100", "not an IP address or host name"),
    ("a..b:9100", "not an IP address or host name"),
    ("http://h:9100", "not host:port"),
])
def test_parse_listen_rejects(bad, why):
    with pytest.raises(hp.HostPortError, match=why) as info:
        hp.parse_listen(bad, V, H)
    assert str(info.value).startswith("node_exporter_listen_address on fw-node1: ")


@pytest.mark.parametrize("bad, kind", [
    (9100, "a number"), (True, "a boolean"), (None, "null"), (["0.0.0.0:9100"], "a list"),
    ({"host": "0.0.0.0", "port": 9100}, "a mapping"), (9100.0, "a number"),
])
def test_parse_listen_rejects_wrong_types(bad, kind):
    with pytest.raises(hp.HostPortError, match=kind) as info:
        hp.parse_listen(bad, V, H)
    assert "node_exporter_listen_address on fw-node1" in str(info.value)


def test_a_number_gets_a_hint():
    with pytest.raises(hp.HostPortError, match='quote it as a string, e.g. ":9100"'):
        hp.parse_listen(9100, V, H)


@pytest.mark.parametrize("given, expected", [
    ("0.0.0.0:9100", "0.0.0.0:9100"), ("[::]:9100", "[::]:9100"), (":09100", ":9100"), ("[fd18::3]:1", "[fd18::3]:1"),
])
def test_normalise_listen(given, expected):
    assert hp.normalise_listen(given, V, H) == expected


@pytest.mark.parametrize("host, port, expected", [
    ("10.0.0.1", 9100, "10.0.0.1:9100"),
    ("fd18::3", 9100, "[fd18::3]:9100"),
    ("[fd18::3]", "9100", "[fd18::3]:9100"),
    ("fw-node1.example", 1, "fw-node1.example:1"),
    ("fe80::1%eth0", 9100, "[fe80::1%eth0]:9100"),
])
def test_join_brackets_ipv6(host, port, expected):
    assert hp.join(host, port) == expected


@pytest.mark.parametrize("port", [0, 65536, "91OO", True, None, -1, 9100.5])
def test_join_rejects_bad_ports(port):
    with pytest.raises(hp.HostPortError):
        hp.join("h", port)


def test_join_needs_a_host():
    with pytest.raises(hp.HostPortError, match="no host"):
        hp.join("", 9100)


@pytest.mark.parametrize("listen, fallback, expected", [
    ("0.0.0.0", "10.0.0.5", "10.0.0.5"),
    ("", "fw-node1", "fw-node1"),
    ("::", "fd18::3", "fd18::3"),
    ("[::]", "[fd18::3]", "fd18::3"),
    ("10.0.0.7", "10.0.0.5", "10.0.0.7"),
    ("fd18::7", "10.0.0.5", "fd18::7"),
    ("mon.internal", "10.0.0.5", "mon.internal"),
    ("127.0.0.1", "10.0.0.5", "127.0.0.1"),
])
def test_connect_host(listen, fallback, expected):
    assert hp.connect_host(listen, fallback) == expected


def test_connect_host_without_fallback():
    with pytest.raises(hp.HostPortError):
        hp.connect_host("0.0.0.0", None)


@pytest.mark.parametrize("host, loop", [
    ("127.0.0.1", True), ("127.1.2.3", True), ("::1", True), ("[::1]", True), ("localhost", True), ("LOCALHOST.", True),
    ("a.localhost", True), ("0.0.0.0", False), ("10.0.0.1", False), ("fd18::3", False), ("", False), ("mon1", False),
])
def test_is_loopback(host, loop):
    assert hp.is_loopback(host) is loop


@pytest.mark.parametrize("good", ["30d", "1h30m", "15s", "500ms", "0", "1y2w3d4h5m6s7ms", "90m"])
def test_durations(good):
    assert hp.check_duration(good, "prometheus_retention_time", "mon1") == good


@pytest.mark.parametrize("bad", ["-1d", "30 days", "30", "1.5h", "1m1h", "d", "30D", " 30d", "1h 30m"])
def test_bad_durations(bad):
    with pytest.raises(hp.HostPortError, match="prometheus_retention_time on mon1: '%s' is not a duration" % bad.replace(".", r"\.")):
        hp.check_duration(bad, "prometheus_retention_time", "mon1")


@pytest.mark.parametrize("bad, hint", [(30, 'give a unit, e.g. "30s"'), (True, "a boolean"), (["30d"], "a list"), ({}, "a mapping")])
def test_durations_wrong_types(bad, hint):
    with pytest.raises(hp.HostPortError, match=hint):
        hp.check_duration(bad, "prometheus_retention_time", "mon1")


def test_empty_duration_only_when_optional():
    with pytest.raises(hp.HostPortError, match="prometheus_retention_time on mon1: a duration is required"):
        hp.check_duration("", "prometheus_retention_time", "mon1")
    assert hp.check_duration("", "x", "h", required=False) == ""
    assert hp.check_duration(None, "x", "h", required=False) == ""


@pytest.mark.parametrize("good", ["10GB", "512MB", "1.5TB", "100KiB", "2GiB", "1B", "0", "1GB512MB"])
def test_sizes(good):
    assert hp.check_size(good, "prometheus_retention_size", "mon1") == good


@pytest.mark.parametrize("bad", ["10 GB", "10gb", "10", "GB", "-1GB", "1.GB", "10G", "ten GB"])
def test_bad_sizes(bad):
    with pytest.raises(hp.HostPortError, match="prometheus_retention_size on mon1: '%s' is not a size" % bad.replace(".", r"\.")):
        hp.check_size(bad, "prometheus_retention_size", "mon1")


def test_size_optional_and_required():
    assert hp.check_size("", "s", "h") == ""
    with pytest.raises(hp.HostPortError, match="a size is required"):
        hp.check_size("", "s", "h", required=True)
    with pytest.raises(hp.HostPortError, match="10 \\(a number\\)"):
        hp.check_size(10, "s", "h")


@pytest.mark.parametrize("url, path", [
    ("https://mon.example/prom/", "/prom"), ("https://mon.example/prom", "/prom"), ("https://mon.example", ""),
    ("https://mon.example/", ""), ("http://[fd18::3]:9090/a/b/", "/a/b"), ("", ""), (None, ""),
])
def test_url_path(url, path):
    assert hp.url_path(url, "prometheus_external_url", "mon1") == path


@pytest.mark.parametrize("bad", ["https://mon example/", ["https://x/"], 5])
def test_bad_urls(bad):
    with pytest.raises(hp.HostPortError, match="prometheus_external_url on mon1"):
        hp.url_path(bad, "prometheus_external_url", "mon1")


@pytest.mark.parametrize("hv, prefix", [
    ({}, ""),
    ({"prometheus_external_url": "https://mon.example/prom/"}, "/prom"),
    ({"prometheus_external_url": "https://mon.example/prom/", "prometheus_extra_flags": {"web.route-prefix": "/inner/"}}, "/inner"),
    ({"prometheus_extra_flags": {"web.external-url": "https://x/ext"}}, "/ext"),
    ({"prometheus_extra_flags": {"web.route-prefix": "/"}}, ""),
    ({"prometheus_extra_flags": {"web.route-prefix": None}, "prometheus_external_url": "http://x/p"}, "/p"),
])
def test_service_route_prefix(hv, prefix):
    assert hp.service_route_prefix(hv, "prometheus", "mon1") == prefix


def test_service_route_prefix_checks_types():
    with pytest.raises(hp.HostPortError, match="prometheus_extra_flags on mon1"):
        hp.service_route_prefix({"prometheus_extra_flags": ["web.route-prefix=/x"]}, "prometheus", "mon1")
    with pytest.raises(hp.HostPortError, match="web.route-prefix'\\] on mon1"):
        hp.service_route_prefix({"prometheus_extra_flags": {"web.route-prefix": "/a b"}}, "prometheus", "mon1")


def test_check_values_infers_kinds_and_normalises():
    out = hp.check_values({"prometheus_listen_address": ":09090", "prometheus_retention_time": "30d",
                           "prometheus_retention_size": "", "prometheus_scrape_interval": "15s",
                           "prometheus_external_url": "https://mon.example/prom/",
                           "x": {"value": "1h", "kind": "duration"}}, "mon1")
    assert out == {"prometheus_listen_address": ":9090", "prometheus_retention_time": "30d",
                   "prometheus_retention_size": "", "prometheus_scrape_interval": "15s",
                   "prometheus_external_url": "https://mon.example/prom/", "x": "1h"}


def test_check_values_reports_every_problem_at_once():
    with pytest.raises(hp.HostPortError) as info:
        hp.check_values({"prometheus_listen_address": "0.0.0.0:91OO", "prometheus_retention_time": "-1d",
                         "prometheus_retention_size": "10 GB", "prometheus_scrape_interval": "",
                         "mystery": "x"}, "mon1")
    lines = str(info.value).splitlines()
    assert len(lines) == 5
    assert "prometheus_listen_address on mon1: '0.0.0.0:91OO' is not host:port (port must be 1-65535)" in lines
    assert any(line.startswith("prometheus_retention_time on mon1: '-1d'") for line in lines)
    assert any(line.startswith("prometheus_retention_size on mon1: '10 GB'") for line in lines)
    assert any(line.startswith("prometheus_scrape_interval on mon1: a duration is required") for line in lines)
    assert any(line.startswith("mystery on mon1: no check known") for line in lines)


def test_check_values_explicit_optional_listen():
    assert hp.check_values({"a": {"value": "", "kind": "listen", "required": False}}, "h") == {"a": ""}
    with pytest.raises(hp.HostPortError, match="must be a mapping"):
        hp.check_values(["a"], "h")


def test_filters_raise_ansible_errors():
    assert hostport_filters.listen_address("[::]:9100", V, H) == "[::]:9100"
    assert hostport_filters.listen_port("0.0.0.0:9100", V, H) == 9100
    assert hostport_filters.join_host_port("fd18::3", 9100) == "[fd18::3]:9100"
    assert hostport_filters.connect_host("0.0.0.0", "fd18::3") == "fd18::3"
    assert hostport_filters.duration("1h30m", "d", H) == "1h30m"
    assert hostport_filters.size("10GB", "s", H) == "10GB"
    with pytest.raises(AnsibleFilterError, match="node_exporter_listen_address on fw-node1: '0.0.0.0:91OO'"):
        hostport_filters.listen_address("0.0.0.0:91OO", V, H)
    with pytest.raises(AnsibleFilterError, match="d on fw-node1"):
        hostport_filters.duration("30 days", "d", H)
    with pytest.raises(AnsibleFilterError, match="a_listen_address on fw-node1"):
        hostport_filters.check_values({"a_listen_address": True}, H)
    assert set(hostport_filters.FilterModule().filters()) == {
        "listen_address", "listen_addresses", "listen_port", "join_host_port", "connect_host", "duration", "size", "check_values"}
    assert hostport_filters.listen_addresses(["0.0.0.0:9100", "[::1]:9101"], V, H) == ["0.0.0.0:9100", "[::1]:9101"]
    assert hostport_filters.listen_addresses("0.0.0.0:9100", V, H) == ["0.0.0.0:9100"]
    with pytest.raises(AnsibleFilterError, match=r"node_exporter_listen_address\[1\] on fw-node1: 'fd18::3:9100'"):
        hostport_filters.listen_addresses(["0.0.0.0:9100", "fd18::3:9100"], V, H)
