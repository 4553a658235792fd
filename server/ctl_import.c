/*
 * ctl_import.c - scanning an original server's data directory into an
 * import plan (see ctl_import.h for the layouts it knows).
 *
 * Everything is opened relative to directory descriptors with O_NOFOLLOW:
 * a link in the source is reported, not followed, so an import never reads
 * outside the directory it was pointed at.
 */
#include <sys/stat.h>

#include <ctype.h>
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <jansson.h>
#include <openssl/evp.h>

#include "ctl_import.h"
#include "message.h"

/* Growable arrays of the plan. */
static int
grow(void **arr, size_t n, size_t *cap, size_t size)
{
	void *p;
	size_t ncap;

	if (n < *cap)
		return 0;
	ncap = *cap == 0 ? 16 : *cap * 2;
	if ((p = realloc(*arr, ncap * size)) == NULL)
		return -1;
	*arr = p;
	*cap = ncap;
	return 0;
}

struct scan {
	struct import_plan *plan;
	size_t acap, mcap, pcap;
	int failed; /* out of memory */
};

static void __attribute__((format(printf, 3, 4)))
problem(struct scan *sc, const char *path, const char *fmt, ...)
{
	char *line = NULL, *why = NULL;
	va_list ap;

	va_start(ap, fmt);
	if (vasprintf(&why, fmt, ap) == -1)
		why = NULL;
	va_end(ap);
	if (why == NULL || asprintf(&line, "%s: %s", path, why) == -1 ||
	    grow((void **)&sc->plan->problems, sc->plan->nproblems, &sc->pcap,
	        sizeof(char *)) == -1) {
		free(why);
		free(line);
		sc->failed = 1;
		return;
	}
	free(why);
	sc->plan->problems[sc->plan->nproblems++] = line;
}

/* Read a whole regular file under dfd (not a link), at most max bytes. */
static char *
read_at(int dfd, const char *name, size_t max, size_t *len_r,
    const char **why_r)
{
	struct stat st;
	char *buf = NULL;
	size_t got = 0;
	ssize_t n;
	int fd;

	if ((fd = openat(dfd, name,
	         O_RDONLY | O_NOFOLLOW | O_CLOEXEC | O_NOCTTY | O_NONBLOCK)) ==
	    -1) {
		*why_r = errno == ELOOP ? "a symbolic link (not followed)"
		                        : strerror(errno);
		return NULL;
	}
	if (fstat(fd, &st) == -1 || !S_ISREG(st.st_mode)) {
		*why_r = "not a regular file";
		goto fail;
	}
	if ((size_t)st.st_size > max) {
		*why_r = "too large";
		goto fail;
	}
	if ((buf = malloc((size_t)st.st_size + 1)) == NULL) {
		*why_r = "out of memory";
		goto fail;
	}
	while (got < (size_t)st.st_size) {
		n = read(fd, buf + got, (size_t)st.st_size - got);
		if (n == -1 && errno == EINTR)
			continue;
		if (n <= 0) {
			*why_r = n == 0 ? "file shrank while read"
			                : strerror(errno);
			goto fail;
		}
		got += (size_t)n;
	}
	buf[got] = '\0';
	close(fd);
	*len_r = got;
	return buf;
fail:
	free(buf);
	close(fd);
	return NULL;
}

/* Lower-case hex digest of 56 or 128 digits: the kind, else -1. */
static int
digest_kind(const char *s, size_t len, char hex_r[129])
{
	size_t i;

	if (len != 56 && len != 128)
		return -1;
	for (i = 0; i < len; i++) {
		if (!isxdigit((unsigned char)s[i]))
			return -1;
		hex_r[i] = (char)tolower((unsigned char)s[i]);
	}
	hex_r[len] = '\0';
	return len == 128 ? IMPORT_SHA3_512 : IMPORT_SHA3_224;
}

