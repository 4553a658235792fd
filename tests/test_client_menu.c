/*
 * test_client_menu.c - the glomail menus in a pseudo-terminal against a
 * real glomaild: every path in English and in French, echo off for
 * passwords (menus and commands), Ctrl-D at each kind of prompt, invalid
 * choices, a server killed mid-session, and a seed-like server that
 * answers AUTH_LOGOUT.
 */
#include <sys/socket.h>
#include <sys/wait.h>
#include <netinet/in.h>
#include <arpa/inet.h>

#include <poll.h>
#include <signal.h>
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <cmocka.h>

#include "clientrun.h"
#include "frame.h"
#include "proto.h"
#include "testsrv.h"
#include "wire.h"

#define PASSWORD "Correct0Horse"
#define WAIT_MS 20000

static struct testsrv srv;

/*
 * The client under test and a server of its own, if any: globals so that
 * the teardown kills them even when an assertion ends a test midway.
 */
static struct pty cur = { .fd = -1 };
static struct testsrv own;
static pid_t fake;

/* The texts the menus must show, in one language. */
struct texts {
	const char *conn_menu;
	const char *main_menu;
	const char *choice3;
	const char *choice4;
	const char *choice_main; /* glomaild's main menu: three more */
	const char *choice_read; /* glomaild's choices after reading */
	const char *to_many;     /* glomaild's send: several recipients */
	const char *user;
	const char *password;
	const char *again;
	const char *created;
	const char *logged_out;
	const char *to;
	const char *subject;
	const char *body;
	const char *sent;
	const char *empty;
	const char *from;
	const char *dest;
	const char *subj;
	const char *date;
	const char *count;
	const char *size;
	const char *bytes;
	const char *bad_password;
	const char *wrong_login;
	const char *wait;
	/* glomaild's additions */
	const char *more_after_read;
	const char *marked;
	const char *deleted;
	const char *search_prompt;
	const char *no_match;
	const char *current_pw;
	const char *new_pw;
	const char *new_again;
	const char *pw_changed;
	const char *wrong_current;
	const char *new_mail;
	const char *page1;
	const char *page2;
	const char *main_more;
	const char *outside;
	const char *undeliverable;
};

static const struct texts english = {
	.conn_menu = "Connection menu\n1. Create an account\n2. Log in\n"
	             "3. Quit\n",
	.main_menu = "Main menu\n1. Read mail\n2. Send mail\n3. Statistics\n"
	             "4. Log out\n",
	.choice3 = "Enter your choice [1-3]: ",
	.choice4 = "Enter your choice [1-4]: ",
	.choice_main = "Enter your choice [1-7]: ",
	.choice_read = "Enter your choice [1-6]: ",
	.to_many = "Enter the recipients' addresses (separated by commas): ",
	.user = "Enter a user name: ",
	.password = "Enter a password: ",
	.again = "Enter the password again: ",
	.created = "Account created.\n",
	.logged_out = "Logged out.\n",
	.to = "Enter the recipient's address: ",
	.subject = "Enter the subject: ",
	.body = "Enter the message, end it with a '.' on a line of its own:\n",
	.sent = "Message sent.\n",
	.empty = "Your mailbox is empty.\n",
	.from = "From: ",
	.dest = "To: ",
	.subj = "Subject: ",
	.date = "Date: ",
	.count = "Number of messages: ",
	.size = "Mailbox size: ",
	.bytes = " bytes",
	.bad_password = "password must have at least 10 characters, a digit, "
	                "a lower-case and an upper-case letter",
	.wrong_login = "unknown user or wrong password\n",
	.wait = "Please wait: the server has not answered yet...\n",
	.more_after_read = "4. Back to the main menu\n5. Delete this message\n"
	                   "6. Mark as unread\n",
	.marked = "Message marked as unread.\n",
	.deleted = "Message deleted.\n",
	.search_prompt = "Search for (sender, recipient, subject or text): ",
	.no_match = "No message matches.\n",
	.current_pw = "Enter your current password: ",
	.new_pw = "Enter the new password: ",
	.new_again = "Enter the new password again: ",
	.pw_changed = "Password changed.\n",
	.wrong_current = "wrong current password\n",
	.new_mail = "New mail from ",
	.page1 = "Page 1 of 2: n. Next page  p. Previous page\n",
	.page2 = "Page 2 of 2: n. Next page  p. Previous page\n",
	.main_more = "4. Log out\n5. Automatic reply\n6. Search mail\n"
	             "7. Change the password\n",
	.outside = "x@example.com: the address is outside the local domain "
	           "(glo2000.ca)\n",
	.undeliverable = "ghost.x@glo2000.ca: no such recipient; the message "
	                 "was kept as undeliverable\n",
};

