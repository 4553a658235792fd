/*
 * test_message.c - RFC 5322 files built and parsed back, RFC 2047 subjects.
 */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>
#include <sodium.h>

#include "message.h"
#include "rules.h"

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

/* Every header line of a built file: ASCII, within RFC 2047's 76. */
static void
check_header_lines(const char *file)
{
	const char *p = file, *eol;

	while ((eol = strchr(p, '\n')) != NULL && eol != p) {
		assert_true(eol - p <= 78);
		for (; p < eol; p++)
			assert_true((unsigned char)*p >= 0x20 &&
			            (unsigned char)*p < 0x7f);
		p = eol + 1;
	}
}

static void
roundtrip(const char *subject, const char *body)
{
	struct message_info info;
	size_t len;
	char *file;

	file = message_build("alice@glo2000.ca", "bob@glo2000.ca", subject,
	    "Tue, 12 Jul 2022 19:21:57 +0000", "<1.x@glo2000.ca>", body, &len);
	assert_non_null(file);
	check_header_lines(file);
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
	assert_string_equal(file,
	    "From: a@glo2000.ca\nTo: b@glo2000.ca\n"
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
	roundtrip("R\xc3\xa9union \xc3\xa0 10h",
	    "ligne un \xc3\xa9\nligne deux "
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

/*
 * Subjects that would not survive being written as is: blanks at either
 * end (the parser drops blanks after the colon), ASCII that looks like an
 * encoded-word (it would be decoded on read), and lines too long for one
 * header line. The server encodes them; they come back exactly.
 */
static void
test_roundtrip_odd(void **state)
{
	char s[RULES_SUBJECT_MAX + 1];
	size_t len;
	char *file;

	(void)state;
	roundtrip(" leading blank", "");
	roundtrip("  two leading", "");
	roundtrip("trailing blank ", "");
	roundtrip("inner   blanks", "");
	roundtrip(" ", "");
	roundtrip("   ", "");
	roundtrip("=?UTF-8?B?SGk=?=", "");
	roundtrip("=?utf-8?q?=1b[2J=0d=0a?=", "");
	roundtrip("=?utf-8?q?From:_boss?= =?iso-8859-1?q?caf=E9?=", "");
	roundtrip("a =? b ?= c", "");
	roundtrip("=?", "");
	roundtrip(" R\xc3\xa9union ", "");
	/* Longest subject: 998 ASCII bytes, then 499 two-byte characters. */
	memset(s, 'x', RULES_SUBJECT_MAX);
	s[RULES_SUBJECT_MAX] = '\0';
	roundtrip(s, "");
	memset(s, ' ', RULES_SUBJECT_MAX);
	roundtrip(s, "");
	for (len = 0; len + 2 <= RULES_SUBJECT_MAX; len += 2)
		memcpy(s + len, "\xc3\xa9", 2);
	s[len] = '\0';
	roundtrip(s, "");
	/* Short plain ASCII stays readable in the file. */
	file = message_build("a@glo2000.ca", "b@glo2000.ca", "a  b", "D",
	    "<id@glo2000.ca>", "", &len);
	assert_non_null(strstr(file, "\nSubject: a  b\n"));
	free(file);
	file = message_build("a@glo2000.ca", "b@glo2000.ca", "=?x?q?y?=", "D",
	    "<id@glo2000.ca>", "", &len);
	assert_null(strstr(file, "Subject: =?x?q?y?="));
	free(file);
}

/* A small deterministic generator, so a failure can be replayed. */
static uint64_t
next_rand(uint64_t *x)
{
	*x ^= *x << 13;
	*x ^= *x >> 7;
	*x ^= *x << 17;
	return *x;
}

/*
 * Property: for every subject the send rules accept, message_build then
 * message_parse gives it back byte for byte, in LF and in CRLF files.
 * Subjects are drawn from pieces chosen to hit the encoder's edges:
 * blanks, encoded-word look-alikes, 1- to 4-byte characters around the
 * 39-byte word boundary, any length up to RULES_SUBJECT_MAX.
 */
static void
test_roundtrip_property(void **state)
{
	static const char *const pieces[] = {
		" ",
		" ",
		"  ",
		"a",
		"Z",
		"0",
		"=",
		"?",
		"_",
		"=?",
		"?=",
		"=?UTF-8?B?",
		"=?utf-8?q?",
		"=1b",
		"=0d=0a",
		"?B?",
		"?Q?",
		"\xc3\xa9",
		"\xe2\x9c\x93",
		"\xf0\x9f\x98\x80",
		"\xc2\xa0",
		"Subject:",
		"From: x@y",
		"word",
		"~!@#$%^&*()",
		"\"<>\\",
	};
	char s[RULES_SUBJECT_MAX + 1], *file, *crlf;
	struct message_info info;
	uint64_t x = 0x9e3779b97f4a7c15ull;
	const char *why, *piece;
	size_t len, target, plen, i, j, n;
	int round;

	(void)state;
	for (round = 0; round < 3000; round++) {
		/* Mostly short, sometimes near or at the cap. */
		target = next_rand(&x) % 4 == 0
		             ? RULES_SUBJECT_MAX - next_rand(&x) % 8
		             : next_rand(&x) % 120;
		len = 0;
		while (len < target) {
			piece = pieces[next_rand(&x) %
			               (sizeof(pieces) / sizeof(pieces[0]))];
			plen = strlen(piece);
			if (len + plen > target)
				break;
			memcpy(s + len, piece, plen);
			len += plen;
		}
		s[len] = '\0';
		assert_int_equal(rules_subject(s, &why), 0);
		file = message_build("a@glo2000.ca", "b@glo2000.ca", s,
		    "Tue, 12 Jul 2022 19:21:57 +0000", "<1.x@glo2000.ca>",
		    "body", &len);
		assert_non_null(file);
		check_header_lines(file);
		assert_int_equal(message_parse(file, len, 0, &info), 0);
		if (strcmp(info.subject, s) != 0)
			fail_msg("round %d: \"%s\" came back as \"%s\"", round,
			    s, info.subject);
		message_info_clear(&info);
		/* The same file as another writer may store it, with CRLF. */
		for (i = 0, n = 0; i < len; i++)
			n += file[i] == '\n';
		crlf = malloc(len + n + 1);
		assert_non_null(crlf);
		for (i = 0, j = 0; i < len; i++) {
			if (file[i] == '\n')
				crlf[j++] = '\r';
			crlf[j++] = file[i];
		}
		assert_int_equal(message_parse(crlf, j, 0, &info), 0);
		assert_string_equal(info.subject, s);
		message_info_clear(&info);
		free(crlf);
		free(file);
	}
}

/*
 * Files written by other programs: whatever their headers hold, raw or
 * encoded, no field comes back with a control character. TAB becomes a
 * space, every other control U+FFFD.
 */
static void
test_foreign_controls(void **state)
{
	static const char file[] =
	    "From: =?utf-8?q?boss=0d=0aX:?= <eve\x1b[2J@glo2000.ca>\n"
	    "To: bob@glo2000.ca\x7f\n"
	    "Subject: =?utf-8?q?=1b[2J=0d=0aFrom:_boss?= =?UTF-8?B?wpsyMW0=?="
	    " =?iso-8859-1?q?=9b=80caf=E9?= raw\x1b]0;t\x07 \xc2\x9b"
	    "1m"
	    "\tTAB=?utf-8?q?a=00b?=\r\n"
	    "Date: Tue, 12 Jul 2022 19:21:57 +0000\x1b[K\n"
	    "\n"
	    "body \x1b[31m stays\n";
	struct message_info info;

	(void)state;
	assert_int_equal(message_parse(file, sizeof(file) - 1, 1, &info), 0);
	assert_false(has_control(info.from));
	assert_false(has_control(info.to));
	assert_false(has_control(info.subject));
	assert_false(has_control(info.date));
	assert_string_equal(info.from, "eve\xef\xbf\xbd[2J@glo2000.ca");
	assert_string_equal(info.to, "bob@glo2000.ca\xef\xbf\xbd");
	assert_string_equal(info.subject,
	    "\xef\xbf\xbd[2J\xef\xbf\xbd\xef\xbf\xbd"
	    "From: boss"
	    "\xef\xbf\xbd"
	    "21m"
	    "\xef\xbf\xbd\xef\xbf\xbd"
	    "caf\xc3\xa9"
	    " raw\xef\xbf\xbd]0;t\xef\xbf\xbd \xef\xbf\xbd"
	    "1m"
	    " TAB"
	    "a\xef\xbf\xbd"
	    "b");
	assert_int_equal(info.when, 1657653717);
	/* Bodies are bytes the client escapes: they stay exact. */
	assert_string_equal(info.body, "body \x1b[31m stays\n");
	message_info_clear(&info);
}

/* Encoded-words longer than any fixed buffer, padded or not. */
static void
test_long_words(void **state)
{
	char file[8192], want[4096], b64[5600];
	struct message_info info;
	size_t i, n;

	(void)state;
	/* One Q word of 2,000 characters ("=e9" each: 6,000 bytes). */
	n = (size_t)snprintf(file, sizeof(file), "Subject: =?iso-8859-1?q?");
	for (i = 0; i < 2000; i++)
		n += (size_t)snprintf(file + n, sizeof(file) - n, "=E9");
	n += (size_t)snprintf(file + n, sizeof(file) - n, "?=\n\n");
	assert_int_equal(message_parse(file, n, 0, &info), 0);
	/* 2,000 characters are 4,000 bytes: cut to one header line. */
	assert_int_equal(strlen(info.subject), RULES_SUBJECT_MAX);
	for (i = 0; i < RULES_SUBJECT_MAX; i += 2)
		assert_memory_equal(info.subject + i, "\xc3\xa9", 2);
	message_info_clear(&info);
	/* One B word of 900 bytes (1,200 base64 characters). */
	for (i = 0; i < 900; i++)
		want[i] = (char)('a' + i % 26);
	want[900] = '\0';
	sodium_bin2base64(b64, sizeof(b64), (const unsigned char *)want, 900,
	    sodium_base64_VARIANT_ORIGINAL);
	n = (size_t)snprintf(file, sizeof(file), "Subject: =?UTF-8?B?%s?=\n\n",
	    b64);
	assert_int_equal(message_parse(file, n, 0, &info), 0);
	assert_string_equal(info.subject, want);
	message_info_clear(&info);
	/* Without the padding RFC 2047 asks for: still read. */
	n = (size_t)snprintf(file, sizeof(file),
	    "Subject: =?utf-8?b?SMOp?= "
	    "=?utf-8?b?bGxv?=\n\n");
	assert_int_equal(message_parse(file, n, 0, &info), 0);
	assert_string_equal(info.subject, "H\xc3\xa9llo");
	message_info_clear(&info);
	n = (size_t)snprintf(file, sizeof(file),
	    "Subject: =?utf-8?b?SMOpbA?=\n\n");
	assert_int_equal(message_parse(file, n, 0, &info), 0);
	assert_string_equal(info.subject, "H\xc3\xa9l");
	message_info_clear(&info);
}

/* Blanks go only between two encoded-words that both decode. */
static void
test_blanks_between_words(void **state)
{
	static const char *const cases[][2] = {
		{ "=?utf-8?q?a?= =?utf-8?q?b?=", "ab" },
		{ "=?utf-8?q?a?=  \t =?utf-8?q?b?=", "ab" },
		{ "=?utf-8?q?a?= =?koi8-r?q?b?=", "a =?koi8-r?q?b?=" },
		{ "=?utf-8?q?a?= =?", "a =?" },
		{ "=?utf-8?q?a?= b =?utf-8?q?c?=", "a b c" },
		{ "x =?utf-8?q?a?=", "x a" },
		{ "=?utf-8?q?a?=", "a" },
	};
	char file[256];
	struct message_info info;
	size_t i;
	int n;

	(void)state;
	for (i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		n = snprintf(file, sizeof(file), "Subject: %s\n\n",
		    cases[i][0]);
		assert_int_equal(message_parse(file, (size_t)n, 0, &info), 0);
		assert_string_equal(info.subject, cases[i][1]);
		message_info_clear(&info);
	}
}

/* Header lines: folding on any line, junk lines skipped whole. */
static void
test_header_lines(void **state)
{
	static const char
	    file[] = "not a field\n"
	             " Subject: from the junk line's continuation\n"
	             "Subject:\n"
	             "  folded\n"
	             "\tsubject\n"
	             "subject: a second one is ignored\n"
	             "X-Other: =?utf-8?q?=1b?=\n"
	             "\n"
	             "Subject: in the body\n";
	struct message_info info;

	(void)state;
	assert_int_equal(message_parse(file, sizeof(file) - 1, 1, &info), 0);
	assert_string_equal(info.subject, "folded subject");
	assert_string_equal(info.body, "Subject: in the body\n");
	message_info_clear(&info);
}

/* Files written by other tools: folding, Q encoding, Latin-1, CRLF. */
static void
test_foreign(void **state)
{
	static const char
	    file[] = "Return-Path: <x@y>\r\n"
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

/* Parse file and compare its body with want. */
static void
assert_body(const char *file, const char *want)
{
	struct message_info info;

	assert_int_equal(message_parse(file, strlen(file), 1, &info), 0);
	assert_string_equal(info.body, want);
	message_info_clear(&info);
}

/*
 * Mail from other writers (SMTP): the text part of a multipart message is
 * shown, attachments are named and not dumped, transfer encodings undone,
 * Latin-1 turned into UTF-8 and other bytes into U+FFFD.
 */
static void
test_mime(void **state)
{
	(void)state;
	assert_body(
	    "Subject: m\nMIME-Version: 1.0\nContent-Type: multipart/"
	    "mixed; boundary=\"==b1\"\n\npreamble\n--==b1\nContent-Type: "
	    "text/plain; charset=utf-8\n\nhello \xc3\xa9\n--==b1\n"
	    "Content-Type: application/pdf; name=\"r.pdf\"\nContent-"
	    "Disposition: attachment; filename=\"report.pdf\"\nContent-"
	    "Transfer-Encoding: base64\n\nJVBERi0xLjQK\n--==b1--\nepilogue\n",
	    "hello \xc3\xa9\n[attachment: report.pdf (application/pdf)]\n");
	/* Of alternatives, the plain text alone, quoted-printable undone. */
	assert_body(
	    "Content-Type: multipart/alternative; boundary=XY\n\n"
	    "--XY\r\nContent-Type: text/plain; charset=iso-8859-1\r\n"
	    "Content-Transfer-Encoding: quoted-printable\r\n\r\ncaf=E9 =\r\n"
	    "au lait\r\n--XY\r\nContent-Type: text/html\r\n\r\n<p>caf"
	    "</p>\r\n--XY--\r\n",
	    "caf\xc3\xa9 au lait");
	/* Latin-1 8-bit body; a stray byte under UTF-8 becomes U+FFFD. */
	assert_body("Content-Type: text/plain; charset=ISO-8859-1\n\n"
	            "d\xe9j\xe0\n",
	    "d\xc3\xa9j\xc3\xa0\n");
	assert_body("Content-Type: text/plain; charset=utf-8\n\nx\xff\n",
	    "x\xef\xbf\xbd\n");
	/* A base64 text part; nested multipart; an RFC 2047 file name. */
	assert_body(
	    "Content-Type: multipart/mixed; boundary=o\n\n--o\n"
	    "Content-Type: multipart/alternative; boundary=i\n\n--i\n"
	    "Content-Transfer-Encoding: base64\n\naGkK\n--i--\n--o\n"
	    "Content-Type: image/png; name=\"=?utf-8?q?=C3=A9t=C3=A9.png?=\"\n"
	    "\nPNG\x1b[2J\n--o--\n",
	    "hi\n[attachment: \xc3\xa9t\xc3\xa9.png (image/png)]\n");
	/* A body that is not text at all is only named. */
	assert_body("Content-Type: application/zip\n\nPK\x03\x04\n",
	    "[attachment: unnamed (application/zip)]\n");
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_build_headers),
		cmocka_unit_test(test_roundtrips),
		cmocka_unit_test(test_roundtrip_odd),
		cmocka_unit_test(test_roundtrip_property),
		cmocka_unit_test(test_foreign),
		cmocka_unit_test(test_foreign_controls),
		cmocka_unit_test(test_long_words),
		cmocka_unit_test(test_blanks_between_words),
		cmocka_unit_test(test_header_lines),
		cmocka_unit_test(test_missing_headers),
		cmocka_unit_test(test_mime),
	};

	if (sodium_init() == -1)
		return 1;
	return cmocka_run_group_tests(tests, NULL, NULL);
}
