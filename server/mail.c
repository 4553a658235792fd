/*
 * mail.c - handlers for EMAIL_SENDING, INBOX_READING_REQUEST,
 * INBOX_READING_CHOICE and STATS_REQUEST.
 *
 * Lists and stats answer from the in-memory mailbox index. Delivery and
 * reading touch the disk, so they run on the store pool; a delivery is
 * acknowledged only after maildir_deliver has made it durable.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>
#include <unistd.h>

#include <sodium.h>

#include "conn.h"
#include "dispatch.h"
#include "frame.h"
#include "log.h"
#include "mail_ext.h"
#include "mailbox.h"
#include "maildir.h"
#include "message.h"
#include "pool.h"
#include "rules.h"
#include "server.h"
#include "session.h"
#include "users.h"

struct send_job {
	struct conn *conn;
	struct server *srv;
	char rcpt[RULES_USERNAME_MAX + 1];
	char *data;                 /* the RFC 5322 file */
	size_t len;
	struct message_info info;   /* for the recipient's index */
	struct maildir_file file;   /* where it landed */
	int lost;                   /* no such account: kept in LOST */
	int failed;
	const char *step;
	int error;
};

static void
send_job_free(struct send_job *j)
{
	message_info_clear(&j->info);
	free(j->data);
	free(j);
}

static void
send_work(void *arg)
{
	struct send_job *j = arg;
	int data = server_data_fd(j->srv), md;

	j->lost = !users_exists(data, j->rcpt);
	if ((md = maildir_open(data, j->lost ? RULES_LOST_DIR : j->rcpt)) ==
	    -1) {
		j->step = "open";
		j->failed = 1;
		j->error = errno;
		return;
	}
	if (maildir_deliver(md, j->data, j->len, j->file.name, &j->step) ==
	    -1) {
		j->failed = 1;
		j->error = errno;
		close(md);
		return;
	}
	close(md);
	j->file.in_cur = 0;
	j->file.size = (off_t)j->len;
	maildir_order(j->file.name, j->file.order);
}

static void
send_done(void *arg)
{
	struct send_job *j = arg;
	struct conn *c = j->conn;
	struct mailbox *mb;

	if (j->failed) {
		log_write(LOG_LEVEL_ERROR, conn_id(c),
		    "delivery to=%s failed at %s: %s", j->rcpt, j->step,
		    strerror(j->error));
		conn_reply_error(c, "message could not be stored");
		goto out;
	}
	server_count_delivery(j->srv);
	if (j->lost) {
		log_write(LOG_LEVEL_INFO, conn_id(c),
		    "undeliverable to=%s kept in LOST file=%s", j->rcpt,
		    j->file.name);
		conn_reply_error(c, "no such recipient; the message was kept "
		    "as undeliverable");
		goto out;
	}
	/* The recipient's index, if loaded, learns of it without a rescan. */
	if ((mb = mailbox_find(server_mailboxes(j->srv), j->rcpt)) != NULL) {
		if (mailbox_add(mb, &j->file, &j->info) == -1)
			log_error("cannot index a delivery to %s", j->rcpt);
		mail_ext_delivered(mb, &j->file, &j->info);
	}
	log_write(LOG_LEVEL_INFO, conn_id(c), "delivered from=%s to=%s size=%zu",
	    j->info.from, j->rcpt, j->len);
	conn_reply(c, PROTO_OK, NULL);
out:
	conn_release(c);
	send_job_free(j);
}

