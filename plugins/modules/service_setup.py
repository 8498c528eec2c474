#!/usr/bin/python
# -*- coding: utf-8 -*-
# Copyright: fleetwatch engineers
# Apache License 2.0

from __future__ import absolute_import, division, print_function

__metaclass__ = type

DOCUMENTATION = r"""
---
module: service_setup
short_description: A service's system user, directories and files in one round trip
version_added: 0.1.0
description:
  - Creates the system user (with its own group, no home, no login shell) if it is missing,
    creates or fixes directories, and writes files (systemd unit, configuration, web config,
    secrets) atomically when their content, owner, group or mode differ.
  - A file with a C(validate) command is checked on its new content before it replaces the old
    one; a failing check fails the task with the tool's message and leaves the old file, so the
    running service keeps its configuration.
  - Used by every role of the collection so that a rerun that changes nothing costs one module
    call, whatever the number of files.
options:
  user:
    description: System user (and group of the same name) to create when missing.
    type: str
  user_home:
    description: Home directory recorded for a new user (not created).
    type: path
    default: /nonexistent
  user_comment:
    description: GECOS comment of a new user.
    type: str
  directories:
    description: Directories, in order.
    type: list
    elements: dict
    default: []
    suboptions:
      path:
        description: Absolute path.
        type: path
        required: true
      owner:
        description: Owner.
        type: str
        default: root
      group:
        description: Group.
        type: str
        default: root
      mode:
        description: Octal mode as a string.
        type: raw
        default: "0755"
      purge:
        description:
          - A file name pattern (for example C(*.yml)). Files of this directory that match it and are not in
            O(files) or O(secret_files) are removed, so files the collection once deployed and the user no
            longer wants disappear (a managed directory).
        type: str
  files:
    description: Files, written after the directories.
    type: list
    elements: dict
    default: []
    suboptions:
      path:
        description: Absolute path.
        type: path
        required: true
      content:
        description: Full content.
        type: str
        required: true
      owner:
        description: Owner.
        type: str
        default: root
      group:
        description: Group.
        type: str
        default: root
      mode:
        description: Octal mode as a string.
        type: raw
        default: "0644"
      validate:
        description: Command run on the new content before it is put in place; C(%s) is the file.
        type: str
  secret_files:
    description:
      - Files with secrets (passwords, keys), with the same suboptions as O(files). Their
        content is never logged nor shown in a diff; give them modes like C(0600) or C(0640).
      - They are written before O(files), so that a configuration validated on its way in can read them.
    type: list
    elements: dict
    default: []
attributes:
  check_mode:
    support: full
    details: Validation commands run in check mode too.
  diff_mode:
    support: full
    details: Not for O(secret_files).
author:
  - fleetwatch engineers
"""

EXAMPLES = r"""
- name: User, directories, unit and config of a service
  fleetwatch.observability.service_setup:
    user: prometheus
    directories:
      - {path: /etc/prometheus, group: prometheus, mode: "0750"}
      - {path: /var/lib/prometheus, owner: prometheus, group: prometheus, mode: "0750"}
    files:
      - path: /etc/prometheus/prometheus.yml
        content: "{{ lookup('ansible.builtin.template', 'prometheus.yml.j2') }}"
        group: prometheus
        mode: "0640"
        validate: /usr/local/bin/promtool check config --syntax-only %s
      - path: /etc/systemd/system/prometheus.service
        content: "{{ lookup('ansible.builtin.template', 'prometheus.service.j2') }}"
  register: setup
"""

RETURN = r"""
user_created:
  description: Whether the user was (or would be) created.
  returned: always
  type: bool
changed_directories:
  description: Directories created or fixed.
  returned: always
  type: list
  elements: str
changed_files:
  description: Files whose content or attributes changed.
  returned: always
  type: list
  elements: str
created_files:
  description: Files that did not exist before (in check mode, would be created).
  returned: always
  type: list
  elements: str
removed_files:
  description: Files removed from managed (purged) directories.
  returned: always
  type: list
  elements: str
content_changed:
  description: Files whose content changed (a reason to reload or restart).
  returned: always
  type: list
  elements: str
"""

import os

from ansible_collections.fleetwatch.observability.plugins.module_utils.safelog import SafeLogModule as AnsibleModule
from ansible_collections.fleetwatch.observability.plugins.module_utils import servicesetup as ss


def file_options(secret):
    return dict(
        path=dict(type="path", required=True),
        content=dict(type="str", required=True, no_log=secret),
        owner=dict(type="str", default="root"),
        group=dict(type="str", default="root"),
        mode=dict(type="raw", default="0640" if secret else "0644"),
        validate=dict(type="str"),
    )


def main():
    module = AnsibleModule(
        argument_spec=dict(
            user=dict(type="str"),
            user_home=dict(type="path", default="/nonexistent"),
            user_comment=dict(type="str"),
            directories=dict(type="list", elements="dict", default=[], options=dict(
                path=dict(type="path", required=True),
                owner=dict(type="str", default="root"),
                group=dict(type="str", default="root"),
                mode=dict(type="raw", default="0755"),
                purge=dict(type="str"),
            )),
            files=dict(type="list", elements="dict", default=[], options=file_options(False)),
            secret_files=dict(type="list", elements="dict", default=[], options=file_options(True)),
        ),
        supports_check_mode=True,
    )
    p = module.params
    result = dict(changed=False, user_created=False, changed_directories=[], changed_files=[], content_changed=[],
                  created_files=[], removed_files=[])
    diffs = []
    try:
        directories = [ss.normalise_dir(d) for d in p["directories"]]
        files = [ss.normalise_file(dict(f, secret=True)) for f in p["secret_files"]]
        files += [ss.normalise_file(f) for f in p["files"]]
        if p["user"]:
            name = ss.check_user_name(p["user"])
            if not ss.user_exists(name):
                result["user_created"] = True
                if module.check_mode:
                    # Nothing more can be checked for files owned by a user that does not exist yet.
                    result["changed"] = True
                    result["changed_directories"] = [d["path"] for d in directories]
                    result["changed_files"] = result["content_changed"] = [f["path"] for f in files]
                    result["created_files"] = [f["path"] for f in files if not os.path.exists(f["path"])]
                    module.exit_json(**result)
                rc, out, err = module.run_command(ss.useradd_command(name, p["user_home"], comment=p["user_comment"]))
                if rc != 0:
                    module.fail_json(msg="useradd %s failed: %s" % (name, (err or out).strip()), **result)
        for d in directories:
            if ss.ensure_directory(d, module.check_mode):
                result["changed_directories"].append(d["path"])

        def run_validate(cmd):
            return module.run_command(cmd)

        for f in files:
            changed, content_changed, before = ss.ensure_file(f, run_validate, module.check_mode)
            if changed:
                result["changed_files"].append(f["path"])
            if content_changed:
                result["content_changed"].append(f["path"])
                if before is None:  # there was no file
                    result["created_files"].append(f["path"])
                if module._diff and not f["secret"]:
                    diffs.append(dict(before_header=f["path"], after_header=f["path"],
                                      before=before or "", after=f["content"]))
        for d in directories:
            result["removed_files"] += ss.purge_directory(d, [f["path"] for f in files], module.check_mode)
    except ss.SetupError as exc:
        module.fail_json(msg=str(exc), **result)
    result["changed"] = bool(result["user_created"] or result["changed_directories"] or result["changed_files"]
                             or result["removed_files"])
    if diffs:
        result["diff"] = diffs
    module.exit_json(**result)


if __name__ == "__main__":
    main()
