/*
 * mail.h - the mail side of a session: its mailbox is opened at login, and
 * kept in step with the Maildir before every list, read and stats.
 */
#ifndef GLOMAILD_MAIL_H
#define GLOMAILD_MAIL_H

struct conn;
struct deliver;
struct deliver_params;
struct server;

/*
 * The password was right: load user's mailbox on the store pool (unless it
 * is loaded and current), then log the session in and reply OK, or reply
 * ERROR "mailbox unavailable". The connection is held meanwhile.
 */
void mail_login(struct conn *c, const char *user);

struct mailbox;

/*
 * Call fn once the index of mb reflects the Maildir as it was when this
 * request arrived: at once if it does, else after a scan on the store pool
 * (c held meanwhile; fn is not called if c closed). err is NULL, or the
 * ERROR text to reply with.
 */
typedef void (*mail_fn)(struct conn *c, struct mailbox *mb, const char *err,
    long long arg);
void mail_sync(struct conn *c, struct mailbox *mb, mail_fn fn, long long arg);

/* Check the index of mb against the Maildir with a scan in the background
 * (after mailbox_own_change said a change of ours is trusted). */
struct server;
void mail_verify(struct server *srv, struct mailbox *mb);
/*
 * After deliver_run, on the reactor: put every file the delivery stored
 * into the index of its account, when that mailbox is loaded.
 */
void mail_index_stored(struct server *srv, const struct deliver *d);

/*
 * Watch the Maildir's new/ of mb (a session subscribed to its notices), so
 * that mail delivered by other processes is announced too: the watch scans
 * when a name it does not index arrives (inotify), or when the directories
 * changed (a poll, for what inotify cannot see: another host's delivery).
 * 0, or -1 (no memory, no Maildir).
 */
int mail_watch(struct server *srv, struct mailbox *mb);
/* The notify_fn of the server's watches (key: the mailbox). */
void mail_arrival(void *key, const char *name, void *arg);

/* The delivery rules' settings from the configuration in force. */
void mail_deliver_params(const struct server *srv, struct deliver_params *p_r);

#endif
