#!/usr/bin/env python3
"""Tracing end to end (docs/tracing.md) on sf-local and the shopping cart.

    run_tracing.py --sf-local BIN --cart BIN --ir shop.ir.json \
                   --module examples/shopping-cart/module.yaml

Starts the shopping-cart entity server and sf-local (--ir) on free
loopback ports and checks that a W3C `traceparent` sent with an entity
call comes back, with the same trace id, on the answer (the entity's
Reply carries it), that a call without one gets a fresh, well-formed
trace, and that a malformed header is ignored as W3C says (a new trace).
The entity server runs with --trace-out FILE: its spans (OTLP/JSON lines)
must pass otlp_check.py, and checkout's trace must hold the checkout, each
await of the Items it calls, the callees' invocations under those awaits
and the replies, all with the trace id that went in; `sf-local --trace`
shows that path as a tree in order, and --dot as a graph.
Python 3 standard library only; the last line is "N passed, M failed".
"""
import argparse
import http.client
import json
import os
import re
import shutil
import subprocess
import sys
import time

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "pylib"))
from sftest.checks import Tally, check_eq  # noqa: E402
from sftest.sflocal import LocalEnv, check_reports  # noqa: E402
import otlp_check  # noqa: E402

ARGS = None
FACTOR = float(os.environ.get("SF_TEST_TIME_FACTOR", "1"))
TP_RE = re.compile(r"^00-([0-9a-f]{32})-([0-9a-f]{16})-01$")


def req(port, method, path, body=None, headers=None, timeout=60):
    """(status, headers dict lower-cased, body bytes)."""
    c = http.client.HTTPConnection("127.0.0.1", port, timeout=timeout * FACTOR)
    try:
        c.request(method, path, body=body, headers=headers or {})
        r = c.getresponse()
        return r.status, {k.lower(): v for k, v in r.getheaders()}, r.read()
    finally:
        c.close()


class Stack(LocalEnv):
    """shopping-cart (spans to --trace-out) + sf-local --ir on free ports."""

    def __init__(self):
        super().__init__("tracing", "stack")
        self.cart_trace = os.path.join(self.dir, "cart.otlp.jsonl")
        module = self.module_on_fn_port(ARGS.module)
        self.start_server("cart", [ARGS.cart, "--listen", "127.0.0.1:%d" % self.fn_port,
                                   "--trace-out", self.cart_trace], timeout=20 * FACTOR)
        self.start_sf_local([ARGS.sf_local, "--module", module, "--ir", ARGS.ir,
                             "--ingress-port", "0", "--egress-port", "0"], timeout=20 * FACTOR)
        self.in_port, self.out_port = self.ingress, self.egress

    def call(self, path, args=None, headers=None):
        body = None if args is None else json.dumps(args).encode()
        st, h, data = req(self.in_port, "POST", path, body, headers)
        return st, h, json.loads(data)


def ok(stack, path, args, headers=None):
    st, h, j = stack.call(path, args, headers)
    check_eq((st, j.get("ok")), (200, True), path)
    return h


TESTS = []


def test(fn):
    TESTS.append(fn)
    return fn


def setup_cart(s, user):
    ok(s, "/shop/Item/apple/set_price", {"price": 30})
    ok(s, "/shop/Item/apple/add_stock", {"qty": 5})
    ok(s, "/shop/Item/pear/set_price", {"price": 12})
    ok(s, "/shop/Item/pear/add_stock", {"qty": 5})
    ok(s, "/shop/User/%s/add_to_basket" % user, {"items": ["apple", "pear"]})
    ok(s, "/shop/User/%s/deposit" % user, {"amount": 100})


