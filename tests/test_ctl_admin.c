/*
 * test_ctl_admin.c - glomailctl's quota, alias and status commands against
 * a real glomaild: a quota set over the control socket holds for the very
 * next delivery, survives a restart and works offline; the aliases in
 * force are listed; status counts connections by state (SMTP sessions
 * included), logins and deliveries since start; and the error paths.
 */
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <sys/wait.h>

#include <arpa/inet.h>
#include <dirent.h>
#include <fcntl.h>
#include <netinet/in.h>
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

#include "clientrun.h"
#include "msg.h"
#include "proto.h"
#include "testsrv.h"

#define CTL GLOMAIL_BINARY_DIR "/client/glomailctl"
#define PASSWORD "Admin0Password"

static const char *const fast[] = { "--login-penalty", "0", "--quota", "4K",
	NULL };

/* glomailctl [--control-socket <s's socket>] args... (NULL-terminated). */
static int
ctl_run(struct clientrun_result *r, const struct testsrv *s, const char *input,
    ...)
{
	const char *argv[40] = { "glomailctl" };
	const char *env[] = { "GLOMAILD=" GLOMAIL_BINARY_DIR "/server/glomaild",
		NULL };
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

/* The reply of a --json command that succeeds, parsed. */
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
	if (r.exit_code != 0)
		fail_msg("glomailctl exit %d: %s", r.exit_code, r.err);
	if ((j = json_loads(r.out, 0, &e)) == NULL)
		fail_msg("not JSON: %s (stderr %s)", r.out, r.err);
	clientrun_free(&r);
	return j;
}

static long long
jnum(json_t *j, const char *a, const char *b)
{
	json_t *v = json_object_get(j, a);

	if (b != NULL)
		v = json_object_get(v, b);
	if (!json_is_integer(v))
		fail_msg("%s%s%s is not a number", a, b ? "." : "", b ? b : "");
	return (long long)json_integer_value(v);
}

static void
add_user(const struct testsrv *s, const char *name)
{
	struct clientrun_result r;

	if (ctl_run(&r, s, PASSWORD "\n", "user", "add", name,
	        "--password-stdin", NULL) != 0)
		fail_msg("user add %s: %s", name, r.err);
	clientrun_free(&r);
}

/* Send a message of about size bytes from fd's account to `to`: the reply
 * header, and the error text in why (when ERROR). */
static int
send_mail(int fd, const char *to, size_t size, char *why, size_t whylen)
{
	struct msg_email e = { "sam@glo2000.ca", to, "Gros message", NULL,
		NULL };
	struct msg *reply = NULL;
	union msg_args a;
	const char *w;
	char *body = malloc(size + 1);
	int rc;

	assert_non_null(body);
	memset(body, 'x', size);
	body[size] = '\0';
	e.content = body;
	rc = testsrv_request(fd, PROTO_EMAIL_SENDING, msg_email_new(&e),
	    &reply);
	why[0] = '\0';
	if (rc == PROTO_ERROR &&
	    msg_unpack(reply, PROTO_SHAPE_ERROR, &a, &w) == 0)
		snprintf(why, whylen, "%s", a.error_message);
	msg_free(reply);
	free(body);
	return rc;
}

/* Entries of an account directory whose name starts with a dot. */
static size_t
count_hidden(const char *path)
{
	struct dirent *de;
	size_t n = 0;
	DIR *d = opendir(path);

	if (d == NULL)
		return 0;
	while ((de = readdir(d)) != NULL)
		if (de->d_name[0] == '.' && strcmp(de->d_name, ".") != 0 &&
		    strcmp(de->d_name, "..") != 0)
			n++;
	closedir(d);
	return n;
}

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

