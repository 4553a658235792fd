/*
 * test_seed_replay.c - the exact bytes seven clients of the original
 * assignment sent to a server of that assignment, replayed against glomaild.
 * Each reply must have the header and payload the original server gave,
 * except where glomail does better by design: it stamps the date itself
 * (so dates and file sizes differ) and it answers the string "choice" that
 * the original server could not handle.
 */
#include <sys/socket.h>

#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <cmocka.h>
#include <sodium.h>

#include "frame.h"
#include "msg.h"
#include "proto.h"
#include "testsrv.h"
#include "wire.h"

#define SESSIONS GLOMAIL_SOURCE_DIR "/tests/data/seed_sessions.txt"

struct frame_rec {
	char client[16];
	int c2s;
	unsigned char *bytes;
	size_t len;
};

static struct frame_rec recs[256];
static size_t nrecs;
static struct testsrv srv;

/*
 * GLOMAIL_TEST_PORTS="P1,P2,...": replay against servers already running
 * on those loopback ports (several instances on one store, a balancer in
 * front of them), each client on the next port of the list, instead of
 * starting a server of its own.
 */
static char ports[16][16];
static size_t nports, next_port;

static void
parse_ports(void)
{
	const char *env = getenv("GLOMAIL_TEST_PORTS"), *p;
	size_t len;

	for (p = env; p != NULL && *p != '\0' && nports < 16; p += len) {
		len = strcspn(p, ",");
		if (len > 0 && len < sizeof(ports[0]))
			snprintf(ports[nports++], sizeof(ports[0]), "%.*s",
			    (int)len, p);
		if (p[len] == ',')
			len++;
	}
}

static int
load(void **state)
{
	char line[4096], client[16], dir[8], b64[4000];
	unsigned char buf[3000];
	size_t len;
	FILE *f = fopen(SESSIONS, "r");

	(void)state;
	if (f == NULL || sodium_init() == -1)
		return -1;
	while (fgets(line, sizeof(line), f) != NULL && nrecs < 256) {
		if (line[0] == '#' ||
		    sscanf(line, "%15s %7s %3999s", client, dir, b64) != 3)
			continue;
		if (sodium_base642bin(buf, sizeof(buf), b64, strlen(b64), NULL,
		        &len, NULL, sodium_base64_VARIANT_ORIGINAL) != 0)
			return -1;
		snprintf(recs[nrecs].client, sizeof(recs[nrecs].client), "%s",
		    client);
		recs[nrecs].c2s = strcmp(dir, "c2s") == 0;
		recs[nrecs].bytes = malloc(len);
		memcpy(recs[nrecs].bytes, buf, len);
		recs[nrecs].len = len;
		nrecs++;
	}
	fclose(f);
	parse_ports();
	return nports > 0 ? 0 : testsrv_start(&srv, NULL);
}

static int
unload(void **state)
{
	size_t i;

	(void)state;
	for (i = 0; i < nrecs; i++)
		free(recs[i].bytes);
	testsrv_stop(&srv);
	return 0;
}

static struct msg *
decode(const struct frame_rec *r)
{
	struct msg *m;
	const char *why;
	size_t blen;

	assert_int_equal(frame_decode(r->bytes, r->len, FRAME_MAX_DEFAULT,
	                     &blen),
	    FRAME_READY);
	assert_int_equal(msg_parse(r->bytes + 4, blen, &m, &why), 0);
	return m;
}

/* The part of a list line before the date: "#1 sender - subject ". */
static size_t
before_date(const char *line)
{
	const char *comma = strrchr(line, ',');

	/* Dates read "Sun, 29 Nov 2026 ...": cut before the day name. */
	return comma != NULL && comma - line >= 3 ? (size_t)(comma - line - 3)
	                                          : strlen(line);
}

