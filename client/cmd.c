/*
 * cmd.c - scriptable commands: register, send, list, read, stats, reply,
 * forward, vacation, and the mailbox extension's delete, mark, search,
 * passwd and watch.
 *
 * Output is for scripts: data on stdout under fixed field names that no
 * locale changes, diagnostics on stderr. With --json each server payload
 * is printed as one JSON line instead, ERROR payloads included.
 */
#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <unistd.h>

#include "cmd.h"
#include "compose.h"
#include "i18n.h"
#include "listing.h"
#include "msg.h"
#include "proto.h"
#include "reply.h"
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
	{ "reply", CMD_REPLY },
	{ "forward", CMD_FORWARD },
	{ "vacation", CMD_VACATION },
	{ "delete", CMD_DELETE },
	{ "mark", CMD_MARK },
	{ "search", CMD_SEARCH },
	{ "passwd", CMD_PASSWD },
	{ "watch", CMD_WATCH },
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

/* Entries of a page when --page is given without --per-page. */
#define CMD_PER_PAGE 20

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
		fprintf(stderr, "%s\n",
		    _("Enter the message, end it with a "
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

/* 1 when send goes through EMAIL_SENDING_MANY: several, or a cc. */
static int
send_many(const struct cmd_opts *o)
{
	return o->nto + o->ncc > 1 || o->ncc > 0;
}

static int many_results(const struct cmd_opts *, const struct msg *);

/*
 * send to several: one message, then what became of each recipient:
 * "delivered: ADDR", "undeliverable: ADDR" or "refused: ADDR: reason".
 * Exit 1 unless every one was delivered.
 */
static int
cmd_send_many(struct session *s, const struct cmd_opts *o)
{
	static char to[CMD_TO_MAX][COMPOSE_ADDR_MAX + 1];
	static char cc[CMD_TO_MAX][COMPOSE_ADDR_MAX + 1];
	static const char *pto[CMD_TO_MAX], *pcc[CMD_TO_MAX];
	struct msg *reply = NULL;
	char *body = NULL;
	size_t i;
	int rc = SESSION_EXIT_FAILED;

	/* Checked by precheck: each completes. */
	for (i = 0; i < o->nto; i++) {
		(void)compose_complete(s, o->to[i], to[i]);
		pto[i] = to[i];
	}
	for (i = 0; i < o->ncc; i++) {
		(void)compose_complete(s, o->cc[i], cc[i]);
		pcc[i] = cc[i];
	}
	if (read_body(session_max_frame(s), &body) == -1)
		return SESSION_EXIT_FAILED;
	if (compose_send_many(s, pto, o->nto, pcc, o->ncc, o->subject, body,
	        NULL, NULL, &reply) == -1)
		goto done;
	rc = many_results(o, reply);
done:
	msg_free(reply);
	free(body);
	return rc;
}

/*
 * What became of each recipient of an EMAIL_SENDING_MANY, one line each
 * (or the payload with --json). Returns the exit code: 1 unless every one
 * was delivered.
 */
static int
many_results(const struct cmd_opts *o, const struct msg *reply)
{
	const char *addr, *result, *reason;
	json_t *list, *item;
	size_t i;
	int rc;

	if (refused(o, reply))
		return SESSION_EXIT_REFUSED;
	list = json_object_get(msg_payload(reply), "recipients");
	if (!json_is_array(list))
		return malformed("recipients missing");
	if (o->json)
		print_json(reply);
	rc = SESSION_EXIT_OK;
	json_array_foreach (list, i, item) {
		reason = NULL;
		if (json_unpack(item, "{s:s, s:s, s?s}", "address", &addr,
		        "result", &result, "reason", &reason) != 0)
			return malformed("recipient without address or result");
		if (strcmp(result, "delivered") != 0)
			rc = SESSION_EXIT_REFUSED;
		if (o->json)
			continue;
		/* The result's word is the protocol's, for scripts. */
		term_show(stdout, result);
		fputs(": ", stdout);
		term_show(stdout, addr);
		if (reason != NULL) {
			fputs(": ", stdout);
			term_show(stdout, i18n_server_text(reason));
		}
		putchar('\n');
	}
	return rc;
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

/* list on a seed server: its lines as they are, newest first. */
static int
cmd_list_seed(struct session *s, const struct cmd_opts *o)
{
	struct msg *reply = NULL;
	union msg_args a;
	const char *why;
	json_t *item;
	size_t i;
	int rc = SESSION_EXIT_FAILED;

	if (session_request(s, PROTO_INBOX_READING_REQUEST, NULL, &reply) == -1)
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
		json_array_foreach (a.email_list, i, item) {
			term_show(stdout, json_string_value(item));
			putchar('\n');
		}
	rc = SESSION_EXIT_OK;
done:
	msg_free(reply);
	return rc;
}

/* unread, offset and limit of a list or search, from the options. */
static int
add_page(json_t *p, const struct cmd_opts *o)
{
	long long per = o->per_page, page = o->page;

	if (per == 0 && page != 0)
		per = CMD_PER_PAGE;
	if (page == 0)
		page = 1;
	if (o->unread && json_object_set_new(p, "unread", json_true()) == -1)
		return -1;
	if (per == 0)
		return 0;
	return json_object_set_new(p, "offset",
	           json_integer((json_int_t)((page - 1) * per))) == -1 ||
	               json_object_set_new(p, "limit",
	                   json_integer((json_int_t)per)) == -1
	           ? -1
	           : 0;
}

/*
 * list or search with the mailbox extension: one line per message,
 * '*' marking the unread ('!' the flagged), or one JSON object per line.
 */
static int
cmd_entries(struct session *s, const struct cmd_opts *o, int header, json_t *p)
{
	struct msg *reply = NULL;
	struct listing_entry e;
	long long total, offset;
	json_t *messages, *item;
	const char *why;
	char *text;
	size_t i;
	int rc = SESSION_EXIT_FAILED;

	if (p == NULL || add_page(p, o) == -1) {
		json_decref(p);
		fprintf(stderr, "glomail: %s\n",
		    _("the text is not valid UTF-8"));
		return SESSION_EXIT_FAILED;
	}
	if (session_request(s, header, p, &reply) == -1)
		return SESSION_EXIT_FAILED;
	if (refused(o, reply)) {
		rc = SESSION_EXIT_REFUSED;
		goto done;
	}
	if (listing_page(reply, &total, &offset, &messages, &why) == -1) {
		rc = malformed(why);
		goto done;
	}
	json_array_foreach (messages, i, item) {
		if (listing_entry(item, &e) == -1) {
			rc = malformed("a message without its fields");
			goto done;
		}
		if (!o->json) {
			listing_print(stdout, &e);
			continue;
		}
		if ((text = json_dumps(item, JSON_COMPACT)) == NULL) {
			perror("glomail");
			goto done;
		}
		printf("%s\n", text);
		free(text);
	}
	/* Where a page stands, for a person: never mixed into the data. */
	if (o->page != 0 && isatty(STDERR_FILENO)) {
		fprintf(stderr, _("page %lld: messages %lld to %lld of %lld"),
		    o->page, offset + 1,
		    offset + (long long)json_array_size(messages), total);
		fputc('\n', stderr);
	}
	rc = SESSION_EXIT_OK;
done:
	msg_free(reply);
	return rc;
}

/* list: the mailbox, newest first. */
static int
cmd_list(struct session *s, const struct cmd_opts *o)
{
	if (!session_has(s, "mailbox"))
		return cmd_list_seed(s, o);
	return cmd_entries(s, o, PROTO_MAILBOX_LIST, json_object());
}

/* search: the criteria given, all of them (AND). */
static int
cmd_search(struct session *s, const struct cmd_opts *o)
{
	const char *keys[] = { "from", "to", "subject", "body", "text", "since",
		"before" };
	const char *vals[] = { o->from, o->nto > 0 ? o->to[0] : NULL,
		o->subject, o->body, o->text, o->since, o->before };
	json_t *p = json_object();
	size_t i;

	for (i = 0; p != NULL && i < sizeof(keys) / sizeof(keys[0]); i++)
		if (vals[i] != NULL && json_object_set_new(p, keys[i],
		                           json_string(vals[i])) == -1) {
			json_decref(p);
			p = NULL;
		}
	return cmd_entries(s, o, PROTO_MAILBOX_SEARCH, p);
}

/*
 * A refusal found by the client itself, worded as the server words it:
 * shown as refused() shows an ERROR, exit 1.
 */
static int
refused_here(const struct cmd_opts *o, const char *text)
{
	json_t *p;
	char *dump;

	if (o->json) {
		p = json_pack("{s:s}", "error_message", text);
		dump = p != NULL ? json_dumps(p, JSON_COMPACT) : NULL;
		printf("%s\n", dump != NULL ? dump : "{}");
		free(dump);
		json_decref(p);
	}
	fprintf(stderr, "glomail: %s\n", i18n_server_text(text));
	return SESSION_EXIT_REFUSED;
}

/*
 * The ids of the targets (numbers looked up in the list, ids as given),
 * in a new array. Returns SESSION_EXIT_OK with *ids_r set, or an exit
 * code after saying why.
 */
static int
target_ids(struct session *s, const struct cmd_opts *o, json_t **ids_r)
{
	struct msg *err = NULL;
	json_t *ids = json_array();
	char *id = NULL;
	long long n;
	size_t i;
	int h, rc = SESSION_EXIT_FAILED;

	for (i = 0; ids != NULL && i < o->ntargets; i++) {
		if (!listing_number(o->targets[i], &n)) {
			if (json_array_append_new(ids,
			        json_string(o->targets[i])) == -1)
				goto fail;
			continue;
		}
		if ((h = listing_id(s, n, &id, &err)) == PROTO_ERROR) {
			rc = refused(o, err) ? SESSION_EXIT_REFUSED : rc;
			goto fail;
		}
		if (h == 0) {
			rc = refused_here(o, "choice out of range");
			goto fail;
		}
		if (h == -1 ||
		    json_array_append_new(ids, json_string(id)) == -1)
			goto fail;
		free(id);
		id = NULL;
	}
	if (ids == NULL)
		goto fail;
	*ids_r = ids;
	return SESSION_EXIT_OK;
fail:
	if (rc == SESSION_EXIT_FAILED && !session_lost(s))
		fprintf(stderr, "glomail: %s\n", _("out of memory"));
	free(id);
	msg_free(err);
	json_decref(ids);
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

/* Print a read reply: mail header style, or the payload as JSON. */
static void
print_email(const struct cmd_opts *o, const struct msg *reply,
    const struct msg_email *e)
{
	char date[LISTING_DATE_LEN];
	json_t *cc = json_object_get(msg_payload(reply), "cc");

	if (o->json) {
		print_json(reply);
		return;
	}
	/* Mail header style: grep '^Subject:' works on it. */
	listing_date(e->date != NULL ? e->date : "", date);
	put_field("From: ", e->sender);
	put_field("To: ", e->destination);
	if (json_is_string(cc) && json_string_length(cc) > 0)
		put_field("Cc: ", json_string_value(cc));
	put_field("Subject: ", e->subject);
	put_field("Date: ", date);
	putchar('\n');
	put_field("", e->content);
}

/* read N|ID with the mailbox extension: MAILBOX_READ by id. */
static int
cmd_read_id(struct session *s, const struct cmd_opts *o)
{
	struct msg *reply = NULL;
	struct msg_email e;
	json_t *ids = NULL;
	int rc;

	if ((rc = target_ids(s, o, &ids)) != SESSION_EXIT_OK)
		return rc;
	if (session_request(s, PROTO_MAILBOX_READ,
	        json_pack("{s:O}", "id", json_array_get(ids, 0)),
	        &reply) == -1) {
		rc = SESSION_EXIT_FAILED;
		goto done;
	}
	if (refused(o, reply)) {
		rc = SESSION_EXIT_REFUSED;
		goto done;
	}
	if (listing_email(reply, &e) == -1) {
		rc = malformed("a message without its fields");
		goto done;
	}
	print_email(o, reply, &e);
	rc = SESSION_EXIT_OK;
done:
	json_decref(ids);
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
	print_email(o, reply, &a.email);
	rc = SESSION_EXIT_OK;
done:
	msg_free(reply);
	msg_free(list);
	return rc;
}

/* delete N|ID...: every one or none (the server checks them all first). */
static int
cmd_delete(struct session *s, const struct cmd_opts *o)
{
	struct msg *reply = NULL;
	json_t *ids = NULL, *n;
	int rc;

	if ((rc = target_ids(s, o, &ids)) != SESSION_EXIT_OK)
		return rc;
	rc = SESSION_EXIT_FAILED;
	if (session_request(s, PROTO_MAILBOX_DELETE,
	        json_pack("{s:o}", "ids", ids), &reply) == -1)
		goto done;
	if (refused(o, reply)) {
		rc = SESSION_EXIT_REFUSED;
		goto done;
	}
	n = json_object_get(msg_payload(reply), "deleted");
	if (!json_is_integer(n)) {
		rc = malformed("deleted missing");
		goto done;
	}
	if (o->json)
		print_json(reply);
	else
		printf("deleted: %lld\n", (long long)json_integer_value(n));
	rc = SESSION_EXIT_OK;
done:
	msg_free(reply);
	return rc;
}

/* The names of flags, as MAILBOX_FLAGS takes them. */
static json_t *
flag_names(unsigned flags)
{
	json_t *a = json_array();

	if ((flags & MSG_FLAG_SEEN) != 0)
		json_array_append_new(a, json_string("seen"));
	if ((flags & MSG_FLAG_FLAGGED) != 0)
		json_array_append_new(a, json_string("flagged"));
	return a;
}

/* mark N|ID... --seen|--unseen|--flagged|--unflagged. */
static int
cmd_mark(struct session *s, const struct cmd_opts *o)
{
	struct msg *reply = NULL;
	json_t *ids = NULL, *n;
	int rc;

	if ((rc = target_ids(s, o, &ids)) != SESSION_EXIT_OK)
		return rc;
	rc = SESSION_EXIT_FAILED;
	if (session_request(s, PROTO_MAILBOX_FLAGS,
	        json_pack("{s:o, s:o, s:o}", "ids", ids, "add",
	            flag_names(o->add), "remove", flag_names(o->remove)),
	        &reply) == -1)
		goto done;
	if (refused(o, reply)) {
		rc = SESSION_EXIT_REFUSED;
		goto done;
	}
	n = json_object_get(msg_payload(reply), "changed");
	if (!json_is_integer(n)) {
		rc = malformed("changed missing");
		goto done;
	}
	if (o->json)
		print_json(reply);
	else
		printf("changed: %lld\n", (long long)json_integer_value(n));
	rc = SESSION_EXIT_OK;
done:
	msg_free(reply);
	return rc;
}

/*
 * The new password: GLOMAIL_NEW_PASSWORD, else asked twice on the
 * terminal (the rule checked first), else the next line of stdin.
 */
static int
get_new_password(char **password_r)
{
	const char *env = getenv("GLOMAIL_NEW_PASSWORD");
	FILE *out = isatty(STDIN_FILENO) ? stderr : NULL;
	enum term_result r;
	const char *why;
	char *again = NULL;
	int rc = SESSION_EXIT_FAILED;

	*password_r = NULL;
	if (env != NULL) {
		if ((*password_r = strdup(env)) == NULL) {
			perror("glomail");
			return SESSION_EXIT_FAILED;
		}
		return 0;
	}
	r = term_password(out, _("New password: "), password_r);
	if (r == TERM_EOF)
		fprintf(stderr, "glomail: %s\n", _("no new password given"));
	if (r != TERM_OK)
		return SESSION_EXIT_FAILED;
	if (out == NULL)
		return 0;
	if (rules_password(*password_r, &why) == -1) {
		fprintf(stderr, "glomail: %s\n", i18n_server_text(why));
		rc = SESSION_EXIT_REFUSED;
		goto fail;
	}
	r = term_password(out, _("New password again: "), &again);
	if (r == TERM_EOF)
		fprintf(stderr, "glomail: %s\n", _("no new password given"));
	if (r != TERM_OK)
		goto fail;
	if (strcmp(again, *password_r) == 0) {
		term_forget(again);
		return 0;
	}
	fprintf(stderr, "glomail: %s\n", _("the passwords do not match"));
fail:
	term_forget(again);
	term_forget(*password_r);
	*password_r = NULL;
	return rc;
}

/* passwd: the login's password is the current one. */
static int
cmd_passwd(struct session *s, const struct cmd_opts *o, const char *current)
{
	struct msg *reply = NULL;
	char *fresh = NULL;
	json_t *p;
	int rc;

	if ((rc = get_new_password(&fresh)) != 0)
		return rc;
	rc = SESSION_EXIT_FAILED;
	if ((p = json_pack("{s:s, s:s}", "password", current, "new_password",
	         fresh)) == NULL) {
		fprintf(stderr, "glomail: %s\n",
		    _("the text is not valid UTF-8"));
		goto done;
	}
	if (session_request(s, PROTO_PASSWORD_CHANGE, p, &reply) == -1)
		goto done;
	if (refused(o, reply)) {
		rc = SESSION_EXIT_REFUSED;
		goto done;
	}
	if (o->json)
		print_json(reply);
	else if (isatty(STDERR_FILENO))
		fprintf(stderr, "glomail: %s\n", _("password changed"));
	rc = SESSION_EXIT_OK;
done:
	msg_free(reply);
	term_forget(fresh);
	return rc;
}

static volatile sig_atomic_t watch_stop;

static void
watch_signal(int sig)
{
	(void)sig;
	watch_stop = 1;
}

/*
 * How often watch reminds the server it is there: well inside the
 * server's idle timeout (15 minutes by default).
 */
#define WATCH_KEEPALIVE_MS (4 * 60 * 1000)

/*
 * watch: subscribe, then one line per notice ("new: ID SENDER - SUBJECT",
 * or the payload as JSON) until SIGINT or SIGTERM, which end it with
 * exit 0. The signals are blocked except while waiting, so one never cuts
 * a read or a write in half.
 */
static int
cmd_watch(struct session *s, const struct cmd_opts *o)
{
	struct sigaction sa;
	sigset_t block, waiting;
	struct msg *reply = NULL, *m;
	union msg_args a;
	const char *why;
	int r, rc = SESSION_EXIT_FAILED;

	memset(&sa, 0, sizeof(sa));
	sa.sa_handler = watch_signal;
	sigemptyset(&sa.sa_mask);
	sigemptyset(&block);
	sigaddset(&block, SIGINT);
	sigaddset(&block, SIGTERM);
	if (sigprocmask(SIG_BLOCK, &block, &waiting) == -1 ||
	    sigaction(SIGINT, &sa, NULL) == -1 ||
	    sigaction(SIGTERM, &sa, NULL) == -1) {
		perror("glomail");
		return SESSION_EXIT_FAILED;
	}
	sigdelset(&waiting, SIGINT);
	sigdelset(&waiting, SIGTERM);
	if (session_request(s, PROTO_NOTICES_SUBSCRIBE, NULL, &reply) == -1)
		return SESSION_EXIT_FAILED;
	if (refused(o, reply)) {
		msg_free(reply);
		return SESSION_EXIT_REFUSED;
	}
	msg_free(reply);
	reply = NULL;
	if (isatty(STDERR_FILENO))
		fprintf(stderr, "glomail: %s\n",
		    _("watching for new mail; Ctrl-C stops"));
	while (!watch_stop) {
		r = session_notice_wait(s, WATCH_KEEPALIVE_MS, &waiting, &m);
		if (r == -1)
			goto done;
		if (r == 0) {
			/* A signal, or time for a word to the server. */
			if (watch_stop)
				break;
			if (session_request(s, PROTO_NOTICES_SUBSCRIBE, NULL,
			        &reply) == -1)
				goto done;
			msg_free(reply);
			reply = NULL;
			continue;
		}
		if (o->json)
			print_json(m);
		else if (msg_unpack(m, PROTO_SHAPE_NOTICE, &a, &why) == 0) {
			fputs("new: ", stdout);
			term_show(stdout, a.notice.id);
			putchar(' ');
			term_show(stdout, a.notice.sender);
			fputs(" - ", stdout);
			term_show(stdout, a.notice.subject);
			putchar('\n');
		}
		msg_free(m);
		/* A line as soon as the mail is there, pipe or not. */
		if (fflush(stdout) == EOF)
			goto done;
	}
	rc = SESSION_EXIT_OK;
done:
	return rc;
}

/* With the "quota" extension: the storage used and the limit (0: none). */
static void
print_quota(struct session *s)
{
	struct msg *reply = NULL;
	json_t *p;

	if (!session_has(s, "quota") ||
	    session_request(s, PROTO_QUOTA, NULL, &reply) != PROTO_OK)
		goto done;
	p = msg_payload(reply);
	if (json_is_integer(json_object_get(p, "used")) &&
	    json_is_integer(json_object_get(p, "limit")))
		printf("quota_used: %lld\nquota_limit: %lld\n",
		    (long long)json_integer_value(json_object_get(p, "used")),
		    (long long)json_integer_value(json_object_get(p, "limit")));
done:
	msg_free(reply);
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
		print_quota(s);
	}
	rc = SESSION_EXIT_OK;
done:
	msg_free(reply);
	return rc;
}

/*
 * The number of the message with the id given (reply and forward work by
 * number): its entry in the whole list. Returns SESSION_EXIT_OK with *n_r
 * set, or an exit code after saying why.
 */
static int
id_number(struct session *s, const struct cmd_opts *o, long long *n_r)
{
	struct msg *reply = NULL;
	struct listing_entry e;
	long long total, offset;
	json_t *messages, *item;
	const char *why;
	size_t i;
	int rc = SESSION_EXIT_FAILED;

	if (session_request(s, PROTO_MAILBOX_LIST, json_object(), &reply) == -1)
		return SESSION_EXIT_FAILED;
	if (refused(o, reply)) {
		rc = SESSION_EXIT_REFUSED;
		goto done;
	}
	if (listing_page(reply, &total, &offset, &messages, &why) == -1) {
		rc = malformed(why);
		goto done;
	}
	*n_r = 0;
	json_array_foreach (messages, i, item)
		if (listing_entry(item, &e) == 0 &&
		    strcmp(e.id, o->targets[0]) == 0 && e.number > 0)
			*n_r = e.number;
	rc = *n_r > 0 ? SESSION_EXIT_OK : refused_here(o, "no such message");
done:
	msg_free(reply);
	return rc;
}

/*
 * A reply to all, or a forward to several, as one message when the server
 * takes several recipients: a reply goes to the original's sender with
 * the others in Cc (rcpt[0], when sender_first: see reply_recipients),
 * a forward (or a reply to one's own message) to everyone named. An address the
 * client refuses is reported and left out; the others still get the message.
 */
static int
reply_many(struct session *s, const struct cmd_opts *o,
    char rcpt[][COMPOSE_ADDR_MAX + 1], size_t n, int sender_first,
    const char *subject, const char *body, const char *in_reply_to,
    const char *refs)
{
	static char addrs[REPLY_RCPT_MAX][COMPOSE_ADDR_MAX + 1];
	static const char *list[REPLY_RCPT_MAX];
	char why[COMPOSE_WHY_MAX];
	int rc = SESSION_EXIT_OK, h;
	struct msg *reply = NULL;
	size_t i, k = 0, nto;

	for (i = 0; i < n && i < REPLY_RCPT_MAX; i++) {
		if (compose_recipient(s, rcpt[i], addrs[k], why, sizeof(why)) ==
		    -1) {
			fputs("glomail: ", stderr);
			term_show(stderr, rcpt[i]);
			fputs(": ", stderr);
			term_show(stderr, why);
			fputc('\n', stderr);
			rc = SESSION_EXIT_REFUSED;
			/* Without the sender, nobody is the reply's To. */
			sender_first = sender_first && i > 0;
			continue;
		}
		list[k] = addrs[k];
		k++;
	}
	if (k == 0)
		return rc;
	nto = sender_first ? 1 : k;
	if (compose_send_many(s, list, nto, list + nto, k - nto, subject, body,
	        in_reply_to, refs, &reply) == -1)
		return SESSION_EXIT_FAILED;
	h = many_results(o, reply);
	msg_free(reply);
	return h != SESSION_EXIT_OK ? h : rc;
}

/*
 * reply N [--all] and forward N --to ADDR...: the original, then the
 * body typed on stdin, then one message per recipient (the seed's send
 * takes one) with Re:/Fwd:, In-Reply-To and References. Exit 1 when the
 * server refused any of them.
 */
static int
cmd_reply(struct session *s, const struct cmd_opts *o)
{
	static char rcpt[REPLY_RCPT_MAX][COMPOSE_ADDR_MAX + 1];
	char self[COMPOSE_ADDR_MAX + 1], why[COMPOSE_WHY_MAX];
	char subject[RULES_SUBJECT_MAX + 1], addr[COMPOSE_ADDR_MAX + 1];
	int forward = o->verb == CMD_FORWARD, rc = SESSION_EXIT_FAILED, h;
	struct msg *err = NULL, *reply = NULL;
	char *typed = NULL, *body = NULL, *refs = NULL;
	struct reply_orig orig;
	long long number;
	size_t i, n = 0;

	memset(&orig, 0, sizeof(orig));
	if ((number = o->number) == 0 &&
	    (rc = id_number(s, o, &number)) != SESSION_EXIT_OK)
		return rc;
	rc = SESSION_EXIT_FAILED;
	if ((h = reply_fetch(s, number, &orig, &err)) != PROTO_OK) {
		if (h == PROTO_ERROR && refused(o, err))
			rc = SESSION_EXIT_REFUSED;
		goto done;
	}
	snprintf(self, sizeof(self), "%s@%s", o->user, session_domain(s));
	if (forward)
		for (i = 0; i < o->nto && n < REPLY_RCPT_MAX; i++)
			snprintf(rcpt[n++], sizeof(rcpt[0]), "%s", o->to[i]);
	else
		n = reply_recipients(&orig, o->all, self, rcpt, REPLY_RCPT_MAX);
	if (n == 0) {
		fprintf(stderr, "glomail: %s\n", _("nobody to reply to"));
		goto done;
	}
	reply_subject(orig.email.subject, forward,
	    session_max_subject(s) < RULES_SUBJECT_MAX ? session_max_subject(s)
	                                               : RULES_SUBJECT_MAX,
	    subject);
	if (read_body(session_max_frame(s), &typed) == -1)
		goto done;
	if ((body = reply_body(&orig, forward, typed)) == NULL) {
		perror("glomail");
		goto done;
	}
	refs = forward ? NULL : reply_references(&orig);
	if (n > 1 && session_has(s, "send-many")) {
		/* reply_recipients puts the sender first, unless it is us. */
		rc = reply_many(s, o, rcpt, n,
		    !forward && strcasecmp(rcpt[0], self) != 0 &&
		        strcasecmp(orig.email.sender, self) != 0,
		    subject, body, forward ? NULL : reply_in_reply_to(&orig),
		    refs);
		goto done;
	}
	rc = SESSION_EXIT_OK;
	for (i = 0; i < n; i++) {
		if (compose_recipient(s, rcpt[i], addr, why, sizeof(why)) ==
		    -1) {
			fputs("glomail: ", stderr);
			term_show(stderr, rcpt[i]);
			fputs(": ", stderr);
			term_show(stderr, why);
			fputc('\n', stderr);
			rc = SESSION_EXIT_REFUSED;
			continue;
		}
		msg_free(reply);
		reply = NULL;
		if (compose_send_thread(s, o->user, addr, subject, body,
		        forward ? NULL : reply_in_reply_to(&orig), refs,
		        &reply) == -1) {
			rc = SESSION_EXIT_FAILED;
			goto done;
		}
		if (refused(o, reply))
			rc = SESSION_EXIT_REFUSED;
		else if (o->json)
			print_json(reply);
		else
			printf("sent: %s\n", addr);
	}
done:
	reply_orig_clear(&orig);
	msg_free(err);
	msg_free(reply);
	free(typed);
	free(body);
	free(refs);
	return rc;
}

/* vacation --on (text on stdin) or --off. */
static int
cmd_vacation(struct session *s, const struct cmd_opts *o)
{
	struct msg *reply = NULL;
	char *text = NULL;
	json_t *p;
	int rc = SESSION_EXIT_FAILED;

	if (!session_has(s, "vacation")) {
		fprintf(stderr, "glomail: %s\n",
		    _("this server has no vacation replies"));
		return SESSION_EXIT_FAILED;
	}
	if (o->vacation == 0)
		p = json_pack("{s:b}", "on", 0);
	else {
		if (read_body(session_max_frame(s), &text) == -1)
			return SESSION_EXIT_FAILED;
		p = json_pack("{s:b, s:s, s:s, s:I}", "on", 1, "subject",
		    o->subject, "text", text, "until", (json_int_t)o->until);
		free(text);
	}
	if (p == NULL) {
		fprintf(stderr, "glomail: %s\n",
		    _("the text is not valid UTF-8"));
		return SESSION_EXIT_FAILED;
	}
	if (session_request(s, PROTO_VACATION, p, &reply) == -1)
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
	return rc;
}

/* Say that the server lacks what the command needs; exit 1. */
static int
unsupported(const char *what)
{
	fprintf(stderr, "glomail: ");
	fprintf(stderr, _("this server does not support %s"), what);
	fputc('\n', stderr);
	return SESSION_EXIT_REFUSED;
}

/* 1 when a target is an id rather than a number. */
static int
any_id(const struct cmd_opts *o)
{
	long long n;
	size_t i;

	for (i = 0; i < o->ntargets; i++)
		if (!listing_number(o->targets[i], &n))
			return 1;
	return 0;
}

/*
 * What the command needs of the server (a seed server has no extension):
 * checked before the password is asked.
 */
static int
supported(const struct session *s, const struct cmd_opts *o)
{
	switch (o->verb) {
	case CMD_LIST:
		if ((o->unread || o->page != 0 || o->per_page != 0) &&
		    !session_has(s, "mailbox"))
			return unsupported("list --unread, --page, --per-page");
		break;
	case CMD_READ:
	case CMD_REPLY:
	case CMD_FORWARD:
		if (any_id(o) && !session_has(s, "mailbox"))
			return unsupported(_("message ids"));
		break;
	case CMD_DELETE:
		return session_has(s, "mailbox") ? SESSION_EXIT_OK
		                                 : unsupported("delete");
	case CMD_MARK:
		return session_has(s, "mailbox") ? SESSION_EXIT_OK
		                                 : unsupported("mark");
	case CMD_SEARCH:
		return session_has(s, "mailbox") ? SESSION_EXIT_OK
		                                 : unsupported("search");
	case CMD_PASSWD:
		return session_has(s, "password") ? SESSION_EXIT_OK
		                                  : unsupported("passwd");
	case CMD_WATCH:
		return session_has(s, "notices") ? SESSION_EXIT_OK
		                                 : unsupported("watch");
	case CMD_SEND:
		if (o->ncc > 0 && session_max_recipients_many(s) == 0)
			return unsupported("--cc");
		break;
	default:
		break;
	}
	return SESSION_EXIT_OK;
}

/*
 * send to several: their number within the server's limit (the whole
 * message refused, before anything is sent, otherwise), each address
 * complete, the subject fit.
 */
static int
precheck_many(const struct session *s, const struct cmd_opts *o)
{
	char addr[COMPOSE_ADDR_MAX + 1], why[COMPOSE_WHY_MAX];
	size_t i, n = o->nto + o->ncc, max = session_max_recipients_many(s);

	if (n > max) {
		fprintf(stderr, "glomail: ");
		fprintf(stderr,
		    _("too many recipients: %zu given, the server takes at "
		      "most %zu per message; nothing was sent"),
		    n, max);
		fputc('\n', stderr);
		return SESSION_EXIT_FAILED;
	}
	for (i = 0; i < n; i++) {
		const char *a = i < o->nto ? o->to[i] : o->cc[i - o->nto];

		if (compose_complete(s, a, addr) == -1) {
			fputs("glomail: ", stderr);
			term_show(stderr, a);
			fprintf(stderr, ": %s\n",
			    i18n_server_text("invalid address"));
			return SESSION_EXIT_REFUSED;
		}
	}
	if (compose_subject(s, o->subject, why, sizeof(why)) == -1) {
		fputs("glomail: ", stderr);
		term_show(stderr, why);
		fputc('\n', stderr);
		return SESSION_EXIT_REFUSED;
	}
	return SESSION_EXIT_OK;
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
	int rc;

	if (o->verb == CMD_REGISTER &&
	    rules_username(o->user, lower, &reason) == -1) {
		fprintf(stderr, "glomail: %s\n", i18n_server_text(reason));
		return SESSION_EXIT_REFUSED;
	}
	if (o->verb == CMD_VACATION && o->subject != NULL &&
	    compose_subject(s, o->subject, why, sizeof(why)) == -1) {
		fputs("glomail: ", stderr);
		term_show(stderr, why);
		fputc('\n', stderr);
		return SESSION_EXIT_REFUSED;
	}
	if ((rc = supported(s, o)) != SESSION_EXIT_OK)
		return rc;
	if (o->verb != CMD_SEND)
		return SESSION_EXIT_OK;
	if (send_many(o) && session_max_recipients_many(s) > 0)
		return precheck_many(s, o);
	/* Refused whole rather than sent to some: nobody gets a part. */
	if (o->nto > session_max_recipients(s)) {
		fprintf(stderr, "glomail: ");
		fprintf(stderr,
		    _("too many recipients: --to was given %zu "
		      "times, the server takes at most %zu per message; nothing "
		      "was sent"),
		    o->nto, session_max_recipients(s));
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
	if (session_request(s,
	        o->verb == CMD_REGISTER ? PROTO_AUTH_REGISTER
	                                : PROTO_AUTH_LOGIN,
	        payload, &reply) == -1)
		goto done;
	if (refused(o, reply)) {
		rc = SESSION_EXIT_REFUSED;
		goto done;
	}
	switch (o->verb) {
	case CMD_SEND:
		rc = send_many(o) ? cmd_send_many(s, o) : cmd_send(s, o, addr);
		break;
	case CMD_LIST:
		rc = cmd_list(s, o);
		break;
	case CMD_READ:
		rc = session_has(s, "mailbox") ? cmd_read_id(s, o)
		                               : cmd_read(s, o);
		break;
	case CMD_DELETE:
		rc = cmd_delete(s, o);
		break;
	case CMD_MARK:
		rc = cmd_mark(s, o);
		break;
	case CMD_SEARCH:
		rc = cmd_search(s, o);
		break;
	case CMD_PASSWD:
		rc = cmd_passwd(s, o, password);
		break;
	case CMD_WATCH:
		rc = cmd_watch(s, o);
		break;
	case CMD_STATS:
		rc = cmd_stats(s, o);
		break;
	case CMD_REPLY:
	case CMD_FORWARD:
		rc = cmd_reply(s, o);
		break;
	case CMD_VACATION:
		rc = cmd_vacation(s, o);
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
