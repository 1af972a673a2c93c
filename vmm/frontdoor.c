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
#include "frontdoor.h"
#include "http.h"
#include "json.h"
#include "supervisor.h"

/*
 * A front door's client is a control-socket connection (struct conn: the
 * same slots, limits, buffers and memory accounting) that speaks another
 * protocol. What it asks is turned into a control request line and goes
 * down the one request path (control_request(), as `kvmlite req` does);
 * the answer line comes back through frontdoor_capture() and is turned
 * into an HTTP response, or into raw bytes for a TCP client.
 */

enum { DOOR_HTTP = 1, DOOR_TCP };
#define NO_GUEST UINT32_MAX

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
	struct __kernel_timespec sweep_ts, retry_ts;
};

/* One front-door client, beside its struct conn. */
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
	u64 active;		    /* when it last sent a byte or was answered: for the idle sweep */
	size_t held;		    /* what this struct counts in sv->out_held */
	struct outbuf ans;	    /* the request path's answer line */
	struct http_parser http[];  /* HTTP only */
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
	fd->retry_ts = clock_kernel_timespec(FRONT_RETRY_NS);
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
		if (sv->conns[i].front) {
			free(sv->conns[i].front->ans.buf);
			free(sv->conns[i].front);
			sv->conns[i].front = NULL;
		}
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

/* A client accepted: a connection slot and its front-door state, or a 503. */
static void front_new(struct spawn *sv, struct listener *l, int fd)
{
	size_t size = sizeof(struct front) + (l->door == DOOR_HTTP ? sizeof(struct http_parser) : 0);
	struct front *f = calloc(1, size);
	struct conn *c = f ? control_conn_new(sv, fd) : NULL;

	if (!c) {
		front_refuse(fd, l->door);
		close(fd);
		free(f);
		return;
	}
	c->front = f;
	f->door = l->door;
	f->guest = l->guest;
	f->active = clock_now();
	f->held = size;
	sv->out_held += size;
	if (f->door == DOOR_HTTP)
		http_init(f->http);
	sv->front->clients++;
	sweep_arm(sv);
	frontdoor_process(sv, c); /* a --tcp-per-guest client's watch starts now */
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
		if ((fd == -EMFILE || fd == -ENFILE) && sv->spare_fd >= 0) {
			close(sv->spare_fd);
			sv->spare_fd = -1;
			sv->refusing = true;
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
		c->front->paused = false;
		frontdoor_process(sv, c);
		control_arm(sv, c);
		break;
	}
}

void frontdoor_conn_free(struct spawn *sv, struct conn *c)
{
	struct front *f = c->front;

	if (!f)
		return;
	sv->out_held -= f->held + f->ans.cap;
	free(f->ans.buf);
	free(f);
	c->front = NULL;
	sv->front->clients--;
}

/* ---- the request path ---- */

/* The answer line grows; what it takes counts with the clients' memory. */
static void ans_put(struct spawn *sv, struct front *f, const char *s, size_t n)
{
	size_t cap = f->ans.cap;

	outbuf_put(&f->ans, s, n);
	sv->out_held += f->ans.cap - cap;
}

bool frontdoor_capture(struct spawn *sv, struct conn *c, const char *s, size_t n)
{
	if (!c->front->asked)
		return false;
	ans_put(sv, c->front, s, n);
	return true;
}

/* Asks the request path; the answer is captured, and frontdoor_process() goes on once it is whole. */
static void front_ask(struct spawn *sv, struct conn *c, char *line, size_t n)
{
	c->front->asked = true;
	c->front->ans.len = 0;
	control_request(sv, c, line, n);
}

/* The captured answer line, NUL-terminated, without its "\n". */
static char *answer_line(struct spawn *sv, struct front *f, size_t *n)
{
	ans_put(sv, f, "", 1);
	if (!f->ans.buf)
		return *n = 0, "error out of memory";
	*n = strcspn(f->ans.buf, "\n");
	f->ans.buf[*n] = '\0';
	return f->ans.buf;
}

/* The last answer is queued: nothing more is read as a request; what comes is thrown away until the client goes. */
static void front_finish(struct conn *c)
{
	c->front->draining = true;
	c->front->active = clock_now();
}

void frontdoor_flushed(struct spawn *sv, struct conn *c)
{
	struct front *f = c->front;

	/* Closing at once with the client's bytes unread would reset the
	 * connection, and the client could lose its answer (RFC 9112 §9.6):
	 * the writing side is shut, and reading goes on until it closes. */
	if (f->draining && !f->shut && !c->closing) {
		f->shut = true;
		shutdown(c->fd, SHUT_WR);
	}
}

/* ---- HTTP ---- */

/* The status for a control error line: "error no such guest" is 404, "error timeout" 504, the others 503. */
static int http_status_of(const char *err)
{
	if (!strcmp(err, "no such guest"))
		return 404;
	if (!strcmp(err, "timeout"))
		return 504;
	if (!strcmp(err, "bad id") || !strcmp(err, "bad argument") || !strcmp(err, "missing argument"))
		return 400;
	return 503; /* busy, input full, guest not running, guest lost, resume: ..., no worker is alive */
}

