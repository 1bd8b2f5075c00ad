#!/usr/bin/env bash
# Cheap gates that need no build: formatting and the module layering rule.
set -euo pipefail
cd "$(dirname "$0")/.."
mapfile -t files < <(git ls-files '*.cpp' '*.hpp' 2>/dev/null || find src tools tests bench -name '*.[ch]pp')
if command -v clang-format >/dev/null; then
  clang-format --dry-run --Werror "${files[@]}"
fi
# A module includes only modules listed above it (docs/ARCHITECTURE.md).
order=(util net config stash plex store queue match sync worker cli)
status=0
for ((i = 0; i < ${#order[@]}; i++)); do
  module=${order[$i]}
  allowed="${order[*]:0:$((i + 1))}"
  while IFS= read -r line; do
    dep=$(sed -E 's/.*#include "([a-z_]+)\/.*/\1/' <<<"${line#*:}")
    if [[ " $allowed " != *" $dep "* ]]; then
      echo "layering: ${line%%:*} includes $dep/ but $module/ may only use: $allowed" >&2
      status=1
    fi
  done < <(grep -HE '#include "[a-z_]+/' src/"$module"/*.[ch]pp || true)
done
exit $status
