/*
 * test_mailbox.c - the in-memory index: order, stats, views, one entry per
 * file whoever finds it, scans of a real Maildir changed behind its back,
 * the registry's reference counting.
 */
#include <sys/stat.h>

#include <fcntl.h>

#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <cmocka.h>

#include "mailbox.h"
#include "testsrv.h"

static void
add_as(struct mailbox *mb, int scanned, const char *name, time_t when,
    off_t size, const char *subject)
{
	char from[] = "a@glo2000.ca", to[] = "b@glo2000.ca", date[] = "D";
	char subj[128];
	struct maildir_file f;
	struct message_info info = { from, to, subj, date, when, NULL, NULL };

	snprintf(subj, sizeof(subj), "%s", subject);

	memset(&f, 0, sizeof(f));
	snprintf(f.name, sizeof(f.name), "%s", name);
	f.size = size;
	maildir_order(name, f.order);
	(void)scanned;
	assert_int_equal(mailbox_add(mb, &f, &info), 0);
}

static void
add(struct mailbox *mb, const char *name, time_t when, off_t size,
    const char *subject)
{
	add_as(mb, 0, name, when, size, subject);
}

static void
test_order_and_stats(void **state)
{
	struct mailboxes *all = mailboxes_new();
	struct mailbox *mb = mailbox_acquire(all, "bob");
	struct mailbox_view *v;

	(void)state;
	add(mb, "100.M1P1Q1.h", 100, 10, "old");
	add(mb, "300.M1P1Q2.h", 300, 20, "newest");
	add(mb, "200.M5P1Q3.h", 200, 30, "middle-late");
	add(mb, "200.M4P1Q4.h", 200, 40, "middle-early");
	assert_int_equal(mailbox_count(mb), 4);
	assert_int_equal(mailbox_size(mb), 100);
	v = mailbox_view(mb);
	assert_int_equal(v->n, 4);
	/* Newest first; same date: later delivery first. */
	assert_non_null(strstr(v->entry[0]->line, "newest"));
	assert_non_null(strstr(v->entry[1]->line, "middle-late"));
	assert_non_null(strstr(v->entry[2]->line, "middle-early"));
	assert_non_null(strstr(v->entry[3]->line, "old"));
	assert_string_equal(v->entry[3]->line, "a@glo2000.ca - old D");
	/* A view survives changes: it is what the client saw. */
	add(mb, "400.M1P1Q5.h", 400, 1, "later");
	assert_int_equal(v->n, 4);
	mailbox_view_release(v);
	v = mailbox_view(mb);
	assert_int_equal(v->n, 5);
	mailbox_view_release(v);
	mailbox_release(mb);
	mailboxes_free(all);
}

/* A file is indexed once, whatever its flags and whoever adds it. */
static void
test_one_entry_per_file(void **state)
{
	struct mailboxes *all = mailboxes_new();
	struct mailbox *mb = mailbox_acquire(all, "carl");
	uint64_t gen;

	(void)state;
	add(mb, "100.M1P1Q1.h", 100, 10, "delivered");
	gen = mailbox_generation(mb);
	add(mb, "100.M1P1Q1.h:2,S", 100, 10, "twin");
	assert_int_equal(mailbox_generation(mb), gen);
	add(mb, "90.M1P1Q1.h:2,S", 90, 5, "other");
	assert_int_equal(mailbox_count(mb), 2);
	assert_int_equal(mailbox_size(mb), 15);
	assert_true(mailbox_generation(mb) != gen);
	mailbox_release(mb);
	mailboxes_free(all);
}

/* A scratch Maildir. */
static void
maildir_at(char *dir, size_t len)
{
	char path[512];

	assert_int_equal(testsrv_scratch(dir, len, "mailbox"), 0);
	snprintf(path, sizeof(path), "%s/new", dir);
	assert_int_equal(mkdir(path, 0700), 0);
	snprintf(path, sizeof(path), "%s/cur", dir);
	assert_int_equal(mkdir(path, 0700), 0);
}

static void
put_file(const char *dir, const char *sub, const char *name, const char *data,
    size_t len)
{
	char path[512];
	FILE *f;

	snprintf(path, sizeof(path), "%s/%s/%s", dir, sub, name);
	assert_non_null(f = fopen(path, "w"));
	assert_int_equal(fwrite(data, 1, len, f), len);
	assert_int_equal(fclose(f), 0);
}

/* The Maildir's descriptor, as the server opens it. */
static int
md_open(const char *dir)
{
	int md = open(dir, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);

	assert_true(md >= 0);
	return md;
}

