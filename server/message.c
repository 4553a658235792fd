/*
 * message.c - RFC 5322 files in and out, with RFC 2047 encoded-words.
 */
#include <ctype.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include <sodium.h>

#include "message.h"
#include "rules.h"

/* The longest field value message_parse returns: one RFC 5322 line. */
#define FIELD_MAX RULES_SUBJECT_MAX

/* A growable byte buffer; on allocation failure it stays failed. */
struct buf {
	char *p;
	size_t len, cap;
	int failed;
};

static void
buf_add(struct buf *b, const void *data, size_t len)
{
	char *np;
	size_t ncap;

	if (b->failed)
		return;
	if (b->len + len + 1 > b->cap) {
		ncap = b->cap ? b->cap : 256;
		while (ncap < b->len + len + 1)
			ncap *= 2;
		if ((np = realloc(b->p, ncap)) == NULL) {
			b->failed = 1;
			return;
		}
		b->p = np;
		b->cap = ncap;
	}
	memcpy(b->p + b->len, data, len);
	b->len += len;
	b->p[b->len] = '\0';
}

static void
buf_str(struct buf *b, const char *s)
{
	buf_add(b, s, strlen(s));
}

/* Length of the UTF-8 sequence starting with byte c (1 for stray bytes). */
static size_t
utf8_seqlen(unsigned char c)
{
	if (c >= 0xf0)
		return 4;
	if (c >= 0xe0)
		return 3;
	if (c >= 0xc0)
		return 2;
	return 1;
}

/*
 * Written as is, a subject comes back as is: printable ASCII only, no "=?"
 * that a reader would take for an encoded-word, no blank at either end
 * (readers drop the blanks after the colon, some the trailing ones too),
 * and short enough for one 78-character line. Anything else is encoded.
 */
static int
subject_plain(const char *s)
{
	size_t len = strlen(s), i;

	if (len > 78 - strlen("Subject: "))
		return 0;
	if (len > 0 && (s[0] == ' ' || s[len - 1] == ' '))
		return 0;
	if (strstr(s, "=?") != NULL)
		return 0;
	for (i = 0; i < len; i++)
		if ((unsigned char)s[i] < 0x20 || (unsigned char)s[i] > 0x7e)
			return 0;
	return 1;
}

/*
 * Subject as RFC 2047 B encoded-words, never splitting a UTF-8 sequence,
 * words on folded continuation lines. 39 bytes of text make 52 base64
 * characters, so even the first line ("Subject: " + word) stays within
 * the 76 characters RFC 2047 allows a line holding encoded-words. The
 * blanks between the words are not text (RFC 2047 section 6.2), so every
 * blank of the subject is inside a word, and decoding gives it back whole.
 */
static void
encode_subject(struct buf *b, const char *s)
{
	char word[128];
	size_t len = strlen(s), off = 0, n, k;

	if (subject_plain(s)) {
		buf_str(b, s);
		return;
	}
	while (off < len) {
		n = 0;
		while (off + n < len) {
			k = utf8_seqlen((unsigned char)s[off + n]);
			if (n + k > 39)
				break;
			n += k;
		}
		if (off + n > len) /* a sequence cut short by the end */
			n = len - off;
		sodium_bin2base64(word, sizeof(word),
		    (const unsigned char *)s + off, n,
		    sodium_base64_VARIANT_ORIGINAL);
		if (off > 0)
			buf_str(b, "\n ");
		buf_str(b, "=?UTF-8?B?");
		buf_str(b, word);
		buf_str(b, "?=");
		off += n;
	}
}

char *
message_build(const char *from, const char *to, const char *subject,
    const char *date, const char *message_id, const char *body, size_t *len_r)
{
	struct buf b = { NULL, 0, 0, 0 };

	buf_str(&b, "From: ");
	buf_str(&b, from);
	buf_str(&b, "\nTo: ");
	buf_str(&b, to);
	buf_str(&b, "\nSubject: ");
	encode_subject(&b, subject);
	buf_str(&b, "\nDate: ");
	buf_str(&b, date);
	buf_str(&b, "\nMessage-ID: ");
	buf_str(&b, message_id);
	buf_str(&b, "\nMIME-Version: 1.0\n"
	            "Content-Type: text/plain; charset=utf-8\n"
	            "Content-Transfer-Encoding: 8bit\n\n");
	buf_str(&b, body);
	if (b.failed) {
		free(b.p);
		return NULL;
	}
	*len_r = b.len;
	return b.p;
}

