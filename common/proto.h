/*
 * proto.h - the protocol's headers, generated from proto/messages.def.
 *
 * Owns the numbering of messages and the per-message policy (direction,
 * login gate, payload shape). Nothing else in glomail lists headers.
 */
#ifndef GLOMAIL_PROTO_H
#define GLOMAIL_PROTO_H

/* Port of the 2024 edition of the original assignment. */
#define PROTO_DEFAULT_PORT 9672
#define PROTO_DEFAULT_PORT_STR "9672"
#define PROTO_DEFAULT_DOMAIN "glo2000.ca"
/*
 * The same protocol under implicit TLS. Not 5321, 9672 or 9673: editions
 * of the original assignment use those.
 */
#define PROTO_DEFAULT_TLS_PORT 9674
#define PROTO_DEFAULT_TLS_PORT_STR "9674"

enum proto_header {
#define GLO_MSG(name, num, stem, dir, gate, shape) PROTO_##name = num,
#include "messages.def"
#undef GLO_MSG
};

/* Who sends a message: the server only handles C2S messages. */
enum proto_dir { PROTO_DIR_C2S, PROTO_DIR_S2C };

/* Login state required before a handler may run. */
enum proto_gate {
	PROTO_GATE_ANY,        /* always allowed */
	PROTO_GATE_ANON,       /* only while logged out */
	PROTO_GATE_AUTH,       /* only while logged in, else ERROR */
	PROTO_GATE_AUTH_QUIET, /* only while logged in, else ignored */
	PROTO_GATE_CTL,        /* only on the control socket */
};

/* Payload shapes, checked by msg_unpack(). */
enum proto_shape {
	PROTO_SHAPE_ANY,         /* anything (absent, null or object) */
	PROTO_SHAPE_EMPTY,       /* no fields required; absent/null/{} */
	PROTO_SHAPE_ERROR,       /* error_message */
	PROTO_SHAPE_CREDENTIALS, /* username, password */
	PROTO_SHAPE_CHOICE,      /* choice: integer or numeric string */
	PROTO_SHAPE_EMAIL,       /* sender?, destination, subject, date?, content */
	PROTO_SHAPE_EMAIL_LIST,  /* email_list: array of strings */
	PROTO_SHAPE_STATS,       /* count, size */
};

struct proto_msginfo {
	int header;
	const char *name;
	enum proto_dir dir;
	enum proto_gate gate;
	enum proto_shape shape;
};

/* The table row of a header number, or NULL when glomail does not know it. */
const struct proto_msginfo *proto_lookup(long long header);

/* The name of a header for logs ("UNKNOWN" when not in the table). */
const char *proto_name(long long header);

#endif
