#!/usr/bin/env python3
"""Tests of sftest, the drivers' shared library: the wire encodings against
bytes protobuf writes (types.proto wrappers, varints of the spec's
examples), the field reader on good and broken input, the check/tally
texts the drivers print, free ports and one-shot HTTP, and the child
process helpers, keep-alive connections per thread, and the test loop
and module rewriting of the sf-local drivers. Standard library only
(unittest)."""
import contextlib
import io
import shutil
import http.server
import os
import socket
import sys
import tempfile
import threading
import time
import unittest

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from sftest import checks, net, procs, sflocal, wire  # noqa: E402


class Wire(unittest.TestCase):
    def test_varint(self):
        self.assertEqual(wire.varint(0), b"\x00")
        self.assertEqual(wire.varint(1), b"\x01")
        self.assertEqual(wire.varint(127), b"\x7f")
        self.assertEqual(wire.varint(128), b"\x80\x01")
        self.assertEqual(wire.varint(300), b"\xac\x02")
        self.assertEqual(wire.varint(-1), b"\xff" * 9 + b"\x01")

    def test_read_varint(self):
        for n in (0, 1, 127, 128, 300, 1 << 35, (1 << 64) - 1):
            self.assertEqual(wire.read_varint(b"x" + wire.varint(n), 1),
                             (n, 1 + len(wire.varint(n))))
        with self.assertRaisesRegex(ValueError, "truncated"):
            wire.read_varint(b"\x80", 0)
        with self.assertRaisesRegex(ValueError, "too long"):
            wire.read_varint(b"\xff" * 11, 0)

    def test_zigzag(self):
        self.assertEqual([wire.zigzag(n, 32) for n in (0, -1, 1, -2)], [0, 1, 2, 3])
        self.assertEqual(wire.zigzag(-(1 << 31), 32), 0xFFFFFFFF)
        for n in (0, -1, 5, -(1 << 63)):
            self.assertEqual(wire.unzigzag(wire.zigzag(n, 64)), n)

    def test_fields(self):
        msg = (wire.f_str(1, "ab") + wire.f_varint(2, 150) + b"\x1d\x01\x02\x03\x04"
               + b"\x21" + bytes(8) + wire.f_str(5, "", always=True))
        self.assertEqual(list(wire.fields(msg)), [
            (1, wire.LEN, b"ab"), (2, wire.VARINT, 150), (3, wire.I32, b"\x01\x02\x03\x04"),
            (4, wire.I64, bytes(8)), (5, wire.LEN, b"")])
        with self.assertRaisesRegex(ValueError, "truncated field 1"):
            list(wire.fields(b"\x0a\x05ab"))
        with self.assertRaisesRegex(ValueError, "wire type 3"):
            list(wire.fields(b"\x0b"))

    def test_proto3_leaves_out_zero(self):
        self.assertEqual(wire.f_str(1, ""), b"")
        self.assertEqual(wire.f_varint(1, 0), b"")
        self.assertEqual(wire.f_varint(1, 0, always=True), b"\x08\x00")

    def test_wrappers(self):
        # the bytes StringWrapper/IntWrapper/LongWrapper/BooleanWrapper of
        # types.proto serialize to (SerializeToString of the official SDK)
        self.assertEqual(wire.string_wrapper("héllo"), b"\x0a\x06h\xc3\xa9llo")
        self.assertEqual(wire.string_wrapper(""), b"")
        self.assertEqual(wire.int_wrapper(-42), b"\x0d\xd6\xff\xff\xff")
        self.assertEqual(wire.int_wrapper(0), b"")
        self.assertEqual(wire.long_wrapper(1 << 40), b"\x09\x00\x00\x00\x00\x00\x01\x00\x00")
        self.assertEqual(wire.bool_wrapper(True), b"\x08\x01")
        self.assertEqual(wire.bool_wrapper(False), b"")