static const char replacement[] = "\xef\xbf\xbd"; /* U+FFFD */

/*
 * ASCII that may be copied as is: in a body everything but NUL (JSON
 * strings cannot hold it); in a header field no control character at all,
 * since a CR, LF or ESC there would reach a terminal or split a list line.
 */
static int
ascii_ok(unsigned char c, int header)
{
	if (header)
		return c >= 0x20 && c < 0x7f;
	return c != 0 && c < 0x80;
}

/*
 * Copy len bytes as valid UTF-8: an invalid sequence becomes U+FFFD. In a
 * header field (header set), TAB becomes a space (it is folding white
 * space) and every other control character, C0, DEL or C1 (U+0080 to
 * U+009F), becomes U+FFFD, so whatever is on disk, no field carries one.
 */
static void
add_text(struct buf *b, const char *s, size_t len, int header)
{
	const unsigned char *p = (const unsigned char *)s;
	size_t i = 0, k, j;
	unsigned cp;
	int ok;

	while (i < len) {
		if (p[i] < 0x80) {
			/* Runs of ASCII go in one copy: this is the hot path.
			 */
			j = i;
			while (j < len && ascii_ok(p[j], header))
				j++;
			if (j > i) {
				buf_add(b, s + i, j - i);
				i = j;
				continue;
			}
			buf_str(b, header && p[i] == '\t' ? " " : replacement);
			i++;
			continue;
		}
		k = utf8_seqlen(p[i]);
		ok = k > 1 && i + k <= len && p[i] < 0xf5 &&
		     (p[i] & 0xc0) == 0xc0;
		cp = p[i] & (0x7f >> k);
		for (j = 1; ok && j < k; j++) {
			ok = (p[i + j] & 0xc0) == 0x80;
			cp = cp << 6 | (p[i + j] & 0x3f);
		}
		if (ok && (cp < (k == 2      ? 0x80u
		                    : k == 3 ? 0x800u
		                             : 0x10000u) ||
		              cp > 0x10ffff || (cp >= 0xd800 && cp <= 0xdfff)))
			ok = 0;
		if (ok && !(header && cp <= 0x9f)) {
			buf_add(b, s + i, k);
			i += k;
		} else {
			buf_str(b, replacement);
			i += ok ? k : 1;
		}
	}
}

static int
hexval(int c)
{
	if (c >= '0' && c <= '9')
		return c - '0';
	if (c >= 'a' && c <= 'f')
		return c - 'a' + 10;
	if (c >= 'A' && c <= 'F')
		return c - 'A' + 10;
	return -1;
}

/* Latin-1 bytes of a header field to UTF-8 (its C1 range is controls). */
static void
add_latin1(struct buf *b, const unsigned char *s, size_t len)
{
	char two[2];
	size_t i;

	for (i = 0; i < len; i++) {
		if (s[i] < 0x80) {
			add_text(b, (const char *)s + i, 1, 1);
		} else if (s[i] < 0xa0) {
			buf_str(b, replacement);
		} else {
			two[0] = (char)(0xc0 | s[i] >> 6);
			two[1] = (char)(0x80 | (s[i] & 0x3f));
			buf_add(b, two, 2);
		}
	}
}

/* Decode the text of a B or Q encoded-word into raw (room for tlen). */
static int
decode_text(int enc, const char *text, size_t tlen, unsigned char *raw,
    size_t *rawlen_r)
{
	size_t i, rawlen = 0;
	int hi, lo;

	if (enc == 'B' || enc == 'b') {
		/* Padding is required by RFC 2047, but some writers omit it. */
		if (sodium_base642bin(raw, tlen, text, tlen, NULL, rawlen_r,
		        NULL, sodium_base64_VARIANT_ORIGINAL) == 0 ||
		    sodium_base642bin(raw, tlen, text, tlen, NULL, rawlen_r,
		        NULL, sodium_base64_VARIANT_ORIGINAL_NO_PADDING) == 0)
			return 0;
		return -1;
	}
	if (enc != 'Q' && enc != 'q')
		return -1;
	for (i = 0; i < tlen; i++) {
		if (text[i] == '_') {
			raw[rawlen++] = ' ';
		} else if (text[i] == '=' && i + 2 < tlen &&
		           (hi = hexval(text[i + 1])) >= 0 &&
		           (lo = hexval(text[i + 2])) >= 0) {
			raw[rawlen++] = (unsigned char)(hi << 4 | lo);
			i += 2;
		} else {
			raw[rawlen++] = (unsigned char)text[i];
		}
	}
	*rawlen_r = rawlen;
	return 0;
}

