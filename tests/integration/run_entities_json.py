#!/usr/bin/env python3
"""sf-local --ir end to end: the shopping cart called with JSON over HTTP.

    run_entities_json.py --sf-local BIN --cart BIN --ir shop.ir.json \
                         --module examples/shopping-cart/module.yaml

Starts the shopping-cart entity server and sf-local (--ir) on free
loopback ports, then calls entity methods with
POST /shop/<Entity>/<key>/<method> and checks the JSON answers: results,
method failures (422), bad arguments (400), unknown entities and methods
(404), a timeout (504, the reply then read from the egress), the decoded
state view, concurrent calls, a bad --ir file (exit 2, file:line:col), and
an entity call to a sf-local started without --ir (the 415/400 says to
start it with --ir).
Python 3 standard library only; the last line is "N passed, M failed".
"""
import json
import os
import shutil
import socket
import subprocess
import sys
import tempfile
import threading

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "pylib"))
from sftest.checks import Tally, check, check_eq  # noqa: E402
from sftest.net import request_once  # noqa: E402
from sftest.sflocal import CartIrEnv, LocalEnv, cart_ir_args, run_shared_main  # noqa: E402

ARGS = None
FACTOR = float(os.environ.get("SF_TEST_TIME_FACTOR", "1"))


def req(port, method, path, body=None, headers=None, timeout=60):
    return request_once(port, method, path, body, headers, timeout * FACTOR)


class Stack(CartIrEnv):
    """shopping-cart + sf-local --ir on free ports."""

    def __init__(self):
        super().__init__("entities-json", ARGS, timeout=20 * FACTOR)
        self.start()

    def call(self, path, args=None, headers=None, raw=None):
        body = raw if raw is not None else (
            None if args is None else json.dumps(args).encode())
        st, data = req(self.in_port, "POST", path, body, headers)
        try:
            return st, json.loads(data)
        except ValueError:
            raise AssertionError("%s: not JSON: %r" % (path, data[:200]))


def ok(stack, path, args, want):
    st, j = stack.call(path, args)
    check_eq((st, j.get("ok"), j.get("result")), (200, True, want), path)
    return j


TESTS = []


def test(fn):
    TESTS.append(fn)
    return fn


@test
def shopping(s):
    ok(s, "/shop/Item/apple/set_price", {"price": 30}, None)
    ok(s, "/shop/Item/apple/add_stock", {"qty": 5}, 5)
    ok(s, "/shop/Item/pear/set_price", {"price": 12}, None)
    ok(s, "/shop/Item/pear/add_stock", {"qty": 1}, 1)
    # the command: curl -X POST .../add_to_basket -d '{"items":[...]}'
    ok(s, "/shop/User/alice/add_to_basket", {"items": ["apple", "pear"]}, 42)
    ok(s, "/shop/User/alice/get_basket", None, ["apple", "pear"])
    ok(s, "/shop/User/alice/deposit", {"amount": 100}, 100)
    ok(s, "/shop/User/alice/checkout", None,
       {"lines": [{"item": "apple", "qty": 1, "price": 30},
                  {"item": "pear", "qty": 1, "price": 12}],
        "total": 42, "balance": 58})
    ok(s, "/shop/Item/pear/get_stock", {}, 0)
    # a method failure: 422 with the reason
    st, j = s.call("/shop/User/alice/checkout")
    check_eq((st, j["ok"]), (422, False), "empty checkout")
    if "empty" not in j["error"]:
        raise AssertionError("checkout error: %r" % j)
    # the state view decodes the IR's fields
    st, data = req(s.in_port, "GET", "/shop/User/alice")
    view = json.loads(data)
    check_eq((st, view.get("fields")), (200, {"balance": 58, "basket": []}),
       "state view")


@test
def out_of_stock_rolls_back(s):
    ok(s, "/shop/Item/fig/set_price", {"price": 7}, None)
    ok(s, "/shop/Item/fig/add_stock", {"qty": 1}, 1)
    ok(s, "/shop/Item/kiwi/set_price", {"price": 9}, None)
    ok(s, "/shop/Item/kiwi/add_stock", {"qty": 1}, 1)
    ok(s, "/shop/User/bob/add_to_basket", {"items": ["fig", "kiwi"]}, 16)
    ok(s, "/shop/Item/kiwi/reserve", {"qty": 1}, True)  # kiwi gone
    ok(s, "/shop/User/bob/deposit", {"amount": 50}, 50)
    st, j = s.call("/shop/User/bob/checkout")
    check_eq((st, j["ok"]), (422, False), "checkout without kiwi")
    ok(s, "/shop/Item/fig/get_stock", None, 1)  # released again
    ok(s, "/shop/User/bob/get_balance", None, 50)


