#!/usr/bin/env python3
"""sf-gateway in front of a *real* Flink StateFun 3.3.0 cluster: the
shopping-cart entities (examples/shopping-cart) behind deploy/local/cluster.sh,
called with the same JSON calls as sf-local's test
(tests/integration/run_entities_json.py, shared in tests/gateway/gwcalls.py)
and asserting the same answers.

  run_e2e_gateway.py --gateway BIN --sf-modgen BIN --shopping-cart BIN
                     [--sf-local BIN] [--work-dir DIR] [--keep] [--calls N]
                     [--flink-set K=V] [--delivery at-least-once|exactly-once]
                     [--only TEST,...]

The module.yaml is sf-modgen's for shop.ir.json with --entity-topics (Kafka
topic shop.Item / shop.User of statefun.entities/Call per entity) and the
replies egress shop.io/replies (at-least-once, or --delivery
exactly-once); the gateway reads it
(--module) for the topics and the egress, and reads the Replies on
shop.replies (read_committed, its default).

Tests (one cluster):
  shopping         prices, stock, add_to_basket (awaits Item through Flink),
                   checkout, a failing checkout (422)
  trace            a checkout with a W3C traceparent (docs/tracing.md): the
                   answer's traceparent carries its trace id and the span
                   of the User instance that answered; the gateway's span
                   (--trace-out) hangs under the client's, the function
                   server's spans (--trace-out) under the gateway's, with
                   that trace id, as one tree: each await with its callee
                   and the callee's reply, checkout's reply last (and
                   `sf-local --trace` prints it so, with --sf-local)
  docs             the gateway-calls blocks of README.md and docs/gateway.md,
                   every curl as written, the answers the documents show
  rollback         a checkout that rolls back (an item gone)
  errors           the 400/404/413 answers, word for word as sf-local's
  timeout_retry    the shopping-cart server stopped (SIGSTOP): 504 with the
                   request id; once it runs again, the same call with the
                   same X-Request-Id answers the result, and the deposit
                   happened once
  concurrent       40 deposits at once, each answered, the sum exact
  burst            1000 deposits from 50 connections at once: each answered
                   with its own result
  latency          N sequential calls (Item.get_price, one function
                   invocation, and User.add_to_basket of 2 items, 4
                   awaits) through sf-gateway + Flink: p50/p90/p99 in the
                   LATENCY line

SF_SKIP_E2E=1 skips it (exit 77).
"""
import argparse
import http.client
import json
import os
import re
import shlex
import subprocess
import sys
import time

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.abspath(os.path.join(HERE, "..", ".."))
SKIP = 77

if os.environ.get("SF_SKIP_E2E") == "1" and __name__ == "__main__":
    print("e2e.gateway: skipped (SF_SKIP_E2E=1)")
    sys.exit(SKIP)

sys.path.insert(0, HERE)
sys.path.insert(0, os.path.join(ROOT, "tests", "gateway"))
sys.path.insert(0, os.path.join(ROOT, "tests", "tracing"))
sys.path.insert(0, os.path.join(ROOT, "tests", "integration"))
import gwcalls  # noqa: E402
import otlp_check  # noqa: E402
import run_readme_calls as readme  # noqa: E402
from e2elib import (FnServer, check, free_port, log, pct,  # noqa: E402
                    run_bounded, run_tests, suite_dirs, summary, which)
from sftest.checks import check_eq  # noqa: E402
from sftest.net import request_once  # noqa: E402
from sftest.procs import LoggedProc, sanitizer_lines  # noqa: E402

IR = os.path.join(ROOT, "examples", "shopping-cart", "shop.ir.json")
REPLY_TOPIC = "shop.replies"
# The documents' gateway blocks (test_docs) and the set-up lines in them:
# the suite does the same itself (sf-modgen --entity-topics of this IR,
# the cluster, the cart, the gateway).
DOCS = [os.path.join(ROOT, "README.md"), os.path.join(ROOT, "docs", "gateway.md")]
DOC_MARKER = re.compile(r"^<!-- gateway-calls:.*-->\s*$")
DOC_SETUP = re.compile(r"^(flock \S+ )?(\S*/)?(sf-modgen|cluster\.sh|shopping-cart|sf-gateway) ")


