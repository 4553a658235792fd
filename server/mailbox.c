/*
 * mailbox.c - per-user message index, its scans of the Maildir, and the
 * registry of loaded mailboxes.
 */
#include <sys/stat.h>

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "log.h"
#include "mailbox.h"

#define REGISTRY_BUCKETS 1024

/*
 * How long after a directory's last change its timestamps cannot tell a
 * later change apart: Linux stamps files from its coarse clock, so two
 * ticks of it (SETTLE_FINE_NS if it cannot say); filesystems without
 * sub-second timestamps (their nanoseconds always 0) stamp whole seconds.
 */
#define SETTLE_FINE_NS (20LL * 1000 * 1000)
#define SETTLE_COARSE_NS (2LL * 1000 * 1000 * 1000)
/* A scan waits this long at most for a change to settle, rather than
 * leave the next request to scan again. */
#define SETTLE_WAIT_MAX_NS (50LL * 1000 * 1000)

/* Headers are at the start: most files hold them whole in the first read. */
#define SCAN_FIRST_READ (64 * 1024)

struct mailbox {
	struct mailboxes *registry;
	struct mailbox *next; /* bucket chain */
	char *user;
	unsigned refs;
	int loaded;
	uint64_t generation;
	uint64_t seq;                   /* scans begun */
	struct mailbox_entry **entries; /* oldest first: (when, order) */
	size_t n, cap;
	struct mailbox_entry **hash; /* by base name */
	size_t hcap;
	long long size;
	struct mailbox_view *view;  /* current list, NULL when stale */
	struct mailbox_stamp stamp; /* the last scan's */
	int trusting;               /* stamp from a change of ours, a
	                               verifying scan to come */
	void *ctx;
	void (*ctx_free)(void *);
	struct conn **subs; /* sessions wanting notices */
	size_t nsubs;
};

struct mailboxes {
	struct mailbox *bucket[REGISTRY_BUCKETS];
};

/* One file a scan listed. */
struct scan_file {
	struct maildir_file file;
	struct mailbox_entry *known; /* indexed when the scan began, or NULL */
	struct message_info info;    /* parsed, when not known */
	int parsed;
};

struct mailbox_scan {
	uint64_t seq;
	struct mailbox_view *known; /* the index as the scan began */
	struct mailbox_stamp stamp;
	struct scan_file *files;
	size_t nfiles;
	struct mailbox_entry **arrived; /* new/ files this scan added */
	size_t narrived;
};

static size_t
hash_str(const char *s, size_t len)
{
	size_t h = 2166136261u, i;

	for (i = 0; i < len; i++)
		h = (h ^ (unsigned char)s[i]) * 16777619u;
	return h;
}

static size_t
base_len(const char *name)
{
	return strcspn(name, ":");
}

struct mailboxes *
mailboxes_new(void)
{
	return calloc(1, sizeof(struct mailboxes));
}

void
mailbox_entry_hold(struct mailbox_entry *e)
{
	e->refs++;
}

void
mailbox_entry_release(struct mailbox_entry *e)
{
	if (e == NULL || --e->refs > 0)
		return;
	free(e->line);
	free(e->from);
	free(e->to);
	free(e->cc);
	free(e->subject);
	free(e->date);
	free(e);
}

static void
invalidate(struct mailbox *mb)
{
	mb->generation++;
	if (mb->view != NULL) {
		mailbox_view_release(mb->view);
		mb->view = NULL;
	}
}

static void
mailbox_destroy(struct mailbox *mb)
{
	size_t i;

	if (mb->ctx_free != NULL)
		mb->ctx_free(mb->ctx);
	if (mb->view != NULL)
		mailbox_view_release(mb->view);
	for (i = 0; i < mb->n; i++) {
		mb->entries[i]->gone = 1;
		mailbox_entry_release(mb->entries[i]);
	}
	free(mb->entries);
	free(mb->hash);
	free(mb->subs);
	free(mb->user);
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

	for (mb = all->bucket[hash_str(user, strlen(user)) % REGISTRY_BUCKETS];
	     mb != NULL; mb = mb->next)
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
		mb->generation = 1;
		h = hash_str(user, strlen(user)) % REGISTRY_BUCKETS;
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
	for (pp = &mb->registry->bucket[hash_str(mb->user, strlen(mb->user)) %
	                                REGISTRY_BUCKETS];
	     *pp != NULL; pp = &(*pp)->next) {
		if (*pp == mb) {
			*pp = mb->next;
			break;
		}
	}
	mailbox_destroy(mb);
}

