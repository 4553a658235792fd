/*
 * main.c - glomail's command line: options, help, then either the
 * interactive menus or one scriptable command.
 */
#include <getopt.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "cmd.h"
#include "i18n.h"
#include "menu.h"
#include "proto.h"
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
	{ NULL, 0, NULL, 0 },
};

static void
usage(FILE *out)
{
	/* One string: translators see the whole screen at once. */
	fprintf(out, _(
"Usage: glomail -d HOST [-p PORT] [--tls] [--timeout SECONDS]\n"
"       glomail -d HOST [-p PORT] [--tls] -u USER [--json] COMMAND\n"
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
"      --help              show this help and exit\n"
"      --version           show the version and exit\n"
"\n"
"Commands:\n"
"  register                       create the account (and log in)\n"
"  send --to ADDR --subject TEXT  send a message; the body is read\n"
"                                 from standard input; ADDR is user or\n"
"                                 user@DOMAIN, one --to per message\n"
"  list                           list the mailbox, newest first\n"
"  read N                         show message N of the list\n"
"  stats                          message count and mailbox size\n"
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

int
main(int argc, char **argv)
{
	struct cmd_opts o = { .verb = CMD_NONE };
	const char *host = NULL, *port = NULL;
	struct wire_tls tls = { NULL, NULL };
	static struct settings conf; /* static: a usage error leaves it to exit */
	int use_tls = 0;
	long long timeout = DEFAULT_TIMEOUT;
	struct session *s;
	int c, rc;

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
	while ((c = getopt_long(argc, argv, ":d:p:u:", long_options,
	    NULL)) != -1) {
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
		case OPT_SUBJECT:
			o.subject = optarg;
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
	if (o.verb == CMD_READ) {
		if (optind >= argc)
			return usage_error(_("read needs a message number"),
			    NULL);
		if ((o.number = parse_number(argv[optind], 1,
		    0x7fffffff)) == -1)
			return usage_error(_("invalid message number"),
			    argv[optind]);
		optind++;
	}
	if (optind < argc)
		return usage_error(_("unexpected argument"), argv[optind]);
	/* The file's account is for commands; the menus ask for it. */
	if (o.verb != CMD_NONE && o.user == NULL)
		o.user = conf.user;
	if (host == NULL)
		return usage_error(_("the server is required (-d HOST)"),
		    NULL);
	if (o.verb == CMD_NONE && o.user != NULL)
		return usage_error(
		    _("-u is for commands; the menus ask for the user name"),
		    NULL);
	if (o.verb != CMD_NONE && o.user == NULL)
		return usage_error(_("a command needs the account (-u USER)"),
		    NULL);
	if (o.verb == CMD_SEND && (o.nto == 0 || o.subject == NULL))
		return usage_error(_("send needs --to and --subject"), NULL);
	if (o.verb != CMD_SEND && (o.nto > 0 || o.subject != NULL))
		return usage_error(_("--to and --subject go with send"), NULL);
	if (o.verb == CMD_NONE && o.json)
		return usage_error(_("--json goes with a command"), NULL);

	if ((tls.cafile != NULL || tls.servername != NULL) && !use_tls)
		return usage_error(_("--cafile and --servername go with --tls"),
		    NULL);
	if (port == NULL)
		port = use_tls ? PROTO_DEFAULT_TLS_PORT_STR :
		    PROTO_DEFAULT_PORT_STR;
	if (session_open(host, port, use_tls ? &tls : NULL, (int)timeout,
	    &s) == -1)
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
