/* supervise.c - the supervisor's loop: what the shards say, clients, worker deaths, signals and its tick, on one
 * io_uring. */
#include <signal.h>
#include <stdio.h>
#include <string.h>
#include <sys/wait.h>

#include "clock.h"
#include "control.h"
#include "frontdoor.h"
#include "link.h"
#include "summary.h"
#include "supervise.h"

static void sv_check_booted(struct spawn *sv);

/* ---- what the shards say ---- */

/*
 * Counts key in a table of reasons: in the entry that holds it, else in the
 * first free one. Returns the entry's index, or -1 when all n hold others.
 */
static int sv_tally(char reason[][128], u32 count[], int n, const char *key)
{
	for (int i = 0; i < n; i++) {
		if (count[i] && strcmp(reason[i], key))
			continue;
		if (!count[i])
			snprintf(reason[i], sizeof(reason[i]), "%s", key);
		count[i]++;
		return i;
	}
	return -1;
}

static void sv_fail_reason(struct spawn *sv, const char *why)
{
	/* Group reasons without their guest-specific tail (addresses). */
	char key[128];
	size_t n = strcspn(why, "(");

	while (n > 0 && why[n - 1] == ' ') /* "triple fault (...)": the space before the tail goes too */
		n--;
	snprintf(key, sizeof(key), "%.*s", (int)(n < sizeof(key) - 1 ? n : sizeof(key) - 1), why);
	sv_tally(sv->fail_reason, sv->fail_count, (int)ARRAY_SIZE(sv->fail_count), key);
}

/*
 * Records a guest's news in its flags. A guest settles once, whatever
 * comes first: it booted, ended (failed or not) or was lost; a guest that
 * booted and then failed is one settled guest, counted in both booted and
 * failed.
 */
static void sv_mark(struct spawn *sv, u32 i, u8 flags)
{
	if (!sv->gflags[i]) /* i: the guest's index in the per-guest arrays (its id - --first-id) */
		sv->settled++;
	sv->gflags[i] |= flags;
}

/* Groups what silent guests do, with CS:IP addresses left out ("xxxx:xxxx"). */
static void sv_silent_reason(struct spawn *sv, u32 id, const char *what)
{
	char key[128];
	size_t n = 0;
	int i;

	for (const char *p = what; *p && n < sizeof(key) - 1; p++) {
		if (strspn(p, "0123456789abcdef") == 4 && p[4] == ':' && strspn(p + 5, "0123456789abcdef") == 4 &&
		    n + 9 < sizeof(key)) {
			memcpy(key + n, "xxxx:xxxx", 9);
			n += 9;
			p += 8;
			continue;
		}
		key[n++] = *p;
	}
	key[n] = '\0';
	i = sv_tally(sv->silent_reason, sv->silent_count, (int)ARRAY_SIZE(sv->silent_count), key);
	if (i >= 0 && sv->silent_count[i] == 1)
		sv->silent_example[i] = id;
}

/* Guest i ended, failed or not (why: the failure). */
static void sv_ended(struct spawn *sv, u32 i, bool failed, const char *why)
{
	if (!failed && !(sv->gflags[i] & G_BOOTED))
		sv->ended_mute++;
	sv_mark(sv, i, G_ENDED | (failed ? G_FAILED : 0));
	sv->ended++;
	if (sv->gflags[i] & G_SILENT) { /* it ended: counted as that now */
		sv->gflags[i] &= (u8)~G_SILENT;
		sv->silent--;
	}
	if (failed) {
		sv->failed++;
		sv_fail_reason(sv, why);
	}
}

/* Unsolicited news from a shard (wire.h): guests created, booted, silent, ended; output; its end. */
static void sv_shard_event(struct spawn *sv, struct link *l, const char *line)
{
	struct wire_event e;
	u32 i;

	wire_event_parse(line, &e);
	i = e.id - sv->o->first_id; /* per-guest arrays start at --first-id */
	if (e.kind == WIRE_CREATED) {
		sv->created += e.created.created - l->created;
		l->created = e.created.created;
		l->parked = e.created.parked;
		l->parked_bytes = e.created.parked_bytes;
		l->templates = e.created.templates;
		l->template_bytes = e.created.template_bytes;
		l->spare = (u32)e.created.spare;
		l->staged = e.created.staged;
		memcpy(l->stage_ns, e.created.stage_ns, sizeof(l->stage_ns));
		l->created_staged = e.created.created_staged;
	} else if (e.kind == WIRE_RESUME_FAILED) {
		sv->resume_failed++;
		if (sv->o->verbose)
			fprintf(stderr, "%skvmlite: guest %u: %s\n", sv->tty ? "\r\033[K" : "", e.id, e.text);
	} else if (e.kind == WIRE_BOOT && i < sv->o->count && !(sv->gflags[i] & G_BOOTED)) {
		sv->boot_us[i] = e.ns > sv->t0 ? (u32)((e.ns - sv->t0) / 1000) : 0;
		sv_mark(sv, i, G_BOOTED);
		sv->booted++;
		if (sv->gflags[i] & G_SILENT) { /* late, but it spoke (settled once: at the first) */
			sv->gflags[i] &= (u8)~G_SILENT;
			sv->silent--;
		}
	} else if (e.kind == WIRE_SILENT && i < sv->o->count && !(sv->gflags[i] & (G_BOOTED | G_SILENT))) {
		/* settled, for --for 0: it is not waited for (it may still speak) */
		sv_mark(sv, i, G_SILENT);
		sv->silent++;
		sv_silent_reason(sv, e.id, e.text);
		if (sv->o->verbose)
			fprintf(stderr, "%skvmlite: guest %u is silent: %s\n", sv->tty ? "\r\033[K" : "", e.id, e.text);
	} else if (e.kind == WIRE_END && i < sv->o->count && !(sv->gflags[i] & G_ENDED)) {
		sv_ended(sv, i, e.failed, e.text);
	} else if (e.kind == WIRE_OUT) {
		control_watch_output(sv, e.id, e.text);
	} else if (e.kind == WIRE_FATAL) {
		fprintf(stderr, "kvmlite: %s\n", e.text);
	}
}

