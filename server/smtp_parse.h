/*
 * smtp_parse.h - the SMTP session's pure parsing: command lines, MAIL and
 * RCPT paths with their parameters, HELO names, AUTH PLAIN responses, and
 * the DATA reader. Nothing here does I/O, so every byte sequence a peer can
 * send is tested (and fuzzed) without a socket.
 */
#ifndef GLOMAILD_SMTP_PARSE_H
#define GLOMAILD_SMTP_PARSE_H

#include <stddef.h>

#define SMTP_LINE_MAX 2048 /* a command line, CRLF included */
#define SMTP_PATH_MAX 256  /* RFC 5321 §4.5.3.1.3 */

enum smtp_verb {
	SMTP_UNKNOWN,
	SMTP_HELO,
	SMTP_EHLO,
	SMTP_MAIL,
	SMTP_RCPT,
	SMTP_DATA,
	SMTP_RSET,
	SMTP_NOOP,
	SMTP_QUIT,
	SMTP_VRFY,
	SMTP_EXPN,
	SMTP_HELP,
	SMTP_STARTTLS,
	SMTP_AUTH,
	SMTP_HTTP, /* GET, POST...: another protocol, close */
};

/*
 * Split a command line (CRLF removed, NUL-terminated) into its verb and
 * argument (what follows the verb and its blanks; "" when none). Verbs are
 * case-insensitive.
 */
enum smtp_verb smtp_parse_verb(const char *line, const char **arg_r);

/* The verb's name in upper case, for logs ("UNKNOWN" when none). */
const char *smtp_verb_name(enum smtp_verb verb);

/* A MAIL FROM or RCPT TO argument, checked. */
struct smtp_path {
	char addr[SMTP_PATH_MAX + 1]; /* "" for the null path <> */
	unsigned long long size;      /* SIZE=, 0 when not given */
	int body_8bit;                /* BODY=8BITMIME */
};

enum smtp_path_error {
	SMTP_PATH_OK,
	SMTP_PATH_SYNTAX,  /* 501 / 553: not FROM:<...> or TO:<...> */
	SMTP_PATH_ADDRESS, /* 553 5.1.7 / 501 5.1.3: a bad address */
	SMTP_PATH_PARAM,   /* 555 5.5.4: a parameter not supported */
};

/*
 * Parse "FROM:<addr> [SIZE=n] [BODY=7BIT|8BITMIME]" (from = 1) or
 * "TO:<addr>" (from = 0). The keyword and parameters are case-insensitive;
 * blanks after the colon are tolerated (some clients send them). The
 * address is a dot-atom local part, '@', and a domain; quoted local parts,
 * source routes and control characters are refused. MAIL accepts the null
 * path <>; RCPT accepts <postmaster> without a domain (RFC 5321 §4.1.1.3).
 */
enum smtp_path_error smtp_parse_path(const char *arg, int from,
    struct smtp_path *path_r);

/* 1 when name is a domain or an address literal ([192.0.2.1], [IPv6:..]). */
int smtp_helo_ok(const char *name);

/*
 * Decode an AUTH PLAIN response (base64 of authzid NUL authcid NUL
 * password). The authorisation identity must be empty or equal to the
 * authentication one. Returns 0 with user_r and pass_r filled, -1 when it
 * does not decode (501), -2 when it asks to act as someone else (535).
 */
int smtp_auth_plain(const char *b64, char *user_r, size_t userlen, char *pass_r,
    size_t passlen);

/* Decode one base64 line of AUTH LOGIN into out (NUL-terminated). 0/-1. */
int smtp_base64_text(const char *b64, char *out, size_t outlen);

/*
 * The DATA reader: a byte-level state machine that ends only at CRLF . CRLF
 * (a leading ". CRLF" right after the 354 as well), removes the stuffed dot
 * of lines that begin with one, writes lines with LF endings, and marks the
 * message instead of stopping when something is wrong, so the reader always
 * consumes to the real terminator before the session replies: a bare CR, a
 * NUL, a "." line framed by a bare LF (an ambiguous end, as in SMTP
 * smuggling), more bytes than the limit, and bare LFs (normalised, or
 * refused when asked).
 */
enum {
	SMTP_DATA_BARE_CR = 1 << 0,
	SMTP_DATA_NUL = 1 << 1,
	SMTP_DATA_AMBIGUOUS = 1 << 2,
	SMTP_DATA_TOO_BIG = 1 << 3,
	SMTP_DATA_BARE_LF = 1 << 4,
};

/* Where the content goes; -1 stops the output (kept consuming). */
typedef int (*smtp_emit_fn)(void *arg, const char *p, size_t n);

struct smtp_data {
	int state;
	int strict_bol; /* the line began after CRLF (or at the start) */
	int flags;      /* SMTP_DATA_* seen so far */
	size_t max;     /* content bytes allowed */
	size_t size;    /* content bytes so far */
	smtp_emit_fn emit;
	void *arg;
	int emit_failed;
	char out[4096];
	size_t nout;
};

void smtp_data_init(struct smtp_data *d, size_t max, smtp_emit_fn emit,
    void *arg);

/*
 * Feed the next bytes. Returns 1 once the terminator has been read, with
 * *used_r the bytes consumed (the rest belongs to the next command), or 0
 * when every byte was consumed and more are needed.
 */
int smtp_data_feed(struct smtp_data *d, const char *in, size_t len,
    size_t *used_r);

/*
 * Whether the message may be stored: 0, or the reason for a 5xx (the flag
 * that decides it, reject_bare_lf adding bare LFs to the reasons).
 */
int smtp_data_verdict(const struct smtp_data *d, int reject_bare_lf);

#endif