@test
def traceparent_in_is_out(s):
    setup_cart(s, "tina")
    trace = "4bf92f3577b34da6a3ce929d0e0e4736"
    parent = "00f067aa0ba902b7"
    h = ok(s, "/shop/User/tina/checkout", None,
           {"traceparent": "00-%s-%s-01" % (trace, parent)})
    m = TP_RE.match(h.get("traceparent", ""))
    if m is None:
        raise AssertionError("answer traceparent: %r" % h.get("traceparent"))
    check_eq(m.group(1), trace, "the trace id that went in comes out")
    # the span that answered is the entity instance's, not the client's
    if m.group(2) == parent:
        raise AssertionError("answer span id is the caller's own: %r" % h)


def trace_spans(s, trace, want_names, timeout=10):
    """The spans of `trace` once the ones named in want_names are there
    (the reply span of a callee may be written just after the answer)."""
    deadline = time.time() + timeout * FACTOR
    while True:
        sp = [x for x in otlp_check.spans(s.cart_trace) if x["traceId"] == trace]
        names = [x["name"] for x in sp]
        if all(names.count(n) >= c for n, c in want_names.items()):
            return sp
        if time.time() > deadline:
            raise AssertionError("trace %s: spans %r, wanted %r" % (trace, names, want_names))
        time.sleep(0.05)


@test
def checkout_spans(s):
    setup_cart(s, "uma")
    trace = "0af7651916cd43dd8448eb211c80319c"
    parent = "b7ad6b7169203331"
    ok(s, "/shop/User/uma/checkout", None,
       {"traceparent": "00-%s-%s-01" % (trace, parent)})
    spans = trace_spans(s, trace, {
        "shop/User.checkout": 1, "await shop/Item.get_price": 2,
        "await shop/Item.reserve": 2, "shop/Item.get_price": 2,
        "shop/Item.reserve": 2, "reply": 5})
    by_id = {x["spanId"]: x for x in spans}
    root = [x for x in spans if x["name"] == "shop/User.checkout"]
    check_eq(len(root), 1, "one first step of checkout")
    check_eq(root[0]["parentSpanId"], parent, "checkout under the caller's span")
    for x in spans:
        if x is root[0]:
            continue
        if x["parentSpanId"] not in by_id:
            raise AssertionError("span %s (%s) has no parent in the trace"
                                 % (x["name"], x["parentSpanId"]))
    # each callee's invocation hangs under the await that called it
    for x in spans:
        if x["name"] in ("shop/Item.get_price", "shop/Item.reserve"):
            p = by_id[x["parentSpanId"]]
            check_eq(p["name"], "await " + x["name"], "parent of " + x["name"])
    bad = otlp_check.problems(s.cart_trace)
    if bad:
        raise AssertionError("OTLP faults: %s" % bad[:5])
    checkout_tree(s, trace)


def sflocal_trace(s, *args):
    p = subprocess.run([ARGS.sf_local, "--trace"] + list(args),
                       capture_output=True, text=True, timeout=30 * FACTOR)
    return p.returncode, p.stdout, p.stderr


def checkout_tree(s, trace):
    """sf-local --trace: checkout, then per basket item (apple, pear) the
    price await and the reserve await each with the callee and its reply
    under it, the resumed steps between, and checkout's own reply last."""
    rc, out, err = sflocal_trace(s, trace, "--trace-in", s.cart_trace)
    check_eq(rc, 0, "sf-local --trace exit (stderr %r)" % err)
    lines = out.splitlines()
    check_eq(lines[0], "trace %s (18 spans)" % trace, "tree header")
    shape = [re.sub(r"\s+\+[0-9.]+ ms \([0-9.]+ ms\)$", "", ln) for ln in lines[1:]]
    want = ["shop/User.checkout [uma]"]
    for item in ("apple", "pear"):
        for m in ("get_price", "reserve"):
            want += ["|- await shop/Item.%s [%s]" % (m, item),
                     "|  `- shop/Item.%s [%s]" % (m, item),
                     "|     `- reply ok",
                     "|- shop/User.checkout (resumed) [uma]"]
    want.append("`- reply ok")
    check_eq(shape, want, "checkout's tree")
    rc, dot, _ = sflocal_trace(s, trace, "--trace-in", s.cart_trace, "--dot")
    check_eq(rc, 0, "--dot exit")
    check_eq((dot.startswith("digraph"), dot.count(" -> ")), (True, 17), "DOT edges")
    svg = s.cart_trace + ".svg"
    rc, _, err = sflocal_trace(s, trace, "--trace-in", s.cart_trace, "--svg", svg)
    if shutil.which("dot"):
        check_eq((rc, open(svg).read().count("<g id=\"node")), (0, 18), "--svg nodes")
    else:
        check_eq((rc, "not installed" in err), (1, True), "--svg without Graphviz")
    rc, _, err = sflocal_trace(s, "f" * 32, "--trace-in", s.cart_trace)
    check_eq((rc, "no span" in err), (1, True), "an unknown trace")
    rc, _, err = sflocal_trace(s, "xyz", "--trace-in", s.cart_trace)
    check_eq(rc, 2, "a bad trace id")


