/*
 * ctl_check.c - the store's consistency: foreign or unreadable files,
 * leftovers in tmp/ and of interrupted writes, message names that do not
 * parse, accounts without a pass file or with one no scheme reads, and
 * loaded indexes that disagree with the disk.
 *
 * --repair fixes only what is certainly safe: it removes leftovers old
 * enough that no writer can still own them (Maildir's 36 hours for tmp/,
 * one hour for an interrupted pass or account write) and recreates missing
 * Maildir folders. Everything else is listed for a person to decide.
 */
#include <sys/stat.h>

#include <ctype.h>
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "account.h"
#include "ctl.h"
#include "ctl_store.h"
#include "log.h"
#include "mailbox.h"
#include "maildir.h"
#include "rules.h"
#include "server.h"
#include "users.h"

#define TMP_STALE_SEC (36 * 3600)
#define WRITE_STALE_SEC 3600

struct check_user {
	char name[RULES_USERNAME_MAX + 1];
	size_t on_disk;
};

struct check_job {
	struct ctl_conn *cc;
	struct server *srv;
	int repair;
	char **only; /* users asked for, or NULL: all */
	size_t nonly;
	json_t *problems;
	size_t repaired, remaining;
	struct check_user *users; /* for the index comparison */
	size_t nusers;
	int failed, error;
	time_t now;
};

static void
check_job_free(struct check_job *j)
{
	ctl_store_names_free(j->only, j->nonly);
	json_decref(j->problems);
	free(j->users);
	free(j);
}

/* One finding; repaired says whether --repair fixed it. */
static void
report(struct check_job *j, const char *path, const char *what, int repaired)
{
	json_array_append_new(j->problems,
	    json_pack("{s:s, s:s, s:b}", "path", path, "problem", what,
	        "repaired", repaired));
	if (repaired)
		j->repaired++;
	else
		j->remaining++;
}

static int
old_enough(const struct stat *st, time_t now, time_t age)
{
	return st->st_mtime + age < now;
}

