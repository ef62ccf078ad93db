"""A tiny TAP producer for automake's tap-driver.sh.

    from lib import tap
    t = tap.TAP()
    t.ok(cond, "name", "diagnostic on failure")
    with t.case("name") as c:    # not ok if the block raises
        c.check(cond, "why")     # several checks, one test point
    t.done()                     # prints the plan, exits 0 / 1

Skipping a whole file: tap.skip_all("reason").
"""
import os
import sys
import traceback

# How a skipped file ends.  automake's tap-driver.sh (the LOG_DRIVER wired in
# Makefile.am) reads the "1..0 # SKIP reason" plan as SKIP and reports any
# non-zero exit status, 77 included, as an ERROR unless run with
# --ignore-exit.  So under the TAP driver a skip must exit 0; set
# XMPPSHIELD_SKIP_EXIT=77 to get the classic automake skip status when the
# files are run by the plain (non-TAP) test driver.
SKIP_EXIT = int(os.environ.get("XMPPSHIELD_SKIP_EXIT", "0"))


def diag(msg):
    for line in str(msg).splitlines() or [""]:
        sys.stdout.write("# " + line + "\n")
    sys.stdout.flush()


def skip_all(reason):
    sys.stdout.write("1..0 # SKIP %s\n" % reason)
    sys.stdout.flush()
    sys.exit(SKIP_EXIT)


class CheckFailed(AssertionError):
    pass


class _Case:
    def __init__(self, tap, name):
        self.tap = tap
        self.name = name
        self.failures = []
        self.notes = []

    def check(self, cond, what, detail=None):
        """Record one expectation; the case fails if any check fails."""
        if not cond:
            self.failures.append(what if detail is None
                                 else "%s: %s" % (what, detail))
        return bool(cond)

    def require(self, cond, what, detail=None):
        """Like check, but stops the case at once when false."""
        if not self.check(cond, what, detail):
            raise CheckFailed(what)

    def note(self, msg):
        self.notes.append(str(msg))

    def __enter__(self):
        return self

    def __exit__(self, etype, exc, tb):
        if etype is not None and not isinstance(exc, CheckFailed):
            self.failures.append("exception: " + "".join(
                traceback.format_exception(etype, exc, tb)).rstrip())
        self.tap.ok(not self.failures, self.name,
                    "\n".join(self.failures + self.notes) if self.failures
                    else None)
        return etype is None or issubclass(etype, Exception)


class TAP:
    def __init__(self):
        self.n = 0
        self.failed = 0
        self._done = False

    def ok(self, cond, name, detail=None):
        self.n += 1
        name = name.replace("#", "\\#")
        if cond:
            sys.stdout.write("ok %d - %s\n" % (self.n, name))
        else:
            self.failed += 1
            sys.stdout.write("not ok %d - %s\n" % (self.n, name))
            if detail:
                diag(detail)
        sys.stdout.flush()
        return bool(cond)

    def skip(self, name, reason):
        self.n += 1
        sys.stdout.write("ok %d - %s # SKIP %s\n" % (self.n, name, reason))
        sys.stdout.flush()

    def case(self, name):
        return _Case(self, name)

    def done(self):
        if not self._done:
            self._done = True
            sys.stdout.write("1..%d\n" % self.n)
            sys.stdout.flush()
        return 1 if self.failed else 0

    def exit(self):
        sys.exit(self.done())


class BudgetExceeded(BaseException):
    """Raised in the main thread by the watchdog alarm (a BaseException so
    that no test case swallows it and the file stops at once)."""


def main(body):
    """Run body(tap) with cleanup; a util.Skip skips the file, any other
    exception escaping the body is reported as a failed test point.  A
    watchdog (XMPPSHIELD_TEST_BUDGET seconds, default 150) ends a file that
    hangs anyway, still cleaning up every process it started."""
    import signal
    from . import util
    t = TAP()
    budget = int(float(os.environ.get("XMPPSHIELD_TEST_BUDGET", "150")))

    def on_alarm(signum, frame):
        raise BudgetExceeded("test file exceeded its %d s budget" % budget)

    signal.signal(signal.SIGALRM, on_alarm)
    signal.alarm(budget)
    try:
        body(t)
    except BudgetExceeded as e:
        t.ok(False, "test file finished within its time budget",
             "%s\n%s" % (e, traceback.format_exc()))
    except util.Skip as e:
        util.run_cleanups()
        if t.n == 0:
            skip_all(str(e))
        t.skip("remaining cases", str(e))
    except Exception:
        t.ok(False, "harness ran to the end", traceback.format_exc())
    finally:
        signal.alarm(0)
        util.run_cleanups()
    sys.exit(t.done())
