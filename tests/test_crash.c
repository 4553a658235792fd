/*
 * test_crash.c - acknowledged mail survives a crash. Several clients
 * deliver messages as fast as they can while glomaild is killed with
 * SIGKILL at random moments and restarted on the same store. In the end
 * every message acknowledged with OK is present once and intact (its content
 * matches byte for byte), every file in new/ or cur/ is a whole message that
 * some client sent, and tmp/ is empty: whatever a crash left there was
 * removed at start-up, as Maildir prescribes.
 *
 * Then the group commit's window (renames done, their shared fsync of new/
 * pending: nothing acknowledged yet), the store's one-write delivery to
 * several recipients killed at random, and EMAIL_SENDING_MANY over the
 * protocol killed at random: each recipient has each message whole or not
 * at all, and has it whenever the reply said it was delivered there.
 * The same under deletes, flag changes and password changes of one
 * account: a message is never lost unless its delete was sent, never
 * doubled by a rename, flags acknowledged are on disk, and the account's
 * password is the last acknowledged one (or the one being set at the kill),
 * its hash whole.
 */
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/wait.h>

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <setjmp.h>
#include <signal.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <cmocka.h>

#include "frame.h"
#include "hostile.h"
#include "maildir.h"
#include "message.h"
#include "msg.h"
#include "proto.h"
#include "testsrv.h"
#include "wire.h"

#define CLIENTS 4
#define PER_CLIENT 4000 /* ids per client: more than a run can send */
#define KILLS 6

enum state { UNSENT, ATTEMPTED, ACKED };

static struct testsrv srv;
static pthread_mutex_t lock = PTHREAD_MUTEX_INITIALIZER;
static unsigned char states[CLIENTS * PER_CLIENT];
static unsigned char found[CLIENTS * PER_CLIENT];
static volatile int stop;
static int replies_ok; /* OK replies so far, under lock */

/*
 * Wait (15 s at most) until some request was answered OK since the count
 * was `since`: on a loaded machine a login (a password hash) may take longer
 * than the pause between two kills, and a run of kills with nothing
 * delivered in between tests nothing.
 */
static void
wait_progress(int since)
{
	struct timespec ms10 = { 0, 10 * 1000 * 1000 };
	int i, n;

	for (i = 0; i < 1500; i++) {
		pthread_mutex_lock(&lock);
		n = replies_ok;
		pthread_mutex_unlock(&lock);
		if (n > since)
			return;
		nanosleep(&ms10, NULL);
	}
}

static int
progress(void)
{
	int n;

	pthread_mutex_lock(&lock);
	n = replies_ok;
	pthread_mutex_unlock(&lock);
	return n;
}

static const char *const users[CLIENTS] = { "ann", "ben", "cat", "dan" };

/* The content of message id: its size and letters depend on the id. */
static char *
content_of(int id, size_t *len_r)
{
	size_t len = 50 + (size_t)id * 7919 % 60000, i;
	char *s = malloc(len + 1);

	if (s == NULL)
		return NULL;
	for (i = 0; i < len; i++)
		s[i] = i % 71 == 70 ? '\n' : (char)('a' + (id + (int)i) % 26);
	s[len] = '\0';
	*len_r = len;
	return s;
}

static void
set_state(int id, enum state st)
{
	pthread_mutex_lock(&lock);
	states[id] = (unsigned char)st;
	replies_ok += st == ACKED;
	pthread_mutex_unlock(&lock);
}

/*
 * The port clients connect to. Each restart takes a new free port: the old
 * one may have been given meanwhile to some other socket of the machine.
 */
static char server_port[sizeof(srv.port)];

/* Restart after a kill and publish the new port to the clients. */
static int
restart(void)
{
	if (testsrv_restart_anyport(&srv, NULL) == -1)
		return -1;
	pthread_mutex_lock(&lock);
	memcpy(server_port, srv.port, sizeof(server_port));
	pthread_mutex_unlock(&lock);
	return 0;
}

/* A connection logged in as user, or -1 (the server may be down). */
static int
login(const char *user)
{
	char err[128], port[sizeof(srv.port)];
	struct timeval tv = { 20, 0 };
	int fd;

	pthread_mutex_lock(&lock);
	memcpy(port, server_port, sizeof(port));
	pthread_mutex_unlock(&lock);
	fd = wire_connect("127.0.0.1", port, err, sizeof(err));

	if (fd == -1)
		return -1;
	setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv));
	if (testsrv_auth(fd, PROTO_AUTH_LOGIN, user, HOSTILE_PASSWORD) !=
	    PROTO_OK) {
		close(fd);
		return -1;
	}
	return fd;
}

/* One client: deliver numbered messages, reconnecting after each crash. */
static void *
client(void *arg)
{
	int me = (int)(intptr_t)arg, seq = 0, fd = -1, id, h;
	struct timespec pause = { 0, 20 * 1000 * 1000 };
	char from[64], to[64], subject[64];
	struct msg_email e;
	size_t len;
	char *body;

	snprintf(from, sizeof(from), "%s@glo2000.ca", users[me]);
	while (!stop && seq < PER_CLIENT) {
		if (fd == -1 && (fd = login(users[me])) == -1) {
			nanosleep(&pause, NULL);
			continue;
		}
		id = me * PER_CLIENT + seq++;
		snprintf(to, sizeof(to), "%s@glo2000.ca",
		    users[(me + seq) % CLIENTS]);
		snprintf(subject, sizeof(subject), "crash %d", id);
		if ((body = content_of(id, &len)) == NULL)
			break;
		e = (struct msg_email){ from, to, subject, NULL, body };
		set_state(id, ATTEMPTED);
		h = testsrv_request(fd, PROTO_EMAIL_SENDING, msg_email_new(&e),
		    NULL);
		free(body);
		if (h == PROTO_OK) {
			set_state(id, ACKED);
		} else {
			close(fd);
			fd = -1;
		}
	}
	if (fd != -1)
		close(fd);
	return NULL;
}

