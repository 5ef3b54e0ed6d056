#!/usr/bin/env python3
"""Call stateful entities from outside, through sf-local (Python stdlib only).

    shopclient.py [--ingress URL] [--egress URL] [--ir IR.json]
                  ENTITY KEY METHOD [ARG...]

    shopclient.py User alice deposit 100
    shopclient.py User alice add_to_basket '["book","pen"]'
    shopclient.py User alice checkout

Each ARG is a JSON value (a bare word that is not JSON is taken as a
string), in the order of the method's parameters in the IR. Prints the
result as JSON, or the error on stderr (exit 1).

How a call travels (docs/entities.md, "Wire"):

  1. The method's Args record is encoded from the IR (protobuf wire:
     field numbers = parameter order, int32/int64 zig-zag, refs as their
     key string, lists as repeated fields, records as nested messages).
  2. It goes into a statefun.entities.Call {method, args, call_id, chain,
     request_id, reply_egress, reply_topic}, PUT to sf-local's ingress as
     /<ns>/<Entity>/<key> with Content-Type
     application/vnd.statefun.entities/Call.
  3. The entity answers with a statefun.entities.Reply, written by the
     runtime to the Kafka egress `reply_egress` (shop.io/replies), topic
     `reply_topic`, key = request_id. Every call here has its own topic,
     read back with GET <egress>/<topic>?wait=S.
  4. The Reply's result is the method's Result record {1: value}, decoded
     with the IR's result type.

As a module: ShopClient(ingress_port, egress_port).call("User", "alice",
"deposit", 100) -> Reply(ok, value, error, ...).
"""
import itertools
import json
import os
import struct
import sys
import time
import urllib.parse

HERE = os.path.dirname(os.path.abspath(__file__))
REPO = os.path.dirname(os.path.dirname(HERE))
SHOP_IR = os.path.join(REPO, "examples", "shopping-cart", "shop.ir.json")
CALL_TYPENAME = "statefun.entities/Call"
REPLY_EGRESS = "shop.io/replies"

sys.path.insert(0, os.path.join(REPO, "tests", "pylib"))
from sftest.net import KeepAlive  # noqa: E402
from sftest.wire import (I32, I64, LEN, VARINT, f_len, f_str,  # noqa: E402
                         f_varint, fields, key, read_varint, unzigzag,
                         zigzag)

# ---- the IR's types -----------------------------------------------------------

