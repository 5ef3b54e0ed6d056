#!/usr/bin/env python3
"""Helpers for bench/run.sh, built on the official SDK's own protobuf classes
(statefun.request_reply_pb2) so that every server gets byte-identical bodies.

  benchtool.py make-requests --out DIR [--batches 1,10,100] [--id bench]
                             [--seen 5] [--state-sizes 100,50000,500000]
      Writes DIR/body-<N>.bin: a ToFunction for greeter.fns/greet/<id> with
      the state `seen` attached (io.statefun.types/int, value --seen) and N
      invocations, each a StringWrapper argument. Because `seen` is present
      and > 2, every invocation takes the common path (increment + Kafka
      egress record); no missing-state round trip, no delayed message.
      With --state-sizes, also DIR/body-state<S>-<N>.bin: a ToFunction for
      bench.fns/state/<id> with the state `blob` (bench.types/blob, S bytes,
      its first 8 bytes a little-endian counter) attached and N invocations.
  benchtool.py expect-reply --body F --out F
      The reply the official Python SDK computes for body F (no HTTP), used
      as the fixed reply of the bare libmicrohttpd server so that it sends
      as many bytes back as the real servers.
  benchtool.py check --url URL --body F [--exact REPLYFILE]
      POSTs F once and fails (exit 1, reason on stderr) unless the answer is
      200 application/octet-stream holding an invocation_result with, for
      the greeter, the MODIFY of `seen` to seen+N and N Kafka egress records
      greeting <id> ("Hello, <id>! You have been here <seen+i> time(s).",
      as greet.c); for bench.fns/state, the one MODIFY of `blob` to the
      request's blob with its counter + N, and nothing else
      (with --exact: unless the bytes equal REPLYFILE).
  benchtool.py free-port
  benchtool.py table --results FILE.tsv [--markdown FILE.md] [--png FILE.png]
      Prints the comparison tables of the measurements in FILE.tsv (see
      run.sh for its columns); optionally writes them as Markdown and
      draws a chart.
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
STATE_NS, STATE_TYPE = "bench.fns", "state"
BLOB_T = "bench.types/blob"
INT_T = "io.statefun.types/int"
STRING_T = "io.statefun.types/string"
KAFKA_T = "type.googleapis.com/io.statefun.sdk.egress.KafkaProducerRecord"


def make_batch(ns, type_, fid, state, typename, value, n):
    """A ToFunction batch to ns/type_/fid carrying one state value and n
    invocations from an ingress (no caller), "visitor-000", ..."""
    tf = ToFunction()
    batch = tf.invocation
    batch.target.namespace = ns
    batch.target.type = type_
    batch.target.id = fid
    pv = batch.state.add()
    pv.state_name = state
    pv.state_value.typename = typename
    pv.state_value.has_value = True
    pv.state_value.value = value
    for i in range(n):
        inv = batch.invocations.add()
        inv.argument.typename = STRING_T
        inv.argument.has_value = True
        inv.argument.value = StringWrapper(
            value=f"visitor-{i:03d}").SerializeToString()
    return tf.SerializeToString()


def make_body(n, fid, seen):
    return make_batch(FN_NS, FN_TYPE, fid, "seen", INT_T,
                      IntWrapper(value=seen).SerializeToString(), n)


def make_blob(size, counter):
    """size bytes: a little-endian counter, then a fixed pattern."""
    size = max(size, 8)
    return counter.to_bytes(8, "little") + bytes(
        (i * 131 + 7) % 251 for i in range(size - 8))


def make_state_body(n, fid, size):
    return make_batch(STATE_NS, STATE_TYPE, fid, "blob", BLOB_T, make_blob(size, 5), n)


def cmd_make_requests(a):
    os.makedirs(a.out, exist_ok=True)
    sizes = [int(x) for x in a.state_sizes.split(",") if x]
    for n in (int(x) for x in a.batches.split(",")):
        path = os.path.join(a.out, f"body-{n}.bin")
        with open(path, "wb") as f:
            f.write(make_body(n, a.id, a.seen))
        for size in sizes:
            path = os.path.join(a.out, f"body-state{size}-{n}.bin")
            with open(path, "wb") as f:
                f.write(make_state_body(n, a.id, size))


def cmd_expect_reply(a):
    sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)),
                                    "peers", "python"))
    import peer  # the same logic, the official SDK's handler
    with open(a.body, "rb") as f:
        body = f.read()
    reply = peer.handler.handle_sync(body)
    check_reply(body, reply)
    with open(a.out, "wb") as f:
        f.write(reply)


class Bad(Exception):
    pass


def parse_result(reply):
    ff = FromFunction()
    try:
        ff.ParseFromString(reply)
    except Exception as e:
        raise Bad(f"reply does not parse as FromFunction: {e}")
    if ff.WhichOneof("response") != "invocation_result":
        raise Bad(f"reply is {ff.WhichOneof('response')!r}, "
                  "not an invocation_result")
    return ff.invocation_result


def the_mutation(r, name, typename):
    """The one state mutation a reply must carry: MODIFY of `name` with a
    value of `typename`."""
    if len(r.state_mutations) != 1:
        raise Bad(f"{len(r.state_mutations)} state mutations, expected 1")
    m = r.state_mutations[0]
    if (m.state_name != name or m.mutation_type != m.MODIFY
            or m.state_value.typename != typename):
        raise Bad(f"unexpected state mutation: {m.state_name} "
                  f"{m.mutation_type} {m.state_value.typename}")
    return m


def check_state_reply(req, reply):
    inv = req.invocation
    n = len(inv.invocations)
    old = inv.state[0].state_value.value
    r = parse_result(reply)
    m = the_mutation(r, "blob", BLOB_T)
    counter = int.from_bytes(old[:8], "little") + n
    want = counter.to_bytes(8, "little") + old[8:]
    got = m.state_value.value
    if got != want:
        raise Bad(f"blob of {len(got)} bytes (counter "
                  f"{int.from_bytes(got[:8], 'little')}), expected "
                  f"{len(want)} bytes (counter {counter})")
    if (len(r.outgoing_egresses) or len(r.delayed_invocations)
            or len(r.outgoing_messages)):
        raise Bad("unexpected messages, delayed messages or egress")
    return n


def check_reply(body, reply):
    req = ToFunction()
    req.ParseFromString(body)
    inv = req.invocation
    if inv.target.type == STATE_TYPE:
        return check_state_reply(req, reply)
    n = len(inv.invocations)
    seen0 = IntWrapper.FromString(inv.state[0].state_value.value).value
    fid = inv.target.id
    r = parse_result(reply)
    m = the_mutation(r, "seen", INT_T)
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


SERVER_ORDER = ["ours", "java", "go", "js", "python", "bare-mhd"]


def read_results(path):
    """(server, case, batch, mode) -> row dict, from run.sh's TSV."""
    rows = {}
    with open(path) as f:
        for line in f:
            if not line.strip() or line.startswith("#"):
                continue
            v = line.rstrip("\n").split("\t")
            key = (v[0], v[1], int(v[2]), v[3])
            rows[key] = dict(
                rps=float(v[4]), p50=float(v[5]), p99=float(v[6]),
                p999=float(v[7]), reqs=int(v[8]), errs=int(v[9]),
                cpu=float(v[10]), rss_kb=int(v[11] or 0), rate=float(v[12]),
                req_b=int(v[13]), reply_b=int(v[14]), load1=v[15])
    return rows


