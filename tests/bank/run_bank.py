#!/usr/bin/env python3
"""The bank example (examples/bank) on sf-local: many concurrent transfers
through several banks while accounts are frozen and unfrozen; money must
be conserved and every acknowledged transfer reflected exactly once.

    run_bank.py --sf-local BIN --bank BIN [--seed N] [--transfers N]
                [--accounts N] [--banks N] [-k NAME]... [--keep]

Each test starts its own sf-local (--ir examples/bank/bank.ir.json) and
bank server on free ports and calls the entities the way the example's
README does, POST /bank/<Entity>/<key>/<method> with JSON:

  transfers  set-up (deposits, add_account), then all transfers at once
             (one client thread each, up to --concurrency) while a
             freezer flips accounts frozen/unfrozen and Bank.total or
             Bank.total_parallel (a parallel await) runs now and then;
             afterwards every account's balance, each bank's transfer
             counter and both totals are read back and checked against
             the acknowledged transfers (tests/bank/ledger.py); no request
             has a second reply left on sf-local/replies
  kill       the same with the bank server kill -9'ed once mid-run (after
             a third of the transfers were answered) and restarted; the
             kill lands while sf-local has requests out to the server
             (paused first, sflocal_in_flight > 0) and sf-local must have
             retried after it

Python 3 standard library only. The last line is "N passed, M failed"
(exit 1 on failures).
"""
import argparse
import collections
import json
import os
import random
import sys
import threading
import time
import traceback
import urllib.parse

HERE = os.path.dirname(os.path.abspath(__file__))
REPO = os.path.dirname(os.path.dirname(HERE))
IR = os.path.join(REPO, "examples", "bank", "bank.ir.json")
sys.path.insert(0, os.path.join(REPO, "tests", "pylib"))
sys.path.insert(0, HERE)
from sftest.checks import TestFailure, check, check_eq  # noqa: E402
from sftest.net import KeepAlive  # noqa: E402
from sftest.sflocal import LocalEnv, run_tests  # noqa: E402
from ledger import Ledger, Plan  # noqa: E402

ARGS = None
FREEZERS = 4  # threads flipping accounts frozen/unfrozen during the run


class Env(LocalEnv):
    """One test's sf-local + bank server, and JSON calls to the entities."""

    def __init__(self, name):
        super().__init__("bank", name)
        self.module = self.module_on_fn_port(os.path.join(REPO, "examples", "bank", "module.yaml"))
        self.start_fn()
        self.start_sf_local([ARGS.sf_local, "--module", self.module, "--ir", IR,
                             "--ingress-port", "0", "--egress-port", "0"])
        self.conns = KeepAlive()

    def start_fn(self):
        self.fn = self.start_server("bank", [ARGS.bank, "--listen", "127.0.0.1:%d" % self.fn_port,
                                             "--threads", "4"])

    def http(self, port, method, path, body=None, headers=None, timeout=90):
        """One request on this thread's keep-alive connection to port."""
        st, _, data = self.conns.request(port, method, path, body, headers, timeout)
        return st, data

    def call(self, entity, key, method, args=None, rid=None):
        """POST /bank/<entity>/<key>/<method>: (ok, result or error). A
        503 (backpressure) is retried with the same request id; any
        other answer but 200/422 fails the test."""
        path = "/bank/%s/%s/%s?wait=60" % (entity, urllib.parse.quote(key, safe=""), method)
        body = json.dumps(args).encode() if args else b""
        headers = {"Content-Type": "application/json"}
        if rid:
            headers.update({"X-Request-Id": rid, "X-Idempotency-Key": rid})
        deadline = time.monotonic() + 60
        while True:
            st, data = self.http(self.ingress, "POST", path, body, headers)
            if st != 503 or time.monotonic() > deadline:
                break
            time.sleep(0.05)
        check(st in (200, 422), "POST %s %s: HTTP %d %s", path, body, st, data[:300])
        reply = json.loads(data)
        return (True, reply["result"]) if reply["ok"] else (False, reply["error"])

    def value(self, entity, key, method, args=None):
        ok, v = self.call(entity, key, method, args)
        check(ok, "%s/%s.%s(%s) failed: %s", entity, key, method, args or "", v)
        return v

    def view(self, entity, key):
        st, data = self.http(self.ingress, "GET", "/bank/%s/%s" % (
            entity, urllib.parse.quote(key, safe="")))
        check(st == 200, "GET state of %s/%s: HTTP %d", entity, key, st)
        return json.loads(data)

    def leftover_reply(self, rid):
        """A reply record still on sf-local/replies for rid (a second reply
        to a request whose first was answered): its text, or None."""
        st, data = self.http(self.egress, "GET", "/egress/sf-local/replies/%s?max=10"
                             % urllib.parse.quote(rid, safe=""))
        check(st in (200, 204), "GET leftover replies of %s: HTTP %d %s", rid, st, data[:200])
        return data.decode() if st == 200 else None


