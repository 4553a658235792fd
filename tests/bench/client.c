/*
 * client.c - the load generator's engine: many client connections on one
 * libevent loop, each a small state machine stepped once per reply.
 *
 * Owns the event base, the resolved server address, the connections'
 * bufferevents and the phase bookkeeping (which clients still work, the
 * request budget, the time limit and the watchdog that ends a phase when
 * the server stops answering). A client is freed only by clients_free(),
 * after the loop has returned, so no callback ever sees a freed client.
 */
#include <sys/socket.h>
#include <sys/types.h>

#include <netinet/in.h>
#include <netinet/tcp.h>

#include <errno.h>
#include <netdb.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <event2/buffer.h>
#include <event2/bufferevent.h>
#include <event2/bufferevent_ssl.h>
#include <event2/event.h>

#include <openssl/err.h>
#include <openssl/ssl.h>

#include "bench.h"
#include "frame.h"

/* Replies are bounded too: a 10,000-message list is well under this. */
#define REPLY_MAX ((size_t)64 * 1024 * 1024)
/* A phase with no reply at all for this long is over (server stuck). */
#define STALL_NS ((uint64_t)30 * 1000000000u)
/* How long a timed phase may run past its end to collect replies. */
#define GRACE_NS ((uint64_t)10 * 1000000000u)

struct bench {
	struct bench_opts o;
	struct event_base *base;
	struct sockaddr_storage sa;
	socklen_t salen;
	struct sockaddr_storage tls_sa; /* the TLS listener, with tls_ctx */
	socklen_t tls_salen;
	SSL_CTX *tls_ctx;
	struct event *watchdog;

	/* The running phase. */
	struct client *cs;
	int n, next, active, window;
	step_fn step;
	long long budget;   /* requests phase_more() may still grant; -1: any */
	uint64_t deadline;  /* when phase_more() stops granting; 0: never */
	uint64_t t_start, t_done, t_progress;
	int running;
	int filling;        /* phase_fill() is on the stack: don't re-enter it */
	int complaints;     /* connection errors printed (bounded) */
	struct msg *ok;     /* a bare OK, handed to steps that ignore payloads */
	long long errors;   /* failures not charged to a latency recorder */
};

static void client_step(struct client *c, struct msg *reply);

/* Accept only loopback addresses: the tool must never load another host. */
static int
is_loopback(const struct sockaddr *sa)
{
	const struct sockaddr_in *in4 = (const struct sockaddr_in *)sa;
	const struct sockaddr_in6 *in6 = (const struct sockaddr_in6 *)sa;

	if (sa->sa_family == AF_INET)
		return (ntohl(in4->sin_addr.s_addr) >> 24) == 127;
	if (sa->sa_family == AF_INET6)
		return IN6_IS_ADDR_LOOPBACK(&in6->sin6_addr) ||
		    (IN6_IS_ADDR_V4MAPPED(&in6->sin6_addr) &&
		    in6->sin6_addr.s6_addr[12] == 127);
	return 0;
}

/* Ends a phase whose server went quiet or whose time is long over. */
static void
watchdog_cb(evutil_socket_t fd, short what, void *arg)
{
	struct bench *b = arg;
	uint64_t now = now_ns();

	(void)fd;
	(void)what;
	if (!b->running)
		return;
	if (now - b->t_progress > STALL_NS ||
	    (b->deadline != 0 && now > b->deadline + GRACE_NS)) {
		fprintf(stderr, "glomail-bench: phase stopped: no reply for "
		    "%.0f s\n", (double)(now - b->t_progress) / 1e9);
		event_base_loopbreak(b->base);
	}
}

/* host:port, which must be a loopback address. 0 or -1. */
static int
resolve(const char *host, const char *port, struct sockaddr_storage *sa,
    socklen_t *len_r)
{
	struct addrinfo hints, *res = NULL;
	int rc;

	memset(&hints, 0, sizeof(hints));
	hints.ai_family = AF_UNSPEC;
	hints.ai_socktype = SOCK_STREAM;
	if ((rc = getaddrinfo(host, port, &hints, &res)) != 0) {
		fprintf(stderr, "glomail-bench: %s: %s\n", host,
		    gai_strerror(rc));
		return -1;
	}
	if (!is_loopback(res->ai_addr)) {
		fprintf(stderr, "glomail-bench: %s is not a loopback address; "
		    "only local servers are measured\n", host);
		freeaddrinfo(res);
		return -1;
	}
	memcpy(sa, res->ai_addr, res->ai_addrlen);
	*len_r = res->ai_addrlen;
	freeaddrinfo(res);
	return 0;
}

