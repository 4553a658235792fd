/*
 * server.c - start-up of the store, listeners (bound or passed by socket
 * activation), signals, accept limits, SIGHUP reload, notifications to the
 * service manager and the graceful stop.
 */
#include <sys/file.h>
#include <sys/queue.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>

#include <netinet/in.h>
#include <netdb.h>
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <event2/event.h>
#include <event2/listener.h>

#include "aliases.h"
#include "cluster.h"
#include "conn.h"
#include "dispatch.h"
#include "log.h"
#include "mail.h"
#include "mailbox.h"
#include "maildir.h"
#include "notify.h"
#include "penalty.h"
#include "pool.h"
#include "rules.h"
#include "server.h"
#include "service.h"
#include "session.h"
#include "smtp_session.h"
#include "tls.h"
#include "users.h"

/* How long a graceful stop may take before connections are cut. */
#define STOP_GRACE_SEC 10
/* Jobs waiting per pool before requests are refused as busy. */
#define POOL_QUEUE_MAX 4096
/* How often the service manager's STATUS line may change. */
#define STATUS_INTERVAL_SEC 2
/* Connections accepted in one go before the loop serves everyone else. */
#define ACCEPT_BURST 32
/* The longest a pause after a burst lasts when the loop stays busy. */
#define ACCEPT_GUARD_MS 100

/* Listening sockets of every kind: the protocol in plaintext and in TLS,
 * and the three SMTP settings. */
#define SERVER_LISTENERS_MAX (5 * CONFIG_LISTEN_MAX)

/* One listening socket and what its connections speak. */
struct server_listener {
	struct evconnlistener *l;
	struct server *srv;
	int tls;  /* TLS from the first byte */
	int smtp; /* SMTP: 1 + enum smtp_kind; 0: the protocol */
};

/* One entry of the server's list of live connections. */
struct server_client {
	TAILQ_ENTRY(server_client) entry;
	struct conn *conn; /* NULL for an SMTP session */
	struct smtp_session *smtp;
};

struct server {
	const struct config *cfg;
	struct event_base *base;
	struct server_listener listeners[SERVER_LISTENERS_MAX];
	size_t nlisteners;
	struct tls *tls; /* the TLS context, when a listener has TLS */
	struct event *signals[3];
	struct event *accept_retry;   /* re-enables accepting after EMFILE */
	struct event *accept_resume;  /* resumes accepting after a burst */
	struct event *accept_guard;   /* resumes it if that got no turn */
	struct tls_sched *handshakes; /* TLS handshakes, after everyone else */
	struct notify *notify;        /* new/ of mailboxes with subscribers */
	unsigned accept_burst;      /* accepted since accept_resume last ran */
	struct event *drain_timer;  /* polls for the end of a graceful stop */
	struct event *status_timer; /* refreshes the service manager's STATUS */
	unsigned status_conns;      /* the counts STATUS last showed */
	unsigned long long status_delivered;
	server_reload_fn reload;
	void *reload_arg;
	struct pool *auth_pool;  /* password hashing */
	struct pool *store_pool; /* disk: delivery, reads, scans */
	struct mailboxes *mailboxes;
	struct penalty *penalty;             /* failed-login throttling */
	struct conn_env *conn_env;           /* what every connection shares */
	TAILQ_HEAD(, server_client) clients; /* every live connection */
	unsigned nconns;
	int accepting;
	int stopping;
	int lock_fd;
	int data_fd; /* the data directory: the store's root */
	int shared;  /* other instances were on the store */
	struct timeval stop_started;
	unsigned long long next_conn_id;
	unsigned long long delivered;
	unsigned long long logins, logins_failed; /* since start */
	struct aliases *aliases; /* the aliases file, replaced on SIGHUP */
	char aliases_file[4096]; /* its path; "": none */
};

const struct config *
server_cfg(const struct server *srv)
{
	return srv->cfg;
}

struct event_base *
server_base(const struct server *srv)
{
	return srv->base;
}

struct pool *
server_auth_pool(const struct server *srv)
{
	return srv->auth_pool;
}

struct pool *
server_store_pool(const struct server *srv)
{
	return srv->store_pool;
}

