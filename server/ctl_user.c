/*
 * ctl_user.c - accounts: list, add, passwd, del, lock, unlock, rename.
 *
 * Names and passwords pass the same rules as registration. Disk work and
 * hashing run on a pool; the reply, the log line with the administrator's
 * uid and the sessions closed (an account removed, renamed or locked keeps
 * no open session) come after, on the reactor.
 */
#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <sodium.h>

#include "account.h"
#include "ctl.h"
#include "ctl_store.h"
#include "log.h"
#include "maildir.h"
#include "rules.h"
#include "server.h"
#include "users.h"

enum user_op {
	OP_LIST,
	OP_ADD,
	OP_PASSWD,
	OP_DEL,
	OP_LOCK,
	OP_UNLOCK,
	OP_RENAME
};

enum user_result { UR_OK, UR_NOUSER, UR_TAKEN, UR_FAILED };

struct user_job {
	struct ctl_conn *cc;
	struct server *srv;
	enum user_op op;
	char name[RULES_USERNAME_MAX + 1];
	char to[RULES_USERNAME_MAX + 1]; /* rename */
	char *password;
	int purge;       /* del */
	size_t deflt;    /* list: the quota setting */
	char aside[512]; /* del: where the mail went */
	enum user_result result;
	const char *step;
	int error;
	json_t *out; /* list */
};

static void
user_job_free(struct user_job *j)
{
	if (j->password != NULL) {
		sodium_memzero(j->password, strlen(j->password));
		free(j->password);
	}
	json_decref(j->out);
	free(j);
}

/* One account's line of "user list". */
static json_t *
account_entry(int data, const char *name, size_t deflt)
{
	struct maildir_file *files = NULL;
	char pass[2], when[32];
	long long size = 0, quota = (long long)deflt, own;
	time_t last;
	struct tm tm;
	size_t n = 0, i;
	int md, fd;

	pass[0] = '\0';
	if ((md = maildir_open(data, name)) != -1) {
		if (maildir_list(md, &files, &n) == -1)
			n = 0;
		if ((own = ctl_store_quota(md)) >= 0)
			quota = own;
		if ((fd = openat(md, ACCOUNT_PASS,
		         O_RDONLY | O_NOFOLLOW | O_NONBLOCK | O_CLOEXEC)) !=
		    -1) {
			if (read(fd, pass, 1) != 1)
				pass[0] = '\0';
			close(fd);
		}
		close(md);
	}
	for (i = 0; i < n; i++)
		size += (long long)files[i].size;
	free(files);
	if ((last = account_time(data, name, ACCOUNT_LAST_LOGIN)) != -1) {
		gmtime_r(&last, &tm);
		strftime(when, sizeof(when), "%Y-%m-%dT%H:%M:%SZ", &tm);
	}
	/* The limit in force (its own, or the default); 0: none. */
	return json_pack("{s:s, s:I, s:I, s:I, s:o, s:b, s:b, s:b}", "name",
	    name, "messages", (json_int_t)n, "size", (json_int_t)size, "quota",
	    (json_int_t)quota, "last_login",
	    last != -1 ? json_string(when) : json_null(), "locked",
	    account_has(data, name, ACCOUNT_LOCKED), "imported",
	    account_has(data, name, ACCOUNT_IMPORTED), "legacy_password",
	    pass[0] == '{');
}

static void
user_work(void *arg)
{
	struct user_job *j = arg;
	int data = server_data_fd(j->srv);
	char **names = NULL;
	size_t n = 0, i;
	json_t *e;

	j->result = UR_OK;
	if (j->op != OP_LIST && j->op != OP_ADD &&
	    !users_exists(data, j->name)) {
		j->result = UR_NOUSER;
		return;
	}
	switch (j->op) {
	case OP_LIST:
		if (ctl_store_accounts(data, &names, &n) == -1 ||
		    (j->out = json_array()) == NULL) {
			j->step = "read the data directory";
			goto failed;
		}
		for (i = 0; i < n; i++)
			if ((e = account_entry(data, names[i], j->deflt)) ==
			        NULL ||
			    json_array_append_new(j->out, e) == -1) {
				ctl_store_names_free(names, n);
				j->step = "out of memory";
				goto failed;
			}
		ctl_store_names_free(names, n);
		return;
	case OP_ADD:
		switch (users_create(data, j->name, j->password, &j->step)) {
		case USERS_OK:
			return;
		case USERS_TAKEN:
			j->result = UR_TAKEN;
			return;
		default:
			goto failed;
		}
	case OP_PASSWD:
		if (account_pass_set(data, j->name, j->password, &j->step) ==
		    -1)
			goto failed;
		return;
	case OP_DEL:
		if (ctl_store_remove_account(data, j->name, j->purge, j->aside,
		        sizeof(j->aside), &j->step) == -1)
			goto failed;
		return;
	case OP_LOCK:
	case OP_UNLOCK:
		if (account_mark(data, j->name, ACCOUNT_LOCKED, "",
		        j->op == OP_LOCK) == -1) {
			j->step = "write the lock marker";
			goto failed;
		}
		return;
	case OP_RENAME:
		if (ctl_store_rename_account(data, j->name, j->to) == -1) {
			if (errno == EEXIST || errno == ENOTEMPTY) {
				j->result = UR_TAKEN;
				return;
			}
			j->step = "rename";
			goto failed;
		}
		return;
	}
	return;
failed:
	j->error = errno;
	j->result = UR_FAILED;
}

