/*
 * test_msg.c - the message codec: envelope checks, payload shapes with the
 * seed's quirks, and the golden frames of proto/examples re-encoded byte for
 * byte.
 */
#include <dirent.h>
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "testassert.h"

#include "frame.h"
#include "msg.h"

#define EXAMPLES GLOMAIL_SOURCE_DIR "/proto/examples"

static struct msg *
parse_ok(const char *text)
{
	struct msg *m = NULL;
	const char *why = NULL;

	if (msg_parse(text, strlen(text), &m, &why) != 0)
		fail_msg("refused %s: %s", text, why);
	return m;
}

static const char *
parse_err(const char *text, size_t len)
{
	struct msg *m = NULL;
	const char *why = NULL;

	assert_int_equal(msg_parse(text, len, &m, &why), -1);
	assert_null(m);
	assert_non_null(why);
	return why;
}

/* payload absent, null and {} are the same empty payload. */
static void
test_payload_forms(void **state)
{
	static const char *forms[] = { "{\"header\": 7}",
		"{\"header\": 7, \"payload\": null}",
		"{\"payload\": {}, \"header\": 7}", "  {\"header\":7}\n" };
	union msg_args a;
	const char *why;
	struct msg *m;
	size_t i;

	(void)state;
	for (i = 0; i < sizeof(forms) / sizeof(forms[0]); i++) {
		m = parse_ok(forms[i]);
		assert_int_equal(msg_header(m), PROTO_INBOX_READING_REQUEST);
		assert_int_equal(msg_unpack(m, PROTO_SHAPE_EMPTY, &a, &why), 0);
		msg_free(m);
	}
	m = parse_ok("{\"header\": 7}");
	assert_null(msg_payload(m));
	msg_free(m);
}

static void
test_envelope_errors(void **state)
{
	char deep[8192];
	size_t i;

	(void)state;
	assert_string_equal(parse_err("", 0), "empty frame");
	assert_string_equal(parse_err("{", 1), "invalid JSON");
	assert_string_equal(parse_err("[1, 2]", 6),
	    "message is not a JSON object");
	assert_string_equal(parse_err("\"x\"", 3), "invalid JSON");
	assert_string_equal(parse_err("{}", 2), "header missing");
	assert_string_equal(parse_err("{\"header\": \"4\"}", 15),
	    "header is not an integer");
	assert_string_equal(parse_err("{\"header\": 4.0}", 15),
	    "header is not an integer");
	assert_string_equal(parse_err("{\"header\": true}", 16),
	    "header is not an integer");
	assert_string_equal(parse_err("{\"header\": 4, \"payload\": []}", 28),
	    "payload is not an object");
	assert_string_equal(parse_err("{\"header\": 4, \"payload\": \"x\"}",
	                        29),
	    "payload is not an object");
	assert_string_equal(parse_err("{\"header\": 4, \"header\": 5}", 26),
	    "duplicate key");
	assert_string_equal(parse_err("{\"header\": 4, \"payload\": "
	                              "{\"a\": 1, \"a\": 2}}",
	                        41),
	    "duplicate key");
	assert_string_equal(parse_err("{\"header\": 9, \"x\": \"\xc3\x28\"}",
	                        23),
	    "invalid UTF-8");
	assert_string_equal(parse_err("{\"header\": 9, \"x\": \"\xff\"}", 22),
	    "invalid UTF-8");
	assert_string_equal(parse_err("{\"header\": 4, \"x\": \"a\\u0000b\"}",
	                        31),
	    "NUL character");
	/* A NUL byte inside the frame is not JSON. */
	assert_string_equal(parse_err("{\"header\": 4}\0", 14), "invalid JSON");
	/* Deep nesting is refused, not recursed into without bound. */
	for (i = 0; i < 4000; i++)
		deep[i] = '[';
	memcpy(deep + 4000, "\0", 1);
	parse_err(deep, 4000);
}

static void
test_header_values(void **state)
{
	struct msg *m;

	(void)state;
	m = parse_ok("{\"header\": -1}");
	assert_int_equal(msg_header(m), -1);
	assert_null(proto_lookup(msg_header(m)));
	msg_free(m);
	m = parse_ok("{\"header\": 9223372036854775807}");
	assert_null(proto_lookup(msg_header(m)));
	msg_free(m);
	assert_string_equal(parse_err("{\"header\": 99999999999999999999}", 32),
	    "invalid JSON");
}