struct mailboxes *
server_mailboxes(const struct server *srv)
{
	return srv->mailboxes;
}

struct penalty *
server_penalty(const struct server *srv)
{
	return srv->penalty;
}

void
server_count_delivery(struct server *srv)
{
	srv->delivered++;
}

int
server_store_shared(const struct server *srv)
{
	return srv->shared;
}

int
server_data_fd(const struct server *srv)
{
	return srv->data_fd;
}

const struct aliases *
server_aliases(const struct server *srv)
{
	return srv->aliases;
}

void
server_set_aliases(struct server *srv, struct aliases *a)
{
	aliases_free(srv->aliases);
	srv->aliases = a;
}

void
server_set_aliases_file(struct server *srv, const char *path)
{
	snprintf(srv->aliases_file, sizeof(srv->aliases_file), "%s",
	    path != NULL ? path : "");
}

const char *
server_aliases_file(const struct server *srv)
{
	return srv->aliases_file;
}

/*
 * Remove what a crash left in one account's tmp/: it was never
 * acknowledged. Nothing here follows a link: an account or tmp/ that is
 * one is logged and left alone. Not alone on the store, only what is
 * stale goes (cluster.c): the rest may be another instance's delivery in
 * flight. Returns the count removed.
 */
static int
store_clean_account(struct server *srv, const char *name, int alone, time_t now)
{
	struct stat st;
	int md, cleaned;

	if (fstatat(srv->data_fd, name, &st, AT_SYMLINK_NOFOLLOW) == -1)
		return 0;
	if (S_ISLNK(st.st_mode)) {
		log_warn("data directory: skipped %s: a symbolic link, not "
		         "followed",
		    name);
		return 0;
	}
	if (!S_ISDIR(st.st_mode))
		return 0;
	if ((md = maildir_open(srv->data_fd, name)) == -1) {
		log_warn("data directory: skipped %s: %s", name,
		    strerror(errno));
		return 0;
	}
	cleaned = alone ? maildir_clean_tmp(md) : cluster_clean_tmp(md, now);
	if (cleaned == -1) {
		log_warn("data directory: not cleaned %s/tmp: %s", name,
		    errno == ELOOP ? "a symbolic link, not followed"
		                   : strerror(errno));
		cleaned = 0;
	}
	close(md);
	return cleaned;
}

/*
 * Make the store ready: the data directory, opened once (every later access
 * is relative to it), the LOST Maildir, the lock other instances on the
 * store share (cluster.c), and nothing left behind by a crash: files in
 * tmp/ were never acknowledged, and half-built accounts were never used
 * (joining others, only what is stale: the rest may be their work).
 */
