/*
 * config.h - glomaild's settings: defaults, the command line and the
 * configuration file share one table of keys, so every setting is
 * available in both places under the same name.
 */
#ifndef GLOMAILD_CONFIG_H
#define GLOMAILD_CONFIG_H

#include <stddef.h>
#include <stdio.h>

#include "log.h"

#define CONFIG_LISTEN_MAX 8
#define CONFIG_DEFAULT_FILE "/etc/glomail/glomaild.conf"

struct config {
	char *listen[CONFIG_LISTEN_MAX]; /* HOST:PORT, [V6]:PORT */
	size_t nlisten;
	int listen_default;      /* listen[] still holds the default */
	char *data_dir;
	char *domain;
	size_t max_frame;        /* bytes of one frame body */
	size_t max_output;       /* bytes queued for one client */
	size_t max_memory;       /* bytes all connections' buffers may hold */
	unsigned max_connections;
	unsigned timeout_login;  /* seconds idle before login */
	unsigned timeout_idle;   /* seconds idle after login */
	unsigned login_penalty;  /* ms of delay after one failed login; 0: off */
	unsigned login_penalty_max; /* ms: the delay stops doubling here */
	unsigned auth_workers;   /* threads hashing passwords */
	unsigned store_workers;  /* threads writing the store */
	enum log_level log_level;
};

/* Fill with the embedded defaults. */
void config_init(struct config *cfg);

/* Release what config_set allocated. */
void config_clear(struct config *cfg);

/*
 * Set one key ("listen", "data-dir", "max-frame"...; '_' and '-' are the
 * same). "listen" accumulates; the first call after config_init replaces the
 * default. Returns 0, or -1 with *why_r naming the problem.
 */
int config_set(struct config *cfg, const char *key, const char *value,
    const char **why_r);

/*
 * Read a "key = value" file ('#' starts a comment). Returns 0, or -1 with
 * "FILE:LINE: reason" in err.
 */
int config_load(struct config *cfg, const char *path, char *err,
    size_t errlen);

/* Print every key with its meaning (for --help and the manual). */
void config_usage(FILE *out);

/*
 * Take from fresh (a configuration read again, on SIGHUP) the settings a
 * running server can change, and log each one taken and each other one that
 * differs and needs a restart. Call on the reactor thread. Returns how many
 * settings changed.
 */
int config_reload(struct config *live, const struct config *fresh);

/* One line for --help: which settings SIGHUP applies. */
void config_usage_reload(FILE *out);

#endif
