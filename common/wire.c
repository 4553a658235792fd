/*
 * wire.c - blocking frame I/O over a socket.
 */
#include <sys/types.h>
#include <sys/socket.h>
#include <sys/time.h>
#include <sys/un.h>

#include <errno.h>
#include <netdb.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <netinet/in.h>
#include <netinet/tcp.h>
#include <arpa/inet.h>

#include <openssl/err.h>
#include <openssl/ssl.h>
#include <openssl/x509v3.h>

#include "frame.h"
#include "wire.h"

struct wire {
	int fd;
	SSL_CTX *ctx;
	SSL *ssl;
	char desc[96];
};

/*
 * With nobody listening on a port of the ephemeral range, the kernel can
 * give a connecting socket that very port, and TCP's simultaneous open then
 * connects the socket to itself: it would read its own requests as replies
 * and keep the port from a server restarting on it. Such a connection is a
 * refusal.
 */
static int
self_connected(int fd)
{
	struct sockaddr_storage a, b;
	socklen_t alen = sizeof(a), blen = sizeof(b);

	if (getsockname(fd, (struct sockaddr *)&a, &alen) == -1 ||
	    getpeername(fd, (struct sockaddr *)&b, &blen) == -1)
		return 0;
	if (alen != blen || memcmp(&a, &b, alen) != 0)
		return 0;
	errno = ECONNREFUSED;
	return 1;
}

int
wire_connect(const char *host, const char *port, char *err, size_t errlen)
{
	struct addrinfo hints, *res, *ai;
	int fd = -1, rc, saved = 0;

	memset(&hints, 0, sizeof(hints));
	hints.ai_family = AF_UNSPEC;
	hints.ai_socktype = SOCK_STREAM;
	if ((rc = getaddrinfo(host, port, &hints, &res)) != 0) {
		snprintf(err, errlen, "%s: %s", host, gai_strerror(rc));
		return -1;
	}
	for (ai = res; ai != NULL; ai = ai->ai_next) {
		fd = socket(ai->ai_family, ai->ai_socktype | SOCK_CLOEXEC,
		    ai->ai_protocol);
		if (fd == -1) {
			saved = errno;
			continue;
		}
		if (connect(fd, ai->ai_addr, ai->ai_addrlen) == 0 &&
		    !self_connected(fd))
			break;
		saved = errno;
		close(fd);
		fd = -1;
	}
	freeaddrinfo(res);
	if (fd == -1)
		snprintf(err, errlen, "%s port %s: %s", host, port,
		    strerror(saved));
	return fd;
}

int
wire_connect_unix(const char *path, char *err, size_t errlen)
{
	struct sockaddr_un sun;
	int fd, saved;

	memset(&sun, 0, sizeof(sun));
	sun.sun_family = AF_UNIX;
	if (strlen(path) >= sizeof(sun.sun_path)) {
		snprintf(err, errlen, "%s: %s", path, strerror(ENAMETOOLONG));
		errno = ENAMETOOLONG;
		return -1;
	}
	memcpy(sun.sun_path, path, strlen(path) + 1);
	if ((fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0)) == -1) {
		snprintf(err, errlen, "socket: %s", strerror(errno));
		return -1;
	}
	if (connect(fd, (struct sockaddr *)&sun, sizeof(sun)) == -1) {
		saved = errno;
		snprintf(err, errlen, "%s: %s", path, strerror(saved));
		close(fd);
		errno = saved;
		return -1;
	}
	return fd;
}

int
wire_write_all(int fd, const void *buf, size_t len)
{
	const char *p = buf;
	ssize_t n;

	while (len > 0) {
		n = send(fd, p, len, MSG_NOSIGNAL);
		if (n == -1) {
			if (errno == EINTR)
				continue;
			return -1;
		}
		p += n;
		len -= (size_t)n;
	}
	return 0;
}

int
wire_send(int fd, int header, json_t *payload, size_t max)
{
	unsigned char *frame;
	size_t len;
	int rc;

	if (msg_encode(header, payload, max, &frame, &len) == -1)
		return -1;
	rc = wire_write_all(fd, frame, len);
	free(frame);
	return rc;
}

/* Read up to len bytes from a plain socket or a TLS stream: recv(2)'s
 * contract (0 at EOF, -1 with errno). */
