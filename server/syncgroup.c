/*
 * syncgroup.c - group commit of directory fsyncs.
 *
 * A delivery may be acknowledged only once its rename into new/ is on disk,
 * and that takes an fsync of new/. When many senders write to one mailbox
 * their fsyncs of the same directory queue behind one another, although one
 * fsync issued after all of their renames makes every one of them durable.
 * So deliveries into one directory form a group: the first caller issues
 * the fsync; whoever arrives while it is in flight waits, and once it
 * returns one of them issues the next fsync for all who arrived meanwhile.
 *
 * Why here, in the store layer, on the delivering thread, rather than by
 * batching completions on the reactor: the thread that renamed the file
 * does not return from syncgroup_fsync (and so maildir_deliver does not
 * return 0, and the reply is not even built) until an fsync that *started
 * after its rename* has returned 0. The rule "OK only after the file and
 * its directory entry are on disk" stays a property of one function call,
 * checked in one place (the generation test below), instead of a protocol
 * between the reactor and the pool.
 *
 * Generations: `started` counts fsyncs begun, `finished` those returned;
 * fsyncs of one group never overlap, so finished == started unless one is
 * in flight, and then started == finished + 1. A caller needs fsync number
 * started + 1: the next one to begin, which begins after its rename. It is
 * never asked to wait for more than the fsync in flight and the next one,
 * so the batch is bounded by who arrives during one fsync.
 *
 * A group is keyed by the directory's (st_dev, st_ino), not by a name: the
 * fsync then covers exactly the directory the caller renamed into, and
 * every caller holds a descriptor to it while it waits, so the inode number
 * cannot be reused for another directory while the group lives.
 *
 * One message to several recipients needs one fsync per recipient's new/
 * (syncgroup_fsync_many). Issued one after another they cost one journal
 * commit each (ext4 forces a commit for every directory fsync); issued
 * together with Linux AIO (IOCB_CMD_FSYNC, run by kernel workers) they
 * meet in the same commits. Where AIO is missing or refused the same
 * fsyncs are made one by one: slower, never less durable.
 */
#include <sys/stat.h>
#include <sys/syscall.h>

#include <linux/aio_abi.h>

#include <errno.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "fault.h"
#include "syncgroup.h"

struct group {
	dev_t dev;
	ino_t ino;
	unsigned refs;       /* callers inside syncgroup_fsync */
	int busy;            /* an fsync is in flight */
	uint64_t started;    /* fsyncs begun */
	uint64_t finished;   /* fsyncs returned */
	uint64_t failed_gen; /* the last fsync that failed (0: none) */
	int failed_errno;
	pthread_cond_t cond;
	struct group *next;
};

/* Guards the list and every group's fields; never held across an fsync. */
static pthread_mutex_t syncgroup_lock = PTHREAD_MUTEX_INITIALIZER;
static struct group *syncgroup_list;
static struct syncgroup_stats syncgroup_counts;

/* The group of (dev, ino), created on first use. Called locked. */
static struct group *
group_get(dev_t dev, ino_t ino)
{
	struct group *g;

	for (g = syncgroup_list; g != NULL; g = g->next)
		if (g->dev == dev && g->ino == ino)
			return g;
	if ((g = calloc(1, sizeof(*g))) == NULL)
		return NULL;
	if (pthread_cond_init(&g->cond, NULL) != 0) {
		free(g);
		return NULL;
	}
	g->dev = dev;
	g->ino = ino;
	g->next = syncgroup_list;
	syncgroup_list = g;
	return g;
}

/* Drop a caller; the last one frees the group. Called locked. */
static void
group_put(struct group *g)
{
	struct group **pp;

	if (--g->refs > 0)
		return;
	for (pp = &syncgroup_list; *pp != g; pp = &(*pp)->next)
		;
	*pp = g->next;
	pthread_cond_destroy(&g->cond);
	free(g);
}

/*
 * A test build can hold the fsync back (while the fault file says
 * "hold-fsync-new"), so that a test kills the server with every rename of
 * a group done and their shared fsync not yet issued.
 */
static void
hold_for_tests(void)
{
	struct timespec ms10 = { 0, 10 * 1000 * 1000 };

	while (fault_hit("hold-fsync-new"))
		nanosleep(&ms10, NULL);
}

/* Count an fsync made outside any group (no memory for one). */
static void
syncgroup_counts_add_fsync(void)
{
	pthread_mutex_lock(&syncgroup_lock);
	syncgroup_counts.fsyncs++;
	pthread_mutex_unlock(&syncgroup_lock);
}

/* This thread's AIO context: 0 not tried yet, 1 usable, -1 not here. */
static __thread int aio_state;
static __thread aio_context_t aio_ctx;

#define AIO_BATCH 64

/*
 * fsync each of fds[0..n) (n <= AIO_BATCH), all at once when the kernel
 * can, and store each result (0 or an errno) in err[]. The context lives
 * as long as the thread (the kernel frees it with the process): destroying
 * one waits for an RCU grace period, far longer than the fsyncs.
 */
