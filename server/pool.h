/*
 * pool.h - a small bounded pool of worker threads for slow work (password
 * hashing, fsync'd delivery, mailbox scans), so the reactor never waits.
 *
 * A job's work function runs on a worker thread and must not touch reactor
 * state; its done function runs afterwards on the reactor thread, where it
 * may reply to the client and update in-memory state.
 */
#ifndef GLOMAILD_POOL_H
#define GLOMAILD_POOL_H

#include <event2/event.h>

struct pool;

typedef void (*pool_fn)(void *arg);

/* Start threads; at most max_queue jobs may wait. NULL on failure. */
struct pool *pool_new(struct event_base *base, const char *name,
    unsigned threads, unsigned max_queue);

/* Queue a job. Returns 0, or -1 when the queue is full (caller says busy). */
int pool_submit(struct pool *pool, pool_fn work, pool_fn done, void *arg);

/*
 * Run the workers at this niceness from their next job on: CPU-bound work
 * (hashing) then yields the cores to the reactor, so other clients' replies
 * do not wait behind a storm of logins.
 */
void pool_set_nice(struct pool *pool, int nice);

/* Jobs queued, running, or finished but whose done has not yet run. */
unsigned pool_pending(const struct pool *pool);

/*
 * Finish every queued job, run every done function, stop the threads and
 * free the pool. Called from the reactor thread.
 */
void pool_free(struct pool *pool);

#endif
