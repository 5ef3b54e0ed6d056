#!/usr/bin/env python3
"""Writes the seed corpus of the fuzz harnesses into fuzz/corpus/<target>/.

Run with the venv of scripts/python-env.sh (it has the official StateFun
Python SDK, whose protobuf classes build the requests):

    "$(scripts/python-env.sh)" fuzz/make_corpus.py

The output is deterministic; seeds are named seed-*. Inputs found by
fuzzing (fuzz/run.sh --merge) live beside them with hash names.
"""
import os
import random
import struct
import sys

from statefun.request_reply_pb2 import Address, ToFunction, TypedValue
from statefun.types_pb2 import (BooleanWrapper, DoubleWrapper, FloatWrapper,
                                IntWrapper, LongWrapper, StringWrapper)

HERE = os.path.dirname(os.path.abspath(__file__))
OUT = os.path.join(HERE, "corpus")

sys.path.insert(0, os.path.join(HERE, "..", "tests", "pylib"))
from sftest.wire import f_len, f_str, f_varint, key  # noqa: E402

FN_TYPES, FN_ACTIONS, FN_NOSTATE = "fuzz.fns/types", "fuzz.fns/actions", "fuzz.fns/nostate"
T_JSON, T_RAW = "fuzz.types/json", "fuzz.types/raw"
T_PROTO = "type.googleapis.com/statefun.fuzz.FuzzRecord"


def fuzz_record(name, count, part=b"", flag=False):
    """statefun.fuzz.FuzzRecord (fuzz/fuzz_types.proto), encoded by hand."""
    return (f_str(1, name) + f_varint(2, count) + f_str(3, part, always=True)
            + f_varint(4, int(flag)))


# typename -> an example encoded value
VALUES = {
    "io.statefun.types/bool": BooleanWrapper(value=True).SerializeToString(),
    "io.statefun.types/int": IntWrapper(value=-42).SerializeToString(),
    "io.statefun.types/long": LongWrapper(value=1 << 40).SerializeToString(),
    "io.statefun.types/float": FloatWrapper(value=1.5).SerializeToString(),
    "io.statefun.types/double": DoubleWrapper(value=-2.25).SerializeToString(),
    "io.statefun.types/string": StringWrapper(value="héllo").SerializeToString(),
    T_JSON: b'{"count":3,"flag":true,"tags":["a","b"]}',
    T_RAW: b"\x00\x01\x02raw bytes\xff",
    T_PROTO: fuzz_record("rec", 7, b"part", True),
}

# the specs of fuzz.fns/types and fuzz.fns/actions (fuzz_common.c)
SPECS = [
    ("flag", "io.statefun.types/bool", BooleanWrapper(value=True)),
    ("count", "io.statefun.types/int", IntWrapper(value=12)),
    ("total", "io.statefun.types/long", LongWrapper(value=12000)),
    ("ratio", "io.statefun.types/float", FloatWrapper(value=0.5)),
    ("avg", "io.statefun.types/double", DoubleWrapper(value=3.125)),
    ("name", "io.statefun.types/string", StringWrapper(value="alice")),
    ("doc", T_JSON, None),
    ("blob", T_RAW, None),
    ("rec", T_PROTO, None),
]


def state_bytes(name, typename, wrapper):
    if wrapper is not None:
        return wrapper.SerializeToString()
    return VALUES[typename]


