/*
 * test_smtp_parse.c - SMTP command lines, paths, HELO names, AUTH PLAIN and
 * the DATA reader, fed whole and one byte at a time; every malformed end of
 * data used in SMTP smuggling, each followed by a second transaction in the
 * same bytes.
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

#include "smtp_parse.h"

static void
test_verbs(void **state)
{
	const char *arg;

	(void)state;
	assert_int_equal(smtp_parse_verb("EHLO client.example", &arg),
	    SMTP_EHLO);
	assert_string_equal(arg, "client.example");
	assert_int_equal(smtp_parse_verb("ehlo [127.0.0.1]", &arg), SMTP_EHLO);
	assert_int_equal(smtp_parse_verb("mail FROM:<a@b.c>", &arg), SMTP_MAIL);
	assert_string_equal(arg, "FROM:<a@b.c>");
	assert_int_equal(smtp_parse_verb("DATA", &arg), SMTP_DATA);
	assert_string_equal(arg, "");
	assert_int_equal(smtp_parse_verb("StartTLS", &arg), SMTP_STARTTLS);
	assert_int_equal(smtp_parse_verb("GET / HTTP/1.1", &arg), SMTP_HTTP);
	assert_int_equal(smtp_parse_verb("POST /x HTTP/1.0", &arg), SMTP_HTTP);
	assert_int_equal(smtp_parse_verb("DATAX", &arg), SMTP_UNKNOWN);
	assert_int_equal(smtp_parse_verb("", &arg), SMTP_UNKNOWN);
	assert_int_equal(smtp_parse_verb("MAILFROM:<a@b.c>", &arg),
	    SMTP_UNKNOWN);
	assert_string_equal(smtp_verb_name(SMTP_RCPT), "RCPT");
}

static void
test_paths(void **state)
{
	struct smtp_path p;

	(void)state;
	assert_int_equal(smtp_parse_path("FROM:<alice@glo2000.ca>", 1, &p),
	    SMTP_PATH_OK);
	assert_string_equal(p.addr, "alice@glo2000.ca");
	assert_int_equal(smtp_parse_path("from: <a.b+c@x-y.example> size=1024 "
	                                 "BODY=8bitmime",
	                     1, &p),
	    SMTP_PATH_OK);
	assert_string_equal(p.addr, "a.b+c@x-y.example");
	assert_int_equal(p.size, 1024);
	assert_int_equal(p.body_8bit, 1);
	assert_int_equal(smtp_parse_path("FROM:<>", 1, &p), SMTP_PATH_OK);
	assert_string_equal(p.addr, "");
	assert_int_equal(smtp_parse_path("TO:<>", 0, &p), SMTP_PATH_ADDRESS);
	assert_int_equal(smtp_parse_path("TO:<Postmaster>", 0, &p),
	    SMTP_PATH_OK);
	assert_int_equal(smtp_parse_path("FROM:<postmaster>", 1, &p),
	    SMTP_PATH_ADDRESS);
	assert_int_equal(smtp_parse_path("TO:<bob@glo2000.ca>", 0, &p),
	    SMTP_PATH_OK);
	assert_int_equal(smtp_parse_path("TO:<bob@[127.0.0.1]>", 0, &p),
	    SMTP_PATH_OK);
	/* Shapes that are refused. */
	assert_int_equal(smtp_parse_path("TO:bob@glo2000.ca", 0, &p),
	    SMTP_PATH_SYNTAX);
	assert_int_equal(smtp_parse_path("FROM<a@b.c>", 1, &p),
	    SMTP_PATH_SYNTAX);
	assert_int_equal(smtp_parse_path("TO:<bob@glo2000.ca", 0, &p),
	    SMTP_PATH_SYNTAX);
	assert_int_equal(smtp_parse_path("TO:<\"a b\"@x.example>", 0, &p),
	    SMTP_PATH_ADDRESS);
	assert_int_equal(smtp_parse_path("TO:<@relay.example:bob@x.example>", 0,
	                     &p),
	    SMTP_PATH_ADDRESS);
	assert_int_equal(smtp_parse_path("TO:<a..b@x.example>", 0, &p),
	    SMTP_PATH_ADDRESS);
	assert_int_equal(smtp_parse_path("TO:<a@-x.example>", 0, &p),
	    SMTP_PATH_ADDRESS);
	assert_int_equal(smtp_parse_path("TO:<a\r@x.example>", 0, &p),
	    SMTP_PATH_ADDRESS);
	assert_int_equal(smtp_parse_path("TO:<a;rm -rf@x.example>", 0, &p),
	    SMTP_PATH_ADDRESS);
	assert_int_equal(smtp_parse_path("TO:<bob@x.example> NOTIFY=NEVER", 0,
	                     &p),
	    SMTP_PATH_PARAM);
	assert_int_equal(smtp_parse_path("FROM:<a@x.example> SMTPUTF8", 1, &p),
	    SMTP_PATH_PARAM);
	assert_int_equal(smtp_parse_path("FROM:<a@x.example> SIZE=-1", 1, &p),
	    SMTP_PATH_SYNTAX);
	assert_int_equal(smtp_parse_path("FROM:<a@x.example> "
	                                 "SIZE=99999999999999999999999",
	                     1, &p),
	    SMTP_PATH_SYNTAX);
	assert_int_equal(smtp_parse_path("FROM:<a@x.example> BODY=BINARYMIME",
	                     1, &p),
	    SMTP_PATH_PARAM);
	assert_int_equal(smtp_parse_path("FROM:<a@x.example>junk", 1, &p),
	    SMTP_PATH_SYNTAX);
	{
		char big[400];

		memset(big, 'a', sizeof(big));
		memcpy(big, "TO:<", 4);
		memcpy(big + sizeof(big) - 12, "@x.example>", 12);
		assert_int_equal(smtp_parse_path(big, 0, &p),
		    SMTP_PATH_ADDRESS);
	}
}

