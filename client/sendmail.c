/*
 * sendmail.c - "glomail sendmail" (also installed as glomail-sendmail):
 * the /usr/sbin/sendmail interface that cron, mail(1) and scripts use.
 * It reads one RFC 5322 message on standard input and submits it over SMTP
 * to the local glomaild (127.0.0.1:2526 unless GLOMAIL_SMTP says
 * otherwise), one blocking command and reply at a time, as smtpctl's
 * helpers do. Exit codes are sendmail's (sysexits.h).
 */
#include <sys/socket.h>

#include <netdb.h>
#include <pwd.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sysexits.h>
#include <time.h>
#include <unistd.h>

#include "proto.h"
#include "sendmail.h"

#define SENDMAIL_DEFAULT_SERVER "127.0.0.1:2526"
#define SENDMAIL_INPUT_MAX ((size_t)64 << 20)
#define SENDMAIL_RCPT_MAX 1000
#define SENDMAIL_ADDR_MAX 256

struct smtp_client {
	FILE *in, *out;
	char line[1024]; /* the last reply's last line */
};

static void
sendmail_usage(FILE *out)
{
	fprintf(out,
	    "Usage: glomail sendmail [-t] [-i] [-f FROM] [-F NAME] [ADDR...]\n"
	    "       glomail-sendmail [-t] [-i] [-f FROM] [ADDR...]\n"
	    "\n"
	    "Reads one message (RFC 5322 headers, a blank line, the body) on standard\n"
	    "input and submits it by SMTP to the local glomaild, as sendmail(8) does.\n"
	    "\n"
	    "  -t        take the recipients from the To:, Cc: and Bcc: headers\n"
	    "            (Bcc: is removed), besides those given as arguments\n"
	    "  -f FROM   the envelope sender (default: the user @ the domain)\n"
	    "  -F NAME   the sender's full name, for a From: header added when none\n"
	    "  -i, -oi   accepted for compatibility (a \".\" line never ends input)\n"
	    "  -o...     other sendmail options are accepted and ignored\n"
	    "\n"
	    "An address without '@' gets the domain (GLOMAIL_DOMAIN, default %s).\n"
	    "The server is GLOMAIL_SMTP, HOST:PORT (default %s). From:, Date: and\n"
	    "Message-ID: are added when the message has none.\n"
	    "\n"
	    "Exit status: 0 sent, 64 usage, 67 a recipient refused, 69 refused,\n"
	    "74 input error, 75 temporary failure (try again later).\n",
	    PROTO_DEFAULT_DOMAIN, SENDMAIL_DEFAULT_SERVER);
}

/* Read one reply (all its lines). Returns its code, or -1 (gone). */
static int
smtp_reply(struct smtp_client *c)
{
	size_t n;

	for (;;) {
		if (fgets(c->line, sizeof(c->line), c->in) == NULL)
			return -1;
		n = strlen(c->line);
		while (
		    n > 0 && (c->line[n - 1] == '\n' || c->line[n - 1] == '\r'))
			c->line[--n] = '\0';
		if (n < 3)
			return -1;
		if (n == 3 || c->line[3] == ' ')
			return atoi(c->line);
	}
}

/* Send one command line (verb, then arg) and read its reply. */
static int
smtp_cmd(struct smtp_client *c, const char *verb, const char *arg)
{
	fprintf(c->out, "%s%s\r\n", verb, arg);
	if (fflush(c->out) == EOF)
		return -1;
	return smtp_reply(c);
}

static int
smtp_connect(const char *server, struct smtp_client *c)
{
	char host[256];
	const char *colon = strrchr(server, ':'), *h = server;
	struct addrinfo hints, *res, *ai;
	size_t hlen;
	int fd = -1, fd2;

	if (colon == NULL)
		return -1;
	hlen = (size_t)(colon - server);
	if (hlen >= 2 && server[0] == '[' && server[hlen - 1] == ']') {
		h++;
		hlen -= 2;
	}
	if (hlen == 0 || hlen >= sizeof(host))
		return -1;
	memcpy(host, h, hlen);
	host[hlen] = '\0';
	memset(&hints, 0, sizeof(hints));
	hints.ai_socktype = SOCK_STREAM;
	if (getaddrinfo(host, colon + 1, &hints, &res) != 0)
		return -1;
	for (ai = res; ai != NULL; ai = ai->ai_next) {
		if ((fd = socket(ai->ai_family, ai->ai_socktype,
		         ai->ai_protocol)) == -1)
			continue;
		if (connect(fd, ai->ai_addr, ai->ai_addrlen) == 0)
			break;
		close(fd);
		fd = -1;
	}
	freeaddrinfo(res);
	if (fd == -1 || (fd2 = dup(fd)) == -1 ||
	    (c->in = fdopen(fd, "r")) == NULL ||
	    (c->out = fdopen(fd2, "w")) == NULL) {
		if (fd != -1)
			close(fd);
		return -1;
	}
	return 0;
}

