#!/usr/bin/env bash
# The whole suite: lint and clang-tidy (a warning fails it); the sanitizer build (ASan + UBSan) runs unit, integration and end-to-end tests;
# then the release build runs everything again, end-to-end against the static dist/PlexSync
# binary, plus the fidelity checks of the simulators; then the arm64 build is checked under
# qemu-user and the Windows build under Wine; then every libFuzzer target runs for FUZZ_SECONDS
# (default 30).
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/setup.sh
export PLEXSYNC_SKIP_SETUP=1
jobs=$(nproc)

scripts/lint.sh
echo "== clang-tidy (src/, tools/)"
scripts/tidy.sh

echo "== sanitizer build (debug, ASan + UBSan)"
cmake --preset debug -DPLEXSYNC_WERROR=ON >/dev/null
cmake --build --preset debug
ASAN_OPTIONS=detect_leaks=1:abort_on_error=1 UBSAN_OPTIONS=print_stacktrace=1:halt_on_error=1 \
  ctest --preset debug -j "$jobs" -E '^fidelity\.'

echo "== release build (static) and the plugin folder"
scripts/build.sh
PLEXSYNC_BIN="$PWD/dist/PlexSync/plexsync" ctest --preset release -j "$jobs"

echo "== arm64: static cross build, a hook and Process queue under qemu-user"
scripts/arm64.sh

echo "== Windows: static plexsync.exe (mingw-w64), its plugin flow and platform tests under Wine"
scripts/windows.sh

echo "== fuzzing (libFuzzer, clang-14, ASan + UBSan), ${FUZZ_SECONDS:-30} s per target"
FUZZ_SECONDS=${FUZZ_SECONDS:-30} scripts/fuzz.sh
