/*
 * test_deliver.c - the delivery rules on a scratch data directory: the
 * aliases file (parse errors with their line, expansion, loops, unknown
 * members), and deliver_run for groups, LOST and notices, quotas and their
 * warnings, vacation replies.
 */
#include <sys/stat.h>

#include <dirent.h>
#include <fcntl.h>
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <cmocka.h>
#include <sodium.h>

#include "aliases.h"
#include "deliver.h"
#include "maildir.h"
#include "message.h"
#include "testfs.h"
#include "testsrv.h"

#define NOW ((time_t)1700000000)

static struct aliases *
parse(const char *text, char *err, size_t errlen)
{
	return aliases_parse(text, strlen(text), "aliases", err, errlen);
}

static void
test_parse_errors(void **state)
{
	static const struct {
		const char *text, *err;
	} bad[] = {
		{ "a: b\nnocolon\n", "aliases:2: expected" },
		{ "a: b\n\n# c\nBad Name: x\n", "aliases:4: " },
		{ "a: b,,c\n", "aliases:1: empty name" },
		{ "a: bob@glo2000.ca\n", "aliases:1: a member is a local" },
		{ "x: a\ny: b\nx: c\n", "aliases:3: name defined twice" },
		{ "postmaster: bob\n", "aliases:1: postmaster and" },
		{ "mailer-daemon: bob\n", "aliases:1: postmaster and" },
		{ "a:\n", "aliases:1: empty name" },
	};
	char err[256];
	size_t i;

	(void)state;
	for (i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		err[0] = '\0';
		assert_null(parse(bad[i].text, err, sizeof(err)));
		if (strncmp(err, bad[i].err, strlen(bad[i].err)) != 0)
			fail_msg("%s: got \"%s\"", bad[i].text, err);
	}
}

static void
test_expand(void **state)
{
	aliases_name out[8];
	char err[256];
	struct aliases *a;

	(void)state;
	a = parse("# the team\nteam: Alice, bob ,carol  # three\n"
	          "all: team, dave, alice\nloop1: loop2, erin\nloop2: loop1\n"
	          "boss: alice\n",
	    err, sizeof(err));
	assert_non_null(a);
	assert_true(aliases_has(a, "team"));
	assert_true(aliases_has(a, "postmaster"));
	assert_true(aliases_has(a, "mailer-daemon"));
	assert_false(aliases_has(a, "alice"));

	assert_int_equal(aliases_expand(a, "team", "root", out, 8), 3);
	assert_string_equal(out[0], "alice");
	assert_string_equal(out[1], "bob");
	assert_string_equal(out[2], "carol");
	/* Nested, alice once. */
	assert_int_equal(aliases_expand(a, "all", "root", out, 8), 4);
	assert_string_equal(out[3], "dave");
	/* A loop ends. */
	assert_int_equal(aliases_expand(a, "loop1", "root", out, 8), 1);
	assert_string_equal(out[0], "erin");
	/* Not an alias: the account itself. */
	assert_int_equal(aliases_expand(a, "zed", "root", out, 8), 1);
	assert_string_equal(out[0], "zed");
	assert_int_equal(aliases_expand(a, "postmaster", "root", out, 8), 1);
	assert_string_equal(out[0], "root");
	/* postmaster may itself be a group of the file. */
	assert_int_equal(aliases_expand(a, "postmaster", "team", out, 8), 3);
	assert_int_equal(aliases_expand(a, "mailer-daemon", "root", out, 8), 0);
	/* Over the bound. */
	assert_int_equal(aliases_expand(a, "all", "root", out, 3), -1);
	/* No table. */
	assert_int_equal(aliases_expand(NULL, "x", "root", out, 8), 1);
	aliases_free(a);
}

static int
exists_abc(const char *m, void *arg)
{
	(void)arg;
	return strcmp(m, "alice") == 0 || strcmp(m, "bob") == 0;
}

static char problems[1024];

static void
collect(const char *p, void *arg)
{
	(void)arg;
	strncat(problems, p, sizeof(problems) - strlen(problems) - 2);
	strcat(problems, "\n");
}

static void
test_check(void **state)
{
	char err[256];
	struct aliases *a;

	(void)state;
	a = parse("team: alice, bob\nx: y, ghost\ny: x\nok: team\n", err,
	    sizeof(err));
	assert_non_null(a);
	problems[0] = '\0';
	assert_int_equal(aliases_check(a, exists_abc, NULL, collect), 3);
	assert_non_null(strstr(problems, "2: x: a loop leads back to x"));
	assert_non_null(strstr(problems, "3: y: a loop leads back to y"));
	assert_non_null(strstr(problems, "2: x: unknown member ghost"));
	aliases_free(a);
}