/* The whole of standard input. */
static char *
read_input(size_t *len_r)
{
	size_t len = 0, cap = 65536, n;
	char *buf = malloc(cap), *nb;

	while (buf != NULL) {
		if (len == cap) {
			if (cap >= SENDMAIL_INPUT_MAX ||
			    (nb = realloc(buf, cap * 2)) == NULL)
				break;
			buf = nb;
			cap *= 2;
		}
		n = fread(buf + len, 1, cap - len, stdin);
		len += n;
		if (n == 0) {
			if (ferror(stdin))
				break;
			*len_r = len;
			return buf;
		}
	}
	free(buf);
	return NULL;
}

/* The end of the header: the offset just past its blank line. */
static size_t
header_end(const char *m, size_t len)
{
	size_t i;

	if (len > 0 && m[0] == '\n')
		return 1;
	for (i = 0; i + 1 < len; i++) {
		if (m[i] == '\n' && m[i + 1] == '\n')
			return i + 2;
		if (m[i] == '\n' && m[i + 1] == '\r' && i + 2 < len &&
		    m[i + 2] == '\n')
			return i + 3;
	}
	return len;
}

/* 1 when the header (m, hlen) has a field called name. */
static int
has_field(const char *m, size_t hlen, const char *name)
{
	size_t n = strlen(name), i = 0;

	while (i < hlen) {
		if (hlen - i > n && strncasecmp(m + i, name, n) == 0 &&
		    m[i + n] == ':')
			return 1;
		while (i < hlen && m[i] != '\n')
			i++;
		i++;
	}
	return 0;
}

/* Add addr (bare, or user without a domain) to the recipients. */
static int
add_rcpt(char **rcpt, size_t *n, const char *addr, size_t len,
    const char *domain)
{
	char buf[SENDMAIL_ADDR_MAX + 1];
	int w;

	while (len > 0 && (*addr == ' ' || *addr == '\t')) {
		addr++;
		len--;
	}
	while (len > 0 && (addr[len - 1] == ' ' || addr[len - 1] == '\t'))
		len--;
	if (len == 0)
		return 0;
	if (len > SENDMAIL_ADDR_MAX || *n == SENDMAIL_RCPT_MAX)
		return -1;
	w = memchr(addr, '@', len) != NULL
	        ? snprintf(buf, sizeof(buf), "%.*s", (int)len, addr)
	        : snprintf(buf, sizeof(buf), "%.*s@%s", (int)len, addr, domain);
	if (w < 0 || (size_t)w >= sizeof(buf) ||
	    (rcpt[*n] = strdup(buf)) == NULL)
		return -1;
	(*n)++;
	return 0;
}

/*
 * -t: the addresses of To:, Cc: and Bcc: (unfolded, comma-separated,
 * "Name <addr>" or bare); Bcc: lines are cut out of the message.
 */
