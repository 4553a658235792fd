/*
 * ctl.h - glomailctl's link to a server's control socket: a running
 * server's, or a private glomaild's started on a store no server runs on
 * (--data-dir). Either way the commands speak to it the same way.
 */
#ifndef GLOMAIL_CTL_H
#define GLOMAIL_CTL_H

#include <sys/types.h>

#include <stddef.h>

/* Exit codes, as glomail's. */
enum {
	CTL_EXIT_OK = 0,
	CTL_EXIT_REFUSED = 1, /* the server answered ERROR (or check found
	                         problems left) */
	CTL_EXIT_FAILED = 2,  /* usage, connection, permission, local error */
};

/* A private server on a store (offline mode). */
struct ctl_offline {
	pid_t pid;
	char dir[256];        /* private directory: socket and log */
	char socket[300];
	char log[300];
};

/*
 * Start glomaild --control-only on data_dir (config: its settings file, or
 * NULL) with a control socket in a new private directory, and wait until
 * it serves. Returns 0, or -1 after printing why (a server holding the
 * store is named as such).
 */
int ctl_offline_start(struct ctl_offline *o, const char *data_dir,
    const char *config);

/* Stop it (SIGTERM, wait) and remove its private directory. */
void ctl_offline_stop(struct ctl_offline *o);

#endif
