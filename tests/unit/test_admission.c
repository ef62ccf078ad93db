/*
 * test_admission.c - connection caps: total, per address, rate.
 */
#include "autoconf.h"

#include <arpa/inet.h>
#include <netinet/in.h>
#include <string.h>

#include "admission.h"
#include "tap.h"

static struct sockaddr_storage
v4(const char *ip, int port)
{
	struct sockaddr_storage ss;
	struct sockaddr_in *sin = (struct sockaddr_in *)&ss;

	memset(&ss, 0, sizeof(ss));
	sin->sin_family = AF_INET;
	sin->sin_port = htons(port);
	inet_pton(AF_INET, ip, &sin->sin_addr);
	return ss;
}

static struct sockaddr_storage
v6(const char *ip)
{
	struct sockaddr_storage ss;
	struct sockaddr_in6 *sin6 = (struct sockaddr_in6 *)&ss;

	memset(&ss, 0, sizeof(ss));
	sin6->sin6_family = AF_INET6;
	inet_pton(AF_INET6, ip, &sin6->sin6_addr);
	return ss;
}

#define SA(x)	((const struct sockaddr *)&(x))

static void
test_total(void)
{
	struct admission_limits lim = { 3, 0, 0, 0 };
	struct admission *a = admission_new(100, 1);
	struct admission_entry *e[4];
	struct sockaddr_storage p = v4("192.0.2.1", 1);
	int i;

	admission_set_limits(a, &lim);
	for (i = 0; i < 3; i++)
		ok(admission_enter(a, SA(p), ADMISSION_CLIENT, 0, &e[i]) == ADMIT_OK,
		    "total: connection %d of 3 admitted", i + 1);
	ok(admission_enter(a, SA(p), ADMISSION_CLIENT, 0, &e[3]) == ADMIT_MAX_CONNECTIONS,
	    "total: the 4th is refused with max-connections");
	ok(admission_connections(a) == 3, "total: 3 counted");
	admission_leave(a, e[0]);
	ok(admission_enter(a, SA(p), ADMISSION_CLIENT, 0, &e[0]) == ADMIT_OK,
	    "total: a slot freed by a close is taken again");
	admission_free(a);
}

static void
test_per_ip(void)
{
	struct admission_limits lim = { 100, 2, 0, 0 };
	struct admission *a = admission_new(100, 2);
	struct admission_entry *e[3], *o;
	struct sockaddr_storage p1 = v4("192.0.2.1", 1000);
	struct sockaddr_storage p1b = v4("192.0.2.1", 2000);
	struct sockaddr_storage p2 = v4("192.0.2.2", 1000);
	struct sockaddr_storage m = v6("::ffff:192.0.2.1");

	admission_set_limits(a, &lim);
	ok(admission_enter(a, SA(p1), ADMISSION_CLIENT, 0, &e[0]) == ADMIT_OK &&
	    admission_enter(a, SA(p1b), ADMISSION_CLIENT, 0, &e[1]) == ADMIT_OK,
	    "per-ip: two from one address (ports differ)");
	ok(admission_enter(a, SA(p1), ADMISSION_CLIENT, 0, &e[2]) == ADMIT_PER_IP,
	    "per-ip: a third from it is refused");
	ok(admission_enter(a, SA(m), ADMISSION_CLIENT, 0, &o) == ADMIT_PER_IP,
	    "per-ip: its IPv4-mapped IPv6 form counts as the same address");
	ok(admission_enter(a, SA(p2), ADMISSION_CLIENT, 0, &o) == ADMIT_OK,
	    "per-ip: another address is not affected");
	admission_leave(a, e[0]);
	ok(admission_enter(a, SA(p1), ADMISSION_CLIENT, 0, &e[0]) == ADMIT_OK,
	    "per-ip: after one closes, one more is admitted");
	ok(admission_entries(a) == 2, "per-ip: two addresses tracked");
	admission_free(a);
}

static void
test_ipv6_prefix(void)
{
	struct admission_limits lim = { 100, 1, 0, 0 };
	struct admission *a = admission_new(100, 3);
	struct admission_entry *e;
	struct sockaddr_storage x = v6("2001:db8:1:2::1");
	struct sockaddr_storage y = v6("2001:db8:1:2:ffff::7");
	struct sockaddr_storage z = v6("2001:db8:1:3::1");

	admission_set_limits(a, &lim);
	ok(admission_enter(a, SA(x), ADMISSION_CLIENT, 0, &e) == ADMIT_OK, "ipv6: first admitted");
	ok(admission_enter(a, SA(y), ADMISSION_CLIENT, 0, &e) == ADMIT_PER_IP,
	    "ipv6: another address in the same /64 is the same client");
	ok(admission_enter(a, SA(z), ADMISSION_CLIENT, 0, &e) == ADMIT_OK,
	    "ipv6: the next /64 is another client");
	admission_free(a);
}

