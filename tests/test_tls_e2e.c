/*
 * test_tls_e2e.c - glomaild's TLS listener against real peers: glomail
 * --tls with every verification failure, openssl s_client (versions,
 * ciphers, renegotiation), gnutls-cli, a certificate reloaded on SIGHUP
 * (and a broken one that is not), hostile bytes on the TLS port, a silent
 * connection, and the plaintext-auth and registration policies.
 */
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/wait.h>

#include <errno.h>
#include <poll.h>
#include <signal.h>
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <cmocka.h>

#include "clientrun.h"
#include "frame.h"
#include "msg.h"
#include "proto.h"
#include "testsrv.h"
#include "wire.h"

#define PASSWORD "Secret0Password"

static struct testsrv srv;
static char certs[400];
static char certfile[600], keyfile[600], scratch[256];

static const char *
cert(const char *name)
{
	static char bufs[4][1200];
	static int i;
	char *b = bufs[i++ % 4];

	snprintf(b, sizeof(bufs[0]), "%s/%s", certs, name);
	return b;
}

/* Copy a certificate pair to the files the server is configured with. */
static void
install(const char *name)
{
	char *crt, *key, path[600];
	FILE *f;

	snprintf(path, sizeof(path), "%s.crt", name);
	crt = testsrv_read_file(cert(path));
	snprintf(path, sizeof(path), "%s.key", name);
	key = testsrv_read_file(cert(path));
	assert_non_null(crt);
	assert_non_null(key);
	assert_non_null(f = fopen(certfile, "w"));
	fputs(crt, f);
	assert_int_equal(fclose(f), 0);
	assert_non_null(f = fopen(keyfile, "w"));
	fputs(key, f);
	assert_int_equal(fclose(f), 0);
	assert_int_equal(chmod(keyfile, 0600), 0);
	free(crt);
	free(key);
}

/* A server with a TLS listener on the files install() writes. */
static int
start(const char *const *more)
{
	const char *argv[24] = { "--tls-listen", "127.0.0.1:0", "--tls-cert",
		certfile, "--tls-key", keyfile, "--timeout-login", "2" };
	size_t n = 8;

	for (; more != NULL && *more != NULL && n < 23; more++)
		argv[n++] = *more;
	argv[n] = NULL;
	return testsrv_start(&srv, argv);
}

/* The TLS port of the running server, from its log. */
static const char *
tls_port(void)
{
	static char port[16];
	char *log = testsrv_read_file(srv.log), *p, *e;

	assert_non_null(log);
	p = strstr(log, " tls\n");
	assert_non_null(p);
	for (e = p; e > log && *e != ':'; e--)
		;
	snprintf(port, sizeof(port), "%.*s", (int)(p - e - 1), e + 1);
	free(log);
	return port;
}

static int
group_setup(void **state)
{
	const char *dir = getenv("GLOMAIL_TLS_CERTS");

	(void)state;
	if (dir == NULL)
		return -1;
	snprintf(certs, sizeof(certs), "%s", dir);
	if (testsrv_scratch(scratch, sizeof(scratch), "tlscerts") == -1)
		return -1;
	snprintf(certfile, sizeof(certfile), "%s/live.crt", scratch);
	snprintf(keyfile, sizeof(keyfile), "%s/live.key", scratch);
	signal(SIGPIPE, SIG_IGN);
	return 0;
}

static int
group_teardown(void **state)
{
	(void)state;
	testsrv_remove_tree(scratch);
	return 0;
}

static int
teardown(void **state)
{
	(void)state;
	testsrv_stop(&srv);
	memset(&srv, 0, sizeof(srv));
	return 0;
}

/* Run glomail with args after -d HOST -p PORT; the password in env. */
static int
glomail(struct clientrun_result *r, const char *host, const char *port,
    ...)
{
	static const char *const env[] = { "GLOMAIL_PASSWORD=" PASSWORD, NULL };
	const char *argv[32] = { "glomail", "-d", host, "-p", port };
	size_t n = 5;
	va_list ap;

	va_start(ap, port);
	while (n < 31 && (argv[n] = va_arg(ap, const char *)) != NULL)
		n++;
	va_end(ap);
	argv[n] = NULL;
	assert_int_equal(clientrun(argv, env, "", r), 0);
	return r->exit_code;
}

