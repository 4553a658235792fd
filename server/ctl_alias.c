/*
 * ctl_alias.c - the aliases table: list what is in force (the file as last
 * read at start, SIGHUP, reload or an edit, and postmaster), and edit the
 * file safely (alias add, alias del).
 */
#include <sys/stat.h>

#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "aliases.h"
#include "config.h"
#include "ctl.h"
#include "log.h"
#include "rules.h"
#include "server.h"
#include "users.h"

void
ctl_do_alias_list(struct ctl_conn *cc, json_t *payload)
{
	const struct aliases *al = server_aliases(ctl_server(cc));
	const aliases_name *members;
	json_t *list = json_array(), *m, *out;
	const char *name;
	size_t i, k, n;

	(void)payload;
	for (i = 0; list != NULL &&
	            (name = aliases_entry(al, i, &members, &n)) != NULL;
	     i++) {
		if ((m = json_array()) == NULL)
			goto fail;
		for (k = 0; k < n; k++)
			json_array_append_new(m, json_string(members[k]));
		if (json_array_append_new(list, json_pack("{s:s, s:o}", "name",
		                                    name, "members", m)) == -1)
			goto fail;
	}
	out = json_pack("{s:o, s:s}", "aliases", list, "postmaster",
	    server_cfg(ctl_server(cc))->postmaster);
	if (out == NULL) {
		ctl_reply_error(cc, "server error");
		return;
	}
	ctl_reply(cc, out);
	return;
fail:
	json_decref(list);
	ctl_reply_error(cc, "server error");
}

/*
 * Editing: the file is read, parsed (a file that does not parse is not
 * edited), the one line of the name replaced, removed or appended, the
 * result parsed again and checked (members are accounts or names of the
 * table, no loop, the name no account), saved whole (aliases_save) and
 * installed as the table in force, as a reload would. Comments and the
 * other lines stay as they were. One edit at a time in this process.
 */
#define ALIAS_FILE_MAX (16 * 1024 * 1024)

static pthread_mutex_t edit_lock = PTHREAD_MUTEX_INITIALIZER;
/* Edits saved (under edit_lock), and the last one put in force (reactor):
 * an older edit whose reply comes late does not undo a newer one. */
static unsigned long long edits_saved, edit_installed;

struct alias_job {
	struct ctl_conn *cc;
	struct server *srv;
	int add;
	char path[4096];
	aliases_name name;
	aliases_name *members; /* given */
	size_t nmembers;
	aliases_name *result; /* the entry's members after the edit */
	size_t nresult;
	struct aliases *table;  /* the new table, for the reactor */
	unsigned long long gen; /* its place among the edits saved */
	const char *refusal;    /* for the peer */
	char why[640];
	const char *step;
	int error;
};

static void
alias_job_free(struct alias_job *j)
{
	free(j->members);
	free(j->result);
	aliases_free(j->table);
	free(j);
}

