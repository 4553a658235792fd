/*
 * test_ctl_import.c - reading the original servers' data directories: the
 * two real ones shipped in tests/data/seed-data, and the other layouts
 * editions are known to write, each built in a scratch directory, with
 * everything odd reported and left out.
 */
#include <sys/stat.h>

#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <cmocka.h>

#include "ctl_import.h"
#include "testsrv.h"

static const struct import_account *
account(const struct import_plan *p, const char *name)
{
	size_t i;

	static const struct import_account none;

	for (i = 0; i < p->naccounts; i++)
		if (strcmp(p->accounts[i].name, name) == 0)
			return &p->accounts[i];
	fail_msg("no account %s", name);
	return &none;
}

static const struct import_mail *
mail(const struct import_plan *p, const char *owner, const char *subject)
{
	size_t i;

	static const struct import_mail none;

	for (i = 0; i < p->nmails; i++)
		if (strcmp(p->mails[i].owner, owner) == 0 &&
		    strcmp(p->mails[i].subject, subject) == 0)
			return &p->mails[i];
	fail_msg("no mail \"%s\" for \"%s\"", subject, owner);
	return &none;
}

static int
has_problem(const struct import_plan *p, const char *needle)
{
	size_t i;

	for (i = 0; i < p->nproblems; i++)
		if (strstr(p->problems[i], needle) != NULL)
			return 1;
	return 0;
}

static void
test_alexctz(void **state)
{
	struct import_plan *p;
	const struct import_account *a;
	const struct import_mail *m;

	(void)state;
	assert_int_equal(import_scan(GLOMAIL_SOURCE_DIR
	                     "/tests/data/seed-data/alexctz-tp_4",
	                     &p),
	    0);
	assert_int_equal(p->nproblems, 0);
	assert_int_equal(p->naccounts, 3);
	assert_non_null(a = account(p, "carol.dupont"));
	assert_int_equal(a->kind, IMPORT_SHA3_512);
	assert_string_equal(a->hex,
	    "ff39bea3f1943fdad18280b8a0d1dbf2b5840492"
	    "cae988e3762623c2e091dea3b3af333db6970418816c9a9e446f979321b34e3e"
	    "659d9daa0f76aa746d045b4f");
	assert_int_equal(a->nmail, 0);
	assert_int_equal(account(p, "bob")->nmail, 3);
	assert_int_equal(account(p, "alice")->nmail, 3);
	assert_int_equal(p->nmails, 7);
	m = mail(p, "bob", "R\xc3\xa9union \xc3\xa0 10h \xe2\x9c\x93");
	assert_non_null(m);
	assert_string_equal(m->sender, "alice@glo2000.ca");
	assert_string_equal(m->content,
	    "Bonjour Bob,\n\xc3\x80 demain.\n\xe2\x80\x94 Alice");
	assert_int_equal(m->when, 1731593700);
	assert_string_equal(m->path, "bob/email_1731593700.json");
	assert_int_equal(strlen(m->id), 32);
	m = mail(p, "", "Test");
	assert_non_null(m);
	assert_string_equal(m->destination, "nobody@glo2000.ca");
	import_plan_free(p);
}

static void
test_lobou(void **state)
{
	struct import_plan *p, *again;
	const struct import_account *a;
	const struct import_mail *m;
	size_t i;

	(void)state;
	assert_int_equal(import_scan(GLOMAIL_SOURCE_DIR
	                     "/tests/data/seed-data/lobou-tp4-reseaux",
	                     &p),
	    0);
	assert_int_equal(p->nproblems, 0);
	assert_int_equal(p->naccounts, 3);
	assert_non_null(a = account(p, "bob"));
	assert_string_equal(a->folder, "BOB");
	assert_int_equal(a->kind, IMPORT_SHA3_224);
	assert_string_equal(a->hex,
	    "0a39d7b8e94e3254c8092eb16ee4d065701e42fb12ad0b890fc614e8");
	assert_non_null(account(p, "carol.dupont"));
	assert_int_equal(p->nmails, 7);
	m = mail(p, "alice", "Projet de session");
	assert_non_null(m);
	assert_string_equal(m->sender, "Carol.Dupont@glo2000.ca");
	assert_string_equal(m->destination, "ALICE@glo2000.ca");
	assert_non_null(mail(p, "", "Test"));
	/* The same files give the same ids: what makes an import idempotent. */
	assert_int_equal(import_scan(GLOMAIL_SOURCE_DIR
	                     "/tests/data/seed-data/lobou-tp4-reseaux",
	                     &again),
	    0);
	assert_int_equal(again->nmails, p->nmails);
	for (i = 0; i < p->nmails; i++) {
		m = mail(again, p->mails[i].owner, p->mails[i].subject);
		assert_non_null(m);
		assert_string_equal(m->id, p->mails[i].id);
	}
	import_plan_free(again);
	import_plan_free(p);
}

static void
put(const char *dir, const char *rel, const char *text)
{
	char path[600];
	FILE *f;

	snprintf(path, sizeof(path), "%s/%s", dir, rel);
	f = fopen(path, "w");
	assert_non_null(f);
	fputs(text, f);
	assert_int_equal(fclose(f), 0);
}

static void
dir(const char *base, const char *rel)
{
	char path[600];

	snprintf(path, sizeof(path), "%s/%s", base, rel);
	assert_int_equal(mkdir(path, 0700), 0);
}

#define MAIL(to, subj) \
	"{\"content\": \"x\", \"date\": \"Tue, 21 Nov 2023 08:21:44 +0000\"," \
	" \"subject\": \"" subj "\", \"destination\": \"" to "\"," \
	" \"sender\": \"a@glo2000.ca\"}"
