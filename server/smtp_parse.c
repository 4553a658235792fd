/*
 * smtp_parse.c - SMTP command lines, paths and the DATA state machine.
 *
 * The DATA reader follows chasquid's dotreader: it recognises the end of
 * data only as CRLF "." CRLF, so "\n.\n", "\n.\r\n" or "\r.\r" can never end
 * one message and start a forged second one (SMTP smuggling, CVE-2023-51764
 * and its kin); lines framed by bare LFs are taken as lines (Python's
 * sendmail() with bytes sends them), but a "." line so framed makes the
 * message ambiguous, and it is refused at the real end.
 */
#include <ctype.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include <sodium.h>

#include "smtp_parse.h"

static const struct {
	const char *name;
	enum smtp_verb verb;
} verbs[] = {
	{ "HELO", SMTP_HELO },
	{ "EHLO", SMTP_EHLO },
	{ "MAIL", SMTP_MAIL },
	{ "RCPT", SMTP_RCPT },
	{ "DATA", SMTP_DATA },
	{ "RSET", SMTP_RSET },
	{ "NOOP", SMTP_NOOP },
	{ "QUIT", SMTP_QUIT },
	{ "VRFY", SMTP_VRFY },
	{ "EXPN", SMTP_EXPN },
	{ "HELP", SMTP_HELP },
	{ "STARTTLS", SMTP_STARTTLS },
	{ "AUTH", SMTP_AUTH },
	/* Requests of other protocols sent to an SMTP port. */
	{ "GET", SMTP_HTTP },
	{ "POST", SMTP_HTTP },
	{ "HEAD", SMTP_HTTP },
	{ "PUT", SMTP_HTTP },
	{ "DELETE", SMTP_HTTP },
	{ "OPTIONS", SMTP_HTTP },
	{ "CONNECT", SMTP_HTTP },
	{ "PATCH", SMTP_HTTP },
};

enum smtp_verb
smtp_parse_verb(const char *line, const char **arg_r)
{
	size_t i, n;
	const char *p;

	for (n = 0; line[n] != '\0' && line[n] != ' ' && line[n] != '\t'; n++)
		;
	p = line + n;
	while (*p == ' ' || *p == '\t')
		p++;
	*arg_r = p;
	for (i = 0; i < sizeof(verbs) / sizeof(verbs[0]); i++)
		if (strlen(verbs[i].name) == n &&
		    strncasecmp(line, verbs[i].name, n) == 0)
			return verbs[i].verb;
	return SMTP_UNKNOWN;
}

const char *
smtp_verb_name(enum smtp_verb verb)
{
	size_t i;

	for (i = 0; i < sizeof(verbs) / sizeof(verbs[0]); i++)
		if (verbs[i].verb == verb)
			return verbs[i].name;
	return "UNKNOWN";
}

/* RFC 5321 atext, without the characters no shell or header wants. */
static int
atext(int c)
{
	return isalnum(c) ||
	       (c != '\0' && strchr("!#$%&'*+-/=?^_`{|}~", c) != NULL);
}

/* Letters, digits and hyphens, dot-separated labels of 1 to 63. */
static int
domain_ok(const char *s, size_t len)
{
	size_t i, label = 0;

	if (len == 0 || len > 255)
		return 0;
	for (i = 0; i < len; i++) {
		if (s[i] == '.') {
			if (label == 0 || s[i - 1] == '-')
				return 0;
			label = 0;
			continue;
		}
		if (!isalnum((unsigned char)s[i]) && s[i] != '-')
			return 0;
		if ((s[i] == '-' && label == 0) || ++label > 63)
			return 0;
	}
	return label > 0 && s[len - 1] != '-';
}

/* [192.0.2.1] or [IPv6:2001:db8::1]. */
static int
literal_ok(const char *s, size_t len)
{
	size_t i;

	if (len < 3 || s[0] != '[' || s[len - 1] != ']')
		return 0;
	if (len > 6 && strncasecmp(s + 1, "IPv6:", 5) == 0) {
		for (i = 6; i < len - 1; i++)
			if (!isxdigit((unsigned char)s[i]) && s[i] != ':' &&
			    s[i] != '.')
				return 0;
		return len > 7;
	}
	for (i = 1; i < len - 1; i++)
		if (!isdigit((unsigned char)s[i]) && s[i] != '.')
			return 0;
	return 1;
}

int
smtp_helo_ok(const char *name)
{
	size_t len = strlen(name);

	return domain_ok(name, len) || literal_ok(name, len);
}

