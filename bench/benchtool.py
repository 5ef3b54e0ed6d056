#!/usr/bin/env python3
"""Helpers for bench/run.sh, built on the official SDK's own protobuf classes
(statefun.request_reply_pb2) so that every server gets byte-identical bodies.

  benchtool.py make-requests --out DIR [--batches 1,10,100] [--id bench] [--seen 5]
      Writes DIR/body-<N>.bin: a ToFunction for greeter.fns/greet/<id> with
      the state `seen` attached (io.statefun.types/int, value --seen) and N
      invocations, each a StringWrapper argument. Because `seen` is present
      and > 2, every invocation takes the common path (increment + Kafka
      egress record); no missing-state round trip, no delayed message.
  benchtool.py expect-reply --body F --out F
      The reply the official Python SDK computes for body F (no HTTP), used
      as the fixed reply of the bare libmicrohttpd server so that it sends
      as many bytes back as the real servers.
  benchtool.py check --url URL --body F [--exact REPLYFILE]
      POSTs F once and fails (exit 1, reason on stderr) unless the answer is
      200 application/octet-stream holding an invocation_result with the
      MODIFY of `seen` to seen+N and N Kafka egress records greeting <id>
      ("Hello, <id>! You have been here <seen+i> time(s).", as greet.c)
      (with --exact: unless the bytes equal REPLYFILE).
  benchtool.py free-port
  benchtool.py table --results FILE.tsv [--out FILE]
      Prints the comparison table of the measurements in FILE.tsv.
"""
import argparse
import os
import sys
import urllib.request

from statefun.kafka_egress_pb2 import KafkaProducerRecord
from statefun.request_reply_pb2 import FromFunction, ToFunction
from statefun.types_pb2 import IntWrapper, StringWrapper

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "tests", "pylib"))
from sftest.net import free_port  # noqa: E402

FN_NS, FN_TYPE = "greeter.fns", "greet"
INT_T = "io.statefun.types/int"
STRING_T = "io.statefun.types/string"
KAFKA_T = "type.googleapis.com/io.statefun.sdk.egress.KafkaProducerRecord"


def make_body(n, fid, seen):
    tf = ToFunction()
    batch = tf.invocation
    batch.target.namespace = FN_NS
    batch.target.type = FN_TYPE
    batch.target.id = fid
    pv = batch.state.add()
    pv.state_name = "seen"
    pv.state_value.typename = INT_T
    pv.state_value.has_value = True
    pv.state_value.value = IntWrapper(value=seen).SerializeToString()
    for i in range(n):
        inv = batch.invocations.add()  # from an ingress: no caller
        inv.argument.typename = STRING_T
        inv.argument.has_value = True
        inv.argument.value = StringWrapper(
            value=f"visitor-{i:03d}").SerializeToString()
    return tf.SerializeToString()


def cmd_make_requests(a):
    os.makedirs(a.out, exist_ok=True)
    for n in (int(x) for x in a.batches.split(",")):
        path = os.path.join(a.out, f"body-{n}.bin")
        with open(path, "wb") as f:
            f.write(make_body(n, a.id, a.seen))


def cmd_expect_reply(a):
    sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
    import python_greeter  # the same logic, the official SDK's handler
    with open(a.body, "rb") as f:
        body = f.read()
    reply = python_greeter.handler.handle_sync(body)
    check_reply(body, reply)
    with open(a.out, "wb") as f:
        f.write(reply)


class Bad(Exception):
    pass


def check_reply(body, reply):
    req = ToFunction()
    req.ParseFromString(body)
    inv = req.invocation
    n = len(inv.invocations)
    seen0 = IntWrapper.FromString(inv.state[0].state_value.value).value
    fid = inv.target.id
    ff = FromFunction()
    try:
        ff.ParseFromString(reply)
    except Exception as e:
        raise Bad(f"reply does not parse as FromFunction: {e}")
    if ff.WhichOneof("response") != "invocation_result":
        raise Bad(f"reply is {ff.WhichOneof('response')!r}, "
                  "not an invocation_result")
    r = ff.invocation_result
    if len(r.state_mutations) != 1:
        raise Bad(f"{len(r.state_mutations)} state mutations, expected 1")
    m = r.state_mutations[0]
    if (m.state_name != "seen" or m.mutation_type != m.MODIFY
            or m.state_value.typename != INT_T):
        raise Bad(f"unexpected state mutation: {m}")
    got = IntWrapper.FromString(m.state_value.value).value
    if got != seen0 + n:
        raise Bad(f"seen set to {got}, expected {seen0 + n}")
    if len(r.outgoing_egresses) != n:
        raise Bad(f"{len(r.outgoing_egresses)} egress records, expected {n}")
    for i, e in enumerate(r.outgoing_egresses):
        if (e.egress_namespace, e.egress_type) != ("greeter.io", "greetings"):
            raise Bad(f"egress to {e.egress_namespace}/{e.egress_type}")
        if e.argument.typename != KAFKA_T:
            raise Bad(f"egress value typename {e.argument.typename}")
        rec = KafkaProducerRecord.FromString(e.argument.value)
        if rec.topic != "greetings" or rec.key != fid:
            raise Bad(f"kafka record topic={rec.topic!r} key={rec.key!r}")
        want = f"Hello, {fid}! You have been here {seen0 + i + 1} time(s)."
        if rec.value_bytes != want.encode():
            raise Bad(f"kafka record {i} value {rec.value_bytes[:80]!r}, "
                      f"expected {want!r}")
    if len(r.delayed_invocations) or len(r.outgoing_messages):
        raise Bad("unexpected messages or delayed messages")
    return n