@test
def bad_requests(s):
    cases = [
        ("/shop/User/alice/add_to_basket", b'{"items":["a",3]}', 400,
         "User.add_to_basket: argument 'items'[1]: expected a string "
         "(ref<Item> key), got 3"),
        ("/shop/User/alice/add_to_basket", b"{}", 400,
         "User.add_to_basket: missing argument 'items' (list<ref<Item>>)"),
        ("/shop/User/alice/deposit", b'{"amount":1,"x":2}', 400,
         "User.deposit: unknown argument \"x\" (method deposit has amount)"),
        ("/shop/Item/apple/add_stock", b'{"qty":4294967296}', 400,
         "Item.add_stock: argument 'qty': 4294967296 is out of range for "
         "int32 (-2147483648 to 2147483647)"),
        ("/shop/User/alice/deposit", b'{"amount":', 400, None),
        ("/shop/User/alice/deposit", b'\xff\xfe', 400, None),
        ("/shop/User/alice/deposit", b'"5"', 400, None),
        ("/shop/User/alice/nope", b"", 404,
         "entity shop/User has no method 'nope' (methods: deposit, "
         "get_balance, get_basket, add_to_basket, checkout, ping_item, quote, buy_one)"),
        ("/shop/Cart/alice/get", b"", 404, None),
        ("/shop/User/alice", b"{}", 404, None),
    ]
    for path, body, want_st, want_err in cases:
        st, j = s.call(path, raw=body)
        check_eq((st, j.get("ok")), (want_st, False), "%s %r" % (path, body))
        if want_err is not None:
            check_eq(j.get("error"), want_err, "%s %r" % (path, body))
    st, j = s.call("/shop/User/alice/get_balance",
                   headers={"X-Request-Id": "bad id"})
    check_eq(st, 400, "bad X-Request-Id")
    st, j = s.call("/shop/User/alice/get_balance?wait=abc")
    check_eq(st, 400, "bad wait")
    # a body over --max-body is refused before it is read
    with socket.create_connection(("127.0.0.1", s.in_port),
                                  timeout=10 * FACTOR) as c:
        c.sendall(b"POST /shop/User/alice/deposit HTTP/1.1\r\n"
                  b"Host: x\r\nContent-Length: %d\r\n\r\n"
                  % (17 * 1024 * 1024))
        head = c.recv(4096)
    if not head.startswith(b"HTTP/1.1 413"):
        raise AssertionError("huge body: %r" % head[:100])
    # still alive
    ok(s, "/shop/User/nobody/get_balance", None, 0)


@test
def timeout_then_egress(s):
    s.cart.pause()
    try:
        st, j = s.call("/shop/User/carol/deposit?wait=0.3", {"amount": 5},
                       headers={"X-Request-Id": "carol-1"})
    finally:
        s.cart.resume()
    check_eq((st, j["ok"], j.get("request_id")), (504, False, "carol-1"), "timeout")
    if "may still complete" not in j["error"]:
        raise AssertionError("504 message: %r" % j)
    # the call completes; its Reply is on the reserved egress
    st, data = req(s.out_port, "GET",
                    "/egress/sf-local/replies/carol-1?wait=%d" % (20 * FACTOR))
    check_eq(st, 200, "reply on the egress")
    ok(s, "/shop/User/carol/get_balance", None, 5)


@test
def concurrent_calls(s):
    errors = []

    def one(i):
        try:
            st, j = s.call("/shop/User/dave/deposit", {"amount": 1})
            if st != 200:
                errors.append((st, j))
        except Exception as e:  # noqa: BLE001
            errors.append(e)

    threads = [threading.Thread(target=one, args=(i,)) for i in range(40)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(120 * FACTOR)
    check_eq(errors, [], "concurrent deposits")
    ok(s, "/shop/User/dave/get_balance", None, 40)


def bad_ir(tmp):
    path = os.path.join(tmp, "bad.ir.json")
    with open(path, "w") as f:
        f.write('{"namespace": "shop",\n "entities": [{"name": "user"}]}\n')
    p = subprocess.run([ARGS.sf_local, "--module", ARGS.module, "--ir", path],
                       capture_output=True, text=True, timeout=30 * FACTOR)
    check_eq(p.returncode, 2, "bad --ir exit status")
    if not p.stderr.startswith(path + ":2:"):
        raise AssertionError("bad --ir message: %r" % p.stderr)


def without_ir():
    """sf-local without --ir: what looks like an entity call (POST
    /<ns>/<Type>/<key>/<method>) and is refused (415, 400) says to start it
    with --ir; other refusals do not."""
    env = LocalEnv("entities-json", "no-ir")
    try:
        env.start_sf_local([ARGS.sf_local, "--module", ARGS.module,
                            "--ingress-port", "0", "--egress-port", "0"], timeout=20 * FACTOR)
        in_port = env.ingress
        form = {"Content-Type": "application/x-www-form-urlencoded"}  # curl -d
        js = {"Content-Type": "application/json"}
        hint = ("start sf-local with --ir <the entity IR of shop/Item> "
                "(docs/sf-local-http.md, \"Calling entities\")")
        cases = [  # method, path, headers, body, status, has the hint
            ("POST", "/shop/Item/book/set_price", form, b'{"price":12}', 415, True),
            ("POST", "/shop/Item/book/set_price", js, b'{"price":12}', 400, True),
            ("POST", "/shop/Item/book/set_price", {}, b'{"price":12}', 202, False),
            ("PUT", "/shop/Item/book/set_price", form, b'{"price":12}', 415, False),
            ("POST", "/shop/Item/book", form, b'{"price":12}', 415, False),
        ]
        for method, path, headers, body, want, want_hint in cases:
            st, data = req(in_port, method, path, body, headers)
            what = "%s %s %s" % (method, path, headers)
            check_eq(st, want, what)
            text = json.loads(data).get("error", "") if st >= 400 else data.decode()
            check_eq(hint in text, want_hint, "%s: the --ir hint in %s" % (what, text))
            if want_hint and "method 'set_price'" not in text:
                raise AssertionError("%s: the hint names no method: %s" % (what, text))
    finally:
        env.close(timeout=10 * FACTOR)
    reports = env.sanitizer_reports()
    check(not reports, "sanitizer report:\n%s", "\n".join(reports))
    shutil.rmtree(env.dir, ignore_errors=True)


def main():
    global ARGS
    ARGS = cart_ir_args()
    tally = Tally()
    with tempfile.TemporaryDirectory(prefix="sfl-ejson-") as tmp:
        tally.run("bad_ir", bad_ir, tmp)
    tally.run("without_ir", without_ir)
    return run_shared_main(TESTS, Stack, tally, timeout=10 * FACTOR)


if __name__ == "__main__":
    sys.exit(main())
