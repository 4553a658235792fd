/*
 * test_hostile.c - glomaild under hostile input, against the real server.
 *
 * Every case sends something a broken or malicious peer might, on its own
 * connection, and checks the promised outcome: a clear ERROR (the
 * connection stays usable), or an ERROR and a close, or a close; never a
 * crash. After each case a second, well-behaved client that stayed logged
 * in the whole time must still be served, and the store must hold nothing
 * outside the data directory.
 */
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/wait.h>

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
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
#include "rules.h"
#include "testsrv.h"
#include "wire.h"

#define WAIT_MS 10000

static struct testsrv srv;
static int good = -1;          /* the well-behaved client, logged in */
static char cwd_before[8192];  /* names in the working directory */

/* Names in a directory, sorted-insensitive concatenation for comparison. */
static void
list_dir(const char *path, char *out, size_t len)
{
	struct dirent *de;
	size_t used = 0;
	DIR *d;

	out[0] = '\0';
	if ((d = opendir(path)) == NULL)
		return;
	while ((de = readdir(d)) != NULL) {
		int n = snprintf(out + used, len - used, "%s/", de->d_name);

		if (n < 0 || (size_t)n >= len - used)
			break;
		used += (size_t)n;
	}
	closedir(d);
}

static int
group_setup(void **state)
{
	(void)state;
	list_dir(".", cwd_before, sizeof(cwd_before));
	if (testsrv_start(&srv, NULL) == -1)
		return -1;
	good = hostile_user(&srv, "good");
	return good == -1 ? -1 : 0;
}

static int
group_teardown(void **state)
{
	(void)state;
	if (good != -1)
		close(good);
	testsrv_stop(&srv);
	return 0;
}

/*
 * The invariants after every case: the server process is alive, the good
 * client is served, and the scratch directory holds the data directory, the
 * log and the control socket only, the data directory only accounts with
 * valid names.
 */
static void
check_healthy(void)
{
	struct msg *reply = NULL;
	char names[8192], *p, *slash, lower[RULES_USERNAME_MAX + 1];
	const char *why;
	struct dirent *de;
	DIR *d;

	assert_int_equal(waitpid(srv.pid, NULL, WNOHANG), 0);
	assert_int_equal(testsrv_request(good, PROTO_STATS_REQUEST, NULL,
	    &reply), PROTO_OK);
	msg_free(reply);

	list_dir(srv.dir, names, sizeof(names));
	for (p = names; *p != '\0'; p = slash + 1) {
		slash = strchr(p, '/');
		*slash = '\0';
		if (strcmp(p, ".") != 0 && strcmp(p, "..") != 0 &&
		    strcmp(p, "data") != 0 && strcmp(p, "server.log") != 0 &&
		    strcmp(p, "control") != 0)
			fail_msg("unexpected file %s/%s", srv.dir, p);
	}
	assert_non_null(d = opendir(srv.data));
	while ((de = readdir(d)) != NULL) {
		if (strcmp(de->d_name, ".") == 0 ||
		    strcmp(de->d_name, "..") == 0 ||
		    strcmp(de->d_name, ".glomaild.lock") == 0 ||
		    strcmp(de->d_name, RULES_LOST_DIR) == 0)
			continue;
		if (rules_username(de->d_name, lower, &why) == -1 ||
		    strcmp(lower, de->d_name) != 0)
			fail_msg("unexpected entry %s in the data directory",
			    de->d_name);
	}
	closedir(d);
	list_dir(".", names, sizeof(names));
	assert_string_equal(names, cwd_before);
}

enum expect {
	ERROR_STAYS,   /* ERROR, and the connection still answers */
	ERROR_CLOSES,  /* ERROR, then the server closes */
	CLOSES,        /* the server closes, no reply */
};

