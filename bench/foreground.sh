#!/usr/bin/env bash
# bench/foreground.sh - runs a benchmark ahead of everything else on a
# shared machine: the nearest thing to a quiet machine short of having one.
#
#   bench/foreground.sh [--nice N] CMD [ARGS...]
#
# Runs CMD (and everything it starts: clusters, servers, load drivers) at
# niceness N (default -10; a negative N needs root). Linux applies nice
# only among the processes of one session while autogroups are on
# (kernel.sched_autogroup_enabled=1, the default of most distributions)
# and gives every session the same weight, so a negative niceness alone
# does nothing against other sessions' work: the script turns autogroups
# off while CMD runs and back on when it ends (also on Ctrl-C). It sets
# SF_FOREGROUND=1, which tells bench scripts not to lower their own
# priority (flink_latency.sh runs its stack at nice 10 otherwise). Exit
# status: CMD's. The other work on the machine still runs, slower; say so
# beside any figure measured this way.
set -euo pipefail

niceness=-10
if [ "${1:-}" = "--nice" ]; then
  niceness=$2
  shift 2
fi
case "${1:-}" in
  ""|-h|--help) sed -n '2,/^set -euo/p' "$0" | sed '$d' | sed 's/^# \{0,1\}//'; exit 2 ;;
esac

autogroup=/proc/sys/kernel/sched_autogroup_enabled
if [ -w "$autogroup" ] && [ "$(cat "$autogroup")" = 1 ]; then
  echo 0 >"$autogroup"
  trap 'echo 1 >"$autogroup"' EXIT
  trap 'exit 130' INT TERM
  echo "foreground.sh: autogroups off while '$1' runs at niceness $niceness" >&2
fi
status=0
SF_FOREGROUND=1 nice -n "$niceness" "$@" || status=$?
exit "$status"
