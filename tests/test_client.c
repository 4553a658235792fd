/*
 * test_client.c - the glomail binary's scriptable commands, options and
 * exit codes, run with pipes against a real glomaild; plus the menus
 * driven through a pipe (no terminal) and servers that vanish or hang.
 */
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <netinet/in.h>
#include <arpa/inet.h>

#include <signal.h>
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <cmocka.h>
#include <jansson.h>

#include "clientrun.h"
#include "proto.h"
#include "testsrv.h"
#include "wire.h"

#define PASSWORD "Correct0Horse"

static struct testsrv srv;

/* Servers of one test, stopped by its teardown even when it fails. */
static struct testsrv other;
static struct seedsrv seed;

static int
stop_others(void **state)
{
	(void)state;
	testsrv_stop(&other);
	memset(&other, 0, sizeof(other));
	seedsrv_stop(&seed);
	return 0;
}

/*
 * Run glomail -d 127.0.0.1 -p <port> <args...> with input on stdin and
 * env (may be NULL). args is NULL-terminated.
 */
static void
run_at(const char *port, struct clientrun_result *r, const char *const *env,
    const char *input, va_list ap)
{
	const char *argv[32] = { "glomail", "-d", "127.0.0.1", "-p", port };
	size_t n = 5;

	while (n < 31 && (argv[n] = va_arg(ap, const char *)) != NULL)
		n++;
	argv[n] = NULL;
	assert_int_equal(clientrun(argv, env, input, r), 0);
}

/* The same against another server, on port. */
static void
run_on(const char *port, struct clientrun_result *r, const char *const *env,
    const char *input, ...)
{
	va_list ap;

	va_start(ap, input);
	run_at(port, r, env, input, ap);
	va_end(ap);
}

/*
 * Run glomail against the test's server. In TLS mode, the client itself
 * speaks TLS to the server's TLS port, verifying it against the test CA.
 */
static void
run(struct clientrun_result *r, const char *const *env, const char *input, ...)
{
	static char ca[512];
	const char *argv[40] = { "glomail", "-d", "127.0.0.1", "-p", srv.port };
	size_t n = 5;
	va_list ap;

	if (testsrv_tls_mode()) {
		snprintf(ca, sizeof(ca), "%s/ca.crt",
		    getenv("GLOMAIL_TLS_CERTS"));
		argv[4] = srv.tls_port;
		argv[n++] = "--tls";
		argv[n++] = "--cafile";
		argv[n++] = ca;
	}

	va_start(ap, input);
	while (n < 39 && (argv[n] = va_arg(ap, const char *)) != NULL)
		n++;
	va_end(ap);
	argv[n] = NULL;
	assert_int_equal(clientrun(argv, env, input, r), 0);
}

/* 1 when s begins with prefix. */
static int
starts_with(const char *s, const char *prefix)
{
	return strncmp(s, prefix, strlen(prefix)) == 0;
}

static const char *const pw_env[] = { "GLOMAIL_PASSWORD=" PASSWORD, NULL };

/* Create an account through the client; it must succeed. */
static void
make_user(const char *user)
{
	struct clientrun_result r;

	run(&r, pw_env, NULL, "-u", user, "register", NULL);
	if (r.exit_code != 0)
		fprintf(stderr, "register %s: %s", user, r.err);
	assert_int_equal(r.exit_code, 0);
	clientrun_free(&r);
}

/* Send one message from user through the client. */
static void
send_mail(const char *user, const char *to, const char *subject,
    const char *body)
{
	struct clientrun_result r;

	run(&r, pw_env, body, "-u", user, "send", "--to", to, "--subject",
	    subject, NULL);
	if (r.exit_code != 0)
		fprintf(stderr, "send: %s", r.err);
	assert_int_equal(r.exit_code, 0);
	assert_string_equal(r.out, "");
	clientrun_free(&r);
}

static void
test_help_and_version(void **state)
{
	const char *const help[] = { "glomail", "--help", NULL };
	const char *const version[] = { "glomail", "--version", NULL };
	struct clientrun_result r;

	(void)state;
	assert_int_equal(clientrun(help, NULL, NULL, &r), 0);
	assert_int_equal(r.exit_code, 0);
	assert_non_null(strstr(r.out, "Usage: glomail -d HOST"));
	assert_non_null(strstr(r.out, "register"));
	assert_non_null(strstr(r.out, "send --to ADDR [--cc ADDR] --subject "
	                              "TEXT"));
	assert_non_null(strstr(r.out, "read N|ID"));
	assert_non_null(strstr(r.out, "list [--unread] [--page N] "
	                              "[--per-page N]"));
	assert_non_null(strstr(r.out, "delete N|ID..."));
	assert_non_null(strstr(r.out, "mark N|ID... --seen|--unseen|--flagged|"
	                              "--unflagged"));
	assert_non_null(strstr(r.out, "search [--from X] [--to X]"));
	assert_non_null(strstr(r.out, "GLOMAIL_NEW_PASSWORD"));
	assert_non_null(strstr(r.out, "watch "));
	assert_non_null(strstr(r.out, "--date-format local|seed"));
	assert_non_null(strstr(r.out, "GLOMAIL_PASSWORD"));
	assert_non_null(strstr(r.out, "default 9672"));
	assert_non_null(strstr(r.out, "Exit status: 0 success, 1 the server "
	                              "refused"));
	assert_string_equal(r.err, "");
	clientrun_free(&r);

	assert_int_equal(clientrun(version, NULL, NULL, &r), 0);
	assert_int_equal(r.exit_code, 0);
	assert_string_equal(r.out, "glomail " GLOMAIL_VERSION "\n");
	clientrun_free(&r);
}

/* Each bad command line: exit 2, a reason on stderr, nothing on stdout. */
static void
test_usage_errors(void **state)
{
	static const char *const lines[][8] = {
		{ "glomail", NULL },
		{ "glomail", "list", "-u", "x", NULL },
		{ "glomail", "-d", "h", "frobnicate", "-u", "x", NULL },
		{ "glomail", "-d", "h", "-u", "x", "read", NULL },
		{ "glomail", "-d", "h", "-u", "x", "read", "0", NULL },
		{ "glomail", "-d", "h", "-u", "x", "read", "1x", NULL },
		{ "glomail", "-d", "h", "-u", "x", "send", "--to", NULL },
		{ "glomail", "-d", "h", "-u", "x", "send", "--to", "a@b" },
		{ "glomail", "-d", "h", "-u", "x", "list", "extra", NULL },
		{ "glomail", "-d", "h", "-u", "x", "list", "--to", "a" },
		{ "glomail", "-d", "h", "list", NULL },
		{ "glomail", "-d", "h", "-u", "x", NULL },
		{ "glomail", "-d", "h", "--json", NULL },
		{ "glomail", "-d", "h", "-p", "0", NULL },
		{ "glomail", "-d", "h", "-p", "http", NULL },
		{ "glomail", "-d", "h", "--timeout", "-1", NULL },
		{ "glomail", "-d", "h", "-z", NULL },
		{ "glomail", "-d", "h", "--nope", NULL },
	};
	struct clientrun_result r;
	const char *argv[9];
	size_t i, j;

	(void)state;
	for (i = 0; i < sizeof(lines) / sizeof(lines[0]); i++) {
		for (j = 0; j < 8 && lines[i][j] != NULL; j++)
			argv[j] = lines[i][j];
		argv[j] = NULL;
		assert_int_equal(clientrun(argv, NULL, NULL, &r), 0);
		if (r.exit_code != 2)
			fprintf(stderr, "line %zu: exit %d\n", i, r.exit_code);
		assert_int_equal(r.exit_code, 2);
		assert_string_equal(r.out, "");
		assert_non_null(strstr(r.err, "glomail: "));
		assert_non_null(strstr(r.err, "--help"));
		clientrun_free(&r);
	}
}

