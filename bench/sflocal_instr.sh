#!/usr/bin/env bash
# bench/sflocal_instr.sh - sf-local's instructions per message (callgrind's
# instruction count, user space), for A/B comparisons of sf-local binaries
# or options where wall-clock rates on a shared machine are too noisy: the
# greeter of bench/sflocal.sh (ingress PUT -> greeter -> egress record),
# the same messages for every variant, the variants run in turn R times.
#
#   bench/sflocal_instr.sh [-n N] [-k K] [-c C] [--runs R] [--build-dir DIR]
#                          [--loop] LABEL=SF_LOCAL_BINARY[,EXTRA_ARG...] ...
#
#   --loop  count only the engine's loop thread (sfl_engine_run, inclusive:
#           batches, the calls to the function, replies, routing), not the
#           HTTP front's threads, whose count also follows the wall time
#           (the load generator polls /metrics every 20 ms, the egress
#           drain waits): steadier, and where the engine's hooks are
#
#   e.g. (docs/tracing.md, "Cost"): tracing hooks compiled out, compiled
#   in and off, on
#     bench/sflocal_instr.sh out=/tmp/b/sf-local in=build/runtime/sf-local \
#       on=build/runtime/sf-local,--trace-out,/dev/null
#
# Per run: two fresh stacks (greeter + sf-local under valgrind
# --tool=callgrind), one pushed N/2 messages, the other N (bench/sflocal_load
# push, every record drained), then stopped with SIGTERM; instructions per
# message = (Ir(N) - Ir(N/2)) / (N/2), so start-up and shutdown cancel
# out. By default every message goes to a name of its own (-k 0): each
# batch then holds one message, and the count does not depend on how
# timing batched them (with fewer names it does, by +-15 %). Prints each run's figure and,
# per variant, the median and the spread (min-max) with the load average.
# The greeter and the load generator come from --build-dir (default
# build). Needs valgrind. (perf stat's hardware counters are not available
# on every VM; callgrind's count is exact and independent of the load.)
set -euo pipefail

here="$(cd "$(dirname "$0")" && pwd)"
root="$(dirname "$here")"
n=2000 k=0 c=16 runs=3 scope=process
build_dir="$root/build"
variants=()
while [ $# -gt 0 ]; do
  case "$1" in
    -n) n="$2"; shift 2 ;;
    -k) k="$2"; shift 2 ;;
    -c) c="$2"; shift 2 ;;
    --runs) runs="$2"; shift 2 ;;
    --build-dir) build_dir="$2"; shift 2 ;;
    --loop) scope=loop; shift ;;
    -h|--help) sed -n '2,23p' "$0" | sed 's/^# \{0,1\}//'; exit 0 ;;
    *=*) variants+=("$1"); shift ;;
    *) echo "sflocal_instr.sh: unknown argument '$1' (see --help)" >&2; exit 2 ;;
  esac
done
[ "$k" -gt 0 ] || k="$n"
[ ${#variants[@]} -gt 0 ] || { echo "sflocal_instr.sh: no LABEL=BINARY given" >&2; exit 2; }
greeter="$build_dir/examples/greeter/greeter"
load="$build_dir/bench/sflocal_load"
for b in "$greeter" "$load"; do [ -x "$b" ] || { echo "missing $b (build first)" >&2; exit 2; }; done
command -v valgrind >/dev/null || { echo "valgrind is not installed" >&2; exit 2; }

# shellcheck source=instr_lib.sh
. "$here/instr_lib.sh" # work, pids, free_port, instr_summary

# stack_ir M BINARY EXTRA...: sf-local's instructions (callgrind) in a fresh
# stack that takes M messages
stack_ir() {
  local m="$1" sfl="$2"; shift 2
  local gport spid gpid I="" E
  gport="$(free_port)"
  sed "s#http://127.0.0.1:8000/#http://127.0.0.1:$gport/#" \
    "$root/examples/greeter/module.yaml" > "$work/module.yaml"
  "$greeter" --listen "127.0.0.1:$gport" --threads 2 > "$work/greeter.log" 2>&1 &
  gpid=$!; pids+=("$gpid")
  rm -f "$work/cg.out"
  valgrind --tool=callgrind --callgrind-out-file="$work/cg.out" \
    "$sfl" --module "$work/module.yaml" --ingress-port 0 --egress-port 0 "$@" \
    > "$work/sfl.log" 2>&1 &
  spid=$!; pids+=("$spid")
  for _ in $(seq 600); do
    I="$(grep -o 'ingress http://[0-9.:]*' "$work/sfl.log" 2>/dev/null | head -1 | cut -d' ' -f2)"
    [ -n "$I" ] && break
    sleep 0.05
  done
  [ -n "$I" ] || { cat "$work/sfl.log" >&2; echo "sf-local did not start" >&2; exit 1; }
  E="$(grep -o 'egress http://[0-9.:]*' "$work/sfl.log" | head -1 | cut -d' ' -f2)"
  for _ in $(seq 100); do (exec 3<>"/dev/tcp/127.0.0.1/$gport") 2>/dev/null && break; sleep 0.05; done
  "$load" push --ingress "$I" --egress "$E" -n "$m" -k "$k" -c "$c" --timeout 600 \
    > "$work/push.out" 2>&1 ||
    { cat "$work/push.out" >&2; echo "not every message got through" >&2; exit 1; }
  kill -TERM "$spid"; wait "$spid" 2>/dev/null || true
  kill "$gpid" 2>/dev/null || true; wait "$gpid" 2>/dev/null || true
  if [ "$scope" = loop ]; then
    callgrind_annotate --inclusive=yes --threshold=100 "$work/cg.out" 2>/dev/null |
      awk '/sfl_engine_run/ { gsub(",", "", $1); print $1; exit }'
  else
    sed -n 's/^summary: *\([0-9]*\).*/\1/p' "$work/cg.out"
  fi
}

# one_run LABEL BINARY EXTRA...: instructions per message, by difference
one_run() {
  shift
  local half=$((n / 2)) a b
  a="$(stack_ir "$half" "$@")"
  b="$(stack_ir "$n" "$@")"
  awk -v a="$a" -v b="$b" -v d="$((n - half))" 'BEGIN { printf "%.0f", (b - a) / d }'
}

echo "== sf-local instructions per message ($(date -u +%Y-%m-%dT%H:%M:%SZ)): N=$n K=$k C=$c, $runs run(s) per variant, counting the $([ "$scope" = loop ] && echo "engine loop (sfl_engine_run)" || echo "whole process")"
instr_variants instructions/message "$runs" "${variants[@]}"
