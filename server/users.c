/*
 * users.c - account creation and password checks (Argon2id via libsodium).
 */
#include <sys/stat.h>
#include <sys/syscall.h>

#include <errno.h>
#include <fcntl.h>
#include <ftw.h>
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

static int
write_file_durable(const char *path, const char *data, size_t len)
{
	int fd, saved;
	ssize_t n;

	if ((fd = open(path, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0600)) ==
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

static int
fsync_path(const char *path)
{
	int fd, rc;

	if ((fd = open(path, O_RDONLY | O_DIRECTORY | O_CLOEXEC)) == -1)
		return -1;
	rc = fsync(fd);
	close(fd);
	return rc;
}

static int
rm_entry(const char *path, const struct stat *st, int flag, struct FTW *ftw)
{
	(void)st;
	(void)flag;
	(void)ftw;
	return remove(path);
}

enum users_result
users_create(const char *data_dir, const char *user, const char *password,
    const char **step_r)
{
	char hash[crypto_pwhash_STRBYTES], stage[4096], path[4200], dst[4096];
	unsigned char rnd[8];
	char rhex[sizeof(rnd) * 2 + 1];
	int saved;

	snprintf(dst, sizeof(dst), "%s/%s", data_dir, user);
	if (access(dst, F_OK) == 0)
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
	snprintf(stage, sizeof(stage), "%s/%s%s", data_dir, STAGING_PREFIX,
	    rhex);
	if (maildir_create(stage) == -1) {
		*step_r = "create staging directory";
		goto fail;
	}
	snprintf(path, sizeof(path), "%s/pass", stage);
	if (fault_hit("account") ||
	    write_file_durable(path, hash, strlen(hash)) == -1 ||
	    fsync_path(stage) == -1) {
		*step_r = "write pass";
		goto fail;
	}
	if (syscall(SYS_renameat2, AT_FDCWD, stage, AT_FDCWD, dst,
	    RENAME_NOREPLACE) == -1) {
		saved = errno;
		users_remove_staging(stage);
		if (saved == EEXIST || saved == ENOTEMPTY)
			return USERS_TAKEN;
		errno = saved;
		*step_r = "rename into place";
		return USERS_FAILED;
	}
	if (fsync_path(data_dir) == -1) {
		*step_r = "fsync data directory";
		return USERS_FAILED;
	}
	sodium_memzero(hash, sizeof(hash));
	return USERS_OK;
fail:
	saved = errno;
	users_remove_staging(stage);
	errno = saved;
	return USERS_FAILED;
}

/*
 * A legacy digest (from an import) is checked, then replaced by an Argon2id
 * hash of the same password; a locked account is denied after the same
 * work as any other, so the reply does not say which.
 */
enum users_result
users_verify(const char *data_dir, const char *user, const char *password)
{
	char path[4096], hash[ACCOUNT_PASS_MAX + 2];
	const char *step;
	ssize_t n = -1;
	int fd, ok;

	snprintf(path, sizeof(path), "%s/%s/pass", data_dir, user);
	if ((fd = open(path, O_RDONLY | O_CLOEXEC | O_NOFOLLOW)) != -1) {
		n = read(fd, hash, sizeof(hash) - 1);
		close(fd);
	}
	if (n <= 0 || (size_t)n > ACCOUNT_PASS_MAX) {
		/* Unknown user (or unreadable hash): spend the same time. */
		int spent = crypto_pwhash_str_verify(users_dummy_hash,
		    password, strlen(password));

		(void)spent; /* a random password: it never matches */
		return USERS_DENIED;
	}
	hash[n] = '\0';
	hash[strcspn(hash, "\r\n")] = '\0';
	if (account_is_legacy(hash)) {
		ok = account_legacy_verify(hash, password) == 1;
		if (ok && !account_has(data_dir, user, ACCOUNT_LOCKED)) {
			if (account_pass_set(data_dir, user, password,
			    &step) == -1)
				log_warn("login user=%s: legacy hash kept: %s: "
				    "%s", user, step, strerror(errno));
			else
				log_info("login user=%s: legacy hash replaced "
				    "by Argon2id", user);
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
	if (account_has(data_dir, user, ACCOUNT_LOCKED))
		return USERS_DENIED;
	return USERS_OK;
}

int
users_exists(const char *data_dir, const char *user)
{
	char path[4096];
	struct stat st;

	snprintf(path, sizeof(path), "%s/%s/pass", data_dir, user);
	return stat(path, &st) == 0 && S_ISREG(st.st_mode);
}

int
users_is_staging(const char *name)
{
	return strncmp(name, STAGING_PREFIX, strlen(STAGING_PREFIX)) == 0;
}

void
users_remove_staging(const char *path)
{
	nftw(path, rm_entry, 8, FTW_DEPTH | FTW_PHYS);
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
users_create_pass(const char *data_dir, const char *user, const char *pass,
    const char *marker, const char *marker_text, const char **step_r)
{
	char stage[4096], path[4200], dst[4096], name[64];
	int saved;

	snprintf(dst, sizeof(dst), "%s/%s", data_dir, user);
	if (access(dst, F_OK) == 0)
		return USERS_TAKEN;
	users_staging_name(name, sizeof(name));
	snprintf(stage, sizeof(stage), "%s/%s", data_dir, name);
	if (maildir_create(stage) == -1) {
		*step_r = "create staging directory";
		goto fail;
	}
	snprintf(path, sizeof(path), "%s/pass", stage);
	if (write_file_durable(path, pass, strlen(pass)) == -1) {
		*step_r = "write pass";
		goto fail;
	}
	if (marker != NULL && (snprintf(path, sizeof(path), "%s/%s", stage,
	    marker) < 0 || write_file_durable(path, marker_text,
	    strlen(marker_text)) == -1)) {
		*step_r = "write marker";
		goto fail;
	}
	if (fsync_path(stage) == -1) {
		*step_r = "fsync staging directory";
		goto fail;
	}
	if (syscall(SYS_renameat2, AT_FDCWD, stage, AT_FDCWD, dst,
	    RENAME_NOREPLACE) == -1) {
		saved = errno;
		users_remove_staging(stage);
		if (saved == EEXIST || saved == ENOTEMPTY)
			return USERS_TAKEN;
		errno = saved;
		*step_r = "rename into place";
		return USERS_FAILED;
	}
	if (fsync_path(data_dir) == -1) {
		*step_r = "fsync data directory";
		return USERS_FAILED;
	}
	return USERS_OK;
fail:
	saved = errno;
	users_remove_staging(stage);
	errno = saved;
	return USERS_FAILED;
}
