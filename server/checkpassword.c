/*
 * checkpassword.c - glomail-checkpassword, a checkpassword program
 * (qmail's interface, with Dovecot's extensions) that checks a password
 * against glomail's accounts, so that Dovecot serves the same Maildirs over
 * IMAP with the same passwords.
 *
 *   glomail-checkpassword DATA-DIR PROG [ARG...]
 *
 * Reads "user\0password\0timestamp\0" (at most 512 bytes) from descriptor 3.
 * A good password: exports USER, HOME (the account's Maildir) and, through
 * EXTRA, userdb_uid/userdb_gid (the owner of that Maildir, so that Dovecot's
 * mail processes run as the store's owner) and userdb_mail, then executes
 * PROG (Dovecot's checkpassword-reply). Exit status 1: unknown account or
 * wrong password; 2: usage; 111: a temporary failure (a store it may not
 * read, no memory). With AUTHORIZED=1 in the environment (Dovecot's userdb
 * lookup, which carries no password) the password is not checked, the account
 * must only exist, AUTHORIZED=2 is exported, and an unknown account exits 3.
 *
 * The check is users_verify(), glomaild's own: every password scheme the
 * server accepts is accepted here, at the same cost.
 */
#include <sys/stat.h>

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <sodium.h>

#include "rules.h"
#include "users.h"

#define CP_INPUT_MAX 512 /* the interface's limit on descriptor 3 */

enum {
	CP_DENIED = 1,
	CP_USAGE = 2,
	CP_UNKNOWN = 3, /* userdb lookup: no such account */
	CP_TEMPFAIL = 111,
};

/* The whole of descriptor 3, up to CP_INPUT_MAX bytes; -1 if larger. */
static ssize_t
read_input(char *buf, size_t cap)
{
	size_t got = 0;
	ssize_t n;
	char extra;

	while (got < cap) {
		if ((n = read(3, buf + got, cap - got)) == -1) {
			if (errno == EINTR)
				continue;
			return -1;
		}
		if (n == 0)
			return (ssize_t)got;
		got += (size_t)n;
	}
	/* Full: anything more is over the interface's limit. */
	while ((n = read(3, &extra, 1)) == -1 && errno == EINTR)
		;
	return n == 0 ? (ssize_t)got : -1;
}

/* setenv, or exit with a temporary failure. */
static void
put(const char *key, const char *value)
{
	if (setenv(key, value, 1) == -1) {
		fprintf(stderr, "glomail-checkpassword: setenv: %s\n",
		    strerror(errno));
		exit(CP_TEMPFAIL);
	}
}

int
main(int argc, char **argv)
{
	char input[CP_INPUT_MAX + 1], user[RULES_USERNAME_MAX + 1];
	char data[PATH_MAX], home[PATH_MAX + RULES_USERNAME_MAX + 2], num[32];
	const char *name, *password, *why, *authorized;
	struct stat st;
	ssize_t len;
	size_t nlen;
	int lookup, datafd;

	if (argc < 3) {
		fprintf(stderr,
		    "usage: glomail-checkpassword DATA-DIR PROG [ARG...]\n");
		return CP_USAGE;
	}
	authorized = getenv("AUTHORIZED");
	lookup = authorized != NULL && strcmp(authorized, "1") == 0;
	if ((len = read_input(input, CP_INPUT_MAX)) == -1) {
		fprintf(stderr, "glomail-checkpassword: bad input on fd 3\n");
		return CP_USAGE;
	}
	input[len] = '\0';
	/* user\0password\0: both NULs must be there. */
	name = input;
	nlen = strnlen(input, (size_t)len);
	if (nlen == (size_t)len) {
		fprintf(stderr, "glomail-checkpassword: bad input on fd 3\n");
		return CP_USAGE;
	}
	password = input + nlen + 1;
	if (!lookup && strnlen(password, (size_t)len - nlen - 1) ==
	                   (size_t)len - nlen - 1) {
		fprintf(stderr, "glomail-checkpassword: bad input on fd 3\n");
		return CP_USAGE;
	}
	/*
	 * A store this user may not search would make every account look
	 * unknown: say so, as a temporary failure, instead of refusing
	 * every password.
	 */
	if (access(argv[1], X_OK) == -1) {
		fprintf(stderr, "glomail-checkpassword: %s: %s%s\n", argv[1],
		    strerror(errno),
		    errno == EACCES ? " (run it as the store's owner)" : "");
		return CP_TEMPFAIL;
	}
	/* Every access below is relative to the store, as in glomaild. */
	if (realpath(argv[1], data) == NULL ||
	    (datafd = open(data, O_RDONLY | O_DIRECTORY | O_CLOEXEC)) == -1) {
		fprintf(stderr, "glomail-checkpassword: %s: %s\n", argv[1],
		    strerror(errno));
		return CP_TEMPFAIL;
	}
	if (sodium_init() == -1) {
		fprintf(stderr, "glomail-checkpassword: sodium_init failed\n");
		return CP_TEMPFAIL;
	}
	/* Not a glomail name: no such account (no path may come of it). */
	if (rules_username(name, user, &why) == -1) {
		sodium_memzero(input, sizeof(input));
		return lookup ? CP_UNKNOWN : CP_DENIED;
	}
	if (lookup) {
		if (!users_exists(datafd, user))
			return CP_UNKNOWN;
		put("AUTHORIZED", "2");
	} else {
		/*
		 * An unknown account costs one hash, as a known one does:
		 * users_init hashes once, users_verify once more.
		 */
		if (!users_exists(datafd, user)) {
			if (users_init() != 0)
				return CP_TEMPFAIL;
			sodium_memzero(input, sizeof(input));
			return CP_DENIED;
		}
		if (users_verify(datafd, user, password) != USERS_OK) {
			sodium_memzero(input, sizeof(input));
			return CP_DENIED;
		}
		sodium_memzero(input, sizeof(input));
	}
	snprintf(home, sizeof(home), "%s/%s", data, user);
	/* The account, not a link to elsewhere (glomaild follows none). */
	if (fstatat(datafd, user, &st, AT_SYMLINK_NOFOLLOW) == -1) {
		fprintf(stderr, "glomail-checkpassword: %s: %s\n", home,
		    strerror(errno));
		return CP_TEMPFAIL;
	}
	if (!S_ISDIR(st.st_mode)) {
		fprintf(stderr, "glomail-checkpassword: %s: not a directory\n",
		    home);
		return CP_TEMPFAIL;
	}
	close(datafd);
	put("USER", user);
	put("HOME", home);
	snprintf(num, sizeof(num), "%lu", (unsigned long)st.st_uid);
	put("userdb_uid", num);
	snprintf(num, sizeof(num), "%lu", (unsigned long)st.st_gid);
	put("userdb_gid", num);
	put("userdb_mail", "maildir:~");
	put("EXTRA", "userdb_uid userdb_gid userdb_mail");
	execv(argv[2], argv + 2);
	fprintf(stderr, "glomail-checkpassword: %s: %s\n", argv[2],
	    strerror(errno));
	return CP_TEMPFAIL;
}
