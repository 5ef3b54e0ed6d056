#!/usr/bin/env python3
"""How long a committed Kafka transaction takes to reach a read_committed
consumer, and whether that depends on the consumer's fetch.wait.max.ms:
does the broker answer a parked read_committed fetch when the transaction
markers move the last stable offset (LSO), or only when the fetch's wait
runs out? (docs/run-on-flink.md, "Exactly-once egress".)

  txn_visibility.py --bootstrap HOST:PORT [--waits 5,100,500]
                    [--count 40] [--gap 0.25]

Against a running broker, e.g. the one of `deploy/local/cluster.sh start`
(127.0.0.1:9092; its broker settings). For each
fetch.wait.max.ms in --waits: a fresh topic, a read_committed consumer
parked on it, then --count transactions of one record each, --gap seconds
apart, each committed with commit_transaction(); per record, the time from
commit_transaction()'s return to the record's arrival at the consumer
(and from the record's produce(); the commit call itself, the EndTxn
round trip, is timed apart). Prints p50/p90/max per wait: if the
broker only answered at the end of the wait, the p50 would be about half
of it (at least the whole of it with fetch.min.bytes 1 on an idle topic).
"""
import argparse
import os
import sys
import threading
import time

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)
import run_e2e  # noqa: E402  (for its venv bootstrap)

if __name__ == "__main__":
    run_e2e.ensure_venv()

from e2elib import kafka, pct  # noqa: E402

if __name__ == "__main__":
    import confluent_kafka.admin  # noqa: E402,F401 (k.admin below)


def measure(bootstrap, wait_ms, count, gap):
    k = kafka()
    topic = "txnvis-%d-%d" % (wait_ms, int(time.time() * 1000))
    admin = k.admin.AdminClient({"bootstrap.servers": bootstrap})
    for f in admin.create_topics([k.admin.NewTopic(topic, 1, 1)]).values():
        f.result(30)
    cons = k.Consumer({"bootstrap.servers": bootstrap, "group.id": topic,
                       "auto.offset.reset": "earliest", "enable.auto.commit": False,
                       "isolation.level": "read_committed",
                       "fetch.wait.max.ms": wait_ms, "fetch.min.bytes": 1})
    cons.subscribe([topic])
    arrived, stop = {}, [False]

    def read():
        while not stop[0]:
            m = cons.poll(0.05)
            if m is not None and not m.error():
                arrived[m.value().decode()] = time.time()
    t = threading.Thread(target=read, daemon=True)
    t.start()
    prod = k.Producer({"bootstrap.servers": bootstrap, "linger.ms": 0,
                       "transactional.id": topic})
    prod.init_transactions(30)
    time.sleep(2.0)  # the consumer has its partition and a fetch parked
    produced, asked, committed = {}, {}, {}
    for i in range(count):
        v = str(i)
        prod.begin_transaction()
        produced[v] = time.time()
        prod.produce(topic, value=v.encode())
        prod.flush(30)
        asked[v] = time.time()
        prod.commit_transaction(30)
        committed[v] = time.time()
        time.sleep(gap)
    deadline = time.time() + 10
    while len(arrived) < count and time.time() < deadline:
        time.sleep(0.05)
    stop[0] = True
    t.join()
    cons.close()
    after_commit = [arrived[v] - committed[v] for v in committed if v in arrived]
    after_produce = [arrived[v] - produced[v] for v in produced if v in arrived]
    end_txn = [committed[v] - asked[v] for v in committed]
    return dict(wait=wait_ms, n=count, got=len(after_commit), commit=after_commit,
                produce=after_produce, end_txn=end_txn)


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--bootstrap", required=True)
    ap.add_argument("--waits", default="5,100,500")
    ap.add_argument("--count", type=int, default=40)
    ap.add_argument("--gap", type=float, default=0.25)
    args = ap.parse_args()
    print("commit_transaction() return -> read_committed consumer (ms), "
          "%d one-record transactions %.2f s apart" % (args.count, args.gap))
    print("%18s | %7s %7s %7s | %-14s | %s" % ("fetch.wait.max.ms", "p50", "p90", "max",
                                             "commit call p50", "produce() -> consumer p50"))
    for w in [int(x) for x in args.waits.split(",")]:
        r = measure(args.bootstrap, w, args.count, args.gap)
        if not r["commit"]:
            print("%18d | nothing arrived" % w)
            continue
        print("%18d | %7.1f %7.1f %7.1f | %14.1f | %.1f   (%d/%d)" % (
            w, pct(r["commit"], 50) * 1e3, pct(r["commit"], 90) * 1e3,
            max(r["commit"]) * 1e3, pct(r["end_txn"], 50) * 1e3,
            pct(r["produce"], 50) * 1e3, r["got"], r["n"]))
    return 0


if __name__ == "__main__":
    sys.exit(main())
