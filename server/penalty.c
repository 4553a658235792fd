/*
 * penalty.c - failed-login throttling: a bounded table of recent failures
 * by account ("u:name") and by address ("a:addr"), and the timers that hold
 * delayed logins.
 *
 * The delay after n failures is base * 2^(n-1), capped, counted from the last
 * failure, as Dovecot counts it: a client that waits anyway pays nothing
 * more. Entries are forgotten an hour after their last failure, and when the
 * table is full the stalest one makes room, so a flood of made-up names costs
 * a bounded amount of memory; it can push out an account's entry, but not the
 * flooding address's own.
 */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "penalty.h"

#define PENALTY_ENTRIES_MAX 8192
#define PENALTY_FORGET_MS (60ULL * 60 * 1000)

struct penalty_entry {
	char key[96];
	unsigned failures;
	uint64_t last_ms;   /* monotonic time of the last failure */
};

struct penalty_wait {
	struct penalty *pen;
	struct event *ev;
	void (*fn)(void *);
	void *arg;
	struct penalty_wait *prev, *next;
};

struct penalty {
	struct event_base *base;
	unsigned base_ms, max_ms;
	struct penalty_entry *entries;
	size_t n;
	struct penalty_wait *waits;
};

static uint64_t
now_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000 + (uint64_t)ts.tv_nsec / 1000000;
}

struct penalty *
penalty_new(struct event_base *base, unsigned base_ms, unsigned max_ms)
{
	struct penalty *pen;

	if ((pen = calloc(1, sizeof(*pen))) == NULL)
		return NULL;
	pen->base = base;
	pen->base_ms = base_ms;
	pen->max_ms = max_ms < base_ms ? base_ms : max_ms;
	if (base_ms > 0 && (pen->entries = calloc(PENALTY_ENTRIES_MAX,
	    sizeof(*pen->entries))) == NULL) {
		free(pen);
		return NULL;
	}
	return pen;
}

/* Unlink a wait, free it, then run its call (which may defer again). */
static void
wait_finish(struct penalty_wait *w)
{
	struct penalty *pen = w->pen;
	void (*fn)(void *) = w->fn;
	void *arg = w->arg;

	if (w->prev != NULL)
		w->prev->next = w->next;
	else
		pen->waits = w->next;
	if (w->next != NULL)
		w->next->prev = w->prev;
	event_free(w->ev);
	free(w);
	fn(arg);
}

void
penalty_free(struct penalty *pen)
{
	if (pen == NULL)
		return;
	while (pen->waits != NULL)
		wait_finish(pen->waits);
	free(pen->entries);
	free(pen);
}

static struct penalty_entry *
find(struct penalty *pen, const char *prefix, const char *name)
{
	char key[sizeof(pen->entries[0].key)];
	size_t i;

	snprintf(key, sizeof(key), "%s%s", prefix, name);
	for (i = 0; i < pen->n; i++)
		if (strcmp(pen->entries[i].key, key) == 0)
			return &pen->entries[i];
	return NULL;
}

static unsigned
entry_delay(const struct penalty *pen, const struct penalty_entry *e,
    uint64_t now)
{
	uint64_t d, since;

	if (e == NULL || e->failures == 0)
		return 0;
	d = e->failures > 20 ? pen->max_ms :
	    (uint64_t)pen->base_ms << (e->failures - 1);
	if (d > pen->max_ms)
		d = pen->max_ms;
	since = now - e->last_ms;
	return since >= d ? 0 : (unsigned)(d - since);
}

unsigned
penalty_delay(struct penalty *pen, const char *user, const char *addr)
{
	uint64_t now = now_ms();
	unsigned du, da;

	if (pen->base_ms == 0)
		return 0;
	du = entry_delay(pen, find(pen, "u:", user), now);
	da = entry_delay(pen, find(pen, "a:", addr), now);
	return du > da ? du : da;
}

/* The entry for key, made (reusing a forgotten or the stalest) if need be. */
static struct penalty_entry *
get(struct penalty *pen, const char *prefix, const char *name, uint64_t now)
{
	struct penalty_entry *e = find(pen, prefix, name), *stalest = NULL;
	size_t i;

	if (e != NULL) {
		if (now - e->last_ms > PENALTY_FORGET_MS)
			e->failures = 0;
		return e;
	}
	if (pen->n < PENALTY_ENTRIES_MAX) {
		e = &pen->entries[pen->n++];
	} else {
		for (i = 0; i < pen->n; i++)
			if (stalest == NULL ||
			    pen->entries[i].last_ms < stalest->last_ms)
				stalest = &pen->entries[i];
		e = stalest;
	}
	snprintf(e->key, sizeof(e->key), "%s%s", prefix, name);
	e->failures = 0;
	return e;
}

void
penalty_failed(struct penalty *pen, const char *user, const char *addr)
{
	uint64_t now = now_ms();
	struct penalty_entry *e;

	if (pen->base_ms == 0)
		return;
	e = get(pen, "u:", user, now);
	e->failures++;
	e->last_ms = now;
	e = get(pen, "a:", addr, now);
	e->failures++;
	e->last_ms = now;
}

/* Drop an entry: the last one moves into its slot. */
static void
drop(struct penalty *pen, struct penalty_entry *e)
{
	if (e == NULL)
		return;
	*e = pen->entries[--pen->n];
}

void
penalty_succeeded(struct penalty *pen, const char *user, const char *addr)
{
	if (pen->base_ms == 0)
		return;
	drop(pen, find(pen, "u:", user));
	drop(pen, find(pen, "a:", addr));
}

static void
wait_cb(evutil_socket_t fd, short what, void *arg)
{
	(void)fd;
	(void)what;
	wait_finish(arg);
}

int
penalty_defer(struct penalty *pen, unsigned ms, void (*fn)(void *),
    void *arg)
{
	struct timeval tv = { ms / 1000, (ms % 1000) * 1000 };
	struct penalty_wait *w;

	if ((w = calloc(1, sizeof(*w))) == NULL)
		return -1;
	if ((w->ev = evtimer_new(pen->base, wait_cb, w)) == NULL ||
	    evtimer_add(w->ev, &tv) == -1) {
		if (w->ev != NULL)
			event_free(w->ev);
		free(w);
		return -1;
	}
	w->pen = pen;
	w->fn = fn;
	w->arg = arg;
	w->next = pen->waits;
	if (pen->waits != NULL)
		pen->waits->prev = w;
	pen->waits = w;
	return 0;
}
