/*
 * main.c - glomail-bench's command line: options, one scenario per
 * subcommand, and run-all, which runs every scenario against one server
 * and prints the performance targets as ratios measured in that same run.
 *
 * The tool starts no server: it measures the one it is pointed at, and
 * only on a loopback address.
 */
#include <sys/resource.h>

#include <getopt.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "bench.h"
#include "rules.h"

static void
usage(FILE *f)
{
	fprintf(f,
	    "usage: glomail-bench [options] SCENARIO\n"
	    "scenarios:\n"
	    "  rtt          one client, stats requests: the round trip\n"
	    "  send         N clients sending to each other (durable sends)\n"
	    "  send-one     N clients all sending to one mailbox\n"
	    "  read         stats, list and read on mailboxes of --mailbox\n"
	    "  login-storm  logins in a loop while probes time stats\n"
	    "  idle         hold N connections, server RSS before and after\n"
	    "  bigbox       a --bigbox mailbox: cold and warm list, read #1\n"
	    "  fsync-probe  the durable write sequence alone, 1 and N writers\n"
	    "  fanout       the store alone: one message to 1, then to --rcpts\n"
	    "  send-many    header 12 end to end: one message to 1, to --rcpts\n"
	    "  tls-idle     idle over TLS (needs --tls-port)\n"
	    "  tls-connect  one client, handshake + CAPABILITIES per connection\n"
	    "  tls-stats    stats over TLS against plaintext, alternating rounds\n"
	    "  tls-storm    stats of connected clients while --storm handshake\n"
	    "  run-all      all of the above and the targets' ratios\n"
	    "options:\n"
	    "  --host HOST        server address, loopback only (127.0.0.1)\n"
	    "  --port PORT        server port (9672)\n"
	    "  --clients N        clients (scenario default)\n"
	    "  --conns N          idle: connections to hold (10000)\n"
	    "  --duration S       seconds per measured phase\n"
	    "  --messages N       requests per measured phase instead\n"
	    "  --size BYTES       message content size (1024)\n"
	    "  --mailbox N        read, bigbox: the small mailbox (100)\n"
	    "  --bigbox N         bigbox: messages in the big mailbox (10000)\n"
	    "  --fill-only        bigbox: fill the mailbox, measure nothing\n"
	    "  --login N          idle: connections that log in (16)\n"
	    "  --probes N         login-storm: stats clients (4)\n"
	    "  --interval-ms MS   login-storm: pause between probe requests (1)\n"
	    "  --writers N        fsync-probe: parallel writers (8)\n"
	    "  --rcpts N          fanout, send-many: recipients of a message (10)\n"
	    "  --data-dir DIR     fsync-probe: a directory on the store's disk\n"
	    "  --pid PID          the server's pid, for its RSS\n"
	    "  --prefix NAME      user names start with NAME (bench)\n"
	    "  --password PW      accounts' password (Bench0Password)\n"
	    "  --tls-port PORT    the server's TLS listener (TLS scenarios)\n"
	    "  --cafile FILE      the authority of its certificate\n"
	    "  --servername NAME  the name its certificate must hold (localhost)\n"
	    "  --storm N          tls-storm: clients handshaking at once (1000)\n"
	    "  --rounds N         tls-stats (5), tls-connect (3): rounds\n"
	    "  --json             one JSON line per result\n");
}

/* Descriptors: idle holds thousands of connections. */
static void
raise_nofile(void)
{
	struct rlimit rl;

	if (getrlimit(RLIMIT_NOFILE, &rl) == 0 && rl.rlim_cur < rl.rlim_max) {
		rl.rlim_cur = rl.rlim_max;
		setrlimit(RLIMIT_NOFILE, &rl);
	}
}

typedef int (*scenario_fn)(struct bench *, struct summary *);

static int
run_one(const struct bench_opts *o, scenario_fn fn, struct summary *s)
{
	struct bench *b;
	int rc;

	if ((b = bench_new(o)) == NULL)
		return -1;
	rc = fn(b, s);
	bench_free(b);
	return rc;
}

static const char *
verdict(int known, int met)
{
	return !known ? "n/a" : met ? "met" : "NOT met";
}

