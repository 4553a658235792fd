/*
 * ctl_listen.c - the control socket: a Unix stream listener whose peers the
 * kernel names (SO_PEERCRED), the same framing and codec as the protocol,
 * and a gate that takes the administration rows of proto/messages.def and
 * nothing else.
 *
 * Who may talk: root, the server's own user, and members of control-group.
 * The socket's mode (0600, 0660 with a group) keeps the others from
 * connecting at all; the credential check stays the authority, since a
 * mode can be changed by mistake.
 */
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>

#include <errno.h>
#include <grp.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <event2/buffer.h>
#include <event2/bufferevent.h>
#include <event2/listener.h>

#include "ctl.h"
#include "frame.h"
#include "log.h"
#include "msg.h"
#include "proto.h"
#include "server.h"

/*
 * A peer that stops reading its replies is cut after this long. There is
 * no read timeout: the peers are local and few, and an import may keep one
 * waiting for its reply far longer.
 */
#define CTL_WRITE_SEC 600
/* More peers than this at once is a script gone wrong. */
#define CTL_CONNS_MAX 64
#define CTL_GROUPS_MAX 256

typedef void (*ctl_handler)(struct ctl_conn *, json_t *);

#define CTL_ROW_ANY(stem) NULL
#define CTL_ROW_ANON(stem) NULL
#define CTL_ROW_AUTH(stem) NULL
#define CTL_ROW_AUTH_QUIET(stem) NULL
#define CTL_ROW_CTL(stem) ctl_do_##stem

/* Indexed by header number: the administration rows alone. */
static const ctl_handler ctl_handlers[] = {
#define GLO_MSG(name, num, stem, dir, gate, shape) \
	[num] = CTL_ROW_##gate(stem),
#include "messages.def"
#undef GLO_MSG
};

struct ctl {
	struct server *srv;
	struct evconnlistener *listener;
	struct ctl_conn *conns;
	unsigned nconns;
	char path[sizeof(((struct sockaddr_un *)0)->sun_path)];
	int have_group;
	gid_t group;
	time_t started;
	unsigned long long next_id;
};

struct ctl_conn {
	struct ctl *ctl;
	struct server *srv;
	struct bufferevent *bev;
	struct ctl_conn *prev, *next;
	unsigned long long id;
	uid_t uid;
	pid_t pid;
	unsigned refs;   /* 1 while open + 1 per request in flight */
	int busy;        /* a request has not replied yet */
	int processing;  /* ctl_process is on the stack */
	int dead;
	int closing;     /* close once the output is written */
};

static void ctl_process(struct ctl_conn *cc);

struct server *
ctl_server(const struct ctl_conn *cc)
{
	return cc->srv;
}

struct ctl *
ctl_of(const struct ctl_conn *cc)
{
	return cc->ctl;
}

uid_t
ctl_peer_uid(const struct ctl_conn *cc)
{
	return cc->uid;
}

const char *
ctl_path(const struct ctl *ctl)
{
	return ctl->path;
}

unsigned
ctl_nconns(const struct ctl *ctl)
{
	return ctl->nconns;
}

time_t
ctl_started(const struct ctl *ctl)
{
	return ctl->started;
}

void
ctl_log_change(const struct ctl_conn *cc, const char *fmt, ...)
{
	char text[1024];
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(text, sizeof(text), fmt, ap);
	va_end(ap);
	log_write(LOG_LEVEL_INFO, 0, "control uid=%u pid=%ld: %s",
	    (unsigned)cc->uid, (long)cc->pid, text);
}

static void
ctl_unref(struct ctl_conn *cc)
{
	if (--cc->refs == 0)
		free(cc);
}

