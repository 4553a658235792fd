/*
 * clientrun.c - process plumbing for the client's tests: pipes, a
 * pseudo-terminal reader, and the French locale they need.
 */
#include <sys/stat.h>
#include <sys/types.h>
#include <sys/wait.h>

#include <errno.h>
#include <fcntl.h>
#include <locale.h>
#include <poll.h>
#include <pty.h>
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <termios.h>
#include <time.h>
#include <unistd.h>

#include "clientrun.h"

#define CLIENTRUN_TIMEOUT_MS 30000

/* Set by the build for the tests that use the seed-style server. */
#ifndef GLOMAIL_PYTHON
#define GLOMAIL_PYTHON "python3"
#endif
#ifndef GLOMAIL_SEED_SERVER
#define GLOMAIL_SEED_SERVER "seed_server.py"
#endif

extern char **environ;

const char *
clientrun_binary(void)
{
	const char *env = getenv("GLOMAIL_CLIENT");

	return env != NULL ? env : GLOMAIL_BINARY_DIR "/client/glomail";
}

static long long
now_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (long long)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

/* Variables that would make a run depend on the machine or the caller. */
static int
inherited(const char *var)
{
	/* HOME and XDG_CONFIG_HOME too: a tester's own client configuration
	 * file must not change what the tests see. */
	static const char *const drop[] = { "LANG=", "LANGUAGE=", "LC_",
		"GLOMAIL_", "LOCPATH=", "HOME=", "XDG_CONFIG_HOME=", "TZ=" };
	size_t i;

	for (i = 0; i < sizeof(drop) / sizeof(drop[0]); i++)
		if (strncmp(var, drop[i], strlen(drop[i])) == 0)
			return 0;
	return 1;
}

/* Build the child's argv and envp (in the child: leaks do not matter). */
static void
exec_client(const char *const *argv, const char *const *env)
{
	char **nargv, **nenv;
	size_t n = 0, i, e = 0;

	while (argv[n] != NULL)
		n++;
	nargv = calloc(n + 1, sizeof(*nargv));
	for (i = 0; environ[i] != NULL; i++)
		e++;
	for (i = 0; env != NULL && env[i] != NULL; i++)
		e++;
	nenv = calloc(e + 2, sizeof(*nenv));
	if (nargv == NULL || nenv == NULL)
		_exit(126);
	nargv[0] = (char *)(uintptr_t)clientrun_binary();
	for (i = 1; i < n; i++)
		nargv[i] = (char *)(uintptr_t)argv[i];
	e = 0;
	for (i = 0; environ[i] != NULL; i++)
		if (inherited(environ[i]))
			nenv[e++] = environ[i];
	for (i = 0; env != NULL && env[i] != NULL; i++)
		nenv[e++] = (char *)(uintptr_t)env[i];
	/* Dates are shown in the local zone: UTC unless a test says. */
	for (i = 0; env != NULL && env[i] != NULL; i++)
		if (strncmp(env[i], "TZ=", 3) == 0)
			break;
	if (env == NULL || env[i] == NULL)
		nenv[e++] = (char *)(uintptr_t) "TZ=UTC0";
	execve(nargv[0], nargv, nenv);
	_exit(127);
}

/* Append what fd has to a growing buffer. 0 at EOF, 1 more, -1 error. */
static int
drain(int fd, char **buf, size_t *len, size_t *cap)
{
	char chunk[4096], *grown;
	ssize_t n;

	n = read(fd, chunk, sizeof(chunk));
	if (n == -1 && errno == EINTR)
		return 1;
	if (n == -1 && errno == EIO) /* pty: the client side is closed */
		return 0;
	if (n <= 0)
		return n == 0 ? 0 : -1;
	if (*len + (size_t)n + 1 > *cap) {
		*cap = (*len + (size_t)n + 1) * 2;
		if ((grown = realloc(*buf, *cap)) == NULL)
			return -1;
		*buf = grown;
	}
	memcpy(*buf + *len, chunk, (size_t)n);
	*len += (size_t)n;
	(*buf)[*len] = '\0';
	return 1;
}

static int
exit_code(int status)
{
	if (WIFEXITED(status))
		return WEXITSTATUS(status);
	if (WIFSIGNALED(status))
		return 128 + WTERMSIG(status);
	return -1;
}

int
clientrun(const char *const *argv, const char *const *env, const char *input,
    struct clientrun_result *r)
{
	int in[2] = { -1, -1 }, out[2] = { -1, -1 }, err[2] = { -1, -1 };
	size_t olen = 0, ocap = 0, elen = 0, ecap = 0, ilen, ioff = 0;
	struct pollfd pfd[3];
	long long deadline = now_ms() + CLIENTRUN_TIMEOUT_MS;
	int status, open_out = 1, open_err = 1, rc;
	ssize_t w;
	pid_t pid;

