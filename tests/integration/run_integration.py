#!/usr/bin/env python3
"""sf-local end to end: real processes on loopback ports.

    run_integration.py --sf-local BIN --testfn BIN --greeter BIN [-k NAME]...

Every test starts its own sf-local (with a module.yaml made from
modules/*.yaml, the ports filled in) and its own function server
(sfl_testfn from testfn.c, or the greeter example) on free loopback ports,
drives them over HTTP, and stops them. The fault tests SIGKILL the function
server or sf-local itself mid-stream and restart it. Everything is bounded
in time; the logs of every process go to a temporary directory and are
printed when a test fails (kept with --keep).

Python 3 standard library only. The last line is "N passed, M failed"; the
exit status is 1 when anything failed.
"""
import argparse
import collections
import http.client
import base64
import json
import os
import queue
import re
import shutil
import subprocess
import sys
import tempfile
import threading
import time
import traceback
import urllib.parse

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "pylib"))
from sftest.checks import Tally, TestFailure, check, check_eq  # noqa: E402
from sftest.net import free_port  # noqa: E402
from sftest.procs import SANITIZER_RE, LoggedProc  # noqa: E402
from sftest.wire import int_wrapper, string_wrapper  # noqa: E402

HERE = os.path.dirname(os.path.abspath(__file__))
REPO = os.path.dirname(os.path.dirname(HERE))
MODULES = os.path.join(HERE, "modules")
PYAPPS = os.path.join(HERE, "pyapps")
RUNTIME_BAD_MODULES = os.path.join(REPO, "tests", "runtime", "bad-modules")

ARGS = None
# Timeouts are multiplied by this (sanitizer builds are 2-3x slower).
FACTOR = 1.0

INT_T = "io.statefun.types/int"
STRING_T = "io.statefun.types/string"


def wait_until(pred, timeout, what, interval=0.05):
    """Polls pred() until it returns a true value; fails after timeout
    (scaled by FACTOR) with `what` and the last value."""
    deadline = time.monotonic() + timeout * FACTOR
    last = None
    while True:
        try:
            last = pred()
        except (OSError, http.client.HTTPException) as e:
            last = e
            ok = False
        else:
            ok = bool(last)
        if ok:
            return last
        if time.monotonic() >= deadline:
            raise TestFailure("timed out after %.1f s waiting for %s (last: %r)"
                              % (timeout * FACTOR, what, last))
        time.sleep(interval)


# ---- ports and HTTP -----------------------------------------------------------

class Conn:
    """One keep-alive HTTP/1.1 connection to 127.0.0.1:port. request()
    reconnects once when a reused connection turns out to be closed;
    other errors propagate (OSError, http.client.HTTPException)."""

    def __init__(self, port, timeout=30.0):
        self.port = port
        self.timeout = timeout
        self.c = None

    def close(self):
        if self.c is not None:
            self.c.close()
            self.c = None

    def request(self, method, path, body=None, headers=None, timeout=None):
        for attempt in (0, 1):
            fresh = self.c is None
            if fresh:
                self.c = http.client.HTTPConnection(
                    "127.0.0.1", self.port, timeout=(timeout or self.timeout) * FACTOR)
            try:
                self.c.request(method, path, body=body, headers=headers or {})
                r = self.c.getresponse()
                data = r.read()
                hdrs = {k.lower(): v for k, v in r.getheaders()}
                if hdrs.get("connection", "").lower() == "close":
                    self.close()
                return r.status, hdrs, data
            except (http.client.RemoteDisconnected, BrokenPipeError,
                    ConnectionResetError) as e:
                self.close()
                if fresh or attempt == 1:
                    raise
            except Exception:
                self.close()
                raise


def http_once(port, method, path, body=None, headers=None, timeout=30.0):
    c = Conn(port, timeout)
    try:
        return c.request(method, path, body, headers)
    finally:
        c.close()


# ---- processes ------------------------------------------------------------------

class Proc(LoggedProc):
    """A child of a test: log <name>.<n>.log in the test's directory."""

    def __init__(self, ctx, name, argv, env=None):
        ctx.counter[name] += 1
        self.name = "%s#%d" % (name, ctx.counter[name])
        super().__init__(os.path.join(ctx.dir, "%s.%d.log" % (name, ctx.counter[name])),
                         argv, env)
        self.expect_clean_exit = True
        ctx.procs.append(self)

    def kill9(self):
        self.expect_clean_exit = False
        super().kill9()

    def stop(self, timeout=10.0):
        return super().stop(timeout * FACTOR)


class SfLocal:
    """A running sf-local and the HTTP calls the tests make to it."""

    def __init__(self, ctx, module, data=None, ingress_port=0, egress_port=0,
                 extra=(), wait_ready=True, port_flags=True):
        """port_flags=False: no --ingress-port/--egress-port, so sf-local
        takes the ports of the module's playground documents."""
        argv = [ARGS.sf_local, "--module", module]
        if port_flags:
            argv += ["--ingress-port", str(ingress_port),
                     "--egress-port", str(egress_port)]
        argv += list(extra)
        if data:
            argv += ["--data", data]
        self.ctx = ctx
        self.module = module
        self.data = data
        self.extra = list(extra)
        self.proc = Proc(ctx, "sf-local", argv)
        self.ingress_port = ingress_port
        self.egress_port = egress_port
        self.local = threading.local()
        if wait_ready:
            self.wait_ready()

    def wait_ready(self, timeout=15):
        pat = re.compile(r"ingress http://[^ ]*:(\d+), egress http://[^ ]*:(\d+)")

        def ports():
            check(self.proc.alive(), "sf-local exited early (status %s)",
                  self.proc.p.returncode)
            m = pat.search(self.proc.text())
            return m and (int(m.group(1)), int(m.group(2)))

        self.ingress_port, self.egress_port = wait_until(
            ports, timeout, "sf-local to print its ports")
        wait_until(lambda: self.get("/health")[0] == 200, timeout,
                   "sf-local /health")

    def restart(self):
        """A new sf-local on the same ports and --data (after kill9/stop)."""
        return SfLocal(self.ctx, self.module, self.data, self.ingress_port,
                       self.egress_port, self.extra)

    # -- plumbing: one keep-alive connection per thread and port
    def conn(self, port):
        d = getattr(self.local, "conns", None)
        if d is None:
            d = self.local.conns = {}
        c = d.get(port)
        if c is None:
            c = d[port] = Conn(port)
        return c

    def get(self, path, port=None, timeout=None):
        return self.conn(port or self.ingress_port).request("GET", path, timeout=timeout)

    # -- ingress
    @staticmethod
    def fn_path(fn, id_):
        return "/%s/%s" % (fn, urllib.parse.quote(id_, safe=""))

    def send(self, fn, id_, body, ctype, key=None, query="", method="PUT"):
        h = {"Content-Type": ctype}
        if key is not None:
            h["X-Idempotency-Key"] = key
        st, _, data = self.conn(self.ingress_port).request(
            method, self.fn_path(fn, id_) + query, body, h)
        return st, data

    def send_int(self, fn, id_, n, key=None):
        return self.send(fn, id_, int_wrapper(n), "application/vnd." + INT_T, key)

    def send_str(self, fn, id_, s, key=None):
        return self.send(fn, id_, string_wrapper(s), "application/vnd." + STRING_T, key)

    def send_json(self, fn, id_, value, type_=None):
        q = "?type=" + type_ if type_ else ""
        return self.send(fn, id_, json.dumps(value).encode(), "application/json",
                         query=q, method="POST")

    def send_topic(self, topic, key, body, idem=None):
        h = {"X-Key": key, "Content-Type": "application/octet-stream"}
        if idem is not None:
            h["X-Idempotency-Key"] = idem
        st, _, data = self.conn(self.ingress_port).request(
            "POST", "/topics/" + topic, body, h)
        return st, data

    def must(self, result, what):
        st, data = result
        check(st in (200, 202), "%s: HTTP %d %s", what, st, data[:300])
        return st

    def send_retry(self, send, what, timeout=60):
        """Calls send() until it is accepted; retries 503 (backpressure) and
        connection failures."""
        deadline = time.monotonic() + timeout * FACTOR
        while True:
            try:
                st, data = send()
                if st in (200, 202):
                    return st
                if st != 503:
                    raise TestFailure("%s: HTTP %d %s" % (what, st, data[:300]))
            except (OSError, http.client.HTTPException) as e:
                st, data = -1, str(e).encode()
            if time.monotonic() >= deadline:
                raise TestFailure("%s: not accepted in %.0f s (last %d %s)"
                                  % (what, timeout * FACTOR, st, data[:200]))
            time.sleep(0.02)

    # -- views
    def view(self, fn, id_):
        st, _, data = self.get(self.fn_path(fn, id_))
        if st == 404:
            return None
        check(st == 200, "view %s/%s: HTTP %d %s", fn, id_, st, data[:200])
        return json.loads(data)

    def state(self, fn, id_, name):
        v = self.view(fn, id_)
        if v is None:
            return None
        s = v.get("state", {}).get(name)
        return None if s is None else s.get("value")

    def metrics(self):
        st, _, data = self.get("/metrics")
        check(st == 200, "/metrics: HTTP %d", st)
        out = {}
        for line in data.decode().splitlines():
            if line.startswith("#") or not line.strip():
                continue
            name, value = line.rsplit(None, 1)
            out[name] = float(value)
        return out

    # -- egress
    def pop(self, topic, wait=0):
        """The next record of a topic (bytes), or None (404)."""
        path = "/" + urllib.parse.quote(topic, safe="")
        if wait:
            path += "?wait=%g" % (wait * FACTOR)
        st, _, data = self.conn(self.egress_port).request(
            "GET", path, timeout=wait * FACTOR + 30)
        if st == 404:
            return None
        check(st == 200, "egress pop %s: HTTP %d %s", topic, st, data[:200])
        return data

    def lines(self, egress, topic, wait=0, max_=1000):
        path = "/egress/%s/%s?max=%d" % (egress, urllib.parse.quote(topic, safe=""), max_)
        if wait:
            path += "&wait=%g" % (wait * FACTOR)
        st, _, data = self.conn(self.egress_port).request(
            "GET", path, timeout=wait * FACTOR + 30)
        if st == 204:
            return []
        check(st == 200, "egress lines %s %s: HTTP %d %s", egress, topic, st, data[:200])
        return [json.loads(l) for l in data.decode().splitlines() if l.strip()]

    def drain(self, egress, topic, want):
        """Every record of a topic, once at least `want` have come (up to
        10 s): with --data a record is readable only once its transaction is
        synced, which may be after the state view already shows the change,
        so a test that saw the state must still wait for the records. Then
        it reads on until the topic is empty, so extra records show."""
        out = []
        deadline = time.time() + 10 * FACTOR
        while len(out) < want and time.time() < deadline:
            out += self.lines(egress, topic, 1, 1000)
        while True:
            got = self.lines(egress, topic, 0, 1000)
            if not got:
                return out
            out += got


