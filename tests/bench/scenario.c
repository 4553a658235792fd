/*
 * scenario.c - what glomail-bench measures against a running glomaild:
 * round trip, durable sends, the read path, a login storm, idle
 * connections and a 10,000-message mailbox; and over TLS: idle
 * connections, one connection per request, stats against plaintext and
 * requests while a thousand clients handshake.
 *
 * Each scenario sets its accounts up first (registration costs a password
 * hash, so it is never inside a measured phase), then runs measured phases
 * on connections that stay open, and prints one result per phase.
 */
#include <sys/resource.h>
#include <sys/socket.h>

#include <netinet/in.h>
#include <netinet/tcp.h>

#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <event2/event.h>
#include <openssl/ssl.h>

#include "bench.h"
#include "frame.h"
#include "wire.h"

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

/*
 * Hold n connections (plaintext, or TLS with tls set) and read what they
 * cost the server; see scenario_idle.
 */
static int
idle_run(struct bench *b, struct summary *s, int tls)
{
	const struct bench_opts *o = bench_opts(b);
	int n = o->conns > 0 ? o->conns : dflt(o->clients, 10000);
	int k, i, up, held = 0;
	struct client *cs = clients_new_shared(b, n, tls ? "ti" : "i");
	struct client *fresh = clients_new(b, 1, tls ? "tn" : "n");
	const char *name = tls ? "tls-idle" : "idle";
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
	if (tls) {
		clients_use_tls(cs, n);
		clients_use_tls(fresh, 1);
	}
	/* The first connection creates the account; the RSS base comes after. */
	if (setup(b, cs, 1) == -1)
		goto fail;
	rss0 = proc_rss_kib(o->pid);
	fds0 = proc_fd_count(o->pid);
	t0 = now_ns();
	up = 1 + clients_connect_by(b, cs + 1, n - 1, CONNECT_WINDOW,
	    COUNT_PHASE_MAX_S);
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
	secs = phase_run_window(b, cs, n, ping_step, COUNT_PHASE_MAX_S, 0,
	    CONNECT_WINDOW);
	for (i = 0; i < n; i++)
		held += !cs[i].dead;
	/* Every connection has now carried a request, so the server holds
	 * whatever buffers one costs: count the larger of the two readings. */
	rss2 = proc_rss_kib(o->pid);
	if (rss2 > rss1)
		rss1 = rss2;
	if (rss0 > 0 && rss1 > 0 && up > 1)
		per_conn = (double)(rss1 - rss0) / (double)(up - 1);

	row_init(&r, name, "held", n);
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
	if (s != NULL && tls) {
		s->errors += r.errors;
		s->tls_idle_held = held;
		s->tls_idle_rss_kib = rss1;
		s->tls_idle_kib_per_conn = per_conn;
		s->tls_idle_new_client_ms = lat_mean_us(&lnew) / 1000;
	} else if (s != NULL) {
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
scenario_idle(struct bench *b, struct summary *s)
{
	return idle_run(b, s, 0);
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
	struct lat lfill, lcold, lwarm, lbig, lsmall;
	struct result r;
	long long deficit, nbig, nsmall;
	double secs, speedup, cost;
	int rc = -1;

	lat_init(&lfill);
	lat_init(&lcold);
	lat_init(&lwarm);
	lat_init(&lbig);
	lat_init(&lsmall);
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
	lat_free(&lbig);
	lat_free(&lsmall);
	clients_free(own, 3);
	clients_free(snd, n);
	return rc;
}

int
scenario_tls_idle(struct bench *b, struct summary *s)
{
	if (!bench_has_tls(b)) {
		fprintf(stderr, "glomail-bench: tls-idle needs --tls-port\n");
		return -1;
	}
	return idle_run(b, s, 1);
}

static int
cmp_double(const void *a, const void *b)
{
	double x = *(const double *)a, y = *(const double *)b;

	return (x > y) - (x < y);
}

/* The median of v[0..n) (sorts v). */
static double
median_of(double *v, int n)
{
	if (n <= 0)
		return 0;
	qsort(v, (size_t)n, sizeof(*v), cmp_double);
	return n % 2 ? v[n / 2] : (v[n / 2 - 1] + v[n / 2]) / 2;
}


static double
self_cpu_s(void)
{
	struct rusage ru;

	if (getrusage(RUSAGE_SELF, &ru) == -1)
		return 0;
	return (double)(ru.ru_utime.tv_sec + ru.ru_stime.tv_sec) +
	    (double)(ru.ru_utime.tv_usec + ru.ru_stime.tv_usec) / 1e6;
}

enum { CONN_PLAIN, CONN_TLS, CONN_WIRE, CONN_KINDS };

/* A reply to read whole; CAPABILITIES' is a few hundred bytes. */
#define CONNECT_REPLY_MAX 16384

/*
 * One TLS connection from a client that keeps one context for all of them
 * (as any client making many connections would): connect, a verified
 * handshake, CAPABILITIES (no login needed), its reply, close_notify.
 * 0, or -1 with *why_r set.
 */
static int
tls_once(const struct bench_opts *o, SSL_CTX *ctx, const unsigned char *req,
    size_t reqlen, const char **why_r)
{
	const char *name = o->servername != NULL ? o->servername :
	    "localhost";
	static unsigned char buf[CONNECT_REPLY_MAX];
	struct timeval tv = { 10, 0 };
	struct msg *m = NULL;
	enum frame_result fr;
	size_t have = 0, body;
	SSL *ssl = NULL;
	char err[256];
	int fd, n, one = 1, rc = -1;

	if ((fd = wire_connect(o->host, o->tls_port, err, sizeof(err))) ==
	    -1) {
		*why_r = "connect failed";
		return -1;
	}
	(void)setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv));
	(void)setsockopt(fd, SOL_SOCKET, SO_SNDTIMEO, &tv, sizeof(tv));
	(void)setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
	*why_r = "TLS set-up failed";
	if ((ssl = SSL_new(ctx)) == NULL || SSL_set_fd(ssl, fd) != 1 ||
	    SSL_set_tlsext_host_name(ssl, name) != 1 ||
	    SSL_set1_host(ssl, name) != 1)
		goto fail;
	*why_r = "handshake failed";
	if (SSL_connect(ssl) != 1)
		goto fail;
	*why_r = "cannot send";
	if (SSL_write(ssl, req, (int)reqlen) != (int)reqlen)
		goto fail;
	*why_r = "connection closed";
	while ((fr = frame_decode(buf, have, sizeof(buf) - FRAME_HEADER_LEN,
	    &body)) == FRAME_MORE) {
		if ((n = SSL_read(ssl, buf + have, (int)(sizeof(buf) - have))) <=
		    0)
			goto fail;
		have += (size_t)n;
	}
	*why_r = "reply too large";
	if (fr != FRAME_READY ||
	    msg_parse(buf + FRAME_HEADER_LEN, body, &m, why_r) == -1)
		goto fail;
	*why_r = "CAPABILITIES refused";
	if (msg_header(m) != PROTO_OK)
		goto fail;
	(void)SSL_shutdown(ssl);
	rc = 0;
fail:
	msg_free(m);
	SSL_free(ssl);
	close(fd);
	return rc;
}

