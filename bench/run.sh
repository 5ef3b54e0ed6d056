#!/usr/bin/env bash
# bench/run.sh - THE benchmark command. See bench/README.md.
#
# Serves the same functions (greeter.fns/greet, the greeter of
# examples/greeter, and bench.fns/state, a read-modify-write of a blob of
# state) from
#   ours     our C SDK and server (bench/peers/c/ours.c: greeter_fn + state)
#   java     the official Java SDK 3.3.0 on Undertow, as the playground
#   go       the official Go SDK v3.3.0 on net/http
#   js       the official JavaScript SDK 3.3.0 on node's http
#   python   the official Python SDK 3.3.0 on aiohttp (web.run_app)
#   bare-mhd a bare libmicrohttpd server answering a fixed reply (the HTTP
#            ceiling; bench/bare_mhd.c)
# checks that each answers correctly (byte for byte against the official
# Python SDK's reply where they agree, decoded and compared always), then
# for every case (the greeter; the state function with each state size)
# and batch size (invocations per request) measures
#   closed loop  wrk, C connections always busy: maximum requests/s
#   open loop    bench_openloop at a constant rate (--load-fraction of the
#                slowest server's maximum for that case and batch):
#                p50/p99/p99.9 latency from the intended send time
# with the server's CPU time per invocation and peak RSS for each run,
# and writes bench/results/sdk-<UTC>.{txt,tsv,md,png}.
#
# Options:
#   --servers "ours java go js python bare-mhd"   any subset (default all)
#   --batches "1 10 100"
#   --states "100 50000 500000"   state sizes in bytes ("" = greeter only)
#   --duration S        seconds per measurement (default 10)
#   --connections C     connections of wrk and of the open-loop client (32)
#   --threads T         wrk threads (default 2)
#   --load-fraction F   open-loop rate = F x the slowest maximum (0.5)
#   --java-warmup S     JIT warm-up per request body before measuring (10)
#   --quick             CI smoke: batches "1 100", states "50000", 1 s runs,
#                       no warm-ups but Java's (1 s per body)
#   --no-pin            do not pin servers and load generators to CPUs
#   --server-threads N  worker threads of ours / bare-mhd (default: the
#                       number of CPUs the servers are pinned to)
#   --results-dir DIR   where the result files go (default bench/results)
#   --build-dir DIR     (default build-bench)
#   --skip-build        use the binaries already in the build dir
# Exit status: 0 when every check passed and no run had errors.
set -euo pipefail

here="$(cd "$(dirname "$0")" && pwd)"
root="$(dirname "$here")"
duration=10
connections=32
wrk_threads=2
quick=0
pin=1
server_threads=""
batches="1 10 100"
states="100 50000 500000"
servers="ours java go js python bare-mhd"
build_dir="$root/build-bench"
skip_build=0
load_fraction=0.5
java_warmup=10
warmup=1
results_dir="$here/results"
orig_args="$*"

usage() { sed -n '2,40p' "$0" | sed 's/^# \{0,1\}//'; }
while [ $# -gt 0 ]; do
  case "$1" in
    --duration) duration="$2"; shift 2 ;;
    --connections) connections="$2"; shift 2 ;;
    --threads) wrk_threads="$2"; shift 2 ;;
    --quick) quick=1; duration=1; batches="1 100"; states="50000"; java_warmup=1; warmup=0; shift ;;
    --results-dir) results_dir="$2"; shift 2 ;;
    --no-pin) pin=0; shift ;;
    --server-threads) server_threads="$2"; shift 2 ;;
    --batches) batches="$2"; shift 2 ;;
    --states) states="$2"; shift 2 ;;
    --servers) servers="$2"; shift 2 ;;
    --load-fraction) load_fraction="$2"; shift 2 ;;
    --java-warmup) java_warmup="$2"; shift 2 ;;
    --build-dir) build_dir="$2"; shift 2 ;;
    --skip-build) skip_build=1; shift ;;
    -h|--help) usage; exit 0 ;;
    *) echo "run.sh: unknown option $1" >&2; usage >&2; exit 2 ;;
  esac
