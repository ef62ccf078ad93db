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


class CA:
    """A test certificate authority made with openssl ca (so certificates
    can have any validity window and be revoked into a CRL).

        ca = CA(tmp, "xmppshield test CA")
        leaf = ca.issue("a.example")                  # DNS-ID + XmppAddr
        old = ca.issue("a.example", start="20200101000000Z",
                       end="20200201000000Z")         # expired
        ca.revoke(leaf); ca.crl()                     # -> ca.crl_path
    """

    CONF = """[ ca ]
default_ca = test
[ test ]
dir = {dir}
database = {dir}/index.txt
new_certs_dir = {dir}/newcerts
serial = {dir}/serial
crlnumber = {dir}/crlnumber
certificate = {dir}/ca.crt
private_key = {dir}/ca.key
default_md = sha256
default_days = 30
default_crl_days = 7
policy = any
unique_subject = no
copy_extensions = none
[ any ]
commonName = supplied
[ leaf ]
basicConstraints = CA:FALSE
keyUsage = critical, digitalSignature, keyEncipherment
extendedKeyUsage = serverAuth, clientAuth
subjectAltName = ${{ENV::SAN}}
"""

    def __init__(self, directory, name="xmppshield test CA"):
        self.openssl = util.require_tool("openssl")
        self.name = name
        self.dir = os.path.join(directory, name.replace(" ", "-"))
        os.makedirs(os.path.join(self.dir, "newcerts"))
        open(os.path.join(self.dir, "index.txt"), "w").close()
        with open(os.path.join(self.dir, "serial"), "w") as f:
            f.write("1000\n")
        with open(os.path.join(self.dir, "crlnumber"), "w") as f:
            f.write("01\n")
        self.conf = os.path.join(self.dir, "ca.cnf")
        with open(self.conf, "w") as f:
            f.write(self.CONF.format(dir=self.dir))
        self.cert = os.path.join(self.dir, "ca.crt")
        self.key = os.path.join(self.dir, "ca.key")
        self.crl_path = os.path.join(self.dir, "crl.pem")
        self._n = 0
        util.run([self.openssl, "req", "-x509", "-nodes", "-sha256",
                  "-days", "30", "-newkey", "ec", "-pkeyopt",
                  "ec_paramgen_curve:P-256", "-keyout", self.key,
                  "-out", self.cert, "-subj", "/CN=%s" % name,
                  "-addext", "basicConstraints=critical,CA:TRUE",
                  "-addext", "keyUsage=critical,keyCertSign,cRLSign"],
                 timeout=60, check=True)

    def issue(self, domain, san=None, start=None, end=None):
        """A P-256 leaf for CN=domain; san defaults to DNS-ID and
        XmppAddr of domain (an openssl subjectAltName value).  start/end:
        YYYYMMDDHHMMSSZ.  Returns a Cert."""
        self._n += 1
        base = os.path.join(self.dir, "%s-%d" % (domain, self._n))
        crt, key, csr = base + ".crt", base + ".key", base + ".csr"
        if san is None:
            san = "DNS:%s,otherName:1.3.6.1.5.5.7.8.5;UTF8:%s" % (domain,
                                                                  domain)
        util.run([self.openssl, "req", "-new", "-nodes", "-newkey", "ec",
                  "-pkeyopt", "ec_paramgen_curve:P-256", "-keyout", key,
                  "-out", csr, "-subj", "/CN=%s" % domain],
                 timeout=60, check=True)
        argv = [self.openssl, "ca", "-batch", "-notext", "-config",
                self.conf, "-extensions", "leaf", "-in", csr, "-out", crt]
        if start:
            argv += ["-startdate", start]
        if end:
            argv += ["-enddate", end]
        util.run(argv, timeout=60, check=True, env=dict(os.environ, SAN=san))
        os.chmod(key, 0o600)
        return Cert("ecdsa", crt, key)

    def revoke(self, cert):
        util.run([self.openssl, "ca", "-batch", "-config", self.conf,
                  "-revoke", cert.cert], timeout=60, check=True,
                 env=dict(os.environ, SAN="DNS:x"))

    def crl(self):
        """Write the CRL (every revoked certificate) to crl_path."""
        util.run([self.openssl, "ca", "-batch", "-config", self.conf,
                  "-gencrl", "-out", self.crl_path], timeout=60, check=True,
                 env=dict(os.environ, SAN="DNS:x"))
        return self.crl_path
