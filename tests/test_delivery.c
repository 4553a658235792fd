/*
 * test_delivery.c - the delivery rules end to end, against a real
 * glomaild with an aliases file: a group of three, postmaster, a quota
 * refusal and both warnings exactly once, a notice for an unknown
 * recipient and none for a notice, vacation replies once per sender and
 * never to an automatic reply, QUOTA, reserved names, SIGHUP and
 * --check-config on the aliases file.
 */
#include <sys/stat.h>
#include <sys/wait.h>

#include <dirent.h>

#include <fcntl.h>
#include <signal.h>
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <cmocka.h>

#include "msg.h"
#include "proto.h"
#include "testfs.h"
#include "testsrv.h"

#define PASSWORD "Interop0Passw"

static struct testsrv srv;
static char scratch[256], aliases_path[300];

static void
write_text(const char *path, const char *text)
{
	FILE *f = fopen(path, "w");

	assert_non_null(f);
	assert_int_equal(fputs(text, f) >= 0, 1);
	assert_int_equal(fclose(f), 0);
}

static int
user(const char *name)
{
	int fd = testsrv_user(&srv, name, PASSWORD);

	assert_true(fd >= 0);
	return fd;
}

/* Send from fd to dest; returns the reply header, *err_r the error. */
static int
send_mail(int fd, const char *dest, const char *subject, const char *body,
    char *err, size_t errlen)
{
	struct msg *reply = NULL;
	json_t *p;
	int h;

	p = json_pack("{s:s, s:s, s:s}", "destination", dest, "subject",
	    subject, "content", body);
	h = testsrv_request(fd, PROTO_EMAIL_SENDING, p, &reply);
	if (err != NULL) {
		err[0] = '\0';
		if (h == PROTO_ERROR)
			snprintf(err, errlen, "%s",
			    json_string_value(
			        json_object_get(msg_payload(reply),
			            "error_message")));
	}
	msg_free(reply);
	return h;
}

/* The list lines of fd's inbox, joined by newlines (free it). */
static char *
inbox(int fd)
{
	struct msg *reply = NULL;
	json_t *list, *item;
	size_t i, len = 1;
	char *all = calloc(1, 1);

	assert_int_equal(testsrv_request(fd, PROTO_INBOX_READING_REQUEST, NULL,
	                     &reply),
	    PROTO_OK);
	list = json_object_get(msg_payload(reply), "email_list");
	json_array_foreach (list, i, item) {
		len += strlen(json_string_value(item)) + 1;
		all = realloc(all, len);
		strcat(all, json_string_value(item));
		strcat(all, "\n");
	}
	msg_free(reply);
	return all;
}

/* Occurrences of needle in fd's inbox list. */
static int
inbox_count(int fd, const char *needle)
{
	char *all = inbox(fd), *p = all;
	int n = 0;

	while ((p = strstr(p, needle)) != NULL) {
		n++;
		p++;
	}
	free(all);
	return n;
}

/* The contents of account's message files (new/ and cur/), joined. */
static char *
files_of(const char *account)
{
	char cmd[1024];
	FILE *p;
	char *all = NULL;
	size_t len = 0;

	snprintf(cmd, sizeof(cmd), "cat %s/%s/new/* %s/%s/cur/* 2>/dev/null",
	    srv.data, account, srv.data, account);
	assert_non_null(p = popen(cmd, "r"));
	{
		FILE *m = open_memstream(&all, &len);
		char buf[4096];
		size_t n;

		while ((n = fread(buf, 1, sizeof(buf), p)) > 0)
			fwrite(buf, 1, n, m);
		fclose(m);
	}
	pclose(p);
	return all;
}

