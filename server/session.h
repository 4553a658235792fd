/*
 * session.h - what the protocol remembers about one connection: who is
 * logged in, their mailbox, and the numbered list they last saw (choices
 * refer to it, as in the original server). The user name here is the one
 * record of whether the connection is logged in.
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

/* Log in as user (a valid name) with its mailbox (the reference is taken). */
void session_start(struct session *s, const char *user, struct mailbox *mb);

/* 1 while someone is logged in. */
int session_logged_in(const struct session *s);

/* Forget the login, the mailbox and the last list. */
void session_logout(struct session *s);

#endif
