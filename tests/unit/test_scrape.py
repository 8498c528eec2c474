# SPDX-License-Identifier: Apache-2.0
"""Scrape jobs derived from the inventory (plugins/module_utils/scrape.py) and the filters around them."""
import json

import pytest

from ansible.errors import AnsibleFilterError

from ansible_collections.fleetwatch.observability.plugins.filter import scrape_jobs as scrape_filters
from ansible_collections.fleetwatch.observability.plugins.plugin_utils import _amconfig as amconfig
from ansible_collections.fleetwatch.observability.plugins.module_utils import registry
from ansible_collections.fleetwatch.observability.plugins.module_utils import scrape

SPEC = {"node_exporter": {"group": "node_exporter", "port": 9100},
        "redis_exporter": {"group": "redis_exporter", "port": 9121, "metrics_path": "/metrics"}}
JOBS = registry.scrape_jobs()
CLIENT = {"secrets_dir": "/etc/prometheus/secrets"}


def targets(slices, job=None):
    return [(t["address"], t["instance"], t["labels"]) for s in slices if job in (None, s["job"]) for t in s["targets"]]


def test_targets_from_groups_with_instance_and_ports():
    groups = {"node_exporter": ["b", "a"], "redis_exporter": []}
    hostvars = {"a": {"ansible_host": "10.0.0.1"}, "b": {"node_exporter_listen_address": "0.0.0.0:9200"}}
    slices = scrape.jobs(SPEC, groups, hostvars)
    assert slices == [{"name": "node_exporter", "job": "node_exporter", "scheme": "http", "metrics_path": "/metrics",
                       "path_prefix": "/", "username": None, "password": None, "password_file": None, "tls_config": None,
                       "targets": [{"address": "10.0.0.1:9100", "instance": "a", "labels": {}},
                                   {"address": "b:9200", "instance": "b", "labels": {}}]}]


def test_tls_and_auth_split_a_job_into_scrape_configs():
    groups = {"node_exporter": ["plain", "secure"]}
    hostvars = {"plain": {}, "secure": {"node_exporter_tls_cert_file": "/c.crt",
                                        "node_exporter_basic_auth_users": {"prometheus": "pw", "other": "x"}}}
    first, second = scrape.jobs(SPEC, groups, hostvars, options=CLIENT)
    assert (first["name"], first["scheme"], first["username"], first["tls_config"]) == ("node_exporter", "http", None, None)
    assert (second["name"], second["job"], second["scheme"]) == ("node_exporter_2", "node_exporter", "https")
    assert (second["username"], second["password"]) == ("prometheus", "pw")
    assert second["password_file"] == "/etc/prometheus/secrets/node_exporter_2.password"
    assert second["tls_config"] == {"insecure_skip_verify": False}
    assert second["targets"] == [{"address": "secure:9100", "instance": "secure", "labels": {}}]


def test_include_adds_hosts_once():
    slices = scrape.jobs({"prometheus": {"port": 9090}}, {"prometheus": ["mon"]}, {}, include={"prometheus": ["mon", "x"]})
    assert [t["instance"] for t in slices[0]["targets"]] == ["mon", "x"]


def test_a_null_job_is_dropped():
    assert scrape.jobs({"node_exporter": None}, {"node_exporter": ["a"]}, {}) == []


# --- addresses ------------------------------------------------------------------------------------

@pytest.mark.parametrize("hv, address", [
    ({"ansible_host": "fd18::3"}, "[fd18::3]:9100"),                                  # IPv6 ansible_host
    ({"ansible_host": "[fd18::3]"}, "[fd18::3]:9100"),
    ({"ansible_host": "fd18::3", "node_exporter_listen_address": "[::]:9200"}, "[fd18::3]:9200"),
    ({"ansible_host": "10.0.0.1", "node_exporter_listen_address": "10.0.0.9:9100"}, "10.0.0.9:9100"),  # specific IP
    ({"ansible_host": "10.0.0.1", "node_exporter_listen_address": "[fd18::9]:9100"}, "[fd18::9]:9100"),
    ({"node_exporter_listen_address": ":9300"}, "db1.example.com:9300"),                 # name with dots
    ({"ansible_host": "db1.internal.example", "node_exporter_listen_address": "0.0.0.0:9100"}, "db1.internal.example:9100"),
])
def test_addresses(hv, address):
    slices = scrape.jobs(SPEC, {"node_exporter": ["db1.example.com"]}, {"db1.example.com": hv})
    assert targets(slices) == [(address, "db1.example.com", {})]


