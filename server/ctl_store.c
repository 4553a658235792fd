/*
 * ctl_store.c - the store operations behind glomailctl.
 */
#include <sys/stat.h>
#include <sys/syscall.h>

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <sodium.h>

#include "account.h"
#include "ctl_store.h"
#include "rules.h"
#include "users.h"

#ifndef RENAME_NOREPLACE
#define RENAME_NOREPLACE (1 << 0)
#endif

static int
cmp_names(const void *a, const void *b)
{
	return strcmp(*(char *const *)a, *(char *const *)b);
}

void
ctl_store_names_free(char **names, size_t n)
{
	size_t i;

	for (i = 0; i < n; i++)
		free(names[i]);
	free(names);
}

/* A directory stream over a descriptor of ours, without giving it up. */
static DIR *
open_dir(int dirfd_, const char *name)
{
	int fd = openat(dirfd_, name,
	    O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
	DIR *d;

	if (fd == -1)
		return NULL;
	if ((d = fdopendir(fd)) == NULL)
		close(fd);
	return d;
}

int
ctl_store_accounts(int datafd, char ***names_r, size_t *n_r)
{
	char **names = NULL, **grown;
	size_t n = 0, cap = 0;
	struct dirent *de;
	DIR *d;

	if ((d = open_dir(datafd, ".")) == NULL)
		return -1;
	while ((de = readdir(d)) != NULL) {
		if (de->d_name[0] == '.' ||
		    strcmp(de->d_name, RULES_LOST_DIR) == 0 ||
		    !users_exists(datafd, de->d_name))
			continue;
		if (n == cap) {
			cap = cap ? cap * 2 : 32;
			if ((grown = realloc(names, cap * sizeof(*names))) ==
			    NULL)
				goto fail;
			names = grown;
		}
		if ((names[n] = strdup(de->d_name)) == NULL)
			goto fail;
		n++;
	}
	closedir(d);
	if (n > 0)
		qsort(names, n, sizeof(*names), cmp_names);
	*names_r = names;
	*n_r = n;
	return 0;
fail:
	closedir(d);
	ctl_store_names_free(names, n);
	errno = ENOMEM;
	return -1;
}

/* A file of base name b: "b" itself or "b:2,FLAGS". */
static int
same_base(const char *name, const char *b, size_t blen)
{
	return strncmp(name, b, blen) == 0 &&
	       (name[blen] == '\0' || name[blen] == ':');
}

int
ctl_store_find(int md, const char *base, struct maildir_file *f)
{
	static const char *const subs[] = { "new", "cur" };
	size_t blen = strlen(base), i;
	struct dirent *de;
	struct stat st;
	DIR *d;

	for (i = 0; i < 2; i++) {
		if ((d = open_dir(md, subs[i])) == NULL)
			continue;
		while ((de = readdir(d)) != NULL) {
			if (!same_base(de->d_name, base, blen) ||
			    strlen(de->d_name) >= MAILDIR_NAME_MAX)
				continue;
			if (f != NULL) {
				memset(f, 0, sizeof(*f));
				snprintf(f->name, sizeof(f->name), "%s",
				    de->d_name);
				f->in_cur = (int)i;
				if (fstatat(dirfd(d), de->d_name, &st,
				        AT_SYMLINK_NOFOLLOW) == 0)
					f->size = st.st_size;
				maildir_order(f->name, f->order);
			}
			closedir(d);
			return 1;
		}
		closedir(d);
	}
	return 0;
}

static int
write_all(int fd, const char *p, size_t len)
{
	ssize_t n;

	while (len > 0) {
		if ((n = write(fd, p, len)) == -1) {
			if (errno == EINTR)
				continue;
			return -1;
		}
		p += n;
		len -= (size_t)n;
	}
	return 0;
}

/*
 * The tmp/ name is unique (two imports at once each write their own), and
 * linkat() into new/ never replaces: whichever comes second finds the file
 * there and adds nothing.
 */
int
ctl_store_deliver_named(int md, const char *base, const void *data, size_t len,
    time_t when, int *existed_r, const char **step_r)
{
	char tmp[MAILDIR_NAME_MAX + 20], rhex[17];
	unsigned char rnd[8];
	struct timespec times[2];
	int tmpfd = -1, newfd = -1, fd = -1, saved;

	*existed_r = 0;
	if (ctl_store_find(md, base, NULL)) {
		*existed_r = 1;
		return 0;
	}
	randombytes_buf(rnd, sizeof(rnd));
	sodium_bin2hex(rhex, sizeof(rhex), rnd, sizeof(rnd));
	if (snprintf(tmp, sizeof(tmp), "%s.%s", base, rhex) >=
	    (int)sizeof(tmp)) {
		errno = ENAMETOOLONG;
		*step_r = "name";
		return -1;
	}
	if ((tmpfd = openat(md, "tmp",
	         O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC)) == -1 ||
	    (newfd = openat(md, "new",
	         O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC)) == -1) {
		*step_r = "open tmp/ and new/";
		goto out;
	}
	if ((fd = openat(tmpfd, tmp,
	         O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, 0600)) ==
	    -1) {
		*step_r = "create";
		goto out;
	}
	times[0].tv_sec = times[1].tv_sec = when > 0 ? when : 0;
	times[0].tv_nsec = times[1].tv_nsec = 0;
	if (write_all(fd, data, len) == -1) {
		*step_r = "write";
		goto fail;
	}
	/* The mtime is the message's date, as Maildir readers expect. */
	if (futimens(fd, times) == -1) {
		*step_r = "set date";
		goto fail;
	}
	if (fsync(fd) == -1) {
		*step_r = "fsync";
		goto fail;
	}
	if (close(fd) == -1) {
		fd = -1;
		*step_r = "close";
		goto fail;
	}
	fd = -1;
	if (linkat(tmpfd, tmp, newfd, base, 0) == -1) {
		if (errno != EEXIST) {
			*step_r = "link into new/";
			goto fail;
		}
		*existed_r = 1;
	}
	unlinkat(tmpfd, tmp, 0);
	if (fsync(newfd) == -1) {
		*step_r = "fsync new/";
		goto out;
	}
	close(tmpfd);
	close(newfd);
	return 0;
fail:
	saved = errno;
	if (fd != -1)
		close(fd);
	unlinkat(tmpfd, tmp, 0);
	errno = saved;
out:
	saved = errno;
	if (tmpfd != -1)
		close(tmpfd);
	if (newfd != -1)
		close(newfd);
	errno = saved;
	return -1;
}

int
ctl_store_remove_account(int datafd, const char *user, int purge, char *aside_r,
    size_t aside_len, const char **step_r)
{
	char dst[RULES_USERNAME_MAX + 64], name[64];
	time_t now = time(NULL);
	struct tm tm;
	int delfd = -1, saved;

	if (aside_r != NULL && aside_len > 0)
		aside_r[0] = '\0';
	if (purge) {
		users_staging_name(name, sizeof(name));
		if (syscall(SYS_renameat2, datafd, user, datafd, name,
		        RENAME_NOREPLACE) == -1) {
			*step_r = "rename";
			return -1;
		}
		if (fsync(datafd) == -1) {
			*step_r = "fsync";
			return -1;
		}
		users_remove_staging(datafd, name);
		return 0;
	}
	if (mkdirat(datafd, CTL_STORE_DELETED, 0700) == -1 && errno != EEXIST) {
		*step_r = "create " CTL_STORE_DELETED;
		return -1;
	}
	if ((delfd = maildir_open(datafd, CTL_STORE_DELETED)) == -1) {
		*step_r = "open " CTL_STORE_DELETED;
		return -1;
	}
	gmtime_r(&now, &tm);
	snprintf(dst, sizeof(dst), "%s.%04d%02d%02dT%02d%02d%02dZ", user,
	    tm.tm_year + 1900, tm.tm_mon + 1, tm.tm_mday, tm.tm_hour, tm.tm_min,
	    tm.tm_sec);
	if (syscall(SYS_renameat2, datafd, user, delfd, dst,
	        RENAME_NOREPLACE) == -1) {
		*step_r = "rename";
		goto fail;
	}
	if (fsync(datafd) == -1 || fsync(delfd) == -1) {
		*step_r = "fsync";
		goto fail;
	}
	close(delfd);
	if (aside_r != NULL)
		snprintf(aside_r, aside_len, CTL_STORE_DELETED "/%s", dst);
	return 0;
fail:
	saved = errno;
	close(delfd);
	errno = saved;
	return -1;
}

int
ctl_store_rename_account(int datafd, const char *from, const char *to)
{
	if (syscall(SYS_renameat2, datafd, from, datafd, to,
	        RENAME_NOREPLACE) == -1)
		return -1;
	return fsync(datafd);
}

int
ctl_store_replace(int dirfd, const char *name, const char *content)
{
	char tmp[64], rhex[17];
	unsigned char rnd[8];
	size_t len, off = 0;
	ssize_t w;
	int fd = -1, saved;

	if (content == NULL) {
		if (unlinkat(dirfd, name, 0) == -1 && errno != ENOENT)
			return -1;
		return fsync(dirfd);
	}
	randombytes_buf(rnd, sizeof(rnd));
	sodium_bin2hex(rhex, sizeof(rhex), rnd, sizeof(rnd));
	snprintf(tmp, sizeof(tmp), CTL_STORE_TMP_PREFIX "%s", rhex);
	if ((fd = openat(dirfd, tmp,
	         O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, 0600)) ==
	    -1)
		return -1;
	len = strlen(content);
	while (off < len) {
		if ((w = write(fd, content + off, len - off)) == -1) {
			if (errno == EINTR)
				continue;
			goto fail;
		}
		off += (size_t)w;
	}
	if (fsync(fd) == -1)
		goto fail;
	if (close(fd) == -1) {
		fd = -1;
		goto fail;
	}
	fd = -1;
	if (renameat(dirfd, tmp, dirfd, name) == -1 || fsync(dirfd) == -1)
		goto fail;
	return 0;
fail:
	saved = errno;
	if (fd != -1)
		close(fd);
	unlinkat(dirfd, tmp, 0);
	errno = saved;
	return -1;
}

long long
ctl_store_quota(int md)
{
	char buf[32], *end;
	long long v;
	ssize_t n;
	int fd;

	if ((fd = openat(md, CTL_STORE_QUOTA,
	         O_RDONLY | O_NOFOLLOW | O_NONBLOCK | O_CLOEXEC)) == -1)
		return -1;
	n = read(fd, buf, sizeof(buf) - 1);
	close(fd);
	if (n <= 0)
		return -1;
	buf[n] = '\0';
	errno = 0;
	v = strtoll(buf, &end, 10);
	while (*end == '\n' || *end == ' ')
		end++;
	return errno != 0 || end == buf || *end != '\0' || v < 0 ? -1 : v;
}
