/*
 * test_service.c - glomaild as a system service: readiness and stop
 * notifications on a private NOTIFY_SOCKET, socket activation through
 * systemd-socket-activate, a graceful SIGTERM with a delivery in flight,
 * SIGHUP reload, journald priority prefixes; and the service module itself
 * (libsystemd underneath) on a private NOTIFY_SOCKET and passed sockets.
 * Everything runs on loopback with scratch directories, bounded in time.
 */
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <sys/wait.h>

#include <netinet/in.h>
#include <arpa/inet.h>
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <setjmp.h>
#include <signal.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <cmocka.h>

#include "frame.h"
#include "msg.h"
#include "proto.h"
#include "service.h"
#include "testfs.h"
#include "testsrv.h"
#include "wire.h"

#define PASSWORD "Correct0Horse"

/* A scratch directory per test: the notify socket, logs, data. */
static char scratch[256];
/* The process a test started, killed by teardown if a check failed. */
static pid_t child;

static int
setup(void **state)
{
	(void)state;
	return testsrv_scratch(scratch, sizeof(scratch), "svc");
}

static int
teardown(void **state)
{
	(void)state;
	if (child > 0) {
		kill(child, SIGKILL);
		waitpid(child, NULL, 0);
		child = 0;
	}
	if (getenv("GLOMAIL_KEEP_TEST_DIR") == NULL)
		testsrv_remove_tree(scratch);
	return 0;
}

static long
now_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (long)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

static void
sleep_ms(long ms)
{
	struct timespec ts = { ms / 1000, (ms % 1000) * 1000000 };

	while (nanosleep(&ts, &ts) == -1 && errno == EINTR)
		;
}

static int
file_contains(const char *path, const char *needle)
{
	char *text = testsrv_read_file(path);
	int found = text != NULL && strstr(text, needle) != NULL;

	free(text);
	return found;
}

/* Wait up to ms for needle to appear in the file at path. */
static int
wait_file(const char *path, const char *needle, long ms)
{
	long end = now_ms() + ms;

	do {
		if (file_contains(path, needle))
			return 1;
		sleep_ms(20);
	} while (now_ms() < end);
	return 0;
}

static void
dump_file(const char *path)
{
	char *text = testsrv_read_file(path);

	fprintf(stderr, "--- %s ---\n%s\n---\n", path,
	    text != NULL ? text : "(none)");
	free(text);
}

/*
 * Start argv with env (NULL-terminated "NAME=value" list, may be NULL) on
 * top of ours minus the service manager's variables; stderr goes to log.
 */
static pid_t
spawn(const char *const *argv, const char *const *env, const char *log)
{
	pid_t pid;
	int fd = open(log, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);

	assert_true(fd != -1);
	pid = fork();
	assert_true(pid != -1);
	if (pid == 0) {
		int null = open("/dev/null", O_RDONLY);

		dup2(null, STDIN_FILENO);
		dup2(fd, STDERR_FILENO);
		unsetenv("NOTIFY_SOCKET");
		unsetenv("LISTEN_FDS");
		unsetenv("LISTEN_PID");
		unsetenv("JOURNAL_STREAM");
		for (; env != NULL && *env != NULL; env++)
			putenv((char *)(uintptr_t)*env);
		execvp(argv[0], (char *const *)(uintptr_t)argv);
		_exit(127);
	}
	close(fd);
	child = pid;
	return pid;
}

/* Reap pid within ms; returns its exit code, or -1 (killed if needed). */
static int
reap(pid_t pid, long ms)
{
	long end = now_ms() + ms;
	int status;

	if (pid == child)
		child = 0;
	while (now_ms() < end) {
		if (waitpid(pid, &status, WNOHANG) == pid)
			return WIFEXITED(status) ? WEXITSTATUS(status) : -1;
		sleep_ms(20);
	}
	kill(pid, SIGKILL);
	waitpid(pid, &status, 0);
	return -1;
}

