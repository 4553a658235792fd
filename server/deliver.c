/*
 * deliver.c - the delivery rules (see deliver.h): what happens to one
 * message for each account it is addressed to, and the messages the rules
 * write on their own (notices, quota warnings, vacation replies). Those are
 * stored straight into the account they are for, never passed through the
 * rules again: a notice never causes a notice, a reply never a reply.
 */
#include <sys/file.h>
#include <sys/stat.h>

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <unistd.h>

#include <jansson.h>
#include <sodium.h>

#include "deliver.h"
#include "log.h"
#include "rules.h"
#include "syncgroup.h"
#include "users.h"

#define QUOTA_FILE "quota"
#define WARNED_FILE "quota-warned"
#define VACATION_FILE "vacation"
#define VACATION_SENT_FILE "vacation-sent"
/* A state file larger than this is not read (it is not ours). */
#define STATE_MAX (1024 * 1024)

struct deliver {
	char *domain;
	aliases_name postmaster;
	size_t quota;
	char *sender; /* NULL: not a local account */
	char *subject, *date, *message_id;
	int auto_submitted;
	int all_or_none, notify_full;
	int full_in_notice; /* notify_full, and the message went somewhere */
	struct deliver_rcpt *rcpt;
	size_t nrcpt;
	struct deliver_stored *stored;
	size_t nstored;
	/* Per name given: the rcpt indices it went to, in map[off..off+n). */
	struct {
		size_t off, n;
	} * names;
	size_t nnames;
	size_t *map;
	size_t nmap;
	const void *data; /* during deliver_run */
	size_t len;
	time_t now;
	int datafd; /* during deliver_run */
};

size_t
deliver_nrcpt(const struct deliver *d)
{
	return d->nrcpt;
}

const struct deliver_rcpt *
deliver_rcpt(const struct deliver *d, size_t i)
{
	return i < d->nrcpt ? &d->rcpt[i] : NULL;
}

size_t
deliver_nstored(const struct deliver *d)
{
	return d->nstored;
}

const struct deliver_stored *
deliver_stored(const struct deliver *d, size_t i)
{
	return i < d->nstored ? &d->stored[i] : NULL;
}

int
deliver_name_status(const struct deliver *d, size_t i)
{
	size_t k, stored = 0, lost = 0, full = 0, failed = 0;

	if (i >= d->nnames || d->names[i].n == 0)
		return -1;
	for (k = 0; k < d->names[i].n; k++)
		switch (d->rcpt[d->map[d->names[i].off + k]].status) {
		case DELIVER_STORED:
			stored++;
			break;
		case DELIVER_LOST:
			lost++;
			break;
		case DELIVER_FULL:
			full++;
			break;
		case DELIVER_FAILED:
			failed++;
			break;
		}
	/* As EMAIL_SENDING's one reply: a failure of the system first. */
	return failed   ? DELIVER_FAILED
	       : stored ? DELIVER_STORED
	       : full   ? DELIVER_FULL
	                : DELIVER_LOST;
}

void
deliver_free(struct deliver *d)
{
	size_t i;

	if (d == NULL)
		return;
	for (i = 0; i < d->nstored; i++)
		message_info_clear(&d->stored[i].info);
	free(d->stored);
	free(d->names);
	free(d->map);
	free(d->rcpt);
	free(d->domain);
	free(d->sender);
	free(d->subject);
	free(d->date);
	free(d->message_id);
	free(d);
}

static char *
dup_or_empty(const char *s)
{
	return strdup(s != NULL ? s : "");
}

