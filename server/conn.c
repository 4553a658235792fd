/*
 * conn.c - connection lifecycle on a libevent bufferevent.
 *
 * Input is decoded frame by frame straight from the bufferevent's input
 * buffer; every whole frame that has arrived is dispatched in order. Reading
 * stops while a request's work is on a pool (the next request waits for the
 * reply), while earlier replies are still queued (backpressure), and once
 * input holds a whole maximum frame.
 *
 * What a peer can make the server hold is bounded three ways: its input by
 * one request (8 KiB before login, max-frame after), its output by
 * max-output, and every connection's input and output together by
 * max-memory. Requests and replies up to 8 KiB are always taken, so logins,
 * stats and errors keep working for everyone when a few peers fill the
 * budget; their sum is bounded by max-connections.
 */
#include <sys/socket.h>

#include <netinet/in.h>
#include <netinet/tcp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <event2/buffer.h>
#include <event2/bufferevent.h>
#include <event2/bufferevent_ssl.h>
#include <openssl/err.h>
#include <openssl/ssl.h>

#include "config.h"
#include "conn.h"
#include "frame.h"
#include "log.h"
#include "msg.h"
#include "proto.h"
#include "session.h"
#include "tls.h"

/* Requests and replies this small are always taken (see above). */
#define CONN_SMALL ((size_t)8192)
/* Input room beyond one request: the start of the next pipelined one. */
#define CONN_READ_SLACK ((size_t)4096)

struct conn_env {
	struct server *srv;
	struct event_base *base;
	struct tls_sched *handshakes;
	const struct config *cfg;
	conn_gone_fn gone;
	size_t held; /* bytes in every connection's buffers */
};

/*
 * Where a connection is in its life. Requests are taken only in READY;
 * every other state waits for one event: the pool's reply (WORKING), the
 * peer reading (BLOCKED), the last reply written (CLOSING).
 */
enum conn_state {
	CONN_READY,        /* takes the next request */
	CONN_WORKING,      /* a request's work is on a pool */
	CONN_WORKING_LAST, /* the same, then close once its reply is written */
	CONN_BLOCKED,      /* replies queued: wait for the peer to read */
	CONN_CLOSING,      /* takes nothing more; closes once output is out */
	CONN_DEAD,         /* closed; memory goes with the last reference */
};

/* Orthogonal to the state. */
#define CONN_F_EOF 0x1        /* the peer finished sending */
#define CONN_F_PROCESSING 0x2 /* conn_process is on the stack */
#define CONN_F_TLS_UP 0x4     /* the TLS handshake is done */

struct conn {
	struct conn_env *env;
	struct bufferevent *bev;
	struct tls_hs *hs; /* while its TLS handshake runs */
	struct evbuffer_cb_entry *in_cb, *out_cb; /* count what it holds */
	conn_dispatch_fn dispatch;
	void *link; /* the owner's, given back when gone */
	unsigned long long id;
	enum conn_state state;
	unsigned flags; /* CONN_F_* */
	unsigned refs;  /* 1 while alive, + holds, + processing */
	unsigned holds; /* work in flight for the request */
	size_t held;    /* bytes in its input and output */
	size_t skip;    /* bytes of a refused request to discard */
	struct timeval partial_since; /* a frame began and is not complete */
	struct session session;       /* who is logged in: the one record */
	char peer[64];
	char addr[INET6_ADDRSTRLEN]; /* peer address without the port */
	struct sockaddr_storage sa;  /* the same, for the access policies */
	int tls;                     /* under TLS (the bufferevent's SSL) */
};

static void conn_process(struct conn *c);

struct conn_env *
conn_env_new(struct server *srv, struct event_base *base,
    struct tls_sched *handshakes, const struct config *cfg, conn_gone_fn gone)
{
	struct conn_env *env;

