/*
 * maildir.c - Maildir files: delivery, listing, reading, flags.
 *
 * Durability follows Dovecot's maildir-save.c: the message is complete and
 * on disk (fsync) before it appears in new/ (rename), and the rename itself
 * is on disk (fsync of new/) before the caller may acknowledge it.
 *
 * Every name is one component opened relative to a directory descriptor,
 * directories with O_NOFOLLOW|O_DIRECTORY and files with O_NOFOLLOW: a
 * symbolic link someone else put in a Maildir is never followed.
 */
#include <sys/stat.h>

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "fault.h"
#include "log.h"
#include "maildir.h"

static char maildir_host[64] = "localhost";
static unsigned long maildir_counter;

void
maildir_init(void)
{
	char host[256], *p;

	if (gethostname(host, sizeof(host)) != 0)
		return;
	host[sizeof(host) - 1] = '\0';
	/* '/' and ':' have meaning in Maildir names: encode them. */
	maildir_host[0] = '\0';
	for (p = host; *p != '\0'; p++) {
		size_t l = strlen(maildir_host);

		if (l + 5 >= sizeof(maildir_host))
			break;
		if (*p == '/')
			strcat(maildir_host, "\\057");
		else if (*p == ':')
			strcat(maildir_host, "\\072");
		else {
			maildir_host[l] = *p;
			maildir_host[l + 1] = '\0';
		}
	}
}

/* Directories of the store: never through a link, never inherited. */
#define DIR_FLAGS (O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC)

/*
 * A name the store opens relative to a directory: one component. A '/'
 * would walk (and follow links in) directories the caller did not open.
 */
static int
name_ok(const char *name)
{
	if (name[0] == '\0' || strchr(name, '/') != NULL ||
	    strcmp(name, ".") == 0 || strcmp(name, "..") == 0) {
		errno = EINVAL;
		return 0;
	}
	return 1;
}

int
maildir_open(int parentfd, const char *name)
{
	struct stat st;
	int fd;

	if (!name_ok(name))
		return -1;
	if ((fd = openat(parentfd, name, DIR_FLAGS)) != -1)
		return fd;
	/* Linux says ENOTDIR for a link under O_DIRECTORY: say what it is. */
	if (errno == ENOTDIR) {
		if (fstatat(parentfd, name, &st, AT_SYMLINK_NOFOLLOW) == 0 &&
		    S_ISLNK(st.st_mode))
			errno = ELOOP;
		else
			errno = ENOTDIR;
	}
	return -1;
}

/* Close without losing the errno of the failure being reported. */
static void
close_keep_errno(int fd)
{
	int saved = errno;

	if (fd != -1)
		close(fd);
	errno = saved;
}

/* mkdirat that accepts an existing entry (maildir_open then checks it). */
static int
mkdirat_ok(int fd, const char *name)
{
	return mkdirat(fd, name, 0700) == 0 || errno == EEXIST ? 0 : -1;
}

int
maildir_create(int parentfd, const char *name)
{
	static const char *const subs[] = { "tmp", "new", "cur" };
	int md, sub;
	size_t i;

	if (!name_ok(name) || mkdirat_ok(parentfd, name) == -1 ||
	    (md = maildir_open(parentfd, name)) == -1)
		return -1;
	for (i = 0; i < sizeof(subs) / sizeof(subs[0]); i++) {
		if (mkdirat_ok(md, subs[i]) == -1 ||
		    (sub = maildir_open(md, subs[i])) == -1) {
			close_keep_errno(md);
			return -1;
		}
		close(sub);
	}
	close(md);
	return 0;
}

