/*
 * test_bench_smoke.c - every glomail-bench scenario, with tiny counts,
 * against a real glomaild: the tool must finish, exit 0 and report work
 * done with no errors. Correctness only: no figure is ever judged here.
 * The server also listens with TLS (the certificates of GLOMAIL_TLS_CERTS),
 * so the TLS scenarios run too, and every run is given its port.
 */
#include <sys/types.h>
#include <sys/wait.h>

#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <cmocka.h>
#include <jansson.h>

#include "testsrv.h"

static struct testsrv srv;
static char tls_port[16];
static char cafile[512];

/* Run glomail-bench --json with args; its stdout in a new string. */
static char *
run_bench(int *status_r, ...)
{
	const char *argv[48];
	char pidbuf[32];
	size_t n = 0, len = 0, cap = 4096;
	char *out = malloc(cap);
	const char *a;
	va_list ap;
	ssize_t r;
	int fds[2];
	pid_t pid;

	assert_non_null(out);
	snprintf(pidbuf, sizeof(pidbuf), "%ld", (long)srv.pid);
	argv[n++] = GLOMAIL_BENCH;
	argv[n++] = "--json";
	argv[n++] = "--port";
	argv[n++] = srv.port;
	argv[n++] = "--pid";
	argv[n++] = pidbuf;
	argv[n++] = "--data-dir";
	argv[n++] = srv.dir;
	argv[n++] = "--tls-port";
	argv[n++] = tls_port;
	argv[n++] = "--cafile";
	argv[n++] = cafile;
	va_start(ap, status_r);
	while ((a = va_arg(ap, const char *)) != NULL && n < 46)
		argv[n++] = a;
	va_end(ap);
	argv[n] = NULL;
	assert_int_equal(pipe(fds), 0);
	pid = fork();
	assert_true(pid != -1);
	if (pid == 0) {
		char *cargv[48];
		size_t i;

		for (i = 0; i <= n; i++)
			cargv[i] = argv[i] != NULL ? strdup(argv[i]) : NULL;
		dup2(fds[1], STDOUT_FILENO);
		close(fds[0]);
		close(fds[1]);
		execv(cargv[0], cargv);
		_exit(127);
	}
	close(fds[1]);
	for (;;) {
		if (len + 1024 > cap) {
			cap *= 2;
			out = realloc(out, cap);
			assert_non_null(out);
		}
		r = read(fds[0], out + len, cap - len - 1);
		if (r == -1 && errno == EINTR)
			continue;
		if (r <= 0)
			break;
		len += (size_t)r;
	}
	out[len] = '\0';
	close(fds[0]);
	while (waitpid(pid, status_r, 0) == -1 && errno == EINTR)
		;
	printf("%s", out);
	return out;
}

/*
 * Check the output: every line is JSON, each named phase appears, results
 * have work done (ops > 0) and no errors. Returns the lines seen.
 */
static int
check_lines(const char *out, const char *const *phases)
{
	const char *line = out, *end;
	int lines = 0, i;
	json_error_t err;
	json_t *j;

	for (i = 0; phases[i] != NULL; i++) {
		char needle[64];

		snprintf(needle, sizeof(needle), "\"phase\": \"%s\"",
		    phases[i]);
		if (strstr(out, needle) == NULL)
			fail_msg("no result for phase %s", phases[i]);
	}
	while (*line != '\0') {
		end = strchr(line, '\n');
		if (end == NULL)
			end = line + strlen(line);
		j = json_loadb(line, (size_t)(end - line), 0, &err);
		if (j == NULL)
			fail_msg("not JSON: %.*s", (int)(end - line), line);
		assert_int_equal(json_integer_value(
		                     json_object_get(j, "errors")),
		    0);
		if (json_object_get(j, "ops") != NULL)
			assert_true(
			    json_integer_value(json_object_get(j, "ops")) > 0);
		json_decref(j);
		lines++;
		line = *end == '\n' ? end + 1 : end;
	}
	return lines;
}

static void
test_rtt(void **state)
{
	static const char *const phases[] = { "stats", NULL };
	int status;
	char *out = run_bench(&status, "--messages", "20", "rtt", NULL);

	(void)state;
	assert_true(WIFEXITED(status) && WEXITSTATUS(status) == 0);
	assert_int_equal(check_lines(out, phases), 1);
	free(out);
}

static void
test_send(void **state)
{
	static const char *const phases[] = { "send", NULL };
	int status;
	char *out = run_bench(&status, "--clients", "2", "--messages", "10",
	    "send", NULL);

	(void)state;
	assert_true(WIFEXITED(status) && WEXITSTATUS(status) == 0);
	assert_int_equal(check_lines(out, phases), 1);
	free(out);
}