done

log() { echo "run.sh: $*" >&2; }
die() { echo "run.sh: FAILED: $*" >&2; exit 1; }
has() { case " $servers " in *" $1 "*) return 0 ;; esac; return 1; }
t_start=$(date +%s)
for name in $servers; do
  case "$name" in ours|java|go|js|python|bare-mhd) ;; *) die "unknown server $name" ;; esac
done

# ---- dependencies, venv, builds -------------------------------------------
if ! command -v wrk >/dev/null || ! command -v cmake >/dev/null \
   || ! pkg-config --exists libmicrohttpd libprotobuf-c 2>/dev/null; then
  "$root/scripts/install-deps.sh" >&2
fi
PY="$("$root/scripts/python-env.sh")"

if [ "$skip_build" = 0 ]; then
  gen=()
  if [ ! -f "$build_dir/CMakeCache.txt" ] && command -v ninja >/dev/null; then
    gen=(-G Ninja)
  fi
  log "building Release in $build_dir"
  mkdir -p "$build_dir"
  blog="$build_dir/bench-build.log"
  { cmake -S "$root" -B "$build_dir" "${gen[@]}" -DCMAKE_BUILD_TYPE=Release \
      -DSF_BUILD_EXAMPLES=ON -DSF_BUILD_BENCH=ON \
    && cmake --build "$build_dir" --parallel "$(nproc)" --target bench_bare_mhd \
         --target bench_openloop --target bench_ours --target bench_handler; } >"$blog" 2>&1 \
    || { tail -30 "$blog" >&2; die "build failed (full log: $blog)"; }
fi
bare_bin="$build_dir/bench/bench_bare_mhd"
ours_bin="$build_dir/bench/bench_ours"
openloop_bin="$build_dir/bench/bench_openloop"
handler_bin="$build_dir/bench/bench_handler"
for b in "$bare_bin" "$ours_bin" "$openloop_bin"; do [ -x "$b" ] || die "no $b"; done

# The official SDKs' servers: built or installed on first use (caches in
# .cache/), one "lang<TAB>command" line each.
declare -A peer_cmd=()
peers=()
for name in $servers; do
  case "$name" in java|go|js|python) peers+=("$name") ;; esac
done
for lang in "${peers[@]}"; do
  line="$("$here/peers/build.sh" "$lang")" \
    || die "could not build/install the $lang peer (bench/peers/build.sh $lang)"
  peer_cmd[$lang]="${line#*$'\t'}"
done

# ---- CPU layout ------------------------------------------------------------
ncpu="$(nproc)"
server_cpus="" ; load_cpus=""
if [ "$pin" = 1 ] && [ "$ncpu" -ge 2 ] && command -v taskset >/dev/null; then
  half=$((ncpu / 2))
  server_cpus="0-$((half - 1))"
  load_cpus="$half-$((ncpu - 1))"
  [ "$half" = 1 ] && server_cpus=0
  [ "$((ncpu - half))" = 1 ] && load_cpus="$half"
  [ -n "$server_threads" ] || server_threads="$half"
else
  pin=0
  [ -n "$server_threads" ] || server_threads="$ncpu"
fi
# Command prefixes (not functions: a backgrounded function is a subshell,
# and $! must be the server's own pid so that kill reaches it).
on_server_cpus=() ; on_load_cpus=()
if [ "$pin" = 1 ]; then
  on_server_cpus=(taskset -c "$server_cpus")
  on_load_cpus=(taskset -c "$load_cpus")
fi

# ---- work dir, processes, cleanup -----------------------------------------
work="$(mktemp -d -t statefun-bench.XXXXXX)"
pids=()
cleanup() {
  for p in "${pids[@]}"; do kill "$p" 2>/dev/null || true; done
  for p in "${pids[@]}"; do wait "$p" 2>/dev/null || true; done
  rm -rf "$work"
}
trap cleanup EXIT
trap 'exit 130' INT TERM
forget_pid() { # reaped: never signal that number again
  local p keep=()
  for p in "${pids[@]}"; do [ "$p" = "$1" ] || keep+=("$p"); done
  pids=("${keep[@]}")
}