static int
write_all(int fd, const char *p, size_t len)
{
	ssize_t n;

	/* A test's full disk: half the message lands, then the write fails. */
	if (fault_hit("write")) {
		int saved = errno;

		n = write(fd, p, len / 2);
		(void)n;
		errno = saved;
		return -1;
	}
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

int
maildir_sync_new(int md)
{
	int fd, rc;

	if ((fd = maildir_open(md, "new")) == -1)
		return -1;
	rc = fsync(fd);
	close_keep_errno(fd);
	return rc;
}

int
maildir_deliver(int md, const void *data, size_t len,
    char name_r[MAILDIR_NAME_MAX], const char **step_r)
{
	struct timespec ts;
	int tmpfd, newfd = -1, fd = -1, tries, n, saved;

	/* Without tmp/ nothing can be created. */
	if ((tmpfd = maildir_open(md, "tmp")) == -1) {
		*step_r = "create";
		return -1;
	}
	for (tries = 0;; tries++) {
		clock_gettime(CLOCK_REALTIME, &ts);
		n = snprintf(name_r, MAILDIR_NAME_MAX, "%lld.M%ldP%ldQ%lu.%s",
		    (long long)ts.tv_sec, ts.tv_nsec / 1000, (long)getpid(),
		    __atomic_add_fetch(&maildir_counter, 1, __ATOMIC_RELAXED),
		    maildir_host);
		if (n < 0 || n >= MAILDIR_NAME_MAX) {
			*step_r = "name";
			close(tmpfd);
			errno = ENAMETOOLONG;
			return -1;
		}
		fd = fault_hit("create") ? -1 : openat(tmpfd, name_r,
		    O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, 0600);
		if (fd != -1)
			break;
		if (errno != EEXIST || tries == 3) {
			*step_r = "create";
			close_keep_errno(tmpfd);
			return -1;
		}
	}
	if (write_all(fd, data, len) == -1) {
		*step_r = "write";
		goto fail;
	}
	if (fault_hit("fsync") || fsync(fd) == -1) {
		*step_r = "fsync";
		goto fail;
	}
	/* close() can report a deferred write error (NFS, quotas). */
	if (close(fd) == -1 || fault_hit("close")) {
		fd = -1;
		*step_r = "close";
		goto fail;
	}
	fd = -1;
	if (fault_hit("rename") || (newfd = maildir_open(md, "new")) == -1 ||
	    renameat(tmpfd, name_r, newfd, name_r) == -1) {
		*step_r = "rename";
		goto fail;
	}
	close(tmpfd);
	if (fault_hit("fsync-new") || maildir_sync_new(md) == -1) {
		/* The file is in new/ but may not survive a crash: withdraw it. */
		saved = errno;
		unlinkat(newfd, name_r, 0);
		close(newfd);
		errno = saved;
		*step_r = "fsync new/";
		return -1;
	}
	close(newfd);
	return 0;
fail:
	saved = errno;
	if (fd != -1)
		close(fd);
	if (newfd != -1)
		close(newfd);
	unlinkat(tmpfd, name_r, 0);
	close(tmpfd);
	errno = saved;
	return -1;
}

void
maildir_order(const char *name, uint64_t order[3])
{
	unsigned long long sec = 0, usec = 0, pid = 0, q = 0;

	order[0] = order[1] = order[2] = 0;
	if (sscanf(name, "%llu.M%lluP%lluQ%llu", &sec, &usec, &pid, &q) == 4) {
		order[0] = sec;
		order[1] = usec;
		order[2] = q;
	} else if (sscanf(name, "%llu.", &sec) == 1) {
		order[0] = sec;
	}
}

/* Open a subdirectory of md for reading its entries. NULL with errno. */
static DIR *
open_sub(int md, const char *sub)
{
	DIR *d;
	int fd;

	if ((fd = maildir_open(md, sub)) == -1)
		return NULL;
	if ((d = fdopendir(fd)) == NULL)
		close_keep_errno(fd);
	return d;
}

static int
list_sub(int md, int in_cur, struct maildir_file **files, size_t *n,
    size_t *cap)
{
	const char *sub = in_cur ? "cur" : "new";
	struct maildir_file *f, *grown;
	struct dirent *de;
	struct stat st;
	DIR *d;
	int dfd;

	if ((d = open_sub(md, sub)) == NULL) {
		if (errno == ELOOP) {
			log_warn("maildir: skipped %s/: a symbolic link, not "
			    "followed", sub);
			return 0;
		}
		return errno == ENOENT ? 0 : -1;
	}
	dfd = dirfd(d);
	while ((de = readdir(d)) != NULL) {
		if (de->d_name[0] == '.' ||
		    strlen(de->d_name) >= MAILDIR_NAME_MAX)
			continue;
		if (fstatat(dfd, de->d_name, &st, AT_SYMLINK_NOFOLLOW) == -1)
			continue;
		if (S_ISLNK(st.st_mode))
			log_warn("maildir: skipped %s/%s: a symbolic link, not "
			    "followed", sub, de->d_name);
		if (!S_ISREG(st.st_mode))
			continue;
		if (*n == *cap) {
			*cap = *cap ? *cap * 2 : 64;
			if ((grown = realloc(*files, *cap * sizeof(**files))) ==
			    NULL) {
				closedir(d);
				return -1;
			}
			*files = grown;
		}
		f = &(*files)[(*n)++];
		snprintf(f->name, sizeof(f->name), "%s", de->d_name);
		f->in_cur = in_cur;
		f->size = st.st_size;
		maildir_order(f->name, f->order);
		if (f->order[0] == 0)
			f->order[0] = (uint64_t)st.st_mtime;
	}
	closedir(d);
	return 0;
}

int
maildir_list(int md, struct maildir_file **files_r, size_t *n_r)
{
	struct maildir_file *files = NULL;
	size_t n = 0, cap = 0;

	if (list_sub(md, 0, &files, &n, &cap) == -1 ||
	    list_sub(md, 1, &files, &n, &cap) == -1) {
		free(files);
		return -1;
	}
	*files_r = files;
	*n_r = n;
	return 0;
}

/* The base of a name: what comes before the ":2," info part. */
static size_t
base_len(const char *name)
{
	const char *colon = strchr(name, ':');

	return colon != NULL ? (size_t)(colon - name) : strlen(name);
}

/* Find a file of the same base in cur/ (any flags). */
static int
find_in_cur(int md, struct maildir_file *f)
{
	size_t blen = base_len(f->name);
	struct dirent *de;
	DIR *d;

	if ((d = open_sub(md, "cur")) == NULL)
		return -1;
	while ((de = readdir(d)) != NULL) {
		if (strncmp(de->d_name, f->name, blen) == 0 &&
		    (de->d_name[blen] == ':' || de->d_name[blen] == '\0') &&
		    strlen(de->d_name) < sizeof(f->name)) {
			snprintf(f->name, sizeof(f->name), "%s", de->d_name);
			f->in_cur = 1;
			closedir(d);
			return 0;
		}
	}
	closedir(d);
	errno = ENOENT;
	return -1;
}

/*
 * Open a message file for reading: not through a link, and only a regular
 * file (O_NONBLOCK, so a FIFO put there cannot hang a store thread).
 */
static int
open_msg(int md, const struct maildir_file *f, struct stat *st)
{
	int sub, fd;

	if (!name_ok(f->name) ||
	    (sub = maildir_open(md, f->in_cur ? "cur" : "new")) == -1)
		return -1;
	fd = openat(sub, f->name,
	    O_RDONLY | O_NOFOLLOW | O_NONBLOCK | O_NOCTTY | O_CLOEXEC);
	close_keep_errno(sub);
	if (fd == -1)
		return -1;
	if (fstat(fd, st) == -1) {
		close_keep_errno(fd);
		return -1;
	}
	if (!S_ISREG(st->st_mode)) {
		close(fd);
		errno = EINVAL;
		return -1;
	}
	return fd;
}

static int
open_file(int md, struct maildir_file *f, struct stat *st)
{
	int fd;

	if ((fd = open_msg(md, f, st)) != -1 || errno != ENOENT)
		return fd;
	if (find_in_cur(md, f) == -1)
		return -1;
	return open_msg(md, f, st);
}

char *
maildir_read(int md, struct maildir_file *f, size_t max, size_t *len_r)
{
	struct stat st;
	size_t want, got = 0;
	ssize_t n;
	char *buf = NULL;
	int fd, saved;

	if ((fd = open_file(md, f, &st)) == -1)
		return NULL;
	want = (size_t)st.st_size;
	if (max != 0 && want > max)
		want = max;
	if ((buf = malloc(want + 1)) == NULL)
		goto fail;
	while (got < want) {
		if ((n = read(fd, buf + got, want - got)) == -1) {
			if (errno == EINTR)
				continue;
			goto fail;
		}
		if (n == 0)
			break;
		got += (size_t)n;
	}
	buf[got] = '\0';
	close(fd);
	f->size = st.st_size;
	*len_r = got;
	return buf;
fail:
	saved = errno;
	free(buf);
	close(fd);
	errno = saved;
	return NULL;
}

int
maildir_mark_seen(int md, struct maildir_file *f)
{
	char name[MAILDIR_NAME_MAX];
	const char *info = strstr(f->name, ":2,");
	size_t blen = base_len(f->name);
	int from, to, rc, n;

	if (f->in_cur && info != NULL && strchr(info + 3, 'S') != NULL)
		return 0;
	/* Flags stay in ASCII order, as the Maildir spec asks. */
	if (info != NULL) {
		char flags[64] = "";
		const char *p;
		size_t k = 0;
		int put = 0;

		for (p = info + 3; *p != '\0' && k < sizeof(flags) - 2; p++) {
			if (!put && *p > 'S') {
				flags[k++] = 'S';
				put = 1;
			}
			flags[k++] = *p;
		}
		if (!put)
			flags[k++] = 'S';
		flags[k] = '\0';
		n = snprintf(name, sizeof(name), "%.*s:2,%s", (int)blen,
		    f->name, flags);
	} else {
		n = snprintf(name, sizeof(name), "%.*s:2,S", (int)blen,
		    f->name);
	}
	if (n < 0 || (size_t)n >= sizeof(name)) {
		errno = ENAMETOOLONG;
		return -1;
	}
	if (!name_ok(f->name) ||
	    (from = maildir_open(md, f->in_cur ? "cur" : "new")) == -1)
		return -1;
	if ((to = maildir_open(md, "cur")) == -1) {
		close_keep_errno(from);
		return -1;
	}
	rc = renameat(from, f->name, to, name);
	close_keep_errno(from);
	close_keep_errno(to);
	if (rc == -1) {
		if (errno != ENOENT || find_in_cur(md, f) == -1)
			return -1;
		return maildir_mark_seen(md, f);
	}
	snprintf(f->name, sizeof(f->name), "%s", name);
	f->in_cur = 1;
	return 0;
}

int
maildir_clean_tmp(int md)
{
	struct dirent *de;
	struct stat st;
	int dfd, count = 0;
	DIR *d;

	if ((d = open_sub(md, "tmp")) == NULL)
		return errno == ENOENT ? 0 : -1;
	dfd = dirfd(d);
	while ((de = readdir(d)) != NULL) {
		if (strcmp(de->d_name, ".") == 0 || strcmp(de->d_name, "..") == 0)
			continue;
		if (fstatat(dfd, de->d_name, &st, AT_SYMLINK_NOFOLLOW) == -1)
			continue;
		/* Deliveries leave regular files; anything else is not ours. */
		if (!S_ISREG(st.st_mode)) {
			log_warn("maildir: left tmp/%s: not a regular file%s",
			    de->d_name, S_ISLNK(st.st_mode) ?
			    " (a symbolic link, not followed)" : "");
			continue;
		}
		if (unlinkat(dfd, de->d_name, 0) == 0)
			count++;
	}
	closedir(d);
	return count;
}
