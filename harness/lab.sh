#!/usr/bin/env bash
# The local lab: one podman system container per host of inventories/lab, on one network, then
# playbooks/site.yml against them, then the URLs of what runs where.
#   lab.sh up | down | urls
set -euo pipefail
here=$(cd "$(dirname "$0")/.." && pwd)
export CONTAINERS_CONF="$here/harness/containers.conf"
export PATH="$here/.venv/bin:$PATH"
export ANSIBLE_CONFIG="$here/ansible.cfg"
IMAGE=${FLEETWATCH_TEST_IMAGE:-localhost/fleetwatch-debian:trixie}
NETWORK=${FLEETWATCH_LAB_NETWORK:-fleetwatch-lab}
INVENTORY="$here/inventories/lab"
log() { printf '\033[1m[lab]\033[0m %s\n' "$*" >&2; }

hosts() { ansible-inventory -i "$INVENTORY/hosts.yml" --list | python3 -c 'import json,sys; print("\n".join(sorted(json.load(sys.stdin)["_meta"]["hostvars"])))'; }

up() {
  podman network exists "$NETWORK" || podman network create "$NETWORK" >/dev/null
  local started=()
  for h in $(hosts); do
    if [ "$(podman inspect -f '{{.State.Running}}' "$h" 2>/dev/null)" != "true" ]; then
      podman rm -f "$h" >/dev/null 2>&1 || true
      log "starting $h"
      podman run -d --name "$h" --hostname "$h" --network "$NETWORK" --privileged --systemd=always \
        --label fleetwatch.lab=1 "$IMAGE" /sbin/init >/dev/null
      started+=("$h")
    fi
  done
  for h in "${started[@]}"; do
    podman exec "$h" systemctl is-system-running --wait >/dev/null 2>&1 || true
  done
  log "running harness/lab_databases.yml (the lab's PostgreSQL and Redis), then playbooks/site.yml"
  (cd "$here" && ansible-playbook -i "$INVENTORY/hosts.yml" harness/lab_databases.yml "$@" \
     && ansible-playbook -i "$INVENTORY/hosts.yml" playbooks/site.yml "$@")
  urls
}

down() {
  for h in $(podman ps -a --filter label=fleetwatch.lab=1 --format '{{.Names}}'); do
    log "removing $h"; podman rm -f "$h" >/dev/null
  done
  if podman network exists "$NETWORK"; then podman network rm "$NETWORK" >/dev/null || true; fi
}

urls() {
  ansible-inventory -i "$INVENTORY/hosts.yml" --list >"$here/.cache/lab-inventory.json"
  python3 "$here/harness/lab_urls.py" "$here/.cache/lab-inventory.json" "$NETWORK"
}

cmd=${1:-up}; shift || true
"$cmd" "$@"
