/*
 * sendmany.c - the handler for EMAIL_SENDING_MANY: one message to the
 * recipients of a "to" and a "cc" list, through the delivery rules of
 * deliver.c as EMAIL_SENDING and SMTP (aliases and groups, postmaster,
 * quotas, LOST and the notice to the sender, vacation replies), stored once
 * and hard-linked into each mailbox, with one reply that says, per
 * recipient, what became of it.
 *
 * The request is checked whole before anything is stored: too many
 * recipients, a bad subject or an empty list is an ERROR and nobody gets a
 * copy. Each address is then judged alone: a malformed or outside one is
 * refused (the others still get the message), a local name with no
 * account is filed once in LOST (as the seed does for one recipient), and
 * duplicates, compared without case, get one copy (an account reached
 * through two names, a group and its member, too). The reply comes after
 * deliver_run returned, so every copy said delivered is durable.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>
#include <unistd.h>

#include <jansson.h>
#include <sodium.h>

#include "conn.h"
#include "deliver.h"
#include "deliverylog.h"
#include "dispatch.h"
#include "log.h"
#include "mail.h"
#include "message.h"
#include "msg.h"
#include "pool.h"
#include "rules.h"
#include "sendmany.h"
#include "server.h"
#include "session.h"
#include "users.h"

enum rcpt_result { R_DELIVERED, R_LOST, R_REFUSED };

static const char *const result_names[] = { "delivered", "undeliverable",
	"refused" };

struct many_rcpt {
	const char *given; /* borrowed from the request's JSON */
	char name[RULES_USERNAME_MAX + 1]; /* local name, lower case */
	enum rcpt_result result;
	const char *reason; /* for R_REFUSED */
	int name_index;     /* among the names given to deliver_new, or -1 */
};

struct many_job {
	struct conn *conn;
	struct server *srv;
	json_t *request; /* held: the addresses point into it */
	struct many_rcpt *r;
	size_t n;
	char from[RULES_USERNAME_MAX + 1 + 256];
	char *data;
	size_t len;
	struct deliver *d; /* the rules, and what they did */
	time_t now;
	int failed; /* deliver_run had no memory */
};

static void
many_job_free(struct many_job *j)
{
	deliver_free(j->d);
	json_decref(j->request);
	free(j->data);
	free(j->r);
	free(j);
}

/* On the store pool: the rules, and the one write (deliver.c). */
static void
many_work(void *arg)
{
	struct many_job *j = arg;

	if (deliver_run(j->d, server_data_fd(j->srv), j->data, j->len,
	        j->now) == -1)
		j->failed = 1;
}

/* On the reactor: index the copies, log, and reply once for everyone. */
static void
many_done(void *arg)
{
	struct many_job *j = arg;
	struct conn *c = j->conn;
	const struct deliver_rcpt *dr;
	json_t *list = json_array(), *payload = NULL, *o;
	size_t i;

	mail_index_stored(j->srv, j->d);
	for (i = 0; i < deliver_nrcpt(j->d); i++) {
		dr = deliver_rcpt(j->d, i);
		switch (dr->status) {
		case DELIVER_STORED:
			server_count_delivery(j->srv);
			log_write(LOG_LEVEL_DEBUG, conn_id(c),
			    "delivered from=%s to=%s size=%zu", j->from,
			    dr->account, j->len);
			deliverylog_note(DELIVERYLOG_DELIVERED, j->len, j->now);
			break;
		case DELIVER_LOST:
			server_count_delivery(j->srv);
			log_write(LOG_LEVEL_DEBUG, conn_id(c),
			    "undeliverable to=%s kept in LOST", dr->account);
			deliverylog_note(DELIVERYLOG_LOST, j->len, j->now);
			break;
		case DELIVER_FULL:
			log_write(LOG_LEVEL_INFO, conn_id(c),
			    "refused to=%s: mailbox full size=%zu", dr->account,
			    j->len);
			break;
		case DELIVER_FAILED:
			log_write(LOG_LEVEL_ERROR, conn_id(c),
			    "delivery to=%s failed at %s: %s", dr->account,
			    dr->step != NULL ? dr->step : "store",
			    strerror(dr->error));
			deliverylog_note(DELIVERYLOG_FAILED, j->len, j->now);
			break;
		}
	}
	for (i = 0; i < j->n; i++) {
		struct many_rcpt *r = &j->r[i];

		if (r->name_index >= 0)
			switch (j->failed ? DELIVER_FAILED
			                  : deliver_name_status(j->d,
			                        (size_t)r->name_index)) {
			case DELIVER_STORED:
				r->result = R_DELIVERED;
				break;
			case DELIVER_LOST:
				r->result = R_LOST;
				break;
			case DELIVER_FULL:
				r->result = R_REFUSED;
				r->reason = DELIVER_QUOTA_FULL;
				break;
			case DELIVER_FAILED:
				r->result = R_REFUSED;
				r->reason = "message could not be stored";
				break;
			default: /* a name that goes nowhere: mailer-daemon */
				r->result = R_REFUSED;
				r->reason = "no such recipient";
				break;
			}
		o = r->result == R_REFUSED
		        ? json_pack("{s:s, s:s, s:s}", "address", r->given,
		              "result", result_names[r->result], "reason",
		              r->reason)
		        : json_pack("{s:s, s:s}", "address", r->given, "result",
		              result_names[r->result]);
		if (o == NULL || list == NULL ||
		    json_array_append_new(list, o) == -1) {
			json_decref(list);
			list = NULL;
		}
	}
	if (list != NULL)
		payload = json_pack("{s:o}", "recipients", list);
	if (payload == NULL)
		conn_reply_error(c, "server error");
	else
		conn_reply(c, PROTO_OK, payload);
	conn_release(c);
	many_job_free(j);
}

