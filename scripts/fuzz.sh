#!/usr/bin/env bash
# Builds the libFuzzer targets (preset "fuzz": clang-14 with ASan/UBSan) and runs each of them,
# FUZZ_SECONDS apiece (default 60), or FUZZ_RUNS executions apiece for the long runs recorded in
# docs/BENCHMARKS.md. Seeds: Stash and Plex payloads from ../shared/fixtures plus fuzz/seeds.
# A crash, leak or timeout fails the script and leaves its input in build/fuzz/crashes/.
set -euo pipefail
cd "$(dirname "$0")/.."
shared=${PLEXSYNC_SHARED:-$PWD/../shared}
cmake --preset fuzz >/dev/null
cmake --build --preset fuzz | grep -E "error|warning:|FAILED" -A5 || true
targets=(plugin_input_fuzz stash_response_fuzz plex_response_fuzz sanitize_fuzz settings_fuzz provider_parts_fuzz
  provider_http_fuzz)
seeds_for() { # the fixtures each parser meets in real life
  case $1 in
  plugin_input_fuzz) ls "$shared"/fixtures/stash/*.stdin.json ;;
  stash_response_fuzz) ls "$shared"/fixtures/stash/gql_*.json ;;
  plex_response_fuzz) ls "$shared"/fixtures/plex/*.json "$shared"/fixtures/plex/*.xml "$shared"/fixtures/plex/*.http ;;
  sanitize_fuzz) ls "$shared"/fixtures/stash/gql_find_scene_full.response.json ;;
  settings_fuzz) ls "$shared"/fixtures/stash/gql_configuration_plugins.response.json ;;
  esac
}
mkdir -p build/fuzz/crashes
status=0
for t in "${targets[@]}"; do
  corpus=build/fuzz/corpus/$t
  mkdir -p "$corpus"
  seeds=()
  while IFS= read -r f; do seeds+=("$f"); done < <(seeds_for "$t" 2>/dev/null || true)
  [[ -d fuzz/seeds/$t ]] && seeds+=(fuzz/seeds/"$t"/*)
  cp -n "${seeds[@]}" "$corpus"/ 2>/dev/null || true
  limit=(-max_total_time="${FUZZ_SECONDS:-60}")
  [[ -n ${FUZZ_RUNS:-} ]] && limit=(-runs="$FUZZ_RUNS")
  # Long enough for any real title, summary or answer page; longer inputs only slow the search.
  max_len=16384
  [[ $t == sanitize_fuzz ]] && max_len=1024 # limits in the target stay under 301 bytes
  # Type swaps (numbers for strings, objects for lists, nulls) in every JSON answer.
  dict=(-dict=fuzz/dicts/json_type_swaps.dict)
  [[ -f fuzz/dicts/$t.dict ]] && dict=(-dict=fuzz/dicts/"$t".dict)
  start=$(date +%s)
  if build/fuzz/fuzz/"$t" "${limit[@]}" "${dict[@]}" -max_len="$max_len" -timeout=10 -rss_limit_mb=2048 -print_final_stats=1 \
    -artifact_prefix=build/fuzz/crashes/"$t"- "$corpus" >build/fuzz/"$t".log 2>&1; then
    execs=$(sed -nE 's/^stat::number_of_executed_units: *([0-9]+)/\1/p' build/fuzz/"$t".log)
    echo "fuzz: $t ok, ${execs:-?} executions in $(($(date +%s) - start)) s, corpus $(ls "$corpus" | wc -l) inputs"
  else
    echo "fuzz: $t FAILED (log: build/fuzz/$t.log, input in build/fuzz/crashes/)" >&2
    tail -30 build/fuzz/"$t".log >&2
    status=1
  fi
done
exit $status