void
h_email_send(struct conn *c, const union msg_args *args)
{
	const struct msg_email *e = &args->email;
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
	rules_date(now, date);
	randombytes_buf(rnd, sizeof(rnd));
	sodium_bin2hex(rhex, sizeof(rhex), rnd, sizeof(rnd));
	if (asprintf(&to, "%s@%s", rcpt, domain) < 0) {
		to = NULL;
		goto fail;
	}
	if (asprintf(&msgid, "<%lld.%s@%s>", (long long)now, rhex, domain) < 0) {
		msgid = NULL;
		goto fail;
	}
	if ((j = calloc(1, sizeof(*j))) == NULL)
		goto fail;
	j->conn = c;
	j->srv = srv;
	memcpy(j->rcpt, rcpt, sizeof(rcpt));
	j->data = message_build(from, to, e->subject, date, msgid, e->content,
	    &j->len);
	j->info.from = from;
	j->info.to = to;
	j->info.subject = strdup(e->subject);
	j->info.date = strdup(date);
	j->info.when = now;
	from = to = NULL;
	if (j->data == NULL || j->info.subject == NULL || j->info.date == NULL)
		goto fail;
	conn_hold(c);
	if (pool_submit(server_store_pool(srv), send_work, send_done,
	    j) == -1) {
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
		send_job_free(j);
	free(from);
	free(to);
	free(msgid);
}

void
h_inbox_list(struct conn *c, const union msg_args *args)
{
	struct session *s = conn_session(c);
	const unsigned char *frame;
	struct mailbox_view *v;
	size_t len;

	(void)args;
	/* The list the client sees is the one its choices refer to. */
	if ((v = mailbox_view(s->mailbox)) == NULL ||
	    (frame = mailbox_list_frame(s->mailbox, FRAME_MAX_LIMIT,
	    &len)) == NULL) {
		mailbox_view_release(v);
		conn_reply_error(c, "server error");
		return;
	}
	mailbox_view_release(s->view);
	s->view = v;
	conn_send_frame(c, frame, len);
}

struct read_job {
	struct conn *conn;
	struct mailbox *mb;          /* held: keeps the entry alive */
	struct mailbox_entry *entry;
	int datafd;                  /* the store, and the user's name in it */
	char user[RULES_USERNAME_MAX + 1];
	struct maildir_file file;    /* where it was, then where it is */
	struct message_info info;
	int failed;
	int error;
};

static void
read_work(void *arg)
{
	struct read_job *j = arg;
	char *buf;
	size_t len;
	int rc, md;

	if ((md = maildir_open(j->datafd, j->user)) == -1 ||
	    (buf = maildir_read(md, &j->file, 0, &len)) == NULL) {
		j->failed = 1;
		j->error = errno;
		if (md != -1)
			close(md);
		return;
	}
	rc = message_parse(buf, len, 1, &j->info);
	free(buf);
	if (rc == -1) {
		j->failed = 1;
		j->error = ENOMEM;
		close(md);
		return;
	}
	/* Seen, as a Maildir reader expects; a failure here loses nothing. */
	if (maildir_mark_seen(md, &j->file) == -1)
		log_warn("cannot mark %s seen for user=%s: %s", j->file.name,
		    j->user, strerror(errno));
	close(md);
}

static void
read_done(void *arg)
{
	struct read_job *j = arg;
	struct conn *c = j->conn;
	struct msg_email e;

	mailbox_update_file(j->entry, &j->file);
	if (j->failed) {
		log_write(LOG_LEVEL_ERROR, conn_id(c),
		    "read user=%s file=%s: %s", j->user, j->file.name,
		    strerror(j->error));
		conn_reply_error(c, "message could not be read");
	} else {
		e.sender = j->info.from;
		e.destination = j->info.to;
		e.subject = j->info.subject;
		e.date = j->info.date;
		e.content = j->info.body;
		conn_reply(c, PROTO_OK, msg_email_new(&e));
	}
	conn_release(c);
	mailbox_release(j->mb);
	message_info_clear(&j->info);
	free(j);
}

void
h_inbox_read(struct conn *c, const union msg_args *args)
{
	struct server *srv = conn_server(c);
	struct session *s = conn_session(c);
	struct read_job *j;
	long long n = args->choice;

	/* A read before any list numbers the mailbox as a list would. */
	if (s->view == NULL && (s->view = mailbox_view(s->mailbox)) == NULL) {
		conn_reply_error(c, "server error");
		return;
	}
	if (n < 1 || (unsigned long long)n > s->view->n) {
		conn_reply_error(c, "choice out of range");
		return;
	}
	if (s->view->entry[n - 1]->deleted) {
		conn_reply_error(c, "no such message");
		return;
	}
	if ((j = calloc(1, sizeof(*j))) == NULL) {
		conn_reply_error(c, "server error");
		return;
	}
	j->conn = c;
	j->entry = s->view->entry[n - 1];
	j->file = j->entry->file;
	j->datafd = server_data_fd(srv);
	memcpy(j->user, s->user, sizeof(j->user));
	j->mb = mailbox_acquire(server_mailboxes(srv), s->user);
	conn_hold(c);
	if (pool_submit(server_store_pool(srv), read_work, read_done,
	    j) == -1) {
		mailbox_release(j->mb);
		free(j);
		conn_release_error(c, "server busy, try again later");
	}
}

void
h_stats(struct conn *c, const union msg_args *args)
{
	const struct session *s = conn_session(c);
	const unsigned char *frame;
	size_t len;

	(void)args;
	/* Stats are asked far more often than mail arrives: reuse the bytes. */
	if ((frame = mailbox_stats_frame(s->mailbox, &len)) == NULL) {
		conn_reply_error(c, "server error");
		return;
	}
	conn_send_frame(c, frame, len);
}
