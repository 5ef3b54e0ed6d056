#!/usr/bin/env python3
"""The tutorials' commands, run as written against an installed
statefun-c: a claim in a tutorial is a claim a test backs.

    run_tutorial.py --prefix PREFIX --libdir LIBDIR FILE.md...

In FILE.md, a fenced block right after

    <!-- tutorial: NAME -->

is a file the reader saves as NAME in an empty directory, and one after

    <!-- tutorial: run -->

a ```sh block the reader pastes into a shell there, in the order the
document shows them. Each document gets its own empty directory. Commands:

  * lines ending in `&` start servers, with the same arguments; ports
    8000 (the function server), 8090 and 8091 (sf-local's ingress and
    egress) become free ports everywhere (commands and saved files), and
    `sf-local` gets --ingress-port/--egress-port for them;
  * any other line runs with `sh -c` in the directory, PATH starting with
    PREFIX/bin, PKG_CONFIG_PATH at the installed .pc files and
    LD_LIBRARY_PATH at LIBDIR (where /usr/local/lib would be); it must
    exit 0, and a `cc` line must print nothing (no warning);
  * the `#` lines right after a command are what it prints: one JSON value
    (an object ending in `,...}` means "these members, and maybe more",
    nested objects compared whole) or, when not JSON, the exact text. A
    command whose answer does not match yet is run again for up to 10 s
    (sf-local answers a send before the function has run; a person typing
    the next command is slower than that);
  * a trailing `\\` continues a line; blank lines separate; anything else
    fails the test.

Python 3 standard library only; the last line is "N passed, M failed".
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

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.join(HERE, "..", "pylib"))
from sftest.checks import Tally, TestFailure  # noqa: E402
from sftest.net import free_port  # noqa: E402
from sftest.procs import LoggedProc  # noqa: E402

MARKER = re.compile(r"^<!-- tutorial: (\S+) -->\s*$")
FACTOR = float(os.environ.get("SF_TEST_TIME_FACTOR", "1"))


def sections(path):
    """(line, name, [(line, text)]) of every marked block, in order."""
    with open(path) as f:
        lines = f.read().split("\n")
    out = []
    for i, line in enumerate(lines):
        m = MARKER.match(line)
        if not m:
            continue
        if i + 1 >= len(lines) or not lines[i + 1].startswith("```"):
            raise TestFailure("%s:%d: the marker is not followed by a fenced block"
                              % (path, i + 1))
        body, j = [], i + 2
        while j < len(lines) and lines[j].strip() != "```":
            body.append((j + 1, lines[j]))
            j += 1
        out.append((i + 1, m.group(1), body))
    if not out:
        raise TestFailure("%s: no <!-- tutorial: ... --> block" % path)
    return out


def expected(text):
    """What a `#` line stands for: ("json", value, subset) or ("text", s)."""
    text = text.strip()
    subset = text.endswith(",...}")
    try:
        return "json", json.loads(text[: -len(",...}")] + "}" if subset else text), subset
    except ValueError:
        return "text", text, False


def matches(out, want):
    kind, value, subset = want
    if kind == "text":
        return out.strip() == value
    try:
        got = json.loads(out)
    except ValueError:
        return False
    if not subset:
        return got == value
    return isinstance(got, dict) and all(k in got and got[k] == v for k, v in value.items())


class Run:
    """One document's directory, servers and ports."""

    def __init__(self, path, prefix, libdir, tmp):
        self.path, self.tmp = path, tmp
        self.ports = {8000: free_port(), 8090: free_port(), 8091: free_port()}
        self.procs = []
        pc = os.path.dirname(next(
            os.path.join(d, f) for d, _, fs in os.walk(prefix) for f in fs if f == "statefun.pc"))
        self.env = dict(os.environ, PATH=os.path.join(prefix, "bin") + os.pathsep +
                        os.environ.get("PATH", ""), PKG_CONFIG_PATH=pc, LD_LIBRARY_PATH=libdir)

    def ported(self, text):
        for want, port in self.ports.items():
            text = re.sub(r"(localhost|127\.0\.0\.1):%d\b" % want, r"\g<1>:%d" % port, text)
        return text

    def save(self, name, body):
        with open(os.path.join(self.tmp, name), "w") as f:
            f.write(self.ported("\n".join(t for _, t in body) + "\n"))

    def start(self, n, text):
        argv = shlex.split(self.ported(text.rstrip("& ")))
        if os.path.basename(argv[0]) == "sf-local":
            argv += ["--ingress-port", str(self.ports[8090]),
                     "--egress-port", str(self.ports[8091])]
        exe = argv[0] if "/" in argv[0] else next(
            (os.path.join(d, argv[0]) for d in self.env["PATH"].split(os.pathsep)
             if os.access(os.path.join(d, argv[0]), os.X_OK)), argv[0])
        log = os.path.join(self.tmp, "server.%d.log" % len(self.procs))
        cwd = os.getcwd()
        os.chdir(self.tmp)  # LoggedProc starts in the current directory
        try:
            self.procs.append(LoggedProc(log, [exe] + argv[1:], env=self.env))
        finally:
            os.chdir(cwd)

    def command(self, n, text, wants):
        deadline = time.monotonic() + 10 * FACTOR
        while True:
            p = subprocess.run(["sh", "-c", self.ported(text)], cwd=self.tmp, env=self.env,
                               capture_output=True, text=True, timeout=120 * FACTOR)
            where = "%s:%d: %s" % (self.path, n, text)
            if p.returncode != 0:
                raise TestFailure("%s\n  exit status %d\n  %s%s" % (where, p.returncode,
                                                                    p.stdout, p.stderr))
            if text.startswith("cc ") and (p.stdout or p.stderr):
                raise TestFailure("%s\n  the compiler said:\n%s%s" % (where, p.stdout, p.stderr))
            bad = [(wn, w) for wn, w in wants if not matches(p.stdout, expected(w))]
            if not bad:
                return
            if time.monotonic() > deadline:
                wn, w = bad[0]
                raise TestFailure("%s:%d: %s\n  the document says: %s\n  it printed:        %s"
                                  % (self.path, wn, text, w.strip(), p.stdout.strip()))
            time.sleep(0.2)

    def run_block(self, body):
        k = 0
        while k < len(body):
            n, line = body[k]
            k += 1
            text = line.strip()
            while text.endswith("\\") and k < len(body):
                text = text[:-1].rstrip() + " " + body[k][1].strip()
                k += 1
            if not text:
                continue
            if text.startswith("#"):
                raise TestFailure("%s:%d: an answer with no command before it" % (self.path, n))
            if text.endswith("&"):
                self.start(n, text)
                continue
            wants = []
            while k < len(body) and body[k][1].lstrip().startswith("#"):
                wants.append((body[k][0], body[k][1].lstrip()[1:]))
                k += 1
            self.command(n, text, wants)

    def stop(self):
        for p in self.procs:
            p.stop()


