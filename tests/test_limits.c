/*
 * test_limits.c - glomaild's bounds, each on a server configured small:
 * timeouts before and after login, failed-login penalties, the connection
 * cap, running out of descriptors, and the memory peers may make it hold
 * (before login, per client, all together). Each test starts its own
 * server.
 */
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/wait.h>

#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <setjmp.h>
#include <signal.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <cmocka.h>

#include "frame.h"
#include "hostile.h"
#include "msg.h"
#include "proto.h"
#include "testsrv.h"
#include "wire.h"

static struct testsrv srv;

static int
teardown(void **state)
{
	(void)state;
	testsrv_stop(&srv);
	unsetenv("GLOMAILD");
	return 0;
}

/* Milliseconds until the server closes fd (fails after limit_ms). */
static long long
ms_until_closed(int fd, int limit_ms)
{
	long long t0 = hostile_now_ms();

	assert_true(hostile_closed(fd, limit_ms));
	return hostile_now_ms() - t0;
}

static void
test_timeouts(void **state)
{
	static const char *const extra[] = { "--timeout-login", "1",
		"--timeout-idle", "3", NULL };
	static const unsigned char half_header[] = { 0, 0 };
	static const unsigned char half_body[] = { 0, 0, 0, 40, '{', '"' };
	long long ms;
	int fd;

	(void)state;
	assert_int_equal(testsrv_start(&srv, extra), 0);
	/* Silent before login. */
	assert_true((fd = testsrv_connect(&srv)) >= 0);
	ms = ms_until_closed(fd, 5000);
	assert_true(ms >= 800 && ms < 3000);
	close(fd);
	/* Half a header, then a stall. */
	assert_true((fd = testsrv_connect(&srv)) >= 0);
	assert_int_equal(wire_write_all(fd, half_header, sizeof(half_header)),
	    0);
	ms = ms_until_closed(fd, 5000);
	assert_true(ms >= 800 && ms < 3000);
	close(fd);
	/* Half a body, then a stall. */
	assert_true((fd = testsrv_connect(&srv)) >= 0);
	assert_int_equal(wire_write_all(fd, half_body, sizeof(half_body)), 0);
	ms = ms_until_closed(fd, 5000);
	assert_true(ms >= 800 && ms < 3000);
	close(fd);
	/* After login the longer timeout holds. */
	assert_true((fd = hostile_user(&srv, "sleeper")) >= 0);
	usleep(1800 * 1000);
	assert_int_equal(testsrv_request(fd, PROTO_STATS_REQUEST, NULL, NULL),
	    PROTO_OK);
	ms = ms_until_closed(fd, 8000);
	assert_true(ms >= 2500 && ms < 6000);
	close(fd);
	/* After a logout, the short one again. */
	assert_true((fd = hostile_user(&srv, "sleeper")) >= 0);
	assert_int_equal(hostile_send_json(fd, "{\"header\": 6}"), 0);
	ms = ms_until_closed(fd, 5000);
	assert_true(ms >= 800 && ms < 2500);
	close(fd);
	assert_true(testsrv_log_contains(&srv, "idle timeout"));
}

/*
 * A frame dripped one byte at a time never lets the read timeout expire;
 * it must still be whole within one timeout period of its first byte.
 */
static void
test_drip(void **state)
{
	static const char *const extra[] = { "--timeout-login", "1", NULL };
	static const unsigned char frame[] = { 0, 0, 0, 13, '{', '"', 'h', 'e',
		'a', 'd', 'e', 'r', '"', ':', ' ', '3', '}' };
	long long t0;
	size_t i;
	int fd;

	(void)state;
	assert_int_equal(testsrv_start(&srv, extra), 0);
	assert_true((fd = testsrv_connect(&srv)) >= 0);
	t0 = hostile_now_ms();
	/* One byte every 300 ms: each within the read timeout. */
	for (i = 0; i < sizeof(frame); i++) {
		if (send(fd, frame + i, 1, MSG_NOSIGNAL) != 1)
			break;
		usleep(300 * 1000);
	}
	/* Cut after about a second, not after the whole frame (5 s). */
	assert_true(i < sizeof(frame));
	assert_true(hostile_now_ms() - t0 < 3500);
	assert_true(testsrv_log_contains(&srv, "frame not completed in time"));
	close(fd);
	/* A frame sent at a normal pace is still fine. */
	assert_true((fd = testsrv_connect(&srv)) >= 0);
	assert_int_equal(testsrv_request(fd, PROTO_STATS_REQUEST, NULL, NULL),
	    PROTO_ERROR);
	close(fd);
}

