"""Every name the tests expect in the daemon's log and on the wire, in one
place, so a rename in the daemon is a one-line change here.

Log lines look like
    xmppshield[PID]: LEVEL: event=NAME key=value key="quoted value" ...
"""

# -- events ------------------------------------------------------------------
LISTENING = "listening"
STARTED = "started"          # after listening: signal handlers are set
ACCEPT = "accept"
TLS_ESTABLISHED = "tls-established"

CLOSE = "close"
POLICY = "policy-violation"
PROTOCOL = "protocol-error"
TLS_FAILED = "tls-failed"
BACKEND_ERROR = "backend-error"
TIMEOUT = "timeout"
REFUSED = "refused"          # over a connection cap, at accept
LOG_SUPPRESSED = "log-suppressed"
FD_LIMIT = "fd-limit"
ACCEPT_PAUSED = "accept-paused"
# events that end a session: exactly one per connection
END_EVENTS = (CLOSE, POLICY, PROTOCOL, TLS_FAILED, BACKEND_ERROR, TIMEOUT,
              "internal-error",
              # a client a PROXY header named, over a per-address cap
              REFUSED)

# -- reasons -----------------------------------------------------------------
R_CLIENT_CLOSED = "client-closed"
R_BACKEND_CLOSED = "backend-closed"
R_SHUTDOWN = "shutdown"
R_PRE_TLS_ELEMENT = "pre-tls-element"
R_INJECTION = "starttls-injection"
R_RESTRICTED = "restricted-xml"
R_STANZA_TOO_LARGE = "stanza-too-large"
R_HEADER_TOO_LARGE = "header-too-large"   # XMLSTREAM_MAX_HEADER
R_TOO_MANY_NAMES = "too-many-names"
R_TOO_DEEP = "too-deep"                    # max_depth
R_TOO_MANY_ATTRS = "too-many-attributes"   # max_attributes
R_PRE_TLS_TOO_LARGE = "pre-tls-too-large"
R_ENCODING = "unsupported-encoding"
R_DOMAIN_CHANGED = "domain-changed"
R_NOT_WELL_FORMED = "not-well-formed"
R_HOST_UNKNOWN = "host-unknown"
R_INVALID_NS = "invalid-namespace"
R_UNSUPPORTED_VERSION = "unsupported-version"
R_BAD_FORMAT = "bad-format"
R_CONNECT_FAILED = "connect-failed"
R_BACKEND_LOST = "backend-lost"
R_BACKEND_BAD_XML = "bad-xml"
R_PRE_TLS_TIMEOUT = "pre-tls"
R_HANDSHAKE_TIMEOUT = "handshake"
R_AUTH_TIMEOUT = "auth"
R_KEYUPDATE = "tls-keyupdate-unsupported"  # TLS 1.3 KeyUpdate (mbedTLS 3.6)
R_IDLE_TIMEOUT = "idle"
R_NAME_TOO_LONG = "name-too-long"          # max_name_length
# event=refused reasons
R_MAX_CONNECTIONS = "max-connections"
R_MAX_PER_IP = "max-connections-per-ip"
R_CONNECTION_RATE = "connection-rate"
# restricted-xml details
D_COMMENT = "comment"
D_PI = "processing-instruction"
D_DOCTYPE = "doctype"
D_ENTITY = "entity"

# keys every end-of-session line carries
END_KEYS = ("session", "client", "listener", "reason", "bytes_in",
            "bytes_out", "duration")

# -- stream errors a client sees (conditions in xmpp-streams) ---------------
SE_HOST_UNKNOWN = "host-unknown"
SE_POLICY = "policy-violation"
SE_RESTRICTED = "restricted-xml"
SE_INVALID_NS = "invalid-namespace"
SE_UNSUPPORTED_VERSION = "unsupported-version"
SE_ENCODING = "unsupported-encoding"
SE_REMOTE_FAILED = "remote-connection-failed"
SE_NOT_WELL_FORMED = "not-well-formed"
SE_CONNECTION_TIMEOUT = "connection-timeout"
SE_SYSTEM_SHUTDOWN = "system-shutdown"
SE_RESOURCE_CONSTRAINT = "resource-constraint"

# -- -n / -V -----------------------------------------------------------------
CONFIG_OK = "configuration OK"
VERSION_NAMES = ("xmppshield", "libevent", "mbedTLS", "Expat")
