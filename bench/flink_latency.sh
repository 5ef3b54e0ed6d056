#!/usr/bin/env bash
# bench/flink_latency.sh - what each Flink setting does to the latency of
# the remote-function path: the greeter (examples/greeter) through a real
# Flink StateFun 3.3 cluster (deploy/local/cluster.sh), names produced to
# Kafka at a constant rate, greetings read back from Kafka, one fresh
# cluster per configuration (tests/e2e/bench_e2e.py does the measuring).
# Prints one table (p50/p90/p99/max, the CPU the TaskManager and Kafka used,
# the checkpoints' end-to-end time, burst throughput, the load average
# before and after) and writes it to bench/results/flink-latency-<UTC>.txt
# (+ .jsonl with every sample). docs/run-on-flink.md "Tuned for latency"
# explains the rows.
#
#   bench/flink_latency.sh [--rate 100] [--seconds 10] [--burst 5000]
#                          [--only NAME,NAME] [--build-dir DIR]
#                          [--greeter PATH] [--results-dir DIR]
#
# The stack runs at nice 10 (behind interactive work), or at the caller's
# priority under bench/foreground.sh (ahead of other work on a shared
# machine: `bench/foreground.sh bench/flink_latency.sh ...`).
#
# Each configuration takes the cluster lock (flock /tmp/sf-flink.lock) for
# its own run only (about a minute), so other users of the one cluster
# port set are not starved. SF_CACHE as for cluster.sh. The rows:
#   defaults        cluster.sh --tuning none: Flink's own settings
#   buffer-1ms      + execution.buffer-timeout 1ms
#   hashmap         + state.backend hashmap (managed memory 5 %)
#   fetch-wait      + Kafka consumer fetch.max.wait.ms 10 on the ingress
#   buffer-0        buffer-timeout 0 instead of 1ms (flush every record)
#   slots-2         2 slots, parallelism 2
#   tuned           cluster.sh's default (--tuning latency)
#   tuned-ckpt-5s   the same with a 5 s checkpoint interval
#   eo-defaults     exactly-once egress (read_committed), Flink's settings
#   eo-backoff-10   exactly-once egress, --tuning latency, the egress's
#                   retry.backoff.ms 10 (the previous default) instead of 1
#   eo-tuned        exactly-once egress, --tuning latency, checkpoint 1 s
#   eo-tuned-500ms  the same with a 500 ms checkpoint interval
set -euo pipefail

here="$(cd "$(dirname "$0")" && pwd)"
root="$(dirname "$here")"
rate=100
seconds=10
burst=5000
only=""
build_dir="$root/build-bench-flink"
greeter=""
results_dir="$here/results"
while [ $# -gt 0 ]; do
  case "$1" in
    --rate) rate=$2; shift 2 ;;
    --seconds) seconds=$2; shift 2 ;;
    --burst) burst=$2; shift 2 ;;
    --only) only=$2; shift 2 ;;
    --build-dir) build_dir=$2; shift 2 ;;
    --greeter) greeter=$2; shift 2 ;;
    --results-dir) results_dir=$2; shift 2 ;;
    -h|--help) sed -n '2,/^set -euo/p' "$0" | sed '$d' | sed 's/^# \{0,1\}//'; exit 0 ;;
    *) echo "flink_latency.sh: unknown option $1 (see --help)" >&2; exit 2 ;;
  esac
done

if [ -z "$greeter" ]; then
  if [ ! -f "$build_dir/build.ninja" ]; then
    cmake -S "$root" -B "$build_dir" -G Ninja -DCMAKE_BUILD_TYPE=Release >/dev/null
  fi
  nice cmake --build "$build_dir" --parallel 2 --target greeter >/dev/null
  greeter="$build_dir/examples/greeter/greeter"
fi
[ -x "$greeter" ] || { echo "flink_latency.sh: no greeter at $greeter" >&2; exit 1; }

