/*
 * penalty.c - failed-login throttling: recent failures by account ("u:name")
 * and by address ("a:addr") in one hash table, the turns that serialise
 * password checks, and the timers that hold delayed logins.
 *
 * The delay after n failures is base * 2^(n-1), capped, counted from the last
 * failure, as Dovecot counts it: a client that waits anyway pays nothing
 * more. A check is reserved (the entry's turn taken) on the reactor before
 * its hash is computed, and the next login for that account waits until the
 * result is in, so forty parallel connections get no more checks than one.
 *
 * Memory: entries of existing accounts are kept apart and never evicted
 * (they are bounded by the number of accounts); names that do not exist and
 * addresses share a table of PENALTY_ENTRIES_MAX idle entries where the
 * stalest makes room, so a flood of made-up names costs bounded memory and
 * cannot push out a real account's penalty. Entries in use by a turn are
 * never evicted; turns are bounded by connections. Everything is forgotten
 * an hour after its last failure.
 *
 * The table is keyed with a secret SipHash key (crypto_shorthash), so a peer
 * cannot choose names that collide in one bucket.
 */
#include <sys/queue.h>

#include <errno.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <sodium.h>

#include "log.h"
#include "penalty.h"

#define PENALTY_ENTRIES_MAX 8192
#define PENALTY_FORGET_MS (60ULL * 60 * 1000)
/* The window in which distinct failed names count towards "guessing". */
#define PENALTY_GUESS_WINDOW_MS (15ULL * 60 * 1000)
#define PENALTY_BUCKETS_MIN 1024

enum turn_stage {
	TURN_QUEUED,  /* behind another check of its account or address */
	TURN_TIMER,   /* waiting out its penalty (or about to run) */
	TURN_RUNNING, /* fn was called or the caller checks now */
};

TAILQ_HEAD(turn_queue, penalty_turn);

struct penalty_entry {
	LIST_ENTRY(penalty_entry) chain;  /* hash bucket */
	TAILQ_ENTRY(penalty_entry) age;   /* its list, stalest first */
	uint64_t hash;
	char key[96];
	int known;                        /* an existing account's */
	unsigned refs;                    /* turns using it */
	unsigned failures;
	uint64_t last_ms;                 /* monotonic time of the last failure */
	unsigned holders;                 /* turns being checked or delayed */
	struct turn_queue waiting;
	unsigned nwaiting;
	/* Addresses: logins in progress for names without failures (names
	 * it may be trying), distinct names failed recently. */
	unsigned active;
	uint64_t names[PENALTY_GUESS_NAMES];
	uint64_t names_ms[PENALTY_GUESS_NAMES];
};

TAILQ_HEAD(entry_list, penalty_entry);
LIST_HEAD(entry_bucket, penalty_entry);

struct penalty_turn {
	struct penalty *pen;              /* NULL once the table is freed */
	struct penalty_entry *user, *addr;
	int holds_user, holds_addr, need_addr;
	int refused;                      /* taken out of a queue grown long */
	int counted;                      /* in its address's active count */
	enum turn_stage stage;
	struct event *ev;
	void (*fn)(void *);
	int (*wanted)(void *);
	void *arg;
	unsigned long long log_id;
	TAILQ_ENTRY(penalty_turn) queue;  /* in the entry it waits for */
	TAILQ_ENTRY(penalty_turn) all;    /* pen->turns */
};

struct penalty {
	struct event_base *base;
	unsigned base_ms, max_ms;
	unsigned char hkey[crypto_shorthash_KEYBYTES];
	struct entry_bucket *buckets;
	size_t nbuckets, nentries;
	struct entry_list known;          /* existing accounts: never evicted */
	struct entry_list other;          /* unknown names and addresses */
	size_t nother;
	TAILQ_HEAD(, penalty_turn) turns;
	int closing;
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

	if (sodium_init() < 0 || (pen = calloc(1, sizeof(*pen))) == NULL)
		return NULL;
	pen->base = base;
	pen->base_ms = base_ms;
	pen->max_ms = max_ms < base_ms ? base_ms : max_ms;
	crypto_shorthash_keygen(pen->hkey);
	TAILQ_INIT(&pen->known);
	TAILQ_INIT(&pen->other);
	TAILQ_INIT(&pen->turns);
	pen->nbuckets = PENALTY_BUCKETS_MIN;
	if (base_ms > 0 && (pen->buckets = calloc(pen->nbuckets,
	    sizeof(*pen->buckets))) == NULL) {
		free(pen);
		return NULL;
	}
	return pen;
}

