/*
 * test_mailbox_ext.c - the mailbox extension end to end: structured lists
 * with stable ids, read, delete, flags and search by id, password change
 * and new-mail notices, against a real glomaild over loopback, with the
 * store checked on disk and every error path.
 */
#include <sys/socket.h>
#include <sys/stat.h>

#include <dirent.h>
#include <errno.h>
#include <poll.h>
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
#include "testfs.h"
#include "testsrv.h"
#include "wire.h"

#define PASSWORD "Interop0Passw"
#define NEW_PASSWORD "Changed1Passw"

static struct testsrv srv;

static int
user_conn(const char *user)
{
	int fd = testsrv_user(&srv, user, PASSWORD);

	assert_true(fd >= 0);
	return fd;
}

/* An OK reply's payload (a new reference; json null when none). */
static json_t *
ok(int fd, int header, json_t *payload)
{
	struct msg *reply = NULL;
	json_t *p;

	assert_int_equal(testsrv_request(fd, header, payload, &reply),
	    PROTO_OK);
	p = msg_payload(reply);
	p = p != NULL ? json_incref(p) : json_null();
	msg_free(reply);
	return p;
}

/* Expect an ERROR reply and return its text (static buffer). */
static const char *
error_of(int fd, int header, json_t *payload)
{
	static char text[256];
	struct msg *reply = NULL;
	union msg_args a;
	const char *why;

	assert_int_equal(testsrv_request(fd, header, payload, &reply),
	    PROTO_ERROR);
	assert_int_equal(msg_unpack(reply, PROTO_SHAPE_ERROR, &a, &why), 0);
	snprintf(text, sizeof(text), "%s", a.error_message);
	msg_free(reply);
	return text;
}

static void
send_to(int fd, const char *to, const char *subject, const char *content)
{
	char dest[128];

	snprintf(dest, sizeof(dest), "%s@glo2000.ca", to);
	assert_int_equal(testsrv_request(fd, PROTO_EMAIL_SENDING,
	                     json_pack("{s:s, s:s, s:s}", "destination", dest,
	                         "subject", subject, "content", content),
	                     NULL),
	    PROTO_OK);
}

static json_t *
list(int fd, json_t *query)
{
	return ok(fd, PROTO_MAILBOX_LIST, query);
}

/* The id of the n-th (from 0) message of a list reply (borrowed). */
static const char *
id_at(json_t *reply, size_t n)
{
	json_t *m = json_array_get(json_object_get(reply, "messages"), n);

	assert_non_null(m);
	return json_string_value(json_object_get(m, "id"));
}

static json_t *
field_at(json_t *reply, size_t n, const char *key)
{
	json_t *m = json_array_get(json_object_get(reply, "messages"), n);

	assert_non_null(m);
	return json_object_get(m, key);
}

static long long
total(json_t *reply)
{
	return json_integer_value(json_object_get(reply, "total"));
}

static size_t
count(json_t *reply)
{
	return json_array_size(json_object_get(reply, "messages"));
}

static json_t *
ids1(const char *id)
{
	return json_pack("{s:[s]}", "ids", id);
}

/* The name of the one file in DATA/user/sub whose name starts with id. */
static int
find_file(const char *user, const char *sub, const char *id, char *name,
    size_t len)
{
	char path[512];
	struct dirent *de;
	DIR *d;
	int found = 0;

	snprintf(path, sizeof(path), "%s/%s/%s", srv.data, user, sub);
	if ((d = opendir(path)) == NULL)
		return 0;
	while ((de = readdir(d)) != NULL) {
		if (strncmp(de->d_name, id, strlen(id)) == 0 &&
		    (de->d_name[strlen(id)] == ':' ||
		        de->d_name[strlen(id)] == '\0')) {
			snprintf(name, len, "%s", de->d_name);
			found++;
		}
	}
	closedir(d);
	return found;
}

