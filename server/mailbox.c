/*
 * mailbox.c - per-user message index and the registry of loaded mailboxes.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <jansson.h>

#include "frame.h"
#include "mailbox.h"
#include "msg.h"
#include "proto.h"

#define REGISTRY_BUCKETS 1024

struct mailbox {
	struct mailboxes *registry;
	struct mailbox *next;            /* bucket chain */
	char *user;
	unsigned refs;
	int loaded;
	struct mailbox_entry **entries;  /* oldest first: (when, order) */
	size_t n, cap;
	long long size;
	struct mailbox_view *view;       /* current list, NULL when stale */
	unsigned char *frame;            /* encoded list reply, or NULL */
	size_t frame_len;
	unsigned char *stats;            /* encoded stats reply, or NULL */
	size_t stats_len;
	char **early;                    /* deliveries recorded before loading */
	size_t nearly;
	struct mailbox_entry **gone;     /* deleted, still pointed to */
	size_t ngone;
	struct conn **subs;              /* sessions wanting notices */
	size_t nsubs;
};

struct mailboxes {
	struct mailbox *bucket[REGISTRY_BUCKETS];
};

static size_t
hash_user(const char *s)
{
	size_t h = 2166136261u;

	for (; *s != '\0'; s++)
		h = (h ^ (unsigned char)*s) * 16777619u;
	return h % REGISTRY_BUCKETS;
}

struct mailboxes *
mailboxes_new(void)
{
	return calloc(1, sizeof(struct mailboxes));
}

static void
free_early(struct mailbox *mb)
{
	size_t i;

	for (i = 0; i < mb->nearly; i++)
		free(mb->early[i]);
	free(mb->early);
	mb->early = NULL;
	mb->nearly = 0;
}

static void
entry_free(struct mailbox_entry *e)
{
	free(e->line);
	free(e->id);
	free(e->from);
	free(e->to);
	free(e->cc);
	free(e->subject);
	free(e->date);
	free(e);
}

static void
mailbox_destroy(struct mailbox *mb)
{
	size_t i;

	if (mb->view != NULL)
		mailbox_view_release(mb->view);
	for (i = 0; i < mb->n; i++)
		entry_free(mb->entries[i]);
	for (i = 0; i < mb->ngone; i++)
		entry_free(mb->gone[i]);
	free(mb->gone);
	free(mb->subs);
	free(mb->entries);
	free(mb->frame);
	free(mb->stats);
	free(mb->user);
	free_early(mb);
	free(mb);
}

void
mailboxes_free(struct mailboxes *all)
{
	struct mailbox *mb, *next;
	size_t i;

	if (all == NULL)
		return;
	for (i = 0; i < REGISTRY_BUCKETS; i++) {
		for (mb = all->bucket[i]; mb != NULL; mb = next) {
			next = mb->next;
			mailbox_destroy(mb);
		}
	}
	free(all);
}

struct mailbox *
mailbox_find(struct mailboxes *all, const char *user)
{
	struct mailbox *mb;

	for (mb = all->bucket[hash_user(user)]; mb != NULL; mb = mb->next)
		if (strcmp(mb->user, user) == 0)
			return mb;
	return NULL;
}

struct mailbox *
mailbox_acquire(struct mailboxes *all, const char *user)
{
	struct mailbox *mb = mailbox_find(all, user);
	size_t h;

	if (mb == NULL) {
		if ((mb = calloc(1, sizeof(*mb))) == NULL ||
		    (mb->user = strdup(user)) == NULL) {
			free(mb);
			return NULL;
		}
		mb->registry = all;
		h = hash_user(user);
		mb->next = all->bucket[h];
		all->bucket[h] = mb;
	}
	mb->refs++;
	return mb;
}

void
mailbox_release(struct mailbox *mb)
{
	struct mailbox **pp;

	if (mb == NULL || --mb->refs > 0)
		return;
	for (pp = &mb->registry->bucket[hash_user(mb->user)]; *pp != NULL;
	    pp = &(*pp)->next) {
		if (*pp == mb) {
			*pp = mb->next;
			break;
		}
	}
	mailbox_destroy(mb);
}

int
mailbox_loaded(const struct mailbox *mb)
{
	return mb->loaded;
}