static uint64_t
key_hash(const struct penalty *pen, const char *key)
{
	unsigned char out[crypto_shorthash_BYTES];
	uint64_t h;

	crypto_shorthash(out, (const unsigned char *)key, strlen(key),
	    pen->hkey);
	memcpy(&h, out, sizeof(h));
	return h;
}

static struct entry_list *
entry_list_of(struct penalty *pen, const struct penalty_entry *e)
{
	return e->known ? &pen->known : &pen->other;
}

static int
entry_idle(const struct penalty_entry *e)
{
	return e->refs == 0;
}

static void
entry_remove(struct penalty *pen, struct penalty_entry *e)
{
	LIST_REMOVE(e, chain);
	TAILQ_REMOVE(entry_list_of(pen, e), e, age);
	if (!e->known)
		pen->nother--;
	pen->nentries--;
	free(e);
}

static struct penalty_entry *
find(struct penalty *pen, const char *prefix, const char *name, char *key,
    size_t keylen, uint64_t *hash_r)
{
	struct penalty_entry *e;

	snprintf(key, keylen, "%s%s", prefix, name);
	*hash_r = key_hash(pen, key);
	LIST_FOREACH(e, &pen->buckets[*hash_r & (pen->nbuckets - 1)], chain)
		if (e->hash == *hash_r && strcmp(e->key, key) == 0)
			return e;
	return NULL;
}

/* Double the buckets when the table is fuller than one entry per bucket. */
static void
grow(struct penalty *pen)
{
	struct entry_bucket *nb;
	struct penalty_entry *e;
	size_t n = pen->nbuckets * 2, i;

	if (pen->nentries <= pen->nbuckets ||
	    (nb = calloc(n, sizeof(*nb))) == NULL)
		return; /* a longer chain is slower, not wrong */
	for (i = 0; i < pen->nbuckets; i++)
		while ((e = LIST_FIRST(&pen->buckets[i])) != NULL) {
			LIST_REMOVE(e, chain);
			LIST_INSERT_HEAD(&nb[e->hash & (n - 1)], e, chain);
		}
	free(pen->buckets);
	pen->buckets = nb;
	pen->nbuckets = n;
}

/* Drop what is idle and forgotten, from the stale end of each list. */
static void
prune(struct penalty *pen, struct entry_list *list, uint64_t now)
{
	struct penalty_entry *e;

	while ((e = TAILQ_FIRST(list)) != NULL && entry_idle(e) &&
	    now - e->last_ms > PENALTY_FORGET_MS)
		entry_remove(pen, e);
}

/* The entry for prefix+name, made if need be (NULL: no memory). */
static struct penalty_entry *
get(struct penalty *pen, const char *prefix, const char *name, uint64_t now)
{
	char key[sizeof(((struct penalty_entry *)0)->key)];
	struct penalty_entry *e, *old;
	uint64_t h;

	if ((e = find(pen, prefix, name, key, sizeof(key), &h)) != NULL)
		return e;
	if (pen->nother >= PENALTY_ENTRIES_MAX) {
		/* The stalest idle entry makes room; busy ones are few. */
		TAILQ_FOREACH(old, &pen->other, age)
			if (entry_idle(old))
				break;
		if (old != NULL)
			entry_remove(pen, old);
	}
	if ((e = calloc(1, sizeof(*e))) == NULL)
		return NULL;
	memcpy(e->key, key, sizeof(e->key));
	e->hash = h;
	e->last_ms = now;
	TAILQ_INIT(&e->waiting);
	LIST_INSERT_HEAD(&pen->buckets[h & (pen->nbuckets - 1)], e, chain);
	TAILQ_INSERT_TAIL(&pen->other, e, age);
	pen->nother++;
	pen->nentries++;
	grow(pen);
	return e;
}

/* An entry without turns, failures or names is worth nothing: drop it. */
static void
unref(struct penalty *pen, struct penalty_entry *e)
{
	size_t i;

	if (--e->refs > 0 || e->failures > 0)
		return;
	for (i = 0; i < PENALTY_GUESS_NAMES; i++)
		if (e->names[i] != 0)
			return;
	entry_remove(pen, e);
}