static void
test_list_structured(void **state)
{
	json_t *r, *m;
	int a, b;

	(void)state;
	a = user_conn("lsa");
	b = user_conn("lsb");
	send_to(a, "lsb", "first", "one\n");
	send_to(a, "lsb", "second", "two\n");
	send_to(a, "lsb", "R\xc3\xa9union", "three\n");
	r = list(b, NULL);
	assert_int_equal(total(r), 3);
	assert_int_equal(count(r), 3);
	assert_int_equal(json_integer_value(json_object_get(r, "offset")), 0);
	/* Newest first, numbered as the seed's list numbers them. */
	m = json_array_get(json_object_get(r, "messages"), 0);
	assert_int_equal(json_integer_value(json_object_get(m, "number")), 1);
	assert_string_equal(json_string_value(json_object_get(m, "subject")),
	    "R\xc3\xa9union");
	assert_string_equal(json_string_value(json_object_get(m, "from")),
	    "lsa@glo2000.ca");
	assert_string_equal(json_string_value(json_object_get(m, "to")),
	    "lsb@glo2000.ca");
	assert_string_equal(json_string_value(json_object_get(m, "cc")), "");
	assert_non_null(
	    strstr(json_string_value(json_object_get(m, "date")), "+0000"));
	assert_true(json_integer_value(json_object_get(m, "size")) > 100);
	assert_true(json_is_false(json_object_get(m, "seen")));
	assert_true(json_is_false(json_object_get(m, "flagged")));
	/* The id is the file's name in new/, without flags. */
	{
		char name[256];

		assert_int_equal(find_file("lsb", "new", id_at(r, 0), name,
		                     sizeof(name)),
		    1);
		assert_string_equal(name, id_at(r, 0));
	}
	assert_string_equal(json_string_value(field_at(r, 2, "subject")),
	    "first");
	json_decref(r);
	/* A page: the total stays the whole count. */
	r = list(b, json_pack("{s:i, s:i}", "offset", 1, "limit", 1));
	assert_int_equal(total(r), 3);
	assert_int_equal(count(r), 1);
	assert_int_equal(json_integer_value(field_at(r, 0, "number")), 2);
	assert_string_equal(json_string_value(field_at(r, 0, "subject")),
	    "second");
	json_decref(r);
	r = list(b, json_pack("{s:i}", "offset", 3));
	assert_int_equal(total(r), 3);
	assert_int_equal(count(r), 0);
	json_decref(r);
	/* The seed's choice refers to the list this connection last saw. */
	r = ok(b, PROTO_INBOX_READING_CHOICE, msg_choice_new(3));
	assert_string_equal(json_string_value(json_object_get(r, "subject")),
	    "first");
	json_decref(r);
	/* Unread only: the one read is left out; numbers stay the list's. */
	r = list(b, json_pack("{s:b}", "unread", 1));
	assert_int_equal(total(r), 2);
	assert_int_equal(json_integer_value(field_at(r, 0, "number")), 1);
	assert_int_equal(json_integer_value(field_at(r, 1, "number")), 2);
	json_decref(r);
	r = list(b, NULL);
	assert_true(json_is_true(field_at(r, 2, "seen")));
	json_decref(r);
	close(a);
	close(b);
}

static void
test_read_by_id(void **state)
{
	char name[256], id[256];
	json_t *r;
	int a, b;

	(void)state;
	a = user_conn("rda");
	b = user_conn("rdb");
	send_to(a, "rdb", "hello", "body text\n");
	r = list(b, NULL);
	snprintf(id, sizeof(id), "%s", id_at(r, 0));
	json_decref(r);
	r = ok(b, PROTO_MAILBOX_READ, json_pack("{s:s}", "id", id));
	assert_string_equal(json_string_value(json_object_get(r, "sender")),
	    "rda@glo2000.ca");
	assert_string_equal(json_string_value(json_object_get(r, "content")),
	    "body text\n");
	assert_string_equal(json_string_value(json_object_get(r, "id")), id);
	assert_true(json_is_true(json_object_get(r, "seen")));
	json_decref(r);
	/* Read means seen, on disk: cur/ with S; the id does not change. */
	assert_int_equal(find_file("rdb", "new", id, name, sizeof(name)), 0);
	assert_int_equal(find_file("rdb", "cur", id, name, sizeof(name)), 1);
	assert_string_equal(strchr(name, ':'), ":2,S");
	r = list(b, NULL);
	assert_string_equal(id_at(r, 0), id);
	assert_true(json_is_true(field_at(r, 0, "seen")));
	json_decref(r);
	/* Another account's id is no message for this one. */
	assert_string_equal(error_of(a, PROTO_MAILBOX_READ,
	                        json_pack("{s:s}", "id", id)),
	    "no such message");
	close(a);
	close(b);
}