@pytest.mark.parametrize("bad, message", [
    ("0.0.0.0:91OO", "node_exporter_listen_address on h: '0.0.0.0:91OO' is not host:port \\(port must be 1-65535\\)"),
    ("host:", "node_exporter_listen_address on h: 'host:' is not host:port"),
    ("9100", "node_exporter_listen_address on h: '9100' is not host:port \\(no port"),
    ("fd18::3:9100", "needs brackets"),
    (9100, "node_exporter_listen_address on h: 9100 \\(a number\\) is not host:port"),
    ([], "node_exporter_listen_address on h: .* \\(a list\\) is not host:port or a non-empty list"),
    (["0.0.0.0:9100", "0.0.0.0:91OO"], "node_exporter_listen_address\\[1\\] on h: '0.0.0.0:91OO'"),
    ({"port": 9100}, "node_exporter_listen_address on h: .* \\(a mapping\\)"),
    (True, "node_exporter_listen_address on h: True \\(a boolean\\)"),
])
def test_bad_listen_address(bad, message):
    with pytest.raises(scrape.ScrapeError, match=message):
        scrape.jobs(SPEC, {"node_exporter": ["h"]}, {"h": {"node_exporter_listen_address": bad}})


def test_loopback_target_only_from_the_same_host():
    hv = {"mon": {"node_exporter_listen_address": "127.0.0.1:9100"}}
    slices = scrape.jobs(SPEC, {"node_exporter": ["mon"]}, hv, me="mon")
    assert targets(slices) == [("127.0.0.1:9100", "mon", {})]
    with pytest.raises(scrape.ScrapeError, match="node_exporter_listen_address on mon: '127.0.0.1:9100' listens on loopback only, "
                                                 "so Prometheus on other cannot reach it"):
        scrape.jobs(SPEC, {"node_exporter": ["mon"]}, hv, me="other")
    with pytest.raises(scrape.ScrapeError, match="loopback"):
        scrape.jobs(SPEC, {"node_exporter": ["mon"]}, {"mon": {"node_exporter_listen_address": "[::1]:9100"}}, me="x")


# --- credentials and wrong types -----------------------------------------------------------------------

def test_missing_scrape_user_is_a_clear_error():
    with pytest.raises(scrape.ScrapeError, match="has no user 'prometheus'.*node_exporter_basic_auth_users on h"):
        scrape.jobs(SPEC, {"node_exporter": ["h"]}, {"h": {"node_exporter_basic_auth_users": {"admin": "x"}}})


def test_hashed_password_cannot_be_used_to_scrape():
    hashed = "$2b$10$" + "a" * 53
    with pytest.raises(scrape.ScrapeError, match="bcrypt hash"):
        scrape.jobs(SPEC, {"node_exporter": ["h"]}, {"h": {"node_exporter_basic_auth_users": {"prometheus": hashed}}})


@pytest.mark.parametrize("hv, message", [
    ({"node_exporter_basic_auth_users": ["prometheus"]}, "node_exporter_basic_auth_users on h must be a mapping"),
    ({"node_exporter_basic_auth_users": {"prometheus": True}}, "node_exporter_basic_auth_users\\['prometheus'\\] on h must be the password"),
    ({"node_exporter_basic_auth_users": {"prometheus": None}}, "must be the password"),
    ({"node_exporter_extra_flags": "--web.telemetry-path=/m"}, "node_exporter_extra_flags on h.*must be a mapping"),
    ({"node_exporter_extra_flags": {"web.telemetry-path": "m"}}, "web.telemetry-path of node_exporter on h"),
    ({"node_exporter_external_url": 5}, "node_exporter_external_url on h: 5 \\(a number\\) is not a URL"),
])
def test_wrong_types_name_host_and_variable(hv, message):
    with pytest.raises(scrape.ScrapeError, match=message):
        scrape.jobs(SPEC, {"node_exporter": ["h"]}, {"h": hv})


def test_numeric_password_is_text():
    (only,) = scrape.jobs(SPEC, {"node_exporter": ["h"]}, {"h": {"node_exporter_basic_auth_users": {"prometheus": 1234}}})
    assert only["password"] == "1234"


