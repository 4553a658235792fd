/*
 * test_server.c - glomaild end to end: a real server on a free loopback
 * port, a fresh data directory, every flow and error path over sockets.
 */
#include <sys/socket.h>
#include <sys/stat.h>

#include <dirent.h>
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
#include "rules.h"
#include "testfs.h"
#include "testsrv.h"
#include "wire.h"

#define PASSWORD "Interop0Passw"

static struct testsrv srv;

/* A new connection logged in as user (registered on first use). */
static int
user_conn(const char *user)
{
	int fd = testsrv_user(&srv, user, PASSWORD);

	assert_true(fd >= 0);
	return fd;
}

/* Expect an ERROR reply and return its text (static buffer). */
static const char *
expect_error(int fd, int header, json_t *payload)
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

static json_t *
email(const char *sender, const char *dest, const char *subject,
    const char *content)
{
	struct msg_email e = { sender, dest, subject,
		"Mon, 01 Jan 2001 00:00:00 +0000", content };

	/* NULL sender: leave the field out, as the protocol allows. */
	if (sender == NULL)
		return json_pack("{s:s, s:s, s:s}", "destination", dest,
		    "subject", subject, "content", content);
	return msg_email_new(&e);
}

static int
send_mail(int fd, const char *sender, const char *dest, const char *subject,
    const char *content)
{
	return testsrv_request(fd, PROTO_EMAIL_SENDING,
	    email(sender, dest, subject, content), NULL);
}

