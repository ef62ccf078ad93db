"""A private ejabberd 23.01 node inside a test's network namespace, as the
legacy federation backend behind xmppshield (issue 13):

    j = NsEjabberd(dir, ns, "b.example", c2s_port=15222, s2s_port=15269)
    j.start(); j.register_at("bob", "b.example", "pw")

Plaintext c2s on 127.0.0.1:c2s_port (no STARTTLS offered), an
ejabberd_s2s_in listener on 127.0.0.1:s2s_port (xmppshield's inbound s2s
listener relays to it), `s2s_use_starttls: false` (ejabberd neither
offers nor asks for TLS on s2s: xmppshield does it both ways) and
mod_s2s_dialback.  Everything else is lib/ejabberd.py's node (its own
config dir, spool, distribution port, cookie), with every ejabberdctl
command run inside the namespace (the node's distribution port is on the
namespace's loopback).

ejabberd resolves its outgoing s2s itself: SRV with Erlang's inet_res,
which reads the nameservers of /etc/resolv.conf (the namespace's, bind-
mounted by `ip netns exec`), and addresses with inet:gethostbyname
(inetrc: the hosts file, then the system resolver).  resolver= instead
names one DNS server (host, port) in the node's inetrc, for a second
view of DNS in the same namespace.
"""
import os
import re
import time

from . import ejabberd, util

FEDERATION_YML = "ejabberd-federation.yml"


def available():
    return ejabberd.available()


def federation_snippet_path():
    from . import daemon
    return os.path.join(daemon.top_srcdir(), "contrib", "backends",
                        FEDERATION_YML)


def federation_snippet(s2s_port):
    """contrib/backends/ejabberd-federation.yml with the test's s2s port:
    (the listen item, the top-level keys, the modules entries), as an
    admin would merge them.  The harness refuses a snippet whose shape
    changed."""
    with open(federation_snippet_path()) as f:
        text = f.read()
    body = [l for l in text.splitlines() if l and not l.startswith("#")]
    sections, cur = {}, None
    for l in body:
        if not l.startswith(" "):
            cur = l.split(":", 1)[0]
            sections[cur] = [l]
        elif cur is not None:
            sections[cur].append(l)
    for key in ("listen", "s2s_use_starttls", "modules"):
        if key not in sections:
            raise util.HarnessError("%s: no top-level %s"
                                    % (federation_snippet_path(), key))
    listen = "\n".join(sections["listen"][1:])
    listen, n = re.subn(r"^(    port: )15269$", r"\g<1>%d" % s2s_port,
                        listen, flags=re.M)
    if n != 1 or "module: ejabberd_s2s_in" not in listen:
        raise util.HarnessError("%s: the listen item changed shape"
                                % federation_snippet_path())
    top = "\n".join("\n".join(v) for k, v in sections.items()
                    if k not in ("listen", "modules"))
    if not re.search(r"^s2s_use_starttls: false$", top, re.M):
        raise util.HarnessError("%s: s2s_use_starttls is not false"
                                % federation_snippet_path())
    mods = "\n".join(sections["modules"][1:])
    if "mod_s2s_dialback" not in mods:
        raise util.HarnessError("%s: no mod_s2s_dialback"
                                % federation_snippet_path())
    return listen, top, mods


class NsEjabberd(ejabberd.Ejabberd):
    def __init__(self, tmpdir, ns, domain, c2s_port, s2s_port,
                 resolver=None, loglevel="debug"):
        self.ns = ns
        self.s2s_port = s2s_port
        self.resolver = resolver
        super().__init__(tmpdir, domain=domain, offer_starttls=False,
                         port=c2s_port, loglevel=loglevel)

    def _write_config(self):
        super()._write_config()
        with open(self.config) as f:
            cfg = f.read()
        listen, top, mods = federation_snippet(self.s2s_port)
        # the c2s snippet's s2s line gives way to the federation one
        cfg, n = re.subn(r"^s2s_use_starttls: optional\n", "", cfg,
                         flags=re.M)
        if n != 1:
            raise util.HarnessError("ejabberd config: no s2s_use_starttls "
                                    "line to replace")
        cfg = cfg.replace("\nlisten:\n", "\nlisten:\n%s\n" % listen, 1)
        cfg = cfg.replace("\nmodules:\n", "\n# -- contrib/backends/%s --\n"
                          "%s\n# --\nmodules:\n%s\n"
                          % (FEDERATION_YML, top, mods), 1)
        with open(self.config, "w") as f:
            f.write(cfg)
        if self.resolver:
            host, port = self.resolver
            with open(os.path.join(self.dir, "inetrc"), "a") as f:
                f.write("{nameserver, {%s}, %d}.\n"
                        % (",".join(host.split(".")), port))

    def _ctl(self, *args):
        return self.ns.prefix() + super()._ctl(*args)

    def start(self, timeout=60.0):
        """ejabberdctl foreground inside the namespace; ready when the
        node says it started (its listeners are up by then) and its c2s
        port answers with stream features inside the namespace."""
        t0 = time.monotonic()
        self._spawn()
        if self._out.wait_for(r"ejabberd \S+ is started in the node",
                              timeout) is None:
            raise util.HarnessError(
                "ejabberd did not start in %s:\n%s\nlog:\n%s"
                % (self.ns.name, self._out.text()[-3000:],
                   util.tail_file(self.log_path())))
        self.start_time = time.monotonic() - t0
        return self

    def wait_log(self, regex, timeout=util.DEFAULT_TIMEOUT):
        """The first line of ejabberd's log matching regex, waiting
        (bounded) for it: ejabberd writes its log asynchronously, after
        the stanzas it logs about have gone out.  None if it never
        comes."""
        rx = re.compile(regex)
        deadline = time.monotonic() + timeout
        while True:
            for line in self.log_text().splitlines():
                if rx.search(line):
                    return line
            if time.monotonic() >= deadline:
                return None
            # a file has no event to wait on: this is its poll interval
            time.sleep(0.05)

    def register_at(self, user, host, password):
        if host != self.domain:
            raise util.HarnessError("%s serves %s, not %s"
                                    % (self.config, self.domain, host))
        self.register(user, password)
