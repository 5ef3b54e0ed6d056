#!/usr/bin/env python3
"""Stateful entities on a *real* Flink StateFun 3.3.0 cluster: the
shopping-cart example (examples/shopping-cart) behind deploy/local/cluster.sh,
called from outside through Kafka with statefun.entities.Call envelopes.

  run_e2e_entities.py --sf-modgen PATH --shopping-cart PATH --sf-local PATH
                      [--work-dir DIR] [--keep]

The module.yaml is sf-modgen's output for examples/shopping-cart/shop.ir.json
with --entity-topics (a Kafka topic shop.Item / shop.User of
statefun.entities/Call per entity) and the replies egress shop.io/replies
declared exactly-once. A call is a Call record (key = the entity key) on the
entity's topic with request_id, reply_egress shop.io/replies and reply_topic
shop.replies; its Reply is the record keyed by request_id on shop.replies,
read with read_committed. Args and Results are encoded/decoded from the IR
by tests/entities/shopclient.py.

Tests (one cluster, one job):
  basic          set_price/add_stock (and their errors), deposit,
                 add_to_basket (awaits across entities through Flink),
                 a checkout that succeeds, one that rolls back because an
                 item is out of stock, one that rolls back because the
                 balance is short; stock and balances read back
  fn_kills       two bursts of add_to_basket calls; the shopping-cart server
                 is kill -9'ed right after each burst is produced (round 1:
                 as soon as it answered the first Item call, i.e. Users are
                 suspended awaiting Items; round 2: once the first Reply is
                 out) and restarted: every
                 call gets exactly one committed Reply with the result of a
                 Python model; baskets read back exact (no call doubled)
  latency        add_to_basket of 2 items (4 awaits) in a closed loop, 100
                 calls after warm-up, through Flink (reply seen with
                 read_uncommitted, i.e. when the egress writes it; plus the
                 read_committed delay of the basic test's calls) and through
                 sf-local (POST /shop/User/<k>/add_to_basket) with the same
                 module and server. Printed as one "LATENCY" line.

SF_SKIP_E2E=1 skips it (exit 77).
"""
import argparse
import os
import subprocess
import sys
import time
import traceback
import json
import http.client

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.abspath(os.path.join(HERE, "..", ".."))
SKIP = 77

if os.environ.get("SF_SKIP_E2E") == "1" and __name__ == "__main__":
    print("e2e.entities: skipped (SF_SKIP_E2E=1)")
    sys.exit(SKIP)

sys.path.insert(0, HERE)
sys.path.insert(0, os.path.join(ROOT, "tests", "entities"))
from run_e2e import ensure_venv  # noqa: E402

if __name__ == "__main__":
    ensure_venv()

from e2elib import (Failure, FnServer, Sends, check, free_port, kafka,  # noqa: E402
                    log, pct, producer, run_bounded, run_tests, suite_dirs,
                    summary, which)
from shopclient import Schema, decode_reply, encode_call  # noqa: E402

IR = os.path.join(ROOT, "examples", "shopping-cart", "shop.ir.json")
REPLY_EGRESS = "shop.io/replies"
REPLY_TOPIC = "shop.replies"


class RawReader:
    """The replies topic, raw bytes: {request_id: [(Reply, receive time)]}.
    (run_e2e_bank.py reads its own replies topic with it.)"""

    def __init__(self, bootstrap, committed=True, topic=REPLY_TOPIC):
        self.consumer = kafka().Consumer({
            "bootstrap.servers": bootstrap,
            "group.id": "e2e-ent-%d-%f" % (os.getpid(), time.time()),
            "auto.offset.reset": "earliest",
            "enable.auto.commit": False,
            "isolation.level": "read_committed" if committed else "read_uncommitted",
            "fetch.wait.max.ms": 10,
            "topic.metadata.refresh.interval.ms": 1000,
        })
        self.consumer.subscribe([topic])
        self.replies = {}
        self.count = 0

    def poll(self, seconds, batch_timeout=0.2):
        end = time.time() + seconds
        while True:
            left = end - time.time()
            if left <= 0:
                return
            for m in self.consumer.consume(num_messages=1000,
                                           timeout=min(left, batch_timeout)):
                if m.error():
                    continue
                now = time.time()
                rid = (m.key() or b"").decode()
                r = decode_reply(m.value() or b"")
                check(r.request_id == rid, "reply keyed %r carries request_id %r"
                      % (rid, r.request_id))
                self.replies.setdefault(rid, []).append((r, now))
                self.count += 1

    def wait_all(self, rids, timeout, what):
        deadline = time.time() + timeout
        while True:
            missing = [r for r in rids if r not in self.replies]
            if not missing:
                return
            if time.time() >= deadline:
                raise Failure("timed out after %ds waiting for %s: %d of %d replies "
                              "missing (e.g. %s)" % (timeout, what, len(missing),
                                                     len(rids), missing[:5]))
            self.poll(0.3)

    def close(self):
        self.consumer.close()


