/*
 * listing.h - the mailbox extension seen from the client: the entries of
 * a MAILBOX_LIST or MAILBOX_SEARCH reply, their one-line form with the
 * unread mark, a message named by number or by id, and dates shown in
 * the reader's time zone.
 */
#ifndef GLOMAIL_LISTING_H
#define GLOMAIL_LISTING_H

#include <stddef.h>
#include <stdio.h>

#include <jansson.h>

struct msg;
struct session;

/* One entry of a list reply; strings borrowed from the reply. */
struct listing_entry {
	long long number; /* the seed list's numbering */
	const char *id, *from, *to, *cc, *subject, *date;
	long long size;
	int seen, flagged;
};

/* Room for a date shown (RFC 5322 style). */
#define LISTING_DATE_LEN 64

/*
 * total, offset and messages of a MAILBOX_LIST/SEARCH reply. Returns 0, or
 * -1 with a short reason when the reply lacks them.
 */
int listing_page(const struct msg *reply, long long *total_r,
    long long *offset_r, json_t **messages_r, const char **why_r);

/* Unpack one entry of messages. Returns 0, or -1 when it is malformed. */
int listing_entry(json_t *item, struct listing_entry *e);

/*
 * The email of a MAILBOX_READ reply (its cc, id and flags beside it):
 * borrowed strings; sender and date may be NULL. Returns 0 or -1.
 */
struct msg_email;
int listing_email(const struct msg *reply, struct msg_email *e);

/*
 * The entry as one line on out: "*! #N sender - subject date", '*' for
 * unread and '!' for flagged (blanks otherwise), made safe for a
 * terminal, the date as listing_date shows it.
 */
void listing_print(FILE *out, const struct listing_entry *e);

/*
 * Dates are shown in the local time zone ("Tue, 12 Jul 2022 15:21:57
 * -0400"), or, after listing_seed_dates(1), as the server sent them.
 * A date that does not parse is shown as sent.
 */
void listing_seed_dates(int on);
void listing_date(const char *date, char out[LISTING_DATE_LEN]);

/* 1 when word is a message number (digits only), with *n_r set. */
int listing_number(const char *word, long long *n_r);

/*
 * The id of message n of the whole list (one MAILBOX_LIST of one entry).
 * Returns PROTO_OK with a new string in *id_r, PROTO_ERROR with *err_r
 * the ERROR reply, 0 when the list has no message n, or -1 (lost).
 */
int listing_id(struct session *s, long long n, char **id_r, struct msg **err_r);

#endif
