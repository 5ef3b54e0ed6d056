#!/usr/bin/env python3
"""The entity calls the READMEs show, run as written: a claim in a README
is a claim a test backs.

    run_readme_calls.py --sf-local BIN --cart BIN [--bank BIN] [--greeter BIN] FILE.md...

Each block of FILE.md that follows the line

    <!-- readme-calls: ... -->

is a ```sh block a reader pastes into a shell at the top of the tree:

  * lines ending in `&` start the servers. The test starts the same
    programs with the same arguments, except that it uses the binaries it
    is given, free ports (the module.yaml copy points at the function
    server's port; `--ingress-port`/`--egress-port` are added) and waits
    until both answer /health. Only `.../shopping-cart --listen ...`,
    `.../bank --listen ...` (examples/bank, with --bank),
    `.../greeter --listen ...` (examples/greeter, with --greeter) and
    `.../sf-local ...` are known; any other server line fails the test.
  * `curl` lines run with `sh -c`, from the top of the tree, with
    `localhost:8090` and `localhost:8091` pointed at the test's sf-local.
  * the `#` lines right after a `curl` are what it prints: text that is
    not JSON (an egress record) exactly, else one JSON value;
    an object ending in `,...}` means "these members, and maybe more"
    (the request_id), otherwise the whole value must be equal; a member's
    string ending in `...` ("sfg-...") is a prefix.
  * blank lines separate; any other line fails the test (nothing in the
    block goes unchecked).

Every block gets fresh servers. Python 3 standard library only; the last
line is "N passed, M failed".
"""
import argparse
import json
import os
import re
import shlex
import subprocess
import sys
import tempfile
import time
import traceback

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "pylib"))
from sftest.checks import Tally, TestFailure  # noqa: E402
from sftest.net import free_port, request_once  # noqa: E402
from sftest.procs import SANITIZER_RE, LoggedProc  # noqa: E402

REPO = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
MARKER = re.compile(r"^<!-- readme-calls:.*-->\s*$")
FACTOR = float(os.environ.get("SF_TEST_TIME_FACTOR", "1"))
ARGS = None


def blocks(path, marker=MARKER):
    """(line number, [(line number, text)]) of every ```sh block after a
    line `marker` matches."""
    with open(path) as f:
        lines = f.read().split("\n")
    out = []
    for i, line in enumerate(lines):
        if not marker.match(line):
            continue
        if i + 1 >= len(lines) or lines[i + 1].strip() != "```sh":
            raise TestFailure("%s:%d: the marker is not followed by ```sh" % (path, i + 1))
        body, j = [], i + 2
        while j < len(lines) and lines[j].strip() != "```":
            body.append((j + 1, lines[j]))
            j += 1
        out.append((i + 1, body))
    return out


def expected(text):
    """The JSON an expectation comment stands for, and whether it is a
    subset ("...")."""
    text = text.strip()
    subset = text.endswith(",...}")
    if subset:
        text = text[: -len(",...}")] + "}"
    return json.loads(text), subset


def same(got, want):
    """got == want, where a wanted string ending in "..." ("sfg-...") is a
    prefix."""
    if isinstance(want, str) and want.endswith("...") and isinstance(got, str):
        return got.startswith(want[:-3])
    return got == want


def matches(got, want, subset):
    if not subset:
        return got == want if not isinstance(want, dict) else (
            isinstance(got, dict) and got.keys() == want.keys() and
            all(same(got[k], v) for k, v in want.items()))
    return isinstance(got, dict) and all(k in got and same(got[k], v) for k, v in want.items())


class Servers:
    """The block's function server and sf-local, as its `&` lines say."""

    def __init__(self, tmp, where):
        self.tmp, self.where = tmp, where
        self.procs = []
        self.cart_port = free_port()
        self.in_port = free_port()
        self.out_port = free_port()

    def start(self, line, cmd):
        argv = shlex.split(cmd.rstrip("& "))
        prog = os.path.basename(argv[0])
        fn_servers = {"shopping-cart": ARGS.cart, "bank": ARGS.bank, "greeter": ARGS.greeter}
        if fn_servers.get(prog) and argv[1:2] == ["--listen"]:
            argv = [fn_servers[prog], "--listen", "127.0.0.1:%d" % self.cart_port] + argv[3:]
        elif prog == "sf-local":
            argv = [ARGS.sf_local] + [self.module_copy(a) if argv[k] == "--module" else a
                                      for k, a in enumerate(argv[1:])]
            argv += ["--ingress-port", str(self.in_port), "--egress-port", str(self.out_port)]
        else:
            raise TestFailure("%s:%d: unknown server line: %s" % (self.where, line, cmd))
        log = os.path.join(self.tmp, "%s.%d.log" % (prog, len(self.procs)))
        self.procs.append(LoggedProc(log, argv))

    def module_copy(self, path):
        """module.yaml with the function server's port."""
        with open(os.path.join(REPO, path)) as f:
            text = f.read().replace("127.0.0.1:8000", "127.0.0.1:%d" % self.cart_port)
        copy = os.path.join(self.tmp, "module.yaml")
        with open(copy, "w") as f:
            f.write(text)
        return copy

    def wait_ready(self):
        deadline = time.monotonic() + 20 * FACTOR
        for port in (self.in_port, self.cart_port):
            while True:
                try:
                    if request_once(port, "GET", "/health", None, None, 2)[0] == 200:
                        break
                except OSError:
                    pass
                dead = [p.argv[0] for p in self.procs if not p.alive()]
                if dead or time.monotonic() > deadline:
                    raise TestFailure("%s: the servers did not start (exited: %s)"
                                      % (self.where, ", ".join(dead) or "none"))
                time.sleep(0.05)

    def stop(self):
        bad = []
        for p in self.procs:
            p.stop()
            if SANITIZER_RE.search(p.text()):
                bad.append(p.log_path)
        return bad