class Ctx:
    """One test's processes, files and logs."""

    def __init__(self, name):
        self.name = name
        self.dir = tempfile.mkdtemp(prefix="sfl-integ-%s-" % name)
        self.procs = []
        self.counter = collections.Counter()
        self.notes = []

    def note(self, fmt, *args):
        self.notes.append(fmt % args if args else fmt)

    def module(self, template, **subs):
        with open(os.path.join(MODULES, template)) as f:
            text = f.read()
        for k, v in subs.items():
            text = text.replace("@%s@" % k, str(v))
        left = re.findall(r"@[A-Z_]+@", text)
        check(not left, "module %s: unfilled %s", template, left)
        path = os.path.join(self.dir, template)
        with open(path, "w") as f:
            f.write(text)
        return path

    def fn_server(self, port, extra=(), binary=None, name="testfn"):
        p = Proc(self, name, [binary or ARGS.testfn, "--listen",
                              "127.0.0.1:%d" % port, "--threads", "4"] + list(extra))

        def up():
            check(p.alive(), "%s exited early (status %s)", name, p.p.returncode)
            return http_once(port, "GET", "/health", timeout=2)[0] == 200

        wait_until(up, 10, "%s on port %d" % (name, port))
        return p

    def greeter(self, port):
        return self.fn_server(port, binary=ARGS.greeter, name="greeter")

    def py_app(self, script, port):
        """An app of pyapps/ (official Python SDK, aiohttp) on `port`."""
        name = os.path.splitext(script)[0]
        p = Proc(self, name, [ARGS.sdk_python, os.path.join(PYAPPS, script), str(port)])

        def up():
            check(p.alive(), "%s exited early (status %s)", name, p.p.returncode)
            try:
                return http_once(port, "GET", "/health", timeout=2)[0] == 200
            except OSError:
                return False

        wait_until(up, 30, "%s on port %d" % (name, port))
        return p

    def sflocal(self, module, **kw):
        return SfLocal(self, module, **kw)

    def finish(self, failed):
        """Stops what still runs. Returns a list of problems: an sf-local that
        did not exit 0 on SIGTERM, sanitizer reports in any log."""
        problems = []
        for p in reversed(self.procs):
            was_alive = p.alive()
            rc = p.stop()
            if p.expect_clean_exit and (was_alive or rc is not None):
                if rc is None:
                    problems.append("%s did not stop within 10 s of SIGTERM" % p.name)
                elif rc != 0 and p.name.startswith("sf-local"):
                    problems.append("%s exited with status %d" % (p.name, rc))
        for p in self.procs:
            if SANITIZER_RE.search(p.text()):
                problems.append("sanitizer report in %s" % p.log_path)
        return problems

    def dump_logs(self, limit=80):
        for p in self.procs:
            lines = p.text().splitlines()
            print("    ---- %s (%s), last %d of %d lines" %
                  (p.name, p.log_path, min(limit, len(lines)), len(lines)))
            for l in lines[-limit:]:
                print("    | " + l)


# ---- the tests --------------------------------------------------------------------

TESTS = []


def test(fn):
    TESTS.append(fn)
    return fn


def sdk_test(fn):
    """A test that runs an app of pyapps/ with the official Python SDK: it
    needs --sdk-python (the venv of scripts/python-env.sh)."""
    fn.needs_sdk = True
    return test(fn)


def testfns_module(ctx, fn_port, max_batch=10, call="30s"):
    return ctx.module("testfns.yaml", FN_PORT=fn_port, MAX_BATCH=max_batch, CALL=call)


def start_pair(ctx, max_batch=10, fn_extra=(), sl_extra=(), data=None):
    port = free_port()
    fn = ctx.fn_server(port, fn_extra)
    sl = ctx.sflocal(testfns_module(ctx, port, max_batch), extra=sl_extra, data=data)
    return fn, sl, port


@test
def greeter(ctx):
    """The greeter example through sf-local: both ingress encodings, the
    egress, the state view, the delayed reminder and its cancellation."""
    port = free_port()
    ctx.greeter(port)
    sl = ctx.sflocal(ctx.module("greeter.yaml", GREETER_PORT=port))
    G = "greeter.fns/greet"
    check_eq(sl.pop("greetings"), None, "egress before any greeting")

    # 1: a StringWrapper body, playground style.
    sl.must(sl.send(G, "Alice", string_wrapper("Alice"),
                    "application/vnd." + STRING_T), "first visit")
    rec = sl.pop("greetings", wait=10)
    check(rec is not None, "no greeting on topic greetings within 10 s")
    check_eq(rec.decode(), "Hello, Alice! You have been here 1 time(s).", "first greeting")
    check_eq(sl.state(G, "Alice", "seen"), 1, "seen after one visit")
    m = sl.metrics()
    check_eq(m["sflocal_delayed_pending"], 1, "sflocal_delayed_pending after the first visit")

    # 2: the JSON convenience; the second visit cancels the reminder.
    sl.must(sl.send_json(G, "Alice", "Alice"), "second visit (JSON)")
    rec = sl.pop("greetings", wait=10)
    check(rec is not None, "no second greeting")
    check(b"Alice" in rec and b"2 time(s)" in rec, "second greeting: %r" % rec)
    view = sl.view(G, "Alice")
    check_eq(view["state"]["seen"]["value"], 2, "state view seen")
    check_eq(view["state"]["seen"]["typename"], INT_T, "state view typename")
    check_eq(view["queued"], 0, "queued after both visits")
    wait_until(lambda: sl.metrics()["sflocal_delayed_pending"] == 0, 5,
               "sflocal_delayed_pending 0 after the cancellation")

    # 3: text/plain is a StringWrapper too; the egress by egress id.
    st, data = sl.send(G, "Bob", "Bob".encode(), "text/plain; charset=utf-8", method="POST")
    check_eq(st, 202, "text/plain send status")
    recs = sl.lines("greeter.io/greetings", "greetings", wait=10, max_=10)
    check_eq([(r["key"], r["value"]) for r in recs],
             [("Bob", "Hello, Bob! You have been here 1 time(s).")], "Bob's greeting")
    check_eq(sl.pop("greetings"), None, "egress after reading everything")
    m = sl.metrics()
    check_eq(m["sflocal_delayed_pending"], 1, "delayed pending (Bob's reminder)")
    check_eq(m["sflocal_invocations_total"], 3, "invocations")


@test
def missing_state(ctx):
    """The first batch of a function type comes back as missing state; sf-local
    registers the spec and resends; the state is right; once per type."""
    _, sl, _ = start_pair(ctx)
    C = "test.fns/counter"
    check_eq(sl.metrics()["sflocal_missing_state_total"], 0, "missing state before")
    sl.must(sl.send_int(C, "m1", 5), "send 5")
    wait_until(lambda: sl.state(C, "m1", "count") == 5, 10, "count 5")
    check_eq(sl.metrics()["sflocal_missing_state_total"], 1, "missing state after one message")
    sl.must(sl.send_json(C, "m1", 3, "int"), "send 3")
    sl.must(sl.send_int(C, "m2", 7), "send 7 to another id")
    wait_until(lambda: sl.state(C, "m1", "count") == 8, 10, "count 8")
    wait_until(lambda: sl.state(C, "m2", "count") == 7, 10, "m2 count 7")
    m = sl.metrics()
    check_eq(m["sflocal_missing_state_total"], 1,
             "missing state after more messages of the same type")
    check_eq(m["sflocal_invocations_total"], 3, "invocations")
    vals = [r["value"] for r in sl.drain("test.io/out", "counts", 3)]
    check_eq(sorted(vals), ["m1=5", "m1=8", "m2=7"], "egress records")


@test
def batching(ctx):
    """200 messages to one address of a slow function (20 ms per message),
    maxNumBatchRequests 10: exact count, batches > 1 and <= 10."""
    _, sl, _ = start_pair(ctx, max_batch=10, fn_extra=["--slow-ms", "20"])
    S, N = "test.fns/slow", 200
    t0 = time.monotonic()

    def sender(i0):
        for i in range(i0, N, 20):
            sl.send_retry(lambda: sl.send_int(S, "b1", 1), "message %d" % i)

    threads = [threading.Thread(target=sender, args=(k,)) for k in range(20)]
    errors = run_threads(threads)
    check(not errors, "senders failed: %s", errors[:3])
    wait_until(lambda: sl.state(S, "b1", "count") == N, 60, "count %d" % N)
    dt = time.monotonic() - t0
    v = sl.view(S, "b1")
    check_eq(v["queued"], 0, "queued")
    m = sl.metrics()
    check_eq(m["sflocal_invocations_total"], N, "invocations")
    mx = m["sflocal_batch_size_max"]
    check(1 < mx <= 10, "sflocal_batch_size_max %g not in (1, 10]", mx)
    check(m["sflocal_batches_total"] < N, "batches %g: no batching", m["sflocal_batches_total"])
    ctx.note("%d messages in %.1f s, %d batches, largest %d",
             N, dt, m["sflocal_batches_total"], mx)