static ssize_t
read_some(int fd, SSL *ssl, void *buf, size_t len)
{
	int n, e;

	if (ssl == NULL)
		return recv(fd, buf, len, 0);
	ERR_clear_error();
	if ((n = SSL_read(ssl, buf, len > INT32_MAX ? INT32_MAX : (int)len)) >
	    0)
		return n;
	e = SSL_get_error(ssl, n);
	if (e == SSL_ERROR_ZERO_RETURN)
		return 0;
	if (e == SSL_ERROR_SYSCALL && errno != 0)
		return -1;
	if (e == SSL_ERROR_SSL &&
	    ERR_GET_REASON(ERR_peek_last_error()) ==
	    SSL_R_UNEXPECTED_EOF_WHILE_READING)
		return 0;
	errno = e == SSL_ERROR_WANT_READ ? EAGAIN : EPROTO;
	return -1;
}

/* Read exactly len bytes. Returns 1, 0 on a clean EOF before any byte, -1. */
static int
read_exact(int fd, SSL *ssl, void *buf, size_t len)
{
	char *p = buf;
	size_t got = 0;
	ssize_t n;

	while (got < len) {
		n = read_some(fd, ssl, p + got, len - got);
		if (n == 0)
			return got == 0 ? 0 : -1;
		if (n == -1) {
			if (errno == EINTR)
				continue;
			return -1;
		}
		got += (size_t)n;
	}
	return 1;
}

/* One frame from fd or ssl. */
static int
recv_frame(int fd, SSL *ssl, size_t max, struct msg **msg_r,
    const char **why_r)
{
	unsigned char hdr[FRAME_HEADER_LEN];
	size_t len;
	char *body = NULL;
	int rc;

	if ((rc = read_exact(fd, ssl, hdr, sizeof(hdr))) != 1) {
		*why_r = rc == 0 || errno == ECONNRESET ? "connection closed" :
		    "read error";
		return -1;
	}
	if (frame_decode(hdr, sizeof(hdr), max, &len) == FRAME_TOO_BIG) {
		*why_r = "frame too large";
		return -1;
	}
	if ((body = malloc(len > 0 ? len : 1)) == NULL) {
		*why_r = "out of memory";
		return -1;
	}
	if (len > 0 && read_exact(fd, ssl, body, len) != 1) {
		*why_r = "connection closed";
		goto fail;
	}
	if (msg_parse(body, len, msg_r, why_r) == -1)
		goto fail;
	free(body);
	return 0;
fail:
	free(body);
	return -1;
}

int
wire_recv(int fd, size_t max, struct msg **msg_r, const char **why_r)
{
	return recv_frame(fd, NULL, max, msg_r, why_r);
}

/* Client side of TLS: verify the chain and the name, 1.2 at least. */
static int
tls_start(struct wire *w, const char *host, const struct wire_tls *tls,
    char *err, size_t errlen)
{
	const char *name = tls->servername != NULL ? tls->servername : host;
	unsigned char ip[16];
	int is_ip, rc;
	long vr;

	is_ip = inet_pton(AF_INET, name, ip) == 1 ||
	    inet_pton(AF_INET6, name, ip) == 1;
	ERR_clear_error();
	if ((w->ctx = SSL_CTX_new(TLS_client_method())) == NULL ||
	    SSL_CTX_set_min_proto_version(w->ctx, TLS1_2_VERSION) != 1)
		goto ssl_fail;
	SSL_CTX_set_verify(w->ctx, SSL_VERIFY_PEER, NULL);
	if (tls->cafile != NULL) {
		if (SSL_CTX_load_verify_locations(w->ctx, tls->cafile, NULL) !=
		    1) {
			snprintf(err, errlen, "%s: cannot load the "
			    "certificate authority", tls->cafile);
			return -1;
		}
	} else if (SSL_CTX_set_default_verify_paths(w->ctx) != 1)
		goto ssl_fail;
	if ((w->ssl = SSL_new(w->ctx)) == NULL ||
	    SSL_set_fd(w->ssl, w->fd) != 1)
		goto ssl_fail;
	if (is_ip) {
		/* RFC 6066: no SNI for an address; check it as an IP SAN. */
		if (X509_VERIFY_PARAM_set1_ip_asc(SSL_get0_param(w->ssl),
		    name) != 1)
			goto ssl_fail;
	} else if (SSL_set_tlsext_host_name(w->ssl, name) != 1 ||
	    SSL_set1_host(w->ssl, name) != 1)
		goto ssl_fail;
	if ((rc = SSL_connect(w->ssl)) != 1) {
		if ((vr = SSL_get_verify_result(w->ssl)) != X509_V_OK)
			snprintf(err, errlen, "TLS: %s",
			    X509_verify_cert_error_string(vr));
		else if (SSL_get_error(w->ssl, rc) == SSL_ERROR_SYSCALL &&
		    ERR_peek_error() == 0)
			snprintf(err, errlen, "TLS handshake: %s",
			    errno != 0 ? strerror(errno) :
			    "connection closed");
		else
			goto ssl_fail;
		return -1;
	}
	snprintf(w->desc, sizeof(w->desc), "%s %s", SSL_get_version(w->ssl),
	    SSL_get_cipher_name(w->ssl));
	return 0;
ssl_fail: {
		char why[200];
		unsigned long e, last = 0;

		while ((e = ERR_get_error()) != 0)
			last = e;
		if (last != 0)
			ERR_error_string_n(last, why, sizeof(why));
		else
			snprintf(why, sizeof(why), "failure");
		snprintf(err, errlen, "TLS: %s", why);
	}
	return -1;
}

