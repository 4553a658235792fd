/*
 * scenario.c - what glomail-bench measures against a running glomaild:
 * round trip, durable sends, the read path, a login storm, idle
 * connections and a 10,000-message mailbox.
 *
 * Each scenario sets its accounts up first (registration costs a password
 * hash, so it is never inside a measured phase), then runs measured phases
 * on connections that stay open, and prints one result per phase.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <event2/event.h>

#include "bench.h"

/* Connects in flight while opening many connections. */
#define CONNECT_WINDOW 256
/* Upper bound of a phase given by a message count rather than a duration. */
#define COUNT_PHASE_MAX_S 300.0

enum { ROLE_PROBE, ROLE_STORM };

static int
dflt(int v, int d)
{
	return v > 0 ? v : d;
}

/* The measured phase's limits: a count (bounded in time anyway) or a duration. */
static void
limits(const struct bench_opts *o, double dflt_s, double *deadline_r,
    long long *budget_r)
{
	*budget_r = o->messages > 0 ? o->messages : 0;
	if (o->duration > 0)
		*deadline_r = o->duration;
	else
		*deadline_r = o->messages > 0 ? COUNT_PHASE_MAX_S : dflt_s;
}

/* Connect and log in every client; -1 when any of them could not. */
static int
setup(struct bench *b, struct client *cs, int n)
{
	int up;

	if (cs == NULL)
		return -1;
	if ((up = clients_connect(b, cs, n, CONNECT_WINDOW)) != n) {
		fprintf(stderr, "glomail-bench: %d of %d connections failed\n",
		    n - up, n);
		return -1;
	}
	if (clients_auth(b, cs, n) != 0) {
		fprintf(stderr, "glomail-bench: could not log in\n");
		return -1;
	}
	return 0;
}

/* Send the cached frame again and again while the phase allows. */
static int
loop_step(struct client *c, struct msg *reply)
{
	(void)reply;
	if (!phase_more(c))
		return 0;
	return client_send_frame(c, c->arg) == 0;
}

/* Send the cached frame c->count times (not charged to the budget). */
static int
repeat_step(struct client *c, struct msg *reply)
{
	(void)reply;
	if (c->count <= 0)
		return 0;
	c->count--;
	return client_send_frame(c, c->arg) == 0;
}

/* Ids of a mailbox's newest messages, for flag changes and deletes. */
#define BENCH_IDS 64
static char bench_ids[BENCH_IDS][256];
static int bench_nids, bench_deleting;

static int
ids_step(struct client *c, struct msg *reply)
{
	json_t *m;
	size_t i;

	if (reply == NULL) {
		if (client_request(c, PROTO_MAILBOX_LIST, json_pack("{s:i}",
		    "limit", BENCH_IDS), NULL) == -1)
			return 0;
		c->need_payload = 1;
		return 1;
	}
	bench_nids = 0;
	json_array_foreach(json_object_get(msg_payload(reply), "messages"), i,
	    m)
		if (bench_nids < BENCH_IDS)
			snprintf(bench_ids[bench_nids++], sizeof(bench_ids[0]),
			    "%s", json_string_value(json_object_get(m, "id")));
	return 0;
}

/* Flag changes (flagged set, then cleared, over the ids), or deletes. */
static int
change_step(struct client *c, struct msg *reply)
{
	int k;

	(void)reply;
	if (c->count <= 0 || bench_nids == 0)
		return 0;
	k = --c->count;
	if (bench_deleting)
		return client_request(c, PROTO_MAILBOX_DELETE, json_pack(
		    "{s:[s]}", "ids", bench_ids[k % bench_nids]), c->arg) == 0;
	return client_request(c, PROTO_MAILBOX_FLAGS, json_pack("{s:[s], s:[s]}",
	    "ids", bench_ids[k % bench_nids], (k / bench_nids) % 2 ? "add" :
	    "remove", "flagged"), c->arg) == 0;
}

/* One stats request; the mailbox's message count lands in c->count. */
static int
count_step(struct client *c, struct msg *reply)
{
	union msg_args a;
	const char *why;

	if (reply == NULL) {
		if (client_request(c, PROTO_STATS_REQUEST, NULL, NULL) == -1)
			return 0;
		c->need_payload = 1;
		return 1;
	}
	if (msg_header(reply) == PROTO_OK &&
	    msg_unpack(reply, PROTO_SHAPE_STATS, &a, &why) == 0)
		c->count = a.stats.count;
	else
		c->count = -1;
	return 0;
}

