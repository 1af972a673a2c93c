/* spawn.c - `kvmlite spawn N`: sizes shards to the host's limits, forks workers, serves the control socket, sums up. */
#define _GNU_SOURCE /* SO_PEERCRED, struct ucred */
#include <errno.h>
#include <fcntl.h>
#include <liburing.h>
#include <poll.h>
#include <pthread.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/resource.h>
#include <sys/signalfd.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <sys/wait.h>
#include <unistd.h>

#include "client.h"
#include "hostinfo.h"
#include "shard.h"
#include "spawn.h"

#define SIG_KICK SIGRTMIN
#define MAX_LINKS 256		  /* shards at most: worker processes x threads */
#define MAX_CONNS 4096		  /* client connections at once; more wait in the backlog */
#define CONN_OUT_MAX (16u << 20)  /* a client that reads nothing is dropped past this */
#define FD_RESERVE 64		  /* fds a worker keeps for itself: ring, sockets, stdio */
#define TICK_NS 200000000ull	  /* progress line and memory budget checks */
#define PID_RESERVE 4096	  /* PIDs left to the host: a tick's worth of creation and then some */

/* io_uring user_data: kind in the top byte, generation, index */
enum { K_ACCEPT = 1, K_CONN_READ, K_CONN_POLL, K_LINK_READ, K_SIGNAL, K_TICK };
#define UD(kind, gen, idx) (((u64)(kind) << 56) | ((u64)((gen) & 0xffffff) << 32) | (u32)(idx))
#define UD_KIND(ud) ((int)((ud) >> 56))
#define UD_GEN(ud) ((u32)(((ud) >> 32) & 0xffffff))
#define UD_IDX(ud) ((u32)(ud))

/* A growable output buffer written with non-blocking write(): the kernel
 * never holds a pointer into it, so it may move. */
struct outbuf {
	char *buf;
	size_t len, cap;
};

/* One shard, seen from the supervisor: a socket to a worker thread. */
struct link {
	int fd;
	pid_t pid;
	u32 first, count, created;
	bool dead, read_busy, poll_busy;
	struct line_buf lines;
	struct outbuf out;
	u8 rbuf[65536];
};

struct conn {
	int fd;
	u32 gen;
	bool used, read_busy, poll_busy, closing, waiting; /* waiting: an answer is owed */
	bool watching;
	u32 watch_id;
	size_t rlen, rpos;
	bool skipping; /* inside a line that was too long */
	u8 rbuf[PROTO_LINE_MAX + 2];
	struct outbuf out;
};

/* A request forwarded to one shard, or fanned out to all of them. */
enum { PEND_FORWARD, PEND_COUNTS, PEND_RANGES, PEND_STATS };
struct pending {
	u32 tag;
	u32 conn, gen;
	u32 remaining;
	u64 links_asked[MAX_LINKS / 64]; /* which shards still owe a part */
	int kind; /* PEND_*: how the shards' answers are put together */
	bool failed;
	u64 sums[16];
	struct outbuf *parts; /* PEND_RANGES: each shard's ranges */
	struct outbuf text;
};

struct spawn {
	const struct spawn_opts *o;
	struct kvm kvm;
	struct guest_image images[8];
	struct link *links;
	u32 nlinks, procs, threads;
	pid_t *pids;
	u16 *watchers; /* per guest: connections watching it */
	u8 *gflags; /* per guest: */
#define G_BOOTED 1
#define G_ENDED 2
#define G_FAILED 4
#define G_LOST 8
	u32 booted, ended, failed, lost, created;
	u32 lost_live; /* lost guests that had been created (were live) */
	char fail_reason[8][128];
	u32 fail_count[8];
	struct conn *conns;
	u32 nconns;
	struct pending *pend;
	u32 npend, next_tag;
	int listen_fd, sig_fd, log_fd;
	char path[108];
	struct io_uring ring;
	struct __kernel_timespec tick_ts;
	u64 t0, t_booted, t_last_progress, stop_at;
	bool stopping, tty, create_stopped, accept_busy;
	char stop_reason[128];
	struct meminfo mem0;
	struct cpustat cpu_booted;
	u64 vmm_ticks_booted; /* CPU time of all kvmlite processes when all had booted */
	u8 sigbuf[sizeof(struct signalfd_siginfo)];
};

/* ---- small helpers ---- */

static void out_put(struct outbuf *b, const char *s, size_t n)
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

