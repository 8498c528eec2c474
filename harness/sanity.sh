#!/usr/bin/env bash
# SPDX-License-Identifier: Apache-2.0
# `ansible-test sanity` on the collection as git tracks it. ansible-test must run from a directory
# .../ansible_collections/fleetwatch/observability and refuses the symlink in .cache/collections,
# so the tracked files (git ls-files, as they are in the work tree) are copied into a temporary
# ansible_collections tree. Each sanity test runs in its own virtualenv, created once by ansible-test
# from its pinned requirements in ~/.ansible/test/venv and reused afterwards.
# Usage: [SANITY_INCLUDE='new/file ...'] harness/sanity.sh [ansible-test sanity arguments, e.g. --test pylint]
set -euo pipefail
here=$(cd "$(dirname "$0")/.." && pwd)
python=${SANITY_PYTHON:-$("$here/.venv/bin/python" -c 'import sys; print("%d.%d" % sys.version_info[:2])')}
tmp=$(mktemp -d "${TMPDIR:-/tmp}/fleetwatch-sanity.XXXXXX")
trap 'rm -rf "$tmp"' EXIT
dest="$tmp/ansible_collections/fleetwatch/observability"
mkdir -p "$dest"
# Tracked files that exist in the work tree (a file deleted but not yet committed is skipped), plus
# the untracked files or directories named in SANITY_INCLUDE (space-separated; work in progress).
# shellcheck disable=SC2016 # the single-quoted script is expanded by sh, not here
{ git -C "$here" ls-files -z; for f in ${SANITY_INCLUDE:-}; do (cd "$here" && find "$f" -type f -print0); done; } \
  | (cd "$here" && xargs -0 -r sh -c 'for f; do [ -e "$f" ] && printf "%s\0" "$f"; done' sh) \
  | tar -C "$here" --null -T - -cf - | tar -C "$dest" -xf -
# ansible-test bootstraps pip in each of its virtualenvs with a get-pip.py it downloads from a host
# outside the package registries, which these machines do not reach: harness/get_pip.py (ensurepip,
# then the pinned pip from PyPI) is put where ansible-test looks for it, so it never downloads.
pip_version=$("$here/.venv/bin/python" -c '
import sys
from ansible_test._internal.host_configs import NativePythonConfig
from ansible_test._internal.python_requirements import get_venv_packages
print(get_venv_packages(NativePythonConfig(version=sys.argv[1], path=sys.executable))["pip"])' "$python")
get_pip="$HOME/.ansible/test/cache/get_pip_${pip_version//./_}.py"
if ! cmp -s "$here/harness/get_pip.py" "$get_pip"; then
  mkdir -p "$(dirname "$get_pip")"
  cp "$here/harness/get_pip.py" "$get_pip"
fi
cd "$dest"
start=$(date +%s)
rc=0
"$here/.venv/bin/ansible-test" sanity --local --python "$python" --color no "$@" || rc=$?
echo "ansible-test sanity (python $python): rc=$rc in $(( $(date +%s) - start ))s"
exit $rc