/* A datagram socket for notifications: a path, or abstract ("@name"). */
static int
notify_open(const char *name)
{
	struct sockaddr_un sun;
	socklen_t len;
	int fd = socket(AF_UNIX, SOCK_DGRAM | SOCK_CLOEXEC, 0);

	assert_true(fd != -1);
	memset(&sun, 0, sizeof(sun));
	sun.sun_family = AF_UNIX;
	snprintf(sun.sun_path, sizeof(sun.sun_path), "%s", name);
	len = sizeof(sun);
	if (name[0] == '@') {
		sun.sun_path[0] = '\0';
		len = (socklen_t)(offsetof(struct sockaddr_un, sun_path) +
		    strlen(name));
	}
	assert_int_equal(bind(fd, (struct sockaddr *)&sun, len), 0);
	return fd;
}

/*
 * Receive notifications until one holds needle or ms pass. Every message
 * is appended to seen (newline-separated), so order can be checked.
 * Returns 1 when needle came.
 */
static int
notify_wait(int fd, const char *needle, long ms, char *seen, size_t len)
{
	long end = now_ms() + ms, left;
	struct pollfd p = { .fd = fd, .events = POLLIN };
	char buf[1024];
	ssize_t n;

	while ((left = end - now_ms()) > 0) {
		if (poll(&p, 1, (int)left) <= 0)
			continue;
		if ((n = recv(fd, buf, sizeof(buf) - 1, 0)) <= 0)
			continue;
		buf[n] = '\0';
		snprintf(seen + strlen(seen), len - strlen(seen), "%s\n", buf);
		if (strstr(buf, needle) != NULL)
			return 1;
	}
	return 0;
}

/* A loopback port nothing listens on (for systemd-socket-activate). */
static int
free_port(void)
{
	struct sockaddr_in sin;
	socklen_t len = sizeof(sin);
	int fd = socket(AF_INET, SOCK_STREAM, 0), port;

	memset(&sin, 0, sizeof(sin));
	sin.sin_family = AF_INET;
	sin.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	assert_int_equal(bind(fd, (struct sockaddr *)&sin, sizeof(sin)), 0);
	assert_int_equal(getsockname(fd, (struct sockaddr *)&sin, &len), 0);
	port = ntohs(sin.sin_port);
	close(fd);
	return port;
}

/* Connect to 127.0.0.1:port, retrying for up to ms; -1 on failure. */
static int
connect_retry(const char *port, long ms)
{
	long end = now_ms() + ms;
	struct timeval tv = { 20, 0 };
	char err[256];
	int fd;

	do {
		if ((fd = wire_connect("127.0.0.1", port, err, sizeof(err))) !=
		    -1) {
			setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv));
			return fd;
		}
		sleep_ms(20);
	} while (now_ms() < end);
	fprintf(stderr, "connect %s: %s\n", port, err);
	return -1;
}

static const char *
find_program(const char *name)
{
	static char path[256];
	static const char *const dirs[] = { "/usr/bin", "/bin", "/usr/sbin",
		"/sbin", "/usr/local/bin" };
	size_t i;

	for (i = 0; i < sizeof(dirs) / sizeof(dirs[0]); i++) {
		snprintf(path, sizeof(path), "%s/%s", dirs[i], name);
		if (access(path, X_OK) == 0)
			return path;
	}
	return NULL;
}

/*
 * READY=1 (with a STATUS line) once glomaild listens, then STOPPING=1 on
 * SIGTERM, in that order, and a clean exit; with the socket named by path
 * or in the abstract namespace.
 */
static void
notify_ready_stopping(const char *name)
{
	char env[300], data[300], log[300], seen[4096] = "";
	const char *argv[] = { testsrv_binary(), "--listen", "127.0.0.1:0",
		"--data-dir", data, NULL };
	const char *envv[] = { env, NULL };
	char *ready, *stopping;
	pid_t pid;
	int nfd = notify_open(name);

	snprintf(env, sizeof(env), "NOTIFY_SOCKET=%s", name);
	snprintf(data, sizeof(data), "%s/data", scratch);
	snprintf(log, sizeof(log), "%s/server.log", scratch);
	pid = spawn(argv, envv, log);
	if (!notify_wait(nfd, "READY=1", 30000, seen, sizeof(seen))) {
		dump_file(log);
		fail_msg("no READY=1; got: %s", seen);
	}
	/* Ready means listening: the port is in the log already. */
	assert_true(file_contains(log, "listening on 127.0.0.1:"));
	assert_non_null(strstr(seen, "STATUS=0 connections, 0 messages "
	    "delivered"));
	kill(pid, SIGTERM);
	if (!notify_wait(nfd, "STOPPING=1", 20000, seen, sizeof(seen)))
		fail_msg("no STOPPING=1; got: %s", seen);
	assert_int_equal(reap(pid, 20000), 0);
	ready = strstr(seen, "READY=1");
	stopping = strstr(seen, "STOPPING=1");
	assert_true(ready != NULL && stopping != NULL && ready < stopping);
	close(nfd);
}

