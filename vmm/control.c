/* control.c - the control socket: listening, client connections, requests routed to shards, answers put together. */
#define _GNU_SOURCE /* SO_PEERCRED, struct ucred */
#include <errno.h>
#include <poll.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <unistd.h>

#include "client.h"
#include "supervisor.h"

/* ---- output buffers ---- */

void outbuf_put(struct outbuf *b, const char *s, size_t n)
{
	if (b->len + n > b->cap) {
		size_t cap = b->cap ? b->cap : 4096;
		char *p;

		while (cap < b->len + n)
			cap *= 2;
		p = realloc(b->buf, cap);
		if (!p)
			return; /* dropped; the connection is closed for being too far behind */
		b->buf = p;
		b->cap = cap;
	}
	memcpy(b->buf + b->len, s, n);
	b->len += n;
}

void outbuf_printf(struct outbuf *b, const char *fmt, ...)
{
	char tmp[1024];
	va_list ap;
	int n;

	va_start(ap, fmt);
	n = vsnprintf(tmp, sizeof(tmp), fmt, ap);
	va_end(ap);
	outbuf_put(b, tmp, n < (int)sizeof(tmp) ? (size_t)n : sizeof(tmp) - 1);
}

/* Writes what it can now; returns false when the rest must wait for POLLOUT.
 * A peer that is gone (EPIPE, ECONNRESET) can take nothing more: the rest
 * is discarded, so that it is not kept, nor polled for, forever. */
bool outbuf_flush(int fd, struct outbuf *b)
{
	size_t done = 0;

	while (done < b->len) {
		ssize_t n = send(fd, b->buf + done, b->len - done, MSG_NOSIGNAL | MSG_DONTWAIT);

		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0 && (errno == EPIPE || errno == ECONNRESET || errno == ENOTCONN)) {
			b->len = 0;
			return true;
		}
		if (n <= 0)
			break;
		done += (size_t)n;
	}
	memmove(b->buf, b->buf + done, b->len - done);
	b->len -= done;
	return b->len == 0;
}

/* A guest's output streams while anyone watches it: unwatch with the last. */
/* ---- connections ---- */

static void conn_unwatch(struct spawn *sv, struct conn *c)
{
	struct link *l;

	if (!c->watching)
		return;
	c->watching = false;
	if (sv->watchers[c->watch_id] && --sv->watchers[c->watch_id] == 0 && (l = spawn_link_of(sv, c->watch_id)))
		spawn_link_send(sv, l, "0 unwatch %u\n", c->watch_id);
}

/* Gives back a connection's answer buffer (all of it was sent, or it is dropped). */
static void conn_out_free(struct spawn *sv, struct conn *c)
{
	sv->out_held -= c->out.cap;
	free(c->out.buf);
	c->out = (struct outbuf){ 0 };
}

