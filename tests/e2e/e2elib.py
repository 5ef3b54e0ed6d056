"""Helpers of the end-to-end suite: the real Flink StateFun cluster
(deploy/local/cluster.sh), our C function servers, Kafka in and out.

Python stdlib plus confluent-kafka (tests/e2e/requirements.txt), which
run_e2e.py installs into its own venv.
"""
import json
import os
import shutil
import signal
import socket
import subprocess
import sys
import time
import urllib.request

ROOT = os.path.abspath(os.path.join(os.path.dirname(__file__), "..", ".."))
CLUSTER_SH = os.path.join(ROOT, "deploy", "local", "cluster.sh")


def log(*args):
    print("[e2e %s]" % time.strftime("%H:%M:%S"), *args, flush=True)


class Failure(Exception):
    pass


def run_tests(suite, names, results, only=None):
    """Runs suite.test_<name>() for each name (all, or those in `only`),
    appending (name, ok, seconds, message) to results. True if one failed."""
    import traceback
    failed = False
    for name in names:
        if only and name not in only:
            continue
        log("==== %s" % name)
        t0 = time.time()
        try:
            getattr(suite, "test_" + name)()
            results.append((name, True, time.time() - t0, ""))
            log("PASS %s (%.1fs)" % (name, time.time() - t0))
        except Exception as e:  # noqa: BLE001 - every failure is reported
            failed = True
            msg = str(e) if isinstance(e, Failure) else traceback.format_exc()
            results.append((name, False, time.time() - t0, msg))
            log("FAIL %s (%.1fs): %s" % (name, time.time() - t0, msg))
    return failed


def check(cond, what):
    if not cond:
        raise Failure(what)


# ---- wire encodings (PROTOCOL.md sec. 1) -------------------------------------
def _varint(n):
    out = bytearray()
    while True:
        b = n & 0x7F
        n >>= 7
        if n:
            out.append(b | 0x80)
        else:
            out.append(b)
            return bytes(out)


def string_wrapper(s):
    """io.statefun.types/string: StringWrapper{value=1 string}."""
    b = s.encode()
    return b"\x0a" + _varint(len(b)) + b if b else b""


def int_wrapper(n):
    """io.statefun.types/int: IntWrapper{value=1 sfixed32}."""
    return b"\x0d" + (n & 0xFFFFFFFF).to_bytes(4, "little") if n else b""


# ---- ports -------------------------------------------------------------------
def _ephemeral_range():
    try:
        with open("/proc/sys/net/ipv4/ip_local_port_range") as f:
            lo, hi = (int(x) for x in f.read().split())
            return lo, hi
    except (OSError, ValueError):
        return 32768, 60999


def _bindable(port):
    s = socket.socket()
    try:
        s.bind(("127.0.0.1", port))
        return True
    except OSError:
        return False
    finally:
        s.close()


def free_port(pair=False):
    """A free loopback port (with pair=True, port and port+1 both free),
    picked *below* the kernel's ephemeral range: the JVMs bind many port-0
    sockets and open connections while Kafka starts, and a port taken from
    the ephemeral range can be gone by the time Kafka binds it."""
    import random
    lo, _ = _ephemeral_range()
    top = max(lo - 2, 12000)
    for _ in range(500):
        port = random.randint(10000, top)
        if _bindable(port) and (not pair or _bindable(port + 1)):
            return port
    raise Failure("no free port below %d" % lo)


def http_get(url, timeout=5):
    with urllib.request.urlopen(url, timeout=timeout) as r:
        return r.read().decode()


