# SPDX-License-Identifier: Apache-2.0
"""Alertmanager receivers in Alertmanager's own syntax (plugins/plugin_utils/_amconfig.py
build_config): every integration of Alertmanager 0.28 passes through with each secret moved into a
*_file the real amtool check-config accepts, the global section's secrets too, secrets without a
file form refused; extra cluster flags checked."""
import os
import sys

import pytest
import yaml

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
import amhelpers  # noqa: E402  pylint: disable=wrong-import-position

from ansible_collections.fleetwatch.observability.plugins.plugin_utils import _amconfig as amconfig  # noqa: E402

SECRET = "s3cr$t'\"x"  # quotes and a dollar sign, kept as they are


def secret(tag):
    return "%s-%s" % (tag, SECRET)


# One receiver per integration of Alertmanager 0.28, with every secret field it has.
RAW = [
    {"name": "discord", "discord_configs": [{"webhook_url": "https://discord.test/api/webhooks/1/" + secret("dc")}]},
    {"name": "mail", "email_configs": [{"to": "ops@example.com", "from": "am@example.com", "smarthost": "smtp.example:587",
                                        "auth_username": "am", "auth_password": secret("smtp"),
                                        "tls_config": {"key": secret("smtpkey"), "cert_file": "/etc/ssl/c.pem"}}]},
    {"name": "jira", "jira_configs": [{"api_url": "https://jira.test", "project": "OPS", "issue_type": "Bug",
                                       "http_config": {"basic_auth": {"username": "am", "password": secret("jira")}}}]},
    {"name": "teams", "msteams_configs": [{"webhook_url": "https://teams.test/hook/" + secret("teams"), "title": "t"}]},
    {"name": "teams2", "msteamsv2_configs": [{"webhook_url": "https://teams.test/v2/" + secret("teams2")}]},
    {"name": "opsgenie", "opsgenie_configs": [{"api_key": secret("og"), "api_url": "https://og.test/",
                                               "responders": [{"name": "ops", "type": "team"}]}]},
    {"name": "pd", "pagerduty_configs": [{"routing_key": secret("pdr")}, {"service_key": secret("pds")}]},
    {"name": "pushover", "pushover_configs": [{"user_key": secret("pou"), "token": secret("pot")}]},
    {"name": "rocket", "rocketchat_configs": [{"token": secret("rct"), "token_id": secret("rci"), "channel": "#ops"}]},
    {"name": "slack", "slack_configs": [{"api_url": "https://hooks.slack.test/" + secret("slack"), "channel": "#ops"}]},
    {"name": "sns", "sns_configs": [{"topic_arn": "arn:aws:sns:eu-west-1:123456789012:ops",
                                     "sigv4": {"region": "eu-west-1", "access_key": "AKIATEST", "secret_key": secret("aws")}}]},
    {"name": "telegram", "telegram_configs": [{"bot_token": secret("tg"), "chat_id": -100123}]},
    {"name": "victorops", "victorops_configs": [{"api_key": secret("vo"), "routing_key": "ops"}]},
    {"name": "webex", "webex_configs": [{"room_id": "room1", "api_url": "https://webex.test/v1/messages",
                                         "http_config": {"authorization": {"credentials": secret("webex")}}}]},
    {"name": "hook", "webhook_configs": [{"url": "https://hook.test/" + secret("hook"), "max_alerts": 5,
                                          "http_config": {"oauth2": {"client_id": "am", "client_secret": secret("oauth"),
                                                                     "token_url": "https://idp.test/token"}}}]},
    {"name": "wechat", "wechat_configs": [{"corp_id": "c1", "to_user": "ops"}]},
]
GLOBAL = {"resolve_timeout": "5m", "smtp_auth_password": secret("gsmtp"), "slack_api_url": "https://hooks.slack.test/" + secret("gslack"),
          "opsgenie_api_key": secret("gog"), "victorops_api_key": secret("gvo"), "rocketchat_token": secret("grct"),
          "rocketchat_token_id": secret("grci"), "wechat_api_secret": None,
          "http_config": {"basic_auth": {"username": "u", "password": secret("ghttp")}}}
TAGS = ["dc", "smtp", "smtpkey", "jira", "teams", "teams2", "og", "pdr", "pds", "pou", "pot", "rct", "rci", "slack", "aws",
        "tg", "vo", "webex", "hook", "oauth", "gsmtp", "gslack", "gog", "gvo", "grct", "grci", "ghttp"]


@pytest.fixture(scope="module")
def am(tmp_path_factory):
    return amhelpers.binaries(tmp_path_factory)


def built(secrets_dir):
    receivers = [{"name": "default"}] + RAW
    return amconfig.build_config(receivers, str(secrets_dir), GLOBAL)


