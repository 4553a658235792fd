/*
 * tls.h - the server's TLS context: built from the certificate settings,
 * with the profile's protocol versions and suites, and replaced whole on
 * SIGHUP. Each connection's SSL holds a reference to the context it was made
 * from, so sessions opened before a reload keep the old certificate while
 * new handshakes get the new one.
 */
#ifndef GLOMAILD_TLS_H
#define GLOMAILD_TLS_H

#include <stddef.h>

#include <openssl/ssl.h>

struct bufferevent;
struct event_base;

enum tls_profile {
	TLS_PROFILE_INTERMEDIATE, /* TLS 1.2 and 1.3, ECDHE AEAD suites only */
	TLS_PROFILE_MODERN,       /* TLS 1.3 only */
};

struct tls;

/* "intermediate" or "modern". 0 or -1. */
int tls_profile_parse(const char *name, enum tls_profile *profile_r);
const char *tls_profile_name(enum tls_profile profile);

/*
 * The certificate and key files to use: the settings when given, else
 * tls.crt and tls.key in $CREDENTIALS_DIRECTORY (systemd's LoadCredential=).
 * Returns 0 with both set (allocated), or -1 with the reason in err.
 */
int tls_paths(const char *cert, const char *key, char **cert_r, char **key_r,
    char *err, size_t errlen);

/*
 * Build a context from a PEM chain (leaf first) and its private key. Refuses
 * a key readable by group or others, an encrypted key (never prompts), a key
 * that does not match the certificate. Logs the certificate's subject, serial
 * and expiry, and warns when it expires within 14 days. NULL with the reason
 * in err on failure.
 */
struct tls *tls_new(const char *cert, const char *key, enum tls_profile profile,
    char *err, size_t errlen);

/*
 * Replace the context with one built from these files; on failure the old
 * one stays in service (and -1 with the reason in err).
 */
int tls_reload(struct tls *t, const char *cert, const char *key,
    enum tls_profile profile, char *err, size_t errlen);

/* A new server-side SSL for one accepted connection. NULL on failure. */
SSL *tls_ssl_new(struct tls *t);

/* The current certificate's serial number in hex (for logs and tests). */
const char *tls_serial(const struct tls *t);

void tls_free(struct tls *t);

/*
 * The reactor's event priorities. A TLS handshake costs the server about
 * 0.7 ms of CPU, a request a few microseconds: run in arrival order, the
 * requests of connected clients would wait behind every handshake step that
 * became ready in the same loop turn (a thousand clients connecting at once
 * means most of a second). So handshakes run at a lower priority than
 * everything else, and at most TLS_HANDSHAKE_BATCH steps of them (or
 * TLS_HANDSHAKE_SLICE_US) in a row before the loop polls again: libevent
 * runs the highest priority's ready events first and leaves lower ones for
 * the next turn.
 */
enum {
	TLS_PRIO_NORMAL = 1,    /* libevent's default, the middle of three */
	TLS_PRIO_HANDSHAKE = 2, /* a TLS handshake in progress */
	TLS_PRIOS = 3,
};
#define TLS_HANDSHAKE_SLICE_US 2000
#define TLS_HANDSHAKE_BATCH 8

/* An event base with these priorities and limits. NULL on failure. */
struct event_base *tls_base_new(void);

/*
 * The handshakes of one base (tls.c explains the starvation guard): a
 * handshake in progress runs at TLS_PRIO_HANDSHAKE from tls_hs_begin until
 * tls_hs_end, or until handshakes got no turn for TLS_STARVED_MS (then the
 * oldest of them move back to the normal priority: 1, 2, 4... up to
 * TLS_PROMOTE_MAX at each check while it lasts).
 */
#define TLS_STARVED_MS 100
#define TLS_PROMOTE_MAX 64
struct tls_sched;
struct tls_hs;

struct tls_sched *tls_sched_new(struct event_base *base);
/* After every handle's tls_hs_end, or with the base's end. */
void tls_sched_free(struct tls_sched *s);
/* Handshakes moved to the normal priority by the guard (for tests). */
unsigned long tls_sched_promoted(const struct tls_sched *s);

/*
 * A handshake starts on bev (for a TLS filter, the socket beneath it runs at
 * the handshake priority). NULL when out of memory: the handshake then runs
 * at the normal priority.
 */
struct tls_hs *tls_hs_begin(struct tls_sched *s, struct bufferevent *bev);
/* It ended (done, or the connection closes first); NULL is fine. Before the
 * bufferevent is freed. */
void tls_hs_end(struct tls_hs *hs);

/*
 * Describe the errors OpenSSL queued (newest last) into buf; classify whether
 * they are what a scanner or a vanished peer causes (plaintext sent to the
 * TLS port, an unexpected EOF, a reset), which are logged at info level.
 * Returns 1 for such benign failures, 0 otherwise.
 */
int tls_describe_errors(unsigned long *codes, size_t ncodes, char *buf,
    size_t len);

#endif
