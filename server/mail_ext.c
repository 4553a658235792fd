/*
 * mail_ext.c - handlers of the mailbox extension: MAILBOX_LIST,
 * MAILBOX_READ, MAILBOX_DELETE, MAILBOX_FLAGS, MAILBOX_SEARCH,
 * PASSWORD_CHANGE, NOTICES_SUBSCRIBE and NOTICES_UNSUBSCRIBE, and the
 * NEW_MAIL notices a delivery sends.
 *
 * Lists and header searches answer from the in-memory index on the
 * reactor. Reads, deletes, flag changes and body searches touch the disk,
 * so they run on the store pool, the connection held meanwhile; a delete or
 * a flag change is answered only once it is on disk. Password changes hash
 * on the auth pool. Every id a request names is checked against the
 * session's own mailbox before any work starts: an id of another account's
 * message is, for this session, no message at all.
 */
#include <errno.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <sodium.h>

#include "conn.h"
#include "dispatch.h"
#include "frame.h"
#include "log.h"
#include "mail.h"
#include "mail_ext.h"
#include "mailbox.h"
#include "maildir.h"
#include "message.h"
#include "pool.h"
#include "rules.h"
#include "server.h"
#include "session.h"
#include "users.h"

#define NO_SUCH "no such message"

/* --- case folding for search -------------------------------------------- */

/*
 * Lower case of a code point for the scripts mail here is written in:
 * ASCII, Latin-1, Latin Extended-A, Greek and Cyrillic. Every mapping keeps
 * the UTF-8 length, so folding never changes a string's size.
 */
static uint32_t
fold_cp(uint32_t c)
{
	if (c < 0x80)
		return c >= 'A' && c <= 'Z' ? c + 32 : c;
	if (c >= 0xc0 && c <= 0xde && c != 0xd7)
		return c + 32;
	if (c >= 0x100 && c <= 0x17f) {
		if (c == 0x178)
			return 0xff;
		if ((c >= 0x139 && c <= 0x148) || (c >= 0x179 && c <= 0x17e))
			return (c & 1) ? c + 1 : c;
		if (c == 0x130 || c == 0x131 || c == 0x138 || c == 0x149 ||
		    c == 0x17f)
			return c;
		return (c & 1) ? c : c + 1;
	}
	if (c >= 0x391 && c <= 0x3ab && c != 0x3a2)
		return c + 32;
	if (c >= 0x410 && c <= 0x42f)
		return c + 32;
	if (c >= 0x400 && c <= 0x40f)
		return c + 80;
	return c;
}

/* Fold len bytes of s into out (len bytes too); bad UTF-8 is copied. */
static void
fold(const char *s, size_t len, char *out)
{
	const unsigned char *p = (const unsigned char *)s;
	uint32_t c;
	size_t i = 0;

	while (i < len) {
		if (p[i] < 0x80) {
			out[i] = (char)fold_cp(p[i]);
			i++;
		} else if ((p[i] & 0xe0) == 0xc0 && i + 1 < len &&
		           (p[i + 1] & 0xc0) == 0x80) {
			c = fold_cp(
			    ((uint32_t)(p[i] & 0x1f) << 6) | (p[i + 1] & 0x3f));
			out[i] = (char)(0xc0 | (c >> 6));
			out[i + 1] = (char)(0x80 | (c & 0x3f));
			i += 2;
		} else {
			out[i] = (char)p[i];
			i++;
		}
	}
}

/* A folded copy of a needle; NULL when none (or no memory: *bad set). */
static char *
needle(const char *s, int *bad)
{
	char *n;

	if (s == NULL)
		return NULL;
	if ((n = malloc(strlen(s) + 1)) == NULL) {
		*bad = 1;
		return NULL;
	}
	fold(s, strlen(s), n);
	n[strlen(s)] = '\0';
	return n;
}

/* A scratch buffer for folding haystacks. */
struct scratch {
	char *p;
	size_t cap;
};

/* 1 when the folded needle is in hay, 0 if not, -1 without memory. */
static int
contains(struct scratch *sc, const char *hay, size_t hlen, const char *nd)
{
	size_t nlen = strlen(nd);
	char *grown;

	if (nlen == 0)
		return 1;
	if (hlen < nlen)
		return 0;
	if (hlen > sc->cap) {
		if ((grown = realloc(sc->p, hlen)) == NULL)
			return -1;
		sc->p = grown;
		sc->cap = hlen;
	}
	fold(hay, hlen, sc->p);
	return memmem(sc->p, hlen, nd, nlen) != NULL;
}