/* Run a shell command; its exit status, output in out (may be NULL). */
static int
shell(char *out, size_t outlen, const char *fmt, ...)
{
	char cmd[2048];
	size_t got = 0;
	va_list ap;
	FILE *p;
	int st;

	va_start(ap, fmt);
	vsnprintf(cmd, sizeof(cmd), fmt, ap);
	va_end(ap);
	assert_non_null(p = popen(cmd, "r"));
	if (out != NULL) {
		got = fread(out, 1, outlen - 1, p);
		out[got] = '\0';
	} else {
		char buf[4096];

		while (fread(buf, 1, sizeof(buf), p) > 0)
			;
	}
	st = pclose(p);
	return WIFEXITED(st) ? WEXITSTATUS(st) : -1;
}

/* Register, send to oneself and read it back, all with glomail --tls. */
static void
test_client_commands(void **state)
{
	struct clientrun_result r;

	(void)state;
	install("server");
	assert_int_equal(start(NULL), 0);
	assert_int_equal(glomail(&r, "localhost", tls_port(), "--tls",
	    "--cafile", cert("ca.crt"), "-u", "tina", "register", NULL), 0);
	clientrun_free(&r);
	assert_int_equal(glomail(&r, "127.0.0.1", tls_port(), "--tls",
	    "--cafile", cert("ca.crt"), "-u", "tina", "stats", NULL), 0);
	assert_non_null(strstr(r.out, "messages: 0"));
	clientrun_free(&r);
	assert_true(testsrv_log_contains(&srv, "tls version=TLSv1.3"));
	/* The client said goodbye: a clean end, no TLS error. */
	assert_true(testsrv_log_contains(&srv, "reason=\"closed after reply\"") ||
	    testsrv_log_contains(&srv, "reason=\"end of input\""));
	assert_false(testsrv_log_contains(&srv, "tls error"));
	assert_false(testsrv_log_contains(&srv, "tls session ended"));
}

/* Every verification failure exits 2 with the reason; never plaintext. */
static void
test_client_verification(void **state)
{
	struct clientrun_result r;

	(void)state;
	install("server");
	assert_int_equal(start(NULL), 0);
	/* No --cafile: the system's authorities do not know the test CA. */
	assert_int_equal(glomail(&r, "127.0.0.1", tls_port(), "--tls", "-u",
	    "tina", "stats", NULL), 2);
	assert_non_null(strstr(r.err, "unable to get local issuer "
	    "certificate"));
	clientrun_free(&r);
	assert_int_equal(glomail(&r, "127.0.0.1", tls_port(), "--tls",
	    "--cafile", cert("other-ca.crt"), "-u", "tina", "stats", NULL), 2);
	assert_non_null(strstr(r.err, "unable to get local issuer"));
	clientrun_free(&r);
	assert_int_equal(glomail(&r, "127.0.0.1", tls_port(), "--tls",
	    "--cafile", cert("ca.crt"), "--servername", "mail.example", "-u",
	    "tina", "stats", NULL), 2);
	assert_non_null(strstr(r.err, "hostname mismatch"));
	clientrun_free(&r);
	testsrv_stop(&srv);

	install("expired");
	assert_int_equal(start(NULL), 0);
	assert_true(testsrv_log_contains(&srv, "has expired"));
	assert_int_equal(glomail(&r, "127.0.0.1", tls_port(), "--tls",
	    "--cafile", cert("ca.crt"), "-u", "tina", "stats", NULL), 2);
	assert_non_null(strstr(r.err, "certificate has expired"));
	clientrun_free(&r);
	testsrv_stop(&srv);

	install("other");
	assert_int_equal(start(NULL), 0);
	assert_int_equal(glomail(&r, "localhost", tls_port(), "--tls",
	    "--cafile", cert("ca.crt"), "-u", "tina", "stats", NULL), 2);
	assert_non_null(strstr(r.err, "hostname mismatch"));
	clientrun_free(&r);
	/* The plaintext port is another service; --tls never falls back. */
	assert_int_equal(glomail(&r, "127.0.0.1", srv.listen_port, "--tls",
	    "--cafile", cert("ca.crt"), "-u", "tina", "stats", NULL), 2);
	clientrun_free(&r);
}

