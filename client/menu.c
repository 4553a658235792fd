/*
 * menu.c - the interactive flows of the original client: connection menu
 * (create an account, log in, quit), then main menu (read, send,
 * statistics, log out), and after the seed's entries what the server
 * adds: automatic reply, search, password change; after reading a
 * message, reply, forward, delete, mark unread; the list page by page
 * with unread marks, and new-mail notices between menus.
 *
 * Every step returns a flow value: carry on, quit (the user asked, or
 * input ended: both exit 0 after BYE), or fail (the server is gone or
 * stdin broke). Prompts and displays go to stdout, as the original's
 * print() and input() did.
 */
#include <sys/ioctl.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <unistd.h>

#include "compose.h"
#include "i18n.h"
#include "listing.h"
#include "menu.h"
#include "msg.h"
#include "proto.h"
#include "reply.h"
#include "rules.h"
#include "session.h"
#include "term.h"
#include "units.h"

enum flow {
	FLOW_CONTINUE,
	FLOW_QUIT,
	FLOW_FAIL,
};

/* The logged-in account, for the sender field the original fills in. */
struct menu {
	struct session *s;
	char user[RULES_USERNAME_MAX + 1];
	int notices; /* subscribed to new-mail notices */
};

/* Map a prompt's result to a flow: end of input quits. */
static enum flow
term_flow(enum term_result r)
{
	return r == TERM_EOF ? FLOW_QUIT : FLOW_FAIL;
}

/* A request that could not be made: the session says whether it is fatal. */
static enum flow
request_flow(const struct menu *m)
{
	return session_lost(m->s) ? FLOW_FAIL : FLOW_CONTINUE;
}

/* Show the text of an ERROR reply (a seed server's own words, made safe). */
static void
show_error(const struct msg *reply)
{
	term_show(stdout, session_error_text(reply));
	putchar('\n');
}

/* Parse a whole line as a number in [1, max]; 0 when it is not one. */
static long long
parse_choice(const char *line, long long max)
{
	char *end;
	long long v;

	while (*line == ' ' || *line == '\t')
		line++;
	if (*line < '0' || *line > '9')
		return 0;
	v = strtoll(line, &end, 10);
	while (*end == ' ' || *end == '\t')
		end++;
	if (*end != '\0' || v < 1 || v > max)
		return 0;
	return v;
}

/*
 * Ask "Enter your choice [1-max]: " until the answer is in range, as the
 * original re-asks on anything else.
 */
static enum flow
ask_choice(long long max, long long *choice_r)
{
	char prompt[128];
	enum term_result r;
	char *line;

	snprintf(prompt, sizeof(prompt), _("Enter your choice [1-%lld]: "),
	    max);
	for (;;) {
		if ((r = term_prompt(stdout, prompt, &line)) != TERM_OK)
			return term_flow(r);
		*choice_r = parse_choice(line, max);
		free(line);
		if (*choice_r != 0)
			return FLOW_CONTINUE;
	}
}

/*
 * The password for a new account: the rule checked at once, then typed
 * again on a terminal, since nobody sees what they typed. FLOW_CONTINUE with
 * *password_r NULL when refused (the reason is shown).
 */
static enum flow
new_password(const char *prompt, const char *again_prompt, char **password_r)
{
	char *password = NULL, *again = NULL;
	enum term_result r;
	const char *why;
	enum flow flow = FLOW_CONTINUE;

	*password_r = NULL;
	if ((r = term_password(stdout, prompt, &password)) != TERM_OK)
		return term_flow(r);
	if (rules_password(password, &why) == -1) {
		printf("%s\n", i18n_server_text(why));
		goto done;
	}
	/* A script's input (the original's sequence) types it once. */
	if (!isatty(STDIN_FILENO)) {
		*password_r = password;
		return FLOW_CONTINUE;
	}
	if ((r = term_password(stdout, again_prompt, &again)) != TERM_OK) {
		flow = term_flow(r);
		goto done;
	}
	if (strcmp(password, again) != 0) {
		printf("%s\n", _("The passwords do not match."));
		goto done;
	}
	*password_r = password;
	password = NULL;
done:
	term_forget(again);
	term_forget(password);
	return flow;
}