static void
ctl_close(struct ctl_conn *cc, const char *why)
{
	if (cc->dead)
		return;
	cc->dead = 1;
	log_write(LOG_LEVEL_DEBUG, 0, "control connection %llu closed: %s",
	    cc->id, why);
	if (cc->prev != NULL)
		cc->prev->next = cc->next;
	else if (cc->ctl != NULL)
		cc->ctl->conns = cc->next;
	if (cc->next != NULL)
		cc->next->prev = cc->prev;
	if (cc->ctl != NULL)
		cc->ctl->nconns--;
	cc->ctl = NULL;
	bufferevent_free(cc->bev);
	cc->bev = NULL;
	ctl_unref(cc);
}

static void
ctl_send(struct ctl_conn *cc, int header, json_t *payload)
{
	unsigned char *frame;
	size_t len;

	if (cc->dead) {
		json_decref(payload);
		return;
	}
	if (msg_encode(header, payload, FRAME_MAX_LIMIT, &frame, &len) == -1) {
		log_error("control: cannot encode a reply");
		ctl_close(cc, "reply encoding failed");
		return;
	}
	if (bufferevent_write(cc->bev, frame, len) == -1)
		ctl_close(cc, "out of memory queueing a reply");
	free(frame);
}

/* The request is answered: take the next one. */
static void
ctl_replied(struct ctl_conn *cc)
{
	cc->busy = 0;
	if (!cc->dead && !cc->closing && !cc->processing)
		ctl_process(cc);
}

void
ctl_reply(struct ctl_conn *cc, json_t *payload)
{
	if (payload == NULL)
		payload = json_object();
	ctl_send(cc, PROTO_OK, payload);
	ctl_replied(cc);
}

void
ctl_reply_error(struct ctl_conn *cc, const char *text)
{
	ctl_send(cc, PROTO_ERROR, msg_error_new(text));
	ctl_replied(cc);
}

int
ctl_submit(struct ctl_conn *cc, struct pool *pool, pool_fn work,
    pool_fn done, void *arg)
{
	cc->refs++;
	if (pool_submit(pool, work, done, arg) == -1) {
		cc->refs--;
		ctl_reply_error(cc, "server busy, try again later");
		return -1;
	}
	return 0;
}

void
ctl_release(struct ctl_conn *cc)
{
	ctl_unref(cc);
}

int
ctl_arg_string(struct ctl_conn *cc, json_t *payload, const char *key,
    int optional, const char **value_r)
{
	json_t *v = payload != NULL ? json_object_get(payload, key) : NULL;
	char why[128];

	*value_r = NULL;
	if (v == NULL && optional)
		return 0;
	if (!json_is_string(v)) {
		snprintf(why, sizeof(why), "%s field: %s",
		    v == NULL ? "missing" : "not a string in", key);
		ctl_reply_error(cc, why);
		return -1;
	}
	*value_r = json_string_value(v);
	return 0;
}

int
ctl_arg_bool(struct ctl_conn *cc, json_t *payload, const char *key,
    int *value_r)
{
	json_t *v = payload != NULL ? json_object_get(payload, key) : NULL;
	char why[128];

	*value_r = 0;
	if (v == NULL)
		return 0;
	if (!json_is_boolean(v)) {
		snprintf(why, sizeof(why), "not a boolean in field: %s", key);
		ctl_reply_error(cc, why);
		return -1;
	}
	*value_r = json_is_true(v);
	return 0;
}

int
ctl_arg_count(struct ctl_conn *cc, json_t *payload, const char *key,
    long long *value_r)
{
	json_t *v = payload != NULL ? json_object_get(payload, key) : NULL;
	char why[128];

	if (!json_is_integer(v) || json_integer_value(v) < 0) {
		snprintf(why, sizeof(why), "%s field: %s", v == NULL ?
		    "missing" : "not a non-negative integer in", key);
		ctl_reply_error(cc, why);
		return -1;
	}
	*value_r = json_integer_value(v);
	return 0;
}

