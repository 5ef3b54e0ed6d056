"""attacks.py - the attacks and the probe loop both hostile suites share.

sflocal_hostile.py (sf-local's front) and server_hostile.py (the SDK's
function server) attack different servers with the same moves; each move
is here once, taking the port and the request head it sends, and each
suite calls it with its own. Also here: the attacker's socket (from
127.0.0.2, so that the per-client limit is what the attack hits, not the
normal client on 127.0.0.1), the Monitor that sends a normal request every
0.2 s and samples the server's RSS while an attack runs, and run_probes,
the loop that runs each probe and judges it (attack outcome, normal
requests answered < 1 s during and after, peak RSS within the budget,
server alive).
"""
import os
import socket
import sys
import threading
import time

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.join(os.path.dirname(HERE), "pylib"))

from sftest.net import free_port  # noqa: E402,F401 (the suites' import)
from sftest.procs import rss_kb  # noqa: E402

ATTACKER = "127.0.0.2"
MB = 1024 * 1024


def rss_mb(pid):
    """The resident set of a process in MB (0 once it is gone)."""
    return rss_kb(pid) / 1024.0


def attacker_socket(port, blocking=True):
    s = socket.socket()
    s.bind((ATTACKER, 0))
    s.settimeout(5)
    s.connect(("127.0.0.1", port))
    if not blocking:
        s.setblocking(False)
    return s


def closed_by_server(s, within):
    """Whether the server closed s (EOF/reset) within `within` seconds;
    returns (closed, what it answered)."""
    s.settimeout(0.2)
    data, end = b"", time.monotonic() + within
    while time.monotonic() < end:
        try:
            b = s.recv(65536)
            if not b:
                return True, data
            data += b
        except socket.timeout:
            continue
        except OSError:
            return True, data
    return False, data


def status_of(data):
    try:
        return int(data.split(b" ")[1]) if data.startswith(b"HTTP/") else 0
    except (ValueError, IndexError):
        return 0


def close_wait_count(port):
    n = 0
    for path in ("/proc/net/tcp", "/proc/net/tcp6"):
        try:
            with open(path) as f:
                next(f)
                for line in f:
                    parts = line.split()
                    lport = int(parts[1].split(":")[1], 16)
                    if lport == port and parts[3] == "08":  # CLOSE_WAIT
                        n += 1
        except OSError:
            pass
    return n


def trickle(socks, chunks, seconds):
    """Sends chunks[i] to every socket, one every 0.5 s, for `seconds`;
    returns how many sockets the server closed meanwhile."""
    closed = set()
    end, i = time.monotonic() + seconds, 0
    while time.monotonic() < end and len(closed) < len(socks):
        for k, s in enumerate(socks):
            if k in closed:
                continue
            try:
                s.send(chunks[i % len(chunks)])
            except OSError:
                closed.add(k)
        i += 1
        time.sleep(0.5)
    return len(closed)


# ---- the attacks: each returns (ok, what happened) ---------------------------


def slowloris_head(port, head):
    """150 clients trickling `head` (a request line and headers, never
    finished) a byte every 0.5 s: all closed by the head deadline."""
    socks = [attacker_socket(port) for _ in range(150)]
    head += b"X-Pad: " + b"a" * 400
    n = trickle(socks, [bytes([c]) for c in head], 8)
    for s in socks:
        s.close()
    return n == len(socks), "%d/%d trickling heads closed within 8 s" % (
        n, len(socks))


def slowloris_body(port, head):
    """150 clients sending `head` (complete, Content-Length: 1000), then
    trickling the body: all closed by the body deadline."""
    socks = [attacker_socket(port) for _ in range(150)]
    for s in socks:
        s.sendall(head)
    n = trickle(socks, [b"a"], 8)
    for s in socks:
        s.close()
    return n == len(socks), "%d/%d trickling bodies closed within 8 s" % (
        n, len(socks))


def idle_conns(port, count):
    """`count` connections that never send anything: the ones over the
    per-client limit are closed at once, the rest by the idle timeout."""
    socks, refused = [], 0
    for _ in range(count):
        try:
            socks.append(attacker_socket(port))
        except OSError:
            refused += 1
    time.sleep(1.0)
    end, pending = time.monotonic() + 7, list(socks)
    while pending and time.monotonic() < end:
        keep = []
        for s in pending:
            s.setblocking(False)
            try:
                if s.recv(1) == b"":
                    s.close()
                    continue
            except BlockingIOError:
                pass
            except OSError:
                s.close()
                continue
            keep.append(s)
        pending = keep
        time.sleep(0.2)
    for s in pending:
        s.close()
    return not pending, "%d connections opened, %d still open after 8 s" % (
        len(socks) + refused, len(pending))


def half_close(port, partial):
    """Connect, send `partial` (a request cut short), FIN, close, for 4 s:
    no connection left in CLOSE_WAIT."""
    end, n = time.monotonic() + 4, 0
    while time.monotonic() < end:
        try:
            s = attacker_socket(port)
            s.sendall(partial)
            s.shutdown(socket.SHUT_WR)
            s.close()
            n += 1
        except OSError:
            pass
    time.sleep(1.5)
    cw = close_wait_count(port)
    return cw == 0, "%d half-closed requests; %d in CLOSE_WAIT 1.5 s later" % (
        n, cw)