/* Create an account or log in; on success *in_r is set. */
static enum flow
menu_auth(struct menu *m, int header, int *in_r)
{
	char lower[RULES_USERNAME_MAX + 1];
	char *user = NULL, *password = NULL;
	struct msg *reply = NULL;
	enum term_result r;
	const char *why;
	json_t *payload;
	enum flow flow = FLOW_CONTINUE;
	int h;

	*in_r = 0;
	if ((r = term_prompt(stdout, _("Enter a user name: "), &user)) !=
	    TERM_OK)
		return term_flow(r);
	if (header == PROTO_AUTH_REGISTER) {
		/* The name rules before the password is typed for nothing. */
		if (rules_username(user, lower, &why) == -1) {
			printf("%s\n", i18n_server_text(why));
			goto done;
		}
		if ((flow = new_password(_("Enter a password: "),
		         _("Enter the password again: "), &password)) !=
		        FLOW_CONTINUE ||
		    password == NULL)
			goto done;
	} else if ((r = term_password(stdout, _("Enter a password: "),
	                &password)) != TERM_OK) {
		flow = term_flow(r);
		goto done;
	}
	if ((payload = msg_credentials_new(user, password)) == NULL) {
		printf("%s\n", _("the text is not valid UTF-8"));
		goto done;
	}
	if ((h = session_request(m->s, header, payload, &reply)) == -1) {
		flow = request_flow(m);
		goto done;
	}
	if (h == PROTO_ERROR) {
		show_error(reply);
		goto done;
	}
	if (header == PROTO_AUTH_REGISTER)
		printf("%s\n", _("Account created."));
	/* Long names are refused by the server; keep what fits for display. */
	snprintf(m->user, sizeof(m->user), "%s", user);
	*in_r = 1;
	/* New mail is announced between menus when the server can. */
	m->notices = 0;
	if (session_has(m->s, "notices")) {
		msg_free(reply);
		reply = NULL;
		if ((h = session_request(m->s, PROTO_NOTICES_SUBSCRIBE, NULL,
		         &reply)) == -1) {
			flow = request_flow(m);
			goto done;
		}
		m->notices = h == PROTO_OK;
	}
done:
	msg_free(reply);
	free(user);
	term_forget(password);
	return flow;
}

/*
 * Show one message: the original's "De : / À : / Sujet : / Date :", the
 * copies when there are some, the date in the local time zone.
 */
static void
show_email(const struct msg_email *e, const char *cc)
{
	char date[LISTING_DATE_LEN];
	char *f[6];
	size_t i;

	listing_date(e->date != NULL ? e->date : "", date);
	/* Every field made safe for the terminal first. */
	f[0] = term_safe(stdout, e->sender != NULL ? e->sender : "");
	f[1] = term_safe(stdout, e->destination);
	f[2] = term_safe(stdout, e->subject);
	f[3] = term_safe(stdout, date);
	f[4] = term_safe(stdout, e->content);
	f[5] = term_safe(stdout, cc != NULL ? cc : "");
	for (i = 0; i < 6; i++)
		if (f[i] == NULL) {
			perror("glomail");
			goto done;
		}
	printf("\n");
	printf(_("From: %s\n"), f[0]);
	printf(_("To: %s\n"), f[1]);
	if (f[5][0] != '\0')
		printf(_("Cc: %s\n"), f[5]);
	printf(_("Subject: %s\n"), f[2]);
	printf(_("Date: %s\n"), f[3]);
	printf("----------------------------------------\n");
	printf("%s\n", f[4]);
done:
	for (i = 0; i < 6; i++)
		free(f[i]);
}

/*
 * New-mail notices that have come (the session keeps those that arrived
 * with replies; the socket is looked at without waiting), one line each.
 */
static void
show_notices(struct menu *m)
{
	union msg_args a;
	struct msg *n;
	const char *why;

	if (!m->notices)
		return;
	while (session_notice_wait(m->s, 0, NULL, &n) == 1) {
		if (msg_unpack(n, PROTO_SHAPE_NOTICE, &a, &why) == 0) {
			char *from = term_safe(stdout, a.notice.sender);
			char *subject = term_safe(stdout, a.notice.subject);

			if (from != NULL && subject != NULL)
				printf(_("New mail from %s: %s\n"), from,
				    subject);
			free(from);
			free(subject);
		}
		msg_free(n);
	}
}

static enum flow read_body(size_t max, char **body_r);

static void show_results(const struct msg *reply);

/*
 * Send body to the addresses, saying what became of each: one message to
 * all of them when the server takes several (a reply's sender, first when
 * sender_first, in To and the others in Cc), else one message each, as
 * the seed's send takes one.
 */
