/*
 * test_syncgroup.c - the group commit's rules, watched from inside: a
 * caller that arrives while an fsync of its directory is in flight is not
 * released by that fsync but by the next one, which then serves everyone
 * who arrived meanwhile; different directories do not wait for each other.
 * Linked with the test build of the store, whose fault file can hold an
 * fsync back ("hold-fsync-new").
 */
#include <fcntl.h>
#include <pthread.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include <cmocka.h>

#include "syncgroup.h"
#include "testsrv.h"

static char dir[256], faults[400];

struct caller {
	int fd;
	int rc;
	volatile int done;
	pthread_t thread;
};

static void *
caller_main(void *arg)
{
	struct caller *c = arg;

	c->rc = syncgroup_fsync(c->fd);
	c->done = 1;
	return NULL;
}

static void
start(struct caller *c, int fd)
{
	c->fd = fd;
	c->done = 0;
	assert_int_equal(pthread_create(&c->thread, NULL, caller_main, c), 0);
}

static void
hold(int on)
{
	FILE *f;

	if (!on) {
		unlink(faults);
		return;
	}
	assert_non_null(f = fopen(faults, "w"));
	fputs("hold-fsync-new\n", f);
	fclose(f);
}

/* Wait (5 s at most) until the group counters reach fsyncs and calls. */
static void
wait_stats(uint64_t fsyncs, uint64_t calls, const struct syncgroup_stats *base)
{
	struct timespec ms = { 0, 1000 * 1000 };
	struct syncgroup_stats st;
	int i;

	for (i = 0; i < 5000; i++) {
		syncgroup_stats(&st);
		if (st.fsyncs - base->fsyncs == fsyncs &&
		    st.calls - base->calls == calls)
			return;
		nanosleep(&ms, NULL);
	}
	fail_msg("fsyncs %llu calls %llu, want %llu and %llu",
	    (unsigned long long)(st.fsyncs - base->fsyncs),
	    (unsigned long long)(st.calls - base->calls),
	    (unsigned long long)fsyncs, (unsigned long long)calls);
}

static void
pause_ms(int ms)
{
	struct timespec ts = { 0, ms * 1000L * 1000L };

	nanosleep(&ts, NULL);
}

static void
test_next_fsync(void **state)
{
	struct syncgroup_stats base;
	struct caller a, b, c, d, other;
	char path[300];
	int fd, fd2;

	(void)state;
	assert_true((fd = open(dir, O_RDONLY | O_DIRECTORY)) >= 0);
	snprintf(path, sizeof(path), "%s/other", dir);
	assert_int_equal(mkdir(path, 0700), 0);
	assert_true((fd2 = open(path, O_RDONLY | O_DIRECTORY)) >= 0);
	syncgroup_stats(&base);
	/* a issues fsync #1, held back. */
	hold(1);
	start(&a, fd);
	wait_stats(1, 1, &base);
	/* b arrives while #1 is in flight: it must wait for #2. */
	start(&b, fd);
	wait_stats(1, 2, &base);
	pause_ms(50);
	assert_false(a.done);
	assert_false(b.done);
	/* Another directory has a group of its own: it does not wait for a's
	 * fsync (its own is held too, so it is counted, not finished). */
	start(&other, fd2);
	wait_stats(2, 3, &base);
	/* #1 returns: a is done; b issues #2 (held again: it is in flight). */
	hold(0);
	pthread_join(a.thread, NULL);
	assert_int_equal(a.rc, 0);
	pthread_join(other.thread, NULL);
	assert_int_equal(other.rc, 0);
	pthread_join(b.thread, NULL);
	assert_int_equal(b.rc, 0);
	wait_stats(3, 3, &base);
	/* Two who arrive during one fsync share the next one. */
	hold(1);
	start(&a, fd);
	wait_stats(4, 4, &base);
	start(&b, fd);
	start(&c, fd);
	start(&d, fd);
	wait_stats(4, 7, &base);
	pause_ms(50);
	assert_false(b.done || c.done || d.done);
	hold(0);
	pthread_join(a.thread, NULL);
	pthread_join(b.thread, NULL);
	pthread_join(c.thread, NULL);
	pthread_join(d.thread, NULL);
	assert_int_equal(a.rc | b.rc | c.rc | d.rc, 0);
	/* a's #4, then one #5 for b, c and d together. */
	wait_stats(5, 7, &base);
	close(fd);
	close(fd2);
}

static int
setup(void **state)
{
	(void)state;
	if (testsrv_scratch(dir, sizeof(dir), "syncgroup") == -1)
		return -1;
	snprintf(faults, sizeof(faults), "%s/faults", dir);
	setenv("GLOMAIL_FAULTS", faults, 1);
	return 0;
}

static int
teardown(void **state)
{
	(void)state;
	unlink(faults);
	testsrv_remove_tree(dir);
	return 0;
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_next_fsync),
	};

	return cmocka_run_group_tests(tests, setup, teardown);
}
