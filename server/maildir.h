/*
 * maildir.h - one Maildir folder on disk: durable delivery in Dovecot's
 * sequence (to one or many recipients), listing, reading and the seen flag.
 * Thread-safe: it keeps no state but a delivery counter (and the sync
 * groups of syncgroup.c), and every call is a plain file operation relative
 * to a directory descriptor, so no path is ever built.
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
	uint64_t order[3]; /* delivery order read off the name */
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
 * maildir_deliver in two steps, for a caller that holds a lock while the
 * file appears but not while its new/ is fsync'd (so deliveries to one
 * Maildir still share that fsync): maildir_place writes, fsyncs and
 * renames into new/; maildir_commit makes the rename durable, or withdraws
 * the file and returns -1. No acknowledgement before maildir_commit.
 */
int maildir_place(int md, const void *data, size_t len,
    char name_r[MAILDIR_NAME_MAX], const char **step_r);
int maildir_commit(int md, const char *name, const char **step_r);

/*
 * Make the renames into md's new/ durable (fsync of the new/ directory);
 * until it returns 0 no delivery into md may be acknowledged. One call
 * covers every rename done before it; concurrent calls on one new/ share
 * the fsync (syncgroup.h). 0, or -1 with errno set.
 */
int maildir_sync_new(int md);

/* One recipient of maildir_deliver_many. */
struct maildir_rcpt {
	int md;                      /* in: the Maildir, from maildir_open */
	char name[MAILDIR_NAME_MAX]; /* out: the file's name in its new/ */
	int error;                   /* out: 0 delivered, else an errno */
	const char *step;            /* out: the step that failed (log) */
};

/*
 * Deliver data to n recipients with one write: the file is written and
 * fsync'd once, hard-linked into each other recipient's tmp/ (a copy if
 * it is on another filesystem), renamed into each new/, then each distinct
 * new/ is fsync'd once through the sync group. On return every recipient
 * with error 0 has the message durably in its new/ under name; any other
 * has nothing of it. A crash at any point leaves each recipient with the
 * whole message or without it. Returns how many recipients got it.
 */
int maildir_deliver_many(const void *data, size_t len, struct maildir_rcpt *r,
    size_t n);

/*
 * One write for several Maildirs in steps, for a caller that applies rules
 * per recipient (a quota under a lock) between them: maildir_stage writes
 * and fsyncs data once into md's tmp/ under a name of its own;
 * maildir_stage_place gives another (or the same) Maildir a hard link to
 * that inode in its tmp/ (a durable copy across filesystems) and renames
 * it into its new/ (with final set, in the Maildir staged into, the staged
 * file itself is renamed: no link, and the stage is used up);
 * maildir_commit_many makes the renames durable, one fsync per distinct new/
 * shared with concurrent deliveries, and withdraws a file whose fsync failed;
 * maildir_stage_free unlinks the staged name (a crash leaves it in tmp/, where
 * it is not a message and maildir_clean_tmp removes it). No acknowledgement
 * before maildir_commit_many.
 */
struct maildir_stage;

struct maildir_stage *maildir_stage(int md, const void *data, size_t len,
    const char **step_r);
int maildir_stage_place(struct maildir_stage *st, int md, int final,
    char name_r[MAILDIR_NAME_MAX], const char **step_r);
void maildir_stage_free(struct maildir_stage *st);

/* maildir_commit for n files (mds[i], names[i]) at once; err_r[i] is 0
 * once names[i] is durable in mds[i]'s new/, else its errno (withdrawn). */
void maildir_commit_many(const int *mds, char (*names)[MAILDIR_NAME_MAX],
    size_t n, int *err_r);

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
char *maildir_read(int md, struct maildir_file *f, size_t max, size_t *len_r);

/* Move a message of md to cur/ with the S (seen) flag; *f is updated. */
int maildir_mark_seen(int md, struct maildir_file *f);

/*
 * The stable id of a message file: the base of its name (what comes before
 * ":2,"), which never changes with its flags and is never reused; a base
 * that is not printable ASCII (another writer's), or starts with '=', is
 * "=" and a hash of it in hex instead. id_r holds MAILDIR_ID_MAX bytes.
 */
#define MAILDIR_ID_MAX MAILDIR_NAME_MAX
void maildir_id(const char *name, char id_r[MAILDIR_ID_MAX]);

/* Maildir info flags of a name, e.g. "FS" ("" without ":2,"). */
const char *maildir_flags(const char *name);

/*
 * Set and clear info flags (ASCII letters, e.g. "S", "F") of a message of
 * md: one rename into cur/ under the new name, then an fsync of cur/ (and
 * of new/ when it came from there), so the change is on disk when it
 * returns 0. A file moved meanwhile by another reader is found in cur/.
 * *f is updated. -1 with errno set (ENOENT: the message is gone).
 */
int maildir_set_flags(int md, struct maildir_file *f, const char *add,
    const char *remove);

/*
 * Delete a message of md: unlink, then fsync of its directory, so the
 * deletion is on disk when it returns 0. ENOENT: it was already gone.
 */
int maildir_delete(int md, struct maildir_file *f);

/*
 * Remove the regular files a crashed delivery left in md's tmp/ (anything
 * else there, a symbolic link included, is logged and left). Only safe
 * while no delivery into md is under way (at start-up). Returns the count
 * removed, or -1 with errno set (ELOOP: tmp/ is a symbolic link).
 */
int maildir_clean_tmp(int md);

#endif