static int
has(struct scratch *sc, const char *hay, const char *nd)
{
	return contains(sc, hay, strlen(hay), nd) == 1;
}

/* --- queries ------------------------------------------------------------ */

struct query {
	int unread;
	char *from, *to, *subject, *body, *text;
	time_t since, before; /* -1: no bound */
	long long offset, limit;
};

static void
query_clear(struct query *q)
{
	free(q->from);
	free(q->to);
	free(q->subject);
	free(q->body);
	free(q->text);
	memset(q, 0, sizeof(*q));
}

/* "YYYY-MM-DD" at 00:00 UTC, or -1. */
static time_t
parse_day(const char *s)
{
	struct tm tm;
	int y, m, d, n = 0;

	if (strlen(s) != 10 ||
	    sscanf(s, "%4d-%2d-%2d%n", &y, &m, &d, &n) != 3 || n != 10 ||
	    s[4] != '-' || s[7] != '-' || y < 1970 || m < 1 || m > 12 ||
	    d < 1 || d > 31)
		return -1;
	memset(&tm, 0, sizeof(tm));
	tm.tm_year = y - 1900;
	tm.tm_mon = m - 1;
	tm.tm_mday = d;
	return timegm(&tm);
}

/* Build a query from the request. 0, or -1 with *why_r for the peer. */
static int
query_init(struct query *q, const struct msg_mb_query *in, const char **why_r)
{
	int bad = 0;

	memset(q, 0, sizeof(*q));
	q->unread = in->unread;
	q->offset = in->offset;
	q->limit = in->limit;
	q->since = q->before = -1;
	if (in->since != NULL && (q->since = parse_day(in->since)) == -1) {
		*why_r = "invalid date: since";
		return -1;
	}
	if (in->before != NULL && (q->before = parse_day(in->before)) == -1) {
		*why_r = "invalid date: before";
		return -1;
	}
	q->from = needle(in->from, &bad);
	q->to = needle(in->to, &bad);
	q->subject = needle(in->subject, &bad);
	q->body = needle(in->body, &bad);
	q->text = needle(in->text, &bad);
	if (bad) {
		query_clear(q);
		*why_r = "server error";
		return -1;
	}
	return 0;
}

static int
entry_has_flag(const struct mailbox_entry *e, char flag)
{
	return strchr(maildir_flags(e->file.name), flag) != NULL;
}

/* What the body must hold besides the headers' match. */
#define NEED_BODY 0x1 /* the body criterion */
#define NEED_TEXT 0x2 /* the text criterion, not met by the headers */

/* -1: no match; else the NEED_* the body must still meet (0: a match). */
static int
match_headers(struct scratch *sc, const struct query *q,
    const struct mailbox_entry *e)
{
	int need = 0;

	if (q->unread && entry_has_flag(e, 'S'))
		return -1;
	if (q->since != -1 && e->when < q->since)
		return -1;
	if (q->before != -1 && e->when >= q->before)
		return -1;
	if (q->from != NULL && !has(sc, e->from, q->from))
		return -1;
	if (q->to != NULL && !has(sc, e->to, q->to) && !has(sc, e->cc, q->to))
		return -1;
	if (q->subject != NULL && !has(sc, e->subject, q->subject))
		return -1;
	if (q->body != NULL)
		need |= NEED_BODY;
	if (q->text != NULL && !has(sc, e->from, q->text) &&
	    !has(sc, e->to, q->text) && !has(sc, e->cc, q->text) &&
	    !has(sc, e->subject, q->text))
		need |= NEED_TEXT;
	return need;
}

static json_t *
entry_json(const struct mailbox_entry *e, size_t number)
{
	char id[MAILDIR_ID_MAX];

	maildir_id(e->base, id);
	return json_pack("{s:I, s:s, s:s, s:s, s:s, s:s, s:s, s:I, s:b, s:b}",
	    "number", (json_int_t)number, "id", id, "from", e->from, "to",
	    e->to, "cc", e->cc, "subject", e->subject, "date", e->date, "size",
	    (json_int_t)e->file.size, "seen", entry_has_flag(e, 'S'), "flagged",
	    entry_has_flag(e, 'F'));
}

