/*
 * ctl_seed.c - import-seed: an original server's data directory, scanned
 * into a plan (ctl_import.c), applied to the store.
 *
 * Idempotent and crash-safe by construction: an account is created in one
 * rename (staged, as registration does) holding its legacy digest and an
 * "imported" marker; each mail is written under a name derived from its
 * stable id, and only if no file of that name is there. A second run finds
 * what the first one made and adds only what is missing, so an import cut
 * short by a crash is completed by running it again. An account of the
 * same name that no import made is a clash: reported, its mail skipped.
 */
#include <errno.h>
#include <unistd.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "account.h"
#include "ctl.h"
#include "ctl_import.h"
#include "ctl_store.h"
#include "log.h"
#include "mailbox.h"
#include "maildir.h"
#include "message.h"
#include "rules.h"
#include "server.h"
#include "users.h"

/* A mail the import added for an account, to index on the reactor. */
struct added {
	char owner[RULES_USERNAME_MAX + 1];
	struct maildir_file file;
	struct message_info info;
};

struct seed_job {
	struct ctl_conn *cc;
	struct server *srv;
	char *source;
	int dry_run;
	int failed, error;
	json_t *out;
	json_t *problems;
	struct added *added;
	size_t nadded, cap;
	size_t mails_added, mails_present;
};

/* One import at a time: two would only race each other on one plan. */
static int seed_running;

static void
seed_job_free(struct seed_job *j)
{
	size_t i;

	for (i = 0; i < j->nadded; i++)
		message_info_clear(&j->added[i].info);
	free(j->added);
	free(j->source);
	json_decref(j->out);
	json_decref(j->problems);
	free(j);
}

static void __attribute__((format(printf, 2, 3)))
seed_problem(struct seed_job *j, const char *fmt, ...)
{
	char line[1024];
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(line, sizeof(line), fmt, ap);
	va_end(ap);
	json_array_append_new(j->problems, json_string(line));
}

/* The file name of an imported mail: its date, then its id. */
static void
mail_base(const struct import_mail *m, char *buf, size_t len)
{
	snprintf(buf, len, "%lld.I%s.glomail-import",
	    (long long)(m->when > 0 ? m->when : 0), m->id);
}

/* What an account of the plan becomes: created, present, or a clash. */
enum acct_state { A_CREATE, A_PRESENT, A_CLASH, A_FAILED };

static enum acct_state
seed_account(struct seed_job *j, const struct import_account *a)
{
	int data = server_data_fd(j->srv);
	const char *step = "?";
	char pass[ACCOUNT_PASS_MAX], marker[600];

	if (users_exists(data, a->name))
		return account_has(data, a->name, ACCOUNT_IMPORTED) ?
		    A_PRESENT : A_CLASH;
	if (j->dry_run)
		return A_CREATE;
	snprintf(pass, sizeof(pass), "%s%s", import_hash_scheme(a->kind),
	    a->hex);
	snprintf(marker, sizeof(marker), "from %.500s\n", a->folder);
	switch (users_create_pass(data, a->name, pass, ACCOUNT_IMPORTED, marker,
	    &step)) {
	case USERS_OK:
		return A_CREATE;
	case USERS_TAKEN: /* made meanwhile, by someone else */
		return account_has(data, a->name, ACCOUNT_IMPORTED) ?
		    A_PRESENT : A_CLASH;
	default:
		seed_problem(j, "%s: cannot create the account: %s: %s",
		    a->name, step, strerror(errno));
		return A_FAILED;
	}
}

static int seed_deliver(struct seed_job *j, const struct import_mail *m,
    int dir, const char *base, const char *domain);

/* Deliver one mail (or, dry, see whether it is there). 1 added, 0 there. */
static int
seed_mail(struct seed_job *j, const struct import_mail *m)
{
	const char *domain = server_cfg(j->srv)->domain;
	const char *owner = m->owner[0] != '\0' ? m->owner : RULES_LOST_DIR;
	char base[MAILDIR_NAME_MAX];
	int dir, rc;

	mail_base(m, base, sizeof(base));
	if ((dir = maildir_open(server_data_fd(j->srv), owner)) == -1) {
		seed_problem(j, "%s: cannot open the folder of %s: %s",
		    m->path, owner, strerror(errno));
		return -1;
	}
	if (j->dry_run) {
		rc = ctl_store_find(dir, base, NULL) ? 0 : 1;
		close(dir);
		return rc;
	}
	rc = seed_deliver(j, m, dir, base, domain);
	close(dir);
	return rc;
}

