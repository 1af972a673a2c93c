/* frontdoor.h - spawn's HTTP and TCP front doors: listening sockets, clients, requests into the control path. */
#ifndef KVMLITE_FRONTDOOR_H
#define KVMLITE_FRONTDOOR_H

#include <sys/socket.h>

#include "types.h"

struct spawn;
struct conn;

#define FRONT_IDLE_NS	30000000000ull /* an HTTP client with nothing asked, or a TCP one that named no guest */
#define FRONT_LINGER_NS 2000000000ull  /* after the last answer: the client's unread bytes are drained this long */
#define FRONT_SWEEP_NS	1000000000ull  /* how often idle clients are looked for, while there are any */
#define FRONT_RETRY_NS	20000000       /* a TCP client's input offered again after "input full" */
#define FRONT_CHUNK	128	       /* TCP bytes per `send`: half a guest's input queue */

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

/* Hooks from control.c, for a connection with c->front set: */
/* what the client sent, and the answer of the request path, are turned into the door's protocol */
void frontdoor_process(struct spawn *sv, struct conn *c);
/* the request path answers: kept for frontdoor_process while a request is out (true), else not taken */
bool frontdoor_capture(struct spawn *sv, struct conn *c, const char *s, size_t n);
/* a watched guest wrote DATA (escaped): its bytes to a TCP client */
void frontdoor_output(struct spawn *sv, struct conn *c, const char *data);
/* everything queued was sent */
void frontdoor_flushed(struct spawn *sv, struct conn *c);
/* the connection closes: its state is given back */
void frontdoor_conn_free(struct spawn *sv, struct conn *c);

#endif
