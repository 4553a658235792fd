/*
 * rules.c - user names, passwords, addresses and dates.
 */
#include <stdio.h>
#include <string.h>
#include <strings.h>

#include "rules.h"

#define STR(x) STR1(x)
#define STR1(x) #x

static int
username_char(unsigned char c)
{
	return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') ||
	       (c >= '0' && c <= '9') || c == '_' || c == '.' || c == '-';
}

int
rules_username(const char *name, char lower_r[RULES_USERNAME_MAX + 1],
    const char **why_r)
{
	size_t i, len = strlen(name);

	if (len == 0) {
		*why_r = "user name is empty";
		return -1;
	}
	if (len > RULES_USERNAME_MAX) {
		*why_r = "user name is longer than 64 characters";
		return -1;
	}
	for (i = 0; i < len; i++) {
		if (!username_char((unsigned char)name[i])) {
			*why_r =
			    "user name may hold only letters, digits, '_', '.' and '-'";
			return -1;
		}
		lower_r[i] = (char)((name[i] >= 'A' && name[i] <= 'Z')
		                        ? name[i] - 'A' + 'a'
		                        : name[i]);
	}
	lower_r[len] = '\0';
	/* ".", ".." and hidden names would escape or hide in the data folder.
	 */
	if (name[0] == '.') {
		*why_r = "user name may not start with '.'";
		return -1;
	}
	if (strcasecmp(name, RULES_LOST_DIR) == 0) {
		*why_r = "user name is reserved";
		return -1;
	}
	return 0;
}

/* Length in code points of valid UTF-8, or -1. */
static long
utf8_length(const unsigned char *s)
{
	long n = 0;
	unsigned cp, min;
	int more;

	while (*s != '\0') {
		if (*s < 0x80) {
			s++;
			n++;
			continue;
		}
		if ((*s & 0xe0) == 0xc0) {
			cp = *s & 0x1f;
			more = 1;
			min = 0x80;
		} else if ((*s & 0xf0) == 0xe0) {
			cp = *s & 0x0f;
			more = 2;
			min = 0x800;
		} else if ((*s & 0xf8) == 0xf0) {
			cp = *s & 0x07;
			more = 3;
			min = 0x10000;
		} else {
			return -1;
		}
		s++;
		for (; more > 0; more--, s++) {
			if ((*s & 0xc0) != 0x80)
				return -1;
			cp = cp << 6 | (*s & 0x3f);
		}
		/* Overlong forms hide one character as another: refused. */
		if (cp < min || cp > 0x10ffff || (cp >= 0xd800 && cp <= 0xdfff))
			return -1;
		n++;
	}
	return n;
}

int
rules_password(const char *password, const char **why_r)
{
	int digit = 0, lower = 0, upper = 0;
	const char *p;
	long n;

	if (strlen(password) > RULES_PASSWORD_MAX) {
		*why_r = "password is longer than 1024 bytes";
		return -1;
	}
	if ((n = utf8_length((const unsigned char *)password)) < 0) {
		*why_r = "password is not valid UTF-8";
		return -1;
	}
	for (p = password; *p != '\0'; p++) {
		digit |= *p >= '0' && *p <= '9';
		lower |= *p >= 'a' && *p <= 'z';
		upper |= *p >= 'A' && *p <= 'Z';
	}
	if (n < RULES_PASSWORD_MIN || !digit || !lower || !upper) {
		*why_r = "password must have at least 10 characters, a digit, "
		         "a lower-case and an upper-case letter";
		return -1;
	}
	return 0;
}

enum rules_addr
rules_address(const char *addr, const char *domain,
    char user_r[RULES_USERNAME_MAX + 1], const char **why_r)
{
	const char *at = strchr(addr, '@'), *d;
	char local[RULES_USERNAME_MAX + 1];
	size_t llen;

	if (rules_header_safe(addr) == -1 || at == NULL ||
	    strchr(at + 1, '@') != NULL || at == addr || at[1] == '\0') {
		*why_r = "invalid address";
		return RULES_ADDR_INVALID;
	}
	for (d = at + 1; *d != '\0'; d++) {
		if (*d == ' ' || *d == '\t' || *d == '/' || *d == '\\') {
			*why_r = "invalid address";
			return RULES_ADDR_INVALID;
		}
	}
	if (strcasecmp(at + 1, domain) != 0) {
		*why_r = "address is outside the local domain";
		return RULES_ADDR_EXTERNAL;
	}
	llen = (size_t)(at - addr);
	if (llen > RULES_USERNAME_MAX) {
		*why_r = "invalid address";
		return RULES_ADDR_INVALID;
	}
	memcpy(local, addr, llen);
	local[llen] = '\0';
	if (rules_username(local, user_r, why_r) == -1) {
		*why_r = "invalid address";
		return RULES_ADDR_INVALID;
	}
	return RULES_ADDR_LOCAL;
}

int
rules_header_safe(const char *s)
{
	const unsigned char *p = (const unsigned char *)s;

	/* A stray 0x9b byte is CSI to an 8-bit terminal: invalid UTF-8 goes. */
	if (utf8_length(p) < 0)
		return -1;
	for (; *p != '\0'; p++) {
		if (*p < 0x20 || *p == 0x7f)
			return -1;
		/* U+0080..U+009F are 0xc2 0x80..0x9f in UTF-8. */
		if (*p == 0xc2 && p[1] >= 0x80 && p[1] <= 0x9f)
			return -1;
	}
	return 0;
}

int
rules_subject(const char *subject, const char **why_r)
{
	if (strlen(subject) > RULES_SUBJECT_MAX) {
		*why_r = "subject is longer than " STR(
		    RULES_SUBJECT_MAX) " bytes";
		return -1;
	}
	if (rules_header_safe(subject) == -1) {
		*why_r = "subject may not contain line breaks or control "
		         "characters";
		return -1;
	}
	return 0;
}

size_t
rules_date(time_t t, char buf[RULES_DATE_LEN])
{
	static const char days[7][4] = { "Sun", "Mon", "Tue", "Wed", "Thu",
		"Fri", "Sat" };
	static const char months[12][4] = { "Jan", "Feb", "Mar", "Apr", "May",
		"Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec" };
	struct tm tm;
	int n;

	/* Spelled out rather than strftime so no locale can change it. */
	if (gmtime_r(&t, &tm) == NULL) {
		buf[0] = '\0';
		return 0;
	}
	n = snprintf(buf, RULES_DATE_LEN,
	    "%s, %02d %s %04d %02d:%02d:%02d +0000", days[tm.tm_wday],
	    tm.tm_mday, months[tm.tm_mon], tm.tm_year + 1900, tm.tm_hour,
	    tm.tm_min, tm.tm_sec);
	return n > 0 && n < RULES_DATE_LEN ? (size_t)n : 0;
}
