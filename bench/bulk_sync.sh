#!/usr/bin/env bash
# Bulk sync throughput against the simulators with added latency per request: queue N scenes
# with the "Sync all scenes" task, then time the "Process queue" task. Prints one line per
# plex_concurrency value, with the Plex requests per scene from plexsim's request log.
set -euo pipefail
cd "$(dirname "$0")/.."
scenes=${SCENES:-200}
latency=${LATENCY_MS:-5}
bin=${PLEXSYNC_BIN:-$PWD/dist/PlexSync/plexsync} # another build to compare with
[[ -x $bin ]] || scripts/build.sh >/dev/null
work=$(mktemp -d /tmp/plexsync-bulk-XXXXXX)
pids=()
trap 'for p in "${pids[@]}"; do kill "$p" 2>/dev/null || true; done; wait 2>/dev/null || true' EXIT
build/release/tools/stashsim --port 0 --port-file "$work/stash.port" --generate "$scenes" 2>/dev/null &
pids+=($!)
for _ in $(seq 100); do [[ -s $work/stash.port ]] && break; sleep 0.05; done
stash_port=$(cat "$work/stash.port")
stash="http://127.0.0.1:$stash_port"
echo "bulk sync: $scenes scenes, ${latency} ms added to every Plex request"
run_task() { # $1 plugin dir, $2 mode; prints the task's stdout
  local stdin='{"server_connection":{"Scheme":"http","Host":"127.0.0.1","Port":'$stash_port',"SessionCookie":null,"PluginDir":"'$1'"},"args":{"mode":"'$2'"}}'
  printf '%s' "$stdin" | PLEXSYNC_WORKER_AUTOSTART=0 "$1/plexsync" plugin 2>/dev/null
}
for lanes in ${LANES:-1 2 4}; do
  # A fresh Plex for each run, so every scene has something to change.
  rm -f "$work/plex.port"
  build/release/tools/plexsim --port 0 --port-file "$work/plex.port" --generate "$scenes" --latency-ms "$latency" 2>/dev/null &
  plex_pid=$!
  pids+=($plex_pid)
  for _ in $(seq 100); do [[ -s $work/plex.port ]] && break; sleep 0.05; done
  plex="http://127.0.0.1:$(cat "$work/plex.port")"
  plugin="$work/plugin-$lanes"
  mkdir -p "$plugin"
  cp "$bin" "$plugin/plexsync"
  curl -fsS -X POST -H 'Content-Type: application/json' "$stash/__sim/settings" \
    -d "{\"settings\":{\"plex_url\":\"$plex\",\"plex_token\":\"plexsim-token\",\"plex_library\":\"Adult\",\"plex_concurrency\":$lanes,\"plex_requests_per_second\":1000}}" >/dev/null
  # first: every scene differs from Plex and has no poster there yet; edited: the steady state,
  # every title edited in Stash after the first sync; unchanged: again after clear_match_cache.
  for pass in first edited unchanged; do
    if [[ $pass == edited ]]; then
      for id in $(seq "$scenes"); do
        curl -fsS -X POST "$stash/__sim/scenes/$id" -d "{\"title\":\"Edited $id $lanes\"}" >/dev/null
      done
    fi
    curl -fsS -X DELETE "$plex/__sim/requests" >/dev/null
    [[ $pass == unchanged ]] && run_task "$plugin" clear_match_cache >/dev/null
    run_task "$plugin" all >/dev/null
    start=$(date +%s%N)
    out=$(run_task "$plugin" process_queue)
    ms=$(( ($(date +%s%N) - start) / 1000000 ))
    log=$(curl -fsS "$plex/__sim/requests")
    requests=$(grep -o '"method"' <<<"$log" | wc -l)
    puts=$( (grep -o '"method":"PUT"' <<<"$log" || true) | wc -l)
    posts=$( (grep -o '"method":"POST"' <<<"$log" || true) | wc -l)
    processed=$(sed -E 's/.*"processed":([0-9]+).*/\1/' <<<"$out")
    # Collections (issue #28): plexsim keys them from 900001; type=18 lists a library's collections.
    coll_posters=$( (grep -o '"path":"/library/metadata/9[0-9]*/posters"' <<<"$log" || true) | wc -l)
    coll_lists=$( (grep -o '\["type","18"\]' <<<"$log" || true) | wc -l)
    echo "plex_concurrency=$lanes, $pass: $processed scenes in $ms ms = $(( processed * 1000 / (ms > 0 ? ms : 1) )) scenes/s;" \
      "$requests Plex requests ($(awk "BEGIN {printf \"%.2f\", $requests / $processed}") per scene incl. the index), $puts edits, $posts posters" \
      "($coll_posters of collections; $coll_lists collection listings)"
  done
  kill "$plex_pid"
done
