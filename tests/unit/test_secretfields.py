# SPDX-License-Identifier: Apache-2.0
"""Credentials out of Prometheus-style configs (plugins/plugin_utils/_secretfields.py)."""
import copy
import json

import pytest
import yaml

from ansible.errors import AnsibleFilterError

from ansible_collections.fleetwatch.observability.plugins.filter import secret_fields as secret_filters
from ansible_collections.fleetwatch.observability.plugins.plugin_utils import _secretfields as sf

D = "/etc/prometheus/secrets"

# Every secret of Prometheus' configuration reference that has a file form: (config, where the
# file field lands, its file field). Each secret value is unique, so that the test finds a leak.
CASES = [
    ({"remote_write": [{"url": "https://a/w", "basic_auth": {"username": "u", "password": "S-basic"}}]},
     ["remote_write", 0, "basic_auth"], "password_file"),
    ({"remote_write": [{"url": "https://a/w", "authorization": {"type": "Bearer", "credentials": "S-authz"}}]},
     ["remote_write", 0, "authorization"], "credentials_file"),
    ({"remote_read": [{"url": "https://a/r", "bearer_token": "S-bearer"}]}, ["remote_read", 0], "bearer_token_file"),
    ({"remote_write": [{"url": "https://a/w", "oauth2": {"client_id": "id", "client_secret": "S-oauth", "token_url": "https://t/"}}]},
     ["remote_write", 0, "oauth2"], "client_secret_file"),
    ({"remote_write": [{"url": "https://a/w", "oauth2": {"client_id": "id", "client_certificate_key": "S-jwtkey",
                                                         "token_url": "https://t/"}}]},
     ["remote_write", 0, "oauth2"], "client_certificate_key_file"),
    ({"remote_write": [{"url": "https://a/w", "tls_config": {"cert_file": "/c", "key": "S-tlskey"}}]},
     ["remote_write", 0, "tls_config"], "key_file"),
    ({"remote_write": [{"url": "https://a/w", "oauth2": {"client_id": "i", "client_secret_file": "/x", "token_url": "https://t/",
                                                         "tls_config": {"key": "S-oauthtls"}}}]},
     ["remote_write", 0, "oauth2", "tls_config"], "key_file"),
    ({"scrape_configs": [{"job_name": "j", "basic_auth": {"username": "u", "password": "S-scrape"}}]},
     ["scrape_configs", 0, "basic_auth"], "password_file"),
    ({"scrape_configs": [{"job_name": "j", "http_sd_configs": [{"url": "https://sd/", "authorization": {"credentials": "S-httpsd"}}]}]},
     ["scrape_configs", 0, "http_sd_configs", 0, "authorization"], "credentials_file"),
    ({"scrape_configs": [{"job_name": "j", "kubernetes_sd_configs": [{"role": "pod", "bearer_token": "S-k8s"}]}]},
     ["scrape_configs", 0, "kubernetes_sd_configs", 0], "bearer_token_file"),
    ({"scrape_configs": [{"job_name": "j", "marathon_sd_configs": [{"servers": ["https://m"], "auth_token": "S-marathon"}]}]},
     ["scrape_configs", 0, "marathon_sd_configs", 0], "auth_token_file"),
    ({"scrape_configs": [{"job_name": "j", "scaleway_sd_configs": [{"role": "instance", "project_id": "p", "access_key": "AK",
                                                                    "secret_key": "S-scaleway"}]}]},
     ["scrape_configs", 0, "scaleway_sd_configs", 0], "secret_key_file"),
    ({"scrape_configs": [{"job_name": "j", "oci_sd_configs": [{"key_passphrase": "S-oci"}]}]},
     ["scrape_configs", 0, "oci_sd_configs", 0], "key_passphrase_file"),
    ({"scrape_configs": [{"job_name": "j", "consul_sd_configs": [{"server": "c:8500", "basic_auth": {"username": "u", "password": "S-consulba"}}]}]},
     ["scrape_configs", 0, "consul_sd_configs", 0, "basic_auth"], "password_file"),
    ({"alerting": {"alertmanagers": [{"basic_auth": {"username": "u", "password": "S-alerting"}, "static_configs": [{"targets": ["am:9093"]}]}]}},
     ["alerting", "alertmanagers", 0, "basic_auth"], "password_file"),
    ({"alerting": {"alertmanagers": [{"oauth2": {"client_id": "i", "client_secret": "S-amoauth", "token_url": "https://t/"}}]}},
     ["alerting", "alertmanagers", 0, "oauth2"], "client_secret_file"),
]


def dig(node, path):
    for part in path:
        node = node[part]
    return node


@pytest.mark.parametrize("config, where, file_field", CASES)
def test_every_secret_field_becomes_a_file(config, where, file_field):
    original = copy.deepcopy(config)
    out, files = sf.externalise(config, D)
    assert config == original, "the input is not modified"
    (secret_file,) = files
    assert secret_file["content"].startswith("S-")
    assert secret_file["path"].startswith(D + "/") and secret_file["path"].endswith(".password")
    assert dig(out, where)[file_field] == secret_file["path"]
    rendered = yaml.safe_dump(out) + json.dumps(out)
    assert secret_file["content"] not in rendered
    assert "S-" not in rendered


