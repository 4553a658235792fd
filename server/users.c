/*
 * users.c - account creation and password checks (Argon2id via libsodium).
 */
#include <sys/stat.h>
#include <sys/syscall.h>

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <sodium.h>

#include "account.h"
#include "fault.h"
#include "log.h"
#include "maildir.h"
#include "users.h"

#ifndef RENAME_NOREPLACE
#define RENAME_NOREPLACE (1 << 0)
#endif

/* Staging names start with '.', which no user name may. */
#define STAGING_PREFIX ".new-"

static char users_dummy_hash[crypto_pwhash_STRBYTES];

int
users_init(void)
{
	unsigned char pw[16];
	char hex[sizeof(pw) * 2 + 1];

	randombytes_buf(pw, sizeof(pw));
	sodium_bin2hex(hex, sizeof(hex), pw, sizeof(pw));
	return crypto_pwhash_str(users_dummy_hash, hex, strlen(hex),
	    crypto_pwhash_OPSLIMIT_INTERACTIVE,
	    crypto_pwhash_MEMLIMIT_INTERACTIVE);
}

/* Write a new file name in dirfd and make its content durable. */
static int
write_file_durable(int dirfd, const char *name, const char *data, size_t len)
{
	int fd, saved;
	ssize_t n;

	if ((fd = openat(dirfd, name,
	         O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, 0600)) ==
	    -1)
		return -1;
	while (len > 0) {
		if ((n = write(fd, data, len)) == -1) {
			if (errno == EINTR)
				continue;
			goto fail;
		}
		data += n;
		len -= (size_t)n;
	}
	if (fsync(fd) == -1)
		goto fail;
	return close(fd);
fail:
	saved = errno;
	close(fd);
	errno = saved;
	return -1;
}

/*
 * Open an account's directory. A symbolic link there was not made by the
 * store: it is logged and is no account.
 */
static int
account_open(int datafd, const char *user)
{
	int fd;

	if ((fd = maildir_open(datafd, user)) == -1 && errno == ELOOP)
		log_warn("user=%s: the account directory is a symbolic link: "
		         "not followed",
		    user);
	return fd;
}

/* A name for an entry of the data directory: one component, not hidden. */
static int
account_name_ok(const char *user)
{
	return user[0] != '\0' && user[0] != '.' && strchr(user, '/') == NULL;
}

/*
 * Remove name in parent, a directory's entries first. Links are removed,
 * never followed; depth bounds the descent (an account is two levels).
 */
static int
remove_tree(int parent, const char *name, int depth)
{
	struct dirent *de;
	struct stat st;
	DIR *d;
	int fd;

	if (fstatat(parent, name, &st, AT_SYMLINK_NOFOLLOW) == -1)
		return errno == ENOENT ? 0 : -1;
	if (!S_ISDIR(st.st_mode))
		return unlinkat(parent, name, 0);
	if (depth == 0) {
		errno = ENOTEMPTY;
		return -1;
	}
	if ((fd = maildir_open(parent, name)) == -1)
		return -1;
	if ((d = fdopendir(fd)) == NULL) {
		close(fd);
		return -1;
	}
	while ((de = readdir(d)) != NULL) {
		if (strcmp(de->d_name, ".") == 0 ||
		    strcmp(de->d_name, "..") == 0)
			continue;
		/* A failure shows as the rmdir below failing. */
		remove_tree(dirfd(d), de->d_name, depth - 1);
	}
	closedir(d);
	return unlinkat(parent, name, AT_REMOVEDIR);
}

/*
 * Rename a staged account into place unless the name is taken. NFS and
 * CephFS refuse RENAME_NOREPLACE (EINVAL); a plain rename is then as safe,
 * since onto an existing account, a directory that is never empty, it fails
 * too (ENOTEMPTY or EEXIST).
 */
static int
place_account(int datafd, const char *stage, const char *user)
{
	int rc;

	if (fault_hit("noreplace")) {
		errno = EINVAL;
		rc = -1;
	} else
		rc = (int)syscall(SYS_renameat2, datafd, stage, datafd, user,
		    RENAME_NOREPLACE);
	if (rc == -1 && errno == EINVAL)
		rc = renameat(datafd, stage, datafd, user);
	return rc;
}

