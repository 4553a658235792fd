/*
 * test_index.c - the server's mailbox index end to end: a real glomaild,
 * real files. It holds each file once when a login races deliveries, lists
 * the same bytes after a restart, numbers a read before any list by the
 * current order, follows changes other programs make to the Maildir, and
 * never builds a list larger than a client accepts.
 */
#include <sys/socket.h>
#include <sys/stat.h>

#include <dirent.h>
#include <pthread.h>
#include <signal.h>
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

#include "frame.h"
#include "msg.h"
#include "proto.h"
#include "testsrv.h"
#include "wire.h"

#define PASSWORD "Interop0Passw"

static struct testsrv srv;

static int
group_setup(void **state)
{
	(void)state;
	return testsrv_start(&srv, NULL);
}

static int
group_teardown(void **state)
{
	(void)state;
	testsrv_stop(&srv);
	return 0;
}

static int
user_conn(const char *user)
{
	int fd = testsrv_user(&srv, user, PASSWORD);

	assert_true(fd >= 0);
	return fd;
}

static int
send_mail(int fd, const char *dest, const char *subject, const char *content)
{
	return testsrv_request(fd, PROTO_EMAIL_SENDING, json_pack(
	    "{s:s, s:s, s:s}", "destination", dest, "subject", subject,
	    "content", content), NULL);
}

/* The list reply, received with the client's own limit. */
static json_t *
get_list(int fd)
{
	struct msg *reply;
	union msg_args a;
	const char *why;
	json_t *list;

	assert_int_equal(wire_send(fd, PROTO_INBOX_READING_REQUEST, NULL,
	    FRAME_MAX_DEFAULT), 0);
	assert_int_equal(wire_recv(fd, FRAME_REPLY_MAX, &reply, &why), 0);
	assert_int_equal(msg_header(reply), PROTO_OK);
	assert_int_equal(msg_unpack(reply, PROTO_SHAPE_EMAIL_LIST, &a, &why), 0);
	list = json_incref(a.email_list);
	msg_free(reply);
	return list;
}

static void
get_stats(int fd, long long *count, long long *size)
{
	struct msg *reply;
	union msg_args a;
	const char *why;

	assert_int_equal(testsrv_request(fd, PROTO_STATS_REQUEST, NULL, &reply),
	    PROTO_OK);
	assert_int_equal(msg_unpack(reply, PROTO_SHAPE_STATS, &a, &why), 0);
	*count = a.stats.count;
	*size = a.stats.size;
	msg_free(reply);
}

/* Read choice n: OK with the reply in *reply_r, or ERROR's text. */
static int
read_choice(int fd, long long n, char *subject, size_t len)
{
	struct msg *reply;
	union msg_args a;
	const char *why;
	int h;

	h = testsrv_request(fd, PROTO_INBOX_READING_CHOICE, msg_choice_new(n),
	    &reply);
	if (h == PROTO_OK) {
		assert_int_equal(msg_unpack(reply, PROTO_SHAPE_EMAIL, &a, &why),
		    0);
		snprintf(subject, len, "%s", a.email.subject);
	} else {
		assert_int_equal(h, PROTO_ERROR);
		assert_int_equal(msg_unpack(reply, PROTO_SHAPE_ERROR, &a, &why),
		    0);
		snprintf(subject, len, "%s", a.error_message);
	}
	msg_free(reply);
	return h;
}

/* Files and bytes in user's new/ and cur/. */
static void
on_disk(const char *user, long long *count, long long *size)
{
	static const char *subs[] = { "new", "cur" };
	char path[1024], file[2048];
	struct dirent *de;
	struct stat st;
	DIR *d;
	int i;

	*count = *size = 0;
	for (i = 0; i < 2; i++) {
		snprintf(path, sizeof(path), "%s/%s/%s", srv.data, user, subs[i]);
		assert_non_null(d = opendir(path));
		while ((de = readdir(d)) != NULL) {
			if (de->d_name[0] == '.')
				continue;
			snprintf(file, sizeof(file), "%s/%s", path, de->d_name);
			assert_int_equal(stat(file, &st), 0);
			(*count)++;
			*size += st.st_size;
		}
		closedir(d);
	}
}

/* The name of one file in user's sub/ ("" if none). */
static void
some_file(const char *user, const char *sub, char *name, size_t len)
{
	char path[1024];
	struct dirent *de;
	DIR *d;

	name[0] = '\0';
	snprintf(path, sizeof(path), "%s/%s/%s", srv.data, user, sub);
	assert_non_null(d = opendir(path));
	while ((de = readdir(d)) != NULL)
		if (de->d_name[0] != '.')
			snprintf(name, len, "%s", de->d_name);
	closedir(d);
}

