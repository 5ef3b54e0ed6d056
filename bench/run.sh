#!/usr/bin/env bash
# bench/run.sh - THE benchmark command. See bench/README.md.
#
# Serves the greeter (greeter.fns/greet) from
#   ours     our C server (examples/greeter, libstatefun + libmicrohttpd)
#   python   the official Python SDK 3.3.0, served as its docs recommend
#            (RequestReplyHandler.handle_async in aiohttp, web.run_app:
#            one process, one event loop)
#   bare-mhd a bare libmicrohttpd server that reads the body and answers a
#            fixed reply (the HTTP ceiling; bench/bare_mhd.c)
# checks that each answers correctly, then drives each with wrk over
# keep-alive with identical request bodies at batch 1, 10 and 100, and
# prints requests/s, invocations/s, p50/p99 latency and ratios to ours.
#
# Options:
#   --duration S        seconds per measurement (default 10)
#   --connections C     wrk connections (default 32)
#   --threads T         wrk threads (default 2)
#   --quick             CI smoke: 2 s per run, no warm-up
#   --repeat R          measure everything R times (round-robin over the
#                       servers) and report medians (default 1)
#   --no-pin            do not pin server and wrk to separate CPUs
#   --server-threads N  worker threads of ours / bare-mhd (default: the
#                       number of CPUs the server is pinned to)
#   --batches "1 10 100"
#   --servers "ours python bare-mhd"
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
servers="ours python bare-mhd"
build_dir="$root/build-bench"
skip_build=0
warmup=1
repeat=1
orig_args="$*"

usage() { sed -n '2,30p' "$0" | sed 's/^# \{0,1\}//'; }
while [ $# -gt 0 ]; do
  case "$1" in
    --duration) duration="$2"; shift 2 ;;
    --connections) connections="$2"; shift 2 ;;
    --threads) wrk_threads="$2"; shift 2 ;;
    --quick) quick=1; duration=2; warmup=0; shift ;;
    --no-pin) pin=0; shift ;;
    --repeat) repeat="$2"; shift 2 ;;
    --server-threads) server_threads="$2"; shift 2 ;;
    --batches) batches="$2"; shift 2 ;;
    --servers) servers="$2"; shift 2 ;;
    --build-dir) build_dir="$2"; shift 2 ;;
    --skip-build) skip_build=1; shift ;;
    -h|--help) usage; exit 0 ;;
    *) echo "run.sh: unknown option $1" >&2; usage >&2; exit 2 ;;
  esac
done

log() { echo "run.sh: $*" >&2; }
die() { echo "run.sh: FAILED: $*" >&2; exit 1; }
t_start=$(date +%s)

# ---- dependencies, venv, build --------------------------------------------
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
  targets=(--target bench_bare_mhd)
  case " $servers " in *" ours "*) targets+=(--target greeter --target bench_handler) ;; esac
  { cmake -S "$root" -B "$build_dir" "${gen[@]}" -DCMAKE_BUILD_TYPE=Release \
      -DSF_BUILD_TESTS=OFF -DSF_BUILD_EXAMPLES=ON -DSF_BUILD_BENCH=ON \
      -DSF_SANITIZE=OFF \
    && cmake --build "$build_dir" -j "$(nproc)" "${targets[@]}"; } >"$blog" 2>&1 \
    || { tail -30 "$blog" >&2; die "build failed (full log: $blog)"; }
fi
bare_bin="$build_dir/bench/bench_bare_mhd"
handler_bin="$build_dir/bench/bench_handler"
ours_bin="$(find "$build_dir/examples" -type f -name greeter -perm -u+x 2>/dev/null | head -1 || true)"
[ -x "$bare_bin" ] || die "no $bare_bin"
case " $servers " in *" ours "*) [ -n "$ours_bin" ] || die "no greeter binary under $build_dir/examples" ;; esac

