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
#include <time.h>
#include <unistd.h>

#include "frame.h"
#include "i18n.h"
#include "cmd.h"
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
	fprintf(stderr, "glomail: %s\n", session_error_text(reply));
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

/* The password from the environment, the terminal, or stdin's first line. */
static int
get_password(char **password_r)
{
	const char *env = getenv("GLOMAIL_PASSWORD");
	FILE *out = isatty(STDIN_FILENO) ? stderr : NULL;
	enum term_result r;

	if (env != NULL) {
		*password_r = strdup(env);
		if (*password_r == NULL) {
			perror("glomail");
			return -1;
		}
		return 0;
	}
	r = term_password(out, _("Password: "), password_r);
	if (r == TERM_EOF)
		fprintf(stderr, "glomail: %s\n", _("no password given"));
	return r == TERM_OK ? 0 : -1;
}

/*
 * The body of a message to send: all of stdin. At a terminal, a line
 * holding only "." also ends it, as in the menus.
 */
static int
read_body(char **body_r)
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
		if (len + n > FRAME_MAX_DEFAULT) {
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

/* send: the body from stdin, sender and date filled in as the original does. */
static int
cmd_send(struct session *s, const struct cmd_opts *o)
{
	char sender[RULES_USERNAME_MAX + sizeof(PROTO_DEFAULT_DOMAIN) + 1];
	char date[RULES_DATE_LEN];
	struct msg *reply = NULL;
	struct msg_email e;
	char *body = NULL;
	json_t *payload;
	int rc = SESSION_EXIT_FAILED;

	if (read_body(&body) == -1)
		return SESSION_EXIT_FAILED;
	/* Seed servers store sender and date as sent; glomaild checks them. */
	snprintf(sender, sizeof(sender), "%s@%s", o->user,
	    PROTO_DEFAULT_DOMAIN);
	rules_date(time(NULL), date);
	e.sender = sender;
	e.destination = o->to;
	e.subject = o->subject;
	e.date = date;
	e.content = body;
	if ((payload = msg_email_new(&e)) == NULL) {
		fprintf(stderr, "glomail: %s\n",
		    _("the text is not valid UTF-8"));
		goto done;
	}
	if (session_request(s, PROTO_EMAIL_SENDING, payload, &reply) == -1)
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
		json_array_foreach(a.email_list, i, item)
			printf("%s\n", json_string_value(item));
	rc = SESSION_EXIT_OK;
done:
	msg_free(reply);
	return rc;
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
		printf("From: %s\nTo: %s\nSubject: %s\nDate: %s\n\n%s\n",
		    a.email.sender != NULL ? a.email.sender : "",
		    a.email.destination, a.email.subject,
		    a.email.date != NULL ? a.email.date : "", a.email.content);
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

int
cmd_run(struct session *s, const struct cmd_opts *o)
{
	struct msg *reply = NULL;
	char *password = NULL;
	json_t *payload;
	int rc = SESSION_EXIT_FAILED;

	if (get_password(&password) == -1)
		return SESSION_EXIT_FAILED;
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
		rc = cmd_send(s, o);
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
		rc = SESSION_EXIT_OK;
		break;
	}
done:
	msg_free(reply);
	term_forget(password);
	return rc;
}
