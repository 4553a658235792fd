/*
 * fuzz_msg.c - libFuzzer target for the frame decoder and the message
 * codec: the input is a byte stream as it arrives from a peer. Every frame
 * found in it is parsed, unpacked against every payload shape and, when it
 * parses, re-encoded and parsed again; the decoder is also fed the stream
 * one byte at a time and must agree with itself.
 */
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "frame.h"
#include "msg.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static const enum proto_shape shapes[] = {
	PROTO_SHAPE_ANY,
	PROTO_SHAPE_EMPTY,
	PROTO_SHAPE_ERROR,
	PROTO_SHAPE_CREDENTIALS,
	PROTO_SHAPE_CHOICE,
	PROTO_SHAPE_EMAIL,
	PROTO_SHAPE_EMAIL_LIST,
	PROTO_SHAPE_STATS,
};

/* Parse one body and exercise everything that reads a parsed message. */
static void
body(const uint8_t *p, size_t len)
{
	struct msg *m = NULL, *again = NULL;
	unsigned char *frame;
	union msg_args a;
	const char *why;
	size_t flen, blen, i;
	json_t *payload;

	if (msg_parse(p, len, &m, &why) == -1) {
		if (why == NULL || why[0] == '\0')
			abort();
		return;
	}
	for (i = 0; i < sizeof(shapes) / sizeof(shapes[0]); i++)
		if (msg_unpack(m, shapes[i], &a, &why) == -1 && why == NULL)
			abort();
	/* Round trip: what we encode we must parse, with the same header.
	 * The encoder steals a reference, so take one only when encoding. */
	payload = msg_payload(m);
	if (msg_header(m) >= INT32_MIN && msg_header(m) <= INT32_MAX &&
	    msg_encode((int)msg_header(m),
	        payload != NULL ? json_incref(payload) : NULL, FRAME_MAX_LIMIT,
	        &frame, &flen) == 0) {
		if (frame_decode(frame, flen, FRAME_MAX_LIMIT, &blen) !=
		        FRAME_READY ||
		    blen + FRAME_HEADER_LEN != flen)
			abort();
		if (msg_parse(frame + FRAME_HEADER_LEN, blen, &again, &why) ==
		        -1 ||
		    msg_header(again) != msg_header(m))
			abort();
		msg_free(again);
		free(frame);
	}
	msg_free(m);
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	const size_t max = 64 * 1024;
	size_t off = 0, blen, step, b2;
	enum frame_result r;

	/* The whole input as one body, as a peer's frame might hold it. */
	body(data, size);
	/* The input as a stream of frames. */
	while (off < size) {
		r = frame_decode(data + off, size - off, max, &blen);
		/* Byte by byte, the decoder must say MORE until it says r. */
		for (step = 0; step < size - off && step < 8; step++)
			if (frame_decode(data + off, step, max, &b2) !=
			        FRAME_MORE &&
			    step < FRAME_HEADER_LEN)
				abort();
		if (r != FRAME_READY)
			break;
		body(data + off + FRAME_HEADER_LEN, blen);
		off += FRAME_HEADER_LEN + blen;
	}
	return 0;
}
