/*
 * test_message.c - RFC 5322 files built and parsed back, RFC 2047 subjects.
 */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>
#include <sodium.h>

#include "message.h"

static void
roundtrip(const char *subject, const char *body)
{
	struct message_info info;
	size_t len;
	char *file;

	file = message_build("alice@glo2000.ca", "bob@glo2000.ca", subject,
	    "Tue, 12 Jul 2022 19:21:57 +0000", "<1.x@glo2000.ca>", body, &len);
	assert_non_null(file);
	assert_int_equal(message_parse(file, len, 1, &info), 0);
	assert_string_equal(info.from, "alice@glo2000.ca");
	assert_string_equal(info.to, "bob@glo2000.ca");
	assert_string_equal(info.subject, subject);
	assert_string_equal(info.date, "Tue, 12 Jul 2022 19:21:57 +0000");
	assert_int_equal(info.when, 1657653717);
	assert_string_equal(info.body, body);
	message_info_clear(&info);
	free(file);
}

static void
test_build_headers(void **state)
{
	size_t len;
	char *file;

	(void)state;
	file = message_build("a@glo2000.ca", "b@glo2000.ca", "Hello", "D",
	    "<id@glo2000.ca>", "body\n", &len);
	assert_non_null(file);
	assert_string_equal(file, "From: a@glo2000.ca\nTo: b@glo2000.ca\n"
	    "Subject: Hello\nDate: D\nMessage-ID: <id@glo2000.ca>\n"
	    "MIME-Version: 1.0\nContent-Type: text/plain; charset=utf-8\n"
	    "Content-Transfer-Encoding: 8bit\n\nbody\n");
	assert_int_equal(len, strlen(file));
	free(file);
	/* Non-ASCII subjects become encoded-words, never raw 8-bit. */
	file = message_build("a@glo2000.ca", "b@glo2000.ca", "R\xc3\xa9union",
	    "D", "<id@glo2000.ca>", "", &len);
	assert_non_null(strstr(file, "Subject: =?UTF-8?B?UsOpdW5pb24=?=\n"));
	free(file);
}

static void
test_roundtrips(void **state)
{
	char longsubj[400];
	size_t i;

	(void)state;
	roundtrip("plain", "one line");
	roundtrip("R\xc3\xa9union \xc3\xa0 10h", "ligne un \xc3\xa9\nligne deux "
	    "\xe2\x9c\x93");
	roundtrip("", "");
	roundtrip("emoji \xf0\x9f\x98\x80 and more", "From the start\n.\n");
	roundtrip("a header: looking line", "\n\nleading blank lines");
	/* Long non-ASCII subjects fold over several encoded-words. */
	for (i = 0; i + 2 < sizeof(longsubj) - 1; i += 2)
		memcpy(longsubj + i, "\xc3\xa9", 2);
	longsubj[i] = '\0';
	roundtrip(longsubj, "x");
}

/* Files written by other tools: folding, Q encoding, Latin-1, CRLF. */
static void
test_foreign(void **state)
{
	static const char file[] =
	    "Return-Path: <x@y>\r\n"
	    "From: \"Alice A.\" <alice@glo2000.ca>\r\n"
	    "To: bob@glo2000.ca\r\n"
	    "Subject: =?iso-8859-1?q?caf=E9?= =?utf-8?b?IOKckw==?=\r\n"
	    " suite\r\n"
	    "Date: Wed, 13 Jul 2022 01:00:00 +0200\r\n"
	    "\r\n"
	    "corps \xff\r\n";
	struct message_info info;

	(void)state;
	assert_int_equal(message_parse(file, sizeof(file) - 1, 1, &info), 0);
	assert_string_equal(info.from, "alice@glo2000.ca");
	assert_string_equal(info.subject, "caf\xc3\xa9 \xe2\x9c\x93 suite");
	assert_int_equal(info.when, 1657666800);
	/* Invalid UTF-8 is replaced so it can travel in JSON. */
	assert_string_equal(info.body, "corps \xef\xbf\xbd\r\n");
	message_info_clear(&info);
}

static void
test_missing_headers(void **state)
{
	struct message_info info;

	(void)state;
	assert_int_equal(message_parse("no headers at all", 17, 1, &info), 0);
	assert_string_equal(info.from, "");
	assert_string_equal(info.subject, "");
	assert_int_equal(info.when, -1);
	message_info_clear(&info);
	assert_int_equal(message_parse_date("garbage"), -1);
	assert_int_equal(message_parse_date("12 Jul 2022 19:21:57 +0000"),
	    1657653717);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_build_headers),
		cmocka_unit_test(test_roundtrips),
		cmocka_unit_test(test_foreign),
		cmocka_unit_test(test_missing_headers),
	};

	if (sodium_init() == -1)
		return 1;
	return cmocka_run_group_tests(tests, NULL, NULL);
}
