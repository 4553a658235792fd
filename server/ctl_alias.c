/*
 * ctl_alias.c - the aliases table in force: what deliveries expand names
 * with now, which is the file as last read (at start, SIGHUP or reload),
 * and the two names that always exist.
 */
#include "aliases.h"
#include "config.h"
#include "ctl.h"
#include "server.h"

void
ctl_do_alias_list(struct ctl_conn *cc, json_t *payload)
{
	const struct aliases *al = server_aliases(ctl_server(cc));
	const aliases_name *members;
	json_t *list = json_array(), *m, *out;
	const char *name;
	size_t i, k, n;

	(void)payload;
	for (i = 0; list != NULL &&
	            (name = aliases_entry(al, i, &members, &n)) != NULL;
	     i++) {
		if ((m = json_array()) == NULL)
			goto fail;
		for (k = 0; k < n; k++)
			json_array_append_new(m, json_string(members[k]));
		if (json_array_append_new(list, json_pack("{s:s, s:o}", "name",
		                                    name, "members", m)) == -1)
			goto fail;
	}
	out = json_pack("{s:o, s:s}", "aliases", list, "postmaster",
	    server_cfg(ctl_server(cc))->postmaster);
	if (out == NULL) {
		ctl_reply_error(cc, "server error");
		return;
	}
	ctl_reply(cc, out);
	return;
fail:
	json_decref(list);
	ctl_reply_error(cc, "server error");
}