/* Send a login from fd and return how long the reply took, in ms. */
static long long
timed_login(int fd, const char *user, const char *password, int expect)
{
	long long t0 = hostile_now_ms();

	assert_int_equal(testsrv_auth(fd, PROTO_AUTH_LOGIN, user, password),
	    expect);
	return hostile_now_ms() - t0;
}

/*
 * Failed logins: a growing delay per account, served on a
 * timer so other clients are not kept waiting, and longer than the login
 * timeout without the connection being cut for it.
 */
static void
test_login_penalty(void **state)
{
	static const char *const extra[] = { "--login-penalty", "300",
		"--login-penalty-max", "1500", "--timeout-login", "1", NULL };
	const char *bad = "Wrong0Password";
	long long t, hash;
	int a, b, fd;

	(void)state;
	assert_int_equal(testsrv_start(&srv, extra), 0);
	assert_true((fd = hostile_user(&srv, "victim")) >= 0);
	close(fd);
	assert_true((b = hostile_user(&srv, "bystander")) >= 0);

	assert_true((a = hostile_connect_from(&srv, "127.0.0.2")) >= 0);
	hash = timed_login(a, "victim", bad, PROTO_ERROR);
	t = timed_login(a, "victim", bad, PROTO_ERROR);
	assert_true(t >= 300 - 50);
	t = timed_login(a, "victim", bad, PROTO_ERROR);
	assert_true(t >= 600 - 50);
	t = timed_login(a, "victim", bad, PROTO_ERROR);
	assert_true(t >= 1200 - 50);
	/* Capped; the wait outlasts timeout-login, yet the reply comes. */
	{
		long long t0 = hostile_now_ms(), tb;

		assert_int_equal(wire_send(a, PROTO_AUTH_LOGIN,
		                     msg_credentials_new("victim", bad),
		                     FRAME_MAX_DEFAULT),
		    0);
		/* Meanwhile another client is served at once. */
		usleep(100 * 1000);
		tb = hostile_now_ms();
		assert_int_equal(testsrv_request(b, PROTO_STATS_REQUEST, NULL,
		                     NULL),
		    PROTO_OK);
		assert_true(hostile_now_ms() - tb < 500);
		assert_int_equal(hostile_reply(a, 10000, NULL, 0), PROTO_ERROR);
		t = hostile_now_ms() - t0;
		assert_true(t >= 1500 - 50 && t < 1500 + hash + 3000);
	}
	/* Failures on one account do not delay another account's login
	 * from the same address (it is not guessing across accounts). */
	assert_true((fd = hostile_connect_from(&srv, "127.0.0.2")) >= 0);
	t = timed_login(fd, "bystander", HOSTILE_PASSWORD, PROTO_OK);
	assert_true(t < 1000 + hash); /* the address's penalty would be 1500 */
	close(fd);
	/* The account from any address: one more failure re-arms it... */
	assert_true((fd = hostile_connect_from(&srv, "127.0.0.3")) >= 0);
	timed_login(fd, "victim", bad, PROTO_ERROR);
	close(fd);
	assert_true((fd = hostile_connect_from(&srv, "127.0.0.4")) >= 0);
	t = timed_login(fd, "victim", HOSTILE_PASSWORD, PROTO_OK);
	assert_true(t >= 1500 - 50);
	close(fd);
	/* ...and its success clears it. */
	assert_true((fd = hostile_connect_from(&srv, "127.0.0.4")) >= 0);
	t = timed_login(fd, "victim", bad, PROTO_ERROR);
	assert_true(t < 300 + hash);
	close(fd);
	/* A fresh address for a clean account waits for nothing. */
	assert_true((fd = hostile_connect_from(&srv, "127.0.0.5")) >= 0);
	t = timed_login(fd, "bystander", HOSTILE_PASSWORD, PROTO_OK);
	assert_true(t < 300 + hash);
	close(fd);
	close(a);
	close(b);
	assert_true(testsrv_log_contains(&srv, "delayed ms="));
}