# Cases: the greeter, then the state function per size. body_of CASE BATCH.
cases="greet"
for s in $states; do cases="$cases state$s"; done
body_of() { if [ "$1" = greet ]; then echo "$work/body-$2.bin"; else echo "$work/body-$1-$2.bin"; fi; }
reply_of() { local b; b="$(body_of "$1" "$2")"; echo "${b%.bin}.reply"; }

"$PY" "$here/benchtool.py" make-requests --out "$work" --batches "${batches// /,}" \
  --state-sizes "${states// /,}"
for c in $cases; do
  for b in $batches; do
    "$PY" "$here/benchtool.py" expect-reply --body "$(body_of "$c" "$b")" --out "$(reply_of "$c" "$b")"
  done
done

# ---- servers ----------------------------------------------------------------
# Every server except bare-mhd is started once and stays up (idle while the
# others are measured: its CPU time and RSS are its own). bare-mhd answers
# one fixed reply, so it is started per request body.
declare -A url=() spid=()
wait_port() { # name port pid
  local i
  for i in $(seq 1 300); do
    if (exec 3<>"/dev/tcp/127.0.0.1/$2") 2>/dev/null; then return 0; fi
    kill -0 "$3" 2>/dev/null || { cat "$work/$1.log" >&2; die "$1 exited at start"; }
    sleep 0.1
  done
  die "$1 did not listen on port $2 within 30 s"
}
start_server() { # name [reply-file for bare-mhd]
  local name="$1" port pid
  port="$("$PY" "$here/benchtool.py" free-port)"
  case "$name" in
    ours) "${on_server_cpus[@]}" "$ours_bin" --listen "127.0.0.1:$port" \
            --threads "$server_threads" --quiet >"$work/$name.log" 2>&1 & ;;
    bare-mhd) "${on_server_cpus[@]}" "$bare_bin" --listen "127.0.0.1:$port" \
                --threads "$server_threads" --reply "$2" >"$work/$name.log" 2>&1 & ;;
    *) # shellcheck disable=SC2086  # the command line of build.sh, split on spaces
       "${on_server_cpus[@]}" ${peer_cmd[$name]} --port "$port" >"$work/$name.log" 2>&1 & ;;
  esac
  pid=$!
  pids+=("$pid")
  spid[$name]=$pid
  url[$name]="http://127.0.0.1:$port/statefun"
  wait_port "$name" "$port" "$pid"
}
stop_server() { # name
  local pid="${spid[$1]}"
  kill "$pid" 2>/dev/null || true
  wait "$pid" 2>/dev/null || true
  forget_pid "$pid"
}
check_server() { # name case batch [quiet]
  local name="$1" c="$2" b="$3" extra=()
  case "$name" in
    bare-mhd) extra=(--exact "$(reply_of "$c" "$b")") ;;
    *) extra=(--same-as "$(reply_of "$c" "$b")") ;;
  esac
  "$PY" "$here/benchtool.py" check --url "${url[$name]}" --body "$(body_of "$c" "$b")" \
    "${extra[@]}" >"$work/check.out" 2>&1 \
    || { cat "$work/check.out" >&2; die "$name answered $c batch $b wrongly"; }
  [ -n "${4:-}" ] || printf '  check %-8s %-12s batch %-4s %s\n' "$name" "$c" "$b" "$(cat "$work/check.out")"
}

