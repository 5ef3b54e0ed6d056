"""Child processes of the drivers: waiting until one listens, and finding
sanitizer reports (ASan, LSan, TSan, MSan, UBSan) in its log.
"""
import re
import socket
import time

SANITIZER_RE = re.compile(r"ERROR: (Address|Leak|Thread|Memory)Sanitizer|"
                          r"runtime error: |SUMMARY: UndefinedBehaviorSanitizer")


def wait_port(port, proc, what, timeout=30, fail=RuntimeError):
    """Waits until 127.0.0.1:port accepts a connection. Raises fail(msg)
    when the child (a subprocess.Popen) exits first or the time is up."""
    deadline = time.time() + timeout
    while time.time() < deadline:
        if proc.poll() is not None:
            raise fail("%s exited with %d before listening" % (what, proc.returncode))
        try:
            socket.create_connection(("127.0.0.1", port), timeout=0.5).close()
            return
        except OSError:
            time.sleep(0.1)
    raise fail("%s did not listen on port %d within %ds" % (what, port, timeout))


def sanitizer_lines(text):
    """The lines of a log that report a sanitizer finding."""
    return [ln for ln in text.splitlines() if SANITIZER_RE.search(ln)]
