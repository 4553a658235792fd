/*
 * tlsbridge.h - a plaintext-to-TLS relay for the tests: it listens on a
 * loopback port and carries each connection to glomaild's TLS listener over
 * a verified TLS session. Running a suite written for plaintext through it
 * runs every flow over the server's TLS code (the handshake, TLS reads and
 * writes, close_notify), unchanged.
 */
#ifndef GLOMAIL_TLSBRIDGE_H
#define GLOMAIL_TLSBRIDGE_H

struct tlsbridge;

/*
 * Listen on 127.0.0.1 (a free port, written to port_r) and relay to
 * 127.0.0.1:target, trusting cafile. NULL on failure.
 */
struct tlsbridge *tlsbridge_start(const char *target, const char *cafile,
    char *port_r, size_t portlen);

/* The server moved (a restart): relay new connections there. */
void tlsbridge_retarget(struct tlsbridge *b, const char *target);

/* Stop accepting and relaying; open relays are cut. */
void tlsbridge_stop(struct tlsbridge *b);

#endif