	if ((env = calloc(1, sizeof(*env))) == NULL)
		return NULL;
	env->srv = srv;
	env->base = base;
	env->handshakes = handshakes;
	env->cfg = cfg;
	env->gone = gone;
	return env;
}

void
conn_env_free(struct conn_env *env)
{
	free(env);
}

struct tls_sched *
conn_env_handshakes(const struct conn_env *env)
{
	return env->handshakes;
}

size_t
conn_env_held(const struct conn_env *env)
{
	return env->held;
}

void
conn_env_charge(struct conn_env *env, size_t added, size_t removed)
{
	env->held += added;
	env->held -= removed;
}

unsigned long long
conn_id(const struct conn *c)
{
	return c->id;
}

struct server *
conn_server(const struct conn *c)
{
	return c->env->srv;
}

struct session *
conn_session(struct conn *c)
{
	return &c->session;
}

const char *
conn_peer(const struct conn *c)
{
	return c->peer;
}

const struct sockaddr *
conn_sockaddr(const struct conn *c)
{
	return (const struct sockaddr *)&c->sa;
}

int
conn_tls(const struct conn *c)
{
	return c->tls;
}

int
conn_handshaking(const struct conn *c)
{
	return c->tls && !(c->flags & CONN_F_TLS_UP);
}

const char *
conn_addr(const struct conn *c)
{
	return c->addr;
}

int
conn_alive(const struct conn *c)
{
	return c->state != CONN_DEAD;
}

static int
conn_working(const struct conn *c)
{
	return c->state == CONN_WORKING || c->state == CONN_WORKING_LAST;
}

static void
conn_unref(struct conn *c)
{
	if (--c->refs == 0)
		free(c);
}

/* The largest request body taken now: small until someone logs in. */
static size_t
frame_max(const struct conn *c)
{
	size_t max = c->env->cfg->max_frame;

	if (!session_logged_in(&c->session) && max > CONN_ANON_FRAME_MAX)
		max = CONN_ANON_FRAME_MAX;
	return max;
}

/* Queued output below this lets the next request in. */
static size_t
output_low(const struct conn *c)
{
	size_t half = c->env->cfg->max_output / 2;

	return half < CONN_SMALL ? half : CONN_SMALL;
}

/*
 * Reading stops once a whole request is buffered; the write callback runs
 * once output is down to output_low.
 */
static void
set_watermarks(struct conn *c)
{
	bufferevent_setwatermark(c->bev, EV_READ, 0,
	    frame_max(c) + FRAME_HEADER_LEN + CONN_READ_SLACK);
	bufferevent_setwatermark(c->bev, EV_WRITE, output_low(c), 0);
}

/*
 * The read timeout measures the client's silence, so it only runs while the
 * server is not working on one of its requests: a login delayed by a penalty
 * or a slow hash must not be cut as idle. Re-arming it when the reply goes
 * out gives the client a whole period again.
 */
static void
set_timeouts(struct conn *c)
{
	const struct config *cfg = c->env->cfg;
	struct timeval rd = { session_logged_in(&c->session)
		                  ? cfg->timeout_idle
		                  : cfg->timeout_login,
		0 };
	struct timeval wr = { cfg->timeout_idle, 0 };

	bufferevent_set_timeouts(c->bev, conn_working(c) ? NULL : &rd, &wr);
}

/* Keep this connection's and every connection's byte counts. */
static void
buffer_cb(struct evbuffer *b, const struct evbuffer_cb_info *info, void *arg)
{
	struct conn *c = arg;

	(void)b;
	c->held += info->n_added;
	c->held -= info->n_deleted;
	c->env->held += info->n_added;
	c->env->held -= info->n_deleted;
}

/* Logging in or out changes the idle timeout and the largest request. */
static void
login_changed(struct conn *c)
{
	if (c->state == CONN_DEAD)
		return;
	set_timeouts(c);
	set_watermarks(c);
}