class Schema:
    """The records and methods of an entity IR, to encode Args and decode
    Results by the rules of docs/entities.md."""

    def __init__(self, path=SHOP_IR):
        with open(path) as f:
            ir = json.load(f)
        self.namespace = ir["namespace"]
        self.records = {r["name"]: [(x["name"], x["type"]) for x in r.get("fields", [])]
                        for r in ir.get("records", [])}
        self.methods = {}
        for e in ir["entities"]:
            for m in e.get("methods", []):
                self.methods[(e["name"], m["name"])] = (
                    [(p["name"], p["type"]) for p in m.get("params", [])],
                    m.get("result", "void"))

    # -- values of a type
    def zero(self, t):
        if t in ("int32", "int64"):
            return 0
        if t in ("float", "double"):
            return 0.0
        if t == "bool":
            return False
        if t in ("string",) or t.startswith("ref<"):
            return ""
        if t == "bytes":
            return b""
        if t.startswith("list<"):
            return []
        if t.startswith("map<"):
            return {}
        return {n: self.zero(ft) for n, ft in self.records[t]}

    def encode_field(self, field, t, v, always=False):
        """One field (or, for lists and maps, its occurrences)."""
        if t == "bool":
            return f_varint(field, 1 if v else 0, always)
        if t == "int32":
            return f_varint(field, zigzag(int(v), 32), always)
        if t == "int64":
            return f_varint(field, zigzag(int(v), 64), always)
        if t == "float":
            return key(field, I32) + struct.pack("<f", v) if (v or always) else b""
        if t == "double":
            return key(field, I64) + struct.pack("<d", v) if (v or always) else b""
        if t == "string" or t.startswith("ref<") or t == "bytes":
            return f_str(field, v, always)
        if t.startswith("list<"):
            inner = t[5:-1]
            out = b""
            for x in v:
                if inner.startswith(("list<", "map<")):  # wrapped: {1: value}
                    out += f_len(field, self.encode_field(1, inner, x, True))
                else:
                    out += self.encode_field(field, inner, x, True)
            return out
        if t.startswith("map<"):
            inner = t[4:-1]
            out = b""
            for k, x in v.items():
                val = self.encode_field(2, inner, x, True)
                if inner.startswith(("list<", "map<")):
                    val = f_len(2, self.encode_field(1, inner, x, True))
                out += f_len(field, f_str(1, k, True) + val)
            return out
        return f_len(field, self.encode_record(t, v))  # records: always written

    def encode_record(self, rec, v):
        return b"".join(self.encode_field(i, ft, v.get(n, self.zero(ft)))
                        for i, (n, ft) in enumerate(self.records[rec], 1))

    def decode_one(self, t, wt, raw):
        if t == "bool":
            return bool(raw)
        if t in ("int32", "int64"):
            if wt != VARINT:
                raise ValueError("%s: wire type %d" % (t, wt))
            v = unzigzag(raw)
            return v
        if t == "float":
            return struct.unpack("<f", raw)[0]
        if t == "double":
            return struct.unpack("<d", raw)[0]
        if t == "bytes":
            return bytes(raw)
        if t == "string" or t.startswith("ref<"):
            return bytes(raw).decode()
        if t.startswith(("list<", "map<")):  # a wrapped list/map: {1: value}
            return self.decode_fields(bytes(raw), [("v", t)])["v"]
        return self.decode_fields(bytes(raw), self.records[t])

    def decode_fields(self, buf, flds):
        """A message with fields `flds` [(name, type)] numbered 1..n."""
        out = {n: self.zero(t) for n, t in flds}
        for field, wt, raw in fields(buf):
            if not 1 <= field <= len(flds):
                continue  # unknown fields are skipped
            n, t = flds[field - 1]
            if t.startswith("list<"):
                inner = t[5:-1]
                if wt == LEN and inner in ("bool", "int32", "int64"):  # packed
                    j = 0
                    while j < len(raw):
                        x, j = read_varint(raw, j)
                        out[n].append(self.decode_one(inner, VARINT, x))
                elif wt == LEN and inner in ("float", "double"):
                    w = 4 if inner == "float" else 8
                    for j in range(0, len(raw), w):
                        out[n].append(self.decode_one(inner, None, raw[j:j + w]))
                else:
                    out[n].append(self.decode_one(inner, wt, raw))
            elif t.startswith("map<"):
                inner = t[4:-1]
                e = self.decode_fields(bytes(raw), [("k", "string"), ("v", inner)])
                out[n][e["k"]] = e["v"]
            else:
                out[n] = self.decode_one(t, wt, raw)
        return out

    # -- Args and Results
    def encode_args(self, entity, method, args):
        params, _ = self.methods[(entity, method)]
        if isinstance(args, dict):
            vals = [args.get(n, self.zero(t)) for n, t in params]
        else:
            if len(args) != len(params):
                raise TypeError("%s.%s takes %d argument(s) (%s), got %d" % (
                    entity, method, len(params), ", ".join(n for n, _ in params), len(args)))
            vals = list(args)
        return b"".join(self.encode_field(i, t, v)
                        for i, ((_, t), v) in enumerate(zip(params, vals), 1))

    def decode_result(self, entity, method, buf):
        _, result = self.methods[(entity, method)]
        if result == "void":
            return None
        return self.decode_fields(buf, [("value", result)])["value"]


# ---- envelopes --------------------------------------------------------------------

def encode_call(method, args, call_id, request_id, reply_egress, reply_topic, chain=""):
    """statefun.entities.Call (an external call: no reply_to)."""
    return (f_str(1, method) + f_str(2, args) + f_str(3, call_id) + f_str(5, chain)
            + f_str(6, request_id) + f_str(7, reply_egress) + f_str(8, reply_topic))


class Reply:
    def __init__(self, call_id="", ok=False, result=b"", error="", request_id=""):
        self.call_id, self.ok, self.result = call_id, ok, result
        self.error, self.request_id = error, request_id
        self.value = None   # the decoded result
        self.seq = None     # sf-local's egress sequence number (X-Seq)

    def __repr__(self):
        if self.ok:
            return "Reply(ok, %r)" % (self.value,)
        return "Reply(error %r)" % (self.error,)


def decode_reply(buf):
    r = Reply()
    for field, wt, v in fields(buf):
        if field == 1:
            r.call_id = bytes(v).decode()
        elif field == 2:
            r.ok = bool(v)
        elif field == 3:
            r.result = bytes(v)
        elif field == 4:
            r.error = bytes(v).decode()
        elif field == 5:
            r.request_id = bytes(v).decode()
    return r


# ---- the client ---------------------------------------------------------------------

class CallError(Exception):
    pass