def test_all_at_once_no_secret_left_and_distinct_files():
    config = {}
    for case, _config, _secret in CASES:
        for key, value in case.items():
            if key == "alerting":
                config.setdefault("alerting", {"alertmanagers": []})["alertmanagers"] += value["alertmanagers"]
            else:
                config.setdefault(key, []).extend(value)
    out, files = sf.externalise(config, D)
    rendered = yaml.safe_dump(out)
    assert "S-" not in rendered
    assert len(files) == len(CASES) == len(set(f["path"] for f in files))
    assert sorted(f["content"] for f in files) == sorted(
        "S-" + s for s in ("basic", "authz", "bearer", "oauth", "jwtkey", "tlskey", "oauthtls", "scrape", "httpsd", "k8s",
                           "marathon", "scaleway", "oci", "consulba", "alerting", "amoauth"))


def test_file_names_say_where_the_secret_was():
    out, files = sf.externalise({"scrape_configs": [{"job_name": "my job/x", "basic_auth": {"username": "u", "password": "p"}}],
                                 "remote_write": [{"name": "cortex", "url": "https://c/", "bearer_token": "t"}]}, D + "/")
    assert sorted(f["path"] for f in files) == [D + "/remote_write-0-cortex-bearer_token.password",
                                                D + "/scrape_configs-0-my_job_x-basic_auth-password.password"]


def test_http_header_secrets_become_files():
    config = {"remote_write": [{"url": "https://a/", "http_headers": {
        "X-Scope-OrgID": {"values": ["tenant"]}, "X-Api-Key": {"secrets": ["S-h1", "S-h2"], "files": ["/given"]}}}]}
    out, files = sf.externalise(config, D)
    headers = out["remote_write"][0]["http_headers"]
    assert headers["X-Scope-OrgID"] == {"values": ["tenant"]}
    assert "secrets" not in headers["X-Api-Key"]
    assert headers["X-Api-Key"]["files"] == ["/given"] + [f["path"] for f in files]
    assert [f["content"] for f in files] == ["S-h1", "S-h2"]


@pytest.mark.parametrize("section", ["sigv4", "ec2_sd_configs", "lightsail_sd_configs"])
def test_aws_keys_go_to_a_shared_credentials_file(section):
    keys = {"region": "eu-west-1", "access_key": "AKIA-S-id", "secret_key": "S-aws"}
    if section == "sigv4":
        config = {"remote_write": [{"url": "https://aps/", "sigv4": keys}]}
        where = ["remote_write", 0, "sigv4"]
    else:
        config = {"scrape_configs": [{"job_name": "j", section: [keys]}]}
        where = ["scrape_configs", 0, section, 0]
    out, files = sf.externalise(config, D)
    target = dig(out, where)
    assert "secret_key" not in target and "access_key" not in target
    assert target["profile"].startswith("fleetwatch-")
    (creds,) = files
    assert creds["path"] == D + "/aws_credentials.password"
    assert "[%s]\naws_access_key_id = AKIA-S-id\naws_secret_access_key = S-aws\n" % target["profile"] in creds["content"]
    assert "S-" not in yaml.safe_dump(out)
    assert sf.environment(files, D) == {"AWS_SHARED_CREDENTIALS_FILE": D + "/aws_credentials.password"}


def test_aws_without_keys_is_untouched_and_needs_no_environment():
    config = {"remote_write": [{"url": "https://aps/", "sigv4": {"region": "eu-west-1", "role_arn": "arn:x"}}]}
    out, files = sf.externalise(config, D)
    assert out == config and files == [] and sf.environment(files, D) == {}


@pytest.mark.parametrize("sigv4, message", [
    ({"secret_key": "s"}, "without access_key"),
    ({"access_key": "a", "secret_key": "s", "profile": "p"}, "or a profile, not both"),
    ({"access_key": "a", "secret_key": "s\n[evil]"}, "line breaks"),
])
def test_bad_aws_keys(sigv4, message):
    with pytest.raises(sf.SecretFieldError, match=message):
        sf.externalise({"remote_write": [{"url": "https://x/", "sigv4": sigv4}]}, D)


