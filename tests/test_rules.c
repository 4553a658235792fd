/*
 * test_rules.c - user names, passwords, addresses, dates.
 */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <string.h>

#include <cmocka.h>

#include "rules.h"

static void
test_username_ok(void **state)
{
	char lower[RULES_USERNAME_MAX + 1];
	const char *why = NULL;

	(void)state;
	assert_int_equal(rules_username("Bob", lower, &why), 0);
	assert_string_equal(lower, "bob");
	assert_int_equal(rules_username("user.name-2_X", lower, &why), 0);
	assert_string_equal(lower, "user.name-2_x");
	assert_int_equal(rules_username("a..b", lower, &why), 0);
	assert_int_equal(rules_username("lost2", lower, &why), 0);
}

static void
test_username_refused(void **state)
{
	static const char *bad[] = { "", ".", "..", ".hidden", "../x", "a/b",
		"LOST", "lost", "Lost", "a b", "é", "a@b", "a\\b", "tab\t",
		"new\nline" };
	char lower[RULES_USERNAME_MAX + 1], longname[1001];
	const char *why;
	size_t i;

	(void)state;
	for (i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		why = NULL;
		assert_int_equal(rules_username(bad[i], lower, &why), -1);
		assert_non_null(why);
	}
	memset(longname, 'a', 65);
	longname[65] = '\0';
	assert_int_equal(rules_username(longname, lower, &why), -1);
	longname[64] = '\0';
	assert_int_equal(rules_username(longname, lower, &why), 0);
	memset(longname, 'a', 1000);
	longname[1000] = '\0';
	assert_int_equal(rules_username(longname, lower, &why), -1);
}

static void
test_password(void **state)
{
	const char *why = NULL;
	char big[RULES_PASSWORD_MAX + 2];

	(void)state;
	assert_int_equal(rules_password("Interop0Passw", &why), 0);
	assert_int_equal(rules_password("Abcdefgh1j", &why), 0);
	/* 9 characters */
	assert_int_equal(rules_password("Abcdefg1j", &why), -1);
	assert_non_null(why);
	assert_int_equal(rules_password("abcdefgh1jk", &why),
	    -1); /* no upper */
	assert_int_equal(rules_password("ABCDEFGH1JK", &why),
	    -1); /* no lower */
	assert_int_equal(rules_password("Abcdefghijk", &why),
	    -1); /* no digit */
	/* Code points count, not bytes: 9 characters in 12 bytes is short. */
	assert_int_equal(rules_password("Ab1\xc3\xa9\xc3\xa9\xc3\xa9\xc3\xa9",
	                     &why),
	    -1);
	/* 10 code points with accents is enough. */
	assert_int_equal(
	    rules_password("Ab1\xc3\xa9\xc3\xa9\xc3\xa9\xc3\xa9xyz", &why), 0);
	assert_int_equal(rules_password("Abcdefgh1\xff\xfe", &why), -1);
	memset(big, 'a', sizeof(big) - 1);
	big[sizeof(big) - 1] = '\0';
	big[0] = 'A';
	big[1] = '1';
	assert_int_equal(rules_password(big, &why), -1);
}

static void
test_address(void **state)
{
	char user[RULES_USERNAME_MAX + 1];
	const char *why = NULL;

	(void)state;
	assert_int_equal(rules_address("Alice@GLO2000.ca", "glo2000.ca", user,
	                     &why),
	    RULES_ADDR_LOCAL);
	assert_string_equal(user, "alice");
	assert_int_equal(rules_address("alice@example.com", "glo2000.ca", user,
	                     &why),
	    RULES_ADDR_EXTERNAL);
	assert_int_equal(rules_address("alice", "glo2000.ca", user, &why),
	    RULES_ADDR_INVALID);
	assert_int_equal(rules_address("@glo2000.ca", "glo2000.ca", user, &why),
	    RULES_ADDR_INVALID);
	assert_int_equal(rules_address("alice@", "glo2000.ca", user, &why),
	    RULES_ADDR_INVALID);
	assert_int_equal(rules_address("a@b@glo2000.ca", "glo2000.ca", user,
	                     &why),
	    RULES_ADDR_INVALID);
	assert_int_equal(rules_address("../x@glo2000.ca", "glo2000.ca", user,
	                     &why),
	    RULES_ADDR_INVALID);
	assert_int_equal(rules_address("LOST@glo2000.ca", "glo2000.ca", user,
	                     &why),
	    RULES_ADDR_INVALID);
	assert_int_equal(rules_address("bob@glo2000.ca\r\nBcc: x@y",
	                     "glo2000.ca", user, &why),
	    RULES_ADDR_INVALID);
	assert_int_equal(rules_address("bob@glo2000.ca.evil", "glo2000.ca",
	                     user, &why),
	    RULES_ADDR_EXTERNAL);
	/* A C1 control is as bad in an address as a C0 one. */
	assert_int_equal(rules_address("bob@glo2000.ca\xc2\x9b"
	                               "2J",
	                     "glo2000.ca", user, &why),
	    RULES_ADDR_INVALID);
	assert_int_equal(rules_address("bob\x1b@glo2000.ca", "glo2000.ca", user,
	                     &why),
	    RULES_ADDR_INVALID);
}

