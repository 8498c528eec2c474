#!/usr/bin/env python3
"""Print what runs where in the lab: one URL per service, from the inventory's groups."""
import json
import ssl
import subprocess
import sys
import time
import urllib.error
import urllib.request

# group -> (port variable, default port, path); the path printed is also the one probed, except
# where PROBE names another (Prometheus' UI is missing from Debian's build in the lab's mirror).
PROBE = {"prometheus": "/-/ready", "alertmanager": "/-/ready"}
SERVICES = [
    ("prometheus", "prometheus_listen_address", 9090, "/"),
    ("alertmanager", "alertmanager_listen_address", 9093, "/"),
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

    down = 0
    print("\nfleetwatch lab: what runs where (from this machine)")
    for group, var, default, path in SERVICES:
        for host in members(group):
            hv = hostvars.get(host, {})
            ip = ip_of(host, network) or host
            tls = hv.get(group + "_tls_cert_file")
            scheme = "https" if tls else "http"
            port = port_of(hv.get(var), default)
            url = "%s://%s:%d%s" % (scheme, ip, port, path)
            probe_url = url[:-len(path)] + PROBE.get(group, path)
            state = probe(probe_url)
            for _ in range(10):  # a service restarted by the play may need a few seconds
                if not state.startswith("DOWN"):
                    break
                time.sleep(1)
                state = probe(probe_url)
            down += state.startswith("DOWN")
            print("  %-18s %-14s %-40s %s" % (group, host, url, state))
    print()
    return 1 if down else 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1], sys.argv[2]))
