/*
 * msg.c - JSON envelope parsing and seed-compatible encoding on jansson.
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "frame.h"
#include "msg.h"

struct msg {
	json_t *root;
	json_t *payload; /* borrowed from root; NULL when absent or null */
	long long header;
};

int
msg_parse(const void *body, size_t len, struct msg **msg_r, const char **why_r)
{
	struct msg *msg = NULL;
	json_t *root, *header, *payload;
	json_error_t err;

	if (len == 0) {
		*why_r = "empty frame";
		return -1;
	}
	root = json_loadb(body, len, JSON_REJECT_DUPLICATES, &err);
	if (root == NULL) {
		switch (json_error_code(&err)) {
		case json_error_invalid_utf8:
			*why_r = "invalid UTF-8";
			break;
		case json_error_duplicate_key:
			*why_r = "duplicate key";
			break;
		case json_error_null_character:
		case json_error_null_byte_in_key:
			*why_r = "NUL character";
			break;
		default:
			*why_r = "invalid JSON";
			break;
		}
		return -1;
	}
	if (!json_is_object(root)) {
		*why_r = "message is not a JSON object";
		goto fail;
	}
	header = json_object_get(root, "header");
	if (header == NULL) {
		*why_r = "header missing";
		goto fail;
	}
	if (!json_is_integer(header)) {
		*why_r = "header is not an integer";
		goto fail;
	}
	payload = json_object_get(root, "payload");
	if (json_is_null(payload))
		payload = NULL;
	if (payload != NULL && !json_is_object(payload)) {
		*why_r = "payload is not an object";
		goto fail;
	}
	if ((msg = malloc(sizeof(*msg))) == NULL) {
		*why_r = "out of memory";
		goto fail;
	}
	msg->root = root;
	msg->payload = payload;
	msg->header = json_integer_value(header);
	*msg_r = msg;
	return 0;
fail:
	json_decref(root);
	return -1;
}

void
msg_free(struct msg *msg)
{
	if (msg == NULL)
		return;
	json_decref(msg->root);
	free(msg);
}

long long
msg_header(const struct msg *msg)
{
	return msg->header;
}

json_t *
msg_payload(const struct msg *msg)
{
	return msg->payload;
}

/* A required (or, with optional set, absent-or-string) string field. */
static int
get_string(json_t *payload, const char *key, int optional, const char **out_r,
    const char **why_r, const char *missing, const char *bad)
{
	json_t *v = payload != NULL ? json_object_get(payload, key) : NULL;

	if (v == NULL || (optional && json_is_null(v))) {
		*out_r = NULL;
		if (optional)
			return 0;
		*why_r = missing;
		return -1;
	}
	if (!json_is_string(v)) {
		*why_r = bad;
		return -1;
	}
	*out_r = json_string_value(v);
	return 0;
}

#define STR(key, opt, out) \
	get_string(p, key, opt, out, why_r, "missing field: " key, \
	    "field is not a string: " key)

/* "choice" arrives as an integer from most seed clients, as "2" from some. */
static int
get_choice(json_t *p, long long *choice_r, const char **why_r)
{
	json_t *v = p != NULL ? json_object_get(p, "choice") : NULL;
	const char *s, *digits;
	char *end;
	long long n;

	if (v == NULL) {
		*why_r = "missing field: choice";
		return -1;
	}
	if (json_is_integer(v)) {
		*choice_r = json_integer_value(v);
		return 0;
	}
	if (!json_is_string(v)) {
		*why_r = "choice is not a number";
		return -1;
	}
	s = json_string_value(v);
	digits = (*s == '-' || *s == '+') ? s + 1 : s;
	if (*digits < '0' || *digits > '9') {
		*why_r = "choice is not a number";
		return -1;
	}
	errno = 0;
	n = strtoll(s, &end, 10);
	if (errno != 0 || *end != '\0') {
		*why_r = "choice is not a number";
		return -1;
	}
	*choice_r = n;
	return 0;
}

/* An address list: an array of strings (optional: absent or null too). */
static int
get_list(json_t *p, const char *key, int optional, json_t **out_r,
    const char **why_r, const char *bad)
{
	json_t *v = p != NULL ? json_object_get(p, key) : NULL, *item;
	size_t i;

	*out_r = NULL;
	if (optional && (v == NULL || json_is_null(v)))
		return 0;
	if (!json_is_array(v)) {
		*why_r = bad;
		return -1;
	}
	json_array_foreach (v, i, item) {
		if (!json_is_string(item)) {
			*why_r = bad;
			return -1;
		}
	}
	*out_r = v;
	return 0;
}