/* The digest in a pass file: raw hex, or JSON under a known key. */
static int
parse_pass(const char *buf, size_t len, char hex_r[129], const char **why_r)
{
	static const char *keys[] = { "password_hash", "password", "hash",
		"pass" };
	const char *p = buf, *e = buf + len, *v;
	json_error_t jerr;
	json_t *root, *jv;
	size_t i;
	int kind = -1;

	while (p < e && isspace((unsigned char)*p))
		p++;
	while (e > p && isspace((unsigned char)e[-1]))
		e--;
	if (p < e && *p == '{') {
		if ((root = json_loadb(p, (size_t)(e - p),
		         JSON_REJECT_DUPLICATES, &jerr)) == NULL ||
		    !json_is_object(root)) {
			json_decref(root);
			*why_r = "password file: not valid JSON";
			return -1;
		}
		for (i = 0; i < sizeof(keys) / sizeof(keys[0]); i++)
			if ((jv = json_object_get(root, keys[i])) != NULL)
				break;
		if (jv == NULL || (v = json_string_value(jv)) == NULL) {
			json_decref(root);
			*why_r = "password file: no password_hash or password "
			         "string";
			return -1;
		}
		kind = digest_kind(v, strlen(v), hex_r);
		json_decref(root);
	} else
		kind = digest_kind(p, (size_t)(e - p), hex_r);
	if (kind == -1)
		*why_r = "password file: not a SHA3-512 or SHA3-224 hex digest";
	return kind;
}

/* A stable id for a mail file: SHA-256 of its path and bytes, 128 bits. */
static int
mail_id(const char *path, const char *buf, size_t len, char id_r[33])
{
	unsigned char md[EVP_MAX_MD_SIZE];
	unsigned mdlen = 0;
	EVP_MD_CTX *ctx;
	int i, ok;

	if ((ctx = EVP_MD_CTX_new()) == NULL)
		return -1;
	ok = EVP_DigestInit_ex(ctx, EVP_sha256(), NULL) == 1 &&
	     EVP_DigestUpdate(ctx, path, strlen(path) + 1) == 1 &&
	     EVP_DigestUpdate(ctx, buf, len) == 1 &&
	     EVP_DigestFinal_ex(ctx, md, &mdlen) == 1 && mdlen >= 16;
	EVP_MD_CTX_free(ctx);
	if (!ok)
		return -1;
	for (i = 0; i < 16; i++)
		snprintf(id_r + 2 * i, 3, "%02x", md[i]);
	return 0;
}

/* One mail file: parse it into the plan, or report it. */
static void
scan_mail(struct scan *sc, int dfd, const char *name, const char *rel,
    const char *owner)
{
	static const char *keys[] = { "sender", "destination", "subject",
		"date", "content" };
	const char *why = NULL, *vals[5];
	struct import_mail *m;
	json_error_t jerr;
	json_t *root = NULL;
	size_t len, i;
	char *buf;

	if ((buf = read_at(dfd, name, IMPORT_FILE_MAX, &len, &why)) == NULL) {
		problem(sc, rel, "%s", why);
		return;
	}
	if ((root = json_loadb(buf, len, JSON_REJECT_DUPLICATES, &jerr)) ==
	        NULL ||
	    !json_is_object(root)) {
		problem(sc, rel, "not a mail file (JSON object expected)");
		goto done;
	}
	for (i = 0; i < 5; i++) {
		if ((vals[i] = json_string_value(
		         json_object_get(root, keys[i]))) == NULL) {
			problem(sc, rel, "not a mail file (no \"%s\" string)",
			    keys[i]);
			goto done;
		}
	}
	if (grow((void **)&sc->plan->mails, sc->plan->nmails, &sc->mcap,
	        sizeof(*m)) == -1) {
		sc->failed = 1;
		goto done;
	}
	m = &sc->plan->mails[sc->plan->nmails];
	memset(m, 0, sizeof(*m));
	snprintf(m->owner, sizeof(m->owner), "%s", owner);
	snprintf(m->path, sizeof(m->path), "%s", rel);
	if ((m->when = message_parse_date(vals[3])) == (time_t)-1) {
		problem(sc, rel, "date \"%.64s\" cannot be read", vals[3]);
		goto done;
	}
	m->sender = strdup(vals[0]);
	m->destination = strdup(vals[1]);
	m->subject = strdup(vals[2]);
	m->date = strdup(vals[3]);
	m->content = strdup(vals[4]);
	if (m->sender == NULL || m->destination == NULL || m->subject == NULL ||
	    m->date == NULL || m->content == NULL ||
	    mail_id(rel, buf, len, m->id) == -1) {
		free(m->sender);
		free(m->destination);
		free(m->subject);
		free(m->date);
		free(m->content);
		sc->failed = 1;
		goto done;
	}
	sc->plan->nmails++;
done:
	json_decref(root);
	free(buf);
}

