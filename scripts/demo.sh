#!/usr/bin/env bash
# demo.sh - build the greeter, serve it, and watch greeter-demo play the
# StateFun runtime against it (missing-state round trip, state kept between
# visits, egress records, a delayed reminder and its cancellation).
#
#   scripts/demo.sh            # deps, build in build/, run, stop
#   SKIP_DEPS=1 scripts/demo.sh
#
# Idempotent; exits non-zero if any step fails.
set -euo pipefail

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
BUILD="${BUILD_DIR:-$ROOT/build}"
LOG="$(mktemp -t greeter-demo.XXXXXX.log)"
PID=""

say() { printf '\n== %s\n' "$*"; }

cleanup() {
  if [ -n "$PID" ] && kill -0 "$PID" 2>/dev/null; then
    kill -TERM "$PID" 2>/dev/null || true
    wait "$PID" 2>/dev/null || true
  fi
  rm -f "$LOG"
}
trap cleanup EXIT

if [ -z "${SKIP_DEPS:-}" ]; then
  say "dependencies"
  "$ROOT/scripts/install-deps.sh"
fi

say "build ($BUILD)"
if [ ! -f "$BUILD/CMakeCache.txt" ]; then
  cmake -S "$ROOT" -B "$BUILD" -G Ninja
fi
cmake --build "$BUILD" --target greeter greeter-demo

# A free loopback port, from the kernel.
PORT="$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])')"
URL="http://127.0.0.1:$PORT"

say "start greeter on $URL"
"$BUILD/examples/greeter/greeter" --listen "127.0.0.1:$PORT" --threads 2 2>"$LOG" &
PID=$!
for _ in $(seq 1 100); do
  if curl -fsS "$URL/health" >/dev/null 2>&1; then break; fi
  if ! kill -0 "$PID" 2>/dev/null; then
    echo "demo: greeter exited early:" >&2
    cat "$LOG" >&2
    PID=""
    exit 1
  fi
  sleep 0.1
done
curl -fsS "$URL/health" >/dev/null || { echo "demo: greeter never became healthy" >&2; cat "$LOG" >&2; exit 1; }
cat "$LOG"

say "greeter-demo: Alice, Bob, Alice, Bob, Alice"
"$BUILD/examples/greeter/greeter-demo" --url "$URL/statefun" Alice Bob Alice Bob Alice

say "metrics (excerpt)"
curl -fsS "$URL/metrics" | grep -E '^statefun_(batches|invocations|missing_state_replies)_total|^statefun_http_requests_total'

say "stop greeter (SIGTERM)"
kill -TERM "$PID"
status=0
wait "$PID" || status=$?
PID=""
tail -n +2 "$LOG"
if [ "$status" -ne 0 ]; then
  echo "demo: greeter exited with status $status" >&2
  exit 1
fi
echo "demo: ok"
