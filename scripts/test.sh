#!/usr/bin/env bash
# The test command of statefun-c (see README): everything, from a fresh
# Debian machine, in one go. Idempotent; repeat runs build incrementally.
#
#   1. deps      scripts/install-deps.sh (apt-get; no-op when all present)
#   2. python    scripts/python-env.sh (venv with the official StateFun SDK)
#   3. build     build/       preset release-gcc: gcc, Release (-O3)
#   4. ctest     build/       the whole CTest suite
#   5. build     build-asan/  preset asan-clang: clang, ASan + UBSan
#   6. ctest     build-asan/  the suite again (not the JVM-only suites),
#                             ASAN_OPTIONS=detect_leaks=1 (yours are added)
#   7. build     build-fuzz/  preset fuzz-clang: clang, libFuzzer, static
#   8. fuzz      each libFuzzer target for SF_FUZZ_SECONDS (default 25)
#
# Every build is one of the configure/build/test presets of
# CMakePresets.json (Ninja, SF_WERROR=ON: warnings are errors here, not in
# a user's build), so `cmake --preset X && cmake --build --preset X &&
# ctest --preset X` repeats any stage by hand.
#
# Environment:
#   SF_FUZZ_SECONDS  seconds per fuzz target (default 25, 10 targets; 0 skips
#                    fuzzing; fuzz/run.sh --campaign N for a long run)
#   SF_TEST_JOBS     ctest parallelism (default: number of cores)
#   SF_SKIP          space-separated stages to skip: deps python plain asan fuzz
#
# Every CTest test and every fuzz target counts as one check, and so does
# every setup/build step; the last line is "N passed, M failed". Exits
# non-zero when anything failed.
set -euo pipefail
root="$(cd "$(dirname "$0")/.." && pwd)"
cd "$root"

jobs="${SF_TEST_JOBS:-$(nproc 2>/dev/null || echo 2)}"
fuzz_seconds="${SF_FUZZ_SECONDS:-25}"
skip=" ${SF_SKIP:-} "
logs="$root/build-logs"
mkdir -p "$logs"

passed=0
failed=0
summary=()
t_all=$(date +%s)

banner() { printf '\n==== %s ====\n' "$*"; }
skipped() { [[ "$skip" == *" $1 "* ]]; }
# record NAME STATUS(0=ok) SECONDS DETAIL
record() {
  local name=$1 rc=$2 secs=$3 detail=${4:-}
  if [ "$rc" -eq 0 ]; then
    summary+=("$(printf '  %-28s PASS  %5ss  %s' "$name" "$secs" "$detail")")
  else
    summary+=("$(printf '  %-28s FAIL  %5ss  %s' "$name" "$secs" "$detail")")
  fi
}
# step NAME CMD...: runs a setup/build step, counts it as one check.
step() {
  local name=$1
  shift
  banner "$name"
  local t0 rc
  t0=$(date +%s)
  set +e
  "$@"
  rc=$?
  set -e
  local secs=$(( $(date +%s) - t0 ))
  if [ "$rc" -eq 0 ]; then passed=$((passed + 1)); else failed=$((failed + 1)); fi
  record "$name" "$rc" "$secs"
  echo "---- $name: $([ "$rc" -eq 0 ] && echo OK || echo "FAILED (exit $rc)") in ${secs}s"
  return "$rc"
}

# configure PRESET DIR: (re)configures DIR with the configure preset; a dir
# made by another generator or another preset (say, an older gcc ASan
# build) is started afresh rather than switched in place.
configure() {
  local preset=$1 dir=$2
  if [ -f "$dir/CMakeCache.txt" ] &&
     { ! grep -q '^CMAKE_GENERATOR:INTERNAL=Ninja$' "$dir/CMakeCache.txt" ||
       [ "$(cat "$dir/.sf-preset" 2>/dev/null)" != "$preset" ]; }; then
    echo "test.sh: $dir was not made by preset $preset; starting it afresh"
    rm -rf "$dir"
  fi
  cmake --preset "$preset" && echo "$preset" >"$dir/.sf-preset"
}
build() { # build PRESET DIR: configure and build preset PRESET (in DIR)
  configure "$1" "$2" && cmake --build --preset "$1" --parallel "$jobs"
}

