#!/usr/bin/env python3
"""Mutual TLS on a *real* Flink StateFun 3.3.0 cluster
(deploy/local/cluster.sh): Flink's async transport calls the greeter over
HTTPS with a client certificate, as a production deployment with the
functions on another network would.

  run_e2e_tls.py --greeter PATH [--names N] [--work-dir DIR] [--keep]

A CA made for the run (tests/tls/make_ca.sh). The greeter serves with
--tls-cert/--tls-key and --tls-client-ca (client certificates required);
module.yaml points Flink at https://localhost:PORT with the transport's
trust_cacerts, client_cert and client_key (a PKCS#8 PEM key, the form
Flink's Netty client reads).

Tests (one cluster, one job):
  flink_mtls  N names on Kafka topic `names` give N greetings on
              `greetings`, every one through an mTLS call from Flink; the
              greeter's /metrics (read over mTLS) counts the invocations
  refused     while Flink is served, a client without a certificate and
              one with another CA's certificate get no HTTP answer (the
              TLS handshake fails), and plain HTTP gets none either

SF_SKIP_E2E=1 skips it (exit 77). About 60-90 s, most of it the cluster's
start.
"""
import argparse
import http.client
import os
import shutil
import ssl
import subprocess
import sys
import time

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.abspath(os.path.join(HERE, "..", ".."))
SKIP = 77

if os.environ.get("SF_SKIP_E2E") == "1" and __name__ == "__main__":
    print("e2e.tls: skipped (SF_SKIP_E2E=1)")
    sys.exit(SKIP)

sys.path.insert(0, HERE)
from run_e2e import ensure_venv  # noqa: E402

if __name__ == "__main__":
    ensure_venv()

from e2elib import (FnServer, Reader, Sends, check, create_topics, log,  # noqa: E402
                    producer, run_bounded, run_tests, string_wrapper, suite_dirs, summary,
                    which)

MODULE = """\
kind: io.statefun.endpoints.v2/http
spec:
  functions: greeter.fns/*
  urlPathTemplate: https://localhost:{port}/statefun/{{function.name}}
  transport:
    type: io.statefun.transports.v1/async
    call: 1m
    connect: 5s
    trust_cacerts: {ca}/ca.pem
    client_cert: {ca}/client.pem
    client_key: {ca}/client.key
---
kind: io.statefun.kafka.v1/ingress
spec:
  id: greeter.io/names
  address: {bootstrap}
  consumerGroupId: e2e-tls
  startupPosition:
    type: earliest
  topics:
    - topic: names
      valueType: io.statefun.types/string
      targets:
        - greeter.fns/greet
---
kind: io.statefun.kafka.v1/egress
spec:
  id: greeter.io/greetings
  address: {bootstrap}
  deliverySemantic:
    type: at-least-once
"""


def tls_ctx(ca, cert=None, key=None):
    ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
    ctx.load_verify_locations(os.path.join(ca, "ca.pem"))
    if cert:
        ctx.load_cert_chain(os.path.join(ca, cert), os.path.join(ca, key))
    return ctx


def https_get(port, path, ctx):
    c = http.client.HTTPSConnection("localhost", port, context=ctx, timeout=5)
    try:
        c.request("GET", path)
        r = c.getresponse()
        return r.status, r.read().decode(errors="replace")
    finally:
        c.close()


class TlsGreeter(FnServer):
    """The greeter with mTLS: up when /health answers over mTLS."""

    def __init__(self, binary, log_dir, ca):
        super().__init__("greeter-tls", binary, log_dir, [
            "--tls-cert", os.path.join(ca, "server.pem"),
            "--tls-key", os.path.join(ca, "server.key"),
            "--tls-client-ca", os.path.join(ca, "ca.pem")])
        self.ctx = tls_ctx(ca, "client.pem", "client.key")

    def start(self, timeout=20):
        self.starts += 1
        logf = open(self.log_path, "a")
        self.proc = subprocess.Popen(
            [self.binary, "--listen", "127.0.0.1:%d" % self.port, *self.args],
            stdout=logf, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL)
        logf.close()
        deadline = time.time() + timeout
        while time.time() < deadline:
            check(self.proc.poll() is None, "greeter exited (log %s)" % self.log_path)
            try:
                if https_get(self.port, "/health", self.ctx)[0] == 200:
                    return
            except OSError:
                pass
            time.sleep(0.05)
        check(False, "greeter did not answer /health over mTLS (log %s)" % self.log_path)

    def metric(self, name, function):
        _, text = https_get(self.port, "/metrics", self.ctx)
        want = '%s{function="%s"}' % (name, function)
        for line in text.splitlines():
            if line.startswith(want):
                return int(float(line.split()[-1]))
        return 0


