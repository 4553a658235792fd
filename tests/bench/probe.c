/*
 * probe.c - the disk's limit for durable delivery, with no protocol at all.
 *
 * Each writer thread repeats the sequence glomaild uses to deliver one
 * message (Dovecot's): create a unique file with O_EXCL in tmp/, write it
 * all, fsync, close, rename into new/, fsync new/. Writers each own a
 * Maildir, as senders writing to different people do. The probe runs in
 * a scratch directory under --data-dir, so it measures the filesystem the
 * store lives on, and removes everything it wrote.
 */
#include <sys/stat.h>
#include <sys/types.h>

#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "bench.h"
#include "testsrv.h"

/* What the server adds around the body: the RFC 5322 header block. */
#define HEADER_BYTES 300

struct writer {
	pthread_t thread;
	char dir[512];
	const char *buf;
	size_t len;
	long long budget;      /* operations, or 0 for "until stopped" */
	uint64_t deadline;
	struct lat lat;
	long long errors;
	int started;
};

/* One durable delivery; 0 or -1 (errors logged once by the caller). */
static int
deliver(const struct writer *w, int dirfd, long long seq)
{
	char tmp[600], dst[600];
	ssize_t n;
	size_t off = 0;
	int fd;

	snprintf(tmp, sizeof(tmp), "%s/tmp/%lld.probe", w->dir, seq);
	snprintf(dst, sizeof(dst), "%s/new/%lld.probe", w->dir, seq);
	fd = open(tmp, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0600);
	if (fd == -1)
		return -1;
	while (off < w->len) {
		n = write(fd, w->buf + off, w->len - off);
		if (n == -1 && errno == EINTR)
			continue;
		if (n <= 0)
			goto fail;
		off += (size_t)n;
	}
	if (fsync(fd) == -1)
		goto fail;
	if (close(fd) == -1) {
		fd = -1;
		goto fail;
	}
	fd = -1;
	if (rename(tmp, dst) == -1)
		goto fail;
	/* The rename is durable only once the directory is. */
	if (fsync(dirfd) == -1)
		return -1;
	return 0;
fail:
	if (fd != -1)
		close(fd);
	unlink(tmp);
	return -1;
}

static void *
writer_main(void *arg)
{
	struct writer *w = arg;
	char path[600];
	long long seq;
	uint64_t t;
	int dirfd;

	snprintf(path, sizeof(path), "%s/new", w->dir);
	if ((dirfd = open(path, O_RDONLY | O_DIRECTORY | O_CLOEXEC)) == -1) {
		w->errors++;
		return NULL;
	}
	for (seq = 0; w->budget == 0 || seq < w->budget; seq++) {
		t = now_ns();
		if (t >= w->deadline)
			break;
		if (deliver(w, dirfd, seq) == -1) {
			w->errors++;
			if (w->errors > 10)
				break;
			continue;
		}
		lat_add(&w->lat, now_ns() - t);
	}
	close(dirfd);
	return NULL;
}

static int
make_maildir(const char *dir)
{
	char path[600];

	if (mkdir(dir, 0700) == -1)
		return -1;
	snprintf(path, sizeof(path), "%s/tmp", dir);
	if (mkdir(path, 0700) == -1)
		return -1;
	snprintf(path, sizeof(path), "%s/new", dir);
	return mkdir(path, 0700);
}