/* A penalty can be turned off. */
static void
test_login_penalty_off(void **state)
{
	static const char *const extra[] = { "--login-penalty", "0", NULL };
	long long t, hash;
	int fd, i;

	(void)state;
	assert_int_equal(testsrv_start(&srv, extra), 0);
	assert_true((fd = hostile_user(&srv, "victim")) >= 0);
	close(fd);
	assert_true((fd = testsrv_connect(&srv)) >= 0);
	hash = timed_login(fd, "victim", "Wrong0Password", PROTO_ERROR);
	for (i = 0; i < 4; i++) {
		t = timed_login(fd, "victim", "Wrong0Password", PROTO_ERROR);
		assert_true(t < hash + 500);
	}
	close(fd);
}

/*
 * More connections than max-connections: accepting pauses (the extra ones
 * wait in the kernel's backlog), those already in are served, and accepting
 * resumes once some leave.
 */
static void
test_max_connections(void **state)
{
	static const char *const extra[] = { "--max-connections", "20", NULL };
	enum { FLOOD = 60 };
	int fds[FLOOD], good, i, answered = 0, fd;

	(void)state;
	assert_int_equal(testsrv_start(&srv, extra), 0);
	assert_true((good = hostile_user(&srv, "good")) >= 0);
	for (i = 0; i < FLOOD; i++) {
		assert_true((fds[i] = testsrv_connect(&srv)) >= 0);
		assert_int_equal(hostile_send_json(fds[i], "{\"header\": 10}"),
		    0);
	}
	for (i = 0; i < FLOOD; i++)
		if (hostile_reply(fds[i], i < 19 ? 5000 : 100, NULL, 0) ==
		    PROTO_ERROR)
			answered++;
	assert_int_equal(answered, 19);
	assert_int_equal(testsrv_request(good, PROTO_STATS_REQUEST, NULL, NULL),
	    PROTO_OK);
	for (i = 0; i < FLOOD; i++)
		close(fds[i]);
	/* The backlog drains into freed places; a newcomer gets in too. */
	assert_true((fd = testsrv_connect(&srv)) >= 0);
	assert_int_equal(hostile_send_json(fd, "{\"header\": 10}"), 0);
	assert_int_equal(hostile_reply(fd, 10000, NULL, 0), PROTO_ERROR);
	close(fd);
	close(good);
	assert_true(testsrv_log_contains(&srv, "max-connections 20 reached"));
}

/*
 * Far more connections at once than one accepting burst (32): accepting
 * pauses after each burst and resumes once the loop has served the rest,
 * with no connection closing in between; every one is served.
 */
static void
test_accept_bursts(void **state)
{
	enum { FLOOD = 200 };
	int fds[FLOOD], i, answered = 0;

	(void)state;
	assert_int_equal(testsrv_start(&srv, NULL), 0);
	for (i = 0; i < FLOOD; i++) {
		assert_true((fds[i] = testsrv_connect(&srv)) >= 0);
		assert_int_equal(hostile_send_json(fds[i], "{\"header\": 10}"),
		    0);
	}
	for (i = 0; i < FLOOD; i++)
		if (hostile_reply(fds[i], 10000, NULL, 0) == PROTO_ERROR)
			answered++;
	assert_int_equal(answered, FLOOD);
	for (i = 0; i < FLOOD; i++)
		close(fds[i]);
}

/*
 * Out of descriptors (a server started under a small RLIMIT_NOFILE):
 * accepting pauses and retries instead of spinning, those in are served,
 * and newcomers get in once descriptors are free again.
 */