/*
 * Reply with a page of the matches: view positions in hits, newest first.
 * Numbers are positions in the view, which is the session's last list.
 */
static void
reply_page(struct conn *c, struct mailbox_view *v, const size_t *hits,
    size_t nhits, long long offset, long long limit)
{
	json_t *list, *item;
	size_t i, end;

	if ((list = json_array()) == NULL) {
		conn_reply_error(c, "server error");
		return;
	}
	end = nhits;
	if (limit > 0 &&
	    (unsigned long long)offset + (unsigned long long)limit < end)
		end = (size_t)(offset + limit);
	for (i = (size_t)offset; i < end; i++) {
		item = entry_json(v->entry[hits[i]], hits[i] + 1);
		if (item == NULL || json_array_append_new(list, item) == -1) {
			json_decref(list);
			conn_reply_error(c, "server error");
			return;
		}
	}
	conn_reply(c, PROTO_OK,
	    json_pack("{s:I, s:I, s:o}", "total", (json_int_t)nhits, "offset",
	        (json_int_t)offset, "messages", list));
}

/* The session's list, numbered as the seed's list numbers it, made the one
 * its choices refer to. NULL without memory. */
static struct mailbox_view *
fresh_view(struct session *s)
{
	struct mailbox_view *v;

	if ((v = mailbox_view(s->mailbox)) == NULL)
		return NULL;
	mailbox_view_release(s->view);
	s->view = v;
	return v;
}

/* --- list and search ---------------------------------------------------- */

struct search_job {
	struct conn *conn;
	struct mailbox *mb;        /* held: keeps the entries alive */
	struct mailbox_view *view; /* held */
	int datafd;
	char user[RULES_USERNAME_MAX + 1];
	char *body, *text; /* folded needles */
	long long offset, limit;
	size_t n;
	struct candidate {
		size_t pos; /* in view */
		int need;   /* NEED_*; 0: matched by headers */
		int match;
		struct maildir_file file;
	} * cand;
	int failed;
	int error;
};

static void
search_job_free(struct search_job *j)
{
	mailbox_view_release(j->view);
	mailbox_release(j->mb);
	free(j->body);
	free(j->text);
	free(j->cand);
	free(j);
}

/* Where the body of a stored message starts (after the blank line). */
static const char *
body_start(const char *buf, size_t len)
{
	const char *p = buf, *end = buf + len, *nl;

	while (p < end && (nl = memchr(p, '\n', (size_t)(end - p))) != NULL) {
		if (nl == p || (nl == p + 1 && *p == '\r'))
			return nl + 1;
		p = nl + 1;
	}
	return end;
}

static void
search_work(void *arg)
{
	struct search_job *j = arg;
	struct scratch sc = { NULL, 0 };
	struct candidate *k;
	const char *b;
	char *buf;
	size_t i, len;
	int md, r1, r2;

	if ((md = maildir_open(j->datafd, j->user)) == -1) {
		j->failed = 1;
		j->error = errno;
		return;
	}
	for (i = 0; i < j->n; i++) {
		k = &j->cand[i];
		if (k->need == 0) {
			k->match = 1;
			continue;
		}
		/* Gone meanwhile (deleted by another session): no match. */
		if ((buf = maildir_read(md, &k->file, 0, &len)) == NULL)
			continue;
		b = body_start(buf, len);
		len -= (size_t)(b - buf);
		r1 = (k->need & NEED_BODY) ? contains(&sc, b, len, j->body) : 1;
		r2 = (k->need & NEED_TEXT) ? contains(&sc, b, len, j->text) : 1;
		free(buf);
		if (r1 == -1 || r2 == -1) {
			j->failed = 1;
			j->error = ENOMEM;
			break;
		}
		k->match = r1 && r2;
	}
	free(sc.p);
	close(md);
}

