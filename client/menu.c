/*
 * menu.c - the interactive flows of the original client: connection menu
 * (create an account, log in, quit), then main menu (read, send,
 * statistics, log out).
 *
 * Every step returns a flow value: carry on, quit (the user asked, or
 * input ended: both exit 0 after BYE), or fail (the server is gone or
 * stdin broke). Prompts and displays go to stdout, as the original's
 * print() and input() did.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "compose.h"
#include "i18n.h"
#include "menu.h"
#include "msg.h"
#include "proto.h"
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
new_password(char **password_r)
{
	char *password = NULL, *again = NULL;
	enum term_result r;
	const char *why;
	enum flow flow = FLOW_CONTINUE;

	*password_r = NULL;
	if ((r = term_password(stdout, _("Enter a password: "), &password)) !=
	    TERM_OK)
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
	if ((r = term_password(stdout, _("Enter the password again: "),
	    &again)) != TERM_OK) {
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
		if ((flow = new_password(&password)) != FLOW_CONTINUE ||
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
done:
	msg_free(reply);
	free(user);
	term_forget(password);
	return flow;
}

/* Show one message: the original's "De : / À : / Sujet : / Date :". */
static void
show_email(const struct msg_email *e)
{
	char *f[5];
	size_t i;

	/* Every field made safe for the terminal first. */
	f[0] = term_safe(stdout, e->sender != NULL ? e->sender : "");
	f[1] = term_safe(stdout, e->destination);
	f[2] = term_safe(stdout, e->subject);
	f[3] = term_safe(stdout, e->date != NULL ? e->date : "");
	f[4] = term_safe(stdout, e->content);
	for (i = 0; i < 5; i++)
		if (f[i] == NULL) {
			perror("glomail");
			goto done;
		}
	printf("\n");
	printf(_("From: %s\n"), f[0]);
	printf(_("To: %s\n"), f[1]);
	printf(_("Subject: %s\n"), f[2]);
	printf(_("Date: %s\n"), f[3]);
	printf("----------------------------------------\n");
	printf("%s\n", f[4]);
done:
	for (i = 0; i < 5; i++)
		free(f[i]);
}

/* List the mailbox, ask which message to open, show it. */
static enum flow
menu_read(struct menu *m)
{
	struct msg *list = NULL, *reply = NULL;
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
	json_array_foreach(a.email_list, i, item) {
		term_show(stdout, json_string_value(item));
		putchar('\n');
	}
	if ((flow = ask_choice((long long)n, &choice)) != FLOW_CONTINUE)
		goto done;
	if ((h = session_request(m->s, PROTO_INBOX_READING_CHOICE,
	    msg_choice_new(choice), &reply)) == -1) {
		flow = request_flow(m);
		goto done;
	}
	if (h == PROTO_ERROR) {
		show_error(reply);
		goto done;
	}
	if (msg_unpack(reply, PROTO_SHAPE_EMAIL, &a, &why) == -1) {
		printf("%s: %s\n", _("unexpected reply from the server"), why);
		goto done;
	}
	show_email(&a.email);
done:
	msg_free(reply);
	msg_free(list);
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
static enum flow
menu_send(struct menu *m)
{
	char *to = NULL, *subject = NULL, *body = NULL;
	char addr[COMPOSE_ADDR_MAX + 1], why[COMPOSE_WHY_MAX];
	struct msg *reply = NULL;
	enum flow flow = FLOW_CONTINUE;
	enum term_result r;
	int h;

	if ((r = term_prompt(stdout, _("Enter the recipient's address: "),
	    &to)) != TERM_OK)
		return term_flow(r);
	if (compose_recipient(m->s, to, addr, why, sizeof(why)) == -1) {
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
	    FLOW_CONTINUE || body == NULL)
		goto done;
	if ((h = compose_send(m->s, m->user, addr, subject, body,
	    &reply)) == -1) {
		flow = request_flow(m);
		goto done;
	}
	if (h == PROTO_ERROR)
		show_error(reply);
	else
		printf("%s\n", _("Message sent."));
done:
	msg_free(reply);
	free(body);
	free(subject);
	free(to);
	return flow;
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
	}
	msg_free(reply);
	return FLOW_CONTINUE;
}

/* The main menu, until log out (FLOW_CONTINUE), quit or failure. */
static enum flow
menu_main(struct menu *m)
{
	enum flow flow;
	long long choice;

	for (;;) {
		printf("\n%s", _("Main menu\n"
				 "1. Read mail\n"
				 "2. Send mail\n"
				 "3. Statistics\n"
				 "4. Log out\n"));
		if ((flow = ask_choice(4, &choice)) != FLOW_CONTINUE)
			return flow;
		switch (choice) {
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
		flow = menu_auth(&m, choice == 1 ? PROTO_AUTH_REGISTER :
		    PROTO_AUTH_LOGIN, &in);
		if (flow == FLOW_CONTINUE && in)
			flow = menu_main(&m);
	}
	fflush(stdout);
	return flow == FLOW_QUIT ? SESSION_EXIT_OK : SESSION_EXIT_FAILED;
}
