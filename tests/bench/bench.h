/*
 * bench.h - glomail-bench's internal interfaces: options, the latency
 * recorder, the client engine (many connections on one libevent loop), the
 * scenarios, the fsync probe and the report.
 *
 * Nothing here is part of glomail's API: the header only ties the
 * load generator's own files together.
 */
#ifndef GLOMAIL_BENCH_H
#define GLOMAIL_BENCH_H

#include <sys/socket.h>
#include <sys/types.h>

#include <stddef.h>
#include <stdint.h>

#include "msg.h"

struct event_base;
struct bufferevent;
struct event;

/* Command-line options; a value of 0 or NULL means "the scenario's default". */
struct bench_opts {
	const char *host;
	const char *port;
	const char
	    *prefix; /* user names start with this, so runs don't collide */
	const char *password;
	const char
	    *data_dir; /* fsync-probe: a directory on the store's filesystem */
	int clients;
	int conns;       /* idle: connections to hold */
	double duration; /* seconds */
	long long
	    messages; /* total requests (or messages) of the measured phase */
	size_t size;  /* content bytes of each sent message */
	int json;
	pid_t pid;          /* the server's pid, for its RSS */
	int mailbox;        /* read: messages in each mailbox */
	int bigbox;         /* bigbox: messages in the big mailbox */
	int login;          /* idle: connections to log in */
	int probes;         /* login-storm: clients measuring stats */
	int writers;        /* fsync-probe: parallel writers */
	int rcpts;          /* fanout: recipients of one message */
	double interval_ms; /* login-storm: pause between a probe's requests */
	int fill_only;      /* bigbox: fill the mailbox and stop */
	int quiet;          /* no table rows (run-all prints its own summary) */
	const char
	    *tls_port;      /* the server's TLS listener (NULL: no TLS rows) */
	const char *cafile; /* the authority that signed its certificate */
	const char *servername; /* the name checked in it (localhost) */
	int storm;              /* tls-storm: clients handshaking at once */
	int rounds; /* tls-stats: interleaved plaintext/TLS rounds */
};

/* Latencies of one kind of request, and how many failed. */
struct lat {
	uint64_t *ns;
	size_t n, cap;
	long long errors;
	uint64_t sum;
};

void lat_init(struct lat *l);
void lat_free(struct lat *l);
void lat_add(struct lat *l, uint64_t ns);
/* Percentile q (0..1) in microseconds; sorts the samples once. */
double lat_pct_us(struct lat *l, double q);
double lat_mean_us(const struct lat *l);

/* One measured result, printed as a table row and a JSON line. */
struct result {
	const char *scenario;
	const char *phase;
	int clients;
	long long ops;
	long long errors;
	double seconds;
	double ops_per_s;
	double mean_us, p50_us, p99_us, p999_us;
	char extra[512]; /* JSON members (", \"k\": v" ...) beyond the common
	                    ones */
	char note[256];  /* what the table row adds in words */
};

