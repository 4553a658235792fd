/*
 * ctl_import.h - reading a data directory written by one of the original
 * assignment's Python servers: its accounts (with their unsalted SHA3
 * password digests) and its mail (one JSON file per message), into a plan
 * of what to add to the store. Whatever does not fit the known layouts is
 * reported, one line each, and left out: nothing is guessed.
 *
 * Known layouts: one folder per account, named in lower case, upper case or
 * as typed (names fold to lower case; two folders that fold to one name are
 * both reported and skipped); the password in "pass" or "pass.json", raw hex
 * or a JSON object holding it under "password_hash", "password" or "hash",
 * SHA3-512 (128 hex digits) or SHA3-224 (56); mail files in the account
 * folder or one sub-folder below it, any name, JSON with the keys sender,
 * destination, subject, date and content (in any order); a LOST folder of
 * undeliverable mail in the same forms.
 */
#ifndef GLOMAILD_CTL_IMPORT_H
#define GLOMAILD_CTL_IMPORT_H

#include <stddef.h>
#include <time.h>

#include "rules.h"

#define IMPORT_FILE_MAX (16 * 1024 * 1024) /* one mail file, at most */

enum import_hash {
	IMPORT_SHA3_224,
	IMPORT_SHA3_512,
};

struct import_account {
	char name[RULES_USERNAME_MAX + 1]; /* canonical (lower case) */
	char folder[256];                  /* as found in the source */
	enum import_hash kind;
	char hex[129]; /* lower-case digest */
	size_t nmail;
};

struct import_mail {
	char owner[RULES_USERNAME_MAX + 1]; /* account, or "" for LOST */
	char path[512]; /* relative to the source directory */
	char *sender;
	char *destination;
	char *subject;
	char *date; /* as written */
	char *content;
	time_t when;
	char id[33]; /* hex of a digest of path and bytes: the same
	                file always gives the same id */
};

struct import_plan {
	struct import_account *accounts;
	size_t naccounts;
	struct import_mail *mails;
	size_t nmails;
	char **problems; /* "path: reason", one per thing left out */
	size_t nproblems;
};

/*
 * Read the source directory (never following a symbolic link). Returns 0
 * with a plan (free it with import_plan_free), or -1 with errno set when the
 * directory itself cannot be read.
 */
int import_scan(const char *src, struct import_plan **plan_r);

void import_plan_free(struct import_plan *plan);

/* The scheme prefix a legacy digest is stored under in a pass file. */
const char *import_hash_scheme(enum import_hash kind);

#endif