struct deliver *
deliver_new(const struct deliver_params *p, const struct aliases *al,
    const struct deliver_msg *m, const char *const *names, size_t n, size_t max,
    const char **why_r)
{
	struct deliver *d;
	aliases_name *acct = NULL;
	size_t i, j, k;
	int got;

	*why_r = "server error";
	if ((d = calloc(1, sizeof(*d))) == NULL)
		return NULL;
	d->quota = p->quota;
	snprintf(d->postmaster, sizeof(d->postmaster), "%s", p->postmaster);
	d->auto_submitted = m->auto_submitted;
	d->all_or_none = m->all_or_none;
	d->notify_full = m->notify_full;
	if ((d->domain = strdup(p->domain)) == NULL ||
	    (m->sender != NULL && (d->sender = strdup(m->sender)) == NULL) ||
	    (d->subject = dup_or_empty(m->subject)) == NULL ||
	    (d->date = dup_or_empty(m->date)) == NULL ||
	    (d->message_id = dup_or_empty(m->message_id)) == NULL ||
	    (acct = calloc(max + 1, sizeof(*acct))) == NULL ||
	    (d->rcpt = calloc(max + 1, sizeof(*d->rcpt))) == NULL ||
	    (d->names = calloc(n + 1, sizeof(*d->names))) == NULL)
		goto fail;
	for (i = 0; i < n; i++) {
		size_t *grown;

		if ((got = aliases_expand(al, names[i], d->postmaster, acct,
		         max + 1)) == -1 ||
		    d->nrcpt + (size_t)got > max) {
			*why_r = "too many recipients";
			goto fail;
		}
		if ((grown = reallocarray(d->map, d->nmap + (size_t)got + 1,
		         sizeof(*grown))) == NULL) {
			*why_r = "server error";
			goto fail;
		}
		d->map = grown;
		d->names[i].off = d->nmap;
		d->names[i].n = (size_t)got;
		d->nnames = i + 1;
		for (j = 0; j < (size_t)got; j++) {
			/* Each account once, even through two groups. */
			for (k = 0; k < d->nrcpt; k++)
				if (strcmp(d->rcpt[k].account, acct[j]) == 0)
					break;
			d->map[d->nmap++] = k;
			if (k < d->nrcpt) {
				d->rcpt[k].direct |= strcmp(acct[j],
				                         names[i]) == 0;
				continue;
			}
			snprintf(d->rcpt[k].name, sizeof(d->rcpt[k].name), "%s",
			    names[i]);
			snprintf(d->rcpt[k].account, sizeof(d->rcpt[k].account),
			    "%s", acct[j]);
			d->rcpt[k].direct = strcmp(acct[j], names[i]) == 0;
			d->nrcpt++;
		}
	}
	free(acct);
	return d;
fail:
	free(acct);
	deliver_free(d);
	return NULL;
}

int
deliver_set_msg(struct deliver *d, const struct deliver_msg *m)
{
	char *sender = NULL, *subject, *date, *msgid;

	subject = dup_or_empty(m->subject);
	date = dup_or_empty(m->date);
	msgid = dup_or_empty(m->message_id);
	if (m->sender != NULL)
		sender = strdup(m->sender);
	if (subject == NULL || date == NULL || msgid == NULL ||
	    (m->sender != NULL && sender == NULL)) {
		free(subject);
		free(date);
		free(msgid);
		free(sender);
		return -1;
	}
	free(d->sender);
	free(d->subject);
	free(d->date);
	free(d->message_id);
	d->sender = sender;
	d->subject = subject;
	d->date = date;
	d->message_id = msgid;
	d->auto_submitted = m->auto_submitted;
	return 0;
}

/* Read a small file of dirfd into a NUL-terminated buffer; NULL: none. */
static char *
state_read(int dirfd, const char *name, size_t *len_r)
{
	char *buf = NULL;
	size_t got = 0;
	ssize_t r;
	int fd;

	if ((fd = openat(dirfd, name, O_RDONLY | O_NOFOLLOW | O_CLOEXEC)) == -1)
		return NULL;
	if ((buf = malloc(STATE_MAX + 1)) == NULL)
		goto fail;
	while (got < STATE_MAX) {
		if ((r = read(fd, buf + got, STATE_MAX - got)) == -1) {
			if (errno == EINTR)
				continue;
			goto fail;
		}
		if (r == 0)
			break;
		got += (size_t)r;
	}
	close(fd);
	buf[got] = '\0';
	if (len_r != NULL)
		*len_r = got;
	return buf;
fail:
	free(buf);
	close(fd);
	return NULL;
}

/*
 * Replace dirfd/name with data durably: a temporary file written, synced
 * and renamed over it, then the directory synced.
 */
static int
state_write(int dirfd, const char *name, const void *data, size_t len)
{
	char tmp[64];
	size_t off = 0;
	ssize_t w;
	int fd, saved;

	snprintf(tmp, sizeof(tmp), ".%s.tmp", name);
	if ((fd = openat(dirfd, tmp,
	         O_WRONLY | O_CREAT | O_TRUNC | O_NOFOLLOW | O_CLOEXEC,
	         0600)) == -1)
		return -1;
	while (off < len) {
		if ((w = write(fd, (const char *)data + off, len - off)) ==
		    -1) {
			if (errno == EINTR)
				continue;
			goto fail;
		}
		off += (size_t)w;
	}
	if (fsync(fd) == -1)
		goto fail;
	if (close(fd) == -1) {
		fd = -1;
		goto fail;
	}
	fd = -1;
	if (renameat(dirfd, tmp, dirfd, name) == -1 || fsync(dirfd) == -1)
		goto fail;
	return 0;
fail:
	saved = errno;
	if (fd != -1)
		close(fd);
	unlinkat(dirfd, tmp, 0);
	errno = saved;
	return -1;
}