static void
test_message_id(void **state)
{
	(void)state;
	assert_int_equal(message_id_valid("<a.b@c>", 0), 0);
	assert_int_equal(message_id_valid("<a@b> <c@d>", 1), 0);
	assert_int_equal(message_id_valid("<a@b> <c@d>", 0), -1);
	assert_int_equal(message_id_valid("<a@b>\r\nX: y", 1), -1);
	assert_int_equal(message_id_valid("<a@b>\n", 0), -1);
	assert_int_equal(message_id_valid("a@b", 0), -1);
	assert_int_equal(message_id_valid("<@b>", 0), -1);
	assert_int_equal(message_id_valid("<a@>", 0), -1);
	assert_int_equal(message_id_valid("<a b@c>", 0), -1);
	assert_int_equal(message_id_valid("<a<@c>", 0), -1);
	assert_int_equal(message_id_valid("<a@b>  <c@d>", 1), -1);
	assert_int_equal(message_id_valid("", 1), -1);
}

static void
test_message_header(void **state)
{
	static const char
	    file[] = "From: a@b\r\nmessage-id:  <x@y> \r\n"
	             "References: <1@y>\r\n\t<2@y>\r\nSubject: s\r\n\r\n"
	             "Cc: not a header\n";
	struct message_head h = { "a@b", "c@d", "e@f", "Re: s",
		"Mon, 01 Jan "
		"2024 00:00:00 +0000",
		"<n@b>", "<x@y>", "<1@y> <x@y>", "auto-replied", NULL };
	char *v, *built;
	size_t len;

	(void)state;
	assert_non_null(
	    v = message_header(file, sizeof(file) - 1, "Message-ID"));
	assert_string_equal(v, "<x@y>");
	free(v);
	assert_non_null(
	    v = message_header(file, sizeof(file) - 1, "references"));
	assert_string_equal(v, "<1@y>\t<2@y>");
	free(v);
	/* The body is not the header. */
	assert_null(message_header(file, sizeof(file) - 1, "Cc"));
	assert_non_null(built = message_build_head(&h, "body\n", &len));
	assert_non_null(strstr(built,
	    "\nCc: e@f\nIn-Reply-To: <x@y>\n"
	    "References: <1@y> <x@y>\nAuto-Submitted: auto-replied\n"
	    "MIME-Version: 1.0\nContent-Type: text/plain; charset=utf-8\n"));
	assert_int_equal(len, strlen(built));
	free(built);
}

/* A data directory with accounts (a Maildir and a pass file each). */
struct store {
	char dir[512];
	int fd;
};

static void
account(struct store *st, const char *name)
{
	int md, fd;

	assert_int_equal(maildir_create(st->fd, name), 0);
	assert_true((md = maildir_open(st->fd, name)) >= 0);
	assert_true((fd = openat(md, "pass", O_WRONLY | O_CREAT, 0600)) >= 0);
	close(fd);
	close(md);
}

static void
store_open(struct store *st, void **state)
{
	snprintf(st->dir, sizeof(st->dir), "%s", (const char *)*state);
	assert_true((st->fd = open(st->dir, O_RDONLY | O_DIRECTORY)) >= 0);
	assert_int_equal(maildir_create(st->fd, "LOST"), 0);
}

static int
count_new(struct store *st, const char *acct)
{
	return testfs_count("%s/%s/new", st->dir, acct);
}

/* The contents of all files in acct's new/, concatenated. */
static char *
read_new(struct store *st, const char *acct)
{
	char path[1024], *all = calloc(1, 1), *f;
	struct dirent *de;
	DIR *d;

	snprintf(path, sizeof(path), "%s/%s/new", st->dir, acct);
	assert_non_null(d = opendir(path));
	while ((de = readdir(d)) != NULL) {
		if (de->d_name[0] == '.')
			continue;
		snprintf(path, sizeof(path), "%s/%s/new/%s", st->dir, acct,
		    de->d_name);
		assert_non_null(f = testsrv_read_file(path));
		all = realloc(all, strlen(all) + strlen(f) + 2);
		strcat(all, f);
		strcat(all, "\f");
		free(f);
	}
	closedir(d);
	return all;
}

