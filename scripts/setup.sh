#!/usr/bin/env bash
# Installs what a build and the test suite need, from Debian packages and the npm registry.
# Idempotent: installs only what is missing. --all adds what the arm64 and Windows stages of
# scripts/test.sh need (cross compilers, qemu-user, Wine), in the same apt run, so the whole suite
# pays for one package index update.
set -euo pipefail
cd "$(dirname "$0")/.."

packages=(
  build-essential cmake ninja-build pkg-config file curl ca-certificates zip unzip
  libboost-dev libssl-dev libsqlite3-dev nlohmann-json3-dev libutf8proc-dev libcli11-dev libexpected-dev libstb-dev
  libgtest-dev libgmock-dev librapidcheck-dev libbenchmark-dev
  clang-format clang-tidy
  clang-14 libclang-rt-14-dev ccache
)
all=0
[[ ${1:-} == --all ]] && all=1
if ((all)); then
  # scripts/arm64.sh and scripts/windows.sh check for these too, when run alone.
  packages+=(g++-aarch64-linux-gnu qemu-user libboost-dev:arm64 libssl-dev:arm64 libsqlite3-dev:arm64
    libutf8proc-dev:arm64 g++-mingw-w64-x86-64-posix wine64 tcl sqlite3)
fi
# Node.js runs the fidelity tests only; a machine may already have it from elsewhere.
command -v node >/dev/null || packages+=(nodejs)
command -v npm >/dev/null || packages+=(npm)
missing=()
for p in "${packages[@]}"; do
  if ! dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed"; then
    missing+=("$p")
  fi
done
if ((${#missing[@]})); then
  echo "setup: installing ${missing[*]}"
  sudo_cmd=()
  if [[ $(id -u) -ne 0 ]]; then sudo_cmd=(sudo); fi
  if ((all)) && ! dpkg --print-foreign-architectures | grep -qx arm64; then
    "${sudo_cmd[@]}" dpkg --add-architecture arm64
  fi
  "${sudo_cmd[@]}" apt-get update -qq
  DEBIAN_FRONTEND=noninteractive "${sudo_cmd[@]}" apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
fi

# Test-only JavaScript clients (fidelity checks of the simulators), pinned by package-lock.json.
if [[ ! -d tests/fidelity/node_modules ]] || [[ tests/fidelity/package-lock.json -nt tests/fidelity/node_modules ]]; then
  echo "setup: installing the fidelity test clients from npm"
  (cd tests/fidelity && npm ci --no-audit --no-fund --loglevel=error)
fi
echo "setup: ok"