/* The original client's French texts, character for character. */
static const struct texts french = {
	.conn_menu = "Menu de connexion\n1. Cr\xc3\xa9"
	             "er un compte\n"
	             "2. Se connecter\n3. Quitter\n",
	.main_menu = "Menu principal\n1. Consultation de courriels\n"
	             "2. Envoi de courriels\n3. Statistiques\n"
	             "4. Se d\xc3\xa9"
	             "connecter\n",
	.choice3 = "Entrez votre choix [1-3]: ",
	.choice4 = "Entrez votre choix [1-4]: ",
	.choice_main = "Entrez votre choix [1-7]: ",
	.choice_read = "Entrez votre choix [1-6]: ",
	.to_many = "Entrez les adresses des destinataires (s\xc3\xa9par\xc3\xa9"
	           "es par des virgules): ",
	.user = "Entrez un nom d'utilisateur: ",
	.password = "Entrez un mot de passe: ",
	.again = "Entrez le mot de passe de nouveau: ",
	.created = "Compte cr\xc3\xa9\xc3\xa9.\n",
	.logged_out = "D\xc3\xa9"
	              "connect\xc3\xa9.\n",
	.to = "Entrez l'adresse du destinataire: ",
	.subject = "Entrez le sujet: ",
	.body = "Entrez le contenu du courriel, terminez avec un '.' sur une "
	        "ligne :\n",
	.sent = "Courriel envoy\xc3\xa9.\n",
	.empty = "Votre bo\xc3\xaete de r\xc3\xa9"
	         "ception est vide.\n",
	.from = "De : ",
	.dest = "\xc3\x80 : ",
	.subj = "Sujet : ",
	.date = "Date : ",
	.count = "Nombre de messages : ",
	.size = "Taille du dossier : ",
	.bytes = " octets",
	.bad_password = "le mot de passe doit avoir au moins 10 "
	                "caract\xc3\xa8res, un chiffre, une minuscule et une "
	                "majuscule",
	.wrong_login = "utilisateur inconnu ou mot de passe erron\xc3\xa9\n",
	.wait = "Veuillez patienter : le serveur n'a pas encore "
	        "r\xc3\xa9pondu...\n",
	.more_after_read = "4. Retour au menu principal\n"
	                   "5. Supprimer ce courriel\n"
	                   "6. Marquer comme non lu\n",
	.marked = "Courriel marqu\xc3\xa9 comme non lu.\n",
	.deleted = "Courriel supprim\xc3\xa9.\n",
	.search_prompt = "Rechercher (exp\xc3\xa9"
	                 "diteur, destinataire, sujet ou texte): ",
	.no_match = "Aucun courriel ne correspond.\n",
	.current_pw = "Entrez votre mot de passe actuel: ",
	.new_pw = "Entrez le nouveau mot de passe: ",
	.new_again = "Entrez de nouveau le nouveau mot de passe: ",
	.pw_changed = "Mot de passe chang\xc3\xa9.\n",
	.wrong_current = "mot de passe actuel erron\xc3\xa9\n",
	.new_mail = "Nouveau courriel de ",
	.page1 = "Page 1 sur 2 : n. Page suivante  p. Page pr\xc3\xa9"
	         "c\xc3\xa9"
	         "dente\n",
	.page2 = "Page 2 sur 2 : n. Page suivante  p. Page pr\xc3\xa9"
	         "c\xc3\xa9"
	         "dente\n",
	.main_more = "4. Se d\xc3\xa9"
	             "connecter\n5. R\xc3\xa9ponse automatique\n"
	             "6. Recherche de courriels\n7. Changer le mot de passe\n",
	.outside = "x@example.com: l'adresse est hors du domaine local "
	           "(glo2000.ca)\n",
	.undeliverable = "ghost.x@glo2000.ca: destinataire inconnu ; le "
	                 "courriel a \xc3\xa9t\xc3\xa9 conserv\xc3\xa9 comme "
	                 "non distribuable\n",
};

static int
teardown(void **state)
{
	(void)state;
	pty_close(&cur);
	if (fake > 0) {
		kill(fake, SIGKILL);
		waitpid(fake, NULL, 0);
		fake = 0;
	}
	testsrv_stop(&own);
	memset(&own, 0, sizeof(own));
	return 0;
}

/* Start the menus on srv (or on port), with LANG=lang when not NULL. */
static void
start(struct pty *p, const char *port, const char *lang, const char *extra)
{
	const char *argv[] = { "glomail", "-d", "127.0.0.1", "-p", port, NULL };
	const char *env[3] = { lang, extra, NULL };

	if (lang == NULL)
		env[0] = extra;
	assert_int_equal(pty_spawn(p, argv, env), 0);
}

static void
expect(struct pty *p, const char *text)
{
	assert_int_equal(pty_expect(p, text, WAIT_MS), 0);
}

static void
type(struct pty *p, const char *line)
{
	assert_int_equal(pty_type(p, line), 0);
}

/* Wait for the client to end and check how. */
static void
ends_with(struct pty *p, int code)
{
	assert_int_equal(pty_wait(p, WAIT_MS), code);
}

/*
 * At the connection menu: create an account or log in. The password
 * prompt must show with echo already off, and the password must never
 * appear on the terminal; echo is back at the main menu.
 */
static void
auth(struct pty *p, const struct texts *t, const char *choice, const char *user,
    const char *password)
{
	expect(p, t->conn_menu);
	expect(p, t->choice3);
	type(p, choice);
	expect(p, t->user);
	type(p, user);
	type(p, "\n");
	expect(p, t->password);
	assert_int_equal(pty_echo(p), 0);
	type(p, password);
	type(p, "\n");
}

/*
 * Create an account with a valid password: asked twice, echo off both
 * times, and the creation confirmed.
 */
static void
create(struct pty *p, const struct texts *t, const char *user,
    const char *password)
{
	auth(p, t, "1\n", user, password);
	expect(p, t->again);
	assert_int_equal(pty_echo(p), 0);
	type(p, password);
	type(p, "\n");
	expect(p, t->created);
}

static void
logged_in(struct pty *p, const struct texts *t, const char *password)
{
	expect(p, t->main_menu);
	expect(p, t->choice_main);
	assert_int_equal(pty_echo(p), 1);
	assert_null(strstr(p->buf, password));
}

