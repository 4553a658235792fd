/*
 * units.c - human-readable sizes.
 *
 * Integer arithmetic only: the decimal point stays a '.', whatever the
 * locale says, as in the original's "2.1 Mo".
 */
#include <stdio.h>

#include "i18n.h"
#include "units.h"

void
units_bytes(long long bytes, char buf[UNITS_LEN])
{
	snprintf(buf, UNITS_LEN,
	    ngettext("%lld byte", "%lld bytes", (unsigned long)bytes), bytes);
}

void
units_format(long long bytes, char buf[UNITS_LEN])
{
	/* Decimal units: "MB" is 10^6 bytes, as the unit name says. */
	static const char *const fmt[] = { N_("kB"), N_("MB"), N_("GB"),
		N_("TB"), N_("PB"), N_("EB") };
	long long unit = 1000, whole, tenths;
	size_t i = 0;

	if (bytes < 1000) {
		units_bytes(bytes, buf);
		return;
	}
	while (i + 1 < sizeof(fmt) / sizeof(fmt[0]) && bytes / unit >= 1000) {
		unit *= 1000;
		i++;
	}
	whole = bytes / unit;
	/* bytes % unit < unit <= 10^18, so times 10 fits in unsigned. */
	tenths = (long long)(((unsigned long long)(bytes % unit) * 10 +
	                         (unsigned long long)unit / 2) /
	                     (unsigned long long)unit);
	if (tenths == 10) {
		whole++;
		tenths = 0;
	}
	/* 999.96 kB rounds to 1000.0 kB: say 1.0 MB instead. */
	if (whole == 1000 && i + 1 < sizeof(fmt) / sizeof(fmt[0])) {
		whole = 1;
		tenths = 0;
		i++;
	}
	snprintf(buf, UNITS_LEN, "%lld.%lld %s", whole, tenths, _(fmt[i]));
}