static void
test_descriptor_exhaustion(void **state)
{
	enum { FLOOD = 60 };
	char wrapper[512], real[512];
	int fds[FLOOD], good, i, fd;
	long cpu0, cpu1;
	FILE *f;

	(void)state;
	snprintf(real, sizeof(real), "%s", testsrv_binary());
	snprintf(wrapper, sizeof(wrapper), "%s/glomaild-fd-limit",
	    getenv("TMPDIR") != NULL ? getenv("TMPDIR") : "/tmp");
	snprintf(wrapper + strlen(wrapper), sizeof(wrapper) - strlen(wrapper),
	    ".%ld", (long)getpid());
	assert_non_null(f = fopen(wrapper, "w"));
	fprintf(f, "#!/bin/sh\nulimit -n 40 || exit 1\nexec '%s' \"$@\"\n",
	    real);
	fclose(f);
	chmod(wrapper, 0700);
	setenv("GLOMAILD", wrapper, 1);
	assert_int_equal(testsrv_start(&srv, NULL), 0);
	unlink(wrapper);
	assert_true((good = hostile_user(&srv, "good")) >= 0);
	for (i = 0; i < FLOOD; i++)
		assert_true((fds[i] = testsrv_connect(&srv)) >= 0);
	/* Let it hit the limit, then measure its CPU use for a second. */
	usleep(300 * 1000);
	cpu0 = hostile_cpu_ms(srv.pid);
	usleep(1000 * 1000);
	cpu1 = hostile_cpu_ms(srv.pid);
	print_message("descriptor exhaustion: %ld ms of CPU in 1 s\n",
	    cpu1 - cpu0);
	assert_true(cpu0 >= 0 && cpu1 - cpu0 < 300);
	assert_int_equal(testsrv_request(good, PROTO_STATS_REQUEST, NULL, NULL),
	    PROTO_OK);
	assert_true(testsrv_log_contains(&srv, "Too many open files"));
	for (i = 0; i < FLOOD; i++)
		close(fds[i]);
	assert_true((fd = testsrv_connect(&srv)) >= 0);
	assert_int_equal(hostile_send_json(fd, "{\"header\": 10}"), 0);
	assert_int_equal(hostile_reply(fd, 10000, NULL, 0), PROTO_ERROR);
	close(fd);
	assert_int_equal(testsrv_request(good, PROTO_STATS_REQUEST, NULL, NULL),
	    PROTO_OK);
	close(good);
	assert_int_equal(waitpid(srv.pid, NULL, WNOHANG), 0);
}

/*
 * Send up to len bytes without blocking for long: stops when the peer stops
 * reading for 500 ms or the connection fails. Returns the bytes sent.
 */
static size_t
send_some(int fd, const unsigned char *buf, size_t len)
{
	struct pollfd p = { .fd = fd, .events = POLLOUT };
	size_t off = 0;
	ssize_t n;
	int flags = fcntl(fd, F_GETFL);

	fcntl(fd, F_SETFL, flags | O_NONBLOCK);
	while (off < len) {
		n = send(fd, buf + off, len - off, MSG_NOSIGNAL);
		if (n > 0) {
			off += (size_t)n;
			continue;
		}
		if (n == -1 && (errno == EAGAIN || errno == EWOULDBLOCK) &&
		    poll(&p, 1, 500) == 1)
			continue;
		break;
	}
	fcntl(fd, F_SETFL, flags);
	return off;
}

/* A message of len body bytes from user to user; the reply's header. */
static int
send_to_self(int fd, const char *user, const char *subject, size_t len)
{
	char addr[64], text[256], *body;
	struct msg_email e = { 0 };
	json_t *payload, *root;
	unsigned char *frame;
	size_t flen;
	char *json;
	int rc;

	snprintf(addr, sizeof(addr), "%s@glo2000.ca", user);
	assert_non_null(body = malloc(len + 1));
	memset(body, 'b', len);
	body[len] = '\0';
	e.sender = addr;
	e.destination = addr;
	e.subject = subject;
	e.content = body;
	assert_non_null(payload = msg_email_new(&e));
	assert_non_null(root = json_pack("{s:i, s:o}", "header",
	                    PROTO_EMAIL_SENDING, "payload", payload));
	assert_non_null(json = json_dumps(root, JSON_COMPACT));
	json_decref(root);
	assert_int_equal(frame_encode(json, strlen(json), FRAME_MAX_LIMIT,
	                     &frame, &flen),
	    0);
	assert_int_equal(wire_write_all(fd, frame, flen), 0);
	rc = hostile_reply(fd, 30000, text, sizeof(text));
	if (rc != PROTO_OK)
		print_message("send: %d %s\n", rc, text);
	free(frame);
	free(json);
	free(body);
	return rc;
}

/*
 * Before login a request is a register or a login, a few hundred bytes: a
 * connection that declares a 1 MiB request is refused after the 4 length
 * bytes and closed. Each of 200 such connections used to hold its partial
 * frame until its timeout (the server grew by 100 MB here); now the
 * server's memory stays where it was, and everyone else is served.
 */