static void
test_credentials(void **state)
{
	union msg_args a;
	const char *why = NULL;
	struct msg *m;

	(void)state;
	m = parse_ok("{\"header\": 4, \"payload\": {\"password\": \"P\", "
	             "\"username\": \"u\"}}");
	assert_int_equal(msg_unpack(m, PROTO_SHAPE_CREDENTIALS, &a, &why), 0);
	assert_string_equal(a.credentials.username, "u");
	assert_string_equal(a.credentials.password, "P");
	msg_free(m);
	m = parse_ok("{\"header\": 4, \"payload\": {\"username\": 1, "
	             "\"password\": \"P\"}}");
	assert_int_equal(msg_unpack(m, PROTO_SHAPE_CREDENTIALS, &a, &why), -1);
	assert_string_equal(why, "field is not a string: username");
	msg_free(m);
	m = parse_ok("{\"header\": 4}");
	assert_int_equal(msg_unpack(m, PROTO_SHAPE_CREDENTIALS, &a, &why), -1);
	assert_string_equal(why, "missing field: username");
	msg_free(m);
	/* A copy list in a seed-style send is refused, never dropped. */
	m = parse_ok("{\"header\": 9, \"payload\": {\"destination\": "
	             "\"b@x\", \"subject\": \"s\", \"content\": \"c\", "
	             "\"cc\": [\"c@x\"]}}");
	assert_int_equal(msg_unpack(m, PROTO_SHAPE_EMAIL, &a, &why), -1);
	assert_string_equal(why,
	    "cc is not accepted here: send with EMAIL_SENDING_MANY (12)");
	msg_free(m);
}

static void
test_choice(void **state)
{
	static const struct {
		const char *text;
		int ok;
		long long value;
	} cases[] = {
		{ "{\"header\": 8, \"payload\": {\"choice\": 2}}", 1, 2 },
		{ "{\"header\": 8, \"payload\": {\"choice\": \"2\"}}", 1, 2 },
		{ "{\"header\": 8, \"payload\": {\"choice\": \"10\"}}", 1, 10 },
		{ "{\"header\": 8, \"payload\": {\"choice\": 0}}", 1, 0 },
		{ "{\"header\": 8, \"payload\": {\"choice\": -1}}", 1, -1 },
		{ "{\"header\": 8, \"payload\": {\"choice\": \"-1\"}}", 1, -1 },
		{ "{\"header\": 8, \"payload\": {\"choice\": \"abc\"}}", 0, 0 },
		{ "{\"header\": 8, \"payload\": {\"choice\": \"\"}}", 0, 0 },
		{ "{\"header\": 8, \"payload\": {\"choice\": \"2x\"}}", 0, 0 },
		{ "{\"header\": 8, \"payload\": {\"choice\": \" 2\"}}", 0, 0 },
		{ "{\"header\": 8, \"payload\": {\"choice\": "
		  "\"99999999999999999999\"}}",
		    0, 0 },
		{ "{\"header\": 8, \"payload\": {\"choice\": 1.5}}", 0, 0 },
		{ "{\"header\": 8, \"payload\": {\"choice\": null}}", 0, 0 },
		{ "{\"header\": 8, \"payload\": {}}", 0, 0 },
		{ "{\"header\": 8}", 0, 0 },
	};
	union msg_args a;
	const char *why;
	struct msg *m;
	size_t i;

	(void)state;
	for (i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		m = parse_ok(cases[i].text);
		why = NULL;
		if (cases[i].ok) {
			assert_int_equal(msg_unpack(m, PROTO_SHAPE_CHOICE, &a,
			                     &why),
			    0);
			assert_int_equal(a.choice, cases[i].value);
		} else {
			assert_int_equal(msg_unpack(m, PROTO_SHAPE_CHOICE, &a,
			                     &why),
			    -1);
			assert_non_null(why);
		}
		msg_free(m);
	}
}

