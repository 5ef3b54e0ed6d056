"""What the SDK-app tests share (tests/sdkapps/run_app.py on sf-local,
tests/e2e/run_e2e_parity.py on sf-local and real Flink): starting an
official-SDK app server and sf-local, talking to sf-local's HTTP ingress
and egress (docs/sf-local-http.md), and the app's Kafka-topic scenario with
the records it must produce.

Python stdlib only (plus tests/e2e/e2elib.py for ports and wire helpers), so
it runs in the SDK venv and in the e2e venv alike.
"""
import json
import os
import subprocess
import sys
import time
import urllib.error
import urllib.request

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.abspath(os.path.join(HERE, "..", ".."))
sys.path.insert(0, os.path.join(ROOT, "tests", "e2e"))
from e2elib import Failure, free_port, log, string_wrapper  # noqa: E402,F401 (re-exported)
from sftest import procs  # noqa: E402 (on sys.path through e2elib)
from sftest.wire import f_str, f_varint  # noqa: E402

APPS = {"python": "pyapp", "js": "jsapp"}


def module_text(lang, app_port, kafka=None):
    """The app's own module.yaml, pointed at the app's port (and, for Flink,
    at the test's Kafka broker). Nothing else changes."""
    with open(os.path.join(HERE, lang, "module.yaml")) as f:
        text = f.read()
    text = text.replace("http://127.0.0.1:8000/", "http://127.0.0.1:%d/" % app_port)
    if kafka:
        text = text.replace("address: kafka:9092", "address: " + kafka)
    return text


# The kinds the plain StateFun 3.3 distribution binds (the playground's
# ingress/egress are bound only by the playground image's entry point, which
# is not published; Kinesis needs AWS): a Flink run loads the app's module
# without those documents.
FLINK_SKIPS = ("io.statefun.playground.v1/", "io.statefun.kinesis.v1/")


def flink_documents(text):
    """The documents of a multi-document module.yaml that a Flink run of
    this suite loads, and the kinds left out."""
    kept, left = [], []
    for doc in text.split("\n---\n"):
        kind = next((l.split(":", 1)[1].strip() for l in doc.splitlines()
                     if l.startswith("kind:")), "")
        if kind.startswith(FLINK_SKIPS):
            left.append(kind)
        else:
            kept.append(doc)
    return "\n---\n".join(kept) + "\n", left


# ---- processes --------------------------------------------------------------------
def wait_port(port, proc, what, timeout=30):
    procs.wait_port(port, proc, what, timeout, fail=Failure)


class Proc(procs.LoggedProc):
    """A child process with its output in <log_dir>/<name>.log."""

    def __init__(self, name, argv, log_dir, env=None):
        self.name = name
        super().__init__(os.path.join(log_dir, name + ".log"), argv, env)
        self.proc = self.p

    def stop(self):
        """SIGTERM (SIGKILL after 10 s); returns the exit status."""
        super().stop(10)
        return self.p.returncode


def sdk_python():
    return subprocess.check_output(
        ["bash", os.path.join(ROOT, "scripts", "python-env.sh")], text=True).strip()


def node_modules():
    return subprocess.check_output(
        ["bash", os.path.join(ROOT, "scripts", "node-env.sh")], text=True).strip()


def start_app(lang, log_dir):
    """The official-SDK app of `lang` on a free port: (Proc, port)."""
    port = free_port()
    if lang == "python":
        argv = [sdk_python(), os.path.join(HERE, "python", "app.py"), "--port", str(port)]
        env = None
    else:
        argv = ["node", os.path.join(HERE, "js", "app.js"), "--port", str(port)]
        env = dict(os.environ, NODE_PATH=node_modules())
    p = Proc(lang + "-app", argv, log_dir, env)
    wait_port(port, p.proc, p.name)
    return p, port