static int
get_count(json_t *p, const char *key, long long *out_r, const char **why_r)
{
	json_t *v = p != NULL ? json_object_get(p, key) : NULL;

	if (!json_is_integer(v) || json_integer_value(v) < 0) {
		*why_r = "statistics are not non-negative integers";
		return -1;
	}
	*out_r = json_integer_value(v);
	return 0;
}

/* An optional integer field within [0, max]. */
static int
get_range(json_t *p, const char *key, long long max, long long *out_r,
    const char **why_r, const char *bad, const char *range)
{
	json_t *v = p != NULL ? json_object_get(p, key) : NULL;

	if (v == NULL || json_is_null(v))
		return 0;
	if (!json_is_integer(v)) {
		*why_r = bad;
		return -1;
	}
	if (json_integer_value(v) < 0 || json_integer_value(v) > max) {
		*why_r = range;
		return -1;
	}
	*out_r = json_integer_value(v);
	return 0;
}

static int
get_bool(json_t *p, const char *key, int *out_r, const char **why_r,
    const char *bad)
{
	json_t *v = p != NULL ? json_object_get(p, key) : NULL;

	if (v == NULL || json_is_null(v))
		return 0;
	if (!json_is_boolean(v)) {
		*why_r = bad;
		return -1;
	}
	*out_r = json_is_true(v);
	return 0;
}

/* A message id: what the store names a file with, so one short component. */
static int
id_ok(const char *id)
{
	size_t n = strlen(id);

	return n > 0 && n < 256 && strchr(id, '/') == NULL &&
	       strchr(id, ':') == NULL;
}

static int
get_ids(json_t *p, json_t **ids_r, const char **why_r)
{
	json_t *list = p != NULL ? json_object_get(p, "ids") : NULL, *item;
	size_t i;

	if (list == NULL) {
		*why_r = "missing field: ids";
		return -1;
	}
	if (!json_is_array(list)) {
		*why_r = "ids is not a list";
		return -1;
	}
	if (json_array_size(list) == 0) {
		*why_r = "ids is empty";
		return -1;
	}
	if (json_array_size(list) > MSG_IDS_MAX) {
		*why_r = "too many ids";
		return -1;
	}
	json_array_foreach (list, i, item) {
		if (!json_is_string(item)) {
			*why_r = "ids holds a non-string";
			return -1;
		}
		if (!id_ok(json_string_value(item))) {
			*why_r = "invalid message id";
			return -1;
		}
	}
	*ids_r = list;
	return 0;
}

/* An optional list of flag names: "seen", "flagged". */
static int
get_flags(json_t *p, const char *key, unsigned *out_r, const char **why_r,
    const char *bad)
{
	json_t *list = p != NULL ? json_object_get(p, key) : NULL, *item;
	const char *name;
	size_t i;

	*out_r = 0;
	if (list == NULL || json_is_null(list))
		return 0;
	if (!json_is_array(list)) {
		*why_r = bad;
		return -1;
	}
	json_array_foreach (list, i, item) {
		name = json_string_value(item);
		if (name != NULL && strcmp(name, "seen") == 0)
			*out_r |= MSG_FLAG_SEEN;
		else if (name != NULL && strcmp(name, "flagged") == 0)
			*out_r |= MSG_FLAG_FLAGGED;
		else {
			*why_r = "unknown flag";
			return -1;
		}
	}
	return 0;
}

static int
get_query(json_t *p, struct msg_mb_query *q, int search, const char **why_r)
{
	if (get_bool(p, "unread", &q->unread, why_r,
	        "field is not a boolean: unread") == -1 ||
	    get_range(p, "offset", MSG_OFFSET_MAX, &q->offset, why_r,
	        "field is not an integer: offset",
	        "offset out of range") == -1 ||
	    get_range(p, "limit", MSG_LIMIT_MAX, &q->limit, why_r,
	        "field is not an integer: limit", "limit out of range") == -1)
		return -1;
	if (!search)
		return 0;
	if (STR("from", 1, &q->from) == -1 || STR("to", 1, &q->to) == -1 ||
	    STR("subject", 1, &q->subject) == -1 ||
	    STR("body", 1, &q->body) == -1 || STR("text", 1, &q->text) == -1 ||
	    STR("since", 1, &q->since) == -1 ||
	    STR("before", 1, &q->before) == -1)
		return -1;
	return 0;
}

