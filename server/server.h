/*
 * server.h - the one server context: reactor, listeners, worker pools, the
 * registry of loaded mailboxes and the connection count. Passed to every
 * module instead of globals, so tests can build one per test. Also owns the
 * process's life under a service manager: sockets passed at start, readiness
 * and status notifications, SIGHUP reload and the graceful stop.
 */
#ifndef GLOMAILD_SERVER_H
#define GLOMAILD_SERVER_H

#include <event2/event.h>
#include <event2/listener.h>

#include "config.h"

struct conn;

/*
 * Read the settings again and apply what may change to the configuration
 * the server runs with (config_reload). Runs on the reactor thread on
 * SIGHUP. Returns 0, or -1 when the settings could not be read (logged).
 */
typedef int (*server_reload_fn)(void *arg);

struct server {
	const struct config *cfg;
	struct event_base *base;
	struct evconnlistener *listeners[CONFIG_LISTEN_MAX];
	size_t nlisteners;
	struct event *signals[3];
	struct event *accept_retry; /* re-enables accepting after EMFILE */
	struct event *drain_timer;  /* polls for the end of a graceful stop */
	struct event *status_timer; /* refreshes the service manager's STATUS */
	unsigned status_conns;      /* the counts STATUS last showed */
	unsigned long long status_delivered;
	server_reload_fn reload;
	void *reload_arg;
	struct pool *auth_pool;     /* password hashing */
	struct pool *store_pool;    /* disk: delivery, reads, scans */
	struct mailboxes *mailboxes;
	struct penalty *penalty;    /* failed-login throttling */
	struct conn *conns;         /* every live connection */
	unsigned nconns;
	int accepting;
	int stopping;
	int lock_fd;
	int data_fd;                /* the data directory: the store's root */
	struct timeval stop_started;
	unsigned long long next_conn_id;
	unsigned long long delivered;
};

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

/* A connection went away: accepting may resume. */
void server_conn_gone(struct server *srv);

/*
 * The data directory's descriptor, open for the server's life: the store
 * opens everything relative to it (maildir_open, users_*), never by path.
 */
int server_data_fd(const struct server *srv);

#endif
