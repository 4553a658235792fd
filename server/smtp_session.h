/*
 * smtp_session.h - one SMTP connection (RFC 5321) on the server's reactor:
 * the session (greeting, authentication, TLS) and its current transaction
 * (envelope, recipients, the message being read), one verb table, one reply
 * function. It shares with the JSON connections the memory budget, the
 * connection count, the accounts, the store pool and the login throttling.
 */
#ifndef GLOMAILD_SMTP_SESSION_H
#define GLOMAILD_SMTP_SESSION_H

#include <sys/socket.h>

#include <stddef.h>

#include <event2/util.h>

struct conn_env;
struct server;
struct smtp_session;
struct ssl_st;

/* Which listener a session came from decides its policy. */
enum smtp_kind {
	SMTP_KIND_SMTP,        /* local delivery: no AUTH, local rcpts only */
	SMTP_KIND_SUBMISSION,  /* STARTTLS, then AUTH before MAIL (RFC 6409) */
	SMTP_KIND_SUBMISSIONS, /* the same under implicit TLS (RFC 8314) */
};

#define SMTP_RCPT_MAX 100 /* per transaction; the 101st gets 452 */
#define SMTP_ERRORS_MAX \
	10 /* bad commands (not refused recipients), \
	      then 421 and close */

/* The session ended; link is what its owner gave smtp_session_new. */
typedef void (*smtp_gone_fn)(struct server *srv, void *link);

/*
 * Take an accepted socket: send the banner and serve it. env is the
 * connections' shared budget (conn.h); ssl, when not NULL, is taken: the
 * session speaks TLS from the first byte (submissions). NULL on failure
 * (socket and ssl freed).
 */
struct smtp_session *smtp_session_new(struct server *srv, struct conn_env *env,
    enum smtp_kind kind, unsigned long long id, evutil_socket_t fd,
    const struct sockaddr *sa, int salen, struct ssl_st *ssl, smtp_gone_fn gone,
    void *link);

/* Close now (the transaction is rolled back). */
void smtp_session_close(struct smtp_session *s, const char *reason);

/*
 * The server stops: an idle session gets 421 and closes once it is
 * written; one committing a message answers it first.
 */
void smtp_session_shutdown(struct smtp_session *s);

/* The listener's name, for logs ("smtp", "submission", "submissions"). */
const char *smtp_kind_name(enum smtp_kind kind);

#endif