static void
test_group_of_three(void **state)
{
	int sam, a, b, c;

	(void)state;
	a = user("alice");
	b = user("bob");
	c = user("carol");
	sam = user("sam");
	assert_int_equal(send_mail(sam, "team@glo2000.ca", "Kick-off",
	                     "Monday 9:00\n", NULL, 0),
	    PROTO_OK);
	assert_int_equal(inbox_count(a, "Kick-off"), 1);
	assert_int_equal(inbox_count(b, "Kick-off"), 1);
	assert_int_equal(inbox_count(c, "Kick-off"), 1);
	assert_int_equal(inbox_count(sam, "Kick-off"), 0);
	/* A group within a group: still one copy each. */
	assert_int_equal(send_mail(sam, "everyone@glo2000.ca", "All hands", "x",
	                     NULL, 0),
	    PROTO_OK);
	assert_int_equal(inbox_count(a, "All hands"), 1);
	assert_int_equal(inbox_count(b, "All hands"), 1);
	assert_int_equal(inbox_count(sam, "All hands"), 1);
	assert_int_equal(testfs_count("%s/LOST/new", srv.data), 0);
	close(a);
	close(b);
	close(c);
	close(sam);
}

static void
test_postmaster(void **state)
{
	int root, sam;

	(void)state;
	root = user("root");
	sam = user("sam");
	assert_int_equal(send_mail(sam, "Postmaster@glo2000.ca", "Help",
	                     "please", NULL, 0),
	    PROTO_OK);
	assert_int_equal(inbox_count(root, "sam@glo2000.ca - Help"), 1);
	close(root);
	close(sam);
}

static void
test_reserved_names(void **state)
{
	struct msg *reply = NULL;
	int fd;

	(void)state;
	fd = testsrv_connect(&srv);
	assert_true(fd >= 0);
	assert_int_equal(testsrv_auth(fd, PROTO_AUTH_REGISTER, "team",
	                     PASSWORD),
	    PROTO_ERROR);
	assert_int_equal(testsrv_auth(fd, PROTO_AUTH_REGISTER, "POSTMASTER",
	                     PASSWORD),
	    PROTO_ERROR);
	assert_int_equal(testsrv_auth(fd, PROTO_AUTH_REGISTER, "mailer-daemon",
	                     PASSWORD),
	    PROTO_ERROR);
	assert_int_equal(testsrv_request(fd, PROTO_AUTH_REGISTER,
	                     msg_credentials_new("team", PASSWORD), &reply),
	    PROTO_ERROR);
	assert_string_equal(json_string_value(
	                        json_object_get(msg_payload(reply),
	                            "error_message")),
	    "user name is reserved");
	msg_free(reply);
	assert_false(testfs_count("%s/team", srv.data) >= 0);
	close(fd);
}

static void
test_notice(void **state)
{
	char err[256], *files;
	int sam, md;

	(void)state;
	sam = user("sam");
	md = user("nd");
	assert_int_equal(send_mail(md, "ghost@glo2000.ca", "Where are you",
	                     "hello", err, sizeof(err)),
	    PROTO_ERROR);
	assert_string_equal(err, "no such recipient; the message was kept as "
	                         "undeliverable");
	/* LOST as in the seed, and a notice from MAILER-DAEMON. */
	assert_int_equal(testfs_count("%s/LOST/new", srv.data), 1);
	assert_int_equal(inbox_count(md, "MAILER-DAEMON@glo2000.ca - "
	                                 "Undelivered mail: Where are you"),
	    1);
	files = files_of("nd");
	assert_non_null(strstr(files, "ghost@glo2000.ca: no such user"));
	assert_non_null(strstr(files, "  Subject: Where are you\n  Date: "));
	assert_non_null(strstr(files, "multipart/report"));
	free(files);
	/* The group's unknown member is named too, once. */
	assert_int_equal(send_mail(md, "withghost@glo2000.ca", "Grouped", "x",
	                     NULL, 0),
	    PROTO_OK);
	assert_int_equal(inbox_count(md, "Undelivered mail: Grouped"), 1);
	assert_int_equal(inbox_count(sam, "Grouped"), 1);
	assert_int_equal(testfs_count("%s/LOST/new", srv.data), 2);
	/* Mail to mailer-daemon goes nowhere and makes no notice. */
	assert_int_equal(send_mail(md, "mailer-daemon@glo2000.ca", "To it", "x",
	                     NULL, 0),
	    PROTO_ERROR);
	assert_int_equal(inbox_count(md, "Undelivered mail"), 2);
	assert_int_equal(testfs_count("%s/LOST/new", srv.data), 2);
	close(sam);
	close(md);
}