class Checks(unittest.TestCase):
    def test_check(self):
        checks.check(True, "not raised")
        with self.assertRaisesRegex(checks.TestFailure, "^n=3 100%$"):
            checks.check(False, "n=%d 100%%", 3)
        with self.assertRaisesRegex(checks.TestFailure, "^50% as given$"):
            checks.check(False, "50% as given")

    def test_check_eq(self):
        checks.check_eq([1], [1], "same")
        with self.assertRaisesRegex(checks.TestFailure, r"^count: expected 2, got 1$"):
            checks.check_eq(1, 2, "count")

    def test_tally(self):
        t = checks.Tally()
        self.assertEqual((t.summary(), t.exit_code()), ("0 passed, 0 failed", 0))
        self.assertTrue(t.add(True))
        self.assertFalse(t.add(False))
        t.add(True)
        self.assertEqual((t.summary(), t.exit_code()), ("2 passed, 1 failed", 1))

    def test_tally_run(self):
        t = checks.Tally()
        out = io.StringIO()

        def bug():
            raise KeyError("k")
        with contextlib.redirect_stdout(out):
            self.assertTrue(t.run("good", lambda x: x, 1))
            self.assertFalse(t.run("bad", checks.check, False, "wrong"))
            self.assertFalse(t.run("bug", bug))
        lines = out.getvalue().splitlines()
        self.assertEqual(lines[:4], ["PASS good", "wrong", "FAIL bad",
                                     "Traceback (most recent call last):"])
        self.assertEqual(lines[-2:], ["KeyError: 'k'", "FAIL bug"])
        self.assertEqual(t.summary(), "1 passed, 2 failed")


