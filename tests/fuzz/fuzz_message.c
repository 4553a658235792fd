/*
 * fuzz_message.c - libFuzzer target for the store's message files: the
 * input is a file as any program may leave it in a Maildir. Whatever it
 * holds, every header field parsed from it is valid UTF-8 without a control
 * character (C0, DEL, C1) and at most RULES_SUBJECT_MAX bytes, and the body
 * is valid UTF-8. The input's first line, taken as a subject, must also
 * come back exactly through message_build when the send rules accept it.
 */
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <sodium.h>

#include "message.h"
#include "rules.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

/* Valid UTF-8 and, for a header field, no control character. */
static void
check_text(const char *s, int header)
{
	const unsigned char *p = (const unsigned char *)s;
	size_t k, j;
	unsigned cp;

	if (header && strlen(s) > RULES_SUBJECT_MAX)
		abort();
	while (*p != '\0') {
		if (*p < 0x80) {
			if (header && (*p < 0x20 || *p == 0x7f))
				abort();
			p++;
			continue;
		}
		k = *p >= 0xf0 ? 4 : *p >= 0xe0 ? 3 : *p >= 0xc0 ? 2 : 0;
		if (k == 0 || *p > 0xf4)
			abort();
		cp = *p & (0x7f >> k);
		for (j = 1; j < k; j++) {
			if ((p[j] & 0xc0) != 0x80)
				abort();
			cp = cp << 6 | (p[j] & 0x3f);
		}
		if (cp < (k == 2      ? 0x80u
		             : k == 3 ? 0x800u
		                      : 0x10000u) ||
		    cp > 0x10ffff || (cp >= 0xd800 && cp <= 0xdfff) ||
		    (header && cp <= 0x9f))
			abort();
		p += k;
	}
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct message_info info;
	const char *why, *nl;
	char *subject, *file;
	size_t len;

	if (sodium_init() == -1)
		abort();
	if (message_parse((const char *)data, size, 1, &info) == 0) {
		check_text(info.from, 1);
		check_text(info.to, 1);
		check_text(info.subject, 1);
		check_text(info.date, 1);
		check_text(info.body, 0);
		message_info_clear(&info);
	}
	/* Round trip of the first line as a subject. */
	nl = memchr(data, '\n', size);
	len = nl != NULL ? (size_t)(nl - (const char *)data) : size;
	if ((subject = strndup((const char *)data, len)) == NULL)
		return 0;
	if (strlen(subject) == len && rules_subject(subject, &why) == 0 &&
	    (file = message_build("a@glo2000.ca", "b@glo2000.ca", subject, "D",
	         "<id@glo2000.ca>", "", &len)) != NULL) {
		if (message_parse(file, len, 0, &info) != 0 ||
		    strcmp(info.subject, subject) != 0)
			abort();
		message_info_clear(&info);
		free(file);
	}
	free(subject);
	return 0;
}
