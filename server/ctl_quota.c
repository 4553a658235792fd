/*
 * ctl_quota.c - an account's quota: get (usage, its own limit, the
 * default) and set (a size, 0 for none, or "default" to follow the quota
 * setting again).
 *
 * The limit lives in the account's quota file (deliver.h), which every
 * delivery and every QUOTA request reads afresh: a change holds from the
 * next delivery on, with no cache to update. The file is replaced whole
 * under the account's flock, the lock deliveries take, so no delivery
 * checks against a half-made change, and a crash leaves the old limit or
 * the new one.
 */
#include <sys/file.h>

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "config.h"
#include "ctl.h"
#include "ctl_store.h"
#include "deliver.h"
#include "log.h"
#include "maildir.h"
#include "rules.h"
#include "server.h"
#include "users.h"

/* A decimal byte count and a newline. */
#define QUOTA_TEXT_MAX 32

enum quota_result { QR_OK, QR_NOUSER, QR_FAILED };

struct quota_job {
	struct ctl_conn *cc;
	struct server *srv;
	int set;
	char name[RULES_USERNAME_MAX + 1];
	size_t deflt;             /* the quota setting, when started */
	long long value;          /* set: the new limit; -1: the default */
	long long own, old_own;   /* the account's own limit; -1: none */
	unsigned long long used;  /* get */
	unsigned long long limit; /* get: the limit in force */
	enum quota_result result;
	const char *step;
	int error;
};

static void
quota_work(void *arg)
{
	struct quota_job *j = arg;
	int data = server_data_fd(j->srv), md = -1;
	char text[QUOTA_TEXT_MAX];

	j->result = QR_OK;
	if (users_exists(data, j->name) != 1) {
		j->result = QR_NOUSER;
		return;
	}
	if ((md = maildir_open(data, j->name)) == -1) {
		j->step = "open account";
		goto failed;
	}
	if (!j->set) {
		j->own = ctl_store_quota(md);
		if (deliver_usage(data, j->name, j->deflt, &j->used,
		        &j->limit) == -1) {
			j->step = "read the mailbox";
			goto failed;
		}
		close(md);
		return;
	}
	/* The deliveries' lock: none of them sees the file mid-change. */
	while (flock(md, LOCK_EX) == -1)
		if (errno != EINTR) {
			j->step = "lock account";
			goto failed;
		}
	j->old_own = ctl_store_quota(md);
	snprintf(text, sizeof(text), "%lld\n", j->value);
	if (ctl_store_replace(md, CTL_STORE_QUOTA,
	        j->value >= 0 ? text : NULL) == -1) {
		j->step = "write the quota file";
		goto failed;
	}
	j->own = j->value;
	close(md); /* and the lock */
	return;
failed:
	j->error = errno;
	j->result = QR_FAILED;
	if (md != -1)
		close(md);
}

/* A limit for the log: "500M"-style is the client's; bytes here. */
static const char *
shown(long long v, char *buf, size_t len)
{
	if (v < 0)
		return "default";
	if (v == 0)
		return "none";
	snprintf(buf, len, "%lld", v);
	return buf;
}

static void
quota_done(void *arg)
{
	struct quota_job *j = arg;
	struct ctl_conn *cc = j->cc;
	char a[32], b[32];

	switch (j->result) {
	case QR_NOUSER:
		ctl_reply_error(cc, "no such user");
		goto out;
	case QR_FAILED:
		log_error("control: quota %s %s: %s: %s",
		    j->set ? "set" : "get", j->name,
		    j->step != NULL ? j->step : "?", strerror(j->error));
		ctl_reply_error(cc, "server error");
		goto out;
	case QR_OK:
		break;
	}
	if (j->set) {
		ctl_log_change(cc, "quota set %s %s -> %s", j->name,
		    shown(j->old_own, a, sizeof(a)),
		    shown(j->value, b, sizeof(b)));
		ctl_reply(cc,
		    json_pack("{s:s, s:o, s:I}", "name", j->name,
		        "account_limit",
		        j->own >= 0 ? json_integer(j->own) : json_null(),
		        "default", (json_int_t)j->deflt));
		goto out;
	}
	ctl_reply(cc, json_pack("{s:s, s:I, s:I, s:o, s:I}", "name", j->name,
	                  "used", (json_int_t)j->used, "limit",
	                  (json_int_t)j->limit, "account_limit",
	                  j->own >= 0 ? json_integer(j->own) : json_null(),
	                  "default", (json_int_t)j->deflt));
out:
	ctl_release(cc);
	free(j);
}

/*
 * A size as the quota setting takes it ("500M", "2G", "0"), through the
 * configuration's own parser so the two never disagree; "default" is -1.
 */
static int
parse_limit(const char *s, long long *value_r, const char **why_r)
{
	struct config scratch;
	const char *w;
	int rc = 0;

	if (strcmp(s, "default") == 0) {
		*value_r = -1;
		return 0;
	}
	config_init(&scratch);
	if (config_set(&scratch, "quota", s, &w) == -1) {
		*why_r =
		    "bad size: bytes, or with K, M or G (e.g. 500M), up to "
		    "1048576G; 0 for none, default for the quota setting";
		rc = -1;
	} else {
		*value_r = (long long)scratch.quota;
	}
	config_clear(&scratch);
	return rc;
}

static void
quota_start(struct ctl_conn *cc, json_t *payload, int set)
{
	struct server *srv = ctl_server(cc);
	const char *name, *size = NULL, *why;
	struct quota_job *j;

	if (ctl_arg_string(cc, payload, "name", 0, &name) == -1)
		return;
	if (set && ctl_arg_string(cc, payload, "size", 0, &size) == -1)
		return;
	if ((j = calloc(1, sizeof(*j))) == NULL) {
		ctl_reply_error(cc, "server error");
		return;
	}
	j->cc = cc;
	j->srv = srv;
	j->set = set;
	j->own = j->old_own = -1;
	j->deflt = server_cfg(srv)->quota;
	if (rules_username(name, j->name, &why) == -1 ||
	    (set && parse_limit(size, &j->value, &why) == -1)) {
		ctl_reply_error(cc, why);
		free(j);
		return;
	}
	if (ctl_submit(cc, server_store_pool(srv), quota_work, quota_done, j) ==
	    -1)
		free(j);
}

void
ctl_do_quota_get(struct ctl_conn *cc, json_t *payload)
{
	quota_start(cc, payload, 0);
}

void
ctl_do_quota_set(struct ctl_conn *cc, json_t *payload)
{
	quota_start(cc, payload, 1);
}