/*
 * The same through glomail's own connection code (common/wire.c): with
 * tls, it builds a new context for each connection, as a one-shot command
 * line does.
 */
static int
wire_once(const struct bench_opts *o, const struct wire_tls *tls,
    const unsigned char *req, size_t reqlen, const char **why_r)
{
	const char *port = tls != NULL ? o->tls_port : o->port;
	static char err[256];
	struct msg *m = NULL;
	struct wire *w;
	int rc = -1;

	if ((w = wire_open(o->host, port, tls, 10, err, sizeof(err))) == NULL) {
		*why_r = err;
		return -1;
	}
	*why_r = "cannot send";
	if (wire_write(w, req, reqlen) == -1)
		goto fail;
	if (wire_read_msg(w, CONNECT_REPLY_MAX, &m, why_r) == -1)
		goto fail;
	*why_r = "CAPABILITIES refused";
	if (msg_header(m) != PROTO_OK)
		goto fail;
	rc = 0;
fail:
	msg_free(m);
	wire_close(w);
	return rc;
}

/* What one kind of connection cost over all rounds. */
struct conn_tally {
	struct lat l;
	double secs, server_cpu, self_cpu;
};

/* Connections one after another for secs seconds or count connections. */
static void
connect_round(struct bench *b, int kind, double secs, long long count,
    const unsigned char *req, size_t reqlen, struct conn_tally *t,
    int *complaints)
{
	const struct bench_opts *o = bench_opts(b);
	struct wire_tls tls = { o->cafile, o->servername != NULL ?
	    o->servername : "localhost" };
	double cpu0 = proc_cpu_s(o->pid), self0 = self_cpu_s(), cpu1;
	uint64_t t0 = now_ns(), end = t0 + (uint64_t)(secs * 1e9), t1;
	const char *why = NULL;
	long long i;
	int rc;

	for (i = 0; (count <= 0 || i < count) && now_ns() < end; i++) {
		t1 = now_ns();
		rc = kind == CONN_TLS ? tls_once(o, bench_tls_ctx(b), req,
		    reqlen, &why) : wire_once(o, kind == CONN_WIRE ? &tls :
		    NULL, req, reqlen, &why);
		if (rc == 0) {
			lat_add(&t->l, now_ns() - t1);
		} else {
			t->l.errors++;
			if ((*complaints)++ < 10)
				fprintf(stderr, "glomail-bench: tls-connect: "
				    "%s\n", why != NULL ? why : "failed");
		}
	}
	t->secs += (double)(now_ns() - t0) / 1e9;
	t->self_cpu += self_cpu_s() - self0;
	cpu1 = proc_cpu_s(o->pid);
	if (cpu0 >= 0 && cpu1 >= 0)
		t->server_cpu += cpu1 - cpu0;
}

