/*
 * test_links.c - symbolic links put into the store by someone else, on a
 * real glomaild: the server never follows one. A linked tmp/ is not
 * cleaned at start-up (what it points to keeps every file), a linked
 * account directory neither logs in nor receives mail (mail to it is kept
 * as undeliverable in LOST), and a linked message file is never listed or
 * read; a linked lock file stops the start. Each link is named in the log,
 * and the server keeps serving.
 */
#include <sys/stat.h>
#include <sys/wait.h>

#include <dirent.h>
#include <setjmp.h>
#include <signal.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <cmocka.h>

#include "frame.h"
#include "hostile.h"
#include "msg.h"
#include "proto.h"
#include "testsrv.h"
#include "wire.h"

static struct testsrv srv;

static int
setup(void **state)
{
	(void)state;
	return testsrv_start(&srv, NULL);
}

static int
teardown(void **state)
{
	(void)state;
	testsrv_stop(&srv);
	return 0;
}

/* Entries of a directory, "." and ".." aside; -1 if it cannot be read. */
static int
count_dir(const char *path)
{
	struct dirent *de;
	int n = 0;
	DIR *d;

	if ((d = opendir(path)) == NULL)
		return -1;
	while ((de = readdir(d)) != NULL)
		if (strcmp(de->d_name, ".") != 0 && strcmp(de->d_name, "..") != 0)
			n++;
	closedir(d);
	return n;
}

/* Entries of DATA/<user>/<sub>. */
static int
count(const char *user, const char *sub)
{
	char path[600];

	snprintf(path, sizeof(path), "%s/%s/%s", srv.data, user, sub);
	return count_dir(path);
}

static void
put_file(const char *path, const char *text)
{
	FILE *f = fopen(path, "w");

	assert_non_null(f);
	fputs(text, f);
	assert_int_equal(fclose(f), 0);
}

/* A fresh directory beside the data directory, outside the store. */
static void
outside(const char *name, char *buf, size_t len)
{
	snprintf(buf, len, "%s/%s", srv.dir, name);
	assert_int_equal(mkdir(buf, 0700), 0);
}

/* Stop the server, then start it again on the same store. */
static void
restart(void)
{
	assert_int_equal(testsrv_kill(&srv, SIGTERM), 0);
	assert_int_equal(testsrv_restart_anyport(&srv, NULL), 0);
}

static int
send_mail(int fd, const char *from, const char *to, const char *subject,
    char *text, size_t len)
{
	struct msg_email e = { from, to, subject, NULL, "body" };

	assert_int_equal(wire_send(fd, PROTO_EMAIL_SENDING, msg_email_new(&e),
	    FRAME_MAX_DEFAULT), 0);
	return hostile_reply(fd, 20000, text, len);
}

static long long
stats_count(int fd)
{
	struct msg *reply = NULL;
	union msg_args a;
	const char *why;
	long long n;

	assert_int_equal(testsrv_request(fd, PROTO_STATS_REQUEST, NULL,
	    &reply), PROTO_OK);
	assert_int_equal(msg_unpack(reply, PROTO_SHAPE_STATS, &a, &why), 0);
	n = a.stats.count;
	msg_free(reply);
	return n;
}

/*
 * DATA/bob/tmp a link to a directory of someone else's files: start-up
 * cleaning deletes nothing there, and delivery to bob writes nothing
 * there (it fails cleanly, the sender is told).
 */
static void
test_tmp_link(void **state)
{
	char victim[400], path[600], text[256];
	int fd, i;

	(void)state;
	fd = hostile_user(&srv, "bob");
	assert_true(fd >= 0);
	close(fd);
	outside("victim", victim, sizeof(victim));
	for (i = 0; i < 3; i++) {
		snprintf(path, sizeof(path), "%s/file%d", victim, i);
		put_file(path, "not the store's");
	}
	assert_int_equal(testsrv_kill(&srv, SIGTERM), 0);
	snprintf(path, sizeof(path), "%s/bob/tmp", srv.data);
	assert_int_equal(rmdir(path), 0);
	assert_int_equal(symlink(victim, path), 0);
	assert_int_equal(testsrv_restart_anyport(&srv, NULL), 0);

	assert_int_equal(count_dir(victim), 3);
	assert_true(testsrv_log_contains(&srv, "bob/tmp: a symbolic link, "
	    "not followed"));
	assert_true((fd = hostile_user(&srv, "alice")) >= 0);
	assert_int_equal(send_mail(fd, "alice@glo2000.ca", "bob@glo2000.ca",
	    "hi", text, sizeof(text)), PROTO_ERROR);
	assert_string_equal(text, "message could not be stored");
	assert_int_equal(count_dir(victim), 3);
	/* Everyone else is served as before. */
	assert_int_equal(send_mail(fd, "alice@glo2000.ca", "alice@glo2000.ca",
	    "to self", text, sizeof(text)), PROTO_OK);
	assert_int_equal(stats_count(fd), 1);
	close(fd);
	/* A second start does not touch it either. */
	restart();
	assert_int_equal(count_dir(victim), 3);
}

