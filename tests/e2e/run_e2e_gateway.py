#!/usr/bin/env python3
"""sf-gateway in front of a *real* Flink StateFun 3.3.0 cluster: the
shopping-cart entities (examples/shopping-cart) behind deploy/local/cluster.sh,
called with the same JSON calls as sf-local's test
(tests/integration/run_entities_json.py, shared in tests/gateway/gwcalls.py)
and asserting the same answers.

  run_e2e_gateway.py --gateway BIN --sf-modgen BIN --shopping-cart BIN
                     [--work-dir DIR] [--keep] [--calls N] [--flink-set K=V]
                     [--delivery at-least-once|exactly-once]

The module.yaml is sf-modgen's for shop.ir.json with --entity-topics (Kafka
topic shop.Item / shop.User of statefun.entities/Call per entity) and the
replies egress shop.io/replies (at-least-once, or --delivery
exactly-once); the gateway reads it
(--module) for the topics and the egress, and reads the Replies on
shop.replies (read_committed, its default).

Tests (one cluster):
  shopping         prices, stock, add_to_basket (awaits Item through Flink),
                   checkout, a failing checkout (422)
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
import json
import os
import signal
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
import gwcalls  # noqa: E402
from e2elib import (FnServer, check, free_port, log, pct,  # noqa: E402
                    run_bounded, run_tests, suite_dirs, summary, which)
from sftest.checks import check_eq  # noqa: E402
from sftest.net import request_once  # noqa: E402
from sftest.procs import LoggedProc, sanitizer_lines  # noqa: E402

IR = os.path.join(ROOT, "examples", "shopping-cart", "shop.ir.json")
REPLY_TOPIC = "shop.replies"


class Suite:
    def __init__(self, args):
        self.args = args
        self.work, self.logs, self.cluster = suite_dirs(args.work_dir)
        self.cart = FnServer("shopping-cart", which(args.shopping_cart), self.logs,
                             ["--threads", "2"])
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
                              "--listen", "127.0.0.1:%d" % port])
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
        if self.cart.proc is not None and self.cart.proc.poll() is None:
            os.kill(self.cart.proc.pid, signal.SIGCONT)
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

    def test_rollback(self):
        gwcalls.out_of_stock_rolls_back(self.client)

    def test_errors(self):
        gwcalls.bad_requests(self.client, 16 * 1024 * 1024, IR)

    def test_timeout_retry(self):
        c = self.client
        os.kill(self.cart.proc.pid, signal.SIGSTOP)
        try:
            st, j = c.call("/shop/User/carol/deposit?wait=0.5", {"amount": 5},
                           headers={"X-Request-Id": "carol-1"})
        finally:
            os.kill(self.cart.proc.pid, signal.SIGCONT)
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

    TESTS = ["shopping", "rollback", "errors", "timeout_retry", "concurrent", "burst",
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
            return run_tests(self, self.TESTS, self.results)

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
