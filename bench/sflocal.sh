#!/usr/bin/env bash
# bench/sflocal.sh - throughput and latency of sf-local + the greeter on
# loopback, end to end over HTTP (ingress PUT -> greeter -> egress record).
#
#   bench/sflocal.sh              full run (~1-3 min, most of it the durable part)
#   bench/sflocal.sh --quick      smoke run (a few seconds of load)
#
# What it measures (the load generator is bench/sflocal_load.c, epoll,
# one thread, keep-alive):
#   throughput  N greetings to K names over C connections, as fast as the
#               ingress accepts them, while one connection drains the egress
#               as JSON lines; reports the ingress acceptance rate and the
#               end-to-end rate (all N egress records produced, from
#               /metrics sflocal_egress_records_total), batching from
#               /metrics, and CPU time per message of each process.
#   latency     closed loop: PUT one greeting, GET /greetings?wait=5 for its
#               record; M rounds after a warm-up; p50/p90/p99/max.
#   under load  open loop at --load-rate msg/s (default: half the measured
#               in-memory end-to-end rate); latency per message from the
#               start of its PUT to the client reading its egress record.
#   batched     the throughput run again with the ingress records sent B per
#               request (JSON lines to /topics/names, as a Kafka producer
#               batches; --batch B, 0 skips it), in memory and durable.
#   durable     the same throughput and latency runs with --data DIR
#               (SQLite WAL, synced per group commit), with smaller counts; the egress
#               is drained after the run there, and that drain is timed.
#
# Options:
#   --quick             N=3000 K=300 M=300, durable N=300 M=50
#   -n N  -k K  -c C    throughput: messages, names, connections (20000 1000 32)
#   -m M                latency rounds (2000; warm-up 200)
#   --durable-n N       durable throughput messages (2000); --durable-m M (300)
#   --batch B           records per request in the batched rows (100; 0: none)
#   --load-rate R       open-loop rate for "latency under load" (0 = half of
#                       the measured end-to-end rate)
#   --no-durable        skip the --data runs
#   --perf              perf record the in-memory throughput run (system
#                       wide, -g) and save the top of the report
#   --greeter-threads N (default 2)
#   --build-dir DIR     (default build-sflbench)    --skip-build
# Output: a table on stdout, everything saved to
# bench/results/sflocal-<UTC timestamp>.txt (gitignored). Exit status 0 when
# every message got through (no lost or wrong records, no HTTP errors).
set -euo pipefail

here="$(cd "$(dirname "$0")" && pwd)"
root="$(dirname "$here")"
n=20000 k=1000 c=32 m=2000 w=200 dn=2000 dm=300 dw=20 load_rate=0
durable=1 perf=0 quick=0 gthreads=2 skip_build=0 batch=100
build_dir="$root/build-sflbench"
orig_args="$*"
usage() { sed -n '2,42p' "$0" | sed 's/^# \{0,1\}//'; }
while [ $# -gt 0 ]; do
  case "$1" in
    --quick) quick=1; n=3000; k=300; m=300; w=50; dn=300; dm=50; dw=10; shift ;;
    -n) n="$2"; shift 2 ;;
    -k) k="$2"; shift 2 ;;
    -c) c="$2"; shift 2 ;;
    -m) m="$2"; shift 2 ;;
    --durable-n) dn="$2"; shift 2 ;;
    --durable-m) dm="$2"; shift 2 ;;
    --load-rate) load_rate="$2"; shift 2 ;;
    --batch) batch="$2"; shift 2 ;;
    --no-durable) durable=0; shift ;;
    --perf) perf=1; shift ;;
    --greeter-threads) gthreads="$2"; shift 2 ;;
    --build-dir) build_dir="$2"; shift 2 ;;
    --skip-build) skip_build=1; shift ;;
    -h|--help) usage; exit 0 ;;
    *) echo "sflocal.sh: unknown option $1" >&2; usage >&2; exit 2 ;;
  esac