def request(target, fid, invocations, state="full", callers=None):
    """A ToFunction; `invocations` is a list of (typename, bytes or None)."""
    tf = ToFunction()
    batch = tf.invocation
    ns, typ = target.split("/")
    batch.target.CopyFrom(Address(namespace=ns, type=typ, id=fid))
    if target in (FN_TYPES, FN_ACTIONS):
        for i, (name, typename, wrapper) in enumerate(SPECS):
            pv = batch.state.add()
            pv.state_name = name
            if state == "missing" and i % 3 == 0:
                batch.state.pop()
            elif state == "none":
                batch.state.pop()
            elif state == "empty" or (state == "some" and i % 2):
                pass  # state_name only: no value, as the runtime sends it
            else:
                pv.state_value.CopyFrom(TypedValue(
                    typename=typename, has_value=True,
                    value=state_bytes(name, typename, wrapper)))
    for k, (typename, value) in enumerate(invocations):
        inv = batch.invocations.add()
        if value is None:
            inv.argument.CopyFrom(TypedValue(typename=typename, has_value=False))
        else:
            inv.argument.CopyFrom(TypedValue(typename=typename, has_value=True,
                                             value=value))
        if callers and callers[k % len(callers)]:
            cns, ctype, cid = callers[k % len(callers)]
            inv.caller.CopyFrom(Address(namespace=cns, type=ctype, id=cid))
    return tf.SerializeToString()


# ---- programs for fuzz.fns/actions (see fn_actions in fuzz_common.c) -------

def u32(v):
    return struct.pack(">I", v & 0xFFFFFFFF)


def u64(v):
    return struct.pack(">Q", v & 0xFFFFFFFFFFFFFFFF)


def sl(b):
    return bytes([len(b)]) + b


def op(code, spec=0, operands=b""):
    return bytes([code, spec]) + operands


PROGRAM_OPS = {
    "set_int": op(0, 1, u32(99)),
    "clear": op(1, 5),
    "send": op(2, 0, sl(b"bob") + u32(5)),
    "send_after_token": op(3, 0, bytes([3, 4 | 1]) + sl(b"later")),
    "send_after": op(3, 0, bytes([1, 0]) + sl(b"x")),
    "cancel": op(4, 0, bytes([1])),
    "egress": op(5, 0, sl(b"to the egress")),
    "kafka": op(6 + 32, 0, sl(b"kafka value")),
    "kinesis": op(7 + 32, 0, sl(b"kinesis value")),
    "set_string": op(8, 0, sl("grüße".encode())),
    "set_json": op(9, 0, sl(b"json text")),
    "read_all": op(10, 0),
    "fail": op(11, 0),
    "set_raw": op(12, 0, sl(b"\x00\x01\x02")),
    "send_bad_typename": op(13, 0, sl(b"id") + bytes([1])),
    "set_mismatch": op(14, 0),
    "set_proto": op(15, 0, u64(123456789)),
    "scratch": op(16, 0, bytes([4])),
    "set_numbers": op(17, 0, u64(0x400921FB54442D18)),
    "ghost": op(18, 0),
    "send_self": op(19, 0, sl(b"loop")),
    "set_bool": op(20, 0, bytes([1])),
}


def write(target, name, data):
    d = os.path.join(OUT, target)
    os.makedirs(d, exist_ok=True)
    with open(os.path.join(d, "seed-" + name), "wb") as f:
        f.write(data)