/* QUOTA: used and limit. */
static void
quota_of(int fd, long long *used, long long *limit)
{
	struct msg *reply = NULL;

	assert_int_equal(testsrv_request(fd, PROTO_QUOTA, NULL, &reply),
	    PROTO_OK);
	*used = json_integer_value(json_object_get(msg_payload(reply), "used"));
	*limit = json_integer_value(
	    json_object_get(msg_payload(reply), "limit"));
	msg_free(reply);
}

static void
test_quota(void **state)
{
	char path[512], body[101], err[256];
	long long used, limit;
	int q, sam, i, h;

	(void)state;
	q = user("quser");
	sam = user("sam");
	quota_of(q, &used, &limit);
	assert_int_equal(used, 0);
	assert_int_equal(limit, 0);
	/* The administrator's limit for this account, in its file. */
	snprintf(path, sizeof(path), "%s/quser/quota", srv.data);
	write_text(path, "10000\n");
	quota_of(q, &used, &limit);
	assert_int_equal(limit, 10000);
	memset(body, 'b', sizeof(body) - 1);
	body[sizeof(body) - 1] = '\0';
	/* About 300 bytes each, less than the last 5 %: some delivery
	 * lands between 95 % and the limit. */
	for (i = 0; i < 60; i++) {
		h = send_mail(sam, "quser@glo2000.ca", "Filler", body, err,
		    sizeof(err));
		if (h == PROTO_ERROR)
			break;
	}
	assert_int_equal(h, PROTO_ERROR);
	assert_string_equal(err, "recipient's mailbox is full");
	quota_of(q, &used, &limit);
	/* Over the limit by no more than the warnings, which always go. */
	assert_true(used <= 10000 + 2 * 600);
	assert_true(used * 100 >= 10000 * 95);
	/* Nothing stored for the refused one: the inbox has what fits. */
	assert_int_equal(inbox_count(q, "Filler"), i);
	assert_int_equal(testfs_count("%s/quser/tmp", srv.data), 0);
	/* Refused again: still one warning each. */
	assert_int_equal(send_mail(sam, "quser@glo2000.ca", "Filler", body,
	                     NULL, 0),
	    PROTO_ERROR);
	assert_int_equal(inbox_count(q, "postmaster@glo2000.ca - Your mailbox "
	                                "is 80 % full"),
	    1);
	assert_int_equal(inbox_count(q, "postmaster@glo2000.ca - Your mailbox "
	                                "is 95 % full"),
	    1);
	/* A restart does not repeat them. */
	close(q);
	close(sam);
	assert_int_equal(testsrv_kill(&srv, SIGTERM), 0);
	{
		const char *extra[] = { "--aliases", aliases_path,
			"--postmaster", "Root", NULL };

		assert_int_equal(testsrv_restart_anyport(&srv, extra), 0);
	}
	q = user("quser");
	sam = user("sam");
	write_text(path, "11000\n");
	assert_int_equal(send_mail(sam, "quser@glo2000.ca", "Small", "s", NULL,
	                     0),
	    PROTO_OK);
	assert_int_equal(inbox_count(q, "is 80 % full"), 1);
	assert_int_equal(inbox_count(q, "is 95 % full"), 1);
	close(q);
	close(sam);
}

/* VACATION on (subject, text) or off (subject NULL). */
static void
vacation(int fd, const char *subject, const char *text, long long until)
{
	json_t *p = subject == NULL ? json_pack("{s:b}", "on", 0)
	                            : json_pack("{s:b, s:s, s:s, s:I}", "on", 1,
	                                  "subject", subject, "text", text,
	                                  "until", (json_int_t)until);

	assert_int_equal(testsrv_request(fd, PROTO_VACATION, p, NULL),
	    PROTO_OK);
}

