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

int
ctl_store_accounts(const char *data_dir, char ***names_r, size_t *n_r)
{
	char **names = NULL, **grown;
	size_t n = 0, cap = 0;
	struct dirent *de;
	struct stat st;
	DIR *d;

	if ((d = opendir(data_dir)) == NULL)
		return -1;
	while ((de = readdir(d)) != NULL) {
		char path[4200];

		if (de->d_name[0] == '.' ||
		    strcmp(de->d_name, RULES_LOST_DIR) == 0)
			continue;
		snprintf(path, sizeof(path), "%s/%s/" ACCOUNT_PASS, data_dir,
		    de->d_name);
		if (lstat(path, &st) == -1 || !S_ISREG(st.st_mode))
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

int
ctl_store_fsync_dir(const char *path)
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

/* A file of base name b: "b" itself or "b:2,FLAGS". */
static int
same_base(const char *name, const char *b, size_t blen)
{
	return strncmp(name, b, blen) == 0 &&
	    (name[blen] == '\0' || name[blen] == ':');
}

int
ctl_store_find(const char *dir, const char *base, struct maildir_file *f)
{
	static const char *const subs[] = { "new", "cur" };
	size_t blen = strlen(base), i;
	char path[4200];
	struct dirent *de;
	struct stat st;
	DIR *d;

	for (i = 0; i < 2; i++) {
		snprintf(path, sizeof(path), "%s/%s", dir, subs[i]);
		if ((d = opendir(path)) == NULL)
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
 * link() into new/ never replaces: whichever comes second finds the file
 * there and adds nothing.
 */
int
ctl_store_deliver_named(const char *dir, const char *base, const void *data,
    size_t len, time_t when, int *existed_r, const char **step_r)
{
	char tmp[4200], dst[4200], newdir[4200], rhex[17];
	unsigned char rnd[8];
	struct timespec times[2];
	int fd, saved;

	*existed_r = 0;
	if (ctl_store_find(dir, base, NULL)) {
		*existed_r = 1;
		return 0;
	}
	randombytes_buf(rnd, sizeof(rnd));
	sodium_bin2hex(rhex, sizeof(rhex), rnd, sizeof(rnd));
	if (snprintf(tmp, sizeof(tmp), "%s/tmp/%s.%s", dir, base, rhex) >=
	    (int)sizeof(tmp)) {
		errno = ENAMETOOLONG;
		*step_r = "name";
		return -1;
	}
	snprintf(dst, sizeof(dst), "%s/new/%s", dir, base);
	snprintf(newdir, sizeof(newdir), "%s/new", dir);
	if ((fd = open(tmp, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0600)) ==
	    -1) {
		*step_r = "create";
		return -1;
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
	if (link(tmp, dst) == -1) {
		if (errno != EEXIST) {
			*step_r = "link into new/";
			goto fail;
		}
		*existed_r = 1;
	}
	unlink(tmp);
	if (ctl_store_fsync_dir(newdir) == -1) {
		*step_r = "fsync new/";
		return -1;
	}
	return 0;
fail:
	saved = errno;
	if (fd != -1)
		close(fd);
	unlink(tmp);
	errno = saved;
	return -1;
}

int
ctl_store_remove_account(const char *data_dir, const char *user, int purge,
    char *aside_r, size_t aside_len, const char **step_r)
{
	char src[4200], dst[4400], deleted[4096], name[64];
	time_t now = time(NULL);
	struct tm tm;

	snprintf(src, sizeof(src), "%s/%s", data_dir, user);
	if (purge) {
		users_staging_name(name, sizeof(name));
		snprintf(dst, sizeof(dst), "%s/%s", data_dir, name);
	} else {
		snprintf(deleted, sizeof(deleted), "%s/" CTL_STORE_DELETED,
		    data_dir);
		if (mkdir(deleted, 0700) == -1 && errno != EEXIST) {
			*step_r = "create " CTL_STORE_DELETED;
			return -1;
		}
		gmtime_r(&now, &tm);
		snprintf(name, sizeof(name), "%04d%02d%02dT%02d%02d%02dZ",
		    tm.tm_year + 1900, tm.tm_mon + 1, tm.tm_mday, tm.tm_hour,
		    tm.tm_min, tm.tm_sec);
		snprintf(dst, sizeof(dst), "%s/%s.%s", deleted, user, name);
	}
	if (syscall(SYS_renameat2, AT_FDCWD, src, AT_FDCWD, dst,
	    RENAME_NOREPLACE) == -1) {
		*step_r = "rename";
		return -1;
	}
	if (ctl_store_fsync_dir(data_dir) == -1 ||
	    (!purge && ctl_store_fsync_dir(deleted) == -1)) {
		*step_r = "fsync";
		return -1;
	}
	if (purge)
		users_remove_staging(dst);
	if (aside_r != NULL)
		snprintf(aside_r, aside_len, "%s", purge ? "" :
		    dst + strlen(data_dir) + 1);
	return 0;
}

int
ctl_store_rename_account(const char *data_dir, const char *from,
    const char *to)
{
	char src[4200], dst[4200];

	snprintf(src, sizeof(src), "%s/%s", data_dir, from);
	snprintf(dst, sizeof(dst), "%s/%s", data_dir, to);
	if (syscall(SYS_renameat2, AT_FDCWD, src, AT_FDCWD, dst,
	    RENAME_NOREPLACE) == -1)
		return -1;
	return ctl_store_fsync_dir(data_dir);
}
