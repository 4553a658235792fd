/*
 * units.h - mailbox sizes in human units, the way the original shows them
 * ("2.1 Mo" in French, "2.1 MB" in English).
 */
#ifndef GLOMAIL_UNITS_H
#define GLOMAIL_UNITS_H

#include <stddef.h>

#define UNITS_LEN 64

/*
 * Write bytes in decimal units (1 kB = 1000 bytes) with one decimal,
 * e.g. "2.1 MB"; under 1000, the plain count ("512 bytes"). Translated.
 */
void units_format(long long bytes, char buf[UNITS_LEN]);

/* "<n> bytes", translated, with the right plural. */
void units_bytes(long long bytes, char buf[UNITS_LEN]);

#endif
