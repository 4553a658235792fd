/*
 * penalty.h - failed-login throttling, after Dovecot's auth penalty. Each
 * failed login for an account doubles the wait before the next password
 * check for that account, up to a ceiling; a success clears it. Checks of
 * one account take turns: a login waits for the one before it to finish,
 * so parallel connections guess no faster than one (a user's own parallel
 * logins, without failures, may run two at a time). An address is throttled
 * as a whole only when it is clearly guessing across accounts (failures on
 * many distinct names): one user's typos do not slow the others of a host.
 * Waits are timers on the reactor, so the client waiting is held and nobody
 * else is.
 */
#ifndef GLOMAILD_PENALTY_H
#define GLOMAILD_PENALTY_H

#include <event2/event.h>

struct penalty;
struct penalty_turn;

/* Distinct names failed from one address that make it "guessing". */
#define PENALTY_GUESS_NAMES 10
/* Checks of one account without recent failures that may run at once. */
#define PENALTY_PARALLEL 2
/*
 * Logins that may wait for an account with recent failures (or a guessing
 * address); for one without, a burst of the owner's own logins may queue
 * up to the larger bound.
 */
#define PENALTY_QUEUE_MAX 4
#define PENALTY_QUEUE_CLEAN_MAX 64

enum penalty_outcome {
	PENALTY_SUCCEEDED,      /* the password was right */
	PENALTY_FAILED,         /* a wrong password for an existing account */
	PENALTY_FAILED_UNKNOWN, /* no such account */
	PENALTY_ABANDONED,      /* no password was checked */
};

/*
 * First delay base_ms after one failure, doubling per failure up to max_ms.
 * base_ms 0 turns throttling off. NULL on failure.
 */
struct penalty *penalty_new(struct event_base *base, unsigned base_ms,
    unsigned max_ms);

/*
 * Run every waiting login's call now (their connections are closed), then
 * free. Turns being checked stay valid for penalty_leave, which then only
 * frees them.
 */
void penalty_free(struct penalty *pen);

/*
 * Reserve the next password check for user from addr, before any hashing,
 * so that parallel logins see it. Returns 1: check now; 0: fn(arg) runs on
 * the reactor when the turn comes (after the checks ahead of it and the
 * penalty, see penalty_refused); -1: refused, errno EBUSY (too many logins
 * already waiting for this account or address) or ENOMEM. Unless -1, *turn_r is set (NULL when
 * throttling is off) and must be given to penalty_leave exactly once.
 * log_id is the connection id for the "delayed" log line. wanted(arg),
 * when not NULL, says whether the login is still wanted (its client still
 * there): one that is not gets fn(arg) at once when its turn comes instead
 * of waiting out a penalty, so logins abandoned in the queue hold nobody up.
 */
int penalty_enter(struct penalty *pen, const char *user, const char *addr,
    unsigned long long log_id, void (*fn)(void *), int (*wanted)(void *),
    void *arg, struct penalty_turn **turn_r);

/*
 * 1 when fn ran for a turn refused after all (a failure made its queue too
 * long): answer that login "try again later", then leave it abandoned.
 */
int penalty_refused(const struct penalty_turn *turn);

/* The check of a turn ended (NULL: nothing); the next login's turn comes. */
void penalty_leave(struct penalty_turn *turn, enum penalty_outcome outcome);

/*
 * Milliseconds a login for user from addr would wait now for its penalty,
 * not counting turns ahead of it (0: none).
 */
unsigned penalty_delay(struct penalty *pen, const char *user,
    const char *addr);

#endif
