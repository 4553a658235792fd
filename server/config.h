/*
 * config.h - glomaild's settings: one table in config.c gives each key its
 * type, range, default, reload rule and help; the command line and the
 * configuration file both go through it, so every setting is available in
 * both places under the same name.
 */
#ifndef GLOMAILD_CONFIG_H
#define GLOMAILD_CONFIG_H

#include <stddef.h>
#include <stdio.h>

#include "log.h"

#define CONFIG_LISTEN_MAX 8
#define CONFIG_DEFAULT_FILE "/etc/glomail/glomaild.conf"

/* A repeatable HOST:PORT setting. */
struct config_listen {
	char *addr[CONFIG_LISTEN_MAX]; /* HOST:PORT, [V6]:PORT */
	size_t n;
	int is_default;          /* addr[] still holds the default */
};

/* plaintext-auth: where passwords may cross a connection without TLS. */
enum config_plaintext_auth {
	CONFIG_PLAINTEXT_LOOPBACK,
	CONFIG_PLAINTEXT_ALWAYS,
	CONFIG_PLAINTEXT_NEVER,
};

/* registration: who may create an account over the protocol. */
enum config_registration {
	CONFIG_REGISTRATION_OPEN,
	CONFIG_REGISTRATION_LOOPBACK,
	CONFIG_REGISTRATION_CLOSED,
};

struct config {
	struct config_listen listen;     /* the plaintext protocol */
	struct config_listen tls_listen; /* the protocol under implicit TLS */
	char *tls_cert;          /* PEM chain, leaf first; NULL: credentials */
	char *tls_key;           /* PEM private key, mode 0600 */
	unsigned tls_profile;    /* enum tls_profile */
	unsigned plaintext_auth; /* enum config_plaintext_auth */
	unsigned registration;   /* enum config_registration */
	char *data_dir;
	char *domain;
	size_t max_frame;        /* bytes of one frame body */
	size_t max_output;       /* bytes queued for one client */
	size_t max_memory;       /* bytes all connections may hold together */
	unsigned max_connections;
	unsigned timeout_login;  /* seconds idle before login */
	unsigned timeout_idle;   /* seconds idle after login */
	unsigned login_penalty;  /* ms of delay after one failed login; 0: off */
	unsigned login_penalty_max; /* ms: the delay stops doubling here */
	unsigned auth_workers;   /* threads hashing passwords */
	unsigned store_workers;  /* threads writing the store */
	enum log_level log_level;
	char *control_socket;    /* NULL: no runtime directory known */
	char *control_group;     /* NULL: root and the server's user only */
};

/* Fill with the defaults of the table. */
void config_init(struct config *cfg);

/* Release what config_set allocated. */
void config_clear(struct config *cfg);

/*
 * Set one key ("listen", "data-dir", "max-frame"...; '_' and '-' are the
 * same). "listen" accumulates; the first call after config_init replaces the
 * default. Returns 0, or -1 with *why_r naming the problem (for a number,
 * "max-frame must be between 64 and 4294967295 bytes"); *why_r stays valid
 * until the next call.
 */
int config_set(struct config *cfg, const char *key, const char *value,
    const char **why_r);

/*
 * Read a "key = value" file ('#' starts a comment). Returns 0, or -1 with
 * "FILE:LINE: reason" in err.
 */
int config_load(struct config *cfg, const char *path, char *err,
    size_t errlen);

/* Print every key with its meaning, range and default (for --help). */
void config_usage(FILE *out);

/* Print one "  --option ARG   text" entry of --help, wrapped at 79. */
void config_usage_line(FILE *out, const char *option, const char *text);

/* The table's keys, for getopt_long and the tests: i from 0 to count-1. */
size_t config_key_count(void);
const char *config_key_name(size_t i);      /* NULL past the end */

/* A numeric key's range: 0, or -1 for a key that is not a number. */
int config_key_range(size_t i, unsigned long long *min_r,
    unsigned long long *max_r);

/* Whether SIGHUP applies key i. */
int config_key_reloads(size_t i);

/*
 * Take from fresh (a configuration read again, on SIGHUP) the settings a
 * running server can change, and log each one taken and each other one that
 * differs and needs a restart. Call on the reactor thread. Returns how many
 * settings changed.
 */
int config_reload(struct config *live, const struct config *fresh);

/* For --help: which settings SIGHUP applies. */
void config_usage_reload(FILE *out);

#endif