/* A directory stream over name in dirfd_, never through a link. */
static DIR *
open_dir(int dirfd_, const char *name)
{
	int fd = openat(dirfd_, name,
	    O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
	DIR *d;

	if (fd == -1)
		return NULL;
	if ((d = fdopendir(fd)) == NULL)
		close(fd);
	return d;
}

/* A message name glomail or another Maildir writer makes: "<digits>.". */
static int
name_parses(const char *name)
{
	const char *p = name;

	while (isdigit((unsigned char)*p))
		p++;
	return p > name && *p == '.' && p[1] != '\0';
}

/* A pass line: an Argon2id string or a legacy scheme with its digest. */
static int
pass_readable(int md)
{
	char line[ACCOUNT_PASS_MAX + 2];
	ssize_t n;
	int fd;

	if ((fd = openat(md, ACCOUNT_PASS,
	         O_RDONLY | O_NOFOLLOW | O_NONBLOCK | O_CLOEXEC)) == -1)
		return 0;
	n = read(fd, line, sizeof(line) - 1);
	close(fd);
	if (n <= 0 || (size_t)n > ACCOUNT_PASS_MAX)
		return 0;
	line[n] = '\0';
	line[strcspn(line, "\r\n")] = '\0';
	if (strncmp(line, "$argon2id$", 10) == 0)
		return 1;
	return account_is_legacy(line) && account_legacy_verify(line, "") != -1;
}

static void
check_sub(struct check_job *j, int md, const char *rel, const char *sub,
    size_t *count)
{
	char shown[600];
	struct dirent *de;
	struct stat st;
	DIR *d;
	int fd;

	if ((d = open_dir(md, sub)) == NULL) {
		snprintf(shown, sizeof(shown), "%s/%s", rel, sub);
		if (errno == ENOENT && j->repair &&
		    maildir_create(server_data_fd(j->srv), rel) == 0) {
			report(j, shown, "missing Maildir folder", 1);
		} else {
			report(j, shown,
			    errno == ENOENT ? "missing Maildir folder"
			                    : "unreadable folder",
			    0);
		}
		return;
	}
	while ((de = readdir(d)) != NULL) {
		if (strcmp(de->d_name, ".") == 0 ||
		    strcmp(de->d_name, "..") == 0)
			continue;
		snprintf(shown, sizeof(shown), "%s/%s/%.256s", rel, sub,
		    de->d_name);
		if (fstatat(dirfd(d), de->d_name, &st, AT_SYMLINK_NOFOLLOW) ==
		    -1)
			continue; /* gone meanwhile */
		if (strcmp(sub, "tmp") == 0) {
			if (!old_enough(&st, j->now, TMP_STALE_SEC))
				continue; /* a delivery may be writing it */
			if (j->repair && !S_ISDIR(st.st_mode) &&
			    unlinkat(dirfd(d), de->d_name, 0) == 0) {
				report(j, shown, "leftover in tmp/", 1);
			} else {
				report(j, shown, "leftover in tmp/", 0);
			}
			continue;
		}
		if (!S_ISREG(st.st_mode)) {
			report(j, shown, "not a regular file", 0);
			continue;
		}
		if (de->d_name[0] == '.') {
			report(j, shown, "hidden file among messages", 0);
			continue;
		}
		if (!name_parses(de->d_name))
			report(j, shown, "message name does not parse", 0);
		if ((fd = openat(dirfd(d), de->d_name,
		         O_RDONLY | O_NOFOLLOW | O_CLOEXEC)) == -1) {
			report(j, shown, "unreadable message", 0);
			continue;
		}
		close(fd);
		(*count)++;
	}
	closedir(d);
}

/*
 * The temporary name of a file replaced whole: ctl_store_replace's, or the
 * delivery rules' ".<name>.tmp".
 */
static int
interrupted_write(const char *name)
{
	size_t len = strlen(name);

	if (strncmp(name, CTL_STORE_TMP_PREFIX, strlen(CTL_STORE_TMP_PREFIX)) ==
	    0)
		return 1;
	return name[0] == '.' && len > 5 && strcmp(name + len - 4, ".tmp") == 0;
}

/* One account folder (or LOST). */
static void
check_account(struct check_job *j, const char *name, int is_lost)
{
	/* The delivery rules' files are deliver.h's. */
	static const char *const known[] = { ACCOUNT_PASS, ACCOUNT_LOCKED,
		ACCOUNT_IMPORTED, ACCOUNT_LAST_LOGIN, CTL_STORE_QUOTA,
		"quota-warned", "vacation", "vacation-sent", "tmp", "new",
		"cur" };
	int data = server_data_fd(j->srv), md;
	char shown[600];
	struct check_user *u;
	struct dirent *de;
	struct stat st;
	size_t count = 0, i;
	DIR *d;

	if ((md = maildir_open(data, name)) == -1) {
		report(j, name,
		    errno == ELOOP ? "a symbolic link (not "
		                     "followed)"
		                   : "unreadable folder",
		    0);
		return;
	}
	if (!is_lost) {
		snprintf(shown, sizeof(shown), "%s/" ACCOUNT_PASS, name);
		if (fstatat(md, ACCOUNT_PASS, &st, AT_SYMLINK_NOFOLLOW) == -1 ||
		    !S_ISREG(st.st_mode)) {
			/* Not an account: nothing in it is glomail's. */
			report(j, name, "account without a pass file", 0);
			close(md);
			return;
		}
		if (!pass_readable(md))
			report(j, shown, "pass file in no known scheme", 0);
	}
	if ((d = open_dir(md, ".")) != NULL) {
		while ((de = readdir(d)) != NULL) {
			if (strcmp(de->d_name, ".") == 0 ||
			    strcmp(de->d_name, "..") == 0)
				continue;
			for (i = 0; i < sizeof(known) / sizeof(known[0]); i++)
				if (strcmp(de->d_name, known[i]) == 0)
					break;
			if (i < sizeof(known) / sizeof(known[0]))
				continue;
			snprintf(shown, sizeof(shown), "%s/%.256s", name,
			    de->d_name);
			if (strncmp(de->d_name, ".pass-", 6) == 0 &&
			    fstatat(md, de->d_name, &st, AT_SYMLINK_NOFOLLOW) ==
			        0 &&
			    old_enough(&st, j->now, WRITE_STALE_SEC)) {
				if (j->repair &&
				    unlinkat(md, de->d_name, 0) == 0)
					report(j, shown,
					    "leftover of an "
					    "interrupted password change",
					    1);
				else
					report(j, shown,
					    "leftover of an "
					    "interrupted password change",
					    0);
				continue;
			}
			if (strncmp(de->d_name, ".pass-", 6) == 0)
				continue; /* a change may be under way */
			if (interrupted_write(de->d_name)) {
				if (fstatat(md, de->d_name, &st,
				        AT_SYMLINK_NOFOLLOW) == -1 ||
				    !old_enough(&st, j->now, WRITE_STALE_SEC))
					continue; /* may be under way */
				if (j->repair && S_ISREG(st.st_mode) &&
				    unlinkat(md, de->d_name, 0) == 0)
					report(j, shown,
					    "leftover of an interrupted write",
					    1);
				else
					report(j, shown,
					    "leftover of an interrupted write",
					    0);
				continue;
			}
			report(j, shown, "foreign entry in an account", 0);
		}
		closedir(d);
	}
	check_sub(j, md, name, "tmp", &count);
	check_sub(j, md, name, "new", &count);
	check_sub(j, md, name, "cur", &count);
	close(md);
	if (!is_lost &&
	    (u = realloc(j->users, (j->nusers + 1) * sizeof(*u))) != NULL) {
		j->users = u;
		snprintf(u[j->nusers].name, sizeof(u[j->nusers].name), "%s",
		    name);
		u[j->nusers++].on_disk = count;
	}
}

static int
wanted(const struct check_job *j, const char *name)
{
	size_t i;

	if (j->only == NULL)
		return 1;
	for (i = 0; i < j->nonly; i++)
		if (strcmp(j->only[i], name) == 0)
			return 1;
	return 0;
}

static void
check_work(void *arg)
{
	struct check_job *j = arg;
	int data = server_data_fd(j->srv);
	struct dirent *de;
	struct stat st;
	size_t i;
	DIR *d;

	j->now = time(NULL);
	for (i = 0; i < j->nonly; i++)
		if (!users_exists(data, j->only[i]))
			report(j, j->only[i], "no such account", 0);
	if ((d = open_dir(data, ".")) == NULL) {
		j->failed = 1;
		j->error = errno;
		return;
	}
	while ((de = readdir(d)) != NULL) {
		if (strcmp(de->d_name, ".") == 0 ||
		    strcmp(de->d_name, "..") == 0)
			continue;
		if (fstatat(data, de->d_name, &st, AT_SYMLINK_NOFOLLOW) == -1)
			continue;
		if (users_is_staging(de->d_name)) {
			if (j->only != NULL ||
			    !old_enough(&st, j->now, WRITE_STALE_SEC))
				continue; /* a registration may be building it
				           */
			if (j->repair)
				users_remove_staging(data, de->d_name);
			report(j, de->d_name,
			    "leftover of an interrupted "
			    "account creation or removal",
			    j->repair);
			continue;
		}
		if (de->d_name[0] == '.')
			continue; /* the lock, deleted accounts' mail */
		if (!S_ISDIR(st.st_mode)) {
			if (j->only == NULL)
				report(j, de->d_name,
				    "foreign file in the data "
				    "directory",
				    0);
			continue;
		}
		if (strcmp(de->d_name, RULES_LOST_DIR) == 0) {
			if (j->only == NULL)
				check_account(j, de->d_name, 1);
			continue;
		}
		if (wanted(j, de->d_name))
			check_account(j, de->d_name, 0);
	}
	closedir(d);
}

static void
check_done(void *arg)
{
	struct check_job *j = arg;
	struct ctl_conn *cc = j->cc;
	struct mailbox *mb;
	char why[128];
	size_t i;

	if (j->failed) {
		log_error("control: check: cannot read %s: %s",
		    server_cfg(j->srv)->data_dir, strerror(j->error));
		ctl_reply_error(cc, "server error");
		goto out;
	}
	/* A loaded index must hold what the disk holds. */
	for (i = 0; i < j->nusers; i++) {
		mb = mailbox_find(server_mailboxes(j->srv), j->users[i].name);
		if (mb == NULL || !mailbox_loaded(mb) ||
		    mailbox_count(mb) == j->users[i].on_disk)
			continue;
		snprintf(why, sizeof(why),
		    "index holds %zu messages, the "
		    "disk %zu",
		    mailbox_count(mb), j->users[i].on_disk);
		report(j, j->users[i].name, why, 0);
	}
	if (j->repair)
		ctl_log_change(cc, "check --repair: %zu repaired, %zu left",
		    j->repaired, j->remaining);
	ctl_reply(cc, json_pack("{s:O, s:I, s:I}", "problems", j->problems,
	                  "repaired", (json_int_t)j->repaired, "remaining",
	                  (json_int_t)j->remaining));
out:
	ctl_release(cc);
	check_job_free(j);
}

void
ctl_do_check(struct ctl_conn *cc, json_t *payload)
{
	struct check_job *j;
	json_t *users = payload != NULL ? json_object_get(payload, "users")
	                                : NULL,
	       *u;
	char name[RULES_USERNAME_MAX + 1];
	const char *why;
	size_t i;
	int repair;

	if (ctl_arg_bool(cc, payload, "repair", &repair) == -1)
		return;
	if (users != NULL && !json_is_array(users)) {
		ctl_reply_error(cc, "not a list in field: users");
		return;
	}
	if ((j = calloc(1, sizeof(*j))) == NULL ||
	    (j->problems = json_array()) == NULL) {
		free(j);
		ctl_reply_error(cc, "server error");
		return;
	}
	j->cc = cc;
	j->srv = ctl_server(cc);
	j->repair = repair;
	if (users != NULL && json_array_size(users) > 0) {
		if ((j->only = calloc(json_array_size(users),
		         sizeof(*j->only))) == NULL)
			goto nomem;
		json_array_foreach (users, i, u) {
			if (!json_is_string(u) ||
			    rules_username(json_string_value(u), name, &why) ==
			        -1) {
				ctl_reply_error(cc,
				    json_is_string(u)
				        ? why
				        : "not a list of names in field: users");
				check_job_free(j);
				return;
			}
			if ((j->only[j->nonly] = strdup(name)) == NULL)
				goto nomem;
			j->nonly++;
		}
	}
	if (ctl_submit(cc, server_store_pool(j->srv), check_work, check_done,
	        j) == -1)
		check_job_free(j);
	return;
nomem:
	ctl_reply_error(cc, "server error");
	check_job_free(j);
}