const char *
mailbox_user(const struct mailbox *mb)
{
	return mb->user;
}

int
mailbox_loaded(const struct mailbox *mb)
{
	return mb->loaded;
}

void *
mailbox_context(const struct mailbox *mb)
{
	return mb->ctx;
}

void
mailbox_set_context(struct mailbox *mb, void *ctx, void (*free_fn)(void *))
{
	mb->ctx = ctx;
	mb->ctx_free = free_fn;
}

uint64_t
mailbox_generation(const struct mailbox *mb)
{
	return mb->generation;
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
	return strcmp(a->base, b->base) < 0;
}

static int
entry_cmp(const void *pa, const void *pb)
{
	const struct mailbox_entry *a = *(struct mailbox_entry *const *)pa;
	const struct mailbox_entry *b = *(struct mailbox_entry *const *)pb;

	return entry_before(a, b) ? -1 : entry_before(b, a) ? 1 : 0;
}

static struct mailbox_entry **
hash_slot(struct mailbox *mb, const char *name)
{
	size_t len = base_len(name);
	struct mailbox_entry **pp;

	if (mb->hcap == 0)
		return NULL;
	for (pp = &mb->hash[hash_str(name, len) & (mb->hcap - 1)]; *pp != NULL;
	     pp = &(*pp)->hnext)
		if (strlen((*pp)->base) == len &&
		    memcmp((*pp)->base, name, len) == 0)
			return pp;
	return pp;
}

static struct mailbox_entry *
lookup(struct mailbox *mb, const char *name)
{
	struct mailbox_entry **pp = hash_slot(mb, name);

	return pp != NULL ? *pp : NULL;
}

/* Room for one more entry in the array and the hash. */
static int
grow(struct mailbox *mb)
{
	struct mailbox_entry **grown, *e, *next;
	size_t cap, i, h;

	if (mb->n == mb->cap) {
		cap = mb->cap ? mb->cap * 2 : 16;
		if ((grown = realloc(mb->entries, cap * sizeof(*grown))) ==
		    NULL)
			return -1;
		mb->entries = grown;
		mb->cap = cap;
	}
	if (mb->n + 1 > mb->hcap) {
		cap = mb->hcap ? mb->hcap * 2 : 64;
		if ((grown = calloc(cap, sizeof(*grown))) == NULL)
			return -1;
		for (i = 0; i < mb->hcap; i++) {
			for (e = mb->hash[i]; e != NULL; e = next) {
				next = e->hnext;
				h = hash_str(e->base, strlen(e->base)) &
				    (cap - 1);
				e->hnext = grown[h];
				grown[h] = e;
			}
		}
		free(mb->hash);
		mb->hash = grown;
		mb->hcap = cap;
	}
	return 0;
}

/* Bytes of s within MAILBOX_SUBJECT_MAX characters. */
static int
subject_len(const char *s)
{
	size_t i, chars = 0;

	for (i = 0; s[i] != '\0'; i++) {
		if (((unsigned char)s[i] & 0xc0) != 0x80 &&
		    chars++ == MAILBOX_SUBJECT_MAX)
			break;
	}
	return (int)i;
}

static struct mailbox_entry *
entry_new(const struct maildir_file *file, const struct message_info *info)
{
	struct mailbox_entry *e;
	size_t blen = base_len(file->name);

	if ((e = calloc(1, sizeof(*e) + blen + 1)) == NULL)
		return NULL;
	memcpy(e->base, file->name, blen);
	e->file = *file;
	e->refs = 1;
	e->when = info->when != -1 ? info->when : (time_t)file->order[0];
	if (asprintf(&e->line, "%s - %.*s %s", info->from,
	        subject_len(info->subject), info->subject, info->date) < 0) {
		free(e);
		return NULL;
	}
	if ((e->from = strdup(info->from)) == NULL ||
	    (e->to = strdup(info->to)) == NULL ||
	    (e->cc = strdup(info->cc != NULL ? info->cc : "")) == NULL ||
	    (e->subject = strdup(info->subject)) == NULL ||
	    (e->date = strdup(info->date)) == NULL) {
		mailbox_entry_release(e);
		return NULL;
	}
	return e;
}

