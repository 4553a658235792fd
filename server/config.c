/*
 * config.c - the table of settings and the two ways in: command line and
 * configuration file; which settings a running server may take on reload.
 *
 * config_table below is the only list of settings. Everything else is
 * derived from it: the defaults (config_init), the getopt_long options and
 * --help (main.c), the range in every error message, and what SIGHUP
 * applies. A test checks that dist/glomaild.conf and glomaild.conf(5) name
 * exactly the keys of this table, and that --help names every one.
 *
 * Adding a setting:
 *   1. a field in struct config (config.h);
 *   2. one row here, with the ROW_* macro of its type: the key, the field,
 *      the range (numbers), the default as it would be written in the file,
 *      RELOAD or RESTART, and the --help text (lower case, no final stop;
 *      the range and the default are appended);
 *   3. a paragraph in dist/man/glomaild.conf.5.in and a commented-out line
 *      in dist/glomaild.conf (test_config fails until both exist), and the
 *      option in dist/man/glomaild.8.in.
 * A new kind of value is one enum config_type value, plus one case in
 * set_value, format_value and copy_value. RELOAD is only for values read at
 * use time on the reactor thread; strings never are (other threads may hold
 * the old pointer).
 */
#include <errno.h>
#include <limits.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <unistd.h>

#include "config.h"
#include "frame.h"
#include "proto.h"

enum config_type {
	T_LISTEN,   /* HOST:PORT, repeatable: struct config_listen */
	T_STRING,   /* char *, not empty */
	T_PATH,     /* char *, a file name; empty: unset (NULL) */
	T_CHOICE,   /* unsigned: the index of one of the row's words */
	T_DOMAIN,   /* char *, a mail domain, stored in lower case */
	T_BOOL,     /* int: yes/no, true/false, on/off, 1/0 */
	T_UINT,     /* unsigned: a count */
	T_SIZE,     /* size_t: bytes, K/M/G suffixes */
	T_SECONDS,  /* unsigned: seconds; ms/s/m/h suffixes */
	T_MILLIS,   /* unsigned: milliseconds; ms/s/m/h suffixes */
	T_LEVEL,    /* enum log_level */
};

enum { RESTART = 0, RELOAD = 1 };

struct config_key {
	const char *name;
	enum config_type type;
	const char *arg;         /* what --help calls the value */
	size_t offset;           /* of the field in struct config */
	unsigned long long min, max;
	/*
	 * The default, written as in the file. With def_fn, def describes
	 * it in words for --help and def_fn computes it at start-up.
	 */
	const char *def;
	void (*def_fn)(char *buf, size_t len);
	int reload;              /* SIGHUP applies it */
	const char *help;
	const char *const *words; /* T_CHOICE: the values, NULL-terminated */
};

/*
 * The field's offset, refused at compile time when the field does not have
 * the size the type stores (an unsigned row on a size_t field, say).
 */
#define FIELD(f, type) (offsetof(struct config, f) + 0 * sizeof(char[	\
	sizeof(((struct config *)0)->f) == sizeof(type) ? 1 : -1]))

#define ROW_STRING(n, f, arg, def, rl, help) \
	{ n, T_STRING, arg, FIELD(f, char *), 0, 0, def, NULL, rl, help, NULL }
#define ROW_DOMAIN(n, f, def, rl, help) \
	{ n, T_DOMAIN, "NAME", FIELD(f, char *), 0, 0, def, NULL, rl, help, NULL }
#define ROW_BOOL(n, f, def, rl, help) \
	{ n, T_BOOL, "yes|no", FIELD(f, int), 0, 1, def, NULL, rl, help, NULL }
#define ROW_UINT(n, f, arg, lo, hi, def, rl, help) \
	{ n, T_UINT, arg, FIELD(f, unsigned), lo, hi, def, NULL, rl, help, NULL }
#define ROW_SIZE(n, f, lo, hi, def, rl, help) \
	{ n, T_SIZE, "BYTES", FIELD(f, size_t), lo, hi, def, NULL, rl, help, NULL }
