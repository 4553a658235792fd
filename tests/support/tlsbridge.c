/*
 * tlsbridge.c - plaintext in, TLS out: one thread accepts, one thread per
 * connection relays both ways with poll(2).
 */
#include <sys/socket.h>

#include <netinet/in.h>
#include <netinet/tcp.h>
#include <errno.h>
#include <poll.h>
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <openssl/err.h>
#include <openssl/ssl.h>

#include "tlsbridge.h"
#include "wire.h"

struct tlsbridge {
	int lfd;
	pthread_t thread;
	pthread_mutex_t lock;
	char target[16];
	char cafile[512];
	volatile int stopping;
	int relays;                 /* relay threads running */
};

struct relay {
	struct tlsbridge *b;
	int fd;
};

static void
relay_done(struct relay *r)
{
	pthread_mutex_lock(&r->b->lock);
	r->b->relays--;
	pthread_mutex_unlock(&r->b->lock);
	free(r);
}

/* Carry bytes both ways until either side ends; close_notify at the end. */
static void *
relay_run(void *arg)
{
	struct relay *r = arg;
	struct wire_tls tls = { r->b->cafile, NULL };
	struct wire *w;
	char target[16], err[256], buf[16384];
	struct pollfd p[2];
	ssize_t n;

	pthread_mutex_lock(&r->b->lock);
	snprintf(target, sizeof(target), "%s", r->b->target);
	pthread_mutex_unlock(&r->b->lock);
	if ((w = wire_open("127.0.0.1", target, &tls, 0, err,
	    sizeof(err))) == NULL) {
		close(r->fd);
		relay_done(r);
		return NULL;
	}
	p[0].fd = r->fd;
	p[0].events = POLLIN;
	p[1].fd = wire_fd(w);
	p[1].events = POLLIN;
	while (!r->b->stopping) {
		if (!wire_pending(w) && poll(p, 2, 200) <= 0)
			continue;
		if (p[0].revents & (POLLIN | POLLHUP | POLLERR)) {
			if ((n = read(r->fd, buf, sizeof(buf))) < 0)
				break;
			if (n == 0) {
				/* The client has sent all (a half close): the
				 * server hears close_notify and answers what
				 * came before it. */
				if (wire_shutdown_write(w) == -1)
					break;
				p[0].fd = -1;
			} else if (wire_write(w, buf, (size_t)n) == -1)
				break;
		}
		if (wire_pending(w) ||
		    (p[1].revents & (POLLIN | POLLHUP | POLLERR))) {
			if ((n = wire_read_some(w, buf, sizeof(buf))) <= 0)
				break;
			if (send(r->fd, buf, (size_t)n, MSG_NOSIGNAL) != n)
				break;
		}
		p[0].revents = p[1].revents = 0;
	}
	wire_close(w);
	close(r->fd);
	relay_done(r);
	return NULL;
}

static void *
accept_run(void *arg)
{
	struct tlsbridge *b = arg;
	struct relay *r;
	pthread_t t;
	int fd, one = 1;

	while (!b->stopping) {
		if ((fd = accept(b->lfd, NULL, NULL)) == -1) {
			if (errno == EINTR || errno == ECONNABORTED)
				continue;
			break;
		}
		(void)setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one,
		    sizeof(one));
		if ((r = calloc(1, sizeof(*r))) == NULL) {
			close(fd);
			continue;
		}
		r->b = b;
		r->fd = fd;
		pthread_mutex_lock(&b->lock);
		b->relays++;
		pthread_mutex_unlock(&b->lock);
		if (pthread_create(&t, NULL, relay_run, r) != 0) {
			close(fd);
			relay_done(r);
			continue;
		}
		pthread_detach(t);
	}
	return NULL;
}

struct tlsbridge *
tlsbridge_start(const char *target, const char *cafile, char *port_r,
    size_t portlen)
{
	struct sockaddr_in sa = { .sin_family = AF_INET };
	socklen_t len = sizeof(sa);
	struct tlsbridge *b;

	signal(SIGPIPE, SIG_IGN);
	if ((b = calloc(1, sizeof(*b))) == NULL)
		return NULL;
	pthread_mutex_init(&b->lock, NULL);
	snprintf(b->target, sizeof(b->target), "%s", target);
	snprintf(b->cafile, sizeof(b->cafile), "%s", cafile);
	sa.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	if ((b->lfd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0)) == -1 ||
	    bind(b->lfd, (struct sockaddr *)&sa, sizeof(sa)) == -1 ||
	    listen(b->lfd, 1024) == -1 ||
	    getsockname(b->lfd, (struct sockaddr *)&sa, &len) == -1 ||
	    pthread_create(&b->thread, NULL, accept_run, b) != 0) {
		if (b->lfd != -1)
			close(b->lfd);
		free(b);
		return NULL;
	}
	snprintf(port_r, portlen, "%d", ntohs(sa.sin_port));
	return b;
}

void
tlsbridge_retarget(struct tlsbridge *b, const char *target)
{
	pthread_mutex_lock(&b->lock);
	snprintf(b->target, sizeof(b->target), "%s", target);
	pthread_mutex_unlock(&b->lock);
}

void
tlsbridge_stop(struct tlsbridge *b)
{
	if (b == NULL)
		return;
	struct timespec ts = { 0, 20 * 1000 * 1000 };
	int i, left;

	b->stopping = 1;
	shutdown(b->lfd, SHUT_RDWR);
	pthread_join(b->thread, NULL);
	close(b->lfd);
	/* Relays see stopping within their poll period. */
	for (i = 0; i < 250; i++) {
		pthread_mutex_lock(&b->lock);
		left = b->relays;
		pthread_mutex_unlock(&b->lock);
		if (left == 0)
			break;
		nanosleep(&ts, NULL);
	}
	if (left == 0) {
		pthread_mutex_destroy(&b->lock);
		free(b);
	}
}
