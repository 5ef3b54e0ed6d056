#!/usr/bin/env python3
"""Produce StateFun-typed records to, and read records from, the local
cluster's Kafka (cluster.sh produce / cluster.sh consume run this in the
venv with confluent-kafka).

  kafka_tool.py --bootstrap H:P produce TOPIC KEY VALUE... [--type T]
  kafka_tool.py --bootstrap H:P consume TOPIC [--count N] [--timeout S]
                [--committed] [--hex]

--type: string (default; io.statefun.types/string, a StringWrapper), int
(IntWrapper), long, bool, raw (the bytes as given). A Kafka ingress with
`valueType: io.statefun.types/string` needs the StringWrapper bytes, not
plain UTF-8 (PROTOCOL.md sec. 4).
"""
import argparse
import os
import sys
import time

# The wire encoding is the tests' (tests/pylib/sftest/wire.py): this tool
# runs from the repository, beside cluster.sh, which needs the repository
# too (tests/e2e/requirements.txt for its venv).
sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)),
                                "..", "..", "tests", "pylib"))
from sftest.wire import (bool_wrapper, int_wrapper, long_wrapper,  # noqa: E402
                         string_wrapper)


def encode(value, typ):
    # proto3: zero / false / "" encode as no bytes at all
    if typ == "string":
        return string_wrapper(value)
    if typ == "int":
        return int_wrapper(int(value))
    if typ == "long":
        return long_wrapper(int(value))
    if typ == "bool":
        return bool_wrapper(value.lower() in ("1", "true", "yes"))
    if typ == "raw":
        return value.encode()
    raise SystemExit("unknown --type %s" % typ)


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--bootstrap", default="127.0.0.1:9092")
    sub = ap.add_subparsers(dest="cmd", required=True)
    p = sub.add_parser("produce")
    p.add_argument("topic")
    p.add_argument("key")
    p.add_argument("values", nargs="+")
    p.add_argument("--type", default="string")
    c = sub.add_parser("consume")
    c.add_argument("topic")
    c.add_argument("--count", type=int, default=0, help="stop after N records")
    c.add_argument("--timeout", type=float, default=10.0,
                   help="stop after S seconds without a record")
    c.add_argument("--committed", action="store_true",
                   help="isolation.level=read_committed (exactly-once egress)")
    c.add_argument("--hex", action="store_true", help="print values in hex")
    a = ap.parse_args()

    import confluent_kafka as ck
    if a.cmd == "produce":
        prod = ck.Producer({"bootstrap.servers": a.bootstrap})
        for v in a.values:
            prod.produce(a.topic, key=a.key.encode(), value=encode(v, a.type))
        left = prod.flush(30)
        if left:
            sys.exit("kafka_tool: %d record(s) not delivered" % left)
        print("produced %d record(s) to %s (key %s)" % (len(a.values), a.topic, a.key))
        return
    cons = ck.Consumer({
        "bootstrap.servers": a.bootstrap,
        "group.id": "kafka-tool-%f" % time.time(),
        "auto.offset.reset": "earliest",
        "enable.auto.commit": False,
        "isolation.level": "read_committed" if a.committed else "read_uncommitted",
    })
    cons.subscribe([a.topic])
    n = 0
    last = time.time()
    try:
        while time.time() - last < a.timeout and (a.count == 0 or n < a.count):
            m = cons.poll(0.2)
            if m is None or m.error():
                continue
            last = time.time()
            n += 1
            v = m.value() or b""
            text = v.hex() if a.hex else v.decode(errors="replace")
            print("%s\t%s" % ((m.key() or b"").decode(errors="replace"), text), flush=True)
    finally:
        cons.close()


if __name__ == "__main__":
    main()