/* The gate: an administration row, a payload of its shape, then its handler. */
static void
ctl_dispatch(struct ctl_conn *cc, const void *body, size_t len)
{
	const struct proto_msginfo *info;
	union msg_args args;
	struct msg *m = NULL;
	const char *why;
	long long header;

	cc->busy = 1;
	if (msg_parse(body, len, &m, &why) == -1) {
		log_write(LOG_LEVEL_INFO, 0, "control: bad frame: %s", why);
		ctl_reply_error(cc, why);
		return;
	}
	header = msg_header(m);
	info = proto_lookup(header);
	if (info == NULL || info->dir != PROTO_DIR_C2S ||
	    info->gate != PROTO_GATE_CTL || header < 0 ||
	    (size_t)header >= sizeof(ctl_handlers) / sizeof(ctl_handlers[0]) ||
	    ctl_handlers[header] == NULL) {
		log_write(LOG_LEVEL_INFO, 0, "control: unknown header=%lld",
		    header);
		ctl_reply_error(cc, "unknown request");
		goto done;
	}
	if (msg_unpack(m, info->shape, &args, &why) == -1 ||
	    (msg_payload(m) == NULL && info->shape != PROTO_SHAPE_EMPTY &&
	    info->shape != PROTO_SHAPE_ANY)) {
		ctl_reply_error(cc, why);
		goto done;
	}
	log_write(LOG_LEVEL_DEBUG, 0, "control uid=%u: request %s",
	    (unsigned)cc->uid, info->name);
	ctl_handlers[header](cc, msg_payload(m));
done:
	msg_free(m);
}

/* Every whole frame, one request at a time. */
static void
ctl_process(struct ctl_conn *cc)
{
	const size_t max = server_cfg(ctl_server(cc))->max_frame;
	struct evbuffer *in;
	const unsigned char *p;
	size_t avail, body = 0;

	if (cc->processing)
		return; /* a handler replied at once; the loop goes on */
	cc->processing = 1;
	cc->refs++;
	while (!cc->dead && !cc->closing && !cc->busy) {
		in = bufferevent_get_input(cc->bev);
		if ((avail = evbuffer_get_length(in)) < FRAME_HEADER_LEN)
			break;
		p = evbuffer_pullup(in, FRAME_HEADER_LEN);
		switch (frame_decode(p, avail, max, &body)) {
		case FRAME_MORE:
			goto out;
		case FRAME_TOO_BIG:
			ctl_send(cc, PROTO_ERROR, msg_error_new("frame too large"));
			cc->closing = 1;
			goto out;
		case FRAME_READY:
			break;
		}
		/* Copied out: a handler may reply, and the reply may run the
		 * next request, before this frame is drained. */
		{
			size_t n = FRAME_HEADER_LEN + body;
			unsigned char *copy = malloc(n ? n : 1);

			if (copy == NULL) {
				ctl_close(cc, "out of memory");
				break;
			}
			evbuffer_remove(in, copy, n);
			ctl_dispatch(cc, copy + FRAME_HEADER_LEN, body);
			free(copy);
		}
	}
out:
	if (!cc->dead && cc->closing &&
	    evbuffer_get_length(bufferevent_get_output(cc->bev)) == 0)
		ctl_close(cc, "closed after reply");
	cc->processing = 0;
	ctl_unref(cc);
}

static void
ctl_readcb(struct bufferevent *bev, void *arg)
{
	(void)bev;
	ctl_process(arg);
}

static void
ctl_writecb(struct bufferevent *bev, void *arg)
{
	struct ctl_conn *cc = arg;

	if (cc->closing && evbuffer_get_length(bufferevent_get_output(bev)) == 0)
		ctl_close(cc, "closed after reply");
}

static void
ctl_eventcb(struct bufferevent *bev, short what, void *arg)
{
	struct ctl_conn *cc = arg;

	(void)bev;
	if (what & BEV_EVENT_EOF) {
		/* A request in flight still runs; its reply goes nowhere. */
		ctl_close(cc, "end of input");
		return;
	}
	ctl_close(cc, (what & BEV_EVENT_TIMEOUT) ? "idle timeout" :
	    "connection error");
}

