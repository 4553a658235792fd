/*
 * main.c - glomaild's command line.
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
	    "                       options win\n"
	    "  --check-config       validate the settings and exit\n"
	    "  --help               show this help and exit\n"
	    "  --version            show the version and exit\n");
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
		{ "max-connections", required_argument, NULL, 0 },
		{ "timeout-login", required_argument, NULL, 0 },
		{ "timeout-idle", required_argument, NULL, 0 },
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
	struct server *srv;
	const char *why, *config_file = NULL;
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
	if (config_file != NULL &&
	    config_load(&cfg, config_file, err, sizeof(err)) == -1) {
		fprintf(stderr, "glomaild: %s\n", err);
		goto out;
	}
	/* Second pass: command-line settings override the file. */
	optind = 1;
	while ((ch = getopt_long(argc, argv, "", opts, &idx)) != -1) {
		if (ch != 0)
			continue;
		if (config_set(&cfg, opts[idx].name, optarg, &why) == -1) {
			fprintf(stderr, "glomaild: --%s %s: %s\n",
			    opts[idx].name, optarg, why);
			goto out;
		}
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
	if (server_listen(srv) == 0 && server_run(srv) == 0)
		rc = 0;
	server_free(srv);
out:
	config_clear(&cfg);
	return rc;
}