#define ROW_SIZE_FN(n, f, lo, hi, words, fn, rl, help) \
	{ n, T_SIZE, "BYTES", FIELD(f, size_t), lo, hi, words, fn, rl, help, NULL }
#define ROW_SECONDS(n, f, lo, hi, def, rl, help) \
	{ n, T_SECONDS, "SECONDS", FIELD(f, unsigned), lo, hi, def, NULL, rl, \
	  help, NULL }
#define ROW_MILLIS(n, f, lo, hi, def, rl, help) \
	{ n, T_MILLIS, "MS", FIELD(f, unsigned), lo, hi, def, NULL, rl, help, NULL }
#define ROW_LISTEN(n, f, def, help) \
	{ n, T_LISTEN, "HOST:PORT", FIELD(f, struct config_listen), 0, 0, def, \
	  NULL, RESTART, help, NULL }
#define ROW_PATH_FN(n, f, arg, words, fn, rl, help) \
	{ n, T_PATH, arg, FIELD(f, char *), 0, 0, words, fn, rl, help, NULL }
#define ROW_PATH(n, f, rl, help) \
	{ n, T_PATH, "FILE", FIELD(f, char *), 0, 0, "", NULL, rl, help, NULL }
#define ROW_CHOICE(n, f, arg, words, def, rl, help) \
	{ n, T_CHOICE, arg, FIELD(f, unsigned), 0, 0, def, NULL, rl, help, \
	  words }
#define ROW_LEVEL(n, f, def, rl, help) \
	{ n, T_LEVEL, "LEVEL", FIELD(f, enum log_level), 0, 0, def, NULL, rl, \
	  help, NULL }

static void default_max_memory(char *buf, size_t len);
static void default_control_socket(char *buf, size_t len);

/* The words of each T_CHOICE row, in the order of its enum. */
static const char *const tls_profiles[] = { "intermediate", "modern", NULL };
static const char *const plaintext_auths[] = { "loopback", "always", "never",
	NULL };
static const char *const registrations[] = { "open", "loopback", "closed",
	NULL };