/* quota get/set against a running server: at once, durably, logged. */
static void
test_quota(void **state)
{
	struct clientrun_result r;
	char why[256], path[600], *text;
	json_t *j, *u;
	int fd;

	(void)state;
	assert_int_equal(testsrv_start(srv, fast), 0);
	add_user(srv, "quinn");
	fd = testsrv_user(srv, "sam", PASSWORD);
	assert_true(fd >= 0);

	j = ctl_json(srv, "quota", "get", "Quinn", NULL);
	assert_string_equal(json_string_value(json_object_get(j, "name")),
	    "quinn");
	assert_int_equal(jnum(j, "limit", NULL), 4096);
	assert_int_equal(jnum(j, "default", NULL), 4096);
	assert_int_equal(jnum(j, "used", NULL), 0);
	assert_true(json_is_null(json_object_get(j, "account_limit")));
	json_decref(j);

	/* The default refuses 6000 bytes; 500M set over the control socket
	 * lets the very next one in, with no reload. */
	assert_int_equal(send_mail(fd, "quinn@glo2000.ca", 6000, why,
	                     sizeof(why)),
	    PROTO_ERROR);
	assert_string_equal(why, "recipient's mailbox is full");
	assert_int_equal(ctl_run(&r, srv, NULL, "quota", "set", "quinn", "500M",
	                     NULL),
	    0);
	assert_non_null(strstr(r.out, "524288000"));
	clientrun_free(&r);
	assert_int_equal(send_mail(fd, "quinn@glo2000.ca", 6000, why,
	                     sizeof(why)),
	    PROTO_OK);
	j = ctl_json(srv, "quota", "get", "quinn", NULL);
	assert_int_equal(jnum(j, "limit", NULL), 524288000);
	assert_int_equal(jnum(j, "account_limit", NULL), 524288000);
	assert_true(jnum(j, "used", NULL) > 6000);
	json_decref(j);
	/* The account's own limit is in its quota file, whole, and no
	 * temporary file is left beside it. */
	snprintf(path, sizeof(path), "%s/quinn/quota", srv->data);
	text = testsrv_read_file(path);
	assert_non_null(text);
	assert_string_equal(text, "524288000\n");
	free(text);
	snprintf(path, sizeof(path), "%s/quinn", srv->data);
	assert_int_equal(count_hidden(path), 0);
	assert_true(
	    testsrv_log_contains(srv, "control uid=" /* the admin's uid */));
	assert_true(testsrv_log_contains(srv,
	    ": quota set quinn default -> 524288000"));

	/* The user's own QUOTA request sees the same limit. */
	{
		struct msg *reply;
		int qfd = testsrv_user(srv, "quinn", PASSWORD);

		assert_true(qfd >= 0);
		assert_int_equal(testsrv_request(qfd, PROTO_QUOTA, NULL,
		                     &reply),
		    PROTO_OK);
		assert_int_equal(json_integer_value(
		                     json_object_get(msg_payload(reply),
		                         "limit")),
		    524288000);
		msg_free(reply);
		close(qfd);
	}

	/* Lowering it below the usage refuses the next delivery at once. */
	assert_int_equal(ctl_run(&r, srv, NULL, "quota", "set", "quinn", "1K",
	                     NULL),
	    0);
	clientrun_free(&r);
	assert_int_equal(send_mail(fd, "quinn@glo2000.ca", 100, why,
	                     sizeof(why)),
	    PROTO_ERROR);
	assert_string_equal(why, "recipient's mailbox is full");

	/* 0: no limit at all, even with a default. */
	assert_int_equal(ctl_run(&r, srv, NULL, "quota", "set", "quinn", "0",
	                     NULL),
	    0);
	clientrun_free(&r);
	assert_int_equal(send_mail(fd, "quinn@glo2000.ca", 8000, why,
	                     sizeof(why)),
	    PROTO_OK);
	j = ctl_json(srv, "user", "list", NULL);
	u = json_array_get(json_object_get(j, "users"), 0);
	assert_string_equal(json_string_value(json_object_get(u, "name")),
	    "quinn");
	assert_int_equal(jnum(u, "quota", NULL), 0);
	u = json_array_get(json_object_get(j, "users"), 1);
	assert_string_equal(json_string_value(json_object_get(u, "name")),
	    "sam");
	assert_int_equal(jnum(u, "quota", NULL), 4096);
	json_decref(j);
	assert_int_equal(ctl_run(&r, srv, NULL, "quota", "get", "quinn", NULL),
	    0);
	assert_non_null(strstr(r.out, "none"));
	clientrun_free(&r);

	/* It holds across a restart. */
	assert_int_equal(testsrv_kill(srv, SIGTERM), 0);
	assert_int_equal(testsrv_restart_anyport(srv, fast), 0);
	j = ctl_json(srv, "quota", "get", "quinn", NULL);
	assert_int_equal(jnum(j, "account_limit", NULL), 0);
	assert_int_equal(jnum(j, "limit", NULL), 0);
	json_decref(j);

	/* "default" gives the account back to the quota setting. */
	assert_int_equal(ctl_run(&r, srv, NULL, "quota", "set", "quinn",
	                     "default", NULL),
	    0);
	clientrun_free(&r);
	assert_int_equal(access(path, F_OK), 0);
	snprintf(path, sizeof(path), "%s/quinn/quota", srv->data);
	assert_int_equal(access(path, F_OK), -1);
	j = ctl_json(srv, "quota", "get", "quinn", NULL);
	assert_int_equal(jnum(j, "limit", NULL), 4096);
	assert_true(json_is_null(json_object_get(j, "account_limit")));
	json_decref(j);
	assert_true(testsrv_log_contains(srv, ": quota set quinn none -> "
	                                      "default"));

	/* Error paths: unknown user, bad sizes, bad names, usage. */
	assert_int_equal(ctl_run(&r, srv, NULL, "quota", "set", "ghost", "1M",
	                     NULL),
	    1);
	assert_non_null(strstr(r.err, "no such user"));
	clientrun_free(&r);
	assert_int_equal(ctl_run(&r, srv, NULL, "quota", "get", "ghost", NULL),
	    1);
	assert_non_null(strstr(r.err, "no such user"));
	clientrun_free(&r);
	{
		static const char *const bad[] = { "12Q", "", "1.5G",
			"99999999999G", "0x10", "1M ", " 1M" };
		size_t i;

		for (i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
			assert_int_equal(ctl_run(&r, srv, NULL, "quota", "set",
			                     "quinn", bad[i], NULL),
			    1);
			if (strstr(r.err, "bad size") == NULL)
				fail_msg("%s: %s", bad[i], r.err);
			clientrun_free(&r);
		}
	}
	/* A negative size is an option to getopt, and after "--" no size. */
	assert_int_equal(ctl_run(&r, srv, NULL, "quota", "set", "quinn", "-5",
	                     NULL),
	    2);
	clientrun_free(&r);
	assert_int_equal(ctl_run(&r, srv, NULL, "quota", "set", "quinn", "--",
	                     "-5", NULL),
	    1);
	assert_non_null(strstr(r.err, "bad size"));
	clientrun_free(&r);
	assert_int_equal(ctl_run(&r, srv, NULL, "quota", "set", "../sam", "1M",
	                     NULL),
	    1);
	clientrun_free(&r);
	assert_int_equal(ctl_run(&r, srv, NULL, "quota", "set", "quinn", NULL),
	    2);
	clientrun_free(&r);
	assert_int_equal(ctl_run(&r, srv, NULL, "quota", "get", NULL), 2);
	clientrun_free(&r);
	assert_int_equal(ctl_run(&r, srv, NULL, "quota", "drop", "quinn", NULL),
	    2);
	assert_non_null(strstr(r.err, "unknown quota command"));
	clientrun_free(&r);
	assert_int_equal(ctl_run(&r, srv, NULL, "quota", "get", "quinn",
	                     "--purge", NULL),
	    2);
	clientrun_free(&r);
	/* No refused change left a file or a log line. */
	assert_false(testsrv_log_contains(srv, "quota set ghost"));
	assert_false(testsrv_log_contains(srv, "quota set quinn default -> "
	                                       "default"));
	/* check knows the quota file and the delivery rules' files. */
	assert_int_equal(ctl_run(&r, srv, NULL, "quota", "set", "sam", "1G",
	                     NULL),
	    0);
	clientrun_free(&r);
	assert_int_equal(ctl_run(&r, srv, NULL, "check", NULL), 0);
	assert_non_null(strstr(r.out, "0 repaired, 0 left"));
	clientrun_free(&r);
	close(fd);
	testsrv_stop(srv);
}