static void
test_errors(void **state)
{
	int fd, anon;

	(void)state;
	fd = user_conn("era");
	send_to(fd, "era", "x", "y");
	assert_string_equal(error_of(fd, PROTO_MAILBOX_LIST,
	                        json_pack("{s:i}", "offset", -1)),
	    "offset out of range");
	assert_string_equal(error_of(fd, PROTO_MAILBOX_LIST,
	                        json_pack("{s:I}", "offset",
	                            (json_int_t)1 << 40)),
	    "offset out of range");
	assert_string_equal(error_of(fd, PROTO_MAILBOX_LIST,
	                        json_pack("{s:i}", "limit", -5)),
	    "limit out of range");
	assert_string_equal(error_of(fd, PROTO_MAILBOX_LIST,
	                        json_pack("{s:i}", "limit", 10001)),
	    "limit out of range");
	assert_string_equal(error_of(fd, PROTO_MAILBOX_LIST,
	                        json_pack("{s:s}", "offset", "2")),
	    "field is not an integer: offset");
	assert_string_equal(error_of(fd, PROTO_MAILBOX_LIST,
	                        json_pack("{s:i}", "unread", 1)),
	    "field is not a boolean: unread");
	assert_string_equal(error_of(fd, PROTO_MAILBOX_READ, NULL),
	    "missing field: id");
	assert_string_equal(error_of(fd, PROTO_MAILBOX_READ,
	                        json_pack("{s:i}", "id", 3)),
	    "field is not a string: id");
	assert_string_equal(error_of(fd, PROTO_MAILBOX_READ,
	                        json_pack("{s:s}", "id", "")),
	    "invalid message id");
	assert_string_equal(error_of(fd, PROTO_MAILBOX_READ,
	                        json_pack("{s:s}", "id", "../../etc/passwd")),
	    "invalid message id");
	assert_string_equal(error_of(fd, PROTO_MAILBOX_READ,
	                        json_pack("{s:s}", "id",
	                            "1700000000.M1P1Q1.nohost")),
	    "no such message");
	assert_string_equal(error_of(fd, PROTO_MAILBOX_DELETE,
	                        json_pack("{s:[]}", "ids")),
	    "ids is empty");
	assert_string_equal(error_of(fd, PROTO_MAILBOX_DELETE,
	                        json_pack("{s:s}", "ids", "x")),
	    "ids is not a list");
	assert_string_equal(error_of(fd, PROTO_MAILBOX_DELETE,
	                        json_pack("{s:[i]}", "ids", 1)),
	    "ids holds a non-string");
	assert_string_equal(error_of(fd, PROTO_MAILBOX_DELETE, ids1("nope")),
	    "no such message");
	assert_string_equal(error_of(fd, PROTO_MAILBOX_FLAGS,
	                        json_pack("{s:[s], s:[s]}", "ids", "nope",
	                            "add", "deleted")),
	    "unknown flag");
	assert_string_equal(error_of(fd, PROTO_MAILBOX_FLAGS,
	                        json_pack("{s:[s], s:[i]}", "ids", "nope",
	                            "add", 1)),
	    "unknown flag");
	assert_string_equal(error_of(fd, PROTO_MAILBOX_FLAGS,
	                        json_pack("{s:[s]}", "ids", "nope")),
	    "no flag to change");
	assert_string_equal(error_of(fd, PROTO_MAILBOX_FLAGS,
	                        json_pack("{s:[s], s:[s], s:[s]}", "ids",
	                            "nope", "add", "seen", "remove", "seen")),
	    "a flag both added and removed");
	assert_string_equal(error_of(fd, PROTO_MAILBOX_SEARCH,
	                        json_pack("{s:s}", "since", "yesterday")),
	    "invalid date: since");
	assert_string_equal(error_of(fd, PROTO_MAILBOX_SEARCH,
	                        json_pack("{s:s}", "before", "2024-13-01")),
	    "invalid date: before");
	assert_string_equal(error_of(fd, PROTO_MAILBOX_SEARCH,
	                        json_pack("{s:i}", "subject", 1)),
	    "field is not a string: subject");
	/* The server keeps serving the connection after each. */
	json_decref(list(fd, NULL));
	/* Not logged in: the gate answers before any handler. */
	anon = testsrv_connect(&srv);
	assert_string_equal(error_of(anon, PROTO_MAILBOX_LIST, NULL),
	    "not logged in");
	assert_string_equal(error_of(anon, PROTO_MAILBOX_DELETE, ids1("x")),
	    "not logged in");
	assert_string_equal(error_of(anon, PROTO_PASSWORD_CHANGE,
	                        json_pack("{s:s, s:s}", "password", "a",
	                            "new_password", "b")),
	    "not logged in");
	assert_string_equal(error_of(anon, PROTO_NOTICES_SUBSCRIBE, NULL),
	    "not logged in");
	/* A notice is the server's: a client sending one is refused. */
	assert_string_equal(error_of(fd, PROTO_NEW_MAIL,
	                        json_pack("{s:s, s:s, s:s}", "id", "x",
	                            "sender", "y", "subject", "z")),
	    "unknown request");
	close(anon);
	close(fd);
}

