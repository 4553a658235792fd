/*
 * mail.h - the mail side of a session: its mailbox is opened at login, and
 * kept in step with the Maildir before every list, read and stats.
 */
#ifndef GLOMAILD_MAIL_H
#define GLOMAILD_MAIL_H

struct conn;

/*
 * The password was right: load user's mailbox on the store pool (unless it
 * is loaded and current), then log the session in and reply OK, or reply
 * ERROR "mailbox unavailable". The connection is held meanwhile.
 */
void mail_login(struct conn *c, const char *user);

#endif
