#!/usr/bin/env bash
# demo.sh - the five-minute demo: a real function answering real requests
# through the embedded runtime.
#
# Builds the greeter (examples/greeter) and sf-local, starts both on free
# loopback ports with examples/greeter/module.yaml, sends greetings through
# sf-local's HTTP ingress exactly as the StateFun playground does (curl PUT),
# reads the egress records the function produced, shows the state sf-local
# keeps, shows the raw protocol with greeter-demo, then runs the shopping
# cart and the hotel (examples/hotel: a search, a recommendation and two
# reservations, one refused) as entities behind sf-local --ir.
#
#   scripts/demo.sh            # deps, build in build/, run, stop
#   SKIP_DEPS=1 scripts/demo.sh
#
# Idempotent; exits non-zero if any step fails.
set -euo pipefail

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
BUILD="${BUILD_DIR:-$ROOT/build}"
WORK="$(mktemp -d -t sf-demo.XXXXXX)"
PIDS=()

say() { printf '\n== %s\n' "$*"; }
run() { # prints the command as one could paste it, then runs it
  local out='$' a
  for a in "$@"; do
    case "$a" in *[[:space:]\"]*) out+=" '$a'" ;; *) out+=" $a" ;; esac
  done
  printf '%s\n' "$out"
  "$@"
}

cleanup() {
  for p in "${PIDS[@]}"; do
    kill -TERM "$p" 2>/dev/null || true
    wait "$p" 2>/dev/null || true
  done
  rm -rf "$WORK"
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
cmake --build "$BUILD" --target greeter greeter-demo sf-local shopping-cart hotel hotel-init

free_port() {
  python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'
}
FN_PORT="$(free_port)"
IN_PORT="$(free_port)"
OUT_PORT="$(free_port)"
FN="http://127.0.0.1:$FN_PORT"
IN="http://127.0.0.1:$IN_PORT"
OUT="http://127.0.0.1:$OUT_PORT"
sed "s#http://127.0.0.1:8000/#$FN/#" "$ROOT/examples/greeter/module.yaml" >"$WORK/module.yaml"

wait_for() { # wait_for URL PID LOG
  for _ in $(seq 1 100); do
    if curl -fsS "$1" >/dev/null 2>&1; then return 0; fi
    if ! kill -0 "$2" 2>/dev/null; then
      echo "demo: process exited early:" >&2
      cat "$3" >&2
      exit 1
    fi
    sleep 0.1
  done
  echo "demo: $1 never answered" >&2
  cat "$3" >&2
  exit 1
}

say "start the greeter (the function) on $FN"
"$BUILD/examples/greeter/greeter" --listen "127.0.0.1:$FN_PORT" --threads 2 2>"$WORK/greeter.log" &
PIDS+=($!)
wait_for "$FN/health" "${PIDS[-1]}" "$WORK/greeter.log"
cat "$WORK/greeter.log"

say "start sf-local (the runtime) with examples/greeter/module.yaml"
"$BUILD/runtime/sf-local" --module "$WORK/module.yaml" --ingress-port "$IN_PORT" \
  --egress-port "$OUT_PORT" 2>"$WORK/sf-local.log" &
PIDS+=($!)
wait_for "$IN/health" "${PIDS[-1]}" "$WORK/sf-local.log"
cat "$WORK/sf-local.log"

say "send greetings through the ingress (StringWrapper bytes, as the playground does)"
for name in Alice Bob Alice; do
  # A StringWrapper: field 1, length, UTF-8 bytes.
  printf '\x0a'"$(printf '\\x%02x' "${#name}")"'%s' "$name" >"$WORK/body"
  run curl -sS -X PUT -H "Content-Type: application/vnd.io.statefun.types/string" \
    --data-binary @"$WORK/body" "$IN/greeter.fns/greet/$name"
  echo
done
say "or with the JSON convenience"
run curl -sS -X PUT -H "Content-Type: application/json" --data '"Alice"' "$IN/greeter.fns/greet/Alice"
echo

say "read the Kafka egress records (topic greetings), one per GET"
for _ in 1 2 3 4; do
  run curl -sS "$OUT/greetings?wait=5"
  echo
done
printf '$ curl -s -o /dev/null -w "%%{http_code}" %s\n' "$OUT/greetings"
code="$(curl -s -o /dev/null -w '%{http_code}' "$OUT/greetings")"
echo "$code   (nothing unread)"
[ "$code" = 404 ] || { echo "demo: expected 404 on an empty topic" >&2; exit 1; }

say "the state sf-local keeps for greeter.fns/greet/Alice"
run curl -sS "$IN/greeter.fns/greet/Alice"
echo
seen="$(curl -sS "$IN/greeter.fns/greet/Alice" | python3 -c 'import json,sys; print(json.load(sys.stdin)["state"]["seen"]["value"])')"
[ "$seen" = 3 ] || { echo "demo: expected Alice seen=3, got $seen" >&2; exit 1; }

say "runtime metrics (excerpt): Bob's 60 s reminder is pending, Alice's was cancelled"
curl -fsS "$IN/metrics" | grep -E '^sflocal_(invocations_total|batches_total|missing_state_total|delayed_pending|egress_records_total) '

say "the same function at the protocol level (greeter-demo plays the runtime)"
"$BUILD/examples/greeter/greeter-demo" --url "$FN/statefun" Carol Carol

say "stateful entities: the shopping cart (examples/shopping-cart) on sf-local"
CART_PORT="$(free_port)"
CIN_PORT="$(free_port)"
COUT_PORT="$(free_port)"
CIN="http://127.0.0.1:$CIN_PORT"
sed "s#http://127.0.0.1:8000/#http://127.0.0.1:$CART_PORT/#" \
  "$ROOT/examples/shopping-cart/module.yaml" >"$WORK/cart-module.yaml"
"$BUILD/examples/shopping-cart/shopping-cart" --listen "127.0.0.1:$CART_PORT" \
  2>"$WORK/cart.log" &
PIDS+=($!)
wait_for "http://127.0.0.1:$CART_PORT/health" "${PIDS[-1]}" "$WORK/cart.log"
"$BUILD/runtime/sf-local" --module "$WORK/cart-module.yaml" \
  --ir "$ROOT/examples/shopping-cart/shop.ir.json" --ingress-port "$CIN_PORT" \
  --egress-port "$COUT_PORT" 2>"$WORK/cart-sf-local.log" &
PIDS+=($!)
wait_for "$CIN/health" "${PIDS[-1]}" "$WORK/cart-sf-local.log"
call() { # call PATH JSON: one method call, its JSON result
  printf '$ curl -s -X POST %s/%s -d %s\n' "$CIN" "$1" "'$2'"
  curl -sS -X POST "$CIN/$1" -d "$2"
  echo
}
call shop/Item/apple/set_price '{"price": 30}'
call shop/Item/apple/add_stock '{"qty": 5}'
call shop/Item/pear/set_price '{"price": 12}'
call shop/Item/pear/add_stock '{"qty": 1}'
call shop/User/alice/deposit '{"amount": 100}'
say "add_to_basket awaits each item's stock and price (4 remote calls), then returns the total"
call shop/User/alice/add_to_basket '{"items": ["apple", "pear"]}'
say "checkout reserves every item, charges the balance, returns a receipt"
out="$(curl -sS -X POST "$CIN/shop/User/alice/checkout")"
printf '$ curl -s -X POST %s/shop/User/alice/checkout\n%s\n' "$CIN" "$out"
python3 -c 'import json,sys; r=json.loads(sys.argv[1]); assert r["ok"] and r["result"]["total"]==42, r' "$out" \
  || { echo "demo: unexpected checkout result" >&2; exit 1; }
say "bob fills a basket, carol buys the last pear first: bob's checkout rolls back"
call shop/Item/pear/add_stock '{"qty": 1}'
call shop/User/bob/deposit '{"amount": 100}'
call shop/User/bob/add_to_basket '{"items": ["apple", "pear"]}'
call shop/User/carol/deposit '{"amount": 100}'
call shop/User/carol/add_to_basket '{"items": ["pear"]}'
call shop/User/carol/checkout '{}'
call shop/Item/apple/get_stock '{}'
out="$(curl -sS -X POST "$CIN/shop/User/bob/checkout")"
printf '$ curl -s -X POST %s/shop/User/bob/checkout\n%s\n' "$CIN" "$out"
python3 -c 'import json,sys; r=json.loads(sys.argv[1]); assert not r["ok"], r' "$out" \
  || { echo "demo: bob's checkout should have failed" >&2; exit 1; }
echo "(the apple bob had reserved was released again:)"
call shop/Item/apple/get_stock '{}'
call shop/User/bob/get_balance '{}'

say "the hotel (examples/hotel, DeathStar's hotel reservation workload) on sf-local"
HOTEL_PORT="$(free_port)"
HIN_PORT="$(free_port)"
HOUT_PORT="$(free_port)"
HIN="http://127.0.0.1:$HIN_PORT"
sed "s#http://127.0.0.1:8000/#http://127.0.0.1:$HOTEL_PORT/#" \
  "$ROOT/examples/hotel/module.yaml" >"$WORK/hotel-module.yaml"
"$BUILD/examples/hotel/hotel" --listen "127.0.0.1:$HOTEL_PORT" 2>"$WORK/hotel.log" &
PIDS+=($!)
wait_for "http://127.0.0.1:$HOTEL_PORT/health" "${PIDS[-1]}" "$WORK/hotel.log"
"$BUILD/runtime/sf-local" --module "$WORK/hotel-module.yaml" \
  --ir "$ROOT/examples/hotel/hotel.ir.json" --ingress-port "$HIN_PORT" \
  --egress-port "$HOUT_PORT" 2>"$WORK/hotel-sf-local.log" &
PIDS+=($!)
wait_for "$HIN/health" "${PIDS[-1]}" "$WORK/hotel-sf-local.log"
run "$BUILD/examples/hotel/hotel-init" --url "$HIN"
hcall() { # hcall PATH JSON: one hotel call; prints it and its answer, returns the answer
  printf '$ curl -s -X POST %s/%s -d %s\n' "$HIN" "$1" "'$2'" >&2
  curl -sS -X POST "$HIN/$1" -d "$2"
}
say "search: Geo (5 nearest within 10 km), then Rate, then every hotel's availability at once (a parallel await), then profiles"
out="$(hcall hotel/Frontend/f-0/search '{"in_date":"2015-04-09","out_date":"2015-04-11","lat":38.0235,"lon":-122.095,"partition":0}')"
python3 -c 'import json,sys; r=json.loads(sys.argv[1]); assert r["ok"] and r["result"], r; print("  hotels found:", ", ".join(h["id"] + " " + h["name"] for h in r["result"]))' "$out" \
  || { echo "demo: unexpected search result: $out" >&2; exit 1; }
say "recommend the cheapest hotel"
out="$(hcall hotel/Frontend/f-0/recommend '{"requirement":"price","lat":37.7867,"lon":-122.4112,"partition":0}')"
python3 -c 'import json,sys; r=json.loads(sys.argv[1]); assert r["ok"] and r["result"], r; print("  recommended:", ", ".join(h["id"] + " " + h["name"] for h in r["result"]))' "$out" \
  || { echo "demo: unexpected recommend result: $out" >&2; exit 1; }
say "reserve 150 of hotel 39's 200 rooms, then 60 more on overlapping dates (refused: no double booking)"
out="$(hcall hotel/Frontend/f-0/reserve '{"username":"TUDelft_7","password":"7777777777","hotel_id":"39","customer_name":"TUDelft_7","in_date":"2015-04-09","out_date":"2015-04-11","number_of_rooms":150}')"
echo "$out"
python3 -c 'import json,sys; r=json.loads(sys.argv[1]); assert r["ok"] and r["result"] is True, r' "$out" \
  || { echo "demo: the first reservation should succeed" >&2; exit 1; }
out="$(hcall hotel/Frontend/f-0/reserve '{"username":"TUDelft_8","password":"8888888888","hotel_id":"39","customer_name":"TUDelft_8","in_date":"2015-04-10","out_date":"2015-04-12","number_of_rooms":60}')"
echo "$out"
python3 -c 'import json,sys; r=json.loads(sys.argv[1]); assert r["ok"] and r["result"] is False, r' "$out" \
  || { echo "demo: the overlapping reservation should be refused" >&2; exit 1; }

say "stop (SIGTERM)"
for p in "${PIDS[@]}"; do
  kill -TERM "$p"
  status=0
  wait "$p" || status=$?
  [ "$status" -eq 0 ] || { echo "demo: process $p exited with $status" >&2; exit 1; }
done
PIDS=()
echo "demo: ok"
