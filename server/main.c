/*
 * main.c - glomaild's command line: the settings from the configuration
 * file and the command line (read again on SIGHUP), then the server.
 */
#include <fcntl.h>
#include <getopt.h>
#include <libgen.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <sodium.h>

#include "aliases.h"
#include "config.h"
#include "ctl.h"
#include "log.h"
#include "rules.h"
#include "server.h"
#include "users.h"

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
	config_usage_line(out, "--config FILE",
	    "read settings from FILE "
	    "first; command-line options win (the service reads " CONFIG_DEFAULT_FILE
	    ")");
	config_usage_line(out, "--check-config",
	    "validate the settings and "
	    "the aliases file (loops, members that are no account) and exit: "
	    "0 when they are good, else 1 and FILE:LINE");
	config_usage_line(out, "--control-only",
	    "serve the control socket "
	    "alone, with no TCP listener (glomailctl --data-dir)");
	config_usage_line(out, "--help", "show this help and exit");
	config_usage_line(out, "--version", "show the version and exit");
	fprintf(out,
	    "\n"
	    "SIGTERM or SIGINT stop gracefully: no new connections, requests in\n"
	    "flight finish and are answered, then exit (at most 10 s).\n");
	config_usage_reload(out);
}

/* One setting given on the command line: a key of the table and its text. */
struct cli_setting {
	size_t key;
	const char *value; /* in argv, which lives as long as the process */
};

/*
 * Where the settings come from, kept to read them again on SIGHUP: the
 * command line is parsed once, and its settings are applied again after
 * the file at every reload.
 */
struct settings {
	const char *file; /* NULL: the command line only */
	struct cli_setting *cli;
	size_t ncli;
	struct config *live; /* what the server runs with */
	struct server *srv;
	char aliases[4096];   /* the aliases file; "": none */
	int aliases_required; /* named by the aliases setting */
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
	const char *why, *key;
	size_t i;

	if (st->file != NULL && config_load(cfg, st->file, err, errlen) == -1)
		return -1;
	for (i = 0; i < st->ncli; i++) {
		key = config_key_name(st->cli[i].key);
		if (config_set(cfg, key, st->cli[i].value, &why) == -1) {
			snprintf(err, errlen, "--%s %s: %s", key,
			    st->cli[i].value, why);
			return -1;
		}
	}
	return 0;
}

/*
 * Where the aliases are: the aliases setting, else the file aliases beside
 * the configuration file (which may be missing). The postmaster setting is
 * checked and lower-cased here too.
 */
static int
aliases_locate(struct settings *st, struct config *cfg, char *err,
    size_t errlen)
{
	char lower[RULES_USERNAME_MAX + 1], dir[4096];
	const char *why;

	if (rules_username(cfg->postmaster, lower, &why) == -1) {
		snprintf(err, errlen, "postmaster %s: %s", cfg->postmaster,
		    why);
		return -1;
	}
	if (config_set(cfg, "postmaster", lower, &why) == -1) {
		snprintf(err, errlen, "postmaster: %s", why);
		return -1;
	}
	st->aliases[0] = '\0';
	st->aliases_required = cfg->aliases != NULL;
	if (cfg->aliases != NULL)
		snprintf(st->aliases, sizeof(st->aliases), "%s", cfg->aliases);
	else if (st->file != NULL) {
		snprintf(dir, sizeof(dir), "%s", st->file);
		snprintf(st->aliases, sizeof(st->aliases), "%s/aliases",
		    dirname(dir));
	}
	return 0;
}

/* The aliases file, or NULL with the reason in err. */
static struct aliases *
aliases_read(const struct settings *st, char *err, size_t errlen)
{
	return aliases_load(st->aliases[0] != '\0' ? st->aliases : NULL,
	    st->aliases_required, err, errlen);
}

/* SIGHUP: a file that does not parse keeps the table in force. */
static void
aliases_reload(const struct settings *st)
{
	struct aliases *a;
	char err[512];

	if (st->srv == NULL)
		return;
	if ((a = aliases_read(st, err, sizeof(err))) == NULL) {
		log_error("reload: %s; keeping the aliases in force", err);
		return;
	}
	server_set_aliases(st->srv, a);
	if (st->aliases[0] != '\0')
		log_info("aliases: %s read", st->aliases);
}

/* --check-config: whether a member is an account of the data directory. */
struct check {
	int datafd;
	const char *file;
};

static int
check_exists(const char *member, void *arg)
{
	const struct check *ck = arg;

	return ck->datafd != -1 && users_exists(ck->datafd, member) == 1;
}