static void
test_vacation(void **state)
{
	struct msg *reply = NULL;
	char *files;
	int v, w, x;

	(void)state;
	v = user("vic");
	w = user("walt");
	x = user("xena");
	vacation(v, "Away this week", "Back on Monday.\n", 0);
	assert_int_equal(send_mail(w, "vic@glo2000.ca", "Question 1", "?", NULL,
	                     0),
	    PROTO_OK);
	assert_int_equal(send_mail(w, "vic@glo2000.ca", "Question 2", "?", NULL,
	                     0),
	    PROTO_OK);
	assert_int_equal(inbox_count(w, "vic@glo2000.ca - Away this week"), 1);
	files = files_of("walt");
	assert_non_null(strstr(files, "Auto-Submitted: auto-replied\n"));
	assert_non_null(strstr(files, "In-Reply-To: <"));
	assert_non_null(strstr(files, "\n\nBack on Monday.\n"));
	free(files);
	/* Another sender gets one too. */
	assert_int_equal(send_mail(x, "vic@glo2000.ca", "Hi", "?", NULL, 0),
	    PROTO_OK);
	assert_int_equal(inbox_count(x, "Away this week"), 1);
	/* Never to an automatic reply: walt is away too; vic's reply to
	 * him makes no reply back. */
	vacation(w, "Walt away", "Gone.\n", 0);
	assert_int_equal(send_mail(x, "walt@glo2000.ca", "Ping", "?", NULL, 0),
	    PROTO_OK);
	assert_int_equal(inbox_count(x, "Walt away"), 1);
	assert_int_equal(send_mail(v, "walt@glo2000.ca", "From vic", "?", NULL,
	                     0),
	    PROTO_OK);
	assert_int_equal(inbox_count(v, "Walt away"), 1);
	assert_int_equal(inbox_count(w, "Away this week"), 1);
	assert_int_equal(inbox_count(v, "Away this week"), 0);
	/* Nor to oneself. */
	assert_int_equal(send_mail(v, "vic@glo2000.ca", "Note", "?", NULL, 0),
	    PROTO_OK);
	assert_int_equal(inbox_count(v, "Away this week"), 0);
	/* Off: no reply; bad requests refused. */
	vacation(v, NULL, NULL, 0);
	assert_int_equal(send_mail(x, "vic@glo2000.ca", "Again", "?", NULL, 0),
	    PROTO_OK);
	assert_int_equal(inbox_count(x, "Away this week"), 1);
	assert_int_equal(testsrv_request(v, PROTO_VACATION,
	                     json_pack("{s:b, s:s, s:s, s:I}", "on", 1,
	                         "subject", "x", "text", "y", "until",
	                         (json_int_t)1000),
	                     &reply),
	    PROTO_ERROR);
	assert_string_equal(json_string_value(
	                        json_object_get(msg_payload(reply),
	                            "error_message")),
	    "vacation end is in the "
	    "past");
	msg_free(reply);
	assert_int_equal(testsrv_request(v, PROTO_VACATION,
	                     json_pack("{s:b, s:s, s:s}", "on", 1, "subject",
	                         "a\r\nBcc: x", "text", "y"),
	                     NULL),
	    PROTO_ERROR);
	assert_int_equal(testsrv_request(v, PROTO_VACATION,
	                     json_pack("{s:s}", "on", "yes"), NULL),
	    PROTO_ERROR);
	close(v);
	close(w);
	close(x);
}

/* Wait until the log contains needle (up to 10 s). */
static int
wait_log(const char *needle)
{
	int i;

	for (i = 0; i < 200; i++) {
		if (testsrv_log_contains(&srv, needle))
			return 1;
		usleep(50 * 1000);
	}
	return 0;
}

