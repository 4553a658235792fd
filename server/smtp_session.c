/*
 * smtp_session.c - the SMTP server side of glomaild, after the shape of
 * OpenSMTPD's smtp_session.c: a session per connection and a transaction
 * per MAIL, one verb table whose entries pair a check (preconditions and
 * arguments; it sends the error itself) with a proceed step, and one reply
 * function through which every reply goes (and is logged when it fails).
 *
 * Input is taken line by line straight from the bufferevent's input buffer
 * (never more than SMTP_LINE_MAX bytes a line), and in DATA byte by byte
 * through the DATA reader of smtp_parse.c, which ends only at CRLF.CRLF.
 * PIPELINING is supported with DATA as a synchronisation point: bytes
 * already sent after DATA, before its 354, are a protocol error (554 and
 * close), which is what stops SMTP smuggling at this end.
 *
 * The message is kept in memory (at most smtp-max-size, counted against
 * max-memory with every connection's buffers) and handed to the store pool
 * at the end of data; 250 is sent only once every recipient's copy is
 * durable, and nothing else is read from the session meanwhile.
 */
#include <sys/socket.h>

#include <netinet/in.h>
#include <netinet/tcp.h>
#include <errno.h>
#include <fcntl.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>
#include <unistd.h>

#include <event2/buffer.h>
#include <event2/bufferevent.h>
#include <event2/bufferevent_ssl.h>
#include <openssl/err.h>
#include <openssl/ssl.h>
#include <sodium.h>

#include "config.h"
#include "aliases.h"
#include "conn.h"
#include "deliver.h"
#include "deliverylog.h"
#include "log.h"
#include "mail.h"
#include "message.h"
#include "penalty.h"
#include "pool.h"
#include "rules.h"
#include "server.h"
#include "smtp_parse.h"
#include "smtp_session.h"
#include "tls.h"
#include "users.h"

/* RFC 5321 §4.5.3.2: the server waits 5 minutes for a command; a data
 * block gets 3. */
#define SMTP_TIMEOUT_CMD 300
#define SMTP_TIMEOUT_DATA 180
/* Replies queued past this: stop taking commands until the peer reads. */
#define SMTP_OUTPUT_HIGH ((size_t)32768)
/* Input buffered at most: the DATA reader drains it as it comes. */
#define SMTP_INPUT_MAX ((size_t)65536)
/* More Received: fields than this is a mail loop (OpenSMTPD's bound). */
#define SMTP_HOPS_MAX 100
/* A TLS handshake gets this long. */
#define SMTP_TIMEOUT_TLS 10
/* What an AUTH exchange may carry, decoded. */
#define SMTP_AUTH_MAX 1024

/*
 * Where a session is. Commands are taken in S_CMD only; the AUTH states
 * take the client's continuation lines; every other state waits for one
 * event: the last of the message (S_BODY), the store (S_COMMIT), the
 * password check (S_AUTH_CHECK), the output written (S_CLOSING).
 * "In a transaction" is not a state: it is tx != NULL.
 */
enum smtp_state {
	S_CMD,
	S_BODY,
	S_COMMIT,
	S_AUTH_PLAIN, /* AUTH PLAIN sent 334: the response line comes */
	S_AUTH_USER,  /* AUTH LOGIN: the user name line comes */
	S_AUTH_PASS,  /* AUTH LOGIN: the password line comes */
	S_AUTH_CHECK, /* the password is checked on the auth pool */
	S_STARTTLS,   /* 220 to STARTTLS queued: TLS once it is written */
	S_HANDSHAKE,  /* the TLS handshake runs */
	S_CLOSING,
	S_DEAD,
};

/* The states that take the client's lines. */
#define TAKES_INPUT(st) \
	((st) == S_CMD || (st) == S_BODY || (st) == S_AUTH_PLAIN || \
	    (st) == S_AUTH_USER || (st) == S_AUTH_PASS)

#define F_EOF 0x1      /* the peer finished sending */
#define F_STOPPING 0x2 /* the server stops: close after this reply */

struct smtp_tx {
	char from[SMTP_PATH_MAX + 1]; /* "" for the null sender <> */
	char rcpt[SMTP_RCPT_MAX][RULES_USERNAME_MAX + 1];
	size_t nrcpt;
	char pending[RULES_USERNAME_MAX + 1]; /* RCPT: checked, not added */
	struct smtp_data data;                /* the DATA reader */
	char *body;                           /* the content read, LF endings */
	size_t len, cap;
	int nomem; /* the body did not fit the budget */
};

struct smtp_session {
	struct server *srv;
	struct conn_env *env;
	smtp_gone_fn gone;
	void *link;
	struct bufferevent *bev;
	struct tls_hs *hs; /* while a TLS handshake runs */
	struct evbuffer_cb_entry *in_cb, *out_cb;
	unsigned long long id;
	enum smtp_kind kind;
	enum smtp_state state;
	unsigned flags;
	unsigned refs;   /* 1 while alive, + a job, + processing */
	unsigned errors; /* bad commands so far */
	unsigned ntx;    /* transactions committed */
	size_t held;     /* bytes in its buffers and its message */
	struct smtp_tx *tx;
	char helo[256]; /* "" until EHLO/HELO */
	int esmtp;      /* greeted with EHLO */
	int tls;        /* under TLS (the bufferevent's SSL) */
	char user[RULES_USERNAME_MAX + 1]; /* authenticated: "" until AUTH */
	char *login_user; /* AUTH LOGIN: the name, until the password */
	char peer[64];
	char addr[INET6_ADDRSTRLEN + 5]; /* "IPv6:" and the address */
};

/* One verb: who may use it when, what it checks, what it does. */
#define NEED_HELO 0x1 /* after EHLO/HELO */
#define NEED_TX 0x2   /* inside a transaction (after MAIL) */

struct smtp_cmd {
	enum smtp_verb verb;
	unsigned need;
	int (*check)(struct smtp_session *, const char *);
	void (*proceed)(struct smtp_session *, const char *);
};

static void smtp_process(struct smtp_session *s);

const char *
smtp_kind_name(enum smtp_kind kind)
{
	switch (kind) {
	case SMTP_KIND_SMTP:
		return "smtp";
	case SMTP_KIND_SUBMISSION:
		return "submission";
	case SMTP_KIND_SUBMISSIONS:
		return "submissions";
	}
	return "?";
}

static void
smtp_unref(struct smtp_session *s)
{
	if (--s->refs == 0)
		free(s);
}

/* Keep this session's and every connection's byte counts (as conn.c). */
static void
charge(struct smtp_session *s, size_t added, size_t removed)
{
	s->held += added;
	s->held -= removed;
	conn_env_charge(s->env, added, removed);
}

static void
buffer_cb(struct evbuffer *b, const struct evbuffer_cb_info *info, void *arg)
{
	(void)b;
	charge(arg, info->n_added, info->n_deleted);
}

static void
tx_free(struct smtp_session *s, struct smtp_tx *tx)
{
	if (tx == NULL)
		return;
	if (tx->body != NULL) {
		charge(s, 0, tx->cap);
		free(tx->body);
	}
	free(tx);
}

/* RSET, a new EHLO, the end of a transaction or of the session. */
static void
tx_reset(struct smtp_session *s)
{
	tx_free(s, s->tx);
	s->tx = NULL;
}

/* A command waits for the client; the store and a password check do not. */
static void
set_timeouts(struct smtp_session *s)
{
	struct timeval rd = { s->state == S_BODY ? SMTP_TIMEOUT_DATA
		                                 : SMTP_TIMEOUT_CMD,
		0 };
	struct timeval wr = { SMTP_TIMEOUT_CMD, 0 };
	struct timeval hs = { SMTP_TIMEOUT_TLS, 0 };
	int busy = s->state == S_COMMIT || s->state == S_AUTH_CHECK;

	bufferevent_set_timeouts(s->bev,
	    s->state == S_HANDSHAKE ? &hs
	    : busy                  ? NULL
	                            : &rd,
	    &wr);
}

