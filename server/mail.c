/*
 * mail.c - handlers for EMAIL_SENDING, INBOX_READING_REQUEST,
 * INBOX_READING_CHOICE and STATS_REQUEST.
 *
 * Lists and stats answer from the in-memory mailbox index, once it is known
 * to match the Maildir (another program may have changed it): when
 * mailbox_stale() says so, the request waits for a scan on the store pool.
 * Delivery and reading touch the disk, so they run on the store pool too;
 * a delivery is acknowledged only after maildir_deliver has made it durable.
 * The encoded list and stats replies are kept beside the mailbox until its
 * generation changes.
 */
#include <sys/queue.h>

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>
#include <unistd.h>

#include <sodium.h>

#include "conn.h"
#include "deliverylog.h"
#include "deliver.h"
#include "dispatch.h"
#include "frame.h"
#include "log.h"
#include "mail.h"
#include "mail_ext.h"
#include "mailbox.h"
#include "maildir.h"
#include "message.h"
#include "msg.h"
#include "notify.h"
#include "pool.h"
#include "rules.h"
#include "server.h"
#include "session.h"
#include "users.h"

struct send_job {
	struct conn *conn;
	struct server *srv;
	char rcpt[RULES_USERNAME_MAX + 1];
	char *data; /* the RFC 5322 file */
	size_t len;
	struct message_info info; /* for the log */
	struct deliver *d;        /* the rules and what they did */
	time_t now;
};

static void
send_job_free(struct send_job *j)
{
	message_info_clear(&j->info);
	deliver_free(j->d);
	free(j->data);
	free(j);
}

static void
send_work(void *arg)
{
	struct send_job *j = arg;

	deliver_run(j->d, server_data_fd(j->srv), j->data, j->len, j->now);
}

/*
 * Every file the delivery stored (the message, and notices, warnings and
 * replies) goes into its account's index, if loaded, without a rescan:
 * what a scan after a restart will read, not what was asked, so the list
 * does not change across a restart. A file without an index entry is
 * found by the next scan.
 */
void
mail_index_stored(struct server *srv, const struct deliver *d)
{
	const struct deliver_stored *st;
	struct mailbox *mb;
	size_t i;

	for (i = 0; i < deliver_nstored(d); i++) {
		st = deliver_stored(d, i);
		if (st->indexable &&
		    (mb = mailbox_find(server_mailboxes(srv), st->account)) !=
		        NULL &&
		    mailbox_add(mb, &st->file, &st->info) == -1)
			log_error("cannot index a delivery to %s", st->account);
		/* Sessions of the recipient that asked hear of it. */
		if (st->indexable && (mb = mailbox_find(server_mailboxes(srv),
		                          st->account)) != NULL)
			mail_ext_delivered(mb, &st->file, &st->info);
	}
}

static void
send_done(void *arg)
{
	struct send_job *j = arg;
	struct conn *c = j->conn;
	const struct deliver_rcpt *r;
	size_t i, stored = 0, lost = 0, full = 0, failed = 0;

	mail_index_stored(j->srv, j->d);
	for (i = 0; i < deliver_nrcpt(j->d); i++) {
		r = deliver_rcpt(j->d, i);
		switch (r->status) {
		case DELIVER_STORED:
			stored++;
			server_count_delivery(j->srv);
			log_write(LOG_LEVEL_DEBUG, conn_id(c),
			    "delivered from=%s to=%s size=%zu", j->info.from,
			    r->account, j->len);
			deliverylog_note(DELIVERYLOG_DELIVERED, j->len, j->now);
			break;
		case DELIVER_LOST:
			lost++;
			server_count_delivery(j->srv);
			log_write(LOG_LEVEL_DEBUG, conn_id(c),
			    "undeliverable to=%s kept in LOST", r->account);
			deliverylog_note(DELIVERYLOG_LOST, j->len, j->now);
			break;
		case DELIVER_FULL:
			full++;
			log_write(LOG_LEVEL_INFO, conn_id(c),
			    "refused to=%s: mailbox full size=%zu", r->account,
			    j->len);
			break;
		case DELIVER_FAILED:
			failed++;
			log_write(LOG_LEVEL_ERROR, conn_id(c),
			    "delivery to=%s failed at %s: %s", r->account,
			    r->step, strerror(r->error));
			deliverylog_note(DELIVERYLOG_FAILED, j->len, j->now);
			break;
		}
	}
	/* One reply for the one name: a group is delivered when any of its
	 * accounts got it; a failure of the system comes first. */
	if (failed > 0)
		conn_reply_error(c, "message could not be stored");
	else if (stored > 0)
		conn_reply(c, PROTO_OK, NULL);
	else if (full > 0)
		conn_reply_error(c, DELIVER_QUOTA_FULL);
	else if (lost > 0)
		conn_reply_error(c, "no such recipient; the message was kept "
		                    "as undeliverable");
	else
		conn_reply_error(c, "no such recipient");
	conn_release(c);
	send_job_free(j);
}