/* Deliver a message from sender to names; returns the plan, run. */
static struct deliver *
send_to(struct store *st, const struct aliases *al, const char *sender,
    const char *const *names, size_t n, size_t size, size_t quota,
    int auto_submitted, time_t now)
{
	struct deliver_params p = { "glo2000.ca", "root", quota };
	struct deliver_msg m = { sender, "Budget 2024",
		"Mon, 01 Jan 2024 "
		"10:00:00 +0000",
		"<orig.1@glo2000.ca>", auto_submitted, 0, 0 };
	struct deliver *d;
	const char *why;
	char *data;
	int len;

	assert_non_null(d = deliver_new(&p, al, &m, names, n, 1000, &why));
	data = malloc(size + 1);
	len = snprintf(data, size + 1,
	    "From: %s@glo2000.ca\nSubject: Budget "
	    "2024\nMessage-ID: <orig.1@glo2000.ca>\n\n",
	    sender != NULL ? sender : "x");
	memset(data + len, 'x', size - (size_t)len);
	assert_int_equal(deliver_run(d, st->fd, data, size, now), 0);
	free(data);
	return d;
}

static void
test_group_of_three(void **state)
{
	const char *names[] = { "team", "bob", "two" };
	struct store st;
	struct aliases *a;
	struct deliver *d;
	char err[256];
	size_t i;

	store_open(&st, state);
	account(&st, "alice");
	account(&st, "bob");
	account(&st, "carol");
	account(&st, "sam");
	assert_non_null(a = parse("team: alice, bob, carol\ntwo: team\n", err,
	                    sizeof(err)));
	d = send_to(&st, a, "sam", names, 3, 200, 0, 0, NOW);
	/* Each account once, though named three times. */
	assert_int_equal(deliver_nrcpt(d), 3);
	for (i = 0; i < 3; i++)
		assert_int_equal(deliver_rcpt(d, i)->status, DELIVER_STORED);
	assert_string_equal(deliver_rcpt(d, 1)->account, "bob");
	assert_true(deliver_rcpt(d, 1)->direct);
	assert_false(deliver_rcpt(d, 0)->direct);
	assert_int_equal(deliver_nstored(d), 3);
	assert_int_equal(count_new(&st, "alice"), 1);
	assert_int_equal(count_new(&st, "bob"), 1);
	assert_int_equal(count_new(&st, "carol"), 1);
	assert_int_equal(count_new(&st, "sam"), 0);
	assert_int_equal(count_new(&st, "LOST"), 0);
	deliver_free(d);
	aliases_free(a);
	close(st.fd);
}

static void
test_postmaster(void **state)
{
	const char *names[] = { "postmaster" };
	struct store st;
	struct deliver *d;

	store_open(&st, state);
	account(&st, "root");
	account(&st, "sam");
	d = send_to(&st, NULL, "sam", names, 1, 200, 0, 0, NOW);
	assert_int_equal(deliver_nrcpt(d), 1);
	assert_string_equal(deliver_rcpt(d, 0)->account, "root");
	assert_int_equal(count_new(&st, "root"), 1);
	deliver_free(d);
	close(st.fd);
}

static void
test_unknown_notice(void **state)
{
	const char *names[] = { "ghost", "bob", "phantom" };
	struct store st;
	struct deliver *d;
	char *notice;

	store_open(&st, state);
	account(&st, "bob");
	account(&st, "sam");
	d = send_to(&st, NULL, "sam", names, 3, 200, 0, 0, NOW);
	assert_int_equal(deliver_rcpt(d, 0)->status, DELIVER_LOST);
	assert_int_equal(deliver_rcpt(d, 1)->status, DELIVER_STORED);
	assert_int_equal(deliver_rcpt(d, 2)->status, DELIVER_LOST);
	/* One copy in LOST for both unknown names (one inode). */
	assert_int_equal(count_new(&st, "LOST"), 1);
	/* One notice, naming both. */
	assert_int_equal(count_new(&st, "sam"), 1);
	notice = read_new(&st, "sam");
	assert_non_null(strstr(notice, "From: MAILER-DAEMON@glo2000.ca\n"));
	assert_non_null(strstr(notice, "To: sam@glo2000.ca\n"));
	assert_non_null(strstr(notice, "Subject: Undelivered mail: Budget 2024"
	                               "\n"));
	assert_non_null(strstr(notice, "Auto-Submitted: auto-replied\n"));
	assert_non_null(strstr(notice, "In-Reply-To: <orig.1@glo2000.ca>\n"));
	assert_non_null(
	    strstr(notice, "Content-Type: multipart/report; "
	                   "report-type=delivery-status; boundary="));
	assert_non_null(strstr(notice, "ghost@glo2000.ca: no such user"));
	assert_non_null(strstr(notice, "phantom@glo2000.ca: no such user"));
	assert_non_null(strstr(notice, "Subject: Budget 2024\n  Date: Mon, 01 "
	                               "Jan 2024 10:00:00 +0000"));
	assert_non_null(
	    strstr(notice, "Final-Recipient: rfc822; "
	                   "ghost@glo2000.ca\nAction: failed\nStatus: 5.1.1"));
	free(notice);
	deliver_free(d);

	/* An automatic message gets no notice, nor mail from nobody local. */
	d = send_to(&st, NULL, "sam", names, 1, 200, 0, 1, NOW);
	assert_int_equal(deliver_rcpt(d, 0)->status, DELIVER_LOST);
	deliver_free(d);
	d = send_to(&st, NULL, NULL, names, 1, 200, 0, 0, NOW);
	deliver_free(d);
	assert_int_equal(count_new(&st, "LOST"), 3);
	assert_int_equal(count_new(&st, "sam"), 1);
	close(st.fd);
}