done
# Every name must be visited at least twice: the greeter's first visit
# schedules a 60 s reminder that the second visit cancels.
[ "$n" -ge $((2 * k)) ] || k=$((n / 2))
dk=$k
[ "$dn" -ge $((2 * dk)) ] || dk=$((dn / 2))
[ "$k" -gt 0 ] && [ "$dk" -gt 0 ] || { echo "sflocal.sh: -n and --durable-n must be >= 2" >&2; exit 2; }

die() { echo "sflocal.sh: $*" >&2; exit 1; }
work="$(mktemp -d /tmp/sflbench.XXXXXX)"
pids=()
cleanup() {
  for p in "${pids[@]}"; do kill "$p" 2>/dev/null || true; done
  for p in "${pids[@]}"; do wait "$p" 2>/dev/null || true; done
  rm -rf "$work"
}
trap cleanup EXIT

# ---- build --------------------------------------------------------------------
if [ "$skip_build" = 0 ]; then
  cmake -S "$root" -B "$build_dir" -G Ninja -DCMAKE_BUILD_TYPE=Release >/dev/null
  ninja -C "$build_dir" sf-local greeter sflocal_load >/dev/null
fi
sfl="$build_dir/runtime/sf-local"
greeter="$build_dir/examples/greeter/greeter"
load="$build_dir/bench/sflocal_load"
for b in "$sfl" "$greeter" "$load"; do [ -x "$b" ] || die "missing $b (build first)"; done

mkdir -p "$here/results"
out="$here/results/sflocal-$(date -u +%Y%m%dT%H%M%SZ).txt"
exec > >(tee "$out") 2>&1
# Lines for the table are collected here and printed at the end.
table="$work/table"; : > "$table"
fail=0

free_port() {
  python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'
}
ticks() { awk '{print $14+$15}' "/proc/$1/stat" 2>/dev/null || echo 0; }
hz=$(getconf CLK_TCK)

# start_stack [DATA_DIR]: greeter + sf-local on fresh ports; sets gpid spid I E
start_stack() {
  local gport; gport="$(free_port)"
  sed "s#http://127.0.0.1:8000/#http://127.0.0.1:$gport/#" \
    "$root/examples/greeter/module.yaml" > "$work/module.yaml"
  "$greeter" --listen "127.0.0.1:$gport" --threads "$gthreads" > "$work/greeter.log" 2>&1 &
  gpid=$!; pids+=("$gpid")
  local extra=()
  [ -n "${1:-}" ] && extra=(--data "$1")
  "$sfl" --module "$work/module.yaml" --ingress-port 0 --egress-port 0 "${extra[@]}" \
    > "$work/sfl.log" 2>&1 &
  spid=$!; pids+=("$spid")
  I="" E=""
  for _ in $(seq 100); do
    if grep -q 'ingress http' "$work/sfl.log" 2>/dev/null; then
      I="$(grep -o 'ingress http://[0-9.:]*' "$work/sfl.log" | head -1 | cut -d' ' -f2)"
      E="$(grep -o 'egress http://[0-9.:]*' "$work/sfl.log" | head -1 | cut -d' ' -f2)"
      break
    fi
    kill -0 "$spid" 2>/dev/null || break
    sleep 0.05
  done
  [ -n "$I" ] || { cat "$work/sfl.log"; die "sf-local did not start"; }
  for _ in $(seq 100); do
    (exec 3<>"/dev/tcp/127.0.0.1/$gport") 2>/dev/null && return 0
    sleep 0.05
  done
  die "greeter did not listen on $gport"
}
stop_stack() {
  kill "$spid" "$gpid" 2>/dev/null || true
  wait "$spid" 2>/dev/null || true
  wait "$gpid" 2>/dev/null || true
}

# kv KEY: a value from the last RESULT line in $res
kv() { sed -n 's/.* '"$1"'=\([^ ]*\).*/\1/p' <<<" $res" | tail -1; }

