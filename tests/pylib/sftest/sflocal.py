"""An example served behind sf-local, one world a test: the drivers that
run an example end to end (tests/bank, tests/entities, tests/hotel) share
the set-up here and keep only their own calls and checks.

A LocalEnv is one test's directory of logs and its child processes: the
example's function server on a free port (its module.yaml rewritten to
point there), sf-local in front of it on ports it picks itself, its
/metrics, a kill -9 that is sure to hit a request in flight, and the
sanitizer reports and log tails a failure prints. run_tests() runs each
test in a LocalEnv of its own and prints "PASS|FAIL name seconds note"
and the closing "N passed, M failed"; run_shared() runs tests that share
one LocalEnv, run_shared_main() that and the closing line. CartIrEnv is
the shopping cart behind sf-local --ir, for the drivers that call
entities with JSON over HTTP (cart_ir_args() reads their command line).
"""
import argparse
import collections
import os
import re
import shutil
import tempfile
import time
import traceback

from .checks import Tally, TestFailure, check
from .net import free_port, request_once
from .procs import SANITIZER_RE, LoggedProc, wait_port

# sf-local's start-up line with the ports it bound (--ingress-port 0).
PORTS_RE = re.compile(r"ingress http://[^ ]*:(\d+), egress http://[^ ]*:(\d+)")
# The function server's address in the examples' module.yaml files.
EXAMPLE_ENDPOINT = "127.0.0.1:8000"


def sf_local_ports(proc, timeout=20):
    """(ingress, egress): the ports sf-local (a LoggedProc started with
    --ingress-port 0 --egress-port 0) says it bound. Fails the test if it
    exits first or says nothing within timeout seconds."""
    deadline = time.monotonic() + timeout
    while True:
        check(proc.alive(), "sf-local exited early:\n%s", proc.tail())
        m = PORTS_RE.search(proc.text())
        if m:
            return int(m.group(1)), int(m.group(2))
        check(time.monotonic() < deadline, "sf-local did not print its ports:\n%s", proc.tail())
        time.sleep(0.05)


class LocalEnv:
    """One test's directory (`prefix`-`name`) and children: logs are
    <dir>/<child>.<n>.log. fn_port is the free port the function server
    is to listen on."""

    def __init__(self, prefix, name):
        self.name = name
        self.dir = tempfile.mkdtemp(prefix="sf-%s-%s-" % (prefix, name))
        self.procs, self.count = [], collections.Counter()
        self.fn_port = free_port()
        self.note = ""

    def spawn(self, name, argv):
        """A child logging to <name>.<n>.log in the test's directory."""
        self.count[name] += 1
        p = LoggedProc(os.path.join(self.dir, "%s.%d.log" % (name, self.count[name])), argv)
        self.procs.append(p)
        return p

    def module_on_fn_port(self, module_yaml):
        """A copy of an example's module.yaml whose endpoint is fn_port."""
        with open(module_yaml) as f:
            text = f.read()
        check(EXAMPLE_ENDPOINT in text, "%s names no %s endpoint", module_yaml, EXAMPLE_ENDPOINT)
        path = os.path.join(self.dir, "module.yaml")
        with open(path, "w") as f:
            f.write(text.replace(EXAMPLE_ENDPOINT, "127.0.0.1:%d" % self.fn_port))
        return path

    def start_server(self, name, argv, timeout=20):
        """Starts the function server (argv must make it listen on
        fn_port) and waits until it accepts connections."""
        p = self.spawn(name, argv)
        wait_port(self.fn_port, p.p, name, timeout=timeout, fail=TestFailure)
        return p

    def start_sf_local(self, argv, timeout=20):
        """Starts sf-local (argv with --ingress-port 0 --egress-port 0) and
        reads the ports it bound from its log: sets sfl, ingress, egress."""
        self.sfl = self.spawn("sf-local", argv)
        self.ingress, self.egress = sf_local_ports(self.sfl, timeout)
        return self.sfl

    def metric(self, name):
        """The value of one of sf-local's /metrics."""
        st, data = request_once(self.ingress, "GET", "/metrics")
        check(st == 200, "/metrics: HTTP %d", st)
        for line in data.decode().splitlines():
            if line.startswith(name + " "):
                return float(line.split()[1])
        raise TestFailure("no metric " + name)

    def kill_in_flight(self, proc, settle=0.02, timeout=5.0):
        """kill -9 of the function server `proc` while sf-local has a
        request out to it. The server is paused first (SIGSTOP), so it can
        answer nothing more; after `settle` seconds, a reply it had written
        before the pause has reached sf-local, so a batch still in flight
        (sflocal_in_flight) is one the paused server holds unanswered. The
        kill comes only then. Returns the batches in flight at the kill, or
        0 when none was out within `timeout`: then the server is resumed,
        not killed (there was no work to hit)."""
        proc.pause()
        time.sleep(settle)
        deadline = time.monotonic() + timeout
        while True:
            n = int(self.metric("sflocal_in_flight"))
            if n > 0:
                proc.kill9()
                return n
            if time.monotonic() >= deadline:
                proc.resume()
                return 0
            time.sleep(0.002)

    def close(self, timeout=20):
        for p in self.procs:
            p.stop(timeout=timeout)

    def sanitizer_reports(self):
        return ["%s:\n%s" % (p.log_path, p.text()[-6000:]) for p in self.procs
                if SANITIZER_RE.search(p.text())]

    def logs(self):
        return "\n".join("---- %s\n%s" % (p.log_path, p.text()[-4000:]) for p in self.procs)