/*
 * The clients' TLS: the server's chain and name verified as glomail does.
 * Record buffers stay allocated (the library's default, unlike the
 * server): ten thousand held connections cost the generator about 0.4 GB,
 * and its hot loops, whose CPU is taken from the server's, pay no malloc
 * and free per record.
 */
static SSL_CTX *
tls_client_ctx(const struct bench_opts *o)
{
	SSL_CTX *ctx;

	if ((ctx = SSL_CTX_new(TLS_client_method())) == NULL ||
	    SSL_CTX_set_min_proto_version(ctx, TLS1_2_VERSION) != 1)
		goto fail;
	SSL_CTX_set_verify(ctx, SSL_VERIFY_PEER, NULL);
	if ((o->cafile != NULL ? SSL_CTX_load_verify_locations(ctx, o->cafile,
	    NULL) : SSL_CTX_set_default_verify_paths(ctx)) != 1) {
		fprintf(stderr, "glomail-bench: %s: cannot load the "
		    "authority\n", o->cafile != NULL ? o->cafile : "default");
		goto fail;
	}
	return ctx;
fail:
	ERR_print_errors_fp(stderr);
	SSL_CTX_free(ctx);
	return NULL;
}

struct bench *
bench_new(const struct bench_opts *o)
{
	struct timeval tick = { 1, 0 };
	const char *why;
	struct bench *b;

	if ((b = calloc(1, sizeof(*b))) == NULL)
		return NULL;
	b->o = *o;
	if (resolve(o->host, o->port, &b->sa, &b->salen) == -1)
		goto fail;
	if (o->tls_port != NULL && (resolve(o->host, o->tls_port, &b->tls_sa,
	    &b->tls_salen) == -1 || (b->tls_ctx = tls_client_ctx(o)) == NULL))
		goto fail;
	if ((b->base = event_base_new()) == NULL ||
	    msg_parse("{\"header\": 1}", 13, &b->ok, &why) == -1)
		goto fail;
	b->watchdog = event_new(b->base, -1, EV_PERSIST, watchdog_cb, b);
	if (b->watchdog == NULL || event_add(b->watchdog, &tick) == -1)
		goto fail;
	return b;
fail:
	bench_free(b);
	return NULL;
}

void
bench_free(struct bench *b)
{
	if (b == NULL)
		return;
	if (b->watchdog != NULL)
		event_free(b->watchdog);
	if (b->base != NULL)
		event_base_free(b->base);
	if (b->ok != NULL)
		msg_free(b->ok);
	SSL_CTX_free(b->tls_ctx);
	free(b);
}

int
bench_has_tls(const struct bench *b)
{
	return b->tls_ctx != NULL;
}

SSL_CTX *
bench_tls_ctx(struct bench *b)
{
	return b->tls_ctx;
}

void
clients_use_tls(struct client *cs, int n)
{
	int i;

	for (i = 0; cs != NULL && i < n; i++)
		cs[i].tls = 1;
}

struct event_base *
bench_base(struct bench *b)
{
	return b->base;
}

const struct bench_opts *
bench_opts(const struct bench *b)
{
	return &b->o;
}

long long
bench_take_errors(struct bench *b)
{
	long long e = b->errors;

	b->errors = 0;
	return e;
}

static struct client *
alloc_clients(struct bench *b, int n)
{
	struct client *cs;
	int i;

	if (n <= 0 || (cs = calloc((size_t)n, sizeof(*cs))) == NULL)
		return NULL;
	for (i = 0; i < n; i++) {
		cs[i].b = b;
		cs[i].id = i;
	}
	return cs;
}

void
client_set_user(struct client *c, const char *name)
{
	if (name == NULL)
		return;
	snprintf(c->user, sizeof(c->user), "%s", name);
	snprintf(c->addr, sizeof(c->addr), "%s@%s", name,
	    PROTO_DEFAULT_DOMAIN);
}

struct client *
clients_new(struct bench *b, int n, const char *tag)
{
	struct client *cs = alloc_clients(b, n);
	char name[80];
	int i;

	for (i = 0; cs != NULL && i < n; i++) {
		snprintf(name, sizeof(name), "%s%s%d", b->o.prefix, tag, i);
		client_set_user(&cs[i], name);
	}
	return cs;
}