/* Check one stored file: a whole message some client sent. */
static void
check_file(const char *path)
{
	struct message_info info;
	char *buf, *want;
	size_t wlen;
	struct stat st;
	int fd, id;

	assert_true((fd = open(path, O_RDONLY)) >= 0);
	assert_int_equal(fstat(fd, &st), 0);
	assert_non_null(buf = malloc((size_t)st.st_size + 1));
	assert_int_equal(read(fd, buf, (size_t)st.st_size), st.st_size);
	close(fd);
	buf[st.st_size] = '\0';
	assert_int_equal(message_parse(buf, (size_t)st.st_size, 1, &info), 0);
	if (sscanf(info.subject, "crash %d", &id) != 1 || id < 0 ||
	    id >= CLIENTS * PER_CLIENT)
		fail_msg("%s: not a message of this test", path);
	if (states[id] == UNSENT)
		fail_msg("%s: message %d was never sent", path, id);
	assert_non_null(want = content_of(id, &wlen));
	if (strcmp(info.body, want) != 0)
		fail_msg("%s: message %d is damaged (%zu bytes, want %zu)",
		    path, id, strlen(info.body), wlen);
	if (found[id]++)
		fail_msg("%s: message %d stored twice", path, id);
	free(want);
	free(buf);
	message_info_clear(&info);
}

/* Check DATA/user/sub; return how many files it holds. */
static int
check_dir(const char *user, const char *sub)
{
	char path[1024];
	struct dirent *de;
	int n = 0;
	DIR *d;

	snprintf(path, sizeof(path), "%s/%s/%s", srv.data, user, sub);
	assert_non_null(d = opendir(path));
	while ((de = readdir(d)) != NULL) {
		if (de->d_name[0] == '.')
			continue;
		n++;
		if (strcmp(sub, "tmp") == 0)
			continue;
		snprintf(path, sizeof(path), "%s/%s/%s/%s", srv.data, user, sub,
		    de->d_name);
		check_file(path);
	}
	closedir(d);
	return n;
}

/* Read back every message of user over the protocol; return the count. */
static int
read_back(const char *user)
{
	struct msg *reply = NULL;
	union msg_args a;
	const char *why;
	char json[96], *want;
	long long n, i;
	size_t wlen;
	int fd, id;

	assert_true((fd = login(user)) >= 0);
	assert_int_equal(testsrv_request(fd, PROTO_STATS_REQUEST, NULL, &reply),
	    PROTO_OK);
	assert_int_equal(msg_unpack(reply, PROTO_SHAPE_STATS, &a, &why), 0);
	n = a.stats.count;
	msg_free(reply);
	assert_int_equal(testsrv_request(fd, PROTO_INBOX_READING_REQUEST, NULL,
	                     NULL),
	    PROTO_OK);
	for (i = 1; i <= n; i++) {
		snprintf(json, sizeof(json),
		    "{\"header\": 8, \"payload\": "
		    "{\"choice\": %lld}}",
		    i);
		assert_int_equal(hostile_send_json(fd, json), 0);
		reply = NULL;
		assert_int_equal(hostile_recv(fd, 20000, &reply),
		    HOSTILE_FRAME);
		assert_int_equal(msg_header(reply), PROTO_OK);
		assert_int_equal(msg_unpack(reply, PROTO_SHAPE_EMAIL, &a, &why),
		    0);
		assert_int_equal(sscanf(a.email.subject, "crash %d", &id), 1);
		assert_non_null(want = content_of(id, &wlen));
		assert_string_equal(a.email.content, want);
		free(want);
		msg_free(reply);
	}
	close(fd);
	return (int)n;
}

/* Leave a half-written delivery in user's tmp/, as a crash would. */
static void
plant_tmp(const char *user)
{
	char path[1024];
	FILE *f;

	snprintf(path, sizeof(path), "%s/%s/tmp/1.M1P1Q1.crashed", srv.data,
	    user);
	assert_non_null(f = fopen(path, "w"));
	fputs("From: ann@glo2000.ca\nSubject: crash 0\n\nhalf a bo", f);
	fclose(f);
}