static void http_send(struct spawn *sv, struct conn *c, int status, const char *type, const char *body, size_t len)
{
	struct front *f = c->front;
	char head[HTTP_RESPONSE_HEAD_MAX];
	size_t n = http_head_write(head, sizeof(head), status, type, len, f->keep_alive, time(NULL));

	control_reply(sv, c, head, n < sizeof(head) ? n : sizeof(head) - 1);
	if (!f->head_only)
		control_reply(sv, c, body, len);
}

static void http_send_error(struct spawn *sv, struct conn *c, int status, const char *detail)
{
	char out[HTTP_RESPONSE_HEAD_MAX + 256];
	size_t n = http_error_write(out, sizeof(out), status, c->front->keep_alive, c->front->head_only, time(NULL),
				    detail);

	control_reply(sv, c, out, n < sizeof(out) ? n : sizeof(out) - 1);
}

/* An "ok ..." answer to the route asked, as its body: the guest's line, JSON, or Prometheus text. */
static void http_send_ok(struct spawn *sv, struct conn *c, const char *rest, size_t len)
{
	struct front *f = c->front;
	size_t cap = f->route == HTTP_ROUTE_METRICS ? METRICS_TEXT_MAX : 6 * len + 64, n = 0;
	char *body = malloc(cap);
	ssize_t u;

	if (!body) {
		http_send_error(sv, c, 503, "out of memory");
		return;
	}
	switch (f->route) {
	case HTTP_ROUTE_GUEST: /* the guest's answer line, unescaped, with its "\n" */
		u = proto_unescape(rest, len, (u8 *)body, cap - 1);
		n = u < 0 ? 0 : (size_t)u;
		body[n++] = '\n';
		break;
	case HTTP_ROUTE_INFO:
		n = json_info(f->guest, rest, len, body, cap - 1);
		if (n && n < cap - 1)
			body[n++] = '\n';
		break;
	case HTTP_ROUTE_STATS:
		memcpy(body, rest, len);
		n = len;
		body[n++] = '\n';
		break;
	case HTTP_ROUTE_METRICS:
		n = metrics_format(rest, body, cap);
		break;
	}
	if (n == 0 || n >= cap) /* an answer the shards should never give */
		http_send_error(sv, c, 503, "unreadable answer");
	else
		http_send(sv, c, 200,
			  f->route == HTTP_ROUTE_METRICS ? "text/plain; version=0.0.4; charset=utf-8"
			  : f->route == HTTP_ROUTE_GUEST ? "text/plain"
							 : "application/json",
			  body, n);
	free(body);
}

/* The request path answered: the response goes out, and the parser to the next request. */
static void http_answered(struct spawn *sv, struct conn *c)
{
	struct front *f = c->front;
	size_t n;
	char *a = answer_line(sv, f, &n);

	f->asked = false;
	if (!strncmp(a, "ok", 2) && (a[2] == ' ' || !a[2]))
		http_send_ok(sv, c, a + (a[2] ? 3 : 2), n - (a[2] ? 3 : 2));
	else if (!strncmp(a, "error ", 6))
		http_send_error(sv, c, http_status_of(a + 6), a + 6);
	else
		http_send_error(sv, c, 503, "unreadable answer");
	f->ans.len = 0;
	f->active = clock_now();
	http_done(f->http);
	if (!f->keep_alive)
		front_finish(c);
}

/* A routed request as a control request line: `req ID GET /PATH`, `info ID` or `stats`. */
static void http_ask(struct spawn *sv, struct conn *c, const struct http_route *r)
{
	char line[64 + PROTO_ESCAPED_MAX(HTTP_GUEST_TEXT_MAX)], text[HTTP_GUEST_TEXT_MAX + 1];
	int n;

	c->front->route = (u8)r->kind;
	c->front->guest = r->id;
	if (r->kind == HTTP_ROUTE_GUEST) {
		n = snprintf(text, sizeof(text), "GET %.*s", (int)r->path_len, r->path);
		n = snprintf(line, sizeof(line), "req %u ", r->id);
		proto_escape((const u8 *)text, strlen(text), line + n, sizeof(line) - (size_t)n);
		n += (int)strlen(line + n);
	} else if (r->kind == HTTP_ROUTE_INFO) {
		n = snprintf(line, sizeof(line), "info %u", r->id);
	} else {
		n = snprintf(line, sizeof(line), "stats");
	}
	front_ask(sv, c, line, (size_t)n);
}

/*
 * Requests are taken one at a time, in order: the next one is looked at
 * when the one before was answered, so pipelined requests are answered in
 * the order they came (RFC 9112 §9.3.2). Bytes are read only while none
 * waits for an answer, and at most the parser's 8 KiB are held.
 */