static int
header_rcpts(char *m, size_t *len, size_t *hlen, char **rcpt, size_t *n,
    const char *domain)
{
	static const char *const names[] = { "to", "cc", "bcc" };
	size_t i = 0, j, k, e, nl;
	char val[8192];
	int bcc;

	while (i < *hlen) {
		for (e = i; e < *hlen &&
		            !(m[e] == '\n' &&
		                (e + 1 >= *hlen ||
		                    (m[e + 1] != ' ' && m[e + 1] != '\t')));
		     e++)
			;
		nl = e < *hlen ? e + 1 : e; /* the field is m[i, nl) */
		bcc = -1;
		for (k = 0; k < 3; k++)
			if (strncasecmp(m + i, names[k], strlen(names[k])) ==
			        0 &&
			    m[i + strlen(names[k])] == ':')
				bcc = k == 2;
		if (bcc == -1) {
			i = nl;
			continue;
		}
		/* Unfold the value, then take each address. */
		for (j = i + strcspn(m + i, ":") + 1, k = 0;
		     j < e && k + 1 < sizeof(val); j++)
			if (m[j] != '\r' && m[j] != '\n')
				val[k++] = m[j];
		val[k] = '\0';
		for (char *p = val, *q; *p != '\0'; p = q) {
			char *lt, *gt;

			q = p + strcspn(p, ",");
			lt = memchr(p, '<', (size_t)(q - p));
			gt = lt != NULL ? memchr(lt, '>', (size_t)(q - lt))
			                : NULL;
			if (lt != NULL && gt != NULL
			        ? add_rcpt(rcpt, n, lt + 1,
			              (size_t)(gt - lt - 1), domain) == -1
			        : add_rcpt(rcpt, n, p, (size_t)(q - p),
			              domain) == -1)
				return -1;
			if (*q == ',')
				q++;
		}
		if (bcc) {
			memmove(m + i, m + nl, *len - nl);
			*len -= nl - i;
			*hlen -= nl - i;
			continue;
		}
		i = nl;
	}
	return 0;
}

/* Write the message as DATA wants it: CRLF lines, leading dots doubled. */
static int
send_body(struct smtp_client *c, const char *pre, const char *m, size_t len)
{
	size_t i;
	int bol = 1;

	fputs(pre, c->out);
	for (i = 0; i < len; i++) {
		if (bol && m[i] == '.')
			fputc('.', c->out);
		bol = m[i] == '\n';
		if (m[i] == '\n' && (i == 0 || m[i - 1] != '\r'))
			fputc('\r', c->out);
		if (m[i] == '\r' && (i + 1 >= len || m[i + 1] != '\n'))
			continue; /* a stray CR would be refused */
		fputc(m[i], c->out);
	}
	if (!bol)
		fputs("\r\n", c->out);
	fputs(".\r\n", c->out);
	return fflush(c->out) == EOF ? -1 : smtp_reply(c);
}

/* "<addr>" in buf. */
static const char *
bracket(const char *addr, char buf[SENDMAIL_ADDR_MAX + 3])
{
	snprintf(buf, SENDMAIL_ADDR_MAX + 3, "<%s>", addr);
	return buf;
}

/* What a reply code means for the exit status. */
static int
exit_for(int code)
{
	if (code == -1 || (code >= 400 && code < 500))
		return EX_TEMPFAIL;
	return EX_UNAVAILABLE;
}