/* Compare a glomaild reply with the original server's. */
static void
compare(const struct msg *got, const struct msg *want)
{
	json_t *g = msg_payload(got), *w = msg_payload(want);
	union msg_args ga, wa;
	const char *why, *gl, *wl;
	size_t i;

	assert_int_equal(msg_header(got), msg_header(want));
	if (w == NULL) {
		assert_null(g);
		return;
	}
	assert_non_null(g);
	assert_int_equal(json_object_size(g), json_object_size(w));
	if (json_object_get(w, "email_list") != NULL) {
		assert_int_equal(msg_unpack(got, PROTO_SHAPE_EMAIL_LIST, &ga,
		                     &why),
		    0);
		assert_int_equal(msg_unpack(want, PROTO_SHAPE_EMAIL_LIST, &wa,
		                     &why),
		    0);
		assert_int_equal(json_array_size(ga.email_list),
		    json_array_size(wa.email_list));
		for (i = 0; i < json_array_size(wa.email_list); i++) {
			gl = json_string_value(
			    json_array_get(ga.email_list, i));
			wl = json_string_value(
			    json_array_get(wa.email_list, i));
			assert_int_equal(before_date(gl), before_date(wl));
			assert_memory_equal(gl, wl, before_date(wl));
		}
	} else if (json_object_get(w, "count") != NULL) {
		assert_int_equal(msg_unpack(got, PROTO_SHAPE_STATS, &ga, &why),
		    0);
		assert_int_equal(msg_unpack(want, PROTO_SHAPE_STATS, &wa, &why),
		    0);
		assert_int_equal(ga.stats.count, wa.stats.count);
		assert_true(ga.stats.size > 0);
	} else if (json_object_get(w, "content") != NULL) {
		assert_int_equal(msg_unpack(got, PROTO_SHAPE_EMAIL, &ga, &why),
		    0);
		assert_int_equal(msg_unpack(want, PROTO_SHAPE_EMAIL, &wa, &why),
		    0);
		assert_string_equal(ga.email.sender, wa.email.sender);
		assert_string_equal(ga.email.destination, wa.email.destination);
		assert_string_equal(ga.email.subject, wa.email.subject);
		assert_string_equal(ga.email.content, wa.email.content);
		assert_non_null(strstr(ga.email.date, " +0000"));
	} else {
		fail_msg("unexpected payload in the original reply");
	}
}

static void
replay(const char *client)
{
	struct msg *got, *want, *req;
	const char *why;
	size_t i;
	int fd, sessions = 0;
	char c;

	if (nports > 0)
		snprintf(srv.port, sizeof(srv.port), "%s",
		    ports[next_port++ % nports]);
	fd = testsrv_connect(&srv);
	assert_true(fd >= 0);
	for (i = 0; i < nrecs; i++) {
		if (strcmp(recs[i].client, client) != 0 || !recs[i].c2s)
			continue;
		sessions++;
		assert_int_equal(wire_write_all(fd, recs[i].bytes, recs[i].len),
		    0);
		req = decode(&recs[i]);
		if (i + 1 < nrecs && !recs[i + 1].c2s &&
		    strcmp(recs[i + 1].client, client) == 0) {
			assert_int_equal(wire_recv(fd, FRAME_MAX_DEFAULT, &got,
			                     &why),
			    0);
			want = decode(&recs[i + 1]);
			compare(got, want);
			msg_free(want);
			msg_free(got);
		} else if (msg_header(req) == PROTO_INBOX_READING_CHOICE) {
			/* The original server had no answer to "1". */
			assert_int_equal(wire_recv(fd, FRAME_MAX_DEFAULT, &got,
			                     &why),
			    0);
			assert_int_equal(msg_header(got), PROTO_OK);
			msg_free(got);
		}
		if (msg_header(req) == PROTO_BYE)
			assert_int_equal(recv(fd, &c, 1, 0), 0);
		msg_free(req);
	}
	assert_true(sessions >= 5);
	/* Nothing unread is left: logouts were not answered. */
	shutdown(fd, SHUT_WR);
	assert_int_equal(recv(fd, &c, 1, 0), 0);
	close(fd);
}

static void
test_client1(void **s)
{
	(void)s;
	replay("client-1");
}
static void
test_client2(void **s)
{
	(void)s;
	replay("client-2");
}
static void
test_client3(void **s)
{
	(void)s;
	replay("client-3");
}
static void
test_client4(void **s)
{
	(void)s;
	replay("client-4");
}
static void
test_client5(void **s)
{
	(void)s;
	replay("client-5");
}
static void
test_client6(void **s)
{
	(void)s;
	replay("client-6");
}
static void
test_client7(void **s)
{
	(void)s;
	replay("client-7");
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_client1),
		cmocka_unit_test(test_client2),
		cmocka_unit_test(test_client3),
		cmocka_unit_test(test_client4),
		cmocka_unit_test(test_client5),
		cmocka_unit_test(test_client6),
		cmocka_unit_test(test_client7),
	};

	return cmocka_run_group_tests(tests, load, unload);
}
