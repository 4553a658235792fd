/*
 * ctl.h - glomaild's control channel, as its handlers (server/ctl_*.c) see
 * it: one administrator's connection on the control socket, its replies,
 * work handed to a pool, and the log line every change leaves.
 *
 * A control connection runs one request at a time: the next frame is not
 * read until the current request has replied, so a handler that hands work
 * to a pool keeps the order of replies without further care.
 */
#ifndef GLOMAILD_CTL_H
#define GLOMAILD_CTL_H

#include <sys/types.h>

#include <time.h>

#include <jansson.h>

#include "pool.h"

struct ctl;
struct ctl_conn;
struct server;

/*
 * One handler per administration row of proto/messages.def: ctl_do_<stem>.
 * payload is the request's object (borrowed for the call; NULL when absent).
 */
#define CTL_DECL_ANY(stem)
#define CTL_DECL_ANON(stem)
#define CTL_DECL_AUTH(stem)
#define CTL_DECL_AUTH_QUIET(stem)
#define CTL_DECL_CTL(stem) \
	void ctl_do_##stem(struct ctl_conn *cc, json_t *payload);
#define GLO_MSG(name, num, stem, dir, gate, shape) CTL_DECL_##gate(stem)
#include "messages.def"
#undef GLO_MSG

/*
 * Open the control socket (the control-socket setting, else the runtime
 * directory's default; none at all when neither is known, which is logged)
 * and serve it on srv's reactor. NULL on failure (logged).
 */
struct ctl *ctl_new(struct server *srv);

/* Close the socket, remove its file, close the connections. */
void ctl_free(struct ctl *ctl);

struct server *ctl_server(const struct ctl_conn *cc);
struct ctl *ctl_of(const struct ctl_conn *cc);
uid_t ctl_peer_uid(const struct ctl_conn *cc);
/* The socket path served, or "" when there is none. */
const char *ctl_path(const struct ctl *ctl);
/* Control connections open now, and when the server started. */
unsigned ctl_nconns(const struct ctl *ctl);
time_t ctl_started(const struct ctl *ctl);

/* Reply OK with payload (stolen; NULL: an empty object) / ERROR. */
void ctl_reply(struct ctl_conn *cc, json_t *payload);
void ctl_reply_error(struct ctl_conn *cc, const char *text);

/*
 * Run work on pool, then done on the reactor; the connection stays valid
 * until ctl_release(cc), which done must call once it has replied. Returns
 * 0, or -1 after replying "server busy" (done will not run).
 */
int ctl_submit(struct ctl_conn *cc, struct pool *pool, pool_fn work,
    pool_fn done, void *arg);
void ctl_release(struct ctl_conn *cc);

/* An administrator's change, in the log with their uid. */
void ctl_log_change(const struct ctl_conn *cc, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));

/*
 * Payload fields, for handlers: a string (required, or optional: NULL when
 * absent), a bool (absent: 0) and a non-negative integer. 0, or -1 after
 * replying ERROR naming the field.
 */
int ctl_arg_string(struct ctl_conn *cc, json_t *payload, const char *key,
    int optional, const char **value_r);
int ctl_arg_bool(struct ctl_conn *cc, json_t *payload, const char *key,
    int *value_r);
int ctl_arg_count(struct ctl_conn *cc, json_t *payload, const char *key,
    long long *value_r);

#endif
