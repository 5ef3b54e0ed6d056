#!/usr/bin/env python3
"""run_tls.py - HTTPS and mutual TLS of the function server and of sf-local's
calls, with a certificate authority made for the run (make_ca.sh, openssl).

    run_tls.py --greeter BIN --sf-local BIN --sf-local-check BIN [-k NAME]...

Each test starts its own processes on free loopback ports and stops them.
What is asserted: a client that trusts the CA is served over HTTPS; one
that does not, or that speaks plain HTTP, is not; with --tls-client-ca a
client without a certificate, or with one from another CA, gets no HTTP
answer at all (the TLS handshake fails, TLS 1.2 and 1.3); bad TLS files
stop the server with a sentence naming the file; sf-local calls the
greeter over https with mTLS from module.yaml (encrypted PKCS#8 key and
password file, as Flink's transport takes them) and cannot with a rogue
certificate; sf-local-check refuses keys Flink cannot read.
"""
import argparse
import http.client
import json
import os
import re
import ssl
import subprocess
import sys
import tempfile
import time
import urllib.request

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.join(HERE, "..", "pylib"))
from sftest.checks import Tally, TestFailure, check  # noqa: E402
from sftest.net import free_port  # noqa: E402
from sftest.procs import SANITIZER_RE, LoggedProc  # noqa: E402
from sftest.sflocal import sf_local_ports  # noqa: E402

ARGS = None
CA = None  # the directory of make_ca.sh's files


def ca(name):
    return os.path.join(CA, name)


PROCS = []  # the current test's children, stopped after it


def start(argv, name):
    """A child logging to <CA>/<name>-<ns>.log, stopped after the test."""
    p = LoggedProc(os.path.join(CA, "%s-%d.log" % (name, time.monotonic_ns())), argv)
    PROCS.append(p)
    return p


def client_ctx(trust=True, cert=None, key=None, password=None, tls12=False):
    ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
    if trust:
        ctx.load_verify_locations(ca("ca.pem"))
    else:
        ctx.load_default_certs()
    if cert:
        ctx.load_cert_chain(ca(cert), ca(key), password=password)
    if tls12:
        ctx.maximum_version = ssl.TLSVersion.TLSv1_2
    return ctx


def https_get(port, path, ctx, host="localhost"):
    """(status, body) of one GET over TLS; raises on a TLS or socket error."""
    c = http.client.HTTPSConnection(host, port, context=ctx, timeout=5)
    try:
        c.request("GET", path)
        r = c.getresponse()
        return r.status, r.read()
    finally:
        c.close()


def greeter(port, *tls):
    p = start([ARGS.greeter, "--listen", "127.0.0.1:%d" % port, "--threads", "2"]
              + list(tls), "greeter")
    deadline = time.monotonic() + 10
    while time.monotonic() < deadline:
        check(p.p.poll() is None, "greeter exited early: %s", p.text())
        if "serving" in p.text():
            return p
        time.sleep(0.05)
    raise TestFailure("greeter did not start: " + p.text())


def server_tls(client_ca=False):
    a = ["--tls-cert", ca("server.pem"), "--tls-key", ca("server.key")]
    return a + (["--tls-client-ca", ca("ca.pem")] if client_ca else [])


def refused(port, ctx, what):
    """The connection gets no HTTP answer: the handshake or the first read
    fails. Returns the exception's text."""
    try:
        st, body = https_get(port, "/health", ctx)
    except (ssl.SSLError, ConnectionError, http.client.HTTPException, OSError) as e:
        return "%s: %s" % (type(e).__name__, e)
    raise TestFailure("%s: served with HTTP %d %r" % (what, st, body[:100]))


# ---- the tests ------------------------------------------------------------------

TESTS = []


def test(fn):
    TESTS.append(fn)
    return fn


@test
def server_https():
    port = free_port()
    g = greeter(port, *server_tls())
    check("on https://127.0.0.1:%d/" % port in g.text(),
          "start-up line without https: %s", g.text())
    st, body = https_get(port, "/health", client_ctx())
    check(st == 200 and body == b"ok", "GET /health over https: %d %r", st, body)
    st, body = https_get(port, "/health", client_ctx(), host="127.0.0.1")
    check(st == 200, "GET /health by IP: %d", st)
    # A client that does not trust the test CA refuses the server.
    try:
        https_get(port, "/health", client_ctx(trust=False))
        raise TestFailure("a client without the CA accepted the server")
    except ssl.SSLCertVerificationError:
        pass
    # Plain HTTP on the TLS port gets no HTTP answer.
    c = http.client.HTTPConnection("127.0.0.1", port, timeout=5)
    try:
        c.request("GET", "/health")
        r = c.getresponse()
        raise TestFailure("plain HTTP was answered %d" % r.status)
    except (http.client.HTTPException, ConnectionError, OSError):
        pass
    finally:
        c.close()
    # No client CA: a client certificate is not needed (and not refused).
    st, _ = https_get(port, "/health", client_ctx(cert="rogue.pem", key="rogue.key"))
    check(st == 200, "server without --tls-client-ca refused a client cert: %d", st)


