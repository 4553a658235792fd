/*
 * test_config.c - glomaild's settings: the key table through config_set,
 * the file reader's messages (FILE:LINE), what a reload may change, and
 * --check-config run on the real binary, including on the shipped default
 * configuration, which must also document every key the binary knows.
 */
#include <sys/stat.h>
#include <sys/wait.h>

#include <errno.h>
#include <signal.h>
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
	assert_int_equal(cfg.listen.n, 1);
	assert_string_equal(cfg.listen.addr[0], "127.0.0.1:9672");
	/* The first address replaces the default, the next ones add. */
	assert_int_equal(config_set(&cfg, "listen", "[::1]:0", &why), 0);
	assert_int_equal(config_set(&cfg, "listen", "localhost:65535", &why),
	    0);
	assert_int_equal(cfg.listen.n, 2);
	assert_string_equal(cfg.listen.addr[0], "[::1]:0");
	for (i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		why = NULL;
		if (config_set(&cfg, "listen", bad[i], &why) != -1)
			fail_msg("listen '%s' was accepted", bad[i]);
		assert_non_null(why);
	}
	assert_int_equal(cfg.listen.n, 2);
	for (i = 2; i < CONFIG_LISTEN_MAX; i++)
		assert_int_equal(config_set(&cfg, "listen", "127.0.0.1:1",
		    &why), 0);
	assert_int_equal(config_set(&cfg, "listen", "127.0.0.1:1", &why), -1);
	assert_string_equal(why, "too many listen addresses (at most 8)");
	config_clear(&cfg);
}

