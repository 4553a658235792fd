/*
 * test_units.c - the client's human-readable sizes, in English and in
 * French ("2.1 MB" / "2.1 Mo"), rounding and unit boundaries.
 */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <limits.h>
#include <libintl.h>
#include <locale.h>
#include <stdio.h>
#include <string.h>

#include <cmocka.h>

#include "clientrun.h"
#include "units.h"

static void
check(long long bytes, const char *want)
{
	char buf[UNITS_LEN];

	units_format(bytes, buf);
	if (strcmp(buf, want) != 0)
		fprintf(stderr, "%lld: got \"%s\", want \"%s\"\n", bytes, buf,
		    want);
	assert_string_equal(buf, want);
}

static void
test_english(void **state)
{
	char buf[UNITS_LEN];

	(void)state;
	setlocale(LC_ALL, "C");
	check(0, "0 bytes");
	check(1, "1 byte");
	check(999, "999 bytes");
	check(1000, "1.0 kB");
	check(1049, "1.0 kB");
	check(1050, "1.1 kB");
	check(2145728, "2.1 MB");
	check(999949, "999.9 kB");
	check(999950, "1.0 MB");
	check(1000000000LL, "1.0 GB");
	check(LLONG_MAX, "9.2 EB");
	units_bytes(2145728, buf);
	assert_string_equal(buf, "2145728 bytes");
}

static void
test_french(void **state)
{
	const char *locpath;
	char why[256], buf[UNITS_LEN];

	(void)state;
	if (clientrun_french(&locpath, why, sizeof(why)) == -1) {
		fprintf(stderr, "skipping: %s\n", why);
		skip();
	}
	assert_non_null(setlocale(LC_ALL, "fr_CA.UTF-8"));
	bindtextdomain("glomail", GLOMAIL_TEST_LOCALEDIR);
	textdomain("glomail");
	check(2145728, "2.1 Mo");
	check(1500, "1.5 ko");
	check(1, "1 octet");
	check(0, "0 octet");
	check(512, "512 octets");
	units_bytes(2145728, buf);
	assert_string_equal(buf, "2145728 octets");
	setlocale(LC_ALL, "C");
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_english),
		cmocka_unit_test(test_french),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