# ---- CPU layout ------------------------------------------------------------
ncpu="$(nproc)"
server_cpus="" ; wrk_cpus=""
if [ "$pin" = 1 ] && [ "$ncpu" -ge 2 ] && command -v taskset >/dev/null; then
  half=$((ncpu / 2))
  server_cpus="0-$((half - 1))"
  wrk_cpus="$half-$((ncpu - 1))"
  [ "$half" = 1 ] && server_cpus=0
  [ "$((ncpu - half))" = 1 ] && wrk_cpus="$half"
  [ -n "$server_threads" ] || server_threads="$half"
else
  pin=0
  [ -n "$server_threads" ] || server_threads="$ncpu"
fi
# Command prefixes (not functions: a backgrounded function is a subshell,
# and $! must be the server's own pid so that kill reaches it).
on_server_cpus=() ; on_wrk_cpus=()
if [ "$pin" = 1 ]; then
  on_server_cpus=(taskset -c "$server_cpus")
  on_wrk_cpus=(taskset -c "$wrk_cpus")
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

"$PY" "$here/benchtool.py" make-requests --out "$work" --batches "${batches// /,}"
for b in $batches; do
  "$PY" "$here/benchtool.py" expect-reply --body "$work/body-$b.bin" \
    --out "$work/reply-$b.bin"
done

server_pid=""
start_server() { # name batch -> sets url, server_pid
  local name="$1" b="$2" port
  port="$("$PY" "$here/benchtool.py" free-port)"
  case "$name" in
    ours) "${on_server_cpus[@]}" "$ours_bin" --listen "127.0.0.1:$port" \
            --threads "$server_threads" --quiet >"$work/$name.log" 2>&1 & ;;
    python) "${on_server_cpus[@]}" "$PY" "$here/python_greeter.py" --port "$port" \
              >"$work/$name.log" 2>&1 & ;;
    bare-mhd) "${on_server_cpus[@]}" "$bare_bin" --listen "127.0.0.1:$port" \
                --threads "$server_threads" --reply "$work/reply-$b.bin" \
                >"$work/$name.log" 2>&1 & ;;
  esac
  server_pid=$!
  pids+=("$server_pid")
  url="http://127.0.0.1:$port/statefun"
  local i
  for i in $(seq 1 100); do
    if (exec 3<>"/dev/tcp/127.0.0.1/$port") 2>/dev/null; then return 0; fi
    kill -0 "$server_pid" 2>/dev/null || { cat "$work/$name.log" >&2; die "$name exited at start"; }
    sleep 0.1
  done
  die "$name did not listen on port $port within 10 s"
}
stop_server() {
  kill "$server_pid" 2>/dev/null || true
  wait "$server_pid" 2>/dev/null || true
  forget_pid "$server_pid"
  server_pid=""
}
forget_pid() { # reaped: never signal that number again
  local p keep=()
  for p in "${pids[@]}"; do [ "$p" = "$1" ] || keep+=("$p"); done
  pids=("${keep[@]}")
}
check_server() { # name batch
  local name="$1" b="$2" extra=()
  case "$name" in
    bare-mhd) extra=(--exact "$work/reply-$b.bin") ;;
    *) extra=(--same-as "$work/reply-$b.bin") ;;
  esac
  "$PY" "$here/benchtool.py" check --url "$url" --body "$work/body-$b.bin" \
    "${extra[@]}" >"$work/check.out" 2>&1 \
    || { cat "$work/check.out" >&2; die "$name at batch $b answered wrongly"; }
  echo "  check $name batch $b: $(cat "$work/check.out")"
}

