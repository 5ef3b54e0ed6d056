#!/usr/bin/env python3
"""Tracing end to end (docs/tracing.md) on sf-local and the shopping cart.

    run_tracing.py --sf-local BIN --cart BIN --ir shop.ir.json \
                   --module examples/shopping-cart/module.yaml

Starts the shopping-cart entity server and sf-local (--ir) on free
loopback ports and checks that a W3C `traceparent` sent with an entity
call comes back, with the same trace id, on the answer (the entity's
Reply carries it), that a call without one gets a fresh, well-formed
trace, and that a malformed header is ignored as W3C says (a new trace).
The entity server traces through the environment (SF_TRACE_OUT=FILE,
read at its first sf_entity_register; its --trace-out is run by
tracing.hotel_search and e2e.gateway), sf-local with --trace-out FILE:
their spans
(OTLP/JSON lines) must pass otlp_check.py, and checkout's trace must hold
sf-local's request span, the checkout under it, each await of the Items
it calls, the callees' invocations under those awaits and the replies,
all with the trace id that went in, and beside them sf-local's hops (each
Call and Reply it routed, with its wait in the mailbox and its HTTP
attempt); `sf-local --trace` shows that path as one tree of both files in
order, and --dot as a graph. With the entity server killed and started
again, a call's hop shows each failed HTTP attempt (ERROR, with the
error) and the retry that went through.
Python 3 standard library only; the last line is "N passed, M failed".
"""
import http.client
import json
import os
import re
import shutil
import subprocess
import sys
import threading
import time

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "pylib"))
from sftest.checks import check_eq  # noqa: E402
from sftest.sflocal import CartIrEnv, cart_ir_args, run_shared_main  # noqa: E402
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


class Stack(CartIrEnv):
    """shopping-cart and sf-local --ir on free ports, both writing spans
    (SF_TRACE_OUT, --trace-out)."""

    def __init__(self):
        super().__init__("tracing", ARGS, timeout=20 * FACTOR)
        self.cart_trace = os.path.join(self.dir, "cart.otlp.jsonl")
        self.sl_trace = os.path.join(self.dir, "sf-local.otlp.jsonl")
        # the cart's restart (retry_spans) reads it too; sf-local has no
        # entities of its own and ignores it
        os.environ["SF_TRACE_OUT"] = self.cart_trace
        self.start(sfl_extra=["--trace-out", self.sl_trace])

    def stop_cart(self):
        self.cart.kill9()

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


def attrs_of(span):
    """A span's attributes as a dict of strings."""
    return {a["key"]: a["value"]["stringValue"] for a in span["attributes"]}


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
    sl = sflocal_spans(s, trace, 1 + 3 * 9)
    front = [x for x in sl if x["name"] == "sf-local POST /shop/User/uma/checkout"]
    check_eq(len(front), 1, "sf-local's request span")
    check_eq((front[0]["parentSpanId"], front[0]["kind"]), (parent, 2),
             "sf-local's request span under the caller's span, SERVER")
    check_eq(root[0]["parentSpanId"], front[0]["spanId"],
             "checkout under sf-local's request span")
    # the attributes docs/tracing.md lists for the entity runtime's spans
    # (a step, an await, a reply) and for sf-local's
    keys = lambda x: sorted(a["key"] for a in x["attributes"])
    by_kind = {}
    for x in spans:
        kind = ("await" if x["name"].startswith("await ") else
                "reply" if x["name"] == "reply" else "step")
        by_kind.setdefault(kind, set()).add(tuple(keys(x)))
    check_eq(by_kind, {"step": {("statefun.call_id", "statefun.key", "statefun.step")},
                       "await": {("statefun.call_id", "statefun.key")},
                       "reply": {("statefun.call_id", "statefun.ok")}},
             "attributes of the steps, awaits and replies")
    aw = next(x for x in spans if x["name"] == "await shop/Item.get_price")
    check_eq(attrs_of(aw)["statefun.key"] in ("apple", "pear"), True,
             "an await's key: the callee's")
    # the attributes docs/tracing.md lists for sf-local's spans
    fa = attrs_of(front[0])
    check_eq((fa.get("http.request.method"), fa.get("url.path"),
              fa.get("http.response.status_code"), fa.get("statefun.request_id", "")[:4]),
             ("POST", "/shop/User/uma/checkout", "200", "sfl-"), "request span attributes")
    hop0 = next(x for x in sl if x["name"] == "sf-local call shop/User.checkout")
    check_eq((attrs_of(hop0).get("statefun.key"), attrs_of(hop0).get("statefun.call_id")),
             ("uma", fa.get("statefun.request_id")), "the hop's attributes")
    waits = [attrs_of(x) for x in sl if x["name"] == "queued"]
    check_eq({a.get("sflocal.batch_size") for a in waits}, {"1"}, "each wait's batch size")
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
    # sf-local's hops: each Call under the await that made it (the first
    # under the request span), each Reply under the reply span that sent
    # it; each hop with its wait and one HTTP attempt
    all_ids = dict(by_id, **{x["spanId"]: x for x in sl})
    hops = [x for x in sl if x["name"].startswith("sf-local call ") or
            x["name"].startswith("sf-local reply to ")]
    check_eq(len(hops), 9, "sf-local's hops: checkout's Call, 4 Calls, 4 Replies")
    for h in hops:
        p = all_ids.get(h["parentSpanId"], {}).get("name")
        if h["name"].startswith("sf-local call shop/Item."):
            check_eq(p, "await shop/Item." + h["name"].split(".")[-1], "parent of " + h["name"])
        elif h["name"] == "sf-local call shop/User.checkout":
            check_eq(p, front[0]["name"], "parent of " + h["name"])
        else:
            check_eq((h["name"], p), ("sf-local reply to shop/User", "reply"),
                     "a Reply's hop under its reply span")
        kids = sorted(x["name"] for x in sl if x["parentSpanId"] == h["spanId"])
        check_eq(kids, ["POST", "queued"], "under " + h["name"])
    bad = otlp_check.problems(s.cart_trace) + otlp_check.problems(s.sl_trace)
    if bad:
        raise AssertionError("OTLP faults: %s" % bad[:5])
    check_eq((otlp_check.origins(s.cart_trace), otlp_check.origins(s.sl_trace)),
             ({("statefun-c", "statefun-c.entities")}, {("sf-local", "statefun-c.sf-local")}),
             "service.name and scope of the function server's and sf-local's spans")
    checkout_tree(s, trace)