/* Build and store one mail in the Maildir dir. 1 added, 0 there, -1. */
static int
seed_deliver(struct seed_job *j, const struct import_mail *m, int dir,
    const char *base, const char *domain)
{
	const char *step = "?";
	char msgid[128];
	struct added *ad, *grown;
	size_t len;
	char *data;
	int existed;

	if (rules_header_safe(m->sender) == -1 ||
	    rules_header_safe(m->destination) == -1 ||
	    rules_header_safe(m->subject) == -1 ||
	    rules_header_safe(m->date) == -1) {
		seed_problem(j, "%s: a header field holds a line break or a "
		    "control character: skipped", m->path);
		return -1;
	}
	snprintf(msgid, sizeof(msgid), "<import.%s@%s>", m->id, domain);
	if ((data = message_build(m->sender, m->destination, m->subject,
	    m->date, msgid, m->content, &len)) == NULL) {
		seed_problem(j, "%s: out of memory", m->path);
		return -1;
	}
	if (ctl_store_deliver_named(dir, base, data, len, m->when, &existed,
	    &step) == -1) {
		seed_problem(j, "%s: cannot store it: %s: %s", m->path, step,
		    strerror(errno));
		free(data);
		return -1;
	}
	if (!existed && m->owner[0] != '\0') {
		if (j->nadded == j->cap) {
			j->cap = j->cap ? j->cap * 2 : 64;
			if ((grown = realloc(j->added, j->cap *
			    sizeof(*grown))) == NULL)
				goto out;
			j->added = grown;
		}
		ad = &j->added[j->nadded];
		memset(ad, 0, sizeof(*ad));
		snprintf(ad->owner, sizeof(ad->owner), "%s", m->owner);
		snprintf(ad->file.name, sizeof(ad->file.name), "%s", base);
		ad->file.size = (off_t)len;
		maildir_order(base, ad->file.order);
		if (message_parse(data, len, 0, &ad->info) == 0)
			j->nadded++;
	}
out:
	free(data);
	return existed ? 0 : 1;
}

static void
seed_work(void *arg)
{
	struct seed_job *j = arg;
	struct import_plan *plan;
	enum acct_state *st = NULL;
	json_t *accts, *lost;
	size_t i, k, lost_added = 0, lost_present = 0;
	int rc;

	if (import_scan(j->source, &plan) == -1) {
		j->failed = 1;
		j->error = errno;
		return;
	}
	for (i = 0; i < plan->nproblems; i++)
		json_array_append_new(j->problems,
		    json_string(plan->problems[i]));
	accts = json_array();
	if (plan->naccounts > 0 &&
	    (st = calloc(plan->naccounts, sizeof(*st))) == NULL) {
		j->failed = 1;
		j->error = ENOMEM;
		json_decref(accts);
		import_plan_free(plan);
		return;
	}
	for (i = 0; i < plan->naccounts; i++) {
		st[i] = seed_account(j, &plan->accounts[i]);
		if (st[i] == A_CLASH)
			seed_problem(j, "%s: an account of that name exists and "
			    "was not imported: its %zu messages are skipped",
			    plan->accounts[i].name, plan->accounts[i].nmail);
	}
	for (i = 0; i < plan->naccounts; i++) {
		size_t added = 0, present = 0;

		for (k = 0; k < plan->nmails; k++) {
			if (strcmp(plan->mails[k].owner,
			    plan->accounts[i].name) != 0)
				continue;
			if (st[i] == A_CLASH || st[i] == A_FAILED)
				continue;
			/* A dry run's new account has nothing yet. */
			rc = j->dry_run && st[i] == A_CREATE ? 1 :
			    seed_mail(j, &plan->mails[k]);
			if (rc == 1)
				added++;
			else if (rc == 0)
				present++;
		}
		j->mails_added += added;
		j->mails_present += present;
		json_array_append_new(accts, json_pack("{s:s, s:s, s:s, s:s,"
		    " s:I, s:I}", "name", plan->accounts[i].name, "folder",
		    plan->accounts[i].folder, "password",
		    import_hash_scheme(plan->accounts[i].kind), "action",
		    st[i] == A_CREATE ? (j->dry_run ? "create" : "created") :
		    st[i] == A_PRESENT ?
		    "present" : st[i] == A_CLASH ? "clash" : "failed",
		    "added", (json_int_t)added, "present",
		    (json_int_t)present));
	}
	for (k = 0; k < plan->nmails; k++) {
		if (plan->mails[k].owner[0] != '\0')
			continue;
		rc = seed_mail(j, &plan->mails[k]);
		if (rc == 1)
			lost_added++;
		else if (rc == 0)
			lost_present++;
	}
	j->mails_added += lost_added;
	j->mails_present += lost_present;
	lost = json_pack("{s:I, s:I}", "added", (json_int_t)lost_added,
	    "present", (json_int_t)lost_present);
	j->out = json_pack("{s:s, s:b, s:o, s:o, s:I, s:I}", "source",
	    j->source, "dry_run", j->dry_run, "accounts", accts, "lost", lost,
	    "added", (json_int_t)j->mails_added, "present",
	    (json_int_t)j->mails_present);
	free(st);
	import_plan_free(plan);
}

