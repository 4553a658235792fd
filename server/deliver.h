/*
 * deliver.h - the delivery rules, the one place every way in (the
 * protocol's send, SMTP) goes through: aliases and groups expanded,
 * postmaster resolved, quotas checked, unknown recipients filed in LOST,
 * and the messages the rules make: a non-delivery notice to the sender,
 * quota warnings from postmaster at 80 % and 95 %, vacation replies.
 *
 * deliver_new runs on the reactor (the aliases table lives there);
 * deliver_run does the disk work on the store pool; the results are read
 * back on the reactor. Per account, the rules and the store run under an
 * flock of the account directory, so concurrent deliveries to one account
 * see each other's usage and warnings.
 *
 * Files of an account directory besides its Maildir:
 *   quota         the account's limit in bytes, decimal (the administration
 *                 tool writes it; absent: the quota setting)
 *   quota-warned  the last warning sent, 80 or 95 (absent: none)
 *   vacation      the automatic reply, JSON {"subject","text","until"}
 *   vacation-sent "<time> <account>" lines: who had a reply, and when
 * Each is replaced whole by a rename, never written in place.
 *
 * A way in that receives mail from elsewhere (SMTP) passes sender NULL
 * unless the sender is a local account, and sets auto_submitted for a
 * message with an Auto-Submitted header other than "no", a null reverse
 * path or a MAILER-DAEMON sender (RFC 3834 section 2): such mail gets no
 * notice and no vacation reply.
 */
#ifndef GLOMAILD_DELIVER_H
#define GLOMAILD_DELIVER_H

#include <stddef.h>
#include <time.h>

#include "aliases.h"
#include "maildir.h"
#include "message.h"

/* How often one sender may get a vacation reply (RFC 3834 says days). */
#define DELIVER_VACATION_INTERVAL (7 * 24 * 3600)
/* Longest vacation text and subject, in bytes. */
#define DELIVER_VACATION_TEXT_MAX (64 * 1024)
#define DELIVER_QUOTA_FULL "recipient's mailbox is full"

struct deliver;

/* Settings a delivery takes from the configuration (copied). */
struct deliver_params {
	const char *domain;
	const char *postmaster; /* the account postmaster goes to */
	size_t quota;           /* default limit in bytes; 0: none */
};

/* The message as sent, for the notices about it (copied). */
struct deliver_msg {
	const char *sender; /* local account, or NULL: not local */
	const char *subject;
	const char *date;
	const char *message_id;
	int auto_submitted; /* itself automatic: no notice, no reply */
	int all_or_none;    /* one copy failed: take the others back (SMTP) */
	int notify_full;    /* the notice names refused full mailboxes too */
};

enum deliver_status {
	DELIVER_STORED, /* durable in the account's new/ */
	DELIVER_LOST,   /* no such account: durable in LOST */
	DELIVER_FULL,   /* refused: over the account's quota */
	DELIVER_FAILED, /* the system failed; see step, error */
};

/* One account a message goes to. */
struct deliver_rcpt {
	aliases_name name;    /* the name it was addressed to */
	aliases_name account; /* the account, after aliases */
	int direct;           /* addressed by its own name */
	enum deliver_status status;
	const char *step; /* DELIVER_FAILED: the failed step */
	int error;        /* and its errno */
};

/* One file deliver_run stored, so the caller can index it. */
struct deliver_stored {
	aliases_name account; /* RULES_LOST_DIR for LOST */
	struct maildir_file file;
	struct message_info info; /* the file parsed back */
	int indexable;            /* info is valid */
};

/*
 * Plan a delivery to the names (lower-case user names, each once): aliases
 * and groups are expanded now, each account once. On the reactor. NULL
 * with *why_r (a short reason for the peer) when a name expands to more
 * than max accounts, or without memory.
 */
struct deliver *deliver_new(const struct deliver_params *p,
    const struct aliases *al, const struct deliver_msg *m,
    const char *const *names, size_t n, size_t max, const char **why_r);

/*
 * Replace the message's description (sender, subject, date, id, whether
 * it is automatic; the flags stay), for a way in that learns them from the
 * file on the store pool (SMTP). 0, or -1 without memory.
 */
int deliver_set_msg(struct deliver *d, const struct deliver_msg *m);

/*
 * Apply the rules and store data (the whole RFC 5322 file) for every
 * account, with the notices, warnings and replies they make. On the store
 * pool. The file is written and fsync'd once, hard-linked into each
 * account's tmp/ and renamed into its new/ under the account's lock (after
 * its quota check), then every new/ is fsync'd at once, shared with
 * concurrent deliveries (syncgroup.c); unknown accounts share one copy in
 * LOST. A status DELIVER_STORED or DELIVER_LOST is durable. The file is
 * the same for every account: no per-recipient header (Delivered-To) is
 * added, so one inode serves all. Returns 0 (each recipient's status says what
 * happened) or -1 without memory.
 */
int deliver_run(struct deliver *d, int datafd, const void *data, size_t len,
    time_t now);

size_t deliver_nrcpt(const struct deliver *d);
const struct deliver_rcpt *deliver_rcpt(const struct deliver *d, size_t i);
size_t deliver_nstored(const struct deliver *d);
const struct deliver_stored *deliver_stored(const struct deliver *d, size_t i);

/*
 * What became of the i-th name given to deliver_new, over the accounts it
 * went to: DELIVER_FAILED when any failed, else DELIVER_STORED when any
 * has it, else DELIVER_FULL, else DELIVER_LOST; -1 when the name goes to
 * no account (mailer-daemon) or i is out of range.
 */
int deliver_name_status(const struct deliver *d, size_t i);

void deliver_free(struct deliver *d);

/*
 * An account's usage (bytes of new/ and cur/) and limit (its quota file,
 * or the default; 0: none). On the store pool. 0, or -1 with errno.
 */
int deliver_usage(int datafd, const char *account, size_t default_limit,
    unsigned long long *used_r, unsigned long long *limit_r);

/*
 * Turn account's vacation reply on (subject and text, until a time or 0:
 * no end) or off (subject NULL). Durable when it returns 0; -1 with errno.
 * On the store pool.
 */
int deliver_vacation_set(int datafd, const char *account, const char *subject,
    const char *text, time_t until);

#endif