static void out_printf(struct outbuf *b, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static void out_printf(struct outbuf *b, const char *fmt, ...)
{
	char tmp[1024];
	va_list ap;
	int n;

	va_start(ap, fmt);
	n = vsnprintf(tmp, sizeof(tmp), fmt, ap);
	va_end(ap);
	out_put(b, tmp, n < (int)sizeof(tmp) ? (size_t)n : sizeof(tmp) - 1);
}

/* Writes what it can now; returns false when the rest must wait for POLLOUT. */
static bool out_flush(int fd, struct outbuf *b)
{
	size_t done = 0;

	while (done < b->len) {
		ssize_t n = send(fd, b->buf + done, b->len - done, MSG_NOSIGNAL | MSG_DONTWAIT);

		if (n < 0 && errno == EINTR)
			continue;
		if (n <= 0)
			break;
		done += (size_t)n;
	}
	memmove(b->buf, b->buf + done, b->len - done);
	b->len -= done;
	return b->len == 0;
}

static struct io_uring_sqe *sv_sqe(struct spawn *sv)
{
	struct io_uring_sqe *sqe = io_uring_get_sqe(&sv->ring);

	if (!sqe) {
		io_uring_submit(&sv->ring);
		sqe = io_uring_get_sqe(&sv->ring);
	}
	return sqe;
}

/* ---- links to the shards ---- */

static struct link *link_of(struct spawn *sv, u32 id)
{
	for (u32 i = 0; i < sv->nlinks; i++)
		if (id - sv->links[i].first < sv->links[i].count)
			return &sv->links[i];
	return NULL;
}

static void link_arm(struct spawn *sv, struct link *l)
{
	u32 i = (u32)(l - sv->links);
	struct io_uring_sqe *sqe;

	if (l->dead)
		return;
	if (!l->read_busy) {
		sqe = sv_sqe(sv);
		io_uring_prep_read(sqe, l->fd, l->rbuf, sizeof(l->rbuf), 0);
		io_uring_sqe_set_data64(sqe, UD(K_LINK_READ, 0, i));
		l->read_busy = true;
	}
	if (l->out.len && !out_flush(l->fd, &l->out) && !l->poll_busy) {
		sqe = sv_sqe(sv);
		io_uring_prep_poll_add(sqe, l->fd, POLLOUT);
		io_uring_sqe_set_data64(sqe, UD(K_LINK_READ + 100, 0, i));
		l->poll_busy = true;
	}
}

static void link_send(struct spawn *sv, struct link *l, const char *fmt, ...) __attribute__((format(printf, 3, 4)));
static void link_send(struct spawn *sv, struct link *l, const char *fmt, ...)
{
	char tmp[PROTO_LINE_MAX + 64];
	va_list ap;
	int n;

	if (l->dead)
		return;
	va_start(ap, fmt);
	n = vsnprintf(tmp, sizeof(tmp), fmt, ap);
	va_end(ap);
	out_put(&l->out, tmp, n < (int)sizeof(tmp) ? (size_t)n : sizeof(tmp) - 1);
	link_arm(sv, l);
}

/* ---- client connections ---- */

static void conn_arm(struct spawn *sv, struct conn *c);

/* A guest's output streams while anyone watches it: unwatch with the last. */
static void conn_unwatch(struct spawn *sv, struct conn *c)
{
	struct link *l;

	if (!c->watching)
		return;
	c->watching = false;
	if (sv->watchers[c->watch_id] && --sv->watchers[c->watch_id] == 0 && (l = link_of(sv, c->watch_id)))
		link_send(sv, l, "0 unwatch %u\n", c->watch_id);
}

static void conn_close(struct spawn *sv, struct conn *c)
{
	conn_unwatch(sv, c);
	close(c->fd);
	free(c->out.buf);
	c->out = (struct outbuf){ 0 };
	c->used = false;
	c->gen++;
}

static void conn_reply(struct spawn *sv, struct conn *c, const char *s, size_t n)
{
	if (c->closing)
		return;
	out_put(&c->out, s, n);
	if (c->out.len > CONN_OUT_MAX) {
		/* It stopped reading: drop what it did not take and hang up;
		 * the shutdown completes its pending poll, then it is closed. */
		c->out.len = 0;
		c->closing = true;
		shutdown(c->fd, SHUT_RDWR);
	}
}

static void conn_printf(struct spawn *sv, struct conn *c, const char *fmt, ...) __attribute__((format(printf, 3, 4)));
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
		*p = (struct pending){ .tag = tag, .conn = (u32)(c - sv->conns), .gen = c->gen, .remaining = remaining,
				       .kind = kind };
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

static void conn_process(struct spawn *sv, struct conn *c);

/* The answer to a pending request is complete: give it to its client. */
static void pend_finish(struct spawn *sv, struct pending *p)
{
	struct conn *c = &sv->conns[p->conn];

	p->remaining = 0;
	if (!c->used || c->gen != p->gen)
		return; /* the client went away meanwhile */
	conn_reply(sv, c, p->text.buf, p->text.len);
	c->waiting = false;
	conn_process(sv, c);
	conn_arm(sv, c);
}

static void stats_json(struct spawn *sv, struct outbuf *b, const u64 *sums, const char *const *names, int n);
static void sv_check_booted(struct spawn *sv);
static u64 sv_vmm_ticks(struct spawn *sv);
static u32 sv_live(const struct spawn *sv);

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
		p = live ? pend_new(sv, c, r.cmd == PROTO_STATS ? PEND_STATS : r.arg ? PEND_RANGES : PEND_COUNTS, live)
			 : NULL;
		if (!p) {
			conn_printf(sv, c, live ? "error busy\n" : "error no worker is alive\n");
			return;
		}
		if (p->kind == PEND_RANGES) {
			out_printf(&p->text, "ok ");
			p->parts = calloc(sv->nlinks, sizeof(*p->parts));
		}
		for (u32 i = 0; i < sv->nlinks; i++) {
			if (sv->links[i].dead)
				continue;
			p->links_asked[i / 64] |= 1ull << (i % 64);
			link_send(sv, &sv->links[i], "%u %.*s\n", p->tag, (int)len, line);
		}
		return;
	}
	struct link *l = link_of(sv, r.id);

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
	link_send(sv, l, "%u %.*s\n", p->tag, (int)len, line);
}

/* Takes whole lines from what the client sent, one request at a time:
 * the next is not started before the previous one was answered. */
static void conn_process(struct spawn *sv, struct conn *c)
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

static void conn_arm(struct spawn *sv, struct conn *c)
{
	u32 i = (u32)(c - sv->conns);
	struct io_uring_sqe *sqe;

	if (!c->used)
		return;
	if (c->out.len && !out_flush(c->fd, &c->out) && !c->poll_busy) {
		sqe = sv_sqe(sv);
		io_uring_prep_poll_add(sqe, c->fd, POLLOUT);
		io_uring_sqe_set_data64(sqe, UD(K_CONN_POLL, c->gen, i));
		c->poll_busy = true;
	}
	if (c->closing && !c->out.len && !c->read_busy && !c->poll_busy) {
		conn_close(sv, c);
		return;
	}
	/* Read more only when the buffered lines are done and there is room. */
	if (!c->read_busy && !c->closing && !c->waiting && c->rlen < sizeof(c->rbuf) - 1) {
		sqe = sv_sqe(sv);
		io_uring_prep_recv(sqe, c->fd, c->rbuf + c->rlen, sizeof(c->rbuf) - 1 - c->rlen, 0);
		io_uring_sqe_set_data64(sqe, UD(K_CONN_READ, c->gen, i));
		c->read_busy = true;
	}
}

static void sv_accept_arm(struct spawn *sv)
{
	struct io_uring_sqe *sqe;

	if (sv->accept_busy || sv->listen_fd < 0)
		return;
	sqe = sv_sqe(sv);
	io_uring_prep_accept(sqe, sv->listen_fd, NULL, NULL, SOCK_CLOEXEC);
	io_uring_sqe_set_data64(sqe, UD(K_ACCEPT, 0, 0));
	sv->accept_busy = true;
}