# ---- the cluster --------------------------------------------------------------
class Cluster:
    """deploy/local/cluster.sh with its own run dir and free ports."""

    def __init__(self, run_dir):
        self.run_dir = run_dir
        self.kafka_port = free_port(pair=True)
        self.rest_port = free_port()
        self.rpc_port = free_port()
        self.bootstrap = "127.0.0.1:%d" % self.kafka_port
        self.startup_seconds = None
        self.env = dict(os.environ, SF_CLUSTER_DIR=run_dir)

    def sh(self, *args, timeout=600, check_rc=True):
        r = subprocess.run([CLUSTER_SH, *args], env=self.env, timeout=timeout,
                           stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
                           text=True)
        if check_rc and r.returncode != 0:
            raise Failure("cluster.sh %s failed (%d):\n%s" %
                          (" ".join(args), r.returncode, r.stdout))
        return r.stdout

    def start(self, module_path, topics=(), checkpoint_interval="1s",
              taskmanagers=1, timeout=420, extra=()):
        self.sh("stop", check_rc=False)  # leftovers of an aborted run
        t0 = time.time()
        out = self.sh("start", "--module", module_path,
                      "--checkpoint-interval", checkpoint_interval,
                      "--taskmanagers", str(taskmanagers),
                      "--topics", ",".join(topics),
                      "--kafka-port", str(self.kafka_port),
                      "--rest-port", str(self.rest_port),
                      "--rpc-port", str(self.rpc_port),
                      "--timeout", str(timeout), *extra,
                      timeout=timeout + 600)
        for line in out.splitlines():
            if line.startswith("cluster.sh: "):
                log(line[len("cluster.sh: "):])
        env = self.read_env()
        self.startup_seconds = float(env.get("STARTUP_SECONDS", time.time() - t0))
        self.job = env.get("JOB")

    def read_env(self):
        env = {}
        try:
            with open(os.path.join(self.run_dir, "cluster.env")) as f:
                for line in f:
                    k, _, v = line.strip().partition("=")
                    env[k] = v
        except OSError:
            pass
        return env

    def stop(self):
        try:
            self.sh("stop", check_rc=False, timeout=120)
        except Exception as e:  # never mask the real failure
            log("cluster stop failed:", e)

    def kill_tm(self, n=1):
        self.sh("kill-tm", str(n))

    def start_tm(self, n=1):
        self.sh("start-tm", str(n))

    def rest(self, path):
        return json.loads(http_get("http://127.0.0.1:%d%s" % (self.rest_port, path)))

    def job_overview(self):
        jobs = self.rest("/jobs/overview")["jobs"]
        return max(jobs, key=lambda j: j["start-time"]) if jobs else None

    def wait_job_running(self, timeout=180):
        deadline = time.time() + timeout
        last = None
        while time.time() < deadline:
            try:
                last = self.job_overview()
                if last and last["state"] == "RUNNING" and \
                        last["tasks"].get("running") == last["tasks"]["total"]:
                    return last
            except Exception as e:
                last = e
            time.sleep(0.5)
        raise Failure("job not RUNNING within %ds (last: %s)" % (timeout, last))

    def restored(self):
        """(checkpoint id, restore time in s) of the job's last restore from a
        checkpoint, or None if it never restored."""
        job = self.job_overview()
        r = self.rest("/jobs/%s/checkpoints" % job["jid"])["latest"].get("restored")
        return (r["id"], r["restore_timestamp"] / 1000.0) if r else None

    def completed_checkpoints(self):
        job = self.job_overview()
        c = self.rest("/jobs/%s/checkpoints" % job["jid"])
        return c["counts"]["completed"]

    def dump_logs(self, lines=80):
        out = self.sh("logs", check_rc=False)
        tail = out.splitlines()
        print("\n".join(tail[-2000:]))
        # the exceptions, wherever they are
        logs = os.path.join(self.run_dir, "logs")
        if os.path.isdir(logs):
            for name in sorted(os.listdir(logs)):
                path = os.path.join(logs, name)
                with open(path, errors="replace") as f:
                    hits = [l.rstrip() for l in f
                            if "Exception" in l or " ERROR " in l]
                if hits:
                    print("----- %s: %d exception/error lines, first 20:" %
                          (path, len(hits)))
                    print("\n".join(hits[:20]))


