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

#include <sodium.h>

#include "fault.h"
#include "log.h"
#include "maildir.h"
#include "syncgroup.h"

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
	rc = syncgroup_fsync(fd);
	close_keep_errno(fd);
	return rc;
}

/* A fresh unique name: "<sec>.M<usec>P<pid>Q<n>.host". */
static int
new_name(char name_r[MAILDIR_NAME_MAX])
{
	struct timespec ts;
	int n;

	clock_gettime(CLOCK_REALTIME, &ts);
	n = snprintf(name_r, MAILDIR_NAME_MAX, "%lld.M%ldP%ldQ%lu.%s",
	    (long long)ts.tv_sec, ts.tv_nsec / 1000, (long)getpid(),
	    __atomic_add_fetch(&maildir_counter, 1, __ATOMIC_RELAXED),
	    maildir_host);
	if (n < 0 || n >= MAILDIR_NAME_MAX) {
		errno = ENAMETOOLONG;
		return -1;
	}
	return 0;
}

/*
 * Write data into a new file of the directory tmpfd (tmp/), the first half
 * of Dovecot's sequence: unique name, O_EXCL create, write all, fsync,
 * checked close. On failure nothing is left in tmp/.
 */
static int
store_tmp(int tmpfd, const void *data, size_t len,
    char name_r[MAILDIR_NAME_MAX], const char **step_r)
{
	int fd, tries, saved;

	for (tries = 0;; tries++) {
		if (new_name(name_r) == -1) {
			*step_r = "name";
			return -1;
		}
		fd = fault_hit("create") ? -1
		                         : openat(tmpfd, name_r,
		                               O_WRONLY | O_CREAT | O_EXCL |
		                                   O_NOFOLLOW | O_CLOEXEC,
		                               0600);
		if (fd != -1)
			break;
		if (errno != EEXIST || tries == 3) {
			*step_r = "create";
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
	return 0;
fail:
	saved = errno;
	if (fd != -1)
		close(fd);
	unlinkat(tmpfd, name_r, 0);
	errno = saved;
	return -1;
}

int
maildir_place(int md, const void *data, size_t len,
    char name_r[MAILDIR_NAME_MAX], const char **step_r)
{
	int tmpfd, newfd, saved;

	/* Without tmp/ nothing can be created. */
	if ((tmpfd = maildir_open(md, "tmp")) == -1) {
		*step_r = "create";
		return -1;
	}
	if (store_tmp(tmpfd, data, len, name_r, step_r) == -1) {
		close_keep_errno(tmpfd);
		return -1;
	}
	if (fault_hit("rename") || (newfd = maildir_open(md, "new")) == -1) {
		*step_r = "rename";
		goto fail;
	}
	if (renameat(tmpfd, name_r, newfd, name_r) == -1) {
		*step_r = "rename";
		close_keep_errno(newfd);
		goto fail;
	}
	close(newfd);
	close(tmpfd);
	return 0;
fail:
	saved = errno;
	unlinkat(tmpfd, name_r, 0);
	close(tmpfd);
	errno = saved;
	return -1;
}

int
maildir_commit(int md, const char *name, const char **step_r)
{
	int newfd, saved;

	if ((newfd = maildir_open(md, "new")) == -1) {
		*step_r = "fsync new/";
		return -1;
	}
	/* Shared with concurrent deliveries into new/ (syncgroup.c). */
	if (fault_hit("fsync-new") || syncgroup_fsync(newfd) == -1) {
		/* The file is in new/ but may not survive a crash: withdraw
		 * it. */
		saved = errno;
		unlinkat(newfd, name, 0);
		close(newfd);
		errno = saved;
		*step_r = "fsync new/";
		return -1;
	}
	close(newfd);
	return 0;
}

int
maildir_deliver(int md, const void *data, size_t len,
    char name_r[MAILDIR_NAME_MAX], const char **step_r)
{
	if (maildir_place(md, data, len, name_r, step_r) == -1)
		return -1;
	return maildir_commit(md, name_r, step_r);
}

/* Record why recipient r got nothing (errno is the cause). */
static void
rcpt_fail(struct maildir_rcpt *r, const char *step)
{
	r->error = errno != 0 ? errno : EIO;
	r->step = step;
}

/*
 * Give the recipient whose tmp/ is tmpfd a hard link to the finished file
 * src in srctmp, under a name of its own: two recipients may share a
 * Maildir, and a rename into new/ replaces a file of the same name. Across
 * filesystems (EXDEV) it gets a copy written the same durable way.
 */
static int
link_tmp(int srctmp, const char *src, int tmpfd, const void *data, size_t len,
    char name_r[MAILDIR_NAME_MAX], const char **step_r)
{
	int tries;

	for (tries = 0;; tries++) {
		if (new_name(name_r) == -1) {
			*step_r = "name";
			return -1;
		}
		if (fault_hit("link") == 0 &&
		    linkat(srctmp, src, tmpfd, name_r, 0) == 0)
			return 0;
		if (errno == EXDEV)
			return store_tmp(tmpfd, data, len, name_r, step_r);
		if (errno != EEXIST || tries == 3) {
			*step_r = "link";
			return -1;
		}
	}
}

/*
 * One write for n recipients. The message is written and fsync'd once, in
 * the tmp/ of the first recipient whose tmp/ opens; every other recipient
 * gets a hard link to that finished inode in its own tmp/, renamed into its
 * new/; the first recipient's file is renamed last (the others link from
 * it). Then each distinct new/ is fsync'd once, through the sync group.
 *
 * Crash safety per recipient: an entry appears in a new/ only by rename of
 * a name for an inode whose data was already on disk, so each recipient
 * has the whole message or nothing; links a crash leaves in tmp/ are
 * removed at start-up like any other leftover. The link count lives in the
 * inode: linkat changes it and the tmp/ entry in one journal transaction,
 * and the fsync of new/ that commits the later rename commits every
 * earlier transaction with it.
 */
int
maildir_deliver_many(const void *data, size_t len, struct maildir_rcpt *r,
    size_t n)
{
	int *tmp = NULL, *new = NULL, *sync_fds = NULL, *sync_err = NULL;
	size_t i, k, src = n;
	int delivered = 0;

	for (i = 0; i < n; i++) {
		r[i].name[0] = '\0';
		r[i].error = 0;
		r[i].step = NULL;
	}
	if ((tmp = malloc(n * sizeof(*tmp))) == NULL ||
	    (new = malloc(n * sizeof(*new))) == NULL ||
	    (sync_fds = malloc(n * sizeof(*sync_fds))) == NULL ||
	    (sync_err = malloc(n * sizeof(*sync_err))) == NULL) {
		for (i = 0; i < n; i++)
			rcpt_fail(&r[i], "memory");
		goto out;
	}
	for (i = 0; i < n; i++)
		tmp[i] = new[i] = -1;
	/* The one write, into the first tmp/ that opens. */
	for (i = 0; i < n; i++) {
		if ((tmp[i] = maildir_open(r[i].md, "tmp")) == -1) {
			rcpt_fail(&r[i], "create");
			continue;
		}
		if (src != n)
			continue;
		if (store_tmp(tmp[i], data, len, r[i].name, &r[i].step) == -1) {
			/* A write that fails (a full disk) fails for all. */
			for (k = 0; k < n; k++) {
				if (r[k].error == 0) {
					r[k].error = errno;
					r[k].step = r[i].step;
				}
			}
			goto out;
		}
		src = i;
	}
	if (src == n)
		goto out;
	/* Every other recipient: a link in its tmp/, renamed into new/. */
	for (i = 0; i < n; i++) {
		if (i == src || tmp[i] == -1)
			continue;
		if (link_tmp(tmp[src], r[src].name, tmp[i], data, len,
		        r[i].name, &r[i].step) == -1) {
			rcpt_fail(&r[i], r[i].step);
			continue;
		}
		if (fault_hit("rename") ||
		    (new[i] = maildir_open(r[i].md, "new")) == -1 ||
		    renameat(tmp[i], r[i].name, new[i], r[i].name) == -1) {
			rcpt_fail(&r[i], "rename");
			unlinkat(tmp[i], r[i].name, 0);
			continue;
		}
	}
	/* The source last: until here it is what the others link to. */
	if (fault_hit("rename") ||
	    (new[src] = maildir_open(r[src].md, "new")) == -1 ||
	    renameat(tmp[src], r[src].name, new[src], r[src].name) == -1) {
		rcpt_fail(&r[src], "rename");
		unlinkat(tmp[src], r[src].name, 0);
	}
	/*
	 * Every rename is done: one fsync of each new/, all submitted at once
	 * and shared with concurrent deliveries (a new/ listed twice, LOST/
	 * for two unknown names, is synced once).
	 */
	for (i = 0, k = 0; i < n; i++)
		if (r[i].error == 0)
			sync_fds[k++] = new[i];
	syncgroup_fsync_many(sync_fds, k, sync_err);
	for (i = 0, k = 0; i < n; i++) {
		int err;

		if (r[i].error != 0)
			continue;
		/* The result is taken first: a fault hook must not skip it. */
		err = sync_err[k++];
		if (fault_hit("fsync-new") || err != 0) {
			/* In new/ but maybe not after a crash: withdraw it. */
			if (err != 0)
				errno = err;
			rcpt_fail(&r[i], "fsync new/");
			unlinkat(new[i], r[i].name, 0);
			continue;
		}
		delivered++;
	}
out:
	for (i = 0; tmp != NULL && new != NULL &&i < n; i++) {
		if (tmp[i] != -1)
			close(tmp[i]);
		if (new[i] != -1)
			close(new[i]);
	}
	free(tmp);
	free(new);
	free(sync_fds);
	free(sync_err);
	return delivered;
}

struct maildir_stage {
	int tmpfd; /* the tmp/ the file was written in */
	char name[MAILDIR_NAME_MAX];
	const void *data; /* for a copy across filesystems */
	size_t len;
	int used; /* renamed away: nothing left to unlink */
};

struct maildir_stage *
maildir_stage(int md, const void *data, size_t len, const char **step_r)
{
	struct maildir_stage *st;

	if ((st = calloc(1, sizeof(*st))) == NULL) {
		*step_r = "memory";
		return NULL;
	}
	st->data = data;
	st->len = len;
	if ((st->tmpfd = maildir_open(md, "tmp")) == -1) {
		*step_r = "create";
		goto fail;
	}
	if (store_tmp(st->tmpfd, data, len, st->name, step_r) == -1)
		goto fail;
	return st;
fail:
	if (st->tmpfd != -1)
		close_keep_errno(st->tmpfd);
	{
		int saved = errno;

		free(st);
		errno = saved;
	}
	return NULL;
}

/* 1 when the directories a and b are one. */
static int
same_dir(int a, int b)
{
	struct stat sa, sb;

	return fstat(a, &sa) == 0 && fstat(b, &sb) == 0 &&
	       sa.st_dev == sb.st_dev && sa.st_ino == sb.st_ino;
}

int
maildir_stage_place(struct maildir_stage *st, int md, int final,
    char name_r[MAILDIR_NAME_MAX], const char **step_r)
{
	int tmpfd = -1, newfd = -1, own;

	if (st->used) {
		errno = EINVAL;
		*step_r = "stage";
		return -1;
	}
	if ((tmpfd = maildir_open(md, "tmp")) == -1) {
		*step_r = "create";
		return -1;
	}
	own = final && same_dir(tmpfd, st->tmpfd);
	if (own)
		memcpy(name_r, st->name, MAILDIR_NAME_MAX);
	else if (link_tmp(st->tmpfd, st->name, tmpfd, st->data, st->len, name_r,
	             step_r) == -1)
		goto fail;
	if (fault_hit("rename") || (newfd = maildir_open(md, "new")) == -1 ||
	    renameat(tmpfd, name_r, newfd, name_r) == -1) {
		*step_r = "rename";
		/* Not the staged name: the others may still link to it. */
		if (!own)
			unlinkat(tmpfd, name_r, 0);
		goto fail;
	}
	if (own)
		st->used = 1;
	close(newfd);
	close(tmpfd);
	return 0;
fail:
	if (newfd != -1)
		close_keep_errno(newfd);
	close_keep_errno(tmpfd);
	return -1;
}

void
maildir_stage_free(struct maildir_stage *st)
{
	if (st == NULL)
		return;
	/* Every recipient has a link of its own by now (or none). */
	if (!st->used)
		unlinkat(st->tmpfd, st->name, 0);
	close(st->tmpfd);
	free(st);
}

void
maildir_commit_many(const int *mds, char (*names)[MAILDIR_NAME_MAX], size_t n,
    int *err_r)
{
	int *newfds = NULL, *fds = NULL, *errs = NULL;
	size_t i, k = 0;

	if (n == 0)
		return;
	if ((newfds = malloc(n * sizeof(*newfds))) == NULL ||
	    (fds = malloc(n * sizeof(*fds))) == NULL ||
	    (errs = malloc(n * sizeof(*errs))) == NULL) {
		for (i = 0; i < n; i++)
			err_r[i] = ENOMEM;
		free(newfds);
		newfds = NULL;
		goto withdraw;
	}
	for (i = 0; i < n; i++) {
		err_r[i] = 0;
		if ((newfds[i] = maildir_open(mds[i], "new")) == -1)
			err_r[i] = errno != 0 ? errno : EIO;
		else
			fds[k++] = newfds[i];
	}
	/* One fsync per distinct new/, all submitted together. */
	syncgroup_fsync_many(fds, k, errs);
	for (i = 0, k = 0; i < n; i++) {
		if (newfds[i] == -1)
			continue;
		/* The result is taken first: a fault hook must not skip it. */
		err_r[i] = errs[k++];
		if (fault_hit("fsync-new") && err_r[i] == 0)
			err_r[i] = errno;
	}
withdraw:
	for (i = 0; i < n; i++) {
		/* In new/ but maybe not after a crash: withdraw it. */
		if (err_r[i] != 0 && newfds != NULL && newfds[i] != -1)
			unlinkat(newfds[i], names[i], 0);
		else if (err_r[i] != 0 && newfds == NULL) {
			int nf = maildir_open(mds[i], "new");

			if (nf != -1) {
				unlinkat(nf, names[i], 0);
				close(nf);
			}
		}
	}
	for (i = 0; newfds != NULL && fds != NULL && i < n; i++)
		if (newfds[i] != -1)
			close(newfds[i]);
	free(newfds);
	free(fds);
	free(errs);
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
			         "followed",
			    sub);
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
			         "followed",
			    sub, de->d_name);
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

void
maildir_id(const char *name, char id_r[MAILDIR_ID_MAX])
{
	static const char hex[] = "0123456789abcdef";
	unsigned char h[16];
	size_t blen = base_len(name), i;
	int plain = blen > 0 && name[0] != '=';

	for (i = 0; plain && i < blen; i++)
		if (name[i] <= ' ' || name[i] > '~' || name[i] == '/')
			plain = 0;
	if (plain && blen < MAILDIR_ID_MAX) {
		memcpy(id_r, name, blen);
		id_r[blen] = '\0';
		return;
	}
	crypto_generichash(h, sizeof(h), (const unsigned char *)name, blen,
	    NULL, 0);
	id_r[0] = '=';
	for (i = 0; i < sizeof(h); i++) {
		id_r[1 + 2 * i] = hex[h[i] >> 4];
		id_r[2 + 2 * i] = hex[h[i] & 0xf];
	}
	id_r[1 + 2 * sizeof(h)] = '\0';
}

const char *
maildir_flags(const char *name)
{
	const char *info = strstr(name, ":2,");

	return info != NULL ? info + 3 : "";
}

/* The name f gets with flags added and removed, flags in ASCII order. */
static int
flagged_name(const char *name, const char *add, const char *remove,
    char out[MAILDIR_NAME_MAX])
{
	char have[128] = "", flags[128];
	const char *old = maildir_flags(name);
	size_t k = 0, i;
	int c, n;

	for (i = 0; old[i] != '\0'; i++)
		if ((unsigned char)old[i] < 128)
			have[(unsigned char)old[i]] = 1;
	for (i = 0; add[i] != '\0'; i++)
		have[(unsigned char)add[i] & 127] = 1;
	for (i = 0; remove[i] != '\0'; i++)
		have[(unsigned char)remove[i] & 127] = 0;
	for (c = 33; c < 127; c++)
		if (have[c])
			flags[k++] = (char)c;
	flags[k] = '\0';
	n = snprintf(out, MAILDIR_NAME_MAX, "%.*s:2,%s", (int)base_len(name),
	    name, flags);
	if (n < 0 || n >= MAILDIR_NAME_MAX) {
		errno = ENAMETOOLONG;
		return -1;
	}
	return 0;
}

/* fsync a subdirectory of md. */
static int
sync_sub(int md, const char *sub)
{
	int fd, rc;

	if ((fd = maildir_open(md, sub)) == -1)
		return -1;
	rc = fsync(fd);
	close_keep_errno(fd);
	return rc;
}

int
maildir_set_flags(int md, struct maildir_file *f, const char *add,
    const char *remove)
{
	char name[MAILDIR_NAME_MAX];
	int from, to, rc, tries, was_new;

	for (tries = 0; tries < 3; tries++) {
		if (flagged_name(f->name, add, remove, name) == -1)
			return -1;
		if (f->in_cur && strcmp(name, f->name) == 0)
			return 0;
		if (!name_ok(f->name) ||
		    (from = maildir_open(md, f->in_cur ? "cur" : "new")) == -1)
			return -1;
		if ((to = maildir_open(md, "cur")) == -1) {
			close_keep_errno(from);
			return -1;
		}
		rc = fault_hit("flag-rename")
		         ? -1
		         : renameat(from, f->name, to, name);
		close_keep_errno(from);
		close_keep_errno(to);
		if (rc == 0) {
			was_new = !f->in_cur;
			snprintf(f->name, sizeof(f->name), "%s", name);
			f->in_cur = 1;
			if (sync_sub(md, "cur") == -1 ||
			    (was_new && sync_sub(md, "new") == -1))
				return -1;
			return 0;
		}
		/* Another reader moved it: look for it in cur/. */
		if (errno != ENOENT || find_in_cur(md, f) == -1)
			return -1;
	}
	errno = EAGAIN;
	return -1;
}

int
maildir_delete(int md, struct maildir_file *f)
{
	int sub, rc, tries;

	for (tries = 0; tries < 3; tries++) {
		if (!name_ok(f->name) ||
		    (sub = maildir_open(md, f->in_cur ? "cur" : "new")) == -1)
			return -1;
		rc = fault_hit("unlink") ? -1 : unlinkat(sub, f->name, 0);
		if (rc == 0) {
			rc = fsync(sub);
			close_keep_errno(sub);
			return rc;
		}
		close_keep_errno(sub);
		if (errno != ENOENT || find_in_cur(md, f) == -1)
			return -1;
	}
	errno = EAGAIN;
	return -1;
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
		if (strcmp(de->d_name, ".") == 0 ||
		    strcmp(de->d_name, "..") == 0)
			continue;
		if (fstatat(dfd, de->d_name, &st, AT_SYMLINK_NOFOLLOW) == -1)
			continue;
		/* Deliveries leave regular files; anything else is not ours. */
		if (!S_ISREG(st.st_mode)) {
			log_warn("maildir: left tmp/%s: not a regular file%s",
			    de->d_name,
			    S_ISLNK(st.st_mode)
			        ? " (a symbolic link, not followed)"
			        : "");
			continue;
		}
		if (unlinkat(dfd, de->d_name, 0) == 0)
			count++;
	}
	closedir(d);
	return count;
}