/* Index e (room made by grow()); sorted unless the caller sorts later. */
static void
link_entry(struct mailbox *mb, struct mailbox_entry *e, int sorted)
{
	struct mailbox_entry **pp = hash_slot(mb, e->base);
	size_t pos = mb->n;

	*pp = e;
	e->hnext = NULL;
	e->touched = mb->seq;
	/* Deliveries arrive in order: search from the end. */
	while (sorted && pos > 0 && entry_before(e, mb->entries[pos - 1]))
		pos--;
	memmove(&mb->entries[pos + 1], &mb->entries[pos],
	    (mb->n - pos) * sizeof(*mb->entries));
	mb->entries[pos] = e;
	mb->n++;
	mb->size += (long long)e->file.size;
}

int
mailbox_add(struct mailbox *mb, const struct maildir_file *file,
    const struct message_info *info)
{
	struct mailbox_entry *e;

	/* A scan may have found the file first. */
	if (lookup(mb, file->name) != NULL)
		return 0;
	if (grow(mb) == -1 || (e = entry_new(file, info)) == NULL)
		return -1;
	link_entry(mb, e, 1);
	invalidate(mb);
	return 0;
}

void
mailbox_remove(struct mailbox *mb, struct mailbox_entry *e)
{
	struct mailbox_entry **pp;
	size_t i;

	if (e->gone)
		return;
	for (pp = hash_slot(mb, e->base); pp != NULL && *pp != NULL;
	     pp = &(*pp)->hnext) {
		if (*pp == e) {
			*pp = e->hnext;
			break;
		}
	}
	for (i = 0; i < mb->n; i++) {
		if (mb->entries[i] == e) {
			memmove(&mb->entries[i], &mb->entries[i + 1],
			    (mb->n - i - 1) * sizeof(*mb->entries));
			mb->n--;
			break;
		}
	}
	mb->size -= (long long)e->file.size;
	e->gone = 1;
	invalidate(mb);
	mailbox_entry_release(e);
}

static struct mailbox_view *
view_alloc(size_t n)
{
	struct mailbox_view *v;

	if ((v = malloc(sizeof(*v) + n * sizeof(v->entry[0]))) == NULL)
		return NULL;
	v->refs = 1;
	v->n = n;
	return v;
}

struct mailbox_view *
mailbox_view(struct mailbox *mb)
{
	struct mailbox_view *v;
	size_t i;

	if (mb->view == NULL) {
		if ((v = view_alloc(mb->n)) == NULL)
			return NULL;
		for (i = 0; i < mb->n; i++) {
			v->entry[i] = mb->entries[mb->n - 1 - i];
			mailbox_entry_hold(v->entry[i]);
		}
		mb->view = v;
	}
	mb->view->refs++;
	return mb->view;
}

struct mailbox_view *
mailbox_view_head(const struct mailbox_view *v, size_t n)
{
	struct mailbox_view *head;
	size_t i;

	if (n > v->n)
		n = v->n;
	if ((head = view_alloc(n)) == NULL)
		return NULL;
	for (i = 0; i < n; i++) {
		head->entry[i] = v->entry[i];
		mailbox_entry_hold(head->entry[i]);
	}
	return head;
}

void
mailbox_view_release(struct mailbox_view *view)
{
	size_t i;

	if (view == NULL || --view->refs > 0)
		return;
	for (i = 0; i < view->n; i++)
		mailbox_entry_release(view->entry[i]);
	free(view);
}

void
mailbox_update_file(struct mailbox *mb, struct mailbox_entry *e,
    const struct maildir_file *file)
{
	if (e->gone)
		return;
	e->file = *file;
	e->touched = mb->seq;
}

static int
stamp_take(int md, struct mailbox_stamp *st)
{
	static const char *subs[2] = { "new", "cur" };
	struct stat sb;
	int i;

	memset(st, 0, sizeof(*st));
	clock_gettime(CLOCK_REALTIME, &st->taken);
	/* new/ before cur/: a file moving from new/ to cur/ in between shows
	 * as a change of cur/. */
	for (i = 0; i < 2; i++) {
		if (fstatat(md, subs[i], &sb, AT_SYMLINK_NOFOLLOW) == -1) {
			if (errno != ENOENT)
				return -1;
			continue; /* absent: listed as empty */
		}
		if (!S_ISDIR(sb.st_mode))
			continue; /* a link: never followed, listed as empty */
		st->dir[i].dev = sb.st_dev;
		st->dir[i].ino = sb.st_ino;
		st->dir[i].size = sb.st_size;
		st->dir[i].mtime = sb.st_mtim;
		st->dir[i].ctime = sb.st_ctim;
	}
	st->valid = 1;
	return 0;
}

