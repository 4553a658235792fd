/*
 * listing.c - list entries, message numbers and ids, local dates.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>

#include "listing.h"
#include "msg.h"
#include "proto.h"
#include "session.h"
#include "term.h"

static int seed_dates;

void
listing_seed_dates(int on)
{
	seed_dates = on;
}

int
listing_page(const struct msg *reply, long long *total_r, long long *offset_r,
    json_t **messages_r, const char **why_r)
{
	json_t *p = msg_payload(reply);
	json_int_t total, offset;

	if (p == NULL ||
	    json_unpack(p, "{s:I, s:I, s:o}", "total", &total, "offset",
	        &offset, "messages", messages_r) != 0 ||
	    !json_is_array(*messages_r)) {
		*why_r = "total, offset or messages missing";
		return -1;
	}
	*total_r = total;
	*offset_r = offset;
	return 0;
}

int
listing_entry(json_t *item, struct listing_entry *e)
{
	json_int_t number, size;

	memset(e, 0, sizeof(*e));
	if (json_unpack(item,
	        "{s:I, s:s, s:s, s:s, s:s, s:s, s:s, s:I, s:b, s:b}", "number",
	        &number, "id", &e->id, "from", &e->from, "to", &e->to, "cc",
	        &e->cc, "subject", &e->subject, "date", &e->date, "size", &size,
	        "seen", &e->seen, "flagged", &e->flagged) != 0)
		return -1;
	e->number = number;
	e->size = size;
	return 0;
}

int
listing_email(const struct msg *reply, struct msg_email *e)
{
	json_t *p = msg_payload(reply);

	memset(e, 0, sizeof(*e));
	return p == NULL || json_unpack(p, "{s?s, s:s, s:s, s?s, s:s}",
	                        "sender", &e->sender, "destination",
	                        &e->destination, "subject", &e->subject, "date",
	                        &e->date, "content", &e->content) != 0
	           ? -1
	           : 0;
}

void
listing_print(FILE *out, const struct listing_entry *e)
{
	char date[LISTING_DATE_LEN];

	listing_date(e->date, date);
	fprintf(out, "%c%c #%lld ", e->seen ? ' ' : '*', e->flagged ? '!' : ' ',
	    e->number);
	term_show(out, e->from);
	fputs(" - ", out);
	term_show(out, e->subject);
	fputc(' ', out);
	term_show(out, date);
	fputc('\n', out);
}

static const char *const months[] = { "Jan", "Feb", "Mar", "Apr", "May", "Jun",
	"Jul", "Aug", "Sep", "Oct", "Nov", "Dec" };
static const char *const days[] = { "Sun", "Mon", "Tue", "Wed", "Thu", "Fri",
	"Sat" };

/*
 * "[Day, ]DD Mon YYYY HH:MM[:SS] +HHMM" (RFC 5322 section 3.3) as seconds
 * since 1970; -1 when it is not that.
 */
static long long
parse_date(const char *s)
{
	char mon[4], sign;
	int d, y, h, mi, sec = 0, zone, n = 0, i;
	const char *comma = strchr(s, ',');
	struct tm tm;
	long long t;

	if (comma != NULL)
		s = comma + 1;
	if (sscanf(s, " %2d %3s %4d %2d:%2d%n", &d, mon, &y, &h, &mi, &n) != 5)
		return -1;
	s += n;
	if (*s == ':') {
		if (sscanf(s, ":%2d%n", &sec, &n) != 1)
			return -1;
		s += n;
	}
	if (sscanf(s, " %c%4d", &sign, &zone) != 2 ||
	    (sign != '+' && sign != '-') || zone % 100 > 59)
		return -1;
	for (i = 0; i < 12 && strcasecmp(mon, months[i]) != 0; i++)
		;
	if (i == 12 || d < 1 || d > 31 || h > 23 || mi > 59 || sec > 60 ||
	    y < 1900)
		return -1;
	memset(&tm, 0, sizeof(tm));
	tm.tm_year = y - 1900;
	tm.tm_mon = i;
	tm.tm_mday = d;
	tm.tm_hour = h;
	tm.tm_min = mi;
	tm.tm_sec = sec;
	if ((t = (long long)timegm(&tm)) == -1)
		return -1;
	zone = (zone / 100) * 3600 + (zone % 100) * 60;
	return sign == '+' ? t - zone : t + zone;
}

void
listing_date(const char *date, char out[LISTING_DATE_LEN])
{
	long long t;
	time_t tt;
	struct tm tm;
	long off;

	/* The names are RFC 5322's whatever the language: one format for
	 * people and scripts alike. */
	if (seed_dates || (t = parse_date(date)) == -1 ||
	    (tt = (time_t)t, localtime_r(&tt, &tm)) == NULL) {
		snprintf(out, LISTING_DATE_LEN, "%s", date);
		return;
	}
	off = tm.tm_gmtoff / 60;
	snprintf(out, LISTING_DATE_LEN,
	    "%s, %02d %s %04d %02d:%02d:%02d %c%02ld%02ld", days[tm.tm_wday],
	    tm.tm_mday, months[tm.tm_mon], tm.tm_year + 1900, tm.tm_hour,
	    tm.tm_min, tm.tm_sec, off < 0 ? '-' : '+',
	    (off < 0 ? -off : off) / 60, (off < 0 ? -off : off) % 60);
}

int
listing_number(const char *word, long long *n_r)
{
	char *end;
	long long v;

	if (*word < '0' || *word > '9' || strlen(word) > 12)
		return 0;
	v = strtoll(word, &end, 10);
	if (*end != '\0')
		return 0;
	*n_r = v;
	return 1;
}

int
listing_id(struct session *s, long long n, char **id_r, struct msg **err_r)
{
	struct msg *reply = NULL;
	struct listing_entry e;
	long long total, offset;
	json_t *messages;
	const char *why;
	int h;

	*id_r = NULL;
	*err_r = NULL;
	if (n < 1 || n > 1000000000LL)
		return 0;
	h = session_request(s, PROTO_MAILBOX_LIST,
	    json_pack("{s:I, s:I}", "offset", (json_int_t)(n - 1), "limit",
	        (json_int_t)1),
	    &reply);
	if (h == PROTO_ERROR) {
		*err_r = reply;
		return h;
	}
	if (h != PROTO_OK)
		return -1;
	h = 0;
	if (listing_page(reply, &total, &offset, &messages, &why) == 0 &&
	    json_array_size(messages) == 1 &&
	    listing_entry(json_array_get(messages, 0), &e) == 0 &&
	    e.number == n) {
		if ((*id_r = strdup(e.id)) == NULL) {
			perror("glomail");
			h = -1;
		} else
			h = PROTO_OK;
	}
	msg_free(reply);
	return h;
}