def test_every_integration_keeps_no_secret_in_the_config(tmp_path):
    result = built(tmp_path / "secrets")
    text = yaml.safe_dump({"global": result["global"], "receivers": result["receivers"]})
    assert SECRET not in text and "s3cr" not in text
    contents = "\n".join(s["content"] for s in result["secrets"])
    for tag in TAGS:
        assert secret(tag) in contents, tag
    assert "wechat_api_secret" not in result["global"]  # None: unset
    by_name = dict((r["name"], r) for r in result["receivers"])
    assert by_name["teams"]["msteams_configs"][0] == {"title": "t", "webhook_url_file": str(tmp_path / "secrets/teams-msteams_configs-0-webhook_url")}
    assert by_name["pd"]["pagerduty_configs"][1]["service_key_file"].endswith("pd-pagerduty_configs-1-service_key")
    assert by_name["opsgenie"]["opsgenie_configs"][0]["responders"] == [{"name": "ops", "type": "team"}]
    assert by_name["sns"]["sns_configs"][0]["sigv4"]["profile"].startswith("fleetwatch-")
    assert result["environment"] == {"AWS_SHARED_CREDENTIALS_FILE": str(tmp_path / "secrets/aws_credentials.password")}
    paths = [s["path"] for s in result["secrets"]]
    assert len(paths) == len(set(paths))


def test_the_real_amtool_accepts_every_integration_with_secrets_from_files(am, tmp_path):
    result = built(tmp_path / "secrets")
    amhelpers.write_secrets(result["secrets"])
    # WeChat needs an api_secret, which Alertmanager 0.28 reads only inline (refused, see below): left out here
    receivers = [r for r in result["receivers"] if r["name"] != "wechat"]
    config = {"global": result["global"], "route": {"receiver": "default"}, "receivers": receivers}
    path = tmp_path / "alertmanager.yml"
    path.write_text(yaml.safe_dump(config))
    code, out = amhelpers.check_config(am["amtool"], path)
    assert code == 0, out
    assert "16 receivers" in out, out
    # the same config with a secret left inline next to its file is refused by amtool: the *_file fields are real
    config["receivers"][4]["msteams_configs"][0]["webhook_url"] = "https://teams.test/x"
    path.write_text(yaml.safe_dump(config))
    code, out = amhelpers.check_config(am["amtool"], path)
    assert code != 0 and "webhook_url" in out, out


def test_short_and_raw_forms_of_one_integration_add_up():
    receivers, secrets = amconfig.build([{"name": "ops", "webhook": {"url": "http://a/"},
                                          "webhook_configs": [{"url": "http://b/", "send_resolved": False}]}], "/s")
    hooks = receivers[0]["webhook_configs"]
    assert [h["url_file"] for h in hooks] == ["/s/ops-webhook-0-url", "/s/ops-webhook_configs-0-url"]
    assert hooks[1]["send_resolved"] is False
    assert sorted(s["content"] for s in secrets) == ["http://a/", "http://b/"]


def test_a_receiver_given_the_file_itself_is_passed_through():
    receivers, secrets = amconfig.build([{"name": "og", "opsgenie_configs": [{"api_key_file": "/run/keys/og"}]}], "/s")
    assert receivers[0]["opsgenie_configs"] == [{"api_key_file": "/run/keys/og"}] and secrets == []


@pytest.mark.parametrize("receiver,message", [
    ({"name": "m", "email_configs": [{"to": "a@b", "auth_secret": "x"}]},
     r"email_configs\[0\].auth_secret: Alertmanager 0.28 cannot read it from a file \(auth_secret_file comes with 0.31\)"),
    ({"name": "w", "wechat_configs": [{"api_secret": "x"}]}, r"wechat_configs\[0\].api_secret: Alertmanager 0.28"),
    ({"name": "s", "slack_configs": [{"app_token": "x"}]}, r"app_token_file comes with 0.30"),
    ({"name": "o", "opsgenie_configs": [{"api_key": "k", "api_key_file": "/f"}]}, "api_key and api_key_file are both set"),
    ({"name": "o", "opsgenie_configs": [{"api_key": {"vault": 1}}]}, "must be a string"),
    ({"name": "o", "opsgenie_configs": {"api_key": "k"}}, "must be a list of mappings"),
    ({"name": "o", "opsgenie_configs": ["k"]}, r"opsgenie_configs\[0\] must be a mapping"),
    ({"name": "o", "carrierpigeon_configs": []}, "unknown keys carrierpigeon_configs"),
    ({"name": "o", "opsgenie_configs": [{"api_key": "k", "api_url": "https://u:pw@og.test/"}]}, "password in the URL"),
    ({"name": "j", "jira_configs": [{"project": "P", "issue_type": "B", "http_config": {"basic_auth": {"password": ["x"]}}}]},
     "must be a string"),
])
def test_secrets_without_a_file_form_and_bad_shapes_are_refused(receiver, message):
    with pytest.raises(amconfig.ReceiverError, match=message):
        amconfig.build_config([receiver], "/s", version="0.28.1")


