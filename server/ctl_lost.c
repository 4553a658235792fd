/*
 * ctl_lost.c - undeliverable mail (the LOST folder): list, hand a message to
 * an account, purge old ones.
 *
 * Handing over copies the file into the account durably first and removes
 * it from LOST after: a crash between the two leaves the message in both
 * places, never in neither.
 */
#include <sys/stat.h>

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "ctl.h"
#include "ctl_store.h"
#include "log.h"
#include "mailbox.h"
#include "maildir.h"
#include "message.h"
#include "rules.h"
#include "server.h"
#include "users.h"

enum lost_op { LOST_LIST, LOST_DELIVER, LOST_PURGE };

struct lost_job {
	struct ctl_conn *cc;
	struct server *srv;
	enum lost_op op;
	char id[MAILDIR_NAME_MAX];
	char to[RULES_USERNAME_MAX + 1];
	long long days;
	int nouser, noid, failed, error;
	const char *step;
	json_t *out;
	struct maildir_file file;   /* deliver: the new file */
	struct message_info info;
	size_t purged;
};

static void
lost_job_free(struct lost_job *j)
{
	message_info_clear(&j->info);
	json_decref(j->out);
	free(j);
}

/* The base of a Maildir name: what comes before ":2,". */
static void
base_of(const char *name, char *out, size_t len)
{
	snprintf(out, len, "%.*s", (int)strcspn(name, ":"), name);
}

static void
lost_list(struct lost_job *j, int dir)
{
	struct maildir_file *files = NULL;
	struct message_info info;
	char base[MAILDIR_NAME_MAX], *buf;
	size_t n = 0, i, len;
	json_t *e;

	if (maildir_list(dir, &files, &n) == -1 ||
	    (j->out = json_array()) == NULL) {
		j->failed = 1;
		j->error = errno;
		j->step = "list LOST";
		free(files);
		return;
	}
	for (i = 0; i < n; i++) {
		if ((buf = maildir_read(dir, &files[i], 64 * 1024, &len)) == NULL)
			continue;
		memset(&info, 0, sizeof(info));
		if (message_parse(buf, len, 0, &info) == 0) {
			base_of(files[i].name, base, sizeof(base));
			e = json_pack("{s:s, s:s, s:s, s:s, s:s, s:I}",
			    "id", base, "from", info.from, "to", info.to,
			    "subject", info.subject, "date", info.date,
			    "size", (json_int_t)files[i].size);
			if (e != NULL)
				json_array_append_new(j->out, e);
			message_info_clear(&info);
		}
		free(buf);
	}
	free(files);
}

/* Unlink name from md's new/ or cur/ and make it durable. */
static int
remove_file(int md, int in_cur, const char *name)
{
	int sub, rc = 0;

	if ((sub = openat(md, in_cur ? "cur" : "new", O_RDONLY | O_DIRECTORY |
	    O_NOFOLLOW | O_CLOEXEC)) == -1)
		return -1;
	if (unlinkat(sub, name, 0) == -1 && errno != ENOENT)
		rc = -1;
	if (rc == 0)
		rc = fsync(sub);
	close(sub);
	return rc;
}

static void
lost_deliver(struct lost_job *j, int dir)
{
	struct maildir_file f;
	char *buf = NULL;
	size_t len;
	int to = -1;

	if (!users_exists(server_data_fd(j->srv), j->to)) {
		j->nouser = 1;
		return;
	}
	if (!ctl_store_find(dir, j->id, &f)) {
		j->noid = 1;
		return;
	}
	if ((buf = maildir_read(dir, &f, 0, &len)) == NULL) {
		j->step = "read";
		goto failed;
	}
	if ((to = maildir_open(server_data_fd(j->srv), j->to)) == -1) {
		j->step = "open the account";
		goto failed;
	}
	if (maildir_deliver(to, buf, len, j->file.name, &j->step) == -1)
		goto failed;
	j->file.size = (off_t)len;
	maildir_order(j->file.name, j->file.order);
	if (message_parse(buf, len, 0, &j->info) == -1)
		memset(&j->info, 0, sizeof(j->info));
	if (remove_file(dir, f.in_cur, f.name) == -1) {
		j->step = "remove from LOST";
		goto failed;
	}
	close(to);
	free(buf);
	return;
failed:
	j->failed = 1;
	j->error = errno;
	if (to != -1)
		close(to);
	free(buf);
}

