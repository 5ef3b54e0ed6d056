#!/usr/bin/env python3
"""Conformance of our C handler against the official StateFun Python SDK.

Run it with the python of the venv made by scripts/python-env.sh (it holds
apache-flink-statefun 3.3.0 from PyPI); tests/conformance/run.sh does that.

How it works
------------
* The same function logic, a small command interpreter, is implemented twice:
  interpret() below on the official SDK (ValueSpec, storage, message_builder,
  send_after, cancel_delayed_message, kafka/kinesis/generic egress builders,
  make_json_type, make_protobuf_type, simple_type), and interpret() in
  conformance_fn.c on ours.
* Each case is a ToFunction built with the SDK's own protobuf classes
  (statefun.request_reply_pb2). The very same bytes go to the official
  RequestReplyHandler.handle_sync and to sf_handler_handle (conformance_fn
  --serve, one process for the whole suite, one arena reset between requests).
* Both replies are parsed with request_reply_pb2 and compared field by field:
  every set field, in order for every repeated field (outgoing messages,
  delayed invocations, egresses and missing values are lists whose order the
  runtime observes), except state_mutations, compared as a multiset (see
  normalize()). TypedValue.value bytes are compared exactly (byte for byte,
  so floats are compared bitwise), except for the JSON user type whose text
  may legitimately be formatted differently (Python: json.dumps with ", "
  separators; ours: compact, sorted keys) and is compared as parsed JSON.
* A failure on one side must be a failure on the other (Python raises, ours
  returns a non-OK status); nothing else of a failed batch is compared.
* Every case also states what the Python SDK must do (result, incomplete or
  failed) so that a broken case cannot pass by failing on both sides.
* Codec cases compare sf_encode_* / sf_decode_* with the generated wrapper
  classes (types_pb2) on edge and random values and non-canonical input.
* Self-checks perturb real replies and require the comparison to report them.

The function types (mirrored by fn_defs in conformance_fn.c):
  conf/all      b bool, i int, l long, f float, d double, s string,
                j json (conf.types/json), p proto (statefun.conformance.Point),
                r raw (conf.types/raw); no expiration
  conf/expire   w int after-write 5000 ms, c string after-call 60000 ms,
                n long none, big long after-write 86400000 ms,
                tiny bool after-call 1 ms
  conf/order    zeta string, alpha int, mid double after-write 250 ms
  conf/nostate  no state

The interpreter: a string message starting with '!' is a program of commands
separated by ';', tokens separated by spaces. Any other message (any of the
nine types) is "absorbed": decoded, stored in the first state of its type,
re-encoded and sent to conf.echo/sink/<self id>, to the caller if any, and to
the egress conf.trace/absorbed (a message without value emits its type name
to conf.trace/novalue). Commands:
  set NAME LIT                 clear NAME                 emit NAME
  add NAME N (int/long, wraps) append NAME x:HEX (string)
  send NS/FN ID TYPE LIT       send_after MS TOK NS/FN ID TYPE LIT
  cancel TOK                   reply TYPE LIT (to the caller, or egress
  whoami (egress self/caller)  conf.trace/nocaller)
  kafka EG TOPIC KEY x:HEX     kafka_typed EG TOPIC KEY TYPE LIT
  kinesis EG STREAM PKEY EHK x:HEX                egress EG TYPE LIT
  fail
emit sends the state, decoded and re-encoded, to egress conf.trace/NAME, or
its name to conf.trace/absent. In KEY/EHK/TOK "-" means none, "~" means "".
Literals: bool true|false; int/long decimal; float/double the IEEE bit
pattern in hex; string/json/raw x:<hex of the bytes>; proto
p:<label hex>:<x>:<tags joined by .>:<blob hex>:<flag 0|1>.
"""
import argparse
import json
import os
import random
import struct
import subprocess
import sys
import traceback
from datetime import timedelta

from google.protobuf import descriptor_pb2, descriptor_pool, message_factory

import statefun
from statefun import (BoolType, DoubleType, FloatType, IntType, LongType,
                      RequestReplyHandler, StatefulFunctions, StringType,
                      ValueSpec, egress_message_builder, kafka_egress_message,
                      kinesis_egress_message, make_json_type,
                      make_protobuf_type, message_builder, simple_type)
from statefun import types_pb2
from statefun.request_reply_pb2 import Address, FromFunction, ToFunction, TypedValue
from statefun.utils import to_typed_value

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "pylib"))
from sftest.checks import Tally  # noqa: E402

SEED = 20240607


# ---------------------------------------------------------------------------
# Types and functions
# ---------------------------------------------------------------------------

def point_class():
    """statefun.conformance.Point, identical to conformance.proto."""
    F = descriptor_pb2.FieldDescriptorProto
    fdp = descriptor_pb2.FileDescriptorProto(
        name="conformance.proto", package="statefun.conformance", syntax="proto3")
    m = fdp.message_type.add(name="Point")
    m.field.add(name="label", number=1, type=F.TYPE_STRING, label=F.LABEL_OPTIONAL)
    m.field.add(name="x", number=2, type=F.TYPE_SINT64, label=F.LABEL_OPTIONAL)
    m.field.add(name="tags", number=3, type=F.TYPE_INT32, label=F.LABEL_REPEATED)
    m.field.add(name="blob", number=4, type=F.TYPE_BYTES, label=F.LABEL_OPTIONAL)
    m.field.add(name="flag", number=5, type=F.TYPE_BOOL, label=F.LABEL_OPTIONAL)
    pool = descriptor_pool.DescriptorPool()
    pool.Add(fdp)
    desc = pool.FindMessageTypeByName("statefun.conformance.Point")
    return message_factory.MessageFactory(pool).GetPrototype(desc)


Point = point_class()
JSON_T = make_json_type("conf.types/json")
PROTO_T = make_protobuf_type(Point)
RAW_T = simple_type("conf.types/raw", serialize_fn=bytes, deserialize_fn=bytes)
TYPES = {"bool": BoolType, "int": IntType, "long": LongType, "float": FloatType,
         "double": DoubleType, "string": StringType, "json": JSON_T,
         "proto": PROTO_T, "raw": RAW_T}
TYPE_ORDER = ["bool", "int", "long", "float", "double", "string", "json", "proto", "raw"]
BUILTIN = TYPE_ORDER[:6]
TYPENAME_TO_TYPE = {TYPES[t].typename: t for t in TYPE_ORDER}

# (name, type, expiration mode, ms)
SPECS = {
    "conf/all": [("b", "bool", None, 0), ("i", "int", None, 0), ("l", "long", None, 0),
                 ("f", "float", None, 0), ("d", "double", None, 0), ("s", "string", None, 0),
                 ("j", "json", None, 0), ("p", "proto", None, 0), ("r", "raw", None, 0)],
    "conf/expire": [("w", "int", "write", 5000), ("c", "string", "call", 60000),
                    ("n", "long", None, 0), ("big", "long", "write", 86400000),
                    ("tiny", "bool", "call", 1)],
    "conf/order": [("zeta", "string", None, 0), ("alpha", "int", None, 0),
                   ("mid", "double", "write", 250)],
    "conf/nostate": [],
}


def value_spec(name, t, mode, ms):
    if mode == "write":
        return ValueSpec(name, TYPES[t], expire_after_write=timedelta(milliseconds=ms))
    if mode == "call":
        return ValueSpec(name, TYPES[t], expire_after_call=timedelta(milliseconds=ms))
    return ValueSpec(name, TYPES[t])


# ---------------------------------------------------------------------------
# The Python interpreter (the reference logic)
# ---------------------------------------------------------------------------

def unhex(tok):
    if not tok.startswith("x:"):
        raise ValueError("expected x:<hex>, got " + tok)
    return bytes.fromhex(tok[2:])


def opt(tok):
    return None if tok == "-" else ("" if tok == "~" else tok)