/*
 * DATA/eve a link to a directory holding a real account's files (a pass
 * with a known password and a Maildir): eve cannot log in with it, mail to
 * eve is kept in LOST, not written through the link, and the name stays
 * taken. The same for a link to another account of the store.
 */
static void
test_account_link(void **state)
{
	char elsewhere[400], path[600], from[600], text[256];
	int fd;

	(void)state;
	/* carol is a real account; her directory is then moved outside. */
	assert_true((fd = hostile_user(&srv, "carol")) >= 0);
	close(fd);
	assert_true((fd = hostile_user(&srv, "bob")) >= 0);
	close(fd);
	assert_int_equal(testsrv_kill(&srv, SIGTERM), 0);
	snprintf(elsewhere, sizeof(elsewhere), "%s/elsewhere", srv.dir);
	snprintf(from, sizeof(from), "%s/carol", srv.data);
	assert_int_equal(rename(from, elsewhere), 0);
	snprintf(path, sizeof(path), "%s/eve", srv.data);
	assert_int_equal(symlink(elsewhere, path), 0);
	snprintf(path, sizeof(path), "%s/mallory", srv.data);
	assert_int_equal(symlink("bob", path), 0);
	assert_int_equal(testsrv_restart_anyport(&srv, NULL), 0);

	/* The password of the account behind the link does not open it. */
	assert_true((fd = testsrv_connect(&srv)) >= 0);
	assert_int_equal(testsrv_auth(fd, PROTO_AUTH_LOGIN, "eve",
	    HOSTILE_PASSWORD), PROTO_ERROR);
	assert_int_equal(testsrv_auth(fd, PROTO_AUTH_LOGIN, "mallory",
	    HOSTILE_PASSWORD), PROTO_ERROR);
	assert_true(testsrv_log_contains(&srv, "skipped eve: a symbolic "
	    "link, not followed"));
	assert_true(testsrv_log_contains(&srv, "user=eve: the account "
	    "directory is a symbolic link"));
	/* Nor can the name be registered over the link. */
	assert_int_equal(testsrv_auth(fd, PROTO_AUTH_REGISTER, "eve",
	    HOSTILE_PASSWORD), PROTO_ERROR);
	close(fd);

	/* Mail to them is undeliverable: kept in LOST, never behind a link. */
	assert_true((fd = hostile_user(&srv, "alice")) >= 0);
	assert_int_equal(send_mail(fd, "alice@glo2000.ca", "eve@glo2000.ca",
	    "to eve", text, sizeof(text)), PROTO_ERROR);
	assert_string_equal(text, "no such recipient; the message was kept "
	    "as undeliverable");
	assert_int_equal(send_mail(fd, "alice@glo2000.ca",
	    "mallory@glo2000.ca", "to mallory", text, sizeof(text)),
	    PROTO_ERROR);
	assert_string_equal(text, "no such recipient; the message was kept "
	    "as undeliverable");
	close(fd);
	snprintf(path, sizeof(path), "%s/new", elsewhere);
	assert_int_equal(count_dir(path), 0);
	assert_int_equal(count("bob", "new"), 0);
	assert_int_equal(count("LOST", "new"), 2);
	/* bob himself is unaffected. */
	assert_true((fd = hostile_user(&srv, "bob")) >= 0);
	assert_int_equal(stats_count(fd), 0);
	close(fd);
}