/* An interrupted replacement's leftover is found and, once old, removed. */
static void
test_quota_leftover(void **state)
{
	struct clientrun_result r;
	struct timespec old[2];
	char path[600];
	FILE *f;

	(void)state;
	assert_int_equal(testsrv_start(srv, fast), 0);
	add_user(srv, "rita");
	snprintf(path, sizeof(path), "%s/rita/.ctl-0123456789abcdef",
	    srv->data);
	assert_non_null(f = fopen(path, "w"));
	fputs("52428", f);
	fclose(f);
	/* Fresh: a change may be under way; left alone. */
	assert_int_equal(ctl_run(&r, srv, NULL, "check", "--repair", NULL), 0);
	clientrun_free(&r);
	assert_int_equal(access(path, F_OK), 0);
	old[0].tv_sec = old[1].tv_sec = time(NULL) - 7200;
	old[0].tv_nsec = old[1].tv_nsec = 0;
	assert_int_equal(utimensat(AT_FDCWD, path, old, 0), 0);
	assert_int_equal(ctl_run(&r, srv, NULL, "check", NULL), 1);
	assert_non_null(strstr(r.out, "leftover of an interrupted write"));
	clientrun_free(&r);
	assert_int_equal(ctl_run(&r, srv, NULL, "check", "--repair", NULL), 0);
	assert_non_null(strstr(r.out, "(repaired)"));
	clientrun_free(&r);
	assert_int_equal(access(path, F_OK), -1);
	testsrv_stop(srv);
}

/* SIGKILL while quota set runs: the quota file is the old limit or the
 * new one, whole, each time; never empty, never a mix. */
static void
test_quota_crash(void **state)
{
	static const char *const sizes[] = { "1048576", "2097152" };
	char path[600], *text;
	pid_t pid;
	int round, status;

	(void)state;
	assert_int_equal(testsrv_start(srv, fast), 0);
	add_user(srv, "kit");
	snprintf(path, sizeof(path), "%s/kit/quota", srv->data);
	for (round = 0; round < 12; round++) {
		const char *want = sizes[round % 2];

		if ((pid = fork()) == 0) {
			int dn = open("/dev/null", O_WRONLY);

			dup2(dn, STDOUT_FILENO);
			dup2(dn, STDERR_FILENO);
			execl(CTL, "glomailctl", "--control-socket",
			    srv->control, "quota", "set", "kit", want,
			    (char *)NULL);
			_exit(127);
		}
		assert_true(pid > 0);
		usleep((useconds_t)(round * 700));
		testsrv_kill(srv, SIGKILL);
		assert_int_equal(waitpid(pid, &status, 0), pid);
		text = testsrv_read_file(path);
		if (text != NULL) {
			if (strcmp(text, "1048576\n") != 0 &&
			    strcmp(text, "2097152\n") != 0)
				fail_msg("round %d: quota file holds '%s'",
				    round, text);
			free(text);
		}
		assert_int_equal(testsrv_restart_anyport(srv, fast), 0);
		/* What the server reads is what the file says. */
		{
			json_t *j = ctl_json(srv, "quota", "get", "kit", NULL);

			text = testsrv_read_file(path);
			if (text != NULL)
				assert_int_equal(jnum(j, "limit", NULL),
				    atoll(text));
			free(text);
			json_decref(j);
		}
	}
	testsrv_stop(srv);
}

/* quota with --data-dir: the private server's store, then a real one. */
static void
test_quota_offline(void **state)
{
	struct clientrun_result r;
	char dir[256], data[300];

	(void)state;
	assert_int_equal(testsrv_scratch(dir, sizeof(dir), "quota-offline"), 0);
	snprintf(data, sizeof(data), "%s/data", dir);
	assert_int_equal(ctl_run(&r, NULL, PASSWORD "\n", "--data-dir", data,
	                     "user", "add", "uma", "--password-stdin", NULL),
	    0);
	clientrun_free(&r);
	assert_int_equal(ctl_run(&r, NULL, NULL, "--data-dir", data, "quota",
	                     "set", "uma", "2G", NULL),
	    0);
	clientrun_free(&r);
	assert_int_equal(ctl_run(&r, NULL, NULL, "--data-dir", data, "quota",
	                     "get", "uma", NULL),
	    0);
	assert_non_null(strstr(r.out, "2147483648"));
	clientrun_free(&r);
	assert_int_equal(ctl_run(&r, NULL, NULL, "--data-dir", data, "quota",
	                     "set", "nobody9", "2G", NULL),
	    1);
	clientrun_free(&r);
	assert_int_equal(ctl_run(&r, NULL, NULL, "--data-dir", data, "check",
	                     NULL),
	    0);
	clientrun_free(&r);
	/* A running server on the store: offline work is refused. */
	memset(srv, 0, sizeof(*srv));
	snprintf(srv->dir, sizeof(srv->dir), "%s", dir);
	snprintf(srv->data, sizeof(srv->data), "%s", data);
	snprintf(srv->log, sizeof(srv->log), "%s/server.log", dir);
	snprintf(srv->control, sizeof(srv->control), "%s/control", dir);
	assert_int_equal(testsrv_restart_anyport(srv, fast), 0);
	assert_int_equal(ctl_run(&r, NULL, NULL, "--data-dir", data, "quota",
	                     "set", "uma", "1M", NULL),
	    2);
	assert_non_null(strstr(r.err, "holds this store"));
	clientrun_free(&r);
	assert_int_equal(ctl_run(&r, NULL, NULL, "--data-dir", data, "alias",
	                     "list", NULL),
	    2);
	clientrun_free(&r);
	{
		json_t *j = ctl_json(srv, "quota", "get", "uma", NULL);

		assert_int_equal(jnum(j, "limit", NULL), 2147483648LL);
		json_decref(j);
	}
	testsrv_stop(srv);
}