/* local@domain with a dot-atom local part of at most 64. */
static int
mailbox_ok(const char *s, size_t len, int allow_postmaster)
{
	const char *at = memchr(s, '@', len);
	size_t i, llen;

	if (at == NULL)
		return allow_postmaster && len == 10 &&
		       strncasecmp(s, "postmaster", 10) == 0;
	llen = (size_t)(at - s);
	if (llen == 0 || llen > 64 || s[0] == '.' || s[llen - 1] == '.')
		return 0;
	for (i = 0; i < llen; i++) {
		if (s[i] == '.') {
			if (s[i + 1] == '.')
				return 0;
			continue;
		}
		if (!atext((unsigned char)s[i]))
			return 0;
	}
	return domain_ok(at + 1, len - llen - 1) ||
	       literal_ok(at + 1, len - llen - 1);
}

/* SIZE=digits (no sign, no overflow). */
static int
parse_size(const char *v, unsigned long long *out)
{
	unsigned long long n = 0;

	if (*v == '\0')
		return -1;
	for (; *v != '\0'; v++) {
		if (!isdigit((unsigned char)*v) || n > (~0ULL - 9) / 10)
			return -1;
		n = n * 10 + (unsigned long long)(*v - '0');
	}
	*out = n;
	return 0;
}

enum smtp_path_error
smtp_parse_path(const char *arg, int from, struct smtp_path *path_r)
{
	const char *kw = from ? "FROM:" : "TO:", *p, *gt;
	size_t kwlen = strlen(kw), len;
	char param[128], *eq;

	memset(path_r, 0, sizeof(*path_r));
	if (strncasecmp(arg, kw, kwlen) != 0)
		return SMTP_PATH_SYNTAX;
	p = arg + kwlen;
	while (*p == ' ')
		p++;
	if (*p != '<' || (gt = strchr(p, '>')) == NULL)
		return SMTP_PATH_SYNTAX;
	len = (size_t)(gt - p - 1);
	if (len > SMTP_PATH_MAX)
		return SMTP_PATH_ADDRESS;
	if (len == 0) {
		if (!from)
			return SMTP_PATH_ADDRESS;
	} else if (p[1] == '@' || !mailbox_ok(p + 1, len, !from))
		return SMTP_PATH_ADDRESS; /* includes source routes */
	memcpy(path_r->addr, p + 1, len);
	path_r->addr[len] = '\0';
	p = gt + 1;
	/* ESMTP parameters, separated by spaces. */
	while (*p != '\0') {
		size_t n;

		if (*p != ' ')
			return SMTP_PATH_SYNTAX;
		while (*p == ' ')
			p++;
		if (*p == '\0')
			break;
		for (n = 0; p[n] != '\0' && p[n] != ' '; n++)
			;
		if (!from || n >= sizeof(param))
			return SMTP_PATH_PARAM;
		memcpy(param, p, n);
		param[n] = '\0';
		p += n;
		eq = strchr(param, '=');
		if (eq != NULL)
			*eq++ = '\0';
		if (strcasecmp(param, "SIZE") == 0 && eq != NULL) {
			if (parse_size(eq, &path_r->size) == -1)
				return SMTP_PATH_SYNTAX;
		} else if (strcasecmp(param, "BODY") == 0 && eq != NULL &&
		           (strcasecmp(eq, "7BIT") == 0 ||
		               strcasecmp(eq, "8BITMIME") == 0))
			path_r->body_8bit = strcasecmp(eq, "8BITMIME") == 0;
		else
			return SMTP_PATH_PARAM;
	}
	return SMTP_PATH_OK;
}

int
smtp_base64_text(const char *b64, char *out, size_t outlen)
{
	size_t n;

	if (outlen == 0 || sodium_base642bin((unsigned char *)out, outlen - 1,
	                       b64, strlen(b64), NULL, &n, NULL,
	                       sodium_base64_VARIANT_ORIGINAL) != 0)
		return -1;
	out[n] = '\0';
	if (memchr(out, '\0', n) != NULL)
		return -1;
	return 0;
}

int
smtp_auth_plain(const char *b64, char *user_r, size_t userlen, char *pass_r,
    size_t passlen)
{
	unsigned char buf[1024];
	const unsigned char *authz, *authc, *pass, *end;
	size_t n, zlen, clen, plen;
	int rc = -1;

	if (sodium_base642bin(buf, sizeof(buf), b64, strlen(b64), NULL, &n,
	        NULL, sodium_base64_VARIANT_ORIGINAL) != 0)
		goto done;
	end = buf + n;
	authz = buf;
	if ((authc = memchr(authz, '\0', n)) == NULL)
		goto done;
	authc++;
	if ((pass = memchr(authc, '\0', (size_t)(end - authc))) == NULL)
		goto done;
	pass++;
	zlen = (size_t)(authc - 1 - authz);
	clen = (size_t)(pass - 1 - authc);
	plen = (size_t)(end - pass);
	if (memchr(pass, '\0', plen) != NULL || clen == 0 || clen >= userlen ||
	    plen >= passlen)
		goto done;
	if (zlen != 0 && (zlen != clen || memcmp(authz, authc, clen) != 0)) {
		rc = -2;
		goto done;
	}
	memcpy(user_r, authc, clen);
	user_r[clen] = '\0';
	memcpy(pass_r, pass, plen);
	pass_r[plen] = '\0';
	rc = 0;
done:
	sodium_memzero(buf, sizeof(buf));
	return rc;
}

