/* control.c - the control socket's clients: connections, requests routed to shards, answers put together. */
#define _GNU_SOURCE /* SO_PEERCRED, struct ucred */
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "control.h"
#include "link.h"
#include "summary.h"

/* A guest's output streams while anyone watches it: unwatch with the last. */
/* ---- connections ---- */

static void conn_unwatch(struct spawn *sv, struct conn *c)
{
	struct link *l;

	if (!c->watching)
		return;
	c->watching = false;
	u16 *w = &sv->watchers[c->watch_id - sv->o->first_id];

	if (*w && --*w == 0 && (l = link_of(sv, c->watch_id)))
		link_control(sv, l, WIRE_UNWATCH, c->watch_id);
}

/* Gives back a connection's answer buffer (all of it was sent, or it is dropped). */
static void conn_out_free(struct spawn *sv, struct conn *c)
{
	sv->out_held -= c->out.cap;
	free(c->out.buf);
	c->out = (struct outbuf){ 0 };
}

static struct pending *pend_find(struct spawn *sv, u32 tag);

/* A client's socket that is done with: shut down and kept as the spare
 * fd if there is none (control_accepted), else closed. */
static void spare_keep(struct spawn *sv, int fd)
{
	if (sv->spare_fd < 0 && !sv->refusing && shutdown(fd, SHUT_RDWR) == 0)
		sv->spare_fd = fd;
	else
		close(fd);
}

/*
 * The client is gone: so is the request it was waiting for, whose slot
 * is free at once (a late answer finds no tag there and is dropped).
 * Clients that ask and hang up cannot fill the table for the 5 s a
 * request may wait. At the fd limit, the socket is kept (shut down) as
 * the spare fd rather than closed (control_accepted).
 */
static void conn_close(struct spawn *sv, struct conn *c)
{
	struct pending *p = c->waiting ? pend_find(sv, c->tag) : NULL;

	if (p)
		p->remaining = 0;
	conn_unwatch(sv, c);
	spare_keep(sv, c->fd);
	conn_out_free(sv, c);
	if (c->door)
		c->door->release(sv, c);
	c->used = false;
	c->gen++;
}

/* Fits a connection's buffer to what waits in it (within 4x; freed when
 * all is sent), so that what a client holds is what it has not read. */
static void conn_out_fit(struct spawn *sv, struct conn *c)
{
	size_t cap = 4096;
	char *p;

	if (!c->out.len) {
		if (c->out.cap > cap)
			conn_out_free(sv, c);
		return;
	}
	while (cap < c->out.len)
		cap *= 2;
	if (4 * cap > c->out.cap || !(p = realloc(c->out.buf, cap)))
		return;
	sv->out_held -= c->out.cap - cap;
	c->out.buf = p;
	c->out.cap = cap;
}

/* A client that stopped reading: drop what it did not take and hang up;
 * the shutdown completes its pending poll, then it is closed. */
void control_drop(struct spawn *sv, struct conn *c)
{
	conn_out_free(sv, c);
	c->closing = true;
	sv->clients_dropped++;
	shutdown(c->fd, SHUT_RDWR);
}

static void conn_reply(struct spawn *sv, struct conn *c, const char *s, size_t n)
{
	size_t cap = c->out.cap;

	if (c->door && c->door->capture(sv, c, s, n))
		return; /* an answer a front door turns into its own protocol */
	if (c->closing)
		return;
	outbuf_put(&c->out, s, n);
	sv->out_held += c->out.cap - cap;
	if (c->out.len > CONN_OUT_MAX) {
		control_drop(sv, c);
		return;
	}
	/* Clients each within their own limit could still hold more than the
	 * host has (4096 x 16 MiB): past the total, the one holding the most
	 * goes, which is this one or one that is not reading either (perhaps
	 * one that half-closed and is still owed its answers). */
	while (sv->out_held > CONN_OUT_ALL) {
		struct conn *far = c;

		for (u32 i = 0; i < sv->nconns; i++)
			if (sv->conns[i].used && sv->conns[i].out.cap > far->out.cap)
				far = &sv->conns[i];
		control_drop(sv, far);
		if (far == c)
			return;
	}
}

