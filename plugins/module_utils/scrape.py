# -*- coding: utf-8 -*-
# Copyright: fleetwatch engineers
# Apache License 2.0
"""Scrape jobs derived from the inventory.

Every host in an exporter's group is a target of that exporter's job; its port, scheme and basic
auth come from the host's own variables of that role (``<prefix>_listen_address``,
``<prefix>_tls_cert_file``, ``<prefix>_basic_auth_users``). A Prometheus scrape config has one
scheme and one set of credentials, so targets that differ there are split into several scrape
configs of the same job (``job_name`` node_exporter, node_exporter_2, ... with the ``job``
label set back to the job's name); ``instance`` is the inventory hostname.
"""

from __future__ import absolute_import, division, print_function

__metaclass__ = type


class ScrapeError(Exception):
    pass


def port_of(listen_address, default):
    if listen_address in (None, ""):
        return int(default)
    text = str(listen_address)
    try:
        return int(text.rsplit(":", 1)[-1])
    except ValueError:
        raise ScrapeError("cannot read a port from listen address %r" % (listen_address,))


def members(groups, name):
    return list(groups.get(name) or [])


def jobs(spec, groups, hostvars, scrape_user="prometheus", include=None):
    """Return the scrape slices of every job.

    spec: {job: {group, port, prefix (default job), metrics_path (default /metrics)}}
    include: {job: [hosts]} added to a job's group (for example the Prometheus host itself).
    Each slice: {name, job, scheme, metrics_path, username, password, targets: [{address, instance}]}
    """
    slices = []
    include = include or {}
    for job in sorted(spec):
        entry = spec[job] or {}
        group = entry.get("group", job)
        prefix = entry.get("prefix", job)
        if "port" not in entry:
            raise ScrapeError("job %s needs a default port" % job)
        hosts = members(groups, group)
        for extra in include.get(job, []):
            if extra not in hosts:
                hosts.append(extra)
        by_settings = {}
        order = []
        for host in sorted(hosts):
            hv = hostvars.get(host, {})
            scheme = "https" if hv.get(prefix + "_tls_cert_file") else "http"
            users = hv.get(prefix + "_basic_auth_users") or {}
            username = password = None
            if users:
                if scrape_user not in users:
                    raise ScrapeError(
                        "%s protects %s with basic auth but has no user %r for Prometheus: add it to %s_basic_auth_users "
                        "(or set prometheus_scrape_basic_auth_user)" % (host, job, scrape_user, prefix))
                username, password = scrape_user, str(users[scrape_user])
                if password.startswith("$2") and len(password) == 60:
                    raise ScrapeError(
                        "%s_basic_auth_users[%r] on %s is a bcrypt hash: Prometheus needs the password itself to scrape"
                        % (prefix, scrape_user, host))
            key = (scheme, username, password)
            if key not in by_settings:
                by_settings[key] = []
                order.append(key)
            address = hv.get("ansible_host") or host
            by_settings[key].append({"address": "%s:%d" % (address, port_of(hv.get(prefix + "_listen_address"), entry["port"])),
                                     "instance": host})
        for index, key in enumerate(order):
            scheme, username, password = key
            slices.append({
                "name": job if index == 0 else "%s_%d" % (job, index + 1),
                "job": job,
                "scheme": scheme,
                "metrics_path": entry.get("metrics_path", "/metrics"),
                "username": username,
                "password": password,
                "targets": by_settings[key],
            })
    return slices