/* Check what came back on fd, then the invariants; closes fd. */
static void
check_outcome(int fd, enum expect expect, const char *label)
{
	char text[256];
	int h;

	switch (expect) {
	case ERROR_STAYS:
	case ERROR_CLOSES:
		h = hostile_reply(fd, WAIT_MS, text, sizeof(text));
		if (h != PROTO_ERROR)
			fail_msg("%s: expected ERROR, got %d", label, h);
		if (text[0] == '\0')
			fail_msg("%s: ERROR without a message", label);
		break;
	case CLOSES:
		break;
	}
	if (expect == ERROR_STAYS) {
		/* Still in step: the next request gets its own answer. */
		assert_int_equal(hostile_send_json(fd, "{\"header\": 10}"), 0);
		h = hostile_reply(fd, WAIT_MS, text, sizeof(text));
		if (h != PROTO_ERROR || strcmp(text, "not logged in") != 0)
			fail_msg("%s: connection out of step (%d %s)", label, h,
			    text);
		assert_int_equal(hostile_send_json(fd, "{\"header\": 3}"), 0);
	}
	if (!hostile_closed(fd, WAIT_MS))
		fail_msg("%s: connection not closed", label);
	close(fd);
	check_healthy();
}

/* One JSON text as one frame on a fresh connection. */
static void
json_case(const char *json, enum expect expect)
{
	int fd = testsrv_connect(&srv);

	assert_true(fd >= 0);
	assert_int_equal(hostile_send_json(fd, json), 0);
	check_outcome(fd, expect, json);
}

/* Raw bytes on a fresh connection, optionally ending our side. */
static void
raw_case(const void *bytes, size_t len, int shut, enum expect expect,
    const char *label)
{
	int fd = testsrv_connect(&srv);

	assert_true(fd >= 0);
	assert_int_equal(wire_write_all(fd, bytes, len), 0);
	if (shut)
		shutdown(fd, SHUT_WR);
	check_outcome(fd, expect, label);
}

static void
test_zero_length_frame(void **state)
{
	static const unsigned char zero[4] = { 0, 0, 0, 0 };

	(void)state;
	raw_case(zero, sizeof(zero), 0, ERROR_STAYS, "zero-length frame");
}

/* Judged on the 4 header bytes alone: nothing else is ever sent. */
static void
test_huge_length(void **state)
{
	static const unsigned char ff[4] = { 0xff, 0xff, 0xff, 0xff };
	unsigned char over[4];

	(void)state;
	raw_case(ff, sizeof(ff), 0, ERROR_CLOSES, "length 0xFFFFFFFF");
	frame_put_header(over, (uint32_t)FRAME_MAX_DEFAULT + 1);
	raw_case(over, sizeof(over), 0, ERROR_CLOSES, "length max-frame + 1");
	/* Before login a request is tiny: 8 KiB at most. */
	frame_put_header(over, 8192 + 1);
	raw_case(over, sizeof(over), 0, ERROR_CLOSES, "length 8 KiB + 1");
	assert_true(testsrv_log_contains(&srv, "frame too large length=8193 "
	    "max=8192 (before login)"));
	{
		/* 8 KiB exactly is read (and is not JSON). */
		unsigned char *big = malloc(4 + 8192);

		assert_non_null(big);
		frame_put_header(big, 8192);
		memset(big + 4, ' ', 8192);
		raw_case(big, 4 + 8192, 0, ERROR_STAYS, "8 KiB before login");
		free(big);
	}
}

static void
test_truncated(void **state)
{
	static const unsigned char half_header[2] = { 0, 0 };
	unsigned char half_body[4 + 10];

	(void)state;
	raw_case(half_header, sizeof(half_header), 1, CLOSES,
	    "truncated header");
	frame_put_header(half_body, 100);
	memcpy(half_body + 4, "{\"header\":", 10);
	raw_case(half_body, sizeof(half_body), 1, CLOSES, "truncated body");
	/* A whole request before the end is still answered, then closed. */
	{
		static const char stats[] = "\0\0\0\x0d{\"header\":10}\0\0";
		int fd = testsrv_connect(&srv);

		assert_true(fd >= 0);
		assert_int_equal(wire_write_all(fd, stats, sizeof(stats) - 1),
		    0);
		shutdown(fd, SHUT_WR);
		assert_int_equal(hostile_reply(fd, WAIT_MS, NULL, 0),
		    PROTO_ERROR);
		assert_true(hostile_closed(fd, WAIT_MS));
		close(fd);
		check_healthy();
	}
}