# run_push LABEL ARGS...: runs the push mode, with CPU accounting
run_push() {
  local label="$1"; shift
  local s0 g0 s1 g1 rc=0
  s0=$(ticks "$spid"); g0=$(ticks "$gpid")
  "$load" push --ingress "$I" --egress "$E" "$@" > "$work/push.out" 2>&1 || rc=$?
  s1=$(ticks "$spid"); g1=$(ticks "$gpid")
  sed 's/^/  /' "$work/push.out" | grep -v '^  RESULT'
  res="$(grep '^RESULT' "$work/push.out" | tail -1)"
  [ "$rc" = 0 ] || { echo "  !! $label: not every message got through (exit $rc)"; fail=1; }
  local nn; nn=$(kv n)
  sfl_us=$(awk -v t=$((s1 - s0)) -v hz="$hz" -v n="$nn" 'BEGIN{printf "%.0f", t/hz*1e6/n}')
  gr_us=$(awk -v t=$((g1 - g0)) -v hz="$hz" -v n="$nn" 'BEGIN{printf "%.0f", t/hz*1e6/n}')
  lg_us=$(awk -v t="$(kv loadgen_cpu_s)" -v n="$nn" 'BEGIN{printf "%.0f", t*1e6/n}')
  echo "  CPU per message: sf-local ${sfl_us} us, greeter ${gr_us} us, load generator ${lg_us} us (10 ms ticks)"
}

run_probe() {
  local rc=0
  "$load" probe --ingress "$I" --egress "$E" "$@" > "$work/probe.out" 2>&1 || rc=$?
  sed 's/^/  /' "$work/probe.out" | grep -v '^  RESULT'
  res="$(grep '^RESULT' "$work/probe.out" | tail -1)"
  [ "$rc" = 0 ] || { echo "  !! probe: errors or wrong records (exit $rc)"; fail=1; }
}

row() { printf '%s\n' "$*" >> "$table"; }

# ---- header --------------------------------------------------------------------
echo "== sf-local + greeter benchmark ($(date -u +%Y-%m-%dT%H:%M:%SZ)) =="
echo "command: bench/sflocal.sh $orig_args"
echo "commit: $(git -C "$root" rev-parse --short HEAD 2>/dev/null || echo "${SFLBENCH_COMMIT:-?}")$(git -C "$root" status --porcelain runtime sdk server examples 2>/dev/null | grep -q . && echo ' (working tree has uncommitted changes in runtime/sdk/server/examples)')"
echo "machine: $(nproc) CPU(s), $(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2 | sed 's/^ //'), load average before: $(cut -d' ' -f1-3 /proc/loadavg)"
echo "caveat: load generator, sf-local and the greeter share these $(nproc) CPUs (no pinning), and anything else running on the machine competes too; CPU us/message is the steadier figure."
echo "settings: N=$n K=$k C=$c, latency M=$m (warm-up $w), durable N=$dn K=$dk M=$dm, greeter --threads $gthreads, maxNumBatchRequests 1000 (examples/greeter/module.yaml)"
echo

# ---- in memory ------------------------------------------------------------------
echo "-- in memory --"
start_stack
echo "warm-up (missing-state round trip, connections):"
run_push warmup -n $((k * 2)) -k "$k" -c "$c" --prefix warm >/dev/null
echo "throughput:"
perf_pid=""
if [ "$perf" = 1 ] && command -v perf >/dev/null; then
  perf record -F 499 -a -g -o "$work/perf.data" > "$work/perf.log" 2>&1 &
  perf_pid=$!
  sleep 0.3
