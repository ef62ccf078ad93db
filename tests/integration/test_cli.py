#!/usr/bin/python3
"""Command line: -V, -n (config check) and refusing bad configs with
FILE:LINE messages; a SIGTERM stops a running daemon cleanly."""
import os
import re
import signal

from lib import certs, daemon, expect, tap, util

ERR_RX = r"^xmppshield: %s:(\d+): .+; .+"
# Problems found after parsing (certificate/key files) may carry no line.
ERR_NOLINE_RX = r"^xmppshield: %s:(\d+:)? .+; .+"


def main(t):
    binary = daemon.binary()
    tmp = util.make_tmpdir()
    c = certs.make_certs(tmp)

    def conf(name, sections):
        return daemon.write_config(os.path.join(tmp, name), sections)

    def good(**extra):
        return daemon.base_config(c["rsa"], 15222, extra=extra)

    def line_of(path, text):
        with open(path) as f:
            for i, l in enumerate(f, 1):
                if l.startswith(text):
                    return i
        raise AssertionError("%s not in %s" % (text, path))

    def refused(case, path, key_line_prefix, must_match=None, line=True):
        r = daemon.check_config(path)
        case.check(r.returncode == 1, "exit status 1",
                   "got %d; stdout %r stderr %r" % (r.returncode, r.stdout,
                                                    r.stderr))
        case.check(expect.CONFIG_OK not in r.stdout, "no 'configuration OK'",
                   r.stdout)
        m = re.search((ERR_RX if line else ERR_NOLINE_RX) % re.escape(path),
                      r.stderr, re.M)
        case.check(m, "stderr is 'xmppshield: FILE:LINE: problem; remedy'"
                   if line else "stderr is 'xmppshield: FILE[:LINE]: "
                   "problem; remedy'", repr(r.stderr))
        if m and key_line_prefix:
            want = line_of(path, key_line_prefix)
            case.check(int(m.group(1)) == want,
                       "line number points at '%s'" % key_line_prefix,
                       "said %s, expected %d" % (m.group(1), want))
        if must_match:
            case.check(re.search(must_match, r.stderr),
                       "message matches /%s/" % must_match, repr(r.stderr))
        return r

    with t.case("-V prints the versions of xmppshield, libevent, mbedTLS "
                "and Expat") as k:
        r = util.run([binary, "-V"], timeout=10)
        k.check(r.returncode == 0, "exit 0", r.returncode)
        for name in expect.VERSION_NAMES:
            k.check(re.search(r"(?mi)^%s\b.*\d+\.\d+" % re.escape(name),
                              r.stdout),
                    "a '%s <version>' line" % name, repr(r.stdout))

    with t.case("-n on a good config prints 'configuration OK' and exits 0") \
            as k:
        p = conf("good.conf", good())
        r = daemon.check_config(p)
        k.check(r.returncode == 0, "exit 0",
                "%d: %r %r" % (r.returncode, r.stdout, r.stderr))
        k.check(expect.CONFIG_OK in r.stdout, "stdout says configuration OK",
                repr(r.stdout))

    with t.case("-n with an ECDSA P-256 certificate passes") as k:
        cfg = daemon.base_config(c["ecdsa"], 15222)
        r = daemon.check_config(conf("ecdsa.conf", cfg))
        k.check(r.returncode == 0 and expect.CONFIG_OK in r.stdout,
                "configuration OK", "%d %r %r" % (r.returncode, r.stdout,
                                                  r.stderr))

    with t.case("min_version = TLSv1.1 is refused, naming TLS 1.2") as k:
        cfg = good()
        cfg["tls"]["min_version"] = "TLSv1.1"
        refused(k, conf("tls11.conf", cfg), "min_version",
                r"TLS ?v?1\.2")

    with t.case("ciphers = AES128-SHA (CBC) is refused") as k:
        cfg = good()
        cfg["tls"]["ciphers"] = "AES128-SHA"
        refused(k, conf("cbc.conf", cfg), "ciphers")

    with t.case("an unknown key is refused with file:line") as k:
        cfg = good()
        cfg["listener c2s"]["backnd"] = "127.0.0.1:1"
        refused(k, conf("unknown.conf", cfg), "backnd", r"backnd")

    with t.case("a key given twice in a section is refused with file:line") \
            as k:
        sections = good()
        sections.pop("limits", None)
        p = conf("dup.conf", sections)
        with open(p, "a") as f:
            f.write("\n[limits]\nmax_stanza_size = 1k\nmax_stanza_size = 2k\n")
        r = refused(k, p, None)
        lines = [i for i, l in enumerate(open(p), 1)
                 if l.startswith("max_stanza_size")]
        m = re.search(ERR_RX % re.escape(p), r.stderr, re.M)
        k.check(m and int(m.group(1)) in lines,
                "line number is one of the duplicate lines %s" % lines,
                m and m.group(1))

    with t.case("a line longer than 199 characters is refused with "
                "file:line (no silent split by inih)") as k:
        p = conf("long.conf", good())
        with open(p, "a") as f:
            f.write("\n[domain example.com]\ncertificate = %s%s\n"
                    % ("/" * 250, c["rsa"].cert))
        refused(k, p, "certificate = //")

    with t.case("a certificate file that does not exist is refused") as k:
        cfg = good()
        cfg["tls"]["certificate"] = os.path.join(tmp, "missing.crt")
        r = refused(k, conf("nocert.conf", cfg), None, line=False)
        k.check("missing.crt" in r.stderr, "message names the file",
                r.stderr)

    with t.case("a key that does not match the certificate is refused") as k:
        cfg = good()
        cfg["tls"]["key"] = c["ecdsa"].key
        refused(k, conf("mismatch.conf", cfg), None, line=False)

    with t.case("a listener naming a domain without [domain] is refused") \
            as k:
        cfg = good()
        cfg["listener c2s"]["domains"] = "example.org example.net"
        refused(k, conf("nodomain.conf", cfg), None, r"example\.net")

    with t.case("the shipped example config passes -n with test "
                "certificates") as k:
        src = os.path.join(daemon.top_srcdir(), "etc",
                           "xmppshield.conf.example")
        with open(src) as f:
            text = f.read()
        text, n1 = re.subn(r"(?m)^certificate = .*$",
                           "certificate = " + c["rsa"].cert, text)
        text, n2 = re.subn(r"(?m)^key = .*$", "key = " + c["rsa"].key, text)
        k.check(n1 >= 1 and n2 >= 1, "example has certificate/key lines",
                (n1, n2))
        p = os.path.join(tmp, "example.conf")
        with open(p, "w") as f:
            f.write(text)
        r = daemon.check_config(p)
        k.check(r.returncode == 0 and expect.CONFIG_OK in r.stdout,
                "configuration OK", "%d %r %r" % (r.returncode, r.stdout,
                                                  r.stderr))

    with t.case("-d starts, logs event=listening with the bound port, and "
                "SIGTERM stops it with exit 0") as k:
        d = daemon.Daemon(tmp, daemon.base_config(c["rsa"], 15222)).start()
        k.check(d.port("c2s") > 0, "a real port was logged", d.ports)
        util.wait_port(d.port("c2s"))
        # SIGTERM before the daemon has set its handlers just kills it
        k.require(d.wait_for(r"event=%s\b" % expect.STARTED),
                  "event=started logged", d.text())
        d.proc.send_signal(signal.SIGTERM)
        try:
            rc = d.proc.wait(10)
        except Exception:
            rc = None
        k.check(rc == 0, "exit status 0 after SIGTERM", rc)
        d.stop()
        k.note(d.text())


if __name__ == "__main__":
    tap.main(main)