/* A port where nothing listens: bind one, note it, close it. */
static void
closed_port(char port[16])
{
	struct sockaddr_in sa = { .sin_family = AF_INET };
	socklen_t len = sizeof(sa);
	int fd = socket(AF_INET, SOCK_STREAM, 0);

	sa.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	assert_int_not_equal(fd, -1);
	assert_int_equal(bind(fd, (struct sockaddr *)&sa, sizeof(sa)), 0);
	assert_int_equal(getsockname(fd, (struct sockaddr *)&sa, &len), 0);
	snprintf(port, 16, "%d", ntohs(sa.sin_port));
	close(fd);
}

static void
test_connection_refused(void **state)
{
	struct clientrun_result r;
	char port[16];
	const char *argv[] = { "glomail", "-d", "127.0.0.1", "-p", port, "-u",
		"x", "stats", NULL };

	(void)state;
	closed_port(port);
	assert_int_equal(clientrun(argv, pw_env, NULL, &r), 0);
	assert_int_equal(r.exit_code, 2);
	assert_non_null(strstr(r.err, "cannot connect to the server"));
	clientrun_free(&r);
	/* The menus too. */
	argv[5] = NULL;
	assert_int_equal(clientrun(argv, NULL, "3\n", &r), 0);
	assert_int_equal(r.exit_code, 2);
	assert_non_null(strstr(r.err, "cannot connect to the server"));
	clientrun_free(&r);
}

static void
test_register(void **state)
{
	const char *const weak[] = { "GLOMAIL_PASSWORD=short1A", NULL };
	struct clientrun_result r;

	(void)state;
	run(&r, pw_env, NULL, "-u", "reg.user", "register", NULL);
	assert_int_equal(r.exit_code, 0);
	assert_string_equal(r.out, "");
	assert_string_equal(r.err, "");
	clientrun_free(&r);

	/* Names are case-insensitive: Reg.User is taken. */
	run(&r, pw_env, NULL, "-u", "Reg.User", "register", NULL);
	assert_int_equal(r.exit_code, 1);
	assert_string_equal(r.out, "");
	assert_true(strncmp(r.err, "glomail: ", 9) == 0);
	clientrun_free(&r);

	run(&r, weak, NULL, "-u", "reg.weak", "register", NULL);
	assert_int_equal(r.exit_code, 1);
	assert_non_null(strstr(r.err,
	    "password must have at least 10 "
	    "characters, a digit, a lower-case and an upper-case letter"));
	clientrun_free(&r);

	run(&r, pw_env, NULL, "-u", "LOST", "register", NULL);
	assert_int_equal(r.exit_code, 1);
	assert_non_null(strstr(r.err, "user name is reserved"));
	clientrun_free(&r);
}

static void
test_wrong_password(void **state)
{
	const char *const bad[] = { "GLOMAIL_PASSWORD=Wrong0Password", NULL };
	struct clientrun_result r;

	(void)state;
	make_user("wrong.pw");
	run(&r, bad, NULL, "-u", "wrong.pw", "stats", NULL);
	assert_int_equal(r.exit_code, 1);
	assert_string_equal(r.out, "");
	assert_non_null(strstr(r.err, "unknown user or wrong password"));
	clientrun_free(&r);

	run(&r, pw_env, NULL, "-u", "nobody.here", "list", NULL);
	assert_int_equal(r.exit_code, 1);
	assert_non_null(strstr(r.err, "unknown user or wrong password"));
	clientrun_free(&r);
}

static void
test_send_list_read_stats(void **state)
{
	struct clientrun_result r;
	char *p;

	(void)state;
	make_user("carol");
	run(&r, pw_env, NULL, "-u", "carol", "list", NULL);
	assert_int_equal(r.exit_code, 0);
	assert_string_equal(r.out, "");
	clientrun_free(&r);

	send_mail("carol", "carol@glo2000.ca", "First",
	    "line one\nline two \xc3\xa9\n");
	send_mail("carol", "Carol@GLO2000.CA", "Second", "2\n");

	run(&r, pw_env, NULL, "-u", "carol", "list", NULL);
	assert_int_equal(r.exit_code, 0);
	/* Newest first, one line each, the seed's format after the marks:
	 * both unread. */
	assert_true(
	    strncmp(r.out, "*  #1 carol@glo2000.ca - Second ", 32) == 0);
	assert_non_null(p = strstr(r.out, "\n*  #2 carol@glo2000.ca - First "));
	assert_non_null(strstr(p, " +0000\n"));
	assert_null(strstr(p + 1, "\n*"));
	clientrun_free(&r);

	run(&r, pw_env, NULL, "-u", "carol", "read", "2", NULL);
	assert_int_equal(r.exit_code, 0);
	assert_true(strncmp(r.out,
	                "From: carol@glo2000.ca\n"
	                "To: carol@glo2000.ca\nSubject: First\nDate: ",
	                62) == 0);
	assert_non_null(
	    strstr(r.out, " +0000\n\nline one\nline two \xc3\xa9\n"));
	clientrun_free(&r);

	/* Read: no longer marked unread. */
	run(&r, pw_env, NULL, "-u", "carol", "list", NULL);
	assert_true(starts_with(r.out, "*  #1 carol@glo2000.ca - Second "));
	assert_non_null(strstr(r.out, "\n   #2 carol@glo2000.ca - First "));
	clientrun_free(&r);

	run(&r, pw_env, NULL, "-u", "carol", "read", "9", NULL);
	assert_int_equal(r.exit_code, 1);
	assert_string_equal(r.out, "");
	assert_true(strlen(r.err) > 9);
	clientrun_free(&r);

	run(&r, pw_env, NULL, "-u", "carol", "stats", NULL);
	assert_int_equal(r.exit_code, 0);
	assert_true(strncmp(r.out, "messages: 2\nsize: ", 18) == 0);
	assert_true(atoll(r.out + 18) > 0);
	assert_non_null(strstr(r.out, "\nsize_human: "));
	clientrun_free(&r);
}

static void
test_send_refused(void **state)
{
	struct clientrun_result r;

	(void)state;
	make_user("dave");
	run(&r, pw_env, "hi\n", "-u", "dave", "send", "--to",
	    "someone@example.com", "--subject", "out", NULL);
	assert_int_equal(r.exit_code, 1);
	assert_non_null(strstr(r.err, "outside the local domain"));
	clientrun_free(&r);

	run(&r, pw_env, "hi\n", "-u", "dave", "send", "--to", "not an address",
	    "--subject", "x", NULL);
	assert_int_equal(r.exit_code, 1);
	assert_non_null(strstr(r.err, "invalid"));
	clientrun_free(&r);

	/* No such account: refused (the server keeps it in LOST). */
	run(&r, pw_env, "hi\n", "-u", "dave", "send", "--to",
	    "ghost@glo2000.ca", "--subject", "x", NULL);
	assert_int_equal(r.exit_code, 1);
	assert_true(strncmp(r.err, "glomail: ", 9) == 0);
	clientrun_free(&r);

	/* Nothing was sent out or stored for dave but the server's notice
	 * about ghost. */
	run(&r, pw_env, NULL, "-u", "dave", "stats", NULL);
	assert_int_equal(r.exit_code, 0);
	assert_true(strncmp(r.out, "messages: 1\n", 12) == 0);
	clientrun_free(&r);
	run(&r, pw_env, NULL, "-u", "dave", "list", NULL);
	assert_int_equal(r.exit_code, 0);
	assert_non_null(strstr(r.out, "Undelivered mail: x"));
	clientrun_free(&r);
}

