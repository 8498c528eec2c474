#!/usr/bin/env bash
# Our roles side by side with the reference collection prometheus.prometheus (0.30.2, from
# ../shared/anchors), in one run, each on a fresh test host: first converge time, no-op rerun time,
# changed count on the rerun, and `systemd-analyze security` exposure of the unit.
#   benchmarks/anchor_bench.sh          node_exporter, prometheus, alertmanager   (make bench-anchors)
#   BENCH_ROLES="node_exporter" benchmarks/anchor_bench.sh
# Both collections install the versions of harness/test_versions.yml from the test mirror
# (.cache/mirror): ours through fleetwatch_artifact_mirror, theirs through <role>_binary_url and
# <role>_checksums_url pointed at an HTTP server on 127.0.0.1 serving the mirror. Each side starts
# with an empty controller cache. Everything else is each role's defaults, but for the variables
# in benchmarks/anchor_bench/<role>.yml, given to both.
# Rows are appended to benchmarks/results.md with the machine's load average; the ratios of one run
# are what count (the machine is shared).
set -euo pipefail
here=$(cd "$(dirname "$0")/.." && pwd)
# shellcheck source=benchmarks/lib.sh
. "$here/benchmarks/lib.sh"
NET=fleetwatch-bench-anchors
anchor_tarball=${ANCHOR_TARBALL:-$here/../shared/anchors/prometheus-prometheus-0.30.2.tar.gz}
anchor_dir="$here/.cache/anchors"
tmp=$(mktemp -d)
server_pid=
cleanup() {
  [ -z "$server_pid" ] || kill "$server_pid" 2>/dev/null || true
  for h in "${hosts[@]}"; do podman rm -f "$h" >/dev/null 2>&1 || true; done
  podman network rm "$NET" >/dev/null 2>&1 || true
  rm -rf "$tmp"
}
hosts=()
trap cleanup EXIT

roles=${BENCH_ROLES:-node_exporter prometheus alertmanager}

[ -d "$anchor_dir/ansible_collections/prometheus/prometheus" ] ||
  ansible-galaxy collection install --offline -p "$anchor_dir" "$anchor_tarball" >/dev/null

# the test mirror over HTTP on loopback (their roles download on the controller with uri)
port=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')
python3 -m http.server --bind 127.0.0.1 --directory "$here/.cache/mirror" "$port" >"$tmp/http.log" 2>&1 &
server_pid=$!
for _ in $(seq 50); do curl -fs "http://127.0.0.1:$port/" >/dev/null && break; sleep 0.1; done
mirror="http://127.0.0.1:$port"

version_of() { sed -n "s/^$1_version: *//p" "$here/harness/test_versions.yml"; }

# play WHAT LOG COMMAND...: run a playbook with both collections on the path; its log's end on failure
play() {
  local what=$1 log=$2
  shift 2
  ANSIBLE_COLLECTIONS_PATH="$anchor_dir:$ANSIBLE_COLLECTIONS_PATH" "$@" >"$log" ||
    { tail -40 "$log" >&2; echo "benchmark: $what failed" >&2; exit 1; }
}

# measure SIDE ROLE: converge twice on a fresh host; sets first, rerun, changed, exposure
measure() {
  local side=$1 role=$2 host log="$tmp/$1-$2" version
  host="fw-anchor-$side-${role//_/-}"
  hosts+=("$host")
  host_start "$host" "$NET"
  host_inventory "$host" "$tmp/inventory-$side.yml" "$tmp/cache-$side-$role"
  version=$(version_of "$role")
  local cmd=(ansible-playbook -i "$tmp/inventory-$side.yml" -e bench_role="$role" -e "@$here/harness/test_versions.yml")
  # variables both sides need (the same file for both)
  [ ! -f "$here/benchmarks/anchor_bench/$role.yml" ] || cmd+=(-e "@$here/benchmarks/anchor_bench/$role.yml")
  if [ "$side" = ours ]; then
    cmd+=("$here/benchmarks/role.yml")
  else
    cmd+=("$here/benchmarks/anchor_role.yml"
      -e "${role}_binary_url=$mirror/$role/$version/$role-$version.linux-amd64.tar.gz"
      -e "${role}_checksums_url=$mirror/$role/$version/sha256sums.txt"
      -e "${role}_local_cache_path=$tmp/cache-$side-$role")
  fi
  local t0 t1 t2
  t0=$(now); play "$side $role, first run" "$log-first.log" "${cmd[@]}"
  t1=$(now); play "$side $role, no-op rerun" "$log-second.log" "${cmd[@]}"
  t2=$(now)
  first=$(secs "$t0" "$t1"); rerun=$(secs "$t1" "$t2"); changed=$(changed_of "$log-second.log")
  exposure=$(exposure_of "$host" "$role.service")
  podman rm -f "$host" >/dev/null
}

ratio() { python3 -c "print('%.2f' % ($1 / $2))"; }

for role in $roles; do
  measure ours "$role"; o_first=$first o_rerun=$rerun o_changed=$changed o_exp=$exposure
  measure theirs "$role"; t_first=$first t_rerun=$rerun t_changed=$changed t_exp=$exposure
  load=$(load_avg) both=
  [ ! -f "$here/benchmarks/anchor_bench/$role.yml" ] || both=" but benchmarks/anchor_bench/$role.yml on both"
  row="| $(date -u +%F) | role $role, ours vs prometheus.prometheus 0.30.2 (fresh host each, $(version_of "$role") from the test mirror, defaults otherwise$both; load average $load): ours first $o_first s, rerun $o_rerun s, changed $o_changed, exposure $o_exp; theirs first $t_first s, rerun $t_rerun s, changed $t_changed, exposure $t_exp; ratio ours/theirs: first converge $(ratio "$o_first" "$t_first"), no-op rerun $(ratio "$o_rerun" "$t_rerun"): \`make bench-anchors\` (benchmarks/anchor_bench.sh) | 1 | $o_first / $t_first | $o_rerun / $t_rerun | $o_changed / $t_changed |"
  echo "$row" | tee -a "$results"
  # as in run.sh: a benchmark of a non-idempotent role of ours would be meaningless
  [ "$o_changed" = 0 ] || { echo "benchmark: the no-op rerun of our $role changed $o_changed things" >&2; exit 1; }
done