static void
search_done(void *arg)
{
	struct search_job *j = arg;
	struct conn *c = j->conn;
	size_t *hits, nhits = 0, i;

	if (j->failed) {
		log_write(LOG_LEVEL_ERROR, conn_id(c), "search user=%s: %s",
		    j->user, strerror(j->error));
		conn_reply_error(c, "mailbox could not be searched");
	} else if ((hits = calloc(j->n ? j->n : 1, sizeof(*hits))) == NULL) {
		conn_reply_error(c, "server error");
	} else {
		for (i = 0; i < j->n; i++)
			if (j->cand[i].match &&
			    !j->view->entry[j->cand[i].pos]->gone)
				hits[nhits++] = j->cand[i].pos;
		reply_page(c, j->view, hits, nhits, j->offset, j->limit);
		free(hits);
	}
	conn_release(c);
	search_job_free(j);
}

/* List or search: headers here, bodies (if asked) on the store pool. */
static void
list_or_search(struct conn *c, const struct msg_mb_query *in)
{
	struct server *srv = conn_server(c);
	struct session *s = conn_session(c);
	struct scratch sc = { NULL, 0 };
	struct search_job *j = NULL;
	struct mailbox_view *v;
	struct query q;
	const char *why;
	size_t *hits = NULL, nhits = 0, nbody = 0, i;
	int need;

	if (query_init(&q, in, &why) == -1) {
		conn_reply_error(c, why);
		return;
	}
	if ((v = fresh_view(s)) == NULL ||
	    (hits = calloc(v->n ? v->n : 1, sizeof(*hits))) == NULL ||
	    (j = calloc(1, sizeof(*j))) == NULL ||
	    (j->cand = calloc(v->n ? v->n : 1, sizeof(*j->cand))) == NULL)
		goto fail;
	for (i = 0; i < v->n; i++) {
		if ((need = match_headers(&sc, &q, v->entry[i])) == -1)
			continue;
		hits[nhits++] = i;
		j->cand[j->n].pos = i;
		j->cand[j->n].need = need;
		j->cand[j->n].file = v->entry[i]->file;
		j->n++;
		if (need != 0)
			nbody++;
	}
	free(sc.p);
	sc.p = NULL;
	if (nbody == 0) {
		reply_page(c, v, hits, nhits, q.offset, q.limit);
		goto out;
	}
	j->conn = c;
	j->datafd = server_data_fd(srv);
	memcpy(j->user, s->user, sizeof(j->user));
	j->offset = q.offset;
	j->limit = q.limit;
	j->body = q.body;
	j->text = q.text;
	q.body = q.text = NULL;
	j->view = v;
	v->refs++;
	j->mb = mailbox_acquire(server_mailboxes(srv), s->user);
	conn_hold(c);
	if (pool_submit(server_store_pool(srv), search_work, search_done, j) ==
	    -1) {
		search_job_free(j);
		j = NULL;
		conn_release_error(c, "server busy, try again later");
		goto done;
	}
	j = NULL;
	goto done;
fail:
	log_write(LOG_LEVEL_ERROR, conn_id(c), "list: out of memory");
	conn_reply_error(c, "server error");
out:
	if (j != NULL) {
		free(j->cand);
		free(j);
	}
done:
	free(sc.p);
	free(hits);
	query_clear(&q);
}

/* --- read by id --------------------------------------------------------- */

struct read_job {
	struct conn *conn;
	struct mailbox *mb;          /* held */
	struct mailbox_entry *entry; /* held */
	int datafd;
	char user[RULES_USERNAME_MAX + 1];
	struct maildir_file file;
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

	char id[MAILDIR_ID_MAX];

	maildir_id(j->entry->base, id);
	if (j->failed && j->error == ENOENT) {
		/* Removed by another program: the index forgets it too. */
		mailbox_remove(j->mb, j->entry);
		conn_reply_error(c, NO_SUCH);
	} else if (j->failed) {
		log_write(LOG_LEVEL_ERROR, conn_id(c),
		    "read user=%s file=%s: %s", j->user, j->file.name,
		    strerror(j->error));
		conn_reply_error(c, "message could not be read");
	} else {
		mailbox_update_file(j->mb, j->entry, &j->file);
		conn_reply(c, PROTO_OK,
		    json_pack("{s:s, s:s, s:s, s:s, s:s, s:s, s:s, s:b, s:b}",
		        "sender", j->info.from, "destination", j->info.to,
		        "subject", j->info.subject, "date", j->info.date,
		        "content", j->info.body, "id", id, "cc", j->info.cc,
		        "seen", 1, "flagged",
		        strchr(maildir_flags(j->file.name), 'F') != NULL));
	}
	conn_release(c);
	mailbox_entry_release(j->entry);
	mailbox_release(j->mb);
	message_info_clear(&j->info);
	free(j);
}