/*
 * A sequential client: connect, handshake and one request per connection;
 * plaintext, TLS, and TLS through glomail's wire_open, in rounds that
 * rotate their order. Besides the rate, the server's CPU per connection,
 * read from /proc before and after each round.
 */
int
scenario_tls_connect(struct bench *b, struct summary *s)
{
	static const char *const phase[CONN_KINDS] = { "plain", "tls",
	    "tls-wire" };
	static const char *const what[CONN_KINDS] = { "connect",
	    "connect+handshake", "wire_open (new context each time)" };
	const struct bench_opts *o = bench_opts(b);
	int rounds = dflt(o->rounds, 3), i, k, complaints = 0, rc = -1;
	struct conn_tally t[CONN_KINDS];
	double deadline, per_round, cpu_us, self_us;
	unsigned char *req = NULL;
	long long budget, count;
	struct result r;
	size_t reqlen;

	memset(t, 0, sizeof(t));
	if (!bench_has_tls(b)) {
		fprintf(stderr, "glomail-bench: tls-connect needs --tls-port\n");
		return -1;
	}
	if (msg_encode(PROTO_CAPABILITIES, NULL, FRAME_MAX_LIMIT, &req,
	    &reqlen) == -1)
		return -1;
	limits(o, 6.0, &deadline, &budget);
	/* The duration is the TLS kind's; the others take a third each. */
	per_round = deadline / rounds;
	count = budget > 0 ? (budget + rounds - 1) / rounds : 0;
	for (i = 0; i < rounds; i++) {
		for (k = 0; k < CONN_KINDS; k++) {
			int kind = (i + k) % CONN_KINDS;

			connect_round(b, kind, kind == CONN_TLS ? per_round :
			    per_round / 3, count, req, reqlen, &t[kind],
			    &complaints);
		}
	}
	for (k = 0; k < CONN_KINDS; k++) {
		long long n = (long long)t[k].l.n;

		cpu_us = n > 0 && o->pid > 0 ? t[k].server_cpu * 1e6 /
		    (double)n : 0;
		self_us = n > 0 ? t[k].self_cpu * 1e6 / (double)n : 0;
		row_init(&r, "tls-connect", phase[k], 1);
		result_extra(&r, "rounds", "%d", rounds);
		result_extra(&r, "server_cpu_us_per_conn", "%.1f", cpu_us);
		result_extra(&r, "client_cpu_us_per_conn", "%.1f", self_us);
		if (o->pid > 0)
			snprintf(r.note, sizeof(r.note), "%s+CAPABILITIES+"
			    "close; server CPU %.0f us/conn, client %.0f us",
			    what[k], cpu_us, self_us);
		else
			snprintf(r.note, sizeof(r.note), "%s; no --pid: "
			    "server CPU not read", what[k]);
		row_emit(b, &r, &t[k].l, t[k].secs, s);
		if (s != NULL) {
			s->conn_rate[k] = r.ops_per_s;
			s->conn_cpu_us[k] = cpu_us;
		}
	}
	rc = 0;
	for (k = 0; k < CONN_KINDS; k++)
		lat_free(&t[k].l);
	free(req);
	return rc;
}