void
smtp_session_close(struct smtp_session *s, const char *reason)
{
	if (s->state == S_DEAD)
		return;
	s->state = S_DEAD;
	log_write(LOG_LEVEL_INFO, s->id, "smtp close reason=\"%s\"", reason);
	tx_reset(s);
	free(s->login_user);
	s->login_user = NULL;
	evbuffer_remove_cb_entry(bufferevent_get_input(s->bev), s->in_cb);
	evbuffer_remove_cb_entry(bufferevent_get_output(s->bev), s->out_cb);
	charge(s, 0, s->held);
	tls_hs_end(s->hs);
	s->hs = NULL;
	bufferevent_free(s->bev); /* closes the socket */
	s->bev = NULL;
	s->gone(s->srv, s->link);
	smtp_unref(s);
}

static void
close_if_flushed(struct smtp_session *s)
{
	struct bufferevent *under;

	if (s->state != S_CLOSING ||
	    evbuffer_get_length(bufferevent_get_output(s->bev)) != 0)
		return;
	/* After STARTTLS the last reply may still be ciphertext in the
	 * plain bufferevent below the filter: under_drained comes back. */
	under = bufferevent_get_underlying(s->bev);
	if (under != NULL &&
	    evbuffer_get_length(bufferevent_get_output(under)) != 0)
		return;
	smtp_session_close(s,
	    (s->flags & F_EOF) ? "end of input" : "closed after reply");
}

/* Out of libevent's write path: close_if_flushed may free the bev. */
static void
under_close_cb(evutil_socket_t fd, short what, void *arg)
{
	struct smtp_session *s = arg;

	(void)fd;
	(void)what;
	close_if_flushed(s);
	smtp_unref(s);
}

/* The socket took ciphertext below the TLS filter. */
static void
under_drained(struct evbuffer *b, const struct evbuffer_cb_info *info,
    void *arg)
{
	struct smtp_session *s = arg;
	struct timeval now = { 0, 0 };

	if (info->n_deleted == 0 || evbuffer_get_length(b) != 0 ||
	    s->state != S_CLOSING)
		return;
	s->refs++;
	if (event_base_once(server_base(s->srv), -1, EV_TIMEOUT, under_close_cb,
	        s, &now) == -1)
		smtp_unref(s);
}

/* Take nothing more; close once what is queued is written. */
static void
close_after_reply(struct smtp_session *s)
{
	if (s->state == S_DEAD)
		return;
	s->state = S_CLOSING;
	bufferevent_disable(s->bev, EV_READ);
	close_if_flushed(s);
}

/*
 * The one reply function: "code enh text" (enh NULL: none, for the banner
 * and EHLO, RFC 2034 §3), a continuation line when more is set. Replies
 * that refuse something are logged with the verb alone: arguments (AUTH
 * data above all) never reach the log.
 */
static void reply(struct smtp_session *s, int code, const char *enh,
    const char *fmt, ...) __attribute__((format(printf, 4, 5)));

static void
reply_line(struct smtp_session *s, int more, int code, const char *enh,
    const char *fmt, va_list ap)
{
	char text[400];

	if (s->state == S_DEAD)
		return;
	vsnprintf(text, sizeof(text), fmt, ap);
	if (enh != NULL)
		evbuffer_add_printf(bufferevent_get_output(s->bev),
		    "%d%c%s %s\r\n", code, more ? '-' : ' ', enh, text);
	else
		evbuffer_add_printf(bufferevent_get_output(s->bev),
		    "%d%c%s\r\n", code, more ? '-' : ' ', text);
	if (code >= 400 && !more)
		log_write(code >= 500 ? LOG_LEVEL_INFO : LOG_LEVEL_WARN, s->id,
		    "smtp refused reply=\"%d %s\"", code, enh ? enh : "");
}

static void
reply(struct smtp_session *s, int code, const char *enh, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	reply_line(s, 0, code, enh, fmt, ap);
	va_end(ap);
}

