# -*- coding: utf-8 -*-
# Copyright: fleetwatch engineers
# SPDX-License-Identifier: Apache-2.0
"""Alertmanager receivers, with every secret moved to its own file.

A receiver is {name, send_resolved, webhook|email|slack|telegram|pagerduty: {...} or [{...}]} (the
short form) and/or any of Alertmanager's own ``<integration>_configs`` lists, in Alertmanager's
syntax (every integration of Alertmanager 0.28 to 0.34: discord, email, incidentio, jira,
mattermost, msteams, msteamsv2, opsgenie, pagerduty, pushover, rocketchat, slack, sns, telegram,
victorops, webex, webhook, wechat; amtool check-config refuses one the installed version lacks).

Every secret is written to a file under the secrets directory and referenced with Alertmanager's
``*_file`` field, so alertmanager.yml itself holds no secret:

* the integrations' own secrets (RAW_SECRETS: webhook url, Slack/Discord/Teams/Mattermost webhook
  URLs, API keys, routing and service keys, tokens, the SMTP password and secret, ...), and the
  same fields of ``global`` (GLOBAL_SECRETS);
* everything in ``http_config`` (basic auth password, authorization credentials, OAuth 2.0 client
  secret, TLS key, ...), ``tls_config`` and SNS ``sigv4`` keys (one AWS shared credentials file,
  read through AWS_SHARED_CREDENTIALS_FILE), through secretfields (Prometheus' HTTP client config,
  which Alertmanager shares).

Some ``*_file`` forms came later (email ``auth_secret`` and WeChat ``api_secret`` with 0.31, Slack
``app_token`` with 0.30, ...): for an older Alertmanager such a secret, which would be written into
alertmanager.yml in plain text, is an error naming the version that reads it from a file. So are
credentials in URLs.
"""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

import re

import copy

from ansible_collections.fleetwatch.observability.plugins.module_utils import hostport
from ansible_collections.fleetwatch.observability.plugins.plugin_utils import _secretfields as secretfields

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


# Alertmanager's integrations (config/notifiers.go, notify/*/config.go of 0.28 to 0.34):
# {secret field: its *_file field, or (its *_file field, the first version that has it)}.
RAW_SECRETS = {
    "discord_configs": {"webhook_url": "webhook_url_file"},
    "email_configs": {"auth_password": "auth_password_file", "auth_secret": ("auth_secret_file", (0, 31))},
    "incidentio_configs": {"url": "url_file", "alert_source_token": "alert_source_token_file"},  # 0.29
    "jira_configs": {},
    "mattermost_configs": {"webhook_url": "webhook_url_file"},  # 0.30
    "msteams_configs": {"webhook_url": "webhook_url_file"},
    "msteamsv2_configs": {"webhook_url": "webhook_url_file"},
    "opsgenie_configs": {"api_key": "api_key_file"},
    "pagerduty_configs": {"routing_key": "routing_key_file", "service_key": "service_key_file"},
    "pushover_configs": {"user_key": "user_key_file", "token": "token_file"},
    "rocketchat_configs": {"token": "token_file", "token_id": "token_id_file"},
    "slack_configs": {"api_url": "api_url_file", "app_token": ("app_token_file", (0, 30))},
    "sns_configs": {},
    "telegram_configs": {"bot_token": "bot_token_file"},
    "victorops_configs": {"api_key": "api_key_file"},
    "webex_configs": {},
    "webhook_configs": {"url": "url_file"},
    "wechat_configs": {"api_secret": ("api_secret_file", (0, 31))},
}
GLOBAL_SECRETS = {
    "smtp_auth_password": "smtp_auth_password_file", "slack_api_url": "slack_api_url_file",
    "opsgenie_api_key": "opsgenie_api_key_file", "victorops_api_key": "victorops_api_key_file",
    "rocketchat_token": "rocketchat_token_file", "rocketchat_token_id": "rocketchat_token_id_file",
    "smtp_auth_secret": ("smtp_auth_secret_file", (0, 31)), "wechat_api_secret": ("wechat_api_secret_file", (0, 31)),
    "slack_app_token": ("slack_app_token_file", (0, 30)), "telegram_bot_token": ("telegram_bot_token_file", (0, 31)),
    "mattermost_webhook_url": ("mattermost_webhook_url_file", (0, 32)),
}
VERSION_RE = re.compile(r"^v?(\d+)\.(\d+)")