/*
 * DATA/bob/new/<name> a link to a message-shaped file outside the store:
 * it is neither counted, listed nor read, before or after a restart.
 */
static void
test_message_link(void **state)
{
	char secret[400], path[600], target[600], text[256];
	struct msg *reply = NULL;
	union msg_args a;
	const char *why;
	char *dump;
	int fd, bob;

	(void)state;
	assert_true((bob = hostile_user(&srv, "bob")) >= 0);
	close(bob);
	assert_true((fd = hostile_user(&srv, "alice")) >= 0);
	assert_int_equal(send_mail(fd, "alice@glo2000.ca", "bob@glo2000.ca",
	    "real one", text, sizeof(text)), PROTO_OK);
	close(fd);
	outside("secrets", secret, sizeof(secret));
	snprintf(path, sizeof(path), "%s/shadow", secret);
	put_file(path, "From: root@glo2000.ca\r\nTo: bob@glo2000.ca\r\n"
	    "Subject: SECRET-SUBJECT\r\n\r\nSECRET-BODY\r\n");
	assert_int_equal(testsrv_kill(&srv, SIGTERM), 0);
	snprintf(target, sizeof(target), "%s/shadow", secret);
	snprintf(path, sizeof(path), "%s/bob/new/1000000000.M1P1Q1.x",
	    srv.data);
	assert_int_equal(symlink(target, path), 0);
	assert_int_equal(testsrv_restart_anyport(&srv, NULL), 0);

	assert_true((bob = hostile_user(&srv, "bob")) >= 0);
	assert_int_equal(stats_count(bob), 1);
	assert_int_equal(testsrv_request(bob, PROTO_INBOX_READING_REQUEST, NULL,
	    &reply), PROTO_OK);
	assert_int_equal(msg_unpack(reply, PROTO_SHAPE_EMAIL_LIST, &a, &why),
	    0);
	assert_int_equal(json_array_size(a.email_list), 1);
	dump = json_dumps(a.email_list, 0);
	assert_non_null(dump);
	assert_null(strstr(dump, "SECRET"));
	assert_non_null(strstr(dump, "real one"));
	free(dump);
	msg_free(reply);
	/* The only message there is the real one; a second does not exist. */
	assert_int_equal(testsrv_request(bob, PROTO_INBOX_READING_CHOICE,
	    msg_choice_new(1), &reply), PROTO_OK);
	assert_int_equal(msg_unpack(reply, PROTO_SHAPE_EMAIL, &a, &why), 0);
	assert_string_equal(a.email.subject, "real one");
	msg_free(reply);
	assert_int_equal(testsrv_request(bob, PROTO_INBOX_READING_CHOICE,
	    msg_choice_new(2), NULL), PROTO_ERROR);
	close(bob);
	assert_true(testsrv_log_contains(&srv,
	    "skipped new/1000000000.M1P1Q1.x: a symbolic link, not followed"));
	/* The link and its target are left as they were. */
	assert_int_equal(count("bob", "new") + count("bob", "cur"), 2);
	assert_int_equal(count_dir(secret), 1);
}

/*
 * DATA/.glomaild.lock a link to a file elsewhere: the server refuses to
 * start rather than create or lock a file outside the store.
 */
static void
test_lock_link(void **state)
{
	char target[600], path[600];

	(void)state;
	assert_int_equal(testsrv_kill(&srv, SIGTERM), 0);
	snprintf(path, sizeof(path), "%s/.glomaild.lock", srv.data);
	assert_int_equal(unlink(path), 0);
	snprintf(target, sizeof(target), "%s/planted", srv.dir);
	assert_int_equal(symlink(target, path), 0);
	assert_int_equal(testsrv_restart_anyport(&srv, NULL), -1);
	assert_int_equal(access(target, F_OK), -1);
	assert_true(testsrv_log_contains(&srv, "cannot lock"));
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(test_tmp_link, setup, teardown),
		cmocka_unit_test_setup_teardown(test_account_link, setup,
		    teardown),
		cmocka_unit_test_setup_teardown(test_message_link, setup,
		    teardown),
		cmocka_unit_test_setup_teardown(test_lock_link, setup,
		    teardown),
	};

	signal(SIGPIPE, SIG_IGN);
	return cmocka_run_group_tests(tests, NULL, NULL);
}