struct client *
clients_new_shared(struct bench *b, int n, const char *tag)
{
	struct client *cs = alloc_clients(b, n);
	char name[80];
	int i;

	snprintf(name, sizeof(name), "%s%s", b->o.prefix, tag);
	for (i = 0; cs != NULL && i < n; i++)
		client_set_user(&cs[i], name);
	return cs;
}

void
clients_free(struct client *cs, int n)
{
	int i;

	if (cs == NULL)
		return;
	for (i = 0; i < n; i++) {
		if (cs[i].bev != NULL)
			bufferevent_free(cs[i].bev);
		if (cs[i].timer != NULL)
			event_free(cs[i].timer);
		free(cs[i].frame);
	}
	free(cs);
}

/* Charge one failure to the request's recorder, else to the bench. */
static void
count_error(struct client *c)
{
	if (c->busy && c->lat != NULL)
		c->lat->errors++;
	else
		c->b->errors++;
}

/* Start waiting clients while the window allows; iterative, not recursive. */
static void
phase_fill(struct bench *b)
{
	struct client *c;

	b->filling = 1;
	while (b->active < b->window && b->next < b->n) {
		c = &b->cs[b->next++];
		if (c->dead)
			continue;
		c->in_phase = 1;
		b->active++;
		if (c->step(c, NULL) == 0 && c->in_phase) {
			c->in_phase = 0;
			b->active--;
		}
	}
	b->filling = 0;
	if (b->active == 0 && b->next >= b->n) {
		b->t_done = now_ns();
		event_base_loopbreak(b->base);
	}
}

static void
client_done(struct client *c)
{
	struct bench *b = c->b;

	if (!c->in_phase)
		return;
	c->in_phase = 0;
	b->active--;
	b->t_done = now_ns();
	if (b->running && !b->filling)
		phase_fill(b);
}

/* The connection is unusable: count it, close it, take it out of the phase. */
static void
client_kill(struct client *c, const char *why)
{
	if (c->dead)
		return;
	/* Ten lines tell the story; ten thousand would bury it. */
	if (why != NULL && c->b->complaints++ < 10)
		fprintf(stderr, "glomail-bench: %s: %s\n", c->user,
		    why != NULL ? why : "connection lost");
	count_error(c);
	c->dead = 1;
	c->busy = 0;
	if (c->bev != NULL)
		bufferevent_disable(c->bev, EV_READ | EV_WRITE);
	if (c->timer != NULL)
		event_del(c->timer);
	client_done(c);
}

static void
client_step(struct client *c, struct msg *reply)
{
	if (!c->in_phase || c->dead)
		return;
	if (c->step(c, reply) == 0)
		client_done(c);
}

/* One reply: record its latency, judge it, and step the client. */
static void
client_reply(struct client *c, struct msg *m)
{
	uint64_t now = now_ns();
	long long h = msg_header(m);

	if (!c->busy) {
		client_kill(c, "reply to no request");
		return;
	}
	c->b->t_progress = now;
	if (c->expect == 0 || h == c->expect) {
		if (c->lat != NULL)
			lat_add(c->lat, now - c->t_sent);
	} else {
		count_error(c);
	}
	c->busy = 0;
	client_step(c, m);
}

/*
 * The header of a reply as glomaild encodes it ({"header": N, ...}), or -1
 * when the body starts otherwise. Lets the hot loops skip a JSON parse:
 * on two cores the load generator's own CPU is part of what is measured.
 */
static long
sniff_header(const unsigned char *p, size_t len)
{
	static const char lead[] = "{\"header\": ";
	size_t i = sizeof(lead) - 1;
	long h = 0;

	if (len <= i || memcmp(p, lead, i) != 0)
		return -1;
	for (; i < len && p[i] >= '0' && p[i] <= '9' && h < 1000; i++)
		h = h * 10 + (p[i] - '0');
	if (i == sizeof(lead) - 1 || i >= len || (p[i] != ',' && p[i] != '}'))
		return -1;
	return h;
}