@test
def expiration(ctx):
    """expire-after-write: gone 1.5 s after the write. expire-after-call:
    alive while called every 0.4 s for 3 s, gone 1.5 s after the last call."""
    _, sl, _ = start_pair(ctx)
    W, C = "test.fns/expiring", "test.fns/expiring_call"

    def get(fn, id_, topic):
        sl.must(sl.send_str(fn, id_, "get"), "get")
        rec = sl.pop(topic, wait=10)
        check(rec is not None, "no answer on topic %s" % topic)
        return rec.decode()

    # After write.
    sl.must(sl.send_int(W, "w1", 7), "set 7")
    check_eq(get(W, "w1", "expiring"), "7", "value right after the write")
    v = sl.view(W, "w1")
    check(0 < v["state"]["v"]["expires_in_ms"] <= 1500,
          "expires_in_ms %r" % v["state"]["v"].get("expires_in_ms"))
    time.sleep(0.5)
    check_eq(get(W, "w1", "expiring"), "7", "value 0.5 s after the write")
    time.sleep(1.5)
    check_eq(get(W, "w1", "expiring"), "absent", "value 2 s after the write")
    check("v" not in sl.view(W, "w1")["state"], "expired state still in the view")

    # After call: reads keep it alive.
    sl.must(sl.send_int(C, "c1", 5), "set 5")
    t_end = time.monotonic() + 3.0
    n = 0
    while time.monotonic() < t_end:
        check_eq(get(C, "c1", "expiring_call"), "5", "value while being called (read %d)" % n)
        n += 1
        time.sleep(0.4)
    check(n >= 5, "only %d reads in 3 s" % n)
    time.sleep(2.0)
    check_eq(get(C, "c1", "expiring_call"), "absent", "value 2 s after the last call")
    # A write after expiry starts over.
    sl.must(sl.send_int(C, "c1", 9), "set 9")
    check_eq(get(C, "c1", "expiring_call"), "9", "value after a new write")


@test
def delayed(ctx):
    """Two delayed messages, one cancelled: exactly one fires. A second
    pending message with the same token fails the batch, visibly."""
    _, sl, _ = start_pair(ctx)
    D = "test.fns/delayer"
    t0 = time.monotonic()
    sl.must(sl.send_str(D, "d1", "arm:1000:keep"), "arm keep")
    sl.must(sl.send_str(D, "d1", "arm:1000:drop"), "arm drop")
    sl.must(sl.send_str(D, "d1", "cancel:drop"), "cancel drop")
    wait_until(lambda: sl.view(D, "d1")["queued"] == 0, 10, "the three commands done")
    check_eq(sl.metrics()["sflocal_delayed_pending"], 1, "delayed pending after the cancel")
    rec = sl.pop("delayed", wait=5)
    check(rec is not None, "nothing fired within 5 s")
    dt = time.monotonic() - t0
    check_eq(rec.decode(), "fired:keep", "the delayed message")
    check(dt >= 0.9, "fired after %.2f s, before its 1 s delay" % dt)
    rec = sl.pop("delayed", wait=2)
    check(rec is None, "the cancelled message fired too: %r" % rec)
    m = sl.metrics()
    check_eq(m["sflocal_delayed_fired_total"], 1, "delayed fired")
    check_eq(m["sflocal_delayed_pending"], 0, "delayed pending at the end")

    # The same token twice, in two batches: the second batch fails.
    sl.must(sl.send_str(D, "d2", "arm:60000:dup"), "arm dup")
    wait_until(lambda: sl.view(D, "d2")["queued"] == 0, 10, "first arm done")
    sl.must(sl.send_str(D, "d2", "arm:60000:dup"), "arm dup again")
    v = wait_until(lambda: (lambda v: v if v.get("last_error") else None)(sl.view(D, "d2")),
                   10, "a last_error on delayer/d2")
    check("dup" in v["last_error"] and "pending" in v["last_error"],
          "last_error does not name the pending token: %r" % v["last_error"])
    check_eq(v["queued"], 1, "the failing message stays queued")
    ctx.note("duplicate token reported: %s", v["last_error"])


@test
def function_to_function(ctx):
    """pinger sends each int on to counter (same id): exact sums, the caller
    is set, routed messages counted. (sf-local runs with --verbose.)"""
    _, sl, _ = start_pair(ctx, sl_extra=["--verbose", "--stats", "1"])
    P, C = "test.fns/pinger", "test.fns/counter"
    want = collections.Counter()
    for i in range(60):
        id_ = "p%d" % (i % 3)
        sl.send_retry(lambda: sl.send_int(P, id_, i + 1), "ping %d" % i)
        want[id_] += i + 1
    for id_, total in want.items():
        wait_until(lambda: sl.state(C, id_, "count") == total, 20,
                   "counter/%s == %d" % (id_, total))
    m = sl.metrics()
    check_eq(m["sflocal_routed_messages_total"], 60, "routed messages")
    check_eq(m["sflocal_invocations_total"], 120, "invocations (60 pinger + 60 counter)")
    callers = collections.Counter((r["key"], r["value"])
                                  for r in sl.drain("test.io/out", "callers", 60))
    check_eq(callers, collections.Counter({("p%d" % k, "test.fns/pinger/p%d" % k): 20
                                           for k in range(3)}), "callers seen by counter")
    check(sl.view(P, "p0")["state"] == {}, "pinger has no state")


@test
def retries(ctx):
    """Messages sent while the function server is down are delivered once it
    comes up 2 s later; counts exact; retries counted."""
    port = free_port()
    sl = ctx.sflocal(testfns_module(ctx, port, 10))
    C = "test.fns/counter"
    for i in range(24):
        sl.send_retry(lambda: sl.send_int(C, "r%d" % (i % 3), 1), "message %d" % i)
    time.sleep(2.0)
    v = sl.view(C, "r0")
    check(v["queued"] == 8 and v.get("last_error"),
          "r0 while the server is down: queued %r, last_error %r" % (v["queued"], v.get("last_error")))
    ctx.note("while down: %s", v["last_error"])
    ctx.fn_server(port)
    for k in range(3):
        wait_until(lambda: sl.state(C, "r%d" % k, "count") == 8, 20, "r%d == 8" % k)
    m = sl.metrics()
    check(m["sflocal_retries_total"] > 0, "no retries counted")
    check_eq(m["sflocal_invocations_total"], 24, "invocations")
    check_eq(m["sflocal_queued"], 0, "queued")
    check("last_error" not in sl.view(C, "r0"), "last_error kept after success")


@test
def backpressure(ctx):
    """With the function server down and maxNumBatchRequests 10, an address
    fills up: the ingress waits, then answers 503 with Retry-After; what was
    accepted is delivered once the server is up."""
    port = free_port()
    sl = ctx.sflocal(testfns_module(ctx, port, 10))
    C = "test.fns/counter"
    accepted, busy = 0, None
    for i in range(100):
        t0 = time.monotonic()
        st, hdrs, data = sl.conn(sl.ingress_port).request(
            "PUT", sl.fn_path(C, "bp"), int_wrapper(1),
            {"Content-Type": "application/vnd." + INT_T})
        if st == 503:
            busy = (time.monotonic() - t0, hdrs.get("retry-after"), data)
            break
        check_eq(st, 202, "send %d" % i)
        accepted += 1
    check(busy is not None, "100 messages accepted for one address of a down "
          "function with maxNumBatchRequests 10")
    check(busy[0] >= 1.5, "503 after %.2f s, expected after the 2 s wait" % busy[0])
    check_eq(busy[1], "1", "Retry-After")
    check(b"maxNumBatchRequests" in busy[2], "503 body: %r" % busy[2])
    ctx.note("%d accepted, then 503 after %.1f s: %s", accepted, busy[0],
             busy[2].decode().strip())
    ctx.fn_server(port)
    wait_until(lambda: sl.state(C, "bp", "count") == accepted, 20, "count %d" % accepted)
    sl.send_retry(lambda: sl.send_int(C, "bp", 1), "the refused message again")
    wait_until(lambda: sl.state(C, "bp", "count") == accepted + 1, 20,
               "count %d" % (accepted + 1))


@test
def idempotency(ctx):
    """X-Idempotency-Key without --data: a key seen before is acknowledged as
    a duplicate and delivers nothing (by address and by topic)."""
    _, sl, _ = start_pair(ctx)
    C = "test.fns/counter"
    check_eq(sl.send_int(C, "i1", 1, key="k1")[0], 202, "first k1")
    st, body = sl.send_int(C, "i1", 1, key="k1")
    check_eq(st, 200, "second k1")
    check(json.loads(body).get("duplicate") is True, "second k1 body %r" % body)
    check_eq(sl.send_topic("increments", "i1", int_wrapper(1), idem="k1")[0], 200,
             "k1 by topic")
    check_eq(sl.send_topic("increments", "i1", int_wrapper(1), idem="k2")[0], 202, "k2")
    check_eq(sl.send_int(C, "i1", 1)[0], 202, "no key")
    check_eq(sl.send_int(C, "i1", 1)[0], 202, "no key again")
    wait_until(lambda: sl.state(C, "i1", "count") == 4, 10, "count 4")
    time.sleep(0.3)
    check_eq(sl.state(C, "i1", "count"), 4, "count stays 4")
    check_eq(sl.metrics()["sflocal_ingress_messages_total"], 4, "ingress messages")


