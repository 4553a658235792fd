/*
 * test_bench_smoke.c - every glomail-bench scenario, with tiny counts,
 * against a real glomaild: the tool must finish, exit 0 and report work
 * done with no errors. Correctness only: no figure is ever judged here.
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

		snprintf(needle, sizeof(needle), "\"phase\": \"%s\"", phases[i]);
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
		assert_int_equal(json_integer_value(json_object_get(j,
		    "errors")), 0);
		if (json_object_get(j, "ops") != NULL)
			assert_true(json_integer_value(json_object_get(j,
			    "ops")) > 0);
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
	static const char *const phases[] = { "fill", "cold-list",
	    "warm-list", "read-big", "read-small", NULL };
	int status;
	char *out = run_bench(&status, "--clients", "2", "--bigbox", "30",
	    "--mailbox", "5", "bigbox", NULL);

	(void)state;
	assert_true(WIFEXITED(status) && WEXITSTATUS(status) == 0);
	assert_int_equal(check_lines(out, phases), 6);
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

/* run-all with tiny counts: every scenario, then the targets line. */
static void
test_run_all(void **state)
{
	static const char *const phases[] = { "1-writer", "send", "stats",
	    "storm", "held", "warm-list", NULL };
	int status;
	char *out = run_bench(&status, "--clients", "2", "--messages", "10",
	    "--duration", "0.5", "--conns", "20", "--login", "2", "--bigbox",
	    "20", "--mailbox", "5", "--writers", "2", "--prefix", "all",
	    "run-all", NULL);

	(void)state;
	assert_true(WIFEXITED(status) && WEXITSTATUS(status) == 0);
	assert_true(check_lines(out, phases) >= 15);
	assert_non_null(strstr(out, "\"scenario\": \"targets\""));
	free(out);
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
		cmocka_unit_test(test_run_all),
	};

	testsrv_use(&srv, NULL);
	return cmocka_run_group_tests(tests, testsrv_setup, testsrv_teardown);
}
