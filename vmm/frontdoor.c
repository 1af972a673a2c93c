/* frontdoor.c - spawn's HTTP and TCP front doors: listening sockets, clients, requests into the control path. */
#define _GNU_SOURCE
#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include "cli.h"
#include "clock.h"
#include "control.h"
#include "frontdoor.h"
#include "gateway.h"
#include "link.h"

struct listener {
	int fd;
	u8 door;
	u32 guest; /* --tcp-per-guest: the guest its clients reach; else NO_GUEST */
	bool busy; /* an accept, or the pause after a failed one, is in flight */
	struct sockaddr_storage addr;
	socklen_t addr_len;
};

struct frontdoor {
	struct listener *ls;
	u32 nls;
	u32 clients;	 /* connections of the front doors now */
	bool sweep_busy; /* the idle sweep's timeout is in flight */
	struct __kernel_timespec sweep_ts;
};

/* ---- addresses and listening sockets ---- */

int frontdoor_addr_parse(const char *s, struct sockaddr_storage *ss, socklen_t *len, char *err, size_t errlen)
{
	const char *colon = strrchr(s, ':'), *port_s = colon ? colon + 1 : s;
	char host[64] = "127.0.0.1";
	size_t hlen = colon ? (size_t)(colon - s) : 0;
	u32 port;

	memset(ss, 0, sizeof(*ss));
	if (cli_u32("the port", port_s, 0, 65535, &port, err, errlen) < 0)
		return -1;
	if (colon) {
		if (hlen >= 2 && s[0] == '[' && s[hlen - 1] == ']') { /* [::1]:80 */
			s++;
			hlen -= 2;
		}
		if (hlen == 0 || hlen >= sizeof(host)) {
			snprintf(err, errlen, "'%.*s' is no address: give ADDR:PORT, e.g. 127.0.0.1:8080", (int)hlen,
				 s);
			return -1;
		}
		memcpy(host, s, hlen);
		host[hlen] = '\0';
	}
	struct sockaddr_in *in4 = (struct sockaddr_in *)ss;
	struct sockaddr_in6 *in6 = (struct sockaddr_in6 *)ss;

	if (inet_pton(AF_INET, host, &in4->sin_addr) == 1) {
		in4->sin_family = AF_INET;
		in4->sin_port = htons((u16)port);
		*len = sizeof(*in4);
	} else if (inet_pton(AF_INET6, host, &in6->sin6_addr) == 1) {
		in6->sin6_family = AF_INET6;
		in6->sin6_port = htons((u16)port);
		*len = sizeof(*in6);
	} else {
		snprintf(err, errlen, "'%s' is not a numeric IPv4 or [IPv6] address", host);
		return -1;
	}
	return 0;
}

static u16 addr_port(const struct sockaddr_storage *ss)
{
	return ntohs(ss->ss_family == AF_INET ? ((const struct sockaddr_in *)ss)->sin_port
					      : ((const struct sockaddr_in6 *)ss)->sin6_port);
}

static void addr_set_port(struct sockaddr_storage *ss, u16 port)
{
	if (ss->ss_family == AF_INET)
		((struct sockaddr_in *)ss)->sin_port = htons(port);
	else
		((struct sockaddr_in6 *)ss)->sin6_port = htons(port);
}

/* "127.0.0.1:8080" or "[::1]:8080" */
static void addr_text(const struct sockaddr_storage *ss, char *out, size_t cap)
{
	char host[INET6_ADDRSTRLEN] = "?";
	bool v6 = ss->ss_family == AF_INET6;

	inet_ntop(ss->ss_family,
		  v6 ? (const void *)&((const struct sockaddr_in6 *)ss)->sin6_addr
		     : (const void *)&((const struct sockaddr_in *)ss)->sin_addr,
		  host, sizeof(host));
	snprintf(out, cap, "%s%s%s:%u", v6 ? "[" : "", host, v6 ? "]" : "", addr_port(ss));
}