# ---- the run ------------------------------------------------------------------

def set_up(env, plan):
    for a in plan.accounts:
        check_eq(env.value("Account", a, "deposit", {"amount": plan.initial[a]}),
                 plan.initial[a], "initial deposit into " + a)
    for b in plan.banks:
        for n, a in enumerate(plan.members(b), 1):
            check_eq(env.value("Bank", b, "add_account", {"account": a}), n,
                     "add_account %s to %s" % (a, b))
    ok, err = env.call("Bank", plan.banks[0], "add_account", {"account": plan.members(plan.banks[0])[0]})
    check(not ok and "already in bank" in err, "add_account twice: %r", err)


class Background(threading.Thread):
    """Runs step() again and again until stopped; the first error is kept."""

    def __init__(self, step, pause):
        super().__init__(daemon=True)
        self.step, self.pause = step, pause
        self.stopped = threading.Event()
        self.error = None

    def run(self):
        try:
            while not self.stopped.is_set():
                self.step()
                self.stopped.wait(self.pause)
        except Exception as e:  # noqa: BLE001 - reported by the test
            self.error = e if isinstance(e, TestFailure) else TestFailure(traceback.format_exc())

    def finish(self):
        self.stopped.set()
        self.join(timeout=120)
        if self.error:
            raise self.error


