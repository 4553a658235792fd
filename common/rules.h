/*
 * rules.h - the account, address and date rules that server and client share.
 *
 * Reasons handed out through why_r are short, stable English sentences: the
 * server sends them to peers and the client translates them.
 */
#ifndef GLOMAIL_RULES_H
#define GLOMAIL_RULES_H

#include <stddef.h>
#include <time.h>

#define RULES_USERNAME_MAX 64
#define RULES_PASSWORD_MIN 10   /* code points, as the seed counts them */
#define RULES_PASSWORD_MAX 1024 /* bytes: bounds the hashing input */
#define RULES_DATE_LEN 40       /* room for "Tue, 12 Jul 2022 19:21:57 +0000" */
#define RULES_LOST_DIR "LOST"
/*
 * Longest subject, in bytes of UTF-8: RFC 5322's 998-character line, which
 * RFC 6532 counts in octets. It also bounds what one list line can cost.
 */
#define RULES_SUBJECT_MAX 998

/*
 * Check a user name (ASCII letters, digits, '_', '.', '-'; 1 to 64
 * characters; not ".", "..", a leading '.', nor the LOST folder's name)
 * and write its lower-case form, the account's canonical name.
 * Returns 0, or -1 with *why_r set.
 */
int rules_username(const char *name, char lower_r[RULES_USERNAME_MAX + 1],
    const char **why_r);

/*
 * The seed's password policy: at least 10 characters, one digit, one
 * lower-case and one upper-case ASCII letter; valid UTF-8; at most 1 KiB.
 */
int rules_password(const char *password, const char **why_r);

enum rules_addr {
	RULES_ADDR_LOCAL,    /* user@<domain>; *user_r holds the account name */
	RULES_ADDR_EXTERNAL, /* well formed, another domain */
	RULES_ADDR_INVALID,
};

/* Classify an address against the local domain (case-insensitive). */
enum rules_addr rules_address(const char *addr, const char *domain,
    char user_r[RULES_USERNAME_MAX + 1], const char **why_r);

/*
 * 0 when s may go in a mail header: valid UTF-8 without a control character,
 * C0 (CR, LF, TAB, ESC...), DEL or C1 (U+0080 to U+009F, e.g. U+009B, CSI).
 */
int rules_header_safe(const char *s);

/* A subject: header safe and at most RULES_SUBJECT_MAX bytes. */
int rules_subject(const char *subject, const char **why_r);

/* Format t as the seed does ("Tue, 12 Jul 2022 19:21:57 +0000", UTC, C locale).
 */
size_t rules_date(time_t t, char buf[RULES_DATE_LEN]);

#endif