static void sv_accepted(struct spawn *sv, int fd)
{
	struct ucred cred;
	socklen_t len = sizeof(cred);
	struct conn *c = NULL;

	sv->accept_busy = false;
	sv_accept_arm(sv);
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
	conn_arm(sv, c);
}

/* ---- what the shards say ---- */

static void sv_fail_reason(struct spawn *sv, const char *why)
{
	/* Group reasons without their guest-specific tail (addresses). */
	char key[128];
	size_t n = strcspn(why, "(");

	snprintf(key, sizeof(key), "%.*s", (int)(n < sizeof(key) - 1 ? n : sizeof(key) - 1), why);
	for (int i = 0; i < 8; i++) {
		if (sv->fail_count[i] && strcmp(sv->fail_reason[i], key) == 0) {
			sv->fail_count[i]++;
			return;
		}
		if (!sv->fail_count[i]) {
			snprintf(sv->fail_reason[i], sizeof(sv->fail_reason[i]), "%s", key);
			sv->fail_count[i] = 1;
			return;
		}
	}
}

/* Unsolicited news from a shard: "@created N", "@boot ID", "@end ID STATE WHY", "@out ID DATA". */
static void sv_shard_event(struct spawn *sv, struct link *l, char *line)
{
	char *arg = strchr(line, ' ');
	u32 id = arg ? (u32)strtoul(arg + 1, &arg, 10) : 0;

	if (strncmp(line, "@created ", 9) == 0) {
		sv->created += id - l->created;
		l->created = id;
	} else if (strncmp(line, "@boot ", 6) == 0 && id < sv->o->count && !(sv->gflags[id] & G_BOOTED)) {
		sv->gflags[id] |= G_BOOTED;
		sv->booted++;
	} else if (strncmp(line, "@end ", 5) == 0 && id < sv->o->count && !(sv->gflags[id] & G_ENDED)) {
		bool failed = strncmp(arg, " failed ", 8) == 0;

		sv->gflags[id] |= G_ENDED | (failed ? G_FAILED : 0);
		sv->ended++;
		if (failed) {
			sv->failed++;
			sv_fail_reason(sv, arg + 8);
		}
	} else if (strncmp(line, "@out ", 5) == 0) {
		for (u32 i = 0; i < sv->nconns; i++) {
			struct conn *c = &sv->conns[i];

			if (c->used && !c->closing && c->watching && c->watch_id == id) {
				/* DATA may be 16 KiB: not through conn_printf's buffer */
				conn_printf(sv, c, "out %u", id);
				conn_reply(sv, c, arg, strlen(arg));
				conn_reply(sv, c, "\n", 1);
				conn_arm(sv, c);
			}
		}
	} else if (strncmp(line, "@fatal ", 7) == 0) {
		fprintf(stderr, "kvmlite: %s\n", line + 7);
	}
}

static const char *const stat_names[] = { "exits",	 "io_exits",	  "hlts",	 "irqs",
					   "kicks",	 "unknown_ports", "mmio",	 "out_bytes",
					   "in_bytes",	 "overruns",	  "out_dropped", "pit_irqs",
					   "pit_clamped", "slices",	  "preempted",	 "create_failed" };

/* One shard's part of a fanned-out answer: "ok k=v k=v ..." or "ok RANGES". */
static void pend_gather(struct pending *p, u32 link, const char *rest, size_t len)
{
	if (strncmp(rest, "ok", 2) != 0) {
		p->failed = true;
		return;
	}
	if (p->kind == PEND_RANGES) {
		/* Kept per shard, joined in id order when all have answered. */
		if (len > 3 && p->parts)
			out_put(&p->parts[link], rest + 3, len - 3);
		return;
	}
	/* PEND_COUNTS and PEND_STATS: sum the k-th "k=v" of every shard */
	for (int k = 0; k < 16; k++) {
		const char *key = p->kind == PEND_STATS ? stat_names[k] : (const char *[]){ "running", "halted",
											   "ended", "failed" }[k & 3];
		char pat[32];
		const char *v;

		if (p->kind == PEND_COUNTS && k >= 4)
			break;
		snprintf(pat, sizeof(pat), " %s=", key);
		v = strstr(rest, pat);
		if (v)
			p->sums[k] += strtoull(v + strlen(pat), NULL, 10);
	}
}

static void sv_shard_line(void *ctx, char *line, size_t len)
{
	struct spawn *sv = ((void **)ctx)[0];
	struct link *l = ((void **)ctx)[1];
	struct pending *p;
	char *rest;
	u32 tag;

	if (line[0] == '@') {
		sv_shard_event(sv, l, line);
		sv_check_booted(sv);
		return;
	}
	/* "TAG ok ..." or "TAG error ...": an answer to a pending request */
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
		out_put(&p->text, rest, len);
		out_put(&p->text, "\n", 1);
	} else {
		pend_gather(p, (u32)(l - sv->links), rest, len);
	}
	if (--p->remaining)
		return;
	if (p->kind == PEND_STATS) {
		out_printf(&p->text, "ok ");
		stats_json(sv, &p->text, p->sums, stat_names, 16);
		out_printf(&p->text, "\n");
	} else if (p->kind == PEND_COUNTS) {
		out_printf(&p->text, "ok running=%llu halted=%llu ended=%llu failed=%llu lost=%u booted=%u\n",
			   (unsigned long long)p->sums[0], (unsigned long long)p->sums[1],
			   (unsigned long long)p->sums[2], (unsigned long long)p->sums[3], sv->lost, sv->booted);
	} else if (p->kind == PEND_RANGES) {
		for (u32 i = 0; p->parts && i < sv->nlinks; i++) {
			if (p->parts[i].len) {
				if (p->text.len > 3) /* after "ok " */
					out_put(&p->text, ",", 1);
				out_put(&p->text, p->parts[i].buf, p->parts[i].len);
			}
			free(p->parts[i].buf);
		}
		free(p->parts);
		p->parts = NULL;
		out_put(&p->text, "\n", 1);
	}
	pend_finish(sv, p);
}

