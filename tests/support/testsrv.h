/*
 * testsrv.h - start a real glomaild on a free loopback port with a fresh
 * data directory, for integration tests; talk to it over real sockets.
 */
#ifndef GLOMAIL_TESTSRV_H
#define GLOMAIL_TESTSRV_H

#include <sys/types.h>

#include <stddef.h>

#include <jansson.h>

#include "msg.h"

struct tlsbridge;

struct testsrv {
	pid_t pid;
	char dir[256];   /* scratch directory (mkdtemp), removed by stop */
	char data[300];  /* dir/data: the server's --data-dir */
	char log[300];   /* dir/server.log: the server's stderr */
	char control[300]; /* dir/control: the server's --control-socket */
	char port[16];   /* where the tests connect: the server's port, or
	                    in TLS mode the relay's */
	char listen_port[16]; /* the server's plaintext port */
	char tls_port[16];    /* its TLS port, in TLS mode */
	struct tlsbridge *bridge;
};

/*
 * TLS mode (GLOMAIL_TEST_TLS=1, with the certificates of the "tls" fixture
 * in GLOMAIL_TLS_CERTS): every server started also listens with TLS, and
 * port is a local relay that carries each connection there over TLS, so a
 * suite written for plaintext runs over the server's TLS code as it is.
 */
int testsrv_tls_mode(void);

/* Path of the built glomaild. */
const char *testsrv_binary(void);

/*
 * Start glomaild --listen 127.0.0.1:0 --data-dir <fresh dir>
 * --control-socket <fresh dir>/control plus extra
 * arguments (NULL-terminated, may be NULL), and wait until it logs the port
 * it bound. Returns 0 or -1 (the log is printed on failure).
 */
int testsrv_start(struct testsrv *s, const char *const *extra);

/* Start again on the same data directory and port (after a kill). */
int testsrv_restart(struct testsrv *s, const char *const *extra);

/*
 * Start again on the same data directory and a new free port (s->port
 * changes): for tests that restart many times, where the old port may be
 * taken meanwhile.
 */
int testsrv_restart_anyport(struct testsrv *s, const char *const *extra);

/* Send sig and reap the server (SIGKILL for a crash, SIGTERM for a stop). */
int testsrv_kill(struct testsrv *s, int sig);

/* Stop the server (if running) and remove the scratch directory. */
void testsrv_stop(struct testsrv *s);

/*
 * cmocka set-up and tear-down shared by the tests that run against one
 * server with the defaults (for a group, or for each test): testsrv_use
 * names the struct testsrv (and extra arguments, may be NULL) that
 * testsrv_setup starts and testsrv_teardown stops. For example:
 *	testsrv_use(&srv, NULL);
 *	return cmocka_run_group_tests(tests, testsrv_setup, testsrv_teardown);
 */
void testsrv_use(struct testsrv *s, const char *const *extra);
int testsrv_setup(void **state);
int testsrv_teardown(void **state);

/* A new connection to the server, or -1. */
int testsrv_connect(const struct testsrv *s);

/*
 * Send one request and receive one reply. payload is stolen. Returns the
 * reply's header (1 OK, 2 ERROR...) or -1 when the connection failed; the
 * reply is stored in *reply_r when reply_r is not NULL.
 */
int testsrv_request(int fd, int header, json_t *payload,
    struct msg **reply_r);

/* Register (or log in, with login set) on fd; returns the reply header. */
int testsrv_auth(int fd, int header, const char *user, const char *password);

/*
 * A new connection logged in as user: registered on first use, logged in
 * after. Returns the socket, or -1.
 */
int testsrv_user(const struct testsrv *s, const char *user,
    const char *password);

/* 1 when the log contains needle. */
int testsrv_log_contains(const struct testsrv *s, const char *needle);

/*
 * Make a fresh scratch directory "$TMPDIR/glomail-<tag>.XXXXXX" (TMPDIR
 * defaults to /tmp) in buf. Returns 0 or -1.
 */
int testsrv_scratch(char *buf, size_t len, const char *tag);

/* Remove a directory tree (a scratch directory), quietly. */
void testsrv_remove_tree(const char *path);

/* The whole of a file, NUL-terminated (free it); NULL if unreadable. */
char *testsrv_read_file(const char *path);

#endif