static int
store_open(struct server *srv)
{
	const char *data = srv->cfg->data_dir;
	struct dirent *de;
	time_t now = time(NULL);
	int fd, total = 0, alone;
	DIR *d;

	if (mkdir(data, 0700) == -1 && errno != EEXIST) {
		log_error("cannot create data directory %s: %s", data,
		    strerror(errno));
		return -1;
	}
	/*
	 * The one path the store follows links in: the administrator named
	 * it, and systemd's DynamicUser makes /var/lib/glomail a link to
	 * /var/lib/private/glomail. Below it, nothing is followed.
	 */
	if ((srv->data_fd = open(data, O_RDONLY | O_DIRECTORY | O_CLOEXEC)) ==
	    -1) {
		log_error("cannot open data directory %s: %s", data,
		    strerror(errno));
		return -1;
	}
	srv->lock_fd = openat(srv->data_fd, ".glomaild.lock",
	    O_RDWR | O_CREAT | O_NOFOLLOW | O_CLOEXEC, 0600);
	if (srv->lock_fd == -1 || cluster_lock(srv->lock_fd, &alone) == -1) {
		log_error("cannot lock %s/.glomaild.lock: %s", data,
		    strerror(errno));
		return -1;
	}
	srv->shared = !alone;
	if (!alone)
		log_info("sharing %s with another instance", data);
	if (maildir_create(srv->data_fd, RULES_LOST_DIR) == -1) {
		log_error("cannot create %s/%s: %s", data, RULES_LOST_DIR,
		    strerror(errno));
		return -1;
	}
	/* Its own descriptor: a listing must not move data_fd's offset. */
	if ((fd = openat(srv->data_fd, ".",
	         O_RDONLY | O_DIRECTORY | O_CLOEXEC)) == -1 ||
	    (d = fdopendir(fd)) == NULL) {
		log_error("cannot read %s: %s", data, strerror(errno));
		if (fd != -1)
			close(fd);
		return -1;
	}
	while ((de = readdir(d)) != NULL) {
		if (strcmp(de->d_name, ".") == 0 ||
		    strcmp(de->d_name, "..") == 0)
			continue;
		if (users_is_staging(de->d_name)) {
			if ((alone ||
			        cluster_stale(srv->data_fd, de->d_name, now)) &&
			    users_remove_staging(srv->data_fd, de->d_name) ==
			        -1)
				log_warn("cannot remove %s/%s: %s", data,
				    de->d_name, strerror(errno));
			continue;
		}
		if (de->d_name[0] == '.')
			continue;
		total += store_clean_account(srv, de->d_name, alone, now);
	}
	closedir(d);
	if (total > 0)
		log_warn("removed %d incomplete deliveries left in tmp/",
		    total);
	if (alone && cluster_share(srv->lock_fd) == -1) {
		log_error("cannot share the lock on %s/.glomaild.lock: %s",
		    data, strerror(errno));
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
			evconnlistener_enable(srv->listeners[i].l);
		else
			evconnlistener_disable(srv->listeners[i].l);
	}
}

/* A connection closed (a conn_gone_fn): forget it; accepting may resume. */
static void
server_conn_gone(struct server *srv, void *link)
{
	struct server_client *sc = link;

	TAILQ_REMOVE(&srv->clients, sc, entry);
	free(sc);
	srv->nconns--;
	if (!srv->stopping && srv->nconns < srv->cfg->max_connections &&
	    !evtimer_pending(srv->accept_retry, NULL))
		set_accepting(srv, 1);
}

/* A new connection of the protocol, under TLS when ssl is given. */
static struct conn *
conn_add(struct server *srv, evutil_socket_t fd, const struct sockaddr *sa,
    int salen, SSL *ssl)
{
	struct server_client *sc;

	if ((sc = calloc(1, sizeof(*sc))) == NULL) {
		evutil_closesocket(fd);
		SSL_free(ssl);
		return NULL;
	}
	sc->conn = conn_new(srv->conn_env, ++srv->next_conn_id, fd, sa, salen,
	    ssl, dispatch_frame, sc);
	if (sc->conn == NULL) {
		free(sc);
		return NULL;
	}
	TAILQ_INSERT_TAIL(&srv->clients, sc, entry);
	srv->nconns++;
	return sc->conn;
}

/* A new SMTP session, of the listener's kind. */
static void
smtp_add(struct server *srv, evutil_socket_t fd, const struct sockaddr *sa,
    int salen, enum smtp_kind kind, SSL *ssl)
{
	struct server_client *sc;

	if ((sc = calloc(1, sizeof(*sc))) == NULL) {
		evutil_closesocket(fd);
		SSL_free(ssl);
		return;
	}
	sc->smtp = smtp_session_new(srv, srv->conn_env, kind,
	    ++srv->next_conn_id, fd, sa, salen, ssl, server_conn_gone, sc);
	if (sc->smtp == NULL) {
		free(sc);
		return;
	}
	TAILQ_INSERT_TAIL(&srv->clients, sc, entry);
	srv->nconns++;
}

struct conn *
server_conn_add(struct server *srv, evutil_socket_t fd,
    const struct sockaddr *sa, int salen)
{
	return conn_add(srv, fd, sa, salen, NULL);
}

struct notify *
server_notify(const struct server *srv)
{
	return srv->notify;
}

struct tls *
server_tls(const struct server *srv)
{
	return srv->tls;
}