static int
ts_equal(struct timespec a, struct timespec b)
{
	return a.tv_sec == b.tv_sec && a.tv_nsec == b.tv_nsec;
}

static long long
ts_ns(struct timespec t)
{
	return (long long)t.tv_sec * 1000000000LL + t.tv_nsec;
}

/*
 * Whether a change made after the stamp was taken could carry the same
 * timestamps as the stamp shows: the directory changed within one tick of
 * the filesystem's clock before it was looked at.
 */
static long long
settle_fine(void)
{
	struct timespec res;

	if (clock_getres(CLOCK_REALTIME_COARSE, &res) == -1 ||
	    ts_ns(res) <= 0 || 2 * ts_ns(res) > SETTLE_FINE_NS)
		return SETTLE_FINE_NS;
	return 2 * ts_ns(res);
}

/* The same directories, unchanged. */
static int
stamp_same(const struct mailbox_stamp *x, const struct mailbox_stamp *y)
{
	int i;

	for (i = 0; i < 2; i++) {
		const struct mailbox_dir_stamp *a = &x->dir[i], *b = &y->dir[i];

		if (a->dev != b->dev || a->ino != b->ino ||
		    a->size != b->size || !ts_equal(a->mtime, b->mtime) ||
		    !ts_equal(a->ctime, b->ctime))
			return 0;
	}
	return 1;
}

/* How much longer than the stamp's time a look would have to wait to be
 * trusted; 0 when the stamp can be trusted. */
static long long
stamp_unsettled(const struct mailbox_stamp *st)
{
	long long settle, fine = settle_fine(), wait = 0, w;
	int i;

	for (i = 0; i < 2; i++) {
		const struct mailbox_dir_stamp *d = &st->dir[i];

		settle = d->mtime.tv_nsec == 0 || d->ctime.tv_nsec == 0
		             ? SETTLE_COARSE_NS
		             : fine;
		w = settle - (ts_ns(st->taken) - ts_ns(d->mtime));
		if (w > wait)
			wait = w;
		w = settle - (ts_ns(st->taken) - ts_ns(d->ctime));
		if (w > wait)
			wait = w;
	}
	return wait;
}

int
mailbox_stale(struct mailbox *mb, int md)
{
	struct mailbox_stamp now;

	if (!mb->loaded || !mb->stamp.valid ||
	    (!mb->trusting && stamp_unsettled(&mb->stamp) > 0))
		return 1;
	if (stamp_take(md, &now) == -1)
		return 1;
	return !stamp_same(&mb->stamp, &now);
}

int
mailbox_stamp_take(int md, struct mailbox_stamp *st)
{
	return stamp_take(md, st);
}

int
mailbox_own_change(struct mailbox *mb, const struct mailbox_stamp *before,
    const struct mailbox_stamp *after)
{
	if (!mb->loaded || !mb->stamp.valid || !before->valid ||
	    !after->valid || !stamp_same(&mb->stamp, before) ||
	    (!mb->trusting && stamp_unsettled(&mb->stamp) > 0))
		return 0;
	mb->stamp = *after;
	mb->trusting = 1;
	return 1;
}

void
mailbox_distrust(struct mailbox *mb)
{
	mb->trusting = 0;
}

struct mailbox_scan *
mailbox_scan_begin(struct mailbox *mb)
{
	struct mailbox_scan *scan;

	if ((scan = calloc(1, sizeof(*scan))) == NULL)
		return NULL;
	if ((scan->known = mailbox_view(mb)) == NULL) {
		free(scan);
		return NULL;
	}
	/* From here on, what the index adds or moves is newer than the scan. */
	scan->seq = ++mb->seq;
	return scan;
}

static int
has_blank_line(const char *buf, size_t len)
{
	return (len > 0 && buf[0] == '\n') ||
	       (len > 1 && buf[0] == '\r' && buf[1] == '\n') ||
	       memmem(buf, len, "\n\n", 2) != NULL ||
	       memmem(buf, len, "\n\r\n", 3) != NULL;
}

