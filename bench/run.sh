#!/usr/bin/env bash
# Every benchmark of issue #7 in one command: builds the static release and the bench preset,
# runs each measurement against the simulators on loopback, and prints a table of targets and
# results (the raw output of each run is kept in build/bench/results/). Numbers are reported in
# docs/BENCHMARKS.md, never asserted in tests. QUICK=1 shrinks the runs for a smoke test.
set -euo pipefail
cd "$(dirname "$0")/.."
PLEXSYNC_SKIP_SETUP=${PLEXSYNC_SKIP_SETUP:-0} scripts/build.sh >/dev/null
cmake --preset bench >/dev/null
cmake --build --preset bench | grep -E "error:|FAILED" -A5 || true
out=build/bench/results
mkdir -p "$out"
quick=${QUICK:-0}
hook_runs=500 edits=100 scale=100000
[[ $quick == 1 ]] && hook_runs=50 edits=10 scale=2000

echo "machine: $(nproc) cores, $(awk '/MemTotal/ {printf "%.0f GiB", $2/1048576}' /proc/meminfo), $(uname -r); date: $(date -u +%F)"
echo "1/5 hook process ($hook_runs runs)" >&2
build/bench/bench/hook_latency "$PWD/dist/PlexSync/plexsync" "$hook_runs" >"$out/hook.txt"
echo "2/5 hook to Plex with a warm worker ($edits edits)" >&2
build/bench/bench/hook_to_plex "$PWD/dist/PlexSync/plexsync" "$edits" >"$out/hook_to_plex.txt"
echo "3/5 bulk sync, 200 scenes, 5 ms per request" >&2
LANES="2 4" bench/bulk_sync.sh >"$out/bulk.txt"
echo "4/5 library of $scale items" >&2
SCENES=$scale bench/index_scale.sh >"$out/scale.txt"
echo "5/5 plan_edit" >&2
build/bench/bench/plan_bench --benchmark_min_time=0.2 2>/dev/null | grep -E '^BM_' >"$out/plan.txt"

val() { sed -nE "s/^$1: *([0-9.]+).*/\1/p" "$2"; } # "key: number" lines
bulk() { # lanes, pass, field (rate | per_scene | edits)
  local line
  line=$(grep "plex_concurrency=$1, $2:" "$out/bulk.txt")
  case $3 in
  rate) sed -E 's/.*= ([0-9]+) scenes\/s.*/\1/' <<<"$line" ;;
  per_scene) sed -E 's/.*\(([0-9.]+) per scene.*/\1/' <<<"$line" ;;
  edits) sed -E 's/.*, ([0-9]+) edits,.*/\1/' <<<"$line" ;;
  esac
}
scale_s=$(sed -nE 's/^index build \+ matching: ([0-9.]+) s/\1/p' "$out/scale.txt")
scale_rss=$(sed -nE 's/^peak RSS: .* ([0-9]+) MiB at the end/\1/p' "$out/scale.txt")
echo
echo "| measure | target | result |"
echo "|---|---|---|"
echo "| hook, process start to exit: median | <= 3 ms | $(val median_ms "$out/hook.txt") ms |"
echo "| hook: p99 | <= 10 ms | $(val p99_ms "$out/hook.txt") ms |"
echo "| hook: peak RSS | <= 8 MiB | $(awk "BEGIN {printf \"%.1f\", $(val peak_rss_kib "$out/hook.txt") / 1024}") MiB |"
echo "| Plex requests per changed scene (steady state) | <= 2 | $(bulk 2 edited per_scene) |"
echo "| Plex writes per unchanged scene | 0 | $(bulk 2 unchanged edits) edits for 200 scenes |"
echo "| bulk sync, 200 scenes, 5 ms latency, plex_concurrency=2 (default): first / edited / unchanged | >= 200 scenes/s | $(bulk 2 first rate) / $(bulk 2 edited rate) / $(bulk 2 unchanged rate) scenes/s |"
echo "| same, plex_concurrency=4 | >= 200 scenes/s | $(bulk 4 first rate) / $(bulk 4 edited rate) / $(bulk 4 unchanged rate) scenes/s |"
echo "| $scale-item library: index build + matching every scene | <= 60 s (100,000) | $scale_s s |"
echo "| same: worker peak RSS | <= 150 MiB | $scale_rss MiB |"
echo "| hook to Plex item updated, warm worker: median | <= 200 ms | $(val hook_to_plex_median_ms "$out/hook_to_plex.txt") ms (p90 $(val hook_to_plex_p90_ms "$out/hook_to_plex.txt"), p99 $(val hook_to_plex_p99_ms "$out/hook_to_plex.txt")) |"
echo "| plan_edit (30 tags, 6 performers, 2 KB summary) | | $(awk '{print $2, $3}' "$out/plan.txt" | head -1) |"
