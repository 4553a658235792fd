/*
 * message.c - RFC 5322 files in and out, with RFC 2047 encoded-words.
 */
#include <ctype.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include <sodium.h>

#include "message.h"

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

static int
is_ascii(const char *s)
{
	for (; *s != '\0'; s++)
		if ((unsigned char)*s >= 0x80)
			return 0;
	return 1;
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
 * Subject as RFC 2047 B encoded-words, never splitting a UTF-8 sequence,
 * words on folded continuation lines. 39 bytes of text make 52 base64
 * characters, so even the first line ("Subject: " + word) stays within
 * the 76 characters RFC 2047 allows a line holding encoded-words.
 */
static void
encode_subject(struct buf *b, const char *s)
{
	char word[128];
	size_t len = strlen(s), off = 0, n, k;

	if (is_ascii(s)) {
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
		if (n == 0) /* a sequence longer than 39 bytes cannot occur */
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
    const char *date, const char *message_id, const char *body,
    size_t *len_r)
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

/* Copy len bytes replacing invalid UTF-8 with U+FFFD. */
static void
add_utf8_clean(struct buf *b, const char *s, size_t len)
{
	const unsigned char *p = (const unsigned char *)s;
	size_t i = 0, k, j;
	unsigned cp;
	int ok;

	while (i < len) {
		if (p[i] < 0x80) {
			/* Runs of ASCII go in one copy: this is the hot path. */
			j = i;
			while (j < len && p[j] < 0x80 && p[j] != 0)
				j++;
			if (j > i) {
				buf_add(b, s + i, j - i);
				i = j;
				continue;
			}
			buf_str(b, "\xef\xbf\xbd"); /* NUL: not in JSON */
			i++;
			continue;
		}
		k = utf8_seqlen(p[i]);
		ok = k > 1 && i + k <= len && p[i] < 0xf5 && (p[i] & 0xc0) == 0xc0;
		cp = p[i] & (0x7f >> k);
		for (j = 1; ok && j < k; j++) {
			ok = (p[i + j] & 0xc0) == 0x80;
			cp = cp << 6 | (p[i + j] & 0x3f);
		}
		if (ok && (cp < (k == 2 ? 0x80u : k == 3 ? 0x800u : 0x10000u) ||
		    cp > 0x10ffff || (cp >= 0xd800 && cp <= 0xdfff)))
			ok = 0;
		if (ok) {
			buf_add(b, s + i, k);
			i += k;
		} else {
			buf_str(b, "\xef\xbf\xbd");
			i++;
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

/* Latin-1 bytes to UTF-8. */
static void
add_latin1(struct buf *b, const unsigned char *s, size_t len)
{
	char two[2];
	size_t i;

	for (i = 0; i < len; i++) {
		if (s[i] < 0x80) {
			buf_add(b, s + i, 1);
		} else {
			two[0] = (char)(0xc0 | s[i] >> 6);
			two[1] = (char)(0x80 | (s[i] & 0x3f));
			buf_add(b, two, 2);
		}
	}
}

/*
 * Decode one encoded-word "=?charset?B|Q?text?=" at s (length n). Returns
 * 0 and appends the UTF-8 text, or -1 when it is not one we can read.
 */
static int
decode_word(struct buf *b, const char *s, size_t n)
{
	const char *q1, *q2;
	unsigned char raw[512];
	size_t rawlen = 0, tlen, i, clen;
	const char *text;
	int utf8, latin1, hi, lo;

	if (n < 8 || s[0] != '=' || s[1] != '?' || s[n - 2] != '?' ||
	    s[n - 1] != '=')
		return -1;
	if ((q1 = memchr(s + 2, '?', n - 4)) == NULL)
		return -1;
	clen = (size_t)(q1 - (s + 2));
	if ((size_t)(q1 - s) + 3 > n - 2 || q1[2] != '?')
		return -1;
	q2 = q1 + 2;
	text = q2 + 1;
	tlen = (size_t)((s + n - 2) - text);
	utf8 = (clen == 5 && strncasecmp(s + 2, "utf-8", 5) == 0) ||
	    (clen == 4 && strncasecmp(s + 2, "utf8", 4) == 0);
	latin1 = (clen == 10 && strncasecmp(s + 2, "iso-8859-1", 10) == 0) ||
	    (clen == 8 && strncasecmp(s + 2, "us-ascii", 8) == 0);
	if (!utf8 && !latin1)
		return -1;
	if (q1[1] == 'B' || q1[1] == 'b') {
		if (sodium_base642bin(raw, sizeof(raw), text, tlen, NULL,
		    &rawlen, NULL, sodium_base64_VARIANT_ORIGINAL) != 0)
			return -1;
	} else if (q1[1] == 'Q' || q1[1] == 'q') {
		for (i = 0; i < tlen && rawlen < sizeof(raw); i++) {
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
	} else {
		return -1;
	}
	if (utf8)
		add_utf8_clean(b, (const char *)raw, rawlen);
	else
		add_latin1(b, raw, rawlen);
	return 0;
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

/* Decode a header value: encoded-words, with the blanks between them gone. */
static char *
decode_header(const char *v, size_t len)
{
	struct buf b = { NULL, 0, 0, 0 };
	size_t i = 0, j, close;

	buf_add(&b, "", 0);
	while (i < len) {
		if (v[i] == '=' && i + 1 < len && v[i + 1] == '?' &&
		    (close = word_end(v, i, len)) != 0 &&
		    decode_word(&b, v + i, close - i) == 0) {
			i = close;
			j = i;
			while (j < len && (v[j] == ' ' || v[j] == '\t'))
				j++;
			if (j + 1 < len && v[j] == '=' && v[j + 1] == '?' &&
			    word_end(v, j, len) != 0)
				i = j;
			continue;
		}
		/* Plain text up to the next possible encoded-word. */
		j = i + 1;
		while (j < len && !(v[j] == '=' && j + 1 < len && v[j + 1] == '?'))
			j++;
		add_utf8_clean(&b, v + i, j - i);
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
	if (sscanf(p, " %d %3s %d %d:%d:%d %n", &day, mon, &year, &hh, &mm,
	    &ss, &n) != 6)
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
	free(info->subject);
	free(info->date);
	free(info->body);
	memset(info, 0, sizeof(*info));
}

int
message_parse(const char *buf, size_t len, int with_body,
    struct message_info *info)
{
	struct buf val = { NULL, 0, 0, 0 }, body = { NULL, 0, 0, 0 };
	const char *p = buf, *end = buf + len, *eol, *name_end;
	char **slot;
	size_t nlen;

	memset(info, 0, sizeof(*info));
	info->when = -1;
	/* Headers: "Name: value" lines, continuation lines start with a blank. */
	while (p < end) {
		eol = memchr(p, '\n', (size_t)(end - p));
		if (eol == NULL)
			eol = end;
		if (eol == p || (eol == p + 1 && *p == '\r')) {
			p = eol < end ? eol + 1 : end;
			break; /* blank line: the body follows */
		}
		name_end = memchr(p, ':', (size_t)(eol - p));
		if (name_end == NULL) {
			p = eol < end ? eol + 1 : end;
			continue;
		}
		nlen = (size_t)(name_end - p);
		slot = NULL;
		if (nlen == 4 && strncasecmp(p, "from", 4) == 0)
			slot = &info->from;
		else if (nlen == 2 && strncasecmp(p, "to", 2) == 0)
			slot = &info->to;
		else if (nlen == 7 && strncasecmp(p, "subject", 7) == 0)
			slot = &info->subject;
		else if (nlen == 4 && strncasecmp(p, "date", 4) == 0)
			slot = &info->date;
		val.len = 0;
		val.failed = 0;
		buf_add(&val, "", 0);
		p = name_end + 1;
		while (p < end && (*p == ' ' || *p == '\t'))
			p++;
		for (;;) {
			size_t l = (size_t)(eol - p);

			if (l > 0 && p[l - 1] == '\r')
				l--;
			buf_add(&val, p, l);
			p = eol < end ? eol + 1 : end;
			if (p >= end || (*p != ' ' && *p != '\t'))
				break;
			/* Unfold: the line break goes, the blank stays. */
			eol = memchr(p, '\n', (size_t)(end - p));
			if (eol == NULL)
				eol = end;
		}
		if (slot != NULL && *slot == NULL && !val.failed) {
			if (slot == &info->subject)
				*slot = decode_header(val.p, val.len);
			else if (slot == &info->date)
				*slot = decode_header(val.p, val.len);
			else {
				char *d = decode_header(val.p, val.len);

				*slot = d != NULL ? bare_address(d) : NULL;
				free(d);
			}
			if (*slot == NULL)
				goto fail;
		}
	}
	if (with_body) {
		add_utf8_clean(&body, p, (size_t)(end - p));
		if (body.p == NULL)
			buf_str(&body, "");
		if (body.failed)
			goto fail;
		info->body = body.p;
		body.p = NULL;
	}
	free(val.p);
	if (info->from == NULL)
		info->from = strdup("");
	if (info->to == NULL)
		info->to = strdup("");
	if (info->subject == NULL)
		info->subject = strdup("");
	if (info->date == NULL)
		info->date = strdup("");
	if (info->from == NULL || info->to == NULL || info->subject == NULL ||
	    info->date == NULL)
		goto fail;
	info->when = message_parse_date(info->date);
	return 0;
fail:
	free(val.p);
	free(body.p);
	message_info_clear(info);
	return -1;
}
