/*
 * access.h - who may do what from where: the plaintext-auth and
 * registration policies, decided from the peer's address and whether the
 * connection is under TLS. The listeners and the handlers ask these
 * functions, and so do the tests, with addresses of their own making.
 */
#ifndef GLOMAILD_ACCESS_H
#define GLOMAILD_ACCESS_H

#include <sys/socket.h>

#include "config.h"

/* 1 for 127.0.0.0/8, ::1, ::ffff:127.0.0.0/104 and Unix sockets. */
int access_is_loopback(const struct sockaddr *sa);

/*
 * May a password (register, login, password change) cross this connection?
 * 0, or -1 with the peer's error in *why_r ("use TLS").
 */
int access_password(const struct config *cfg, int tls,
    const struct sockaddr *peer, const char **why_r);

/* May this peer create an account? 0, or -1 with the error in *why_r. */
int access_register(const struct config *cfg, const struct sockaddr *peer,
    const char **why_r);

#endif