#define H512 \
	"1142be0da77116aaf8e3a99344606e492e29c6acaa9c5e868cef6066bfa5" \
	"45a1781d9e97a0dd9db31a11509f1832bd49d6f756efd5370237dc4fcfbfc0e6cc25"
#define H224 "ff838b69ff57a6de6288741c842f37952fcd86cd29817c1ba18c6bd8"

static void
test_layouts(void **state)
{
	char d[256], path[600];
	struct import_plan *p;
	const struct import_account *a;

	(void)state;
	assert_int_equal(testsrv_scratch(d, sizeof(d), "import"), 0);
	/* As typed, pass.json with "password", mail in emails/, indented. */
	dir(d, "Dana");
	put(d, "Dana/pass.json", "{\n  \"password\": \"" H224 "\"\n}\n");
	dir(d, "Dana/emails");
	put(d, "Dana/emails/0001",
	    "{\n    \"sender\": \"b@glo2000.ca\",\n"
	    "    \"destination\": \"dana@glo2000.ca\",\n    \"subject\": "
	    "\"Caf\xc3\xa9\",\n    \"date\": \"Tue, 21 Nov 2023 08:21:44 "
	    "+0000\",\n    \"content\": \"raw UTF-8 \xe2\x9c\x93\"\n}\n");
	put(d, "Dana/emails/3f2a.json", MAIL("DANA@glo2000.ca", "two"));
	/* Upper-case hex with a newline, raw. */
	dir(d, "erin");
	put(d, "erin/pass",
	    "1142BE0DA77116AAF8E3A99344606E492E29C6ACAA9C5E868CE"
	    "F6066BFA545A1781D9E97A0DD9DB31A11509F1832BD49D6F756EFD5370237DC4"
	    "FCFBFC0E6CC25\n");
	/* Two folders folding to one name: both left out. */
	dir(d, "frank");
	put(d, "frank/pass", H512);
	put(d, "frank/m1", MAIL("frank@glo2000.ca", "f1"));
	dir(d, "FRANK");
	put(d, "FRANK/pass", H512);
	/* No password, a bad digest, a bad name, a file at the top. */
	dir(d, "gina");
	put(d, "gina/m1", MAIL("gina@glo2000.ca", "g1"));
	dir(d, "hank");
	put(d, "hank/pass", "{\"password_hash\": \"1234\"}");
	dir(d, "bad name!");
	put(d, "bad name!/pass", H512);
	put(d, "stray.txt", "x");
	/* Odd mail: not JSON, a key missing, a bad date, a link, too deep. */
	put(d, "erin/broken", "{\"sender\": ");
	put(d, "erin/nokey", "{\"sender\": \"a\", \"subject\": \"s\"}");
	put(d, "erin/baddate",
	    "{\"sender\": \"a\", \"destination\": \"b\", "
	    "\"subject\": \"s\", \"date\": \"yesterday\", \"content\": \"\"}");
	snprintf(path, sizeof(path), "%s/erin/link", d);
	assert_int_equal(symlink("/etc/passwd", path), 0);
	dir(d, "erin/a");
	dir(d, "erin/a/b");
	put(d, "erin/a/b/deep", MAIL("erin@glo2000.ca", "deep"));
	put(d, "erin/ok", MAIL("erin@glo2000.ca", "ok"));
	/* lost, in lower case. */
	dir(d, "lost");
	put(d, "lost/x", MAIL("nobody@glo2000.ca", "lost one"));
	snprintf(path, sizeof(path), "%s/ivan", d);
	assert_int_equal(symlink("/tmp", path), 0);

	assert_int_equal(import_scan(d, &p), 0);
	assert_int_equal(p->naccounts, 2);
	assert_non_null(a = account(p, "dana"));
	assert_int_equal(a->kind, IMPORT_SHA3_224);
	assert_string_equal(a->hex, H224);
	assert_int_equal(a->nmail, 2);
	assert_non_null(a = account(p, "erin"));
	assert_int_equal(a->kind, IMPORT_SHA3_512);
	assert_string_equal(a->hex, H512);
	assert_int_equal(a->nmail, 1);
	assert_non_null(mail(p, "dana", "Caf\xc3\xa9"));
	assert_non_null(mail(p, "dana", "two"));
	assert_non_null(mail(p, "erin", "ok"));
	assert_non_null(mail(p, "", "lost one"));
	assert_int_equal(p->nmails, 4);
	assert_true(has_problem(p, "frank: folds to the name \"frank\""));
	assert_true(has_problem(p, "FRANK: folds to the name \"frank\""));
	assert_true(has_problem(p, "gina: no readable password file"));
	assert_true(has_problem(p, "hank: password file: not a SHA3"));
	assert_true(has_problem(p, "bad name!: not a valid user name"));
	assert_true(has_problem(p, "stray.txt: not an account folder"));
	assert_true(has_problem(p, "ivan: a symbolic link"));
	assert_true(has_problem(p, "erin/broken: not a mail file"));
	assert_true(has_problem(p, "erin/nokey: not a mail file (no "
	                           "\"destination\""));
	assert_true(has_problem(p, "erin/baddate: date \"yesterday\""));
	assert_true(has_problem(p, "erin/link: a symbolic link"));
	assert_true(has_problem(p, "erin/a/b: a folder too deep"));
	assert_int_equal(p->nproblems, 12);
	import_plan_free(p);
	testsrv_remove_tree(d);
	assert_int_equal(import_scan("/nonexistent/dir", &p), -1);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_alexctz),
		cmocka_unit_test(test_lobou),
		cmocka_unit_test(test_layouts),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