/* alias list: the table in force, as reload replaces it. */
static void
test_alias_list(void **state)
{
	const char *args[8] = { "--login-penalty", "0", "--aliases", NULL,
		"--postmaster", "vera", NULL };
	struct clientrun_result r;
	char dir[256], file[300];
	json_t *j, *a;
	FILE *f;

	(void)state;
	assert_int_equal(testsrv_scratch(dir, sizeof(dir), "aliases"), 0);
	snprintf(file, sizeof(file), "%s/aliases", dir);
	assert_non_null(f = fopen(file, "w"));
	fputs("# the class\nteam: Ann, bob\nhelp: team\n", f);
	fclose(f);
	args[3] = file;
	assert_int_equal(testsrv_start(srv, args), 0);
	j = ctl_json(srv, "alias", "list", NULL);
	assert_string_equal(json_string_value(json_object_get(j, "postmaster")),
	    "vera");
	assert_int_equal(json_array_size(json_object_get(j, "aliases")), 2);
	a = json_array_get(json_object_get(j, "aliases"), 0);
	assert_string_equal(json_string_value(json_object_get(a, "name")),
	    "help");
	assert_string_equal(json_string_value(
	                        json_array_get(json_object_get(a, "members"),
	                            0)),
	    "team");
	a = json_array_get(json_object_get(j, "aliases"), 1);
	assert_string_equal(json_string_value(
	                        json_array_get(json_object_get(a, "members"),
	                            0)),
	    "ann");
	assert_string_equal(json_string_value(
	                        json_array_get(json_object_get(a, "members"),
	                            1)),
	    "bob");
	json_decref(j);
	assert_int_equal(ctl_run(&r, srv, NULL, "alias", "list", NULL), 0);
	assert_non_null(strstr(r.out, "team: ann, bob\n"));
	assert_non_null(strstr(r.out, "postmaster: vera\n"));
	clientrun_free(&r);

	/* reload reads the file again; a broken one keeps the table. */
	assert_non_null(f = fopen(file, "w"));
	fputs("crew: ann\n", f);
	fclose(f);
	assert_int_equal(ctl_run(&r, srv, NULL, "reload", NULL), 0);
	clientrun_free(&r);
	assert_int_equal(ctl_run(&r, srv, NULL, "alias", "list", NULL), 0);
	assert_non_null(strstr(r.out, "crew: ann\n"));
	assert_null(strstr(r.out, "team"));
	clientrun_free(&r);
	assert_non_null(f = fopen(file, "w"));
	fputs("crew ann\n", f);
	fclose(f);
	assert_int_equal(ctl_run(&r, srv, NULL, "reload", NULL), 0);
	clientrun_free(&r);
	assert_int_equal(ctl_run(&r, srv, NULL, "alias", "list", NULL), 0);
	assert_non_null(strstr(r.out, "crew: ann\n"));
	clientrun_free(&r);

	assert_int_equal(ctl_run(&r, srv, NULL, "alias", "show", NULL), 2);
	assert_non_null(strstr(r.err, "unknown alias command"));
	clientrun_free(&r);
	assert_int_equal(ctl_run(&r, srv, NULL, "alias", "list", "x", NULL), 2);
	clientrun_free(&r);
	testsrv_stop(srv);
	testsrv_remove_tree(dir);
}

static size_t
count_new(const struct testsrv *s, const char *user)
{
	char path[600];
	struct dirent *de;
	size_t n = 0;
	DIR *d;

	snprintf(path, sizeof(path), "%s/%s/new", s->data, user);
	if ((d = opendir(path)) == NULL)
		return 0;
	while ((de = readdir(d)) != NULL)
		if (de->d_name[0] != '.')
			n++;
	closedir(d);
	return n;
}

/* alias add/del: the file edited in place of one line, saved whole, in
 * force for the next delivery; every unsafe change refused. */
