#!/usr/bin/env bash
# Whether a Molecule scenario's artifacts are in the test mirror: extensions/molecule/<scenario>/requires lists
# them, one glob a line relative to .cache/mirror, with a "# skip reason" comment line naming what is
# missing (for example "no Loki artifact"). Exit 0 when every glob matches (or there is no list);
# exit 3 and print "skipped: <reason> (<globs>)" when one does not. `make molecule` reports such a
# scenario as skipped (never passed); the scenario's own prepare fails with the same message when
# it is run directly with `molecule test -s <scenario>`.
set -euo pipefail
here=$(cd "$(dirname "$0")/.." && pwd)
list="$here/extensions/molecule/${1:?usage: scenario_requires.sh SCENARIO}/requires"
[ -f "$list" ] || exit 0
reason="missing artifacts" missing=()
while IFS= read -r line || [ -n "$line" ]; do
  case "$line" in
    "# skip reason:"*) reason=${line#"# skip reason:"}; reason=${reason# } ;;
    ""|"#"*) ;;
    *) compgen -G "$here/.cache/mirror/$line" >/dev/null || missing+=("$line") ;;
  esac
done <"$list"
[ ${#missing[@]} -eq 0 ] && exit 0
if [ -d "$here/../shared/mirror" ]; then where="../shared/mirror does not hold it either"; else where="../shared/mirror is missing"; fi
echo "skipped: $reason (not in .cache/mirror: ${missing[*]}; $where, see the README)"
exit 3