/* The whole tour of the menus in one language. */
static void
tour(const struct texts *t, const char *lang, const char *locpath,
    const char *user)
{
	char addr[64], line[160];
	struct pty *p = &cur;

	snprintf(addr, sizeof(addr), "%s@glo2000.ca", user);
	start(p, srv.port, lang, locpath);

	/* Refused account: the reason, then the connection menu again. */
	auth(p, t, "1\n", user, "short");
	expect(p, t->bad_password);

	create(p, t, user, PASSWORD);
	logged_in(p, t, PASSWORD);

	type(p, "1\n");
	expect(p, t->empty);
	expect(p, t->main_menu);

	type(p, "2\n");
	expect(p, t->to_many);
	type(p, addr);
	type(p, "\n");
	expect(p, t->subject);
	type(p, "R\xc3\xa9union\n");
	expect(p, t->body);
	type(p, "ligne un \xc3\xa9\n\nligne trois\n.\n");
	expect(p, t->sent);
	expect(p, t->choice_main);

	type(p, "1\n");
	snprintf(line, sizeof(line), "#1 %s - R\xc3\xa9union ", addr);
	expect(p, line);
	expect(p, t == &english ? "Enter your choice [1-1]: "
	                        : "Entrez votre choix [1-1]: ");
	type(p, "1\n");
	snprintf(line, sizeof(line), "\n%s%s\n%s%s\n%sR\xc3\xa9union\n%s",
	    t->from, addr, t->dest, addr, t->subj, t->date);
	expect(p, line);
	expect(p, " +0000\n----------------------------------------\n"
	          "ligne un \xc3\xa9\n\nligne trois\n");
	expect(p, t->choice_read);
	/* glomaild offers reply, reply to all, forward: back. */
	type(p, "4\n");
	expect(p, t->choice_main);

	type(p, "3\n");
	snprintf(line, sizeof(line), "%s1\n%s", t->count, t->size);
	expect(p, line);
	expect(p, t->bytes);
	expect(p, t->choice_main);

	/* Log out, back in, out again, quit. */
	type(p, "4\n");
	expect(p, t->logged_out);
	auth(p, t, "2\n", user, PASSWORD);
	logged_in(p, t, PASSWORD);
	type(p, "4\n");
	expect(p, t->logged_out);
	expect(p, t->conn_menu);
	expect(p, t->choice3);
	type(p, "3\n");
	ends_with(p, 0);
	pty_close(p);
}

static void
test_tour_english(void **state)
{
	(void)state;
	tour(&english, NULL, NULL, "tour.en");
}

static void
test_tour_french(void **state)
{
	const char *locpath;
	char why[256];

	(void)state;
	if (clientrun_french(&locpath, why, sizeof(why)) == -1) {
		fprintf(stderr, "skipping: %s\n", why);
		skip();
	}
	tour(&french, "LANG=fr_CA.UTF-8", locpath, "tour.fr");
}

/* LC_ALL wins over LANG, and any fr_* locale gives French. */
static void
test_french_by_lc_all(void **state)
{
	const char *locpath;
	char why[256];
	struct pty *p = &cur;

	(void)state;
	if (clientrun_french(&locpath, why, sizeof(why)) == -1) {
		fprintf(stderr, "skipping: %s\n", why);
		skip();
	}
	start(p, srv.port, "LC_ALL=fr_CA.UTF-8", locpath);
	expect(p, french.conn_menu);
	type(p, "\004");
	ends_with(p, 0);
	pty_close(p);
}

/* A French locale the machine does not have: English, working. */
static void
test_missing_locale_is_english(void **state)
{
	struct pty *p = &cur;

	(void)state;
	start(p, srv.port, "LANG=fr_ZZ.UTF-8", NULL);
	expect(p, english.conn_menu);
	expect(p, english.choice3);
	type(p, "3\n");
	ends_with(p, 0);
	pty_close(p);
}

static void
test_invalid_choices_reprompt(void **state)
{
	static const char *const bad[] = { "0\n", "4\n", "abc\n", "\n", "1.5\n",
		"-1\n", "99999999999999999999\n" };
	struct pty *p = &cur;
	size_t i;

	(void)state;
	start(p, srv.port, NULL, NULL);
	expect(p, english.choice3);
	for (i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		type(p, bad[i]);
		expect(p, english.choice3);
	}
	/* The main menu re-asks too, and so does the message choice. */
	type(p, "1\n");
	expect(p, english.user);
	type(p, "choosy\n");
	expect(p, english.password);
	type(p, PASSWORD "\n");
	expect(p, english.again);
	type(p, PASSWORD "\n");
	expect(p, english.choice_main);
	type(p, "8\n");
	expect(p, english.choice_main);
	type(p, "2\n");
	expect(p, english.to_many);
	type(p, "choosy@glo2000.ca\nhi\nbody\n.\n");
	expect(p, english.sent);
	type(p, "1\n");
	expect(p, "Enter your choice [1-1]: ");
	type(p, "2\n");
	expect(p, "Enter your choice [1-1]: ");
	type(p, "1\n");
	expect(p, "body\n");
	expect(p, english.choice_read);
	type(p, "4\n");
	expect(p, english.choice_main);
	type(p, "4\n");
	expect(p, english.choice3);
	type(p, "3\n");
	ends_with(p, 0);
	pty_close(p);
}

/* Ctrl-D at the connection menu quits cleanly. */
static void
test_ctrl_d_connection_menu(void **state)
{
	struct pty *p = &cur;

	(void)state;
	start(p, srv.port, NULL, NULL);
	expect(p, english.choice3);
	type(p, "\004");
	ends_with(p, 0);
	pty_close(p);
}

/* Ctrl-D at the password prompt quits, with echo restored first. */
static void
test_ctrl_d_password(void **state)
{
	struct pty *p = &cur;

	(void)state;
	start(p, srv.port, NULL, NULL);
	expect(p, english.choice3);
	type(p, "2\n");
	expect(p, english.user);
	type(p, "someone\n");
	expect(p, english.password);
	assert_int_equal(pty_echo(p), 0);
	type(p, "\004");
	ends_with(p, 0);
	pty_close(p);
}

/* Ctrl-D in the main menu and in the middle of a message. */
static void
test_ctrl_d_main_menu_and_body(void **state)
{
	struct pty *p = &cur;

	(void)state;
	start(p, srv.port, NULL, NULL);
	create(p, &english, "eof.user", PASSWORD);
	logged_in(p, &english, PASSWORD);
	type(p, "\004");
	ends_with(p, 0);
	pty_close(p);

	start(p, srv.port, NULL, NULL);
	auth(p, &english, "2\n", "eof.user", PASSWORD);
	logged_in(p, &english, PASSWORD);
	type(p, "2\n");
	expect(p, english.to_many);
	type(p, "eof.user@glo2000.ca\nunsent\nhalf a body\n\004");
	ends_with(p, 0);
	pty_close(p);

	/* Nothing was sent. */
	start(p, srv.port, NULL, NULL);
	auth(p, &english, "2\n", "eof.user", PASSWORD);
	logged_in(p, &english, PASSWORD);
	type(p, "1\n");
	expect(p, english.empty);
	type(p, "\004");
	ends_with(p, 0);
	pty_close(p);
}

