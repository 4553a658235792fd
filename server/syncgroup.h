/*
 * syncgroup.h - group commit of directory fsyncs: concurrent deliveries
 * into the same new/ directory share one fsync of it.
 *
 * Thread-safe; called from the store pool's threads. The caller blocks
 * until its renames are on disk, so "0 returned" keeps meaning "durable"
 * exactly as a plain fsync would.
 */
#ifndef GLOMAILD_SYNCGROUP_H
#define GLOMAILD_SYNCGROUP_H

#include <stddef.h>
#include <stdint.h>

/*
 * Make every change to the directory dirfd done before this call durable
 * (the renames and links into it): returns 0 only after an fsync of that
 * directory which started after the call began has returned 0. Callers on
 * the same directory at the same time share that fsync; one that arrives
 * while an fsync is in flight waits for the next one, which starts as soon
 * as the one in flight returns. -1 with errno set when the fsync failed.
 */
int syncgroup_fsync(int dirfd);

/*
 * syncgroup_fsync for each of the n directories fds[] at once: the fsyncs
 * this caller issues are submitted together (Linux AIO when available) so
 * that they share the filesystem's journal commits. err_r[i] is 0 once
 * fds[i]'s changes are durable, else the errno of its failed fsync.
 */
void syncgroup_fsync_many(const int *fds, size_t n, int *err_r);

/* Counters since start-up, for the periodic delivery summary. */
struct syncgroup_stats {
	uint64_t calls;    /* syncgroup_fsync calls */
	uint64_t fsyncs;   /* directory fsyncs issued for them */
	uint64_t failures; /* fsyncs that failed */
};

void syncgroup_stats(struct syncgroup_stats *st_r);

#endif
