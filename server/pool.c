/*
 * pool.c - worker threads with a bounded queue; completions come back to the
 * reactor through an eventfd, so no libevent call is made off the loop.
 */
#include <sys/eventfd.h>
#include <sys/resource.h>

#include <errno.h>
#include <pthread.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "log.h"
#include "pool.h"

struct job {
	pool_fn work;
	pool_fn done;
	void *arg;
	struct job *next;
};

struct jobq {
	struct job *head, *tail;
};

struct pool {
	const char *name;
	pthread_mutex_t lock;
	pthread_cond_t cond;
	struct jobq waiting;  /* for a thread */
	struct jobq finished; /* waiting for their done on the loop */
	unsigned queued;      /* in waiting */
	unsigned pending;     /* submitted, done not yet run (loop only) */
	unsigned max_queue;
	int stopping;
	int efd;
	struct event *ev;
	pthread_t *threads;
	unsigned nthreads;
	int nice; /* niceness wanted for the workers */
};

static void
jobq_push(struct jobq *q, struct job *j)
{
	j->next = NULL;
	if (q->tail != NULL)
		q->tail->next = j;
	else
		q->head = j;
	q->tail = j;
}

static struct job *
jobq_take_all(struct jobq *q)
{
	struct job *head = q->head;

	q->head = q->tail = NULL;
	return head;
}

static void *
pool_thread(void *arg)
{
	struct pool *pool = arg;
	struct job *j;
	uint64_t one = 1;
	int wake, niced = 0;

	pthread_mutex_lock(&pool->lock);
	for (;;) {
		while (pool->waiting.head == NULL && !pool->stopping)
			pthread_cond_wait(&pool->cond, &pool->lock);
		if ((j = pool->waiting.head) == NULL)
			break; /* stopping with nothing left to do */
		if ((pool->waiting.head = j->next) == NULL)
			pool->waiting.tail = NULL;
		pool->queued--;
		/* On Linux, niceness belongs to the thread that sets it. */
		if (niced != pool->nice &&
		    setpriority(PRIO_PROCESS, 0, pool->nice) == 0)
			niced = pool->nice;
		pthread_mutex_unlock(&pool->lock);

		j->work(j->arg);

		pthread_mutex_lock(&pool->lock);
		wake = pool->finished.head == NULL;
		jobq_push(&pool->finished, j);
		/* One wake-up per batch: the loop drains the whole list. */
		if (wake && write(pool->efd, &one, sizeof(one)) == -1 &&
		    errno != EAGAIN)
			log_error("pool %s: eventfd write: %s", pool->name,
			    strerror(errno));
	}
	pthread_mutex_unlock(&pool->lock);
	return NULL;
}

/* Run the done functions of finished jobs, on the loop thread. */
static void
pool_drain(struct pool *pool)
{
	struct job *j, *next;
	uint64_t n;

	if (read(pool->efd, &n, sizeof(n)) == -1 && errno != EAGAIN)
		log_error("pool %s: eventfd read: %s", pool->name,
		    strerror(errno));
	pthread_mutex_lock(&pool->lock);
	j = jobq_take_all(&pool->finished);
	pthread_mutex_unlock(&pool->lock);
	for (; j != NULL; j = next) {
		next = j->next;
		pool->pending--;
		if (j->done != NULL)
			j->done(j->arg);
		free(j);
	}
}

static void
pool_readable(evutil_socket_t fd, short what, void *arg)
{
	(void)fd;
	(void)what;
	pool_drain(arg);
}

struct pool *
pool_new(struct event_base *base, const char *name, unsigned threads,
    unsigned max_queue)
{
	struct pool *pool;
	unsigned i;

	if ((pool = calloc(1, sizeof(*pool))) == NULL)
		return NULL;
	pool->name = name;
	pool->max_queue = max_queue;
	pool->efd = -1;
	pthread_mutex_init(&pool->lock, NULL);
	pthread_cond_init(&pool->cond, NULL);
	if ((pool->efd = eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC)) == -1)
		goto fail;
	pool->ev = event_new(base, pool->efd, EV_READ | EV_PERSIST,
	    pool_readable, pool);
	if (pool->ev == NULL || event_add(pool->ev, NULL) == -1)
		goto fail;
	if ((pool->threads = calloc(threads, sizeof(pthread_t))) == NULL)
		goto fail;
	for (i = 0; i < threads; i++) {
		if (pthread_create(&pool->threads[i], NULL, pool_thread,
		        pool) != 0)
			goto fail;
		pool->nthreads++;
	}
	return pool;
fail:
	log_error("pool %s: cannot start: %s", name, strerror(errno));
	pool_free(pool);
	return NULL;
}

int
pool_submit(struct pool *pool, pool_fn work, pool_fn done, void *arg)
{
	struct job *j;

	pthread_mutex_lock(&pool->lock);
	if (pool->queued >= pool->max_queue || pool->stopping) {
		pthread_mutex_unlock(&pool->lock);
		return -1;
	}
	if ((j = malloc(sizeof(*j))) == NULL) {
		pthread_mutex_unlock(&pool->lock);
		return -1;
	}
	j->work = work;
	j->done = done;
	j->arg = arg;
	jobq_push(&pool->waiting, j);
	pool->queued++;
	pool->pending++;
	pthread_cond_signal(&pool->cond);
	pthread_mutex_unlock(&pool->lock);
	return 0;
}

void
pool_set_nice(struct pool *pool, int nice)
{
	pthread_mutex_lock(&pool->lock);
	pool->nice = nice;
	pthread_mutex_unlock(&pool->lock);
}

unsigned
pool_pending(const struct pool *pool)
{
	return pool->pending;
}

void
pool_free(struct pool *pool)
{
	unsigned i;

	if (pool == NULL)
		return;
	/* Threads finish every queued job before they see stopping. */
	pthread_mutex_lock(&pool->lock);
	pool->stopping = 1;
	pthread_cond_broadcast(&pool->cond);
	pthread_mutex_unlock(&pool->lock);
	for (i = 0; i < pool->nthreads; i++)
		pthread_join(pool->threads[i], NULL);
	if (pool->efd != -1)
		pool_drain(pool);
	if (pool->ev != NULL)
		event_free(pool->ev);
	if (pool->efd != -1)
		close(pool->efd);
	free(pool->threads);
	pthread_mutex_destroy(&pool->lock);
	pthread_cond_destroy(&pool->cond);
	free(pool);
}
