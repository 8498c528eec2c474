#!/usr/bin/env bash
# Converge and no-op rerun times, per role on one fresh test host and for the whole lab.
#   benchmarks/run.sh                 all roles listed in benchmarks/roles.txt, then the lab
#   BENCH_ROLES="node_exporter" benchmarks/run.sh   some roles only;  BENCH_LAB=0 skips the lab
# Results are appended to benchmarks/results.md. The no-op run must report changed=0, or the
# benchmark fails (a benchmark of a non-idempotent role would be meaningless).
# The lab part recreates the lab (lab.sh down, then up twice).
# prometheus.prometheus's roles, side by side with these on the same kind of host: benchmarks/anchor_bench.sh.
set -euo pipefail
here=$(cd "$(dirname "$0")/.." && pwd)
# shellcheck source=benchmarks/lib.sh
. "$here/benchmarks/lib.sh"
NET=fleetwatch-bench
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT

roles=${BENCH_ROLES:-$(grep -v '^#' "$here/benchmarks/roles.txt" | xargs)}

for role in $roles; do
  host="fw-bench-${role//_/-}"
  host_start "$host" "$NET"
  host_inventory "$host" "$tmp/inventory.yml"
  if [ -f "$here/benchmarks/prepare_$role.yml" ]; then
    ansible-playbook -i "$tmp/inventory.yml" "$here/benchmarks/prepare_$role.yml" >"$tmp/prepare.log"
  fi
  # the versions the test mirror holds (harness/test_versions.yml), as the lab and Molecule run them
  pins=(-e "@$here/harness/test_versions.yml")
  t0=$(now); ansible-playbook -i "$tmp/inventory.yml" "$here/benchmarks/role.yml" -e bench_role="$role" "${pins[@]}" >"$tmp/first.log"; t1=$(now)
  ansible-playbook -i "$tmp/inventory.yml" "$here/benchmarks/role.yml" -e bench_role="$role" "${pins[@]}" >"$tmp/second.log"; t2=$(now)
  podman rm -f "$host" >/dev/null
  c=$(changed_of "$tmp/second.log")
  row="| $(date -u +%F) | role $role | 1 | $(secs "$t0" "$t1") | $(secs "$t1" "$t2") | $c |"
  echo "$row" | tee -a "$results"
  [ "$c" = 0 ] || { echo "benchmark: the no-op rerun of $role changed $c things" >&2; cat "$tmp/second.log" >&2; exit 1; }
done
podman network rm "$NET" >/dev/null 2>&1 || true

if [ "${BENCH_LAB:-1}" = 1 ]; then
  n=$(ansible-inventory -i "$here/inventories/lab/hosts.yml" --list | python3 -c 'import json,sys; print(len(json.load(sys.stdin)["_meta"]["hostvars"]))')
  bash "$here/harness/lab.sh" down
  t0=$(now); bash "$here/harness/lab.sh" up >"$tmp/lab1.log" 2>&1; t1=$(now)
  bash "$here/harness/lab.sh" up >"$tmp/lab2.log" 2>&1; t2=$(now)
  c=$(changed_of "$tmp/lab2.log")
  row="| $(date -u +%F) | lab (site.yml, make up) | $n | $(secs "$t0" "$t1") | $(secs "$t1" "$t2") | $c |"
  echo "$row" | tee -a "$results"
  [ "$c" = 0 ] || { echo "benchmark: the no-op rerun of the lab changed $c things" >&2; exit 1; }
fi