/* The TLS targets (rows 7 to 10), when the TLS scenarios ran. */
static void
print_tls_targets(const struct summary *s)
{
	int known = s->tls_idle_held > 0;

	printf("| 7a | idle TLS connection | <= 20 KiB each | %.2f KiB each | "
	       "%ld held; a newcomer served in %.2f ms | %s |\n",
	    s->tls_idle_kib_per_conn, s->tls_idle_held,
	    s->tls_idle_new_client_ms,
	    verdict(known, s->tls_idle_kib_per_conn <= 20));
	printf("| 7b | %ld TLS connections held | <= 200 MiB | %.1f MiB | "
	       "server RSS with all of them open | %s |\n",
	    s->tls_idle_held, (double)s->tls_idle_rss_kib / 1024,
	    verdict(known && s->tls_idle_rss_kib > 0,
	        s->tls_idle_held >= 10000 &&
	            s->tls_idle_rss_kib <= 200 * 1024));
	printf(
	    "| 8a | sequential TLS connections (handshake + CAPABILITIES) | "
	    ">= 400/s | %.0f/s | plaintext %.0f/s; through wire_open %.0f/s | "
	    "%s |\n",
	    s->conn_rate[1], s->conn_rate[0], s->conn_rate[2],
	    verdict(s->conn_rate[1] > 0, s->conn_rate[1] >= 400));
	printf("| 8b | server CPU per TLS handshake + request | <= 1 ms | "
	       "%.0f us | plaintext %.0f us per connection | %s |\n",
	    s->conn_cpu_us[1], s->conn_cpu_us[0],
	    verdict(s->conn_cpu_us[1] > 0, s->conn_cpu_us[1] <= 1000));
	printf("| 9 | stats over TLS, %d clients | >= 0.50 of plaintext | "
	       "%.0f/s = %.3f | plaintext %.0f/s; median of %d rounds | %s |\n",
	    s->tls_stats_clients, s->tls_stats_rate, s->tls_stats_ratio,
	    s->plain_stats_rate, s->tls_stats_rounds,
	    verdict(s->tls_stats_rounds > 0, s->tls_stats_ratio >= 0.5));
	printf("| 10 | stats p99 while %d clients handshake | <= 20 ms | "
	       "%.2f ms | quiet %.2f ms; storm over in %.2f s | %s |\n",
	    s->tls_storm_clients, s->tls_storm_p99_us / 1000,
	    s->tls_quiet_p99_us / 1000, s->tls_storm_s,
	    verdict(s->tls_storm_clients > 0, s->tls_storm_p99_us <= 20000));
}

