/*
 * test_deliverylog.c - the delivery summary: nothing is logged before an
 * interval has passed, then one info line with the interval's counts, and
 * nothing at warn level.
 */
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

#include "deliverylog.h"
#include "log.h"

/* What the notes wrote to standard error (a scratch file behind it). */
static char *
captured(FILE *f)
{
	static char buf[4096];
	size_t n;

	fflush(stderr);
	rewind(f);
	n = fread(buf, 1, sizeof(buf) - 1, f);
	buf[n] = '\0';
	return buf;
}

static void
test_summary(void **state)
{
	FILE *f = tmpfile();
	int saved = dup(STDERR_FILENO);
	char *out;

	(void)state;
	assert_non_null(f);
	assert_true(saved >= 0);
	assert_int_equal(dup2(fileno(f), STDERR_FILENO), STDERR_FILENO);
	log_init("test", LOG_LEVEL_INFO);
	deliverylog_note(DELIVERYLOG_DELIVERED, 100, 1000);
	deliverylog_note(DELIVERYLOG_LOST, 50, 1030);
	deliverylog_note(DELIVERYLOG_FAILED, 70, 1059);
	out = captured(f);
	assert_string_equal(out, "");
	/* The delivery that closes the minute writes the summary. */
	deliverylog_note(DELIVERYLOG_DELIVERED, 10, 1060);
	out = captured(f);
	assert_non_null(
	    strstr(out, " info: deliveries: 4 in 60 s, "
	                "delivered=2 undeliverable=1 failed=1 bytes=160 "));
	assert_int_equal(strchr(out, '\n') - out + 1, (long)strlen(out));
	/* A new interval starts there. */
	deliverylog_note(DELIVERYLOG_DELIVERED, 1, 1100);
	assert_int_equal(strlen(captured(f)), strlen(out));
	deliverylog_note(DELIVERYLOG_DELIVERED, 1, 1120);
	assert_non_null(strstr(captured(f),
	    "deliveries: 2 in 60 s, "
	    "delivered=2 undeliverable=0 failed=0 bytes=2 "));
	/* At warn level, no summary. */
	log_set_level(LOG_LEVEL_WARN);
	deliverylog_note(DELIVERYLOG_DELIVERED, 1, 1200);
	deliverylog_note(DELIVERYLOG_DELIVERED, 1, 1300);
	assert_null(strstr(captured(f), "deliveries: 2 in 100 s"));
	dup2(saved, STDERR_FILENO);
	close(saved);
	fclose(f);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_summary),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
