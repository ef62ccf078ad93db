"""Process, port, temp-dir and log-line helpers shared by the harness.

Rules kept here so every test file obeys them:
- one temp dir per test file, removed at exit (XMPPSHIELD_KEEP_TMP=1 keeps it);
- processes are stopped by PID only (terminate, bounded wait, kill);
- every wait is bounded and event driven (a line appears, a port answers).
"""
import atexit
import os
import re
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import threading
import time

DEFAULT_TIMEOUT = 10.0
LOOPBACK = "127.0.0.1"


class HarnessError(Exception):
    """The harness itself could not set something up (not a daemon bug)."""


class Skip(Exception):
    """Raised to skip the whole test file (see tap.run)."""


# --------------------------------------------------------------------------
# cleanup registry

_cleanups = []
_cleanup_lock = threading.Lock()


def on_cleanup(fn, *args, **kw):
    """Register fn(*args, **kw) to run at exit, last registered first."""
    with _cleanup_lock:
        _cleanups.append((fn, args, kw))
    return fn


def run_cleanups():
    while True:
        with _cleanup_lock:
            if not _cleanups:
                return
            fn, args, kw = _cleanups.pop()
        try:
            fn(*args, **kw)
        except Exception as e:  # keep cleaning up
            sys.stdout.write("# cleanup %r failed: %s\n" % (fn, e))


atexit.register(run_cleanups)


def _on_signal(signum, frame):
    run_cleanups()
    os._exit(128 + signum)


for _sig in (signal.SIGTERM, signal.SIGINT, signal.SIGHUP):
    try:
        signal.signal(_sig, _on_signal)
    except (ValueError, OSError):
        pass


def make_tmpdir(tag="xmppshield-test-"):
    d = tempfile.mkdtemp(prefix=tag)
    if not os.environ.get("XMPPSHIELD_KEEP_TMP"):
        on_cleanup(shutil.rmtree, d, True)
    else:
        sys.stdout.write("# keeping temp dir %s\n" % d)
    return d


# --------------------------------------------------------------------------
# processes

def stop_process(proc, timeout=5.0, sig=signal.SIGTERM):
    """Stop one process we started, by its PID: signal, bounded wait, kill."""
    if proc is None or proc.poll() is not None:
        return proc.returncode if proc is not None else None
    try:
        os.kill(proc.pid, sig)
    except ProcessLookupError:
        pass
    try:
        return proc.wait(timeout)
    except subprocess.TimeoutExpired:
        try:
            os.kill(proc.pid, signal.SIGKILL)
        except ProcessLookupError:
            pass
        try:
            return proc.wait(timeout)
        except subprocess.TimeoutExpired:
            return None


def run_until(cmd, marker, timeout=30.0, input=None):
    """Run cmd (stdin kept open after input, stderr into stdout) until a
    line holding marker appears, it exits, or timeout; then end it.  Its
    output."""
    import select
    # line-buffered stdout, or the marker waits in stdio's buffer
    if shutil.which("stdbuf"):
        cmd = ["stdbuf", "-oL", "-eL"] + list(cmd)
    p = subprocess.Popen(cmd, stdin=subprocess.PIPE, stdout=subprocess.PIPE,
                         stderr=subprocess.STDOUT)
    if input:
        p.stdin.write(input)
        p.stdin.flush()
    out = b""
    deadline = time.monotonic() + timeout
    try:
        while marker.encode() not in out:
            left = deadline - time.monotonic()
            if left <= 0:
                break
            r, _, _ = select.select([p.stdout], [], [], left)
            if not r:
                break
            chunk = os.read(p.stdout.fileno(), 65536)
            if not chunk:
                break
            out += chunk
    finally:
        stop_process(p, 5.0)
    return out.decode(errors="replace")


def run(cmd, timeout=30.0, input=None, env=None, check=False, cwd=None):
    """subprocess.run with a hard timeout; returns CompletedProcess (text)."""
    try:
        r = subprocess.run(cmd, input=input, env=env, cwd=cwd,
                           stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                           timeout=timeout, text=True)
    except subprocess.TimeoutExpired as e:
        raise HarnessError("%s timed out after %ss (stdout=%r stderr=%r)"
                           % (cmd, timeout, e.stdout, e.stderr))
    if check and r.returncode != 0:
        raise HarnessError("%s exited %d: %s%s" % (cmd, r.returncode,
                                                    r.stdout, r.stderr))
    return r


def which(name):
    return shutil.which(name)


def require_tool(path_or_name):
    p = path_or_name if os.path.isabs(path_or_name) else which(path_or_name)
    if not p or not os.access(p, os.X_OK):
        raise Skip("%s not found" % path_or_name)
    return p


def require_root(why):
    if os.geteuid() != 0:
        raise Skip("needs root (%s)" % why)


# --------------------------------------------------------------------------
# ports

def free_port(host=LOOPBACK):
    """A currently free TCP port on host (for backends that need a number)."""
    fam = socket.AF_INET6 if ":" in host else socket.AF_INET
    with socket.socket(fam, socket.SOCK_STREAM) as s:
        s.bind((host, 0))
        return s.getsockname()[1]


def have_ipv6_loopback():
    try:
        with socket.socket(socket.AF_INET6, socket.SOCK_STREAM) as s:
            s.bind(("::1", 0))
        return True
    except OSError:
        return False