/* The targets of the performance issue, as ratios of this run's figures. */
static void
print_targets(const struct bench_opts *o, const struct summary *s)
{
	double limit1 = s->probe1_us + s->rtt_us > 0
	                    ? 1e6 / (s->probe1_us + s->rtt_us)
	                    : 0;
	double r1 = s->rounds > 0 ? s->ratio1
	            : limit1 > 0  ? s->send1_rate / limit1
	                          : 0;
	double r2 = s->rounds > 0        ? s->ratio2
	            : s->probe1_rate > 0 ? s->sendN_rate / s->probe1_rate
	                                 : 0;
	double r5 = s->quiet_p99_us > 0 ? s->storm_p99_us / s->quiet_p99_us : 0;
	double r6a = s->warm_list_ms > 0 ? s->cold_list_ms / s->warm_list_ms
	                                 : 0;
	double r6b = s->small_read_us > 0 ? s->big_read_us / s->small_read_us
	                                  : 0;
	double r7 = s->rounds > 0       ? s->ratio_one
	            : s->sendN_rate > 0 ? s->sendOne_rate / s->sendN_rate
	                                : 0;

	if (o->json) {
		printf(
		    "{\"scenario\": \"targets\", \"t_probe_us\": %.1f, "
		    "\"t_rtt_us\": %.1f, \"one_client_limit\": %.1f, "
		    "\"send1_per_s\": %.1f, \"send1_vs_limit\": %.3f, "
		    "\"sendN_clients\": %d, \"sendN_per_s\": %.1f, "
		    "\"probe1_per_s\": %.1f, \"probeN_writers\": %d, "
		    "\"probeN_per_s\": %.1f, \"sendN_vs_probe1\": %.3f, "
		    "\"stats_per_s\": %.1f, \"list_per_s\": %.1f, "
		    "\"read_per_s\": %.1f, \"idle_held\": %ld, "
		    "\"idle_kib_per_conn\": %.2f, \"idle_new_client_ms\": %.3f, "
		    "\"quiet_p99_us\": %.1f, \"storm_p99_us\": %.1f, "
		    "\"storm_vs_quiet\": %.3f, \"cold_list_ms\": %.3f, "
		    "\"warm_list_ms\": %.3f, \"cold_vs_warm\": %.2f, "
		    "\"read1_big_us\": %.1f, \"read1_small_us\": %.1f, "
		    "\"big_vs_small\": %.3f, \"sendOne_per_s\": %.1f, "
		    "\"one_vs_sendN\": %.3f, \"fanout_rcpts\": %d, "
		    "\"fanout1_us\": %.1f, \"fanoutN_us\": %.1f, "
		    "\"fanoutN_vs_1\": %.3f, \"errors\": %lld",
		    s->probe1_us, s->rtt_us, limit1, s->send1_rate, r1,
		    s->sendN_clients, s->sendN_rate, s->probe1_rate,
		    s->probeN_writers, s->probeN_rate, r2, s->stats_rate,
		    s->list_rate, s->read_rate, s->idle_held,
		    s->idle_kib_per_conn, s->idle_new_client_ms,
		    s->quiet_p99_us, s->storm_p99_us, r5, s->cold_list_ms,
		    s->warm_list_ms, r6a, s->big_read_us, s->small_read_us, r6b,
		    s->sendOne_rate, r7, s->fanout_rcpts, s->fanout1_us,
		    s->fanoutN_us, s->ratio_fanout, s->errors);
		printf(
		    ", \"tls_idle_held\": %ld, \"tls_idle_kib_per_conn\": "
		    "%.2f, \"tls_idle_rss_kib\": %ld, \"tls_idle_new_client_ms\": "
		    "%.3f, \"tls_conn_per_s\": %.1f, \"tls_conn_server_cpu_us\": "
		    "%.1f, \"plain_conn_per_s\": %.1f, "
		    "\"plain_conn_server_cpu_us\": %.1f, \"wire_conn_per_s\": "
		    "%.1f, \"wire_conn_server_cpu_us\": %.1f, \"tls_stats_per_s\": "
		    "%.1f, \"plain_stats_per_s\": %.1f, \"tls_vs_plain\": %.3f, "
		    "\"tls_quiet_p99_us\": %.1f, \"tls_storm_p99_us\": %.1f, "
		    "\"tls_storm_clients\": %d, \"tls_storm_s\": %.3f}\n",
		    s->tls_idle_held, s->tls_idle_kib_per_conn,
		    s->tls_idle_rss_kib, s->tls_idle_new_client_ms,
		    s->conn_rate[1], s->conn_cpu_us[1], s->conn_rate[0],
		    s->conn_cpu_us[0], s->conn_rate[2], s->conn_cpu_us[2],
		    s->tls_stats_rate, s->plain_stats_rate, s->tls_stats_ratio,
		    s->tls_quiet_p99_us, s->tls_storm_p99_us,
		    s->tls_storm_clients, s->tls_storm_s);
		return;
	}
	printf("\n| # | target | goal | measured | reference (same run) | "
	       "verdict |\n|---|---|---|---|---|---|\n");
	printf("| 1 | durable sends, 1 client, %zu B | >= 0.90 of "
	       "1/(t_probe+t_rtt) | %.0f/s = %.3f | t_probe %.1f us, t_rtt "
	       "%.1f us: limit %.0f/s | %s |\n",
	    o->size, s->send1_rate, r1, s->probe1_us, s->rtt_us, limit1,
	    verdict(limit1 > 0 && s->send1_rate > 0, r1 >= 0.9));
	printf("| 2 | durable sends, %d clients | >= 2x single-writer probe | "
	       "%.0f/s = %.2fx | probe 1 writer %.0f/s, %d writers %.0f/s | "
	       "%s |\n",
	    s->sendN_clients, s->sendN_rate, r2, s->probe1_rate,
	    s->probeN_writers, s->probeN_rate,
	    verdict(s->probe1_rate > 0 && s->sendN_rate > 0, r2 >= 2));
	printf("| 3 | stats, %d clients | >= 50000/s | %.0f/s | list %.0f/s, "
	       "read %.0f/s | %s |\n",
	    s->sendN_clients, s->stats_rate, s->list_rate, s->read_rate,
	    verdict(s->stats_rate > 0, s->stats_rate >= 50000));
	printf("| 4 | %ld connections held | <= 10 KiB each | %.2f KiB each | "
	       "a newcomer served in %.2f ms | %s |\n",
	    s->idle_held, s->idle_kib_per_conn, s->idle_new_client_ms,
	    verdict(s->idle_held > 0,
	        s->idle_kib_per_conn <= 10 && s->idle_held >= 10000));
	printf("| 5 | stats p99 in a login storm | <= 2x quiet | %.2fx | "
	       "quiet %.1f us, storm %.1f us | %s |\n",
	    r5, s->quiet_p99_us, s->storm_p99_us, verdict(r5 > 0, r5 <= 2));
	printf("| 6a | 10k mailbox: warm list vs cold | >= 5x faster | %.1fx | "
	       "cold %.2f ms, warm %.2f ms | %s |\n",
	    r6a, s->cold_list_ms, s->warm_list_ms, verdict(r6a > 0, r6a >= 5));
	printf("| 6b | read #1: 10k mailbox vs 100 | <= 2x | %.2fx | "
	       "%.1f us vs %.1f us | %s |\n",
	    r6b, s->big_read_us, s->small_read_us, verdict(r6b > 0, r6b <= 2));
	print_tls_targets(s);
	printf("| 11 | durable sends, %d clients to one mailbox | >= 0.8x %d "
	       "clients to %d mailboxes | %.0f/s = %.2fx | %d to %d: %.0f/s | "
	       "%s |\n",
	    s->sendN_clients, s->sendN_clients, s->sendN_clients,
	    s->sendOne_rate, r7, s->sendN_clients, s->sendN_clients,
	    s->sendN_rate,
	    verdict(s->sendOne_rate > 0 && s->sendN_rate > 0, r7 >= 0.8));
	printf("| 12 | one %zu B message to %d recipients (store) | <= 3x one "
	       "recipient | %.2fx | %.1f us vs %.1f us | %s |\n",
	    o->size, s->fanout_rcpts, s->ratio_fanout, s->fanoutN_us,
	    s->fanout1_us, verdict(s->ratio_fanout > 0, s->ratio_fanout <= 3));
	if (s->many_rcpts > 0)
		printf("| 12b | one %zu B message to %d recipients (header 12, "
		       "end to end) | <= 3x one recipient | %.2fx | %.1f us vs "
		       "%.1f us | %s |\n",
		    o->size, s->many_rcpts, s->ratio_many, s->manyN_us,
		    s->many1_us,
		    verdict(s->ratio_many > 0, s->ratio_many <= 3));
	if (s->rounds > 0)
		printf(
		    "\ntargets 1, 2 and 11: median of %d rounds, each the sends "
		    "between two single-writer probes, every phase on a settled "
		    "disk\n(its speed drifts); rates shown are the rounds' "
		    "medians\n",
		    s->rounds);
	printf("errors in the run: %lld\n", s->errors);
}

