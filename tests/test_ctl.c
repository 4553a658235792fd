/*
 * test_ctl.c - glomailctl against a real glomaild: every command and its
 * error paths, the control socket's gate and its peer check (a user that
 * is not allowed, run through setpriv), offline work on a store with
 * --data-dir, importing the original servers' data directories and logging
 * in with the original passwords, and an import killed midway then
 * completed by a second run.
 */
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/time.h>
#include <sys/wait.h>

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
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
#include <jansson.h>
#include <openssl/evp.h>

#include "clientrun.h"
#include "msg.h"
#include "proto.h"
#include "testsrv.h"
#include "wire.h"

#define CTL GLOMAIL_BINARY_DIR "/client/glomailctl"
#define SEED GLOMAIL_SOURCE_DIR "/tests/data/seed-data"
#define PASSWORD "Admin0Password"

/* No login delay: the tests fail logins on purpose. */
static const char *const fast[] = { "--login-penalty", "0", NULL };

/* Copy the program from into to, mode 0755. */
static void
copy_executable(const char *from, const char *to)
{
	char buf[65536];
	ssize_t n;
	int in = open(from, O_RDONLY | O_CLOEXEC), out;

	assert_true(in >= 0);
	out = open(to, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0755);
	assert_true(out >= 0);
	while ((n = read(in, buf, sizeof(buf))) > 0)
		assert_int_equal(write(out, buf, (size_t)n), n);
	assert_int_equal(n, 0);
	assert_int_equal(fchmod(out, 0755), 0);
	close(in);
	close(out);
}

/* The glomaild that glomailctl runs offline ("GLOMAILD=PATH"). */
static char ctl_glomaild[PATH_MAX + 16] = "GLOMAILD=" GLOMAIL_BINARY_DIR
                                          "/server/glomaild";

/*
 * Run glomailctl --control-socket <s's socket> args... (NULL-terminated)
 * with input on stdin. With s NULL, args are the whole command line.
 */
static int
ctl_run(struct clientrun_result *r, const struct testsrv *s, const char *input,
    ...)
{
	const char *argv[40] = { "glomailctl" };
	const char *env[] = { ctl_glomaild, NULL };
	size_t n = 1;
	va_list ap;

	if (s != NULL) {
		argv[n++] = "--control-socket";
		argv[n++] = s->control;
	}
	va_start(ap, input);
	while (n < 39 && (argv[n] = va_arg(ap, const char *)) != NULL)
		n++;
	va_end(ap);
	argv[n] = NULL;
	setenv("GLOMAIL_CLIENT", CTL, 1);
	assert_int_equal(clientrun(argv, env, input, r), 0);
	return r->exit_code;
}

/* The reply of a --json command, parsed. */
static json_t *
ctl_json(const struct testsrv *s, ...)
{
	struct clientrun_result r;
	const char *argv[40] = { "glomailctl", "--control-socket", s->control,
		"--json" };
	size_t n = 4;
	json_error_t e;
	json_t *j;
	va_list ap;

	va_start(ap, s);
	while (n < 39 && (argv[n] = va_arg(ap, const char *)) != NULL)
		n++;
	va_end(ap);
	argv[n] = NULL;
	setenv("GLOMAIL_CLIENT", CTL, 1);
	assert_int_equal(clientrun(argv, NULL, NULL, &r), 0);
	if (r.exit_code != 0 && r.exit_code != 1)
		fail_msg("glomailctl exit %d: %s", r.exit_code, r.err);
	j = json_loads(r.out, 0, &e);
	if (j == NULL)
		fail_msg("not JSON: %s (stderr %s)", r.out, r.err);
	clientrun_free(&r);
	return j;
}

/* A login over the protocol: the reply header (1 OK, 2 ERROR), fd kept. */
static int
login(const struct testsrv *s, const char *user, const char *pw, int *fd_r)
{
	int fd = testsrv_connect(s), rc;

	assert_true(fd >= 0);
	rc = testsrv_auth(fd, PROTO_AUTH_LOGIN, user, pw);
	if (fd_r != NULL && rc == PROTO_OK)
		*fd_r = fd;
	else
		close(fd);
	return rc;
}

/* The inbox list of fd's account, joined with newlines (free it). */
static char *
inbox(int fd)
{
	struct msg *reply;
	union msg_args a;
	const char *why;
	json_t *v;
	size_t i, len = 0;
	char *out = calloc(1, 1), *grown;

	assert_int_equal(testsrv_request(fd, PROTO_INBOX_READING_REQUEST, NULL,
	                     &reply),
	    PROTO_OK);
	assert_int_equal(msg_unpack(reply, PROTO_SHAPE_EMAIL_LIST, &a, &why),
	    0);
	json_array_foreach (a.email_list, i, v) {
		const char *line = json_string_value(v);

		grown = realloc(out, len + strlen(line) + 2);
		assert_non_null(grown);
		out = grown;
		memcpy(out + len, line, strlen(line));
		len += strlen(line);
		out[len++] = '\n';
		out[len] = '\0';
	}
	msg_free(reply);
	return out;
}

/* Read a whole small file into buf. */
static void
read_small(const char *path, char *buf, size_t len)
{
	char *text = testsrv_read_file(path);

	assert_non_null(text);
	snprintf(buf, len, "%s", text);
	free(text);
}

/* Files in a folder (not "." entries). */
static size_t
count_dir(const char *path)
{
	struct dirent *de;
	size_t n = 0;
	DIR *d = opendir(path);

	if (d == NULL)
		return 0;
	while ((de = readdir(d)) != NULL)
		if (de->d_name[0] != '.')
			n++;
	closedir(d);
	return n;
}

static size_t
count_mail(const struct testsrv *s, const char *user)
{
	char path[600];
	size_t n;

	snprintf(path, sizeof(path), "%s/%s/new", s->data, user);
	n = count_dir(path);
	snprintf(path, sizeof(path), "%s/%s/cur", s->data, user);
	return n + count_dir(path);
}

/* The server of the running test: stopped by teardown even on failure. */
static struct testsrv cur;
static struct testsrv *const srv = &cur;

