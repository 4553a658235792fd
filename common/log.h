/*
 * log.h - levelled logging to stderr, one line per event.
 *
 * On a terminal or a plain file each line starts with a UTC timestamp and
 * the level; under journald (JOURNAL_STREAM set) it starts with the syslog
 * priority prefix ("<3>") instead, so journalctl -p works. Lines about one
 * connection carry "conn=<id>". Safe to call from worker threads: each line
 * is written with a single write(2).
 */
#ifndef GLOMAIL_LOG_H
#define GLOMAIL_LOG_H

enum log_level {
	LOG_LEVEL_ERROR,
	LOG_LEVEL_WARN,
	LOG_LEVEL_INFO,
	LOG_LEVEL_DEBUG,
};

/* Set the program name shown in each line and the most verbose level kept. */
void log_init(const char *ident, enum log_level level);
void log_set_level(enum log_level level);
enum log_level log_get_level(void);

/* Parse "error", "warn", "info" or "debug". Returns 0 or -1. */
int log_level_parse(const char *name, enum log_level *level_r);
const char *log_level_name(enum log_level level);

/* One line; conn 0 means "not about a connection". */
void log_write(enum log_level level, unsigned long long conn, const char *fmt,
    ...) __attribute__((format(printf, 3, 4)));

#define log_error(...) log_write(LOG_LEVEL_ERROR, 0, __VA_ARGS__)
#define log_warn(...) log_write(LOG_LEVEL_WARN, 0, __VA_ARGS__)
#define log_info(...) log_write(LOG_LEVEL_INFO, 0, __VA_ARGS__)
#define log_debug(...) log_write(LOG_LEVEL_DEBUG, 0, __VA_ARGS__)

#endif