static void
test_email(void **state)
{
	union msg_args a;
	const char *why = NULL;
	struct msg *m;

	(void)state;
	m = parse_ok(
	    "{\"header\": 9, \"payload\": {\"destination\": "
	    "\"b@glo2000.ca\", \"subject\": \"R\\u00e9union\", \"content\": "
	    "\"x\\ny\"}}");
	assert_int_equal(msg_unpack(m, PROTO_SHAPE_EMAIL, &a, &why), 0);
	assert_null(a.email.sender);
	assert_null(a.email.date);
	assert_string_equal(a.email.subject, "R\xc3\xa9union");
	assert_string_equal(a.email.content, "x\ny");
	msg_free(m);
	m = parse_ok("{\"header\": 9, \"payload\": {\"destination\": "
	             "\"b@glo2000.ca\", \"subject\": 5, \"content\": \"\"}}");
	assert_int_equal(msg_unpack(m, PROTO_SHAPE_EMAIL, &a, &why), -1);
	assert_string_equal(why, "field is not a string: subject");
	msg_free(m);
	m = parse_ok("{\"header\": 9, \"payload\": {\"sender\": [], "
	             "\"destination\": \"b@glo2000.ca\", \"subject\": \"s\", "
	             "\"content\": \"\"}}");
	assert_int_equal(msg_unpack(m, PROTO_SHAPE_EMAIL, &a, &why), -1);
	msg_free(m);
}

static void
test_list_and_stats(void **state)
{
	union msg_args a;
	const char *why = NULL;
	struct msg *m;

	(void)state;
	m = parse_ok("{\"header\": 1, \"payload\": {\"email_list\": "
	             "[\"#1 a\", \"#2 b\"]}}");
	assert_int_equal(msg_unpack(m, PROTO_SHAPE_EMAIL_LIST, &a, &why), 0);
	assert_int_equal(json_array_size(a.email_list), 2);
	msg_free(m);
	m = parse_ok("{\"header\": 1, \"payload\": {\"email_list\": [1]}}");
	assert_int_equal(msg_unpack(m, PROTO_SHAPE_EMAIL_LIST, &a, &why), -1);
	msg_free(m);
	m = parse_ok("{\"header\": 1, \"payload\": {\"count\": 3, "
	             "\"size\": 2048}}");
	assert_int_equal(msg_unpack(m, PROTO_SHAPE_STATS, &a, &why), 0);
	assert_int_equal(a.stats.count, 3);
	assert_int_equal(a.stats.size, 2048);
	msg_free(m);
	m = parse_ok("{\"header\": 1, \"payload\": {\"count\": -3, "
	             "\"size\": 2048}}");
	assert_int_equal(msg_unpack(m, PROTO_SHAPE_STATS, &a, &why), -1);
	msg_free(m);
	m = parse_ok(
	    "{\"header\": 2, \"payload\": {\"error_message\": \"no\"}}");
	assert_int_equal(msg_unpack(m, PROTO_SHAPE_ERROR, &a, &why), 0);
	assert_string_equal(a.error_message, "no");
	msg_free(m);
}

/* The encoder writes what Python's json.dumps writes. */
static void
test_encode_bytes(void **state)
{
	static const char want
	    [] = "{\"header\": 2, \"payload\": "
	         "{\"error_message\": \"\\u00e9\\u2713 \\ud83d\\ude00 \\u007f "
	         "\\\\u00E9 \\\" \\n\"}}";
	struct msg_email e = { "a@glo2000.ca", "b@glo2000.ca", "s", "d", "c" };
	unsigned char *frame;
	size_t len, blen;

	(void)state;
	assert_int_equal(
	    msg_encode(PROTO_ERROR,
	        msg_error_new(
	            "\xc3\xa9\xe2\x9c\x93 \xf0\x9f\x98\x80 \x7f \\u00E9 \" \n"),
	        FRAME_MAX_DEFAULT, &frame, &len),
	    0);
	assert_int_equal(frame_decode(frame, len, FRAME_MAX_DEFAULT, &blen),
	    FRAME_READY);
	assert_int_equal(blen, strlen(want));
	assert_memory_equal(frame + 4, want, blen);
	free(frame);

	assert_int_equal(msg_encode(PROTO_OK, NULL, FRAME_MAX_DEFAULT, &frame,
	                     &len),
	    0);
	assert_int_equal(len, 4 + 13);
	assert_memory_equal(frame + 4, "{\"header\": 1}", 13);
	free(frame);

	assert_int_equal(msg_encode(PROTO_OK, msg_email_new(&e),
	                     FRAME_MAX_DEFAULT, &frame, &len),
	    0);
	assert_bytes_equal(frame + 4, len - 4,
	    "{\"header\": 1, \"payload\": "
	    "{\"sender\": \"a@glo2000.ca\", \"destination\": \"b@glo2000.ca\", "
	    "\"subject\": \"s\", \"date\": \"d\", \"content\": \"c\"}}");
	free(frame);

	/* Over the maximum: refused, nothing leaks. */
	assert_int_equal(msg_encode(PROTO_OK, msg_stats_new(1, 2), 10, &frame,
	                     &len),
	    -1);
}

