#!/usr/bin/env python3
"""Print what runs where in the lab: one URL per service, from the inventory's groups."""
import json
import subprocess
import sys

# group -> (port variable, default port, path)
SERVICES = [
    ("prometheus", "prometheus_web_listen_address", 9090, "/"),
    ("alertmanager", "alertmanager_web_listen_address", 9093, "/"),
    ("grafana", "grafana_http_port", 3000, "/"),
    ("loki", "loki_http_listen_port", 3100, "/ready"),
    ("tempo", "tempo_http_listen_port", 3200, "/ready"),
    ("alloy", "alloy_listen_address", 12345, "/"),
    ("node_exporter", "node_exporter_listen_address", 9100, "/metrics"),
    ("postgres_exporter", "postgres_exporter_listen_address", 9187, "/metrics"),
    ("redis_exporter", "redis_exporter_listen_address", 9121, "/metrics"),
]


def ip_of(host, network):
    out = subprocess.run(["podman", "inspect", "-f", "{{json .NetworkSettings.Networks}}", host],
                         stdout=subprocess.PIPE, universal_newlines=True)
    if out.returncode != 0:
        return None
    nets = json.loads(out.stdout or "{}")
    return (nets.get(network) or {}).get("IPAddress")


def port_of(value, default):
    if value is None:
        return default
    text = str(value)
    return int(text.rsplit(":", 1)[-1]) if ":" in text else int(text)


def main(inventory_file, network):
    inv = json.load(open(inventory_file))
    hostvars = inv["_meta"]["hostvars"]

    def members(group):
        entry = inv.get(group, {})
        found = list(entry.get("hosts", []))
        for child in entry.get("children", []):
            found += members(child)
        return sorted(set(found))

    print("\nfleetwatch lab: what runs where (from this machine)")
    for group, var, default, path in SERVICES:
        for host in members(group):
            hv = hostvars.get(host, {})
            ip = ip_of(host, network) or host
            tls = hv.get(group + "_tls_cert_file")
            scheme = "https" if tls else "http"
            port = port_of(hv.get(var), default)
            print("  %-18s %-14s %s://%s:%d%s" % (group, host, scheme, ip, port, path))
    print()


if __name__ == "__main__":
    main(sys.argv[1], sys.argv[2])
