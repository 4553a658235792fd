/*
 * test_maildir.c - durable delivery, listing, reading and flags on a
 * scratch directory.
 */
#include <sys/stat.h>

#include <errno.h>
#include <pthread.h>
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <cmocka.h>

#include "maildir.h"
#include "testfs.h"
#include "testsrv.h"

static int
setup(void **state)
{
	if (testfs_scratch_setup(state) == -1)
		return -1;
	maildir_init();
	return 0;
}

static int
teardown(void **state)
{
	return testfs_scratch_teardown(state);
}

/* A delivery lands in new/ only, whole, and leaves tmp/ empty. */
static void
test_deliver(void **state)
{
	const char *dir = *state;
	char name[MAILDIR_NAME_MAX], path[4200], buf[64];
	const char *step = NULL;
	FILE *f;

	assert_int_equal(maildir_create(dir), 0);
	assert_int_equal(maildir_deliver(dir, "hello\n", 6, name, &step), 0);
	assert_int_equal(testfs_count("%s/new", dir), 1);
	assert_int_equal(testfs_count("%s/tmp", dir), 0);
	assert_int_equal(testfs_count("%s/cur", dir), 0);
	snprintf(path, sizeof(path), "%s/new/%s", dir, name);
	f = fopen(path, "r");
	assert_non_null(f);
	assert_non_null(fgets(buf, sizeof(buf), f));
	fclose(f);
	assert_string_equal(buf, "hello\n");
	/* Names never carry '/' and have the Maildir shape. */
	assert_null(strchr(name, '/'));
	assert_non_null(strstr(name, ".M"));
}

/* A failed delivery leaves nothing behind, in tmp/ or new/. */
static void
test_deliver_failure(void **state)
{
	const char *dir = *state;
	char name[MAILDIR_NAME_MAX], path[4200];
	const char *step = NULL;

	assert_int_equal(maildir_create(dir), 0);
	/* new/ missing: the rename fails after the tmp file was written. */
	snprintf(path, sizeof(path), "%s/new", dir);
	assert_int_equal(rmdir(path), 0);
	assert_int_equal(maildir_deliver(dir, "x", 1, name, &step), -1);
	assert_string_equal(step, "rename");
	assert_int_equal(testfs_count("%s/tmp", dir), 0);
	/* tmp/ missing: the create fails. */
	snprintf(path, sizeof(path), "%s/tmp", dir);
	assert_int_equal(rmdir(path), 0);
	assert_int_equal(maildir_deliver(dir, "x", 1, name, &step), -1);
	assert_string_equal(step, "create");
}

struct burst {
	const char *dir;
	int failures;
};

static void *
burst_thread(void *arg)
{
	struct burst *b = arg;
	char name[MAILDIR_NAME_MAX];
	const char *step;
	int i;

	for (i = 0; i < 100; i++)
		if (maildir_deliver(b->dir, "m", 1, name, &step) != 0)
			b->failures++;
	return NULL;
}

/* Names stay unique under a burst from several threads. */
static void
test_unique_burst(void **state)
{
	struct burst b[4];
	pthread_t t[4];
	int i;

	assert_int_equal(maildir_create(*state), 0);
	for (i = 0; i < 4; i++) {
		b[i].dir = *state;
		b[i].failures = 0;
		assert_int_equal(pthread_create(&t[i], NULL, burst_thread,
		    &b[i]), 0);
	}
	for (i = 0; i < 4; i++) {
		pthread_join(t[i], NULL);
		assert_int_equal(b[i].failures, 0);
	}
	assert_int_equal(testfs_count("%s/new", (const char *)*state), 400);
}

static void
test_list_read_seen(void **state)
{
	const char *dir = *state;
	char name[MAILDIR_NAME_MAX];
	struct maildir_file *files = NULL, f;
	const char *step;
	size_t n = 0, len = 0;
	char *buf;

	assert_int_equal(maildir_create(dir), 0);
	assert_int_equal(maildir_deliver(dir, "one", 3, name, &step), 0);
	assert_int_equal(maildir_deliver(dir, "two!", 4, name, &step), 0);
	assert_int_equal(maildir_list(dir, &files, &n), 0);
	assert_int_equal(n, 2);
	f = strcmp(files[0].name, name) == 0 ? files[0] : files[1];
	free(files);
	assert_int_equal(f.size, 4);
	assert_int_equal(f.in_cur, 0);
	buf = maildir_read(dir, &f, 0, &len);
	assert_non_null(buf);
	assert_int_equal(len, 4);
	assert_string_equal(buf, "two!");
	free(buf);
	/* Seen: moved to cur/ with the S flag. */
	assert_int_equal(maildir_mark_seen(dir, &f), 0);
	assert_int_equal(f.in_cur, 1);
	assert_non_null(strstr(f.name, ":2,S"));
	assert_int_equal(testfs_count("%s/new", dir), 1);
	assert_int_equal(testfs_count("%s/cur", dir), 1);
	/* Marking again is a no-op; reading by the old place still works. */
	assert_int_equal(maildir_mark_seen(dir, &f), 0);
	f.in_cur = 0;
	snprintf(f.name, sizeof(f.name), "%s", name);
	buf = maildir_read(dir, &f, 2, &len);
	assert_non_null(buf);
	assert_int_equal(len, 2);
	assert_int_equal(f.in_cur, 1);
	free(buf);
}

/* Flags other readers set are kept, in ASCII order, with S added. */
static void
test_seen_keeps_flags(void **state)
{
	const char *dir = *state;
	char path[4200];
	struct maildir_file f;
	FILE *fp;

	assert_int_equal(maildir_create(dir), 0);
	snprintf(path, sizeof(path), "%s/cur/123.M1P2Q3.host:2,FT", dir);
	fp = fopen(path, "w");
	assert_non_null(fp);
	fputs("x", fp);
	fclose(fp);
	memset(&f, 0, sizeof(f));
	snprintf(f.name, sizeof(f.name), "123.M1P2Q3.host:2,FT");
	f.in_cur = 1;
	assert_int_equal(maildir_mark_seen(dir, &f), 0);
	assert_string_equal(f.name, "123.M1P2Q3.host:2,FST");
}

static void
test_order_and_clean(void **state)
{
	const char *dir = *state;
	uint64_t o[3];
	char path[4200];
	FILE *fp;

	maildir_order("1700000000.M123456P42Q7.host", o);
	assert_int_equal(o[0], 1700000000);
	assert_int_equal(o[1], 123456);
	assert_int_equal(o[2], 7);
	maildir_order("1700000000.foreign", o);
	assert_int_equal(o[0], 1700000000);
	assert_int_equal(o[1], 0);
	assert_int_equal(maildir_create(dir), 0);
	snprintf(path, sizeof(path), "%s/tmp/leftover", dir);
	fp = fopen(path, "w");
	assert_non_null(fp);
	fclose(fp);
	assert_int_equal(maildir_clean_tmp(dir), 1);
	assert_int_equal(testfs_count("%s/tmp", dir), 0);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(test_deliver, setup, teardown),
		cmocka_unit_test_setup_teardown(test_deliver_failure, setup,
		    teardown),
		cmocka_unit_test_setup_teardown(test_unique_burst, setup,
		    teardown),
		cmocka_unit_test_setup_teardown(test_list_read_seen, setup,
		    teardown),
		cmocka_unit_test_setup_teardown(test_seen_keeps_flags, setup,
		    teardown),
		cmocka_unit_test_setup_teardown(test_order_and_clean, setup,
		    teardown),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
