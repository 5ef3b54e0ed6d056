"""Assertions and the pass/fail tally of the drivers.

check()/check_eq() raise TestFailure, whose message is the whole report
(no traceback needed). Tally counts the results of a run and prints the
last line every driver ends with, "N passed, M failed", which the CTest
logs and scripts/test.sh read; Tally.run() runs one test and prints its
PASS or FAIL line.
"""
import traceback


class TestFailure(Exception):
    """An assertion of a test did not hold; str() says what."""


def check(cond, msg, *args):
    """Fails with msg (%-formatted with args, if any) unless cond."""
    if not cond:
        raise TestFailure(msg % args if args else msg)


def check_eq(got, want, what):
    if got != want:
        raise TestFailure("%s: expected %r, got %r" % (what, want, got))


class Tally:
    """Passed and failed counts of a run."""

    def __init__(self):
        self.passed = 0
        self.failed = 0

    def add(self, ok):
        if ok:
            self.passed += 1
        else:
            self.failed += 1
        return ok

    def run(self, name, fn, *args):
        """Runs fn(*args) as the test `name` and counts it: "PASS name", or
        what failed (a TestFailure's text, else the traceback) and then
        "FAIL name". Returns whether it passed."""
        try:
            fn(*args)
        except Exception as e:  # noqa: BLE001 - every failure is reported
            print(e if isinstance(e, TestFailure) else traceback.format_exc().rstrip())
            print("FAIL", name, flush=True)
            return self.add(False)
        print("PASS", name, flush=True)
        return self.add(True)

    def summary(self):
        """The closing line: "N passed, M failed"."""
        return "%d passed, %d failed" % (self.passed, self.failed)

    def exit_code(self):
        return 1 if self.failed else 0