/* Messages in each client's mailbox (c->count), -1 on failure. */
static int
count_mail(struct bench *b, struct client *cs, int n)
{
	int i;

	phase_run(b, cs, n, count_step, 0, 0);
	for (i = 0; i < n; i++)
		if (cs[i].count < 0)
			return -1;
	return 0;
}

static void
row_init(struct result *r, const char *scenario, const char *phase,
    int clients)
{
	memset(r, 0, sizeof(*r));
	r->scenario = scenario;
	r->phase = phase;
	r->clients = clients;
}

/* A result row from a recorder, with the bench's uncharged failures added. */
static void
row_emit(struct bench *b, struct result *r, struct lat *l, double seconds,
    struct summary *s)
{
	result_from_lat(r, l, seconds);
	r->errors += bench_take_errors(b);
	if (s != NULL)
		s->errors += r->errors;
	result_print(bench_opts(b), r);
}

int
scenario_rtt(struct bench *b, struct summary *s)
{
	const struct bench_opts *o = bench_opts(b);
	struct client *c = clients_new(b, 1, "t");
	struct result r;
	struct lat l;
	long long budget;
	double deadline, secs;
	int rc = -1;

	lat_init(&l);
	if (setup(b, c, 1) == -1 ||
	    client_cache_frame(c, PROTO_STATS_REQUEST, NULL) == -1)
		goto fail;
	limits(o, 3.0, &deadline, &budget);
	c->arg = &l;
	secs = phase_run(b, c, 1, loop_step, deadline, budget);
	row_init(&r, "rtt", "stats", 1);
	snprintf(r.note, sizeof(r.note), "one client, trivial request");
	row_emit(b, &r, &l, secs, s);
	if (s != NULL)
		s->rtt_us = r.mean_us;
	rc = 0;
fail:
	lat_free(&l);
	clients_free(c, 1);
	return rc;
}

int
scenario_send(struct bench *b, struct summary *s)
{
	const struct bench_opts *o = bench_opts(b);
	int n = dflt(o->clients, 32), i;
	struct client *cs = clients_new(b, n, "s");
	struct result r;
	struct lat l;
	long long budget;
	double deadline, secs;
	int rc = -1;

	lat_init(&l);
	if (setup(b, cs, n) == -1)
		goto fail;
	/* Everyone writes to the next one: n mailboxes, n writers. */
	for (i = 0; i < n; i++) {
		if (client_cache_email(&cs[i], cs[(i + 1) % n].addr, o->size) ==
		    -1)
			goto fail;
		cs[i].arg = &l;
	}
	limits(o, 5.0, &deadline, &budget);
	secs = phase_run(b, cs, n, loop_step, deadline, budget);
	row_init(&r, "send", "send", n);
	result_extra(&r, "size", "%zu", o->size);
	snprintf(r.note, sizeof(r.note), "durable sends of %zu B", o->size);
	row_emit(b, &r, &l, secs, s);
	if (s != NULL) {
		if (n == 1) {
			s->send1_rate = r.ops_per_s;
		} else {
			s->sendN_rate = r.ops_per_s;
			s->sendN_clients = n;
		}
	}
	rc = 0;
fail:
	lat_free(&l);
	clients_free(cs, n);
	return rc;
}

/* Top each mailbox up to want messages, each client writing to itself. */
static int
fill_own(struct bench *b, struct client *cs, int n, int want)
{
	const struct bench_opts *o = bench_opts(b);
	int i;

	if (count_mail(b, cs, n) == -1)
		return -1;
	for (i = 0; i < n; i++) {
		cs[i].count = cs[i].count < want ? want - cs[i].count : 0;
		cs[i].arg = NULL;
		if (client_cache_email(&cs[i], cs[i].addr, o->size) == -1)
			return -1;
	}
	phase_run(b, cs, n, repeat_step, 0, 0);
	if (bench_take_errors(b) != 0)
		return -1;
	return count_mail(b, cs, n);
}

/* Read a random message of the last list. */
static int
choice_step(struct client *c, struct msg *reply)
{
	long long k;

	(void)reply;
	if (!phase_more(c))
		return 0;
	c->seed = c->seed * 1103515245u + 12345u;
	k = 1 + (long long)((c->seed >> 8) % (unsigned)c->peer);
	return client_request(c, PROTO_INBOX_READING_CHOICE, msg_choice_new(k),
	    c->arg) == 0;
}