static int
stop_server(void **state)
{
	(void)state;
	testsrv_stop(srv);
	memset(srv, 0, sizeof(*srv));
	return 0;
}

/* An administration header on the TCP port is an unknown request; the
 * control socket takes no protocol request. */
static void
test_gate(void **state)
{
	struct msg *reply;
	union msg_args a;
	const char *why;
	char err[256];
	int fd;

	(void)state;
	assert_int_equal(testsrv_start(srv, fast), 0);
	fd = testsrv_connect(srv);
	assert_int_equal(testsrv_request(fd, PROTO_CTL_STATUS, NULL, &reply),
	    PROTO_ERROR);
	assert_int_equal(msg_unpack(reply, PROTO_SHAPE_ERROR, &a, &why), 0);
	assert_string_equal(a.error_message, "unknown request");
	msg_free(reply);
	assert_int_equal(testsrv_auth(fd, PROTO_AUTH_REGISTER, "gatekeeper",
	                     PASSWORD),
	    PROTO_OK);
	assert_int_equal(testsrv_request(fd, PROTO_CTL_USER_LIST, NULL, &reply),
	    PROTO_ERROR);
	assert_int_equal(msg_unpack(reply, PROTO_SHAPE_ERROR, &a, &why), 0);
	assert_string_equal(a.error_message, "unknown request");
	msg_free(reply);
	close(fd);

	fd = wire_connect_unix(srv->control, err, sizeof(err));
	assert_true(fd >= 0);
	assert_int_equal(testsrv_request(fd, PROTO_INBOX_READING_REQUEST, NULL,
	                     &reply),
	    PROTO_ERROR);
	assert_int_equal(msg_unpack(reply, PROTO_SHAPE_ERROR, &a, &why), 0);
	assert_string_equal(a.error_message, "unknown request");
	msg_free(reply);
	assert_int_equal(testsrv_request(fd, PROTO_AUTH_REGISTER,
	                     msg_credentials_new("sneaky", PASSWORD), &reply),
	    PROTO_ERROR);
	msg_free(reply);
	assert_int_equal(testsrv_request(fd, PROTO_CTL_STATUS, NULL, &reply),
	    PROTO_OK);
	assert_string_equal(json_string_value(
	                        json_object_get(msg_payload(reply), "version")),
	    GLOMAIL_VERSION);
	msg_free(reply);
	/* A missing field is named. */
	assert_int_equal(testsrv_request(fd, PROTO_CTL_USER_ADD,
	                     json_pack("{s:s}", "name", "x"), &reply),
	    PROTO_ERROR);
	assert_int_equal(msg_unpack(reply, PROTO_SHAPE_ERROR, &a, &why), 0);
	assert_string_equal(a.error_message, "missing field: password");
	msg_free(reply);
	close(fd);
	assert_false(testsrv_log_contains(srv, "user add x"));
	testsrv_stop(srv);
}

static void
test_status_reload_log_level(void **state)
{
	struct clientrun_result r;
	json_t *j;
	char port[64];
	int fd;

	(void)state;
	assert_int_equal(testsrv_start(srv, fast), 0);
	assert_int_equal(ctl_run(&r, srv, NULL, "status", NULL), 0);
	assert_non_null(strstr(r.out, GLOMAIL_VERSION));
	clientrun_free(&r);
	j = ctl_json(srv, "status", NULL);
	assert_int_equal(json_integer_value(json_object_get(j, "pid")),
	    srv->pid);
	snprintf(port, sizeof(port), "127.0.0.1:%s", srv->port);
	assert_string_equal(json_string_value(
	                        json_array_get(json_object_get(j, "listen"),
	                            0)),
	    port);
	assert_string_equal(json_string_value(json_object_get(j, "log_level")),
	    "info");
	assert_int_equal(json_integer_value(json_object_get(j, "logged_in")),
	    0);
	json_decref(j);
	fd = testsrv_user(srv, "lou", PASSWORD);
	j = ctl_json(srv, "status", NULL);
	assert_int_equal(json_integer_value(json_object_get(j, "logged_in")),
	    1);
	assert_int_equal(json_integer_value(json_object_get(j, "connections")),
	    1);
	json_decref(j);
	close(fd);

	assert_int_equal(ctl_run(&r, srv, NULL, "log-level", "debug", NULL), 0);
	clientrun_free(&r);
	j = ctl_json(srv, "status", NULL);
	assert_string_equal(json_string_value(json_object_get(j, "log_level")),
	    "debug");
	json_decref(j);
	assert_true(testsrv_log_contains(srv, "log-level info -> debug"));
	assert_int_equal(ctl_run(&r, srv, NULL, "log-level", "loud", NULL), 1);
	assert_non_null(strstr(r.err, "log level must be"));
	clientrun_free(&r);

	assert_int_equal(ctl_run(&r, srv, NULL, "reload", NULL), 0);
	clientrun_free(&r);
	assert_true(testsrv_log_contains(srv, ": reload"));

	/* Usage errors. */
	assert_int_equal(ctl_run(&r, srv, NULL, NULL), 2);
	clientrun_free(&r);
	assert_int_equal(ctl_run(&r, srv, NULL, "frobnicate", NULL), 2);
	assert_non_null(strstr(r.err, "unknown command"));
	clientrun_free(&r);
	assert_int_equal(ctl_run(&r, srv, NULL, "status", "--repair", NULL), 2);
	clientrun_free(&r);
	assert_int_equal(ctl_run(&r, srv, NULL, "user", "fly", NULL), 2);
	clientrun_free(&r);
	assert_int_equal(ctl_run(&r, NULL, NULL, "--control-socket",
	                     "/nonexistent/control", "status", NULL),
	    2);
	assert_non_null(strstr(r.err, "cannot connect"));
	clientrun_free(&r);
	testsrv_stop(srv);
}

