/*
 * i18n.h - the client's translations: gettext with the "glomail" text
 * domain, and the server's stable messages that the catalogue knows.
 */
#ifndef GLOMAIL_I18N_H
#define GLOMAIL_I18N_H

#include <libintl.h>

#define _(s) gettext(s)
#define N_(s) (s)

/*
 * Take the locale from the environment and find the catalogue: the
 * directory in GLOMAIL_LOCALEDIR, else the one beside the executable
 * (bin/../share/locale, also the build tree's layout), else the configured
 * install directory.
 */
void i18n_init(void);

/*
 * The translation of a message the server sent, when it is one of the
 * stable sentences glomaild and the shared rules use; other text (a seed
 * server's own wording) is returned unchanged.
 */
const char *i18n_server_text(const char *text);

#endif