static enum flow
send_each(struct menu *m, char rcpt[][COMPOSE_ADDR_MAX + 1], size_t n,
    int sender_first, const char *subject, const char *body,
    const char *in_reply_to, const char *refs)
{
	static char addrs[REPLY_RCPT_MAX][COMPOSE_ADDR_MAX + 1];
	static const char *list[REPLY_RCPT_MAX];
	char addr[COMPOSE_ADDR_MAX + 1], why[COMPOSE_WHY_MAX];
	struct msg *reply = NULL;
	size_t i, k = 0, nto;
	int h;

	if (n > 1 && session_has(m->s, "send-many")) {
		for (i = 0; i < n && i < REPLY_RCPT_MAX; i++) {
			if (compose_recipient(m->s, rcpt[i], addrs[k], why,
			        sizeof(why)) == -1) {
				term_show(stdout, rcpt[i]);
				fputs(": ", stdout);
				term_show(stdout, why);
				putchar('\n');
				sender_first = sender_first && i > 0;
				continue;
			}
			list[k] = addrs[k];
			k++;
		}
		if (k == 0)
			return FLOW_CONTINUE;
		nto = sender_first ? 1 : k;
		if ((h = compose_send_many(m->s, list, nto, list + nto, k - nto,
		         subject, body, in_reply_to, refs, &reply)) == -1)
			return request_flow(m);
		if (h == PROTO_ERROR)
			show_error(reply);
		else
			show_results(reply);
		msg_free(reply);
		return FLOW_CONTINUE;
	}
	for (i = 0; i < n; i++) {
		term_show(stdout, rcpt[i]);
		fputs(": ", stdout);
		if (compose_recipient(m->s, rcpt[i], addr, why, sizeof(why)) ==
		    -1) {
			term_show(stdout, why);
			putchar('\n');
			continue;
		}
		if ((h = compose_send_thread(m->s, m->user, addr, subject, body,
		         in_reply_to, refs, &reply)) == -1)
			return request_flow(m);
		if (h == PROTO_ERROR)
			show_error(reply);
		else
			printf("%s\n", _("Message sent."));
		msg_free(reply);
		reply = NULL;
	}
	return FLOW_CONTINUE;
}

/* Split a typed "a, b c" list of recipients; returns the count. */
static size_t
split_recipients(const char *line, char out[][COMPOSE_ADDR_MAX + 1], size_t max)
{
	size_t n = 0, len;
	const char *p = line;

	while (*p != '\0' && n < max) {
		p += strspn(p, " ,\t");
		if ((len = strcspn(p, " ,\t")) == 0)
			break;
		if (len <= COMPOSE_ADDR_MAX) {
			memcpy(out[n], p, len);
			out[n++][len] = '\0';
		}
		p += len;
	}
	return n;
}

/*
 * After a message is shown (on a server with the threading extension):
 * reply, reply to all, forward, or back to the main menu.
 */
/* Delete the message, or mark it unread, by id: say what was done. */
static enum flow
menu_change(struct menu *m, const char *id, int delete)
{
	struct msg *reply = NULL;
	json_t *p;
	int h;

	p = delete ? json_pack("{s:[s]}", "ids", id)
	           : json_pack("{s:[s], s:[s]}", "ids", id, "remove", "seen");
	if ((h = session_request(m->s,
	         delete ? PROTO_MAILBOX_DELETE : PROTO_MAILBOX_FLAGS, p,
	         &reply)) == -1)
		return request_flow(m);
	if (h == PROTO_ERROR)
		show_error(reply);
	else
		printf("%s\n", delete ? _("Message deleted.")
		                      : _("Message marked as unread."));
	msg_free(reply);
	return FLOW_CONTINUE;
}

static enum flow
menu_after_read(struct menu *m, long long n, const char *id)
{
	static char rcpt[REPLY_RCPT_MAX][COMPOSE_ADDR_MAX + 1];
	char self[COMPOSE_ADDR_MAX + 1], subject[RULES_SUBJECT_MAX + 1];
	char *typed = NULL, *body = NULL, *refs = NULL, *line = NULL;
	struct msg *err = NULL;
	struct reply_orig orig;
	enum flow flow = FLOW_CONTINUE;
	enum term_result r;
	long long choice;
	size_t nr = 0, max;
	int h;

	memset(&orig, 0, sizeof(orig));
	printf("\n%s", _("1. Reply\n"
	                 "2. Reply to all\n"
	                 "3. Forward\n"
	                 "4. Back to the main menu\n"));
	/* The seed's four stay; the mailbox's choices come after. */
	if (id != NULL)
		printf("%s", _("5. Delete this message\n"
		               "6. Mark as unread\n"));
	if ((flow = ask_choice(id != NULL ? 6 : 4, &choice)) != FLOW_CONTINUE ||
	    choice == 4)
		return flow;
	if (choice >= 5)
		return menu_change(m, id, choice == 5);
	if ((h = reply_fetch(m->s, n, &orig, &err)) != PROTO_OK) {
		if (h == PROTO_ERROR)
			show_error(err);
		flow = h == -1 ? request_flow(m) : FLOW_CONTINUE;
		goto done;
	}
	snprintf(self, sizeof(self), "%s@%s", m->user, session_domain(m->s));
	if (choice == 3) {
		if ((r = term_prompt(stdout,
		         _("Enter the recipients' addresses "
		           "(separated by commas): "),
		         &line)) != TERM_OK) {
			flow = term_flow(r);
			goto done;
		}
		nr = split_recipients(line, rcpt, REPLY_RCPT_MAX);
	} else
		nr = reply_recipients(&orig, choice == 2, self, rcpt,
		    REPLY_RCPT_MAX);
	if (nr == 0) {
		printf("%s\n", _("nobody to reply to"));
		goto done;
	}
	max = session_max_subject(m->s) < RULES_SUBJECT_MAX
	          ? session_max_subject(m->s)
	          : RULES_SUBJECT_MAX;
	reply_subject(orig.email.subject, choice == 3, max, subject);
	printf(_("Subject: %s\n"), subject);
	printf("%s\n",
	    _("Enter the message, end it with a '.' on a line of its own:"));
	if ((flow = read_body(session_max_frame(m->s), &typed)) !=
	        FLOW_CONTINUE ||
	    typed == NULL)
		goto done;
	if ((body = reply_body(&orig, choice == 3, typed)) == NULL) {
		perror("glomail");
		flow = FLOW_FAIL;
		goto done;
	}
	refs = choice == 3 ? NULL : reply_references(&orig);
	/* reply_recipients puts the sender first, unless it is us. */
	flow = send_each(m, rcpt, nr,
	    choice != 3 && strcasecmp(rcpt[0], self) != 0 &&
	        strcasecmp(orig.email.sender, self) != 0,
	    subject, body, choice == 3 ? NULL : reply_in_reply_to(&orig), refs);
done:
	reply_orig_clear(&orig);
	msg_free(err);
	free(line);
	free(typed);
	free(body);
	free(refs);
	return flow;
}

