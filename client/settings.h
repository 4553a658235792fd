/*
 * settings.h - the client's configuration file: the server, port, account
 * and TLS settings a user would otherwise type on every command line.
 * $XDG_CONFIG_HOME/glomail/config (default ~/.config/glomail/config), or
 * the file GLOMAIL_CONFIG names; "key = value" lines, '#' comments. Keys:
 * server, port, user, tls (yes/no), cafile, servername. Command-line
 * options win over the file.
 */
#ifndef GLOMAIL_SETTINGS_H
#define GLOMAIL_SETTINGS_H

struct settings {
	char *server;
	char *port;
	char *user;
	int tls;        /* -1: not set */
	char *cafile;
	char *servername;
};

/*
 * Read the file if there is one (none is not an error). Returns 0, or -1
 * after printing "FILE:LINE: reason" on stderr.
 */
int settings_load(struct settings *s);

void settings_clear(struct settings *s);

#endif