static void
test_alias_edit(void **state)
{
	const char *args[6] = { "--login-penalty", "0", "--aliases", NULL,
		NULL };
	struct clientrun_result r;
	char dir[256], file[300], why[256], *text;
	struct stat st;
	FILE *f;
	int fd;

	(void)state;
	assert_int_equal(testsrv_scratch(dir, sizeof(dir), "alias-edit"), 0);
	snprintf(file, sizeof(file), "%s/aliases", dir);
	assert_non_null(f = fopen(file, "w"));
	fputs("# the class\nteam: ann, bob # the project\nhelp: team\n", f);
	fclose(f);
	assert_int_equal(chmod(file, 0640), 0);
	args[3] = file;
	assert_int_equal(testsrv_start(srv, args), 0);
	add_user(srv, "ann");
	add_user(srv, "bob");
	add_user(srv, "cy");
	fd = testsrv_user(srv, "sam", PASSWORD);
	assert_true(fd >= 0);

	assert_int_equal(ctl_run(&r, srv, NULL, "alias", "add", "Team", "cy",
	                     "ann", "CY", NULL),
	    0);
	assert_non_null(strstr(r.out, "team: ann, bob, cy"));
	clientrun_free(&r);
	text = testsrv_read_file(file);
	assert_string_equal(text, "# the class\nteam: ann, bob, cy # the "
	                          "project\nhelp: team\n");
	free(text);
	assert_int_equal(stat(file, &st), 0);
	assert_int_equal(st.st_mode & 07777, 0640);
	assert_true(testsrv_log_contains(srv, ": alias add team: "));
	/* In force for the very next delivery, with no reload. */
	assert_int_equal(send_mail(fd, "help@glo2000.ca", 10, why, sizeof(why)),
	    PROTO_OK);
	assert_int_equal(count_new(srv, "cy"), 1);
	assert_int_equal(count_new(srv, "ann"), 1);

	/* A new alias, appended; a group of an alias and an account. */
	assert_int_equal(ctl_run(&r, srv, NULL, "alias", "add", "staff", "help",
	                     "cy", NULL),
	    0);
	clientrun_free(&r);
	text = testsrv_read_file(file);
	assert_non_null(strstr(text, "help: team\nstaff: help, cy\n"));
	free(text);

	/* Refused: a loop, an account's name, an unknown member, the
	 * built-in names, its own member, bad names. */
	assert_int_equal(ctl_run(&r, srv, NULL, "alias", "add", "team", "staff",
	                     NULL),
	    1);
	assert_non_null(strstr(r.err, "makes a loop"));
	clientrun_free(&r);
	assert_int_equal(ctl_run(&r, srv, NULL, "alias", "add", "ann", "bob",
	                     NULL),
	    1);
	assert_non_null(strstr(r.err, "an account has this name"));
	clientrun_free(&r);
	assert_int_equal(ctl_run(&r, srv, NULL, "alias", "add", "crew", "ghost",
	                     NULL),
	    1);
	assert_non_null(strstr(r.err, "no such user or alias: ghost"));
	clientrun_free(&r);
	assert_int_equal(ctl_run(&r, srv, NULL, "alias", "add", "postmaster",
	                     "bob", NULL),
	    1);
	assert_non_null(strstr(r.err, "built in"));
	clientrun_free(&r);
	assert_int_equal(ctl_run(&r, srv, NULL, "alias", "add", "crew", "crew",
	                     NULL),
	    1);
	clientrun_free(&r);
	assert_int_equal(ctl_run(&r, srv, NULL, "alias", "add", "crew", "a@b.c",
	                     NULL),
	    1);
	clientrun_free(&r);
	assert_int_equal(ctl_run(&r, srv, NULL, "alias", "add", "crew\nx",
	                     "bob", NULL),
	    1);
	clientrun_free(&r);
	assert_int_equal(ctl_run(&r, srv, NULL, "alias", "add", "crew", NULL),
	    2);
	clientrun_free(&r);
	text = testsrv_read_file(file);
	assert_null(strstr(text, "crew"));
	assert_null(strstr(text, "team: ann, bob, cy, staff"));
	free(text);

	/* del: members, then a whole alias; unknown ones refused. */
	assert_int_equal(ctl_run(&r, srv, NULL, "alias", "del", "team", "cy",
	                     NULL),
	    0);
	clientrun_free(&r);
	assert_int_equal(send_mail(fd, "team@glo2000.ca", 10, why, sizeof(why)),
	    PROTO_OK);
	assert_int_equal(count_new(srv, "cy"), 1);
	assert_int_equal(count_new(srv, "bob"), 2);
	assert_int_equal(ctl_run(&r, srv, NULL, "alias", "del", "team", "zed",
	                     NULL),
	    1);
	assert_non_null(strstr(r.err, "not a member of team: zed"));
	clientrun_free(&r);
	assert_int_equal(ctl_run(&r, srv, NULL, "alias", "del", "nothere",
	                     NULL),
	    1);
	assert_non_null(strstr(r.err, "no such alias"));
	clientrun_free(&r);
	/* help is a member of staff: removing it would lose staff's mail. */
	assert_int_equal(ctl_run(&r, srv, NULL, "alias", "del", "help", NULL),
	    1);
	assert_non_null(strstr(r.err, "help is still a member of staff"));
	clientrun_free(&r);
	assert_int_equal(ctl_run(&r, srv, NULL, "alias", "del", "staff", NULL),
	    0);
	assert_non_null(strstr(r.out, "staff removed"));
	clientrun_free(&r);
	text = testsrv_read_file(file);
	assert_string_equal(text, "# the class\nteam: ann, bob # the "
	                          "project\nhelp: team\n");
	free(text);
	/* Removing a member others need for a name is refused by the parser
	 * only if it breaks the file; removing the last member removes it. */
	assert_int_equal(ctl_run(&r, srv, NULL, "alias", "del", "help", "team",
	                     NULL),
	    0);
	clientrun_free(&r);
	assert_int_equal(ctl_run(&r, srv, NULL, "alias", "list", NULL), 0);
	assert_null(strstr(r.out, "help"));
	clientrun_free(&r);

	/* Edits at once from several administrators: none is lost, in the
	 * file or in the table in force. */
	{
		char names[8][16], *text2;
		pid_t pids[8];
		int i, status;

		for (i = 0; i < 8; i++) {
			snprintf(names[i], sizeof(names[i]), "crew%d", i);
			if ((pids[i] = fork()) == 0) {
				int dn = open("/dev/null", O_WRONLY);

				dup2(dn, STDOUT_FILENO);
				execl(CTL, "glomailctl", "--control-socket",
				    srv->control, "alias", "add", names[i],
				    "bob", "ann", (char *)NULL);
				_exit(127);
			}
			assert_true(pids[i] > 0);
		}
		for (i = 0; i < 8; i++) {
			assert_int_equal(waitpid(pids[i], &status, 0), pids[i]);
			assert_true(WIFEXITED(status));
			assert_int_equal(WEXITSTATUS(status), 0);
		}
		text2 = testsrv_read_file(file);
		assert_int_equal(ctl_run(&r, srv, NULL, "alias", "list", NULL),
		    0);
		for (i = 0; i < 8; i++) {
			char want[160];

			snprintf(want, sizeof(want), "%s: bob, ann\n",
			    names[i]);
			assert_non_null(strstr(text2, want));
			assert_non_null(strstr(r.out, want));
		}
		clientrun_free(&r);
		free(text2);
	}

	/* A file broken by hand is not edited (nor its table replaced). */
	assert_non_null(f = fopen(file, "w"));
	fputs("team ann\n", f);
	fclose(f);
	assert_int_equal(ctl_run(&r, srv, NULL, "alias", "add", "crew", "bob",
	                     NULL),
	    1);
	assert_non_null(strstr(r.err, "does not parse"));
	clientrun_free(&r);
	text = testsrv_read_file(file);
	assert_string_equal(text, "team ann\n");
	free(text);
	assert_int_equal(ctl_run(&r, srv, NULL, "alias", "list", NULL), 0);
	assert_non_null(strstr(r.out, "team: ann, bob\n"));
	clientrun_free(&r);
	close(fd);
	testsrv_stop(srv);

	/* No aliases file known: nothing to edit. */
	assert_int_equal(testsrv_start(srv, fast), 0);
	assert_int_equal(ctl_run(&r, srv, NULL, "alias", "add", "crew", "bob",
	                     NULL),
	    1);
	assert_non_null(strstr(r.err, "no aliases file is configured"));
	clientrun_free(&r);
	testsrv_stop(srv);
	testsrv_remove_tree(dir);
}

