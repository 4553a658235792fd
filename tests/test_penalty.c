/*
 * test_penalty.c - the failed-login throttle on a private event_base: the
 * doubling delay, turns that serialise parallel checks of one account, the
 * address throttled only when it guesses across accounts, and the bounded
 * table that a flood of made-up names cannot empty of a real account.
 */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <cmocka.h>
#include <event2/event.h>

#include "penalty.h"

#define BASE_MS 100
#define MAX_MS 400

static struct event_base *base;
static struct penalty *pen;

/* A login waiting for its turn: the test's stand-in for an auth job. */
struct login {
	struct penalty_turn *turn;
	int started;       /* fn ran (or the check may start at once) */
	int refused;       /* fn ran, but for a refusal */
	long long at_ms;   /* when it started */
};

static long long
now_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (long long)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

static void
started(void *arg)
{
	struct login *l = arg;

	l->started = 1;
	l->at_ms = now_ms();
	if (penalty_refused(l->turn)) {
		/* As auth does: answer "try again later", end the turn. */
		l->refused = 1;
		penalty_leave(l->turn, PENALTY_ABANDONED);
		l->turn = NULL;
	}
}

static int
setup(void **state)
{
	(void)state;
	if ((base = event_base_new()) == NULL ||
	    (pen = penalty_new(base, BASE_MS, MAX_MS)) == NULL)
		return -1;
	return 0;
}

static int
teardown(void **state)
{
	(void)state;
	penalty_free(pen);
	event_base_free(base);
	return 0;
}

/* Enter a login; 1 when it started at once. */
static int
enter(struct login *l, const char *user, const char *addr)
{
	int rc;

	memset(l, 0, sizeof(*l));
	rc = penalty_enter(pen, user, addr, 1, started, NULL, l, &l->turn);
	if (rc == 1)
		started(l);
	return rc;
}

/* Run the loop for ms milliseconds. */
static void
run_for(long long ms)
{
	struct timeval tv = { (time_t)(ms / 1000), (suseconds_t)(ms % 1000) *
	    1000 };

	event_base_loopexit(base, &tv);
	event_base_dispatch(base);
}

/* One failed login for user from addr, waited for and ended. */
static void
fail_once(const char *user, const char *addr, enum penalty_outcome how)
{
	struct login l;
	long long t0 = now_ms();

	if (enter(&l, user, addr) == 0)
		while (!l.started && now_ms() - t0 < 5000)
			run_for(10);
	assert_true(l.started);
	penalty_leave(l.turn, how);
}

static void
test_doubling(void **state)
{
	unsigned d;

	(void)state;
	assert_int_equal(penalty_delay(pen, "alice", "10.0.0.1"), 0);
	fail_once("alice", "10.0.0.1", PENALTY_FAILED);
	d = penalty_delay(pen, "alice", "10.0.0.1");
	assert_true(d > BASE_MS - 20 && d <= BASE_MS);
	fail_once("alice", "10.0.0.1", PENALTY_FAILED);
	d = penalty_delay(pen, "alice", "10.0.0.2");
	assert_true(d > 2 * BASE_MS - 20 && d <= 2 * BASE_MS);
	fail_once("alice", "10.0.0.1", PENALTY_FAILED);
	fail_once("alice", "10.0.0.1", PENALTY_FAILED);
	fail_once("alice", "10.0.0.1", PENALTY_FAILED);
	d = penalty_delay(pen, "alice", "10.0.0.3");
	assert_true(d > MAX_MS - 20 && d <= MAX_MS);
	/* A success clears the account. */
	fail_once("alice", "10.0.0.1", PENALTY_SUCCEEDED);
	assert_int_equal(penalty_delay(pen, "alice", "10.0.0.1"), 0);
}

/*
 * Forty logins for one account entered at once: two are checked (a clean
 * account may be logged into twice at once); once they failed, the queue is
 * cut to its short bound and the rest refused, and what is left is checked
 * one at a time, each after the penalty of the failures before it. Never
 * forty checks at once.
 */
