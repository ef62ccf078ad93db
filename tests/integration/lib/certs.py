"""Self-signed test certificates for example.org (RSA-2048 and ECDSA P-256)."""
import os

from . import util

DOMAIN = "example.org"


class Cert:
    def __init__(self, kind, cert, key):
        self.kind = kind    # "rsa" or "ecdsa"
        self.cert = cert    # PEM certificate path
        self.key = key      # PEM private key path

    def __repr__(self):
        return "Cert(%s, %s)" % (self.kind, self.cert)


def make_cert(directory, kind="rsa", domain=DOMAIN, days=30):
    """Create a self-signed cert+key for domain in directory; returns Cert."""
    openssl = util.require_tool("openssl")
    base = os.path.join(directory, "%s-%s" % (domain, kind))
    crt, key = base + ".crt", base + ".key"
    if kind == "rsa":
        newkey = ["-newkey", "rsa:2048"]
    elif kind == "ecdsa":
        newkey = ["-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:P-256"]
    else:
        raise ValueError(kind)
    util.run([openssl, "req", "-x509", "-nodes", "-sha256", "-days", str(days)]
             + newkey +
             ["-keyout", key, "-out", crt, "-subj", "/CN=%s" % domain,
              "-addext", "subjectAltName=DNS:%s" % domain],
             timeout=60, check=True)
    os.chmod(key, 0o600)
    return Cert(kind, crt, key)


def make_certs(directory, domain=DOMAIN):
    """{"rsa": Cert, "ecdsa": Cert}"""
    return {k: make_cert(directory, k, domain) for k in ("rsa", "ecdsa")}