int
scenario_read(struct bench *b, struct summary *s)
{
	const struct bench_opts *o = bench_opts(b);
	int n = dflt(o->clients, 32), want = dflt(o->mailbox, 100), i;
	struct client *cs = clients_new(b, n, "r");
	struct lat ls, ll, lr;
	struct result r;
	long long budget;
	double deadline, secs;
	int rc = -1;

	lat_init(&ls);
	lat_init(&ll);
	lat_init(&lr);
	if (setup(b, cs, n) == -1)
		goto fail;
	if (fill_own(b, cs, n, want) == -1) {
		fprintf(stderr, "glomail-bench: read: filling mailboxes failed\n");
		goto fail;
	}
	limits(o, 3.0, &deadline, &budget);

	for (i = 0; i < n; i++) {
		cs[i].peer = (int)(cs[i].count > 0 ? cs[i].count : 1);
		cs[i].seed = (unsigned)i * 2654435761u + 1;
		cs[i].arg = &ls;
		if (client_cache_frame(&cs[i], PROTO_STATS_REQUEST, NULL) == -1)
			goto fail;
	}
	secs = phase_run(b, cs, n, loop_step, deadline, budget);
	row_init(&r, "read", "stats", n);
	result_extra(&r, "mailbox", "%d", want);
	snprintf(r.note, sizeof(r.note), "mailboxes of %d", want);
	row_emit(b, &r, &ls, secs, s);
	if (s != NULL)
		s->stats_rate = r.ops_per_s;

	for (i = 0; i < n; i++) {
		cs[i].arg = &ll;
		if (client_cache_frame(&cs[i], PROTO_INBOX_READING_REQUEST,
		    NULL) == -1)
			goto fail;
	}
	secs = phase_run(b, cs, n, loop_step, deadline, budget);
	row_init(&r, "read", "list", n);
	result_extra(&r, "mailbox", "%d", want);
	snprintf(r.note, sizeof(r.note), "list of %d", want);
	row_emit(b, &r, &ll, secs, s);
	if (s != NULL)
		s->list_rate = r.ops_per_s;

	/* Each connection listed above, so a choice refers to that list. */
	for (i = 0; i < n; i++)
		cs[i].arg = &lr;
	secs = phase_run(b, cs, n, choice_step, deadline, budget);
	row_init(&r, "read", "read", n);
	result_extra(&r, "mailbox", "%d", want);
	snprintf(r.note, sizeof(r.note), "random message of %d", want);
	row_emit(b, &r, &lr, secs, s);
	if (s != NULL)
		s->read_rate = r.ops_per_s;
	rc = 0;
fail:
	lat_free(&ls);
	lat_free(&ll);
	lat_free(&lr);
	clients_free(cs, n);
	return rc;
}

/* A probe: stats, a pause, stats again, so the probes themselves stay light. */
static int
paced_step(struct client *c, struct msg *reply)
{
	const struct bench_opts *o = bench_opts(c->b);

	if (reply != NULL)
		return client_pause(c, (long)(o->interval_ms * 1000)) == 0;
	if (!phase_more(c))
		return 0;
	return client_send_frame(c, c->arg) == 0;
}

/* A storm client: log in (an Argon2id verification), log out, again. */
static int
storm_step(struct client *c, struct msg *reply)
{
	const struct bench_opts *o = bench_opts(c->b);

	if (reply != NULL &&
	    client_send_noreply(c, PROTO_AUTH_LOGOUT) == -1)
		return 0;
	if (!phase_more(c))
		return 0;
	return client_request(c, PROTO_AUTH_LOGIN,
	    msg_credentials_new(c->user, o->password), c->arg) == 0;
}

static int
role_step(struct client *c, struct msg *reply)
{
	return c->peer == ROLE_STORM ? storm_step(c, reply) :
	    paced_step(c, reply);
}

