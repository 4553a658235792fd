/*
 * compose.h - sending a message, the one path the menus and the send
 * command share: the recipient completed and checked against the
 * server's domain, the subject checked, both before the body is asked
 * for; then the EMAIL_SENDING request with the sender at that domain.
 */
#ifndef GLOMAIL_COMPOSE_H
#define GLOMAIL_COMPOSE_H

#include <stddef.h>

#include "rules.h"

struct msg;
struct session;

/* Room for user@domain. */
#define COMPOSE_ADDR_MAX (RULES_USERNAME_MAX + 1 + 253)

/* Room for a reason, the domain included. */
#define COMPOSE_WHY_MAX 512

/*
 * Check a recipient as typed. Surrounding blanks are dropped and a bare
 * user name ("bob") is completed with the server's domain. Returns 0 with
 * the address in addr_r, or -1 with a translated reason in why (an
 * address outside the domain names the domain).
 */
int compose_recipient(const struct session *s, const char *typed,
    char addr_r[COMPOSE_ADDR_MAX + 1], char *why, size_t whylen);

/*
 * A recipient as typed, blanks dropped and a bare user name completed
 * with the server's domain, not otherwise checked: with EMAIL_SENDING_MANY
 * the server judges each address and says what became of it. Returns 0,
 * or -1 when it is empty or too long.
 */
int compose_complete(const struct session *s, const char *typed,
    char addr_r[COMPOSE_ADDR_MAX + 1]);

/*
 * One message to the to and cc lists (EMAIL_SENDING_MANY, extension
 * "send-many"), with a reply's threading headers (NULL: none; sent only to
 * a server with "threading"). Returns as compose_send.
 */
int compose_send_many(struct session *s, const char *const *to, size_t nto,
    const char *const *cc, size_t ncc, const char *subject, const char *body,
    const char *in_reply_to, const char *references, struct msg **reply_r);

/*
 * Check a subject: valid UTF-8, no control character, at most the
 * server's limit. Returns 0, or -1 with a translated reason in why.
 */
int compose_subject(const struct session *s, const char *subject, char *why,
    size_t whylen);

/*
 * Send body from user to addr (checked above). Returns what
 * session_request returns: PROTO_OK or PROTO_ERROR with *reply_r set, or
 * -1 (message printed; a UTF-8 failure does not lose the session).
 */
int compose_send(struct session *s, const char *user, const char *addr,
    const char *subject, const char *body, struct msg **reply_r);

/*
 * The same with the threading headers of a reply (NULL: none), sent only
 * to a server with the "threading" extension.
 */
int compose_send_thread(struct session *s, const char *user, const char *addr,
    const char *subject, const char *body, const char *in_reply_to,
    const char *references, struct msg **reply_r);

#endif