/* Parse one JSON line and check it is an object. */
static json_t *
json_line(const char *out)
{
	json_error_t e;
	json_t *j;

	/* Exactly one line. */
	assert_true(strlen(out) > 0);
	assert_ptr_equal(strchr(out, '\n'), out + strlen(out) - 1);
	j = json_loads(out, JSON_DISABLE_EOF_CHECK, &e);
	if (j == NULL)
		fprintf(stderr, "not JSON: %s (%s)\n", out, e.text);
	assert_non_null(j);
	assert_true(json_is_object(j));
	return j;
}

static void
test_json(void **state)
{
	struct clientrun_result r;
	json_t *j, *list;

	(void)state;
	run(&r, pw_env, NULL, "-u", "erin", "--json", "register", NULL);
	assert_int_equal(r.exit_code, 0);
	json_decref(json_line(r.out));
	clientrun_free(&r);
	send_mail("erin", "erin@glo2000.ca", "R\xc3\xa9union", "corps\n");

	/* One object per message, with the mailbox extension's fields. */
	run(&r, pw_env, NULL, "-u", "erin", "list", "--json", NULL);
	assert_int_equal(r.exit_code, 0);
	j = json_line(r.out);
	assert_int_equal(json_integer_value(json_object_get(j, "number")), 1);
	assert_true(json_string_length(json_object_get(j, "id")) > 0);
	assert_string_equal(json_string_value(json_object_get(j, "from")),
	    "erin@glo2000.ca");
	assert_string_equal(json_string_value(json_object_get(j, "to")),
	    "erin@glo2000.ca");
	assert_string_equal(json_string_value(json_object_get(j, "cc")), "");
	assert_string_equal(json_string_value(json_object_get(j, "subject")),
	    "R\xc3\xa9union");
	assert_non_null(
	    strstr(json_string_value(json_object_get(j, "date")), " +0000"));
	assert_true(json_integer_value(json_object_get(j, "size")) > 0);
	assert_true(json_is_false(json_object_get(j, "seen")));
	assert_true(json_is_false(json_object_get(j, "flagged")));
	list = json_object_get(j, "email_list");
	assert_null(list);
	json_decref(j);
	clientrun_free(&r);

	run(&r, pw_env, NULL, "--json", "-u", "erin", "read", "1", NULL);
	assert_int_equal(r.exit_code, 0);
	j = json_line(r.out);
	assert_string_equal(json_string_value(json_object_get(j, "subject")),
	    "R\xc3\xa9union");
	assert_string_equal(json_string_value(json_object_get(j, "content")),
	    "corps");
	assert_string_equal(json_string_value(json_object_get(j, "sender")),
	    "erin@glo2000.ca");
	assert_non_null(json_string_value(json_object_get(j, "date")));
	json_decref(j);
	clientrun_free(&r);

	run(&r, pw_env, NULL, "-u", "erin", "stats", "--json", NULL);
	assert_int_equal(r.exit_code, 0);
	j = json_line(r.out);
	assert_int_equal(json_integer_value(json_object_get(j, "count")), 1);
	assert_true(json_integer_value(json_object_get(j, "size")) > 0);
	json_decref(j);
	clientrun_free(&r);

	/* A refusal: the ERROR payload on stdout, the reason on stderr. */
	run(&r, pw_env, NULL, "-u", "erin", "read", "5", "--json", NULL);
	assert_int_equal(r.exit_code, 1);
	j = json_line(r.out);
	assert_true(json_is_string(json_object_get(j, "error_message")));
	json_decref(j);
	assert_true(strncmp(r.err, "glomail: ", 9) == 0);
	clientrun_free(&r);
}

/* Without GLOMAIL_PASSWORD and a terminal, stdin's first line is it. */
static void
test_password_on_stdin(void **state)
{
	struct clientrun_result r;

	(void)state;
	run(&r, NULL, PASSWORD "\n", "-u", "frank", "register", NULL);
	assert_int_equal(r.exit_code, 0);
	assert_string_equal(r.out, "");
	/* No prompt when there is no terminal to show it on. */
	assert_string_equal(r.err, "");
	clientrun_free(&r);

	run(&r, NULL, PASSWORD "\nfirst\nsecond\n", "-u", "frank", "send",
	    "--to", "frank@glo2000.ca", "--subject", "piped", NULL);
	assert_int_equal(r.exit_code, 0);
	clientrun_free(&r);

	run(&r, NULL, PASSWORD "\n", "-u", "frank", "read", "1", NULL);
	assert_int_equal(r.exit_code, 0);
	assert_non_null(strstr(r.out, "Subject: piped\n"));
	assert_non_null(strstr(r.out, "\n\nfirst\nsecond\n"));
	clientrun_free(&r);

	/* No password at all: a local error, not a refusal. */
	run(&r, NULL, NULL, "-u", "frank", "stats", NULL);
	assert_int_equal(r.exit_code, 2);
	assert_non_null(strstr(r.err, "no password given"));
	clientrun_free(&r);
}

/* The menus work from a pipe too: the password is then read as a line. */
static void
test_menus_piped(void **state)
{
	struct clientrun_result r;

	(void)state;
	run(&r, NULL,
	    "1\ngrace\n" PASSWORD "\n"
	    "2\ngrace@glo2000.ca\nPiped subject\nbody line\n.\n"
	    "3\n4\n3\n",
	    NULL);
	assert_int_equal(r.exit_code, 0);
	assert_non_null(
	    strstr(r.out, "Connection menu\n1. Create an account\n"
	                  "2. Log in\n3. Quit\nEnter your choice [1-3]: "));
	assert_non_null(strstr(r.out, "Message sent."));
	assert_non_null(strstr(r.out, "Number of messages: 1\n"));
	assert_null(strstr(r.out, PASSWORD));
	assert_string_equal(r.err, "");
	clientrun_free(&r);

	/* End of input in the main menu: BYE and exit 0. The seed's four
	 * entries, then glomaild's automatic reply, search and password. */
	run(&r, NULL, "2\ngrace\n" PASSWORD "\n", NULL);
	assert_int_equal(r.exit_code, 0);
	assert_non_null(strstr(r.out, "4. Log out\n5. Automatic reply\n"
	                              "6. Search mail\n"
	                              "7. Change the password\n"
	                              "Enter your choice [1-7]: "));
	clientrun_free(&r);
}

/*
 * A fake server on a fresh port: accepts one client, reads its first
 * request, then either closes (hang_up) or says nothing for 10 s.
 */
static pid_t
fake_server(char port[16], int hang_up)
{
	struct sockaddr_in sa = { .sin_family = AF_INET };
	socklen_t len = sizeof(sa);
	char buf[512];
	int fd, c;
	pid_t pid;

	sa.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	assert_int_not_equal(fd = socket(AF_INET, SOCK_STREAM, 0), -1);
	assert_int_equal(bind(fd, (struct sockaddr *)&sa, sizeof(sa)), 0);
	assert_int_equal(listen(fd, 4), 0);
	assert_int_equal(getsockname(fd, (struct sockaddr *)&sa, &len), 0);
	snprintf(port, 16, "%d", ntohs(sa.sin_port));
	assert_int_not_equal(pid = fork(), -1);
	if (pid == 0) {
		if ((c = accept(fd, NULL, NULL)) != -1) {
			if (read(c, buf, sizeof(buf)) == -1)
				_exit(1);
			if (!hang_up)
				sleep(10);
			close(c);
		}
		_exit(0);
	}
	close(fd);
	return pid;
}