static int
is_pass_name(const char *name)
{
	return strcmp(name, "pass") == 0 || strcmp(name, "pass.json") == 0;
}

/*
 * The mail files of one folder and of its sub-folders, one level down.
 * depth 0: the account (or LOST) folder itself.
 */
static void
scan_folder(struct scan *sc, int dfd, const char *rel, const char *owner,
    int depth, size_t *count)
{
	struct dirent *de;
	struct stat st;
	char sub[512];
	DIR *d;
	int fd, cfd;

	if ((fd = dup(dfd)) == -1 || (d = fdopendir(fd)) == NULL) {
		if (fd != -1)
			close(fd);
		problem(sc, rel, "%s", strerror(errno));
		return;
	}
	rewinddir(d);
	while ((de = readdir(d)) != NULL) {
		if (strcmp(de->d_name, ".") == 0 ||
		    strcmp(de->d_name, "..") == 0)
			continue;
		if (depth == 0 && owner[0] != '\0' && is_pass_name(de->d_name))
			continue;
		if (snprintf(sub, sizeof(sub), "%s/%s", rel, de->d_name) >=
		    (int)sizeof(sub)) {
			problem(sc, rel, "a name too long");
			continue;
		}
		if (fstatat(dfd, de->d_name, &st, AT_SYMLINK_NOFOLLOW) == -1) {
			problem(sc, sub, "%s", strerror(errno));
			continue;
		}
		if (S_ISLNK(st.st_mode)) {
			problem(sc, sub, "a symbolic link (not followed)");
			continue;
		}
		if (S_ISDIR(st.st_mode)) {
			if (depth > 0) {
				problem(sc, sub, "a folder too deep");
				continue;
			}
			if ((cfd = openat(dfd, de->d_name,
			         O_RDONLY | O_DIRECTORY | O_NOFOLLOW |
			             O_CLOEXEC)) == -1) {
				problem(sc, sub, "%s", strerror(errno));
				continue;
			}
			scan_folder(sc, cfd, sub, owner, depth + 1, count);
			close(cfd);
			continue;
		}
		if (!S_ISREG(st.st_mode)) {
			problem(sc, sub, "not a regular file");
			continue;
		}
		{
			size_t before = sc->plan->nmails;

			scan_mail(sc, dfd, de->d_name, sub, owner);
			*count += sc->plan->nmails - before;
		}
	}
	closedir(d);
}

/* An account folder: its password file; its mail comes later. */
static int
scan_account(struct scan *sc, int dfd, const char *folder,
    struct import_account *a)
{
	const char *why = NULL, *name = "pass";
	char *buf;
	size_t len;
	int kind;

	if ((buf = read_at(dfd, name, 4096, &len, &why)) == NULL &&
	    errno == ENOENT) {
		name = "pass.json";
		buf = read_at(dfd, name, 4096, &len, &why);
	}
	if (buf == NULL) {
		problem(sc, folder,
		    "no readable password file (pass or "
		    "pass.json): account left out");
		return -1;
	}
	kind = parse_pass(buf, len, a->hex, &why);
	free(buf);
	if (kind == -1) {
		problem(sc, folder, "%s: account left out", why);
		return -1;
	}
	a->kind = (enum import_hash)kind;
	return 0;
}

static int
cmp_account(const void *a, const void *b)
{
	return strcmp(((const struct import_account *)a)->name,
	    ((const struct import_account *)b)->name);
}

