/*
 * frame.h - the wire framing: a 4-byte big-endian length, then that many
 * bytes of UTF-8 JSON.
 *
 * The decoder is stateless and works on any contiguous prefix of the input
 * stream, so callers can feed it as bytes arrive (one at a time if need be).
 * It checks the declared length against the caller's maximum as soon as the
 * 4 length bytes are there, before anything is allocated or waited for.
 */
#ifndef GLOMAIL_FRAME_H
#define GLOMAIL_FRAME_H

#include <stddef.h>
#include <stdint.h>

#define FRAME_HEADER_LEN 4
#define FRAME_MAX_DEFAULT ((size_t)1024 * 1024)
/* The largest maximum a configuration may set (length field is 32 bits). */
#define FRAME_MAX_LIMIT ((size_t)UINT32_MAX)
/*
 * The largest reply body a glomail client accepts, and so the largest one
 * glomaild sends: a long inbox list is cut to its newest entries that fit.
 */
#define FRAME_REPLY_MAX ((size_t)16 * 1024 * 1024)

enum frame_result {
	FRAME_MORE,    /* not a whole frame yet: wait for more input */
	FRAME_READY,   /* a whole frame: header + *body_len_r bytes */
	FRAME_TOO_BIG, /* declared length over the maximum: drop the peer */
};

/*
 * Look at the start of an input buffer. On FRAME_READY, the body is
 * buf[FRAME_HEADER_LEN .. FRAME_HEADER_LEN + *body_len_r). On FRAME_TOO_BIG,
 * *body_len_r holds the declared length (for the log).
 */
enum frame_result frame_decode(const void *buf, size_t avail, size_t max,
    size_t *body_len_r);

/* Write the 4-byte length prefix of a body of len bytes. */
void frame_put_header(unsigned char out[FRAME_HEADER_LEN], uint32_t len);

/*
 * Build a whole frame (prefix + body) in a new malloc'd buffer.
 * Returns 0, or -1 when len is over max or memory runs out.
 */
int frame_encode(const void *body, size_t len, size_t max,
    unsigned char **frame_r, size_t *frame_len_r);

#endif
