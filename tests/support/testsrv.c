/*
 * testsrv.c - process management for integration tests.
 */
#include <sys/stat.h>
#include <sys/socket.h>
#include <sys/wait.h>

#include <errno.h>
#include <fcntl.h>
#include <ftw.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "frame.h"
#include "proto.h"
#include "testsrv.h"
#include "tlsbridge.h"
#include "wire.h"

const char *
testsrv_binary(void)
{
	const char *env = getenv("GLOMAILD");

	return env != NULL ? env : GLOMAIL_BINARY_DIR "/server/glomaild";
}

char *
testsrv_read_file(const char *path)
{
	FILE *f = fopen(path, "r");
	char *buf;
	long n;

	if (f == NULL)
		return NULL;
	fseek(f, 0, SEEK_END);
	n = ftell(f);
	rewind(f);
	if (n < 0 || (buf = malloc((size_t)n + 1)) == NULL) {
		fclose(f);
		return NULL;
	}
	n = (long)fread(buf, 1, (size_t)n, f);
	buf[n] = '\0';
	fclose(f);
	return buf;
}

static char *
read_log(const struct testsrv *s)
{
	return testsrv_read_file(s->log);
}

int
testsrv_log_contains(const struct testsrv *s, const char *needle)
{
	char *log = read_log(s);
	int found = log != NULL && strstr(log, needle) != NULL;

	free(log);
	return found;
}

static void
print_log(const struct testsrv *s)
{
	char *log = read_log(s);

	fprintf(stderr, "glomaild did not start; its log:\n%s\n",
	    log != NULL ? log : "(none)");
	free(log);
}

int
testsrv_tls_mode(void)
{
	const char *e = getenv("GLOMAIL_TEST_TLS");

	return e != NULL && strcmp(e, "1") == 0 &&
	    getenv("GLOMAIL_TLS_CERTS") != NULL;
}

/* The port of the log's "listening on 127.0.0.1:PORT[ tls]" line. */
static int
find_port(const char *log, int tls, char *port, size_t len)
{
	const char *p = log, *eol, *colon;

	while ((p = strstr(p, "listening on ")) != NULL) {
		if ((eol = strchr(p, '\n')) == NULL)
			return -1;
		if ((eol - p > 4 && memcmp(eol - 4, " tls", 4) == 0) == tls) {
			for (colon = eol; colon > p && *colon != ':'; colon--)
				;
			snprintf(port, len, "%.*s",
			    (int)strcspn(colon + 1, " \n"), colon + 1);
			return 0;
		}
		p = eol;
	}
	return -1;
}

/* TLS mode: the relay's port is where the tests connect. */
static int
tls_bridge(struct testsrv *s)
{
	char ca[512];

	if (s->bridge != NULL) {
		tlsbridge_retarget(s->bridge, s->tls_port);
		return 0;
	}
	snprintf(ca, sizeof(ca), "%s/ca.crt", getenv("GLOMAIL_TLS_CERTS"));
	s->bridge = tlsbridge_start(s->tls_port, ca, s->port,
	    sizeof(s->port));
	return s->bridge != NULL ? 0 : -1;
}

static int
spawn(struct testsrv *s, const char *listen, const char *const *extra,
    int quiet)
{
	char *argv[72], tlsl[64];
	int tls = testsrv_tls_mode();
	struct timespec ts = { 0, 10 * 1000 * 1000 };
	size_t n = 0;
	int i, fd;
	char *log, *p;

	argv[n++] = strdup(testsrv_binary());
	argv[n++] = strdup("--listen");
	argv[n++] = strdup(listen);
	argv[n++] = strdup("--data-dir");
	argv[n++] = strdup(s->data);
	if (s->control[0] != '\0') {
		argv[n++] = strdup("--control-socket");
		argv[n++] = strdup(s->control);
	}
	for (; extra != NULL && *extra != NULL && n < 62; extra++)
		argv[n++] = strdup(*extra);
	if (tls) {
		const char *certs = getenv("GLOMAIL_TLS_CERTS");
		char path[512];

		snprintf(tlsl, sizeof(tlsl), "127.0.0.1:%s",
		    s->tls_port[0] != '\0' ? s->tls_port : "0");
		argv[n++] = strdup("--tls-listen");
		argv[n++] = strdup(tlsl);
		snprintf(path, sizeof(path), "%s/server.crt", certs);
		argv[n++] = strdup("--tls-cert");
		argv[n++] = strdup(path);
		snprintf(path, sizeof(path), "%s/server.key", certs);
		argv[n++] = strdup("--tls-key");
		argv[n++] = strdup(path);
	}
	argv[n] = NULL;
	if ((fd = open(s->log, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC,
	    0600)) == -1 || (s->pid = fork()) == -1) {
		while (n > 0)
			free(argv[--n]);
		if (fd != -1)
			close(fd);
		return -1;
	}
	if (s->pid == 0) {
		dup2(fd, STDERR_FILENO);
		execv(argv[0], argv);
		_exit(127);
	}
	close(fd);
	while (n > 0)
		free(argv[--n]);
	/* Wait up to 20 s for "listening on 127.0.0.1:PORT". */
	for (i = 0; i < 2000; i++) {
		if (waitpid(s->pid, NULL, WNOHANG) == s->pid) {
			s->pid = 0;
			break;
		}
		log = read_log(s);
		if (log != NULL && (p = strstr(log, " started listen=")) !=
		    NULL && strchr(p, '\n') != NULL &&
		    find_port(log, 0, s->listen_port,
		    sizeof(s->listen_port)) == 0 && (!tls ||
		    find_port(log, 1, s->tls_port, sizeof(s->tls_port)) == 0)) {
			free(log);
			if (!tls) {
				snprintf(s->port, sizeof(s->port), "%s",
				    s->listen_port);
				return 0;
			}
			if (tls_bridge(s) == 0)
				return 0;
			break;
		}
		free(log);
		nanosleep(&ts, NULL);
	}
	if (!quiet)
		print_log(s);
	if (s->pid > 0)
		testsrv_kill(s, SIGKILL);
	return -1;
}

