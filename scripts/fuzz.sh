#!/usr/bin/env bash
# Builds the libFuzzer targets (preset "fuzz": clang-14 with ASan/UBSan) and runs each of them,
# FUZZ_SECONDS apiece (default 60; scripts/test.sh runs a shorter smoke), or FUZZ_RUNS executions
# apiece for the long runs recorded in docs/BENCHMARKS.md; as many at once as there are cores. Seeds: Stash and Plex payloads from tests/data/fixtures plus fuzz/seeds.
# A crash, leak or timeout fails the script and leaves its input in build/fuzz/crashes/.
set -euo pipefail
cd "$(dirname "$0")/.."
data=tests/data # every seed lives in the repository
cmake --preset fuzz >/dev/null
mkdir -p build/fuzz
if ! cmake --build --preset fuzz >build/fuzz/build.log 2>&1; then
  grep -E "error|warning:|FAILED" -A5 build/fuzz/build.log | head -60 >&2
  echo "fuzz: the fuzz build failed (build/fuzz/build.log)" >&2
  exit 1
fi
targets=(plugin_input_fuzz stash_response_fuzz plex_response_fuzz sanitize_fuzz settings_fuzz provider_parts_fuzz
  provider_http_fuzz plex_webhook_fuzz title_template_fuzz shelf_rules_fuzz)
seeds_for() { # the fixtures each parser meets in real life
  case $1 in
  plugin_input_fuzz) ls "$data"/fixtures/stash/*.stdin.json "$data"/fixtures/stash/real-v0.30.1/*.stdin.json ;;
  stash_response_fuzz) ls "$data"/fixtures/stash/gql_*.json ;;
  plex_response_fuzz) ls "$data"/fixtures/plex/*.json "$data"/fixtures/plex/*.xml "$data"/fixtures/plex/*.http ;;
  sanitize_fuzz) ls "$data"/fixtures/stash/gql_find_scene_full.response.json ;;
  settings_fuzz) ls "$data"/fixtures/stash/gql_configuration_plugins.response.json ;;
  esac
}
mkdir -p build/fuzz/crashes
fuzz_one() { # one target, one core: libFuzzer runs a single process here
  local t=$1 corpus=build/fuzz/corpus/$1 seeds=() fixture_seeds f start execs
  mkdir -p "$corpus"
  if ! fixture_seeds=$(seeds_for "$t"); then
    echo "fuzz: $t: its seed fixtures are missing from tests/data/fixtures" >&2
    return 1
  fi
  while IFS= read -r f; do [[ -n $f ]] && seeds+=("$f"); done <<<"$fixture_seeds"
  [[ -d fuzz/seeds/$t ]] && seeds+=(fuzz/seeds/"$t"/*)
  ((${#seeds[@]})) || { echo "fuzz: $t has no seeds (tests/data/fixtures, fuzz/seeds/$t)" >&2; return 1; }
  cp -n "${seeds[@]}" "$corpus"/
  local limit=(-max_total_time="${FUZZ_SECONDS:-60}")
  [[ -n ${FUZZ_RUNS:-} ]] && limit=(-runs="$FUZZ_RUNS")
  # Long enough for any real title, summary or answer page; longer inputs only slow the search.
  local max_len=16384
  [[ $t == sanitize_fuzz ]] && max_len=1024 # limits in the target stay under 301 bytes
  # Type swaps (numbers for strings, objects for lists, nulls) in every JSON answer.
  local dict=(-dict=fuzz/dicts/json_type_swaps.dict)
  [[ -f fuzz/dicts/$t.dict ]] && dict=(-dict=fuzz/dicts/"$t".dict)
  start=$(date +%s)
  if build/fuzz/fuzz/"$t" "${limit[@]}" "${dict[@]}" -max_len="$max_len" -timeout=10 -rss_limit_mb=2048 -print_final_stats=1 \
    -artifact_prefix=build/fuzz/crashes/"$t"- "$corpus" >build/fuzz/"$t".log 2>&1; then
    execs=$(sed -nE 's/^stat::number_of_executed_units: *([0-9]+)/\1/p' build/fuzz/"$t".log)
    echo "fuzz: $t ok, ${execs:-?} executions in $(($(date +%s) - start)) s, corpus $(ls "$corpus" | wc -l) inputs"
  else
    echo "fuzz: $t FAILED (log: build/fuzz/$t.log, input in build/fuzz/crashes/)" >&2
    tail -30 build/fuzz/"$t".log >&2
    return 1
  fi
}
# As many targets at once as there are cores, each for its full time.
status=0
running=()
for t in "${targets[@]}"; do
  fuzz_one "$t" &
  running+=($!)
  if ((${#running[@]} >= $(nproc))); then
    wait "${running[0]}" || status=1
    running=("${running[@]:1}")
  fi
done
for pid in "${running[@]}"; do wait "$pid" || status=1; done
exit $status