static void
test_helo(void **state)
{
	(void)state;
	assert_true(smtp_helo_ok("client.example"));
	assert_true(smtp_helo_ok("localhost"));
	assert_true(smtp_helo_ok("[127.0.0.1]"));
	assert_true(smtp_helo_ok("[IPv6:::1]"));
	assert_false(smtp_helo_ok(""));
	assert_false(smtp_helo_ok("bad name"));
	assert_false(smtp_helo_ok("x\r\nRCPT"));
	assert_false(smtp_helo_ok("[127.0.0.1"));
	assert_false(smtp_helo_ok("-x.example"));
}

static void
b64(const char *raw, size_t len, char *out, size_t outlen)
{
	sodium_bin2base64(out, outlen, (const unsigned char *)raw, len,
	    sodium_base64_VARIANT_ORIGINAL);
}

static void
test_auth_plain(void **state)
{
	char enc[256], user[65], pass[128];

	(void)state;
	b64("\0alice\0Secret0Pass", 18, enc, sizeof(enc));
	assert_int_equal(smtp_auth_plain(enc, user, sizeof(user), pass,
	                     sizeof(pass)),
	    0);
	assert_string_equal(user, "alice");
	assert_string_equal(pass, "Secret0Pass");
	b64("alice\0alice\0pw", 14, enc, sizeof(enc));
	assert_int_equal(smtp_auth_plain(enc, user, sizeof(user), pass,
	                     sizeof(pass)),
	    0);
	/* Acting as another user is refused. */
	b64("bob\0alice\0pw", 12, enc, sizeof(enc));
	assert_int_equal(smtp_auth_plain(enc, user, sizeof(user), pass,
	                     sizeof(pass)),
	    -2);
	b64("alice\0pw", 8, enc, sizeof(enc));
	assert_int_equal(smtp_auth_plain(enc, user, sizeof(user), pass,
	                     sizeof(pass)),
	    -1);
	b64("\0\0pw", 4, enc, sizeof(enc));
	assert_int_equal(smtp_auth_plain(enc, user, sizeof(user), pass,
	                     sizeof(pass)),
	    -1);
	assert_int_equal(smtp_auth_plain("!!!", user, sizeof(user), pass,
	                     sizeof(pass)),
	    -1);
	assert_int_equal(smtp_base64_text("VXNlcm5hbWU6", user, sizeof(user)),
	    0);
	assert_string_equal(user, "Username:");
	assert_int_equal(smtp_base64_text("AA==", user, sizeof(user)), -1);
}

struct sink {
	char buf[65536];
	size_t len;
};

static int
sink_emit(void *arg, const char *p, size_t n)
{
	struct sink *s = arg;

	assert_true(s->len + n <= sizeof(s->buf));
	memcpy(s->buf + s->len, p, n);
	s->len += n;
	return 0;
}

/*
 * Read DATA from in, whole and then byte by byte, checking both give the
 * same. Returns the bytes used (0: no end found), flags in *flags_r, the
 * content in s.
 */
static size_t
read_data(const char *in, size_t len, size_t max, int *flags_r, struct sink *s)
{
	struct smtp_data d;
	struct sink one;
	size_t used = 0, i, u;
	int done = 0;

	memset(s, 0, sizeof(*s));
	smtp_data_init(&d, max, sink_emit, s);
	if (smtp_data_feed(&d, in, len, &used) != 1)
		used = 0;
	*flags_r = d.flags;
	memset(&one, 0, sizeof(one));
	smtp_data_init(&d, max, sink_emit, &one);
	for (i = 0; i < len && !done; i++) {
		done = smtp_data_feed(&d, in + i, 1, &u);
		assert_int_equal(u, 1);
	}
	assert_int_equal(done ? i : 0, used);
	assert_int_equal(d.flags, *flags_r);
	assert_int_equal(one.len, s->len);
	assert_memory_equal(one.buf, s->buf, s->len);
	return used;
}