static void
test_sighup(void **state)
{
	int sam, a;

	(void)state;
	sam = user("sam");
	a = user("alice");
	assert_int_equal(send_mail(sam, "newgroup@glo2000.ca", "Before", "x",
	                     NULL, 0),
	    PROTO_ERROR);
	write_text(aliases_path, "team: alice, bob, carol\n"
	                         "newgroup: alice\n");
	kill(srv.pid, SIGHUP);
	assert_true(wait_log("aliases: "));
	assert_int_equal(send_mail(sam, "newgroup@glo2000.ca", "After", "x",
	                     NULL, 0),
	    PROTO_OK);
	assert_int_equal(inbox_count(a, "After"), 1);
	/* A file that does not parse changes nothing, named with its line. */
	write_text(aliases_path, "team: alice\n\nbroken line\n");
	kill(srv.pid, SIGHUP);
	assert_true(wait_log("aliases:3: expected \"name: member, member\"; "
	                     "keeping the aliases in force"));
	assert_int_equal(send_mail(sam, "newgroup@glo2000.ca", "Still", "x",
	                     NULL, 0),
	    PROTO_OK);
	assert_int_equal(inbox_count(a, "Still"), 1);
	close(sam);
	close(a);
}

/* Run glomaild --check-config with args; its exit status, stderr in err. */
static int
check_config(const char *const *args, char *err, size_t errlen)
{
	char cmd[2048], out[300];
	size_t i;
	FILE *p;
	int st;

	snprintf(out, sizeof(out), "%s/check.err", scratch);
	snprintf(cmd, sizeof(cmd), "%s --check-config", testsrv_binary());
	for (i = 0; args[i] != NULL; i++) {
		strncat(cmd, " '", sizeof(cmd) - strlen(cmd) - 1);
		strncat(cmd, args[i], sizeof(cmd) - strlen(cmd) - 1);
		strncat(cmd, "'", sizeof(cmd) - strlen(cmd) - 1);
	}
	strncat(cmd, " >/dev/null 2>", sizeof(cmd) - strlen(cmd) - 1);
	strncat(cmd, out, sizeof(cmd) - strlen(cmd) - 1);
	st = system(cmd);
	assert_non_null(p = fopen(out, "r"));
	i = fread(err, 1, errlen - 1, p);
	err[i] = '\0';
	fclose(p);
	return WIFEXITED(st) ? WEXITSTATUS(st) : -1;
}

static void
test_check_config(void **state)
{
	char path[300], conf[300], err[2048];
	const char *args[] = { "--data-dir", srv.data, "--aliases", path,
		NULL };
	const char *byconf[] = { "--config", conf, NULL };

	(void)state;
	snprintf(path, sizeof(path), "%s/check-aliases", scratch);
	write_text(path, "ok: alice, bob\nx: y, nobody\ny: x\n");
	assert_int_equal(check_config(args, err, sizeof(err)), 1);
	assert_non_null(strstr(err, "check-aliases:2: x: a loop leads back "
	                            "to x"));
	assert_non_null(strstr(err, "check-aliases:3: y: a loop"));
	assert_non_null(strstr(err, "check-aliases:2: x: unknown member "
	                            "nobody"));
	assert_null(strstr(err, "ok:"));
	write_text(path, "ok: alice, bob\nbad line\n");
	assert_int_equal(check_config(args, err, sizeof(err)), 1);
	assert_non_null(strstr(err, "check-aliases:2: expected"));
	write_text(path, "ok: alice, bob, sam\n");
	assert_int_equal(check_config(args, err, sizeof(err)), 0);
	/* The file beside the configuration, by default. */
	snprintf(conf, sizeof(conf), "%s/conf/glomaild.conf", scratch);
	snprintf(path, sizeof(path), "%s/conf", scratch);
	mkdir(path, 0700);
	write_text(conf, "postmaster = root\n");
	assert_int_equal(check_config(byconf, err, sizeof(err)), 0);
	snprintf(path, sizeof(path), "%s/conf/aliases", scratch);
	write_text(path, "a: b:c\n");
	assert_int_equal(check_config(byconf, err, sizeof(err)), 1);
	assert_non_null(strstr(err, "conf/aliases:1: "));
	write_text(conf, "postmaster = not valid\n");
	assert_int_equal(check_config(byconf, err, sizeof(err)), 1);
	assert_non_null(strstr(err, "postmaster"));
}