/* The rules' settings, as they are now. */
void
mail_deliver_params(const struct server *srv, struct deliver_params *p_r)
{
	const struct config *cfg = server_cfg(srv);

	p_r->domain = cfg->domain;
	p_r->postmaster = cfg->postmaster;
	p_r->quota = cfg->quota;
}

void
h_email_send(struct conn *c, const union msg_args *args)
{
	const struct msg_email *e = &args->email;
	const struct msg_email_thread *th = &args->email_thread;
	struct server *srv = conn_server(c);
	const struct session *s = conn_session(c);
	const char *domain = server_cfg(srv)->domain, *why;
	char rcpt[RULES_USERNAME_MAX + 1], date[RULES_DATE_LEN];
	char *from = NULL, *to = NULL, *msgid = NULL;
	unsigned char rnd[8];
	char rhex[sizeof(rnd) * 2 + 1];
	struct send_job *j = NULL;
	time_t now = time(NULL);

	if (asprintf(&from, "%s@%s", s->user, domain) < 0) {
		from = NULL;
		goto fail;
	}
	/* Seed clients set the sender; it must be who is logged in. */
	if (e->sender != NULL && strcasecmp(e->sender, from) != 0) {
		conn_reply_error(c, "sender must be the logged-in account");
		goto out;
	}
	if (rules_subject(e->subject, &why) == -1) {
		conn_reply_error(c, why);
		goto out;
	}
	if (rules_header_safe(e->subject) == -1) {
		conn_reply_error(c, "subject may not contain line breaks or "
		                    "control characters");
		goto out;
	}
	switch (rules_address(e->destination, domain, rcpt, &why)) {
	case RULES_ADDR_LOCAL:
		break;
	case RULES_ADDR_EXTERNAL:
		conn_reply_error(c, "destination is outside the local domain");
		goto out;
	case RULES_ADDR_INVALID:
		conn_reply_error(c, "invalid destination address");
		goto out;
	}
	/* Threading headers: message ids only, so nothing else rides in. */
	if (th->in_reply_to != NULL &&
	    message_id_valid(th->in_reply_to, 0) == -1) {
		conn_reply_error(c, "in_reply_to is not a message id");
		goto out;
	}
	if (th->references != NULL &&
	    message_id_valid(th->references, 1) == -1) {
		conn_reply_error(c, "references is not a list of message ids");
		goto out;
	}
	rules_date(now, date);
	randombytes_buf(rnd, sizeof(rnd));
	sodium_bin2hex(rhex, sizeof(rhex), rnd, sizeof(rnd));
	if (asprintf(&to, "%s@%s", rcpt, domain) < 0) {
		to = NULL;
		goto fail;
	}
	if (asprintf(&msgid, "<%lld.%s@%s>", (long long)now, rhex, domain) <
	    0) {
		msgid = NULL;
		goto fail;
	}
	if ((j = calloc(1, sizeof(*j))) == NULL)
		goto fail;
	j->conn = c;
	j->srv = srv;
	j->now = now;
	memcpy(j->rcpt, rcpt, sizeof(rcpt));
	if (th->in_reply_to != NULL || th->references != NULL) {
		struct message_head h = { from, to, NULL, e->subject, date,
			msgid, th->in_reply_to, th->references, NULL, NULL };

		j->data = message_build_head(&h, e->content, &j->len);
	} else
		j->data = message_build(from, to, e->subject, date, msgid,
		    e->content, &j->len);
	{
		struct deliver_params dp;
		struct deliver_msg dm = { s->user, e->subject, date, msgid, 0,
			0, 0 };
		const char *names[1] = { j->rcpt };

		mail_deliver_params(srv, &dp);
		if ((j->d = deliver_new(&dp, server_aliases(srv), &dm, names, 1,
		         ALIASES_EXPAND_MAX, &why)) == NULL) {
			conn_reply_error(c, why);
			goto out;
		}
	}
	j->info.from = from;
	j->info.to = to;
	j->info.subject = strdup(e->subject);
	j->info.date = strdup(date);
	j->info.when = now;
	from = to = NULL;
	if (j->data == NULL || j->info.subject == NULL || j->info.date == NULL)
		goto fail;
	conn_hold(c);
	if (pool_submit(server_store_pool(srv), send_work, send_done, j) ==
	    -1) {
		send_job_free(j);
		conn_release_error(c, "server busy, try again later");
		j = NULL;
		goto out;
	}
	j = NULL;
	goto out;
fail:
	log_write(LOG_LEVEL_ERROR, conn_id(c), "send: out of memory");
	conn_reply_error(c, "server error");
out:
	if (j != NULL)
		send_job_free(j);
	free(from);
	free(to);
	free(msgid);
}

