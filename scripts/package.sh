#!/usr/bin/env bash
# Builds what Stash's "Available Plugins" installs from: PlexSync.zip (the plugin folder's
# contents at the zip root: the static binary with its executable bit, PlexSync.yml, README.md)
# and index.yml (Stash's package list: id, name, version, date, path, sha256). Publish both side
# by side and add the index.yml URL under Settings > Plugins > Available Plugins > Add source.
# Given the arm64 plugin folder too, it adds PlexSync-arm64.zip as a second package of the same
# source ("PlexSync (arm64)"), and given the Windows one, PlexSync-windows.zip ("PlexSync (Windows
# x64)", plexsync.exe): Stash does not choose by OS or architecture, the user installs one. The
# same PlexSync.yml serves all three: Stash on Windows finds plexsync.exe for "exec: ./plexsync".
#
#   scripts/package.sh [PLUGIN_DIR] [OUT_DIR] [ARM64_PLUGIN_DIR] [WINDOWS_PLUGIN_DIR]
#   (defaults: dist/PlexSync, dist/package, none, none; pass "" to skip arm64)
set -euo pipefail
cd "$(dirname "$0")/.."
src=${1:-dist/PlexSync}
out=${2:-dist/package}
arm64=${3:-}
windows=${4:-}
command -v zip >/dev/null || { echo "package: zip is missing (scripts/setup.sh installs it)" >&2; exit 1; }
mkdir -p "$out"
out=$(cd "$out" && pwd)
stage=$(mktemp -d)
trap 'rm -rf "$stage"' EXIT
commit=$(git rev-parse --short HEAD 2>/dev/null || echo unknown)
# Stash detects updates by a newer date, so it is the commit's time (UTC), not the build's.
date=$(TZ=UTC git log -1 --date=format-local:'%Y-%m-%d %H:%M:%S' --format=%cd 2>/dev/null || TZ=UTC date '+%Y-%m-%d %H:%M:%S')
: >"$stage/index.yml"

# package PLUGIN_DIR ZIP_NAME ID NAME: one zip and its index.yml entry.
package() {
  local dir=$1 zip_name=$2 id=$3 name=$4 bin=plexsync
  [[ -f $dir/plexsync.exe ]] && bin=plexsync.exe
  for f in $bin PlexSync.yml; do
    [[ -f $dir/$f ]] || { echo "package: $dir/$f is missing (run scripts/build.sh first)" >&2; exit 1; }
  done
  [[ -x $dir/$bin ]] || { echo "package: $dir/$bin is not executable" >&2; exit 1; }
  rm -rf "$stage/files" && mkdir "$stage/files"
  cp "$dir/$bin" "$dir/PlexSync.yml" "$stage/files/"
  cp packaging/PLUGIN_README.md "$stage/files/README.md"
  chmod 755 "$stage/files/$bin"
  chmod 644 "$stage/files/PlexSync.yml" "$stage/files/README.md"
  # Fixed timestamps and order: the same build gives the same zip (and the same sha256).
  touch -d "@${SOURCE_DATE_EPOCH:-$(git log -1 --format=%ct 2>/dev/null || echo 0)}" "$stage/files"/*
  rm -f "$out/$zip_name"
  (cd "$stage/files" && zip -q -X -9 "$out/$zip_name" "$bin" PlexSync.yml README.md)
  local sha version description
  sha=$(sha256sum "$out/$zip_name" | cut -d' ' -f1)
  version=$(sed -nE 's/^version: *//p' "$dir/PlexSync.yml" | head -1)
  description=$(sed -nE 's/^description: *//p' "$dir/PlexSync.yml" | head -1)
  cat >>"$stage/index.yml" <<YAML
- id: ${id}
  name: ${name}
  metadata:
    description: "${description//\"/\\\"}"
  version: ${version}-${commit}
  date: "${date}"
  path: ${zip_name}
  sha256: ${sha}
YAML
  echo "package: $out/$zip_name ($(du -h "$out/$zip_name" | cut -f1), sha256 $sha)"
}

package "$src" PlexSync.zip PlexSync PlexSync
if [[ -n $arm64 ]]; then
  package "$arm64" PlexSync-arm64.zip PlexSync-arm64 "PlexSync (arm64)"
fi
if [[ -n $windows ]]; then
  package "$windows" PlexSync-windows.zip PlexSync-windows "PlexSync (Windows x64)"
fi
cp "$stage/index.yml" "$out/index.yml"
echo "package: $out/index.yml"
