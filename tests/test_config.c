/*
 * test_config.c - glomaild's settings: the key table through config_set,
 * the file reader's messages (FILE:LINE), what a reload may change, and
 * --check-config run on the real binary, including on the shipped default
 * configuration, which must also document every key the binary knows.
 */
#include <sys/stat.h>
#include <sys/wait.h>

#include <errno.h>
#include <fcntl.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <cmocka.h>

#include "config.h"
#include "log.h"
#include "testsrv.h"

static char scratch[256];

static int
setup(void **state)
{
	(void)state;
	return testsrv_scratch(scratch, sizeof(scratch), "config");
}

static int
teardown(void **state)
{
	(void)state;
	testsrv_remove_tree(scratch);
	return 0;
}

/* Write text to scratch/name; the path goes to path_r. */
static void
write_file(const char *name, const char *text, char *path_r, size_t len)
{
	FILE *f;

	snprintf(path_r, len, "%s/%s", scratch, name);
	f = fopen(path_r, "w");
	assert_non_null(f);
	assert_int_equal(fputs(text, f) >= 0, 1);
	assert_int_equal(fclose(f), 0);
}

/* The whole of a file (free it); the test fails if it is unreadable. */
static char *
read_all(const char *path)
{
	char *text = testsrv_read_file(path);

	assert_non_null(text);
	return text;
}

/*
 * Run glomaild with args (NULL-terminated); its stdout and stderr go to
 * scratch/out. Returns the exit status, or -1 when it did not exit.
 */
