# SPDX-License-Identifier: Apache-2.0
"""Alertmanager receivers and cluster peers (plugins/plugin_utils/_amconfig.py)."""
import pytest

from ansible_collections.fleetwatch.observability.plugins.plugin_utils import _amconfig as amconfig

S = "/etc/alertmanager/secrets"


def test_every_kind_keeps_its_secret_in_a_file():
    receivers, secrets = amconfig.build([
        {"name": "ops", "webhook": {"url": "http://hook/x", "username": "am", "password": "hookpw"},
         "slack": {"api_url": "https://hooks.slack/T/abc", "channel": "#ops"},
         "telegram": {"bot_token": "123:tok", "chat_id": 42},
         "pagerduty": {"routing_key": "pdkey"},
         "email": {"to": "ops@example.com", "from": "am@example.com", "smarthost": "smtp:587",
                   "auth_username": "am", "auth_password": "smtppw"}},
    ], S)
    text = repr(receivers)
    for secret in ("hookpw", "abc", "123:tok", "pdkey", "smtppw", "http://hook/x"):
        assert secret not in text
    contents = sorted(s["content"] for s in secrets)
    assert contents == sorted(["http://hook/x", "hookpw", "https://hooks.slack/T/abc", "123:tok", "pdkey", "smtppw"])
    ops = receivers[0]
    assert ops["webhook_configs"][0]["url_file"] == S + "/ops-webhook-0-url"
    assert ops["webhook_configs"][0]["http_config"]["basic_auth"] == {"username": "am", "password_file": S + "/ops-webhook-0-password"}
    assert ops["slack_configs"][0]["channel"] == "#ops"
    assert ops["telegram_configs"][0]["bot_token_file"].startswith(S)
    assert ops["pagerduty_configs"][0]["routing_key_file"].startswith(S)
    assert ops["email_configs"][0]["auth_password_file"].startswith(S)
    assert ops["email_configs"][0]["send_resolved"] is False
    assert ops["webhook_configs"][0]["send_resolved"] is True


def test_a_receiver_without_integrations_is_a_null_receiver():
    assert amconfig.build([{"name": "blackhole"}], S) == ([{"name": "blackhole"}], [])


@pytest.mark.parametrize("receivers,message", [
    ([{"webhook": {"url": "x"}}], "needs a name"),
    ([{"name": "a"}, {"name": "a"}], "defined twice"),
    ([{"name": "a", "sms": {}}], "unknown keys sms"),
    ([{"name": "a", "telegram": {"bot_token": "t"}}], "needs chat_id"),
    ([{"name": "a", "webhook": {"url": "u", "colour": 1}}], "does not take colour"),
    ([{"name": "a", "webhook": {"url": "u", "username": "x"}}], "needs a password"),
    ([{"name": "bad name"}], "invalid receiver name"),
    ({"name": "a"}, "must be a list"),
])
def test_bad_receivers(receivers, message):
    with pytest.raises(amconfig.ReceiverError, match=message):
        amconfig.build(receivers, S)


def test_peers_are_the_other_hosts_with_their_ports():
    hostvars = {"am1": {}, "am2": {"ansible_host": "10.0.0.2", "alertmanager_cluster_listen_address": "0.0.0.0:9999"}, "am3": {}}
    assert amconfig.peers(["am3", "am1", "am2"], "am1", hostvars, "9094") == ["10.0.0.2:9999", "am3:9094"]
    assert amconfig.peers(["am1"], "am1", hostvars, "9094") == []
