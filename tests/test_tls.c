/*
 * test_tls.c - the server's TLS context: profiles, certificate and key
 * checks, reload keeping the old context on failure, credentials, and real
 * handshakes between the context and OpenSSL clients on a socketpair, and
 * the reactor's priorities that keep a burst of handshakes from delaying
 * connected clients.
 */
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/wait.h>

#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <cmocka.h>
#include <event2/buffer.h>
#include <event2/bufferevent.h>
#include <event2/bufferevent_ssl.h>
#include <event2/event.h>
#include <openssl/err.h>
#include <openssl/ssl.h>

#include "testsrv.h"
#include "tls.h"

static char certs[512];

/* DIR/name in a static buffer (one of four, for several in a call). */
static const char *
cert(const char *name)
{
	static char bufs[4][600];
	static int i;
	char *b = bufs[i++ % 4];

	snprintf(b, sizeof(bufs[0]), "%s/%s", certs, name);
	return b;
}

static int
setup(void **state)
{
	const char *dir = getenv("GLOMAIL_TLS_CERTS");

	(void)state;
	if (dir == NULL) {
		fprintf(stderr, "GLOMAIL_TLS_CERTS is not set\n");
		return -1;
	}
	snprintf(certs, sizeof(certs), "%s", dir);
	return 0;
}

static void
test_profiles(void **state)
{
	enum tls_profile p;

	(void)state;
	assert_int_equal(tls_profile_parse("intermediate", &p), 0);
	assert_int_equal(p, TLS_PROFILE_INTERMEDIATE);
	assert_int_equal(tls_profile_parse("modern", &p), 0);
	assert_int_equal(p, TLS_PROFILE_MODERN);
	assert_int_equal(tls_profile_parse("old", &p), -1);
	assert_int_equal(tls_profile_parse("", &p), -1);
	assert_string_equal(tls_profile_name(TLS_PROFILE_MODERN), "modern");
}

static void
test_load_refusals(void **state)
{
	char err[512], key[600];
	struct tls *t;

	(void)state;
	t = tls_new(cert("server.crt"), cert("server.key"),
	    TLS_PROFILE_INTERMEDIATE, err, sizeof(err));
	assert_non_null(t);
	assert_string_equal(tls_serial(t), "1000");
	tls_free(t);
	/* RSA works too. */
	t = tls_new(cert("rsa.crt"), cert("rsa.key"), TLS_PROFILE_MODERN, err,
	    sizeof(err));
	assert_non_null(t);
	tls_free(t);

	/* An encrypted key fails with a message, never a prompt. */
	assert_null(tls_new(cert("server.crt"), cert("encrypted.key"),
	    TLS_PROFILE_INTERMEDIATE, err, sizeof(err)));
	assert_non_null(strstr(err, "encrypted key is not supported"));

	/* A key others can read is refused, as OpenSSH does. */
	snprintf(key, sizeof(key), "%s/open.key", certs);
	{
		char *pem = testsrv_read_file(cert("server.key"));
		FILE *f = fopen(key, "w");

		assert_non_null(pem);
		assert_non_null(f);
		fputs(pem, f);
		fclose(f);
		free(pem);
	}
	assert_int_equal(chmod(key, 0640), 0);
	assert_null(tls_new(cert("server.crt"), key, TLS_PROFILE_INTERMEDIATE,
	    err, sizeof(err)));
	assert_non_null(strstr(err, "accessible by group or others"));
	assert_int_equal(chmod(key, 0600), 0);
	t = tls_new(cert("server.crt"), key, TLS_PROFILE_INTERMEDIATE, err,
	    sizeof(err));
	assert_non_null(t);
	tls_free(t);
	unlink(key);

	/* A key of another certificate. */
	assert_null(tls_new(cert("server.crt"), cert("other.key"),
	    TLS_PROFILE_INTERMEDIATE, err, sizeof(err)));
	assert_non_null(strstr(err, "does not match"));
	/* Missing files, a certificate that is not PEM. */
	assert_null(tls_new(cert("none.crt"), cert("server.key"),
	    TLS_PROFILE_INTERMEDIATE, err, sizeof(err)));
	assert_null(tls_new(cert("server.crt"), cert("none.key"),
	    TLS_PROFILE_INTERMEDIATE, err, sizeof(err)));
	assert_null(tls_new(cert("ca.cnf"), cert("server.key"),
	    TLS_PROFILE_INTERMEDIATE, err, sizeof(err)));
	assert_non_null(strstr(err, "cannot load the certificate"));
}

