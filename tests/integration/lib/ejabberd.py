"""A private ejabberd 23.01 node (plaintext c2s on loopback, STARTTLS
offered but not required) for tests.

Config dir, spool (Mnesia), logs and pid file live in the test's temp dir;
the node gets its own name, an Erlang distribution port on 127.0.0.1 (no
epmd) and a random cookie passed with -setcookie (no cookie file is written).
It runs `ejabberdctl ... foreground` as the ejabberd account via runuser, so
the harness holds the process; stop() asks `ejabberdctl stop` first and then
stops the processes it started by PID.  /etc/ejabberd and /var/lib/ejabberd
are never used.
"""
import os
import pwd
import re
import secrets
import subprocess
import time

from . import daemon, raw, util

EJABBERDCTL = "/usr/sbin/ejabberdctl"
RUNUSER = "/usr/sbin/runuser"
USER = "ejabberd"
DOMAIN = "example.org"


def snippet_path():
    return os.path.join(daemon.top_srcdir(), "contrib", "backends",
                        "ejabberd.yml")


def _sub(text, pattern, repl, what):
    """One substitution in the shipped snippet; the harness refuses a
    snippet whose shape changed (so the tests keep using the documented
    settings, not a private copy)."""
    new, n = re.subn(pattern, repl, text, count=1, flags=re.M)
    if n != 1:
        raise util.HarnessError("contrib/backends/ejabberd.yml: no %s line "
                                "(%s)" % (what, pattern))
    return new


def snippet_config(port, starttls=True, max_stanza_size=262144,
                   proxy_protocol=False):
    """contrib/backends/ejabberd.yml with the test's port and options: the
    listener on 127.0.0.1:port plus auth_password_format and
    s2s_use_starttls, as an admin would paste it."""
    with open(snippet_path()) as f:
        text = f.read()
    for key, want in (("ip", '"127.0.0.1"'), ("module", "ejabberd_c2s"),
                      ("starttls_required", "false")):
        _sub(text, r"^    %s: %s$" % (key, re.escape(want)), "", key)
    text = _sub(text, r"^(    port: )15222$", r"\g<1>%d" % port, "port")
    text = _sub(text, r"^(    starttls: )true$",
                r"\g<1>%s" % ("true" if starttls else "false"), "starttls")
    text = _sub(text, r"^(    max_stanza_size: )\d+$",
                r"\g<1>%d" % max_stanza_size, "max_stanza_size")
    if proxy_protocol:
        text = _sub(text, r"^    # (use_proxy_protocol: true)$", r"    \1",
                    "use_proxy_protocol")
    text = _sub(text, r"^(    module: ejabberd_c2s)$",
                "\\1\n    access: c2s\n    shaper: none", "module")
    for key in ("auth_password_format: scram", "s2s_use_starttls: optional"):
        _sub(text, r"^%s$" % re.escape(key), "", key)
    return text


def available():
    if os.geteuid() != 0:
        return "needs root (runs ejabberd as the ejabberd account)"
    for p in (EJABBERDCTL, RUNUSER, "/usr/bin/erl"):
        if not os.access(p, os.X_OK):
            return "%s not found" % p
    try:
        pwd.getpwnam(USER)
    except KeyError:
        return "no %s account" % USER
    return None


