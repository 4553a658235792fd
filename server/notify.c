/*
 * notify.c - inotify on the reactor: one descriptor for the server, one
 * watch per directory, a small table from watch to its owner's key.
 */
#include <sys/inotify.h>

#include <errno.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <event2/event.h>

#include "fault.h"
#include "log.h"
#include "notify.h"

struct watch {
	int wd;
	void *key;
};

struct notify {
	int fd;
	struct event *ev;
	notify_fn fn;
	void *arg;
	struct watch *w;
	size_t n, cap;
};

static struct watch *
find(struct notify *n, int wd)
{
	size_t i;

	for (i = 0; i < n->n; i++)
		if (n->w[i].wd == wd)
			return &n->w[i];
	return NULL;
}

static void
forget(struct notify *n, int wd)
{
	struct watch *w = find(n, wd);

	if (w != NULL)
		*w = n->w[--n->n];
}

/* Every watch's owner hears that anything may have arrived. */
static void
overflow(struct notify *n)
{
	void **keys;
	size_t i, count = n->n;

	log_write(LOG_LEVEL_WARN, 0,
	    "notify: the kernel dropped events; rescanning %zu mailboxes",
	    count);
	if (count == 0 || (keys = calloc(count, sizeof(*keys))) == NULL)
		return;
	/* A callback may unwatch: call from a copy of the table. */
	for (i = 0; i < count; i++)
		keys[i] = n->w[i].key;
	for (i = 0; i < count; i++)
		n->fn(keys[i], NULL, n->arg);
	free(keys);
}

static void
read_cb(evutil_socket_t fd, short what, void *arg)
{
	struct notify *n = arg;
	char buf[8 * (sizeof(struct inotify_event) + NAME_MAX + 1)]
	    __attribute__((aligned(__alignof__(struct inotify_event))));
	const struct inotify_event *ev;
	struct watch *w;
	ssize_t len;
	char *p;

	(void)what;
	for (;;) {
		len = read(fd, buf, sizeof(buf));
		if (len <= 0) {
			if (len < 0 && errno != EAGAIN && errno != EINTR)
				log_write(LOG_LEVEL_ERROR, 0,
				    "notify: read: %s", strerror(errno));
			return;
		}
		for (p = buf; p < buf + len;
		     p += sizeof(struct inotify_event) + ev->len) {
			ev = (const struct inotify_event *)(void *)p;
			if (ev->mask & IN_Q_OVERFLOW) {
				overflow(n);
				continue;
			}
			if (ev->mask & IN_IGNORED) {
				/* The directory went away. */
				forget(n, ev->wd);
				continue;
			}
			if ((w = find(n, ev->wd)) == NULL || ev->len == 0 ||
			    !(ev->mask & (IN_CREATE | IN_MOVED_TO)))
				continue;
			n->fn(w->key, ev->name, n->arg);
		}
	}
}

struct notify *
notify_new(struct event_base *base, notify_fn fn, void *arg)
{
	struct notify *n;

	if ((n = calloc(1, sizeof(*n))) == NULL)
		return NULL;
	n->fn = fn;
	n->arg = arg;
	/* The fault "inotify" stands for a system without it (the tests of
	 * what a store shared between hosts, unseen by inotify, relies on). */
	n->fd = fault_hit("inotify") ? -1
	                             : inotify_init1(IN_NONBLOCK | IN_CLOEXEC);
	if (n->fd == -1) {
		log_write(LOG_LEVEL_WARN, 0,
		    "notify: inotify: %s; other processes' mail is "
		    "announced from a poll of the directories",
		    strerror(errno));
		free(n);
		return NULL;
	}
	n->ev = event_new(base, n->fd, EV_READ | EV_PERSIST, read_cb, n);
	if (n->ev == NULL || event_add(n->ev, NULL) == -1) {
		notify_free(n);
		return NULL;
	}
	return n;
}

void
notify_free(struct notify *n)
{
	if (n == NULL)
		return;
	if (n->ev != NULL)
		event_free(n->ev);
	close(n->fd);
	free(n->w);
	free(n);
}

int
notify_watch(struct notify *n, int dirfd, const char *sub, void *key)
{
	char path[64 + NAME_MAX];
	struct watch *grown;
	int wd;

	/* Through the descriptor, as every access to the store: the name of
	 * the data directory is not needed, and a symbolic link in place of
	 * sub is not followed. */
	if (snprintf(path, sizeof(path), "/proc/self/fd/%d/%s", dirfd, sub) >=
	    (int)sizeof(path)) {
		errno = ENAMETOOLONG;
		return -1;
	}
	if (n->n == n->cap) {
		size_t cap = n->cap ? n->cap * 2 : 16;

		if ((grown = reallocarray(n->w, cap, sizeof(*grown))) == NULL)
			return -1;
		n->w = grown;
		n->cap = cap;
	}
	wd = inotify_add_watch(n->fd, path,
	    IN_CREATE | IN_MOVED_TO | IN_ONLYDIR | IN_DONT_FOLLOW);
	if (wd == -1)
		return -1;
	/* The same directory twice gives the same watch: one owner. */
	forget(n, wd);
	n->w[n->n].wd = wd;
	n->w[n->n].key = key;
	n->n++;
	return wd;
}

void
notify_unwatch(struct notify *n, int wd)
{
	if (n == NULL || wd < 0)
		return;
	forget(n, wd);
	(void)inotify_rm_watch(n->fd, wd);
}