class Net(unittest.TestCase):
    def test_free_ports_bind(self):
        for port in (net.free_port(), net.free_port_below_ephemeral(pair=True)):
            with socket.socket() as s:
                s.bind(("127.0.0.1", port))

    def test_below_ephemeral_never_gives_a_port_twice(self):
        # The random pick made to land on the +1 of a pair handed out
        # before, then on the pair's port, then on a fresh one: only the
        # fresh one may come back (before, the +1 did: a CI run's Kafka
        # controller lost its port to a function server).
        pair = net.free_port_below_ephemeral(pair=True)
        fresh = net.free_port_below_ephemeral()
        net._given.discard(fresh)
        picks = iter([pair + 1, pair, fresh])
        real = net.random.randint
        net.random.randint = lambda lo, hi: next(picks)
        try:
            self.assertEqual(net.free_port_below_ephemeral(), fresh)
        finally:
            net.random.randint = real

    def test_request_once(self):
        class H(http.server.BaseHTTPRequestHandler):
            def do_POST(self):
                body = self.rfile.read(int(self.headers["Content-Length"]))
                self.send_response(201)
                self.send_header("Content-Length", str(len(body) + 1))
                self.end_headers()
                self.wfile.write(body + b"!")

            def log_message(self, *a):
                pass
        srv = http.server.HTTPServer(("127.0.0.1", 0), H)
        threading.Thread(target=srv.serve_forever, daemon=True).start()
        try:
            self.assertEqual(net.request_once(srv.server_port, "POST", "/x", b"hi"),
                             (201, b"hi!"))
        finally:
            srv.shutdown()
            srv.server_close()

    def test_keep_alive(self):
        """One connection per thread, reused; a server-side close is
        followed by a fresh connection."""
        class H(http.server.BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def do_GET(self):
                body = ("%d" % self.client_address[1]).encode()
                self.send_response(200)
                self.send_header("Content-Length", str(len(body)))
                if self.path == "/close":
                    self.send_header("Connection", "close")
                self.end_headers()
                self.wfile.write(body)

            def log_message(self, *a):
                pass
        srv = http.server.ThreadingHTTPServer(("127.0.0.1", 0), H)
        threading.Thread(target=srv.serve_forever, daemon=True).start()
        try:
            k = net.KeepAlive()
            port = srv.server_port
            a = k.request(port, "GET", "/")
            self.assertEqual((a[0], a[1]["content-length"]), (200, str(len(a[2]))))
            self.assertEqual(k.request(port, "GET", "/")[2], a[2], "the same connection")
            other = []
            t = threading.Thread(target=lambda: other.append(k.request(port, "GET", "/")[2]))
            t.start()
            t.join()
            self.assertNotEqual(other[0], a[2], "another thread, another connection")
            self.assertEqual(k.request(port, "GET", "/close")[2], a[2])
            self.assertNotEqual(k.request(port, "GET", "/")[2], a[2], "a new one after close")
        finally:
            srv.shutdown()
            srv.server_close()


class Procs(unittest.TestCase):
    def test_logged_proc(self):
        with tempfile.TemporaryDirectory() as d:
            p = procs.LoggedProc(os.path.join(d, "a.log"),
                                 [sys.executable, "-c",
                                  "print('up', flush=True); import time; time.sleep(60)"])
            self.assertTrue(p.alive())
            for _ in range(200):  # the child's first line, then stop it
                if p.text().endswith("up\n"):
                    break
                time.sleep(0.05)
            self.assertEqual(p.stop(timeout=10), -15)  # SIGTERM
            self.assertFalse(p.alive())
            self.assertTrue(p.text().startswith("$ %s -c" % sys.executable))
            self.assertEqual(p.tail(1), "up\n")

    def test_pause_resume(self):
        with tempfile.TemporaryDirectory() as d:
            p = procs.LoggedProc(os.path.join(d, "t.log"), [sys.executable, "-u", "-c",
                                 "import time\nwhile True: print('t'); time.sleep(0.01)"])
            try:
                for _ in range(200):
                    if p.text().count("t\n") >= 2:
                        break
                    time.sleep(0.05)
                p.pause()
                time.sleep(0.2)  # a tick being written when paused lands now
                paused = p.text()
                time.sleep(0.3)
                self.assertEqual(p.text(), paused, "no output while paused")
                p.resume()
                time.sleep(0.3)
                self.assertGreater(len(p.text()), len(paused))
                p.pause()
                self.assertEqual(p.stop(timeout=10), -15, "a paused child still stops")
            finally:
                p.kill9()

    def test_wait_port(self):
        with tempfile.TemporaryDirectory() as d:
            p = procs.LoggedProc(os.path.join(d, "b.log"), [sys.executable, "-c", "exit(3)"])
            p.p.wait()
            with self.assertRaisesRegex(checks.TestFailure, "^b exited with 3 before listening$"):
                procs.wait_port(net.free_port(), p.p, "b", fail=checks.TestFailure)
            p.stop()
        with socket.socket() as s:
            s.bind(("127.0.0.1", 0))
            s.listen()
            p = procs.LoggedProc(os.devnull, [sys.executable, "-c", "import time; time.sleep(60)"])
            try:
                procs.wait_port(s.getsockname()[1], p.p, "listener", timeout=5)
            finally:
                p.kill9()

    def test_sanitizer_lines(self):
        log = "ok\n==1==ERROR: AddressSanitizer: heap-use-after-free\nx.c:3:1: runtime error: shift\n"
        self.assertEqual(len(procs.sanitizer_lines(log)), 2)
        self.assertEqual(procs.sanitizer_lines("Sanitizer flags: on\n"), [])


class SfLocal(unittest.TestCase):
    def test_module_on_fn_port(self):
        env = sflocal.LocalEnv("pylib", "module")
        try:
            src = os.path.join(env.dir, "src.yaml")
            with open(src, "w") as f:
                f.write("urlPathTemplate: http://127.0.0.1:8000/statefun\n")
            with open(env.module_on_fn_port(src)) as f:
                self.assertEqual(f.read(), "urlPathTemplate: http://127.0.0.1:%d/statefun\n"
                                 % env.fn_port)
            with open(src, "w") as f:
                f.write("urlPathTemplate: http://example:9\n")
            with self.assertRaisesRegex(checks.TestFailure, "names no 127.0.0.1:8000"):
                env.module_on_fn_port(src)
        finally:
            shutil.rmtree(env.dir)

    def test_run_tests(self):
        """PASS with the note, FAIL with the seed and the reason; the
        passing test's directory is removed, the failing one's kept."""
        envs = []

        def make(name):
            envs.append(sflocal.LocalEnv("pylib", name))
            return envs[-1]

        def bad(env):
            checks.check(False, "wrong by %d", 2)
        out = io.StringIO()
        with contextlib.redirect_stdout(out):
            rc = sflocal.run_tests([("good", lambda env: "a note"), ("bad", bad),
                                    ("skipped", bad)], make, selected=["good", "bad"], seed=7)
        try:
            lines = out.getvalue().splitlines()
            self.assertEqual(rc, 1)
            self.assertRegex(lines[0], r"^PASS good +\d+\.\d\d s  a note$")
            self.assertRegex(lines[1], r"^FAIL bad +\d+\.\d\d s  \(seed 7\)$")
            self.assertEqual(lines[2], "  wrong by 2")
            self.assertRegex(lines[-1], r"^1 passed, 1 failed \(")
            self.assertEqual([e.name for e in envs], ["good", "bad"])
            self.assertFalse(os.path.exists(envs[0].dir))
            self.assertTrue(os.path.isdir(envs[1].dir))
        finally:
            for e in envs:
                shutil.rmtree(e.dir, ignore_errors=True)


if __name__ == "__main__":
    unittest.main()