/* TLS listeners, certificate paths and the policy choices. */
static void
test_tls_settings(void **state)
{
	struct config cfg, fresh;
	const char *why;

	(void)state;
	config_init(&cfg);
	assert_int_equal(cfg.tls_listen.n, 0);
	assert_null(cfg.tls_cert);
	assert_int_equal(cfg.tls_profile, 0);
	assert_int_equal(cfg.plaintext_auth, CONFIG_PLAINTEXT_LOOPBACK);
	assert_int_equal(cfg.registration, CONFIG_REGISTRATION_OPEN);
	assert_int_equal(config_set(&cfg, "tls-listen", "127.0.0.1:9674",
	    &why), 0);
	assert_int_equal(config_set(&cfg, "tls_listen", "[::1]:9674", &why),
	    0);
	assert_int_equal(cfg.tls_listen.n, 2);
	assert_string_equal(cfg.tls_listen.addr[1], "[::1]:9674");
	/* The plaintext listener keeps its default. */
	assert_int_equal(cfg.listen.n, 1);
	assert_int_equal(config_set(&cfg, "tls-listen", "9674", &why), -1);
	assert_string_equal(why, "tls-listen wants HOST:PORT or [IPV6]:PORT");
	assert_int_equal(config_set(&cfg, "tls-cert", "/etc/c.pem", &why), 0);
	assert_string_equal(cfg.tls_cert, "/etc/c.pem");
	assert_int_equal(config_set(&cfg, "tls-cert", "", &why), 0);
	assert_null(cfg.tls_cert);
	assert_int_equal(config_set(&cfg, "tls-profile", "modern", &why), 0);
	assert_int_equal(cfg.tls_profile, 1);
	assert_int_equal(config_set(&cfg, "tls-profile", "old", &why), -1);
	assert_string_equal(why, "tls-profile must be intermediate or modern");
	assert_int_equal(config_set(&cfg, "plaintext-auth", "never", &why), 0);
	assert_int_equal(cfg.plaintext_auth, CONFIG_PLAINTEXT_NEVER);
	assert_int_equal(config_set(&cfg, "plaintext-auth", "sometimes", &why),
	    -1);
	assert_string_equal(why,
	    "plaintext-auth must be loopback, always or never");
	assert_int_equal(config_set(&cfg, "registration", "closed", &why), 0);
	assert_int_equal(cfg.registration, CONFIG_REGISTRATION_CLOSED);
	assert_int_equal(config_set(&cfg, "registration", "Open", &why), -1);
	assert_string_equal(why, "registration must be open, loopback or closed");

	/* SIGHUP takes the policies and the certificate paths. */
	config_init(&fresh);
	assert_int_equal(config_set(&fresh, "registration", "loopback", &why),
	    0);
	assert_int_equal(config_set(&fresh, "tls-key", "/etc/k.pem", &why), 0);
	assert_int_equal(config_set(&fresh, "tls-listen", "127.0.0.1:1", &why),
	    0);
	config_reload(&cfg, &fresh);
	assert_int_equal(cfg.registration, CONFIG_REGISTRATION_LOOPBACK);
	assert_int_equal(cfg.plaintext_auth, CONFIG_PLAINTEXT_LOOPBACK);
	assert_string_equal(cfg.tls_key, "/etc/k.pem");
	/* Listeners need a restart. */
	assert_int_equal(cfg.tls_listen.n, 2);
	config_clear(&fresh);
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
	assert_int_equal(cfg.listen.n, 2);
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
	    "3: max-frame: max-frame must be between 64 and 4294967295 bytes");
	expect_load_error("max-connections = 0\n", "1: max-connections: "
	    "max-connections must be between 1 and 1000000");
	expect_load_error("domain = localhost\n", "1: domain: domain must be "
	    "a domain name such as example.org");
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
	assert_int_equal(config_set(&fresh, "max-memory", "96M", &why), 0);
	assert_int_equal(config_set(&fresh, "login-penalty", "5", &why), 0);

	/* Limits and the level change; the rest is only reported. */
	assert_int_equal(config_reload(&live, &fresh), 5);
	assert_int_equal(live.max_memory, (size_t)96 << 20);
	assert_int_equal(live.login_penalty, 2000);
	assert_int_equal(live.max_frame, 4096);
	assert_int_equal(live.max_connections, 7);
	assert_int_equal(live.timeout_idle, 9);
	assert_int_equal(live.log_level, LOG_LEVEL_ERROR);
	assert_string_equal(live.data_dir, "./glo_server_data");
	assert_string_equal(live.listen.addr[0], "127.0.0.1:9672");
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
	snprintf(want, sizeof(want), "%s:3: timeout-idle: timeout-idle must "
	    "be between 1 and 86400 seconds", bad);
	if (strstr(out, want) == NULL)
		fail_msg("expected '%s' in '%s'", want, out);

	/* A good file, a bad command-line value: named as an option. */
	assert_int_equal(run_glomaild(out, sizeof(out), (const char *[]){
	    "--config", good, "--max-connections", "0", "--check-config",
	    NULL }), 1);
	assert_non_null(strstr(out, "--max-connections 0: max-connections "
	    "must be between 1 and 1000000"));
	assert_int_equal(run_glomaild(out, sizeof(out), (const char *[]){
	    "--max-frame", "63", "--check-config", NULL }), 1);
	assert_non_null(strstr(out, "--max-frame 63: max-frame must be "
	    "between 64 and 4294967295 bytes"));

	/* An invalid domain is refused, a valid one in capitals taken. */
	assert_int_equal(run_glomaild(out, sizeof(out), (const char *[]){
	    "--domain", "mail_host.example", "--check-config", NULL }), 1);
	assert_non_null(strstr(out, "--domain mail_host.example: domain must "
	    "be a domain name such as example.org"));
	assert_int_equal(run_glomaild(out, sizeof(out), (const char *[]){
	    "--domain", "Mail.Example.ORG", "--check-config", NULL }), 0);
	assert_non_null(strstr(out, "configuration OK"));

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