static void
test_reload(void **state)
{
	char err[512];
	struct tls *t;

	(void)state;
	t = tls_new(cert("server.crt"), cert("server.key"),
	    TLS_PROFILE_INTERMEDIATE, err, sizeof(err));
	assert_non_null(t);
	assert_string_equal(tls_serial(t), "1000");
	/* A broken new certificate: the old context stays in service. */
	assert_int_equal(tls_reload(t, cert("server2.crt"), cert("server.key"),
	                     TLS_PROFILE_INTERMEDIATE, err, sizeof(err)),
	    -1);
	assert_string_equal(tls_serial(t), "1000");
	assert_int_equal(tls_reload(t, cert("server2.crt"), cert("server2.key"),
	                     TLS_PROFILE_INTERMEDIATE, err, sizeof(err)),
	    0);
	assert_string_equal(tls_serial(t), "1001");
	tls_free(t);
}

static void
test_paths(void **state)
{
	char err[256], *c, *k;

	(void)state;
	unsetenv("CREDENTIALS_DIRECTORY");
	assert_int_equal(tls_paths("a.crt", "a.key", &c, &k, err, sizeof(err)),
	    0);
	assert_string_equal(c, "a.crt");
	assert_string_equal(k, "a.key");
	free(c);
	free(k);
	assert_int_equal(tls_paths(NULL, NULL, &c, &k, err, sizeof(err)), -1);
	assert_non_null(strstr(err, "tls-cert"));
	assert_int_equal(tls_paths("a.crt", NULL, &c, &k, err, sizeof(err)),
	    -1);
	assert_non_null(strstr(err, "tls-key is not"));
	setenv("CREDENTIALS_DIRECTORY", "/run/credentials/glomaild.service", 1);
	assert_int_equal(tls_paths(NULL, "", &c, &k, err, sizeof(err)), 0);
	assert_string_equal(c, "/run/credentials/glomaild.service/tls.crt");
	assert_string_equal(k, "/run/credentials/glomaild.service/tls.key");
	free(c);
	free(k);
	/* The settings win over the credentials. */
	assert_int_equal(tls_paths("a.crt", "a.key", &c, &k, err, sizeof(err)),
	    0);
	assert_string_equal(c, "a.crt");
	free(c);
	free(k);
	unsetenv("CREDENTIALS_DIRECTORY");
}

/*
 * Handshake the server context against a client SSL over a socketpair: the
 * client runs in a child process. Returns the negotiated version on the
 * server side (e.g. TLS1_3_VERSION) or -1 when the handshake failed.
 */
static int
handshake(struct tls *t, int min, int max, const char *ciphers)
{
	int sv[2], status, version = -1;
	pid_t pid;
	SSL *s;

	assert_int_equal(socketpair(AF_UNIX, SOCK_STREAM, 0, sv), 0);
	pid = fork();
	assert_true(pid >= 0);
	if (pid == 0) {
		SSL_CTX *cctx = SSL_CTX_new(TLS_client_method());
		SSL *c;

		close(sv[0]);
		signal(SIGPIPE, SIG_IGN);
		SSL_CTX_set_min_proto_version(cctx, min);
		SSL_CTX_set_max_proto_version(cctx, max);
		SSL_CTX_set_security_level(cctx, 0);
		if (ciphers != NULL)
			SSL_CTX_set_cipher_list(cctx, ciphers);
		c = SSL_new(cctx);
		SSL_set_fd(c, sv[1]);
		if (SSL_connect(c) == 1) {
			/* Renegotiation is off: asking for it fails. */
			if (SSL_version(c) == TLS1_2_VERSION &&
			    SSL_renegotiate(c) == 1 && SSL_do_handshake(c) == 1)
				_exit(3);
			SSL_write(c, "x", 1);
			SSL_shutdown(c);
			_exit(0);
		}
		_exit(1);
	}
	close(sv[1]);
	s = tls_ssl_new(t);
	assert_non_null(s);
	SSL_set_fd(s, sv[0]);
	if (SSL_accept(s) == 1) {
		char c;

		version = SSL_version(s);
		(void)SSL_read(s, &c, 1);
	}
	ERR_clear_error();
	SSL_free(s);
	close(sv[0]);
	assert_int_equal(waitpid(pid, &status, 0), pid);
	assert_true(WIFEXITED(status));
	assert_int_not_equal(WEXITSTATUS(status), 3);
	return version;
}

