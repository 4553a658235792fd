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
#include "syncgroup.h"
#include "testfs.h"
#include "testsrv.h"

/*
 * A scratch data directory root/ holding the Maildir root/box, and their
 * descriptors: the store's calls work relative to them.
 */
struct fixture {
	char root[256];
	char dir[300]; /* root/box, for the checks made by path */
	int rootfd;
	int md;
};

static int
setup(void **state)
{
	struct fixture *t = calloc(1, sizeof(*t));

	if (t == NULL ||
	    testsrv_scratch(t->root, sizeof(t->root), "maildir") == -1) {
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
		                     &b[i]),
		    0);
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

/* The stored bytes of DIR/sub/name, and its stat, or NULL. */
static char *
slurp(const char *dir, const char *sub, const char *name, struct stat *st)
{
	char path[4400];

	snprintf(path, sizeof(path), "%s/%s/%s", dir, sub, name);
	if (stat(path, st) == -1)
		return NULL;
	return testsrv_read_file(path);
}

/*
 * Three recipients, one write: each has the whole message in new/, all
 * three names are links to one inode, and no tmp/ keeps anything.
 */
static void
test_deliver_many(void **state)
{
	struct fixture *t = *state;
	static const char *const boxes[] = { "box", "b2", "b3" };
	const char *msg = "Subject: many\n\nfor three\n";
	struct maildir_rcpt r[3];
	char dir[400], *got;
	struct stat st;
	ino_t ino = 0;
	int i;

	for (i = 0; i < 3; i++) {
		assert_int_equal(maildir_create(t->rootfd, boxes[i]), 0);
		assert_true((r[i].md = maildir_open(t->rootfd, boxes[i])) >= 0);
	}
	assert_int_equal(maildir_deliver_many(msg, strlen(msg), r, 3), 3);
	for (i = 0; i < 3; i++) {
		assert_int_equal(r[i].error, 0);
		snprintf(dir, sizeof(dir), "%s/%s", t->root, boxes[i]);
		assert_int_equal(testfs_count("%s/new", dir), 1);
		assert_int_equal(testfs_count("%s/tmp", dir), 0);
		assert_non_null(got = slurp(dir, "new", r[i].name, &st));
		assert_string_equal(got, msg);
		free(got);
		assert_int_equal(st.st_nlink, 3);
		if (i == 0)
			ino = st.st_ino;
		assert_true(st.st_ino == ino);
		close(r[i].md);
	}
}

/*
 * One recipient's Maildir is broken (no tmp/, or no new/): that one is
 * refused and keeps nothing, the others get the message. The same Maildir
 * twice gets two copies.
 */
static void
test_deliver_many_partial(void **state)
{
	struct fixture *t = *state;
	struct maildir_rcpt r[4];
	char dir[400], path[500];
	int i;

	assert_int_equal(maildir_create(t->rootfd, "notmp"), 0);
	assert_int_equal(maildir_create(t->rootfd, "nonew"), 0);
	snprintf(path, sizeof(path), "%s/notmp/tmp", t->root);
	assert_int_equal(rmdir(path), 0);
	snprintf(path, sizeof(path), "%s/nonew/new", t->root);
	assert_int_equal(rmdir(path), 0);
	/* The broken one first: the write goes to the next that works. */
	assert_true((r[0].md = maildir_open(t->rootfd, "notmp")) >= 0);
	assert_true((r[1].md = maildir_open(t->rootfd, "nonew")) >= 0);
	r[2].md = t->md;
	r[3].md = t->md;
	assert_int_equal(maildir_deliver_many("x\n", 2, r, 4), 2);
	assert_int_equal(r[0].error, ENOENT);
	assert_string_equal(r[0].step, "create");
	assert_int_equal(r[1].error, ENOENT);
	assert_string_equal(r[1].step, "rename");
	assert_int_equal(r[2].error, 0);
	assert_int_equal(r[3].error, 0);
	assert_string_not_equal(r[2].name, r[3].name);
	assert_int_equal(testfs_count("%s/new", t->dir), 2);
	assert_int_equal(testfs_count("%s/tmp", t->dir), 0);
	snprintf(dir, sizeof(dir), "%s/nonew", t->root);
	assert_int_equal(testfs_count("%s/tmp", dir), 0);
	/* Nobody reachable: nothing stored, each told why. */
	assert_int_equal(maildir_deliver_many("x\n", 2, r, 1), 0);
	assert_int_equal(r[0].error, ENOENT);
	for (i = 0; i < 2; i++)
		close(r[i].md);
}

/*
 * A recipient on another filesystem cannot get a link (EXDEV): it gets a
 * copy written the same durable way, and the others still share one inode.
 * Skipped where no second filesystem (/dev/shm) is at hand.
 */
