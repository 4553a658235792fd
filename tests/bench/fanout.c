/*
 * fanout.c - the store's cost of one message to several recipients against
 * one recipient, with no protocol: maildir_deliver (what one recipient
 * costs the server) against maildir_deliver_many to --rcpts (10) Maildirs
 * (one write and fsync, a hard link per recipient, one fsync of each new/).
 *
 * It runs the server's own store code (server/maildir.c) in a scratch
 * directory under --data-dir, on the store's filesystem, one delivery at a
 * time, in interleaved rounds on a settled disk, and removes what it wrote.
 */
#include <sys/stat.h>

#include <errno.h>
#include <fcntl.h>
#include <ftw.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "bench.h"
#include "maildir.h"

#define HEADER_BYTES 300
#define FANOUT_ROUNDS 5
#define FANOUT_MAX 64

static int
rm_entry(const char *path, const struct stat *st, int flag, struct FTW *f)
{
	(void)st;
	(void)flag;
	(void)f;
	return remove(path) == -1 ? 0 : 0;
}

/* Deliveries to n of the Maildirs r[] for secs seconds, into l. */
static long long
fanout_phase(struct maildir_rcpt *r, int n, const char *buf, size_t len,
    double secs, struct lat *l)
{
	char name[MAILDIR_NAME_MAX];
	const char *step;
	uint64_t end = now_ns() + (uint64_t)(secs * 1e9), t;
	long long errors = 0;
	int i, got;

	while ((t = now_ns()) < end) {
		if (n == 1) {
			got = maildir_deliver(r[0].md, buf, len, name, &step) ==
			      0;
		} else {
			got = maildir_deliver_many(buf, len, r, (size_t)n);
			for (i = 0; i < n; i++)
				errors += r[i].error != 0;
		}
		if (got == 0) {
			errors++;
			if (errors > 10)
				break;
			continue;
		}
		lat_add(l, now_ns() - t);
	}
	return errors;
}

static void
fanout_row(const struct bench_opts *o, struct lat *l, int n, double secs,
    long long errors, const char *phase)
{
	struct result r;

	memset(&r, 0, sizeof(r));
	r.scenario = "fanout";
	r.phase = phase;
	r.clients = 1;
	result_from_lat(&r, l, secs);
	r.errors = errors;
	result_extra(&r, "rcpts", "%d", n);
	snprintf(r.note, sizeof(r.note),
	    "one message to %d recipient%s, "
	    "%.1f us each",
	    n, n == 1 ? "" : "s", r.mean_us);
	result_print(o, &r);
}

int
fanout_run(const struct bench_opts *o, struct summary *s)
{
	struct maildir_rcpt r[FANOUT_MAX];
	double one[FANOUT_ROUNDS], many[FANOUT_ROUNDS], ratio[FANOUT_ROUNDS];
	double secs = o->duration > 0 ? o->duration / 2 : 1.0, t;
	int n = o->rcpts > 0 ? o->rcpts : 10, i, k, rootfd = -1, rc = -1;
	size_t len = o->size + HEADER_BYTES, j;
	struct lat l1, ln, a1, an;
	long long errors = 0;
	char root[512], box[16], *buf = NULL;

	if (o->data_dir == NULL || n < 2 || n > FANOUT_MAX) {
		fprintf(stderr,
		    "glomail-bench: fanout needs --data-dir and "
		    "2 to %d --rcpts\n",
		    FANOUT_MAX);
		return -1;
	}
	snprintf(root, sizeof(root), "%s/bench+fanout.XXXXXX", o->data_dir);
	if (mkdtemp(root) == NULL) {
		fprintf(stderr, "glomail-bench: %s: %s\n", root,
		    strerror(errno));
		return -1;
	}
	for (i = 0; i < n; i++)
		r[i].md = -1;
	lat_init(&a1);
	lat_init(&an);
	maildir_init();
	if ((buf = malloc(len)) == NULL ||
	    (rootfd = open(root, O_RDONLY | O_DIRECTORY | O_CLOEXEC)) == -1)
		goto fail;
	for (j = 0; j < len; j++)
		buf[j] = (j % 73 == 72) ? '\n' : (char)('a' + j % 26);
	for (i = 0; i < n; i++) {
		snprintf(box, sizeof(box), "r%d", i);
		if (maildir_create(rootfd, box) == -1 ||
		    (r[i].md = maildir_open(rootfd, box)) == -1) {
			fprintf(stderr, "glomail-bench: %s/%s: %s\n", root, box,
			    strerror(errno));
			goto fail;
		}
	}
	/* Interleaved: the disk's speed drifts between rounds. */
	for (k = 0; k < FANOUT_ROUNDS; k++) {
		lat_init(&l1);
		lat_init(&ln);
		sync();
		usleep(300 * 1000);
		errors += fanout_phase(r, 1, buf, len, secs, &l1);
		sync();
		usleep(300 * 1000);
		errors += fanout_phase(r, n, buf, len, secs, &ln);
		one[k] = lat_mean_us(&l1);
		many[k] = lat_mean_us(&ln);
		ratio[k] = one[k] > 0 ? many[k] / one[k] : 0;
		for (j = 0; j < l1.n; j++)
			lat_add(&a1, l1.ns[j]);
		for (j = 0; j < ln.n; j++)
			lat_add(&an, ln.ns[j]);
		lat_free(&l1);
		lat_free(&ln);
	}
	t = secs * FANOUT_ROUNDS;
	fanout_row(o, &a1, 1, t, 0, "1-rcpt");
	fanout_row(o, &an, n, t, errors, "N-rcpts");
	if (s != NULL) {
		s->errors += errors;
		s->fanout_rcpts = n;
		s->fanout1_us = bench_median(one, FANOUT_ROUNDS);
		s->fanoutN_us = bench_median(many, FANOUT_ROUNDS);
		s->ratio_fanout = bench_median(ratio, FANOUT_ROUNDS);
	}
	rc = errors == 0 ? 0 : -1;
fail:
	for (i = 0; i < n; i++)
		if (r[i].md != -1)
			close(r[i].md);
	if (rootfd != -1)
		close(rootfd);
	lat_free(&a1);
	lat_free(&an);
	free(buf);
	nftw(root, rm_entry, 16, FTW_DEPTH | FTW_PHYS);
	return rc;
}
