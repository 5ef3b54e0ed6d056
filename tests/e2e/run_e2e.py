#!/usr/bin/env python3
"""The end-to-end suite: our C function servers behind a *real* Apache Flink
StateFun 3.3.0 cluster (deploy/local/cluster.sh: Kafka KRaft, a Flink 1.16.2
JobManager and TaskManager as plain processes), Kafka in, Kafka out.

  run_e2e.py --testfn PATH/sfl_testfn --greeter PATH/greeter [--work-dir DIR]
             [--only NAME[,NAME]] [--keep]

Tests (in this order, on one cluster and one job):
  greeter             names -> Flink -> greeter.fns/greet -> greetings topic
  missing_state       the IncompleteInvocationContext round trip of a fresh
                      job (the server's missing-state counter) and the state
                      that follows it
  function_to_function  test.fns/pinger -> test.fns/counter, caller set
  delayed             a delayed message fires; a cancelled one never does
  exactly_once_fn_kills  10,000 increments over 100 counters while sfl_testfn
                      is kill -9'ed and restarted 3 times: every counter's
                      egress records (read_committed) are exactly the prefix
                      sums, each once; final counts read back exactly
  exactly_once_tm_kill   10,000 more while the TaskManager is kill -9'ed and
                      restarted (job restarts from the last checkpoint): the
                      same exact result

SF_SKIP_E2E=1 skips the suite (exit 77, CTest's SKIP_RETURN_CODE). The first
run fetches Flink, StateFun and Kafka from Maven Central (cached in
$SF_CACHE, default <repo>/.cache) and confluent-kafka from PyPI into
$SF_CACHE/e2e-venv.
"""
import argparse
import hashlib
import os
import subprocess
import sys
import time
import traceback

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.abspath(os.path.join(HERE, "..", ".."))
SKIP = 77


def ensure_venv():
    """Re-executes under $SF_CACHE/e2e-venv (created once) unless
    confluent_kafka is importable already."""
    try:
        import confluent_kafka  # noqa: F401
        return
    except ImportError:
        pass
    if os.environ.get("SF_E2E_IN_VENV"):
        print("e2e: confluent_kafka still missing inside the venv", file=sys.stderr)
        sys.exit(1)
    cache = os.environ.get("SF_CACHE", os.path.join(ROOT, ".cache"))
    venv = os.path.join(cache, "e2e-venv")
    py = os.path.join(venv, "bin", "python")
    req = os.path.join(HERE, "requirements.txt")
    want = hashlib.sha256(open(req, "rb").read()).hexdigest()
    stamp = os.path.join(venv, ".requirements.sha256")
    have = open(stamp).read().strip() if os.path.exists(stamp) else ""
    if not os.path.exists(py) or have != want:
        print("e2e: creating %s (confluent-kafka)" % venv, flush=True)
        os.makedirs(cache, exist_ok=True)
        subprocess.check_call([sys.executable, "-m", "venv", venv])
        subprocess.check_call([py, "-m", "pip", "install", "-q",
                               "--disable-pip-version-check", "-r", req])
        with open(stamp, "w") as f:
            f.write(want)
    env = dict(os.environ, SF_E2E_IN_VENV="1")
    os.execve(py, [py, os.path.abspath(sys.argv[0]), *sys.argv[1:]], env)


if os.environ.get("SF_SKIP_E2E") == "1" and __name__ == "__main__":
    print("e2e: skipped (SF_SKIP_E2E=1)")
    sys.exit(SKIP)
if __name__ == "__main__":
    ensure_venv()

sys.path.insert(0, HERE)
from e2elib import (FnServer, Reader, Sends, check, int_wrapper,  # noqa: E402
                    log, producer, run_bounded, run_tests, string_wrapper,
                    suite_dirs, summary, which)

EGRESS_TOPICS = ["greetings", "counts", "callers", "delayed"]