/* Decode every whole frame buffered; frames are judged before the body waits. */
static void
read_cb(struct bufferevent *bev, void *arg)
{
	struct client *c = arg;
	struct evbuffer *in = bufferevent_get_input(bev);
	unsigned char *p;
	struct msg *m;
	const char *why;
	size_t avail, len;

	while (!c->dead) {
		avail = evbuffer_get_length(in);
		if (avail < FRAME_HEADER_LEN)
			return;
		p = evbuffer_pullup(in, FRAME_HEADER_LEN);
		if (p == NULL || frame_decode(p, FRAME_HEADER_LEN, REPLY_MAX,
		    &len) == FRAME_TOO_BIG) {
			client_kill(c, "reply frame too large");
			return;
		}
		if (avail - FRAME_HEADER_LEN < len)
			return;
		p = evbuffer_pullup(in, (ev_ssize_t)(FRAME_HEADER_LEN + len));
		if (p == NULL) {
			client_kill(c, "out of memory");
			return;
		}
		if (!c->need_payload &&
		    sniff_header(p + FRAME_HEADER_LEN, len) == PROTO_OK) {
			evbuffer_drain(in, FRAME_HEADER_LEN + len);
			client_reply(c, c->b->ok);
			continue;
		}
		if (msg_parse(p + FRAME_HEADER_LEN, len, &m, &why) == -1) {
			fprintf(stderr, "glomail-bench: %s: bad reply: %s\n",
			    c->user, why);
			client_kill(c, NULL);
			return;
		}
		evbuffer_drain(in, FRAME_HEADER_LEN + len);
		client_reply(c, m);
		msg_free(m);
	}
}

static void
event_cb(struct bufferevent *bev, short what, void *arg)
{
	struct client *c = arg;
	unsigned long e;
	char buf[256];

	(void)bev;
	if (what & BEV_EVENT_CONNECTED) {
		c->connected = 1;
		c->b->t_progress = now_ns();
		client_step(c, NULL);
		return;
	}
	if (what & BEV_EVENT_EOF) {
		client_kill(c, "server closed the connection");
	} else if (c->tls && (e = bufferevent_get_openssl_error(c->bev)) !=
	    0) {
		ERR_error_string_n(e, buf, sizeof(buf));
		client_kill(c, buf);
	} else {
		client_kill(c, evutil_socket_error_to_string(
		    evutil_socket_geterror(bufferevent_getfd(c->bev))));
	}
}

static void
timer_cb(evutil_socket_t fd, short what, void *arg)
{
	(void)fd;
	(void)what;
	client_step(arg, NULL);
}

/*
 * The same over TLS: connect, then the handshake, verifying the server's
 * certificate and name; the step runs again once the handshake is done.
 */
static int
client_open_tls(struct client *c)
{
	struct bench *b = c->b;
	const char *name = b->o.servername != NULL ? b->o.servername :
	    "localhost";
	SSL *ssl;
	int one = 1;

	if (b->tls_ctx == NULL || (ssl = SSL_new(b->tls_ctx)) == NULL)
		return -1;
	if (SSL_set_tlsext_host_name(ssl, name) != 1 ||
	    SSL_set1_host(ssl, name) != 1) {
		SSL_free(ssl);
		return -1;
	}
	/* The bufferevent owns ssl from here, and frees it with itself. */
	c->bev = bufferevent_openssl_socket_new(b->base, -1, ssl,
	    BUFFEREVENT_SSL_CONNECTING, BEV_OPT_CLOSE_ON_FREE);
	if (c->bev == NULL) {
		SSL_free(ssl);
		return -1;
	}
	bufferevent_setcb(c->bev, read_cb, NULL, event_cb, c);
	if (bufferevent_enable(c->bev, EV_READ | EV_WRITE) == -1 ||
	    bufferevent_socket_connect(c->bev, (struct sockaddr *)&b->tls_sa,
	    (int)b->tls_salen) == -1)
		return -1;
	/* The request follows the client's Finished: Nagle would hold it
	 * for the server's delayed acknowledgement. */
	setsockopt(bufferevent_getfd(c->bev), IPPROTO_TCP, TCP_NODELAY, &one,
	    sizeof(one));
	return 0;
}

/* Start a non-blocking connect; the step runs again once it completes. */
static int
client_open(struct client *c)
{
	struct bench *b = c->b;
	int fd, one = 1;

	if (c->tls)
		return client_open_tls(c);

	fd = socket(b->sa.ss_family, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC,
	    0);
	if (fd == -1) {
		fprintf(stderr, "glomail-bench: socket: %s\n", strerror(errno));
		return -1;
	}
	/* Requests are single writes waiting for a reply: never delay them. */
	setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
	c->bev = bufferevent_socket_new(b->base, fd, BEV_OPT_CLOSE_ON_FREE);
	if (c->bev == NULL) {
		close(fd);
		return -1;
	}
	bufferevent_setcb(c->bev, read_cb, NULL, event_cb, c);
	if (bufferevent_enable(c->bev, EV_READ | EV_WRITE) == -1 ||
	    bufferevent_socket_connect(c->bev, (struct sockaddr *)&b->sa,
	    (int)b->salen) == -1)
		return -1;
	return 0;
}

