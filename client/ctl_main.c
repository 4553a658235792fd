/*
 * ctl_main.c - glomailctl: administer a glomaild over its control socket.
 *
 * As OpenSMTPD's smtpctl: parse the command line, connect, send one
 * request, read exactly one reply, print it (a table, or the reply's JSON
 * with --json), exit 0, 1 (refused) or 2 (usage, connection, permission).
 * With --data-dir, the request goes to a private server started on the
 * store instead (ctl_offline.c): one code path either way.
 */
#include <errno.h>
#include <getopt.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/time.h>
#include <unistd.h>

#include "ctl.h"
#include "frame.h"
#include "i18n.h"
#include "msg.h"
#include "proto.h"
#include "term.h"
#include "wire.h"

#define DEFAULT_TIMEOUT 600 /* an import of a large directory takes a while */
#define SYSTEM_SOCKET "/run/glomail/control"
#define REPLY_MAX ((size_t)256 * 1024 * 1024)

enum {
	OPT_SOCKET = 256,
	OPT_DATA_DIR,
	OPT_CONFIG,
	OPT_JSON,
	OPT_TIMEOUT,
	OPT_PASSWORD_STDIN,
	OPT_PURGE,
	OPT_KEEP_MAIL,
	OPT_TO,
	OPT_OLDER,
	OPT_REPAIR,
	OPT_DRY_RUN,
	OPT_HELP,
	OPT_VERSION,
};

static const struct option long_options[] = {
	{ "control-socket", required_argument, NULL, OPT_SOCKET },
	{ "data-dir", required_argument, NULL, OPT_DATA_DIR },
	{ "config", required_argument, NULL, OPT_CONFIG },
	{ "json", no_argument, NULL, OPT_JSON },
	{ "timeout", required_argument, NULL, OPT_TIMEOUT },
	{ "password-stdin", no_argument, NULL, OPT_PASSWORD_STDIN },
	{ "purge", no_argument, NULL, OPT_PURGE },
	{ "keep-mail", no_argument, NULL, OPT_KEEP_MAIL },
	{ "to", required_argument, NULL, OPT_TO },
	{ "older-than", required_argument, NULL, OPT_OLDER },
	{ "repair", no_argument, NULL, OPT_REPAIR },
	{ "dry-run", no_argument, NULL, OPT_DRY_RUN },
	{ "help", no_argument, NULL, OPT_HELP },
	{ "version", no_argument, NULL, OPT_VERSION },
	{ NULL, 0, NULL, 0 },
};

struct opts {
	const char *socket;
	const char *data_dir;
	const char *config;
	int json;
	long long timeout;
	int password_stdin, purge, keep_mail, repair, dry_run;
	const char *to;
	long long older;
	char **args; /* the command's words */
	int nargs;
};