/* Write a file into user's new/ as another program would. */
static void
drop_file(const char *user, const char *name, const char *data, size_t len)
{
	char path[1024], tmp[1024];
	FILE *f;

	snprintf(tmp, sizeof(tmp), "%s/%s/tmp/%s", srv.data, user, name);
	snprintf(path, sizeof(path), "%s/%s/new/%s", srv.data, user, name);
	assert_non_null(f = fopen(tmp, "w"));
	assert_int_equal(fwrite(data, 1, len, f), len);
	assert_int_equal(fclose(f), 0);
	assert_int_equal(rename(tmp, path), 0);
}

struct flood {
	const char *rcpt;
	int n;
	int failed;
};

static void *
flood_run(void *arg)
{
	struct flood *fl = arg;
	char user[32], dest[64];
	int fd, i;

	snprintf(user, sizeof(user), "flood%lx", (unsigned long)pthread_self() %
	    100000);
	snprintf(dest, sizeof(dest), "%s@glo2000.ca", fl->rcpt);
	if ((fd = testsrv_user(&srv, "flooder", PASSWORD)) < 0) {
		fl->failed = 1;
		return NULL;
	}
	for (i = 0; i < fl->n; i++)
		if (send_mail(fd, dest, "burst", "x") != PROTO_OK)
			fl->failed = 1;
	close(fd);
	return NULL;
}

/*
 * Six senders flood a fresh recipient who logs in mid-burst: whatever the
 * interleaving of deliveries and the login's scan, stats and the list count
 * each file on disk once. Several rounds, as the race is narrow.
 */
static void
test_login_racing_deliveries(void **state)
{
	pthread_t th[6];
	struct flood fl[6];
	long long count, size, dcount, dsize;
	char rcpt[32];
	json_t *list;
	int round, i, fd;

	(void)state;
	close(user_conn("flooder"));
	for (round = 0; round < 12; round++) {
		snprintf(rcpt, sizeof(rcpt), "race%d", round);
		close(user_conn(rcpt));
		/* No session holds the mailbox: the next login loads it. */
		usleep(50 * 1000);
		for (i = 0; i < 6; i++) {
			fl[i].rcpt = rcpt;
			fl[i].n = 20;
			fl[i].failed = 0;
			assert_int_equal(pthread_create(&th[i], NULL, flood_run,
			    &fl[i]), 0);
		}
		usleep((useconds_t)(10 + 8 * round) * 1000);
		fd = user_conn(rcpt);
		for (i = 0; i < 6; i++) {
			pthread_join(th[i], NULL);
			assert_false(fl[i].failed);
		}
		get_stats(fd, &count, &size);
		on_disk(rcpt, &dcount, &dsize);
		assert_int_equal(dcount, 120);
		assert_int_equal(count, dcount);
		assert_int_equal(size, dsize);
		list = get_list(fd);
		assert_int_equal(json_array_size(list), dcount);
		json_decref(list);
		close(fd);
	}
}

/* What list and read return is the same, byte for byte, after a restart. */
static void
test_restart_same_bytes(void **state)
{
	char longsub[1001], subj[2048];
	struct msg *r1, *r2;
	json_t *list, *list2;
	char *d1, *d2;
	size_t i;
	int fd;

	(void)state;
	for (i = 0; i < 990; i++)
		longsub[i] = (char)('a' + i % 26);
	memcpy(longsub + 990, " \xc3\xa9t\xc3\xa9", 6);
	longsub[996] = '\0';
	fd = user_conn("stable");
	assert_int_equal(send_mail(fd, "stable@glo2000.ca", " leading space",
	    "1"), PROTO_OK);
	assert_int_equal(send_mail(fd, "stable@glo2000.ca", longsub, "2"),
	    PROTO_OK);
	assert_int_equal(send_mail(fd, "stable@glo2000.ca",
	    "=?UTF-8?B?aGk=?= lookalike", "3"), PROTO_OK);
	list = get_list(fd);
	assert_int_equal(json_array_size(list), 3);
	assert_int_equal(testsrv_request(fd, PROTO_INBOX_READING_CHOICE,
	    msg_choice_new(2), &r1), PROTO_OK);
	close(fd);
	assert_int_equal(testsrv_kill(&srv, SIGTERM) & 0x7f, 0);
	assert_int_equal(testsrv_restart_anyport(&srv, NULL), 0);
	fd = user_conn("stable");
	list2 = get_list(fd);
	d1 = json_dumps(list, JSON_ENSURE_ASCII);
	d2 = json_dumps(list2, JSON_ENSURE_ASCII);
	assert_int_equal(strlen(d1), strlen(d2));
	assert_string_equal(d1, d2);
	assert_int_equal(testsrv_request(fd, PROTO_INBOX_READING_CHOICE,
	    msg_choice_new(2), &r2), PROTO_OK);
	assert_true(json_equal(msg_payload(r1), msg_payload(r2)));
	/* The long subject came back whole, with its date. */
	assert_int_equal(read_choice(fd, 2, subj, sizeof(subj)), PROTO_OK);
	assert_string_equal(subj, longsub);
	assert_non_null(strstr(d2, "+0000\""));
	free(d1);
	free(d2);
	msg_free(r1);
	msg_free(r2);
	json_decref(list);
	json_decref(list2);
	close(fd);
}

