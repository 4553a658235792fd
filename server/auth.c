/*
 * auth.c - handlers for BYE, AUTH_REGISTER, AUTH_LOGIN and AUTH_LOGOUT.
 *
 * Hashing runs on the auth pool; the connection is held meanwhile, so its
 * next request waits for this reply while other clients are served. A login
 * for an account or from an address with recent failures first waits out
 * its penalty on a timer (penalty.c), held the same way.
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include <sodium.h>

#include "conn.h"
#include "dispatch.h"
#include "log.h"
#include "mailbox.h"
#include "maildir.h"
#include "message.h"
#include "penalty.h"
#include "pool.h"
#include "rules.h"
#include "server.h"
#include "session.h"
#include "users.h"

#define LOGIN_FAILED "unknown user or wrong password"

/* What a login's scan of the mailbox found, applied on the reactor. */
struct scanned {
	struct maildir_file file;
	struct message_info info;
};

struct auth_job {
	struct conn *conn;
	struct server *srv;
	int registering;
	char user[RULES_USERNAME_MAX + 1];
	char addr[64];            /* the client's address, for penalties */
	char *password;
	size_t password_len;
	enum users_result result;
	const char *step;
	int error;
	int scan;                 /* login: load the mailbox too */
	struct mailbox *held;     /* the user's mailbox, from submission on, so
				   deliveries meanwhile are indexed */
	int scan_failed;
	struct scanned *found;
	size_t nfound;
};

static void
auth_job_free(struct auth_job *j)
{
	size_t i;

	mailbox_release(j->held);
	if (j->password != NULL) {
		sodium_memzero(j->password, j->password_len);
		free(j->password);
	}
	for (i = 0; i < j->nfound; i++)
		message_info_clear(&j->found[i].info);
	free(j->found);
	free(j);
}

/* Read the headers of every message of the user's Maildir (worker thread). */
static int
scan_mailbox(struct auth_job *j)
{
	struct maildir_file *files = NULL;
	char dir[4096], *buf;
	size_t n = 0, i, len;

	if (server_user_dir(j->srv, j->user, dir, sizeof(dir)) == -1 ||
	    maildir_list(dir, &files, &n) == -1)
		return -1;
	if ((j->found = calloc(n ? n : 1, sizeof(*j->found))) == NULL) {
		free(files);
		return -1;
	}
	for (i = 0; i < n; i++) {
		struct scanned *s = &j->found[j->nfound];

		s->file = files[i];
		/* Headers are at the start; 64 KiB holds any sane set. */
		if ((buf = maildir_read(dir, &s->file, 64 * 1024, &len)) == NULL)
			continue; /* gone since the listing */
		if (message_parse(buf, len, 0, &s->info) == 0)
			j->nfound++;
		free(buf);
	}
	free(files);
	return 0;
}

static void
auth_work(void *arg)
{
	struct auth_job *j = arg;
	const char *data = server_cfg(j->srv)->data_dir;

	if (j->registering) {
		j->result = users_create(data, j->user, j->password, &j->step);
		j->error = errno;
		return;
	}
	j->result = users_verify(data, j->user, j->password);
	if (j->result == USERS_OK && j->scan && scan_mailbox(j) == -1) {
		j->scan_failed = 1;
		j->error = errno;
	}
}

/* Log the session in; the job's mailbox becomes the session's. */
static int
session_login(struct auth_job *j)
{
	struct mailbox *mb = j->held;
	size_t i;

	if (!mailbox_loaded(mb)) {
		for (i = 0; i < j->nfound; i++)
			if (mailbox_add_scanned(mb, &j->found[i].file,
			    &j->found[i].info) == -1)
				return -1;
		mailbox_set_loaded(mb);
	}
	conn_login(j->conn, j->user, mb);
	j->held = NULL;
	return 0;
}

