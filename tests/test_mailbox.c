/*
 * test_mailbox.c - the in-memory index: order, stats, views, cached list
 * frame, the registry's reference counting.
 */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "testassert.h"

#include "frame.h"
#include "mailbox.h"
#include "msg.h"

static void
add_as(struct mailbox *mb, int scanned, const char *name, time_t when,
    off_t size, const char *subject)
{
	char from[] = "a@glo2000.ca", to[] = "b@glo2000.ca", date[] = "D";
	char subj[128];
	struct maildir_file f;
	struct message_info info = { from, to, subj, date, when, NULL, NULL };

	snprintf(subj, sizeof(subj), "%s", subject);

	memset(&f, 0, sizeof(f));
	snprintf(f.name, sizeof(f.name), "%s", name);
	f.size = size;
	maildir_order(name, f.order);
	if (scanned)
		assert_int_equal(mailbox_add_scanned(mb, &f, &info), 0);
	else
		assert_int_equal(mailbox_add(mb, &f, &info), 0);
}

static void
add(struct mailbox *mb, const char *name, time_t when, off_t size,
    const char *subject)
{
	add_as(mb, 0, name, when, size, subject);
}

static void
test_order_and_stats(void **state)
{
	struct mailboxes *all = mailboxes_new();
	struct mailbox *mb = mailbox_acquire(all, "bob");
	struct mailbox_view *v;

	(void)state;
	mailbox_set_loaded(mb);
	add(mb, "100.M1P1Q1.h", 100, 10, "old");
	add(mb, "300.M1P1Q2.h", 300, 20, "newest");
	add(mb, "200.M5P1Q3.h", 200, 30, "middle-late");
	add(mb, "200.M4P1Q4.h", 200, 40, "middle-early");
	assert_int_equal(mailbox_count(mb), 4);
	assert_int_equal(mailbox_size(mb), 100);
	v = mailbox_view(mb);
	assert_int_equal(v->n, 4);
	/* Newest first; same date: later delivery first. */
	assert_non_null(strstr(v->entry[0]->line, "newest"));
	assert_non_null(strstr(v->entry[1]->line, "middle-late"));
	assert_non_null(strstr(v->entry[2]->line, "middle-early"));
	assert_non_null(strstr(v->entry[3]->line, "old"));
	assert_string_equal(v->entry[3]->line, "a@glo2000.ca - old D");
	/* A view survives changes: it is what the client saw. */
	add(mb, "400.M1P1Q5.h", 400, 1, "later");
	assert_int_equal(v->n, 4);
	mailbox_view_release(v);
	v = mailbox_view(mb);
	assert_int_equal(v->n, 5);
	mailbox_view_release(v);
	mailbox_release(mb);
	mailboxes_free(all);
}

/*
 * While loading, a message seen by both a delivery and the scan counts
 * once; once loaded, deliveries are not remembered apart.
 */
static void
test_dedupe_while_loading(void **state)
{
	struct mailboxes *all = mailboxes_new();
	struct mailbox *mb = mailbox_acquire(all, "carl");

	(void)state;
	assert_false(mailbox_loaded(mb));
	add(mb, "100.M1P1Q1.h", 100, 10, "delivered");
	add_as(mb, 1, "100.M1P1Q1.h:2,S", 100, 10, "scanned twin");
	add_as(mb, 1, "90.M1P1Q1.h:2,S", 90, 5, "scanned other");
	assert_int_equal(mailbox_count(mb), 2);
	assert_int_equal(mailbox_size(mb), 15);
	mailbox_set_loaded(mb);
	add(mb, "110.M1P1Q1.h", 110, 1, "after");
	assert_int_equal(mailbox_count(mb), 3);
	mailbox_release(mb);
	mailboxes_free(all);
}

static void
test_list_frame(void **state)
{
	struct mailboxes *all = mailboxes_new();
	struct mailbox *mb = mailbox_acquire(all, "dana");
	const unsigned char *frame, *again;
	size_t len, blen;
	struct msg *m;
	union msg_args a;
	const char *why;

	(void)state;
	mailbox_set_loaded(mb);
	frame = mailbox_list_frame(mb, FRAME_MAX_DEFAULT, &len);
	assert_non_null(frame);
	assert_bytes_equal(frame + 4, len - 4, "{\"header\": 1, \"payload\": "
	    "{\"email_list\": []}}");
	add(mb, "1.M1P1Q1.h", 1, 5, "R\xc3\xa9union");
	frame = mailbox_list_frame(mb, FRAME_MAX_DEFAULT, &len);
	assert_int_equal(frame_decode(frame, len, FRAME_MAX_DEFAULT, &blen),
	    FRAME_READY);
	assert_int_equal(msg_parse(frame + 4, blen, &m, &why), 0);
	assert_int_equal(msg_unpack(m, PROTO_SHAPE_EMAIL_LIST, &a, &why), 0);
	assert_string_equal(json_string_value(json_array_get(a.email_list, 0)),
	    "#1 a@glo2000.ca - R\xc3\xa9union D");
	msg_free(m);
	/* Cached until the mailbox changes. */
	again = mailbox_list_frame(mb, FRAME_MAX_DEFAULT, &len);
	assert_ptr_equal(again, frame);
	frame = mailbox_stats_frame(mb, &len);
	assert_bytes_equal(frame + 4, len - 4, "{\"header\": 1, \"payload\": "
	    "{\"count\": 1, \"size\": 5}}");
	add(mb, "2.M1P1Q1.h", 2, 7, "second");
	frame = mailbox_stats_frame(mb, &len);
	assert_bytes_equal(frame + 4, len - 4, "{\"header\": 1, \"payload\": "
	    "{\"count\": 2, \"size\": 12}}");
	mailbox_release(mb);
	mailboxes_free(all);
}

static void
test_registry(void **state)
{
	struct mailboxes *all = mailboxes_new();
	struct mailbox *a, *b;

	(void)state;
	assert_null(mailbox_find(all, "eve"));
	a = mailbox_acquire(all, "eve");
	b = mailbox_acquire(all, "eve");
	assert_ptr_equal(a, b);
	assert_ptr_equal(mailbox_find(all, "eve"), a);
	mailbox_release(a);
	assert_ptr_equal(mailbox_find(all, "eve"), b);
	mailbox_release(b);
	assert_null(mailbox_find(all, "eve"));
	mailboxes_free(all);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_order_and_stats),
		cmocka_unit_test(test_dedupe_while_loading),
		cmocka_unit_test(test_list_frame),
		cmocka_unit_test(test_registry),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