/*
 * EMAIL_SENDING_MANY from fd: to and cc (NULL-terminated lists); the
 * results joined as "result[:reason] ..." into out. Returns the header.
 */
static int
send_many(int fd, const char *const *to, const char *const *cc,
    const char *subject, char *out, size_t len)
{
	struct msg *reply = NULL;
	json_t *p, *t = json_array(), *c = json_array(), *list, *r;
	const char *reason;
	size_t i;
	int h;

	for (i = 0; to[i] != NULL; i++)
		json_array_append_new(t, json_string(to[i]));
	for (i = 0; cc != NULL && cc[i] != NULL; i++)
		json_array_append_new(c, json_string(cc[i]));
	p = json_pack("{s:o, s:o, s:s, s:s}", "to", t, "cc", c, "subject",
	    subject, "content", "Hello all\n");
	h = testsrv_request(fd, PROTO_EMAIL_SENDING_MANY, p, &reply);
	out[0] = '\0';
	if (h == PROTO_ERROR)
		snprintf(out, len, "%s",
		    json_string_value(
		        json_object_get(msg_payload(reply), "error_message")));
	list = json_object_get(msg_payload(reply), "recipients");
	json_array_foreach (list, i, r) {
		if (i > 0)
			strncat(out, " ", len - strlen(out) - 1);
		strncat(out, json_string_value(json_object_get(r, "result")),
		    len - strlen(out) - 1);
		if ((reason = json_string_value(
		         json_object_get(r, "reason"))) != NULL) {
			strncat(out, ":", len - strlen(out) - 1);
			strncat(out, reason, len - strlen(out) - 1);
		}
	}
	msg_free(reply);
	return h;
}

/* The inode of the one file in account's new/ whose text holds needle. */
static ino_t
inode_with(const char *account, const char *needle, nlink_t *links_r)
{
	char path[600], file[1200], *text;
	struct dirent *de;
	struct stat st;
	ino_t found = 0;
	DIR *d;

	snprintf(path, sizeof(path), "%s/%s/new", srv.data, account);
	assert_non_null(d = opendir(path));
	while ((de = readdir(d)) != NULL) {
		if (de->d_name[0] == '.')
			continue;
		snprintf(file, sizeof(file), "%s/%s", path, de->d_name);
		assert_non_null(text = testsrv_read_file(file));
		if (strstr(text, needle) != NULL) {
			assert_int_equal(stat(file, &st), 0);
			assert_int_equal(found, 0);
			found = st.st_ino;
			*links_r = st.st_nlink;
		}
		free(text);
	}
	closedir(d);
	assert_true(found != 0);
	return found;
}

/*
 * Header 12 through the rules: duplicates in any case and a group's
 * member named again get one copy, an unknown name is filed once in LOST
 * with a notice, a group of three gets it; one file, linked into each.
 */