/* Remove dirfd/name durably (absent is fine). */
static int
state_remove(int dirfd, const char *name)
{
	if (unlinkat(dirfd, name, 0) == -1)
		return errno == ENOENT ? 0 : -1;
	return fsync(dirfd);
}

/* A decimal count in a state file; -1 when absent or not one. */
static long long
state_number(int dirfd, const char *name)
{
	char *s, *end;
	long long v;

	if ((s = state_read(dirfd, name, NULL)) == NULL)
		return -1;
	errno = 0;
	v = strtoll(s, &end, 10);
	while (*end == '\n' || *end == ' ')
		end++;
	if (errno != 0 || end == s || *end != '\0' || v < 0)
		v = -1;
	free(s);
	return v;
}

/* Bytes in md's new/ and cur/. */
static int
usage_of(int md, unsigned long long *used_r)
{
	struct maildir_file *files;
	size_t n, i;

	if (maildir_list(md, &files, &n) == -1)
		return -1;
	*used_r = 0;
	for (i = 0; i < n; i++)
		*used_r += (unsigned long long)files[i].size;
	free(files);
	return 0;
}

/*
 * The account's limit: its quota file, else the default. The one place a
 * quota is read, so an administration tool's setter only has to write
 * that file (replaced whole by a rename) for the next delivery to see it.
 */
static unsigned long long
limit_of(int md, size_t def)
{
	long long v = state_number(md, QUOTA_FILE);

	return v >= 0 ? (unsigned long long)v : (unsigned long long)def;
}

int
deliver_usage(int datafd, const char *account, size_t default_limit,
    unsigned long long *used_r, unsigned long long *limit_r)
{
	int md, rc;

	if ((md = maildir_open(datafd, account)) == -1)
		return -1;
	rc = usage_of(md, used_r);
	*limit_r = limit_of(md, default_limit);
	close(md);
	return rc;
}

/* Remember a stored file for the caller's index. */
static void
note_stored(struct deliver *d, const char *account, const char *name,
    const void *data, size_t len)
{
	struct deliver_stored *s, *v;

	if ((v = reallocarray(d->stored, d->nstored + 1, sizeof(*v))) == NULL)
		return; /* the next scan indexes it */
	d->stored = v;
	s = &v[d->nstored++];
	memset(s, 0, sizeof(*s));
	snprintf(s->account, sizeof(s->account), "%s", account);
	snprintf(s->file.name, sizeof(s->file.name), "%s", name);
	s->file.size = (off_t)len;
	maildir_order(s->file.name, s->file.order);
	s->indexable = message_parse(data, len, 0, &s->info) == 0;
}

/* Store data in the Maildir md of account; 0 or -1 (logged). */
static int
store(struct deliver *d, int md, const char *account, const void *data,
    size_t len, const char **step_r, int *error_r)
{
	char name[MAILDIR_NAME_MAX];

	if (maildir_deliver(md, data, len, name, step_r) == -1) {
		*error_r = errno;
		return -1;
	}
	note_stored(d, account, name, data, len);
	return 0;
}

/* A fresh Message-ID at the domain. */
static void
new_message_id(const struct deliver *d, char *buf, size_t len)
{
	unsigned char rnd[8];
	char hex[sizeof(rnd) * 2 + 1];

	randombytes_buf(rnd, sizeof(rnd));
	sodium_bin2hex(hex, sizeof(hex), rnd, sizeof(rnd));
	snprintf(buf, len, "<%lld.%s@%s>", (long long)d->now, hex, d->domain);
}

/* Cut s to at most max bytes on a UTF-8 boundary (in place). */
static void
cut_utf8(char *s, size_t max)
{
	size_t n = strlen(s);

	if (n <= max)
		return;
	while (max > 0 && ((unsigned char)s[max] & 0xc0) == 0x80)
		max--;
	s[max] = '\0';
}

/*
 * Write a message of the server's own (from local part from_user) into
 * account's Maildir, best effort: a failure is logged, never reported to
 * whoever sent the original. Own messages take no lock and no quota: they
 * are small, and the warning about a full mailbox must arrive.
 */
