/*
 * ctl_store.h - store operations the administration handlers share: the
 * accounts on disk, named deliveries (what makes an import idempotent),
 * removing or setting aside an account in one rename. Everything works
 * relative to directory descriptors (the data directory's, a Maildir's
 * from maildir_open) and follows no symbolic link. Plain file operations:
 * call them on a worker thread.
 */
#ifndef GLOMAILD_CTL_STORE_H
#define GLOMAILD_CTL_STORE_H

#include <stddef.h>
#include <time.h>

#include "maildir.h"

/* Where deleted accounts' mail is set aside (a dot name: no account). */
#define CTL_STORE_DELETED ".deleted"

/*
 * The account names of the data directory (entries with a pass file, LOST
 * and dot names excluded), sorted; a malloc'd array of malloc'd strings.
 * -1 with errno when the directory cannot be read.
 */
int ctl_store_accounts(int datafd, char ***names_r, size_t *n_r);
void ctl_store_names_free(char **names, size_t n);

/*
 * Deliver data into the Maildir md under the given base name, unless a
 * file of that base is already in new/ or cur/ (*existed_r = 1, nothing
 * written). Otherwise as maildir_deliver: complete and fsync'd in tmp/,
 * its mtime set to when, linked into new/ (never replacing), new/ fsync'd.
 * 0, or -1 with errno and *step_r.
 */
int ctl_store_deliver_named(int md, const char *base, const void *data,
    size_t len, time_t when, int *existed_r, const char **step_r);

/* Whether a base name is in md's new/ or cur/; fills *f when found. */
int ctl_store_find(int md, const char *base, struct maildir_file *f);

/*
 * Take the account user out of the store in one rename: into .deleted/
 * (its mail kept, *aside_r names where) or, with purge, to a staging name
 * removed at once (and at start-up after a crash). 0 or -1 with errno and
 * *step_r.
 */
int ctl_store_remove_account(int datafd, const char *user, int purge,
    char *aside_r, size_t aside_len, const char **step_r);

/* Rename account from to to, never replacing. 0 or -1 (EEXIST: taken). */
int ctl_store_rename_account(int datafd, const char *from, const char *to);

/* Leftovers of ctl_store_replace start so (a dot name: no message). */
#define CTL_STORE_TMP_PREFIX ".ctl-"

/*
 * Replace dirfd/name with content (NULL: remove it) so that a crash leaves
 * the old file or the new one: a dot-named temporary file written and
 * fsync'd, renamed over name, the directory fsync'd. 0 or -1 with errno.
 */
int ctl_store_replace(int dirfd, const char *name, const char *content);

/* An account's own limit file, as deliver.h describes it. */
#define CTL_STORE_QUOTA "quota"

/* The limit in md's quota file, as deliveries read it; -1: none. */
long long ctl_store_quota(int md);

#endif