static void
lost_purge(struct lost_job *j, int dir)
{
	struct maildir_file *files = NULL;
	time_t limit = time(NULL) - (time_t)j->days * 86400;
	struct stat st;
	size_t n = 0, i;
	int sub[2];

	if (maildir_list(dir, &files, &n) == -1) {
		j->failed = 1;
		j->error = errno;
		j->step = "list LOST";
		return;
	}
	sub[0] = openat(dir, "new", O_RDONLY | O_DIRECTORY | O_NOFOLLOW |
	    O_CLOEXEC);
	sub[1] = openat(dir, "cur", O_RDONLY | O_DIRECTORY | O_NOFOLLOW |
	    O_CLOEXEC);
	for (i = 0; i < n; i++) {
		int s = sub[files[i].in_cur ? 1 : 0];

		if (s != -1 && fstatat(s, files[i].name, &st,
		    AT_SYMLINK_NOFOLLOW) == 0 && st.st_mtime < limit &&
		    unlinkat(s, files[i].name, 0) == 0)
			j->purged++;
	}
	free(files);
	for (i = 0; i < 2; i++)
		if (sub[i] != -1) {
			(void)fsync(sub[i]);
			close(sub[i]);
		}
}

static void
lost_work(void *arg)
{
	struct lost_job *j = arg;
	int dir;

	if ((dir = maildir_open(server_data_fd(j->srv), RULES_LOST_DIR)) ==
	    -1) {
		j->failed = 1;
		j->error = errno;
		j->step = "open LOST";
		return;
	}
	switch (j->op) {
	case LOST_LIST:
		lost_list(j, dir);
		break;
	case LOST_DELIVER:
		lost_deliver(j, dir);
		break;
	case LOST_PURGE:
		lost_purge(j, dir);
		break;
	}
	close(dir);
}

static void
lost_done(void *arg)
{
	struct lost_job *j = arg;
	struct ctl_conn *cc = j->cc;
	struct mailbox *mb;

	if (j->failed) {
		log_error("control: lost: %s: %s", j->step, strerror(j->error));
		ctl_reply_error(cc, "server error");
	} else if (j->nouser) {
		ctl_reply_error(cc, "no such user");
	} else if (j->noid) {
		ctl_reply_error(cc, "no such message in LOST");
	} else if (j->op == LOST_LIST) {
		ctl_reply(cc, json_pack("{s:O}", "messages", j->out));
	} else if (j->op == LOST_DELIVER) {
		server_count_delivery(j->srv);
		if ((mb = mailbox_find(server_mailboxes(j->srv), j->to)) !=
		    NULL &&
		    j->info.from != NULL &&
		    mailbox_add(mb, &j->file, &j->info) == -1)
			log_error("cannot index a delivery to %s", j->to);
		ctl_log_change(cc, "lost deliver %s to %s (file %s)", j->id,
		    j->to, j->file.name);
		ctl_reply(cc, json_pack("{s:s, s:s}", "to", j->to, "file",
		    j->file.name));
	} else {
		ctl_log_change(cc, "lost purge older than %lld days: %zu "
		    "removed", j->days, j->purged);
		ctl_reply(cc, json_pack("{s:I}", "purged",
		    (json_int_t)j->purged));
	}
	ctl_release(cc);
	lost_job_free(j);
}

static void
lost_start(struct ctl_conn *cc, json_t *payload, enum lost_op op)
{
	struct server *srv = ctl_server(cc);
	const char *id = NULL, *to = NULL, *why;
	struct lost_job *j;
	long long days = 0;

	if (op == LOST_DELIVER &&
	    (ctl_arg_string(cc, payload, "id", 0, &id) == -1 ||
	    ctl_arg_string(cc, payload, "to", 0, &to) == -1))
		return;
	if (op == LOST_PURGE &&
	    ctl_arg_count(cc, payload, "older_than_days", &days) == -1)
		return;
	if (days > 100000) {
		ctl_reply_error(cc, "older_than_days is too large");
		return;
	}
	/* An id is a file's base name: never a path. */
	if (id != NULL && (id[0] == '\0' || id[0] == '.' ||
	    strchr(id, '/') != NULL || strchr(id, ':') != NULL ||
	    strlen(id) >= MAILDIR_NAME_MAX)) {
		ctl_reply_error(cc, "no such message in LOST");
		return;
	}
	if ((j = calloc(1, sizeof(*j))) == NULL) {
		ctl_reply_error(cc, "server error");
		return;
	}
	j->cc = cc;
	j->srv = srv;
	j->op = op;
	j->days = days;
	if (id != NULL)
		snprintf(j->id, sizeof(j->id), "%s", id);
	if (to != NULL && rules_username(to, j->to, &why) == -1) {
		ctl_reply_error(cc, why);
		lost_job_free(j);
		return;
	}
	if (ctl_submit(cc, server_store_pool(srv), lost_work, lost_done,
	    j) == -1)
		lost_job_free(j);
}

void
ctl_do_lost_list(struct ctl_conn *cc, json_t *payload)
{
	lost_start(cc, payload, LOST_LIST);
}

void
ctl_do_lost_deliver(struct ctl_conn *cc, json_t *payload)
{
	lost_start(cc, payload, LOST_DELIVER);
}

void
ctl_do_lost_purge(struct ctl_conn *cc, json_t *payload)
{
	lost_start(cc, payload, LOST_PURGE);
}