static int
run_glomaild(char *out, size_t outlen, const char *const *args)
{
	char path[300], *argv[32];
	size_t n = 0;
	int fd, status;
	pid_t pid;

	snprintf(path, sizeof(path), "%s/out", scratch);
	argv[n++] = (char *)(uintptr_t)testsrv_binary();
	for (; *args != NULL && n < 31; args++)
		argv[n++] = (char *)(uintptr_t)*args;
	argv[n] = NULL;
	fd = open(path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
	assert_true(fd != -1);
	pid = fork();
	assert_true(pid != -1);
	if (pid == 0) {
		dup2(fd, STDOUT_FILENO);
		dup2(fd, STDERR_FILENO);
		execv(argv[0], argv);
		_exit(127);
	}
	close(fd);
	while (waitpid(pid, &status, 0) == -1 && errno == EINTR)
		;
	{
		char *text = read_all(path);

		snprintf(out, outlen, "%s", text);
		free(text);
	}
	return WIFEXITED(status) ? WEXITSTATUS(status) : -1;
}

static void
test_set_keys(void **state)
{
	struct config cfg;
	const char *why = NULL;

	(void)state;
	config_init(&cfg);
	assert_int_equal(config_set(&cfg, "max-frame", "64K", &why), 0);
	assert_int_equal(cfg.max_frame, 64 * 1024);
	/* '_' and '-' are the same in key names. */
	assert_int_equal(config_set(&cfg, "max_output", "1M", &why), 0);
	assert_int_equal(cfg.max_output, 1024 * 1024);
	assert_int_equal(config_set(&cfg, "timeout-idle", "30", &why), 0);
	assert_int_equal(cfg.timeout_idle, 30);
	assert_int_equal(config_set(&cfg, "log-level", "debug", &why), 0);
	assert_int_equal(cfg.log_level, LOG_LEVEL_DEBUG);
	assert_int_equal(config_set(&cfg, "data-dir", "/srv/mail", &why), 0);
	assert_string_equal(cfg.data_dir, "/srv/mail");

	assert_int_equal(config_set(&cfg, "no-such-key", "1", &why), -1);
	assert_string_equal(why, "unknown setting");
	assert_int_equal(config_set(&cfg, "max-frame", "12", &why), -1);
	assert_int_equal(config_set(&cfg, "max-frame", "1X", &why), -1);
	assert_int_equal(config_set(&cfg, "timeout-idle", "-1", &why), -1);
	/* A suffix is for sizes only. */
	assert_int_equal(config_set(&cfg, "timeout-idle", "1K", &why), -1);
	assert_int_equal(config_set(&cfg, "log-level", "loud", &why), -1);
	assert_int_equal(config_set(&cfg, "domain", "", &why), -1);
	config_clear(&cfg);
}

static void
test_listen(void **state)
{
	static const char *const bad[] = {
		"", "9672", "localhost", "host:", ":9672", "host:96x2",
		"host:65536", "host:123456", "[::1:9672", "[]:9672",
	};
	struct config cfg;
	const char *why;
	size_t i;

	(void)state;
	config_init(&cfg);
	assert_int_equal(cfg.nlisten, 1);
	assert_string_equal(cfg.listen[0], "127.0.0.1:9672");
	/* The first address replaces the default, the next ones add. */
	assert_int_equal(config_set(&cfg, "listen", "[::1]:0", &why), 0);
	assert_int_equal(config_set(&cfg, "listen", "localhost:65535", &why),
	    0);
	assert_int_equal(cfg.nlisten, 2);
	assert_string_equal(cfg.listen[0], "[::1]:0");
	for (i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		why = NULL;
		if (config_set(&cfg, "listen", bad[i], &why) != -1)
			fail_msg("listen '%s' was accepted", bad[i]);
		assert_non_null(why);
	}
	assert_int_equal(cfg.nlisten, 2);
	for (i = 2; i < CONFIG_LISTEN_MAX; i++)
		assert_int_equal(config_set(&cfg, "listen", "127.0.0.1:1",
		    &why), 0);
	assert_int_equal(config_set(&cfg, "listen", "127.0.0.1:1", &why), -1);
	assert_string_equal(why, "too many listen addresses");
	config_clear(&cfg);
}

static void
test_load(void **state)
{
	struct config cfg;
	char path[300], err[512];

	(void)state;
	write_file("good.conf",
	    "# a comment line\n"
	    "\n"
	    "  max-frame = 2M   # trailing comment\n"
	    "timeout_login=5\r\n"
	    "listen = 127.0.0.1:1\n"
	    "listen = [::1]:2\n"
	    "data-dir = /var/lib/glomail\n",
	    path, sizeof(path));
	config_init(&cfg);
	assert_int_equal(config_load(&cfg, path, err, sizeof(err)), 0);
	assert_int_equal(cfg.max_frame, 2 * 1024 * 1024);
	assert_int_equal(cfg.timeout_login, 5);
	assert_int_equal(cfg.nlisten, 2);
	assert_string_equal(cfg.data_dir, "/var/lib/glomail");
	config_clear(&cfg);
}

/* config_load fails on text with "<path>:<expect>". */
static void
expect_load_error(const char *text, const char *expect)
{
	struct config cfg;
	char path[300], err[512], want[600];

	write_file("bad.conf", text, path, sizeof(path));
	snprintf(want, sizeof(want), "%s:%s", path, expect);
	config_init(&cfg);
	assert_int_equal(config_load(&cfg, path, err, sizeof(err)), -1);
	assert_string_equal(err, want);
	config_clear(&cfg);
}

static void
test_load_errors(void **state)
{
	struct config cfg;
	char err[512], *big;

	(void)state;
	expect_load_error("# ok\nmax-frame = 1M\nmax-frame = lots\n",
	    "3: max-frame: value is not a number in range");
	expect_load_error("\n\nbogus = 1\n", "3: bogus: unknown setting");
	expect_load_error("listen 127.0.0.1:9672\n", "1: expected key = value");
	expect_load_error("listen = 127.0.0.1\n",
	    "1: listen: listen wants HOST:PORT or [IPV6]:PORT");
	expect_load_error("log-level = chatty\n",
	    "1: log-level: log level is not error, warn, info or debug");
	big = malloc(5000);
	assert_non_null(big);
	memset(big, 'x', 4999);
	big[4999] = '\0';
	expect_load_error(big, "1: line too long");
	free(big);

	config_init(&cfg);
	assert_int_equal(config_load(&cfg, "/nonexistent/glomaild.conf", err,
	    sizeof(err)), -1);
	assert_string_equal(err,
	    "/nonexistent/glomaild.conf: No such file or directory");
	config_clear(&cfg);
}

static void
test_reload(void **state)
{
	struct config live, fresh;
	const char *why;

	(void)state;
	config_init(&live);
	config_init(&fresh);
	assert_int_equal(config_set(&fresh, "max-frame", "4K", &why), 0);
	assert_int_equal(config_set(&fresh, "max-connections", "7", &why), 0);
	assert_int_equal(config_set(&fresh, "timeout-idle", "9", &why), 0);
	assert_int_equal(config_set(&fresh, "log-level", "error", &why), 0);
	assert_int_equal(config_set(&fresh, "data-dir", "/elsewhere", &why), 0);
	assert_int_equal(config_set(&fresh, "listen", "127.0.0.1:1", &why), 0);
	assert_int_equal(config_set(&fresh, "store-workers", "3", &why), 0);

	/* Limits and the level change; the rest is only reported. */
	assert_int_equal(config_reload(&live, &fresh), 4);
	assert_int_equal(live.max_frame, 4096);
	assert_int_equal(live.max_connections, 7);
	assert_int_equal(live.timeout_idle, 9);
	assert_int_equal(live.log_level, LOG_LEVEL_ERROR);
	assert_string_equal(live.data_dir, "./glo_server_data");
	assert_string_equal(live.listen[0], "127.0.0.1:9672");
	assert_int_equal(live.store_workers, 8);
	/* Nothing left to change the second time. */
	assert_int_equal(config_reload(&live, &fresh), 0);
	config_clear(&live);
	config_clear(&fresh);
}

static void
test_check_config(void **state)
{
	char good[300], bad[300], out[4096], want[600];

	(void)state;
	write_file("good.conf", "max-frame = 64K\nlog-level = warn\n", good,
	    sizeof(good));
	write_file("bad.conf", "# glomaild\nmax-frame = 64K\n"
	    "timeout-idle = forever\n", bad, sizeof(bad));

	assert_int_equal(run_glomaild(out, sizeof(out), (const char *[]){
	    "--config", good, "--check-config", NULL }), 0);
	assert_non_null(strstr(out, "configuration OK"));

	assert_int_equal(run_glomaild(out, sizeof(out), (const char *[]){
	    "--check-config", "--config", bad, NULL }), 1);
	snprintf(want, sizeof(want),
	    "%s:3: timeout-idle: value is not a number in range", bad);
	if (strstr(out, want) == NULL)
		fail_msg("expected '%s' in '%s'", want, out);

	/* A good file, a bad command-line value: named as an option. */
	assert_int_equal(run_glomaild(out, sizeof(out), (const char *[]){
	    "--config", good, "--max-connections", "0", "--check-config",
	    NULL }), 1);
	assert_non_null(strstr(out, "--max-connections 0: value is not a "
	    "number in range"));

	/* The command line wins over the file, even a bad file value... */
	assert_int_equal(run_glomaild(out, sizeof(out), (const char *[]){
	    "--config", good, "--listen", "nowhere", "--check-config",
	    NULL }), 1);
	assert_non_null(strstr(out, "--listen nowhere: listen wants"));

	snprintf(want, sizeof(want), "%s/missing.conf", scratch);
	assert_int_equal(run_glomaild(out, sizeof(out), (const char *[]){
	    "--config", want, "--check-config", NULL }), 1);
	assert_non_null(strstr(out, "No such file or directory"));
}

/*
 * The shipped configuration is valid, and it and glomaild.conf(5) mention
 * every key glomaild --help lists: documentation cannot fall behind.
 */
static void
test_shipped_config(void **state)
{
	const char *conf = GLOMAIL_SOURCE_DIR "/dist/glomaild.conf";
	const char *man = GLOMAIL_SOURCE_DIR "/dist/man/glomaild.conf.5.in";
	const char *page8 = GLOMAIL_SOURCE_DIR "/dist/man/glomaild.8.in";
	char help[8192], out[4096], key[64], manned[160], *p, *text, *mantext;
	char *text8;
	size_t n, checked = 0;

	(void)state;
	assert_int_equal(run_glomaild(out, sizeof(out), (const char *[]){
	    "--config", conf, "--check-config", NULL }), 0);
	assert_int_equal(run_glomaild(help, sizeof(help), (const char *[]){
	    "--help", NULL }), 0);
	text = read_all(conf);
	mantext = read_all(man);
	text8 = read_all(page8);
	for (p = help; (p = strstr(p, "\n  --")) != NULL; p += 5) {
		n = strcspn(p + 5, " \n");
		snprintf(key, sizeof(key), "%.*s", (int)n, p + 5);
		if (strcmp(key, "config") == 0 ||
		    strcmp(key, "check-config") == 0 ||
		    strcmp(key, "help") == 0 || strcmp(key, "version") == 0)
			continue;
		/* "#key = " (commented default) or "key = " in the file. */
		snprintf(manned, sizeof(manned), "%s = ", key);
		if (strstr(text, manned) == NULL)
			fail_msg("dist/glomaild.conf does not mention %s", key);
		/* roff escapes '-' in names: "max\-frame". */
		{
			char esc[80];
			size_t i, j = 0;

			for (i = 0; key[i] != '\0' && j + 3 < sizeof(esc); i++) {
				if (key[i] == '-')
					esc[j++] = '\\';
				esc[j++] = key[i];
			}
			esc[j] = '\0';
			snprintf(manned, sizeof(manned), ".BI %s ", esc);
			if (strstr(mantext, manned) == NULL)
				fail_msg("glomaild.conf(5) does not describe %s",
				    key);
			snprintf(manned, sizeof(manned), "\\-\\-%s", esc);
			if (strstr(text8, manned) == NULL)
				fail_msg("glomaild(8) does not list --%s", key);
		}
		checked++;
	}
	assert_true(checked >= 10);
	free(text);
	free(mantext);
	free(text8);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_set_keys),
		cmocka_unit_test(test_listen),
		cmocka_unit_test_setup_teardown(test_load, setup, teardown),
		cmocka_unit_test_setup_teardown(test_load_errors, setup,
		    teardown),
		cmocka_unit_test(test_reload),
		cmocka_unit_test_setup_teardown(test_check_config, setup,
		    teardown),
		cmocka_unit_test_setup_teardown(test_shipped_config, setup,
		    teardown),
	};

	/* config_reload reports to the log; keep the test output quiet. */
	log_init("test_config", LOG_LEVEL_ERROR);
	return cmocka_run_group_tests(tests, NULL, NULL);
}
