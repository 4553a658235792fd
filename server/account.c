/*
 * account.c - pass file schemes and replacement, account markers.
 *
 * Legacy digests are verified with OpenSSL's SHA3 (libsodium has none) and
 * compared with sodium_memcmp; the caller replaces them by an Argon2id hash
 * at the first successful login, as Dovecot and Django upgrade schemes.
 * Everything is opened relative to the data directory's descriptor, never
 * through a symbolic link.
 */
#include <sys/stat.h>

#include <ctype.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include <openssl/evp.h>
#include <sodium.h>

#include "account.h"
#include "maildir.h"

static const struct {
	const char *scheme;
	size_t hexlen;
	const EVP_MD *(*md)(void);
} legacy[] = {
	{ "{SHA3-512.HEX}", 128, EVP_sha3_512 },
	{ "{SHA3-224.HEX}", 56, EVP_sha3_224 },
};

int
account_is_legacy(const char *stored)
{
	return stored[0] == '{';
}

int
account_legacy_verify(const char *stored, const char *password)
{
	static const char digits[] = "0123456789abcdef";
	unsigned char md[EVP_MAX_MD_SIZE];
	char want[129], got[129];
	unsigned mdlen = 0, i;
	const char *hex;
	size_t k, n;
	int ok;

	for (k = 0; k < sizeof(legacy) / sizeof(legacy[0]); k++)
		if (strncmp(stored, legacy[k].scheme,
		    strlen(legacy[k].scheme)) == 0)
			break;
	if (k == sizeof(legacy) / sizeof(legacy[0]))
		return -1;
	hex = stored + strlen(legacy[k].scheme);
	if ((n = strlen(hex)) != legacy[k].hexlen)
		return -1;
	for (i = 0; i < n; i++) {
		if (!isxdigit((unsigned char)hex[i]))
			return -1;
		want[i] = (char)tolower((unsigned char)hex[i]);
	}
	if (EVP_Digest(password, strlen(password), md, &mdlen, legacy[k].md(),
	    NULL) != 1 || (size_t)mdlen * 2 != n)
		return -1;
	for (i = 0; i < mdlen; i++) {
		got[2 * i] = digits[md[i] >> 4];
		got[2 * i + 1] = digits[md[i] & 15];
	}
	ok = sodium_memcmp(want, got, n) == 0;
	sodium_memzero(md, sizeof(md));
	sodium_memzero(got, sizeof(got));
	return ok;
}

/* Create name in dirfd with content, durably (O_EXCL unless replacing). */
static int
write_durable(int dirfd, const char *name, const char *content, int excl)
{
	size_t len = strlen(content);
	ssize_t n;
	int fd, saved;

	fd = openat(dirfd, name, O_WRONLY | O_CREAT | O_CLOEXEC | O_NOFOLLOW |
	    (excl ? O_EXCL : O_TRUNC), 0600);
	if (fd == -1)
		return -1;
	while (len > 0) {
		if ((n = write(fd, content, len)) == -1) {
			if (errno == EINTR)
				continue;
			goto fail;
		}
		content += n;
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

int
account_pass_write(int datafd, const char *user, const char *content,
    const char **step_r)
{
	char tmp[32];
	unsigned char rnd[8];
	char rhex[sizeof(rnd) * 2 + 1];
	int afd, saved;

	if ((afd = maildir_open(datafd, user)) == -1) {
		*step_r = "open account";
		return -1;
	}
	randombytes_buf(rnd, sizeof(rnd));
	sodium_bin2hex(rhex, sizeof(rhex), rnd, sizeof(rnd));
	/* A dot name: a leftover after a crash is no message and no pass. */
	snprintf(tmp, sizeof(tmp), ".pass-%s", rhex);
	if (write_durable(afd, tmp, content, 1) == -1) {
		*step_r = "write new pass";
		goto fail;
	}
	if (renameat(afd, tmp, afd, ACCOUNT_PASS) == -1) {
		*step_r = "rename pass";
		goto fail;
	}
	if (fsync(afd) == -1) {
		*step_r = "fsync account directory";
		saved = errno;
		close(afd);
		errno = saved;
		return -1;
	}
	close(afd);
	return 0;
fail:
	saved = errno;
	unlinkat(afd, tmp, 0);
	close(afd);
	errno = saved;
	return -1;
}

int
account_pass_set(int datafd, const char *user, const char *password,
    const char **step_r)
{
	char hash[crypto_pwhash_STRBYTES];
	int rc;

	if (crypto_pwhash_str(hash, password, strlen(password),
	    crypto_pwhash_OPSLIMIT_INTERACTIVE,
	    crypto_pwhash_MEMLIMIT_INTERACTIVE) != 0) {
		errno = ENOMEM;
		*step_r = "hash";
		return -1;
	}
	rc = account_pass_write(datafd, user, hash, step_r);
	sodium_memzero(hash, sizeof(hash));
	return rc;
}

int
account_has(int datafd, const char *user, const char *marker)
{
	struct stat st;
	int afd, rc;

	if ((afd = maildir_open(datafd, user)) == -1)
		return 0;
	rc = fstatat(afd, marker, &st, AT_SYMLINK_NOFOLLOW) == 0 &&
	    S_ISREG(st.st_mode);
	close(afd);
	return rc;
}

int
account_mark(int datafd, const char *user, const char *marker,
    const char *content, int on)
{
	int afd, rc, saved;

	if ((afd = maildir_open(datafd, user)) == -1)
		return -1;
	if (on)
		rc = write_durable(afd, marker, content != NULL ? content : "",
		    0);
	else
		rc = unlinkat(afd, marker, 0) == -1 && errno != ENOENT ? -1 : 0;
	if (rc == 0)
		rc = fsync(afd);
	saved = errno;
	close(afd);
	errno = saved;
	return rc;
}

int
account_touch(int datafd, const char *user, const char *name)
{
	int afd, fd, rc = -1, saved;

	if ((afd = maildir_open(datafd, user)) == -1)
		return -1;
	/* Advisory: no fsync; a crash may only lose the latest time. */
	if ((fd = openat(afd, name, O_WRONLY | O_CREAT | O_NOFOLLOW |
	    O_NONBLOCK | O_CLOEXEC, 0600)) != -1) {
		rc = futimens(fd, NULL);
		close(fd);
	}
	saved = errno;
	close(afd);
	errno = saved;
	return rc;
}

time_t
account_time(int datafd, const char *user, const char *name)
{
	struct stat st;
	int afd, rc;

	if ((afd = maildir_open(datafd, user)) == -1)
		return (time_t)-1;
	rc = fstatat(afd, name, &st, AT_SYMLINK_NOFOLLOW);
	close(afd);
	return rc == 0 && S_ISREG(st.st_mode) ? st.st_mtime : (time_t)-1;
}