/* A front door's own bytes to its client: an HTTP response, a guest's output. */
void control_reply(struct spawn *sv, struct conn *c, const char *s, size_t n)
{
	const struct conn_door *door = c->door;

	c->door = NULL; /* straight to its buffer, not captured */
	conn_reply(sv, c, s, n);
	c->door = door;
}

/* Text to the client, through conn_reply's limits. Answers are fixed words, or are put together piece by piece
 * (a guest's DATA may be 16 KiB): no formatter is needed here. */
static void conn_say(struct spawn *sv, struct conn *c, const char *s)
{
	conn_reply(sv, c, s, strlen(s));
}

/* ---- requests ---- */

/*
 * Pending requests live in a table indexed by tag % npend: a new tag is
 * picked so that its slot is free, and an answer finds its request in one
 * step. There is one slot per connection and then some, a connection has
 * at most one request pending, and a closed one none: a free slot always
 * exists.
 */
static struct pending *pend_new(struct spawn *sv, struct conn *c, int kind, u32 remaining)
{
	for (u32 tries = 0; tries < sv->npend; tries++) {
		u32 tag = ++sv->next_tag;
		struct pending *p = &sv->pend[tag % sv->npend];

		if (tag == 0 || p->remaining)
			continue;
		*p = (struct pending){ .tag = tag,
				       .conn = c ? (u32)(c - sv->conns) : PEND_NO_CONN,
				       .gen = c ? c->gen : 0,
				       .remaining = remaining,
				       .kind = kind };
		if (c) {
			c->waiting = true;
			c->tag = tag;
		}
		return p;
	}
	return NULL;
}

static struct pending *pend_find(struct spawn *sv, u32 tag)
{
	struct pending *p = &sv->pend[tag % sv->npend];

	return p->remaining && p->tag == tag ? p : NULL;
}

/* The answer to a pending request is complete: its client may go on. */
static void pend_finish(struct spawn *sv, struct pending *p, struct conn *c)
{
	p->remaining = 0;
	c->waiting = false;
	control_process(sv, c);
	control_arm(sv, c);
}

/* Asks a shard about the request, from its link `from` on: false when no shard is alive there. */
static bool pend_ask(struct spawn *sv, struct pending *p, u32 from, const char *line, size_t len)
{
	for (u32 i = from; i < sv->nlinks; i++) {
		if (sv->links[i].dead)
			continue;
		p->links_asked[i / 64] |= 1ull << (i % 64);
		link_request(sv, &sv->links[i], p->tag, line, len);
		return true;
	}
	return false;
}

/* A client's connection, where range text goes (proto_ranges_write, proto_join). */
struct conn_to {
	struct spawn *sv;
	struct conn *c;
};

static void conn_to_put(void *ctx, const char *s, size_t n)
{
	struct conn_to *to = ctx;

	conn_reply(to->sv, to->c, s, n);
}

static bool conn_lost_has(void *ctx, u32 i)
{
	return ((struct conn_to *)ctx)->sv->gflags[i] & G_LOST;
}

/* `list lost`: the supervisor's own ranges (guests of workers that died), written as they are found. */
static void conn_list_lost(struct spawn *sv, struct conn *c)
{
	struct conn_to to = { sv, c };

	conn_say(sv, c, "ok ");
	proto_ranges_write(sv->o->count, sv->o->first_id, conn_lost_has, conn_to_put, &to);
	conn_say(sv, c, "\n");
}

/* Handles one request line from a client. */
/* list and stats: asked of every shard that is alive, their answers put together (PEND_COUNTS, _RANGES, _STATS). */
static void conn_fan_out(struct spawn *sv, struct conn *c, const struct proto_req *r, char *line, size_t len)
{
	struct pending *p;
	u32 live = 0;

	for (u32 i = 0; i < sv->nlinks; i++)
		live += !sv->links[i].dead;
	if (r->cmd == PROTO_LIST && r->arg && r->arg_len == 4 && memcmp(r->arg, "lost", 4) == 0) {
		conn_list_lost(sv, c);
		return;
	}
	/* Counts and stats are summed over all shards at once; ranges
	 * are asked of one shard after the other and written to the
	 * client as each comes, in id order. */
	p = live ? pend_new(sv, c,
			    r->cmd == PROTO_STATS ? PEND_STATS
			    : r->arg		  ? PEND_RANGES
						  : PEND_COUNTS,
			    r->arg ? 1 : live)
		 : NULL;
	if (!p) {
		conn_say(sv, c, live ? "error busy\n" : "error no worker is alive\n");
		return;
	}
	if (p->kind == PEND_RANGES) {
		snprintf(p->state, sizeof(p->state), "%.*s", (int)r->arg_len, r->arg);
		conn_say(sv, c, "ok ");
		pend_ask(sv, p, 0, line, len);
		return;
	}
	for (u32 i = 0; i < sv->nlinks; i++)
		if (!sv->links[i].dead)
			pend_ask(sv, p, i, line, len);
}