@test
def otlp_check_rejects(s):
    """The checker itself fails what the OTLP JSON rules forbid."""
    good = {"traceId": "0af7651916cd43dd8448eb211c80319c",
            "spanId": "b7ad6b7169203331", "parentSpanId": "", "name": "x",
            "kind": 2, "startTimeUnixNano": "1", "endTimeUnixNano": "2",
            "attributes": [{"key": "k", "value": {"stringValue": "v"}}]}
    check_eq(otlp_check.span_problems(good), [], "a good span")
    for change in ({"traceId": "0AF7651916CD43DD8448EB211C80319C"},
                   {"spanId": "b7ad6b71"}, {"traceId": "0" * 32},
                   {"startTimeUnixNano": 1}, {"endTimeUnixNano": "0"},
                   {"kind": "SPAN_KIND_SERVER"}, {"name": ""},
                   {"attributes": [{"key": "k", "value": "v"}]}):
        bad = dict(good, **change)
        if not otlp_check.span_problems(bad):
            raise AssertionError("accepted %r" % change)
    for key in ("traceId", "spanId", "name", "startTimeUnixNano"):
        bad = dict(good)
        del bad[key]
        if not otlp_check.span_problems(bad):
            raise AssertionError("accepted a span without %s" % key)


@test
def fresh_trace_when_absent(s):
    seen = set()
    for i in range(3):
        h = ok(s, "/shop/User/nobody%d/get_balance" % i, None)
        m = TP_RE.match(h.get("traceparent", ""))
        if m is None:
            raise AssertionError("no traceparent on the answer: %r" % h)
        if m.group(1) == "0" * 32:
            raise AssertionError("all-zero trace id")
        seen.add(m.group(1))
    check_eq(len(seen), 3, "a new trace id per call")


@test
def malformed_header_ignored(s):
    bad = ["00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7",  # no flags
           "00-00000000000000000000000000000000-00f067aa0ba902b7-01",
           "00-4BF92F3577B34DA6A3CE929D0E0E4736-00f067aa0ba902b7-01",
           "ff-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01",
           "zz"]
    for b in bad:
        h = ok(s, "/shop/User/mal/get_balance", None, {"traceparent": b})
        m = TP_RE.match(h.get("traceparent", ""))
        if m is None:
            raise AssertionError("%r: no traceparent on the answer" % b)
        if m.group(1).lower() in b.lower():
            raise AssertionError("%r: a malformed header's trace id kept" % b)


def main():
    global ARGS
    ap = argparse.ArgumentParser()
    ap.add_argument("--sf-local", required=True)
    ap.add_argument("--cart", required=True)
    ap.add_argument("--ir", required=True)
    ap.add_argument("--module", required=True)
    ARGS = ap.parse_args()
    tally = Tally()
    s = Stack()
    try:
        for t in TESTS:
            tally.run(t.__name__, t, s)
    finally:
        s.close(timeout=10 * FACTOR)
    check_reports(s, tally)
    print(tally.summary())
    return tally.exit_code()

if __name__ == "__main__":
    sys.exit(main())