stamp="$(date -u +%Y%m%dT%H%M%SZ)"
mkdir -p "$results_dir"
jsonl="$results_dir/flink-latency-$stamp.jsonl"
txt="$results_dir/flink-latency-$stamp.txt"
work="${TMPDIR:-/tmp}/sf-flink-latency-$$"
trap 'rm -rf "$work"' EXIT

# NAME|SEMANTIC|CHECKPOINT INTERVAL|bench_e2e.py options
configs=(
  "defaults|at-least-once|1s|--tuning none"
  "buffer-1ms|at-least-once|1s|--tuning none --flink-set execution.buffer-timeout=1ms"
  "hashmap|at-least-once|1s|--tuning none --flink-set execution.buffer-timeout=1ms --flink-set state.backend=hashmap --flink-set taskmanager.memory.managed.fraction=0.05"
  "fetch-wait|at-least-once|1s|--tuning none --flink-set execution.buffer-timeout=1ms --flink-set state.backend=hashmap --flink-set taskmanager.memory.managed.fraction=0.05 --ingress-prop fetch.max.wait.ms=10"
  "buffer-0|at-least-once|1s|--tuning none --flink-set execution.buffer-timeout=0ms --flink-set state.backend=hashmap --flink-set taskmanager.memory.managed.fraction=0.05"
  "slots-2|at-least-once|1s|--tuning none --flink-set execution.buffer-timeout=1ms --flink-set state.backend=hashmap --flink-set taskmanager.memory.managed.fraction=0.05 --slots 2"
  "tuned|at-least-once|1s|--tuning latency"
  "tuned-ckpt-5s|at-least-once|5s|--tuning latency"
  "eo-defaults|exactly-once|1s|--tuning none"
  "eo-backoff-10|exactly-once|1s|--tuning latency --egress-prop retry.backoff.ms=10"
  "eo-tuned|exactly-once|1s|--tuning latency"
  "eo-tuned-500ms|exactly-once|500ms|--tuning latency"
)

echo "flink_latency.sh: greeter through real Flink at $rate msg/s for ${seconds}s per configuration; $(uptime)"
names=""
for c in "${configs[@]}"; do names="$names ${c%%|*}"; done
for want in ${only//,/ }; do
  if [[ " $names " != *" $want "* ]]; then
    echo "flink_latency.sh: --only: no configuration '$want'; known:$names" >&2
    exit 2
  fi
done
prio=(nice -n 10)
stack_nice=$(($(nice) + 10))
if [ -n "${SF_FOREGROUND:-}" ]; then
  prio=()
  stack_nice=$(nice)
fi
failed=0
for c in "${configs[@]}"; do
  IFS='|' read -r name semantic ckpt opts <<<"$c"
  if [ -n "$only" ] && [[ ",$only," != *",$name,"* ]]; then continue; fi
  echo "flink_latency.sh: $name ($semantic, checkpoint $ckpt): $opts"
  # shellcheck disable=SC2086
  if ! flock /tmp/sf-flink.lock "${prio[@]}" python3 "$root/tests/e2e/bench_e2e.py" \
      --greeter "$greeter" --semantics "$semantic" --checkpoint-interval "$ckpt" \
      --rates "$rate" --latency-seconds "$seconds" --burst "$burst" \
      --label "$name" --json "$jsonl" --work-dir "$work" $opts \
      >"$work.$name.log" 2>&1; then
    failed=1
    echo "flink_latency.sh: $name FAILED (log: $work.$name.log)" >&2
    tail -20 "$work.$name.log" >&2
  else
    rm -f "$work.$name.log"
  fi
done

{
  echo "greeter through real Flink StateFun 3.3.0, $rate msg/s for ${seconds}s after a 5 s warm-up, every name new;"
  echo "latency in ms from the name's hand-over to the Kafka producer to the greeting's arrival at a consumer"
  echo "(read_committed for exactly-once); $(nproc) cores, $(date -u '+%F %T') UTC; the stack at niceness $stack_nice"
  echo
  python3 "$root/tests/e2e/bench_e2e.py" --table "$jsonl"
} | tee "$txt"
echo "flink_latency.sh: wrote $txt and $jsonl"
exit "$failed"