/*
 * Requests waiting for a scan. A request arriving while a scan runs cannot
 * count on that scan (it may have listed the directories before the change
 * the client saw): it waits for the next one, which starts when the running
 * one ends and serves every request that queued meanwhile.
 */
struct mail_wait {
	TAILQ_ENTRY(mail_wait) link;
	struct conn *conn;  /* held */
	struct mailbox *mb; /* held */
	mail_fn fn;
	long long arg;
};
TAILQ_HEAD(mail_waits, mail_wait);

/* What the handlers keep beside one mailbox (its context). */
struct mail_box {
	uint64_t list_gen; /* generation list_frame was built at */
	size_t list_max;   /* and the bound it was cut to */
	unsigned char *list_frame;
	size_t list_len;
	struct mailbox_view *list_view; /* the entries list_frame numbers */
	uint64_t stats_gen;
	unsigned char *stats_frame;
	size_t stats_len;
	int md; /* the Maildir, opened once; -1: not yet */
	int scanning;
	int rescan;                /* scan again after the running one */
	struct mail_waits covered; /* served by the running scan */
	struct mail_waits next;    /* waiting for the next one */
	struct mail_watch *watch;  /* new/ watched, for notices */
};

/*
 * new/ watched for the subscribers' notices: the names that arrived since
 * the last look, checked against the index once they settle (a delivery of
 * ours is indexed a moment after its rename), so that only mail from
 * another process costs a scan. inotify sees what this host's kernel does;
 * a delivery by another host (NFS, CephFS) shows in the directories' times,
 * which a poll compares every WATCH_POLL_S seconds.
 */
#define WATCH_PENDING 8
#define WATCH_SETTLE_MS 10
#define WATCH_POLL_S 5
struct mail_watch {
	struct notify *notify;
	struct server *srv;
	struct mailbox *mb; /* not held: the context goes with it */
	struct event *settle;
	struct event *poll;
	int wd;
	int lost; /* more than WATCH_PENDING, or the kernel dropped some */
	size_t npending;
	char pending[WATCH_PENDING][MAILDIR_ID_MAX];
};

struct sync_job {
	struct server *srv;
	struct mailbox *mb; /* held */
	struct mailbox_scan *scan;
	int md; /* the context's, kept open by mb */
	int failed;
	int error;
};

static void
watch_free(struct mail_watch *w)
{
	if (w == NULL)
		return;
	notify_unwatch(w->notify, w->wd);
	if (w->settle != NULL)
		event_free(w->settle);
	if (w->poll != NULL)
		event_free(w->poll);
	free(w);
}

static void
mail_box_free(void *arg)
{
	struct mail_box *ctx = arg;

	free(ctx->list_frame);
	mailbox_view_release(ctx->list_view);
	free(ctx->stats_frame);
	watch_free(ctx->watch);
	if (ctx->md != -1)
		close(ctx->md);
	free(ctx);
}

static struct mail_box *
mail_box(struct mailbox *mb)
{
	struct mail_box *ctx = mailbox_context(mb);

	if (ctx == NULL && (ctx = calloc(1, sizeof(*ctx))) != NULL) {
		ctx->md = -1;
		TAILQ_INIT(&ctx->covered);
		TAILQ_INIT(&ctx->next);
		mailbox_set_context(mb, ctx, mail_box_free);
	}
	return ctx;
}

/* Another reference to a mailbox already held. */
static struct mailbox *
mailbox_hold(struct server *srv, struct mailbox *mb)
{
	return mailbox_acquire(server_mailboxes(srv), mailbox_user(mb));
}

/*
 * The mailbox's Maildir, opened relative to the data directory once (never
 * through a link) and kept with the context: the checks before each request
 * and the scans work from it. -1 with errno when it cannot be opened.
 */
static int
box_fd(struct server *srv, struct mailbox *mb, struct mail_box *ctx)
{
	if (ctx->md == -1)
		ctx->md = maildir_open(server_data_fd(srv), mailbox_user(mb));
	return ctx->md;
}