void
conn_login(struct conn *c, const char *user, struct mailbox *mb)
{
	session_start(&c->session, user, mb);
	login_changed(c);
}

void
conn_logout(struct conn *c)
{
	session_logout(&c->session);
	login_changed(c);
}

/* Closes that end the session normally, after which TLS says goodbye. */
static int
clean_close(const char *reason)
{
	return strcmp(reason, "end of input") == 0 ||
	       strcmp(reason, "closed after reply") == 0 ||
	       strcmp(reason, "server stopping") == 0;
}

/* The one place a connection ends, whatever the reason. */
void
conn_close(struct conn *c, const char *reason)
{
	if (c->state == CONN_DEAD)
		return;
	c->state = CONN_DEAD;
	log_write(LOG_LEVEL_INFO, c->id, "close reason=\"%s\"%s%s", reason,
	    session_logged_in(&c->session) ? " user=" : "", c->session.user);
	evbuffer_remove_cb_entry(bufferevent_get_input(c->bev), c->in_cb);
	evbuffer_remove_cb_entry(bufferevent_get_output(c->bev), c->out_cb);
	c->env->held -= c->held;
	c->held = 0;
	if (c->tls && clean_close(reason)) {
		/*
		 * libevent never sends close_notify: say goodbye once, in one
		 * non-blocking write (a peer that does not read loses it).
		 */
		SSL *ssl = bufferevent_openssl_get_ssl(c->bev);

		if (ssl != NULL && SSL_is_init_finished(ssl))
			(void)SSL_shutdown(ssl);
		ERR_clear_error();
	}
	tls_hs_end(c->hs);
	c->hs = NULL;
	bufferevent_free(c->bev); /* closes the socket, frees the SSL */
	c->bev = NULL;
	session_logout(&c->session);
	c->env->gone(c->env->srv, c->link);
	conn_unref(c);
}

/* CLOSING ends once the last reply has left. */
static void
close_if_flushed(struct conn *c)
{
	if (c->state == CONN_CLOSING &&
	    evbuffer_get_length(bufferevent_get_output(c->bev)) == 0)
		conn_close(c, (c->flags & CONN_F_EOF) ? "end of input"
		                                      : "closed after reply");
}

void
conn_close_after_reply(struct conn *c)
{
	switch (c->state) {
	case CONN_READY:
	case CONN_BLOCKED:
		c->state = CONN_CLOSING;
		break;
	case CONN_WORKING:
		c->state = CONN_WORKING_LAST;
		break;
	case CONN_WORKING_LAST:
	case CONN_CLOSING:
	case CONN_DEAD:
		return;
	}
	bufferevent_disable(c->bev, EV_READ);
	close_if_flushed(c);
}

static void
free_frame(const void *data, size_t len, void *arg)
{
	(void)len;
	(void)arg;
	free((void *)(uintptr_t)data);
}

/*
 * Whether a reply of len bytes may be queued: a large one must fit in this
 * client's max-output with what is queued before it, and in max-memory with
 * what every connection holds. NULL, or the ERROR text to send instead.
 */
static const char *
reply_refused(struct conn *c, size_t len)
{
	const struct config *cfg = c->env->cfg;
	size_t queued = evbuffer_get_length(bufferevent_get_output(c->bev));

	if (len <= CONN_SMALL)
		return NULL;
	if (queued + len > cfg->max_output) {
		log_write(LOG_LEVEL_WARN, c->id,
		    "reply too large length=%zu "
		    "queued=%zu max-output=%zu",
		    len, queued, cfg->max_output);
		return "reply too large";
	}
	if (c->env->held + len > cfg->max_memory) {
		log_write(LOG_LEVEL_WARN, c->id,
		    "memory budget reached: reply "
		    "refused length=%zu held=%zu max-memory=%zu",
		    len, c->env->held, cfg->max_memory);
		return "server busy, try again later";
	}
	return NULL;
}

