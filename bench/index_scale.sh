#!/usr/bin/env bash
# The 100,000-item library: plexsim and stashsim generate mirrored libraries, then index_scale
# builds the index and matches every scene (see bench/index_scale.cpp). SCENES overrides the size.
set -euo pipefail
cd "$(dirname "$0")/.."
n=${SCENES:-100000}
[[ -x build/bench/bench/index_scale ]] || { cmake --preset bench >/dev/null && cmake --build --preset bench >/dev/null; }
work=$(mktemp -d /tmp/plexsync-scale-XXXXXX)
pids=()
trap 'for p in "${pids[@]}"; do kill "$p" 2>/dev/null || true; done; wait 2>/dev/null || true; rm -rf "$work"' EXIT
build/bench/tools/plexsim --port 0 --port-file "$work/plex.port" --generate "$n" 2>/dev/null &
pids+=($!)
build/bench/tools/stashsim --port 0 --port-file "$work/stash.port" --generate "$n" 2>/dev/null &
pids+=($!)
for _ in $(seq 600); do [[ -s $work/plex.port && -s $work/stash.port ]] && break; sleep 0.1; done
echo "library: $n items in Plex, $n scenes in Stash"
build/bench/bench/index_scale "http://127.0.0.1:$(cat "$work/plex.port")" "http://127.0.0.1:$(cat "$work/stash.port")"