static void sv_link_dead(struct spawn *sv, struct link *l)
{
	if (l->dead)
		return;
	l->dead = true;
	/* Requests that wait on it are answered: forwarded ones with an
	 * error, fanned-out ones with what the other shards said. */
	for (u32 i = 0; i < sv->npend; i++) {
		struct pending *p = &sv->pend[i];
		char line[32];

		u32 li = (u32)(l - sv->links);

		if (!p->remaining || !(p->links_asked[li / 64] & (1ull << (li % 64))))
			continue;
		snprintf(line, sizeof(line), "%u %s", p->tag, p->kind == PEND_FORWARD ? "error guest lost" : "ok");
		sv_shard_line((void *[]){ sv, l }, line, strlen(line));
	}
}

static void sv_link_read(struct spawn *sv, struct link *l, int res)
{
	l->read_busy = false;
	if (res <= 0) {
		sv_link_dead(sv, l);
		return;
	}
	line_buf_feed(&l->lines, l->rbuf, (size_t)res, sv_shard_line, (void *[]){ sv, l });
	link_arm(sv, l);
}

/* A worker process died: its guests are lost, the others go on. */
static void sv_reap_children(struct spawn *sv)
{
	int status;
	pid_t pid;

	while ((pid = waitpid(-1, &status, WNOHANG)) > 0) {
		u32 lost = 0, lo = UINT32_MAX, hi = 0;

		for (u32 i = 0; i < sv->nlinks; i++) {
			struct link *l = &sv->links[i];

			if (l->pid != pid)
				continue;
			for (u32 id = l->first; id < l->first + l->count; id++) {
				if (!(sv->gflags[id] & (G_ENDED | G_LOST))) {
					sv->gflags[id] |= G_LOST;
					lost++;
					/* only a created guest was live; the rest never will be */
					sv->lost_live += id - l->first < l->created;
				}
			}
			lo = l->first < lo ? l->first : lo;
			hi = l->first + l->count - 1 > hi ? l->first + l->count - 1 : hi;
			sv_link_dead(sv, l);
		}
		for (u32 p = 0; p < sv->procs; p++)
			if (sv->pids[p] == pid)
				sv->pids[p] = 0;
		sv->lost += lost;
		if (!sv->stopping) {
			if (WIFSIGNALED(status))
				fprintf(stderr, "%skvmlite: worker %d (guests %u-%u) killed by signal %d: %u guests lost\n",
					sv->tty ? "\r\033[K" : "", (int)pid, lo, hi, WTERMSIG(status), lost);
			else
				fprintf(stderr, "%skvmlite: worker %d (guests %u-%u) exited with %d: %u guests lost\n",
					sv->tty ? "\r\033[K" : "", (int)pid, lo, hi, WEXITSTATUS(status), lost);
		}
	}
}

/* ---- stats, progress, summary ---- */

static void stats_json(struct spawn *sv, struct outbuf *b, const u64 *sums, const char *const *names, int n)
{
	u32 running = sv_live(sv);

	out_printf(b, "{\"guests\":%u,\"created\":%u,\"booted\":%u,\"live\":%u,\"ended\":%u,\"failed\":%u,\"lost\":%u",
		   sv->o->count, sv->created, sv->booted, running, sv->ended - sv->failed, sv->failed, sv->lost);
	out_printf(b, ",\"workers\":%u,\"threads_per_worker\":%u,\"kvm_backend\":\"%s\",\"worker_pids\":[", sv->procs,
		   sv->threads, sv->kvm.backend);
	for (u32 p = 0; p < sv->procs; p++)
		out_printf(b, "%s%d", p ? "," : "", (int)sv->pids[p]);
	out_printf(b, "]");
	for (int i = 0; i < n; i++)
		out_printf(b, ",\"%s\":%llu", names[i], (unsigned long long)sums[i]);
	out_printf(b, "}");
}

/* Guests holding KVM resources now. */
static u32 sv_live(const struct spawn *sv)
{
	u32 gone = sv->ended + sv->lost_live;

	return sv->created > gone ? sv->created - gone : 0;
}

static double sv_elapsed(const struct spawn *sv, u64 now)
{
	return (double)(now - sv->t0) / 1e9;
}

static void sv_progress(struct spawn *sv, u64 now)
{
	struct meminfo m;
	double t = sv_elapsed(sv, now), rate = t > 0 ? sv->booted / t : 0;

	if (!sv->tty || sv->o->json)
		return;
	meminfo_read(&m);
	if (sv->t_booted == 0) {
		u32 left = sv->o->count - sv->booted - sv->failed - sv->lost;

		fprintf(stderr,
			"\r\033[Kspawning: started %u  booted %u  failed %u  lost %u  %.0f/s  host memory %.0f%%  ETA %.0fs",
			sv->created, sv->booted, sv->failed, sv->lost, rate, meminfo_used_pct(&m),
			rate > 0 ? left / rate : 0.0);
	} else {
		fprintf(stderr, "\r\033[Kserving: %u guests live, %u ended, %u failed, %u lost  host memory %.0f%%  up %.0fs",
			sv_live(sv), sv->ended - sv->failed, sv->failed, sv->lost,
			meminfo_used_pct(&m), t);
	}
	fflush(stderr);
}

/* All workers' memory, KiB: resident, and anonymous (their own allocations). */
static void sv_worker_mem(struct spawn *sv, u64 *rss, u64 *anon)
{
	*rss = *anon = 0;
	for (u32 p = 0; p < sv->procs; p++) {
		u64 r, s;

		if (sv->pids[p] > 0 && proc_mem_kib(sv->pids[p], &r, &s) == 0) {
			*rss += r;
			*anon += s;
		}
	}
}

