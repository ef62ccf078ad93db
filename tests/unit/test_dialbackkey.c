/*
 * test_dialbackkey.c - dialback keys for peers xmppshield authenticated
 * (dialbackkey.h): known vectors (HMAC-SHA-256 computed independently,
 * with Python's hmac module, for the secret 00 01 .. 1f), the check, and
 * s2sout's <db:verify/> answer.
 */
#include <stdio.h>
#include <string.h>

#include "dialbackkey.h"
#include "tap.h"

/* hmac.new(bytes(range(32)), MSG, sha256).hexdigest() */
#define KEY_B_A	"de323dd90a945ede877475dfac79485d5550a3d7afae48d402dc52588616fd68"
#define KEY_XEC	"6d1997379285705562dc5faea36f441edf9d646d0680ec072b3bdcaac26de171"

static size_t
answer(const char *unit, char *out, size_t outlen)
{
	return dialbackkey_answer(unit, strlen(unit), "b.example",
	    "a.example", out, outlen);
}

int
main(void)
{
	unsigned char secret[32], other[32];
	char key[DIALBACKKEY_LEN + 1], out[512];
	size_t i, n;

	for (i = 0; i < sizeof(secret); i++) {
		secret[i] = (unsigned char)i;
		other[i] = (unsigned char)(0xff - i);
	}
	ok(!dialbackkey_ready() && dialbackkey_make("b.example", "a.example",
	    "5f2a9c1e", key, sizeof(key)) == -1 && key[0] == '\0',
	    "no secret: no key");
	ok(dialbackkey_init(secret, 8) == -1 && !dialbackkey_ready(),
	    "a secret shorter than 16 bytes is refused");
	ok(dialbackkey_init(secret, sizeof(secret)) == 0 &&
	    dialbackkey_ready(), "secret installed");
	ok(dialbackkey_init(other, sizeof(other)) == 0,
	    "a second init (a reload) is accepted ...");

	ok(dialbackkey_make("b.example", "a.example", "5f2a9c1e", key,
	    sizeof(key)) == 0 && strcmp(key, KEY_B_A) == 0,
	    "... and keeps the first secret: HMAC(secret, 'b.example "
	    "a.example 5f2a9c1e') = %s", key);
	ok(dialbackkey_make("xmpp.example.com", "example.org", "D60000229F",
	    key, sizeof(key)) == 0 && strcmp(key, KEY_XEC) == 0,
	    "second vector, the stream id's case kept");
	ok(dialbackkey_make("B.Example", "A.EXAMPLE", "5f2a9c1e", key,
	    sizeof(key)) == 0 && strcmp(key, KEY_B_A) == 0,
	    "domains are compared lower-cased");
	ok(dialbackkey_make("b.example", "a.example", "5f2a9c1e", key,
	    DIALBACKKEY_LEN) == -1, "an output buffer without room for the "
	    "NUL is refused");
	ok(dialbackkey_make("b.example", "a example", "5f2a9c1e", key,
	    sizeof(key)) == -1 && dialbackkey_make("b.example", "a.example",
	    "5f2a'9c", key, sizeof(key)) == -1 &&
	    dialbackkey_make("", "a.example", "1", key, sizeof(key)) == -1,
	    "no key for a name that is no host name or an id with a quote");

	ok(dialbackkey_check("b.example", "a.example", "5f2a9c1e", KEY_B_A,
	    strlen(KEY_B_A)), "check: the right key");
	ok(dialbackkey_check("b.example", "a.example", "5f2a9c1e",
	    "DE323DD90A945EDE877475DFAC79485D5550A3D7AFAE48D402DC52588616FD68",
	    64), "check: upper-case hex is the same key");
	ok(!dialbackkey_check("b.example", "a.example", "5f2a9c1f", KEY_B_A,
	    64), "check: another stream id");
	ok(!dialbackkey_check("a.example", "b.example", "5f2a9c1e", KEY_B_A,
	    64), "check: the pair reversed");
	ok(!dialbackkey_check("b.example", "a.example", "5f2a9c1e", KEY_B_A,
	    63), "check: a truncated key");
	memcpy(key, KEY_B_A, sizeof(key));
	key[63] = key[63] == '0' ? '1' : '0';
	ok(!dialbackkey_check("b.example", "a.example", "5f2a9c1e", key, 64),
	    "check: the last digit changed");

	n = answer("<db:verify from='b.example' to='a.example' "
	    "id='5f2a9c1e'>" KEY_B_A "</db:verify>", out, sizeof(out));
	ok(n > 0 && strcmp(out, "<db:verify xmlns:db='jabber:server:dialback'"
	    " from='a.example' to='b.example' id='5f2a9c1e' type='valid'/>") ==
	    0, "answer: our key is valid, from and to swapped: %s", out);
	ok(answer("<db:verify xmlns:db='jabber:server:dialback' "
	    "id=\"5f2a9c1e\" to='A.example' from='b.example' >" KEY_B_A
	    "</db:verify>", out, sizeof(out)) > 0 &&
	    strstr(out, "from='a.example' to='b.example'") != NULL,
	    "answer: attributes in any order, double quotes, lower-cased");
	ok(answer("<db:verify from='b.example' to='a.example' "
	    "id='5f2a9c1f'>" KEY_B_A "</db:verify>", out, sizeof(out)) == 0,
	    "answer: not for another id (relayed)");
	ok(answer("<db:verify from='b.example' to='c.example' "
	    "id='5f2a9c1e'>" KEY_B_A "</db:verify>", out, sizeof(out)) == 0,
	    "answer: not for another remote");
	dialbackkey_make("b.example", "c.example", "5f2a9c1e", key,
	    sizeof(key));
	snprintf(out, sizeof(out), "<db:verify from='b.example' "
	    "to='c.example' id='5f2a9c1e'>%s</db:verify>", key);
	ok(dialbackkey_answer(out, strlen(out), "b.example", "a.example",
	    out + 256, sizeof(out) - 256) == 0 && dialbackkey_answer(out,
	    strlen(out), "b.example", "C.example", out + 256,
	    sizeof(out) - 256) > 0, "answer: a right key for c.example only "
	    "on a stream to c.example");
	dialbackkey_make("x.example", "a.example", "5f2a9c1e", key,
	    sizeof(key));
	snprintf(out, sizeof(out), "<db:verify from='x.example' "
	    "to='a.example' id='5f2a9c1e'>%s</db:verify>", key);
	ok(dialbackkey_answer(out, strlen(out), "b.example", "a.example",
	    out + 256, sizeof(out) - 256) == 0, "answer: not for a 'from' "
	    "other than the stream's");
	ok(answer("<db:verify from='b.example' to='a.example' "
	    "id='5f2a9c1e' type='valid'>" KEY_B_A "</db:verify>", out,
	    sizeof(out)) == 0, "answer: not for a db:verify with a type");
	ok(answer("<db:verify from='b.example' to='a.example' "
	    "id='5f2a9c1e'/>", out, sizeof(out)) == 0,
	    "answer: not for an empty db:verify");
	ok(answer("<db:verify from='b.example' to='a.example' id='5f2a9c1e'>"
	    "deadbeef</db:verify>", out, sizeof(out)) == 0,
	    "answer: not for a foreign key (the remote's own dialback)");
	ok(answer("<db:verify from='b.example' to='a.example' id='5f2a9c1e' "
	    "x='>'>" KEY_B_A "</db:verify>", out, sizeof(out)) > 0,
	    "answer: a '>' inside a quoted value does not end the tag");
	ok(answer("<db:verify from='b.example' to='a.example' "
	    "id='5f2a9c1e'>" KEY_B_A "</db:verify>", out, 40) == 0,
	    "answer: 0 when out is too small");

	dialbackkey_wipe();
	ok(!dialbackkey_ready() && dialbackkey_make("b.example", "a.example",
	    "5f2a9c1e", key, sizeof(key)) == -1 &&
	    !dialbackkey_check("b.example", "a.example", "5f2a9c1e", KEY_B_A,
	    64), "wiped: no key, no check");
	ok(dialbackkey_init(other, sizeof(other)) == 0 &&
	    dialbackkey_make("b.example", "a.example", "5f2a9c1e", key,
	    sizeof(key)) == 0 && strcmp(key, KEY_B_A) != 0,
	    "after a wipe a new secret makes other keys");
	return tap_done();
}