static char *
slurp(const char *path, size_t *len_r)
{
	FILE *f = fopen(path, "rb");
	char *buf;
	long n;

	assert_non_null(f);
	assert_int_equal(fseek(f, 0, SEEK_END), 0);
	n = ftell(f);
	rewind(f);
	buf = malloc((size_t)n + 1);
	assert_non_null(buf);
	assert_int_equal(fread(buf, 1, (size_t)n, f), (size_t)n);
	buf[n] = '\0';
	fclose(f);
	*len_r = (size_t)n;
	return buf;
}

/*
 * Every golden frame taken from real seed sessions decodes through the frame
 * decoder byte by byte, checks against its header's shape and re-encodes to
 * the same bytes.
 */
static void
test_golden(void **state)
{
	DIR *dir = opendir(EXAMPLES);
	struct dirent *de;
	char path[1024];
	int count = 0;

	(void)state;
	assert_non_null(dir);
	while ((de = readdir(dir)) != NULL) {
		const struct proto_msginfo *info;
		unsigned char *frame, *again;
		size_t len, flen, alen, blen = 0, i;
		struct msg *m;
		union msg_args a;
		const char *why = NULL;
		json_t *payload;
		char *body;

		if (strstr(de->d_name, ".json") == NULL)
			continue;
		snprintf(path, sizeof(path), "%s/%s", EXAMPLES, de->d_name);
		body = slurp(path, &len);
		assert_int_equal(frame_encode(body, len, FRAME_MAX_DEFAULT,
		                     &frame, &flen),
		    0);
		for (i = 0; i < flen; i++)
			assert_int_equal(frame_decode(frame, i,
			                     FRAME_MAX_DEFAULT, &blen),
			    FRAME_MORE);
		assert_int_equal(frame_decode(frame, flen, FRAME_MAX_DEFAULT,
		                     &blen),
		    FRAME_READY);
		if (msg_parse(frame + 4, blen, &m, &why) != 0)
			fail_msg("%s: %s", de->d_name, why);
		info = proto_lookup(msg_header(m));
		assert_non_null(info);
		if (strstr(de->d_name, "email-list") != NULL)
			assert_int_equal(msg_unpack(m, PROTO_SHAPE_EMAIL_LIST,
			                     &a, &why),
			    0);
		else if (strstr(de->d_name, "stats") != NULL &&
		         info->dir == PROTO_DIR_S2C)
			assert_int_equal(msg_unpack(m, PROTO_SHAPE_STATS, &a,
			                     &why),
			    0);
		else if (strstr(de->d_name, "ok-email") != NULL)
			assert_int_equal(msg_unpack(m, PROTO_SHAPE_EMAIL, &a,
			                     &why),
			    0);
		else
			assert_int_equal(msg_unpack(m, info->shape, &a, &why),
			    0);
		payload = msg_payload(m);
		if (payload == NULL && strstr(body, "null") != NULL)
			payload = json_null();
		else
			json_incref(payload);
		assert_int_equal(msg_encode((int)msg_header(m), payload,
		                     FRAME_MAX_DEFAULT, &again, &alen),
		    0);
		if (alen != flen || memcmp(again, frame, flen) != 0)
			fail_msg("%s re-encodes as %.*s", de->d_name,
			    (int)(alen - 4), (const char *)again + 4);
		free(again);
		msg_free(m);
		free(frame);
		free(body);
		count++;
	}
	closedir(dir);
	assert_true(count >= 15);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_payload_forms),
		cmocka_unit_test(test_envelope_errors),
		cmocka_unit_test(test_header_values),
		cmocka_unit_test(test_credentials),
		cmocka_unit_test(test_choice),
		cmocka_unit_test(test_email),
		cmocka_unit_test(test_list_and_stats),
		cmocka_unit_test(test_encode_bytes),
		cmocka_unit_test(test_golden),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