/* Run a waiter's continuation: reply, then release the connection. */
static void
wait_finish(struct mail_wait *w, const char *err)
{
	if (conn_alive(w->conn))
		w->fn(w->conn, w->mb, err, w->arg);
	conn_release(w->conn);
	mailbox_release(w->mb);
	free(w);
}

static void sync_start(struct server *srv, struct mailbox *mb,
    struct mail_box *ctx);

static void
sync_work(void *arg)
{
	struct sync_job *j = arg;

	if (mailbox_scan_run(j->scan, j->md) == -1) {
		j->failed = 1;
		j->error = errno;
	}
}

static void
sync_done(void *arg)
{
	struct sync_job *j = arg;
	struct mail_box *ctx = mailbox_context(j->mb);
	struct mail_waits done;
	struct mail_wait *w;
	const char *err = NULL;

	if (j->failed) {
		log_error("cannot scan the mailbox of %s: %s",
		    mailbox_user(j->mb), strerror(j->error));
		err = "mailbox unavailable";
	} else if (mailbox_scan_apply(j->mb, j->scan) == -1) {
		log_error("cannot index the mailbox of %s: out of memory",
		    mailbox_user(j->mb));
		err = "server error";
	} else {
		struct mailbox_entry *const *arrived;
		size_t i, n = mailbox_scan_arrivals(j->scan, &arrived);

		/* Delivered by another process: its subscribers hear of it. */
		for (i = 0; i < n; i++)
			mail_ext_arrived(j->mb, arrived[i]);
	}
	mailbox_scan_free(j->scan);
	TAILQ_INIT(&done);
	TAILQ_CONCAT(&done, &ctx->covered, link);
	ctx->scanning = 0;
	if (!TAILQ_EMPTY(&ctx->next) || ctx->rescan) {
		ctx->rescan = 0;
		sync_start(j->srv, j->mb, ctx);
	}
	while ((w = TAILQ_FIRST(&done)) != NULL) {
		TAILQ_REMOVE(&done, w, link);
		wait_finish(w, err);
	}
	mailbox_release(j->mb);
	free(j);
}

/* Scan for every request waiting in ctx->next. */
static void
sync_start(struct server *srv, struct mailbox *mb, struct mail_box *ctx)
{
	struct sync_job *j;
	struct mail_wait *w;
	const char *err = "server error";

	TAILQ_CONCAT(&ctx->covered, &ctx->next, link);
	if ((j = calloc(1, sizeof(*j))) == NULL)
		goto fail;
	j->srv = srv;
	if ((j->md = box_fd(srv, mb, ctx)) == -1) {
		log_error("cannot open the mailbox of %s: %s", mailbox_user(mb),
		    strerror(errno));
		err = "mailbox unavailable";
		goto fail;
	}
	if ((j->scan = mailbox_scan_begin(mb)) == NULL)
		goto fail;
	if ((j->mb = mailbox_hold(srv, mb)) == NULL)
		goto fail;
	if (pool_submit(server_store_pool(srv), sync_work, sync_done, j) ==
	    -1) {
		mailbox_release(j->mb);
		err = "server busy, try again later";
		goto fail;
	}
	ctx->scanning = 1;
	return;
fail:
	if (j != NULL)
		mailbox_scan_free(j->scan);
	free(j);
	mailbox_distrust(mb);
	while ((w = TAILQ_FIRST(&ctx->covered)) != NULL) {
		TAILQ_REMOVE(&ctx->covered, w, link);
		wait_finish(w, err);
	}
}

/*
 * Call fn once the index of mb reflects the Maildir as it was when this
 * request arrived: now if it does, else after a scan.
 */
void
mail_sync(struct conn *c, struct mailbox *mb, mail_fn fn, long long arg)
{
	struct server *srv = conn_server(c);
	struct mail_box *ctx = mail_box(mb);
	struct mail_wait *w;
	int md;

	if (ctx == NULL) {
		fn(c, mb, "server error", arg);
		return;
	}
	if ((md = box_fd(srv, mb, ctx)) == -1) {
		log_write(LOG_LEVEL_ERROR, conn_id(c),
		    "user=%s: cannot open "
		    "the mailbox: %s",
		    mailbox_user(mb), strerror(errno));
		fn(c, mb, "mailbox unavailable", arg);
		return;
	}
	if (!mailbox_stale(mb, md)) {
		fn(c, mb, NULL, arg);
		return;
	}
	if ((w = calloc(1, sizeof(*w))) == NULL ||
	    (w->mb = mailbox_hold(srv, mb)) == NULL) {
		free(w);
		fn(c, mb, "server error", arg);
		return;
	}
	w->conn = c;
	w->fn = fn;
	w->arg = arg;
	conn_hold(c);
	TAILQ_INSERT_TAIL(&ctx->next, w, link);
	if (!ctx->scanning)
		sync_start(srv, mb, ctx);
}

