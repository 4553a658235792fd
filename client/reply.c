/*
 * reply.c - what a reply or a forward takes from the original: subject,
 * recipients, threading headers and the quoted text.
 */
#include <ctype.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>

#include "i18n.h"
#include "proto.h"
#include "reply.h"
#include "session.h"

void
reply_orig_clear(struct reply_orig *o)
{
	msg_free(o->list);
	msg_free(o->read);
	msg_free(o->heads);
	memset(o, 0, sizeof(*o));
}

/* A string field of a payload, or "". */
static const char *
field(const struct msg *m, const char *key)
{
	json_t *v = m != NULL && msg_payload(m) != NULL
	                ? json_object_get(msg_payload(m), key)
	                : NULL;

	return json_is_string(v) ? json_string_value(v) : "";
}

/* One request; PROTO_OK, or PROTO_ERROR with *err_r set, or -1. */
static int
ask(struct session *s, int header, json_t *payload, struct msg **reply_r,
    struct msg **err_r)
{
	int h = session_request(s, header, payload, reply_r);

	if (h == PROTO_ERROR) {
		*err_r = *reply_r;
		*reply_r = NULL;
	}
	return h;
}

int
reply_fetch(struct session *s, long long n, struct reply_orig *o,
    struct msg **err_r)
{
	union msg_args a;
	const char *why;
	int h;

	memset(o, 0, sizeof(*o));
	*err_r = NULL;
	o->message_id = o->to = o->cc = o->references = "";
	/* Numbers are those of the connection's last list. */
	if ((h = ask(s, PROTO_INBOX_READING_REQUEST, NULL, &o->list, err_r)) !=
	    PROTO_OK)
		return h;
	if ((h = ask(s, PROTO_INBOX_READING_CHOICE, msg_choice_new(n), &o->read,
	         err_r)) != PROTO_OK)
		return h;
	if (msg_unpack(o->read, PROTO_SHAPE_EMAIL, &a, &why) == -1) {
		fprintf(stderr, "glomail: %s: %s\n",
		    _("unexpected reply from the server"), why);
		return -1;
	}
	o->email = a.email;
	o->to = o->email.destination;
	if (!session_has(s, "threading"))
		return PROTO_OK;
	if ((h = ask(s, PROTO_MESSAGE_HEADERS, msg_choice_new(n), &o->heads,
	         err_r)) != PROTO_OK)
		return h;
	o->message_id = field(o->heads, "message_id");
	o->to = field(o->heads, "to");
	o->cc = field(o->heads, "cc");
	o->references = field(o->heads, "references");
	return PROTO_OK;
}

/* Length of a "Re:"-like prefix at s (blanks after it included), or 0. */
static size_t
prefix_len(const char *s, int forward)
{
	static const char *const re[] = { "re", NULL };
	static const char *const fwd[] = { "fwd", "fw", NULL };
	const char *const *w;
	size_t n, i;

	for (w = forward ? fwd : re; *w != NULL; w++) {
		n = strlen(*w);
		if (strncasecmp(s, *w, n) != 0)
			continue;
		i = n;
		while (s[i] == ' ')
			i++;
		if (s[i] != ':')
			continue;
		for (i++; s[i] == ' ' || s[i] == '\t'; i++)
			;
		return i;
	}
	return 0;
}

void
reply_subject(const char *subject, int forward, size_t max, char *out)
{
	const char *p = subject;
	size_t n, cut;

	while (*p == ' ')
		p++;
	while ((n = prefix_len(p, forward)) > 0)
		p += n;
	snprintf(out, max + 1, "%s%s", forward ? "Fwd: " : "Re: ", p);
	/* Never half a character. */
	cut = strlen(out);
	if (cut == max)
		while (cut > 0 && ((unsigned char)out[cut] & 0xc0) == 0x80)
			out[cut--] = '\0';
}

/* Take one address out of a header list item ("Name <a@b>" or "a@b"). */
static int
item_address(const char *s, size_t len, char *out, size_t outlen)
{
	const char *lt, *gt;

	if ((lt = memchr(s, '<', len)) != NULL &&
	    (gt = memchr(lt, '>', len - (size_t)(lt - s))) != NULL) {
		s = lt + 1;
		len = (size_t)(gt - lt - 1);
	}
	while (len > 0 && isspace((unsigned char)*s)) {
		s++;
		len--;
	}
	while (len > 0 && isspace((unsigned char)s[len - 1]))
		len--;
	if (len == 0 || len >= outlen || memchr(s, '@', len) == NULL)
		return -1;
	memcpy(out, s, len);
	out[len] = '\0';
	return 0;
}

/* Add addr to out unless there or self; returns the new count. */
static size_t
add_unique(char out[][COMPOSE_ADDR_MAX + 1], size_t n, size_t max,
    const char *addr, const char *self)
{
	size_t i;

	if (strcasecmp(addr, self) == 0 || n == max)
		return n;
	for (i = 0; i < n; i++)
		if (strcasecmp(out[i], addr) == 0)
			return n;
	snprintf(out[n], COMPOSE_ADDR_MAX + 1, "%s", addr);
	return n + 1;
}

/* Every address of a header list, quotes respected. */
static size_t
add_list(char out[][COMPOSE_ADDR_MAX + 1], size_t n, size_t max,
    const char *list, const char *self)
{
	char addr[COMPOSE_ADDR_MAX + 1];
	const char *p = list, *start = list;
	int quoted = 0;

	for (;; p++) {
		if (*p == '"')
			quoted = !quoted;
		if ((*p == ',' && !quoted) || *p == '\0') {
			if (item_address(start, (size_t)(p - start), addr,
			        sizeof(addr)) == 0)
				n = add_unique(out, n, max, addr, self);
			if (*p == '\0')
				break;
			start = p + 1;
		}
	}
	return n;
}

