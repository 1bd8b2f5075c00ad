#!/usr/bin/env bash
# The arm64 build: installs Debian's cross compiler, the arm64 libraries (multiarch) and
# qemu-user when missing, builds the fully static plexsync for arm64 (preset "arm64"), and runs
# it under qemu as Stash would, from the packaged PlexSync-arm64.zip: a hook, then the Process
# queue task against the simulators, which must sync the scene to Plex.
set -euo pipefail
cd "$(dirname "$0")/.."
packages=(g++-aarch64-linux-gnu qemu-user libboost-dev:arm64 libssl-dev:arm64 libsqlite3-dev:arm64
  libutf8proc-dev:arm64)
missing=()
for p in "${packages[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done
if ((${#missing[@]})); then
  echo "arm64: installing ${missing[*]}"
  sudo_cmd=()
  [[ $(id -u) -ne 0 ]] && sudo_cmd=(sudo)
  "${sudo_cmd[@]}" dpkg --add-architecture arm64
  "${sudo_cmd[@]}" apt-get update -qq
  DEBIAN_FRONTEND=noninteractive "${sudo_cmd[@]}" apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
fi
cmake --preset arm64 >/dev/null
mkdir -p build/arm64
if ! cmake --build --preset arm64 >build/arm64/build.log 2>&1; then
  grep -E "error|FAILED" -A5 build/arm64/build.log | head -60 >&2
  echo "arm64: the arm64 build failed (build/arm64/build.log)" >&2
  exit 1
fi
bin=build/arm64/dist/PlexSync/plexsync
[[ -x $bin ]] || { echo "arm64: $bin was not built" >&2; exit 1; }
file "$bin" | grep -q "ARM aarch64.*statically linked" || { echo "arm64: not a static arm64 binary:" >&2; file "$bin" >&2; exit 1; }
run() { qemu-aarch64 "$@"; }
echo "arm64: $(file -b "$bin" | cut -d, -f1-2); $(run "$bin" --version) under qemu-user"

# A hook and the Process queue task against the (native) simulators.
tools=build/release/tools
[[ -x $tools/plexsim ]] || { echo "arm64: $tools/plexsim is missing (run scripts/build.sh first)" >&2; exit 1; }
work=$(mktemp -d /tmp/plexsync-arm64-XXXXXX)
pids=()
trap 'for p in "${pids[@]}"; do kill "$p" 2>/dev/null || true; done; wait 2>/dev/null || true; rm -rf "$work"' EXIT
"$tools/plexsim" --port 0 --port-file "$work/plex.port" --generate 5 2>/dev/null &
pids+=($!)
"$tools/stashsim" --port 0 --port-file "$work/stash.port" --generate 5 2>/dev/null &
pids+=($!)
for _ in $(seq 100); do [[ -s $work/plex.port && -s $work/stash.port ]] && break; sleep 0.05; done
plex="http://127.0.0.1:$(cat "$work/plex.port")"
stash_port=$(cat "$work/stash.port")
curl -fsS -X POST -H 'Content-Type: application/json' "http://127.0.0.1:$stash_port/__sim/settings" \
  -d "{\"settings\":{\"plex_url\":\"$plex\",\"plex_token\":\"plexsim-token\",\"plex_library\":\"Adult\",\"plex_requests_per_second\":1000}}" >/dev/null
# Packaged as users get it: PlexSync-arm64.zip beside the x86_64 zip in one index.yml, its
# sha256 as listed, unpacked the way Stash installs a package.
scripts/package.sh build/release/dist/PlexSync "$work/package" build/arm64/dist/PlexSync >/dev/null
listed=$(awk '/^- id: /{entry=$3} entry=="PlexSync-arm64" && $1=="sha256:"{print $2}' "$work/package/index.yml")
actual=$(sha256sum "$work/package/PlexSync-arm64.zip" | cut -d' ' -f1)
[[ -n $listed && $listed == "$actual" ]] || { echo "arm64: index.yml lists sha256 '$listed', the zip has $actual" >&2; exit 1; }
unzip -q "$work/package/PlexSync-arm64.zip" -d "$work/PlexSync"
[[ -x $work/PlexSync/plexsync ]] || { echo "arm64: the unpacked plugin's binary is not executable" >&2; exit 1; }
task() { # $1 = the args object
  printf '%s' '{"server_connection":{"Scheme":"http","Host":"127.0.0.1","Port":'"$stash_port"',"SessionCookie":null,"PluginDir":"'"$work/PlexSync"'"},"args":'"$1"'}' |
    PLEXSYNC_WORKER_AUTOSTART=0 qemu-aarch64 "$work/PlexSync/plexsync" plugin 2>/dev/null
}
hook=$(task '{"hookContext":{"id":2,"type":"Scene.Update.Post","input":null,"inputFields":["title"]},"mode":"hook"}')
grep -q '"queued":true' <<<"$hook" || { echo "arm64: the hook did not queue: $hook" >&2; exit 1; }
answer=$(task '{"mode":"process_queue"}')
grep -q '"synced":1' <<<"$answer" || { echo "arm64: process_queue did not sync: $answer" >&2; exit 1; }
title=$(curl -fsS -H 'X-Plex-Token: plexsim-token' -H 'Accept: application/json' "$plex/library/metadata/10001")
grep -q 'Stash Title 2' <<<"$title" || { echo "arm64: Plex item 10001 was not updated: $title" >&2; exit 1; }
echo "arm64: from PlexSync-arm64.zip (sha256 as index.yml lists it), a hook and Process queue under qemu-aarch64 synced scene 2 to Plex"
