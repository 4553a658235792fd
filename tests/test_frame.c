/*
 * test_frame.c - the frame codec: byte-at-a-time decoding, hostile lengths.
 */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "frame.h"

/* Feeding a frame one byte at a time gives MORE until the last byte. */
static void
test_byte_at_a_time(void **state)
{
	static const char body[] = "{\"header\": 3}";
	unsigned char *frame;
	size_t flen, i, blen = 0;

	(void)state;
	assert_int_equal(frame_encode(body, strlen(body), FRAME_MAX_DEFAULT,
	                     &frame, &flen),
	    0);
	assert_int_equal(flen, FRAME_HEADER_LEN + strlen(body));
	for (i = 0; i < flen; i++)
		assert_int_equal(frame_decode(frame, i, FRAME_MAX_DEFAULT,
		                     &blen),
		    FRAME_MORE);
	assert_int_equal(frame_decode(frame, flen, FRAME_MAX_DEFAULT, &blen),
	    FRAME_READY);
	assert_int_equal(blen, strlen(body));
	assert_memory_equal(frame + FRAME_HEADER_LEN, body, blen);
	free(frame);
}

/* Two frames back to back: the first is found, its bytes are exact. */
static void
test_two_frames(void **state)
{
	unsigned char buf[32];
	size_t blen = 0;

	(void)state;
	frame_put_header(buf, 2);
	memcpy(buf + 4, "{}", 2);
	frame_put_header(buf + 6, 3);
	memcpy(buf + 10, "[1]", 3);
	assert_int_equal(frame_decode(buf, 13, 100, &blen), FRAME_READY);
	assert_int_equal(blen, 2);
	assert_int_equal(frame_decode(buf + 6, 7, 100, &blen), FRAME_READY);
	assert_int_equal(blen, 3);
	assert_int_equal(frame_decode(buf + 6, 6, 100, &blen), FRAME_MORE);
}

static void
test_big_endian(void **state)
{
	unsigned char hdr[4];
	size_t blen = 0;

	(void)state;
	frame_put_header(hdr, 0x01020304);
	assert_int_equal(hdr[0], 1);
	assert_int_equal(hdr[1], 2);
	assert_int_equal(hdr[2], 3);
	assert_int_equal(hdr[3], 4);
	assert_int_equal(frame_decode(hdr, 4, SIZE_MAX, &blen), FRAME_MORE);
	assert_int_equal(blen, 0x01020304);
}

/* Hostile lengths are judged from the 4 length bytes alone. */
static void
test_hostile_lengths(void **state)
{
	static const unsigned char huge[4] = { 0xff, 0xff, 0xff, 0xff };
	unsigned char hdr[4];
	size_t blen = 0, max = 1024;

	(void)state;
	assert_int_equal(frame_decode(huge, 4, FRAME_MAX_DEFAULT, &blen),
	    FRAME_TOO_BIG);
	assert_int_equal(blen, 0xffffffffu);
	frame_put_header(hdr, (uint32_t)max + 1);
	assert_int_equal(frame_decode(hdr, 4, max, &blen), FRAME_TOO_BIG);
	frame_put_header(hdr, (uint32_t)max);
	assert_int_equal(frame_decode(hdr, 4, max, &blen), FRAME_MORE);
	/* A zero-length frame is a frame; the message parser refuses it. */
	frame_put_header(hdr, 0);
	assert_int_equal(frame_decode(hdr, 4, max, &blen), FRAME_READY);
	assert_int_equal(blen, 0);
}

static void
test_truncated_header(void **state)
{
	static const unsigned char hdr[3] = { 0, 0, 0 };
	size_t blen = 0;

	(void)state;
	assert_int_equal(frame_decode(hdr, 0, 100, &blen), FRAME_MORE);
	assert_int_equal(frame_decode(hdr, 3, 100, &blen), FRAME_MORE);
}

static void
test_encode_limits(void **state)
{
	unsigned char *frame = NULL;
	size_t flen = 0;

	(void)state;
	assert_int_equal(frame_encode("abcd", 4, 3, &frame, &flen), -1);
	assert_int_equal(frame_encode("", 0, 3, &frame, &flen), 0);
	assert_int_equal(flen, 4);
	free(frame);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_byte_at_a_time),
		cmocka_unit_test(test_two_frames),
		cmocka_unit_test(test_big_endian),
		cmocka_unit_test(test_hostile_lengths),
		cmocka_unit_test(test_truncated_header),
		cmocka_unit_test(test_encode_limits),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