static void
test_read(void **state)
{
	static const char *const phases[] = { "stats", "list", "read", NULL };
	int status;
	char *out = run_bench(&status, "--clients", "2", "--mailbox", "5",
	    "--messages", "10", "read", NULL);

	(void)state;
	assert_true(WIFEXITED(status) && WEXITSTATUS(status) == 0);
	assert_int_equal(check_lines(out, phases), 3);
	free(out);
}

static void
test_login_storm(void **state)
{
	static const char *const phases[] = { "quiet", "storm", "logins",
		NULL };
	int status;
	char *out = run_bench(&status, "--clients", "2", "--probes", "2",
	    "--duration", "0.5", "login-storm", NULL);

	(void)state;
	assert_true(WIFEXITED(status) && WEXITSTATUS(status) == 0);
	assert_int_equal(check_lines(out, phases), 3);
	free(out);
}

static void
test_idle(void **state)
{
	static const char *const phases[] = { "held", NULL };
	int status;
	char *out = run_bench(&status, "--conns", "20", "--login", "2",
	    "--duration", "0.2", "idle", NULL);

	(void)state;
	assert_true(WIFEXITED(status) && WEXITSTATUS(status) == 0);
	assert_int_equal(check_lines(out, phases), 1);
	assert_non_null(strstr(out, "\"held\": 20,"));
	free(out);
}

static void
test_bigbox(void **state)
{
	static const char *const phases[] = { "fill", "cold-list", "warm-list",
		"read-big", "read-small", "flag", "delete", "search-subject",
		"search-body", NULL };
	int status;
	char *out = run_bench(&status, "--clients", "2", "--bigbox", "30",
	    "--mailbox", "5", "bigbox", NULL);

	(void)state;
	assert_true(WIFEXITED(status) && WEXITSTATUS(status) == 0);
	assert_int_equal(check_lines(out, phases), 10);
	free(out);
}

static void
test_fsync_probe(void **state)
{
	static const char *const phases[] = { "1-writer", "N-writers", NULL };
	int status;
	char *out = run_bench(&status, "--messages", "10", "--writers", "2",
	    "fsync-probe", NULL);

	(void)state;
	assert_true(WIFEXITED(status) && WEXITSTATUS(status) == 0);
	assert_int_equal(check_lines(out, phases), 2);
	free(out);
}

static void
test_tls_idle(void **state)
{
	static const char *const phases[] = { "held", NULL };
	int status;
	char *out = run_bench(&status, "--conns", "20", "--login", "2",
	    "--duration", "0.2", "tls-idle", NULL);

	(void)state;
	assert_true(WIFEXITED(status) && WEXITSTATUS(status) == 0);
	assert_int_equal(check_lines(out, phases), 1);
	assert_non_null(strstr(out, "\"scenario\": \"tls-idle\""));
	assert_non_null(strstr(out, "\"held\": 20,"));
	free(out);
}

static void
test_tls_connect(void **state)
{
	static const char *const phases[] = { "plain", "tls", "tls-wire",
		NULL };
	int status;
	char *out = run_bench(&status, "--messages", "10", "--rounds", "2",
	    "tls-connect", NULL);

	(void)state;
	assert_true(WIFEXITED(status) && WEXITSTATUS(status) == 0);
	assert_int_equal(check_lines(out, phases), 3);
	/* Two rounds of five connections of each kind, each served. */
	assert_non_null(strstr(out, "\"ops\": 10,"));
	/* Read from /proc; too few connections here for a figure. */
	assert_non_null(strstr(out, "\"server_cpu_us_per_conn\": "));
	free(out);
}

static void
test_tls_stats(void **state)
{
	static const char *const phases[] = { "plain", "tls", NULL };
	int status;
	char *out = run_bench(&status, "--clients", "2", "--rounds", "2",
	    "--messages", "20", "tls-stats", NULL);

	(void)state;
	assert_true(WIFEXITED(status) && WEXITSTATUS(status) == 0);
	assert_int_equal(check_lines(out, phases), 2);
	assert_non_null(strstr(out, "\"tls_vs_plain\": "));
	free(out);
}

static void
test_tls_storm(void **state)
{
	static const char *const phases[] = { "quiet", "storm", "handshakes",
		NULL };
	int status;
	char *out = run_bench(&status, "--storm", "30", "--probes", "2",
	    "--duration", "0.3", "tls-storm", NULL);

	(void)state;
	assert_true(WIFEXITED(status) && WEXITSTATUS(status) == 0);
	assert_int_equal(check_lines(out, phases), 3);
	assert_non_null(strstr(out, "\"phase\": \"handshakes\", "
	                            "\"clients\": 30, \"ops\": 30,"));
	free(out);
}

static void
test_send_one(void **state)
{
	static const char *const phases[] = { "send", NULL };
	int status;
	char *out = run_bench(&status, "--clients", "3", "--messages", "12",
	    "send-one", NULL);

	(void)state;
	assert_true(WIFEXITED(status) && WEXITSTATUS(status) == 0);
	assert_int_equal(check_lines(out, phases), 1);
	assert_non_null(strstr(out, "\"scenario\": \"send-one\""));
	free(out);
}