	memset(r, 0, sizeof(*r));
	ilen = input != NULL ? strlen(input) : 0;
	if (pipe2(in, O_CLOEXEC) == -1 || pipe2(out, O_CLOEXEC) == -1 ||
	    pipe2(err, O_CLOEXEC) == -1 || (pid = fork()) == -1)
		goto fail;
	if (pid == 0) {
		dup2(in[0], STDIN_FILENO);
		dup2(out[1], STDOUT_FILENO);
		dup2(err[1], STDERR_FILENO);
		exec_client(argv, env);
	}
	close(in[0]);
	close(out[1]);
	close(err[1]);
	in[0] = out[1] = err[1] = -1;
	/* The client may exit without reading its input. */
	signal(SIGPIPE, SIG_IGN);
	if (ilen == 0) {
		close(in[1]);
		in[1] = -1;
	}
	while (open_out || open_err) {
		int timeout = (int)(deadline - now_ms());

		if (timeout <= 0) {
			fprintf(stderr, "client timed out; killing it\n");
			kill(pid, SIGKILL);
			waitpid(pid, NULL, 0);
			r->exit_code = -1;
			goto done;
		}
		pfd[0].fd = open_out ? out[0] : -1;
		pfd[0].events = POLLIN;
		pfd[1].fd = open_err ? err[0] : -1;
		pfd[1].events = POLLIN;
		pfd[2].fd = in[1];
		pfd[2].events = POLLOUT;
		if (poll(pfd, 3, timeout) == -1 && errno != EINTR)
			goto fail;
		if (pfd[0].revents != 0 &&
		    (rc = drain(out[0], &r->out, &olen, &ocap)) <= 0)
			open_out = 0;
		if (pfd[1].revents != 0 &&
		    (rc = drain(err[0], &r->err, &elen, &ecap)) <= 0)
			open_err = 0;
		if (in[1] != -1 && pfd[2].revents != 0) {
			w = write(in[1], input + ioff, ilen - ioff);
			if (w > 0)
				ioff += (size_t)w;
			if (w == -1 || ioff == ilen) {
				close(in[1]);
				in[1] = -1;
			}
		}
	}
	while (waitpid(pid, &status, 0) == -1 && errno == EINTR)
		;
	r->exit_code = exit_code(status);
done:
	if (in[1] != -1)
		close(in[1]);
	close(out[0]);
	close(err[0]);
	if (r->out == NULL)
		r->out = strdup("");
	if (r->err == NULL)
		r->err = strdup("");
	return r->out != NULL && r->err != NULL ? 0 : -1;
fail:
	for (rc = 0; rc < 2; rc++) {
		if (in[rc] != -1)
			close(in[rc]);
		if (out[rc] != -1)
			close(out[rc]);
		if (err[rc] != -1)
			close(err[rc]);
	}
	return -1;
}

void
clientrun_free(struct clientrun_result *r)
{
	free(r->out);
	free(r->err);
	r->out = r->err = NULL;
}

int
pty_spawn(struct pty *p, const char *const *argv, const char *const *env)
{
	struct winsize ws = { .ws_row = 24, .ws_col = 80 };

	memset(p, 0, sizeof(*p));
	p->fd = -1;
	if ((p->buf = calloc(1, 1)) == NULL)
		return -1;
	p->cap = 1;
	p->pid = forkpty(&p->fd, NULL, NULL, &ws);
	if (p->pid == -1)
		return -1;
	if (p->pid == 0)
		exec_client(argv, env);
	return 0;
}

/* Wait up to ms for output and add it to the buffer. */
static void
pty_read(struct pty *p, int ms)
{
	struct pollfd pfd = { .fd = p->fd, .events = POLLIN };
	size_t from = p->len, i, j;

	if (p->eof) {
		poll(NULL, 0, ms < 10 ? ms : 10);
		return;
	}
	if (poll(&pfd, 1, ms) > 0 &&
	    drain(p->fd, &p->buf, &p->len, &p->cap) <= 0)
		p->eof = 1;
	/* The terminal turns "\n" into "\r\n"; tests write plain "\n". */
	for (i = j = from; i < p->len; i++)
		if (p->buf[i] != '\r')
			p->buf[j++] = p->buf[i];
	p->len = j;
	p->buf[p->len] = '\0';
}

int
pty_expect(struct pty *p, const char *text, int timeout_ms)
{
	long long deadline = now_ms() + timeout_ms;
	char *at;

	for (;;) {
		if ((at = strstr(p->buf + p->mark, text)) != NULL) {
			p->mark = (size_t)(at - p->buf) + strlen(text);
			return 0;
		}
		if (p->eof || now_ms() >= deadline)
			break;
		pty_read(p, (int)(deadline - now_ms()));
	}
	fprintf(stderr,
	    "expected \"%s\"; the client wrote, from the mark:\n"
	    "----\n%s\n----\n",
	    text, p->buf + p->mark);
	return -1;
}

int
pty_type(struct pty *p, const char *s)
{
	size_t len = strlen(s), off = 0;
	ssize_t n;

	while (off < len) {
		n = write(p->fd, s + off, len - off);
		if (n == -1 && errno == EINTR)
			continue;
		if (n == -1)
			return -1;
		off += (size_t)n;
	}
	return 0;
}