static void
fsync_all(const int *fds, size_t n, int *err)
{
	struct iocb cb[AIO_BATCH], *cbs[AIO_BATCH];
	struct io_event ev[AIO_BATCH];
	size_t i, got = 0, sent = 0;
	long r;

	if (n > 1 && aio_state == 0)
		aio_state = syscall(SYS_io_setup, AIO_BATCH, &aio_ctx) == 0
		                ? 1
		                : -1;
	if (n > 1 && aio_state == 1) {
		memset(cb, 0, n * sizeof(cb[0]));
		for (i = 0; i < n; i++) {
			cb[i].aio_fildes = (uint32_t)fds[i];
			cb[i].aio_lio_opcode = IOCB_CMD_FSYNC;
			cb[i].aio_data = i;
			cbs[i] = &cb[i];
			err[i] = -1;
		}
		while (sent < n) {
			r = syscall(SYS_io_submit, aio_ctx, (long)(n - sent),
			    cbs + sent);
			if (r <= 0)
				break;
			sent += (size_t)r;
		}
		while (got < sent) {
			r = syscall(SYS_io_getevents, aio_ctx,
			    (long)(sent - got), (long)(sent - got), ev, NULL);
			if (r == -1 && errno == EINTR)
				continue;
			if (r <= 0) {
				/* Never again: late events would look like
				 * ours. */
				aio_state = -1;
				break;
			}
			for (i = 0; i < (size_t)r; i++)
				err[ev[i].data] = ev[i].res < 0
				                      ? (int)-ev[i].res
				                      : 0;
			got += (size_t)r;
		}
		if (got == sent && sent == n)
			return;
		/* Refused (EINVAL: no AIO fsync here): plain fsync for the
		 * rest. */
		if (sent == 0)
			aio_state = -1;
	}
	for (i = 0; i < n; i++)
		if (n == 1 || aio_state != 1 || err[i] == -1)
			err[i] = fsync(fds[i]) == 0 ? 0 : errno;
}

void
syncgroup_fsync_many(const int *fds, size_t n, int *err_r)
{
	struct group *g[AIO_BATCH];
	uint64_t need[AIO_BATCH], gen[AIO_BATCH];
	int lead[AIO_BATCH], res[AIO_BATCH];
	size_t i, k, nlead, left, who[AIO_BATCH];
	struct stat st;

	/* More directories than one batch: batch after batch. */
	while (n > AIO_BATCH) {
		syncgroup_fsync_many(fds, AIO_BATCH, err_r);
		fds += AIO_BATCH;
		err_r += AIO_BATCH;
		n -= AIO_BATCH;
	}
	pthread_mutex_lock(&syncgroup_lock);
	for (i = 0; i < n; i++) {
		syncgroup_counts.calls++;
		err_r[i] = 0;
		if (fstat(fds[i], &st) == -1 ||
		    (g[i] = group_get(st.st_dev, st.st_ino)) == NULL) {
			/* No group: an fsync of its own, after the others. */
			g[i] = NULL;
			err_r[i] = -1;
			continue;
		}
		g[i]->refs++;
		/* The next fsync to begin: it begins after the renames. */
		need[i] = g[i]->started + 1;
	}
	for (;;) {
		/* Lead every group nobody is syncing; count who is left. */
		nlead = 0;
		left = 0;
		for (i = 0; i < n; i++) {
			if (g[i] == NULL || g[i]->finished >= need[i])
				continue;
			left++;
			if (g[i]->busy)
				continue; /* in flight (maybe ours, listed
				             twice) */
			g[i]->busy = 1;
			gen[i] = ++g[i]->started;
			syncgroup_counts.fsyncs++;
			who[nlead] = i;
			lead[nlead++] = fds[i];
		}
		if (left == 0)
			break;
		if (nlead == 0) {
			/* All that is left is in other callers' fsyncs. */
			for (i = 0; g[i] == NULL || g[i]->finished >= need[i];
			     i++)
				;
			pthread_cond_wait(&g[i]->cond, &syncgroup_lock);
			continue;
		}
		pthread_mutex_unlock(&syncgroup_lock);
		hold_for_tests();
		fsync_all(lead, nlead, res);
		pthread_mutex_lock(&syncgroup_lock);
		for (k = 0; k < nlead; k++) {
			i = who[k];
			if (res[k] != 0) {
				g[i]->failed_gen = gen[i];
				g[i]->failed_errno = res[k];
				syncgroup_counts.failures++;
			}
			g[i]->finished = gen[i];
			g[i]->busy = 0;
			pthread_cond_broadcast(&g[i]->cond);
		}
	}
	for (i = 0; i < n; i++) {
		if (g[i] == NULL)
			continue;
		/* Any failure from the fsync it needed on fails it. */
		if (g[i]->failed_gen >= need[i])
			err_r[i] = g[i]->failed_errno;
		group_put(g[i]);
	}
	pthread_mutex_unlock(&syncgroup_lock);
	for (i = 0; i < n; i++) {
		if (err_r[i] != -1)
			continue;
		syncgroup_counts_add_fsync();
		hold_for_tests();
		err_r[i] = fsync(fds[i]) == 0 ? 0 : errno;
	}
}

int
syncgroup_fsync(int dirfd)
{
	int err;

	syncgroup_fsync_many(&dirfd, 1, &err);
	if (err != 0) {
		errno = err;
		return -1;
	}
	return 0;
}

void
syncgroup_stats(struct syncgroup_stats *st_r)
{
	pthread_mutex_lock(&syncgroup_lock);
	*st_r = syncgroup_counts;
	pthread_mutex_unlock(&syncgroup_lock);
}