static void
test_delete(void **state)
{
	char id0[256], id1[256], id2[256], name[256];
	struct msg *reply;
	union msg_args a;
	const char *why;
	json_t *r;
	int fa, fb;

	(void)state;
	fa = user_conn("dla");
	fb = user_conn("dlb");
	send_to(fa, "dlb", "m1", "1");
	send_to(fa, "dlb", "m2", "2");
	send_to(fa, "dlb", "m3", "3");
	send_to(fa, "dla", "mine", "a's own");
	r = list(fb, NULL);
	snprintf(id0, sizeof(id0), "%s", id_at(r, 0));
	snprintf(id1, sizeof(id1), "%s", id_at(r, 1));
	snprintf(id2, sizeof(id2), "%s", id_at(r, 2));
	json_decref(r);
	/* Read one first: a message in cur/ is deleted as well. */
	json_decref(ok(fb, PROTO_MAILBOX_READ, json_pack("{s:s}", "id", id1)));
	/* One bad id: nothing is deleted. */
	assert_string_equal(error_of(fb, PROTO_MAILBOX_DELETE,
	                        json_pack("{s:[s, s]}", "ids", id0, "nope")),
	    "no such message");
	assert_string_equal(error_of(fb, PROTO_MAILBOX_DELETE,
	                        json_pack("{s:[s, s]}", "ids", id0, id0)),
	    "duplicate message id");
	assert_int_equal(testfs_count("%s/dlb/new", srv.data) +
	                     testfs_count("%s/dlb/cur", srv.data),
	    3);
	/* Another account's id: refused, and that message stays. */
	r = list(fa, NULL);
	assert_string_equal(error_of(fb, PROTO_MAILBOX_DELETE,
	                        ids1(id_at(r, 0))),
	    "no such message");
	assert_int_equal(testfs_count("%s/dla/new", srv.data), 1);
	json_decref(r);
	r = ok(fb, PROTO_MAILBOX_DELETE,
	    json_pack("{s:[s, s]}", "ids", id0, id1));
	assert_int_equal(json_integer_value(json_object_get(r, "deleted")), 2);
	json_decref(r);
	/* Gone from disk (both directories) and from lists and stats. */
	assert_int_equal(find_file("dlb", "new", id0, name, sizeof(name)), 0);
	assert_int_equal(find_file("dlb", "cur", id1, name, sizeof(name)), 0);
	assert_int_equal(testfs_count("%s/dlb/new", srv.data) +
	                     testfs_count("%s/dlb/cur", srv.data),
	    1);
	r = list(fb, NULL);
	assert_int_equal(total(r), 1);
	assert_string_equal(id_at(r, 0), id2);
	json_decref(r);
	assert_int_equal(testsrv_request(fb, PROTO_STATS_REQUEST, NULL, &reply),
	    PROTO_OK);
	assert_int_equal(msg_unpack(reply, PROTO_SHAPE_STATS, &a, &why), 0);
	assert_int_equal(a.stats.count, 1);
	msg_free(reply);
	/* Deleted twice. */
	assert_string_equal(error_of(fb, PROTO_MAILBOX_DELETE, ids1(id0)),
	    "no such message");
	assert_string_equal(error_of(fb, PROTO_MAILBOX_READ,
	                        json_pack("{s:s}", "id", id0)),
	    "no such message");
	close(fa);
	close(fb);
}

/* A choice that refers to a list made before a delete. */
static void
test_delete_then_choice(void **state)
{
	json_t *r;
	int fd, other;

	(void)state;
	fd = user_conn("dca");
	other = user_conn("dca");
	send_to(fd, "dca", "old", "o");
	send_to(fd, "dca", "new", "n");
	json_decref(ok(fd, PROTO_INBOX_READING_REQUEST, NULL));
	r = list(other, NULL);
	json_decref(ok(other, PROTO_MAILBOX_DELETE, ids1(id_at(r, 0))));
	json_decref(r);
	/* The first connection's #1 was deleted by the other session. */
	assert_string_equal(error_of(fd, PROTO_INBOX_READING_CHOICE,
	                        msg_choice_new(1)),
	    "message no longer exists");
	r = ok(fd, PROTO_INBOX_READING_CHOICE, msg_choice_new(2));
	assert_string_equal(json_string_value(json_object_get(r, "subject")),
	    "old");
	json_decref(r);
	close(fd);
	close(other);
}