/*
 * Decode one encoded-word "=?charset?B|Q?text?=" at s (length n). Returns
 * 0 and appends the text as sanitized UTF-8, or -1 when it is not one we
 * can read (the caller then keeps it as plain text).
 */
static int
decode_word(struct buf *b, const char *s, size_t n)
{
	const char *q1, *text;
	unsigned char stack[512], *raw = stack;
	size_t rawlen = 0, tlen, clen;
	int utf8, latin1, rc = -1;

	if (n < 8 || s[0] != '=' || s[1] != '?' || s[n - 2] != '?' ||
	    s[n - 1] != '=')
		return -1;
	if ((q1 = memchr(s + 2, '?', n - 4)) == NULL)
		return -1;
	clen = (size_t)(q1 - (s + 2));
	if ((size_t)(q1 - s) + 3 > n - 2 || q1[2] != '?')
		return -1;
	text = q1 + 3;
	tlen = (size_t)((s + n - 2) - text);
	utf8 = (clen == 5 && strncasecmp(s + 2, "utf-8", 5) == 0) ||
	       (clen == 4 && strncasecmp(s + 2, "utf8", 4) == 0);
	latin1 = (clen == 10 && strncasecmp(s + 2, "iso-8859-1", 10) == 0) ||
	         (clen == 8 && strncasecmp(s + 2, "us-ascii", 8) == 0);
	if (!utf8 && !latin1)
		return -1;
	/* Decoded text is never longer than encoded text. */
	if (tlen > sizeof(stack) && (raw = malloc(tlen)) == NULL) {
		b->failed = 1;
		return 0;
	}
	if (decode_text(q1[1], text, tlen, raw, &rawlen) == 0) {
		if (utf8)
			add_text(b, (const char *)raw, rawlen, 1);
		else
			add_latin1(b, raw, rawlen);
		rc = 0;
	}
	if (raw != stack)
		free(raw);
	return rc;
}

/* Index just past the encoded-word "=?cs?X?text?=" starting at i, or 0. */
static size_t
word_end(const char *v, size_t i, size_t len)
{
	size_t j = i + 2, marks = 0;

	for (; j + 1 < len && v[j] != ' ' && v[j] != '\t'; j++) {
		if (v[j] != '?')
			continue;
		if (marks == 2 && v[j + 1] == '=')
			return j + 2;
		if (marks < 2)
			marks++;
	}
	return 0;
}

/*
 * Decode an unfolded header value: encoded-words, with the blanks between
 * them gone, and everything sanitized as add_text does for a header.
 */
static char *
decode_header(const char *v, size_t len)
{
	struct buf b = { NULL, 0, 0, 0 };
	size_t i = 0, j, close, held = 0;
	int holding = 0;

	buf_add(&b, "", 0);
	while (i < len) {
		if (v[i] == '=' && i + 1 < len && v[i + 1] == '?' &&
		    (close = word_end(v, i, len)) != 0 &&
		    decode_word(&b, v + i, close - i) == 0) {
			/* Blanks between two encoded-words are not text (RFC
			 * 2047 section 6.2): held until the next one decodes.
			 */
			holding = 0;
			i = close;
			j = i;
			while (j < len && (v[j] == ' ' || v[j] == '\t'))
				j++;
			if (j > i && j + 1 < len && v[j] == '=' &&
			    v[j + 1] == '?') {
				held = i;
				holding = 1;
				i = j;
			}
			continue;
		}
		if (holding) {
			/* What followed the blanks was not a word: they are
			 * text. */
			i = held;
			holding = 0;
		}
		/* Plain text up to the next possible encoded-word. */
		j = i + 1;
		while (
		    j < len && !(v[j] == '=' && j + 1 < len && v[j + 1] == '?'))
			j++;
		add_text(&b, v + i, j - i, 1);
		i = j;
	}
	if (b.failed) {
		free(b.p);
		return NULL;
	}
	return b.p;
}