static void conn_close(struct spawn *sv, struct conn *c)
{
	conn_unwatch(sv, c);
	close(c->fd);
	conn_out_free(sv, c);
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
static void conn_drop(struct spawn *sv, struct conn *c)
{
	conn_out_free(sv, c);
	c->closing = true;
	sv->clients_dropped++;
	shutdown(c->fd, SHUT_RDWR);
}

static void conn_reply(struct spawn *sv, struct conn *c, const char *s, size_t n)
{
	size_t cap = c->out.cap;

	if (c->closing)
		return;
	outbuf_put(&c->out, s, n);
	sv->out_held += c->out.cap - cap;
	if (c->out.len > CONN_OUT_MAX) {
		conn_drop(sv, c);
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
		conn_drop(sv, far);
		if (far == c)
			return;
	}
}

static void conn_printf(struct spawn *sv, struct conn *c, const char *fmt, ...)
{
	char tmp[1024];
	va_list ap;
	int n;

	va_start(ap, fmt);
	n = vsnprintf(tmp, sizeof(tmp), fmt, ap);
	va_end(ap);
	conn_reply(sv, c, tmp, n < (int)sizeof(tmp) ? (size_t)n : sizeof(tmp) - 1);
}

/* ---- requests ---- */

/*
 * Pending requests live in a table indexed by tag % npend: a new tag is
 * picked so that its slot is free, and an answer finds its request in one
 * step. There is one slot per connection and then some, and a connection
 * has at most one request pending, so a free slot always exists.
 */
static struct pending *pend_new(struct spawn *sv, struct conn *c, int kind, u32 remaining)
{
	for (u32 tries = 0; tries < sv->npend; tries++) {
		u32 tag = ++sv->next_tag;
		struct pending *p = &sv->pend[tag % sv->npend];

		if (tag == 0 || p->remaining)
			continue;
		free(p->text.buf);
		*p = (struct pending){
			.tag = tag, .conn = (u32)(c - sv->conns), .gen = c->gen, .remaining = remaining, .kind = kind
		};
		c->waiting = true;
		return p;
	}
	return NULL;
}

static struct pending *pend_find(struct spawn *sv, u32 tag)
{
	struct pending *p = &sv->pend[tag % sv->npend];

	return p->remaining && p->tag == tag ? p : NULL;
}

/* The answer to a pending request is complete: give it to its client. */
static void pend_finish(struct spawn *sv, struct pending *p)
{
	struct conn *c = &sv->conns[p->conn];

	p->remaining = 0;
	if (!c->used || c->gen != p->gen)
		return; /* the client went away meanwhile */
	conn_reply(sv, c, p->text.buf, p->text.len);
	c->waiting = false;
	control_process(sv, c);
	control_arm(sv, c);
}

/* Handles one request line from a client. */
static void conn_request(struct spawn *sv, struct conn *c, char *line, size_t len)
{
	struct proto_req r;
	const char *err;
	struct pending *p;

	if (proto_parse(line, len, &r, &err) < 0) {
		conn_printf(sv, c, "error %s\n", err);
		return;
	}
	if (r.cmd == PROTO_STOP && !r.has_id) {
		conn_printf(sv, c, "ok\n");
		if (!sv->stopping)
			snprintf(sv->stop_reason, sizeof(sv->stop_reason), "stopped by a client");
		sv->stopping = true;
		return;
	}
	if (r.cmd == PROTO_LIST || r.cmd == PROTO_STATS) {
		u32 live = 0;

		for (u32 i = 0; i < sv->nlinks; i++)
			live += !sv->links[i].dead;
		if (r.cmd == PROTO_LIST && r.arg && r.arg_len == 4 && memcmp(r.arg, "lost", 4) == 0) {
			conn_printf(sv, c, "ok ");
			char *buf = malloc(16 * (size_t)sv->o->count + 16);
			size_t n = 0;

			for (u32 i = 0; buf && i < sv->o->count;) {
				u32 j = i;

				if (!(sv->gflags[i] & G_LOST)) {
					i++;
					continue;
				}
				while (j + 1 < sv->o->count && (sv->gflags[j + 1] & G_LOST))
					j++;
				n += (size_t)sprintf(buf + n, n ? ",%u" : "%u", i);
				if (j > i)
					n += (size_t)sprintf(buf + n, "-%u", j);
				i = j + 1;
			}
			if (buf)
				conn_reply(sv, c, buf, n);
			free(buf);
			conn_printf(sv, c, "\n");
			return;
		}
		p = live ? pend_new(sv, c,
				    r.cmd == PROTO_STATS ? PEND_STATS
				    : r.arg		 ? PEND_RANGES
							 : PEND_COUNTS,
				    live)
			 : NULL;
		if (!p) {
			conn_printf(sv, c, live ? "error busy\n" : "error no worker is alive\n");
			return;
		}
		if (p->kind == PEND_RANGES) {
			outbuf_printf(&p->text, "ok ");
			p->parts = calloc(sv->nlinks, sizeof(*p->parts));
		}
		for (u32 i = 0; i < sv->nlinks; i++) {
			if (sv->links[i].dead)
				continue;
			p->links_asked[i / 64] |= 1ull << (i % 64);
			spawn_link_send(sv, &sv->links[i], "%u %.*s\n", p->tag, (int)len, line);
		}
		return;
	}
	struct link *l = spawn_link_of(sv, r.id);

	if (!l) {
		conn_printf(sv, c, "error no such guest\n");
		return;
	}
	if (l->dead || (sv->gflags[r.id] & G_LOST)) {
		conn_printf(sv, c, "error guest lost\n");
		return;
	}
	p = pend_new(sv, c, PEND_FORWARD, 1);
	if (!p) {
		conn_printf(sv, c, "error busy\n");
		return;
	}
	if (r.cmd == PROTO_WATCH) {
		conn_unwatch(sv, c); /* one watched guest per connection */
		c->watching = true;
		c->watch_id = r.id;
		sv->watchers[r.id]++;
	}
	p->links_asked[(l - sv->links) / 64] |= 1ull << ((u32)(l - sv->links) % 64);
	spawn_link_send(sv, l, "%u %.*s\n", p->tag, (int)len, line);
}

/* Takes whole lines from what the client sent, one request at a time:
 * the next is not started before the previous one was answered. */
void control_process(struct spawn *sv, struct conn *c)
{
	while (!c->waiting && !c->closing && c->rpos < c->rlen) {
		u8 *start = c->rbuf + c->rpos, *nl = memchr(start, '\n', c->rlen - c->rpos);

		if (!nl) {
			if (c->rlen - c->rpos > PROTO_LINE_MAX) {
				if (!c->skipping)
					conn_printf(sv, c, "error line too long\n");
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
		sqe = spawn_sqe(sv);
		io_uring_prep_poll_add(sqe, c->fd, POLLOUT);
		io_uring_sqe_set_data64(sqe, UD(K_CONN_POLL, c->gen, i));
		c->poll_busy = true;
	}
	conn_out_fit(sv, c);
	if (c->closing && !c->out.len && !c->read_busy && !c->poll_busy) {
		conn_close(sv, c);
		return;
	}
	/* Read more only when the buffered lines are done and there is room. */
	if (!c->read_busy && !c->closing && !c->waiting && c->rlen < sizeof(c->rbuf) - 1) {
		sqe = spawn_sqe(sv);
		io_uring_prep_recv(sqe, c->fd, c->rbuf + c->rlen, sizeof(c->rbuf) - 1 - c->rlen, 0);
		io_uring_sqe_set_data64(sqe, UD(K_CONN_READ, c->gen, i));
		c->read_busy = true;
	}
}

void control_accept_arm(struct spawn *sv)
{
	struct io_uring_sqe *sqe;

	if (sv->accept_busy || sv->listen_fd < 0)
		return;
	sqe = spawn_sqe(sv);
	io_uring_prep_accept(sqe, sv->listen_fd, NULL, NULL, SOCK_CLOEXEC);
	io_uring_sqe_set_data64(sqe, UD(K_ACCEPT, 0, 0));
	sv->accept_busy = true;
}

void control_accepted(struct spawn *sv, int fd)
{
	struct ucred cred;
	socklen_t len = sizeof(cred);
	struct conn *c = NULL;

	sv->accept_busy = false;
	control_accept_arm(sv);
	if (fd < 0)
		return;
	/* Only our own user may steer our guests. */
	if (getsockopt(fd, SOL_SOCKET, SO_PEERCRED, &cred, &len) < 0 || cred.uid != geteuid()) {
		static const char msg[] = "error permission denied\n";

		if (send(fd, msg, sizeof(msg) - 1, MSG_NOSIGNAL | MSG_DONTWAIT) < 0)
			(void)0;
		close(fd);
		return;
	}
	for (u32 i = 0; i < sv->nconns; i++)
		if (!sv->conns[i].used) {
			c = &sv->conns[i];
			break;
		}
	if (!c) {
		static const char msg[] = "error too many connections\n";

		if (send(fd, msg, sizeof(msg) - 1, MSG_NOSIGNAL | MSG_DONTWAIT) < 0)
			(void)0;
		close(fd);
		return;
	}
	u32 gen = c->gen;

	memset(c, 0, sizeof(*c));
	c->gen = gen;
	c->fd = fd;
	c->used = true;
	control_arm(sv, c);
}

/* One shard's part of a fanned-out answer: "ok k=v k=v ..." or "ok RANGES". */
/* ---- answers from the shards ---- */

static const char *const stat_names[PEND_SUMS] = {
	"exits",     "io_exits",    "hlts",	    "irqs",	  "kicks",	  "unknown_ports", "mmio",
	"out_bytes", "in_bytes",    "overruns",	    "out_dropped", "pit_irqs",	  "pit_clamped",   "slices",
	"preempted", "create_failed", "pool",	    "parks",	  "resumes",	  "pool_hits",	   "resume_failed",
	"vms_created", "parked_bytes", "cq_overflows", "throttles",
};
static const char *const count_names[] = { "running", "halted", "parked", "ended", "failed", "silent" };

static void pend_gather(struct pending *p, u32 link, const char *rest, size_t len)
{
	if (strncmp(rest, "ok", 2) != 0) {
		p->failed = true;
		return;
	}
	if (p->kind == PEND_RANGES) {
		/* Kept per shard, joined in id order when all have answered. */
		if (len > 3 && p->parts)
			outbuf_put(&p->parts[link], rest + 3, len - 3);
		return;
	}
	/* PEND_COUNTS and PEND_STATS: sum the k-th "k=v" of every shard */
	for (int k = 0; k < (p->kind == PEND_STATS ? PEND_SUMS : (int)ARRAY_SIZE(count_names)); k++) {
		const char *key = p->kind == PEND_STATS ? stat_names[k] : count_names[k];
		char pat[32];
		const char *v;

		snprintf(pat, sizeof(pat), " %s=", key);
		v = strstr(rest, pat);
		if (v)
			p->sums[k] += strtoull(v + strlen(pat), NULL, 10);
	}
}

/* ---- the socket ---- */

/*
 * The socket lives in a directory only we can enter (0700, ours, not a
 * symlink) and is itself 0600: the file system keeps other users out
 * before SO_PEERCRED does.
 */
int control_listen(struct spawn *sv, char *err, size_t errlen)
{
	struct sockaddr_un addr = { .sun_family = AF_UNIX };
	char dir[sizeof(sv->path)];
	struct stat st;
	char *slash;
	mode_t old;
	int fd;

	if (sv->o->socket)
		snprintf(sv->path, sizeof(sv->path), "%s", sv->o->socket);
	else if (control_default_path(sv->path, sizeof(sv->path)) < 0) {
		snprintf(err, errlen, "no place for the control socket: set XDG_RUNTIME_DIR or use --socket");
		return -1;
	}
	if (strlen(sv->path) >= sizeof(addr.sun_path)) {
		snprintf(err, errlen, "%s: socket path too long", sv->path);
		return -1;
	}
	snprintf(dir, sizeof(dir), "%s", sv->path);
	slash = strrchr(dir, '/');
	if (slash && slash != dir) {
		*slash = '\0';
		if (mkdir(dir, 0700) < 0 && errno != EEXIST) {
			snprintf(err, errlen, "%s: cannot create: %s", dir, strerror(errno));
			return -1;
		}
		if (lstat(dir, &st) < 0 || !S_ISDIR(st.st_mode) || st.st_uid != geteuid()) {
			snprintf(err, errlen,
				 "%s: refusing a socket directory that is a symlink, not a directory, "
				 "or owned by another user",
				 dir);
			return -1;
		}
	}
	if (lstat(sv->path, &st) == 0) {
		int probe;

		if (S_ISLNK(st.st_mode) || !S_ISSOCK(st.st_mode) || st.st_uid != geteuid()) {
			snprintf(err, errlen, "%s: refusing: it exists and is %s", sv->path,
				 S_ISLNK(st.st_mode)	 ? "a symlink"
				 : !S_ISSOCK(st.st_mode) ? "not a socket"
							 : "another user's");
			return -1;
		}
		probe = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
		memcpy(addr.sun_path, sv->path, strlen(sv->path) + 1);
		if (connect(probe, (struct sockaddr *)&addr, sizeof(addr)) == 0) {
			close(probe);
			snprintf(err, errlen, "%s: another kvmlite spawn is serving this socket", sv->path);
			return -1;
		}
		close(probe);
		unlink(sv->path); /* stale: left by a spawn that was killed */
	}
	fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
	memcpy(addr.sun_path, sv->path, strlen(sv->path) + 1);
	old = umask(0177); /* the socket file: 0600 */
	if (fd < 0 || bind(fd, (struct sockaddr *)&addr, sizeof(addr)) < 0 || listen(fd, 1024) < 0) {
		umask(old);
		snprintf(err, errlen, "%s: cannot listen: %s", sv->path, strerror(errno));
		if (fd >= 0)
			close(fd);
		return -1;
	}
	umask(old);
	sv->listen_fd = fd;
	return 0;
}

/* "TAG ok ..." or "TAG error ...": a shard's answer to a pending request. */
void control_answer(struct spawn *sv, struct link *l, char *line, size_t len)
{
	struct pending *p;
	char *rest;
	u32 tag;

	tag = (u32)strtoul(line, &rest, 10);
	p = pend_find(sv, tag);
	if (!p || *rest != ' ')
		return;
	rest++;
	len -= (size_t)(rest - line);
	{
		u32 li = (u32)(l - sv->links);

		if (!(p->links_asked[li / 64] & (1ull << (li % 64))))
			return; /* already answered for (its worker died meanwhile) */
		p->links_asked[li / 64] &= ~(1ull << (li % 64));
	}
	if (p->kind == PEND_FORWARD) {
		outbuf_put(&p->text, rest, len);
		outbuf_put(&p->text, "\n", 1);
	} else {
		pend_gather(p, (u32)(l - sv->links), rest, len);
	}
	if (--p->remaining)
		return;
	if (p->kind == PEND_STATS) {
		outbuf_printf(&p->text, "ok ");
		spawn_stats_json(sv, &p->text, p->sums, stat_names, PEND_SUMS);
		outbuf_printf(&p->text, "\n");
	} else if (p->kind == PEND_COUNTS) {
		outbuf_printf(&p->text,
			      "ok running=%llu halted=%llu parked=%llu ended=%llu failed=%llu silent=%llu lost=%u "
			      "booted=%u\n",
			      (unsigned long long)p->sums[0], (unsigned long long)p->sums[1],
			      (unsigned long long)p->sums[2], (unsigned long long)p->sums[3],
			      (unsigned long long)p->sums[4], (unsigned long long)p->sums[5], sv->lost, sv->booted);
	} else if (p->kind == PEND_RANGES) {
		for (u32 i = 0; p->parts && i < sv->nlinks; i++) {
			if (p->parts[i].len) {
				if (p->text.len > 3) /* after "ok " */
					outbuf_put(&p->text, ",", 1);
				outbuf_put(&p->text, p->parts[i].buf, p->parts[i].len);
			}
			free(p->parts[i].buf);
		}
		free(p->parts);
		p->parts = NULL;
		outbuf_put(&p->text, "\n", 1);
	}
	pend_finish(sv, p);
}

/* A watched guest wrote: "out ID DATA" to every connection watching it. */
void control_watch_output(struct spawn *sv, u32 id, const char *data)
{
	for (u32 i = 0; i < sv->nconns; i++) {
		struct conn *c = &sv->conns[i];

		if (c->used && !c->closing && c->watching && c->watch_id == id) {
			/* DATA may be 16 KiB: not through conn_printf's buffer */
			conn_printf(sv, c, "out %u", id);
			conn_reply(sv, c, data, strlen(data));
			conn_reply(sv, c, "\n", 1);
			control_arm(sv, c);
		}
	}
}
