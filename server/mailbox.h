/*
 * mailbox.h - the in-memory index of one user's Maildir, owned by the
 * reactor thread: what inbox lists, reads and stats answer from, so that no
 * request rescans the whole disk.
 *
 * The index holds each message file once, by its base name (the part before
 * ":2,"), whoever found it: a delivery of ours or a scan of the directories.
 * Other programs may change the Maildir (mutt, rm, another MDA): before a
 * request is answered, mailbox_stale() compares the directories with what
 * the last scan saw, and a scan (mailbox_scan_*) brings the index up to
 * date, reading only the files it does not know yet. Entries dropped from the
 * index stay allocated while a view or a reader holds them.
 *
 * The index knows mail, not the wire: the handler layer keeps what it
 * derives from it (encoded replies) in the mailbox's context, keyed by
 * mailbox_generation().
 */
#ifndef GLOMAILD_MAILBOX_H
#define GLOMAILD_MAILBOX_H

#include <sys/types.h>

#include <stddef.h>
#include <stdint.h>
#include <time.h>

#include "maildir.h"
#include "message.h"

/*
 * A subject in a list line is cut to this many characters: RFC 5322's line
 * length, the bound sends are held to, so that a file written by another
 * program cannot make one entry huge.
 */
#define MAILBOX_SUBJECT_MAX 998

struct conn;
struct mailbox;
struct mailboxes;
struct mailbox_scan;

/* How new/ (0) and cur/ (1) looked at one moment. */
struct mailbox_dir_stamp {
	dev_t dev;
	ino_t ino;
	off_t size;
	struct timespec mtime, ctime;
};

struct mailbox_stamp {
	int valid;
	struct timespec taken; /* when the directories were looked at */
	struct mailbox_dir_stamp dir[2];
};

struct mailbox_entry {
	struct maildir_file file; /* where it is on disk */
	time_t when;              /* Date:, for ordering */
	char *line;               /* "<sender> - <subject> <date>" */
	char *from, *to, *cc, *subject, *date; /* sanitized, for the
	                                          structured list and search */
	/* Bookkeeping of the index (reactor thread only). */
	unsigned refs;    /* the index, each view, each reader */
	int gone;         /* no longer in the index */
	uint64_t touched; /* scan sequence when last added or moved */
	uint64_t seen;    /* scan sequence that last found it */
	int noticed;      /* its new-mail notice went out */
	struct mailbox_entry *hnext;
	char base[]; /* base name; never changes (scans read it) */
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

const char *mailbox_user(const struct mailbox *mb);

/* Loaded: a whole scan has been applied. */
int mailbox_loaded(const struct mailbox *mb);

/*
 * What the handler layer keeps beside the index, freed with free_fn when
 * the mailbox goes.
 */
void *mailbox_context(const struct mailbox *mb);
void mailbox_set_context(struct mailbox *mb, void *ctx,
    void (*free_fn)(void *));

/* Changes whenever the list or the stats would change. Never 0. */
uint64_t mailbox_generation(const struct mailbox *mb);

/*
 * Add a message (a delivery of ours), unless a file of the same base name
 * is indexed already. Returns 0 or -1 (no memory).
 */
int mailbox_add(struct mailbox *mb, const struct maildir_file *file,
    const struct message_info *info);

/* A reader found the file gone (or deleted it): drop it from the index. */
void mailbox_remove(struct mailbox *mb, struct mailbox_entry *e);

/* The indexed entry whose maildir_id() is id, or NULL. */
struct mailbox_entry *mailbox_get(struct mailbox *mb, const char *id);

/*
 * Sessions that asked for new-mail notices: at most one entry per
 * connection. 0, or -1 (no memory). The list is borrowed.
 */
int mailbox_subscribe(struct mailbox *mb, struct conn *c);
void mailbox_unsubscribe(struct mailbox *mb, struct conn *c);
struct conn *const *mailbox_subscribers(const struct mailbox *mb, size_t *n_r);

size_t mailbox_count(const struct mailbox *mb);
long long mailbox_size(const struct mailbox *mb);

/* The current list, newest first, with one more ref (NULL: no memory). */
struct mailbox_view *mailbox_view(struct mailbox *mb);

/* A new view of the first n entries of v (NULL: no memory). */
struct mailbox_view *mailbox_view_head(const struct mailbox_view *v, size_t n);
void mailbox_view_release(struct mailbox_view *view);

/* Keep an entry alive while a reader works on it. */
void mailbox_entry_hold(struct mailbox_entry *e);
void mailbox_entry_release(struct mailbox_entry *e);

/* A reader moved or flagged a file: remember where it is now. */
void mailbox_update_file(struct mailbox *mb, struct mailbox_entry *e,
    const struct maildir_file *file);

/*
 * Reactor thread, before answering from the index: 1 when a scan must run
 * first (never loaded, new/ or cur/ changed since the last scan, or that
 * scan looked within the timestamps' granularity of a change, so a later
 * change in the same tick would not show), 0 when the index is current.
 * Two fstatat() calls. md is the Maildir's descriptor (maildir_open).
 */
int mailbox_stale(struct mailbox *mb, int md);

/* Worker: how the Maildir's directories look now. 0 or -1. */
int mailbox_stamp_take(int md, struct mailbox_stamp *st);

/*
 * Reactor: a reader of ours moved a file (marked it seen) between the looks
 * before and after. When nothing else had changed the directories since
 * the last scan (before matches it), after is taken as the index's view,
 * so that the next requests need not scan a large mailbox for a change of
 * our own; returns 1, and the caller must start a scan at once, which
 * catches whatever another program did in that same instant. Else 0: the
 * next request scans.
 */
int mailbox_own_change(struct mailbox *mb, const struct mailbox_stamp *before,
    const struct mailbox_stamp *after);

/* The verifying scan could not start: the next request scans. */
void mailbox_distrust(struct mailbox *mb);

/* Reactor: start a scan (one at a time per mailbox). NULL: no memory. */
struct mailbox_scan *mailbox_scan_begin(struct mailbox *mb);

/*
 * Worker thread: list new/ then cur/ and read the header block of every
 * file the index did not hold when the scan began. 0, or -1 with errno.
 */
int mailbox_scan_run(struct mailbox_scan *scan, int md);

/*
 * Reactor: apply a finished scan: add what is new, note moves, drop what
 * is gone; the mailbox is loaded from then on. 0 or -1 (no memory).
 */
int mailbox_scan_apply(struct mailbox *mb, struct mailbox_scan *scan);

/*
 * Reactor, after mailbox_scan_apply: the entries it added that sit in new/,
 * when the mailbox was loaded before (not its first scan): mail delivered
 * by another process since the last scan. Valid until the scan is freed.
 */
size_t mailbox_scan_arrivals(const struct mailbox_scan *scan,
    struct mailbox_entry *const **list_r);

/* Reactor: free a scan, applied or not. */
void mailbox_scan_free(struct mailbox_scan *scan);

#endif