int
pty_echo(struct pty *p)
{
	struct termios t;

	/* On Linux the master's TCGETS reports the terminal's (slave) modes. */
	if (tcgetattr(p->fd, &t) == -1)
		return -1;
	return (t.c_lflag & ECHO) != 0;
}

int
pty_wait(struct pty *p, int timeout_ms)
{
	long long deadline = now_ms() + timeout_ms;
	int status;
	pid_t w;

	for (;;) {
		/* Keep reading: a client's last words must not block it. */
		pty_read(p, 50);
		w = waitpid(p->pid, &status, WNOHANG);
		if (w == p->pid) {
			while (!p->eof)
				pty_read(p, 100);
			p->pid = 0;
			p->status = exit_code(status);
			return p->status;
		}
		if (now_ms() >= deadline) {
			fprintf(stderr,
			    "client still running after %d ms; "
			    "its output:\n----\n%s\n----\n",
			    timeout_ms, p->buf);
			return -1;
		}
	}
}

void
pty_close(struct pty *p)
{
	if (p->pid > 0) {
		kill(p->pid, SIGKILL);
		waitpid(p->pid, NULL, 0);
		p->pid = 0;
	}
	if (p->fd != -1)
		close(p->fd);
	p->fd = -1;
	free(p->buf);
	p->buf = NULL;
}

int
seedsrv_start(struct seedsrv *s)
{
	char line[32];
	size_t len = 0;
	ssize_t n;
	int fd[2];

	memset(s, 0, sizeof(*s));
	if (pipe2(fd, O_CLOEXEC) == -1)
		return -1;
	if ((s->pid = fork()) == -1) {
		close(fd[0]);
		close(fd[1]);
		return -1;
	}
	if (s->pid == 0) {
		dup2(fd[1], STDOUT_FILENO);
		execlp(GLOMAIL_PYTHON, GLOMAIL_PYTHON, GLOMAIL_SEED_SERVER,
		    (char *)NULL);
		_exit(127);
	}
	close(fd[1]);
	/* The first line is the port; the server writes nothing else. */
	while (len < sizeof(line) - 1 &&
	       (n = read(fd[0], line + len, sizeof(line) - 1 - len)) > 0) {
		len += (size_t)n;
		if (memchr(line, '\n', len) != NULL)
			break;
	}
	close(fd[0]);
	line[len] = '\0';
	line[strcspn(line, "\n")] = '\0';
	if (line[0] < '1' || line[0] > '9' || strlen(line) > 5) {
		seedsrv_stop(s);
		return -1;
	}
	memcpy(s->port, line, strlen(line) + 1); /* at most 5 digits */
	return 0;
}

void
seedsrv_stop(struct seedsrv *s)
{
	if (s->pid > 0) {
		kill(s->pid, SIGKILL);
		waitpid(s->pid, NULL, 0);
	}
	s->pid = 0;
}

/* 1 when this process can load the locale (LOCPATH as set now). */
static int
have_french(void)
{
	locale_t l = newlocale(LC_ALL_MASK, "fr_CA.UTF-8", (locale_t)0);

	if (l == (locale_t)0)
		return 0;
	freelocale(l);
	return 1;
}

/* Run a command line quietly; 0 when it succeeded. */
static int
run_quiet(const char *cmd)
{
	char line[1100];
	int rc, n;

	n = snprintf(line, sizeof(line), "%s >/dev/null 2>&1", cmd);
	if (n < 0 || (size_t)n >= sizeof(line))
		return -1;
	rc = system(line);
	return rc != -1 && WIFEXITED(rc) && WEXITSTATUS(rc) == 0 ? 0 : -1;
}

int
clientrun_french(const char **env_r, char *why, size_t whylen)
{
	static char locpath[512] = "LOCPATH=" GLOMAIL_BINARY_DIR
	                           "/tests/locale";
	static const char *const dir = GLOMAIL_BINARY_DIR "/tests/locale";
	char cmd[1024];

	*env_r = NULL;
	unsetenv("LOCPATH");
	if (have_french())
		return 0;
	/* The same command as the dependency script; works as root. */
	if (run_quiet("localedef -i fr_CA -f UTF-8 fr_CA.UTF-8") == 0 &&
	    have_french())
		return 0;
	/* Without root: a private copy, found by the C library via LOCPATH. */
	mkdir(dir, 0755);
	snprintf(cmd, sizeof(cmd),
	    "localedef -i fr_CA -f UTF-8 '%s/fr_CA.UTF-8'", dir);
	if (run_quiet(cmd) == 0) {
		setenv("LOCPATH", dir, 1);
		if (have_french()) {
			*env_r = locpath;
			return 0;
		}
		unsetenv("LOCPATH");
	}
	snprintf(why, whylen,
	    "the fr_CA.UTF-8 locale is missing and "
	    "localedef could not build it (install Debian's 'locales' "
	    "package, or run cmake/deps.sh)");
	return -1;
}