/* openssl s_client: what the profiles allow and refuse. */
static void
test_openssl_client(void **state)
{
	char out[16384];
	const char *port;

	(void)state;
	install("server");
	assert_int_equal(start(NULL), 0);
	port = tls_port();
	assert_int_equal(shell(out, sizeof(out), "echo | openssl s_client "
	    "-connect 127.0.0.1:%s -tls1_2 -CAfile %s -verify_return_error "
	    "2>&1", port, cert("ca.crt")), 0);
	assert_non_null(strstr(out, "Protocol  : TLSv1.2"));
	assert_non_null(strstr(out, "ECDHE"));
	assert_int_equal(shell(out, sizeof(out), "echo | openssl s_client "
	    "-connect 127.0.0.1:%s -tls1_3 -CAfile %s -verify_return_error "
	    "2>&1", port, cert("ca.crt")), 0);
	assert_non_null(strstr(out, "TLSv1.3"));
	/* Old versions, a suite without ECDHE and AEAD: no handshake. */
	assert_int_not_equal(shell(out, sizeof(out), "echo | openssl s_client "
	    "-connect 127.0.0.1:%s -tls1_1 2>&1", port), 0);
	assert_int_not_equal(shell(out, sizeof(out), "echo | openssl s_client "
	    "-connect 127.0.0.1:%s -tls1_2 -cipher AES128-SHA 2>&1", port), 0);
	assert_int_not_equal(shell(out, sizeof(out), "echo | openssl s_client "
	    "-connect 127.0.0.1:%s -tls1_2 -cipher ECDHE-ECDSA-AES128-SHA "
	    "2>&1", port), 0);
	/* Renegotiation ("R" asks for it) is refused, and the server lives. */
	shell(out, sizeof(out), "(sleep 1; echo R; sleep 1) | openssl s_client "
	    "-connect 127.0.0.1:%s -tls1_2 -CAfile %s 2>&1", port,
	    cert("ca.crt"));
	assert_non_null(strstr(out, "RENEGOTIATING"));
	assert_non_null(strstr(out, "no renegotiation"));
	assert_true(testsrv_log_contains(&srv, "tls session ended"));
	assert_int_equal(shell(out, sizeof(out), "echo | openssl s_client "
	    "-connect 127.0.0.1:%s -tls1_3 -CAfile %s -verify_return_error "
	    "2>&1", port, cert("ca.crt")), 0);
}

/* GnuTLS interoperates, and a modern server refuses TLS 1.2. */
static void
test_gnutls_client(void **state)
{
	static const char *const modern[] = { "--tls-profile", "modern", NULL };
	char out[16384];

	(void)state;
	install("server");
	assert_int_equal(start(NULL), 0);
	assert_int_equal(shell(out, sizeof(out), "gnutls-cli --x509cafile=%s "
	    "--port=%s localhost </dev/null 2>&1", cert("ca.crt"), tls_port()),
	    0);
	assert_non_null(strstr(out, "Handshake was completed"));
	testsrv_stop(&srv);
	assert_int_equal(start(modern), 0);
	assert_int_not_equal(shell(out, sizeof(out), "gnutls-cli "
	    "--x509cafile=%s --port=%s --priority=NORMAL:-VERS-TLS1.3 "
	    "localhost </dev/null 2>&1", cert("ca.crt"), tls_port()), 0);
	assert_int_equal(shell(out, sizeof(out), "gnutls-cli --x509cafile=%s "
	    "--port=%s localhost </dev/null 2>&1", cert("ca.crt"), tls_port()),
	    0);
	assert_non_null(strstr(out, "TLS1.3"));
}