static void sv_summary(struct spawn *sv)
{
	struct meminfo m;
	struct cpustat cpu;
	u64 rss, anon, now = clock_now();
	u32 live = sv_live(sv);
	double boot_s = sv->t_booted ? (double)(sv->t_booted - sv->t0) / 1e9 : -1;
	double idle_cpu = -1, vmm_cpu = -1, avail_kib, kernel_kib;

	meminfo_read(&m);
	sv_worker_mem(sv, &rss, &anon);
	if (sv->t_booted && now - sv->t_booted > 1000000000ull && cpustat_read(&cpu) == 0) {
		long hz = sysconf(_SC_CLK_TCK), cpus = sysconf(_SC_NPROCESSORS_ONLN);

		idle_cpu = cpustat_busy_pct(&sv->cpu_booted, &cpu);
		/* kvmlite's own share: its processes' CPU time over the same window */
		vmm_cpu = 100.0 * (double)(sv_vmm_ticks(sv) - sv->vmm_ticks_booted) / (double)hz /
			  ((double)(now - sv->t_booted) / 1e9) / (double)cpus;
	}
	avail_kib = (double)sv->mem0.available_kib - (double)m.available_kib;
	/* What the host lost, minus what the VMM's processes allocated. */
	kernel_kib = avail_kib - (double)anon;
	if (sv->tty && !sv->o->json)
		fprintf(stderr, "\r\033[K");
	if (sv->o->json) {
		printf("{\"guests\":%u,\"created\":%u,\"booted\":%u,\"failed\":%u,\"lost\":%u,\"live_at_end\":%u,"
		       "\"time_to_all_booted_s\":%.3f,\"boot_rate_per_s\":%.1f,"
		       "\"vmm_userspace_kib_per_guest\":%.2f,\"vmm_rss_kib_per_guest\":%.2f,"
		       "\"kernel_kib_per_guest\":%.1f,\"slab_kib_per_guest\":%.1f,\"host_cpu_idle_pct\":%.2f,"
		       "\"vmm_cpu_idle_pct\":%.3f,"
		       "\"workers\":%u,\"threads_per_worker\":%u,\"kvm_backend\":\"%s\",\"stopped_by\":\"%s\","
		       "\"failures\":[",
		       sv->o->count, sv->created, sv->booted, sv->failed, sv->lost, live, boot_s,
		       boot_s > 0 ? sv->booted / boot_s : 0.0, live ? (double)anon / live : 0, live ? (double)rss / live : 0,
		       live ? kernel_kib / live : 0, live ? ((double)m.slab_kib - (double)sv->mem0.slab_kib) / live : 0,
		       idle_cpu, vmm_cpu, sv->procs, sv->threads, sv->kvm.backend, sv->stop_reason);
		for (int i = 0; i < 8 && sv->fail_count[i]; i++)
			printf("%s{\"reason\":\"%s\",\"count\":%u}", i ? "," : "", sv->fail_reason[i], sv->fail_count[i]);
		printf("]}\n");
		return;
	}
	printf("kvmlite spawn: %u of %u guests booted (first serial byte), %u failed, %u lost; %s\n", sv->booted,
	       sv->o->count, sv->failed, sv->lost, sv->stop_reason);
	if (boot_s >= 0)
		printf("  time to all booted   %.2f s (%.0f guests/s)\n", boot_s, sv->booted / boot_s);
	for (int i = 0; i < 8 && sv->fail_count[i]; i++)
		printf("  failed               %u: %s\n", sv->fail_count[i], sv->fail_reason[i]);
	if (live) {
		printf("  VMM userspace        %.1f KiB/guest (anonymous: guest pages, output rings, state)\n",
		       (double)anon / live);
		printf("  kernel               %.0f KiB/guest (MemAvailable drop minus VMM userspace), slab %.0f KiB;\n"
		       "                       of it %.1f KiB/guest of kvm_run pages mapped into the VMM (in its RSS)\n",
		       kernel_kib / live, ((double)m.slab_kib - (double)sv->mem0.slab_kib) / live,
		       (double)(rss - anon) / live);
	}
	if (idle_cpu >= 0)
		printf("  CPU since all booted %.2f%% of the host (all CPUs), of which kvmlite's processes %.3f%%\n",
		       idle_cpu, vmm_cpu);
	printf("  host                 %u worker processes x %u threads, KVM backend %s\n", sv->procs, sv->threads,
	       sv->kvm.backend);
}

/* ---- host limits and workers ---- */

/*
 * Each live guest holds one fd (its vCPU) and one mapping (kvm_run). A
 * process may hold RLIMIT_NOFILE fds (hard limit; it cannot be raised
 * here) and vm.max_map_count mappings: guests are sharded over enough
 * worker processes to stay inside both.
 */
static u32 sv_plan(struct spawn *sv)
{
	struct rlimit rl;
	long maps = host_read_long("/proc/sys/vm/max_map_count", 65530);
	long cpus = sysconf(_SC_NPROCESSORS_ONLN);
	u64 by_fd, by_map, per;

	getrlimit(RLIMIT_NOFILE, &rl);
	by_fd = rl.rlim_max == RLIM_INFINITY ? 1000000 : rl.rlim_max - FD_RESERVE;
	by_map = maps > 512 ? (u64)maps - 512 : 1;
	per = by_fd < by_map ? by_fd : by_map;
	if (sv->o->per_process && sv->o->per_process < per)
		per = sv->o->per_process;
	/*
	 * One single-threaded worker per CPU by default: creating a VM takes
	 * its process's mmap_lock for writing (mmu_notifier_register), so two
	 * threads of one process create VMs one at a time while two processes
	 * do not (measured: 2,400 vs 1,800 guests/s on 2 CPUs; docs/spawn.md).
	 */
	sv->procs = sv->o->workers ? sv->o->workers : (u32)(cpus > 0 ? cpus : 1);
	if (sv->procs < (sv->o->count + per - 1) / per)
		sv->procs = (u32)((sv->o->count + per - 1) / per);
	if (sv->procs > sv->o->count)
		sv->procs = sv->o->count;
	sv->threads = sv->o->threads ? sv->o->threads : 1;
	if (sv->procs * sv->threads > MAX_LINKS) {
		/* Not a host limit but ours: fewer, busier shards will do. */
		sv->threads = 1;
		if (sv->procs > MAX_LINKS)
			sv->procs = MAX_LINKS;
	}
	if (sv->threads > (sv->o->count + sv->procs - 1) / sv->procs)
		sv->threads = (sv->o->count + sv->procs - 1) / sv->procs;
	if (!sv->o->json && (long)sv->o->count > host_pids_left() - PID_RESERVE)
		fprintf(stderr,
			"kvmlite: kernel.pid_max %ld leaves PIDs for about %ld more live VMs (each has a kernel "
			"thread): root can raise it with sysctl kernel.pid_max=4194304\n",
			host_read_long("/proc/sys/kernel/pid_max", 32768), host_pids_left() - PID_RESERVE);
	if (!sv->o->json)
		fprintf(stderr,
			"kvmlite: RLIMIT_NOFILE %llu, vm.max_map_count %ld -> at most %llu guests per process "
			"(limited by %s): using %u worker process%s x %u threads\n",
			(unsigned long long)rl.rlim_max, maps, (unsigned long long)per,
			per < by_fd && per < by_map ? "--per-process" : by_fd <= by_map ? "open files" : "mappings", sv->procs, sv->procs == 1 ? "" : "es",
			sv->threads);
	return (u32)per;
}