/* The server dies while the user is in the main menu. */
static void
test_server_killed(void **state)
{
	struct pty *p = &cur;

	(void)state;
	assert_int_equal(testsrv_start(&own, NULL), 0);
	start(p, own.port, NULL, NULL);
	create(p, &english, "doomed", PASSWORD);
	logged_in(p, &english, PASSWORD);
	testsrv_kill(&own, SIGKILL);
	type(p, "3\n");
	expect(p, "glomail: connection to the server lost: ");
	ends_with(p, 2);
	pty_close(p);
	testsrv_stop(&own);
}

/* A wrong password at login: the reason, and the connection menu. */
static void
test_login_refused(void **state)
{
	struct pty *p = &cur;

	(void)state;
	start(p, srv.port, NULL, NULL);
	auth(p, &english, "2\n", "no.such.user", PASSWORD);
	expect(p, "unknown user or wrong password\n");
	expect(p, english.conn_menu);
	expect(p, english.choice3);
	type(p, "3\n");
	ends_with(p, 0);
	pty_close(p);
}

/* A command asks for the password on the terminal, without echo. */
static void
test_command_password_prompt(void **state)
{
	const char *argv[] = { "glomail", "-d", "127.0.0.1", "-p", srv.port,
		"-u", "prompted", "register", NULL };
	struct pty *p = &cur;

	(void)state;
	assert_int_equal(pty_spawn(p, argv, NULL), 0);
	expect(p, "Password: ");
	assert_int_equal(pty_echo(p), 0);
	type(p, PASSWORD "\n");
	/* A new password is typed twice; success is said. */
	expect(p, "Password again: ");
	assert_int_equal(pty_echo(p), 0);
	type(p, PASSWORD "\n");
	expect(p, "glomail: account created\n");
	ends_with(p, 0);
	assert_null(strstr(p->buf, PASSWORD));
	pty_close(p);

	/* A mismatch: refused before anything is sent. */
	argv[6] = "prompted.two";
	assert_int_equal(pty_spawn(p, argv, NULL), 0);
	expect(p, "Password: ");
	type(p, PASSWORD "\n");
	expect(p, "Password again: ");
	type(p, PASSWORD "x\n");
	expect(p, "glomail: the passwords do not match\n");
	ends_with(p, 2);
	pty_close(p);

	/* A weak one: refused by the rules before it is asked again. */
	assert_int_equal(pty_spawn(p, argv, NULL), 0);
	expect(p, "Password: ");
	type(p, "weak\n");
	expect(p, "glomail: password must have at least 10 characters");
	ends_with(p, 1);
	assert_null(strstr(p->buf, "Password again: "));
	pty_close(p);
	argv[6] = "prompted";

	argv[7] = "stats";
	assert_int_equal(pty_spawn(p, argv, NULL), 0);
	expect(p, "Password: ");
	type(p, PASSWORD "\n");
	expect(p, "messages: 0\nsize: 0\nsize_human: 0 bytes\n");
	ends_with(p, 0);
}

/*
 * A server the way some seed servers behave: it answers AUTH_LOGOUT,
 * which the protocol says not to do, and checks that the client filled in
 * sender and date, as seed servers need. Serves one client, then exits 0.
 */
static void
seed_like_server(int fd)
{
	union msg_args a;
	struct msg *m;
	const char *why;
	json_t *reply;
	int c, h;

	alarm(60);
	if ((c = accept(fd, NULL, NULL)) == -1)
		_exit(3);
	while (wire_recv(c, FRAME_MAX_DEFAULT, &m, &why) == 0) {
		h = (int)msg_header(m);
		reply = NULL;
		if (h == PROTO_BYE)
			_exit(0);
		if (h == PROTO_STATS_REQUEST)
			reply = msg_stats_new(7, 2100000);
		if (h == PROTO_INBOX_READING_REQUEST)
			reply = json_pack("{s:[s]}", "email_list",
			    "#1 x@glo2000.ca - \x1b]0;title\x07"
			    "Hi "
			    "Tue, 12 Jul 2022 19:21:57 +0000");
		if (h == PROTO_INBOX_READING_CHOICE) {
			struct msg_email e = { "x@glo2000.ca\r",
				"seedy@glo2000.ca", "\x1b[2JHi",
				"Tue, 12 Jul 2022 19:21:57 +0000",
				"\xc2\x9b"
				"31mred\x1b[0m" };

			reply = msg_email_new(&e);
		}
		/* As seed servers do: an unknown header gets ERROR. */
		if (h > PROTO_STATS_REQUEST) {
			h = PROTO_ERROR;
			reply = msg_error_new("unknown header");
		}
		if (h == PROTO_EMAIL_SENDING &&
		    (msg_unpack(m, PROTO_SHAPE_EMAIL, &a, &why) == -1 ||
		        a.email.sender == NULL ||
		        strcmp(a.email.sender, "seedy@glo2000.ca") != 0 ||
		        a.email.date == NULL ||
		        strstr(a.email.date, " +0000") == NULL)) {
			h = PROTO_ERROR;
			reply = msg_error_new("sender or date missing");
		}
		msg_free(m);
		if (wire_send(c, h == PROTO_ERROR ? PROTO_ERROR : PROTO_OK,
		        reply, FRAME_MAX_DEFAULT) == -1)
			_exit(1);
	}
	_exit(2);
}