/* {"on": false} or {"on": true, "subject", "text", "until"?}. */
static int
get_vacation(json_t *p, struct msg_vacation *v, const char **why_r)
{
	json_t *on = p != NULL ? json_object_get(p, "on") : NULL, *until;

	if (!json_is_boolean(on)) {
		*why_r = "field is not true or false: on";
		return -1;
	}
	if (!(v->on = json_is_true(on)))
		return 0;
	if (STR("subject", 0, &v->subject) == -1 ||
	    STR("text", 0, &v->text) == -1)
		return -1;
	until = json_object_get(p, "until");
	if (until != NULL &&
	    (!json_is_integer(until) || json_integer_value(until) < 0)) {
		*why_r = "until is not a time";
		return -1;
	}
	v->until = until != NULL ? json_integer_value(until) : 0;
	return 0;
}

int
msg_unpack(const struct msg *msg, enum proto_shape shape, union msg_args *a,
    const char **why_r)
{
	json_t *p = msg->payload, *list, *item;
	size_t i;

	memset(a, 0, sizeof(*a));
	switch (shape) {
	case PROTO_SHAPE_ANY:
	case PROTO_SHAPE_EMPTY:
		return 0;
	case PROTO_SHAPE_ERROR:
		return STR("error_message", 0, &a->error_message);
	case PROTO_SHAPE_CREDENTIALS:
		if (STR("username", 0, &a->credentials.username) == -1 ||
		    STR("password", 0, &a->credentials.password) == -1)
			return -1;
		return 0;
	case PROTO_SHAPE_CHOICE:
		return get_choice(p, &a->choice, why_r);
	case PROTO_SHAPE_EMAIL:
		if (STR("sender", 1, &a->email.sender) == -1 ||
		    STR("destination", 0, &a->email.destination) == -1 ||
		    STR("subject", 0, &a->email.subject) == -1 ||
		    STR("date", 1, &a->email.date) == -1 ||
		    STR("content", 0, &a->email.content) == -1 ||
		    STR("in_reply_to", 1, &a->email_thread.in_reply_to) == -1 ||
		    STR("references", 1, &a->email_thread.references) == -1)
			return -1;
		/* One destination here: a copy list would be lost silently. */
		if (json_object_get(p, "cc") != NULL) {
			*why_r = "cc is not accepted here: send with "
			         "EMAIL_SENDING_MANY (12)";
			return -1;
		}
		return 0;
	case PROTO_SHAPE_EMAIL_LIST:
		list = p != NULL ? json_object_get(p, "email_list") : NULL;
		if (!json_is_array(list)) {
			*why_r = "email_list is not a list";
			return -1;
		}
		json_array_foreach (list, i, item) {
			if (!json_is_string(item)) {
				*why_r = "email_list holds a non-string";
				return -1;
			}
		}
		a->email_list = list;
		return 0;
	case PROTO_SHAPE_EMAIL_MANY:
		if (get_list(p, "to", 0, &a->email_many.to, why_r,
		        "to is not a list of addresses") == -1 ||
		    get_list(p, "cc", 1, &a->email_many.cc, why_r,
		        "cc is not a list of addresses") == -1 ||
		    STR("subject", 0, &a->email_many.subject) == -1 ||
		    STR("content", 0, &a->email_many.content) == -1 ||
		    STR("in_reply_to", 1, &a->email_many.in_reply_to) == -1 ||
		    STR("references", 1, &a->email_many.references) == -1)
			return -1;
		a->email_many.root = p;
		return 0;
	case PROTO_SHAPE_STATS:
		if (get_count(p, "count", &a->stats.count, why_r) == -1 ||
		    get_count(p, "size", &a->stats.size, why_r) == -1)
			return -1;
		return 0;
	case PROTO_SHAPE_MB_LIST:
	case PROTO_SHAPE_MB_SEARCH:
		return get_query(p, &a->query, shape == PROTO_SHAPE_MB_SEARCH,
		    why_r);
	case PROTO_SHAPE_MB_ID:
		if (STR("id", 0, &a->ids.id) == -1)
			return -1;
		if (!id_ok(a->ids.id)) {
			*why_r = "invalid message id";
			return -1;
		}
		return 0;
	case PROTO_SHAPE_MB_IDS:
		return get_ids(p, &a->ids.ids, why_r);
	case PROTO_SHAPE_MB_FLAGS:
		if (get_ids(p, &a->ids.ids, why_r) == -1 ||
		    get_flags(p, "add", &a->ids.add, why_r,
		        "add is not a list") == -1 ||
		    get_flags(p, "remove", &a->ids.remove, why_r,
		        "remove is not a list") == -1)
			return -1;
		if ((a->ids.add | a->ids.remove) == 0) {
			*why_r = "no flag to change";
			return -1;
		}
		if ((a->ids.add & a->ids.remove) != 0) {
			*why_r = "a flag both added and removed";
			return -1;
		}
		return 0;
	case PROTO_SHAPE_PASSWORDS:
		if (STR("password", 0, &a->passwords.password) == -1 ||
		    STR("new_password", 0, &a->passwords.new_password) == -1)
			return -1;
		return 0;
	case PROTO_SHAPE_NOTICE:
		if (STR("id", 0, &a->notice.id) == -1 ||
		    STR("sender", 0, &a->notice.sender) == -1 ||
		    STR("subject", 0, &a->notice.subject) == -1)
			return -1;
		return 0;
	case PROTO_SHAPE_VACATION:
		return get_vacation(p, &a->vacation, why_r);
	}
	*why_r = "unknown payload shape";
	return -1;
}