static void worker_main(struct spawn *sv, u32 proc)
{
	struct rlimit rl;
	pthread_t tid[256];
	struct shard *shards;
	u32 n = 0, first = UINT32_MAX;
	sigset_t set;

	/* Die with the supervisor; Ctrl-C is the supervisor's to handle. */
	prctl(PR_SET_PDEATHSIG, SIGKILL);
	signal(SIGINT, SIG_IGN);
	signal(SIGPIPE, SIG_IGN);
	sigemptyset(&set);
	sigprocmask(SIG_SETMASK, &set, NULL);
	getrlimit(RLIMIT_NOFILE, &rl);
	rl.rlim_cur = rl.rlim_max;
	setrlimit(RLIMIT_NOFILE, &rl);
	vm_kick_install(SIG_KICK);
	close(sv->listen_fd); /* the supervisor's alone */
	shards = calloc(sv->threads, sizeof(*shards));
	for (u32 i = 0; i < sv->nlinks; i++) {
		struct link *l = &sv->links[i];

		if (l->pid != (pid_t)proc) { /* before fork, pid holds the process number */
			close(l->fd);
			continue;
		}
		if (shard_init(&shards[n], i, l->first, l->count, &sv->kvm, sv->images, sv->o->firmware, l->fd,
			       sv->log_fd) < 0) {
			fprintf(stderr, "kvmlite: %s\n", shards[n].err);
			_exit(1);
		}
		first = l->first < first ? l->first : first;
		n++;
	}
	for (u32 i = 0; i < n; i++)
		pthread_create(&tid[i], NULL, shard_main, &shards[i]);
	for (u32 i = 0; i < n; i++)
		pthread_join(tid[i], NULL);
	_exit(0);
}

static int sv_fork_workers(struct spawn *sv, u32 per_proc)
{
	u32 id = 0;

	sv->nlinks = sv->procs * sv->threads;
	sv->links = calloc(sv->nlinks, sizeof(*sv->links));
	sv->pids = calloc(sv->procs, sizeof(pid_t));
	for (u32 p = 0, li = 0; p < sv->procs; p++) {
		/* Even shares, each within per_proc since procs was sized so. */
		u32 in_proc = (sv->o->count - id + (sv->procs - p) - 1) / (sv->procs - p);

		if (in_proc > per_proc)
			in_proc = per_proc;
		for (u32 t = 0; t < sv->threads; t++, li++) {
			struct link *l = &sv->links[li];
			u32 share = (in_proc + sv->threads - 1 - t) / sv->threads;
			int sp[2];

			if (socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sp) < 0)
				return -1;
			l->fd = sp[0];
			l->pid = (pid_t)p;
			l->first = id;
			l->count = share;
			id += share;
			/* The worker's end, kept in a slot only the child reads. */
			l->out.len = (size_t)sp[1];
		}
	}
	for (u32 p = 0; p < sv->procs; p++) {
		pid_t pid;

		fflush(NULL);
		pid = fork();
		if (pid < 0)
			return -1;
		if (pid == 0) {
			for (u32 i = 0; i < sv->nlinks; i++) {
				close(sv->links[i].fd);
				sv->links[i].fd = (int)sv->links[i].out.len;
				sv->links[i].out.len = 0;
			}
			worker_main(sv, p);
		}
		sv->pids[p] = pid;
	}
	for (u32 i = 0; i < sv->nlinks; i++) {
		struct link *l = &sv->links[i];

		close((int)l->out.len);
		l->out.len = 0;
		l->pid = sv->pids[l->pid];
	}
	return 0;
}

/* ---- the control socket ---- */

/*
 * The socket lives in a directory only we can enter (0700, ours, not a
 * symlink) and is itself 0600: the file system keeps other users out
 * before SO_PEERCRED does.
 */
