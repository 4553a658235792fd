/*
 * conn.h - one client connection: its bufferevent, the incremental frame
 * decoder, output bounds, timeouts and its lifecycle.
 *
 * A connection may be held by work running on a pool (conn_hold): while held
 * no further request is taken from it, so replies stay in request order, and
 * its memory outlives a close until the work is done (conn_release).
 */
#ifndef GLOMAILD_CONN_H
#define GLOMAILD_CONN_H

#include <sys/socket.h>

#include <stddef.h>

#include <event2/util.h>
#include <jansson.h>

struct conn;
struct server;
struct session;

/* Take an accepted socket. NULL on failure (the socket is closed). */
struct conn *conn_new(struct server *srv, evutil_socket_t fd,
    const struct sockaddr *sa, int salen);

unsigned long long conn_id(const struct conn *c);
struct server *conn_server(const struct conn *c);
struct session *conn_session(struct conn *c);
const char *conn_peer(const struct conn *c);
/* The peer's address alone ("127.0.0.1", "::1"): what penalties count. */
const char *conn_addr(const struct conn *c);
int conn_alive(const struct conn *c);

/* Queue a reply (payload stolen; NULL: none). */
void conn_reply(struct conn *c, int header, json_t *payload);
void conn_reply_error(struct conn *c, const char *text);
/* Queue an already encoded frame (copied). */
void conn_send_frame(struct conn *c, const unsigned char *frame, size_t len);

/* Login state changed: the idle timeout changes with it. */
void conn_set_authenticated(struct conn *c, int authenticated);

/* Stop reading; close once every queued reply is written. */
void conn_close_after_reply(struct conn *c);

/* Close now. Memory goes when the last hold is released. */
void conn_close(struct conn *c, const char *reason);

/* Pause request processing for work in flight / resume it. */
void conn_hold(struct conn *c);
void conn_release(struct conn *c);

/* Graceful stop: every connection finishes what it has and closes. */
void conn_close_all(struct server *srv, int now);

/* Close every connection logged in as user (an administrator removed,
 * renamed or locked the account); returns how many. */
unsigned conn_close_user(struct server *srv, const char *user,
    const char *reason);

/* How many connections are logged in (for glomailctl status). */
unsigned conn_count_authenticated(const struct server *srv);

/* The configuration was reloaded: apply its limits to open connections. */
void conn_limits_changed(struct server *srv);

#endif