/* The whole header block of a file, however long: up to its blank line. */
static int
scan_parse(int md, struct scan_file *f)
{
	char *buf;
	size_t len;
	int rc;

	if ((buf = maildir_read(md, &f->file, SCAN_FIRST_READ, &len)) == NULL)
		return errno == ENOENT ? 0 : -1; /* gone since the listing */
	if (!has_blank_line(buf, len) && (off_t)len < f->file.size) {
		free(buf);
		if ((buf = maildir_read(md, &f->file, 0, &len)) == NULL)
			return errno == ENOENT ? 0 : -1;
	}
	rc = message_parse(buf, len, 0, &f->info);
	free(buf);
	if (rc == -1) {
		errno = ENOMEM;
		return -1;
	}
	f->parsed = 1;
	return 0;
}

/* The entry of base name name[0..len) among the known, or NULL. */
static struct mailbox_entry *
known_find(struct mailbox_entry **known, size_t cap, const char *name,
    size_t len)
{
	struct mailbox_entry *e;
	size_t h = hash_str(name, len) & (cap - 1);

	for (; (e = known[h]) != NULL; h = (h + 1) & (cap - 1))
		if (strlen(e->base) == len && memcmp(e->base, name, len) == 0)
			return e;
	return NULL;
}

static int
scan_add(struct mailbox_scan *scan, size_t *cap)
{
	struct scan_file *grown;

	if (scan->nfiles < *cap)
		return 0;
	*cap = *cap ? *cap * 2 : 64;
	if ((grown = realloc(scan->files, *cap * sizeof(*grown))) == NULL)
		return -1;
	scan->files = grown;
	return 0;
}

/*
 * List one of new/ and cur/. A known file costs a directory entry: Maildir
 * files do not change, so only the files the index lacks are stat'ed
 * (regular files only, as maildir_list) and have their headers read.
 */
static int
scan_sub(struct mailbox_scan *scan, int md, int in_cur,
    struct mailbox_entry **known, size_t kcap, size_t *cap)
{
	struct scan_file *f;
	struct dirent *de;
	struct stat st;
	DIR *d;
	size_t len;
	int fd;

	/* A link in place of new/ or cur/ is never followed: listed empty. */
	if ((fd = openat(md, in_cur ? "cur" : "new",
	         O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC)) == -1)
		return errno == ENOENT || errno == ELOOP || errno == ENOTDIR
		           ? 0
		           : -1;
	if ((d = fdopendir(fd)) == NULL) {
		close(fd);
		return -1;
	}
	while ((de = readdir(d)) != NULL) {
		if (de->d_name[0] == '.' ||
		    (len = strlen(de->d_name)) >= MAILDIR_NAME_MAX)
			continue;
		if (de->d_type == DT_LNK) {
			/* Another program's link: never followed. */
			log_warn("maildir: skipped %s/%s: a symbolic link, not "
			         "followed",
			    in_cur ? "cur" : "new", de->d_name);
			continue;
		}
		if (de->d_type != DT_REG && de->d_type != DT_UNKNOWN)
			continue;
		if (scan_add(scan, cap) == -1)
			goto fail;
		f = &scan->files[scan->nfiles];
		memset(f, 0, sizeof(*f));
		memcpy(f->file.name, de->d_name, len + 1);
		f->file.in_cur = in_cur;
		f->known = known_find(known, kcap, de->d_name,
		    base_len(de->d_name));
		if (f->known != NULL && de->d_type == DT_REG) {
			scan->nfiles++;
			continue;
		}
		if (fstatat(dirfd(d), de->d_name, &st, AT_SYMLINK_NOFOLLOW) ==
		        -1 ||
		    !S_ISREG(st.st_mode))
			continue;
		f->file.size = st.st_size;
		maildir_order(f->file.name, f->file.order);
		if (f->file.order[0] == 0)
			f->file.order[0] = (uint64_t)st.st_mtime;
		if (f->known == NULL && scan_parse(md, f) == -1)
			goto fail;
		if (f->known != NULL || f->parsed)
			scan->nfiles++;
	}
	closedir(d);
	return 0;
fail:
	closedir(d);
	return -1;
}