static void
usage(FILE *out)
{
	fprintf(out,
	    _("Usage: glomailctl [--control-socket PATH | --data-dir DIR] [--json] COMMAND\n"
	      "\n"
	      "Administer glomaild over its control socket, or, with --data-dir, a store\n"
	      "no server is running on.\n"
	      "\n"
	      "Options:\n"
	      "      --control-socket PATH  the server's control socket (default\n"
	      "                             /run/glomail/control when it exists, else\n"
	      "                             $XDG_RUNTIME_DIR/glomail/control)\n"
	      "      --data-dir DIR         work on this store through a private server\n"
	      "      --config FILE          with --data-dir: the server's settings file\n"
	      "      --json                 print the reply as one JSON object\n"
	      "      --timeout SECONDS      wait at most this long for a reply\n"
	      "                             (default %d, 0 waits forever)\n"
	      "      --help                 show this help and exit\n"
	      "      --version              show the version and exit\n"
	      "\n"
	      "Commands:\n"
	      "  status                          version, uptime, connections, queues\n"
	      "  user list                       accounts, their mail and state\n"
	      "  user add NAME                   create an account\n"
	      "  user passwd NAME                set an account's password\n"
	      "  user del NAME [--purge]         remove an account; its mail is set\n"
	      "                                  aside (--keep-mail) unless --purge\n"
	      "  user lock NAME | unlock NAME    forbid or allow logging in\n"
	      "  user rename OLD NEW             rename an account\n"
	      "  quota get NAME                  an account's usage and limit\n"
	      "  quota set NAME SIZE             its own limit: 500M, 2G, 0 (none)\n"
	      "                                  or default (the quota setting)\n"
	      "  alias list                      the aliases and groups in force\n"
	      "  alias add NAME MEMBER...        create an alias or add members\n"
	      "  alias del NAME [MEMBER...]      remove members, or the whole alias\n"
	      "  reload                          read the settings again (SIGHUP)\n"
	      "  log-level LEVEL                 error, warn, info or debug\n"
	      "  lost list                       undeliverable mail\n"
	      "  lost deliver ID --to USER       hand an undeliverable message to USER\n"
	      "  lost purge --older-than DAYS    remove old undeliverable mail\n"
	      "  check [--repair] [USER...]      the store's consistency\n"
	      "  import-seed DIR [--dry-run]     add an original server's accounts and\n"
	      "                                  mail\n"
	      "\n"
	      "Passwords are asked twice on the terminal, or read as the first line of\n"
	      "standard input with --password-stdin.\n"
	      "\n"
	      "Exit status: 0 success, 1 the server refused (or check found problems it\n"
	      "did not repair), 2 usage, connection, permission or local error.\n"),
	    DEFAULT_TIMEOUT);
}

static int
usage_error(const char *what, const char *arg)
{
	if (arg != NULL)
		fprintf(stderr, "glomailctl: %s: %s\n", what, arg);
	else
		fprintf(stderr, "glomailctl: %s\n", what);
	fprintf(stderr, _("Try 'glomailctl --help' for more information.\n"));
	return CTL_EXIT_FAILED;
}

/* The same, for helpers that return -1. */
static int
usage_fail(const char *what, const char *arg)
{
	(void)usage_error(what, arg);
	return -1;
}

static long long
parse_number(const char *s, long long min, long long max)
{
	char *end;
	long long v;

	if (*s < '0' || *s > '9')
		return -1;
	errno = 0;
	v = strtoll(s, &end, 10);
	if (errno != 0 || *end != '\0' || v < min || v > max)
		return -1;
	return v;
}

/* The control socket when none is given: the server's default. */
static const char *
default_socket(char *buf, size_t len)
{
	const char *rt = getenv("RUNTIME_DIRECTORY");
	const char *xdg = getenv("XDG_RUNTIME_DIR");
	struct stat st;

	if (rt != NULL && rt[0] == '/') {
		snprintf(buf, len, "%.*s/control", (int)strcspn(rt, ":"), rt);
		return buf;
	}
	if (stat(SYSTEM_SOCKET, &st) == 0 || xdg == NULL || xdg[0] != '/')
		return SYSTEM_SOCKET;
	snprintf(buf, len, "%s/glomail/control", xdg);
	return buf;
}

/* A password: stdin's first line, or asked twice on the terminal. */
static int
get_password(const struct opts *o, char **pw_r)
{
	char *again = NULL;
	enum term_result r;

	*pw_r = NULL;
	if (o->password_stdin) {
		if (term_prompt(NULL, NULL, pw_r) != TERM_OK) {
			fprintf(stderr, "glomailctl: %s\n",
			    _("no password on standard input"));
			return -1;
		}
		return 0;
	}
	if (!isatty(STDIN_FILENO)) {
		fprintf(stderr, "glomailctl: %s\n",
		    _("no terminal to ask the "
		      "password on: use --password-stdin"));
		return -1;
	}
	if ((r = term_password(stderr, _("New password: "), pw_r)) != TERM_OK ||
	    term_password(stderr, _("Retype the new password: "), &again) !=
	        TERM_OK) {
		term_forget(*pw_r);
		*pw_r = NULL;
		return -1;
	}
	if (strcmp(*pw_r, again) != 0) {
		fprintf(stderr, "glomailctl: %s\n",
		    _("the passwords do not match"));
		term_forget(*pw_r);
		term_forget(again);
		*pw_r = NULL;
		return -1;
	}
	term_forget(again);
	return 0;
}

