# -*- coding: utf-8 -*-
# Copyright: fleetwatch engineers
# SPDX-License-Identifier: Apache-2.0

from __future__ import absolute_import, division, print_function

__metaclass__ = type

DOCUMENTATION = r"""
name: externalise_secrets
short_description: Move every credential of a Prometheus-style config into files referenced by *_file fields
version_added: 0.2.0
author:
  - fleetwatch engineers (@fleetwatch)
description:
  - Walks a configuration structure (C(remote_write), C(remote_read), C(scrape_configs), C(alerting.alertmanagers) and
    everything inside, service discovery, OAuth 2.0, TLS, HTTP headers) and replaces every secret field (basic auth
    password, authorization credentials, bearer token, OAuth 2.0 client secret and certificate key, TLS key, header
    secrets, Marathon/Scaleway/Outscale/OCI secrets) with its C(*_file) field pointing at a file under O(secrets_dir).
  - AWS keys (sigv4, EC2 and Lightsail discovery) move into one AWS shared credentials file, one profile each; the
    service needs the returned C(environment) (C(AWS_SHARED_CREDENTIALS_FILE)).
  - Secrets Prometheus can only take inline, passwords in URLs and unknown fields named like secrets are errors.
  - Returns C({config, secret_files, environment}); C(secret_files) is a list of C({path, content}).
options:
  _input:
    description: The configuration (a mapping of sections).
    type: dict
    required: true
  secrets_dir:
    description: Absolute directory of the secret files on the host.
    type: str
    required: true
"""

EXAMPLES = r"""
- name: remote_write without its password
  ansible.builtin.debug:
    msg: >-
      {{ {'remote_write': [{'url': 'https://tsdb.example/api/v1/write', 'basic_auth': {'username': 'u', 'password': pw}}]}
         | fleetwatch.observability.externalise_secrets('/etc/prometheus/secrets') }}
"""

RETURN = r"""
_value:
  description: C(config) (secrets replaced by C(*_file) fields), C(secret_files) (C({path, content})) and C(environment).
  type: dict
"""


from ansible.errors import AnsibleFilterError

from ansible_collections.fleetwatch.observability.plugins.plugin_utils import _secretfields as secretfields


def externalise_secrets(config, secrets_dir):
    try:
        result, files = secretfields.externalise(secretfields.plain(config or {}), str(secrets_dir))
    except secretfields.SecretFieldError as exc:
        raise AnsibleFilterError("secrets of the configuration: %s" % exc)
    return {"config": result, "secret_files": files, "environment": secretfields.environment(files, str(secrets_dir))}


class FilterModule(object):
    def filters(self):
        return {"externalise_secrets": externalise_secrets}