enum users_result
users_create(int datafd, const char *user, const char *password,
    const char **step_r)
{
	char hash[crypto_pwhash_STRBYTES];
	char stage[sizeof(STAGING_PREFIX) + 16];
	unsigned char rnd[8];
	char rhex[sizeof(rnd) * 2 + 1];
	struct stat st;
	int sfd = -1, saved;

	if (!account_name_ok(user)) {
		*step_r = "name";
		errno = EINVAL;
		return USERS_FAILED;
	}
	/* Any entry of that name, a link included, holds the name. */
	if (fstatat(datafd, user, &st, AT_SYMLINK_NOFOLLOW) == 0)
		return USERS_TAKEN;
	if (crypto_pwhash_str(hash, password, strlen(password),
	        crypto_pwhash_OPSLIMIT_INTERACTIVE,
	        crypto_pwhash_MEMLIMIT_INTERACTIVE) != 0) {
		*step_r = "hash";
		errno = ENOMEM;
		return USERS_FAILED;
	}
	randombytes_buf(rnd, sizeof(rnd));
	sodium_bin2hex(rhex, sizeof(rhex), rnd, sizeof(rnd));
	snprintf(stage, sizeof(stage), "%s%s", STAGING_PREFIX, rhex);
	if (maildir_create(datafd, stage) == -1 ||
	    (sfd = maildir_open(datafd, stage)) == -1) {
		*step_r = "create staging directory";
		goto fail;
	}
	if (fault_hit("account") ||
	    write_file_durable(sfd, "pass", hash, strlen(hash)) == -1 ||
	    fsync(sfd) == -1) {
		*step_r = "write pass";
		goto fail;
	}
	close(sfd);
	sfd = -1;
	if (place_account(datafd, stage, user) == -1) {
		saved = errno;
		sodium_memzero(hash, sizeof(hash));
		users_remove_staging(datafd, stage);
		if (saved == EEXIST || saved == ENOTEMPTY)
			return USERS_TAKEN;
		errno = saved;
		*step_r = "rename into place";
		return USERS_FAILED;
	}
	sodium_memzero(hash, sizeof(hash));
	if (fsync(datafd) == -1) {
		*step_r = "fsync data directory";
		return USERS_FAILED;
	}
	return USERS_OK;
fail:
	saved = errno;
	sodium_memzero(hash, sizeof(hash));
	if (sfd != -1)
		close(sfd);
	users_remove_staging(datafd, stage);
	errno = saved;
	return USERS_FAILED;
}

/*
 * A legacy digest (from an import) is checked, then replaced by an Argon2id
 * hash of the same password; a locked account is denied after the same
 * work as any other, so the reply does not say which.
 */
enum users_result
users_verify(int datafd, const char *user, const char *password)
{
	char hash[ACCOUNT_PASS_MAX + 2];
	const char *step;
	struct stat st;
	ssize_t n = -1;
	int afd, fd = -1, ok;

	if (account_name_ok(user) && (afd = account_open(datafd, user)) != -1) {
		fd = openat(afd, "pass",
		    O_RDONLY | O_NOFOLLOW | O_NONBLOCK | O_NOCTTY | O_CLOEXEC);
		if (fd == -1 && errno == ELOOP)
			log_warn("user=%s: pass is a symbolic link: not "
			         "followed",
			    user);
		close(afd);
	}
	if (fd != -1) {
		if (fstat(fd, &st) == 0 && S_ISREG(st.st_mode))
			n = read(fd, hash, sizeof(hash) - 1);
		close(fd);
	}
	if (n <= 0 || (size_t)n > ACCOUNT_PASS_MAX) {
		/* Unknown user (or unreadable hash): spend the same time. */
		int spent = crypto_pwhash_str_verify(users_dummy_hash, password,
		    strlen(password));

		(void)spent; /* a random password: it never matches */
		return USERS_DENIED;
	}
	hash[n] = '\0';
	hash[strcspn(hash, "\r\n")] = '\0';
	if (account_is_legacy(hash)) {
		ok = account_legacy_verify(hash, password) == 1;
		if (ok && !account_has(datafd, user, ACCOUNT_LOCKED)) {
			if (account_pass_set(datafd, user, password, &step) ==
			    -1)
				log_warn("login user=%s: legacy hash kept: %s: "
				         "%s",
				    user, step, strerror(errno));
			else
				log_info("login user=%s: legacy hash replaced "
				         "by Argon2id",
				    user);
			(void)account_touch(datafd, user, ACCOUNT_LAST_LOGIN);
			return USERS_OK;
		}
		/* A failed legacy check costs what an Argon2id one does. */
		ok = crypto_pwhash_str_verify(users_dummy_hash, password,
		    strlen(password));
		(void)ok;
		return USERS_DENIED;
	}
	if (crypto_pwhash_str_verify(hash, password, strlen(password)) != 0)
		return USERS_DENIED;
	if (account_has(datafd, user, ACCOUNT_LOCKED))
		return USERS_DENIED;
	(void)account_touch(datafd, user, ACCOUNT_LAST_LOGIN);
	return USERS_OK;
}

int
users_exists(int datafd, const char *user)
{
	struct stat st;
	int afd, rc;

	if (!account_name_ok(user) || (afd = account_open(datafd, user)) == -1)
		return 0;
	rc = fstatat(afd, "pass", &st, AT_SYMLINK_NOFOLLOW);
	close(afd);
	if (rc == 0 && S_ISLNK(st.st_mode))
		log_warn("user=%s: pass is a symbolic link: not followed",
		    user);
	return rc == 0 && S_ISREG(st.st_mode);
}