/* A request for one guest: forwarded to its shard (watch: the connection watches it from now on). */
static void conn_forward(struct spawn *sv, struct conn *c, const struct proto_req *r, char *line, size_t len)
{
	struct pending *p;
	struct link *l = link_of(sv, r->id);

	if (!l) {
		conn_say(sv, c, "error no such guest\n");
		return;
	}
	if (l->dead || (sv->gflags[r->id - sv->o->first_id] & G_LOST)) {
		conn_say(sv, c, "error guest lost\n");
		return;
	}
	p = pend_new(sv, c, PEND_FORWARD, 1);
	if (!p) {
		conn_say(sv, c, "error busy\n");
		return;
	}
	if (r->cmd == PROTO_WATCH) {
		conn_unwatch(sv, c); /* one watched guest per connection */
		c->watching = true;
		c->watch_id = r->id;
		sv->watchers[r->id - sv->o->first_id]++;
	}
	pend_ask(sv, p, (u32)(l - sv->links), line, len);
}

static void conn_request(struct spawn *sv, struct conn *c, char *line, size_t len)
{
	struct proto_req r;
	const char *err;

	if (proto_parse(line, len, &r, &err) < 0) {
		conn_say(sv, c, "error ");
		conn_say(sv, c, err);
		conn_say(sv, c, "\n");
		return;
	}
	if (r.cmd == PROTO_STOP && !r.has_id) {
		conn_say(sv, c, "ok\n");
		if (!sv->stopping)
			snprintf(sv->stop_reason, sizeof(sv->stop_reason), "stopped by a client");
		sv->stopping = true;
		return;
	}
	if (r.cmd == PROTO_LIST || r.cmd == PROTO_STATS)
		conn_fan_out(sv, c, &r, line, len);
	else
		conn_forward(sv, c, &r, line, len);
}

/* A request line of a front door's client (frontdoor.c), down the same path. */
void control_request(struct spawn *sv, struct conn *c, char *line, size_t len)
{
	conn_request(sv, c, line, len);
}

/* Takes whole lines from what the client sent, one request at a time:
 * the next is not started before the previous one was answered. */
void control_process(struct spawn *sv, struct conn *c)
{
	if (c->door) {
		c->door->process(sv, c);
		return;
	}
	while (!c->waiting && !c->closing && c->rpos < c->rlen) {
		u8 *start = c->rbuf + c->rpos, *nl = memchr(start, '\n', c->rlen - c->rpos);

		if (!nl) {
			if (c->rlen - c->rpos > PROTO_LINE_MAX) {
				if (!c->skipping)
					conn_say(sv, c, "error line too long\n");
				c->skipping = true;
				c->rpos = c->rlen;
			}
			break;
		}
		*nl = '\0';
		c->rpos = (size_t)(nl + 1 - c->rbuf);
		if (c->skipping) {
			c->skipping = false;
			continue;
		}
		conn_request(sv, c, (char *)start, (size_t)(nl - start));
	}
	if (c->rpos == c->rlen)
		c->rpos = c->rlen = 0;
	else if (c->rpos > 0 && !c->waiting) {
		memmove(c->rbuf, c->rbuf + c->rpos, c->rlen - c->rpos);
		c->rlen -= c->rpos;
		c->rpos = 0;
	}
}