def sflocal_spans(s, trace, n, timeout=10):
    """sf-local's spans of `trace` once there are n of them (a hop's span
    is written when its batch is done, which may be just after the
    answer)."""
    deadline = time.time() + timeout * FACTOR
    while True:
        sp = [x for x in otlp_check.spans(s.sl_trace) if x["traceId"] == trace]
        if len(sp) >= n or time.time() > deadline:
            return sp
        time.sleep(0.05)


def sflocal_trace(s, *args):
    p = subprocess.run([ARGS.sf_local, "--trace"] + list(args),
                       capture_output=True, text=True, timeout=30 * FACTOR)
    return p.returncode, p.stdout, p.stderr


def tree_shape(out):
    """The tree's lines without their times."""
    return [re.sub(r"\s+\+[0-9.]+ ms \([0-9.]+ ms\)(  ERROR)?$", r"\1", ln)
            for ln in out.splitlines()[1:]]


def hop(indent, last, name, key):
    """sf-local's hop of a message at `indent`, with its wait and attempt."""
    more = "   " if last else "|  "
    return ["%s%s- %s [%s]" % (indent, "`" if last else "|", name, key),
            indent + more + "|- queued",
            indent + more + "`- POST ok"]


def checkout_tree(s, trace):
    """sf-local --trace over both files: sf-local's request span; under it
    the hop of checkout's Call and checkout; then per basket item (apple,
    pear) the price await and the reserve await, each with sf-local's hop
    of the Call and the callee, its reply and the hop of the Reply back to
    the User under it, the resumed steps between, and checkout's own reply
    last."""
    ins = ["--trace-in", s.cart_trace, "--trace-in", s.sl_trace]
    rc, out, err = sflocal_trace(s, trace, *ins)
    check_eq(rc, 0, "sf-local --trace exit (stderr %r)" % err)
    lines = out.splitlines()
    check_eq(lines[0], "trace %s (46 spans)" % trace, "tree header")
    want = ["sf-local POST /shop/User/uma/checkout"]
    want += hop("", False, "sf-local call shop/User.checkout", "uma")
    want.append("`- shop/User.checkout [uma]")
    for item in ("apple", "pear"):
        for m in ("get_price", "reserve"):
            want += ["   |- await shop/Item.%s [%s]" % (m, item)]
            want += hop("   |  ", False, "sf-local call shop/Item.%s" % m, item)
            want += ["   |  `- shop/Item.%s [%s]" % (m, item),
                     "   |     `- reply ok"]
            want += hop("   |        ", True, "sf-local reply to shop/User", "uma")
            want += ["   |- shop/User.checkout (resumed) [uma]"]
    want.append("   `- reply ok")
    check_eq(tree_shape(out), want, "checkout's tree")
    rc, dot, _ = sflocal_trace(s, trace, "--dot", *ins)
    check_eq(rc, 0, "--dot exit")
    check_eq((dot.startswith("digraph"), dot.count(" -> ")), (True, 45), "DOT edges")
    svg = s.cart_trace + ".svg"
    rc, _, err = sflocal_trace(s, trace, "--svg", svg, *ins)
    if shutil.which("dot"):
        check_eq((rc, open(svg).read().count("<g id=\"node")), (0, 46), "--svg nodes")
    else:
        check_eq((rc, "not installed" in err), (1, True), "--svg without Graphviz")
    rc, _, err = sflocal_trace(s, "f" * 32, "--trace-in", s.cart_trace)
    check_eq((rc, "no span" in err), (1, True), "an unknown trace")
    rc, _, err = sflocal_trace(s, "xyz", "--trace-in", s.cart_trace)
    check_eq(rc, 2, "a bad trace id")


