"""A private network namespace for a test, with its own name resolution.

    ns = Netns({"a.example": "127.0.0.10", "b.example": "127.0.0.20"})
    subprocess.Popen(ns.prefix() + ["prosody", ...])
    dns = ns.start_dns(srv=["_xmpps-server._tcp.c.example,c.example,5270"])

Only loopback exists inside (every 127.0.0.0/8 address answers on lo), so
servers in it can use the standard ports and find each other by name
without touching the machine's network or DNS: /etc/netns/NAME/hosts and
/etc/netns/NAME/resolv.conf are what `ip netns exec` shows the processes
as /etc/hosts and /etc/resolv.conf, and a dnsmasq inside answers A and
SRV queries from that hosts file (Prosody without lua-unbound asks DNS,
not /etc/hosts).  Everything made here is removed at cleanup: the
namespace, /etc/netns/NAME (and /etc/netns if it was made here).
"""
import os
import shutil
import subprocess

from . import util

NETNS_ETC = "/etc/netns"
DNS_ADDRESS = "127.0.0.53"


def available():
    """None if a namespace can be made here, else why not."""
    if os.geteuid() != 0:
        return "needs root (ip netns add)"
    if not util.which("ip"):
        return "ip (iproute2) not found"
    return None


class Netns:
    def __init__(self, hosts, tag="xmppshield"):
        self.ip = util.require_tool("ip")
        self.name = "%s-%d" % (tag, os.getpid())
        self.etc = os.path.join(NETNS_ETC, self.name)
        self.hosts = dict(hosts)
        self._made_etc_root = False
        if os.path.exists(self.etc):
            raise util.HarnessError("%s exists; not touching it" % self.etc)
        r = util.run([self.ip, "netns", "add", self.name], timeout=10)
        if r.returncode != 0:
            raise util.Skip("network namespaces unavailable: %s"
                            % r.stderr.strip())
        util.on_cleanup(self.delete)
        if not os.path.isdir(NETNS_ETC):
            os.mkdir(NETNS_ETC, 0o755)
            self._made_etc_root = True
        os.mkdir(self.etc, 0o755)
        with open(os.path.join(self.etc, "hosts"), "w") as f:
            f.write("127.0.0.1 localhost\n")
            for name, addr in sorted(self.hosts.items()):
                f.write("%s %s\n" % (addr, name))
        with open(os.path.join(self.etc, "resolv.conf"), "w") as f:
            f.write("nameserver %s\noptions timeout:1 attempts:1\n"
                    % DNS_ADDRESS)
        util.run(self.prefix() + [self.ip, "link", "set", "lo", "up"],
                 timeout=10, check=True)

    def prefix(self):
        """argv prefix that runs a command inside the namespace."""
        return [self.ip, "netns", "exec", self.name]

    def run(self, argv, **kw):
        return util.run(self.prefix() + argv, **kw)

    def start_dns(self, srv=(), address=DNS_ADDRESS, hosts=None):
        """dnsmasq on ADDRESS:53 inside the namespace: the hosts file
        for A records, srv ("_service._tcp.domain,target,port") for SRV,
        NXDOMAIN for every other name under .example; nothing forwarded
        anywhere.  Another address with its own hosts (name -> address)
        gives a second view of DNS.  Returns the Popen; ready when it
        says so."""
        path, label = os.path.join(self.etc, "hosts"), "dnsmasq"
        if hosts is not None:
            path, label = os.path.join(self.etc, "hosts-" + address), \
                "dnsmasq-" + address
            with open(path, "w") as f:
                for name, addr in sorted(hosts.items()):
                    f.write("%s %s\n" % (addr, name))
        dnsmasq = util.require_tool(util.which("dnsmasq") or
                                    "/usr/sbin/dnsmasq")
        argv = [dnsmasq, "--keep-in-foreground", "--conf-file=/dev/null",
                "--no-resolv", "--no-hosts", "--no-poll",
                "--addn-hosts=" + path,
                "--listen-address=" + address, "--bind-interfaces",
                "--port=53", "--local=/example/", "--pid-file=",
                "--user=root", "--log-facility=-", "--log-queries"]
        argv += ["--srv-host=" + s for s in srv]
        return util.start_logged(self.prefix() + argv, "dnsmasq",
                                 r"\bstarted\b", label=label)

    def delete(self):
        util.run([self.ip, "netns", "del", self.name], timeout=10)
        shutil.rmtree(self.etc, ignore_errors=True)
        if self._made_etc_root:
            try:
                os.rmdir(NETNS_ETC)
            except OSError:
                pass

    def gone(self):
        """True once the namespace and its /etc/netns directory are gone."""
        r = util.run([self.ip, "netns", "list"], timeout=10)
        return (self.name not in r.stdout.split() and
                not any(l.split()[0] == self.name
                        for l in r.stdout.splitlines() if l.split()) and
                not os.path.exists(self.etc))
