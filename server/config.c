/*
 * config.c - the table of settings and the two ways in: command line and
 * configuration file; which settings a running server may take on reload.
 */
#include <errno.h>
#include <limits.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "config.h"
#include "frame.h"
#include "proto.h"

enum config_type { T_LISTEN, T_STRING, T_SIZE, T_UINT, T_LEVEL };

static const struct config_key {
	const char *name;
	const char *arg;         /* what --help calls the value */
	enum config_type type;
	size_t offset;
	unsigned long long min, max;
	const char *help;
} config_keys[] = {
	{ "listen", "HOST:PORT", T_LISTEN, 0, 0, 0,
	  "address to listen on, HOST:PORT or [IPV6]:PORT (repeatable; "
	  "default 127.0.0.1:9672; port 0 picks a free port)" },
	{ "data-dir", "DIR", T_STRING, offsetof(struct config, data_dir), 0, 0,
	  "the mail store (default ./glo_server_data)" },
	{ "domain", "NAME", T_STRING, offsetof(struct config, domain), 0, 0,
	  "the local mail domain (default glo2000.ca)" },
	{ "max-frame", "BYTES", T_SIZE, offsetof(struct config, max_frame), 64,
	  FRAME_MAX_LIMIT, "largest request accepted, in bytes (default 1048576)" },
	{ "max-output", "BYTES", T_SIZE, offsetof(struct config, max_output), 4096,
	  (unsigned long long)1 << 40,
	  "replies queued for one client, in bytes; a reply that would "
	  "exceed it is refused (default 4194304)" },
	{ "max-memory", "BYTES", T_SIZE, offsetof(struct config, max_memory),
	  1024 * 1024, (unsigned long long)1 << 48,
	  "input and output all connections may hold together, in bytes; "
	  "past it large requests and replies are refused (default a quarter "
	  "of physical memory, at least 64M)" },
	{ "max-connections", "N", T_UINT, offsetof(struct config, max_connections),
	  1, 1000000, "simultaneous connections (default 16384)" },
	{ "timeout-login", "SECONDS", T_UINT, offsetof(struct config, timeout_login), 1,
	  86400, "seconds a connection may stay silent before login (default 60)" },
	{ "timeout-idle", "SECONDS", T_UINT, offsetof(struct config, timeout_idle), 1,
	  86400, "seconds a logged-in connection may stay silent (default 900)" },
	{ "login-penalty", "MS", T_UINT, offsetof(struct config, login_penalty), 0,
	  60000, "milliseconds the next login for an account or from an "
	  "address waits after one failure, doubling per failure; 0 turns "
	  "throttling off (default 2000)" },
	{ "login-penalty-max", "MS", T_UINT, offsetof(struct config,
	  login_penalty_max), 0, 3600000,
	  "longest such wait, in milliseconds (default 15000)" },
	{ "auth-workers", "N", T_UINT, offsetof(struct config, auth_workers), 1, 64,
	  "threads hashing passwords (default 2)" },
	{ "store-workers", "N", T_UINT, offsetof(struct config, store_workers), 1,
	  64, "threads writing mail to disk (default 8)" },
	{ "log-level", "LEVEL", T_LEVEL, offsetof(struct config, log_level), 0, 0,
	  "error, warn, info or debug (default info)" },
};

/* A quarter of physical memory, at least 64 MiB: max-memory's default. */
static size_t
default_max_memory(void)
{
	long pages = sysconf(_SC_PHYS_PAGES), size = sysconf(_SC_PAGESIZE);
	unsigned long long quarter = pages > 0 && size > 0 ?
	    (unsigned long long)pages * (unsigned long long)size / 4 : 0;

	if (quarter < (unsigned long long)64 << 20)
		quarter = (unsigned long long)64 << 20;
	return quarter > SIZE_MAX ? SIZE_MAX : (size_t)quarter;
}

void
config_init(struct config *cfg)
{
	memset(cfg, 0, sizeof(*cfg));
	cfg->listen[0] = strdup("127.0.0.1:" PROTO_DEFAULT_PORT_STR);
	cfg->nlisten = 1;
	cfg->listen_default = 1;
	cfg->data_dir = strdup("./glo_server_data");
	cfg->domain = strdup(PROTO_DEFAULT_DOMAIN);
	cfg->max_frame = FRAME_MAX_DEFAULT;
	cfg->max_output = (size_t)4 << 20;
	cfg->max_memory = default_max_memory();
	cfg->max_connections = 16384;
	cfg->timeout_login = 60;
	cfg->timeout_idle = 900;
	cfg->login_penalty = 2000;
	cfg->login_penalty_max = 15000;
	cfg->auth_workers = 2;
	cfg->store_workers = 8;
	cfg->log_level = LOG_LEVEL_INFO;
}

void
config_clear(struct config *cfg)
{
	size_t i;

	for (i = 0; i < cfg->nlisten; i++)
		free(cfg->listen[i]);
	free(cfg->data_dir);
	free(cfg->domain);
	memset(cfg, 0, sizeof(*cfg));
}