/* The bare address of a From/To value ("Name <a@b>" -> "a@b"). */
static char *
bare_address(const char *v)
{
	const char *lt = strrchr(v, '<'), *gt;

	if (lt != NULL && (gt = strchr(lt, '>')) != NULL)
		return strndup(lt + 1, (size_t)(gt - lt - 1));
	return strdup(v);
}

time_t
message_parse_date(const char *s)
{
	static const char months[] = "JanFebMarAprMayJunJulAugSepOctNovDec";
	char mon[4];
	int day, year, hh, mm, ss, n = 0, zone = 0, sign = 1;
	const char *p, *comma = strchr(s, ',');
	struct tm tm;
	time_t t;

	p = comma != NULL ? comma + 1 : s;
	if (sscanf(p, " %d %3s %d %d:%d:%d %n", &day, mon, &year, &hh, &mm, &ss,
	        &n) != 6)
		return -1;
	if ((p = strstr(months, mon)) == NULL || (p - months) % 3 != 0)
		return -1;
	memset(&tm, 0, sizeof(tm));
	tm.tm_mday = day;
	tm.tm_mon = (int)((p - months) / 3);
	tm.tm_year = year - 1900;
	tm.tm_hour = hh;
	tm.tm_min = mm;
	tm.tm_sec = ss;
	t = timegm(&tm);
	p = comma != NULL ? comma + 1 : s;
	p += n;
	if ((*p == '+' || *p == '-') && isdigit((unsigned char)p[1])) {
		sign = *p == '-' ? -1 : 1;
		zone = atoi(p + 1);
		t -= sign * ((zone / 100) * 3600 + (zone % 100) * 60);
	}
	return t;
}

void
message_info_clear(struct message_info *info)
{
	free(info->from);
	free(info->to);
	free(info->cc);
	free(info->subject);
	free(info->date);
	free(info->body);
	memset(info, 0, sizeof(*info));
}

/*
 * One header field of a file: the name, and the raw value after the colon
 * with its folded line breaks still in.
 */
struct field {
	const char *name, *value;
	size_t nlen, vlen;
};

/*
 * The header field at *pp, with its continuation lines (those starting
 * with a blank). Returns 1 and moves *pp past it; 0 at the blank line that
 * ends the header or at the end of the file, *pp then being the body. A
 * line without a colon comes back with an empty name, so it is skipped
 * whole, continuation lines and all.
 */
static int
header_next(const char **pp, const char *end, struct field *f)
{
	const char *p = *pp, *eol, *colon;

	if (p >= end)
		return 0;
	eol = memchr(p, '\n', (size_t)(end - p));
	if (eol == NULL)
		eol = end;
	if (eol == p || (eol == p + 1 && *p == '\r')) {
		*pp = eol < end ? eol + 1 : end;
		return 0;
	}
	f->name = p;
	if ((colon = memchr(p, ':', (size_t)(eol - p))) != NULL) {
		f->nlen = (size_t)(colon - p);
		p = colon + 1;
	} else {
		f->nlen = 0;
	}
	f->value = p;
	for (;;) {
		p = eol < end ? eol + 1 : end;
		if (p >= end || (*p != ' ' && *p != '\t'))
			break;
		eol = memchr(p, '\n', (size_t)(end - p));
		if (eol == NULL)
			eol = end;
	}
	f->vlen = (size_t)(eol - f->value);
	*pp = p;
	return 1;
}

/* Unfold a raw value: each line break (LF or CRLF) goes, the blank stays. */
static void
unfold(struct buf *b, const char *v, size_t len)
{
	const char *nl;
	size_t l;

	buf_add(b, "", 0);
	while (len > 0) {
		nl = memchr(v, '\n', len);
		l = nl != NULL ? (size_t)(nl - v) : len;
		buf_add(b, v, l > 0 && v[l - 1] == '\r' ? l - 1 : l);
		if (nl == NULL)
			break;
		len -= l + 1;
		v = nl + 1;
	}
}

/* Cut s to at most max bytes, at a character boundary. */
static void
cut_utf8(char *s, size_t max)
{
	size_t n = strlen(s);

	if (n <= max)
		return;
	n = max;
	while (n > 0 && ((unsigned char)s[n] & 0xc0) == 0x80)
		n--;
	s[n] = '\0';
}

