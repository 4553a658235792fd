/*
 * sendmany.c - the scenario send-many: what one message to --rcpts (10)
 * recipients costs end to end, through the protocol and the delivery
 * rules (EMAIL_SENDING_MANY, header 12), against the same message to one
 * recipient (header 12 with one address). One sender, one request at a
 * time, so each figure is one delivery's latency; the phases alternate in
 * rounds on a settled disk (its speed drifts), and the ratio reported is
 * the median of the rounds' ratios of mean latencies.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <jansson.h>

#include "bench.h"
#include "proto.h"

#define SENDMANY_ROUNDS 5
#define SENDMANY_MAX 100

static int
many_step(struct client *c, struct msg *reply)
{
	(void)reply;
	if (!phase_more(c))
		return 0;
	return client_send_frame(c, c->arg) == 0;
}

/* An EMAIL_SENDING_MANY frame from c to the addresses of to[0..n). */
static int
many_frame(struct client *c, struct client *to, int n, size_t size,
    unsigned char **frame_r, size_t *len_r)
{
	json_t *list = json_array();
	char *content;
	size_t i;
	int k;

	if (list == NULL || (content = malloc(size + 1)) == NULL) {
		json_decref(list);
		return -1;
	}
	for (i = 0; i < size; i++)
		content[i] = (i % 73 == 72) ? '\n' : (char)('a' + i % 26);
	content[size] = '\0';
	for (k = 0; k < n; k++)
		json_array_append_new(list, json_string(to[k].addr));
	if (client_cache_frame(c, PROTO_EMAIL_SENDING_MANY,
	        json_pack("{s:o, s:s, s:s}", "to", list, "subject",
	            "bench many", "content", content)) == -1) {
		free(content);
		return -1;
	}
	free(content);
	*frame_r = c->frame;
	*len_r = c->frame_len;
	c->frame = NULL;
	return 0;
}

static void
many_row(struct bench *b, struct lat *l, int n, double secs, const char *phase,
    struct summary *s)
{
	struct result r;

	memset(&r, 0, sizeof(r));
	r.scenario = "send-many";
	r.phase = phase;
	r.clients = 1;
	result_from_lat(&r, l, secs);
	r.errors = l->errors + bench_take_errors(b);
	if (s != NULL)
		s->errors += r.errors;
	result_extra(&r, "rcpts", "%d", n);
	snprintf(r.note, sizeof(r.note),
	    "header 12 to %d recipient%s, "
	    "%.1f us each",
	    n, n == 1 ? "" : "s", r.mean_us);
	result_print(bench_opts(b), &r);
}

int
scenario_send_many(struct bench *b, struct summary *s)
{
	const struct bench_opts *o = bench_opts(b);
	int n = o->rcpts > 0 ? o->rcpts : 10, k, rc = -1;
	struct client *cs;
	unsigned char *f1 = NULL, *fn = NULL;
	size_t f1len = 0, fnlen = 0, j;
	double one[SENDMANY_ROUNDS], many[SENDMANY_ROUNDS];
	double ratio[SENDMANY_ROUNDS];
	double secs = o->duration > 0 ? o->duration / 2 : 1.0;
	struct lat l1, ln, a1, an;

	if (n < 2 || n > SENDMANY_MAX) {
		fprintf(stderr,
		    "glomail-bench: send-many needs 2 to %d "
		    "--rcpts\n",
		    SENDMANY_MAX);
		return -1;
	}
	lat_init(&a1);
	lat_init(&an);
	/* The sender, then its n recipients, all logged in. */
	if ((cs = clients_new(b, n + 1, "m")) == NULL ||
	    clients_connect(b, cs, n + 1, 256) != n + 1 ||
	    clients_auth(b, cs, n + 1) != 0) {
		fprintf(stderr, "glomail-bench: send-many: could not log in\n");
		goto fail;
	}
	if (many_frame(&cs[0], &cs[1], 1, o->size, &f1, &f1len) == -1 ||
	    many_frame(&cs[0], &cs[1], n, o->size, &fn, &fnlen) == -1)
		goto fail;
	for (k = 0; k < SENDMANY_ROUNDS; k++) {
		lat_init(&l1);
		lat_init(&ln);
		sync();
		usleep(300 * 1000);
		cs[0].frame = f1;
		cs[0].frame_len = f1len;
		cs[0].arg = &l1;
		phase_run(b, cs, 1, many_step, secs, 0);
		sync();
		usleep(300 * 1000);
		cs[0].frame = fn;
		cs[0].frame_len = fnlen;
		cs[0].arg = &ln;
		phase_run(b, cs, 1, many_step, secs, 0);
		cs[0].frame = NULL;
		one[k] = lat_mean_us(&l1);
		many[k] = lat_mean_us(&ln);
		ratio[k] = one[k] > 0 ? many[k] / one[k] : 0;
		for (j = 0; j < l1.n; j++)
			lat_add(&a1, l1.ns[j]);
		for (j = 0; j < ln.n; j++)
			lat_add(&an, ln.ns[j]);
		a1.errors += l1.errors;
		an.errors += ln.errors;
		lat_free(&l1);
		lat_free(&ln);
	}
	many_row(b, &a1, 1, secs * SENDMANY_ROUNDS, "1-rcpt", s);
	many_row(b, &an, n, secs * SENDMANY_ROUNDS, "N-rcpts", s);
	if (s != NULL) {
		s->many_rcpts = n;
		s->many1_us = bench_median(one, SENDMANY_ROUNDS);
		s->manyN_us = bench_median(many, SENDMANY_ROUNDS);
		s->ratio_many = bench_median(ratio, SENDMANY_ROUNDS);
	}
	rc = 0;
fail:
	if (cs != NULL) {
		cs[0].frame = NULL;
		clients_free(cs, n + 1);
	}
	free(f1);
	free(fn);
	lat_free(&a1);
	lat_free(&an);
	return rc;
}