def parse_lit(t, tok):
    if t == "bool":
        return {"true": True, "false": False}[tok]
    if t in ("int", "long"):
        return int(tok)
    if t == "float":
        return struct.unpack("<f", struct.pack("<I", int(tok, 16)))[0]
    if t == "double":
        return struct.unpack("<d", struct.pack("<Q", int(tok, 16)))[0]
    if t == "string":
        return unhex(tok).decode("utf-8")
    if t == "json":
        return json.loads(unhex(tok).decode("utf-8"))
    if t == "proto":
        parts = tok.split(":")
        if len(parts) != 6 or parts[0] != "p":
            raise ValueError("bad point literal")
        return Point(label=bytes.fromhex(parts[1]).decode("utf-8"), x=int(parts[2]),
                     tags=[int(x) for x in parts[3].split(".")] if parts[3] else [],
                     blob=bytes.fromhex(parts[4]), flag=parts[5] == "1")
    if t == "raw":
        return unhex(tok)
    raise ValueError("no such type " + t)


def wrap(t, v):
    bits = 32 if t == "int" else 64
    return (v + 2 ** (bits - 1)) % 2 ** bits - 2 ** (bits - 1)


def py_egress(ctx, egress, value, t):
    ctx.send_egress(egress_message_builder(egress, value, TYPES[t]))


def run_command(ctx, specs, tok):
    st = ctx.storage
    op, args = tok[0], tok[1:]
    arity = {"set": 2, "clear": 1, "emit": 1, "add": 2, "append": 2, "send": 4,
             "send_after": 6, "cancel": 1, "reply": 2, "whoami": 0, "kafka": 4,
             "kafka_typed": 5, "kinesis": 5, "egress": 3}
    if op == "fail":
        raise RuntimeError("fail command")
    if op not in arity:
        raise ValueError("unknown command " + op)
    if len(args) != arity[op]:
        raise ValueError("wrong number of arguments for " + op)
    if op == "set":
        setattr(st, args[0], parse_lit(specs[args[0]], args[1]))
    elif op == "clear":
        delattr(st, args[0])
    elif op == "emit":
        v = getattr(st, args[0])
        if v is None:
            py_egress(ctx, "conf.trace/absent", args[0], "string")
        else:
            py_egress(ctx, "conf.trace/" + args[0], v, specs[args[0]])
    elif op == "add":
        t = specs[args[0]]
        if t not in ("int", "long"):
            raise ValueError("add on a non-integer state")
        v = getattr(st, args[0])
        setattr(st, args[0], wrap(t, (0 if v is None else v) + int(args[1])))
    elif op == "append":
        v = getattr(st, args[0])
        setattr(st, args[0], ("" if v is None else v) + unhex(args[1]).decode("utf-8"))
    elif op == "send":
        ctx.send(message_builder(args[0], args[1], value=parse_lit(args[2], args[3]),
                                 value_type=TYPES[args[2]]))
    elif op == "send_after":
        m = message_builder(args[2], args[3], value=parse_lit(args[4], args[5]),
                            value_type=TYPES[args[4]])
        delay = timedelta(milliseconds=int(args[0]))
        token = opt(args[1])
        if token is None:
            ctx.send_after(delay, m)
        else:
            ctx.send_after(delay, m, cancellation_token=token)
    elif op == "cancel":
        ctx.cancel_delayed_message(args[0])
    elif op == "reply":
        v = parse_lit(args[0], args[1])
        if ctx.caller is None:
            py_egress(ctx, "conf.trace/nocaller", "", "string")
        else:
            ctx.send(message_builder(ctx.caller.typename, ctx.caller.id, value=v,
                                     value_type=TYPES[args[0]]))
    elif op == "whoami":
        a, c = ctx.address, ctx.caller
        py_egress(ctx, "conf.trace/self", f"{a.namespace}/{a.name}/{a.id}", "string")
        py_egress(ctx, "conf.trace/caller",
                  "none" if c is None else f"{c.namespace}/{c.name}/{c.id}", "string")
    elif op == "kafka":
        ctx.send_egress(kafka_egress_message(args[0], opt(args[1]), value=unhex(args[3]),
                                             key=opt(args[2])))
    elif op == "kafka_typed":
        ctx.send_egress(kafka_egress_message(args[0], opt(args[1]),
                                             value=parse_lit(args[3], args[4]),
                                             value_type=TYPES[args[3]], key=opt(args[2])))
    elif op == "kinesis":
        ctx.send_egress(kinesis_egress_message(args[0], opt(args[1]), value=unhex(args[4]),
                                               partition_key=opt(args[2]),
                                               explicit_hash_key=opt(args[3])))
    elif op == "egress":
        py_egress(ctx, args[0], parse_lit(args[1], args[2]), args[1])


def absorb(ctx, specs, t, v):
    if v is None:
        py_egress(ctx, "conf.trace/novalue", t, "string")
        return
    for name, st in specs.items():  # the first state of that type
        if st == t:
            setattr(ctx.storage, name, v)
            break
    ctx.send(message_builder("conf.echo/sink", ctx.address.id, value=v, value_type=TYPES[t]))
    if ctx.caller is not None:
        ctx.send(message_builder(ctx.caller.typename, ctx.caller.id, value=v,
                                 value_type=TYPES[t]))
    py_egress(ctx, "conf.trace/absorbed", v, t)


def interpret(ctx, msg):
    specs = {name: t for name, t, _, _ in SPECS[ctx.address.typename]}
    if msg.is_string():
        text = msg.as_string()
        if text is not None and text.startswith("!"):
            for cmd in text[1:].split(";"):
                tok = cmd.split()
                if tok:
                    run_command(ctx, specs, tok)
            return
    for t in TYPE_ORDER:
        if msg.is_type(TYPES[t]):
            absorb(ctx, specs, t, msg.as_type(TYPES[t]))
            return
    raise ValueError("unsupported message type " + msg.value_typename())


def python_handler():
    fns = StatefulFunctions()
    for typename, specs in SPECS.items():
        fns.register(typename, interpret, [value_spec(*s) for s in specs])
    return RequestReplyHandler(fns)


# ---------------------------------------------------------------------------
# Literals and requests
# ---------------------------------------------------------------------------

class Bits:
    """A float/double given by its exact IEEE bit pattern."""

    def __init__(self, bits):
        self.bits = bits


def f32(bits):
    return struct.unpack("<f", struct.pack("<I", bits))[0]


def f64(bits):
    return struct.unpack("<d", struct.pack("<Q", bits))[0]


def lit(t, v):
    if t == "bool":
        return "true" if v else "false"
    if t in ("int", "long"):
        return str(v)
    if t == "float":
        return "%08x" % (v.bits if isinstance(v, Bits) else struct.unpack("<I", struct.pack("<f", v))[0])
    if t == "double":
        return "%016x" % (v.bits if isinstance(v, Bits) else struct.unpack("<Q", struct.pack("<d", v))[0])
    if t == "string":
        return "x:" + v.encode("utf-8").hex()
    if t == "json":
        return "x:" + json.dumps(v, ensure_ascii=False).encode("utf-8").hex()
    if t == "proto":
        return "p:%s:%d:%s:%s:%d" % (v.label.encode("utf-8").hex(), v.x,
                                     ".".join(str(x) for x in v.tags), v.blob.hex(),
                                     1 if v.flag else 0)
    if t == "raw":
        return "x:" + bytes(v).hex()
    raise ValueError(t)


def pyval(t, v):
    """The Python value of a generator value (Bits -> float)."""
    if isinstance(v, Bits):
        return f32(v.bits) if t == "float" else f64(v.bits)
    return v


def typed(t, v):
    return to_typed_value(TYPES[t], pyval(t, v))


def prog(*cmds):
    return typed("string", "!" + "; ".join(cmds))


UNSET = object()      # state attached without state_value (what the runtime sends)


