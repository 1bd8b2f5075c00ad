#!/usr/bin/env bash
# The main job on its embedded default: starts the bundled Plex and Stash simulators with a sample
# library, installs dist/PlexSync into a scratch Stash plugin folder, drives it exactly as Stash
# does (hook processes with JSON on stdin, then the "Process queue" task) and shows the Plex
# items before and after.
set -euo pipefail
cd "$(dirname "$0")/.."
root=$PWD
scenes=${DEMO_SCENES:-36}
scripts/build.sh

work=$(mktemp -d /tmp/plexsync-demo-XXXXXX)
pids=()
cleanup() {
  for pid in "${pids[@]}"; do kill "$pid" 2>/dev/null || true; done
  wait 2>/dev/null || true
}
trap cleanup EXIT

token="demo-$(od -An -N8 -tx1 /dev/urandom | tr -d ' \n')"
build/release/tools/plexsim --port 0 --port-file "$work/plex.port" --generate "$scenes" --pull-library --token "$token" \
  2>"$work/plexsim.log" &
pids+=($!)
build/release/tools/stashsim --port 0 --port-file "$work/stash.port" --generate "$scenes" --wide-covers \
  2>"$work/stashsim.log" &
pids+=($!)
for f in plex.port stash.port; do
  for _ in $(seq 100); do [[ -s $work/$f ]] && break; sleep 0.05; done
  [[ -s $work/$f ]] || { echo "demo: a simulator did not start; see $work" >&2; exit 1; }
done
plex="http://127.0.0.1:$(cat "$work/plex.port")"
stash_port=$(cat "$work/stash.port")
stash="http://127.0.0.1:$stash_port"
echo "demo: plexsim at $plex, stashsim at $stash, $scenes scenes"

# What a user types under Settings > Plugins > PlexSync.
curl -fsS -X POST -H 'Content-Type: application/json' "$stash/__sim/settings" \
  -d "{\"settings\":{\"plex_url\":\"$plex\",\"plex_token\":\"$token\",\"plex_library\":\"Adult,Adult (pull)\",\"worker_idle_seconds\":3,\"poster_shape\":\"letterbox\"}}" >/dev/null

# Install the plugin the way a user does: copy the folder into Stash's plugins directory.
plugins="$work/stash/plugins"
mkdir -p "$plugins"
cp -r dist/PlexSync "$plugins/PlexSync"
plugin="$plugins/PlexSync"

keys=$(seq 10000 2 $((10000 + scenes - 1)) | paste -sd,)      # library Adult (push): scenes 1, 3, 5, ...
pull_keys=$(seq 20001 2 $((20000 + scenes - 1)) | paste -sd,) # library Adult (pull): scenes 2, 4, 6, ...
show() { # $1 = heading, $2 = the items' keys (default: the push library's)
  curl -fsS -H "X-Plex-Token: $token" -H 'Accept: application/json' "$plex/library/metadata/${2:-$keys}" |
    node "$root/scripts/demo-table.mjs" "$1"
}
show "Plex before PlexSync"

stdin_for() { # $1 = args JSON
  local cookie
  cookie=$(curl -fsS -X POST "$stash/__sim/session" | sed -E 's/.*"cookie":"([^"]+)".*/\1/')
  printf '{"server_connection":{"Scheme":"http","Host":"0.0.0.0","Port":%s,"SessionCookie":{"Name":"session","Value":"%s","Path":"/","MaxAge":3600},"Dir":"%s","PluginDir":"%s"},"args":%s}' \
    "$stash_port" "$cookie" "$work/stash" "$plugin" "$1"
}

echo
echo "demo: Stash fires Scene.Update.Post for $scenes scenes (one hook process each, as Stash does)"
: >"$work/hook-ms.txt"
for id in $(seq 1 "$scenes"); do
  input=$(stdin_for "{\"hookContext\":{\"id\":$id,\"type\":\"Scene.Update.Post\",\"input\":null,\"inputFields\":[\"id\",\"title\",\"tag_ids\"]},\"mode\":\"hook\"}")
  start=$(date +%s%N)
  out=$(printf '%s' "$input" | (cd "$work" && "$plugin/plexsync" plugin 2>>"$work/hook-stderr.log"))
  echo $(( ($(date +%s%N) - start) / 1000 )) >>"$work/hook-ms.txt"
  [[ $out == *'"queued":true'* ]] || { echo "demo: hook for scene $id answered $out" >&2; exit 1; }
done
median=$(sort -n "$work/hook-ms.txt" | awk '{a[NR]=$1} END {print a[int((NR+1)/2)]}')
echo "demo: every hook answered {\"queued\":true}; median hook process time $((median / 1000)).$(( (median % 1000) / 100 )) ms"

echo "demo: the user renames scene 1 in Stash and saves; Stash fires the hook again"
curl -fsS -X POST -H 'Content-Type: application/json' "$stash/__sim/scenes/1" \
  -d '{"title":"Renamed in Stash: Golden Hour & Friends","tags":[{"id":"77","name":"Golden Hour"}]}' >/dev/null
stdin_for '{"hookContext":{"id":1,"type":"Scene.Update.Post","input":null,"inputFields":["id","title","tag_ids"]},"mode":"hook"}' |
  (cd "$work" && "$plugin/plexsync" plugin 2>>"$work/hook-stderr.log") >/dev/null

