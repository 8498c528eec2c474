#!/usr/bin/env bash
# prometheus.prometheus's own Testinfra suites (roles/<role>/molecule/<scenario>/tests/*.py of its
# 0.30.2 tree) run against fresh test hosts converged by OUR roles with the equivalent variables
# (benchmarks/anchor_testinfra/<role>-<scenario>.yml, each naming the scenario's variables it
# translates; versions from harness/test_versions.yml). Prints pass/fail per test and a summary per
# scenario, appended to benchmarks/results.md. Each failure that remains is explained in the
# README's "Migrating from prometheus.prometheus" section.
#   benchmarks/anchor_testinfra.sh                       every vars file in benchmarks/anchor_testinfra/
#   BENCH_SCENARIOS="node_exporter-default" benchmarks/anchor_testinfra.sh
# The Galaxy tarball in ../shared/anchors leaves the Molecule scenarios out, so the suites come from
# a clone of github.com/prometheus-community/ansible whose galaxy.yml says 0.30.2:
# ANCHOR_SOURCE=<its git dir or work tree> (default .cache/anchors/prometheus-community-ansible).
set -euo pipefail
here=$(cd "$(dirname "$0")/.." && pwd)
# shellcheck source=benchmarks/lib.sh
. "$here/benchmarks/lib.sh"
NET=fleetwatch-anchor-testinfra
source_dir=${ANCHOR_SOURCE:-$here/.cache/anchors/prometheus-community-ansible}
want_version=0.30.2
tmp=$(mktemp -d)
hosts=()
cleanup() {
  for h in "${hosts[@]}"; do podman rm -f "$h" >/dev/null 2>&1 || true; done
  podman network rm "$NET" >/dev/null 2>&1 || true
  rm -rf "$tmp"
}
trap cleanup EXIT

# the suites, their helper and the roles' defaults (read by some tests), at the collection's version
src="$tmp/src"
mkdir -p "$src"
paths=(.testinfra roles/node_exporter roles/prometheus roles/alertmanager galaxy.yml)
if git --git-dir="$source_dir" rev-parse --git-dir >/dev/null 2>&1; then
  git --git-dir="$source_dir" archive HEAD "${paths[@]}" | tar -x -C "$src"
elif [ -d "$source_dir/.testinfra" ]; then
  for p in "${paths[@]}"; do mkdir -p "$src/$(dirname "$p")"; cp -r "$source_dir/$p" "$src/$p"; done
else
  echo "anchor_testinfra: no prometheus-community/ansible clone at $source_dir (set ANCHOR_SOURCE)" >&2
  exit 2
fi
got=$(sed -n 's/^version: *//p' "$src/galaxy.yml")
[ "$got" = "$want_version" ] || { echo "anchor_testinfra: $source_dir is version $got, not $want_version" >&2; exit 2; }

version_of() { sed -n "s/^$1_version: *//p" "$here/harness/test_versions.yml"; }

if [ -n "${BENCH_SCENARIOS:-}" ]; then
  read -r -a scenarios <<<"$BENCH_SCENARIOS"
else
  scenarios=()
  for f in "$here"/benchmarks/anchor_testinfra/*.yml; do scenarios+=("$(basename "$f" .yml)"); done
fi
summary=""
for sc in "${scenarios[@]}"; do
  role=${sc%%-*} scenario=${sc#*-}
  tests="$src/roles/$role/molecule/$scenario/tests"
  [ -d "$tests" ] || { echo "anchor_testinfra: no suite $tests" >&2; exit 2; }
  host="fw-anchor-ti-${sc//_/-}"
  hosts+=("$host")
  host_start "$host" "$NET"
  host_inventory "$host" "$tmp/inventory.yml"
  ansible-playbook -i "$tmp/inventory.yml" "$here/benchmarks/role.yml" -e bench_role="$role" \
    -e "@$here/harness/test_versions.yml" -e "@$here/benchmarks/anchor_testinfra/$sc.yml" >"$tmp/$sc-converge.log" ||
    { cat "$tmp/$sc-converge.log" >&2; echo "anchor_testinfra: converge of $sc failed" >&2; exit 1; }
  # their tests read MOLECULE_INVENTORY_FILE, import testinfra_helpers, open defaults/main.yml from
  # the role directory and take the expected version from PROMETHEUS
  (cd "$src/roles/$role" && COLUMNS=400 MOLECULE_INVENTORY_FILE="$tmp/inventory.yml" PYTHONPATH="$src/.testinfra" \
    PROMETHEUS="$(version_of prometheus)" python3 -m pytest -p no:cacheprovider -q -rA \
    --connection=ansible --ansible-inventory="$tmp/inventory.yml" --junitxml="$tmp/$sc.xml" \
    "molecule/$scenario/tests" >"$tmp/$sc-pytest.log" 2>&1) || true
  grep -E '^(PASSED|FAILED|ERROR) ' "$tmp/$sc-pytest.log" | sed "s|^|$sc: |" || true
  counts=$(python3 - "$tmp/$sc.xml" <<'PY'
import sys
import xml.etree.ElementTree as ET
s = ET.parse(sys.argv[1]).getroot()
s = s if s.tag == "testsuite" else s.find("testsuite")
total = int(s.get("tests"))
bad = int(s.get("failures")) + int(s.get("errors")) + int(s.get("skipped"))
print(f"{total - bad}/{total}")
PY
)
  echo "$sc: $counts passed"
  summary+="${summary:+, }$role $scenario $counts"
  podman rm -f "$host" >/dev/null
done
row="| $(date -u +%F) | prometheus.prometheus 0.30.2's own Testinfra suites against hosts converged by our roles (equivalent variables in benchmarks/anchor_testinfra/, versions of harness/test_versions.yml), tests passed: $summary; each failure explained in the README (Migrating from prometheus.prometheus): \`benchmarks/anchor_testinfra.sh\` | 1 | | | |"
echo "$row" | tee -a "$results"
