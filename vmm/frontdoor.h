/* frontdoor.h - spawn's HTTP and TCP front doors: listening sockets, clients, requests into the control path. */
#ifndef KVMLITE_FRONTDOOR_H
#define KVMLITE_FRONTDOOR_H

#include <sys/socket.h>

#include "types.h"

struct spawn;

#define FRONT_IDLE_NS	30000000000ull /* an HTTP client with nothing asked, or a TCP one that named no guest */
#define FRONT_LINGER_NS 2000000000ull  /* after the last answer: the client's unread bytes are drained this long */
#define FRONT_SWEEP_NS	1000000000ull  /* how often idle clients are looked for, while there are any */

/*
 * "ADDR:PORT", "[ADDR6]:PORT" or "PORT" (on 127.0.0.1): numeric addresses
 * only (no name is looked up). PORT 0 asks the kernel for a free one.
 * Returns 0, or -1 with the reason in err.
 */
int frontdoor_addr_parse(const char *s, struct sockaddr_storage *ss, socklen_t *len, char *err, size_t errlen);

/*
 * Makes the listening sockets --http, --tcp and --tcp-per-guest ask for
 * (before the workers are forked and the sandbox is entered: the
 * supervisor's filter allows no socket(), bind() or listen() later) and
 * says where they listen. 0, or -1 with err.
 */
int frontdoor_open(struct spawn *sv, char *err, size_t errlen);
/* The listening sockets: closed (in a worker, which has no use for them; at the end). */
void frontdoor_close(struct spawn *sv);
/* Everything the front doors still hold, connections' state included. */
void frontdoor_free(struct spawn *sv);
/* Starts accepting on every listening socket. */
void frontdoor_arm(struct spawn *sv);
/* A completion of the front doors' own kinds (K_FRONT_*): accepts, pauses, the idle sweep, retries. */
void frontdoor_handle(struct spawn *sv, u64 ud, int res);

#endif