/*
 * Connect, send one request, read its reply. Returns PROTO_OK with the
 * reply's payload (a new reference) in *out_r, PROTO_ERROR after printing
 * the reason, or -1 after printing what failed.
 */
static int
request(const struct opts *o, const char *path, int header, json_t *payload,
    json_t **out_r, int *denied_r)
{
	struct timeval tv = { (time_t)o->timeout, 0 };
	union msg_args a;
	struct msg *reply = NULL;
	const char *why;
	char err[512];
	int fd, rc = -1, sent, saved;

	*out_r = NULL;
	*denied_r = 0;
	if ((fd = wire_connect_unix(path, err, sizeof(err))) == -1) {
		fprintf(stderr, "glomailctl: %s: %s\n",
		    _("cannot connect to the control socket"), err);
		if (errno == EACCES)
			fprintf(stderr, "glomailctl: %s\n",
			    _("permission "
			      "denied: root, the server's user or its "
			      "control-group only"));
		json_decref(payload);
		return -1;
	}
	if (o->timeout > 0)
		(void)setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv));
	/* A peer the server refuses is told so before the socket closes:
	 * the refusal is read even when the request could not be sent. */
	sent = wire_send(fd, header, payload, FRAME_MAX_DEFAULT);
	saved = errno;
	if (wire_recv(fd, REPLY_MAX, &reply, &why) == -1) {
		if (sent == -1) {
			fprintf(stderr, "glomailctl: %s: %s\n",
			    _("cannot send the request"), strerror(saved));
			goto out;
		}
		fprintf(stderr, "glomailctl: %s: %s\n",
		    _("no reply from the server"),
		    errno == EAGAIN ? _("no reply in time") : why);
		goto out;
	}
	if (msg_header(reply) == PROTO_ERROR) {
		if (msg_unpack(reply, PROTO_SHAPE_ERROR, &a, &why) == -1)
			a.error_message = "?";
		*denied_r = strcmp(a.error_message, "permission denied") == 0;
		fprintf(stderr, "glomailctl: %s\n",
		    i18n_server_text(a.error_message));
		rc = PROTO_ERROR;
		goto out;
	}
	if (msg_header(reply) != PROTO_OK) {
		fprintf(stderr, "glomailctl: %s\n",
		    _("unexpected reply from the server"));
		goto out;
	}
	*out_r = msg_payload(reply) != NULL ? json_incref(msg_payload(reply))
	                                    : json_object();
	rc = PROTO_OK;
out:
	msg_free(reply);
	close(fd);
	return rc;
}

static const char *
str(json_t *obj, const char *key)
{
	json_t *v = json_object_get(obj, key);

	return json_is_string(v) ? json_string_value(v) : "";
}

static long long
num(json_t *obj, const char *key)
{
	json_t *v = json_object_get(obj, key);

	return json_is_integer(v) ? (long long)json_integer_value(v) : 0;
}

static int
flag(json_t *obj, const char *key)
{
	return json_is_true(json_object_get(obj, key));
}