static void
test_handshakes(void **state)
{
	char err[512];
	struct tls *t;

	(void)state;
	t = tls_new(cert("server.crt"), cert("server.key"),
	    TLS_PROFILE_INTERMEDIATE, err, sizeof(err));
	assert_non_null(t);
	assert_int_equal(handshake(t, TLS1_3_VERSION, TLS1_3_VERSION, NULL),
	    TLS1_3_VERSION);
	assert_int_equal(handshake(t, TLS1_2_VERSION, TLS1_2_VERSION, NULL),
	    TLS1_2_VERSION);
	/* TLS 1.1, and TLS 1.2 without ECDHE or without an AEAD: refused. */
	assert_int_equal(handshake(t, TLS1_1_VERSION, TLS1_1_VERSION, NULL),
	    -1);
	assert_int_equal(handshake(t, TLS1_2_VERSION, TLS1_2_VERSION,
	                     "AES128-SHA"),
	    -1);
	assert_int_equal(handshake(t, TLS1_2_VERSION, TLS1_2_VERSION,
	                     "ECDHE-ECDSA-AES128-SHA"),
	    -1);
	tls_free(t);

	t = tls_new(cert("server.crt"), cert("server.key"), TLS_PROFILE_MODERN,
	    err, sizeof(err));
	assert_non_null(t);
	assert_int_equal(handshake(t, TLS1_3_VERSION, TLS1_3_VERSION, NULL),
	    TLS1_3_VERSION);
	assert_int_equal(handshake(t, TLS1_2_VERSION, TLS1_2_VERSION, NULL),
	    -1);
	tls_free(t);
}

/* What the priority test's callbacks saw. */
static struct {
	int started; /* server handshakes begun */
	int a_at;    /* handshakes begun when A's input was read */
	int b_at;    /* the same for B */
	int b_w;     /* written on the first handshake: B becomes ready */
	struct event_base *base;
} prun;

static void
prio_info_cb(const SSL *ssl, int where, int ret)
{
	(void)ssl;
	(void)ret;
	if ((where & SSL_CB_HANDSHAKE_START) && prun.started++ == 0)
		assert_int_equal(write(prun.b_w, "b", 1), 1);
}

static void
prio_read_a(struct bufferevent *bev, void *arg)
{
	(void)arg;
	evbuffer_drain(bufferevent_get_input(bev), 16);
	if (prun.a_at < 0)
		prun.a_at = prun.started;
}

static void
prio_read_b(struct bufferevent *bev, void *arg)
{
	(void)arg;
	evbuffer_drain(bufferevent_get_input(bev), 16);
	prun.b_at = prun.started;
	event_base_loopbreak(prun.base);
}

/* A plain bufferevent on one end of a new socketpair; *peer the other. */
static struct bufferevent *
prio_plain(struct event_base *base, bufferevent_data_cb cb, int *peer)
{
	struct bufferevent *bev;
	int sv[2];

	assert_int_equal(socketpair(AF_UNIX, SOCK_STREAM, 0, sv), 0);
	assert_int_equal(evutil_make_socket_nonblocking(sv[0]), 0);
	bev = bufferevent_socket_new(base, sv[0], BEV_OPT_CLOSE_ON_FREE);
	assert_non_null(bev);
	bufferevent_setcb(bev, cb, NULL, NULL, NULL);
	assert_int_equal(bufferevent_enable(bev, EV_READ), 0);
	*peer = sv[1];
	return bev;
}

/* One pending handshake: the client's SSL and the server's side. */
struct pending {
	SSL *cl;
	struct bufferevent *srv;
	struct tls_hs *hs;
};

/*
 * A client sends its ClientHello and waits; the server's bufferevent for
 * it, on base, is scheduled as a handshake and reads.
 */
static void
pending_open(struct pending *p, struct tls *t, SSL_CTX *cctx,
    struct tls_sched *sched)
{
	SSL *s;
	int sv[2];