static void
test_users(void **state)
{
	struct clientrun_result r;
	char path[600], buf[512];
	struct stat st;
	json_t *j, *u;
	int fd = -1;

	(void)state;
	assert_int_equal(testsrv_start(srv, fast), 0);
	assert_int_equal(ctl_run(&r, srv, PASSWORD "\n", "user", "add", "Erin",
	                     "--password-stdin", NULL),
	    0);
	clientrun_free(&r);
	assert_int_equal(login(srv, "erin", PASSWORD, NULL), PROTO_OK);
	assert_true(testsrv_log_contains(srv, "control uid=0 pid="));
	assert_true(testsrv_log_contains(srv, "user add erin"));
	/* Existing user, weak password, bad name, no password at all. */
	assert_int_equal(ctl_run(&r, srv, PASSWORD "\n", "user", "add", "erin",
	                     "--password-stdin", NULL),
	    1);
	assert_non_null(strstr(r.err, "user name is taken"));
	clientrun_free(&r);
	assert_int_equal(ctl_run(&r, srv, "short\n", "user", "add", "frank",
	                     "--password-stdin", NULL),
	    1);
	assert_non_null(strstr(r.err, "at least 10 characters"));
	clientrun_free(&r);
	assert_int_equal(ctl_run(&r, srv, PASSWORD "\n", "user", "add", "a/b",
	                     "--password-stdin", NULL),
	    1);
	assert_non_null(strstr(r.err, "user name may hold only"));
	clientrun_free(&r);
	assert_int_equal(ctl_run(&r, srv, PASSWORD "\n", "user", "add", "frank",
	                     NULL),
	    2);
	assert_non_null(strstr(r.err, "--password-stdin"));
	clientrun_free(&r);

	j = ctl_json(srv, "user", "list", NULL);
	u = json_array_get(json_object_get(j, "users"), 0);
	assert_string_equal(json_string_value(json_object_get(u, "name")),
	    "erin");
	assert_int_equal(json_integer_value(json_object_get(u, "messages")), 0);
	assert_true(json_is_false(json_object_get(u, "locked")));
	/* erin logged in once above. */
	assert_true(json_is_string(json_object_get(u, "last_login")));
	assert_int_equal(strlen(json_string_value(
	                     json_object_get(u, "last_login"))),
	    20);
	assert_int_equal(json_array_size(json_object_get(j, "users")), 1);
	json_decref(j);

	/* passwd: the new password works, the old one no longer. */
	assert_int_equal(ctl_run(&r, srv, "Second0Password\n", "user", "passwd",
	                     "erin", "--password-stdin", NULL),
	    0);
	clientrun_free(&r);
	assert_int_equal(login(srv, "erin", PASSWORD, NULL), PROTO_ERROR);
	assert_int_equal(login(srv, "erin", "Second0Password", NULL), PROTO_OK);
	assert_int_equal(ctl_run(&r, srv, "Second0Password\n", "user", "passwd",
	                     "nobody-here", "--password-stdin", NULL),
	    1);
	assert_non_null(strstr(r.err, "no such user"));
	clientrun_free(&r);

	/* lock: the open session is closed, logins are refused; unlock. */
	assert_int_equal(login(srv, "erin", "Second0Password", &fd), PROTO_OK);
	assert_int_equal(ctl_run(&r, srv, NULL, "user", "lock", "erin", NULL),
	    0);
	clientrun_free(&r);
	assert_int_equal(testsrv_request(fd, PROTO_STATS_REQUEST, NULL, NULL),
	    -1);
	close(fd);
	assert_int_equal(login(srv, "erin", "Second0Password", NULL),
	    PROTO_ERROR);
	j = ctl_json(srv, "user", "list", NULL);
	u = json_array_get(json_object_get(j, "users"), 0);
	assert_true(json_is_true(json_object_get(u, "locked")));
	json_decref(j);
	assert_int_equal(ctl_run(&r, srv, NULL, "user", "unlock", "erin", NULL),
	    0);
	clientrun_free(&r);
	assert_int_equal(login(srv, "erin", "Second0Password", NULL), PROTO_OK);
	assert_int_equal(ctl_run(&r, srv, NULL, "user", "lock", "ghost", NULL),
	    1);
	clientrun_free(&r);

	/* rename */
	assert_int_equal(ctl_run(&r, srv, PASSWORD "\n", "user", "add", "gus",
	                     "--password-stdin", NULL),
	    0);
	clientrun_free(&r);
	assert_int_equal(ctl_run(&r, srv, NULL, "user", "rename", "erin", "gus",
	                     NULL),
	    1);
	assert_non_null(strstr(r.err, "user name is taken"));
	clientrun_free(&r);
	assert_int_equal(ctl_run(&r, srv, NULL, "user", "rename", "erin",
	                     "Erika", NULL),
	    0);
	clientrun_free(&r);
	assert_int_equal(login(srv, "erin", "Second0Password", NULL),
	    PROTO_ERROR);
	assert_int_equal(login(srv, "erika", "Second0Password", NULL),
	    PROTO_OK);
	assert_int_equal(ctl_run(&r, srv, NULL, "user", "rename", "ghost",
	                     "ghost2", NULL),
	    1);
	clientrun_free(&r);

	/* del: the mail is set aside unless --purge. */
	assert_int_equal(ctl_run(&r, srv, NULL, "user", "del", "erika",
	                     "--keep-mail", NULL),
	    0);
	assert_non_null(strstr(r.out, ".deleted/erika."));
	clientrun_free(&r);
	assert_int_equal(login(srv, "erika", "Second0Password", NULL),
	    PROTO_ERROR);
	snprintf(path, sizeof(path), "%s/.deleted", srv->data);
	assert_int_equal(count_dir(path), 1); /* erika.<date> */
	assert_int_equal(stat(path, &st), 0);
	assert_int_equal(ctl_run(&r, srv, NULL, "user", "del", "gus", "--purge",
	                     NULL),
	    0);
	clientrun_free(&r);
	snprintf(path, sizeof(path), "%s/gus", srv->data);
	assert_int_equal(stat(path, &st), -1);
	assert_int_equal(ctl_run(&r, srv, NULL, "user", "del", "gus", NULL), 1);
	assert_non_null(strstr(r.err, "no such user"));
	clientrun_free(&r);
	assert_int_equal(ctl_run(&r, srv, NULL, "user", "del", "x", "--purge",
	                     "--keep-mail", NULL),
	    2);
	clientrun_free(&r);
	read_small(srv->log, buf, sizeof(buf)); /* the log is readable */
	testsrv_stop(srv);
}