int
sendmail_main(int argc, char **argv)
{
	const char *server = getenv("GLOMAIL_SMTP");
	const char *domain = getenv("GLOMAIL_DOMAIN");
	const char *from = NULL, *fullname = NULL;
	char *rcpt[SENDMAIL_RCPT_MAX], sender[SENDMAIL_ADDR_MAX + 1];
	char pre[1024], date[64], hostname[256], addr[SENDMAIL_ADDR_MAX + 3];
	struct smtp_client c = { NULL, NULL, "" };
	struct passwd *pw;
	size_t n = 0, len = 0, hlen, i, used, taken = 0;
	char *m = NULL;
	int opt, from_headers = 0, rc = EX_SOFTWARE, code;
	time_t now = time(NULL);

	if (server == NULL || *server == '\0')
		server = SENDMAIL_DEFAULT_SERVER;
	if (domain == NULL || *domain == '\0')
		domain = PROTO_DEFAULT_DOMAIN;
	optind = 1;
	opterr = 0;
	while ((opt = getopt(argc, argv, "tif:F:o:B:N:R:V:h")) != -1) {
		switch (opt) {
		case 't':
			from_headers = 1;
			break;
		case 'f':
			from = optarg;
			break;
		case 'F':
			fullname = optarg;
			break;
		case 'i':
		case 'o':
		case 'B':
		case 'N':
		case 'R':
		case 'V':
			break; /* sendmail's, nothing to do here */
		case 'h':
			sendmail_usage(stdout);
			return 0;
		default:
			sendmail_usage(stderr);
			return EX_USAGE;
		}
	}
	if (from == NULL) {
		pw = getpwuid(getuid());
		snprintf(sender, sizeof(sender), "%s@%s",
		    pw != NULL ? pw->pw_name : "nobody", domain);
	} else if (strchr(from, '@') == NULL && *from != '\0') {
		snprintf(sender, sizeof(sender), "%s@%s", from, domain);
	} else {
		snprintf(sender, sizeof(sender), "%s", from);
	}
	for (; optind < argc; optind++) {
		/* "a@b, c@d" as one argument, as some callers pass. */
		for (char *p = argv[optind], *q; *p != '\0'; p = q) {
			q = p + strcspn(p, ",");
			if (add_rcpt(rcpt, &n, p, (size_t)(q - p), domain) ==
			    -1) {
				fprintf(stderr, "glomail sendmail: too many or "
				                "too long addresses\n");
				rc = EX_USAGE;
				goto out;
			}
			if (*q == ',')
				q++;
		}
	}
	if ((m = read_input(&len)) == NULL) {
		fprintf(stderr, "glomail sendmail: cannot read the message\n");
		rc = EX_IOERR;
		goto out;
	}
	hlen = header_end(m, len);
	if (from_headers &&
	    header_rcpts(m, &len, &hlen, rcpt, &n, domain) == -1) {
		fprintf(stderr, "glomail sendmail: too many recipients\n");
		rc = EX_USAGE;
		goto out;
	}
	if (n == 0) {
		fprintf(stderr, "glomail sendmail: no recipients\n");
		rc = EX_USAGE;
		goto out;
	}
	/* What sendmail's cleanup adds to a message that lacks it. */
	used = 0;
	pre[0] = '\0';
	if (hlen == 0 || !has_field(m, hlen, "From"))
		used += (size_t)snprintf(pre + used, sizeof(pre) - used,
		    fullname != NULL ? "From: %s <%s>\r\n" : "From: %s%s\r\n",
		    fullname != NULL ? fullname : "", sender);
	if (!has_field(m, hlen, "Date")) {
		strftime(date, sizeof(date), "%a, %d %b %Y %H:%M:%S +0000",
		    gmtime(&now));
		used += (size_t)snprintf(pre + used, sizeof(pre) - used,
		    "Date: %s\r\n", date);
	}
	if (!has_field(m, hlen, "Message-ID"))
		snprintf(pre + used, sizeof(pre) - used,
		    "Message-ID: "
		    "<%lld.%ld.%u@%s>\r\n",
		    (long long)now, (long)getpid(), (unsigned)rand(), domain);
	if (smtp_connect(server, &c) == -1) {
		fprintf(stderr, "glomail sendmail: cannot connect to %s\n",
		    server);
		rc = EX_TEMPFAIL;
		goto out;
	}
	if (gethostname(hostname, sizeof(hostname)) == -1 ||
	    strchr(hostname, '.') == NULL)
		snprintf(hostname, sizeof(hostname), "localhost.localdomain");
	if ((code = smtp_reply(&c)) != 220 ||
	    (code = smtp_cmd(&c, "EHLO ", hostname)) != 250 ||
	    (code = smtp_cmd(&c, "MAIL FROM:", bracket(sender, addr))) != 250) {
		rc = exit_for(code);
		goto refused;
	}
	for (i = 0; i < n; i++) {
		if ((code = smtp_cmd(&c, "RCPT TO:", bracket(rcpt[i], addr))) ==
		        250 ||
		    code == 251) {
			taken++;
			continue;
		}
		if (code == -1)
			goto refused;
		fprintf(stderr, "glomail sendmail: %s: %s\n", rcpt[i], c.line);
	}
	if (taken == 0) {
		rc = EX_NOUSER;
		goto out_quit;
	}
	if ((code = smtp_cmd(&c, "DATA", "")) != 354 ||
	    (code = send_body(&c, pre, m, len)) != 250) {
		rc = exit_for(code);
		goto refused;
	}
	rc = taken == n ? 0 : EX_NOUSER;
	goto out_quit;
refused:
	fprintf(stderr, "glomail sendmail: %s\n",
	    code == -1 ? "the server closed the connection" : c.line);
out_quit:
	if (c.out != NULL)
		(void)smtp_cmd(&c, "QUIT", "");
out:
	if (c.in != NULL)
		fclose(c.in);
	if (c.out != NULL)
		fclose(c.out);
	for (i = 0; i < n; i++)
		free(rcpt[i]);
	free(m);
	return rc;
}