/* The defaults come from the table and are those glomaild always had. */
static void
test_defaults(void **state)
{
	unsigned long long phys;
	struct config cfg;

	(void)state;
	config_init(&cfg);
	assert_int_equal(cfg.listen.n, 1);
	assert_int_equal(cfg.listen.is_default, 1);
	assert_string_equal(cfg.listen.addr[0], "127.0.0.1:9672");
	assert_string_equal(cfg.data_dir, "./glo_server_data");
	assert_string_equal(cfg.domain, "glo2000.ca");
	assert_int_equal(cfg.max_frame, 1048576);
	assert_int_equal(cfg.max_output, 4194304);
	assert_int_equal(cfg.max_connections, 16384);
	assert_int_equal(cfg.timeout_login, 60);
	assert_int_equal(cfg.timeout_idle, 900);
	assert_int_equal(cfg.login_penalty, 2000);
	assert_int_equal(cfg.login_penalty_max, 15000);
	assert_int_equal(cfg.auth_workers, 2);
	assert_int_equal(cfg.store_workers, 8);
	assert_int_equal(cfg.log_level, LOG_LEVEL_INFO);
	/* A quarter of the physical memory, at least 64 MiB. */
	phys = (unsigned long long)sysconf(_SC_PHYS_PAGES) *
	    (unsigned long long)sysconf(_SC_PAGESIZE);
	assert_true(cfg.max_memory >= (size_t)64 << 20);
	assert_true(cfg.max_memory == phys / 4 ||
	    (phys / 4 < ((unsigned long long)64 << 20) &&
	    cfg.max_memory == (size_t)64 << 20));
	config_clear(&cfg);
}

/* Every numeric setting takes its bounds and names them when refused. */
static void
test_ranges(void **state)
{
	unsigned long long lo, hi;
	char value[32], want[160];
	const char *name, *why;
	struct config cfg;
	size_t i, numeric = 0;

	(void)state;
	config_init(&cfg);
	for (i = 0; (name = config_key_name(i)) != NULL; i++) {
		if (config_key_range(i, &lo, &hi) == -1)
			continue;
		numeric++;
		snprintf(want, sizeof(want), "%s must be between %llu and %llu",
		    name, lo, hi);
		snprintf(value, sizeof(value), "%llu", lo);
		if (config_set(&cfg, name, value, &why) != 0)
			fail_msg("%s refused its minimum %s: %s", name, value,
			    why);
		snprintf(value, sizeof(value), "%llu", hi);
		if (config_set(&cfg, name, value, &why) != 0)
			fail_msg("%s refused its maximum %s: %s", name, value,
			    why);
		snprintf(value, sizeof(value), "%llu", hi + 1);
		assert_int_equal(config_set(&cfg, name, value, &why), -1);
		if (strncmp(why, want, strlen(want)) != 0)
			fail_msg("%s=%s: '%s', not '%s'", name, value, why, want);
		if (lo > 0) {
			snprintf(value, sizeof(value), "%llu", lo - 1);
			assert_int_equal(config_set(&cfg, name, value, &why),
			    -1);
			assert_int_equal(strncmp(why, want, strlen(want)), 0);
		}
		assert_int_equal(config_set(&cfg, name, "many", &why), -1);
		assert_int_equal(strncmp(why, want, strlen(want)), 0);
	}
	assert_true(numeric >= 10);
	assert_int_equal(config_set(&cfg, "max-frame", "63", &why), -1);
	assert_string_equal(why,
	    "max-frame must be between 64 and 4294967295 bytes");
	assert_int_equal(config_set(&cfg, "auth-workers", "65", &why), -1);
	assert_string_equal(why, "auth-workers must be between 1 and 64");
	assert_int_equal(config_set(&cfg, "login-penalty", "60001", &why), -1);
	assert_string_equal(why,
	    "login-penalty must be between 0 and 60000 milliseconds");
	/* Sizes past 2^64 do not wrap into range. */
	assert_int_equal(config_set(&cfg, "max-output",
	    "18446744073709551616", &why), -1);
	assert_int_equal(config_set(&cfg, "max-output", "17179869184G", &why),
	    -1);
	config_clear(&cfg);
}

