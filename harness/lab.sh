#!/usr/bin/env bash
# The local lab: one podman system container per host of inventories/lab, on one network, then
# playbooks/site.yml against them, then the URLs of what runs where.
#   lab.sh up | down | urls | roundtrip
set -euo pipefail
here=$(cd "$(dirname "$0")/.." && pwd)
export CONTAINERS_CONF="$here/harness/containers.conf"
export PATH="$here/.venv/bin:$PATH"
export ANSIBLE_CONFIG="$here/ansible.cfg"
IMAGE=${FLEETWATCH_TEST_IMAGE:-localhost/fleetwatch-debian:trixie}
NETWORK=${FLEETWATCH_LAB_NETWORK:-fleetwatch-lab}
INVENTORY="$here/inventories/lab"
log() { printf '\033[1m[lab]\033[0m %s\n' "$*" >&2; }

OPTIONAL="$here/.cache/lab-optional.yml"
INV=(-i "$INVENTORY/hosts.yml" -i "$OPTIONAL")

# Loki, Tempo, Fluent Bit and Grafana join the lab when their artifacts are in the test mirror
# (Loki, Tempo and Fluent Bit come from ../shared/mirror; Grafana cannot be had here): each is added
# to .cache/lab-optional.yml as a group, or named as left out with the reason.
optional_groups() {
  mkdir -p "$here/.cache"
  local have=() spec group glob
  for spec in "loki:mirror/loki/*/loki-linux-*.zip" "tempo:mirror/tempo/*/tempo_*_linux_*.tar.gz" \
              "fluent_bit:aptrepo/debian/*/dists/*/InRelease" "grafana:mirror/grafana/*/grafana-*.linux-*.tar.gz"; do
    group=${spec%%:*} glob=${spec#*:}
    if compgen -G "$here/.cache/$glob" >/dev/null; then have+=("$group")
    else log "left out of the lab: $group (no artifact: .cache/$glob; see the README)"; fi
  done
  {
    echo "# Written by harness/lab.sh: the lab's optional components whose artifacts are in the mirror."
    for group in "${have[@]}"; do
      case "$group" in
        fluent_bit) printf '%s:\n  children:\n    lab:\n' "$group" ;;
        *) printf '%s:\n  hosts:\n    fw-lab-mon1:\n' "$group" ;;
      esac
    done
    [ ${#have[@]} -gt 0 ] || echo "{}"
  } >"$OPTIONAL"
}

hosts() { ansible-inventory "${INV[@]}" --list | python3 -c 'import json,sys; print("\n".join(sorted(json.load(sys.stdin)["_meta"]["hostvars"])))'; }
in_group() { ansible-inventory "${INV[@]}" --list | python3 -c 'import json,sys; d=json.load(sys.stdin); sys.exit(0 if sys.argv[1] in d else 1)' "$1"; }

up() {
  bash "$here/harness/harness.sh" aptrepo || true
  optional_groups
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
  if in_group fluent_bit; then
    log "serving Fluent Bit's test apt repository from fw-lab-mon1 (harness/serve_aptrepo.yml)"
    (cd "$here" && ansible-playbook "${INV[@]}" harness/serve_aptrepo.yml -e aptrepo_host=fw-lab-mon1)
  fi
  log "running harness/lab_databases.yml (the lab's PostgreSQL and Redis), then playbooks/site.yml"
  (cd "$here" && ansible-playbook "${INV[@]}" harness/lab_databases.yml "$@" \
     && ansible-playbook "${INV[@]}" playbooks/site.yml "$@")
  urls
  if in_group loki && in_group tempo && in_group fluent_bit; then
    log "a log line and a trace through the lab: make roundtrip (harness/lab_roundtrip.yml)"
  fi
}

# A log line (journal -> Fluent Bit -> Loki) and a trace (OTLP/HTTP -> Tempo) through the real programs.
roundtrip() {
  [ -f "$OPTIONAL" ] || optional_groups
  local group
  for group in loki tempo fluent_bit; do
    in_group "$group" || { log "no $group in the lab (its artifact is missing): no round trip"; exit 3; }
  done
  (cd "$here" && ansible-playbook "${INV[@]}" harness/lab_roundtrip.yml "$@")
}

down() {
  for h in $(podman ps -a --filter label=fleetwatch.lab=1 --format '{{.Names}}'); do
    log "removing $h"; podman rm -f "$h" >/dev/null
  done
  if podman network exists "$NETWORK"; then podman network rm "$NETWORK" >/dev/null || true; fi
}

urls() {
  [ -f "$OPTIONAL" ] || optional_groups
  ansible-inventory "${INV[@]}" --list >"$here/.cache/lab-inventory.json"
  python3 "$here/harness/lab_urls.py" "$here/.cache/lab-inventory.json" "$NETWORK"
}

cmd=${1:-up}; shift || true
"$cmd" "$@"