fi
run_push mem -n "$n" -k "$k" -c "$c" --prefix u
if [ -n "$perf_pid" ]; then
  kill -INT "$perf_pid"; wait "$perf_pid" 2>/dev/null || true
  perf_report="$here/results/$(basename "$out" .txt)-perf.txt"
  ( set +o pipefail
    echo "# perf record -a -g during the in-memory throughput run; sf-local pid $spid, greeter pid $gpid"
    echo "## by process"
    perf report -i "$work/perf.data" --no-children --sort comm,pid -g none --stdio 2>/dev/null | grep -v '^#' | grep -v '^$' | head -25
    echo "## sf-local, by symbol"
    perf report -i "$work/perf.data" --no-children --pid "$spid" --sort dso,symbol -g none --stdio 2>/dev/null | grep -v '^#' | grep -v '^$' | head -60
    echo "## sf-local, callers (children)"
    perf report -i "$work/perf.data" --children --pid "$spid" --sort symbol -g none --stdio 2>/dev/null | grep -v '^#' | grep -v '^$' | head -60
    echo "## the greeter, by symbol"
    perf report -i "$work/perf.data" --no-children --pid "$gpid" --sort dso,symbol -g none --stdio 2>/dev/null | grep -v '^#' | grep -v '^$' | head -40
  ) > "$perf_report"
  echo "  perf report saved to $perf_report"
fi
mem_e2e=$(kv e2e_rate)
row "in memory|throughput, C=$c, N=$n, K=$k|$(kv ingress_rate)|$(kv e2e_rate)|$(kv lat_p50)|$(kv lat_p90)|$(kv lat_p99)|$(kv lat_max)|$(kv invocations)/$(kv batches) = $(kv inv_per_batch), max $(kv batch_max)|$sfl_us / $gr_us / $lg_us"
bstats="batching (in memory, throughput run): invocations $(kv invocations), batches $(kv batches), $(kv inv_per_batch) invocations/batch, sflocal_batch_size_max $(kv batch_max); queued max $(kv queued_max), in flight max $(kv inflight_max); missing-state round trips $(kv missing_state), retries $(kv retries), 503s $(kv busy503)"

if [ "$batch" -gt 0 ]; then
  echo "batched ingress: $n messages to $k names, $batch per request (JSON lines to /topics/names):"
  run_push batched -n "$n" -k "$k" -c "$c" --batch "$batch" --prefix b
  row "in memory|batched ingress, $batch/request, C=$c, N=$n, K=$k|$(kv ingress_rate)|$(kv e2e_rate)|$(kv lat_p50)|$(kv lat_p90)|$(kv lat_p99)|$(kv lat_max)|$(kv invocations)/$(kv batches) = $(kv inv_per_batch), max $(kv batch_max)|$sfl_us / $gr_us / $lg_us"
fi

hk=10 hn=$(( n / 2 ))
echo "hot keys (batching): $hn messages to $hk names:"
run_push hot -n "$hn" -k "$hk" -c "$c" --prefix h
row "in memory|hot keys, C=$c, N=$hn, K=$hk|$(kv ingress_rate)|$(kv e2e_rate)|$(kv lat_p50)|$(kv lat_p90)|$(kv lat_p99)|$(kv lat_max)|$(kv invocations)/$(kv batches) = $(kv inv_per_batch), max $(kv batch_max)|$sfl_us / $gr_us / $lg_us"
bstats="$bstats
batching (in memory, hot keys K=$hk): invocations $(kv invocations), batches $(kv batches), $(kv inv_per_batch) invocations/batch, sflocal_batch_size_max $(kv batch_max) (a gauge since start); queued max $(kv queued_max), in flight max $(kv inflight_max), 503s $(kv busy503)"

echo "latency (closed loop, one message at a time):"
run_probe -m "$m" -w "$w" --prefix p
row "in memory|closed loop, 1 in flight, M=$m|-|-|$(kv p50)|$(kv p90)|$(kv p99)|$(kv max)|-|-"