static void
test_notify_path(void **state)
{
	char name[300];

	(void)state;
	snprintf(name, sizeof(name), "%s/notify", scratch);
	notify_ready_stopping(name);
}

static void
test_notify_abstract(void **state)
{
	char name[100];

	(void)state;
	snprintf(name, sizeof(name), "@glomail-test-%ld-%ld", (long)getpid(),
	    now_ms());
	notify_ready_stopping(name);
}

/*
 * systemd-socket-activate binds the port and starts glomaild on the first
 * connection with the socket as descriptor 3: glomaild answers on it
 * (its own listen setting, unusable here, is ignored) and still notifies.
 */
static void
test_socket_activation(void **state)
{
	const char *activate = find_program("systemd-socket-activate");
	char notify[300], env[320], spec[64], port[16], data[300], log[300];
	char seen[4096] = "";
	const char *argv[] = { activate, "-E", "NOTIFY_SOCKET", "-l", spec,
		testsrv_binary(), "--data-dir", data,
		"--listen", "192.0.2.1:9", NULL };
	const char *envv[] = { env, NULL };
	struct msg *reply = NULL;
	pid_t pid;
	int nfd, fd, fd2, h;

	(void)state;
	if (activate == NULL)
		fail_msg("systemd-socket-activate not found (Debian package "
		    "systemd; cmake/deps.sh installs it)");
	snprintf(notify, sizeof(notify), "%s/notify", scratch);
	snprintf(env, sizeof(env), "NOTIFY_SOCKET=%s", notify);
	snprintf(port, sizeof(port), "%d", free_port());
	snprintf(spec, sizeof(spec), "127.0.0.1:%s", port);
	snprintf(data, sizeof(data), "%s/data", scratch);
	snprintf(log, sizeof(log), "%s/server.log", scratch);
	nfd = notify_open(notify);
	pid = spawn(argv, envv, log);

	/* The socket exists before glomaild does: connecting starts it. */
	fd = connect_retry(port, 10000);
	assert_true(fd != -1);
	if ((h = testsrv_auth(fd, PROTO_AUTH_REGISTER, "alice", PASSWORD)) !=
	    PROTO_OK) {
		dump_file(log);
		fail_msg("registration over the passed socket: reply %d", h);
	}
	assert_int_equal(testsrv_request(fd, PROTO_STATS_REQUEST, NULL,
	    &reply), PROTO_OK);
	msg_free(reply);
	assert_true(notify_wait(nfd, "READY=1", 10000, seen, sizeof(seen)));
	assert_true(file_contains(log, "socket activation: 1 socket"));
	assert_true(file_contains(log, "listening on 127.0.0.1:"));

	/* A second client is accepted on the same socket. */
	fd2 = connect_retry(port, 5000);
	assert_true(fd2 != -1);
	assert_int_equal(testsrv_auth(fd2, PROTO_AUTH_LOGIN, "alice",
	    PASSWORD), PROTO_OK);
	close(fd2);
	close(fd);

	kill(pid, SIGTERM);
	assert_true(notify_wait(nfd, "STOPPING=1", 20000, seen, sizeof(seen)));
	assert_int_equal(reap(pid, 20000), 0);
	close(nfd);
}

/*
 * Two passed sockets, the second named "tls" (FileDescriptorName=tls in a
 * socket unit): glomaild speaks TLS on that one, plaintext on the other.
 */