int
scenario_login_storm(struct bench *b, struct summary *s)
{
	const struct bench_opts *o = bench_opts(b);
	int n = dflt(o->clients, 8), p = dflt(o->probes, 4), i;
	/* [0] creates the storm's account, then p probes, then n storm clients. */
	struct client *cs = clients_new(b, 1 + p + n, "p");
	struct client *probes = cs != NULL ? cs + 1 : NULL;
	struct lat quiet, busy, logins;
	struct result r;
	char name[80];
	long long budget;
	double deadline, secs, ratio;
	int rc = -1;

	lat_init(&quiet);
	lat_init(&busy);
	lat_init(&logins);
	if (cs == NULL)
		goto fail;
	snprintf(name, sizeof(name), "%sl", o->prefix);
	client_set_user(&cs[0], name);
	for (i = 0; i < n; i++) {
		client_set_user(&probes[p + i], name);
		probes[p + i].peer = ROLE_STORM;
		probes[p + i].arg = &logins;
	}
	/* Storm clients connect only: logging in is their loop. */
	if (setup(b, cs, 1) == -1 || setup(b, probes, p) == -1 ||
	    clients_connect(b, probes + p, n, CONNECT_WINDOW) != n)
		goto fail;
	limits(o, 5.0, &deadline, &budget);

	for (i = 0; i < p; i++) {
		probes[i].peer = ROLE_PROBE;
		probes[i].arg = &quiet;
		if (client_cache_frame(&probes[i], PROTO_STATS_REQUEST, NULL) ==
		    -1)
			goto fail;
	}
	secs = phase_run(b, probes, p, paced_step, deadline, budget);
	row_init(&r, "login-storm", "quiet", p);
	result_extra(&r, "interval_ms", "%.3f", o->interval_ms);
	snprintf(r.note, sizeof(r.note), "stats every %.1f ms, no storm",
	    o->interval_ms);
	row_emit(b, &r, &quiet, secs, s);
	if (s != NULL)
		s->quiet_p99_us = r.p99_us;

	/* Probes and storm side by side in one phase. */
	for (i = 0; i < p; i++)
		probes[i].arg = &busy;
	secs = phase_run(b, probes, p + n, role_step, deadline, budget);
	row_init(&r, "login-storm", "storm", p);
	result_from_lat(&r, &busy, secs);
	ratio = quiet.n > 0 && lat_pct_us(&quiet, 0.99) > 0 ?
	    r.p99_us / lat_pct_us(&quiet, 0.99) : 0;
	result_extra(&r, "storm_clients", "%d", n);
	result_extra(&r, "p99_vs_quiet", "%.2f", ratio);
	snprintf(r.note, sizeof(r.note), "stats during a %d-client login "
	    "storm: p99 x%.2f of quiet", n, ratio);
	row_emit(b, &r, &busy, secs, s);
	if (s != NULL)
		s->storm_p99_us = r.p99_us;

	row_init(&r, "login-storm", "logins", n);
	snprintf(r.note, sizeof(r.note), "login+logout loop, one account");
	row_emit(b, &r, &logins, secs, s);
	rc = 0;
fail:
	lat_free(&quiet);
	lat_free(&busy);
	lat_free(&logins);
	clients_free(cs, 1 + p + n);
	return rc;
}

/* Ask every connection something (stats, logged in or not) to prove it is served. */
static int
ping_step(struct client *c, struct msg *reply)
{
	if (reply != NULL)
		return 0;
	if (client_request(c, PROTO_STATS_REQUEST, NULL, c->arg) == -1)
		return 0;
	c->expect = 0;
	return 1;
}

/* Let the loop run for secs seconds with nothing to do but notice closes. */
static void
hold(struct bench *b, double secs)
{
	struct timeval tv = { (long)secs, (long)((secs - (long)secs) * 1e6) };

	event_base_loopexit(bench_base(b), &tv);
	event_base_dispatch(bench_base(b));
}