void control_arm(struct spawn *sv, struct conn *c)
{
	u32 i = (u32)(c - sv->conns);
	struct io_uring_sqe *sqe;

	if (!c->used)
		return;
	if (c->out.len && !outbuf_flush(c->fd, &c->out) && !c->poll_busy) {
		sqe = link_sqe(sv);
		io_uring_prep_poll_add(sqe, c->fd, POLLOUT);
		io_uring_sqe_set_data64(sqe, UD(K_CONN_POLL, c->gen, i));
		c->poll_busy = true;
	}
	if (c->door && !c->out.len)
		c->door->flushed(sv, c);
	conn_out_fit(sv, c);
	/* Nothing is read while a request is pending (one at a time), so a
	 * client that hangs up would not be seen before its answer came, up
	 * to 5 s later: a poll with no events watches for the hang-up
	 * (io_uring always reports POLLHUP and POLLRDHUP). */
	if (c->waiting && !c->hup_busy && !c->half_closed && !c->closing) {
		sqe = link_sqe(sv);
		io_uring_prep_poll_add(sqe, c->fd, 0);
		io_uring_sqe_set_data64(sqe, UD(K_CONN_HUP, c->gen, i));
		c->hup_busy = true;
	}
	if (c->closing && !c->out.len && !c->read_busy && !c->poll_busy) {
		if (c->hup_busy)
			shutdown(c->fd, SHUT_RDWR); /* ends the watch; closed when it completes */
		else
			conn_close(sv, c);
		return;
	}
	/* Read more only when the buffered lines are done and there is room. */
	if (!c->read_busy && !c->closing && !c->waiting && c->rlen < sizeof(c->rbuf) - 1) {
		sqe = link_sqe(sv);
		io_uring_prep_recv(sqe, c->fd, c->rbuf + c->rlen, sizeof(c->rbuf) - 1 - c->rlen, 0);
		io_uring_sqe_set_data64(sqe, UD(K_CONN_READ, c->gen, i));
		c->read_busy = true;
	}
}

/*
 * A poll of a client's socket completed (K_CONN_POLL: room to write;
 * K_CONN_HUP: the hang-up watch). io_uring reports POLLRDHUP whatever was
 * asked: a client that only shut down its writing (it may still read its
 * answers) would complete either poll again at once, and re-arming it
 * would spin. So the watch ends there, and a client that stopped both
 * writing and reading is written to again after a pause.
 */
void control_polled(struct spawn *sv, struct conn *c, bool hup, int res)
{
	bool gone = res > 0 && (res & (POLLHUP | POLLERR));
	bool half = res > 0 && (res & POLLRDHUP) && !gone;

	if (hup) {
		c->hup_busy = false;
		c->closing |= gone; /* its pending request ends with it (conn_close) */
		c->half_closed |= half;
	} else if (half && !(res & POLLOUT)) {
		struct io_uring_sqe *sqe = link_sqe(sv);

		io_uring_prep_timeout(sqe, &sv->pause_ts, 0, 0); /* poll_busy until it ends */
		io_uring_sqe_set_data64(sqe, UD(K_CONN_POLL, c->gen, (u32)(c - sv->conns)));
		return;
	} else {
		c->poll_busy = false;
	}
	control_arm(sv, c);
}

void control_accept_arm(struct spawn *sv)
{
	struct io_uring_sqe *sqe;

	if (sv->accept_busy || sv->listen_fd < 0)
		return;
	sqe = link_sqe(sv);
	io_uring_prep_accept(sqe, sv->listen_fd, NULL, NULL, SOCK_CLOEXEC);
	io_uring_sqe_set_data64(sqe, UD(K_ACCEPT, 0, 0));
	sv->accept_busy = true;
}

/* accept() failed and there is no spare fd to make room: it is tried again after a pause. */
static void control_accept_later(struct spawn *sv)
{
	struct io_uring_sqe *sqe = link_sqe(sv);

	io_uring_prep_timeout(sqe, &sv->pause_ts, 0, 0);
	io_uring_sqe_set_data64(sqe, UD(K_ACCEPT_WAIT, 0, 0));
	sv->accept_busy = true; /* until the pause ends (spawn.c re-arms) */
}

/* Tells a client why it is not served, and lets it go. */
static void conn_refuse(int fd, const char *msg)
{
	if (send(fd, msg, strlen(msg), MSG_NOSIGNAL | MSG_DONTWAIT) < 0)
		(void)0;
	close(fd);
}

