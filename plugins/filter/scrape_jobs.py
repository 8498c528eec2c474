# -*- coding: utf-8 -*-
# Copyright: fleetwatch engineers
# SPDX-License-Identifier: Apache-2.0

from __future__ import absolute_import, division, print_function

__metaclass__ = type

DOCUMENTATION = r"""
name: scrape_jobs
short_description: Prometheus scrape jobs from the inventory's groups and the targets' role variables
version_added: 0.2.0
author:
  - fleetwatch engineers (@fleetwatch)
description:
  - Every host in a job's group becomes a target; its address (C(<prefix>_listen_address), its port, and the IP itself
    when the host listens on a specific one; IPv6 in brackets), path (route prefix from C(<prefix>_external_url) or
    C(web.route-prefix) in C(<prefix>_extra_flags), plus the metrics path), scheme (https when
    C(<prefix>_tls_cert_file) is set) and basic auth (user O(scrape_user) of C(<prefix>_basic_auth_users)) come from
    that host's variables.
  - Multi-instance jobs give one target per C(<prefix>_instances) entry, labelled C(instance_name).
  - Targets that differ in scheme, path or credentials are split into several scrape configs of the same job.
  - Errors name the host and the variable.
options:
  _input:
    description: Job name to C({group, port, prefix, metrics_path, multi_instance}); a null value drops the job.
    type: dict
    required: true
  groups:
    description: The inventory's C(groups).
    type: dict
    required: true
  hostvars:
    description: The inventory's C(hostvars).
    type: dict
    required: true
  scrape_user:
    description: Basic auth user Prometheus scrapes with.
    type: str
    default: prometheus
  include:
    description: Job name to extra hosts (for example the Prometheus host itself for job C(prometheus)).
    type: dict
  options:
    description: >-
      Client side: C(secrets_dir) (password files are C(<secrets_dir>/<name>.password)), C(ca_file), C(cert_file) and
      C(key_file) (mutual TLS), C(insecure_skip_verify).
    type: dict
  me:
    description: The Prometheus host; only it reaches targets that listen on loopback.
    type: str
  name_prefix:
    description: Put before every scrape config name (the alerting configs use C(alerting_)).
    type: str
    default: ""
"""

EXAMPLES = r"""
- name: Scrape jobs
  ansible.builtin.debug:
    msg: "{{ {'node_exporter': {'group': 'node_exporter', 'port': 9100}} | fleetwatch.observability.scrape_jobs(groups, hostvars) }}"
"""

RETURN = r"""
_value:
  description: >-
    One entry per scrape config (C(name), C(job), C(scheme), C(metrics_path), C(path_prefix), C(username), C(password),
    C(password_file), C(tls_config), C(targets), each target C({address, instance, labels})).
  type: list
  elements: dict
"""

from ansible.errors import AnsibleFilterError
from ansible.utils.display import Display

from ansible_collections.fleetwatch.observability.plugins.module_utils import scrape

display = Display()


def scrape_jobs(spec, groups, hostvars, scrape_user="prometheus", include=None, options=None, me=None, name_prefix=""):
    try:
        return scrape.jobs(dict(spec or {}), dict(groups), hostvars, scrape_user, include, options, me, name_prefix)
    except scrape.ScrapeError as exc:
        raise AnsibleFilterError("scrape jobs: %s" % exc)


def file_sd_target(target):
    """{address, instance, labels} -> one file_sd entry."""
    return scrape.file_sd_target(target)


def prometheus_file_sd_files(slices, directory, group, mode="0640"):
    """file_sd JSON files of the scrape slices, for service_setup's files (no secret in them)."""
    return scrape.file_sd_files(list(slices or []), directory, group, mode)


def prometheus_secret_files(slices, extra=None, group=None, mode="0640"):
    """Password files of the slices plus extra {path, content} files, for service_setup's secret_files."""
    try:
        return scrape.secret_files(list(slices or []), list(extra or []), group, mode)
    except scrape.ScrapeError as exc:
        raise AnsibleFilterError("prometheus secret files: %s" % exc)


def warn_without_alertmanager(slices, extra, host):
    """Warn (once) when a Prometheus has no Alertmanager to send its alerts to; return the slices."""
    slices = list(slices or [])
    if not slices and not list(extra or []):
        display.warning(
            "Prometheus on %s has NO Alertmanager: its alert group is empty and prometheus_alertmanagers_extra is not set, "
            "so alerts are evaluated but sent nowhere. Put Alertmanager hosts in the group named by "
            "prometheus_alertmanager_group (default alertmanager) or list them in prometheus_alertmanagers_extra." % host)
    return slices


class FilterModule(object):
    def filters(self):
        return {"scrape_jobs": scrape_jobs, "file_sd_target": file_sd_target,
                "prometheus_file_sd_files": prometheus_file_sd_files,
                "prometheus_secret_files": prometheus_secret_files,
                "warn_without_alertmanager": warn_without_alertmanager}
