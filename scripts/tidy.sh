#!/usr/bin/env bash
# clang-tidy over src/ and tools/ (checks in .clang-tidy) with the compile database of the "tidy"
# preset. Prints every warning and fails when there is one; CI runs it. Arguments: other paths.
set -euo pipefail
cd "$(dirname "$0")/.."
cmake --preset tidy >/dev/null
out=$(mktemp)
trap 'rm -f "$out"' EXIT
paths=("$@")
((${#paths[@]})) || paths=(src/ tools/)
run-clang-tidy -quiet -j "$(nproc)" -p build/tidy "${paths[@]}" >"$out" 2>/dev/null || true
# Each header's warnings repeat once per file including it: print each once.
warnings=$(sed 's/\x1b\[[0-9;]*m//g' "$out" | grep -E "^/.*: (warning|error):" | sort -u || true)
if [[ -n $warnings ]]; then
  echo "$warnings"
  echo "tidy: $(wc -l <<<"$warnings") warnings (fix them, or say why in a NOLINT comment)" >&2
  exit 1
fi
echo "tidy: clean (${paths[*]})"