static int
send_bytes(struct client *c, const void *buf, size_t len, struct lat *lat,
    int reply)
{
	ssize_t n;

	if (c->dead || c->bev == NULL)
		return -1;
	if (reply) {
		c->busy = 1;
		c->lat = lat;
		c->expect = PROTO_OK;
		c->need_payload = 0;
		c->t_sent = now_ns();
	}
	/*
	 * Write straight to the socket when nothing is queued: going through
	 * the output buffer costs two epoll_ctl calls per request, and the
	 * generator's CPU is taken from the server's on a small machine.
	 */
	if (!c->tls && c->connected &&
	    evbuffer_get_length(bufferevent_get_output(c->bev)) == 0) {
		n = send(bufferevent_getfd(c->bev), buf, len,
		    MSG_NOSIGNAL | MSG_DONTWAIT);
		if (n == (ssize_t)len)
			return 0;
		if (n == -1 && errno != EAGAIN && errno != EWOULDBLOCK &&
		    errno != EINTR) {
			client_kill(c, strerror(errno));
			return -1;
		}
		if (n > 0) {
			buf = (const char *)buf + n;
			len -= (size_t)n;
		}
	}
	if (bufferevent_write(c->bev, buf, len) == -1) {
		client_kill(c, "write failed");
		return -1;
	}
	return 0;
}

int
client_request(struct client *c, int header, json_t *payload, struct lat *lat)
{
	unsigned char *frame;
	size_t len;
	int rc;

	if (msg_encode(header, payload, FRAME_MAX_LIMIT, &frame, &len) == -1) {
		c->b->errors++;
		return -1;
	}
	rc = send_bytes(c, frame, len, lat, 1);
	free(frame);
	return rc;
}

int
client_send_frame(struct client *c, struct lat *lat)
{
	return send_bytes(c, c->frame, c->frame_len, lat, 1);
}

int
client_send_noreply(struct client *c, int header)
{
	unsigned char *frame;
	size_t len;
	int rc;

	if (msg_encode(header, NULL, FRAME_MAX_LIMIT, &frame, &len) == -1)
		return -1;
	rc = send_bytes(c, frame, len, NULL, 0);
	free(frame);
	return rc;
}

int
client_pause(struct client *c, long usec)
{
	struct timeval tv = { usec / 1000000, usec % 1000000 };

	if (c->timer == NULL &&
	    (c->timer = evtimer_new(c->b->base, timer_cb, c)) == NULL)
		return -1;
	return evtimer_add(c->timer, &tv);
}

int
client_cache_frame(struct client *c, int header, json_t *payload)
{
	free(c->frame);
	c->frame = NULL;
	return msg_encode(header, payload, FRAME_MAX_LIMIT, &c->frame,
	    &c->frame_len);
}

int
client_cache_email(struct client *c, const char *dest, size_t size)
{
	struct msg_email e;
	char subject[64];
	char *content;
	size_t i;
	int rc;

	if ((content = malloc(size + 1)) == NULL)
		return -1;
	/* Printable text in 72-column lines, as a person's mail would be. */
	for (i = 0; i < size; i++)
		content[i] = (i % 73 == 72) ? '\n' : (char)('a' + i % 26);
	content[size] = '\0';
	snprintf(subject, sizeof(subject), "bench %d", c->id);
	e.sender = c->addr;
	e.destination = dest;
	e.subject = subject;
	e.date = "Tue, 12 Jul 2022 19:21:57 +0000";
	e.content = content;
	rc = client_cache_frame(c, PROTO_EMAIL_SENDING, msg_email_new(&e));
	free(content);
	return rc;
}

double
phase_run(struct bench *b, struct client *cs, int n, step_fn step,
    double deadline_s, long long budget)
{
	return phase_run_window(b, cs, n, step, deadline_s, budget, n);
}