static int
cmp_double(const void *a, const void *b)
{
	double x = *(const double *)a, y = *(const double *)b;

	return (x > y) - (x < y);
}

double
bench_median(double *v, int n)
{
	qsort(v, (size_t)n, sizeof(*v), cmp_double);
	return n % 2 ? v[n / 2] : (v[n / 2 - 1] + v[n / 2]) / 2;
}

#define PAIRED_ROUNDS 5

/*
 * Let the disk finish what the last phase (or the probe's clean-up) left
 * dirty, so it is not billed to the next phase.
 */
static void
settle(void)
{
	sync();
	usleep(500 * 1000);
}

/*
 * Targets 1 and 2 compare sends with the disk's own limit, and that limit
 * drifts by a factor of two or more within minutes on a shared machine.
 * So each round brackets the sends between two single-writer probes, each
 * phase starting on a settled disk, and compares them with the mean of the
 * two probes; each target takes the median of the rounds' ratios.
 */
static int
paired_rounds(const struct bench_opts *o, int many, struct summary *s)
{
	double r1[PAIRED_ROUNDS], r2[PAIRED_ROUNDS], p1[PAIRED_ROUNDS];
	double pr[PAIRED_ROUNDS], s1[PAIRED_ROUNDS], sn[PAIRED_ROUNDS];
	double so[PAIRED_ROUNDS], r7[PAIRED_ROUNDS];
	struct bench_opts x = *o;
	struct summary before, after, r;
	double probe_us, probe_rate;
	int i, failed = 0;

	/* Once, for the table: the disk with 8 writers. */
	settle();
	memset(&r, 0, sizeof(r));
	failed |= probe_run(o, &r) != 0;
	s->probeN_rate = r.probeN_rate;
	s->probeN_writers = r.probeN_writers;
	if (x.duration <= 0 && x.messages <= 0)
		x.duration = 2.0;
	x.writers = 1;
	for (i = 0; i < PAIRED_ROUNDS; i++) {
		memset(&before, 0, sizeof(before));
		memset(&after, 0, sizeof(after));
		memset(&r, 0, sizeof(r));
		settle();
		failed |= probe_run(&x, &before) != 0;
		settle();
		x.clients = 1;
		failed |= run_one(&x, scenario_send, &r) != 0;
		settle();
		x.clients = many;
		failed |= run_one(&x, scenario_send, &r) != 0;
		settle();
		/* Same round, same disk: N senders into one mailbox. */
		failed |= run_one(&x, scenario_send_one, &r) != 0;
		settle();
		failed |= probe_run(&x, &after) != 0;
		probe_us = (before.probe1_us + after.probe1_us) / 2;
		probe_rate = (before.probe1_rate + after.probe1_rate) / 2;
		p1[i] = probe_us;
		pr[i] = probe_rate;
		s1[i] = r.send1_rate;
		sn[i] = r.sendN_rate;
		so[i] = r.sendOne_rate;
		r7[i] = r.sendN_rate > 0 ? r.sendOne_rate / r.sendN_rate : 0;
		r1[i] = r.send1_rate * (probe_us + s->rtt_us) / 1e6;
		r2[i] = probe_rate > 0 ? r.sendN_rate / probe_rate : 0;
		s->errors += r.errors + before.errors + after.errors;
	}
	s->rounds = PAIRED_ROUNDS;
	s->ratio1 = bench_median(r1, PAIRED_ROUNDS);
	s->ratio2 = bench_median(r2, PAIRED_ROUNDS);
	s->probe1_us = bench_median(p1, PAIRED_ROUNDS);
	s->probe1_rate = bench_median(pr, PAIRED_ROUNDS);
	s->send1_rate = bench_median(s1, PAIRED_ROUNDS);
	s->sendN_rate = bench_median(sn, PAIRED_ROUNDS);
	s->sendOne_rate = bench_median(so, PAIRED_ROUNDS);
	s->ratio_one = bench_median(r7, PAIRED_ROUNDS);
	return failed ? -1 : 0;
}