@test
def topic_batches(ctx):
    """A JSON-lines POST to /topics/<topic> delivers every record, in order
    per address, or none: a bad line is refused with 400 naming it, a batch
    of more bytes than --max-queued-bytes with 413, an idempotency key
    covers the batch, and an address with nothing waiting takes more
    records than its maxNumBatchRequests (10), sent 10 at a time."""
    _, sl, _ = start_pair(ctx, sl_extra=("--max-queued-bytes", "4000"))
    C = "test.fns/counter"
    one = base64.b64encode(int_wrapper(1)).decode()

    def post(lines, idem=None):
        h = {"Content-Type": "application/x-ndjson"}
        if idem is not None:
            h["X-Idempotency-Key"] = idem
        body = "".join(json.dumps(x) + "\n" if not isinstance(x, str) else x + "\n"
                       for x in lines).encode()
        st, _, data = sl.conn(sl.ingress_port).request("POST", "/topics/increments", body, h)
        return st, data

    ids = ["b%d" % i for i in range(5)]
    recs = [{"key": id_, "value_base64": one} for _ in range(4) for id_ in ids]
    st, data = post(recs)
    check_eq(st, 202, "a batch of 20: %r" % data)
    check_eq(json.loads(data), {"accepted": True, "topic": "increments", "records": 20},
             "the answer")
    check_counts(sl, C, ids, 4, 30)
    # refused whole: a bad second line, more bytes than sf-local may hold
    st, data = post([{"key": "other", "value_base64": one}, '{"key":"b1",}'])
    check_eq(st, 400, "a bad second line: %r" % data)
    check(b"line 2, column 13" in data, "400 body %r" % data)
    big = base64.b64encode(b"\0" * 5000).decode()
    st, data = post([{"key": "other", "value_base64": one},
                     {"key": "b0", "value_base64": big}])
    check_eq(st, 413, "5000 bytes with --max-queued-bytes 4000: %r" % data)
    check(b"--max-queued-bytes" in data, "413 body %r" % data)
    v = sl.view(C, "other")  # may exist (looked up before the refusal), but empty
    check(v is None or (v["queued"] == 0 and v["batches"] == 0 and not v["state"]),
          "a refused batch delivered something: %r" % v)
    check_eq(sl.metrics()["sflocal_ingress_messages_total"], 20, "ingress messages")
    # the idempotency key covers the batch
    check_eq(post(recs[:5], idem="batch-1")[0], 202, "first batch-1")
    st, data = post(recs[:5], idem="batch-1")
    check_eq(st, 200, "second batch-1")
    check(json.loads(data).get("duplicate") is True, "duplicate body %r" % data)
    check_counts(sl, C, ids, 5, 30)
    # 25 records for one idle address, over its maxNumBatchRequests of 10
    st, data = post([{"key": "many", "value_base64": one}] * 25)
    check_eq(st, 202, "25 for one address: %r" % data)
    check_counts(sl, C, ["many"], 25, 30)
    check_eq(sl.metrics()["sflocal_ingress_messages_total"], 50, "ingress messages")


@test
def durable_delayed(ctx):
    """With --data, delayed messages and cancellations survive kill -9:
    a pending message fires after the restart, a cancelled one does not, and
    a token armed before the crash can be cancelled after it."""
    port = free_port()
    ctx.fn_server(port)
    data = os.path.join(ctx.dir, "data")
    sl = ctx.sflocal(testfns_module(ctx, port), data=data)
    D = "test.fns/delayer"
    t0 = time.monotonic()
    for cmd in ("arm:2500:a", "arm:2500:b", "cancel:b", "arm:600000:later"):
        sl.must(sl.send_str(D, "x", cmd), cmd)
    wait_until(lambda: sl.view(D, "x")["queued"] == 0, 10, "commands done")
    check_eq(sl.metrics()["sflocal_delayed_pending"], 2, "pending before the crash")
    sl.proc.kill9()
    sl = sl.restart()
    check_eq(sl.metrics()["sflocal_delayed_pending"], 2, "pending after the restart")
    rec = sl.pop("delayed", wait=6)
    check(rec is not None, "nothing fired within 6 s of the restart")
    check_eq(rec.decode(), "fired:a", "the record that fired")
    check(time.monotonic() - t0 >= 2.4, "fired before its time")
    check(sl.pop("delayed", wait=1.5) is None, "the cancelled message fired")
    sl.must(sl.send_str(D, "x", "cancel:later"), "cancel later")
    wait_until(lambda: sl.metrics()["sflocal_delayed_pending"] == 0, 10,
               "no pending message after cancelling 'later'")
    sl.proc.kill9()
    sl = sl.restart()
    check_eq(sl.metrics()["sflocal_delayed_pending"], 0, "pending after a second restart")


@test
def final_failure(ctx):
    """A batch that fails for longer than the call timeout (1 s here) is
    reported and stays queued; sf-local retries it after --retry-pause and
    delivers it once the function server is up."""
    port = free_port()
    sl = ctx.sflocal(testfns_module(ctx, port, 10, call="1s"), extra=["--retry-pause", "300"])
    C = "test.fns/counter"
    for i in range(5):
        sl.must(sl.send_int(C, "ff", 1), "message %d" % i)
    wait_until(lambda: sl.metrics()["sflocal_failed_batches_total"] >= 2, 10,
               "two final failures")
    log = sl.proc.text()
    check("failed after" in log and "stay queued" in log,
          "no final-failure line in the log")
    check_eq(sl.view(C, "ff")["queued"], 5, "queued while failing")
    ctx.fn_server(port)
    wait_until(lambda: sl.state(C, "ff", "count") == 5, 10, "count 5")
    check_eq(sl.metrics()["sflocal_invocations_total"], 5, "invocations")


@test
def odd_ids(ctx):
    """Ids with '/', spaces, '%', '?' and UTF-8 go through the path encoding,
    the function, the egress key and the durable store (restart)."""
    port = free_port()
    ctx.fn_server(port)
    data = os.path.join(ctx.dir, "data")
    sl = ctx.sflocal(testfns_module(ctx, port), data=data)
    C = "test.fns/counter"
    ids = ["a/b", "a/b/c", "with space", "100%", "q?x=1", "\u00fcml\u00e4ut-\u65e5\u672c", "#hash"]
    for n, id_ in enumerate(ids):
        sl.must(sl.send_int(C, id_, n + 1), "send to %r" % id_)
    for n, id_ in enumerate(ids):
        wait_until(lambda: sl.state(C, id_, "count") == n + 1, 10, "count of %r" % id_)
    recs = sl.drain("test.io/out", "counts", len(ids))
    check_eq(sorted((r["key"], r["value"]) for r in recs),
             sorted((id_, "%s=%d" % (id_, n + 1)) for n, id_ in enumerate(ids)),
             "egress keys and values")
    sl.proc.kill9()
    sl = sl.restart()
    for n, id_ in enumerate(ids):
        check_eq(sl.state(C, id_, "count"), n + 1, "count of %r after the restart" % id_)
        sl.must(sl.send_int(C, id_, 10), "send to %r after the restart" % id_)
    for n, id_ in enumerate(ids):
        wait_until(lambda: sl.state(C, id_, "count") == n + 11, 10,
                   "count of %r after the restart" % id_)
    check(sl.view(C, "a") is None, "address 'a' exists (split at the wrong '/')")


@test
def ingress_errors(ctx):
    """The ingress refuses what it cannot deliver, with the documented
    status, and delivers nothing for it."""
    _, sl, _ = start_pair(ctx)
    C = "test.fns/counter"
    cases = [
        (lambda: sl.send_int("no.such/fn", "x", 1), 404, "unknown function type"),
        (lambda: sl.send(C, "x", b"k=v", "application/x-www-form-urlencoded"), 415,
         "form content type"),
        (lambda: sl.send(C, "x", b"{", "application/json"), 400, "bad JSON"),
        (lambda: sl.send(C, "x", b"5", "application/json", query="?type=nonsense"), 400,
         "bad ?type="),
        (lambda: sl.send(C, "x", b"99999999999", "application/json", query="?type=int"), 400,
         "int out of range"),
        (lambda: sl.send_topic("no-such-topic", "x", b""), 404, "unknown topic"),
        (lambda: sl.send_int(C, "x", 1, key="bad\x01key"), 400, "bad idempotency key"),
    ]
    for send, want, what in cases:
        st, data = send()
        check_eq(st, want, what)
        check(data.startswith(b'{"error":'), "%s: body %r" % (what, data[:200]))
    st, _, data = sl.conn(sl.ingress_port).request(
        "POST", "/topics/increments", int_wrapper(1), {})
    check_eq(st, 400, "topic record without a key")
    st, _, data = sl.conn(sl.egress_port).request("GET", "/egress/no.such/egress/t")
    check_eq(st, 404, "unknown egress id")
    st, _, data = sl.conn(sl.ingress_port).request("DELETE", sl.fn_path(C, "x"))
    check_eq(st, 400, "DELETE an address without ?seq=")
    check_eq(sl.metrics()["sflocal_ingress_messages_total"], 0, "ingress messages")
    check(sl.view(C, "x") is None or sl.view(C, "x")["queued"] == 0, "something was queued")


def run_threads(threads, timeout=300):
    errors = []
    lock = threading.Lock()

    def wrap(t):
        target = t._target

        def run(*a, **kw):
            try:
                target(*a, **kw)
            except BaseException as e:  # noqa: B902 - report everything
                with lock:
                    errors.append("%s: %s" % (type(e).__name__, e))
        t._target = run

    for t in threads:
        wrap(t)
        t.daemon = True
        t.start()
    deadline = time.monotonic() + timeout * FACTOR
    for t in threads:
        t.join(max(0.0, deadline - time.monotonic()))
        if t.is_alive():
            errors.append("a sender thread is still running after %.0f s" % (timeout * FACTOR))
            break
    return errors


