#!/usr/bin/env python3
"""The bank example (examples/bank) on a *real* Flink StateFun 3.3.0
cluster (deploy/local/cluster.sh): the checks of tests/bank/run_bank.py,
through Kafka.

  run_e2e_bank.py --sf-modgen PATH --bank PATH [--transfers N]
                  [--accounts N] [--banks N] [--seed N] [-k TEST]...
                  [--work-dir DIR] [--keep]

The module.yaml is sf-modgen's output for examples/bank/bank.ir.json with
--entity-topics (Kafka topics bank.Account and bank.Bank of
statefun.entities/Call) and the replies egress bank.io/replies declared
exactly-once. A call is a Call record (key = the entity key) on its
entity's topic; its Reply is the record keyed by the request id on
bank.replies, read with read_committed (tests/e2e/run_e2e_entities.py's
RawReader; Args and Results by tests/entities/shopclient.py's Schema).

Tests (one cluster, one job; each with its own accounts and banks):
  transfers  deposits and add_account; a fifth of the accounts frozen
             as the transfers start; every transfer produced at once,
             while accounts are frozen and unfrozen (a Call every 20 ms,
             and every tenth time a Bank.total or total_parallel) until
             the last transfer is answered; every call has
             exactly one committed Reply; balances, transfer counters,
             Bank.total and Bank.total_parallel (a parallel await) read
             back and checked against the acknowledged transfers
             (tests/bank/ledger.py: money conserved, each acknowledged
             transfer reflected exactly once, refusals leave no trace)
  kill       the same with the bank server kill -9'ed once a third of the
             transfers were answered (the rest in flight) and restarted

SF_SKIP_E2E=1 skips it (exit 77).
"""
import argparse
import os
import random
import subprocess
import sys
import time
import traceback

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.abspath(os.path.join(HERE, "..", ".."))
SKIP = 77

if os.environ.get("SF_SKIP_E2E") == "1" and __name__ == "__main__":
    print("e2e.bank: skipped (SF_SKIP_E2E=1)")
    sys.exit(SKIP)

sys.path.insert(0, HERE)
sys.path.insert(0, os.path.join(ROOT, "tests", "entities"))
sys.path.insert(0, os.path.join(ROOT, "tests", "bank"))
from run_e2e import ensure_venv  # noqa: E402

if __name__ == "__main__":
    ensure_venv()

from e2elib import (FnServer, Sends, check, log, producer, run_bounded,  # noqa: E402
                    run_tests, suite_dirs, summary, which)
from ledger import Ledger, Plan  # noqa: E402
from run_e2e_entities import RawReader  # noqa: E402
from shopclient import Schema, encode_call  # noqa: E402

IR = os.path.join(ROOT, "examples", "bank", "bank.ir.json")
REPLY_EGRESS = "bank.io/replies"
REPLY_TOPIC = "bank.replies"
FLIP_EVERY = 0.02  # seconds between two freeze/unfreeze calls during a run