/* Every connection closes: now, or once it has answered what it has. */
static void
server_close_all(struct server *srv, int now)
{
	struct server_client *sc, *next;

	/* A close frees its entry: step to the next one first. */
	for (sc = TAILQ_FIRST(&srv->clients); sc != NULL; sc = next) {
		next = TAILQ_NEXT(sc, entry);
		if (sc->smtp != NULL && now)
			smtp_session_close(sc->smtp, "server stopping");
		else if (sc->smtp != NULL)
			smtp_session_shutdown(sc->smtp);
		else if (now)
			conn_close(sc->conn, "server stopping");
		else
			conn_close_after_reply(sc->conn);
	}
}

/*
 * The listener accepts every pending connection in one callback; a thousand
 * arriving at once would hold the loop for tens of milliseconds (a session,
 * a bufferevent and a log line each) while connected clients wait. After
 * ACCEPT_BURST of them, accepting pauses until the loop has served everyone
 * else: the resume event runs at the handshake priority, when nothing more
 * urgent is ready. A peer keeping the loop busy at every turn would keep it
 * from running, so a timer at the highest priority resumes accepting after
 * ACCEPT_GUARD_MS in any case.
 */
static void
accept_paced(struct server *srv)
{
	struct timeval tv = { 0, ACCEPT_GUARD_MS * 1000 };

	if (++srv->accept_burst < ACCEPT_BURST || !srv->accepting)
		return;
	set_accepting(srv, 0);
	event_active(srv->accept_resume, EV_TIMEOUT, 1);
	evtimer_add(srv->accept_guard, &tv);
}

static void
accept_resume_cb(evutil_socket_t fd, short what, void *arg)
{
	struct server *srv = arg;

	(void)fd;
	(void)what;
	srv->accept_burst = 0;
	evtimer_del(srv->accept_guard);
	if (srv->nconns < srv->cfg->max_connections &&
	    !evtimer_pending(srv->accept_retry, NULL))
		set_accepting(srv, 1);
}

static void
accept_cb(struct evconnlistener *l, evutil_socket_t fd, struct sockaddr *sa,
    int salen, void *arg)
{
	struct server_listener *sl = arg;
	struct server *srv = sl->srv;
	SSL *ssl = NULL;

	(void)l;
	if (srv->stopping) {
		evutil_closesocket(fd);
		return;
	}
	if (sl->tls && (ssl = tls_ssl_new(srv->tls)) == NULL) {
		log_error("tls: cannot make a session for a new connection");
		evutil_closesocket(fd);
		return;
	}
	if (sl->smtp)
		smtp_add(srv, fd, sa, salen, (enum smtp_kind)(sl->smtp - 1),
		    ssl);
	else
		conn_add(srv, fd, sa, salen, ssl);
	if (srv->nconns >= srv->cfg->max_connections) {
		log_warn("max-connections %u reached: accepting paused",
		    srv->cfg->max_connections);
		set_accepting(srv, 0);
	} else
		accept_paced(srv);
}