/* Key names compare with '_' and '-' alike. */
static const struct config_key *
find_key(const char *name)
{
	size_t i, j;

	for (i = 0; i < sizeof(config_keys) / sizeof(config_keys[0]); i++) {
		const char *k = config_keys[i].name;

		for (j = 0; k[j] != '\0' && name[j] != '\0'; j++)
			if (k[j] != name[j] && !(k[j] == '-' && name[j] == '_'))
				break;
		if (k[j] == '\0' && name[j] == '\0')
			return &config_keys[i];
	}
	return NULL;
}

/* Decimal with an optional K/M/G suffix (powers of 1024). */
static int
parse_number(const char *s, int suffix, unsigned long long *out)
{
	unsigned long long v, mult = 1;
	char *end;

	if (*s < '0' || *s > '9')
		return -1;
	errno = 0;
	v = strtoull(s, &end, 10);
	if (errno != 0)
		return -1;
	if (suffix && *end != '\0' && end[1] == '\0') {
		switch (*end) {
		case 'k': case 'K': mult = 1024; break;
		case 'm': case 'M': mult = 1024 * 1024; break;
		case 'g': case 'G': mult = 1024 * 1024 * 1024; break;
		default: return -1;
		}
		end++;
	}
	if (*end != '\0' || v > ULLONG_MAX / mult)
		return -1;
	*out = v * mult;
	return 0;
}

/*
 * HOST:PORT or [V6]:PORT with a decimal port up to 65535. The host is
 * resolved only when binding; checking the shape here lets --check-config
 * catch a typo.
 */
static int
check_listen(const char *value)
{
	const char *colon = strrchr(value, ':'), *p;
	size_t hlen;

	if (colon == NULL || colon[1] == '\0' || strlen(colon + 1) > 5)
		return -1;
	for (p = colon + 1; *p != '\0'; p++)
		if (*p < '0' || *p > '9')
			return -1;
	if (atoi(colon + 1) > 65535)
		return -1;
	hlen = (size_t)(colon - value);
	if (hlen == 0)
		return -1;
	if (value[0] == '[' && (hlen < 3 || value[hlen - 1] != ']'))
		return -1;
	return 0;
}

