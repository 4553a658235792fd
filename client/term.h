/*
 * term.h - reading what the user types: prompts, lines and passwords.
 */
#ifndef GLOMAIL_TERM_H
#define GLOMAIL_TERM_H

#include <stddef.h>
#include <stdio.h>

/* Longest line accepted at a prompt (a password, an address, a subject). */
#define TERM_LINE_MAX 4096

enum term_result {
	TERM_OK,
	TERM_EOF,   /* end of input: the caller quits */
	TERM_ERROR, /* read error or line too long; message printed */
};

/*
 * Print prompt on out (none when out or prompt is NULL) and read one line
 * from stdin into a new string without its newline (*line_r, free it).
 */
enum term_result term_prompt(FILE *out, const char *prompt, char **line_r);

/*
 * Like term_prompt, but with echo turned off first when stdin is a
 * terminal; echo comes back even when a signal ends the program during
 * the read. Without a terminal the line is read as it comes, so scripts
 * can pipe the password in.
 */
enum term_result term_password(FILE *out, const char *prompt,
    char **line_r);

/*
 * Text from the server made fit for out: when out is a terminal, control
 * characters other than TAB and newline are shown visibly (ESC as "^[",
 * DEL as "^?", C1 controls and bidirectional overrides as "\u009b"), as
 * mutt and less do, so a message cannot retitle or repaint the reader's
 * terminal; elsewhere (a pipe, a file) the text is kept byte for byte.
 * Returns a new string (free it), or NULL when memory runs out.
 */
char *term_safe(FILE *out, const char *text);

/* Print text on out through term_safe (as is when memory runs out). */
void term_show(FILE *out, const char *text);

/* Overwrite and free a secret. */
void term_forget(char *secret);

#endif
