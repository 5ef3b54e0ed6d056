#!/usr/bin/env python3
"""Throughput and latency of the greeter through a real Flink StateFun
cluster: Kafka (names) -> Flink -> our C greeter -> Flink -> Kafka
(greetings), once with an at-least-once and once with an exactly-once
egress (read_committed), with the given checkpoint interval.

  bench_e2e.py --greeter PATH/greeter [--checkpoint-interval 1s]
               [--rates 50,200] [--latency-seconds 10] [--burst 20000]
               [--semantics at-least-once,exactly-once] [--work-dir DIR]

Per semantic, on a fresh cluster:
  latency     at each of --rates names/s for --latency-seconds, each name
              new; latency =
              the greeting's arrival at our consumer - the name's hand-over
              to the Kafka producer; p50/p90/p99/max.
  throughput  --burst new names produced as fast as possible; messages/s =
              burst / (last greeting's arrival - first name's hand-over).
Every name is new, so every greeting is "... 1 time(s).": the greeter's
60 s reminders fire after the measurements end.
"""
import argparse
import os
import sys
import time

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)
import run_e2e  # noqa: E402  (for its venv bootstrap)

if __name__ == "__main__":
    run_e2e.ensure_venv()

from e2elib import (Cluster, FnServer, log, pct, producer,  # noqa: E402
                    string_wrapper, which)


def module(work, greeter_port, semantic):
    with open(os.path.join(HERE, "modules", "e2e.yaml")) as f:
        text = f.read()
    text = (text.replace("@GREETER_PORT@", str(greeter_port))
                .replace("@TESTFN_PORT@", "9")  # unused here
                .replace("@GREETINGS_SEMANTIC@", semantic))
    path = os.path.join(work, "module-%s.yaml" % semantic)
    with open(path, "w") as f:
        f.write(text)
    return path


class Stamper:
    """A consumer thread that stamps every greeting as it arrives."""

    def __init__(self, bootstrap, committed):
        import threading
        from e2elib import kafka
        self.consumer = kafka().Consumer({
            "bootstrap.servers": bootstrap,
            "group.id": "bench-%d-%f" % (os.getpid(), time.time()),
            "auto.offset.reset": "earliest",
            "enable.auto.commit": False,
            "fetch.wait.max.ms": 5,
            "isolation.level": "read_committed" if committed else "read_uncommitted",
        })
        self.consumer.subscribe(["greetings"])
        self.arrived = {}  # key -> first arrival of its "1 time(s)" greeting
        self.stop = False
        self.thread = threading.Thread(target=self.run, daemon=True)
        self.thread.start()

    def run(self):
        while not self.stop:
            m = self.consumer.poll(0.1)
            if m is None or m.error():
                continue
            now = time.time()
            key = (m.key() or b"").decode()
            if key not in self.arrived and (m.value() or b"").endswith(b" 1 time(s)."):
                self.arrived[key] = now

    def wait(self, keys, timeout):
        deadline = time.time() + timeout
        while time.time() < deadline and not all(k in self.arrived for k in keys):
            time.sleep(0.05)
        return {k: self.arrived[k] for k in keys if k in self.arrived}

    def close(self):
        self.stop = True
        self.thread.join()
        self.consumer.close()