def run_block(path, start_line, body, tmp):
    where = "%s:%d" % (os.path.relpath(path, REPO), start_line)
    servers = Servers(tmp, where)
    checked = 0
    try:
        k = 0
        ready = False
        while k < len(body):
            n, line = body[k]
            k += 1
            text = line.strip()
            while text.endswith("\\") and k < len(body):  # continuation lines
                text = text[:-1] + " " + body[k][1].strip()
                k += 1
            if not text:
                continue
            if text.endswith("&"):
                servers.start(n, text)
                continue
            if not text.startswith("curl "):
                raise TestFailure("%s:%d: neither a server, a curl nor blank: %s"
                                  % (path, n, text))
            if not ready:
                servers.wait_ready()
                ready = True
            cmd = text.replace("localhost:8090", "localhost:%d" % servers.in_port)
            cmd = cmd.replace("localhost:8091", "localhost:%d" % servers.out_port)
            p = subprocess.run(["sh", "-c", cmd], cwd=REPO, capture_output=True, text=True,
                               timeout=60 * FACTOR)
            wants = []
            while k < len(body) and body[k][1].lstrip().startswith("#"):
                wants.append((body[k][0], body[k][1].lstrip()[1:]))
                k += 1
            if not wants:
                raise TestFailure("%s:%d: a curl without the answer it prints" % (path, n))
            for wn, want_text in wants:
                try:
                    want, subset = expected(want_text)
                    ok = matches(json.loads(p.stdout), want, subset)
                except ValueError:  # not JSON: the exact text
                    ok = p.stdout.strip() == want_text.strip()
                if not ok:
                    raise TestFailure("%s:%d: %s\n  README says: %s\n  it printed:  %s"
                                      % (path, wn, text, want_text.strip(), p.stdout.strip()))
            checked += 1
    finally:
        bad = servers.stop()
    if bad:
        raise TestFailure("%s: sanitizer report in %s" % (where, ", ".join(bad)))
    if checked == 0:
        raise TestFailure("%s: no curl in the block" % where)
    return checked


def main():
    global ARGS
    ap = argparse.ArgumentParser()
    ap.add_argument("--sf-local", required=True)
    ap.add_argument("--cart", required=True)
    ap.add_argument("--bank", help="examples/bank's server, for the bank README")
    ap.add_argument("--greeter", help="examples/greeter's server, for README.md")
    ap.add_argument("files", nargs="+")
    ARGS = ap.parse_args()
    ARGS.sf_local, ARGS.cart = os.path.abspath(ARGS.sf_local), os.path.abspath(ARGS.cart)
    ARGS.bank = ARGS.bank and os.path.abspath(ARGS.bank)
    ARGS.greeter = ARGS.greeter and os.path.abspath(ARGS.greeter)
    ARGS.files = [os.path.abspath(f) for f in ARGS.files]
    os.chdir(REPO)  # the READMEs' commands run from the top of the tree
    tally = Tally()
    for path in ARGS.files:
        try:
            found = blocks(path)
            if not found:
                raise TestFailure("%s: no readme-calls block" % path)
        except Exception:  # noqa: BLE001
            traceback.print_exc()
            print("FAIL", path)
            tally.add(False)
            continue
        for start, body in found:
            name = "%s:%d" % (os.path.relpath(path, REPO), start)
            with tempfile.TemporaryDirectory(prefix="sf-readme-") as tmp:
                try:
                    n = run_block(path, start, body, tmp)
                    print("PASS %s (%d calls as the README shows them)" % (name, n))
                    tally.add(True)
                except Exception:  # noqa: BLE001
                    traceback.print_exc()
                    for log in sorted(os.listdir(tmp)):
                        if log.endswith(".log"):
                            with open(os.path.join(tmp, log)) as f:
                                print("---- %s\n%s" % (log, f.read()[-3000:]))
                    print("FAIL", name)
                    tally.add(False)
    print(tally.summary())
    return tally.exit_code()


if __name__ == "__main__":
    sys.exit(main())
