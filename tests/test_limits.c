/*
 * test_limits.c - glomaild's bounds, each on a server configured small:
 * timeouts before and after login, failed-login penalties, the connection
 * cap and running out of descriptors. Each test starts its own server.
 */
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/wait.h>

#include <errno.h>
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
	static const unsigned char frame[] = { 0, 0, 0, 13, '{', '"', 'h',
		'e', 'a', 'd', 'e', 'r', '"', ':', ' ', '3', '}' };
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
		    msg_credentials_new("victim", bad), FRAME_MAX_DEFAULT), 0);
		/* Meanwhile another client is served at once. */
		usleep(100 * 1000);
		tb = hostile_now_ms();
		assert_int_equal(testsrv_request(b, PROTO_STATS_REQUEST, NULL,
		    NULL), PROTO_OK);
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
	assert_int_equal(testsrv_request(good, PROTO_STATS_REQUEST, NULL,
	    NULL), PROTO_OK);
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
	assert_int_equal(testsrv_request(good, PROTO_STATS_REQUEST, NULL,
	    NULL), PROTO_OK);
	assert_true(testsrv_log_contains(&srv, "Too many open files"));
	for (i = 0; i < FLOOD; i++)
		close(fds[i]);
	assert_true((fd = testsrv_connect(&srv)) >= 0);
	assert_int_equal(hostile_send_json(fd, "{\"header\": 10}"), 0);
	assert_int_equal(hostile_reply(fd, 10000, NULL, 0), PROTO_ERROR);
	close(fd);
	assert_int_equal(testsrv_request(good, PROTO_STATS_REQUEST, NULL,
	    NULL), PROTO_OK);
	close(good);
	assert_int_equal(waitpid(srv.pid, NULL, WNOHANG), 0);
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
		cmocka_unit_test_teardown(test_descriptor_exhaustion,
		    teardown),
	};

	signal(SIGPIPE, SIG_IGN);
	return cmocka_run_group_tests(tests, NULL, NULL);
}