# ---- header -----------------------------------------------------------------
stamp="$(date -u +%Y%m%dT%H%M%SZ)"
mkdir -p "$results_dir"
base="$results_dir/sdk-$stamp"
out="$base.txt"
tsv="$base.tsv"
printf '# server\tcase\tbatch\tmode\trps\tp50_ms\tp99_ms\tp999_ms\trequests\terrors\tcpu_us_req\trss_kb\trate\treq_bytes\treply_bytes\tload1\n' >"$tsv"
exec > >(tee -a "$out") 2>&1
loadavg="$(cut -d' ' -f1-3 /proc/loadavg)"
{
  echo "statefun-c SDK benchmark  $(date -u '+%Y-%m-%d %H:%M:%S UTC')  git $(git -C "$root" rev-parse --short HEAD 2>/dev/null || echo '?')$(git -C "$root" diff --quiet 2>/dev/null || echo '+dirty')"
  echo "command: bench/run.sh $orig_args" | sed 's/ *$//'
  echo "load average at start: $loadavg (shared machine: compare ratios within one run)"
  echo "machine: $ncpu CPU(s), $(grep -m1 'model name' /proc/cpuinfo 2>/dev/null | cut -d: -f2 | sed 's/^ *//'), $(uname -sr)"
  if [ "$pin" = 1 ]; then
    echo "pinning: servers on CPU $server_cpus, wrk and the open-loop client on CPU $load_cpus (taskset)"
  else
    echo "pinning: none (servers and load generators share all $ncpu CPUs)"
  fi
  echo "closed loop: $(wrk --version 2>&1 | head -1 | cut -d' ' -f1-2), $wrk_threads threads, $connections keep-alive connections, ${duration}s per run$([ "$warmup" = 0 ] || echo ' after a 1 s warm-up')"
  echo "open loop: bench_openloop, $connections connections, ${duration}s per run$([ "$warmup" = 0 ] || echo ' after a 1 s warm-up'), rate = $load_fraction x the slowest server's closed-loop maximum for that case and batch"
  echo "cases: greet = greeter.fns/greet (seen=5 attached; per invocation seen+1 and one Kafka egress record); state<S> = bench.fns/state with an S-byte blob attached (per invocation: copy + counter+1; reply: one MODIFY of the blob)"
  echo "batches (invocations per request): $batches"
  has ours && echo "ours:     bench_ours (greeter_fn + state, libstatefun + libmicrohttpd, Release), --threads $server_threads"
  has java && echo "java:     statefun-sdk-java 3.3.0 + Undertow 1.4.18.Final, $(java -version 2>&1 | head -1); JIT warm-up ${java_warmup}s per request body, not measured"
  has go && echo "go:       statefun-sdk-go/v3 v3.3.0 + net/http, $(go version 2>/dev/null | cut -d' ' -f3-)"
  has js && echo "js:       npm apache-flink-statefun 3.3.0 + node http, node $(node --version 2>/dev/null)"
  has python && echo "python:   apache-flink-statefun 3.3.0 + aiohttp $("$PY" -c 'import aiohttp;print(aiohttp.__version__)'), protobuf $("$PY" -c 'import google.protobuf as p;from google.protobuf.internal import api_implementation as a;print(p.__version__, "("+a.Type()+")")'), $("$PY" -V 2>&1)"
  has bare-mhd && echo "bare-mhd: bench_bare_mhd --threads $server_threads: reads the body, answers the official SDK's reply bytes (the HTTP ceiling)"
  echo
}