def parse_version(version):
    """(major, minor) of an Alertmanager version; None (unknown, "latest") means the newest."""
    match = VERSION_RE.match(str(version or ""))
    return (int(match.group(1)), int(match.group(2))) if match else None


class ReceiverError(Exception):
    pass


def _safe(text):
    return re.sub(r"[^A-Za-z0-9_.-]", "_", text)


def _secret_value(value, where):
    """The secret as text; None when unset."""
    if value is None:
        return None
    if isinstance(value, (bool, dict, list, tuple, set)):
        raise ReceiverError("%s must be a string (the secret itself), not %s" % (where, type(value).__name__))
    text = str(value)  # also decrypts a vaulted value
    return text if text != "" else None


def _move_secrets(item, fields, where, path_of, secrets, version=None):
    """Move item's secret fields (a copy) to files: fields {field: file field or (file field, since)}.

    A secret whose *_file form the Alertmanager version lacks would be written into alertmanager.yml
    in plain text: an error naming the version that has it."""
    for field, spec in sorted(fields.items()):
        file_field, since = (spec, None) if isinstance(spec, str) else spec
        if item.get(field) in (None, ""):
            item.pop(field, None)  # unset
            continue
        if since and version and version < since:
            raise ReceiverError("%s.%s: Alertmanager %d.%d cannot read it from a file (%s comes with %d.%d), so it would be "
                                "written into alertmanager.yml in plain text; upgrade Alertmanager (alertmanager_version) or "
                                "leave it out" % ((where, field) + version + (file_field,) + since))
        text = _secret_value(item.pop(field), "%s.%s" % (where, field))
        if item.get(file_field) not in (None, ""):
            raise ReceiverError("%s: %s and %s are both set: give one" % (where, field, file_field))
        path = path_of(field)
        secrets.append({"path": path, "content": text})
        item[file_field] = path
    return item


def _raw_configs(name, key, items, secrets_dir, secrets, version=None):
    """One receiver's <integration>_configs list in Alertmanager's syntax, its secrets moved to files."""
    if not isinstance(items, list):
        raise ReceiverError("receiver %s: %s must be a list of mappings (Alertmanager's syntax)" % (name, key))
    configs = []
    for index, item in enumerate(items):
        if not isinstance(item, dict):
            raise ReceiverError("receiver %s: %s[%d] must be a mapping" % (name, key, index))
        where = "receiver %s: %s[%d]" % (name, key, index)
        configs.append(_move_secrets(
            copy.deepcopy(dict(item)), RAW_SECRETS[key], where,
            lambda field, i=index: "%s/%s-%s-%d-%s" % (secrets_dir.rstrip("/"), _safe(name), key, i, field), secrets, version))
    return configs


def build_config(receivers, secrets_dir, global_config=None, version=None):
    """Receivers and the global section with every secret in a file.

    version: the Alertmanager version (its *_file forms); None or unparsable means the newest.

    Returns {receivers, global, secrets: [{path, content}], environment: {...}} (environment: what
    the service needs to read them, AWS_SHARED_CREDENTIALS_FILE for SNS sigv4 keys).
    """
    version = parse_version(version)
    out, secrets = build(receivers, secrets_dir, walk=False, version=version)
    config = {"receivers": out}
    if global_config not in (None, {}):
        if not isinstance(global_config, dict):
            raise ReceiverError("the global section must be a mapping")
        config["global"] = _move_secrets(
            copy.deepcopy(dict(global_config)), GLOBAL_SECRETS, "global",
            lambda field: "%s/global-%s" % (secrets_dir.rstrip("/"), field), secrets, version)
    try:
        walked, files = secretfields.externalise(config, secrets_dir)
    except secretfields.SecretFieldError as exc:
        raise ReceiverError(str(exc))
    paths = set(s["path"] for s in secrets)
    for item in files:
        if item["path"] in paths:
            raise ReceiverError("two secrets would share the file %s: give the receivers distinct names" % item["path"])
    return {"receivers": walked["receivers"], "global": walked.get("global", global_config or {}),
            "secrets": secrets + files, "environment": secretfields.environment(files, secrets_dir)}