/*
 * Without a list in the session a choice means the current order, every
 * time; after a list, that list.
 */
static void
test_read_before_list(void **state)
{
	char subj[256];
	json_t *list;
	int fd, other;

	(void)state;
	fd = user_conn("early");
	other = user_conn("early2");
	assert_int_equal(send_mail(other, "early@glo2000.ca", "first", "1"),
	    PROTO_OK);
	assert_int_equal(read_choice(fd, 1, subj, sizeof(subj)), PROTO_OK);
	assert_string_equal(subj, "first");
	assert_int_equal(send_mail(other, "early@glo2000.ca", "second", "2"),
	    PROTO_OK);
	/* Still no list: #1 is now the newest, #2 exists. */
	assert_int_equal(read_choice(fd, 1, subj, sizeof(subj)), PROTO_OK);
	assert_string_equal(subj, "second");
	assert_int_equal(read_choice(fd, 2, subj, sizeof(subj)), PROTO_OK);
	assert_string_equal(subj, "first");
	list = get_list(fd);
	json_decref(list);
	assert_int_equal(send_mail(other, "early@glo2000.ca", "third", "3"),
	    PROTO_OK);
	/* After a list, its numbers hold. */
	assert_int_equal(read_choice(fd, 1, subj, sizeof(subj)), PROTO_OK);
	assert_string_equal(subj, "second");
	assert_int_equal(read_choice(fd, 3, subj, sizeof(subj)), PROTO_ERROR);
	assert_string_equal(subj, "choice out of range");
	close(fd);
	close(other);
}

static const char foreign[] = "From: mutt@elsewhere\nTo: ext@glo2000.ca\n"
    "Subject: dropped in\nDate: Mon, 01 Jan 2001 00:00:00 +0000\n\nhi\n";

/*
 * Another program removes a file and drops one in while a session is
 * logged in: the next stats, list and read see it, and reading the removed
 * message by its old number says so.
 */
static void
test_external_changes(void **state)
{
	long long count, size, dcount, dsize;
	char name[512], path[1024], subj[256];
	json_t *list;
	int fd;

	(void)state;
	fd = user_conn("ext");
	assert_int_equal(send_mail(fd, "ext@glo2000.ca", "older", "1"),
	    PROTO_OK);
	sleep(1); /* distinct dates: a fixed order */
	assert_int_equal(send_mail(fd, "ext@glo2000.ca", "newer", "2"),
	    PROTO_OK);
	list = get_list(fd);
	assert_int_equal(json_array_size(list), 2);
	json_decref(list);
	/* Read #1 ("newer"): it moves to cur/; then rm the other. */
	assert_int_equal(read_choice(fd, 1, subj, sizeof(subj)), PROTO_OK);
	assert_string_equal(subj, "newer");
	some_file("ext", "new", name, sizeof(name));
	assert_true(name[0] != '\0');
	snprintf(path, sizeof(path), "%s/ext/new/%s", srv.data, name);
	assert_int_equal(unlink(path), 0);
	get_stats(fd, &count, &size);
	on_disk("ext", &dcount, &dsize);
	assert_int_equal(dcount, 1);
	assert_int_equal(count, dcount);
	assert_int_equal(size, dsize);
	/* The list seen still numbers it: a clear error, then a new list. */
	assert_int_equal(read_choice(fd, 2, subj, sizeof(subj)), PROTO_ERROR);
	assert_string_equal(subj, "message no longer exists");
	list = get_list(fd);
	assert_int_equal(json_array_size(list), 1);
	assert_memory_equal(json_string_value(json_array_get(list, 0)),
	    "#1 ext@glo2000.ca - newer ", 26);
	json_decref(list);
	/* Dropped in: counted, listed (oldest date), readable at once. */
	drop_file("ext", "1000.M1P1Q1.other", foreign, sizeof(foreign) - 1);
	get_stats(fd, &count, &size);
	on_disk("ext", &dcount, &dsize);
	assert_int_equal(dcount, 2);
	assert_int_equal(count, dcount);
	assert_int_equal(size, dsize);
	list = get_list(fd);
	assert_int_equal(json_array_size(list), 2);
	assert_string_equal(json_string_value(json_array_get(list, 1)),
	    "#2 mutt@elsewhere - dropped in Mon, 01 Jan 2001 00:00:00 +0000");
	json_decref(list);
	assert_int_equal(read_choice(fd, 2, subj, sizeof(subj)), PROTO_OK);
	assert_string_equal(subj, "dropped in");
	/* Removed right after a change, within the same tick. */
	some_file("ext", "cur", name, sizeof(name));
	snprintf(path, sizeof(path), "%s/ext/cur/%s", srv.data, name);
	get_stats(fd, &count, &size);
	assert_int_equal(unlink(path), 0);
	get_stats(fd, &count, &size);
	assert_int_equal(count, 1);
	close(fd);
}