	assert_int_equal(socketpair(AF_UNIX, SOCK_STREAM, 0, sv), 0);
	assert_int_equal(evutil_make_socket_nonblocking(sv[0]), 0);
	assert_int_equal(evutil_make_socket_nonblocking(sv[1]), 0);
	p->cl = SSL_new(cctx);
	assert_non_null(p->cl);
	SSL_set_fd(p->cl, sv[1]);
	assert_int_equal(SSL_connect(p->cl), -1);
	assert_int_equal(SSL_get_error(p->cl, -1), SSL_ERROR_WANT_READ);
	assert_non_null(s = tls_ssl_new(t));
	SSL_set_info_callback(s, prio_info_cb);
	p->srv = bufferevent_openssl_socket_new(prun.base, sv[0], s,
	    BUFFEREVENT_SSL_ACCEPTING, BEV_OPT_CLOSE_ON_FREE);
	assert_non_null(p->srv);
	assert_non_null(p->hs = tls_hs_begin(sched, p->srv));
	assert_int_equal(bufferevent_get_priority(p->srv), TLS_PRIO_HANDSHAKE);
	assert_int_equal(bufferevent_enable(p->srv, EV_READ), 0);
}

static void
pending_close(struct pending *p)
{
	tls_hs_end(p->hs);
	bufferevent_free(p->srv);
	close(SSL_get_fd(p->cl));
	SSL_free(p->cl);
}

/*
 * 24 ClientHellos wait on the server's sockets (fewer than libevent's first
 * epoll batch of 32), then a connected client's request (A). A is read
 * before any handshake step (handshakes run last), and a request that
 * becomes ready once handshakes began (B) is read after at most a batch of
 * them, not after all 24 (the loop polls again between batches).
 */
static void
test_handshake_priority(void **state)
{
	enum { N = 24 };
	struct bufferevent *a, *b, *plain, *filter;
	struct pending p[N];
	struct tls_hs *fhs;
	struct tls_sched *sched;
	SSL_CTX *cctx;
	char err[512];
	struct tls *t;
	int i, sv[2], a_w, b_w;

	(void)state;
	memset(&prun, 0, sizeof(prun));
	prun.a_at = prun.b_at = -1;
	t = tls_new(cert("server.crt"), cert("server.key"),
	    TLS_PROFILE_INTERMEDIATE, err, sizeof(err));
	assert_non_null(t);
	prun.base = tls_base_new();
	assert_non_null(prun.base);
	assert_int_equal(event_base_get_npriorities(prun.base), TLS_PRIOS);
	sched = tls_sched_new(prun.base);
	assert_non_null(sched);
	cctx = SSL_CTX_new(TLS_client_method());
	assert_non_null(cctx);
	for (i = 0; i < N; i++)
		pending_open(&p[i], t, cctx, sched);
	a = prio_plain(prun.base, prio_read_a, &a_w);
	b = prio_plain(prun.base, prio_read_b, &b_w);
	prun.b_w = b_w;
	assert_int_equal(bufferevent_get_priority(a), TLS_PRIO_NORMAL);
	assert_int_equal(write(a_w, "a", 1), 1);
	assert_int_equal(event_base_dispatch(prun.base), 0);
	assert_int_equal(prun.a_at, 0);
	assert_true(prun.b_at >= 1);
	assert_true(prun.b_at <= TLS_HANDSHAKE_BATCH);
	assert_true(prun.b_at < N);

	/* STARTTLS: a filter's handshake runs on the socket beneath it. */
	assert_int_equal(socketpair(AF_UNIX, SOCK_STREAM, 0, sv), 0);
	plain = bufferevent_socket_new(prun.base, sv[0], BEV_OPT_CLOSE_ON_FREE);
	assert_non_null(plain);
	filter = bufferevent_openssl_filter_new(prun.base, plain,
	    tls_ssl_new(t), BUFFEREVENT_SSL_ACCEPTING, BEV_OPT_CLOSE_ON_FREE);
	assert_non_null(filter);
	fhs = tls_hs_begin(sched, filter);
	assert_non_null(fhs);
	assert_int_equal(bufferevent_get_priority(plain), TLS_PRIO_HANDSHAKE);
	tls_hs_end(fhs);
	assert_int_equal(bufferevent_get_priority(plain), TLS_PRIO_NORMAL);
	/* Nothing starved here: the guard moved nobody. */
	assert_int_equal(tls_sched_promoted(sched), 0);

	bufferevent_free(filter);
	close(sv[1]);
	for (i = 0; i < N; i++)
		pending_close(&p[i]);
	bufferevent_free(a);
	bufferevent_free(b);
	close(a_w);
	close(b_w);
	SSL_CTX_free(cctx);
	tls_sched_free(sched);
	event_base_free(prun.base);
	tls_free(t);
	ERR_clear_error();
}

