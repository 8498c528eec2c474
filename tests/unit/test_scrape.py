"""Scrape jobs derived from the inventory (plugins/module_utils/scrape.py)."""
import pytest

from ansible_collections.fleetwatch.observability.plugins.module_utils import scrape

SPEC = {"node_exporter": {"group": "node_exporter", "port": 9100},
        "redis_exporter": {"group": "redis_exporter", "port": 9121, "metrics_path": "/metrics"}}


def test_targets_from_groups_with_instance_and_ports():
    groups = {"node_exporter": ["b", "a"], "redis_exporter": []}
    hostvars = {"a": {"ansible_host": "10.0.0.1"}, "b": {"node_exporter_listen_address": "127.0.0.1:9200"}}
    slices = scrape.jobs(SPEC, groups, hostvars)
    assert slices == [{"name": "node_exporter", "job": "node_exporter", "scheme": "http", "metrics_path": "/metrics",
                       "username": None, "password": None,
                       "targets": [{"address": "10.0.0.1:9100", "instance": "a"}, {"address": "b:9200", "instance": "b"}]}]


def test_tls_and_auth_split_a_job_into_scrape_configs():
    groups = {"node_exporter": ["plain", "secure"]}
    hostvars = {"plain": {}, "secure": {"node_exporter_tls_cert_file": "/c.crt",
                                        "node_exporter_basic_auth_users": {"prometheus": "pw", "other": "x"}}}
    first, second = scrape.jobs(SPEC, groups, hostvars)
    assert (first["name"], first["scheme"], first["username"]) == ("node_exporter", "http", None)
    assert (second["name"], second["job"], second["scheme"]) == ("node_exporter_2", "node_exporter", "https")
    assert (second["username"], second["password"]) == ("prometheus", "pw")
    assert second["targets"] == [{"address": "secure:9100", "instance": "secure"}]


def test_include_adds_hosts_once():
    slices = scrape.jobs({"prometheus": {"port": 9090}}, {"prometheus": ["mon"]}, {}, include={"prometheus": ["mon", "x"]})
    assert [t["instance"] for t in slices[0]["targets"]] == ["mon", "x"]


def test_missing_scrape_user_is_a_clear_error():
    with pytest.raises(scrape.ScrapeError, match="has no user 'prometheus'"):
        scrape.jobs(SPEC, {"node_exporter": ["h"]}, {"h": {"node_exporter_basic_auth_users": {"admin": "x"}}})


def test_hashed_password_cannot_be_used_to_scrape():
    hashed = "$2b$10$" + "a" * 53
    with pytest.raises(scrape.ScrapeError, match="bcrypt hash"):
        scrape.jobs(SPEC, {"node_exporter": ["h"]}, {"h": {"node_exporter_basic_auth_users": {"prometheus": hashed}}})


@pytest.mark.parametrize("bad", ["host:", "host:port"])
def test_bad_listen_address(bad):
    with pytest.raises(scrape.ScrapeError, match="cannot read a port"):
        scrape.jobs(SPEC, {"node_exporter": ["h"]}, {"h": {"node_exporter_listen_address": bad}})


def test_job_without_port():
    with pytest.raises(scrape.ScrapeError, match="needs a default port"):
        scrape.jobs({"x": {"group": "x"}}, {"x": ["h"]}, {})