static void
scan(struct mailbox *mb, const char *dir)
{
	struct mailbox_scan *sc = mailbox_scan_begin(mb);
	int md = md_open(dir);

	assert_non_null(sc);
	assert_int_equal(mailbox_scan_run(sc, md), 0);
	assert_int_equal(mailbox_scan_apply(mb, sc), 0);
	mailbox_scan_free(sc);
	close(md);
}

static int
stamp(const char *dir, struct mailbox_stamp *st)
{
	int md = md_open(dir), rc = mailbox_stamp_take(md, st);

	close(md);
	return rc;
}

static int
stale(struct mailbox *mb, const char *dir)
{
	int md = md_open(dir), rc = mailbox_stale(mb, md);

	close(md);
	return rc;
}

/* Wait until the directories' last change is old enough to be trusted. */
static void
settle(struct mailbox *mb, const char *dir)
{
	int i;

	for (i = 0; i < 400 && stale(mb, dir); i++) {
		usleep(10000);
		scan(mb, dir);
	}
	assert_false(stale(mb, dir));
}

static const char msg1[] = "From: a@x\nTo: b@x\nSubject: one\n"
                           "Date: Mon, 01 Jan 2001 00:00:01 +0000\n\nbody\n";
static const char msg2[] = "From: c@x\nTo: b@x\nSubject: two\n"
                           "Date: Mon, 01 Jan 2001 00:00:02 +0000\n\nbody\n";

/*
 * Another program adds, moves and removes files: the index notices before
 * answering, drops what vanished (a view holding it keeps it alive) and
 * reads only what it did not know.
 */
static void
test_scan_follows_the_store(void **state)
{
	struct mailboxes *all = mailboxes_new();
	struct mailbox *mb = mailbox_acquire(all, "dora");
	struct mailbox_view *v;
	char dir[256], from[512], to[512];

	(void)state;
	maildir_at(dir, sizeof(dir));
	assert_false(mailbox_loaded(mb));
	assert_true(stale(mb, dir));
	put_file(dir, "new", "1.M1P1Q1.h", msg1, sizeof(msg1) - 1);
	put_file(dir, "cur", "2.M1P1Q1.h:2,S", msg2, sizeof(msg2) - 1);
	scan(mb, dir);
	assert_true(mailbox_loaded(mb));
	assert_int_equal(mailbox_count(mb), 2);
	assert_int_equal(mailbox_size(mb), sizeof(msg1) - 1 + sizeof(msg2) - 1);
	settle(mb, dir);
	v = mailbox_view(mb);
	assert_string_equal(v->entry[0]->line, "c@x - two Mon, 01 Jan 2001 "
	                                       "00:00:02 +0000");
	/* Moved by a reader (mutt): one entry still, at its new place. */
	snprintf(from, sizeof(from), "%s/new/1.M1P1Q1.h", dir);
	snprintf(to, sizeof(to), "%s/cur/1.M1P1Q1.h:2,RS", dir);
	assert_int_equal(rename(from, to), 0);
	assert_true(stale(mb, dir));
	scan(mb, dir);
	assert_int_equal(mailbox_count(mb), 2);
	assert_int_equal(v->entry[1]->file.in_cur, 1);
	assert_string_equal(v->entry[1]->file.name, "1.M1P1Q1.h:2,RS");
	settle(mb, dir);
	/* Removed: dropped, the view still holds it. */
	assert_int_equal(unlink(to), 0);
	assert_true(stale(mb, dir));
	scan(mb, dir);
	assert_int_equal(mailbox_count(mb), 1);
	assert_int_equal(mailbox_size(mb), sizeof(msg2) - 1);
	assert_true(v->entry[1]->gone);
	assert_string_equal(v->entry[1]->line, "a@x - one Mon, 01 Jan 2001 "
	                                       "00:00:01 +0000");
	mailbox_view_release(v);
	mailbox_release(mb);
	mailboxes_free(all);
	testsrv_remove_tree(dir);
}

/* Scan, then the number of arrivals it reported (subject of the first). */
static size_t
scan_arrivals(struct mailbox *mb, const char *dir, char *subject, size_t len)
{
	struct mailbox_scan *sc = mailbox_scan_begin(mb);
	struct mailbox_entry *const *arrived;
	int md = md_open(dir);
	size_t n;

	assert_non_null(sc);
	assert_int_equal(mailbox_scan_run(sc, md), 0);
	assert_int_equal(mailbox_scan_apply(mb, sc), 0);
	n = mailbox_scan_arrivals(sc, &arrived);
	if (n > 0 && subject != NULL)
		snprintf(subject, len, "%s", arrived[0]->subject);
	mailbox_scan_free(sc);
	close(md);
	return n;
}