def bench(args, semantic):
    work = os.path.abspath(args.work_dir)
    os.makedirs(work, exist_ok=True)
    greeter = FnServer("greeter", which(args.greeter), work, ["--threads", "2"])
    cluster = Cluster(os.path.join(work, "cluster-" + semantic))
    res = {"semantic": semantic}
    try:
        greeter.start()
        cluster.start(module(work, greeter.port, semantic), topics=["greetings"],
                      checkpoint_interval=args.checkpoint_interval)
        res["startup"] = cluster.startup_seconds
        committed = semantic == "exactly-once"
        reader = Stamper(cluster.bootstrap, committed)
        prod = producer(cluster.bootstrap, **{"linger.ms": 0})

        # warm-up: the first request per function type is blocking and asks
        # for the missing state; not part of the numbers
        prod.produce("names", key=b"warmup", value=string_wrapper("warmup"))
        prod.flush(30)
        if not reader.wait(["warmup"], 120):
            raise RuntimeError("no warm-up greeting within 120 s")
        time.sleep(2.0)

        # latency: paced, at each rate
        res["lat"] = []
        for rate in args.rates:
            n = int(rate * args.latency_seconds)
            sent = {}
            t0 = time.time()
            for i in range(n):
                name = "lat%g-%d" % (rate, i)
                d = t0 + i / rate - time.time()
                if d > 0:
                    time.sleep(d)
                prod.produce("names", key=name.encode(), value=string_wrapper(name))
                sent[name] = time.time()
                prod.poll(0)
            prod.flush(30)
            arrived = reader.wait(list(sent), 120)
            lat = [arrived[k] - sent[k] for k in arrived]
            res["lat"].append(dict(rate=rate, n=n, got=len(arrived), p50=pct(lat, 50),
                                   p90=pct(lat, 90), p99=pct(lat, 99),
                                   max=max(lat) if lat else float("nan")))
            log("%s: %g msg/s: p50 %.0f ms, p99 %.0f ms" % (
                semantic, rate, res["lat"][-1]["p50"] * 1e3, res["lat"][-1]["p99"] * 1e3))
            time.sleep(2.0)

        # throughput: burst
        names = ["tp-%d" % i for i in range(args.burst)]
        t0 = time.time()
        for name in names:
            while True:
                try:
                    prod.produce("names", key=name.encode(), value=string_wrapper(name))
                    break
                except BufferError:
                    prod.poll(0.01)
            prod.poll(0)
        prod.flush(60)
        t_sent = time.time() - t0
        arrived = reader.wait(names, 300)
        t_last = max(arrived.values()) if arrived else time.time()
        res.update(burst=args.burst, burst_got=len(arrived), produce_s=t_sent,
                   elapsed=t_last - t0,
                   rate=len(arrived) / (t_last - t0) if arrived else 0.0)
        reader.close()
        prod = None
        return res
    except Exception as e:
        log("FAILED (%s): %s" % (semantic, e))
        cluster.dump_logs()
        greeter.dump_log()
        res["error"] = str(e)
        return res
    finally:
        cluster.stop()
        greeter.stop()


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--greeter", required=True)
    ap.add_argument("--checkpoint-interval", default="1s")
    ap.add_argument("--rates", default="50,200",
                    help="names/s of the latency runs, comma-separated")
    ap.add_argument("--latency-seconds", type=float, default=10.0)
    ap.add_argument("--burst", type=int, default=20000)
    ap.add_argument("--semantics", default="at-least-once,exactly-once")
    ap.add_argument("--work-dir", default=os.path.join(run_e2e.ROOT, ".cache", "e2e-bench"))
    args = ap.parse_args()
    args.rates = [float(r) for r in args.rates.split(",") if r]
    results = [bench(args, s) for s in args.semantics.split(",")]
    print("\ngreeter through real Flink StateFun 3.3.0 (1 TaskManager, 1 slot, "
          "checkpoint interval %s, RocksDB), %d cores" %
          (args.checkpoint_interval, os.cpu_count()))
    print("%-14s %8s | %-44s | %s" % ("egress", "start-up",
                                       "latency (ms): p50 p90 p99 max at msg/s",
                                       "burst throughput"))
    for r in results:
        if "error" in r:
            print("%-14s FAILED: %s" % (r["semantic"], r["error"]))
            continue
        for i, l in enumerate(r["lat"]):
            right = ("%d msgs in %.1fs = %.0f msg/s" % (r["burst_got"], r["elapsed"], r["rate"])
                     if i == 0 else "")
            print("%-14s %8s | %6.0f %6.0f %6.0f %6.0f at %4g (%d/%d) | %s" % (
                r["semantic"] if i == 0 else "",
                "%.1fs" % r["startup"] if i == 0 else "",
                l["p50"] * 1e3, l["p90"] * 1e3, l["p99"] * 1e3, l["max"] * 1e3,
                l["rate"], l["got"], l["n"], right))
    return 1 if any("error" in r for r in results) else 0


if __name__ == "__main__":
    sys.exit(main())