def case_sort(c):
    return (0, 0) if c == "greet" else (1, int(c[len("state"):]))


def case_title(c):
    if c == "greet":
        return "greeter (greeter.fns/greet: seen+1 and one Kafka egress record per invocation)"
    size = int(c[len("state"):])
    return (f"state {size:,} B (bench.fns/state: read-modify-write of a "
            f"{size:,}-byte blob per invocation, one MODIFY per reply)")


def num(x):
    """A rate: thousands separated, a decimal below 100."""
    return f"{x:,.0f}" if x >= 100 else f"{x:.1f}"


def ratio(x):
    return f"{x:.2f}" if x >= 0.1 else f"{x:.3f}"


def build_tables(rows):
    """A list of (case, header, [row cells]) per case, ready to print."""
    servers = sorted({k[0] for k in rows},
                     key=lambda x: SERVER_ORDER.index(x)
                     if x in SERVER_ORDER else 99)
    out = []
    for c in sorted({k[1] for k in rows}, key=case_sort):
        state = c != "greet"
        hdr = ["server", "batch", "max req/s", "max inv/s"]
        if state:
            hdr.append("copied MB/s")
        hdr += ["CPU us/inv", "peak RSS MB", "ours/x req/s",
                "x/ours CPU", "fixed rate req/s", "sent", "p50 ms", "p99 ms",
                "p99.9 ms", "x/ours p99", "errors"]
        body = []
        for b in sorted({k[2] for k in rows if k[1] == c}):
            o = rows.get(("ours", c, b, "closed"))
            oo = rows.get(("ours", c, b, "open"))
            for sv in servers:
                r = rows.get((sv, c, b, "closed"))
                op = rows.get((sv, c, b, "open"))
                if r is None:
                    continue
                cells = [sv, str(b), num(r["rps"]),
                         "-" if sv == "bare-mhd" else num(r["rps"] * b)]
                if state:
                    # state bytes the logic must touch per second: the blob
                    # in the request, one copy per invocation, the reply's
                    size = int(c[len("state"):])
                    cells.append(f"{r['rps'] * (b + 2) * size / 1e6:,.1f}")
                cpu_inv = r["cpu"] / b
                rss = r["rss_kb"] / 1024
                cells += [f"{cpu_inv:.2f}", f"{rss:.1f}"]
                if sv != "ours" and o and r["rps"] > 0:
                    cells.append(ratio(o["rps"] / r["rps"]))
                    cells.append(ratio(r["cpu"] / o["cpu"])
                                 if o["cpu"] > 0 else "-")
                else:
                    cells += ["-", "-"]
                if op:
                    cells += [num(op["rate"]), str(op["reqs"]), f"{op['p50']:.3f}",
                              f"{op['p99']:.3f}", f"{op['p999']:.3f}"]
                    cells.append(ratio(op["p99"] / oo["p99"])
                                 if sv != "ours" and oo and oo["p99"] > 0
                                 else "-")
                    errs = r["errs"] + op["errs"]
                else:
                    cells += ["-"] * 6
                    errs = r["errs"]
                cells.append(str(errs))
                body.append(cells)
        out.append((c, hdr, body))
    return out