/*
 * Files with huge subjects (written by another program) cannot make the
 * list larger than a client accepts: an entry's subject is cut to 998
 * bytes, and the list to its newest entries that fit the client's
 * limit and max-output (here, entries of 998 non-ASCII characters, 6 bytes
 * each in JSON).
 */
static void
test_list_bounded(void **state)
{
	size_t sublen = 1200, i, n = 3000, k, got;
	char *data, name[64], *line;
	json_t *list;
	int fd, len;

	(void)state;
	fd = user_conn("victim");
	data = malloc(3 * sublen + 256);
	for (i = 0; i < n; i++) {
		len = snprintf(data, 64, "From: x@y\nSubject: %c", 'A' +
		    (int)(i % 26));
		for (k = 0; k < sublen; k++, len += 3)
			memcpy(data + len, "\xe2\x9c\x93", 3);
		len += snprintf(data + len, 200, "\nDate: Mon, 01 Jan 2001 "
		    "%02zu:%02zu:%02zu +0000\n\nx\n", i / 3600, i / 60 % 60,
		    i % 60);
		snprintf(name, sizeof(name), "%zu.M1P1Q%zu.big", 1000 + i, i);
		drop_file("victim", name, data, (size_t)len);
	}
	list = get_list(fd);
	got = json_array_size(list);
	/*
	 * Cut to what one client may have queued (max-output, 4 MiB here,
	 * below the client's 16 MiB): each entry is 998 escaped characters.
	 */
	/*
	 * Cut to what one client may have queued (max-output, 4 MiB here,
	 * below the client's 16 MiB). Each entry's subject is cut to its
	 * first 998 bytes that end a character: "A" and 332 check marks,
	 * 6 bytes each in JSON.
	 */
	assert_true(got < n);
	assert_true(got * (1 + 332 * 6) <= (size_t)4 << 20);
	assert_true(got * (1 + 332 * 6 + 80) > ((size_t)4 << 20) * 8 / 10);
	/* Newest first, numbered from 1. */
	line = malloc(4096);
	len = snprintf(line, 4096, "#1 x@y - %c", 'A' + (int)((n - 1) % 26));
	for (k = 0; k < 332; k++, len += 3)
		memcpy(line + len, "\xe2\x9c\x93", 3);
	snprintf(line + len, 64, " Mon, 01 Jan 2001 %02zu:%02zu:%02zu +0000",
	    (n - 1) / 3600, (n - 1) / 60 % 60, (n - 1) % 60);
	assert_string_equal(json_string_value(json_array_get(list, 0)), line);
	json_decref(list);
	/* The numbers are the list's: the last shown reads, past it not. */
	assert_int_equal(read_choice(fd, (long long)got, line, 4096),
	    PROTO_OK);
	assert_int_equal(read_choice(fd, (long long)got + 1, line, 4096),
	    PROTO_ERROR);
	assert_string_equal(line, "choice out of range");
	free(line);
	free(data);
	close(fd);
}

/* A file too large for any reply a client accepts: a clear ERROR. */
static void
test_read_too_large(void **state)
{
	size_t len = FRAME_REPLY_MAX + 4096;
	char *data, subj[256];
	json_t *list;
	int fd, n;

	(void)state;
	fd = user_conn("huge");
	data = malloc(len);
	n = snprintf(data, 200, "From: x@y\nSubject: huge\nDate: Mon, 01 Jan "
	    "2001 00:00:00 +0000\n\n");
	memset(data + n, 'x', len - (size_t)n);
	drop_file("huge", "1.M1P1Q1.big", data, len);
	free(data);
	list = get_list(fd);
	assert_int_equal(json_array_size(list), 1);
	json_decref(list);
	assert_int_equal(read_choice(fd, 1, subj, sizeof(subj)), PROTO_ERROR);
	assert_string_equal(subj, "message too large to be read");
	/* The session goes on. */
	assert_int_equal(read_choice(fd, 2, subj, sizeof(subj)), PROTO_ERROR);
	assert_string_equal(subj, "choice out of range");
	close(fd);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_login_racing_deliveries),
		cmocka_unit_test(test_restart_same_bytes),
		cmocka_unit_test(test_read_before_list),
		cmocka_unit_test(test_external_changes),
		cmocka_unit_test(test_list_bounded),
		cmocka_unit_test(test_read_too_large),
	};

	return cmocka_run_group_tests(tests, group_setup, group_teardown);
}
