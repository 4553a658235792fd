/*
 * clientrun.h - run the real glomail binary from a test: with pipes for
 * the scriptable commands, or in a pseudo-terminal for the menus (an
 * expect-style reader: wait for a text, type a line).
 */
#ifndef GLOMAIL_CLIENTRUN_H
#define GLOMAIL_CLIENTRUN_H

#include <stddef.h>
#include <sys/types.h>

/* Path of the built client (GLOMAIL_CLIENT overrides). */
const char *clientrun_binary(void);

struct clientrun_result {
	int exit_code;   /* exit status, or 128 + signal, or -1 on timeout */
	char *out;       /* all of stdout, NUL-terminated */
	char *err;       /* all of stderr, NUL-terminated */
};

/*
 * Run the client with argv (argv[0] is ignored and replaced by the
 * binary), the test's environment cleaned of locale and GLOMAIL_*
 * variables, plus env (NULL-terminated "NAME=value", may be NULL), and
 * input written on its stdin then closed. Kills it after 30 s.
 * Returns 0 or -1.
 */
int clientrun(const char *const *argv, const char *const *env,
    const char *input, struct clientrun_result *r);

void clientrun_free(struct clientrun_result *r);

/* A client in a pseudo-terminal. */
struct pty {
	pid_t pid;
	int fd;          /* the master side */
	char *buf;       /* everything the client wrote, NUL-terminated */
	size_t len;
	size_t cap;
	size_t mark;     /* pty_expect looks from here on */
	int eof;
	int status;      /* set by pty_wait */
};

/* Start the client in a new pseudo-terminal. Returns 0 or -1. */
int pty_spawn(struct pty *p, const char *const *argv,
    const char *const *env);

/*
 * Wait until text appears in the output after the mark, then move the
 * mark past it. Returns 0, or -1 after timeout_ms or end of output (the
 * output so far is printed for the test log).
 */
int pty_expect(struct pty *p, const char *text, int timeout_ms);

/* Type s (bytes as given: "\n" is Enter, "\004" is Ctrl-D). */
int pty_type(struct pty *p, const char *s);

/* 1 when the terminal's ECHO flag is set, 0 when not, -1 on error. */
int pty_echo(struct pty *p);

/*
 * Read until the client closes the terminal and reap it, in at most
 * timeout_ms (then kill it). Returns the exit code (128 + signal when
 * killed by one), or -1 on timeout.
 */
int pty_wait(struct pty *p, int timeout_ms);

/* Kill if still running, close, free. */
void pty_close(struct pty *p);

/*
 * A seed-style server (tests/seed_server.py: headers 1-10 only, ERROR to
 * anything else, sender and date stored as sent) on a free loopback port.
 */
struct seedsrv {
	pid_t pid;
	char port[16];
};

/* Start it and read the port it bound. Returns 0 or -1. */
int seedsrv_start(struct seedsrv *s);

/* Kill and reap it (nothing when not running). */
void seedsrv_stop(struct seedsrv *s);

/*
 * Make sure fr_CA.UTF-8 can be used: already there, else built with
 * localedef system-wide (as the dependency script does), else built in
 * a private directory named by LOCPATH. On success env_r is set to a
 * "LOCPATH=..." entry for the client or to NULL. Returns 0, or -1 with
 * a reason in why (to print before skipping).
 */
int clientrun_french(const char **env_r, char *why, size_t whylen);

#endif
