#!/usr/bin/env bash
# bench/server_instr.sh - a function server's instructions per request
# (callgrind's count, user space, every thread), variant against variant:
# the A/B measure for the HTTP request path where wall-clock rates on the
# shared machine are too noisy (perf's counters are not available in this
# VM). The same request body for every variant, the variants in turn R
# times.
#
#   bench/server_instr.sh --body FILE [--rate R] [--seconds S] [-c C]
#                         [--runs R] [--build-dir DIR] [--keep DIR]
#                         LABEL=SERVER_BINARY[,EXTRA_ARG...] ...
#
#   e.g. ours against the bare libmicrohttpd ceiling, batch 1:
#     bench/server_instr.sh --body /tmp/req/body-1.bin \
#       ours=build/bench/bench_ours,--threads,1,--quiet \
#       bare=build/bench/bench_bare_mhd,--threads,1
#   (request bodies: benchtool.py make-requests --out /tmp/req --batches 1,100)
#
# Per run: the server starts under valgrind --tool=callgrind with
# `--listen 127.0.0.1:PORT` appended; bench_openloop POSTs the body for 1 s
# (warm-up: pools, slots, arenas), callgrind's counters are zeroed, then
# bench_openloop POSTs it at --rate R (400) requests/s for --seconds S (5)
# over -c C (4) keep-alive connections; the counters are dumped and
# instructions per request = instructions / requests sent (every one must
# get a 200). Start-up and shutdown are not counted; the idle work of the
# measured seconds is (a few poll wake-ups). At a fixed low rate most
# requests arrive alone, so each pays a whole poll round: the count is
# the unloaded path, the same for every variant. --keep DIR keeps each
# run's callgrind file (callgrind_annotate it for the profile). Prints
# each run's figure and, per variant, the median and the spread.
set -euo pipefail

here="$(cd "$(dirname "$0")" && pwd)"
root="$(dirname "$here")"
body="" rate=400 seconds=5 c=4 runs=3 keep=""
build_dir="$root/build"
variants=()
while [ $# -gt 0 ]; do
  case "$1" in
    --body) body="$2"; shift 2 ;;
    --rate) rate="$2"; shift 2 ;;
    --seconds) seconds="$2"; shift 2 ;;
    -c) c="$2"; shift 2 ;;
    --runs) runs="$2"; shift 2 ;;
    --build-dir) build_dir="$2"; shift 2 ;;
    --keep) keep="$2"; shift 2 ;;
    -h|--help) sed -n '2,30p' "$0" | sed 's/^# \{0,1\}//'; exit 0 ;;
    *=*) variants+=("$1"); shift ;;
    *) echo "server_instr.sh: unknown argument '$1' (see --help)" >&2; exit 2 ;;
  esac
done
[ -n "$body" ] && [ -r "$body" ] || { echo "server_instr.sh: --body FILE needed" >&2; exit 2; }
[ ${#variants[@]} -gt 0 ] || { echo "server_instr.sh: no LABEL=BINARY given" >&2; exit 2; }
load="$build_dir/bench/bench_openloop"
[ -x "$load" ] || { echo "missing $load (build first)" >&2; exit 2; }
command -v valgrind >/dev/null || { echo "valgrind is not installed" >&2; exit 2; }
[ -z "$keep" ] || mkdir -p "$keep"

# shellcheck source=instr_lib.sh
. "$here/instr_lib.sh" # work, pids, free_port, instr_summary

# openloop PORT RATE SECONDS: POSTs the body; prints the requests sent
openloop() {
  local out
  out="$("$load" --url "http://127.0.0.1:$1/" --body "$body" --rate "$2" \
    --duration "$3" --warmup 0 --connections "$c" --timeout 10)" ||
    { echo "$out" >&2; echo "server_instr.sh: a request failed" >&2; exit 1; }
  sed -n 's/.* sent=\([0-9]*\).*/\1/p' <<<"$out"
}

# one_run LABEL BINARY EXTRA...: instructions per request
one_run() {
  local label="$1" port spid sent ir out; shift
  port="$(free_port)"
  out="$work/cg.out"
  rm -f "$out" "$out".*
  valgrind --tool=callgrind --callgrind-out-file="$out" "$@" \
    --listen "127.0.0.1:$port" > "$work/server.log" 2>&1 &
  spid=$!; pids+=("$spid")
  for _ in $(seq 600); do (exec 3<>"/dev/tcp/127.0.0.1/$port") 2>/dev/null && break; sleep 0.05; done
  openloop "$port" "$rate" 1 > /dev/null
  callgrind_control --zero "$spid" > /dev/null 2>&1
  sent="$(openloop "$port" "$rate" "$seconds")"
  callgrind_control --dump "$spid" > /dev/null 2>&1
  kill -TERM "$spid"; wait "$spid" 2>/dev/null || true
  # the dump after the zeroing is the file with the highest part number
  local dump
  dump="$(ls "$out".* 2>/dev/null | sort -t. -k3 -n | tail -1)"
  [ -n "$dump" ] || { cat "$work/server.log" >&2; echo "server_instr.sh: no callgrind dump" >&2; exit 1; }
  ir="$(sed -n 's/^summary: *\([0-9]*\).*/\1/p' "$dump")"
  [ -z "$keep" ] || cp "$dump" "$keep/$label.$(date +%s%N).callgrind"
  awk -v a="$ir" -v n="$sent" 'BEGIN { printf "%.0f", a / n }'
}

echo "== server instructions per request ($(date -u +%Y-%m-%dT%H:%M:%SZ)): body $(basename "$body") ($(stat -c %s "$body") bytes), $rate req/s for ${seconds}s over $c connections, $runs run(s) per variant"
instr_variants instructions/request "$runs" "${variants[@]}"