/* Check the index against the Maildir in the background. */
void
mail_verify(struct server *srv, struct mailbox *mb)
{
	struct mail_box *ctx = mail_box(mb);

	if (ctx == NULL)
		mailbox_distrust(mb);
	else if (ctx->scanning)
		ctx->rescan = 1;
	else
		sync_start(srv, mb, ctx);
}

/* Names arrived a moment ago: a scan when one of them is not indexed. */
static void
settle_cb(evutil_socket_t fd, short what, void *arg)
{
	struct mail_watch *w = arg;
	int scan = w->lost;
	size_t i;

	(void)fd;
	(void)what;
	for (i = 0; !scan && i < w->npending; i++)
		scan = mailbox_get(w->mb, w->pending[i]) == NULL;
	w->npending = 0;
	w->lost = 0;
	if (scan)
		mail_verify(w->srv, w->mb);
}

/* The watch of mb, or NULL: freed when nobody listens any more. */
static struct mail_watch *
watch_live(struct mailbox *mb)
{
	struct mail_box *ctx = mailbox_context(mb);
	struct mail_watch *w;
	size_t nsubs;

	if (ctx == NULL || (w = ctx->watch) == NULL)
		return NULL;
	(void)mailbox_subscribers(mb, &nsubs);
	if (nsubs == 0) {
		ctx->watch = NULL;
		watch_free(w);
		return NULL;
	}
	return w;
}

static void
poll_cb(evutil_socket_t fd, short what, void *arg)
{
	struct mail_watch *w = arg;
	struct mail_box *ctx = mailbox_context(w->mb);
	struct mailbox *mb = w->mb;

	(void)fd;
	(void)what;
	if ((w = watch_live(mb)) != NULL && ctx->md != -1 &&
	    mailbox_stale(mb, ctx->md))
		mail_verify(w->srv, mb);
}

void
mail_arrival(void *key, const char *name, void *arg)
{
	struct mailbox *mb = key;
	struct timeval tv = { 0, WATCH_SETTLE_MS * 1000 };
	struct mail_watch *w;

	(void)arg;
	if ((w = watch_live(mb)) == NULL)
		return;
	if (name == NULL || w->npending == WATCH_PENDING)
		w->lost = 1;
	else {
		maildir_id(name, w->pending[w->npending]);
		if (mailbox_get(mb, w->pending[w->npending]) == NULL)
			w->npending++;
	}
	if ((w->npending > 0 || w->lost) && !evtimer_pending(w->settle, NULL))
		evtimer_add(w->settle, &tv);
}

int
mail_watch(struct server *srv, struct mailbox *mb)
{
	struct mail_box *ctx = mail_box(mb);
	struct notify *n = server_notify(srv);
	struct timeval every = { WATCH_POLL_S, 0 };
	struct mail_watch *w;
	int md;

	if (ctx == NULL)
		return -1;
	if (ctx->watch != NULL)
		return 0;
	if ((md = box_fd(srv, mb, ctx)) == -1 ||
	    (w = calloc(1, sizeof(*w))) == NULL)
		return -1;
	w->notify = n;
	w->srv = srv;
	w->mb = mb;
	w->wd = -1;
	w->settle = evtimer_new(server_base(srv), settle_cb, w);
	w->poll = event_new(server_base(srv), -1, EV_PERSIST, poll_cb, w);
	if (w->settle == NULL || w->poll == NULL ||
	    event_add(w->poll, &every) == -1) {
		watch_free(w);
		return -1;
	}
	/* Without it, the poll still finds other processes' mail. */
	if (n != NULL && (w->wd = notify_watch(n, md, "new", mb)) == -1)
		log_write(LOG_LEVEL_WARN, 0,
		    "user=%s: cannot watch new/: %s; other processes' mail "
		    "is announced within %d s",
		    mailbox_user(mb), strerror(errno), WATCH_POLL_S);
	ctx->watch = w;
	return 0;
}

static void
login_ready(struct conn *c, struct mailbox *mb, const char *err, long long arg)
{
	struct mailbox *held;

	(void)arg;
	if (err != NULL) {
		log_write(LOG_LEVEL_ERROR, conn_id(c),
		    "login user=%s: mailbox not loaded", mailbox_user(mb));
		conn_reply_error(c, err);
		return;
	}
	if ((held = mailbox_hold(conn_server(c), mb)) == NULL) {
		conn_reply_error(c, "server error");
		return;
	}
	conn_login(c, mailbox_user(mb), held);
	conn_reply(c, PROTO_OK, NULL);
}

