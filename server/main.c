/*
 * main.c - glomaild's command line: the settings from the configuration
 * file and the command line (read again on SIGHUP), then the server.
 */
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <sodium.h>

#include "config.h"
#include "log.h"
#include "server.h"

static void
usage(FILE *out)
{
	fprintf(out,
	    "usage: glomaild [options]\n"
	    "\n"
	    "The glomail server: accounts, a Maildir store and the mail protocol\n"
	    "of the original course assignment, on one event loop.\n"
	    "\n"
	    "Options (each also a KEY of the configuration file):\n");
	config_usage(out);
	fprintf(out,
	    "  --config FILE        read settings from FILE first; command-line\n"
	    "                       options win (the service reads\n"
	    "                       " CONFIG_DEFAULT_FILE ")\n"
	    "  --check-config       validate the settings and exit: 0 when\n"
	    "                       they are good, else 1 and FILE:LINE\n"
	    "  --help               show this help and exit\n"
	    "  --version            show the version and exit\n"
	    "\n"
	    "SIGTERM or SIGINT stop gracefully: no new connections, requests in\n"
	    "flight finish and are answered, then exit (at most 10 s).\n");
	config_usage_reload(out);
}

/* Where the settings come from, kept to read them again on SIGHUP. */
struct settings {
	const struct option *opts;
	const char *file;     /* NULL: the command line only */
	int argc;
	char **argv;
	struct config *live;  /* what the server runs with */
};

/*
 * The file, then the command line, over the defaults already in cfg.
 * Returns 0, or -1 with "FILE:LINE: key: reason" or "--key value: reason"
 * in err.
 */
static int
settings_read(const struct settings *st, struct config *cfg, char *err,
    size_t errlen)
{
	const char *why;
	int ch, idx;

	if (st->file != NULL && config_load(cfg, st->file, err, errlen) == -1)
		return -1;
	/* optind 0 makes glibc's getopt start afresh, as a reload needs. */
	optind = 0;
	opterr = 0;
	while ((ch = getopt_long(st->argc, st->argv, "", st->opts, &idx)) !=
	    -1) {
		if (ch != 0)
			continue;
		if (config_set(cfg, st->opts[idx].name, optarg, &why) == -1) {
			snprintf(err, errlen, "--%s %s: %s", st->opts[idx].name,
			    optarg, why);
			return -1;
		}
	}
	return 0;
}

/* SIGHUP (a server_reload_fn): a bad file keeps the running settings. */
static int
settings_reload(void *arg)
{
	const struct settings *st = arg;
	struct config fresh;
	char err[512];
	int rc = -1;

	config_init(&fresh);
	if (settings_read(st, &fresh, err, sizeof(err)) == -1) {
		log_error("reload: %s; keeping the running configuration",
		    err);
		goto out;
	}
	config_reload(st->live, &fresh);
	rc = 0;
out:
	config_clear(&fresh);
	return rc;
}


int
main(int argc, char **argv)
{
	static const struct option opts[] = {
		{ "listen", required_argument, NULL, 0 },
		{ "data-dir", required_argument, NULL, 0 },
		{ "domain", required_argument, NULL, 0 },
		{ "max-frame", required_argument, NULL, 0 },
		{ "max-output", required_argument, NULL, 0 },
		{ "max-memory", required_argument, NULL, 0 },
		{ "max-connections", required_argument, NULL, 0 },
		{ "timeout-login", required_argument, NULL, 0 },
		{ "timeout-idle", required_argument, NULL, 0 },
		{ "login-penalty", required_argument, NULL, 0 },
		{ "login-penalty-max", required_argument, NULL, 0 },
		{ "auth-workers", required_argument, NULL, 0 },
		{ "store-workers", required_argument, NULL, 0 },
		{ "log-level", required_argument, NULL, 0 },
		{ "config", required_argument, NULL, 'c' },
		{ "check-config", no_argument, NULL, 'C' },
		{ "help", no_argument, NULL, 'h' },
		{ "version", no_argument, NULL, 'V' },
		{ NULL, 0, NULL, 0 },
	};
	struct config cfg;
	struct settings st;
	struct server *srv;
	const char *config_file = NULL;
	char err[512];
	int ch, idx, check = 0, rc = 1;

	log_init("glomaild", LOG_LEVEL_INFO);
	config_init(&cfg);
	/* First pass: find --config, --help, --version. */
	opterr = 0;
	while ((ch = getopt_long(argc, argv, "", opts, &idx)) != -1) {
		switch (ch) {
		case 'c':
			config_file = optarg;
			break;
		case 'C':
			check = 1;
			break;
		case 'h':
			usage(stdout);
			config_clear(&cfg);
			return 0;
		case 'V':
			printf("glomaild %s\n", GLOMAIL_VERSION);
			config_clear(&cfg);
			return 0;
		case '?':
			fprintf(stderr, "glomaild: unknown or incomplete option "
			    "'%s'\n", argv[optind - 1]);
			usage(stderr);
			goto out;
		}
	}
	if (optind < argc) {
		fprintf(stderr, "glomaild: unexpected argument '%s'\n",
		    argv[optind]);
		goto out;
	}
	/* Second pass: the file, then command-line settings over it. */
	st.opts = opts;
	st.file = config_file;
	st.argc = argc;
	st.argv = argv;
	st.live = &cfg;
	if (settings_read(&st, &cfg, err, sizeof(err)) == -1) {
		fprintf(stderr, "glomaild: %s\n", err);
		goto out;
	}
	if (check) {
		printf("glomaild: configuration OK\n");
		rc = 0;
		goto out;
	}
	log_set_level(cfg.log_level);
	if (sodium_init() == -1) {
		log_error("cannot initialise libsodium");
		goto out;
	}
	if ((srv = server_new(&cfg)) == NULL)
		goto out;
	server_on_reload(srv, settings_reload, &st);
	if (server_listen(srv) == 0 && server_run(srv) == 0)
		rc = 0;
	server_free(srv);
out:
	config_clear(&cfg);
	return rc;
}
