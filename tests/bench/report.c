/*
 * report.c - latency samples, percentiles and the two output forms of a
 * result: a table row for people and one JSON line for comparing runs.
 * Also the /proc readers (server RSS and descriptors).
 */
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "bench.h"
#include "testfs.h"

uint64_t
now_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000000000u + (uint64_t)ts.tv_nsec;
}

void
lat_init(struct lat *l)
{
	memset(l, 0, sizeof(*l));
}

void
lat_free(struct lat *l)
{
	free(l->ns);
	memset(l, 0, sizeof(*l));
}

/* Keeps every sample: a run is bounded, and exact percentiles need them all. */
void
lat_add(struct lat *l, uint64_t ns)
{
	uint64_t *grown;
	size_t cap;

	if (l->n == l->cap) {
		cap = l->cap == 0 ? 4096 : l->cap * 2;
		if ((grown = realloc(l->ns, cap * sizeof(*grown))) == NULL) {
			/* Out of memory: the sum still counts, the sample is lost. */
			l->sum += ns;
			return;
		}
		l->ns = grown;
		l->cap = cap;
	}
	l->ns[l->n++] = ns;
	l->sum += ns;
}

static int
cmp_u64(const void *a, const void *b)
{
	uint64_t x = *(const uint64_t *)a, y = *(const uint64_t *)b;

	return x < y ? -1 : x > y;
}

double
lat_pct_us(struct lat *l, double q)
{
	size_t i;

	if (l->n == 0)
		return 0;
	/* Sorting is idempotent; sorted input makes repeated calls cheap. */
	qsort(l->ns, l->n, sizeof(*l->ns), cmp_u64);
	i = (size_t)(q * (double)(l->n - 1) + 0.5);
	if (i >= l->n)
		i = l->n - 1;
	return (double)l->ns[i] / 1000.0;
}

double
lat_mean_us(const struct lat *l)
{
	return l->n == 0 ? 0 : (double)l->sum / (double)l->n / 1000.0;
}

void
result_from_lat(struct result *r, struct lat *l, double seconds)
{
	r->ops = (long long)l->n;
	r->errors = l->errors;
	r->seconds = seconds;
	r->ops_per_s = seconds > 0 ? (double)l->n / seconds : 0;
	r->mean_us = lat_mean_us(l);
	r->p50_us = lat_pct_us(l, 0.50);
	r->p99_us = lat_pct_us(l, 0.99);
	r->p999_us = lat_pct_us(l, 0.999);
}

void
result_extra(struct result *r, const char *key, const char *fmt, ...)
{
	size_t used = strlen(r->extra), start = used;
	va_list ap;
	int n;

	if (used >= sizeof(r->extra))
		return;
	n = snprintf(r->extra + used, sizeof(r->extra) - used, ", \"%s\": ",
	    key);
	if (n < 0 || (size_t)n >= sizeof(r->extra) - used) {
		r->extra[start] = '\0';
		return;
	}
	used += (size_t)n;
	va_start(ap, fmt);
	n = vsnprintf(r->extra + used, sizeof(r->extra) - used, fmt, ap);
	va_end(ap);
	if (n < 0 || (size_t)n >= sizeof(r->extra) - used)
		r->extra[start] = '\0';
}

void
result_header(const struct bench_opts *o)
{
	if (o->json || o->quiet)
		return;
	printf("%-12s %-10s %7s %9s %6s %10s %9s %9s %9s %9s  %s\n",
	    "scenario", "phase", "clients", "ops", "errors", "ops/s",
	    "mean_us", "p50_us", "p99_us", "p99.9_us", "note");
	fflush(stdout);
}

void
result_print(const struct bench_opts *o, const struct result *r)
{
	if (o->quiet)
		return;
	if (o->json) {
		printf("{\"scenario\": \"%s\", \"phase\": \"%s\", "
		    "\"clients\": %d, \"ops\": %lld, \"errors\": %lld, "
		    "\"seconds\": %.6f, \"ops_per_s\": %.1f, "
		    "\"mean_us\": %.1f, \"p50_us\": %.1f, \"p99_us\": %.1f, "
		    "\"p999_us\": %.1f%s}\n",
		    r->scenario, r->phase, r->clients, r->ops, r->errors,
		    r->seconds, r->ops_per_s, r->mean_us, r->p50_us, r->p99_us,
		    r->p999_us, r->extra);
	} else {
		printf("%-12s %-10s %7d %9lld %6lld %10.1f %9.1f %9.1f %9.1f "
		    "%9.1f  %s\n", r->scenario, r->phase, r->clients, r->ops,
		    r->errors, r->ops_per_s, r->mean_us, r->p50_us, r->p99_us,
		    r->p999_us, r->note);
	}
	fflush(stdout);
}

long
proc_rss_kib(pid_t pid)
{
	char path[64], line[256];
	long kib = -1;
	FILE *f;

	if (pid <= 0)
		return -1;
	snprintf(path, sizeof(path), "/proc/%ld/status", (long)pid);
	if ((f = fopen(path, "r")) == NULL)
		return -1;
	while (fgets(line, sizeof(line), f) != NULL) {
		if (strncmp(line, "VmRSS:", 6) == 0) {
			kib = strtol(line + 6, NULL, 10);
			break;
		}
	}
	fclose(f);
	return kib;
}

long
proc_fd_count(pid_t pid)
{
	if (pid <= 0)
		return -1;
	return testfs_count("/proc/%ld/fd", (long)pid);
}

double
proc_cpu_s(pid_t pid)
{
	char path[64], buf[1024], *p;
	unsigned long long ut, st;
	long hz = sysconf(_SC_CLK_TCK);
	size_t n;
	FILE *f;

	if (pid <= 0 || hz <= 0)
		return -1;
	snprintf(path, sizeof(path), "/proc/%ld/stat", (long)pid);
	if ((f = fopen(path, "r")) == NULL)
		return -1;
	n = fread(buf, 1, sizeof(buf) - 1, f);
	fclose(f);
	buf[n] = '\0';
	/* The name in parentheses may hold spaces: fields count after it. */
	if ((p = strrchr(buf, ')')) == NULL ||
	    sscanf(p + 1, " %*c %*d %*d %*d %*d %*d %*u %*u %*u %*u %*u %llu "
	    "%llu", &ut, &st) != 2)
		return -1;
	return (double)(ut + st) / (double)hz;
}
