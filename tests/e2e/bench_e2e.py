#!/usr/bin/env python3
"""Throughput and latency of the greeter through a real Flink StateFun
cluster: Kafka (names) -> Flink -> our C greeter -> Flink -> Kafka
(greetings), once with an at-least-once and once with an exactly-once
egress (read_committed), with the given checkpoint interval.

  bench_e2e.py --greeter PATH/greeter [--checkpoint-interval 1s]
               [--rates 50,200] [--latency-seconds 10] [--burst 20000]
               [--semantics at-least-once,exactly-once] [--work-dir DIR]
               [--tuning latency|none] [--flink-set KEY=VALUE]...
               [--ingress-prop KEY=VALUE]... [--egress-prop KEY=VALUE]...
               [--transport KEY=VALUE]... [--slots N] [--label NAME]
               [--reader-fetch-wait-ms 5] [--json PATH]
  bench_e2e.py --table PATH     the table of the --json lines in PATH

The cluster runs cluster.sh's defaults and the module tests/e2e/modules/
e2e.yaml as it is (--tuning latency: the low-latency configuration of
docs/run-on-flink.md) unless --tuning none asks for Flink's and Kafka's
own (the greetings egress without its `properties`); --flink-set adds flink-conf.yaml entries on top,
--ingress-prop / --egress-prop add Kafka client `properties` to the
module's ingresses / the greetings egress, --transport sets keys of the
greeter endpoint's async transport (pool_size, pool_ttl, ...). --json
appends one JSON line per semantic (with `uptime` before and after, and the
CPU the TaskManager and Kafka JVMs used during the latency runs) for
bench/flink_latency.sh, which runs one configuration per setting.

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
import json
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


def kv_list(items, what):
    """KEY=VALUE strings -> [(key, value)], refusing anything else."""
    out = []
    for it in items:
        k, eq, v = it.partition("=")
        if not eq or not k:
            sys.exit("bench_e2e.py: %s wants KEY=VALUE, not %r" % (what, it))
        out.append((k, v))
    return out


def add_properties(doc, props):
    """One module document with Kafka `properties` entries added (after an
    existing `properties:` list, or as a new one at the end of spec); an
    entry of the same key already there is replaced."""
    lines = ["    - %s: \"%s\"" % (k, v) for k, v in props]
    if not lines:
        return doc
    keys = {k for k, _ in props}
    doc = "\n".join(line for line in doc.split("\n")
                    if not (line.startswith("    - ") and
                            line[6:].split(":", 1)[0].strip() in keys))
    if "\n  properties:\n" in doc:
        return doc.replace("\n  properties:\n", "\n  properties:\n" + "\n".join(lines) + "\n", 1)
    return doc.rstrip("\n") + "\n  properties:\n" + "\n".join(lines) + "\n"


def strip_properties(doc):
    """One module document without its `properties:` list (--tuning none:
    the Kafka clients' own defaults)."""
    out, skipping = [], False
    for line in doc.split("\n"):
        if line == "  properties:":
            skipping = True
            continue
        if skipping and line.startswith("    "):
            continue
        skipping = False
        out.append(line)
    return "\n".join(out)


def module(work, greeter_port, semantic, args):
    with open(os.path.join(HERE, "modules", "e2e.yaml")) as f:
        text = f.read()
    text = (text.replace("@GREETER_PORT@", str(greeter_port))
                .replace("@TESTFN_PORT@", "9")  # unused here
                .replace("@GREETINGS_SEMANTIC@", semantic))
    # only the greeter's documents: sfl_testfn's exactly-once egress would
    # put its transaction's cost into every checkpoint of an at-least-once
    # run (docs/run-on-flink.md, Tuned for latency)
    docs = [d for d in text.split("\n---\n")
            if not any(t in d for t in ("test.fns/*", "id: test.io/"))]
    for i, doc in enumerate(docs):
        if "kind: io.statefun.kafka.v1/ingress" in doc:
            docs[i] = add_properties(doc, args.ingress_prop)
        elif "id: greeter.io/greetings" in doc:
            if args.tuning == "none":
                doc = strip_properties(doc)
            docs[i] = add_properties(doc, args.egress_prop)
        elif "functions: greeter.fns/*" in doc and args.transport:
            docs[i] = doc.replace("    type: io.statefun.transports.v1/async\n",
                                  "    type: io.statefun.transports.v1/async\n" +
                                  "".join("    %s: %s\n" % kv for kv in args.transport))
    text = "\n---\n".join(docs)
    path = os.path.join(work, "module-%s.yaml" % semantic)
    with open(path, "w") as f:
        f.write(text)
    return path


class Stamper:
    """A consumer thread that stamps every greeting as it arrives."""

    def __init__(self, bootstrap, committed, fetch_wait_ms=5):
        import threading
        from e2elib import kafka
        self.consumer = kafka().Consumer({
            "bootstrap.servers": bootstrap,
            "group.id": "bench-%d-%f" % (os.getpid(), time.time()),
            "auto.offset.reset": "earliest",
            "enable.auto.commit": False,
            "fetch.wait.max.ms": fetch_wait_ms,
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


def uptime():
    """The load averages, as `uptime` prints them (recorded with every run:
    the machine is shared)."""
    with open("/proc/loadavg") as f:
        return "load average: " + ", ".join(f.read().split()[:3])


class CpuMeter:
    """User+system CPU seconds of the cluster's JVMs (TaskManager, Kafka)
    between start() and stop(), from /proc/PID/stat."""

    def __init__(self, run_dir, names=("taskmanager-1", "kafka")):
        self.pids = {}
        for n in names:
            try:
                with open(os.path.join(run_dir, "pids", n + ".pid")) as f:
                    self.pids[n] = int(f.read().strip())
            except (OSError, ValueError):
                pass
        self.tick = os.sysconf("SC_CLK_TCK")

    def sample(self):
        out = {}
        for n, pid in self.pids.items():
            try:
                with open("/proc/%d/stat" % pid) as f:
                    fields = f.read().rsplit(")", 1)[1].split()
                out[n] = (int(fields[11]) + int(fields[12])) / self.tick
            except (OSError, IndexError, ValueError):
                pass
        return out

    def start(self):
        self.t0, self.c0 = time.time(), self.sample()

    def stop(self):
        """{name: share of one core used meanwhile}"""
        dt, c1 = time.time() - self.t0, self.sample()
        return {n: (c1[n] - self.c0[n]) / dt for n in c1 if n in self.c0}


def checkpoint_stats(cluster):
    """The job's completed checkpoints so far and the REST summary of
    their durations (ms): end to end, sync and async phase (p50 / max)."""
    try:
        job = cluster.job_overview()
        c = cluster.rest("/jobs/%s/checkpoints" % job["jid"])
    except Exception as e:  # noqa: BLE001 - a statistic, never a failure
        return {"error": str(e)}
    out = {"completed": c["counts"]["completed"]}
    for k in ("end_to_end_duration", "checkpointed_size"):
        v = c.get("summary", {}).get(k, {})
        out[k] = {"p50": v.get("p50"), "max": v.get("max")}
    # the sync phase of the function task (it holds up every message)
    # in the last checkpoints, from the per-subtask details
    sync = []
    try:
        fn = [v["id"] for v in cluster.rest("/jobs/%s" % job["jid"])["vertices"]
              if "functions" in v["name"]]
        for h in c["history"][:5]:
            d = cluster.rest("/jobs/%s/checkpoints/details/%d/subtasks/%s" % (
                job["jid"], h["id"], fn[0]))
            sync += [st["checkpoint"]["sync"] for st in d["subtasks"] if "checkpoint" in st]
    except Exception:  # noqa: BLE001 - as above
        pass
    out["fn_sync_ms"] = sync
    # when each checkpoint ran (s since the epoch, ms), to line the latency
    # samples up with them (the REST history keeps web.checkpoints.history
    # of them: bench() asks for 100)
    out["history"] = [(h["trigger_timestamp"] / 1000.0, h.get("end_to_end_duration"))
                      for h in c.get("history", [])]
    # per checkpoint, the function task's part (ms): barrier arrival after
    # the trigger, sync phase, async phase, its acknowledgement after the
    # trigger; what an exactly-once egress waits for (decompose())
    out["fn_detail"] = []
    try:
        for h in c["history"]:
            d = cluster.rest("/jobs/%s/checkpoints/details/%d/subtasks/%s" % (
                job["jid"], h["id"], fn[0]))
            st = [s for s in d["subtasks"] if "checkpoint" in s][0]
            out["fn_detail"].append(dict(
                trigger=h["trigger_timestamp"] / 1000.0, e2e=h.get("end_to_end_duration"),
                start_delay=st.get("start_delay"), sync=st["checkpoint"]["sync"],
                async_=st["checkpoint"]["async"],
                ack=st["ack_timestamp"] - h["trigger_timestamp"]))
    except Exception:  # noqa: BLE001 - as above
        pass
    return out


def decompose(res):
    """Where an exactly-once record's latency goes (ms, p50 over the
    samples): the wait from its hand-over to the trigger of the checkpoint
    that commits it (the interval's share), that checkpoint's end to end
    time, and the rest: completion notice, commit (EndTxn, the markers),
    the read_committed fetch. None without the history."""
    hist = sorted(res.get("checkpoints", {}).get("history") or [])
    out = []
    for l in res.get("lat", []):
        if l.get("t0") is None:
            continue
        wait, e2e, rest = [], [], []
        for off, lat in l["samples"]:
            t, arr = l["t0"] + off, l["t0"] + off + lat
            # the last checkpoint that completed before the arrival
            done = [(trig, d) for trig, d in hist if d is not None and trig + d / 1e3 <= arr]
            if not done:
                continue
            trig, d = done[-1]
            if trig < t:  # arrived after a checkpoint triggered before it: not this one's
                continue
            wait.append(trig - t)
            e2e.append(d / 1e3)
            rest.append(arr - trig - d / 1e3)
        if wait:
            out.append(dict(rate=l["rate"], n=len(wait), wait=pct(wait, 50) * 1e3,
                            e2e=pct(e2e, 50) * 1e3, rest=pct(rest, 50) * 1e3,
                            rest_p90=pct(rest, 90) * 1e3))
    return out or None


def paced(prod, rate, seconds, prefix):
    """Hands rate*seconds new names to the producer at their intended
    times; returns {name: hand-over time}."""
    n = int(rate * seconds)
    sent = {}
    t0 = time.time()
    for i in range(n):
        name = "%s%g-%d" % (prefix, rate, i)
        d = t0 + i / rate - time.time()
        if d > 0:
            time.sleep(d)
        prod.produce("names", key=name.encode(), value=string_wrapper(name))
        sent[name] = time.time()
        prod.poll(0)
    prod.flush(30)
    return sent


def cluster_options(args):
    # the whole checkpoint history of a run (decompose(), the table)
    extra = ["--tuning", args.tuning, "--slots", str(args.slots),
             "--set", "web.checkpoints.history=100"]
    for kv in args.flink_set:
        extra += ["--set", kv]
    return extra


def bench(args, semantic):
    work = os.path.abspath(args.work_dir)
    os.makedirs(work, exist_ok=True)
    greeter = FnServer("greeter", which(args.greeter), work, ["--threads", "2"])
    cluster = Cluster(os.path.join(work, "cluster-" + semantic))
    res = {"semantic": semantic, "label": args.label, "tuning": args.tuning,
           "checkpoint_interval": args.checkpoint_interval,
           "flink_set": args.flink_set, "slots": args.slots,
           "ingress_prop": dict(args.ingress_prop),
           "egress_prop": dict(args.egress_prop),
           "transport": dict(args.transport),
           "reader_fetch_wait_ms": args.reader_fetch_wait_ms, "uptime_before": uptime()}
    try:
        greeter.start()
        cluster.start(module(work, greeter.port, semantic, args), topics=["greetings"],
                      checkpoint_interval=args.checkpoint_interval,
                      extra=cluster_options(args))
        res["startup"] = cluster.startup_seconds
        committed = semantic == "exactly-once"
        reader = Stamper(cluster.bootstrap, committed, args.reader_fetch_wait_ms)
        prod = producer(cluster.bootstrap, **{"linger.ms": 0})

        # warm-up: the first request per function type is blocking and asks
        # for the missing state; then --warmup-seconds at the first rate
        # (the JVMs' JIT compiles the hot path): not part of the numbers
        prod.produce("names", key=b"warmup", value=string_wrapper("warmup"))
        prod.flush(30)
        if not reader.wait(["warmup"], 120):
            raise RuntimeError("no warm-up greeting within 120 s")
        if args.warmup_seconds > 0:
            sent = paced(prod, args.rates[0], args.warmup_seconds, "warm")
            reader.wait(list(sent), 60)
        time.sleep(1.0)

        # latency: paced, at each rate
        res["lat"] = []
        cpu = CpuMeter(cluster.run_dir)
        for rate in args.rates:
            cpu.start()
            sent = paced(prod, rate, args.latency_seconds, "lat")
            arrived = reader.wait(list(sent), 120)
            used = cpu.stop()
            lat = [arrived[k] - sent[k] for k in arrived]
            res["lat"].append(dict(rate=rate, n=len(sent), got=len(arrived),
                                   p50=pct(lat, 50), p90=pct(lat, 90),
                                   p99=pct(lat, 99),
                                   max=max(lat) if lat else float("nan"),
                                   cpu=used,
                                   t0=min(sent.values()) if sent else None,
                                   # (hand-over since t0, latency)
                                   samples=sorted((round(sent[k] - min(sent.values()), 4),
                                                   round(arrived[k] - sent[k], 4))
                                                  for k in arrived)))
            log("%s: %g msg/s: p50 %.1f ms, p99 %.1f ms; CPU %s" % (
                semantic, rate, res["lat"][-1]["p50"] * 1e3,
                res["lat"][-1]["p99"] * 1e3,
                ", ".join("%s %.0f%%" % (n, c * 100) for n, c in sorted(used.items()))))
            time.sleep(1.0)

        res["checkpoints"] = checkpoint_stats(cluster)

        # throughput: burst
        if args.burst > 0:
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
        res["uptime_after"] = uptime()
        cluster.stop()
        greeter.stop()


def slow_during_checkpoints(l, ck, slow=0.030):
    """(samples over `slow`, how many of them were in flight while a
    checkpoint ran: handed over before it ended, arrived after it began)."""
    hist = ck.get("history") or []
    if l.get("t0") is None or not hist:
        return None
    n = k = 0
    for off, lat in l.get("samples", []):
        if lat <= slow:
            continue
        n += 1
        t = l["t0"] + off
        if any(t < trig + (e2e or 0) / 1000.0 and t + lat > trig for trig, e2e in hist):
            k += 1
    return n, k


def table(path):
    """The table of bench/flink_latency.sh: one row per JSON line of path
    (one configuration and semantic each), in the order they were run."""
    rows = [json.loads(line) for line in open(path) if line.strip()]
    print("%-15s %-13s %5s | %7s %7s %7s %7s | %-13s | %-12s | %-11s | %-7s | %s" % (
        "configuration", "egress", "ckpt", "p50", "p90", "p99", "max", "CPU TM/Kafka",
        "ckpt e2e p50", ">30ms (ckpt)", "burst/s", "load average before -> after"))
    for r in rows:
        head = "%-15s %-13s %5s" % (r.get("label") or "-", r["semantic"],
                                    r["checkpoint_interval"])
        if "error" in r or not r.get("lat"):
            print("%s | FAILED: %s" % (head, r.get("error", "no latency run")))
            continue
        for l in r["lat"]:
            cpu = l.get("cpu", {})
            ck = r.get("checkpoints", {}).get("end_to_end_duration", {})
            sl = slow_during_checkpoints(l, r.get("checkpoints", {}))
            print("%s | %7.1f %7.1f %7.1f %7.1f | %5s%% / %3s%% | %9s ms | %-12s | %7s | %s -> %s" % (
                head, l["p50"] * 1e3, l["p90"] * 1e3, l["p99"] * 1e3, l["max"] * 1e3,
                "%.0f" % (cpu["taskmanager-1"] * 100) if "taskmanager-1" in cpu else "?",
                "%.0f" % (cpu["kafka"] * 100) if "kafka" in cpu else "?",
                ck.get("p50", "?"),
                "%d (%d)" % sl if sl else "-",
                "%.0f" % r["rate"] if "rate" in r else "-",
                r["uptime_before"].replace("load average: ", ""),
                r["uptime_after"].replace("load average: ", "")))
    return 0


def main():
    if len(sys.argv) == 3 and sys.argv[1] == "--table":
        return table(sys.argv[2])
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--greeter", required=True)
    ap.add_argument("--checkpoint-interval", default="1s")
    ap.add_argument("--rates", default="50,200",
                    help="names/s of the latency runs, comma-separated")
    ap.add_argument("--latency-seconds", type=float, default=10.0)
    ap.add_argument("--warmup-seconds", type=float, default=5.0,
                    help="paced at the first rate before measuring")
    ap.add_argument("--burst", type=int, default=20000,
                    help="names of the throughput burst (0: none)")
    ap.add_argument("--semantics", default="at-least-once,exactly-once")
    ap.add_argument("--work-dir", default=os.path.join(run_e2e.ROOT, ".cache", "e2e-bench"))
    ap.add_argument("--tuning", default="latency", choices=("latency", "none"),
                    help="cluster.sh --tuning: its low-latency defaults or Flink's")
    ap.add_argument("--flink-set", action="append", default=[], metavar="KEY=VALUE")
    ap.add_argument("--ingress-prop", action="append", default=[], metavar="KEY=VALUE")
    ap.add_argument("--egress-prop", action="append", default=[], metavar="KEY=VALUE")
    ap.add_argument("--transport", action="append", default=[], metavar="KEY=VALUE")
    ap.add_argument("--slots", type=int, default=1)
    ap.add_argument("--reader-fetch-wait-ms", type=int, default=5,
                    help="fetch.wait.max.ms of the greetings reader (librdkafka)")
    ap.add_argument("--label", default="")
    ap.add_argument("--json", help="append one JSON line per semantic here")
    args = ap.parse_args()
    args.rates = [float(r) for r in args.rates.split(",") if r]
    kv_list(args.flink_set, "--flink-set")
    args.ingress_prop = kv_list(args.ingress_prop, "--ingress-prop")
    args.egress_prop = kv_list(args.egress_prop, "--egress-prop")
    args.transport = kv_list(args.transport, "--transport")
    results = [bench(args, s) for s in args.semantics.split(",")]
    if args.json:
        with open(args.json, "a") as f:
            for r in results:
                f.write(json.dumps(r) + "\n")
    print("\ngreeter through real Flink StateFun 3.3.0 (1 TaskManager, %d slot(s), "
          "checkpoint interval %s, tuning %s%s), %d cores" %
          (args.slots, args.checkpoint_interval, args.tuning,
           "".join("; " + kv for kv in args.flink_set), os.cpu_count()))
    print("%-14s %8s | %-44s | %s" % ("egress", "start-up",
                                       "latency (ms): p50 p90 p99 max at msg/s",
                                       "burst throughput"))
    for r in results:
        if "error" in r:
            print("%-14s FAILED: %s" % (r["semantic"], r["error"]))
            continue
        for i, l in enumerate(r["lat"]):
            right = ("%d msgs in %.1fs = %.0f msg/s" % (r["burst_got"], r["elapsed"], r["rate"])
                     if i == 0 and "burst" in r else "")
            print("%-14s %8s | %6.1f %6.1f %6.1f %6.1f at %4g (%d/%d) | %s" % (
                r["semantic"] if i == 0 else "",
                "%.1fs" % r["startup"] if i == 0 else "",
                l["p50"] * 1e3, l["p90"] * 1e3, l["p99"] * 1e3, l["max"] * 1e3,
                l["rate"], l["got"], l["n"], right))
        for d in decompose(r) or []:
            print("%-14s %8s | exactly-once at %g msg/s (%d samples, p50 ms): wait for the "
                  "trigger %.1f + checkpoint end to end %.1f + notify/commit/fetch %.1f "
                  "(p90 %.1f)" % ("", "", d["rate"], d["n"], d["wait"], d["e2e"], d["rest"],
                                  d["rest_p90"]))
        ck = r.get("checkpoints", {})
        if "end_to_end_duration" in ck:
            print("%-14s %8s | checkpoints: %d, end to end p50 %s / max %s ms; "
                  "function task's sync phase (last ones) %s ms" % (
                      "", "", ck["completed"], ck["end_to_end_duration"]["p50"],
                      ck["end_to_end_duration"]["max"], ck.get("fn_sync_ms")))
        print("%-14s %8s | %s -> %s" % ("", "", r["uptime_before"], r["uptime_after"]))
    return 1 if any("error" in r for r in results) else 0


if __name__ == "__main__":
    sys.exit(main())