static void
read_start(struct conn *c, const char *id)
{
	struct server *srv = conn_server(c);
	struct session *s = conn_session(c);
	struct mailbox_entry *e;
	struct read_job *j;

	if ((e = mailbox_get(s->mailbox, id)) == NULL) {
		conn_reply_error(c, NO_SUCH);
		return;
	}
	if ((j = calloc(1, sizeof(*j))) == NULL) {
		conn_reply_error(c, "server error");
		return;
	}
	j->conn = c;
	j->entry = e;
	mailbox_entry_hold(e);
	j->file = e->file;
	j->datafd = server_data_fd(srv);
	memcpy(j->user, s->user, sizeof(j->user));
	j->mb = mailbox_acquire(server_mailboxes(srv), s->user);
	conn_hold(c);
	if (pool_submit(server_store_pool(srv), read_work, read_done, j) ==
	    -1) {
		mailbox_entry_release(j->entry);
		mailbox_release(j->mb);
		free(j);
		conn_release_error(c, "server busy, try again later");
	}
}

/* --- delete and flags --------------------------------------------------- */

struct change_job {
	struct conn *conn;
	struct mailbox *mb; /* held */
	int datafd;
	char user[RULES_USERNAME_MAX + 1];
	int deleting;
	char add[4], remove[4]; /* Maildir flags */
	size_t n;
	struct change {
		struct mailbox_entry *entry; /* held */
		struct maildir_file file;
		int rc;
		int error;
	} * item;
	struct mailbox_stamp before, after; /* around the changes */
	int failed; /* the Maildir could not be opened */
	int error;
};

static void
change_job_free(struct change_job *j)
{
	size_t i;

	for (i = 0; i < j->n; i++)
		mailbox_entry_release(j->item[i].entry);
	mailbox_release(j->mb);
	free(j->item);
	free(j);
}

static void
change_work(void *arg)
{
	struct change_job *j = arg;
	struct change *it;
	size_t i;
	int md;

	if ((md = maildir_open(j->datafd, j->user)) == -1) {
		j->failed = 1;
		j->error = errno;
		return;
	}
	/* The looks around the changes let the index know they are ours,
	 * so the next request need not rescan a large mailbox. */
	if (mailbox_stamp_take(md, &j->before) == -1)
		j->before.valid = 0;
	for (i = 0; i < j->n; i++) {
		it = &j->item[i];
		it->rc = j->deleting ? maildir_delete(md, &it->file)
		                     : maildir_set_flags(md, &it->file, j->add,
		                           j->remove);
		it->error = it->rc == -1 ? errno : 0;
	}
	if (mailbox_stamp_take(md, &j->after) == -1)
		j->after.valid = 0;
	close(md);
}

static void
change_done(void *arg)
{
	struct change_job *j = arg;
	struct conn *c = j->conn;
	const char *what = j->deleting ? "delete" : "flags";
	size_t i, done = 0, gone = 0, failed = 0;
	struct change *it;

	for (i = 0; i < j->n && !j->failed; i++) {
		it = &j->item[i];
		if (it->rc == 0) {
			done++;
			if (j->deleting)
				mailbox_remove(j->mb, it->entry);
			else
				mailbox_update_file(j->mb, it->entry,
				    &it->file);
		} else if (it->error == ENOENT) {
			/* Gone from the store (another program, or another
			 * session's delete just before): no longer listed. */
			gone++;
			mailbox_remove(j->mb, it->entry);
		} else {
			failed++;
			log_write(LOG_LEVEL_ERROR, conn_id(c),
			    "%s user=%s file=%s: %s", what, j->user,
			    it->file.name, strerror(it->error));
		}
	}
	if (j->failed) {
		log_write(LOG_LEVEL_ERROR, conn_id(c), "%s user=%s: %s", what,
		    j->user, strerror(j->error));
		failed = j->n;
	} else if (done > 0 && mailbox_own_change(j->mb, &j->before, &j->after))
		mail_verify(conn_server(c), j->mb);
	log_write(LOG_LEVEL_INFO, conn_id(c),
	    "%s user=%s done=%zu gone=%zu "
	    "failed=%zu",
	    what, j->user, done, gone, failed);
	if (failed > 0)
		conn_reply_error(c, j->deleting ? "message could not be deleted"
		                                : "flags could not be changed");
	else if (j->deleting)
		conn_reply(c, PROTO_OK,
		    json_pack("{s:I}", "deleted", (json_int_t)(done + gone)));
	else if (gone > 0)
		conn_reply_error(c, NO_SUCH);
	else
		conn_reply(c, PROTO_OK,
		    json_pack("{s:I}", "changed", (json_int_t)done));
	conn_release(c);
	change_job_free(j);
}

