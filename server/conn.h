/*
 * conn.h - one client connection: its bufferevent, the incremental frame
 * decoder, the bounds on what it may make the server hold, timeouts and its
 * lifecycle (one state variable, one close).
 *
 * A connection may be held by work running on a pool (conn_hold): while held
 * no further request is taken from it, so replies stay in request order, and
 * its memory outlives a close until the work is done (conn_release or
 * conn_release_error, which reply first).
 *
 * The connection layer knows neither the server nor the protocol's handlers:
 * whoever accepts a connection gives it a shared environment (conn_env: the
 * reactor, the settings, the memory all connections hold, who to tell when
 * one goes) and the function that runs each whole request frame.
 */
#ifndef GLOMAILD_CONN_H
#define GLOMAILD_CONN_H

#include <sys/socket.h>

#include <stddef.h>

#include <event2/event.h>
#include <event2/util.h>
#include <jansson.h>

struct config;
struct conn;
struct ssl_st;
struct conn_env;
struct tls_sched;
struct mailbox;
struct server;
struct session;

/*
 * Before login a request is a register or a login: a few hundred bytes. A
 * longer frame before login gets ERROR "frame too large" and a close, so an
 * anonymous peer holds at most this much input.
 */
#define CONN_ANON_FRAME_MAX ((size_t)8192)

/* Runs one whole request frame (the body, without its length prefix). */
typedef void (*conn_dispatch_fn)(struct conn *c, const void *body, size_t len);

/* A connection closed; link is what its owner gave conn_new. */
typedef void (*conn_gone_fn)(struct server *srv, void *link);

/*
 * What the connections of one server share; it must outlive them. srv is
 * only handed back (conn_server, gone), never looked into; handshakes
 * schedules TLS handshakes on base. NULL on failure.
 */
struct conn_env *conn_env_new(struct server *srv, struct event_base *base,
    struct tls_sched *handshakes, const struct config *cfg, conn_gone_fn gone);
void conn_env_free(struct conn_env *env);
/* The TLS handshakes' schedule, for SMTP sessions too. */
struct tls_sched *conn_env_handshakes(const struct conn_env *env);

/* Bytes of input and output all connections hold now (max-memory's sum). */
size_t conn_env_held(const struct conn_env *env);

/*
 * Sessions of another protocol on the same budget (SMTP) count the bytes
 * they take (added) and give back (removed) here.
 */
void conn_env_charge(struct conn_env *env, size_t added, size_t removed);

/*
 * Take an accepted socket; every whole request goes to dispatch. With ssl
 * (taken: freed with the connection), the connection speaks TLS from its
 * first byte, the handshake driven by the same timeouts as requests. NULL
 * on failure (the socket and ssl are freed).
 */
struct conn *conn_new(struct conn_env *env, unsigned long long id,
    evutil_socket_t fd, const struct sockaddr *sa, int salen,
    struct ssl_st *ssl, conn_dispatch_fn dispatch, void *link);

unsigned long long conn_id(const struct conn *c);
struct server *conn_server(const struct conn *c);
struct session *conn_session(struct conn *c);
const char *conn_peer(const struct conn *c);
/* The peer's address alone ("127.0.0.1", "::1"): what penalties count. */
const char *conn_addr(const struct conn *c);
int conn_alive(const struct conn *c);
/* The peer's address as accepted (for the access policies). */
const struct sockaddr *conn_sockaddr(const struct conn *c);
/* 1 when the connection is under TLS. */
int conn_tls(const struct conn *c);
/* 1 while its TLS handshake is not done (for glomailctl status). */
int conn_handshaking(const struct conn *c);

/*
 * Queue a reply (payload stolen; NULL: none). A reply over 8 KiB that would
 * take this client's queued output over max-output gets ERROR "reply too
 * large" instead, and one that would take every connection's memory over
 * max-memory gets ERROR "server busy, try again later".
 */
void conn_reply(struct conn *c, int header, json_t *payload);
void conn_reply_error(struct conn *c, const char *text);
/* Queue an already encoded frame (copied), within the same bounds. 0 or -1
 * (refused: an ERROR went instead, or the connection is closed). */
int conn_send_frame(struct conn *c, const unsigned char *frame, size_t len);

/*
 * Queue an unsolicited notice frame (copied) after whatever is queued, so
 * never inside a reply; or drop it, whatever its size, when it would take
 * this client's queued output past max-output or every connection's memory
 * past max-memory (a client that does not read loses notices, not server
 * memory), or when the connection is closing. 0, or -1 (dropped).
 */
int conn_notice(struct conn *c, const unsigned char *frame, size_t len);

/*
 * Log the session in as user with its mailbox (the reference is taken), or
 * out: the session is the one record of who is logged in; the timeouts and
 * the size of a request change with it.
 */
void conn_login(struct conn *c, const char *user, struct mailbox *mb);
void conn_logout(struct conn *c);

/* Stop reading; close once every queued reply is written. */
void conn_close_after_reply(struct conn *c);

/* Close now. Memory goes when the last hold is released. */
void conn_close(struct conn *c, const char *reason);

/*
 * Pause request processing while one request's work is on a pool, and
 * resume it. Holds nest (a request's work may take several steps): the
 * next request is taken when the last one is released. conn_release_error
 * queues the reply first and then releases: a release may start on the client's
 * next request, or free a closed connection, so nothing may touch c after it.
 */
void conn_hold(struct conn *c);
void conn_release(struct conn *c);
void conn_release_error(struct conn *c, const char *text);

/* The configuration was reloaded: apply its limits to this connection. */
void conn_limits_changed(struct conn *c);

#endif