static void
test_parallel_turns(void **state)
{
	struct login l[40];
	char addr[32];
	int i, now = 0, refused = 0, done = 0, running;
	long long t0 = now_ms(), prev, want;

	(void)state;
	for (i = 0; i < 40; i++) {
		snprintf(addr, sizeof(addr), "10.1.0.%d", i);
		if (enter(&l[i], "victim", addr) == 1)
			now++;
	}
	assert_int_equal(now, PENALTY_PARALLEL);
	for (i = 0; i < 40; i++)
		if (l[i].started) {
			penalty_leave(l[i].turn, PENALTY_FAILED);
			l[i].turn = NULL;
			done++;
		}
	prev = now_ms();
	while (now_ms() - t0 < 10000 &&
	    done < PENALTY_PARALLEL + PENALTY_QUEUE_MAX) {
		running = 0;
		for (i = 0; i < 40; i++)
			if (l[i].started && l[i].turn != NULL)
				running++;
		assert_true(running <= 1);
		for (i = 0; i < 40 && running == 1; i++) {
			if (!l[i].started || l[i].turn == NULL)
				continue;
			want = (long long)BASE_MS << (done - 1);
			if (want > MAX_MS)
				want = MAX_MS;
			assert_true(l[i].at_ms - prev >= want - 15);
			penalty_leave(l[i].turn, PENALTY_FAILED);
			prev = now_ms();
			l[i].turn = NULL;
			done++;
		}
		run_for(5);
	}
	assert_int_equal(done, PENALTY_PARALLEL + PENALTY_QUEUE_MAX);
	for (i = 0; i < 40; i++)
		refused += l[i].refused;
	assert_int_equal(refused, 40 - PENALTY_PARALLEL - PENALTY_QUEUE_MAX);
	/* While being guessed, a newcomer past the short queue is refused. */
	for (i = 0; i < PENALTY_QUEUE_MAX + 2; i++)
		if (enter(&l[i], "victim", "10.1.1.1") == -1)
			break;
	assert_int_equal(i, PENALTY_QUEUE_MAX + 1);
	assert_int_equal(errno, EBUSY);
	for (i = 0; i < 40; i++)
		if (l[i].turn != NULL && !l[i].started)
			penalty_leave(l[i].turn, PENALTY_ABANDONED);
}

/*
 * A clean account: two checks at once, a third waits; a success lets it
 * on at once, without delay.
 */
static void
test_turn_after_success(void **state)
{
	struct login a, b, c;

	(void)state;
	assert_int_equal(enter(&a, "carol", "10.2.0.1"), 1);
	assert_int_equal(enter(&b, "carol", "10.2.0.2"), 1);
	assert_int_equal(enter(&c, "carol", "10.2.0.3"), 0);
	run_for(20);
	assert_false(c.started);
	penalty_leave(a.turn, PENALTY_SUCCEEDED);
	run_for(20);
	assert_true(c.started);
	penalty_leave(b.turn, PENALTY_SUCCEEDED);
	penalty_leave(c.turn, PENALTY_SUCCEEDED);
}

/* Another account's typos from the same address delay no one. */
static void
test_typos_are_private(void **state)
{
	struct login l;

	(void)state;
	fail_once("bob", "127.0.0.1", PENALTY_FAILED);
	fail_once("bob", "127.0.0.1", PENALTY_FAILED);
	assert_true(penalty_delay(pen, "bob", "127.0.0.1") > 0);
	assert_int_equal(penalty_delay(pen, "carol", "127.0.0.1"), 0);
	assert_int_equal(enter(&l, "carol", "127.0.0.1"), 1);
	penalty_leave(l.turn, PENALTY_SUCCEEDED);
}

/* Failures on many distinct names make the address pay for every login. */
static void
test_guessing_address(void **state)
{
	struct login l;
	char name[32];
	int i;

	(void)state;
	for (i = 0; i < PENALTY_GUESS_NAMES - 1; i++) {
		snprintf(name, sizeof(name), "guess%d", i);
		fail_once(name, "10.3.0.1", PENALTY_FAILED_UNKNOWN);
	}
	assert_int_equal(penalty_delay(pen, "carol", "10.3.0.1"), 0);
	fail_once("guess-last", "10.3.0.1", PENALTY_FAILED_UNKNOWN);
	assert_true(penalty_delay(pen, "carol", "10.3.0.1") > MAX_MS - 50);
	assert_int_equal(enter(&l, "carol", "10.3.0.1"), 0);
	assert_int_equal(penalty_delay(pen, "carol", "10.3.0.2"), 0);
	run_for(MAX_MS + 50);
	assert_true(l.started);
	penalty_leave(l.turn, PENALTY_SUCCEEDED);
}