static void
change_start(struct conn *c, const struct msg_mb_ids *ids, int deleting)
{
	struct server *srv = conn_server(c);
	struct session *s = conn_session(c);
	struct change_job *j;
	struct mailbox_entry *e;
	size_t i, k, n = json_array_size(ids->ids);

	if ((j = calloc(1, sizeof(*j))) == NULL ||
	    (j->item = calloc(n, sizeof(*j->item))) == NULL) {
		free(j);
		conn_reply_error(c, "server error");
		return;
	}
	/* Every id first: a request with one bad id changes nothing. */
	for (i = 0; i < n; i++) {
		e = mailbox_get(s->mailbox,
		    json_string_value(json_array_get(ids->ids, i)));
		if (e == NULL) {
			conn_reply_error(c, NO_SUCH);
			goto fail;
		}
		for (k = 0; k < j->n; k++) {
			if (j->item[k].entry == e) {
				conn_reply_error(c, "duplicate message id");
				goto fail;
			}
		}
		j->item[j->n].entry = e;
		mailbox_entry_hold(e);
		j->item[j->n].file = e->file;
		j->n++;
	}
	j->conn = c;
	j->deleting = deleting;
	snprintf(j->add, sizeof(j->add), "%s%s",
	    (ids->add & MSG_FLAG_FLAGGED) ? "F" : "",
	    (ids->add & MSG_FLAG_SEEN) ? "S" : "");
	snprintf(j->remove, sizeof(j->remove), "%s%s",
	    (ids->remove & MSG_FLAG_FLAGGED) ? "F" : "",
	    (ids->remove & MSG_FLAG_SEEN) ? "S" : "");
	j->datafd = server_data_fd(srv);
	memcpy(j->user, s->user, sizeof(j->user));
	j->mb = mailbox_acquire(server_mailboxes(srv), s->user);
	conn_hold(c);
	if (pool_submit(server_store_pool(srv), change_work, change_done, j) ==
	    -1) {
		change_job_free(j);
		conn_release_error(c, "server busy, try again later");
	}
	return;
fail:
	j->mb = NULL;
	change_job_free(j);
}

/* --- waiting for the index ---------------------------------------------- */

/*
 * Requests that name messages or list them first let the index catch up
 * with the Maildir (mail_sync), as the seed's requests do. The request's
 * fields are borrowed from its frame, freed once the handler returns, so a
 * copy waits in the session (freed with it if the connection goes).
 */
enum ext_kind { EXT_LIST, EXT_SEARCH, EXT_READ, EXT_DELETE, EXT_FLAGS };

struct ext_req {
	struct msg_mb_query query;
	struct msg_mb_ids ids;
	char *own[8];
};

static void
ext_req_free(void *arg)
{
	struct ext_req *r = arg;
	size_t i;

	for (i = 0; i < sizeof(r->own) / sizeof(r->own[0]); i++)
		free(r->own[i]);
	json_decref(r->ids.ids);
	free(r);
}

/* Copy s into r (NULL stays NULL). 0, or -1 without memory. */
static int
own(struct ext_req *r, size_t i, const char **s)
{
	if (*s == NULL)
		return 0;
	if ((r->own[i] = strdup(*s)) == NULL)
		return -1;
	*s = r->own[i];
	return 0;
}

static void
ext_ready(struct conn *c, struct mailbox *mb, const char *err, long long kind)
{
	struct session *s = conn_session(c);
	struct ext_req *r = s->pending;

	(void)mb;
	s->pending = NULL;
	if (r == NULL)
		conn_reply_error(c, "server error");
	else if (err != NULL)
		conn_reply_error(c, err);
	else if (kind == EXT_LIST || kind == EXT_SEARCH)
		list_or_search(c, &r->query);
	else if (kind == EXT_READ)
		read_start(c, r->ids.id);
	else
		change_start(c, &r->ids, kind == EXT_DELETE);
	if (r != NULL)
		ext_req_free(r);
}

