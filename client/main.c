/*
 * main.c - glomail's command line: options, help, then either the
 * interactive menus or one scriptable command.
 */
#include <getopt.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "cmd.h"
#include "i18n.h"
#include "listing.h"
#include "menu.h"
#include "proto.h"
#include "sendmail.h"
#include "reply.h"
#include "session.h"
#include "settings.h"

/* Seconds to wait for a reply before calling the server gone. */
#define DEFAULT_TIMEOUT 30

enum {
	OPT_JSON = 256,
	OPT_TO,
	OPT_SUBJECT,
	OPT_TIMEOUT,
	OPT_HELP,
	OPT_VERSION,
	OPT_TLS,
	OPT_CAFILE,
	OPT_SERVERNAME,
	OPT_ALL,
	OPT_ON,
	OPT_OFF,
	OPT_UNTIL,
	OPT_CC,
	OPT_UNREAD,
	OPT_PAGE,
	OPT_PER_PAGE,
	OPT_FROM,
	OPT_BODY,
	OPT_SINCE,
	OPT_BEFORE,
	OPT_SEEN,
	OPT_UNSEEN,
	OPT_FLAGGED,
	OPT_UNFLAGGED,
	OPT_DATE_FORMAT,
};

static const struct option long_options[] = {
	{ "destination", required_argument, NULL, 'd' },
	{ "port", required_argument, NULL, 'p' },
	{ "user", required_argument, NULL, 'u' },
	{ "json", no_argument, NULL, OPT_JSON },
	{ "to", required_argument, NULL, OPT_TO },
	{ "subject", required_argument, NULL, OPT_SUBJECT },
	{ "timeout", required_argument, NULL, OPT_TIMEOUT },
	{ "tls", no_argument, NULL, OPT_TLS },
	{ "cafile", required_argument, NULL, OPT_CAFILE },
	{ "servername", required_argument, NULL, OPT_SERVERNAME },
	{ "help", no_argument, NULL, OPT_HELP },
	{ "version", no_argument, NULL, OPT_VERSION },
	{ "all", no_argument, NULL, OPT_ALL },
	{ "on", no_argument, NULL, OPT_ON },
	{ "off", no_argument, NULL, OPT_OFF },
	{ "until", required_argument, NULL, OPT_UNTIL },
	{ "cc", required_argument, NULL, OPT_CC },
	{ "unread", no_argument, NULL, OPT_UNREAD },
	{ "page", required_argument, NULL, OPT_PAGE },
	{ "per-page", required_argument, NULL, OPT_PER_PAGE },
	{ "from", required_argument, NULL, OPT_FROM },
	{ "body", required_argument, NULL, OPT_BODY },
	{ "since", required_argument, NULL, OPT_SINCE },
	{ "before", required_argument, NULL, OPT_BEFORE },
	{ "seen", no_argument, NULL, OPT_SEEN },
	{ "unseen", no_argument, NULL, OPT_UNSEEN },
	{ "flagged", no_argument, NULL, OPT_FLAGGED },
	{ "unflagged", no_argument, NULL, OPT_UNFLAGGED },
	{ "date-format", required_argument, NULL, OPT_DATE_FORMAT },
	{ NULL, 0, NULL, 0 },
};