/* Show message choice as the seed does (by number), then what follows. */
static enum flow
menu_read_seed(struct menu *m, long long choice)
{
	struct msg *reply = NULL;
	enum flow flow = FLOW_CONTINUE;
	union msg_args a;
	const char *why;
	int h;

	if ((h = session_request(m->s, PROTO_INBOX_READING_CHOICE,
	         msg_choice_new(choice), &reply)) == -1)
		return request_flow(m);
	if (h == PROTO_ERROR) {
		show_error(reply);
		goto done;
	}
	if (msg_unpack(reply, PROTO_SHAPE_EMAIL, &a, &why) == -1) {
		printf("%s: %s\n", _("unexpected reply from the server"), why);
		goto done;
	}
	show_email(&a.email, NULL);
	if (session_has(m->s, "threading"))
		flow = menu_after_read(m, choice, NULL);
done:
	msg_free(reply);
	return flow;
}

/* The seed's list: the server's lines, then a choice. */
static enum flow
menu_read_list_seed(struct menu *m)
{
	struct msg *list = NULL;
	enum flow flow = FLOW_CONTINUE;
	union msg_args a;
	const char *why;
	long long choice;
	size_t i, n;
	json_t *item;
	int h;

	if ((h = session_request(m->s, PROTO_INBOX_READING_REQUEST, NULL,
	         &list)) == -1)
		return request_flow(m);
	if (h == PROTO_ERROR) {
		show_error(list);
		goto done;
	}
	if (msg_unpack(list, PROTO_SHAPE_EMAIL_LIST, &a, &why) == -1) {
		printf("%s: %s\n", _("unexpected reply from the server"), why);
		goto done;
	}
	if ((n = json_array_size(a.email_list)) == 0) {
		printf("%s\n", _("Your mailbox is empty."));
		goto done;
	}
	json_array_foreach (a.email_list, i, item) {
		term_show(stdout, json_string_value(item));
		putchar('\n');
	}
	if ((flow = ask_choice((long long)n, &choice)) != FLOW_CONTINUE)
		goto done;
	flow = menu_read_seed(m, choice);
done:
	msg_free(list);
	return flow;
}

/* Read message n (id when known) by id, then what follows. */
static enum flow
menu_read_id(struct menu *m, long long n, const char *known)
{
	struct msg *reply = NULL, *err = NULL;
	enum flow flow = FLOW_CONTINUE;
	char *id = NULL;
	struct msg_email e;
	json_t *cc;
	int h;

	if (known == NULL) {
		if ((h = listing_id(m->s, n, &id, &err)) == -1)
			return request_flow(m);
		if (h == PROTO_ERROR)
			show_error(err);
		else if (h == 0)
			printf("%s\n", i18n_server_text("choice out of range"));
		if (h != PROTO_OK)
			goto done;
		known = id;
	}
	if ((h = session_request(m->s, PROTO_MAILBOX_READ,
	         json_pack("{s:s}", "id", known), &reply)) == -1) {
		flow = request_flow(m);
		goto done;
	}
	if (h == PROTO_ERROR) {
		show_error(reply);
		goto done;
	}
	if (listing_email(reply, &e) == -1) {
		printf("%s\n", _("unexpected reply from the server"));
		goto done;
	}
	cc = json_object_get(msg_payload(reply), "cc");
	show_email(&e, json_is_string(cc) ? json_string_value(cc) : NULL);
	flow = menu_after_read(m, n, known);
done:
	free(id);
	msg_free(reply);
	msg_free(err);
	return flow;
}

