#!/usr/bin/env bash
# clang-tidy over src/ using the debug build's compile database (slow on 2 cores; not in CI yet).
set -euo pipefail
cd "$(dirname "$0")/.."
cmake --preset tidy >/dev/null
run-clang-tidy -quiet -p build/tidy "${@:-src/}" 2>/dev/null | grep -E "warning:|error:" | sort -u