/* Every scenario against one server, then the targets. */
static int
run_all(const struct bench_opts *o, struct summary *s)
{
	struct bench_opts x;
	int failed = 0, many = o->clients > 0 ? o->clients : 32;

	result_header(o);
	failed |= run_one(o, scenario_rtt, s) != 0;
	x = *o;
	/* First, while the server's heap holds nothing freed by earlier
	 * phases that new connections could reuse unseen. */
	x.clients = 0;
	failed |= run_one(&x, scenario_idle, s) != 0;
	/* Next, while only the plaintext connections' memory is free. */
	if (o->tls_port != NULL)
		failed |= run_one(&x, scenario_tls_idle, s) != 0;
	if (o->data_dir != NULL) {
		failed |= paired_rounds(o, many, s) != 0;
	} else {
		fprintf(stderr, "glomail-bench: no --data-dir: no fsync-probe, "
		                "targets 1 and 2 have no reference\n");
		x.clients = 1;
		failed |= run_one(&x, scenario_send, s) != 0;
		x.clients = many;
		failed |= run_one(&x, scenario_send, s) != 0;
		failed |= run_one(&x, scenario_send_one, s) != 0;
	}
	x.clients = many;
	failed |= run_one(&x, scenario_read, s) != 0;
	if (o->tls_port != NULL) {
		failed |= run_one(&x, scenario_tls_stats, s) != 0;
		x.clients = 0;
		failed |= run_one(&x, scenario_tls_connect, s) != 0;
		failed |= run_one(&x, scenario_tls_storm, s) != 0;
	} else {
		fprintf(stderr, "glomail-bench: no --tls-port: no TLS "
		                "scenarios\n");
	}
	x.clients = 0;
	failed |= run_one(&x, scenario_login_storm, s) != 0;
	failed |= run_one(&x, scenario_bigbox, s) != 0;
	if (o->data_dir != NULL)
		failed |= fanout_run(o, s) != 0;
	failed |= run_one(&x, scenario_send_many, s) != 0;
	s->sendN_clients = many;
	print_targets(o, s);
	return failed ? -1 : 0;
}

