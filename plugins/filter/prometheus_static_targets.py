# -*- coding: utf-8 -*-
# Copyright: fleetwatch engineers
# SPDX-License-Identifier: Apache-2.0

from __future__ import absolute_import, division, print_function

__metaclass__ = type

DOCUMENTATION = r"""
name: prometheus_static_targets
short_description: file_sd files and scrape jobs for targets given as variables
version_added: 0.2.0
author:
  - fleetwatch engineers (@fleetwatch)
description:
  - Each job of the input gets C(<directory>/<job>.json) (its target groups, checked) and a scrape config with that
    file in its C(file_sd_configs), so a change of targets needs no reload.
  - Errors name the variable, the host and the job; a job name the inventory already uses is an error.
options:
  _input:
    description: Job name to a list of target groups, each C({targets, labels}) as in a file_sd file.
    type: dict
    required: true
  directory:
    description: Directory of the file_sd files.
    type: str
    required: true
  group:
    description: Group of the files.
    type: str
    required: true
  host:
    description: The Prometheus host (named in errors).
    type: str
  taken:
    description: Job names already used (the inventory's jobs).
    type: list
    elements: str
"""

EXAMPLES = r"""
- name: Jobs of static targets
  ansible.builtin.debug:
    msg: >-
      {{ {'blackbox': [{'targets': ['probe1:9115'], 'labels': {'site': 'a'}}]}
         | fleetwatch.observability.prometheus_static_targets('/etc/prometheus/file_sd', 'prometheus', inventory_hostname) }}
"""

RETURN = r"""
_value:
  description: C(files) (for service_setup, each C({path, content, group, mode, origin})) and C(scrape_configs).
  type: dict
"""

from ansible.errors import AnsibleFilterError

from ansible_collections.fleetwatch.observability.plugins.plugin_utils import _promfiles as promfiles


def prometheus_static_targets(jobs, directory, group, host=None, taken=None):
    try:
        return promfiles.static_targets(jobs, directory, group, host, taken=list(taken or []))
    except promfiles.UserFileError as exc:
        raise AnsibleFilterError(str(exc))


def prometheus_controller_files(sources, directory, kind, group, host=None):
    try:
        return promfiles.controller_files(list(sources or []), directory, kind, group, host)
    except promfiles.UserFileError as exc:
        raise AnsibleFilterError(str(exc))


class FilterModule(object):
    def filters(self):
        return {"prometheus_static_targets": prometheus_static_targets,
                "prometheus_controller_files": prometheus_controller_files}
