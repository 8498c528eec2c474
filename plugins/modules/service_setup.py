#!/usr/bin/python
# -*- coding: utf-8 -*-
# Copyright: fleetwatch engineers
# SPDX-License-Identifier: Apache-2.0

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
  - The files are one change, all or nothing. Every C(validate) command runs on the complete new set
    before any live file is replaced; a failing check fails the task with the tool's message and
    changes no file. Two entries for the same path are refused.
  - With O(services), the services are then restarted, reloaded or left alone as their files require,
    checked, and rolled back to the previous files when they refuse the new ones.
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
        version_added: 0.2.0
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
        description:
          - Command run before the new set is put in place; C(%s) is the file. It sees the whole new set
            (every file of this task) at the real paths, in a private mount namespace, so a configuration is
            checked with the new rules, templates and secrets it reads.
        type: str
      origin:
        description: Where the file comes from (a variable, the role's bundle), named in error messages.
        type: str
        version_added: 0.2.0
  secret_files:
    description:
      - Files with secrets (passwords, keys), with the same suboptions as O(files) but mode C(0640) by default.
        Their content is never logged nor shown in a diff; give them modes like C(0600) or C(0640).
      - They are written before O(files), so that a configuration validated on its way in can read them.
    type: list
    elements: dict
    default: []
    suboptions:
      path:
        description: Absolute path.
        type: path
        required: true
      content:
        description: Full content (never logged, never in a diff).
        type: str
        required: true
      owner:
        description: Owner.
        type: str
        default: root
      group:
        description: Group (the service's, so that it can read the file).
        type: str
        default: root
      mode:
        description: Octal mode as a string.
        type: raw
        default: "0640"
      validate:
        description: As O(files[].validate); the command sees the new secret at its real path.
        type: str
      origin:
        description: Where the file comes from, named in error messages.
        type: str
        version_added: 0.2.0
  services:
    description:
      - The services these files belong to. After the files are in place each service is brought in
        line with them, decided from the host's live state (see the README, "How changes are applied"),
        so that a run interrupted after writing files converges on the next run.
      - A service whose new settings are refused (not ready in time, crash loop, failed reload) gets the
        previous set of files back and is brought back to it; the task then fails with the program's reason.
    type: list
    version_added: 0.2.0
    elements: dict
    default: []
    suboptions:
      name:
        description: systemd unit name (C(.service) may be left out).
        type: str
        required: true
      unit:
        description: Path of its unit file (a change restarts it, after a daemon-reload).
        type: path
      binary:
        description: The installed binary the unit runs; a process running another executable is restarted.
        type: path
      restart_files:
        description: Files whose change needs a restart (environment files, flag files). A path ending in C(/) stands for every file below it.
        type: list
        elements: path
        default: []
      reload_files:
        description: Files whose change needs a reload (configuration, rules, templates, secrets); C(/) as above.
        type: list
        elements: path
        default: []
      reload:
        description: How a change of O(services[].reload_files) is applied.
        type: str
        choices: [signal, restart, none]
        default: signal
      reload_metric:
        description:
          - Prefix of the program's reload metrics (for example C(prometheus_config_last_reload)); after a reload
            C(<prefix>_successful) must be 1 and C(<prefix>_success_timestamp_seconds) not older than the reload.
        type: str
      ready_timeout:
        description: Seconds a (re)started service has to answer on its readiness path.
        type: int
        default: 60
      enabled:
        description: Start at boot.
        type: bool
        default: true
      control:
        description: How the task reaches the service itself (readiness, reload metrics).
        type: dict
        suboptions:
          url:
            description: Base URL, with the route prefix (for example C(https://127.0.0.1:9090/prom)).
            type: str
          ready_path:
            description: Readiness path below O(services[].control.url).
            type: str
            default: /
          metrics_path:
            description: Metrics path below O(services[].control.url).
            type: str
            default: /metrics
          username:
            description: Basic auth user.
            type: str
          password:
            description: Basic auth password.
            type: str
          cert_file:
            description: Client certificate (services that require one).
            type: path
          key_file:
            description: Key of O(services[].control.cert_file).
            type: path
          ca_file:
            description: CA to check the service's certificate with; without it the certificate is not checked (same host).
            type: path
          timeout:
            description: Seconds per request.
            type: int
            default: 5
  component:
    description: Name of this set of files (its record and last applied copy in O(state_dir)); default the first service's name.
    type: str
    version_added: 0.2.0
  state_dir:
    description: Root-only directory of the records of applied settings and of the last applied set of files.
    type: path
    version_added: 0.2.0
    default: /var/lib/fleetwatch/state
extends_documentation_fragment:
  - fleetwatch.observability.attributes
attributes:
  check_mode:
    support: full
    details: Validation commands run in check mode too; services are not touched, RV(services) says what would be done.
  diff_mode:
    support: full
    details: Not for O(secret_files).
  platform:
    platforms: posix
    details: Linux with systemd; validation in a private mount namespace needs C(unshare) (util-linux).
seealso:
  - module: fleetwatch.observability.artifact_install
    description: Installs the binary the service runs (the first of the two calls of every role).
  - module: ansible.builtin.systemd_service
    description: Plain service management, without the change set, the live-state decisions and the rollback.
  - name: systemd.exec(5), sandboxing
    description: The hardening options of the units the roles write.
    link: https://www.freedesktop.org/software/systemd/man/latest/systemd.exec.html
author:
  - fleetwatch engineers (@fleetwatch)
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
  sample: false
changed_directories:
  description: Directories created or fixed.
  returned: always
  type: list
  elements: str
  sample: [/etc/prometheus/rules]
changed_files:
  description: Files whose content or attributes changed.
  returned: always
  type: list
  elements: str
  sample: [/etc/prometheus/prometheus.yml, /etc/prometheus/rules/node.yml]
created_files:
  description: Files that did not exist before (in check mode, would be created).
  returned: always
  type: list
  elements: str
  sample: [/etc/prometheus/rules/node.yml]
removed_files:
  description: Files removed from managed (purged) directories.
  returned: always
  type: list
  elements: str
  sample: [/etc/prometheus/rules/old.yml]
content_changed:
  description: Files whose content changed (a reason to reload or restart).
  returned: always
  type: list
  elements: str
  sample: [/etc/prometheus/prometheus.yml]
services:
  description: Per service, what was (or in check mode would be) done and why.
  returned: always
  type: dict
  sample: {prometheus: {action: reload, reason: its configuration changed since it was last loaded}}
validation:
  description:
    - When a promtool C(validate) command refused the new set, promtool's findings as the
      M(fleetwatch.observability.promtool) module returns them (the same wrapper reads the output)
      with each error's file, line, group and rule.
  returned: failure of a promtool validate command
  type: dict
  sample:
    command: promtool check rules
    ok: false
    errors:
      - {file: /etc/prometheus/rules/fleetwatch.yml, line: 12, column: 15, group: node, rule: HostDown,
         message: "could not parse expression"}
    summary: "promtool check rules: /etc/prometheus/rules/fleetwatch.yml failed"
"""

import os

from ansible_collections.fleetwatch.observability.plugins.module_utils.safelog import SafeLogModule as AnsibleModule
from ansible_collections.fleetwatch.observability.plugins.module_utils import servicesetup as ss
from ansible_collections.fleetwatch.observability.plugins.module_utils import serviceapply as sa


def file_options(secret):
    return dict(
        path=dict(type="path", required=True),
        content=dict(type="str", required=True, no_log=secret),
        owner=dict(type="str", default="root"),
        group=dict(type="str", default="root"),
        mode=dict(type="raw", default="0640" if secret else "0644"),
        validate=dict(type="str"),
        origin=dict(type="str"),
    )


SERVICE_OPTIONS = dict(
    name=dict(type="str", required=True),
    unit=dict(type="path"),
    binary=dict(type="path"),
    restart_files=dict(type="list", elements="path", default=[]),
    reload_files=dict(type="list", elements="path", default=[]),
    reload=dict(type="str", choices=["signal", "restart", "none"], default="signal"),
    reload_metric=dict(type="str"),
    ready_timeout=dict(type="int", default=60),
    enabled=dict(type="bool", default=True),
    control=dict(type="dict", options=dict(
        url=dict(type="str"),
        ready_path=dict(type="str", default="/"),
        metrics_path=dict(type="str", default="/metrics"),
        username=dict(type="str"),
        password=dict(type="str", no_log=True),
        cert_file=dict(type="path"),
        key_file=dict(type="path"),
        ca_file=dict(type="path"),
        timeout=dict(type="int", default=5),
    )),
)


def plan_services(services, overrides, changed, created, state_dir, component, systemd):
    """Decide every service's action from the host's state: [(svc, show, action, reason, record)].

    overrides: path -> content the files will have (check mode) or have; changed/created: paths
    whose content changed / that are new in this run.
    """
    stamp = sa.read_stamp(state_dir, component) or {}
    plans = []
    for svc in services:
        unit = svc["unit_name"]
        binary_real = sa.binary_realpath(svc["binary"])
        restart_entries = ([svc["unit"]] if svc["unit"] else []) + svc["restart_files"]
        record = {
            "restart": sa.digest(restart_entries, extra=binary_real, overrides=overrides),
            "reload": sa.digest(svc["reload_files"], overrides=overrides),
        }
        unit_changed = bool(svc["unit"] and svc["unit"] in changed)
        if unit_changed and svc["unit"] in created:
            show = {"ActiveState": "inactive", "LoadState": "not-found"}
        else:
            show = systemd.show(unit)
        exe = sa.running_executable(show.get("MainPID")) if sa.is_active(show) else None
        show["_exe"] = exe  # what it ran before this run: where a refused new binary goes back to
        action, reason = sa.decide(svc, show, (stamp.get("services") or {}).get(unit), record["restart"], record["reload"],
                                   exe, binary_real, unit_changed, sa.started_at(show),
                                   sa.newest_mtime(restart_entries + ([svc["binary"]] if svc["binary"] else [])))
        plans.append((svc, show, action, reason, record))
    return plans


def apply_services(plans, systemd, applier, attempted=None):
    """Daemon-reload and enable as needed, then each service's action; raises ApplyError.

    attempted (a dict) records unit -> action for every action started, the failing one included.
    """
    if any(show.get("NeedDaemonReload") == "yes" or show.get("LoadState") != "loaded"
           for svc, show, action, reason, record in plans):
        systemd.call("daemon-reload")
    for svc, show, action, reason, record in plans:
        if svc["enabled"] and show.get("UnitFileState") not in ("enabled", "enabled-runtime", "static", "alias"):
            systemd.call("enable", svc["unit_name"])
        if action:
            if attempted is not None:
                attempted[svc["unit_name"]] = action
            applier.run(svc, action)


def rollback_actions(back, attempted):
    """The actions that bring every service the failed attempt touched back to the restored files.

    The record still describes the restored files, so a service that was restarted or reloaded
    into the new ones (or refused them) looks unchanged to decide(): it gets the same kind of
    action again. A refused reload also leaves the reload metric at 0 until the next reload.
    """
    out = []
    for svc, show, action, reason, record in back:
        tried = attempted.get(svc["unit_name"])
        if not action and tried:
            action = "reload" if tried == "reload" else "restart"
            reason = "back to the previous files"
        out.append((svc, show, action, reason, record))
    return out


def roll_back(services, plans, changeset, attempted, state_dir, component, systemd, applier):
    """Back to the last applied files (and a refused new binary to the one that ran before), then
    every service the failed attempt touched back to them. Returns what happened, as a sentence."""
    restored = changeset.rollback(state_dir, component)
    # Units that did not exist before this run (a first install) have nothing to go back to: the
    # attempt is undone (new files removed, a started service stopped), not "brought back".
    first = [svc["unit_name"] for svc, show, action, reason, record in plans if show.get("LoadState") != "loaded"]
    for svc, show, action, reason, record in plans:
        if attempted.get(svc["unit_name"]) in ("start", "restart") and svc["unit_name"] not in first:
            previous = sa.relink_previous(svc["binary"], show.get("_exe"))
            if previous:
                restored.append("%s -> %s" % (svc["binary"], previous))
    undone = ""
    if first:
        removed = [path for path in restored if not os.path.lexists(path)]
        stopped = []
        for unit in first:
            if attempted.get(unit):
                try:
                    systemd.call("stop", unit)
                    stopped.append(unit)
                except sa.ApplyError:
                    pass  # its unit file went with the new files: nothing is left to stop
        try:
            systemd.call("daemon-reload")
        except sa.ApplyError:
            pass
        undone = "%s did not exist before this run: %s%s" % (
            ", ".join(first), ("its new files were removed (%s)" % ", ".join(removed)) if removed else "no new file was left",
            ", and it was stopped" if stopped else "")
    services = [svc for svc in services if svc["unit_name"] not in first]
    if not restored or not services:
        return undone or "there were no earlier files to go back to"
    undone = undone + "; " if undone else ""
    try:
        # The record still describes the restored files: the same decisions bring them back.
        back = plan_services(services, {}, set(restored), set(), state_dir, component, systemd)
        apply_services(rollback_actions(back, attempted), systemd, applier)
    except (sa.ApplyError, ss.SetupError) as exc:
        return "%sthe previous files were put back (%s), but it did not come back: %s" % (undone, ", ".join(restored), exc)
    return "%sthe previous files were put back (%s) and it runs with them" % (undone, ", ".join(restored))


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
            # Not a secret itself: its suboption content is (no_log there).
            secret_files=dict(type="list", elements="dict", default=[], no_log=False, options=file_options(True)),
            services=dict(type="list", elements="dict", default=[], options=SERVICE_OPTIONS),
            component=dict(type="str"),
            state_dir=dict(type="path", default="/var/lib/fleetwatch/state"),
        ),
        supports_check_mode=True,
    )
    p = module.params
    result = dict(changed=False, user_created=False, changed_directories=[], changed_files=[], content_changed=[],
                  created_files=[], removed_files=[], services={})
    raw_services = (module.params.get("services") or [])
    services = []
    for svc in raw_services:
        svc = dict(svc)
        svc["unit_name"] = svc["name"] if svc["name"].endswith(".service") else svc["name"] + ".service"
        svc["name"] = svc["unit_name"]
        services.append(svc)
    component = p["component"] or (services[0]["unit_name"][:-len(".service")] if services else None)
    systemd = sa.Systemd(module.run_command)
    diffs = []
    try:
        directories = [ss.normalise_dir(d) for d in p["directories"]]
        files = [ss.normalise_file(dict(f, secret=True)) for f in p["secret_files"]]
        files += [ss.normalise_file(f) for f in p["files"]]
        for f, raw in zip(files, list(p["secret_files"]) + list(p["files"])):
            f["origin"] = raw.get("origin")
        changeset = ss.ChangeSet(directories, files, module.run_command, module.check_mode, module.warn)
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
                    result["services"] = dict((s["unit_name"][:-8], {"action": "start", "reason": "new"}) for s in services)
                    module.exit_json(**result)
                rc, out, err = module.run_command(ss.useradd_command(name, p["user_home"], comment=p["user_comment"]))
                if rc != 0:
                    module.fail_json(msg="useradd %s failed: %s" % (name, (err or out).strip()), **result)
        for d in directories:
            if ss.ensure_directory(d, module.check_mode):
                result["changed_directories"].append(d["path"])
        changeset.plan()
        changeset.validate()
        result["changed_files"] = changeset.changed
        result["content_changed"] = changeset.content_changed
        result["created_files"] = changeset.created
        result["removed_files"] = sorted(changeset.purged)
        for e in changeset.entries:
            if e["content_changed"] and module._diff and not e["file"]["secret"]:
                diffs.append(dict(before_header=e["file"]["path"], after_header=e["file"]["path"],
                                  before=(e["old"] or b"").decode("utf-8", "replace"), after=e["file"]["content"]))
        if not module.check_mode:
            changeset.commit()
        if services:
            plans = plan_services(services, changeset.overrides(), set(changeset.content_changed), set(changeset.created),
                                  p["state_dir"], component, systemd)
            result["services"] = dict((svc["unit_name"][:-8], {"action": action, "reason": reason})
                                      for svc, show, action, reason, record in plans)
            if not module.check_mode:
                applier = sa.Applier(systemd)
                attempted_actions = {}
                try:
                    apply_services(plans, systemd, applier, attempted_actions)
                except sa.ApplyError as exc:
                    again = roll_back(services, plans, changeset, attempted_actions, p["state_dir"], component,
                                      systemd, applier)
                    module.fail_json(msg="%s on %s: the new settings were refused: %s\n%s." % (
                        component, os.uname()[1], exc, again[0].upper() + again[1:]), **result)
                stamp = sa.read_stamp(p["state_dir"], component) or {}
                services_stamp = stamp.get("services") or {}
                new_services = dict(services_stamp)
                new_services.update((svc["unit_name"], record) for svc, show, action, reason, record in plans)
                if new_services != services_stamp:
                    sa.write_stamp(p["state_dir"], component, {"services": new_services})
                if (changeset.content_changed or changeset.purged or new_services != services_stamp
                        or not os.path.isdir(ss.ChangeSet.good_dir(p["state_dir"], component))):
                    changeset.save_good(p["state_dir"], component)
    except ss.SetupError as exc:
        if exc.validation is not None:
            result["validation"] = exc.validation
        module.fail_json(msg=str(exc), **result)
    except (sa.ApplyError, OSError) as exc:
        module.fail_json(msg="%s: %s" % (component or "service_setup", exc), **result)
    result["changed"] = bool(result["user_created"] or result["changed_directories"] or result["changed_files"]
                             or result["removed_files"] or any(v["action"] for v in result["services"].values()))
    if diffs:
        result["diff"] = diffs
    module.exit_json(**result)


if __name__ == "__main__":
    main()