def request(fn, fid, invocations, values=None, omit=(), extra=(), attach=True):
    """A ToFunction for `fn`/`fid`. invocations: [(caller, TypedValue)], caller
    None, "ns/type/id" or an Address. values: state name -> generator value,
    TypedValue or UNSET (default UNSET). omit: states not attached at all."""
    tf = ToFunction()
    batch = tf.invocation
    ns, name = fn.split("/")
    batch.target.namespace, batch.target.type, batch.target.id = ns, name, fid
    values = values or {}
    if attach:
        for sname, t, _, _ in SPECS.get(fn, []):
            if sname in omit:
                continue
            pv = batch.state.add()
            pv.state_name = sname
            v = values.get(sname, UNSET)
            if v is UNSET:
                continue
            pv.state_value.CopyFrom(v if isinstance(v, TypedValue) else typed(t, v))
    for pv in extra:
        batch.state.add().CopyFrom(pv)
    for caller, arg in invocations:
        inv = batch.invocations.add()
        if isinstance(caller, Address):
            inv.caller.CopyFrom(caller)
        elif caller is not None:
            cns, ctype, cid = caller.split("/", 2)
            inv.caller.namespace, inv.caller.type, inv.caller.id = cns, ctype, cid
        inv.argument.CopyFrom(arg)
    return tf.SerializeToString()


class Case:
    def __init__(self, name, req, expect, note=""):
        self.name, self.req, self.expect, self.note = name, req, expect, note


# ---------------------------------------------------------------------------
# Values
# ---------------------------------------------------------------------------

INT32_MIN, INT32_MAX = -2 ** 31, 2 ** 31 - 1
INT64_MIN, INT64_MAX = -2 ** 63, 2 ** 63 - 1

EDGES = {
    "bool": [False, True],
    "int": [0, 1, -1, INT32_MIN, INT32_MAX, 127, 128, -129, 123456789],
    "long": [0, 1, -1, INT64_MIN, INT64_MAX, INT32_MIN - 1, INT32_MAX + 1, 2 ** 53 + 1,
             -1234567890123456789],
    "float": [Bits(0), Bits(0x3f800000), Bits(0xbf800000), Bits(0x7f7fffff), Bits(0x00000001),
              Bits(0x00800000), Bits(0x7f800000), Bits(0xff800000), Bits(0x7fc00000),
              Bits(0x3eaaaaab), Bits(0xc2f6e979)],
    "double": [Bits(0), Bits(0x3ff0000000000000), Bits(0xbff0000000000000),
               Bits(0x7fefffffffffffff), Bits(0x0000000000000001), Bits(0x0010000000000000),
               Bits(0x7ff0000000000000), Bits(0xfff0000000000000), Bits(0x7ff8000000000000),
               Bits(0x3fb999999999999a), Bits(0xc0934a4584f4c6e7)],
    "string": ["", "a", "hello world", "ünïcödé ✓", "日本語テキスト", "emoji 🚀🎉",
               "tab\tnew\nline", "quote\"back\\slash", "x" * 200, "\u0000nul inside"],
    "json": [{}, [], 0, "s", True, {"a": 1, "b": [1, 2, {"c": "d"}]}, {"ü": "ñ", "k": -5},
             [1.5, -0.25, "x", False], {"nested": {"deep": {"deeper": [[], {}]}}}],
    "proto": [Point(), Point(label="p", x=-1), Point(label="ünï", x=INT64_MIN, tags=[1, -1, INT32_MAX],
                                                    blob=b"\x00\xff", flag=True),
              Point(x=INT64_MAX, tags=[0, 0, 0]), Point(blob=bytes(range(256)))],
    "raw": [b"", b"\x00", b"raw bytes", bytes(range(256)), b"\xff" * 3],
}


def rand_value(rng, t):
    if rng.random() < 0.3:
        return rng.choice(EDGES[t])
    if t == "bool":
        return rng.random() < 0.5
    if t == "int":
        return rng.randint(INT32_MIN, INT32_MAX)
    if t == "long":
        return rng.randint(INT64_MIN, INT64_MAX)
    if t == "float":
        while True:  # no NaNs (payloads) and no -0.0 here: explicit cases
            b = rng.getrandbits(32)
            if (b >> 23) & 0xff != 0xff and b != 0x80000000:
                return Bits(b)
    if t == "double":
        while True:
            b = rng.getrandbits(64)
            if (b >> 52) & 0x7ff != 0x7ff and b != 0x8000000000000000:
                return Bits(b)
    if t == "string":
        alphabet = "abcxyz019 _-ßéü✓日本🚀"
        return "".join(rng.choice(alphabet) for _ in range(rng.randint(0, 12)))
    if t == "json":
        return {"k%d" % i: rng.choice([rng.randint(-1000, 1000), "v%d" % i, True, [i, i + 1],
                                        {"n": rng.randint(0, 9)}, rng.randint(-8, 8) / 4])
                for i in range(rng.randint(0, 4))}
    if t == "proto":
        return Point(label=rand_value(rng, "string"), x=rng.randint(INT64_MIN, INT64_MAX),
                     tags=[rng.randint(INT32_MIN, INT32_MAX) for _ in range(rng.randint(0, 4))],
                     blob=bytes(rng.getrandbits(8) for _ in range(rng.randint(0, 6))),
                     flag=rng.random() < 0.5)
    if t == "raw":
        return bytes(rng.getrandbits(8) for _ in range(rng.randint(0, 16)))
    raise ValueError(t)


def exact_ms(ms):
    """The Python SDK converts a timedelta to ms as int(total_seconds()*1000.0),
    which truncates some values (1001 ms -> 1000). Such delays would only test
    that Python quirk, so the generator avoids them."""
    return int(timedelta(milliseconds=ms).total_seconds() * 1000.0) == ms


def rand_delay(rng):
    while True:
        ms = rng.choice([0, 1, 2, 500, 1000, 1500, 60000, 86400000, rng.randint(0, 10 ** 9)])
        if exact_ms(ms):
            return ms


# ---------------------------------------------------------------------------
# Cases
# ---------------------------------------------------------------------------

def spec_of(fn, sname):
    return next(s for s in SPECS[fn] if s[0] == sname)


def first_state(fn, t):
    return next((s[0] for s in SPECS[fn] if s[1] == t), None)


