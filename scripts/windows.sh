#!/usr/bin/env bash
# The Windows build and its tests under Wine. Installs Debian's mingw-w64 (-posix), Wine, tcl and
# the sqlite3 CLI when missing; builds the C libraries from Debian's source packages
# (scripts/windows-deps.sh, cached); builds preset "win64" (plexsync.exe and platform_tests.exe,
# -Werror); checks the executable (PE32+ x86-64 console, imports only Windows system DLLs);
# packages PlexSync-windows.zip into the same index.yml as the Linux zips; then, from that zip
# unpacked into a folder whose name has a space and a non-ASCII letter, runs the plugin as Stash on
# Windows would against the native simulators: a hook whose background worker syncs alone, Process
# queue, a hook while another process holds the database lock (spool), HTTPS with the test CA, a
# wrong CA and the Windows certificate store, and service mode with /healthz, 'worker --stop' and
# taskkill. The Wine prefix lives in build/win64 and is removed at the end. Needs the release build
# (scripts/build.sh) for the simulators and the Linux manifest.
set -euo pipefail
cd "$(dirname "$0")/.."
started=$(date +%s)
packages=(g++-mingw-w64-x86-64-posix wine64 tcl sqlite3 zip unzip file curl)
missing=()
for p in "${packages[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done
if ((${#missing[@]})); then
  echo "windows: installing ${missing[*]}"
  sudo_cmd=()
  [[ $(id -u) -ne 0 ]] && sudo_cmd=(sudo)
  "${sudo_cmd[@]}" apt-get update -qq
  DEBIAN_FRONTEND=noninteractive "${sudo_cmd[@]}" apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
fi
scripts/windows-deps.sh build/win64-deps

export WINEPREFIX=$PWD/build/win64/wine-prefix WINEDEBUG=-all WINEDLLOVERRIDES="mscoree,mshtml="
wine=/usr/lib/wine/wine64
cleanup_prefix() {
  "${wine%/*}/wineserver" -k 2>/dev/null || true
  rm -rf "$WINEPREFIX"
}
cmake --preset win64 >/dev/null
if ! cmake --build --preset win64 >build/win64-build.log 2>&1; then
  grep -E "error|FAILED" -A5 build/win64-build.log | head -60 >&2
  cleanup_prefix
  echo "windows: the win64 build failed (build/win64-build.log)" >&2
  exit 1
fi
exe=build/win64/dist/PlexSync/plexsync.exe
[[ -f $exe ]] || { echo "windows: $exe was not built" >&2; exit 1; }
file -b "$exe" | grep -q "PE32+ executable (console) x86-64" || { echo "windows: not a PE32+ x86-64 console exe: $(file -b "$exe")" >&2; exit 1; }
# Only DLLs every Windows 10/11 has: no libstdc++, libgcc, winpthread or OpenSSL DLL to ship.
allowed=" ADVAPI32.dll bcrypt.dll CRYPT32.dll KERNEL32.dll msvcrt.dll MSWSOCK.dll SHELL32.dll USER32.dll WS2_32.dll "
imports=$(x86_64-w64-mingw32-objdump -p "$exe" | sed -nE 's/^\s*DLL Name: (.*)$/\1/p' | sort -u)
for dll in $imports; do
  [[ ${allowed,,} == *" ${dll,,} "* ]] || { echo "windows: plexsync.exe imports $dll, which Windows does not ship" >&2; exit 1; }
done
echo "windows: $(file -b "$exe" | cut -d, -f1), $(du -h "$exe" | cut -f1), imports $(tr '\n' ' ' <<<"$imports")"

tools=build/release/tools
linux_yml=build/release/dist/PlexSync/PlexSync.yml
[[ -x $tools/plexsim && -f $linux_yml ]] || { echo "windows: run scripts/build.sh first (simulators, Linux manifest)" >&2; exit 1; }
work=$(mktemp -d /tmp/plexsync-windows-XXXXXX)
pids=()
finish() {
  for p in "${pids[@]}"; do kill "$p" 2>/dev/null || true; done
  wait 2>/dev/null || true
  cleanup_prefix
  rm -rf "$work"
}
trap finish EXIT
fail() {
  echo "windows: $*" >&2
  for f in "$plugin/data/plexsync.log" "$work/worker.err"; do
    [[ -f $f ]] && { echo "--- $f" >&2; tail -20 "$f" >&2; }
  done
  exit 1
}

# Wine's loader now and then fails a launch with c0000135 (seen while prefixes were being made):
# such a launch is retried once. stdout goes to the caller; stderr to $work/last.err.
wine_run() {
  local rc=0
  "$wine" "$@" 2>"$work/last.err" || rc=$?
  if ((rc != 0)) && grep -q c0000135 "$work/last.err"; then
    echo "windows: Wine's loader failed a launch (c0000135); retrying once" >&2
    rc=0
    "$wine" "$@" 2>"$work/last.err" || rc=$?
  fi
  return $rc
}
"$wine" wineboot --init >/dev/null 2>&1 || true
winpath() { "$wine" winepath -w "$1" 2>/dev/null | tr -d '\r'; }

# 1. The package as Stash installs it: index.yml's entry, its sha256, unzipped into the folder.
scripts/package.sh build/release/dist/PlexSync "$work/package" "" build/win64/dist/PlexSync >/dev/null
listed=$(awk '/^- id: /{entry=$3} entry=="PlexSync-windows" && $1=="sha256:"{print $2}' "$work/package/index.yml")
actual=$(sha256sum "$work/package/PlexSync-windows.zip" | cut -d' ' -f1)
[[ -n $listed && $listed == "$actual" ]] || fail "index.yml lists sha256 '$listed' for PlexSync-windows, the zip has $actual"
grep -q "^- id: PlexSync$" "$work/package/index.yml" || fail "index.yml lost the Linux package"
plugins="$work/Stash plugins ü"
plugin="$plugins/PlexSync"
mkdir -p "$plugin"
unzip -q "$work/package/PlexSync-windows.zip" -d "$plugin"
[[ -f $plugin/plexsync.exe ]] || fail "the zip has no plexsync.exe"
pexe="$plugin/plexsync.exe"

# 2. Version and the manifest, byte for byte the Linux one (one PlexSync.yml for every platform).
version=$(wine_run "$pexe" --version | tr -d '\r') || fail "plexsync.exe --version failed: $(cat "$work/last.err")"
wine_run "$pexe" manifest >"$work/manifest.yml" || fail "plexsync.exe manifest failed"
cmp -s "$work/manifest.yml" "$linux_yml" || fail "plexsync.exe manifest differs from the Linux PlexSync.yml"
cmp -s "$plugin/PlexSync.yml" "$linux_yml" || fail "the zip's PlexSync.yml differs from the Linux one"
echo "windows: $version under $("$wine" --version); manifest identical to Linux's"

# The simulators, native, on loopback; settings through Stash's plugin configuration.
"$tools/plexsim" --port 0 --port-file "$work/plex.port" --generate 8 2>/dev/null &
pids+=($!)
"$tools/stashsim" --port 0 --port-file "$work/stash.port" --generate 8 2>/dev/null &
pids+=($!)
tls_dir=tests/data/tls
"$tools/plexsim" --port 0 --port-file "$work/plexs.port" --generate 8 --tls-cert "$tls_dir/server.pem" \
  --tls-key "$tls_dir/server.key" 2>/dev/null &
pids+=($!)
for _ in $(seq 200); do [[ -s $work/plex.port && -s $work/stash.port && -s $work/plexs.port ]] && break; sleep 0.05; done
[[ -s $work/plex.port && -s $work/stash.port && -s $work/plexs.port ]] || fail "the simulators did not start"
plex="http://127.0.0.1:$(cat "$work/plex.port")"
stash_port=$(cat "$work/stash.port")
settings() { # $1 = extra JSON members
  curl -fsS -X POST -H 'Content-Type: application/json' "http://127.0.0.1:$stash_port/__sim/settings" \
    -d "{\"settings\":{\"plex_token\":\"plexsim-token\",\"plex_library\":\"Adult\",\"plex_requests_per_second\":1000,$1}}" \
    >/dev/null
}
settings "\"plex_url\":\"$plex\",\"worker_idle_seconds\":3"
plugin_win=$(winpath "$plugin")
[[ $plugin_win == *"Stash plugins ü"* ]] || fail "winepath gave '$plugin_win'"
json_escape() { sed 's/\\/\\\\/g' <<<"$1"; }
# task ARGS_JSON [ENV...]: plexsync.exe plugin with Stash's input on stdin; prints the answer.
task() {
  local input out rc attempt
  input='{"server_connection":{"Scheme":"http","Host":"127.0.0.1","Port":'"$stash_port"',"SessionCookie":null,"PluginDir":"'"$(json_escape "$plugin_win")"'"},"args":'"$1"'}'
  shift
  for attempt in 1 2; do
    rc=0
    out=$(printf '%s' "$input" | env "$@" "$wine" "$pexe" plugin 2>"$work/task.err") || rc=$?
    cat "$work/task.err" >>"$work/plugin.err"
    ((attempt == 1 && rc != 0)) && grep -q c0000135 "$work/task.err" && { echo "windows: Wine's loader failed a launch (c0000135); retrying once" >&2; continue; }
    break
  done
  printf '%s\n' "$out"
  return $rc
}
hook() { task '{"hookContext":{"id":'"$1"',"type":"Scene.Update.Post","input":null,"inputFields":["title"]},"mode":"hook"}' "${@:2}"; }
plex_title() { curl -fsS -H 'X-Plex-Token: plexsim-token' -H 'Accept: application/json' "$plex/library/metadata/$1"; }
wait_for() { # SECONDS COMMAND...: bounded wait for a command to succeed
  local limit=$(($1 * 10))
  shift
  for _ in $(seq "$limit"); do "$@" && return 0; sleep 0.1; done
  return 1
}

# 3. A hook with autostart: answers at once, its detached worker syncs the scene alone and logs.
t0=$(date +%s%N)
answer=$(hook 2) || true
ms=$((($(date +%s%N) - t0) / 1000000))
grep -q '"queued":true' <<<"$answer" || fail "the hook did not queue: $answer $(cat "$work/plugin.err")"
# Returned while its worker still runs (worker_idle_seconds=3): no inherited handle held stdout.
grep -q "worker exiting" "$plugin/data/plexsync.log" 2>/dev/null && fail "the hook returned only after its worker exited"
synced() { plex_title "$1" 2>/dev/null | grep -q "Stash Title $2"; }
wait_for 30 synced 10001 2 || fail "the background worker did not sync scene 2"
wait_for 30 grep -q "worker exiting" "$plugin/data/plexsync.log" || fail "the worker did not exit when idle"
grep -q "worker started" "$plugin/data/plexsync.log" || fail "plexsync.log lacks the worker's lines"
echo "windows: hook answered in ${ms} ms; its detached worker synced scene 2 alone and logged to data/plexsync.log"

# 4. Autostart off, then Process queue.
answer=$(hook 3 PLEXSYNC_WORKER_AUTOSTART=0)
grep -q '"queued":true' <<<"$answer" || fail "the hook did not queue: $answer"
answer=$(task '{"mode":"process_queue"}' PLEXSYNC_WORKER_AUTOSTART=0)
grep -q '"synced":1' <<<"$answer" || fail "process_queue did not sync: $answer"
synced 10002 3 || fail "Plex item 10002 was not updated"
echo "windows: hook + Process queue synced scene 3"

# 5. Another process (Debian's sqlite3 CLI) holds the database's write lock: the hook spools.
(
  echo "BEGIN IMMEDIATE;"
  sleep 5
  echo "COMMIT;"
) | sqlite3 "$plugin/data/plexsync.db" &
holder=$!
sleep 0.5
t0=$(date +%s%N)
answer=$(hook 4 PLEXSYNC_WORKER_AUTOSTART=0)
ms=$((($(date +%s%N) - t0) / 1000000))
grep -q '"spooled":true' <<<"$answer" || fail "a hook under a held lock did not spool: $answer $(tail -3 "$work/plugin.err")"
spooled=$(find "$plugin/data/spool" -name '*.json' | wc -l)
((spooled == 1)) || fail "expected one spooled event, found $spooled"
wait "$holder"
answer=$(task '{"mode":"process_queue"}' PLEXSYNC_WORKER_AUTOSTART=0)
grep -q '"synced":1' <<<"$answer" || fail "process_queue after the spool did not sync: $answer"
[[ -z $(find "$plugin/data/spool" -name '*.json') ]] || fail "the spool was not emptied"
echo "windows: a hook under another process's lock spooled in ${ms} ms; Process queue ingested and synced it"

# 6. HTTPS: the test CA by plex_ca_file (a Windows path), a wrong CA, and the certificate store.
plexs="https://127.0.0.1:$(cat "$work/plexs.port")"
health() { task '{"mode":"health_check"}' "$@" PLEXSYNC_WORKER_AUTOSTART=0; }
settings "\"plex_url\":\"$plexs\",\"plex_ca_file\":\"$(json_escape "$(winpath "$PWD/$tls_dir/test-ca.pem")")\""
answer=$(health) || true
grep -q '"error":null' <<<"$answer" || fail "HTTPS with plex_ca_file failed: $answer"
settings "\"plex_url\":\"$plexs\",\"plex_ca_file\":\"$(json_escape "$(winpath "$PWD/$tls_dir/other-ca.pem")")\""
answer=$(health) || true
grep -q "is not trusted" <<<"$answer" || fail "a wrong CA was not refused: $answer"
settings "\"plex_url\":\"$plexs\""
answer=$(health -u SSL_CERT_FILE -u SSL_CERT_DIR) || true
grep -q "is not trusted.*checked against the Windows certificate store" <<<"$answer" ||
  fail "without plex_ca_file the message must name the Windows certificate store: $answer"
grep -q "/etc/ssl" <<<"$answer" && fail "a Windows message names a Unix path: $answer"
echo "windows: HTTPS verified with plex_ca_file, refused with a wrong CA, and checked against the Windows certificate store"

# 7. Service mode: /healthz, then 'worker --stop'; then taskkill frees the lock.
settings "\"plex_url\":\"$plex\""
data_win=$(winpath "$plugin/data")
service() { # starts the service worker on a free-looking port; sets port and service_pid
  local attempt
  for attempt in 1 2; do
    port=$((20000 + RANDOM % 20000))
    "$wine" "$pexe" worker --forever --metrics-port "$port" --data-dir "$data_win" >/dev/null 2>"$work/worker.err" &
    service_pid=$!
    pids+=("$service_pid")
    wait_for 20 curl -fs "http://127.0.0.1:$port/healthz" -o "$work/healthz" && return 0
    ((attempt == 1)) && grep -q c0000135 "$work/worker.err" && { echo "windows: Wine's loader failed a launch (c0000135); retrying once" >&2; continue; }
    return 1
  done
}
service || fail "service mode does not answer /healthz"
stop=$(wine_run "$pexe" worker --stop --data-dir "$data_win" | tr -d '\r') || fail "worker --stop failed: $(cat "$work/last.err")"
grep -q "^stopped the worker" <<<"$stop" || fail "worker --stop said: $stop"
wait_for 20 bash -c "! kill -0 $service_pid 2>/dev/null" || fail "the service worker did not exit after --stop"
grep -q "stopped on request" "$plugin/data/plexsync.log" || fail "the worker's log does not say it was stopped"
service || fail "service mode did not start again"
lock_pid=$(tr -d '\r\n' <"$plugin/data/worker.lock")
"$wine" taskkill /F /PID "$lock_pid" >/dev/null 2>&1 || fail "taskkill /PID $lock_pid failed"
stop=$(wine_run "$pexe" worker --stop --data-dir "$data_win" | tr -d '\r')
grep -q "^no worker runs" <<<"$stop" || fail "after taskkill the lock was not released: $stop"
echo "windows: service mode served /healthz, stopped on 'worker --stop', and taskkill released the lock"

# 7b. The metadata provider (pull mode) in the service worker: root, a match by the file's full
# path, the metadata, and a cover through the signed image proxy.
pport=$((20000 + RANDOM % 20000))
settings "\"plex_url\":\"$plex\",\"provider_enabled\":true,\"provider_listen\":\"127.0.0.1:$pport\""
service || fail "service mode with the provider does not answer /healthz"
root=$(wine_run "$pexe" provider url --data-dir "$data_win" | head -n1 | tr -d '\r') || fail "provider url failed"
[[ $root == "http://127.0.0.1:$pport/p/"*"/movie" ]] || fail "provider url printed '$root'"
wait_for 30 curl -fs "$root" -o "$work/root.json" || fail "the provider does not answer at its root URL"
grep -q '"identifier":"tv.plex.agents.custom.plexsync.stash"' "$work/root.json" || fail "root document: $(cat "$work/root.json")"
scene_path=$(curl -fsS -X POST -H 'Content-Type: application/json' "http://127.0.0.1:$stash_port/graphql" \
  -d '{"query":"{ findScene(id: \"1\") { files { path } } }"}' | sed -n 's/.*"path":"\([^"]*\)".*/\1/p')
[[ -n $scene_path ]] || fail "stashsim did not give scene 1's path"
# match answers 503 until the catalog of Stash's files is built; the root answers from the start.
wait_for 30 curl -fs -X POST -H 'Content-Type: application/json' "$root/library/metadata/matches" -d '{"type":1}' \
  -o /dev/null || fail "the provider's catalog was not built within 30 s"
match=$(curl -fsS -X POST -H 'Content-Type: application/json' "$root/library/metadata/matches" \
  -d "{\"type\":1,\"title\":\"x\",\"filename\":\"$scene_path\"}") || fail "the match request failed"
grep -q '"ratingKey":"scene-1"' <<<"$match" || fail "the provider did not match scene 1 by its path: $match"
meta=$(curl -fsS "$root/library/metadata/scene-1") || fail "the metadata request failed"
thumb=$(sed -n 's/.*"thumb":"\([^"]*\)".*/\1/p' <<<"$meta" | head -n1)
[[ $thumb == "http://127.0.0.1:$pport/img/v1/"* ]] || fail "no signed cover URL outside the secret path in: $meta"
type=$(curl -fsS -o /dev/null -w '%{content_type}' "$thumb") || fail "the cover did not come through the proxy"
[[ $type == image/* ]] || fail "the cover came as '$type'"
wine_run "$pexe" worker --stop --data-dir "$data_win" >/dev/null || fail "worker --stop failed"
wait_for 20 bash -c "! kill -0 $service_pid 2>/dev/null" || fail "the provider's worker did not exit after --stop"
settings "\"plex_url\":\"$plex\""
echo "windows: the metadata provider answered root, match, metadata and a proxied cover"

# 8. The platform layer's unit tests, built for Windows.
(cd "$plugins" && wine_run "$OLDPWD/build/win64/tests/platform/platform_tests.exe" --gtest_brief=1 >"$work/platform.out") ||
  { cat "$work/platform.out" "$work/last.err" >&2; fail "the platform tests failed under Wine"; }
echo "windows: platform tests $(grep -E '^\[  PASSED  \]' "$work/platform.out" | tr -d '\r')"
echo "windows: all checks passed in $(($(date +%s) - started)) s"