bool control_spare_spend(struct spawn *sv, int err)
{
	if ((err != -EMFILE && err != -ENFILE) || sv->spare_fd < 0)
		return false;
	close(sv->spare_fd);
	sv->spare_fd = -1;
	sv->refusing = true;
	return true;
}

/*
 * A new client, or why accept() failed. At the supervisor's fd limit
 * accept() fails with EMFILE at once, again and again: re-armed as it is,
 * it would spin, and the waiting clients would hear nothing. So a spare
 * fd is kept: given up, it lets one client in, which is told "error too
 * many connections" and shut down; its socket is the next spare (the
 * sandbox allows no open() or dup() to make one; a closing client's
 * socket makes one too, conn_close). With no spare, or on another error,
 * accept() is tried again after a pause. Failures are counted in stats.
 */
void control_accepted(struct spawn *sv, int fd)
{
	struct ucred cred;
	socklen_t len = sizeof(cred);
	struct conn *c = NULL;

	sv->accept_busy = false;
	if (fd < 0) {
		sv->accept_errors++;
		if (control_spare_spend(sv, fd))
			control_accept_arm(sv);
		else
			control_accept_later(sv);
		return;
	}
	control_accept_arm(sv);
	if (sv->refusing) {
		static const char msg[] = "error too many connections\n";

		sv->refusing = false;
		if (send(fd, msg, sizeof(msg) - 1, MSG_NOSIGNAL | MSG_DONTWAIT) < 0)
			(void)0;
		spare_keep(sv, fd);
		return;
	}
	/* Only our own user may steer our guests. */
	if (getsockopt(fd, SOL_SOCKET, SO_PEERCRED, &cred, &len) < 0 || cred.uid != geteuid()) {
		conn_refuse(fd, "error permission denied\n");
		return;
	}
	c = control_conn_new(sv, fd);
	if (!c) {
		conn_refuse(fd, "error too many connections\n");
		return;
	}
	control_arm(sv, c);
}

/* A free connection slot for the client on fd, made new; NULL when all are in use. */
struct conn *control_conn_new(struct spawn *sv, int fd)
{
	for (u32 i = 0; i < sv->nconns; i++) {
		struct conn *c = &sv->conns[i];
		u32 gen = c->gen;

		if (c->used)
			continue;
		memset(c, 0, sizeof(*c));
		c->gen = gen;
		c->fd = fd;
		c->used = true;
		return c;
	}
	return NULL;
}

/* One shard's part of a fanned-out answer: "ok k=v k=v ..." or "ok RANGES". */
/* ---- answers from the shards ---- */

/* PEND_COUNTS and PEND_STATS: sums the values of every shard's "ok k=v k=v ..." */
static void pend_gather(struct pending *p, const char *rest)
{
	if (p->kind == PEND_STATS)
		wire_sums_add(rest, wire_stat_names, WIRE_NSTATS, p->sums);
	else
		wire_sums_add(rest, wire_count_names, WIRE_NCOUNTS, p->sums);
}

/* The stats object for the --metrics-file, once every shard has answered. */
static void pend_metrics(struct spawn *sv, const u64 *sums)
{
	struct outbuf b = { 0 };

	summary_stats_json(sv, &b, sums);
	if (b.buf)
		summary_metrics_write(sv, b.buf, b.len);
	free(b.buf);
}

/*
 * The --metrics-file's refresh: the shards' counters are gathered as for a
 * client's `stats`, and control_answer() hands the sums to the writer. One
 * at a time: a refresh still waiting for a shard is not asked again.
 */
void control_metrics_request(struct spawn *sv)
{
	static const char line[] = "stats";
	u64 none[WIRE_NSTATS] = { 0 };
	struct pending *p;
	u32 live = 0;

	for (u32 i = 0; i < sv->npend; i++)
		if (sv->pend[i].remaining && sv->pend[i].conn == PEND_NO_CONN)
			return;
	for (u32 i = 0; i < sv->nlinks; i++)
		live += !sv->links[i].dead;
	if (!live || !(p = pend_new(sv, NULL, PEND_STATS, live))) {
		pend_metrics(sv, none); /* no shard to ask: what the supervisor knows */
		return;
	}
	for (u32 i = 0; i < sv->nlinks; i++) {
		if (sv->links[i].dead)
			continue;
		p->links_asked[i / 64] |= 1ull << (i % 64);
		link_request(sv, &sv->links[i], p->tag, line, strlen(line));
	}
}