static json_t *
get_list(int fd)
{
	struct msg *reply;
	union msg_args a;
	const char *why;
	json_t *list;

	assert_int_equal(testsrv_request(fd, PROTO_INBOX_READING_REQUEST, NULL,
	                     &reply),
	    PROTO_OK);
	assert_int_equal(msg_unpack(reply, PROTO_SHAPE_EMAIL_LIST, &a, &why),
	    0);
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

/* Register, send to oneself, list, read, stats, logout, login, bye. */
/*
 * Start-up says in one line what runs: version, where it listens, where
 * the mail lives, which domain it serves.
 */
static void
test_startup_line(void **state)
{
	char want[4096 + 512], dir[4096];

	(void)state;
	assert_non_null(realpath(srv.data, dir));
	if (testsrv_tls_mode())
		snprintf(want, sizeof(want),
		    "glomaild %s started "
		    "listen=127.0.0.1:%s,tls:127.0.0.1:%s data-dir=%s "
		    "domain=glo2000.ca",
		    GLOMAIL_VERSION, srv.listen_port, srv.tls_port, dir);
	else
		snprintf(want, sizeof(want),
		    "glomaild %s started "
		    "listen=127.0.0.1:%s data-dir=%s domain=glo2000.ca",
		    GLOMAIL_VERSION, srv.listen_port, dir);
	assert_true(testsrv_log_contains(&srv, want));
}

static void
test_full_session(void **state)
{
	struct msg *reply;
	union msg_args a;
	const char *why;
	long long count, size;
	json_t *list;
	char pass[1024], line[512];
	FILE *f;
	int fd;

	(void)state;
	fd = testsrv_connect(&srv);
	assert_int_equal(testsrv_auth(fd, PROTO_AUTH_REGISTER, "Carol",
	                     PASSWORD),
	    PROTO_OK);
	/* Registering logs in: a privileged request works at once. */
	get_stats(fd, &count, &size);
	assert_int_equal(count, 0);
	assert_int_equal(size, 0);
	assert_int_equal(send_mail(fd, "carol@glo2000.ca", "carol@glo2000.ca",
	                     "R\xc3\xa9union \xc3\xa0 10h",
	                     "ligne un \xc3\xa9\nligne deux "
	                     "\xe2\x9c\x93"),
	    PROTO_OK);
	list = get_list(fd);
	assert_int_equal(json_array_size(list), 1);
	snprintf(line, sizeof(line), "%s",
	    json_string_value(json_array_get(list, 0)));
	json_decref(list);
	assert_memory_equal(line,
	    "#1 carol@glo2000.ca - R\xc3\xa9union "
	    "\xc3\xa0 10h ",
	    strlen("#1 carol@glo2000.ca - R\xc3\xa9union "
	           "\xc3\xa0 10h "));
	/* The server stamps the date, not the client. */
	assert_null(strstr(line, "2001"));
	assert_non_null(strstr(line, "+0000"));
	assert_int_equal(testfs_count("%s/carol/new", srv.data), 1);
	assert_int_equal(testsrv_request(fd, PROTO_INBOX_READING_CHOICE,
	                     msg_choice_new(1), &reply),
	    PROTO_OK);
	assert_int_equal(msg_unpack(reply, PROTO_SHAPE_EMAIL, &a, &why), 0);
	assert_string_equal(a.email.sender, "carol@glo2000.ca");
	assert_string_equal(a.email.destination, "carol@glo2000.ca");
	assert_string_equal(a.email.subject, "R\xc3\xa9union \xc3\xa0 10h");
	assert_string_equal(a.email.content, "ligne un \xc3\xa9\nligne deux "
	                                     "\xe2\x9c\x93");
	assert_non_null(strstr(line, a.email.date));
	msg_free(reply);
	/* Read means seen: moved to cur/ with the S flag. */
	assert_int_equal(testfs_count("%s/carol/new", srv.data), 0);
	assert_int_equal(testfs_count("%s/carol/cur", srv.data), 1);
	get_stats(fd, &count, &size);
	assert_int_equal(count, 1);
	assert_true(size > 200);
	/* Logout has no reply; then privileged requests are refused. */
	assert_int_equal(wire_send(fd, PROTO_AUTH_LOGOUT, NULL,
	                     FRAME_MAX_DEFAULT),
	    0);
	assert_string_equal(expect_error(fd, PROTO_STATS_REQUEST, NULL),
	    "not logged in");
	/* Names are case-insensitive. */
	assert_int_equal(testsrv_auth(fd, PROTO_AUTH_LOGIN, "CAROL", PASSWORD),
	    PROTO_OK);
	get_stats(fd, &count, &size);
	assert_int_equal(count, 1);
	/* BYE: no reply, the server closes. */
	assert_int_equal(wire_send(fd, PROTO_BYE, NULL, FRAME_MAX_DEFAULT), 0);
	assert_int_equal(recv(fd, line, sizeof(line), 0), 0);
	close(fd);
	/* Only an Argon2id string is stored. */
	snprintf(line, sizeof(line), "%s/carol/pass", srv.data);
	f = fopen(line, "r");
	assert_non_null(f);
	assert_non_null(fgets(pass, sizeof(pass), f));
	fclose(f);
	assert_memory_equal(pass, "$argon2id$", 10);
	assert_null(strstr(pass, PASSWORD));
}

static void
test_register_errors(void **state)
{
	static const char *bad_names[] = { ".", "..", "../x", "a/b", "LOST",
		"lost", ".hidden", "with space", "" };
	char longname[1001];
	size_t i;
	int fd, fd2;

	(void)state;
	fd = testsrv_connect(&srv);
	for (i = 0; i < sizeof(bad_names) / sizeof(bad_names[0]); i++)
		assert_int_equal(testsrv_auth(fd, PROTO_AUTH_REGISTER,
		                     bad_names[i], PASSWORD),
		    PROTO_ERROR);
	memset(longname, 'a', 1000);
	longname[1000] = '\0';
	assert_int_equal(testsrv_auth(fd, PROTO_AUTH_REGISTER, longname,
	                     PASSWORD),
	    PROTO_ERROR);
	memset(longname, 'a', 65);
	longname[65] = '\0';
	assert_int_equal(testsrv_auth(fd, PROTO_AUTH_REGISTER, longname,
	                     PASSWORD),
	    PROTO_ERROR);
	/* Weak passwords. */
	assert_string_equal(expect_error(fd, PROTO_AUTH_REGISTER,
	                        msg_credentials_new("dave", "short1A")),
	    "password must have at "
	    "least 10 characters, a digit, a lower-case and an upper-case "
	    "letter");
	assert_int_equal(testsrv_auth(fd, PROTO_AUTH_REGISTER, "dave",
	                     "alllowercase1"),
	    PROTO_ERROR);
	assert_int_equal(testsrv_auth(fd, PROTO_AUTH_REGISTER, "dave",
	                     "NoDigitsHereAtAll"),
	    PROTO_ERROR);
	/* Nothing was created for any refused name. */
	assert_int_equal(testfs_count("%s/dave/new", srv.data), -1);
	assert_int_equal(testfs_count("%s/../new", srv.data), -1);
	/* A taken name, in any case. */
	assert_int_equal(testsrv_auth(fd, PROTO_AUTH_REGISTER, "dave",
	                     PASSWORD),
	    PROTO_OK);
	fd2 = testsrv_connect(&srv);
	assert_string_equal(expect_error(fd2, PROTO_AUTH_REGISTER,
	                        msg_credentials_new("DAVE", PASSWORD)),
	    "user name is taken");
	/* Logged in: register and login are refused. */
	assert_string_equal(expect_error(fd, PROTO_AUTH_LOGIN,
	                        msg_credentials_new("dave", PASSWORD)),
	    "already logged in");
	close(fd);
	close(fd2);
}

/* A failed login says the same thing whoever the user is. */
static void
test_login_errors(void **state)
{
	char unknown[256], wrong[256];
	int fd;

	(void)state;
	close(user_conn("erin"));
	fd = testsrv_connect(&srv);
	snprintf(unknown, sizeof(unknown), "%s",
	    expect_error(fd, PROTO_AUTH_LOGIN,
	        msg_credentials_new("nobody", PASSWORD)));
	snprintf(wrong, sizeof(wrong), "%s",
	    expect_error(fd, PROTO_AUTH_LOGIN,
	        msg_credentials_new("erin", "Wrong0Password")));
	assert_string_equal(unknown, wrong);
	assert_string_equal(expect_error(fd, PROTO_AUTH_LOGIN,
	                        msg_credentials_new("../etc", PASSWORD)),
	    wrong);
	assert_string_equal(expect_error(fd, PROTO_STATS_REQUEST, NULL),
	    "not logged in");
	close(fd);
}

/* Every privileged request before login: ERROR, logout ignored. */
static void
test_privileged_before_login(void **state)
{
	long long count, size;
	int fd;

	(void)state;
	fd = testsrv_connect(&srv);
	assert_string_equal(expect_error(fd, PROTO_INBOX_READING_REQUEST, NULL),
	    "not logged in");
	assert_string_equal(expect_error(fd, PROTO_INBOX_READING_CHOICE,
	                        msg_choice_new(1)),
	    "not logged in");
	assert_string_equal(expect_error(fd, PROTO_EMAIL_SENDING,
	                        email("x@glo2000.ca", "x@glo2000.ca", "s",
	                            "c")),
	    "not logged in");
	assert_string_equal(expect_error(fd, PROTO_STATS_REQUEST, NULL),
	    "not logged in");
	/* Logout before login: no reply at all; the next reply is login's. */
	assert_int_equal(wire_send(fd, PROTO_AUTH_LOGOUT, NULL,
	                     FRAME_MAX_DEFAULT),
	    0);
	assert_string_equal(expect_error(fd, 42, NULL), "unknown request");
	assert_string_equal(expect_error(fd, PROTO_OK, NULL),
	    "unknown request");
	assert_string_equal(expect_error(fd, PROTO_ERROR, NULL),
	    "unknown request");
	close(fd);
	fd = user_conn("frank");
	get_stats(fd, &count, &size);
	close(fd);
}

static void
test_send_errors(void **state)
{
	long long count, size;
	int fd;

	(void)state;
	fd = user_conn("gina");
	/* Forged sender. */
	assert_string_equal(expect_error(fd, PROTO_EMAIL_SENDING,
	                        email("boss@glo2000.ca", "gina@glo2000.ca", "s",
	                            "c")),
	    "sender must be the logged-in account");
	/* The sender's case does not matter; an absent sender is ours. */
	assert_int_equal(send_mail(fd, "GINA@GLO2000.CA", "gina@glo2000.ca",
	                     "case", "c"),
	    PROTO_OK);
	assert_int_equal(testsrv_request(fd, PROTO_EMAIL_SENDING,
	                     json_pack("{s:s, s:s, s:s}", "destination",
	                         "Gina@Glo2000.ca", "subject", "no sender",
	                         "content", "c"),
	                     NULL),
	    PROTO_OK);
	/* Outside the domain: refused, nothing stored anywhere. */
	assert_string_equal(expect_error(fd, PROTO_EMAIL_SENDING,
	                        email("gina@glo2000.ca", "someone@example.com",
	                            "s", "c")),
	    "destination is outside the local domain");
	assert_string_equal(expect_error(fd, PROTO_EMAIL_SENDING,
	                        email("gina@glo2000.ca", "not an address", "s",
	                            "c")),
	    "invalid destination address");
	assert_string_equal(expect_error(fd, PROTO_EMAIL_SENDING,
	                        email("gina@glo2000.ca", "../../etc@glo2000.ca",
	                            "s", "c")),
	    "invalid destination address");
	assert_string_equal(expect_error(fd, PROTO_EMAIL_SENDING,
	                        email("gina@glo2000.ca", "LOST@glo2000.ca", "s",
	                            "c")),
	    "invalid destination address");
	/* Header injection through subject or destination. */
	assert_string_equal(expect_error(fd, PROTO_EMAIL_SENDING,
	                        email("gina@glo2000.ca", "gina@glo2000.ca",
	                            "s\r\nBcc: x@glo2000.ca", "c")),
	    "subject may not contain line breaks or control characters");
	assert_string_equal(expect_error(fd, PROTO_EMAIL_SENDING,
	                        email("gina@glo2000.ca",
	                            "gina@glo2000.ca\nBcc: x@glo2000.ca", "s",
	                            "c")),
	    "invalid destination address");
	/* Missing or mistyped fields. */
	assert_string_equal(expect_error(fd, PROTO_EMAIL_SENDING,
	                        json_pack("{s:s, s:i, s:s}", "destination",
	                            "gina@glo2000.ca", "subject", 5, "content",
	                            "c")),
	    "field is not a string: subject");
	assert_string_equal(expect_error(fd, PROTO_EMAIL_SENDING,
	                        json_pack("{s:s, s:s}", "destination",
	                            "gina@glo2000.ca", "subject", "s")),
	    "missing field: content");
	get_stats(fd, &count, &size);
	assert_int_equal(count, 2);
	assert_int_equal(testfs_count("%s/LOST/new", srv.data), 0);
	/* No such account: kept in LOST, and the sender is told. */
	assert_string_equal(expect_error(fd, PROTO_EMAIL_SENDING,
	                        email("gina@glo2000.ca", "ghost@glo2000.ca",
	                            "s", "c")),
	    "no such recipient; the message was kept as undeliverable");
	assert_int_equal(testfs_count("%s/LOST/new", srv.data), 1);
	assert_int_equal(testfs_count("%s/ghost/new", srv.data), -1);
	close(fd);
}

static void
test_choice_errors(void **state)
{
	struct msg *reply;
	json_t *list;
	int fd;

	(void)state;
	fd = user_conn("hugo");
	assert_int_equal(send_mail(fd, NULL, "hugo@glo2000.ca", "one", "1"),
	    PROTO_OK);
	list = get_list(fd);
	assert_int_equal(json_array_size(list), 1);
	json_decref(list);
	assert_string_equal(expect_error(fd, PROTO_INBOX_READING_CHOICE,
	                        msg_choice_new(0)),
	    "choice out of range");
	assert_string_equal(expect_error(fd, PROTO_INBOX_READING_CHOICE,
	                        msg_choice_new(-1)),
	    "choice out of range");
	assert_string_equal(expect_error(fd, PROTO_INBOX_READING_CHOICE,
	                        msg_choice_new(2)),
	    "choice out of range");
	assert_string_equal(expect_error(fd, PROTO_INBOX_READING_CHOICE,
	                        json_pack("{s:s}", "choice", "abc")),
	    "choice is not a number");
	assert_string_equal(expect_error(fd, PROTO_INBOX_READING_CHOICE, NULL),
	    "missing field: choice");
	/* "1" as a string, as one seed client sends it. */
	assert_int_equal(testsrv_request(fd, PROTO_INBOX_READING_CHOICE,
	                     json_pack("{s:s}", "choice", "1"), &reply),
	    PROTO_OK);
	msg_free(reply);
	close(fd);
}

/*
 * Newest first, numbered from 1; a choice refers to the list the client
 * saw, even when mail arrives in between.
 */
static void
test_list_order_and_snapshot(void **state)
{
	struct msg *reply;
	union msg_args a;
	const char *why;
	json_t *list;
	int fd, other;

	(void)state;
	fd = user_conn("iris");
	other = user_conn("jack");
	assert_int_equal(send_mail(other, NULL, "iris@glo2000.ca", "first",
	                     "1"),
	    PROTO_OK);
	assert_int_equal(send_mail(other, NULL, "iris@glo2000.ca", "second",
	                     "2"),
	    PROTO_OK);
	list = get_list(fd);
	assert_int_equal(json_array_size(list), 2);
	assert_memory_equal(json_string_value(json_array_get(list, 0)),
	    "#1 jack@glo2000.ca - second ", 28);
	assert_memory_equal(json_string_value(json_array_get(list, 1)),
	    "#2 jack@glo2000.ca - first ", 27);
	json_decref(list);
	assert_int_equal(send_mail(other, NULL, "iris@glo2000.ca", "third",
	                     "3"),
	    PROTO_OK);
	/* Still the list seen: #2 is "first". */
	assert_int_equal(testsrv_request(fd, PROTO_INBOX_READING_CHOICE,
	                     msg_choice_new(2), &reply),
	    PROTO_OK);
	assert_int_equal(msg_unpack(reply, PROTO_SHAPE_EMAIL, &a, &why), 0);
	assert_string_equal(a.email.subject, "first");
	assert_string_equal(a.email.content, "1");
	msg_free(reply);
	/* A new list sees the new mail. */
	list = get_list(fd);
	assert_int_equal(json_array_size(list), 3);
	assert_memory_equal(json_string_value(json_array_get(list, 0)),
	    "#1 jack@glo2000.ca - third ", 27);
	json_decref(list);
	close(fd);
	close(other);
}

/* Two clients interleaved on the same and different mailboxes. */
static void
test_interleaved(void **state)
{
	long long c1, s1, c2, s2;
	int a, b, a2;

	(void)state;
	a = user_conn("kim");
	b = user_conn("leo");
	a2 = user_conn("kim");
	assert_int_equal(send_mail(a, NULL, "leo@glo2000.ca", "a->b", "x"),
	    PROTO_OK);
	assert_int_equal(send_mail(b, NULL, "kim@glo2000.ca", "b->a", "y"),
	    PROTO_OK);
	assert_int_equal(send_mail(a2, NULL, "kim@glo2000.ca", "a2->a", "z"),
	    PROTO_OK);
	get_stats(a, &c1, &s1);
	get_stats(a2, &c2, &s2);
	assert_int_equal(c1, 2);
	assert_int_equal(c2, 2);
	assert_int_equal(s1, s2);
	get_stats(b, &c1, &s1);
	assert_int_equal(c1, 1);
	close(a);
	close(b);
	close(a2);
}

/* A client stalled mid-frame blocks nobody. */
static void
test_stalled_client(void **state)
{
	static const unsigned char half[] = { 0, 0, 0, 50, '{', '"', 'h' };
	long long count, size;
	int stalled, fd;

	(void)state;
	stalled = testsrv_connect(&srv);
	assert_int_equal(send(stalled, half, sizeof(half), 0),
	    (ssize_t)sizeof(half));
	fd = user_conn("mia");
	assert_int_equal(send_mail(fd, NULL, "mia@glo2000.ca", "while stalled",
	                     "x"),
	    PROTO_OK);
	get_stats(fd, &count, &size);
	assert_int_equal(count, 1);
	close(fd);
	close(stalled);
}

/* Malformed frames: an ERROR, and the connection goes on. */
static void
test_malformed(void **state)
{
	static const char *bodies[] = { "not json", "[1,2]", "{}",
		"{\"header\": \"7\"}", "{\"header\": 7.5}",
		"{\"header\": 7, \"payload\": []}",
		"{\"header\": 7, \"header\": 7}",
		"{\"header\": 4, \"x\": \"\xff\"}" };
	unsigned char frame[256];
	struct msg *reply;
	const char *why;
	size_t i, len;
	int fd;

	(void)state;
	fd = testsrv_connect(&srv);
	for (i = 0; i < sizeof(bodies) / sizeof(bodies[0]); i++) {
		len = strlen(bodies[i]);
		frame_put_header(frame, (uint32_t)len);
		memcpy(frame + 4, bodies[i], len);
		assert_int_equal(wire_write_all(fd, frame, len + 4), 0);
		assert_int_equal(wire_recv(fd, FRAME_MAX_DEFAULT, &reply, &why),
		    0);
		assert_int_equal(msg_header(reply), PROTO_ERROR);
		msg_free(reply);
	}
	/* Still serving this connection. */
	assert_string_equal(expect_error(fd, PROTO_STATS_REQUEST, NULL),
	    "not logged in");
	close(fd);
}

/* Seed clients' exact bytes, including null payloads and string choice. */
static void
test_seed_bytes(void **state)
{
	static const char *reqs[] = {
		"{\"header\": 10, \"payload\": null}",
		"{\"header\": 7}",
		"{\"header\": 8, \"payload\": {\"choice\": \"1\"}}",
	};
	unsigned char frame[256];
	struct msg *reply;
	const char *why;
	size_t i, len;
	int fd;

	(void)state;
	fd = user_conn("nina");
	assert_int_equal(send_mail(fd, "nina@glo2000.ca", "nina@glo2000.ca",
	                     "s", "c"),
	    PROTO_OK);
	for (i = 0; i < sizeof(reqs) / sizeof(reqs[0]); i++) {
		len = strlen(reqs[i]);
		frame_put_header(frame, (uint32_t)len);
		memcpy(frame + 4, reqs[i], len);
		assert_int_equal(wire_write_all(fd, frame, len + 4), 0);
		assert_int_equal(wire_recv(fd, FRAME_MAX_DEFAULT, &reply, &why),
		    0);
		assert_int_equal(msg_header(reply), PROTO_OK);
		msg_free(reply);
	}
	close(fd);
}

/* Mail survives a restart: the index is rebuilt from the Maildir. */
static void
test_restart_keeps_mail(void **state)
{
	long long count, size, count2, size2;
	json_t *list, *list2;
	int fd;

	(void)state;
	fd = user_conn("olga");
	assert_int_equal(send_mail(fd, NULL, "olga@glo2000.ca", "kept", "body"),
	    PROTO_OK);
	get_stats(fd, &count, &size);
	list = get_list(fd);
	close(fd);
	assert_int_equal(testsrv_kill(&srv, SIGTERM) & 0x7f, 0);
	assert_int_equal(testsrv_restart(&srv, NULL), 0);
	fd = user_conn("olga");
	get_stats(fd, &count2, &size2);
	assert_int_equal(count2, count);
	assert_int_equal(size2, size);
	list2 = get_list(fd);
	assert_true(json_equal(list, list2));
	json_decref(list);
	json_decref(list2);
	close(fd);
}

/* 1 when s holds a C0 control, DEL or a C1 control (U+0080..U+009F). */
static int
has_control(const char *s)
{
	const unsigned char *p = (const unsigned char *)s;

	for (; *p != '\0'; p++)
		if (*p < 0x20 || *p == 0x7f ||
		    (*p == 0xc2 && p[1] >= 0x80 && p[1] <= 0x9f))
			return 1;
	return 0;
}

/* Read message n of the current list; the reply's email (free *reply_r). */
static void
read_mail(int fd, int n, struct msg **reply_r, union msg_args *a)
{
	const char *why;

	assert_int_equal(testsrv_request(fd, PROTO_INBOX_READING_CHOICE,
	                     msg_choice_new(n), reply_r),
	    PROTO_OK);
	assert_int_equal(msg_unpack(*reply_r, PROTO_SHAPE_EMAIL, a, &why), 0);
}

/* Subjects are refused at send: C1 controls like C0 ones, and past 998. */
static void
test_subject_refused(void **state)
{
	char big[RULES_SUBJECT_MAX + 2];
	long long count, size;
	int fd;

	(void)state;
	fd = user_conn("paula");
	assert_string_equal(expect_error(fd, PROTO_EMAIL_SENDING,
	                        email("paula@glo2000.ca", "paula@glo2000.ca",
	                            "x\xc2\x9b"
	                            "2J",
	                            "c")),
	    "subject may not contain line breaks or control characters");
	assert_string_equal(expect_error(fd, PROTO_EMAIL_SENDING,
	                        email("paula@glo2000.ca", "paula@glo2000.ca",
	                            "x\x1b[2J", "c")),
	    "subject may not contain line breaks or control characters");
	assert_string_equal(expect_error(fd, PROTO_EMAIL_SENDING,
	                        email("paula@glo2000.ca", "paula@glo2000.ca",
	                            "tab\there", "c")),
	    "subject may not contain line breaks or control characters");
	memset(big, 'x', sizeof(big) - 1);
	big[sizeof(big) - 1] = '\0';
	assert_string_equal(expect_error(fd, PROTO_EMAIL_SENDING,
	                        email("paula@glo2000.ca", "paula@glo2000.ca",
	                            big, "c")),
	    "subject is longer than 998 bytes");
	/* Sender and destination cannot carry controls either. */
	assert_string_equal(expect_error(fd, PROTO_EMAIL_SENDING,
	                        email("paula@glo2000.ca\xc2\x9b",
	                            "paula@glo2000.ca", "s", "c")),
	    "sender must be the logged-in account");
	assert_string_equal(expect_error(fd, PROTO_EMAIL_SENDING,
	                        email("paula@glo2000.ca",
	                            "paula@glo2000.ca\xc2\x9b", "s", "c")),
	    "invalid destination address");
	assert_string_equal(expect_error(fd, PROTO_EMAIL_SENDING,
	                        email("paula@glo2000.ca",
	                            "pa\x1bula@glo2000.ca", "s", "c")),
	    "invalid destination address");
	/* At the cap: accepted. */
	big[RULES_SUBJECT_MAX] = '\0';
	assert_int_equal(send_mail(fd, NULL, "paula@glo2000.ca", big, "c"),
	    PROTO_OK);
	get_stats(fd, &count, &size);
	assert_int_equal(count, 1);
	close(fd);
}

/*
 * What list and read return is exactly what was sent, before a restart
 * (from the index) and after it (parsed back from the files): subjects
 * that look like encoded-words stay text, blanks at either end stay.
 */
static void
test_subject_exact(void **state)
{
	static const char *const subjects[] = {
		"=?utf-8?q?=1b[2J=0d=0a?=",
		"=?UTF-8?B?G1sySg0KRnJvbTogYm9zc0BnbG8yMDAwLmNh?=",
		" leading blank",
		"trailing blank ",
		"  ",
		"R\xc3\xa9union =?iso-8859-1?q?=9b?= \xe2\x9c\x93",
	};
	char lng[RULES_SUBJECT_MAX + 1], prefix[64];
	const char *want;
	json_t *list, *list2;
	struct msg *reply;
	union msg_args a;
	size_t i, n = sizeof(subjects) / sizeof(subjects[0]), k;
	int fd, pass;

	(void)state;
	for (k = 0; k + 2 <= RULES_SUBJECT_MAX; k += 2)
		memcpy(lng + k, "\xc3\xa9", 2);
	lng[k] = '\0';
	fd = user_conn("quinn");
	for (i = 0; i < n; i++)
		assert_int_equal(send_mail(fd, NULL, "quinn@glo2000.ca",
		                     subjects[i], "body"),
		    PROTO_OK);
	assert_int_equal(send_mail(fd, NULL, "quinn@glo2000.ca", lng, "b"),
	    PROTO_OK);
	list = get_list(fd);
	close(fd);
	for (pass = 0; pass < 2; pass++) {
		if (pass == 1) {
			assert_int_equal(testsrv_kill(&srv, SIGTERM) & 0x7f, 0);
			assert_int_equal(testsrv_restart(&srv, NULL), 0);
		}
		fd = user_conn("quinn");
		list2 = get_list(fd);
		assert_int_equal(json_array_size(list2), n + 1);
		assert_true(json_equal(list, list2));
		/* Newest first: the long one, then the others in reverse. */
		for (i = 0; i <= n; i++) {
			want = i == 0 ? lng : subjects[n - i];
			snprintf(prefix, sizeof(prefix), "#%zu ", i + 1);
			assert_memory_equal(json_string_value(
			                        json_array_get(list2, i)),
			    prefix, strlen(prefix));
			assert_false(has_control(
			    json_string_value(json_array_get(list2, i))));
			assert_non_null(
			    strstr(json_string_value(json_array_get(list2, i)),
			        want));
			read_mail(fd, (int)i + 1, &reply, &a);
			assert_string_equal(a.email.subject, want);
			msg_free(reply);
		}
		json_decref(list2);
		close(fd);
	}
	json_decref(list);
}

/*
 * A file another program left in new/, with encoded-words that decode to
 * ESC, CR, LF and U+009B and raw control bytes: nothing the server returns
 * holds a control character; the body stays exact (valid UTF-8).
 */
static void
test_foreign_file(void **state)
{
	static const char file
	    [] = "From: =?utf-8?q?=0d=0aFrom:_boss?= <rita\x1b[2J@glo2000.ca>\n"
	         "To: rita@glo2000.ca\n"
	         "Subject: =?utf-8?q?=1b[2J=0d=0aFrom:_boss@glo2000.ca?= "
	         "=?UTF-8?B?wpsyMW0=?= =?iso-8859-1?q?=9b31m?= raw\x1b]0;t\x07 "
	         "\xc2\x9b"
	         "1m \x9b"
	         "2J\r\n"
	         "Date: Tue, 12 Jul 2022 19:21:57 +0000\x1b[K\n"
	         "\n"
	         "body \x1b[31m \xff stays\n";
	char path[1024];
	json_t *list;
	struct msg *reply;
	union msg_args a;
	const char *line;
	FILE *f;
	int fd;

	(void)state;
	fd = user_conn("rita");
	close(fd);
	assert_int_equal(testsrv_kill(&srv, SIGTERM) & 0x7f, 0);
	snprintf(path, sizeof(path), "%s/rita/new/1657653717.M1P1.elsewhere",
	    srv.data);
	assert_non_null(f = fopen(path, "w"));
	assert_int_equal(fwrite(file, 1, sizeof(file) - 1, f),
	    sizeof(file) - 1);
	assert_int_equal(fclose(f), 0);
	assert_int_equal(testsrv_restart(&srv, NULL), 0);
	fd = user_conn("rita");
	list = get_list(fd);
	assert_int_equal(json_array_size(list), 1);
	line = json_string_value(json_array_get(list, 0));
	assert_false(has_control(line));
	assert_non_null(strstr(line, "From: boss@glo2000.ca"));
	json_decref(list);
	read_mail(fd, 1, &reply, &a);
	assert_false(has_control(a.email.sender));
	assert_false(has_control(a.email.destination));
	assert_false(has_control(a.email.subject));
	assert_false(has_control(a.email.date));
	assert_string_equal(a.email.sender, "rita\xef\xbf\xbd[2J@glo2000.ca");
	assert_string_equal(a.email.content,
	    "body \x1b[31m \xef\xbf\xbd stays\n");
	msg_free(reply);
	close(fd);
}

/* The port of the "listening on [::1]:PORT" line, waiting up to 20 s. */
static int
v6_port(const struct testsrv *s, char *port, size_t len)
{
	char line[256], *p;
	FILE *f;
	int i;

	for (i = 0; i < 2000; i++) {
		if ((f = fopen(s->log, "r")) == NULL)
			return -1;
		while (fgets(line, sizeof(line), f) != NULL) {
			if ((p = strstr(line, "listening on [::1]:")) != NULL) {
				p = strrchr(p, ':') + 1;
				snprintf(port, len, "%.*s",
				    (int)strcspn(p, "\n"), p);
				fclose(f);
				return 0;
			}
		}
		fclose(f);
		usleep(10000);
	}
	return -1;
}

/* Read one raw frame body from fd into buf (NUL-terminated). */
static void
read_raw(int fd, char *buf, size_t cap)
{
	unsigned char head[4];
	size_t len, got = 0;
	ssize_t n;

	while (got < 4) {
		n = read(fd, head + got, 4 - got);
		assert_true(n > 0);
		got += (size_t)n;
	}
	len = (size_t)head[0] << 24 | (size_t)head[1] << 16 |
	      (size_t)head[2] << 8 | head[3];
	assert_true(len < cap);
	for (got = 0; got < len; got += (size_t)n) {
		n = read(fd, buf + got, len - got);
		assert_true(n > 0);
	}
	buf[len] = '\0';
}

/*
 * CAPABILITIES, before and after login: the server's domain and limits as
 * configured, in the seed peers' JSON style, byte for byte.
 */
static void
test_capabilities(void **state)
{
	static const char *const extra[] = { "--domain", "example.org",
		"--max-frame", "65536", NULL };
	static const char *const want_default =
	    "{\"header\": 1, "
	    "\"payload\": {\"protocol\": 1, \"domain\": \"glo2000.ca\", "
	    "\"limits\": {\"max_frame\": 1048576, \"max_subject\": 998, "
	    "\"max_recipients\": 1, \"max_recipients_many\": 100}, "
	    "\"extensions\": [\"send-many\", \"mailbox\", \"password\", \"notices\", \"vacation\", \"quota\", \"threading\"]}}";
	static const char *const want_other =
	    "{\"header\": 1, "
	    "\"payload\": {\"protocol\": 1, \"domain\": \"example.org\", "
	    "\"limits\": {\"max_frame\": 65536, \"max_subject\": 998, "
	    "\"max_recipients\": 1, \"max_recipients_many\": 100}, "
	    "\"extensions\": [\"send-many\", \"mailbox\", \"password\", \"notices\", \"vacation\", \"quota\", \"threading\"]}}";
	struct testsrv other;
	char body[512];
	int fd, ok;

	(void)state;
	fd = testsrv_connect(&srv);
	assert_true(fd >= 0);
	assert_int_equal(wire_send(fd, PROTO_CAPABILITIES, NULL,
	                     FRAME_MAX_DEFAULT),
	    0);
	read_raw(fd, body, sizeof(body));
	assert_string_equal(body, want_default);
	/* Any login state; the session goes on as before. */
	assert_int_equal(testsrv_auth(fd, PROTO_AUTH_REGISTER, "caps.user",
	                     PASSWORD),
	    PROTO_OK);
	assert_int_equal(wire_send(fd, PROTO_CAPABILITIES, json_object(),
	                     FRAME_MAX_DEFAULT),
	    0);
	read_raw(fd, body, sizeof(body));
	assert_string_equal(body, want_default);
	assert_string_equal(expect_error(fd, PROTO_CAPABILITIES,
	                        json_string("x")),
	    "payload is not an object");
	close(fd);

	assert_int_equal(testsrv_start(&other, extra), 0);
	fd = testsrv_connect(&other);
	ok = fd >= 0 &&
	     wire_send(fd, PROTO_CAPABILITIES, NULL, FRAME_MAX_DEFAULT) == 0;
	if (ok)
		read_raw(fd, body, sizeof(body));
	if (fd >= 0)
		close(fd);
	testsrv_stop(&other);
	assert_true(ok);
	assert_string_equal(body, want_other);
}

/* IPv6 listeners work beside IPv4 ones ("[::1]:0"). */
static void
test_ipv6(void **state)
{
	static const char *const extra[] = { "--listen", "[::1]:0", NULL };
	struct testsrv v6;
	char port[16], err[256];
	int fd = -1, probe, rc = -1;

	(void)state;
	/* A host without IPv6 cannot run this test. */
	if ((probe = socket(AF_INET6, SOCK_STREAM, 0)) == -1)
		skip();
	close(probe);
	assert_int_equal(testsrv_start(&v6, extra), 0);
	/* Check, then stop the server before asserting: a failed assertion
	 * must not leave it running. */
	if (v6_port(&v6, port, sizeof(port)) == 0 &&
	    (fd = wire_connect("::1", port, err, sizeof(err))) >= 0)
		rc = testsrv_auth(fd, PROTO_AUTH_REGISTER, "six", PASSWORD);
	if (fd >= 0)
		close(fd);
	testsrv_stop(&v6);
	assert_int_equal(rc, PROTO_OK);
}

/* A send to several recipients; the reply's list as "address=result ...". */
static char *
send_many(int fd, json_t *to, json_t *cc, const char *subject, int *header_r)
{
	struct msg *reply = NULL;
	json_t *p = json_pack("{s:o, s:s, s:s}", "to", to, "subject", subject,
	           "content", "to many\n"),
	       *list, *r;
	char *out = NULL, *grown;
	size_t i, len = 0;
	const char *a, *res;

	if (cc != NULL)
		json_object_set_new(p, "cc", cc);
	*header_r = testsrv_request(fd, PROTO_EMAIL_SENDING_MANY, p, &reply);
	assert_non_null(out = strdup(""));
	list = json_object_get(msg_payload(reply), "recipients");
	json_array_foreach (list, i, r) {
		a = json_string_value(json_object_get(r, "address"));
		res = json_string_value(json_object_get(r, "result"));
		assert_non_null(a);
		assert_non_null(res);
		len += strlen(a) + strlen(res) + 2;
		assert_non_null(grown = realloc(out, len + 1));
		out = grown;
		strcat(out, a);
		strcat(out, "=");
		strcat(out, res);
		strcat(out, " ");
		/* Only a refusal carries a reason, and one from the list. */
		assert_true((strcmp(res, "refused") == 0) ==
		            (json_object_get(r, "reason") != NULL));
	}
	msg_free(reply);
	return out;
}

/* Files in DATA/user/new. */
static int
new_files(const char *user, char name_r[256])
{
	char path[1024];
	struct dirent *de;
	DIR *d;
	int n = 0;

	snprintf(path, sizeof(path), "%s/%s/new", srv.data, user);
	assert_non_null(d = opendir(path));
	while ((de = readdir(d)) != NULL) {
		if (de->d_name[0] == '.')
			continue;
		if (name_r != NULL)
			snprintf(name_r, 256, "%s", de->d_name);
		n++;
	}
	closedir(d);
	return n;
}

/*
 * EMAIL_SENDING_MANY: one copy per distinct recipient (case does not
 * matter), an unknown local name filed once in LOST, outside and malformed
 * addresses refused one by one while the others get the message, To: and
 * Cc: stored as given (less what is malformed), one inode for all copies.
 */
static void
test_send_many(void **state)
{
	char name[256], path[1200];
	struct stat st, st2;
	long long count, size;
	int fd, h, lost;
	char *got, *file;

	(void)state;
	close(user_conn("mbob"));
	close(user_conn("mcarl"));
	close(user_conn("mdave"));
	fd = user_conn("mann");
	lost = new_files("LOST", NULL);
	got = send_many(fd,
	    json_pack("[s, s, s, s, s, s, s]", "MBob@glo2000.ca",
	        "mcarl@glo2000.ca", "mbob@GLO2000.CA", "nobodyhere@glo2000.ca",
	        "x@other.org", "not an address",
	        "mdave@glo2000.ca\nBcc: mann@glo2000.ca"),
	    json_pack("[s, s]", "mdave@glo2000.ca", "MCARL@glo2000.ca"),
	    "to all", &h);
	assert_int_equal(h, PROTO_OK);
	assert_string_equal(got,
	    "MBob@glo2000.ca=delivered "
	    "mcarl@glo2000.ca=delivered nobodyhere@glo2000.ca=undeliverable "
	    "x@other.org=refused not an address=refused "
	    "mdave@glo2000.ca\nBcc: mann@glo2000.ca=refused "
	    "mdave@glo2000.ca=delivered ");
	free(got);
	assert_int_equal(new_files("mbob", name), 1);
	assert_int_equal(new_files("mcarl", NULL), 1);
	assert_int_equal(new_files("mdave", NULL), 1);
	/* The sender's only mail: the notice about the unknown name. */
	{
		char notice[256];

		assert_int_equal(new_files("mann", notice), 1);
		snprintf(path, sizeof(path), "%s/mann/new/%s", srv.data,
		    notice);
		assert_non_null(file = testsrv_read_file(path));
		assert_non_null(
		    strstr(file, "From: MAILER-DAEMON@glo2000.ca\n"));
		assert_non_null(
		    strstr(file, "nobodyhere@glo2000.ca: no such user"));
		free(file);
	}
	assert_int_equal(new_files("LOST", NULL), lost + 1);
	snprintf(path, sizeof(path), "%s/mbob/new/%s", srv.data, name);
	assert_non_null(file = testsrv_read_file(path));
	assert_non_null(strstr(file,
	    "\nTo: MBob@glo2000.ca, mcarl@glo2000.ca, "
	    "mbob@GLO2000.CA, nobodyhere@glo2000.ca, x@other.org\nCc: "
	    "mdave@glo2000.ca, MCARL@glo2000.ca\nSubject: to all\n"));
	assert_null(strstr(file, "Bcc"));
	assert_null(strstr(file, "not an address"));
	free(file);
	/* One file on disk: every copy is a link to it (LOST's too). */
	assert_int_equal(stat(path, &st), 0);
	assert_int_equal(st.st_nlink, 4);
	assert_int_equal(new_files("mcarl", name), 1);
	snprintf(path, sizeof(path), "%s/mcarl/new/%s", srv.data, name);
	assert_int_equal(stat(path, &st2), 0);
	assert_true(st.st_ino == st2.st_ino);
	/* Cc only: an empty group in To:. */
	got = send_many(fd, json_array(), json_pack("[s]", "mdave@glo2000.ca"),
	    "cc only", &h);
	assert_int_equal(h, PROTO_OK);
	assert_string_equal(got, "mdave@glo2000.ca=delivered ");
	free(got);
	assert_int_equal(new_files("mdave", NULL), 2);
	/* The recipient reads it like any other message. */
	close(fd);
	fd = user_conn("mbob");
	get_stats(fd, &count, &size);
	assert_int_equal(count, 1);
	close(fd);
}

/* The limit: 100 recipients pass, the 101st refuses the whole request. */
static void
test_send_many_limits(void **state)
{
	char addr[64];
	json_t *to;
	int fd, h, i, before, lost;
	char *got;

	(void)state;
	close(user_conn("mlim"));
	fd = user_conn("mann");
	before = new_files("mlim", NULL);
	lost = new_files("LOST", NULL);
	to = json_array();
	for (i = 0; i < 100; i++) {
		snprintf(addr, sizeof(addr), "%s@glo2000.ca",
		    i == 0 ? "mlim" : "nobodyhere");
		json_array_append_new(to, json_string(addr));
	}
	got = send_many(fd, json_deep_copy(to),
	    json_pack("[s]", "nobodyhere@glo2000.ca"), "101", &h);
	free(got);
	assert_int_equal(h, PROTO_ERROR);
	assert_int_equal(new_files("mlim", NULL), before);
	assert_int_equal(new_files("LOST", NULL), lost);
	got = send_many(fd, to, NULL, "100", &h);
	assert_int_equal(h, PROTO_OK);
	/* Ninety-nine times the same unknown name: one entry, one copy. */
	assert_string_equal(got, "mlim@glo2000.ca=delivered "
	                         "nobodyhere@glo2000.ca=undeliverable ");
	free(got);
	assert_int_equal(new_files("mlim", NULL), before + 1);
	assert_int_equal(new_files("LOST", NULL), lost + 1);
	/* The whole request is checked before anything is judged. */
	assert_string_equal(expect_error(fd, PROTO_EMAIL_SENDING_MANY,
	                        json_pack("{s:[], s:s, s:s}", "to", "subject",
	                            "s", "content", "c")),
	    "no recipient");
	assert_string_equal(expect_error(fd, PROTO_EMAIL_SENDING_MANY,
	                        json_pack("{s:s, s:s, s:s}", "to",
	                            "mlim@glo2000.ca", "subject", "s",
	                            "content", "c")),
	    "to is not a list of addresses");
	assert_string_equal(expect_error(fd, PROTO_EMAIL_SENDING_MANY,
	                        json_pack("{s:[s], s:[i], s:s, s:s}", "to",
	                            "mlim@glo2000.ca", "cc", 3, "subject", "s",
	                            "content", "c")),
	    "cc is not a list of addresses");
	assert_string_equal(expect_error(fd, PROTO_EMAIL_SENDING_MANY,
	                        json_pack("{s:[s], s:s, s:s}", "to",
	                            "mlim@glo2000.ca", "subject", "a\nb",
	                            "content", "c")),
	    "subject may not contain line breaks "
	    "or control characters");
	assert_int_equal(new_files("mlim", NULL), before + 1);
	close(fd);
	/* Not before login. */
	fd = testsrv_connect(&srv);
	assert_string_equal(expect_error(fd, PROTO_EMAIL_SENDING_MANY,
	                        json_pack("{s:[s], s:s, s:s}", "to",
	                            "mlim@glo2000.ca", "subject", "s",
	                            "content", "c")),
	    "not logged in");
	close(fd);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_startup_line),
		cmocka_unit_test(test_full_session),
		cmocka_unit_test(test_register_errors),
		cmocka_unit_test(test_login_errors),
		cmocka_unit_test(test_privileged_before_login),
		cmocka_unit_test(test_send_errors),
		cmocka_unit_test(test_choice_errors),
		cmocka_unit_test(test_list_order_and_snapshot),
		cmocka_unit_test(test_interleaved),
		cmocka_unit_test(test_stalled_client),
		cmocka_unit_test(test_malformed),
		cmocka_unit_test(test_seed_bytes),
		cmocka_unit_test(test_restart_keeps_mail),
		cmocka_unit_test(test_subject_refused),
		cmocka_unit_test(test_subject_exact),
		cmocka_unit_test(test_foreign_file),
		cmocka_unit_test(test_ipv6),
		cmocka_unit_test(test_capabilities),
		cmocka_unit_test(test_send_many),
		cmocka_unit_test(test_send_many_limits),
	};

	testsrv_use(&srv, NULL);
	return cmocka_run_group_tests(tests, testsrv_setup, testsrv_teardown);
}