class Suite:
    def __init__(self, args):
        self.args = args
        self.work, self.logs, self.cluster = suite_dirs(args.work_dir)
        # both write spans (test_trace); a fresh file per run
        self.cart_trace = os.path.join(self.logs, "shopping-cart.otlp.jsonl")
        self.gw_trace = os.path.join(self.logs, "sf-gateway.otlp.jsonl")
        for f in (self.cart_trace, self.gw_trace):
            if os.path.exists(f):
                os.remove(f)
        self.cart = FnServer("shopping-cart", which(args.shopping_cart), self.logs,
                             ["--threads", "2", "--trace-out", self.cart_trace])
        self.gw = None
        self.client = None
        self.results = []
        self.latency_line = None

    def module(self):
        path = os.path.join(self.work, "module.yaml")
        subprocess.check_call([
            which(self.args.sf_modgen), "--ir", IR, "--entity-topics",
            "--kafka", self.cluster.bootstrap,
            "--url-template", "http://127.0.0.1:%d/statefun/{function.name}" % self.cart.port,
            "--egress", "shop.io/replies", "--delivery", self.args.delivery,
            "--startup-position", "earliest", "-o", path])
        return path

    def setup(self):
        self.cart.start()
        module = self.module()
        t0 = time.time()
        extra = [a for kv in self.args.flink_set for a in ("--set", kv)]
        self.cluster.start(module, topics=[REPLY_TOPIC], checkpoint_interval="1s",
                           extra=extra)
        log("cluster up: start-up %.1fs" % (time.time() - t0))
        port = free_port()
        self.gw = LoggedProc(os.path.join(self.logs, "sf-gateway.log"),
                             [which(self.args.gateway), "--ir", IR, "--module", module,
                              "--brokers", self.cluster.bootstrap,
                              "--listen", "127.0.0.1:%d" % port,
                              "--trace-out", self.gw_trace])
        deadline = time.time() + 60
        while True:
            check(self.gw.alive(), "sf-gateway exited:\n%s" % self.gw.tail())
            try:
                if request_once(port, "GET", "/health", timeout=2)[0] == 200:
                    break
            except OSError:
                pass
            check(time.time() < deadline, "sf-gateway not ready in 60 s:\n%s"
                  % self.gw.tail())
            time.sleep(0.1)
        for line in self.gw.text().splitlines():
            if line.startswith("sf-gateway:"):
                log(line)
        self.client = gwcalls.Client(port, timeout=90)

    def teardown(self):
        self.cart.resume()
        if self.gw is not None:
            rc = self.gw.stop(timeout=20)
            log("sf-gateway stopped: exit status %s; %s" % (
                rc, self.gw.text().strip().splitlines()[-1]))
            if rc != 0:
                self.results.append(("gateway exit", False, 0.0,
                                     "sf-gateway exit status %s after SIGTERM" % rc))
            bad = sanitizer_lines(self.gw.text())
            if bad:
                self.results.append(("sanitizer", False, 0.0,
                                     "sf-gateway log: " + "\n".join(bad[:5])))
        if not self.args.keep:
            self.cluster.stop()
        self.cart.stop()

    # ---- tests -------------------------------------------------------------
    def test_shopping(self):
        # The first call also waits for the job to take Calls.
        self.client.ok("/shop/Item/warmup/set_price?wait=60", {"price": 1}, None)
        gwcalls.shopping(self.client)

    def test_trace(self):
        c = self.client
        c.ok("/shop/Item/tr-apple/set_price", {"price": 30}, None)
        c.ok("/shop/Item/tr-apple/add_stock", {"qty": 5}, 5)
        c.ok("/shop/Item/tr-pear/set_price", {"price": 12}, None)
        c.ok("/shop/Item/tr-pear/add_stock", {"qty": 5}, 5)
        c.ok("/shop/User/tr-uma/add_to_basket", {"items": ["tr-apple", "tr-pear"]}, 42)
        c.ok("/shop/User/tr-uma/deposit", {"amount": 100}, 100)
        trace, client_span = "0af7651916cd43dd8448eb211c80319c", "b7ad6b7169203331"
        conn = http.client.HTTPConnection("127.0.0.1", c.port, timeout=90)
        try:
            conn.request("POST", "/shop/User/tr-uma/checkout", body=b"",
                         headers={"traceparent": "00-%s-%s-01" % (trace, client_span)})
            r = conn.getresponse()
            st, tp, body = r.status, r.getheader("traceparent", ""), json.loads(r.read())
        finally:
            conn.close()
        check_eq((st, body.get("ok")), (200, True), "checkout: %r" % body)
        m = re.match(r"^00-([0-9a-f]{32})-([0-9a-f]{16})-01$", tp)
        check(m is not None and m.group(1) == trace, "answer traceparent %r" % tp)
        # the function server writes a callee's reply span just after it
        # answers: wait for the whole path
        want = {"shop/User.checkout": 1, "shop/User.checkout (resumed)": 4,
                "await shop/Item.get_price": 2, "await shop/Item.reserve": 2,
                "shop/Item.get_price": 2, "shop/Item.reserve": 2, "reply": 5}
        deadline = time.time() + 30
        while True:
            fn = [x for x in otlp_check.spans(self.cart_trace) if x["traceId"] == trace]
            names = [x["name"] for x in fn]
            if all(names.count(k) >= n for k, n in want.items()) or time.time() > deadline:
                break
            time.sleep(0.2)
        check_eq({k: names.count(k) for k in set(names)}, want, "the function server's spans")
        gw = [x for x in otlp_check.spans(self.gw_trace) if x["traceId"] == trace]
        check_eq([(x["name"], x["parentSpanId"], x["kind"]) for x in gw],
                 [("sf-gateway call shop/User.checkout", client_span, 2)],
                 "the gateway's span, under the client's")
        root = next(x for x in fn if x["name"] == "shop/User.checkout")
        check_eq(root["parentSpanId"], gw[0]["spanId"], "checkout under the gateway's span")
        check_eq(m.group(2), root["spanId"], "the answer's span: the instance that answered")
        by_id = {x["spanId"]: x for x in fn + gw}
        for x in fn:
            check(x["parentSpanId"] in by_id, "%s: parent %s not in the trace" % (
                x["name"], x["parentSpanId"]))
            if x["name"] in ("shop/Item.get_price", "shop/Item.reserve"):
                check_eq(by_id[x["parentSpanId"]]["name"], "await " + x["name"],
                         "parent of " + x["name"])
        bad = otlp_check.problems(self.cart_trace) + otlp_check.problems(self.gw_trace)
        check(not bad, "OTLP faults: %s" % bad[:5])
        check_eq(otlp_check.origins(self.gw_trace), {("sf-gateway", "statefun-c.sf-gateway")},
                 "service.name and scope of the gateway's spans")
        if self.args.sf_local:
            p = subprocess.run([self.args.sf_local, "--trace", trace, "--trace-in", self.gw_trace,
                                "--trace-in", self.cart_trace], capture_output=True, text=True,
                               timeout=60)
            check_eq(p.returncode, 0, "sf-local --trace: %s" % p.stderr)
            lines = p.stdout.splitlines()
            log("\n".join(lines[:8] + ["..."] + lines[-2:]))
            lines = [re.sub(r"  \+[0-9.]+ ms \([0-9.]+ ms\).*$", "", ln) for ln in lines]
            check_eq((lines[0], lines[1], lines[-1]),
                     ("trace %s (%d spans)" % (trace, len(fn) + 1),
                      "sf-gateway call shop/User.checkout [tr-uma]", "   `- reply ok"),
                     "sf-local --trace: the gateway's span at the root, checkout's reply last")

    def test_docs(self):
        """The gateway-calls blocks of README.md and docs/gateway.md as
        written: each curl against this gateway, its answer (and the
        `(NNN)` status after it, else 200) as the `#` line says. Each
        block's entity keys get a prefix of their own (the suite's other
        steps use the same names)."""
        for path in DOCS:
            found = readme.blocks(path, DOC_MARKER)
            check(found, "%s: no gateway-calls block" % path)
            for n, (_, body) in enumerate(found):
                self.doc_block(path, "doc%d%d-" % (DOCS.index(path), n), body)

    def doc_block(self, path, prefix, body):
        where = os.path.relpath(path, ROOT)
        keys = set()
        for _, line in body:
            keys.update(re.findall(r"localhost:8092/shop/\w+/([\w-]+)/", line))
        rename = re.compile(r"\b(%s)\b" % "|".join(sorted(keys)))
        k, ran = 0, 0
        while k < len(body):
            n, text = body[k][0], body[k][1].strip()
            k += 1
            while text.endswith("\\") and k < len(body):
                text = text[:-1] + " " + body[k][1].strip()
                k += 1
            if not text or text.startswith("#"):
                continue
            if DOC_SETUP.match(text):
                check("sf-modgen" not in text and "sf-gateway" not in text or
                      "examples/shopping-cart/shop.ir.json" in text,
                      "%s:%d: not the suite's IR: %s" % (where, n, text))
                continue
            check(text.startswith("curl "), "%s:%d: unknown line: %s" % (where, n, text))
            wants = []
            while k < len(body) and body[k][1].lstrip().startswith("#"):
                wants.append(body[k][1].lstrip()[1:].strip())
                k += 1
            check(len(wants) == 1, "%s:%d: a curl without its one answer line" % (where, n))
            m = re.match(r"^(.*?)(?:\s+\((\d{3})\))?$", wants[0])
            want, subset = readme.expected(m.group(1))
            cmd = rename.sub(lambda g: prefix + g.group(1), text) if keys else text
            cmd = cmd.replace("localhost:8092", "127.0.0.1:%d" % self.client.port)
            # the line's words (its `# ...` comment dropped), and the status
            argv = shlex.split(cmd, comments=True) + ["-w", "\n%{http_code}"]
            p = subprocess.run(argv, cwd=ROOT, capture_output=True, text=True, timeout=120)
            out, _, status = p.stdout.rpartition("\n")
            check_eq((status, readme.matches(json.loads(out or "null"), want, subset)),
                     (m.group(2) or "200", True),
                     "%s:%d: %s\n  the doc says: %s\n  it printed:   %s"
                     % (where, n, cmd, wants[0], out))
            ran += 1
        log("%s: %d calls as the document shows them (keys %s...)" % (where, ran, prefix))
        check(ran > 0, "%s: no curl in the block" % where)

    def test_rollback(self):
        gwcalls.out_of_stock_rolls_back(self.client)

    def test_errors(self):
        gwcalls.bad_requests(self.client, 16 * 1024 * 1024, IR)

    def test_timeout_retry(self):
        c = self.client
        self.cart.pause()
        try:
            st, j = c.call("/shop/User/carol/deposit?wait=0.5", {"amount": 5},
                           headers={"X-Request-Id": "carol-1"})
        finally:
            self.cart.resume()
        check_eq((st, j["ok"], j.get("request_id")), (504, False, "carol-1"), "timeout")
        check("may still complete" in j["error"] and "X-Request-Id: carol-1" in j["error"],
              "504 message: %r" % j)
        log("504:", j["error"])
        # the retry with the same id is not sent again: it gets the first
        # call's Reply, and the deposit happened once
        st, j = c.call("/shop/User/carol/deposit?wait=60", {"amount": 5},
                       headers={"X-Request-Id": "carol-1"})
        check_eq((st, j.get("ok"), j.get("result"), j.get("request_id")),
                 (200, True, 5, "carol-1"), "retry with the same X-Request-Id")
        c.ok("/shop/User/carol/get_balance", None, 5)
        # and once more, after the answer: the remembered Reply
        st, j = c.call("/shop/User/carol/deposit", {"amount": 5},
                       headers={"X-Request-Id": "carol-1"})
        check_eq((st, j.get("result")), (200, 5), "a third time, same id")
        c.ok("/shop/User/carol/get_balance", None, 5)

    def test_concurrent(self):
        gwcalls.concurrent_deposits(self.client, "dave")

    def test_burst(self):
        """1000 calls from 50 connections at once: every one answered with
        its own result (the Reply matched to the right waiting connection),
        every balance exact."""
        import threading
        c = self.client
        users, per = 50, 20
        errors, results = [], {}

        def user(u):
            for k in range(per):
                try:
                    st, j = c.call("/shop/User/bu-%d/deposit" % u, {"amount": 1})
                    if st != 200:
                        errors.append((u, k, st, j))
                    results.setdefault(u, []).append(j.get("result"))
                except Exception as e:  # noqa: BLE001
                    errors.append((u, k, e))
        t0 = time.time()
        threads = [threading.Thread(target=user, args=(u,)) for u in range(users)]
        for t in threads:
            t.start()
        for t in threads:
            t.join(180)
        secs = time.time() - t0
        check(not errors, "burst: %d errors, e.g. %r" % (len(errors), errors[:3]))
        for u in range(users):
            # each user's deposits run in order: the results count up
            check_eq(results[u], list(range(1, per + 1)), "bu-%d results" % u)
        log("burst: %d calls from %d connections in %.1fs (%.0f calls/s), every "
            "result its own" % (users * per, users, secs, users * per / secs))

    def roundtrip(self):
        """(sum in seconds, count) of sf_gateway_roundtrip_seconds."""
        st, body = request_once(self.client.port, "GET", "/metrics")
        check_eq(st, 200, "GET /metrics")
        vals = {}
        for line in body.decode().splitlines():
            if line.startswith("sf_gateway_roundtrip_seconds_"):
                k, v = line.rsplit(" ", 1)
                vals[k] = float(v)
        return (vals["sf_gateway_roundtrip_seconds_sum"],
                int(vals["sf_gateway_roundtrip_seconds_count"]))

    def test_latency(self):
        c = self.client
        c.ok("/shop/Item/l-a/set_price", {"price": 3}, None)
        c.ok("/shop/Item/l-b/set_price", {"price": 4}, None)
        c.ok("/shop/Item/l-a/add_stock", {"qty": 1000000}, 1000000)
        c.ok("/shop/Item/l-b/add_stock", {"qty": 1000000}, 1000000)
        one, four = [], []
        n = self.args.calls
        for i in range(n + 30):
            if i == 30:
                rt0 = self.roundtrip()
            t0 = time.perf_counter()
            c.ok("/shop/Item/l-a/get_price", None, 3)
            if i >= 30:
                one.append(time.perf_counter() - t0)
        rt1 = self.roundtrip()
        check_eq(rt1[1] - rt0[1], n, "round trips counted by /metrics")
        rt_mean = (rt1[0] - rt0[0]) / n
        for i in range(n // 3 + 10):
            t0 = time.perf_counter()
            c.ok("/shop/User/lu-%d/add_to_basket" % (i % 10), {"items": ["l-a", "l-b"]}, 7)
            if i >= 10:
                four.append(time.perf_counter() - t0)

        def fmt(xs):
            return "p50 %.1f ms p90 %.1f ms p99 %.1f ms max %.1f ms" % tuple(
                1000 * v for v in (pct(xs, 50), pct(xs, 90), pct(xs, 99), max(xs)))
        self.latency_line = (
            "LATENCY through sf-gateway + real Flink (%s egress, checkpoint 1s, "
            "read_committed, sequential, after warm-up): Item.get_price x%d: %s; "
            "User.add_to_basket (4 awaits) x%d: %s. get_price means: HTTP %.2f ms, "
            "of which Call produced -> Reply consumed %.2f ms (gateway /metrics), "
            "the gateway's own part %.2f ms" % (
                self.args.delivery, len(one), fmt(one), len(four), fmt(four),
                1000 * sum(one) / len(one), 1000 * rt_mean,
                1000 * (sum(one) / len(one) - rt_mean)))
        log(self.latency_line)

    TESTS = ["shopping", "docs", "trace", "rollback", "errors", "timeout_retry", "concurrent", "burst",
             "latency"]

    def run(self):
        def body(t_all):
            try:
                self.setup()
            except Exception as e:  # noqa: BLE001
                import traceback
                traceback.print_exc()
                self.results.append(("set-up", False, time.time() - t_all, str(e)))
                return True
            return run_tests(self, self.TESTS, self.results,
                             self.args.only.split(",") if self.args.only else None)

        def dump():
            try:
                self.cluster.dump_logs()
            except Exception as e:  # noqa: BLE001
                print("cannot dump cluster logs:", e)
            self.cart.dump_log()
            if self.gw is not None:
                print("----- sf-gateway log\n" + self.gw.tail(60))
        t_all = run_bounded("e2e.gateway", self.args.deadline, self.results, body,
                            dump, self.teardown)
        return summary("e2e.gateway", self.results, t_all, 14, after=self.latency_line)


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--gateway", required=True)
    ap.add_argument("--sf-modgen", required=True)
    ap.add_argument("--shopping-cart", required=True)
    ap.add_argument("--sf-local", help="prints the traced checkout with sf-local --trace")
    ap.add_argument("--only", help="run only these tests (comma-separated; the set-up runs)")
    ap.add_argument("--work-dir", default=os.path.join(ROOT, ".cache", "e2e-gateway-run"))
    ap.add_argument("--deadline", type=int, default=540)
    ap.add_argument("--calls", type=int, default=300)
    ap.add_argument("--keep", action="store_true")
    ap.add_argument("--delivery", default="at-least-once",
                    choices=["at-least-once", "exactly-once"],
                    help="the replies egress' deliverySemantic (exactly-once: "
                         "a Reply is read when its checkpoint completes)")
    ap.add_argument("--flink-set", action="append", default=[], metavar="KEY=VALUE",
                    help="a flink-conf.yaml entry (cluster.sh --set), e.g. to "
                         "measure execution.buffer-timeout")
    return Suite(ap.parse_args()).run()


if __name__ == "__main__":
    sys.exit(main())
