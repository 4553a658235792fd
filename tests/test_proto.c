/*
 * test_proto.c - the message table: numbers fixed by the seed, policy rows.
 */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>

#include <cmocka.h>

#include "proto.h"

static void
test_numbers(void **state)
{
	(void)state;
	/* The seed's numbering: never renumber. */
	assert_int_equal(PROTO_OK, 1);
	assert_int_equal(PROTO_ERROR, 2);
	assert_int_equal(PROTO_BYE, 3);
	assert_int_equal(PROTO_AUTH_REGISTER, 4);
	assert_int_equal(PROTO_AUTH_LOGIN, 5);
	assert_int_equal(PROTO_AUTH_LOGOUT, 6);
	assert_int_equal(PROTO_INBOX_READING_REQUEST, 7);
	assert_int_equal(PROTO_INBOX_READING_CHOICE, 8);
	assert_int_equal(PROTO_EMAIL_SENDING, 9);
	assert_int_equal(PROTO_STATS_REQUEST, 10);
	/* The first extension. */
	assert_int_equal(PROTO_CAPABILITIES, 11);
}

static void
test_lookup(void **state)
{
	const struct proto_msginfo *info;

	(void)state;
	assert_null(proto_lookup(0));
	assert_null(proto_lookup(1000));
	assert_null(proto_lookup(-1));
	assert_null(proto_lookup(1LL << 40 | 4));
	assert_string_equal(proto_name(42), "UNKNOWN");
	info = proto_lookup(9);
	assert_non_null(info);
	assert_string_equal(info->name, "EMAIL_SENDING");
	assert_int_equal(info->gate, PROTO_GATE_AUTH);
	assert_int_equal(info->shape, PROTO_SHAPE_EMAIL);
	assert_int_equal(proto_lookup(6)->gate, PROTO_GATE_AUTH_QUIET);
	assert_int_equal(proto_lookup(4)->gate, PROTO_GATE_ANON);
	assert_int_equal(proto_lookup(1)->dir, PROTO_DIR_S2C);
	assert_int_equal(proto_lookup(3)->dir, PROTO_DIR_C2S);
	assert_int_equal(proto_lookup(11)->gate, PROTO_GATE_ANY);
	assert_int_equal(proto_lookup(11)->shape, PROTO_SHAPE_EMPTY);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_numbers),
		cmocka_unit_test(test_lookup),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