static void
print_status(json_t *r)
{
	json_t *l = json_object_get(r, "listen"), *v;
	json_t *st = json_object_get(r, "states");
	json_t *lg = json_object_get(r, "logins");
	json_t *dl = json_object_get(r, "deliveries");
	size_t i;

	printf("%-20s %s\n", _("version"), str(r, "version"));
	printf("%-20s %lld\n", _("pid"), num(r, "pid"));
	printf("%-20s %lld s\n", _("uptime"), num(r, "uptime"));
	printf("%-20s %s\n", _("data directory"), str(r, "data_dir"));
	printf("%-20s %s\n", _("control socket"), str(r, "control_socket"));
	printf("%-20s", _("listening on"));
	json_array_foreach (l, i, v)
		printf(" %s", json_string_value(v));
	printf("%s\n", json_array_size(l) == 0 ? _(" (nothing)") : "");
	printf("%-20s %lld / %lld, %lld %s\n", _("connections"),
	    num(r, "connections"), num(r, "max_connections"),
	    num(r, "logged_in"), _("logged in"));
	printf("%-20s %s %lld, %s %lld, %s %lld, %s %lld\n", _("by state"),
	    _("handshake"), num(st, "handshake"), _("unauthenticated"),
	    num(st, "unauthenticated"), _("authenticated"),
	    num(st, "authenticated"), "smtp", num(st, "smtp"));
	printf("%-20s %lld %s, %lld %s\n", _("logins"), num(lg, "ok"),
	    _("succeeded"), num(lg, "failed"), _("failed"));
	printf("%-20s %lld\n", _("delivered"), num(r, "delivered"));
	printf("%-20s %lld %s, %lld %s\n", _("deliveries"),
	    num(dl, "undeliverable"), _("to LOST"), num(dl, "failed"),
	    _("failed"));
	printf("%-20s auth %lld, store %lld\n", _("queued work"),
	    num(json_object_get(r, "pools"), "auth"),
	    num(json_object_get(r, "pools"), "store"));
	printf("%-20s %lld\n", _("resident memory"),
	    num(json_object_get(r, "memory"), "resident"));
	printf("%-20s %s\n", _("log level"), str(r, "log_level"));
}

/* A limit: its bytes, "none" for 0. */
static const char *
limit_text(long long v, char *buf, size_t len)
{
	if (v == 0)
		return _("none");
	snprintf(buf, len, "%lld", v);
	return buf;
}

static void
print_users(json_t *r)
{
	json_t *u;
	size_t i;

	char buf[32];

	printf("%-24s %8s %12s %12s  %-20s  %s\n", _("NAME"), _("MESSAGES"),
	    _("BYTES"), _("QUOTA"), _("LAST LOGIN"), _("STATE"));
	json_array_foreach (json_object_get(r, "users"), i, u)
		printf("%-24s %8lld %12lld %12s  %-20s  %s%s%s\n",
		    str(u, "name"), num(u, "messages"), num(u, "size"),
		    limit_text(num(u, "quota"), buf, sizeof(buf)),
		    str(u, "last_login")[0] != '\0' ? str(u, "last_login")
		                                    : "-",
		    flag(u, "locked") ? _("locked ") : "",
		    flag(u, "imported") ? _("imported ") : "",
		    flag(u, "legacy_password") ? _("legacy-password") : "");
}

static void
print_quota(json_t *r)
{
	json_t *own = json_object_get(r, "account_limit");
	char buf[32];

	printf("%-20s %s\n", _("name"), str(r, "name"));
	printf("%-20s %lld\n", _("used (bytes)"), num(r, "used"));
	printf("%-20s %s %s\n", _("limit (bytes)"),
	    limit_text(num(r, "limit"), buf, sizeof(buf)),
	    json_is_integer(own) ? _("(the account's own)")
	                         : _("(the quota setting)"));
}

static void
print_quota_set(json_t *r)
{
	json_t *own = json_object_get(r, "account_limit");
	char buf[32];

	if (json_is_integer(own))
		printf(_("quota of %s: %s\n"), str(r, "name"),
		    limit_text((long long)json_integer_value(own), buf,
		        sizeof(buf)));
	else
		printf(_("quota of %s: the quota setting (%s)\n"),
		    str(r, "name"),
		    limit_text(num(r, "default"), buf, sizeof(buf)));
}