class Suite(Sends):
    def __init__(self, args):
        self.args = args
        self.work, self.logs, self.cluster = suite_dirs(args.work_dir)
        self.cart = FnServer("shopping-cart", which(args.shopping_cart), self.logs,
                             ["--threads", "2"])
        self.schema = Schema(IR)
        self.prod = None
        self.committed = None
        self.uncommitted = None
        self.sent = {}       # rid -> (entity, key, method, send time)
        self.n = 0
        self.prefix = "r%d" % (int(time.time()) % 1000000)
        self.results = []
        self.committed_lat = []
        self.lat_flink = []
        self.lat_local = []
        self.sflocal = None

    # ---- set-up ----------------------------------------------------------
    def module(self):
        path = os.path.join(self.work, "module.yaml")
        subprocess.check_call([
            which(self.args.sf_modgen), "--ir", IR, "--entity-topics",
            "--kafka", self.cluster.bootstrap,
            "--url-template", "http://127.0.0.1:%d/statefun/{function.name}" % self.cart.port,
            "--egress", REPLY_EGRESS, "--delivery", "exactly-once",
            "--startup-position", "earliest", "-o", path])
        return path

    def setup(self):
        self.cart.start()
        self.module_path = self.module()
        t0 = time.time()
        self.cluster.start(self.module_path, topics=[REPLY_TOPIC],
                           checkpoint_interval="1s")
        log("cluster up: start-up %.1fs" % (time.time() - t0))
        self.prod = producer(self.cluster.bootstrap, **{"linger.ms": 0})
        self.committed = RawReader(self.cluster.bootstrap, committed=True)
        self.uncommitted = RawReader(self.cluster.bootstrap, committed=False)

    def teardown(self):
        for r in (self.committed, self.uncommitted):
            if r:
                try:
                    r.close()
                except Exception:
                    pass
        if self.prod:
            self.prod.flush(10)
            self.prod = None
            import gc
            gc.collect()
        if self.sflocal and self.sflocal.poll() is None:
            self.sflocal.terminate()
            try:
                self.sflocal.wait(10)
            except subprocess.TimeoutExpired:
                self.sflocal.kill()
        if not self.args.keep:
            self.cluster.stop()
        self.cart.stop()

    # ---- calls through Kafka ---------------------------------------------
    def send(self, entity, key, method, *args):
        self.n += 1
        rid = "%s-%d" % (self.prefix, self.n)
        body = encode_call(method, self.schema.encode_args(entity, method, args),
                           call_id="ext:" + rid, request_id=rid,
                           reply_egress=REPLY_EGRESS, reply_topic=REPLY_TOPIC)
        self.prod.produce("shop." + entity, key=key.encode(), value=body)
        self.prod.poll(0)
        self.sent[rid] = (entity, key, method, time.time())
        return rid

    def result(self, rid):
        """The one committed Reply of rid: (ok, value or error)."""
        got = self.committed.replies[rid]
        check(len(got) == 1, "request %s: %d committed replies" % (rid, len(got)))
        r, t = got[0]
        entity, _, method, _ = self.sent[rid]
        if r.ok:
            return True, self.schema.decode_result(entity, method, r.result)
        return False, r.error

    def call_all(self, calls, timeout=180):
        """Sends calls [(entity, key, method, args...)] at once (they must
        not depend on each other's order except per key) and waits for
        their committed replies; returns [(ok, value/error)]."""
        rids = [self.send(*c) for c in calls]
        self.flush()
        self.committed.wait_all(rids, timeout, "%d replies" % len(rids))
        for rid in rids:
            self.committed_lat.append(self.committed.replies[rid][0][1] - self.sent[rid][3])
        return [self.result(rid) for rid in rids]

    def call(self, entity, key, method, *args):
        return self.call_all([(entity, key, method) + args])[0]

    def expect(self, got, want, what):
        check(got == want, "%s: got %r, want %r" % (what, got, want))

    # ---- tests -------------------------------------------------------------
    def test_basic(self):
        ok = lambda v: (True, v)  # noqa: E731
        r = self.call_all([("Item", "apple", "set_price", 30),
                           ("Item", "pear", "set_price", 12),
                           ("Item", "apple", "add_stock", 5),
                           ("Item", "pear", "add_stock", 1),
                           ("Item", "plum", "set_price", -1),
                           ("Item", "plum", "add_stock", 0)])
        self.expect(r[:4], [ok(None), ok(None), ok(5), ok(1)], "prices and stock")
        check(not r[4][0] and "price must not be negative" in r[4][1], "set_price -1: %r" % (r[4],))
        check(not r[5][0] and "qty must be positive" in r[5][1], "add_stock 0: %r" % (r[5],))
        log("prices/stock set; errors travel back:", r[4][1], "|", r[5][1])
        self.expect(self.call_all([("User", "alice", "deposit", 100),
                                   ("User", "carol", "deposit", 1000),
                                   ("User", "dave", "deposit", 10)]),
                    [ok(100), ok(1000), ok(10)], "deposits")
        # awaits across entities: User -> Item.get_stock/get_price, twice
        self.expect(self.call_all([("User", "alice", "add_to_basket", ["apple", "pear"]),
                                   ("User", "carol", "add_to_basket", ["apple", "pear"]),
                                   ("User", "dave", "add_to_basket", ["apple"])]),
                    [ok(42), ok(42), ok(30)], "add_to_basket")
        receipt = self.call("User", "alice", "checkout")
        self.expect(receipt, ok({"lines": [{"item": "apple", "qty": 1, "price": 30},
                                           {"item": "pear", "qty": 1, "price": 12}],
                                 "total": 42, "balance": 58}), "alice checkout")
        log("alice checkout:", receipt[1])
        # carol: apple reserved, pear out of stock -> apple released, fails
        r = self.call("User", "carol", "checkout")
        check(not r[0] and "checkout failed" in r[1] and "out of stock" in r[1],
              "carol checkout must roll back: %r" % (r,))
        log("carol checkout rolled back:", r[1])
        # dave: apple reserved, balance 10 < 30 -> released, fails
        r = self.call("User", "dave", "checkout")
        check(not r[0] and "short" in r[1], "dave checkout must roll back: %r" % (r,))
        log("dave checkout rolled back:", r[1])
        self.expect(self.call_all([("Item", "apple", "get_stock"),
                                   ("Item", "pear", "get_stock"),
                                   ("User", "alice", "get_balance"),
                                   ("User", "carol", "get_balance"),
                                   ("User", "dave", "get_balance"),
                                   ("User", "alice", "get_basket"),
                                   ("User", "carol", "get_basket")]),
                    [ok(4), ok(0), ok(58), ok(1000), ok(10), ok([]),
                     ok(["apple", "pear"])], "state after the checkouts")
        log("state after the rollbacks exact: apple 4, pear 0, balances 58/1000/10")

    # -- fault run with a model
    ITEMS = {"k-a": (5, 100), "k-b": (7, 100), "k-c": (11, 100), "k-d": (13, 0),
             "k-e": (17, 3)}

    def test_fn_kills(self):
        items = self.ITEMS
        calls = [("Item", k, "set_price", p) for k, (p, _) in items.items()]
        calls += [("Item", k, "add_stock", s) for k, (_, s) in items.items() if s]
        self.call_all(calls)
        names = sorted(items)
        basket = {}
        rids = {}   # rid -> expected total
        starts = self.cart.starts
        for rnd in range(2):
            burst = []
            for u in range(60):
                user = "ku-%02d" % u
                for j in range(2):
                    two = [names[(u + j + rnd) % len(names)],
                           names[(u * 3 + j + 2 * rnd + 1) % len(names)]]
                    burst.append((user, two))
            items_before = self.cart.metric("statefun_invocations_total", "shop/Item")
            t0 = time.time()
            mine = []
            for user, two in burst:
                rid = self.send("User", user, "add_to_basket", two)
                mine.append(rid)
                instock = [i for i in two if items[i][1] > 0]
                rids[rid] = sum(items[i][0] for i in instock)
                basket.setdefault(user, []).extend(instock)
            self.flush()
            def emitted():
                return sum(1 for r in mine if r in self.uncommitted.replies)
            if rnd == 1:  # kill once the first replies of the burst are out
                while emitted() == 0 and time.time() - t0 < 60:
                    self.uncommitted.poll(0.05, batch_timeout=0.02)
            else:  # kill as soon as Users await Items (the first Item call)
                while (self.cart.metric("statefun_invocations_total", "shop/Item")
                       == items_before and time.time() - t0 < 60):
                    time.sleep(0.01)
            emitted = emitted()
            item_calls = self.cart.metric("statefun_invocations_total",
                                          "shop/Item") - items_before
            log("round %d: kill -9 shopping-cart (pid %d) %.2fs after producing %d "
                "add_to_basket calls; %d Item calls (awaits) answered and %d "
                "replies emitted so far" % (
                    rnd + 1, self.cart.proc.pid, time.time() - t0, len(burst),
                    item_calls, emitted))
            check(item_calls > 0, "round %d: no User awaited an Item before the "
                  "kill" % (rnd + 1))
            check(emitted < len(burst), "round %d: every call already answered "
                  "before the kill (no call in flight)" % (rnd + 1))
            self.cart.kill9()
            time.sleep(1.0)
            self.cart.start()
            log("shopping-cart restarted (start %d)" % self.cart.starts)
        self.committed.wait_all(list(rids), 300, "the fault run's replies")
        self.committed.poll(3.0)  # a duplicate would show up now
        bad = []
        for rid, want in rids.items():
            n = len(self.committed.replies[rid])
            res = self.result(rid) if n == 1 else None
            if n != 1 or res != (True, want):
                bad.append("%s: %d replies, %r, want %r" % (rid, n, res, want))
        check(not bad, "fault run:\n  " + "\n  ".join(bad[:10]))
        extra = [r for r in self.committed.replies if r not in self.sent]
        check(not extra, "replies to unknown requests: %r" % extra[:5])
        users = sorted(basket)
        got = self.call_all([("User", u, "get_basket") for u in users])
        wrong = ["%s: %r, want %r" % (u, g, (True, basket[u]))
                 for u, g in zip(users, got) if g != (True, basket[u])]
        check(not wrong, "baskets after the fault run:\n  " + "\n  ".join(wrong[:10]))
        got = self.call_all([("Item", k, "get_stock") for k in names])
        self.expect(got, [(True, items[k][1]) for k in names], "stock after the fault run")
        uncommitted_dups = sum(1 for rid in rids
                               if len(self.uncommitted.replies.get(rid, [])) > 1)
        log("fault run: %d add_to_basket calls, %d server kills; each exactly one "
            "committed Reply (read_committed, exactly-once egress), results = model; "
            "%d baskets exact; read_uncommitted duplicates: %d" % (
                len(rids), self.cart.starts - starts, len(users), uncommitted_dups))

    # -- latency
    def test_latency(self):
        self.call_all([("Item", "l-a", "set_price", 3), ("Item", "l-b", "set_price", 4),
                       ("Item", "l-a", "add_stock", 1000000),
                       ("Item", "l-b", "add_stock", 1000000)])
        for i in range(130):
            rid = self.send("User", "lu-%d" % (i % 10), "add_to_basket", ["l-a", "l-b"])
            self.flush()
            t0 = self.sent[rid][3]
            deadline = time.time() + 60
            while rid not in self.uncommitted.replies:
                check(time.time() < deadline, "latency call %s: no reply in 60s" % rid)
                self.uncommitted.poll(0.05, batch_timeout=0.005)
            r, t = self.uncommitted.replies[rid][0]
            check(r.ok and self.schema.decode_result("User", "add_to_basket", r.result) == 7,
                  "latency call: %r" % r)
            if i >= 30:
                self.lat_flink.append(t - t0)
        # sf-local with the same module and the same server
        ing, egr = free_port(), free_port()
        logf = open(os.path.join(self.logs, "sf-local.log"), "w")
        self.sflocal = subprocess.Popen(
            [which(self.args.sf_local), "--module", self.module_path, "--ir", IR,
             "--ingress-port", str(ing), "--egress-port", str(egr)],
            stdout=logf, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL)
        conn = None
        deadline = time.time() + 30

        def post(path, body):
            nonlocal conn
            if conn is None:
                conn = http.client.HTTPConnection("127.0.0.1", ing, timeout=60)
            try:
                conn.request("POST", path, body=json.dumps(body).encode(),
                             headers={"Content-Type": "application/json"})
                resp = conn.getresponse()
                return resp.status, json.loads(resp.read() or b"null")
            except Exception:
                conn.close()
                conn = None
                raise
        while True:
            try:
                post("/shop/Item/l-a/set_price", {"price": 3})
                break
            except Exception:
                check(self.sflocal.poll() is None and time.time() < deadline,
                      "sf-local did not come up (log %s)" % logf.name)
                time.sleep(0.1)
        post("/shop/Item/l-b/set_price", {"price": 4})
        post("/shop/Item/l-a/add_stock", {"qty": 1000000})
        post("/shop/Item/l-b/add_stock", {"qty": 1000000})
        for i in range(130):
            t0 = time.time()
            st, body = post("/shop/User/lu-%d/add_to_basket" % (i % 10),
                            {"items": ["l-a", "l-b"]})
            t = time.time() - t0
            check(st == 200 and body.get("ok") and body.get("result") == 7,
                  "sf-local add_to_basket: HTTP %d %r" % (st, body))
            if i >= 30:
                self.lat_local.append(t)
        ms = lambda x: x * 1000.0  # noqa: E731
        line = ("LATENCY add_to_basket (2 items = 4 awaits), closed loop, %d calls "
                "after 30 warm-up: real Flink p50 %.1f ms p99 %.1f ms (reply seen "
                "read_uncommitted); real Flink read_committed p50 %.0f ms (n=%d, "
                "checkpoint 1s); sf-local p50 %.1f ms p99 %.1f ms" % (
                    len(self.lat_flink), ms(pct(self.lat_flink, 50)),
                    ms(pct(self.lat_flink, 99)), ms(pct(self.committed_lat, 50)),
                    len(self.committed_lat), ms(pct(self.lat_local, 50)),
                    ms(pct(self.lat_local, 99))))
        self.latency_line = line
        log(line)

    TESTS = ["basic", "fn_kills", "latency"]

    def run(self):
        self.latency_line = None

        def body(t_all):
            try:
                self.setup()
            except Exception as e:
                traceback.print_exc()
                self.results.append(("set-up", False, time.time() - t_all, str(e)))
                return True
            return run_tests(self, self.TESTS, self.results)

        def dump():
            try:
                self.cluster.dump_logs()
            except Exception as e:
                print("cannot dump cluster logs:", e)
            self.cart.dump_log()
        t_all = run_bounded("e2e.entities", self.args.deadline, self.results, body,
                            dump, self.teardown)
        return summary("e2e.entities", self.results, t_all, 10, after=self.latency_line)


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--sf-modgen", required=True)
    ap.add_argument("--shopping-cart", required=True)
    ap.add_argument("--sf-local", required=True)
    ap.add_argument("--work-dir", default=os.path.join(ROOT, ".cache", "e2e-entities-run"))
    ap.add_argument("--deadline", type=int, default=1080)
    ap.add_argument("--keep", action="store_true")
    return Suite(ap.parse_args()).run()


if __name__ == "__main__":
    sys.exit(main())
