/*
 * test_access.c - the plaintext-auth and registration policies, for every
 * value and for loopback and non-loopback peers of both families (the same
 * functions the handlers call with the connection's address).
 */
#include <sys/socket.h>
#include <sys/un.h>

#include <arpa/inet.h>
#include <netinet/in.h>

#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <string.h>

#include <cmocka.h>

#include "access.h"
#include "config.h"

static struct sockaddr_storage ss;

static const struct sockaddr *
addr(const char *text)
{
	struct sockaddr_in *s4 = (struct sockaddr_in *)(void *)&ss;
	struct sockaddr_in6 *s6 = (struct sockaddr_in6 *)(void *)&ss;

	memset(&ss, 0, sizeof(ss));
	if (inet_pton(AF_INET, text, &s4->sin_addr) == 1)
		s4->sin_family = AF_INET;
	else if (inet_pton(AF_INET6, text, &s6->sin6_addr) == 1)
		s6->sin6_family = AF_INET6;
	else
		fail_msg("bad address %s", text);
	return (const struct sockaddr *)&ss;
}

static void
test_loopback(void **state)
{
	struct sockaddr_un un = { .sun_family = AF_UNIX };

	(void)state;
	assert_true(access_is_loopback(addr("127.0.0.1")));
	assert_true(access_is_loopback(addr("127.255.0.9")));
	assert_true(access_is_loopback(addr("::1")));
	assert_true(access_is_loopback(addr("::ffff:127.0.0.1")));
	assert_true(access_is_loopback((const struct sockaddr *)&un));
	assert_false(access_is_loopback(addr("10.0.0.1")));
	assert_false(access_is_loopback(addr("128.0.0.1")));
	assert_false(access_is_loopback(addr("192.0.2.7")));
	assert_false(access_is_loopback(addr("::2")));
	assert_false(access_is_loopback(addr("::ffff:10.0.0.1")));
	assert_false(access_is_loopback(addr("2001:db8::1")));
	assert_false(access_is_loopback(NULL));
}

static void
test_password(void **state)
{
	struct config cfg;
	const char *why = NULL;

	(void)state;
	config_init(&cfg);
	/* loopback (the default): plaintext from this host, TLS anywhere. */
	assert_int_equal(access_password(&cfg, 0, addr("127.0.0.1"), &why), 0);
	assert_int_equal(access_password(&cfg, 0, addr("::1"), &why), 0);
	assert_int_equal(access_password(&cfg, 0, addr("192.0.2.7"), &why), -1);
	assert_non_null(strstr(why, "use TLS"));
	assert_int_equal(access_password(&cfg, 1, addr("192.0.2.7"), &why), 0);
	cfg.plaintext_auth = CONFIG_PLAINTEXT_NEVER;
	why = NULL;
	assert_int_equal(access_password(&cfg, 0, addr("127.0.0.1"), &why), -1);
	assert_non_null(strstr(why, "use TLS"));
	assert_int_equal(access_password(&cfg, 1, addr("127.0.0.1"), &why), 0);
	cfg.plaintext_auth = CONFIG_PLAINTEXT_ALWAYS;
	assert_int_equal(access_password(&cfg, 0, addr("192.0.2.7"), &why), 0);
	assert_int_equal(access_password(&cfg, 0, addr("2001:db8::1"), &why),
	    0);
	config_clear(&cfg);
}

static void
test_register(void **state)
{
	struct config cfg;
	const char *why = NULL;

	(void)state;
	config_init(&cfg);
	assert_int_equal(access_register(&cfg, addr("192.0.2.7"), &why), 0);
	cfg.registration = CONFIG_REGISTRATION_LOOPBACK;
	assert_int_equal(access_register(&cfg, addr("127.0.0.1"), &why), 0);
	assert_int_equal(access_register(&cfg, addr("192.0.2.7"), &why), -1);
	assert_non_null(strstr(why, "only open from the server's host"));
	cfg.registration = CONFIG_REGISTRATION_CLOSED;
	why = NULL;
	assert_int_equal(access_register(&cfg, addr("127.0.0.1"), &why), -1);
	assert_non_null(strstr(why, "registration is closed"));
	config_clear(&cfg);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_loopback),
		cmocka_unit_test(test_password),
		cmocka_unit_test(test_register),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