static void
test_rate(void)
{
	struct admission_limits lim = { 1000, 0, 5, 0 };
	struct admission *a = admission_new(100, 4);
	struct admission_entry *e;
	struct sockaddr_storage p = v4("198.51.100.7", 1);
	int i, admitted = 0;

	admission_set_limits(a, &lim);
	for (i = 0; i < 20; i++)
		if (admission_enter(a, SA(p), ADMISSION_CLIENT, 10.0, &e) == ADMIT_OK) {
			admitted++;
			admission_leave(a, e);
		}
	ok(admitted == 5, "rate: 5 of 20 in the same instant (got %d)",
	    admitted);
	ok(admission_enter(a, SA(p), ADMISSION_CLIENT, 10.1, &e) == ADMIT_RATE,
	    "rate: 0.1 s later, still refused (half a token)");
	ok(admission_enter(a, SA(p), ADMISSION_CLIENT, 10.25, &e) == ADMIT_OK,
	    "rate: 0.25 s later one token has come back");
	admission_leave(a, e);
	admitted = 0;
	for (i = 0; i < 20; i++)
		if (admission_enter(a, SA(p), ADMISSION_CLIENT, 100.0, &e) == ADMIT_OK) {
			admitted++;
			admission_leave(a, e);
		}
	ok(admitted == 5, "rate: after a long pause the burst is 5, not more "
	    "(got %d)", admitted);
	admission_free(a);
}

static void
test_bounded_table(void)
{
	struct admission_limits lim = { 0, 1, 0, 0 };
	struct admission *a = admission_new(4, 5);
	struct admission_entry *e[10];
	struct sockaddr_storage p;
	char ip[32];
	int i, ok_all = 1;

	admission_set_limits(a, &lim);
	for (i = 0; i < 10; i++) {
		snprintf(ip, sizeof(ip), "203.0.113.%d", i + 1);
		p = v4(ip, 1);
		ok_all &= admission_enter(a, SA(p), ADMISSION_CLIENT, 0, &e[i]) == ADMIT_OK;
	}
	ok(ok_all && admission_entries(a) == 4,
	    "table full: new addresses admitted untracked, table stays at 4");
	for (i = 0; i < 10; i++)
		admission_leave(a, e[i]);
	ok(admission_connections(a) == 0, "table full: all leaves counted");
	/* Idle entries are reclaimed on the next walk of their chain. */
	p = v4("203.0.113.1", 1);
	ok(admission_enter(a, SA(p), ADMISSION_CLIENT, 1, &e[0]) == ADMIT_OK,
	    "idle entries are reclaimed");
	admission_free(a);
}

static void
test_no_caps(void)
{
	struct admission_limits lim = { 0, 0, 0, 0 };
	struct admission *a = admission_new(4, 6);
	struct admission_entry *e;
	struct sockaddr_storage p = v4("192.0.2.9", 1);
	int i, all = 1;

	admission_set_limits(a, &lim);
	for (i = 0; i < 1000; i++)
		all &= admission_enter(a, SA(p), ADMISSION_CLIENT, 0, &e) == ADMIT_OK;
	ok(all && admission_entries(a) == 0,
	    "no caps: everything admitted, nothing tracked");
	ok(strcmp(admission_reason(ADMIT_RATE), "connection-rate") == 0 &&
	    strcmp(admission_reason(ADMIT_PER_IP),
	    "max-connections-per-ip") == 0 &&
	    strcmp(admission_reason(ADMIT_MAX_CONNECTIONS),
	    "max-connections") == 0, "reason words for the log");
	admission_free(a);
}

/*
 * Behind a load balancer: the balancer has its own cap and no rate; the
 * clients it names are held to the per-address caps one by one; an
 * exempt address is held to the total only.
 */
