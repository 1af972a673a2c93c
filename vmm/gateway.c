/* gateway.c - the front doors' clients: HTTP requests and TCP bytes turned into control requests, answers into
 * responses. */
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>

#include "cli.h"
#include "clock.h"
#include "control.h"
#include "gateway.h"
#include "json.h"
#include "link.h"

/*
 * A front door's client is a control-socket connection (struct conn: the
 * same slots, limits, buffers and memory accounting) that speaks another
 * protocol: c->door is its protocol's struct conn_door, c->front its
 * state. What it asks is turned into a control request line and goes down
 * the one request path (control_request(), as `kvmlite req` does); the
 * answer line comes back through capture() and is turned into an HTTP
 * response, or into raw bytes for a TCP client.
 */

/* ---- the request path ---- */

/* FRONT_RETRY_NS, as io_uring takes it (read when the timeout is submitted) */
static struct __kernel_timespec retry_ts = { .tv_nsec = FRONT_RETRY_NS };

/* The answer line grows; what it takes counts with the clients' memory. */
static void ans_put(struct spawn *sv, struct front *f, const char *s, size_t n)
{
	size_t cap = f->ans.cap;

	outbuf_put(&f->ans, s, n);
	sv->out_held += f->ans.cap - cap;
}

static bool door_capture(struct spawn *sv, struct conn *c, const char *s, size_t n)
{
	if (!c->front->asked)
		return false;
	ans_put(sv, c->front, s, n);
	return true;
}

/* Asks the request path; the answer is captured, and the door's process() goes on once it is whole. */
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

static void door_flushed(struct spawn *sv, struct conn *c)
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

/* The connection closes: its state goes, and it counts no more among the doors' clients. */
static void door_release(struct spawn *sv, struct conn *c)
{
	struct front *f = c->front;

	(*f->clients)--;
	sv->out_held -= f->held + f->ans.cap;
	free(f->ans.buf);
	free(f);
	c->front = NULL;
	c->door = NULL;
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
		io_uring_prep_timeout(sqe, &retry_ts, 0, 0);
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
static void tcp_output(struct spawn *sv, struct conn *c, const char *data)
{
	size_t len = strlen(data);
	u8 *raw = malloc(len + 1);
	ssize_t n = raw ? proto_unescape(data, len, raw, len + 1) : -1;

	if (n > 0 && !c->front->draining)
		control_reply(sv, c, (const char *)raw, (size_t)n);
	free(raw);
}

/* What was taken from the read buffer goes; the rest moves to its front for the next read. */
static void rbuf_compact(struct conn *c)
{
	if (c->rpos == c->rlen) {
		c->rpos = c->rlen = 0;
	} else if (c->rpos > 0) {
		memmove(c->rbuf, c->rbuf + c->rpos, c->rlen - c->rpos);
		c->rlen -= c->rpos;
		c->rpos = 0;
	}
}

static void http_door_process(struct spawn *sv, struct conn *c)
{
	http_process(sv, c);
	rbuf_compact(c);
}

static void tcp_door_process(struct spawn *sv, struct conn *c)
{
	tcp_process(sv, c);
	rbuf_compact(c);
}

/* HTTP clients get no guest output: they watch nothing. */
static void http_output(struct spawn *sv, struct conn *c, const char *data)
{
}

static const struct conn_door http_door = { http_door_process, door_capture, http_output, door_flushed, door_release };
static const struct conn_door tcp_door = { tcp_door_process, door_capture, tcp_output, door_flushed, door_release };

bool gateway_attach(struct spawn *sv, struct conn *c, u8 door, u32 guest, u32 *clients)
{
	size_t size = sizeof(struct front) + (door == DOOR_HTTP ? sizeof(struct http_parser) : 0);
	struct front *f = calloc(1, size);

	if (!f)
		return false;
	f->door = door;
	f->guest = guest;
	f->active = clock_now();
	f->held = size;
	f->clients = clients;
	sv->out_held += size;
	if (door == DOOR_HTTP)
		http_init(f->http);
	c->front = f;
	c->door = door == DOOR_HTTP ? &http_door : &tcp_door;
	(*clients)++;
	c->door->process(sv, c); /* a --tcp-per-guest client's watch starts now */
	return true;
}

void gateway_retry(struct spawn *sv, struct conn *c)
{
	c->front->paused = false;
	c->door->process(sv, c);
}
