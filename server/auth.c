/*
 * auth.c - handlers for BYE, AUTH_REGISTER, AUTH_LOGIN and AUTH_LOGOUT.
 *
 * Hashing runs on the auth pool; the connection is held meanwhile, so its
 * next request waits for this reply while other clients are served. A login
 * first takes its turn for the account (penalty.c): it waits for a check of
 * that account already in progress, then out the account's penalty (or its
 * address's, when that address is guessing across accounts) on a timer,
 * held the same way.
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <sodium.h>

#include "access.h"
#include "aliases.h"
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
#define LOGIN_BUSY "too many login attempts, try again later"

struct auth_job {
	struct conn *conn;
	struct server *srv;
	int registering;
	char user[RULES_USERNAME_MAX + 1];
	char addr[64]; /* the client's address, for penalties */
	char *password;
	size_t password_len;
	struct penalty_turn *turn; /* login: its reserved password check */
	enum users_result result;
	int known; /* a denied login's account exists */
	const char *step;
	int error;
};

static void
auth_job_free(struct auth_job *j)
{
	/* Ended without a result: the next login for the account goes on. */
	penalty_leave(j->turn, PENALTY_ABANDONED);
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
	int data = server_data_fd(j->srv);

	if (j->registering) {
		j->result = users_create(data, j->user, j->password, &j->step);
		j->error = errno;
		return;
	}
	j->result = users_verify(data, j->user, j->password);
	/* Failures on names that exist are kept apart from made-up ones. */
	if (j->result == USERS_DENIED)
		j->known = users_exists(data, j->user) == 1;
}

static void
auth_done(void *arg)
{
	struct auth_job *j = arg;
	struct conn *c = j->conn;
	const char *what = j->registering ? "register" : "login";

	/* The check was made: it counts even if the client left meanwhile. */
	if (j->result == USERS_DENIED)
		log_write(LOG_LEVEL_WARN, conn_id(c),
		    "login failed user=%s addr=%s", j->user, j->addr);
	if (!j->registering) {
		if (j->result == USERS_OK || j->result == USERS_DENIED)
			server_count_login(j->srv, j->result == USERS_OK);
		penalty_leave(j->turn, j->result == USERS_OK ? PENALTY_SUCCEEDED
		                       : j->result != USERS_DENIED
		                           ? PENALTY_ABANDONED
		                       : j->known ? PENALTY_FAILED
		                                  : PENALTY_FAILED_UNKNOWN);
		j->turn = NULL;
	}
	if (!conn_alive(c))
		goto out;
	switch (j->result) {
	case USERS_OK:
		log_write(LOG_LEVEL_INFO, conn_id(c), "%s user=%s", what,
		    j->user);
		/* The mailbox loads on the store pool; its reply follows. */
		mail_login(c, j->user);
		break;
	case USERS_TAKEN:
		conn_reply_error(c, "user name is taken");
		break;
	case USERS_DENIED:
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
	if (penalty_refused(j->turn)) {
		log_write(LOG_LEVEL_WARN, conn_id(c),
		    "login refused user=%s addr=%s: too many attempts waiting",
		    j->user, j->addr);
		auth_job_free(j);
		conn_release_error(c, LOGIN_BUSY);
		return;
	}
	if (pool_submit(server_auth_pool(j->srv), auth_work, auth_done, j) ==
	    -1) {
		auth_job_free(j);
		conn_release_error(c, "server busy, try again later");
	}
}

/* A login whose client left needs no penalty served: it is dropped. */
static int
auth_wanted(void *arg)
{
	struct auth_job *j = arg;

	return conn_alive(j->conn);
}

static void
auth_start(struct conn *c, const struct msg_credentials *cred, int registering)
{
	struct server *srv = conn_server(c);
	struct auth_job *j;
	const char *why;
	char user[RULES_USERNAME_MAX + 1];
	int now;

	/* Where passwords may travel, and who may make accounts, first. */
	if (access_password(server_cfg(srv), conn_tls(c), conn_sockaddr(c),
	        &why) == -1 ||
	    (registering && access_register(server_cfg(srv), conn_sockaddr(c),
	                        &why) == -1)) {
		log_write(LOG_LEVEL_WARN, conn_id(c), "%s refused addr=%s: %s",
		    registering ? "register" : "login", conn_addr(c), why);
		conn_reply_error(c, why);
		return;
	}
	if (rules_username(cred->username, user, &why) == -1) {
		/* A login never says which half was wrong. The name is the
		 * peer's bytes: it stays out of the log. */
		if (!registering)
			log_write(LOG_LEVEL_WARN, conn_id(c),
			    "login failed user=(invalid) addr=%s",
			    conn_addr(c));
		conn_reply_error(c, registering ? why : LOGIN_FAILED);
		return;
	}
	/* Mail to an alias never reaches an account of that name. */
	if (registering && aliases_has(server_aliases(srv), user)) {
		conn_reply_error(c, "user name is reserved");
		return;
	}
	if (registering && rules_password(cred->password, &why) == -1) {
		conn_reply_error(c, why);
		return;
	}
	if (!registering && strlen(cred->password) > RULES_PASSWORD_MAX) {
		log_write(LOG_LEVEL_WARN, conn_id(c),
		    "login failed user=%s addr=%s", user, conn_addr(c));
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
	/*
	 * The check is reserved here, on the reactor, before any hashing, so
	 * parallel logins for one account wait for each other's results.
	 */
	now = registering
	          ? 1
	          : penalty_enter(server_penalty(srv), user, j->addr,
	                conn_id(c), auth_submit, auth_wanted, j, &j->turn);
	if (now == -1) {
		int busy = errno == EBUSY;

		log_write(LOG_LEVEL_WARN, conn_id(c),
		    "login refused user=%s addr=%s: %s", user, j->addr,
		    busy ? "too many attempts waiting" : "out of memory");
		auth_job_free(j);
		conn_reply_error(c, busy ? LOGIN_BUSY : "server error");
		return;
	}
	conn_hold(c);
	if (now == 1)
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