static void
test_kill_during_delivery(void **state)
{
	pthread_t threads[CLIENTS];
	struct timespec ts;
	int i, k, acked = 0, attempted = 0, files = 0, read = 0, fd;
	long long t0 = hostile_now_ms();

	(void)state;
	srand((unsigned)time(NULL));
	assert_int_equal(testsrv_start(&srv, NULL), 0);
	memcpy(server_port, srv.port, sizeof(server_port));
	for (i = 0; i < CLIENTS; i++) {
		assert_true((fd = testsrv_connect(&srv)) >= 0);
		assert_int_equal(testsrv_auth(fd, PROTO_AUTH_REGISTER, users[i],
		                     HOSTILE_PASSWORD),
		    PROTO_OK);
		close(fd);
	}
	for (i = 0; i < CLIENTS; i++)
		assert_int_equal(pthread_create(&threads[i], NULL, client,
		                     (void *)(intptr_t)i),
		    0);
	for (k = 0; k < KILLS; k++) {
		/* A random moment while deliveries are under way. */
		wait_progress(progress());
		ts.tv_sec = 0;
		ts.tv_nsec = (200 + rand() % 600) * 1000L * 1000L;
		nanosleep(&ts, NULL);
		testsrv_kill(&srv, SIGKILL);
		if (k == 0)
			plant_tmp(users[1]);
		assert_int_equal(restart(), 0);
		print_message("kill %d at %lld ms\n", k, hostile_now_ms() - t0);
		if (k == 0)
			assert_int_equal(check_dir(users[1], "tmp"), 0);
	}
	wait_progress(progress());
	ts.tv_nsec = (100 + rand() % 300) * 1000L * 1000L;
	nanosleep(&ts, NULL);
	testsrv_kill(&srv, SIGKILL);
	stop = 1;
	for (i = 0; i < CLIENTS; i++)
		pthread_join(threads[i], NULL);
	plant_tmp(users[2]);
	assert_int_equal(restart(), 0);

	print_message("stopped at %lld ms\n", hostile_now_ms() - t0);
	for (i = 0; i < CLIENTS * PER_CLIENT; i++) {
		acked += states[i] == ACKED;
		attempted += states[i] != UNSENT;
	}
	for (i = 0; i < CLIENTS; i++) {
		assert_int_equal(check_dir(users[i], "tmp"), 0);
		files += check_dir(users[i], "new");
		files += check_dir(users[i], "cur");
		read += read_back(users[i]);
	}
	assert_int_equal(check_dir("LOST", "new") + check_dir("LOST", "cur"),
	    0);
	for (i = 0; i < CLIENTS * PER_CLIENT; i++)
		if (states[i] == ACKED && !found[i])
			fail_msg("message %d was acknowledged, then lost", i);
	print_message("crash: %d kills, %d sent, %d acknowledged, %d stored, "
	              "%lld ms\n",
	    KILLS + 1, attempted, acked, files, hostile_now_ms() - t0);
	assert_int_equal(read, files);
	assert_true(acked >= CLIENTS);
	assert_true(testsrv_log_contains(&srv, "incomplete deliveries"));
	testsrv_stop(&srv);
}

/* One request in a thread: records the reply for the window test. */
struct held {
	int fd;
	int id;
	int user; /* index in users[]: who is logged in on fd */
	pthread_t thread;
};

static void *
held_send(void *arg)
{
	struct held *h = arg;
	char from[64], subject[64];
	struct msg_email e;
	size_t len;
	char *body;

	snprintf(from, sizeof(from), "%s@glo2000.ca", users[h->user]);
	snprintf(subject, sizeof(subject), "crash %d", h->id);
	if ((body = content_of(h->id, &len)) == NULL)
		return NULL;
	e = (struct msg_email){ from, "ann@glo2000.ca", subject, NULL, body };
	set_state(h->id, ATTEMPTED);
	if (testsrv_request(h->fd, PROTO_EMAIL_SENDING, msg_email_new(&e),
	        NULL) == PROTO_OK)
		set_state(h->id, ACKED);
	free(body);
	return NULL;
}

static int
acked_count(int from, int to)
{
	int i, n = 0;

	pthread_mutex_lock(&lock);
	for (i = from; i < to; i++)
		n += states[i] == ACKED;
	pthread_mutex_unlock(&lock);
	return n;
}

#define HELD 6

/* The fault file holding the fsync back; the teardown lifts it. */
static char hold[1024];

/* After a failed check too: no server (or hold) outlives the test. */
static int
held_teardown(void **state)
{
	(void)state;
	if (hold[0] != '\0')
		unlink(hold);
	if (srv.pid > 0)
		testsrv_kill(&srv, SIGKILL);
	testsrv_stop(&srv);
	unsetenv("GLOMAILD");
	unsetenv("GLOMAIL_FAULTS");
	if (hold[0] != '\0') {
		hold[strlen(hold) - strlen("/faults")] = '\0';
		testsrv_remove_tree(hold);
		hold[0] = '\0';
	}
	return 0;
}

/*
 * The group commit's window: several deliveries into one mailbox have
 * renamed their files into new/ and wait for the one fsync of new/ they
 * share, held back by the test build. None may be acknowledged yet; the
 * server is killed right there. After the restart every message
 * acknowledged before is present, whatever is in new/ is whole, and tmp/
 * is empty.
 */