static void
usage(FILE *out)
{
	/* One string: translators see the whole screen at once. */
	fprintf(out,
	    _("Usage: glomail -d HOST [-p PORT] [--tls] [--timeout SECONDS]\n"
	      "       glomail -d HOST [-p PORT] [--tls] -u USER [--json] COMMAND\n"
	      "       glomail sendmail [-t] [-f FROM] [ADDR...]\n"
	      "\n"
	      "Without a command, glomail shows the connection and main menus.\n"
	      "\n"
	      "Options:\n"
	      "  -d, --destination HOST  server name or address (required)\n"
	      "  -p, --port PORT         server port (default %s, %s with --tls)\n"
	      "  -u, --user USER         account for a command\n"
	      "      --json              print the server's replies as JSON lines\n"
	      "      --tls               talk TLS, verifying the server's certificate\n"
	      "                          and its name (no fallback to plaintext)\n"
	      "      --cafile FILE       trust this authority instead of the system's\n"
	      "      --servername NAME   the name the certificate must carry\n"
	      "                          (default: HOST)\n"
	      "      --timeout SECONDS   wait at most this long for a reply\n"
	      "                          (default %d, 0 waits forever)\n"
	      "      --date-format local|seed\n"
	      "                          dates in the local time zone (default)\n"
	      "                          or as the server sent them\n"
	      "      --help              show this help and exit\n"
	      "      --version           show the version and exit\n"
	      "\n"
	      "Commands:\n"
	      "  register                       create the account (and log in)\n"
	      "  send --to ADDR [--cc ADDR] --subject TEXT\n"
	      "                                 send a message; the body is read\n"
	      "                                 from standard input; ADDR is user or\n"
	      "                                 user@DOMAIN; --to and --cc may be\n"
	      "                                 repeated when the server can send to\n"
	      "                                 several (one line per recipient)\n"
	      "  list [--unread] [--page N] [--per-page N]\n"
	      "                                 list the mailbox, newest first; '*'\n"
	      "                                 marks the unread, '!' the flagged\n"
	      "  read N|ID                      show message N of the list, or by id\n"
	      "  delete N|ID...                 delete messages\n"
	      "  mark N|ID... --seen|--unseen|--flagged|--unflagged\n"
	      "                                 change the flags of messages\n"
	      "  search [--from X] [--to X] [--subject X] [--body X]\n"
	      "         [--since YYYY-MM-DD] [--before YYYY-MM-DD] [--unread] [TEXT]\n"
	      "                                 list the messages that match them all\n"
	      "  passwd                         change the password: the new one from\n"
	      "                                 GLOMAIL_NEW_PASSWORD, else asked twice\n"
	      "  watch                          print a line per new message until\n"
	      "                                 interrupted\n"
	      "  stats                          message count and mailbox size\n"
	      "                                 (and quota, when the server has one)\n"
	      "  reply N|ID [--all]             reply to message N (--all: also to\n"
	      "                                 its other recipients); the text is\n"
	      "                                 read from standard input\n"
	      "  forward N|ID --to ADDR...      forward message N, with the text\n"
	      "                                 from standard input before it\n"
	      "  vacation --on --subject TEXT [--until YYYY-MM-DD]\n"
	      "                                 answer mail automatically (once per\n"
	      "                                 sender a week) with the text from\n"
	      "                                 standard input, to the end of that day\n"
	      "                                 (UTC)\n"
	      "  vacation --off                 stop answering automatically\n"
	      "\n"
	      "With --json, list and search print one JSON object per message and\n"
	      "per line. The mailbox commands need a server with the extension.\n"
	      "\n"
	      "Defaults for -d, -p, -u and the TLS options may be set in\n"
	      "~/.config/glomail/config (see glomail(1)); options win over it.\n"
	      "\n"
	      "The password is taken from GLOMAIL_PASSWORD; otherwise it is asked\n"
	      "on the terminal without echo, or read as the first line of standard\n"
	      "input when that is not a terminal.\n"
	      "\n"
	      "Exit status: 0 success, 1 the server refused (the reason is printed\n"
	      "on standard error), 2 usage, connection or local error.\n"),
	    PROTO_DEFAULT_PORT_STR, PROTO_DEFAULT_TLS_PORT_STR,
	    DEFAULT_TIMEOUT);
}

/* Complain about the command line and point at --help. */
static int
usage_error(const char *what, const char *arg)
{
	if (arg != NULL)
		fprintf(stderr, "glomail: %s: %s\n", what, arg);
	else
		fprintf(stderr, "glomail: %s\n", what);
	fprintf(stderr, _("Try 'glomail --help' for more information.\n"));
	return SESSION_EXIT_FAILED;
}

/* A whole decimal number in [min, max], or -1. */
static long long
parse_number(const char *s, long long min, long long max)
{
	char *end;
	long long v;

	if (*s < '0' || *s > '9')
		return -1;
	v = strtoll(s, &end, 10);
	if (*end != '\0' || v < min || v > max)
		return -1;
	return v;
}

