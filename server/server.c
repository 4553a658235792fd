/*
 * server.c - start-up of the store, listeners (bound or passed by socket
 * activation), signals, accept limits, SIGHUP reload, notifications to the
 * service manager and the graceful stop.
 */
#include <sys/file.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>

#include <netinet/in.h>
#include <netdb.h>
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <event2/event.h>
#include <event2/listener.h>

#include "cluster.h"
#include "conn.h"
#include "log.h"
#include "mailbox.h"
#include "maildir.h"
#include "penalty.h"
#include "pool.h"
#include "rules.h"
#include "server.h"
#include "service.h"
#include "users.h"

/* How long a graceful stop may take before connections are cut. */
#define STOP_GRACE_SEC 10
/* Jobs waiting per pool before requests are refused as busy. */
#define POOL_QUEUE_MAX 4096
/* How often the service manager's STATUS line may change. */
#define STATUS_INTERVAL_SEC 2

int
server_user_dir(const struct server *srv, const char *user, char *buf,
    size_t len)
{
	int n = snprintf(buf, len, "%s/%s", srv->cfg->data_dir, user);

	return n > 0 && (size_t)n < len ? 0 : -1;
}

/*
 * Make the store ready: the data directory, the LOST Maildir, the lock
 * other instances on the store share (cluster.c), and, when starting
 * alone, nothing left behind by a crash: files in tmp/ were never
 * acknowledged, and half-built accounts were never used.
 */
static int
store_open(struct server *srv)
{
	const char *data = srv->cfg->data_dir;
	char path[4096], lock[4096];
	struct dirent *de;
	int cleaned, total = 0, alone;
	DIR *d;

	if (mkdir(data, 0700) == -1 && errno != EEXIST) {
		log_error("cannot create data directory %s: %s", data,
		    strerror(errno));
		return -1;
	}
	snprintf(lock, sizeof(lock), "%s/.glomaild.lock", data);
	srv->lock_fd = open(lock, O_RDWR | O_CREAT | O_CLOEXEC, 0600);
	if (srv->lock_fd == -1 || cluster_lock(srv->lock_fd, &alone) == -1) {
		log_error("cannot lock %s: %s", lock, strerror(errno));
		return -1;
	}
	if (server_user_dir(srv, RULES_LOST_DIR, path, sizeof(path)) == -1 ||
	    maildir_create(path) == -1) {
		log_error("cannot create %s/%s: %s", data, RULES_LOST_DIR,
		    strerror(errno));
		return -1;
	}
	/* Other instances' deliveries may be in tmp/: leave it to them. */
	if (!alone) {
		log_info("sharing %s with another instance", data);
		return 0;
	}
	if ((d = opendir(data)) == NULL) {
		log_error("cannot read %s: %s", data, strerror(errno));
		return -1;
	}
	while ((de = readdir(d)) != NULL) {
		if (users_is_staging(de->d_name)) {
			snprintf(path, sizeof(path), "%s/%s", data, de->d_name);
			users_remove_staging(path);
			continue;
		}
		if (de->d_name[0] == '.')
			continue;
		snprintf(path, sizeof(path), "%s/%s", data, de->d_name);
		if ((cleaned = maildir_clean_tmp(path)) > 0)
			total += cleaned;
	}
	closedir(d);
	if (total > 0)
		log_warn("removed %d incomplete deliveries left in tmp/", total);
	if (cluster_share(srv->lock_fd) == -1) {
		log_error("cannot share the lock on %s: %s", lock,
		    strerror(errno));
		return -1;
	}
	return 0;
}

/* Use as many descriptors as allowed; say so if it is fewer than wanted. */
static void
raise_fd_limit(const struct config *cfg)
{
	struct rlimit rl;
	rlim_t want = (rlim_t)cfg->max_connections + 64;

	if (getrlimit(RLIMIT_NOFILE, &rl) == -1)
		return;
	if (rl.rlim_cur < rl.rlim_max) {
		rl.rlim_cur = rl.rlim_max;
		setrlimit(RLIMIT_NOFILE, &rl);
		getrlimit(RLIMIT_NOFILE, &rl);
	}
	if (rl.rlim_cur < want)
		log_warn("descriptor limit %llu is below max-connections %u; "
		    "accepting will pause when descriptors run out",
		    (unsigned long long)rl.rlim_cur, cfg->max_connections);
}

