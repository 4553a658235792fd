/*
 * tls.c - the server's TLS context (OpenSSL 3).
 *
 * The profiles follow Mozilla's server-side guidelines: "intermediate" is
 * TLS 1.2 and 1.3 with ECDHE AEAD suites only (no DHE, so no DH parameters
 * to manage), "modern" TLS 1.3 only. Renegotiation, compression, session
 * tickets and the session cache are off: the clients are one-shot command
 * lines and resumption would only keep state per client. Idle connections
 * give their record buffers back (SSL_MODE_RELEASE_BUFFERS): a server holding
 * thousands of mostly idle sessions saves ~34 KiB each.
 */
#include <sys/queue.h>
#include <sys/stat.h>

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <event2/bufferevent.h>
#include <event2/event.h>
#include <openssl/bn.h>
#include <openssl/err.h>
#include <openssl/pem.h>
#include <openssl/x509.h>
#include <openssl/x509v3.h>

#include "log.h"
#include "tls.h"

#define TLS_EXPIRY_WARN_DAYS 14

struct tls {
	SSL_CTX *ctx;
	char serial[80];
};

/* TLS 1.2 suites of the intermediate profile: ECDHE with an AEAD. */
static const char tls12_ciphers
    [] = "ECDHE-ECDSA-AES128-GCM-SHA256:ECDHE-RSA-AES128-GCM-SHA256:"
         "ECDHE-ECDSA-AES256-GCM-SHA384:ECDHE-RSA-AES256-GCM-SHA384:"
         "ECDHE-ECDSA-CHACHA20-POLY1305:ECDHE-RSA-CHACHA20-POLY1305";
static const char
    tls13_suites[] = "TLS_AES_128_GCM_SHA256:TLS_AES_256_GCM_SHA384:"
                     "TLS_CHACHA20_POLY1305_SHA256";

int
tls_profile_parse(const char *name, enum tls_profile *profile_r)
{
	if (strcmp(name, "intermediate") == 0)
		*profile_r = TLS_PROFILE_INTERMEDIATE;
	else if (strcmp(name, "modern") == 0)
		*profile_r = TLS_PROFILE_MODERN;
	else
		return -1;
	return 0;
}

const char *
tls_profile_name(enum tls_profile profile)
{
	return profile == TLS_PROFILE_MODERN ? "modern" : "intermediate";
}

int
tls_paths(const char *cert, const char *key, char **cert_r, char **key_r,
    char *err, size_t errlen)
{
	const char *creds = getenv("CREDENTIALS_DIRECTORY");
	char *c = NULL, *k = NULL;

	*cert_r = *key_r = NULL;
	if (cert != NULL && *cert != '\0' && key != NULL && *key != '\0') {
		c = strdup(cert);
		k = strdup(key);
	} else if ((cert == NULL || *cert == '\0') &&
	           (key == NULL || *key == '\0') && creds != NULL &&
	           *creds != '\0') {
		if (asprintf(&c, "%s/tls.crt", creds) == -1)
			c = NULL;
		if (asprintf(&k, "%s/tls.key", creds) == -1)
			k = NULL;
	} else {
		snprintf(err, errlen, "%s",
		    cert != NULL && *cert != '\0'
		        ? "tls-cert is set but tls-key is not"
		    : key != NULL && *key != '\0'
		        ? "tls-key is set but tls-cert is not"
		        : "a TLS listener needs tls-cert and tls-key (or systemd "
		          "credentials tls.crt and tls.key)");
		return -1;
	}
	if (c == NULL || k == NULL) {
		free(c);
		free(k);
		snprintf(err, errlen, "out of memory");
		return -1;
	}
	*cert_r = c;
	*key_r = k;
	return 0;
}

/* An encrypted key must fail, not prompt on the terminal of a daemon. */
static int
refuse_passphrase(char *buf, int size, int rwflag, void *arg)
{
	(void)buf;
	(void)size;
	(void)rwflag;
	(void)arg;
	return 0;
}

/* The newest queued OpenSSL error as text (and clear the queue). */
static void
ssl_error(char *buf, size_t len)
{
	unsigned long e, last = 0;

	while ((e = ERR_get_error()) != 0)
		last = e;
	if (last == 0)
		snprintf(buf, len, "unknown error");
	else
		ERR_error_string_n(last, buf, len);
}

