/*
 * session.c - per-connection protocol state.
 */
#include "session.h"

void
session_logout(struct session *s)
{
	mailbox_view_release(s->view);
	s->view = NULL;
	mailbox_release(s->mailbox);
	s->mailbox = NULL;
	s->user[0] = '\0';
}
