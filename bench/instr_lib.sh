# bench/instr_lib.sh - what the callgrind A/B scripts (server_instr.sh,
# sflocal_instr.sh) share, sourced by them: a work directory whose
# processes are killed at exit, a free loopback port, and running the
# variants in turn with the per-variant summary line.

# Sets `work` (a fresh directory) and `pids` (processes to kill at exit;
# append to it); the directory is removed at exit.
work="$(mktemp -d)"
pids=()
instr_cleanup() { for p in "${pids[@]}"; do kill "$p" 2>/dev/null || true; done; rm -rf "$work"; }
trap instr_cleanup EXIT

free_port() {
  python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'
}

# instr_summary LABEL UNIT VALUE...: "LABEL median N UNIT (min, max, runs)"
instr_summary() {
  local label="$1" unit="$2"; shift 2
  printf '%s\n' "$@" | sort -n | awk -v l="$label" -v u="$unit" '
    { x[NR] = $1 } END { printf "%-10s median %d %s (min %d, max %d, %d runs)\n",
                         l, x[int((NR + 1) / 2)], u, x[1], x[NR], NR }'
}

# instr_variants UNIT RUNS VARIANT...: each VARIANT (LABEL=ARG[,ARG...]) in
# turn, RUNS times, through the caller's `one_run LABEL ARG...` (which
# prints one count); prints each run's count, the load average before and
# after, and a summary line per variant.
instr_variants() {
  local unit="$1" runs="$2" r v label count; shift 2
  local -A results=()
  local -a spec
  echo "load average before: $(cut -d' ' -f1-3 /proc/loadavg) on $(nproc) CPU(s)"
  for r in $(seq "$runs"); do
    for v in "$@"; do
      label="${v%%=*}"
      IFS=, read -r -a spec <<<"${v#*=}"
      count="$(one_run "$label" "${spec[@]}")"
      echo "run $r $label: $count $unit"
      results[$label]+="$count "
    done
  done
  echo "load average after: $(cut -d' ' -f1-3 /proc/loadavg)"
  for v in "$@"; do
    label="${v%%=*}"
    # shellcheck disable=SC2086
    instr_summary "$label" "$unit" ${results[$label]}
  done
}
