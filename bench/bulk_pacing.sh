#!/usr/bin/env bash
# Issue #15: bulk sync with the DEFAULT settings (no plex_concurrency, no plex_requests_per_second:
# the adaptive limit decides) against plexsim with a fixed latency per request, and against its
# load model. For each run: "Sync all scenes" queues N scenes, "Process queue" is timed, twice:
# "first" (every scene differs, no poster in Plex yet) and "edited" (every title edited in Stash
# since: the steady state). Prints scenes/s, Plex requests per scene, the latency Plex saw (p50/p99
# inside plexsim) and the overload 503s it answered. RUNS="scenes:latency_ms[:capacity:queue] ..."
set -euo pipefail
cd "$(dirname "$0")/.."
runs=${RUNS:-"200:5 200:20 10000:5 10000:20 2000:0:4:4 10000:0:4:4"}
bin=${BIN:-$PWD/dist/PlexSync/plexsync} # BIN: another build to compare with the same simulators
[[ -x $bin ]] || scripts/build.sh >/dev/null
work=$(mktemp -d /tmp/plexsync-pacing-XXXXXX)
pids=()
trap 'for p in "${pids[@]}"; do kill "$p" 2>/dev/null || true; done; wait 2>/dev/null || true; rm -rf "$work"' EXIT
wait_port() { for _ in $(seq 200); do [[ -s $1 ]] && return 0; sleep 0.05; done; echo "no port in $1" >&2; exit 1; }
run_task() { # $1 plugin dir, $2 stash port, $3 mode
  local stdin='{"server_connection":{"Scheme":"http","Host":"127.0.0.1","Port":'$2',"SessionCookie":null,"PluginDir":"'$1'"},"args":{"mode":"'$3'"}}'
  printf '%s' "$stdin" | PLEXSYNC_WORKER_AUTOSTART=0 "$1/plexsync" plugin 2>/dev/null
}
echo "machine: $(nproc) cores, $(uname -r); date: $(date -u +%F); default settings (adaptive)"
for run in $runs; do
  IFS=: read -r scenes latency capacity queue <<<"$run"
  dir="$work/$run"
  mkdir -p "$dir/plugin"
  cp "$bin" "$dir/plugin/plexsync"
  build/release/tools/stashsim --port 0 --port-file "$dir/stash.port" --generate "$scenes" 2>/dev/null &
  pids+=($!)
  model=()
  [[ -n ${capacity:-} ]] && model=(--capacity "$capacity" --service-ms 5 --max-queue "$queue")
  build/release/tools/plexsim --port 0 --port-file "$dir/plex.port" --generate "$scenes" --latency-ms "$latency" \
    "${model[@]}" 2>/dev/null &
  plex_pid=$!
  pids+=($plex_pid)
  wait_port "$dir/stash.port"
  wait_port "$dir/plex.port"
  stash_port=$(cat "$dir/stash.port")
  stash="http://127.0.0.1:$stash_port"
  plex="http://127.0.0.1:$(cat "$dir/plex.port")"
  curl -fsS -X POST -H 'Content-Type: application/json' "$stash/__sim/settings" \
    -d "{\"settings\":{\"plex_url\":\"$plex\",\"plex_token\":\"plexsim-token\",\"plex_library\":\"Adult\"}}" >/dev/null
  label="$scenes scenes, ${latency} ms per request"
  [[ -n ${capacity:-} ]] && label="$scenes scenes, load model (capacity $capacity, queue $queue, 5 ms service)"
  for pass in first edited; do
    if [[ $pass == edited ]]; then
      for id in $(seq "$scenes"); do
        printf 'POST /__sim/scenes/%s {"title":"Edited %s"}\n' "$id" "$id"
      done | while read -r _ path body; do curl -fsS -X POST "$stash$path" -d "$body" >/dev/null; done
    fi
    curl -fsS -X DELETE "$plex/__sim/requests" >/dev/null
    curl -fsS -X DELETE "$plex/__sim/load" >/dev/null
    run_task "$dir/plugin" "$stash_port" all >/dev/null
    start=$(date +%s%N)
    out=$(run_task "$dir/plugin" "$stash_port" process_queue)
    ms=$(( ($(date +%s%N) - start) / 1000000 ))
    load=$(curl -fsS "$plex/__sim/load")
    requests=$(curl -fsS "$plex/__sim/requests" | grep -o '"method"' | wc -l)
    processed=$(sed -E 's/.*"processed":([0-9]+).*/\1/' <<<"$out")
    num() { sed -E "s/.*\"$1\":([0-9.e+-]+).*/\1/" <<<"$load"; }
    awk -v label="$label" -v pass="$pass" -v n="$processed" -v ms="$ms" -v req="$requests" \
      -v p50="$(num p50_ms)" -v p99="$(num p99_ms)" -v over="$(num overloaded)" -v most="$(num max_in_flight)" \
      'BEGIN { printf "%s, %s: %d scenes in %.1f s = %.0f scenes/s (%.1fx the Python plugin'"'"'s 4.4); %.2f Plex requests per scene; Plex latency p50 %.1f ms, p99 %.1f ms; overload 503s: %d; most in flight: %d\n",
               label, pass, n, ms / 1000, n * 1000 / (ms > 0 ? ms : 1), n * 1000 / (ms > 0 ? ms : 1) / 4.4, req / (n > 0 ? n : 1), p50, p99, over, most }'
  done
  kill "$plex_pid" 2>/dev/null || true
done