static void
store_own(struct deliver *d, const char *account, const char *from_user,
    const char *subject, const char *body, const char *content_type,
    const char *auto_submitted, const char *in_reply_to)
{
	char from[RULES_USERNAME_MAX + 300], to[RULES_USERNAME_MAX + 300];
	char date[RULES_DATE_LEN], msgid[320], subj[RULES_SUBJECT_MAX + 1];
	struct message_head h = { 0 };
	const char *step = "build";
	char *data;
	size_t len = 0;
	int md = -1, err = ENOMEM;

	snprintf(from, sizeof(from), "%s@%s", from_user, d->domain);
	snprintf(to, sizeof(to), "%s@%s", account, d->domain);
	snprintf(subj, sizeof(subj), "%s", subject);
	cut_utf8(subj, RULES_SUBJECT_MAX);
	rules_date(d->now, date);
	new_message_id(d, msgid, sizeof(msgid));
	h.from = from;
	h.to = to;
	h.subject = subj;
	h.date = date;
	h.message_id = msgid;
	h.content_type = content_type;
	h.auto_submitted = auto_submitted;
	if (in_reply_to != NULL && message_id_valid(in_reply_to, 0) == 0)
		h.in_reply_to = h.references = in_reply_to;
	if ((data = message_build_head(&h, body, &len)) == NULL)
		goto fail;
	step = "open";
	if ((md = maildir_open(d->datafd, account)) == -1) {
		err = errno;
		goto fail;
	}
	if (store(d, md, account, data, len, &step, &err) == -1)
		goto fail;
	log_info("%s wrote %s to=%s", from_user,
	    auto_submitted != NULL &&
	            strcmp(auto_submitted, "auto-replied") == 0
	        ? "a reply"
	        : "a notice",
	    account);
	close(md);
	free(data);
	return;
fail:
	log_error("cannot write a message from %s to %s at %s: %s", from_user,
	    account, step, strerror(err));
	if (md != -1)
		close(md);
	free(data);
}

/* The header block of data (up to the blank line), bounded. */
static size_t
header_len(const char *data, size_t len)
{
	size_t i;

	for (i = 0; i + 1 < len; i++)
		if (data[i] == '\n' && data[i + 1] == '\n')
			return i + 1;
	return len;
}

/*
 * The non-delivery notice (RFC 3464 multipart/report) to the local
 * sender, naming every unknown recipient, the subject and the date.
 */
/* Whether r goes in the notice to the sender. */
static int
noticed(const struct deliver *d, const struct deliver_rcpt *r)
{
	return r->status == DELIVER_LOST ||
	       (d->full_in_notice && r->status == DELIVER_FULL);
}