/*
 * As OpenSSH does for its host keys: a private key others can read is a
 * key that may already be known to them; refuse to serve with it.
 */
static int
check_key_file(const char *key, char *err, size_t errlen)
{
	char head[8192];
	struct stat st;
	ssize_t n;
	int fd;

	if ((fd = open(key, O_RDONLY | O_CLOEXEC | O_NOCTTY)) == -1) {
		snprintf(err, errlen, "%s: %s", key, strerror(errno));
		return -1;
	}
	if (fstat(fd, &st) == -1 ||
	    (n = read(fd, head, sizeof(head) - 1)) == -1) {
		snprintf(err, errlen, "%s: %s", key, strerror(errno));
		close(fd);
		return -1;
	}
	close(fd);
	head[n] = '\0';
	if (!S_ISREG(st.st_mode)) {
		snprintf(err, errlen, "%s: not a regular file", key);
		return -1;
	}
	if ((st.st_mode & (S_IRWXG | S_IRWXO)) != 0) {
		snprintf(err, errlen,
		    "%s: the private key is accessible by group or others "
		    "(mode %04o); chmod 600 it",
		    key, (unsigned)(st.st_mode & 07777));
		return -1;
	}
	/* PKCS#8 and the traditional PEM form both say so in clear. */
	if (strstr(head, "-----BEGIN ENCRYPTED PRIVATE KEY-----") != NULL ||
	    strstr(head, "Proc-Type: 4,ENCRYPTED") != NULL) {
		snprintf(err, errlen,
		    "%s: an encrypted key is not supported "
		    "(a service cannot be asked for its passphrase): decrypt "
		    "it with openssl pkey and keep it mode 0600",
		    key);
		return -1;
	}
	return 0;
}

/* Whole days from now to the certificate's notAfter (negative: expired). */
static int
expiry_days(const X509 *x, int *days_r)
{
	int days, secs;

	if (ASN1_TIME_diff(&days, &secs, NULL, X509_get0_notAfter(x)) != 1)
		return -1;
	*days_r = days;
	return 0;
}

/* Log what is being served; remember the serial. */
static void
describe_cert(struct tls *t, const char *path)
{
	X509 *x = SSL_CTX_get0_certificate(t->ctx);
	char subject[256] = "?", notafter[64] = "?";
	BIGNUM *bn;
	char *hex;
	BIO *b;
	int days = 0;

	t->serial[0] = '\0';
	if (x == NULL)
		return;
	X509_NAME_oneline(X509_get_subject_name(x), subject, sizeof(subject));
	if ((bn = ASN1_INTEGER_to_BN(X509_get0_serialNumber(x), NULL)) !=
	    NULL) {
		if ((hex = BN_bn2hex(bn)) != NULL) {
			snprintf(t->serial, sizeof(t->serial), "%s", hex);
			OPENSSL_free(hex);
		}
		BN_free(bn);
	}
	if ((b = BIO_new(BIO_s_mem())) != NULL) {
		if (ASN1_TIME_print(b, X509_get0_notAfter(x)) == 1) {
			int n = BIO_read(b, notafter, sizeof(notafter) - 1);
			notafter[n > 0 ? n : 0] = '\0';
		}
		BIO_free(b);
	}
	log_info("tls certificate file=%s subject=\"%s\" serial=%s "
	         "expires=\"%s\"",
	    path, subject, t->serial, notafter);
	if (expiry_days(x, &days) == 0 && days < TLS_EXPIRY_WARN_DAYS) {
		if (days < 0)
			log_warn("tls certificate file=%s has expired", path);
		else
			log_warn("tls certificate file=%s expires in %d days",
			    path, days);
	}
}