void
mail_login(struct conn *c, const char *user)
{
	struct mailbox *mb;

	if ((mb = mailbox_acquire(server_mailboxes(conn_server(c)), user)) ==
	    NULL) {
		conn_reply_error(c, "server error");
		return;
	}
	mail_sync(c, mb, login_ready, 0);
	mailbox_release(mb);
}

/* {"email_list": [...]} of the first n entries of v; NULL: no memory. */
static json_t *
list_payload(const struct mailbox_view *v, size_t n)
{
	json_t *list;
	char *line;
	size_t i;

	if ((list = json_array()) == NULL)
		return NULL;
	for (i = 0; i < n; i++) {
		if (asprintf(&line, "#%zu %s", i + 1, v->entry[i]->line) < 0)
			goto fail;
		if (json_array_append_new(list, json_string(line)) == -1) {
			free(line);
			goto fail;
		}
		free(line);
	}
	return json_pack("{s:o}", "email_list", list);
fail:
	json_decref(list);
	return NULL;
}

static int
list_encode(const struct mailbox_view *v, size_t n, size_t max,
    unsigned char **frame_r, size_t *len_r)
{
	json_t *payload = list_payload(v, n);

	return payload != NULL ? msg_encode(PROTO_OK, payload,
	                             max - FRAME_HEADER_LEN, frame_r, len_r)
	                       : -1;
}

/*
 * The largest list reply: what a client accepts, and what one client may
 * have queued (a larger reply would be refused whole by max-output).
 */
static size_t
list_max(const struct server *srv)
{
	size_t out = server_cfg(srv)->max_output;

	return out < FRAME_REPLY_MAX ? out : FRAME_REPLY_MAX;
}

/*
 * How many of the newest entries of v fit in a reply a client accepts: the
 * empty list's body, plus each entry's JSON string and its ", ".
 */
static int
list_fit(const struct mailbox_view *v, size_t max, size_t *n_r)
{
	unsigned char *frame;
	size_t len, total, n;
	json_t *str;
	char *line;

	if (list_encode(v, 0, max, &frame, &len) == -1)
		return -1;
	free(frame);
	total = len;
	for (n = 0; n < v->n; n++) {
		if (asprintf(&line, "#%zu %s", n + 1, v->entry[n]->line) < 0)
			return -1;
		str = json_string(line);
		free(line);
		if (str == NULL)
			return -1;
		total += json_dumpb(str, NULL, 0,
		             JSON_ENSURE_ASCII | JSON_ENCODE_ANY) +
		         (n > 0 ? 2 : 0);
		json_decref(str);
		if (total > max)
			break;
	}
	*n_r = n;
	return 0;
}

/* The list reply at mb's generation, cut to what a client accepts. */
static int
list_build(struct mail_box *ctx, struct mailbox *mb, size_t max)
{
	struct mailbox_view *v, *shown;
	unsigned char *frame;
	size_t len, n;

	if ((v = mailbox_view(mb)) == NULL)
		return -1;
	shown = v;
	if (list_encode(v, v->n, max, &frame, &len) == -1) {
		/* Too long (or no memory): the newest entries that fit. */
		if (list_fit(v, max, &n) == -1 || n == v->n ||
		    (shown = mailbox_view_head(v, n)) == NULL) {
			mailbox_view_release(v);
			return -1;
		}
		mailbox_view_release(v);
		if (list_encode(shown, n, max, &frame, &len) == -1) {
			mailbox_view_release(shown);
			return -1;
		}
		log_info("list of %s cut to its %zu newest messages of %zu",
		    mailbox_user(mb), n, mailbox_count(mb));
	}
	free(ctx->list_frame);
	mailbox_view_release(ctx->list_view);
	ctx->list_frame = frame;
	ctx->list_len = len;
	ctx->list_view = shown;
	ctx->list_gen = mailbox_generation(mb);
	ctx->list_max = max;
	return 0;
}

static void
list_ready(struct conn *c, struct mailbox *mb, const char *err, long long arg)
{
	struct mail_box *ctx = mail_box(mb);
	size_t max = list_max(conn_server(c));
	struct session *s;

	(void)arg;
	if (err != NULL) {
		conn_reply_error(c, err);
		return;
	}
	/* Lists are asked far more often than mail arrives: reuse the bytes. */
	if (ctx == NULL ||
	    ((ctx->list_gen != mailbox_generation(mb) || ctx->list_max != max ||
	         ctx->list_frame == NULL) &&
	        list_build(ctx, mb, max) == -1)) {
		conn_reply_error(c, "server error");
		return;
	}
	/* The list the client sees is the one its choices refer to. */
	s = conn_session(c);
	mailbox_view_release(s->view);
	s->view = ctx->list_view;
	s->view->refs++;
	conn_send_frame(c, ctx->list_frame, ctx->list_len);
}