static void
test_invalid_utf8(void **state)
{
	(void)state;
	json_case("{\"header\": 5, \"payload\": {\"username\": \"\xff\xfe\", "
	    "\"password\": \"x\"}}", ERROR_STAYS);
	json_case("{\"header\": 5, \"payload\": {\"username\": \"\xc0\xaf\", "
	    "\"password\": \"x\"}}", ERROR_STAYS);
	json_case("{\"header\": 5, \"payload\": {\"username\": \"\xed\xa0\x80"
	    "\", \"password\": \"x\"}}", ERROR_STAYS);
	json_case("\xef\xbb\xbf{\"header\": 3}", ERROR_STAYS);
}

static void
test_not_an_object(void **state)
{
	static const char *const cases[] = {
		"[1, 2]", "\"header\"", "42", "null", "true", "{", "}",
		"{\"header\": 3} {\"header\": 3}", "{'header': 3}",
		"{\"header\": 3,}", "\x01\x02\x03",
	};
	size_t i;

	(void)state;
	for (i = 0; i < sizeof(cases) / sizeof(cases[0]); i++)
		json_case(cases[i], ERROR_STAYS);
}

static void
test_bad_header(void **state)
{
	static const char *const cases[] = {
		"{\"payload\": {}}",
		"{\"header\": \"5\"}",
		"{\"header\": 5.0}",
		"{\"header\": 3.5}",
		"{\"header\": -5}",
		"{\"header\": -1}",
		"{\"header\": 0}",
		"{\"header\": 1000}",
		"{\"header\": 2147483648}",
		"{\"header\": 4294967301}",
		"{\"header\": 9223372036854775807}",
		"{\"header\": -9223372036854775808}",
		"{\"header\": 99999999999999999999999999}",
		"{\"header\": 1e3}",
		"{\"header\": null}",
		"{\"header\": true}",
		"{\"header\": [5]}",
		"{\"header\": {}}",
		/* Replies, not requests. */
		"{\"header\": 1}",
		"{\"header\": 2, \"payload\": {\"error_message\": \"x\"}}",
	};
	size_t i;

	(void)state;
	for (i = 0; i < sizeof(cases) / sizeof(cases[0]); i++)
		json_case(cases[i], ERROR_STAYS);
}

static void
test_bad_payload(void **state)
{
	static const char *const cases[] = {
		"{\"header\": 5, \"payload\": [1]}",
		"{\"header\": 5, \"payload\": \"x\"}",
		"{\"header\": 5, \"payload\": 5}",
		"{\"header\": 5, \"payload\": true}",
		"{\"header\": 3, \"payload\": []}",
		"{\"header\": 5}",
		"{\"header\": 5, \"payload\": {}}",
		"{\"header\": 5, \"payload\": {\"username\": 5, "
		    "\"password\": \"Hostile0Passw\"}}",
		"{\"header\": 5, \"payload\": {\"username\": \"good\", "
		    "\"password\": null}}",
		"{\"header\": 5, \"payload\": {\"username\": [\"good\"], "
		    "\"password\": \"Hostile0Passw\"}}",
		"{\"header\": 4, \"payload\": {\"username\": {}, "
		    "\"password\": \"Hostile0Passw\"}}",
		"{\"header\": 4, \"payload\": {\"username\": \"x\", "
		    "\"password\": 1234567890}}",
	};
	size_t i;

	(void)state;
	for (i = 0; i < sizeof(cases) / sizeof(cases[0]); i++)
		json_case(cases[i], ERROR_STAYS);
}

static void
test_duplicate_keys(void **state)
{
	(void)state;
	json_case("{\"header\": 5, \"header\": 3}", ERROR_STAYS);
	json_case("{\"header\": 3, \"payload\": null, \"payload\": {}}",
	    ERROR_STAYS);
	json_case("{\"header\": 5, \"payload\": {\"username\": \"good\", "
	    "\"username\": \"evil\", \"password\": \"Hostile0Passw\"}}",
	    ERROR_STAYS);
}

/*
 * One JSON text as one frame on a logged-in connection (requests longer
 * than the 8 KiB taken before login): an ERROR, and the connection still
 * answers.
 */
