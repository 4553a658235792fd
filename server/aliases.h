/*
 * aliases.h - the administrator's table of local names that are not
 * accounts: "name: member, member" lines in the aliases file, each member
 * an account or another name of the table. One member makes an alias, more
 * make a group. "postmaster" (RFC 5321 section 4.5.1) and "mailer-daemon"
 * always exist: postmaster goes to the account the configuration names,
 * mailer-daemon is the sender of notices and receives nothing.
 *
 * A table is immutable once parsed; the reactor thread holds the current
 * one and replaces it whole on SIGHUP, so nothing else ever sees it change.
 */
#ifndef GLOMAILD_ALIASES_H
#define GLOMAILD_ALIASES_H

#include <stddef.h>

#include "rules.h"

#define ALIASES_POSTMASTER "postmaster"
#define ALIASES_MAILER_DAEMON "mailer-daemon"
/* Accounts one name may expand to, and names one line may list. */
#define ALIASES_EXPAND_MAX 1000
/* Longest line of the file. */
#define ALIASES_LINE_MAX 8192

struct aliases;

/* An account name, lower case. */
typedef char aliases_name[RULES_USERNAME_MAX + 1];

/*
 * Parse the text of an aliases file (file: its name, for messages).
 * Returns a new table, or NULL with "FILE:LINE: reason" in err.
 */
struct aliases *aliases_parse(const char *text, size_t len, const char *file,
    char *err, size_t errlen);

/*
 * Read and parse the file at path (NULL: an empty table). A missing file is
 * an error only when required. NULL with "FILE[:LINE]: reason" in err.
 */
struct aliases *aliases_load(const char *path, int required, char *err,
    size_t errlen);

void aliases_free(struct aliases *a);

/*
 * The table's entries in name order, for listing: i from 0 to
 * aliases_count - 1 (NULL past the end); *members_r and *n_r its members.
 */
size_t aliases_count(const struct aliases *a);
const char *aliases_entry(const struct aliases *a, size_t i,
    const aliases_name **members_r, size_t *n_r);

/*
 * Replace the file at path with text (which the caller has parsed): a
 * temporary file beside it written, fsync'd, given the old file's mode,
 * renamed over it, the directory fsync'd, so a crash leaves the old file
 * or the new one. A path that is a symbolic link is refused (ELOOP): the
 * rename would replace the link, not the file it names. 0, or -1 with
 * errno and *step_r.
 */
int aliases_save(const char *path, const char *text, size_t len,
    const char **step_r);

/* 1 when name (lower case) is a name of the table, postmaster and
 * mailer-daemon included: no account may be registered under it. */
int aliases_has(const struct aliases *a, const char *name);

/*
 * The accounts mail to name (lower case) goes to: name itself when it is
 * no alias; the members, recursively and each once, for a group; the
 * postmaster account for postmaster; none for mailer-daemon. A member seen
 * twice (a loop) is skipped. Returns the count written to out (at most
 * max), or -1 when there would be more than max.
 */
int aliases_expand(const struct aliases *a, const char *name,
    const char *postmaster, aliases_name *out, size_t max);

/*
 * For --check-config: report each problem through fn (a loop through a
 * name; a member that is neither a name of the table nor an account, as
 * exists(member, arg) says), as "LINE: name: reason". Returns the number
 * of problems.
 */
int aliases_check(const struct aliases *a,
    int (*exists)(const char *member, void *arg), void *arg,
    void (*fn)(const char *problem, void *arg));

#endif
