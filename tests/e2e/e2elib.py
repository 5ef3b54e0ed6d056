"""Helpers of the end-to-end suite: the real Flink StateFun cluster
(deploy/local/cluster.sh), our C function servers, Kafka in and out.

Python stdlib plus confluent-kafka (tests/e2e/requirements.txt), which
run_e2e.py installs into its own venv.
"""
import json
import os
import shutil
import signal
import subprocess
import sys
import time
import urllib.request

ROOT = os.path.abspath(os.path.join(os.path.dirname(__file__), "..", ".."))
CLUSTER_SH = os.path.join(ROOT, "deploy", "local", "cluster.sh")

sys.path.insert(0, os.path.join(ROOT, "tests", "pylib"))
from sftest.checks import TestFailure, check  # noqa: E402,F401 (re-exported)
from sftest.net import free_port_below_ephemeral  # noqa: E402
from sftest.procs import pause_pid  # noqa: E402
from sftest.wire import int_wrapper, string_wrapper  # noqa: E402,F401 (re-exported)


def log(*args):
    print("[e2e %s]" % time.strftime("%H:%M:%S"), *args, flush=True)


Failure = TestFailure  # the e2e drivers' name for it


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


class Deadline(BaseException):
    """The suite's own time bound (or SIGTERM/SIGINT): not an Exception, so
    no test swallows it; run_bounded() tears down and reports."""


def run_bounded(label, seconds, results, body, on_failure, teardown):
    """Runs body(t_all) -> True if something failed, bounded by `seconds`
    (below CTest's TIMEOUT, so the cluster, whose JVMs are not our
    children, is always stopped by us) and by SIGTERM/SIGINT. A deadline
    is one failed result "deadline". Then on_failure() if anything failed,
    and teardown() always. Returns t_all, the start time."""
    t_all = time.time()

    def deadline(signum, frame):
        raise Deadline("%s: %s after %.0fs: stopping" % (
            label, "deadline" if signum == signal.SIGALRM else "signal %d" % signum,
            time.time() - t_all))
    signal.signal(signal.SIGALRM, deadline)
    signal.signal(signal.SIGTERM, deadline)
    signal.signal(signal.SIGINT, deadline)
    signal.alarm(seconds)
    failed = False
    try:
        failed = body(t_all)
    except Deadline as e:
        failed = True
        print(str(e), flush=True)
        results.append(("deadline", False, time.time() - t_all, str(e)))
    finally:
        signal.alarm(0)
        signal.signal(signal.SIGTERM, signal.SIG_IGN)
        signal.signal(signal.SIGINT, signal.SIG_IGN)
        if failed:
            on_failure()
        teardown()
    return t_all


def summary(label, results, t_all, width, extra="", after=None):
    """Prints the table of results and "<label>: N passed, M failed";
    returns the exit status (0 only if there were results, all passed)."""
    print("\n==== %s summary (%.0fs in all%s)" % (label, time.time() - t_all, extra))
    for name, ok, secs, msg in results:
        print("  %-*s %s %6.1fs %s" % (width, name, "PASS" if ok else "FAIL", secs,
                                      msg.splitlines()[0] if msg else ""))
    if after:
        print(after)
    npass = sum(1 for r in results if r[1])
    print("%s: %d passed, %d failed" % (label, npass, len(results) - npass))
    return 0 if results and npass == len(results) else 1


def free_port(pair=False):
    """net.free_port_below_ephemeral, failing the test when there is none."""
    port = free_port_below_ephemeral(pair)
    if port is None:
        raise Failure("no free port below the ephemeral range")
    return port


def pct(xs, p):
    """The p-th percentile of xs (nearest rank); NaN for no values."""
    xs = sorted(xs)
    if not xs:
        return float("nan")
    k = min(len(xs) - 1, max(0, int(round(p / 100.0 * len(xs) + 0.5)) - 1))
    return xs[k]


def suite_dirs(work_dir):
    """A suite's work directory (made absolute), its fn-logs/ for the
    function servers, and the Cluster that runs in its cluster/."""
    work = os.path.abspath(work_dir)
    logs = os.path.join(work, "fn-logs")
    os.makedirs(logs, exist_ok=True)
    return work, logs, Cluster(os.path.join(work, "cluster"))


class Sends:
    """send() and flush() for a class whose self.prod is a Kafka producer."""

    def send(self, topic, key, value):
        self.prod.produce(topic, key=key.encode(), value=value)
        self.prod.poll(0)

    def flush(self):
        left = self.prod.flush(30)
        check(left == 0, "%d records not delivered to Kafka" % left)


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

    def pause(self):
        """Stopped, every thread (sftest.procs.pause_pid): it answers
        nothing until resume()."""
        pause_pid(self.proc.pid)

    def resume(self):
        """Runs again after pause(); nothing when it is not running."""
        if self.proc and self.proc.poll() is None:
            self.proc.send_signal(signal.SIGCONT)

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
