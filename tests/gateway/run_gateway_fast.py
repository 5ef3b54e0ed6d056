#!/usr/bin/env python3
"""sf-gateway without Kafka or Flink: what it answers before anything is
sent, and its command line.

    run_gateway_fast.py --gateway BIN --ir shop.ir.json --sf-modgen BIN
                        [--sf-local BIN --cart BIN --module module.yaml]

The gateway runs against a broker address where nothing listens, so no
call can be sent: argument and URL errors (400, 404, 405, 413) must come
back word for word as sf-local's (tests/gateway/gwcalls.py), a valid call
503 "not connected to Kafka yet" with its request id, /health 503 until
Kafka is there; SIGTERM exits 0. Then the command line: a bad IR (exit 2,
file:line:col), a module.yaml without the entity's Call topic, bad
options. With --sf-local, the same cases against sf-local --ir and the
shopping cart: the answers the gateway is held to are sf-local's. The 504 path (no Reply in time, then a retry with the same
X-Request-Id) needs Kafka: tests/e2e/run_e2e_gateway.py runs it on Flink.
The last line is "N passed, M failed".
"""
import argparse
import json
import os
import shutil
import subprocess
import sys
import tempfile

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)
import gwcalls  # noqa: E402
from sftest.checks import Tally, check, check_eq  # noqa: E402
from sftest.net import free_port, request_once  # noqa: E402
from sftest.procs import LoggedProc, sanitizer_lines, wait_port  # noqa: E402
from sftest.sflocal import LocalEnv  # noqa: E402

ARGS = None
MAX_BODY = 4096


def start(tmp, *extra):
    port = free_port()
    dead = free_port()  # nothing listens there: "Kafka" is down
    g = LoggedProc(os.path.join(tmp, "gateway-%d.log" % port),
                   [ARGS.gateway, "--ir", ARGS.ir, "--listen", "127.0.0.1:%d" % port,
                    "--brokers", "127.0.0.1:%d" % dead, "--max-body", str(MAX_BODY),
                    *extra])
    wait_port(port, g.p, "sf-gateway", timeout=20)
    return g, gwcalls.Client(port, timeout=30)


def test_errors(tmp):
    g, c = start(tmp)
    try:
        gwcalls.bad_requests(c, MAX_BODY, ARGS.ir)
        st, j = c.call("/shop/User/alice/deposit", {"amount": 1},
                       headers={"X-Request-Id": "fast-1"})
        check_eq((st, j.get("ok"), j.get("request_id")), (503, False, "fast-1"),
                 "a call while Kafka is down")
        check("not connected to Kafka" in j["error"], "503 reason: %r", j)
        st, body = request_once(c.port, "GET", "/health")
        check_eq((st, json.loads(body)), (503, {"status": "connecting to Kafka"}),
                 "health without Kafka")
        st, body = request_once(c.port, "GET", "/shop/User/alice")
        check_eq(st, 405, "GET of an entity")
        st, body = request_once(c.port, "PUT", "/shop/User/alice/deposit", b"{}")
        check_eq(st, 405, "PUT")
        st, j = c.call("/shop/User/alice/deposit", raw=b"\x01",
                       headers={"Content-Type": "application/vnd.shop/Raw"})
        check(st == 415 and "JSON arguments" in j["error"], "a raw message: %d %r",
              st, j)
        st, j = c.call("/other/Thing/k/m", {})
        check_eq((st, j.get("ok")), (404, None), "a namespace of no IR")
        st, body = request_once(c.port, "GET", "/metrics")
        check(st == 200 and b"sf_gateway_calls_total 0" in body, "metrics: %r", body)
    finally:
        rc = g.stop(timeout=20)
    check_eq(rc, 0, "exit status after SIGTERM")
    log = g.text()
    check("sf-gateway: listening on http://127.0.0.1:" in log, "start-up line: %r", log[:500])
    check(not sanitizer_lines(log), "sanitizer report:\n%s", "\n".join(sanitizer_lines(log)))


