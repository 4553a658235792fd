/*
 * proto.c - lookup over the message table of proto/messages.def.
 */
#include <stddef.h>

#include "proto.h"

static const struct proto_msginfo proto_table[] = {
#define GLO_MSG(name, num, stem, dir, gate, shape) \
	{ num, #name, PROTO_DIR_##dir, PROTO_GATE_##gate, PROTO_SHAPE_##shape },
#include "messages.def"
#undef GLO_MSG
};

const struct proto_msginfo *
proto_lookup(long long header)
{
	size_t i;

	for (i = 0; i < sizeof(proto_table) / sizeof(proto_table[0]); i++)
		if (proto_table[i].header == header)
			return &proto_table[i];
	return NULL;
}

const char *
proto_name(long long header)
{
	const struct proto_msginfo *info = proto_lookup(header);

	return info != NULL ? info->name : "UNKNOWN";
}