@test
def server_mtls():
    port = free_port()
    g = greeter(port, *server_tls(client_ca=True))
    check("client certificates required" in g.text(), "start-up line: %s", g.text())
    for tls12 in (False, True):
        v = "TLS 1.2" if tls12 else "TLS 1.3"
        st, body = https_get(port, "/health", client_ctx(cert="client.pem", key="client.key",
                                                         tls12=tls12))
        check(st == 200 and body == b"ok", "%s client with a CA certificate: %d %r", v, st, body)
        st, _ = https_get(port, "/health", client_ctx(cert="client.pem", key="client-enc.key",
                                                      password="secret-pw", tls12=tls12))
        check(st == 200, "%s client with the encrypted key: %d", v, st)
        why = refused(port, client_ctx(tls12=tls12), "%s client without a certificate" % v)
        print("    %s, no certificate: %s" % (v, why))
        why = refused(port, client_ctx(cert="rogue.pem", key="rogue.key", tls12=tls12),
                      "%s client with another CA's certificate" % v)
        print("    %s, other CA: %s" % (v, why))
    # A StateFun POST is served to a verified client (400: an empty body is
    # not a ToFunction - it got past TLS to the handler).
    c = http.client.HTTPSConnection("localhost", port, timeout=5,
                                    context=client_ctx(cert="client.pem", key="client.key"))
    c.request("POST", "/statefun", body=b"", headers={"Content-Type": "application/octet-stream"})
    r = c.getresponse()
    check(r.status == 400, "POST by a verified client: %d", r.status)
    c.close()
    check(g.p.poll() is None, "the server died")


def start_fails(args, want, what):
    p = subprocess.run([ARGS.greeter, "--listen", "127.0.0.1:0"] + args,
                       capture_output=True, text=True, timeout=20)
    check(p.returncode == 2, "%s: exit %d (want 2): %s", what, p.returncode, p.stderr)
    check(re.search(want, p.stderr), "%s: stderr %r lacks /%s/", what, p.stderr, want)
    check(not re.search(r"Sanitizer|runtime error:", p.stderr), "%s: %s", what, p.stderr)
    print("    %s: %s" % (what, p.stderr.strip().splitlines()[0]))


@test
def server_bad_files():
    start_fails(["--tls-cert", ca("nope.pem"), "--tls-key", ca("server.key")],
                r"cannot read --tls-cert '.*nope\.pem': No such file", "missing cert")
    start_fails(["--tls-cert", ca("server.pem"), "--tls-key", ca("client.key")],
                r"--tls-key '.*client\.key' does not belong to the certificate in "
                r"--tls-cert '.*server\.pem'", "key of another certificate")
    start_fails(["--tls-cert", ca("server.pem")], r"--tls-cert needs --tls-key too",
                "cert without key")
    start_fails(["--tls-client-ca", ca("ca.pem")], r"--tls-client-ca needs --tls-cert",
                "client CA without cert")
    start_fails(["--tls-cert", ca("server.key"), "--tls-key", ca("server.key")],
                r"--tls-cert '.*server\.key' holds no PEM certificate", "key as cert")
    start_fails(["--tls-cert", ca("server.pem"), "--tls-key", ca("client-enc.key")],
                r"encrypted keys are not supported", "encrypted key")
    start_fails(["--tls-cert", ca("server.pem"), "--tls-key", ca("server.key"),
                 "--tls-client-ca", "/dev/null"],
                r"cannot read --tls-client-ca '/dev/null': the file is empty", "empty CA")


def module(port, cert, key, password=True, name="module.yaml"):
    lines = ["kind: io.statefun.endpoints.v2/http", "spec:",
             "  functions: greeter.fns/*",
             "  urlPathTemplate: https://localhost:%d/statefun/{function.name}" % port,
             "  transport:", "    call: 4s",
             "    trust_cacerts: " + ca("ca.pem"),
             "    client_cert: file:" + ca(cert),
             "    client_key: " + ca(key)]
    if password:
        lines.append("    client_key_password: " + ca("client-key-password"))
    lines += ["---", "kind: io.statefun.kafka.v1/egress", "spec:",
              "  id: greeter.io/greetings", "  address: kafka:9092"]
    path = ca(name)
    with open(path, "w") as f:
        f.write("\n".join(lines) + "\n")
    return path


def sflocal(mod):
    p = start([ARGS.sf_local, "--module", mod, "--ingress-port", "0", "--egress-port", "0"],
              "sf-local")
    return (p,) + sf_local_ports(p, timeout=10)