@pytest.mark.parametrize("spec, message", [
    ({"x": {"group": "x"}}, "needs a default port"),
    ({"x": {"port": 0}}, "port 0 must be 1-65535"),
    ({"x": {"port": True}}, "port True must be 1-65535"),
    ({"x": {"port": "91OO"}}, "must be 1-65535"),
    ({"x": "9100"}, "must be a mapping"),
    ({"x": {"port": 1, "group": ["a"]}}, "group must be a non-empty string"),
    ({"x": {"port": 1, "metrics_path": "metrics"}}, "must start with /"),
    ({"../x": {"port": 1}}, "scrape job name '../x'"),
    ({"a b": {"port": 1}}, "scrape job name 'a b'"),
])
def test_bad_job_settings(spec, message):
    with pytest.raises(scrape.ScrapeError, match=message):
        scrape.jobs(spec, {"x": ["h"]}, {})


def test_group_must_be_a_list():
    with pytest.raises(scrape.ScrapeError, match="not a list of hosts"):
        scrape.jobs(SPEC, {"node_exporter": "h"}, {})


# --- multi-instance exporters ----------------------------------------------------------------------

def test_every_instance_is_a_target_with_its_name():
    hv = {"db1": {"ansible_host": "fd18::5", "postgres_exporter_instances": [
        {"name": "main"}, {"name": "wrongpw", "listen_address": "0.0.0.0:9188"},
        {"name": "replica", "listen_address": "10.0.0.8:9189"}]},
        "db2": {}}
    slices = scrape.jobs(JOBS, {"postgres_exporter": ["db1", "db2"]}, hv)
    assert targets(slices, "postgres_exporter") == [
        ("[fd18::5]:9187", "db1", {"instance_name": "main"}),
        ("[fd18::5]:9188", "db1", {"instance_name": "wrongpw"}),
        ("10.0.0.8:9189", "db1", {"instance_name": "replica"}),
        ("db2:9187", "db2", {"instance_name": "main"}),
    ]
    labelsets = [tuple(sorted(dict(t["labels"], instance=t["instance"]).items())) for s in slices for t in s["targets"]]
    assert len(set(labelsets)) == len(labelsets), "two targets of one job with the same labels"


def test_first_instance_listens_on_the_role_address():
    hv = {"r1": {"redis_exporter_listen_address": "[::]:9200",
                 "redis_exporter_instances": [{"name": "cache"}, {"name": "queue", "listen_address": "[::]:9201"}]}}
    slices = scrape.jobs(JOBS, {"redis_exporter": ["r1"]}, hv)
    assert targets(slices) == [("r1:9200", "r1", {"instance_name": "cache"}), ("r1:9201", "r1", {"instance_name": "queue"})]


def test_instance_telemetry_path_splits_the_job():
    hv = {"r1": {"redis_exporter_instances": [{"name": "a"}, {"name": "b", "listen_address": ":9122",
                                                              "flags": {"web.telemetry-path": "/scrape"}}]}}
    first, second = scrape.jobs(JOBS, {"redis_exporter": ["r1"]}, hv)
    assert (first["metrics_path"], second["metrics_path"]) == ("/metrics", "/scrape")
    assert second["name"] == "redis_exporter_2" and second["job"] == "redis_exporter"


@pytest.mark.parametrize("instances, message", [
    ([{"name": "a"}, {"name": "b"}], "postgres_exporter_instances on db1: .*needs its own listen_address"),
    ([{"name": "a"}, {"name": "b", "listen_address": "0.0.0.0:9187"}], "both listen on port 9187"),
    ([{"name": "a"}, {"name": "b", "listen_address": "0.0.0.0:91OO"}],
     "^postgres_exporter_instances\\[1\\].listen_address on db1: '0.0.0.0:91OO' is not host:port \\(port must be 1-65535\\)$"),
    ([{"name": "Bad Name"}], "postgres_exporter_instances on db1: .*name 'Bad Name'"),
    ({"name": "a"}, "postgres_exporter_instances on db1: .*non-empty list"),
    ("main", "postgres_exporter_instances on db1: .*non-empty list"),
    ([{"name": "a"}, "b"], "postgres_exporter_instances on db1: .*must be a mapping"),
    ([{"name": "a", "flags": ["x"]}], "postgres_exporter_instances\\[0\\].flags on db1 must be a mapping"),
])
def test_bad_instances(instances, message):
    with pytest.raises(scrape.ScrapeError, match=message):
        scrape.jobs(JOBS, {"postgres_exporter": ["db1"]}, {"db1": {"postgres_exporter_instances": instances}})


# --- paths: route prefix and metrics path ------------------------------------------------------------