def run_doc(path, prefix, libdir):
    with tempfile.TemporaryDirectory(prefix="sf-tutorial-") as tmp:
        r = Run(path, prefix, libdir, tmp)
        try:
            for _, name, body in sections(path):
                if name == "run":
                    r.run_block(body)
                else:
                    r.save(name, body)
        except TestFailure:
            for p in r.procs:
                sys.stdout.write("---- %s\n%s\n" % (" ".join(p.argv), p.tail()))
            raise
        finally:
            r.stop()


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--prefix", required=True)
    ap.add_argument("--libdir", required=True)
    ap.add_argument("docs", nargs="+")
    args = ap.parse_args()
    tally = Tally()
    for path in args.docs:
        t0 = time.monotonic()
        name = os.path.relpath(path, os.path.join(HERE, "..", ".."))
        try:
            run_doc(path, args.prefix, args.libdir)
            ok = True
        except TestFailure as e:
            ok, why = False, str(e)
        except Exception:  # noqa: BLE001
            ok, why = False, traceback.format_exc()
        print("%s %-30s %.1f s" % ("ok  " if ok else "FAIL", name, time.monotonic() - t0))
        if not ok:
            print("    " + why.replace("\n", "\n    "))
        tally.add(ok)
    print(tally.summary())
    return tally.exit_code()


if __name__ == "__main__":
    sys.exit(main())