static int sv_listen(struct spawn *sv, char *err, size_t errlen)
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
			snprintf(err, errlen, "%s: refusing a socket directory that is a symlink, not a directory, "
				 "or owned by another user", dir);
			return -1;
		}
	}
	if (lstat(sv->path, &st) == 0) {
		int probe;

		if (S_ISLNK(st.st_mode) || !S_ISSOCK(st.st_mode) || st.st_uid != geteuid()) {
			snprintf(err, errlen, "%s: refusing: it exists and is %s", sv->path,
				 S_ISLNK(st.st_mode) ? "a symlink" : !S_ISSOCK(st.st_mode) ? "not a socket"
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

/* ---- the loop ---- */

/*
 * The supervisor's own timer: every 200 ms while guests are being created
 * (progress, memory and PID budgets), every second for the status line on a
 * terminal once all booted, otherwise only once, at the --for deadline:
 * an idle spawn wakes nobody.
 */
static void sv_tick_arm(struct spawn *sv)
{
	struct io_uring_sqe *sqe;
	u64 ns = TICK_NS, now = clock_now();

	if (sv->t_booted) {
		ns = sv->tty && !sv->o->json ? 1000000000ull : 0;
		if (sv->stop_at && (ns == 0 || sv->stop_at - now < ns))
			ns = sv->stop_at > now ? sv->stop_at - now : 1;
		if (ns == 0)
			return;
	}
	sqe = sv_sqe(sv);
	sv->tick_ts.tv_sec = (long long)(ns / 1000000000ull);
	sv->tick_ts.tv_nsec = (long long)(ns % 1000000000ull);
	io_uring_prep_timeout(sqe, &sv->tick_ts, 0, 0);
	io_uring_sqe_set_data64(sqe, UD(K_TICK, 0, 0));
}

static void sv_signal_arm(struct spawn *sv)
{
	struct io_uring_sqe *sqe = sv_sqe(sv);

	io_uring_prep_read(sqe, sv->sig_fd, sv->sigbuf, sizeof(sv->sigbuf), 0);
	io_uring_sqe_set_data64(sqe, UD(K_SIGNAL, 0, 0));
}

/* CPU time of the supervisor and every worker, in clock ticks. */
static u64 sv_vmm_ticks(struct spawn *sv)
{
	u64 t = proc_cpu_ticks(getpid());

	for (u32 p = 0; p < sv->procs; p++)
		if (sv->pids[p] > 0)
			t += proc_cpu_ticks(sv->pids[p]);
	return t;
}

/* Every guest booted, failed or was lost (or the budget stopped creation
 * and every created one settled): the spawn is complete. */
static void sv_check_booted(struct spawn *sv)
{
	u32 settled = sv->booted + sv->failed + sv->lost;
	u64 now;

	if (sv->t_booted || !(settled >= sv->o->count || (sv->create_stopped && settled >= sv->created)))
		return;
	now = clock_now();
	sv->t_booted = now;
	cpustat_read(&sv->cpu_booted);
	sv->vmm_ticks_booted = sv_vmm_ticks(sv);
	if (sv->o->for_s >= 0)
		sv->stop_at = now + (u64)(sv->o->for_s * 1e9);
	if (sv->o->for_s == 0) {
		sv->stopping = true;
		if (!sv->create_stopped)
			snprintf(sv->stop_reason, sizeof(sv->stop_reason), "done (--for 0)");
	}
}

static void sv_tick(struct spawn *sv)
{
	u64 now = clock_now();
	struct meminfo m;

	/* Stop creating before host memory in use reaches the budget, or
	 * before the host runs out of PIDs (each KVM VM has a kernel thread):
	 * either way the host must stay usable. */
	if (!sv->create_stopped && sv->created < sv->o->count) {
		const char *why = NULL;

		if (meminfo_read(&m) == 0 && meminfo_used_pct(&m) >= sv->o->mem_budget)
			why = "host memory in use reached the --mem-budget";
		else if (host_pids_left() < PID_RESERVE)
			why = "the host is near kernel.pid_max (one kernel thread per KVM VM)";
		if (why) {
			sv->create_stopped = true;
			for (u32 i = 0; i < sv->nlinks; i++)
				link_send(sv, &sv->links[i], "0 nocreate\n");
			fprintf(stderr, "%skvmlite: %s after %u guests: creating no more\n", sv->tty ? "\r\033[K" : "",
				why, sv->created);
			snprintf(sv->stop_reason, sizeof(sv->stop_reason), "%s", why);
		}
	}
	sv_check_booted(sv);
	if (sv->stop_at && now >= sv->stop_at && !sv->stopping) {
		sv->stopping = true;
		if (!sv->create_stopped)
			snprintf(sv->stop_reason, sizeof(sv->stop_reason), "done (--for)");
	}
	if (now - sv->t_last_progress >= TICK_NS - TICK_NS / 10) {
		sv_progress(sv, now);
		sv->t_last_progress = now;
	}
}

static void sv_handle(struct spawn *sv, u64 ud, int res)
{
	u32 idx = UD_IDX(ud);

	switch (UD_KIND(ud)) {
	case K_ACCEPT:
		sv_accepted(sv, res);
		return;
	case K_CONN_READ:
	case K_CONN_POLL: {
		struct conn *c = &sv->conns[idx];

		if (!c->used || c->gen != UD_GEN(ud))
			return;
		if (UD_KIND(ud) == K_CONN_POLL) {
			c->poll_busy = false;
		} else {
			c->read_busy = false;
			if (res <= 0)
				c->closing = true; /* the client went away (or half-closed) */
			else
				c->rlen += (size_t)res;
			conn_process(sv, c);
		}
		conn_arm(sv, c);
		return;
	}
	case K_LINK_READ:
		sv_link_read(sv, &sv->links[idx], res);
		return;
	case K_LINK_READ + 100:
		sv->links[idx].poll_busy = false;
		link_arm(sv, &sv->links[idx]);
		return;
	case K_SIGNAL: {
		struct signalfd_siginfo *si = (void *)sv->sigbuf;

		if (res == sizeof(*si)) {
			if (si->ssi_signo == SIGCHLD) {
				sv_reap_children(sv);
			} else if (!sv->stopping) {
				sv->stopping = true;
				snprintf(sv->stop_reason, sizeof(sv->stop_reason), "stopped by signal %u", si->ssi_signo);
			}
		}
		sv_signal_arm(sv);
		return;
	}
	case K_TICK:
		sv_tick(sv);
		sv_tick_arm(sv);
		return;
	}
}

static void sv_teardown(struct spawn *sv)
{
	/* KVM frees a VM in about a millisecond here, one after another per
	 * worker: 20,000 guests take a while. Past this, a worker is killed
	 * (the kernel still frees what it held). */
	u64 deadline = clock_now() + 120000000000ull;

	if (sv->tty && !sv->o->json)
		fprintf(stderr, "kvmlite: stopping: %u worker%s releasing %u guests...", sv->procs,
			sv->procs == 1 ? "" : "s", sv_live(sv));

	/* Closing a shard's socket tells it to end its guests and exit. */
	for (u32 i = 0; i < sv->nlinks; i++) {
		if (sv->links[i].fd >= 0)
			close(sv->links[i].fd);
		sv->links[i].fd = -1;
	}
	for (u32 p = 0; p < sv->procs; p++) {
		int status;

		while (sv->pids[p] > 0) {
			pid_t r = waitpid(sv->pids[p], &status, WNOHANG);

			if (r == sv->pids[p] || (r < 0 && errno == ECHILD))
				break;
			if (clock_now() > deadline) {
				kill(sv->pids[p], SIGKILL);
				waitpid(sv->pids[p], &status, 0);
				break;
			}
			usleep(10000);
		}
		sv->pids[p] = 0;
	}
	if (sv->tty && !sv->o->json)
		fprintf(stderr, "\r\033[K");
}

/* Everything the supervisor holds, once the ring and the workers are gone. */
static void sv_free(struct spawn *sv)
{
	for (u32 i = 0; sv->conns && i < sv->nconns; i++) {
		if (sv->conns[i].used)
			close(sv->conns[i].fd);
		free(sv->conns[i].out.buf);
	}
	for (u32 i = 0; sv->pend && i < sv->npend; i++) {
		free(sv->pend[i].text.buf);
		for (u32 k = 0; sv->pend[i].parts && k < sv->nlinks; k++)
			free(sv->pend[i].parts[k].buf);
		free(sv->pend[i].parts);
	}
	for (u32 i = 0; sv->links && i < sv->nlinks; i++) {
		free(sv->links[i].out.buf);
		line_buf_free(&sv->links[i].lines);
	}
	if (sv->listen_fd >= 0)
		close(sv->listen_fd);
	if (sv->sig_fd >= 0)
		close(sv->sig_fd);
	if (sv->log_fd >= 0)
		close(sv->log_fd);
	if (sv->kvm.fd > 0)
		kvm_close(&sv->kvm);
	free(sv->conns);
	free(sv->pend);
	free(sv->links);
	free(sv->pids);
	free(sv->gflags);
	free(sv->watchers);
	free(sv);
}

int spawn_main(const struct spawn_opts *o)
{
	struct spawn *sv = calloc(1, sizeof(*sv));
	char err[256];
	sigset_t set;
	u32 per;
	int status = 0;

	sv->o = o;
	sv->listen_fd = sv->sig_fd = sv->log_fd = -1;
	sv->tty = isatty(STDERR_FILENO);
	for (int i = 0, upto = 0; i < o->nguest; i++) {
		if (loader_open(o->guest[i], &sv->images[i].img, err, sizeof(err)) < 0) {
			fprintf(stderr, "kvmlite: %s\n", err);
			goto fail;
		}
		upto = o->guest_count[i] && i < o->nguest - 1 ? upto + (int)o->guest_count[i] : (int)o->count;
		sv->images[i].upto = (u32)upto;
	}
	if (kvm_open(&sv->kvm, err, sizeof(err)) < 0) {
		fprintf(stderr, "kvmlite: %s\n", err);
		goto fail;
	}
	sv->gflags = calloc(o->count, 1);
	sv->watchers = calloc(o->count, sizeof(*sv->watchers));
	sv->nconns = MAX_CONNS;
	sv->conns = calloc(MAX_CONNS, sizeof(*sv->conns));
	sv->npend = MAX_CONNS + 16;
	sv->pend = calloc(sv->npend, sizeof(*sv->pend));
	snprintf(sv->stop_reason, sizeof(sv->stop_reason), "running");
	/* One log for all workers: O_APPEND makes each batch land whole. */
	if (o->log && (sv->log_fd = open(o->log, O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0600)) < 0) {
		fprintf(stderr, "kvmlite: --log %s: %s\n", o->log, strerror(errno));
		goto fail;
	}
	if (sv_listen(sv, err, sizeof(err)) < 0) {
		fprintf(stderr, "kvmlite: %s\n", err);
		goto fail;
	}
	meminfo_read(&sv->mem0);
	per = sv_plan(sv);
	/* Signals arrive through a signalfd read on the ring: block them
	 * before forking so no worker inherits a handler of ours. */
	sigemptyset(&set);
	sigaddset(&set, SIGINT);
	sigaddset(&set, SIGTERM);
	sigaddset(&set, SIGHUP);
	sigaddset(&set, SIGCHLD);
	sigprocmask(SIG_BLOCK, &set, NULL);
	signal(SIGPIPE, SIG_IGN);
	sv->t0 = clock_now();
	if (sv_fork_workers(sv, per) < 0) {
		fprintf(stderr, "kvmlite: starting workers: %s\n", strerror(errno));
		sv_teardown(sv);
		unlink(sv->path);
		goto fail;
	}
	sv->sig_fd = signalfd(-1, &set, SFD_CLOEXEC);
	if (io_uring_queue_init(256, &sv->ring, 0) < 0) {
		fprintf(stderr, "kvmlite: io_uring_queue_init: %s\n", strerror(errno));
		sv_teardown(sv);
		unlink(sv->path);
		goto fail;
	}
	if (!o->json)
		fprintf(stderr, "kvmlite: spawning %u %s%s guests; control socket %s\n", o->count, sv->images[0].img.name,
			o->nguest > 1 ? " (and other)" : "", sv->path);
	for (u32 i = 0; i < sv->nlinks; i++)
		link_arm(sv, &sv->links[i]);
	sv_accept_arm(sv);
	sv_signal_arm(sv);
	sv_tick_arm(sv);
	while (!sv->stopping) {
		struct io_uring_cqe *cqe;

		io_uring_submit_and_wait(&sv->ring, 1);
		while (io_uring_peek_cqe(&sv->ring, &cqe) == 0) {
			u64 ud = cqe->user_data;
			int res = cqe->res;

			io_uring_cqe_seen(&sv->ring, cqe);
			sv_handle(sv, ud, res);
		}
	}
	/* Answer whoever asked to stop before the socket goes away. */
	for (u32 i = 0; i < sv->nconns; i++)
		if (sv->conns[i].used)
			out_flush(sv->conns[i].fd, &sv->conns[i].out);
	sv_summary(sv);
	close(sv->listen_fd);
	sv->listen_fd = -1;
	unlink(sv->path);
	/* The ring goes first: its pending reads hold the shard sockets open,
	 * and the workers wait for those to close before they end. */
	io_uring_queue_exit(&sv->ring);
	sv_teardown(sv);
	status = sv->failed || sv->lost ? 1 : 0;
	sv_free(sv);
	return status;
fail:
	sv_free(sv);
	return 2;
}
