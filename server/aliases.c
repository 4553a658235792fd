/*
 * aliases.c - the aliases file: parsed whole into a table sorted by name
 * (looked up by binary search), expanded to accounts with each account
 * once, checked for loops and unknown members.
 *
 * The file: one "name: member, member" per line; '#' starts a comment;
 * blank lines are skipped; names and members are user names (compared in
 * lower case, "user@domain" is not accepted: the table is local). A name
 * may appear once, and postmaster and mailer-daemon are not set here.
 */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "aliases.h"

/* A file larger than this is refused rather than read. */
#define ALIASES_FILE_MAX (16 * 1024 * 1024)

struct alias {
	aliases_name name;
	aliases_name *members;
	size_t nmembers;
	unsigned line;
};

struct aliases {
	struct alias *v;
	size_t n;
};

static int
alias_cmp(const void *a, const void *b)
{
	return strcmp(((const struct alias *)a)->name,
	    ((const struct alias *)b)->name);
}

static const struct alias *
alias_find(const struct aliases *a, const char *name)
{
	struct alias key;

	if (a == NULL || a->n == 0 || strlen(name) > RULES_USERNAME_MAX)
		return NULL;
	snprintf(key.name, sizeof(key.name), "%s", name);
	return bsearch(&key, a->v, a->n, sizeof(*a->v), alias_cmp);
}

void
aliases_free(struct aliases *a)
{
	size_t i;

	if (a == NULL)
		return;
	for (i = 0; i < a->n; i++)
		free(a->v[i].members);
	free(a->v);
	free(a);
}

/* Trim blanks from both ends of [s, s+len); returns the new start. */
static const char *
trim(const char *s, size_t *len)
{
	while (*len > 0 && (*s == ' ' || *s == '\t')) {
		s++;
		(*len)--;
	}
	while (*len > 0 && (s[*len - 1] == ' ' || s[*len - 1] == '\t' ||
	                       s[*len - 1] == '\r'))
		(*len)--;
	return s;
}

/* One user name out of [s, s+len), lower-cased into out. */
static int
take_name(const char *s, size_t len, aliases_name out, const char **why_r)
{
	char tmp[RULES_USERNAME_MAX + 2];

	if (len == 0) {
		*why_r = "empty name";
		return -1;
	}
	if (len > RULES_USERNAME_MAX) {
		*why_r = "name longer than 64 characters";
		return -1;
	}
	memcpy(tmp, s, len);
	tmp[len] = '\0';
	if (memchr(tmp, '@', len) != NULL) {
		*why_r = "a member is a local user name, without @domain";
		return -1;
	}
	return rules_username(tmp, out, why_r);
}

/* Parse one non-blank line into *al. */
static int
parse_line(const char *s, size_t len, struct alias *al, const char **why_r)
{
	const char *colon, *p, *q, *end = s + len, *comma;
	aliases_name *grown;
	size_t n, i;

	if ((colon = memchr(s, ':', len)) == NULL) {
		*why_r = "expected \"name: member, member\"";
		return -1;
	}
	n = (size_t)(colon - s);
	p = trim(s, &n);
	if (take_name(p, n, al->name, why_r) == -1)
		return -1;
	if (strcmp(al->name, ALIASES_POSTMASTER) == 0 ||
	    strcmp(al->name, ALIASES_MAILER_DAEMON) == 0) {
		*why_r = "postmaster and mailer-daemon are built in (see the "
		         "postmaster setting)";
		return -1;
	}
	for (p = colon + 1; p <= end; p = comma + 1) {
		if ((comma = memchr(p, ',', (size_t)(end - p))) == NULL)
			comma = end;
		n = (size_t)(comma - p);
		if (al->nmembers == ALIASES_EXPAND_MAX) {
			*why_r = "more than 1000 members";
			return -1;
		}
		/* Through a temporary: on failure the old array stays owned. */
		if ((grown = reallocarray(al->members, al->nmembers + 1,
		         sizeof(*al->members))) == NULL) {
			*why_r = "out of memory";
			return -1;
		}
		al->members = grown;
		q = trim(p, &n);
		if (take_name(q, n, al->members[al->nmembers], why_r) == -1)
			return -1;
		for (i = 0; i < al->nmembers; i++)
			if (strcmp(al->members[i], al->members[al->nmembers]) ==
			    0)
				break;
		if (i == al->nmembers)
			al->nmembers++;
	}
	return 0;
}