static void
test_socket_activation_tls(void **state)
{
	const char *activate = find_program("systemd-socket-activate");
	const char *certs = getenv("GLOMAIL_TLS_CERTS");
	char spec1[64], spec2[64], port2[16], data[300], log[300];
	char crt[600], key[600], ca[600], err[256];
	const char *argv[] = { activate, "-l", spec1, "-l", spec2,
		"--fdname=plain:tls", testsrv_binary(), "--data-dir", data,
		"--tls-cert", crt, "--tls-key", key, NULL };
	struct wire_tls tls = { ca, NULL };
	struct wire *w = NULL;
	unsigned char *frame;
	struct msg *reply;
	const char *why;
	size_t len;
	pid_t pid;
	int i;

	(void)state;
	if (activate == NULL || certs == NULL)
		fail_msg("systemd-socket-activate or the test certificates "
		    "are missing");
	snprintf(crt, sizeof(crt), "%s/server.crt", certs);
	snprintf(key, sizeof(key), "%s/server.key", certs);
	snprintf(ca, sizeof(ca), "%s/ca.crt", certs);
	snprintf(spec1, sizeof(spec1), "127.0.0.1:%d", free_port());
	snprintf(port2, sizeof(port2), "%d", free_port());
	snprintf(spec2, sizeof(spec2), "127.0.0.1:%s", port2);
	snprintf(data, sizeof(data), "%s/data", scratch);
	snprintf(log, sizeof(log), "%s/server.log", scratch);
	pid = spawn(argv, NULL, log);
	/* The first connection starts glomaild; the handshake then runs. */
	for (i = 0; i < 100 && w == NULL; i++) {
		w = wire_open("127.0.0.1", port2, &tls, 10, err, sizeof(err));
		if (w == NULL)
			usleep(100 * 1000);
	}
	if (w == NULL) {
		dump_file(log);
		fail_msg("TLS over the passed socket: %s", err);
	}
	assert_int_equal(msg_encode(PROTO_AUTH_REGISTER,
	    msg_credentials_new("tess", PASSWORD), FRAME_MAX_DEFAULT, &frame,
	    &len), 0);
	assert_int_equal(wire_write(w, frame, len), 0);
	free(frame);
	assert_int_equal(wire_read_msg(w, FRAME_MAX_DEFAULT, &reply, &why), 0);
	assert_int_equal(msg_header(reply), PROTO_OK);
	msg_free(reply);
	wire_close(w);
	assert_true(file_contains(log, "socket activation: 2 sockets"));
	assert_true(file_contains(log, " tls\n"));
	kill(pid, SIGTERM);
	assert_int_equal(reap(pid, 20000), 0);
}

#define INFLIGHT_CONNS 6
#define INFLIGHT_BODY (400 * 1024)

/* Does any file of dir hold text? Counts the files in *nfiles_r. */
static int
stored_in(const char *dir, const char *text, int *nfiles_r)
{
	char path[700], *stored;
	struct dirent *de;
	DIR *d = opendir(dir);
	int found = 0;

	assert_non_null(d);
	*nfiles_r = 0;
	while ((de = readdir(d)) != NULL) {
		if (de->d_name[0] == '.')
			continue;
		(*nfiles_r)++;
		snprintf(path, sizeof(path), "%s/%s", dir, de->d_name);
		stored = testsrv_read_file(path);
		assert_non_null(stored);
		found += strstr(stored, text) != NULL;
		free(stored);
	}
	closedir(d);
	return found;
}

/*
 * SIGTERM delay_ms after INFLIGHT_CONNS clients each sent a large message
 * (or, with half set, while only half of each was sent), to a server with
 * one store thread, so that deliveries are queued, being written and being
 * read when the signal comes. Whatever the timing, each is all or nothing:
 * acknowledged (OK) and in new/ whole, or not acknowledged and nowhere;
 * tmp/ is empty and the exit is clean. Returns how many were acknowledged.
 */