void
mailbox_set_loaded(struct mailbox *mb)
{
	mb->loaded = 1;
	free_early(mb);
}

size_t
mailbox_count(const struct mailbox *mb)
{
	return mb->n;
}

long long
mailbox_size(const struct mailbox *mb)
{
	return mb->size;
}

/* Ordering of the list: by date, ties by delivery order. */
static int
entry_before(const struct mailbox_entry *a, const struct mailbox_entry *b)
{
	int i;

	if (a->when != b->when)
		return a->when < b->when;
	for (i = 0; i < 3; i++)
		if (a->file.order[i] != b->file.order[i])
			return a->file.order[i] < b->file.order[i];
	return strcmp(a->file.name, b->file.name) < 0;
}

static int
same_base(const char *a, const char *b)
{
	size_t la = strcspn(a, ":"), lb = strcspn(b, ":");

	return la == lb && memcmp(a, b, la) == 0;
}

static void
invalidate(struct mailbox *mb)
{
	if (mb->view != NULL) {
		mailbox_view_release(mb->view);
		mb->view = NULL;
	}
	free(mb->frame);
	mb->frame = NULL;
	free(mb->stats);
	mb->stats = NULL;
}

static int
insert(struct mailbox *mb, const struct maildir_file *file,
    const struct message_info *info)
{
	struct mailbox_entry *e, **grown;
	char id[MAILDIR_ID_MAX];
	size_t pos;
	int n;

	if (mb->n == mb->cap) {
		size_t cap = mb->cap ? mb->cap * 2 : 16;

		if ((grown = realloc(mb->entries, cap * sizeof(*grown))) == NULL)
			return -1;
		mb->entries = grown;
		mb->cap = cap;
	}
	if ((e = calloc(1, sizeof(*e))) == NULL)
		return -1;
	e->file = *file;
	e->when = info->when != -1 ? info->when : (time_t)file->order[0];
	n = asprintf(&e->line, "%s - %s %s", info->from, info->subject,
	    info->date);
	if (n < 0) {
		free(e);
		return -1;
	}
	maildir_id(file->name, id);
	if ((e->id = strdup(id)) == NULL ||
	    (e->from = strdup(info->from)) == NULL ||
	    (e->to = strdup(info->to)) == NULL ||
	    (e->cc = strdup(info->cc != NULL ? info->cc : "")) == NULL ||
	    (e->subject = strdup(info->subject)) == NULL ||
	    (e->date = strdup(info->date)) == NULL) {
		entry_free(e);
		return -1;
	}
	/* Deliveries arrive in order: search from the end. */
	pos = mb->n;
	while (pos > 0 && entry_before(e, mb->entries[pos - 1]))
		pos--;
	memmove(&mb->entries[pos + 1], &mb->entries[pos],
	    (mb->n - pos) * sizeof(*mb->entries));
	mb->entries[pos] = e;
	mb->n++;
	mb->size += (long long)file->size;
	invalidate(mb);
	return 0;
}

int
mailbox_add(struct mailbox *mb, const struct maildir_file *file,
    const struct message_info *info)
{
	char **grown, *base;

	/* While a scan is under way, remember the delivery so the scan's
	 * copy of it is not indexed twice. */
	if (!mb->loaded) {
		if ((base = strndup(file->name, strcspn(file->name, ":"))) ==
		    NULL)
			return -1;
		grown = realloc(mb->early, (mb->nearly + 1) * sizeof(*grown));
		if (grown == NULL) {
			free(base);
			return -1;
		}
		mb->early = grown;
		mb->early[mb->nearly++] = base;
	}
	return insert(mb, file, info);
}

int
mailbox_add_scanned(struct mailbox *mb, const struct maildir_file *file,
    const struct message_info *info)
{
	size_t i;

	for (i = 0; i < mb->nearly; i++)
		if (same_base(mb->early[i], file->name))
			return 0;
	return insert(mb, file, info);
}