/* The client stays in step with a server that answers AUTH_LOGOUT. */
static void
test_seed_like_server(void **state)
{
	struct sockaddr_in sa = { .sin_family = AF_INET };
	struct texts seed;
	socklen_t len = sizeof(sa);
	struct pty *p = &cur;
	char port[16];
	int fd, status;

	(void)state;
	sa.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	assert_int_not_equal(fd = socket(AF_INET, SOCK_STREAM, 0), -1);
	assert_int_equal(bind(fd, (struct sockaddr *)&sa, sizeof(sa)), 0);
	assert_int_equal(listen(fd, 4), 0);
	assert_int_equal(getsockname(fd, (struct sockaddr *)&sa, &len), 0);
	snprintf(port, sizeof(port), "%d", ntohs(sa.sin_port));
	assert_int_not_equal(fake = fork(), -1);
	if (fake == 0)
		seed_like_server(fd);
	close(fd);

	/* No extension: the seed's main menu, four entries. */
	seed = english;
	seed.choice_main = english.choice4;
	start(p, port, NULL, NULL);
	auth(p, &english, "2\n", "seedy", "Any0Password");
	logged_in(p, &seed, "Any0Password");
	type(p, "4\n");
	/* Give the unwanted reply time to arrive, as a person would. */
	poll(NULL, 0, 300);
	auth(p, &english, "2\n", "seedy", "Any0Password");
	logged_in(p, &seed, "Any0Password");
	type(p, "2\n");
	expect(p, english.to);
	type(p, "x@glo2000.ca\nsubject\nbody\n.\n");
	expect(p, english.sent);
	expect(p, english.choice4);
	type(p, "3\n");
	expect(p, "Number of messages: 7\n"
	          "Mailbox size: 2.1 MB (2100000 bytes)\n");
	expect(p, english.choice4);
	/* What such a server stores as sent is shown, never obeyed. */
	type(p, "1\n");
	expect(p, "#1 x@glo2000.ca - ^[]0;title^GHi Tue");
	type(p, "1\n");
	expect(p, "From: x@glo2000.ca^M\nTo: seedy@glo2000.ca\n"
	          "Subject: ^[[2JHi\n");
	expect(p, "-\n\\u009b31mred^[[0m\n");
	expect(p, english.choice4);
	assert_null(strchr(p->buf, '\x1b'));
	type(p, "4\n");
	expect(p, english.choice3);
	type(p, "3\n");
	ends_with(p, 0);
	assert_int_equal(waitpid(fake, &status, 0), fake);
	fake = 0;
	assert_true(WIFEXITED(status) && WEXITSTATUS(status) == 0);
}

/* A hostile body: a title change, a colour, a carriage return, C1 CSI. */
#define HOSTILE_BODY \
	"a\x1b]0;pwned\x07 \x1b[31mred\rb\xc2\x9b" \
	"2Jc\ttab"
#define HOSTILE_SHOWN "a^[]0;pwned^G ^[[31mred^Mb\\u009b2Jc\ttab\n"

/* Send body to user from user with a command through pipes. */
static void
piped_send(const char *user, const char *subject, const char *body)
{
	const char *argv[] = { "glomail", "-d", "127.0.0.1", "-p", srv.port,
		"-u", user, "send", "--to", user, "--subject", subject, NULL };
	const char *const env[] = { "GLOMAIL_PASSWORD=" PASSWORD, NULL };
	struct clientrun_result r;

	assert_int_equal(clientrun(argv, env, body, &r), 0);
	if (r.exit_code != 0)
		fprintf(stderr, "send: %s", r.err);
	assert_int_equal(r.exit_code, 0);
	clientrun_free(&r);
}

/*
 * On a terminal, control characters in what the server returns are shown
 * visibly, in the menus and in the read command: the terminal never gets
 * an escape sequence from a message.
 */
static void
test_escapes_on_terminal(void **state)
{
	const char *argv[] = { "glomail", "-d", "127.0.0.1", "-p", srv.port,
		"-u", "esc.tty", "read", "1", NULL };
	const char *const env[] = { "GLOMAIL_PASSWORD=" PASSWORD, NULL };
	struct pty *p = &cur;

	(void)state;
	start(p, srv.port, NULL, NULL);
	create(p, &english, "esc.tty", PASSWORD);
	logged_in(p, &english, PASSWORD);
	piped_send("esc.tty", "colours", HOSTILE_BODY "\n");
	type(p, "1\n");
	expect(p, "Enter your choice [1-1]: ");
	type(p, "1\n");
	expect(p, "----------------------------------------\n" HOSTILE_SHOWN);
	expect(p, english.choice_read);
	assert_null(strchr(p->buf, '\x1b'));
	assert_null(strchr(p->buf, '\a'));
	assert_null(strstr(p->buf, "\xc2\x9b"));
	type(p, "\004");
	ends_with(p, 0);
	pty_close(p);

	assert_int_equal(pty_spawn(p, argv, env), 0);
	expect(p, "Subject: colours\n");
	expect(p, "\n\n" HOSTILE_SHOWN);
	ends_with(p, 0);
	assert_null(strchr(p->buf, '\x1b'));
}

/*
 * After reading a message: reply (Re: once, to the sender), forward to
 * two, reply to all; then the automatic reply on and off from the main
 * menu. Both in the menus' own words.
 */