int
main(int argc, char **argv)
{
	static const struct option longopts[] = {
		{ "host", required_argument, NULL, 'H' },
		{ "port", required_argument, NULL, 'p' },
		{ "clients", required_argument, NULL, 'c' },
		{ "conns", required_argument, NULL, 'C' },
		{ "duration", required_argument, NULL, 'd' },
		{ "messages", required_argument, NULL, 'm' },
		{ "size", required_argument, NULL, 's' },
		{ "mailbox", required_argument, NULL, 'M' },
		{ "bigbox", required_argument, NULL, 'B' },
		{ "fill-only", no_argument, NULL, 'F' },
		{ "login", required_argument, NULL, 'l' },
		{ "probes", required_argument, NULL, 'P' },
		{ "interval-ms", required_argument, NULL, 'i' },
		{ "writers", required_argument, NULL, 'w' },
		{ "rcpts", required_argument, NULL, 'r' },
		{ "data-dir", required_argument, NULL, 'D' },
		{ "pid", required_argument, NULL, 'k' },
		{ "prefix", required_argument, NULL, 'x' },
		{ "password", required_argument, NULL, 'W' },
		{ "json", no_argument, NULL, 'j' },
		{ "tls-port", required_argument, NULL, 'T' },
		{ "cafile", required_argument, NULL, 'A' },
		{ "servername", required_argument, NULL, 'N' },
		{ "storm", required_argument, NULL, 'S' },
		{ "rounds", required_argument, NULL, 'R' },
		{ "help", no_argument, NULL, 'h' },
		{ NULL, 0, NULL, 0 },
	};
	char lower[RULES_USERNAME_MAX + 1];
	struct bench_opts o;
	struct summary s;
	const char *name, *why;
	int ch, rc;

	memset(&o, 0, sizeof(o));
	memset(&s, 0, sizeof(s));
	o.host = "127.0.0.1";
	o.port = PROTO_DEFAULT_PORT_STR;
	o.prefix = "bench";
	o.password = "Bench0Password";
	o.size = 1024;
	o.interval_ms = 1.0;
	while ((ch = getopt_long(argc, argv, "h", longopts, NULL)) != -1) {
		switch (ch) {
		case 'H':
			o.host = optarg;
			break;
		case 'p':
			o.port = optarg;
			break;
		case 'c':
			o.clients = atoi(optarg);
			break;
		case 'C':
			o.conns = atoi(optarg);
			break;
		case 'd':
			o.duration = atof(optarg);
			break;
		case 'm':
			o.messages = atoll(optarg);
			break;
		case 's':
			o.size = (size_t)strtoul(optarg, NULL, 10);
			break;
		case 'M':
			o.mailbox = atoi(optarg);
			break;
		case 'B':
			o.bigbox = atoi(optarg);
			break;
		case 'F':
			o.fill_only = 1;
			break;
		case 'l':
			o.login = atoi(optarg);
			break;
		case 'P':
			o.probes = atoi(optarg);
			break;
		case 'i':
			o.interval_ms = atof(optarg);
			break;
		case 'w':
			o.writers = atoi(optarg);
			break;
		case 'r':
			o.rcpts = atoi(optarg);
			break;
		case 'D':
			o.data_dir = optarg;
			break;
		case 'k':
			o.pid = (pid_t)atol(optarg);
			break;
		case 'x':
			o.prefix = optarg;
			break;
		case 'W':
			o.password = optarg;
			break;
		case 'j':
			o.json = 1;
			break;
		case 'T':
			o.tls_port = optarg;
			break;
		case 'A':
			o.cafile = optarg;
			break;
		case 'N':
			o.servername = optarg;
			break;
		case 'S':
			o.storm = atoi(optarg);
			break;
		case 'R':
			o.rounds = atoi(optarg);
			break;
		case 'h':
			usage(stdout);
			return 0;
		default:
			usage(stderr);
			return 2;
		}
	}
	if (optind != argc - 1) {
		usage(stderr);
		return 2;
	}
	if (o.duration < 0 || o.messages < 0 || o.clients < 0 || o.conns < 0 ||
	    o.interval_ms < 0 || o.storm < 0 || o.rounds < 0 ||
	    o.rounds > 1000 || o.size > 64u * 1024 * 1024 ||
	    strlen(o.prefix) > 40) {
		fprintf(stderr, "glomail-bench: an option is out of range\n");
		return 2;
	}
	if (rules_username(o.prefix, lower, &why) != 0 ||
	    rules_password(o.password, &why) != 0) {
		fprintf(stderr, "glomail-bench: --prefix or --password: %s\n",
		    why);
		return 2;
	}
	raise_nofile();
	/* A server that closes on us must be an error count, not a signal. */
	signal(SIGPIPE, SIG_IGN);
	name = argv[optind];
	if (strcmp(name, "run-all") == 0) {
		rc = run_all(&o, &s);
	} else if (strcmp(name, "fsync-probe") == 0) {
		result_header(&o);
		rc = probe_run(&o, &s);
	} else if (strcmp(name, "fanout") == 0) {
		result_header(&o);
		rc = fanout_run(&o, &s);
		if (rc == 0 && !o.json)
			printf("\none message to %d recipients: %.2fx one "
			       "recipient (median of rounds)\n",
			    s.fanout_rcpts, s.ratio_fanout);
	} else {
		scenario_fn fn = strcmp(name, "rtt") == 0    ? scenario_rtt
		                 : strcmp(name, "send") == 0 ? scenario_send
		                 : strcmp(name, "send-one") == 0
		                     ? scenario_send_one
		                 : strcmp(name, "send-many") == 0
		                     ? scenario_send_many
		                 : strcmp(name, "read") == 0 ? scenario_read
		                 : strcmp(name, "login-storm") == 0
		                     ? scenario_login_storm
		                 : strcmp(name, "idle") == 0   ? scenario_idle
		                 : strcmp(name, "bigbox") == 0 ? scenario_bigbox
		                 : strcmp(name, "tls-idle") == 0
		                     ? scenario_tls_idle
		                 : strcmp(name, "tls-connect") == 0
		                     ? scenario_tls_connect
		                 : strcmp(name, "tls-stats") == 0
		                     ? scenario_tls_stats
		                 : strcmp(name, "tls-storm") == 0
		                     ? scenario_tls_storm
		                     : NULL;

		if (fn == NULL) {
			fprintf(stderr, "glomail-bench: unknown scenario %s\n",
			    name);
			usage(stderr);
			return 2;
		}
		result_header(&o);
		rc = run_one(&o, fn, &s);
		if (rc == 0 && !o.json && fn == scenario_send_many)
			printf("\none message to %d recipients (header 12): "
			       "%.2fx one recipient (median of rounds; %.1f us "
			       "vs %.1f us)\n",
			    s.many_rcpts, s.ratio_many, s.manyN_us, s.many1_us);
	}
	if (rc != 0)
		return 1;
	return s.errors != 0 ? 1 : 0;
}