# ---- measurement helpers ------------------------------------------------------
# Runs in the background + wait, so that INT/TERM stop run.sh at once (the
# EXIT trap then kills the child too).
wait_child() {
  local rc=0
  pids+=("$1")
  wait "$1" || rc=$?
  forget_pid "$1"
  return "$rc"
}
proc_cpu_ticks() { # pid -> utime + stime of the whole process, in clock ticks
  sed -E 's/^.*\) //' "/proc/$1/stat" | awk '{print $12 + $13}'
}
# Peak RSS is reset before each run (writing 5 to clear_refs), so VmHWM
# afterwards is that run's peak; where the reset is refused it is the peak
# since start.
reset_peak() { echo 5 >"/proc/$1/clear_refs" 2>/dev/null || true; }
peak_kb() { awk '/^VmHWM:/ {print $2}' "/proc/$1/status"; }
ms() { awk -v u="$1" 'BEGIN{printf "%.3f", u / 1000}'; }
field() { sed -nE "s/.* $1=([0-9.]+).*/\1/p" <<<" $2"; }
tck="$(getconf CLK_TCK)"
record() { # name case batch mode rps p50us p99us p999us reqs errs cpu0 cpu1 rss rate load1
  local cpu_us
  cpu_us="$(awk -v t="$(( ${12} - ${11} ))" -v hz="$tck" -v n="$9" \
    'BEGIN{ if (n > 0) printf "%.2f", t * 1e6 / hz / n; else print 0 }')"
  printf '%s\t%s\t%s\t%s\t%s\t%.3f\t%.3f\t%.3f\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\n' \
    "$1" "$2" "$3" "$4" "$5" "$(ms "$6")" "$(ms "$7")" "$(ms "$8")" "$9" "${10}" "$cpu_us" "${13}" "${14}" \
    "$(stat -c %s "$(body_of "$2" "$3")")" "$(stat -c %s "$(reply_of "$2" "$3")")" "${15}" >>"$tsv"
  printf '  %-8s %-12s batch %-4s %-6s %10.0f req/s  p50 %8.3f  p99 %8.3f  p99.9 %8.3f ms  errors %s  CPU %s us/req  peak RSS %s kB  (load1 %s)\n' \
    "$1" "$2" "$3" "$4" "$5" "$(ms "$6")" "$(ms "$7")" "$(ms "$8")" "${10}" "$cpu_us" "${13}" "${15}"
}
run_wrk() { # name seconds body -> $work/wrk.out
  "${on_load_cpus[@]}" wrk -t "$wrk_threads" -c "$connections" -d "${2}s" --timeout 30s \
    -s "$here/post.lua" "${url[$1]}" -- "$3" >"$work/wrk.out" 2>&1 &
  wait_child $! || { cat "$work/wrk.out" >&2; die "wrk failed against $1"; }
}
closed_loop() { # name case batch
  local name="$1" c="$2" b="$3" body pid line load1 cpu0 cpu1
  body="$(body_of "$c" "$b")"; pid="${spid[$name]}"
  [ "$warmup" = 0 ] || run_wrk "$name" 1 "$body"  # warm-up (connections, caches)
  load1="$(cut -d' ' -f1 /proc/loadavg)"
  reset_peak "$pid"; cpu0="$(proc_cpu_ticks "$pid")"
  run_wrk "$name" "$duration" "$body"
  kill -0 "$pid" 2>/dev/null || die "$name died during the run"
  cpu1="$(proc_cpu_ticks "$pid")"
  line="$(grep '^BENCH ' "$work/wrk.out")" || { cat "$work/wrk.out" >&2; die "no summary from wrk"; }
  local errs
  errs="$(awk '{s=0; for(i=1;i<=NF;i++) if ($i ~ /^err_/) {split($i,kv,"="); s+=kv[2]} print s}' <<<"$line")"
  record "$name" "$c" "$b" closed "$(field rps "$line")" "$(field p50_us "$line")" \
    "$(field p99_us "$line")" "$(field p999_us "$line")" "$(field requests "$line")" \
    "$errs" "$cpu0" "$cpu1" "$(peak_kb "$pid")" 0 "$load1"
}
open_loop() { # name case batch rate
  local name="$1" c="$2" b="$3" rate="$4" body pid line load1 cpu0 cpu1 rc=0
  body="$(body_of "$c" "$b")"; pid="${spid[$name]}"
  load1="$(cut -d' ' -f1 /proc/loadavg)"
  reset_peak "$pid"; cpu0="$(proc_cpu_ticks "$pid")"
  "${on_load_cpus[@]}" "$openloop_bin" --url "${url[$name]}" --body "$body" \
    --rate "$rate" --duration "$duration" --warmup "$warmup" --connections "$connections" --timeout 30 \
    >"$work/ol.out" 2>&1 &
  wait_child $! || rc=$?
  kill -0 "$pid" 2>/dev/null || die "$name died during the run"
  cpu1="$(proc_cpu_ticks "$pid")"
  line="$(grep '^OPENLOOP ' "$work/ol.out")" || { cat "$work/ol.out" >&2; die "open-loop client failed against $name (exit $rc)"; }
  # CPU per request over everything sent (warm-up included: the CPU window
  # spans the whole run)
  record "$name" "$c" "$b" open "$(field achieved_rps "$line")" "$(field p50_us "$line")" \
    "$(field p99_us "$line")" "$(field p999_us "$line")" "$(field sent "$line")" \
    "$(field errors "$line")" "$cpu0" "$cpu1" "$(peak_kb "$pid")" "$rate" "$load1"
}
with_server() { # name case batch FN...: bare-mhd is started around FN
  local name="$1" c="$2" b="$3"; shift 3
  if [ "$name" = bare-mhd ]; then
    start_server bare-mhd "$(reply_of "$c" "$b")"
    check_server "$name" "$c" "$b" quiet
  fi
  "$@"
  check_server "$name" "$c" "$b" quiet  # still correct after the load
  if [ "$name" = bare-mhd ]; then stop_server bare-mhd; fi
}