static void
auth_done(void *arg)
{
	struct auth_job *j = arg;
	struct conn *c = j->conn;
	const char *what = j->registering ? "register" : "login";

	if (!conn_alive(c))
		goto out;
	switch (j->result) {
	case USERS_OK:
		if (j->scan_failed) {
			log_write(LOG_LEVEL_ERROR, conn_id(c),
			    "login user=%s: cannot read mailbox: %s", j->user,
			    strerror(j->error));
			conn_reply_error(c, "mailbox unavailable");
			break;
		}
		if (session_login(j) == -1) {
			conn_reply_error(c, "server error");
			break;
		}
		if (!j->registering)
			penalty_succeeded(server_penalty(j->srv), j->user,
			    j->addr);
		log_write(LOG_LEVEL_INFO, conn_id(c), "%s user=%s", what,
		    j->user);
		conn_reply(c, PROTO_OK, NULL);
		break;
	case USERS_TAKEN:
		conn_reply_error(c, "user name is taken");
		break;
	case USERS_DENIED:
		penalty_failed(server_penalty(j->srv), j->user, j->addr);
		log_write(LOG_LEVEL_INFO, conn_id(c), "login failed user=%s",
		    j->user);
		conn_reply_error(c, LOGIN_FAILED);
		break;
	case USERS_FAILED:
		log_write(LOG_LEVEL_ERROR, conn_id(c), "%s user=%s: %s: %s",
		    what, j->user, j->step != NULL ? j->step : "?",
		    strerror(j->error));
		conn_reply_error(c, "server error");
		break;
	}
out:
	conn_release(c);
	auth_job_free(j);
}

/*
 * Hand a held job to the auth pool (now, or when its penalty is served). The
 * reply goes out before the hold is released: the release may free a closed
 * connection, or start on the client's next request.
 */
static void
auth_submit(void *arg)
{
	struct auth_job *j = arg;
	struct conn *c = j->conn;

	if (!conn_alive(c)) {
		conn_release(c);
		auth_job_free(j);
		return;
	}
	if (pool_submit(server_auth_pool(j->srv), auth_work, auth_done,
	    j) == -1) {
		conn_release_error(c, "server busy, try again later");
		auth_job_free(j);
	}
}

static void
auth_start(struct conn *c, const struct msg_credentials *cred,
    int registering)
{
	struct server *srv = conn_server(c);
	struct auth_job *j;
	const char *why;
	char user[RULES_USERNAME_MAX + 1];
	unsigned delay;

	if (rules_username(cred->username, user, &why) == -1) {
		/* A login never says which half was wrong. */
		conn_reply_error(c, registering ? why : LOGIN_FAILED);
		return;
	}
	if (registering && rules_password(cred->password, &why) == -1) {
		conn_reply_error(c, why);
		return;
	}
	if (!registering && strlen(cred->password) > RULES_PASSWORD_MAX) {
		conn_reply_error(c, LOGIN_FAILED);
		return;
	}
	if ((j = calloc(1, sizeof(*j))) == NULL ||
	    (j->password = strdup(cred->password)) == NULL) {
		free(j);
		conn_reply_error(c, "server error");
		return;
	}
	j->password_len = strlen(j->password);
	j->conn = c;
	j->srv = srv;
	j->registering = registering;
	memcpy(j->user, user, sizeof(user));
	snprintf(j->addr, sizeof(j->addr), "%s", conn_addr(c));
	if ((j->held = mailbox_acquire(server_mailboxes(srv), user)) == NULL) {
		auth_job_free(j);
		conn_reply_error(c, "server error");
		return;
	}
	/* A new account's mailbox is empty; a login loads it unless loaded. */
	j->scan = !registering && !mailbox_loaded(j->held);
	conn_hold(c);
	delay = registering ? 0 : penalty_delay(server_penalty(srv), user,
	    j->addr);
	if (delay > 0) {
		log_write(LOG_LEVEL_INFO, conn_id(c),
		    "login user=%s delayed ms=%u after failures", user, delay);
		if (penalty_defer(server_penalty(srv), delay, auth_submit,
		    j) == 0)
			return;
	}
	auth_submit(j);
}

void
h_auth_register(struct conn *c, const union msg_args *args)
{
	auth_start(c, &args->credentials, 1);
}

void
h_auth_login(struct conn *c, const union msg_args *args)
{
	auth_start(c, &args->credentials, 0);
}

/* No reply: seed clients do not read one. */
void
h_auth_logout(struct conn *c, const union msg_args *args)
{
	(void)args;
	log_write(LOG_LEVEL_INFO, conn_id(c), "logout user=%s",
	    conn_session(c)->user);
	conn_logout(c);
}

/* No reply: the server closes once earlier replies are written. */
void
h_bye(struct conn *c, const union msg_args *args)
{
	(void)args;
	conn_close_after_reply(c);
}
