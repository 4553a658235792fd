/*
 * test_users.c - accounts on disk: Argon2id only, atomic creation, checks,
 * and links in the data directory that are no accounts.
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

/*
 * Links in the data directory are no accounts: a linked account directory
 * or pass file neither logs in nor receives mail, and its name stays
 * taken; removing a half-built account removes links, not their targets.
 */
static void
test_links(void **state)
{
	char dir[256], path[512], target[512];
	const char *step = NULL;
	struct stat st;
	int fd;

	(void)state;
	assert_int_equal(testsrv_scratch(dir, sizeof(dir), "users"), 0);
	assert_true((fd = open(dir, O_RDONLY | O_DIRECTORY)) >= 0);
	assert_int_equal(users_create(fd, "ann", "Interop0Passw", &step),
	    USERS_OK);
	/* DATA/eve -> ann: ann's password does not open it. */
	snprintf(path, sizeof(path), "%s/eve", dir);
	assert_int_equal(symlink("ann", path), 0);
	assert_int_equal(users_exists(fd, "eve"), 0);
	assert_int_equal(users_verify(fd, "eve", "Interop0Passw"),
	    USERS_DENIED);
	assert_int_equal(users_create(fd, "eve", "Interop0Passw", &step),
	    USERS_TAKEN);
	assert_int_equal(lstat(path, &st), 0);
	assert_true(S_ISLNK(st.st_mode));
	/* DATA/bob/pass -> ann/pass: no account either. */
	snprintf(path, sizeof(path), "%s/bob", dir);
	assert_int_equal(mkdir(path, 0700), 0);
	snprintf(path, sizeof(path), "%s/bob/pass", dir);
	assert_int_equal(symlink("../ann/pass", path), 0);
	assert_int_equal(users_exists(fd, "bob"), 0);
	assert_int_equal(users_verify(fd, "bob", "Interop0Passw"),
	    USERS_DENIED);
	/* A staging tree holding a link to ann: the link goes, ann stays. */
	snprintf(path, sizeof(path), "%s/.new-0123456789abcdef", dir);
	assert_int_equal(mkdir(path, 0700), 0);
	snprintf(path, sizeof(path), "%s/.new-0123456789abcdef/tmp", dir);
	snprintf(target, sizeof(target), "%s/ann", dir);
	assert_int_equal(symlink(target, path), 0);
	assert_int_equal(users_remove_staging(fd, ".new-0123456789abcdef"), 0);
	snprintf(path, sizeof(path), "%s/.new-0123456789abcdef", dir);
	assert_int_equal(lstat(path, &st), -1);
	assert_int_equal(users_exists(fd, "ann"), 1);
	snprintf(path, sizeof(path), "%s/ann/new", dir);
	assert_int_equal(stat(path, &st), 0);
	/* Only staging names are removed this way. */
	assert_int_equal(users_remove_staging(fd, "ann"), -1);
	assert_int_equal(users_exists(fd, "ann"), 1);
	close(fd);
	testsrv_remove_tree(dir);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_accounts),
		cmocka_unit_test(test_links),
	};

	if (sodium_init() == -1 || users_init() == -1)
		return 1;
	return cmocka_run_group_tests(tests, NULL, NULL);
}
