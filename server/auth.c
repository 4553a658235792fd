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
#include "mail.h"
#include "penalty.h"
#include "pool.h"
#include "rules.h"
#include "server.h"
#include "session.h"
#include "users.h"

#define LOGIN_FAILED "unknown user or wrong password"

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
};

static void
auth_job_free(struct auth_job *j)
{
	if (j->password != NULL) {
		sodium_memzero(j->password, j->password_len);
		free(j->password);
	}
	free(j);
}

static void
auth_work(void *arg)
{
	struct auth_job *j = arg;
	const char *data = j->srv->cfg->data_dir;

	if (j->registering) {
		j->result = users_create(data, j->user, j->password, &j->step);
		j->error = errno;
		return;
	}
	j->result = users_verify(data, j->user, j->password);
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
		if (!j->registering)
			penalty_succeeded(j->srv->penalty, j->user, j->addr);
		log_write(LOG_LEVEL_INFO, conn_id(c), "%s user=%s", what,
		    j->user);
		/* The mailbox loads on the store pool; its reply follows. */
		mail_login(c, j->user);
		break;
	case USERS_TAKEN:
		conn_reply_error(c, "user name is taken");
		break;
	case USERS_DENIED:
		penalty_failed(j->srv->penalty, j->user, j->addr);
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
	if (pool_submit(j->srv->auth_pool, auth_work, auth_done, j) == -1) {
		conn_reply_error(c, "server busy, try again later");
		conn_release(c);
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
	conn_hold(c);
	delay = registering ? 0 : penalty_delay(srv->penalty, user, j->addr);
	if (delay > 0) {
		log_write(LOG_LEVEL_INFO, conn_id(c),
		    "login user=%s delayed ms=%u after failures", user, delay);
		if (penalty_defer(srv->penalty, delay, auth_submit, j) == 0)
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
	session_logout(conn_session(c));
	conn_set_authenticated(c, 0);
}

/* No reply: the server closes once earlier replies are written. */
void
h_bye(struct conn *c, const union msg_args *args)
{
	(void)args;
	conn_close_after_reply(c);
}
