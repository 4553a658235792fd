/*
 * testfs.c - directory counts and scratch-directory fixtures for the tests
 * (see testfs.h).
 */
#include <dirent.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "testfs.h"
#include "testsrv.h"

#define TESTFS_SCRATCH_LEN 256

static int
count_in(const char *prefix, const char *fmt, va_list ap)
{
	char path[4096];
	struct dirent *de;
	DIR *d;
	int n = 0, len;

	len = vsnprintf(path, sizeof(path), fmt, ap);
	if (len < 0 || (size_t)len >= sizeof(path))
		return -1;
	if ((d = opendir(path)) == NULL)
		return -1;
	while ((de = readdir(d)) != NULL) {
		if (strcmp(de->d_name, ".") == 0 || strcmp(de->d_name, "..") == 0)
			continue;
		if (prefix == NULL ||
		    strncmp(de->d_name, prefix, strlen(prefix)) == 0)
			n++;
	}
	closedir(d);
	return n;
}

int
testfs_count(const char *fmt, ...)
{
	va_list ap;
	int n;

	va_start(ap, fmt);
	n = count_in(NULL, fmt, ap);
	va_end(ap);
	return n;
}

int
testfs_count_prefix(const char *prefix, const char *fmt, ...)
{
	va_list ap;
	int n;

	va_start(ap, fmt);
	n = count_in(prefix, fmt, ap);
	va_end(ap);
	return n;
}

int
testfs_scratch_setup(void **state)
{
	char *dir = malloc(TESTFS_SCRATCH_LEN);

	if (dir == NULL ||
	    testsrv_scratch(dir, TESTFS_SCRATCH_LEN, "test") == -1) {
		free(dir);
		return -1;
	}
	*state = dir;
	return 0;
}

int
testfs_scratch_teardown(void **state)
{
	char *dir = *state;

	if (dir != NULL && getenv("GLOMAIL_KEEP_TEST_DIR") == NULL)
		testsrv_remove_tree(dir);
	free(dir);
	*state = NULL;
	return 0;
}