/* A peer that keeps the loop busy: its socket is readable at every turn. */
static void
spin_cb(evutil_socket_t fd, short what, void *arg)
{
	(void)fd;
	(void)what;
	(void)arg;
	if (prun.started >= prun.a_at)
		event_base_loopbreak(prun.base);
}

static void
deadline_cb(evutil_socket_t fd, short what, void *arg)
{
	(void)fd;
	(void)what;
	(void)arg;
	event_base_loopbreak(prun.base);
}

/*
 * Handshakes are never starved: while a normal-priority event is ready at
 * every loop turn (a client pipelining requests), waiting handshakes move
 * to the normal priority after TLS_STARVED_MS and go on.
 */
static void
test_handshake_starvation(void **state)
{
	enum { N = 4 };
	struct pending p[N];
	struct tls_sched *sched;
	struct event *spin, *deadline;
	struct timeval two_s = { 2, 0 };
	SSL_CTX *cctx;
	char err[512];
	struct tls *t;
	int i, sv[2];

	(void)state;
	memset(&prun, 0, sizeof(prun));
	prun.a_at = N; /* spin until this many handshakes began */
	assert_int_equal(socketpair(AF_UNIX, SOCK_STREAM, 0, sv), 0);
	prun.b_w = sv[1]; /* the info callback writes one more byte there */
	t = tls_new(cert("server.crt"), cert("server.key"),
	    TLS_PROFILE_INTERMEDIATE, err, sizeof(err));
	assert_non_null(t);
	assert_non_null(prun.base = tls_base_new());
	assert_non_null(sched = tls_sched_new(prun.base));
	cctx = SSL_CTX_new(TLS_client_method());
	assert_non_null(cctx);
	for (i = 0; i < N; i++)
		pending_open(&p[i], t, cctx, sched);
	/* A byte nobody reads: level-triggered, ready at every poll. */
	assert_int_equal(write(sv[1], "x", 1), 1);
	spin = event_new(prun.base, sv[0], EV_READ | EV_PERSIST, spin_cb, NULL);
	deadline = evtimer_new(prun.base, deadline_cb, NULL);
	assert_non_null(spin);
	assert_non_null(deadline);
	assert_int_equal(event_priority_set(deadline, 0), 0);
	assert_int_equal(evtimer_add(deadline, &two_s), 0);
	assert_int_equal(event_add(spin, NULL), 0);
	assert_int_equal(event_base_dispatch(prun.base), 0);
	assert_int_equal(prun.started, N);
	assert_int_equal(tls_sched_promoted(sched), N);
	for (i = 0; i < N; i++)
		assert_int_equal(bufferevent_get_priority(p[i].srv),
		    TLS_PRIO_NORMAL);

	event_free(spin);
	event_free(deadline);
	for (i = 0; i < N; i++)
		pending_close(&p[i]);
	close(sv[0]);
	close(sv[1]);
	SSL_CTX_free(cctx);
	tls_sched_free(sched);
	event_base_free(prun.base);
	tls_free(t);
	ERR_clear_error();
}

static void
test_describe_errors(void **state)
{
	unsigned long codes[3];
	char buf[512];

	(void)state;
	/* Nothing but SSL_get_error()'s own code: the peer went away. */
	codes[0] = SSL_ERROR_SYSCALL;
	assert_int_equal(tls_describe_errors(codes, 1, buf, sizeof(buf)), 1);
	assert_string_equal(buf, "connection closed by peer");
	/* Plaintext on the TLS port is a scanner, not an error. */
	codes[0] = SSL_ERROR_SSL;
	codes[1] = ERR_PACK(ERR_LIB_SSL, 0, SSL_R_WRONG_VERSION_NUMBER);
	assert_int_equal(tls_describe_errors(codes, 2, buf, sizeof(buf)), 1);
	assert_non_null(strstr(buf, "wrong version number"));
	/* A bad certificate from a client is worth a warning. */
	codes[1] = ERR_PACK(ERR_LIB_SSL, 0, SSL_R_BAD_SIGNATURE);
	assert_int_equal(tls_describe_errors(codes, 2, buf, sizeof(buf)), 0);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_profiles),
		cmocka_unit_test(test_load_refusals),
		cmocka_unit_test(test_reload),
		cmocka_unit_test(test_paths),
		cmocka_unit_test(test_handshakes),
		cmocka_unit_test(test_handshake_priority),
		cmocka_unit_test(test_handshake_starvation),
		cmocka_unit_test(test_describe_errors),
	};

	return cmocka_run_group_tests(tests, setup, NULL);
}