struct wire *
wire_open(const char *host, const char *port, const struct wire_tls *tls,
    int timeout, char *err, size_t errlen)
{
	struct timeval tv = { timeout, 0 };
	struct wire *w;
	int one = 1;

	if ((w = calloc(1, sizeof(*w))) == NULL) {
		snprintf(err, errlen, "%s", strerror(errno));
		return NULL;
	}
	if ((w->fd = wire_connect(host, port, err, errlen)) == -1) {
		free(w);
		return NULL;
	}
	if (timeout > 0 && (setsockopt(w->fd, SOL_SOCKET, SO_RCVTIMEO, &tv,
	    sizeof(tv)) == -1 || setsockopt(w->fd, SOL_SOCKET, SO_SNDTIMEO,
	    &tv, sizeof(tv)) == -1)) {
		snprintf(err, errlen, "setsockopt: %s", strerror(errno));
		goto fail;
	}
	/* A request is one write; it should not wait for a delayed ACK. */
	(void)setsockopt(w->fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
	if (tls != NULL && tls_start(w, host, tls, err, errlen) == -1)
		goto fail;
	return w;
fail:
	SSL_free(w->ssl);
	SSL_CTX_free(w->ctx);
	close(w->fd);
	free(w);
	return NULL;
}

int
wire_write(struct wire *w, const void *buf, size_t len)
{
	const char *p = buf;
	int n;

	if (w->ssl == NULL)
		return wire_write_all(w->fd, buf, len);
	while (len > 0) {
		ERR_clear_error();
		n = SSL_write(w->ssl, p, len > INT32_MAX ? INT32_MAX :
		    (int)len);
		if (n <= 0) {
			if (SSL_get_error(w->ssl, n) == SSL_ERROR_SYSCALL &&
			    errno == EINTR)
				continue;
			return -1;
		}
		p += n;
		len -= (size_t)n;
	}
	return 0;
}

int
wire_read_msg(struct wire *w, size_t max, struct msg **msg_r,
    const char **why_r)
{
	return recv_frame(w->fd, w->ssl, max, msg_r, why_r);
}

ssize_t
wire_read_some(struct wire *w, void *buf, size_t len)
{
	ssize_t n;

	while ((n = read_some(w->fd, w->ssl, buf, len)) == -1 &&
	    errno == EINTR)
		;
	return n;
}

int
wire_shutdown_write(struct wire *w)
{
	if (w->ssl == NULL)
		return shutdown(w->fd, SHUT_WR);
	/* close_notify: the TLS way of saying "nothing more from me". */
	return SSL_shutdown(w->ssl) >= 0 ? 0 : -1;
}

int
wire_fd(const struct wire *w)
{
	return w->fd;
}

int
wire_pending(const struct wire *w)
{
	return w->ssl != NULL && SSL_pending(w->ssl) > 0;
}

const char *
wire_describe(const struct wire *w)
{
	return w->desc;
}

void
wire_close(struct wire *w)
{
	if (w == NULL)
		return;
	if (w->ssl != NULL) {
		/* close_notify, so the server logs a clean end. */
		(void)SSL_shutdown(w->ssl);
		SSL_free(w->ssl);
	}
	SSL_CTX_free(w->ctx);
	close(w->fd);
	free(w);
}