static void
test_flags(void **state)
{
	char id[256], name[256];
	json_t *r;
	int fd;

	(void)state;
	fd = user_conn("fla");
	send_to(fd, "fla", "flag me", "x");
	r = list(fd, NULL);
	snprintf(id, sizeof(id), "%s", id_at(r, 0));
	json_decref(r);
	r = ok(fd, PROTO_MAILBOX_FLAGS,
	    json_pack("{s:[s], s:[s]}", "ids", id, "add", "flagged"));
	assert_int_equal(json_integer_value(json_object_get(r, "changed")), 1);
	json_decref(r);
	/* On disk as Maildir info flags, in cur/, still unseen. */
	assert_int_equal(find_file("fla", "cur", id, name, sizeof(name)), 1);
	assert_string_equal(strchr(name, ':'), ":2,F");
	r = list(fd, NULL);
	assert_true(json_is_true(field_at(r, 0, "flagged")));
	assert_true(json_is_false(field_at(r, 0, "seen")));
	assert_string_equal(id_at(r, 0), id);
	json_decref(r);
	json_decref(ok(fd, PROTO_MAILBOX_FLAGS,
	    json_pack("{s:[s], s:[s]}", "ids", id, "add", "seen")));
	assert_int_equal(find_file("fla", "cur", id, name, sizeof(name)), 1);
	assert_string_equal(strchr(name, ':'), ":2,FS");
	json_decref(ok(fd, PROTO_MAILBOX_FLAGS,
	    json_pack("{s:[s], s:[s, s]}", "ids", id, "remove", "seen",
	        "flagged")));
	assert_int_equal(find_file("fla", "cur", id, name, sizeof(name)), 1);
	assert_string_equal(strchr(name, ':'), ":2,");
	r = list(fd, json_pack("{s:b}", "unread", 1));
	assert_int_equal(total(r), 1);
	json_decref(r);
	/* Setting a flag it has is no change, and no error. */
	json_decref(ok(fd, PROTO_MAILBOX_FLAGS,
	    json_pack("{s:[s], s:[s]}", "ids", id, "remove", "seen")));
	/* A file another program renamed meanwhile is followed. */
	{
		char from[700], to[700];

		snprintf(from, sizeof(from), "%s/fla/cur/%s", srv.data, name);
		snprintf(to, sizeof(to), "%s/fla/cur/%s:2,T", srv.data, id);
		assert_int_equal(rename(from, to), 0);
	}
	json_decref(ok(fd, PROTO_MAILBOX_FLAGS,
	    json_pack("{s:[s], s:[s]}", "ids", id, "add", "flagged")));
	assert_int_equal(find_file("fla", "cur", id, name, sizeof(name)), 1);
	assert_string_equal(strchr(name, ':'), ":2,FT");
	/* Deleted behind the server's back: no such message. */
	{
		char path[700];

		snprintf(path, sizeof(path), "%s/fla/cur/%s", srv.data, name);
		assert_int_equal(unlink(path), 0);
	}
	assert_string_equal(error_of(fd, PROTO_MAILBOX_FLAGS,
	                        json_pack("{s:[s], s:[s]}", "ids", id, "add",
	                            "seen")),
	    "no such message");
	r = list(fd, NULL);
	assert_int_equal(total(r), 0);
	json_decref(r);
	close(fd);
}

static json_t *
search(int fd, json_t *q)
{
	return ok(fd, PROTO_MAILBOX_SEARCH, q);
}

