-- Prosody 0.12 behind xmppshield.
--
-- Put these global settings into /etc/prosody/prosody.cfg.lua (above the
-- first VirtualHost).  The client port moves to loopback, where Prosody
-- accepts the plaintext stream xmppshield relays after the client's TLS
-- handshake; xmppshield itself listens on 5222:
--
--     [listener c2s]
--     listen = 0.0.0.0:5222 [::]:5222
--     backend = 127.0.0.1:15222
--     domains = example.org
--
-- Anyone who can reach port 15222 bypasses xmppshield: keep it on
-- loopback.  Prosody 0.12 has no PROXY protocol support in Debian's
-- package (mod_net_proxy is a community module), so leave
-- backend_proxy_protocol = none for Prosody.
-- xmppshield's test suite builds its Prosody configuration from this file.

c2s_ports = { 15222 }
c2s_interfaces = { "127.0.0.1" }

-- TLS is enforced by xmppshield in front; the relayed stream is plaintext.
c2s_require_encryption = false
-- PLAIN over that plaintext (SCRAM needs nothing extra).
allow_unencrypted_plain_auth = true

-- Server-to-server behind an s2s listener of xmppshield (dialback stays
-- on).  These two are global: they also relax Prosody's own outgoing s2s.
s2s_require_encryption = false
s2s_secure_auth = false
