/*
 * cmd.h - the scriptable commands: one operation per run, no menus.
 */
#ifndef GLOMAIL_CMD_H
#define GLOMAIL_CMD_H

struct session;

enum cmd_verb {
	CMD_NONE, /* no command: interactive menus */
	CMD_REGISTER,
	CMD_SEND,
	CMD_LIST,
	CMD_READ,
	CMD_STATS,
};

/* --to may be repeated; how many go in one message is the server's call. */
#define CMD_TO_MAX 64

struct cmd_opts {
	enum cmd_verb verb;
	const char *user;    /* -u: the account */
	const char *to[CMD_TO_MAX]; /* send --to, in the order given */
	size_t nto;
	const char *subject; /* send --subject */
	long long number;    /* read N */
	int json;            /* --json: print the server's payloads */
};

/* The verb named word, or CMD_NONE. */
enum cmd_verb cmd_lookup(const char *word);

/*
 * Check what can be checked locally (recipients, subject, the user name
 * and password rules for register), then authenticate as o->user
 * (password from GLOMAIL_PASSWORD, else the terminal without echo, asked
 * twice for register, else a line of stdin) and run one command.
 * Returns an exit code (SESSION_EXIT_*). Does not close s.
 */
int cmd_run(struct session *s, const struct cmd_opts *o);

#endif