static void
test_kill_with_shared_fsync_pending(void **state)
{
	char path[1024];
	struct held h[HELD];
	struct timespec ms20 = { 0, 20 * 1000 * 1000 };
	int i, fd, tries, files;
	FILE *f;

	(void)state;
	memset(states, 0, sizeof(states));
	memset(found, 0, sizeof(found));
	setenv("GLOMAILD", GLOMAIL_BINARY_DIR "/server/glomaild-faults", 1);
	assert_int_equal(testsrv_scratch(hold, sizeof(hold), "hold"), 0);
	strncat(hold, "/faults", sizeof(hold) - strlen(hold) - 1);
	setenv("GLOMAIL_FAULTS", hold, 1);
	assert_int_equal(testsrv_start(&srv, NULL), 0);
	memcpy(server_port, srv.port, sizeof(server_port));
	for (i = 0; i < CLIENTS; i++) {
		assert_true((fd = testsrv_connect(&srv)) >= 0);
		assert_int_equal(testsrv_auth(fd, PROTO_AUTH_REGISTER, users[i],
		                     HOSTILE_PASSWORD),
		    PROTO_OK);
		close(fd);
	}
	/* Acknowledged before the window: must survive the kill. */
	for (i = 0; i < 4; i++) {
		assert_true((h[i].fd = login(users[i])) >= 0);
		h[i].id = HELD + i;
		h[i].user = i;
		held_send(&h[i]);
		close(h[i].fd);
	}
	assert_int_equal(acked_count(HELD, HELD + 4), 4);
	for (i = 0; i < HELD; i++) {
		assert_true((h[i].fd = login(users[i % CLIENTS])) >= 0);
		h[i].id = i;
		h[i].user = i % CLIENTS;
	}
	assert_non_null(f = fopen(hold, "w"));
	fputs("hold-fsync-new\n", f);
	fclose(f);
	for (i = 0; i < HELD; i++)
		assert_int_equal(pthread_create(&h[i].thread, NULL, held_send,
		                     &h[i]),
		    0);
	/* Every rename done: all HELD new files in ann's new/. */
	snprintf(path, sizeof(path), "%s/ann/new", srv.data);
	for (tries = 0; tries < 500; tries++) {
		DIR *d = opendir(path);
		struct dirent *de;

		assert_non_null(d);
		files = 0;
		while ((de = readdir(d)) != NULL)
			files += de->d_name[0] != '.';
		closedir(d);
		if (files >= 4 + HELD)
			break;
		nanosleep(&ms20, NULL);
	}
	/* The four earlier ones (all to ann) and the HELD held ones. */
	assert_int_equal(files, 4 + HELD);
	for (i = 0; i < 10; i++)
		nanosleep(&ms20, NULL);
	assert_int_equal(acked_count(0, HELD), 0);
	testsrv_kill(&srv, SIGKILL);
	for (i = 0; i < HELD; i++) {
		pthread_join(h[i].thread, NULL);
		close(h[i].fd);
	}
	assert_int_equal(acked_count(0, HELD), 0);
	unlink(hold);
	assert_int_equal(restart(), 0);
	for (i = 0; i < CLIENTS; i++) {
		assert_int_equal(check_dir(users[i], "tmp"), 0);
		check_dir(users[i], "new");
		check_dir(users[i], "cur");
	}
	for (i = 0; i < HELD + 4; i++)
		if (states[i] == ACKED && !found[i])
			fail_msg("message %d was acknowledged, then lost", i);
}

#define MANY_BOXES 5
#define MANY_KILLS 8

/* What the delivering child reports once maildir_deliver_many returned. */
struct many_ack {
	int id;
	unsigned mask; /* the recipients it returned delivered for */
};

/* The message id for the store-level test. */
static char *
many_message(int id, size_t *len_r)
{
	size_t blen;
	char *body = content_of(id, &blen), *m;

	if (body == NULL ||
	    asprintf(&m, "Subject: many %d\n\n%s", id, body) < 0)
		m = NULL;
	free(body);
	if (m != NULL)
		*len_r = strlen(m);
	return m;
}

/* The child: deliver to varying subsets of the boxes until killed. */
static void
many_child(int rootfd, int first, int ackfd)
{
	struct maildir_rcpt r[MANY_BOXES];
	struct many_ack a;
	char box[16];
	size_t len, n, i;
	int id;
	char *m;

	for (id = first;; id++) {
		if ((m = many_message(id, &len)) == NULL)
			_exit(1);
		/* 1 to MANY_BOXES recipients, from a rotating start. */
		n = 1 + (size_t)id % MANY_BOXES;
		for (i = 0; i < n; i++) {
			snprintf(box, sizeof(box), "m%zu",
			    ((size_t)id + i) % MANY_BOXES);
			if ((r[i].md = maildir_open(rootfd, box)) == -1)
				_exit(1);
		}
		maildir_deliver_many(m, len, r, n);
		a.id = id;
		a.mask = 0;
		for (i = 0; i < n; i++) {
			if (r[i].error == 0)
				a.mask |= 1u << (((size_t)id + i) % MANY_BOXES);
			close(r[i].md);
		}
		free(m);
		if (write(ackfd, &a, sizeof(a)) != (ssize_t)sizeof(a))
			_exit(1);
	}
}

/*
 * One write for several recipients, killed at random moments: every
 * recipient has each message whole or not at all, and has it whenever
 * maildir_deliver_many said it was delivered there.
 */
