/*
 * cmd.c - scriptable commands: register, send, list, read N, stats.
 *
 * Output is for scripts: data on stdout under fixed field names that no
 * locale changes, diagnostics on stderr. With --json each server payload
 * is printed as one JSON line instead, ERROR payloads included.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "cmd.h"
#include "compose.h"
#include "i18n.h"
#include "msg.h"
#include "proto.h"
#include "rules.h"
#include "session.h"
#include "term.h"
#include "units.h"

static const struct {
	const char *word;
	enum cmd_verb verb;
} verbs[] = {
	{ "register", CMD_REGISTER },
	{ "send", CMD_SEND },
	{ "list", CMD_LIST },
	{ "read", CMD_READ },
	{ "stats", CMD_STATS },
};

enum cmd_verb
cmd_lookup(const char *word)
{
	size_t i;

	for (i = 0; i < sizeof(verbs) / sizeof(verbs[0]); i++)
		if (strcmp(word, verbs[i].word) == 0)
			return verbs[i].verb;
	return CMD_NONE;
}

/* Print a payload as one compact JSON line ({} when there is none). */
static void
print_json(const struct msg *reply)
{
	json_t *p = msg_payload(reply);
	char *text;

	text = p != NULL ? json_dumps(p, JSON_COMPACT) : NULL;
	printf("%s\n", text != NULL ? text : "{}");
	free(text);
}

/*
 * 1 when the server answered ERROR: the reason goes to stderr (and the
 * payload to stdout with --json). 0 for OK.
 */
static int
refused(const struct cmd_opts *o, const struct msg *reply)
{
	if (msg_header(reply) == PROTO_OK)
		return 0;
	if (o->json)
		print_json(reply);
	/* A seed server's own text is shown as sent: made safe first. */
	fputs("glomail: ", stderr);
	term_show(stderr, session_error_text(reply));
	fputc('\n', stderr);
	return 1;
}

/* A reply that does not have the shape its request calls for. */
static int
malformed(const char *why)
{
	fprintf(stderr, "glomail: %s: %s\n",
	    _("unexpected reply from the server"), why);
	return SESSION_EXIT_FAILED;
}

/*
 * The password from the environment, the terminal, or stdin's first line.
 * A new one (register) typed on the terminal is checked against the rules
 * and asked twice: nobody sees what they typed. Returns 0, or an exit
 * code: SESSION_EXIT_REFUSED for a password the rules refuse.
 */
static int
get_password(int twice, char **password_r)
{
	const char *env = getenv("GLOMAIL_PASSWORD");
	FILE *out = isatty(STDIN_FILENO) ? stderr : NULL;
	enum term_result r;
	const char *why;
	char *again;

	if (env != NULL) {
		*password_r = strdup(env);
		if (*password_r == NULL) {
			perror("glomail");
			return SESSION_EXIT_FAILED;
		}
		return 0;
	}
	r = term_password(out, _("Password: "), password_r);
	if (r == TERM_EOF)
		fprintf(stderr, "glomail: %s\n", _("no password given"));
	if (r != TERM_OK)
		return SESSION_EXIT_FAILED;
	if (!twice || out == NULL)
		return 0;
	/* The rule first: a weak password is not worth typing again. */
	if (rules_password(*password_r, &why) == -1) {
		fprintf(stderr, "glomail: %s\n", i18n_server_text(why));
		term_forget(*password_r);
		*password_r = NULL;
		return SESSION_EXIT_REFUSED;
	}
	r = term_password(out, _("Password again: "), &again);
	if (r == TERM_EOF)
		fprintf(stderr, "glomail: %s\n", _("no password given"));
	if (r != TERM_OK)
		goto fail;
	r = strcmp(again, *password_r) == 0 ? TERM_OK : TERM_ERROR;
	term_forget(again);
	if (r == TERM_OK)
		return 0;
	fprintf(stderr, "glomail: %s\n", _("the passwords do not match"));
fail:
	term_forget(*password_r);
	*password_r = NULL;
	return SESSION_EXIT_FAILED;
}

/*
 * The body of a message to send: all of stdin. At a terminal, a line
 * holding only "." also ends it, as in the menus.
 */
