/*
 * settings.c - reading the client's configuration file.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "i18n.h"
#include "settings.h"

/* The file's path in buf; 0, or -1 when there is no home to look in. */
static int
settings_path(char *buf, size_t len, int *explicit_r)
{
	const char *p;

	*explicit_r = 0;
	if ((p = getenv("GLOMAIL_CONFIG")) != NULL && *p != '\0') {
		*explicit_r = 1;
		return snprintf(buf, len, "%s", p) < (int)len ? 0 : -1;
	}
	if ((p = getenv("XDG_CONFIG_HOME")) != NULL && *p == '/')
		return snprintf(buf, len, "%s/glomail/config", p) < (int)len ?
		    0 : -1;
	if ((p = getenv("HOME")) != NULL && *p == '/')
		return snprintf(buf, len, "%s/.config/glomail/config", p) <
		    (int)len ? 0 : -1;
	return -1;
}

static char *
trim(char *s)
{
	char *e;

	while (*s == ' ' || *s == '\t')
		s++;
	e = s + strlen(s);
	while (e > s && (e[-1] == ' ' || e[-1] == '\t' || e[-1] == '\n' ||
	    e[-1] == '\r'))
		*--e = '\0';
	return s;
}

/* One key; -1 with *why_r for an unknown key or a bad value. */
static int
settings_set(struct settings *s, const char *key, const char *value,
    const char **why_r)
{
	char **field = NULL;

	if (strcmp(key, "server") == 0)
		field = &s->server;
	else if (strcmp(key, "port") == 0)
		field = &s->port;
	else if (strcmp(key, "user") == 0)
		field = &s->user;
	else if (strcmp(key, "cafile") == 0)
		field = &s->cafile;
	else if (strcmp(key, "servername") == 0)
		field = &s->servername;
	else if (strcmp(key, "tls") == 0) {
		if (strcasecmp(value, "yes") == 0 || strcmp(value, "1") == 0 ||
		    strcasecmp(value, "true") == 0 ||
		    strcasecmp(value, "on") == 0)
			s->tls = 1;
		else if (strcasecmp(value, "no") == 0 ||
		    strcmp(value, "0") == 0 ||
		    strcasecmp(value, "false") == 0 ||
		    strcasecmp(value, "off") == 0)
			s->tls = 0;
		else {
			*why_r = _("tls must be yes or no");
			return -1;
		}
		return 0;
	} else {
		*why_r = _("unknown setting");
		return -1;
	}
	if (*value == '\0') {
		*why_r = _("empty value");
		return -1;
	}
	free(*field);
	if ((*field = strdup(value)) == NULL) {
		*why_r = strerror(errno);
		return -1;
	}
	return 0;
}

int
settings_load(struct settings *s)
{
	char path[4096], line[1024], *p, *eq;
	const char *why;
	unsigned lineno = 0;
	int explicit;
	FILE *f;

	memset(s, 0, sizeof(*s));
	s->tls = -1;
	if (settings_path(path, sizeof(path), &explicit) == -1)
		return 0;
	if ((f = fopen(path, "r")) == NULL) {
		if (errno == ENOENT && !explicit)
			return 0;
		fprintf(stderr, "glomail: %s: %s\n", path, strerror(errno));
		return -1;
	}
	while (fgets(line, sizeof(line), f) != NULL) {
		lineno++;
		if ((p = strchr(line, '#')) != NULL)
			*p = '\0';
		p = trim(line);
		if (*p == '\0')
			continue;
		if ((eq = strchr(p, '=')) == NULL) {
			fprintf(stderr, "glomail: %s:%u: %s\n", path, lineno,
			    _("expected key = value"));
			goto fail;
		}
		*eq = '\0';
		if (settings_set(s, trim(p), trim(eq + 1), &why) == -1) {
			fprintf(stderr, "glomail: %s:%u: %s: %s\n", path,
			    lineno, trim(p), why);
			goto fail;
		}
	}
	fclose(f);
	return 0;
fail:
	fclose(f);
	settings_clear(s);
	return -1;
}

void
settings_clear(struct settings *s)
{
	free(s->server);
	free(s->port);
	free(s->user);
	free(s->cafile);
	free(s->servername);
	memset(s, 0, sizeof(*s));
	s->tls = -1;
}