static void
notify_lost(struct deliver *d)
{
	char boundary[64], subj[RULES_SUBJECT_MAX + 64];
	char *body = NULL, *list = NULL, *status = NULL, *p;
	size_t i, hl;
	FILE *f;
	size_t blen = 0, llen = 0, slen = 0;
	unsigned char rnd[8];
	char hex[sizeof(rnd) * 2 + 1];
	int lost = 0;

	if (d->sender == NULL || d->auto_submitted)
		return;
	/* Refused for all, the sender hears it from the refusal itself. */
	for (i = 0; d->notify_full && i < d->nrcpt; i++)
		if (d->rcpt[i].status == DELIVER_STORED ||
		    d->rcpt[i].status == DELIVER_LOST)
			d->full_in_notice = 1;
	for (i = 0; i < d->nrcpt; i++)
		if (noticed(d, &d->rcpt[i]))
			break;
	if (i == d->nrcpt)
		return;
	for (i = 0; i < d->nrcpt; i++)
		lost |= d->rcpt[i].status == DELIVER_LOST;
	if ((f = open_memstream(&list, &llen)) == NULL)
		return;
	for (i = 0; i < d->nrcpt; i++)
		if (noticed(d, &d->rcpt[i]))
			fprintf(f, "  %s@%s: %s\n", d->rcpt[i].account,
			    d->domain,
			    d->rcpt[i].status == DELIVER_LOST
			        ? "no such user"
			        : DELIVER_QUOTA_FULL);
	if (fclose(f) != 0)
		goto out;
	if ((f = open_memstream(&status, &slen)) == NULL)
		goto out;
	for (i = 0; i < d->nrcpt; i++)
		if (d->rcpt[i].status == DELIVER_LOST)
			fprintf(f,
			    "\nFinal-Recipient: rfc822; %s@%s\n"
			    "Action: failed\nStatus: 5.1.1\n"
			    "Diagnostic-Code: smtp; 550 5.1.1 no such user\n",
			    d->rcpt[i].account, d->domain);
		else if (noticed(d, &d->rcpt[i]))
			fprintf(f,
			    "\nFinal-Recipient: rfc822; %s@%s\n"
			    "Action: failed\nStatus: 5.2.2\n"
			    "Diagnostic-Code: smtp; 552 5.2.2 mailbox full\n",
			    d->rcpt[i].account, d->domain);
	if (fclose(f) != 0)
		goto out;
	randombytes_buf(rnd, sizeof(rnd));
	sodium_bin2hex(hex, sizeof(hex), rnd, sizeof(rnd));
	snprintf(boundary, sizeof(boundary), "=_glomail_%s", hex);
	hl = header_len(d->data, d->len);
	if ((f = open_memstream(&body, &blen)) == NULL)
		goto out;
	fprintf(f,
	    "This is a delivery status notification.\n\n"
	    "--%s\nContent-Type: text/plain; charset=utf-8\n\n"
	    "Your message could not be delivered to:\n%s\n"
	    "  Subject: %s\n  Date: %s\n\n"
	    "%s\n\n"
	    "--%s\nContent-Type: message/delivery-status\n\n"
	    "Reporting-MTA: dns; %s\nArrival-Date: %s\n%s\n"
	    "--%s\nContent-Type: text/rfc822-headers\n\n",
	    boundary, list, d->subject, d->date,
	    lost ? "It was kept by the server as undeliverable."
	         : "Nothing was stored for them.",
	    boundary, d->domain, d->date, status, boundary);
	fwrite(d->data, 1, hl, f);
	fprintf(f, "\n--%s--\n", boundary);
	if (fclose(f) != 0)
		goto out;
	/* A NUL in what was sent would cut the notice: it has none, the
	 * send path checked, but the headers are bounded anyway. */
	if ((p = memchr(body, '\0', blen)) != NULL)
		*p = '\0';
	snprintf(subj, sizeof(subj), "Undelivered mail: %s", d->subject);
	{
		char ct[128];

		snprintf(ct, sizeof(ct),
		    "multipart/report; "
		    "report-type=delivery-status; boundary=\"%s\"",
		    boundary);
		store_own(d, d->sender, "MAILER-DAEMON", subj, body, ct,
		    "auto-replied", d->message_id);
	}
out:
	free(body);
	free(list);
	free(status);
}

/*
 * After a store into md (locked): warn the owner from postmaster when
 * the usage crossed 80 % or 95 % of the limit since the last warning; a
 * usage back under a threshold arms it again.
 */
static void
quota_warn(struct deliver *d, int md, const char *account,
    unsigned long long used, unsigned long long limit)
{
	long long warned = state_number(md, WARNED_FILE);
	int level;
	char subj[128], body[512], num[16];

	if (limit == 0)
		return;
	level = used * 100 >= limit * 95   ? 95
	        : used * 100 >= limit * 80 ? 80
	                                   : 0;
	if (warned < 0)
		warned = 0;
	if (level == warned)
		return;
	if (level > warned) {
		snprintf(subj, sizeof(subj), "Your mailbox is %d %% full",
		    level);
		snprintf(body, sizeof(body),
		    "Your mailbox holds %llu bytes of "
		    "the %llu it may hold (%d %% or more).\nMail that would "
		    "not fit is refused. Delete messages you no longer need.\n",
		    used, limit, level);
		store_own(d, account, ALIASES_POSTMASTER, subj, body, NULL,
		    "auto-generated", NULL);
	}
	snprintf(num, sizeof(num), "%d\n", level);
	if ((level == 0 ? state_remove(md, WARNED_FILE)
	                : state_write(md, WARNED_FILE, num, strlen(num))) == -1)
		log_error("cannot record the quota warning of %s: %s", account,
		    strerror(errno));
}

/*
 * Whether sender had a vacation reply from md's owner in the last
 * interval; if not, record one now (rewriting the file without the
 * entries that expired). 1: send, 0: not, -1: cannot tell (do not send).
 */
