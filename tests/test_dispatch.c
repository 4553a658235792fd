/*
 * test_dispatch.c - the gate, driven through a real connection object on a
 * socketpair with a private event loop and a scratch store (no TCP).
 */
#include <sys/socket.h>
#include <sys/stat.h>

#include <errno.h>
#include <fcntl.h>
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

#include "config.h"
#include "conn.h"
#include "frame.h"
#include "msg.h"
#include "server.h"
#include "testsrv.h"

struct fixture {
	char dir[256];
	struct config cfg;
	struct server *srv;
	int peer;            /* the test's end of the socketpair */
};

static int
setup(void **state)
{
	struct fixture *fx = calloc(1, sizeof(*fx));
	struct sockaddr sa = { .sa_family = AF_UNIX };
	const char *why;
	int sv[2];

	if (testsrv_scratch(fx->dir, sizeof(fx->dir), "gate") == -1)
		return -1;
	config_init(&fx->cfg);
	if (config_set(&fx->cfg, "data-dir", fx->dir, &why) == -1)
		return -1;
	if ((fx->srv = server_new(&fx->cfg)) == NULL)
		return -1;
	if (socketpair(AF_UNIX, SOCK_STREAM, 0, sv) == -1)
		return -1;
	fcntl(sv[0], F_SETFL, O_NONBLOCK);
	if (conn_new(fx->srv, sv[0], &sa, sizeof(sa)) == NULL)
		return -1;
	fx->peer = sv[1];
	fcntl(fx->peer, F_SETFL, O_NONBLOCK);
	*state = fx;
	return 0;
}

static int
teardown(void **state)
{
	struct fixture *fx = *state;

	close(fx->peer);
	server_free(fx->srv);
	config_clear(&fx->cfg);
	testsrv_remove_tree(fx->dir);
	free(fx);
	return 0;
}

static void
put(struct fixture *fx, const char *body)
{
	unsigned char frame[1024];
	size_t len = strlen(body);

	frame_put_header(frame, (uint32_t)len);
	memcpy(frame + 4, body, len);
	assert_int_equal(write(fx->peer, frame, len + 4), (ssize_t)(len + 4));
}

/*
 * Run the loop until one reply arrives (or, with expect_none, until the
 * loop is idle a while) and return its header; the error text goes in text.
 */
static int
reply(struct fixture *fx, char *text, size_t textlen)
{
	unsigned char buf[8192];
	size_t have = 0, blen;
	struct msg *m;
	union msg_args a;
	const char *why;
	ssize_t n;
	int rounds, h;

	for (rounds = 0; rounds < 3000; rounds++) {
		event_base_loop(fx->srv->base, EVLOOP_NONBLOCK);
		n = read(fx->peer, buf + have, sizeof(buf) - have);
		if (n > 0)
			have += (size_t)n;
		else if (n == 0)
			return 0; /* closed */
		if (frame_decode(buf, have, sizeof(buf), &blen) == FRAME_READY)
			break;
		usleep(1000);
	}
	if (frame_decode(buf, have, sizeof(buf), &blen) != FRAME_READY)
		return -1; /* no reply */
	assert_int_equal(have, blen + 4);
	assert_int_equal(msg_parse(buf + 4, blen, &m, &why), 0);
	h = (int)msg_header(m);
	if (text != NULL) {
		text[0] = '\0';
		if (h == PROTO_ERROR && msg_unpack(m, PROTO_SHAPE_ERROR, &a,
		    &why) == 0)
			snprintf(text, textlen, "%s", a.error_message);
	}
	msg_free(m);
	return h;
}

#define EXPECT_ERROR(fx, body, want) do { \
	char t_[256]; \
	put(fx, body); \
	assert_int_equal(reply(fx, t_, sizeof(t_)), PROTO_ERROR); \
	assert_string_equal(t_, want); \
} while (0)

static void
test_unknown_and_replies(void **state)
{
	struct fixture *fx = *state;

	EXPECT_ERROR(fx, "{\"header\": 0}", "unknown request");
	EXPECT_ERROR(fx, "{\"header\": 1000}", "unknown request");
	EXPECT_ERROR(fx, "{\"header\": -7}", "unknown request");
	EXPECT_ERROR(fx, "{\"header\": 4294967300}", "unknown request");
	/* Reply headers are not requests. */
	EXPECT_ERROR(fx, "{\"header\": 1}", "unknown request");
	EXPECT_ERROR(fx, "{\"header\": 2, \"payload\": {\"error_message\": "
	    "\"x\"}}", "unknown request");
	EXPECT_ERROR(fx, "{\"header\": \"1\"}", "header is not an integer");
}

static void
test_login_gate(void **state)
{
	struct fixture *fx = *state;
	char text[256];

	EXPECT_ERROR(fx, "{\"header\": 7}", "not logged in");
	EXPECT_ERROR(fx, "{\"header\": 8, \"payload\": {\"choice\": 1}}",
	    "not logged in");
	/* The gate checks login before shape: no payload detail leaks. */
	EXPECT_ERROR(fx, "{\"header\": 8, \"payload\": {\"choice\": []}}",
	    "not logged in");
	EXPECT_ERROR(fx, "{\"header\": 9}", "not logged in");
	EXPECT_ERROR(fx, "{\"header\": 10, \"payload\": null}",
	    "not logged in");
	/* Logout before login is ignored without a reply. */
	put(fx, "{\"header\": 6}");
	EXPECT_ERROR(fx, "{\"header\": 10}", "not logged in");
	/* Shape checked before the handler. */
	EXPECT_ERROR(fx, "{\"header\": 4, \"payload\": {\"username\": 1, "
	    "\"password\": \"x\"}}", "field is not a string: username");
	EXPECT_ERROR(fx, "{\"header\": 5}", "missing field: username");
	/* A valid request reaches its handler (which hashes on the pool). */
	put(fx, "{\"header\": 4, \"payload\": {\"username\": \"gate\", "
	    "\"password\": \"Interop0Passw\"}}");
	assert_int_equal(reply(fx, text, sizeof(text)), PROTO_OK);
	put(fx, "{\"header\": 10}");
	assert_int_equal(reply(fx, text, sizeof(text)), PROTO_OK);
	EXPECT_ERROR(fx, "{\"header\": 5, \"payload\": {\"username\": \"gate\", "
	    "\"password\": \"Interop0Passw\"}}", "already logged in");
	EXPECT_ERROR(fx, "{\"header\": 8, \"payload\": {\"choice\": []}}",
	    "choice is not a number");
	/* BYE: no reply, then the connection closes. */
	put(fx, "{\"header\": 3}");
	assert_int_equal(reply(fx, text, sizeof(text)), 0);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(test_unknown_and_replies, setup,
		    teardown),
		cmocka_unit_test_setup_teardown(test_login_gate, setup,
		    teardown),
	};

	log_init("test", LOG_LEVEL_ERROR);
	if (sodium_init() == -1)
		return 1;
	return cmocka_run_group_tests(tests, NULL, NULL);
}