def handler_seeds():
    t = "fuzz_handler"
    for typename, value in VALUES.items():
        short = typename.rsplit("/", 1)[1].rsplit(".", 1)[-1].lower()
        write(t, "types-" + short, request(FN_TYPES, "id-1", [(typename, value)]))
    write(t, "types-no-value", request(FN_TYPES, "id-1", [(T_RAW, None)]))
    write(t, "types-missing-state", request(FN_TYPES, "a", [(T_RAW, b"x")], state="missing"))
    write(t, "types-no-state", request(FN_TYPES, "a", [(T_RAW, b"x")], state="none"))
    write(t, "types-empty-state", request(FN_TYPES, "a", [(T_RAW, b"x")], state="empty"))
    write(t, "types-some-state", request(FN_TYPES, "a", [(T_RAW, b"x")], state="some"))
    batch = [(tn, v) for tn, v in VALUES.items()]
    callers = [None, ("fuzz.fns", "nostate", "c1"), ("fuzz.fns", "types", "c2")]
    write(t, "types-batch", request(FN_TYPES, "batch", batch, callers=callers))
    everything = b"".join(v for k, v in PROGRAM_OPS.items() if k != "fail")
    write(t, "actions-all", request(FN_ACTIONS, "prog", [(T_RAW, everything)]))
    for name, prog in PROGRAM_OPS.items():
        write(t, "actions-" + name, request(FN_ACTIONS, "p", [(T_RAW, prog)]))
    write(t, "actions-batch", request(
        FN_ACTIONS, "p", [(T_RAW, PROGRAM_OPS["set_int"]),
                          (T_RAW, PROGRAM_OPS["read_all"]),
                          (T_RAW, PROGRAM_OPS["clear"] + PROGRAM_OPS["send"])]))
    write(t, "nostate-caller", request(
        FN_NOSTATE, "n", [("io.statefun.types/string", VALUES["io.statefun.types/string"])],
        callers=[("fuzz.fns", "types", "back")]))
    write(t, "nostate-empty-caller", request(
        FN_NOSTATE, "n", [(T_RAW, b"")], callers=[("", "", "")]))
    write(t, "unknown-function", request("fuzz.fns/unknown", "u", [(T_RAW, b"x")]))
    write(t, "no-invocation", ToFunction().SerializeToString())
    write(t, "zero-invocations", request(FN_TYPES, "z", []))
    full = request(FN_TYPES, "trunc", batch)
    write(t, "truncated", full[: len(full) // 2])


def decoder_seeds():
    t = "fuzz_decoders"
    order = ["bool", "int", "long", "float", "double", "string", "json", "raw"]
    names = {"json": T_JSON, "raw": T_RAW}
    for i, short in enumerate(order):
        tn = names.get(short, "io.statefun.types/" + short)
        write(t, short, bytes([i]) + VALUES[tn])
        write(t, short + "-no-value", bytes([i | 0x80]) + VALUES[tn])
    write(t, "bool-last-wins", bytes([0]) + b"\x08\x01\x08\x00")
    write(t, "int-unknown-field", bytes([1]) + b"\x10\x05\x0d\x01\x00\x00\x00")
    write(t, "string-long", bytes([5]) + StringWrapper(value="x" * 300).SerializeToString())
    write(t, "typename", bytes([8]) + b"com.example/Type")
    write(t, "state-name", bytes([9]) + b"seen_count_2")
    write(t, "empty", b"")


def structured_seeds():
    # fuzz_structured reads its input as choices (fuzz_structured.c), so
    # any bytes are a valid request; seed each target with random choices.
    t = "fuzz_structured"
    rng = random.Random(20240601)
    for target in range(4):
        for k in range(3):
            n = rng.choice([32, 128, 512])
            body = bytes(rng.randrange(256) for _ in range(n))
            sel = bytes([target | rng.choice([0, 0x10, 0x20, 0x40, 0x80])])
            write(t, "t%d-%d" % (target, k), sel + b"\x04abcd" + body)


def copy_files(target, pattern_dirs):
    """The tests' real inputs as seeds (seed-<dir>-<file>)."""
    root = os.path.join(HERE, "..")
    for d, suffix in pattern_dirs:
        for f in sorted(os.listdir(os.path.join(root, d))):
            if f.endswith(suffix):
                with open(os.path.join(root, d, f), "rb") as fh:
                    write(target, os.path.basename(d) + "-" + f, fh.read())


def front_seeds():
    # fuzz_front.c: first byte = surface (0 path, 1 Content-Type, 2 [type
    # NUL] JSON, 3 ?wait=, 4 percent-decoding, 5 entity path NUL body, 6
    # JSON-lines topic records).
    t = "fuzz_front"
    for i, path in enumerate([b"/example/greeter/alice", b"/ns/t/a/b%2Fc",
                              b"/ns/t/%E2%82%AC%20x", b"/ns/t/", b"/ns//id",
                              b"/a%00b/t/i", b"/ns/t/%zz", b"/ns/t/a+b?wait=1"]):
        write(t, "path-%d" % i, b"\x00" + path)
    for i, ct in enumerate([b"application/vnd.example/GreetRequest; charset=utf-8",
                            b"application/json", b"TEXT/Plain;charset=utf-8",
                            b"application/vnd.nonamespace", b"image/png",
                            b"application/vnd.type.googleapis.com/io.statefun.Point"]):
        write(t, "ctype-%d" % i, b"\x01" + ct)
    for i, (typ, body) in enumerate([
            (None, b'"hello"'), (None, b"true"), (None, b"-9007199254740993"),
            (None, b"1.5e308"), (None, b"{\"a\": [1, 2]}"), (b"int", b"2147483648"),
            (b"float", b"3.4e39"), (b"long", b"12"), (b"string", b"\"\\u00e9\\ud83d\\ude00\""),
            (b"bool", b"0"), (b"double", b"1e400"), (b"nope", b"1")]):
        write(t, "json-%d" % i, b"\x02" + (typ + b"\x00" if typ else b"") + body)
    for i, w in enumerate([b"0", b"0.5", b"2.25", b"1e3", b"-1", b"99999999999999999999",
                           b"nan", b"1."]):
        write(t, "wait-%d" % i, b"\x03" + w)
    for i, q in enumerate([b"a%20b+c", b"%", b"%4", b"%e2%82%ac", b"%00"]):
        write(t, "pct-%d" % i, b"\x04" + q)
    for i, body in enumerate([
            b'{"key":"alice","value":"book"}\n{"key":"bob","value_base64":"CgNib2I="}\n',
            b'\n\r\n  {"key":"a","value_base64":"AA==","value":"x","seq":1}\r\n',
            b'{"key":"a","value":"\\u0000\\u00e9"}', b'{"key":"","value":""}',
            b'{"key":"a"}', b'{"key":"a","value":1}', b'{"key":"a","value_base64":"A"}',
            b'{"key":"a","key":"b","value":""}', b'[1]', b'{"key":"a\\u0001","value":""}']):
        write(t, "records-%d" % i, b"\x06" + body)
    for i, (path, body) in enumerate([
            (b"/codec.test/Keeper/k1/get", b""),
            (b"/codec.test/Keeper/k%2F1/put", b'{"v": {"b": true, "i": 3, "s": "x",'
             b' "y": "AAE=", "r": "k2", "li": [1, 2], "mi": {"a": 1},'
             b' "ld": [0.5], "lli": [["1", "2"]], "inner": {"s": "q", "n": "7"}}}'),
            (b"/codec.test/Keeper/k1/relay", b'{"to": "other"}'),
            (b"/codec.test/Keeper/k1/gather", b'{"to": ["a", "b"]}'),
            (b"/codec.test/Keeper/k1/nope", b"{}"),
            (b"/codec.test/Nobody/k1/get", b""),
            (b"/codec.test/Keeper//get", b""),
            (b"/other.ns/Fn/id", b"x")]):
        write(t, "entity-%d" % i, b"\x05" + path + b"\x00" + body)


def server_http_seeds():
    # fuzz_server_http.c: the raw bytes a client sends the function server
    # (prefix /statefun, 64 KiB body limit).
    t = "fuzz_server_http"
    body = request(FN_TYPES, "id-1", [(T_RAW, b"x")])
    post = (b"POST /statefun HTTP/1.1\r\nHost: a\r\n"
            b"Content-Type: application/octet-stream\r\nContent-Length: %d\r\n\r\n"
            % len(body)) + body
    write(t, "post", post)
    write(t, "post-pipelined", post.replace(b"Host: a", b"Host: a\r\nConnection: keep-alive")
          + b"GET /health HTTP/1.1\r\nHost: a\r\n\r\n")
    chunked = b"%x\r\n" % len(body) + body + b"\r\n0\r\n\r\n"
    write(t, "post-chunked", b"POST /statefun/fn HTTP/1.1\r\nHost: a\r\n"
          b"Transfer-Encoding: chunked\r\n\r\n" + chunked)
    write(t, "post-cl-and-chunked", b"POST /statefun HTTP/1.1\r\nHost: a\r\n"
          b"Content-Length: 5\r\nTransfer-Encoding: chunked\r\n\r\n" + chunked)
    write(t, "post-two-lengths", b"POST /statefun HTTP/1.1\r\nHost: a\r\n"
          b"Content-Length: 3\r\nContent-Length: 4\r\n\r\nabcd")
    write(t, "post-too-large", b"POST /statefun HTTP/1.1\r\nHost: a\r\n"
          b"Content-Length: 99999999999\r\n\r\nabc")
    write(t, "post-huge-chunk", b"POST /statefun HTTP/1.1\r\nHost: a\r\n"
          b"Transfer-Encoding: chunked\r\n\r\nffffffffffff\r\nab")
    write(t, "post-garbage-body", b"POST /statefun HTTP/1.1\r\nHost: a\r\n"
          b"Content-Length: 4\r\n\r\n\x0a\xff\xff\xff")
    write(t, "post-no-host", b"POST /statefun HTTP/1.1\r\nContent-Length: 0\r\n\r\n")
    write(t, "http10", b"POST /statefun HTTP/1.0\r\nContent-Length: 0\r\n\r\n")
    write(t, "get-health", b"GET /health HTTP/1.1\r\nHost: a\r\n\r\n")
    write(t, "head-metrics", b"HEAD /metrics HTTP/1.1\r\nHost: a\r\n\r\n")
    write(t, "get-metrics", b"GET /metrics HTTP/1.1\r\nHost: a\r\n\r\n")
    write(t, "put-health-body", b"PUT /health HTTP/1.1\r\nHost: a\r\n"
          b"Content-Length: 2\r\n\r\nhi")
    write(t, "get-statefun", b"GET /statefun HTTP/1.1\r\nHost: a\r\n\r\n")
    write(t, "unknown-path", b"DELETE /other%00x HTTP/1.1\r\nHost: a\r\n\r\n")
    write(t, "nul-in-url", b"POST /statefun/a\x00b HTTP/1.1\r\nHost: a\r\n\r\n")
    write(t, "garbage", b"\x16\x03\x01\x00\xa5\x01\x00\x00\xa1\x03\x03")


def inner(s, n):
    return f_str(1, s) + f_varint(2, n)


def all_record():
    """record All of tests/codegen/gen/codec.ir.json, one of each field."""
    f64 = struct.pack("<d", 0.25)
    return (f_varint(1, 1) + f_varint(2, 7) + f_varint(3, 1 << 40)
            + key(4, 5) + struct.pack("<f", 1.5) + key(5, 1) + f64
            + f_str(6, "s\u00e9") + f_len(7, b"\x00\xff") + f_str(8, "k2")
            + f_len(9, inner("in", 3)) + f_varint(10, 1) + f_varint(10, 2)
            + f_str(11, "a") + f_len(12, inner("l", 1))
            + f_len(13, f_varint(1, 5) + f_varint(1, 6))
            + f_len(14, f_str(1, "m") + f_varint(2, 9))
            + f_len(15, f_str(1, "r") + f_len(2, inner("v", 2)))
            + f_len(16, f_str(1, "l") + f_len(2, f_str(1, "x")))
            + key(17, 1) + f64 + f_len(18, b"b"))


def ir_json_seeds():
    # fuzz_ir_json.c: first byte = (method << 2) | operation; Keeper's
    # methods are put 0, get 1, relay 2, gather 3.
    t = "fuzz_ir_json"
    rec = all_record()
    write(t, "args-put", bytes([0 << 2 | 0]) + f_len(1, rec))
    write(t, "args-relay", bytes([2 << 2 | 0]) + f_str(1, "k9"))
    write(t, "args-gather", bytes([3 << 2 | 0]) + f_str(1, "a") + f_str(1, "b"))
    write(t, "args-bad-wire", bytes([0 << 2 | 0]) + f_varint(1, 3))
    write(t, "json-put", bytes([0 << 2 | 1]) + b'{"v": {"b": true, "l": "-5",'
          b' "f": 1.5, "d": -0.0, "y": "AP8", "mr": {"k": {"s": "x", "n": "1"}},'
          b' "ml": {"z": ["p"]}, "lb": ["YQ=="]}}')
    write(t, "json-gather", bytes([3 << 2 | 1]) + b'{"to": ["x", "y/z"]}')
    write(t, "json-relay-bad", bytes([2 << 2 | 1]) + b'{"to": 3}')
    write(t, "reply-ok", bytes([0 << 2 | 2]) + f_str(1, "c1") + f_varint(2, 1)
          + f_len(3, f_len(1, rec)) + f_str(5, "rid"))
    write(t, "reply-error", bytes([1 << 2 | 2]) + f_str(1, "c1") + f_str(4, "no such"))
    write(t, "reply-bad-result", bytes([3 << 2 | 2]) + f_varint(2, 1) + f_len(3, b"\x0a\x05"))
    write(t, "record-all", bytes([3]) + rec)


def entity_seeds():
    # fuzz_entity.c: 2 bytes of state modes (2 bits per value: 0 absent,
    # 1 bytes from a slice, 2 missing), then per batch: the number of
    # invocations - 1, and per invocation a kind byte (0 raw Call, 1 raw
    # Reply, 2 Reply to a pending call (4: ok), 3 built Call (8: from an
    # entity); 16: with a caller) and its operands; slices are a length
    # byte + bytes.
    t = "fuzz_entity"

    def sl(b):
        assert len(b) < 256
        return bytes([len(b)]) + b

    def call(method_index, args, kind=3):
        return bytes([kind, method_index]) + sl(args)

    def reply_to(k, result, ok=True):
        return bytes([2 | (4 if ok else 0), k]) + sl(result)

    rec = all_record()
    absent = b"\x00\x00"
    write(t, "put", absent + b"\x00" + call(0, f_len(1, rec)))
    write(t, "get-then-put", absent + b"\x01" + call(1, b"") + call(0, f_len(1, rec), 3 | 16))
    write(t, "relay-answered", absent + b"\x00" + call(2, f_str(1, "k2"), 3 | 8)
          + b"\x00" + reply_to(0, f_len(1, rec)))
    write(t, "relay-failed", absent + b"\x00" + call(2, f_str(1, "k2"))
          + b"\x00" + reply_to(0, b"", ok=False))
    write(t, "gather-answered", absent + b"\x00" + call(3, f_str(1, "a") + f_str(1, "b"))
          + b"\x02" + reply_to(0, f_len(1, rec)) + reply_to(1, b"") + reply_to(2, b"\x0a\x00")
          + b"\x00" + call(1, b""))
    write(t, "missing-state", b"\xaa\x0a" + b"\x00" + call(1, b"") + b"\x00" + call(1, b""))
    write(t, "garbage-state", b"\x55\x05" + sl(b"\x4a\x03\x08") + sl(b"\x08\x07")
          + sl(b"\x0a\xff") + sl(b"\x09" + b"\x00" * 8) + sl(b"\x0a\x01x")
          + sl(b"\x0a\x02\x08\x01") + b"\x00" + call(0, f_len(1, rec)))
    write(t, "raw-envelopes", absent + b"\x01" + bytes([0]) + sl(f_str(1, "get") + f_str(3, "c9"))
          + bytes([1]) + sl(f_str(1, "c9") + f_varint(2, 1)))
    write(t, "unknown-method", absent + b"\x00" + call(4, b""))


if __name__ == "__main__":
    handler_seeds()
    decoder_seeds()
    structured_seeds()
    front_seeds()
    server_http_seeds()
    entity_seeds()
    ir_json_seeds()
    copy_files("fuzz_config", [("tests/runtime/good-modules", ".yaml"),
                               ("tests/runtime/bad-modules", ".yaml")])
    copy_files("fuzz_ir", [("tests/codegen/good", ".json"),
                           ("tests/codegen/bad", ".json"),
                           ("tests/codegen/gen", ".ir.json"),
                           ("tests/codegen/misuse", ".ir.json")])
    for t in sorted(os.listdir(OUT)):
        print("%s: %d seeds" % (t, len([f for f in os.listdir(os.path.join(OUT, t))
                                        if f.startswith("seed-")])))