static int
vacation_due(struct deliver *d, int md, const char *sender)
{
	char *old, *line, *next, *out = NULL, acct[RULES_USERNAME_MAX + 1];
	size_t olen = 0;
	long long when;
	FILE *f;
	int due = 1, rc = -1;

	old = state_read(md, VACATION_SENT_FILE, &olen);
	if ((f = open_memstream(&out, &olen)) == NULL)
		goto out;
	for (line = old; line != NULL && *line != '\0'; line = next) {
		if ((next = strchr(line, '\n')) != NULL)
			*next++ = '\0';
		if (sscanf(line, "%lld %64s", &when, acct) != 2 ||
		    when + DELIVER_VACATION_INTERVAL <= (long long)d->now)
			continue;
		if (strcmp(acct, sender) == 0)
			due = 0;
		fprintf(f, "%lld %s\n", when, acct);
	}
	if (due)
		fprintf(f, "%lld %s\n", (long long)d->now, sender);
	if (fclose(f) != 0)
		goto out;
	rc = due;
	if (due && state_write(md, VACATION_SENT_FILE, out, olen) == -1) {
		log_error("cannot record a vacation reply: %s",
		    strerror(errno));
		rc = -1;
	}
out:
	free(old);
	free(out);
	return rc;
}

/* The automatic reply of md's owner to the sender, if it is due. */
static void
vacation_reply(struct deliver *d, int md, const struct deliver_rcpt *r)
{
	json_t *v = NULL;
	json_error_t jerr;
	const char *subject, *text;
	json_int_t until = 0;
	char *buf;
	size_t len;

	if (d->sender == NULL || d->auto_submitted || !r->direct ||
	    strcmp(d->sender, r->account) == 0 ||
	    strcmp(d->sender, ALIASES_POSTMASTER) == 0 ||
	    strcmp(d->sender, ALIASES_MAILER_DAEMON) == 0)
		return;
	if ((buf = state_read(md, VACATION_FILE, &len)) == NULL)
		return;
	v = json_loadb(buf, len, JSON_REJECT_DUPLICATES, &jerr);
	free(buf);
	if (v == NULL || json_unpack(v, "{s:s, s:s, s?I}", "subject", &subject,
	                     "text", &text, "until", &until) == -1) {
		log_warn("vacation of %s: unreadable, ignored", r->account);
		goto out;
	}
	if (until != 0 && (long long)until <= (long long)d->now)
		goto out;
	if (vacation_due(d, md, d->sender) != 1)
		goto out;
	store_own(d, d->sender, r->account, subject, text, NULL, "auto-replied",
	    d->message_id);
out:
	json_decref(v);
}

/* Where one recipient's copy is while deliver_run works. */
struct slot {
	int md;                      /* its Maildir (LOST's for LOST) */
	char name[MAILDIR_NAME_MAX]; /* placed under this name in new/ */
	int placed;                  /* in new/, not yet durable */
	unsigned long long used;     /* usage before it, under the lock */
	unsigned long long limit;
};

static void
rcpt_fail(struct deliver_rcpt *r, const char *step, int error)
{
	r->status = DELIVER_FAILED;
	r->step = step;
	r->error = error != 0 ? error : EIO;
}

static int
lock_md(int md)
{
	while (flock(md, LOCK_EX) == -1)
		if (errno != EINTR)
			return -1;
	return 0;
}

/*
 * One account: under its lock, the quota, then its link to the staged
 * file, renamed into new/ (so the next delivery's usage counts it). The
 * fsync of new/ comes later, unlocked, for every recipient at once.
 */
static void
place_one(struct deliver *d, struct deliver_rcpt *r, struct slot *sl,
    struct maildir_stage *st, int final)
{
	if (lock_md(sl->md) == -1) {
		rcpt_fail(r, "lock", errno);
		return;
	}
	sl->limit = limit_of(sl->md, d->quota);
	if (sl->limit != 0) {
		if (usage_of(sl->md, &sl->used) == -1) {
			rcpt_fail(r, "usage", errno);
			goto out;
		}
		if (sl->used + d->len > sl->limit) {
			r->status = DELIVER_FULL;
			goto out;
		}
	}
	if (maildir_stage_place(st, sl->md, final, sl->name, &r->step) == -1) {
		rcpt_fail(r, r->step, errno);
		goto out;
	}
	sl->placed = 1;
out:
	flock(sl->md, LOCK_UN);
}

/* Withdraw a copy that is in new/ (an all-or-none delivery failed). */
static void
withdraw(struct slot *sl)
{
	int nf;

	if ((nf = maildir_open(sl->md, "new")) == -1)
		return;
	if (unlinkat(nf, sl->name, 0) == 0)
		(void)syncgroup_fsync(nf);
	close(nf);
}