/* Another uid: the socket's mode keeps it out, and when the mode lets it
 * in, the credential check refuses it. */
static void
test_permission(void **state)
{
	struct clientrun_result r;
	const char *argv[12];

	(void)state;
	if (geteuid() != 0 || access("/usr/bin/setpriv", X_OK) != 0) {
		print_message("skipped: needs root and setpriv\n");
		return;
	}
	assert_int_equal(testsrv_start(srv, fast), 0);
	argv[0] = "setpriv";
	argv[1] = "--reuid=nobody";
	argv[2] = "--regid=nogroup";
	argv[3] = "--clear-groups";
	argv[4] = CTL;
	argv[5] = "--control-socket";
	argv[6] = srv->control;
	argv[7] = "user";
	argv[8] = "list";
	argv[9] = NULL;
	setenv("GLOMAIL_CLIENT", "/usr/bin/setpriv", 1);
	chmod(srv->dir, 0711);
	assert_int_equal(clientrun(argv, NULL, NULL, &r), 0);
	assert_int_equal(r.exit_code, 2);
	assert_non_null(strstr(r.err, "Permission denied"));
	clientrun_free(&r);
	/* Let it connect: the server itself must refuse. */
	assert_int_equal(chmod(srv->control, 0666), 0);
	setenv("GLOMAIL_CLIENT", "/usr/bin/setpriv", 1);
	assert_int_equal(clientrun(argv, NULL, NULL, &r), 0);
	assert_int_equal(r.exit_code, 2);
	assert_non_null(strstr(r.err, "permission denied"));
	clientrun_free(&r);
	assert_true(testsrv_log_contains(srv, "control: refused uid=65534"));
	/* ...and root still gets in. */
	assert_int_equal(ctl_run(&r, srv, NULL, "user", "list", NULL), 0);
	clientrun_free(&r);
	testsrv_stop(srv);
}

/* Mail to an unknown user, then handed to an account. */
static void
test_lost(void **state)
{
	struct clientrun_result r;
	struct msg *reply;
	struct msg_email e = { "hana@glo2000.ca", "nobody@glo2000.ca",
		"Perdu mais trouvé", NULL, "corps\n" };
	char path[700], id[300], *list;
	struct timespec old[2];
	json_t *j, *m;
	int fd;

	(void)state;
	assert_int_equal(testsrv_start(srv, fast), 0);
	fd = testsrv_user(srv, "hana", PASSWORD);
	assert_true(fd >= 0);
	assert_int_equal(testsrv_request(fd, PROTO_EMAIL_SENDING,
	                     msg_email_new(&e), &reply),
	    PROTO_ERROR);
	msg_free(reply);
	j = ctl_json(srv, "lost", "list", NULL);
	m = json_array_get(json_object_get(j, "messages"), 0);
	assert_non_null(m);
	assert_string_equal(json_string_value(json_object_get(m, "subject")),
	    "Perdu mais trouvé");
	assert_string_equal(json_string_value(json_object_get(m, "to")),
	    "nobody@glo2000.ca");
	snprintf(id, sizeof(id), "%s",
	    json_string_value(json_object_get(m, "id")));
	json_decref(j);

	assert_int_equal(ctl_run(&r, srv, NULL, "lost", "deliver", id, "--to",
	                     "ghost", NULL),
	    1);
	assert_non_null(strstr(r.err, "no such user"));
	clientrun_free(&r);
	assert_int_equal(ctl_run(&r, srv, NULL, "lost", "deliver", "123.nope",
	                     "--to", "hana", NULL),
	    1);
	assert_non_null(strstr(r.err, "no such message"));
	clientrun_free(&r);
	assert_int_equal(ctl_run(&r, srv, NULL, "lost", "deliver", "../hana",
	                     "--to", "hana", NULL),
	    1);
	clientrun_free(&r);
	assert_int_equal(ctl_run(&r, srv, NULL, "lost", "deliver", id, NULL),
	    2);
	clientrun_free(&r);
	assert_int_equal(ctl_run(&r, srv, NULL, "lost", "deliver", id, "--to",
	                     "hana", NULL),
	    0);
	clientrun_free(&r);
	/* The logged-in session's index knows of it at once. */
	list = inbox(fd);
	assert_non_null(strstr(list, "Perdu mais trouvé"));
	free(list);
	close(fd);
	j = ctl_json(srv, "lost", "list", NULL);
	assert_int_equal(json_array_size(json_object_get(j, "messages")), 0);
	json_decref(j);

	/* purge: only what is older than the limit. */
	fd = testsrv_user(srv, "hana", PASSWORD);
	assert_int_equal(testsrv_request(fd, PROTO_EMAIL_SENDING,
	                     msg_email_new(&e), NULL),
	    PROTO_ERROR);
	assert_int_equal(testsrv_request(fd, PROTO_EMAIL_SENDING,
	                     msg_email_new(&e), NULL),
	    PROTO_ERROR);
	close(fd);
	j = ctl_json(srv, "lost", "list", NULL);
	m = json_array_get(json_object_get(j, "messages"), 0);
	snprintf(path, sizeof(path), "%s/LOST/new/%s", srv->data,
	    json_string_value(json_object_get(m, "id")));
	json_decref(j);
	old[0].tv_sec = old[1].tv_sec = time(NULL) - 3 * 86400;
	old[0].tv_nsec = old[1].tv_nsec = 0;
	assert_int_equal(utimensat(AT_FDCWD, path, old, 0), 0);
	assert_int_equal(ctl_run(&r, srv, NULL, "lost", "purge", "--older-than",
	                     "2", NULL),
	    0);
	assert_non_null(strstr(r.out, "1 removed"));
	clientrun_free(&r);
	j = ctl_json(srv, "lost", "list", NULL);
	assert_int_equal(json_array_size(json_object_get(j, "messages")), 1);
	json_decref(j);
	assert_int_equal(ctl_run(&r, srv, NULL, "lost", "purge", "--older-than",
	                     "ten", NULL),
	    2);
	clientrun_free(&r);
	assert_int_equal(ctl_run(&r, srv, NULL, "lost", "purge", NULL), 2);
	clientrun_free(&r);
	testsrv_stop(srv);
}

