/*
 * test_dispatch.c - the gate, driven through a real connection object on a
 * socketpair with a private event loop and a scratch store (no TCP), and
 * the memory budget shared by connections.
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
	if (server_conn_add(fx->srv, sv[0], &sa, sizeof(sa)) == NULL)
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
		event_base_loop(server_base(fx->srv), EVLOOP_NONBLOCK);
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

/*
 * The memory budget, on connections whose socket buffers are tiny (so
 * replies stay in the server's buffers, where max-memory counts them): a
 * 600 kB reply queued for one client that does not read leaves no room for
 * the same reply to another, which gets ERROR "server busy" at once; once
 * the first client reads, the second is served.
 */
struct budget {
	char dir[256];
	struct config cfg;
	struct server *srv;
	int peer[2];
};

static int
budget_setup(void **state)
{
	struct budget *b = calloc(1, sizeof(*b));
	struct sockaddr sa = { .sa_family = AF_UNIX };
	const char *why;
	int sv[2], i, small = 4096;

	if (b == NULL || testsrv_scratch(b->dir, sizeof(b->dir), "budget") ==
	    -1)
		return -1;
	config_init(&b->cfg);
	if (config_set(&b->cfg, "data-dir", b->dir, &why) == -1 ||
	    config_set(&b->cfg, "max-memory", "1M", &why) == -1)
		return -1;
	if ((b->srv = server_new(&b->cfg)) == NULL)
		return -1;
	for (i = 0; i < 2; i++) {
		if (socketpair(AF_UNIX, SOCK_STREAM, 0, sv) == -1)
			return -1;
		setsockopt(sv[0], SOL_SOCKET, SO_SNDBUF, &small, sizeof(small));
		setsockopt(sv[1], SOL_SOCKET, SO_RCVBUF, &small, sizeof(small));
		fcntl(sv[0], F_SETFL, O_NONBLOCK);
		fcntl(sv[1], F_SETFL, O_NONBLOCK);
		if (server_conn_add(b->srv, sv[0], &sa, sizeof(sa)) == NULL)
			return -1;
		b->peer[i] = sv[1];
	}
	*state = b;
	return 0;
}

static int
budget_teardown(void **state)
{
	struct budget *b = *state;

	close(b->peer[0]);
	close(b->peer[1]);
	server_free(b->srv);
	config_clear(&b->cfg);
	testsrv_remove_tree(b->dir);
	free(b);
	return 0;
}

/* Write a whole request from peer i, running the loop meanwhile. */
static void
budget_put(struct budget *b, int i, int header, json_t *payload)
{
	unsigned char *frame;
	size_t len, off = 0;
	ssize_t n;

	assert_int_equal(msg_encode(header, payload, FRAME_MAX_LIMIT, &frame,
	    &len), 0);
	while (off < len) {
		n = write(b->peer[i], frame + off, len - off);
		if (n > 0)
			off += (size_t)n;
		event_base_loop(server_base(b->srv), EVLOOP_NONBLOCK);
	}
	free(frame);
}

/* Run the loop for about ms milliseconds, reading nothing. */
static void
budget_spin(struct budget *b, int ms)
{
	int i;

	for (i = 0; i < ms; i++) {
		event_base_loop(server_base(b->srv), EVLOOP_NONBLOCK);
		usleep(1000);
	}
}

/* One whole reply to peer i (NULL if none within 5 s); free it. */
static struct msg *
budget_reply(struct budget *b, int i)
{
	unsigned char hdr[4], *body = NULL;
	size_t have = 0, want = 4, blen = 0;
	struct msg *m = NULL;
	const char *why;
	ssize_t n;
	int rounds;

	for (rounds = 0; rounds < 5000 && have < want; rounds++) {
		event_base_loop(server_base(b->srv), EVLOOP_NONBLOCK);
		n = read(b->peer[i], have < 4 ? hdr + have : body + have - 4,
		    have < 4 ? 4 - have : want - have);
		if (n <= 0) {
			usleep(1000);
			continue;
		}
		have += (size_t)n;
		if (have == 4 && want == 4) {
			assert_int_equal(frame_decode(hdr, 4, FRAME_MAX_LIMIT,
			    &blen), FRAME_MORE);
			assert_non_null(body = malloc(blen));
			want = 4 + blen;
		}
	}
	if (have == want && want > 4)
		assert_int_equal(msg_parse(body, blen, &m, &why), 0);
	free(body);
	return m;
}

static void
test_memory_budget(void **state)
{
	struct budget *b = *state;
	struct msg_email e = { 0 };
	union msg_args a;
	const char *why;
	struct msg *m;
	char *body;
	int i;

	assert_non_null(body = malloc(600 * 1000 + 1));
	memset(body, 'm', 600 * 1000);
	body[600 * 1000] = '\0';
	for (i = 0; i < 2; i++) {
		budget_put(b, i, i == 0 ? PROTO_AUTH_REGISTER : PROTO_AUTH_LOGIN,
		    msg_credentials_new("budget", "Budget0Passw"));
		assert_non_null(m = budget_reply(b, i));
		assert_int_equal(msg_header(m), PROTO_OK);
		msg_free(m);
	}
	e.sender = e.destination = "budget@glo2000.ca";
	e.subject = "heavy";
	e.content = body;
	budget_put(b, 0, PROTO_EMAIL_SENDING, msg_email_new(&e));
	assert_non_null(m = budget_reply(b, 0));
	assert_int_equal(msg_header(m), PROTO_OK);
	msg_free(m);
	/* Client 0 asks for it and does not read: its reply waits. */
	budget_put(b, 0, PROTO_INBOX_READING_CHOICE, json_pack("{s:i}",
	    "choice", 1));
	budget_spin(b, 300);
	/* Client 1 asks for the same: no room. */
	budget_put(b, 1, PROTO_INBOX_READING_CHOICE, json_pack("{s:i}",
	    "choice", 1));
	assert_non_null(m = budget_reply(b, 1));
	assert_int_equal(msg_header(m), PROTO_ERROR);
	assert_int_equal(msg_unpack(m, PROTO_SHAPE_ERROR, &a, &why), 0);
	assert_string_equal(a.error_message, "server busy, try again later");
	msg_free(m);
	/* Small replies still go to it. */
	budget_put(b, 1, PROTO_STATS_REQUEST, NULL);
	assert_non_null(m = budget_reply(b, 1));
	assert_int_equal(msg_header(m), PROTO_OK);
	msg_free(m);
	/* Client 0 reads its message; then there is room for client 1. */
	for (i = 0; i < 2; i++) {
		if (i == 1)
			budget_put(b, 1, PROTO_INBOX_READING_CHOICE,
			    json_pack("{s:i}", "choice", 1));
		assert_non_null(m = budget_reply(b, i));
		assert_int_equal(msg_header(m), PROTO_OK);
		assert_int_equal(msg_unpack(m, PROTO_SHAPE_EMAIL, &a, &why), 0);
		assert_int_equal(strlen(a.email.content), 600 * 1000);
		msg_free(m);
	}
	free(body);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(test_unknown_and_replies, setup,
		    teardown),
		cmocka_unit_test_setup_teardown(test_login_gate, setup,
		    teardown),
		cmocka_unit_test_setup_teardown(test_memory_budget,
		    budget_setup, budget_teardown),
	};

	log_init("test", LOG_LEVEL_ERROR);
	if (sodium_init() == -1)
		return 1;
	return cmocka_run_group_tests(tests, NULL, NULL);
}