static void
test_send_many_rules(void **state)
{
	const char *to[] = { "alice@glo2000.ca", "ALICE@glo2000.ca",
		"ghost@glo2000.ca", "team@glo2000.ca", NULL };
	const char *cc[] = { "x@example.org", "Bob@GLO2000.CA", "nope",
		"mailer-daemon@glo2000.ca", NULL };
	char got[1024];
	int sam, a, b, c, lost;
	nlink_t links;
	ino_t ino;

	(void)state;
	a = user("alice");
	b = user("bob");
	c = user("carol");
	sam = user("sam");
	lost = testfs_count("%s/LOST/new", srv.data);
	assert_int_equal(send_many(sam, to, cc, "Many rules", got, sizeof(got)),
	    PROTO_OK);
	assert_string_equal(got,
	    "delivered undeliverable delivered "
	    "refused:destination is outside the local domain delivered "
	    "refused:invalid destination address "
	    "refused:no such recipient");
	assert_int_equal(inbox_count(a, "Many rules"), 1);
	assert_int_equal(inbox_count(b, "Many rules"), 1);
	assert_int_equal(inbox_count(c, "Many rules"), 1);
	assert_int_equal(testfs_count("%s/LOST/new", srv.data), lost + 1);
	assert_int_equal(inbox_count(sam, "Undelivered mail: Many rules"), 1);
	/* One file: the three mailboxes and LOST hold links of it. */
	ino = inode_with("alice", "Subject: Many rules\n", &links);
	assert_int_equal(links, 4);
	assert_true(inode_with("bob", "Subject: Many rules\n", &links) == ino);
	assert_true(
	    inode_with("carol", "Subject: Many rules\n", &links) == ino);
	assert_int_equal(testfs_count("%s/alice/tmp", srv.data), 0);
	assert_int_equal(testfs_count("%s/sam/tmp", srv.data), 0);
	/* To: and Cc: as given (the malformed one left out). */
	{
		char *files = files_of("carol");

		assert_non_null(
		    strstr(files, "To: alice@glo2000.ca, ALICE@glo2000.ca, "
		                  "ghost@glo2000.ca, team@glo2000.ca\n"));
		assert_non_null(
		    strstr(files, "Cc: x@example.org, Bob@GLO2000.CA, "
		                  "mailer-daemon@glo2000.ca\n"));
		free(files);
	}
	close(a);
	close(b);
	close(c);
	close(sam);
}

/* The 101st address refuses the whole request: nothing is stored. */
static void
test_send_many_limit(void **state)
{
	static char addr[101][32];
	const char *to[102];
	char got[256];
	int sam, a, i, lost;

	(void)state;
	a = user("alice");
	sam = user("sam");
	for (i = 0; i < 101; i++) {
		snprintf(addr[i], sizeof(addr[i]), "%s@glo2000.ca",
		    i == 0 ? "alice" : "ghost");
		to[i] = addr[i];
	}
	to[101] = NULL;
	lost = testfs_count("%s/LOST/new", srv.data);
	assert_int_equal(send_many(sam, to, NULL, "Hundred and one", got,
	                     sizeof(got)),
	    PROTO_ERROR);
	assert_string_equal(got, "too many recipients");
	assert_int_equal(inbox_count(a, "Hundred and one"), 0);
	assert_int_equal(testfs_count("%s/LOST/new", srv.data), lost);
	assert_int_equal(inbox_count(sam, "Hundred and one"), 0);
	/* 100 is the limit, duplicates included: one copy. */
	to[100] = NULL;
	assert_int_equal(send_many(sam, to, NULL, "Hundred", got, sizeof(got)),
	    PROTO_OK);
	assert_string_equal(got, "delivered undeliverable");
	assert_int_equal(inbox_count(a, "Hundred"), 1);
	assert_int_equal(testfs_count("%s/LOST/new", srv.data), lost + 1);
	close(a);
	close(sam);
}

/*
 * Header 12 with a reply's threading headers: stored as given when they
 * are message ids; anything else (a line break riding in) refuses the
 * whole request before anything is stored.
 */