static void
test_check(void **state)
{
	struct clientrun_result r;
	char path[700];
	struct timespec old[2];
	int fd;

	(void)state;
	assert_int_equal(testsrv_start(srv, fast), 0);
	close(testsrv_user(srv, "ivy", PASSWORD));
	assert_int_equal(ctl_run(&r, srv, NULL, "check", NULL), 0);
	assert_non_null(strstr(r.out, "0 repaired, 0 left"));
	clientrun_free(&r);
	/* A stale tmp/ file, a name that does not parse, a pass-less folder. */
	snprintf(path, sizeof(path), "%s/ivy/tmp/1.M1P1Q1.dead", srv->data);
	fd = open(path, O_WRONLY | O_CREAT, 0600);
	assert_true(fd >= 0);
	close(fd);
	old[0].tv_sec = old[1].tv_sec = time(NULL) - 3 * 86400;
	old[0].tv_nsec = old[1].tv_nsec = 0;
	assert_int_equal(utimensat(AT_FDCWD, path, old, 0), 0);
	snprintf(path, sizeof(path), "%s/ivy/new/garbage", srv->data);
	close(open(path, O_WRONLY | O_CREAT, 0600));
	snprintf(path, sizeof(path), "%s/orphan", srv->data);
	assert_int_equal(mkdir(path, 0700), 0);
	assert_int_equal(ctl_run(&r, srv, NULL, "check", NULL), 1);
	assert_non_null(
	    strstr(r.out, "ivy/tmp/1.M1P1Q1.dead: leftover in tmp/"));
	assert_non_null(strstr(r.out, "ivy/new/garbage: message name does not "
	                              "parse"));
	assert_non_null(strstr(r.out, "orphan: account without a pass file"));
	clientrun_free(&r);
	assert_int_equal(ctl_run(&r, srv, NULL, "check", "--repair", NULL), 1);
	assert_non_null(strstr(r.out, "leftover in tmp/ (repaired)"));
	assert_non_null(strstr(r.out, "1 repaired, 2 left"));
	clientrun_free(&r);
	snprintf(path, sizeof(path), "%s/ivy/tmp/1.M1P1Q1.dead", srv->data);
	assert_int_equal(access(path, F_OK), -1);
	/* One account only; an unknown one is named. */
	assert_int_equal(ctl_run(&r, srv, NULL, "check", "ivy", NULL), 1);
	assert_null(strstr(r.out, "orphan"));
	clientrun_free(&r);
	assert_int_equal(ctl_run(&r, srv, NULL, "check", "nobody2", NULL), 1);
	assert_non_null(strstr(r.out, "nobody2: no such account"));
	clientrun_free(&r);
	testsrv_stop(srv);
}

/* A mail of the seed data, as the inbox lists it. */
struct seen {
	const char *user, *line;
};

static void
import_and_login(const char *source, const struct seen *want, size_t nwant,
    const char *lost_date, time_t lost_when)
{
	static const char *const users[3][2] = { { "alice", "Alice0Password" },
		{ "bob", "Bob0Password11" },
		{ "Carol.Dupont", "Carol0Password" } };
	struct clientrun_result r;
	char path[700], pass[600], *list;
	json_t *j, *lost;
	struct stat st;
	size_t i, k;
	int fd;

	assert_int_equal(testsrv_start(srv, fast), 0);
	/* The dry run says what would happen and does nothing. */
	assert_int_equal(ctl_run(&r, srv, NULL, "import-seed", source,
	                     "--dry-run", NULL),
	    0);
	assert_non_null(strstr(r.out, "carol.dupont"));
	assert_non_null(strstr(r.out, "create"));
	clientrun_free(&r);
	snprintf(path, sizeof(path), "%s/alice", srv->data);
	assert_int_equal(access(path, F_OK), -1);

	j = ctl_json(srv, "import-seed", source, NULL);
	assert_int_equal(json_integer_value(json_object_get(j, "added")), 7);
	assert_int_equal(json_integer_value(json_object_get(j, "present")), 0);
	assert_int_equal(json_array_size(json_object_get(j, "accounts")), 3);
	json_decref(j);
	assert_int_equal(count_mail(srv, "LOST"), 1);

	for (i = 0; i < 3; i++) {
		char lower[64];

		for (k = 0; users[i][0][k] != '\0'; k++)
			lower[k] = (char)(users[i][0][k] >= 'A' &&
			                          users[i][0][k] <= 'Z'
			                      ? users[i][0][k] + 32
			                      : users[i][0][k]);
		lower[k] = '\0';
		snprintf(path, sizeof(path), "%s/%s/pass", srv->data, lower);
		read_small(path, pass, sizeof(pass));
		assert_int_equal(pass[0], '{');
		/* A wrong password is refused and changes nothing. */
		assert_int_equal(login(srv, users[i][0], "Wrong0Password",
		                     NULL),
		    PROTO_ERROR);
		read_small(path, pass, sizeof(pass));
		assert_int_equal(pass[0], '{');
		assert_int_equal(login(srv, users[i][0], users[i][1], &fd),
		    PROTO_OK);
		list = inbox(fd);
		for (k = 0; k < nwant; k++)
			if (strcmp(want[k].user, lower) == 0 &&
			    strstr(list, want[k].line) == NULL)
				fail_msg("%s: \"%s\" not in:\n%s", lower,
				    want[k].line, list);
		free(list);
		close(fd);
		/* The legacy digest is gone after the first login. */
		read_small(path, pass, sizeof(pass));
		assert_int_equal(strncmp(pass, "$argon2id$", 10), 0);
		assert_int_equal(login(srv, users[i][0], users[i][1], NULL),
		    PROTO_OK);
		assert_int_equal(login(srv, users[i][0], "Wrong0Password",
		                     NULL),
		    PROTO_ERROR);
	}
	/* The file's date is the mail'srv-> */
	j = ctl_json(srv, "lost", "list", NULL);
	lost = json_array_get(json_object_get(j, "messages"), 0);
	assert_string_equal(json_string_value(json_object_get(lost, "date")),
	    lost_date);
	snprintf(path, sizeof(path), "%s/LOST/new/%s", srv->data,
	    json_string_value(json_object_get(lost, "id")));
	assert_int_equal(stat(path, &st), 0);
	assert_int_equal(st.st_mtime, lost_when);
	json_decref(j);

	/* Again: nothing added. */
	j = ctl_json(srv, "import-seed", source, NULL);
	assert_int_equal(json_integer_value(json_object_get(j, "added")), 0);
	assert_int_equal(json_integer_value(json_object_get(j, "present")), 7);
	json_decref(j);
	assert_int_equal(count_mail(srv, "alice"), 3);
	assert_int_equal(count_mail(srv, "bob"), 3);
	assert_int_equal(count_mail(srv, "LOST"), 1);
	testsrv_stop(srv);
}