def explicit_cases():
    cases = []

    def add(name, req, expect, note=""):
        cases.append(Case(name, req, expect, note))

    all_states = [s[0] for s in SPECS["conf/all"]]
    # -- every type: state writes, data messages, state from the runtime ----
    for t in TYPE_ORDER:
        s = first_state("conf/all", t)
        invs = [(None, prog("emit " + s))]
        invs += [(None, prog("set %s %s" % (s, lit(t, v)), "emit " + s)) for v in EDGES[t]]
        add("types/state_write/" + t, request("conf/all", "w-" + t, invs), "result")
    for t in TYPE_ORDER:
        invs = [("conf.peer/caller/c%d" % k if k % 2 else None, typed(t, v))
                for k, v in enumerate(EDGES[t])]
        invs.append((None, TypedValue(typename=TYPES[t].typename, has_value=False)))
        add("types/message/" + t, request("conf/all", "m-" + t, invs), "result")
    for k in range(max(len(v) for v in EDGES.values())):
        values = {s[0]: EDGES[s[1]][k % len(EDGES[s[1]])] for s in SPECS["conf/all"]}
        add("types/state_from_runtime/%d" % k,
            request("conf/all", "r%d" % k, [(None, prog(*["emit " + s for s in all_states]))],
                    values=values), "result")
    # -0.0: proto3 drops a zero; is -0.0 a zero? (Python: yes, empty bytes)
    for t, bits in (("float", 0x80000000), ("double", 0x8000000000000000)):
        s = first_state("conf/all", t)
        add("types/negative_zero/" + t,
            request("conf/all", "nz", [(None, prog("set %s %s" % (s, lit(t, Bits(bits))), "emit " + s,
                                                   "send conf.peer/x nz %s %s" % (t, lit(t, Bits(bits))))),
                                       (None, typed(t, Bits(bits)))]), "result")
    # NaN: Python's protobuf decoder turns every NaN into the canonical one
    # (a payload survives encoding only), so payloads go through encoders.
    add("types/nan",
        request("conf/all", "nan", [(None, prog("set f 7fc00000", "emit f", "set d 7ff8000000000000",
                                                "emit d", "egress conf.eg/x float ffc00123",
                                                "egress conf.eg/x double fff8000000000abc",
                                                "send conf.eg/x id float 7fc00001"))]),
        "result")

    # -- missing state ----------------------------------------------------------
    add("missing/all_of_all", request("conf/all", "x", [(None, prog("emit i"))], attach=False),
        "incomplete")
    rng = random.Random(SEED + 1)
    for k in range(3):
        keep = rng.sample(all_states, rng.randint(1, len(all_states) - 1))
        add("missing/partial_%d" % k,
            request("conf/all", "x", [(None, prog("emit i"))],
                    omit=[s for s in all_states if s not in keep]), "incomplete",
            "attached: " + ",".join(keep))
    add("missing/only_last", request("conf/all", "x", [(None, prog("emit i"))], omit=["r"]),
        "incomplete")
    add("missing/expire_all_modes", request("conf/expire", "x", [(None, prog("emit w"))],
                                            attach=False), "incomplete")
    add("missing/expire_partial", request("conf/expire", "x", [(None, prog("emit w"))],
                                          omit=["w", "big", "tiny"]), "incomplete")
    add("missing/declaration_order", request("conf/order", "x", [(None, prog("emit zeta"))],
                                             attach=False), "incomplete")
    add("missing/batch_not_run", request("conf/order", "x", [(None, prog("fail"))] * 5,
                                         omit=["alpha"]), "incomplete")
    add("missing/none_needed", request("conf/nostate", "x", [(None, prog("whoami"))], attach=False),
        "result")

    # -- state edge cases ---------------------------------------------------------
    add("state/undeclared_ignored",
        request("conf/order", "x", [(None, prog("emit zeta", "set alpha 3"))],
                values={"zeta": "z"},
                extra=[ToFunction.PersistedValue(state_name="ghost",
                                                 state_value=typed("int", 9)),
                       ToFunction.PersistedValue(state_name="other")]), "result")
    add("state/unset_values",
        request("conf/all", "x", [(None, prog(*["emit " + s for s in all_states]))]), "result")
    add("state/has_value_false",
        request("conf/all", "x", [(None, prog(*["emit " + s for s in all_states]))],
                values={s: TypedValue(typename=TYPES[t].typename, has_value=False,
                                      value=b"\x08\x01" if t == "bool" else b"")
                        for s, t, _, _ in SPECS["conf/all"]}), "result")
    add("state/present_empty_bytes",
        request("conf/all", "x", [(None, prog(*["emit " + s for s in all_states]))],
                values={s: TypedValue(typename=TYPES[t].typename, has_value=True)
                        for s, t, _, _ in SPECS["conf/all"] if t != "json"}), "result",
        "every type but JSON: empty bytes are not a JSON document")
    add("state/read_only_no_mutation",
        request("conf/all", "x", [(None, prog("emit i", "emit s"))] * 3,
                values={"i": 5, "s": "keep"}), "result")
    add("state/clear_absent_sends_delete",
        request("conf/all", "x", [(None, prog(*["clear " + s for s in all_states]))]), "result")
    add("state/set_then_clear",
        request("conf/all", "x", [(None, prog("set i 5", "clear i")), (None, prog("emit i"))],
                values={"i": 1}), "result")
    add("state/clear_then_set",
        request("conf/all", "x", [(None, prog("clear s")), (None, prog("emit s", "set s x:6869"))],
                values={"s": "old"}), "result")
    add("state/set_same_value_is_dirty",
        request("conf/all", "x", [(None, prog("set i 7"))], values={"i": 7}), "result")
    add("state/typename_mismatch_read",
        request("conf/all", "x", [(None, prog("emit i"))], values={"i": typed("long", 5)}),
        "failed", "Python checks a state's typename when it is read")
    add("state/typename_mismatch_unread",
        request("conf/all", "x", [(None, prog("emit s"))], values={"i": typed("long", 5)}),
        "result", "Python checks typenames on read only")
    add("state/typename_mismatch_overwritten",
        request("conf/all", "x", [(None, prog("set i 1", "emit i"))],
                values={"i": typed("long", 5)}), "result")

    # -- expiration -----------------------------------------------------------------
    add("expire/write_all",
        request("conf/expire", "e", [(None, prog("set w 1", "set c x:63", "set n -2",
                                                  "set big 99", "set tiny true"))]), "result")
    add("expire/read_existing",
        request("conf/expire", "e", [(None, prog("emit w", "emit c", "emit n", "emit big",
                                                  "emit tiny", "add w 2"))],
                values={"w": 40, "c": "cc", "n": 3, "big": INT64_MAX, "tiny": True}), "result")
    add("expire/clear_some",
        request("conf/expire", "e", [(None, prog("clear c", "clear tiny", "append c x:61"))],
                values={"c": "cc", "tiny": False}), "result")
    add("expire/order_fn",
        request("conf/order", "o", [(None, prog("set mid 400921f9f01b866e", "append zeta x:7a",
                                                 "add alpha -5", "emit mid"))],
                values={"alpha": 2}), "result")

    # -- batches (state carried across invocations) ------------------------------------
    for n in (1, 2, 10, 50, 100):
        invs = []
        for k in range(n):
            cmds = ["add i 1", "add l -3", "append s x:%s" % ("%d," % k).encode().hex(), "emit i"]
            if k % 7 == 3:
                cmds.append("clear f")
            if k % 5 == 0:
                cmds.append("set f %s" % lit("float", Bits(0x40490fdb + k)))
            if k % 11 == 4:
                cmds.append("send conf.peer/batch b%d int %d" % (k, k))
            invs.append(("conf.peer/src/s%d" % k if k % 3 else None, prog(*cmds)))
        add("batch/%d" % n, request("conf/all", "batch", invs,
                                    values={"i": INT32_MAX - 20, "l": INT64_MIN + 100}), "result")

    # -- callers ----------------------------------------------------------------------
    add("caller/none", request("conf/all", "c", [(None, prog("whoami", "reply int 1"))]), "result")
    add("caller/function",
        request("conf/all", "c", [("conf.peer/fn/p1", prog("whoami", "reply string x:6869"))]),
        "result")
    add("caller/empty_address_is_none",
        request("conf/all", "c", [(Address(), prog("whoami", "reply int 1"))]), "result")
    add("caller/mixed_batch",
        request("conf/all", "c", [("a.b.c/d/1", prog("whoami")), (None, prog("whoami")),
                                  ("ns/t/ünï id", typed("long", 77)), (None, typed("long", 78))]),
        "result")
    add("caller/unicode_self_id",
        request("conf/nostate", "ü/ñ:1", [("ns/t/x", prog("whoami", "reply bool true"))]), "result")

    # -- delayed messages ---------------------------------------------------------------
    add("delayed/no_token",
        request("conf/all", "d", [(None, prog("send_after 1000 - conf.peer/d t1 int 5"))]), "result")
    add("delayed/token",
        request("conf/all", "d", [(None, prog("send_after 60000 tok-1 conf.peer/d t1 string x:6869"))]),
        "result")
    add("delayed/empty_token_is_none",
        request("conf/all", "d", [(None, prog("send_after 5 ~ conf.peer/d t1 bool true"))]), "result")
    add("delayed/zero_and_large",
        request("conf/all", "d", [(None, prog("send_after 0 - conf.peer/d a long 1",
                                              "send_after 86400000 big conf.peer/d b long 2",
                                              "send_after 604800000 week conf.peer/d c long 3"))]),
        "result")
    add("delayed/cancel",
        request("conf/all", "d", [(None, prog("cancel tok-1")), (None, prog("cancel other"))]), "result")
    add("delayed/send_then_cancel_interleaved",
        request("conf/all", "d", [(None, prog("send_after 10 t1 conf.peer/d a int 1", "cancel t1",
                                              "send_after 20 t1 conf.peer/d a int 2",
                                              "send conf.peer/now a int 3",
                                              "send_after 30 - conf.peer/d a int 4", "cancel zz"))]),
        "result")
    add("delayed/every_type",
        request("conf/all", "d", [(None, prog(*["send_after %d tk%s conf.peer/d %s %s %s" % (
            100 * k, t, t, t, lit(t, EDGES[t][-1])) for k, t in enumerate(TYPE_ORDER)]))]), "result")

    # -- egress ---------------------------------------------------------------------------
    add("egress/kafka_with_key",
        request("conf/all", "g", [(None, prog("kafka conf.io/kafka orders k1 x:76616c7565"))]), "result")
    add("egress/kafka_without_key",
        request("conf/all", "g", [(None, prog("kafka conf.io/kafka orders - x:76"))]), "result")
    add("egress/kafka_empty_key_and_value",
        request("conf/all", "g", [(None, prog("kafka conf.io/kafka orders ~ x:"))]), "result")
    add("egress/kafka_typed",
        request("conf/all", "g", [(None, prog(*["kafka_typed a.b/kafka t-%s key-%d %s %s" % (
            t, k, t, lit(t, EDGES[t][k % len(EDGES[t])])) for k, t in enumerate(
                BUILTIN + ["proto", "raw"])]))]), "result")
    add("egress/kinesis_with_hash_key",
        request("conf/all", "g", [(None, prog("kinesis conf.io/kinesis stream-1 pk 12345 x:00ff"))]),
        "result")
    add("egress/kinesis_without_hash_key",
        request("conf/all", "g", [(None, prog("kinesis conf.io/kinesis stream-1 pk - x:",
                                   "kinesis conf.io/kinesis s2 pk2 ~ x:41"))]), "result")
    add("egress/generic_every_type",
        request("conf/all", "g", [(None, prog(*["egress conf.eg/%s %s %s" % (t, t, lit(t, v))
                                               for t in TYPE_ORDER for v in EDGES[t][:3]]))]),
        "result")
    add("egress/interleaved_order",
        request("conf/all", "g", [(None, prog("egress a/b int 1", "kafka k/a t - x:01",
                                              "kinesis k/b s p - x:02", "egress a/b int 2")),
                                  (None, prog("kafka k/a t key x:03", "egress z.z/y string x:"))]),
        "result")
    add("egress/dotted_namespace",
        request("conf/all", "g", [(None, prog("egress com.example.deep.ns/sink-1 long 5"))]), "result")

    # -- messages ----------------------------------------------------------------------------
    add("send/every_type",
        request("conf/all", "s", [(None, prog(*["send conf.peer/%s id-%s %s %s" % (t, t, t, lit(t, v))
                                               for t in TYPE_ORDER for v in EDGES[t][-2:]]))]),
        "result")
    add("send/unicode_ids_and_order",
        request("conf/all", "s", [(None, prog("send a/b ü1 int 1", "send a/b 日本 int 2",
                                              "send x.y/z id/with/slash int 3"))]), "result")
    add("send/all_effects_together",
        request("conf/all", "s", [("p/q/r", prog("set i 1", "send a/b c int 1",
                                                 "send_after 5 t a/b c int 2", "cancel t",
                                                 "egress e/f int 3", "kafka k/k top - x:",
                                                 "clear s", "reply long 9"))],
                values={"s": "x"}), "result")

    # -- request/reply shapes ----------------------------------------------------------------
    add("shape/no_side_effects",
        request("conf/all", "n", [(None, prog()), (None, prog("  ;; "))], values={"i": 1}), "empty",
        "Python leaves both oneofs unset when nothing happened")
    add("shape/zero_invocations", request("conf/all", "n", [], values={"i": 1}), "empty")
    add("shape/unknown_fields_ignored",
        request("conf/all", "u", [(None, prog("emit i", "set s x:61"))], values={"i": 4})
        + b"\x08\x01\x12\x03abc", "result")
    add("shape/duplicate_state_last_wins",
        request("conf/all", "u", [(None, prog("emit i"))], values={"i": 4},
                extra=[ToFunction.PersistedValue(state_name="i", state_value=typed("int", 9))]),
        "result", "the runtime never sends a name twice; Python keeps the last")
    # Not tested: a target or egress typename with two '/' ("a/b/c"). Python
    # splits it at the last '/'; ours rejects it (SF_ERR_BAD_TYPENAME), as the
    # runtime's TypeName.parseFrom does, so the batch fails instead of
    # producing a message nothing can receive.

    # -- failures -------------------------------------------------------------------------------
    add("fail/first_invocation", request("conf/all", "f", [(None, prog("fail"))]), "failed")
    add("fail/after_effects_mid_batch",
        request("conf/all", "f", [(None, prog("set i 1", "send a/b c int 1")),
                                  (None, prog("egress e/f int 2", "fail")),
                                  (None, prog("set s x:61"))]), "failed")
    add("fail/unknown_state", request("conf/order", "f", [(None, prog("emit nope"))]), "failed")
    add("fail/unknown_message_type",
        request("conf/all", "f", [(None, TypedValue(typename="conf.types/unknown", has_value=True,
                                                    value=b"\x01"))]), "failed")
    add("fail/bad_wrapper_bytes",
        request("conf/all", "f", [(None, TypedValue(typename=IntType.typename, has_value=True,
                                                    value=b"\x0d\x01\x02"))]), "failed")
    add("fail/string_message_invalid_utf8",
        request("conf/all", "f", [(None, TypedValue(typename=StringType.typename, has_value=True,
                                                    value=b"\x0a\x02\xc3\x28"))]), "failed",
        "Python's parser rejects a StringWrapper that is not UTF-8")
    add("fail/bad_state_bytes",
        request("conf/all", "f", [(None, prog("emit l"))],
                values={"l": TypedValue(typename=LongType.typename, has_value=True,
                                        value=b"\x09\x01")}), "failed")
    add("fail/json_state_empty_bytes",
        request("conf/all", "f", [(None, prog("emit j"))],
                values={"j": TypedValue(typename=JSON_T.typename, has_value=True)}), "failed")
    add("fail/json_state_invalid",
        request("conf/all", "f", [(None, prog("emit j"))],
                values={"j": TypedValue(typename=JSON_T.typename, has_value=True, value=b"{nope")}),
        "failed")
    add("fail/unknown_function",
        request("conf/missing", "f", [(None, prog("whoami"))], attach=False), "failed")
    add("fail/no_invocation", ToFunction().SerializeToString(), "failed")
    add("fail/garbage_bytes", b"\xa2\x06\xff\xff\xff", "failed")
    add("fail/target_without_slash",
        request("conf/all", "f", [(None, prog("send noslash id int 1"))]), "failed")
    add("fail/kafka_empty_topic",
        request("conf/all", "f", [(None, prog("kafka k/k ~ - x:00"))]), "failed")
    add("fail/kinesis_empty_stream",
        request("conf/all", "f", [(None, prog("kinesis k/k ~ pk - x:00"))]), "failed")
    return cases


