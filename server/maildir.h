/*
 * maildir.h - one Maildir folder on disk: durable delivery in Dovecot's
 * sequence, listing, reading and the seen flag. Thread-safe: it keeps no
 * state but a delivery counter, and every call is a plain file operation
 * relative to a directory descriptor, so no path is ever built.
 */
#ifndef GLOMAILD_MAILDIR_H
#define GLOMAILD_MAILDIR_H

#include <sys/types.h>

#include <stddef.h>
#include <stdint.h>
#include <time.h>

#define MAILDIR_NAME_MAX 256

/* One message file as found in new/ or cur/. */
struct maildir_file {
	char name[MAILDIR_NAME_MAX]; /* file name, flags (":2,S") included */
	int in_cur;                  /* 1: cur/, 0: new/ */
	off_t size;
	uint64_t order[3];           /* delivery order read off the name */
};

/* Called once at start-up: remembers the host name used in file names. */
void maildir_init(void);

/*
 * Open the directory name inside the directory parentfd, never through a
 * symbolic link: the store follows no link it did not make. Returns its
 * descriptor (O_CLOEXEC; the caller closes it), or -1 with errno set: ELOOP
 * when name is a symbolic link, ENOTDIR when it is not a directory.
 */
int maildir_open(int parentfd, const char *name);

/*
 * Create the Maildir name inside parentfd and its tmp/, new/ and cur/
 * (mode 0700) where missing. A symbolic link in place of any of them fails
 * with ELOOP; it is never followed.
 */
int maildir_create(int parentfd, const char *name);

/*
 * Deliver data into the Maildir md (from maildir_open) durably: unique
 * name, O_EXCL create in tmp/, write all, fsync, checked close, rename into
 * new/, then maildir_sync_new. On failure the file is gone from tmp/ and
 * new/ and -1 is returned with errno set; *step_r names the step that failed
 * (for the log). On success the name used is in name_r.
 */
int maildir_deliver(int md, const void *data, size_t len,
    char name_r[MAILDIR_NAME_MAX], const char **step_r);

/*
 * Make the renames into md's new/ durable (fsync of the new/ directory);
 * until it returns 0 no delivery into md may be acknowledged. One call
 * covers every rename done before it. 0, or -1 with errno set.
 */
int maildir_sync_new(int md);

/* Delivery order of a file name ("<sec>.M<usec>P<pid>Q<n>.host"). */
void maildir_order(const char *name, uint64_t order_r[3]);

/*
 * List the messages of md (new/ and cur/), unsorted: regular files only;
 * a symbolic link (or a new/ or cur/ that is one) is logged and skipped.
 * Returns 0 with a malloc'd array, or -1 with errno set.
 */
int maildir_list(int md, struct maildir_file **files_r, size_t *n_r);

/*
 * Read a message file of md, with at most max bytes (0: all); never
 * through a symbolic link, and only a regular file. Looks in the directory
 * the file says, then, since another reader may have moved it, in cur/
 * under any flags; *f is updated to where it was found. Returns a malloc'd
 * buffer, or NULL with errno set.
 */
char *maildir_read(int md, struct maildir_file *f, size_t max,
    size_t *len_r);

/* Move a message of md to cur/ with the S (seen) flag; *f is updated. */
int maildir_mark_seen(int md, struct maildir_file *f);

/*
 * Remove the regular files a crashed delivery left in md's tmp/ (anything
 * else there, a symbolic link included, is logged and left). Only safe
 * while no delivery into md is under way (at start-up). Returns the count
 * removed, or -1 with errno set (ELOOP: tmp/ is a symbolic link).
 */
int maildir_clean_tmp(int md);

#endif
