/*
 * test_throttle.c - the failed-login throttle against a real glomaild:
 * parallel guessing gets no more password checks than one connection, one
 * user's typos do not slow another user on the same host, an address that
 * guesses across many names is slowed for everyone, and each failure is
 * logged at warning level with the account and the address.
 */
#include <sys/socket.h>

#include <poll.h>
#include <setjmp.h>
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

#define BAD "Wrong0Password"
#define PENALTY_ARGS "--login-penalty", "300", "--login-penalty-max", "1500"

static struct testsrv srv;

static int
teardown(void **state)
{
	(void)state;
	testsrv_stop(&srv);
	return 0;
}

/* Log in on fd; the reply header (expect) is checked, the time returned. */
static long long
timed_login(int fd, const char *user, const char *password, int expect)
{
	long long t0 = hostile_now_ms();

	assert_int_equal(testsrv_auth(fd, PROTO_AUTH_LOGIN, user, password),
	    expect);
	return hostile_now_ms() - t0;
}

/* How long one password check takes here (a login with nothing to wait). */
static long long
hash_ms(void)
{
	long long t;
	int fd;

	assert_true((fd = hostile_user(&srv, "calibrate")) >= 0);
	close(fd);
	assert_true((fd = hostile_connect_from(&srv, "127.0.0.99")) >= 0);
	t = timed_login(fd, "calibrate", HOSTILE_PASSWORD, PROTO_OK);
	close(fd);
	print_message("one password check: %lld ms\n", t);
	return t;
}

/* Lines of the server's log that contain needle. */
static int
log_count(const char *needle)
{
	char *log = testsrv_read_file(srv.log), *p;
	int n = 0;

	assert_non_null(log);
	for (p = log; (p = strstr(p, needle)) != NULL; p += strlen(needle))
		n++;
	free(log);
	return n;
}

/*
 * Forty connections, from forty addresses, send a wrong password for one
 * account at the same moment. One connection alone gets a check at 0,
 * 300, 900, 2100 ms...; forty must get no more: each check waits for the
 * result of the one before it. Before the fix all forty were checked at
 * once.
 */
static void
test_parallel_guessing(void **state)
{
	static const char *const extra[] = { PENALTY_ARGS, NULL };
	enum { N = 40, WINDOW_MS = 2500 };
	int fd[N], done[N], i, checks = 0, busy = 0, pending = N, rc;
	char addr[32], text[256];
	long long t0;

	(void)state;
	assert_int_equal(testsrv_start(&srv, extra), 0);
	assert_true((fd[0] = hostile_user(&srv, "victim")) >= 0);
	close(fd[0]);
	for (i = 0; i < N; i++) {
		snprintf(addr, sizeof(addr), "127.0.%d.%d", 10 + i / 200,
		    1 + i % 200);
		assert_true((fd[i] = hostile_connect_from(&srv, addr)) >= 0);
		done[i] = 0;
	}
	t0 = hostile_now_ms();
	for (i = 0; i < N; i++)
		assert_int_equal(wire_send(fd[i], PROTO_AUTH_LOGIN,
		    msg_credentials_new("victim", BAD), FRAME_MAX_DEFAULT), 0);
	/* Replies that come within the window. */
	while (pending > 0 && hostile_now_ms() - t0 < WINDOW_MS) {
		struct pollfd pfd[N];
		int map[N], n = 0;

		for (i = 0; i < N; i++)
			if (!done[i]) {
				pfd[n].fd = fd[i];
				pfd[n].events = POLLIN;
				map[n++] = i;
			}
		if (poll(pfd, (nfds_t)n, 50) <= 0)
			continue;
		for (i = 0; i < n; i++) {
			if (!(pfd[i].revents & (POLLIN | POLLHUP)))
				continue;
			rc = hostile_reply(fd[map[i]], 1000, text,
			    sizeof(text));
			assert_int_equal(rc, PROTO_ERROR);
			if (strcmp(text, "unknown user or wrong password") == 0)
				checks++;
			else if (strstr(text, "try again later") != NULL)
				busy++;
			else
				fail_msg("unexpected reply \"%s\"", text);
			done[map[i]] = 1;
			pending--;
		}
	}
	print_message("checks %d, refused %d in %d ms\n", checks, busy,
	    WINDOW_MS);
	/* 0, 300+h, 900+2h, 2100+3h: at most 4 in 2.5 s (5 for slack). */
	assert_true(checks >= 1);
	assert_true(checks <= 5);
	/* The server says so in its log too: one warning per check. */
	assert_true(log_count("login failed user=victim ") <= 5);
	/* Those that were not queued were told to come back. */
	assert_true(busy > 0);
	for (i = 0; i < N; i++)
		close(fd[i]);
	/* Meanwhile the account's owner can still log in (after its turn). */
	assert_true((fd[0] = hostile_connect_from(&srv, "127.0.0.5")) >= 0);
	assert_int_equal(testsrv_auth(fd[0], PROTO_AUTH_LOGIN, "victim",
	    HOSTILE_PASSWORD), PROTO_OK);
	close(fd[0]);
}

