/*
 * access.c - the plaintext-auth and registration policies.
 */
#include <netinet/in.h>

#include <string.h>

#include "access.h"

int
access_is_loopback(const struct sockaddr *sa)
{
	const struct sockaddr_in6 *s6;
	const unsigned char *b;

	if (sa == NULL)
		return 0;
	switch (sa->sa_family) {
	case AF_UNIX:
		return 1;
	case AF_INET:
		return (ntohl(((const struct sockaddr_in *)(const void *)sa)
		                  ->sin_addr.s_addr) >>
		           24) == 127;
	case AF_INET6:
		s6 = (const struct sockaddr_in6 *)(const void *)sa;
		if (IN6_IS_ADDR_LOOPBACK(&s6->sin6_addr))
			return 1;
		b = s6->sin6_addr.s6_addr;
		return IN6_IS_ADDR_V4MAPPED(&s6->sin6_addr) && b[12] == 127;
	default:
		return 0;
	}
}

int
access_password(const struct config *cfg, int tls, const struct sockaddr *peer,
    const char **why_r)
{
	if (tls)
		return 0;
	switch (cfg->plaintext_auth) {
	case CONFIG_PLAINTEXT_ALWAYS:
		return 0;
	case CONFIG_PLAINTEXT_LOOPBACK:
		if (access_is_loopback(peer))
			return 0;
		break;
	default:
		break;
	}
	*why_r = "passwords are not accepted without encryption here: use TLS";
	return -1;
}

int
access_register(const struct config *cfg, const struct sockaddr *peer,
    const char **why_r)
{
	switch (cfg->registration) {
	case CONFIG_REGISTRATION_OPEN:
		return 0;
	case CONFIG_REGISTRATION_LOOPBACK:
		if (access_is_loopback(peer))
			return 0;
		*why_r = "registration is only open from the server's host";
		return -1;
	default:
		*why_r = "registration is closed: ask the administrator for an "
		         "account";
		return -1;
	}
}