static void
test_server_hangs_up(void **state)
{
	struct clientrun_result r;
	char port[16];
	const char *argv[] = { "glomail", "-d", "127.0.0.1", "-p", port, "-u",
		"x", "stats", NULL };
	pid_t pid;

	(void)state;
	pid = fake_server(port, 1);
	assert_int_equal(clientrun(argv, pw_env, NULL, &r), 0);
	waitpid(pid, NULL, 0);
	assert_int_equal(r.exit_code, 2);
	assert_non_null(strstr(r.err, "connection to the server lost"));
	clientrun_free(&r);
}

static void
test_server_silent(void **state)
{
	struct clientrun_result r;
	char port[16];
	const char *argv[] = { "glomail", "-d", "127.0.0.1", "-p", port,
		"--timeout", "1", "-u", "x", "stats", NULL };
	pid_t pid;

	(void)state;
	pid = fake_server(port, 0);
	assert_int_equal(clientrun(argv, pw_env, NULL, &r), 0);
	kill(pid, SIGKILL);
	waitpid(pid, NULL, 0);
	assert_int_equal(r.exit_code, 2);
	assert_non_null(strstr(r.err, "no reply in time"));
	clientrun_free(&r);
}

/* Diagnostics follow the locale; command output does not. */
static void
test_french_messages(void **state)
{
	const char *locpath, *env[4];
	const char *const help[] = { "glomail", "--help", NULL };
	struct clientrun_result r;
	char why[256];

	(void)state;
	if (clientrun_french(&locpath, why, sizeof(why)) == -1) {
		fprintf(stderr, "skipping: %s\n", why);
		skip();
	}
	env[0] = "LANG=fr_CA.UTF-8";
	env[1] = "GLOMAIL_PASSWORD=court1A";
	env[2] = locpath;
	env[3] = NULL;
	run(&r, env, NULL, "-u", "fr.weak", "register", NULL);
	assert_int_equal(r.exit_code, 1);
	assert_non_null(strstr(r.err,
	    "le mot de passe doit avoir au moins "
	    "10 caract\xc3\xa8res, un chiffre, une minuscule et une "
	    "majuscule"));
	clientrun_free(&r);

	assert_int_equal(clientrun(help, env, NULL, &r), 0);
	assert_int_equal(r.exit_code, 0);
	assert_non_null(strstr(r.out, "Usage : glomail -d H\xc3\x94TE"));
	clientrun_free(&r);

	env[1] = "GLOMAIL_PASSWORD=" PASSWORD;
	make_user("henri");
	send_mail("henri", "henri@glo2000.ca", "Sujet", "x\n");
	run(&r, env, NULL, "-u", "henri", "stats", NULL);
	assert_int_equal(r.exit_code, 0);
	assert_true(strncmp(r.out, "messages: 1\nsize: ", 18) == 0);
	clientrun_free(&r);
}

/* A hostile body: a title change, a colour, a carriage return, C1 CSI. */
#define HOSTILE_BODY \
	"a\x1b]0;pwned\x07 \x1b[31mred\rb\xc2\x9b" \
	"2Jc\ttab"

/*
 * A server for another domain: the client learns it (CAPABILITIES) for
 * the sender, the completion of a bare name and the error naming it, in
 * commands and menus alike.
 */
static void
test_other_domain(void **state)
{
	static const char *const extra[] = { "--domain", "example.org", NULL };
	struct clientrun_result r;

	(void)state;
	assert_int_equal(testsrv_start(&other, extra), 0);
	run_on(other.port, &r, pw_env, NULL, "-u", "dom.user", "register",
	    NULL);
	assert_int_equal(r.exit_code, 0);
	clientrun_free(&r);
	run_on(other.port, &r, pw_env, "hello\n", "-u", "dom.user", "send",
	    "--to", "dom.user", "--subject", "bare name", NULL);
	if (r.exit_code != 0)
		fprintf(stderr, "send: %s", r.err);
	assert_int_equal(r.exit_code, 0);
	clientrun_free(&r);
	run_on(other.port, &r, pw_env, "x\n", "-u", "dom.user", "send", "--to",
	    "dom.user@glo2000.ca", "--subject", "s", NULL);
	assert_int_equal(r.exit_code, 1);
	assert_non_null(strstr(r.err, "glomail: the address is outside the "
	                              "local domain (example.org)\n"));
	clientrun_free(&r);
	/* The menus share the path. */
	run_on(other.port, &r, NULL,
	    "2\ndom.user\n" PASSWORD "\n"
	    "2\ndom.user@EXAMPLE.org\nfrom the menu\nbody\n.\n4\n3\n",
	    NULL);
	assert_int_equal(r.exit_code, 0);
	assert_non_null(strstr(r.out, "Message sent.\n"));
	assert_non_null(strstr(r.out, "Logged out.\n"));
	clientrun_free(&r);
	run_on(other.port, &r, pw_env, NULL, "-u", "dom.user", "read", "2",
	    NULL);
	testsrv_stop(&other);
	assert_int_equal(r.exit_code, 0);
	assert_true(starts_with(r.out,
	    "From: dom.user@example.org\n"
	    "To: dom.user@example.org\nSubject: bare name\n"));
	clientrun_free(&r);
}

/*
 * Several --to and --cc: one EMAIL_SENDING_MANY, a line per recipient
 * (duplicates once, unknown ones undeliverable, others refused); more
 * than the server's limit is refused whole, before anything is sent.
 */
