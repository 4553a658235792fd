/*
 * session.c - per-connection protocol state.
 */
#include <stdio.h>

#include "session.h"

void
session_start(struct session *s, const char *user, struct mailbox *mb)
{
	session_logout(s);
	snprintf(s->user, sizeof(s->user), "%s", user);
	s->mailbox = mb;
}

int
session_logged_in(const struct session *s)
{
	return s->user[0] != '\0';
}

void
session_logout(struct session *s)
{
	mailbox_view_release(s->view);
	s->view = NULL;
	mailbox_release(s->mailbox);
	s->mailbox = NULL;
	s->user[0] = '\0';
}