int
scenario_idle(struct bench *b, struct summary *s)
{
	const struct bench_opts *o = bench_opts(b);
	int n = o->conns > 0 ? o->conns : dflt(o->clients, 10000);
	int k, i, up, held = 0;
	struct client *cs = clients_new_shared(b, n, "i");
	struct client *fresh = clients_new(b, 1, "n");
	struct lat lping, lnew, lheld;
	struct result r;
	long rss0, rss1, rss2, fds0, fds1;
	double t_open, secs, per_conn = 0;
	uint64_t t0;
	int rc = -1;

	lat_init(&lping);
	lat_init(&lnew);
	lat_init(&lheld);
	k = o->login > 0 ? o->login : 16;
	if (k > n)
		k = n;
	if (n < 1 || fresh == NULL)
		goto fail;
	/* The first connection creates the account; the RSS base comes after. */
	if (setup(b, cs, 1) == -1)
		goto fail;
	rss0 = proc_rss_kib(o->pid);
	fds0 = proc_fd_count(o->pid);
	t0 = now_ns();
	up = 1 + clients_connect(b, cs + 1, n - 1, CONNECT_WINDOW);
	t_open = (double)(now_ns() - t0) / 1e9;
	if (up != n) {
		fprintf(stderr, "glomail-bench: idle: %d of %d connections "
		    "failed\n", n - up, n);
	}
	if (k > 1 && clients_auth(b, cs + 1, k - 1) != 0)
		fprintf(stderr, "glomail-bench: idle: some logins failed\n");
	rss1 = proc_rss_kib(o->pid);
	fds1 = proc_fd_count(o->pid);
	if (rss0 > 0 && rss1 > 0 && up > 1)
		per_conn = (double)(rss1 - rss0) / (double)(up - 1);

	/* With every connection held: how long does a newcomer wait? */
	fresh->arg = &lnew;
	t0 = now_ns();
	if (clients_connect(b, fresh, 1, 1) != 1)
		goto fail;
	lat_add(&lnew, now_ns() - t0);
	lheld.errors = 0;
	cs[0].arg = &lheld;
	cs[0].count = 200;
	if (client_cache_frame(&cs[0], PROTO_STATS_REQUEST, NULL) == -1)
		goto fail;
	phase_run(b, cs, 1, repeat_step, 0, 0);

	hold(b, o->duration > 0 ? o->duration : 3.0);
	for (i = 0; i < n; i++)
		cs[i].arg = &lping;
	secs = phase_run_window(b, cs, n, ping_step, 0, 0, CONNECT_WINDOW);
	for (i = 0; i < n; i++)
		held += !cs[i].dead;
	/* Every connection has now carried a request, so the server holds
	 * whatever buffers one costs: count the larger of the two readings. */
	rss2 = proc_rss_kib(o->pid);
	if (rss2 > rss1)
		rss1 = rss2;
	if (rss0 > 0 && rss1 > 0 && up > 1)
		per_conn = (double)(rss1 - rss0) / (double)(up - 1);

	row_init(&r, "idle", "held", n);
	result_from_lat(&r, &lping, secs);
	r.ops = held;
	r.errors += bench_take_errors(b) + lnew.errors + lheld.errors;
	r.ops_per_s = t_open > 0 ? (double)(up - 1) / t_open : 0;
	result_extra(&r, "logged_in", "%d", k);
	result_extra(&r, "held", "%d", held);
	result_extra(&r, "open_s", "%.3f", t_open);
	result_extra(&r, "rss_before_kib", "%ld", rss0);
	result_extra(&r, "rss_after_kib", "%ld", rss1);
	result_extra(&r, "kib_per_conn", "%.2f", per_conn);
	result_extra(&r, "server_fds_before", "%ld", fds0);
	result_extra(&r, "server_fds_after", "%ld", fds1);
	result_extra(&r, "new_client_ms", "%.3f", lat_mean_us(&lnew) / 1000);
	result_extra(&r, "held_stats_p50_us", "%.1f", lat_pct_us(&lheld, 0.5));
	result_extra(&r, "held_stats_p99_us", "%.1f",
	    lat_pct_us(&lheld, 0.99));
	if (rss0 > 0)
		snprintf(r.note, sizeof(r.note), "RSS %ld->%ld KiB, %.2f KiB "
		    "per conn; newcomer %.2f ms; ops/s = connects/s", rss0, rss1,
		    per_conn, lat_mean_us(&lnew) / 1000);
	else
		snprintf(r.note, sizeof(r.note), "no --pid: RSS not read; "
		    "newcomer %.2f ms", lat_mean_us(&lnew) / 1000);
	if (s != NULL) {
		s->errors += r.errors;
		s->idle_held = held;
		s->idle_kib_per_conn = per_conn;
		s->idle_new_client_ms = lat_mean_us(&lnew) / 1000;
	}
	result_print(o, &r);
	rc = 0;
fail:
	lat_free(&lping);
	lat_free(&lnew);
	lat_free(&lheld);
	clients_free(fresh, 1);
	clients_free(cs, n);
	return rc;
}