static int
sigterm_round(long delay_ms, int half)
{
	const char *extra[] = { "--store-workers", "1", NULL };
	struct testsrv s;
	struct msg_email e = { 0 };
	struct msg *reply;
	char dir[400], subject[64], *body[INFLIGHT_CONNS];
	unsigned char *frame[INFLIGHT_CONNS];
	size_t len[INFLIGHT_CONNS], i, j;
	int fd[INFLIGHT_CONNS], acked[INFLIGHT_CONNS], nacked = 0, nfiles;
	int status;
	const char *why;

	srand((unsigned)now_ms());
	assert_int_equal(testsrv_start(&s, extra), 0);
	child = s.pid;
	for (i = 0; i < INFLIGHT_CONNS; i++) {
		body[i] = malloc(INFLIGHT_BODY + 1);
		assert_non_null(body[i]);
		for (j = 0; j < INFLIGHT_BODY; j++)
			body[i][j] = j % 73 == 72 ? '\n' :
			    (char)('a' + rand() % 26);
		body[i][INFLIGHT_BODY] = '\0';
		snprintf(subject, sizeof(subject), "in flight %zu", i);
		e.sender = "alice@" PROTO_DEFAULT_DOMAIN;
		e.destination = "alice@" PROTO_DEFAULT_DOMAIN;
		e.subject = subject;
		e.content = body[i];
		assert_int_equal(msg_encode(PROTO_EMAIL_SENDING,
		    msg_email_new(&e), FRAME_MAX_LIMIT, &frame[i], &len[i]),
		    0);
		fd[i] = testsrv_connect(&s);
		assert_true(fd[i] != -1);
		assert_int_equal(testsrv_auth(fd[i], i == 0 ?
		    PROTO_AUTH_REGISTER : PROTO_AUTH_LOGIN, "alice", PASSWORD),
		    PROTO_OK);
	}

	for (i = 0; i < INFLIGHT_CONNS; i++)
		assert_int_equal(wire_write_all(fd[i], frame[i],
		    half ? len[i] / 2 : len[i]), 0);
	if (delay_ms > 0)
		sleep_ms(delay_ms);
	kill(s.pid, SIGTERM);
	if (half) {
		/* The rest arrives after the stop began: too late. */
		sleep_ms(100);
		for (i = 0; i < INFLIGHT_CONNS; i++)
			(void)wire_write_all(fd[i], frame[i] + len[i] / 2,
			    len[i] - len[i] / 2);
	}
	for (i = 0; i < INFLIGHT_CONNS; i++) {
		acked[i] = 0;
		reply = NULL;
		if (wire_recv(fd[i], FRAME_MAX_DEFAULT, &reply, &why) == 0 &&
		    msg_header(reply) == PROTO_OK)
			acked[i] = 1;
		else if (reply != NULL)
			fprintf(stderr, "refused: %s\n", json_string_value(
			    json_object_get(msg_payload(reply),
			    "error_message")));
		msg_free(reply);
		close(fd[i]);
		nacked += acked[i];
	}
	status = reap(s.pid, 20000);
	s.pid = 0;
	if (status != 0) {
		dump_file(s.log);
		fail_msg("glomaild exited with %d after SIGTERM", status);
	}
	assert_true(testsrv_log_contains(&s, "SIGTERM: stopping"));

	snprintf(dir, sizeof(dir), "%s/alice/tmp", s.data);
	assert_int_equal(testfs_count("%s", dir), 0);
	snprintf(dir, sizeof(dir), "%s/alice/new", s.data);
	for (i = 0; i < INFLIGHT_CONNS; i++) {
		if (stored_in(dir, body[i], &nfiles) != acked[i])
			fail_msg("message %zu: %s but %s stored whole", i,
			    acked[i] ? "acknowledged" : "not acknowledged",
			    acked[i] ? "not" : "yet");
		free(body[i]);
		free(frame[i]);
	}
	/* Nothing else, such as a torn copy, is in the mailbox either. */
	assert_int_equal(nfiles, nacked);
	fprintf(stderr, "SIGTERM %ld ms after %s: %d of %d acknowledged\n",
	    delay_ms, half ? "half requests" : "requests", nacked,
	    INFLIGHT_CONNS);
	testsrv_stop(&s);
	return nacked;
}