def test_route_prefix_from_external_url_or_flag():
    hv = {"mon1": {"prometheus_external_url": "https://mon.example/prom/"},
          "mon2": {"prometheus_extra_flags": {"web.route-prefix": "/inner"}, "prometheus_external_url": "https://x/outer"},
          "mon3": {}}
    slices = scrape.jobs(JOBS, {"prometheus": ["mon1", "mon2", "mon3"]}, hv)
    paths = dict((s["targets"][0]["instance"], (s["metrics_path"], s["path_prefix"])) for s in slices)
    assert paths == {"mon1": ("/prom/metrics", "/prom"), "mon2": ("/inner/metrics", "/inner"), "mon3": ("/metrics", "/")}
    assert sorted(s["name"] for s in slices) == ["prometheus", "prometheus_2", "prometheus_3"]


def test_alerting_slices_have_path_prefix_and_their_own_names():
    hv = {"am1": {"alertmanager_external_url": "http://am.example:9093/am/", "ansible_host": "fd18::7"}}
    (only,) = scrape.jobs({"alertmanager": JOBS["alertmanager"]}, {"alertmanager": ["am1"]}, hv, name_prefix="alerting_")
    assert (only["name"], only["job"], only["path_prefix"]) == ("alerting_alertmanager", "alertmanager", "/am")
    assert targets([only]) == [("[fd18::7]:9093", "am1", {})]


# --- mutual TLS ------------------------------------------------------------------------------------

def test_client_certificate_for_https_targets():
    client = dict(CLIENT, ca_file="/ca.crt", cert_file="/prom.crt", key_file="/prom.key", insecure_skip_verify=True)
    hv = {"h": {"node_exporter_tls_cert_file": "/n.crt"}, "p": {}}
    slices = scrape.jobs(SPEC, {"node_exporter": ["h", "p"]}, hv, options=client)
    tls = dict((s["scheme"], s["tls_config"]) for s in slices)
    assert tls == {"https": {"ca_file": "/ca.crt", "cert_file": "/prom.crt", "key_file": "/prom.key", "insecure_skip_verify": True},
                   "http": None}


@pytest.mark.parametrize("client", [{"cert_file": "/c"}, {"key_file": "/k"}])
def test_client_certificate_needs_its_key(client):
    with pytest.raises(scrape.ScrapeError, match="prometheus_scrape_cert_file and prometheus_scrape_key_file go together"):
        scrape.jobs(SPEC, {}, {}, options=client)


# --- files for service_setup --------------------------------------------------------------------------

def test_file_sd_files_hold_targets_and_labels_but_no_secret():
    hv = {"db1": {"postgres_exporter_basic_auth_users": {"prometheus": "S3cret-pw"},
                  "postgres_exporter_instances": [{"name": "main"}, {"name": "b", "listen_address": ":9190"}]}}
    slices = scrape.jobs(JOBS, {"postgres_exporter": ["db1"]}, hv, options=CLIENT)
    (entry,) = scrape_filters.prometheus_file_sd_files(slices, "/etc/prometheus/file_sd/", "prometheus")
    assert entry["path"] == "/etc/prometheus/file_sd/postgres_exporter.json"
    assert (entry["group"], entry["mode"]) == ("prometheus", "0640")
    assert "S3cret" not in entry["content"]
    assert json.loads(entry["content"]) == [
        {"targets": ["db1:9187"], "labels": {"instance": "db1", "instance_name": "main"}},
        {"targets": ["db1:9190"], "labels": {"instance": "db1", "instance_name": "b"}}]
    assert entry["content"].startswith('[\n    {\n        "labels"'), "to_nice_json's layout (no rewrite on upgrade)"


def test_secret_files_of_scrape_and_alerting_slices_and_extra():
    hv = {"am1": {"alertmanager_basic_auth_users": {"prometheus": "am-pw"}}, "n1": {"node_exporter_basic_auth_users": {"prometheus": "n-pw"}}}
    scrape_slices = scrape.jobs({"alertmanager": JOBS["alertmanager"], "node_exporter": JOBS["node_exporter"]},
                                {"alertmanager": ["am1"], "node_exporter": ["n1"]}, hv, options=CLIENT)
    alerting = scrape.jobs({"alertmanager": JOBS["alertmanager"]}, {"alertmanager": ["am1"]}, hv, options=CLIENT, name_prefix="alerting_")
    extra = [{"path": "/etc/prometheus/secrets/remote_write-0-basic_auth-password.password", "content": "rw"}]
    files = scrape_filters.prometheus_secret_files(scrape_slices + alerting, extra, "prometheus")
    assert files == [
        {"path": "/etc/prometheus/secrets/alertmanager.password", "content": "am-pw", "group": "prometheus", "mode": "0640"},
        {"path": "/etc/prometheus/secrets/node_exporter.password", "content": "n-pw", "group": "prometheus", "mode": "0640"},
        {"path": "/etc/prometheus/secrets/alerting_alertmanager.password", "content": "am-pw", "group": "prometheus", "mode": "0640"},
        {"path": "/etc/prometheus/secrets/remote_write-0-basic_auth-password.password", "content": "rw",
         "group": "prometheus", "mode": "0640"}]


