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
 */
#include <sys/stat.h>

#include <errno.h>
#include <pthread.h>
#include <stdlib.h>
#include <time.h>
#include <unistd.h>

#include "fault.h"
#include "syncgroup.h"

struct group {
	dev_t dev;
	ino_t ino;
	unsigned refs;          /* callers inside syncgroup_fsync */
	int busy;               /* an fsync is in flight */
	uint64_t started;       /* fsyncs begun */
	uint64_t finished;      /* fsyncs returned */
	uint64_t failed_gen;    /* the last fsync that failed (0: none) */
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

int
syncgroup_fsync(int dirfd)
{
	struct group *g;
	struct stat st;
	uint64_t need, gen;
	int rc, err;

	if (fstat(dirfd, &st) == -1)
		return -1;
	pthread_mutex_lock(&syncgroup_lock);
	syncgroup_counts.calls++;
	if ((g = group_get(st.st_dev, st.st_ino)) == NULL) {
		/* No memory for a group: an fsync of one's own still works. */
		syncgroup_counts.fsyncs++;
		pthread_mutex_unlock(&syncgroup_lock);
		hold_for_tests();
		return fsync(dirfd);
	}
	g->refs++;
	/* The next fsync to begin: it begins after the caller's renames. */
	need = g->started + 1;
	while (g->finished < need) {
		if (g->busy) {
			pthread_cond_wait(&g->cond, &syncgroup_lock);
			continue;
		}
		/* Nobody is syncing: this caller issues fsync number need. */
		g->busy = 1;
		gen = ++g->started;
		syncgroup_counts.fsyncs++;
		pthread_mutex_unlock(&syncgroup_lock);
		hold_for_tests();
		rc = fsync(dirfd);
		err = errno;
		pthread_mutex_lock(&syncgroup_lock);
		if (rc == -1) {
			g->failed_gen = gen;
			g->failed_errno = err;
			syncgroup_counts.failures++;
		}
		g->finished = gen;
		g->busy = 0;
		pthread_cond_broadcast(&g->cond);
	}
	/*
	 * Any fsync from need on covers this caller; a failure among them
	 * fails it too, which may refuse a delivery a later fsync made durable
	 * but never acknowledges one that is not.
	 */
	rc = g->failed_gen >= need ? -1 : 0;
	err = g->failed_errno;
	group_put(g);
	pthread_mutex_unlock(&syncgroup_lock);
	if (rc == -1)
		errno = err;
	return rc;
}

void
syncgroup_stats(struct syncgroup_stats *st_r)
{
	pthread_mutex_lock(&syncgroup_lock);
	*st_r = syncgroup_counts;
	pthread_mutex_unlock(&syncgroup_lock);
}