/* Entries a page shows: the terminal's height less the menu's lines. */
static long long
page_size(void)
{
	struct winsize ws;

	if (ioctl(STDOUT_FILENO, TIOCGWINSZ, &ws) == 0 && ws.ws_row > 8)
		return ws.ws_row - 4 < 200 ? ws.ws_row - 4 : 200;
	return 20;
}

/*
 * Ask for a message number in [1-max], or, when there are other pages,
 * "n" (next) or "p" (previous): *choice_r is then 0 and *move_r +1 or -1.
 */
static enum flow
ask_message(long long max, int pages, long long *choice_r, int *move_r)
{
	char prompt[128];
	enum term_result r;
	char *line, *w;

	snprintf(prompt, sizeof(prompt), _("Enter your choice [1-%lld]: "),
	    max);
	*move_r = 0;
	for (;;) {
		if ((r = term_prompt(stdout, prompt, &line)) != TERM_OK)
			return term_flow(r);
		w = line + strspn(line, " \t");
		w[strcspn(w, " \t")] = '\0';
		*choice_r = parse_choice(line, max);
		if (pages && (strcmp(w, "n") == 0 || strcmp(w, "p") == 0))
			*move_r = w[0] == 'n' ? 1 : -1;
		free(line);
		if (*choice_r != 0 || *move_r != 0)
			return FLOW_CONTINUE;
	}
}

/*
 * A list with the mailbox extension (MAILBOX_LIST, or MAILBOX_SEARCH
 * with query): unread marks, a page at a time with "n" and "p", then
 * the message chosen. query is stolen (NULL: the whole list).
 */
static enum flow
menu_browse(struct menu *m, json_t *query)
{
	long long per = page_size(), offset = 0, total, got, choice;
	struct msg *reply = NULL;
	enum flow flow = FLOW_CONTINUE;
	struct listing_entry e;
	const char *why, *id;
	json_t *p, *messages, *item;
	char *keep = NULL;
	size_t i;
	int h, move;

	for (;;) {
		p = query != NULL ? json_deep_copy(query) : json_object();
		json_object_set_new(p, "offset", json_integer(offset));
		json_object_set_new(p, "limit", json_integer(per));
		msg_free(reply);
		reply = NULL;
		if ((h = session_request(m->s,
		         query != NULL ? PROTO_MAILBOX_SEARCH
		                       : PROTO_MAILBOX_LIST,
		         p, &reply)) == -1) {
			flow = request_flow(m);
			goto done;
		}
		if (h == PROTO_ERROR) {
			show_error(reply);
			goto done;
		}
		if (listing_page(reply, &total, &got, &messages, &why) == -1) {
			printf("%s: %s\n",
			    _("unexpected reply from the server"), why);
			goto done;
		}
		if (total == 0) {
			printf("%s\n", query != NULL
			                   ? _("No message matches.")
			                   : _("Your mailbox is empty."));
			goto done;
		}
		json_array_foreach (messages, i, item)
			if (listing_entry(item, &e) == 0)
				listing_print(stdout, &e);
		if (total > per) {
			printf(_("Page %lld of %lld: n. Next page  p. Previous "
			         "page\n"),
			    offset / per + 1, (total + per - 1) / per);
		}
		/* Numbers are the whole list's (a search's are too). */
		if (listing_entry(json_array_get(messages,
		                      json_array_size(messages) - 1),
		        &e) == -1)
			e.number = total;
		if ((flow = ask_message(query != NULL ? e.number : total,
		         total > per, &choice, &move)) != FLOW_CONTINUE)
			goto done;
		if (move == 0)
			break;
		if (move > 0 && offset + per < total)
			offset += per;
		else if (move < 0 && offset >= per)
			offset -= per;
	}
	/* The id from the page when it is on it. */
	id = NULL;
	json_array_foreach (messages, i, item)
		if (listing_entry(item, &e) == 0 && e.number == choice)
			id = e.id;
	if (id != NULL && (keep = strdup(id)) == NULL) {
		perror("glomail");
		flow = FLOW_FAIL;
		goto done;
	}
	msg_free(reply);
	reply = NULL;
	flow = menu_read_id(m, choice, keep);
done:
	free(keep);
	msg_free(reply);
	json_decref(query);
	return flow;
}

/* List the mailbox, ask which message to open, show it. */
static enum flow
menu_read(struct menu *m)
{
	if (session_has(m->s, "mailbox"))
		return menu_browse(m, NULL);
	return menu_read_list_seed(m);
}

