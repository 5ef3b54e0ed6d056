#!/usr/bin/env bash
# bench/hotel_instr.sh - instructions per hotel request (callgrind's count,
# user space) of sf-local and of the hotel function server under the
# reference mix, and where they go: the figure to compare before and after
# a change when wall-clock rates on the shared machine are too noisy.
#
#   bench/hotel_instr.sh [--build-dir DIR] [--rate R] [--duration S]
#                        [--top N] [--sf-local BINARY] [--hotel BINARY]
#
# One bounded run: the hotel server and sf-local --ir, both under valgrind
# --tool=callgrind, the data loaded (hotel-init), the counters zeroed
# (callgrind_control -i on), then bench/hotel_load's mix at R requests/s
# (default 20) for S seconds (default 10), the counters dumped
# (callgrind_control --dump). Prints, per process, the instructions per
# request sent (the driver's count, warm-up included) and the top N (15)
# functions by exclusive instructions per request (callgrind_annotate).
# Kernel time (syscalls, TCP) is not in the count: see `perf` or the CPU
# columns of bench/hotel.sh for that. Needs valgrind.
set -euo pipefail

here="$(cd "$(dirname "$0")" && pwd)"
root="$(dirname "$here")"
build_dir="$root/build" rate=20 duration=10 top=15 sfl="" hotel=""
while [ $# -gt 0 ]; do
  case "$1" in
    --build-dir) build_dir="$2"; shift 2 ;;
    --rate) rate="$2"; shift 2 ;;
    --duration) duration="$2"; shift 2 ;;
    --top) top="$2"; shift 2 ;;
    --sf-local) sfl="$2"; shift 2 ;;
    --hotel) hotel="$2"; shift 2 ;;
    -h|--help) sed -n '2,18p' "$0" | sed 's/^# \{0,1\}//'; exit 0 ;;
    *) echo "hotel_instr.sh: unknown argument '$1' (see --help)" >&2; exit 2 ;;
  esac
done
[ -n "$sfl" ] || sfl="$build_dir/runtime/sf-local"
[ -n "$hotel" ] || hotel="$build_dir/examples/hotel/hotel"
init="$build_dir/examples/hotel/hotel-init"
load="$(ls -t "$build_dir/tests/hotel/hotel_load" "$build_dir/bench/hotel_load" 2>/dev/null | head -1 || true)"
for b in "$sfl" "$hotel" "$init" "$load"; do
  [ -x "$b" ] || { echo "hotel_instr.sh: missing '$b' (build first)" >&2; exit 2; }
done
command -v valgrind >/dev/null || { echo "hotel_instr.sh: valgrind is not installed" >&2; exit 2; }

# work, pids (killed at exit), free_port
source "$here/instr_lib.sh"
wait_http() { # URL what
  for _ in $(seq 1 1200); do curl -sf -o /dev/null "$1" && return 0; sleep 0.1; done
  echo "hotel_instr.sh: $2 did not answer $1 in 120 s" >&2; exit 1
}
# Instrumented only from the load on (callgrind_control -i on): the start
# and the data loading run at valgrind's uninstrumented speed.
cg() { exec valgrind --tool=callgrind --instr-atstart=no --callgrind-out-file="$work/$1.cg" "${@:2}"; }

fn_port="$(free_port)" port="$(free_port)"
cg hotel "$hotel" --listen "127.0.0.1:$fn_port" --threads 2 > "$work/hotel.log" 2>&1 &
pids+=($!) hotel_pid=$!
sed "s/127.0.0.1:8000/127.0.0.1:$fn_port/" "$root/examples/hotel/module.yaml" > "$work/module.yaml"
cg sflocal "$sfl" --module "$work/module.yaml" --ir "$root/examples/hotel/hotel.ir.json" \
  --ingress-port "$port" --egress-port 0 > "$work/sf-local.log" 2>&1 &
pids+=($!) sfl_pid=$!
url="http://127.0.0.1:$port"
wait_http "$url/health" sf-local
"$init" --url "$url" > "$work/init.log"
callgrind_control -i on "$hotel_pid" > /dev/null 2>&1 ||
  { echo "hotel_instr.sh: callgrind_control -i on failed" >&2; exit 1; }
callgrind_control -i on "$sfl_pid" > /dev/null 2>&1 ||
  { echo "hotel_instr.sh: callgrind_control -i on failed" >&2; exit 1; }
echo "hotel_instr.sh: the mix at $rate req/s for $duration s, load average $(cut -d' ' -f1-3 /proc/loadavg)"
"$load" --url "$url" --endpoint mix --rate "$rate" --duration "$duration" --connections 16 \
  --seed 1 > "$work/load.txt" 2>&1 || { cat "$work/load.txt"; exit 1; }
sent="$(awk '/^RESULT endpoint=all /' "$work/load.txt" | tr ' ' '\n' | awk -F= '$1 == "sent" { print $2 }')"
[ -n "$sent" ] && [ "$sent" -gt 0 ] || { cat "$work/load.txt"; exit 1; }
grep '^RESULT endpoint=all ' "$work/load.txt"
callgrind_control --dump "$hotel_pid" > /dev/null 2>&1 ||
  { echo "hotel_instr.sh: callgrind_control --dump failed" >&2; exit 1; }
callgrind_control --dump "$sfl_pid" > /dev/null 2>&1 ||
  { echo "hotel_instr.sh: callgrind_control --dump failed" >&2; exit 1; }


# report NAME: instructions per request, then the top functions
report() {
  local f
  f="$(ls -t "$work/$1.cg"* 2>/dev/null | head -1 || true)"
  [ -n "$f" ] || { echo "hotel_instr.sh: no dump for $1" >&2; return 1; }
  local total
  total="$(awk '/^summary:/ { print $2 }' "$f")"
  echo
  echo "== $1: $(awk -v t="$total" -v n="$sent" 'BEGIN { printf "%.0f", t / n }') instructions per request ($total over $sent requests)"
  callgrind_annotate --threshold=100 "$f" 2>/dev/null |
    awk -v n="$sent" -v top="$top" '
      /^-+$/ { next }
      /file:function/ { on = 1; next }
      on && $1 ~ /^[0-9,]+$/ && k < top {
        v = $1; gsub(",", "", v); line = $0
        sub(/^ *[0-9,]+ +\( *[0-9.]+%\) +/, "", line)
        printf "%10.0f  %s\n", v / n, line; k++ }'
  # keep the dump for a closer look (callgrind_annotate --tree=caller)
  [ -z "${HOTEL_INSTR_KEEP:-}" ] || cp "$f" "$HOTEL_INSTR_KEEP.$1"
}
report sflocal
report hotel