def check_counts(sl, fn, ids, want, timeout):
    """Waits until every id's count is `want` and nothing is queued."""
    last = [None]

    def pred():
        bad = []
        for id_ in ids:
            v = sl.view(fn, id_)
            c = v and v["state"].get("count", {}).get("value")
            if c != want or (v and v["queued"] != 0):
                bad.append((id_, c, v and v["queued"]))
        last[0] = bad
        if bad:
            return None
        return True
    try:
        wait_until(pred, timeout, "every counter == %d" % want, interval=0.2)
    except TestFailure as e:
        raise TestFailure("%s; %d wrong, e.g. (id, count, queued) %s" %
                          (e, len(last[0] or []), (last[0] or [])[:5]))
    for id_ in ids[:3]:
        check_eq(sl.view(fn, id_)["state"]["count"]["value"], want, "final count of " + id_)


def check_count_egress(sl, ids, per):
    """Every id emitted "<id>=1" .. "<id>=<per>" exactly once on counts."""
    recs = sl.drain("test.io/out", "counts", len(ids) * per)
    got = collections.defaultdict(list)
    for r in recs:
        got[r["key"]].append(r["value"])
    for id_ in ids:
        vals = got.get(id_, [])
        want = ["%s=%d" % (id_, k) for k in range(1, per + 1)]
        if sorted(vals) != sorted(want):
            dup = [v for v, n in collections.Counter(vals).items() if n > 1]
            miss = sorted(set(want) - set(vals))
            raise TestFailure("egress of %s: %d records, duplicates %s, missing %s"
                              % (id_, len(vals), dup[:5], miss[:5]))
        # One address, one stream: its records come out in order.
        check_eq(vals, want, "order of the egress records of " + id_)
    check_eq(len(recs), len(ids) * per, "egress records on counts")


def increments(n_addr, per, prefix):
    """(id, k) for k = 1..per over n_addr ids, interleaved across ids."""
    return [("%s%d" % (prefix, i), k) for k in range(1, per + 1) for i in range(n_addr)]


def stream(sl_ref, items, send_one, n_threads, gate=None, progress=None, timeout=240):
    """Sends items from n_threads threads with at-least-once retries.
    sl_ref() gives the current SfLocal (it changes across restarts).
    gate(i) blocks before item i; progress counts accepted items."""
    q = queue.Queue()
    for i, it in enumerate(items):
        q.put((i, it))
    deadline = time.monotonic() + timeout * FACTOR
    stats = collections.Counter()
    lock = threading.Lock()

    def worker():
        while True:
            try:
                i, it = q.get_nowait()
            except queue.Empty:
                return
            if gate:
                gate(i)
            while True:
                sl = sl_ref()
                try:
                    st, data = send_one(sl, i, it)
                except (OSError, http.client.HTTPException):
                    st, data = -1, b""
                with lock:
                    stats[st] += 1
                if st in (200, 202):
                    break
                if st not in (-1, 503, 500):
                    raise TestFailure("item %d: HTTP %d %s" % (i, st, data[:200]))
                if time.monotonic() > deadline:
                    raise TestFailure("item %d not accepted before the deadline" % i)
                time.sleep(0.05)
            if progress is not None:
                with lock:
                    progress[0] += 1

    errors = run_threads([threading.Thread(target=worker) for _ in range(n_threads)],
                         timeout)
    check(not errors, "senders: %s", errors[:3])
    return stats


@test
def throughput(ctx):
    """10,000 increments over 100 addresses, no faults: how fast sf-local is
    end to end (function server on loopback, 16 client threads)."""
    _, sl, _ = start_pair(ctx, max_batch=1000)
    C, ids = "test.fns/counter", ["t%d" % i for i in range(100)]
    items = increments(100, 100, "t")
    t0 = time.monotonic()
    stream(lambda: sl, items, lambda s, i, it: s.send_int(C, it[0], 1), 16)
    t_sent = time.monotonic() - t0
    check_counts(sl, C, ids, 100, 120)
    dt = time.monotonic() - t0
    m = sl.metrics()
    check_eq(m["sflocal_invocations_total"], 10000, "invocations")
    ctx.note("10000 messages accepted in %.2f s, all processed in %.2f s: %.0f msg/s "
             "(%d batches, largest %d)", t_sent, dt, 10000 / dt,
             m["sflocal_batches_total"], m["sflocal_batch_size_max"])


