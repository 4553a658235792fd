/*
 * notify.h - the kernel's word (inotify) on files arriving in watched
 * directories, read on the reactor. The new-mail notices use it to hear of
 * deliveries made by other processes on the same store: another glomaild,
 * Dovecot, an MDA, a person with mutt.
 */
#ifndef GLOMAILD_NOTIFY_H
#define GLOMAILD_NOTIFY_H

struct event_base;
struct notify;

/*
 * A file named name arrived (created, linked or renamed into the
 * directory) in the directory watched for key; name NULL: events were
 * lost (the kernel's queue overflowed), anything may have arrived.
 */
typedef void (*notify_fn)(void *key, const char *name, void *arg);

/* NULL when inotify is not available (the caller polls instead). */
struct notify *notify_new(struct event_base *base, notify_fn fn, void *arg);
void notify_free(struct notify *n);

/*
 * Watch the directory sub of the directory dirfd for key. Returns the watch
 * (>= 0) or -1 with errno. A key watches one directory at a time.
 */
int notify_watch(struct notify *n, int dirfd, const char *sub, void *key);

/* Stop watching; events already queued for it are dropped. */
void notify_unwatch(struct notify *n, int wd);

#endif
