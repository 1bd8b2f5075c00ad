#!/usr/bin/env bash
# Builds what Stash's "Available Plugins" installs from: PlexSync.zip (the plugin folder's
# contents at the zip root: the static binary with its executable bit, PlexSync.yml, README.md)
# and index.yml (Stash's package list: id, name, version, date, path, sha256). Publish both side
# by side and add the index.yml URL under Settings > Plugins > Available Plugins > Add source.
#
#   scripts/package.sh [PLUGIN_DIR] [OUT_DIR]   (defaults: dist/PlexSync, dist/package)
set -euo pipefail
cd "$(dirname "$0")/.."
src=${1:-dist/PlexSync}
out=${2:-dist/package}
for f in plexsync PlexSync.yml; do
  [[ -f $src/$f ]] || { echo "package: $src/$f is missing (run scripts/build.sh first)" >&2; exit 1; }
done
[[ -x $src/plexsync ]] || { echo "package: $src/plexsync is not executable" >&2; exit 1; }
command -v zip >/dev/null || { echo "package: zip is missing (scripts/setup.sh installs it)" >&2; exit 1; }
mkdir -p "$out"
out=$(cd "$out" && pwd)
stage=$(mktemp -d)
trap 'rm -rf "$stage"' EXIT
cp "$src/plexsync" "$src/PlexSync.yml" "$stage/"
cp packaging/PLUGIN_README.md "$stage/README.md"
chmod 755 "$stage/plexsync"
chmod 644 "$stage/PlexSync.yml" "$stage/README.md"
# Fixed timestamps and order: the same build gives the same zip (and the same sha256).
touch -d "@${SOURCE_DATE_EPOCH:-$(git log -1 --format=%ct 2>/dev/null || echo 0)}" "$stage"/*
rm -f "$out/PlexSync.zip"
(cd "$stage" && zip -q -X -9 "$out/PlexSync.zip" plexsync PlexSync.yml README.md)
sha=$(sha256sum "$out/PlexSync.zip" | cut -d' ' -f1)
version=$(sed -nE 's/^version: *//p' "$src/PlexSync.yml" | head -1)
commit=$(git rev-parse --short HEAD 2>/dev/null || echo unknown)
description=$(sed -nE 's/^description: *//p' "$src/PlexSync.yml" | head -1)
# Stash detects updates by a newer date, so it is the commit's time (UTC), not the build's.
date=$(TZ=UTC git log -1 --date=format-local:'%Y-%m-%d %H:%M:%S' --format=%cd 2>/dev/null || TZ=UTC date '+%Y-%m-%d %H:%M:%S')
cat >"$out/index.yml" <<YAML
- id: PlexSync
  name: PlexSync
  metadata:
    description: "${description//\"/\\\"}"
  version: ${version}-${commit}
  date: "${date}"
  path: PlexSync.zip
  sha256: ${sha}
YAML
echo "package: $out/PlexSync.zip ($(du -h "$out/PlexSync.zip" | cut -f1), sha256 $sha) and $out/index.yml"