def random_cases(n):
    rng = random.Random(SEED)
    cases = []
    fns = ["conf/all", "conf/all", "conf/expire", "conf/order", "conf/nostate"]
    for k in range(n):
        fn = rng.choice(fns)
        specs = SPECS[fn]
        values = {}
        for sname, t, _, _ in specs:
            r = rng.random()
            if r < 0.5:
                values[sname] = rand_value(rng, t)
            elif r < 0.6:
                values[sname] = TypedValue(typename=TYPES[t].typename, has_value=False)
        invs = []
        for _ in range(rng.randint(1, 20)):
            caller = rng.choice([None, None, "conf.peer/caller/c%d" % rng.randint(0, 3)])
            if rng.random() < 0.25:
                t = rng.choice(TYPE_ORDER)
                invs.append((caller, typed(t, rand_value(rng, t))))
                continue
            cmds = []
            for _ in range(rng.randint(1, 6)):
                op = rng.choice(["set", "clear", "emit", "add", "append", "send", "send_after",
                                 "cancel", "reply", "whoami", "kafka", "kafka_typed", "kinesis",
                                 "egress"])
                t = rng.choice(TYPE_ORDER)
                v = rand_value(rng, t)
                if op in ("set", "clear", "emit", "add", "append"):
                    if not specs:
                        continue
                    sname, st, _, _ = rng.choice(specs)
                    if op == "set":
                        cmds.append("set %s %s" % (sname, lit(st, rand_value(rng, st))))
                    elif op in ("clear", "emit"):
                        cmds.append("%s %s" % (op, sname))
                    elif op == "add" and st in ("int", "long"):
                        cmds.append("add %s %d" % (sname, rng.randint(INT32_MIN, INT32_MAX)))
                    elif op == "append" and st == "string":
                        cmds.append("append %s %s" % (sname, lit("string", rand_value(rng, "string"))))
                elif op == "send":
                    cmds.append("send conf.peer/r%d id%d %s %s" % (rng.randint(0, 2), rng.randint(0, 9),
                                                                   t, lit(t, v)))
                elif op == "send_after":
                    cmds.append("send_after %d %s conf.peer/d id %s %s" % (
                        rand_delay(rng), rng.choice(["-", "~", "tok%d" % rng.randint(0, 3)]), t, lit(t, v)))
                elif op == "cancel":
                    cmds.append("cancel tok%d" % rng.randint(0, 3))
                elif op == "reply":
                    cmds.append("reply %s %s" % (t, lit(t, v)))
                elif op == "whoami":
                    cmds.append("whoami")
                elif op == "kafka":
                    cmds.append("kafka conf.io/kafka topic%d %s %s" % (
                        rng.randint(0, 2), rng.choice(["-", "~", "key"]), lit("raw", rand_value(rng, "raw"))))
                elif op == "kafka_typed" and t != "json":
                    cmds.append("kafka_typed conf.io/kafka t %s %s %s" % (rng.choice(["-", "k"]), t, lit(t, v)))
                elif op == "kinesis":
                    cmds.append("kinesis conf.io/kinesis s pk%d %s %s" % (
                        rng.randint(0, 2), rng.choice(["-", "~", "777"]), lit("raw", rand_value(rng, "raw"))))
                elif op == "egress":
                    cmds.append("egress conf.io/eg%d %s %s" % (rng.randint(0, 2), t, lit(t, v)))
            invs.append((caller, prog(*cmds)))
        cases.append(Case("random/%02d" % k, request(fn, "rnd%d" % k, invs, values=values), "result",
                          "%s, %d invocations" % (fn, len(invs))))
    return cases