echo "demo: Settings > Tasks > PlexSync > Process queue"
result=$(stdin_for '{"mode":"process_queue"}' | (cd "$work" && "$plugin/plexsync" plugin 2>"$work/task-stderr.log"))
echo "demo: task answered $result"
show "Plex after PlexSync"
echo
echo "demo: worker log ($plugin/data/plexsync.log), last lines:"
tail -n 5 "$plugin/data/plexsync.log" | sed 's/^/  /'
echo
echo "demo: pull mode beside push: Plex's library 'Adult (pull)' takes its metadata from PlexSync's provider"
provider_port=$(node -e 'const s=require("net").createServer();s.listen(0,"127.0.0.1",()=>{console.log(s.address().port);s.close()})')
service_env=(env PLEXSYNC_PROVIDER_ENABLED=true "PLEXSYNC_PROVIDER_LISTEN=127.0.0.1:$provider_port"
  "PLEXSYNC_STASH_URL=$stash" PLEXSYNC_WORKER_AUTOSTART=0)
"$plugin/plexsync" worker --stop --data-dir "$plugin/data" >/dev/null # the hook-started worker, if still idle
"${service_env[@]}" "$plugin/plexsync" worker --forever --data-dir "$plugin/data" 2>>"$work/service.log" &
pids+=($!)
root_url=$("${service_env[@]}" "$plugin/plexsync" provider url --data-dir "$plugin/data" 2>/dev/null | head -n 1)
# The root answers at once; match answers 200 once the catalog of Stash's files is built (503 before).
for _ in $(seq 100); do
  curl -fsS -X POST -H 'Content-Type: application/json' -d '{"type":1}' "$root_url/library/metadata/matches" \
    >/dev/null 2>&1 && break
  sleep 0.1
done
echo "demo: provider listening; plexsync provider url -> ${root_url%/p/*}/p/<secret>/movie"
"${service_env[@]}" "$plugin/plexsync" provider register --library "Adult (pull)" --switch --data-dir "$plugin/data" |
  sed 's/^/  /'
pulled() { # how many of the pull library's items PMS has matched through the provider
  curl -fsS -H "X-Plex-Token: $token" -H 'Accept: application/json' "$plex/library/metadata/$pull_keys" |
    node -e 'let s="";process.stdin.on("data",d=>s+=d).on("end",()=>{const m=JSON.parse(s).MediaContainer.Metadata??[];console.log(m.filter(x=>String(x.guid).startsWith("tv.plex.agents.custom.")).length)})'
}
for _ in $(seq 200); do [[ $(pulled) == "$((scenes / 2))" ]] && break; sleep 0.1; done
show "Plex library 'Adult (pull)' after its scan asked PlexSync's provider" "$pull_keys"
echo "demo: the user renames scene 2 in Stash; its hook reaches the service worker, which asks Plex to refresh"
curl -fsS -X POST -H 'Content-Type: application/json' "$stash/__sim/scenes/2" -d '{"title":"Pulled from Stash: Blue Hour"}' >/dev/null
stdin_for '{"hookContext":{"id":2,"type":"Scene.Update.Post","input":null,"inputFields":["id","title"]},"mode":"hook"}' |
  (cd "$work" && PLEXSYNC_WORKER_AUTOSTART=0 "$plugin/plexsync" plugin 2>>"$work/hook-stderr.log") >/dev/null
for _ in $(seq 100); do
  curl -fsS -H "X-Plex-Token: $token" -H 'Accept: application/json' "$plex/library/metadata/20001" | grep -q 'Blue Hour' && break
  sleep 0.1
done
show "Plex library 'Adult (pull)' after the edit (one refresh, no field written)" "$pull_keys"
posters() { # $1 = keys: how many show a poster PlexSync uploaded, and the first one's size
  for k in ${1//,/ }; do curl -fsS "$plex/__sim/posters/$k"; echo; done |
    node -e 'let s="";process.stdin.on("data",d=>s+=d).on("end",()=>{const p=s.trim().split("\n").map(l=>JSON.parse(l).poster).filter(x=>x&&x.key.startsWith("upload://"));console.log(p.length+(p.length?" ("+p[0].width+"x"+p[0].height+")":""))})'
}
for _ in $(seq 100); do [[ $(posters "$pull_keys") == "$((scenes / 2)) "* ]] && break; sleep 0.1; done
echo "demo: posters PlexSync uploaded (poster_shape=letterbox: Stash's 320x180 covers at 2:3 for Movies libraries):"
echo "  library 'Adult' (push): $(posters "$keys")"
echo "  library 'Adult (pull)': $(posters "$pull_keys"), so they show on remote Plex apps too"
echo "demo: Plex requests made: $(curl -fsS "$plex/__sim/requests" | node -e 'let s="";process.stdin.on("data",d=>s+=d).on("end",()=>{const r=JSON.parse(s);const c={};for(const q of r){const k=q.method+" "+q.path.replace(/\/\d+(,\d+)*(?=\/|$)/g,"/{id}");c[k]=(c[k]||0)+1}console.log(Object.entries(c).map(([k,v])=>v+"x "+k).join(", "))})')"