static void
check_report(const char *problem, void *arg)
{
	const struct check *ck = arg;

	fprintf(stderr, "glomaild: %s:%s\n", ck->file, problem);
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
		log_error("reload: %s; keeping the running configuration", err);
		goto out;
	}
	config_reload(st->live, &fresh);
	rc = 0;
out:
	config_clear(&fresh);
	aliases_reload(st);
	return rc;
}

/* The options: every key of the table, then those of the command alone. */
static struct option *
options_new(void)
{
	static const struct option own[] = {
		{ "config", required_argument, NULL, 'c' },
		{ "check-config", no_argument, NULL, 'C' },
		{ "control-only", no_argument, NULL, 'O' },
		{ "help", no_argument, NULL, 'h' },
		{ "version", no_argument, NULL, 'V' },
		{ NULL, 0, NULL, 0 },
	};
	size_t i, n = config_key_count();
	struct option *opts;

	if ((opts = calloc(n + sizeof(own) / sizeof(own[0]), sizeof(*opts))) ==
	    NULL)
		return NULL;
	for (i = 0; i < n; i++) {
		opts[i].name = config_key_name(i);
		opts[i].has_arg = required_argument;
	}
	memcpy(opts + n, own, sizeof(own));
	return opts;
}

int
main(int argc, char **argv)
{
	struct option *opts;
	struct config cfg;
	struct settings st = { 0 };
	struct server *srv;
	struct aliases *aliases = NULL;
	struct ctl *ctl;
	char err[512];
	int ch, idx, check = 0, control_only = 0, rc = 1, datafd;

	log_init("glomaild", LOG_LEVEL_INFO);
	config_init(&cfg);
	st.live = &cfg;
	opts = options_new();
	/* Every setting given fits: at most one per argument. */
	st.cli = calloc((size_t)argc + 1, sizeof(*st.cli));
	if (opts == NULL || st.cli == NULL) {
		fprintf(stderr, "glomaild: out of memory\n");
		goto out;
	}
	/* One pass: the command's own options, and the settings to apply
	 * over the file, in their order. */
	opterr = 0;
	while ((ch = getopt_long(argc, argv, "", opts, &idx)) != -1) {
		switch (ch) {
		case 0:
			st.cli[st.ncli].key = (size_t)idx;
			st.cli[st.ncli++].value = optarg;
			break;
		case 'c':
			st.file = optarg;
			break;
		case 'C':
			check = 1;
			break;
		case 'O':
			control_only = 1;
			break;
		case 'h':
			usage(stdout);
			rc = 0;
			goto out;
		case 'V':
			printf("glomaild %s\n", GLOMAIL_VERSION);
			rc = 0;
			goto out;
		case '?':
		default:
			fprintf(stderr,
			    "glomaild: unknown or incomplete option "
			    "'%s'\n",
			    argv[optind - 1]);
			usage(stderr);
			goto out;
		}
	}
	if (optind < argc) {
		fprintf(stderr, "glomaild: unexpected argument '%s'\n",
		    argv[optind]);
		goto out;
	}
	/* The file, then command-line settings over it. */
	if (settings_read(&st, &cfg, err, sizeof(err)) == -1) {
		fprintf(stderr, "glomaild: %s\n", err);
		goto out;
	}
	if (aliases_locate(&st, &cfg, err, sizeof(err)) == -1 ||
	    (aliases = aliases_read(&st, err, sizeof(err))) == NULL) {
		fprintf(stderr, "glomaild: %s\n", err);
		goto out;
	}
	if (check) {
		struct check ck = { -1, st.aliases };

		ck.datafd = open(cfg.data_dir,
		    O_RDONLY | O_DIRECTORY | O_CLOEXEC);
		datafd = aliases_check(aliases, check_exists, &ck,
		    check_report);
		if (ck.datafd != -1)
			close(ck.datafd);
		if (datafd > 0)
			goto out;
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
	server_set_aliases(srv, aliases);
	aliases = NULL;
	server_set_aliases_file(srv, st.aliases);
	st.srv = srv;
	/* Offline administration is for a store no server runs on. */
	if (control_only && server_store_shared(srv)) {
		log_error("cannot lock %s/.glomaild.lock: a server runs on it",
		    cfg.data_dir);
		server_free(srv);
		goto out;
	}
	server_on_reload(srv, settings_reload, &st);
	if ((ctl = ctl_new(srv)) != NULL &&
	    (control_only || server_listen(srv) == 0) && server_run(srv) == 0)
		rc = 0;
	ctl_free(ctl);
	server_free(srv);
out:
	aliases_free(aliases);
	config_clear(&cfg);
	free(st.cli);
	free(opts);
	return rc;
}