/*
 * The one write: the message is staged once (in the first recipient's
 * tmp/, or LOST's), each account that passes its rules gets a hard link
 * renamed into its new/, the staging account last (its file is renamed,
 * not linked), then every new/ is fsync'd at once through the sync group.
 * Only then is anything reported stored.
 */
static void
store_all(struct deliver *d, struct slot *sl, struct slot *lost)
{
	struct maildir_stage *st = NULL;
	const char *step = "stage";
	size_t i, owner = d->nrcpt, k, nplaced = 0;
	int *mds = NULL, *errs = NULL, lost_owner = 0;
	char(*names)[MAILDIR_NAME_MAX] = NULL;
	struct slot **which = NULL;
	int any_lost = lost->md != -1;

	for (i = 0; i < d->nrcpt; i++)
		if (d->rcpt[i].status == DELIVER_STORED && sl[i].md != -1) {
			owner = i;
			break;
		}
	if (owner == d->nrcpt && !any_lost)
		return;
	lost_owner = owner == d->nrcpt;
	if ((st = maildir_stage(lost_owner ? lost->md : sl[owner].md, d->data,
	         d->len, &step)) == NULL) {
		/* A write that fails (a full disk) fails for all. */
		int err = errno;

		for (i = 0; i < d->nrcpt; i++)
			if (d->rcpt[i].status == DELIVER_STORED ||
			    d->rcpt[i].status == DELIVER_LOST)
				rcpt_fail(&d->rcpt[i], step, err);
		return;
	}
	for (i = 0; i < d->nrcpt; i++)
		if (i != owner && d->rcpt[i].status == DELIVER_STORED)
			place_one(d, &d->rcpt[i], &sl[i], st, 0);
	if (any_lost) {
		if (maildir_stage_place(st, lost->md, lost_owner, lost->name,
		        &step) == -1) {
			int err = errno;

			for (i = 0; i < d->nrcpt; i++)
				if (d->rcpt[i].status == DELIVER_LOST)
					rcpt_fail(&d->rcpt[i], step, err);
		} else
			lost->placed = 1;
	}
	if (owner != d->nrcpt)
		place_one(d, &d->rcpt[owner], &sl[owner], st, 1);
	/* Every link is in place: the staged name may go. */
	maildir_stage_free(st);
	if ((mds = calloc(d->nrcpt + 1, sizeof(*mds))) == NULL ||
	    (errs = calloc(d->nrcpt + 1, sizeof(*errs))) == NULL ||
	    (names = calloc(d->nrcpt + 1, sizeof(*names))) == NULL ||
	    (which = calloc(d->nrcpt + 1, sizeof(*which))) == NULL) {
		for (i = 0; i < d->nrcpt; i++)
			if (sl[i].placed) {
				withdraw(&sl[i]);
				sl[i].placed = 0;
				rcpt_fail(&d->rcpt[i], "memory", ENOMEM);
			}
		if (lost->placed) {
			withdraw(lost);
			lost->placed = 0;
			for (i = 0; i < d->nrcpt; i++)
				if (d->rcpt[i].status == DELIVER_LOST)
					rcpt_fail(&d->rcpt[i], "memory",
					    ENOMEM);
		}
		goto out;
	}
	for (i = 0; i < d->nrcpt; i++)
		if (sl[i].placed)
			which[nplaced++] = &sl[i];
	if (lost->placed)
		which[nplaced++] = lost;
	for (k = 0; k < nplaced; k++) {
		mds[k] = which[k]->md;
		memcpy(names[k], which[k]->name, MAILDIR_NAME_MAX);
	}
	maildir_commit_many(mds, names, nplaced, errs);
	for (k = 0; k < nplaced; k++) {
		if (errs[k] == 0)
			continue;
		which[k]->placed = 0; /* withdrawn by maildir_commit_many */
		if (which[k] == lost) {
			for (i = 0; i < d->nrcpt; i++)
				if (d->rcpt[i].status == DELIVER_LOST)
					rcpt_fail(&d->rcpt[i], "fsync new/",
					    errs[k]);
		} else
			rcpt_fail(&d->rcpt[which[k] - sl], "fsync new/",
			    errs[k]);
	}
out:
	free(mds);
	free(errs);
	free(names);
	free(which);
}