def greet(ingress, name):
    req = urllib.request.Request("http://127.0.0.1:%d/greeter.fns/greet/%s" % (ingress, name),
                                 data=('"%s"' % name).encode(), method="POST",
                                 headers={"Content-Type": "application/json"})
    with urllib.request.urlopen(req, timeout=5) as r:
        check(r.status in (200, 202), "send: %d", r.status)


def pop(egress, wait):
    try:
        with urllib.request.urlopen("http://127.0.0.1:%d/greetings?wait=%g" % (egress, wait),
                                    timeout=wait + 10) as r:
            return r.read().decode() if r.status == 200 else None
    except urllib.error.HTTPError as e:
        check(e.code == 404, "egress pop: %d", e.code)
        return None


@test
def sflocal_mtls():
    port = free_port()
    greeter(port, *server_tls(client_ca=True))
    sl, ingress, egress = sflocal(module(port, "client.pem", "client-enc.key"))
    greet(ingress, "Alice")
    got = pop(egress, 10)
    check(got == "Hello, Alice! You have been here 1 time(s).", "greeting over mTLS: %r", got)
    # The same module with a certificate from another CA: the call fails
    # (and is retried), nothing reaches the function.
    sl2, ingress2, egress2 = sflocal(module(port, "rogue.pem", "rogue.key", password=False,
                                            name="rogue.yaml"))
    greet(ingress2, "Mallory")
    got = pop(egress2, 3)
    check(got is None, "a rogue client's call went through: %r", got)
    with urllib.request.urlopen("http://127.0.0.1:%d/greeter.fns/greet/Mallory" % ingress2,
                                timeout=5) as r:
        view = json.loads(r.read())
    check(view["batches"] == 0 and view["queued"] == 1 and view["failures"] >= 1
          and view["last_error"], "rogue client's address: %s", view)
    print("    rogue client: %d failed attempt(s), last error %r"
          % (view["failures"], view["last_error"]))


@test
def check_keys():
    """sf-local-check: keys Flink's Netty client cannot read."""
    port = free_port()
    subprocess.run(["openssl", "pkey", "-in", ca("client.key"), "-traditional",
                    "-out", ca("client-trad.key")], check=True, capture_output=True)
    for key, pw, want in (
            ("client-trad.key", False, r"holds no PKCS#8 PEM private key"),
            ("client-enc.key", False, r"is encrypted: give the file holding its password")):
        mod = module(port, "client.pem", key, password=pw, name="check.yaml")
        p = subprocess.run([ARGS.sf_local_check, mod], capture_output=True, text=True)
        check(p.returncode == 2 and re.search(r"check\.yaml:9:17: client_key ", p.stderr)
              and re.search(want, p.stderr), "sf-local-check on %s: %d %s", key,
              p.returncode, p.stderr)
        print("    %s" % p.stderr.strip())
    mod = module(port, "client.pem", "client-enc.key", name="check.yaml")
    p = subprocess.run([ARGS.sf_local_check, mod], capture_output=True, text=True)
    check(p.returncode == 0 and "mTLS as " in p.stdout, "good module: %d %s %s",
          p.returncode, p.stdout, p.stderr)
    # Over http:// Flink ignores the TLS keys (Endpoint.useTls), and so does
    # sf-local: files that do not exist are no error.
    with open(mod) as f:
        text = f.read().replace("https://", "http://").replace(CA, "/nonexistent")
    with open(mod, "w") as f:
        f.write(text)
    p = subprocess.run([ARGS.sf_local_check, mod], capture_output=True, text=True)
    check(p.returncode == 0 and "mTLS" not in p.stdout, "http:// with TLS keys: %d %s %s",
          p.returncode, p.stdout, p.stderr)


def main():
    global ARGS, CA
    ap = argparse.ArgumentParser()
    ap.add_argument("--greeter", required=True)
    ap.add_argument("--sf-local", required=True)
    ap.add_argument("--sf-local-check", required=True)
    ap.add_argument("-k", action="append", default=[])
    ARGS = ap.parse_args()
    CA = tempfile.mkdtemp(prefix="sf-tls-")
    subprocess.run([os.path.join(HERE, "make_ca.sh"), CA], check=True)
    tally = Tally()
    for t in TESTS:
        if ARGS.k and t.__name__ not in ARGS.k:
            continue
        ok = tally.run(t.__name__, t)
        for p in PROCS:
            p.stop(timeout=10)
            if not ok:
                print("  ---- %s:\n%s" % (p.log_path, p.text()[-1500:]))
            if SANITIZER_RE.search(p.text()):
                print("FAIL %s: sanitizer report in %s" % (t.__name__, p.log_path))
                tally.add(False)
        PROCS.clear()
    print(tally.summary())
    return tally.exit_code()

if __name__ == "__main__":
    sys.exit(main())