@test
def fault_function_server(ctx):
    """THE fault test: 10,000 increments over 100 addresses (100 each) through
    the ingress (half by topic, half by address) while the function server
    is SIGKILLed and restarted 5 times: every counter ends at exactly 100,
    every egress record exactly once, in order."""
    port = free_port()
    slow_fn = ["--delay-us", "300"]  # so that the kills hit requests in flight
    fn = [ctx.fn_server(port, slow_fn)]
    sl = ctx.sflocal(testfns_module(ctx, port, 1000))
    C, N_ADDR, PER, KILLS = "test.fns/counter", 100, 100, 5
    ids = ["f%d" % i for i in range(N_ADDR)]
    items = increments(N_ADDR, PER, "f")
    N = len(items)
    phase = N // (KILLS + 1)
    kills_done = [0]
    progress = [0]
    cv = threading.Condition()
    kill_log = []

    def gate(i):
        # Item i of phase p waits for kill p: each kill lands mid-stream.
        p = min(i // phase, KILLS)
        with cv:
            cv.wait_for(lambda: kills_done[0] >= p, timeout=60 * FACTOR)

    def killer():
        for k in range(1, KILLS + 1):
            target = k * phase - phase // 4
            while progress[0] < target:
                time.sleep(0.005)
            # Kill while requests are in flight (bounded wait).
            t_end = time.monotonic() + 3 * FACTOR
            while sl.metrics()["sflocal_in_flight"] == 0 and time.monotonic() < t_end:
                time.sleep(0.002)
            m = sl.metrics()
            fn[0].kill9()
            kill_log.append((progress[0], int(m["sflocal_in_flight"]), int(m["sflocal_queued"])))
            with cv:
                kills_done[0] = k
                cv.notify_all()
            time.sleep(0.4)
            fn[0] = ctx.fn_server(port, slow_fn)
            # Let the retries reach the new server before the next kill
            # (they back off up to 1 s).
            inv = m["sflocal_invocations_total"]
            t_end = time.monotonic() + 10 * FACTOR
            while (sl.metrics()["sflocal_invocations_total"] < inv + 100 and
                   time.monotonic() < t_end):
                time.sleep(0.01)

    def send_one(s, i, it):
        id_, _ = it
        if i % 2 == 0:
            return s.send_topic("increments", id_, int_wrapper(1))
        return s.send_int(C, id_, 1)

    t0 = time.monotonic()
    kerr = []
    kt = threading.Thread(target=lambda: run_guarded(killer, kerr), daemon=True)
    kt.start()
    stats = stream(lambda: sl, items, send_one, 16, gate=gate, progress=progress)
    kt.join(60 * FACTOR)
    check(not kerr, "killer: %s", kerr)
    check(not kt.is_alive(), "the killer did not finish")
    check_eq(kills_done[0], KILLS, "kills")
    check_counts(sl, C, ids, PER, 150)
    dt = time.monotonic() - t0
    m = sl.metrics()
    check_eq(m["sflocal_invocations_total"], N, "invocations")
    check_eq(m["sflocal_ingress_messages_total"], N, "ingress messages")
    check(m["sflocal_retries_total"] > 0, "no retries: the kills hit nothing in flight?")
    check_count_egress(sl, ids, PER)
    ctx.note("%d messages, %d kills -9 of the function server (at sent/in flight/queued %s), "
             "%d retries, done in %.1f s (%.0f msg/s); HTTP statuses %s",
             N, KILLS, kill_log, m["sflocal_retries_total"], dt, N / dt, dict(stats))
    check(dt < 180 * FACTOR, "took %.0f s" % dt)


@test
def durability(ctx):
    """THE durability test: sf-local --data; increments over 100 addresses
    with an X-Idempotency-Key each; sf-local is SIGKILLed twice mid-stream
    and restarted on the same --data; the client resends whatever got no
    answer. Every increment counts exactly once; egress records produced
    before a crash and not yet read are still there after it."""
    port = free_port()
    ctx.fn_server(port, ["--delay-us", "1000"])  # batches in flight at the crash
    data = os.path.join(ctx.dir, "data")
    cur = [ctx.sflocal(testfns_module(ctx, port, 1000), data=data)]
    C, N_ADDR, PER = "test.fns/counter", 100, 30
    ids = ["d%d" % i for i in range(N_ADDR)]
    items = increments(N_ADDR, PER, "d")
    N = len(items)
    progress = [0]
    lock = threading.Lock()
    restarting = threading.Event()
    crash_log = []

    def send_one(s, i, it):
        id_, k = it
        if restarting.is_set():
            return -1, b"restarting"
        key = "inc-%s-%d" % (id_, k)
        if i % 2 == 0:
            return s.send_topic("increments", id_, int_wrapper(1), idem=key)
        return s.send_int(C, id_, 1, key=key)

    def killer():
        for frac in (0.35, 0.7):
            while progress[0] < frac * N:
                time.sleep(0.005)
            before = cur[0].metrics()
            with lock:
                restarting.set()
                cur[0].proc.kill9()
            time.sleep(0.2)
            nxt = cur[0].restart()
            after = nxt.metrics()
            crash_log.append((progress[0], int(before["sflocal_in_flight"]),
                              int(before["sflocal_egress_unread"]),
                              int(after["sflocal_egress_unread"]),
                              int(after["sflocal_queued"])))
            # Records produced before the crash and never read survive it.
            check(after["sflocal_egress_unread"] >= before["sflocal_egress_unread"] > 0,
                  "egress unread %g before the crash, %g after the restart",
                  before["sflocal_egress_unread"], after["sflocal_egress_unread"])
            cur[0] = nxt
            restarting.clear()

    t0 = time.monotonic()
    kerr = []
    kt = threading.Thread(target=lambda: run_guarded(killer, kerr), daemon=True)
    kt.start()
    stats = stream(lambda: cur[0], items, send_one, 8, progress=progress)
    kt.join(60 * FACTOR)
    check(not kerr, "killer: %s", kerr)
    check(not kt.is_alive(), "the killer did not finish")
    check_eq(len(crash_log), 2, "crashes")
    sl = cur[0]
    check_counts(sl, C, ids, PER, 120)
    dt = time.monotonic() - t0
    # Everything since the last restart was counted by this process only.
    check_count_egress(sl, ids, PER)
    # Resending an old key is still a duplicate after the restarts.
    st, body = sl.send_int(C, "d0", 1, key="inc-d0-1")
    check_eq(st, 200, "resent old key status")
    check(json.loads(body).get("duplicate") is True, "resent old key: %r" % body)
    check_eq(sl.state(C, "d0", "count"), PER, "count after a duplicate")
    ctx.note("%d messages over %d addresses, 2 kills -9 of sf-local at (acked, in flight, "
             "egress unread before, after, queued after) %s, done in %.1f s (%.0f msg/s durable); "
             "HTTP statuses %s", N, N_ADDR, crash_log, dt, N / dt, dict(stats))


def run_guarded(fn, errors):
    try:
        fn()
    except BaseException as e:  # noqa: B902
        errors.append("%s: %s" % (type(e).__name__, e))


@test
def poison_message(ctx):
    """A message the function cannot take: its first failure is on
    sf-local's stderr at once, with the function's reason (before, nothing
    until the 30 s call timeout ended the retries), the mailbox lists it,
    DELETE ?seq= drops it (answered with the message) and the address goes
    on with the next message; with --data the drop is durable."""
    _, sl, _ = start_pair(ctx, data=os.path.join(ctx.dir, "data"))
    X = "test.fns/changer"
    sl.must(sl.send_str(X, "p1", "not an int"), "the poison message")
    want = ("test.fns/changer/p1: a batch of 1 message(s) failed: HTTP 500 from ")
    text = wait_until(lambda: (lambda t: t if want in t else None)(sl.proc.text()),
                      5, "the first failure on sf-local's stderr")
    line = next(l for l in text.splitlines() if want in l)
    check("function test.fns/changer (id p1) failed at invocation 1 of 1: changer "
          "expects an int" in line, "the function's reason in %r" % line)
    check("retrying for up to 30000 ms (the call timeout)" in line
          and "DELETE /test.fns/changer/p1?seq=N" in line, "what to do in %r" % line)
    v = sl.view(X, "p1")
    check_eq(len(v["mailbox"]), 1, "mailbox")
    seq = v["mailbox"][0]["seq"]
    st, _, data = sl.conn(sl.ingress_port).request(
        "DELETE", sl.fn_path(X, "p1") + "?seq=%d" % seq)
    check_eq(st, 200, "DELETE ?seq=%d: %r" % (seq, data))
    dropped = json.loads(data)["dropped"]
    check_eq((dropped["typename"], dropped["value"], dropped["seq"]),
             (STRING_T, "not an int", seq), "the dropped message")
    st, _, data = sl.conn(sl.ingress_port).request(
        "DELETE", sl.fn_path(X, "p1") + "?seq=%d" % seq)
    check_eq(st, 404, "dropping it again: %r" % data)
    sl.must(sl.send_int(X, "p1", 5), "x += 5")
    wait_until(lambda: sl.state(X, "p1", "x") == 5, 10, "x == 5 after the drop")
    check_eq(sl.view(X, "p1")["queued"], 0, "queued")
    sl.proc.kill9()
    sl = sl.restart()
    v = sl.view(X, "p1")
    check_eq((v["queued"], v["state"]["x"]["value"]), (0, 5), "after a restart")


@test
def state_type_change(ctx):
    """A function that now declares state x as long instead of int: the
    change is reported (state view last_error), not applied; x keeps
    its int value. Across an sf-local restart with --data too."""
    port = free_port()
    data = os.path.join(ctx.dir, "data")
    fn = ctx.fn_server(port, ["--changer-type", "int"])
    sl = ctx.sflocal(testfns_module(ctx, port), data=data)
    X = "test.fns/changer"
    sl.must(sl.send_int(X, "c1", 5), "x += 5")
    wait_until(lambda: sl.state(X, "c1", "x") == 5, 10, "x == 5")
    fn.stop()
    fn = ctx.fn_server(port, ["--changer-type", "long"])
    sl.must(sl.send_int(X, "c1", 1), "x += 1 (long)")
    v = wait_until(lambda: (lambda v: v if v.get("last_error") else None)(sl.view(X, "c1")),
                   10, "last_error on changer/c1")
    check("type mismatch" in v["last_error"] or "registered as" in v["last_error"],
          "last_error: %r" % v["last_error"])
    check_eq(v["state"]["x"]["typename"], INT_T, "x's typename")
    check_eq(v["state"]["x"]["value"], 5, "x's value")
    check_eq(v["queued"], 1, "the message stays queued")
    ctx.note("same run: %s", v["last_error"])

    # A new sf-local on the same data learns the specs again: the function
    # now asks for x as long, but x holds an int.
    check_eq(sl.proc.stop(), 0, "sf-local exit status on SIGTERM")
    sl = sl.restart()
    v = wait_until(lambda: (lambda v: v if v and v.get("last_error") else None)(sl.view(X, "c1")),
                   10, "last_error on changer/c1 after the restart")
    check("holds a io.statefun.types/int" in v["last_error"] and
          "registered as io.statefun.types/long" in v["last_error"],
          "last_error after restart: %r" % v["last_error"])
    check_eq(v["state"]["x"]["value"], 5, "x after the restart")
    check_eq(v["queued"], 1, "the message stays queued after the restart")
    ctx.note("after restart: %s", v["last_error"])


def bad_module_cases():
    """(path, expected "line:col: message") for the config parser's bad files
    (tests/runtime/bad-modules, first line "# expect: ...") plus our own."""
    cases = []
    if os.path.isdir(RUNTIME_BAD_MODULES):
        for name in sorted(os.listdir(RUNTIME_BAD_MODULES)):
            if not name.endswith(".yaml"):
                continue
            path = os.path.join(RUNTIME_BAD_MODULES, name)
            with open(path) as f:
                first = f.readline()
            m = re.match(r"#\s*expect:\s*(.*\S)", first)
            if m:
                cases.append((path, m.group(1)))
    return cases


OWN_BAD_MODULES = [
    # (file name, text, expected "line:col: message" or a regex prefixed "re:")
    ("unix-socket-async.yaml",
     "kind: io.statefun.endpoints.v2/http\nspec:\n  functions: a/*\n"
     "  urlPathTemplate: http+unix:///tmp/x.sock/statefun\n",
     "4:20: urlPathTemplate 'http+unix:///tmp/x.sock/statefun': http+unix:// needs "
     "the okhttp transport (type: io.statefun.transports.v1/okhttp)"),
    ("missing.yaml", None, "1:1: cannot open: No such file or directory"),
]


@test
def bad_modules(ctx):
    """sf-local --module BAD exits 2 with "file:line:col: message" on stderr,
    for every bad file of the config parser's suite and our own."""
    cases = bad_module_cases()
    for name, text, want in OWN_BAD_MODULES:
        path = os.path.join(ctx.dir, name)
        if text is not None:
            with open(path, "w") as f:
                f.write(text)
        cases.append((path, want))
    check(len(cases) >= 10, "only %d bad modules found" % len(cases))
    wrong = []
    for path, want in cases:
        try:
            r = subprocess.run([ARGS.sf_local, "--module", path, "--ingress-port", "0",
                                "--egress-port", "0"], capture_output=True,
                               timeout=10 * FACTOR)
        except subprocess.TimeoutExpired:
            wrong.append("%s: still running after 10 s (it accepted the file?)" % path)
            continue
        err = r.stderr.decode("utf-8", "replace")
        if r.returncode != 2:
            wrong.append("%s: exit %d, stderr %r" % (path, r.returncode, err[:300]))
        elif (path + ":" + want) not in err.splitlines():
            wrong.append("%s: expected '%s:%s', stderr %r" % (path, path, want, err[:300]))
        if SANITIZER_RE.search(err):
            wrong.append("%s: sanitizer report" % path)
    check(not wrong, "%d of %d bad modules wrong:\n      %s",
          len(wrong), len(cases), "\n      ".join(wrong))
    ctx.note("%d bad modules, each exit 2 with file:line:col: message", len(cases))


@test
def cli(ctx):
    """--help exits 0 and names --module and --data; bad usage exits 2;
    SIGTERM stops a running sf-local with status 0."""
    r = subprocess.run([ARGS.sf_local, "--help"], capture_output=True, timeout=10 * FACTOR)
    check_eq(r.returncode, 0, "--help exit status")
    out = r.stdout.decode()
    check("--module" in out and "--data" in out, "--help text: %r" % out[:300])
    for argv, what in ((["--no-such-flag"], "unknown flag"),
                       ([], "no --module"),
                       (["--module"], "--module without a value"),
                       (["--module", "x.yaml", "--ingress-port", "99999"], "bad port"),
                       (["--module", "x.yaml", "extra"], "stray argument")):
        r = subprocess.run([ARGS.sf_local] + argv, capture_output=True, timeout=10 * FACTOR)
        check_eq(r.returncode, 2, "exit status for %s" % what)
        check(r.stderr.strip(), "no message on stderr for %s" % what)
        if SANITIZER_RE.search(r.stderr.decode("utf-8", "replace")):
            raise TestFailure("sanitizer report for %s" % what)
    # A clean stop (the exit status is checked by finish() too).
    port = free_port()
    sl = ctx.sflocal(testfns_module(ctx, port))
    check_eq(sl.proc.stop(), 0, "sf-local exit status on SIGTERM")
    check("stopped" in sl.proc.text(), "no 'stopped' line in the log")


# ---- transports: what each of Flink's transports accepts and retries -------------

# What the stub answers for a function name: (status, Content-Type or None).
STUB_ANSWERS = {
    "ok": (200, "application/octet-stream"),
    "ctcase": (200, "Application/Octet-Stream"),
    "ctparam": (200, "application/octet-stream; charset=utf-8"),
    "ctlist": (200, "text/plain, application/octet-stream"),
    "s404": (404, "text/plain"),
    "s429": (429, "text/plain"),
    "big": (200, "application/octet-stream"),
}
# A 64-byte FromFunction: an InvocationResponse holding only an unknown
# field (no effects). Every other answer has an empty body.
BIG_REPLY = b"\xa2\x06\x3d\x7a\x3b" + b"\0" * 59

# Names the stub answers with a good reply, framed or timed specially
# (test transport_client): "slow" after 2 s, "chunked" in chunks, "oneshot"
# and then closes the connection without saying so in a header.
STUB_SPECIAL = ("slow", "chunked", "oneshot")


class StubFunctions:
    """An HTTP server that answers every POST /<transport>/<name> as
    STUB_ANSWERS[name] says, with an empty body (an empty FromFunction: a
    result without effects), and counts the requests per path."""

    def __init__(self):
        import http.server
        counts = self.counts = collections.Counter()
        lock = self.lock = threading.Lock()

        class Handler(http.server.BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def do_POST(self):
                self.rfile.read(int(self.headers.get("Content-Length", "0")))
                with lock:
                    counts[self.path] += 1
                name = self.path.rsplit("/", 1)[1]
                if name in STUB_SPECIAL:
                    return self.special(name)
                status, ctype = STUB_ANSWERS[name]
                body = BIG_REPLY if name == "big" else b""
                self.send_response(status)
                if ctype:
                    self.send_header("Content-Type", ctype)
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)

            def special(self, name):
                if name == "slow":
                    time.sleep(2.0)
                self.send_response(200)
                self.send_header("Content-Type", "application/octet-stream")
                if name == "chunked":
                    self.send_header("Transfer-Encoding", "chunked")
                    self.end_headers()
                    for part in (BIG_REPLY[:5], BIG_REPLY[5:40], BIG_REPLY[40:]):
                        self.wfile.write(b"%x\r\n%s\r\n" % (len(part), part))
                    self.wfile.write(b"0\r\n\r\n")
                    return
                self.send_header("Content-Length", "0")
                self.end_headers()
                if name == "oneshot":
                    self.wfile.flush()
                    self.close_connection = True

            def log_message(self, *args):
                pass

            def log_error(self, *args):
                pass  # sf-local closing a connection it timed out

        self.server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.port = self.server.server_address[1]
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)
        self.thread.start()

    def count(self, path):
        with self.lock:
            return self.counts[path]

    def close(self):
        self.server.shutdown()
        self.server.server_close()