# ---------------------------------------------------------------------------
# Running both sides
# ---------------------------------------------------------------------------

def run_python(handler, req):
    try:
        return ("ok", handler.handle_sync(req))
    except Exception as e:  # the official handler raises; the web layer answers 500
        return ("failed", "%s: %s" % (type(e).__name__, e))


class CSide:
    """conformance_fn --serve: all frames in, all answers out, one process."""

    def __init__(self, path):
        self.path = path

    def run(self, frames, inject_bug=False):
        data = b"".join(struct.pack("<cI", op, len(p)) + p for op, p in frames)
        env = dict(os.environ)
        env.pop("SF_CONFORMANCE_INJECT_BUG", None)
        if inject_bug:
            env["SF_CONFORMANCE_INJECT_BUG"] = "1"
        proc = subprocess.run([self.path, "--serve"], input=data, capture_output=True, timeout=900,
                              env=env)
        if proc.stderr:
            sys.stderr.write(proc.stderr.decode("utf-8", "replace"))
        out, pos, answers = proc.stdout, 0, []
        while pos + 8 <= len(out):
            status, n = struct.unpack_from("<iI", out, pos)
            answers.append((status, out[pos + 8:pos + 8 + n]))
            pos += 8 + n
        if proc.returncode != 0 or len(answers) != len(frames) or pos != len(out):
            raise RuntimeError("conformance_fn --serve exited %d after %d of %d answers"
                               % (proc.returncode, len(answers), len(frames)))
        return answers


# ---------------------------------------------------------------------------
# Comparison
# ---------------------------------------------------------------------------

TYPED_VALUE = TypedValue.DESCRIPTOR.full_name


class JsonText:
    """A JSON TypedValue.value: equal when it parses to the same document."""

    def __init__(self, raw):
        self.raw = raw
        try:
            self.doc = json.loads(raw.decode("utf-8"))
            self.key = json.dumps(self.doc, sort_keys=True, ensure_ascii=False)
        except Exception:
            self.doc, self.key = None, ("invalid", raw)

    def __eq__(self, other):
        return isinstance(other, JsonText) and self.key == other.key

    def __repr__(self):
        return "json %s (bytes %r)" % (self.key, self.raw)


def describe_value(typename, raw):
    """A readable rendering of a TypedValue's bytes, for diffs."""
    t = TYPENAME_TO_TYPE.get(typename)
    try:
        if t in ("float", "double"):
            v = TYPES[t].serializer().deserialize(raw)
            bits = struct.unpack("<I", struct.pack("<f", v))[0] if t == "float" else \
                struct.unpack("<Q", struct.pack("<d", v))[0]
            return "%s %r (bits %x)" % (t, v, bits)
        if t is not None and t != "raw":
            return "%s %r" % (t, TYPES[t].serializer().deserialize(raw))
    except Exception as e:
        return "undecodable %s: %s" % (t, e)
    return ""


def normalize(msg):
    """A FromFunction (or any message) as nested dicts of its set fields."""
    out = {}
    for fd, val in msg.ListFields():
        if fd.label == fd.LABEL_REPEATED:
            out[fd.name] = [normalize(x) if fd.message_type else x for x in val]
        elif fd.message_type:
            out[fd.name] = normalize(val)
        elif fd.enum_type:
            out[fd.name] = fd.enum_type.values_by_number[val].name if val in fd.enum_type.values_by_number else val
        else:
            out[fd.name] = val
    if msg.DESCRIPTOR.full_name == TYPED_VALUE and msg.typename == JSON_T.typename \
            and "value" in out:
        out["value"] = JsonText(msg.value)
    if "state_mutations" in out:
        # The one list compared as a multiset: the runtime applies mutations to
        # distinct states (each name at most once per reply; a duplicate would
        # show up here as an extra entry) after all messages, so their relative
        # order is not observable. The Python SDK emits them in declaration
        # order; we do not require that of our SDK.
        out["state_mutations"] = sorted(out["state_mutations"],
                                        key=lambda m: (m.get("state_name", ""), repr(m)))
    return out


def fmt(v, typename=None):
    if isinstance(v, bytes):
        d = describe_value(typename, v) if typename else ""
        return "%s%s" % (v.hex() or "(empty)", " = " + d if d else "")
    if isinstance(v, (dict, list)):
        s = repr(v)
        return s if len(s) < 300 else s[:300] + "..."
    return repr(v)


def diff(a, b, path, out, typename=None):
    if isinstance(a, dict) and isinstance(b, dict):
        tn = a.get("typename") if a.get("typename") == b.get("typename") else None
        for k in sorted(set(a) | set(b)):
            p = "%s.%s" % (path, k) if path else k
            if k not in a:
                out.append("%s: python=<unset> ours=%s" % (p, fmt(b[k], tn)))
            elif k not in b:
                out.append("%s: python=%s ours=<unset>" % (p, fmt(a[k], tn)))
            else:
                diff(a[k], b[k], p, out, tn)
    elif isinstance(a, list) and isinstance(b, list):
        if len(a) != len(b):
            out.append("%s: python has %d entries, ours %d" % (path, len(a), len(b)))
        for i, (x, y) in enumerate(zip(a, b)):
            diff(x, y, "%s[%d]" % (path, i), out, typename)
    elif type(a) != type(b) or a != b:
        out.append("%s: python=%s ours=%s" % (path, fmt(a, typename), fmt(b, typename)))


def outcome_kind(raw):
    ff = FromFunction()
    ff.ParseFromString(raw)
    w = ff.WhichOneof("response")
    return {"invocation_result": "result", "incomplete_invocation_context": "incomplete",
            None: "empty"}[w], ff