/* Queue a frame built for this reply (owned: freed once written). */
static int
queue_owned(struct conn *c, unsigned char *frame, size_t len)
{
	const char *why;

	if ((why = reply_refused(c, len)) != NULL) {
		free(frame);
		conn_reply_error(c, why);
		return -1;
	}
	/* By reference: a large reply is not copied once more. */
	if (evbuffer_add_reference(bufferevent_get_output(c->bev), frame, len,
	        free_frame, NULL) == -1) {
		free(frame);
		conn_close(c, "out of memory queueing a reply");
		return -1;
	}
	return 0;
}

int
conn_send_frame(struct conn *c, const unsigned char *frame, size_t len)
{
	const char *why;

	if (c->state == CONN_DEAD)
		return -1;
	if ((why = reply_refused(c, len)) != NULL) {
		conn_reply_error(c, why);
		return -1;
	}
	if (bufferevent_write(c->bev, frame, len) == -1) {
		conn_close(c, "out of memory queueing a reply");
		return -1;
	}
	return 0;
}

int
conn_notice(struct conn *c, const unsigned char *frame, size_t len)
{
	const struct config *cfg = c->env->cfg;
	size_t queued;

	if (c->state == CONN_DEAD || c->state == CONN_CLOSING ||
	    c->state == CONN_WORKING_LAST)
		return -1;
	queued = evbuffer_get_length(bufferevent_get_output(c->bev));
	if (queued + len > cfg->max_output ||
	    c->env->held + len > cfg->max_memory) {
		log_write(LOG_LEVEL_DEBUG, c->id,
		    "notice dropped length=%zu "
		    "queued=%zu",
		    len, queued);
		return -1;
	}
	if (bufferevent_write(c->bev, frame, len) == -1)
		return -1;
	return 0;
}

void
conn_reply(struct conn *c, int header, json_t *payload)
{
	unsigned char *frame;
	size_t len;

	if (c->state == CONN_DEAD) {
		json_decref(payload);
		return;
	}
	/* Replies are bounded by max-output, not max-frame: a long inbox
	 * list must still reach the client. */
	if (msg_encode(header, payload, FRAME_MAX_LIMIT, &frame, &len) == -1) {
		log_write(LOG_LEVEL_ERROR, c->id, "cannot encode a %s reply",
		    proto_name(header));
		conn_close(c, "reply encoding failed");
		return;
	}
	queue_owned(c, frame, len);
}

void
conn_reply_error(struct conn *c, const char *text)
{
	conn_reply(c, PROTO_ERROR, msg_error_new(text));
}

void
conn_hold(struct conn *c)
{
	c->refs++;
	/* A request's work may go through several steps (a scan, then the
	 * read): the request ends when the last of them releases. */
	if (c->holds++ > 0)
		return;
	switch (c->state) {
	case CONN_READY:
	case CONN_BLOCKED:
		c->state = CONN_WORKING;
		break;
	case CONN_CLOSING:
		c->state = CONN_WORKING_LAST;
		break;
	case CONN_WORKING:
	case CONN_WORKING_LAST:
	case CONN_DEAD:
		return;
	}
	set_timeouts(c);
}

void
conn_release(struct conn *c)
{
	if (c->holds > 0 && --c->holds > 0) {
		conn_unref(c);
		return;
	}
	switch (c->state) {
	case CONN_WORKING:
		c->state = CONN_READY;
		set_timeouts(c);
		conn_process(c);
		break;
	case CONN_WORKING_LAST:
		c->state = CONN_CLOSING;
		set_timeouts(c);
		close_if_flushed(c);
		break;
	default:
		break;
	}
	conn_unref(c);
}

void
conn_release_error(struct conn *c, const char *text)
{
	conn_reply_error(c, text);
	conn_release(c);
}

/*
 * The read timeout restarts with every byte, so a peer dripping a frame one
 * byte at a time would never meet it: a frame must also be complete within
 * one timeout period of its first byte. Checked whenever input is waited
 * for; a peer that stops dripping meets the read timeout instead.
 */