static void
test_sigterm_in_flight(void **state)
{
	static const long delays[] = { 0, 1, 2, 4, 8, 16, 300 };
	size_t i;
	int last = 0;

	(void)state;
	/* Delays around the time deliveries take, to stop in every phase. */
	for (i = 0; i < sizeof(delays) / sizeof(delays[0]); i++)
		last = sigterm_round(delays[i], 0);
	/* Given time, every delivery is made and answered before exit. */
	assert_int_equal(last, INFLIGHT_CONNS);
	assert_int_equal(sigterm_round(0, 1), 0);
}

static void
write_text(const char *path, const char *text)
{
	FILE *f = fopen(path, "w");

	assert_non_null(f);
	fputs(text, f);
	assert_int_equal(fclose(f), 0);
}

/* How many times needle occurs in the server's log. */
static int
log_count(const struct testsrv *s, const char *needle)
{
	char *text = testsrv_read_file(s->log), *p;
	int n = 0;

	for (p = text; p != NULL && (p = strstr(p, needle)) != NULL; p++)
		n++;
	free(text);
	return n;
}

/* Wait up to ms for needle to occur n times in the server's log. */
static int
wait_count(const struct testsrv *s, const char *needle, int n, long ms)
{
	long end = now_ms() + ms;

	do {
		if (log_count(s, needle) >= n)
			return 1;
		sleep_ms(20);
	} while (now_ms() < end);
	return 0;
}

/*
 * SIGHUP: the log level and limits change at once, on open connections
 * too; a setting that needs a restart is reported and kept; a broken file
 * changes nothing.
 */
static void
test_sighup_reload(void **state)
{
	char conf[300], big[2048], *big20;
	const char *extra[] = { "--config", conf, NULL };
	struct msg_email e = { 0 };
	struct msg *reply = NULL;
	struct testsrv s;
	int fd, fd2, n;

	(void)state;
	snprintf(conf, sizeof(conf), "%s/glomaild.conf", scratch);
	write_text(conf, "# before\nlog-level = info\n");
	assert_int_equal(testsrv_start(&s, extra), 0);
	child = s.pid;
	fd = testsrv_connect(&s);
	assert_true(fd != -1);
	assert_int_equal(testsrv_request(fd, PROTO_STATS_REQUEST, NULL, NULL),
	    PROTO_ERROR);
	assert_false(testsrv_log_contains(&s, "request STATS_REQUEST"));

	write_text(conf, "# after\nlog-level = debug\nmax-frame = 1K\n"
	    "domain = example.org\n");
	kill(s.pid, SIGHUP);
	if (!wait_file(s.log, "configuration reloaded", 10000)) {
		dump_file(s.log);
		fail_msg("no reload");
	}
	assert_true(testsrv_log_contains(&s, "reload: log-level info -> debug"));
	assert_true(testsrv_log_contains(&s, "reload: max-frame 1048576 -> "
	    "1024"));
	assert_true(testsrv_log_contains(&s, "reload: domain cannot change "
	    "while running"));
	/* The open connection logs at the new level. */
	assert_int_equal(testsrv_request(fd, PROTO_STATS_REQUEST, NULL, NULL),
	    PROTO_ERROR);
	assert_true(wait_file(s.log, "request STATS_REQUEST", 5000));
	/* The new limit applies: a 2 KiB request is too large now. */
	memset(big, 'x', sizeof(big) - 1);
	big[sizeof(big) - 1] = '\0';
	e.destination = "bob@" PROTO_DEFAULT_DOMAIN;
	e.subject = "big";
	e.content = big;
	fd2 = testsrv_connect(&s);
	assert_true(fd2 != -1);
	assert_int_equal(testsrv_request(fd2, PROTO_EMAIL_SENDING,
	    msg_email_new(&e), &reply), PROTO_ERROR);
	assert_string_equal(json_string_value(json_object_get(
	    msg_payload(reply), "error_message")), "frame too large");
	msg_free(reply);
	close(fd2);

	/* A larger limit reaches open connections too: a request between
	 * the two limits is read whole, not left waiting (logged in: before
	 * login no request may pass 8 KiB). */
	fd2 = testsrv_user(&s, "reloader", "Reload0Passw");
	assert_true(fd2 != -1);
	write_text(conf, "log-level = debug\nmax-frame = 64K\n");
	kill(s.pid, SIGHUP);
	assert_true(wait_count(&s, "configuration reloaded", 2, 10000));
	big20 = malloc(20 * 1024);
	assert_non_null(big20);
	memset(big20, 'y', 20 * 1024 - 1);
	big20[20 * 1024 - 1] = '\0';
	e.content = big20;
	e.sender = e.destination = "reloader@" PROTO_DEFAULT_DOMAIN;
	assert_int_equal(testsrv_request(fd2, PROTO_EMAIL_SENDING,
	    msg_email_new(&e), &reply), PROTO_OK);
	msg_free(reply);
	free(big20);
	close(fd2);

	/* A broken file: reported with its line, nothing changes. */
	write_text(conf, "log-level = info\nmax-frame = tiny\n");
	kill(s.pid, SIGHUP);
	assert_true(wait_file(s.log, "keeping the running configuration",
	    10000));
	assert_true(testsrv_log_contains(&s, "glomaild.conf:2: max-frame: "));
	n = log_count(&s, "request STATS_REQUEST");
	assert_int_equal(testsrv_request(fd, PROTO_STATS_REQUEST, NULL, NULL),
	    PROTO_ERROR);
	assert_true(wait_file(s.log, "request STATS_REQUEST", 5000));
	assert_int_equal(log_count(&s, "request STATS_REQUEST"), n + 1);
	close(fd);
	child = 0;
	assert_int_equal(testsrv_kill(&s, SIGTERM), 0);
	testsrv_stop(&s);
}