struct mailbox_view *
mailbox_view(struct mailbox *mb)
{
	struct mailbox_view *v;
	size_t i;

	if (mb->view == NULL) {
		v = malloc(sizeof(*v) + mb->n * sizeof(v->entry[0]));
		if (v == NULL)
			return NULL;
		v->refs = 1;
		v->n = mb->n;
		for (i = 0; i < mb->n; i++)
			v->entry[i] = mb->entries[mb->n - 1 - i];
		mb->view = v;
	}
	mb->view->refs++;
	return mb->view;
}

void
mailbox_view_release(struct mailbox_view *view)
{
	if (view != NULL && --view->refs == 0)
		free(view);
}

const unsigned char *
mailbox_list_frame(struct mailbox *mb, size_t max, size_t *len_r)
{
	struct mailbox_view *v;
	json_t *list, *payload;
	char *line;
	size_t i;

	if (mb->frame == NULL) {
		if ((v = mailbox_view(mb)) == NULL)
			return NULL;
		list = json_array();
		for (i = 0; list != NULL && i < v->n; i++) {
			if (asprintf(&line, "#%zu %s", i + 1,
			    v->entry[i]->line) < 0) {
				json_decref(list);
				list = NULL;
				break;
			}
			if (json_array_append_new(list, json_string(line)) == -1) {
				json_decref(list);
				list = NULL;
			}
			free(line);
		}
		mailbox_view_release(v);
		payload = list != NULL ? json_pack("{s:o}", "email_list", list) :
		    NULL;
		if (payload == NULL || msg_encode(PROTO_OK, payload, max,
		    &mb->frame, &mb->frame_len) == -1)
			return NULL;
	}
	*len_r = mb->frame_len;
	return mb->frame;
}

const unsigned char *
mailbox_stats_frame(struct mailbox *mb, size_t *len_r)
{
	if (mb->stats == NULL && msg_encode(PROTO_OK, msg_stats_new(
	    (long long)mb->n, mb->size), FRAME_MAX_LIMIT, &mb->stats,
	    &mb->stats_len) == -1)
		return NULL;
	*len_r = mb->stats_len;
	return mb->stats;
}

void
mailbox_update_file(struct mailbox_entry *e, const struct maildir_file *file)
{
	e->file = *file;
}

struct mailbox_entry *
mailbox_get(struct mailbox *mb, const char *id)
{
	size_t i;

	/* Newest first: a client most often names what it just listed. */
	for (i = mb->n; i > 0; i--)
		if (strcmp(mb->entries[i - 1]->id, id) == 0)
			return mb->entries[i - 1];
	return NULL;
}

void
mailbox_remove(struct mailbox *mb, struct mailbox_entry *e)
{
	struct mailbox_entry **grown;
	size_t i;

	if (e->deleted)
		return;
	for (i = 0; i < mb->n && mb->entries[i] != e; i++)
		;
	if (i == mb->n)
		return;
	memmove(&mb->entries[i], &mb->entries[i + 1],
	    (mb->n - i - 1) * sizeof(*mb->entries));
	mb->n--;
	mb->size -= (long long)e->file.size;
	e->deleted = 1;
	invalidate(mb);
	/* Kept for whoever points to it; without memory it is leaked rather
	 * than freed under them. */
	if ((grown = realloc(mb->gone, (mb->ngone + 1) * sizeof(*grown))) ==
	    NULL)
		return;
	mb->gone = grown;
	mb->gone[mb->ngone++] = e;
}

int
mailbox_subscribe(struct mailbox *mb, struct conn *c)
{
	struct conn **grown;
	size_t i;

	for (i = 0; i < mb->nsubs; i++)
		if (mb->subs[i] == c)
			return 0;
	if ((grown = realloc(mb->subs, (mb->nsubs + 1) * sizeof(*grown))) ==
	    NULL)
		return -1;
	mb->subs = grown;
	mb->subs[mb->nsubs++] = c;
	return 0;
}

void
mailbox_unsubscribe(struct mailbox *mb, struct conn *c)
{
	size_t i;

	for (i = 0; i < mb->nsubs; i++) {
		if (mb->subs[i] == c) {
			mb->subs[i] = mb->subs[--mb->nsubs];
			return;
		}
	}
}

struct conn *const *
mailbox_subscribers(const struct mailbox *mb, size_t *n_r)
{
	*n_r = mb->nsubs;
	return mb->subs;
}