/* A request over an open wire_open session: the reply's header. */
static int
wire_request(struct wire *w, int header, json_t *payload)
{
	unsigned char *frame;
	struct msg *reply;
	const char *why;
	size_t len;
	int h;

	assert_int_equal(msg_encode(header, payload, FRAME_MAX_DEFAULT, &frame,
	    &len), 0);
	assert_int_equal(wire_write(w, frame, len), 0);
	free(frame);
	if (wire_read_msg(w, FRAME_REPLY_MAX, &reply, &why) == -1)
		return -1;
	h = (int)msg_header(reply);
	msg_free(reply);
	return h;
}

static struct wire *
open_tls(char *serial_r, size_t len)
{
	struct wire_tls tls = { cert("ca.crt"), NULL };
	char err[256];
	struct wire *w = wire_open("127.0.0.1", tls_port(), &tls, 10, err,
	    sizeof(err));
	char out[16384], *p;

	if (w == NULL)
		fail_msg("wire_open: %s", err);
	if (serial_r != NULL) {
		shell(out, sizeof(out), "echo | openssl s_client -connect "
		    "127.0.0.1:%s 2>/dev/null | openssl x509 -noout -serial",
		    tls_port());
		p = strstr(out, "serial=");
		assert_non_null(p);
		snprintf(serial_r, len, "%.*s", (int)strcspn(p + 7, "\n"),
		    p + 7);
	}
	return w;
}

static void
wait_log(const char *needle)
{
	struct timespec ts = { 0, 20 * 1000 * 1000 };
	int i;

	for (i = 0; i < 250 && !testsrv_log_contains(&srv, needle); i++)
		nanosleep(&ts, NULL);
	assert_true(testsrv_log_contains(&srv, needle));
}

/* SIGHUP: new handshakes get the new certificate, old sessions go on. */
static void
test_reload(void **state)
{
	static const char *const conf[] = { "--config", NULL, NULL };
	char serial[64], conffile[700];
	const char *argv[3];
	struct wire *old;
	FILE *f;

	(void)state;
	install("server");
	/* SIGHUP re-reads a configuration file: give the server one. */
	snprintf(conffile, sizeof(conffile), "%s.conf", certfile);
	assert_non_null(f = fopen(conffile, "w"));
	fprintf(f, "log-level = info\n");
	assert_int_equal(fclose(f), 0);
	argv[0] = conf[0];
	argv[1] = conffile;
	argv[2] = NULL;
	assert_int_equal(start(argv), 0);
	old = open_tls(serial, sizeof(serial));
	assert_string_equal(serial, "1000");
	assert_int_equal(wire_request(old, PROTO_AUTH_REGISTER,
	    msg_credentials_new("rita", PASSWORD)), PROTO_OK);

	install("server2");
	kill(srv.pid, SIGHUP);
	wait_log("reload: tls certificate serial=1001");
	wire_close(open_tls(serial, sizeof(serial)));
	assert_string_equal(serial, "1001");
	/* The session opened before goes on with its own certificate. */
	assert_int_equal(wire_request(old, PROTO_STATS_REQUEST, NULL),
	    PROTO_OK);

	/* A broken certificate (key of another one): the old one stays. */
	{
		char *key = testsrv_read_file(cert("other.key"));

		assert_non_null(key);
		assert_non_null(f = fopen(keyfile, "w"));
		fputs(key, f);
		assert_int_equal(fclose(f), 0);
		free(key);
	}
	kill(srv.pid, SIGHUP);
	wait_log("the certificate in service stays");
	wire_close(open_tls(serial, sizeof(serial)));
	assert_string_equal(serial, "1001");
	assert_int_equal(wire_request(old, PROTO_STATS_REQUEST, NULL),
	    PROTO_OK);
	wire_close(old);
	unlink(conffile);
}