class Ejabberd:
    def __init__(self, tmpdir, domain=DOMAIN, cert=None, offer_starttls=True,
                 port=None, max_stanza_size=262144, loglevel="info",
                 proxy_protocol=False, admin_extra=False):
        self.domain = domain
        self.dir = os.path.join(tmpdir, "ejabberd")
        self.spool = os.path.join(self.dir, "spool")
        self.logs = os.path.join(self.dir, "logs")
        self.config = os.path.join(self.dir, "ejabberd.yml")
        self.ctl_config = os.path.join(self.dir, "ejabberdctl.cfg")
        self.pidfile = os.path.join(self.dir, "ejabberd.pid")
        self.port = port or util.free_port()
        self.dist_port = util.free_port()
        self.node = "xmppshield-test-%s@localhost" % secrets.token_hex(4)
        self.cookie = secrets.token_hex(16)
        self.cert = cert
        self.offer_starttls = offer_starttls
        self.max_stanza_size = max_stanza_size
        self.loglevel = loglevel
        self.proxy_protocol = proxy_protocol
        # mod_admin_extra: ejabberdctl connected_users_info and friends
        self.admin_extra = admin_extra
        self.proc = None
        self._out = None
        self.start_time = None
        os.chmod(tmpdir, 0o711)
        for d in (self.dir, self.spool, self.logs):
            os.makedirs(d, exist_ok=True)
        self._write_config()
        pw = pwd.getpwnam(USER)
        for root, dirs, files in os.walk(self.dir):
            for n in [root] + [os.path.join(root, f) for f in files]:
                os.chown(n, pw.pw_uid, pw.pw_gid)
        os.chmod(self.dir, 0o700)

    def _write_config(self):
        certfiles = ""
        if self.cert is not None and self.offer_starttls:
            pem = os.path.join(self.dir, "%s.pem" % self.domain)
            with open(pem, "w") as out:
                for p in (self.cert.cert, self.cert.key):
                    with open(p) as f:
                        out.write(f.read())
            os.chmod(pem, 0o600)
            certfiles = "certfiles:\n  - %s\n" % pem
        listen = snippet_config(self.port, self.offer_starttls,
                                self.max_stanza_size, self.proxy_protocol)
        with open(self.config, "w") as f:
            f.write("""# generated by xmppshield's integration tests
hosts:
  - {domain}
loglevel: {loglevel}
log_rotate_count: 0
{certfiles}
# -- contrib/backends/ejabberd.yml, with the test's port --
{listen}
# -- end of the snippet --
auth_method: internal
acl:
  local:
    user_regexp: ""
access_rules:
  local:
    allow: local
  c2s:
    allow: all
api_permissions:
  "console commands":
    from:
      - ejabberd_ctl
    who: all
    what: "*"
shaper_rules:
  max_user_sessions: 10
modules:
  mod_disco: {{}}
  mod_ping: {{}}
  mod_roster:
    versioning: false
  mod_offline: {{}}
  mod_stream_mgmt: {{}}
{extra}""".format(domain=self.domain, loglevel=self.loglevel, certfiles=certfiles,
           listen=listen,
           extra="  mod_admin_extra: {}\n" if self.admin_extra else ""))
        with open(self.ctl_config, "w") as f:
            f.write("""# generated by xmppshield's integration tests
ERLANG_NODE={node}
ERL_DIST_PORT={dist}
# the distribution listens on loopback only; given directly instead of
# INET_DIST_INTERFACE, which costs an extra Erlang VM start per command
ERL_OPTIONS="-setcookie {cookie} -kernel inet_dist_use_interface {{127,0,0,1}} -env ERL_CRASH_DUMP_BYTES 0"
EJABBERD_PID_PATH={pid}
EJABBERD_BYPASS_WARNINGS=true
""".format(node=self.node, dist=self.dist_port, cookie=self.cookie,
           pid=self.pidfile))
        with open(os.path.join(self.dir, "inetrc"), "w") as f:
            f.write('{lookup,["file","native"]}.\n'
                    '{host,{127,0,0,1}, ["localhost"]}.\n')

    def _ctl(self, *args):
        return [RUNUSER, "-u", USER, "--", "env", "HOME=" + self.dir,
                EJABBERDCTL, "--config-dir", self.dir,
                "--config", self.config, "--ctl-config", self.ctl_config,
                "--logs", self.logs, "--spool", self.spool,
                "--node", self.node] + list(args)

    def _spawn(self):
        """`ejabberdctl foreground` (through _ctl(), which a subclass
        may prefix), stopped at cleanup, its output collected in
        self._out; readiness is the caller's."""
        self.proc = subprocess.Popen(
            self._ctl("foreground"), stdin=subprocess.DEVNULL,
            stdout=subprocess.PIPE, stderr=subprocess.STDOUT, cwd=self.dir)
        util.on_cleanup(self.stop)
        self._out = util.LineCollector(self.proc.stdout, "ejabberd")

    def start(self, timeout=60.0):
        """Start in the foreground; ready when a stream header on the c2s
        port gets stream features back."""
        t0 = time.monotonic()
        self._spawn()
        try:
            util.wait_port(self.port, timeout=timeout, proc=self.proc)
            self.wait_features(timeout)
        except Exception as e:
            raise util.HarnessError("ejabberd did not come up: %s\n"
                                    "output:\n%s\nlog:\n%s"
                                    % (e, self._out.text()[-3000:],
                                       util.tail_file(self.log_path())))
        self.start_time = time.monotonic() - t0
        return self

    def log_path(self):
        return os.path.join(self.logs, "ejabberd.log")

    def log_text(self):
        try:
            with open(self.log_path(), errors="replace") as f:
                return f.read()
        except OSError:
            return ""

    def wait_features(self, timeout=util.DEFAULT_TIMEOUT):
        with raw.RawClient(self.port, timeout=timeout) as c:
            if self.proxy_protocol:
                # the port expects a PROXY header first
                h, p = c.sock.getsockname()[:2]
                c.send("PROXY TCP4 %s 127.0.0.1 %d %d\r\n"
                       % (h, p, self.port))
            m = c.open_stream(raw.header(to=self.domain))
            if not m:
                raise util.HarnessError("no stream features from ejabberd: %r"
                                        % c.data)
            return c.view()

    def ctl(self, *args, timeout=30.0):
        return util.run(self._ctl(*args), timeout=timeout)

    def register(self, user, password):
        r = self.ctl("register", user, self.domain, password)
        if r.returncode != 0:
            raise util.HarnessError("ejabberdctl register %s: %s%s"
                                    % (user, r.stdout, r.stderr))

    def stop(self, timeout=15.0):
        if self.proc is None or self.proc.poll() is not None:
            return self.proc.returncode if self.proc else None
        try:
            self.ctl("stop", timeout=timeout)
        except util.HarnessError:
            pass
        try:
            return self.proc.wait(timeout)
        except subprocess.TimeoutExpired:
            pass
        # by PID: the beam process from our private pid file, then runuser
        try:
            with open(self.pidfile) as f:
                beam = int(f.read().strip())
            os.kill(beam, 9)
        except (OSError, ValueError):
            pass
        return util.stop_runuser(self.proc, 5.0)