class CartIrEnv(LocalEnv):
    """The shopping cart's entity server behind sf-local --ir on free
    ports (docs/sf-local-http.md, "Calling entities"). args are
    cart_ir_args(); start() starts both, in_port/out_port are sf-local's
    ingress and egress."""

    def __init__(self, prefix, args, timeout=20):
        super().__init__(prefix, "stack")
        self.args, self.timeout = args, timeout

    def start(self, cart_extra=(), sfl_extra=()):
        """Starts the cart (its argv + cart_extra, kept for start_cart)
        and sf-local --ir in front of it (+ sfl_extra)."""
        self.cart_extra = list(cart_extra)
        module = self.module_on_fn_port(self.args.module)
        self.start_cart()
        self.start_sf_local([self.args.sf_local, "--module", module, "--ir", self.args.ir,
                             "--ingress-port", "0", "--egress-port", "0"] + list(sfl_extra),
                            timeout=self.timeout)
        self.in_port, self.out_port = self.ingress, self.egress
        return self

    def start_cart(self):
        """(Re)starts the cart on fn_port: sets cart."""
        self.cart = self.start_server(
            "cart", [self.args.cart, "--listen", "127.0.0.1:%d" % self.fn_port] + self.cart_extra,
            timeout=self.timeout)
        return self.cart


def cart_ir_args():
    """The command line of a CartIrEnv driver: --sf-local BIN --cart BIN
    --ir shop.ir.json --module examples/shopping-cart/module.yaml."""
    ap = argparse.ArgumentParser()
    for opt in ("--sf-local", "--cart", "--ir", "--module"):
        ap.add_argument(opt, required=True)
    return ap.parse_args()


def run_tests(tests, make_env, selected=(), seed=None, keep=False):
    """Runs each (name, fn) of tests whose name contains one of `selected`
    (all when empty) in an env of its own (make_env(name)); fn(env)
    returns a note for the PASS line, or sets env.note. A test fails on a
    TestFailure, any other exception, or a sanitizer report in a child's
    log; a failure prints the seed and the children's logs, and keeps the
    test's directory (as --keep does for all). Returns the exit code."""
    tally = Tally()
    t_all = time.monotonic()
    for name, fn in tests:
        if selected and not any(k in name for k in selected):
            continue
        t0 = time.monotonic()
        env, ok = None, False
        try:
            env = make_env(name)
            note = fn(env) or env.note
            env.close()
            reports = env.sanitizer_reports()
            check(not reports, "sanitizer report:\n%s", "\n".join(reports))
            print("PASS %-10s %6.2f s  %s" % (name, time.monotonic() - t0, note), flush=True)
            ok = True
        except Exception as e:  # noqa: BLE001 - every failure is reported
            print("FAIL %-10s %6.2f s  %s\n  %s" % (
                name, time.monotonic() - t0, "" if seed is None else "(seed %d)" % seed,
                e if isinstance(e, TestFailure) else traceback.format_exc()), flush=True)
            if env is not None:
                env.close()
                print(env.logs())
                print("  logs: %s" % env.dir)
        finally:
            tally.add(ok)
            if env is not None and ok and not keep:
                shutil.rmtree(env.dir, ignore_errors=True)
    print("%s (%.1f s)" % (tally.summary(), time.monotonic() - t_all))
    return tally.exit_code()


def run_shared(tests, env, tally, timeout=20):
    """Runs each test function fn(env) of `tests` on the one env (counted
    in tally, Tally.run), then closes the env and ends with
    check_reports()."""
    try:
        for t in tests:
            tally.run(t.__name__, t, env)
    finally:
        env.close(timeout)
    check_reports(env, tally)


def run_shared_main(tests, make_env, tally=None, timeout=20):
    """A driver's end: run_shared() of tests on make_env() (counted in
    tally, a new one when None), then the closing "N passed, M failed"
    line. Returns the exit code."""
    if tally is None:
        tally = Tally()
    run_shared(tests, make_env(), tally, timeout)
    print(tally.summary())
    return tally.exit_code()


def check_reports(env, tally):
    """For drivers that run all their tests on one LocalEnv, after closing
    it: a sanitizer report in a child's log fails the run as one more test
    ("FAIL sanitizer"); after any failure the children's logs are printed
    and the directory kept, else it is removed."""
    reports = env.sanitizer_reports()
    if reports:
        print("\n".join(reports))
        print("FAIL sanitizer", flush=True)
        tally.add(False)
    if tally.failed:
        print(env.logs())
        print("  logs: %s" % env.dir)
    else:
        shutil.rmtree(env.dir, ignore_errors=True)