static void
test_fanout(void **state)
{
	static const char *const phases[] = { "1-rcpt", "N-rcpts", NULL };
	int status;
	char *out = run_bench(&status, "--duration", "0.1", "--rcpts", "3",
	    "fanout", NULL);

	(void)state;
	assert_true(WIFEXITED(status) && WEXITSTATUS(status) == 0);
	assert_int_equal(check_lines(out, phases), 2);
	assert_non_null(strstr(out, "\"rcpts\": 3"));
	free(out);
}

static void
test_send_many(void **state)
{
	static const char *const phases[] = { "1-rcpt", "N-rcpts", NULL };
	int status;
	char *out = run_bench(&status, "--duration", "0.1", "--rcpts", "3",
	    "send-many", NULL);

	(void)state;
	assert_true(WIFEXITED(status) && WEXITSTATUS(status) == 0);
	assert_int_equal(check_lines(out, phases), 2);
	assert_non_null(strstr(out, "\"scenario\": \"send-many\""));
	assert_non_null(strstr(out, "\"rcpts\": 3"));
	free(out);
}

/* run-all with tiny counts: every scenario, then the targets line. */
static void
test_run_all(void **state)
{
	static const char *const phases[] = { "1-writer", "send", "stats",
		"storm", "held", "warm-list", "tls-wire", "handshakes", NULL };
	int status;
	char *out = run_bench(&status, "--clients", "2", "--messages", "10",
	    "--duration", "0.5", "--conns", "20", "--login", "2", "--bigbox",
	    "20", "--mailbox", "5", "--writers", "2", "--storm", "20",
	    "--rounds", "1", "--prefix", "all", "run-all", NULL);

	(void)state;
	assert_true(WIFEXITED(status) && WEXITSTATUS(status) == 0);
	assert_true(check_lines(out, phases) >= 24);
	assert_non_null(strstr(out, "\"scenario\": \"tls-idle\""));
	assert_non_null(strstr(out, "\"scenario\": \"targets\""));
	assert_non_null(strstr(out, "\"tls_vs_plain\": "));
	free(out);
}

/* The server with a TLS listener too; its port from the log. */
static int
group_setup(void **state)
{
	const char *p, *eol, *colon;
	char *log;

	if (testsrv_setup(state) != 0)
		return -1;
	if ((log = testsrv_read_file(srv.log)) == NULL)
		return -1;
	for (p = log; (p = strstr(p, "listening on ")) != NULL; p = eol) {
		if ((eol = strchr(p, '\n')) == NULL)
			break;
		if (eol - p > 4 && memcmp(eol - 4, " tls", 4) == 0) {
			for (colon = eol; colon > p && *colon != ':'; colon--)
				;
			snprintf(tls_port, sizeof(tls_port), "%.*s",
			    (int)strcspn(colon + 1, " \n"), colon + 1);
			break;
		}
	}
	free(log);
	if (tls_port[0] == '\0') {
		fprintf(stderr, "test_bench_smoke: the server has no TLS "
		                "listener\n");
		return -1;
	}
	return 0;
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_rtt),
		cmocka_unit_test(test_send),
		cmocka_unit_test(test_read),
		cmocka_unit_test(test_login_storm),
		cmocka_unit_test(test_idle),
		cmocka_unit_test(test_bigbox),
		cmocka_unit_test(test_fsync_probe),
		cmocka_unit_test(test_send_one),
		cmocka_unit_test(test_fanout),
		cmocka_unit_test(test_send_many),
		cmocka_unit_test(test_tls_idle),
		cmocka_unit_test(test_tls_connect),
		cmocka_unit_test(test_tls_stats),
		cmocka_unit_test(test_tls_storm),
		cmocka_unit_test(test_run_all),
	};
	static char cert[512], key[512];
	static const char *extra[] = { "--tls-listen", "127.0.0.1:0",
		"--tls-cert", cert, "--tls-key", key, NULL };
	const char *certs = getenv("GLOMAIL_TLS_CERTS");

	if (certs == NULL || *certs == '\0') {
		fprintf(stderr,
		    "test_bench_smoke: GLOMAIL_TLS_CERTS is not set "
		    "(run it with ctest, or point it at the output of "
		    "tests/tls/mkcerts.sh)\n");
		return 1;
	}
	snprintf(cert, sizeof(cert), "%s/server.crt", certs);
	snprintf(key, sizeof(key), "%s/server.key", certs);
	snprintf(cafile, sizeof(cafile), "%s/ca.crt", certs);
	testsrv_use(&srv, extra);
	return cmocka_run_group_tests(tests, group_setup, testsrv_teardown);
}