/* Durations: a plain number is in the key's unit; ms, s, m, h convert. */
static void
test_durations(void **state)
{
	struct config cfg;
	const char *why;

	(void)state;
	config_init(&cfg);
	assert_int_equal(config_set(&cfg, "timeout-idle", "2m", &why), 0);
	assert_int_equal(cfg.timeout_idle, 120);
	assert_int_equal(config_set(&cfg, "timeout-login", "45s", &why), 0);
	assert_int_equal(cfg.timeout_login, 45);
	assert_int_equal(config_set(&cfg, "timeout-login", "3000ms", &why), 0);
	assert_int_equal(cfg.timeout_login, 3);
	assert_int_equal(config_set(&cfg, "timeout-idle", "1h", &why), 0);
	assert_int_equal(cfg.timeout_idle, 3600);
	assert_int_equal(config_set(&cfg, "login-penalty", "2s", &why), 0);
	assert_int_equal(cfg.login_penalty, 2000);
	assert_int_equal(config_set(&cfg, "login-penalty-max", "1m", &why), 0);
	assert_int_equal(cfg.login_penalty_max, 60000);
	assert_int_equal(config_set(&cfg, "login-penalty", "250ms", &why), 0);
	assert_int_equal(cfg.login_penalty, 250);
	/* Not whole seconds, unknown units, past the range. */
	assert_int_equal(config_set(&cfg, "timeout-login", "1500ms", &why), -1);
	assert_int_equal(config_set(&cfg, "timeout-login", "5d", &why), -1);
	assert_int_equal(config_set(&cfg, "timeout-login", "5 s", &why), -1);
	assert_int_equal(config_set(&cfg, "timeout-idle", "25h", &why), -1);
	assert_string_equal(why,
	    "timeout-idle must be between 1 and 86400 seconds");
	assert_int_equal(cfg.timeout_idle, 3600);
	config_clear(&cfg);
}

static void
test_domain(void **state)
{
	static const char *const good[] = {
		"glo2000.ca", "example.org", "a.b", "mail-1.example.org",
		"xn--bcher-kva.example", "1st.example", "a.b2",
	};
	static const char *const bad[] = {
		"localhost", "-a.org", "a-.org", "a.-org", "a..org", ".org",
		"org.", "example.org.", "a_b.org", "1.2.3.4", "10.0.0.1",
		"exa mple.org", "caf\xc3\xa9.fr", "a.b/c", "a@b.org", ".",
		"..", "a.123",
	};
	char name[300], label[64];
	struct config cfg;
	const char *why;
	size_t i;

	(void)state;
	config_init(&cfg);
	for (i = 0; i < sizeof(good) / sizeof(good[0]); i++) {
		if (config_set(&cfg, "domain", good[i], &why) != 0)
			fail_msg("domain '%s' was refused: %s", good[i], why);
		assert_string_equal(cfg.domain, good[i]);
	}
	for (i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		why = NULL;
		if (config_set(&cfg, "domain", bad[i], &why) != -1)
			fail_msg("domain '%s' was accepted", bad[i]);
		assert_string_equal(why,
		    "domain must be a domain name such as example.org");
	}
	assert_string_equal(cfg.domain, "a.b2");
	/* Capitals are taken in lower case. */
	assert_int_equal(config_set(&cfg, "domain", "Mail.Example.ORG", &why),
	    0);
	assert_string_equal(cfg.domain, "mail.example.org");
	/* Labels of 63 characters at most; 253 characters in all. */
	memset(label, 'a', 63);
	label[63] = '\0';
	snprintf(name, sizeof(name), "%s.org", label);
	assert_int_equal(config_set(&cfg, "domain", name, &why), 0);
	snprintf(name, sizeof(name), "%sa.org", label);
	assert_int_equal(config_set(&cfg, "domain", name, &why), -1);
	/* 63 + 1 + 63 + 1 + 63 + 1 + 61 = 253 */
	snprintf(name, sizeof(name), "%s.%s.%s.%.61s", label, label, label,
	    label);
	assert_int_equal(strlen(name), 253);
	assert_int_equal(config_set(&cfg, "domain", name, &why), 0);
	snprintf(name, sizeof(name), "%s.%s.%s.%.62s", label, label, label,
	    label);
	assert_int_equal(config_set(&cfg, "domain", name, &why), -1);
	assert_int_equal(config_set(&cfg, "domain", "", &why), -1);
	assert_string_equal(why, "empty value");
	config_clear(&cfg);
}

/* Add the key named in text[start..end) to the list; 1 if new. */
static void
keys_add(char keys[][64], size_t *n, const char *start, size_t len)
{
	char key[64];
	size_t i, j = 0;

	/* roff writes '-' as "\-". */
	for (i = 0; i < len && j + 1 < sizeof(key); i++)
		if (start[i] != '\\')
			key[j++] = start[i];
	key[j] = '\0';
	for (i = 0; i < *n; i++)
		if (strcmp(keys[i], key) == 0)
			return;
	assert_true(*n < 64);
	snprintf(keys[(*n)++], 64, "%s", key);
}