def run_plan(env, plan, kill_at=None):
    """Sets up, runs every transfer at once with freezes and totals going
    on, optionally kill -9s the server once `kill_at` transfers were
    answered, and checks the outcome. Returns the note to print."""
    set_up(env, plan)
    ledger = Ledger(plan)
    lock = threading.Lock()
    frozen = {a: False for a in plan.accounts}
    stats = collections.Counter()
    running = threading.Event()  # set while transfers are in flight

    def freezer(part):
        """Flips the accounts i % FREEZERS == part, keeping about a fifth of
        them frozen; the only writer of their `frozen`, so its view is exact."""
        mine = plan.accounts[part::FREEZERS]
        rng = random.Random(plan.seed * 100 + part)

        def step():
            down = [a for a in mine if frozen[a]]
            up = [a for a in mine if not frozen[a]]
            a = rng.choice(up if len(down) * 5 < len(mine) or not down else down)
            was = env.value("Account", a, "set_frozen", {"frozen": not frozen[a]})
            check_eq(was, frozen[a], "set_frozen of %s: the previous state" % a)
            frozen[a] = not frozen[a]
            with lock:
                stats["freezes" if frozen[a] else "unfreezes"] += 1
                if running.is_set():
                    stats["flips during transfers"] += 1
        return step

    def total_step():  # values are not checked mid-run (no snapshot across banks)
        if running.is_set():
            method = random.choice(["total", "total_parallel"])
            v = env.value("Bank", random.choice(plan.banks), method)
            check(isinstance(v, int) and 0 <= v <= plan.initial_sum(), "%s mid-run: %r", method, v)
            with lock:
                stats["totals during transfers"] += 1

    def transfer(t):
        i, bank, src, dst, amount = t
        with lock:
            stats["sent"] += 1
        ok, v = env.call("Bank", bank, "transfer", {"from": src, "to": dst, "amount": amount},
                         rid="%s-t%d" % (ARGS.rid_prefix, i))
        with lock:
            ledger.record(t, ok, v)
            kill = kill_at is not None and len(ledger.answers) == kill_at
            unanswered = stats["sent"] - len(ledger.answers)
        if kill:  # outside the lock: the other clients keep sending meanwhile
            kill_and_restart(env, stats, unanswered)

    background = [Background(freezer(n), 0) for n in range(FREEZERS)]
    background.append(Background(total_step, 0.01))
    for b in background:
        b.start()
    while stats["freezes"] < len(plan.accounts) // 5:  # some are frozen from the start
        time.sleep(0.01)
    t0 = time.monotonic()
    running.set()
    workers = []
    pending = list(reversed(plan.transfers))

    def worker():
        while True:
            with lock:
                if not pending:
                    return
                t = pending.pop()
            transfer(t)

    errors = []

    def guarded():
        try:
            worker()
        except Exception as e:  # noqa: BLE001
            errors.append(e)

    for _ in range(min(ARGS.concurrency, len(plan.transfers))):
        w = threading.Thread(target=guarded, daemon=True)
        w.start()
        workers.append(w)
    for w in workers:
        w.join(timeout=300)
    running.clear()
    elapsed = time.monotonic() - t0
    for b in background:
        b.finish()
    if errors:
        raise errors[0] if isinstance(errors[0], TestFailure) else TestFailure(repr(errors[0]))
    check(not any(w.is_alive() for w in workers), "transfers still running after 300 s")

    # Read back: balances by the getter and in sf-local's state view.
    balances = {a: env.value("Account", a, "get_balance") for a in plan.accounts}
    for a in plan.accounts:
        fields = env.view("Account", a).get("fields", {})
        check_eq(fields.get("balance"), balances[a], "state view of %s vs get_balance" % a)
        check_eq(fields.get("frozen"), frozen[a], "frozen of %s" % a)
    bank_transfers = {b: env.value("Bank", b, "get_transfers") for b in plan.banks}
    bank_totals = {b: env.value("Bank", b, "total") for b in plan.banks}
    parallel_totals = {b: env.value("Bank", b, "total_parallel") for b in plan.banks}
    for b in plan.banks:
        check_eq(env.value("Bank", b, "get_accounts"), plan.members(b), "accounts of " + b)
    ledger.verify(balances, bank_transfers, bank_totals, parallel_totals)
    leftovers = [(t[0], x) for t in plan.transfers
                 for x in [env.leftover_reply("%s-t%d" % (ARGS.rid_prefix, t[0]))] if x]
    check(not leftovers, "second replies left on sf-local/replies: %s", leftovers[:3])

    # The run must have exercised what it claims to.
    k = ledger.kinds
    check(k["acknowledged"] >= len(plan.transfers) // 4, "too few acknowledged: %s", ledger.summary())
    check(k["to_frozen"] >= 1 and k["from_frozen"] >= 1 and k["overdraft"] >= 1,
          "a kind of refusal never happened: %s", ledger.summary())
    check(stats["flips during transfers"] >= 10, "only %d freezes/unfreezes during the transfers",
          stats["flips during transfers"])
    note = "%s; %d freezes and %d unfreezes (%d during the transfers), %d Bank.total/" \
           "total_parallel during; " \
           "%d banks, %d accounts, %d client threads, %.1f s" % (
               ledger.summary(), stats["freezes"], stats["unfreezes"],
               stats["flips during transfers"], stats["totals during transfers"],
               len(plan.banks), len(plan.accounts), min(ARGS.concurrency, len(plan.transfers)),
               elapsed)
    if kill_at is not None:
        check(stats["kills"] == 1, "the server was not killed (%d answers)", len(ledger.answers))
        retried = env.metric("sflocal_retries_total") - stats["retries before kill"]
        check(retried >= 1, "the kill hit no request: sf-local retried nothing after it")
        note += "; kill -9 after %d answers with %d transfers unanswered and %d batches in " \
                "flight on the paused server, sf-local retried %d times" % (
                    kill_at, stats["in flight at kill"], stats["batches at kill"], retried)
    return note


def kill_and_restart(env, stats, in_flight):
    """kill -9 of the bank server while sf-local has requests out to it
    (LocalEnv.kill_in_flight), then a new one on the same port."""
    stats["retries before kill"] = env.metric("sflocal_retries_total")
    batches = env.kill_in_flight(env.fn)
    check(batches > 0, "no request was in flight on the bank server to kill "
          "(%d transfers unanswered)", in_flight)
    stats["kills"] += 1
    stats["in flight at kill"] = in_flight
    stats["batches at kill"] = batches
    time.sleep(0.2)
    env.start_fn()


def plan_for(seed, prefix):
    return Plan(seed, ARGS.accounts, ARGS.banks, ARGS.transfers, prefix=prefix)


def test_transfers(env):
    return run_plan(env, plan_for(ARGS.seed, "run"))


def test_kill(env):
    return run_plan(env, plan_for(ARGS.seed + 1, "kill"), kill_at=ARGS.transfers // 3)


TESTS = [("transfers", test_transfers), ("kill", test_kill)]


def main():
    global ARGS
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--sf-local", required=True)
    ap.add_argument("--bank", required=True)
    ap.add_argument("--seed", type=int, default=int(os.environ.get("SF_BANK_SEED", "20261205")))
    ap.add_argument("--transfers", type=int, default=400)
    ap.add_argument("--accounts", type=int, default=40)
    ap.add_argument("--banks", type=int, default=6)
    ap.add_argument("--concurrency", type=int, default=200,
                    help="client threads, each with one transfer in flight")
    ap.add_argument("-k", action="append", default=[])
    ap.add_argument("--keep", action="store_true")
    ARGS = ap.parse_args()
    ARGS.rid_prefix = "bank%d" % os.getpid()
    print("seed %d (rerun with --seed %d or SF_BANK_SEED)" % (ARGS.seed, ARGS.seed), flush=True)
    return run_tests(TESTS, Env, ARGS.k, ARGS.seed, ARGS.keep)


if __name__ == "__main__":
    sys.exit(main())