# ---- header -----------------------------------------------------------------
stamp="$(date -u +%Y%m%dT%H%M%SZ)"
mkdir -p "$here/results"
out="$here/results/$stamp.txt"
tsv="$work/results.tsv"
: >"$tsv"
# From here on, everything printed is also saved in the results file.
exec > >(tee -a "$out") 2>&1
{
  echo "statefun-c benchmark  $(date -u '+%Y-%m-%d %H:%M:%S UTC')  git $(git -C "$root" rev-parse --short HEAD 2>/dev/null || echo '?')$(git -C "$root" diff --quiet 2>/dev/null || echo '+dirty')"
  echo "command: bench/run.sh $orig_args" | sed 's/ *$//'
  echo "load average at start: $(cut -d' ' -f1-3 /proc/loadavg) (other processes share these CPUs; numbers are only comparable when this is near 0)"
  echo "machine: $ncpu CPU(s), $(grep -m1 'model name' /proc/cpuinfo 2>/dev/null | cut -d: -f2 | sed 's/^ *//'), $(uname -sr)"
  if [ "$pin" = 1 ]; then
    echo "pinning: servers on CPU $server_cpus, wrk on CPU $wrk_cpus (taskset); the load generator and the server never share a core"
  else
    echo "pinning: none; wrk and the server share all $ncpu CPU(s) (results include wrk's own CPU use)"
  fi
  echo "wrk: $(wrk --version 2>&1 | head -1 | cut -d' ' -f1-2), $wrk_threads threads, $connections keep-alive connections, ${duration}s per run$([ "$warmup" = 1 ] && echo ' after a 1 s warm-up')$([ "$repeat" = 1 ] || echo ", $repeat rounds, medians reported"), Content-Type application/octet-stream"
  echo "request: ToFunction greeter.fns/greet id=bench, state seen=5 attached, N StringWrapper invocations (every invocation: seen+1 and one Kafka egress record; no delayed messages)"
  echo "ours:     examples/greeter (Release), --threads $server_threads"
  echo "python:   apache-flink-statefun 3.3.0, aiohttp $("$PY" -c 'import aiohttp;print(aiohttp.__version__)'), protobuf $("$PY" -c 'import google.protobuf as p;from google.protobuf.internal import api_implementation as a;print(p.__version__, "("+a.Type()+" implementation)")'), $("$PY" -V 2>&1); one process (web.run_app, as documented)"
  echo "bare-mhd: bench_bare_mhd --threads $server_threads, answers the official SDK's reply bytes for the same body (the HTTP ceiling)"
  echo
}

# ---- runs -----------------------------------------------------------------
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
  # (fields 14 and 15 of /proc/PID/stat, counted after the ") " of comm)
  sed -E 's/^.*\) //' "/proc/$1/stat" | awk '{print $12 + $13}'
}
run_wrk() { # name batch
  local name="$1" b="$2" line load1
  load1="$(cut -d' ' -f1 /proc/loadavg)"
  if [ "$warmup" = 1 ]; then
    "${on_wrk_cpus[@]}" wrk -t "$wrk_threads" -c "$connections" -d 1s --timeout 10s \
      -s "$here/post.lua" "$url" -- "$work/body-$b.bin" >/dev/null &
    wait_child $!
  fi
  local tck cpu0 cpu1
  tck="$(getconf CLK_TCK)"
  cpu0="$(proc_cpu_ticks "$server_pid")"
  "${on_wrk_cpus[@]}" wrk -t "$wrk_threads" -c "$connections" -d "${duration}s" \
    --timeout 10s -s "$here/post.lua" "$url" -- "$work/body-$b.bin" \
    >"$work/wrk.out" 2>&1 &
  wait_child $! || { cat "$work/wrk.out" >&2; die "wrk failed against $name"; }
  line="$(grep '^BENCH ' "$work/wrk.out")" || { cat "$work/wrk.out" >&2; die "no summary from wrk"; }
  kill -0 "$server_pid" 2>/dev/null || die "$name died during the run"
  cpu1="$(proc_cpu_ticks "$server_pid")"
  # BENCH key=value ... -> one TSV row
  local rps p50 p99 reqs errs
  rps="$(sed -E 's/.* rps=([0-9.]+).*/\1/' <<<"$line")"
  p50="$(sed -E 's/.* p50_us=([0-9]+).*/\1/' <<<"$line")"
  p99="$(sed -E 's/.* p99_us=([0-9]+).*/\1/' <<<"$line")"
  reqs="$(sed -E 's/.* requests=([0-9]+).*/\1/' <<<"$line")"
  errs="$(awk '{s=0; for(i=1;i<=NF;i++) if ($i ~ /^err_/) {split($i,kv,"="); s+=kv[2]} print s}' <<<"$line")"
  # the server's CPU time (user + system, all its threads) per request
  local cpu_us
  cpu_us="$(awk -v t="$((cpu1 - cpu0))" -v hz="$tck" -v n="$reqs" \
    'BEGIN{ if (n > 0) printf "%.2f", t * 1e6 / hz / n; else print 0 }')"
  printf '%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\n' "$name" "$b" "$rps" \
    "$(awk -v u="$p50" 'BEGIN{printf "%.3f", u/1000}')" \
    "$(awk -v u="$p99" 'BEGIN{printf "%.3f", u/1000}')" "$reqs" "$errs" \
    "$cpu_us" >>"$tsv"
  printf '  %-9s batch %-4s %10.0f req/s  p99 %7.2f ms  errors %s  server CPU %s us/req  (load1 before: %s)\n' \
    "$name" "$b" "$rps" "$(awk -v u="$p99" 'BEGIN{print u/1000}')" "$errs" \
    "$cpu_us" "$load1"
}