static void
frame_deadline(struct conn *c)
{
	const struct config *cfg = c->env->cfg;
	struct timeval now, elapsed;
	unsigned limit = session_logged_in(&c->session) ? cfg->timeout_idle
	                                                : cfg->timeout_login;

	if (evbuffer_get_length(bufferevent_get_input(c->bev)) == 0 &&
	    c->skip == 0) {
		evutil_timerclear(&c->partial_since);
		return;
	}
	event_base_gettimeofday_cached(c->env->base, &now);
	if (!evutil_timerisset(&c->partial_since)) {
		c->partial_since = now;
		return;
	}
	evutil_timersub(&now, &c->partial_since, &elapsed);
	if (elapsed.tv_sec >= (time_t)limit)
		conn_close(c, "frame not completed in time");
}

/*
 * A request still arriving while every connection's memory is over
 * max-memory, or a large one that would take it over, is refused at once:
 * a short ERROR, then its bytes are discarded as they come (skip), so the
 * connection stays in step and holds nothing meanwhile. 1 when refused.
 */
static int
refuse_partial(struct conn *c, size_t body_len, size_t avail)
{
	const struct config *cfg = c->env->cfg;
	size_t total = FRAME_HEADER_LEN + body_len, held = c->env->held;

	if (held <= cfg->max_memory &&
	    (total <= CONN_SMALL || held + (total - avail) <= cfg->max_memory))
		return 0;
	log_write(LOG_LEVEL_WARN, c->id,
	    "memory budget reached: request "
	    "refused length=%zu held=%zu max-memory=%zu",
	    body_len, held, cfg->max_memory);
	conn_reply_error(c, "server busy, try again later");
	c->skip = total;
	return 1;
}

/*
 * Dispatch every whole frame in the input buffer, in order, until one needs
 * work off the reactor, replies are waiting to be read, or the input runs
 * dry.
 */
static void
conn_process(struct conn *c)
{
	struct evbuffer *in;
	const unsigned char *p;
	size_t avail, body_len = 0, n;
	enum frame_result fr;

	if (c->flags & CONN_F_PROCESSING)
		return; /* a handler replied synchronously; the loop continues
		         */
	c->flags |= CONN_F_PROCESSING;
	c->refs++;
	while (c->state == CONN_READY) {
		in = bufferevent_get_input(c->bev);
		if (evbuffer_get_length(bufferevent_get_output(c->bev)) >
		    output_low(c)) {
			c->state = CONN_BLOCKED;
			break;
		}
		avail = evbuffer_get_length(in);
		if (c->skip > 0) {
			n = avail < c->skip ? avail : c->skip;
			evbuffer_drain(in, n);
			if ((c->skip -= n) > 0)
				break;
			evutil_timerclear(&c->partial_since);
			continue;
		}
		if (avail < FRAME_HEADER_LEN)
			break;
		p = evbuffer_pullup(in, FRAME_HEADER_LEN);
		fr = frame_decode(p, avail, frame_max(c), &body_len);
		if (fr == FRAME_MORE) {
			if (refuse_partial(c, body_len, avail))
				continue;
			break;
		}
		if (fr == FRAME_TOO_BIG) {
			log_write(LOG_LEVEL_WARN, c->id,
			    "frame too large length=%zu max=%zu%s", body_len,
			    frame_max(c),
			    session_logged_in(&c->session) ? ""
			                                   : " (before login)");
			conn_reply_error(c, "frame too large");
			conn_close_after_reply(c);
			break;
		}
		p = evbuffer_pullup(in,
		    (ev_ssize_t)(FRAME_HEADER_LEN + body_len));
		evutil_timerclear(&c->partial_since);
		c->dispatch(c, p + FRAME_HEADER_LEN, body_len);
		if (c->state == CONN_DEAD)
			break;
		evbuffer_drain(in, FRAME_HEADER_LEN + body_len);
	}
	if (c->state == CONN_READY) {
		/* Once everything the peer sent before leaving is
		 * answered, close. */
		if (c->flags & CONN_F_EOF)
			conn_close_after_reply(c);
		else
			frame_deadline(c);
	}
	c->flags &= ~CONN_F_PROCESSING;
	conn_unref(c);
}