def text_table(hdr, body):
    w = [max(len(h), *(len(r[i]) for r in body)) for i, h in enumerate(hdr)]
    line = lambda cells: "  ".join(  # noqa: E731
        x.ljust(w[i]) if i == 0 else x.rjust(w[i]) for i, x in enumerate(cells))
    return "\n".join([line(hdr), "-" * len(line(hdr))]
                     + [line(r) for r in body])


def md_table(hdr, body):
    rows = ["| " + " | ".join(hdr) + " |",
            "|" + "|".join("---" if i == 0 else "---:"
                           for i in range(len(hdr))) + "|"]
    rows += ["| " + " | ".join(r) + " |" for r in body]
    return "\n".join(rows)


NOTES = """\
max req/s, max inv/s: closed loop (wrk, all connections always busy); inv/s = req/s x batch.
copied MB/s: state bytes the logic must touch per second at the maximum: (the blob in the request + one copy per
  invocation + the blob in the reply) x size x req/s. A server whose cost grows with the bytes copied keeps this flat.
CPU us/inv: the server process's user+system CPU time during the closed-loop run (all threads, /proc/PID/stat) / invocations.
peak RSS MB: VmHWM of the server process during the closed-loop run (reset before it; memory a server keeps from
  earlier runs counts: the cases run in the order of this table).
ours/x req/s: our maximum / theirs (> 1: we serve more); x/ours CPU: their CPU per request / ours (> 1: they spend more).
fixed rate: open loop at a constant rate (the same for every server of a row group), latency measured from each
request's intended send time (no coordinated omission); sent: requests sent (the first second's are not measured);
x/ours p99: their p99 / ours."""