static void
ext_defer(struct conn *c, const union msg_args *a, enum ext_kind kind)
{
	struct session *s = conn_session(c);
	struct ext_req *r;

	if ((r = calloc(1, sizeof(*r))) == NULL)
		goto fail;
	if (kind == EXT_LIST || kind == EXT_SEARCH) {
		r->query = a->query;
		if (own(r, 0, &r->query.from) == -1 ||
		    own(r, 1, &r->query.to) == -1 ||
		    own(r, 2, &r->query.subject) == -1 ||
		    own(r, 3, &r->query.body) == -1 ||
		    own(r, 4, &r->query.text) == -1 ||
		    own(r, 5, &r->query.since) == -1 ||
		    own(r, 6, &r->query.before) == -1)
			goto fail;
	} else {
		r->ids = a->ids;
		if (r->ids.ids != NULL)
			json_incref(r->ids.ids);
		if (own(r, 7, &r->ids.id) == -1)
			goto fail;
	}
	if (s->pending != NULL)
		s->pending_free(s->pending);
	s->pending = r;
	s->pending_free = ext_req_free;
	mail_sync(c, s->mailbox, ext_ready, kind);
	return;
fail:
	if (r != NULL)
		ext_req_free(r);
	conn_reply_error(c, "server error");
}

void
h_mailbox_list(struct conn *c, const union msg_args *args)
{
	/* A list's shape has unread, offset and limit only: the search
	 * fields stay NULL. */
	ext_defer(c, args, EXT_LIST);
}

void
h_mailbox_search(struct conn *c, const union msg_args *args)
{
	ext_defer(c, args, EXT_SEARCH);
}

void
h_mailbox_read(struct conn *c, const union msg_args *args)
{
	ext_defer(c, args, EXT_READ);
}

void
h_mailbox_delete(struct conn *c, const union msg_args *args)
{
	ext_defer(c, args, EXT_DELETE);
}

void
h_mailbox_flags(struct conn *c, const union msg_args *args)
{
	ext_defer(c, args, EXT_FLAGS);
}

/* --- password change ---------------------------------------------------- */

struct passwd_job {
	struct conn *conn;
	int datafd;
	char user[RULES_USERNAME_MAX + 1];
	char *current, *password;
	enum users_result result;
	const char *step;
	int error;
};

static char *
secret_dup(const char *s)
{
	char *d;

	if ((d = sodium_malloc(strlen(s) + 1)) != NULL)
		memcpy(d, s, strlen(s) + 1);
	return d;
}

static void
passwd_job_free(struct passwd_job *j)
{
	if (j->current != NULL)
		sodium_free(j->current);
	if (j->password != NULL)
		sodium_free(j->password);
	free(j);
}

static void
passwd_work(void *arg)
{
	struct passwd_job *j = arg;

	j->result = users_change_password(j->datafd, j->user, j->current,
	    j->password, &j->step);
	j->error = errno;
}

static void
passwd_done(void *arg)
{
	struct passwd_job *j = arg;
	struct conn *c = j->conn;

	switch (j->result) {
	case USERS_OK:
		log_write(LOG_LEVEL_INFO, conn_id(c),
		    "password changed "
		    "user=%s",
		    j->user);
		conn_reply(c, PROTO_OK, NULL);
		break;
	case USERS_DENIED:
		log_write(LOG_LEVEL_INFO, conn_id(c),
		    "password change refused "
		    "user=%s: wrong current password",
		    j->user);
		conn_reply_error(c, "wrong current password");
		break;
	default:
		log_write(LOG_LEVEL_ERROR, conn_id(c),
		    "password change "
		    "user=%s failed at %s: %s",
		    j->user, j->step != NULL ? j->step : "?",
		    strerror(j->error));
		conn_reply_error(c, "password could not be changed");
		break;
	}
	conn_release(c);
	passwd_job_free(j);
}