class SfLocal:
    """sf-local on free ports with a module file; HTTP helpers."""

    def __init__(self, binary, module_path, log_dir, name="sf-local"):
        self.ingress = free_port()
        self.egress = free_port()
        while self.egress == self.ingress:
            self.egress = free_port()
        self.p = Proc(name, [binary, "--module", module_path,
                             "--ingress-port", str(self.ingress),
                             "--egress-port", str(self.egress)], log_dir)
        deadline = time.time() + 30
        while True:
            try:
                self.get(self.ingress, "/health")
                break
            except Exception:
                if self.p.proc.poll() is not None or time.time() > deadline:
                    raise Failure("sf-local did not start:\n" + self.p.tail())
                time.sleep(0.1)

    def stop(self):
        """Stops sf-local; its exit status (0: a clean stop, nothing the
        sanitizers of an ASan build reported)."""
        return self.p.stop()

    @staticmethod
    def _call(req, timeout):
        try:
            with urllib.request.urlopen(req, timeout=timeout) as r:
                return r.status, r.read()
        except urllib.error.HTTPError as e:
            return e.code, e.read()

    def get(self, port, path, timeout=70):
        return self._call(urllib.request.Request(
            "http://127.0.0.1:%d%s" % (port, path)), timeout)

    def send(self, path, body, ctype=None, headers=None):
        """PUT/POST on the ingress; fails unless 2xx."""
        h = dict(headers or {})
        if ctype is not None:
            h["Content-Type"] = ctype
        req = urllib.request.Request("http://127.0.0.1:%d%s" % (self.ingress, path),
                                     data=body, method="POST", headers=h)
        status, out = self._call(req, 30)
        if status // 100 != 2:
            raise Failure("sf-local ingress %s -> %d %s" % (path, status, out.decode(errors="replace")))

    def put_json(self, target, value, type_=None):
        q = "?type=" + type_ if type_ else ""
        self.send("/%s%s" % (target, q), json.dumps(value).encode(), "application/json")

    def put_typed(self, target, typename, body):
        self.send("/" + target, body, "application/vnd." + typename)

    def post_topic(self, topic, key, body):
        self.send("/topics/" + topic, body, headers={"X-Key": key})

    def pop(self, topic, wait=10):
        """GET /<topic> on the egress (playground style): the payload, or None."""
        status, body = self.get(self.egress, "/%s?wait=%g" % (topic, wait))
        if status == 404:
            return None
        if status != 200:
            raise Failure("GET :egress/%s -> %d %s" % (topic, status, body.decode(errors="replace")))
        return body.decode()

    def records(self, egress_id, topic, wait=0.5, max_n=10000):
        """Reads (consumes) the records of one egress and topic: [(key, value)]."""
        status, body = self.get(self.egress, "/egress/%s/%s?wait=%g&max=%d" % (
            egress_id, topic, wait, max_n))
        if status == 204:
            return []
        if status != 200:
            raise Failure("egress %s/%s -> %d %s" % (egress_id, topic, status,
                                                     body.decode(errors="replace")))
        return [(r.get("key", ""), r["value"]) for r in
                (json.loads(l) for l in body.decode().splitlines() if l.strip())]


# ---- the Kafka-topic scenario of an app (sf-local and Flink) ----------------------
def order_bytes(oid, item, qty):
    """sdkapps.Order{id=1, item=2, qty=3} in protobuf wire format."""
    return f_str(1, oid, True) + f_str(2, item, True) + f_varint(3, qty, True)


def kafka_scenario(ns):
    """(inputs, expected): inputs are (topic, key, value bytes) in send order;
    expected maps each egress key of topic <ns>-out to its records in order,
    as the app's contract (tests/sdkapps/README.md) says."""
    inputs = [
        (ns + "-orders", "o-1", order_bytes("o-1", "book", 2)),
        (ns + "-orders", "o-1", order_bytes("o-1", "pen", 1)),
        (ns + "-orders", "o-2", order_bytes("o-2", "ink", 5)),
        # re-arm: the 5 s timer is cancelled and replaced (same token) by 300 ms
        (ns + "-timers", "t-1", string_wrapper("arm:5000")),
        (ns + "-timers", "t-1", string_wrapper("arm:300")),
    ]
    expected = {
        "o-1": ["order o-1 #1: 2 x book (previous: none)",
                "order o-1 #2: 1 x pen (previous: book)"],
        "o-2": ["order o-2 #1: 5 x ink (previous: none)"],
        # each order re-arms the order's timer (3 s): one fire after the last
        "o-1/timer": ["fired 2 after 2 arm(s)"],
        "o-2/timer": ["fired 1 after 1 arm(s)"],
        "t-1/timer": ["fired 2 after 2 arm(s)"],
    }
    return inputs, expected


# Every timer of the scenario (5 s the longest, cancelled) is due by then.
SCENARIO_QUIET_SECONDS = 6.0


def by_key(records):
    out = {}
    for k, v in records:
        out.setdefault(k, []).append(v)
    return out


def diff_by_key(a, b, name_a, name_b):
    """Lines describing every key whose record list differs (order counts)."""
    lines = []
    for k in sorted(set(a) | set(b)):
        if a.get(k, []) != b.get(k, []):
            lines.append("key %r:\n      %-9s %r\n      %-9s %r" % (
                k, name_a, a.get(k, []), name_b, b.get(k, [])))
    return lines