static int
read_body(size_t max, char **body_r)
{
	int tty = isatty(STDIN_FILENO);
	char *body = NULL, *grown;
	size_t len = 0, cap = 0;
	char buf[4096];
	size_t n;

	if (tty)
		fprintf(stderr, "%s\n", _("Enter the message, end it with a "
		    "'.' on a line of its own:"));
	for (;;) {
		if (tty) {
			if (fgets(buf, sizeof(buf), stdin) == NULL)
				break;
			if (strcmp(buf, ".\n") == 0 || strcmp(buf, ".") == 0)
				break;
			n = strlen(buf);
		} else if ((n = fread(buf, 1, sizeof(buf), stdin)) == 0) {
			break;
		}
		if (len + n > max) {
			fprintf(stderr, "glomail: %s\n",
			    _("the message is too large to send"));
			goto fail;
		}
		if (len + n + 1 > cap) {
			cap = (len + n + 1) * 2;
			if ((grown = realloc(body, cap)) == NULL) {
				perror("glomail");
				goto fail;
			}
			body = grown;
		}
		memcpy(body + len, buf, n);
		len += n;
	}
	if (ferror(stdin)) {
		fprintf(stderr, "glomail: %s: %s\n", _("read error"),
		    strerror(errno));
		goto fail;
	}
	if (body == NULL && (body = malloc(1)) == NULL) {
		perror("glomail");
		goto fail;
	}
	/* One final newline is how text files end, not part of the message. */
	if (len > 0 && body[len - 1] == '\n')
		len--;
	body[len] = '\0';
	*body_r = body;
	return 0;
fail:
	free(body);
	return -1;
}

/* send: the body from stdin to the recipient checked by cmd_run. */
static int
cmd_send(struct session *s, const struct cmd_opts *o, const char *addr)
{
	struct msg *reply = NULL;
	char *body = NULL;
	int rc = SESSION_EXIT_FAILED;

	if (read_body(session_max_frame(s), &body) == -1)
		return SESSION_EXIT_FAILED;
	if (compose_send(s, o->user, addr, o->subject, body, &reply) == -1)
		goto done;
	if (refused(o, reply)) {
		rc = SESSION_EXIT_REFUSED;
		goto done;
	}
	if (o->json)
		print_json(reply);
	rc = SESSION_EXIT_OK;
done:
	msg_free(reply);
	free(body);
	return rc;
}

/* list: the server's lines as they are, newest first. */
static int
cmd_list(struct session *s, const struct cmd_opts *o)
{
	struct msg *reply = NULL;
	union msg_args a;
	const char *why;
	json_t *item;
	size_t i;
	int rc = SESSION_EXIT_FAILED;

	if (session_request(s, PROTO_INBOX_READING_REQUEST, NULL, &reply) ==
	    -1)
		return SESSION_EXIT_FAILED;
	if (refused(o, reply)) {
		rc = SESSION_EXIT_REFUSED;
		goto done;
	}
	if (msg_unpack(reply, PROTO_SHAPE_EMAIL_LIST, &a, &why) == -1) {
		rc = malformed(why);
		goto done;
	}
	if (o->json)
		print_json(reply);
	else
		json_array_foreach(a.email_list, i, item) {
			term_show(stdout, json_string_value(item));
			putchar('\n');
		}
	rc = SESSION_EXIT_OK;
done:
	msg_free(reply);
	return rc;
}

/* One "Name: value" line, the value made safe for a terminal. */
static void
put_field(const char *name, const char *value)
{
	fputs(name, stdout);
	term_show(stdout, value != NULL ? value : "");
	putchar('\n');
}

/* read N: one message, in mail header style. */
static int
cmd_read(struct session *s, const struct cmd_opts *o)
{
	struct msg *list = NULL, *reply = NULL;
	union msg_args a;
	const char *why;
	int rc;

	/*
	 * The server numbers messages in the order of the last list it
	 * sent on this connection, so the choice must follow a list.
	 */
	if (session_request(s, PROTO_INBOX_READING_REQUEST, NULL, &list) == -1)
		return SESSION_EXIT_FAILED;
	if (refused(o, list)) {
		rc = SESSION_EXIT_REFUSED;
		goto done;
	}
	if (session_request(s, PROTO_INBOX_READING_CHOICE,
	    msg_choice_new(o->number), &reply) == -1) {
		rc = SESSION_EXIT_FAILED;
		goto done;
	}
	if (refused(o, reply)) {
		rc = SESSION_EXIT_REFUSED;
		goto done;
	}
	if (msg_unpack(reply, PROTO_SHAPE_EMAIL, &a, &why) == -1) {
		rc = malformed(why);
		goto done;
	}
	if (o->json) {
		print_json(reply);
	} else {
		/* Mail header style: grep '^Subject:' works on it. */
		put_field("From: ", a.email.sender);
		put_field("To: ", a.email.destination);
		put_field("Subject: ", a.email.subject);
		put_field("Date: ", a.email.date);
		putchar('\n');
		put_field("", a.email.content);
	}
	rc = SESSION_EXIT_OK;
done:
	msg_free(reply);
	msg_free(list);
	return rc;
}