static void
test_reply_forward_vacation(void **state)
{
	struct pty *p = &cur;
	char path[600], *f;

	(void)state;
	start(p, srv.port, NULL, NULL);
	create(p, &english, "menu.reader", PASSWORD);
	logged_in(p, &english, PASSWORD);
	{
		const char *reg[] = { "glomail", "-d", "127.0.0.1", "-p",
			srv.port, "-u", "menu.writer", "register", NULL };
		const char *snd[] = { "glomail", "-d", "127.0.0.1", "-p",
			srv.port, "-u", "menu.writer", "send", "--to",
			"menu.reader", "--subject", "Question", NULL };
		const char *const env[] = { "GLOMAIL_PASSWORD=" PASSWORD,
			NULL };
		struct clientrun_result r;

		assert_int_equal(clientrun(reg, env, "", &r), 0);
		assert_int_equal(r.exit_code, 0);
		clientrun_free(&r);
		assert_int_equal(clientrun(snd, env, "Are you in?\n", &r), 0);
		assert_int_equal(r.exit_code, 0);
		clientrun_free(&r);
	}
	type(p, "1\n");
	expect(p, "Enter your choice [1-1]: ");
	type(p, "1\n");
	expect(p, "Are you in?\n");
	expect(p, "1. Reply\n2. Reply to all\n3. Forward\n"
	          "4. Back to the main menu\n");
	type(p, "1\n");
	expect(p, "Subject: Re: Question\n");
	expect(p, english.body);
	type(p, "Yes.\n.\n");
	expect(p, "menu.writer@glo2000.ca: Message sent.\n");
	expect(p, english.choice_main);
	/* Forward to two, one outside the domain. */
	type(p, "1\n1\n");
	expect(p, "4. Back to the main menu\n");
	type(p, "3\n");
	expect(p, "Enter the recipients' addresses (separated by commas): ");
	type(p, "menu.reader, x@example.com\n");
	expect(p, "Subject: Fwd: Question\n");
	type(p, "See below.\n.\n");
	/* One message to the valid ones: the refused address comes first. */
	expect(p, "x@example.com: the address is outside the local domain");
	expect(p, "menu.reader@glo2000.ca: Message sent.\n");
	expect(p, english.choice_main);
	/* The automatic reply, on then off. */
	type(p, "5\n");
	expect(p, "Enter the subject of the automatic reply (empty turns it "
	          "off): ");
	type(p, "Away\n");
	expect(p, "Enter the last day, YYYY-MM-DD (empty for none): ");
	type(p, "\n");
	expect(p, english.body);
	type(p, "Gone fishing.\n.\n");
	expect(p, "Automatic reply turned on.\n");
	snprintf(path, sizeof(path), "%s/menu.reader/vacation", srv.data);
	assert_non_null(f = testsrv_read_file(path));
	assert_non_null(strstr(f, "Gone fishing."));
	free(f);
	type(p, "5\n\n");
	expect(p, "Automatic reply turned off.\n");
	assert_null(testsrv_read_file(path));
	type(p, "\004");
	ends_with(p, 0);
	pty_close(p);
}

/*
 * The address and the subject are checked before the body is asked for;
 * a bare name is completed with the domain; the error names the domain.
 */
static void
test_send_checks_first(void **state)
{
	struct pty *p = &cur;

	(void)state;
	start(p, srv.port, NULL, NULL);
	create(p, &english, "checker", PASSWORD);
	logged_in(p, &english, PASSWORD);

	type(p, "2\n");
	expect(p, english.to_many);
	type(p, "someone@example.com\n");
	expect(p, "the address is outside the local domain (glo2000.ca)\n");
	expect(p, english.choice_main);
	type(p, "2\n");
	expect(p, english.to_many);
	type(p, "not/valid\n");
	expect(p, "invalid address\n");
	expect(p, english.choice_main);
	/* Neither got as far as the subject. */
	assert_null(strstr(p->buf, english.subject));

	type(p, "2\n");
	expect(p, english.to_many);
	type(p, "checker\n");
	expect(p, english.subject);
	type(p, "bell\a\n");
	expect(p, "subject may not contain line breaks or control "
	          "characters\n");
	expect(p, english.choice_main);
	assert_null(strstr(p->buf, english.body));

	type(p, "2\n");
	expect(p, english.to_many);
	type(p, " checker \n");
	expect(p, english.subject);
	type(p, "completed\n");
	expect(p, english.body);
	type(p, "text\n.\n");
	expect(p, english.sent);
	type(p, "1\n");
	expect(p, "#1 checker@glo2000.ca - completed ");
	type(p, "1\n");
	expect(p, "From: checker@glo2000.ca\nTo: checker@glo2000.ca\n");
	expect(p, english.choice_read);
	type(p, "\004");
	ends_with(p, 0);
}

/*
 * Registration: the name rules before the password is asked, the
 * password rules before it is asked again, then a mismatch refused.
 */
static void
test_register_checks(void **state)
{
	struct pty *p = &cur;
	size_t from;

	(void)state;
	start(p, srv.port, NULL, NULL);
	expect(p, english.choice3);
	from = p->mark;
	type(p, "1\n");
	expect(p, english.user);
	type(p, "bad/name\n");
	expect(p, "user name may hold only letters, digits, '_', '.' and "
	          "'-'\n");
	expect(p, english.choice3);
	assert_null(strstr(p->buf + from, english.password));

	type(p, "1\n");
	expect(p, english.user);
	type(p, "mismatch\n");
	expect(p, english.password);
	type(p, PASSWORD "\n");
	expect(p, english.again);
	type(p, PASSWORD "x\n");
	expect(p, "The passwords do not match.\n");
	/* Nothing was created: the name is still free. */
	create(p, &english, "mismatch", PASSWORD);
	logged_in(p, &english, PASSWORD);
	type(p, "\004");
	ends_with(p, 0);
}

/*
 * A login the server holds back (after a failed one): "please wait"
 * shows once, in the user's language, and the login then goes through.
 */
static void
please_wait(const struct texts *t, const char *lang, const char *locpath)
{
	struct pty *p = &cur;

	assert_int_equal(testsrv_start(&own, NULL), 0);
	start(p, own.port, lang, locpath);
	create(p, t, "patient", PASSWORD);
	logged_in(p, t, PASSWORD);
	type(p, "4\n");
	expect(p, t->logged_out);
	auth(p, t, "2\n", "patient", "Wrong0Password");
	expect(p, t->wrong_login);
	auth(p, t, "2\n", "patient", PASSWORD);
	expect(p, t->wait);
	logged_in(p, t, PASSWORD);
	assert_null(strstr(p->buf + p->mark, t->wait));
	type(p, "\004");
	ends_with(p, 0);
	pty_close(p);
	if (t == &english) {
		/* A command says it on standard error, at the terminal. */
		const char *argv[] = { "glomail", "-d", "127.0.0.1", "-p",
			own.port, "-u", "patient", "stats", NULL };
		const char *const bad[] = { "GLOMAIL_PASSWORD=Wrong0Password",
			NULL };
		const char *const good[] = { "GLOMAIL_PASSWORD=" PASSWORD,
			NULL };

		assert_int_equal(pty_spawn(p, argv, bad), 0);
		ends_with(p, 1);
		pty_close(p);
		assert_int_equal(pty_spawn(p, argv, good), 0);
		expect(p, t->wait);
		expect(p, "messages: 0\n");
		ends_with(p, 0);
		pty_close(p);
	}
	testsrv_stop(&own);
	memset(&own, 0, sizeof(own));
}