static void
test_header_safe(void **state)
{
	(void)state;
	assert_int_equal(rules_header_safe("R\xc3\xa9union \xc3\xa0 10h"), 0);
	assert_int_equal(rules_header_safe("a\rb"), -1);
	assert_int_equal(rules_header_safe("a\nb"), -1);
	assert_int_equal(rules_header_safe(""), 0);
	/* Every C0 control, DEL, and the C1 range as UTF-8 (U+009B is CSI). */
	assert_int_equal(rules_header_safe("a\tb"), -1);
	assert_int_equal(rules_header_safe("a\x1b[2Jb"), -1);
	assert_int_equal(rules_header_safe("a\x7f"), -1);
	assert_int_equal(rules_header_safe("a\xc2\x80"), -1);
	assert_int_equal(rules_header_safe("\xc2\x9b"
	                                   "2J"),
	    -1);
	assert_int_equal(rules_header_safe("a\xc2\x9f"), -1);
	/* Just past the C1 range: NO-BREAK SPACE is text. */
	assert_int_equal(rules_header_safe("a\xc2\xa0"
	                                   "b"),
	    0);
	/* A lone 0x9b byte is CSI to an 8-bit terminal: not UTF-8, refused. */
	assert_int_equal(rules_header_safe("a\x9b"
	                                   "2J"),
	    -1);
	assert_int_equal(rules_header_safe("\xc3"), -1);
	/* Overlong forms (U+079F in three bytes, U+FFFF in four). */
	assert_int_equal(rules_header_safe("not\xe0\x9e\x9f"), -1);
	assert_int_equal(rules_header_safe("\xf0\x8f\xbf\xbf"), -1);
	assert_int_equal(rules_header_safe("\xe0\xa0\x80"), 0);
	assert_int_equal(rules_header_safe("\xe2\x9c\x93 \xf0\x9f\x98\x80"), 0);
}

static void
test_subject(void **state)
{
	char s[RULES_SUBJECT_MAX + 3];
	const char *why = NULL;
	size_t i;

	(void)state;
	assert_int_equal(RULES_SUBJECT_MAX, 998);
	memset(s, 'a', RULES_SUBJECT_MAX);
	s[RULES_SUBJECT_MAX] = '\0';
	assert_int_equal(rules_subject(s, &why), 0);
	s[RULES_SUBJECT_MAX] = 'a';
	s[RULES_SUBJECT_MAX + 1] = '\0';
	assert_int_equal(rules_subject(s, &why), -1);
	assert_string_equal(why, "subject is longer than 998 bytes");
	/* The bound is in bytes: 499 two-byte characters fit, 500 do not. */
	for (i = 0; i + 2 <= RULES_SUBJECT_MAX; i += 2)
		memcpy(s + i, "\xc3\xa9", 2);
	s[i] = '\0';
	assert_int_equal(rules_subject(s, &why), 0);
	memcpy(s + i, "\xc3\xa9", 3);
	assert_int_equal(rules_subject(s, &why), -1);
	assert_string_equal(why, "subject is longer than 998 bytes");
	assert_int_equal(rules_subject("", &why), 0);
	assert_int_equal(rules_subject("=?utf-8?q?=1b[2J?=", &why), 0);
	assert_int_equal(rules_subject("x\xc2\x9b"
	                               "31m",
	                     &why),
	    -1);
	assert_string_equal(why, "subject may not contain line breaks or "
	                         "control characters");
	assert_int_equal(rules_subject("s\r\nBcc: x", &why), -1);
}

static void
test_date(void **state)
{
	char buf[RULES_DATE_LEN];

	(void)state;
	/* 2022-07-12 19:21:57 UTC, the seed's example */
	assert_int_equal(rules_date(1657653717, buf), 31);
	assert_string_equal(buf, "Tue, 12 Jul 2022 19:21:57 +0000");
	assert_int_equal(rules_date(0, buf), 31);
	assert_string_equal(buf, "Thu, 01 Jan 1970 00:00:00 +0000");
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_username_ok),
		cmocka_unit_test(test_username_refused),
		cmocka_unit_test(test_password),
		cmocka_unit_test(test_address),
		cmocka_unit_test(test_header_safe),
		cmocka_unit_test(test_subject),
		cmocka_unit_test(test_date),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
