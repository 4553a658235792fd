/*
 * msg.h - the message codec: one frame body <-> {"header": n, "payload":
 * {...}}.
 *
 * Parsing is strict about shape (header an integer, payload absent, null or
 * an object, no duplicate keys, valid UTF-8) and lenient where seed peers
 * differ (key order, whitespace, escapes, "choice" as a numeric string).
 * Encoding writes what the seed's Python peers write, byte for byte:
 * ", " and ": " separators, ASCII only, lower-case \u escapes.
 *
 * Ownership follows jansson: strings handed out by msg_unpack() are borrowed
 * from the message and live until msg_free(); payloads given to the encoder
 * are stolen.
 */
#ifndef GLOMAIL_MSG_H
#define GLOMAIL_MSG_H

#include <stddef.h>

#include <jansson.h>

#include "proto.h"

struct msg;

struct msg_credentials {
	const char *username;
	const char *password;
};

/* sender and date may be NULL in a request: the server sets both itself. */
struct msg_email {
	const char *sender;
	const char *destination;
	const char *subject;
	const char *date;
	const char *content;
};

/* The lists are borrowed from root, the request's payload. */
struct msg_email_many {
	json_t *root;
	json_t *to; /* array of strings */
	json_t *cc; /* array of strings, or NULL */
	const char *subject;
	const char *content;
	const char *in_reply_to; /* NULL when absent ("threading") */
	const char *references;
};

/*
 * An EMAIL request's optional threading headers (extension "threading"),
 * beside the email it starts with: msg_unpack fills both, msg_email_new
 * leaves them out.
 */
struct msg_email_thread {
	struct msg_email email;
	const char *in_reply_to; /* NULL when absent */
	const char *references;
};

struct msg_stats {
	long long count;
	long long size;
};

/* The mailbox extension's list and search (absent strings are NULL). */
#define MSG_IDS_MAX 1000    /* ids in one delete or flag change */
#define MSG_LIMIT_MAX 10000 /* entries in one page */
#define MSG_OFFSET_MAX 1000000000LL
#define MSG_FLAG_SEEN 0x1
#define MSG_FLAG_FLAGGED 0x2

struct msg_mb_query {
	int unread;       /* only messages not seen */
	long long offset; /* entries skipped, 0 by default */
	long long limit;  /* entries at most; 0: all */
	const char *from, *to, *subject, *body, *text;
	const char *since, *before; /* "YYYY-MM-DD", UTC */
};

struct msg_mb_ids {
	const char *id;       /* PROTO_SHAPE_MB_ID */
	json_t *ids;          /* array of strings, borrowed */
	unsigned add, remove; /* MSG_FLAG_* */
};

struct msg_passwords {
	const char *password;
	const char *new_password;
};

struct msg_notice {
	const char *id;
	const char *sender;
	const char *subject;
};

/* An automatic reply turned on (subject and text set) or off. */
struct msg_vacation {
	int on;
	const char *subject; /* NULL unless on */
	const char *text;    /* NULL unless on */
	long long until;     /* end, seconds since the epoch; 0: none */
};

union msg_args {
	const char *error_message;          /* PROTO_SHAPE_ERROR */
	struct msg_credentials credentials; /* PROTO_SHAPE_CREDENTIALS */
	long long choice;                   /* PROTO_SHAPE_CHOICE */
	struct msg_email email;             /* PROTO_SHAPE_EMAIL */
	json_t *email_list;               /* PROTO_SHAPE_EMAIL_LIST, borrowed */
	struct msg_stats stats;           /* PROTO_SHAPE_STATS */
	struct msg_email_many email_many; /* PROTO_SHAPE_EMAIL_MANY */
	struct msg_mb_query query;        /* PROTO_SHAPE_MB_LIST, _SEARCH */
	struct msg_mb_ids ids;            /* PROTO_SHAPE_MB_ID, _IDS, _FLAGS */
	struct msg_passwords passwords;   /* PROTO_SHAPE_PASSWORDS */
	struct msg_notice notice;         /* PROTO_SHAPE_NOTICE */
	struct msg_email_thread email_thread; /* PROTO_SHAPE_EMAIL too */
	struct msg_vacation vacation;         /* PROTO_SHAPE_VACATION */
};

/*
 * Parse one frame body. Returns 0 and a new message, or -1 with *why_r set
 * to a short stable reason that may be shown to the peer.
 */
int msg_parse(const void *body, size_t len, struct msg **msg_r,
    const char **why_r);

void msg_free(struct msg *msg);

long long msg_header(const struct msg *msg);

/* The payload object (borrowed), or NULL when absent or null. */
json_t *msg_payload(const struct msg *msg);

/*
 * Check the payload against a shape and extract its fields into *args_r.
 * Returns 0, or -1 with *why_r a short stable reason.
 */
int msg_unpack(const struct msg *msg, enum proto_shape shape,
    union msg_args *args_r, const char **why_r);

/*
 * Encode {"header": header, "payload": payload} as a whole frame (length
 * prefix included) in a new malloc'd buffer. payload is stolen; NULL writes
 * no payload key, as seed peers do for bare OK and requests without data.
 * Returns 0, or -1 when the frame would exceed max or memory runs out.
 */
int msg_encode(int header, json_t *payload, size_t max, unsigned char **frame_r,
    size_t *frame_len_r);

/* Payload builders (new references; NULL on allocation or UTF-8 failure). */
json_t *msg_error_new(const char *text);
json_t *msg_credentials_new(const char *username, const char *password);
json_t *msg_choice_new(long long choice);
json_t *msg_email_new(const struct msg_email *email);
json_t *msg_stats_new(long long count, long long size);

#endif