/* The reader's states: where in a line the last byte left it. */
enum {
	D_BOL,    /* at the start of a line */
	D_DOT,    /* a '.' at the start of a line */
	D_DOT_CR, /* ".\r" at the start of a line */
	D_TEXT,   /* inside a line */
	D_CR,     /* a '\r' inside a line */
};

void
smtp_data_init(struct smtp_data *d, size_t max, smtp_emit_fn emit, void *arg)
{
	memset(d, 0, sizeof(*d));
	d->state = D_BOL;
	d->strict_bol = 1; /* the DATA line ended with CRLF */
	d->max = max;
	d->emit = emit;
	d->arg = arg;
}

static void
flush(struct smtp_data *d)
{
	if (d->nout > 0 && !d->emit_failed &&
	    d->emit(d->arg, d->out, d->nout) == -1)
		d->emit_failed = 1;
	d->nout = 0;
}

/* One byte of content; past the limit only counted. */
static void
put(struct smtp_data *d, char c)
{
	if (d->size >= d->max) {
		d->flags |= SMTP_DATA_TOO_BIG;
		return;
	}
	d->size++;
	d->out[d->nout++] = c;
	if (d->nout == sizeof(d->out))
		flush(d);
}

/* A byte inside a line (state D_TEXT). */
static void
text(struct smtp_data *d, char c)
{
	switch (c) {
	case '\r':
		d->state = D_CR;
		return;
	case '\n':
		/* A bare LF ends the line: normalised, remembered. */
		d->flags |= SMTP_DATA_BARE_LF;
		put(d, '\n');
		d->state = D_BOL;
		d->strict_bol = 0;
		return;
	case '\0':
		d->flags |= SMTP_DATA_NUL;
		break;
	default:
		break;
	}
	put(d, c);
	d->state = D_TEXT;
}

int
smtp_data_feed(struct smtp_data *d, const char *in, size_t len, size_t *used_r)
{
	size_t i;
	char c;

	for (i = 0; i < len; i++) {
		c = in[i];
		switch (d->state) {
		case D_BOL:
			if (c == '.')
				d->state = D_DOT;
			else
				text(d, c);
			break;
		case D_DOT:
			if (c == '\r')
				d->state = D_DOT_CR;
			else if (c == '\n') {
				/* "." ended by a bare LF: looks like an end. */
				d->flags |= SMTP_DATA_AMBIGUOUS |
				            SMTP_DATA_BARE_LF;
				put(d, '.');
				put(d, '\n');
				d->state = D_BOL;
				d->strict_bol = 0;
			} else
				text(d, c); /* the stuffed dot goes */
			break;
		case D_DOT_CR:
			if (c == '\n' && d->strict_bol) {
				flush(d);
				*used_r = i + 1;
				return 1;
			}
			if (c == '\n') {
				/* "\n.\r\n": an end only to a lax reader. */
				d->flags |= SMTP_DATA_AMBIGUOUS;
				put(d, '.');
				put(d, '\n');
				d->state = D_BOL;
				d->strict_bol = 1;
				break;
			}
			d->flags |= SMTP_DATA_BARE_CR;
			put(d, '.');
			put(d, '\r');
			d->state = D_TEXT;
			text(d, c);
			break;
		case D_TEXT:
			text(d, c);
			break;
		case D_CR:
			if (c == '\n') {
				put(d, '\n');
				d->state = D_BOL;
				d->strict_bol = 1;
				break;
			}
			d->flags |= SMTP_DATA_BARE_CR;
			put(d, '\r');
			d->state = D_TEXT;
			text(d, c);
			break;
		}
	}
	flush(d);
	*used_r = len;
	return 0;
}

int
smtp_data_verdict(const struct smtp_data *d, int reject_bare_lf)
{
	static const int order[] = { SMTP_DATA_TOO_BIG, SMTP_DATA_AMBIGUOUS,
		SMTP_DATA_BARE_CR, SMTP_DATA_NUL, SMTP_DATA_BARE_LF };
	int flags = d->flags;
	size_t i;

	if (!reject_bare_lf)
		flags &= ~SMTP_DATA_BARE_LF;
	for (i = 0; i < sizeof(order) / sizeof(order[0]); i++)
		if (flags & order[i])
			return order[i];
	return 0;
}
