/*
 * penalty.h - failed-login throttling, after Dovecot's auth penalty. Each
 * failed login for an account, and each from a client address, doubles the
 * wait before the next login for that account or from that address is even
 * checked, up to a ceiling; a success clears both. The wait is a timer on the
 * reactor, so the client waiting is held and nobody else is.
 */
#ifndef GLOMAILD_PENALTY_H
#define GLOMAILD_PENALTY_H

#include <event2/event.h>

struct penalty;

/*
 * First delay base_ms after one failure, doubling per failure up to max_ms.
 * base_ms 0 turns throttling off. NULL on failure.
 */
struct penalty *penalty_new(struct event_base *base, unsigned base_ms,
    unsigned max_ms);

/* Run every deferred call now (their connections are closed), then free. */
void penalty_free(struct penalty *pen);

/* Milliseconds a login for user from addr must still wait (0: none). */
unsigned penalty_delay(struct penalty *pen, const char *user,
    const char *addr);

/* A login for user from addr failed / succeeded. */
void penalty_failed(struct penalty *pen, const char *user, const char *addr);
void penalty_succeeded(struct penalty *pen, const char *user,
    const char *addr);

/* Call fn(arg) on the reactor in ms milliseconds. 0 or -1 (no memory). */
int penalty_defer(struct penalty *pen, unsigned ms, void (*fn)(void *),
    void *arg);

#endif