/* The strings of an optional list (the gate checked it holds only strings). */
static long
list_count(json_t *list)
{
	return list == NULL ? 0 : (long)json_array_size(list);
}

/*
 * The addresses of a list that may go into a header, as given, joined
 * with ", ". A malformed one is left out: it may hold anything, a line
 * break that would start a header of the sender's choosing included.
 * NULL when none is left (or no memory: *nomem_r is then set).
 */
static char *
join(json_t *list, const char *domain, int *nomem_r)
{
	char name[RULES_USERNAME_MAX + 1], *s;
	const char *why, *a;
	size_t i, len = 0, k = 0;
	json_t *v;

	json_array_foreach (list, i, v)
		len += strlen(json_string_value(v)) + 2;
	if (len == 0)
		return NULL;
	if ((s = malloc(len + 1)) == NULL) {
		*nomem_r = 1;
		return NULL;
	}
	s[0] = '\0';
	json_array_foreach (list, i, v) {
		a = json_string_value(v);
		/* Nor one that would read as several in the header. */
		if (rules_address(a, domain, name, &why) ==
		        RULES_ADDR_INVALID ||
		    strpbrk(a, ",;<>\"()") != NULL)
			continue;
		if (k++ > 0)
			strcat(s, ", ");
		strcat(s, a);
	}
	if (k == 0) {
		free(s);
		return NULL;
	}
	return s;
}

/*
 * Judge one address; a duplicate of an earlier one (same account, or the
 * same refused text without case) is dropped. Returns 1 when kept.
 */
static int
judge(struct many_job *j, const char *given, const char *domain)
{
	struct many_rcpt *r = &j->r[j->n];
	const char *why;
	size_t i;

	memset(r, 0, sizeof(*r));
	r->given = given;
	r->name_index = -1;
	switch (rules_address(given, domain, r->name, &why)) {
	case RULES_ADDR_LOCAL:
		r->result = R_DELIVERED;
		for (i = 0; i < j->n; i++)
			if (j->r[i].result != R_REFUSED &&
			    strcmp(j->r[i].name, r->name) == 0)
				return 0;
		break;
	case RULES_ADDR_EXTERNAL:
		r->result = R_REFUSED;
		r->reason = "destination is outside the local domain";
		break;
	case RULES_ADDR_INVALID:
	default:
		r->result = R_REFUSED;
		r->reason = "invalid destination address";
		break;
	}
	if (r->result == R_REFUSED)
		for (i = 0; i < j->n; i++)
			if (j->r[i].result == R_REFUSED &&
			    strcasecmp(j->r[i].given, given) == 0)
				return 0;
	j->n++;
	return 1;
}

/* The file: the seed's header block with the lists as given, and Cc. */
static char *
build(const char *from, const char *to, const char *cc, const char *subject,
    const char *date, const char *msgid, const char *content, size_t *len_r)
{
	char *base, *out, *at;
	size_t len, cclen, pre;

	/* RFC 5322 3.4's empty group when only Cc: names someone. */
	if ((base = message_build(from,
	         to != NULL ? to : "undisclosed-recipients:;", subject, date,
	         msgid, content, &len)) == NULL ||
	    cc == NULL) {
		*len_r = len;
		return base;
	}
	/* After the To: line (addresses hold no line break: rules_address). */
	if ((at = strstr(base, "\nSubject: ")) == NULL) {
		free(base);
		return NULL;
	}
	pre = (size_t)(at - base) + 1;
	cclen = strlen("Cc: ") + strlen(cc) + 1;
	if ((out = malloc(len + cclen + 1)) == NULL) {
		free(base);
		return NULL;
	}
	memcpy(out, base, pre);
	snprintf(out + pre, cclen + 1, "Cc: %s\n", cc);
	memcpy(out + pre + cclen, base + pre, len - pre);
	out[len + cclen] = '\0';
	free(base);
	*len_r = len + cclen;
	return out;
}