static void
test_kill_during_deliver_many(void **state)
{
	static unsigned char present[MANY_BOXES][CLIENTS * PER_CLIENT];
	static unsigned acked[CLIENTS * PER_CLIENT];
	char root[256], path[1024], box[16];
	struct timespec ts;
	struct many_ack a;
	struct dirent *de;
	int rootfd, k, b, id, next = 0, pfd[2], st, nacked = 0, files = 0;
	pid_t pid;
	DIR *d;

	(void)state;
	maildir_init();
	assert_int_equal(testsrv_scratch(root, sizeof(root), "many"), 0);
	assert_true((rootfd = open(root, O_RDONLY | O_DIRECTORY)) >= 0);
	for (b = 0; b < MANY_BOXES; b++) {
		snprintf(box, sizeof(box), "m%d", b);
		assert_int_equal(maildir_create(rootfd, box), 0);
	}
	for (k = 0; k < MANY_KILLS; k++) {
		assert_int_equal(pipe(pfd), 0);
		assert_true((pid = fork()) >= 0);
		if (pid == 0) {
			close(pfd[0]);
			many_child(rootfd, next, pfd[1]);
		}
		close(pfd[1]);
		ts.tv_sec = 0;
		ts.tv_nsec = (50 + rand() % 250) * 1000L * 1000L;
		nanosleep(&ts, NULL);
		kill(pid, SIGKILL);
		assert_int_equal(waitpid(pid, &st, 0), pid);
		while (read(pfd[0], &a, sizeof(a)) == (ssize_t)sizeof(a)) {
			assert_true(
			    a.id >= next && a.id < CLIENTS * PER_CLIENT);
			acked[a.id] = a.mask;
			nacked++;
		}
		close(pfd[0]);
		/* Ids the killed child may have started go unused. */
		next += 1000;
		assert_true(next < CLIENTS * PER_CLIENT);
	}
	for (b = 0; b < MANY_BOXES; b++) {
		snprintf(path, sizeof(path), "%s/m%d/new", root, b);
		assert_non_null(d = opendir(path));
		while ((de = readdir(d)) != NULL) {
			char file[1400], *got, *want;
			size_t wlen;

			if (de->d_name[0] == '.')
				continue;
			snprintf(file, sizeof(file), "%s/%s", path, de->d_name);
			assert_non_null(got = testsrv_read_file(file));
			if (sscanf(got, "Subject: many %d", &id) != 1 ||
			    id < 0 || id >= CLIENTS * PER_CLIENT)
				fail_msg("%s: not a message of this test",
				    file);
			assert_non_null(want = many_message(id, &wlen));
			if (strcmp(got, want) != 0)
				fail_msg("%s: message %d is damaged", file, id);
			if (present[b][id]++)
				fail_msg("%s: message %d twice in m%d", file,
				    id, b);
			free(want);
			free(got);
			files++;
		}
		closedir(d);
		snprintf(box, sizeof(box), "m%d", b);
		/* Whatever a kill left in tmp/ goes at the next start. */
		{
			int md = maildir_open(rootfd, box);

			assert_true(md >= 0);
			assert_true(maildir_clean_tmp(md) >= 0);
			close(md);
		}
	}
	for (id = 0; id < CLIENTS * PER_CLIENT; id++)
		for (b = 0; b < MANY_BOXES; b++)
			if ((acked[id] & (1u << b)) && !present[b][id])
				fail_msg(
				    "message %d was delivered to m%d, then "
				    "lost",
				    id, b);
	print_message("deliver_many: %d kills, %d acknowledged, %d files\n",
	    MANY_KILLS, nacked, files);
	assert_true(nacked > 0);
	close(rootfd);
	testsrv_remove_tree(root);
}

#define MANY_IDS 3000

static unsigned char many_tried[MANY_IDS];
static unsigned char many_acked[MANY_IDS]; /* bit per user: delivered */
static unsigned char many_found[CLIENTS][MANY_IDS];
static int many_next;

/* The inode of each stored copy, to see they are links of one file. */
static ino_t many_ino[CLIENTS][MANY_IDS];
static nlink_t many_links[CLIENTS][MANY_IDS];

/*
 * One sender over the protocol: each message to the three others, one of
 * them twice in another case (one copy), to and cc.
 */
static void *
many_client(void *arg)
{
	int me = (int)(intptr_t)arg, fd = -1, id, h, u;
	struct timespec pause = { 0, 20 * 1000 * 1000 };
	char to[64], to2[64], cc[64], cc2[64], subject[64];
	struct msg *reply;
	json_t *list, *r;
	const char *res, *addr;
	size_t len, i;
	char *body;

	while (!stop) {
		if (fd == -1 && (fd = login(users[me])) == -1) {
			nanosleep(&pause, NULL);
			continue;
		}
		pthread_mutex_lock(&lock);
		id = many_next < MANY_IDS ? many_next++ : -1;
		pthread_mutex_unlock(&lock);
		if (id == -1)
			break;
		snprintf(to, sizeof(to), "%s@glo2000.ca",
		    users[(me + 1) % CLIENTS]);
		snprintf(cc, sizeof(cc), "%s@glo2000.ca",
		    users[(me + 2) % CLIENTS]);
		snprintf(cc2, sizeof(cc2), "%s@glo2000.ca",
		    users[(me + 3) % CLIENTS]);
		snprintf(to2, sizeof(to2), "%s", to);
		for (i = 0; to2[i] != '\0'; i++)
			if (to2[i] >= 'a' && to2[i] <= 'z')
				to2[i] = (char)(to2[i] - 'a' + 'A');
		snprintf(subject, sizeof(subject), "many %d", id);
		if ((body = content_of(id, &len)) == NULL)
			break;
		pthread_mutex_lock(&lock);
		many_tried[id] = 1;
		pthread_mutex_unlock(&lock);
		reply = NULL;
		h = testsrv_request(fd, PROTO_EMAIL_SENDING_MANY,
		    json_pack("{s:[s,s], s:[s,s], s:s, s:s}", "to", to, to2,
		        "cc", cc, cc2, "subject", subject, "content", body),
		    &reply);
		free(body);
		if (h != PROTO_OK) {
			msg_free(reply);
			close(fd);
			fd = -1;
			continue;
		}
		list = json_object_get(msg_payload(reply), "recipients");
		json_array_foreach (list, i, r) {
			res = json_string_value(json_object_get(r, "result"));
			addr = json_string_value(json_object_get(r, "address"));
			if (res == NULL || addr == NULL ||
			    strcmp(res, "delivered") != 0)
				continue;
			for (u = 0; u < CLIENTS; u++)
				if (strncmp(addr, users[u], 3) == 0) {
					pthread_mutex_lock(&lock);
					many_acked[id] |= (unsigned char)(1u
					                                  << u);
					pthread_mutex_unlock(&lock);
				}
		}
		msg_free(reply);
		pthread_mutex_lock(&lock);
		replies_ok++;
		pthread_mutex_unlock(&lock);
	}
	if (fd != -1)
		close(fd);
	return NULL;
}