/* Start-up refuses a key others can read, an encrypted one, none at all. */
static void
test_startup_refusals(void **state)
{
	static const char *const none[] = { "--tls-listen", "127.0.0.1:0",
		NULL };
	char out[4096];

	(void)state;
	install("server");
	assert_int_equal(chmod(keyfile, 0644), 0);
	assert_int_equal(shell(out, sizeof(out), "%s --listen 127.0.0.1:0 "
	    "--tls-listen 127.0.0.1:0 --tls-cert %s --tls-key %s --data-dir "
	    "%s.data 2>&1", testsrv_binary(), certfile, keyfile, certfile), 1);
	assert_non_null(strstr(out, "accessible by group or others"));
	assert_int_equal(shell(out, sizeof(out), "%s --listen 127.0.0.1:0 "
	    "--tls-listen 127.0.0.1:0 --tls-cert %s --tls-key %s --data-dir "
	    "%s.data 2>&1 </dev/null", testsrv_binary(), certfile,
	    cert("encrypted.key"), certfile), 1);
	assert_non_null(strstr(out, "encrypted key is not supported"));
	assert_int_equal(testsrv_start(&srv, none), -1);
	assert_true(testsrv_log_contains(&srv, "tls-cert and tls-key"));
}

/* Bytes a scanner or a broken client sends to the TLS port. */
static void
test_hostile(void **state)
{
	static const unsigned char hello_start[] = { 0x16, 0x03, 0x01, 0x02,
		0x00, 0x01, 0x00, 0x01, 0xfc, 0x03, 0x03 };
	struct wire *w;
	struct timespec t0, t1;
	char buf[64];
	int fd, i;

	(void)state;
	install("server");
	assert_int_equal(start(NULL), 0);
	w = open_tls(NULL, 0);
	assert_int_equal(wire_request(w, PROTO_AUTH_REGISTER,
	    msg_credentials_new("bystander", PASSWORD)), PROTO_OK);
	snprintf(srv.port, sizeof(srv.port), "%s", tls_port());
	/* Plaintext (the JSON protocol) on the TLS port: closed, logged at
	 * info level as the scanner it is. */
	assert_true((fd = testsrv_connect(&srv)) >= 0);
	assert_int_equal(wire_send(fd, PROTO_STATS_REQUEST, NULL,
	    FRAME_MAX_DEFAULT), 0);
	assert_true(read(fd, buf, sizeof(buf)) <= 0 || buf[0] == 0x15);
	close(fd);
	wait_log("info: ");
	assert_true(testsrv_log_contains(&srv, "wrong version number") ||
	    testsrv_log_contains(&srv, "http request") ||
	    testsrv_log_contains(&srv, "record"));
	assert_false(testsrv_log_contains(&srv, "warn: conn=2 tls"));
	/* Garbage, a truncated ClientHello, a close mid-handshake. */
	for (i = 0; i < 20; i++) {
		assert_true((fd = testsrv_connect(&srv)) >= 0);
		if (i % 3 == 0)
			(void)write(fd, "\x00\xff garbage \x01\x02", 13);
		else if (i % 3 == 1)
			(void)write(fd, hello_start, sizeof(hello_start));
		close(fd);
	}
	/* A silent connection is cut by the login timeout (2 s here). */
	assert_true((fd = testsrv_connect(&srv)) >= 0);
	clock_gettime(CLOCK_MONOTONIC, &t0);
	assert_true(read(fd, buf, sizeof(buf)) <= 0);
	clock_gettime(CLOCK_MONOTONIC, &t1);
	assert_true(t1.tv_sec - t0.tv_sec >= 1 && t1.tv_sec - t0.tv_sec <= 6);
	close(fd);
	/* A client that vanishes mid-session (no close_notify, a reset):
	 * an ordinary close in the log, not an error. */
	{
		struct wire *v = open_tls(NULL, 0);
		struct linger lg = { 1, 0 };

		assert_int_equal(wire_request(v, PROTO_AUTH_LOGIN,
		    msg_credentials_new("bystander", PASSWORD)), PROTO_OK);
		setsockopt(wire_fd(v), SOL_SOCKET, SO_LINGER, &lg, sizeof(lg));
		shutdown(wire_fd(v), SHUT_RDWR);
		wire_close(v);
		wait_log("close reason=\"end of input\" user=bystander");
		assert_false(testsrv_log_contains(&srv, "tls session ended"));
	}
	/* Everyone else was served all along. */
	assert_int_equal(wire_request(w, PROTO_STATS_REQUEST, NULL), PROTO_OK);
	wire_close(w);
	w = open_tls(NULL, 0);
	assert_int_equal(wire_request(w, PROTO_AUTH_LOGIN,
	    msg_credentials_new("bystander", PASSWORD)), PROTO_OK);
	assert_int_equal(wire_request(w, PROTO_STATS_REQUEST, NULL), PROTO_OK);
	wire_close(w);
	assert_true(testsrv_log_contains(&srv, "tls handshake timeout"));
}