int
scenario_bigbox(struct bench *b, struct summary *s)
{
	const struct bench_opts *o = bench_opts(b);
	int n = dflt(o->clients, 8), big = dflt(o->bigbox, 10000), i;
	int reps = 20, small = dflt(o->mailbox, 100), box;
	/* [0] the big mailbox, [1] the small one, [2] a fresh session on [0]. */
	struct client *own = clients_new(b, 3, "box");
	struct client *snd = clients_new(b, n, "f");
	struct lat lfill, lcold, lwarm, lbig, lsmall, lsubj, lbody, lflag, ldel;
	struct result r;
	long long deficit, nbig, nsmall;
	double secs, speedup, cost;
	int rc = -1;

	lat_init(&lfill);
	lat_init(&lcold);
	lat_init(&lwarm);
	lat_init(&lbig);
	lat_init(&lsmall);
	lat_init(&lsubj);
	lat_init(&lbody);
	lat_init(&lflag);
	lat_init(&ldel);
	if (own == NULL)
		goto fail;
	client_set_user(&own[2], own[0].user);
	if (setup(b, own, 2) == -1 || setup(b, snd, n) == -1 ||
	    count_mail(b, own, 2) == -1)
		goto fail;

	/* Fill: every sender writes to the big mailbox, then to the small one. */
	for (box = 0; box < 2; box++) {
		deficit = (box == 0 ? big : small) - own[box].count;
		if (deficit <= 0)
			continue;
		for (i = 0; i < n; i++) {
			snd[i].arg = &lfill;
			if (client_cache_email(&snd[i], own[box].addr, o->size) ==
			    -1)
				goto fail;
		}
		secs = phase_run(b, snd, n, loop_step, COUNT_PHASE_MAX_S * 4,
		    deficit);
		row_init(&r, "bigbox", box == 0 ? "fill" : "fill-small", n);
		snprintf(r.note, sizeof(r.note), "durable sends into one "
		    "mailbox, %zu B", o->size);
		row_emit(b, &r, &lfill, secs, s);
		lat_free(&lfill);
		lat_init(&lfill);
	}
	if (count_mail(b, own, 2) == -1)
		goto fail;
	if (own[0].count < big) {
		fprintf(stderr, "glomail-bench: bigbox: the mailbox holds %lld "
		    "of %d messages\n", own[0].count, big);
		goto fail;
	}
	nbig = own[0].count;
	nsmall = own[1].count;
	if (o->fill_only) {
		rc = 0;
		goto fail;
	}

	/* Cold: the first list of a new session. Warm: the lists after it. */
	if (setup(b, own + 2, 1) == -1 ||
	    client_cache_frame(&own[2], PROTO_INBOX_READING_REQUEST, NULL) ==
	    -1)
		goto fail;
	own[2].arg = &lcold;
	own[2].count = 1;
	phase_run(b, own + 2, 1, repeat_step, 0, 0);
	own[2].arg = &lwarm;
	own[2].count = reps;
	phase_run(b, own + 2, 1, repeat_step, 0, 0);

	/* Reading #1 in the big and the small mailbox (each listed first). */
	for (i = 1; i < 3; i++) {
		if (i == 1) {
			if (client_cache_frame(&own[1],
			    PROTO_INBOX_READING_REQUEST, NULL) == -1)
				goto fail;
			own[1].arg = NULL;
			own[1].count = 1;
			phase_run(b, own + 1, 1, repeat_step, 0, 0);
		}
		if (client_cache_frame(&own[i], PROTO_INBOX_READING_CHOICE,
		    msg_choice_new(1)) == -1)
			goto fail;
		own[i].arg = i == 2 ? &lbig : &lsmall;
		own[i].count = reps;
		phase_run(b, own + i, 1, repeat_step, 0, 0);
	}

	/* Searches of the big mailbox (the mailbox extension), warm: a
	 * subject no message has (every entry compared), then a body text
	 * none holds (every file read). */
	if (client_cache_frame(&own[2], PROTO_MAILBOX_SEARCH,
	    json_pack("{s:s}", "subject", "no such subject")) == -1)
		goto fail;
	own[2].arg = &lsubj;
	own[2].count = reps;
	phase_run(b, own + 2, 1, repeat_step, 0, 0);
	if (client_cache_frame(&own[2], PROTO_MAILBOX_SEARCH,
	    json_pack("{s:s}", "body", "no such body text")) == -1)
		goto fail;
	own[2].arg = NULL;
	own[2].count = 1;
	phase_run(b, own + 2, 1, repeat_step, 0, 0);
	own[2].arg = &lbody;
	own[2].count = 5;
	phase_run(b, own + 2, 1, repeat_step, 0, 0);

	/* Flag changes and deletes in the big mailbox, each on disk. */
	own[2].arg = NULL;
	phase_run(b, own + 2, 1, ids_step, 0, 0);
	bench_deleting = 0;
	own[2].arg = &lflag;
	own[2].count = 2 * bench_nids;
	phase_run(b, own + 2, 1, change_step, 0, 0);
	bench_deleting = 1;
	own[2].arg = &ldel;
	own[2].count = bench_nids / 2;
	phase_run(b, own + 2, 1, change_step, 0, 0);

	row_init(&r, "bigbox", "flag", 1);
	result_extra(&r, "mailbox", "%lld", nbig);
	snprintf(r.note, sizeof(r.note), "flagged set/cleared by id, durable");
	row_emit(b, &r, &lflag, (double)lflag.sum / 1e9, s);
	row_init(&r, "bigbox", "delete", 1);
	result_extra(&r, "mailbox", "%lld", nbig);
	snprintf(r.note, sizeof(r.note), "one id a request, durable");
	row_emit(b, &r, &ldel, (double)ldel.sum / 1e9, s);

	row_init(&r, "bigbox", "search-subject", 1);
	result_extra(&r, "mailbox", "%lld", nbig);
	snprintf(r.note, sizeof(r.note), "subject search of %lld (index)",
	    nbig);
	row_emit(b, &r, &lsubj, (double)lsubj.sum / 1e9, s);
	row_init(&r, "bigbox", "search-body", 1);
	result_extra(&r, "mailbox", "%lld", nbig);
	snprintf(r.note, sizeof(r.note), "body search of %lld (files, warm)",
	    nbig);
	row_emit(b, &r, &lbody, (double)lbody.sum / 1e9, s);

	row_init(&r, "bigbox", "cold-list", 1);
	result_extra(&r, "mailbox", "%lld", nbig);
	snprintf(r.note, sizeof(r.note), "first list of %lld in a session",
	    nbig);
	row_emit(b, &r, &lcold, (double)lcold.sum / 1e9, s);
	speedup = lat_mean_us(&lwarm) > 0 ?
	    lat_mean_us(&lcold) / lat_mean_us(&lwarm) : 0;
	row_init(&r, "bigbox", "warm-list", 1);
	result_extra(&r, "mailbox", "%lld", nbig);
	result_extra(&r, "cold_vs_warm", "%.2f", speedup);
	snprintf(r.note, sizeof(r.note), "warm list x%.1f faster than cold",
	    speedup);
	row_emit(b, &r, &lwarm, (double)lwarm.sum / 1e9, s);
	cost = lat_mean_us(&lsmall) > 0 ?
	    lat_mean_us(&lbig) / lat_mean_us(&lsmall) : 0;
	row_init(&r, "bigbox", "read-big", 1);
	result_extra(&r, "mailbox", "%lld", nbig);
	result_extra(&r, "vs_small", "%.2f", cost);
	snprintf(r.note, sizeof(r.note), "read #1 of %lld: x%.2f of a %lld "
	    "mailbox", nbig, cost, nsmall);
	row_emit(b, &r, &lbig, (double)lbig.sum / 1e9, s);
	row_init(&r, "bigbox", "read-small", 1);
	result_extra(&r, "mailbox", "%lld", nsmall);
	snprintf(r.note, sizeof(r.note), "read #1 of %lld", nsmall);
	row_emit(b, &r, &lsmall, (double)lsmall.sum / 1e9, s);
	if (s != NULL) {
		s->cold_list_ms = lat_mean_us(&lcold) / 1000;
		s->warm_list_ms = lat_mean_us(&lwarm) / 1000;
		s->big_read_us = lat_mean_us(&lbig);
		s->small_read_us = lat_mean_us(&lsmall);
	}
	rc = 0;
fail:
	lat_free(&lfill);
	lat_free(&lcold);
	lat_free(&lwarm);
	lat_free(&lsubj);
	lat_free(&lbody);
	lat_free(&lflag);
	lat_free(&ldel);
	lat_free(&lbig);
	lat_free(&lsmall);
	clients_free(own, 3);
	clients_free(snd, n);
	return rc;
}
