/*
 * fuzz_smtp.c - libFuzzer target for the SMTP command parser and the DATA
 * reader: the input is an SMTP client's byte stream. Command lines are
 * parsed as the session would (verb, paths, HELO name, AUTH PLAIN); after a
 * DATA line the reader takes the bytes that follow, in chunks whose sizes
 * come from the input, and must give the same verdict, content and end as
 * when fed the whole at once.
 */
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <sodium.h>

#include "smtp_parse.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

struct out {
	char *buf;
	size_t len;
};

static int
emit(void *arg, const char *p, size_t n)
{
	struct out *o = arg;

	memcpy(o->buf + o->len, p, n);
	o->len += n;
	return 0;
}

/* Feed in[0..len) to a reader in chunks of sizes taken from chunks. */
static int
read_body(const char *in, size_t len, const uint8_t *chunks, size_t nchunks,
    struct out *o, size_t *used_r, int *flags_r)
{
	struct smtp_data d;
	size_t off = 0, i = 0, n, used;
	int done = 0;

	smtp_data_init(&d, 4096, emit, o);
	while (off < len && !done) {
		n = nchunks > 0 ? (size_t)chunks[i++ % nchunks] + 1 : len;
		if (n > len - off)
			n = len - off;
		done = smtp_data_feed(&d, in + off, n, &used);
		if (used > n)
			abort();
		if (!done && used != n)
			abort();
		off += used;
	}
	if (d.size > 4096 || o->len != d.size)
		abort();
	*used_r = off;
	*flags_r = d.flags;
	return done;
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static int ready;
	const char *p = (const char *)data, *end = p + size, *eol, *arg;
	char line[SMTP_LINE_MAX + 1], user[65], pass[1025];
	struct smtp_path path;

	if (!ready) {
		if (sodium_init() < 0)
			abort();
		ready = 1;
	}
	while (p < end && (eol = memchr(p, '\n', (size_t)(end - p))) != NULL) {
		size_t n = (size_t)(eol - p);
		enum smtp_verb v;

		if (n > 0 && p[n - 1] == '\r')
			n--;
		if (n > SMTP_LINE_MAX)
			n = SMTP_LINE_MAX;
		memcpy(line, p, n);
		line[n] = '\0';
		p = eol + 1;
		switch ((v = smtp_parse_verb(line, &arg))) {
		case SMTP_MAIL:
		case SMTP_RCPT:
			if (smtp_parse_path(arg, v == SMTP_MAIL, &path) ==
			    SMTP_PATH_OK && strpbrk(path.addr, "\r\n<> ") !=
			    NULL)
				abort();
			break;
		case SMTP_EHLO:
		case SMTP_HELO:
			if (smtp_helo_ok(arg) && strpbrk(arg, "\r\n ") != NULL)
				abort();
			break;
		case SMTP_AUTH:
			(void)smtp_auth_plain(arg, user, sizeof(user), pass,
			    sizeof(pass));
			(void)smtp_base64_text(arg, pass, sizeof(pass));
			break;
		case SMTP_DATA: {
			size_t len = (size_t)(end - p), u1, u2, nch;
			struct out a, b;
			int f1, f2, d1, d2;

			/* The last bytes choose the chunk sizes. */
			nch = len > 16 ? 8 : 0;
			a.buf = malloc(4097);
			b.buf = malloc(4097);
			a.len = b.len = 0;
			if (a.buf == NULL || b.buf == NULL)
				abort();
			d1 = read_body(p, len - nch, NULL, 0, &a, &u1, &f1);
			d2 = read_body(p, len - nch, (const uint8_t *)end - nch,
			    nch, &b, &u2, &f2);
			if (d1 != d2 || u1 != u2 || f1 != f2 || a.len != b.len ||
			    memcmp(a.buf, b.buf, a.len) != 0)
				abort();
			free(a.buf);
			free(b.buf);
			if (!d1)
				return 0;
			p += u1;
			break;
		}
		default:
			break;
		}
	}
	return 0;
}
