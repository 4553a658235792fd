/*
 * test_maildir.c - durable delivery, listing, reading and flags on a
 * scratch directory, and links the store did not make never followed.
 */
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
#include <unistd.h>

#include <cmocka.h>

#include "maildir.h"
#include "testfs.h"
#include "testsrv.h"

/*
 * A scratch data directory root/ holding the Maildir root/box, and their
 * descriptors: the store's calls work relative to them.
 */
struct fixture {
	char root[256];
	char dir[300];   /* root/box, for the checks made by path */
	int rootfd;
	int md;
};

static int
setup(void **state)
{
	struct fixture *t = calloc(1, sizeof(*t));

	if (t == NULL || testsrv_scratch(t->root, sizeof(t->root),
	    "maildir") == -1) {
		free(t);
		return -1;
	}
	snprintf(t->dir, sizeof(t->dir), "%s/box", t->root);
	maildir_init();
	if ((t->rootfd = open(t->root, O_RDONLY | O_DIRECTORY)) == -1 ||
	    maildir_create(t->rootfd, "box") == -1 ||
	    (t->md = maildir_open(t->rootfd, "box")) == -1) {
		testsrv_remove_tree(t->root);
		free(t);
		return -1;
	}
	*state = t;
	return 0;
}

static int
teardown(void **state)
{
	struct fixture *t = *state;

	close(t->md);
	close(t->rootfd);
	testsrv_remove_tree(t->root);
	free(t);
	return 0;
}

/* A delivery lands in new/ only, whole, and leaves tmp/ empty. */
static void
test_deliver(void **state)
{
	struct fixture *t = *state;
	const char *dir = t->dir;
	char name[MAILDIR_NAME_MAX], path[4200], buf[64];
	const char *step = NULL;
	FILE *f;

	assert_int_equal(maildir_create(t->rootfd, "box"), 0);
	assert_int_equal(maildir_deliver(t->md, "hello\n", 6, name, &step), 0);
	/* The step a delivery ends with, on its own: new/ to disk. */
	assert_int_equal(maildir_sync_new(t->md), 0);
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
	struct fixture *t = *state;
	const char *dir = t->dir;
	char name[MAILDIR_NAME_MAX], path[4200];
	const char *step = NULL;

	assert_int_equal(maildir_create(t->rootfd, "box"), 0);
	/* new/ missing: the rename fails after the tmp file was written. */
	snprintf(path, sizeof(path), "%s/new", dir);
	assert_int_equal(rmdir(path), 0);
	assert_int_equal(maildir_deliver(t->md, "x", 1, name, &step), -1);
	assert_string_equal(step, "rename");
	assert_int_equal(testfs_count("%s/tmp", dir), 0);
	/* tmp/ missing: the create fails. */
	snprintf(path, sizeof(path), "%s/tmp", dir);
	assert_int_equal(rmdir(path), 0);
	assert_int_equal(maildir_deliver(t->md, "x", 1, name, &step), -1);
	assert_string_equal(step, "create");
}

struct burst {
	int md;
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
		if (maildir_deliver(b->md, "m", 1, name, &step) != 0)
			b->failures++;
	return NULL;
}

/* Names stay unique under a burst from several threads. */
static void
test_unique_burst(void **state)
{
	struct fixture *fx = *state;
	struct burst b[4];
	pthread_t t[4];
	int i;

	assert_int_equal(maildir_create(fx->rootfd, "box"), 0);
	for (i = 0; i < 4; i++) {
		b[i].md = fx->md;
		b[i].failures = 0;
		assert_int_equal(pthread_create(&t[i], NULL, burst_thread,
		    &b[i]), 0);
	}
	for (i = 0; i < 4; i++) {
		pthread_join(t[i], NULL);
		assert_int_equal(b[i].failures, 0);
	}
	assert_int_equal(testfs_count("%s/new", fx->dir), 400);
}

