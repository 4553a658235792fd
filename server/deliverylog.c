/*
 * deliverylog.c - counts of deliveries and the periodic summary line.
 *
 * The summary is written by the delivery that closes an interval, not by a
 * timer: an idle server writes nothing, and no timer outlives a server.
 * It shows how well the sync groups batch: directory fsyncs per delivery
 * is 1 for one sender at a time and falls as senders share new/ fsyncs.
 */
#include <inttypes.h>
#include <string.h>

#include "deliverylog.h"
#include "log.h"
#include "syncgroup.h"

static struct {
	time_t since;            /* start of the interval (0: none yet) */
	unsigned long long n[3]; /* by outcome */
	unsigned long long bytes;
	struct syncgroup_stats sg;   /* at the start of the interval */
	unsigned long long total[3]; /* since start, by outcome */
} dl;

void
deliverylog_totals(unsigned long long totals[3])
{
	memcpy(totals, dl.total, sizeof(dl.total));
}

void
deliverylog_note(enum deliverylog_outcome outcome, size_t bytes, time_t now)
{
	struct syncgroup_stats sg;
	unsigned long long total, calls, fsyncs;

	if (dl.since == 0) {
		dl.since = now;
		syncgroup_stats(&dl.sg);
	}
	dl.n[outcome]++;
	dl.total[outcome]++;
	if (outcome != DELIVERYLOG_FAILED)
		dl.bytes += bytes;
	if (now - dl.since < DELIVERYLOG_INTERVAL)
		return;
	syncgroup_stats(&sg);
	total = dl.n[0] + dl.n[1] + dl.n[2];
	calls = sg.calls - dl.sg.calls;
	fsyncs = sg.fsyncs - dl.sg.fsyncs;
	log_info("deliveries: %llu in %lld s, delivered=%llu "
	         "undeliverable=%llu failed=%llu bytes=%llu new_fsyncs=%llu "
	         "per_sync=%.2f fsync_failures=%" PRIu64,
	    total, (long long)(now - dl.since), dl.n[0], dl.n[1], dl.n[2],
	    dl.bytes, fsyncs, fsyncs > 0 ? (double)calls / (double)fsyncs : 0.0,
	    sg.failures - dl.sg.failures);
	dl.since = now;
	dl.n[0] = dl.n[1] = dl.n[2] = 0;
	dl.bytes = 0;
	dl.sg = sg;
}
