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

/*
 * After deliver_run, on the reactor: put every file the delivery stored
 * into the index of its account, when that mailbox is loaded.
 */
void mail_index_stored(struct server *srv, const struct deliver *d);

/* The delivery rules' settings from the configuration in force. */
void mail_deliver_params(const struct server *srv,
    struct deliver_params *p_r);

#endif