class Suite(Sends):
    def __init__(self, args):
        self.args = args
        self.work, self.logs, self.cluster = suite_dirs(args.work_dir)
        self.ca = os.path.join(self.work, "ca")
        shutil.rmtree(self.ca, ignore_errors=True)
        subprocess.run([os.path.join(ROOT, "tests", "tls", "make_ca.sh"), self.ca], check=True)
        self.greeter = TlsGreeter(which(args.greeter), self.logs, self.ca)
        self.results = []
        self.notes = []
        self.prod = None

    def setup(self):
        self.greeter.start()
        module = os.path.join(self.work, "module.yaml")
        with open(module, "w") as f:
            f.write(MODULE.format(port=self.greeter.port, ca=self.ca,
                                  bootstrap=self.cluster.bootstrap))
        log("starting the cluster (module %s)" % module)
        self.cluster.start(module, topics=("names", "greetings"))
        self.notes.append("cluster start %.0f s" % self.cluster.startup_seconds)
        create_topics(self.cluster.bootstrap, ["names", "greetings"])
        self.prod = producer(self.cluster.bootstrap)

    def test_flink_mtls(self):
        n = self.args.names
        reader = Reader(self.cluster.bootstrap, ["greetings"], committed=False)
        try:
            t0 = time.time()
            for i in range(n):
                name = "tls-%d" % i
                self.send("names", name, string_wrapper(name))
            self.flush()
            reader.wait_for(lambda recs: len({k for (_, k, _, _) in recs}) >= n, 60,
                            "%d greetings over mTLS" % n)
            secs = time.time() - t0
            for i in range(n):
                name = "tls-%d" % i
                got = reader.values("greetings", name)
                check(got and got[0] == "Hello, %s! You have been here 1 time(s)." % name,
                      "greeting of %s: %r" % (name, got))
            calls = self.greeter.metric("statefun_invocations_total", "greeter.fns/greet")
            check(calls >= n, "greeter counted %d invocations, want >= %d" % (calls, n))
            self.notes.append("%d greetings over mTLS in %.1f s; greeter invocations %d"
                              % (n, secs, calls))
        finally:
            reader.close()

    def test_refused(self):
        port = self.greeter.port
        for what, ctx in (("no certificate", tls_ctx(self.ca)),
                          ("another CA's certificate", tls_ctx(self.ca, "rogue.pem",
                                                               "rogue.key"))):
            try:
                st, body = https_get(port, "/health", ctx)
                check(False, "client with %s was answered %d %r" % (what, st, body[:80]))
            except (ssl.SSLError, ConnectionError, http.client.HTTPException, OSError) as e:
                self.notes.append("client with %s: %s" % (what, type(e).__name__))
        c = http.client.HTTPConnection("127.0.0.1", port, timeout=5)
        try:
            c.request("GET", "/health")
            check(False, "plain HTTP was answered %d" % c.getresponse().status)
        except (http.client.HTTPException, OSError):
            pass
        finally:
            c.close()
        # Flink is still served after the refusals.
        check(https_get(port, "/health", self.greeter.ctx)[0] == 200,
              "greeter not answering after the refusals")

    def teardown(self):
        self.prod = None  # destroyed before Kafka stops (no reconnect noise)
        self.greeter.stop()
        if not self.args.keep:
            self.cluster.stop()

    def run(self):
        def body(t_all):
            self.setup()
            return run_tests(self, ["flink_mtls", "refused"], self.results, self.args.k)

        def dump():
            self.cluster.dump_logs()
            self.greeter.dump_log()
        t_all = run_bounded("e2e.tls", self.args.deadline, self.results, body, dump,
                            self.teardown)
        return summary("e2e.tls", self.results, t_all, 10, after="\n".join(self.notes))


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--greeter", required=True)
    ap.add_argument("--names", type=int, default=50)
    ap.add_argument("--work-dir", default=os.path.join(ROOT, ".cache", "e2e-tls-run"))
    ap.add_argument("--deadline", type=int, default=500)
    ap.add_argument("-k", action="append", default=[], help="run only this test (repeatable)")
    ap.add_argument("--keep", action="store_true")
    return Suite(ap.parse_args()).run()


if __name__ == "__main__":
    sys.exit(main())