static void
test_anonymous_frames(void **state)
{
	enum { N = 200, PART = 512 * 1024 };
	static unsigned char part[PART];
	char text[256];
	int fds[N], good, i, h, refused = 0;
	long rss0, rss;

	(void)state;
	assert_int_equal(testsrv_start(&srv, NULL), 0);
	assert_true((good = hostile_user(&srv, "good")) >= 0);
	rss0 = hostile_rss_kib(srv.pid);
	frame_put_header(part, (uint32_t)FRAME_MAX_DEFAULT);
	memset(part + FRAME_HEADER_LEN, ' ', PART - FRAME_HEADER_LEN);
	for (i = 0; i < N; i++) {
		assert_true((fds[i] = testsrv_connect(&srv)) >= 0);
		send_some(fds[i], part, PART);
	}
	usleep(300 * 1000);
	rss = hostile_rss_kib(srv.pid);
	print_message("anonymous frames: server RSS %ld -> %ld KiB\n", rss0,
	    rss);
	assert_true(rss0 > 0 && rss - rss0 < 16 * 1024);
	/* Each got the ERROR (unless the close's reset overtook it), and
	 * each is closed. */
	for (i = 0; i < N; i++) {
		h = hostile_reply(fds[i], 5000, text, sizeof(text));
		if (h == PROTO_ERROR) {
			assert_string_equal(text, "frame too large");
			refused++;
			h = hostile_reply(fds[i], 5000, NULL, 0);
		}
		assert_int_equal(h, -1);
		close(fds[i]);
	}
	assert_true(refused > 0);
	assert_true(testsrv_log_contains(&srv,
	    "frame too large "
	    "length=1048576 max=8192 (before login)"));
	assert_int_equal(testsrv_request(good, PROTO_STATS_REQUEST, NULL, NULL),
	    PROTO_OK);
	/* A register or login still fits. */
	close(good);
	assert_true((good = hostile_user(&srv, "good")) >= 0);
	close(good);
}

/*
 * A reply counts against max-output before it is queued: a 200 KiB
 * message read by a client allowed 64 KiB gets ERROR "reply too large"
 * (it used to be queued whole); a 20 KiB one is read, and the connection
 * stays in step.
 */
static void
test_max_output(void **state)
{
	static const char *const extra[] = { "--max-output", "64K", NULL };
	char text[256], json[64];
	struct msg *m;
	union msg_args a;
	const char *why;
	int fd, i, big = 0, small = 0;

	(void)state;
	assert_int_equal(testsrv_start(&srv, extra), 0);
	assert_true((fd = hostile_user(&srv, "reader")) >= 0);
	assert_int_equal(send_to_self(fd, "reader", "big", 200 * 1024),
	    PROTO_OK);
	assert_int_equal(send_to_self(fd, "reader", "small", 20 * 1024),
	    PROTO_OK);
	assert_int_equal(testsrv_request(fd, PROTO_INBOX_READING_REQUEST, NULL,
	                     NULL),
	    PROTO_OK);
	for (i = 1; i <= 2; i++) {
		snprintf(json, sizeof(json),
		    "{\"header\": 8, \"payload\": "
		    "{\"choice\": %d}}",
		    i);
		assert_int_equal(hostile_send_json(fd, json), 0);
		m = NULL;
		assert_int_equal(hostile_recv(fd, 10000, &m), HOSTILE_FRAME);
		if (msg_header(m) == PROTO_ERROR) {
			assert_int_equal(msg_unpack(m, PROTO_SHAPE_ERROR, &a,
			                     &why),
			    0);
			assert_string_equal(a.error_message, "reply too large");
			big++;
		} else {
			assert_int_equal(msg_header(m), PROTO_OK);
			assert_int_equal(msg_unpack(m, PROTO_SHAPE_EMAIL, &a,
			                     &why),
			    0);
			assert_string_equal(a.email.subject, "small");
			assert_int_equal(strlen(a.email.content), 20 * 1024);
			small++;
		}
		msg_free(m);
	}
	assert_int_equal(big, 1);
	assert_int_equal(small, 1);
	assert_int_equal(testsrv_request(fd, PROTO_STATS_REQUEST, NULL, NULL),
	    PROTO_OK);
	assert_true(testsrv_log_contains(&srv, "reply too large "
	                                       "length="));
	(void)text;
	close(fd);
}