/*
 * What a scan reports as arrived (for new-mail notices): files new to the
 * index in new/, never on the first scan (the mailbox's load), never in
 * cur/ (a copy saved by a mail client, read mail moved there).
 */
static void
test_scan_arrivals(void **state)
{
	struct mailboxes *all = mailboxes_new();
	struct mailbox *mb = mailbox_acquire(all, "erin");
	char dir[256], subject[64] = "";

	(void)state;
	maildir_at(dir, sizeof(dir));
	put_file(dir, "new", "1.M1P1Q1.h", msg1, sizeof(msg1) - 1);
	assert_int_equal(scan_arrivals(mb, dir, NULL, 0), 0);
	assert_int_equal(scan_arrivals(mb, dir, NULL, 0), 0);
	put_file(dir, "new", "2.M1P1Q1.h", msg2, sizeof(msg2) - 1);
	put_file(dir, "cur", "3.M1P1Q1.h:2,S", msg1, sizeof(msg1) - 1);
	assert_int_equal(scan_arrivals(mb, dir, subject, sizeof(subject)), 1);
	assert_string_equal(subject, "two");
	/* Known now: not again. */
	assert_int_equal(scan_arrivals(mb, dir, NULL, 0), 0);
	mailbox_release(mb);
	mailboxes_free(all);
	testsrv_remove_tree(dir);
}

/*
 * A look at a directory within the tick of its last change cannot be
 * trusted: a second change in that tick would leave the same timestamps.
 * A scan waits such a tick out (so a change right after it shows); on a
 * filesystem of whole-second timestamps it cannot, and the directory stays
 * distrusted, scanned again at each request, for seconds.
 */
static void
test_same_tick_is_rescanned(void **state)
{
	struct mailboxes *all = mailboxes_new();
	struct mailbox *mb = mailbox_acquire(all, "ella");
	struct timespec now, ts[2];
	char dir[256], path[512];

	(void)state;
	maildir_at(dir, sizeof(dir));
	put_file(dir, "new", "1.M1P1Q1.h", msg1, sizeof(msg1) - 1);
	scan(mb, dir);
	assert_int_equal(mailbox_count(mb), 1);
	assert_false(stale(mb, dir));
	put_file(dir, "new", "2.M1P1Q1.h", msg2, sizeof(msg2) - 1);
	assert_true(stale(mb, dir));
	scan(mb, dir);
	assert_int_equal(mailbox_count(mb), 2);
	settle(mb, dir);
	/* A coarse filesystem: whole seconds, this one. */
	clock_gettime(CLOCK_REALTIME, &now);
	ts[0].tv_sec = ts[1].tv_sec = now.tv_sec;
	ts[0].tv_nsec = ts[1].tv_nsec = 0;
	snprintf(path, sizeof(path), "%s/new", dir);
	assert_int_equal(utimensat(AT_FDCWD, path, ts, 0), 0);
	snprintf(path, sizeof(path), "%s/cur", dir);
	assert_int_equal(utimensat(AT_FDCWD, path, ts, 0), 0);
	scan(mb, dir);
	usleep(100 * 1000);
	assert_true(stale(mb, dir));
	scan(mb, dir);
	assert_true(stale(mb, dir));
	mailbox_release(mb);
	mailboxes_free(all);
	testsrv_remove_tree(dir);
}

/*
 * A reader of ours moving a file is trusted without a scan only when
 * nothing else changed the directories since the last scan; the verifying
 * scan then ends the trust.
 */