static void
print_aliases(json_t *r)
{
	json_t *a, *m;
	size_t i, k;

	json_array_foreach (json_object_get(r, "aliases"), i, a) {
		printf("%s:", str(a, "name"));
		json_array_foreach (json_object_get(a, "members"), k, m)
			printf("%s %s", k > 0 ? "," : "", json_string_value(m));
		printf("\n");
	}
	printf("postmaster: %s\n", str(r, "postmaster"));
}

static void
print_alias_edit(json_t *r)
{
	json_t *m;
	size_t k;

	if (json_array_size(json_object_get(r, "members")) == 0) {
		printf(_("%s removed from %s\n"), str(r, "name"),
		    str(r, "file"));
		return;
	}
	printf("%s:", str(r, "name"));
	json_array_foreach (json_object_get(r, "members"), k, m)
		printf("%s %s", k > 0 ? "," : "", json_string_value(m));
	printf("\n");
}

static void
print_lost(json_t *r)
{
	json_t *m;
	size_t i;

	json_array_foreach (json_object_get(r, "messages"), i, m)
		printf("%s\n  %s: %s\n  %s: %s\n  %s: %s\n  %s: %s\n",
		    str(m, "id"), _("from"), str(m, "from"), _("to"),
		    str(m, "to"), _("date"), str(m, "date"), _("subject"),
		    str(m, "subject"));
}

static int
print_check(json_t *r)
{
	json_t *p;
	size_t i;

	json_array_foreach (json_object_get(r, "problems"), i, p)
		printf("%s: %s%s\n", str(p, "path"), str(p, "problem"),
		    flag(p, "repaired") ? _(" (repaired)") : "");
	printf(_("%lld repaired, %lld left\n"), num(r, "repaired"),
	    num(r, "remaining"));
	return num(r, "remaining") > 0 ? CTL_EXIT_REFUSED : CTL_EXIT_OK;
}

static void
print_import(json_t *r)
{
	json_t *a, *p;
	size_t i;

	json_array_foreach (json_object_get(r, "accounts"), i, a)
		printf("%-24s %-8s %s, %lld %s, %lld %s\n", str(a, "name"),
		    str(a, "action"), str(a, "password"), num(a, "added"),
		    flag(r, "dry_run") ? _("to add") : _("added"),
		    num(a, "present"), _("already there"));
	printf("%-24s %-8s %lld %s, %lld %s\n", "LOST", "",
	    num(json_object_get(r, "lost"), "added"),
	    flag(r, "dry_run") ? _("to add") : _("added"),
	    num(json_object_get(r, "lost"), "present"), _("already there"));
	json_array_foreach (json_object_get(r, "problems"), i, p)
		printf("%s: %s\n", _("skipped"), json_string_value(p));
}