/* The keys found must be exactly the table's. */
static void
keys_match(char keys[][64], size_t n, const char *where)
{
	size_t i, j;
	const char *name;

	for (i = 0; (name = config_key_name(i)) != NULL; i++) {
		for (j = 0; j < n && strcmp(keys[j], name) != 0; j++)
			;
		if (j == n)
			fail_msg("%s does not name %s", where, name);
	}
	for (j = 0; j < n; j++) {
		for (i = 0; (name = config_key_name(i)) != NULL &&
		    strcmp(keys[j], name) != 0; i++)
			;
		if (name == NULL)
			fail_msg("%s names %s, which is no setting", where,
			    keys[j]);
	}
}

/*
 * The keys of a sample configuration: each line "key = value" or
 * "#key = value" (a commented-out default).
 */
static size_t
conf_keys(const char *text, char keys[][64])
{
	const char *p = text, *k, *e;
	size_t n = 0;

	for (; *p != '\0'; p = *e == '\n' ? e + 1 : e) {
		e = p + strcspn(p, "\n");
		k = *p == '#' ? p + 1 : p;
		if (*k < 'a' || *k > 'z')
			continue;
		p = k + strspn(k, "abcdefghijklmnopqrstuvwxyz0123456789-_");
		if (strncmp(p, " = ", 3) == 0)
			keys_add(keys, &n, k, (size_t)(p - k));
	}
	return n;
}

/* The keys glomaild.conf(5) describes: ".BI key" in SETTINGS. */
static size_t
man_keys(const char *text, char keys[][64])
{
	const char *p = strstr(text, "\n.SH SETTINGS\n"), *end, *k;
	size_t n = 0;

	assert_non_null(p);
	end = strstr(p + 1, "\n.SH ");
	assert_non_null(end);
	while ((p = strstr(p, "\n.TP\n.BI ")) != NULL && p < end) {
		k = p + 9;
		keys_add(keys, &n, k, strcspn(k, " \n"));
		p = k;
	}
	return n;
}

/* The settings --help lists: "  --key ARG" lines but the command's own. */
static size_t
help_keys(const char *text, char keys[][64])
{
	const char *p = text, *k;
	size_t n = 0, len;

	for (; (p = strstr(p, "\n  --")) != NULL; p += 5) {
		k = p + 5;
		len = strcspn(k, " \n");
		if ((len == 6 && strncmp(k, "config", 6) == 0) ||
		    (len == 12 && strncmp(k, "check-config", 12) == 0) ||
		    (len == 12 && strncmp(k, "control-only", 12) == 0) ||
		    (len == 4 && strncmp(k, "help", 4) == 0) ||
		    (len == 7 && strncmp(k, "version", 7) == 0))
			continue;
		keys_add(keys, &n, k, len);
	}
	return n;
}

/*
 * The shipped configuration is valid, and it, glomaild.conf(5) and --help
 * name exactly the keys of the table, and glomaild(8) lists each as an
 * option: documentation cannot fall behind.
 */