struct aliases *
aliases_parse(const char *text, size_t len, const char *file, char *err,
    size_t errlen)
{
	struct aliases *a;
	const char *p = text, *end = text + len, *nl, *hash, *why, *s;
	struct alias *v;
	unsigned line = 0;
	size_t n, i;

	if ((a = calloc(1, sizeof(*a))) == NULL) {
		snprintf(err, errlen, "%s: out of memory", file);
		return NULL;
	}
	for (; p < end; p = nl + 1) {
		line++;
		if ((nl = memchr(p, '\n', (size_t)(end - p))) == NULL)
			nl = end;
		n = (size_t)(nl - p);
		if (n > ALIASES_LINE_MAX) {
			why = "line too long";
			goto fail;
		}
		if (memchr(p, '\0', n) != NULL) {
			why = "NUL byte";
			goto fail;
		}
		if ((hash = memchr(p, '#', n)) != NULL)
			n = (size_t)(hash - p);
		s = trim(p, &n);
		if (n == 0)
			continue;
		if ((v = reallocarray(a->v, a->n + 1, sizeof(*a->v))) == NULL) {
			why = "out of memory";
			goto fail;
		}
		a->v = v;
		memset(&a->v[a->n], 0, sizeof(a->v[a->n]));
		a->v[a->n].line = line;
		a->n++;
		if (parse_line(s, n, &a->v[a->n - 1], &why) == -1)
			goto fail;
	}
	if (a->n > 1)
		qsort(a->v, a->n, sizeof(*a->v), alias_cmp);
	for (i = 1; i < a->n; i++)
		if (strcmp(a->v[i - 1].name, a->v[i].name) == 0) {
			line = a->v[i - 1].line > a->v[i].line
			           ? a->v[i - 1].line
			           : a->v[i].line;
			why = "name defined twice";
			goto fail;
		}
	return a;
fail:
	snprintf(err, errlen, "%s:%u: %s", file, line, why);
	aliases_free(a);
	return NULL;
}

struct aliases *
aliases_load(const char *path, int required, char *err, size_t errlen)
{
	struct aliases *a = NULL;
	struct stat st;
	char *buf = NULL;
	size_t got = 0;
	ssize_t r;
	int fd;

	if (path == NULL)
		return aliases_parse("", 0, "aliases", err, errlen);
	if ((fd = open(path, O_RDONLY | O_CLOEXEC | O_NOCTTY)) == -1) {
		if (errno == ENOENT && !required)
			return aliases_parse("", 0, path, err, errlen);
		snprintf(err, errlen, "%s: %s", path, strerror(errno));
		return NULL;
	}
	if (fstat(fd, &st) == -1 || !S_ISREG(st.st_mode) ||
	    st.st_size > ALIASES_FILE_MAX) {
		snprintf(err, errlen, "%s: not a regular file of at most 16M",
		    path);
		goto out;
	}
	if ((buf = malloc((size_t)st.st_size + 1)) == NULL) {
		snprintf(err, errlen, "%s: out of memory", path);
		goto out;
	}
	while (got < (size_t)st.st_size) {
		r = read(fd, buf + got, (size_t)st.st_size - got);
		if (r == -1 && errno == EINTR)
			continue;
		if (r <= 0) {
			snprintf(err, errlen, "%s: %s", path,
			    r == 0 ? "changed while read" : strerror(errno));
			goto out;
		}
		got += (size_t)r;
	}
	a = aliases_parse(buf, got, path, err, errlen);
out:
	free(buf);
	close(fd);
	return a;
}

int
aliases_save(const char *path, const char *text, size_t len,
    const char **step_r)
{
	char dir[4096], tmp[4200] = "";
	const char *slash = strrchr(path, '/'), *base;
	mode_t mode = 0644;
	struct stat st;
	size_t off = 0;
	ssize_t w;
	int dfd = -1, fd = -1, saved;

	if (slash == NULL) {
		snprintf(dir, sizeof(dir), ".");
		base = path;
	} else {
		snprintf(dir, sizeof(dir), "%.*s",
		    slash == path ? 1 : (int)(slash - path), path);
		base = slash + 1;
	}
	if (*base == '\0' || strlen(path) >= sizeof(dir)) {
		errno = EINVAL;
		*step_r = "name the file";
		return -1;
	}
	if ((dfd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC)) == -1) {
		*step_r = "open its directory";
		return -1;
	}
	if (fstatat(dfd, base, &st, AT_SYMLINK_NOFOLLOW) == 0) {
		if (S_ISLNK(st.st_mode)) {
			errno = ELOOP;
			*step_r = "replace a symbolic link";
			goto fail;
		}
		mode = st.st_mode & 07777;
	} else if (errno != ENOENT) {
		*step_r = "stat";
		goto fail;
	}
	/* A dot name beside the file: one directory, so rename is atomic. */
	snprintf(tmp, sizeof(tmp), ".%s.%ld.tmp", base, (long)getpid());
	if ((fd = openat(dfd, tmp,
	         O_WRONLY | O_CREAT | O_TRUNC | O_NOFOLLOW | O_CLOEXEC,
	         0600)) == -1) {
		*step_r = "create a temporary file";
		goto fail;
	}
	while (off < len) {
		if ((w = write(fd, text + off, len - off)) == -1) {
			if (errno == EINTR)
				continue;
			*step_r = "write";
			goto fail;
		}
		off += (size_t)w;
	}
	if (fchmod(fd, mode) == -1 || fsync(fd) == -1) {
		*step_r = "sync";
		goto fail;
	}
	if (close(fd) == -1) {
		fd = -1;
		*step_r = "close";
		goto fail;
	}
	fd = -1;
	if (renameat(dfd, tmp, dfd, base) == -1 || fsync(dfd) == -1) {
		*step_r = "rename";
		goto fail;
	}
	close(dfd);
	return 0;
