#!/usr/bin/env bash
# Runs every libFuzzer target of a SF_BUILD_FUZZERS build for a bounded time.
#
#   fuzz/run.sh BUILD_DIR [--merge] [--campaign SECONDS]
#
# SF_FUZZ_SECONDS   seconds per target (default 25; what .ci/run uses)
# SF_FUZZ_TARGETS   space-separated subset (default: all, see below)
# --campaign N      a long campaign: N seconds per target (e.g. 3600)
# --merge           afterwards, add the inputs that bring new coverage to
#                   fuzz/corpus/<target> (commit them with the fix they found)
#
# Each target first replays the committed corpus (fuzz/corpus/<target>),
# then fuzzes with it as seeds and its dictionary (fuzz/<dict>.dict); new
# inputs go to BUILD_DIR/fuzz-corpus/ (never into the repo), crashes to
# BUILD_DIR/fuzz-artifacts/<target>/. Exits non-zero when any target finds
# a crash, leak, UB, failed check or timeout.
set -euo pipefail
here="$(cd "$(dirname "$0")" && pwd)"
usage="usage: fuzz/run.sh BUILD_DIR [--merge] [--campaign SECONDS]"
build="$(cd "${1:?$usage}" && pwd)"
shift
merge=""
seconds="${SF_FUZZ_SECONDS:-25}"
while [ $# -gt 0 ]; do
  case "$1" in
    --merge) merge=1 ;;
    --campaign) seconds="${2:?$usage}"; shift ;;
    *) echo "$usage" >&2; exit 2 ;;
  esac
  shift
done
all="fuzz_handler fuzz_decoders fuzz_structured fuzz_wire fuzz_front"
all="$all fuzz_config fuzz_ir fuzz_ir_json fuzz_server_http fuzz_entity"
targets="${SF_FUZZ_TARGETS:-$all}"
export ASAN_OPTIONS="${ASAN_OPTIONS:-detect_leaks=1}"
export UBSAN_OPTIONS="${UBSAN_OPTIONS:-print_stacktrace=1}"

dict_of() { # the dictionary of target $1
  case "$1" in
    fuzz_front) echo "$here/front.dict" ;;
    fuzz_config) echo "$here/config.dict" ;;
    fuzz_ir | fuzz_ir_json) echo "$here/ir.dict" ;;
    fuzz_server_http) echo "$here/http.dict" ;;
    *) echo "$here/statefun.dict" ;;
  esac
}

failed=0
for t in $targets; do
  bin="$build/fuzz/$t"
  seeds="$here/corpus/$t"
  work="$build/fuzz-corpus/$t"
  arts="$build/fuzz-artifacts/$t"
  log="$build/fuzz-artifacts/$t.log"
  [ -x "$bin" ] || { echo "fuzz: $bin missing (build target 'fuzzers')"; exit 2; }
  mkdir -p "$work" "$arts"
  start=$(date +%s)
  set +e
  # stdin from /dev/null: a module.yaml may name /dev/stdin as a TLS file.
  "$bin" -max_total_time="$seconds" -timeout=10 -rss_limit_mb=2560 \
    -max_len=65536 -print_final_stats=1 -dict="$(dict_of "$t")" \
    -artifact_prefix="$arts/" "$work" "$seeds" >"$log" 2>&1 </dev/null
  rc=$?
  set -e
  secs=$(( $(date +%s) - start ))
  execs=$(sed -n 's/^stat::number_of_executed_units: *//p' "$log" | tail -1)
  cov=$(grep -o "cov: [0-9]*" "$log" | tail -1 | cut -d" " -f2 || true)
  units=$(ls "$work" | wc -l)
  if [ "$rc" -eq 0 ]; then
    echo "fuzz: $t OK: ${execs:-?} executions in ${secs}s" \
         "($(( ${execs:-0} / (secs > 0 ? secs : 1) ))/s), coverage ${cov:-?}," \
         "$units new inputs"
  else
    failed=$((failed + 1))
    echo "fuzz: $t FAILED (exit $rc) after ${execs:-?} executions in ${secs}s"
    grep -E 'ERROR:|runtime error|FUZZ CHECK FAILED|SUMMARY|^ +#[0-9]+ ' "$log" | head -40 || true
    echo "fuzz: crashing input(s): $(ls "$arts" | sed "s|^|$arts/|" | tr '\n' ' ')"
    echo "fuzz: full log: $log"
  fi
  if [ -n "$merge" ] && [ "$rc" -eq 0 ]; then
    "$bin" -merge=1 "$seeds" "$work" >"$build/fuzz-artifacts/$t.merge.log" 2>&1 </dev/null
    echo "fuzz: $t corpus now $(ls "$seeds" | wc -l) files"
  fi
done
exit $(( failed > 0 ))
