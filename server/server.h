/*
 * server.h - the one server context: reactor, listeners, worker pools, the
 * registry of loaded mailboxes, the connections and their counts. Passed to
 * every module instead of globals, so tests can build one per test; opaque
 * outside server.c (accessors below). Also owns the process's life under a
 * service manager: sockets passed at start, readiness and status
 * notifications, SIGHUP reload and the graceful stop.
 */
#ifndef GLOMAILD_SERVER_H
#define GLOMAILD_SERVER_H

#include <sys/socket.h>

#include <event2/event.h>
#include <event2/listener.h>

#include "config.h"

struct aliases;
struct conn;
struct notify;
struct tls;
struct mailboxes;
struct penalty;
struct pool;
struct server;

/*
 * Read the settings again and apply what may change to the configuration
 * the server runs with (config_reload). Runs on the reactor thread on
 * SIGHUP. Returns 0, or -1 when the settings could not be read (logged).
 */
typedef int (*server_reload_fn)(void *arg);

/* Prepare the store and the reactor. NULL on failure (logged). */
struct server *server_new(const struct config *cfg);

/*
 * Take the listening sockets passed by the service manager (socket
 * activation) or, when there are none, bind every listen address; log each
 * one. 0 or -1.
 */
int server_listen(struct server *srv);

/* SIGHUP calls fn(arg); without it SIGHUP only says there is nothing to do. */
void server_on_reload(struct server *srv, server_reload_fn fn, void *arg);

/*
 * Run until SIGINT/SIGTERM and a graceful drain; tells the service manager
 * READY=1 first. 0 or -1.
 */
int server_run(struct server *srv);

void server_free(struct server *srv);

/*
 * Take an accepted socket as a new connection of this server (what the
 * listeners do; tests use it on one end of a socketpair). NULL on failure
 * (the socket is closed).
 */
struct conn *server_conn_add(struct server *srv, evutil_socket_t fd,
    const struct sockaddr *sa, int salen);

/* What the rest of the server uses of it (borrowed). */
const struct config *server_cfg(const struct server *srv);
struct event_base *server_base(const struct server *srv);
struct pool *server_auth_pool(const struct server *srv);  /* hashing */
struct pool *server_store_pool(const struct server *srv); /* disk work */
struct mailboxes *server_mailboxes(const struct server *srv);
struct penalty *server_penalty(const struct server *srv); /* logins */

/* One more message stored (the count the service manager shows). */
void server_count_delivery(struct server *srv);

/* One password check of a login ended: ok, or refused (for status). */
void server_count_login(struct server *srv, int ok);

/*
 * The data directory's descriptor, open for the server's life: the store
 * opens everything relative to it (maildir_open, users_*), never by path.
 */
int server_data_fd(const struct server *srv);

/* 1 when other instances held the store at start-up (cluster.c). */
int server_store_shared(const struct server *srv);

/* The TLS context (for STARTTLS and the TLS listeners), NULL without TLS. */
struct tls *server_tls(const struct server *srv);
/* The watches of new/ for notices; NULL without inotify. */
struct notify *server_notify(const struct server *srv);

/* Read the settings again, as SIGHUP does. 0, or -1 (the old ones kept). */
int server_reload(struct server *srv);

/* For glomailctl status (reactor thread). */
unsigned server_nconns(const struct server *srv);
unsigned server_logged_in(const struct server *srv);
/* The live connections by state. */
struct server_conn_states {
	unsigned handshake;       /* the protocol under TLS, not yet up */
	unsigned unauthenticated; /* the protocol, before login */
	unsigned authenticated;   /* the protocol, logged in */
	unsigned smtp;            /* SMTP sessions, whatever their stage */
};
void server_conn_states(const struct server *srv,
    struct server_conn_states *st);
unsigned long long server_delivered(const struct server *srv);
/* Logins since start: those that got in, and those refused. */
void server_logins(const struct server *srv, unsigned long long *ok_r,
    unsigned long long *failed_r);
int server_stopping(const struct server *srv);
size_t server_nlisteners(const struct server *srv);
int server_listener_fd(const struct server *srv, size_t i);

/*
 * Close every connection logged in as user (an administrator removed,
 * renamed or locked the account); returns how many.
 */
unsigned server_close_user(struct server *srv, const char *user,
    const char *reason);

/*
 * The aliases table in force (borrowed; NULL: none), and its replacement
 * (taken; the old one is freed). Reactor thread only.
 */
const struct aliases *server_aliases(const struct server *srv);
void server_set_aliases(struct server *srv, struct aliases *a);

/* The aliases file's path, for glomailctl's edits ("": none known). */
void server_set_aliases_file(struct server *srv, const char *path);
const char *server_aliases_file(const struct server *srv);

#endif
