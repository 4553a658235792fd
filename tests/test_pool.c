/*
 * test_pool.c - worker pool: work off the loop, done on the loop, bounds.
 */
#include <sys/resource.h>

#include <pthread.h>
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <unistd.h>

#include <cmocka.h>
#include <event2/event.h>

#include "pool.h"

struct item {
	pthread_t loop;
	pthread_t worker;
	int nice;
	int done_on_loop;
	int *finished;
};

static void
work(void *arg)
{
	struct item *it = arg;

	it->worker = pthread_self();
	it->nice = getpriority(PRIO_PROCESS, 0);
	usleep(1000);
}

static void
done(void *arg)
{
	struct item *it = arg;

	it->done_on_loop = pthread_equal(pthread_self(), it->loop);
	(*it->finished)++;
}

static void
test_roundtrip(void **state)
{
	struct event_base *base = event_base_new();
	struct pool *pool = pool_new(base, "test", 3, 100);
	struct item items[50];
	int finished = 0, i, rounds = 0;

	(void)state;
	assert_non_null(pool);
	for (i = 0; i < 50; i++) {
		items[i].loop = pthread_self();
		items[i].finished = &finished;
		items[i].done_on_loop = 0;
		assert_int_equal(pool_submit(pool, work, done, &items[i]), 0);
	}
	while (finished < 50 && rounds++ < 10000)
		event_base_loop(base, EVLOOP_ONCE);
	assert_int_equal(finished, 50);
	assert_int_equal(pool_pending(pool), 0);
	for (i = 0; i < 50; i++) {
		assert_true(items[i].done_on_loop);
		assert_false(pthread_equal(items[i].worker, pthread_self()));
	}
	pool_free(pool);
	event_base_free(base);
}

/* A full queue refuses; pool_free finishes what was queued. */
static void
test_bounded_and_free(void **state)
{
	struct event_base *base = event_base_new();
	struct pool *pool = pool_new(base, "test", 1, 4);
	struct item items[64];
	int finished = 0, accepted = 0, i;

	(void)state;
	for (i = 0; i < 64; i++) {
		items[i].loop = pthread_self();
		items[i].finished = &finished;
		if (pool_submit(pool, work, done, &items[i]) == 0)
			accepted++;
	}
	assert_true(accepted < 64);
	assert_true(accepted >= 4);
	pool_free(pool);
	assert_int_equal(finished, accepted);
	event_base_free(base);
}

/*
 * Workers take the niceness asked for, an absolute value (whatever the
 * niceness the tests run at); the loop's thread keeps its own. Run at more
 * than 10 already, only privileges allow going back to 10.
 */
static void
test_nice(void **state)
{
	struct event_base *base = event_base_new();
	struct pool *pool = pool_new(base, "test", 2, 10);
	struct item it = { .loop = pthread_self() };
	int finished = 0, rounds = 0, before = getpriority(PRIO_PROCESS, 0);

	(void)state;
	it.finished = &finished;
	pool_set_nice(pool, 10);
	assert_int_equal(pool_submit(pool, work, done, &it), 0);
	while (finished < 1 && rounds++ < 10000)
		event_base_loop(base, EVLOOP_ONCE);
	if (before <= 10)
		assert_int_equal(it.nice, 10);
	else
		assert_true(it.nice == 10 || it.nice == before);
	assert_int_equal(getpriority(PRIO_PROCESS, 0), before);
	pool_free(pool);
	event_base_free(base);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_roundtrip),
		cmocka_unit_test(test_bounded_and_free),
		cmocka_unit_test(test_nice),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
