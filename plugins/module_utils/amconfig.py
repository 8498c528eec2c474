# -*- coding: utf-8 -*-
# Copyright: fleetwatch engineers
# SPDX-License-Identifier: Apache-2.0
"""Alertmanager receivers from short variables, with every secret moved to its own file.

A receiver is {name, webhook|email|slack|telegram|pagerduty: {...} or [{...}], send_resolved}.
Secret fields (webhook url and password, SMTP password, Slack webhook URL, Telegram bot token,
PagerDuty routing key) are written to files under the secrets directory and referenced with
Alertmanager's ``*_file`` fields, so alertmanager.yml itself holds no secret.
"""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

import re

try:
    from ansible_collections.fleetwatch.observability.plugins.module_utils import hostport
except ImportError:  # a harness script with plugins/module_utils on sys.path
    import hostport  # noqa: E402  pylint: disable=import-error

NAME_RE = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.-]*$")

# kind: (config key, required fields, {secret field: file field}, plain fields allowed)
KINDS = {
    "webhook": ("webhook_configs", ("url",), {"url": "url_file"}, ("max_alerts", "timeout")),
    "email": ("email_configs", ("to",), {"auth_password": "auth_password_file"},
              ("from", "smarthost", "auth_username", "auth_identity", "require_tls", "hello", "headers", "html", "text")),
    "slack": ("slack_configs", ("api_url",), {"api_url": "api_url_file"},
              ("channel", "username", "title", "text", "color", "icon_emoji", "icon_url", "link_names")),
    "telegram": ("telegram_configs", ("bot_token", "chat_id"), {"bot_token": "bot_token_file"},
                 ("chat_id", "message", "parse_mode", "disable_notifications", "message_thread_id", "api_url")),
    "pagerduty": ("pagerduty_configs", ("routing_key",), {"routing_key": "routing_key_file"},
                  ("severity", "description", "client", "client_url", "details", "url", "class", "component", "group")),
}


class ReceiverError(Exception):
    pass


def _safe(text):
    return re.sub(r"[^A-Za-z0-9_.-]", "_", text)


def build(receivers, secrets_dir):
    """Return (receivers for alertmanager.yml, [{path, content}] secret files)."""
    if not isinstance(receivers, list):
        raise ReceiverError("receivers must be a list")
    out, secrets, seen = [], [], set()
    for receiver in receivers:
        if not isinstance(receiver, dict) or not receiver.get("name"):
            raise ReceiverError("each receiver needs a name: %r" % (receiver,))
        name = str(receiver["name"])
        if not NAME_RE.match(name):
            raise ReceiverError("invalid receiver name %r" % name)
        if name in seen:
            raise ReceiverError("receiver %s is defined twice" % name)
        seen.add(name)
        unknown = set(receiver) - set(KINDS) - {"name", "send_resolved"}
        if unknown:
            raise ReceiverError("receiver %s: unknown keys %s (use %s)" % (name, ", ".join(sorted(unknown)), ", ".join(sorted(KINDS))))
        entry = {"name": name}
        for kind in sorted(KINDS):
            if kind not in receiver:
                continue
            key, required, secret_fields, plain = KINDS[kind]
            items = receiver[kind] if isinstance(receiver[kind], list) else [receiver[kind]]
            configs = []
            for index, item in enumerate(items):
                if not isinstance(item, dict):
                    raise ReceiverError("receiver %s: %s must be a mapping" % (name, kind))
                missing = [f for f in required if item.get(f) in (None, "")]
                if missing:
                    raise ReceiverError("receiver %s: %s needs %s" % (name, kind, ", ".join(missing)))
                extra = set(item) - set(required) - set(secret_fields) - set(plain) - {"send_resolved", "username", "password"}
                if extra:
                    raise ReceiverError("receiver %s: %s does not take %s" % (name, kind, ", ".join(sorted(extra))))
                config = {"send_resolved": bool(item.get("send_resolved", receiver.get("send_resolved", True)))}
                if kind == "email":
                    config["send_resolved"] = bool(item.get("send_resolved", receiver.get("send_resolved", False)))
                for field, value in sorted(item.items()):
                    if field in secret_fields:
                        path = "%s/%s-%s-%d-%s" % (secrets_dir.rstrip("/"), _safe(name), kind, index, field)
                        secrets.append({"path": path, "content": str(value)})
                        config[secret_fields[field]] = path
                    elif field in ("username", "password"):
                        continue
                    elif field != "send_resolved":
                        config[field] = value
                if kind == "webhook" and item.get("username"):
                    if not item.get("password"):
                        raise ReceiverError("receiver %s: webhook basic auth needs a password" % name)
                    path = "%s/%s-webhook-%d-password" % (secrets_dir.rstrip("/"), _safe(name), index)
                    secrets.append({"path": path, "content": str(item["password"])})
                    config["http_config"] = {"basic_auth": {"username": item["username"], "password_file": path}}
                configs.append(config)
            entry[key] = configs
        out.append(entry)
    return out, secrets


def peers(hosts, me, hostvars, default_port):
    """--cluster.peer addresses: every other host of the group, at the address it can be reached on.

    A peer's address is its ``alertmanager_cluster_advertise_address`` when set, else its
    ``alertmanager_cluster_listen_address``: the IP itself when it is a specific one, else (0.0.0.0,
    ::, empty) the host's ansible_host or inventory hostname; the port from the same variable
    (default_port when unset). IPv6 in brackets. A peer whose cluster listens on loopback cannot be
    reached from another host: that is an error naming the host and the variable.
    """
    result = []
    for host in sorted(hosts):
        if host == me:
            continue
        hv = hostvars.get(host) or {}
        fallback = hv.get("ansible_host") or host
        advertise = hv.get("alertmanager_cluster_advertise_address")
        variable = "alertmanager_cluster_listen_address"
        listen = hv.get(variable)
        try:
            if advertise not in (None, ""):
                variable, listen = "alertmanager_cluster_advertise_address", advertise
                name, port = hostport.parse_listen(advertise, variable, host)
                if not name or hostport.is_wildcard(name):
                    raise ReceiverError("alertmanager_cluster_advertise_address on %s: %r needs a specific address"
                                        % (host, advertise))
            elif listen not in (None, ""):
                name, port = hostport.parse_listen(listen, variable, host)
            else:
                name, port = "", default_port
            if hostport.is_loopback(name):
                raise ReceiverError(
                    "%s on %s: %r is loopback, which the other Alertmanagers (%s) cannot reach: listen on an address of "
                    "the host (or 0.0.0.0) or set alertmanager_cluster_advertise_address" % (variable, host, listen, me))
            result.append(hostport.join(hostport.connect_host(name, fallback), port))
        except hostport.HostPortError as exc:
            raise ReceiverError(str(exc))
    return result
