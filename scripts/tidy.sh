#!/usr/bin/env bash
# clang-tidy over src/ and tools/ (checks in .clang-tidy) with the compile database of the "tidy"
# preset. Prints every warning and fails when there is one; CI runs it. Arguments: other paths.
# Results are cached by file, flags, preprocessed text and checks (scripts/tidy_cached.py) in
# ${PLEXSYNC_CACHE:-~/.cache/plexsync}/tidy; PLEXSYNC_TIDY_CACHE=0 runs every file afresh.
set -euo pipefail
cd "$(dirname "$0")/.."
cmake --preset tidy >/dev/null
out=$(mktemp)
trap 'rm -f "$out"' EXIT
paths=("$@")
((${#paths[@]})) || paths=(src/ tools/)
cache=${PLEXSYNC_CACHE:-$HOME/.cache/plexsync}/tidy
[[ ${PLEXSYNC_TIDY_CACHE:-1} == 0 ]] && cache=$(mktemp -d) && trap 'rm -rf "$out" "$cache"' EXIT
python3 scripts/tidy_cached.py build/tidy "$cache" "$(nproc)" "${paths[@]}" >"$out"
# Each header's warnings repeat once per file including it: print each once.
warnings=$(sed 's/\x1b\[[0-9;]*m//g' "$out" | grep -E "^/.*: (warning|error):" | sort -u || true)
if [[ -n $warnings ]]; then
  echo "$warnings"
  echo "tidy: $(wc -l <<<"$warnings") warnings (fix them, or say why in a NOLINT comment)" >&2
  exit 1
fi
echo "tidy: clean (${paths[*]})"
