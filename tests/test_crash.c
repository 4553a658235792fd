/*
 * test_crash.c - acknowledged mail survives a crash. Several clients
 * deliver messages as fast as they can while glomaild is killed with
 * SIGKILL at random moments and restarted on the same store. In the end
 * every message acknowledged with OK is present once and intact (its content
 * matches byte for byte), every file in new/ or cur/ is a whole message that
 * some client sent, and tmp/ is empty: whatever a crash left there was
 * removed at start-up, as Maildir prescribes.
 *
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
#include "message.h"
#include "msg.h"
#include "proto.h"
#include "testsrv.h"
#include "wire.h"

#define CLIENTS 4
#define PER_CLIENT 4000     /* ids per client: more than a run can send */
#define KILLS 6

enum state { UNSENT, ATTEMPTED, ACKED };

static struct testsrv srv;
static pthread_mutex_t lock = PTHREAD_MUTEX_INITIALIZER;
static unsigned char states[CLIENTS * PER_CLIENT];
static unsigned char found[CLIENTS * PER_CLIENT];
static volatile int stop;

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
	assert_int_equal(testsrv_request(fd, PROTO_STATS_REQUEST, NULL,
	    &reply), PROTO_OK);
	assert_int_equal(msg_unpack(reply, PROTO_SHAPE_STATS, &a, &why), 0);
	n = a.stats.count;
	msg_free(reply);
	assert_int_equal(testsrv_request(fd, PROTO_INBOX_READING_REQUEST, NULL,
	    NULL), PROTO_OK);
	for (i = 1; i <= n; i++) {
		snprintf(json, sizeof(json), "{\"header\": 8, \"payload\": "
		    "{\"choice\": %lld}}", i);
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
		    HOSTILE_PASSWORD), PROTO_OK);
		close(fd);
	}
	for (i = 0; i < CLIENTS; i++)
		assert_int_equal(pthread_create(&threads[i], NULL, client,
		    (void *)(intptr_t)i), 0);
	for (k = 0; k < KILLS; k++) {
		/* A random moment while deliveries are under way. */
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
	    "%lld ms\n", KILLS + 1, attempted, acked, files,
	    hostile_now_ms() - t0);
	assert_int_equal(read, files);
	assert_true(acked >= CLIENTS);
	assert_true(testsrv_log_contains(&srv, "incomplete deliveries"));
	testsrv_stop(&srv);
}


/* --- deletes, flags and password changes under SIGKILL ----------------- */

#define CHG_MESSAGES 80
#define CHG_KILLS 6
#define CHG_OTHER_PASSWORD "Second0Passw"

static struct {
	int del_attempted, del_acked;
	int pending;        /* a flag change not acknowledged */
	int flags;          /* acknowledged: 1 seen, 2 flagged */
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
			target = strcmp(chg_pw, HOSTILE_PASSWORD) == 0 ?
			    CHG_OTHER_PASSWORD : HOSTILE_PASSWORD;
			chg_pw_try = target;
			pthread_mutex_unlock(&lock);
			h = testsrv_request(fd, PROTO_PASSWORD_CHANGE,
			    json_pack("{s:s, s:s}", "password", chg_pw,
			    "new_password", target), NULL);
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
			    "add", flag_list(f), "remove", flag_list(3 & ~f)),
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
					    ':'), 'S') != NULL;
					*flags_r |= (strchr(strchr(de->d_name,
					    ':'), 'F') != NULL) << 1;
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
	    HOSTILE_PASSWORD), PROTO_OK);
	for (k = 0; k < CHG_MESSAGES; k++) {
		snprintf(subject, sizeof(subject), "chg %d", k);
		assert_non_null(body = content_of(k, &len));
		assert_int_equal(testsrv_request(fd, PROTO_EMAIL_SENDING,
		    json_pack("{s:s, s:s, s:s}", "destination",
		    "eve@glo2000.ca", "subject", subject, "content", body),
		    NULL), PROTO_OK);
		free(body);
	}
	assert_int_equal(testsrv_request(fd, PROTO_MAILBOX_LIST, NULL, &reply),
	    PROTO_OK);
	list = json_object_get(msg_payload(reply), "messages");
	assert_int_equal(json_array_size(list), CHG_MESSAGES);
	json_array_foreach(list, i, m) {
		assert_int_equal(sscanf(json_string_value(json_object_get(m,
		    "subject")), "chg %d", &k), 1);
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
		cmocka_unit_test(test_kill_during_changes),
	};

	signal(SIGPIPE, SIG_IGN);
	/* One test alone, by name: TEST_FILTER=test_kill_during_changes. */
	if (getenv("TEST_FILTER") != NULL)
		cmocka_set_test_filter(getenv("TEST_FILTER"));
	return cmocka_run_group_tests(tests, NULL, NULL);
}
