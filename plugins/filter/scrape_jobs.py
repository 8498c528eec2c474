# -*- coding: utf-8 -*-
# Copyright: fleetwatch engineers
# Apache License 2.0

from __future__ import absolute_import, division, print_function

__metaclass__ = type

DOCUMENTATION = r"""
name: scrape_jobs
short_description: Prometheus scrape jobs from the inventory's groups and the targets' role variables
version_added: 0.1.0
description:
  - Every host in a job's group becomes a target; port, scheme (https when C(<prefix>_tls_cert_file) is set)
    and basic auth (user O(scrape_user) of C(<prefix>_basic_auth_users)) come from that host's variables.
  - Targets that differ in scheme or credentials are split into several scrape configs of the same job.
options:
  _input:
    description: Job name to C({group, port, prefix, metrics_path}).
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
"""

EXAMPLES = r"""
- name: Scrape jobs
  ansible.builtin.debug:
    msg: "{{ {'node_exporter': {'group': 'node_exporter', 'port': 9100}} | fleetwatch.observability.scrape_jobs(groups, hostvars) }}"
"""

RETURN = r"""
_value:
  description: One entry per scrape config (C(name), C(job), C(scheme), C(metrics_path), C(username), C(password), C(targets)).
  type: list
  elements: dict
"""

from ansible.errors import AnsibleFilterError

from ansible_collections.fleetwatch.observability.plugins.module_utils import scrape


def scrape_jobs(spec, groups, hostvars, scrape_user="prometheus", include=None):
    try:
        plain = dict((h, dict(hostvars[h])) for h in hostvars)
        return scrape.jobs(dict(spec or {}), dict(groups), plain, scrape_user, include)
    except scrape.ScrapeError as exc:
        raise AnsibleFilterError("scrape jobs: %s" % exc)


def file_sd_target(target):
    """{address, instance} -> one file_sd entry."""
    return {"targets": [target["address"]], "labels": {"instance": target["instance"]}}


class FilterModule(object):
    def filters(self):
        return {"scrape_jobs": scrape_jobs, "file_sd_target": file_sd_target}