/* The fields message_info keeps; the first of each in a file wins. */
static const struct {
	const char *name;
	size_t nlen;
	size_t offset; /* of the char * in struct message_info */
	int address;   /* keep only the bare address */
} known_fields[] = {
	{ "From", 4, offsetof(struct message_info, from), 1 },
	{ "To", 2, offsetof(struct message_info, to), 1 },
	{ "Subject", 7, offsetof(struct message_info, subject), 0 },
	{ "Date", 4, offsetof(struct message_info, date), 0 },
	{ "Cc", 2, offsetof(struct message_info, cc), 0 },
};

/*
 * Keep f in info if it is a field we know and not seen before. Values are
 * decoded, sanitized and at most one header line long (RFC 5322's 998):
 * what glomaild wrote comes back exactly, and a file from elsewhere cannot
 * smuggle a control character or an unbounded line into a reply.
 * Returns 0 or -1 (no memory).
 */
static int
field_keep(struct message_info *info, const struct field *f, struct buf *tmp)
{
	char **slot, *d, *a;
	size_t i, lead;

	for (i = 0; i < sizeof(known_fields) / sizeof(known_fields[0]); i++)
		if (f->nlen == known_fields[i].nlen &&
		    strncasecmp(f->name, known_fields[i].name, f->nlen) == 0)
			break;
	if (i == sizeof(known_fields) / sizeof(known_fields[0]))
		return 0;
	slot = (char **)(void *)((char *)info + known_fields[i].offset);
	if (*slot != NULL)
		return 0;
	tmp->len = 0;
	unfold(tmp, f->value, f->vlen);
	if (tmp->failed)
		return -1;
	/* The blanks after the colon, on whichever line, are not the value. */
	for (lead = 0;
	     lead < tmp->len && (tmp->p[lead] == ' ' || tmp->p[lead] == '\t');
	     lead++)
		;
	if ((d = decode_header(tmp->p + lead, tmp->len - lead)) == NULL)
		return -1;
	if (known_fields[i].address) {
		a = bare_address(d);
		free(d);
		if ((d = a) == NULL)
			return -1;
	}
	cut_utf8(d, FIELD_MAX);
	*slot = d;
	return 0;
}

/* --- the body as a reader sees it: MIME (RFC 2045, 2046) ---------------- */

/* Parts inside parts followed at most this deep. */
#define MIME_DEPTH_MAX 8

/* What a body or part's own header says about it. */
struct entity {
	char type[64];     /* "text/plain", lower case; "" when not given */
	char charset[40];  /* lower case; "" when not given */
	char boundary[80]; /* multipart only */
	char name[256];    /* filename= or name=, raw */
	char cte[24];      /* Content-Transfer-Encoding, lower case */
	int attachment;    /* Content-Disposition: attachment */
};

/* Copy the token or quoted string at *pp into out (lower case if asked). */
static void
mime_value(const char **pp, const char *end, char *out, size_t outlen,
    int lower)
{
	const char *p = *pp;
	size_t n = 0;
	int quoted = p < end && *p == '"';

	if (quoted)
		p++;
	while (p < end && (quoted ? *p != '"'
	                          : (*p != ';' && *p != ' ' && *p != '\t' &&
	                                *p != '\r' && *p != '\n'))) {
		if (quoted && *p == '\\' && p + 1 < end)
			p++;
		if (n + 1 < outlen)
			out[n++] = lower ? (char)tolower((unsigned char)*p)
			                 : *p;
		p++;
	}
	if (quoted && p < end)
		p++;
	out[n] = '\0';
	*pp = p;
}

/*
 * Read "type/subtype; key=value; ..." (Content-Type or -Disposition): the
 * first token into first (lower case), then the parameters the entity
 * keeps. Unknown parameters are skipped.
 */
static void
mime_params(const char *v, size_t len, char *first, size_t firstlen,
    struct entity *e)
{
	const char *p = v, *end = v + len, *k;
	char junk[256];
	size_t klen;

	while (p < end && isspace((unsigned char)*p))
		p++;
	mime_value(&p, end, first, firstlen, 1);
	while (p < end) {
		while (p < end && (*p == ';' || isspace((unsigned char)*p)))
			p++;
		k = p;
		while (p < end && *p != '=' && *p != ';')
			p++;
		if (p >= end || *p != '=')
			continue;
		klen = (size_t)(p - k);
		while (klen > 0 && isspace((unsigned char)k[klen - 1]))
			klen--;
		p++;
		while (p < end && isspace((unsigned char)*p))
			p++;
		if (klen == 7 && strncasecmp(k, "charset", 7) == 0)
			mime_value(&p, end, e->charset, sizeof(e->charset), 1);
		else if (klen == 8 && strncasecmp(k, "boundary", 8) == 0)
			mime_value(&p, end, e->boundary, sizeof(e->boundary),
			    0);
		else if (((klen == 4 && strncasecmp(k, "name", 4) == 0) ||
		             (klen == 8 &&
		                 strncasecmp(k, "filename", 8) == 0)) &&
		         (e->name[0] == '\0' || klen == 8))
			mime_value(&p, end, e->name, sizeof(e->name), 0);
		else
			mime_value(&p, end, junk, sizeof(junk), 0);
	}
}