/* Search: one text, looked for in sender, recipients, subject, body. */
static enum flow
menu_search(struct menu *m)
{
	enum term_result r;
	char *text = NULL;
	json_t *q;

	if ((r = term_prompt(stdout,
	         _("Search for (sender, recipient, subject or text): "),
	         &text)) != TERM_OK)
		return term_flow(r);
	q = json_pack("{s:s}", "text", text);
	free(text);
	if (q == NULL) {
		printf("%s\n", _("the text is not valid UTF-8"));
		return FLOW_CONTINUE;
	}
	return menu_browse(m, q);
}

/*
 * Change the password: the current one, then the new one (the rule
 * checked at once, typed twice on a terminal), then the server's word.
 */
static enum flow
menu_passwd(struct menu *m)
{
	char *current = NULL, *fresh = NULL;
	struct msg *reply = NULL;
	enum flow flow = FLOW_CONTINUE;
	enum term_result r;
	json_t *p;
	int h;

	if ((r = term_password(stdout, _("Enter your current password: "),
	         &current)) != TERM_OK)
		return term_flow(r);
	if ((flow = new_password(_("Enter the new password: "),
	         _("Enter the new password again: "), &fresh)) !=
	        FLOW_CONTINUE ||
	    fresh == NULL)
		goto done;
	if ((p = json_pack("{s:s, s:s}", "password", current, "new_password",
	         fresh)) == NULL) {
		printf("%s\n", _("the text is not valid UTF-8"));
		goto done;
	}
	if ((h = session_request(m->s, PROTO_PASSWORD_CHANGE, p, &reply)) ==
	    -1) {
		flow = request_flow(m);
		goto done;
	}
	if (h == PROTO_ERROR)
		show_error(reply);
	else
		printf("%s\n", _("Password changed."));
done:
	msg_free(reply);
	term_forget(current);
	term_forget(fresh);
	return flow;
}

/*
 * Read the body up to a line holding only "." (not part of the body).
 * Past the frame limit the lines are still consumed, so the rest of the
 * body is not taken for menu answers, but *body_r is NULL.
 */
static enum flow
read_body(size_t max, char **body_r)
{
	char *body = NULL, *line, *grown;
	size_t len = 0, add;
	enum term_result r;
	int too_big = 0;

	*body_r = NULL;
	for (;;) {
		if ((r = term_prompt(NULL, NULL, &line)) != TERM_OK) {
			free(body);
			return term_flow(r);
		}
		if (strcmp(line, ".") == 0) {
			free(line);
			break;
		}
		add = strlen(line) + 1;
		if (!too_big && len + add > max)
			too_big = 1;
		if (!too_big) {
			if ((grown = realloc(body, len + add + 1)) == NULL) {
				free(line);
				free(body);
				perror("glomail");
				return FLOW_FAIL;
			}
			body = grown;
			if (len > 0)
				body[len++] = '\n';
			memcpy(body + len, line, add - 1);
			len += add - 1;
			body[len] = '\0';
		}
		free(line);
	}
	if (too_big) {
		free(body);
		printf("%s\n", _("the message is too large to send"));
		return FLOW_CONTINUE;
	}
	*body_r = body != NULL ? body : strdup("");
	if (*body_r == NULL) {
		perror("glomail");
		return FLOW_FAIL;
	}
	return FLOW_CONTINUE;
}

/*
 * Ask for recipient and subject, check both, then the body, and send:
 * a mistake in the address is caught before the body is typed.
 */
/*
 * What EMAIL_SENDING_MANY did for each recipient: "ADDR: Message sent."
 * or the reason it was not.
 */
static void
show_results(const struct msg *reply)
{
	json_t *list = json_object_get(msg_payload(reply), "recipients"), *item;
	const char *addr, *result, *reason;
	size_t i;

	json_array_foreach (list, i, item) {
		reason = NULL;
		if (json_unpack(item, "{s:s, s:s, s?s}", "address", &addr,
		        "result", &result, "reason", &reason) != 0)
			continue;
		term_show(stdout, addr);
		fputs(": ", stdout);
		if (strcmp(result, "delivered") == 0)
			printf("%s\n", _("Message sent."));
		else if (strcmp(result, "undeliverable") == 0)
			printf("%s\n",
			    i18n_server_text("no such recipient; the message "
			                     "was kept as undeliverable"));
		else {
			term_show(stdout,
			    i18n_server_text(reason != NULL ? reason : result));
			putchar('\n');
		}
	}
}