static SSL_CTX *
ctx_build(const char *cert, const char *key, enum tls_profile profile,
    char *err, size_t errlen)
{
	char why[256];
	SSL_CTX *ctx;

	if (check_key_file(key, err, errlen) == -1)
		return NULL;
	ERR_clear_error();
	if ((ctx = SSL_CTX_new(TLS_server_method())) == NULL) {
		ssl_error(why, sizeof(why));
		snprintf(err, errlen, "TLS context: %s", why);
		return NULL;
	}
	if (SSL_CTX_set_min_proto_version(ctx, profile == TLS_PROFILE_MODERN
	                                           ? TLS1_3_VERSION
	                                           : TLS1_2_VERSION) != 1 ||
	    SSL_CTX_set_cipher_list(ctx, tls12_ciphers) != 1 ||
	    SSL_CTX_set_ciphersuites(ctx, tls13_suites) != 1 ||
	    SSL_CTX_set1_groups_list(ctx, "X25519:P-256:P-384") != 1) {
		ssl_error(why, sizeof(why));
		snprintf(err, errlen, "TLS profile: %s", why);
		goto fail;
	}
	/*
	 * A peer closing without close_notify is an ordinary end for both
	 * protocols here, which detect truncation themselves (length-prefixed
	 * frames); OpenSSL 3 would otherwise report it as a protocol error.
	 */
	SSL_CTX_set_options(ctx, SSL_OP_NO_RENEGOTIATION |
	                             SSL_OP_IGNORE_UNEXPECTED_EOF |
	                             SSL_OP_NO_TICKET | SSL_OP_NO_COMPRESSION);
	SSL_CTX_set_num_tickets(ctx, 0);
	SSL_CTX_set_session_cache_mode(ctx, SSL_SESS_CACHE_OFF);
	SSL_CTX_set_mode(ctx, SSL_MODE_RELEASE_BUFFERS);
	SSL_CTX_set_default_passwd_cb(ctx, refuse_passphrase);
	if (SSL_CTX_use_certificate_chain_file(ctx, cert) != 1) {
		ssl_error(why, sizeof(why));
		snprintf(err, errlen, "%s: cannot load the certificate: %s",
		    cert, why);
		goto fail;
	}
	if (SSL_CTX_use_PrivateKey_file(ctx, key, SSL_FILETYPE_PEM) != 1) {
		int mismatch = ERR_GET_REASON(ERR_peek_last_error()) ==
		               X509_R_KEY_VALUES_MISMATCH;

		ssl_error(why, sizeof(why));
		if (mismatch)
			snprintf(err, errlen, "%s does not match %s: %s", key,
			    cert, why);
		else
			snprintf(err, errlen,
			    "%s: cannot load the private "
			    "key: %s",
			    key, why);
		goto fail;
	}
	if (SSL_CTX_check_private_key(ctx) != 1) {
		ssl_error(why, sizeof(why));
		snprintf(err, errlen, "%s does not match %s: %s", key, cert,
		    why);
		goto fail;
	}
	return ctx;
fail:
	SSL_CTX_free(ctx);
	return NULL;
}

struct tls *
tls_new(const char *cert, const char *key, enum tls_profile profile, char *err,
    size_t errlen)
{
	struct tls *t;

	if ((t = calloc(1, sizeof(*t))) == NULL) {
		snprintf(err, errlen, "out of memory");
		return NULL;
	}
	if ((t->ctx = ctx_build(cert, key, profile, err, errlen)) == NULL) {
		free(t);
		return NULL;
	}
	describe_cert(t, cert);
	return t;
}

int
tls_reload(struct tls *t, const char *cert, const char *key,
    enum tls_profile profile, char *err, size_t errlen)
{
	SSL_CTX *ctx;

	if ((ctx = ctx_build(cert, key, profile, err, errlen)) == NULL)
		return -1;
	/* Live SSLs hold their own reference to the old context. */
	SSL_CTX_free(t->ctx);
	t->ctx = ctx;
	describe_cert(t, cert);
	return 0;
}

SSL *
tls_ssl_new(struct tls *t)
{
	return SSL_new(t->ctx);
}

const char *
tls_serial(const struct tls *t)
{
	return t->serial;
}

void
tls_free(struct tls *t)
{
	if (t == NULL)
		return;
	SSL_CTX_free(t->ctx);
	free(t);
}