/* Read the MIME fields of a header (from p to its blank line). */
static void
mime_entity(const char **pp, const char *end, struct entity *e, struct buf *tmp)
{
	struct field f;
	char disp[32];

	memset(e, 0, sizeof(*e));
	while (header_next(pp, end, &f)) {
		tmp->len = 0;
		unfold(tmp, f.value, f.vlen);
		if (tmp->failed)
			continue;
		if (f.nlen == 12 &&
		    strncasecmp(f.name, "Content-Type", 12) == 0)
			mime_params(tmp->p, tmp->len, e->type, sizeof(e->type),
			    e);
		else if (f.nlen == 25 &&
		         strncasecmp(f.name, "Content-Transfer-Encoding", 25) ==
		             0)
			mime_params(tmp->p, tmp->len, e->cte, sizeof(e->cte),
			    e);
		else if (f.nlen == 19 &&
		         strncasecmp(f.name, "Content-Disposition", 19) == 0) {
			mime_params(tmp->p, tmp->len, disp, sizeof(disp), e);
			e->attachment = strcmp(disp, "attachment") == 0;
		}
	}
}

/* Undo quoted-printable (RFC 2045 §6.7) into out (room for len). */
static size_t
unquote_printable(const char *s, size_t len, unsigned char *out)
{
	size_t i, n = 0;
	int hi, lo;

	for (i = 0; i < len; i++) {
		if (s[i] != '=') {
			out[n++] = (unsigned char)s[i];
		} else if (i + 1 < len && s[i + 1] == '\n') {
			i++; /* a soft line break */
		} else if (i + 2 < len && s[i + 1] == '\r' &&
		           s[i + 2] == '\n') {
			i += 2;
		} else if (i + 2 < len && (hi = hexval(s[i + 1])) >= 0 &&
		           (lo = hexval(s[i + 2])) >= 0) {
			out[n++] = (unsigned char)(hi << 4 | lo);
			i += 2;
		} else {
			out[n++] = '=';
		}
	}
	return n;
}

/*
 * A text part, its transfer encoding undone, as UTF-8: Latin-1 (and its
 * Windows and ISO 8859-15 kin, close enough to read) mapped, any other
 * charset taken as UTF-8, invalid sequences replaced by U+FFFD.
 */
static void
mime_text(struct buf *out, const struct entity *e, const char *s, size_t len)
{
	unsigned char *raw = NULL;
	size_t rawlen = len, i;
	char two[2];

	if (strcmp(e->cte, "base64") == 0 ||
	    strcmp(e->cte, "quoted-printable") == 0) {
		if ((raw = malloc(len + 1)) == NULL) {
			out->failed = 1;
			return;
		}
		if (strcmp(e->cte, "base64") == 0) {
			if (sodium_base642bin(raw, len + 1, s, len, " \t\r\n",
			        &rawlen, NULL,
			        sodium_base64_VARIANT_ORIGINAL) != 0)
				rawlen = 0;
		} else {
			rawlen = unquote_printable(s, len, raw);
		}
		s = (const char *)raw;
	}
	if (strcmp(e->charset, "iso-8859-1") == 0 ||
	    strcmp(e->charset, "latin1") == 0 ||
	    strcmp(e->charset, "iso-8859-15") == 0 ||
	    strcmp(e->charset, "windows-1252") == 0) {
		for (i = 0; i < rawlen; i++) {
			unsigned char c = (unsigned char)s[i];

			if (c < 0x80) {
				add_text(out, s + i, 1, 0);
			} else if (c < 0xa0) {
				buf_str(out, replacement);
			} else {
				two[0] = (char)(0xc0 | c >> 6);
				two[1] = (char)(0x80 | (c & 0x3f));
				buf_add(out, two, 2);
			}
		}
	} else {
		add_text(out, s, rawlen, 0);
	}
	free(raw);
}