/*
 * Retries on accounts that already failed wait for those accounts; they do
 * not make their address look like guessing for everyone else.
 */
static void
test_retries_are_not_names(void **state)
{
	struct login bob[1 + PENALTY_QUEUE_MAX], ben[1 + PENALTY_QUEUE_MAX],
	    other[PENALTY_GUESS_NAMES - 1];
	char name[32];
	int i;

	(void)state;
	fail_once("bob", "10.10.0.1", PENALTY_FAILED);
	fail_once("ben", "10.10.0.1", PENALTY_FAILED);
	for (i = 0; i < 1 + PENALTY_QUEUE_MAX; i++) {
		assert_int_equal(enter(&bob[i], "bob", "10.10.0.1"), 0);
		assert_int_equal(enter(&ben[i], "ben", "10.10.0.1"), 0);
	}
	for (i = 0; i < PENALTY_GUESS_NAMES - 1; i++) {
		snprintf(name, sizeof(name), "user%d", i);
		assert_int_equal(enter(&other[i], name, "10.10.0.1"), 1);
	}
	for (i = 0; i < PENALTY_GUESS_NAMES - 1; i++)
		penalty_leave(other[i].turn, PENALTY_SUCCEEDED);
	for (i = 0; i < 1 + PENALTY_QUEUE_MAX; i++) {
		penalty_leave(bob[i].turn, PENALTY_ABANDONED);
		penalty_leave(ben[i].turn, PENALTY_ABANDONED);
	}
}

/*
 * Parallel logins on made-up names from one address: they count as names
 * being guessed while in progress, so no more than the threshold are
 * checked before results come in.
 */
static void
test_parallel_names(void **state)
{
	struct login l[30];
	char name[32];
	int i, now = 0;

	(void)state;
	for (i = 0; i < 30; i++) {
		snprintf(name, sizeof(name), "made-up%d", i);
		if (enter(&l[i], name, "10.4.0.1") == 1)
			now++;
	}
	assert_true(now <= PENALTY_GUESS_NAMES + 1);
	for (i = 0; i < 30; i++)
		if (l[i].started)
			penalty_leave(l[i].turn, PENALTY_FAILED_UNKNOWN);
	/* The queued rest give up. */
	for (i = 0; i < 30; i++)
		if (!l[i].started)
			penalty_leave(l[i].turn, PENALTY_ABANDONED);
}

/* Ended turns left over at free: the test's jobs end them (abandoned). */
static void
abandon(void *arg)
{
	struct login *l = arg;

	penalty_leave(l->turn, PENALTY_ABANDONED);
	l->turn = NULL;
}

static void
test_free_runs_waiting(void **state)
{
	struct login a, b;
	int rc;

	(void)state;
	struct login a2;

	assert_int_equal(enter(&a, "dave", "10.5.0.1"), 1);
	assert_int_equal(enter(&a2, "dave", "10.5.0.1"), 1);
	memset(&b, 0, sizeof(b));
	rc = penalty_enter(pen, "dave", "10.5.0.2", 1, abandon, NULL, &b,
	    &b.turn);
	assert_int_equal(rc, 0);
	/* a is being checked when the table goes; its leave comes after. */
	penalty_free(pen);
	assert_null(b.turn);
	penalty_leave(a.turn, PENALTY_FAILED);
	penalty_leave(a2.turn, PENALTY_FAILED);
	pen = penalty_new(base, BASE_MS, MAX_MS);
	assert_non_null(pen);
}

static int
not_wanted(void *arg)
{
	(void)arg;
	return 0;
}