/* Check DATA/user/sub for the send-many test; the count of files. */
static int
many_check_dir(int u, const char *sub)
{
	struct message_info info;
	char path[1024], file[1400], *buf, *want;
	struct dirent *de;
	size_t wlen;
	int n = 0, id;
	DIR *d;

	snprintf(path, sizeof(path), "%s/%s/%s", srv.data, users[u], sub);
	assert_non_null(d = opendir(path));
	while ((de = readdir(d)) != NULL) {
		if (de->d_name[0] == '.')
			continue;
		n++;
		if (strcmp(sub, "tmp") == 0)
			continue;
		snprintf(file, sizeof(file), "%s/%s", path, de->d_name);
		assert_non_null(buf = testsrv_read_file(file));
		assert_int_equal(message_parse(buf, strlen(buf), 1, &info), 0);
		if (sscanf(info.subject, "many %d", &id) != 1 || id < 0 ||
		    id >= MANY_IDS || !many_tried[id])
			fail_msg("%s: not a message this test sent", file);
		assert_non_null(want = content_of(id, &wlen));
		if (strcmp(info.body, want) != 0)
			fail_msg("%s: message %d is damaged", file, id);
		if (many_found[u][id]++)
			fail_msg("%s: message %d twice for %s", file, id,
			    users[u]);
		{
			struct stat st;

			assert_int_equal(stat(file, &st), 0);
			many_ino[u][id] = st.st_ino;
			many_links[u][id] = st.st_nlink;
		}
		free(want);
		free(buf);
		message_info_clear(&info);
	}
	closedir(d);
	return n;
}

/*
 * Sends to two recipients at once (EMAIL_SENDING_MANY), the server killed
 * at random moments: each recipient has each message whole or not at all,
 * and has it whenever the reply said it was delivered to them.
 */
static void
test_kill_during_send_many(void **state)
{
	pthread_t threads[CLIENTS];
	struct timespec ts;
	int i, k, u, fd, acked = 0, files = 0;

	(void)state;
	stop = 0;
	assert_int_equal(testsrv_start(&srv, NULL), 0);
	memcpy(server_port, srv.port, sizeof(server_port));
	for (i = 0; i < CLIENTS; i++) {
		assert_true((fd = testsrv_connect(&srv)) >= 0);
		assert_int_equal(testsrv_auth(fd, PROTO_AUTH_REGISTER, users[i],
		                     HOSTILE_PASSWORD),
		    PROTO_OK);
		close(fd);
	}
	for (i = 0; i < CLIENTS; i++)
		assert_int_equal(pthread_create(&threads[i], NULL, many_client,
		                     (void *)(intptr_t)i),
		    0);
	for (k = 0; k < 4; k++) {
		wait_progress(progress());
		ts.tv_sec = 0;
		ts.tv_nsec = (200 + rand() % 500) * 1000L * 1000L;
		nanosleep(&ts, NULL);
		testsrv_kill(&srv, SIGKILL);
		assert_int_equal(restart(), 0);
	}
	wait_progress(progress());
	ts.tv_nsec = (100 + rand() % 300) * 1000L * 1000L;
	nanosleep(&ts, NULL);
	testsrv_kill(&srv, SIGKILL);
	stop = 1;
	for (i = 0; i < CLIENTS; i++)
		pthread_join(threads[i], NULL);
	assert_int_equal(restart(), 0);
	for (u = 0; u < CLIENTS; u++) {
		assert_int_equal(many_check_dir(u, "tmp"), 0);
		files += many_check_dir(u, "new");
		files += many_check_dir(u, "cur");
	}
	for (i = 0; i < MANY_IDS; i++)
		for (u = 0; u < CLIENTS; u++)
			if ((many_acked[i] & (1u << u)) != 0) {
				acked++;
				if (!many_found[u][i])
					fail_msg("message %d was delivered to "
					         "%s, then lost",
					    i, users[u]);
			}
	/*
	 * One write per message: its copies are links of one inode, and
	 * nothing else links to it (no leftover in a tmp/, which the restart
	 * emptied), so st_nlink is the number of mailboxes holding it.
	 */
	for (i = 0; i < MANY_IDS; i++) {
		int holders = 0, first = -1;

		for (u = 0; u < CLIENTS; u++)
			if (many_found[u][i]) {
				holders++;
				if (first == -1)
					first = u;
				else if (many_ino[u][i] != many_ino[first][i])
					fail_msg("message %d: two files, not "
					         "one linked",
					    i);
			}
		for (u = 0; u < CLIENTS; u++)
			if (many_found[u][i] &&
			    many_links[u][i] != (nlink_t)holders)
				fail_msg("message %d: %lu links for %d "
				         "mailboxes",
				    i, (unsigned long)many_links[u][i],
				    holders);
	}
	/* What QUOTA counts is what is in new/ and cur/: no leftover. */
	for (u = 0; u < CLIENTS; u++) {
		struct msg *reply = NULL;
		long long want = 0;
		char path[1024];
		struct dirent *de;
		struct stat st;
		DIR *d;
		const char *sub[] = { "new", "cur" };
		int k2;

		for (k2 = 0; k2 < 2; k2++) {
			snprintf(path, sizeof(path), "%s/%s/%s", srv.data,
			    users[u], sub[k2]);
			assert_non_null(d = opendir(path));
			while ((de = readdir(d)) != NULL)
				if (de->d_name[0] != '.' &&
				    fstatat(dirfd(d), de->d_name, &st, 0) == 0)
					want += (long long)st.st_size;
			closedir(d);
		}
		assert_true((fd = login(users[u])) >= 0);
		assert_int_equal(testsrv_request(fd, PROTO_QUOTA, NULL, &reply),
		    PROTO_OK);
		assert_int_equal(json_integer_value(
		                     json_object_get(msg_payload(reply),
		                         "used")),
		    want);
		msg_free(reply);
		close(fd);
	}
	print_message("send-many: %d copies acknowledged, %d stored\n", acked,
	    files);
	assert_true(acked >= 2);
	testsrv_stop(&srv);
}