static void
test_search(void **state)
{
	json_t *r;
	int a, b;

	(void)state;
	a = user_conn("sra");
	b = user_conn("srb");
	send_to(a, "srb", "R\xc3\xa9union budget", "On parle de CHIFFRES.\n");
	send_to(b, "srb", "Lunch", "Pizza? \xc3\x89t\xc3\xa9 is near.\n");
	send_to(a, "srb", "Other", "nothing\n");
	r = search(b, json_pack("{s:s}", "subject", "R\xc3\x89UNION"));
	assert_int_equal(total(r), 1);
	assert_string_equal(json_string_value(field_at(r, 0, "subject")),
	    "R\xc3\xa9union budget");
	/* Entries are the list's: numbers as the list numbers them. */
	assert_int_equal(json_integer_value(field_at(r, 0, "number")), 3);
	json_decref(r);
	r = search(b, json_pack("{s:s}", "from", "SRA@"));
	assert_int_equal(total(r), 2);
	json_decref(r);
	r = search(b, json_pack("{s:s}", "to", "srb"));
	assert_int_equal(total(r), 3);
	json_decref(r);
	r = search(b, json_pack("{s:s}", "body", "chiffres"));
	assert_int_equal(total(r), 1);
	assert_string_equal(json_string_value(field_at(r, 0, "subject")),
	    "R\xc3\xa9union budget");
	json_decref(r);
	r = search(b, json_pack("{s:s}", "body", "\xc3\xa9t\xc3\xa9"));
	assert_int_equal(total(r), 1);
	assert_string_equal(json_string_value(field_at(r, 0, "subject")),
	    "Lunch");
	json_decref(r);
	/* Criteria combine; text looks in headers and body. */
	r = search(b, json_pack("{s:s, s:s}", "from", "sra", "body", "pizza"));
	assert_int_equal(total(r), 0);
	json_decref(r);
	r = search(b, json_pack("{s:s}", "text", "pizza"));
	assert_int_equal(total(r), 1);
	json_decref(r);
	r = search(b, json_pack("{s:s}", "text", "other"));
	assert_int_equal(total(r), 1);
	json_decref(r);
	r = search(b, json_pack("{s:s}", "since", "2000-01-01"));
	assert_int_equal(total(r), 3);
	json_decref(r);
	r = search(b, json_pack("{s:s}", "before", "2000-01-01"));
	assert_int_equal(total(r), 0);
	json_decref(r);
	r = search(b,
	    json_pack("{s:s, s:i, s:i}", "to", "srb", "offset", 2, "limit", 5));
	assert_int_equal(total(r), 3);
	assert_int_equal(count(r), 1);
	json_decref(r);
	/* Another account's mail is never searched. */
	r = search(a, json_pack("{s:s}", "body", "chiffres"));
	assert_int_equal(total(r), 0);
	json_decref(r);
	close(a);
	close(b);
}

static void
test_password_change(void **state)
{
	const char *weak;
	int fd, other, fresh;

	(void)state;
	fd = user_conn("pwa");
	other = user_conn("pwa");
	assert_string_equal(error_of(fd, PROTO_PASSWORD_CHANGE,
	                        json_pack("{s:s, s:s}", "password",
	                            "Wrong0Password", "new_password",
	                            NEW_PASSWORD)),
	    "wrong current password");
	weak = error_of(fd, PROTO_PASSWORD_CHANGE,
	    json_pack("{s:s, s:s}", "password", PASSWORD, "new_password",
	        "weakpass"));
	assert_string_equal(weak,
	    "password must have at least 10 characters, "
	    "a digit, a lower-case and an upper-case letter");
	assert_string_equal(error_of(fd, PROTO_PASSWORD_CHANGE,
	                        json_pack("{s:s}", "password", PASSWORD)),
	    "missing field: new_password");
	/* Nothing changed so far. */
	fresh = testsrv_connect(&srv);
	assert_int_equal(testsrv_auth(fresh, PROTO_AUTH_LOGIN, "pwa", PASSWORD),
	    PROTO_OK);
	close(fresh);
	json_decref(ok(fd, PROTO_PASSWORD_CHANGE,
	    json_pack("{s:s, s:s}", "password", PASSWORD, "new_password",
	        NEW_PASSWORD)));
	fresh = testsrv_connect(&srv);
	assert_int_equal(testsrv_auth(fresh, PROTO_AUTH_LOGIN, "pwa",
	                     NEW_PASSWORD),
	    PROTO_OK);
	close(fresh);
	fresh = testsrv_connect(&srv);
	assert_int_equal(testsrv_auth(fresh, PROTO_AUTH_LOGIN, "pwa", PASSWORD),
	    PROTO_ERROR);
	close(fresh);
	/* Other sessions of the account stay logged in. */
	json_decref(list(other, NULL));
	/* The old password no longer changes it. */
	assert_string_equal(error_of(other, PROTO_PASSWORD_CHANGE,
	                        json_pack("{s:s, s:s}", "password", PASSWORD,
	                            "new_password", "Another1Passw")),
	    "wrong current password");
	/* The hash was replaced whole: one Argon2id string, no leftovers. */
	{
		char path[512], *pass;

		snprintf(path, sizeof(path), "%s/pwa/pass", srv.data);
		assert_non_null(pass = testsrv_read_file(path));
		assert_memory_equal(pass, "$argon2id$", 10);
		assert_null(strstr(pass + 1, "$argon2id$"));
		free(pass);
		assert_int_equal(testfs_count_prefix(".pass", "%s/pwa",
		                     srv.data),
		    0);
	}
	close(fd);
	close(other);
}