/* Logins whose clients left pass through the queue without any delay. */
static void
test_abandoned_queue(void **state)
{
	struct login a, q[3], e;
	long long t0;
	int i;

	(void)state;
	/* With a failure behind it, the account takes one check at a time. */
	fail_once("erin", "10.8.0.1", PENALTY_FAILED);
	run_for(BASE_MS + 20);
	assert_int_equal(enter(&a, "erin", "10.8.0.1"), 1);
	for (i = 0; i < 3; i++) {
		memset(&q[i], 0, sizeof(q[i]));
		assert_int_equal(penalty_enter(pen, "erin", "10.8.0.2", 1,
		    abandon, not_wanted, &q[i], &q[i].turn), 0);
	}
	penalty_leave(a.turn, PENALTY_FAILED);
	t0 = now_ms();
	run_for(30);
	for (i = 0; i < 3; i++)
		assert_null(q[i].turn);
	/* The next one still serves the penalty of that failure. */
	assert_int_equal(enter(&e, "erin", "10.8.0.3"), 0);
	run_for(2 * BASE_MS + 30);
	assert_true(e.started);
	assert_true(e.at_ms - t0 >= 2 * BASE_MS - 15);
	penalty_leave(e.turn, PENALTY_SUCCEEDED);
}

/*
 * More failures on made-up names, from many addresses, than the table holds:
 * the real account's penalty is still in force.
 */
static void
test_flood_keeps_accounts(void **state)
{
	char name[32], addr[32];
	unsigned d;
	int i;

	(void)state;
	/*
	 * A penalty long enough to outlast the flood however slow the
	 * machine (the flood takes seconds under a sanitizer): what is
	 * tested is that the entry survives, not how long it lasts.
	 */
	penalty_free(pen);
	assert_non_null(pen = penalty_new(base, 600000, 600000));
	fail_once("realuser", "10.6.0.1", PENALTY_FAILED);
	for (i = 0; i < 20000; i++) {
		struct login l;

		snprintf(name, sizeof(name), "nobody%d", i);
		snprintf(addr, sizeof(addr), "10.%d.%d.%d", 7 + i / 65536,
		    (i / 256) % 256, i % 256);
		assert_int_equal(enter(&l, name, addr), 1);
		penalty_leave(l.turn, PENALTY_FAILED_UNKNOWN);
	}
	d = penalty_delay(pen, "realuser", "192.0.2.1");
	assert_true(d > 0);
	/* The unknown names made room for each other. */
	snprintf(name, sizeof(name), "nobody%d", 0);
	assert_int_equal(penalty_delay(pen, name, "192.0.2.1"), 0);
	snprintf(name, sizeof(name), "nobody%d", 19999);
	assert_true(penalty_delay(pen, name, "192.0.2.1") > 0);
}

/* Throttling off: every login starts at once, no turns. */
static void
test_off(void **state)
{
	struct penalty *off = penalty_new(base, 0, 0);
	struct penalty_turn *t;
	int i;

	(void)state;
	assert_non_null(off);
	for (i = 0; i < 3; i++) {
		assert_int_equal(penalty_enter(off, "x", "10.9.0.1", 1,
		    started, NULL, NULL, &t), 1);
		assert_null(t);
	}
	assert_int_equal(penalty_delay(off, "x", "10.9.0.1"), 0);
	penalty_free(off);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(test_doubling, setup, teardown),
		cmocka_unit_test_setup_teardown(test_parallel_turns, setup,
		    teardown),
		cmocka_unit_test_setup_teardown(test_turn_after_success, setup,
		    teardown),
		cmocka_unit_test_setup_teardown(test_typos_are_private, setup,
		    teardown),
		cmocka_unit_test_setup_teardown(test_guessing_address, setup,
		    teardown),
		cmocka_unit_test_setup_teardown(test_retries_are_not_names,
		    setup, teardown),
		cmocka_unit_test_setup_teardown(test_parallel_names, setup,
		    teardown),
		cmocka_unit_test_setup_teardown(test_free_runs_waiting, setup,
		    teardown),
		cmocka_unit_test_setup_teardown(test_abandoned_queue, setup,
		    teardown),
		cmocka_unit_test_setup_teardown(test_flood_keeps_accounts, setup,
		    teardown),
		cmocka_unit_test_setup_teardown(test_off, setup, teardown),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