/* "[attachment: name (type)]" on a line of its own. */
static void
mime_attachment(struct buf *out, const struct entity *e)
{
	char *name = NULL;

	if (e->name[0] != '\0')
		name = decode_header(e->name, strlen(e->name));
	if (out->len > 0 && out->p[out->len - 1] != '\n')
		buf_str(out, "\n");
	buf_str(out, "[attachment: ");
	buf_str(out, name != NULL && *name != '\0' ? name : "unnamed");
	buf_str(out, " (");
	add_text(out, e->type[0] ? e->type : "application/octet-stream",
	    strlen(e->type[0] ? e->type : "application/octet-stream"), 1);
	buf_str(out, ")]\n");
	free(name);
}

static void mime_render(struct buf *out, const struct entity *e, const char *s,
    size_t len, int depth, struct buf *tmp);

/* The line of a multipart body at p is "--boundary" (or its close). */
static int
mime_delimiter(const char *p, const char *end, const char *b, size_t blen)
{
	return (size_t)(end - p) >= blen + 2 && p[0] == '-' && p[1] == '-' &&
	       memcmp(p + 2, b, blen) == 0;
}

/*
 * A multipart body: each part between the delimiter lines. Of an
 * alternative, the text/plain one alone; of any other kind, every text part
 * shown in turn and every other part named.
 */
static void
mime_multipart(struct buf *out, const struct entity *e, const char *s,
    size_t len, int depth, struct buf *tmp)
{
	const char *end = s + len, *p = s, *start = NULL, *q, *nl;
	size_t blen = strlen(e->boundary);
	int alternative = strcmp(e->type, "multipart/alternative") == 0;
	int shown = 0, last;
	struct entity part;

	for (;;) {
		/* p is at the start of a line. */
		last = p >= end;
		if (!last && !mime_delimiter(p, end, e->boundary, blen)) {
			nl = memchr(p, '\n', (size_t)(end - p));
			p = nl != NULL ? nl + 1 : end;
			continue;
		}
		if (start != NULL) {
			/* The part ends before the line break ahead of p. */
			q = p;
			if (q > start && q[-1] == '\n')
				q--;
			if (q > start && q[-1] == '\r')
				q--;
			nl = start;
			mime_entity(&nl, q, &part, tmp);
			if (part.type[0] == '\0')
				snprintf(part.type, sizeof(part.type),
				    "text/plain");
			if (alternative &&
			    (shown || strcmp(part.type, "text/plain") != 0)) {
				/* Only the plain text of alternatives. */
			} else {
				mime_render(out, &part, nl, (size_t)(q - nl),
				    depth + 1, tmp);
				shown = 1;
			}
		}
		if (last || (p + blen + 4 <= end && p[blen + 2] == '-' &&
		                p[blen + 3] == '-'))
			break; /* the close delimiter, or the end */
		nl = memchr(p, '\n', (size_t)(end - p));
		p = start = nl != NULL ? nl + 1 : end;
	}
	if (alternative && !shown)
		buf_str(out, "[no plain text version]\n");
}

static void
mime_render(struct buf *out, const struct entity *e, const char *s, size_t len,
    int depth, struct buf *tmp)
{
	if (strncmp(e->type, "multipart/", 10) == 0 && e->boundary[0] != '\0' &&
	    depth < MIME_DEPTH_MAX) {
		mime_multipart(out, e, s, len, depth, tmp);
		return;
	}
	if (!e->attachment &&
	    (e->type[0] == '\0' || strncmp(e->type, "text/", 5) == 0)) {
		if (out->len > 0 && out->p[out->len - 1] != '\n')
			buf_str(out, "\n");
		mime_text(out, e, s, len);
		return;
	}
	mime_attachment(out, e);
}

int
message_parse(const char *buf, size_t len, int with_body,
    struct message_info *info)
{
	struct buf tmp = { NULL, 0, 0, 0 }, body = { NULL, 0, 0, 0 };
	const char *p = buf, *end = buf + len, *q = buf;
	struct field f;
	struct entity e;