/* --- deletes, flags and password changes under SIGKILL ----------------- */

#define CHG_MESSAGES 80
#define CHG_KILLS 6
#define CHG_OTHER_PASSWORD "Second0Passw"

static struct {
	int del_attempted, del_acked;
	int pending; /* a flag change not acknowledged */
	int flags;   /* acknowledged: 1 seen, 2 flagged */
	char id[256];
} chg[CHG_MESSAGES];
static const char *chg_pw = HOSTILE_PASSWORD, *chg_pw_try;

static int
login_pw(const char *user, const char *pw)
{
	char err[128], port[sizeof(srv.port)];
	struct timeval tv = { 20, 0 };
	int fd;

	pthread_mutex_lock(&lock);
	memcpy(port, server_port, sizeof(port));
	pthread_mutex_unlock(&lock);
	if ((fd = wire_connect("127.0.0.1", port, err, sizeof(err))) == -1)
		return -1;
	setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv));
	if (testsrv_auth(fd, PROTO_AUTH_LOGIN, user, pw) != PROTO_OK) {
		close(fd);
		return -1;
	}
	return fd;
}

static json_t *
flag_list(int f)
{
	json_t *l = json_array();

	if (f & 1)
		json_array_append_new(l, json_string("seen"));
	if (f & 2)
		json_array_append_new(l, json_string("flagged"));
	return l;
}

static void *
changer(void *arg)
{
	struct timespec pause = { 0, 20 * 1000 * 1000 };
	const char *target;
	int fd = -1, k, op, f, h;

	(void)arg;
	while (!stop) {
		if (fd == -1) {
			/* Only this thread changes the passwords. */
			fd = login_pw("eve", chg_pw);
			if (fd == -1 && chg_pw_try != NULL &&
			    (fd = login_pw("eve", chg_pw_try)) != -1) {
				chg_pw = chg_pw_try;
				chg_pw_try = NULL;
			}
			if (fd == -1) {
				nanosleep(&pause, NULL);
				continue;
			}
		}
		op = rand() % 10;
		k = rand() % CHG_MESSAGES;
		pthread_mutex_lock(&lock);
		if (op == 0) {
			target = strcmp(chg_pw, HOSTILE_PASSWORD) == 0
			             ? CHG_OTHER_PASSWORD
			             : HOSTILE_PASSWORD;
			chg_pw_try = target;
			pthread_mutex_unlock(&lock);
			h = testsrv_request(fd, PROTO_PASSWORD_CHANGE,
			    json_pack("{s:s, s:s}", "password", chg_pw,
			        "new_password", target),
			    NULL);
			pthread_mutex_lock(&lock);
			if (h == PROTO_OK) {
				chg_pw = target;
				chg_pw_try = NULL;
			}
		} else if (chg[k].del_attempted) {
			pthread_mutex_unlock(&lock);
			continue;
		} else if (op <= 2) {
			chg[k].del_attempted = 1;
			pthread_mutex_unlock(&lock);
			h = testsrv_request(fd, PROTO_MAILBOX_DELETE,
			    json_pack("{s:[s]}", "ids", chg[k].id), NULL);
			pthread_mutex_lock(&lock);
			if (h == PROTO_OK)
				chg[k].del_acked = 1;
		} else {
			f = rand() % 4;
			chg[k].pending = 1;
			pthread_mutex_unlock(&lock);
			h = testsrv_request(fd, PROTO_MAILBOX_FLAGS,
			    json_pack("{s:[s], s:o, s:o}", "ids", chg[k].id,
			        "add", flag_list(f), "remove",
			        flag_list(3 & ~f)),
			    NULL);
			pthread_mutex_lock(&lock);
			if (h == PROTO_OK) {
				chg[k].pending = 0;
				chg[k].flags = f;
			}
		}
		pthread_mutex_unlock(&lock);
		if (h != PROTO_OK) {
			close(fd);
			fd = -1;
		}
	}
	if (fd != -1)
		close(fd);
	return NULL;
}

