# -*- coding: utf-8 -*-
# Copyright: fleetwatch engineers
# SPDX-License-Identifier: Apache-2.0

from __future__ import absolute_import, division, print_function

__metaclass__ = type

DOCUMENTATION = r"""
name: alertmanager_receivers
short_description: Alertmanager receivers (short form or Alertmanager's own syntax), secrets moved to files
version_added: 0.2.0
author:
  - fleetwatch engineers (@fleetwatch)
description:
  - "Each receiver is C({name, webhook|email|slack|telegram|pagerduty: {...} or [...], send_resolved}) (the short
    form) and/or Alertmanager's own C(<integration>_configs) lists (discord, email, jira, msteams, msteamsv2,
    opsgenie, pagerduty, pushover, rocketchat, slack, sns, telegram, victorops, webex, webhook, wechat, and
    incidentio and mattermost of newer versions), passed through as they are apart from their secrets."
  - Every secret (webhook URLs, API keys, routing and service keys, tokens, the SMTP password, everything in
    C(http_config) and C(tls_config), the same fields of O(global_config)) becomes a file referenced with
    Alertmanager's C(*_file) field. SNS C(sigv4) keys go into one AWS shared credentials file, named in the
    returned C(environment).
  - A secret the Alertmanager O(version) reads only inline (email C(auth_secret) and WeChat C(api_secret) before
    0.31, Slack C(app_token) before 0.30, ...) and passwords in URLs are errors.
  - Returns C({receivers, global, secrets, environment}).
options:
  _input:
    description: The receivers.
    type: list
    elements: dict
    required: true
  secrets_dir:
    description: Directory of the secret files on the host.
    type: str
    required: true
  global_config:
    description: Alertmanager's C(global) section, whose secrets move to files too.
    type: dict
    default: {}
    version_added: 0.2.0
  version:
    description:
      - The Alertmanager version; a secret whose C(*_file) form it lacks (for example email C(auth_secret) before 0.31)
        is an error naming the version that has it. Unset or not a version (C(latest)) means the newest.
    type: str
    version_added: 0.2.0
"""

EXAMPLES = r"""
- name: Receivers
  ansible.builtin.debug:
    msg: "{{ [{'name': 'ops', 'webhook': {'url': 'http://hook:8080/'}}] | fleetwatch.observability.alertmanager_receivers('/etc/alertmanager/secrets') }}"
"""

RETURN = r"""
_value:
  description: >-
    C(receivers) and C(global) for alertmanager.yml, C(secrets) (a list of C({path, content})) and
    C(environment) (variables the service needs to read them).
  type: dict
"""

import os

from ansible.errors import AnsibleFilterError

from ansible_collections.fleetwatch.observability.plugins.plugin_utils import _amconfig as amconfig
from ansible_collections.fleetwatch.observability.plugins.plugin_utils import _amtemplates as amtemplates
from ansible_collections.fleetwatch.observability.plugins.plugin_utils import _secretfields as secretfields


def alertmanager_receivers(receivers, secrets_dir, global_config=None, version=None):
    try:
        return amconfig.build_config(secretfields.plain(receivers if receivers is not None else []), str(secrets_dir), secretfields.plain(global_config or {}),
                                     None if version is None else str(version))
    except amconfig.ReceiverError as exc:
        raise AnsibleFilterError("alertmanager receivers: %s" % exc)


def alertmanager_peers(hosts, me, hostvars, default_port="9094"):
    try:
        return amconfig.peers(list(hosts or []), me, hostvars, default_port)
    except amconfig.ReceiverError as exc:
        raise AnsibleFilterError("alertmanager peers: %s" % exc)


def alertmanager_cluster_flags(flags, host="this host", variable="alertmanager_cluster_flags", enabled=True):
    try:
        return amconfig.cluster_flags(secretfields.plain(flags), str(host), str(variable), bool(enabled))
    except amconfig.ReceiverError as exc:
        raise AnsibleFilterError(str(exc))


# The alertmanager role's shipped templates, next to this plugin in the collection.
SHIPPED_DIR = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "..", "roles", "alertmanager", "files")


def alertmanager_template_file(item, directory, group, amtool):
    """{name, content} -> a service_setup file entry whose template amtool parses before it goes live.

    The role passes its shipped templates and the user's (alertmanager_templates) alike; a user
    template named like a shipped one is refused (it would be written to the same file)."""
    try:
        name = amtemplates.check_template(item["name"], item["content"], amtemplates.shipped_templates(SHIPPED_DIR))
    except amtemplates.TemplateError as exc:
        raise AnsibleFilterError(str(exc))
    return {"path": "%s/%s.tmpl" % (directory.rstrip("/"), name), "content": item["content"], "group": group,
            "mode": "0640", "validate": "%s template render --template.glob=%%s --template.text=ok" % amtool}


class FilterModule(object):
    def filters(self):
        return {"alertmanager_receivers": alertmanager_receivers, "alertmanager_peers": alertmanager_peers,
                "alertmanager_cluster_flags": alertmanager_cluster_flags,
                "alertmanager_template_file": alertmanager_template_file}