static void
test_data_plain(void **state)
{
	struct sink s;
	int flags;
	const char *in;

	(void)state;
	in = "Subject: hi\r\n\r\nline 1\r\n..dot\r\n.\r\nMAIL FROM:<x@y.z>\r\n";
	assert_int_equal(read_data(in, strlen(in), 1000, &flags, &s),
	    strlen(in) - strlen("MAIL FROM:<x@y.z>\r\n"));
	assert_int_equal(flags, 0);
	assert_int_equal(s.len, strlen("Subject: hi\n\nline 1\n.dot\n"));
	assert_memory_equal(s.buf, "Subject: hi\n\nline 1\n.dot\n", s.len);
	/* An empty message. */
	assert_int_equal(read_data(".\r\n", 3, 1000, &flags, &s), 3);
	assert_int_equal(s.len, 0);
	/* Bare LF lines (Python's sendmail with bytes) are normalised. */
	in = "a\nb\n\r\n.\r\n";
	assert_int_equal(read_data(in, strlen(in), 1000, &flags, &s),
	    strlen(in));
	assert_int_equal(flags, SMTP_DATA_BARE_LF);
	assert_int_equal(s.len, 5);
	assert_memory_equal(s.buf, "a\nb\n\n", 5);
	{
		struct smtp_data d;

		smtp_data_init(&d, 10, sink_emit, &s);
		d.flags = flags;
		assert_int_equal(smtp_data_verdict(&d, 0), 0);
		assert_int_equal(smtp_data_verdict(&d, 1), SMTP_DATA_BARE_LF);
	}
	/* Bare CR and NUL are marked; the end is still the real one. */
	in = "a\rb\r\n.\r\n";
	assert_int_equal(read_data(in, strlen(in), 1000, &flags, &s),
	    strlen(in));
	assert_int_equal(flags, SMTP_DATA_BARE_CR);
	assert_int_equal(read_data("a\0b\r\n.\r\n", 8, 1000, &flags, &s), 8);
	assert_int_equal(flags, SMTP_DATA_NUL);
	/* Too big: counted and consumed to the end, content stops at max. */
	in = "0123456789abcdef\r\n.\r\nQUIT\r\n";
	assert_int_equal(read_data(in, strlen(in), 8, &flags, &s),
	    strlen(in) - 6);
	assert_int_equal(flags, SMTP_DATA_TOO_BIG);
	assert_int_equal(s.len, 8);
	/* No end yet. */
	in = "text\r\n.";
	assert_int_equal(read_data(in, strlen(in), 1000, &flags, &s), 0);
}

/* Every malformed ending, then a forged second transaction. */
static void
test_data_smuggling(void **state)
{
	static const char *endings[] = {
		"\n.\n",
		"\n.\r\n",
		"\r.\r",
		"\r\n.\r",
		"\r.\r\n",
		"\r\n.\n",
		"\n.\r",
		".\n",
		"\r\n.\r\r\n",
		"\r\n\x00.\r\n",
		"\n..\n",
		"\r\n .\r\n",
		"\r\n.\t\r\n",
	};
	static const int refused[] = { 1, 1, 1, 1, 1, 1, 1, 0, 1, 1, 0, 0, 0 };
	static const char forged
	    [] = "MAIL FROM:<admin@glo2000.ca>\r\nRCPT TO:<bob@glo2000.ca>\r\n"
	         "DATA\r\nSubject: forged\r\n\r\nforged\r\n";
	char in[1024];
	struct sink s;
	size_t i, n, used;
	int flags;

	(void)state;
	for (i = 0; i < sizeof(endings) / sizeof(endings[0]); i++) {
		size_t elen = strlen(endings[i]);

		if (i == 9)
			elen = 6; /* holds a NUL */
		n = (size_t)snprintf(in, sizeof(in),
		    "Subject: real\r\n\r\nbody");
		memcpy(in + n, endings[i], elen);
		n += elen;
		memcpy(in + n, forged, strlen(forged));
		n += strlen(forged);
		/* No end inside: the reader wants more. */
		assert_int_equal(read_data(in, n, 100000, &flags, &s), 0);
		/* The real end makes it one message, marked when ambiguous. */
		memcpy(in + n, "\r\n.\r\n", 5);
		used = read_data(in, n + 5, 100000, &flags, &s);
		assert_int_equal(used, n + 5);
		/*
		 * An ending that a lax reader takes for the end is refused
		 * whole; the others (a dot inside a line, a stuffed dot, a
		 * blank before the dot) are plain content of one message.
		 */
		assert_int_equal(
		    smtp_data_verdict(&(struct smtp_data){ .flags = flags },
		        0) != 0,
		    refused[i]);
		/* The forged commands are content, never commands. */
		assert_non_null(memmem(s.buf, s.len, "MAIL FROM:<admin", 16));
	}
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_verbs),
		cmocka_unit_test(test_paths),
		cmocka_unit_test(test_helo),
		cmocka_unit_test(test_auth_plain),
		cmocka_unit_test(test_data_plain),
		cmocka_unit_test(test_data_smuggling),
	};

	if (sodium_init() < 0)
		return 1;
	return cmocka_run_group_tests(tests, NULL, NULL);
}