class Suite(Sends):
    def __init__(self, args):
        self.args = args
        self.work, self.logs, self.cluster = suite_dirs(args.work_dir)
        self.bank = FnServer("bank", which(args.bank), self.logs, ["--threads", "2"])
        self.schema = Schema(IR)
        self.prod = self.committed = self.uncommitted = None
        self.sent = {}  # rid -> (entity, key, method)
        self.n = 0
        self.prefix = "b%d" % (int(time.time()) % 1000000)
        self.results = []
        self.notes = []

    # ---- set-up ----------------------------------------------------------
    def module(self):
        path = os.path.join(self.work, "module.yaml")
        subprocess.check_call([
            which(self.args.sf_modgen), "--ir", IR, "--entity-topics",
            "--kafka", self.cluster.bootstrap,
            "--url-template", "http://127.0.0.1:%d/statefun/{function.name}" % self.bank.port,
            "--egress", REPLY_EGRESS, "--delivery", "exactly-once",
            "--startup-position", "earliest", "-o", path])
        return path

    def setup(self):
        self.bank.start()
        t0 = time.time()
        self.cluster.start(self.module(), topics=[REPLY_TOPIC], checkpoint_interval="1s")
        log("cluster up: start-up %.1fs" % (time.time() - t0))
        self.prod = producer(self.cluster.bootstrap, **{"linger.ms": 0})
        self.committed = RawReader(self.cluster.bootstrap, committed=True, topic=REPLY_TOPIC)
        self.uncommitted = RawReader(self.cluster.bootstrap, committed=False, topic=REPLY_TOPIC)

    def teardown(self):
        for r in (self.committed, self.uncommitted):
            if r:
                try:
                    r.close()
                except Exception:  # noqa: BLE001 - closing is best effort
                    pass
        if self.prod:
            self.prod.flush(10)
            self.prod = None
        if not self.args.keep:
            self.cluster.stop()
        self.bank.stop()

    # ---- calls through Kafka ---------------------------------------------
    def call_send(self, entity, key, method, *args):
        self.n += 1
        rid = "%s-%d" % (self.prefix, self.n)
        body = encode_call(method, self.schema.encode_args(entity, method, args),
                           call_id="ext:" + rid, request_id=rid,
                           reply_egress=REPLY_EGRESS, reply_topic=REPLY_TOPIC)
        self.send("bank." + entity, key, body)
        self.sent[rid] = (entity, key, method)
        return rid

    def result(self, rid):
        """The one committed Reply of rid: (ok, value or error)."""
        got = self.committed.replies[rid]
        check(len(got) == 1, "request %s: %d committed replies" % (rid, len(got)))
        r = got[0][0]
        entity, _, method = self.sent[rid]
        if r.ok:
            return True, self.schema.decode_result(entity, method, r.result)
        return False, r.error

    def call_all(self, calls, timeout=180):
        """Sends [(entity, key, method, args...)] at once, waits for their
        committed replies: [(ok, value or error)]."""
        rids = [self.call_send(*c) for c in calls]
        self.flush()
        self.committed.wait_all(rids, timeout, "%d replies" % len(rids))
        return [self.result(rid) for rid in rids]

    def values(self, calls, what):
        out = []
        for c, (ok, v) in zip(calls, self.call_all(calls)):
            check(ok, "%s: %s/%s.%s%r failed: %s" % (what, c[0], c[1], c[2], c[3:], v))
            out.append(v)
        return out

    # ---- one run ---------------------------------------------------------
    def set_up_plan(self, plan):
        got = self.values([("Account", a, "deposit", plan.initial[a]) for a in plan.accounts],
                          "initial deposits")
        check(got == [plan.initial[a] for a in plan.accounts], "initial deposits: %r" % got)
        calls, want = [], []
        for b in plan.banks:
            for n, a in enumerate(plan.members(b), 1):
                calls.append(("Bank", b, "add_account", a))
                want.append(n)
        got = self.values(calls, "add_account")
        check(got == want, "add_account results %r, want %r" % (got, want))

    def run_plan(self, plan, kill_at=None):
        self.set_up_plan(plan)
        rng = random.Random(plan.seed)
        frozen = {a: False for a in plan.accounts}
        flips = []  # (rid, account, previous state expected)

        def flip(a):
            flips.append((self.call_send("Account", a, "set_frozen", not frozen[a]), a, frozen[a]))
            frozen[a] = not frozen[a]

        for a in rng.sample(plan.accounts, len(plan.accounts) // 5):
            flip(a)  # frozen before the first transfer
        rids = {}
        for t in plan.transfers:
            rids[self.call_send("Bank", t[1], "transfer", t[2], t[3], t[4])] = t
        self.flush()
        t0 = time.time()
        during = kill_info = 0
        restart_at = None  # while the server is down: when to start it again
        mid_totals = []  # totals asked mid-run: (rid, method)

        def answered():
            return sum(1 for r in rids if r in self.uncommitted.replies)

        while answered() < len(rids):
            check(time.time() - t0 < 240, "%d of %d transfers answered after 240 s"
                  % (answered(), len(rids)))
            down = [a for a in plan.accounts if frozen[a]]
            up = [a for a in plan.accounts if not frozen[a]]
            flip(rng.choice(up if len(down) * 5 < len(plan.accounts) or not down else down))
            if during % 10 == 0:  # a total now and then, queued behind the bank's transfers
                method = rng.choice(["total", "total_parallel"])
                mid_totals.append((self.call_send("Bank", rng.choice(plan.banks), method), method))
            self.prod.poll(0)
            during += 1
            self.uncommitted.poll(FLIP_EVERY, batch_timeout=0.005)
            if kill_at is not None and not kill_info and answered() >= kill_at:
                n = answered()
                check(n < len(rids), "every transfer answered before the kill")
                log("kill -9 bank server (pid %d): %d of %d transfers answered"
                    % (self.bank.proc.pid, n, len(rids)))
                self.bank.kill9()
                restart_at = time.time() + 0.5  # freezes go on meanwhile
                kill_info = (n, len(rids) - n)
            if restart_at and time.time() >= restart_at:
                self.bank.start()
                restart_at = None
        elapsed = time.time() - t0
        self.flush()
        self.committed.wait_all(list(rids) + [f[0] for f in flips] + [t[0] for t in mid_totals],
                                180, "the run's committed replies")
        self.committed.poll(3.0)  # a duplicate would show up now

        ledger = Ledger(plan)
        for rid, t in rids.items():
            ok, v = self.result(rid)
            ledger.record(t, ok, v)
        bad_flips = ["%s: %r, want (True, %r)" % (a, self.result(rid), was)
                     for rid, a, was in flips if self.result(rid) != (True, was)]
        check(not bad_flips, "set_frozen answers:\n  " + "\n  ".join(bad_flips[:10]))
        for rid, method in mid_totals:  # no snapshot across banks: only the range is known
            ok, v = self.result(rid)
            check(ok and 0 <= v <= plan.initial_sum(), "%s mid-run: %r" % (method, (ok, v)))
        extra = [r for r in self.committed.replies if r not in self.sent]
        check(not extra, "replies to unknown requests: %r" % extra[:5])

        balances = dict(zip(plan.accounts, self.values(
            [("Account", a, "get_balance") for a in plan.accounts], "get_balance")))
        transfers = dict(zip(plan.banks, self.values(
            [("Bank", b, "get_transfers") for b in plan.banks], "get_transfers")))
        totals = dict(zip(plan.banks, self.values(
            [("Bank", b, "total") for b in plan.banks], "total")))
        parallel = dict(zip(plan.banks, self.values(
            [("Bank", b, "total_parallel") for b in plan.banks], "total_parallel")))
        ledger.verify(balances, transfers, totals, parallel)
        k = ledger.kinds
        check(k["acknowledged"] >= len(plan.transfers) // 4, "too few acknowledged: %s"
              % ledger.summary())
        check(k["to_frozen"] >= 1 and k["from_frozen"] >= 1 and k["overdraft"] >= 1,
              "a kind of refusal never happened: %s" % ledger.summary())
        note = "%s; %d freezes/unfreezes (%d during the transfers, every %.0f ms), %d " \
               "Bank.total/total_parallel during; %d banks, %d accounts; all transfers " \
               "answered %.1f s after they were produced" % (
                   ledger.summary(), len(flips), during, FLIP_EVERY * 1000, len(mid_totals),
                   len(plan.banks), len(plan.accounts), elapsed)
        if kill_info:
            note += "; kill -9 after %d answers, %d transfers in flight" % kill_info
        elif kill_at is not None:
            check(False, "the server was never killed")
        log(note)
        self.notes.append(note)

    def plan(self, seed, name):
        return Plan(seed, self.args.accounts, self.args.banks, self.args.transfers,
                    prefix="%s-%s" % (self.prefix, name))

    def test_transfers(self):
        self.run_plan(self.plan(self.args.seed, "run"))

    def test_kill(self):
        self.run_plan(self.plan(self.args.seed + 1, "kill"), kill_at=self.args.transfers // 3)

    TESTS = ["transfers", "kill"]

    def run(self):
        def body(t_all):
            try:
                self.setup()
            except Exception as e:  # noqa: BLE001 - reported as the set-up's failure
                traceback.print_exc()
                self.results.append(("set-up", False, time.time() - t_all, str(e)))
                return True
            return run_tests(self, self.TESTS, self.results, only=self.args.k)

        def dump():
            try:
                self.cluster.dump_logs()
            except Exception as e:  # noqa: BLE001
                print("cannot dump cluster logs:", e)
            self.bank.dump_log()
        t_all = run_bounded("e2e.bank", self.args.deadline, self.results, body, dump,
                            self.teardown)
        return summary("e2e.bank", self.results, t_all, 10, after="\n".join(self.notes))


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--sf-modgen", required=True)
    ap.add_argument("--bank", required=True)
    ap.add_argument("--seed", type=int, default=int(os.environ.get("SF_BANK_SEED", "20261205")))
    ap.add_argument("--transfers", type=int, default=400)
    ap.add_argument("--accounts", type=int, default=40)
    ap.add_argument("--banks", type=int, default=6)
    ap.add_argument("--work-dir", default=os.path.join(ROOT, ".cache", "e2e-bank-run"))
    ap.add_argument("--deadline", type=int, default=840)
    ap.add_argument("-k", action="append", default=[], help="run only this test (repeatable)")
    ap.add_argument("--keep", action="store_true")
    return Suite(ap.parse_args()).run()


if __name__ == "__main__":
    sys.exit(main())
