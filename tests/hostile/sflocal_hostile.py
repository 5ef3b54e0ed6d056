#!/usr/bin/env python3
"""sflocal_hostile.py - sf-local's HTTP front under hostile clients.

Starts the greeter and sf-local on loopback (short limits so that the
whole suite takes well under a minute) and runs one probe per attack:

  slowloris_head   clients trickling a request head, a byte at a time
  slowloris_body   clients trickling a declared body
  idle_conns       thousands of connections that never send anything
  half_close       connect, partial request, FIN, close, as fast as possible
  stalled_uploads  large declared bodies, half sent, then silence
  oversized        a 100 KB URL and a 100 KB header
  garbage          pipelined garbage after a valid request
  flood            many ids with large bodies, as fast as accepted

The attacks the function server's suite (server_hostile.py) makes too,
and the probe loop, are in attacks.py. The attackers connect from
127.0.0.2 (loopback is a /8 on Linux), the normal client from 127.0.0.1,
so the per-client limit is what they hit.
For each probe: a normal request (PUT a greeting, fresh connection) every
0.2 s during the attack and after it must be answered 202 in < 1 s; the
attack must get its expected outcome (a status, or the connection closed
by the server); sf-local's peak RSS during the probe must stay within the
probe's budget; sf-local must be alive at the end. Prints one line per
probe (normal-request latency max during/after, peak RSS) and a table.

  sflocal_hostile.py --sf-local BIN --greeter BIN [--report-only] [-k NAME]
                     [--sanitized]

--report-only measures without asserting and without sf-local's limit
options (to run against an older sf-local for a before/after table).
--sanitized (a build with ASan) reports peak RSS without holding it to the
budgets: ASan's quarantine keeps up to 256 MB of freed memory resident, so
what one probe freed (stalled_uploads' bodies) is still counted in the
next probe's RSS, and no fixed multiple of the budgets is a fair bound.
The Release build, what users run, holds every budget.
"""
import argparse
import os
import shutil
import socket
import sys
import threading
import time

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(os.path.dirname(HERE))
sys.path.insert(0, HERE)
sys.path.insert(0, os.path.join(ROOT, "tests", "pylib"))

import attacks  # noqa: E402
from attacks import attacker_socket, closed_by_server, status_of  # noqa: E402
from sftest.sflocal import LocalEnv  # noqa: E402

# The limits the suite runs sf-local with (their defaults are longer).
LIMITS = ["--head-timeout", "2", "--body-timeout", "2", "--idle-timeout", "3",
          "--max-connections-per-client", "200",
          "--max-inflight-bytes", "32M", "--max-queued-bytes", "64M",
          "--max-body", "4M"]


class Stack:
    """The greeter and sf-local on fresh ports, as every driver starts an
    example behind sf-local (sftest.sflocal.LocalEnv): logs in env.dir."""

    def __init__(self, args):
        self.env = LocalEnv("hostile", "sf-local")
        module = self.env.module_on_fn_port(
            os.path.join(ROOT, "examples/greeter/module.yaml"))
        self.env.start_server("greeter", [args.greeter, "--listen",
                                          "127.0.0.1:%d" % self.env.fn_port])
        cmd = [args.sf_local, "--module", module, "--ingress-port", "0",
               "--egress-port", "0"]
        if not args.report_only:
            cmd += LIMITS
        self.sfl = self.env.start_sf_local(cmd)
        self.iport = self.env.ingress
        deadline = time.time() + 10
        while time.time() < deadline:
            if normal_request(self.iport, "warmup")[0] == 202:
                return
            time.sleep(0.1)
        raise SystemExit("sf-local did not come up")

    def alive(self):
        return self.sfl.alive()

    def stop(self):
        self.env.close(timeout=5)


def normal_request(port, name):
    """PUT a greeting on a fresh connection: (status, seconds)."""
    t0 = time.monotonic()
    try:
        s = socket.create_connection(("127.0.0.1", port), timeout=3)
        body = name.encode()
        s.sendall(b"PUT /greeter.fns/greet/%s HTTP/1.1\r\nHost: x\r\n"
                  b"Content-Type: text/plain\r\nContent-Length: %d\r\n"
                  b"Connection: close\r\n\r\n%s" % (body, len(body), body))
        data = b""
        while b"\r\n" not in data:
            b = s.recv(4096)
            if not b:
                break
            data += b
        s.close()
        status = int(data.split(b" ")[1]) if data.startswith(b"HTTP/") else 0
    except (OSError, ValueError, IndexError):
        status = 0
    return status, time.monotonic() - t0


# ---- the probes: each returns (ok, what happened) -------------------------


PUT = b"PUT /greeter.fns/greet/x HTTP/1.1\r\nHost: x\r\n"
TEXT = b"Content-Type: text/plain\r\n"


def p_slowloris_head(st):
    return attacks.slowloris_head(st.iport, PUT)


def p_slowloris_body(st):
    return attacks.slowloris_body(st.iport, PUT + TEXT +
                                  b"Content-Length: 1000\r\n\r\n")


def p_idle_conns(st):
    return attacks.idle_conns(st.iport, 3000)


def p_half_close(st):
    return attacks.half_close(st.iport, PUT + b"Content-")