static const struct config_key config_table[] = {
	ROW_LISTEN("listen", listen, "127.0.0.1:" PROTO_DEFAULT_PORT_STR,
	    "address to listen on, HOST:PORT or [IPV6]:PORT; repeatable, port 0 "
	    "picks a free port"),
	ROW_LISTEN("tls-listen", tls_listen, "",
	    "address to listen on with TLS from the first byte (port "
	    PROTO_DEFAULT_TLS_PORT_STR " by convention); repeatable"),
	ROW_PATH("tls-cert", tls_cert, RELOAD,
	    "certificate chain in PEM, leaf first; unset: tls.crt in "
	    "$CREDENTIALS_DIRECTORY"),
	ROW_PATH("tls-key", tls_key, RELOAD,
	    "the certificate's private key in PEM, unencrypted, mode 0600; "
	    "unset: tls.key in $CREDENTIALS_DIRECTORY"),
	ROW_CHOICE("tls-profile", tls_profile, "PROFILE", tls_profiles, "intermediate",
	    RELOAD, "intermediate (TLS 1.2 and 1.3, ECDHE AEAD suites) or "
	    "modern (TLS 1.3 only)"),
	ROW_CHOICE("plaintext-auth", plaintext_auth, "WHERE", plaintext_auths,
	    "loopback", RELOAD, "where register, login and password changes "
	    "may go without TLS: loopback peers only, always, or never"),
	ROW_CHOICE("registration", registration, "WHO", registrations, "open",
	    RELOAD, "who may create an account: open, loopback peers only, "
	    "or closed (the administrator only)"),
	ROW_STRING("data-dir", data_dir, "DIR", "./glo_server_data", RESTART,
	    "the mail store"),
	ROW_DOMAIN("domain", domain, PROTO_DEFAULT_DOMAIN, RESTART,
	    "the local mail domain: letters, digits, hyphens and at least one "
	    "dot"),
	ROW_SIZE("max-frame", max_frame, 64, FRAME_MAX_LIMIT, "1M", RELOAD,
	    "largest request accepted"),
	ROW_SIZE("max-output", max_output, 4096, (unsigned long long)1 << 40,
	    "4M", RELOAD,
	    "replies queued for one client; a reply that would exceed it is "
	    "refused"),
	ROW_SIZE_FN("max-memory", max_memory, 1024 * 1024,
	    (unsigned long long)1 << 48,
	    "a quarter of physical memory, at least 64M", default_max_memory,
	    RELOAD, "input and output all connections may hold together; "
	    "past it large requests and replies are refused"),
	ROW_UINT("max-connections", max_connections, "N", 1, 1000000, "16384",
	    RELOAD, "simultaneous connections"),
	ROW_SECONDS("timeout-login", timeout_login, 1, 86400, "60", RELOAD,
	    "how long a connection may stay silent before login"),
	ROW_SECONDS("timeout-idle", timeout_idle, 1, 86400, "900", RELOAD,
	    "how long a logged-in connection may stay silent"),
	ROW_MILLIS("login-penalty", login_penalty, 0, 60000, "2000", RESTART,
	    "how long the next login for an account (or from an address "
	    "guessing across accounts) waits after one failure, doubling "
	    "per failure; 0 turns throttling off"),
	ROW_MILLIS("login-penalty-max", login_penalty_max, 0, 3600000, "15000",
	    RESTART, "longest such wait"),
	ROW_UINT("auth-workers", auth_workers, "N", 1, 64, "2", RESTART,
	    "threads hashing passwords"),
	ROW_UINT("store-workers", store_workers, "N", 1, 64, "8", RESTART,
	    "threads writing mail to disk"),
	ROW_LEVEL("log-level", log_level, "info", RELOAD,
	    "error, warn, info or debug"),
	ROW_PATH_FN("control-socket", control_socket, "PATH",
	    "$RUNTIME_DIRECTORY/control under systemd, else "
	    "$XDG_RUNTIME_DIR/glomail/control, else unset",
	    default_control_socket, RESTART,
	    "the Unix socket glomailctl talks to; never inside the data "
	    "directory, which several servers may share"),
	{ "control-group", T_PATH, "GROUP", FIELD(control_group, char *), 0, 0,
	  "", NULL, RESTART, "a group whose members may use the control "
	  "socket besides root and the server's own user", NULL },
};

#define NKEYS (sizeof(config_table) / sizeof(config_table[0]))

/* config_set's reason when it names the key or the range. */
static char config_why[192];

/* A quarter of the physical memory, at least 64 MiB. */
static void
default_max_memory(char *buf, size_t len)
{
	long pages = sysconf(_SC_PHYS_PAGES), psize = sysconf(_SC_PAGESIZE);
	unsigned long long v = (unsigned long long)64 << 20, phys;

	if (pages > 0 && psize > 0) {
		phys = (unsigned long long)pages * (unsigned long long)psize;
		if (phys / 4 > v)
			v = phys / 4;
	}
	if (v > SIZE_MAX)
		v = SIZE_MAX;
	snprintf(buf, len, "%llu", v);
}

/*
 * The runtime directory systemd made for the service (RuntimeDirectory=),
 * else the user's own; with neither, "" (no default: the setting is then
 * needed, as guessing a shared place like /tmp would let others in).
 */
static void
default_control_socket(char *buf, size_t len)
{
	const char *rt = getenv("RUNTIME_DIRECTORY");
	const char *xdg = getenv("XDG_RUNTIME_DIR");
	int n;

	if (rt != NULL && rt[0] == '/')
		n = snprintf(buf, len, "%.*s/control",
		    (int)strcspn(rt, ":"), rt); /* several: the first */
	else if (xdg != NULL && xdg[0] == '/')
		n = snprintf(buf, len, "%s/glomail/control", xdg);
	else
		n = -1;
	if (n < 0 || (size_t)n >= len)
		buf[0] = '\0';
}