void
h_email_send_many(struct conn *c, const union msg_args *args)
{
	const struct msg_email_many *e = &args->email_many;
	struct server *srv = conn_server(c);
	const struct session *s = conn_session(c);
	const char *domain = server_cfg(srv)->domain, *why;
	char date[RULES_DATE_LEN], rhex[17], *to = NULL, *cc = NULL;
	char *msgid = NULL;
	unsigned char rnd[8];
	struct many_job *j = NULL;
	time_t now = time(NULL);
	long total = list_count(e->to) + list_count(e->cc);
	int nomem = 0;
	size_t i;
	json_t *v;

	/* Whole-request checks first: nothing is stored if one fails. */
	if (total == 0) {
		conn_reply_error(c, "no recipient");
		return;
	}
	if (total > SENDMANY_MAX_RECIPIENTS) {
		conn_reply_error(c, "too many recipients");
		return;
	}
	if (rules_subject(e->subject, &why) == -1) {
		conn_reply_error(c, why);
		return;
	}
	if (rules_header_safe(e->subject) == -1) {
		conn_reply_error(c, "subject may not contain line breaks or "
		                    "control characters");
		return;
	}
	/* Threading headers: message ids only, so nothing else rides in. */
	if (e->in_reply_to != NULL &&
	    message_id_valid(e->in_reply_to, 0) == -1) {
		conn_reply_error(c, "in_reply_to is not a message id");
		return;
	}
	if (e->references != NULL && message_id_valid(e->references, 1) == -1) {
		conn_reply_error(c, "references is not a list of message ids");
		return;
	}
	if ((j = calloc(1, sizeof(*j))) == NULL ||
	    (j->r = calloc((size_t)total, sizeof(*j->r))) == NULL)
		goto fail;
	j->conn = c;
	j->srv = srv;
	j->request = json_incref(e->root);
	snprintf(j->from, sizeof(j->from), "%s@%s", s->user, domain);
	json_array_foreach (e->to, i, v)
		judge(j, json_string_value(v), domain);
	if (e->cc != NULL)
		json_array_foreach (e->cc, i, v)
			judge(j, json_string_value(v), domain);
	rules_date(now, date);
	randombytes_buf(rnd, sizeof(rnd));
	sodium_bin2hex(rhex, sizeof(rhex), rnd, sizeof(rnd));
	if (asprintf(&msgid, "<%lld.%s@%s>", (long long)now, rhex, domain) <
	    0) {
		msgid = NULL;
		goto fail;
	}
	to = join(e->to, domain, &nomem);
	cc = join(e->cc, domain, &nomem);
	if (nomem)
		goto fail;
	if (e->in_reply_to != NULL || e->references != NULL) {
		struct message_head h = { j->from,
			to != NULL ? to : "undisclosed-recipients:;", cc,
			e->subject, date, msgid, e->in_reply_to, e->references,
			NULL, NULL };

		j->data = message_build_head(&h, e->content, &j->len);
	} else
		j->data = build(j->from, to, cc, e->subject, date, msgid,
		    e->content, &j->len);
	if (j->data == NULL)
		goto fail;
	j->now = now;
	{
		const char *names[SENDMANY_MAX_RECIPIENTS];
		struct deliver_params dp;
		struct deliver_msg dm = { s->user, e->subject, date, msgid, 0,
			0, 0 };
		size_t k = 0;

		for (i = 0; i < j->n; i++)
			if (j->r[i].result != R_REFUSED) {
				j->r[i].name_index = (int)k;
				names[k++] = j->r[i].name;
			}
		mail_deliver_params(srv, &dp);
		/* Aliases and groups expand now: too many accounts and
		 * nothing is stored. */
		if ((j->d = deliver_new(&dp, server_aliases(srv), &dm, names, k,
		         ALIASES_EXPAND_MAX, &why)) == NULL) {
			conn_reply_error(c, why);
			goto out;
		}
	}
	conn_hold(c);
	if (pool_submit(server_store_pool(srv), many_work, many_done, j) ==
	    -1) {
		many_job_free(j);
		j = NULL;
		conn_release_error(c, "server busy, try again later");
		goto out;
	}
	j = NULL;
	goto out;
fail:
	log_write(LOG_LEVEL_ERROR, conn_id(c), "send: out of memory");
	conn_reply_error(c, "server error");
out:
	if (j != NULL)
		many_job_free(j);
	free(to);
	free(cc);
	free(msgid);
}