static void
test_repeated_to(void **state)
{
	static const char *argv[240];
	static char addrs[101][32];
	struct clientrun_result r;
	size_t n = 0, i;

	(void)state;
	make_user("rcpt.b");
	make_user("rcpt.c");
	make_user("rcpt.d");
	run(&r, pw_env, "for both\n", "-u", "rcpt.b", "send", "--to",
	    "rcpt.b@glo2000.ca", "--to", "rcpt.c", "--cc", "RCPT.C@glo2000.ca",
	    "--cc", "rcpt.d", "--cc", "rcpt.ghost", "--cc", "x@example.com",
	    "--subject", "several", NULL);
	assert_int_equal(r.exit_code, 1);
	assert_string_equal(r.out,
	    "delivered: rcpt.b@glo2000.ca\n"
	    "delivered: rcpt.c@glo2000.ca\n"
	    "delivered: rcpt.d@glo2000.ca\n"
	    "undeliverable: rcpt.ghost@glo2000.ca\n"
	    "refused: x@example.com: destination is outside the local domain\n");
	clientrun_free(&r);
	/* One copy each, with To: and Cc: as given. */
	run(&r, pw_env, NULL, "-u", "rcpt.c", "stats", NULL);
	assert_true(starts_with(r.out, "messages: 1\n"));
	clientrun_free(&r);
	run(&r, pw_env, NULL, "-u", "rcpt.d", "read", "1", NULL);
	assert_int_equal(r.exit_code, 0);
	assert_true(
	    starts_with(r.out, "From: rcpt.b@glo2000.ca\n"
	                       "To: rcpt.b@glo2000.ca, rcpt.c@glo2000.ca\n"
	                       "Cc: RCPT.C@glo2000.ca, rcpt.d@glo2000.ca, "
	                       "rcpt.ghost@glo2000.ca, x@example.com\n"
	                       "Subject: several\n"));
	clientrun_free(&r);
	/* Every one delivered: exit 0; --json is the server's reply. */
	run(&r, pw_env, "x\n", "-u", "rcpt.b", "--json", "send", "--to",
	    "rcpt.c", "--to", "rcpt.d", "--subject", "two", NULL);
	assert_int_equal(r.exit_code, 0);
	assert_non_null(strstr(r.out, "\"recipients\""));
	clientrun_free(&r);

	/* 101 recipients: refused before the password or the body. */
	argv[n++] = "glomail";
	argv[n++] = "-d";
	argv[n++] = "127.0.0.1";
	argv[n++] = "-p";
	argv[n++] = srv.port;
	argv[n++] = "-u";
	argv[n++] = "rcpt.b";
	argv[n++] = "send";
	argv[n++] = "--subject";
	argv[n++] = "crowd";
	for (i = 0; i < 101; i++) {
		snprintf(addrs[i], sizeof(addrs[i]), "rcpt.c+%zu", i);
		if (i == 0)
			snprintf(addrs[i], sizeof(addrs[i]), "rcpt.d");
		argv[n++] = i % 2 == 0 ? "--to" : "--cc";
		argv[n++] = addrs[i];
	}
	argv[n] = NULL;
	if (!testsrv_tls_mode()) {
		assert_int_equal(clientrun(argv, NULL, NULL, &r), 0);
		assert_int_equal(r.exit_code, 2);
		assert_string_equal(r.out, "");
		assert_string_equal(r.err,
		    "glomail: too many recipients: 101 given, the server takes "
		    "at most 100 per message; nothing was sent\n");
		clientrun_free(&r);
		/* 100 pass the client's check (the server judges them). */
		argv[n - 2] = NULL;
		assert_int_equal(clientrun(argv, pw_env, "hi\n", &r), 0);
		assert_int_equal(r.exit_code, 1);
		assert_true(
		    starts_with(r.out, "delivered: rcpt.d@glo2000.ca\n"));
		clientrun_free(&r);
	}
	run(&r, pw_env, NULL, "-u", "rcpt.d", "stats", NULL);
	assert_true(starts_with(r.out,
	    testsrv_tls_mode() ? "messages: 2\n" : "messages: 3\n"));
	clientrun_free(&r);
}

/* What send and register can check comes before the password. */
static void
test_checked_before_password(void **state)
{
	struct clientrun_result r;

	(void)state;
	run(&r, NULL, NULL, "-u", "nopw", "send", "--to", "a@example.com",
	    "--subject", "s", NULL);
	assert_int_equal(r.exit_code, 1);
	assert_string_equal(r.err, "glomail: the address is outside the "
	                           "local domain (glo2000.ca)\n");
	clientrun_free(&r);
	run(&r, NULL, NULL, "-u", "nopw", "send", "--to", "nopw", "--subject",
	    "bell\a", NULL);
	assert_int_equal(r.exit_code, 1);
	assert_string_equal(r.err, "glomail: subject may not contain line "
	                           "breaks or control characters\n");
	clientrun_free(&r);
	run(&r, NULL, NULL, "-u", "nopw", "send", "--to", "nopw", "--subject",
	    "c1 \xc2\x9b", NULL);
	assert_int_equal(r.exit_code, 1);
	clientrun_free(&r);
	run(&r, NULL, NULL, "-u", "LOST", "register", NULL);
	assert_int_equal(r.exit_code, 1);
	assert_string_equal(r.err, "glomail: user name is reserved\n");
	clientrun_free(&r);
}

/* Piped and --json output keep the server's bytes exactly. */
static void
test_escapes_piped(void **state)
{
	struct clientrun_result r;
	json_t *j;

	(void)state;
	make_user("esc.pipe");
	send_mail("esc.pipe", "esc.pipe", "plain", HOSTILE_BODY "\n");
	run(&r, pw_env, NULL, "-u", "esc.pipe", "read", "1", NULL);
	assert_int_equal(r.exit_code, 0);
	assert_non_null(strstr(r.out, "\n\n" HOSTILE_BODY "\n"));
	clientrun_free(&r);
	run(&r, pw_env, NULL, "-u", "esc.pipe", "--json", "read", "1", NULL);
	assert_int_equal(r.exit_code, 0);
	j = json_line(r.out);
	assert_string_equal(json_string_value(json_object_get(j, "content")),
	    HOSTILE_BODY);
	json_decref(j);
	clientrun_free(&r);
}

/*
 * A seed-style server (ERROR to CAPABILITIES): the client falls back to
 * the seed's domain for the sender and completion, silently, and shows
 * what that server stores as sent (control characters included) exactly.
 */
static void
test_seed_server(void **state)
{
	struct clientrun_result r;
	char err[256];
	int fd = -1, rc = -1;
	struct msg_email e = { "evil@glo2000.ca", "seedy@glo2000.ca",
		"\x1b]0;owned\x07"
		"forged",
		"Tue, 12 Jul 2022 19:21:57 +0000", "body\x1b[2J" };

	(void)state;
	if (seedsrv_start(&seed) == -1) {
		fprintf(stderr, "skipping: the seed-style server did not "
		                "start\n");
		skip();
	}
	run_on(seed.port, &r, pw_env, NULL, "-u", "seedy", "register", NULL);
	assert_int_equal(r.exit_code, 0);
	assert_string_equal(r.err, "");
	clientrun_free(&r);
	run_on(seed.port, &r, pw_env, "to myself\n", "-u", "seedy", "send",
	    "--to", "seedy", "--subject", "hi", NULL);
	assert_int_equal(r.exit_code, 0);
	assert_string_equal(r.err, "");
	clientrun_free(&r);
	/* A seed peer may store anything: here a forged, hostile message. */
	if ((fd = wire_connect("127.0.0.1", seed.port, err, sizeof(err))) >=
	        0 &&
	    testsrv_auth(fd, PROTO_AUTH_LOGIN, "seedy", PASSWORD) == PROTO_OK)
		rc = testsrv_request(fd, PROTO_EMAIL_SENDING, msg_email_new(&e),
		    NULL);
	if (fd >= 0)
		close(fd);
	assert_int_equal(rc, PROTO_OK);

	run_on(seed.port, &r, pw_env, NULL, "-u", "seedy", "read", "2", NULL);
	assert_int_equal(r.exit_code, 0);
	assert_true(starts_with(r.out, "From: seedy@glo2000.ca\n"
	                               "To: seedy@glo2000.ca\nSubject: hi\n"));
	clientrun_free(&r);
	run_on(seed.port, &r, pw_env, NULL, "-u", "seedy", "read", "1", NULL);
	assert_int_equal(r.exit_code, 0);
	assert_true(
	    starts_with(r.out, "From: evil@glo2000.ca\nTo: seedy@glo2000."
	                       "ca\nSubject: \x1b]0;owned\x07"
	                       "forged\n"));
	assert_non_null(strstr(r.out, "\n\nbody\x1b[2J\n"));
	clientrun_free(&r);
	/* What needs an extension says so plainly, before the password. */
	{
		static const char *const cmds[][4] = {
			{ "delete", "1", NULL },
			{ "mark", "1", "--seen", NULL },
			{ "search", "hi", NULL },
			{ "passwd", NULL },
			{ "watch", NULL },
			{ "list", "--unread", NULL },
			{ "read", "1733090000.M1P2.host", NULL },
			{ "reply", "1733090000.M1P2.host", NULL },
		};
		size_t i;

		for (i = 0; i < sizeof(cmds) / sizeof(cmds[0]); i++) {
			run_on(seed.port, &r, NULL, NULL, "-u", "seedy",
			    cmds[i][0], cmds[i][1], cmds[i][2], NULL);
			assert_int_equal(r.exit_code, 1);
			assert_string_equal(r.out, "");
			assert_true(starts_with(r.err,
			    "glomail: this server does not support "));
			clientrun_free(&r);
		}
	}
	run_on(seed.port, &r, pw_env, "x\n", "-u", "seedy", "send", "--to",
	    "seedy", "--cc", "seedy", "--subject", "s", NULL);
	assert_int_equal(r.exit_code, 1);
	assert_string_equal(r.err,
	    "glomail: this server does not support --cc\n");
	clientrun_free(&r);
	run_on(seed.port, &r, pw_env, "x\n", "-u", "seedy", "send", "--to",
	    "seedy", "--to", "other", "--subject", "s", NULL);
	assert_int_equal(r.exit_code, 2);
	assert_non_null(strstr(r.err, "the server takes at most 1 per message; "
	                              "nothing was sent"));
	clientrun_free(&r);
	run_on(seed.port, &r, pw_env, NULL, "-u", "seedy", "list", NULL);
	seedsrv_stop(&seed);
	assert_int_equal(r.exit_code, 0);
	assert_true(starts_with(r.out, "#1 evil@glo2000.ca - \x1b]0;owned\x07"
	                               "forged "));
	clientrun_free(&r);
}