static void reply_more(struct smtp_session *s, int code, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

static void
reply_more(struct smtp_session *s, int code, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	reply_line(s, 1, code, NULL, fmt, ap);
	va_end(ap);
}

/*
 * A refused command: one more against the error budget; past it the
 * session ends with 421 (a scanner, or a client that is lost).
 */
static void
reply_error(struct smtp_session *s, int code, const char *enh, const char *text)
{
	reply(s, code, enh, "%s", text);
	/* A recipient refused is the business of a relay, not an error. */
	if (code == 550)
		return;
	if (++s->errors >= SMTP_ERRORS_MAX) {
		reply(s, 421, "4.7.0", "%s Too many errors, closing",
		    server_cfg(s->srv)->domain);
		close_after_reply(s);
	}
}

/* --- the store: every recipient's copy, durable, or none ---------------- */

struct smtp_job {
	struct smtp_session *s;
	struct server *srv;
	struct smtp_tx *tx;
	char *data; /* the file: added headers, then the body */
	size_t len;
	struct deliver *d; /* the rules (deliver.c), and what they did */
	char id[32];
	char sender[RULES_USERNAME_MAX + 1]; /* a local account, or "" */
	int failed;                          /* without memory */
	time_t now;
};

/*
 * The first line of the header field name of data (LF endings), trimmed,
 * into out; 0, or -1 when absent.
 */
static int
field_value(const char *p, size_t len, const char *name, char *out,
    size_t outlen)
{
	const char *end = p + len, *eol, *v;
	size_t n = strlen(name), k;

	while (p < end && *p != '\n') {
		eol = memchr(p, '\n', (size_t)(end - p));
		if (eol == NULL)
			eol = end;
		if ((size_t)(eol - p) > n && strncasecmp(p, name, n) == 0 &&
		    p[n] == ':') {
			for (v = p + n + 1;
			     v < eol && (*v == ' ' || *v == '\t'); v++)
				;
			k = (size_t)(eol - v);
			while (k > 0 && (v[k - 1] == ' ' || v[k - 1] == '\t' ||
			                    v[k - 1] == '\r'))
				k--;
			if (k >= outlen)
				k = outlen - 1;
			memcpy(out, v, k);
			out[k] = '\0';
			return 0;
		}
		p = eol + 1;
	}
	return -1;
}

/*
 * On the store pool: what the notices need from the file (subject, date,
 * id, whether it is automatic: RFC 3834 §2), then the rules and the one
 * write for every recipient, all or none (deliver.c).
 */
static void
commit_work(void *arg)
{
	struct smtp_job *j = arg;
	struct message_info info;
	char msgid[256] = "", autosub[64];
	struct deliver_msg m = { 0 };

	memset(&info, 0, sizeof(info));
	if (message_parse(j->data, j->len, 0, &info) == -1)
		memset(&info, 0, sizeof(info));
	(void)field_value(j->data, j->len, "Message-ID", msgid, sizeof(msgid));
	m.sender = j->sender[0] != '\0' ? j->sender : NULL;
	m.subject = info.subject;
	m.date = info.date;
	m.message_id = msgid;
	m.auto_submitted = j->tx->from[0] == '\0' ||
	                   strncasecmp(j->tx->from, "mailer-daemon@", 14) ==
	                       0 ||
	                   (field_value(j->data, j->len, "Auto-Submitted",
	                        autosub, sizeof(autosub)) == 0 &&
	                       strncasecmp(autosub, "no", 2) != 0);
	if (deliver_set_msg(j->d, &m) == -1 ||
	    deliver_run(j->d, server_data_fd(j->srv), j->data, j->len,
	        j->now) == -1)
		j->failed = 1;
	message_info_clear(&info);
}

static void
job_free(struct smtp_job *j)
{
	tx_free(j->s, j->tx);
	deliver_free(j->d);
	free(j->data);
	free(j);
}

static void
commit_done(void *arg)
{
	struct smtp_job *j = arg;
	struct smtp_session *s = j->s;
	const struct deliver_rcpt *r, *why = NULL;
	size_t i, stored = 0, lost = 0, full = 0, failed = 0;

	if (!j->failed)
		mail_index_stored(j->srv, j->d);
	for (i = 0; !j->failed && i < deliver_nrcpt(j->d); i++) {
		r = deliver_rcpt(j->d, i);
		switch (r->status) {
		case DELIVER_STORED:
			stored++;
			server_count_delivery(j->srv);
			log_write(LOG_LEVEL_INFO, s->id,
			    "smtp delivered "
			    "id=%s from=<%s> to=%s size=%zu",
			    j->id, j->tx->from, r->account, j->len);
			deliverylog_note(DELIVERYLOG_DELIVERED, j->len, j->now);
			break;
		case DELIVER_LOST:
			/* The account went away after RCPT. */
			lost++;
			server_count_delivery(j->srv);
			log_write(LOG_LEVEL_INFO, s->id,
			    "smtp undeliverable id=%s to=%s kept in LOST",
			    j->id, r->account);
			deliverylog_note(DELIVERYLOG_LOST, j->len, j->now);
			break;
		case DELIVER_FULL:
			full++;
			log_write(LOG_LEVEL_INFO, s->id,
			    "smtp refused id=%s to=%s: mailbox full size=%zu",
			    j->id, r->account, j->len);
			break;
		case DELIVER_FAILED:
			failed++;
			if (why == NULL && r->error != ECANCELED)
				why = r;
			log_write(LOG_LEVEL_ERROR, s->id,
			    "smtp delivery id=%s to=%s failed at %s: %s", j->id,
			    r->account, r->step != NULL ? r->step : "?",
			    strerror(r->error));
			deliverylog_note(DELIVERYLOG_FAILED, j->len, j->now);
			break;
		}
	}
	if (s->state == S_COMMIT) {
		s->state = S_CMD;
		if (why != NULL &&
		    (why->error == ENOSPC || why->error == EDQUOT))
			reply(s, 452, "4.3.1", "Insufficient system storage");
		else if (j->failed || failed > 0)
			reply(s, 451, "4.3.0", "Local error in processing");
		else if (stored == 0 && lost == 0 && full > 0)
			/* RFC 3463: 5.2.2, mailbox full. */
			reply(s, 552, "5.2.2", "%s", DELIVER_QUOTA_FULL);
		else
			reply(s, 250, "2.0.0", "Ok: queued as %s", j->id);
		set_timeouts(s);
		if (s->flags & F_STOPPING)
			close_after_reply(s);
		else
			smtp_process(s);
	}
	job_free(j);
	smtp_unref(s);
}

/* How many Received: fields the header holds (a loop guard). */
static unsigned
count_hops(const char *p, size_t len)
{
	const char *end = p + len;
	unsigned n = 0;

	while (p < end && *p != '\n') {
		if ((size_t)(end - p) > 9 &&
		    strncasecmp(p, "Received:", 9) == 0)
			n++;
		if ((p = memchr(p, '\n', (size_t)(end - p))) == NULL)
			break;
		p++;
	}
	return n;
}

/* 1 when the header of body (LF endings) has the field name. */
static int
has_field(const char *p, size_t len, const char *name)
{
	const char *end = p + len;
	size_t n = strlen(name);

	while (p < end && *p != '\n') {
		if ((size_t)(end - p) > n && strncasecmp(p, name, n) == 0 &&
		    p[n] == ':')
			return 1;
		if ((p = memchr(p, '\n', (size_t)(end - p))) == NULL)
			break;
		p++;
	}
	return 0;
}

/* The Date: and Message-ID: a submitted message lacks, into fix. */
static void
header_fixup(struct smtp_session *s, const struct smtp_tx *tx, const char *date,
    const char *id, char *fix, size_t len)
{
	const char *domain = server_cfg(s->srv)->domain;
	size_t used = 0;
	int n;

	if (!has_field(tx->body, tx->len, "Date") &&
	    (n = snprintf(fix, len, "Date: %s\n", date)) > 0)
		used = (size_t)n;
	if (!has_field(tx->body, tx->len, "Message-ID") && used < len)
		snprintf(fix + used, len - used, "Message-ID: <%s@%s>\n", id,
		    domain);
}

/*
 * The sender as deliver.c wants it: the authenticated account, or on the
 * local listener a MAIL FROM in the domain that names an account (local
 * tools send as themselves); "" otherwise: no notice, no vacation reply.
 */
static void
local_sender(struct smtp_session *s, const struct smtp_tx *tx,
    char out[RULES_USERNAME_MAX + 1])
{
	const char *why;

	out[0] = '\0';
	if (s->user[0] != '\0') {
		snprintf(out, RULES_USERNAME_MAX + 1, "%s", s->user);
		return;
	}
	if (tx->from[0] == '\0' ||
	    rules_address(tx->from, server_cfg(s->srv)->domain, out, &why) !=
	        RULES_ADDR_LOCAL ||
	    users_exists(server_data_fd(s->srv), out) != 1)
		out[0] = '\0';
}

/*
 * The end of data came and the message is good: add Return-Path and
 * Received (RFC 5321 §4.4), and hand it to the store pool. The reply comes
 * from commit_done.
 */
static void
commit_start(struct smtp_session *s)
{
	const struct config *cfg = server_cfg(s->srv);
	struct smtp_tx *tx = s->tx;
	struct smtp_job *j;
	char date[RULES_DATE_LEN], fix[256];
	const char *with;
	char *head = NULL;
	int n;

	if ((j = calloc(1, sizeof(*j))) == NULL)
		goto fail;
	/* Unique across restarts: connection ids start again at 1. */
	snprintf(j->id, sizeof(j->id), "%llX.%llX.%u",
	    (unsigned long long)time(NULL), s->id, ++s->ntx);
	rules_date(time(NULL), date);
	/* RFC 3848: whether TLS and AUTH were used, for the reader. */
	with = s->user[0] != '\0' ? "ESMTPSA"
	       : s->tls           ? "ESMTPS"
	       : s->esmtp         ? "ESMTP"
	                          : "SMTP";
	/* "for" only with one recipient: the others stay unnamed. */
	if (tx->nrcpt == 1)
		n = asprintf(&head,
		    "Return-Path: <%s>\nReceived: from %s "
		    "([%s])\n\tby %s (glomaild) with %s id %s\n\tfor <%s@%s>;"
		    " %s\n",
		    tx->from, s->helo, s->addr, cfg->domain, with, j->id,
		    tx->rcpt[0], cfg->domain, date);
	else
		n = asprintf(&head,
		    "Return-Path: <%s>\nReceived: from %s "
		    "([%s])\n\tby %s (glomaild) with %s id %s;\n\t%s\n",
		    tx->from, s->helo, s->addr, cfg->domain, with, j->id, date);
	if (n < 0) {
		head = NULL;
		goto fail;
	}
	/* Submission completes a message (RFC 6409 §8.2, §8.3). */
	fix[0] = '\0';
	if (s->kind != SMTP_KIND_SMTP)
		header_fixup(s, tx, date, j->id, fix, sizeof(fix));
	if (fix[0] != '\0') {
		char *both;

		if (asprintf(&both, "%s%s", head, fix) < 0)
			goto fail;
		free(head);
		head = both;
		n = (int)strlen(head);
	}
	j->len = (size_t)n + tx->len;
	if ((j->data = malloc(j->len ? j->len : 1)) == NULL)
		goto fail;
	memcpy(j->data, head, (size_t)n);
	if (tx->len > 0)
		memcpy(j->data + n, tx->body, tx->len);
	free(head);
	head = NULL;
	/* The copy is the job's now: the body's memory goes back. */
	charge(s, 0, tx->cap);
	free(tx->body);
	tx->body = NULL;
	tx->len = tx->cap = 0;
	j->now = time(NULL);
	/* The rules' plan on the reactor, where the aliases table lives. */
	{
		const char *names[SMTP_RCPT_MAX], *why;
		struct deliver_params dp;
		struct deliver_msg dm = { 0 };
		size_t i;

		for (i = 0; i < tx->nrcpt; i++)
			names[i] = tx->rcpt[i];
		/* All or none: one 250 or one error for every recipient. */
		dm.all_or_none = 1;
		/* Refused for some only: the local sender gets a notice. */
		dm.notify_full = 1;
		mail_deliver_params(s->srv, &dp);
		if ((j->d = deliver_new(&dp, server_aliases(s->srv), &dm, names,
		         tx->nrcpt, ALIASES_EXPAND_MAX, &why)) == NULL) {
			free(j->data);
			free(j);
			tx_reset(s);
			reply(s, 554, "5.5.3", "%s", why);
			return;
		}
		local_sender(s, tx, j->sender);
	}
	j->s = s;
	j->srv = s->srv;
	j->tx = tx;
	s->tx = NULL;
	s->refs++;
	s->state = S_COMMIT;
	set_timeouts(s);
	if (pool_submit(server_store_pool(s->srv), commit_work, commit_done,
	        j) == -1) {
		s->state = S_CMD;
		set_timeouts(s);
		job_free(j);
		smtp_unref(s);
		reply(s, 451, "4.3.0", "Server busy, try again later");
		return;
	}
	return;
fail:
	free(head);
	if (j != NULL) {
		free(j->data);
		free(j);
	}
	log_write(LOG_LEVEL_ERROR, s->id, "smtp commit: out of memory");
	tx_reset(s);
	reply(s, 451, "4.3.0", "Local error in processing");
}

/* The DATA reader's output: the body grows within the memory budget. */
static int
body_emit(void *arg, const char *p, size_t n)
{
	struct smtp_session *s = arg;
	struct smtp_tx *tx = s->tx;
	const struct config *cfg = server_cfg(s->srv);
	size_t cap;
	char *nb;

	if (tx->len + n > tx->cap) {
		cap = tx->cap ? tx->cap : 16384;
		while (cap < tx->len + n)
			cap *= 2;
		if (conn_env_held(s->env) + (cap - tx->cap) > cfg->max_memory ||
		    (nb = realloc(tx->body, cap)) == NULL) {
			tx->nomem = 1;
			return -1;
		}
		charge(s, cap - tx->cap, 0);
		tx->body = nb;
		tx->cap = cap;
	}
	memcpy(tx->body + tx->len, p, n);
	tx->len += n;
	return 0;
}

/*
 * Submission: the From: field must name the account logged in, as for
 * JSON sends (the sender is who is logged in). 1 when it does not.
 */
static int
from_mismatch(struct smtp_session *s, const struct smtp_tx *tx)
{
	struct message_info info;
	char want[RULES_USERNAME_MAX + 256];
	int bad;

	snprintf(want, sizeof(want), "%s@%s", s->user,
	    server_cfg(s->srv)->domain);
	if (message_parse(tx->body, tx->len, 0, &info) == -1)
		return 1;
	bad = strcasecmp(info.from, want) != 0;
	message_info_clear(&info);
	return bad;
}

/* The real end of data came: refuse what is wrong, else store it. */
static void
data_end(struct smtp_session *s)
{
	const struct config *cfg = server_cfg(s->srv);
	struct smtp_tx *tx = s->tx;
	int verdict = smtp_data_verdict(&tx->data, cfg->smtp_bare_lf);

	s->state = S_CMD;
	set_timeouts(s);
	if (verdict == SMTP_DATA_TOO_BIG) {
		tx_reset(s);
		reply_error(s, 552, "5.3.4", "Message too big");
		return;
	}
	if (verdict == SMTP_DATA_BARE_LF) {
		/* smtp-bare-lf = reject: as Postfix's, refused and closed. */
		tx_reset(s);
		reply(s, 554, "5.6.0",
		    "Bare <LF> received, lines must end "
		    "with <CR><LF>");
		close_after_reply(s);
		return;
	}
	if (verdict != 0) {
		tx_reset(s);
		reply_error(s, 554, "5.6.0",
		    verdict == SMTP_DATA_AMBIGUOUS
		        ? "Ambiguous end of data, message refused"
		    : verdict == SMTP_DATA_NUL ? "NUL byte in message"
		                               : "Bare <CR> in message");
		return;
	}
	if (tx->nomem) {
		tx_reset(s);
		reply(s, 452, "4.3.1",
		    "Insufficient system resources, try "
		    "again later");
		return;
	}
	if (s->user[0] != '\0' && from_mismatch(s, tx)) {
		tx_reset(s);
		reply_error(s, 550, "5.7.1",
		    "From: must be the authenticated "
		    "account");
		return;
	}
	if (count_hops(tx->body, tx->len) >= SMTP_HOPS_MAX) {
		tx_reset(s);
		reply_error(s, 554, "5.4.6", "Too many hops, mail loop");
		return;
	}
	commit_start(s);
}

/* Feed what has arrived to the DATA reader. 1 once the end was read. */
static int
body_feed(struct smtp_session *s)
{
	struct evbuffer *in = bufferevent_get_input(s->bev);
	struct evbuffer_iovec v;
	size_t used;
	int end;

	while (evbuffer_peek(in, -1, NULL, &v, 1) > 0 && v.iov_len > 0) {
		end = smtp_data_feed(&s->tx->data, v.iov_base, v.iov_len,
		    &used);
		evbuffer_drain(in, used);
		if (end)
			return 1;
	}
	return 0;
}

/* --- the verbs ---------------------------------------------------------- */

static int
check_helo(struct smtp_session *s, const char *arg)
{
	if (*arg == '\0' || strlen(arg) >= sizeof(s->helo) ||
	    !smtp_helo_ok(arg)) {
		reply_error(s, 501, "5.5.4",
		    "Syntax: EHLO domain or address "
		    "literal");
		return -1;
	}
	return 0;
}

/* A later EHLO resets the session like RSET (RFC 5321 §4.1.4). */
static void
greet(struct smtp_session *s, const char *arg, int esmtp)
{
	tx_reset(s);
	snprintf(s->helo, sizeof(s->helo), "%s", arg);
	s->esmtp = esmtp;
}

static void
proceed_helo(struct smtp_session *s, const char *arg)
{
	greet(s, arg, 0);
	reply(s, 250, NULL, "%s Hello %s [%s]", server_cfg(s->srv)->domain,
	    s->helo, s->addr);
}

static void
proceed_ehlo(struct smtp_session *s, const char *arg)
{
	const struct config *cfg = server_cfg(s->srv);

	greet(s, arg, 1);
	reply_more(s, 250, "%s Hello %s [%s]", cfg->domain, s->helo, s->addr);
	reply_more(s, 250, "PIPELINING");
	reply_more(s, 250, "SIZE %zu", cfg->smtp_max_size);
	reply_more(s, 250, "8BITMIME");
	reply_more(s, 250, "ENHANCEDSTATUSCODES");
	/* RFC 3207 §4, RFC 4954 §4: STARTTLS before TLS, AUTH only under it. */
	if (s->kind == SMTP_KIND_SUBMISSION && !s->tls &&
	    server_tls(s->srv) != NULL)
		reply_more(s, 250, "STARTTLS");
	if (s->kind != SMTP_KIND_SMTP && s->tls && s->user[0] == '\0')
		reply_more(s, 250, "AUTH PLAIN LOGIN");
	reply(s, 250, NULL, "HELP");
}

/* The sender is the authenticated account (user@domain, any case). */
static int
sender_owned(struct smtp_session *s, const char *addr)
{
	const char *at = strrchr(addr, '@');
	size_t n = strlen(s->user);

	return at != NULL && (size_t)(at - addr) == n &&
	       strncasecmp(addr, s->user, n) == 0 &&
	       strcasecmp(at + 1, server_cfg(s->srv)->domain) == 0;
}

static int
check_mail(struct smtp_session *s, const char *arg)
{
	const struct config *cfg = server_cfg(s->srv);
	struct smtp_path path;

	if (s->tx != NULL) {
		reply_error(s, 503, "5.5.1", "Nested MAIL command");
		return -1;
	}
	/* Submission: TLS, then AUTH, before any mail (RFC 6409 §4.3). */
	if (s->kind != SMTP_KIND_SMTP && !s->tls) {
		reply_error(s, 530, "5.7.0",
		    "Must issue a STARTTLS command "
		    "first");
		return -1;
	}
	if (s->kind != SMTP_KIND_SMTP && s->user[0] == '\0') {
		reply_error(s, 530, "5.7.0", "Authentication required");
		return -1;
	}
	switch (smtp_parse_path(arg, 1, &path)) {
	case SMTP_PATH_OK:
		break;
	case SMTP_PATH_SYNTAX:
		reply_error(s, 501, "5.5.4", "Syntax: MAIL FROM:<address>");
		return -1;
	case SMTP_PATH_ADDRESS:
		reply_error(s, 553, "5.1.7", "Bad sender address syntax");
		return -1;
	case SMTP_PATH_PARAM:
		reply_error(s, 555, "5.5.4", "Unsupported MAIL parameter");
		return -1;
	}
	if (s->user[0] != '\0' && !sender_owned(s, path.addr)) {
		reply_error(s, 553, "5.7.1",
		    "Sender address not owned by the "
		    "authenticated account");
		return -1;
	}
	if (path.size > cfg->smtp_max_size) {
		reply_error(s, 552, "5.3.4",
		    "Message size exceeds fixed "
		    "limit");
		return -1;
	}
	return 0;
}

static void
proceed_mail(struct smtp_session *s, const char *arg)
{
	struct smtp_path path;

	(void)smtp_parse_path(arg, 1, &path);
	if ((s->tx = calloc(1, sizeof(*s->tx))) == NULL) {
		log_write(LOG_LEVEL_ERROR, s->id, "smtp mail: out of memory");
		reply(s, 451, "4.3.0", "Local error in processing");
		return;
	}
	memcpy(s->tx->from, path.addr, sizeof(path.addr));
	reply(s, 250, "2.1.0", "Ok");
}

/*
 * The recipient, checked: a local account (the parser took <postmaster>
 * without a domain as well), never another domain (no relaying). 0 with
 * the account name in user, or -1 (replied).
 */
static int
rcpt_account(struct smtp_session *s, const char *arg,
    char user[RULES_USERNAME_MAX + 1])
{
	const struct config *cfg = server_cfg(s->srv);
	struct smtp_path path;
	const char *why;

	switch (smtp_parse_path(arg, 0, &path)) {
	case SMTP_PATH_OK:
		break;
	case SMTP_PATH_SYNTAX:
		reply_error(s, 501, "5.5.4", "Syntax: RCPT TO:<address>");
		return -1;
	case SMTP_PATH_ADDRESS:
		reply_error(s, 501, "5.1.3", "Bad recipient address syntax");
		return -1;
	case SMTP_PATH_PARAM:
		reply_error(s, 555, "5.5.4", "Unsupported RCPT parameter");
		return -1;
	}
	if (strchr(path.addr, '@') == NULL) {
		snprintf(user, RULES_USERNAME_MAX + 1, "postmaster");
	} else {
		switch (rules_address(path.addr, cfg->domain, user, &why)) {
		case RULES_ADDR_LOCAL:
			break;
		case RULES_ADDR_EXTERNAL:
			reply_error(s, 550, "5.7.1", "Relaying denied");
			return -1;
		case RULES_ADDR_INVALID:
			reply_error(s, 550, "5.1.1", "No such user here");
			return -1;
		}
	}
	/* A name of the aliases table (postmaster, a group) that goes to
	 * some account; mailer-daemon goes to none. */
	if (aliases_has(server_aliases(s->srv), user)) {
		aliases_name one[1];

		if (aliases_expand(server_aliases(s->srv), user,
		        cfg->postmaster, one, 1) == 0) {
			reply_error(s, 550, "5.1.1", "No such user here");
			return -1;
		}
		return 0;
	}
	/*
	 * One fstatat relative to the data directory, on the reactor: the
	 * refusal must come with this reply, and it is no slower than the
	 * reply's own write.
	 */
	if (users_exists(server_data_fd(s->srv), user) != 1) {
		reply_error(s, 550, "5.1.1", "No such user here");
		return -1;
	}
	return 0;
}

static int
check_rcpt(struct smtp_session *s, const char *arg)
{
	if (s->tx->nrcpt >= SMTP_RCPT_MAX) {
		/* RFC 5321 §4.5.3.1.10: 452, and the client goes on. */
		reply(s, 452, "4.5.3", "Too many recipients");
		return -1;
	}
	return rcpt_account(s, arg, s->tx->pending);
}

static void
proceed_rcpt(struct smtp_session *s, const char *arg)
{
	struct smtp_tx *tx = s->tx;
	size_t i;

	(void)arg;
	/* Named twice, stored once. */
	for (i = 0; i < tx->nrcpt; i++)
		if (strcmp(tx->rcpt[i], tx->pending) == 0)
			break;
	if (i == tx->nrcpt)
		memcpy(tx->rcpt[tx->nrcpt++], tx->pending, sizeof(tx->pending));
	reply(s, 250, "2.1.5", "Ok");
}

static int
check_data(struct smtp_session *s, const char *arg)
{
	if (*arg != '\0') {
		reply_error(s, 501, "5.5.4", "Syntax: DATA");
		return -1;
	}
	if (s->tx->nrcpt == 0) {
		reply_error(s, 503, "5.5.1", "No valid recipients");
		return -1;
	}
	/*
	 * DATA ends a pipelined group (RFC 2920 §3.1): the client must wait
	 * for the 354. Bytes already here were sent blind, as a smuggling
	 * attempt would be: the session ends (Postfix's "SMTP protocol
	 * synchronization" error).
	 */
	if (evbuffer_get_length(bufferevent_get_input(s->bev)) > 0) {
		reply(s, 554, "5.5.0", "SMTP protocol synchronization error");
		close_after_reply(s);
		return -1;
	}
	return 0;
}

static void
proceed_data(struct smtp_session *s, const char *arg)
{
	(void)arg;
	smtp_data_init(&s->tx->data, server_cfg(s->srv)->smtp_max_size,
	    body_emit, s);
	s->state = S_BODY;
	set_timeouts(s);
	reply(s, 354, NULL, "End data with <CR><LF>.<CR><LF>");
}

static int
check_noarg(struct smtp_session *s, const char *arg)
{
	if (*arg != '\0') {
		reply_error(s, 501, "5.5.4", "Syntax: no arguments allowed");
		return -1;
	}
	return 0;
}

static void
proceed_rset(struct smtp_session *s, const char *arg)
{
	(void)arg;
	tx_reset(s);
	reply(s, 250, "2.0.0", "Ok");
}

static void
proceed_noop(struct smtp_session *s, const char *arg)
{
	(void)arg;
	reply(s, 250, "2.0.0", "Ok");
}

static void
proceed_quit(struct smtp_session *s, const char *arg)
{
	(void)arg;
	reply(s, 221, "2.0.0", "Bye");
	close_after_reply(s);
}

/* Never an oracle for accounts (RFC 5321 §3.5.3, §7.3). */
static void
proceed_vrfy(struct smtp_session *s, const char *arg)
{
	(void)arg;
	reply(s, 252, "2.5.2",
	    "Cannot VRFY user, but will accept message "
	    "and attempt delivery");
}

static void
proceed_expn(struct smtp_session *s, const char *arg)
{
	(void)arg;
	reply_error(s, 502, "5.5.1", "EXPN not available");
}

static void
proceed_help(struct smtp_session *s, const char *arg)
{
	(void)arg;
	reply(s, 214, "2.0.0",
	    "Commands: EHLO HELO MAIL RCPT DATA RSET NOOP "
	    "QUIT VRFY HELP");
}

/*
 * STARTTLS (RFC 3207) on the submission listener. Nothing may follow it
 * in the buffer: bytes sent with it in plaintext would otherwise be read
 * as if they came under TLS (CVE-2011-0411 and its kin), so they end the
 * session instead.
 */
static int
check_starttls(struct smtp_session *s, const char *arg)
{
	if (s->kind != SMTP_KIND_SUBMISSION || server_tls(s->srv) == NULL) {
		reply_error(s, 502, "5.5.1", "STARTTLS not available");
		return -1;
	}
	if (s->tls) {
		reply_error(s, 503, "5.5.1", "TLS already active");
		return -1;
	}
	if (*arg != '\0') {
		reply_error(s, 501, "5.5.4", "Syntax: STARTTLS");
		return -1;
	}
	if (evbuffer_get_length(bufferevent_get_input(s->bev)) > 0) {
		reply(s, 554, "5.5.0", "Commands sent with STARTTLS, closing");
		close_after_reply(s);
		return -1;
	}
	return 0;
}

static void
proceed_starttls(struct smtp_session *s, const char *arg)
{
	(void)arg;
	reply(s, 220, "2.0.0", "Ready to start TLS");
	/* Nothing more is read in plaintext; the write callback starts TLS
	 * once the 220 is out. */
	bufferevent_disable(s->bev, EV_READ);
	s->state = S_STARTTLS;
}

/* --- AUTH (RFC 4954): PLAIN and LOGIN, checked as JSON logins are ------- */

struct smtp_auth_job {
	struct smtp_session *s;
	struct server *srv;
	char user[RULES_USERNAME_MAX + 1];
	char addr[64];
	char *password;
	size_t password_len;
	struct penalty_turn *turn;
	enum users_result result;
	int known;
};

static void
auth_job_free(struct smtp_auth_job *j)
{
	penalty_leave(j->turn, PENALTY_ABANDONED);
	if (j->password != NULL) {
		sodium_memzero(j->password, j->password_len);
		free(j->password);
	}
	free(j);
}

/* Back to commands after an AUTH exchange, with this reply. */
static void
auth_end(struct smtp_session *s)
{
	free(s->login_user);
	s->login_user = NULL;
	if (s->state != S_DEAD && s->state != S_CLOSING)
		s->state = S_CMD;
}

static void
auth_failed(struct smtp_session *s, const char *user)
{
	/* The same line as a JSON login's: one filter for fail2ban. */
	log_write(LOG_LEVEL_WARN, s->id, "login failed user=%s addr=%s", user,
	    s->addr);
	auth_end(s);
	reply_error(s, 535, "5.7.8", "Authentication credentials invalid");
}

static void
auth_work(void *arg)
{
	struct smtp_auth_job *j = arg;
	int data = server_data_fd(j->srv);

	j->result = users_verify(data, j->user, j->password);
	if (j->result == USERS_DENIED)
		j->known = users_exists(data, j->user) == 1;
}

static void
auth_done(void *arg)
{
	struct smtp_auth_job *j = arg;
	struct smtp_session *s = j->s;

	penalty_leave(j->turn, j->result == USERS_OK       ? PENALTY_SUCCEEDED
	                       : j->result != USERS_DENIED ? PENALTY_ABANDONED
	                       : j->known                  ? PENALTY_FAILED
	                                  : PENALTY_FAILED_UNKNOWN);
	j->turn = NULL;
	if (s->state == S_AUTH_CHECK) {
		if (j->result == USERS_OK) {
			memcpy(s->user, j->user, sizeof(s->user));
			log_write(LOG_LEVEL_INFO, s->id, "smtp login user=%s",
			    s->user);
			auth_end(s);
			reply(s, 235, "2.7.0", "Authentication successful");
		} else if (j->result == USERS_DENIED) {
			auth_failed(s, j->user);
		} else {
			auth_end(s);
			reply(s, 454, "4.7.0",
			    "Temporary authentication "
			    "failure");
		}
		set_timeouts(s);
		smtp_process(s);
	}
	auth_job_free(j);
	smtp_unref(s);
}

/* The turn came (penalty.c): hash on the auth pool. */
static void
auth_submit(void *arg)
{
	struct smtp_auth_job *j = arg;
	struct smtp_session *s = j->s;

	if (s->state != S_AUTH_CHECK) {
		auth_job_free(j);
		smtp_unref(s);
		return;
	}
	if (penalty_refused(j->turn) || pool_submit(server_auth_pool(j->srv),
	                                    auth_work, auth_done, j) == -1) {
		auth_job_free(j);
		auth_end(s);
		reply(s, 454, "4.7.0",
		    "Too many login attempts, try again "
		    "later");
		set_timeouts(s);
		smtp_process(s);
		smtp_unref(s);
	}
}

static int
auth_wanted(void *arg)
{
	return ((struct smtp_auth_job *)arg)->s->state == S_AUTH_CHECK;
}

/*
 * Check a name and password: "alice" or "alice@<domain>", the same
 * normalisation, throttling (penalty.c) and pool as a JSON login.
 */
static void
auth_check(struct smtp_session *s, const char *name, const char *password)
{
	const char *domain = server_cfg(s->srv)->domain, *at, *why;
	char local[RULES_USERNAME_MAX + 2], user[RULES_USERNAME_MAX + 1];
	struct smtp_auth_job *j;
	size_t n;
	int now;

	at = strrchr(name, '@');
	n = at != NULL ? (size_t)(at - name) : strlen(name);
	if (n >= sizeof(local) ||
	    (at != NULL && strcasecmp(at + 1, domain) != 0)) {
		auth_failed(s, "(invalid)");
		return;
	}
	memcpy(local, name, n);
	local[n] = '\0';
	if (rules_username(local, user, &why) == -1 ||
	    strlen(password) > RULES_PASSWORD_MAX) {
		auth_failed(s, rules_username(local, user, &why) == -1
		                   ? "(invalid)"
		                   : user);
		return;
	}
	if ((j = calloc(1, sizeof(*j))) == NULL ||
	    (j->password = strdup(password)) == NULL) {
		free(j);
		auth_end(s);
		reply(s, 454, "4.7.0", "Temporary authentication failure");
		return;
	}
	j->password_len = strlen(j->password);
	j->s = s;
	j->srv = s->srv;
	memcpy(j->user, user, sizeof(user));
	snprintf(j->addr, sizeof(j->addr), "%s", s->addr);
	now = penalty_enter(server_penalty(s->srv), user, j->addr, s->id,
	    auth_submit, auth_wanted, j, &j->turn);
	if (now == -1) {
		log_write(LOG_LEVEL_WARN, s->id,
		    "login refused user=%s "
		    "addr=%s: too many attempts waiting",
		    user, j->addr);
		auth_job_free(j);
		auth_end(s);
		reply(s, 454, "4.7.0",
		    "Too many login attempts, try again "
		    "later");
		return;
	}
	s->state = S_AUTH_CHECK;
	s->refs++;
	set_timeouts(s);
	if (now == 1)
		auth_submit(j);
}

/* AUTH PLAIN's response: authzid NUL authcid NUL password, base64. */
static void
auth_plain(struct smtp_session *s, const char *b64)
{
	char user[SMTP_AUTH_MAX], pass[SMTP_AUTH_MAX];
	int rc = smtp_auth_plain(b64, user, sizeof(user), pass, sizeof(pass));

	if (rc == -1) {
		auth_end(s);
		reply_error(s, 501, "5.5.2", "Cannot decode response");
	} else if (rc == -2) {
		auth_failed(s, "(proxy)");
	} else {
		auth_check(s, user, pass);
	}
	sodium_memzero(pass, sizeof(pass));
}

/* A line of an AUTH exchange (never logged: it carries the secret). */
static void
auth_line(struct smtp_session *s, const char *line)
{
	char text[SMTP_AUTH_MAX];

	if (strcmp(line, "*") == 0) {
		auth_end(s);
		reply_error(s, 501, "5.7.0", "Authentication cancelled");
		return;
	}
	if (s->state == S_AUTH_PLAIN) {
		auth_plain(s, line);
		return;
	}
	if (smtp_base64_text(line, text, sizeof(text)) == -1) {
		auth_end(s);
		reply_error(s, 501, "5.5.2", "Cannot decode response");
		return;
	}
	if (s->state == S_AUTH_USER) {
		if ((s->login_user = strdup(text)) == NULL) {
			auth_end(s);
			reply(s, 454, "4.7.0",
			    "Temporary authentication "
			    "failure");
			return;
		}
		s->state = S_AUTH_PASS;
		reply(s, 334, NULL, "UGFzc3dvcmQ6"); /* "Password:" */
		return;
	}
	auth_check(s, s->login_user != NULL ? s->login_user : "", text);
	sodium_memzero(text, sizeof(text));
}

static int
check_auth(struct smtp_session *s, const char *arg)
{
	if (s->kind == SMTP_KIND_SMTP) {
		reply_error(s, 502, "5.5.1", "AUTH not available on this port");
		return -1;
	}
	if (!s->tls) {
		/* RFC 4954 §4: no password in the clear. */
		reply_error(s, 538, "5.7.11",
		    "Encryption required for "
		    "requested authentication mechanism");
		return -1;
	}
	if (s->user[0] != '\0' || s->tx != NULL) {
		reply_error(s, 503, "5.5.1",
		    s->tx != NULL ? "AUTH not "
		                    "allowed during a transaction"
		                  : "Already authenticated");
		return -1;
	}
	if (strncasecmp(arg, "PLAIN", 5) != 0 &&
	    strncasecmp(arg, "LOGIN", 5) != 0) {
		reply_error(s, 504, "5.5.4",
		    "Unrecognized authentication "
		    "type");
		return -1;
	}
	if (arg[5] != '\0' && arg[5] != ' ') {
		reply_error(s, 504, "5.5.4",
		    "Unrecognized authentication "
		    "type");
		return -1;
	}
	return 0;
}

static void
proceed_auth(struct smtp_session *s, const char *arg)
{
	const char *ir = arg[5] == ' ' ? arg + 6 : NULL;
	char text[SMTP_AUTH_MAX];

	if (strncasecmp(arg, "PLAIN", 5) == 0) {
		s->state = S_AUTH_PLAIN;
		if (ir != NULL && strcmp(ir, "=") != 0)
			auth_plain(s, ir);
		else
			reply(s, 334, NULL, " ");
		return;
	}
	if (ir == NULL) {
		s->state = S_AUTH_USER;
		reply(s, 334, NULL, "VXNlcm5hbWU6"); /* "Username:" */
		return;
	}
	/* LOGIN with the name as initial response (smtplib sends it). */
	s->state = S_AUTH_USER;
	if (smtp_base64_text(ir, text, sizeof(text)) == -1) {
		auth_end(s);
		reply_error(s, 501, "5.5.2", "Cannot decode response");
		return;
	}
	if ((s->login_user = strdup(text)) == NULL) {
		auth_end(s);
		reply(s, 454, "4.7.0", "Temporary authentication failure");
		return;
	}
	s->state = S_AUTH_PASS;
	reply(s, 334, NULL, "UGFzc3dvcmQ6");
}

/* Another protocol's request (ALPACA and kin): no conversation at all. */
static void
proceed_http(struct smtp_session *s, const char *arg)
{
	(void)arg;
	reply(s, 554, "5.7.0", "This is an SMTP server");
	close_after_reply(s);
}

static const struct smtp_cmd smtp_cmds[] = {
	{ SMTP_HELO, 0, check_helo, proceed_helo },
	{ SMTP_EHLO, 0, check_helo, proceed_ehlo },
	{ SMTP_MAIL, NEED_HELO, check_mail, proceed_mail },
	{ SMTP_RCPT, NEED_HELO | NEED_TX, check_rcpt, proceed_rcpt },
	{ SMTP_DATA, NEED_HELO | NEED_TX, check_data, proceed_data },
	{ SMTP_RSET, 0, check_noarg, proceed_rset },
	{ SMTP_NOOP, 0, NULL, proceed_noop },
	{ SMTP_QUIT, 0, NULL, proceed_quit },
	{ SMTP_VRFY, 0, NULL, proceed_vrfy },
	{ SMTP_EXPN, 0, NULL, proceed_expn },
	{ SMTP_HELP, 0, NULL, proceed_help },
	{ SMTP_STARTTLS, 0, check_starttls, proceed_starttls },
	{ SMTP_AUTH, NEED_HELO, check_auth, proceed_auth },
	{ SMTP_HTTP, 0, NULL, proceed_http },
};

/*
 * The gate: the verb is known, its order is right (RFC 5321 §4.1.4), then
 * its own check, then its proceed step.
 */
static void
smtp_command(struct smtp_session *s, const char *line)
{
	const struct smtp_cmd *cmd = NULL;
	const char *arg;
	enum smtp_verb verb;
	size_t i;

	verb = smtp_parse_verb(line, &arg);
	for (i = 0; i < sizeof(smtp_cmds) / sizeof(smtp_cmds[0]); i++)
		if (smtp_cmds[i].verb == verb)
			cmd = &smtp_cmds[i];
	if (cmd == NULL) {
		reply_error(s, 500, "5.5.2", "Command unrecognized");
		return;
	}
	if ((cmd->need & NEED_HELO) && s->helo[0] == '\0') {
		reply_error(s, 503, "5.5.1", "Say EHLO first");
		return;
	}
	if ((cmd->need & NEED_TX) && s->tx == NULL) {
		reply_error(s, 503, "5.5.1", "Need MAIL command first");
		return;
	}
	if (cmd->check != NULL && cmd->check(s, arg) == -1)
		return;
	cmd->proceed(s, arg);
}

/*
 * The next command line, CRLF (or a bare LF) removed, into line. 1: a
 * line; 0: not complete yet; -1: longer than SMTP_LINE_MAX; -2: a NUL.
 */
static int
next_line(struct smtp_session *s, char line[SMTP_LINE_MAX + 1])
{
	struct evbuffer *in = bufferevent_get_input(s->bev);
	struct evbuffer_ptr eol;
	size_t n, eol_len;

	eol = evbuffer_search_eol(in, NULL, &eol_len, EVBUFFER_EOL_LF);
	if (eol.pos == -1)
		return evbuffer_get_length(in) >= SMTP_LINE_MAX ? -1 : 0;
	n = (size_t)eol.pos + eol_len;
	if (n > SMTP_LINE_MAX)
		return -1;
	evbuffer_remove(in, line, n);
	line[--n] = '\0';
	if (n > 0 && line[n - 1] == '\r')
		line[--n] = '\0';
	return memchr(line, '\0', n) != NULL ? -2 : 1;
}

/*
 * Take every command already buffered, in order, until one has to wait:
 * the store, a full output, the end. Also run when a wait ends, since
 * libevent calls back only for new bytes and pipelined commands may be
 * sitting in the buffer already.
 */
static void
smtp_process(struct smtp_session *s)
{
	char line[SMTP_LINE_MAX + 1];
	int rc;

	s->refs++;
	while (TAKES_INPUT(s->state)) {
		if (evbuffer_get_length(bufferevent_get_output(s->bev)) >
		    SMTP_OUTPUT_HIGH)
			break; /* the write callback resumes */
		if (s->state == S_BODY) {
			if (!body_feed(s))
				break;
			data_end(s);
			continue;
		}
		if ((rc = next_line(s, line)) == 0)
			break;
		if (rc == -1) {
			reply(s, 500, "5.5.2", "Line too long");
			close_after_reply(s);
			break;
		}
		if (rc == -2) {
			if (s->state != S_CMD)
				auth_end(s);
			reply_error(s, 500, "5.5.2", "NUL in command line");
			continue;
		}
		if (s->state == S_CMD) {
			smtp_command(s, line);
		} else {
			auth_line(s, line);
			sodium_memzero(line, sizeof(line));
		}
	}
	if ((s->flags & F_EOF) && TAKES_INPUT(s->state))
		close_after_reply(s);
	smtp_unref(s);
}

static void
smtp_readcb(struct bufferevent *bev, void *arg)
{
	(void)bev;
	smtp_process(arg);
}

static void smtp_eventcb(struct bufferevent *bev, short what, void *arg);
static void smtp_writecb(struct bufferevent *bev, void *arg);

/* Count what a bufferevent's buffers hold, as this session's. */
static int
watch_buffers(struct smtp_session *s)
{
	s->in_cb = evbuffer_add_cb(bufferevent_get_input(s->bev), buffer_cb, s);
	s->out_cb = evbuffer_add_cb(bufferevent_get_output(s->bev), buffer_cb,
	    s);
	return s->in_cb == NULL || s->out_cb == NULL ? -1 : 0;
}

/*
 * The 220 to STARTTLS is written: the session goes on through a TLS
 * filter over the same socket. Both of the plain bufferevent's buffers are
 * empty now (the check refused any input left; the output is flushed).
 */
static void
start_tls(struct smtp_session *s)
{
	struct bufferevent *tb;
	SSL *ssl;

	if ((ssl = tls_ssl_new(server_tls(s->srv))) == NULL) {
		smtp_session_close(s, "tls: cannot make a session");
		return;
	}
	tb = bufferevent_openssl_filter_new(server_base(s->srv), s->bev, ssl,
	    BUFFEREVENT_SSL_ACCEPTING, BEV_OPT_CLOSE_ON_FREE);
	if (tb == NULL) {
		SSL_free(ssl);
		smtp_session_close(s, "tls: cannot start");
		return;
	}
	evbuffer_remove_cb_entry(bufferevent_get_input(s->bev), s->in_cb);
	evbuffer_remove_cb_entry(bufferevent_get_output(s->bev), s->out_cb);
	s->bev = tb; /* frees the plain one with it */
	s->in_cb = s->out_cb = NULL;
	bufferevent_openssl_set_allow_dirty_shutdown(tb, 1);
	s->hs = tls_hs_begin(conn_env_handshakes(s->env), tb);
	if (evbuffer_add_cb(bufferevent_get_output(
	                        bufferevent_get_underlying(tb)),
	        under_drained, s) == NULL ||
	    watch_buffers(s) == -1) {
		smtp_session_close(s, "out of memory");
		return;
	}
	s->tls = 1;
	s->state = S_HANDSHAKE;
	bufferevent_setcb(tb, smtp_readcb, smtp_writecb, smtp_eventcb, s);
	bufferevent_setwatermark(tb, EV_READ, 0, SMTP_INPUT_MAX);
	bufferevent_setwatermark(tb, EV_WRITE, SMTP_OUTPUT_HIGH / 4, 0);
	set_timeouts(s);
	bufferevent_enable(tb, EV_READ | EV_WRITE);
}

static void
smtp_writecb(struct bufferevent *bev, void *arg)
{
	struct smtp_session *s = arg;

	if (s->state == S_CLOSING)
		close_if_flushed(s);
	else if (s->state == S_STARTTLS &&
	         evbuffer_get_length(bufferevent_get_output(bev)) == 0)
		start_tls(s);
	else
		smtp_process(s);
}

/* A TLS failure: a scanner or a vanished peer is an ordinary close. */
static void
tls_failed(struct smtp_session *s, struct bufferevent *bev)
{
	unsigned long codes[8], e;
	size_t n = 0;
	char why[512];
	int benign;

	while ((e = bufferevent_get_openssl_error(bev)) != 0)
		if (n < sizeof(codes) / sizeof(codes[0]))
			codes[n++] = e;
	benign = tls_describe_errors(codes, n, why, sizeof(why));
	log_write(benign ? LOG_LEVEL_INFO : LOG_LEVEL_WARN, s->id,
	    "smtp tls %s: %s",
	    s->state == S_HANDSHAKE ? "handshake failed" : "session ended",
	    why);
	ERR_clear_error();
	smtp_session_close(s, benign ? "peer closed" : "tls error");
}

static void
smtp_eventcb(struct bufferevent *bev, short what, void *arg)
{
	struct smtp_session *s = arg;

	if (what & BEV_EVENT_CONNECTED) {
		SSL *ssl = bufferevent_openssl_get_ssl(bev);

		tls_hs_end(s->hs);
		s->hs = NULL;
		if (ssl != NULL)
			log_write(LOG_LEVEL_INFO, s->id,
			    "smtp tls version=%s "
			    "cipher=%s",
			    SSL_get_version(ssl), SSL_get_cipher_name(ssl));
		/* RFC 3207 §4.2: forget what was said in plaintext. */
		if (s->state == S_HANDSHAKE) {
			tx_reset(s);
			s->helo[0] = '\0';
			s->esmtp = 0;
			s->state = S_CMD;
			set_timeouts(s);
			smtp_process(s);
		}
		return;
	}
	if (what & BEV_EVENT_EOF) {
		/* Answer what came before the end; a commit still replies. */
		s->flags |= F_EOF;
		bufferevent_disable(bev, EV_READ);
		if (TAKES_INPUT(s->state))
			smtp_process(s);
		else if (s->state == S_HANDSHAKE || s->state == S_STARTTLS)
			smtp_session_close(s, "end of input");
		return;
	}
	if ((what & BEV_EVENT_TIMEOUT) && s->state == S_HANDSHAKE) {
		smtp_session_close(s, "tls handshake timeout");
		return;
	}
	if (s->tls && (what & BEV_EVENT_ERROR)) {
		tls_failed(s, bev);
		return;
	}
	if (what & BEV_EVENT_TIMEOUT) {
		if (what & BEV_EVENT_READING) {
			reply(s, 421, "4.4.2", "%s Timeout, closing",
			    server_cfg(s->srv)->domain);
			close_after_reply(s);
			/* The reply may never leave: the write timeout ends it.
			 */
			return;
		}
		smtp_session_close(s, "write timeout");
		return;
	}
	/* smtp-source ends with an RST after QUIT: a close like any other. */
	smtp_session_close(s, "connection error");
}

void
smtp_session_shutdown(struct smtp_session *s)
{
	s->flags |= F_STOPPING;
	if (s->state == S_COMMIT || s->state == S_CLOSING || s->state == S_DEAD)
		return;
	reply(s, 421, "4.3.2", "%s Service shutting down",
	    server_cfg(s->srv)->domain);
	close_after_reply(s);
}

static void
format_peer(struct smtp_session *s, const struct sockaddr *sa)
{
	char host[INET6_ADDRSTRLEN] = "?";

	if (sa->sa_family == AF_INET) {
		const struct sockaddr_in *in = (const struct sockaddr_in *)sa;

		evutil_inet_ntop(AF_INET, &in->sin_addr, host, sizeof(host));
		snprintf(s->addr, sizeof(s->addr), "%s", host);
		snprintf(s->peer, sizeof(s->peer), "%s:%d", host,
		    ntohs(in->sin_port));
	} else if (sa->sa_family == AF_INET6) {
		const struct sockaddr_in6 *in6 = (const struct sockaddr_in6 *)
		    sa;

		evutil_inet_ntop(AF_INET6, &in6->sin6_addr, host, sizeof(host));
		snprintf(s->addr, sizeof(s->addr), "IPv6:%s", host);
		snprintf(s->peer, sizeof(s->peer), "[%s]:%d", host,
		    ntohs(in6->sin6_port));
	} else {
		snprintf(s->peer, sizeof(s->peer), "local");
		snprintf(s->addr, sizeof(s->addr), "127.0.0.1");
	}
}

struct smtp_session *
smtp_session_new(struct server *srv, struct conn_env *env, enum smtp_kind kind,
    unsigned long long id, evutil_socket_t fd, const struct sockaddr *sa,
    int salen, struct ssl_st *ssl, smtp_gone_fn gone, void *link)
{
	struct smtp_session *s;
	int one = 1;

	(void)salen;
	if ((s = calloc(1, sizeof(*s))) == NULL) {
		evutil_closesocket(fd);
		SSL_free(ssl);
		return NULL;
	}
	s->srv = srv;
	s->env = env;
	s->gone = gone;
	s->link = link;
	s->id = id;
	s->kind = kind;
	s->refs = 1;
	s->state = S_CMD;
	format_peer(s, sa);
	(void)setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
	if (ssl != NULL) {
		/* submissions: TLS from the first byte (RFC 8314). */
		s->tls = 1;
		s->bev = bufferevent_openssl_socket_new(server_base(srv), fd,
		    ssl, BUFFEREVENT_SSL_ACCEPTING, BEV_OPT_CLOSE_ON_FREE);
		if (s->bev != NULL)
			bufferevent_openssl_set_allow_dirty_shutdown(s->bev, 1);
	} else {
		s->bev = bufferevent_socket_new(server_base(srv), fd,
		    BEV_OPT_CLOSE_ON_FREE);
	}
	if (s->bev == NULL) {
		evutil_closesocket(fd);
		SSL_free(ssl);
		free(s);
		return NULL;
	}
	if (watch_buffers(s) == -1) {
		bufferevent_free(s->bev);
		free(s);
		return NULL;
	}
	if (s->tls)
		s->hs = tls_hs_begin(conn_env_handshakes(s->env), s->bev);
	bufferevent_setcb(s->bev, smtp_readcb, smtp_writecb, smtp_eventcb, s);
	bufferevent_setwatermark(s->bev, EV_READ, 0, SMTP_INPUT_MAX);
	bufferevent_setwatermark(s->bev, EV_WRITE, SMTP_OUTPUT_HIGH / 4, 0);
	set_timeouts(s);
	bufferevent_enable(s->bev, EV_READ | EV_WRITE);
	log_write(LOG_LEVEL_INFO, s->id, "smtp connect listener=%s peer=%s%s",
	    smtp_kind_name(kind), s->peer, s->tls ? " tls" : "");
	reply(s, 220, NULL, "%s ESMTP glomaild", server_cfg(srv)->domain);
	return s;
}