/* Count eve's files of message k, checking each whole; flags of the last. */
static int
chg_files(int k, int *flags_r)
{
	static const char *const subs[] = { "new", "cur" };
	char path[1024], want[64], *buf, *body, *content;
	struct dirent *de;
	size_t i, len;
	int n = 0;
	DIR *d;

	snprintf(want, sizeof(want), "Subject: chg %d\n", k);
	for (i = 0; i < 2; i++) {
		snprintf(path, sizeof(path), "%s/eve/%s", srv.data, subs[i]);
		assert_non_null(d = opendir(path));
		while ((de = readdir(d)) != NULL) {
			if (de->d_name[0] == '.')
				continue;
			snprintf(path, sizeof(path), "%s/eve/%s/%s", srv.data,
			    subs[i], de->d_name);
			assert_non_null(buf = testsrv_read_file(path));
			if (strstr(buf, want) != NULL) {
				n++;
				assert_non_null(body = strstr(buf, "\n\n"));
				assert_non_null(content = content_of(k, &len));
				assert_string_equal(body + 2, content);
				free(content);
				*flags_r = 0;
				if (strchr(de->d_name, ':') != NULL) {
					*flags_r |= strchr(strchr(de->d_name,
					                       ':'),
					                'S') != NULL;
					*flags_r |= (strchr(strchr(de->d_name,
					                        ':'),
					                 'F') != NULL)
					            << 1;
				}
			}
			free(buf);
		}
		closedir(d);
	}
	return n;
}

static void
test_kill_during_changes(void **state)
{
	struct timespec ts;
	pthread_t thread;
	struct msg *reply;
	json_t *list, *m;
	size_t len, i;
	char *body, subject[64], *pass;
	char path[1024];
	int k, fd, n, flags, kept = 0, deleted = 0;

	(void)state;
	stop = 0;
	srand((unsigned)time(NULL));
	assert_int_equal(testsrv_start(&srv, NULL), 0);
	memcpy(server_port, srv.port, sizeof(server_port));
	assert_true((fd = testsrv_connect(&srv)) >= 0);
	assert_int_equal(testsrv_auth(fd, PROTO_AUTH_REGISTER, "eve",
	                     HOSTILE_PASSWORD),
	    PROTO_OK);
	for (k = 0; k < CHG_MESSAGES; k++) {
		snprintf(subject, sizeof(subject), "chg %d", k);
		assert_non_null(body = content_of(k, &len));
		assert_int_equal(testsrv_request(fd, PROTO_EMAIL_SENDING,
		                     json_pack("{s:s, s:s, s:s}", "destination",
		                         "eve@glo2000.ca", "subject", subject,
		                         "content", body),
		                     NULL),
		    PROTO_OK);
		free(body);
	}
	assert_int_equal(testsrv_request(fd, PROTO_MAILBOX_LIST, NULL, &reply),
	    PROTO_OK);
	list = json_object_get(msg_payload(reply), "messages");
	assert_int_equal(json_array_size(list), CHG_MESSAGES);
	json_array_foreach (list, i, m) {
		assert_int_equal(sscanf(json_string_value(
		                            json_object_get(m, "subject")),
		                     "chg %d", &k),
		    1);
		snprintf(chg[k].id, sizeof(chg[k].id), "%s",
		    json_string_value(json_object_get(m, "id")));
	}
	msg_free(reply);
	close(fd);
	assert_int_equal(pthread_create(&thread, NULL, changer, NULL), 0);
	for (k = 0; k < CHG_KILLS; k++) {
		ts.tv_sec = 0;
		ts.tv_nsec = (150 + rand() % 500) * 1000L * 1000L;
		nanosleep(&ts, NULL);
		testsrv_kill(&srv, SIGKILL);
		assert_int_equal(restart(), 0);
	}
	ts.tv_nsec = (100 + rand() % 300) * 1000L * 1000L;
	nanosleep(&ts, NULL);
	testsrv_kill(&srv, SIGKILL);
	stop = 1;
	pthread_join(thread, NULL);
	assert_int_equal(restart(), 0);
	for (k = 0; k < CHG_MESSAGES; k++) {
		n = chg_files(k, &flags);
		assert_true(n <= 1);
		if (chg[k].del_acked)
			assert_int_equal(n, 0);
		if (!chg[k].del_attempted)
			assert_int_equal(n, 1);
		if (n == 1 && !chg[k].pending && !chg[k].del_attempted)
			assert_int_equal(flags, chg[k].flags);
		kept += n;
		deleted += chg[k].del_acked;
	}
	/* The password is the last acknowledged, or the one being set. */
	fd = login_pw("eve", chg_pw);
	if (fd == -1 && chg_pw_try != NULL)
		fd = login_pw("eve", chg_pw_try);
	assert_true(fd >= 0);
	close(fd);
	snprintf(path, sizeof(path), "%s/eve/pass", srv.data);
	assert_non_null(pass = testsrv_read_file(path));
	assert_memory_equal(pass, "$argon2id$", 10);
	assert_null(strchr(pass, '\n'));
	free(pass);
	print_message("changes: %d kept, %d deleted, password %s\n", kept,
	    deleted, chg_pw);
	assert_true(check_dir("eve", "tmp") == 0);
	testsrv_stop(&srv);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_kill_during_delivery),
		cmocka_unit_test_teardown(test_kill_with_shared_fsync_pending,
		    held_teardown),
		cmocka_unit_test(test_kill_during_deliver_many),
		cmocka_unit_test(test_kill_during_send_many),
		cmocka_unit_test(test_kill_during_changes),
	};

	signal(SIGPIPE, SIG_IGN);
	/* One test alone, by name: TEST_FILTER=test_kill_during_changes. */
	if (getenv("TEST_FILTER") != NULL)
		cmocka_set_test_filter(getenv("TEST_FILTER"));
	return cmocka_run_group_tests(tests, NULL, NULL);
}