static void
set_accepting(struct server *srv, int on)
{
	size_t i;

	if (srv->accepting == on || srv->stopping)
		return;
	srv->accepting = on;
	for (i = 0; i < srv->nlisteners; i++) {
		if (on)
			evconnlistener_enable(srv->listeners[i]);
		else
			evconnlistener_disable(srv->listeners[i]);
	}
}

void
server_conn_gone(struct server *srv)
{
	srv->nconns--;
	if (!srv->stopping && srv->nconns < srv->cfg->max_connections &&
	    !evtimer_pending(srv->accept_retry, NULL))
		set_accepting(srv, 1);
}

static void
accept_cb(struct evconnlistener *l, evutil_socket_t fd, struct sockaddr *sa,
    int salen, void *arg)
{
	struct server *srv = arg;

	(void)l;
	if (srv->stopping) {
		evutil_closesocket(fd);
		return;
	}
	conn_new(srv, fd, sa, salen);
	if (srv->nconns >= srv->cfg->max_connections) {
		log_warn("max-connections %u reached: accepting paused",
		    srv->cfg->max_connections);
		set_accepting(srv, 0);
	}
}

/* EMFILE and friends: pause accepting for a moment instead of spinning. */
static void
accept_error_cb(struct evconnlistener *l, void *arg)
{
	struct server *srv = arg;
	struct timeval tv = { 0, 200 * 1000 };
	int err = EVUTIL_SOCKET_ERROR();

	(void)l;
	log_warn("accept: %s; pausing for 200 ms (connections=%u)",
	    evutil_socket_error_to_string(err), srv->nconns);
	set_accepting(srv, 0);
	evtimer_add(srv->accept_retry, &tv);
}

static void
accept_retry_cb(evutil_socket_t fd, short what, void *arg)
{
	struct server *srv = arg;

	(void)fd;
	(void)what;
	if (srv->nconns < srv->cfg->max_connections)
		set_accepting(srv, 1);
}

static void
drain_cb(evutil_socket_t fd, short what, void *arg)
{
	struct server *srv = arg;
	struct timeval now, elapsed;

	(void)fd;
	(void)what;
	evutil_gettimeofday(&now, NULL);
	evutil_timersub(&now, &srv->stop_started, &elapsed);
	if (srv->nconns == 0 && pool_pending(srv->store_pool) == 0 &&
	    pool_pending(srv->auth_pool) == 0) {
		event_base_loopexit(srv->base, NULL);
		return;
	}
	if (elapsed.tv_sec >= STOP_GRACE_SEC) {
		log_warn("stop: %u connections still open after %d s, closing",
		    srv->nconns, STOP_GRACE_SEC);
		conn_close_all(srv, 1);
		event_base_loopexit(srv->base, NULL);
	}
}

/*
 * Tell the service manager the counts an administrator sees in
 * "systemctl status", with the assignments in prefix ("READY=1\n"). Sent
 * only when something changed or prefix is not empty: the timer that calls
 * this costs a comparison when the server is idle.
 */
static void
status_update(struct server *srv, const char *prefix)
{
	if (*prefix == '\0' && srv->status_conns == srv->nconns &&
	    srv->status_delivered == srv->delivered)
		return;
	srv->status_conns = srv->nconns;
	srv->status_delivered = srv->delivered;
	service_notifyf("%sSTATUS=%s%u connections, %llu messages delivered",
	    prefix, srv->stopping ? "Stopping: " : "", srv->nconns,
	    srv->delivered);
}

static void
status_cb(evutil_socket_t fd, short what, void *arg)
{
	(void)fd;
	(void)what;
	status_update(arg, "");
}

/*
 * SIGHUP: read the settings again. Limits and the log level apply at once,
 * since other modules read them at use time on this thread; config_reload
 * logs what needs a restart instead.
 */