@test
def transports(ctx):
    """Reply checks and retries as Flink's two transports make them. async
    (Netty): the Content-Type is a token of any header ignoring case
    ("Application/Octet-Stream" and "text/plain, application/octet-stream"
    pass, "; charset=" fails), every failure is retried within the call
    timeout. okhttp: the Content-Type must be exactly
    "application/octet-stream"; 404 and a wrong Content-Type fail the batch
    at once (one attempt), 429 is retried. A reply over the endpoint's
    payload_max_bytes fails and is retried (async)."""
    stub = StubFunctions()
    try:
        module = ctx.module("transports.yaml", STUB_PORT=stub.port)
        sl = ctx.sflocal(module, extra=["--retry-pause", "60000"])
        for name in STUB_ANSWERS:
            for ns in ("a", "o"):
                sl.must(sl.send_str("%s/%s" % (ns, name), "x", "hi"), ns + "/" + name)
        sl.must(sl.send_str("p/big", "x", "hi"), "p/big")

        def done(fn):
            v = sl.view(fn, "x")
            return v and v["queued"] == 0 and v["batches"] == 1

        for fn in ("a/ok", "o/ok", "a/ctcase", "a/ctlist", "a/big", "o/big"):
            wait_until(lambda: done(fn), 10, "%s accepted" % fn)
        wait_until(lambda: stub.count("/async/s404") >= 3, 10, "async retries")
        for fn in ("o/ctcase", "o/ctlist", "o/ctparam", "o/s404"):
            # Under load the okhttp call may still be in flight when the
            # async retries are counted: wait for its failure.
            wait_until(lambda: (sl.view(fn, "x") or {}).get("failures", 0) >= 1, 10,
                       "%s failed" % fn)
            v = sl.view(fn, "x")
            check(v["queued"] == 1 and v["batches"] == 0 and v["failures"] >= 1,
                  "%s: failed, still queued: %s", fn, v)
            check_eq(stub.count("/okhttp/" + fn[2:]), 1, "okhttp attempts of " + fn)
        check("exactly application/octet-stream" in sl.view("o/ctcase", "x")["last_error"],
              "o/ctcase reason")
        check("retries only 408, 409, 420, 429, 499 and 5xx"
              in sl.view("o/s404", "x")["last_error"], "o/s404 reason")
        wait_until(lambda: (sl.view("p/big", "x") or {}).get("failures", 0) >= 2, 10,
                   "p/big retried")
        v = sl.view("p/big", "x")
        check("payload_max_bytes" in v.get("last_error", "") and v["queued"] == 1,
              "p/big: a reply over payload_max_bytes fails and stays queued: %s", v)
        for path in ("/async/ctparam", "/async/s404", "/okhttp/s429"):
            # Retried within the 3 s call timeout (the stub may be slow
            # under load: wait for the attempts rather than a fixed time).
            wait_until(lambda: stub.count(path) >= 3, 10,
                       "%s retried (%d attempts so far)" % (path, stub.count(path)))
            check_eq(sl.view(path.split("/")[1][0] + "/" + path.split("/")[2], "x")["queued"],
                     1, "still queued " + path)
        ctx.note("attempts: async ctparam %d, async 404 %d, okhttp 429 %d, okhttp 404 %d",
                 stub.count("/async/ctparam"), stub.count("/async/s404"),
                 stub.count("/okhttp/s429"), stub.count("/okhttp/s404"))
    finally:
        stub.close()


@test
def transport_client(ctx):
    """sf-local's HTTP client as Flink's transports time and read it: the
    okhttp transport's read timeout (1 s) fails a reply that takes 2 s,
    which the async transport (no read timeout, call 3 s) accepts; chunked
    replies are read; a server that closes the connection after each reply
    (without Connection: close) costs no failed attempt."""
    stub = StubFunctions()
    try:
        module = ctx.module("transports.yaml", STUB_PORT=stub.port)
        sl = ctx.sflocal(module, extra=["--retry-pause", "60000"])
        for fn in ("a/slow", "o/slow", "a/chunked", "o/chunked"):
            sl.must(sl.send_str(fn, "x", "hi"), fn)
        for i in range(3):
            sl.must(sl.send_str("a/oneshot", "x", "hi"), "oneshot %d" % i)
            wait_until(lambda: (sl.view("a/oneshot", "x") or {}).get("queued") == 0, 10,
                       "a/oneshot message %d accepted" % i)
        check_eq(sl.view("a/oneshot", "x")["failures"], 0, "failed attempts at a/oneshot")
        check_eq(stub.count("/async/oneshot"), 3, "requests to a/oneshot")

        def done(fn):
            v = sl.view(fn, "x")
            return v and v["queued"] == 0 and v["batches"] == 1

        for fn in ("a/chunked", "o/chunked", "a/slow"):
            wait_until(lambda: done(fn), 10, "%s accepted" % fn)
        check_eq(sl.view("a/slow", "x")["failures"], 0, "a/slow: no read timeout on async")
        v = wait_until(lambda: (lambda v: v if v and v.get("failures") else None)(
            sl.view("o/slow", "x")), 10, "o/slow failing")
        check("read timeout (1000 ms)" in v["last_error"] and v["queued"] == 1,
              "o/slow: a reply later than okhttp's read timeout fails: %s", v)
    finally:
        stub.close()


# ---- official Python SDK apps (pyapps/, --sdk-python) --------------------------------

def raw_get(port, path, timeout=10):
    """GET on a fresh connection: (status, headers dict lower-case, body)."""
    c = http.client.HTTPConnection("127.0.0.1", port, timeout=timeout * FACTOR)
    try:
        c.request("GET", path)
        r = c.getresponse()
        return r.status, {k.lower(): v for k, v in r.getheaders()}, r.read()
    finally:
        c.close()


