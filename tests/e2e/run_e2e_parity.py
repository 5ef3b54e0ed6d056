#!/usr/bin/env python3
"""sf-local vs a real Flink StateFun 3.3.0 cluster, on the same functions
and the same inputs, record for record (CTest e2e.parity).

  run_e2e_parity.py --sf-local PATH [--work-dir DIR] [--only NAME,...] [--keep]
                    [--sf-local-only]

One cluster start (deploy/local/cluster.sh) serves every check; the sf-local
runs happen while the cluster starts. The functions are official-SDK code:
parity_fns.py (Python SDK) and the apps of tests/sdkapps (Python and
JavaScript SDKs).

Tests:
  diff        the differential scenario (diff_script: >= 200 Kafka-ingress
              commands over 25 accounts and 5 relays: transfers and relay
              hops between functions, delayed messages armed, cancelled and
              re-armed, state with 1-hour expiration, then a dump of every
              address's state). sf-local: POST /topics/diff-in, records from
              its egress; Flink: Kafka topic diff-in -> functions -> Kafka
              topic diff-out (exactly-once, read_committed). The records of
              every key, in order, and the dumped state must be identical;
              both sides are also held to what the script implies (record
              count, balances, relays, fired tokens).
  app_python  tests/sdkapps/python on both runtimes: its module.yaml as
  app_js      shipped on sf-local; on Flink its documents the StateFun
              distribution has kinds for (tests/sdkapps/sdkapps.py
              flink_documents). The Kafka-topic part of the app (protobuf
              orders, f2f re-arm of a timer, cancel + re-arm in one
              invocation) gives the same records per key on both, and the
              ones the app's contract says.

A difference fails the test and prints both sides. SF_SKIP_E2E=1 skips (77).
"""
import argparse
import json
import os
import random
import sys
import threading
import time
import traceback

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.abspath(os.path.join(HERE, "..", ".."))
SKIP = 77
sys.path.insert(0, HERE)
sys.path.insert(0, os.path.join(ROOT, "tests", "sdkapps"))

if os.environ.get("SF_SKIP_E2E") == "1" and __name__ == "__main__":
    print("e2e.parity: skipped (SF_SKIP_E2E=1)")
    sys.exit(SKIP)
from run_e2e import ensure_venv  # noqa: E402
if __name__ == "__main__":
    ensure_venv()

from e2elib import (Cluster, Failure, Reader, Sends, check, log, producer,  # noqa: E402
                    run_bounded, run_tests, summary, which)
from sdkapps import (SCENARIO_QUIET_SECONDS, Proc, SfLocal, by_key,  # noqa: E402
                     diff_by_key, flink_documents, free_port, kafka_scenario,
                     module_text, sdk_python, start_app, wait_port)

LANGS = {"python": "pyapp", "js": "jsapp"}
LONG_MS = 12000  # armed to be cancelled or re-armed; never due in the test


# ---- the differential scenario --------------------------------------------------
def diff_script(seed=8, n_accounts=25, n_relays=5, per_account=10):
    """The scenario: [(topic, key, cmd)] in send order, and what it implies.
    Each account gets its own sequence of commands (a long-armed token is
    later cancelled or re-armed by the same account); the sequences are sent
    round-robin, so every address sees its commands in script order."""
    rnd = random.Random(seed)
    accts = ["acct-%02d" % i for i in range(n_accounts)]
    relays = ["relay-%d" % i for i in range(n_relays)]
    seqs = {}
    for a in accts:
        seq, armed, t = [], [], 0
        for slot in range(per_account):
            if armed and rnd.random() < 0.4:
                tok = armed.pop(0)
                seq.append({"op": "cancel", "token": tok} if rnd.random() < 0.5 else
                           {"op": "rearm", "token": tok, "ms": rnd.randint(300, 1500)})
                continue
            r = rnd.random()
            if r < 0.3:
                seq.append({"op": "add", "n": rnd.randint(1, 9)})
            elif r < 0.55:
                seq.append({"op": "transfer", "n": rnd.randint(1, 5),
                            "to": rnd.choice([b for b in accts if b != a])})
            elif r < 0.7:
                seq.append({"op": "hop", "hop": "h%d" % slot,
                            "route": rnd.sample(relays, rnd.randint(1, 3))})
            elif r < 0.85:
                t += 1
                seq.append({"op": "arm", "token": "t%d" % t, "ms": rnd.randint(300, 1500)})
            else:
                t += 1
                seq.append({"op": "arm", "token": "t%d" % t, "ms": LONG_MS})
                armed.append("t%d" % t)
        for tok in armed:  # every long one is cancelled or re-armed
            seq.append({"op": "cancel", "token": tok})
        seqs[a] = seq
    msgs = []
    for i in range(max(len(s) for s in seqs.values())):
        for a in accts:
            if i < len(seqs[a]):
                msgs.append(("diff-in", a, seqs[a][i]))
    return msgs, accts, relays