int
testsrv_scratch(char *buf, size_t len, const char *tag)
{
	const char *tmp = getenv("TMPDIR");
	int n = snprintf(buf, len, "%s/glomail-%s.XXXXXX",
	    tmp != NULL ? tmp : "/tmp", tag);

	if (n < 0 || (size_t)n >= len)
		return -1;
	return mkdtemp(buf) != NULL ? 0 : -1;
}

int
testsrv_start(struct testsrv *s, const char *const *extra)
{
	memset(s, 0, sizeof(*s));
	if (testsrv_scratch(s->dir, sizeof(s->dir), "test") == -1)
		return -1;
	snprintf(s->data, sizeof(s->data), "%s/data", s->dir);
	snprintf(s->log, sizeof(s->log), "%s/server.log", s->dir);
	snprintf(s->control, sizeof(s->control), "%s/control", s->dir);
	return spawn(s, "127.0.0.1:0", extra, 0);
}

int
testsrv_restart(struct testsrv *s, const char *const *extra)
{
	struct timespec ts = { 0, 100 * 1000 * 1000 };
	char listen[64];
	int i;

	snprintf(listen, sizeof(listen), "127.0.0.1:%s", s->listen_port);
	/*
	 * After a crash the port can stay busy a moment (the dead server's
	 * connections closing, or a client's new connection given it as its
	 * own port): retry for a few seconds before calling it a failure.
	 */
	for (i = 0; i < 50; i++) {
		if (spawn(s, listen, extra, 1) == 0)
			return 0;
		if (!testsrv_log_contains(s, "Address already in use"))
			break;
		nanosleep(&ts, NULL);
	}
	print_log(s);
	return -1;
}

int
testsrv_restart_anyport(struct testsrv *s, const char *const *extra)
{
	s->tls_port[0] = '\0';
	return spawn(s, "127.0.0.1:0", extra, 0);
}

int
testsrv_kill(struct testsrv *s, int sig)
{
	int status = 0;

	if (s->pid <= 0)
		return -1;
	kill(s->pid, sig);
	while (waitpid(s->pid, &status, 0) == -1 && errno == EINTR)
		;
	s->pid = 0;
	return status;
}

static int
rm_entry(const char *path, const struct stat *st, int flag, struct FTW *ftw)
{
	(void)st;
	(void)flag;
	(void)ftw;
	return remove(path);
}

void
testsrv_remove_tree(const char *path)
{
	nftw(path, rm_entry, 16, FTW_DEPTH | FTW_PHYS);
}

void
testsrv_stop(struct testsrv *s)
{
	if (s->pid > 0)
		testsrv_kill(s, SIGTERM);
	tlsbridge_stop(s->bridge);
	s->bridge = NULL;
	if (s->dir[0] != '\0' && getenv("GLOMAIL_KEEP_TEST_DIR") == NULL)
		testsrv_remove_tree(s->dir);
}

static struct testsrv *used;
static const char *const *used_extra;

void
testsrv_use(struct testsrv *s, const char *const *extra)
{
	used = s;
	used_extra = extra;
}

int
testsrv_setup(void **state)
{
	(void)state;
	if (used == NULL)
		return -1;
	return testsrv_start(used, used_extra);
}

int
testsrv_teardown(void **state)
{
	(void)state;
	if (used != NULL)
		testsrv_stop(used);
	return 0;
}

int
testsrv_connect(const struct testsrv *s)
{
	char err[256];
	struct timeval tv = { 30, 0 };
	int fd = wire_connect("127.0.0.1", s->port, err, sizeof(err));

	if (fd == -1)
		fprintf(stderr, "connect: %s\n", err);
	else /* a hung server fails the test instead of hanging it */
		setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv));
	return fd;
}

int
testsrv_request(int fd, int header, json_t *payload, struct msg **reply_r)
{
	struct msg *reply;
	const char *why;
	int h;

	if (wire_send(fd, header, payload, FRAME_MAX_DEFAULT) == -1)
		return -1;
	if (wire_recv(fd, FRAME_MAX_DEFAULT * 8, &reply, &why) == -1)
		return -1;
	h = (int)msg_header(reply);
	if (reply_r != NULL)
		*reply_r = reply;
	else
		msg_free(reply);
	return h;
}

int
testsrv_auth(int fd, int header, const char *user, const char *password)
{
	return testsrv_request(fd, header, msg_credentials_new(user, password),
	    NULL);
}

int
testsrv_user(const struct testsrv *s, const char *user, const char *password)
{
	int fd = testsrv_connect(s);

	if (fd == -1)
		return -1;
	if (testsrv_auth(fd, PROTO_AUTH_REGISTER, user, password) != PROTO_OK &&
	    testsrv_auth(fd, PROTO_AUTH_LOGIN, user, password) != PROTO_OK) {
		close(fd);
		return -1;
	}
	return fd;
}