static void
server_reload(struct server *srv)
{
	if (srv->stopping)
		return;
	if (srv->reload == NULL) {
		log_info("SIGHUP: no configuration file to read again");
		return;
	}
	service_notify("RELOADING=1");
	log_info("SIGHUP: reading the configuration again");
	if (srv->reload(srv->reload_arg) == 0) {
		log_set_level(srv->cfg->log_level);
		conn_limits_changed(srv);
		/* A new max-connections may pause or resume accepting. */
		if (srv->nconns >= srv->cfg->max_connections)
			set_accepting(srv, 0);
		else if (!evtimer_pending(srv->accept_retry, NULL))
			set_accepting(srv, 1);
		log_info("configuration reloaded");
	}
	status_update(srv, "READY=1\n");
}

static void
server_stop(struct server *srv, const char *why)
{
	struct timeval tv = { 0, 20 * 1000 };
	size_t i;

	if (srv->stopping)
		return;
	log_info("%s: stopping (connections=%u)", why, srv->nconns);
	service_notifyf("STOPPING=1\nSTATUS=Stopping: %u connections to "
	    "finish, %llu messages delivered", srv->nconns, srv->delivered);
	for (i = 0; i < srv->nlisteners; i++)
		evconnlistener_disable(srv->listeners[i]);
	srv->stopping = 1;
	evutil_gettimeofday(&srv->stop_started, NULL);
	/* Requests in flight finish and their replies are written first. */
	conn_close_all(srv, 0);
	srv->drain_timer = event_new(srv->base, -1, EV_PERSIST, drain_cb, srv);
	if (srv->drain_timer == NULL || event_add(srv->drain_timer, &tv) == -1)
		event_base_loopexit(srv->base, NULL);
}

static void
signal_cb(evutil_socket_t sig, short what, void *arg)
{
	(void)what;
	if (sig == SIGHUP)
		server_reload(arg);
	else
		server_stop(arg, sig == SIGINT ? "SIGINT" : "SIGTERM");
}

void
server_on_reload(struct server *srv, server_reload_fn fn, void *arg)
{
	srv->reload = fn;
	srv->reload_arg = arg;
}

struct server *
server_new(const struct config *cfg)
{
	static const int sigs[] = { SIGINT, SIGTERM, SIGHUP };
	struct server *srv;
	size_t i;

	if ((srv = calloc(1, sizeof(*srv))) == NULL)
		return NULL;
	srv->cfg = cfg;
	srv->lock_fd = -1;
	signal(SIGPIPE, SIG_IGN);
	maildir_init();
	raise_fd_limit(cfg);
	if (store_open(srv) == -1)
		goto fail;
	if (users_init() == -1) {
		log_error("cannot initialise password hashing");
		goto fail;
	}
	if ((srv->base = event_base_new()) == NULL ||
	    (srv->mailboxes = mailboxes_new()) == NULL)
		goto fail;
	srv->auth_pool = pool_new(srv->base, "auth", cfg->auth_workers,
	    POOL_QUEUE_MAX);
	srv->store_pool = pool_new(srv->base, "store", cfg->store_workers,
	    POOL_QUEUE_MAX);
	if (srv->auth_pool == NULL || srv->store_pool == NULL)
		goto fail;
	/* Hashing is CPU-bound by design: let the reactor preempt it, so a
	 * storm of logins does not delay everyone else's replies. */
	pool_set_nice(srv->auth_pool, 19);
	srv->penalty = penalty_new(srv->base, cfg->login_penalty,
	    cfg->login_penalty_max);
	if (srv->penalty == NULL)
		goto fail;
	srv->accept_retry = evtimer_new(srv->base, accept_retry_cb, srv);
	if (srv->accept_retry == NULL)
		goto fail;
	for (i = 0; i < sizeof(sigs) / sizeof(sigs[0]); i++) {
		srv->signals[i] = evsignal_new(srv->base, sigs[i], signal_cb, srv);
		if (srv->signals[i] == NULL ||
		    event_add(srv->signals[i], NULL) == -1)
			goto fail;
	}
	return srv;
fail:
	server_free(srv);
	return NULL;
}