/* Build the request of the command words; -1 after a usage message. */
static int
build(struct opts *o, int *header_r, json_t **payload_r, char **secret_r)
{
	char **w = o->args;
	int n = o->nargs, i;
	const char *verb = n > 0 ? w[0] : NULL;
	json_t *p = NULL, *users;
	char *pw = NULL;

	*secret_r = NULL;
#define WANT(k) \
	do { \
		if (n != (k)) \
			return usage_fail(_("wrong number of arguments for"), \
			    verb); \
	} while (0)
	if (verb == NULL)
		return usage_fail(_("a command is needed"), NULL);
	if (strcmp(verb, "status") == 0) {
		WANT(1);
		*header_r = PROTO_CTL_STATUS;
	} else if (strcmp(verb, "reload") == 0) {
		WANT(1);
		*header_r = PROTO_CTL_RELOAD;
	} else if (strcmp(verb, "log-level") == 0) {
		WANT(2);
		*header_r = PROTO_CTL_LOG_LEVEL;
		p = json_pack("{s:s}", "level", w[1]);
	} else if (strcmp(verb, "user") == 0) {
		const char *sub = n > 1 ? w[1] : "";

		if (strcmp(sub, "list") == 0) {
			n--;
			WANT(1);
			*header_r = PROTO_CTL_USER_LIST;
		} else if (strcmp(sub, "add") == 0 ||
		           strcmp(sub, "passwd") == 0) {
			n--;
			WANT(2);
			if (get_password(o, &pw) == -1)
				return -1;
			*header_r = sub[0] == 'a' ? PROTO_CTL_USER_ADD
			                          : PROTO_CTL_USER_PASSWD;
			p = json_pack("{s:s, s:s}", "name", w[2], "password",
			    pw);
			*secret_r = pw;
		} else if (strcmp(sub, "del") == 0) {
			n--;
			WANT(2);
			if (o->purge && o->keep_mail)
				return usage_fail(_("--purge and --keep-mail "
				                    "exclude each other"),
				    NULL);
			*header_r = PROTO_CTL_USER_DEL;
			p = json_pack("{s:s, s:b}", "name", w[2], "purge",
			    o->purge);
		} else if (strcmp(sub, "lock") == 0 ||
		           strcmp(sub, "unlock") == 0) {
			n--;
			WANT(2);
			*header_r = sub[0] == 'l' ? PROTO_CTL_USER_LOCK
			                          : PROTO_CTL_USER_UNLOCK;
			p = json_pack("{s:s}", "name", w[2]);
		} else if (strcmp(sub, "rename") == 0) {
			n--;
			WANT(3);
			*header_r = PROTO_CTL_USER_RENAME;
			p = json_pack("{s:s, s:s}", "name", w[2], "new_name",
			    w[3]);
		} else {
			return usage_fail(_("unknown user command"), sub);
		}
	} else if (strcmp(verb, "quota") == 0) {
		const char *sub = n > 1 ? w[1] : "";

		if (strcmp(sub, "get") == 0) {
			n--;
			WANT(2);
			*header_r = PROTO_CTL_QUOTA_GET;
			p = json_pack("{s:s}", "name", w[2]);
		} else if (strcmp(sub, "set") == 0) {
			n--;
			WANT(3);
			*header_r = PROTO_CTL_QUOTA_SET;
			p = json_pack("{s:s, s:s}", "name", w[2], "size", w[3]);
		} else {
			return usage_fail(_("unknown quota command"), sub);
		}
	} else if (strcmp(verb, "alias") == 0) {
		const char *sub = n > 1 ? w[1] : "";

		if (strcmp(sub, "list") == 0) {
			n--;
			WANT(1);
			*header_r = PROTO_CTL_ALIAS_LIST;
		} else if (strcmp(sub, "add") == 0 || strcmp(sub, "del") == 0) {
			if (n < (sub[0] == 'a' ? 4 : 3))
				return usage_fail(_("wrong number of "
				                    "arguments for"),
				    verb);
			*header_r = sub[0] == 'a' ? PROTO_CTL_ALIAS_ADD
			                          : PROTO_CTL_ALIAS_DEL;
			users = json_array();
			for (i = 3; i < n; i++)
				json_array_append_new(users, json_string(w[i]));
			p = json_pack("{s:s, s:o}", "name", w[2], "members",
			    users);
		} else {
			return usage_fail(_("unknown alias command"), sub);
		}
	} else if (strcmp(verb, "lost") == 0) {
		const char *sub = n > 1 ? w[1] : "";

		if (strcmp(sub, "list") == 0) {
			n--;
			WANT(1);
			*header_r = PROTO_CTL_LOST_LIST;
		} else if (strcmp(sub, "deliver") == 0) {
			n--;
			WANT(2);
			if (o->to == NULL)
				return usage_fail(_("lost deliver needs --to "
				                    "USER"),
				    NULL);
			*header_r = PROTO_CTL_LOST_DELIVER;
			p = json_pack("{s:s, s:s}", "id", w[2], "to", o->to);
		} else if (strcmp(sub, "purge") == 0) {
			n--;
			WANT(1);
			if (o->older < 0)
				return usage_fail(_("lost purge needs "
				                    "--older-than DAYS"),
				    NULL);
			*header_r = PROTO_CTL_LOST_PURGE;
			p = json_pack("{s:I}", "older_than_days",
			    (json_int_t)o->older);
		} else {
			return usage_fail(_("unknown lost command"), sub);
		}
	} else if (strcmp(verb, "check") == 0) {
		*header_r = PROTO_CTL_CHECK;
		users = json_array();
		for (i = 1; i < n; i++)
			json_array_append_new(users, json_string(w[i]));
		p = json_pack("{s:b, s:o}", "repair", o->repair, "users",
		    users);
	} else if (strcmp(verb, "import-seed") == 0) {
		char *abs;

		WANT(2);
		if ((abs = realpath(w[1], NULL)) == NULL) {
			fprintf(stderr, "glomailctl: %s: %s\n", w[1],
			    strerror(errno));
			return -1;
		}
		*header_r = PROTO_CTL_IMPORT_SEED;
		p = json_pack("{s:s, s:b}", "source", abs, "dry_run",
		    o->dry_run);
		free(abs);
	} else {
		return usage_fail(_("unknown command"), verb);
	}
#undef WANT
	/* Options that belong to another command are mistakes. */
	if ((o->to != NULL && *header_r != PROTO_CTL_LOST_DELIVER) ||
	    (o->older >= 0 && *header_r != PROTO_CTL_LOST_PURGE) ||
	    ((o->purge || o->keep_mail) && *header_r != PROTO_CTL_USER_DEL) ||
	    (o->repair && *header_r != PROTO_CTL_CHECK) ||
	    (o->dry_run && *header_r != PROTO_CTL_IMPORT_SEED) ||
	    (o->password_stdin && *header_r != PROTO_CTL_USER_ADD &&
	        *header_r != PROTO_CTL_USER_PASSWD)) {
		json_decref(p);
		if (*secret_r != NULL)
			term_forget(*secret_r);
		*secret_r = NULL;
		return usage_fail(_("an option does not go with this command"),
		    verb);
	}
	*payload_r = p;
	return 0;
}