@pytest.mark.parametrize("global_config,message", [
    ({"smtp_auth_secret": "x"}, "global.smtp_auth_secret: Alertmanager 0.28"),
    ({"wechat_api_secret": "x"}, "global.wechat_api_secret: Alertmanager 0.28"),
    ({"mattermost_webhook_url": "x"}, "mattermost_webhook_url_file comes with 0.32"),
    ({"opsgenie_api_key": "k", "opsgenie_api_key_file": "/f"}, "both set"),
    (["resolve_timeout"], "must be a mapping"),
])
def test_global_secrets_without_a_file_form_are_refused(global_config, message):
    with pytest.raises(amconfig.ReceiverError, match=message):
        amconfig.build_config([{"name": "x"}], "/s", global_config, version="0.28.1")


@pytest.mark.parametrize("version", [None, "latest", "0.31.0", "v0.33.1", "0.35.0"])
def test_newer_alertmanagers_read_those_secrets_from_files(version):
    result = amconfig.build_config([{"name": "m", "email_configs": [{"to": "a@b", "auth_secret": "cram"}],
                                     "wechat_configs": [{"api_secret": "wx"}]}],
                                   "/s", {"smtp_auth_secret": "g", "wechat_api_secret": "gw"}, version=version)
    assert result["receivers"][0]["email_configs"][0] == {"to": "a@b", "auth_secret_file": "/s/m-email_configs-0-auth_secret"}
    assert result["receivers"][0]["wechat_configs"][0] == {"api_secret_file": "/s/m-wechat_configs-0-api_secret"}
    assert result["global"] == {"smtp_auth_secret_file": "/s/global-smtp_auth_secret", "wechat_api_secret_file": "/s/global-wechat_api_secret"}
    assert sorted(x["content"] for x in result["secrets"]) == ["cram", "g", "gw", "wx"]


def test_the_newest_amtool_in_the_mirror_accepts_the_newer_file_forms(am, tmp_path):
    version = os.path.basename(os.path.dirname(am["tarball"]))
    if amconfig.parse_version(version) < (0, 31):
        pytest.skip("skipped: the mirror's newest Alertmanager (%s) predates these *_file forms" % version)
    result = amconfig.build_config([{"name": "default"},
                                    {"name": "m", "email_configs": [{"to": "a@b.example", "from": "am@b.example", "smarthost": "smtp:25",
                                                                     "auth_username": "u", "auth_secret": "cram"}]},
                                    {"name": "w", "wechat_configs": [{"api_secret": "wx", "corp_id": "c"}]},
                                    {"name": "mm", "mattermost_configs": [{"webhook_url": "https://mm.test/hooks/x"}]},
                                    {"name": "io", "incidentio_configs": [{"url": "https://io.test/x", "alert_source_token": "t"}]}],
                                   str(tmp_path / "secrets"), {"smtp_auth_secret": "g"}, version=version)
    amhelpers.write_secrets(result["secrets"])
    path = tmp_path / "alertmanager.yml"
    path.write_text(yaml.safe_dump({"global": result["global"], "route": {"receiver": "default"}, "receivers": result["receivers"]}))
    code, out = amhelpers.check_config(am["amtool"], path)
    assert code == 0, out
    assert "cram" not in path.read_text() and "mm.test" not in path.read_text()


def test_cluster_flags_are_checked_and_named():
    flags = {"gossip-interval": "100ms", "cluster.pushpull-interval": "1m30s", "--cluster.label": "prod-eu.1",
             "allow-insecure-public-advertise-address-discovery": True}
    assert amconfig.cluster_flags(flags, "am1") == {
        "cluster.gossip-interval": "100ms", "cluster.pushpull-interval": "1m30s", "cluster.label": "prod-eu.1",
        "cluster.allow-insecure-public-advertise-address-discovery": True}
    assert amconfig.cluster_flags(flags, "am1", enabled=False) == {}
    assert amconfig.cluster_flags({}, "am1") == {} and amconfig.cluster_flags(None, "am1") == {}


@pytest.mark.parametrize("flags,message", [
    ({"gossip-interval": "1d"}, r"alertmanager_cluster_flags\['gossip-interval'\] on am1: '1d' is not a Go duration"),
    ({"settle-timeout": 30}, "is not a Go duration"),
    ({"peer": "x:9094"}, "comes from the alertmanager group"),
    ({"listen-address": ":9094"}, "comes from alertmanager_cluster_listen_address"),
    ({"tls-config": "/x"}, "alertmanager_cluster_tls_config"),
    ({"gossip-nodes": 3}, "no --cluster.gossip-nodes"),
    ({"label": "a b"}, "cluster label"),
    ({"allow-insecure-public-advertise-address-discovery": "yes"}, "true or false"),
    (["gossip-interval"], "must be a mapping"),
])
def test_bad_cluster_flags(flags, message):
    with pytest.raises(amconfig.ReceiverError, match=message):
        amconfig.cluster_flags(flags, "am1", enabled=False)  # checked even when the cluster is off
