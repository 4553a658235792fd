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
	CMD_REPLY,    /* reply N [--all] */
	CMD_FORWARD,  /* forward N --to ADDR... */
	CMD_VACATION, /* vacation --on [--until DATE] --subject S | --off */
	/* The mailbox extension. */
	CMD_DELETE, /* delete N|ID... */
	CMD_MARK,   /* mark N|ID... --seen|--unseen|--flagged|--unflagged */
	CMD_SEARCH, /* search [--from X] [--to X] ... [TEXT] */
	CMD_PASSWD, /* passwd */
	CMD_WATCH,  /* watch: new-mail notices until a signal */
};

/*
 * --to and --cc may be repeated; how many go in one message is the
 * server's call (CAPABILITIES), this only bounds the command line.
 */
#define CMD_TO_MAX 1000

/* Message numbers or ids one delete or mark takes (the server's limit). */
#define CMD_TARGETS_MAX 1000

struct cmd_opts {
	enum cmd_verb verb;
	const char *user;           /* -u: the account */
	const char *to[CMD_TO_MAX]; /* send --to, in the order given */
	size_t nto;
	const char *cc[CMD_TO_MAX]; /* send --cc */
	size_t ncc;
	const char *subject;        /* send --subject; search --subject */
	long long number;           /* read N, reply N, forward N; 0: an id */
	const char *const *targets; /* read, delete, mark: N or ID words */
	size_t ntargets;
	int json;                   /* --json: print the server's payloads */
	int all;                    /* reply --all */
	int vacation;               /* vacation: 1 --on, 0 --off, -1 neither */
	long long until;            /* vacation --until: the end, or 0 */
	int unread;                 /* list, search --unread */
	long long page;             /* --page N (from 1), 0: not given */
	long long per_page;         /* --per-page N, 0: not given */
	const char *from, *body;    /* search --from, --body */
	const char *since, *before; /* search dates, YYYY-MM-DD */
	const char *text;           /* search TEXT */
	unsigned add, remove;       /* mark: MSG_FLAG_* */
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