class ShopClient:
    """Calls entities through sf-local: ingress (PUT) for the Call, egress
    (GET /<topic>?wait=) for the Reply. One HTTP connection per thread and
    port; thread-safe."""

    _ids = itertools.count(1)

    def __init__(self, ingress_port=8090, egress_port=8091, schema=None,
                 prefix=None, reply_egress=REPLY_EGRESS, host="127.0.0.1"):
        self.ingress_port, self.egress_port = ingress_port, egress_port
        self.schema = schema or Schema()
        self.prefix = prefix or "c%d-%d" % (os.getpid(), int(time.time() * 1000) % 100000000)
        self.reply_egress = reply_egress
        self.conns = KeepAlive(host)

    # -- HTTP
    def _request(self, port, method, path, body=None, headers=None, timeout=30):
        return self.conns.request(port, method, path, body, headers, timeout)

    def new_request_id(self):
        return "%s-%d" % (self.prefix, next(ShopClient._ids))

    # -- one call in two halves (so tests can act between them)
    def send(self, entity, key, method, *args, request_id=None, chain=""):
        """Sends the Call; returns its request_id (also the reply topic)."""
        rid = request_id or self.new_request_id()
        body = encode_call(method, self.schema.encode_args(entity, method, args),
                           call_id="ext:" + rid, request_id=rid,
                           reply_egress=self.reply_egress, reply_topic=rid, chain=chain)
        path = "/%s/%s/%s" % (self.schema.namespace, entity, urllib.parse.quote(key, safe=""))
        headers = {"Content-Type": "application/vnd." + CALL_TYPENAME,
                   "X-Idempotency-Key": rid}
        deadline = time.monotonic() + 30
        while True:
            st, _, data = self._request(self.ingress_port, "PUT", path, body, headers)
            if st in (200, 202):
                return rid
            if st != 503 or time.monotonic() > deadline:  # 503: backpressure
                raise CallError("PUT %s: HTTP %d %s" % (path, st, data[:300]))
            time.sleep(0.05)

    def receive(self, entity, method, request_id, wait=10.0):
        """Waits for the Reply of request_id (on its own topic)."""
        path = "/%s?wait=%g" % (urllib.parse.quote(request_id, safe=""), min(wait, 60))
        st, hdrs, data = self._request(self.egress_port, "GET", path, timeout=wait + 30)
        if st == 404:
            raise CallError("no reply to %s.%s (request %s) within %g s"
                            % (entity, method, request_id, wait))
        if st != 200:
            raise CallError("GET %s: HTTP %d %s" % (path, st, data[:300]))
        if hdrs.get("x-key") != request_id:
            raise CallError("reply on topic %s has key %r, expected %r"
                            % (request_id, hdrs.get("x-key"), request_id))
        r = decode_reply(data)
        if r.request_id != request_id:
            raise CallError("reply carries request_id %r, expected %r" % (r.request_id, request_id))
        try:
            r.seq = int(hdrs.get("x-seq", ""))
        except ValueError:
            pass
        if r.ok:
            r.value = self.schema.decode_result(entity, method, r.result)
        return r

    def poll_extra(self, request_id):
        """A second record on a request's topic (there must be none): its
        bytes, or None."""
        st, _, data = self._request(self.egress_port, "GET",
                                    "/" + urllib.parse.quote(request_id, safe=""))
        return data if st == 200 else None

    def call(self, entity, key, method, *args, wait=10.0):
        """Sends and waits: the Reply (ok, value, error)."""
        rid = self.send(entity, key, method, *args)
        return self.receive(entity, method, rid, wait)

    def value(self, entity, key, method, *args, wait=10.0):
        """call(), then the value; CallError when the method failed."""
        r = self.call(entity, key, method, *args, wait=wait)
        if not r.ok:
            raise CallError("%s/%s.%s failed: %s" % (entity, key, method, r.error))
        return r.value


def main(argv):
    import argparse
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0],
                                 formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--ingress", default="http://127.0.0.1:8090")
    ap.add_argument("--egress", default="http://127.0.0.1:8091")
    ap.add_argument("--ir", default=SHOP_IR)
    ap.add_argument("--wait", type=float, default=10.0)
    ap.add_argument("entity")
    ap.add_argument("key")
    ap.add_argument("method")
    ap.add_argument("args", nargs="*")
    a = ap.parse_args(argv)
    ing, egr = urllib.parse.urlsplit(a.ingress), urllib.parse.urlsplit(a.egress)
    args = []
    for s in a.args:
        try:
            args.append(json.loads(s))
        except ValueError:
            args.append(s)
    client = ShopClient(ing.port or 80, egr.port or 80, Schema(a.ir), host=ing.hostname)
    if (a.entity, a.method) not in client.schema.methods:
        ap.error("the IR has no method %s.%s" % (a.entity, a.method))
    r = client.call(a.entity, a.key, a.method, *args, wait=a.wait)
    if not r.ok:
        print("error: %s" % r.error, file=sys.stderr)
        return 1
    print(json.dumps(r.value))
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