static void http_process(struct spawn *sv, struct conn *c)
{
	struct front *f = c->front;
	const struct http_req *req;
	struct http_route r;
	int status;

	while (!c->waiting && !c->closing) {
		if (f->asked) {
			http_answered(sv, c);
			continue;
		}
		if (c->rpos < c->rlen)
			c->rpos += http_feed(f->http, c->rbuf + c->rpos, c->rlen - c->rpos);
		if (f->draining || !(req = http_next(f->http)))
			break;
		f->head_only = req->method == HTTP_HEAD;
		f->keep_alive = req->keep_alive;
		status = req->status ? req->status : http_route(req, &r);
		if (status) {
			http_send_error(sv, c, status, NULL);
			f->active = clock_now();
			http_done(f->http);
			if (!f->keep_alive)
				front_finish(c);
			continue;
		}
		http_ask(sv, c, &r);
	}
}

/* ---- TCP ---- */

/* Why a TCP client is let go, and it is. */
static void tcp_end(struct spawn *sv, struct conn *c, const char *msg)
{
	control_reply(sv, c, msg, strlen(msg));
	control_reply(sv, c, "\n", 1);
	front_finish(c);
}

/* The first line a --tcp client sends names its guest: "1234\n". */
static bool tcp_named(struct spawn *sv, struct conn *c)
{
	struct front *f = c->front;
	char *start = (char *)c->rbuf + c->rpos, *nl = memchr(start, '\n', c->rlen - c->rpos), *end;
	char err[128];

	if (!nl) {
		if (c->rlen - c->rpos > 16)
			tcp_end(sv, c, "error bad id");
		return false;
	}
	end = nl > start && nl[-1] == '\r' ? nl - 1 : nl;
	*end = '\0';
	c->rpos = (size_t)(nl + 1 - (char *)c->rbuf);
	if (cli_u32("the guest id", start, 0, UINT32_MAX, &f->guest, err, sizeof(err)) < 0) {
		tcp_end(sv, c, "error bad id");
		return false;
	}
	return true;
}

/* The answer to `watch` (bytes flow from now on) or to a `send` (its bytes were taken, or are offered again). */
static void tcp_answered(struct spawn *sv, struct conn *c)
{
	struct front *f = c->front;
	size_t n;
	char *a = answer_line(sv, f, &n);
	bool ok = !strcmp(a, "ok");
	struct io_uring_sqe *sqe;

	f->asked = false;
	if (ok && !f->watching) {
		f->watching = true;
	} else if (ok) {
		c->rpos += f->sent;
	} else if (!strcmp(a, "error input full")) {
		f->paused = true; /* as `kvmlite console` does from a pipe: the guest reads, then more */
		sqe = link_sqe(sv);
		io_uring_prep_timeout(sqe, &sv->front->retry_ts, 0, 0);
		io_uring_sqe_set_data64(sqe, UD(K_FRONT_RETRY, c->gen, (u32)(c - sv->conns)));
	} else {
		tcp_end(sv, c, a); /* no such guest, guest not running, ... */
	}
	f->sent = 0;
	f->ans.len = 0;
}

static void tcp_process(struct spawn *sv, struct conn *c)
{
	struct front *f = c->front;
	char line[64 + PROTO_ESCAPED_MAX(FRONT_CHUNK)];
	int n;

	while (!c->waiting && !c->closing && !f->draining) {
		if (f->asked) {
			tcp_answered(sv, c);
			continue;
		}
		if (f->guest == NO_GUEST && !tcp_named(sv, c))
			break;
		if (!f->watching) {
			f->active = clock_now();
			n = snprintf(line, sizeof(line), "watch %u", f->guest);
			front_ask(sv, c, line, (size_t)n);
			continue;
		}
		if (f->paused || c->rpos == c->rlen)
			break;
		f->sent = c->rlen - c->rpos < FRONT_CHUNK ? c->rlen - c->rpos : FRONT_CHUNK;
		n = snprintf(line, sizeof(line), "send %u ", f->guest);
		proto_escape(c->rbuf + c->rpos, f->sent, line + n, sizeof(line) - (size_t)n);
		front_ask(sv, c, line, (size_t)n + strlen(line + n));
	}
	if (f->draining)
		c->rpos = c->rlen; /* thrown away */
}

/* data is the guest's output as the wire carries it, escaped (wire.h, WIRE_OUT) */
void frontdoor_output(struct spawn *sv, struct conn *c, const char *data)
{
	size_t len = strlen(data);
	u8 *raw = malloc(len + 1);
	ssize_t n = raw ? proto_unescape(data, len, raw, len + 1) : -1;

	if (n > 0 && !c->front->draining)
		control_reply(sv, c, (const char *)raw, (size_t)n);
	free(raw);
}

void frontdoor_process(struct spawn *sv, struct conn *c)
{
	if (c->front->door == DOOR_HTTP)
		http_process(sv, c);
	else
		tcp_process(sv, c);
	/* what was taken goes; the rest moves to the front for the next read */
	if (c->rpos == c->rlen) {
		c->rpos = c->rlen = 0;
	} else if (c->rpos > 0) {
		memmove(c->rbuf, c->rbuf + c->rpos, c->rlen - c->rpos);
		c->rlen -= c->rpos;
		c->rpos = 0;
	}
}
