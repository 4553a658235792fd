/*
 * deliverylog.h - the delivery summary: each delivery is logged at debug
 * level only (a log line is a write(2) on the reactor), and the counts go
 * into one summary line at info level at most once per interval.
 */
#ifndef GLOMAILD_DELIVERYLOG_H
#define GLOMAILD_DELIVERYLOG_H

#include <stddef.h>
#include <time.h>

/* Seconds between two summaries while mail flows. */
#define DELIVERYLOG_INTERVAL 60

enum deliverylog_outcome {
	DELIVERYLOG_DELIVERED,
	DELIVERYLOG_LOST, /* no such account: kept in LOST */
	DELIVERYLOG_FAILED,
};

/*
 * Count one delivery that ended at now. When DELIVERYLOG_INTERVAL seconds
 * have passed since the current interval began, the summary of that
 * interval (this delivery included) is logged at info and a new interval
 * begins. Reactor thread only.
 */
void deliverylog_note(enum deliverylog_outcome outcome, size_t bytes,
    time_t now);

/* Deliveries noted since the process started, by outcome (for status). */
void deliverylog_totals(unsigned long long totals[3]);

#endif