static void
user_done(void *arg)
{
	static const char *const verbs[] = { "user list", "user add",
		"user passwd", "user del", "user lock", "user unlock",
		"user rename" };
	struct user_job *j = arg;
	struct ctl_conn *cc = j->cc;
	unsigned closed = 0;
	json_t *out;

	switch (j->result) {
	case UR_NOUSER:
		ctl_reply_error(cc, "no such user");
		goto out;
	case UR_TAKEN:
		ctl_reply_error(cc, "user name is taken");
		goto out;
	case UR_FAILED:
		log_error("control: %s %s: %s: %s", verbs[j->op], j->name,
		    j->step != NULL ? j->step : "?", strerror(j->error));
		ctl_reply_error(cc, "server error");
		goto out;
	case UR_OK:
		break;
	}
	if (j->op == OP_LIST) {
		out = json_pack("{s:O}", "users", j->out);
		ctl_reply(cc, out);
		goto out;
	}
	if (j->op == OP_DEL || j->op == OP_RENAME || j->op == OP_LOCK)
		closed = server_close_user(j->srv, j->name,
		    j->op == OP_LOCK ? "account locked" : "account removed");
	switch (j->op) {
	case OP_DEL:
		ctl_log_change(cc, "user del %s: %s%s", j->name,
		    j->purge ? "removed with its mail" : "mail kept in ",
		    j->aside);
		break;
	case OP_RENAME:
		ctl_log_change(cc, "user rename %s %s", j->name, j->to);
		break;
	default:
		ctl_log_change(cc, "%s %s", verbs[j->op], j->name);
		break;
	}
	ctl_reply(cc,
	    json_pack("{s:s, s:I, s:s}", "name",
	        j->op == OP_RENAME ? j->to : j->name, "sessions_closed",
	        (json_int_t)closed, "kept_in", j->aside));
out:
	ctl_release(cc);
	user_job_free(j);
}

/* Check the request's fields and hand the job to its pool. */
static void
user_start(struct ctl_conn *cc, json_t *payload, enum user_op op)
{
	struct server *srv = ctl_server(cc);
	const char *name = NULL, *password = NULL, *to = NULL, *why;
	struct user_job *j;
	int purge = 0;

	if (op != OP_LIST &&
	    ctl_arg_string(cc, payload, "name", 0, &name) == -1)
		return;
	if ((op == OP_ADD || op == OP_PASSWD) &&
	    ctl_arg_string(cc, payload, "password", 0, &password) == -1)
		return;
	if (op == OP_RENAME &&
	    ctl_arg_string(cc, payload, "new_name", 0, &to) == -1)
		return;
	if (op == OP_DEL && ctl_arg_bool(cc, payload, "purge", &purge) == -1)
		return;
	if ((j = calloc(1, sizeof(*j))) == NULL) {
		ctl_reply_error(cc, "server error");
		return;
	}
	j->cc = cc;
	j->srv = srv;
	j->op = op;
	j->purge = purge;
	j->deflt = server_cfg(srv)->quota;
	if (name != NULL && rules_username(name, j->name, &why) == -1)
		goto refuse;
	if (to != NULL) {
		if (rules_username(to, j->to, &why) == -1)
			goto refuse;
		if (strcmp(j->to, j->name) == 0) {
			why = "the new name is the old one";
			goto refuse;
		}
	}
	if (password != NULL) {
		if (rules_password(password, &why) == -1)
			goto refuse;
		if ((j->password = strdup(password)) == NULL) {
			why = "server error";
			goto refuse;
		}
	}
	if (ctl_submit(cc,
	        password != NULL ? server_auth_pool(srv)
	                         : server_store_pool(srv),
	        user_work, user_done, j) == -1)
		user_job_free(j);
	return;
refuse:
	ctl_reply_error(cc, why);
	user_job_free(j);
}

void
ctl_do_user_list(struct ctl_conn *cc, json_t *payload)
{
	user_start(cc, payload, OP_LIST);
}

void
ctl_do_user_add(struct ctl_conn *cc, json_t *payload)
{
	user_start(cc, payload, OP_ADD);
}

void
ctl_do_user_passwd(struct ctl_conn *cc, json_t *payload)
{
	user_start(cc, payload, OP_PASSWD);
}

void
ctl_do_user_del(struct ctl_conn *cc, json_t *payload)
{
	user_start(cc, payload, OP_DEL);
}

void
ctl_do_user_lock(struct ctl_conn *cc, json_t *payload)
{
	user_start(cc, payload, OP_LOCK);
}

void
ctl_do_user_unlock(struct ctl_conn *cc, json_t *payload)
{
	user_start(cc, payload, OP_UNLOCK);
}

void
ctl_do_user_rename(struct ctl_conn *cc, json_t *payload)
{
	user_start(cc, payload, OP_RENAME);
}
