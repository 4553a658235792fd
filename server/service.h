/*
 * service.h - talking to the service manager (systemd): state notifications
 * (READY=1, STOPPING=1, STATUS=...) and the listening sockets it passes at
 * start-up (socket activation).
 *
 * Through libsystemd (sd_notify, sd_listen_fds, sd_is_socket), which every
 * Debian system has. Outside a service manager every call is a cheap no-op.
 */
#ifndef GLOMAILD_SERVICE_H
#define GLOMAILD_SERVICE_H

/* The first descriptor passed by socket activation. */
#define SERVICE_LISTEN_FDS_START 3

/* 1 when a service manager listens for notifications ($NOTIFY_SOCKET). */
int service_notify_enabled(void);

/*
 * Send newline-separated assignments ("READY=1\nSTATUS=..."). Returns 0 when
 * sent or when there is no one to tell, -1 on failure.
 */
int service_notify(const char *state);

/* The same, printf-style. */
int service_notifyf(const char *fmt, ...)
    __attribute__((format(printf, 1, 2)));

/*
 * How many listening sockets were passed to this process, starting at
 * SERVICE_LISTEN_FDS_START; 0 when none. Marks them close-on-exec and unsets
 * the variables so no child inherits them. -1 on malformed variables.
 */
int service_listen_fds(void);

/*
 * The same, with the name of each socket (FileDescriptorName= in the socket
 * unit; "unknown" when unnamed) in *names_r, NULL-terminated; free it with
 * service_names_free.
 */
int service_listen_fds_named(char ***names_r);
void service_names_free(char **names);

/* 1 when fd is a listening stream socket, 0 when not, -1 on error. */
int service_is_stream_listener(int fd);

#endif