# ---- start, check, warm up -----------------------------------------------------
for name in $servers; do
  [ "$name" = bare-mhd ] && continue
  start_server "$name"
  for c in $cases; do for b in $batches; do check_server "$name" "$c" "$b"; done; done
done
if has java && [ "$java_warmup" != 0 ]; then
  echo "  java: JIT warm-up, ${java_warmup}s per request body (not measured)"
  for c in $cases; do for b in $batches; do
    run_wrk java "$java_warmup" "$(body_of "$c" "$b")"
  done; done
fi
echo

# ---- closed loop: maximum throughput --------------------------------------------
# Servers take turns per case and batch, so that a burst of background load
# does not hit one server's runs only.
echo "closed loop (wrk, maximum throughput):"
for c in $cases; do for b in $batches; do for name in $servers; do
  with_server "$name" "$c" "$b" closed_loop "$name" "$c" "$b"
done; done; done

# ---- open loop: latency at a fixed offered load ---------------------------------
echo
echo "open loop (constant rate = $load_fraction x the slowest server's maximum):"
for c in $cases; do for b in $batches; do
  rate="$(awk -F'\t' -v c="$c" -v b="$b" -v f="$load_fraction" \
    '$2 == c && $3 == b && $4 == "closed" && $1 != "bare-mhd" && $5 > 0 { if (m == "" || $5 < m) m = $5 }
     END { r = f * (m == "" ? 100 : m); printf "%.2f", r < 0.2 ? 0.2 : r }' "$tsv")"
  for name in $servers; do
    with_server "$name" "$c" "$b" open_loop "$name" "$c" "$b" "$rate"
  done
done; done

{
  echo
  "$PY" "$here/benchtool.py" table --results "$tsv" --markdown "$base.md" \
    --png "$base.png" --loadavg "$loadavg" --command "bench/run.sh $orig_args"
}

# ---- ours without HTTP (CPU time, so robust to background load) -----------
if [ -x "$handler_bin" ] && has ours; then
  echo
  echo "ours without HTTP (bench_handler: sf_handler_handle on a warm arena, one thread, CPU time, greeter):"
  hsecs=1; [ "$quick" = 1 ] && hsecs=0.3
  files=(); for b in $batches; do files+=("$(body_of greet "$b")"); done
  "${on_server_cpus[@]}" "$handler_bin" --seconds "$hsecs" "${files[@]}" >"$work/handler.out" \
    || die "bench_handler failed"
  awk '{ for (i = 2; i <= NF; i++) { split($i, kv, "="); v[kv[1]] = kv[2] }
         printf "  batch %-4s %9.2f us CPU/request  %8.3f us/invocation  %9d invocations/s per core  arena mallocs %s\n",
           v["invocations"], v["cpu_us_per_request"], v["cpu_us_per_request"] / v["invocations"],
           v["invocations_per_cpu_s"], v["arena_mallocs"] }' "$work/handler.out"
fi

echo
echo "load average at end: $(cut -d' ' -f1-3 /proc/loadavg)"
echo "elapsed: $(( $(date +%s) - t_start )) s; saved to $base.{txt,tsv,md,png}"
if awk -F'\t' '!/^#/ && $10 != 0 {bad=1} END {exit !bad}' "$tsv"; then
  echo "run.sh: some runs had errors" >&2
  exit 1
fi