@sdk_test
def playground_greeter(ctx):
    """The playground's python/greeter as a user runs it: its module.yaml
    (modules/playground-greeter.yaml, only host and ports filled in), an app
    of the same shape on the official Python SDK, sf-local started without
    port flags (it listens on the ports of the playground documents), and
    the README's two curl requests: the greeting comes out of
    GET /greetings, one per GET, as the playground's egress answers it."""
    fn_port, in_port, out_port = free_port(), free_port(), free_port()
    ctx.py_app("playground_greeter.py", fn_port)
    module = ctx.module("playground-greeter.yaml", FN_PORT=fn_port,
                        INGRESS_PORT=in_port, EGRESS_PORT=out_port)
    sl = ctx.sflocal(module, port_flags=False)
    check_eq((sl.ingress_port, sl.egress_port), (in_port, out_port),
             "ports (those of the playground documents)")
    check("ingress %d (the port of the io.statefun.playground.v1/ingress document"
          % in_port in sl.proc.text(), "start-up line names where the ports come from")

    def greet():
        st, _, data = sl.conn(in_port).request(
            "PUT", "/example/person/Bob", b'{"name": "Bob"}',
            {"Content-Type": "application/vnd.example/GreetRequest"})
        check(st in (200, 202), "README curl PUT: HTTP %d %s", st, data[:200])

    def next_greeting():
        def got():
            st, h, body = raw_get(out_port, "/greetings")
            if st == 404:
                return None
            return st, h, body
        return wait_until(got, 20, "a greeting on GET /greetings")

    greet()
    st, h, body = next_greeting()
    check_eq((st, body), (200, b"Welcome Bob"), "first GET /greetings")
    check("content-type" not in h, "no Content-Type, as the playground: %s" % h)
    check_eq(h.get("status"), "200", "the playground's Status header")
    st, h, body = raw_get(out_port, "/greetings")
    check_eq((st, h.get("status")), (404, "404"), "GET /greetings when empty")
    st, h, body = raw_get(out_port, "/no-such-topic")
    check_eq((st, h.get("status")), (405, "405"), "GET of a topic the egress does not list")
    greet()
    greet()
    got = [next_greeting()[2], next_greeting()[2]]
    check_eq(got, [b"Nice to see you again Bob", b"Third time is a charm Bob"],
             "the next greetings, one per GET")
    check_eq(sl.state("example/person", "Bob", "visits"), 3, "visits")

    # Flags override the module's ports, and the start-up line says so.
    sl2 = ctx.sflocal(module, extra=["--ingress-port", "0", "--egress-port", "0"],
                      port_flags=False)
    check(sl2.ingress_port not in (0, in_port), "--ingress-port 0 picked a free port")
    check("egress %d (--egress-port, which overrides port %d of the "
          "io.statefun.playground.v1/egress document" % (sl2.egress_port, out_port)
          in sl2.proc.text(), "start-up line says the flag won: %s" % sl2.proc.text()[-600:])
    ctx.note("greetings %s via the module's ports %d/%d", got, in_port, out_port)


def probe_pair(ctx):
    fn_port = free_port()
    ctx.py_app("probe.py", fn_port)
    module = ctx.module("probe.yaml", FN_PORT=fn_port, INGRESS_PORT=free_port(),
                        EGRESS_PORT=free_port())
    return ctx.sflocal(module, extra=["--retry-pause", "300"])


def wait_error(sl, fn, id_, what):
    """The last_error of an address whose batch fails for good."""
    def err():
        v = sl.view(fn, id_)
        return v and v.get("failures", 0) >= 1 and v.get("last_error")
    e = wait_until(err, 20, "a failed batch at %s/%s (%s)" % (fn, id_, what))
    v = sl.view(fn, id_)
    check_eq(v["queued"], 1, "%s: the message stays queued" % what)
    return e


@sdk_test
def sdk_egress_kinds(ctx):
    """Each egress takes what Flink's takes: a Kafka egress only
    KafkaProducerRecords, a Kinesis egress only KinesisEgressRecords (with
    Flink's messages), the playground egress only EgressRecords for a topic
    it lists and without other fields. Anything else fails the batch, which
    stays queued; good records come out."""
    sl = probe_pair(ctx)
    for cmd in ("kafka", "kinesis", "pg"):
        sl.must(sl.send_json("probe/egress", "ok-" + cmd, cmd), cmd)
    kafka = sl.lines("probe.io/kafka", "out", wait=10)
    check_eq([(r["key"], r["value"]) for r in kafka], [("ok-kafka", "k:ok-kafka")], "Kafka")
    kin = sl.lines("probe.io/kinesis", "out", wait=10)
    check_eq([(r["key"], r["value"]) for r in kin], [("ok-kinesis", "s:ok-kinesis")], "Kinesis")
    check_eq(sl.pop("greetings", wait=10), b"hi ok-pg", "playground")
    want = {
        "kafka-plain": "The generic Kafka egress expects only messages of type "
                       "org.apache.flink.statefun.sdk.egress.generated.KafkaProducerRecord",
        "kinesis-plain": "The generic Kinesis egress expects only messages of type "
                         "org.apache.flink.statefun.sdk.egress.generated.KinesisEgressRecord",
        "pg-plain": "the playground egress takes only values of type "
                    "io.statefun.playground/EgressRecord",
        "pg-unlisted": "Message was targeted to unknown topic nope.",
        "pg-extra": "unknown field 'extra' in the EgressRecord",
    }
    for cmd, text in want.items():
        sl.must(sl.send_json("probe/egress", "bad-" + cmd, cmd), cmd)
    for cmd, text in want.items():
        e = wait_error(sl, "probe/egress", "bad-" + cmd, cmd)
        check(text in e, "%s: last_error %r lacks %r", cmd, e, text)
    check_eq(sl.lines("probe.io/kafka", "out"), [], "nothing from the failed batches")
    check_eq(sl.pop("greetings"), None, "nothing on greetings from the failed batches")
    ctx.note("%d kinds refused with Flink's reasons", len(want))


@sdk_test
def sdk_timer_reset(ctx):
    """A reply that cancels token t and schedules a new message with token
    t (the SDK's cancel_delayed_message + send_after) is accepted while the
    old one is pending, as Flink applies a reply's delayed entries in
    order: only the last armed message fires."""
    sl = probe_pair(ctx)
    sl.must(sl.send_json("probe/timer", "r1", "arm:1500"), "arm")
    time.sleep(0.3)
    sl.must(sl.send_json("probe/timer", "r1", "arm:1500"), "re-arm")
    t0 = time.monotonic()
    recs = sl.lines("probe.io/kafka", "timer", wait=15)
    waited = time.monotonic() - t0
    check_eq([r["value"] for r in recs], ["fired:r1"], "one fired message")
    v = sl.view("probe/timer", "r1")
    check_eq((v["failures"], v.get("last_error")), (0, None), "no failed batch")
    time.sleep(1.0 * FACTOR)
    check_eq(sl.lines("probe.io/kafka", "timer"), [], "the cancelled one never fires")
    ctx.note("re-armed timer fired once, %.1f s after the re-arm", waited)


# ---- main ---------------------------------------------------------------------------

def sanitized(path):
    try:
        with open(path, "rb") as f:
            return b"__asan_init" in f.read()
    except OSError:
        return False


def main():
    global ARGS, FACTOR
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--sf-local", required=True)
    ap.add_argument("--testfn", required=True)
    ap.add_argument("--greeter", required=True)
    ap.add_argument("--sdk-python",
                    help="python of the venv with the official StateFun SDK "
                         "(scripts/python-env.sh); without it the tests of pyapps/ "
                         "are skipped")
    ap.add_argument("-k", action="append", default=[],
                    help="run only tests whose name contains this (repeatable)")
    ap.add_argument("--keep", action="store_true", help="keep the log directories")
    ap.add_argument("--list", action="store_true")
    ARGS = ap.parse_args()
    for b in (ARGS.sf_local, ARGS.testfn, ARGS.greeter):
        if not os.access(b, os.X_OK):
            print("not an executable: %s" % b)
            print("0 passed, 1 failed")
            return 1
    FACTOR = float(os.environ.get("SFL_TIME_FACTOR", "0") or 0) or (
        3.0 if sanitized(ARGS.sf_local) else 1.0)
    tests = [t for t in TESTS if not ARGS.k or any(k in t.__name__ for k in ARGS.k)]
    skipped = [t for t in tests if getattr(t, "needs_sdk", False) and not ARGS.sdk_python]
    tests = [t for t in tests if t not in skipped]
    if skipped:
        print("skipping %d test(s) that need --sdk-python (ctest integration.sdk runs "
              "them): %s" % (len(skipped), ", ".join(t.__name__ for t in skipped)))
    if ARGS.list:
        for t in tests:
            print(t.__name__)
        return 0
    print("sf-local integration: %d test(s), time factor %g" % (len(tests), FACTOR))
    tally = Tally()
    t_all = time.monotonic()
    for t in tests:
        ctx = Ctx(t.__name__)
        t0 = time.monotonic()
        err = None
        try:
            t(ctx)
        except TestFailure as e:
            err = str(e)
        except Exception:
            err = traceback.format_exc()
        try:
            problems = ctx.finish(err is not None)
        except Exception:
            problems = [traceback.format_exc()]
        if problems and err is None:
            err = "; ".join(problems)
        elif problems:
            err += "\n    also: " + "; ".join(problems)
        dt = time.monotonic() - t0
        if err is None:
            tally.add(True)
            print("PASS %-24s %6.1f s" % (t.__name__, dt))
            for n in ctx.notes:
                print("     %s" % n)
            if not ARGS.keep:
                shutil.rmtree(ctx.dir, ignore_errors=True)
        else:
            tally.add(False)
            print("FAIL %-24s %6.1f s" % (t.__name__, dt))
            print("    " + err.replace("\n", "\n    "))
            for n in ctx.notes:
                print("     %s" % n)
            ctx.dump_logs()
            print("    (logs kept in %s)" % ctx.dir)
        sys.stdout.flush()
    print("total %.1f s" % (time.monotonic() - t_all))
    print(tally.summary())
    return tally.exit_code()


if __name__ == "__main__":
    sys.exit(main())