static void
test_list_read_seen(void **state)
{
	struct fixture *t = *state;
	const char *dir = t->dir;
	char name[MAILDIR_NAME_MAX];
	struct maildir_file *files = NULL, f;
	const char *step;
	size_t n = 0, len = 0;
	char *buf;

	assert_int_equal(maildir_create(t->rootfd, "box"), 0);
	assert_int_equal(maildir_deliver(t->md, "one", 3, name, &step), 0);
	assert_int_equal(maildir_deliver(t->md, "two!", 4, name, &step), 0);
	assert_int_equal(maildir_list(t->md, &files, &n), 0);
	assert_int_equal(n, 2);
	f = strcmp(files[0].name, name) == 0 ? files[0] : files[1];
	free(files);
	assert_int_equal(f.size, 4);
	assert_int_equal(f.in_cur, 0);
	buf = maildir_read(t->md, &f, 0, &len);
	assert_non_null(buf);
	assert_int_equal(len, 4);
	assert_string_equal(buf, "two!");
	free(buf);
	/* Seen: moved to cur/ with the S flag. */
	assert_int_equal(maildir_mark_seen(t->md, &f), 0);
	assert_int_equal(f.in_cur, 1);
	assert_non_null(strstr(f.name, ":2,S"));
	assert_int_equal(testfs_count("%s/new", dir), 1);
	assert_int_equal(testfs_count("%s/cur", dir), 1);
	/* Marking again is a no-op; reading by the old place still works. */
	assert_int_equal(maildir_mark_seen(t->md, &f), 0);
	f.in_cur = 0;
	snprintf(f.name, sizeof(f.name), "%s", name);
	buf = maildir_read(t->md, &f, 2, &len);
	assert_non_null(buf);
	assert_int_equal(len, 2);
	assert_int_equal(f.in_cur, 1);
	free(buf);
}

/* Flags other readers set are kept, in ASCII order, with S added. */
static void
test_seen_keeps_flags(void **state)
{
	struct fixture *t = *state;
	const char *dir = t->dir;
	char path[4200];
	struct maildir_file f;
	FILE *fp;

	assert_int_equal(maildir_create(t->rootfd, "box"), 0);
	snprintf(path, sizeof(path), "%s/cur/123.M1P2Q3.host:2,FT", dir);
	fp = fopen(path, "w");
	assert_non_null(fp);
	fputs("x", fp);
	fclose(fp);
	memset(&f, 0, sizeof(f));
	snprintf(f.name, sizeof(f.name), "123.M1P2Q3.host:2,FT");
	f.in_cur = 1;
	assert_int_equal(maildir_mark_seen(t->md, &f), 0);
	assert_string_equal(f.name, "123.M1P2Q3.host:2,FST");
}

static void
test_order_and_clean(void **state)
{
	struct fixture *t = *state;
	const char *dir = t->dir;
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
	assert_int_equal(maildir_create(t->rootfd, "box"), 0);
	snprintf(path, sizeof(path), "%s/tmp/leftover", dir);
	fp = fopen(path, "w");
	assert_non_null(fp);
	fclose(fp);
	assert_int_equal(maildir_clean_tmp(t->md), 1);
	assert_int_equal(testfs_count("%s/tmp", dir), 0);
}

/* Write a small file at a path; a test helper. */
static void
put_file(const char *path, const char *text)
{
	FILE *fp = fopen(path, "w");

	assert_non_null(fp);
	fputs(text, fp);
	assert_int_equal(fclose(fp), 0);
}

/*
 * Links the store did not make are never followed: not an account's
 * directory, not tmp/, new/ or cur/, not a message file. What they point
 * to is neither read, nor written, nor removed.
 */
