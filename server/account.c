/*
 * account.c - pass file schemes and replacement, account markers.
 *
 * Legacy digests are verified with OpenSSL's SHA3 (libsodium has none) and
 * compared with sodium_memcmp; the caller replaces them by an Argon2id hash
 * at the first successful login, as Dovecot and Django upgrade schemes.
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

static int
fsync_dir(const char *path)
{
	int fd, rc, saved;

	if ((fd = open(path, O_RDONLY | O_DIRECTORY | O_CLOEXEC)) == -1)
		return -1;
	rc = fsync(fd);
	saved = errno;
	close(fd);
	errno = saved;
	return rc;
}

/* Create path with content, durably (O_EXCL unless replace is set). */
static int
write_durable(const char *path, const char *content, int excl)
{
	size_t len = strlen(content);
	ssize_t n;
	int fd, saved;

	fd = open(path, O_WRONLY | O_CREAT | O_CLOEXEC | O_NOFOLLOW |
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
account_pass_write(const char *data_dir, const char *user,
    const char *content, const char **step_r)
{
	char dir[4096], tmp[4200], dst[4200];
	unsigned char rnd[8];
	char rhex[sizeof(rnd) * 2 + 1];
	int saved;

	if (snprintf(dir, sizeof(dir), "%s/%s", data_dir, user) >=
	    (int)sizeof(dir)) {
		errno = ENAMETOOLONG;
		*step_r = "path";
		return -1;
	}
	randombytes_buf(rnd, sizeof(rnd));
	sodium_bin2hex(rhex, sizeof(rhex), rnd, sizeof(rnd));
	/* A dot name: a leftover after a crash is no message and no pass. */
	snprintf(tmp, sizeof(tmp), "%s/.pass-%s", dir, rhex);
	snprintf(dst, sizeof(dst), "%s/" ACCOUNT_PASS, dir);
	if (write_durable(tmp, content, 1) == -1) {
		*step_r = "write new pass";
		goto fail;
	}
	if (rename(tmp, dst) == -1) {
		*step_r = "rename pass";
		goto fail;
	}
	if (fsync_dir(dir) == -1) {
		*step_r = "fsync account directory";
		return -1;
	}
	return 0;
fail:
	saved = errno;
	unlink(tmp);
	errno = saved;
	return -1;
}

int
account_pass_set(const char *data_dir, const char *user,
    const char *password, const char **step_r)
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
	rc = account_pass_write(data_dir, user, hash, step_r);
	sodium_memzero(hash, sizeof(hash));
	return rc;
}

int
account_has(const char *data_dir, const char *user, const char *marker)
{
	char path[4200];
	struct stat st;

	snprintf(path, sizeof(path), "%s/%s/%s", data_dir, user, marker);
	return lstat(path, &st) == 0 && S_ISREG(st.st_mode);
}

int
account_mark(const char *data_dir, const char *user, const char *marker,
    const char *content, int on)
{
	char dir[4096], path[4200];

	snprintf(dir, sizeof(dir), "%s/%s", data_dir, user);
	snprintf(path, sizeof(path), "%s/%s", dir, marker);
	if (on) {
		if (write_durable(path, content != NULL ? content : "", 0) == -1)
			return -1;
	} else if (unlink(path) == -1) {
		return errno == ENOENT ? 0 : -1;
	}
	return fsync_dir(dir);
}