static enum flow
menu_send(struct menu *m)
{
	static char rcpt[REPLY_RCPT_MAX][COMPOSE_ADDR_MAX + 1];
	static char addrs[REPLY_RCPT_MAX][COMPOSE_ADDR_MAX + 1];
	const char *to_list[REPLY_RCPT_MAX];
	char *to = NULL, *subject = NULL, *body = NULL;
	char addr[COMPOSE_ADDR_MAX + 1], why[COMPOSE_WHY_MAX];
	int many = session_max_recipients_many(m->s) > 1;
	struct msg *reply = NULL;
	enum flow flow = FLOW_CONTINUE;
	enum term_result r;
	size_t n = 1, i, max;
	int h;

	if ((r = term_prompt(stdout,
	         many ? _("Enter the recipients' addresses (separated by "
	                  "commas): ")
	              : _("Enter the recipient's address: "),
	         &to)) != TERM_OK)
		return term_flow(r);
	if (many) {
		max = session_max_recipients_many(m->s) < REPLY_RCPT_MAX
		          ? session_max_recipients_many(m->s)
		          : REPLY_RCPT_MAX;
		n = split_recipients(to, rcpt, REPLY_RCPT_MAX);
		if (n > max) {
			printf(_("Too many recipients: at most %zu.\n"), max);
			goto done;
		}
		/* Every address checked before the subject is asked. */
		for (i = 0; i < n; i++) {
			if (compose_recipient(m->s, rcpt[i], addrs[i], why,
			        sizeof(why)) == -1) {
				term_show(stdout, rcpt[i]);
				fputs(": ", stdout);
				term_show(stdout, why);
				putchar('\n');
				goto done;
			}
			to_list[i] = addrs[i];
		}
		if (n == 0) {
			printf("%s\n", _("no recipient given"));
			goto done;
		}
		snprintf(addr, sizeof(addr), "%s", addrs[0]);
	} else if (compose_recipient(m->s, to, addr, why, sizeof(why)) == -1) {
		term_show(stdout, why);
		putchar('\n');
		goto done;
	}
	if ((r = term_prompt(stdout, _("Enter the subject: "), &subject)) !=
	    TERM_OK) {
		flow = term_flow(r);
		goto done;
	}
	if (compose_subject(m->s, subject, why, sizeof(why)) == -1) {
		printf("%s\n", why);
		goto done;
	}
	printf("%s\n",
	    _("Enter the message, end it with a '.' on a line of its own:"));
	if ((flow = read_body(session_max_frame(m->s), &body)) !=
	        FLOW_CONTINUE ||
	    body == NULL)
		goto done;
	/* One recipient goes as the seed sends, several in one message. */
	if ((h = n > 1 ? compose_send_many(m->s, to_list, n, NULL, 0, subject,
	                     body, NULL, NULL, &reply)
	               : compose_send(m->s, m->user, addr, subject, body,
	                     &reply)) == -1) {
		flow = request_flow(m);
		goto done;
	}
	if (h == PROTO_ERROR)
		show_error(reply);
	else if (n > 1)
		show_results(reply);
	else
		printf("%s\n", _("Message sent."));
done:
	msg_free(reply);
	free(body);
	free(subject);
	free(to);
	return flow;
}

/* With the quota extension: how much of the limit is used. */
static void
menu_quota(struct menu *m)
{
	char used[UNITS_LEN], limit[UNITS_LEN];
	struct msg *reply = NULL;
	json_t *p;

	if (!session_has(m->s, "quota") ||
	    session_request(m->s, PROTO_QUOTA, NULL, &reply) != PROTO_OK)
		goto done;
	p = msg_payload(reply);
	if (!json_is_integer(json_object_get(p, "used")) ||
	    !json_is_integer(json_object_get(p, "limit")) ||
	    json_integer_value(json_object_get(p, "limit")) == 0)
		goto done;
	units_format((long long)json_integer_value(json_object_get(p, "used")),
	    used);
	units_format((long long)json_integer_value(json_object_get(p, "limit")),
	    limit);
	printf(_("Quota: %s used of %s\n"), used, limit);
done:
	msg_free(reply);
}

/* Show the message count and the mailbox size. */
static enum flow
menu_stats(struct menu *m)
{
	char human[UNITS_LEN], bytes[UNITS_LEN];
	struct msg *reply = NULL;
	union msg_args a;
	const char *why;
	int h;

	if ((h = session_request(m->s, PROTO_STATS_REQUEST, NULL, &reply)) ==
	    -1)
		return request_flow(m);
	if (h == PROTO_ERROR) {
		show_error(reply);
	} else if (msg_unpack(reply, PROTO_SHAPE_STATS, &a, &why) == -1) {
		printf("%s: %s\n", _("unexpected reply from the server"), why);
	} else {
		units_format(a.stats.size, human);
		units_bytes(a.stats.size, bytes);
		printf("\n");
		printf(_("Number of messages: %lld\n"), a.stats.count);
		if (a.stats.size < 1000)
			printf(_("Mailbox size: %s\n"), bytes);
		else
			printf(_("Mailbox size: %s (%s)\n"), human, bytes);
		menu_quota(m);
	}
	msg_free(reply);
	return FLOW_CONTINUE;
}

/*
 * The automatic reply: a subject turns it on (then the text and an
 * optional last day), an empty one turns it off.
 */