def test_one_path_two_secrets_is_an_error():
    with pytest.raises(AnsibleFilterError, match="two different secrets would be written to /s/a.password"):
        scrape_filters.prometheus_secret_files([], [{"path": "/s/a.password", "content": "1"}, {"path": "/s/a.password", "content": "2"}])
    with pytest.raises(scrape.ScrapeError, match="no password file"):
        scrape.secret_files([{"name": "x", "username": "u", "password": "p", "password_file": None}])


def test_filter_errors_name_host_and_variable():
    with pytest.raises(AnsibleFilterError, match="scrape jobs: node_exporter_listen_address on h: '0.0.0.0:91OO'"):
        scrape_filters.scrape_jobs(SPEC, {"node_exporter": ["h"]}, {"h": {"node_exporter_listen_address": "0.0.0.0:91OO"}})


def test_warning_when_prometheus_has_no_alertmanager(monkeypatch):
    said = []
    monkeypatch.setattr(scrape_filters.display, "warning", lambda msg, *a, **k: said.append(msg))
    assert scrape_filters.warn_without_alertmanager([], [], "mon1") == []
    assert len(said) == 1 and "Prometheus on mon1 has NO Alertmanager" in said[0] and "sent nowhere" in said[0]
    scrape_filters.warn_without_alertmanager([{"name": "alerting_alertmanager"}], [], "mon1")
    scrape_filters.warn_without_alertmanager([], [{"static_configs": []}], "mon1")
    assert len(said) == 1


# --- Alertmanager cluster peers ------------------------------------------------------------------------

def test_peers_bracket_ipv6_and_use_the_cluster_ip():
    hostvars = {
        "am1": {},
        "am2": {"ansible_host": "fd18::2"},
        "am3": {"ansible_host": "10.0.0.3", "alertmanager_cluster_listen_address": "10.1.0.3:9999"},
        "am4": {"alertmanager_cluster_listen_address": "[fd19::4]:9094"},
        "am5": {"alertmanager_cluster_listen_address": "[::]:9095", "ansible_host": "fd18::5"},
        "am6": {"alertmanager_cluster_advertise_address": "192.0.2.6:9096", "alertmanager_cluster_listen_address": "0.0.0.0:9094"},
        "am7.example.com": {},
    }
    assert amconfig.peers(sorted(hostvars), "am1", hostvars, "9094") == [
        "[fd18::2]:9094", "10.1.0.3:9999", "[fd19::4]:9094", "[fd18::5]:9095", "192.0.2.6:9096", "am7.example.com:9094"]


@pytest.mark.parametrize("hv, message", [
    ({"alertmanager_cluster_listen_address": "127.0.0.1:9094"}, "alertmanager_cluster_listen_address on am2: .*loopback"),
    ({"alertmanager_cluster_listen_address": "0.0.0.0:90x4"}, "alertmanager_cluster_listen_address on am2: '0.0.0.0:90x4' is not host:port"),
    ({"alertmanager_cluster_listen_address": 9094}, "alertmanager_cluster_listen_address on am2: 9094 \\(a number\\)"),
    ({"alertmanager_cluster_advertise_address": "0.0.0.0:9094"}, "alertmanager_cluster_advertise_address on am2: .*specific address"),
    ({"alertmanager_cluster_advertise_address": "[::1]:9094"}, "alertmanager_cluster_advertise_address on am2: .*loopback"),
])
def test_bad_peers(hv, message):
    with pytest.raises(amconfig.ReceiverError, match=message):
        amconfig.peers(["am1", "am2"], "am1", {"am1": {}, "am2": hv}, "9094")


def test_the_role_telemetry_path_variable_is_scraped():
    hv = {"n1": {"node_exporter_telemetry_path": "/node/metrics"}, "n2": {}}
    slices = scrape.jobs(JOBS, {"node_exporter": ["n1", "n2"]}, hv)
    assert sorted(s["metrics_path"] for s in slices) == ["/metrics", "/node/metrics"]