rate="$load_rate"
if [ "$rate" = 0 ]; then rate=$(awk -v r="$mem_e2e" 'BEGIN{printf "%.0f", r/2}'); fi
ln=$(awk -v r="$rate" -v q="$quick" 'BEGIN{s = q ? 2 : 5; x = int(r*s); if (x < 200) x = 200; print x}')
echo "latency under load (open loop at $rate msg/s, $ln messages):"
run_push load -n "$ln" -k "$k" -c "$c" --rate "$rate" --prefix l
row "in memory|open loop at $rate msg/s, N=$ln|$(kv ingress_rate)|$(kv e2e_rate)|$(kv lat_p50)|$(kv lat_p90)|$(kv lat_p99)|$(kv lat_max)|$(kv invocations)/$(kv batches) = $(kv inv_per_batch), max $(kv batch_max)|$sfl_us / $gr_us / $lg_us"
stop_stack
echo

# ---- durable ---------------------------------------------------------------------
if [ "$durable" = 1 ]; then
  echo "-- durable (--data, SQLite WAL, synced per group commit) --"
  data="$work/data"
  mkdir -p "$data"
  echo "data dir on: $(df -P "$data" | awk 'NR==2{print $1" ("$6")"}'), $(stat -f -c %T "$data")"
  start_stack "$data"
  run_push warmup -n 20 -k 10 -c "$c" --prefix warm >/dev/null
  echo "throughput (egress drained after the run, timed separately):"
  run_push dur -n "$dn" -k "$dk" -c "$c" --prefix u --no-drain
  row "durable|throughput, C=$c, N=$dn, K=$dk|$(kv ingress_rate)|$(kv e2e_rate)|-|-|-|-|$(kv invocations)/$(kv batches) = $(kv inv_per_batch), max $(kv batch_max)|$sfl_us / $gr_us / $lg_us"
  dur_drain="durable egress drain (JSON lines, max=10000, after the run): $(kv drained) records in $(kv drain_s) s = $(kv drain_rate) records/s"
  bstats="$bstats
batching (durable, throughput run): invocations $(kv invocations), batches $(kv batches), $(kv inv_per_batch) invocations/batch, max $(kv batch_max); queued max $(kv queued_max), in flight max $(kv inflight_max)"
  if [ "$batch" -gt 0 ]; then
    echo "batched ingress, $batch per request (egress drained after the run):"
    run_push durbatched -n "$dn" -k "$dk" -c "$c" --batch "$batch" --prefix b --no-drain
    row "durable|batched ingress, $batch/request, C=$c, N=$dn, K=$dk|$(kv ingress_rate)|$(kv e2e_rate)|-|-|-|-|$(kv invocations)/$(kv batches) = $(kv inv_per_batch), max $(kv batch_max)|$sfl_us / $gr_us / $lg_us"
  fi
  echo "latency (closed loop):"
  run_probe -m "$dm" -w "$dw" --prefix p
  row "durable|closed loop, 1 in flight, M=$dm|-|-|$(kv p50)|$(kv p90)|$(kv p99)|$(kv max)|-|-"
  stop_stack
  echo
fi

# ---- table -------------------------------------------------------------------------
echo "== results =="
echo "load average after: $(cut -d' ' -f1-3 /proc/loadavg) on $(nproc) CPU(s), shared by the load generator, sf-local and the greeter (and whatever else runs)"
{
  echo "state|run|ingress msg/s|end-to-end msg/s|p50 ms|p90 ms|p99 ms|max ms|invocations/batches|CPU us/msg sf-local / greeter / loadgen"
  cat "$table"
} | column -t -s '|' -o ' | '
echo
echo "ingress msg/s: messages answered 202 per second (batched rows: a request's records count once it is answered);"
echo "               end-to-end: N / time until sflocal_egress_records_total grew by N."
echo "latency: throughput/open-loop rows = start of the PUT to the client reading the record (JSON-lines drain);"
echo "         closed-loop rows = PUT + GET /greetings?wait=5, one message at a time."
echo "$bstats"
[ -n "${dur_drain:-}" ] && echo "$dur_drain"
echo "saved to $out"
exit "$fail"