def build(receivers, secrets_dir, walk=True, version=None):
    """Return (receivers for alertmanager.yml, [{path, content}] secret files)."""
    if walk:
        result = build_config(receivers, secrets_dir)
        return result["receivers"], result["secrets"]
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
        unknown = set(receiver) - set(KINDS) - set(RAW_SECRETS) - {"name", "send_resolved"}
        if unknown:
            raise ReceiverError("receiver %s: unknown keys %s (use %s, or Alertmanager's own %s)" % (
                name, ", ".join(sorted(unknown)), ", ".join(sorted(KINDS)), ", ".join(sorted(RAW_SECRETS))))
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
        for key in sorted(set(receiver) & set(RAW_SECRETS)):
            # after the short form of the same integration, if any
            entry[key] = entry.get(key, []) + _raw_configs(name, key, receiver[key], secrets_dir, secrets, version)
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


# Alertmanager 0.28's --cluster.* flags a user may set (the others come from the role's variables).
CLUSTER_DURATIONS = ("peer-timeout", "gossip-interval", "pushpull-interval", "tcp-timeout", "probe-timeout",
                     "probe-interval", "settle-timeout", "reconnect-interval", "reconnect-timeout")
CLUSTER_MANAGED = {
    "listen-address": "alertmanager_cluster_listen_address", "advertise-address": "alertmanager_cluster_advertise_address",
    "peer": "the alertmanager group (and alertmanager_cluster_peers_extra)", "tls-config": "alertmanager_cluster_tls_config",
}
GO_DURATION_RE = re.compile(r"^([0-9]+(\.[0-9]+)?(ns|us|\u00b5s|ms|s|m|h))+$")
LABEL_RE = re.compile(r"^[A-Za-z0-9_.:-]*$")


def cluster_flags(flags, host="this host", variable="alertmanager_cluster_flags", enabled=True):
    """Checked extra --cluster.* flags: {name (with or without "cluster."): value} -> {"cluster.<name>": value}.

    Durations in Go's form (200ms, 1m30s; no d/w/y), the label as Alertmanager takes it, the
    boolean flag as a boolean. Flags the role sets from its variables, and unknown ones, are errors.
    enabled: whether the cluster is on; when it is not, the flags are checked and {} is returned.
    """
    if flags in (None, ""):
        return {}
    if not isinstance(flags, dict):
        raise ReceiverError("%s on %s must be a mapping of cluster flag to value" % (variable, host))
    out = {}
    for key, value in flags.items():
        name = str(key)
        if name.startswith("--"):
            name = name[2:]
        if name.startswith("cluster."):
            name = name[len("cluster."):]
        where = "%s[%r] on %s" % (variable, key, host)
        if name in CLUSTER_MANAGED:
            raise ReceiverError("%s: --cluster.%s comes from %s" % (where, name, CLUSTER_MANAGED[name]))
        if name in CLUSTER_DURATIONS:
            if not isinstance(value, str) or not (value == "0" or GO_DURATION_RE.match(value)):
                raise ReceiverError("%s: %r is not a Go duration such as 200ms, 15s or 1h30m (no d, w or y)" % (where, value))
        elif name == "label":
            if not isinstance(value, str) or not LABEL_RE.match(value):
                raise ReceiverError("%s: the cluster label must be a string of letters, digits and _ . : -, not %r"
                                    % (where, value))
        elif name == "allow-insecure-public-advertise-address-discovery":
            if not isinstance(value, bool):
                raise ReceiverError("%s: must be true or false, not %r" % (where, value))
        else:
            raise ReceiverError("%s: Alertmanager 0.28 has no --cluster.%s (known: %s)" % (
                where, name, ", ".join(sorted(CLUSTER_DURATIONS + ("label", "allow-insecure-public-advertise-address-discovery")))))
        out["cluster." + name] = value
    return out if enabled else {}