int
scenario_tls_stats(struct bench *b, struct summary *s)
{
	const struct bench_opts *o = bench_opts(b);
	int n = dflt(o->clients, 32), rounds = dflt(o->rounds, 5), i, k;
	/* [0..n) plaintext, [n..2n) TLS, on the same n accounts. */
	struct client *cs = clients_new(b, 2 * n, "st");
	double *rate[2] = { NULL, NULL }, *ratio = NULL, secs, med[2];
	double tsecs[2] = { 0, 0 }, mratio;
	struct lat l[2];
	struct result r;
	long long budget;
	double deadline;
	int rc = -1;

	lat_init(&l[0]);
	lat_init(&l[1]);
	if (!bench_has_tls(b)) {
		fprintf(stderr, "glomail-bench: tls-stats needs --tls-port\n");
		goto fail;
	}
	if (cs == NULL || (rate[0] = calloc((size_t)rounds, sizeof(double))) ==
	    NULL || (rate[1] = calloc((size_t)rounds, sizeof(double))) ==
	    NULL || (ratio = calloc((size_t)rounds, sizeof(double))) == NULL)
		goto fail;
	for (i = 0; i < n; i++)
		client_set_user(&cs[n + i], cs[i].user);
	clients_use_tls(cs + n, n);
	if (setup(b, cs, n) == -1 || setup(b, cs + n, n) == -1)
		goto fail;
	for (i = 0; i < 2 * n; i++) {
		cs[i].arg = &l[i >= n];
		if (client_cache_frame(&cs[i], PROTO_STATS_REQUEST, NULL) == -1)
			goto fail;
	}
	limits(o, 1.0, &deadline, &budget);
	/* The machine's speed drifts: alternate, and compare within rounds. */
	for (i = 0; i < rounds; i++) {
		for (k = 0; k < 2; k++) {
			int tl = (i + k) % 2;
			size_t before = l[tl].n;

			secs = phase_run(b, cs + tl * n, n, loop_step,
			    deadline, budget);
			tsecs[tl] += secs;
			rate[tl][i] = secs > 0 ?
			    (double)(l[tl].n - before) / secs : 0;
		}
		ratio[i] = rate[0][i] > 0 ? rate[1][i] / rate[0][i] : 0;
	}
	mratio = median_of(ratio, rounds);
	for (k = 0; k < 2; k++) {
		med[k] = median_of(rate[k], rounds);
		row_init(&r, "tls-stats", k ? "tls" : "plain", n);
		result_from_lat(&r, &l[k], tsecs[k]);
		/* The rate shown is the rounds' median, as the ratio is. */
		r.ops_per_s = med[k];
		r.errors += bench_take_errors(b);
		result_extra(&r, "rounds", "%d", rounds);
		result_extra(&r, "tls_vs_plain", "%.3f", mratio);
		if (k)
			snprintf(r.note, sizeof(r.note), "median of %d rounds; "
			    "TLS/plaintext %.3f (median of rounds)", rounds,
			    mratio);
		else
			snprintf(r.note, sizeof(r.note), "median of %d rounds, "
			    "alternating with TLS", rounds);
		if (s != NULL)
			s->errors += r.errors;
		result_print(o, &r);
	}
	if (s != NULL) {
		s->plain_stats_rate = med[0];
		s->tls_stats_rate = med[1];
		s->tls_stats_ratio = mratio;
		s->tls_stats_rounds = rounds;
		s->tls_stats_clients = n;
	}
	rc = 0;
fail:
	free(rate[0]);
	free(rate[1]);
	free(ratio);
	lat_free(&l[0]);
	lat_free(&l[1]);
	clients_free(cs, 2 * n);
	return rc;
}

/*
 * The storm: its own bench (event loop) on its own thread, so that the
 * generator's handshake work never delays the probes' replies in the
 * main loop; only the server (and the shared cores) can.
 */
struct storm {
	struct bench_opts o;
	struct bench *b;
	struct client *cs;
	int n, up;
	double secs;
	long long errors;
};

/* Set by the storm thread once every storm client is served (or failed). */
static atomic_int storm_over;

static void *
storm_main(void *arg)
{
	struct storm *st = arg;
	uint64_t t0 = now_ns();

	st->up = -1;
	if ((st->b = bench_new(&st->o)) != NULL &&
	    (st->cs = clients_new(st->b, st->n, "h")) != NULL) {
		clients_use_tls(st->cs, st->n);
		/* All of them at once: the window is the whole storm. */
		st->up = clients_connect_by(st->b, st->cs, st->n, st->n,
		    COUNT_PHASE_MAX_S);
		st->errors = bench_take_errors(st->b);
	}
	st->secs = (double)(now_ns() - t0) / 1e9;
	atomic_store(&storm_over, 1);
	return NULL;
}

