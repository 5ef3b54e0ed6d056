#!/usr/bin/env bash
# The test command of statefun-c (see README): everything, from a fresh
# Debian machine, in one go. Idempotent; repeat runs build incrementally.
#
#   1. deps      scripts/install-deps.sh (apt-get; no-op when all present)
#   2. python    scripts/python-env.sh (venv with the official StateFun SDK)
#   3. build     build/       gcc, Ninja, -Werror
#   4. ctest     build/       the whole CTest suite
#   5. build     build-asan/  -DSF_SANITIZE=ON (ASan + UBSan)
#   6. ctest     build-asan/  the whole suite again, ASAN_OPTIONS=detect_leaks=1
#   7. build     build-fuzz/  clang, -DSF_BUILD_FUZZERS=ON, static libraries
#   8. fuzz      each libFuzzer target for SF_FUZZ_SECONDS (default 60)
#
# Environment:
#   SF_FUZZ_SECONDS  seconds per fuzz target (default 60; 0 skips fuzzing)
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
fuzz_seconds="${SF_FUZZ_SECONDS:-60}"
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

# configure DIR ARGS...: (re)configures a Ninja build dir; a dir made by
# another generator is started afresh.
configure() {
  local dir=$1
  shift
  if [ -f "$dir/CMakeCache.txt" ] &&
     ! grep -q '^CMAKE_GENERATOR:INTERNAL=Ninja$' "$dir/CMakeCache.txt"; then
    echo "test.sh: $dir was not made by Ninja; starting it afresh"
    rm -rf "$dir"
  fi
  cmake -S "$root" -B "$dir" -G Ninja -DSF_WERROR=ON "$@"
}
build() { # build DIR ARGS...
  local dir=$1
  shift
  configure "$dir" "$@" && cmake --build "$dir" --parallel "$jobs"
}

# run_ctest NAME DIR: runs the suite; every test counts as one check.
run_ctest() { # run_ctest NAME DIR [extra ctest args...]
  local name=$1 dir=$2 log="$logs/$1.log"
  shift 2
  banner "$name ($dir)"
  local t0 rc
  t0=$(date +%s)
  set +e
  ctest --test-dir "$dir" --output-on-failure --parallel "$jobs" \
    --timeout 1200 "$@" 2>&1 | tee "$log"
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
    echo "test.sh: ctest in $dir gave no result line"
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

if ! skipped plain; then
  if step "build (gcc)" build build; then
    run_ctest "ctest (gcc)" build
  fi
fi

# Under the sanitizers we run everything that runs our C code; suites that
# only drive the JVM (the real Flink/Kafka end-to-end suite) or check
# deployment files run once, in the plain build.
asan_exclude='^(e2e|deploy-helm|deploy-compose)'
if ! skipped asan; then
  if step "build (ASan+UBSan)" build build-asan -DSF_SANITIZE=ON; then
    ASAN_OPTIONS="${ASAN_OPTIONS:-detect_leaks=1}" \
    UBSAN_OPTIONS="${UBSAN_OPTIONS:-print_stacktrace=1:halt_on_error=1}" \
      run_ctest "ctest (ASan+UBSan)" build-asan -E "$asan_exclude"
  fi
fi

if ! skipped fuzz; then
  fuzz_build() {
    configure build-fuzz -DCMAKE_C_COMPILER=clang -DSF_BUILD_FUZZERS=ON \
      -DBUILD_SHARED_LIBS=OFF -DSF_BUILD_TESTS=OFF -DSF_BUILD_EXAMPLES=OFF \
      -DSF_BUILD_BENCH=OFF &&
      cmake --build build-fuzz --parallel "$jobs" --target fuzzers
  }
  if step "build (clang libFuzzer)" fuzz_build && [ "$fuzz_seconds" -gt 0 ]; then
    banner "fuzz (${fuzz_seconds}s per target)"
    for t in fuzz_handler fuzz_decoders fuzz_structured; do
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