/*
 * jansson writes \u00E9 where Python writes \u00e9, and leaves DEL (0x7f)
 * raw where Python escapes it: rewrite both so the bytes match seed peers.
 * Every backslash in ASCII-only output starts an escape, and DEL can only
 * occur inside a string, so a single scan is exact.
 */
static unsigned char *
pythonize(unsigned char *buf, size_t *len_r)
{
	size_t len = *len_r, i, j, ndel = 0;
	unsigned char *out;

	for (i = FRAME_HEADER_LEN; i < len; i++) {
		if (buf[i] == 0x7f) {
			ndel++;
		} else if (buf[i] == '\\') {
			if (i + 1 < len && buf[i + 1] == 'u') {
				for (j = i + 2; j < i + 6 && j < len; j++)
					if (buf[j] >= 'A' && buf[j] <= 'F')
						buf[j] =
						    (unsigned char)(buf[j] -
						                    'A' + 'a');
				i += 5;
			} else {
				i++;
			}
		}
	}
	if (ndel == 0)
		return buf;
	if ((out = malloc(len + 5 * ndel)) == NULL) {
		free(buf);
		return NULL;
	}
	for (i = 0, j = 0; i < len; i++) {
		if (i >= FRAME_HEADER_LEN && buf[i] == 0x7f) {
			memcpy(out + j, "\\u007f", 6);
			j += 6;
		} else {
			out[j++] = buf[i];
		}
	}
	free(buf);
	*len_r = j;
	return out;
}

int
msg_encode(int header, json_t *payload, size_t max, unsigned char **frame_r,
    size_t *frame_len_r)
{
	const size_t flags = JSON_ENSURE_ASCII;
	unsigned char *frame = NULL;
	json_t *root;
	size_t body, len;

	root = json_object();
	if (root == NULL ||
	    json_object_set_new(root, "header", json_integer(header)) == -1 ||
	    (payload != NULL &&
	        json_object_set_new(root, "payload", payload) == -1)) {
		payload = NULL; /* stolen even on failure */
		goto fail;
	}
	payload = NULL;
	if ((body = json_dumpb(root, NULL, 0, flags)) == 0)
		goto fail;
	if ((frame = malloc(FRAME_HEADER_LEN + body)) == NULL)
		goto fail;
	if (json_dumpb(root, (char *)frame + FRAME_HEADER_LEN, body, flags) !=
	    body)
		goto fail;
	len = FRAME_HEADER_LEN + body;
	if ((frame = pythonize(frame, &len)) == NULL)
		goto fail;
	if (len - FRAME_HEADER_LEN > max || len - FRAME_HEADER_LEN > UINT32_MAX)
		goto fail;
	frame_put_header(frame, (uint32_t)(len - FRAME_HEADER_LEN));
	json_decref(root);
	*frame_r = frame;
	*frame_len_r = len;
	return 0;
fail:
	free(frame);
	json_decref(payload);
	json_decref(root);
	return -1;
}

json_t *
msg_error_new(const char *text)
{
	return json_pack("{s:s}", "error_message", text);
}

json_t *
msg_credentials_new(const char *username, const char *password)
{
	return json_pack("{s:s, s:s}", "username", username, "password",
	    password);
}

json_t *
msg_choice_new(long long choice)
{
	return json_pack("{s:I}", "choice", (json_int_t)choice);
}

/* Field order of the seed: sender, destination, subject, date, content. */
json_t *
msg_email_new(const struct msg_email *e)
{
	return json_pack("{s:s, s:s, s:s, s:s, s:s}", "sender",
	    e->sender != NULL ? e->sender : "", "destination", e->destination,
	    "subject", e->subject, "date", e->date != NULL ? e->date : "",
	    "content", e->content);
}

json_t *
msg_stats_new(long long count, long long size)
{
	return json_pack("{s:I, s:I}", "count", (json_int_t)count, "size",
	    (json_int_t)size);
}