/* The configuration file gives the server and account; options win. */
static void
test_config_file(void **state)
{
	struct clientrun_result r;
	char dir[256], path[300], env1[320], env2[320];
	const char *argv[8];
	const char *env[] = { env1, "GLOMAIL_PASSWORD=" PASSWORD, NULL };
	FILE *f;

	(void)state;
	assert_int_equal(testsrv_scratch(dir, sizeof(dir), "clientconf"), 0);
	snprintf(path, sizeof(path), "%s/glomail", dir);
	assert_int_equal(mkdir(path, 0700), 0);
	snprintf(path, sizeof(path), "%s/glomail/config", dir);
	assert_non_null(f = fopen(path, "w"));
	fprintf(f,
	    "# glomail's defaults\nserver = 127.0.0.1\nport = %s\n"
	    "user = confuser\ntls = no\n",
	    srv.port);
	assert_int_equal(fclose(f), 0);
	snprintf(env1, sizeof(env1), "XDG_CONFIG_HOME=%s", dir);
	argv[0] = "glomail";
	argv[1] = "register";
	argv[2] = NULL;
	assert_int_equal(clientrun(argv, env, "", &r), 0);
	assert_int_equal(r.exit_code, 0);
	clientrun_free(&r);
	argv[1] = "stats";
	assert_int_equal(clientrun(argv, env, "", &r), 0);
	assert_int_equal(r.exit_code, 0);
	assert_non_null(strstr(r.out, "messages: 0"));
	clientrun_free(&r);
	/* An option wins over the file: another account, refused. */
	argv[1] = "-u";
	argv[2] = "nobodyhere";
	argv[3] = "stats";
	argv[4] = NULL;
	assert_int_equal(clientrun(argv, env, "", &r), 0);
	assert_int_equal(r.exit_code, 1);
	clientrun_free(&r);
	/* A file that does not parse says where, and nothing is sent. */
	assert_non_null(f = fopen(path, "w"));
	fprintf(f, "server = 127.0.0.1\ncolour = blue\n");
	assert_int_equal(fclose(f), 0);
	argv[1] = "stats";
	argv[2] = NULL;
	assert_int_equal(clientrun(argv, env, "", &r), 0);
	assert_int_equal(r.exit_code, 2);
	assert_non_null(strstr(r.err, "config:2: colour: unknown setting"));
	clientrun_free(&r);
	/* GLOMAIL_CONFIG names another file; a missing one is an error. */
	snprintf(env2, sizeof(env2), "GLOMAIL_CONFIG=%s/none", dir);
	env[0] = env2;
	assert_int_equal(clientrun(argv, env, "", &r), 0);
	assert_int_equal(r.exit_code, 2);
	clientrun_free(&r);
	testsrv_remove_tree(dir);
}

/* The id of message n of user's list, from list --json. */
static void
id_of(const char *user, int n, char id[256])
{
	struct clientrun_result r;
	const char *line;
	json_t *j;
	int i;

	run(&r, pw_env, NULL, "-u", user, "--json", "list", NULL);
	assert_int_equal(r.exit_code, 0);
	line = r.out;
	for (i = 1; i < n; i++) {
		assert_non_null(line = strchr(line, '\n'));
		line++;
	}
	assert_non_null(j = json_loads(line, JSON_DISABLE_EOF_CHECK, NULL));
	assert_int_equal(json_integer_value(json_object_get(j, "number")), n);
	snprintf(id, 256, "%s", json_string_value(json_object_get(j, "id")));
	json_decref(j);
	clientrun_free(&r);
}

/* How many lines out has. */
static size_t
lines(const char *out)
{
	size_t n = 0;

	for (; *out != '\0'; out++)
		n += *out == '\n';
	return n;
}

/*
 * The mailbox extension's commands: unread marks, pages, read by id,
 * flags, search, delete; and their error paths: an unknown id, another
 * user's, one deleted twice, bad flags.
 */