void
h_inbox_list(struct conn *c, const union msg_args *args)
{
	(void)args;
	mail_sync(c, conn_session(c)->mailbox, list_ready, 0);
}

struct read_job {
	struct conn *conn;
	struct mailbox *mb;          /* held */
	struct mailbox_entry *entry; /* held */
	int md;                      /* the mailbox context's, kept by mb */
	struct maildir_file file;    /* where it was, then where it is */
	struct message_info info;
	struct mailbox_stamp before, after; /* around marking it seen */
	int moved;
	int failed;
	int too_big;
	int error;
	int headers; /* MESSAGE_HEADERS: head[] only */
	char *head[4];
};

/* The fields MESSAGE_HEADERS returns, in head[] order. */
static const char *const head_names[4] = { "Message-ID", "To", "Cc",
	"References" };
static const char *const head_keys[4] = { "message_id", "to", "cc",
	"references" };

/* A raw header value made fit for JSON: TAB a space, printable ASCII,
 * anything else '?'. */
static void
head_clean(char *s)
{
	for (; s != NULL && *s != '\0'; s++)
		if (*s == '\t')
			*s = ' ';
		else if ((unsigned char)*s < 0x20 || (unsigned char)*s > 0x7e)
			*s = '?';
}

static void
read_work(void *arg)
{
	struct read_job *j = arg;
	char *buf, name[MAILDIR_NAME_MAX];
	size_t len;
	int rc;

	/* A reply holds the body at least: a larger file cannot be sent. */
	if ((buf = maildir_read(j->md, &j->file, FRAME_REPLY_MAX + 1, &len)) ==
	    NULL) {
		j->failed = 1;
		j->error = errno;
		return;
	}
	if (len > FRAME_REPLY_MAX) {
		free(buf);
		j->too_big = 1;
		return;
	}
	if (j->headers) {
		for (rc = 0; rc < 4; rc++)
			head_clean(j->head[rc] = message_header(buf, len,
			               head_names[rc]));
		free(buf);
		return;
	}
	rc = message_parse(buf, len, 1, &j->info);
	free(buf);
	if (rc == -1) {
		j->failed = 1;
		j->error = ENOMEM;
		return;
	}
	/* Seen, as a Maildir reader expects; a failure here loses nothing.
	 * The looks around it let the index know the change is ours. */
	if (mailbox_stamp_take(j->md, &j->before) == -1)
		j->before.valid = 0;
	snprintf(name, sizeof(name), "%s", j->file.name);
	if (maildir_mark_seen(j->md, &j->file) == -1)
		log_warn("cannot mark %s seen for user=%s: %s", j->file.name,
		    mailbox_user(j->mb), strerror(errno));
	if ((j->moved = strcmp(name, j->file.name) != 0) &&
	    mailbox_stamp_take(j->md, &j->after) == -1)
		j->after.valid = 0;
}

static void
read_done(void *arg)
{
	struct read_job *j = arg;
	struct conn *c = j->conn;
	struct msg_email e;
	unsigned char *frame;
	size_t len;

	if (j->failed && j->error == ENOENT) {
		/* Removed by another program: the index forgets it too. */
		log_write(LOG_LEVEL_INFO, conn_id(c),
		    "read user=%s file=%s: "
		    "gone",
		    mailbox_user(j->mb), j->file.name);
		mailbox_remove(j->mb, j->entry);
		conn_reply_error(c, "message no longer exists");
	} else if (j->failed) {
		log_write(LOG_LEVEL_ERROR, conn_id(c),
		    "read user=%s file=%s: "
		    "%s",
		    mailbox_user(j->mb), j->file.name, strerror(j->error));
		conn_reply_error(c, "message could not be read");
	} else if (j->headers && !j->too_big) {
		json_t *p = json_object();
		int i;

		for (i = 0; i < 4 && p != NULL; i++)
			if (json_object_set_new(p, head_keys[i],
			        json_string(j->head[i] != NULL ? j->head[i]
			                                       : "")) == -1) {
				json_decref(p);
				p = NULL;
			}
		if (p == NULL)
			conn_reply_error(c, "server error");
		else
			conn_reply(c, PROTO_OK, p);
	} else {
		mailbox_update_file(j->mb, j->entry, &j->file);
		if (j->moved &&
		    mailbox_own_change(j->mb, &j->before, &j->after))
			mail_verify(conn_server(c), j->mb);
		e.sender = j->info.from;
		e.destination = j->info.to;
		e.subject = j->info.subject;
		e.date = j->info.date;
		e.content = j->info.body;
		if (j->too_big || msg_encode(PROTO_OK, msg_email_new(&e),
		                      FRAME_REPLY_MAX, &frame, &len) == -1) {
			log_write(LOG_LEVEL_ERROR, conn_id(c),
			    "read user=%s "
			    "file=%s: too large for a reply",
			    mailbox_user(j->mb), j->file.name);
			conn_reply_error(c, "message too large to be read");
		} else {
			conn_send_frame(c, frame, len);
			free(frame);
		}
	}
	conn_release(c);
	mailbox_entry_release(j->entry);
	mailbox_release(j->mb);
	message_info_clear(&j->info);
	for (len = 0; len < 4; len++)
		free(j->head[len]);
	free(j);
}

