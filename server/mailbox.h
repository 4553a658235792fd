/*
 * mailbox.h - the in-memory index of one user's Maildir, owned by the
 * reactor thread: what inbox lists, reads and stats answer from, so that no
 * request rescans the disk. Each entry is allocated once and a deleted one
 * is kept aside (marked deleted) until the mailbox goes, so pointers to
 * entries (a session's last list, work on a pool) stay valid for the
 * mailbox's life.
 */
#ifndef GLOMAILD_MAILBOX_H
#define GLOMAILD_MAILBOX_H

#include <stddef.h>
#include <time.h>

#include "maildir.h"
#include "message.h"

struct conn;
struct mailbox;
struct mailboxes;

struct mailbox_entry {
	struct maildir_file file; /* where it is on disk */
	time_t when;              /* Date:, for ordering */
	char *line;               /* "<sender> - <subject> <date>" */
	char *id;                 /* maildir_id: stable, never reused */
	char *from, *to, *cc, *subject, *date; /* sanitized, as listed */
	int deleted;              /* gone from the store and the list */
};

/* A numbered list as a client last saw it: entries newest first. */
struct mailbox_view {
	unsigned refs;
	size_t n;
	struct mailbox_entry *entry[];
};

/* The registry of loaded mailboxes, by user name. */
struct mailboxes *mailboxes_new(void);
void mailboxes_free(struct mailboxes *all);

/* The user's mailbox, created empty and unloaded if need be; one more ref. */
struct mailbox *mailbox_acquire(struct mailboxes *all, const char *user);

/* The user's mailbox if some session holds it, else NULL (no ref taken). */
struct mailbox *mailbox_find(struct mailboxes *all, const char *user);

/* Drop a ref; the last one frees the mailbox. */
void mailbox_release(struct mailbox *mb);

int mailbox_loaded(const struct mailbox *mb);

/*
 * Add a newly delivered message. Before the mailbox is loaded (a login's
 * scan is under way), the delivery is also remembered so that the scan's
 * copy of it is not added twice. Returns 0 or -1 (no memory).
 */
int mailbox_add(struct mailbox *mb, const struct maildir_file *file,
    const struct message_info *info);

/* Add a message found by a scan, unless a delivery already added it. */
int mailbox_add_scanned(struct mailbox *mb, const struct maildir_file *file,
    const struct message_info *info);

/* Mark loaded: what a scan found has been added; deliveries are no
 * longer remembered apart. */
void mailbox_set_loaded(struct mailbox *mb);

size_t mailbox_count(const struct mailbox *mb);
long long mailbox_size(const struct mailbox *mb);

/* The current list, newest first, with one more ref (NULL: no memory). */
struct mailbox_view *mailbox_view(struct mailbox *mb);
void mailbox_view_release(struct mailbox_view *view);

/*
 * The whole reply frame to an inbox list (OK + email_list), cached until
 * the mailbox changes. Borrowed; NULL on failure.
 */
const unsigned char *mailbox_list_frame(struct mailbox *mb, size_t max,
    size_t *len_r);

/* The whole reply frame to a stats request, cached likewise. */
const unsigned char *mailbox_stats_frame(struct mailbox *mb, size_t *len_r);

/* A reader moved or flagged a file: remember where it is now. */
void mailbox_update_file(struct mailbox_entry *e,
    const struct maildir_file *file);

/* The entry of a message id, or NULL. */
struct mailbox_entry *mailbox_get(struct mailbox *mb, const char *id);

/*
 * A message was deleted from the store: take it out of lists and stats.
 * The entry stays allocated (marked deleted) for whoever still points to it.
 */
void mailbox_remove(struct mailbox *mb, struct mailbox_entry *e);

/*
 * Sessions that asked for new-mail notices: at most one entry per
 * connection. 0, or -1 (no memory). The list is borrowed.
 */
int mailbox_subscribe(struct mailbox *mb, struct conn *c);
void mailbox_unsubscribe(struct mailbox *mb, struct conn *c);
struct conn *const *mailbox_subscribers(const struct mailbox *mb,
    size_t *n_r);

#endif
