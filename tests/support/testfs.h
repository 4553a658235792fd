/*
 * testfs.h - the file-system checks and scratch trees the tests share:
 * counting a directory's entries, a scratch directory per test as a cmocka
 * fixture. (testsrv.h has the scratch directory and tree removal these
 * build on.)
 */
#ifndef GLOMAIL_TESTFS_H
#define GLOMAIL_TESTFS_H

/*
 * Entries of the directory named printf-style, "." and ".." aside (hidden
 * names count: a stray ".tmp" file is an entry); -1 if it cannot be read.
 */
int testfs_count(const char *fmt, ...) __attribute__((format(printf, 1, 2)));

/* The same, counting only the names that start with prefix. */
int testfs_count_prefix(const char *prefix, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));

/*
 * cmocka set-up and tear-down: a fresh scratch directory for each test,
 * its path (a string) in *state; removed afterwards unless
 * GLOMAIL_KEEP_TEST_DIR is set.
 */
int testfs_scratch_setup(void **state);
int testfs_scratch_teardown(void **state);

#endif
