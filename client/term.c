/*
 * term.c - prompts, lines from stdin, no-echo password entry.
 *
 * Everything reads through stdio's stdin so that lines typed ahead (or a
 * script's piped input) are consumed in order, whatever the kind of read.
 */
#include <errno.h>
#include <signal.h>
#include <stdint.h>
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

/*
 * Length of the UTF-8 sequence at s and its code point, or 0 when the
 * bytes are not valid UTF-8 (shown as \xNN then).
 */
static size_t
utf8_decode(const unsigned char *s, unsigned *cp_r)
{
	size_t n, i;
	unsigned cp;

	if (s[0] < 0x80) {
		*cp_r = s[0];
		return 1;
	}
	if (s[0] >= 0xc2 && s[0] <= 0xdf) {
		n = 2;
		cp = s[0] & 0x1f;
	} else if (s[0] >= 0xe0 && s[0] <= 0xef) {
		n = 3;
		cp = s[0] & 0x0f;
	} else if (s[0] >= 0xf0 && s[0] <= 0xf4) {
		n = 4;
		cp = s[0] & 0x07;
	} else {
		return 0;
	}
	for (i = 1; i < n; i++) {
		if ((s[i] & 0xc0) != 0x80)
			return 0;
		cp = cp << 6 | (s[i] & 0x3f);
	}
	if ((n == 3 && cp < 0x800) || (n == 4 && (cp < 0x10000 ||
	    cp > 0x10ffff)) || (cp >= 0xd800 && cp <= 0xdfff))
		return 0;
	*cp_r = cp;
	return n;
}

/*
 * Code points a terminal acts on, beyond C0: C1 (U+009B is CSI on many
 * terminals), and the line separators and bidirectional controls that
 * make text show other than it reads.
 */
static int
hidden_effect(unsigned cp)
{
	return (cp >= 0x80 && cp <= 0x9f) || cp == 0x2028 || cp == 0x2029 ||
	    (cp >= 0x202a && cp <= 0x202e) || (cp >= 0x2066 && cp <= 0x2069);
}

char *
term_safe(FILE *out, const char *text)
{
	const unsigned char *s = (const unsigned char *)text;
	size_t len = strlen(text), i = 0, o = 0, n;
	unsigned cp;
	char *r;

	if (!isatty(fileno(out)))
		return strdup(text);
	/* At worst each byte becomes "\xNN"; "\uNNNN" is 6 for 2+ bytes. */
	if (len > (SIZE_MAX - 1) / 4 || (r = malloc(len * 4 + 1)) == NULL)
		return NULL;
	while (i < len) {
		if ((n = utf8_decode(s + i, &cp)) == 0) {
			o += (size_t)sprintf(r + o, "\\x%02x", s[i]);
			i++;
			continue;
		}
		if ((cp < 0x20 && cp != '\t' && cp != '\n') || cp == 0x7f) {
			r[o++] = '^';
			r[o++] = cp == 0x7f ? '?' : (char)(cp + 0x40);
		} else if (hidden_effect(cp)) {
			o += (size_t)sprintf(r + o, "\\u%04x", cp);
		} else {
			memcpy(r + o, s + i, n);
			o += n;
		}
		i += n;
	}
	r[o] = '\0';
	return r;
}

void
term_show(FILE *out, const char *text)
{
	char *safe = term_safe(out, text);

	fputs(safe != NULL ? safe : text, out);
	free(safe);
}

void
term_forget(char *secret)
{
	if (secret == NULL)
		return;
	explicit_bzero(secret, strlen(secret));
	free(secret);
}