int
tls_describe_errors(unsigned long *codes, size_t ncodes, char *buf, size_t len)
{
	size_t i, used = 0;
	int benign = 0, any = 0;
	char one[200];

	buf[0] = '\0';
	for (i = 0; i < ncodes; i++) {
		unsigned long e = codes[i];
		int reason;

		/* libevent pushes SSL_get_error()'s code first: not an ERR. */
		if (e < 256)
			continue;
		any = 1;
		reason = ERR_GET_REASON(e);
		if (reason == SSL_R_WRONG_VERSION_NUMBER ||
		    reason == SSL_R_HTTP_REQUEST ||
		    reason == SSL_R_HTTPS_PROXY_REQUEST ||
		    reason == SSL_R_UNEXPECTED_EOF_WHILE_READING ||
		    reason == SSL_R_NO_SHARED_CIPHER ||
		    reason == SSL_R_UNSUPPORTED_PROTOCOL ||
		    reason == SSL_R_VERSION_TOO_LOW ||
		    reason == SSL_R_UNKNOWN_PROTOCOL ||
		    reason == SSL_R_RECORD_LENGTH_MISMATCH ||
		    reason == SSL_R_PACKET_LENGTH_TOO_LONG)
			benign = 1;
		ERR_error_string_n(e, one, sizeof(one));
		if (used < len)
			used += (size_t)snprintf(buf + used, len - used, "%s%s",
			    used > 0 ? "; " : "", one);
	}
	if (!any) {
		/* A reset or an EOF without a TLS alert: the peer vanished. */
		snprintf(buf, len, "connection closed by peer");
		benign = 1;
	}
	return benign;
}

struct event_base *
tls_base_new(void)
{
	struct event_config *cfg;
	struct event_base *base = NULL;
	struct timeval slice = { 0, TLS_HANDSHAKE_SLICE_US };

	if ((cfg = event_config_new()) == NULL)
		return NULL;
	if (event_config_set_max_dispatch_interval(cfg, &slice,
	        TLS_HANDSHAKE_BATCH, TLS_PRIO_HANDSHAKE) == 0)
		base = event_base_new_with_config(cfg);
	event_config_free(cfg);
	if (base != NULL && event_base_priority_init(base, TLS_PRIOS) == -1) {
		event_base_free(base);
		base = NULL;
	}
	return base;
}

/*
 * The handshakes in progress on one base, at TLS_PRIO_HANDSHAKE. Strict
 * priorities could starve them: a peer that keeps the loop busy at the
 * normal priority (pipelining requests, or just errors, without logging in)
 * would leave every handshake waiting until its timeout. A canary event at
 * the handshake priority tells whether that priority got a turn; a timer at
 * the highest priority checks it every TLS_STARVED_MS while handshakes are
 * waiting, and when it did not run, the oldest waiting handshakes move to
 * the normal priority and compete in arrival order, as without priorities:
 * one at the first check, twice as many at each further one while the
 * starvation lasts (up to TLS_PROMOTE_MAX), one again once the canary ran.
 * A storm of handshakes keeps the normal priority busy that long now and
 * then by itself (each handshake that ends brings a request): a few moved
 * then cost connected clients next to nothing, while a peer keeping the
 * loop busy for good soon sees handshakes move as fast as they come.
 */
struct tls_hs {
	TAILQ_ENTRY(tls_hs) entry;
	struct tls_sched *sched;
	struct bufferevent *bev; /* for a filter, the socket beneath it */
	int listed;              /* still at the handshake priority */
};

struct tls_sched {
	struct event *canary; /* at TLS_PRIO_HANDSHAKE */
	struct event *guard;  /* at priority 0 */
	TAILQ_HEAD(, tls_hs) waiting;
	int canary_due; /* activated, not run yet */
	unsigned batch; /* how many the next starved check moves */
	unsigned long promoted;
};

static void
canary_cb(evutil_socket_t fd, short what, void *arg)
{
	struct tls_sched *s = arg;

	(void)fd;
	(void)what;
	s->canary_due = 0;
	s->batch = 1;
}

static void
guard_arm(struct tls_sched *s)
{
	struct timeval tv = { 0, TLS_STARVED_MS * 1000 };

	if (evtimer_pending(s->guard, NULL))
		return;
	if (!s->canary_due) {
		s->canary_due = 1;
		event_active(s->canary, EV_TIMEOUT, 1);
	}
	evtimer_add(s->guard, &tv);
}