int
import_scan(const char *src, struct import_plan **plan_r)
{
	struct scan sc = { 0 };
	struct dirent *de;
	struct stat st;
	char lower[RULES_USERNAME_MAX + 1];
	const char *why;
	size_t i, j, n;
	int sfd, afd, fd;
	DIR *d;

	if ((sfd = open(src,
	         O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC)) == -1)
		return -1;
	if ((sc.plan = calloc(1, sizeof(*sc.plan))) == NULL ||
	    (fd = dup(sfd)) == -1 || (d = fdopendir(fd)) == NULL) {
		free(sc.plan);
		close(sfd);
		return -1;
	}
	/* First the accounts, so that clashes are known before any mail. */
	while ((de = readdir(d)) != NULL) {
		struct import_account *a;

		if (strcmp(de->d_name, ".") == 0 ||
		    strcmp(de->d_name, "..") == 0)
			continue;
		if (fstatat(sfd, de->d_name, &st, AT_SYMLINK_NOFOLLOW) == -1) {
			problem(&sc, de->d_name, "%s", strerror(errno));
			continue;
		}
		if (!S_ISDIR(st.st_mode)) {
			problem(&sc, de->d_name,
			    S_ISLNK(st.st_mode)
			        ? "a symbolic link (not followed)"
			        : "not an account folder");
			continue;
		}
		if (strcasecmp(de->d_name, RULES_LOST_DIR) == 0)
			continue;
		if (rules_username(de->d_name, lower, &why) == -1) {
			problem(&sc, de->d_name,
			    "not a valid user name (%s): "
			    "account left out",
			    why);
			continue;
		}
		if ((afd = openat(sfd, de->d_name,
		         O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC)) ==
		    -1) {
			problem(&sc, de->d_name, "%s", strerror(errno));
			continue;
		}
		if (grow((void **)&sc.plan->accounts, sc.plan->naccounts,
		        &sc.acap, sizeof(*a)) == -1) {
			close(afd);
			sc.failed = 1;
			break;
		}
		a = &sc.plan->accounts[sc.plan->naccounts];
		memset(a, 0, sizeof(*a));
		snprintf(a->name, sizeof(a->name), "%s", lower);
		snprintf(a->folder, sizeof(a->folder), "%s", de->d_name);
		if (scan_account(&sc, afd, de->d_name, a) == 0)
			sc.plan->naccounts++;
		close(afd);
	}
	/* Two folders for one name: which one is the account is a guess. */
	qsort(sc.plan->accounts, sc.plan->naccounts, sizeof(*sc.plan->accounts),
	    cmp_account);
	for (i = 0, n = 0; i < sc.plan->naccounts; i = j) {
		for (j = i + 1; j < sc.plan->naccounts &&
		                strcmp(sc.plan->accounts[j].name,
		                    sc.plan->accounts[i].name) == 0;
		     j++)
			;
		if (j - i > 1) {
			size_t k;

			for (k = i; k < j; k++)
				problem(&sc, sc.plan->accounts[k].folder,
				    "folds to the name \"%s\" as %zu folders "
				    "do: account left out",
				    sc.plan->accounts[i].name, j - i);
			continue;
		}
		sc.plan->accounts[n++] = sc.plan->accounts[i];
	}
	sc.plan->naccounts = n;
	/* Then the mail of every account kept, and LOST. */
	rewinddir(d);
	while ((de = readdir(d)) != NULL) {
		struct import_account key, *a = NULL;
		int lost = strcasecmp(de->d_name, RULES_LOST_DIR) == 0;

		if (!lost) {
			if (rules_username(de->d_name, lower, &why) == -1)
				continue;
			snprintf(key.name, sizeof(key.name), "%s", lower);
			if ((a = bsearch(&key, sc.plan->accounts,
			         sc.plan->naccounts, sizeof(*a),
			         cmp_account)) == NULL ||
			    strcmp(a->folder, de->d_name) != 0)
				continue;
		}
		if (fstatat(sfd, de->d_name, &st, AT_SYMLINK_NOFOLLOW) == -1 ||
		    !S_ISDIR(st.st_mode))
			continue;
		if ((afd = openat(sfd, de->d_name,
		         O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC)) ==
		    -1)
			continue;
		{
			size_t count = 0;

			scan_folder(&sc, afd, de->d_name, lost ? "" : lower, 0,
			    &count);
			if (a != NULL)
				a->nmail = count;
		}
		close(afd);
	}
	closedir(d);
	close(sfd);
	if (sc.failed) {
		import_plan_free(sc.plan);
		errno = ENOMEM;
		return -1;
	}
	*plan_r = sc.plan;
	return 0;
}

void
import_plan_free(struct import_plan *plan)
{
	size_t i;

	if (plan == NULL)
		return;
	for (i = 0; i < plan->nmails; i++) {
		free(plan->mails[i].sender);
		free(plan->mails[i].destination);
		free(plan->mails[i].subject);
		free(plan->mails[i].date);
		free(plan->mails[i].content);
	}
	for (i = 0; i < plan->nproblems; i++)
		free(plan->problems[i]);
	free(plan->accounts);
	free(plan->mails);
	free(plan->problems);
	free(plan);
}

const char *
import_hash_scheme(enum import_hash kind)
{
	return kind == IMPORT_SHA3_512 ? "{SHA3-512.HEX}" : "{SHA3-224.HEX}";
}