static void
test_mailbox_commands(void **state)
{
	char alpha[256], gamma[256];
	struct clientrun_result r;
	json_t *j;

	(void)state;
	make_user("mb.a");
	make_user("mb.b");
	send_mail("mb.b", "mb.a", "alpha", "first body\n");
	send_mail("mb.b", "mb.a", "beta", "a Needle in it\n");
	send_mail("mb.b", "mb.a", "gamma", "third\n");
	id_of("mb.a", 3, alpha);
	id_of("mb.a", 1, gamma);

	run(&r, pw_env, NULL, "-u", "mb.a", "list", "--unread", NULL);
	assert_int_equal(lines(r.out), 3);
	clientrun_free(&r);
	run(&r, pw_env, NULL, "-u", "mb.a", "read", "1", NULL);
	assert_int_equal(r.exit_code, 0);
	assert_non_null(strstr(r.out, "Subject: gamma\n"));
	clientrun_free(&r);
	run(&r, pw_env, NULL, "-u", "mb.a", "list", "--unread", NULL);
	assert_int_equal(r.exit_code, 0);
	assert_true(starts_with(r.out, "*  #2 mb.b@glo2000.ca - beta "));
	assert_non_null(strstr(r.out, "\n*  #3 mb.b@glo2000.ca - alpha "));
	assert_int_equal(lines(r.out), 2);
	clientrun_free(&r);

	/* Pages keep the whole list's numbers; past the end is empty. */
	run(&r, pw_env, NULL, "-u", "mb.a", "list", "--page", "2", "--per-page",
	    "2", NULL);
	assert_int_equal(r.exit_code, 0);
	assert_true(starts_with(r.out, "*  #3 mb.b@glo2000.ca - alpha "));
	assert_int_equal(lines(r.out), 1);
	clientrun_free(&r);
	run(&r, pw_env, NULL, "-u", "mb.a", "list", "--per-page", "1", NULL);
	assert_true(starts_with(r.out, "   #1 mb.b@glo2000.ca - gamma "));
	assert_int_equal(lines(r.out), 1);
	clientrun_free(&r);
	run(&r, pw_env, NULL, "-u", "mb.a", "list", "--page", "9", NULL);
	assert_int_equal(r.exit_code, 0);
	assert_string_equal(r.out, "");
	clientrun_free(&r);

	/* By id, and as JSON: the fields and the body. */
	run(&r, pw_env, NULL, "-u", "mb.a", "read", alpha, NULL);
	assert_int_equal(r.exit_code, 0);
	assert_true(
	    starts_with(r.out, "From: mb.b@glo2000.ca\n"
	                       "To: mb.a@glo2000.ca\nSubject: alpha\n"));
	assert_non_null(strstr(r.out, "\n\nfirst body\n"));
	clientrun_free(&r);
	run(&r, pw_env, NULL, "-u", "mb.a", "--json", "read", gamma, NULL);
	assert_int_equal(r.exit_code, 0);
	j = json_line(r.out);
	assert_string_equal(json_string_value(json_object_get(j, "id")), gamma);
	assert_string_equal(json_string_value(json_object_get(j, "content")),
	    "third");
	assert_true(json_is_true(json_object_get(j, "seen")));
	assert_true(json_is_false(json_object_get(j, "flagged")));
	json_decref(j);
	clientrun_free(&r);

	/* Another user's id is no message of theirs; nor is an unknown. */
	run(&r, pw_env, NULL, "-u", "mb.b", "read", alpha, NULL);
	assert_int_equal(r.exit_code, 1);
	assert_string_equal(r.out, "");
	assert_string_equal(r.err, "glomail: no such message\n");
	clientrun_free(&r);
	run(&r, pw_env, NULL, "-u", "mb.b", "delete", alpha, NULL);
	assert_int_equal(r.exit_code, 1);
	assert_string_equal(r.err, "glomail: no such message\n");
	clientrun_free(&r);
	run(&r, pw_env, NULL, "-u", "mb.b", "mark", alpha, "--seen", NULL);
	assert_int_equal(r.exit_code, 1);
	assert_string_equal(r.err, "glomail: no such message\n");
	clientrun_free(&r);
	run(&r, pw_env, NULL, "-u", "mb.a", "read", "1.no.such.message", NULL);
	assert_int_equal(r.exit_code, 1);
	assert_string_equal(r.err, "glomail: no such message\n");
	clientrun_free(&r);
	run(&r, pw_env, NULL, "-u", "mb.a", "--json", "delete", "7", NULL);
	assert_int_equal(r.exit_code, 1);
	j = json_line(r.out);
	assert_string_equal(json_string_value(
	                        json_object_get(j, "error_message")),
	    "choice out of range");
	json_decref(j);
	clientrun_free(&r);

	/* Flags: flagged, then unseen again; bad flags never reach it. */
	run(&r, pw_env, NULL, "-u", "mb.a", "mark", "1", alpha, "--flagged",
	    NULL);
	assert_int_equal(r.exit_code, 0);
	assert_string_equal(r.out, "changed: 2\n");
	clientrun_free(&r);
	run(&r, pw_env, NULL, "-u", "mb.a", "mark", gamma, "--unseen", NULL);
	assert_string_equal(r.out, "changed: 1\n");
	clientrun_free(&r);
	run(&r, pw_env, NULL, "-u", "mb.a", "list", NULL);
	assert_true(starts_with(r.out, "*! #1 mb.b@glo2000.ca - gamma "));
	assert_non_null(strstr(r.out, "\n*  #2 mb.b@glo2000.ca - beta "));
	assert_non_null(strstr(r.out, "\n ! #3 mb.b@glo2000.ca - alpha "));
	clientrun_free(&r);
	run(&r, pw_env, NULL, "-u", "mb.a", "mark", "1", "--seen", "--unseen",
	    NULL);
	assert_int_equal(r.exit_code, 2);
	assert_non_null(strstr(r.err, "give each flag once"));
	clientrun_free(&r);
	run(&r, pw_env, NULL, "-u", "mb.a", "mark", "1", NULL);
	assert_int_equal(r.exit_code, 2);
	clientrun_free(&r);
	run(&r, pw_env, NULL, "-u", "mb.a", "mark", "1", "--read", NULL);
	assert_int_equal(r.exit_code, 2);
	clientrun_free(&r);
	run(&r, pw_env, NULL, "-u", "mb.a", "mark", "bad/id", "--seen", NULL);
	assert_int_equal(r.exit_code, 2);
	clientrun_free(&r);

	/* Search: case-insensitive substrings, dates, all criteria at once. */
	run(&r, pw_env, NULL, "-u", "mb.a", "search", "--subject", "BETA",
	    NULL);
	assert_int_equal(r.exit_code, 0);
	assert_true(starts_with(r.out, "*  #2 mb.b@glo2000.ca - beta "));
	assert_int_equal(lines(r.out), 1);
	clientrun_free(&r);
	run(&r, pw_env, NULL, "-u", "mb.a", "--json", "search", "--body",
	    "needle", "--from", "mb.b", "--to", "mb.a", "--since", "2000-01-01",
	    "--before", "2999-12-31", NULL);
	assert_int_equal(r.exit_code, 0);
	j = json_line(r.out);
	assert_string_equal(json_string_value(json_object_get(j, "subject")),
	    "beta");
	json_decref(j);
	clientrun_free(&r);
	run(&r, pw_env, NULL, "-u", "mb.a", "search", "--unread", "a", NULL);
	assert_int_equal(lines(r.out), 2);
	clientrun_free(&r);
	run(&r, pw_env, NULL, "-u", "mb.a", "search", "--before", "2000-01-01",
	    NULL);
	assert_int_equal(r.exit_code, 0);
	assert_string_equal(r.out, "");
	clientrun_free(&r);
	run(&r, pw_env, NULL, "-u", "mb.a", "search", "--since", "2024-13-01",
	    NULL);
	assert_int_equal(r.exit_code, 2);
	clientrun_free(&r);

	/* Delete by number and by id; twice is no such message. */
	run(&r, pw_env, NULL, "-u", "mb.a", "delete", alpha, "2", NULL);
	assert_int_equal(r.exit_code, 0);
	assert_string_equal(r.out, "deleted: 2\n");
	clientrun_free(&r);
	run(&r, pw_env, NULL, "-u", "mb.a", "delete", alpha, NULL);
	assert_int_equal(r.exit_code, 1);
	assert_string_equal(r.err, "glomail: no such message\n");
	clientrun_free(&r);
	/* One bad id and nothing is deleted. */
	run(&r, pw_env, NULL, "-u", "mb.a", "delete", gamma, alpha, NULL);
	assert_int_equal(r.exit_code, 1);
	clientrun_free(&r);
	run(&r, pw_env, NULL, "-u", "mb.a", "stats", NULL);
	assert_true(starts_with(r.out, "messages: 1\n"));
	clientrun_free(&r);
	run(&r, pw_env, NULL, "-u", "mb.a", "--json", "delete", gamma, NULL);
	assert_int_equal(r.exit_code, 0);
	j = json_line(r.out);
	assert_int_equal(json_integer_value(json_object_get(j, "deleted")), 1);
	json_decref(j);
	clientrun_free(&r);
	run(&r, pw_env, NULL, "-u", "mb.a", "list", NULL);
	assert_string_equal(r.out, "");
	clientrun_free(&r);
}