/* "127.0.0.1:9672" or "[::1]:9672" for the log. */
static void
format_addr(const struct sockaddr_storage *ss, char *buf, size_t len)
{
	char host[INET6_ADDRSTRLEN] = "?";

	if (ss->ss_family == AF_INET6) {
		const struct sockaddr_in6 *a = (const struct sockaddr_in6 *)ss;

		evutil_inet_ntop(AF_INET6, &a->sin6_addr, host, sizeof(host));
		snprintf(buf, len, "[%s]:%d", host, ntohs(a->sin6_port));
	} else if (ss->ss_family == AF_UNIX) {
		const struct sockaddr_un *a = (const struct sockaddr_un *)ss;

		snprintf(buf, len, "unix:%.*s", (int)sizeof(a->sun_path),
		    a->sun_path[0] != '\0' ? a->sun_path : "(abstract)");
	} else {
		const struct sockaddr_in *a = (const struct sockaddr_in *)ss;

		evutil_inet_ntop(AF_INET, &a->sin_addr, host, sizeof(host));
		snprintf(buf, len, "%s:%d", host, ntohs(a->sin_port));
	}
}

/*
 * Resolve "HOST:PORT" or "[V6]:PORT" (port 0: any free port). Our own parser:
 * libevent's refuses port 0, which tests and socket activation rely on.
 */
static int
parse_listen(const char *spec, struct sockaddr_storage *ss, socklen_t *len_r)
{
	char host[256];
	const char *colon = strrchr(spec, ':'), *h = spec;
	size_t hlen;
	struct addrinfo hints, *res;
	int rc;

	if (colon == NULL || colon[1] == '\0')
		return -1;
	hlen = (size_t)(colon - spec);
	if (hlen >= 2 && spec[0] == '[' && spec[hlen - 1] == ']') {
		h = spec + 1;
		hlen -= 2;
	}
	if (hlen == 0 || hlen >= sizeof(host))
		return -1;
	memcpy(host, h, hlen);
	host[hlen] = '\0';
	memset(&hints, 0, sizeof(hints));
	hints.ai_family = AF_UNSPEC;
	hints.ai_socktype = SOCK_STREAM;
	hints.ai_flags = AI_PASSIVE | AI_NUMERICSERV;
	if ((rc = getaddrinfo(host, colon + 1, &hints, &res)) != 0)
		return -1;
	memcpy(ss, res->ai_addr, res->ai_addrlen);
	*len_r = res->ai_addrlen;
	freeaddrinfo(res);
	return 0;
}

/* "listening on ADDR": administrators and tests read the port here. */
static void
log_listening(struct evconnlistener *l)
{
	struct sockaddr_storage ss;
	socklen_t len = sizeof(ss);
	char shown[160];

	memset(&ss, 0, sizeof(ss));
	if (getsockname(evconnlistener_get_fd(l), (struct sockaddr *)&ss,
	    &len) == 0) {
		format_addr(&ss, shown, sizeof(shown));
		log_info("listening on %s", shown);
	}
}

/* Keep a new listener, whichever way it came: serve it and log it. */
static void
listener_add(struct server *srv, struct evconnlistener *l)
{
	evconnlistener_set_error_cb(l, accept_error_cb);
	srv->listeners[srv->nlisteners++] = l;
	log_listening(l);
}

/*
 * Socket activation: the service manager bound the sockets of its .socket
 * unit and passed them from descriptor 3 on. The listen setting is not used
 * then, so one place (the unit) says where the server listens.
 */
