/*
 * account.h - the small files of an account beside its Maildir: the pass
 * file (an Argon2id string, or a legacy digest brought by an import), its
 * atomic replacement, and the markers an administrator sets ("locked") or
 * an import leaves ("imported"). Plain file operations: call them off the
 * reactor.
 */
#ifndef GLOMAILD_ACCOUNT_H
#define GLOMAILD_ACCOUNT_H

#include <stddef.h>

#define ACCOUNT_PASS "pass"
#define ACCOUNT_LOCKED "locked"
#define ACCOUNT_IMPORTED "imported"
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
 * Replace the pass file of DATA/user with content: written to a temporary
 * file, fsync'd, renamed over the old one, and the directory fsync'd, so a
 * crash leaves the old file or the new one. 0, or -1 with errno and *step_r.
 */
int account_pass_write(const char *data_dir, const char *user,
    const char *content, const char **step_r);

/* The same with an Argon2id hash of password. */
int account_pass_set(const char *data_dir, const char *user,
    const char *password, const char **step_r);

/* 1 when the account carries the marker, 0 when not. */
int account_has(const char *data_dir, const char *user, const char *marker);

/* Set (durably) or remove a marker. 0 or -1 with errno. */
int account_mark(const char *data_dir, const char *user, const char *marker,
    const char *content, int on);

#endif