static int
connect_port(const char *port)
{
	struct sockaddr_in sin;
	int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);

	assert_true(fd >= 0);
	memset(&sin, 0, sizeof(sin));
	sin.sin_family = AF_INET;
	sin.sin_port = htons((uint16_t)atoi(port));
	sin.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	assert_int_equal(connect(fd, (struct sockaddr *)&sin, sizeof(sin)), 0);
	return fd;
}

/* Wait until status shows want SMTP sessions (accepting is async). */
static json_t *
status_with_smtp(long long want)
{
	json_t *j = NULL;
	int i;

	for (i = 0; i < 200; i++) {
		j = ctl_json(srv, "status", NULL);
		if (jnum(j, "states", "smtp") == want)
			return j;
		json_decref(j);
		usleep(10000);
	}
	fail_msg("status never showed %lld SMTP sessions", want);
	return NULL;
}

/* status: connections by state, logins and deliveries since start. */
static void
test_status_counts(void **state)
{
	struct clientrun_result r;
	char why[256], banner[256];
	json_t *j;
	int anon, user, smtp;
	ssize_t n;

	(void)state;
	assert_int_equal(testsrv_start(srv, fast), 0);
	j = ctl_json(srv, "status", NULL);
	assert_int_equal(jnum(j, "states", "handshake"), 0);
	assert_int_equal(jnum(j, "states", "unauthenticated"), 0);
	assert_int_equal(jnum(j, "states", "authenticated"), 0);
	assert_int_equal(jnum(j, "states", "smtp"), 0);
	assert_int_equal(jnum(j, "logins", "ok"), 0);
	assert_int_equal(jnum(j, "logins", "failed"), 0);
	assert_int_equal(jnum(j, "deliveries", "failed"), 0);
	assert_true(jnum(j, "memory", "resident") > 0);
	assert_int_equal(jnum(j, "pools", "auth"), 0);
	json_decref(j);

	add_user(srv, "wes");
	add_user(srv, "sam");
	user = testsrv_connect(srv);
	assert_true(user >= 0);
	assert_int_equal(testsrv_auth(user, PROTO_AUTH_LOGIN, "sam", PASSWORD),
	    PROTO_OK);
	anon = testsrv_connect(srv);
	assert_true(anon >= 0);
	assert_int_equal(testsrv_auth(anon, PROTO_AUTH_LOGIN, "wes",
	                     "Wrong0Password"),
	    PROTO_ERROR);
	assert_int_equal(send_mail(user, "nobody@glo2000.ca", 10, why,
	                     sizeof(why)),
	    PROTO_ERROR); /* kept in LOST */
	assert_int_equal(send_mail(user, "wes@glo2000.ca", 10, why,
	                     sizeof(why)),
	    PROTO_OK);
	/* An SMTP session open at the same time: status and a lock that
	 * closes sessions walk past it. */
	smtp = connect_port(srv->smtp_port);
	n = read(smtp, banner, sizeof(banner) - 1);
	assert_true(n > 3);
	banner[n] = '\0';
	assert_non_null(strstr(banner, "220"));
	j = status_with_smtp(1);
	assert_int_equal(jnum(j, "states", "unauthenticated"), 1);
	assert_int_equal(jnum(j, "states", "authenticated"), 1);
	assert_int_equal(jnum(j, "states", "handshake"), 0);
	assert_int_equal(jnum(j, "connections", NULL), 3);
	assert_int_equal(jnum(j, "logged_in", NULL), 1);
	assert_int_equal(jnum(j, "logins", "ok"), 1);
	assert_int_equal(jnum(j, "logins", "failed"), 1);
	assert_int_equal(jnum(j, "deliveries", "delivered"), 1);
	assert_int_equal(jnum(j, "deliveries", "undeliverable"), 1);
	assert_int_equal(jnum(j, "delivered", NULL), 2);
	json_decref(j);
	assert_int_equal(ctl_run(&r, srv, NULL, "status", NULL), 0);
	assert_non_null(strstr(r.out, "unauthenticated 1, authenticated 1, "
	                              "smtp 1"));
	assert_non_null(strstr(r.out, "1 succeeded, 1 failed"));
	clientrun_free(&r);
	assert_int_equal(ctl_run(&r, srv, NULL, "user", "lock", "sam", NULL),
	    0);
	clientrun_free(&r);
	j = status_with_smtp(1);
	assert_int_equal(jnum(j, "states", "authenticated"), 0);
	json_decref(j);
	close(smtp);
	close(anon);
	close(user);
	json_decref(status_with_smtp(0));
	testsrv_stop(srv);
}

