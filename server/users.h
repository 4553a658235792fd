/*
 * users.h - accounts on disk: DATA/<user>/pass holds a libsodium Argon2id
 * string, DATA/<user>/ is the user's Maildir. Every call takes the data
 * directory's descriptor and works relative to it; an account directory or
 * pass file that is a symbolic link is no account (logged, never followed).
 * These calls hash and touch the disk: run them on a worker thread, never
 * on the reactor.
 */
#ifndef GLOMAILD_USERS_H
#define GLOMAILD_USERS_H

#include <stddef.h>

/* Precompute the hash used to make unknown users cost as much as known ones. */
int users_init(void);

enum users_result {
	USERS_OK,
	USERS_TAKEN,    /* register: the name exists */
	USERS_DENIED,   /* login: unknown user or wrong password */
	USERS_FAILED,   /* the system failed (errno is logged by the caller) */
};

/*
 * Create an account: the user directory with its Maildir and pass file is
 * built aside and renamed into place in one step, so a crash never leaves a
 * half-made account and two registrations of one name cannot both succeed.
 */
enum users_result users_create(int datafd, const char *user,
    const char *password, const char **step_r);

/* Check a password in constant time; unknown users cost the same. */
enum users_result users_verify(int datafd, const char *user,
    const char *password);

/* 1 when the account exists. */
int users_exists(int datafd, const char *user);

/*
 * 1 when a data-directory entry is an account still being built: at
 * start-up, one left by a crash is garbage (it never became an account).
 */
int users_is_staging(const char *name);

/*
 * Remove the staging account name of the data directory, and what it holds,
 * without following any link in it. 0, or -1 with errno set.
 */
int users_remove_staging(int datafd, const char *name);

/* A fresh staging name (".new-<random>"): a tree renamed to it is garbage
 * that start-up removes, which makes removing an account crash-safe. */
void users_staging_name(char *buf, size_t len);

/*
 * Create an account as users_create does, with pass as the pass file's
 * content (a hash already made, or a legacy digest under its scheme) and,
 * when marker is not NULL, a marker file holding marker_text.
 */
enum users_result users_create_pass(int datafd, const char *user,
    const char *pass, const char *marker, const char *marker_text,
    const char **step_r);

#endif