/* Root, the server's own user, or a member of control-group. */
static int
peer_allowed(const struct ctl *ctl, int fd, const struct ucred *cr)
{
	gid_t groups[CTL_GROUPS_MAX];
	socklen_t len = sizeof(groups);
	size_t i;

	if (cr->uid == 0 || cr->uid == geteuid())
		return 1;
	if (!ctl->have_group)
		return 0;
	if (cr->gid == ctl->group)
		return 1;
#ifdef SO_PEERGROUPS
	if (getsockopt(fd, SOL_SOCKET, SO_PEERGROUPS, groups, &len) == 0)
		for (i = 0; i < len / sizeof(gid_t); i++)
			if (groups[i] == ctl->group)
				return 1;
#else
	(void)fd;
	(void)groups;
	(void)len;
	(void)i;
#endif
	return 0;
}

static void
ctl_accept(struct evconnlistener *l, evutil_socket_t fd, struct sockaddr *sa,
    int salen, void *arg)
{
	struct ctl *ctl = arg;
	struct timeval wr = { CTL_WRITE_SEC, 0 };
	struct ucred cr;
	socklen_t crlen = sizeof(cr);
	struct ctl_conn *cc;

	(void)l;
	(void)sa;
	(void)salen;
	if (getsockopt(fd, SOL_SOCKET, SO_PEERCRED, &cr, &crlen) == -1) {
		log_warn("control: cannot read the peer's credentials: %s",
		    strerror(errno));
		evutil_closesocket(fd);
		return;
	}
	if (ctl->nconns >= CTL_CONNS_MAX) {
		log_warn("control: %d connections already, refusing uid=%u",
		    CTL_CONNS_MAX, (unsigned)cr.uid);
		evutil_closesocket(fd);
		return;
	}
	if ((cc = calloc(1, sizeof(*cc))) == NULL) {
		evutil_closesocket(fd);
		return;
	}
	cc->ctl = ctl;
	cc->srv = ctl->srv;
	cc->id = ++ctl->next_id;
	cc->uid = cr.uid;
	cc->pid = cr.pid;
	cc->refs = 1;
	cc->bev = bufferevent_socket_new(server_base(ctl->srv), fd,
	    BEV_OPT_CLOSE_ON_FREE);
	if (cc->bev == NULL) {
		evutil_closesocket(fd);
		free(cc);
		return;
	}
	bufferevent_setcb(cc->bev, ctl_readcb, ctl_writecb, ctl_eventcb, cc);
	bufferevent_set_timeouts(cc->bev, NULL, &wr);
	cc->next = ctl->conns;
	if (ctl->conns != NULL)
		ctl->conns->prev = cc;
	ctl->conns = cc;
	ctl->nconns++;
	if (!peer_allowed(ctl, fd, &cr)) {
		log_warn("control: refused uid=%u gid=%u pid=%ld: not root, "
		    "the server's user or control-group", (unsigned)cr.uid,
		    (unsigned)cr.gid, (long)cr.pid);
		ctl_send(cc, PROTO_ERROR, msg_error_new("permission denied"));
		cc->closing = 1;
		bufferevent_enable(cc->bev, EV_WRITE);
		return;
	}
	bufferevent_enable(cc->bev, EV_READ | EV_WRITE);
}

/* mkdir -p for the socket's directory (mode 0700 where it is made). */
static int
make_parent(const char *path)
{
	char dir[sizeof(((struct sockaddr_un *)0)->sun_path)], *p;

	snprintf(dir, sizeof(dir), "%s", path);
	if ((p = strrchr(dir, '/')) == NULL || p == dir)
		return 0;
	*p = '\0';
	for (p = dir + 1; *p != '\0'; p++) {
		if (*p != '/')
			continue;
		*p = '\0';
		if (mkdir(dir, 0755) == -1 && errno != EEXIST)
			return -1;
		*p = '/';
	}
	if (mkdir(dir, 0700) == -1 && errno != EEXIST)
		return -1;
	return 0;
}

/*
 * A socket file left by a server that died is removed; one a live server
 * answers on is not taken over.
 */