static enum flow
menu_vacation(struct menu *m)
{
	char *subject = NULL, *until = NULL, *text = NULL;
	char why[COMPOSE_WHY_MAX];
	struct msg *reply = NULL;
	enum flow flow = FLOW_CONTINUE;
	enum term_result r;
	long long end = 0;
	json_t *p;
	int h;

	if ((r = term_prompt(stdout,
	         _("Enter the subject of the automatic "
	           "reply (empty turns it off): "),
	         &subject)) != TERM_OK)
		return term_flow(r);
	if (subject[0] == '\0')
		p = json_pack("{s:b}", "on", 0);
	else {
		if (compose_subject(m->s, subject, why, sizeof(why)) == -1) {
			printf("%s\n", why);
			goto done;
		}
		if ((r = term_prompt(stdout,
		         _("Enter the last day, "
		           "YYYY-MM-DD (empty for none): "),
		         &until)) != TERM_OK) {
			flow = term_flow(r);
			goto done;
		}
		if (until[0] != '\0' && (end = reply_date_end(until)) == -1) {
			printf("%s\n", _("invalid date, expected YYYY-MM-DD"));
			goto done;
		}
		printf("%s\n", _("Enter the message, end it with a '.' on a "
		                 "line of its own:"));
		if ((flow = read_body(session_max_frame(m->s), &text)) !=
		        FLOW_CONTINUE ||
		    text == NULL)
			goto done;
		p = json_pack("{s:b, s:s, s:s, s:I}", "on", 1, "subject",
		    subject, "text", text, "until", (json_int_t)end);
	}
	if (p == NULL) {
		printf("%s\n", _("the text is not valid UTF-8"));
		goto done;
	}
	if ((h = session_request(m->s, PROTO_VACATION, p, &reply)) == -1) {
		flow = request_flow(m);
		goto done;
	}
	if (h == PROTO_ERROR)
		show_error(reply);
	else
		printf("%s\n", subject[0] == '\0'
		                   ? _("Automatic reply turned off.")
		                   : _("Automatic reply turned on."));
done:
	msg_free(reply);
	free(subject);
	free(until);
	free(text);
	return flow;
}

/* The main menu, until log out (FLOW_CONTINUE), quit or failure. */
static enum flow
menu_main(struct menu *m)
{
	int vacation = session_has(m->s, "vacation");
	int search = session_has(m->s, "mailbox");
	int passwd = session_has(m->s, "password");
	long long choice, max;
	enum flow flow;

	/* The seed's four keep their numbers; each extension has its own,
	 * shown when the server has it. */
	max = passwd ? 7 : search ? 6 : vacation ? 5 : 4;
	for (;;) {
		show_notices(m);
		printf("\n%s", _("Main menu\n"
		                 "1. Read mail\n"
		                 "2. Send mail\n"
		                 "3. Statistics\n"
		                 "4. Log out\n"));
		if (vacation)
			printf("%s", _("5. Automatic reply\n"));
		if (search)
			printf("%s", _("6. Search mail\n"));
		if (passwd)
			printf("%s", _("7. Change the password\n"));
		if ((flow = ask_choice(max, &choice)) != FLOW_CONTINUE)
			return flow;
		if ((choice == 5 && !vacation) || (choice == 6 && !search))
			continue;
		switch (choice) {
		case 5:
			flow = menu_vacation(m);
			break;
		case 6:
			flow = menu_search(m);
			break;
		case 7:
			flow = menu_passwd(m);
			break;
		case 1:
			flow = menu_read(m);
			break;
		case 2:
			flow = menu_send(m);
			break;
		case 3:
			flow = menu_stats(m);
			break;
		default:
			/* Log out has no reply: reading one would hang. */
			if (session_notify(m->s, PROTO_AUTH_LOGOUT) == -1)
				return request_flow(m);
			m->user[0] = '\0';
			m->notices = 0;
			printf("%s\n", _("Logged out."));
			return FLOW_CONTINUE;
		}
		if (flow != FLOW_CONTINUE)
			return flow;
	}
}

int
menu_run(struct session *s)
{
	struct menu m = { .s = s };
	enum flow flow = FLOW_CONTINUE;
	long long choice;
	int in;

	while (flow == FLOW_CONTINUE) {
		printf("\n%s", _("Connection menu\n"
		                 "1. Create an account\n"
		                 "2. Log in\n"
		                 "3. Quit\n"));
		if ((flow = ask_choice(3, &choice)) != FLOW_CONTINUE)
			break;
		if (choice == 3) {
			flow = FLOW_QUIT;
			break;
		}
		flow = menu_auth(&m,
		    choice == 1 ? PROTO_AUTH_REGISTER : PROTO_AUTH_LOGIN, &in);
		if (flow == FLOW_CONTINUE && in)
			flow = menu_main(&m);
	}
	fflush(stdout);
	return flow == FLOW_QUIT ? SESSION_EXIT_OK : SESSION_EXIT_FAILED;
}