/* A TLS connection whose handshake has not finished is counted as such. */
static void
test_status_handshake(void **state)
{
	const char *certs = getenv("GLOMAIL_TLS_CERTS");
	char cert[400], key[400], port[16], *log, *p, *eol;
	const char *args[10] = { "--login-penalty", "0", "--tls-listen",
		"127.0.0.1:0", "--tls-cert", cert, "--tls-key", key, NULL };
	json_t *j = NULL;
	int fd, i;

	(void)state;
	if (certs == NULL) {
		print_message("skipped: no GLOMAIL_TLS_CERTS\n");
		return;
	}
	snprintf(cert, sizeof(cert), "%s/server.crt", certs);
	snprintf(key, sizeof(key), "%s/server.key", certs);
	if (access(cert, R_OK) != 0) {
		print_message("skipped: no certificates in %s\n", certs);
		return;
	}
	assert_int_equal(testsrv_start(srv, args), 0);
	/* The log's "listening on 127.0.0.1:PORT tls" line. */
	log = testsrv_read_file(srv->log);
	assert_non_null(log);
	port[0] = '\0';
	for (p = log; (p = strstr(p, "listening on 127.0.0.1:")) != NULL;
	     p = eol) {
		if ((eol = strchr(p, '\n')) == NULL)
			break;
		if (eol - p > 4 && memcmp(eol - 4, " tls", 4) == 0) {
			p += strlen("listening on 127.0.0.1:");
			snprintf(port, sizeof(port), "%.*s",
			    (int)strcspn(p, " \n"), p);
			break;
		}
	}
	free(log);
	assert_true(port[0] != '\0');
	fd = connect_port(port); /* and no ClientHello */
	for (i = 0; i < 200; i++) {
		j = ctl_json(srv, "status", NULL);
		if (jnum(j, "states", "handshake") == 1)
			break;
		json_decref(j);
		j = NULL;
		usleep(10000);
	}
	assert_non_null(j);
	assert_int_equal(jnum(j, "states", "unauthenticated"), 0);
	assert_int_equal(jnum(j, "connections", NULL), 1);
	json_decref(j);
	close(fd);
	testsrv_stop(srv);
}

/* Another uid may neither set a quota nor edit the aliases: the server
 * itself refuses it even when the socket's mode lets it connect. */
static void
test_permission(void **state)
{
	static const char *const cmds[][5] = {
		{ "quota", "set", "pat", "1M", NULL },
		{ "quota", "get", "pat", NULL, NULL },
		{ "alias", "list", NULL, NULL, NULL },
		{ "status", NULL, NULL, NULL, NULL },
	};
	struct clientrun_result r;
	const char *argv[16];
	char path[600];
	size_t i, k, n;

	(void)state;
	if (geteuid() != 0 || access("/usr/bin/setpriv", X_OK) != 0) {
		print_message("skipped: needs root and setpriv\n");
		return;
	}
	assert_int_equal(testsrv_start(srv, fast), 0);
	add_user(srv, "pat");
	assert_int_equal(chmod(srv->dir, 0711), 0);
	assert_int_equal(chmod(srv->control, 0666), 0);
	for (i = 0; i < sizeof(cmds) / sizeof(cmds[0]); i++) {
		n = 0;
		argv[n++] = "setpriv";
		argv[n++] = "--reuid=nobody";
		argv[n++] = "--regid=nogroup";
		argv[n++] = "--clear-groups";
		argv[n++] = CTL;
		argv[n++] = "--control-socket";
		argv[n++] = srv->control;
		for (k = 0; cmds[i][k] != NULL; k++)
			argv[n++] = cmds[i][k];
		argv[n] = NULL;
		setenv("GLOMAIL_CLIENT", "/usr/bin/setpriv", 1);
		assert_int_equal(clientrun(argv, NULL, NULL, &r), 0);
		assert_int_equal(r.exit_code, 2);
		assert_non_null(strstr(r.err, "permission denied"));
		clientrun_free(&r);
	}
	snprintf(path, sizeof(path), "%s/pat/quota", srv->data);
	assert_int_equal(access(path, F_OK), -1);
	assert_true(testsrv_log_contains(srv, "control: refused uid=65534"));
	assert_false(testsrv_log_contains(srv, "quota set pat"));
	testsrv_stop(srv);
}