static void
test_send_many_threading(void **state)
{
	const char *bad[] = { "<a@b>\r\nBcc: eve@glo2000.ca", "a@b", "<a b@c>",
		"", NULL };
	struct msg *reply = NULL;
	char *files;
	json_t *p;
	int sam, a, i;

	(void)state;
	a = user("alice");
	sam = user("sam");
	for (i = 0; bad[i] != NULL; i++) {
		p = json_pack("{s:[s], s:s, s:s, s:s}", "to",
		    "alice@glo2000.ca", "subject", "Re: threads", "content",
		    "x\n", "in_reply_to", bad[i]);
		assert_int_equal(testsrv_request(sam, PROTO_EMAIL_SENDING_MANY,
		                     p, &reply),
		    PROTO_ERROR);
		assert_string_equal(json_string_value(
		                        json_object_get(msg_payload(reply),
		                            "error_message")),
		    "in_reply_to is not a message id");
		msg_free(reply);
		p = json_pack("{s:[s], s:s, s:s, s:s}", "to",
		    "alice@glo2000.ca", "subject", "Re: threads", "content",
		    "x\n", "references", bad[i]);
		assert_int_equal(testsrv_request(sam, PROTO_EMAIL_SENDING_MANY,
		                     p, &reply),
		    PROTO_ERROR);
		assert_string_equal(json_string_value(
		                        json_object_get(msg_payload(reply),
		                            "error_message")),
		    "references is not a list of message ids");
		msg_free(reply);
	}
	assert_int_equal(inbox_count(a, "Re: threads"), 0);
	p = json_pack("{s:[s], s:[s], s:s, s:s, s:s, s:s}", "to",
	    "alice@glo2000.ca", "cc", "bob@glo2000.ca", "subject",
	    "Re: threads", "content", "y\n", "in_reply_to",
	    "<orig.2@glo2000.ca>", "references",
	    "<orig.1@glo2000.ca> <orig.2@glo2000.ca>");
	assert_int_equal(testsrv_request(sam, PROTO_EMAIL_SENDING_MANY, p,
	                     &reply),
	    PROTO_OK);
	msg_free(reply);
	files = files_of("alice");
	assert_non_null(strstr(files, "To: alice@glo2000.ca\n"));
	assert_non_null(strstr(files, "\nCc: bob@glo2000.ca\n"));
	assert_non_null(strstr(files, "\nIn-Reply-To: <orig.2@glo2000.ca>\n"));
	assert_non_null(strstr(files, "\nReferences: <orig.1@glo2000.ca> "
	                              "<orig.2@glo2000.ca>\n"));
	assert_null(strstr(files, "Bcc"));
	free(files);
	close(a);
	close(sam);
}

/* A full mailbox is refused for its owner alone, with the reason. */
static void
test_send_many_quota(void **state)
{
	const char *to[] = { "qfull@glo2000.ca", "team@glo2000.ca", NULL };
	char path[512], got[256];
	int q, sam, a;

	(void)state;
	q = user("qfull");
	a = user("alice");
	sam = user("sam");
	snprintf(path, sizeof(path), "%s/qfull/quota", srv.data);
	write_text(path, "100\n");
	assert_int_equal(send_many(sam, to, NULL, "Over quota", got,
	                     sizeof(got)),
	    PROTO_OK);
	assert_string_equal(got, "refused:recipient's mailbox is full "
	                         "delivered");
	assert_int_equal(inbox_count(q, "Over quota"), 0);
	assert_int_equal(testfs_count("%s/qfull/new", srv.data), 0);
	assert_int_equal(testfs_count("%s/qfull/tmp", srv.data), 0);
	assert_int_equal(inbox_count(a, "Over quota"), 1);
	close(q);
	close(a);
	close(sam);
}

static int
setup(void **state)
{
	static const char *extra[] = { "--aliases", aliases_path,
		"--postmaster", "Root", NULL };

	(void)state;
	if (testsrv_scratch(scratch, sizeof(scratch), "delivery") == -1)
		return -1;
	snprintf(aliases_path, sizeof(aliases_path), "%s/aliases", scratch);
	write_text(aliases_path,
	    "# groups\nteam: alice, bob, carol\n"
	    "everyone: team, sam, alice\nwithghost: sam, nobody\n");
	return testsrv_start(&srv, extra);
}

static int
teardown(void **state)
{
	(void)state;
	testsrv_stop(&srv);
	if (getenv("GLOMAIL_KEEP_TEST_DIR") == NULL)
		testsrv_remove_tree(scratch);
	return 0;
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_group_of_three),
		cmocka_unit_test(test_postmaster),
		cmocka_unit_test(test_reserved_names),
		cmocka_unit_test(test_notice),
		cmocka_unit_test(test_quota),
		cmocka_unit_test(test_vacation),
		cmocka_unit_test(test_sighup),
		cmocka_unit_test(test_check_config),
		cmocka_unit_test(test_send_many_rules),
		cmocka_unit_test(test_send_many_limit),
		cmocka_unit_test(test_send_many_threading),
		cmocka_unit_test(test_send_many_quota),
	};

	return cmocka_run_group_tests(tests, setup, teardown);
}
