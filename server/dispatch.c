/*
 * dispatch.c - the one gate before every handler.
 */
#include <stddef.h>

#include "conn.h"
#include "dispatch.h"
#include "log.h"
#include "proto.h"
#include "session.h"

typedef void (*handler_fn)(struct conn *, const union msg_args *);

#define HANDLER_C2S(stem) h_##stem
#define HANDLER_S2C(stem) NULL
/* Administration rows are served by the control listener alone. */
#define ON_TCP_ANY(h) h
#define ON_TCP_ANON(h) h
#define ON_TCP_AUTH(h) h
#define ON_TCP_AUTH_QUIET(h) h
#define ON_TCP_CTL(h) NULL

/*
 * Indexed by header number; replies (S2C rows) and administration requests
 * have no handler here.
 */
static const handler_fn handlers[] = {
#define GLO_MSG(name, num, stem, dir, gate, shape) \
	[num] = ON_TCP_##gate(HANDLER_##dir(stem)),
#include "messages.def"
#undef GLO_MSG
};

void
dispatch_frame(struct conn *c, const void *body, size_t len)
{
	const struct proto_msginfo *info;
	const struct session *s = conn_session(c);
	union msg_args args;
	struct msg *m = NULL;
	const char *why;
	long long header;
	int logged_in = session_logged_in(s);

	if (msg_parse(body, len, &m, &why) == -1) {
		log_write(LOG_LEVEL_INFO, conn_id(c),
		    "bad frame length=%zu reason=\"%s\"", len, why);
		conn_reply_error(c, why);
		return;
	}
	header = msg_header(m);
	info = proto_lookup(header);
	if (info == NULL || info->dir != PROTO_DIR_C2S ||
	    info->gate == PROTO_GATE_CTL ||
	    (size_t)header >= sizeof(handlers) / sizeof(handlers[0]) ||
	    handlers[header] == NULL) {
		log_write(LOG_LEVEL_INFO, conn_id(c), "unknown header=%lld",
		    header);
		conn_reply_error(c, "unknown request");
		goto done;
	}
	log_write(LOG_LEVEL_DEBUG, conn_id(c), "request %s", info->name);
	switch (info->gate) {
	case PROTO_GATE_ANY:
		break;
	case PROTO_GATE_ANON:
		if (logged_in) {
			conn_reply_error(c, "already logged in");
			goto done;
		}
		break;
	case PROTO_GATE_AUTH:
		if (!logged_in) {
			conn_reply_error(c, "not logged in");
			goto done;
		}
		break;
	case PROTO_GATE_AUTH_QUIET:
		if (!logged_in) /* seed clients read no reply to these */
			goto done;
		break;
	case PROTO_GATE_CTL: /* refused above */
		goto done;
	}
	if (msg_unpack(m, info->shape, &args, &why) == -1) {
		log_write(LOG_LEVEL_INFO, conn_id(c),
		    "bad payload request=%s reason=\"%s\"", info->name, why);
		conn_reply_error(c, why);
		goto done;
	}
	handlers[header](c, &args);
done:
	msg_free(m);
}
