"""Loopback networking for the drivers: free ports (the kernel's pick, or
one below the ephemeral range for servers that bind late), one-shot
HTTP/1.1 requests to 127.0.0.1, and keep-alive connections kept per
thread for drivers that call from many threads at once.
"""
import http.client
import random
import socket
import threading


def free_port():
    """A port the kernel reports free on 127.0.0.1 now (bind to port 0)."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


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


# Ports free_port_below_ephemeral has handed out in this process. A port
# handed out is often bound only later (a cluster starts after the
# function it calls), so "bindable now" does not mean "not promised": a
# CI run had the Kafka controller's port+1 of a pair picked again for a
# function server, and the broker failed to bind it.
_given = set()


def free_port_below_ephemeral(pair=False):
    """A free loopback port (with pair=True, port and port+1 both free),
    picked *below* the kernel's ephemeral range: the JVMs bind many port-0
    sockets and open connections while Kafka starts, and a port taken from
    the ephemeral range can be gone by the time Kafka binds it. Never one
    this process was given before (nor the +1 of a pair). None when 500
    tries found none."""
    lo, _ = _ephemeral_range()
    top = max(lo - 2, 12000)
    for _ in range(500):
        port = random.randint(10000, top)
        want = (port, port + 1) if pair else (port,)
        if any(p in _given for p in want):
            continue
        if all(_bindable(p) for p in want):
            _given.update(want)
            return port
    return None


def request_once(port, method, path, body=None, headers=None, timeout=30.0):
    """One request on a fresh connection to 127.0.0.1:port: (status,
    body bytes). OSError and http.client.HTTPException propagate."""
    c = http.client.HTTPConnection("127.0.0.1", port, timeout=timeout)
    try:
        c.request(method, path, body=body, headers=headers or {})
        r = c.getresponse()
        return r.status, r.read()
    finally:
        c.close()


class KeepAlive:
    """HTTP/1.1 requests on one keep-alive connection per thread and port
    (thread-safe: each thread has its own connections). A request on a
    reused connection that the server had closed meanwhile is sent once
    more on a fresh one; any other error propagates."""

    def __init__(self, host="127.0.0.1"):
        self.host = host
        self.local = threading.local()

    def request(self, port, method, path, body=None, headers=None, timeout=30):
        """(status, headers with lower-case names, body bytes)."""
        conns = getattr(self.local, "conns", None)
        if conns is None:
            conns = self.local.conns = {}
        for attempt in (0, 1):
            c = conns.get(port)
            fresh = c is None
            if fresh:
                c = conns[port] = http.client.HTTPConnection(self.host, port, timeout=timeout)
            try:
                c.timeout = timeout
                if c.sock is not None:
                    c.sock.settimeout(timeout)
                c.request(method, path, body=body, headers=headers or {})
                r = c.getresponse()
                data = r.read()
                hdrs = {k.lower(): v for k, v in r.getheaders()}
                if hdrs.get("connection", "").lower() == "close":
                    c.close()
                    del conns[port]
                return r.status, hdrs, data
            except (http.client.RemoteDisconnected, BrokenPipeError, ConnectionResetError):
                c.close()
                conns.pop(port, None)
                if fresh or attempt == 1:
                    raise
            except Exception:
                c.close()
                conns.pop(port, None)
                raise