@pytest.mark.parametrize("config, message", [
    ({"scrape_configs": [{"job_name": "j", "azure_sd_configs": [{"client_secret": "s"}]}]}, "azure_sd_configs\\[0\\].client_secret: Prometheus cannot read it"),
    ({"scrape_configs": [{"job_name": "j", "consul_sd_configs": [{"token": "s"}]}]}, "consul_sd_configs\\[0\\].token.*authorization"),
    ({"scrape_configs": [{"job_name": "j", "consul_sd_configs": [{"password": "s"}]}]}, "consul_sd_configs\\[0\\].password"),
    ({"scrape_configs": [{"job_name": "j", "openstack_sd_configs": [{"password": "s"}]}]}, "openstack_sd_configs\\[0\\].password"),
    ({"scrape_configs": [{"job_name": "j", "openstack_sd_configs": [{"application_credential_secret": "s"}]}]}, "application_credential_secret"),
    ({"scrape_configs": [{"job_name": "j", "ovhcloud_sd_configs": [{"application_secret": "s"}]}]}, "application_secret"),
    ({"scrape_configs": [{"job_name": "j", "ovhcloud_sd_configs": [{"consumer_key": "s"}]}]}, "consumer_key"),
    ({"scrape_configs": [{"job_name": "j", "uyuni_sd_configs": [{"password": "s"}]}]}, "uyuni_sd_configs\\[0\\].password"),
    ({"remote_write": [{"url": "https://x/", "azuread": {"oauth": {"client_id": "i", "client_secret": "s"}}}]}, "azuread.oauth.client_secret"),
    ({"remote_write": [{"url": "https://x/", "azuread": {"certificate": {"certificate_password": "s"}}}]}, "certificate_password"),
    ({"remote_write": [{"url": "https://x/", "proxy_connect_header": {"Proxy-Authorization": ["Basic s"]}}]}, "proxy CONNECT header"),
    ({"remote_write": [{"url": "https://user:S-pw@tsdb.example/api/v1/write"}]}, "remote_write\\[0\\].url carries a password"),
    ({"scrape_configs": [{"job_name": "j", "proxy_url": "http://u:p@proxy:3128"}]}, "proxy_url carries a password"),
    ({"remote_write": [{"url": "https://x/", "basic_auth": {"password": "a", "password_file": "/b"}}]}, "both set"),
    ({"remote_write": [{"url": "https://x/", "basic_auth": {"password": True}}]}, "must be a string"),
    ({"remote_write": [{"url": "https://x/", "basic_auth": {"password": ["a"]}}]}, "must be a string"),
    ({"remote_write": [{"url": "https://x/", "api_key": "s"}]}, "remote_write\\[0\\].api_key looks like a secret"),
    ({"remote_write": [{"url": "https://x/", "http_headers": {"X": {"secrets": "s"}}}]}, "secrets must be a list"),
    ({"remote_write": [{"url": "https://x/", "http_headers": {"X": "s"}}]}, "must be a mapping"),
])
def test_secrets_without_a_file_form_are_errors(config, message):
    with pytest.raises(sf.SecretFieldError, match=message):
        sf.externalise(config, D)


def test_unset_and_numeric_secrets():
    out, files = sf.externalise({"remote_write": [{"url": "https://x/", "basic_auth": {"username": "u", "password": ""},
                                                   "authorization": {"credentials": None}},
                                                  {"url": "https://y/", "basic_auth": {"username": "u", "password": 1234}}]}, D)
    assert out["remote_write"][0]["basic_auth"] == {"username": "u"}
    assert out["remote_write"][0]["authorization"] == {}
    assert [f["content"] for f in files] == ["1234"]


def test_labels_and_relabel_rules_are_not_secrets():
    config = {"scrape_configs": [{"job_name": "j", "static_configs": [{"targets": ["a:1"], "labels": {"token": "visible"}}],
                                  "relabel_configs": [{"target_label": "password", "replacement": "x"}],
                                  "params": {"key": ["v"]}}]}
    out, files = sf.externalise(config, D)
    assert out == config and files == []


def test_two_entries_that_would_share_a_file():
    walker = sf._Walker(D)
    walker.file_for(["a"], "1")
    with pytest.raises(sf.SecretFieldError, match="share the file"):
        walker.file_for(["a"], "2")


def test_long_names_are_shortened_but_distinct():
    walker = sf._Walker(D)
    a = walker.file_for(["x" * 300], "1")
    b = walker.file_for(["x" * 299 + "y"], "2")
    assert a != b and len(a.rsplit("/", 1)[1]) < 200


@pytest.mark.parametrize("bad", ["relative/dir", "", None, 5])
def test_secrets_dir_must_be_absolute(bad):
    with pytest.raises(sf.SecretFieldError, match="absolute path"):
        sf.externalise({}, bad)


def test_filter_returns_config_files_and_environment():
    result = secret_filters.externalise_secrets(
        {"remote_write": [{"url": "https://x/", "basic_auth": {"username": "u", "password": "pw"}}], "remote_read": [],
         "scrape_configs": [], "alerting": {"alertmanagers": []}}, D)
    assert result["config"]["remote_write"][0]["basic_auth"] == {
        "username": "u", "password_file": D + "/remote_write-0-basic_auth-password.password"}
    assert result["secret_files"] == [{"path": D + "/remote_write-0-basic_auth-password.password", "content": "pw"}]
    assert result["environment"] == {}
    with pytest.raises(AnsibleFilterError, match="secrets of the configuration: .*url carries a password"):
        secret_filters.externalise_secrets({"remote_write": [{"url": "https://a:b@x/"}]}, D)
