/*
 * account.h - the small files of an account beside its Maildir: the pass
 * file (an Argon2id string, or a legacy digest brought by an import), its
 * atomic replacement, and the markers an administrator sets ("locked"),
 * an import leaves ("imported") or a login refreshes ("last-login"). Plain file operations: call them off the
 * reactor.
 */
#ifndef GLOMAILD_ACCOUNT_H
#define GLOMAILD_ACCOUNT_H

#include <stddef.h>
#include <time.h>

#define ACCOUNT_PASS "pass"
#define ACCOUNT_LOCKED "locked"
#define ACCOUNT_IMPORTED "imported"
#define ACCOUNT_LAST_LOGIN "last-login"
/* The longest pass file: an Argon2id string or a legacy scheme and digest. */
#define ACCOUNT_PASS_MAX 256

/*
 * Whether password matches a legacy pass line "{SHA3-512.HEX}<hex>" or
 * "{SHA3-224.HEX}<hex>" (unsalted digests of the original servers),
 * compared in constant time: 1 yes, 0 no, -1 an unknown or malformed scheme
 * (which must deny).
 */
int account_legacy_verify(const char *stored, const char *password);

/* 1 when a pass line is in a legacy scheme (starts with '{'). */
int account_is_legacy(const char *stored);

/*
 * Replace the pass file of the account user (in the data directory datafd)
 * with content: written to a temporary
 * file, fsync'd, renamed over the old one, and the directory fsync'd, so a
 * crash leaves the old file or the new one. 0, or -1 with errno and *step_r.
 */
int account_pass_write(int datafd, const char *user,
    const char *content, const char **step_r);

/* The same with an Argon2id hash of password. */
int account_pass_set(int datafd, const char *user,
    const char *password, const char **step_r);

/* 1 when the account carries the marker, 0 when not. */
int account_has(int datafd, const char *user, const char *marker);

/* Set (durably) or remove a marker. 0 or -1 with errno. */
int account_mark(int datafd, const char *user, const char *marker,
    const char *content, int on);

/* Set a marker's time to now, creating it if need be (not made durable:
 * a login time is advice). 0 or -1. */
int account_touch(int datafd, const char *user, const char *name);

/* A marker's time, or -1 when it is not there. */
time_t account_time(int datafd, const char *user, const char *name);

#endif