def cmd_table(a):
    rows = read_results(a.results)
    tables = build_tables(rows)
    text = []
    for c, hdr, body in tables:
        text += [case_title(c), text_table(hdr, body), ""]
    text.append(NOTES)
    print("\n".join(text))
    if a.markdown:
        md = ["# statefun-c vs the official StateFun SDKs", ""]
        if a.command:
            md.append(f"Command: `{a.command.strip()}`  ")
        if a.loadavg:
            md.append(f"Load average at start: {a.loadavg} (shared 2-core "
                      "machine: compare ratios within this run)  ")
        md.append("")
        for c, hdr, body in tables:
            md += [f"## {case_title(c)}", "", md_table(hdr, body), ""]
        md += ["```", NOTES, "```", ""]
        if a.png:
            md.append(f"![chart]({os.path.basename(a.png)})")
        with open(a.markdown, "w") as f:
            f.write("\n".join(md) + "\n")
    if a.png:
        draw(rows, a.png, a.loadavg)


def draw(rows, path, loadavg):
    import matplotlib
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    servers = [s for s in SERVER_ORDER if any(k[0] == s for k in rows)]
    cases = sorted({k[1] for k in rows}, key=case_sort)
    batches = sorted({k[2] for k in rows})
    fig, axes = plt.subplots(len(cases), 3, figsize=(15, 3.6 * len(cases)),
                             squeeze=False)
    width = 0.8 / max(1, len(servers))
    panels = [("max invocations/s (closed loop)", "closed",
               lambda r, b: r["rps"] * b),
              ("CPU us per invocation", "closed", lambda r, b: r["cpu"] / b),
              ("p99 ms at the fixed rate (open loop)", "open",
               lambda r, b: r["p99"])]
    for ci, c in enumerate(cases):
        for pi, (title, mode, fn) in enumerate(panels):
            ax = axes[ci][pi]
            for si, sv in enumerate(servers):
                xs, ys = [], []
                for bi, b in enumerate(batches):
                    r = rows.get((sv, c, b, mode))
                    if r and fn(r, b) > 0:
                        xs.append(bi + si * width)
                        ys.append(fn(r, b))
                ax.bar(xs, ys, width, label=sv)
            ax.set_yscale("log")
            ax.set_xticks([i + width * (len(servers) - 1) / 2
                           for i in range(len(batches))])
            ax.set_xticklabels([f"batch {b}" for b in batches])
            ax.set_title(f"{c}: {title}", fontsize=9)
            ax.grid(axis="y", which="both", alpha=0.3)
    axes[0][0].legend(fontsize=8)
    fig.suptitle("statefun-c (ours) vs the official StateFun SDKs, one pinned "
                 f"core each; load average {loadavg}", fontsize=10)
    fig.tight_layout()
    fig.savefig(path, dpi=90)


def main():
    ap = argparse.ArgumentParser()
    sub = ap.add_subparsers(dest="cmd", required=True)
    p = sub.add_parser("make-requests")
    p.add_argument("--out", required=True)
    p.add_argument("--batches", default="1,10,100")
    p.add_argument("--id", default="bench")
    p.add_argument("--seen", type=int, default=5)
    p.add_argument("--state-sizes", default="")
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
    p.add_argument("--markdown")
    p.add_argument("--png")
    p.add_argument("--loadavg", default="")
    p.add_argument("--command", default="")
    p.set_defaults(fn=cmd_table)
    a = ap.parse_args()
    return a.fn(a) or 0


if __name__ == "__main__":
    sys.exit(main())