def implied(msgs):
    """What the script implies, whatever the runtime: egress record count,
    the sum of all balances, relay hops, the tokens that fire per account."""
    n, total, hops, fired, ops = 0, 0, 0, {}, {}
    long_tokens = {(k, c["token"]) for _, k, c in msgs
                   if c["op"] == "arm" and c["ms"] == LONG_MS}
    for _, key, c in msgs:
        op = c["op"]
        ops[op] = ops.get(op, 0) + 1
        n += 1  # every ingress command but hop emits one record on its key
        if op == "add":
            total += c["n"]
        elif op == "transfer":
            n += 1  # the credit
        elif op == "hop":
            hops += len(c["route"])
        elif op == "rearm" or (op == "arm" and (key, c["token"]) not in long_tokens):
            n += 1  # the fire
            fired.setdefault(key, []).append(c["token"])
    return {"records": n, "total": total, "hops": hops,
            "fired": {k: sorted(v) for k, v in fired.items()}, "ops": ops}


# ---- the two runtimes, as the scenario sees them ----------------------------------
class SfLocalSide:
    """Sends on sf-local's Kafka-style ingress, reads its egress."""
    name = "sf-local"

    def __init__(self, sfl, egress_id, topic):
        self.sfl, self.egress_id, self.topic = sfl, egress_id, topic
        self.records = []

    def send(self, topic, key, value):
        self.sfl.post_topic(topic, key, value)

    def flush(self):
        pass

    def poll(self, seconds):
        self.records += self.sfl.records(self.egress_id, self.topic, wait=seconds)


class FlinkSide(Sends):
    """Produces on the cluster's Kafka, reads one egress topic (read_committed)."""
    name = "Flink"

    def __init__(self, prod, reader, topic):
        self.prod, self.reader, self.topic = prod, reader, topic

    def poll(self, seconds):
        self.reader.poll(seconds)

    @property
    def records(self):
        return [(k, v) for (t, k, v, _) in self.reader.records if t == self.topic]


def wait_count(side, n, timeout, what):
    deadline = time.time() + timeout
    while len(side.records) < n:
        if time.time() > deadline:
            raise Failure("%s: %d of %d %s within %ds" % (side.name, len(side.records),
                                                         n, what, timeout))
        side.poll(0.5)


def run_diff(side, msgs, accts, relays, want, timeout=120):
    """Runs the scenario on one runtime; returns its records (key, value)."""
    t0 = time.time()
    for topic, key, cmd in msgs:
        side.send(topic, key, json.dumps(cmd, sort_keys=True).encode())
    side.flush()
    t_sent = time.time()
    wait_count(side, want["records"], timeout, "scenario records")
    log("%s: %d scenario records in %.1fs" % (side.name, len(side.records), time.time() - t0))
    # past the long timers: a cancelled one that still fired would show now
    while time.time() < t_sent + LONG_MS / 1000.0 + 1.0:
        side.poll(0.5)
    for a in accts:
        side.send("diff-in", a, b'{"op": "dump"}')
    for r in relays:
        side.send("diff-relay", r, b'{"op": "dump"}')
    side.flush()
    wait_count(side, want["records"] + len(accts) + len(relays), timeout, "records with dumps")
    side.poll(2.0)  # anything extra shows up now
    return list(side.records)


def check_implied(name, records, accts, relays, want):
    """Each side alone against what the script implies."""
    got = by_key(records)
    bad = []
    n = len(records) - len(accts) - len(relays)
    if n != want["records"]:
        bad.append("%d scenario records, the script implies %d" % (n, want["records"]))
    dumps = {}
    for a in accts:
        d = got.get(a + "/dump", [])
        if len(d) != 1:
            bad.append("%s: %d dumps" % (a, len(d)))
            continue
        dumps[a] = json.loads(d[0])
        if dumps[a]["fired"] != want["fired"].get(a, []):
            bad.append("%s fired %r, the script implies %r" % (
                a, dumps[a]["fired"], want["fired"].get(a, [])))
    total = sum(d["balance"] or 0 for d in dumps.values())
    if total != want["total"]:
        bad.append("balances sum to %d, the adds to %d" % (total, want["total"]))
    hops = sum(json.loads(got.get("relay/%s/dump" % r, ['{"relayed": 0}'])[0])["relayed"] or 0
               for r in relays)
    if hops != want["hops"]:
        bad.append("relays relayed %d, the routes have %d hops" % (hops, want["hops"]))
    check(not bad, "%s disagrees with the script:\n  %s" % (name, "\n  ".join(bad)))


