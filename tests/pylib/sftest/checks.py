"""Assertions and the pass/fail tally of the drivers.

check()/check_eq() raise TestFailure, whose message is the whole report
(no traceback needed). Tally counts the results of a run and prints the
last line every driver ends with, "N passed, M failed", which the CTest
logs and scripts/test.sh read.
"""


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

    def summary(self):
        """The closing line: "N passed, M failed"."""
        return "%d passed, %d failed" % (self.passed, self.failed)

    def exit_code(self):
        return 1 if self.failed else 0