static void
test_import_alexctz(void **state)
{
	static const struct seen want[] = {
		{ "bob", "alice@glo2000.ca - Réunion à 10h ✓ Thu, 14 Nov 2024 "
		         "14:15:00 +0000" },
		{ "bob", "alice@glo2000.ca - Rappel Fri, 15 Nov 2024 09:02:37 "
		         "+0000" },
		{ "bob", "alice@glo2000.ca - Lab 3 report Mon, 18 Nov 2024 "
		         "16:40:05 +0000" },
		{ "alice", "bob@glo2000.ca - Re: Reunion Tue, 19 Nov 2024 "
		           "08:21:44 +0000" },
		{ "alice",
		    "Carol.Dupont@glo2000.ca - Projet de session Tue, 19 "
		    "Nov 2024 19:55:10 +0000" },
		{ "alice", "Carol.Dupont@glo2000.ca - Rappel : remise vendredi "
		           "Wed, 20 Nov 2024 11:07:53 +0000" },
	};

	(void)state;
	import_and_login(SEED "/alexctz-tp_4", want,
	    sizeof(want) / sizeof(want[0]), "Thu, 21 Nov 2024 10:30:00 +0000",
	    1732185000);
}

static void
test_import_lobou(void **state)
{
	static const struct seen want[] = {
		{ "bob", "alice@glo2000.ca - Réunion à 10h ✓ Thu, 16 Nov 2023 "
		         "14:15:00 +0000" },
		{ "bob", "alice@glo2000.ca - Rappel Fri, 17 Nov 2023 09:02:37 "
		         "+0000" },
		{ "bob", "alice@glo2000.ca - Lab 3 report Mon, 20 Nov 2023 "
		         "16:40:05 +0000" },
		{ "alice", "bob@glo2000.ca - Re: Reunion Tue, 21 Nov 2023 "
		           "08:21:44 +0000" },
		{ "alice",
		    "Carol.Dupont@glo2000.ca - Projet de session Tue, 21 "
		    "Nov 2023 19:55:10 +0000" },
		{ "alice", "Carol.Dupont@glo2000.ca - Rappel : remise vendredi "
		           "Wed, 22 Nov 2023 11:07:53 +0000" },
	};

	(void)state;
	import_and_login(SEED "/lobou-tp4-reseaux", want,
	    sizeof(want) / sizeof(want[0]), "Thu, 23 Nov 2023 10:30:00 +0000",
	    1700735400);
}

/* An account that no import made is a clash: kept as it is, mail skipped. */
static void
test_import_clash(void **state)
{
	struct clientrun_result r;
	json_t *j;

	(void)state;
	assert_int_equal(testsrv_start(srv, fast), 0);
	assert_int_equal(ctl_run(&r, srv, PASSWORD "\n", "user", "add", "alice",
	                     "--password-stdin", NULL),
	    0);
	clientrun_free(&r);
	j = ctl_json(srv, "import-seed", SEED "/alexctz-tp_4", NULL);
	assert_int_equal(json_integer_value(json_object_get(j, "added")), 4);
	assert_non_null(
	    strstr(json_string_value(
	               json_array_get(json_object_get(j, "problems"), 0)),
	        "alice: an account of that "
	        "name exists"));
	json_decref(j);
	assert_int_equal(count_mail(srv, "alice"), 0);
	assert_int_equal(login(srv, "alice", "Alice0Password", NULL),
	    PROTO_ERROR);
	assert_int_equal(login(srv, "alice", PASSWORD, NULL), PROTO_OK);
	assert_int_equal(ctl_run(&r, srv, NULL, "import-seed",
	                     "/nonexistent/dir", NULL),
	    2);
	clientrun_free(&r);
	testsrv_stop(srv);
}

