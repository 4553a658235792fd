/*
 * frame.c - length-prefixed framing, shared by server, client and tests.
 */
#include <stdlib.h>
#include <string.h>

#include "frame.h"

enum frame_result
frame_decode(const void *buf, size_t avail, size_t max, size_t *body_len_r)
{
	const unsigned char *p = buf;
	uint32_t len;

	if (avail < FRAME_HEADER_LEN)
		return FRAME_MORE;
	len = (uint32_t)p[0] << 24 | (uint32_t)p[1] << 16 |
	      (uint32_t)p[2] << 8 | (uint32_t)p[3];
	*body_len_r = len;
	/* Judge the declared length before waiting for (or storing) a body. */
	if (len > max)
		return FRAME_TOO_BIG;
	if (avail - FRAME_HEADER_LEN < len)
		return FRAME_MORE;
	return FRAME_READY;
}

void
frame_put_header(unsigned char out[FRAME_HEADER_LEN], uint32_t len)
{
	out[0] = (unsigned char)(len >> 24);
	out[1] = (unsigned char)(len >> 16);
	out[2] = (unsigned char)(len >> 8);
	out[3] = (unsigned char)len;
}

int
frame_encode(const void *body, size_t len, size_t max, unsigned char **frame_r,
    size_t *frame_len_r)
{
	unsigned char *frame;

	if (len > max || len > UINT32_MAX)
		return -1;
	if ((frame = malloc(FRAME_HEADER_LEN + len)) == NULL)
		return -1;
	frame_put_header(frame, (uint32_t)len);
	if (len > 0)
		memcpy(frame + FRAME_HEADER_LEN, body, len);
	*frame_r = frame;
	*frame_len_r = FRAME_HEADER_LEN + len;
	return 0;
}