static int
listen_passed(struct server *srv, int n)
{
	const unsigned flags = LEV_OPT_CLOSE_ON_FREE | LEV_OPT_CLOSE_ON_EXEC |
	    LEV_OPT_DISABLED;
	struct evconnlistener *l;
	int fd;

	log_info("socket activation: %d socket%s from the service manager; "
	    "the listen setting is not used", n, n == 1 ? "" : "s");
	for (fd = SERVICE_LISTEN_FDS_START; fd < SERVICE_LISTEN_FDS_START + n;
	    fd++) {
		if (service_is_stream_listener(fd) != 1) {
			log_error("socket activation: descriptor %d is not a "
			    "listening stream socket", fd);
			return -1;
		}
		if (srv->nlisteners == CONFIG_LISTEN_MAX) {
			log_error("socket activation: more than %d sockets",
			    CONFIG_LISTEN_MAX);
			return -1;
		}
		/* Backlog 0: the socket listens already. */
		if (evutil_make_socket_nonblocking(fd) == -1 ||
		    (l = evconnlistener_new(srv->base, accept_cb, srv, flags, 0,
		    fd)) == NULL) {
			log_error("socket activation: descriptor %d: %s", fd,
			    strerror(errno));
			return -1;
		}
		listener_add(srv, l);
	}
	set_accepting(srv, 1);
	return 0;
}

int
server_listen(struct server *srv)
{
	const unsigned flags = LEV_OPT_CLOSE_ON_FREE | LEV_OPT_REUSEABLE |
	    LEV_OPT_CLOSE_ON_EXEC | LEV_OPT_DISABLED;
	struct sockaddr_storage ss;
	struct evconnlistener *l;
	socklen_t len;
	size_t i;
	int passed = service_listen_fds();

	if (passed == -1) {
		log_error("socket activation: malformed LISTEN_FDS");
		return -1;
	}
	if (passed > 0)
		return listen_passed(srv, passed);
	for (i = 0; i < srv->cfg->listen.n; i++) {
		memset(&ss, 0, sizeof(ss));
		if (parse_listen(srv->cfg->listen.addr[i], &ss, &len) == -1) {
			log_error("listen %s: not an address HOST:PORT",
			    srv->cfg->listen.addr[i]);
			return -1;
		}
		l = evconnlistener_new_bind(srv->base, accept_cb, srv, flags,
		    SOMAXCONN, (struct sockaddr *)&ss, (int)len);
		if (l == NULL) {
			log_error("listen %s: %s", srv->cfg->listen.addr[i],
			    strerror(errno));
			return -1;
		}
		listener_add(srv, l);
	}
	set_accepting(srv, 1);
	return 0;
}

int
server_run(struct server *srv)
{
	struct timeval tv = { STATUS_INTERVAL_SEC, 0 };
	int rc;

	/* Listening sockets are open: connections queue until the loop runs. */
	status_update(srv, "READY=1\n");
	if (service_notify_enabled()) {
		srv->status_timer = event_new(srv->base, -1, EV_PERSIST,
		    status_cb, srv);
		if (srv->status_timer == NULL ||
		    event_add(srv->status_timer, &tv) == -1)
			log_warn("cannot schedule status updates");
	}
	rc = event_base_dispatch(srv->base);

	log_info("stopped (messages delivered=%llu)", srv->delivered);
	return rc == -1 ? -1 : 0;
}

void
server_free(struct server *srv)
{
	size_t i;

	if (srv == NULL)
		return;
	conn_close_all(srv, 1);
	/* Logins waiting out a penalty find their connections closed. */
	penalty_free(srv->penalty);
	/* Pools finish their jobs; done callbacks see closed connections. */
	pool_free(srv->auth_pool);
	pool_free(srv->store_pool);
	for (i = 0; i < srv->nlisteners; i++)
		evconnlistener_free(srv->listeners[i]);
	for (i = 0; i < sizeof(srv->signals) / sizeof(srv->signals[0]); i++)
		if (srv->signals[i] != NULL)
			event_free(srv->signals[i]);
	if (srv->accept_retry != NULL)
		event_free(srv->accept_retry);
	if (srv->drain_timer != NULL)
		event_free(srv->drain_timer);
	if (srv->status_timer != NULL)
		event_free(srv->status_timer);
	mailboxes_free(srv->mailboxes);
	if (srv->base != NULL)
		event_base_free(srv->base);
	if (srv->lock_fd != -1)
		close(srv->lock_fd);
	free(srv);
}