	memset(info, 0, sizeof(*info));
	info->when = -1;
	while (header_next(&p, end, &f))
		if (field_keep(info, &f, &tmp) == -1)
			goto fail;
	if (with_body) {
		/* A second pass over the header for the MIME fields. */
		mime_entity(&q, end, &e, &tmp);
		buf_add(&body, "", 0);
		if (e.type[0] == '\0' && e.cte[0] == '\0')
			add_text(&body, p, (size_t)(end - p), 0);
		else
			mime_render(&body, &e, p, (size_t)(end - p), 0, &tmp);
		if (body.failed)
			goto fail;
		info->body = body.p;
		body.p = NULL;
	}
	free(tmp.p);
	tmp.p = NULL;
	if ((info->from == NULL && (info->from = strdup("")) == NULL) ||
	    (info->to == NULL && (info->to = strdup("")) == NULL) ||
	    (info->cc == NULL && (info->cc = strdup("")) == NULL) ||
	    (info->subject == NULL && (info->subject = strdup("")) == NULL) ||
	    (info->date == NULL && (info->date = strdup("")) == NULL))
		goto fail;
	info->when = message_parse_date(info->date);
	return 0;
fail:
	free(tmp.p);
	free(body.p);
	message_info_clear(info);
	return -1;
}

char *
message_build_head(const struct message_head *h, const char *body,
    size_t *len_r)
{
	struct buf b = { NULL, 0, 0, 0 };
	const struct {
		const char *name, *value;
	} opt[] = {
		{ "\nCc: ", h->cc },
		{ "\nIn-Reply-To: ", h->in_reply_to },
		{ "\nReferences: ", h->references },
		{ "\nAuto-Submitted: ", h->auto_submitted },
	};
	size_t i;

	buf_str(&b, "From: ");
	buf_str(&b, h->from);
	buf_str(&b, "\nTo: ");
	buf_str(&b, h->to);
	buf_str(&b, "\nSubject: ");
	encode_subject(&b, h->subject);
	buf_str(&b, "\nDate: ");
	buf_str(&b, h->date);
	buf_str(&b, "\nMessage-ID: ");
	buf_str(&b, h->message_id);
	for (i = 0; i < sizeof(opt) / sizeof(opt[0]); i++)
		if (opt[i].value != NULL) {
			buf_str(&b, opt[i].name);
			buf_str(&b, opt[i].value);
		}
	buf_str(&b, "\nMIME-Version: 1.0\nContent-Type: ");
	buf_str(&b, h->content_type != NULL ? h->content_type
	                                    : "text/plain; charset=utf-8");
	buf_str(&b, "\nContent-Transfer-Encoding: 8bit\n\n");
	buf_str(&b, body);
	if (b.failed) {
		free(b.p);
		return NULL;
	}
	*len_r = b.len;
	return b.p;
}

/* One "<left@right>" at s; its length, or 0. */
static size_t
msgid_len(const char *s)
{
	size_t i;
	int at = 0;

	if (s[0] != '<')
		return 0;
	for (i = 1; s[i] != '\0' && s[i] != '>'; i++) {
		unsigned char c = (unsigned char)s[i];

		if (c <= ' ' || c >= 0x7f || c == '<')
			return 0;
		if (c == '@') {
			if (at || i == 1)
				return 0;
			at = (int)i;
		}
	}
	if (s[i] != '>' || !at || at == (int)i - 1 || i + 1 > 250)
		return 0;
	return i + 1;
}

int
message_id_valid(const char *s, int list)
{
	size_t n, total = 0;

	for (;;) {
		if ((n = msgid_len(s)) == 0)
			return -1;
		s += n;
		total += n;
		if (*s == '\0')
			return 0;
		if (!list || *s != ' ' || total > 4000)
			return -1;
		s++;
		total++;
	}
}

char *
message_header(const char *buf, size_t len, const char *name)
{
	const char *p = buf, *end = buf + len;
	struct buf b = { NULL, 0, 0, 0 };
	struct field f;
	size_t nlen = strlen(name), i;
	char *v;

	while (header_next(&p, end, &f)) {
		if (f.nlen != nlen || strncasecmp(f.name, name, nlen) != 0)
			continue;
		unfold(&b, f.value, f.vlen);
		if (b.failed)
			break;
		for (v = b.p; *v == ' ' || *v == '\t'; v++)
			;
		for (i = strlen(v);
		     i > 0 &&
		     (v[i - 1] == ' ' || v[i - 1] == '\t' || v[i - 1] == '\r');
		     i--)
			;
		memmove(b.p, v, i);
		b.p[i] = '\0';
		return b.p;
	}
	free(b.p);
	return NULL;
}