/*
 * passwd: a weak new password is refused and changes nothing; a good one
 * replaces the old, from the environment or from standard input.
 */
static void
test_passwd(void **state)
{
	const char *const weak[] = { "GLOMAIL_PASSWORD=" PASSWORD,
		"GLOMAIL_NEW_PASSWORD=weak1A", NULL };
	const char *const good[] = { "GLOMAIL_PASSWORD=" PASSWORD,
		"GLOMAIL_NEW_PASSWORD=Second0Horse", NULL };
	const char *const second[] = { "GLOMAIL_PASSWORD=Second0Horse", NULL };
	const char *const third[] = { "GLOMAIL_PASSWORD=Third0Horse", NULL };
	struct clientrun_result r;

	(void)state;
	make_user("pw.user");
	run(&r, weak, NULL, "-u", "pw.user", "passwd", NULL);
	assert_int_equal(r.exit_code, 1);
	assert_string_equal(r.out, "");
	assert_non_null(strstr(r.err, "password must have at least 10 "));
	clientrun_free(&r);
	run(&r, pw_env, NULL, "-u", "pw.user", "stats", NULL);
	assert_int_equal(r.exit_code, 0);
	clientrun_free(&r);

	run(&r, good, NULL, "-u", "pw.user", "passwd", NULL);
	assert_int_equal(r.exit_code, 0);
	assert_string_equal(r.out, "");
	assert_string_equal(r.err, "");
	clientrun_free(&r);
	/* No password typed on a pipe: current, then new, one a line. */
	run(&r, NULL, "Second0Horse\nThird0Horse\n", "-u", "pw.user", "passwd",
	    NULL);
	assert_int_equal(r.exit_code, 0);
	clientrun_free(&r);
	run(&r, third, NULL, "-u", "pw.user", "stats", NULL);
	assert_int_equal(r.exit_code, 0);
	clientrun_free(&r);
	/* The current password wrong: refused at login, nothing changed. */
	run(&r, second, NULL, "-u", "pw.user", "passwd", NULL);
	assert_int_equal(r.exit_code, 1);
	assert_non_null(strstr(r.err, "unknown user or wrong password"));
	clientrun_free(&r);
	run(&r, third, NULL, "-u", "pw.user", "stats", NULL);
	assert_int_equal(r.exit_code, 0);
	clientrun_free(&r);
}

/* Start a command in a pseudo-terminal against the test's server. */
static void
spawn_cmd(struct pty *p, const char *user, const char *a1, const char *a2)
{
	static char ca[512];
	const char *argv[16] = { "glomail", "-d", "127.0.0.1", "-p", srv.port,
		"-u", user };
	size_t n = 7;

	if (testsrv_tls_mode()) {
		snprintf(ca, sizeof(ca), "%s/ca.crt",
		    getenv("GLOMAIL_TLS_CERTS"));
		argv[4] = srv.tls_port;
		argv[n++] = "--tls";
		argv[n++] = "--cafile";
		argv[n++] = ca;
	}
	argv[n++] = a1;
	argv[n++] = a2;
	argv[n] = NULL;
	assert_int_equal(pty_spawn(p, argv, pw_env), 0);
}

/* watch: a line per new message, until SIGTERM or SIGINT: exit 0. */
static void
test_watch(void **state)
{
	struct pty p = { .fd = -1 };

	(void)state;
	make_user("w.reader");
	make_user("w.writer");
	spawn_cmd(&p, "w.reader", "watch", NULL);
	assert_int_equal(pty_expect(&p, "watching for new mail", 20000), 0);
	send_mail("w.writer", "w.reader", "live one", "x\n");
	assert_int_equal(pty_expect(&p, "new: ", 20000), 0);
	assert_int_equal(pty_expect(&p, " w.writer@glo2000.ca - live one",
	                     20000),
	    0);
	send_mail("w.writer", "w.reader", "live two", "x\n");
	assert_int_equal(pty_expect(&p, " w.writer@glo2000.ca - live two",
	                     20000),
	    0);
	assert_int_equal(kill(p.pid, SIGTERM), 0);
	assert_int_equal(pty_wait(&p, 20000), 0);
	pty_close(&p);

	spawn_cmd(&p, "w.reader", "--json", "watch");
	assert_int_equal(pty_expect(&p, "watching for new mail", 20000), 0);
	send_mail("w.writer", "w.reader", "as json", "x\n");
	assert_int_equal(pty_expect(&p,
	                     "\"sender\":\"w.writer@glo2000.ca\","
	                     "\"subject\":\"as json\"}",
	                     20000),
	    0);
	assert_int_equal(kill(p.pid, SIGINT), 0);
	assert_int_equal(pty_wait(&p, 20000), 0);
	pty_close(&p);
}

/* Dates in the reader's zone; --date-format seed as the server sent. */
static void
test_dates(void **state)
{
	const char *const est[] = { "GLOMAIL_PASSWORD=" PASSWORD, "TZ=EST5",
		NULL };
	struct clientrun_result r;

	(void)state;
	make_user("tz.user");
	send_mail("tz.user", "tz.user", "when", "x\n");
	run(&r, est, NULL, "-u", "tz.user", "list", NULL);
	assert_int_equal(r.exit_code, 0);
	assert_non_null(strstr(r.out, " -0500\n"));
	clientrun_free(&r);
	run(&r, est, NULL, "-u", "tz.user", "read", "1", NULL);
	assert_non_null(strstr(r.out, "\nDate: "));
	assert_non_null(strstr(r.out, " -0500\n\nx\n"));
	clientrun_free(&r);
	run(&r, est, NULL, "-u", "tz.user", "--date-format", "seed", "read",
	    "1", NULL);
	assert_non_null(strstr(r.out, " +0000\n\nx\n"));
	clientrun_free(&r);
	/* JSON is the server's, whatever the zone. */
	run(&r, est, NULL, "-u", "tz.user", "--json", "read", "1", NULL);
	assert_non_null(strstr(r.out, " +0000\""));
	clientrun_free(&r);
	run(&r, est, NULL, "-u", "tz.user", "--date-format", "iso", "list",
	    NULL);
	assert_int_equal(r.exit_code, 2);
	clientrun_free(&r);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_help_and_version),
		cmocka_unit_test(test_usage_errors),
		cmocka_unit_test(test_connection_refused),
		cmocka_unit_test(test_register),
		cmocka_unit_test(test_wrong_password),
		cmocka_unit_test(test_send_list_read_stats),
		cmocka_unit_test(test_send_refused),
		cmocka_unit_test(test_json),
		cmocka_unit_test(test_password_on_stdin),
		cmocka_unit_test(test_menus_piped),
		cmocka_unit_test(test_server_hangs_up),
		cmocka_unit_test(test_server_silent),
		cmocka_unit_test(test_french_messages),
		cmocka_unit_test_teardown(test_other_domain, stop_others),
		cmocka_unit_test(test_repeated_to),
		cmocka_unit_test(test_checked_before_password),
		cmocka_unit_test(test_escapes_piped),
		cmocka_unit_test(test_config_file),
		cmocka_unit_test_teardown(test_seed_server, stop_others),
		cmocka_unit_test(test_mailbox_commands),
		cmocka_unit_test(test_passwd),
		cmocka_unit_test(test_watch),
		cmocka_unit_test(test_dates),
	};

	testsrv_use(&srv, NULL);
	return cmocka_run_group_tests(tests, testsrv_setup, testsrv_teardown);
}