/* Fill the latency columns of r from l, and ops/errors/rate over seconds. */
void result_from_lat(struct result *r, struct lat *l, double seconds);
void result_print(const struct bench_opts *o, const struct result *r);
void result_header(const struct bench_opts *o);
/* Append a JSON member to r->extra ("key", printf-style value). */
void result_extra(struct result *r, const char *key, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

uint64_t now_ns(void);
/* The median of v[0..n) (sorts v). */
double bench_median(double *v, int n);
/* Resident set size of a process in KiB (from /proc/PID/status), or -1. */
long proc_rss_kib(pid_t pid);
/* CPU time (user + system, all threads) a process used, in seconds, or -1. */
double proc_cpu_s(pid_t pid);
/* Descriptors a process holds (entries of /proc/PID/fd), or -1. */
long proc_fd_count(pid_t pid);

/*
 * The client engine. A bench owns the event loop and the server address;
 * a client is one connection with its own small state machine. Work runs
 * in phases: every client of a phase is stepped until it says it is done,
 * then the loop returns to the scenario.
 */
struct bench;
struct client;

/*
 * A phase step. Called with reply NULL to start (and after a pause), then
 * once per reply. Returns 1 when the client is waiting (a request sent or a
 * pause armed), 0 when it is done with the phase.
 */
typedef int (*step_fn)(struct client *c, struct msg *reply);

struct client {
	struct bench *b;
	struct bufferevent *bev;
	struct event *timer;
	int id;
	char user[80];   /* account name */
	char addr[128];  /* user@domain */
	int peer;        /* scenario-defined (e.g. destination index) */
	int state;       /* scenario-defined step state */
	long long count; /* scenario-defined counter */
	unsigned seed;   /* scenario-defined random state */
	int connected, busy, dead, in_phase, failed;
	step_fn step;
	uint64_t t_sent;
	int expect;       /* reply header counted as success (0: any) */
	int need_payload; /* the step reads the reply's payload: parse it all */
	struct lat *lat; /* where this request's latency goes (NULL: nowhere) */
	unsigned char *frame; /* a cached request, sent again and again */
	size_t frame_len;
	void *arg;
	int tls; /* connect to the TLS listener, over TLS */
};

struct bench *bench_new(const struct bench_opts *o);
void bench_free(struct bench *b);
const struct bench_opts *bench_opts(const struct bench *b);
struct event_base *bench_base(struct bench *b);

/* n clients with user names prefix+tag+index, not yet connected. */
struct client *clients_new(struct bench *b, int n, const char *tag);
/* All clients share one account name prefix+tag. */
struct client *clients_new_shared(struct bench *b, int n, const char *tag);
void clients_free(struct client *cs, int n);
/* Connect these clients to the TLS listener (before clients_connect). */
void clients_use_tls(struct client *cs, int n);
/* 1 when the bench was given a TLS listener and could set TLS up. */
int bench_has_tls(const struct bench *b);
/* The clients' TLS context (an SSL_CTX), NULL without TLS. */
struct ssl_ctx_st;
struct ssl_ctx_st *bench_tls_ctx(struct bench *b);
/* Rename a client's account (NULL: keep the name). */
void client_set_user(struct client *c, const char *name);

/*
 * Connect every client, at most `window` connects in flight, and check each
 * connection is served (an anonymous stats request answered). Returns the
 * number of clients up.
 */
int clients_connect(struct bench *b, struct client *cs, int n, int window);
/* The same, giving up on connections not served deadline_s from now. */
int clients_connect_by(struct bench *b, struct client *cs, int n, int window,
    double deadline_s);

/* Register each client's account, or log in when it exists. Returns failures.
 */
int clients_auth(struct bench *b, struct client *cs, int n);

/*
 * Run a phase: step every client in cs[0..n) until all are done, the
 * time limit passes (deadline_s > 0, from now), or nothing answers for a
 * long while. Budget (> 0) bounds the requests that phase_more() grants.
 * Returns the phase's elapsed seconds, from start to the last client done.
 */
double phase_run(struct bench *b, struct client *cs, int n, step_fn step,
    double deadline_s, long long budget);
/* The same, with at most window clients working at once. */
double phase_run_window(struct bench *b, struct client *cs, int n, step_fn step,
    double deadline_s, long long budget, int window);
/* Failures not charged to any latency recorder since the last call. */
long long bench_take_errors(struct bench *b);
/* 1 when the client may start another measured request in this phase. */
int phase_more(struct client *c);

/* Send a request (payload stolen) or the cached frame; expect OK. */
int client_request(struct client *c, int header, json_t *payload,
    struct lat *lat);
int client_send_frame(struct client *c, struct lat *lat);
/* Send a message that has no reply (AUTH_LOGOUT). */
int client_send_noreply(struct client *c, int header);
/* Step the client again (reply NULL) after usec microseconds. */
int client_pause(struct client *c, long usec);
/* Build and cache an EMAIL_SENDING frame to dest with size bytes of content. */
int client_cache_email(struct client *c, const char *dest, size_t size);
/* Build and cache a request frame (payload stolen). */
int client_cache_frame(struct client *c, int header, json_t *payload);

/* Scenarios: each prints its rows and returns 0, or -1 on a failed setup. */
struct summary;
int scenario_rtt(struct bench *b, struct summary *s);
int scenario_send(struct bench *b, struct summary *s);
int scenario_send_one(struct bench *b, struct summary *s);
int scenario_read(struct bench *b, struct summary *s);
int scenario_login_storm(struct bench *b, struct summary *s);
int scenario_idle(struct bench *b, struct summary *s);
int scenario_bigbox(struct bench *b, struct summary *s);
int scenario_tls_idle(struct bench *b, struct summary *s);
int scenario_tls_connect(struct bench *b, struct summary *s);
int scenario_tls_stats(struct bench *b, struct summary *s);
int scenario_tls_storm(struct bench *b, struct summary *s);
int probe_run(const struct bench_opts *o, struct summary *s);
int fanout_run(const struct bench_opts *o, struct summary *s);
int scenario_send_many(struct bench *b, struct summary *s);

/* Figures run-all keeps to compute the targets' ratios (0 when not run). */
struct summary {
	double rtt_us;
	double probe1_us, probe1_rate, probeN_rate;
	int probeN_writers;
	double send1_rate, sendN_rate;
	int sendN_clients;
	double sendOne_rate;           /* N clients, all to one mailbox */
	double fanout1_us, fanoutN_us; /* store: one message to 1, to N */
	int fanout_rcpts;
	double many1_us, manyN_us; /* send-many: header 12 to 1, to N */
	int many_rcpts;
	double ratio_many; /* manyN / many1, median of its rounds */
	double stats_rate, list_rate, read_rate;
	double quiet_p99_us, storm_p99_us;
	double idle_kib_per_conn, idle_new_client_ms;
	long idle_held;
	double cold_list_ms, warm_list_ms, big_read_us, small_read_us;
	long long errors;
	/* Targets 1 and 2 from paired rounds (probe, then sends, repeated):
	 * the median of each round's ratio. 0 rounds: from the single run. */
	int rounds;
	double ratio1, ratio2;
	double ratio_one;    /* sendOne / sendN, median of the rounds */
	double ratio_fanout; /* fanoutN / fanout1, median of its rounds */
	/* TLS (0 when not run). */
	long tls_idle_held, tls_idle_rss_kib;
	double tls_idle_kib_per_conn, tls_idle_new_client_ms;
	/* tls-connect: [0] plaintext, [1] TLS, [2] TLS through wire_open */
	double conn_rate[3], conn_cpu_us[3];
	double tls_stats_rate, plain_stats_rate, tls_stats_ratio;
	int tls_stats_rounds, tls_stats_clients;
	double tls_quiet_p99_us, tls_storm_p99_us, tls_storm_s;
	int tls_storm_clients;
};

#endif
