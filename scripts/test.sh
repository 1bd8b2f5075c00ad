#!/usr/bin/env bash
# The whole suite, what CI runs. Stages, each timed, the first failure ending the run with the
# stage's name:
#   lint      formatting and the module layering rule (scripts/lint.sh)
#   tidy      clang-tidy over src/ and tools/, cached per file (scripts/tidy.sh); a warning fails
#   sanitize  the debug build with ASan + UBSan: unit, integration and platform tests
#   release   the static release build: the end-to-end tests against the shipped dist/PlexSync
#             binary exactly as Stash drives it, the simulators' fidelity checks, the short soak
#   arm64     static cross build, a hook and Process queue under qemu-user (scripts/arm64.sh)
#   windows   static plexsync.exe, its plugin flow and platform tests under Wine (scripts/windows.sh)
#   fuzz      every libFuzzer target for FUZZ_SECONDS (default 20), two at a time; scripts/fuzz.sh
#             alone runs the longer default (60 s) or FUZZ_RUNS executions
# Each end-to-end test runs once, against the binary that ships; unit and integration tests carry
# the sanitizers. Builds go through ccache when it is installed (scripts/setup.sh installs it).
# At the end: each stage's time, the total, and every suite's test count; a warning when the total
# passes the 45-minute budget (docs/BENCHMARKS.md, "Test command budget").
set -euo pipefail
cd "$(dirname "$0")/.."
jobs=$(nproc)
budget_seconds=2700
run_started=$(date +%s)
stage_names=()
stage_seconds=()
counts=()
report() {
  local status=$1 i total=$(($(date +%s) - run_started))
  echo
  echo "== stage times"
  for i in "${!stage_names[@]}"; do
    printf '  %-9s %5d s\n' "${stage_names[$i]}" "${stage_seconds[$i]}"
  done
  printf '  %-9s %5d s (%d min %d s)\n' total "$total" $((total / 60)) $((total % 60))
  ((${#counts[@]})) && printf '  %s\n' "${counts[@]}"
  # The closing line CI reads: every ctest suite's tests, passed and failed.
  local passed=0 failed=0 c t f
  for c in "${counts[@]}"; do
    f=$(sed -nE 's/.* ([0-9]+) tests? failed out of ([0-9]+).*/\1/p' <<<"$c")
    t=$(sed -nE 's/.* failed out of ([0-9]+).*/\1/p' <<<"$c")
    passed=$((passed + t - f))
    failed=$((failed + f))
  done
  if ((total > budget_seconds)); then
    echo "test: WARNING: the run took $((total / 60)) min, over the $((budget_seconds / 60))-minute budget (CI stops at 90): see docs/BENCHMARKS.md, \"Test command budget\"" >&2
  fi
  echo "tests: $passed passed, $failed failed"
  return "$status"
}
# A stage's functions end each step with "|| return": bash ignores set -e inside a function called
# from a "||" list, which is how stage() runs them.
stage() { # stage NAME COMMAND...: runs it, times it, stops the whole run when it fails
  local name=$1 started rc=0
  shift
  echo
  echo "== $name"
  started=$(date +%s)
  "$@" || rc=$?
  stage_names+=("$name")
  stage_seconds+=($(($(date +%s) - started)))
  if ((rc != 0)); then
    echo "test: stage '$name' FAILED (exit $rc after $(($(date +%s) - started)) s); the stages after it did not run" >&2
    report 1
    exit 1
  fi
}
# ctest with its own summary kept for the report. $1 = suite name, the rest: ctest arguments.
ctest_suite() {
  local suite=$1 log
  shift
  log=$(mktemp)
  local rc=0
  ctest "$@" 2>&1 | tee "$log" || rc=$?
  local line
  line=$(grep -E "tests passed, [0-9]+ tests? failed out of [0-9]+" "$log" | tail -1 || true)
  rm -f "$log"
  if [[ -z $line ]]; then
    echo "test: $suite: ctest printed no summary (no tests found?)" >&2
    return 1
  fi
  counts+=("$suite: $line")
  return "$rc"
}

# The arm64, Windows and fuzz builds, at the lowest CPU priority, from the start of the sanitizer
# tests to the end of the release tests: tests wait on processes, timers and sockets and leave
# much of both cores idle, and nice 19 gives the tests the
# CPU whenever they want it (docs/BENCHMARKS.md, "Test command budget"). The stages after it
# build again (a no-op when this finished), so any build error is theirs to report.
prebuild_pid=
prebuild() {
  setsid nice -n 19 bash -c 'set -e
    cmake --preset arm64 >/dev/null && cmake --build --preset arm64
    scripts/windows-deps.sh build/win64-deps
    cmake --preset win64 >/dev/null && cmake --build --preset win64
    cmake --preset fuzz >/dev/null && cmake --build --preset fuzz' >build/prebuild.log 2>&1 &
  prebuild_pid=$!
}
wait_prebuild() {
  [[ -n $prebuild_pid ]] || return 0
  wait "$prebuild_pid" || echo "test: the background cross builds stopped early (build/prebuild.log); each stage builds again" >&2
  prebuild_pid=
}
# Its own process group (setsid), so that a failing run stops the whole build with it.
trap '[[ -z $prebuild_pid ]] || kill -- -"$prebuild_pid" 2>/dev/null || true' EXIT

sanitize() {
  cmake --preset debug -DPLEXSYNC_WERROR=ON >/dev/null || return
  # Only what this stage runs: the shipped binary's end-to-end tests belong to the release stage.
  cmake --build --preset debug --target unit_tests integration_tests platform_tests || return
  prebuild
  ASAN_OPTIONS=detect_leaks=1:abort_on_error=1 UBSAN_OPTIONS=print_stacktrace=1:halt_on_error=1 \
    ctest_suite "sanitize (unit, integration, platform)" --preset debug -j "$jobs" -E '^(e2e|fidelity|soak)[._]'
}
release() {
  scripts/build.sh || return
  cmake --build --preset release --target e2e_tests soak dump_queries package_zip || return
  PLEXSYNC_BIN="$PWD/dist/PlexSync/plexsync" \
    ctest_suite "release (end to end, fidelity, soak)" --preset release -j "$jobs" -R '^(e2e|fidelity|soak)[._]'
}

stage setup scripts/setup.sh --all
export PLEXSYNC_SKIP_SETUP=1
stage lint scripts/lint.sh
stage tidy scripts/tidy.sh
stage sanitize sanitize
stage release release
stage cross-wait wait_prebuild # what the background builds needed beyond the release tests
stage arm64 scripts/arm64.sh
stage windows scripts/windows.sh
stage fuzz env FUZZ_SECONDS="${FUZZ_SECONDS:-20}" scripts/fuzz.sh
report 0
