/*
 * testassert.h - checks the cmocka tests share (include after cmocka.h).
 */
#ifndef GLOMAIL_TESTASSERT_H
#define GLOMAIL_TESTASSERT_H

#include <string.h>

/*
 * The len bytes at got are exactly the string want: the length first, so a
 * reply cut short (or with bytes to spare) fails instead of comparing only
 * the bytes both have.
 */
#define assert_bytes_equal(got, len, want)				\
	do {								\
		assert_int_equal((len), strlen(want));			\
		assert_memory_equal((got), (want), strlen(want));	\
	} while (0)

#endif