int
users_is_staging(const char *name)
{
	return strncmp(name, STAGING_PREFIX, strlen(STAGING_PREFIX)) == 0;
}

int
users_remove_staging(int datafd, const char *name)
{
	if (!users_is_staging(name) || strchr(name, '/') != NULL) {
		errno = EINVAL;
		return -1;
	}
	return remove_tree(datafd, name, 4);
}

void
users_staging_name(char *buf, size_t len)
{
	unsigned char rnd[8];
	char rhex[sizeof(rnd) * 2 + 1];

	randombytes_buf(rnd, sizeof(rnd));
	sodium_bin2hex(rhex, sizeof(rhex), rnd, sizeof(rnd));
	snprintf(buf, len, "%s%s", STAGING_PREFIX, rhex);
}

enum users_result
users_create_pass(int datafd, const char *user, const char *pass,
    const char *marker, const char *marker_text, const char **step_r)
{
	char stage[sizeof(STAGING_PREFIX) + 16];
	struct stat st;
	int sfd = -1, saved;

	if (!account_name_ok(user)) {
		*step_r = "name";
		errno = EINVAL;
		return USERS_FAILED;
	}
	if (fstatat(datafd, user, &st, AT_SYMLINK_NOFOLLOW) == 0)
		return USERS_TAKEN;
	users_staging_name(stage, sizeof(stage));
	if (maildir_create(datafd, stage) == -1 ||
	    (sfd = maildir_open(datafd, stage)) == -1) {
		*step_r = "create staging directory";
		goto fail;
	}
	if (write_file_durable(sfd, "pass", pass, strlen(pass)) == -1) {
		*step_r = "write pass";
		goto fail;
	}
	if (marker != NULL && write_file_durable(sfd, marker, marker_text,
	                          strlen(marker_text)) == -1) {
		*step_r = "write marker";
		goto fail;
	}
	if (fsync(sfd) == -1) {
		*step_r = "fsync staging directory";
		goto fail;
	}
	close(sfd);
	sfd = -1;
	if (syscall(SYS_renameat2, datafd, stage, datafd, user,
	        RENAME_NOREPLACE) == -1) {
		saved = errno;
		users_remove_staging(datafd, stage);
		if (saved == EEXIST || saved == ENOTEMPTY)
			return USERS_TAKEN;
		errno = saved;
		*step_r = "rename into place";
		return USERS_FAILED;
	}
	if (fsync(datafd) == -1) {
		*step_r = "fsync data directory";
		return USERS_FAILED;
	}
	return USERS_OK;
fail:
	saved = errno;
	if (sfd != -1)
		close(sfd);
	users_remove_staging(datafd, stage);
	errno = saved;
	return USERS_FAILED;
}

int
users_replace_file(int dirfd, const char *name, const char *data, size_t len)
{
	unsigned char rnd[8];
	char rhex[sizeof(rnd) * 2 + 1], tmp[MAILDIR_NAME_MAX];
	int n, saved;

	randombytes_buf(rnd, sizeof(rnd));
	sodium_bin2hex(rhex, sizeof(rhex), rnd, sizeof(rnd));
	n = snprintf(tmp, sizeof(tmp), ".%s.%s", name, rhex);
	if (n < 0 || (size_t)n >= sizeof(tmp)) {
		errno = ENAMETOOLONG;
		return -1;
	}
	if (write_file_durable(dirfd, tmp, data, len) == -1)
		goto fail;
	/* A test's crash between the new file and the rename. */
	if (fault_hit("replace") || renameat(dirfd, tmp, dirfd, name) == -1)
		goto fail;
	return fsync(dirfd);
fail:
	saved = errno;
	unlinkat(dirfd, tmp, 0);
	errno = saved;
	return -1;
}

enum users_result
users_change_password(int datafd, const char *user, const char *current,
    const char *password, const char **step_r)
{
	char hash[crypto_pwhash_STRBYTES];
	enum users_result r;
	int afd, rc, saved;

	if ((r = users_verify(datafd, user, current)) != USERS_OK) {
		*step_r = "verify";
		return r;
	}
	if (crypto_pwhash_str(hash, password, strlen(password),
	        crypto_pwhash_OPSLIMIT_INTERACTIVE,
	        crypto_pwhash_MEMLIMIT_INTERACTIVE) != 0) {
		*step_r = "hash";
		errno = ENOMEM;
		return USERS_FAILED;
	}
	if ((afd = account_open(datafd, user)) == -1) {
		sodium_memzero(hash, sizeof(hash));
		*step_r = "open account";
		return USERS_FAILED;
	}
	rc = users_replace_file(afd, "pass", hash, strlen(hash));
	saved = errno;
	sodium_memzero(hash, sizeof(hash));
	close(afd);
	errno = saved;
	if (rc == -1) {
		*step_r = "replace pass";
		return USERS_FAILED;
	}
	return USERS_OK;
}