static int
clear_stale(const struct sockaddr_un *sun)
{
	struct stat st;
	int fd, rc;

	if (lstat(sun->sun_path, &st) == -1)
		return errno == ENOENT ? 0 : -1;
	if (!S_ISSOCK(st.st_mode)) {
		errno = EEXIST;
		return -1;
	}
	if ((fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0)) == -1)
		return -1;
	rc = connect(fd, (const struct sockaddr *)sun, sizeof(*sun));
	close(fd);
	if (rc == 0) {
		errno = EADDRINUSE;
		return -1;
	}
	return unlink(sun->sun_path);
}

static int
ctl_bind(struct ctl *ctl, const char *path)
{
	const unsigned flags = LEV_OPT_CLOSE_ON_FREE | LEV_OPT_CLOSE_ON_EXEC;
	struct sockaddr_un sun;
	mode_t old;
	int fd = -1;

	memset(&sun, 0, sizeof(sun));
	sun.sun_family = AF_UNIX;
	if (path[0] != '/' || strlen(path) >= sizeof(sun.sun_path)) {
		log_error("control-socket %s: not an absolute path of at most "
		    "%zu bytes", path, sizeof(sun.sun_path) - 1);
		return -1;
	}
	memcpy(sun.sun_path, path, strlen(path) + 1);
	if (make_parent(path) == -1 || clear_stale(&sun) == -1) {
		log_error("control-socket %s: %s%s", path, strerror(errno),
		    errno == EADDRINUSE ? " (another server answers there; "
		    "give each server its own control-socket)" : "");
		return -1;
	}
	if ((fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC | SOCK_NONBLOCK,
	    0)) == -1)
		goto fail;
	/* Created with its final mode: no moment where others could connect. */
	old = umask(ctl->have_group ? 0117 : 0177);
	if (bind(fd, (struct sockaddr *)&sun, sizeof(sun)) == -1) {
		umask(old);
		goto fail;
	}
	umask(old);
	if (ctl->have_group && (chown(path, (uid_t)-1, ctl->group) == -1 ||
	    chmod(path, 0660) == -1))
		goto fail_unlink;
	if (listen(fd, 16) == -1)
		goto fail_unlink;
	ctl->listener = evconnlistener_new(server_base(ctl->srv), ctl_accept, ctl,
	    flags, 0, fd);
	if (ctl->listener == NULL)
		goto fail_unlink;
	snprintf(ctl->path, sizeof(ctl->path), "%s", path);
	log_info("control socket %s", path);
	return 0;
fail_unlink:
	unlink(path);
fail:
	log_error("control-socket %s: %s", path, strerror(errno));
	if (fd != -1)
		close(fd);
	return -1;
}

struct ctl *
ctl_new(struct server *srv)
{
	const struct config *cfg = server_cfg(srv);
	struct group *gr;
	struct ctl *ctl;

	if ((ctl = calloc(1, sizeof(*ctl))) == NULL)
		return NULL;
	ctl->srv = srv;
	ctl->started = time(NULL);
	if (cfg->control_group != NULL) {
		if ((gr = getgrnam(cfg->control_group)) == NULL) {
			log_error("control-group %s: no such group",
			    cfg->control_group);
			goto fail;
		}
		ctl->have_group = 1;
		ctl->group = gr->gr_gid;
	}
	if (cfg->control_socket == NULL) {
		log_warn("no control socket: neither RUNTIME_DIRECTORY nor "
		    "XDG_RUNTIME_DIR is set; set control-socket to use "
		    "glomailctl");
		return ctl;
	}
	if (ctl_bind(ctl, cfg->control_socket) == -1)
		goto fail;
	return ctl;
fail:
	free(ctl);
	return NULL;
}

void
ctl_free(struct ctl *ctl)
{
	if (ctl == NULL)
		return;
	while (ctl->conns != NULL)
		ctl_close(ctl->conns, "server stopping");
	if (ctl->listener != NULL) {
		evconnlistener_free(ctl->listener);
		unlink(ctl->path);
	}
	free(ctl);
}
