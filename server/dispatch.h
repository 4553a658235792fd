/*
 * dispatch.h - the gate and the handler table. Every request goes through
 * dispatch_frame: it parses the frame, checks that the header is a known
 * request, that the login state allows it and that the payload has the
 * required shape, and only then runs the handler. Handlers assume valid input.
 */
#ifndef GLOMAILD_DISPATCH_H
#define GLOMAILD_DISPATCH_H

#include <stddef.h>

#include "msg.h"

struct conn;

/* One handler per request row of proto/messages.def: h_<stem>(). */
#define GLO_MSG(name, num, stem, dir, gate, shape) \
	void h_##stem(struct conn *c, const union msg_args *args);
#include "messages.def"
#undef GLO_MSG

/* Parse and run one request frame from c. */
void dispatch_frame(struct conn *c, const void *body, size_t len);

#endif
