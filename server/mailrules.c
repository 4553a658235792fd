/*
 * mailrules.c - handlers for VACATION and QUOTA, the requests through
 * which an account sees and sets what the delivery rules (deliver.c) do
 * for it. Both touch the account directory, so they run on the store pool.
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <jansson.h>

#include "conn.h"
#include "deliver.h"
#include "dispatch.h"
#include "log.h"
#include "pool.h"
#include "rules.h"
#include "server.h"
#include "session.h"

struct rules_job {
	struct conn *conn;
	struct server *srv;
	char user[RULES_USERNAME_MAX + 1];
	char *subject, *text; /* vacation: NULL turns it off */
	time_t until;
	size_t limit; /* quota: the default */
	unsigned long long used, quota;
	int failed;
	int error;
};

static void
rules_job_free(struct rules_job *j)
{
	free(j->subject);
	free(j->text);
	free(j);
}

/* Hold the connection and run work on the store pool, or reply busy. */
static void
rules_submit(struct conn *c, struct rules_job *j, void (*work)(void *),
    void (*done)(void *))
{
	conn_hold(c);
	if (pool_submit(server_store_pool(j->srv), work, done, j) == -1) {
		rules_job_free(j);
		conn_release_error(c, "server busy, try again later");
	}
}

static struct rules_job *
rules_job_new(struct conn *c)
{
	struct rules_job *j;

	if ((j = calloc(1, sizeof(*j))) == NULL)
		return NULL;
	j->conn = c;
	j->srv = conn_server(c);
	memcpy(j->user, conn_session(c)->user, sizeof(j->user));
	return j;
}

static void
vacation_work(void *arg)
{
	struct rules_job *j = arg;

	if (deliver_vacation_set(server_data_fd(j->srv), j->user, j->subject,
	        j->text, j->until) == -1) {
		j->failed = 1;
		j->error = errno;
	}
}

static void
vacation_done(void *arg)
{
	struct rules_job *j = arg;
	struct conn *c = j->conn;

	if (j->failed) {
		log_write(LOG_LEVEL_ERROR, conn_id(c), "vacation user=%s: %s",
		    j->user, strerror(j->error));
		conn_reply_error(c, "server error");
	} else {
		log_write(LOG_LEVEL_INFO, conn_id(c), "vacation %s user=%s",
		    j->subject != NULL ? "on" : "off", j->user);
		conn_reply(c, PROTO_OK, NULL);
	}
	conn_release(c);
	rules_job_free(j);
}

void
h_vacation(struct conn *c, const union msg_args *args)
{
	const struct msg_vacation *v = &args->vacation;
	struct rules_job *j;
	const char *why;

	if (v->on) {
		if (rules_subject(v->subject, &why) == -1) {
			conn_reply_error(c, why);
			return;
		}
		if (rules_header_safe(v->subject) == -1) {
			conn_reply_error(c,
			    "subject may not contain line breaks "
			    "or control characters");
			return;
		}
		if (strlen(v->text) > DELIVER_VACATION_TEXT_MAX) {
			conn_reply_error(c,
			    "vacation text is longer than 64 KiB");
			return;
		}
		if (v->until != 0 && v->until <= (long long)time(NULL)) {
			conn_reply_error(c, "vacation end is in the past");
			return;
		}
	}
	if ((j = rules_job_new(c)) == NULL)
		goto fail;
	if (v->on) {
		j->until = (time_t)v->until;
		if ((j->subject = strdup(v->subject)) == NULL ||
		    (j->text = strdup(v->text)) == NULL)
			goto fail;
	}
	rules_submit(c, j, vacation_work, vacation_done);
	return;
fail:
	if (j != NULL)
		rules_job_free(j);
	conn_reply_error(c, "server error");
}

static void
quota_work(void *arg)
{
	struct rules_job *j = arg;

	if (deliver_usage(server_data_fd(j->srv), j->user, j->limit, &j->used,
	        &j->quota) == -1) {
		j->failed = 1;
		j->error = errno;
	}
}

static void
quota_done(void *arg)
{
	struct rules_job *j = arg;
	struct conn *c = j->conn;
	json_t *payload;

	if (j->failed) {
		log_write(LOG_LEVEL_ERROR, conn_id(c), "quota user=%s: %s",
		    j->user, strerror(j->error));
		conn_reply_error(c, "mailbox unavailable");
	} else if ((payload = json_pack("{s:I, s:I}", "used",
	                (json_int_t)j->used, "limit", (json_int_t)j->quota)) ==
	           NULL)
		conn_reply_error(c, "server error");
	else
		conn_reply(c, PROTO_OK, payload);
	conn_release(c);
	rules_job_free(j);
}

void
h_quota(struct conn *c, const union msg_args *args)
{
	struct rules_job *j;

	(void)args;
	if ((j = rules_job_new(c)) == NULL) {
		conn_reply_error(c, "server error");
		return;
	}
	j->limit = server_cfg(j->srv)->quota;
	rules_submit(c, j, quota_work, quota_done);
}
