/*
 * service.c - notifications to the service manager and sockets passed by
 * socket activation, with libsystemd or by hand (see service.h).
 */
#include <sys/socket.h>
#include <sys/un.h>

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#ifdef GLOMAIL_HAVE_SYSTEMD
#include <systemd/sd-daemon.h>
#endif

#include "service.h"

int
service_notify_enabled(void)
{
	const char *e = getenv("NOTIFY_SOCKET");

	return e != NULL && *e != '\0';
}

#ifdef GLOMAIL_HAVE_SYSTEMD

int
service_notify(const char *state)
{
	return sd_notify(0, state) < 0 ? -1 : 0;
}

int
service_listen_fds(void)
{
	int n = sd_listen_fds(1);

	return n < 0 ? -1 : n;
}

int
service_is_stream_listener(int fd)
{
	int r = sd_is_socket(fd, AF_UNSPEC, SOCK_STREAM, 1);

	return r < 0 ? -1 : r > 0;
}

#else /* !GLOMAIL_HAVE_SYSTEMD */

/*
 * One datagram to $NOTIFY_SOCKET: a path, or "@name" for the abstract
 * namespace. A fresh socket per message, as sd_notify does: messages are
 * rare (start, stop, a status change at most every few seconds).
 */
int
service_notify(const char *state)
{
	const char *path = getenv("NOTIFY_SOCKET");
	struct sockaddr_un sun;
	socklen_t len;
	size_t plen, slen = strlen(state);
	ssize_t n;
	int fd;

	if (path == NULL || *path == '\0')
		return 0;
	plen = strlen(path);
	if ((path[0] != '/' && path[0] != '@') || plen >= sizeof(sun.sun_path))
		return -1;
	memset(&sun, 0, sizeof(sun));
	sun.sun_family = AF_UNIX;
	memcpy(sun.sun_path, path, plen);
	if (path[0] == '@') {
		sun.sun_path[0] = '\0';
		len = (socklen_t)(offsetof(struct sockaddr_un, sun_path) + plen);
	} else {
		len = (socklen_t)sizeof(sun);
	}
	if ((fd = socket(AF_UNIX, SOCK_DGRAM | SOCK_CLOEXEC, 0)) == -1)
		return -1;
	n = sendto(fd, state, slen, MSG_NOSIGNAL, (struct sockaddr *)&sun, len);
	close(fd);
	return n == (ssize_t)slen ? 0 : -1;
}

/* Parse a decimal environment variable that must be a positive int. */
static int
env_number(const char *name, long *out)
{
	const char *s = getenv(name);
	char *end;
	long v;

	if (s == NULL || *s < '0' || *s > '9')
		return -1;
	errno = 0;
	v = strtol(s, &end, 10);
	if (errno != 0 || *end != '\0' || v <= 0)
		return -1;
	*out = v;
	return 0;
}

/*
 * $LISTEN_PID guards against variables inherited from a parent that was
 * itself activated: the sockets are ours only when it names this process.
 */
int
service_listen_fds(void)
{
	long pid, n;
	int fd, rc = 0;

	if (getenv("LISTEN_FDS") == NULL)
		return 0;
	if (env_number("LISTEN_PID", &pid) == -1 || pid != (long)getpid())
		goto out;
	if (env_number("LISTEN_FDS", &n) == -1 ||
	    n > INT_MAX - SERVICE_LISTEN_FDS_START) {
		rc = -1;
		goto out;
	}
	for (fd = SERVICE_LISTEN_FDS_START;
	    fd < SERVICE_LISTEN_FDS_START + (int)n; fd++) {
		if (fcntl(fd, F_SETFD, FD_CLOEXEC) == -1) {
			rc = -1;
			goto out;
		}
	}
	rc = (int)n;
out:
	unsetenv("LISTEN_PID");
	unsetenv("LISTEN_FDS");
	unsetenv("LISTEN_FDNAMES");
	return rc;
}

int
service_is_stream_listener(int fd)
{
	int type = 0, listening = 0;
	socklen_t len = sizeof(type);

	if (getsockopt(fd, SOL_SOCKET, SO_TYPE, &type, &len) == -1)
		return errno == ENOTSOCK ? 0 : -1;
	len = sizeof(listening);
	if (getsockopt(fd, SOL_SOCKET, SO_ACCEPTCONN, &listening, &len) == -1)
		return -1;
	return type == SOCK_STREAM && listening;
}

#endif /* GLOMAIL_HAVE_SYSTEMD */

int
service_notifyf(const char *fmt, ...)
{
	char buf[512];
	va_list ap;
	int n;

	if (!service_notify_enabled())
		return 0;
	va_start(ap, fmt);
	n = vsnprintf(buf, sizeof(buf), fmt, ap);
	va_end(ap);
	if (n < 0 || (size_t)n >= sizeof(buf))
		return -1;
	return service_notify(buf);
}
