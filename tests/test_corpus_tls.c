/*
 * test_corpus_tls.c - the gate's fuzz corpus (tests/fuzz/corpus/
 * fuzz_dispatch) replayed against a real glomaild over TLS: each input's
 * bytes go to the server on a TLS connection, logged in first when its
 * first byte is odd (as the fuzz target does), and every reply must be a
 * whole OK or ERROR frame; the server serves a bystander afterwards.
 * Run in TLS mode (GLOMAIL_TEST_TLS=1): testsrv's relay carries the bytes.
 */
#include <sys/socket.h>

#include <dirent.h>
#include <poll.h>
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <cmocka.h>

#include "frame.h"
#include "msg.h"
#include "proto.h"
#include "testsrv.h"
#include "wire.h"

#define CORPUS GLOMAIL_SOURCE_DIR "/tests/fuzz/corpus/fuzz_dispatch"

static struct testsrv srv;

/* Read until the server closes (or 5 s pass); check every reply frame. */
static void
check_replies(int fd)
{
	static unsigned char buf[1 << 20];
	struct pollfd p = { .fd = fd, .events = POLLIN };
	size_t have = 0, off, blen;
	struct msg *m;
	const char *why;
	ssize_t n;

	while (poll(&p, 1, 5000) == 1) {
		if ((n = read(fd, buf + have, sizeof(buf) - have)) <= 0)
			break;
		have += (size_t)n;
		off = 0;
		while (frame_decode(buf + off, have - off, FRAME_REPLY_MAX,
		    &blen) == FRAME_READY) {
			assert_int_equal(msg_parse((const char *)buf + off +
			    FRAME_HEADER_LEN, blen, &m, &why), 0);
			assert_true(msg_header(m) == PROTO_OK ||
			    msg_header(m) == PROTO_ERROR);
			msg_free(m);
			off += FRAME_HEADER_LEN + blen;
		}
		memmove(buf, buf + off, have - off);
		have -= off;
		if (have == sizeof(buf))
			have = 0;
	}
}

static void
test_replay(void **state)
{
	char path[1024], *data;
	struct dirent *de;
	size_t len, count = 0;
	DIR *d;
	FILE *f;
	int fd;

	(void)state;
	assert_true(testsrv_tls_mode());
	assert_int_equal(testsrv_start(&srv, NULL), 0);
	assert_true((fd = testsrv_user(&srv, "fuzz", "Fuzz0Password")) >= 0);
	close(fd);
	assert_non_null(d = opendir(CORPUS));
	while ((de = readdir(d)) != NULL) {
		if (de->d_name[0] == '.')
			continue;
		snprintf(path, sizeof(path), "%s/%s", CORPUS, de->d_name);
		assert_non_null(f = fopen(path, "rb"));
		assert_non_null(data = malloc(1 << 16));
		len = fread(data, 1, 1 << 16, f);
		fclose(f);
		if (len > 0) {
			fd = (data[0] & 1) ? testsrv_user(&srv, "fuzz",
			    "Fuzz0Password") : testsrv_connect(&srv);
			assert_true(fd >= 0);
			(void)wire_write_all(fd, data + 1, len - 1);
			shutdown(fd, SHUT_WR);
			check_replies(fd);
			close(fd);
			count++;
		}
		free(data);
	}
	closedir(d);
	assert_true(count > 0);
	/* Still serving. */
	assert_true((fd = testsrv_user(&srv, "bystander", "Bystander0Pw"))
	    >= 0);
	assert_int_equal(testsrv_request(fd, PROTO_STATS_REQUEST, NULL, NULL),
	    PROTO_OK);
	close(fd);
	testsrv_stop(&srv);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_replay),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
