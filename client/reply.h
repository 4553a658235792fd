/*
 * reply.h - replies and forwards: the original fetched by its number in
 * the list (its read reply, and with the "threading" extension its
 * Message-ID, To, Cc and References), then the new message's subject
 * (one "Re: " or "Fwd: ", never stacked), recipients, threading headers
 * (RFC 5322 section 3.6.4) and body. The sending itself is compose.c's.
 */
#ifndef GLOMAIL_REPLY_H
#define GLOMAIL_REPLY_H

#include <stddef.h>

#include "compose.h"
#include "msg.h"

struct session;

/* Recipients one reply may gather from the original's To and Cc. */
#define REPLY_RCPT_MAX 100

/* The original message. */
struct reply_orig {
	struct msg *list, *read, *heads;               /* the replies, owned */
	struct msg_email email;                        /* borrowed from read */
	const char *message_id, *to, *cc, *references; /* "" when unknown */
};

/*
 * List the mailbox, then read message n and (when the server can) its
 * headers. Returns PROTO_OK, PROTO_ERROR with *err_r the ERROR reply
 * (free it), or -1 (message printed). reply_orig_clear in every case.
 */
int reply_fetch(struct session *s, long long n, struct reply_orig *o,
    struct msg **err_r);

void reply_orig_clear(struct reply_orig *o);

/*
 * subject with prefix ("Re: " or "Fwd: ") once: prefixes of the same kind
 * already there ("Re:", "RE :", "Fwd:", "Fw:") are taken off first. Cut
 * to max bytes on a character boundary. out has room for max + 1.
 */
void reply_subject(const char *subject, int forward, size_t max, char *out);

/*
 * The recipients of a reply: the original's sender, and with all every
 * other address of its To and Cc, each once (case-insensitive) and never
 * self. Addresses go into out (at most max); returns the count.
 */
size_t reply_recipients(const struct reply_orig *o, int all, const char *self,
    char out[][COMPOSE_ADDR_MAX + 1], size_t max);

/* Longest References a reply writes (RFC 5322's 998-character line). */
#define REPLY_REFERENCES_MAX 900

/* In-Reply-To for a reply: the original's Message-ID when it is a valid
 * one, else NULL (borrowed from o). */
const char *reply_in_reply_to(const struct reply_orig *o);

/*
 * References for the reply: the original's (valid ids only, the first and
 * the latest that fit in REPLY_REFERENCES_MAX), then its Message-ID; NULL
 * when it has no valid one (free it).
 */
char *reply_references(const struct reply_orig *o);

/*
 * The body: what was typed, then the original quoted ("> ") for a reply,
 * or its headers and body for a forward. NULL without memory.
 */
char *reply_body(const struct reply_orig *o, int forward, const char *typed);

/* YYYY-MM-DD: the end of that day, UTC, in seconds since 1970; -1 if it
 * is no such date. */
long long reply_date_end(const char *s);

#endif
