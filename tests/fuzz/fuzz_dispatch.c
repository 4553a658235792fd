/*
 * fuzz_dispatch.c - libFuzzer target for the gate and the handlers behind
 * it: the input is what a peer sends on one connection, to a real server
 * context on a scratch store, through a socketpair and a private event loop
 * (no TCP, no listener). The first byte chooses whether the connection
 * starts logged in, so the handlers behind the login are reached without
 * paying for a password hash on every input. Every reply must be a valid
 * frame, and the server must stay consistent (ASan and UBSan watch).
 */
#include <sys/socket.h>
#include <sys/stat.h>

#include <errno.h>
#include <fcntl.h>
#include <ftw.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <sodium.h>

#include "config.h"
#include "conn.h"
#include "frame.h"
#include "log.h"
#include "mailbox.h"
#include "msg.h"
#include "server.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);
int LLVMFuzzerInitialize(int *argc, char ***argv);

static struct config cfg;
static struct server *srv;

static char dir[] = "/tmp/glomail-fuzz.XXXXXX";

static int
rm_entry(const char *path, const struct stat *st, int flag, struct FTW *ftw)
{
	(void)st;
	(void)flag;
	(void)ftw;
	remove(path);
	return 0;
}

/* The scratch store goes when the run ends (a crash leaves it to look at). */
static void
remove_store(void)
{
	nftw(dir, rm_entry, 16, FTW_DEPTH | FTW_PHYS);
}

int
LLVMFuzzerInitialize(int *argc, char ***argv)
{
	const char *why;

	(void)argc;
	(void)argv;
	if (sodium_init() == -1 || mkdtemp(dir) == NULL)
		abort();
	atexit(remove_store);
	log_init("fuzz", LOG_LEVEL_ERROR);
	config_init(&cfg);
	if (config_set(&cfg, "data-dir", dir, &why) == -1 ||
	    config_set(&cfg, "max-frame", "65536", &why) == -1 ||
	    config_set(&cfg, "login-penalty", "0", &why) == -1 ||
	    config_set(&cfg, "auth-workers", "1", &why) == -1 ||
	    config_set(&cfg, "store-workers", "1", &why) == -1)
		abort();
	if ((srv = server_new(&cfg)) == NULL)
		abort();
	/* A user to log in as and to write to ("fuzz"). */
	if (mkdir(dir, 0700) == -1 && errno != EEXIST)
		abort();
	{
		char path[256];

		snprintf(path, sizeof(path), "%s/fuzz", dir);
		mkdir(path, 0700);
		snprintf(path, sizeof(path), "%s/fuzz/new", dir);
		mkdir(path, 0700);
		snprintf(path, sizeof(path), "%s/fuzz/cur", dir);
		mkdir(path, 0700);
		snprintf(path, sizeof(path), "%s/fuzz/tmp", dir);
		mkdir(path, 0700);
	}
	return 0;
}

/* Check the replies read so far; return the bytes consumed. */
static size_t
check_replies(const unsigned char *buf, size_t have)
{
	struct msg *m;
	const char *why;
	size_t off = 0, blen;

	while (frame_decode(buf + off, have - off, FRAME_MAX_LIMIT, &blen) ==
	    FRAME_READY) {
		if (msg_parse(buf + off + FRAME_HEADER_LEN, blen, &m, &why) ==
		    -1)
			abort();
		if (msg_header(m) != 1 && msg_header(m) != 2)
			abort();
		msg_free(m);
		off += FRAME_HEADER_LEN + blen;
	}
	return off;
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static unsigned char buf[1 << 20];
	struct sockaddr sa = { .sa_family = AF_UNIX };
	size_t have = 0, off = 0, used;
	struct conn *c;
	ssize_t n;
	int sv[2], rounds, closed = 0;

	if (size == 0)
		return 0;
	if (socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sv) == -1)
		abort();
	fcntl(sv[0], F_SETFL, O_NONBLOCK);
	fcntl(sv[1], F_SETFL, O_NONBLOCK);
	if ((c = server_conn_add(srv, sv[0], &sa, sizeof(sa))) == NULL)
		abort();
	if (data[0] & 1) {
		struct mailbox *mb = mailbox_acquire(server_mailboxes(srv),
		    "fuzz");

		if (mb == NULL)
			abort();
		conn_login(c, "fuzz", mb);
	}
	data++;
	size--;
	/* Feed the input, read replies, until the server closes the
	 * connection (the end of input makes it finish and close). */
	for (rounds = 0; rounds < 100000 && !closed; rounds++) {
		if (off < size) {
			n = write(sv[1], data + off, size - off);
			if (n > 0)
				off += (size_t)n;
			if (off == size)
				shutdown(sv[1], SHUT_WR);
		} else if (size == 0) {
			shutdown(sv[1], SHUT_WR);
		}
		event_base_loop(server_base(srv), EVLOOP_NONBLOCK);
		while ((n = read(sv[1], buf + have, sizeof(buf) - have)) > 0) {
			have += (size_t)n;
			used = check_replies(buf, have);
			memmove(buf, buf + used, have - used);
			have -= used;
			if (have == sizeof(buf))
				have = 0; /* a reply too large to keep: skip */
		}
		if (n == 0)
			closed = 1;
		else if (rounds > 50)
			usleep(100); /* work is on a pool thread */
	}
	if (!closed)
		abort(); /* the server never finished with this input */
	close(sv[1]);
	return 0;
}