@test
def failed_reply_span(s):
    """A method that fails: its reply span has statefun.ok "false", the
    reason in statefun.error and status ERROR (docs/tracing.md)."""
    trace = "5c0a1b2c3d4e5f60718293a4b5c6d7e9"
    st, _, j = s.call("/shop/User/vic/checkout", None,
                      {"traceparent": "00-%s-00f067aa0ba902b7-01" % trace})
    check_eq((st, j.get("ok")), (422, False), "checkout of an empty basket")
    reply = trace_spans(s, trace, {"reply": 1})
    r = next(x for x in reply if x["name"] == "reply")
    check_eq((attrs_of(r).get("statefun.ok"), attrs_of(r).get("statefun.error"),
              r.get("status", {}).get("code")), ("false", j["error"], 2), "the failed reply")


@test
def retry_spans(s):
    """The entity server killed, a call made, the server started again:
    the call's hop holds a failed attempt (ERROR, the connection error)
    for each try while it was down and the retry that went through, in
    order, under sf-local's request span."""
    ok(s, "/shop/User/rita/deposit", {"amount": 7})
    trace = "6e0a1b2c3d4e5f60718293a4b5c6d7e8"
    s.stop_cart()
    answer = {}

    def call():
        answer["r"] = s.call("/shop/User/rita/get_balance", None,
                             {"traceparent": "00-%s-00f067aa0ba902b7-01" % trace})
    t = threading.Thread(target=call)
    t.start()
    # down long enough for a few backoffs (2, 4, 8, ... ms)
    sflocal_spans(s, trace, 4)
    time.sleep(0.2)
    s.start_cart()
    t.join(60 * FACTOR)
    st, _, j = answer["r"]
    check_eq((st, j.get("result")), (200, 7), "the call once the server is back")
    sl = sflocal_spans(s, trace, 1)
    hops = [x for x in sl if x["name"] == "sf-local call shop/User.get_balance"]
    deadline = time.time() + 10 * FACTOR
    while not hops and time.time() < deadline:
        time.sleep(0.05)
        sl = sflocal_spans(s, trace, 1)
        hops = [x for x in sl if x["name"] == "sf-local call shop/User.get_balance"]
    check_eq(len(hops), 1, "one hop of the call")
    posts = sorted((x for x in sl if x["parentSpanId"] == hops[0]["spanId"] and
                    x["name"].startswith("POST")), key=lambda x: int(x["startTimeUnixNano"]))
    if len(posts) < 3:
        raise AssertionError("attempts: %r" % [x["name"] for x in posts])
    attr = lambda x, k: next((a["value"]["stringValue"] for a in x["attributes"]
                              if a["key"] == k), None)
    names = [x["name"] for x in posts]
    check_eq(names, ["POST"] + ["POST (retry %d)" % i for i in range(1, len(posts))],
             "one span per attempt, the later ones retries")
    for x in posts[:-1]:
        check_eq((x.get("status", {}).get("code"), attr(x, "statefun.ok")), (2, "false"),
                 "a failed attempt: " + x["name"])
        if "connect" not in (attr(x, "statefun.error") or "").lower():
            raise AssertionError("error of %s: %r" % (x["name"], attr(x, "statefun.error")))
    last = posts[-1]
    check_eq(("status" in last, attr(last, "statefun.ok"), attr(last, "sflocal.outcome")),
             (False, "true", "done"), "the retry that went through")
    rc, out, _ = sflocal_trace(s, trace, "--trace-in", s.cart_trace, "--trace-in", s.sl_trace)
    shape = tree_shape(out)
    check_eq(shape[:3], ["sf-local POST /shop/User/rita/get_balance",
                         "|- sf-local call shop/User.get_balance [rita]",
                         "|  |- queued"], "the tree's head")
    if not shape[3].startswith("|  |- POST failed: connect to 127.0.0.1:") or \
            not shape[3].endswith("  ERROR"):
        raise AssertionError("first attempt line: %r" % shape[3])
    check_eq(shape[2 + len(posts)], "|  `- POST (retry %d) ok" % (len(posts) - 1),
             "the last attempt line")


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
    ARGS = cart_ir_args()
    return run_shared_main(TESTS, Stack, timeout=10 * FACTOR)


if __name__ == "__main__":
    sys.exit(main())