/* stats: count, exact size, and size in human units. */
static int
cmd_stats(struct session *s, const struct cmd_opts *o)
{
	char human[UNITS_LEN];
	struct msg *reply = NULL;
	union msg_args a;
	const char *why;
	int rc;

	if (session_request(s, PROTO_STATS_REQUEST, NULL, &reply) == -1)
		return SESSION_EXIT_FAILED;
	if (refused(o, reply)) {
		rc = SESSION_EXIT_REFUSED;
		goto done;
	}
	if (msg_unpack(reply, PROTO_SHAPE_STATS, &a, &why) == -1) {
		rc = malformed(why);
		goto done;
	}
	if (o->json) {
		print_json(reply);
	} else {
		units_format(a.stats.size, human);
		printf("messages: %lld\nsize: %lld\nsize_human: %s\n",
		    a.stats.count, a.stats.size, human);
	}
	rc = SESSION_EXIT_OK;
done:
	msg_free(reply);
	return rc;
}

/*
 * What send and register can check before the password is asked and the
 * body read. Returns an exit code, SESSION_EXIT_OK to go on.
 */
static int
precheck(const struct session *s, const struct cmd_opts *o,
    char addr_r[COMPOSE_ADDR_MAX + 1])
{
	char lower[RULES_USERNAME_MAX + 1], why[COMPOSE_WHY_MAX];
	const char *reason;

	if (o->verb == CMD_REGISTER &&
	    rules_username(o->user, lower, &reason) == -1) {
		fprintf(stderr, "glomail: %s\n", i18n_server_text(reason));
		return SESSION_EXIT_REFUSED;
	}
	if (o->verb != CMD_SEND)
		return SESSION_EXIT_OK;
	/* Refused whole rather than sent to some: nobody gets a part. */
	if (o->nto > session_max_recipients(s)) {
		fprintf(stderr, "glomail: ");
		fprintf(stderr, _("too many recipients: --to was given %zu "
		    "times, the server takes at most %zu per message; nothing "
		    "was sent"), o->nto, session_max_recipients(s));
		fputc('\n', stderr);
		return SESSION_EXIT_FAILED;
	}
	if (compose_recipient(s, o->to[0], addr_r, why, sizeof(why)) == -1 ||
	    compose_subject(s, o->subject, why, sizeof(why)) == -1) {
		fputs("glomail: ", stderr);
		term_show(stderr, why);
		fputc('\n', stderr);
		return SESSION_EXIT_REFUSED;
	}
	return SESSION_EXIT_OK;
}

int
cmd_run(struct session *s, const struct cmd_opts *o)
{
	char addr[COMPOSE_ADDR_MAX + 1];
	struct msg *reply = NULL;
	char *password = NULL;
	json_t *payload;
	int rc;

	if ((rc = precheck(s, o, addr)) != SESSION_EXIT_OK)
		return rc;
	if ((rc = get_password(o->verb == CMD_REGISTER, &password)) != 0)
		return rc;
	rc = SESSION_EXIT_FAILED;
	if ((payload = msg_credentials_new(o->user, password)) == NULL) {
		fprintf(stderr, "glomail: %s\n",
		    _("the text is not valid UTF-8"));
		goto done;
	}
	if (session_request(s, o->verb == CMD_REGISTER ? PROTO_AUTH_REGISTER :
	    PROTO_AUTH_LOGIN, payload, &reply) == -1)
		goto done;
	if (refused(o, reply)) {
		rc = SESSION_EXIT_REFUSED;
		goto done;
	}
	switch (o->verb) {
	case CMD_SEND:
		rc = cmd_send(s, o, addr);
		break;
	case CMD_LIST:
		rc = cmd_list(s, o);
		break;
	case CMD_READ:
		rc = cmd_read(s, o);
		break;
	case CMD_STATS:
		rc = cmd_stats(s, o);
		break;
	default: /* register: logging in was the whole job */
		if (o->json)
			print_json(reply);
		else if (isatty(STDERR_FILENO))
			fprintf(stderr, "glomail: %s\n", _("account created"));
		rc = SESSION_EXIT_OK;
		break;
	}
done:
	msg_free(reply);
	term_forget(password);
	return rc;
}