/*
 * A listening TCP socket. TCP_NODELAY is set here and inherited by every
 * accepted socket (Linux copies it at accept), so the supervisor, whose
 * filter allows no setsockopt, sends each answer at once: Nagle would
 * hold a keep-alive client's next answer for the previous one's ACK.
 */
static int listener_open(struct listener *l, const char *opt, char *err, size_t errlen)
{
	int one = 1, fd = socket(l->addr.ss_family, SOCK_STREAM | SOCK_CLOEXEC, 0);
	char text[80];

	addr_text(&l->addr, text, sizeof(text));
	if (fd < 0 || setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one)) < 0 ||
	    setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one)) < 0 ||
	    bind(fd, (struct sockaddr *)&l->addr, l->addr_len) < 0 || listen(fd, 4096) < 0 ||
	    getsockname(fd, (struct sockaddr *)&l->addr, &l->addr_len) < 0) {
		snprintf(err, errlen, "--%s %s: cannot listen: %s", opt, text, strerror(errno));
		if (fd >= 0)
			close(fd);
		return -1;
	}
	l->fd = fd;
	return 0;
}

/*
 * The supervisor's fds left for --tcp-per-guest's sockets: its limit,
 * less the client connections, its links to the shards and a reserve
 * for its ring, signalfd, spare fd and files.
 */
static u64 fd_budget(struct spawn *sv)
{
	struct rlimit rl;
	u64 used = MAX_CONNS + (u64)sv->procs * sv->threads + FD_RESERVE;

	if (getrlimit(RLIMIT_NOFILE, &rl) < 0)
		return 0;
	if (rl.rlim_cur == RLIM_INFINITY)
		return 1000000;
	return rl.rlim_cur > used ? rl.rlim_cur - used : 0;
}

/* How many --tcp-per-guest listeners there will be: one per guest from the first, within ports and fds. */
static u32 per_guest_count(struct spawn *sv, u16 base)
{
	u64 n = sv->o->count, budget = fd_budget(sv);

	if (n > 65536u - base)
		n = 65536u - base;
	if (n > budget)
		n = budget;
	return (u32)n;
}

static int listeners_plan(struct spawn *sv, struct frontdoor *fd, char *err, size_t errlen)
{
	const struct spawn_opts *o = sv->o;
	struct sockaddr_storage base;
	socklen_t base_len = 0;
	u32 n = (o->http != NULL) + (o->tcp != NULL), per = 0;

	if (o->tcp_per_guest) {
		if (frontdoor_addr_parse(o->tcp_per_guest, &base, &base_len, err, errlen) < 0)
			return -1;
		if (addr_port(&base) == 0) {
			snprintf(err, errlen, "--tcp-per-guest: the base port must not be 0");
			return -1;
		}
		per = per_guest_count(sv, addr_port(&base));
		if (per < o->count && !o->json)
			fprintf(stderr,
				"kvmlite: --tcp-per-guest: ports for the first %u guests only (%s allow no more)\n",
				per, 65536u - addr_port(&base) < o->count ? "port numbers" : "the supervisor's fds");
	}
	fd->ls = calloc(n + per ? n + per : 1, sizeof(*fd->ls));
	if (!fd->ls) {
		snprintf(err, errlen, "out of memory for %u listening sockets", n + per);
		return -1;
	}
	for (u32 i = 0; i < n + per; i++) {
		struct listener *l = &fd->ls[i];
		const char *s = i == 0 && o->http ? o->http : o->tcp;

		l->fd = -1;
		l->guest = NO_GUEST;
		l->door = i == 0 && o->http ? DOOR_HTTP : DOOR_TCP;
		if (i >= n) {
			l->addr = base;
			l->addr_len = base_len;
			addr_set_port(&l->addr, (u16)(addr_port(&base) + (i - n)));
			l->guest = o->first_id + (i - n);
		} else if (frontdoor_addr_parse(s, &l->addr, &l->addr_len, err, errlen) < 0) {
			return -1;
		}
	}
	fd->nls = n + per;
	return 0;
}