fail:
	saved = errno;
	if (fd != -1)
		close(fd);
	if (dfd != -1) {
		if (tmp[0] != '\0')
			unlinkat(dfd, tmp, 0);
		close(dfd);
	}
	errno = saved;
	return -1;
}

size_t
aliases_count(const struct aliases *a)
{
	return a != NULL ? a->n : 0;
}

const char *
aliases_entry(const struct aliases *a, size_t i, const aliases_name **members_r,
    size_t *n_r)
{
	if (a == NULL || i >= a->n)
		return NULL;
	*members_r = a->v[i].members;
	*n_r = a->v[i].nmembers;
	return a->v[i].name;
}

int
aliases_has(const struct aliases *a, const char *name)
{
	return strcmp(name, ALIASES_POSTMASTER) == 0 ||
	       strcmp(name, ALIASES_MAILER_DAEMON) == 0 ||
	       alias_find(a, name) != NULL;
}

/* Depth-first: names already visited (seen) are skipped, accounts once. */
static int
expand(const struct aliases *a, const char *name, const char *postmaster,
    aliases_name *out, size_t max, size_t *n, aliases_name *seen, size_t *nseen,
    size_t maxseen)
{
	const struct alias *al;
	size_t i;

	for (i = 0; i < *nseen; i++)
		if (strcmp(seen[i], name) == 0)
			return 0;
	if (*nseen == maxseen)
		return -1;
	snprintf(seen[(*nseen)++], sizeof(seen[0]), "%s", name);
	if (strcmp(name, ALIASES_MAILER_DAEMON) == 0)
		return 0;
	if (strcmp(name, ALIASES_POSTMASTER) == 0)
		return expand(a, postmaster, postmaster, out, max, n, seen,
		    nseen, maxseen);
	if ((al = alias_find(a, name)) == NULL) {
		for (i = 0; i < *n; i++)
			if (strcmp(out[i], name) == 0)
				return 0;
		if (*n == max)
			return -1;
		snprintf(out[(*n)++], sizeof(out[0]), "%s", name);
		return 0;
	}
	for (i = 0; i < al->nmembers; i++)
		if (expand(a, al->members[i], postmaster, out, max, n, seen,
		        nseen, maxseen) == -1)
			return -1;
	return 0;
}

int
aliases_expand(const struct aliases *a, const char *name,
    const char *postmaster, aliases_name *out, size_t max)
{
	aliases_name *seen;
	size_t n = 0, nseen = 0, maxseen = (a != NULL ? a->n : 0) + max + 2;
	int rc;

	if ((seen = calloc(maxseen, sizeof(*seen))) == NULL)
		return -1;
	rc = expand(a, name, postmaster, out, max, &n, seen, &nseen, maxseen);
	free(seen);
	return rc == -1 ? -1 : (int)n;
}

/* Whether name reaches target through the table (visited: per start). */
static int
reaches(const struct aliases *a, const struct alias *from, const char *target,
    unsigned char *visited)
{
	const struct alias *m;
	size_t i;

	for (i = 0; i < from->nmembers; i++) {
		if (strcmp(from->members[i], target) == 0)
			return 1;
		if ((m = alias_find(a, from->members[i])) == NULL ||
		    visited[m - a->v])
			continue;
		visited[m - a->v] = 1;
		if (reaches(a, m, target, visited))
			return 1;
	}
	return 0;
}

int
aliases_check(const struct aliases *a,
    int (*exists)(const char *member, void *arg), void *arg,
    void (*fn)(const char *problem, void *arg))
{
	unsigned char *visited;
	char msg[256];
	size_t i, j;
	int problems = 0;

	if (a == NULL || a->n == 0)
		return 0;
	if ((visited = calloc(a->n, 1)) == NULL) {
		fn("out of memory", arg);
		return 1;
	}
	for (i = 0; i < a->n; i++) {
		memset(visited, 0, a->n);
		if (reaches(a, &a->v[i], a->v[i].name, visited)) {
			snprintf(msg, sizeof(msg),
			    "%u: %s: a loop leads "
			    "back to %s",
			    a->v[i].line, a->v[i].name, a->v[i].name);
			fn(msg, arg);
			problems++;
		}
		for (j = 0; j < a->v[i].nmembers; j++) {
			const char *m = a->v[i].members[j];

			if (aliases_has(a, m) || exists(m, arg))
				continue;
			snprintf(msg, sizeof(msg),
			    "%u: %s: unknown member "
			    "%s",
			    a->v[i].line, a->v[i].name, m);
			fn(msg, arg);
			problems++;
		}
	}
	free(visited);
	return problems;
}
