#!/usr/bin/env bash
# Builds the release (fully static plexsync) and assembles dist/PlexSync/: the plugin folder.
# Builds only that and the simulators (the demo's needs); scripts/test.sh builds the test programs.
set -euo pipefail
cd "$(dirname "$0")/.."
[[ ${PLEXSYNC_SKIP_SETUP:-} == 1 ]] || scripts/setup.sh
cmake --preset release >/dev/null
cmake --build --preset release --target plugin_dir plexsim stashsim
rm -rf dist/PlexSync
mkdir -p dist
cp -r build/release/dist/PlexSync dist/PlexSync
if ! file dist/PlexSync/plexsync | grep -q "statically linked"; then
  echo "build: dist/PlexSync/plexsync is not statically linked" >&2
  file dist/PlexSync/plexsync >&2
  exit 1
fi
echo "build: dist/PlexSync ready ($(du -h dist/PlexSync/plexsync | cut -f1), $(dist/PlexSync/plexsync --version))"