def test_same_answers_on_sf_local(tmp):
    """The cases of gwcalls.py hold on sf-local --ir too: the answers the
    gateway is held to are sf-local's own."""
    if not ARGS.sf_local:
        print("(no --sf-local: skipped)")
        return
    env = LocalEnv("gw-fast", "sf-local")
    ok = False
    try:
        module = env.module_on_fn_port(ARGS.module)
        env.start_server("shopping-cart", [ARGS.cart, "--listen", "127.0.0.1:%d" % env.fn_port])
        env.start_sf_local([ARGS.sf_local, "--module", module, "--ir", ARGS.ir,
                            "--ingress-port", "0", "--egress-port", "0"])
        c = gwcalls.Client(env.ingress, timeout=30)
        gwcalls.bad_requests(c, 16 * 1024 * 1024, ARGS.ir)
        gwcalls.shopping(c)
        gwcalls.out_of_stock_rolls_back(c)
        gwcalls.concurrent_deposits(c, "dave")
        ok = True
    finally:
        env.close()
        if not ok:
            print(env.logs())
    reports = env.sanitizer_reports()
    check(not reports, "sanitizer report:\n%s", "\n".join(reports))
    shutil.rmtree(env.dir, ignore_errors=True)


def run(argv, **kw):
    return subprocess.run(argv, capture_output=True, text=True, timeout=30, **kw)


def test_command_line(tmp):
    bad_ir = os.path.join(tmp, "bad.ir.json")
    with open(bad_ir, "w") as f:
        f.write('{"namespace": "shop",\n "entities": [{"name": "user"}]}\n')
    p = run([ARGS.gateway, "--ir", bad_ir])
    check_eq(p.returncode, 2, "bad IR exit status")
    check(p.stderr.startswith(bad_ir + ":2:"), "bad IR message: %r", p.stderr)
    p = run([ARGS.gateway])
    check(p.returncode == 2 and "--ir" in p.stderr, "no --ir: %r", p.stderr)
    for opt, val, want in [("--timeout", "soon", "--timeout soon"),
                           ("--isolation", "maybe", "expected committed or uncommitted"),
                           ("--producer-prop", "novalue", "expected KEY=VALUE"),
                           ("--max-body", "-5", "expected a positive number")]:
        p = run([ARGS.gateway, "--ir", ARGS.ir, opt, val])
        check(p.returncode == 2 and want in p.stderr, "%s %s: %d %r", opt, val,
              p.returncode, p.stderr)
    p = run([ARGS.gateway, "--ir", ARGS.ir, "--producer-prop", "no.such.property=1",
             "--brokers", "127.0.0.1:1"])
    check(p.returncode == 1 and "no.such.property" in p.stderr,
          "unknown Kafka property: %d %r", p.returncode, p.stderr)
    # a module whose Kafka ingress does not route shop.User's Calls
    module = os.path.join(tmp, "module.yaml")
    subprocess.check_call([ARGS.sf_modgen, "--function", "shop/Item",
                           "--ingress-topic", "items=shop/Item", "--kafka", "k:9092",
                           "--endpoint", "http://127.0.0.1:1/statefun",
                           "--egress", "shop.io/replies", "-o", module])
    p = run([ARGS.gateway, "--ir", ARGS.ir, "--module", module])
    check(p.returncode == 2 and "no Kafka ingress routes a topic of "
          "statefun.entities/Call to shop/" in p.stderr, "module without topics: %d %r",
          p.returncode, p.stderr)
    p = run([ARGS.gateway, "--version"])
    check(p.returncode == 0 and p.stdout.startswith("sf-gateway ") and
          p.stdout.split()[1][0].isdigit(), "--version: %r", p.stdout)
    p = run([ARGS.gateway, "--help"])
    check(p.returncode == 0 and "--replies-topic" in p.stdout, "--help: %r", p.stdout[:200])


def main():
    global ARGS
    ap = argparse.ArgumentParser()
    ap.add_argument("--gateway", required=True)
    ap.add_argument("--ir", required=True)
    ap.add_argument("--sf-modgen", required=True)
    ap.add_argument("--sf-local", help="also check the cases on sf-local --ir")
    ap.add_argument("--cart", help="the shopping-cart server (with --sf-local)")
    ap.add_argument("--module", help="its module.yaml (with --sf-local)")
    ARGS = ap.parse_args()
    tally = Tally()
    with tempfile.TemporaryDirectory(prefix="sfgw-fast-") as tmp:
        for t in (test_errors, test_command_line, test_same_answers_on_sf_local):
            if not tally.run(t.__name__, t, tmp):
                for name in sorted(os.listdir(tmp)):
                    if name.endswith(".log"):
                        with open(os.path.join(tmp, name), errors="replace") as f:
                            print("---- %s\n%s" % (name, f.read()[-3000:]))
    print(tally.summary())
    return tally.exit_code()


if __name__ == "__main__":
    sys.exit(main())