/* Under journald, lines carry syslog priorities; on a file, timestamps. */
static void
test_journal_priority(void **state)
{
	char log[300], *text;
	const char *argv[] = { testsrv_binary(), "--data-dir",
		"/proc/self/glomail-nowhere/data", NULL };
	const char *journal[] = { "JOURNAL_STREAM=8:12345", NULL };

	(void)state;
	snprintf(log, sizeof(log), "%s/server.log", scratch);
	assert_int_equal(reap(spawn(argv, journal, log), 20000), 1);
	text = testsrv_read_file(log);
	assert_non_null(text);
	/* Every line starts with a priority; the failure is an error. */
	assert_true(text[0] == '<');
	assert_null(strstr(text, "\n2"));
	if (strstr(text, "<3>cannot create data directory") == NULL)
		fail_msg("no <3> prefix: %s", text);
	free(text);

	assert_int_equal(reap(spawn(argv, NULL, log), 20000), 1);
	text = testsrv_read_file(log);
	assert_non_null(text);
	assert_true(text[0] >= '0' && text[0] <= '9');
	assert_non_null(strstr(text, " error: cannot create data directory"));
	free(text);
}

/*
 * The module as glomaild calls it, sd_notify underneath: nothing to do
 * without NOTIFY_SOCKET, one datagram per call to a path or an abstract
 * name, an error for a name that is neither.
 */
static void
test_module_notify(void **state)
{
	char name[300], buf[256];
	ssize_t n;
	int fd;

	(void)state;
	unsetenv("NOTIFY_SOCKET");
	assert_int_equal(service_notify_enabled(), 0);
	assert_int_equal(service_notify("READY=1"), 0);

	snprintf(name, sizeof(name), "%s/notify", scratch);
	fd = notify_open(name);
	setenv("NOTIFY_SOCKET", name, 1);
	assert_int_equal(service_notify_enabled(), 1);
	assert_int_equal(service_notifyf("STATUS=%d connections", 5), 0);
	n = recv(fd, buf, sizeof(buf) - 1, MSG_DONTWAIT);
	assert_true(n > 0);
	buf[n] = '\0';
	assert_string_equal(buf, "STATUS=5 connections");
	close(fd);

	snprintf(name, sizeof(name), "@glomail-module-%ld", (long)getpid());
	fd = notify_open(name);
	setenv("NOTIFY_SOCKET", name, 1);
	assert_int_equal(service_notify("READY=1\nSTATUS=x"), 0);
	n = recv(fd, buf, sizeof(buf) - 1, MSG_DONTWAIT);
	assert_true(n > 0);
	buf[n] = '\0';
	assert_string_equal(buf, "READY=1\nSTATUS=x");
	close(fd);

	setenv("NOTIFY_SOCKET", "relative/path", 1);
	assert_int_equal(service_notify("READY=1"), -1);
	unsetenv("NOTIFY_SOCKET");
}