static int
run(struct opts *o)
{
	struct ctl_offline off = { .pid = -1 };
	char buf[512], *secret = NULL;
	const char *path = o->socket;
	json_t *payload = NULL, *out = NULL;
	int header = 0, rc, denied, exit_code = CTL_EXIT_FAILED;

	if (build(o, &header, &payload, &secret) == -1)
		return CTL_EXIT_FAILED;
	if (o->data_dir != NULL) {
		if (header == PROTO_CTL_RELOAD ||
		    header == PROTO_CTL_LOG_LEVEL) {
			json_decref(payload);
			term_forget(secret);
			return usage_error(_("this command needs a running "
			                     "server, not --data-dir"),
			    NULL);
		}
		if (ctl_offline_start(&off, o->data_dir, o->config) == -1) {
			json_decref(payload);
			term_forget(secret);
			return CTL_EXIT_FAILED;
		}
		path = off.socket;
	} else if (path == NULL) {
		path = default_socket(buf, sizeof(buf));
	}
	rc = request(o, path, header, payload, &out, &denied);
	if (secret != NULL)
		term_forget(secret);
	if (rc == PROTO_ERROR) {
		exit_code = denied ? CTL_EXIT_FAILED : CTL_EXIT_REFUSED;
		goto done;
	}
	if (rc != PROTO_OK)
		goto done;
	exit_code = CTL_EXIT_OK;
	if (o->json) {
		char *text = json_dumps(out, JSON_COMPACT | JSON_SORT_KEYS);

		if (text != NULL)
			printf("%s\n", text);
		free(text);
		if (header == PROTO_CTL_CHECK && num(out, "remaining") > 0)
			exit_code = CTL_EXIT_REFUSED;
		goto done;
	}
	switch (header) {
	case PROTO_CTL_STATUS:
		print_status(out);
		break;
	case PROTO_CTL_USER_LIST:
		print_users(out);
		break;
	case PROTO_CTL_LOST_LIST:
		print_lost(out);
		break;
	case PROTO_CTL_QUOTA_GET:
		print_quota(out);
		break;
	case PROTO_CTL_QUOTA_SET:
		print_quota_set(out);
		break;
	case PROTO_CTL_ALIAS_LIST:
		print_aliases(out);
		break;
	case PROTO_CTL_ALIAS_ADD:
	case PROTO_CTL_ALIAS_DEL:
		print_alias_edit(out);
		break;
	case PROTO_CTL_CHECK:
		exit_code = print_check(out);
		break;
	case PROTO_CTL_IMPORT_SEED:
		print_import(out);
		break;
	case PROTO_CTL_USER_DEL:
		if (str(out, "kept_in")[0] != '\0')
			printf(_("mail kept in %s\n"), str(out, "kept_in"));
		break;
	case PROTO_CTL_LOST_DELIVER:
		printf(_("delivered to %s\n"), str(out, "to"));
		break;
	case PROTO_CTL_LOST_PURGE:
		printf(_("%lld removed\n"), num(out, "purged"));
		break;
	default:
		break;
	}
done:
	json_decref(out);
	if (o->data_dir != NULL)
		ctl_offline_stop(&off);
	return exit_code;
}

