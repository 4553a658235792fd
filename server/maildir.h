/*
 * maildir.h - one Maildir folder on disk: durable delivery in Dovecot's
 * sequence, listing, reading and the seen flag. Thread-safe: it keeps no
 * state but a delivery counter, and every call is a plain file operation.
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

/* Create dir and its tmp/, new/ and cur/ (mode 0700) if missing. */
int maildir_create(const char *dir);

/*
 * Deliver data into dir durably: unique name, O_EXCL create in tmp/, write
 * all, fsync, checked close, rename into new/, fsync new/. On failure the
 * tmp file is gone and -1 is returned with errno set; *step_r names the step
 * that failed (for the log). On success the name used is in name_r.
 */
int maildir_deliver(const char *dir, const void *data, size_t len,
    char name_r[MAILDIR_NAME_MAX], const char **step_r);

/* Delivery order of a file name ("<sec>.M<usec>P<pid>Q<n>.host"). */
void maildir_order(const char *name, uint64_t order_r[3]);

/*
 * List the messages of dir (new/ and cur/), unsorted. Returns 0 with a
 * malloc'd array, or -1 with errno set.
 */
int maildir_list(const char *dir, struct maildir_file **files_r,
    size_t *n_r);

/*
 * Read a message file, with at most max bytes (0: all). Looks in the
 * directory the file says, then, since another reader may have moved it,
 * in cur/ under any flags; *f is updated to where it was found.
 * Returns a malloc'd buffer, or NULL with errno set.
 */
char *maildir_read(const char *dir, struct maildir_file *f, size_t max,
    size_t *len_r);

/* Move a message to cur/ with the S (seen) flag; *f is updated. */
int maildir_mark_seen(const char *dir, struct maildir_file *f);

/*
 * Remove what a crashed delivery left in tmp/. Only safe while no delivery
 * into dir is under way (at start-up). Returns the count removed, or -1.
 */
int maildir_clean_tmp(const char *dir);

#endif