static unsigned
entry_delay(const struct penalty *pen, const struct penalty_entry *e,
    uint64_t now)
{
	uint64_t d, since;

	if (e == NULL || e->failures == 0 ||
	    now - e->last_ms > PENALTY_FORGET_MS)
		return 0;
	d = e->failures > 20 ? pen->max_ms :
	    (uint64_t)pen->base_ms << (e->failures - 1);
	if (d > pen->max_ms)
		d = pen->max_ms;
	since = now - e->last_ms;
	return since >= d ? 0 : (unsigned)(d - since);
}

/* Distinct names failed from this address in the window. */
static unsigned
recent_names(const struct penalty_entry *a, uint64_t now)
{
	unsigned i, n = 0;

	for (i = 0; i < PENALTY_GUESS_NAMES; i++)
		if (a->names[i] != 0 &&
		    now - a->names_ms[i] < PENALTY_GUESS_WINDOW_MS)
			n++;
	return n;
}

/* The address is guessing: its own penalty applies to every login. */
static int
guessing(const struct penalty_entry *a, uint64_t now)
{
	return a != NULL && recent_names(a, now) >= PENALTY_GUESS_NAMES;
}

static void
name_add(struct penalty_entry *a, uint64_t name, uint64_t now)
{
	unsigned i, slot = 0;

	for (i = 0; i < PENALTY_GUESS_NAMES; i++) {
		if (a->names[i] == name) {
			slot = i;
			break;
		}
		if (a->names[i] == 0 || a->names_ms[i] < a->names_ms[slot])
			slot = i;
	}
	a->names[slot] = name;
	a->names_ms[slot] = now;
}

static void
name_remove(struct penalty_entry *a, uint64_t name)
{
	unsigned i;

	for (i = 0; i < PENALTY_GUESS_NAMES; i++)
		if (a->names[i] == name)
			a->names[i] = 0;
}

unsigned
penalty_delay(struct penalty *pen, const char *user, const char *addr)
{
	char key[sizeof(((struct penalty_entry *)0)->key)];
	struct penalty_entry *a;
	uint64_t now = now_ms(), h;
	unsigned du, da = 0;

	if (pen->base_ms == 0)
		return 0;
	du = entry_delay(pen, find(pen, "u:", user, key, sizeof(key), &h),
	    now);
	a = find(pen, "a:", addr, key, sizeof(key), &h);
	if (guessing(a, now))
		da = entry_delay(pen, a, now);
	return du > da ? du : da;
}

static void turn_cb(evutil_socket_t, short, void *);

static int
has_failures(const struct penalty_entry *e, uint64_t now)
{
	return e->failures > 0 && now - e->last_ms <= PENALTY_FORGET_MS;
}

/*
 * Whether a turn may take e now. An account without recent failures lets
 * PENALTY_PARALLEL checks run at once (a user's own parallel logins);
 * with failures, or for an address, one at a time.
 */
static int
may_take(const struct penalty_entry *e, int is_user, uint64_t now)
{
	if (e->holders == 0)
		return 1;
	return is_user && e->holders < PENALTY_PARALLEL &&
	    !has_failures(e, now);
}

/* How many may wait for e: few once it is being guessed. */
static unsigned
queue_max(const struct penalty_entry *e, int is_user, uint64_t now)
{
	if (is_user ? has_failures(e, now) : guessing(e, now))
		return PENALTY_QUEUE_MAX;
	return PENALTY_QUEUE_CLEAN_MAX;
}

/*
 * Move a turn on: take the address's turn when it must, then the
 * account's, then wait out the penalty. 1 when it may be checked now, 0
 * when it waits (queued or on its timer). The address comes before the
 * account and a turn holding an account never waits for an address, so
 * turns cannot wait for each other in a circle.
 */