/* EMFILE and friends: pause accepting for a moment instead of spinning. */
static void
accept_error_cb(struct evconnlistener *l, void *arg)
{
	struct server *srv = ((struct server_listener *)arg)->srv;
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
		server_close_all(srv, 1);
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
 * The certificate files again (renewed in place, or other paths): new
 * handshakes get the new one, open sessions keep theirs; one that does not
 * load is logged and the old one stays in service.
 */
static void
tls_reload_settings(struct server *srv)
{
	char err[512], *cert = NULL, *key = NULL;
	enum tls_profile profile = (enum tls_profile)srv->cfg->tls_profile;

	if (tls_paths(srv->cfg->tls_cert, srv->cfg->tls_key, &cert, &key, err,
	        sizeof(err)) == -1 ||
	    tls_reload(srv->tls, cert, key, profile, err, sizeof(err)) == -1)
		log_error("reload: tls: %s; the certificate in service stays",
		    err);
	else
		log_info("reload: tls certificate serial=%s profile=%s",
		    tls_serial(srv->tls), tls_profile_name(profile));
	free(cert);
	free(key);
}

/*
 * SIGHUP: read the settings again. Limits and the log level apply at once,
 * since other modules read them at use time on this thread; config_reload
 * logs what needs a restart instead.
 */
int
server_reload(struct server *srv)
{
	struct server_client *sc;
	int rc = -1;

	if (srv->stopping)
		return -1;
	if (srv->reload == NULL) {
		log_info("SIGHUP: no configuration file to read again");
		return 0;
	}
	service_notify("RELOADING=1");
	log_info("SIGHUP: reading the configuration again");
	if (srv->reload(srv->reload_arg) == 0) {
		rc = 0;
		log_set_level(srv->cfg->log_level);
		if (srv->tls != NULL)
			tls_reload_settings(srv);
		TAILQ_FOREACH (sc, &srv->clients, entry)
			if (sc->conn != NULL)
				conn_limits_changed(sc->conn);
		/* A new max-connections may pause or resume accepting. */
		if (srv->nconns >= srv->cfg->max_connections)
			set_accepting(srv, 0);
		else if (!evtimer_pending(srv->accept_retry, NULL))
			set_accepting(srv, 1);
		log_info("configuration reloaded");
	}
	status_update(srv, "READY=1\n");
	return rc;
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
	                "finish, %llu messages delivered",
	    srv->nconns, srv->delivered);
	for (i = 0; i < srv->nlisteners; i++)
		evconnlistener_disable(srv->listeners[i].l);
	srv->stopping = 1;
	evutil_gettimeofday(&srv->stop_started, NULL);
	/* Requests in flight finish and their replies are written first. */
	server_close_all(srv, 0);
	srv->drain_timer = event_new(srv->base, -1, EV_PERSIST, drain_cb, srv);
	if (srv->drain_timer == NULL || event_add(srv->drain_timer, &tv) == -1)
		event_base_loopexit(srv->base, NULL);
}