int
main(int argc, char **argv)
{
	struct opts o = { .timeout = DEFAULT_TIMEOUT, .older = -1 };
	int c, rc;

	i18n_init();
	signal(SIGPIPE, SIG_IGN);
	opterr = 0;
	while ((c = getopt_long(argc, argv, ":", long_options, NULL)) != -1) {
		switch (c) {
		case OPT_SOCKET:
			o.socket = optarg;
			break;
		case OPT_DATA_DIR:
			o.data_dir = optarg;
			break;
		case OPT_CONFIG:
			o.config = optarg;
			break;
		case OPT_JSON:
			o.json = 1;
			break;
		case OPT_TIMEOUT:
			if ((o.timeout = parse_number(optarg, 0, 86400)) == -1)
				return usage_error(_("invalid timeout"),
				    optarg);
			break;
		case OPT_PASSWORD_STDIN:
			o.password_stdin = 1;
			break;
		case OPT_PURGE:
			o.purge = 1;
			break;
		case OPT_KEEP_MAIL:
			o.keep_mail = 1;
			break;
		case OPT_TO:
			o.to = optarg;
			break;
		case OPT_OLDER:
			if ((o.older = parse_number(optarg, 0, 100000)) == -1)
				return usage_error(_("invalid number of days"),
				    optarg);
			break;
		case OPT_REPAIR:
			o.repair = 1;
			break;
		case OPT_DRY_RUN:
			o.dry_run = 1;
			break;
		case OPT_HELP:
			usage(stdout);
			return CTL_EXIT_OK;
		case OPT_VERSION:
			printf("glomailctl %s\n", GLOMAIL_VERSION);
			return CTL_EXIT_OK;
		case ':':
			return usage_error(_("option needs a value"),
			    argv[optind - 1]);
		default:
			return usage_error(_("unknown option"),
			    argv[optind - 1]);
		}
	}
	if (o.socket != NULL && o.data_dir != NULL)
		return usage_error(_("--control-socket and --data-dir exclude "
		                     "each other"),
		    NULL);
	if (o.config != NULL && o.data_dir == NULL)
		return usage_error(_("--config goes with --data-dir"), NULL);
	o.args = argv + optind;
	o.nargs = argc - optind;
	rc = run(&o);
	if (fflush(stdout) == EOF || ferror(stdout)) {
		perror("glomailctl: stdout");
		return CTL_EXIT_FAILED;
	}
	return rc;
}
