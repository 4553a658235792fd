/*
 * test_cluster.c - the store's lock as several instances take it, and what
 * an instance joining others may clean, on a scratch directory.
 */
#include <sys/file.h>
#include <sys/stat.h>

#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <cmocka.h>

#include "cluster.h"
#include "testsrv.h"

static int
setup(void **state)
{
	char *dir = malloc(256);

	if (dir == NULL || testsrv_scratch(dir, 256, "cluster") == -1) {
		free(dir);
		return -1;
	}
	*state = dir;
	return 0;
}

static int
teardown(void **state)
{
	testsrv_remove_tree(*state);
	free(*state);
	return 0;
}

/* Each open is its own lock holder, as another process would be. */
static int
open_lock(const char *dir)
{
	char path[512];
	int fd;

	snprintf(path, sizeof(path), "%s/.glomaild.lock", dir);
	fd = open(path, O_RDWR | O_CREAT | O_CLOEXEC, 0600);
	assert_true(fd >= 0);
	return fd;
}

/* The first is alone, the next join; while one cleans, no other starts. */
static void
test_lock(void **state)
{
	int a = open_lock(*state), b = open_lock(*state), c;
	int alone = -1;

	assert_int_equal(cluster_lock(a, &alone), 0);
	assert_int_equal(alone, 1);
	/* Alone and cleaning: exclusive, so nobody may even share it. */
	assert_int_equal(flock(b, LOCK_SH | LOCK_NB), -1);
	assert_int_equal(cluster_share(a), 0);
	assert_int_equal(cluster_lock(b, &alone), 0);
	assert_int_equal(alone, 0);
	/* The first leaves: the second still holds it, so a third joins. */
	close(a);
	c = open_lock(*state);
	assert_int_equal(cluster_lock(c, &alone), 0);
	assert_int_equal(alone, 0);
	close(b);
	close(c);
	/* Nobody left: the next one is alone again. */
	a = open_lock(*state);
	assert_int_equal(cluster_lock(a, &alone), 0);
	assert_int_equal(alone, 1);
	close(a);
}

struct joiner {
	int fd;
	int alone;
	int done;
};

static void *
join(void *arg)
{
	struct joiner *j = arg;

	if (cluster_lock(j->fd, &j->alone) == 0)
		__atomic_store_n(&j->done, 1, __ATOMIC_SEQ_CST);
	return NULL;
}

/* A newcomer waits for the one cleaning up, then joins. */
static void
test_join_waits(void **state)
{
	struct joiner j = { open_lock(*state), -1, 0 };
	int a = open_lock(*state), alone;
	pthread_t t;

	assert_int_equal(cluster_lock(a, &alone), 0);
	assert_int_equal(alone, 1);
	assert_int_equal(pthread_create(&t, NULL, join, &j), 0);
	usleep(200 * 1000);
	assert_int_equal(__atomic_load_n(&j.done, __ATOMIC_SEQ_CST), 0);
	assert_int_equal(cluster_share(a), 0);
	assert_int_equal(pthread_join(t, NULL), 0);
	assert_int_equal(j.done, 1);
	assert_int_equal(j.alone, 0);
	close(a);
	close(j.fd);
}

static void
put(const char *dir, const char *name, time_t when)
{
	char path[512];
	struct timespec ts[2];
	int fd;

	snprintf(path, sizeof(path), "%s/%s", dir, name);
	fd = open(path, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0600);
	assert_true(fd >= 0);
	assert_int_equal(write(fd, "half", 4), 4);
	ts[0].tv_sec = ts[1].tv_sec = when;
	ts[0].tv_nsec = ts[1].tv_nsec = 0;
	assert_int_equal(futimens(fd, ts), 0);
	close(fd);
}

/* Only what is older than any work in flight goes. */
static void
test_clean_stale(void **state)
{
	char md[300], tmp[320], path[400];
	time_t now = time(NULL);
	struct stat st;
	int fd;

	snprintf(md, sizeof(md), "%s/user", (char *)*state);
	snprintf(tmp, sizeof(tmp), "%s/tmp", md);
	assert_int_equal(mkdir(md, 0700), 0);
	assert_int_equal(mkdir(tmp, 0700), 0);
	put(tmp, "old", now - CLUSTER_STALE_SECONDS - 60);
	put(tmp, "edge", now - CLUSTER_STALE_SECONDS + 60);
	put(tmp, "fresh", now);
	fd = open(md, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	assert_true(fd >= 0);
	assert_int_equal(cluster_stale(fd, "tmp", now), 0);
	assert_int_equal(cluster_clean_tmp(fd, now), 1);
	snprintf(path, sizeof(path), "%s/old", tmp);
	assert_int_equal(stat(path, &st), -1);
	snprintf(path, sizeof(path), "%s/edge", tmp);
	assert_int_equal(stat(path, &st), 0);
	snprintf(path, sizeof(path), "%s/fresh", tmp);
	assert_int_equal(stat(path, &st), 0);
	/* Much later, everything is stale. */
	assert_int_equal(cluster_clean_tmp(fd, now + 2 * CLUSTER_STALE_SECONDS),
	    2);
	/* No tmp/ at all is nothing to clean; a link is not followed. */
	assert_int_equal(rmdir(tmp), 0);
	assert_int_equal(cluster_clean_tmp(fd, now), 0);
	assert_int_equal(symlink("/tmp", tmp), 0);
	assert_int_equal(cluster_clean_tmp(fd, now), -1);
	close(fd);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(test_lock, setup, teardown),
		cmocka_unit_test_setup_teardown(test_join_waits, setup,
		    teardown),
		cmocka_unit_test_setup_teardown(test_clean_stale, setup,
		    teardown),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