static void
conn_readcb(struct bufferevent *bev, void *arg)
{
	(void)bev;
	conn_process(arg);
}

/* Output drained: finish a close, or take requests again. */
static void
conn_writecb(struct bufferevent *bev, void *arg)
{
	struct conn *c = arg;

	(void)bev;
	if (c->state == CONN_CLOSING) {
		close_if_flushed(c);
	} else if (c->state == CONN_BLOCKED) {
		c->state = CONN_READY;
		conn_process(c);
	}
}

/*
 * A TLS failure: what scanners and vanished peers cause (plaintext on the
 * TLS port, a reset, an EOF mid-handshake) is an ordinary close, logged at
 * info level; anything else is worth a warning.
 */
static void
tls_error(struct conn *c, struct bufferevent *bev)
{
	unsigned long codes[8], e;
	size_t n = 0;
	char why[512];
	int benign;

	while ((e = bufferevent_get_openssl_error(bev)) != 0)
		if (n < sizeof(codes) / sizeof(codes[0]))
			codes[n++] = e;
	benign = tls_describe_errors(codes, n, why, sizeof(why));
	log_write(benign ? LOG_LEVEL_INFO : LOG_LEVEL_WARN, c->id, "tls %s: %s",
	    (c->flags & CONN_F_TLS_UP) ? "session ended" : "handshake failed",
	    why);
	ERR_clear_error();
	conn_close(c, benign ? "peer closed" : "tls error");
}

static void
conn_eventcb(struct bufferevent *bev, short what, void *arg)
{
	struct conn *c = arg;

	(void)bev;
	if (what & BEV_EVENT_EOF) {
		/* Answer every whole request that came before the end; a
		 * partial frame left behind is dropped with the connection. */
		c->flags |= CONN_F_EOF;
		bufferevent_disable(bev, EV_READ);
		if (c->state == CONN_READY)
			conn_process(c);
		return;
	}
	if (what & BEV_EVENT_CONNECTED) {
		SSL *ssl = bufferevent_openssl_get_ssl(bev);

		c->flags |= CONN_F_TLS_UP;
		/* From now on its requests are as urgent as anyone's. */
		tls_hs_end(c->hs);
		c->hs = NULL;
		if (ssl != NULL)
			log_write(LOG_LEVEL_INFO, c->id,
			    "tls version=%s "
			    "cipher=%s",
			    SSL_get_version(ssl), SSL_get_cipher_name(ssl));
		return;
	}
	if ((what & BEV_EVENT_TIMEOUT) && c->tls &&
	    !(c->flags & CONN_F_TLS_UP)) {
		/* Silent or stalled before the handshake ended: the login
		 * timeout cuts it like any other silent peer. */
		conn_close(c, "tls handshake timeout");
		return;
	}
	if (what & BEV_EVENT_TIMEOUT) {
		conn_close(c, (what & BEV_EVENT_READING) ? "idle timeout"
		                                         : "write timeout");
		return;
	}
	if (c->tls && (what & BEV_EVENT_ERROR)) {
		tls_error(c, bev);
		return;
	}
	conn_close(c, "connection error");
}