/*
 * bob's two wrong passwords from 127.0.0.1 do not delay carol's right one
 * from the same address; before the fix she waited 4 s without a word.
 * The server's log says whether a login was delayed; the time is checked
 * too, loosely, as other work may share the machine.
 */
static void
test_typos_stay_private(void **state)
{
	static const char *const extra[] = { "--login-penalty", "2000",
	    "--login-penalty-max", "8000", NULL };
	long long t;
	int fd;

	(void)state;
	assert_int_equal(testsrv_start(&srv, extra), 0);
	assert_true((fd = hostile_user(&srv, "bob")) >= 0);
	close(fd);
	assert_true((fd = hostile_user(&srv, "carol")) >= 0);
	close(fd);
	assert_true((fd = hostile_connect_from(&srv, "127.0.0.1")) >= 0);
	timed_login(fd, "bob", BAD, PROTO_ERROR);
	timed_login(fd, "bob", BAD, PROTO_ERROR);
	close(fd);
	assert_true((fd = hostile_connect_from(&srv, "127.0.0.1")) >= 0);
	t = timed_login(fd, "carol", HOSTILE_PASSWORD, PROTO_OK);
	print_message("carol's login: %lld ms (before: about 4000)\n", t);
	assert_int_equal(log_count("login user=carol delayed"), 0);
	assert_true(t < 3000);
	close(fd);
	/* bob himself still waits: his account has failures. */
	assert_true((fd = hostile_connect_from(&srv, "127.0.0.1")) >= 0);
	t = timed_login(fd, "bob", HOSTILE_PASSWORD, PROTO_OK);
	assert_int_equal(log_count("login user=bob delayed"), 2);
	assert_true(t >= 2500);
	close(fd);
}

/*
 * An address that failed on ten distinct names is guessing: from there,
 * even carol's right password waits; from elsewhere she does not.
 */
static void
test_guessing_address(void **state)
{
	static const char *const extra[] = { PENALTY_ARGS, NULL };
	char name[32];
	long long h, t;
	int fd, i;

	(void)state;
	assert_int_equal(testsrv_start(&srv, extra), 0);
	assert_true((fd = hostile_user(&srv, "carol")) >= 0);
	close(fd);
	h = hash_ms();
	assert_true((fd = hostile_connect_from(&srv, "127.0.0.7")) >= 0);
	for (i = 0; i < 10; i++) {
		snprintf(name, sizeof(name), "madeup%d", i);
		timed_login(fd, name, BAD, PROTO_ERROR);
	}
	close(fd);
	assert_true((fd = hostile_connect_from(&srv, "127.0.0.8")) >= 0);
	t = timed_login(fd, "carol", HOSTILE_PASSWORD, PROTO_OK);
	print_message("carol's login elsewhere: %lld ms\n", t);
	assert_int_equal(log_count("login user=carol delayed"), 0);
	assert_true(t < 1500 + h);
	close(fd);
	assert_true((fd = hostile_connect_from(&srv, "127.0.0.7")) >= 0);
	t = timed_login(fd, "carol", HOSTILE_PASSWORD, PROTO_OK);
	print_message("carol's login from the guessing address: %lld ms\n",
	    t);
	assert_true(t >= 1500 - 50 - 2 * h - 250);
	assert_int_equal(log_count("login user=carol delayed"), 1);
	close(fd);
}

/* A failed login is a warning that names the account and the address. */
static void
test_failure_logged(void **state)
{
	char *log, *line, *end;
	int fd, found = 0;

	(void)state;
	assert_int_equal(testsrv_start(&srv, NULL), 0);
	assert_true((fd = hostile_user(&srv, "dora")) >= 0);
	close(fd);
	assert_true((fd = hostile_connect_from(&srv, "127.0.0.9")) >= 0);
	timed_login(fd, "dora", BAD, PROTO_ERROR);
	close(fd);
	assert_non_null(log = testsrv_read_file(srv.log));
	for (line = log; *line != '\0'; line = *end ? end + 1 : end) {
		char copy[512];
		size_t len;

		end = line + strcspn(line, "\n");
		len = (size_t)(end - line) < sizeof(copy) - 1 ?
		    (size_t)(end - line) : sizeof(copy) - 1;
		memcpy(copy, line, len);
		copy[len] = '\0';
		if (strstr(copy, "login failed user=dora addr=127.0.0.9") ==
		    NULL)
			continue;
		/* The level, as a terminal or file shows it. */
		assert_non_null(strstr(copy, " warn: "));
		found = 1;
	}
	free(log);
	assert_true(found);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_teardown(test_parallel_guessing, teardown),
		cmocka_unit_test_teardown(test_typos_stay_private, teardown),
		cmocka_unit_test_teardown(test_guessing_address, teardown),
		cmocka_unit_test_teardown(test_failure_logged, teardown),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