static int
turn_advance(struct penalty_turn *t)
{
	struct penalty *pen = t->pen;
	struct timeval tv;
	uint64_t now = now_ms();
	unsigned d, da = 0;

	if (t->need_addr && !t->holds_addr) {
		if (!may_take(t->addr, 0, now)) {
			TAILQ_INSERT_TAIL(&t->addr->waiting, t, queue);
			t->addr->nwaiting++;
			t->stage = TURN_QUEUED;
			return 0;
		}
		t->addr->holders++;
		t->holds_addr = 1;
	}
	if (!t->holds_user) {
		if (!may_take(t->user, 1, now)) {
			TAILQ_INSERT_TAIL(&t->user->waiting, t, queue);
			t->user->nwaiting++;
			t->stage = TURN_QUEUED;
			return 0;
		}
		t->user->holders++;
		t->holds_user = 1;
	}
	d = entry_delay(pen, t->user, now);
	if (t->holds_addr && guessing(t->addr, now))
		da = entry_delay(pen, t->addr, now);
	if (da > d)
		d = da;
	if (d > 0 && (t->wanted == NULL || t->wanted(t->arg))) {
		log_write(LOG_LEVEL_INFO, t->log_id,
		    "login user=%s delayed ms=%u after failures",
		    t->user->key + 2, d);
		tv.tv_sec = d / 1000;
		tv.tv_usec = (d % 1000) * 1000;
		if (evtimer_add(t->ev, &tv) == 0) {
			t->stage = TURN_TIMER;
			return 0;
		}
	}
	t->stage = TURN_RUNNING;
	return 1;
}

/* Start t from the loop, not from inside whoever ended the last turn. */
static void
turn_soon(struct penalty_turn *t)
{
	struct timeval now = { 0, 0 };

	t->stage = TURN_TIMER;
	if (evtimer_add(t->ev, &now) == -1) {
		t->stage = TURN_RUNNING;
		t->fn(t->arg);
	}
}

/* Turns woken from e's queue, as many as may take it: on their way again. */
static void
turn_wake(struct penalty_entry *e, int is_user)
{
	struct penalty_turn *t;

	while ((t = TAILQ_FIRST(&e->waiting)) != NULL &&
	    may_take(e, is_user, now_ms())) {
		TAILQ_REMOVE(&e->waiting, t, queue);
		e->nwaiting--;
		if (turn_advance(t) == 1)
			turn_soon(t);
	}
}

/*
 * A queue that grew while nobody was guessing is cut to the short bound
 * once somebody is: the last comers are refused, so the account's owner
 * does not wait behind a whole burst served one penalty at a time.
 */
static void
trim(struct penalty_entry *e, int is_user, uint64_t now)
{
	struct penalty_turn *t;

	while (e->nwaiting > queue_max(e, is_user, now) &&
	    (t = TAILQ_LAST(&e->waiting, turn_queue)) != NULL) {
		TAILQ_REMOVE(&e->waiting, t, queue);
		e->nwaiting--;
		t->refused = 1;
		turn_soon(t);
	}
}

static void
turn_cb(evutil_socket_t fd, short what, void *arg)
{
	struct penalty_turn *t = arg;

	(void)fd;
	(void)what;
	t->stage = TURN_RUNNING;
	t->fn(t->arg);
}

int
penalty_enter(struct penalty *pen, const char *user, const char *addr,
    unsigned long long log_id, void (*fn)(void *), int (*wanted)(void *),
    void *arg, struct penalty_turn **turn_r)
{
	struct penalty_entry *u = NULL, *a = NULL;
	struct penalty_turn *t = NULL;
	uint64_t now = now_ms();

	*turn_r = NULL;
	if (pen->base_ms == 0)
		return 1;
	prune(pen, &pen->known, now);
	prune(pen, &pen->other, now);
	if ((a = get(pen, "a:", addr, now)) == NULL)
		goto nomem;
	a->refs++;
	if ((u = get(pen, "u:", user, now)) == NULL)
		goto nomem;
	u->refs++;
	if ((t = calloc(1, sizeof(*t))) == NULL ||
	    (t->ev = evtimer_new(pen->base, turn_cb, t)) == NULL)
		goto nomem;
	t->pen = pen;
	t->user = u;
	t->addr = a;
	t->fn = fn;
	t->wanted = wanted;
	t->arg = arg;
	t->log_id = log_id;
	/*
	 * Checks in progress from the address count as names it may be
	 * guessing, so a burst of parallel logins on made-up names cannot all
	 * be checked before the first result is in. Retries on an account
	 * that already failed do not: they wait for that account anyway, and
	 * must not make the address look like guessing for everyone.
	 */
	t->need_addr = recent_names(a, now) + a->active >= PENALTY_GUESS_NAMES;
	if ((t->need_addr && a->holders > 0 &&
	    a->nwaiting >= queue_max(a, 0, now)) ||
	    (u->holders > 0 && u->nwaiting >= queue_max(u, 1, now))) {
		event_free(t->ev);
		free(t);
		unref(pen, u);
		unref(pen, a);
		errno = EBUSY;
		return -1;
	}
	if (!has_failures(u, now)) {
		t->counted = 1;
		a->active++;
	}
	TAILQ_INSERT_TAIL(&pen->turns, t, all);
	*turn_r = t;
	return turn_advance(t);
nomem:
	free(t);
	if (u != NULL)
		unref(pen, u);
	if (a != NULL)
		unref(pen, a);
	errno = ENOMEM;
	return -1;
}