/* The sums, once every shard has answered: one line to the client. */
static void pend_sums_reply(struct spawn *sv, struct pending *p, struct conn *c)
{
	struct outbuf b = { 0 };

	if (p->kind == PEND_STATS) {
		outbuf_printf(&b, "ok ");
		summary_stats_json(sv, &b, p->sums);
		outbuf_printf(&b, "\n");
	} else {
		outbuf_printf(&b,
			      "ok running=%llu halted=%llu parked=%llu ended=%llu failed=%llu silent=%llu lost=%u "
			      "booted=%u\n",
			      (unsigned long long)p->sums[0], (unsigned long long)p->sums[1],
			      (unsigned long long)p->sums[2], (unsigned long long)p->sums[3],
			      (unsigned long long)p->sums[4], (unsigned long long)p->sums[5], sv->lost, sv->booted);
	}
	conn_reply(sv, c, b.buf, b.len);
	free(b.buf);
}

/* "TAG ok ..." or "TAG error ...": a shard's answer to a pending request. */
void control_answer(struct spawn *sv, struct link *l, char *line, size_t len)
{
	u32 li = (u32)(l - sv->links);
	struct pending *p;
	struct conn *c;
	char *rest;
	u32 tag;

	tag = (u32)strtoul(line, &rest, 10);
	p = pend_find(sv, tag);
	if (!p || *rest != ' ' || !(p->links_asked[li / 64] & (1ull << (li % 64))))
		return; /* its client went away, or it was answered for already (the worker died meanwhile) */
	p->links_asked[li / 64] &= ~(1ull << (li % 64));
	rest++;
	len -= (size_t)(rest - line);
	if (p->conn == PEND_NO_CONN) { /* the supervisor's own stats, for the --metrics-file */
		pend_gather(p, rest);
		if (--p->remaining == 0)
			pend_metrics(sv, p->sums);
		return;
	}
	c = &sv->conns[p->conn];
	if (!c->used || c->gen != p->gen) { /* not so: conn_close() ends its request */
		p->remaining = 0;
		return;
	}
	if (p->kind == PEND_FORWARD) {
		conn_reply(sv, c, rest, len);
		conn_reply(sv, c, "\n", 1);
	} else if (p->kind == PEND_RANGES) {
		char ask[32];
		int n = snprintf(ask, sizeof(ask), "list %s", p->state);

		struct conn_to to = { sv, c }; /* the list's text, joined across shards, to its client */

		/* shards hold consecutive ids: one's last range may go on in the next one's */
		if (len > 3 && strncmp(rest, "ok ", 3) == 0)
			proto_join_feed(&p->join, rest + 3, len - 3, conn_to_put, &to);
		control_arm(sv, c); /* what it has so far is on its way */
		if (!c->used)
			return; /* it was dropped meanwhile, and closed: its request ended with it */
		if (!c->closing && pend_ask(sv, p, li + 1, ask, (size_t)n))
			return; /* the next shard's ranges follow */
		proto_join_end(&p->join, conn_to_put, &to);
		conn_reply(sv, c, "\n", 1);
	} else {
		pend_gather(p, rest);
		if (--p->remaining)
			return;
		pend_sums_reply(sv, p, c);
	}
	pend_finish(sv, p, c);
}

/* A watched guest wrote: "out ID DATA" to every connection watching it. */
void control_watch_output(struct spawn *sv, u32 id, const char *data)
{
	for (u32 i = 0; i < sv->nconns; i++) {
		struct conn *c = &sv->conns[i];

		if (c->used && !c->closing && c->watching && c->watch_id == id && c->door) {
			c->door->output(sv, c, data);
			control_arm(sv, c);
		} else if (c->used && !c->closing && c->watching && c->watch_id == id) {
			char head[24];

			conn_reply(sv, c, head, (size_t)snprintf(head, sizeof(head), "out %u ", id));
			conn_reply(sv, c, data, strlen(data));
			conn_reply(sv, c, "\n", 1);
			control_arm(sv, c);
		}
	}
}