/* Read one frame within ms milliseconds; its header, or -1 on timeout. */
static int
recv_within(int fd, int ms, struct msg **m)
{
	struct pollfd p = { fd, POLLIN, 0 };
	const char *why;

	if (poll(&p, 1, ms) != 1)
		return -1;
	if (wire_recv(fd, FRAME_MAX_DEFAULT * 8, m, &why) == -1)
		return -1;
	return (int)msg_header(*m);
}

static void
test_notices(void **state)
{
	struct msg *m = NULL;
	union msg_args a;
	const char *why;
	json_t *r;
	int sender, sub, plain, again;

	(void)state;
	sender = user_conn("nta");
	sub = user_conn("ntb");
	plain = user_conn("ntb");
	json_decref(ok(sub, PROTO_NOTICES_SUBSCRIBE, NULL));
	/* Twice is once. */
	json_decref(ok(sub, PROTO_NOTICES_SUBSCRIBE, NULL));
	send_to(sender, "ntb", "Nouvelles \xc3\xa9", "x");
	assert_int_equal(recv_within(sub, 5000, &m), PROTO_NEW_MAIL);
	assert_int_equal(msg_unpack(m, PROTO_SHAPE_NOTICE, &a, &why), 0);
	assert_string_equal(a.notice.sender, "nta@glo2000.ca");
	assert_string_equal(a.notice.subject, "Nouvelles \xc3\xa9");
	r = list(sub, NULL);
	assert_string_equal(id_at(r, 0), a.notice.id);
	json_decref(r);
	msg_free(m);
	/* Exactly one notice for one delivery. */
	assert_int_equal(recv_within(sub, 200, &m), -1);
	/* A session that did not subscribe gets none: its next frame is the
	 * reply to its request. */
	r = ok(plain, PROTO_STATS_REQUEST, NULL);
	json_decref(r);
	/* Unsubscribed: no more. */
	json_decref(ok(sub, PROTO_NOTICES_UNSUBSCRIBE, NULL));
	send_to(sender, "ntb", "quiet", "x");
	assert_int_equal(recv_within(sub, 300, &m), -1);
	/* A logout ends a subscription too; a new login starts without. */
	again = user_conn("ntb");
	json_decref(ok(again, PROTO_NOTICES_SUBSCRIBE, NULL));
	assert_int_equal(wire_send(again, PROTO_AUTH_LOGOUT, NULL,
	                     FRAME_MAX_DEFAULT),
	    0);
	assert_int_equal(testsrv_auth(again, PROTO_AUTH_LOGIN, "ntb", PASSWORD),
	    PROTO_OK);
	send_to(sender, "ntb", "after logout", "x");
	assert_int_equal(recv_within(again, 300, &m), -1);
	/* A subscriber that closed is forgotten: delivery goes on. */
	json_decref(ok(again, PROTO_NOTICES_SUBSCRIBE, NULL));
	close(again);
	usleep(100 * 1000);
	send_to(sender, "ntb", "after close", "x");
	close(sender);
	close(sub);
	close(plain);
}

/*
 * A notice comes between frames, never inside one: a subscriber that
 * pipelines requests while mail arrives reads whole frames, its replies in
 * order, each notice whole.
 */