size_t
config_key_count(void)
{
	return NKEYS;
}

const char *
config_key_name(size_t i)
{
	return i < NKEYS ? config_table[i].name : NULL;
}

static int
is_number_type(enum config_type t)
{
	return t == T_UINT || t == T_SIZE || t == T_SECONDS || t == T_MILLIS;
}

int
config_key_range(size_t i, unsigned long long *min_r,
    unsigned long long *max_r)
{
	if (i >= NKEYS || !is_number_type(config_table[i].type))
		return -1;
	*min_r = config_table[i].min;
	*max_r = config_table[i].max;
	return 0;
}

int
config_key_reloads(size_t i)
{
	return i < NKEYS && config_table[i].reload;
}

/* Key names compare with '_' and '-' alike. */
static const struct config_key *
find_key(const char *name)
{
	size_t i, j;

	for (i = 0; i < NKEYS; i++) {
		const char *k = config_table[i].name;

		for (j = 0; k[j] != '\0' && name[j] != '\0'; j++)
			if (k[j] != name[j] && !(k[j] == '-' && name[j] == '_'))
				break;
		if (k[j] == '\0' && name[j] == '\0')
			return &config_table[i];
	}
	return NULL;
}

/*
 * Decimal with an optional suffix: K/M/G (powers of 1024) for sizes;
 * ms/s/m/h for durations, whose plain numbers are in the row's unit
 * (unit_ms: 1 for milliseconds, 1000 for seconds). A duration in seconds
 * must come to whole seconds.
 */
