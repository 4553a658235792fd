/*
 * cluster.h - several glomaild on one store. Everything shared lives on
 * disk; the data directory's lock only says whether an instance starts
 * alone, which decides whether it may clean up what a crash left behind.
 */
#ifndef GLOMAILD_CLUSTER_H
#define GLOMAILD_CLUSTER_H

#include <time.h>

/*
 * Join the store through its lock file (open, read-write). *alone_r is 1
 * when no other instance holds the store: the lock is then exclusive, and
 * the caller may remove leftovers in tmp/ and staging accounts before it
 * calls cluster_share. Otherwise the lock is already shared (waiting, if
 * need be, for an instance that is cleaning up) and the caller must leave
 * recent files in tmp/ and staging accounts alone: they may be other
 * instances' work in flight (see cluster_stale). Returns 0 or -1 with errno
 * set.
 */
int cluster_lock(int fd, int *alone_r);

/* Turn the exclusive lock of an instance that started alone into a shared
 * one, so that others may join. Returns 0 or -1 with errno set. */
int cluster_share(int fd);

/*
 * What a crash left that no instance may still be working on: nothing takes
 * CLUSTER_STALE_SECONDS (36 hours, as Maildir readers have long used for
 * tmp/), so an instance that joins others removes only what is older.
 */
#define CLUSTER_STALE_SECONDS (36 * 60 * 60)

/* 1 when the entry name of dirfd was last changed before now minus
 * CLUSTER_STALE_SECONDS (links not followed). */
int cluster_stale(int dirfd, const char *name, time_t now);

/*
 * Remove the files in the tmp/ of a Maildir (md: its descriptor) older than
 * CLUSTER_STALE_SECONDS. Returns the count removed, or -1 with errno set.
 */
int cluster_clean_tmp(int md, time_t now);

#endif
