/*
 * ctl_offline.c - glomailctl --data-dir: a private glomaild on the store,
 * with no TCP listener and its control socket in a private directory, so
 * that offline work goes through the very code a running server uses. It
 * refuses a store a server runs on (the private server finds the store's
 * lock held, server/cluster.c). Run by root on
 * a store another user owns (the service's), the private server runs as
 * that owner.
 */
#include <sys/prctl.h>
#include <sys/stat.h>
#include <sys/wait.h>

#include <errno.h>
#include <grp.h>
#include <fcntl.h>
#include <limits.h>
#include <stdint.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <syslog.h>
#include <time.h>
#include <unistd.h>

#include "ctl.h"
#include "i18n.h"
#include "wire.h"

/* How long a private server may take to open its store. */
#define START_TIMEOUT_MS 30000

/* glomaild: $GLOMAILD, else beside this program, else where it installs. */
static void
server_binary(char *buf, size_t len)
{
	const char *env = getenv("GLOMAILD");
	char exe[PATH_MAX - 16], *slash;
	ssize_t n;

	if (env != NULL && *env != '\0') {
		snprintf(buf, len, "%s", env);
		return;
	}
	n = readlink("/proc/self/exe", exe, sizeof(exe) - 1);
	if (n > 0) {
		exe[n] = '\0';
		if ((slash = strrchr(exe, '/')) != NULL) {
			*slash = '\0';
			snprintf(buf, len, "%s/glomaild", exe);
			if (access(buf, X_OK) == 0)
				return;
		}
	}
	snprintf(buf, len, "%s/glomaild", GLOMAIL_SBINDIR);
}

/* Print the private server's log, where it said why it stopped. */
static void
show_log(const char *path, int *locked_r)
{
	char line[1024];
	FILE *f = fopen(path, "r");

	*locked_r = 0;
	if (f == NULL)
		return;
	while (fgets(line, sizeof(line), f) != NULL) {
		if (strstr(line, "cannot lock") != NULL)
			*locked_r = 1;
		fprintf(stderr, "  %s", line);
	}
	fclose(f);
}

int
ctl_offline_start(struct ctl_offline *o, const char *data_dir,
    const char *config)
{
	const char *tmp = getenv("TMPDIR");
	char bin[PATH_MAX], err[256];
	char *argv[16];
	struct timespec pause = { 0, 10 * 1000 * 1000 };
	int fd, status, waited, locked, n = 0;
	uid_t owner = (uid_t)-1;
	gid_t group = (gid_t)-1;
	struct stat st;

	memset(o, 0, sizeof(*o));
	o->pid = -1;
	snprintf(o->dir, sizeof(o->dir), "%s/glomailctl.XXXXXX",
	    tmp != NULL && *tmp != '\0' ? tmp : "/tmp");
	if (mkdtemp(o->dir) == NULL) {
		fprintf(stderr, "glomailctl: %s: %s\n", o->dir,
		    strerror(errno));
		return -1;
	}
	snprintf(o->socket, sizeof(o->socket), "%s/control", o->dir);
	snprintf(o->log, sizeof(o->log), "%s/server.log", o->dir);
	server_binary(bin, sizeof(bin));
	if (getuid() == 0 && stat(data_dir, &st) == 0 && st.st_uid != 0) {
		owner = st.st_uid;
		group = st.st_gid;
		if (chown(o->dir, owner, group) == -1) {
			fprintf(stderr, "glomailctl: %s: %s\n", o->dir,
			    strerror(errno));
			goto fail;
		}
	}
	/* execv's argv is not const for historical reasons only. */
	argv[n++] = bin;
	if (config != NULL) {
		argv[n++] = (char *)(uintptr_t) "--config";
		argv[n++] = (char *)(uintptr_t)config;
	}
	argv[n++] = (char *)(uintptr_t) "--data-dir";
	argv[n++] = (char *)(uintptr_t)data_dir;
	argv[n++] = (char *)(uintptr_t) "--control-only";
	argv[n++] = (char *)(uintptr_t) "--control-socket";
	argv[n++] = o->socket;
	/* info: the changes' lines (with the uid), for forward_changes. */
	argv[n++] = (char *)(uintptr_t) "--log-level";
	argv[n++] = (char *)(uintptr_t) "info";
	argv[n] = NULL;
	if ((o->pid = fork()) == -1) {
		fprintf(stderr, "glomailctl: fork: %s\n", strerror(errno));
		goto fail;
	}
	if (o->pid == 0) {
		/* The private server never outlives glomailctl. */
		prctl(PR_SET_PDEATHSIG, SIGTERM);
		if ((fd = open(o->log, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC,
		         0600)) != -1) {
			dup2(fd, STDERR_FILENO);
			dup2(fd, STDOUT_FILENO);
		}
		fd = open("/dev/null", O_RDONLY);
		if (fd != -1)
			dup2(fd, STDIN_FILENO);
		/* Root works on a store as its owner: files made offline must
		 * stay the service's, not become root's. */
		if (owner != (uid_t)-1 &&
		    (setgroups(0, NULL) == -1 || setgid(group) == -1 ||
		        setuid(owner) == -1)) {
			fprintf(stderr, "cannot become the store's owner: %s\n",
			    strerror(errno));
			_exit(126);
		}
		execv(bin, argv);
		fprintf(stderr, "cannot run %s: %s\n", bin, strerror(errno));
		_exit(127);
	}
	for (waited = 0; waited < START_TIMEOUT_MS; waited += 10) {
		if ((fd = wire_connect_unix(o->socket, err, sizeof(err))) !=
		    -1) {
			close(fd);
			return 0;
		}
		if (waitpid(o->pid, &status, WNOHANG) == o->pid) {
			o->pid = -1;
			fprintf(stderr, "glomailctl: %s:\n",
			    _("the server could not open the store"));
			show_log(o->log, &locked);
			if (locked)
				fprintf(stderr, "glomailctl: %s\n",
				    _("a running "
				      "glomaild holds this store: leave out "
				      "--data-dir to talk to it"));
			goto fail;
		}
		nanosleep(&pause, NULL);
	}
	fprintf(stderr, "glomailctl: %s\n",
	    _("the server did not start in time"));
fail:
	ctl_offline_stop(o);
	return -1;
}

/*
 * The private server's log goes with its directory; the changes it made
 * (its "control uid=..." lines) must outlive it, as a running server's
 * do in its journal: they go to the system log.
 */
static void
forward_changes(const char *path)
{
	char line[1200], *p;
	FILE *f = fopen(path, "r");
	int opened = 0;

	if (f == NULL)
		return;
	while (fgets(line, sizeof(line), f) != NULL) {
		if ((p = strstr(line, "control uid=")) == NULL)
			continue;
		p[strcspn(p, "\n")] = '\0';
		if (!opened) {
			openlog("glomailctl", LOG_PID, LOG_AUTHPRIV);
			opened = 1;
		}
		syslog(LOG_NOTICE, "offline: %s", p);
	}
	if (opened)
		closelog();
	fclose(f);
}

void
ctl_offline_stop(struct ctl_offline *o)
{
	int status;

	if (o->pid > 0) {
		kill(o->pid, SIGTERM);
		while (waitpid(o->pid, &status, 0) == -1 && errno == EINTR)
			;
		o->pid = -1;
	}
	if (o->dir[0] != '\0') {
		forward_changes(o->log);
		unlink(o->socket);
		unlink(o->log);
		rmdir(o->dir);
		o->dir[0] = '\0';
	}
}