static int
parse_number(const char *s, enum config_type type, unsigned long long *out)
{
	unsigned long long v, mult = 1, div = 1;
	unsigned long long unit_ms = type == T_SECONDS ? 1000 : 1;
	char *end;

	if (*s < '0' || *s > '9')
		return -1;
	errno = 0;
	v = strtoull(s, &end, 10);
	if (errno != 0)
		return -1;
	if (type == T_SIZE && *end != '\0' && end[1] == '\0') {
		switch (*end) {
		case 'k': case 'K': mult = 1024; break;
		case 'm': case 'M': mult = 1024 * 1024; break;
		case 'g': case 'G': mult = 1024 * 1024 * 1024; break;
		default: return -1;
		}
		end++;
	} else if ((type == T_SECONDS || type == T_MILLIS) && *end != '\0') {
		if (strcmp(end, "ms") == 0)
			mult = 1;
		else if (strcmp(end, "s") == 0)
			mult = 1000;
		else if (strcmp(end, "m") == 0)
			mult = 60 * 1000;
		else if (strcmp(end, "h") == 0)
			mult = 3600 * 1000;
		else
			return -1;
		div = unit_ms;
		end += strlen(end);
	}
	if (*end != '\0' || v > ULLONG_MAX / mult || (v * mult) % div != 0)
		return -1;
	*out = v * mult / div;
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

/*
 * A mail domain as RFC 1035 and RFC 5321 write one: labels of letters,
 * digits and hyphens, 1 to 63 characters, neither starting nor ending with
 * a hyphen, at most 253 characters in all. At least two labels, as mail
 * wants a fully qualified name, and a last label that is not all digits, so
 * an IP address is not taken for a domain. No final dot: addresses are
 * written without it. Copies the name in lower case to out (254 bytes).
 */
static int
check_domain(const char *value, char *out)
{
	size_t i, len = strlen(value), label = 0, labels = 1;
	int digits = 1;
	char c;

	if (len == 0 || len > 253)
		return -1;
	for (i = 0; i <= len; i++) {
		c = value[i];
		if (c == '.' || c == '\0') {
			if (label == 0 || value[i - 1] == '-')
				return -1;
			if (c == '\0')
				break;
			labels++;
			label = 0;
			digits = 1;
			out[i] = '.';
			continue;
		}
		if (c >= 'A' && c <= 'Z')
			c = (char)(c - 'A' + 'a');
		if (!((c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') ||
		    c == '-'))
			return -1;
		if ((c == '-' && label == 0) || ++label > 63)
			return -1;
		if (c < '0' || c > '9')
			digits = 0;
		out[i] = c;
	}
	out[len] = '\0';
	return labels >= 2 && !digits ? 0 : -1;
}

static int
parse_bool(const char *s, int *out)
{
	static const char *const yes[] = { "yes", "true", "on", "1" };
	static const char *const no[] = { "no", "false", "off", "0" };
	size_t i;

	for (i = 0; i < sizeof(yes) / sizeof(yes[0]); i++) {
		if (strcasecmp(s, yes[i]) == 0) {
			*out = 1;
			return 0;
		}
		if (strcasecmp(s, no[i]) == 0) {
			*out = 0;
			return 0;
		}
	}
	return -1;
}

static const char *
unit_name(enum config_type t)
{
	switch (t) {
	case T_SIZE: return " bytes";
	case T_SECONDS: return " seconds";
	case T_MILLIS: return " milliseconds";
	default: return "";
	}
}

/* config_init is filling in defaults: an empty listen default means none. */
static int cfg_initialising;

/* "tls-profile must be intermediate or modern" */
static void
choice_list(const struct config_key *k, char *buf, size_t len)
{
	size_t i, used;

	used = (size_t)snprintf(buf, len, "%s must be", k->name);
	for (i = 0; k->words[i] != NULL && used < len; i++)
		used += (size_t)snprintf(buf + used, len - used, "%s %s",
		    i == 0 ? "" : k->words[i + 1] == NULL ? " or" : ",",
		    k->words[i]);
}

/* Store value into the row's field; -1 with *why_r on a bad value. */
static int
set_value(struct config *cfg, const struct config_key *k, const char *value,
    const char **why_r)
{
	char *field = (char *)cfg + k->offset, *copy, lower[254];
	unsigned long long n;

	switch (k->type) {
	case T_LISTEN: {
		struct config_listen *l = (struct config_listen *)(void *)field;
		size_t i;

		/* The first value set replaces the default (even "none"). */
		if (l->is_default) {
			for (i = 0; i < l->n; i++)
				free(l->addr[i]);
			l->n = 0;
			l->is_default = 0;
		}
		if (*value == '\0' && cfg_initialising)
			return 0;
		if (check_listen(value) == -1) {
			snprintf(config_why, sizeof(config_why), "%s wants "
			    "HOST:PORT or [IPV6]:PORT", k->name);
			*why_r = config_why;
			return -1;
		}
		if (l->n == CONFIG_LISTEN_MAX) {
			snprintf(config_why, sizeof(config_why), "too many %s "
			    "addresses (at most %d)", k->name,
			    CONFIG_LISTEN_MAX);
			*why_r = config_why;
			return -1;
		}
		if ((copy = strdup(value)) == NULL)
			goto nomem;
		l->addr[l->n++] = copy;
		return 0;
	}
	case T_PATH:
		copy = NULL;
		if (*value != '\0' && (copy = strdup(value)) == NULL)
			goto nomem;
		free(*(char **)(void *)field);
		*(char **)(void *)field = copy;
		return 0;
	case T_CHOICE: {
		unsigned i;

		for (i = 0; k->words[i] != NULL; i++)
			if (strcmp(value, k->words[i]) == 0) {
				*(unsigned *)(void *)field = i;
				return 0;
			}
		choice_list(k, config_why, sizeof(config_why));
		*why_r = config_why;
		return -1;
	}
	case T_DOMAIN:
		if (*value == '\0') {
			*why_r = "empty value";
			return -1;
		}
		if (check_domain(value, lower) == -1) {
			snprintf(config_why, sizeof(config_why), "%s must be a "
			    "domain name such as example.org", k->name);
			*why_r = config_why;
			return -1;
		}
		value = lower;
		/* FALLTHROUGH */
	case T_STRING:
		if (*value == '\0') {
			*why_r = "empty value";
			return -1;
		}
		if ((copy = strdup(value)) == NULL)
			goto nomem;
		free(*(char **)(void *)field);
		*(char **)(void *)field = copy;
		return 0;
	case T_BOOL:
		if (parse_bool(value, (int *)(void *)field) == -1) {
			snprintf(config_why, sizeof(config_why),
			    "%s must be yes or no", k->name);
			*why_r = config_why;
			return -1;
		}
		return 0;
	case T_UINT:
	case T_SIZE:
	case T_SECONDS:
	case T_MILLIS:
		if (parse_number(value, k->type, &n) == -1 || n < k->min ||
		    n > k->max) {
			snprintf(config_why, sizeof(config_why),
			    "%s must be between %llu and %llu%s", k->name,
			    k->min, k->max, unit_name(k->type));
			*why_r = config_why;
			return -1;
		}
		if (k->type == T_SIZE)
			*(size_t *)(void *)field = (size_t)n;
		else
			*(unsigned *)(void *)field = (unsigned)n;
		return 0;
	case T_LEVEL:
		if (log_level_parse(value, (enum log_level *)(void *)field) ==
		    -1) {
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

void
config_init(struct config *cfg)
{
	char buf[4096];
	const char *why;
	size_t i;

	memset(cfg, 0, sizeof(*cfg));
	cfg_initialising = 1;
	for (i = 0; i < NKEYS; i++) {
		const struct config_key *k = &config_table[i];

		if (k->def_fn != NULL)
			k->def_fn(buf, sizeof(buf));
		/* test_config checks every default passes its own row. */
		(void)set_value(cfg, k, k->def_fn != NULL ? buf : k->def, &why);
		if (k->type == T_LISTEN)
			((struct config_listen *)(void *)((char *)cfg +
			    k->offset))->is_default = 1;
	}
	cfg_initialising = 0;
}

void
config_clear(struct config *cfg)
{
	size_t i;

	for (i = 0; i < NKEYS; i++) {
		char *field = (char *)cfg + config_table[i].offset;

		if (config_table[i].type == T_LISTEN) {
			struct config_listen *l =
			    (struct config_listen *)(void *)field;
			size_t j;

			for (j = 0; j < l->n; j++)
				free(l->addr[j]);
		} else if (config_table[i].type == T_STRING ||
		    config_table[i].type == T_DOMAIN ||
		    config_table[i].type == T_PATH)
			free(*(char **)(void *)field);
	}
	memset(cfg, 0, sizeof(*cfg));
}

int
config_set(struct config *cfg, const char *key, const char *value,
    const char **why_r)
{
	const struct config_key *k = find_key(key);

	if (k == NULL) {
		*why_r = "unknown setting";
		return -1;
	}
	return set_value(cfg, k, value, why_r);
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

/* Print text from column col, wrapped before column 79 at indent. */
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

/* "64 to 4294967295 bytes, default 1M" or "default info". */
static void
usage_range(const struct config_key *k, char *buf, size_t len)
{
	if (is_number_type(k->type))
		snprintf(buf, len, "%llu to %llu%s, default %s", k->min, k->max,
		    unit_name(k->type), k->def);
	else
		snprintf(buf, len, "default %s", *k->def != '\0' ? k->def :
		    k->type == T_LISTEN ? "none" : "unset");
}

void
config_usage_line(FILE *out, const char *option, const char *text)
{
	const int indent = 23;
	int n;

	n = fprintf(out, "  %s", option);
	if (n >= indent - 1)
		fprintf(out, "\n%*s", indent, "");
	else
		fprintf(out, "%*s", indent - n, "");
	usage_wrap(out, text, indent, indent);
}

void
config_usage(FILE *out)
{
	char opt[80], range[128], text[512];
	size_t i;

	for (i = 0; i < NKEYS; i++) {
		const struct config_key *k = &config_table[i];

		snprintf(opt, sizeof(opt), "--%s %s", k->name, k->arg);
		usage_range(k, range, sizeof(range));
		snprintf(text, sizeof(text), "%s (%s)", k->help, range);
		config_usage_line(out, opt, text);
	}
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
	case T_LISTEN: {
		const struct config_listen *l =
		    (const struct config_listen *)(const void *)p;

		for (i = 0; i < l->n && used < len; i++) {
			n = snprintf(buf + used, len - used, "%s%s",
			    i > 0 ? " " : "", l->addr[i]);
			used += n > 0 ? (size_t)n : 0;
		}
		break;
	}
	case T_STRING:
	case T_DOMAIN:
	case T_PATH: {
		const char *v = *(char *const *)(const void *)p;

		snprintf(buf, len, "%s", v != NULL ? v : "");
		break;
	}
	case T_CHOICE:
		snprintf(buf, len, "%s",
		    k->words[*(const unsigned *)(const void *)p]);
		break;
	case T_BOOL:
		snprintf(buf, len, "%s", *(const int *)(const void *)p ? "yes" :
		    "no");
		break;
	case T_SIZE:
		snprintf(buf, len, "%zu", *(const size_t *)(const void *)p);
		break;
	case T_UINT:
	case T_SECONDS:
	case T_MILLIS:
		snprintf(buf, len, "%u", *(const unsigned *)(const void *)p);
		break;
	case T_LEVEL:
		snprintf(buf, len, "%s", log_level_name(
		    *(const enum log_level *)(const void *)p));
		break;
	}
}

/* Copy one scalar setting from src to dst; 0, or -1 when not a scalar. */
static int
copy_value(struct config *dst, const struct config *src,
    const struct config_key *k)
{
	const char *from = (const char *)src + k->offset;
	char *to = (char *)dst + k->offset;

	switch (k->type) {
	case T_BOOL:
		memcpy(to, from, sizeof(int));
		return 0;
	case T_SIZE:
		memcpy(to, from, sizeof(size_t));
		return 0;
	case T_UINT:
	case T_SECONDS:
	case T_MILLIS:
	case T_CHOICE:
		memcpy(to, from, sizeof(unsigned));
		return 0;
	case T_LEVEL:
		memcpy(to, from, sizeof(enum log_level));
		return 0;
	case T_PATH: {
		/* Only the reactor reads these (when it builds a context). */
		const char *v = *(char *const *)(const void *)from;
		char *copy = NULL;

		if (v != NULL && (copy = strdup(v)) == NULL)
			return -1;
		free(*(char **)(void *)to);
		*(char **)(void *)to = copy;
		return 0;
	}
	case T_LISTEN:
	case T_STRING:
	case T_DOMAIN:
		break; /* never reloadable: pointers other threads may hold */
	}
	return -1;
}

int
config_reload(struct config *live, const struct config *fresh)
{
	char was[512], now[512];
	size_t i;
	int changed = 0;

	for (i = 0; i < NKEYS; i++) {
		const struct config_key *k = &config_table[i];

		format_value(live, k, was, sizeof(was));
		format_value(fresh, k, now, sizeof(now));
		if (strcmp(was, now) == 0)
			continue;
		if (!k->reload || copy_value(live, fresh, k) == -1) {
			log_warn("reload: %s cannot change while running "
			    "(keeping %s; restart to use %s)", k->name, was,
			    now);
			continue;
		}
		log_info("reload: %s %s -> %s", k->name, was, now);
		changed++;
	}
	return changed;
}

void
config_usage_reload(FILE *out)
{
	char text[1024];
	size_t i, used, first = 1;

	used = (size_t)snprintf(text, sizeof(text),
	    "SIGHUP reads the settings again and applies");
	for (i = 0; i < NKEYS && used < sizeof(text); i++) {
		if (!config_table[i].reload)
			continue;
		used += (size_t)snprintf(text + used, sizeof(text) - used,
		    "%s %s", first ? "" : ",", config_table[i].name);
		first = 0;
	}
	if (used < sizeof(text))
		snprintf(text + used, sizeof(text) - used,
		    "; the others need a restart.");
	usage_wrap(out, text, 0, 0);
}