def compare(a_name, a, b_name, b):
    """Identical records per key, in order; both sides printed on a difference."""
    ka, kb = by_key(a), by_key(b)
    bad = diff_by_key(ka, kb, a_name, b_name)
    if bad:
        raise Failure("%s and %s differ on %d of %d keys (%d vs %d records):\n  %s" % (
            a_name, b_name, len(bad), len(set(ka) | set(kb)), len(a), len(b),
            "\n  ".join(bad)))
    return len(ka)


# ---- the suite ---------------------------------------------------------------------
class Suite:
    def __init__(self, args):
        self.args = args
        self.work = os.path.abspath(args.work_dir)
        self.logs = os.path.join(self.work, "logs")
        os.makedirs(self.logs, exist_ok=True)
        self.sf_local = which(args.sf_local)
        self.cluster = Cluster(os.path.join(self.work, "cluster"))
        self.procs = []
        self.results = []
        self.prod = self.reader = None
        self.sfl_results = {}  # name -> records of the sf-local run
        self.msgs, self.accts, self.relays = diff_script()
        self.want = implied(self.msgs)

    def start_parity_fns(self):
        port = free_port()
        p = Proc("parity-fns", [sdk_python(), os.path.join(HERE, "parity_fns.py"),
                                "--port", str(port)], self.logs)
        self.procs.append(p)
        wait_port(port, p.proc, p.name)
        with open(os.path.join(HERE, "modules", "parity.yaml")) as f:
            return f.read().replace("@PARITY_PORT@", str(port))

    def write(self, name, text):
        path = os.path.join(self.work, name)
        with open(path, "w") as f:
            f.write(text)
        return path

    def setup(self):
        parity = self.start_parity_fns()
        flink_docs = [parity]
        self.app_ports = {}
        for lang, ns in LANGS.items():
            p, port = start_app(lang, self.logs)
            self.procs.append(p)
            self.app_ports[lang] = port
            docs, left = flink_documents(module_text(lang, port, kafka="@KAFKA_BOOTSTRAP@"))
            log("%s module on Flink without %s" % (lang, ", ".join(left)))
            flink_docs.append(docs)
        module = self.write("flink-module.yaml", "\n---\n".join(flink_docs))
        # sf-local runs the same in the background while the cluster starts
        # here (a deadline signal then interrupts cluster.sh, not a thread).
        t = threading.Thread(target=self.sflocal_runs, args=(parity,), daemon=True)
        t.start()
        self.cluster.start(module, topics=["diff-out", "pyapp-out", "jsapp-out"],
                           checkpoint_interval="1s")
        while t.is_alive():
            t.join(0.5)
        log("cluster up: start-up %.1fs" % self.cluster.startup_seconds)
        self.prod = producer(self.cluster.bootstrap)
        self.reader = Reader(self.cluster.bootstrap, ["diff-out", "pyapp-out", "jsapp-out"])

    def sflocal_runs(self, parity):
        """The sf-local side of every test (each on its own sf-local); every
        failure is kept in sfl_results and reported by the test."""
        ops = ", ".join("%d %s" % (v, k) for k, v in sorted(self.want["ops"].items()))
        log("differential scenario: %d commands over %d accounts and %d relays (%s); "
            "the script implies %d records" % (len(self.msgs), len(self.accts),
                                               len(self.relays), ops, self.want["records"]))
        self.sflocal_run("diff", parity.replace("@KAFKA_BOOTSTRAP@", "kafka:9092"),
                         lambda sfl: run_diff(SfLocalSide(sfl, "diff.io/out", "diff-out"),
                                              self.msgs, self.accts, self.relays, self.want))
        for lang, ns in LANGS.items():
            self.sflocal_run(lang, module_text(lang, self.app_ports[lang]),
                             lambda sfl, ns=ns: self.app_run(
                                 SfLocalSide(sfl, ns + ".io/kafka", ns + "-out"), ns))

    def sflocal_run(self, name, module, scenario):
        """One scenario on its own sf-local; the records or the exception."""
        sfl = None
        try:
            sfl = SfLocal(self.sf_local, self.write("sf-local-%s.yaml" % name, module),
                          self.logs, "sf-local-" + name)
            self.sfl_results[name] = scenario(sfl)
        except Exception as e:  # noqa: BLE001 - the test reports it
            self.sfl_results[name] = e
            if sfl:
                print(sfl.p.tail(), flush=True)
        finally:
            if sfl:
                sfl.stop()

    @staticmethod
    def app_run(side, ns):
        inputs, expected = kafka_scenario(ns)
        for topic, key, value in inputs:
            side.send(topic, key, value)
        side.flush()
        t_sent = time.time()
        wait_count(side, sum(len(v) for v in expected.values()), 60, ns + " records")
        while time.time() < t_sent + SCENARIO_QUIET_SECONDS:
            side.poll(0.5)
        return list(side.records)

    def sflocal_result(self, name):
        r = self.sfl_results.get(name)
        if isinstance(r, Exception):
            raise Failure("the sf-local run failed: %s" % r)
        check(r is not None, "no sf-local run")
        return r

    # ---- tests ---------------------------------------------------------------
    def test_diff(self):
        flink = run_diff(FlinkSide(self.prod, self.reader, "diff-out"),
                         self.msgs, self.accts, self.relays, self.want)
        local = self.sflocal_result("diff")
        # every finding, so that a failure says which side left the script
        errors = []
        for what in (lambda: compare("sf-local", local, "Flink", flink),
                     lambda: check_implied("sf-local", local, self.accts, self.relays, self.want),
                     lambda: check_implied("Flink", flink, self.accts, self.relays, self.want)):
            try:
                what()
            except Failure as e:
                errors.append(str(e))
        check(not errors, "\n".join(errors))
        n_addr = len(self.accts) + len(self.relays)
        log("identical: %d commands + %d dumps over %d addresses; %d records on "
            "each side over %d keys (per key, in order), %d state dumps" % (
                len(self.msgs), n_addr, n_addr, len(flink), len(by_key(flink)), n_addr))

    def app_test(self, lang):
        ns = LANGS[lang]
        flink = self.app_run(FlinkSide(self.prod, self.reader, ns + "-out"), ns)
        local = self.sflocal_result(lang)
        keys = compare("sf-local", local, "Flink", flink)
        _, expected = kafka_scenario(ns)
        bad = diff_by_key(by_key(flink), expected, "both", "expected")
        check(not bad, "both runtimes agree, but not with the app's contract:\n  " +
              "\n  ".join(bad))
        log("%s: %d records over %d keys identical on sf-local and Flink" % (
            ns, len(flink), keys))

    def test_app_python(self):
        self.app_test("python")

    def test_app_js(self):
        self.app_test("js")

    TESTS = ["diff", "app_python", "app_js"]

    # --sf-local-only: the sf-local side alone, held to the script and to
    # the apps' contract (quick; no cluster).
    def setup_local(self):
        parity = self.start_parity_fns()
        self.app_ports = {}
        for lang in LANGS:
            p, port = start_app(lang, self.logs)
            self.procs.append(p)
            self.app_ports[lang] = port
        self.sflocal_runs(parity)

    def test_diff_local(self):
        local = self.sflocal_result("diff")
        check_implied("sf-local", local, self.accts, self.relays, self.want)
        log("sf-local: %d records over %d keys as the script implies" % (
            len(local), len(by_key(local))))

    def test_apps_local(self):
        for lang, ns in LANGS.items():
            _, expected = kafka_scenario(ns)
            bad = diff_by_key(by_key(self.sflocal_result(lang)), expected,
                              "sf-local", "expected")
            check(not bad, "%s:\n  %s" % (ns, "\n  ".join(bad)))

    def teardown(self):
        if self.reader:
            self.reader.close()
        if self.prod:
            self.prod.flush(10)
            self.prod = None
            import gc
            gc.collect()
        if not self.args.keep:
            self.cluster.stop()
        for p in self.procs:
            p.stop()

    def dump(self):
        print("\n==== logs (%s)" % self.work)
        try:
            self.cluster.dump_logs()
        except Exception as e:  # noqa: BLE001
            print("cannot dump cluster logs:", e)
        for p in self.procs:
            print("----- %s (last lines)\n%s" % (p.name, p.tail()))

    def run(self):
        only = set(self.args.only.split(",")) if self.args.only else None

        def body(t_all):
            try:
                if self.args.sf_local_only:
                    self.setup_local()
                    return run_tests(self, ["diff_local", "apps_local"],
                                     self.results, only)
                self.setup()
                return run_tests(self, self.TESTS, self.results, only)
            except Exception as e:  # noqa: BLE001
                traceback.print_exc()
                self.results.append(("set-up", False, time.time() - t_all, str(e)))
                return True
        t_all = run_bounded("e2e.parity", self.args.deadline, self.results, body,
                            self.dump, self.teardown)
        return summary("e2e.parity", self.results, t_all, 12)


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--sf-local", required=True)
    ap.add_argument("--work-dir", default=os.path.join(ROOT, ".cache", "e2e-parity"))
    ap.add_argument("--only", default="")
    ap.add_argument("--deadline", type=int, default=540,
                    help="seconds for the whole suite (CTest's TIMEOUT is 600)")
    ap.add_argument("--keep", action="store_true")
    ap.add_argument("--sf-local-only", action="store_true",
                    help="no cluster: the sf-local side against the script")
    return Suite(ap.parse_args()).run()


if __name__ == "__main__":
    sys.exit(main())