size_t
reply_recipients(const struct reply_orig *o, int all, const char *self,
    char out[][COMPOSE_ADDR_MAX + 1], size_t max)
{
	size_t n = 0;

	/* A reply to one's own message goes to its recipients. */
	n = add_list(out, n, max, o->email.sender, "");
	if (n == 1 && strcasecmp(out[0], self) == 0) {
		n = 0;
		all = 1;
	}
	if (all) {
		n = add_list(out, n, max, o->to, self);
		n = add_list(out, n, max, o->cc, self);
	}
	/* A note to oneself: the reply is one too. */
	if (n == 0)
		n = add_list(out, n, max, o->email.sender, "");
	return n;
}

/* Whether [s, s+n) is one "<left@right>" of printable ASCII. */
static int
msgid_ok(const char *s, size_t n)
{
	size_t i;
	int at = 0;

	if (n < 5 || n > 250 || s[0] != '<' || s[n - 1] != '>')
		return 0;
	for (i = 1; i < n - 1; i++) {
		if (s[i] <= ' ' || s[i] >= 0x7f || s[i] == '<' || s[i] == '>')
			return 0;
		at += s[i] == '@';
	}
	return at == 1;
}

const char *
reply_in_reply_to(const struct reply_orig *o)
{
	return msgid_ok(o->message_id, strlen(o->message_id)) ? o->message_id
	                                                      : NULL;
}

char *
reply_references(const struct reply_orig *o)
{
	const char *p = o->references, *first = NULL, *id;
	size_t n, firstlen = 0, len = 0;
	char *out;

	/* The original's ids (any blanks between them), the first kept and
	 * the latest as many as fit in a line, then its own id. */
	if ((id = reply_in_reply_to(o)) == NULL)
		return NULL;
	if ((out = malloc(REPLY_REFERENCES_MAX + 1)) == NULL)
		return NULL;
	out[0] = '\0';
	while (*p != '\0') {
		p += strspn(p, " \t?");
		n = strcspn(p, " \t?");
		if (n == 0)
			break;
		if (msgid_ok(p, n)) {
			if (first == NULL) {
				first = p;
				firstlen = n;
			} else {
				/* Room for the first, this and the own id. */
				while (len > 0 && firstlen + 1 + len + 1 + n +
				                          1 + strlen(id) >
				                      REPLY_REFERENCES_MAX) {
					char *sp = strchr(out, ' ');

					if (sp == NULL)
						len = 0, out[0] = '\0';
					else {
						memmove(out, sp + 1,
						    strlen(sp));
						len = strlen(out);
					}
				}
				if (firstlen + 1 + len + 1 + n + 1 +
				        strlen(id) <=
				    REPLY_REFERENCES_MAX) {
					if (len > 0)
						out[len++] = ' ';
					memcpy(out + len, p, n);
					out[len += n] = '\0';
				}
			}
		}
		p += n;
	}
	{
		char *r;
		int w;

		if (first == NULL)
			w = asprintf(&r, "%s", id);
		else if (len == 0)
			w = asprintf(&r, "%.*s %s", (int)firstlen, first, id);
		else
			w = asprintf(&r, "%.*s %s %s", (int)firstlen, first,
			    out, id);
		free(out);
		return w < 0 ? NULL : r;
	}
}

char *
reply_body(const struct reply_orig *o, int forward, const char *typed)
{
	const struct msg_email *e = &o->email;
	const char *p, *nl;
	char *out = NULL;
	size_t len = 0;
	FILE *f;

	if ((f = open_memstream(&out, &len)) == NULL)
		return NULL;
	fputs(typed, f);
	if (typed[0] != '\0')
		fputs("\n\n", f);
	if (forward) {
		fprintf(f,
		    "---------- Forwarded message ----------\n"
		    "From: %s\nDate: %s\nSubject: %s\nTo: %s\n",
		    e->sender, e->date, e->subject, o->to);
		if (o->cc[0] != '\0')
			fprintf(f, "Cc: %s\n", o->cc);
		fprintf(f, "\n%s\n", e->content);
	} else {
		fprintf(f, "On %s, %s wrote:\n", e->date, e->sender);
		for (p = e->content; *p != '\0'; p = nl + 1) {
			nl = strchr(p, '\n');
			fprintf(f, ">%s%.*s\n",
			    *p == '>' || *p == '\n' ||
			            (nl == NULL && *p == '\0')
			        ? ""
			        : " ",
			    (int)(nl != NULL ? (size_t)(nl - p) : strlen(p)),
			    p);
			if (nl == NULL)
				break;
		}
	}
	if (fclose(f) != 0) {
		free(out);
		return NULL;
	}
	return out;
}

long long
reply_date_end(const char *s)
{
	struct tm tm = { 0 };
	int y, m, d, n = 0;

	if (sscanf(s, "%4d-%2d-%2d%n", &y, &m, &d, &n) != 3 || s[n] != '\0' ||
	    n != 10 || y < 1970 || m < 1 || m > 12 || d < 1 || d > 31)
		return -1;
	tm.tm_year = y - 1900;
	tm.tm_mon = m - 1;
	tm.tm_mday = d + 1;
	return (long long)timegm(&tm);
}
