# shellcheck shell=bash
# Helpers shared by the benchmark scripts (sourced by benchmarks/run.sh and benchmarks/anchor_bench.sh).
# Sets up the project's environment and defines: now, secs, changed_of, load_avg, host_start,
# host_inventory, exposure_of. Expects "here" (the checkout) to be set by the caller.
: "${here:?set here to the checkout before sourcing benchmarks/lib.sh}"
export CONTAINERS_CONF="$here/harness/containers.conf" PATH="$here/.venv/bin:$PATH"
export ANSIBLE_CONFIG="$here/ansible.cfg" ANSIBLE_COLLECTIONS_PATH="$here/.cache/collections"
IMAGE=${FLEETWATCH_TEST_IMAGE:-localhost/fleetwatch-debian:trixie}
results=${BENCH_RESULTS:-$here/benchmarks/results.md}

now() { date +%s.%N; }
secs() { python3 -c "print('%.1f' % ($2 - $1))"; }
# the sum of changed=N over a play recap
changed_of() { grep -Eo 'changed=[0-9]+' "$1" | awk -F= '{s+=$2} END {print s+0}'; }
# the 1-minute load average of the machine
load_avg() { cut -d' ' -f1 /proc/loadavg; }

# host_start NAME NETWORK: a fresh podman system container from $IMAGE, systemd up
host_start() {
  podman rm -f "$1" >/dev/null 2>&1 || true
  podman network exists "$2" || podman network create "$2" >/dev/null
  podman run -d --name "$1" --hostname "$1" --network "$2" --privileged --systemd=always "$IMAGE" /sbin/init >/dev/null
  podman exec "$1" systemctl is-system-running --wait >/dev/null 2>&1 || true
}

# host_inventory NAME FILE [CACHE_DIR]: an inventory of that one host, with the test mirror
host_inventory() {
  cat >"$2" <<INV
all:
  hosts:
    $1:
      ansible_connection: containers.podman.podman
  vars:
    fleetwatch_artifact_mirror: $here/.cache/mirror
    fleetwatch_artifact_cache_dir: ${3:-$here/.cache/artifacts}
INV
}

# exposure_of HOST UNIT: systemd-analyze's overall exposure level of a unit (e.g. 1.4)
exposure_of() {
  podman exec "$1" systemd-analyze security --no-pager "$2" 2>/dev/null |
    sed -n 's/^→ Overall exposure level for [^:]*: \([0-9.]*\).*/\1/p'
}

[ -f "$results" ] || printf '# Benchmarks\n\nMachine: 2 cores; test hosts are podman system containers reached with the podman connection (no pipelining).\n\n| date | what | hosts | converge (s) | no-op rerun (s) | changed on rerun |\n| --- | --- | --- | --- | --- | --- |\n' >"$results"
