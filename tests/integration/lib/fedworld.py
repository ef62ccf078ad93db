"""The federation tests' world: a network namespace with its own DNS
(lib/netns.py), a private temporary directory the servers can read, one
directory per Prosody, the servers started and their users registered,
and the slixmpp scenario run in a child inside the namespace.

    tmp, ns = fedworld.world(hosts, srv=[...])
    dirs = fedworld.server_dirs(tmp, ("a", "b"))
    fedworld.start_servers((pa, pb), servers, USERS)
    spec = fedworld.clients(USERS, {"a.example": A_IP})
    r = fedworld.run_clients(ns, __file__, spec, logfile)
    fedworld.report(r, logfile, d.text(mark), [("Prosody A", pa)])
    fedworld.teardown(t, ns)
"""
import json
import os

from . import daemon, netns, prosody, util, xmppclient

HERE = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


def require():
    """Skip unless root, a namespace, Prosody, slixmpp and dnsmasq are
    here (and the daemon is built)."""
    daemon.binary()
    why = netns.available() or prosody.available() or \
        xmppclient.available()
    if why:
        raise util.Skip(why)
    if not (util.which("dnsmasq") or os.access("/usr/sbin/dnsmasq",
                                                os.X_OK)):
        raise util.Skip("dnsmasq (dnsmasq-base) not installed")


def world(hosts, srv, tag="xmppshield"):
    """A temporary directory (0711: the servers run as their own users)
    and a namespace with these names and SRV records; (tmp, ns)."""
    tmp = util.make_tmpdir()
    os.chmod(tmp, 0o711)
    ns = netns.Netns(hosts, tag=tag)
    ns.start_dns(srv=srv)
    return tmp, ns


def server_dirs(tmp, names):
    """One directory (0711) per server name below tmp."""
    dirs = {}
    for n in names:
        dirs[n] = os.path.join(tmp, n)
        os.mkdir(dirs[n], 0o711)
    return dirs


def start_servers(procs, servers, users):
    """Start every server in procs, then register each user
    (jid -> password) on the server of its domain (servers: domain ->
    server)."""
    for p in procs:
        p.start()
    for jid, pw in users.items():
        user, host = jid.split("@")
        servers[host].register_at(user, host, pw)


def clients(users, hosts, home="b.example", home_port=15222):
    """The run_clients() spec: one plaintext client per user (jid ->
    password), named by its localpart, the users of home first (they log
    in to 127.0.0.1:home_port, the backend's own c2s), each other user
    at port 5222 of its domain's address in hosts."""
    spec = {}
    for jid, pw in sorted(users.items(),
                          key=lambda u: u[0].split("@")[1] != home):
        user, domain = jid.split("@")
        host, port = ("127.0.0.1", home_port) if domain == home else \
            (hosts[domain], 5222)
        spec[user] = {"jid": jid, "pw": pw, "host": host, "port": port,
                      "tls": "none"}
    return spec


def b_sections(ca, cert, ip, out):
    """The config of the xmppshield in front of b.example's server (its
    s2s on 127.0.0.1:15269): debug log, ca (certs.CA) checks remotes,
    cert is b.example's, an s2s listener on ip:5269 with s2s_verify =
    require, and the s2s-out listener out (a section); callers add
    more sections."""
    return {
        "global": {"log_level": "debug"},
        "tls": {"s2s_ca_file": ca.cert},
        "domain b.example": {"certificate": cert.cert, "key": cert.key},
        "listener s2s": {"listen": ip + ":5269", "kind": "s2s",
                         "backend": "127.0.0.1:15269",
                         "domains": "b.example", "s2s_verify": "require"},
        "listener s2s-out": out,
    }


def report(r, clients_log, daemon_text, servers, lines=60):
    """A federation case's diagnostics: the run_clients() result r
    (error, steps), the tail of the clients' log, xmppshield's log
    (daemon_text) and the last lines of each server's log (servers:
    (label, server) pairs, e.g. ("Prosody A", pa))."""
    out = "%s steps=%s\n-- clients:\n%s\n-- xmppshield:\n%s" % (
        r.get("error"), r.get("steps"), util.tail_file(clients_log, 25),
        daemon_text)
    for label, p in servers:
        out += "\n-- %s:\n%s" % (label, util.tail_file(p.log, lines))
    return out


def teardown(t, ns):
    """Run the cleanups (servers, daemon, the namespace) and check that
    the namespace is gone."""
    util.run_cleanups()
    t.ok(ns.gone(), "namespace %s removed" % ns.name)


def run_clients(ns, script, spec, logfile, timeout):
    """The federation scenario: `script --child SPEC LOGFILE` (slixmpp)
    inside the namespace; returns its JSON result."""
    env = dict(os.environ)
    env["PYTHONPATH"] = HERE + (":" + env["PYTHONPATH"]
                                if env.get("PYTHONPATH") else "")
    argv = ns.prefix() + [xmppclient.PYTHON, os.path.abspath(script),
                          "--child", json.dumps(spec), logfile]
    try:
        r = util.run(argv, timeout=timeout, env=env)
    except util.HarnessError as e:
        return {"ok": False, "error": str(e), "steps": []}
    lines = [l for l in r.stdout.splitlines() if l.startswith("{")]
    if not lines:
        return {"ok": False, "steps": [], "error": "no result (exit %d): %s"
                % (r.returncode, r.stderr[-2000:])}
    return json.loads(lines[-1])
