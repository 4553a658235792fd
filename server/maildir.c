/*
 * maildir.c - Maildir files: delivery, listing, reading, flags.
 *
 * Durability follows Dovecot's maildir-save.c: the message is complete and
 * on disk (fsync) before it appears in new/ (rename), and the rename itself
 * is on disk (fsync of new/) before the caller may acknowledge it.
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

static int
mkdir_ok(const char *path)
{
	return mkdir(path, 0700) == 0 || errno == EEXIST ? 0 : -1;
}

int
maildir_create(const char *dir)
{
	char path[4096];
	static const char *subs[] = { "tmp", "new", "cur" };
	size_t i;

	if (mkdir_ok(dir) == -1)
		return -1;
	for (i = 0; i < 3; i++) {
		if (snprintf(path, sizeof(path), "%s/%s", dir, subs[i]) >=
		    (int)sizeof(path)) {
			errno = ENAMETOOLONG;
			return -1;
		}
		if (mkdir_ok(path) == -1)
			return -1;
	}
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

int
maildir_deliver(const char *dir, const void *data, size_t len,
    char name_r[MAILDIR_NAME_MAX], const char **step_r)
{
	char tmp[4096], dst[4096], newdir[4096];
	struct timespec ts;
	int fd = -1, tries, saved;

	for (tries = 0;; tries++) {
		clock_gettime(CLOCK_REALTIME, &ts);
		snprintf(name_r, MAILDIR_NAME_MAX, "%lld.M%ldP%ldQ%lu.%s",
		    (long long)ts.tv_sec, ts.tv_nsec / 1000, (long)getpid(),
		    __atomic_add_fetch(&maildir_counter, 1, __ATOMIC_RELAXED),
		    maildir_host);
		if (snprintf(tmp, sizeof(tmp), "%s/tmp/%s", dir, name_r) >=
		    (int)sizeof(tmp)) {
			*step_r = "name";
			errno = ENAMETOOLONG;
			return -1;
		}
		fd = fault_hit("create") ? -1 :
		    open(tmp, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0600);
		if (fd != -1)
			break;
		if (errno != EEXIST || tries == 3) {
			*step_r = "create";
			return -1;
		}
	}
	snprintf(dst, sizeof(dst), "%s/new/%s", dir, name_r);
	snprintf(newdir, sizeof(newdir), "%s/new", dir);
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
	if (fault_hit("rename") || rename(tmp, dst) == -1) {
		*step_r = "rename";
		goto fail;
	}
	if (fault_hit("fsync-new") || fsync_dir(newdir) == -1) {
		/* The file is in new/ but may not survive a crash: withdraw it. */
		saved = errno;
		unlink(dst);
		errno = saved;
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

static int
list_sub(const char *dir, int in_cur, struct maildir_file **files,
    size_t *n, size_t *cap)
{
	char path[4096];
	struct maildir_file *f, *grown;
	struct dirent *de;
	struct stat st;
	DIR *d;
	int dfd;

	snprintf(path, sizeof(path), "%s/%s", dir, in_cur ? "cur" : "new");
	if ((d = opendir(path)) == NULL)
		return errno == ENOENT ? 0 : -1;
	dfd = dirfd(d);
	while ((de = readdir(d)) != NULL) {
		if (de->d_name[0] == '.' ||
		    strlen(de->d_name) >= MAILDIR_NAME_MAX)
			continue;
		if (fstatat(dfd, de->d_name, &st, AT_SYMLINK_NOFOLLOW) == -1 ||
		    !S_ISREG(st.st_mode))
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
maildir_list(const char *dir, struct maildir_file **files_r, size_t *n_r)
{
	struct maildir_file *files = NULL;
	size_t n = 0, cap = 0;

	if (list_sub(dir, 0, &files, &n, &cap) == -1 ||
	    list_sub(dir, 1, &files, &n, &cap) == -1) {
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
find_in_cur(const char *dir, struct maildir_file *f)
{
	char path[4096];
	size_t blen = base_len(f->name);
	struct dirent *de;
	DIR *d;

	snprintf(path, sizeof(path), "%s/cur", dir);
	if ((d = opendir(path)) == NULL)
		return -1;
	while ((de = readdir(d)) != NULL) {
		if (strncmp(de->d_name, f->name, blen) == 0 &&
		    (de->d_name[blen] == ':' || de->d_name[blen] == '\0')) {
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

static int
open_file(const char *dir, struct maildir_file *f)
{
	char path[4096];
	int fd;

	snprintf(path, sizeof(path), "%s/%s/%s", dir, f->in_cur ? "cur" : "new",
	    f->name);
	if ((fd = open(path, O_RDONLY | O_CLOEXEC | O_NOFOLLOW)) != -1 ||
	    errno != ENOENT)
		return fd;
	if (find_in_cur(dir, f) == -1)
		return -1;
	snprintf(path, sizeof(path), "%s/cur/%s", dir, f->name);
	return open(path, O_RDONLY | O_CLOEXEC | O_NOFOLLOW);
}

char *
maildir_read(const char *dir, struct maildir_file *f, size_t max,
    size_t *len_r)
{
	struct stat st;
	size_t want, got = 0;
	ssize_t n;
	char *buf = NULL;
	int fd, saved;

	if ((fd = open_file(dir, f)) == -1)
		return NULL;
	if (fstat(fd, &st) == -1)
		goto fail;
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
maildir_mark_seen(const char *dir, struct maildir_file *f)
{
	char from[4096], to[4096], name[MAILDIR_NAME_MAX];
	const char *info = strstr(f->name, ":2,");
	size_t blen = base_len(f->name);

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
		snprintf(name, sizeof(name), "%.*s:2,%s", (int)blen, f->name,
		    flags);
	} else {
		snprintf(name, sizeof(name), "%.*s:2,S", (int)blen, f->name);
	}
	snprintf(from, sizeof(from), "%s/%s/%s", dir, f->in_cur ? "cur" : "new",
	    f->name);
	snprintf(to, sizeof(to), "%s/cur/%s", dir, name);
	if (rename(from, to) == -1) {
		if (errno != ENOENT || find_in_cur(dir, f) == -1)
			return -1;
		return maildir_mark_seen(dir, f);
	}
	snprintf(f->name, sizeof(f->name), "%s", name);
	f->in_cur = 1;
	return 0;
}

int
maildir_clean_tmp(const char *dir)
{
	char path[4096];
	struct dirent *de;
	int dfd, count = 0;
	DIR *d;

	snprintf(path, sizeof(path), "%s/tmp", dir);
	if ((d = opendir(path)) == NULL)
		return errno == ENOENT ? 0 : -1;
	dfd = dirfd(d);
	while ((de = readdir(d)) != NULL) {
		if (strcmp(de->d_name, ".") == 0 || strcmp(de->d_name, "..") == 0)
			continue;
		if (unlinkat(dfd, de->d_name, 0) == 0)
			count++;
	}
	closedir(d);
	return count;
}