/* Warnings in acct's new/ from postmaster that say pct. */
static int
warnings(struct store *st, const char *acct, const char *pct)
{
	char *all = read_new(st, acct), *p = all, needle[64];
	int n = 0;

	snprintf(needle, sizeof(needle), "Subject: Your mailbox is %s %% full",
	    pct);
	while ((p = strstr(p, needle)) != NULL) {
		n++;
		p++;
	}
	free(all);
	return n;
}

static void
test_quota(void **state)
{
	const char *names[] = { "bob" };
	struct store st;
	struct deliver *d;
	int i, md, fd;

	store_open(&st, state);
	account(&st, "bob");
	account(&st, "sam");
	/* 10000 bytes allowed: 7 of 1000 is 70 %. */
	for (i = 0; i < 7; i++)
		deliver_free(
		    send_to(&st, NULL, "sam", names, 1, 1000, 10000, 0, NOW));
	assert_int_equal(count_new(&st, "bob"), 7);
	assert_int_equal(warnings(&st, "bob", "80"), 0);
	/* 8000 (the 80 % warning is about 400 bytes more). */
	deliver_free(send_to(&st, NULL, "sam", names, 1, 1000, 10000, 0, NOW));
	assert_int_equal(warnings(&st, "bob", "80"), 1);
	assert_int_equal(count_new(&st, "bob"), 9);
	/* Still over 80: no second warning. */
	deliver_free(send_to(&st, NULL, "sam", names, 1, 500, 10000, 0, NOW));
	assert_int_equal(warnings(&st, "bob", "80"), 1);
	assert_int_equal(warnings(&st, "bob", "95"), 0);
	/* Up to 95 % and more (the warning counts too). */
	deliver_free(send_to(&st, NULL, "sam", names, 1, 600, 10000, 0, NOW));
	assert_int_equal(warnings(&st, "bob", "95"), 1);
	/* Full: refused, nothing stored, no new warning. */
	i = count_new(&st, "bob");
	d = send_to(&st, NULL, "sam", names, 1, 1000, 10000, 0, NOW);
	assert_int_equal(deliver_rcpt(d, 0)->status, DELIVER_FULL);
	assert_int_equal(deliver_nstored(d), 0);
	deliver_free(d);
	assert_int_equal(count_new(&st, "bob"), i);
	assert_int_equal(testfs_count("%s/bob/tmp", st.dir), 0);
	assert_int_equal(warnings(&st, "bob", "80"), 1);
	assert_int_equal(warnings(&st, "bob", "95"), 1);
	/* The account's own limit: quota file, larger. */
	assert_true((md = maildir_open(st.fd, "bob")) >= 0);
	assert_true((fd = openat(md, "quota", O_WRONLY | O_CREAT, 0600)) >= 0);
	assert_int_equal(write(fd, "1000000\n", 8), 8);
	close(fd);
	close(md);
	d = send_to(&st, NULL, "sam", names, 1, 1000, 10000, 0, NOW);
	assert_int_equal(deliver_rcpt(d, 0)->status, DELIVER_STORED);
	deliver_free(d);
	close(st.fd);
}

static void
test_quota_usage(void **state)
{
	const char *names[] = { "bob" };
	unsigned long long used, limit;
	struct store st;

	store_open(&st, state);
	account(&st, "bob");
	assert_int_equal(deliver_usage(st.fd, "bob", 5000, &used, &limit), 0);
	assert_int_equal(used, 0);
	assert_int_equal(limit, 5000);
	deliver_free(send_to(&st, NULL, "sam", names, 1, 1234, 0, 0, NOW));
	assert_int_equal(deliver_usage(st.fd, "bob", 0, &used, &limit), 0);
	assert_int_equal(used, 1234);
	assert_int_equal(limit, 0);
	close(st.fd);
}

static int
replies(struct store *st, const char *acct)
{
	char *all = read_new(st, acct), *p = all;
	int n = 0;

	while ((p = strstr(p, "Subject: Away\n")) != NULL) {
		n++;
		p++;
	}
	free(all);
	return n;
}