static void
test_notices_between_frames(void **state)
{
	struct msg *m = NULL;
	int sender, sub, i, replies = 0, notices = 0, h;

	(void)state;
	sender = user_conn("nfa");
	sub = user_conn("nfb");
	for (i = 0; i < 30; i++)
		send_to(sender, "nfb", "filler",
		    "a body long enough to matter");
	json_decref(ok(sub, PROTO_NOTICES_SUBSCRIBE, NULL));
	for (i = 0; i < 20; i++) {
		assert_int_equal(wire_send(sub, PROTO_MAILBOX_LIST, NULL,
		                     FRAME_MAX_DEFAULT),
		    0);
		send_to(sender, "nfb", "while listing", "x");
	}
	while (replies < 20 || notices < 20) {
		h = recv_within(sub, 5000, &m);
		assert_true(h == PROTO_OK || h == PROTO_NEW_MAIL);
		if (h == PROTO_OK)
			replies++;
		else
			notices++;
		msg_free(m);
	}
	assert_int_equal(replies, 20);
	assert_int_equal(notices, 20);
	close(sender);
	close(sub);
}

/*
 * A subscriber that never reads loses notices, not server memory: with
 * max-output at its least, once the kernel's buffers and its queue are
 * full of replies it did not read, deliveries go on and are acknowledged,
 * the notices are dropped, and what it reads later is whole frames.
 */
static void
test_notices_bounded(void **state)
{
	static const char *const extra[] = { "--max-output", "4096", NULL };
	struct testsrv small;
	struct msg *m = NULL;
	int sender, sub, i, h, replies = 0, notices = 0, batch;
	int sent = 0, delivered = 0;

	(void)state;
	assert_int_equal(testsrv_start(&small, extra), 0);
	sender = testsrv_user(&small, "nba", PASSWORD);
	sub = testsrv_connect(&small);
	assert_true(sender >= 0 && sub >= 0);
	assert_int_equal(testsrv_auth(sub, PROTO_AUTH_REGISTER, "nbb",
	                     PASSWORD),
	    PROTO_OK);
	for (i = 0; i < 25; i++)
		assert_int_equal(testsrv_request(sender, PROTO_EMAIL_SENDING,
		                     json_pack("{s:s, s:s, s:s}", "destination",
		                         "nbb@glo2000.ca", "subject",
		                         "a subject of some length, to "
		                         "fill lists",
		                         "content", "x"),
		                     NULL),
		    PROTO_OK);
	assert_int_equal(testsrv_request(sub, PROTO_NOTICES_SUBSCRIBE, NULL,
	                     NULL),
	    PROTO_OK);
	/* Lists it does not read, about 6 KiB each, until the kernel's
	 * buffers and its queue are full and a delivery's notice is dropped. */
	for (batch = 0;
	     batch < 40 && !testsrv_log_contains(&small, "notices dropped");
	     batch++) {
		for (i = 0; i < 200; i++)
			assert_int_equal(wire_send(sub, PROTO_MAILBOX_LIST,
			                     NULL, FRAME_MAX_DEFAULT),
			    0);
		sent += 200;
		usleep(100 * 1000);
		assert_int_equal(testsrv_request(sender, PROTO_EMAIL_SENDING,
		                     json_pack("{s:s, s:s, s:s}", "destination",
		                         "nbb@glo2000.ca", "subject", "late",
		                         "content", "x"),
		                     NULL),
		    PROTO_OK);
		delivered++;
	}
	assert_true(testsrv_log_contains(&small, "notices dropped"));
	/* Now it reads: every reply, whole, and fewer notices than mail. */
	while (replies < sent) {
		h = recv_within(sub, 5000, &m);
		assert_true(h == PROTO_OK || h == PROTO_NEW_MAIL);
		if (h == PROTO_OK)
			replies++;
		else
			notices++;
		msg_free(m);
	}
	while (recv_within(sub, 300, &m) == PROTO_NEW_MAIL) {
		notices++;
		msg_free(m);
	}
	assert_true(notices < delivered);
	close(sender);
	close(sub);
	testsrv_stop(&small);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_list_structured),
		cmocka_unit_test(test_read_by_id),
		cmocka_unit_test(test_errors),
		cmocka_unit_test(test_delete),
		cmocka_unit_test(test_delete_then_choice),
		cmocka_unit_test(test_flags),
		cmocka_unit_test(test_search),
		cmocka_unit_test(test_password_change),
		cmocka_unit_test(test_notices),
		cmocka_unit_test(test_notices_between_frames),
		cmocka_unit_test(test_notices_bounded),
	};

	/* One test alone, by name: TEST_FILTER=test_search. */
	if (getenv("TEST_FILTER") != NULL)
		cmocka_set_test_filter(getenv("TEST_FILTER"));
	testsrv_use(&srv, NULL);
	return cmocka_run_group_tests(tests, testsrv_setup, testsrv_teardown);
}