static void
test_please_wait(void **state)
{
	const char *locpath;
	char why[256];

	(void)state;
	please_wait(&english, NULL, NULL);
	if (clientrun_french(&locpath, why, sizeof(why)) == -1) {
		fprintf(stderr, "skipping French: %s\n", why);
		return;
	}
	please_wait(&french, "LANG=fr_CA.UTF-8", locpath);
}

/* A server for another domain: the menus complete to it and send. */
static void
test_menu_other_domain(void **state)
{
	static const char *const extra[] = { "--domain", "example.org", NULL };
	struct pty *p = &cur;

	(void)state;
	assert_int_equal(testsrv_start(&own, extra), 0);
	start(p, own.port, NULL, NULL);
	create(p, &english, "dom", PASSWORD);
	logged_in(p, &english, PASSWORD);
	type(p, "2\n");
	expect(p, english.to_many);
	type(p, "dom@glo2000.ca\n");
	expect(p, "the address is outside the local domain (example.org)\n");
	type(p, "2\n");
	expect(p, english.to_many);
	type(p, "dom\nmine\nbody\n.\n");
	expect(p, english.sent);
	type(p, "1\n");
	expect(p, "#1 dom@example.org - mine ");
	type(p, "\004");
	ends_with(p, 0);
}

/* Send n messages to user from user over one connection ("m1"...). */
static void
fill(const char *user, const char *password, int n)
{
	char subject[32], addr[96];
	struct msg_email e = { addr, addr, subject, NULL, "filler" };
	int fd, i;

	snprintf(addr, sizeof(addr), "%s@glo2000.ca", user);
	assert_true((fd = testsrv_connect(&srv)) >= 0);
	assert_int_equal(testsrv_auth(fd, PROTO_AUTH_LOGIN, user, password),
	    PROTO_OK);
	for (i = 1; i <= n; i++) {
		snprintf(subject, sizeof(subject), "m%d", i);
		assert_int_equal(testsrv_request(fd, PROTO_EMAIL_SENDING,
		                     msg_email_new(&e), NULL),
		    PROTO_OK);
	}
	close(fd);
}

/*
 * glomaild's additions to the menus in one language: new-mail notices
 * between menus, unread marks, mark unread and delete after reading,
 * search, the list page by page, the password changed (a wrong current
 * one and a weak new one refused first).
 */
static void
mailbox_menus(const struct texts *t, const char *lang, const char *locpath,
    const char *user)
{
	char line[160];
	struct pty *p = &cur;

	start(p, srv.port, lang, locpath);
	create(p, t, user, PASSWORD);
	logged_in(p, t, PASSWORD);
	assert_non_null(strstr(p->buf, t->main_more));
	piped_send(user, "first", "one\n");
	piped_send(user, "second", "two\n");
	/* The notices show before the next menu. */
	type(p, "3\n");
	snprintf(line, sizeof(line), "%s%s@glo2000.ca", t->new_mail, user);
	expect(p, line);
	expect(p, "first\n");
	snprintf(line, sizeof(line), "%s%s@glo2000.ca", t->new_mail, user);
	expect(p, line);
	expect(p, "second\n");
	expect(p, t->choice_main);

	/* Unread marks; read #1, then mark it unread again. */
	type(p, "1\n");
	snprintf(line, sizeof(line), "*  #1 %s@glo2000.ca - second ", user);
	expect(p, line);
	snprintf(line, sizeof(line), "*  #2 %s@glo2000.ca - first ", user);
	expect(p, line);
	type(p, "1\n");
	expect(p, "two\n");
	expect(p, t->more_after_read);
	expect(p, t->choice_read);
	type(p, "6\n");
	expect(p, t->marked);
	expect(p, t->choice_main);
	type(p, "1\n");
	snprintf(line, sizeof(line), "*  #1 %s@glo2000.ca - second ", user);
	expect(p, line);
	type(p, "2\n");
	expect(p, "one\n");
	expect(p, t->choice_read);
	type(p, "5\n");
	expect(p, t->deleted);
	expect(p, t->choice_main);
	type(p, "1\n");
	snprintf(line, sizeof(line), "*  #1 %s@glo2000.ca - second ", user);
	expect(p, line);
	type(p, "1\n");
	expect(p, t->choice_read);
	type(p, "4\n");
	expect(p, t->choice_main);

	/* Search: a match to open, then none. */
	type(p, "6\n");
	expect(p, t->search_prompt);
	type(p, "SECOND\n");
	snprintf(line, sizeof(line), "   #1 %s@glo2000.ca - second ", user);
	expect(p, line);
	type(p, "1\n");
	expect(p, "two\n");
	type(p, "4\n");
	type(p, "6\n");
	expect(p, t->search_prompt);
	type(p, "nowhere\n");
	expect(p, t->no_match);
	expect(p, t->choice_main);

	/* Page by page: 22 messages and more, n then p, any number. */
	fill(user, PASSWORD, 22);
	type(p, "1\n");
	expect(p, t->page1);
	type(p, "n\n");
	snprintf(line, sizeof(line), "   #23 %s@glo2000.ca - second ", user);
	expect(p, line);
	expect(p, t->page2);
	type(p, "p\n");
	expect(p, "*  #1 ");
	expect(p, t->page1);
	type(p, "23\n");
	expect(p, "two\n");
	type(p, "4\n");
	expect(p, t->choice_main);

	/* The password: wrong current one, weak new one, then changed. */
	type(p, "7\n");
	expect(p, t->current_pw);
	assert_int_equal(pty_echo(p), 0);
	type(p, "Wrong0Password\n");
	expect(p, t->new_pw);
	type(p, "Better0Horse1\n");
	expect(p, t->new_again);
	type(p, "Better0Horse1\n");
	expect(p, t->wrong_current);
	type(p, "7\n");
	expect(p, t->current_pw);
	type(p, PASSWORD "\n");
	expect(p, t->new_pw);
	type(p, "weak\n");
	expect(p, t->bad_password);
	type(p, "7\n");
	expect(p, t->current_pw);
	type(p, PASSWORD "\n");
	expect(p, t->new_pw);
	type(p, "Better0Horse1\n");
	expect(p, t->new_again);
	type(p, "Better0Horse1\n");
	expect(p, t->pw_changed);
	assert_null(strstr(p->buf, "Better0Horse1"));
	type(p, "4\n");
	expect(p, t->logged_out);
	auth(p, t, "2\n", user, PASSWORD);
	expect(p, t->wrong_login);
	auth(p, t, "2\n", user, "Better0Horse1");
	logged_in(p, t, "Better0Horse1");
	type(p, "\004");
	ends_with(p, 0);
	pty_close(p);
}

