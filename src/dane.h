/*
 * dane.h - DANE (RFC 6698, RFC 7671) for outgoing s2s: does the chain a
 * remote presented match its TLSA records?
 *
 * A dane_set holds the TLSA records of one place (_PORT._tcp.HOST) whose
 * answer was DNSSEC-secure.  Usable are the usages DANE-TA(2) and
 * DANE-EE(3), selectors Cert(0) and SPKI(1), matching types Full(0),
 * SHA2-256(1) and SHA2-512(2).  PKIX-TA(0) and PKIX-EE(1) are unusable
 * here, as RFC 7672 3.1.3 says for SMTP (the same opportunistic setting:
 * the remote's domain is reached through DNS, and PKIX stays what
 * s2s_verify says); records with other values are unusable (RFC 7671 4.1).
 * A set without usable records is treated as no set: PKIX as usual.
 *
 * Matching (RFC 7671 5.1, 5.2): DANE-EE matches the leaf alone, with no
 * name, date or chain check (RFC 7671 5.1).  DANE-TA matches a
 * certificate the remote sent after the leaf; the chain from the leaf up
 * to it must then verify with that certificate as the only trust anchor
 * (signatures and dates); the name check (certname.h) is the caller's.
 *
 * Knows mbedTLS (hashes, certificate parsing); no I/O, never logs.
 */
#ifndef XMPPSHIELD_DANE_H
#define XMPPSHIELD_DANE_H

#include <stddef.h>

#define DANE_MAX_RECORDS	16
#define DANE_MAX_BYTES		8192	/* of record data kept per set */

struct dane_set;

enum dane_result {
	DANE_NONE,	/* no usable record: PKIX decides */
	DANE_MISMATCH,	/* usable records, none matches: refuse */
	DANE_EE,	/* a DANE-EE record matches the leaf */
	DANE_TA,	/* a DANE-TA record matches, the chain verifies */
};

struct dane_set *dane_set_new(void);
void dane_set_free(struct dane_set *s);

/*
 * Add one TLSA record from its RDATA (usage, selector, matching type,
 * data).  Malformed or unusable records and those over DANE_MAX_RECORDS
 * or DANE_MAX_BYTES (in all) are not kept: a record left out can only
 * turn a match into a mismatch.  0, or -1 out of memory.
 */
int dane_set_add(struct dane_set *s, const unsigned char *rdata, size_t len);

/* Number of usable records kept. */
size_t dane_set_usable(const struct dane_set *s);

/*
 * The chain as the remote sent it (leaf first), each certificate's DER.
 * DANE_EE is preferred to DANE_TA when both would match.
 */
enum dane_result dane_check(const struct dane_set *s,
    const unsigned char *const *der, const size_t *len, size_t n);

/* "none", "mismatch", "ee", "ta": for logs. */
const char *dane_result_name(enum dane_result r);

#endif