/* "1.2.3.4:5" or "[::1]:5" in peer, the address alone in addr. */
static void
format_peer(struct conn *c, const struct sockaddr *sa)
{
	char host[INET6_ADDRSTRLEN] = "?";

	if (sa->sa_family == AF_INET) {
		const struct sockaddr_in *in = (const struct sockaddr_in *)sa;

		evutil_inet_ntop(AF_INET, &in->sin_addr, host, sizeof(host));
		snprintf(c->addr, sizeof(c->addr), "%s", host);
		snprintf(c->peer, sizeof(c->peer), "%s:%d", host,
		    ntohs(in->sin_port));
	} else if (sa->sa_family == AF_INET6) {
		const struct sockaddr_in6 *in6 = (const struct sockaddr_in6 *)
		    sa;

		evutil_inet_ntop(AF_INET6, &in6->sin6_addr, host, sizeof(host));
		snprintf(c->addr, sizeof(c->addr), "%s", host);
		snprintf(c->peer, sizeof(c->peer), "[%s]:%d", host,
		    ntohs(in6->sin6_port));
	} else {
		snprintf(c->peer, sizeof(c->peer), "local");
		snprintf(c->addr, sizeof(c->addr), "local");
	}
}

struct conn *
conn_new(struct conn_env *env, unsigned long long id, evutil_socket_t fd,
    const struct sockaddr *sa, int salen, struct ssl_st *ssl,
    conn_dispatch_fn dispatch, void *link)
{
	struct conn *c;
	int one = 1;

	if ((c = calloc(1, sizeof(*c))) == NULL) {
		evutil_closesocket(fd);
		SSL_free(ssl);
		return NULL;
	}
	if (salen > 0 && (size_t)salen <= sizeof(c->sa))
		memcpy(&c->sa, sa, (size_t)salen);
	c->env = env;
	c->id = id;
	c->dispatch = dispatch;
	c->link = link;
	c->refs = 1;
	c->state = CONN_READY;
	format_peer(c, sa);
	/* Replies are small and the next request waits for them: without
	 * NODELAY, the tail of a reply over one write waits for the peer's
	 * delayed ACK (40 ms). Harmless on non-TCP sockets (it just fails). */
	(void)setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
	if (ssl != NULL) {
		c->tls = 1;
		c->bev = bufferevent_openssl_socket_new(env->base, fd, ssl,
		    BUFFEREVENT_SSL_ACCEPTING, BEV_OPT_CLOSE_ON_FREE);
		/* A peer closing without close_notify (or with unread
		 * session tickets, which the kernel answers with a reset)
		 * has simply left: frames are length-prefixed. */
		if (c->bev != NULL)
			bufferevent_openssl_set_allow_dirty_shutdown(c->bev, 1);
	} else
		c->bev = bufferevent_socket_new(env->base, fd,
		    BEV_OPT_CLOSE_ON_FREE);
	if (c->bev == NULL) {
		/* Without a bufferevent, nothing took the socket or the SSL. */
		evutil_closesocket(fd);
		SSL_free(ssl);
		free(c);
		return NULL;
	}
	c->in_cb = evbuffer_add_cb(bufferevent_get_input(c->bev), buffer_cb, c);
	c->out_cb = evbuffer_add_cb(bufferevent_get_output(c->bev), buffer_cb,
	    c);
	if (c->in_cb == NULL || c->out_cb == NULL) {
		bufferevent_free(c->bev);
		free(c);
		return NULL;
	}
	if (c->tls)
		c->hs = tls_hs_begin(env->handshakes, c->bev);
	bufferevent_setcb(c->bev, conn_readcb, conn_writecb, conn_eventcb, c);
	set_watermarks(c);
	set_timeouts(c);
	bufferevent_enable(c->bev, EV_READ | EV_WRITE);
	log_write(LOG_LEVEL_INFO, c->id, "connect peer=%s%s", c->peer,
	    c->tls ? " tls" : "");
	return c;
}

/*
 * After a reload: an open connection takes the new max-frame for its read
 * bound, so a request the new limit allows is never stuck half read, and
 * the new max-output for its backpressure.
 */
void
conn_limits_changed(struct conn *c)
{
	if (c->state != CONN_DEAD)
		set_watermarks(c);
}
