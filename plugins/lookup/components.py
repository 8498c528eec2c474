# -*- coding: utf-8 -*-
# Copyright: fleetwatch engineers
# SPDX-License-Identifier: Apache-2.0

from __future__ import absolute_import, division, print_function

__metaclass__ = type

DOCUMENTATION = r"""
name: components
short_description: Views of the collection's component registry (plugins/module_utils/registry.py)
version_added: 0.2.0
author:
  - fleetwatch engineers (@fleetwatch)
description:
  - The registry is the one table of every component the collection knows (artifact, Debian package of the test
    mirror, default port, variable prefix, inventory group, tier, multi-instance, metrics and health paths, scrape,
    role). Playbooks and roles read it through this lookup instead of keeping their own lists.
  - The result is one value (a list or a dict); with C(query) or C(wantlist=true) it comes wrapped in a list.
options:
  _terms:
    description:
      - What to return, one of
        C(names) (component names),
        C(groups) (inventory groups),
        C(roles) (fully qualified role names),
        C(scrape_jobs) (dict job name to C({group, port, prefix, metrics_path, multi_instance}), the default jobs of
        the prometheus role),
        C(components) (the whole entries).
      - Lists are in deployment order (agents, then Loki, Tempo, Alertmanager, Prometheus, Grafana).
    type: list
    elements: str
    required: true
  tier:
    description: Only components of this tier (C(agent) runs on many hosts at once, C(server) one host at a time).
    type: str
    choices: [agent, server]
  has_role:
    description: Only components with (true) or without (false) a role. C(groups) and C(roles) default to true.
    type: bool
  scrape:
    description: Only components Prometheus scrapes (true) or not (false).
    type: bool
  multi_instance:
    description: Only multi-instance components (true) or single-instance ones (false).
    type: bool
  host_groups:
    description:
      - With C(roles), C(groups) and C(names) only the components whose group is in this list (a host's
        C(group_names)).
    type: list
    elements: str
  existing:
    description:
      - With C(groups) leave out the groups the inventory does not define (so that a play's C(hosts) pattern
        warns about none of them); reads C(groups) of the variables.
    type: bool
    default: false
"""

EXAMPLES = r"""
- name: Agents, every host at once
  hosts: "{{ lookup('fleetwatch.observability.components', 'groups', tier='agent', existing=true) }}"
  tasks:
    - name: Roles of this host's agent components
      ansible.builtin.include_role:
        name: "{{ fleetwatch_role }}"
      loop: "{{ lookup('fleetwatch.observability.components', 'roles', tier='agent', host_groups=group_names) }}"
      loop_control:
        loop_var: fleetwatch_role
"""

RETURN = r"""
_raw:
  description: One element, the list or dict asked for.
  type: list
"""

from ansible.errors import AnsibleLookupError
from ansible.plugins.lookup import LookupBase

from ansible_collections.fleetwatch.observability.plugins.module_utils import registry

VIEWS = ("names", "groups", "roles", "scrape_jobs", "components")


OPTIONS = {"tier": (str, None), "has_role": (bool, None), "scrape": (bool, None), "multi_instance": (bool, None),
           "host_groups": (list, None), "existing": (bool, False)}


def _options(kwargs):
    """The options, type-checked (plain kwargs: the lookup also runs outside a play, in the unit tests)."""
    unknown = sorted(set(kwargs) - set(OPTIONS))
    if unknown:
        raise AnsibleLookupError("components: unknown option(s) %s (known: %s)" % (", ".join(unknown), ", ".join(sorted(OPTIONS))))
    out = {}
    for name, (kind, default) in OPTIONS.items():
        value = kwargs.get(name, default)
        if value is not None and not isinstance(value, kind):
            raise AnsibleLookupError("components: option %s must be a %s, not %r" % (name, kind.__name__, value))
        out[name] = value
    return out


class LookupModule(LookupBase):
    def run(self, terms, variables=None, **kwargs):
        options = _options(kwargs)
        if len(terms) != 1 or terms[0] not in VIEWS:
            raise AnsibleLookupError("components: give one of %s, not %r" % (", ".join(VIEWS), list(terms)))
        view = terms[0]
        has_role = options["has_role"]
        if has_role is None and view in ("groups", "roles"):
            has_role = True
        host_groups = options["host_groups"]
        try:
            if view == "scrape_jobs":
                result = registry.scrape_jobs()
            else:
                entries = registry.select(tier=options["tier"], has_role=has_role, scrape=options["scrape"],
                                          multi_instance=options["multi_instance"])
                if host_groups is not None:
                    entries = [e for e in entries if e["group"] in set(host_groups)]
                if view == "groups" and options["existing"]:
                    defined = (variables or {}).get("groups") or {}
                    entries = [e for e in entries if e["group"] in defined]
                if view == "names":
                    result = [e["name"] for e in entries]
                elif view == "groups":
                    result = [e["group"] for e in entries]
                elif view == "roles":
                    result = ["%s.%s" % (registry.COLLECTION, e["name"]) for e in entries]
                else:
                    result = entries
        except registry.RegistryError as exc:
            raise AnsibleLookupError("components: %s" % exc)
        return [result]