/*
 * A message named on the command line: a number from 1, or an id (a
 * Maildir name's base: it holds a '.', or starts with '=' for the hashed
 * names of foreign files), without '/' or ':'.
 */
static int
target_ok(const char *w)
{
	long long n;

	if (listing_number(w, &n))
		return n >= 1;
	return (strchr(w, '.') != NULL || w[0] == '=') &&
	       strpbrk(w, "/:") == NULL && strlen(w) <= 255;
}

int
main(int argc, char **argv)
{
	struct cmd_opts o = { .verb = CMD_NONE, .vacation = -1 };
	const char *host = NULL, *port = NULL;
	struct wire_tls tls = { NULL, NULL };
	static struct settings
	    conf; /* static: a usage error leaves it to exit */
	int use_tls = 0, seed_dates = 0;
	long long timeout = DEFAULT_TIMEOUT;
	struct session *s;
	const char *base = strrchr(argv[0], '/');
	int c, rc;

	/* As glomail-sendmail, or named sendmail by the administrator. */
	base = base != NULL ? base + 1 : argv[0];
	if (strcmp(base, "glomail-sendmail") == 0 ||
	    strcmp(base, "sendmail") == 0)
		return sendmail_main(argc, argv);
	if (argc > 1 && strcmp(argv[1], "sendmail") == 0)
		return sendmail_main(argc - 1, argv + 1);
	i18n_init();
	/* The file first: every option given below wins over it. */
	if (settings_load(&conf) == -1)
		return SESSION_EXIT_FAILED;
	host = conf.server;
	port = conf.port;
	use_tls = conf.tls == 1;
	tls.cafile = conf.cafile;
	tls.servername = conf.servername;
	/* A server gone mid-write is reported by the write, not a signal. */
	signal(SIGPIPE, SIG_IGN);
	opterr = 0;
	while ((c = getopt_long(argc, argv, ":d:p:u:", long_options, NULL)) !=
	       -1) {
		switch (c) {
		case 'd':
			host = optarg;
			break;
		case 'p':
			if (parse_number(optarg, 1, 65535) == -1)
				return usage_error(_("invalid port"), optarg);
			port = optarg;
			break;
		case 'u':
			o.user = optarg;
			break;
		case OPT_JSON:
			o.json = 1;
			break;
		case OPT_TO:
			if (o.nto == CMD_TO_MAX)
				return usage_error(_("too many recipients"),
				    NULL);
			o.to[o.nto++] = optarg;
			break;
		case OPT_CC:
			if (o.ncc == CMD_TO_MAX)
				return usage_error(_("too many recipients"),
				    NULL);
			o.cc[o.ncc++] = optarg;
			break;
		case OPT_SUBJECT:
			o.subject = optarg;
			break;
		case OPT_UNREAD:
			o.unread = 1;
			break;
		case OPT_PAGE:
			if ((o.page = parse_number(optarg, 1, 1000000000)) ==
			    -1)
				return usage_error(_("invalid page number"),
				    optarg);
			break;
		case OPT_PER_PAGE:
			if ((o.per_page = parse_number(optarg, 1, 10000)) == -1)
				return usage_error(_("invalid number of "
				                     "messages per page"),
				    optarg);
			break;
		case OPT_FROM:
			o.from = optarg;
			break;
		case OPT_BODY:
			o.body = optarg;
			break;
		case OPT_SINCE:
		case OPT_BEFORE:
			if (reply_date_end(optarg) == -1)
				return usage_error(_("invalid date, expected "
				                     "YYYY-MM-DD"),
				    optarg);
			*(c == OPT_SINCE ? &o.since : &o.before) = optarg;
			break;
		case OPT_SEEN:
		case OPT_UNSEEN:
		case OPT_FLAGGED:
		case OPT_UNFLAGGED: {
			unsigned f = c == OPT_SEEN || c == OPT_UNSEEN
			                 ? MSG_FLAG_SEEN
			                 : MSG_FLAG_FLAGGED;

			if (((o.add | o.remove) & f) != 0)
				return usage_error(
				    _("give each flag once: "
				      "--seen or --unseen, "
				      "--flagged or --unflagged"),
				    NULL);
			if (c == OPT_SEEN || c == OPT_FLAGGED)
				o.add |= f;
			else
				o.remove |= f;
			break;
		}
		case OPT_DATE_FORMAT:
			if (strcmp(optarg, "seed") == 0)
				seed_dates = 1;
			else if (strcmp(optarg, "local") == 0)
				seed_dates = 0;
			else
				return usage_error(_("--date-format is local "
				                     "or seed"),
				    optarg);
			break;
		case OPT_ALL:
			o.all = 1;
			break;
		case OPT_ON:
		case OPT_OFF:
			if (o.vacation != -1)
				return usage_error(_("give --on or --off once"),
				    NULL);
			o.vacation = c == OPT_ON;
			break;
		case OPT_UNTIL:
			if ((o.until = reply_date_end(optarg)) == -1)
				return usage_error(_("invalid date, expected "
				                     "YYYY-MM-DD"),
				    optarg);
			break;
		case OPT_TIMEOUT:
			if ((timeout = parse_number(optarg, 0, 86400)) == -1)
				return usage_error(_("invalid timeout"),
				    optarg);
			break;
		case OPT_TLS:
			use_tls = 1;
			break;
		case OPT_CAFILE:
			tls.cafile = optarg;
			break;
		case OPT_SERVERNAME:
			tls.servername = optarg;
			break;
		case OPT_HELP:
			usage(stdout);
			return SESSION_EXIT_OK;
		case OPT_VERSION:
			printf("glomail %s\n", GLOMAIL_VERSION);
			return SESSION_EXIT_OK;
		case ':':
			return usage_error(_("option needs a value"),
			    argv[optind - 1]);
		default:
			if (optopt != 0) {
				char opt[3] = { '-', (char)optopt, '\0' };

				return usage_error(_("unknown option"), opt);
			}
			return usage_error(_("unknown option"),
			    argv[optind - 1]);
		}
	}
	if (optind < argc) {
		if ((o.verb = cmd_lookup(argv[optind])) == CMD_NONE)
			return usage_error(_("unknown command"), argv[optind]);
		optind++;
	}
	if (o.verb == CMD_REPLY || o.verb == CMD_FORWARD) {
		if (optind >= argc)
			return usage_error(
			    _("reply and forward need a message number"), NULL);
		/* A number, or an id (looked up in the list). */
		if (!listing_number(argv[optind], &o.number)) {
			if (!target_ok(argv[optind]))
				return usage_error(_("invalid message number"),
				    argv[optind]);
			o.number = 0;
			o.targets = (const char *const *)argv + optind;
			o.ntargets = 1;
		} else if (o.number < 1 || o.number > 0x7fffffff)
			return usage_error(_("invalid message number"),
			    argv[optind]);
		optind++;
	}
	/* Messages by number or id: read takes one, delete and mark many. */
	if (o.verb == CMD_READ || o.verb == CMD_DELETE || o.verb == CMD_MARK) {
		o.targets = (const char *const *)argv + optind;
		while (optind < argc && o.ntargets < CMD_TARGETS_MAX &&
		       (o.verb != CMD_READ || o.ntargets == 0)) {
			if (!target_ok(argv[optind]))
				return usage_error(
				    _("invalid message number or id"),
				    argv[optind]);
			o.ntargets++;
			optind++;
		}
		if (o.ntargets == 0)
			return usage_error(
			    o.verb == CMD_READ
			        ? _("read needs a message number "
			            "or id")
			        : _("delete and mark need message "
			            "numbers or ids"),
			    NULL);
		if (o.verb == CMD_READ &&
		    listing_number(argv[optind - 1], &o.number) == 0)
			o.number = 0;
	}
	if (o.verb == CMD_SEARCH && optind < argc)
		o.text = argv[optind++];
	if (optind < argc)
		return usage_error(_("unexpected argument"), argv[optind]);
	/* The file's account is for commands; the menus ask for it. */
	if (o.verb != CMD_NONE && o.user == NULL)
		o.user = conf.user;
	if (host == NULL)
		return usage_error(_("the server is required (-d HOST)"), NULL);
	if (o.verb == CMD_NONE && o.user != NULL)
		return usage_error(
		    _("-u is for commands; the menus ask for the user name"),
		    NULL);
	if (o.verb != CMD_NONE && o.user == NULL)
		return usage_error(_("a command needs the account (-u USER)"),
		    NULL);
	if (o.verb == CMD_SEND && (o.nto == 0 || o.subject == NULL))
		return usage_error(_("send needs --to and --subject"), NULL);
	if (o.verb == CMD_FORWARD && (o.nto == 0 || o.subject != NULL))
		return usage_error(_("forward needs --to, and takes no "
		                     "--subject"),
		    NULL);
	if (o.verb == CMD_VACATION &&
	    (o.vacation == -1 || o.nto > 0 ||
	        (o.vacation == 1) != (o.subject != NULL) ||
	        (o.vacation == 0 && o.until != 0)))
		return usage_error(_("vacation needs --on --subject TEXT "
		                     "[--until DATE], or --off"),
		    NULL);
	if (o.verb != CMD_SEND && o.verb != CMD_FORWARD &&
	    o.verb != CMD_VACATION && o.verb != CMD_SEARCH &&
	    (o.nto > 0 || o.subject != NULL))
		return usage_error(_("--to and --subject go with send"), NULL);
	if (o.verb == CMD_SEARCH && o.nto > 1)
		return usage_error(_("search takes one --to"), NULL);
	if (o.ncc > 0 && o.verb != CMD_SEND)
		return usage_error(_("--cc goes with send"), NULL);
	if ((o.unread || o.page != 0 || o.per_page != 0) &&
	    o.verb != CMD_LIST && o.verb != CMD_SEARCH)
		return usage_error(_("--unread, --page and --per-page go with "
		                     "list and search"),
		    NULL);
	if ((o.from != NULL || o.body != NULL || o.since != NULL ||
	        o.before != NULL) &&
	    o.verb != CMD_SEARCH)
		return usage_error(_("--from, --body, --since and --before go "
		                     "with search"),
		    NULL);
	if ((o.add | o.remove) != 0 && o.verb != CMD_MARK)
		return usage_error(_("--seen, --unseen, --flagged and "
		                     "--unflagged go with mark"),
		    NULL);
	if (o.verb == CMD_MARK && (o.add | o.remove) == 0)
		return usage_error(
		    _("mark needs --seen, --unseen, --flagged or "
		      "--unflagged"),
		    NULL);
	if ((o.all && o.verb != CMD_REPLY) ||
	    (o.verb != CMD_VACATION && (o.vacation != -1 || o.until != 0)))
		return usage_error(_("--all goes with reply; --on, --off and "
		                     "--until with vacation"),
		    NULL);
	if (o.verb == CMD_NONE && o.json)
		return usage_error(_("--json goes with a command"), NULL);

	if ((tls.cafile != NULL || tls.servername != NULL) && !use_tls)
		return usage_error(_("--cafile and --servername go with --tls"),
		    NULL);
	listing_seed_dates(seed_dates);
	if (port == NULL)
		port = use_tls ? PROTO_DEFAULT_TLS_PORT_STR
		               : PROTO_DEFAULT_PORT_STR;
	if (session_open(host, port, use_tls ? &tls : NULL, (int)timeout, &s) ==
	    -1)
		return SESSION_EXIT_FAILED;
	/* "Please wait" goes where a person is looking, never into data. */
	if (o.verb == CMD_NONE && isatty(STDOUT_FILENO))
		session_set_notice(s, stdout);
	else if (o.verb != CMD_NONE && isatty(STDERR_FILENO))
		session_set_notice(s, stderr);
	rc = o.verb == CMD_NONE ? menu_run(s) : cmd_run(s, &o);
	session_close(s);
	settings_clear(&conf);
	if (fflush(stdout) == EOF || ferror(stdout)) {
		perror("glomail: stdout");
		return SESSION_EXIT_FAILED;
	}
	return rc;
}