/* A line from a shard: the link it came on. */
struct link_from {
	struct spawn *sv;
	struct link *l;
};

static void sv_shard_line(void *ctx, char *line, size_t len)
{
	struct spawn *sv = ((struct link_from *)ctx)->sv;
	struct link *l = ((struct link_from *)ctx)->l;

	if (line[0] == '@') {
		sv_shard_event(sv, l, line);
		sv_check_booted(sv);
		return;
	}
	control_answer(sv, l, line, len);
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
		control_answer(sv, l, line, strlen(line));
	}
}

static void sv_link_read(struct spawn *sv, struct link *l, int res)
{
	l->read_busy = false;
	if (res <= 0) {
		sv_link_dead(sv, l);
		return;
	}
	line_buf_feed(&l->lines, l->rbuf, (size_t)res, sv_shard_line, &(struct link_from){ sv, l });
	link_arm(sv, l);
	link_fit(sv, l);
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
				u32 k = id - sv->o->first_id;

				if (!(sv->gflags[k] & (G_ENDED | G_LOST))) {
					sv_mark(sv, k, G_LOST);
					if (sv->gflags[k] & G_SILENT)
						sv->silent--;
					sv->gflags[k] &= (u8)~G_SILENT;
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
				summary_say(sv, "worker %d (guests %u-%u) killed by signal %d: %u guests lost",
					    (int)pid, lo, hi, WTERMSIG(status), lost);
			else
				summary_say(sv, "worker %d (guests %u-%u) exited with %d: %u guests lost", (int)pid, lo,
					    hi, WEXITSTATUS(status), lost);
		}
	}
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
		if (sv->metrics.dir_fd >= 0 && (ns == 0 || sv->metrics_next - now < ns))
			ns = sv->metrics_next > now ? sv->metrics_next - now : 1;
		if (ns == 0)
			return;
	}
	sqe = link_sqe(sv);
	sv->tick_ts = clock_kernel_timespec(ns);
	io_uring_prep_timeout(sqe, &sv->tick_ts, 0, 0);
	io_uring_sqe_set_data64(sqe, UD(K_TICK, 0, 0));
}

static void sv_signal_arm(struct spawn *sv)
{
	struct io_uring_sqe *sqe = link_sqe(sv);

	io_uring_prep_read(sqe, sv->sig_fd, sv->sigbuf, sizeof(sv->sigbuf), 0);
	io_uring_sqe_set_data64(sqe, UD(K_SIGNAL, 0, 0));
}

/* Every guest booted, failed or was lost (or the budget stopped creation
 * and every created one settled): the spawn is complete. */
static void sv_check_booted(struct spawn *sv)
{
	u32 settled = sv->settled; /* each guest once: booted, ended, silent or lost, whichever came first */
	u64 now, rss;

	if (sv->t_booted || !(settled >= sv->o->count || (sv->create_stopped && settled >= sv->created)))
		return;
	now = clock_now();
	sv->t_booted = now;
	cpustat_read(&sv->cpu_booted);
	meminfo_read(&sv->mem_booted);
	summary_worker_mem(sv, &rss, &sv->anon_booted);
	sv->vmm_ticks_booted = summary_vmm_ticks(sv);
	/* --for 0 still measures for SETTLE_NS: the idle CPU and the host's
	 * memory noise need a window with the guests standing still. */
	if (sv->o->for_s >= 0)
		sv->stop_at = now + (sv->o->for_s > 0 ? (u64)(sv->o->for_s * 1e9) : SETTLE_NS);
}