def wait_port(port, host=LOOPBACK, timeout=DEFAULT_TIMEOUT, proc=None):
    """Wait until host:port accepts a TCP connection (polls connect())."""
    deadline = time.monotonic() + timeout
    last = None
    while time.monotonic() < deadline:
        if proc is not None and proc.poll() is not None:
            raise HarnessError("process exited (%s) while waiting for port %d"
                               % (proc.returncode, port))
        try:
            with socket.create_connection((host, port), timeout=1.0):
                return True
        except OSError as e:
            last = e
            # A refused connect returns at once; this is the poll interval
            # of a port that has no event to wait on.
            time.sleep(0.05)
    raise HarnessError("port %s:%d not answering after %ss (%s)"
                       % (host, port, timeout, last))


# --------------------------------------------------------------------------
# line collection from a child's pipe

class LineCollector:
    """Reads a text stream in a thread and keeps every line.

    wait_for(regex) blocks on a condition variable until a matching line is
    seen (or the timeout passes), so tests await events instead of sleeping.
    """

    def __init__(self, stream, name="", echo=None):
        self.lines = []
        self.name = name
        self.echo = echo
        self.eof = False
        self._cond = threading.Condition()
        self._t = threading.Thread(target=self._reader, args=(stream,),
                                   daemon=True, name="lines-" + name)
        self._t.start()

    def _reader(self, stream):
        try:
            for raw in iter(stream.readline, b""):
                line = raw.decode("utf-8", "replace").rstrip("\r\n")
                if self.echo:
                    self.echo(line)
                with self._cond:
                    self.lines.append(line)
                    self._cond.notify_all()
        except (OSError, ValueError):
            pass
        finally:
            with self._cond:
                self.eof = True
                self._cond.notify_all()

    def mark(self):
        """Index to pass as start= to look only at lines logged after now."""
        with self._cond:
            return len(self.lines)

    def find(self, regex, start=0):
        rx = re.compile(regex) if isinstance(regex, str) else regex
        with self._cond:
            for line in self.lines[start:]:
                if rx.search(line):
                    return line
        return None

    def matching(self, regex, start=0):
        rx = re.compile(regex) if isinstance(regex, str) else regex
        with self._cond:
            return [l for l in self.lines[start:] if rx.search(l)]

    def wait_for(self, regex, timeout=DEFAULT_TIMEOUT, start=0):
        """The first line (from index start) matching regex, or None."""
        rx = re.compile(regex) if isinstance(regex, str) else regex
        deadline = time.monotonic() + timeout
        i = start
        with self._cond:
            while True:
                while i < len(self.lines):
                    if rx.search(self.lines[i]):
                        return self.lines[i]
                    i += 1
                left = deadline - time.monotonic()
                if left <= 0 or self.eof:
                    return None
                self._cond.wait(left)

    def wait_eof(self, timeout=DEFAULT_TIMEOUT):
        self._t.join(timeout)
        return self.eof

    def text(self, start=0):
        with self._cond:
            return "\n".join(self.lines[start:])


def start_logged(argv, name, ready, timeout=10.0, label=None):
    """Start a foreground server (stdin and stdout /dev/null), stopped at
    cleanup, its stderr collected in proc.log (tagged label, name by
    default); ready when a line of it matches the regex ready, else
    HarnessError "NAME did not start: its stderr".  The Popen."""
    proc = subprocess.Popen(argv, stdin=subprocess.DEVNULL,
                            stdout=subprocess.DEVNULL,
                            stderr=subprocess.PIPE)
    on_cleanup(stop_process, proc)
    proc.log = LineCollector(proc.stderr, label or name)
    if proc.log.wait_for(ready, timeout) is None:
        raise HarnessError("%s did not start: %s" % (name, proc.log.text()))
    return proc


def recv_upto(sock, buf, text):
    """Read sock (blocking, its own timeout) until text has come after
    what buf already holds; (everything up to and including text,
    decoded; the bytes after it).  EOFError(bytes so far) if the peer
    closes first."""
    while text.encode() not in buf:
        b = sock.recv(4096)
        if not b:
            raise EOFError(buf)
        buf += b
    i = buf.index(text.encode()) + len(text)
    return buf[:i].decode(), buf[i:]


def tail_file(path, n=40):
    try:
        with open(path, "r", errors="replace") as f:
            return "".join(f.readlines()[-n:])
    except OSError as e:
        return "(cannot read %s: %s)" % (path, e)


def child_pids(pid):
    """Direct children of pid (from /proc), e.g. the server under runuser."""
    out = []
    try:
        for tid in os.listdir("/proc/%d/task" % pid):
            with open("/proc/%d/task/%s/children" % (pid, tid)) as f:
                out += [int(x) for x in f.read().split()]
    except OSError:
        pass
    return out


def stop_runuser(proc, timeout=5.0, sig=signal.SIGTERM):
    """Stop a server started as `runuser -u USER -- server ...`.

    runuser answers SIGTERM by forwarding it, sleeping 2 s and sending
    SIGKILL; so signal the server itself (runuser's child, by PID) and let
    runuser exit with it.  Falls back to stop_process(runuser)."""
    if proc is None or proc.poll() is not None:
        return proc.returncode if proc is not None else None
    for cpid in child_pids(proc.pid):
        try:
            os.kill(cpid, sig)
        except ProcessLookupError:
            pass
    try:
        return proc.wait(timeout)
    except subprocess.TimeoutExpired:
        return stop_process(proc, timeout)