def stalled_uploads(port, head_fmt):
    """100 uploads declaring 2 MiB (head_fmt % length), 512 KiB sent, then
    silence: all answered or closed by the server within 5 s."""
    socks, statuses = [], {}
    chunk = b"a" * (64 * 1024)
    for _ in range(100):
        try:
            s = attacker_socket(port)
            s.sendall(head_fmt % (2 * MB))
            for _ in range(8):  # 512 KiB of the declared 2 MiB
                s.sendall(chunk)
            socks.append(s)
        except OSError:
            statuses[-1] = statuses.get(-1, 0) + 1
    closed = 0
    deadline = time.monotonic() + 5  # for all of them together
    for s in socks:
        c, data = closed_by_server(s, max(0.05, deadline - time.monotonic()))
        closed += 1 if c else 0
        k = status_of(data)
        statuses[k] = statuses.get(k, 0) + 1
        s.close()
    return closed == len(socks), (
        "%d stalled 2 MiB uploads: answers %s, %d closed by the server" % (
            len(socks) + statuses.get(-1, 0),
            ", ".join("%s x%d" % (k if k else "none", v)
                      for k, v in sorted(statuses.items()) if k != -1),
            closed))


def oversized(port, path):
    """A 100 KB URL, and a 100 KB header on a GET of `path`: 4xx."""
    outs = []
    for req in (b"GET /" + b"a" * 100000 + b" HTTP/1.1\r\nHost: x\r\n\r\n",
                b"GET " + path + b" HTTP/1.1\r\nHost: x\r\nX-Big: " +
                b"a" * 100000 + b"\r\n\r\n"):
        s = attacker_socket(port)
        try:
            s.sendall(req)
        except OSError:
            pass
        _, data = closed_by_server(s, 3)
        outs.append(status_of(data))
        s.close()
    ok = all(o in (400, 413, 414, 431) for o in outs)
    return ok, "100 KB URL -> %d, 100 KB header -> %d" % tuple(outs)


def garbage(port):
    """A valid GET /health, then pipelined garbage: answered once, then
    400 or closed."""
    outs = []
    for _ in range(50):
        s = attacker_socket(port)
        s.sendall(b"GET /health HTTP/1.1\r\nHost: x\r\n\r\n" +
                  b"\x00\xff GARBAGE \r\n\r\n" * 20 + os.urandom(2000))
        # Most garbage is answered 400 at once; garbage read as an
        # unfinished request line is closed by the deadlines (head 2 s
        # after the answer's idle 3 s, swept every 250 ms): wait past both.
        c, data = closed_by_server(s, 6)
        outs.append((data.count(b"HTTP/1.1 200"), c, b"HTTP/1.1 400" in data))
        s.close()
    ok = all(o[0] == 1 and o[1] for o in outs)
    return ok, ("50 connections: valid request answered then %d x 400, all "
                "closed: %s" % (sum(1 for o in outs if o[2]),
                                all(o[1] for o in outs)))


# ---- the probe loop ------------------------------------------------------------


class Monitor(threading.Thread):
    """Normal requests every 0.2 s (`normal(name)` -> (status, seconds),
    `want` the status a normal request gets) and RSS samples of `pid`,
    while an attack runs."""

    def __init__(self, normal, want, pid):
        super().__init__(daemon=True)
        self.normal, self.want, self.pid = normal, want, pid
        self.stop_ev = threading.Event()
        self.lat, self.bad, self.peak, self.n = [], [], 0.0, 0

    def run(self):
        while not self.stop_ev.is_set():
            self.n += 1
            st, dt = self.normal("n%d" % self.n)
            self.lat.append(dt)
            if st != self.want:
                self.bad.append(st)
            self.peak = max(self.peak, rss_mb(self.pid))
            self.stop_ev.wait(0.2)

    def finish(self):
        self.stop_ev.set()
        self.join()
        return max(self.lat) if self.lat else 0.0


def run_probes(probes, target, normal, want, pid, alive, who, only=(),
               hold_rss=True):
    """Runs each (name, fn, rss budget MB) of `probes` whose name contains
    one of `only` (all when empty): fn(target) -> (ok, what). Prints a line
    per probe and a table; returns the names of the probes that failed."""
    rows, failed = [], []
    for name, fn, budget in probes:
        if only and not any(k in name for k in only):
            continue
        mon = Monitor(normal, want, pid)
        mon.start()
        t0 = time.monotonic()
        try:
            ok, what = fn(target)
        except Exception as e:  # an attack that breaks the client side
            ok, what = False, "probe error: %r" % (e,)
        during = mon.finish()
        dur = time.monotonic() - t0
        after = max(normal("after%d" % i)[1] for i in range(3))
        up = alive()
        problems = []
        if not ok:
            problems.append("attack outcome")
        if mon.bad:
            problems.append("normal requests got %s" % sorted(set(mon.bad)))
        if during >= 1.0 or after >= 1.0:
            problems.append("normal request took >= 1 s")
        if hold_rss and mon.peak > budget:
            problems.append("peak RSS %.0f MB > %d MB" % (mon.peak, budget))
        if not up:
            problems.append("%s died" % who)
        print("%-16s %5.1fs  normal max %.3f s during (%d requests, %d "
              "failed), %.3f s after; peak RSS %.1f MB (budget %d); %s%s"
              % (name, dur, during, len(mon.lat), len(mon.bad), after,
                 mon.peak, budget, what,
                 "" if not problems else "  !! " + "; ".join(problems)),
              flush=True)
        rows.append((name, during, after, len(mon.bad), mon.peak, budget,
                     what))
        if problems:
            failed.append(name)
        if not up:
            break
    print("\n| probe | normal max during (s) | failed normal | after (s) | "
          "peak RSS MB (budget) | outcome |")
    print("|---|---|---|---|---|---|")
    for r in rows:
        print("| %s | %.3f | %d | %.3f | %.1f (%d) | %s |" % (
            r[0], r[1], r[3], r[2], r[4], r[5], r[6]))
    return failed