/*
 * Move a bufferevent's events to another priority. libevent refuses that
 * for an event that is active, so they leave the loop for the change and
 * come back (level-triggered: what was ready is reported again). Coming
 * back restarts their timeouts; a handshake is moved at most once, so a
 * silent one is cut at most one timeout period later.
 */
static void
set_priority(struct bufferevent *bev, int pri)
{
	short enabled;

	if (bufferevent_get_priority(bev) == pri ||
	    bufferevent_priority_set(bev, pri) == 0)
		return;
	enabled = bufferevent_get_enabled(bev);
	(void)bufferevent_disable(bev, enabled);
	(void)bufferevent_priority_set(bev, pri);
	(void)bufferevent_enable(bev, enabled);
}

static void
unlist(struct tls_hs *hs)
{
	if (hs->listed) {
		TAILQ_REMOVE(&hs->sched->waiting, hs, entry);
		hs->listed = 0;
	}
}

static void
guard_cb(evutil_socket_t fd, short what, void *arg)
{
	struct tls_sched *s = arg;
	struct tls_hs *hs;
	unsigned n = 0;

	(void)fd;
	(void)what;
	if (s->canary_due) {
		while (
		    n < s->batch && (hs = TAILQ_FIRST(&s->waiting)) != NULL) {
			unlist(hs);
			set_priority(hs->bev, TLS_PRIO_NORMAL);
			n++;
		}
		if (n > 0) {
			s->promoted += n;
			if (s->batch < TLS_PROMOTE_MAX)
				s->batch *= 2;
			log_write(LOG_LEVEL_DEBUG, 0,
			    "tls: handshakes got no turn for %d ms: %u moved "
			    "to the normal priority",
			    TLS_STARVED_MS, n);
		}
	}
	if (!TAILQ_EMPTY(&s->waiting))
		guard_arm(s);
}

struct tls_sched *
tls_sched_new(struct event_base *base)
{
	struct tls_sched *s;

	if ((s = calloc(1, sizeof(*s))) == NULL)
		return NULL;
	TAILQ_INIT(&s->waiting);
	s->batch = 1;
	s->canary = event_new(base, -1, 0, canary_cb, s);
	s->guard = evtimer_new(base, guard_cb, s);
	if (s->canary == NULL || s->guard == NULL ||
	    event_priority_set(s->canary, TLS_PRIO_HANDSHAKE) == -1 ||
	    event_priority_set(s->guard, 0) == -1) {
		tls_sched_free(s);
		return NULL;
	}
	return s;
}

void
tls_sched_free(struct tls_sched *s)
{
	struct tls_hs *hs;

	if (s == NULL)
		return;
	/* Handshakes still open keep their handle; it outlives the list. */
	while ((hs = TAILQ_FIRST(&s->waiting)) != NULL)
		unlist(hs);
	if (s->canary != NULL)
		event_free(s->canary);
	if (s->guard != NULL)
		event_free(s->guard);
	free(s);
}

unsigned long
tls_sched_promoted(const struct tls_sched *s)
{
	return s->promoted;
}

struct tls_hs *
tls_hs_begin(struct tls_sched *s, struct bufferevent *bev)
{
	struct bufferevent *under = bufferevent_get_underlying(bev);
	struct tls_hs *hs;

	if ((hs = calloc(1, sizeof(*hs))) == NULL)
		return NULL;
	hs->sched = s;
	/* libevent refuses priorities on filters: the socket beneath does
	 * the reads and writes that drive a filter's handshake. */
	hs->bev = under != NULL ? under : bev;
	set_priority(hs->bev, TLS_PRIO_HANDSHAKE);
	TAILQ_INSERT_TAIL(&s->waiting, hs, entry);
	hs->listed = 1;
	guard_arm(s);
	return hs;
}

void
tls_hs_end(struct tls_hs *hs)
{
	if (hs == NULL)
		return;
	if (hs->listed) {
		unlist(hs);
		set_priority(hs->bev, TLS_PRIO_NORMAL);
	}
	free(hs);
}
