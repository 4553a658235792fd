/*
 * test_faults.c - a full disk or an I/O error while storing mail, on the
 * glomaild-faults test build: every step of a delivery and of an account's
 * creation is made to fail in turn. The sender gets ERROR, nothing partial
 * is left in tmp/, new/ or cur/, the server keeps serving, and once space is
 * back delivery works again.
 */
#include <sys/stat.h>
#include <sys/wait.h>

#include <setjmp.h>
#include <signal.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <cmocka.h>

#include "frame.h"
#include "hostile.h"
#include "msg.h"
#include "proto.h"
#include "testfs.h"
#include "testsrv.h"
#include "wire.h"

static struct testsrv srv;
static char faults[256];   /* the control file glomaild-faults reads */

static int
setup(void **state)
{
	(void)state;
	snprintf(faults, sizeof(faults), "%s/glomail-faults.%ld",
	    getenv("TMPDIR") != NULL ? getenv("TMPDIR") : "/tmp",
	    (long)getpid());
	unlink(faults);
	setenv("GLOMAIL_FAULTS", faults, 1);
	setenv("GLOMAILD", GLOMAIL_BINARY_DIR "/server/glomaild-faults", 1);
	return testsrv_start(&srv, NULL);
}

static int
teardown(void **state)
{
	(void)state;
	testsrv_stop(&srv);
	unlink(faults);
	return 0;
}

static void
fault_set(const char *line)
{
	FILE *f;

	if (line == NULL) {
		unlink(faults);
		return;
	}
	assert_non_null(f = fopen(faults, "w"));
	fprintf(f, "%s\n", line);
	fclose(f);
}

static int
send_mail(int fd, const char *to, const char *subject, const char *content,
    char *text, size_t len)
{
	struct msg_email e = { "alice@glo2000.ca", to, subject, NULL, content };

	assert_int_equal(wire_send(fd, PROTO_EMAIL_SENDING, msg_email_new(&e),
	    FRAME_MAX_DEFAULT), 0);
	return hostile_reply(fd, 20000, text, len);
}

/* The store of bob and LOST is exactly as it was: n messages, no tmp. */
static void
check_store(int bob_messages)
{
	assert_int_equal(testfs_count("%s/bob/new", srv.data) + testfs_count("%s/bob/cur", srv.data),
	    bob_messages);
	assert_int_equal(testfs_count("%s/bob/tmp", srv.data), 0);
	assert_int_equal(testfs_count("%s/LOST/new", srv.data) + testfs_count("%s/LOST/cur", srv.data), 0);
	assert_int_equal(testfs_count("%s/LOST/tmp", srv.data), 0);
	assert_int_equal(waitpid(srv.pid, NULL, WNOHANG), 0);
}

static void
test_delivery_faults(void **state)
{
	static const char *const steps[] = {
		"create ENOSPC", "write ENOSPC", "write EIO", "write EDQUOT",
		"fsync EIO", "fsync ENOSPC", "close EIO", "rename ENOSPC",
		"fsync-new EIO",
	};
	char text[256], big[200000];
	struct msg *reply = NULL;
	union msg_args a;
	const char *why;
	int alice, bob, messages = 0;
	size_t i;

	(void)state;
	assert_true((alice = testsrv_connect(&srv)) >= 0);
	assert_int_equal(testsrv_auth(alice, PROTO_AUTH_REGISTER, "alice",
	    HOSTILE_PASSWORD), PROTO_OK);
	assert_true((bob = hostile_user(&srv, "bob")) >= 0);
	assert_int_equal(send_mail(alice, "bob@glo2000.ca", "before", "one",
	    text, sizeof(text)), PROTO_OK);
	messages++;
	memset(big, 'x', sizeof(big) - 1);
	big[sizeof(big) - 1] = '\0';
	for (i = 0; i < sizeof(steps) / sizeof(steps[0]); i++) {
		fault_set(steps[i]);
		if (send_mail(alice, "bob@glo2000.ca", steps[i], big, text,
		    sizeof(text)) != PROTO_ERROR)
			fail_msg("%s: the delivery was acknowledged", steps[i]);
		assert_string_equal(text, "message could not be stored");
		/* Undeliverable mail kept in LOST fails the same way. */
		assert_int_equal(send_mail(alice, "nobody@glo2000.ca", steps[i],
		    "lost", text, sizeof(text)), PROTO_ERROR);
		assert_string_equal(text, "message could not be stored");
		check_store(messages);
		/* The index was not told of a message that is not there. */
		assert_int_equal(testsrv_request(bob, PROTO_STATS_REQUEST, NULL,
		    &reply), PROTO_OK);
		assert_int_equal(msg_unpack(reply, PROTO_SHAPE_STATS, &a, &why),
		    0);
		assert_int_equal(a.stats.count, messages);
		msg_free(reply);
		/* Space is back: the next delivery works. */
		fault_set(NULL);
		assert_int_equal(send_mail(alice, "bob@glo2000.ca", "after",
		    big, text, sizeof(text)), PROTO_OK);
		messages++;
		check_store(messages);
	}
	/* What was stored after the faults reads back whole. */
	assert_int_equal(testsrv_request(bob, PROTO_INBOX_READING_REQUEST, NULL,
	    NULL), PROTO_OK);
	assert_int_equal(hostile_send_json(bob, "{\"header\": 8, \"payload\": "
	    "{\"choice\": 1}}"), 0);
	assert_int_equal(hostile_recv(bob, 20000, &reply), HOSTILE_FRAME);
	assert_int_equal(msg_header(reply), PROTO_OK);
	assert_int_equal(msg_unpack(reply, PROTO_SHAPE_EMAIL, &a, &why), 0);
	assert_string_equal(a.email.content, big);
	msg_free(reply);
	assert_true(testsrv_log_contains(&srv, "failed at write: No space"));
	close(alice);
	close(bob);
}

static void
test_account_faults(void **state)
{
	char text[256];
	int fd;

	(void)state;
	fault_set("account ENOSPC");
	assert_true((fd = testsrv_connect(&srv)) >= 0);
	assert_int_equal(wire_send(fd, PROTO_AUTH_REGISTER,
	    msg_credentials_new("carol", HOSTILE_PASSWORD), FRAME_MAX_DEFAULT),
	    0);
	assert_int_equal(hostile_reply(fd, 20000, text, sizeof(text)),
	    PROTO_ERROR);
	assert_string_equal(text, "server error");
	/* No account, and no half-built one. */
	assert_int_equal(testfs_count_prefix("carol", "%s", srv.data), 0);
	assert_int_equal(testfs_count_prefix(".new-", "%s", srv.data), 0);
	fault_set(NULL);
	assert_int_equal(testsrv_auth(fd, PROTO_AUTH_REGISTER, "carol",
	    HOSTILE_PASSWORD), PROTO_OK);
	assert_int_equal(testfs_count_prefix("carol", "%s", srv.data), 1);
	close(fd);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(test_delivery_faults, setup,
		    teardown),
		cmocka_unit_test_setup_teardown(test_account_faults, setup,
		    teardown),
	};

	signal(SIGPIPE, SIG_IGN);
	return cmocka_run_group_tests(tests, NULL, NULL);
}