for name in $servers; do
  case "$name" in ours|python|bare-mhd) ;; *) die "unknown server $name" ;; esac
done
# Repetitions go round all servers in turn, so that a burst of background
# load does not hit one server's runs only.
for rep in $(seq 1 "$repeat"); do
  [ "$repeat" = 1 ] || echo "round $rep/$repeat"
  for name in $servers; do
    if [ "$name" != bare-mhd ]; then start_server "$name" 0; fi
    for b in $batches; do
      # bare-mhd answers one fixed reply: restart it with this batch's reply
      if [ "$name" = bare-mhd ]; then start_server "$name" "$b"; fi
      if [ "$rep" = 1 ]; then check_server "$name" "$b"; fi
      run_wrk "$name" "$b"
      check_server "$name" "$b" >/dev/null  # still correct after the load
      if [ "$name" = bare-mhd ]; then stop_server; fi
    done
    if [ "$name" != bare-mhd ]; then stop_server; fi
  done
done

{
  echo
  "$PY" "$here/benchtool.py" table --results "$tsv"
  echo
  echo "requests/s: completed HTTP requests per second (wrk); invocations/s = requests/s x batch (bare-mhd runs no function: its column is the HTTP ceiling in those units)."
  echo "p50/p99: wrk's latency percentiles under $connections concurrent connections (closed loop, no coordinated-omission correction)."
  echo "errors: HTTP statuses > 399, socket errors and timeouts."
  echo "CPU us/req: the server process's user+system CPU time during the run / requests (from /proc; 10 ms ticks). Unlike requests/s it barely"
  echo "  moves when other processes compete for the CPU. ratio: ours/other at the same batch, for requests/s and (in brackets) for CPU per request."
}

# ---- ours without HTTP (CPU time, so robust to background load) -----------
if [ -x "$handler_bin" ] && case " $servers " in *" ours "*) true ;; *) false ;; esac; then
  echo
  echo "ours without HTTP (bench_handler: sf_handler_handle on a warm arena, one thread, CPU time):"
  hsecs=1; [ "$quick" = 1 ] && hsecs=0.3
  files=(); for b in $batches; do files+=("$work/body-$b.bin"); done
  "${on_server_cpus[@]}" "$handler_bin" --seconds "$hsecs" "${files[@]}" >"$work/handler.out" \
    || die "bench_handler failed"
  awk '{ for (i = 2; i <= NF; i++) { split($i, kv, "="); v[kv[1]] = kv[2] }
         printf "  batch %-4s %9.2f us CPU/request  %8.3f us/invocation  %9d invocations/s per core  arena mallocs %s\n",
           v["invocations"], v["cpu_us_per_request"], v["cpu_us_per_request"] / v["invocations"],
           v["invocations_per_cpu_s"], v["arena_mallocs"] }' "$work/handler.out"
fi

echo
echo "elapsed: $(( $(date +%s) - t_start )) s; saved to bench/results/$stamp.txt"
if awk -F'\t' '$7 != 0 {bad=1} END {exit !bad}' "$tsv"; then
  echo "run.sh: some runs had errors" >&2
  exit 1
fi