int
config_set(struct config *cfg, const char *key, const char *value,
    const char **why_r)
{
	const struct config_key *k = find_key(key);
	unsigned long long n;
	char *copy, **sp;

	if (k == NULL) {
		*why_r = "unknown setting";
		return -1;
	}
	switch (k->type) {
	case T_LISTEN:
		if (check_listen(value) == -1) {
			*why_r = "listen wants HOST:PORT or [IPV6]:PORT";
			return -1;
		}
		if (cfg->listen_default) {
			free(cfg->listen[0]);
			cfg->nlisten = 0;
			cfg->listen_default = 0;
		}
		if (cfg->nlisten == CONFIG_LISTEN_MAX) {
			*why_r = "too many listen addresses";
			return -1;
		}
		if ((copy = strdup(value)) == NULL)
			goto nomem;
		cfg->listen[cfg->nlisten++] = copy;
		return 0;
	case T_STRING:
		if (*value == '\0') {
			*why_r = "empty value";
			return -1;
		}
		if ((copy = strdup(value)) == NULL)
			goto nomem;
		sp = (char **)((char *)cfg + k->offset);
		free(*sp);
		*sp = copy;
		return 0;
	case T_SIZE:
	case T_UINT:
		if (parse_number(value, k->type == T_SIZE, &n) == -1 ||
		    n < k->min || n > k->max) {
			*why_r = "value is not a number in range";
			return -1;
		}
		if (k->type == T_SIZE)
			*(size_t *)((char *)cfg + k->offset) = (size_t)n;
		else
			*(unsigned *)((char *)cfg + k->offset) = (unsigned)n;
		return 0;
	case T_LEVEL:
		if (log_level_parse(value, (enum log_level *)((char *)cfg +
		    k->offset)) == -1) {
			*why_r = "log level is not error, warn, info or debug";
			return -1;
		}
		return 0;
	}
	*why_r = "unknown setting";
	return -1;
nomem:
	*why_r = "out of memory";
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

int
config_load(struct config *cfg, const char *path, char *err, size_t errlen)
{
	FILE *f = fopen(path, "r");
	char line[4096], *p, *eq, *key, *value;
	const char *why;
	unsigned lineno = 0;

	if (f == NULL) {
		snprintf(err, errlen, "%s: %s", path, strerror(errno));
		return -1;
	}
	while (fgets(line, sizeof(line), f) != NULL) {
		lineno++;
		if (strchr(line, '\n') == NULL && !feof(f)) {
			snprintf(err, errlen, "%s:%u: line too long", path,
			    lineno);
			goto fail;
		}
		if ((p = strchr(line, '#')) != NULL)
			*p = '\0';
		p = trim(line);
		if (*p == '\0')
			continue;
		if ((eq = strchr(p, '=')) == NULL) {
			snprintf(err, errlen, "%s:%u: expected key = value",
			    path, lineno);
			goto fail;
		}
		*eq = '\0';
		key = trim(p);
		value = trim(eq + 1);
		if (config_set(cfg, key, value, &why) == -1) {
			snprintf(err, errlen, "%s:%u: %s: %s", path, lineno,
			    key, why);
			goto fail;
		}
	}
	fclose(f);
	return 0;
fail:
	fclose(f);
	return -1;
}

/* Print text from column indent, wrapped before column 79. */
static void
usage_wrap(FILE *out, const char *text, int col, int indent)
{
	const char *p = text, *sp;
	int n;

	while (*p != '\0') {
		n = (int)strlen(p);
		if (col + n > 78) {
			/* The last blank that fits, or the first one at all. */
			for (sp = p + (78 - col); sp > p && *sp != ' '; sp--)
				;
			if (sp == p && (sp = strchr(p, ' ')) == NULL)
				sp = p + n;
			n = (int)(sp - p);
		}
		fprintf(out, "%.*s\n", n, p);
		p += n;
		while (*p == ' ')
			p++;
		if (*p != '\0')
			fprintf(out, "%*s", indent, "");
		col = indent;
	}
}

void
config_usage(FILE *out)
{
	const int indent = 23;
	size_t i;
	int n;

	for (i = 0; i < sizeof(config_keys) / sizeof(config_keys[0]); i++) {
		n = fprintf(out, "  --%s %s", config_keys[i].name,
		    config_keys[i].arg);
		if (n >= indent - 1) {
			fprintf(out, "\n%*s", indent, "");
			n = indent;
		} else {
			fprintf(out, "%*s", indent - n, "");
			n = indent;
		}
		usage_wrap(out, config_keys[i].help, n, indent);
	}
}

/*
 * Settings a running server takes on SIGHUP: each is read at use time on
 * the reactor thread. The others shape state built once at start-up
 * (sockets, the store and its lock, worker threads, addresses in stored
 * mail) and need a restart.
 */
static const char *const config_reloadable[] = {
	"max-frame", "max-output", "max-memory", "max-connections",
	"timeout-login", "timeout-idle", "log-level",
};

static int
is_reloadable(const struct config_key *k)
{
	size_t i;

	for (i = 0; i < sizeof(config_reloadable) /
	    sizeof(config_reloadable[0]); i++)
		if (strcmp(k->name, config_reloadable[i]) == 0)
			return 1;
	return 0;
}

/* A setting's value as text, for the reload report. */
static void
format_value(const struct config *cfg, const struct config_key *k, char *buf,
    size_t len)
{
	const char *p = (const char *)cfg + k->offset;
	size_t i, used = 0;
	int n;

	buf[0] = '\0';
	switch (k->type) {
	case T_LISTEN:
		for (i = 0; i < cfg->nlisten && used < len; i++) {
			n = snprintf(buf + used, len - used, "%s%s",
			    i > 0 ? " " : "", cfg->listen[i]);
			used += n > 0 ? (size_t)n : 0;
		}
		break;
	case T_STRING:
		snprintf(buf, len, "%s", *(char *const *)(const void *)p);
		break;
	case T_SIZE:
		snprintf(buf, len, "%zu", *(const size_t *)(const void *)p);
		break;
	case T_UINT:
		snprintf(buf, len, "%u", *(const unsigned *)(const void *)p);
		break;
	case T_LEVEL:
		snprintf(buf, len, "%s", log_level_name(
		    *(const enum log_level *)(const void *)p));
		break;
	}
}

/* Copy one scalar setting from src to dst. */
static void
copy_value(struct config *dst, const struct config *src,
    const struct config_key *k)
{
	const char *from = (const char *)src + k->offset;
	char *to = (char *)dst + k->offset;

	switch (k->type) {
	case T_SIZE:
		memcpy(to, from, sizeof(size_t));
		break;
	case T_UINT:
		memcpy(to, from, sizeof(unsigned));
		break;
	case T_LEVEL:
		memcpy(to, from, sizeof(enum log_level));
		break;
	case T_LISTEN:
	case T_STRING:
		break; /* never reloadable: pointers other threads may hold */
	}
}

int
config_reload(struct config *live, const struct config *fresh)
{
	char was[512], now[512];
	size_t i;
	int changed = 0;

	for (i = 0; i < sizeof(config_keys) / sizeof(config_keys[0]); i++) {
		const struct config_key *k = &config_keys[i];

		format_value(live, k, was, sizeof(was));
		format_value(fresh, k, now, sizeof(now));
		if (strcmp(was, now) == 0)
			continue;
		if (!is_reloadable(k)) {
			log_warn("reload: %s cannot change while running "
			    "(keeping %s; restart to use %s)", k->name, was,
			    now);
			continue;
		}
		copy_value(live, fresh, k);
		log_info("reload: %s %s -> %s", k->name, was, now);
		changed++;
	}
	return changed;
}

void
config_usage_reload(FILE *out)
{
	size_t i;

	fprintf(out, "SIGHUP reads the settings again and applies\n ");
	for (i = 0; i < sizeof(config_reloadable) /
	    sizeof(config_reloadable[0]); i++)
		fprintf(out, "%s %s", i == 0 ? "" : ",", config_reloadable[i]);
	fprintf(out, ";\nthe others need a restart.\n");
}
