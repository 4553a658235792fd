/*
 * service.c - notifications to the service manager and sockets passed by
 * socket activation, through libsystemd (see service.h).
 */
#include <sys/socket.h>

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>

#include <systemd/sd-daemon.h>

#include "service.h"

_Static_assert(SERVICE_LISTEN_FDS_START == SD_LISTEN_FDS_START,
    "service.h names the first passed descriptor");

int
service_notify_enabled(void)
{
	const char *e = getenv("NOTIFY_SOCKET");

	return e != NULL && *e != '\0';
}

/* sd_notify returns 0 when there is no one to tell. */
int
service_notify(const char *state)
{
	return sd_notify(0, state) < 0 ? -1 : 0;
}

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

/*
 * sd_listen_fds checks $LISTEN_PID (variables inherited from an activated
 * parent are not ours), marks the descriptors close-on-exec and, asked to,
 * unsets the variables so no child inherits them.
 */
int
service_listen_fds(void)
{
	return service_listen_fds_named(NULL);
}

int
service_listen_fds_named(char ***names_r)
{
	char **names = NULL;
	int n = sd_listen_fds_with_names(1, &names);

	if (n < 0)
		return -1;
	if (names_r != NULL)
		*names_r = names;
	else
		service_names_free(names);
	return n;
}

void
service_names_free(char **names)
{
	size_t i;

	if (names == NULL)
		return;
	for (i = 0; names[i] != NULL; i++)
		free(names[i]);
	free(names);
}

int
service_is_stream_listener(int fd)
{
	int r = sd_is_socket(fd, AF_UNSPEC, SOCK_STREAM, 1);

	return r < 0 ? -1 : r > 0;
}