static void
seed_done(void *arg)
{
	struct seed_job *j = arg;
	struct ctl_conn *cc = j->cc;
	struct mailbox *mb;
	size_t i;

	seed_running = 0;
	if (j->failed) {
		log_warn("control: import-seed %s: %s", j->source,
		    strerror(j->error));
		ctl_reply_error(cc, j->error == ENOMEM ? "server error" :
		    "the source directory cannot be read");
		goto out;
	}
	/* Loaded indexes learn of what was added, as for a delivery. */
	for (i = 0; i < j->nadded; i++)
		if ((mb = mailbox_find(server_mailboxes(j->srv),
		    j->added[i].owner)) != NULL &&
		    mailbox_add(mb, &j->added[i].file, &j->added[i].info) == -1)
			log_error("cannot index an imported mail of %s",
			    j->added[i].owner);
	if (!j->dry_run) {
		for (i = 0; i < j->mails_added; i++)
			server_count_delivery(j->srv);
		ctl_log_change(cc, "import-seed %s: %zu messages added, %zu "
		    "already there, %zu problems", j->source, j->mails_added,
		    j->mails_present, json_array_size(j->problems));
	}
	if (j->out == NULL) {
		ctl_reply_error(cc, "server error");
		goto out;
	}
	json_object_set(j->out, "problems", j->problems);
	ctl_reply(cc, json_incref(j->out));
out:
	ctl_release(cc);
	seed_job_free(j);
}

void
ctl_do_import_seed(struct ctl_conn *cc, json_t *payload)
{
	struct seed_job *j;
	const char *source;
	int dry;

	if (ctl_arg_string(cc, payload, "source", 0, &source) == -1 ||
	    ctl_arg_bool(cc, payload, "dry_run", &dry) == -1)
		return;
	if (source[0] != '/') {
		ctl_reply_error(cc, "the source must be an absolute path");
		return;
	}
	if (seed_running) {
		ctl_reply_error(cc, "an import is already running");
		return;
	}
	if ((j = calloc(1, sizeof(*j))) == NULL ||
	    (j->source = strdup(source)) == NULL ||
	    (j->problems = json_array()) == NULL) {
		if (j != NULL)
			free(j->source);
		free(j);
		ctl_reply_error(cc, "server error");
		return;
	}
	j->cc = cc;
	j->srv = ctl_server(cc);
	j->dry_run = dry;
	if (ctl_submit(cc, server_store_pool(j->srv), seed_work, seed_done,
	    j) == -1) {
		seed_job_free(j);
		return;
	}
	seed_running = 1;
}
