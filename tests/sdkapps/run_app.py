#!/usr/bin/env python3
"""An official-SDK app (tests/sdkapps/<lang>/) on sf-local, from its own
module.yaml, driven over sf-local's HTTP ingress and egress as a user would
(docs/sf-local-http.md). CTest: sdkapps.python, sdkapps.js.

  run_app.py --lang python|js --sf-local PATH --sf-local-check PATH [--work-dir DIR]

Checks, in order (each prints PASS/FAIL; the last line is "N passed, M failed"):
  module_check      sf-local-check accepts the app's module.yaml as shipped
  playground        playground ingress with built-in types (JSON string, int,
                    bool) and a custom JSON type; playground egress (GET /<topic>);
                    function-to-function (greeter -> stats, caller seen)
  kinesis           the Kinesis egress records of stats, keyed by partition key
  expiration        `visits` (expire after write, 3 s) is gone after 4 s
  kafka_topics      Kafka-topic ingress (POST /topics/...) with a protobuf type,
                    protobuf state, Kafka egress, send-after with cancel and
                    re-arm in one invocation: exactly the app's records
  clean_stop        sf-local exits 0 on SIGTERM (in an ASan build: no report)
"""
import argparse
import os
import subprocess
import sys
import tempfile
import time
import traceback

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)
from sdkapps import (APPS, SCENARIO_QUIET_SECONDS, Failure, SfLocal,  # noqa: E402
                     by_key, diff_by_key, kafka_scenario, log, module_text,
                     start_app)
from sftest.checks import check  # noqa: E402 (on sys.path through sdkapps)


def expect_pop(sfl, topic, want):
    got = sfl.pop(topic)
    check(got == want, "GET /%s: got %r, want %r" % (topic, got, want))