static void
json_case_user(const char *json)
{
	char text[256];
	int fd = hostile_user(&srv, "nester"), h;

	assert_true(fd >= 0);
	assert_int_equal(hostile_send_json(fd, json), 0);
	h = hostile_reply(fd, WAIT_MS, text, sizeof(text));
	if (h != PROTO_ERROR || text[0] == '\0')
		fail_msg("expected ERROR, got %d", h);
	assert_int_equal(testsrv_request(fd, PROTO_STATS_REQUEST, NULL, NULL),
	    PROTO_OK);
	assert_int_equal(hostile_send_json(fd, "{\"header\": 3}"), 0);
	if (!hostile_closed(fd, WAIT_MS))
		fail_msg("connection not closed");
	close(fd);
	check_healthy();
}

static void
test_deep_nesting(void **state)
{
	size_t depth = 100000, i, len;
	char *json, *p;

	(void)state;
	/* {"header": 3, "payload": {"x": [[[[...]]]]}} */
	len = depth * 2 + 64;
	assert_non_null(json = malloc(len));
	p = json + sprintf(json, "{\"header\": 3, \"payload\": {\"x\": ");
	for (i = 0; i < depth; i++)
		*p++ = '[';
	for (i = 0; i < depth; i++)
		*p++ = ']';
	strcpy(p, "}}");
	json_case_user(json);
	/* Objects too, and a nest left open. */
	p = json;
	for (i = 0; i < depth / 8; i++)
		p += sprintf(p, "{\"a\":");
	*p = '\0';
	json_case_user(json);
	free(json);
}

/* Register and log in with each name: refused, and nothing is created. */
static void
test_hostile_usernames(void **state)
{
	static const char *const names[] = {
		".", "..", "../x", "../../x", "a/b", "/tmp/x", "LOST", "lost",
		"Lost", ".hidden", "a\\b", "a b", "", " ", "a:b", "x\r\ny",
		"\xc3\xa9t\xc3\xa9", "~root", "a*", "a\x7f",
	};
	char longname[1001], text[256];
	json_t *cred;
	size_t i;
	int fd, h, k;

	(void)state;
	memset(longname, 'a', sizeof(longname) - 1);
	longname[sizeof(longname) - 1] = '\0';
	for (i = 0; i <= sizeof(names) / sizeof(names[0]); i++) {
		const char *name = i < sizeof(names) / sizeof(names[0]) ?
		    names[i] : longname;

		for (k = 0; k < 2; k++) {
			assert_true((fd = testsrv_connect(&srv)) >= 0);
			cred = msg_credentials_new(name, HOSTILE_PASSWORD);
			assert_non_null(cred);
			assert_int_equal(wire_send(fd, k == 0 ?
			    PROTO_AUTH_REGISTER : PROTO_AUTH_LOGIN, cred,
			    FRAME_MAX_DEFAULT), 0);
			h = hostile_reply(fd, WAIT_MS, text, sizeof(text));
			if (h != PROTO_ERROR)
				fail_msg("user name \"%s\": got %d", name, h);
			close(fd);
		}
	}
	/* A NUL inside a name cannot even be parsed. */
	json_case("{\"header\": 4, \"payload\": {\"username\": \"a\\u0000b\", "
	    "\"password\": \"Hostile0Passw\"}}", ERROR_STAYS);
	json_case("{\"header\": 5, \"payload\": {\"username\": \"..\\u0000\", "
	    "\"password\": \"Hostile0Passw\"}}", ERROR_STAYS);
	check_healthy();
	assert_int_equal(access("/tmp/x", F_OK) == 0 &&
	    access("/tmp/x/pass", F_OK) == 0, 0);
}

