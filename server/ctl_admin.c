/*
 * ctl_admin.c - the server as a whole: status, reload and the log level.
 */
#include <sys/socket.h>

#include <arpa/inet.h>
#include <netinet/in.h>
#include <stdio.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "ctl.h"
#include "deliverylog.h"
#include "log.h"
#include "pool.h"
#include "server.h"

/* Resident memory in bytes, from /proc; -1 when unknown. */
static long long
resident_bytes(void)
{
	unsigned long long size, rss;
	long page = sysconf(_SC_PAGESIZE);
	FILE *f = fopen("/proc/self/statm", "r");
	int n;

	if (f == NULL)
		return -1;
	n = fscanf(f, "%llu %llu", &size, &rss);
	fclose(f);
	return n == 2 && page > 0 ? (long long)(rss * (unsigned long long)page)
	                          : -1;
}

/* "127.0.0.1:9672" or "[::1]:9672": where a listener is bound. */
static json_t *
bound_address(int fd)
{
	struct sockaddr_storage ss;
	socklen_t len = sizeof(ss);
	char host[INET6_ADDRSTRLEN] = "?", buf[INET6_ADDRSTRLEN + 10];
	int port = 0;

	memset(&ss, 0, sizeof(ss));
	if (getsockname(fd, (struct sockaddr *)&ss, &len) == -1)
		return json_string("?");
	if (ss.ss_family == AF_INET6) {
		const struct sockaddr_in6 *a = (const struct sockaddr_in6 *)&ss;

		inet_ntop(AF_INET6, &a->sin6_addr, host, sizeof(host));
		port = ntohs(a->sin6_port);
		snprintf(buf, sizeof(buf), "[%s]:%d", host, port);
	} else if (ss.ss_family == AF_INET) {
		const struct sockaddr_in *a = (const struct sockaddr_in *)&ss;

		inet_ntop(AF_INET, &a->sin_addr, host, sizeof(host));
		port = ntohs(a->sin_port);
		snprintf(buf, sizeof(buf), "%s:%d", host, port);
	} else {
		snprintf(buf, sizeof(buf), "local");
	}
	return json_string(buf);
}

void
ctl_do_status(struct ctl_conn *cc, json_t *payload)
{
	struct server *srv = ctl_server(cc);
	const struct config *cfg = server_cfg(srv);
	time_t now = time(NULL), started = ctl_started(ctl_of(cc));
	json_t *listen = json_array(), *out;
	struct server_conn_states st;
	unsigned long long ok, refused, dl[3];
	size_t i;

	(void)payload;
	for (i = 0; i < server_nlisteners(srv); i++)
		json_array_append_new(listen,
		    bound_address(server_listener_fd(srv, i)));
	out = json_pack(
	    "{s:s, s:I, s:I, s:s, s:s, s:o, s:I, s:I, s:I, s:I, s:I,"
	    " s:{s:I, s:I}, s:{s:I, s:I}, s:s, s:b}",
	    "version", GLOMAIL_VERSION, "pid", (json_int_t)getpid(), "uptime",
	    (json_int_t)(now - started), "data_dir", cfg->data_dir,
	    "control_socket", ctl_path(ctl_of(cc)), "listen", listen,
	    "connections", (json_int_t)server_nconns(srv), "logged_in",
	    (json_int_t)server_logged_in(srv), "max_connections",
	    (json_int_t)cfg->max_connections, "control_connections",
	    (json_int_t)ctl_nconns(ctl_of(cc)), "delivered",
	    (json_int_t)server_delivered(srv), "pools", "auth",
	    (json_int_t)pool_pending(server_auth_pool(srv)), "store",
	    (json_int_t)pool_pending(server_store_pool(srv)), "memory",
	    "resident", (json_int_t)resident_bytes(), "max",
	    (json_int_t)cfg->max_memory, "log_level",
	    log_level_name(log_get_level()), "stopping", server_stopping(srv));
	if (out == NULL) {
		ctl_reply_error(cc, "server error");
		return;
	}
	server_conn_states(srv, &st);
	server_logins(srv, &ok, &refused);
	deliverylog_totals(dl);
	if (json_object_set_new(out, "states",
	        json_pack("{s:I, s:I, s:I, s:I}", "handshake",
	            (json_int_t)st.handshake, "unauthenticated",
	            (json_int_t)st.unauthenticated, "authenticated",
	            (json_int_t)st.authenticated, "smtp",
	            (json_int_t)st.smtp)) == -1 ||
	    json_object_set_new(out, "logins",
	        json_pack("{s:I, s:I}", "ok", (json_int_t)ok, "failed",
	            (json_int_t)refused)) == -1 ||
	    json_object_set_new(out, "deliveries",
	        json_pack("{s:I, s:I, s:I}", "delivered", (json_int_t)dl[0],
	            "undeliverable", (json_int_t)dl[1], "failed",
	            (json_int_t)dl[2])) == -1) {
		json_decref(out);
		ctl_reply_error(cc, "server error");
		return;
	}
	ctl_reply(cc, out);
}

void
ctl_do_reload(struct ctl_conn *cc, json_t *payload)
{
	(void)payload;
	ctl_log_change(cc, "reload");
	if (server_reload(ctl_server(cc)) == -1) {
		ctl_reply_error(cc,
		    "the settings could not be read; the "
		    "running ones are kept (see the server's log)");
		return;
	}
	ctl_reply(cc, NULL);
}

void
ctl_do_log_level(struct ctl_conn *cc, json_t *payload)
{
	enum log_level level;
	const char *name;

	if (ctl_arg_string(cc, payload, "level", 0, &name) == -1)
		return;
	if (log_level_parse(name, &level) == -1) {
		ctl_reply_error(cc, "log level must be error, warn, info or "
		                    "debug");
		return;
	}
	ctl_log_change(cc, "log-level %s -> %s",
	    log_level_name(log_get_level()), log_level_name(level));
	log_set_level(level);
	ctl_reply(cc, json_pack("{s:s}", "level", log_level_name(level)));
}