# ---- our function servers -------------------------------------------------------
class FnServer:
    """A statefun-c server binary on a fixed loopback port, restartable."""

    def __init__(self, name, binary, log_dir, args=()):
        self.name = name
        self.binary = binary
        self.port = free_port()
        self.args = list(args)
        self.log_path = os.path.join(log_dir, name + ".log")
        self.proc = None
        self.starts = 0

    def start(self, timeout=20):
        self.starts += 1
        logf = open(self.log_path, "a")
        logf.write("==== start %d: %s\n" % (self.starts, time.strftime("%T")))
        logf.flush()
        deadline = time.time() + timeout
        while True:
            self.proc = subprocess.Popen(
                [self.binary, "--listen", "127.0.0.1:%d" % self.port, *self.args],
                stdout=logf, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL)
            while time.time() < deadline:
                if self.proc.poll() is not None:
                    break  # e.g. the port is still held; retried below
                try:
                    http_get("http://127.0.0.1:%d/health" % self.port, timeout=1)
                    logf.close()
                    return
                except Exception:
                    time.sleep(0.05)
            if time.time() >= deadline:
                logf.close()
                self.kill9()
                raise Failure("%s did not come up on port %d (log %s)" %
                              (self.name, self.port, self.log_path))
            time.sleep(0.2)

    def kill9(self):
        if self.proc and self.proc.poll() is None:
            self.proc.send_signal(signal.SIGKILL)
            self.proc.wait()

    def stop(self):
        if self.proc and self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(10)
            except subprocess.TimeoutExpired:
                self.kill9()

    def metric(self, name, function):
        """A counter of /metrics for one function type (0 if absent)."""
        text = http_get("http://127.0.0.1:%d/metrics" % self.port)
        want = '%s{function="%s"}' % (name, function)
        for line in text.splitlines():
            if line.startswith(want):
                return int(float(line.split()[-1]))
        return 0

    def dump_log(self, lines=60):
        try:
            with open(self.log_path, errors="replace") as f:
                tail = f.readlines()[-lines:]
            print("----- %s (last %d lines)" % (self.log_path, lines))
            print("".join(tail), end="")
        except OSError:
            pass


# ---- Kafka ------------------------------------------------------------------------
def kafka():
    import confluent_kafka  # noqa: F401 (from the venv)
    return confluent_kafka


def producer(bootstrap, **conf):
    k = kafka()
    c = {"bootstrap.servers": bootstrap, "linger.ms": 5,
         "enable.idempotence": True}
    c.update(conf)
    return k.Producer(c)


class Reader:
    """Reads topics from the beginning; read_committed by default."""

    def __init__(self, bootstrap, topics, committed=True, group=None):
        k = kafka()
        self.consumer = k.Consumer({
            "bootstrap.servers": bootstrap,
            "group.id": group or "e2e-%d-%f" % (os.getpid(), time.time()),
            "auto.offset.reset": "earliest",
            "enable.auto.commit": False,
            "isolation.level": "read_committed" if committed else "read_uncommitted",
            "topic.metadata.refresh.interval.ms": 1000,
        })
        self.consumer.subscribe(list(topics))
        self.records = []  # (topic, key, value, receive time)

    def poll(self, seconds):
        """Collects whatever arrives within `seconds`; returns the new ones."""
        end = time.time() + seconds
        new = []
        while True:
            left = end - time.time()
            if left <= 0:
                break
            msgs = self.consumer.consume(num_messages=1000, timeout=min(left, 0.2))
            now = time.time()
            for m in msgs:
                if m.error():
                    continue
                rec = (m.topic(), (m.key() or b"").decode(),
                       (m.value() or b"").decode(errors="replace"), now)
                self.records.append(rec)
                new.append(rec)
        return new

    def wait_for(self, pred, timeout, what):
        """Polls until pred(self.records) is true."""
        deadline = time.time() + timeout
        while True:
            if pred(self.records):
                return
            if time.time() >= deadline:
                raise Failure("timed out after %ds waiting for %s; %d records "
                              "so far, last: %s" % (timeout, what,
                                                    len(self.records),
                                                    self.records[-5:]))
            self.poll(0.5)

    def values(self, topic, key=None):
        return [v for (t, k, v, _) in self.records
                if t == topic and (key is None or k == key)]

    def close(self):
        self.consumer.close()


def create_topics(bootstrap, names, partitions=1):
    k = kafka()
    from confluent_kafka.admin import AdminClient, NewTopic
    a = AdminClient({"bootstrap.servers": bootstrap})
    fs = a.create_topics([NewTopic(n, partitions, 1) for n in names])
    for n, f in fs.items():
        try:
            f.result(30)
        except k.KafkaException as e:
            if "TOPIC_ALREADY_EXISTS" not in str(e):
                raise


def which(path_or_name):
    p = shutil.which(path_or_name) if os.sep not in path_or_name else path_or_name
    if not p or not os.access(p, os.X_OK):
        print("e2e: not executable: %s" % path_or_name, file=sys.stderr)
        sys.exit(2)
    return os.path.abspath(p)