def compare(py, c):
    """py: ("ok", bytes) | ("failed", reason); c: (status, payload).
    Returns (list of differences, python outcome kind)."""
    status, payload = c
    if py[0] == "failed":
        if status == 0:
            return (["outcome: python failed (%s) but ours returned a reply (%s)"
                     % (py[1], fmt(normalize(outcome_kind(payload)[1])))], "failed")
        return [], "failed"
    kind, pyff = outcome_kind(py[1])
    if status != 0:
        return (["outcome: python replied %s but ours failed with status %d: %s"
                 % (kind, status, payload.decode("utf-8", "replace"))], kind)
    try:
        ckind, cff = outcome_kind(payload)
    except Exception as e:
        return (["ours: reply does not parse as FromFunction: %s (%s)" % (e, payload.hex())], kind)
    out = []
    diff(normalize(pyff), normalize(cff), "", out)
    return out, kind


def count_values(msg):
    """Number of TypedValues in a parsed message (for the summary)."""
    n = 1 if msg.DESCRIPTOR.full_name == TYPED_VALUE else 0
    for fd, val in msg.ListFields():
        if fd.message_type:
            for x in (val if fd.label == fd.LABEL_REPEATED else [val]):
                n += count_values(x)
    return n


# ---------------------------------------------------------------------------
# Codec cases: sf_encode_* / sf_decode_* vs the generated wrappers
# ---------------------------------------------------------------------------

WRAPPERS = [("bool", types_pb2.BooleanWrapper), ("int", types_pb2.IntWrapper),
            ("long", types_pb2.LongWrapper), ("float", types_pb2.FloatWrapper),
            ("double", types_pb2.DoubleWrapper), ("string", types_pb2.StringWrapper)]
KIND = {t: i for i, (t, _) in enumerate(WRAPPERS)}


def to_bits(t, v):
    """The 64-bit pattern conformance_fn uses for a value of type t."""
    if t == "bool":
        return 1 if v else 0
    if t in ("int", "long"):
        return v & 0xFFFFFFFFFFFFFFFF
    if t == "float":
        return struct.unpack("<I", struct.pack("<f", v))[0]
    if t == "double":
        return struct.unpack("<Q", struct.pack("<d", v))[0]
    raise ValueError(t)


def codec_cases():
    """(name, [(frame, python_expectation, description)])"""
    rng = random.Random(SEED + 2)
    groups = []
    for t, W in WRAPPERS[:5]:
        vals = [pyval(t, v) for v in EDGES[t]] + [pyval(t, rand_value(rng, t)) for _ in range(300)]
        if t == "float":
            vals += [f32(0x7fc00001), f32(0xffc12345)]
        if t == "double":
            vals += [f64(0x7ff8000000000001), f64(0xfff0000000001234)]
        items = []
        for v in vals:
            frame = (b"E", bytes([KIND[t]]) + struct.pack("<Q", to_bits(t, v)))
            items.append((frame, ("ok", W(value=v).SerializeToString()), "encode %s %r" % (t, v)))
        groups.append(("codec/encode/" + t, items))

    unknown = [b"\x10\x96\x01", b"\x19" + b"\x11" * 8, b"\x22\x03abc", b"\x2d" + b"\x22" * 4,
               b"\xf8\xff\xff\xff\x0f\x01"]
    for t, W in WRAPPERS:
        inputs = [b""]
        src = EDGES[t] if t != "string" else EDGES["string"]
        canon = [W(value=pyval(t, v)).SerializeToString() for v in src]
        canon += [W(value=pyval(t, rand_value(rng, t))).SerializeToString() for _ in range(50)]
        inputs += canon
        for c in canon[:6]:
            for u in unknown:
                inputs += [u + c, c + u]
            inputs.append(c + c)                       # repeated field: last wins
            if len(c) > 1:
                inputs.append(c[:-1])                  # truncated
        if t == "bool":
            inputs += [b"\x08\x02", b"\x08\xff\x01", b"\x08\x80\x80\x80\x80\x80\x80\x80\x80\x80\x01",
                       b"\x08\x00"]
        if t == "string":
            inputs += [b"\x0a\x00", b"\x0a\x03\xe2\x82\xac", b"\x0a\x05hel"]
        groups.append(("codec/decode/" + t, decode_items(t, W, inputs)))
    # Field 1 with another wire type: protobuf parsers (Python, C++, Java)
    # treat it as an unknown field and skip it.
    wrong = []
    for t, W in WRAPPERS:
        good = {"bool": b"\x08\x05", "int": b"\x0d\x01\x00\x00\x00", "long": b"\x09" + b"\x01" * 8,
                "float": b"\x0d\x00\x00\x80\x3f", "double": b"\x09" + b"\x00" * 6 + b"\xf0\x3f",
                "string": b"\x0a\x02hi"}[t]
        bad = b"\x0a\x01x" if t != "string" else b"\x08\x01"
        wrong += decode_items(t, W, [bad, bad + good, good + bad])
    groups.append(("codec/decode/field1_other_wire_type", wrong))
    # Unknown fields of the (deprecated) group wire types: Python skips them.
    groups.append(("codec/decode/unknown_group_field", decode_items(
        "int", types_pb2.IntWrapper,
        [b"\x33\x08\x01\x34\x0d\x05\x00\x00\x00", b"\x0d\x05\x00\x00\x00\x13\x1a\x00\x14"])))
    # A StringWrapper holding bytes that are not UTF-8: Python's parser
    # rejects it (proto3 strings must be UTF-8).
    groups.append(("codec/decode/string_invalid_utf8", decode_items(
        "string", types_pb2.StringWrapper,
        [b"\x0a\x05\xff\xfe\xfd\xfc\xfb", b"\x0a\x02\xc3\x28", b"\x0a\x03\xed\xa0\x80"])))
    return groups


def decode_items(t, W, inputs):
    items = []
    for raw in inputs:
        try:
            w = W()
            w.ParseFromString(raw)
            want = ("ok", w.value)
        except Exception as e:
            want = ("failed", "%s: %s" % (type(e).__name__, e))
        items.append(((b"D", bytes([KIND[t]]) + raw), want, "decode %s %s" % (t, raw.hex() or "(empty)")))
    return items


def check_codec_item(t_kind, op, want, got):
    status, payload = got
    if want[0] == "failed":
        return None if status != 0 else "python fails (%s), ours returned %s" % (want[1], payload.hex())
    if status != 0:
        return "python gives %r, ours failed with status %d" % (want[1], status)
    if op == b"E":
        return None if payload == want[1] else "python %s, ours %s" % (want[1].hex(), payload.hex())
    t = WRAPPERS[t_kind][0]
    if t == "string":
        exp = want[1].encode("utf-8")
        return None if payload == exp else "python %r, ours %r" % (exp, payload)
    bits = struct.unpack("<Q", payload)[0]
    exp = to_bits(t, want[1])
    if t == "int":
        exp &= 0xFFFFFFFFFFFFFFFF
    return None if bits == exp else "python %r (bits %x), ours bits %x" % (want[1], exp, bits)


# ---------------------------------------------------------------------------
# Self-checks: the comparison must see deliberate perturbations
# ---------------------------------------------------------------------------