double
phase_run_window(struct bench *b, struct client *cs, int n, step_fn step,
    double deadline_s, long long budget, int window)
{
	int i;

	b->cs = cs;
	b->n = n;
	b->next = 0;
	b->active = 0;
	b->window = window > 0 ? window : n;
	b->step = step;
	b->budget = budget > 0 ? budget : -1;
	b->t_start = b->t_done = b->t_progress = now_ns();
	b->deadline = deadline_s > 0 ?
	    b->t_start + (uint64_t)(deadline_s * 1e9) : 0;
	for (i = 0; i < n; i++) {
		cs[i].step = step;
		cs[i].in_phase = 0;
	}
	b->running = 1;
	phase_fill(b);
	if (b->active > 0)
		event_base_dispatch(b->base);
	b->running = 0;
	/* Whoever is still out did not answer in time: drop those connections. */
	for (i = 0; i < n; i++) {
		if (cs[i].in_phase) {
			client_kill(&cs[i], "no reply before the phase ended");
			cs[i].in_phase = 0;
		}
	}
	b->active = 0;
	return (double)(b->t_done - b->t_start) / 1e9;
}

int
phase_more(struct client *c)
{
	struct bench *b = c->b;

	if (b->deadline != 0 && now_ns() >= b->deadline)
		return 0;
	if (b->budget == 0)
		return 0;
	if (b->budget > 0)
		b->budget--;
	return 1;
}

/* Connect, then ask stats anonymously: any reply proves the server serves us. */
static int
connect_step(struct client *c, struct msg *reply)
{
	(void)reply;
	switch (c->state) {
	case 0:
		c->state = 1;
		if (client_open(c) == -1) {
			client_kill(c, "connect failed");
			return 0;
		}
		return 1;
	case 1:
		c->state = 2;
		if (client_request(c, PROTO_STATS_REQUEST, NULL, NULL) == -1)
			return 0;
		c->expect = 0;
		return 1;
	default:
		return 0;
	}
}

int
clients_connect(struct bench *b, struct client *cs, int n, int window)
{
	return clients_connect_by(b, cs, n, window, 0);
}

int
clients_connect_by(struct bench *b, struct client *cs, int n, int window,
    double deadline_s)
{
	int i, up = 0;

	for (i = 0; i < n; i++)
		cs[i].state = cs[i].bev != NULL ? 2 : 0;
	phase_run_window(b, cs, n, connect_step, deadline_s, 0, window);
	for (i = 0; i < n; i++)
		up += cs[i].connected && !cs[i].dead;
	return up;
}

/* Register; when the account exists, log in instead. */
static int
auth_step(struct client *c, struct msg *reply)
{
	const char *pw = c->b->o.password;

	switch (c->state) {
	case 0:
		c->state = 1;
		if (client_request(c, PROTO_AUTH_REGISTER,
		    msg_credentials_new(c->user, pw), NULL) == -1)
			return 0;
		c->expect = 0;
		return 1;
	case 1:
		if (reply != NULL && msg_header(reply) == PROTO_OK)
			return 0;
		/* FALLTHROUGH */
	case 2:
		c->state = 3;
		if (client_request(c, PROTO_AUTH_LOGIN,
		    msg_credentials_new(c->user, pw), NULL) == -1)
			return 0;
		c->expect = 0;
		return 1;
	default:
		if (reply == NULL || msg_header(reply) != PROTO_OK) {
			union msg_args a;
			const char *why;

			if (reply != NULL && msg_unpack(reply, PROTO_SHAPE_ERROR,
			    &a, &why) == 0)
				fprintf(stderr, "glomail-bench: %s: login "
				    "refused: %s\n", c->user, a.error_message);
			c->failed = 1;
			c->b->errors++;
		}
		return 0;
	}
}

int
clients_auth(struct bench *b, struct client *cs, int n)
{
	int i, failed = 0, shared;

	if (n <= 0)
		return 0;
	/*
	 * Clients sharing one account: create it once, then log the others in
	 * (racing registrations would each cost a password hash for nothing).
	 */
	shared = n > 1 && strcmp(cs[0].user, cs[n - 1].user) == 0;
	for (i = 0; i < n; i++) {
		cs[i].state = shared && i > 0 ? 2 : 0;
		cs[i].failed = 0;
	}
	if (shared) {
		phase_run(b, cs, 1, auth_step, 0, 0);
		phase_run_window(b, cs + 1, n - 1, auth_step, 0, 0, 64);
	} else {
		phase_run_window(b, cs, n, auth_step, 0, 0, 64);
	}
	for (i = 0; i < n; i++)
		failed += cs[i].failed || cs[i].dead;
	return failed;
}