/*
 * sd_listen_fds underneath: variables for another process are dropped,
 * malformed ones are an error, a passed socket is found, marked
 * close-on-exec, and no child inherits the variables.
 */
static void
test_module_listen_fds(void **state)
{
	struct sockaddr_in sin;
	char pid[32];
	int saved, lfd, cfd, pipefd[2], udp;

	(void)state;
	unsetenv("LISTEN_FDS");
	assert_int_equal(service_listen_fds(), 0);

	/* Variables meant for another process are dropped, not used. */
	setenv("LISTEN_PID", "1", 1);
	setenv("LISTEN_FDS", "1", 1);
	assert_int_equal(service_listen_fds(), 0);
	assert_null(getenv("LISTEN_FDS"));
	assert_null(getenv("LISTEN_PID"));

	snprintf(pid, sizeof(pid), "%ld", (long)getpid());
	setenv("LISTEN_PID", pid, 1);
	setenv("LISTEN_FDS", "one", 1);
	assert_int_equal(service_listen_fds(), -1);
	assert_null(getenv("LISTEN_FDS"));

	/* A real listening socket as descriptor 3, as systemd passes it. */
	lfd = socket(AF_INET, SOCK_STREAM, 0);
	memset(&sin, 0, sizeof(sin));
	sin.sin_family = AF_INET;
	sin.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	assert_int_equal(bind(lfd, (struct sockaddr *)&sin, sizeof(sin)), 0);
	assert_int_equal(listen(lfd, 4), 0);
	saved = fcntl(SERVICE_LISTEN_FDS_START, F_DUPFD_CLOEXEC, 20);
	assert_int_equal(dup2(lfd, SERVICE_LISTEN_FDS_START),
	    SERVICE_LISTEN_FDS_START);
	setenv("LISTEN_PID", pid, 1);
	setenv("LISTEN_FDS", "1", 1);
	setenv("LISTEN_FDNAMES", "glomaild.socket", 1);
	assert_int_equal(service_listen_fds(), 1);
	assert_true(fcntl(SERVICE_LISTEN_FDS_START, F_GETFD) & FD_CLOEXEC);
	assert_null(getenv("LISTEN_FDNAMES"));
	assert_int_equal(service_is_stream_listener(SERVICE_LISTEN_FDS_START),
	    1);
	if (saved != -1) {
		dup2(saved, SERVICE_LISTEN_FDS_START);
		close(saved);
	} else {
		close(SERVICE_LISTEN_FDS_START);
	}

	/* Not listening, not a stream, not a socket. */
	cfd = socket(AF_INET, SOCK_STREAM, 0);
	assert_int_equal(service_is_stream_listener(cfd), 0);
	udp = socket(AF_INET, SOCK_DGRAM, 0);
	assert_int_equal(service_is_stream_listener(udp), 0);
	assert_int_equal(pipe(pipefd), 0);
	assert_int_equal(service_is_stream_listener(pipefd[0]), 0);
	close(cfd);
	close(udp);
	close(pipefd[0]);
	close(pipefd[1]);
	close(lfd);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(test_module_notify, setup,
		    teardown),
		cmocka_unit_test(test_module_listen_fds),
		cmocka_unit_test_setup_teardown(test_notify_path, setup,
		    teardown),
		cmocka_unit_test_setup_teardown(test_notify_abstract, setup,
		    teardown),
		cmocka_unit_test_setup_teardown(test_socket_activation_tls,
		    setup, teardown),
		cmocka_unit_test_setup_teardown(test_socket_activation, setup,
		    teardown),
		cmocka_unit_test_setup_teardown(test_journal_priority, setup,
		    teardown),
		cmocka_unit_test_setup_teardown(test_sighup_reload, setup,
		    teardown),
		cmocka_unit_test_setup_teardown(test_sigterm_in_flight, setup,
		    teardown),
	};

	signal(SIGPIPE, SIG_IGN);
	return cmocka_run_group_tests(tests, NULL, NULL);
}