static void
test_vacation(void **state)
{
	const char *bob[] = { "bob" }, *team[] = { "team" }, *sam[] = { "sam" };
	struct store st;
	struct aliases *a;
	char err[256], *r;

	store_open(&st, state);
	account(&st, "bob");
	account(&st, "sam");
	account(&st, "tim");
	assert_non_null(a = parse("team: bob, tim\n", err, sizeof(err)));
	assert_int_equal(deliver_vacation_set(st.fd, "bob", "Away",
	                     "Back on "
	                     "Monday.\n",
	                     0),
	    0);
	deliver_free(send_to(&st, a, "sam", bob, 1, 200, 0, 0, NOW));
	assert_int_equal(replies(&st, "sam"), 1);
	r = read_new(&st, "sam");
	assert_non_null(strstr(r, "From: bob@glo2000.ca\n"));
	assert_non_null(strstr(r, "Auto-Submitted: auto-replied\n"));
	assert_non_null(strstr(r, "In-Reply-To: <orig.1@glo2000.ca>\n"));
	assert_non_null(strstr(r, "\n\nBack on Monday.\n"));
	free(r);
	/* Once per sender in 7 days. */
	deliver_free(send_to(&st, a, "sam", bob, 1, 200, 0, 0, NOW + 3600));
	assert_int_equal(replies(&st, "sam"), 1);
	/* Another sender gets one. */
	deliver_free(send_to(&st, a, "tim", bob, 1, 200, 0, 0, NOW));
	assert_int_equal(replies(&st, "tim"), 1);
	/* Never to an automatic message, oneself, or through a group. */
	deliver_free(
	    send_to(&st, a, "sam", bob, 1, 200, 0, 1, NOW + 8 * 86400));
	deliver_free(send_to(&st, a, "bob", bob, 1, 200, 0, 0, NOW));
	deliver_free(
	    send_to(&st, a, "sam", team, 1, 200, 0, 0, NOW + 8 * 86400));
	assert_int_equal(replies(&st, "sam"), 1);
	assert_int_equal(replies(&st, "bob"), 0);
	/* After 7 days, again. */
	deliver_free(
	    send_to(&st, a, "sam", bob, 1, 200, 0, 0, NOW + 8 * 86400));
	assert_int_equal(replies(&st, "sam"), 2);
	/* A reply to a reply: sam is on vacation too; bob's reply is
	 * automatic, so sam's rules never see it. */
	assert_int_equal(deliver_vacation_set(st.fd, "sam", "Away", "x", 0), 0);
	deliver_free(send_to(&st, a, "tim", sam, 1, 200, 0, 0, NOW));
	assert_int_equal(replies(&st, "tim"), 2);
	assert_int_equal(replies(&st, "bob"), 0);
	/* Ended, and off. */
	assert_int_equal(deliver_vacation_set(st.fd, "bob", "Away", "x",
	                     NOW + 60),
	    0);
	deliver_free(send_to(&st, a, "tim", bob, 1, 200, 0, 0, NOW + 120));
	assert_int_equal(replies(&st, "tim"), 2);
	assert_int_equal(deliver_vacation_set(st.fd, "bob", NULL, NULL, 0), 0);
	deliver_free(send_to(&st, a, "tim", bob, 1, 200, 0, 0, NOW));
	assert_int_equal(replies(&st, "tim"), 2);
	aliases_free(a);
	close(st.fd);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_parse_errors),
		cmocka_unit_test(test_expand),
		cmocka_unit_test(test_check),
		cmocka_unit_test(test_message_id),
		cmocka_unit_test(test_message_header),
		cmocka_unit_test_setup_teardown(test_group_of_three,
		    testfs_scratch_setup, testfs_scratch_teardown),
		cmocka_unit_test_setup_teardown(test_postmaster,
		    testfs_scratch_setup, testfs_scratch_teardown),
		cmocka_unit_test_setup_teardown(test_unknown_notice,
		    testfs_scratch_setup, testfs_scratch_teardown),
		cmocka_unit_test_setup_teardown(test_quota,
		    testfs_scratch_setup, testfs_scratch_teardown),
		cmocka_unit_test_setup_teardown(test_quota_usage,
		    testfs_scratch_setup, testfs_scratch_teardown),
		cmocka_unit_test_setup_teardown(test_vacation,
		    testfs_scratch_setup, testfs_scratch_teardown),
	};

	if (sodium_init() == -1)
		return 1;
	maildir_init();
	return cmocka_run_group_tests(tests, NULL, NULL);
}