int frontdoor_open(struct spawn *sv, char *err, size_t errlen)
{
	const struct spawn_opts *o = sv->o;
	struct frontdoor *fd;
	struct rlimit rl;
	char text[80];

	if (!o->http && !o->tcp && !o->tcp_per_guest)
		return 0;
	/* clients of the front doors count against the same fds as the control socket's: its soft limit up to the
	 * hard one, as the workers do */
	if (getrlimit(RLIMIT_NOFILE, &rl) == 0 && rl.rlim_cur != rl.rlim_max) {
		rl.rlim_cur = rl.rlim_max;
		setrlimit(RLIMIT_NOFILE, &rl);
	}
	fd = calloc(1, sizeof(*fd));
	if (!fd) {
		snprintf(err, errlen, "out of memory");
		return -1;
	}
	sv->front = fd;
	fd->sweep_ts = clock_kernel_timespec(FRONT_SWEEP_NS);
	if (listeners_plan(sv, fd, err, errlen) < 0)
		return -1;
	for (u32 i = 0; i < fd->nls; i++) {
		struct listener *l = &fd->ls[i];

		if (listener_open(l,
				  l->guest != NO_GUEST	 ? "tcp-per-guest"
				  : l->door == DOOR_HTTP ? "http"
							 : "tcp",
				  err, errlen) < 0)
			return -1;
		addr_text(&l->addr, text, sizeof(text));
		/* a port the kernel chose is said even with --json: nothing else tells it */
		if (l->guest == NO_GUEST && (!o->json || addr_port(&l->addr) == 0))
			fprintf(stderr, "kvmlite: %s on %s\n", l->door == DOOR_HTTP ? "http" : "tcp", text);
	}
	if (o->tcp_per_guest && fd->nls > (u32)((o->http != NULL) + (o->tcp != NULL)) && !o->json) {
		struct listener *first = &fd->ls[(o->http != NULL) + (o->tcp != NULL)];

		addr_text(&first->addr, text, sizeof(text));
		fprintf(stderr, "kvmlite: tcp per guest: guest %u on %s, the next ones on the ports after it\n",
			first->guest, text);
	}
	return 0;
}

void frontdoor_close(struct spawn *sv)
{
	for (u32 i = 0; sv->front && i < sv->front->nls; i++)
		if (sv->front->ls[i].fd >= 0) {
			close(sv->front->ls[i].fd);
			sv->front->ls[i].fd = -1;
		}
}

void frontdoor_free(struct spawn *sv)
{
	if (!sv->front)
		return;
	frontdoor_close(sv);
	for (u32 i = 0; sv->conns && i < sv->nconns; i++)
		if (sv->conns[i].door)
			sv->conns[i].door->release(sv, &sv->conns[i]);
	free(sv->front->ls);
	free(sv->front);
	sv->front = NULL;
}

/* ---- accepting ---- */

static void listener_arm(struct spawn *sv, u32 i)
{
	struct listener *l = &sv->front->ls[i];
	struct io_uring_sqe *sqe;

	if (l->busy || l->fd < 0)
		return;
	sqe = link_sqe(sv);
	io_uring_prep_accept(sqe, l->fd, NULL, NULL, SOCK_CLOEXEC);
	io_uring_sqe_set_data64(sqe, UD(K_FRONT_ACCEPT, 0, i));
	l->busy = true;
}

void frontdoor_arm(struct spawn *sv)
{
	for (u32 i = 0; sv->front && i < sv->front->nls; i++)
		listener_arm(sv, i);
}

/* While front-door clients are connected, a timeout a second looks for idle ones (none: no wakeups). */
static void sweep_arm(struct spawn *sv)
{
	struct io_uring_sqe *sqe;

	if (sv->front->sweep_busy || !sv->front->clients)
		return;
	sqe = link_sqe(sv);
	io_uring_prep_timeout(sqe, &sv->front->sweep_ts, 0, 0);
	io_uring_sqe_set_data64(sqe, UD(K_FRONT_SWEEP, 0, 0));
	sv->front->sweep_busy = true;
}

