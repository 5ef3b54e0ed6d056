"""Child processes of the drivers: a child with its output in a log file,
pausing a process until every thread has stopped, waiting until one listens, finding sanitizer reports (ASan, LSan, TSan,
MSan, UBSan) in its log, and sampling a process's RSS and open fds.
"""
import os
import re
import signal
import socket
import subprocess
import time

SANITIZER_RE = re.compile(r"ERROR: (Address|Leak|Thread|Memory)Sanitizer|"
                          r"runtime error: |SUMMARY: UndefinedBehaviorSanitizer")


class LoggedProc:
    """A child process with stdout+stderr in a log file that opens with the
    command line. It runs in its own session, so a Ctrl-C or a signal meant
    for the driver does not reach it: the driver stops it."""

    def __init__(self, log_path, argv, env=None):
        self.log_path = log_path
        self.argv = argv
        self.log = open(log_path, "wb")
        self.log.write(("$ %s\n" % " ".join(argv)).encode())
        self.log.flush()
        self.p = subprocess.Popen(argv, stdout=self.log, stderr=subprocess.STDOUT,
                                  stdin=subprocess.DEVNULL, env=env,
                                  start_new_session=True)

    def alive(self):
        return self.p.poll() is None

    def kill9(self):
        """SIGKILL; the process dies without any chance to clean up."""
        if self.alive():
            os.kill(self.p.pid, signal.SIGKILL)
        self.p.wait(timeout=10)
        self.log.close()

    def pause(self, timeout=10.0):
        """pause_pid() of this child: until resume() or a SIGKILL it
        answers nothing."""
        pause_pid(self.p.pid, timeout)

    def resume(self):
        os.kill(self.p.pid, signal.SIGCONT)

    def stop(self, timeout=10.0):
        """SIGTERM and wait; SIGKILL after timeout seconds. The exit status,
        or None if it had to be killed."""
        if self.alive():
            self.p.send_signal(signal.SIGTERM)
            self.p.send_signal(signal.SIGCONT)  # a paused child gets the SIGTERM now
            try:
                self.p.wait(timeout=timeout)
            except subprocess.TimeoutExpired:
                os.kill(self.p.pid, signal.SIGKILL)
                self.p.wait(timeout=10)
                self.log.close()
                return None
        self.log.close()
        return self.p.returncode

    def text(self):
        """The whole log so far ("" when it cannot be read)."""
        try:
            with open(self.log_path, "rb") as f:
                return f.read().decode("utf-8", "replace")
        except OSError:
            return ""

    def tail(self, lines=40):
        """The last lines of the log."""
        return "".join(self.text().splitlines(keepends=True)[-lines:])


def pause_pid(pid, timeout=10.0):
    """SIGSTOP, and waits until every thread of `pid` has stopped: from then
    on the process holds what it has received and answers nothing until a
    SIGCONT or a SIGKILL. (A thread stops only once it runs again, which on
    a loaded machine can take milliseconds: a bare SIGSTOP is not yet a
    paused process.)"""
    os.kill(pid, signal.SIGSTOP)
    deadline = time.monotonic() + timeout
    while not _all_threads_stopped(pid):
        if time.monotonic() > deadline:
            raise RuntimeError("pid %d did not stop within %g s" % (pid, timeout))
        time.sleep(0.0005)


def _all_threads_stopped(pid):
    """Whether every thread is stopped (state T in /proc; True where there
    is no /proc to ask)."""
    tasks = "/proc/%d/task" % pid
    try:
        for t in os.listdir(tasks):
            with open("%s/%s/stat" % (tasks, t)) as f:
                # the state follows the command name, which is in ()
                if f.read().rsplit(")", 1)[1].split()[0] not in ("T", "t"):
                    return False
    except (FileNotFoundError, ProcessLookupError):
        return not os.path.isdir(tasks)
    return True


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


def rss_kb(pid, field="VmRSS"):
    """The resident set of process `pid` in kB, 0 once it is gone: VmRSS,
    or one of its parts from /proc/<pid>/status (RssAnon: the memory the
    process allocated; RssFile: library code and data mapped from files,
    faulted in as code paths are first used)."""
    try:
        with open("/proc/%d/status" % pid) as f:
            for line in f:
                if line.startswith(field + ":"):
                    return int(line.split()[1])
    except OSError:
        pass
    return 0


def open_fds(pid):
    """How many file descriptors process `pid` has open (0 once it is gone)."""
    try:
        return len(os.listdir("/proc/%d/fd" % pid))
    except OSError:
        return 0