static void
test_shipped_config(void **state)
{
	const char *conf = GLOMAIL_SOURCE_DIR "/dist/glomaild.conf";
	const char *man = GLOMAIL_SOURCE_DIR "/dist/man/glomaild.conf.5.in";
	const char *page8 = GLOMAIL_SOURCE_DIR "/dist/man/glomaild.8.in";
	char help[8192], out[4096], keys[64][64], esc[80], want[100];
	char *text, *mantext, *text8, *line;
	const char *name;
	size_t i, j, n;

	(void)state;
	assert_int_equal(run_glomaild(out, sizeof(out), (const char *[]){
	    "--config", conf, "--check-config", NULL }), 0);
	assert_int_equal(run_glomaild(help, sizeof(help), (const char *[]){
	    "--help", NULL }), 0);
	assert_true(strlen(help) < sizeof(help) - 1);
	text = read_all(conf);
	mantext = read_all(man);
	text8 = read_all(page8);

	n = conf_keys(text, keys);
	keys_match(keys, n, "dist/glomaild.conf");
	n = man_keys(mantext, keys);
	keys_match(keys, n, "glomaild.conf(5)");
	n = help_keys(help, keys);
	keys_match(keys, n, "glomaild --help");
	/* --help stays within 79 columns. */
	for (line = help; *line != '\0'; line += n + (line[n] == '\n')) {
		n = strcspn(line, "\n");
		if (n > 79)
			fail_msg("--help line too long: %.*s", (int)n, line);
	}
	for (i = 0; (name = config_key_name(i)) != NULL; i++) {
		for (j = 0, n = 0; name[j] != '\0' && n + 3 < sizeof(esc); j++) {
			if (name[j] == '-')
				esc[n++] = '\\';
			esc[n++] = name[j];
		}
		esc[n] = '\0';
		snprintf(want, sizeof(want), "\\-\\-%s", esc);
		if (strstr(text8, want) == NULL)
			fail_msg("glomaild(8) does not list --%s", name);
		/* What SIGHUP applies is in the man page's (reload) mark. */
		snprintf(want, sizeof(want), ".BI %s ", esc);
		line = strstr(mantext, want);
		assert_non_null(line);
		line = strchr(line, '\n') + 1;
		if ((strncmp(line, "(reload)", 8) == 0) !=
		    config_key_reloads(i))
			fail_msg("glomaild.conf(5) marks %s (reload) wrongly",
			    name);
	}
	assert_true(i >= 10);
	free(text);
	free(mantext);
	free(text8);
}

/* Wait up to ms for needle in the server's log. */
static int
wait_log(const struct testsrv *s, const char *needle, long ms)
{
	for (; ms > 0; ms -= 20) {
		if (testsrv_log_contains(s, needle))
			return 1;
		usleep(20 * 1000);
	}
	return testsrv_log_contains(s, needle);
}

/*
 * SIGHUP reads the file again and applies the command line over it once
 * more: a command-line setting keeps winning, a file-only change is taken.
 */
static void
test_reload_keeps_command_line(void **state)
{
	char conf[300];
	const char *extra[] = { "--config", conf, "--max-frame", "2K",
	    "--timeout-login=7", NULL };
	struct testsrv s;

	(void)state;
	write_file("live.conf", "max-frame = 64K\ntimeout-login = 30\n", conf,
	    sizeof(conf));
	assert_int_equal(testsrv_start(&s, extra), 0);
	write_file("live.conf", "max-frame = 128K\ntimeout-login = 40\n"
	    "timeout-idle = 33\n", conf, sizeof(conf));
	assert_int_equal(kill(s.pid, SIGHUP), 0);
	assert_true(wait_log(&s, "configuration reloaded", 10000));
	assert_true(testsrv_log_contains(&s, "reload: timeout-idle 900 -> 33"));
	assert_false(testsrv_log_contains(&s, "reload: max-frame"));
	assert_false(testsrv_log_contains(&s, "reload: timeout-login"));
	/* --listen and --data-dir came from the command line too. */
	assert_false(testsrv_log_contains(&s, "cannot change"));
	assert_int_equal(testsrv_kill(&s, SIGTERM), 0);
	testsrv_stop(&s);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_set_keys),
		cmocka_unit_test(test_listen),
		cmocka_unit_test(test_tls_settings),
		cmocka_unit_test_setup_teardown(test_load, setup, teardown),
		cmocka_unit_test_setup_teardown(test_load_errors, setup,
		    teardown),
		cmocka_unit_test(test_reload),
		cmocka_unit_test_setup_teardown(test_check_config, setup,
		    teardown),
		cmocka_unit_test(test_defaults),
		cmocka_unit_test(test_ranges),
		cmocka_unit_test(test_durations),
		cmocka_unit_test(test_domain),
		cmocka_unit_test_setup_teardown(test_shipped_config, setup,
		    teardown),
		cmocka_unit_test_setup_teardown(test_reload_keeps_command_line,
		    setup, teardown),
	};

	/* config_reload reports to the log; keep the test output quiet. */
	log_init("test_config", LOG_LEVEL_ERROR);
	return cmocka_run_group_tests(tests, NULL, NULL);
}