static void
test_own_change(void **state)
{
	struct mailboxes *all = mailboxes_new();
	struct mailbox *mb = mailbox_acquire(all, "gaby");
	struct mailbox_stamp before, after;
	char dir[256], from[512], to[512];

	(void)state;
	maildir_at(dir, sizeof(dir));
	put_file(dir, "new", "1.M1P1Q1.h", msg1, sizeof(msg1) - 1);
	put_file(dir, "new", "2.M1P1Q1.h", msg2, sizeof(msg2) - 1);
	scan(mb, dir);
	settle(mb, dir);
	snprintf(from, sizeof(from), "%s/new/1.M1P1Q1.h", dir);
	snprintf(to, sizeof(to), "%s/cur/1.M1P1Q1.h:2,S", dir);
	assert_int_equal(stamp(dir, &before), 0);
	assert_int_equal(rename(from, to), 0);
	assert_int_equal(stamp(dir, &after), 0);
	assert_true(mailbox_own_change(mb, &before, &after));
	assert_false(stale(mb, dir));
	/* Another program's change afterwards still shows. */
	put_file(dir, "new", "3.M1P1Q1.h", msg2, sizeof(msg2) - 1);
	assert_true(stale(mb, dir));
	scan(mb, dir);
	assert_int_equal(mailbox_count(mb), 3);
	settle(mb, dir);
	/* Another program changed it before ours: not trusted. */
	assert_int_equal(stamp(dir, &before), 0);
	snprintf(from, sizeof(from), "%s/new/3.M1P1Q1.h", dir);
	assert_int_equal(unlink(from), 0);
	usleep(30 * 1000);
	assert_int_equal(stamp(dir, &before), 0);
	assert_int_equal(stamp(dir, &after), 0);
	assert_false(mailbox_own_change(mb, &before, &after));
	assert_true(stale(mb, dir));
	mailbox_release(mb);
	mailboxes_free(all);
	testsrv_remove_tree(dir);
}

/*
 * A scan reads the whole header block, however long, and cuts the list's
 * subject to MAILBOX_SUBJECT_MAX characters; a delivery the index made
 * while the scan ran is not indexed twice.
 */
static void
test_scan_long_headers(void **state)
{
	struct mailboxes *all = mailboxes_new();
	struct mailbox *mb = mailbox_acquire(all, "fred");
	struct mailbox_scan *sc;
	struct mailbox_view *v;
	char dir[256], *big, *want;
	size_t len = 100 * 1024, i;
	int n;

	(void)state;
	maildir_at(dir, sizeof(dir));
	big = malloc(len + 200);
	n = snprintf(big, 32, "From: a@x\nSubject: ");
	for (i = 0; i < len; i++)
		big[n + i] = (char)('a' + i % 26);
	n += (int)len;
	n += snprintf(big + n, 120,
	    "\nDate: Mon, 01 Jan 2001 00:00:01 +0000"
	    "\n\nbody\n");
	put_file(dir, "new", "1.M1P1Q1.h", big, (size_t)n);
	sc = mailbox_scan_begin(mb);
	n = md_open(dir);
	assert_int_equal(mailbox_scan_run(sc, n), 0);
	close(n);
	/* Meanwhile the same file came in as a delivery of ours. */
	add(mb, "1.M1P1Q1.h", 978307201, n, "short");
	assert_int_equal(mailbox_scan_apply(mb, sc), 0);
	mailbox_scan_free(sc);
	assert_int_equal(mailbox_count(mb), 1);
	assert_int_equal(mailbox_size(mb), n);
	mailbox_release(mb);
	/* From the scan alone: the date is there, the subject cut. */
	mb = mailbox_acquire(all, "fred");
	scan(mb, dir);
	v = mailbox_view(mb);
	want = malloc(MAILBOX_SUBJECT_MAX + 100);
	memcpy(want, "a@x - ", 6);
	memcpy(want + 6, big + 19, MAILBOX_SUBJECT_MAX);
	strcpy(want + 6 + MAILBOX_SUBJECT_MAX,
	    " Mon, 01 Jan 2001 00:00:01 +0000");
	assert_int_equal(strlen(v->entry[0]->line), strlen(want));
	assert_string_equal(v->entry[0]->line, want);
	mailbox_view_release(v);
	mailbox_release(mb);
	mailboxes_free(all);
	free(want);
	free(big);
	testsrv_remove_tree(dir);
}

static void
test_registry(void **state)
{
	struct mailboxes *all = mailboxes_new();
	struct mailbox *a, *b;

	(void)state;
	assert_null(mailbox_find(all, "eve"));
	a = mailbox_acquire(all, "eve");
	b = mailbox_acquire(all, "eve");
	assert_ptr_equal(a, b);
	assert_ptr_equal(mailbox_find(all, "eve"), a);
	mailbox_release(a);
	assert_ptr_equal(mailbox_find(all, "eve"), b);
	mailbox_release(b);
	assert_null(mailbox_find(all, "eve"));
	mailboxes_free(all);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_order_and_stats),
		cmocka_unit_test(test_one_entry_per_file),
		cmocka_unit_test(test_scan_follows_the_store),
		cmocka_unit_test(test_scan_arrivals),
		cmocka_unit_test(test_same_tick_is_rescanned),
		cmocka_unit_test(test_own_change),
		cmocka_unit_test(test_scan_long_headers),
		cmocka_unit_test(test_registry),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
