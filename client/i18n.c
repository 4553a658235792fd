/*
 * i18n.c - locale set-up, catalogue lookup and the list of server messages
 * the client can translate.
 */
#include <limits.h>
#include <locale.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "i18n.h"

#define I18N_DOMAIN "glomail"

/*
 * The short sentences glomaild and common/rules.c send in ERROR replies.
 * Listed here with N_() so the catalogue extractor sees them; keep in step
 * with the server's texts (a missing one is shown in English, no harm done).
 */
static const char *const server_texts[] = {
	/* common/rules.c */
	N_("user name is empty"),
	N_("user name is longer than 64 characters"),
	N_("user name may hold only letters, digits, '_', '.' and '-'"),
	N_("user name may not start with '.'"),
	N_("user name is reserved"),
	N_("password is longer than 1024 bytes"),
	N_("password is not valid UTF-8"),
	N_("password must have at least 10 characters, a digit, a lower-case "
	   "and an upper-case letter"),
	N_("invalid address"),
	N_("address is outside the local domain"),
	N_("subject is longer than 998 bytes"),
	/* server */
	N_("already logged in"),
	N_("choice out of range"),
	N_("destination is outside the local domain"),
	N_("frame too large"),
	N_("invalid destination address"),
	N_("mailbox unavailable"),
	N_("message could not be read"),
	N_("message could not be stored"),
	N_("message no longer exists"),
	N_("message too large to be read"),
	N_("no such recipient; the message was kept as undeliverable"),
	N_("not logged in"),
	N_("passwords are not accepted without encryption here: use TLS"),
	N_("registration is closed: ask the administrator for an account"),
	N_("registration is only open from the server's host"),
	N_("reply too large"),
	N_("sender must be the logged-in account"),
	N_("server busy, try again later"),
	N_("server error"),
	N_("subject may not contain line breaks or control characters"),
	N_("too many login attempts, try again later"),
	N_("unknown request"),
	N_("unknown user or wrong password"),
	N_("user name is taken"),
	/* server, the control socket (glomailctl) */
	N_("an import is already running"),
	N_("log level must be error, warn, info or debug"),
	N_("no such message in LOST"),
	N_("no such user"),
	N_("permission denied"),
	N_("the new name is the old one"),
	N_("the source directory cannot be read"),
	N_("the source must be an absolute path"),
	/* server: delivery rules, replies */
	N_("recipient's mailbox is full"),
	N_("no such recipient"),
	N_("too many recipients"),
	N_("vacation end is in the past"),
	N_("vacation text is longer than 64 KiB"),
	N_("in_reply_to is not a message id"),
	N_("references is not a list of message ids"),
	/* the control socket: quotas and aliases */
	N_("bad size: bytes, or with K, M or G (e.g. 500M), up to 1048576G; 0 "
	   "for none, default for the quota setting"),
	N_("no such alias"),
	N_("an account has this name"),
	N_("an alias cannot be its own member"),
	N_("no aliases file is configured (the aliases setting)"),
	N_("the aliases file does not parse; fix it first (see the server's "
	   "log)"),
	N_("postmaster and mailer-daemon are built in (see the postmaster "
	   "setting)"),
	/* server: the mailbox extension, send-many */
	N_("no such message"),
	N_("invalid message id"),
	N_("duplicate message id"),
	N_("too many ids"),
	N_("unknown flag"),
	N_("a flag both added and removed"),
	N_("offset out of range"),
	N_("limit out of range"),
	N_("invalid date: since"),
	N_("invalid date: before"),
	N_("message could not be deleted"),
	N_("flags could not be changed"),
	N_("mailbox could not be searched"),
	N_("wrong current password"),
	N_("password could not be changed"),
	N_("no recipient"),
};

/* The locale directory beside the executable, when it exists. */
static int
exe_localedir(char *buf, size_t len)
{
	char exe[PATH_MAX];
	struct stat st;
	ssize_t n;
	char *slash;
	int w;

	n = readlink("/proc/self/exe", exe, sizeof(exe) - 1);
	if (n <= 0)
		return -1;
	exe[n] = '\0';
	if ((slash = strrchr(exe, '/')) == NULL)
		return -1;
	*slash = '\0';
	w = snprintf(buf, len, "%s/%s", exe, GLOMAIL_LOCALEDIR_FROM_BIN);
	if (w < 0 || (size_t)w >= len)
		return -1;
	return stat(buf, &st) == 0 && S_ISDIR(st.st_mode) ? 0 : -1;
}

void
i18n_init(void)
{
	const char *env = getenv("GLOMAIL_LOCALEDIR");
	char dir[PATH_MAX];

	/*
	 * A missing locale leaves "C": the client then speaks English, which
	 * is the point, so the failure is not reported.
	 */
	setlocale(LC_ALL, "");
	/* Sizes are printed "2.1 Mo" as the original does, not "2,1 Mo". */
	setlocale(LC_NUMERIC, "C");
	if (env != NULL && *env != '\0')
		bindtextdomain(I18N_DOMAIN, env);
	else if (exe_localedir(dir, sizeof(dir)) == 0)
		bindtextdomain(I18N_DOMAIN, dir);
	else
		bindtextdomain(I18N_DOMAIN, GLOMAIL_LOCALEDIR);
	textdomain(I18N_DOMAIN);
}

const char *
i18n_server_text(const char *text)
{
	size_t i;

	for (i = 0; i < sizeof(server_texts) / sizeof(server_texts[0]); i++)
		if (strcmp(text, server_texts[i]) == 0)
			return _(server_texts[i]);
	return text;
}
