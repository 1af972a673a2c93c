/* gateway.h - the front doors' clients: HTTP requests and TCP bytes turned into control requests, answers into
 * responses. */
#ifndef KVMLITE_GATEWAY_H
#define KVMLITE_GATEWAY_H

#include "http.h"
#include "supervisor.h"

#define FRONT_RETRY_NS 20000000 /* a TCP client's input offered again after "input full" */
#define FRONT_CHUNK    128	/* TCP bytes per `send`: half a guest's input queue */

enum { DOOR_HTTP = 1, DOOR_TCP };
#define NO_GUEST UINT32_MAX

/* One front-door client, beside its struct conn (c->front). */
struct front {
	u8 door;
	bool asked;		    /* a request is out on the request path: its answer goes to ans */
	bool draining;		    /* the last answer is queued: what the client sends now is read and thrown away */
	bool shut;		    /* and its writing side is shut down (a FIN after the answer) */
	bool paused;		    /* TCP: the guest's input queue was full; offered again after FRONT_RETRY_NS */
	bool watching;		    /* TCP: the watch was answered: bytes flow both ways */
	bool head_only, keep_alive; /* HTTP: the request being answered */
	u8 route;		    /* HTTP: its enum http_route_kind */
	u32 guest;		    /* the guest: HTTP's route, TCP's once named */
	size_t sent;		    /* TCP: client bytes in the `send` that is out */
	u64 active;		    /* when it was made or last answered: for the idle sweep (frontdoor.c) */
	size_t held;		    /* what this struct counts in sv->out_held */
	u32 *clients;		    /* the count of the doors' clients it is in (frontdoor.c) */
	struct outbuf ans;	    /* the request path's answer line */
	struct http_parser http[];  /* HTTP only */
};

/*
 * Makes the new connection c a client of door (DOOR_HTTP or DOOR_TCP;
 * guest: its --tcp-per-guest port's, else NO_GUEST), counted in *clients
 * while it lasts; a TCP client on its guest's port is watching it from
 * now. False when out of memory.
 */
bool gateway_attach(struct spawn *sv, struct conn *c, u8 door, u32 guest, u32 *clients);
/* A TCP client's input offered to its guest again (K_FRONT_RETRY). */
void gateway_retry(struct spawn *sv, struct conn *c);

#endif