# run_ctest NAME PRESET: runs the suite of test preset PRESET; every test
# counts as one check.
run_ctest() {
  local name=$1 preset=$2 log="$logs/$1.log"
  banner "$name (preset $preset)"
  local t0 rc
  t0=$(date +%s)
  set +e
  ctest --preset "$preset" --parallel "$jobs" 2>&1 | tee "$log"
  rc=${PIPESTATUS[0]}
  set -e
  local secs=$(( $(date +%s) - t0 ))
  local line total fails
  line="$(grep -E 'tests passed, [0-9]+ tests? failed out of [0-9]+' "$log" | tail -1 || true)"
  if [ -n "$line" ]; then
    fails=$(sed -E 's/.* ([0-9]+) tests? failed out of ([0-9]+).*/\1/' <<<"$line")
    total=$(sed -E 's/.* ([0-9]+) tests? failed out of ([0-9]+).*/\2/' <<<"$line")
  else
    fails=1 total=1 # no tests found, or ctest itself failed
    echo "test.sh: ctest --preset $preset gave no result line"
  fi
  [ "$rc" -ne 0 ] && [ "$fails" -eq 0 ] && fails=1
  passed=$((passed + total - fails))
  failed=$((failed + fails))
  local failing
  failing="$(awk '/The following tests FAILED:/ {f = 1; next}
                  f && /^[[:space:]]+[0-9]+ - / {
                    sub(/^[[:space:]]+[0-9]+ - /, ""); sub(/ \([^)]*\)$/, "");
                    printf "%s ", $0 }' "$log")"
  record "$name" "$fails" "$secs" "$((total - fails))/$total tests${failing:+; failed: $failing}"
  echo "---- $name: $((total - fails))/$total passed in ${secs}s"
}

# ---------------------------------------------------------------------------
if ! skipped deps; then
  step "deps (install-deps.sh)" bash scripts/install-deps.sh || true
fi
if ! skipped python; then
  step "python venv (python-env.sh)" bash scripts/python-env.sh || true
fi

# The Release build (what a user builds) runs everything.
if ! skipped plain; then
  if step "build (gcc Release)" build release-gcc build; then
    run_ctest "ctest (gcc Release)" release-gcc
  fi
fi

# Under the sanitizers we run everything that runs our C code; suites that
# only drive the JVM (the real Flink/Kafka end-to-end suite) or check
# deployment files run once, in the Release build (the asan-clang test
# preset excludes them, and sets ASAN_OPTIONS/UBSAN_OPTIONS).
if ! skipped asan; then
  if step "build (clang ASan+UBSan)" build asan-clang build-asan; then
    run_ctest "ctest (clang ASan+UBSan)" asan-clang
  fi
fi

if ! skipped fuzz; then
  if step "build (clang libFuzzer)" build fuzz-clang build-fuzz &&
     [ "$fuzz_seconds" -gt 0 ]; then
    banner "fuzz (${fuzz_seconds}s per target)"
    for t in fuzz_handler fuzz_decoders fuzz_structured fuzz_wire \
             fuzz_front fuzz_config fuzz_ir fuzz_ir_json fuzz_server_http \
             fuzz_entity; do
      echo "fuzz: running $t for ${fuzz_seconds}s ..."
      t0=$(date +%s)
      set +e
      out="$(SF_FUZZ_SECONDS="$fuzz_seconds" SF_FUZZ_TARGETS="$t" \
             bash fuzz/run.sh build-fuzz 2>&1)"
      rc=$?
      set -e
      echo "$out"
      secs=$(( $(date +%s) - t0 ))
      if [ "$rc" -eq 0 ]; then passed=$((passed + 1)); else failed=$((failed + 1)); fi
      record "fuzz $t" "$rc" "$secs" \
        "$(grep -o '[0-9?]* executions' <<<"$out" | head -1)"
    done
  fi
fi

# ---------------------------------------------------------------------------
banner "summary ($(( $(date +%s) - t_all ))s in all; logs in build-logs/)"
printf '%s\n' "${summary[@]}"
echo "$passed passed, $failed failed"
[ "$failed" -eq 0 ]