def self_checks(handler):
    checks = []
    base_req = request("conf/all", "sc", [
        ("p/q/r", prog("set i 5", "set s x:6869", "clear b", "send a/b c int 1", "send a/b d int 2",
                       "send_after 5 tok a/b c int 3", "egress e/f int 4", "kafka k/a t key x:01",
                       "egress e/g json %s" % lit("json", {"a": 1, "b": [1, 2]})))])
    base = handler.handle_sync(base_req)
    incomplete = handler.handle_sync(request("conf/expire", "sc", [(None, prog("emit w"))], attach=False))

    def perturbed(raw, fn):
        ff = FromFunction()
        ff.ParseFromString(raw)
        fn(ff)
        return ff.SerializeToString()

    def flip(ff):
        v = ff.invocation_result.outgoing_messages[0].argument
        v.value = bytes([v.value[0] ^ 1]) + v.value[1:]

    def swap(ff):
        m = ff.invocation_result.outgoing_messages
        a, b = FromFunction.Invocation(), FromFunction.Invocation()
        a.CopyFrom(m[0])
        b.CopyFrom(m[1])
        m[0].CopyFrom(b)
        m[1].CopyFrom(a)

    def reorder_mutations(ff):
        m = ff.invocation_result.state_mutations
        items = [FromFunction.PersistedValueMutation() for _ in m]
        for x, y in zip(items, m):
            x.CopyFrom(y)
        del m[:]
        for x in reversed(items):
            m.add().CopyFrom(x)

    def json_reformat(ff):
        v = ff.invocation_result.outgoing_egresses[2].argument
        v.value = json.dumps(json.loads(v.value), separators=(",", ":"), sort_keys=True).encode()

    def json_change(ff):
        v = ff.invocation_result.outgoing_egresses[2].argument
        v.value = b'{"a": 2, "b": [1, 2]}'

    perturbations = [
        ("flipped value byte", base, lambda ff: flip(ff), True),
        ("dropped egress", base, lambda ff: ff.invocation_result.outgoing_egresses.pop(), True),
        ("swapped messages", base, swap, True),
        ("MODIFY became DELETE", base,
         lambda ff: [m.ClearField("state_value") or setattr(m, "mutation_type", 0)
                     for m in ff.invocation_result.state_mutations if m.state_name == "i"], True),
        ("has_value false", base,
         lambda ff: setattr(ff.invocation_result.outgoing_egresses[0].argument, "has_value", False), True),
        ("delay changed", base,
         lambda ff: setattr(ff.invocation_result.delayed_invocations[0], "delay_in_ms", 6), True),
        ("token dropped", base,
         lambda ff: ff.invocation_result.delayed_invocations[0].ClearField("cancellation_token"), True),
        ("expiration mode changed", incomplete,
         lambda ff: setattr(ff.incomplete_invocation_context.missing_values[0].expiration_spec, "mode", 2),
         True),
        ("expiration spec dropped", incomplete,
         lambda ff: ff.incomplete_invocation_context.missing_values[2].ClearField("expiration_spec"), True),
        ("JSON value changed", base, json_change, True),
        ("mutations reordered (allowed)", base, reorder_mutations, False),
        ("JSON reformatted (allowed)", base, json_reformat, False),
    ]
    for name, raw, fn, must_differ in perturbations:
        d, _ = compare(("ok", raw), (0, perturbed(raw, fn)))
        ok = bool(d) == must_differ
        checks.append(("selfcheck/" + name, ok,
                       d if ok else (["comparison reported nothing"] if must_differ else d)))
    d, _ = compare(("ok", base), (-13, b"function failed"))
    checks.append(("selfcheck/ours failed, python ok", bool(d), d or ["not reported"]))
    d, _ = compare(("failed", "boom"), (0, base))
    checks.append(("selfcheck/python failed, ours ok", bool(d), d or ["not reported"]))
    d, _ = compare(("ok", base), (0, base))
    checks.append(("selfcheck/identical replies", not d, d))
    return checks


# ---------------------------------------------------------------------------
# Main
# ---------------------------------------------------------------------------

def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--fn", required=True, help="path of the conformance_fn binary")
    ap.add_argument("--filter", default="", help="run only cases whose name contains this")
    ap.add_argument("--random", type=int, default=40, help="number of random cases")
    ap.add_argument("--dump", help="write each case's request to DIR/<name>.bin")
    ap.add_argument("-v", "--verbose", action="store_true")
    args = ap.parse_args()

    try:
        from importlib.metadata import version
        sdk_version = version("apache-flink-statefun")
    except Exception:
        sdk_version = "unknown"
    print("conformance: official Python SDK apache-flink-statefun %s (%s), ours %s"
          % (sdk_version, os.path.dirname(statefun.__file__), args.fn))
    if sdk_version != "3.3.0":
        print("conformance: expected apache-flink-statefun 3.3.0")
        return 2

    handler = python_handler()
    cases = [c for c in explicit_cases() + random_cases(args.random) if args.filter in c.name]
    codecs = [g for g in codec_cases() if args.filter in g[0]]
    if args.dump:
        os.makedirs(args.dump, exist_ok=True)
        for c in cases:
            with open(os.path.join(args.dump, c.name.replace("/", "__") + ".bin"), "wb") as f:
                f.write(c.req)

    frames = [(b"H", c.req) for c in cases]
    for _, items in codecs:
        frames += [it[0] for it in items]
    try:
        answers = CSide(args.fn).run(frames)
    except Exception as e:  # crash, sanitizer report, protocol error
        print("FAIL conformance_fn: %s" % e)
        print("0 passed, %d failed" % len(cases))
        return 1

    tally = Tally()
    failures = []
    values_compared = identical = 0
    non_json_differ = []  # equal field by field but serialized differently

    def report(name, ok, lines, extra=""):
        if tally.add(ok):
            print("PASS %s%s" % (name, (" (" + extra + ")") if extra and args.verbose else ""))
        else:
            failures.append(name)
            print("FAIL %s%s" % (name, (" (" + extra + ")") if extra else ""))
            for line in lines[:40]:
                print("     " + line)
            if len(lines) > 40:
                print("     ... %d more differences" % (len(lines) - 40))

    for c, ans in zip(cases, answers[:len(cases)]):
        py = run_python(handler, c.req)
        try:
            d, kind = compare(py, ans)
        except Exception:
            d, kind = ["comparison crashed: " + traceback.format_exc()], "?"
        if kind != c.expect:
            d = ["suite error: the Python SDK gave %s, the case expects %s (%s)"
                 % (kind, c.expect, py[1] if py[0] == "failed" else "")] + d
        note = c.note
        if not d and py[0] == "ok":
            ff = FromFunction()
            ff.ParseFromString(py[1])
            values_compared += count_values(ff)
            identical += py[1] == ans[1]
            if py[1] != ans[1] and JSON_T.typename.encode() not in py[1]:
                non_json_differ.append(c.name)
            if args.verbose and py[1] != ans[1]:
                note = (note + "; " if note else "") + "equal, not byte-identical"
        if args.verbose and py[0] == "failed":
            note = (note + "; " if note else "") + "both failed: python %s / ours %d %s" % (
                py[1], ans[0], ans[1].decode("utf-8", "replace"))
        report(c.name, not d, d, note)

    pos = len(cases)
    for name, items in codecs:
        got = answers[pos:pos + len(items)]
        pos += len(items)
        bad = []
        for (frame, want, desc), g in zip(items, got):
            err = check_codec_item(frame[1][0], frame[0], want, g)
            if err:
                bad.append("%s: %s" % (desc, err))
        report(name, not bad, bad, "%d values" % len(items))

    if not args.filter or "selfcheck" in args.filter:
        for name, ok, lines in self_checks(handler):
            report(name, ok, lines)
        # End to end: conformance_fn with a deliberate bug (int state writes
        # off by one) must make the int cases fail.
        bug_cases = [c for c in explicit_cases() if c.name in (
            "types/state_write/int", "expire/write_all", "state/set_same_value_is_dirty")]
        bug_answers = CSide(args.fn).run([(b"H", c.req) for c in bug_cases], inject_bug=True)
        caught = [c.name for c, a in zip(bug_cases, bug_answers)
                  if compare(run_python(handler, c.req), a)[0]]
        report("selfcheck/injected C bug detected", len(caught) == len(bug_cases),
               ["not detected in: " + ", ".join(c.name for c in bug_cases if c.name not in caught)],
               "caught in " + ", ".join(caught))

    print("conformance: %d TypedValues compared in passing replies; %d replies byte-identical"
          " to the Python SDK's; among those without JSON values, %d differ only in serialization%s"
          % (values_compared, identical, len(non_json_differ),
             (" (" + ", ".join(non_json_differ) + ")") if non_json_differ else ""))
    if failures:
        print("conformance: failed: " + ", ".join(failures))
    print(tally.summary())
    return tally.exit_code()


if __name__ == "__main__":
    sys.exit(main())