/* --data-dir: a store no server runs on; refused while one does. */
static void
test_offline(void **state)
{
	struct clientrun_result r;
	char dir[256], data[300], path[400], *log;
	struct stat st;

	(void)state;
	assert_int_equal(testsrv_scratch(dir, sizeof(dir), "offline"), 0);
	snprintf(data, sizeof(data), "%s/data", dir);
	assert_int_equal(ctl_run(&r, NULL, PASSWORD "\n", "--data-dir", data,
	                     "user", "add", "jay", "--password-stdin", NULL),
	    0);
	clientrun_free(&r);
	assert_int_equal(ctl_run(&r, NULL, NULL, "--data-dir", data,
	                     "import-seed", SEED "/lobou-tp4-reseaux", NULL),
	    0);
	clientrun_free(&r);
	assert_int_equal(ctl_run(&r, NULL, NULL, "--data-dir", data, "user",
	                     "list", NULL),
	    0);
	assert_non_null(strstr(r.out, "jay"));
	assert_non_null(strstr(r.out, "carol.dupont"));
	clientrun_free(&r);
	assert_int_equal(ctl_run(&r, NULL, NULL, "--data-dir", data, "reload",
	                     NULL),
	    2);
	clientrun_free(&r);
	/* The server then serves what was made offline. */
	memset(srv, 0, sizeof(*srv));
	snprintf(srv->dir, sizeof(srv->dir), "%s", dir);
	snprintf(srv->data, sizeof(srv->data), "%s", data);
	snprintf(srv->log, sizeof(srv->log), "%s/server.log", dir);
	snprintf(srv->control, sizeof(srv->control), "%s/control", dir);
	assert_int_equal(testsrv_restart_anyport(srv, fast), 0);
	assert_int_equal(login(srv, "jay", PASSWORD, NULL), PROTO_OK);
	assert_int_equal(login(srv, "bob", "Bob0Password11", NULL), PROTO_OK);
	assert_int_equal(ctl_run(&r, NULL, NULL, "--data-dir", data, "user",
	                     "list", NULL),
	    2);
	assert_non_null(strstr(r.err, "holds this store"));
	clientrun_free(&r);
	log = testsrv_read_file(srv->log);
	free(log);
	testsrv_stop(srv);

	/* Root on a store another user owns works as that user. */
	if (geteuid() != 0)
		return;
	assert_int_equal(testsrv_scratch(dir, sizeof(dir), "owned"), 0);
	assert_int_equal(chmod(dir, 0711), 0);
	/* It runs glomaild as that user: a copy it can reach, wherever the
	 * build tree is (under /root, it could not). */
	snprintf(path, sizeof(path), "%s/glomaild", dir);
	copy_executable(GLOMAIL_BINARY_DIR "/server/glomaild", path);
	snprintf(ctl_glomaild, sizeof(ctl_glomaild), "GLOMAILD=%s", path);
	snprintf(data, sizeof(data), "%s/data", dir);
	assert_int_equal(mkdir(data, 0700), 0);
	assert_int_equal(chown(data, 65534, 65534), 0);
	assert_int_equal(ctl_run(&r, NULL, PASSWORD "\n", "--data-dir", data,
	                     "user", "add", "kay", "--password-stdin", NULL),
	    0);
	clientrun_free(&r);
	snprintf(path, sizeof(path), "%s/kay/pass", data);
	assert_int_equal(stat(path, &st), 0);
	assert_int_equal(st.st_uid, 65534);
	snprintf(ctl_glomaild, sizeof(ctl_glomaild),
	    "GLOMAILD=" GLOMAIL_BINARY_DIR "/server/glomaild");
	testsrv_remove_tree(dir);
}

/* SHA3-512 hex of s, as the original servers stored passwords. */
static void
sha3_hex(const char *s, char out[129])
{
	unsigned char md[64];
	unsigned len = 0, i;

	assert_int_equal(EVP_Digest(s, strlen(s), md, &len, EVP_sha3_512(),
	                     NULL),
	    1);
	for (i = 0; i < len; i++)
		snprintf(out + 2 * i, 3, "%02x", md[i]);
}

#define CRASH_USERS 3
#define CRASH_MAILS 250

static size_t
store_total(const struct testsrv *s)
{
	static const char *const names[CRASH_USERS] = { "kim", "lee", "max" };
	size_t i, n = 0;

	for (i = 0; i < CRASH_USERS; i++)
		n += count_mail(s, names[i]);
	return n;
}

/* SIGKILL during an import; the next import completes it, adding each
 * mail exactly once. */
static void
test_import_crash(void **state)
{
	static const char *const names[CRASH_USERS] = { "kim", "lee", "max" };
	char src[300], path[700], hex[129], body[400];
	struct timespec pause = { 0, 5 * 1000 * 1000 };
	size_t i, k, n;
	pid_t pid;
	json_t *j;
	FILE *f;
	int st, tries;

	(void)state;
	assert_int_equal(testsrv_start(srv, fast), 0);
	snprintf(src, sizeof(src), "%s/seed", srv->dir);
	assert_int_equal(mkdir(src, 0700), 0);
	sha3_hex("Crash0Password", hex);
	for (i = 0; i < CRASH_USERS; i++) {
		snprintf(path, sizeof(path), "%s/%s", src, names[i]);
		assert_int_equal(mkdir(path, 0700), 0);
		snprintf(path, sizeof(path), "%s/%s/pass", src, names[i]);
		assert_non_null(f = fopen(path, "w"));
		fputs(hex, f);
		fclose(f);
		for (k = 0; k < CRASH_MAILS; k++) {
			snprintf(path, sizeof(path), "%s/%s/email_%zu.json",
			    src, names[i], 1700000000 + k);
			assert_non_null(f = fopen(path, "w"));
			snprintf(body, sizeof(body), "message %zu of %s", k,
			    names[i]);
			fprintf(f,
			    "{\"sender\": \"kim@glo2000.ca\", "
			    "\"destination\": \"%s@glo2000.ca\", \"subject\": "
			    "\"n\\u00b0%zu\", \"date\": \"Tue, 14 Nov 2023 "
			    "22:13:20 +0000\", \"content\": \"%s\"}",
			    names[i], k, body);
			fclose(f);
		}
	}
	pid = fork();
	assert_true(pid >= 0);
	if (pid == 0) {
		int nul = open("/dev/null", O_WRONLY);

		dup2(nul, STDOUT_FILENO);
		dup2(nul, STDERR_FILENO);
		execl(CTL, "glomailctl", "--control-socket", srv->control,
		    "import-seed", src, (char *)NULL);
		_exit(127);
	}
	/* Kill the server once part of the mail is in. */
	for (tries = 0; tries < 20000 && store_total(srv) < 50; tries++)
		nanosleep(&pause, NULL);
	n = store_total(srv);
	assert_true(n >= 50);
	testsrv_kill(srv, SIGKILL);
	waitpid(pid, &st, 0);
	n = store_total(srv);
	if (n >= CRASH_USERS * CRASH_MAILS)
		print_message("the import finished before the kill (%zu)\n", n);
	assert_int_equal(testsrv_restart_anyport(srv, fast), 0);
	j = ctl_json(srv, "import-seed", src, NULL);
	assert_int_equal(json_integer_value(json_object_get(j, "added")) +
	                     json_integer_value(json_object_get(j, "present")),
	    CRASH_USERS * CRASH_MAILS);
	assert_int_equal(json_integer_value(json_object_get(j, "present")),
	    (json_int_t)n);
	json_decref(j);
	assert_int_equal(store_total(srv), CRASH_USERS * CRASH_MAILS);
	for (i = 0; i < CRASH_USERS; i++) {
		snprintf(path, sizeof(path), "%s/%s/tmp", srv->data, names[i]);
		assert_int_equal(count_dir(path), 0);
		assert_int_equal(login(srv, names[i], "Crash0Password", NULL),
		    PROTO_OK);
	}
	testsrv_stop(srv);
}