/*
 * Offline changes are logged with the administrator's uid too: the
 * private server's log goes with it, so glomailctl hands its change lines
 * to the system log. Run in a mount namespace whose /dev holds this
 * test's /dev/log (and null, urandom), to read what was sent.
 */
static void
test_offline_syslog(void **state)
{
	struct sockaddr_un sun;
	struct timeval tv = { 10, 0 };
	char dir[256], dev[300], cmd[4096], buf[2048];
	char got[8192] = "";
	ssize_t n;
	int fd;

	(void)state;
	if (geteuid() != 0 || access("/usr/bin/unshare", X_OK) != 0) {
		print_message("skipped: needs root and unshare\n");
		return;
	}
	assert_int_equal(testsrv_scratch(dir, sizeof(dir), "syslog"), 0);
	snprintf(dev, sizeof(dev), "%s/dev", dir);
	assert_int_equal(mkdir(dev, 0755), 0);
	snprintf(cmd, sizeof(cmd), "touch %s/null %s/urandom", dev, dev);
	assert_int_equal(system(cmd), 0);
	fd = socket(AF_UNIX, SOCK_DGRAM | SOCK_CLOEXEC, 0);
	assert_true(fd >= 0);
	memset(&sun, 0, sizeof(sun));
	sun.sun_family = AF_UNIX;
	assert_true(strlen(dev) + 5 <= sizeof(sun.sun_path));
	memcpy(sun.sun_path, dev, strlen(dev));
	memcpy(sun.sun_path + strlen(dev), "/log", 5);
	assert_int_equal(bind(fd, (struct sockaddr *)&sun, sizeof(sun)), 0);
	assert_int_equal(setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv,
	                     sizeof(tv)),
	    0);
	snprintf(cmd, sizeof(cmd),
	    "unshare -m sh -c 'mount --bind /dev/null %s/null && "
	    "mount --bind /dev/urandom %s/urandom && mount --bind %s /dev && "
	    "echo " PASSWORD " | GLOMAILD=%s/server/glomaild %s --data-dir "
	    "%s/data user add zed --password-stdin >/dev/null && "
	    "GLOMAILD=%s/server/glomaild %s --data-dir %s/data quota set zed "
	    "1M >/dev/null'",
	    dev, dev, dev, GLOMAIL_BINARY_DIR, CTL, dir, GLOMAIL_BINARY_DIR,
	    CTL, dir);
	if (system(cmd) != 0) {
		print_message("skipped: no mount namespace here\n");
		close(fd);
		testsrv_remove_tree(dir);
		return;
	}
	while (strstr(got, "quota set zed") == NULL &&
	       (n = recv(fd, buf, sizeof(buf) - 1, 0)) > 0) {
		buf[n] = '\0';
		strncat(got, buf, sizeof(got) - strlen(got) - 1);
	}
	close(fd);
	assert_non_null(strstr(got, "glomailctl["));
	assert_non_null(strstr(got, "offline: control uid=0 pid="));
	assert_non_null(strstr(got, ": user add zed"));
	assert_non_null(strstr(got, ": quota set zed default -> 1048576"));
	testsrv_remove_tree(dir);
}

/* The refusals and the help in French. */
static void
test_french(void **state)
{
	const char *locpath, *env[3];
	const char *argv[8] = { "glomailctl", "--control-socket", NULL, "quota",
		"set", "fay", "zz", NULL };
	struct clientrun_result r;
	char why[256];

	(void)state;
	if (clientrun_french(&locpath, why, sizeof(why)) == -1) {
		fprintf(stderr, "skipping: %s\n", why);
		skip();
	}
	env[0] = "LANG=fr_CA.UTF-8";
	env[1] = locpath;
	env[2] = NULL;
	assert_int_equal(testsrv_start(srv, fast), 0);
	add_user(srv, "fay");
	argv[2] = srv->control;
	setenv("GLOMAIL_CLIENT", CTL, 1);
	assert_int_equal(clientrun(argv, env, NULL, &r), 0);
	assert_int_equal(r.exit_code, 1);
	assert_non_null(strstr(r.err, "taille invalide"));
	clientrun_free(&r);
	argv[3] = "alias";
	argv[4] = "del";
	argv[5] = "nothere";
	argv[6] = NULL;
	assert_int_equal(clientrun(argv, env, NULL, &r), 0);
	assert_int_equal(r.exit_code, 1);
	/* No aliases file here: that is what it says. */
	assert_non_null(strstr(r.err, "aucun fichier d'alias"));
	clientrun_free(&r);
	argv[1] = "--help";
	argv[2] = NULL;
	assert_int_equal(clientrun(argv, env, NULL, &r), 0);
	assert_non_null(strstr(r.out, "quota set NOM TAILLE"));
	clientrun_free(&r);
	testsrv_stop(srv);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_teardown(test_quota, stop_server),
		cmocka_unit_test_teardown(test_quota_leftover, stop_server),
		cmocka_unit_test_teardown(test_quota_crash, stop_server),
		cmocka_unit_test_teardown(test_quota_offline, stop_server),
		cmocka_unit_test_teardown(test_alias_list, stop_server),
		cmocka_unit_test_teardown(test_alias_edit, stop_server),
		cmocka_unit_test_teardown(test_status_counts, stop_server),
		cmocka_unit_test_teardown(test_status_handshake, stop_server),
		cmocka_unit_test_teardown(test_permission, stop_server),
		cmocka_unit_test_teardown(test_offline_syslog, stop_server),
		cmocka_unit_test_teardown(test_french, stop_server),
	};

	signal(SIGPIPE, SIG_IGN);
	return cmocka_run_group_tests(tests, NULL, NULL);
}