static void
test_mailbox_menus(void **state)
{
	const char *locpath;
	char why[256];

	(void)state;
	mailbox_menus(&english, NULL, NULL, "mbox.en");
	if (clientrun_french(&locpath, why, sizeof(why)) == -1) {
		fprintf(stderr, "skipping French: %s\n", why);
		return;
	}
	mailbox_menus(&french, "LANG=fr_CA.UTF-8", locpath, "mbox.fr");
}

/*
 * Send to several from the menu: every address checked before the
 * subject, then one line per recipient, in one language.
 */
static void
menu_send_many(const struct texts *t, const char *lang, const char *locpath,
    const char *self, const char *other)
{
	const char *reg[] = { "glomail", "-d", "127.0.0.1", "-p", srv.port,
		"-u", other, "register", NULL };
	const char *const env[] = { "GLOMAIL_PASSWORD=" PASSWORD, NULL };
	struct clientrun_result r;
	struct pty *p = &cur;
	const char *hit;
	char line[256];
	size_t from;

	assert_int_equal(clientrun(reg, env, "", &r), 0);
	assert_int_equal(r.exit_code, 0);
	clientrun_free(&r);
	start(p, srv.port, lang, locpath);
	create(p, t, self, PASSWORD);
	logged_in(p, t, PASSWORD);
	from = p->mark;
	type(p, "2\n");
	expect(p, t->to_many);
	snprintf(line, sizeof(line), "%s, x@example.com\n", other);
	type(p, line);
	expect(p, t->outside);
	expect(p, t->choice_main);
	assert_null(strstr(p->buf + from, t->subject));
	type(p, "2\n");
	expect(p, t->to_many);
	snprintf(line, sizeof(line), "%s, %s,%s ghost.x\n", self, other, other);
	type(p, line);
	expect(p, t->subject);
	type(p, "together\n");
	expect(p, t->body);
	type(p, "hello all\n.\n");
	snprintf(line, sizeof(line), "%s@glo2000.ca: %s", self, t->sent);
	expect(p, line);
	snprintf(line, sizeof(line), "%s@glo2000.ca: %s", other, t->sent);
	expect(p, line);
	expect(p, t->undeliverable);
	expect(p, t->choice_main);
	from = p->mark;
	type(p, "1\n");
	expect(p, "@glo2000.ca - together ");
	/*
	 * The sender is a recipient and also gets the notice about ghost.x:
	 * either may be listed first, so read the number off the list.
	 */
	hit = strstr(p->buf + from, "@glo2000.ca - together ");
	assert_non_null(hit);
	while (hit > p->buf + from && *hit != '#')
		hit--;
	assert_int_equal(*hit, '#');
	snprintf(line, sizeof(line), "%ld\n", strtol(hit + 1, NULL, 10));
	type(p, line);
	snprintf(line, sizeof(line),
	    "%s%s@glo2000.ca, %s@glo2000.ca, %s@glo2000.ca, ghost.x@glo2000.ca\n",
	    t->dest, self, other, other);
	expect(p, line);
	type(p, "\004");
	ends_with(p, 0);
	pty_close(p);
}

static void
test_menu_send_many(void **state)
{
	const char *locpath;
	char why[256];

	(void)state;
	menu_send_many(&english, NULL, NULL, "many.a", "many.b");
	if (clientrun_french(&locpath, why, sizeof(why)) == -1) {
		fprintf(stderr, "skipping French: %s\n", why);
		return;
	}
	menu_send_many(&french, "LANG=fr_CA.UTF-8", locpath, "plus.a",
	    "plus.b");
}

int
main(void)
{
#define T(test) cmocka_unit_test_teardown(test, teardown)
	const struct CMUnitTest tests[] = {
		T(test_tour_english),
		T(test_tour_french),
		T(test_french_by_lc_all),
		T(test_missing_locale_is_english),
		T(test_invalid_choices_reprompt),
		T(test_ctrl_d_connection_menu),
		T(test_ctrl_d_password),
		T(test_ctrl_d_main_menu_and_body),
		T(test_server_killed),
		T(test_login_refused),
		T(test_command_password_prompt),
		T(test_seed_like_server),
		T(test_escapes_on_terminal),
		T(test_send_checks_first),
		T(test_register_checks),
		T(test_please_wait),
		T(test_menu_other_domain),
		T(test_reply_forward_vacation),
		T(test_mailbox_menus),
		T(test_menu_send_many),
	};
#undef T

	testsrv_use(&srv, NULL);
	return cmocka_run_group_tests(tests, testsrv_setup, testsrv_teardown);
}