static void
test_deliver_many_other_fs(void **state)
{
	struct fixture *t = *state;
	char shm[] = "/dev/shm/glomail-md.XXXXXX", path[600], *got;
	struct maildir_rcpt r[3];
	struct stat a, b, c;
	int shmfd;

	if (mkdtemp(shm) == NULL) {
		skip();
		return;
	}
	assert_true((shmfd = open(shm, O_RDONLY | O_DIRECTORY)) >= 0);
	assert_int_equal(fstat(shmfd, &a), 0);
	assert_int_equal(fstat(t->rootfd, &b), 0);
	if (a.st_dev == b.st_dev) {
		close(shmfd);
		testsrv_remove_tree(shm);
		skip();
		return;
	}
	assert_int_equal(maildir_create(t->rootfd, "b2"), 0);
	assert_int_equal(maildir_create(shmfd, "far"), 0);
	r[0].md = t->md;
	assert_true((r[1].md = maildir_open(shmfd, "far")) >= 0);
	assert_true((r[2].md = maildir_open(t->rootfd, "b2")) >= 0);
	assert_int_equal(maildir_deliver_many("far away\n", 9, r, 3), 3);
	snprintf(path, sizeof(path), "%s/far", shm);
	assert_non_null(got = slurp(path, "new", r[1].name, &a));
	assert_string_equal(got, "far away\n");
	free(got);
	assert_int_equal(a.st_nlink, 1);
	assert_int_equal(testfs_count("%s/tmp", path), 0);
	assert_non_null(got = slurp(t->dir, "new", r[0].name, &b));
	free(got);
	snprintf(path, sizeof(path), "%s/b2", t->root);
	assert_non_null(got = slurp(path, "new", r[2].name, &c));
	free(got);
	assert_true(b.st_ino == c.st_ino);
	assert_int_equal(b.st_nlink, 2);
	close(r[1].md);
	close(r[2].md);
	close(shmfd);
	testsrv_remove_tree(shm);
}

struct group_arg {
	int md;
	int n;
	int failures;
};

static void *
group_thread(void *arg)
{
	struct group_arg *g = arg;
	char name[MAILDIR_NAME_MAX];
	const char *step;
	int i;

	for (i = 0; i < g->n; i++)
		if (maildir_deliver(g->md, "m\n", 2, name, &step) != 0)
			g->failures++;
	return NULL;
}

/*
 * One writer: one fsync of new/ per delivery. Eight writers into the same
 * Maildir: every delivery succeeds and is there, with fewer fsyncs of new/
 * than deliveries, since those that meet share one.
 */
static void
test_sync_group(void **state)
{
	struct fixture *fx = *state;
	struct syncgroup_stats a, b;
	struct group_arg g[8];
	pthread_t t[8];
	int i;

	syncgroup_stats(&a);
	g[0] = (struct group_arg){ fx->md, 20, 0 };
	group_thread(&g[0]);
	assert_int_equal(g[0].failures, 0);
	syncgroup_stats(&b);
	assert_int_equal(b.calls - a.calls, 20);
	assert_int_equal(b.fsyncs - a.fsyncs, 20);
	for (i = 0; i < 8; i++) {
		g[i] = (struct group_arg){ fx->md, 50, 0 };
		assert_int_equal(pthread_create(&t[i], NULL, group_thread,
		                     &g[i]),
		    0);
	}
	for (i = 0; i < 8; i++) {
		pthread_join(t[i], NULL);
		assert_int_equal(g[i].failures, 0);
	}
	syncgroup_stats(&a);
	assert_int_equal(a.calls - b.calls, 400);
	assert_true(a.fsyncs - b.fsyncs < 400);
	assert_int_equal(a.failures, 0);
	assert_int_equal(testfs_count("%s/new", fx->dir), 420);
	print_message("8 writers: %llu fsyncs of new/ for 400 deliveries\n",
	    (unsigned long long)(a.fsyncs - b.fsyncs));
}

/*
 * Several directories at once: each durable, a directory listed twice
 * synced once, and one fsync per distinct directory when nobody else
 * syncs them.
 */
static void
test_sync_group_many(void **state)
{
	struct fixture *t = *state;
	struct syncgroup_stats a, b;
	int fds[4], err[4], i;

	assert_int_equal(maildir_create(t->rootfd, "b2"), 0);
	assert_int_equal(maildir_create(t->rootfd, "b3"), 0);
	assert_true((fds[0] = openat(t->md, "new", O_RDONLY)) >= 0);
	assert_true((fds[1] = openat(t->rootfd, "b2/new", O_RDONLY)) >= 0);
	assert_true((fds[2] = openat(t->rootfd, "b3/new", O_RDONLY)) >= 0);
	assert_true((fds[3] = openat(t->md, "new", O_RDONLY)) >= 0);
	syncgroup_stats(&a);
	syncgroup_fsync_many(fds, 4, err);
	syncgroup_stats(&b);
	for (i = 0; i < 4; i++) {
		assert_int_equal(err[i], 0);
		close(fds[i]);
	}
	assert_int_equal(b.calls - a.calls, 4);
	assert_int_equal(b.fsyncs - a.fsyncs, 3);
	/* A descriptor that is not open: its errno, the others unharmed. */
	assert_true((fds[0] = openat(t->md, "new", O_RDONLY)) >= 0);
	fds[1] = 1000;
	syncgroup_fsync_many(fds, 2, err);
	assert_int_equal(err[0], 0);
	assert_int_equal(err[1], EBADF);
	close(fds[0]);
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
		cmocka_unit_test_setup_teardown(test_deliver_many, setup,
		    teardown),
		cmocka_unit_test_setup_teardown(test_deliver_many_partial,
		    setup, teardown),
		cmocka_unit_test_setup_teardown(test_deliver_many_other_fs,
		    setup, teardown),
		cmocka_unit_test_setup_teardown(test_sync_group, setup,
		    teardown),
		cmocka_unit_test_setup_teardown(test_sync_group_many, setup,
		    teardown),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
