/*
 * caps.c - the handler for CAPABILITIES: what this server is (protocol
 * version, mail domain, limits, extensions), so a client learns it instead
 * of assuming the seed's. Seed servers answer the request with ERROR, which
 * tells a client to expect only the ten seed messages and glo2000.ca.
 */
#include <jansson.h>

#include "conn.h"
#include "dispatch.h"
#include "proto.h"
#include "rules.h"
#include "server.h"

/* Bumped only for a change that breaks a client of an earlier version. */
#define CAPS_PROTOCOL_VERSION 1

/* One recipient per EMAIL_SENDING, as in the seed. */
#define CAPS_MAX_RECIPIENTS 1

void
h_capabilities(struct conn *c, const union msg_args *args)
{
	const struct config *cfg = server_cfg(conn_server(c));
	json_t *payload;

	(void)args;
	payload = json_pack("{s:i, s:s, s:{s:I, s:i, s:i}, s:[]}",
	    "protocol", CAPS_PROTOCOL_VERSION,
	    "domain", cfg->domain,
	    "limits",
	    "max_frame", (json_int_t)cfg->max_frame,
	    "max_subject", RULES_SUBJECT_MAX,
	    "max_recipients", CAPS_MAX_RECIPIENTS,
	    "extensions");
	if (payload == NULL) {
		conn_reply_error(c, "server error");
		return;
	}
	conn_reply(c, PROTO_OK, payload);
}
