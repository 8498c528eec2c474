# -*- coding: utf-8 -*-
# Copyright: fleetwatch engineers
# SPDX-License-Identifier: Apache-2.0

from __future__ import absolute_import, division, print_function

__metaclass__ = type

DOCUMENTATION = r"""
name: alertmanager_receivers
short_description: Alertmanager receivers from short variables, secrets moved to files
version_added: 0.2.0
author:
  - fleetwatch engineers (@fleetwatch)
description:
  - "Each receiver is C({name, webhook|email|slack|telegram|pagerduty: {...} or [...], send_resolved})."
  - Secrets (webhook URL and password, SMTP password, Slack URL, Telegram token, PagerDuty key) become files
    referenced with Alertmanager's C(*_file) fields. Returns C({receivers, secrets}).
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
"""

EXAMPLES = r"""
- name: Receivers
  ansible.builtin.debug:
    msg: "{{ [{'name': 'ops', 'webhook': {'url': 'http://hook:8080/'}}] | fleetwatch.observability.alertmanager_receivers('/etc/alertmanager/secrets') }}"
"""

RETURN = r"""
_value:
  description: C(receivers) for alertmanager.yml and C(secrets), a list of C({path, content}).
  type: dict
"""

import os

from ansible.errors import AnsibleFilterError

from ansible_collections.fleetwatch.observability.plugins.module_utils import amconfig
from ansible_collections.fleetwatch.observability.plugins.module_utils import amtemplates


def alertmanager_receivers(receivers, secrets_dir):
    try:
        built, secrets = amconfig.build(list(receivers or []), secrets_dir)
    except amconfig.ReceiverError as exc:
        raise AnsibleFilterError("alertmanager receivers: %s" % exc)
    return {"receivers": built, "secrets": secrets}


def alertmanager_peers(hosts, me, hostvars, default_port="9094"):
    try:
        return amconfig.peers(list(hosts or []), me, hostvars, default_port)
    except amconfig.ReceiverError as exc:
        raise AnsibleFilterError("alertmanager peers: %s" % exc)


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
                "alertmanager_template_file": alertmanager_template_file}
