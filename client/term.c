/*
 * term.c - prompts, lines from stdin, no-echo password entry.
 *
 * Everything reads through stdio's stdin so that lines typed ahead (or a
 * script's piped input) are consumed in order, whatever the kind of read.
 */
#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <termios.h>
#include <unistd.h>

#include "i18n.h"
#include "term.h"

/* Saved terminal modes, restored by the signal handler during a read. */
static struct termios saved_modes;
static volatile sig_atomic_t modes_changed;

static const int restore_signals[] = { SIGINT, SIGTERM, SIGHUP, SIGQUIT };
#define NSIGNALS (sizeof(restore_signals) / sizeof(restore_signals[0]))

/* Put echo back, then die of the signal as if no handler existed. */
static void
restore_and_raise(int sig)
{
	if (modes_changed)
		tcsetattr(STDIN_FILENO, TCSAFLUSH, &saved_modes);
	signal(sig, SIG_DFL);
	raise(sig);
}

enum term_result
term_prompt(FILE *out, const char *prompt, char **line_r)
{
	char *line = NULL;
	size_t cap = 0;
	ssize_t n;

	if (out != NULL && prompt != NULL)
		fputs(prompt, out);
	/* Whatever was printed before the prompt must show before we wait. */
	fflush(stdout);
	if (out != NULL)
		fflush(out);
	errno = 0;
	n = getline(&line, &cap, stdin);
	if (n == -1) {
		free(line);
		if (ferror(stdin) && errno != 0) {
			fprintf(stderr, "glomail: %s: %s\n", _("read error"),
			    strerror(errno));
			return TERM_ERROR;
		}
		return TERM_EOF;
	}
	if (n > 0 && line[n - 1] == '\n')
		line[--n] = '\0';
	if (n > 0 && line[n - 1] == '\r')
		line[--n] = '\0';
	if (n > TERM_LINE_MAX) {
		term_forget(line);
		fprintf(stderr, "glomail: %s\n", _("line too long"));
		return TERM_ERROR;
	}
	*line_r = line;
	return TERM_OK;
}

enum term_result
term_password(FILE *out, const char *prompt, char **line_r)
{
	struct sigaction sa, old[NSIGNALS];
	struct termios quiet;
	enum term_result rc;
	size_t i;

	if (!isatty(STDIN_FILENO) ||
	    tcgetattr(STDIN_FILENO, &saved_modes) == -1)
		return term_prompt(out, prompt, line_r);
	memset(&sa, 0, sizeof(sa));
	sa.sa_handler = restore_and_raise;
	sigemptyset(&sa.sa_mask);
	for (i = 0; i < NSIGNALS; i++)
		sigaction(restore_signals[i], &sa, &old[i]);
	quiet = saved_modes;
	quiet.c_lflag &= ~(tcflag_t)(ECHO | ECHOE | ECHOK);
	quiet.c_lflag |= ECHONL;
	/* Echo goes off before the prompt shows, as getpass(3) does. */
	modes_changed = 1;
	if (tcsetattr(STDIN_FILENO, TCSAFLUSH, &quiet) == -1)
		modes_changed = 0;
	rc = term_prompt(out, prompt, line_r);
	/* TCSANOW: keep what the user typed ahead for the next prompt. */
	if (modes_changed)
		tcsetattr(STDIN_FILENO, TCSANOW, &saved_modes);
	modes_changed = 0;
	for (i = 0; i < NSIGNALS; i++)
		sigaction(restore_signals[i], &old[i], NULL);
	/* ECHONL printed the newline; on end of input there was none. */
	if (rc != TERM_OK && out != NULL)
		fputc('\n', out);
	return rc;
}

void
term_forget(char *secret)
{
	if (secret == NULL)
		return;
	explicit_bzero(secret, strlen(secret));
	free(secret);
}