def post(url, body):
    req = urllib.request.Request(
        url, data=body, method="POST",
        headers={"Content-Type": "application/octet-stream"})
    with urllib.request.urlopen(req, timeout=30) as resp:
        return resp.status, resp.headers.get("Content-Type", ""), resp.read()


def cmd_check(a):
    with open(a.body, "rb") as f:
        body = f.read()
    try:
        try:
            status, ctype, reply = post(a.url, body)
        except Exception as e:
            raise Bad(f"POST {a.url} failed: {e}")
        if status != 200:
            raise Bad(f"HTTP {status}")
        if "application/octet-stream" not in ctype.lower():
            raise Bad(f"Content-Type {ctype!r}")
        n = check_reply(body, reply)
        if a.exact:
            with open(a.exact, "rb") as f:
                if f.read() != reply:
                    raise Bad("reply bytes differ from the expected reply")
    except Bad as e:
        print(f"check FAILED ({a.url}, {os.path.basename(a.body)}): {e}",
              file=sys.stderr)
        return 1
    if a.same_as:
        with open(a.same_as, "rb") as f:
            same = f.read() == reply
        print(f"ok: {n} invocations, reply {len(reply)} bytes, "
              f"{'byte-identical to' if same else 'differs in bytes from'}"
              " the official SDK's reply")
    else:
        print(f"ok: {n} invocations, reply {len(reply)} bytes")
    return 0


def cmd_free_port(a):
    print(free_port())


def cmd_table(a):
    runs = {}  # (server, batch) -> list of runs, in file order
    order = []
    with open(a.results) as f:
        for line in f:
            if not line.strip() or line.startswith("#"):
                continue
            f = line.rstrip("\n").split("\t")
            server, batch, rps, p50, p99, reqs, errs = f[:7]
            cpu = float(f[7]) if len(f) > 7 else 0.0
            key = (server, int(batch))
            if key not in runs:
                runs[key] = []
                order.append(key)
            runs[key].append(dict(rps=float(rps), p50=float(p50),
                                  p99=float(p99), errs=int(errs), cpu=cpu))

    def med(xs):
        xs = sorted(xs)
        n = len(xs)
        return xs[n // 2] if n % 2 else (xs[n // 2 - 1] + xs[n // 2]) / 2

    rows = {}
    for key, rs in runs.items():
        rows[key] = dict(rps=med([r["rps"] for r in rs]),
                         p50=med([r["p50"] for r in rs]),
                         p99=med([r["p99"] for r in rs]),
                         errs=sum(r["errs"] for r in rs),
                         cpu=med([r["cpu"] for r in rs]),
                         lo=min(r["rps"] for r in rs),
                         hi=max(r["rps"] for r in rs), n=len(rs))
    multi = any(r["n"] > 1 for r in rows.values())
    hdr = (f"{'server':<10}{'batch':>6}{'requests/s':>12}"
           + (f"{'(min-max)':>18}" if multi else "")
           + f"{'invocations/s':>15}{'p50 ms':>9}{'p99 ms':>9}{'errors':>8}"
           f"{'CPU us/req':>12}  ratio (req/s) [CPU/req]")
    out = [hdr, "-" * len(hdr)]
    for batch in sorted({b for _, b in order}):
        o = rows.get(("ours", batch))
        for key in [k for k in order if k[1] == batch]:
            r = rows[key]
            server = key[0]
            if server == "ours" or not o or r["rps"] == 0:
                ratio = ""
            else:
                ratio = f"ours/{server} = {o['rps'] / r['rps']:.2f}x"
                if o["cpu"] > 0 and r["cpu"] > 0:
                    ratio += f" [{r['cpu'] / o['cpu']:.2f}x]"
            spread = (f"{r['lo']:>9,.0f}-{r['hi']:<8,.0f}" if multi else "")
            out.append(f"{server:<10}{batch:>6}{r['rps']:>12,.0f}{spread}"
                       f"{r['rps'] * batch:>15,.0f}{r['p50']:>9.2f}"
                       f"{r['p99']:>9.2f}{r['errs']:>8}{r['cpu']:>12.1f}"
                       f"  {ratio}")
        out.append("")
    print("\n".join(out).rstrip("\n"))


def main():
    ap = argparse.ArgumentParser()
    sub = ap.add_subparsers(dest="cmd", required=True)
    p = sub.add_parser("make-requests")
    p.add_argument("--out", required=True)
    p.add_argument("--batches", default="1,10,100")
    p.add_argument("--id", default="bench")
    p.add_argument("--seen", type=int, default=5)
    p.set_defaults(fn=cmd_make_requests)
    p = sub.add_parser("expect-reply")
    p.add_argument("--body", required=True)
    p.add_argument("--out", required=True)
    p.set_defaults(fn=cmd_expect_reply)
    p = sub.add_parser("check")
    p.add_argument("--url", required=True)
    p.add_argument("--body", required=True)
    p.add_argument("--exact")
    p.add_argument("--same-as")
    p.set_defaults(fn=cmd_check)
    p = sub.add_parser("free-port")
    p.set_defaults(fn=cmd_free_port)
    p = sub.add_parser("table")
    p.add_argument("--results", required=True)
    p.set_defaults(fn=cmd_table)
    a = ap.parse_args()
    return a.fn(a) or 0


if __name__ == "__main__":
    sys.exit(main())