static void
test_links_not_followed(void **state)
{
	struct fixture *t = *state;
	char victim[400], path[600], other[600], name[MAILDIR_NAME_MAX];
	struct maildir_file *files = NULL, f;
	const char *step = NULL;
	size_t n = 9, len;
	int md;

	snprintf(victim, sizeof(victim), "%s/victim", t->root);
	assert_int_equal(mkdir(victim, 0700), 0);
	snprintf(path, sizeof(path), "%s/precious", victim);
	put_file(path, "keep me");

	/* An account directory that is a link: no Maildir, and ELOOP. */
	snprintf(path, sizeof(path), "%s/eve", t->root);
	assert_int_equal(symlink("box", path), 0);
	assert_int_equal(maildir_open(t->rootfd, "eve"), -1);
	assert_int_equal(errno, ELOOP);
	assert_int_equal(maildir_create(t->rootfd, "eve"), -1);
	assert_int_equal(errno, ELOOP);

	/* A message file that is a link to a file outside: not listed, not
	 * read, even by its name. */
	snprintf(path, sizeof(path), "%s/new/1.M1P1Q1.host", t->dir);
	snprintf(other, sizeof(other), "%s/precious", victim);
	assert_int_equal(symlink(other, path), 0);
	assert_int_equal(maildir_list(t->md, &files, &n), 0);
	assert_int_equal(n, 0);
	free(files);
	memset(&f, 0, sizeof(f));
	snprintf(f.name, sizeof(f.name), "1.M1P1Q1.host");
	assert_null(maildir_read(t->md, &f, 0, &len));
	assert_int_equal(errno, ELOOP);

	/* tmp/ a link to another directory: start-up cleaning removes nothing
	 * there, and delivery does not write there. */
	snprintf(path, sizeof(path), "%s/tmp", t->dir);
	assert_int_equal(rmdir(path), 0);
	assert_int_equal(symlink(victim, path), 0);
	assert_int_equal(maildir_clean_tmp(t->md), -1);
	assert_int_equal(errno, ELOOP);
	assert_int_equal(maildir_deliver(t->md, "x", 1, name, &step), -1);
	assert_string_equal(step, "create");
	assert_int_equal(testfs_count("%s", victim), 1);
	assert_int_equal(maildir_create(t->rootfd, "box"), -1);

	/* new/ and cur/ links: skipped by the listing, refused for delivery
	 * and for the seen flag. */
	assert_int_equal(unlink(path), 0);
	assert_int_equal(mkdir(path, 0700), 0);
	snprintf(path, sizeof(path), "%s/cur", t->dir);
	assert_int_equal(rmdir(path), 0);
	assert_int_equal(symlink(victim, path), 0);
	assert_int_equal(maildir_deliver(t->md, "y", 1, name, &step), 0);
	assert_int_equal(maildir_list(t->md, &files, &n), 0);
	assert_int_equal(n, 1);
	f = files[0];
	free(files);
	assert_int_equal(maildir_mark_seen(t->md, &f), -1);
	assert_int_equal(errno, ELOOP);
	assert_int_equal(testfs_count("%s/new", t->dir), 2);
	snprintf(path, sizeof(path), "%s/new", t->dir);
	snprintf(other, sizeof(other), "%s/new.real", t->dir);
	assert_int_equal(rename(path, other), 0);
	assert_int_equal(symlink(victim, path), 0);
	assert_int_equal(maildir_list(t->md, &files, &n), 0);
	assert_int_equal(n, 0);
	free(files);
	assert_int_equal(maildir_deliver(t->md, "z", 1, name, &step), -1);
	assert_string_equal(step, "rename");
	assert_int_equal(testfs_count("%s", victim), 1);
	assert_int_equal(testfs_count("%s/tmp", t->dir), 0);

	/* Names are one component: no walking through other directories. */
	assert_int_equal(maildir_open(t->rootfd, "box/new"), -1);
	assert_int_equal(errno, EINVAL);
	assert_int_equal(maildir_open(t->rootfd, ".."), -1);
	assert_int_equal(errno, EINVAL);
	assert_int_equal(maildir_open(t->rootfd, ""), -1);
	assert_true((md = maildir_open(t->rootfd, "box")) >= 0);
	close(md);
	snprintf(path, sizeof(path), "%s/precious", victim);
	assert_int_equal(access(path, F_OK), 0);
}

/* Start-up cleaning removes leftovers, never what is not a file. */
static void
test_clean_leaves_links(void **state)
{
	struct fixture *t = *state;
	char path[600], target[600];

	snprintf(target, sizeof(target), "%s/outside", t->root);
	put_file(target, "outside");
	snprintf(path, sizeof(path), "%s/tmp/link", t->dir);
	assert_int_equal(symlink(target, path), 0);
	snprintf(path, sizeof(path), "%s/tmp/1.M1P1Q1.crashed", t->dir);
	put_file(path, "half");
	assert_int_equal(maildir_clean_tmp(t->md), 1);
	assert_int_equal(testfs_count("%s/tmp", t->dir), 1);
	assert_int_equal(access(target, F_OK), 0);
}

/* A FIFO where a message should be fails the read; it does not hang it. */
static void
test_read_not_a_file(void **state)
{
	struct fixture *t = *state;
	struct maildir_file f;
	char path[600];
	size_t len;

	snprintf(path, sizeof(path), "%s/cur/7.M1P1Q1.host:2,S", t->dir);
	assert_int_equal(mkfifo(path, 0600), 0);
	memset(&f, 0, sizeof(f));
	snprintf(f.name, sizeof(f.name), "7.M1P1Q1.host");
	assert_null(maildir_read(t->md, &f, 0, &len));
	assert_int_equal(errno, EINVAL);
}

/* A name longer than the system allows fails; nothing is truncated. */
static void
test_long_name(void **state)
{
	struct fixture *t = *state;
	char name[5000];

	memset(name, 'a', sizeof(name) - 1);
	name[sizeof(name) - 1] = '\0';
	assert_int_equal(maildir_create(t->rootfd, name), -1);
	assert_int_equal(errno, ENAMETOOLONG);
	name[255] = '\0';
	assert_int_equal(maildir_create(t->rootfd, name), 0);
	name[254] = '\0';
	assert_int_equal(maildir_open(t->rootfd, name), -1);
	assert_int_equal(errno, ENOENT);
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
		cmocka_unit_test_setup_teardown(test_links_not_followed, setup,
		    teardown),
		cmocka_unit_test_setup_teardown(test_clean_leaves_links, setup,
		    teardown),
		cmocka_unit_test_setup_teardown(test_read_not_a_file, setup,
		    teardown),
		cmocka_unit_test_setup_teardown(test_long_name, setup,
		    teardown),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