/* The file's text (missing: empty); NULL with errno. */
static char *
read_text(const char *path, size_t *len_r)
{
	struct stat st;
	char *buf = NULL;
	size_t got = 0;
	ssize_t r;
	int fd;

	*len_r = 0;
	if ((fd = open(path, O_RDONLY | O_NOFOLLOW | O_CLOEXEC)) == -1)
		return errno == ENOENT ? calloc(1, 1) : NULL;
	if (fstat(fd, &st) == -1)
		goto fail;
	if (!S_ISREG(st.st_mode) || st.st_size > ALIAS_FILE_MAX) {
		errno = EFBIG;
		goto fail;
	}
	if ((buf = malloc((size_t)st.st_size + 1)) == NULL)
		goto fail;
	while (got < (size_t)st.st_size) {
		if ((r = read(fd, buf + got, (size_t)st.st_size - got)) == -1 &&
		    errno == EINTR)
			continue;
		if (r <= 0) {
			errno = r == 0 ? EAGAIN : errno;
			goto fail;
		}
		got += (size_t)r;
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

/* Whether [s, s+len) is a line defining name (parsed already). */
static int
defines(const char *s, size_t len, const char *name)
{
	const char *hash = memchr(s, '#', len), *colon;
	size_t i, n;

	if (hash != NULL)
		len = (size_t)(hash - s);
	if ((colon = memchr(s, ':', len)) == NULL)
		return 0;
	while (s < colon && (*s == ' ' || *s == '\t'))
		s++;
	n = (size_t)(colon - s);
	while (n > 0 && (s[n - 1] == ' ' || s[n - 1] == '\t'))
		n--;
	if (n != strlen(name))
		return 0;
	for (i = 0; i < n; i++)
		if ((s[i] >= 'A' && s[i] <= 'Z' ? s[i] + 32 : s[i]) != name[i])
			return 0;
	return 1;
}

/* text with name's line replaced by line ("" removes it; appended when
 * name has none). A new string, or NULL. */
static char *
replace_line(const char *text, size_t len, const char *name, const char *line,
    size_t *len_r)
{
	const char *p = text, *end = text + len, *nl;
	size_t cap = len + strlen(line) + 3, out = 0, n;
	char *buf = malloc(cap);
	int done = 0;

	if (buf == NULL)
		return NULL;
	for (; p < end; p = nl + 1) {
		if ((nl = memchr(p, '\n', (size_t)(end - p))) == NULL)
			nl = end;
		n = (size_t)(nl - p);
		if (!done && defines(p, n, name)) {
			const char *hash = memchr(p, '#', n);
			size_t ll = strlen(line);

			done = 1;
			/* A comment on the line stays with the new one. */
			if (hash != NULL && ll > 0) {
				memcpy(buf + out, line, ll - 1);
				out += ll - 1;
				buf[out++] = ' ';
				memcpy(buf + out, hash, (size_t)(nl - hash));
				out += (size_t)(nl - hash);
				buf[out++] = '\n';
			} else {
				memcpy(buf + out, line, ll);
				out += ll;
			}
			continue;
		}
		memcpy(buf + out, p, n);
		out += n;
		buf[out++] = '\n';
	}
	if (!done) {
		memcpy(buf + out, line, strlen(line));
		out += strlen(line);
	}
	buf[out] = '\0';
	*len_r = out;
	return buf;
}

static int
member_cb(const char *member, void *arg)
{
	(void)member;
	(void)arg;
	return 1; /* members are checked one by one before */
}

static void
loop_cb(const char *problem, void *arg)
{
	struct alias_job *j = arg;

	if (j->refusal == NULL) {
		snprintf(j->why, sizeof(j->why), "the change makes a loop: %s",
		    problem);
		j->refusal = j->why;
	}
}

/* The edit itself, under edit_lock. */
static void
alias_edit(struct alias_job *j)
{
	int data = server_data_fd(j->srv);
	const aliases_name *old = NULL;
	struct aliases *cur = NULL;
	char *text = NULL, *next = NULL, *line = NULL, err[512];
	size_t len, nlen, nold = 0, i, k, linecap;
	const char *name;

	if ((text = read_text(j->path, &len)) == NULL) {
		j->step = "read the aliases file";
		goto failed;
	}
	if ((cur = aliases_parse(text, len, j->path, err, sizeof(err))) ==
	    NULL) {
		log_error("control: alias: %s", err);
		j->refusal = "the aliases file does not parse; fix it first "
		             "(see the server's log)";
		goto out;
	}
	for (i = 0; (name = aliases_entry(cur, i, &old, &nold)) != NULL; i++)
		if (strcmp(name, j->name) == 0)
			break;
	if (name == NULL) {
		old = NULL;
		nold = 0;
		if (!j->add) {
			j->refusal = "no such alias";
			goto out;
		}
	}
	if ((j->result = calloc(nold + j->nmembers + 1, sizeof(*j->result))) ==
	    NULL) {
		j->step = "out of memory";
		goto failed;
	}
	for (i = 0; i < nold; i++) {
		for (k = 0; !j->add && k < j->nmembers; k++)
			if (strcmp(old[i], j->members[k]) == 0)
				break;
		if (j->add || k == j->nmembers)
			memcpy(j->result[j->nresult++], old[i],
			    sizeof(aliases_name));
	}
	for (k = 0; k < j->nmembers; k++) {
		for (i = 0; i < nold; i++)
			if (strcmp(old[i], j->members[k]) == 0)
				break;
		if (!j->add && i == nold) {
			snprintf(j->why, sizeof(j->why),
			    "not a member of %s: %s", j->name, j->members[k]);
			j->refusal = j->why;
			goto out;
		}
		if (j->add && i == nold) {
			for (i = 0; i < j->nresult; i++)
				if (strcmp(j->result[i], j->members[k]) == 0)
					break; /* given twice */
			if (i == j->nresult)
				memcpy(j->result[j->nresult++], j->members[k],
				    sizeof(aliases_name));
		}
	}
	if (!j->add && j->nmembers == 0)
		j->nresult = 0; /* the whole alias */
	linecap = 8 + RULES_USERNAME_MAX +
	          j->nresult * (RULES_USERNAME_MAX + 2);
	if ((line = malloc(linecap)) == NULL) {
		j->step = "out of memory";
		goto failed;
	}
	line[0] = '\0';
	if (j->nresult > 0) {
		snprintf(line, linecap, "%s:", j->name);
		for (i = 0; i < j->nresult; i++) {
			strcat(line, i > 0 ? ", " : " ");
			strcat(line, j->result[i]);
		}
		strcat(line, "\n");
	}
	if ((next = replace_line(text, len, j->name, line, &nlen)) == NULL) {
		j->step = "out of memory";
		goto failed;
	}
	if ((j->table = aliases_parse(next, nlen, j->path, err, sizeof(err))) ==
	    NULL) {
		snprintf(j->why, sizeof(j->why), "%s", err);
		j->refusal = j->why;
		goto out;
	}
	/* A name others still list would become an unknown recipient. */
	if (j->nresult == 0 && users_exists(data, j->name) != 1) {
		const aliases_name *m;
		size_t nm;

		for (i = 0;
		     (name = aliases_entry(j->table, i, &m, &nm)) != NULL; i++)
			for (k = 0; k < nm; k++)
				if (strcmp(m[k], j->name) == 0) {
					snprintf(j->why, sizeof(j->why),
					    "%s is still a member of %s",
					    j->name, name);
					j->refusal = j->why;
					goto out;
				}
	}
	for (k = 0; j->add && k < j->nmembers; k++)
		if (users_exists(data, j->members[k]) != 1 &&
		    !aliases_has(j->table, j->members[k])) {
			snprintf(j->why, sizeof(j->why),
			    "no such user or alias: %s", j->members[k]);
			j->refusal = j->why;
			goto out;
		}
	if (aliases_check(j->table, member_cb, j, loop_cb) > 0)
		goto out;
	if (aliases_save(j->path, next, nlen, &j->step) == -1)
		goto failed;
	j->gen = ++edits_saved;
out:
	aliases_free(cur);
	free(text);
	free(next);
	free(line);
	return;
failed:
	j->error = errno;
	goto out;
}

static void
alias_work(void *arg)
{
	struct alias_job *j = arg;
	int data = server_data_fd(j->srv);

	/* What exists is the store's: checked before the file is read. */
	if (j->add && users_exists(data, j->name) == 1) {
		j->refusal = "an account has this name";
		return;
	}
	pthread_mutex_lock(&edit_lock);
	alias_edit(j);
	pthread_mutex_unlock(&edit_lock);
}

static void
alias_done(void *arg)
{
	struct alias_job *j = arg;
	struct ctl_conn *cc = j->cc;
	json_t *m;
	size_t i;

	if (j->refusal != NULL) {
		ctl_reply_error(cc, j->refusal);
		goto out;
	}
	if (j->step != NULL) {
		log_error("control: alias %s %s: %s %s: %s",
		    j->add ? "add" : "del", j->name, j->step, j->path,
		    strerror(j->error));
		ctl_reply_error(cc, "server error");
		goto out;
	}
	m = json_array();
	for (i = 0; i < j->nresult; i++)
		json_array_append_new(m, json_string(j->result[i]));
	ctl_log_change(cc, "alias %s %s: %s %zu member(s) now",
	    j->add ? "add" : "del", j->name, j->path, j->nresult);
	/* In force at once, as a reload would have it. */
	if (j->gen > edit_installed) {
		edit_installed = j->gen;
		server_set_aliases(j->srv, j->table);
		j->table = NULL;
	}
	ctl_reply(cc, json_pack("{s:s, s:o, s:s}", "name", j->name, "members",
	                  m, "file", j->path));
out:
	ctl_release(cc);
	alias_job_free(j);
}

static void
alias_start(struct ctl_conn *cc, json_t *payload, int add)
{
	struct server *srv = ctl_server(cc);
	json_t *members = payload != NULL ? json_object_get(payload, "members")
	                                  : NULL;
	const char *name, *why, *path = server_aliases_file(srv);
	struct alias_job *j;
	json_t *v;
	size_t i;

	if (ctl_arg_string(cc, payload, "name", 0, &name) == -1)
		return;
	if (members != NULL && !json_is_array(members)) {
		ctl_reply_error(cc, "not a list in field: members");
		return;
	}
	if (add && json_array_size(members) == 0) {
		ctl_reply_error(cc, "missing field: members");
		return;
	}
	if (json_array_size(members) > ALIASES_EXPAND_MAX) {
		ctl_reply_error(cc, "more than 1000 members");
		return;
	}
	if (path[0] == '\0') {
		ctl_reply_error(cc,
		    "no aliases file is configured (the aliases "
		    "setting)");
		return;
	}
	if ((j = calloc(1, sizeof(*j))) == NULL ||
	    (j->members = calloc(json_array_size(members) + 1,
	         sizeof(*j->members))) == NULL) {
		free(j);
		ctl_reply_error(cc, "server error");
		return;
	}
	j->cc = cc;
	j->srv = srv;
	j->add = add;
	snprintf(j->path, sizeof(j->path), "%s", path);
	if (rules_username(name, j->name, &why) == -1)
		goto refuse;
	if (strcmp(j->name, ALIASES_POSTMASTER) == 0 ||
	    strcmp(j->name, ALIASES_MAILER_DAEMON) == 0) {
		why = "postmaster and mailer-daemon are built in (see the "
		      "postmaster setting)";
		goto refuse;
	}
	json_array_foreach (members, i, v) {
		if (!json_is_string(v)) {
			why = "not a list of names in field: members";
			goto refuse;
		}
		if (rules_username(json_string_value(v),
		        j->members[j->nmembers], &why) == -1)
			goto refuse;
		if (strcmp(j->members[j->nmembers], j->name) == 0) {
			why = "an alias cannot be its own member";
			goto refuse;
		}
		j->nmembers++;
	}
	if (ctl_submit(cc, server_store_pool(srv), alias_work, alias_done, j) ==
	    -1)
		alias_job_free(j);
	return;
refuse:
	ctl_reply_error(cc, why);
	alias_job_free(j);
}

void
ctl_do_alias_add(struct ctl_conn *cc, json_t *payload)
{
	alias_start(cc, payload, 1);
}

void
ctl_do_alias_del(struct ctl_conn *cc, json_t *payload)
{
	alias_start(cc, payload, 0);
}