int
mailbox_scan_run(struct mailbox_scan *scan, int md)
{
	struct mailbox_entry **known = NULL, *e;
	size_t i, kcap, h, cap;
	struct timespec nap;
	long long wait;
	int saved;

	if (stamp_take(md, &scan->stamp) == -1)
		return -1;
	/*
	 * Just changed (by a delivery or a reader of ours, often): wait for
	 * the tick to pass, so that what this scan lists is trusted until the
	 * next change and the next request need not scan again.
	 */
	if ((wait = stamp_unsettled(&scan->stamp)) > 0 &&
	    wait <= SETTLE_WAIT_MAX_NS) {
		nap.tv_sec = (time_t)(wait / 1000000000LL);
		nap.tv_nsec = (long)(wait % 1000000000LL);
		nanosleep(&nap, NULL);
		if (stamp_take(md, &scan->stamp) == -1)
			return -1;
	}
	/* The known base names, in a table local to this thread. */
	for (kcap = 64; kcap < scan->known->n * 2; kcap *= 2)
		;
	cap = scan->known->n + 64;
	if ((known = calloc(kcap, sizeof(*known))) == NULL ||
	    (scan->files = calloc(cap, sizeof(*scan->files))) == NULL) {
		free(known);
		return -1;
	}
	for (i = 0; i < scan->known->n; i++) {
		e = scan->known->entry[i];
		h = hash_str(e->base, strlen(e->base)) & (kcap - 1);
		while (known[h] != NULL)
			h = (h + 1) & (kcap - 1);
		known[h] = e;
	}
	/* new/ before cur/: a file a reader moves in between is seen in
	 * cur/ then, rather than in neither. */
	if (scan_sub(scan, md, 0, known, kcap, &cap) == -1 ||
	    scan_sub(scan, md, 1, known, kcap, &cap) == -1) {
		saved = errno;
		free(known);
		errno = saved;
		return -1;
	}
	free(known);
	return 0;
}

int
mailbox_scan_apply(struct mailbox *mb, struct mailbox_scan *scan)
{
	struct mailbox_entry *e;
	size_t i, added = 0;
	int was_loaded = mb->loaded;

	free(scan->arrived);
	scan->arrived = NULL;
	scan->narrived = 0;
	if (was_loaded && scan->nfiles > 0 &&
	    (scan->arrived = calloc(scan->nfiles, sizeof(*scan->arrived))) ==
	        NULL)
		return -1;
	for (i = 0; i < scan->nfiles; i++) {
		struct scan_file *f = &scan->files[i];

		if ((e = f->known) == NULL)
			e = lookup(mb, f->file.name);
		if (e != NULL) {
			if (e->gone)
				continue;
			e->seen = scan->seq;
			/* Moved (a reader's flags), unless a reader of ours
			 * moved it since the listing. */
			if (e->touched < scan->seq) {
				memcpy(e->file.name, f->file.name,
				    sizeof(e->file.name));
				e->file.in_cur = f->file.in_cur;
			}
			continue;
		}
		if (grow(mb) == -1 ||
		    (e = entry_new(&f->file, &f->info)) == NULL)
			return -1;
		link_entry(mb, e, 0);
		e->seen = scan->seq;
		added++;
		/* In new/ and not there at the last scan: it arrived. */
		if (was_loaded && !e->file.in_cur)
			scan->arrived[scan->narrived++] = e;
	}
	/* Gone: known when the scan began, untouched since, not listed. */
	for (i = 0; i < scan->known->n; i++) {
		e = scan->known->entry[i];
		if (!e->gone && e->touched < scan->seq && e->seen != scan->seq)
			mailbox_remove(mb, e);
	}
	if (added > 0) {
		qsort(mb->entries, mb->n, sizeof(*mb->entries), entry_cmp);
		invalidate(mb);
	}
	mb->stamp = scan->stamp;
	mb->trusting = 0;
	mb->loaded = 1;
	return 0;
}

size_t
mailbox_scan_arrivals(const struct mailbox_scan *scan,
    struct mailbox_entry *const **list_r)
{
	*list_r = scan->arrived;
	return scan->narrived;
}

void
mailbox_scan_free(struct mailbox_scan *scan)
{
	size_t i;

	if (scan == NULL)
		return;
	for (i = 0; i < scan->nfiles; i++)
		message_info_clear(&scan->files[i].info);
	free(scan->files);
	free(scan->arrived);
	mailbox_view_release(scan->known);
	free(scan);
}

struct mailbox_entry *
mailbox_get(struct mailbox *mb, const char *id)
{
	char eid[MAILDIR_ID_MAX];
	size_t i;

	/* An id is a base name, but for names hashed into one ("="...). */
	if (id[0] != '=')
		return strchr(id, ':') == NULL ? lookup(mb, id) : NULL;
	for (i = 0; i < mb->n; i++) {
		maildir_id(mb->entries[i]->base, eid);
		if (strcmp(eid, id) == 0)
			return mb->entries[i];
	}
	return NULL;
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