static void sv_tick(struct spawn *sv)
{
	u64 now = clock_now();
	struct meminfo m;

	/* Stop creating before host memory in use reaches the budget, or
	 * before the host runs out of PIDs (each KVM VM has a kernel thread):
	 * either way the host must stay usable. With parking, the shards
	 * first hold the number of VMs where it is and park to make room. */
	if (!sv->create_stopped && sv->created < sv->o->count) {
		const char *why = NULL;
		bool mem_read = meminfo_read(&m) == 0;
		bool pids_short = host_pids_left() < PID_RESERVE;
		u32 hold_at = sv->o->mem_budget > PARK_MARGIN ? sv->o->mem_budget - PARK_MARGIN : 0;

		if (sv->o->park != PARK_NEVER && !sv->held &&
		    ((mem_read && meminfo_used_pct(&m) >= hold_at) || pids_short)) {
			sv->held = true;
			for (u32 i = 0; i < sv->nlinks; i++)
				link_control(sv, &sv->links[i], WIRE_HOLD, 0);
			if (sv->o->verbose)
				summary_say(sv, "%s with %u guests live: parking to make room from now on",
					    pids_short ? "PIDs are running short"
						       : "host memory is near the --mem-budget",
					    summary_live(sv));
		}
		if (mem_read && meminfo_used_pct(&m) >= sv->o->mem_budget)
			why = "host memory in use reached the --mem-budget";
		else if (pids_short && sv->o->park == PARK_NEVER)
			why = "the host is near kernel.pid_max (one kernel thread per KVM VM)";
		if (why) {
			sv->create_stopped = true;
			for (u32 i = 0; i < sv->nlinks; i++)
				link_control(sv, &sv->links[i], WIRE_NOCREATE, 0);
			summary_say(sv, "%s after %u guests: creating no more", why, sv->created);
			snprintf(sv->stop_reason, sizeof(sv->stop_reason), "%s", why);
		}
	}
	sv_check_booted(sv);
	if (sv->stop_at && now >= sv->stop_at && !sv->stopping) {
		sv->stopping = true;
		if (!sv->create_stopped)
			snprintf(sv->stop_reason, sizeof(sv->stop_reason), "done (--for%s)",
				 sv->o->for_s > 0 ? "" : " 0");
	}
	if (sv->metrics.dir_fd >= 0 && now >= sv->metrics_next) {
		control_metrics_request(sv);
		sv->metrics_next = now + METRICS_NS;
	}
	if (now - sv->t_last_progress >= TICK_NS - TICK_NS / 10) {
		summary_progress(sv, now);
		sv->t_last_progress = now;
	}
}

/* A client connection's read, poll or hang-up completed (gen: the connection it was for). */
static void sv_conn_event(struct spawn *sv, int kind, u32 gen, struct conn *c, int res)
{
	if (!c->used || c->gen != gen)
		return;
	if (kind != K_CONN_READ) {
		control_polled(sv, c, kind == K_CONN_HUP, res);
		return;
	}
	c->read_busy = false;
	if (res <= 0)
		c->closing = true; /* the client went away (or half-closed) */
	else
		c->rlen += (size_t)res;
	control_process(sv, c);
	control_arm(sv, c);
}

/* A signal read from the signalfd: a worker ended (SIGCHLD), or the spawn is asked to stop. */
static void sv_signal(struct spawn *sv, int res)
{
	struct signalfd_siginfo *si = (void *)sv->sigbuf;

	if (res != sizeof(*si))
		return;
	if (si->ssi_signo == SIGCHLD) {
		sv_reap_children(sv);
	} else if (!sv->stopping) {
		sv->stopping = true;
		snprintf(sv->stop_reason, sizeof(sv->stop_reason), "stopped by signal %u", si->ssi_signo);
	}
}

static void sv_handle(struct spawn *sv, u64 ud, int res)
{
	u32 idx = UD_IDX(ud);

	switch (UD_KIND(ud)) {
	case K_ACCEPT:
		control_accepted(sv, res);
		return;
	case K_CONN_READ:
	case K_CONN_POLL:
	case K_CONN_HUP:
		sv_conn_event(sv, UD_KIND(ud), UD_GEN(ud), &sv->conns[idx], res);
		return;
	case K_LINK_READ:
		sv_link_read(sv, &sv->links[idx], res);
		return;
	case K_LINK_POLL:
		sv->links[idx].poll_busy = false;
		link_arm(sv, &sv->links[idx]);
		link_fit(sv, &sv->links[idx]);
		return;
	case K_ACCEPT_WAIT:
		sv->accept_busy = false;
		control_accept_arm(sv);
		return;
	case K_SIGNAL:
		sv_signal(sv, res);
		sv_signal_arm(sv);
		return;
	case K_TICK:
		sv_tick(sv);
		sv_tick_arm(sv);
		return;
	case K_FRONT_ACCEPT:
	case K_FRONT_WAIT:
	case K_FRONT_SWEEP:
	case K_FRONT_RETRY:
		frontdoor_handle(sv, ud, res);
		return;
	}
}

void supervise_arm(struct spawn *sv)
{
	for (u32 i = 0; i < sv->nlinks; i++)
		link_arm(sv, &sv->links[i]);
	control_accept_arm(sv);
	frontdoor_arm(sv);
	sv_signal_arm(sv);
	sv_tick_arm(sv);
}

void supervise_run(struct spawn *sv)
{
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
			outbuf_flush(sv->conns[i].fd, &sv->conns[i].out);
}