class Suite(Sends):
    def __init__(self, args):
        self.args = args
        self.work, self.logs, self.cluster = suite_dirs(args.work_dir)
        self.testfn = FnServer("sfl_testfn", which(args.testfn), self.logs,
                               ["--threads", "2"])
        self.greeter = FnServer("greeter", which(args.greeter), self.logs,
                                ["--threads", "2"])
        self.results = []
        self.prod = None
        self.reader = None
        self.expected = {}  # counter id -> list of expected egress counts

    # ---- set-up --------------------------------------------------------------
    def module(self):
        with open(os.path.join(HERE, "modules", "e2e.yaml")) as f:
            text = f.read()
        text = (text.replace("@GREETER_PORT@", str(self.greeter.port))
                    .replace("@TESTFN_PORT@", str(self.testfn.port))
                    .replace("@GREETINGS_SEMANTIC@", "at-least-once"))
        path = os.path.join(self.work, "module.yaml")
        with open(path, "w") as f:
            f.write(text)
        return path

    def setup(self):
        self.testfn.start()
        self.greeter.start()
        t0 = time.time()
        self.cluster.start(self.module(), topics=EGRESS_TOPICS,
                           checkpoint_interval="1s")
        self.startup = time.time() - t0
        log("cluster up: start-up %.1fs (cluster.sh's own count %.1fs)" %
            (self.startup, self.cluster.startup_seconds))
        self.prod = producer(self.cluster.bootstrap)
        self.reader = Reader(self.cluster.bootstrap, EGRESS_TOPICS, committed=True)

    def teardown(self):
        if self.reader:
            self.reader.close()
        if self.prod:
            self.prod.flush(10)
            self.prod = None  # librdkafka's client goes before Kafka does
            import gc
            gc.collect()
        if not self.args.keep:
            self.cluster.stop()
        self.testfn.stop()
        self.greeter.stop()

    # ---- tests ---------------------------------------------------------------
    def test_greeter(self):
        for name in ["Alice", "Bob", "Alice"]:
            self.send("names", name, string_wrapper(name))
        self.flush()
        want = {"Alice": ["Hello, Alice! You have been here 1 time(s).",
                          "Hello, Alice! You have been here 2 time(s)."],
                "Bob": ["Hello, Bob! You have been here 1 time(s)."]}
        self.reader.wait_for(
            lambda r: all(len(self.reader.values("greetings", k)) >= len(v)
                          for k, v in want.items()),
            180, "3 greetings")
        for k, v in want.items():
            got = self.reader.values("greetings", k)
            check(got[:len(v)] == v, "greetings for %s: %r, want %r" % (k, got, v))
        log("greetings:", [g for k in want for g in self.reader.values("greetings", k)])

    def test_missing_state(self):
        fn = "test.fns/counter"
        before = self.testfn.metric("statefun_missing_state_replies_total", fn)
        check(before == 0, "a fresh job: no missing-state reply yet, got %d" % before)
        self.send("increments", "ms-1", int_wrapper(5))
        self.flush()
        self.reader.wait_for(lambda r: "ms-1=5" in self.reader.values("counts", "ms-1"),
                             120, "ms-1=5")
        after = self.testfn.metric("statefun_missing_state_replies_total", fn)
        check(after >= 1, "the first counter batch must have been answered "
              "with incomplete_invocation_context (missing-state replies: %d)" % after)
        self.send("increments", "ms-1", int_wrapper(2))
        self.flush()
        self.reader.wait_for(lambda r: "ms-1=7" in self.reader.values("counts", "ms-1"),
                             60, "ms-1=7")
        check(self.reader.values("counts", "ms-1") == ["ms-1=5", "ms-1=7"],
              "ms-1 records: %r" % self.reader.values("counts", "ms-1"))
        again = self.testfn.metric("statefun_missing_state_replies_total", fn)
        check(again == after, "state registered once: missing-state replies went "
              "%d -> %d" % (after, again))
        greet = self.greeter.metric("statefun_missing_state_replies_total",
                                    "greeter.fns/greet")
        check(greet >= 1, "greeter saw no missing-state round trip")
        log("missing-state replies: counter %d, greeter %d; then state kept (5, 7)" %
            (after, greet))

    def test_function_to_function(self):
        self.send("pings", "f2f-1", int_wrapper(3))
        self.send("pings", "f2f-1", int_wrapper(4))
        self.flush()
        self.reader.wait_for(
            lambda r: len(self.reader.values("counts", "f2f-1")) >= 2 and
            len(self.reader.values("callers", "f2f-1")) >= 2, 120,
            "f2f-1 counts and callers")
        check(self.reader.values("counts", "f2f-1") == ["f2f-1=3", "f2f-1=7"],
              "f2f-1 counts: %r" % self.reader.values("counts", "f2f-1"))
        check(self.reader.values("callers", "f2f-1") ==
              ["test.fns/pinger/f2f-1"] * 2,
              "f2f-1 callers: %r" % self.reader.values("callers", "f2f-1"))

    def test_delayed(self):
        t0 = time.time()
        self.send("delays", "d-1", string_wrapper("arm:1500:tok-a"))
        # armed, cancelled, and a later one that fires after tok-b would have
        self.send("delays", "d-2", string_wrapper("arm:3000:tok-b"))
        self.send("delays", "d-2", string_wrapper("cancel:tok-b"))
        self.send("delays", "d-2", string_wrapper("arm:5000:tok-c"))
        self.flush()
        self.reader.wait_for(lambda r: "fired:tok-a" in self.reader.values("delayed", "d-1"),
                             120, "fired:tok-a")
        fired_a = [t for (tp, k, v, t) in self.reader.records
                   if tp == "delayed" and v == "fired:tok-a"][0]
        check(fired_a - t0 >= 1.5, "tok-a fired after %.2fs (< 1.5s)" % (fired_a - t0))
        self.reader.wait_for(lambda r: "fired:tok-c" in self.reader.values("delayed", "d-2"),
                             120, "fired:tok-c")
        self.reader.poll(1.0)
        check(self.reader.values("delayed", "d-2") == ["fired:tok-c"],
              "d-2 delayed: %r (tok-b was cancelled)" % self.reader.values("delayed", "d-2"))
        check(self.reader.values("delayed", "d-1") == ["fired:tok-a"],
              "d-1 delayed: %r" % self.reader.values("delayed", "d-1"))
        log("tok-a fired after %.2fs; tok-b cancelled; tok-c fired" % (fired_a - t0))

    # A paced stream of increments with faults injected at given fractions.
    def increment_stream(self, ids, per_id, rate, faults, round_no):
        total = len(ids) * per_id
        plan = sorted(faults)
        sent = 0
        t0 = time.time()
        for j in range(per_id):
            for i, cid in enumerate(ids):
                v = (i * 7 + j * 3 + round_no) % 5 + 1
                self.expected.setdefault(cid, []).append(v)
                self.send("increments", cid, int_wrapper(v))
                sent += 1
                while plan and sent >= plan[0][0] * total:
                    _, action = plan.pop(0)
                    self.prod.flush(30)
                    action()
                ahead = sent / rate - (time.time() - t0)
                if ahead > 0.002:
                    time.sleep(ahead)
        self.flush()
        return time.time() - t0

    def check_counts(self, ids, timeout):
        """Every counter's records are exactly its prefix sums, once each."""
        want = {}
        for cid in ids:
            s, seq = 0, []
            for v in self.expected[cid]:
                s += v
                seq.append("%s=%d" % (cid, s))
            want[cid] = seq
        ntotal = sum(len(v) for v in want.values())

        def have_all(_):
            return sum(min(len(self.reader.values("counts", c)), len(want[c]))
                       for c in ids) >= ntotal
        t0 = time.time()
        try:
            self.reader.wait_for(have_all, timeout, "%d counter records" % ntotal)
        finally:
            got_n = sum(len(self.reader.values("counts", c)) for c in ids)
            log("counter records read (read_committed): %d of %d in %.1fs" %
                (got_n, ntotal, time.time() - t0))
        self.reader.poll(2.0)  # anything extra (a duplicate) shows up now
        bad = []
        for cid in ids:
            got = self.reader.values("counts", cid)
            if got != want[cid]:
                dup = len(got) - len(set(got))
                bad.append("%s: %d records (%d duplicates), want %d; first "
                           "difference at %d" % (
                               cid, len(got), dup, len(want[cid]),
                               next((i for i, (a, b) in enumerate(zip(got, want[cid]))
                                     if a != b), min(len(got), len(want[cid])))))
        check(not bad, "egress not exactly once:\n  " + "\n  ".join(bad[:10]))
        return ntotal

    def read_back(self, ids, timeout=120):
        """Final state through the function: "get" emits <id>=<count>."""
        before = {c: len(self.reader.values("counts", c)) for c in ids}
        for cid in ids:
            self.send("commands", cid, string_wrapper("get"))
        self.flush()
        self.reader.wait_for(
            lambda r: all(len(self.reader.values("counts", c)) > before[c] for c in ids),
            timeout, "get replies of %d counters" % len(ids))
        wrong = []
        for cid in ids:
            got = self.reader.values("counts", cid)[before[cid]]
            want = "%s=%d" % (cid, sum(self.expected[cid]))
            if got != want:
                wrong.append("%s: %s, want %s" % (cid, got, want))
        check(not wrong, "final counts wrong:\n  " + "\n  ".join(wrong[:10]))
        # the get records join the expected sequences
        for cid in ids:
            self.expected[cid].append(0)

    def kill_fn(self):
        log("kill -9 sfl_testfn (pid %d)" % self.testfn.proc.pid)
        self.testfn.kill9()
        time.sleep(1.0)
        self.testfn.start()
        log("sfl_testfn restarted (start %d)" % self.testfn.starts)

    def kill_tm(self):
        log("kill -9 TaskManager 1")
        self.cluster.kill_tm(1)
        time.sleep(2.0)
        self.cluster.start_tm(1)
        log("TaskManager 1 restarted")

    IDS = ["eo-%03d" % i for i in range(100)]

    def test_exactly_once_fn_kills(self):
        starts = self.testfn.starts
        ckpts = self.cluster.completed_checkpoints()
        secs = self.increment_stream(self.IDS, 100, rate=400, round_no=0, faults=[
            (0.2, self.kill_fn), (0.45, self.kill_fn), (0.7, self.kill_fn)])
        log("produced 10,000 increments in %.1fs" % secs)
        n = self.check_counts(self.IDS, timeout=300)
        self.read_back(self.IDS)
        check(self.testfn.starts - starts >= 3, "sfl_testfn restarted %d times" %
              (self.testfn.starts - starts))
        log("exactly once: %d records, each once, final counts exact; "
            "%d function-server kills; %d checkpoints completed meanwhile" %
            (n, self.testfn.starts - starts,
             self.cluster.completed_checkpoints() - ckpts))

    def test_exactly_once_tm_kill(self):
        t_start = time.time()
        # round 2 continues the same counters: their state must survive
        self.increment_stream(self.IDS, 100, rate=400, round_no=1, faults=[
            (0.35, self.kill_tm), (0.75, self.kill_fn)])
        self.cluster.wait_job_running(240)
        self.check_counts(self.IDS, timeout=360)
        self.read_back(self.IDS)
        restored = self.cluster.restored()
        check(restored is not None and restored[1] >= t_start - 1,
              "the job did not restore from a checkpoint after the TaskManager "
              "kill (last restore: %r)" % (restored,))
        uncommitted = Reader(self.cluster.bootstrap, ["counts"], committed=False)
        try:
            uncommitted.poll(8.0)
            eo = [v for (t, k, v, _) in uncommitted.records if k.startswith("eo-")]
            log("read_uncommitted sees %d eo- records (%d beyond the committed "
                "%d: aborted transactions of the failed attempts)" %
                (len(eo), len(eo) - sum(len(self.reader.values("counts", c))
                                        for c in self.IDS),
                 sum(len(self.reader.values("counts", c)) for c in self.IDS)))
        finally:
            uncommitted.close()
        log("TaskManager kill: job restored from checkpoint %d, state and "
            "egress exact" % restored[0])

    TESTS = ["greeter", "missing_state", "function_to_function", "delayed",
             "exactly_once_fn_kills", "exactly_once_tm_kill"]

    def run(self):
        only = set(self.args.only.split(",")) if self.args.only else None
        self.startup = 0.0

        def body(t_all):
            failed = False
            try:
                self.setup()
            except Exception as e:
                print("e2e: SET-UP FAILED: %s" % e)
                traceback.print_exc()
                self.results.append(("set-up", False, time.time() - t_all, str(e)))
                failed = True
            if not (self.results and self.results[0][0] == "set-up"):
                failed = run_tests(self, self.TESTS, self.results, only) or failed
            return failed
        t_all = run_bounded("e2e", self.args.deadline, self.results, body,
                            self.dump, self.teardown)
        return summary("e2e", self.results, t_all, 26,
                       "; cluster start-up %.1fs" % self.startup)

    def dump(self):
        print("\n==== logs of every process (%s)" % self.work)
        try:
            self.cluster.dump_logs()
        except Exception as e:
            print("cannot dump cluster logs:", e)
        self.testfn.dump_log()
        self.greeter.dump_log()


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--testfn", required=True)
    ap.add_argument("--greeter", required=True)
    ap.add_argument("--work-dir", default=os.path.join(ROOT, ".cache", "e2e-run"))
    ap.add_argument("--only", default="")
    ap.add_argument("--deadline", type=int, default=1080,
                    help="seconds for the whole suite (CTest's TIMEOUT is 1200)")
    ap.add_argument("--keep", action="store_true",
                    help="leave the cluster running at the end")
    args = ap.parse_args()
    return Suite(args).run()


if __name__ == "__main__":
    sys.exit(main())