/*
 * Many logged-in clients each start a large request and stall: past
 * max-memory the next ones are refused at once with ERROR "server busy"
 * and their bytes discarded, so the server holds about the budget (the 30
 * used to hold 21 MB here); each connection stays in step, and a client
 * with small requests is served throughout.
 */
static void
test_max_memory(void **state)
{
	static const char *const extra[] = { "--max-memory", "4M", NULL };
	static const char stats[] = "{\"header\": 10}";
	enum { N = 30, BODY = 1000 * 1000, PART = 700 * 1000 };
	unsigned char *frame;
	char text[256], user[32];
	int fds[N], good, i, h, busy = 0, ok = 0;
	long rss0, rss;

	(void)state;
	assert_int_equal(testsrv_start(&srv, extra), 0);
	assert_true((good = hostile_user(&srv, "good")) >= 0);
	for (i = 0; i < N; i++) {
		snprintf(user, sizeof(user), "hoard%d", i);
		assert_true((fds[i] = hostile_user(&srv, user)) >= 0);
	}
	/* A stats request padded with blanks to BODY bytes (valid JSON). */
	assert_non_null(frame = malloc(FRAME_HEADER_LEN + BODY));
	frame_put_header(frame, BODY);
	memset(frame + FRAME_HEADER_LEN, ' ', BODY);
	memcpy(frame + FRAME_HEADER_LEN, stats, sizeof(stats) - 1);
	rss0 = hostile_rss_kib(srv.pid);
	for (i = 0; i < N; i++)
		assert_int_equal(send_some(fds[i], frame,
		                     FRAME_HEADER_LEN + PART),
		    FRAME_HEADER_LEN + PART);
	usleep(500 * 1000);
	rss = hostile_rss_kib(srv.pid);
	print_message("max-memory: server RSS %ld -> %ld KiB\n", rss0, rss);
#ifndef __SANITIZE_ADDRESS__
	/* (AddressSanitizer keeps freed memory aside: RSS says nothing.) */
	assert_true(rss0 > 0 && rss - rss0 < 12 * 1024);
#endif
	assert_int_equal(testsrv_request(good, PROTO_STATS_REQUEST, NULL, NULL),
	    PROTO_OK);
	/* Finish every request: one reply each, then still in step. */
	for (i = 0; i < N; i++) {
		assert_int_equal(wire_write_all(fds[i],
		                     frame + FRAME_HEADER_LEN + PART,
		                     BODY - PART),
		    0);
		h = hostile_reply(fds[i], 10000, text, sizeof(text));
		if (h == PROTO_ERROR) {
			assert_string_equal(text, "server busy, try again "
			                          "later");
			busy++;
		} else {
			assert_int_equal(h, PROTO_OK);
			ok++;
		}
		assert_int_equal(testsrv_request(fds[i], PROTO_STATS_REQUEST,
		                     NULL, NULL),
		    PROTO_OK);
		close(fds[i]);
	}
	print_message("max-memory: %d requests taken, %d refused\n", ok, busy);
	assert_true(ok >= 2 && busy >= N / 2);
	assert_true(testsrv_log_contains(&srv, "memory budget reached: "
	                                       "request refused"));
	free(frame);
	close(good);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_teardown(test_timeouts, teardown),
		cmocka_unit_test_teardown(test_drip, teardown),
		cmocka_unit_test_teardown(test_login_penalty, teardown),
		cmocka_unit_test_teardown(test_login_penalty_off, teardown),
		cmocka_unit_test_teardown(test_max_connections, teardown),
		cmocka_unit_test_teardown(test_accept_bursts, teardown),
		cmocka_unit_test_teardown(test_descriptor_exhaustion, teardown),
		cmocka_unit_test_teardown(test_anonymous_frames, teardown),
		cmocka_unit_test_teardown(test_max_output, teardown),
		cmocka_unit_test_teardown(test_max_memory, teardown),
	};

	signal(SIGPIPE, SIG_IGN);
	return cmocka_run_group_tests(tests, NULL, NULL);
}