def p_stalled_uploads(st):
    return attacks.stalled_uploads(st.iport, PUT + TEXT +
                                   b"Content-Length: %d\r\n\r\n")


def p_oversized(st):
    return attacks.oversized(st.iport, b"/")


def p_garbage(st):
    return attacks.garbage(st.iport)


def p_flood(st):
    body = b"x" * (256 * 1024)
    stop = time.monotonic() + 5
    counts = {}
    lock = threading.Lock()

    def worker(w):
        i = 0
        s = None
        while time.monotonic() < stop:
            try:
                if s is None:
                    s = attacker_socket(st.iport)
                s.sendall(b"PUT /greeter.fns/greet/f%d-%d HTTP/1.1\r\nHost: x\r\n"
                          b"Content-Type: text/plain\r\nContent-Length: %d\r\n\r\n"
                          % (w, i, len(body)) + body)
                data = b""
                while b"\r\n\r\n" not in data:
                    b = s.recv(65536)
                    if not b:
                        raise OSError("closed")
                    data += b
                head, _, rest = data.partition(b"\r\n\r\n")
                k = status_of(head)
                cl = 0
                for line in head.split(b"\r\n"):
                    if line.lower().startswith(b"content-length:"):
                        cl = int(line.split(b":")[1])
                while len(rest) < cl:
                    rest += s.recv(65536)
                if b"connection: close" in head.lower():
                    s.close()
                    s = None
            except OSError:
                k = -1
                if s is not None:
                    s.close()
                s = None
            with lock:
                counts[k] = counts.get(k, 0) + 1
            i += 1
        if s is not None:
            s.close()

    ts = [threading.Thread(target=worker, args=(w,)) for w in range(8)]
    for t in ts:
        t.start()
    for t in ts:
        t.join()
    ok = set(counts) <= {202, 503}
    return ok, "5 s of 256 KiB greetings to fresh ids: %s" % ", ".join(
        "%s x%d" % (k, v) for k, v in sorted(counts.items()))


def p_strict(st):
    """Heads a proxy could read differently: 400 and the connection closed;
    a NUL in the target is not cut short to another id."""
    base = (b"PUT /greeter.fns/greet/%s HTTP/1.1\r\n%sContent-Type: text/plain\r\n"
            b"%s\r\n%s")
    cases = [
        ("duplicate Content-Length", base % (b"s1", b"Host: x\r\n",
         b"Content-Length: 3\r\nContent-Length: 3\r\n", b"Bob")),
        ("conflicting Content-Length", base % (b"s1", b"Host: x\r\n",
         b"Content-Length: 3\r\nContent-Length: 4\r\n", b"Bob!")),
        ("Content-Length + chunked", base % (b"s1", b"Host: x\r\n",
         b"Content-Length: 3\r\nTransfer-Encoding: chunked\r\n",
         b"3\r\nBob\r\n0\r\n\r\n")),
        ("no Host", base % (b"s1", b"", b"Content-Length: 3\r\n", b"Bob")),
        ("NUL in the id", base % (b"a\x00b", b"Host: x\r\n",
         b"Content-Length: 3\r\n", b"Bob")),
        ("invalid UTF-8 in the id", base % (b"a%FFb", b"Host: x\r\n",
         b"Content-Length: 3\r\n", b"Bob")),
    ]
    bad = []
    for what, req in cases:
        s = attacker_socket(st.iport)
        s.sendall(req)
        closed, data = closed_by_server(s, 3)
        s.close()
        code = status_of(data)
        # invalid UTF-8 is a plain 400 on a connection that may stay open
        if code != 400 or (not closed and "UTF-8" not in what):
            bad.append("%s -> %d%s" % (what, code, "" if closed else ", kept open"))
    return not bad, ("%d strict-head cases answered 400 and closed" % len(cases)
                     if not bad else "; ".join(bad))


PROBES = [
    ("strict", p_strict, 60),
    ("slowloris_head", p_slowloris_head, 60),
    ("slowloris_body", p_slowloris_body, 60),
    ("idle_conns", p_idle_conns, 80),
    ("half_close", p_half_close, 60),
    ("stalled_uploads", p_stalled_uploads, 120),
    ("oversized", p_oversized, 60),
    ("garbage", p_garbage, 60),
    # Queued messages and unread records (64M) are held up to three times
    # while their batch is in flight (mailbox, request body, reply), plus
    # the body budget (32M) and the process itself.
    ("flood", p_flood, 320),
]


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--sf-local", required=True)
    ap.add_argument("--greeter", required=True)
    ap.add_argument("--report-only", action="store_true")
    ap.add_argument("-k", action="append", default=[])
    ap.add_argument("--sanitized", action="store_true",
                    help="report peak RSS, do not hold it to the budgets")
    args = ap.parse_args()
    st = Stack(args)
    try:
        failed = attacks.run_probes(
            PROBES, st, lambda name: normal_request(st.iport, name), 202,
            st.sfl.p.pid, st.alive, "sf-local", args.k,
            hold_rss=not args.sanitized)
    finally:
        st.stop()
    if failed:
        print("  logs: %s" % st.env.dir)
    else:
        shutil.rmtree(st.env.dir, ignore_errors=True)
    if failed and not args.report_only:
        print("FAILED: " + ", ".join(failed))
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