/* A probe during the storm: paced stats until the storm is over (one at least). */
static int
storm_probe_step(struct client *c, struct msg *reply)
{
	if (reply != NULL)
		c->count++;
	if (atomic_load(&storm_over) && c->count > 0)
		return 0;
	return paced_step(c, reply);
}

int
scenario_tls_storm(struct bench *b, struct summary *s)
{
	const struct bench_opts *o = bench_opts(b);
	int p = dflt(o->probes, 4), i;
	struct client *probes = clients_new(b, p, "tq");
	struct storm st;
	struct lat quiet, busy;
	struct result r;
	pthread_t th;
	double deadline, secs, cpu0, cpu1, cpu_ms = 0, ratio;
	long long budget;
	int rc = -1;

	memset(&st, 0, sizeof(st));
	lat_init(&quiet);
	lat_init(&busy);
	if (!bench_has_tls(b)) {
		fprintf(stderr, "glomail-bench: tls-storm needs --tls-port\n");
		goto fail;
	}
	st.o = *o;
	st.n = dflt(o->storm, 1000);
	/* Already connected, over TLS, and logged in. */
	clients_use_tls(probes, p);
	if (setup(b, probes, p) == -1)
		goto fail;
	limits(o, 2.0, &deadline, &budget);
	for (i = 0; i < p; i++) {
		probes[i].arg = &quiet;
		if (client_cache_frame(&probes[i], PROTO_STATS_REQUEST, NULL) ==
		    -1)
			goto fail;
	}
	secs = phase_run(b, probes, p, paced_step, deadline, budget);
	row_init(&r, "tls-storm", "quiet", p);
	result_extra(&r, "interval_ms", "%.3f", o->interval_ms);
	snprintf(r.note, sizeof(r.note), "TLS stats every %.1f ms, no storm",
	    o->interval_ms);
	row_emit(b, &r, &quiet, secs, s);
	if (s != NULL)
		s->tls_quiet_p99_us = r.p99_us;

	for (i = 0; i < p; i++) {
		probes[i].arg = &busy;
		probes[i].count = 0;
	}
	atomic_store(&storm_over, 0);
	cpu0 = proc_cpu_s(o->pid);
	if (pthread_create(&th, NULL, storm_main, &st) != 0)
		goto fail;
	secs = phase_run(b, probes, p, storm_probe_step, COUNT_PHASE_MAX_S +
	    60, 0);
	pthread_join(th, NULL);
	cpu1 = proc_cpu_s(o->pid);
	if (cpu0 >= 0 && cpu1 >= 0)
		cpu_ms = (cpu1 - cpu0) * 1e3;
	row_init(&r, "tls-storm", "storm", p);
	result_from_lat(&r, &busy, secs);
	ratio = lat_pct_us(&quiet, 0.99) > 0 ?
	    r.p99_us / lat_pct_us(&quiet, 0.99) : 0;
	result_extra(&r, "storm_clients", "%d", st.n);
	result_extra(&r, "p99_vs_quiet", "%.2f", ratio);
	snprintf(r.note, sizeof(r.note), "TLS stats while %d clients "
	    "handshake at once: p99 x%.2f of quiet", st.n, ratio);
	row_emit(b, &r, &busy, secs, s);
	if (s != NULL)
		s->tls_storm_p99_us = r.p99_us;

	row_init(&r, "tls-storm", "handshakes", st.n);
	r.ops = st.up > 0 ? st.up : 0;
	r.errors = st.errors + (st.up >= 0 ? st.n - st.up : st.n);
	r.seconds = st.secs;
	r.ops_per_s = st.secs > 0 ? (double)r.ops / st.secs : 0;
	result_extra(&r, "server_cpu_ms", "%.1f", cpu_ms);
	snprintf(r.note, sizeof(r.note), "all at once, each handshake + one "
	    "request; %.2f s; server CPU %.0f ms", st.secs, cpu_ms);
	if (s != NULL) {
		s->errors += r.errors;
		s->tls_storm_s = st.secs;
		s->tls_storm_clients = st.n;
	}
	result_print(o, &r);
	rc = st.up >= 0 ? 0 : -1;
fail:
	clients_free(st.cs, st.n);
	bench_free(st.b);
	lat_free(&quiet);
	lat_free(&busy);
	clients_free(probes, p);
	return rc;
}
