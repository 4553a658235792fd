/*
 * compose.c - the recipient and subject checks and the send request that
 * the menus and the send command share.
 */
#include <stdio.h>
#include <string.h>
#include <time.h>

#include "compose.h"
#include "i18n.h"
#include "msg.h"
#include "proto.h"
#include "rules.h"
#include "session.h"

int
compose_recipient(const struct session *s, const char *typed,
    char addr_r[COMPOSE_ADDR_MAX + 1], char *why, size_t whylen)
{
	const char *domain = session_domain(s), *reason;
	char user[RULES_USERNAME_MAX + 1];
	size_t len;
	int n;

	while (*typed == ' ' || *typed == '\t')
		typed++;
	len = strlen(typed);
	while (len > 0 && (typed[len - 1] == ' ' || typed[len - 1] == '\t'))
		len--;
	if (len == 0) {
		snprintf(why, whylen, "%s", _("no recipient given"));
		return -1;
	}
	/* A bare name is a local account, as on any mail system. */
	if (memchr(typed, '@', len) == NULL)
		n = snprintf(addr_r, COMPOSE_ADDR_MAX + 1, "%.*s@%s", (int)len,
		    typed, domain);
	else
		n = snprintf(addr_r, COMPOSE_ADDR_MAX + 1, "%.*s", (int)len,
		    typed);
	if (n < 0 || (size_t)n > COMPOSE_ADDR_MAX) {
		snprintf(why, whylen, "%s",
		    i18n_server_text("invalid address"));
		return -1;
	}
	switch (rules_address(addr_r, domain, user, &reason)) {
	case RULES_ADDR_LOCAL:
		return 0;
	case RULES_ADDR_EXTERNAL:
		snprintf(why, whylen,
		    _("the address is outside the local domain (%s)"), domain);
		return -1;
	default:
		snprintf(why, whylen, "%s", i18n_server_text(reason));
		return -1;
	}
}

int
compose_complete(const struct session *s, const char *typed,
    char addr_r[COMPOSE_ADDR_MAX + 1])
{
	size_t len;
	int n;

	while (*typed == ' ' || *typed == '\t')
		typed++;
	len = strlen(typed);
	while (len > 0 && (typed[len - 1] == ' ' || typed[len - 1] == '\t'))
		len--;
	if (len == 0)
		return -1;
	if (memchr(typed, '@', len) == NULL)
		n = snprintf(addr_r, COMPOSE_ADDR_MAX + 1, "%.*s@%s", (int)len,
		    typed, session_domain(s));
	else
		n = snprintf(addr_r, COMPOSE_ADDR_MAX + 1, "%.*s", (int)len,
		    typed);
	return n < 0 || (size_t)n > COMPOSE_ADDR_MAX ? -1 : 0;
}

int
compose_send_many(struct session *s, const char *const *to, size_t nto,
    const char *const *cc, size_t ncc, const char *subject, const char *body,
    const char *in_reply_to, const char *references, struct msg **reply_r)
{
	json_t *payload, *lto, *lcc;
	size_t i;
	int bad = 0;

	payload = json_object();
	lto = json_array();
	lcc = json_array();
	for (i = 0; i < nto; i++)
		bad |= json_array_append_new(lto, json_string(to[i])) == -1;
	for (i = 0; i < ncc; i++)
		bad |= json_array_append_new(lcc, json_string(cc[i])) == -1;
	/* json_object_set_new steals even on failure. */
	bad |= json_object_set_new(payload, "to", lto) == -1;
	bad |= json_object_set_new(payload, "cc", lcc) == -1;
	bad |= json_object_set_new(payload, "subject", json_string(subject)) ==
	       -1;
	bad |= json_object_set_new(payload, "content", json_string(body)) == -1;
	if (session_has(s, "threading") && in_reply_to != NULL)
		bad |= json_object_set_new(payload, "in_reply_to",
		           json_string(in_reply_to)) == -1;
	if (session_has(s, "threading") && references != NULL)
		bad |= json_object_set_new(payload, "references",
		           json_string(references)) == -1;
	if (payload == NULL || bad) {
		json_decref(payload);
		fprintf(stderr, "glomail: %s\n",
		    _("the text is not valid UTF-8"));
		return -1;
	}
	return session_request(s, PROTO_EMAIL_SENDING_MANY, payload, reply_r);
}

int
compose_subject(const struct session *s, const char *subject, char *why,
    size_t whylen)
{
	const unsigned char *p = (const unsigned char *)subject;

	/*
	 * The same characters the server refuses, C1 included: a subject is
	 * a header line, shown on other people's terminals.
	 */
	for (; *p != '\0'; p++) {
		if (*p < 0x20 || *p == 0x7f ||
		    (p[0] == 0xc2 && p[1] >= 0x80 && p[1] <= 0x9f)) {
			snprintf(why, whylen, "%s",
			    i18n_server_text(
			        "subject "
			        "may not contain line breaks or control "
			        "characters"));
			return -1;
		}
	}
	/* RFC 5322 bounds a line in bytes (RFC 6532), as the server counts. */
	if (strlen(subject) > session_max_subject(s)) {
		snprintf(why, whylen,
		    _("the subject is longer than %zu "
		      "bytes"),
		    session_max_subject(s));
		return -1;
	}
	return 0;
}

int
compose_send(struct session *s, const char *user, const char *addr,
    const char *subject, const char *body, struct msg **reply_r)
{
	return compose_send_thread(s, user, addr, subject, body, NULL, NULL,
	    reply_r);
}

int
compose_send_thread(struct session *s, const char *user, const char *addr,
    const char *subject, const char *body, const char *in_reply_to,
    const char *references, struct msg **reply_r)
{
	char sender[COMPOSE_ADDR_MAX + 1], date[RULES_DATE_LEN];
	struct msg_email e;
	json_t *payload;

	/*
	 * The original client fills in sender and date, and seed servers
	 * store them as sent; glomaild checks the one and stamps the other.
	 * The sender's domain is the server's (CAPABILITIES), not the seed's.
	 */
	snprintf(sender, sizeof(sender), "%s@%s", user, session_domain(s));
	rules_date(time(NULL), date);
	e.sender = sender;
	e.destination = addr;
	e.subject = subject;
	e.date = date;
	e.content = body;
	if ((payload = msg_email_new(&e)) == NULL) {
		fprintf(stderr, "glomail: %s\n",
		    _("the text is not valid UTF-8"));
		return -1;
	}
	/* Only a server that stores them gets them: others ignore keys. */
	if (session_has(s, "threading") &&
	    ((in_reply_to != NULL && json_object_set_new(payload, "in_reply_to",
	                                 json_string(in_reply_to)) == -1) ||
	        (references != NULL &&
	            json_object_set_new(payload, "references",
	                json_string(references)) == -1))) {
		json_decref(payload);
		fprintf(stderr, "glomail: %s\n", _("out of memory"));
		return -1;
	}
	return session_request(s, PROTO_EMAIL_SENDING, payload, reply_r);
}
