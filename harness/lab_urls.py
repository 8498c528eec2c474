# SPDX-License-Identifier: Apache-2.0
"""Print what runs where in the lab: one URL per service, from the inventory's groups.

The services, their default ports and paths come from the component registry
(plugins/module_utils/registry.py): every component with a role, on the hosts of its group. Each
host's own ``<prefix>_listen_address`` (port, and a specific IP when it listens on one),
``<prefix>_external_url`` / ``web.route-prefix`` (route prefix) and ``<prefix>_tls_cert_file``
(https) are honoured. The URL printed is the component's ``lab_path``; the one probed its
``health_path`` (Prometheus and Alertmanager: /-/ready; Debian's Prometheus build has no UI).
"""
import json
import os
import ssl
import subprocess
import sys
import time
import urllib.error
import urllib.request

sys.path.insert(0, os.path.join(os.path.dirname(os.path.dirname(os.path.abspath(__file__))), "plugins", "module_utils"))
import hostport  # noqa: E402  pylint: disable=wrong-import-position
import registry  # noqa: E402  pylint: disable=wrong-import-position


def services():
    """[(component entry)] of every component with a role, in deployment order."""
    return registry.select(has_role=True)


def ip_of(host, network):
    out = subprocess.run(["podman", "inspect", "-f", "{{json .NetworkSettings.Networks}}", host],
                         stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, universal_newlines=True, check=False)
    if out.returncode != 0:
        return None
    nets = json.loads(out.stdout or "{}")
    return (nets.get(network) or {}).get("IPAddress")


def probe(url):
    """Ask the URL once (3 s): 'up', 'up (auth required)' or why not."""
    context = ssl.create_default_context()
    context.check_hostname = False
    context.verify_mode = ssl.CERT_NONE  # lab certificates are self-signed
    try:
        with urllib.request.urlopen(url, timeout=3, context=context) as response:
            return "up" if response.status == 200 else "HTTP %d" % response.status
    except urllib.error.HTTPError as exc:
        return "up (auth required)" if exc.code == 401 else "HTTP %d" % exc.code
    except Exception as exc:  # refused, timeout, DNS
        return "DOWN (%s)" % getattr(exc, "reason", exc)


def urls(entry, host, hv, container_ip):
    """(URL to print, URL to probe, loopback only) of one service on one host."""
    prefix = entry["prefix"]
    variable = prefix + "_listen_address"
    listen = hv.get(variable)
    if listen in (None, ""):
        listen_host, port = "", entry["port"]
    else:
        listen_host, port = hostport.parse_listen(listen, variable, host)
    loopback = hostport.is_loopback(listen_host)
    address = hostport.join(hostport.connect_host(listen_host, container_ip or hv.get("ansible_host") or host), port)
    scheme = "https" if hv.get(prefix + "_tls_cert_file") else "http"
    base = "%s://%s%s" % (scheme, address, hostport.service_route_prefix(hv, prefix, host))
    return base + entry["lab_path"], base + entry["health_path"], loopback


def members(inv, group):
    entry = inv.get(group, {})
    found = list(entry.get("hosts", []))
    for child in entry.get("children", []):
        found += members(inv, child)
    return sorted(set(found))


def main(inventory_file, network):
    with open(inventory_file) as handle:
        inv = json.load(handle)
    hostvars = inv["_meta"]["hostvars"]
    down = 0
    print("\nfleetwatch lab: what runs where (from this machine)")
    for entry in services():
        for host in members(inv, entry["group"]):
            hv = hostvars.get(host, {})
            try:
                url, probe_url, loopback = urls(entry, host, hv, ip_of(host, network))
            except hostport.HostPortError as exc:
                print("  %-18s %-14s %s" % (entry["name"], host, exc))
                down += 1
                continue
            if loopback:
                print("  %-18s %-14s %-40s %s" % (entry["name"], host, url, "(listens on loopback: reachable from the host only)"))
                continue
            state = probe(probe_url)
            for _attempt in range(10):  # a service restarted by the play may need a few seconds
                if not state.startswith("DOWN"):
                    break
                time.sleep(1)
                state = probe(probe_url)
            down += state.startswith("DOWN")
            print("  %-18s %-14s %-40s %s" % (entry["name"], host, url, state))
    print()
    return 1 if down else 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1], sys.argv[2]))