/* All or none: when one copy failed, the others are taken back. */
static void
undo_on_failure(struct deliver *d, struct slot *sl, struct slot *lost)
{
	size_t i;

	for (i = 0; i < d->nrcpt; i++)
		if (d->rcpt[i].status == DELIVER_FAILED)
			break;
	if (i == d->nrcpt)
		return;
	for (i = 0; i < d->nrcpt; i++) {
		struct deliver_rcpt *r = &d->rcpt[i];

		if (r->status == DELIVER_STORED && sl[i].placed) {
			withdraw(&sl[i]);
			sl[i].placed = 0;
			rcpt_fail(r, "withdrawn", ECANCELED);
		}
	}
	if (lost->placed) {
		withdraw(lost);
		lost->placed = 0;
		for (i = 0; i < d->nrcpt; i++)
			if (d->rcpt[i].status == DELIVER_LOST)
				rcpt_fail(&d->rcpt[i], "withdrawn", ECANCELED);
	}
}

int
deliver_run(struct deliver *d, int datafd, const void *data, size_t len,
    time_t now)
{
	struct slot *sl, lost = { .md = -1 };
	size_t i;
	int exists;

	d->datafd = datafd;
	d->data = data;
	d->len = len;
	d->now = now;
	if ((sl = calloc(d->nrcpt + 1, sizeof(*sl))) == NULL)
		return -1;
	for (i = 0; i < d->nrcpt; i++) {
		struct deliver_rcpt *r = &d->rcpt[i];

		sl[i].md = -1;
		exists = users_exists(datafd, r->account);
		if (exists != 1) {
			/* One copy in LOST for every unknown name. */
			r->status = DELIVER_LOST;
			if (lost.md == -1 && (lost.md = maildir_open(datafd,
			                          RULES_LOST_DIR)) == -1) {
				int err = errno;
				size_t k;

				for (k = 0; k <= i; k++)
					if (d->rcpt[k].status == DELIVER_LOST)
						rcpt_fail(&d->rcpt[k], "open",
						    err);
			}
			continue;
		}
		r->status = DELIVER_STORED; /* so far: the plan */
		if ((sl[i].md = maildir_open(datafd, r->account)) == -1)
			rcpt_fail(r, "open", errno);
	}
	store_all(d, sl, &lost);
	if (d->all_or_none)
		undo_on_failure(d, sl, &lost);
	if (lost.placed)
		note_stored(d, RULES_LOST_DIR, lost.name, d->data, d->len);
	for (i = 0; i < d->nrcpt; i++) {
		struct deliver_rcpt *r = &d->rcpt[i];

		if (r->status != DELIVER_STORED || !sl[i].placed)
			continue;
		note_stored(d, r->account, sl[i].name, d->data, d->len);
		/* Stored; a lock that fails skips only the warnings. */
		if (lock_md(sl[i].md) == 0) {
			quota_warn(d, sl[i].md, r->account, sl[i].used + d->len,
			    sl[i].limit);
			vacation_reply(d, sl[i].md, r);
			flock(sl[i].md, LOCK_UN);
		}
	}
	for (i = 0; i < d->nrcpt; i++)
		if (sl[i].md != -1)
			close(sl[i].md);
	if (lost.md != -1)
		close(lost.md);
	free(sl);
	notify_lost(d);
	d->data = NULL;
	return 0;
}

int
deliver_vacation_set(int datafd, const char *account, const char *subject,
    const char *text, time_t until)
{
	json_t *v;
	char *s;
	int md, rc = -1, saved;

	if ((md = maildir_open(datafd, account)) == -1)
		return -1;
	/* Not between a delivery's look at who had a reply and its record. */
	while (flock(md, LOCK_EX) == -1)
		if (errno != EINTR)
			goto out;
	if (subject == NULL) {
		rc = state_remove(md, VACATION_FILE);
		if (rc == 0)
			rc = state_remove(md, VACATION_SENT_FILE);
		goto out;
	}
	v = json_pack("{s:s, s:s, s:I}", "subject", subject, "text", text,
	    "until", (json_int_t)until);
	s = v != NULL ? json_dumps(v, JSON_COMPACT) : NULL;
	json_decref(v);
	if (s == NULL) {
		errno = ENOMEM;
		goto out;
	}
	/* A new reply: senders who had the old one get the new one. */
	if ((rc = state_write(md, VACATION_FILE, s, strlen(s))) == 0)
		rc = state_remove(md, VACATION_SENT_FILE);
	free(s);
out:
	saved = errno;
	close(md);
	errno = saved;
	return rc;
}