/* On a terminal the password is asked twice, without echo. */
static void
test_password_terminal(void **state)
{
	const char *argv[] = { "glomailctl", "--control-socket", NULL, "user",
		"add", "mia", NULL };
	struct pty p;

	(void)state;
	assert_int_equal(testsrv_start(srv, fast), 0);
	argv[2] = srv->control;
	setenv("GLOMAIL_CLIENT", CTL, 1);
	assert_int_equal(pty_spawn(&p, argv, NULL), 0);
	assert_int_equal(pty_expect(&p, "New password: ", 10000), 0);
	assert_int_equal(pty_echo(&p), 0);
	assert_int_equal(pty_type(&p, PASSWORD "\n"), 0);
	assert_int_equal(pty_expect(&p, "Retype the new password: ", 10000), 0);
	assert_int_equal(pty_type(&p, "Other0Password\n"), 0);
	assert_int_equal(pty_wait(&p, 10000), 2);
	assert_non_null(strstr(p.buf, "the passwords do not match"));
	pty_close(&p);
	assert_int_equal(login(srv, "mia", PASSWORD, NULL), PROTO_ERROR);

	assert_int_equal(pty_spawn(&p, argv, NULL), 0);
	assert_int_equal(pty_expect(&p, "New password: ", 10000), 0);
	assert_int_equal(pty_type(&p, PASSWORD "\n"), 0);
	assert_int_equal(pty_expect(&p, "Retype the new password: ", 10000), 0);
	assert_int_equal(pty_type(&p, PASSWORD "\n"), 0);
	assert_int_equal(pty_wait(&p, 10000), 0);
	pty_close(&p);
	assert_int_equal(login(srv, "mia", PASSWORD, NULL), PROTO_OK);
	testsrv_stop(srv);
}

/* SHA3-512 or SHA3-224 hex of s, as the original servers stored them. */
static void
sha3_hex_md(const char *s, const EVP_MD *md, char *out)
{
	unsigned char d[64];
	unsigned len = 0, i;

	assert_int_equal(EVP_Digest(s, strlen(s), d, &len, md, NULL), 1);
	for (i = 0; i < len; i++)
		snprintf(out + 2 * i, 3, "%02x", d[i]);
}

/* Legacy schemes: known ones verify (any hex case), others deny. */
static void
test_legacy_schemes(void **state)
{
	struct clientrun_result r;
	char path[600], hex[129], line[300];
	struct {
		const char *prefix;
		const EVP_MD *(*md)(void);
		int upper, cut, ok;
	} cases[] = {
		{ "{SHA3-512.HEX}", EVP_sha3_512, 0, 0, 1 },
		{ "{SHA3-512.HEX}", EVP_sha3_512, 1, 0, 1 },
		{ "{SHA3-224.HEX}", EVP_sha3_224, 0, 0, 1 },
		{ "{SHA3-224.HEX}", EVP_sha3_512, 0, 0, 0 }, /* wrong length */
		{ "{SHA3-512.HEX}", EVP_sha3_512, 0, 1, 0 }, /* truncated */
		{ "{SHA3-256.HEX}", EVP_sha3_256, 0, 0, 0 }, /* unknown */
		{ "{sha3-512.hex}", EVP_sha3_512, 0, 0, 0 },
		{ "", EVP_sha3_512, 0, 0, 0 }, /* bare hex */
	};
	size_t i, k;
	FILE *f;

	(void)state;
	assert_int_equal(testsrv_start(srv, fast), 0);
	assert_int_equal(ctl_run(&r, srv, PASSWORD "\n", "user", "add", "nia",
	                     "--password-stdin", NULL),
	    0);
	clientrun_free(&r);
	snprintf(path, sizeof(path), "%s/nia/pass", srv->data);
	for (i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		sha3_hex_md(PASSWORD, cases[i].md(), hex);
		for (k = 0; cases[i].upper && hex[k] != '\0'; k++)
			if (hex[k] >= 'a' && hex[k] <= 'f')
				hex[k] = (char)(hex[k] - 32);
		if (cases[i].cut)
			hex[strlen(hex) - 1] = '\0';
		snprintf(line, sizeof(line), "%s%s\n", cases[i].prefix, hex);
		assert_non_null(f = fopen(path, "w"));
		fputs(line, f);
		fclose(f);
		assert_int_equal(login(srv, "nia", "Wrong0Password", NULL),
		    PROTO_ERROR);
		if (login(srv, "nia", PASSWORD, NULL) !=
		    (cases[i].ok ? PROTO_OK : PROTO_ERROR))
			fail_msg("case %zu: %s", i, line);
	}
	testsrv_stop(srv);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_teardown(test_gate, stop_server),
		cmocka_unit_test_teardown(test_status_reload_log_level,
		    stop_server),
		cmocka_unit_test_teardown(test_users, stop_server),
		cmocka_unit_test_teardown(test_password_terminal, stop_server),
		cmocka_unit_test_teardown(test_legacy_schemes, stop_server),
		cmocka_unit_test_teardown(test_permission, stop_server),
		cmocka_unit_test_teardown(test_lost, stop_server),
		cmocka_unit_test_teardown(test_check, stop_server),
		cmocka_unit_test_teardown(test_import_alexctz, stop_server),
		cmocka_unit_test_teardown(test_import_lobou, stop_server),
		cmocka_unit_test_teardown(test_import_clash, stop_server),
		cmocka_unit_test_teardown(test_offline, stop_server),
		cmocka_unit_test_teardown(test_import_crash, stop_server),
	};

	signal(SIGPIPE, SIG_IGN);
	return cmocka_run_group_tests(tests, NULL, NULL);
}