/* Run nw writers for the phase's limits; print the row. */
static int
probe_once(const struct bench_opts *o, const char *root, int nw,
    const char *buf, size_t len, struct summary *s)
{
	struct writer *ws;
	struct result r;
	struct lat all;
	uint64_t t0, t1;
	double limit;
	long long errors = 0;
	size_t k;
	int i, rc = -1;

	if ((ws = calloc((size_t)nw, sizeof(*ws))) == NULL)
		return -1;
	lat_init(&all);
	limit = o->duration > 0 ? o->duration : (o->messages > 0 ? 300 : 3);
	t0 = now_ns();
	for (i = 0; i < nw; i++) {
		snprintf(ws[i].dir, sizeof(ws[i].dir), "%s/w%d", root, i);
		lat_init(&ws[i].lat);
		ws[i].buf = buf;
		ws[i].len = len;
		/* A message count is shared out between the writers. */
		ws[i].budget = o->messages > 0 ?
		    (o->messages + nw - 1 - i) / nw : 0;
		if (o->messages > 0 && ws[i].budget == 0)
			ws[i].budget = 1;
		ws[i].deadline = t0 + (uint64_t)(limit * 1e9);
		if (make_maildir(ws[i].dir) == -1) {
			fprintf(stderr, "glomail-bench: %s: %s\n", ws[i].dir,
			    strerror(errno));
			goto fail;
		}
	}
	t0 = now_ns();
	for (i = 0; i < nw; i++) {
		if (pthread_create(&ws[i].thread, NULL, writer_main, &ws[i]) != 0)
			goto fail;
		ws[i].started = 1;
	}
	for (i = 0; i < nw; i++) {
		pthread_join(ws[i].thread, NULL);
		ws[i].started = 0;
	}
	t1 = now_ns();
	for (i = 0; i < nw; i++) {
		for (k = 0; k < ws[i].lat.n; k++)
			lat_add(&all, ws[i].lat.ns[k]);
		errors += ws[i].errors;
	}
	memset(&r, 0, sizeof(r));
	r.scenario = "fsync-probe";
	r.phase = nw == 1 ? "1-writer" : "N-writers";
	r.clients = nw;
	result_from_lat(&r, &all, (double)(t1 - t0) / 1e9);
	r.errors = errors;
	result_extra(&r, "writers", "%d", nw);
	result_extra(&r, "bytes", "%zu", len);
	snprintf(r.note, sizeof(r.note), "%d writer%s, %zu B files, "
	    "%.1f us per op", nw, nw == 1 ? "" : "s", len, r.mean_us);
	result_print(o, &r);
	if (s != NULL) {
		s->errors += errors;
		if (nw == 1) {
			s->probe1_us = r.mean_us;
			s->probe1_rate = r.ops_per_s;
		} else {
			s->probeN_rate = r.ops_per_s;
			s->probeN_writers = nw;
		}
	}
	rc = errors == 0 && all.n > 0 ? 0 : -1;
fail:
	for (i = 0; i < nw; i++) {
		if (ws[i].started)
			pthread_join(ws[i].thread, NULL);
		testsrv_remove_tree(ws[i].dir);
		lat_free(&ws[i].lat);
	}
	lat_free(&all);
	free(ws);
	return rc;
}

int
probe_run(const struct bench_opts *o, struct summary *s)
{
	char root[512];
	char *buf = NULL;
	size_t len = o->size + HEADER_BYTES, i;
	int nw = o->writers > 0 ? o->writers : 8, rc = -1;

	if (o->data_dir == NULL) {
		fprintf(stderr, "glomail-bench: fsync-probe needs --data-dir "
		    "(a directory on the store's filesystem)\n");
		return -1;
	}
	/* '+' cannot occur in a user name: the server never takes it for one. */
	snprintf(root, sizeof(root), "%s/bench+probe.XXXXXX", o->data_dir);
	if (mkdtemp(root) == NULL) {
		fprintf(stderr, "glomail-bench: %s: %s\n", root,
		    strerror(errno));
		return -1;
	}
	if ((buf = malloc(len)) == NULL)
		goto fail;
	for (i = 0; i < len; i++)
		buf[i] = (i % 73 == 72) ? '\n' : (char)('a' + i % 26);
	if (probe_once(o, root, 1, buf, len, s) == -1)
		goto fail;
	if (nw > 1 && probe_once(o, root, nw, buf, len, s) == -1)
		goto fail;
	rc = 0;
fail:
	free(buf);
	rmdir(root);
	return rc;
}