static void
signal_cb(evutil_socket_t sig, short what, void *arg)
{
	(void)what;
	if (sig == SIGHUP)
		(void)server_reload(arg);
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
	srv->data_fd = -1;
	TAILQ_INIT(&srv->clients);
	signal(SIGPIPE, SIG_IGN);
	maildir_init();
	raise_fd_limit(cfg);
	if (store_open(srv) == -1)
		goto fail;
	if (users_init() == -1) {
		log_error("cannot initialise password hashing");
		goto fail;
	}
	if ((srv->base = tls_base_new()) == NULL ||
	    (srv->mailboxes = mailboxes_new()) == NULL ||
	    (srv->handshakes = tls_sched_new(srv->base)) == NULL ||
	    (srv->conn_env = conn_env_new(srv, srv->base, srv->handshakes, cfg,
	         server_conn_gone)) == NULL)
		goto fail;
	/* Without inotify, other processes' mail is found by polling. */
	srv->notify = notify_new(srv->base, mail_arrival, srv);
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
	srv->accept_resume = event_new(srv->base, -1, 0, accept_resume_cb, srv);
	srv->accept_guard = evtimer_new(srv->base, accept_resume_cb, srv);
	if (srv->accept_retry == NULL || srv->accept_resume == NULL ||
	    srv->accept_guard == NULL ||
	    event_priority_set(srv->accept_resume, TLS_PRIO_HANDSHAKE) == -1 ||
	    event_priority_set(srv->accept_guard, 0) == -1)
		goto fail;
	for (i = 0; i < sizeof(sigs) / sizeof(sigs[0]); i++) {
		srv->signals[i] = evsignal_new(srv->base, sigs[i], signal_cb,
		    srv);
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
log_listening(struct evconnlistener *l, int tls, int smtp)
{
	struct sockaddr_storage ss;
	socklen_t len = sizeof(ss);
	char shown[160];

	memset(&ss, 0, sizeof(ss));
	if (getsockname(evconnlistener_get_fd(l), (struct sockaddr *)&ss,
	        &len) == 0) {
		format_addr(&ss, shown, sizeof(shown));
		if (smtp)
			log_info("listening for %s on %s",
			    smtp_kind_name((enum smtp_kind)(smtp - 1)), shown);
		else
			log_info("listening on %s%s", shown, tls ? " tls" : "");
	}
}

/*
 * The one line that says what this server is: version, where it listens,
 * where the mail lives and which domain it serves.
 */
static void
log_started(const struct server *srv)
{
	struct sockaddr_storage ss;
	socklen_t len;
	char shown[160], addrs[SERVER_LISTENERS_MAX * 166], dir[PATH_MAX];
	char smtp[SERVER_LISTENERS_MAX * 176];
	size_t i, used = 0, sused = 0;
	int n;

	addrs[0] = smtp[0] = '\0';
	for (i = 0; i < srv->nlisteners; i++) {
		len = sizeof(ss);
		memset(&ss, 0, sizeof(ss));
		if (getsockname(evconnlistener_get_fd(srv->listeners[i].l),
		        (struct sockaddr *)&ss, &len) == -1)
			snprintf(shown, sizeof(shown), "?");
		else
			format_addr(&ss, shown, sizeof(shown));
		if (srv->listeners[i].smtp) {
			n = snprintf(smtp + sused, sizeof(smtp) - sused,
			    "%s%s/%s", sused > 0 ? "," : "",
			    smtp_kind_name(
			        (enum smtp_kind)(srv->listeners[i].smtp - 1)),
			    shown);
			if (n > 0 && (size_t)n < sizeof(smtp) - sused)
				sused += (size_t)n;
			continue;
		}
		n = snprintf(addrs + used, sizeof(addrs) - used, "%s%s%s",
		    used > 0 ? "," : "", srv->listeners[i].tls ? "tls:" : "",
		    shown);
		if (n > 0 && (size_t)n < sizeof(addrs) - used)
			used += (size_t)n;
	}
	if (realpath(srv->cfg->data_dir, dir) == NULL)
		snprintf(dir, sizeof(dir), "%s", srv->cfg->data_dir);
	log_info("glomaild %s started listen=%s data-dir=%s domain=%s%s%s",
	    GLOMAIL_VERSION, addrs, dir, srv->cfg->domain,
	    sused > 0 ? " smtp=" : "", smtp);
}

/* The next listener's slot: its address is the listener's callback arg. */
static struct server_listener *
listener_slot(struct server *srv, int tls)
{
	struct server_listener *sl;

	if (srv->nlisteners == SERVER_LISTENERS_MAX) {
		log_error("more than %d listening sockets",
		    SERVER_LISTENERS_MAX);
		return NULL;
	}
	sl = &srv->listeners[srv->nlisteners];
	sl->srv = srv;
	sl->tls = tls;
	sl->smtp = 0;
	return sl;
}

/* Keep a new listener, whichever way it came: serve it and log it. */
static void
listener_add(struct server *srv, struct server_listener *sl,
    struct evconnlistener *l)
{
	evconnlistener_set_error_cb(l, accept_error_cb);
	sl->l = l;
	srv->nlisteners++;
	log_listening(l, sl->tls, sl->smtp);
}

/*
 * The TLS context, built once when the first TLS listener comes: a missing
 * or broken certificate stops the start-up.
 */
static int
tls_setup(struct server *srv)
{
	char err[512], *cert = NULL, *key = NULL;

	if (srv->tls != NULL)
		return 0;
	if (tls_paths(srv->cfg->tls_cert, srv->cfg->tls_key, &cert, &key, err,
	        sizeof(err)) == 0)
		srv->tls = tls_new(cert, key,
		    (enum tls_profile)srv->cfg->tls_profile, err, sizeof(err));
	free(cert);
	free(key);
	if (srv->tls == NULL) {
		log_error("tls: %s", err);
		return -1;
	}
	return 0;
}

/*
 * Socket activation: the service manager bound the sockets of its .socket
 * unit and passed them from descriptor 3 on. The listen setting is not used
 * then, so one place (the unit) says where the server listens.
 */
static int
listen_passed(struct server *srv, int n, char **names)
{
	const unsigned flags = LEV_OPT_CLOSE_ON_FREE | LEV_OPT_CLOSE_ON_EXEC |
	                       LEV_OPT_DISABLED;
	struct server_listener *sl;
	struct evconnlistener *l;
	const char *name;
	int fd, tls, smtp;

	log_info("socket activation: %d socket%s from the service manager; "
	         "the listen settings are not used",
	    n, n == 1 ? "" : "s");
	for (fd = SERVICE_LISTEN_FDS_START; fd < SERVICE_LISTEN_FDS_START + n;
	     fd++) {
		/* FileDescriptorName=tls marks the TLS socket; smtp,
		 * submission and submissions the SMTP ones. */
		name = names != NULL ? names[fd - SERVICE_LISTEN_FDS_START]
		                     : "";
		smtp = strcmp(name, "smtp") == 0 ? 1 + SMTP_KIND_SMTP
		       : strcmp(name, "submission") == 0
		           ? 1 + SMTP_KIND_SUBMISSION
		       : strcmp(name, "submissions") == 0
		           ? 1 + SMTP_KIND_SUBMISSIONS
		           : 0;
		/* TLS from the first byte; submission needs it for STARTTLS. */
		tls = strcmp(name, "tls") == 0 ||
		      smtp == 1 + SMTP_KIND_SUBMISSIONS;
		if (service_is_stream_listener(fd) != 1) {
			log_error("socket activation: descriptor %d is not a "
			          "listening stream socket",
			    fd);
			return -1;
		}
		if (((tls || smtp == 1 + SMTP_KIND_SUBMISSION) &&
		        tls_setup(srv) == -1) ||
		    (sl = listener_slot(srv, tls)) == NULL)
			return -1;
		sl->smtp = smtp;
		/* Backlog 0: the socket listens already. */
		if (evutil_make_socket_nonblocking(fd) == -1 ||
		    (l = evconnlistener_new(srv->base, accept_cb, sl, flags, 0,
		         fd)) == NULL) {
			log_error("socket activation: descriptor %d: %s", fd,
			    strerror(errno));
			return -1;
		}
		listener_add(srv, sl, l);
	}
	set_accepting(srv, 1);
	log_started(srv);
	return 0;
}

/* Bind every address of one listen setting. */
static int
listen_bind(struct server *srv, const struct config_listen *addrs, int tls,
    int smtp)
{
	const unsigned flags = LEV_OPT_CLOSE_ON_FREE | LEV_OPT_REUSEABLE |
	                       LEV_OPT_CLOSE_ON_EXEC | LEV_OPT_DISABLED;
	struct server_listener *sl;
	struct sockaddr_storage ss;
	struct evconnlistener *l;
	static const char *const smtp_keys[] = { "smtp-listen",
		"submission-listen", "submissions-listen" };
	const char *what = smtp  ? smtp_keys[smtp - 1]
	                   : tls ? "tls-listen"
	                         : "listen";
	socklen_t len;
	size_t i;

	/* Submission's STARTTLS needs the context as much as TLS does. */
	if ((tls || smtp == 1 + SMTP_KIND_SUBMISSION) && addrs->n > 0 &&
	    tls_setup(srv) == -1)
		return -1;
	for (i = 0; i < addrs->n; i++) {
		memset(&ss, 0, sizeof(ss));
		if (parse_listen(addrs->addr[i], &ss, &len) == -1) {
			log_error("%s %s: not an address HOST:PORT", what,
			    addrs->addr[i]);
			return -1;
		}
		if ((sl = listener_slot(srv, tls)) == NULL)
			return -1;
		sl->smtp = smtp;
		l = evconnlistener_new_bind(srv->base, accept_cb, sl, flags,
		    SOMAXCONN, (struct sockaddr *)&ss, (int)len);
		if (l == NULL) {
			log_error("%s %s: %s", what, addrs->addr[i],
			    strerror(errno));
			return -1;
		}
		listener_add(srv, sl, l);
	}
	return 0;
}

int
server_listen(struct server *srv)
{
	char **names = NULL;
	int passed = service_listen_fds_named(&names), rc;

	if (passed == -1) {
		log_error("socket activation: malformed LISTEN_FDS");
		return -1;
	}
	if (passed > 0) {
		rc = listen_passed(srv, passed, names);
		service_names_free(names);
		return rc;
	}
	service_names_free(names);
	if (listen_bind(srv, &srv->cfg->listen, 0, 0) == -1 ||
	    listen_bind(srv, &srv->cfg->tls_listen, 1, 0) == -1 ||
	    listen_bind(srv, &srv->cfg->smtp_listen, 0, 1 + SMTP_KIND_SMTP) ==
	        -1 ||
	    listen_bind(srv, &srv->cfg->submission_listen, 0,
	        1 + SMTP_KIND_SUBMISSION) == -1 ||
	    listen_bind(srv, &srv->cfg->submissions_listen, 1,
	        1 + SMTP_KIND_SUBMISSIONS) == -1)
		return -1;
	set_accepting(srv, 1);
	log_started(srv);
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
	server_close_all(srv, 1);
	/* Logins waiting out a penalty find their connections closed. */
	penalty_free(srv->penalty);
	/* Pools finish their jobs; done callbacks see closed connections. */
	pool_free(srv->auth_pool);
	pool_free(srv->store_pool);
	for (i = 0; i < srv->nlisteners; i++)
		evconnlistener_free(srv->listeners[i].l);
	for (i = 0; i < sizeof(srv->signals) / sizeof(srv->signals[0]); i++)
		if (srv->signals[i] != NULL)
			event_free(srv->signals[i]);
	if (srv->accept_retry != NULL)
		event_free(srv->accept_retry);
	if (srv->accept_resume != NULL)
		event_free(srv->accept_resume);
	if (srv->accept_guard != NULL)
		event_free(srv->accept_guard);
	if (srv->drain_timer != NULL)
		event_free(srv->drain_timer);
	if (srv->status_timer != NULL)
		event_free(srv->status_timer);
	mailboxes_free(srv->mailboxes);
	notify_free(srv->notify); /* after the mailboxes' watches */
	aliases_free(srv->aliases);
	conn_env_free(srv->conn_env);
	tls_sched_free(srv->handshakes);
	tls_free(srv->tls);
	if (srv->base != NULL)
		event_base_free(srv->base);
	if (srv->lock_fd != -1)
		close(srv->lock_fd);
	if (srv->data_fd != -1)
		close(srv->data_fd);
	free(srv);
}

/* What glomailctl status shows and does, for the control handlers. */
unsigned
server_nconns(const struct server *srv)
{
	return srv->nconns;
}

unsigned long long
server_delivered(const struct server *srv)
{
	return srv->delivered;
}

void
server_count_login(struct server *srv, int ok)
{
	if (ok)
		srv->logins++;
	else
		srv->logins_failed++;
}

void
server_logins(const struct server *srv, unsigned long long *ok_r,
    unsigned long long *failed_r)
{
	*ok_r = srv->logins;
	*failed_r = srv->logins_failed;
}

int
server_stopping(const struct server *srv)
{
	return srv->stopping;
}

size_t
server_nlisteners(const struct server *srv)
{
	return srv->nlisteners;
}

int
server_listener_fd(const struct server *srv, size_t i)
{
	return i < srv->nlisteners
	           ? (int)evconnlistener_get_fd(srv->listeners[i].l)
	           : -1;
}

unsigned
server_logged_in(const struct server *srv)
{
	const struct server_client *sc;
	unsigned n = 0;

	/* An SMTP session has no conn: it is never logged in here. */
	TAILQ_FOREACH (sc, &srv->clients, entry)
		if (sc->conn != NULL &&
		    session_logged_in(conn_session(sc->conn)))
			n++;
	return n;
}

void
server_conn_states(const struct server *srv, struct server_conn_states *st)
{
	const struct server_client *sc;

	memset(st, 0, sizeof(*st));
	TAILQ_FOREACH (sc, &srv->clients, entry) {
		if (sc->conn == NULL)
			st->smtp++;
		else if (conn_handshaking(sc->conn))
			st->handshake++;
		else if (session_logged_in(conn_session(sc->conn)))
			st->authenticated++;
		else
			st->unauthenticated++;
	}
}

unsigned
server_close_user(struct server *srv, const char *user, const char *reason)
{
	struct server_client *sc, *next;
	unsigned n = 0;

	for (sc = TAILQ_FIRST(&srv->clients); sc != NULL; sc = next) {
		next = TAILQ_NEXT(sc, entry);
		if (sc->conn != NULL &&
		    strcmp(conn_session(sc->conn)->user, user) == 0) {
			conn_close(sc->conn, reason);
			n++;
		}
	}
	return n;
}