/* plaintext-auth and registration, over the two listeners. */
static void
test_policies(void **state)
{
	static const char *const never[] = { "--plaintext-auth", "never",
		"--registration", "loopback", NULL };
	static const char *const closed[] = { "--registration", "closed",
		NULL };
	struct msg *reply;
	union msg_args a;
	const char *why;
	struct wire *w;
	int fd;

	(void)state;
	install("server");
	assert_int_equal(start(never), 0);
	/* Plaintext: refused even from loopback, with the reason. */
	assert_true((fd = testsrv_connect(&srv)) >= 0);
	assert_int_equal(testsrv_request(fd, PROTO_AUTH_REGISTER,
	    msg_credentials_new("pat", PASSWORD), &reply), PROTO_ERROR);
	assert_int_equal(msg_unpack(reply, PROTO_SHAPE_ERROR, &a, &why), 0);
	assert_non_null(strstr(a.error_message, "use TLS"));
	msg_free(reply);
	assert_int_equal(testsrv_request(fd, PROTO_AUTH_LOGIN,
	    msg_credentials_new("pat", PASSWORD), NULL), PROTO_ERROR);
	close(fd);
	/* TLS from loopback: register (loopback allowed), then login. */
	w = open_tls(NULL, 0);
	assert_int_equal(wire_request(w, PROTO_AUTH_REGISTER,
	    msg_credentials_new("pat", PASSWORD)), PROTO_OK);
	wire_close(w);
	w = open_tls(NULL, 0);
	assert_int_equal(wire_request(w, PROTO_AUTH_LOGIN,
	    msg_credentials_new("pat", PASSWORD)), PROTO_OK);
	wire_close(w);
	assert_true(testsrv_log_contains(&srv, "register refused addr="));
	testsrv_stop(&srv);

	assert_int_equal(start(closed), 0);
	w = open_tls(NULL, 0);
	assert_int_equal(wire_request(w, PROTO_AUTH_REGISTER,
	    msg_credentials_new("quinn", PASSWORD)), PROTO_ERROR);
	wire_close(w);
	assert_true((fd = testsrv_connect(&srv)) >= 0);
	assert_int_equal(testsrv_request(fd, PROTO_AUTH_REGISTER,
	    msg_credentials_new("quinn", PASSWORD), &reply), PROTO_ERROR);
	assert_int_equal(msg_unpack(reply, PROTO_SHAPE_ERROR, &a, &why), 0);
	assert_non_null(strstr(a.error_message, "registration is closed"));
	msg_free(reply);
	close(fd);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_teardown(test_client_commands, teardown),
		cmocka_unit_test_teardown(test_client_verification, teardown),
		cmocka_unit_test_teardown(test_openssl_client, teardown),
		cmocka_unit_test_teardown(test_gnutls_client, teardown),
		cmocka_unit_test_teardown(test_reload, teardown),
		cmocka_unit_test_teardown(test_startup_refusals, teardown),
		cmocka_unit_test_teardown(test_hostile, teardown),
		cmocka_unit_test_teardown(test_policies, teardown),
	};

	return cmocka_run_group_tests(tests, group_setup, group_teardown);
}