/* Count a failure; an existing account's entry moves to its own list. */
static void
record_failure(struct penalty *pen, struct penalty_entry *e, int known,
    uint64_t now)
{
	TAILQ_REMOVE(entry_list_of(pen, e), e, age);
	if (!e->known)
		pen->nother--;
	if (known)
		e->known = 1;
	if (now - e->last_ms > PENALTY_FORGET_MS)
		e->failures = 0;
	e->failures++;
	e->last_ms = now;
	TAILQ_INSERT_TAIL(entry_list_of(pen, e), e, age);
	if (!e->known)
		pen->nother++;
}

static void
turn_free(struct penalty_turn *t)
{
	if (t->ev != NULL)
		event_free(t->ev);
	free(t);
}

void
penalty_leave(struct penalty_turn *t, enum penalty_outcome outcome)
{
	struct penalty *pen;
	struct penalty_entry *u, *a;
	uint64_t now = now_ms();

	if (t == NULL)
		return;
	if ((pen = t->pen) == NULL) {
		turn_free(t);
		return;
	}
	u = t->user;
	a = t->addr;
	switch (outcome) {
	case PENALTY_FAILED:
	case PENALTY_FAILED_UNKNOWN:
		record_failure(pen, u, outcome == PENALTY_FAILED, now);
		record_failure(pen, a, 0, now);
		name_add(a, u->hash, now);
		if (!pen->closing) {
			trim(u, 1, now);
			trim(a, 0, now);
		}
		break;
	case PENALTY_SUCCEEDED:
		/* Typos of someone who then got in are not guessing. */
		u->failures = 0;
		name_remove(a, u->hash);
		break;
	case PENALTY_ABANDONED:
		break;
	}
	if (t->stage == TURN_QUEUED) {
		struct penalty_entry *q = t->holds_addr || !t->need_addr ?
		    u : a;

		TAILQ_REMOVE(&q->waiting, t, queue);
		q->nwaiting--;
	}
	TAILQ_REMOVE(&pen->turns, t, all);
	if (t->counted)
		a->active--;
	if (t->holds_user) {
		u->holders--;
		if (!pen->closing)
			turn_wake(u, 1);
	}
	if (t->holds_addr) {
		a->holders--;
		if (!pen->closing)
			turn_wake(a, 0);
	}
	unref(pen, u);
	unref(pen, a);
	turn_free(t);
}

int
penalty_refused(const struct penalty_turn *t)
{
	return t != NULL && t->refused;
}

void
penalty_free(struct penalty *pen)
{
	struct penalty_turn *t;
	struct penalty_entry *e;
	size_t i;

	if (pen == NULL)
		return;
	pen->closing = 1;
	while ((t = TAILQ_FIRST(&pen->turns)) != NULL) {
		if (t->stage == TURN_RUNNING) {
			/* Being checked: its penalty_leave only frees it. */
			TAILQ_REMOVE(&pen->turns, t, all);
			if (t->counted)
				t->addr->active--;
			if (t->holds_user)
				t->user->holders--;
			if (t->holds_addr)
				t->addr->holders--;
			t->user->refs--;
			t->addr->refs--;
			t->pen = NULL;
			event_free(t->ev);
			t->ev = NULL;
			continue;
		}
		if (t->stage == TURN_QUEUED) {
			e = t->holds_addr || !t->need_addr ? t->user : t->addr;
			TAILQ_REMOVE(&e->waiting, t, queue);
			e->nwaiting--;
		}
		evtimer_del(t->ev);
		t->stage = TURN_RUNNING;
		t->fn(t->arg);
	}
	if (pen->buckets != NULL)
		for (i = 0; i < pen->nbuckets; i++)
			while ((e = LIST_FIRST(&pen->buckets[i])) != NULL)
				entry_remove(pen, e);
	free(pen->buckets);
	free(pen);
}
