/*
 * message.h - one mail as an RFC 5322 file: built from its fields,
 * and parsed back (headers unfolded, RFC 2047 subjects decoded) from what
 * glomaild or any other Maildir writer left in the store.
 */
#ifndef GLOMAILD_MESSAGE_H
#define GLOMAILD_MESSAGE_H

#include <stddef.h>
#include <time.h>

/*
 * What a list line and a read reply need of a stored message. The four
 * header fields come sanitized (see message_parse): no control character.
 */
struct message_info {
	char *from;    /* address in From:, or "" */
	char *to;      /* address in To:, or "" */
	char *subject; /* decoded to UTF-8, or "" */
	char *date;    /* the Date: header as written, or "" */
	time_t when;   /* Date: parsed, or -1 */
	char *body;    /* only when asked for: UTF-8, after the blank line */
	char *cc;      /* Cc: as written (decoded), or "" */
};

/*
 * Build the file: From, To, Subject, Date, Message-ID, MIME headers, a
 * blank line and the body as given. The subject is written as RFC 2047
 * encoded-words unless it is short printable ASCII that reads back as is,
 * so message_parse (and any RFC 2047 reader) gives back exactly subject.
 * Returns a malloc'd buffer and its length, or NULL.
 */
char *message_build(const char *from, const char *to, const char *subject,
    const char *date, const char *message_id, const char *body, size_t *len_r);

/*
 * The fields of a message glomaild writes itself (notices, warnings,
 * automatic replies) or that a sender adds: NULL fields are left out.
 */
struct message_head {
	const char *from, *to, *cc, *subject, *date, *message_id;
	const char *in_reply_to;    /* one message id, as message_id_valid */
	const char *references;     /* message ids separated by spaces */
	const char *auto_submitted; /* RFC 3834: "auto-replied"... */
	const char *content_type;   /* NULL: text/plain; charset=utf-8 */
};

/* message_build with the optional headers of h; same result otherwise. */
char *message_build_head(const struct message_head *h, const char *body,
    size_t *len_r);

/*
 * 0 when s is one RFC 5322 msg-id, "<left@right>": printable ASCII, no
 * blank, no '<' or '>' inside, at most 250 bytes; else -1. With list,
 * several separated by single spaces (a References value).
 */
int message_id_valid(const char *s, int list);

/*
 * The first header field called name (case-insensitive) of a stored file,
 * unfolded, without the blanks around it: a malloc'd string, or NULL when
 * there is none (or no memory).
 */
char *message_header(const char *buf, size_t len, const char *name);

/*
 * Parse a stored file (with_body: also copy the body out), whoever wrote
 * it. Header fields are unfolded and decoded, then sanitized: TAB becomes
 * a space; any other C0 control, DEL, C1 control (U+0080 to U+009F) or
 * invalid UTF-8 becomes U+FFFD; each is cut to RULES_SUBJECT_MAX bytes.
 * So no field holds a control character, whatever is on disk. The body is
 * kept byte for byte but for invalid UTF-8 and NUL (U+FFFD), so it can go
 * into JSON. Returns 0 or -1 (no memory).
 */
int message_parse(const char *buf, size_t len, int with_body,
    struct message_info *info_r);

void message_info_clear(struct message_info *info);

/* Parse "Tue, 12 Jul 2022 19:21:57 +0000" (day name optional); -1 if not. */
time_t message_parse_date(const char *s);

#endif
