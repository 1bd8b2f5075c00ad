#!/usr/bin/env bash
# Builds the benchmarks (release, static) and prints the numbers that go into docs/BENCHMARKS.md.
set -euo pipefail
cd "$(dirname "$0")/.."
PLEXSYNC_SKIP_SETUP=${PLEXSYNC_SKIP_SETUP:-0} scripts/build.sh >/dev/null
cmake --preset bench >/dev/null
cmake --build --preset bench | grep -E "error|FAILED" -A5 || true
echo "machine: $(nproc) cores, $(awk '/MemTotal/ {printf "%.0f GiB", $2/1048576}' /proc/meminfo), $(uname -r); date: $(date -u +%F)"
echo "== hook process, start to exit (dist/PlexSync/plexsync, worker already running)"
build/bench/bench/hook_latency "$PWD/dist/PlexSync/plexsync" "${HOOK_RUNS:-500}"
echo "== plan_edit (Google Benchmark)"
build/bench/bench/plan_bench --benchmark_min_time=0.2 2>/dev/null | grep -E 'BM_|Benchmark'
