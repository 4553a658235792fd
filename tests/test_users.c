/*
 * test_users.c - accounts on disk: Argon2id only, atomic creation, checks.
 */
#include <sys/stat.h>

#include <errno.h>
#include <fcntl.h>

#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <cmocka.h>
#include <sodium.h>

#include "testsrv.h"
#include "users.h"

static void
test_accounts(void **state)
{
	char dir[256], path[512], hash[256];
	const char *step = NULL;
	struct stat st;
	int fd;
	FILE *f;

	(void)state;
	assert_int_equal(testsrv_scratch(dir, sizeof(dir), "users"), 0);
	assert_true((fd = open(dir, O_RDONLY | O_DIRECTORY)) >= 0);
	assert_int_equal(users_exists(fd, "ann"), 0);
	assert_int_equal(users_create(fd, "ann", "Interop0Passw", &step),
	    USERS_OK);
	assert_int_equal(users_exists(fd, "ann"), 1);
	/* A Maildir with the account, and no staging left behind. */
	snprintf(path, sizeof(path), "%s/ann/new", dir);
	assert_int_equal(stat(path, &st), 0);
	snprintf(path, sizeof(path), "%s/ann/pass", dir);
	assert_int_equal(stat(path, &st), 0);
	assert_int_equal(st.st_mode & 0777, 0600);
	f = fopen(path, "r");
	assert_non_null(f);
	assert_non_null(fgets(hash, sizeof(hash), f));
	fclose(f);
	assert_memory_equal(hash, "$argon2id$", 10);
	assert_int_equal(users_create(fd, "ann", "Other0Password", &step),
	    USERS_TAKEN);
	assert_int_equal(users_verify(fd, "ann", "Interop0Passw"), USERS_OK);
	assert_int_equal(users_verify(fd, "ann", "interop0Passw"),
	    USERS_DENIED);
	assert_int_equal(users_verify(fd, "nobody", "Interop0Passw"),
	    USERS_DENIED);
	close(fd);
	testsrv_remove_tree(dir);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_accounts),
	};

	if (sodium_init() == -1 || users_init() == -1)
		return 1;
	return cmocka_run_group_tests(tests, NULL, NULL);
}