class AppTest:
    def __init__(self, args):
        self.args = args
        self.ns = APPS[args.lang]
        self.work = args.work_dir or tempfile.mkdtemp(prefix="sdkapps-")
        os.makedirs(self.work, exist_ok=True)
        self.module = os.path.join(HERE, args.lang, "module.yaml")
        self.t_alice = time.time()  # set again by test_playground

    def test_module_check(self):
        r = subprocess.run([self.args.sf_local_check, self.module],
                           stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
        print(r.stdout, end="")
        check(r.returncode == 0, "sf-local-check exited %d" % r.returncode)
        for what in ("endpoint %s.fns/*" % self.ns, "playground ingress",
                     "playground egress", "kafka ingress %s.io/in" % self.ns,
                     "kafka egress %s.io/kafka" % self.ns,
                     "kinesis egress %s.io/kinesis" % self.ns):
            check(what in r.stdout, "sf-local-check did not report %r" % what)

    def test_playground(self):
        ns, s = self.ns, self.sfl
        s.put_json(ns + ".fns/greeter/Alice", "Alice")            # io.statefun.types/string
        expect_pop(s, "greetings", "Hello, Alice! visit 1")
        s.put_typed(ns + ".fns/greeter/Alice", ns + ".types/Greet",
                    b'{"name": "Alice", "lang": "de"}')             # custom JSON type
        expect_pop(s, "greetings", "Hallo, Alice! visit 2")
        s.send("/%s.fns/greeter/Bob" % ns, b"Bob", "text/plain")   # text -> StringWrapper
        expect_pop(s, "greetings", "Hello, Bob! visit 1")
        caller = "%s.fns/greeter/" % ns
        for n, who in ((1, "Alice"), (2, "Alice"), (3, "Bob")):
            expect_pop(s, "stats", "greetings: +1 = %d (from %s%s)" % (n, caller, who))
        s.put_json(ns + ".fns/stats/manual", 5, type_="int")      # io.statefun.types/int
        expect_pop(s, "stats", "manual: +5 = 5 (from ingress)")
        s.put_json(ns + ".fns/stats/manual", True)                 # io.statefun.types/bool
        expect_pop(s, "stats", "manual: total 5")
        check(s.pop("greetings", wait=0.3) is None and s.pop("stats", wait=0.3) is None,
              "records beyond the expected ones on the playground egress")
        self.t_alice = time.time()

    def test_kinesis(self):
        got = self.sfl.records(self.ns + ".io/kinesis", self.ns + "-stats", wait=5)
        caller = "%s.fns/greeter/" % self.ns
        want = [("greetings", "greetings: +1 = 1 (from %sAlice)" % caller),
                ("greetings", "greetings: +1 = 2 (from %sAlice)" % caller),
                ("greetings", "greetings: +1 = 3 (from %sBob)" % caller),
                ("manual", "manual: +5 = 5 (from ingress)"),
                ("manual", "manual: total 5")]
        check(got == want, "Kinesis records:\n  got  %r\n  want %r" % (got, want))

    def test_expiration(self):
        # Alice's visits were written at most a moment before t_alice; the
        # value expires 3 s after that write.
        time.sleep(max(0.0, self.t_alice + 4.0 - time.time()))
        self.sfl.put_json(self.ns + ".fns/greeter/Alice", "Alice")
        expect_pop(self.sfl, "greetings", "Hello, Alice! visit 1")
        expect_pop(self.sfl, "stats", "greetings: +1 = 4 (from %s.fns/greeter/Alice)" % self.ns)

    def test_kafka_topics(self):
        inputs, expected = kafka_scenario(self.ns)
        t0 = time.time()
        for topic, key, value in inputs:
            self.sfl.post_topic(topic, key, value)
        records = []
        want_n = sum(len(v) for v in expected.values())
        while len(records) < want_n and time.time() - t0 < 30:
            records += self.sfl.records(self.ns + ".io/kafka", self.ns + "-out", wait=1)
        # past every timer of the scenario, the cancelled one included
        time.sleep(max(0.0, t0 + SCENARIO_QUIET_SECONDS - time.time()))
        records += self.sfl.records(self.ns + ".io/kafka", self.ns + "-out", wait=0.5)
        got = by_key(records)
        bad = diff_by_key(got, expected, "sf-local", "expected")
        check(not bad, "Kafka egress records differ:\n  " + "\n  ".join(bad))
        log("%d Kafka egress records as expected over %d keys" % (len(records), len(got)))

    TESTS = ["module_check", "playground", "kinesis", "expiration", "kafka_topics"]

    def run(self):
        results = []
        app = sfl = None
        try:
            text = None
            try:
                app, port = start_app(self.args.lang, self.work)
                text = module_text(self.args.lang, port)
                path = os.path.join(self.work, "module.yaml")
                with open(path, "w") as f:
                    f.write(text)
                sfl = self.sfl = SfLocal(self.args.sf_local, path, self.work)
            except Exception as e:  # noqa: BLE001
                results.append(("set-up", False, str(e)))
            for name in (self.TESTS if not results else ["module_check"]):
                log("==== %s" % name)
                try:
                    getattr(self, "test_" + name)()
                    results.append((name, True, ""))
                    log("PASS %s" % name)
                except Exception as e:  # noqa: BLE001
                    msg = str(e) if isinstance(e, Failure) else traceback.format_exc()
                    results.append((name, False, msg))
                    log("FAIL %s: %s" % (name, msg))
        finally:
            if sfl:
                rc = sfl.stop()
                results.append(("clean_stop", rc == 0,
                                "" if rc == 0 else "sf-local exited with %d on SIGTERM" % rc))
            failed = any(not ok for _, ok, _ in results)
            for p in (sfl.p if sfl else None, app):
                if p:
                    p.stop()
                    if failed:
                        print("----- %s (last lines)\n%s" % (p.name, p.tail()))
        npass = sum(1 for _, ok, _ in results if ok)
        print("sdkapps.%s: %d passed, %d failed" % (self.args.lang, npass, len(results) - npass))
        return 0 if npass == len(results) else 1


def main():
    p = argparse.ArgumentParser()
    p.add_argument("--lang", choices=sorted(APPS), required=True)
    p.add_argument("--sf-local", required=True)
    p.add_argument("--sf-local-check", required=True)
    p.add_argument("--work-dir")
    sys.exit(AppTest(p.parse_args()).run())


if __name__ == "__main__":
    main()