void
h_password_change(struct conn *c, const union msg_args *args)
{
	const struct msg_passwords *p = &args->passwords;
	struct server *srv = conn_server(c);
	struct session *s = conn_session(c);
	struct passwd_job *j;
	const char *why;

	if (strlen(p->password) > RULES_PASSWORD_MAX) {
		conn_reply_error(c, "wrong current password");
		return;
	}
	/* The registration's rule, checked before any hashing. */
	if (rules_password(p->new_password, &why) == -1) {
		conn_reply_error(c, why);
		return;
	}
	if ((j = calloc(1, sizeof(*j))) == NULL ||
	    (j->current = secret_dup(p->password)) == NULL ||
	    (j->password = secret_dup(p->new_password)) == NULL) {
		if (j != NULL)
			passwd_job_free(j);
		conn_reply_error(c, "server error");
		return;
	}
	j->conn = c;
	j->datafd = server_data_fd(srv);
	memcpy(j->user, s->user, sizeof(j->user));
	conn_hold(c);
	if (pool_submit(server_auth_pool(srv), passwd_work, passwd_done, j) ==
	    -1) {
		passwd_job_free(j);
		conn_release_error(c, "server busy, try again later");
	}
}

/* --- notices ------------------------------------------------------------ */

/*
 * Subscribed once the index holds what is in the Maildir now: what arrives
 * from then on is announced, whoever delivers it (our own deliveries, and
 * through the watch of new/, other processes').
 */
static void
notices_ready(struct conn *c, struct mailbox *mb, const char *err,
    long long arg)
{
	struct session *s = conn_session(c);

	(void)arg;
	if (err != NULL) {
		if (s->notices != NULL)
			mailbox_unsubscribe(mb, s->notices);
		s->notices = NULL;
		conn_reply_error(c, err);
		return;
	}
	conn_reply(c, PROTO_OK, NULL);
}

void
h_notices_on(struct conn *c, const union msg_args *args)
{
	struct session *s = conn_session(c);

	(void)args;
	if (s->notices == NULL) {
		if (mailbox_subscribe(s->mailbox, c) == -1 ||
		    mail_watch(conn_server(c), s->mailbox) == -1) {
			mailbox_unsubscribe(s->mailbox, c);
			conn_reply_error(c, "server error");
			return;
		}
		s->notices = c;
	}
	mail_sync(c, s->mailbox, notices_ready, 0);
}

void
h_notices_off(struct conn *c, const union msg_args *args)
{
	struct session *s = conn_session(c);

	(void)args;
	if (s->notices != NULL)
		mailbox_unsubscribe(s->mailbox, s->notices);
	s->notices = NULL;
	conn_reply(c, PROTO_OK, NULL);
}

/* The notice about one message, to every subscriber; once per message. */
static void
notice_send(struct mailbox *mb, const char *id, const char *from,
    const char *subject)
{
	struct conn *const *subs;
	struct mailbox_entry *e;
	unsigned char *frame;
	size_t n, i, len, dropped = 0;

	subs = mailbox_subscribers(mb, &n);
	if (n == 0)
		return;
	if ((e = mailbox_get(mb, id)) != NULL) {
		if (e->noticed)
			return;
		e->noticed = 1;
	}
	if (msg_encode(PROTO_NEW_MAIL,
	        json_pack("{s:s, s:s, s:s}", "id", id, "sender", from,
	            "subject", subject),
	        FRAME_MAX_LIMIT, &frame, &len) == -1) {
		log_error("cannot encode a new-mail notice");
		return;
	}
	for (i = 0; i < n; i++)
		if (conn_notice(subs[i], frame, len) == -1)
			dropped++;
	if (dropped > 0)
		log_write(LOG_LEVEL_INFO, 0,
		    "new-mail notices dropped=%zu of "
		    "%zu",
		    dropped, n);
	free(frame);
}

void
mail_ext_delivered(struct mailbox *mb, const struct maildir_file *file,
    const struct message_info *info)
{
	char id[MAILDIR_ID_MAX];

	maildir_id(file->name, id);
	notice_send(mb, id, info->from, info->subject);
}

void
mail_ext_arrived(struct mailbox *mb, struct mailbox_entry *e)
{
	char id[MAILDIR_ID_MAX];

	maildir_id(e->file.name, id);
	notice_send(mb, id, e->from != NULL ? e->from : "",
	    e->subject != NULL ? e->subject : "");
}