/* Send an email request as user (logged in on fd); return the reply. */
static int
send_email(int fd, const char *user, const char *dest, const char *subject,
    char *text, size_t len)
{
	char from[128];
	struct msg_email e = { from, dest, subject, "Mon, 1 Jan 2024 00:00:00 "
	    "+0000", "body" };

	snprintf(from, sizeof(from), "%s@glo2000.ca", user);

	assert_int_equal(wire_send(fd, PROTO_EMAIL_SENDING, msg_email_new(&e),
	    FRAME_MAX_DEFAULT), 0);
	return hostile_reply(fd, WAIT_MS, text, len);
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

static void
test_header_injection(void **state)
{
	static const char *const subjects[] = {
		"a\r\nBcc: good@glo2000.ca", "a\nX: y", "a\rb", "tab\tok?",
		"nul\x01", "\r\n\r\nbody",
	};
	static const char *const dests[] = {
		"good@glo2000.ca\r\nBcc: x@glo2000.ca", "good@glo2000.ca\n",
		"\r\ngood@glo2000.ca", "good\r@glo2000.ca",
		"good@glo2000.ca\rX", "../good@glo2000.ca", "good/..@glo2000.ca",
		"LOST@glo2000.ca", "@glo2000.ca", "good@", "",
	};
	char text[256];
	long long before;
	size_t i;
	int fd;

	(void)state;
	assert_true((fd = hostile_user(&srv, "mallory")) >= 0);
	/* The same request, clean, is accepted: refusals below are earned. */
	before = stats_count(good);
	assert_int_equal(send_email(fd, "mallory", "good@glo2000.ca", "hello",
	    text, sizeof(text)), PROTO_OK);
	assert_int_equal(stats_count(good), before + 1);
	before++;
	for (i = 0; i < sizeof(subjects) / sizeof(subjects[0]); i++)
		if (send_email(fd, "mallory", "good@glo2000.ca", subjects[i], text,
		    sizeof(text)) != PROTO_ERROR)
			fail_msg("subject %zu was accepted", i);
	for (i = 0; i < sizeof(dests) / sizeof(dests[0]); i++)
		if (send_email(fd, "mallory", dests[i], "hello", text, sizeof(text)) !=
		    PROTO_ERROR)
			fail_msg("destination \"%s\" was accepted", dests[i]);
	/* A forged sender is refused too. */
	{
		struct msg_email e = { "good@glo2000.ca\r\nX: y",
		    "good@glo2000.ca", "s", NULL, "b" };

		assert_int_equal(wire_send(fd, PROTO_EMAIL_SENDING,
		    msg_email_new(&e), FRAME_MAX_DEFAULT), 0);
		assert_int_equal(hostile_reply(fd, WAIT_MS, NULL, 0),
		    PROTO_ERROR);
	}
	assert_int_equal(stats_count(good), before);
	/* Wrong field types after login. */
	assert_int_equal(hostile_send_json(fd, "{\"header\": 9, \"payload\": "
	    "{\"destination\": 5, \"subject\": \"s\", \"content\": \"c\"}}"), 0);
	assert_int_equal(hostile_reply(fd, WAIT_MS, NULL, 0), PROTO_ERROR);
	assert_int_equal(hostile_send_json(fd, "{\"header\": 9, \"payload\": "
	    "{\"destination\": \"good@glo2000.ca\", \"subject\": [], "
	    "\"content\": \"c\"}}"), 0);
	assert_int_equal(hostile_reply(fd, WAIT_MS, NULL, 0), PROTO_ERROR);
	assert_int_equal(stats_count(good), before);
	close(fd);
	check_healthy();
}

static void
test_bad_choice(void **state)
{
	static const char *const choices[] = {
		"0", "-1", "99", "2", "\"abc\"", "\"\"", "\"-1\"", "\" 1\"",
		"\"1 \"", "\"0x1\"", "\"1e3\"", "1.5", "1e3", "null", "[]",
		"{}", "true", "\"99999999999999999999999\"",
		"9223372036854775807", "-9223372036854775808",
	};
	char json[256], text[256];
	size_t i;
	int fd, h;

	(void)state;
	assert_true((fd = hostile_user(&srv, "chooser")) >= 0);
	/* One message, so choice 1 is the only valid one. */
	assert_int_equal(send_email(fd, "chooser", "chooser@glo2000.ca", "only", text,
	    sizeof(text)), PROTO_OK);
	assert_int_equal(testsrv_request(fd, PROTO_INBOX_READING_REQUEST, NULL,
	    NULL), PROTO_OK);
	for (i = 0; i < sizeof(choices) / sizeof(choices[0]); i++) {
		snprintf(json, sizeof(json), "{\"header\": 8, \"payload\": "
		    "{\"choice\": %s}}", choices[i]);
		assert_int_equal(hostile_send_json(fd, json), 0);
		h = hostile_reply(fd, WAIT_MS, text, sizeof(text));
		if (h != PROTO_ERROR)
			fail_msg("choice %s: got %d", choices[i], h);
	}
	assert_int_equal(hostile_send_json(fd, "{\"header\": 8, \"payload\": "
	    "{}}"), 0);
	assert_int_equal(hostile_reply(fd, WAIT_MS, NULL, 0), PROTO_ERROR);
	/* The valid one still works, as an integer and as a string. */
	assert_int_equal(hostile_send_json(fd, "{\"header\": 8, \"payload\": "
	    "{\"choice\": 1}}"), 0);
	assert_int_equal(hostile_reply(fd, WAIT_MS, NULL, 0), PROTO_OK);
	assert_int_equal(hostile_send_json(fd, "{\"header\": 8, \"payload\": "
	    "{\"choice\": \"1\"}}"), 0);
	assert_int_equal(hostile_reply(fd, WAIT_MS, NULL, 0), PROTO_OK);
	close(fd);
	check_healthy();
}

/* Every privileged request before login: ERROR (AUTH_LOGOUT: silence). */
static void
test_privileged_before_login(void **state)
{
	static const char *const cases[] = {
		"{\"header\": 7}",
		"{\"header\": 7, \"payload\": null}",
		"{\"header\": 8, \"payload\": {\"choice\": 1}}",
		"{\"header\": 9, \"payload\": {\"sender\": \"good@glo2000.ca\", "
		    "\"destination\": \"good@glo2000.ca\", \"subject\": \"s\", "
		    "\"date\": \"d\", \"content\": \"c\"}}",
		"{\"header\": 10}",
		"{\"header\": 10, \"payload\": {}}",
	};
	char text[256];
	size_t i;
	int fd;

	(void)state;
	for (i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		assert_true((fd = testsrv_connect(&srv)) >= 0);
		assert_int_equal(hostile_send_json(fd, cases[i]), 0);
		assert_int_equal(hostile_reply(fd, WAIT_MS, text,
		    sizeof(text)), PROTO_ERROR);
		assert_string_equal(text, "not logged in");
		close(fd);
	}
	/* AUTH_LOGOUT before login gets no reply: the next reply is STATS'. */
	assert_true((fd = testsrv_connect(&srv)) >= 0);
	assert_int_equal(hostile_send_json(fd, "{\"header\": 6}"), 0);
	assert_int_equal(hostile_send_json(fd, "{\"header\": 10}"), 0);
	assert_int_equal(hostile_reply(fd, WAIT_MS, text, sizeof(text)),
	    PROTO_ERROR);
	assert_string_equal(text, "not logged in");
	assert_int_equal(hostile_reply(fd, 300, NULL, 0), -2);
	close(fd);
	/* And after a logout, the same again. */
	assert_true((fd = hostile_user(&srv, "leaver")) >= 0);
	assert_int_equal(hostile_send_json(fd, "{\"header\": 6}"), 0);
	assert_int_equal(hostile_send_json(fd, "{\"header\": 7}"), 0);
	assert_int_equal(hostile_reply(fd, WAIT_MS, text, sizeof(text)),
	    PROTO_ERROR);
	assert_string_equal(text, "not logged in");
	close(fd);
	check_healthy();
}

/* Connections opened and dropped in every state, as fast as possible. */
static void
test_connection_flood(void **state)
{
	static const unsigned char partial[] = { 0, 0, 0, 50, '{' };
	int fds[256], i, round;

	(void)state;
	for (round = 0; round < 8; round++) {
		for (i = 0; i < 256; i++) {
			fds[i] = testsrv_connect(&srv);
			assert_true(fds[i] >= 0);
			if (i % 3 == 1)
				assert_int_equal(wire_write_all(fds[i], partial,
				    sizeof(partial)), 0);
			else if (i % 3 == 2)
				assert_int_equal(hostile_send_json(fds[i],
				    "{\"header\": 10}"), 0);
		}
		for (i = 0; i < 256; i++) {
			if (i % 5 == 0) {
				/* An abortive close: RST instead of FIN. */
				struct linger l = { 1, 0 };

				setsockopt(fds[i], SOL_SOCKET, SO_LINGER, &l,
				    sizeof(l));
			}
			close(fds[i]);
		}
	}
	check_healthy();
}

/*
 * Ten thousand small valid requests in one write: every one answered, in
 * order. Three kinds alternate so that order is visible: a stats (OK with
 * count), a read of message k (OK with its subject) and an invalid choice
 * (ERROR).
 */
static void
test_pipelined_10000(void **state)
{
	enum { N = 10000, MSGS = 5 };
	size_t cap = (size_t)N * 64, len = 0, off = 0;
	unsigned char *out;
	char subject[32], text[256];
	struct pollfd p;
	struct msg *m;
	union msg_args a;
	const char *why, *body;
	int fd, i, got = 0, flags;
	long long deadline;
	ssize_t n;

	(void)state;
	assert_true((fd = hostile_user(&srv, "piper")) >= 0);
	for (i = 1; i <= MSGS; i++) {
		snprintf(subject, sizeof(subject), "m%d", i);
		assert_int_equal(send_email(fd, "piper", "piper@glo2000.ca", subject,
		    text, sizeof(text)), PROTO_OK);
	}
	assert_int_equal(testsrv_request(fd, PROTO_INBOX_READING_REQUEST, NULL,
	    NULL), PROTO_OK);
	assert_non_null(out = malloc(cap));
	for (i = 0; i < N; i++) {
		char json[96];

		switch (i % 3) {
		case 0:
			body = "{\"header\": 10}";
			break;
		case 1:
			/* Newest first: choice k is message MSGS + 1 - k. */
			snprintf(json, sizeof(json), "{\"header\": 8, "
			    "\"payload\": {\"choice\": %d}}", i / 3 % MSGS + 1);
			body = json;
			break;
		default:
			body = "{\"header\": 8, \"payload\": {\"choice\": 0}}";
			break;
		}
		frame_put_header(out + len, (uint32_t)strlen(body));
		memcpy(out + len + 4, body, strlen(body));
		len += 4 + strlen(body);
	}
	/* One write as far as the kernel takes it, replies read meanwhile. */
	flags = fcntl(fd, F_GETFL);
	deadline = hostile_now_ms() + 50000;
	while (got < N && hostile_now_ms() < deadline) {
		if (off < len) {
			fcntl(fd, F_SETFL, flags | O_NONBLOCK);
			n = send(fd, out + off, len - off, MSG_NOSIGNAL);
			fcntl(fd, F_SETFL, flags);
			if (n > 0)
				off += (size_t)n;
			else
				assert_true(n == -1 && (errno == EAGAIN ||
				    errno == EWOULDBLOCK));
		}
		p.fd = fd;
		p.events = POLLIN;
		if (poll(&p, 1, off < len ? 10 : 1000) <= 0)
			continue;
		m = NULL;
		assert_int_equal(hostile_recv(fd, WAIT_MS, &m), HOSTILE_FRAME);
		switch (got % 3) {
		case 0:
			assert_int_equal(msg_header(m), PROTO_OK);
			assert_int_equal(msg_unpack(m, PROTO_SHAPE_STATS, &a,
			    &why), 0);
			assert_int_equal(a.stats.count, MSGS);
			break;
		case 1:
			assert_int_equal(msg_header(m), PROTO_OK);
			assert_int_equal(msg_unpack(m, PROTO_SHAPE_EMAIL, &a,
			    &why), 0);
			snprintf(subject, sizeof(subject), "m%d",
			    MSGS - got / 3 % MSGS);
			assert_string_equal(a.email.subject, subject);
			break;
		default:
			assert_int_equal(msg_header(m), PROTO_ERROR);
			break;
		}
		msg_free(m);
		got++;
	}
	assert_int_equal(got, N);
	assert_int_equal(off, len);
	assert_int_equal(hostile_reply(fd, 200, NULL, 0), -2);
	free(out);
	close(fd);
	check_healthy();
}

/*
 * A client that sends a stream of requests and never reads: the server
 * stops taking its requests while its replies wait, so its memory stays
 * bounded, while others are served; when the client reads at last, every
 * reply is there, in order.
 */
static void
test_never_reads(void **state)
{
	static const char list[] = "\0\0\0\x0d{\"header\": 7}";
	enum { CHUNK = 4096 / (sizeof(list) - 1) };
	unsigned char chunk[CHUNK * (sizeof(list) - 1)];
	long rss0, rss;
	size_t sent = 0, got = 0, i;
	char text[256];
	int fd, flags;
	ssize_t n;
	long long deadline;

	(void)state;
	assert_true((fd = hostile_user(&srv, "hoarder")) >= 0);
	for (i = 0; i < 40; i++)
		assert_int_equal(send_email(fd, "hoarder", "hoarder@glo2000.ca",
		    "a subject long enough to make each line of the list heavy, "
		    "so that every reply to a list is several kilobytes", text,
		    sizeof(text)), PROTO_OK);
	for (i = 0; i < CHUNK; i++)
		memcpy(chunk + i * (sizeof(list) - 1), list, sizeof(list) - 1);
	rss0 = hostile_rss_kib(srv.pid);
	/* Write until the server stops taking input (bounded: 12k asks). */
	flags = fcntl(fd, F_GETFL);
	fcntl(fd, F_SETFL, flags | O_NONBLOCK);
	deadline = hostile_now_ms() + 20000;
	while (sent < 12000 && hostile_now_ms() < deadline) {
		n = send(fd, chunk, sizeof(chunk), MSG_NOSIGNAL);
		if (n == -1 && (errno == EAGAIN || errno == EWOULDBLOCK)) {
			usleep(20000);
			n = send(fd, chunk, sizeof(chunk), MSG_NOSIGNAL);
			if (n == -1 && errno == EAGAIN)
				break;
		}
		assert_true(n > 0);
		assert_int_equal((size_t)n % (sizeof(list) - 1), 0);
		sent += (size_t)n / (sizeof(list) - 1);
	}
	fcntl(fd, F_SETFL, flags);
	usleep(500 * 1000); /* the server works until it pauses */
	/* Each list reply is about 6 KiB: unbounded, this would be 70 MB. */
	rss = hostile_rss_kib(srv.pid);
	print_message("never-reads: %zu requests queued, server RSS %ld -> "
	    "%ld KiB\n", sent, rss0, rss);
	assert_true(sent > 1000);
	assert_true(rss - rss0 < 40 * 1024);
	check_healthy();
	/* Now read: every reply, in order. */
	while (got < sent) {
		struct msg *m = NULL;

		assert_int_equal(hostile_recv(fd, WAIT_MS, &m), HOSTILE_FRAME);
		assert_int_equal(msg_header(m), PROTO_OK);
		msg_free(m);
		got++;
	}
	assert_int_equal(hostile_reply(fd, 200, NULL, 0), -2);
	close(fd);
	check_healthy();
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_zero_length_frame),
		cmocka_unit_test(test_huge_length),
		cmocka_unit_test(test_truncated),
		cmocka_unit_test(test_invalid_utf8),
		cmocka_unit_test(test_not_an_object),
		cmocka_unit_test(test_bad_header),
		cmocka_unit_test(test_bad_payload),
		cmocka_unit_test(test_duplicate_keys),
		cmocka_unit_test(test_deep_nesting),
		cmocka_unit_test(test_hostile_usernames),
		cmocka_unit_test(test_header_injection),
		cmocka_unit_test(test_bad_choice),
		cmocka_unit_test(test_privileged_before_login),
		cmocka_unit_test(test_connection_flood),
		cmocka_unit_test(test_pipelined_10000),
		cmocka_unit_test(test_never_reads),
	};

	signal(SIGPIPE, SIG_IGN);
	return cmocka_run_group_tests(tests, group_setup, group_teardown);
}
