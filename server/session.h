/*
 * session.h - what the protocol remembers about one connection: who is
 * logged in, their mailbox, and the numbered list they last saw (choices
 * refer to it, as in the original server).
 */
#ifndef GLOMAILD_SESSION_H
#define GLOMAILD_SESSION_H

#include "mailbox.h"
#include "rules.h"

struct session {
	char user[RULES_USERNAME_MAX + 1]; /* "" while logged out */
	struct mailbox *mailbox;           /* held while logged in */
	struct mailbox_view *view;         /* the last list, or NULL */
};

/* Forget the login, the mailbox and the last list. */
void session_logout(struct session *s);

#endif