static void
read_start(struct conn *c, struct mailbox *mb, const char *err, long long n,
    int headers)
{
	struct server *srv;
	struct session *s;
	struct mailbox_view *v;
	struct read_job *j;

	if (err != NULL) {
		conn_reply_error(c, err);
		return;
	}
	srv = conn_server(c);
	s = conn_session(c);
	/* After a list, the numbers are that list's; before any, the
	 * mailbox's order now. */
	if ((v = s->view) != NULL)
		v->refs++;
	else if ((v = mailbox_view(mb)) == NULL) {
		conn_reply_error(c, "server error");
		return;
	}
	if (n < 1 || (unsigned long long)n > v->n) {
		mailbox_view_release(v);
		conn_reply_error(c, "choice out of range");
		return;
	}
	if (v->entry[n - 1]->gone) {
		mailbox_view_release(v);
		conn_reply_error(c, "message no longer exists");
		return;
	}
	if ((j = calloc(1, sizeof(*j))) == NULL ||
	    (j->md = box_fd(srv, mb, mail_box(mb))) == -1 ||
	    (j->mb = mailbox_hold(srv, mb)) == NULL) {
		free(j);
		mailbox_view_release(v);
		conn_reply_error(c, "server error");
		return;
	}
	j->conn = c;
	j->headers = headers;
	j->entry = v->entry[n - 1];
	mailbox_entry_hold(j->entry);
	mailbox_view_release(v);
	j->file = j->entry->file;
	conn_hold(c);
	if (pool_submit(server_store_pool(srv), read_work, read_done, j) ==
	    -1) {
		mailbox_entry_release(j->entry);
		mailbox_release(j->mb);
		free(j);
		conn_release_error(c, "server busy, try again later");
	}
}

static void
read_ready(struct conn *c, struct mailbox *mb, const char *err, long long n)
{
	read_start(c, mb, err, n, 0);
}

static void
headers_ready(struct conn *c, struct mailbox *mb, const char *err, long long n)
{
	read_start(c, mb, err, n, 1);
}

void
h_inbox_read(struct conn *c, const union msg_args *args)
{
	mail_sync(c, conn_session(c)->mailbox, read_ready, args->choice);
}

/* What a reply needs of message N that the seed's read leaves out. */
void
h_message_headers(struct conn *c, const union msg_args *args)
{
	mail_sync(c, conn_session(c)->mailbox, headers_ready, args->choice);
}

static void
stats_ready(struct conn *c, struct mailbox *mb, const char *err, long long arg)
{
	struct mail_box *ctx = mail_box(mb);
	json_t *payload;

	(void)arg;
	if (err != NULL) {
		conn_reply_error(c, err);
		return;
	}
	/* Stats are asked far more often than mail arrives: reuse the bytes. */
	if (ctx != NULL && ctx->stats_gen != mailbox_generation(mb)) {
		free(ctx->stats_frame);
		ctx->stats_frame = NULL;
		payload = msg_stats_new((long long)mailbox_count(mb),
		    mailbox_size(mb));
		if (payload != NULL &&
		    msg_encode(PROTO_OK, payload, FRAME_REPLY_MAX,
		        &ctx->stats_frame, &ctx->stats_len) == 0)
			ctx->stats_gen = mailbox_generation(mb);
	}
	if (ctx == NULL || ctx->stats_frame == NULL) {
		conn_reply_error(c, "server error");
		return;
	}
	conn_send_frame(c, ctx->stats_frame, ctx->stats_len);
}

void
h_stats(struct conn *c, const union msg_args *args)
{
	(void)args;
	mail_sync(c, conn_session(c)->mailbox, stats_ready, 0);
}