static void
test_balancer(void)
{
	struct admission_limits lim = {
		.max_connections = 100, .max_per_ip = 2, .rate_per_ip = 3,
		.max_per_balancer = 50,
	};
	struct admission *a = admission_new(64, 7);
	struct sockaddr_storage lb = v4("10.0.0.5", 40000),
	    c1 = v4("198.51.100.1", 1), c2 = v4("198.51.100.2", 1),
	    probe = v4("127.0.0.1", 1);
	struct admission_entry *conn[60], *cl[60], *e;
	int i, all;

	admission_set_limits(a, &lim);
	/* 40 connections from the balancer at one instant: the rate and
	   the per-address cap of 2 do not apply to it. */
	all = 1;
	for (i = 0; i < 40; i++)
		all &= admission_enter(a, SA(lb), ADMISSION_BALANCER, 5.0,
		    &conn[i]) == ADMIT_OK;
	ok(all && admission_connections(a) == 40,
	    "balancer: 40 at once, past rate 3 and per-address 2");
	/* Each names a client: c1 gets its 2, the third is refused;
	   c2 is not locked out by c1. */
	ok(admission_claim(a, SA(c1), ADMISSION_CLIENT, 5.0, &cl[0]) ==
	    ADMIT_OK && admission_claim(a, SA(c1), ADMISSION_CLIENT, 5.0,
	    &cl[1]) == ADMIT_OK, "claim: two from one client");
	ok(admission_claim(a, SA(c1), ADMISSION_CLIENT, 5.0, &cl[2]) ==
	    ADMIT_PER_IP, "claim: the client's third is over its cap");
	ok(admission_claim(a, SA(c2), ADMISSION_CLIENT, 5.0, &cl[3]) ==
	    ADMIT_OK, "claim: another client behind the same balancer");
	ok(admission_connections(a) == 40, "claims do not count the total "
	    "again");
	/* The rate holds per client, too. */
	admission_release(a, cl[0]);
	admission_release(a, cl[1]);
	ok(admission_claim(a, SA(c1), ADMISSION_CLIENT, 5.0, &cl[0]) ==
	    ADMIT_OK, "claim: the client's 3rd in a second is within the "
	    "rate of 3");
	admission_release(a, cl[0]);
	ok(admission_claim(a, SA(c1), ADMISSION_CLIENT, 5.0, &cl[0]) ==
	    ADMIT_RATE, "claim: its 4th in a second is over the rate");
	ok(admission_claim(a, SA(c1), ADMISSION_CLIENT, 6.0, &cl[0]) ==
	    ADMIT_OK, "claim: a second later it is admitted");
	/* The balancer's own cap. */
	for (; i < 50; i++)
		admission_enter(a, SA(lb), ADMISSION_BALANCER, 5.0, &conn[i]);
	ok(admission_enter(a, SA(lb), ADMISSION_BALANCER, 5.0, &e) ==
	    ADMIT_PER_BALANCER, "balancer: the 51st is over "
	    "max_per_balancer");
	ok(strcmp(admission_reason(ADMIT_PER_BALANCER),
	    "max-connections-per-balancer") == 0, "reason word");
	/* The same address as a plain client elsewhere: its own count. */
	ok(admission_enter(a, SA(lb), ADMISSION_CLIENT, 5.0, &e) == ADMIT_OK,
	    "a balancer's address as a client is counted apart");
	admission_leave(a, e);
	admission_leave(a, conn[0]);
	ok(admission_enter(a, SA(lb), ADMISSION_BALANCER, 5.0, &conn[0]) ==
	    ADMIT_OK, "balancer: a slot freed is a slot");

	/* Exempt: 30 at one instant from one address, past rate and
	   per-address caps; the total still holds. */
	all = 1;
	for (i = 0; i < 30; i++) {
		all &= admission_enter(a, SA(probe), ADMISSION_EXEMPT, 5.0,
		    &e) == ADMIT_OK && e == NULL;
	}
	ok(all, "exempt: 30 at once, not counted per address");
	ok(admission_claim(a, SA(probe), ADMISSION_EXEMPT, 5.0, &e) ==
	    ADMIT_OK && e == NULL, "exempt: a claim for an exempt client");
	for (i = 0; i < 20; i++)
		admission_enter(a, SA(probe), ADMISSION_EXEMPT, 5.0, &e);
	ok(admission_enter(a, SA(probe), ADMISSION_EXEMPT, 5.0, &e) ==
	    ADMIT_MAX_CONNECTIONS, "exempt: the total cap still holds");

	/* No balancer cap configured: only the total. */
	lim.max_per_balancer = 0;
	lim.max_connections = 0;
	admission_set_limits(a, &lim);
	all = 1;
	for (i = 0; i < 60; i++)
		all &= admission_enter(a, SA(lb), ADMISSION_BALANCER, 5.0,
		    &e) == ADMIT_OK;
	ok(all, "max_per_balancer = 0: no cap of its own");
	admission_free(a);
}

int
main(void)
{
	test_total();
	test_per_ip();
	test_ipv6_prefix();
	test_rate();
	test_bounded_table();
	test_no_caps();
	test_balancer();
	return tap_done();
}
