/*
 * session.h - one connection to a server and the request/reply exchange
 * on it, plus the exit codes that say how a run ended.
 *
 * A session that loses its server prints why on stderr once and stays
 * dead: every later call fails at once, so callers just unwind.
 */
#ifndef GLOMAIL_SESSION_H
#define GLOMAIL_SESSION_H

#include <signal.h>
#include <stddef.h>
#include <stdio.h>

#include <jansson.h>

#include "msg.h"
#include "wire.h"

/* Exit codes of glomail, for interactive use and commands alike. */
enum {
	SESSION_EXIT_OK = 0,      /* done */
	SESSION_EXIT_REFUSED = 1, /* the server answered ERROR */
	SESSION_EXIT_FAILED = 2,  /* usage, connection or local error */
};

struct session;

/*
 * Connect to host:port; replies are awaited at most timeout seconds
 * (0: forever). Then ask the server what it is (CAPABILITIES); a seed
 * server answers ERROR and the session assumes the seed's ten messages,
 * domain and limits. Returns 0, or -1 after printing why on stderr.
 */
int session_open(const char *host, const char *port, const struct wire_tls *tls,
    int timeout, struct session **session_r);

/* Say BYE (when still connected), close and free. */
void session_close(struct session *s);

/*
 * Send one request and read its reply. payload is stolen (NULL: none).
 * Returns the reply's header (PROTO_OK, PROTO_ERROR, ...) and the reply
 * in *reply_r (free with msg_free), or -1 when the request could not be
 * built or the server is gone (message printed; see session_lost()).
 */
int session_request(struct session *s, int header, json_t *payload,
    struct msg **reply_r);

/* Send a message that has no reply (AUTH_LOGOUT). Returns 0 or -1. */
int session_notify(struct session *s, int header);

/*
 * Where to say "please wait" when a reply is slow (a server delaying a
 * login after failures); NULL, the default, says nothing.
 */
void session_set_notice(struct session *s, FILE *out);

/* What the server said of itself, or the seed's values. */
const char *session_domain(const struct session *s);
size_t session_max_frame(const struct session *s);   /* request body */
size_t session_max_subject(const struct session *s); /* code points */
size_t session_max_recipients(const struct session *s);
/* Addresses per EMAIL_SENDING_MANY; 0 when the server has no send-many. */
size_t session_max_recipients_many(const struct session *s);
/* 1 when the server answered CAPABILITIES (not a seed server). */
int session_extended(const struct session *s);
/* 1 when the server listed the extension name. */
int session_has(const struct session *s, const char *name);

/*
 * New-mail notices (NEW_MAIL, after NOTICES_SUBSCRIBE) that arrived while
 * a reply was awaited are kept, the latest 64: the oldest one, or NULL
 * (free it with msg_free).
 */
struct msg *session_notice_take(struct session *s);

/*
 * Wait up to timeout_ms (-1: forever) for a notice, with the signal mask
 * mask (NULL: unchanged) while waiting, as ppoll(2) does. Other frames are
 * dropped. Returns 1 with *notice_r set, 0 when the time ran out or a
 * signal came, -1 when the connection is lost (message printed).
 */
int session_notice_wait(struct session *s, int timeout_ms, const sigset_t *mask,
    struct msg **notice_r);

/* 1 once the connection has failed. */
int session_lost(const struct session *s);

/*
 * The error text of an ERROR reply, translated when the catalogue knows
 * it; a placeholder when the server sent none.
 */
const char *session_error_text(const struct msg *reply);

#endif