/* Said to a client that is not served, before it is let go: overloaded (503). */
static void front_refuse(int fd, u8 door)
{
	static const char tcp[] = "error too many connections\n";
	char http[512];
	size_t n = http_error_write(http, sizeof(http), 503, false, false, time(NULL), "too many connections");

	if (door == DOOR_TCP)
		n = sizeof(tcp) - 1;
	if (send(fd, door == DOOR_TCP ? tcp : http, n, MSG_NOSIGNAL | MSG_DONTWAIT) < 0)
		(void)0;
}

/* A client accepted: a connection slot and its door's state, or a 503. */
static void front_new(struct spawn *sv, struct listener *l, int fd)
{
	struct conn *c = control_conn_new(sv, fd);

	if (!c || !gateway_attach(sv, c, l->door, l->guest, &sv->front->clients)) {
		front_refuse(fd, l->door);
		if (c)
			c->used = false; /* never armed: nothing of it is in flight */
		close(fd);
		return;
	}
	sweep_arm(sv);
	control_arm(sv, c);
}

/* As control_accepted() does for the control socket: at the fd limit, the spare fd lets one in to refuse it. */
static void front_accepted(struct spawn *sv, u32 i, int fd)
{
	struct listener *l = &sv->front->ls[i];
	struct io_uring_sqe *sqe;

	l->busy = false;
	if (fd < 0) {
		sv->accept_errors++;
		if (control_spare_spend(sv, fd)) {
			listener_arm(sv, i);
		} else if (l->fd >= 0) { /* tried again after a pause */
			sqe = link_sqe(sv);
			io_uring_prep_timeout(sqe, &sv->pause_ts, 0, 0);
			io_uring_sqe_set_data64(sqe, UD(K_FRONT_WAIT, 0, i));
			l->busy = true;
		}
		return;
	}
	listener_arm(sv, i);
	if (sv->refusing) {
		sv->refusing = false;
		front_refuse(fd, l->door);
		if (sv->spare_fd < 0 && shutdown(fd, SHUT_RDWR) == 0)
			sv->spare_fd = fd;
		else
			close(fd);
		return;
	}
	front_new(sv, l, fd);
}

/* ---- idle clients ---- */

/*
 * Once a second while there are clients: an HTTP client that has asked
 * nothing for FRONT_IDLE_NS, a TCP one that has not named its guest in
 * that time, and any client still connected FRONT_LINGER_NS after its
 * last answer, are hung up on. A client that waits for a guest's answer
 * is not idle (the request path ends that wait in 5 s), nor is a TCP
 * client on its guest (a console may stay quiet for ever).
 */
static void front_sweep(struct spawn *sv)
{
	u64 now = clock_now();

	sv->front->sweep_busy = false;
	for (u32 i = 0; i < sv->nconns; i++) {
		struct conn *c = &sv->conns[i];
		struct front *f = c->front;

		if (!c->used || !f || c->closing || c->waiting || (f->door == DOOR_TCP && f->watching && !f->draining))
			continue;
		if (now - f->active < (f->draining ? FRONT_LINGER_NS : FRONT_IDLE_NS))
			continue;
		if (c->out.len) {
			control_drop(sv, c); /* idle with answers unread: it stopped reading */
		} else {
			c->closing = true;
			shutdown(c->fd, SHUT_RDWR); /* completes its read; then it is closed */
		}
		control_arm(sv, c);
	}
	sweep_arm(sv);
}

void frontdoor_handle(struct spawn *sv, u64 ud, int res)
{
	u32 idx = UD_IDX(ud);
	struct conn *c;

	switch (UD_KIND(ud)) {
	case K_FRONT_ACCEPT:
		front_accepted(sv, idx, res);
		break;
	case K_FRONT_WAIT:
		sv->front->ls[idx].busy = false;
		listener_arm(sv, idx);
		break;
	case K_FRONT_SWEEP:
		front_sweep(sv);
		break;
	case K_FRONT_RETRY:
		c = &sv->conns[idx];
		if (!c->used || c->gen != UD_GEN(ud) || !c->front)
			break;
		gateway_retry(sv, c);
		control_arm(sv, c);
		break;
	}
}
