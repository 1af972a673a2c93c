/* shard.c - one worker thread: its loop over one io_uring (commands, deadlines, creating and running guests, sleeping). */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>

#include "fault.h"
#include "guest.h"
#include "kick.h"
#include "pool.h"
#include "sandbox.h"
#include "shard.h"

/* io_uring user_data: what a completion is for */
enum { UD_READ = 1, UD_WRITE, UD_LOG, UD_TIMEOUT, UD_TIMEOUT_UPDATE, UD_FILLER };
/*
 * The ring's registered files, which its operations name by index: the
 * only files it can reach (sandbox_ring_init). Every SQE is marked with
 * IOSQE_FIXED_FILE after its io_uring_prep_*(), timeouts too.
 */
enum { FILE_SOCK, FILE_LOG };

static void shard_handle_cqe(struct shard *s, u64 ud, int res);

/* ---- commands from the supervisor: "TAG request" lines ---- */

/* `list STATE`: which guests are in the state asked for. */
struct shard_list {
	struct shard *s;
	char state[16];
};

static bool shard_list_has(void *ctx, u32 i)
{
	const struct shard_list *l = ctx;
	const struct guest *g = &l->s->g[i];

	if (!g->created)
		return false;
	if (strcmp(l->state, "booted") == 0)
		return g->booted;
	return strcmp(guest_state(g), l->state) == 0;
}

static void shard_list_put(void *ctx, const char *text, size_t n)
{
	sendbuf_put(&((struct shard_list *)ctx)->s->to_sv, text, n);
}

static void shard_list(struct shard *s, u32 tag, const struct proto_req *r)
{
	if (!r->arg) {
		u64 n[WIRE_NCOUNTS] = { 0 }, booted = 0;
		char line[WIRE_LINE_MAX];

		for (u32 i = 0; i < s->count; i++) {
			for (int k = 0; k < WIRE_NCOUNTS; k++)
				if (strcmp(guest_state(&s->g[i]), wire_count_names[k]) == 0)
					n[k]++;
			booted += s->g[i].booted;
		}
		sendbuf_put(&s->to_sv, line, wire_counts_format(line, sizeof(line), tag, n, booted));
		return;
	}
	struct shard_list l = { .s = s };

	snprintf(l.state, sizeof(l.state), "%.*s", (int)r->arg_len, r->arg);
	sendbuf_printf(&s->to_sv, "%u ok ", tag);
	/* Range by range: the answer may be longer than the buffer that
	 * carries it (one range per guest or two when states alternate, as
	 * a guest can make them), which is sent and refilled meanwhile.
	 * Local indices are shifted to global ids as they are written. */
	proto_ranges_write(s->count, s->first, shard_list_has, shard_list_put, &l);
	sendbuf_printf(&s->to_sv, "\n");
}

static void shard_stats_line(struct shard *s, u32 tag)
{
	const struct shard_stats *st = &s->stats;
	struct wire_stats w = {
		.slices = st->slices,
		.preempted = st->preempted,
		.create_failed = st->create_failed,
		.pool = s->pool_len,
		.parks = st->parks,
		.resumes = st->resumes,
		.pool_hits = st->pool_hits,
		.resume_failed = st->resume_failed,
		.vms_created = st->vms_created,
		.parked_bytes = s->parked_bytes,
		.templates = s->templates.n,
		.template_bytes = s->templates.bytes,
		.cq_overflows = st->cq_overflows,
		.throttles = s->sched.throttles,
	};
	char line[2 * WIRE_LINE_MAX]; /* 28 numbers at their longest */

	for (u32 i = 0; i < s->created; i++) {
		const struct vm *vm = &s->g[i].vm;

		w.exits += vm->stats.exits;
		w.io_exits += vm->stats.io_exits;
		w.coalesced += vm->stats.coalesced;
		w.hlts += vm->stats.hlts;
		w.irqs += vm->stats.irqs_injected;
		w.kicks += vm->stats.kicks;
		w.unknown_ports += vm->stats.unknown_port_reads + vm->stats.unknown_port_writes;
		w.mmio += vm->stats.mmio_reads + vm->stats.mmio_writes;
		w.out_bytes += vm->uart.stats.tx_bytes;
		w.in_bytes += vm->uart.stats.rx_bytes;
		w.overruns += vm->uart.stats.overruns;
		w.pit_irqs += vm->pit.stats.irqs;
		w.pit_clamped += vm->pit.stats.clamped;
		w.out_dropped += console_oldest(&s->g[i].con);
	}
	sendbuf_put(&s->to_sv, line, wire_stats_format(line, sizeof(line), tag, &w));
}

static void shard_guest_command(struct shard *s, u32 tag, const struct proto_req *r, struct guest *g)
{
	u8 data[PROTO_LINE_MAX + 1];
	ssize_t n = 0;

	if (r->cmd == PROTO_SEND || r->cmd == PROTO_REQ) {
		n = proto_unescape(r->arg, r->arg_len, data, sizeof(data) - 1);
		if (n < 0) {
			sendbuf_printf(&s->to_sv, "%u error bad argument\n", tag);
			return;
		}
	}
	if (r->cmd == PROTO_REQ) {
		if (g->con.req_deadline != UINT64_MAX) {
			sendbuf_printf(&s->to_sv, "%u error busy\n", tag);
			return;
		}
		data[n++] = '\n';
	}
	switch (r->cmd) {
	case PROTO_SEND:
	case PROTO_REQ:
		if (!console_queue_input(&g->con, data, (size_t)n, &g->vm.uart)) {
			sendbuf_printf(&s->to_sv, "%u error input full\n", tag);
			return;
		}
		if (r->cmd == PROTO_SEND) {
			sendbuf_printf(&s->to_sv, "%u ok\n", tag);
		} else {
			console_request(&g->con, tag, clock_now() + PROTO_REQ_TIMEOUT_MS * 1000000ull);
		}
		s->stats.wakeups++;
		break;
	case PROTO_WATCH:
		g->con.watched = true;
		g->con.watch_pos = g->con.out_total;
		sendbuf_printf(&s->to_sv, "%u ok\n", tag);
		break;
	case PROTO_STOP:
		vm_end(&g->vm, VM_END_STOPPED, "stopped by a client");
		sendbuf_printf(&s->to_sv, "%u ok\n", tag);
		break;
	default:
		break;
	}
	guest_settle(s, g, clock_now());
}

/* `info ID`: the guest's state and counts, and why it ended, fails or is silent. */
static void shard_info(struct shard *s, u32 tag, struct guest *g)
{
	const struct sched_entry *e = guest_sched(s, g);
	bool why = g->vm.state == VM_ENDED || e->retry_at || g->silent;
	char missing[160], reason[VM_WHY_MAX + sizeof(missing) + 64];

	/* reason: why it ended or fails, what a silent one does, and
	 * the BIOS services it called that the firmware lacks */
	bios_missing_names(&g->vm.bios, missing, sizeof(missing));
	snprintf(reason, sizeof(reason), "%s%s%s%s%s", why || *missing ? " reason=" : "", why ? vm_why(&g->vm) : "",
		 why && *missing ? "; " : "", *missing ? "BIOS services kvmlite's firmware does not provide: " : "",
		 missing);
	sendbuf_printf(&s->to_sv,
		       "%u ok %s booted=%d exits=%llu out=%llu in=%llu dropped=%llu cpu_us=%llu throttles=%u "
		       "pit_irqs=%llu pit_periods=%llu bios_missing=%u%s\n",
		       tag, guest_state(g), g->booted, (unsigned long long)g->vm.stats.exits,
		       (unsigned long long)g->con.out_total, (unsigned long long)g->vm.uart.stats.rx_bytes,
		       (unsigned long long)console_oldest(&g->con), (unsigned long long)(e->cpu_total / 1000),
		       e->throttles, (unsigned long long)g->vm.pit.stats.irqs,
		       (unsigned long long)pit_periods(&g->vm.pit, clock_now()), g->vm.bios.missing_total, reason);
}

/* The supervisor's own commands (wire.h); false for a client's request. */
static bool shard_control(struct shard *s, const struct wire_command *cmd)
{
	switch (cmd->control) {
	case WIRE_MALFORMED:
		return true; /* not from our supervisor: ignore */
	case WIRE_NOCREATE:
		s->create_stop = true;
		return true;
	case WIRE_HOLD:
		/* The host is near its budget: no more VMs than now; new and
		 * resumed guests get theirs by parking others (--park auto). */
		if (s->vm_max > s->resident + s->pool_len)
			s->vm_max = s->resident + s->pool_len;
		return true;
	case WIRE_UNWATCH:
		if (cmd->id - s->first < s->count)
			s->g[cmd->id - s->first].con.watched = false;
		return true;
	case WIRE_REQUEST:
		break;
	}
	return false;
}

/* One line from the supervisor: its own command, or "TAG request" from a client. */
static void shard_command(void *ctx, char *line, size_t len)
{
	struct shard *s = ctx;
	struct wire_command cmd;
	struct proto_req r;
	const char *err;
	struct guest *g;
	u32 tag;

	wire_command_parse(line, len, &cmd);
	if (shard_control(s, &cmd))
		return;
	tag = cmd.tag;
	if (proto_parse((char *)cmd.request, cmd.len, &r, &err) < 0) {
		sendbuf_printf(&s->to_sv, "%u error %s\n", tag, err);
		return;
	}
	if (r.cmd == PROTO_STATS) {
		shard_stats_line(s, tag);
		return;
	}
	if (r.cmd == PROTO_LIST) {
		shard_list(s, tag, &r);
		return;
	}
	if (!r.has_id || r.id - s->first >= s->count) {
		sendbuf_printf(&s->to_sv, "%u error no such guest\n", tag);
		return;
	}
	g = &s->g[r.id - s->first];
	if (r.cmd == PROTO_INFO)
		shard_info(s, tag, g);
	else if (r.cmd == PROTO_READ)
		console_send_read(&g->con, &s->to_sv, tag, r.has_from, r.from);
	else if (!g->created || g->vm.state == VM_ENDED)
		sendbuf_printf(&s->to_sv, "%u error guest not running\n", tag);
	else
		shard_guest_command(s, tag, &r, g);
}

/* ---- the loop ---- */

static void shard_submit_read(struct shard *s)
{
	struct io_uring_sqe *sqe;

	if (s->read_busy || s->stopping)
		return;
	sqe = io_uring_get_sqe(&s->ring);
	if (!sqe)
		return;
	io_uring_prep_read(sqe, FILE_SOCK, s->rbuf, sizeof(s->rbuf), 0);
	sqe->flags |= IOSQE_FIXED_FILE;
	io_uring_sqe_set_data64(sqe, UD_READ);
	s->read_busy = true;
}

static void shard_handle_cqe(struct shard *s, u64 ud, int res)
{
	u64 cpu;

	switch (ud) {
	case UD_READ:
		s->read_busy = false;
		if (res <= 0) {
			s->stopping = true; /* the supervisor is gone or said stop */
			return;
		}
		cpu = shard_nobody_begin(s);
		if (line_buf_feed(&s->lines, s->rbuf, (size_t)res, shard_command, s) < 0)
			s->stopping = true; /* out of memory: end cleanly rather than lose commands */
		shard_nobody_end(s, cpu);
		shard_submit_read(s);
		return;
	case UD_WRITE:
		if (res < 0 && res != -EAGAIN && res != -EINTR)
			s->stopping = true; /* the supervisor is gone */
		sendbuf_done(&s->to_sv, res);
		return;
	case UD_LOG:
		if (res < 0 && res != -EAGAIN && res != -EINTR) {
			s->stats.log_errors++;
			s->log.fd = -1; /* a full disk must not stop the guests */
		}
		sendbuf_done(&s->log, res);
		return;
	case UD_TIMEOUT:
		s->timeout_busy = false;
		s->timeout_at = UINT64_MAX;
		return;
	default:
		return;
	}
}

/* A completion that came while a sendbuf waited for its write. */
static void shard_complete_waiting(void *ctx, u64 ud, int res)
{
	struct shard *s = ctx;

	if (ud == UD_READ) {
		/* Commands are handled on the next turn of the loop, not in
		 * the middle of writing an answer: keep it aside. */
		s->read_done = res;
		return;
	}
	shard_handle_cqe(s, ud, res);
}

/* One io_uring timeout for the earliest deadline of all this shard's guests. */
static void shard_arm_timeout(struct shard *s)
{
	u64 when = sched_next_due(&s->sched);
	struct io_uring_sqe *sqe;

	if (when == UINT64_MAX || when >= s->timeout_at)
		return;
	sqe = io_uring_get_sqe(&s->ring);
	if (!sqe)
		return;
	s->timeout_ts = clock_kernel_timespec(when);
	if (s->timeout_busy) {
		io_uring_prep_timeout_update(sqe, &s->timeout_ts, UD_TIMEOUT, IORING_TIMEOUT_ABS);
		sqe->flags |= IOSQE_FIXED_FILE;
		io_uring_sqe_set_data64(sqe, UD_TIMEOUT_UPDATE);
	} else {
		io_uring_prep_timeout(sqe, &s->timeout_ts, 0, IORING_TIMEOUT_ABS);
		sqe->flags |= IOSQE_FIXED_FILE;
		io_uring_sqe_set_data64(sqe, UD_TIMEOUT);
		s->timeout_busy = true;
	}
	s->timeout_at = when;
}

/*
 * Fault injection (KVMLITE_FAULT=full_cq): the ring has one entry, so a
 * completion queue of two; before each sleep four timeouts that expire at
 * once are added to whatever else is in flight, so the queue overflows
 * again and again while guests are being served. No real completion may
 * be lost for it.
 */
static void shard_fill_cq(struct shard *s)
{
	static const struct __kernel_timespec now = { 0, 0 };

	for (int i = 0; s->full_cq && i < 4; i++) {
		struct io_uring_sqe *sqe = io_uring_get_sqe(&s->ring);

		if (!sqe) {
			io_uring_submit(&s->ring);
			sqe = io_uring_get_sqe(&s->ring);
		}
		if (!sqe)
			return;
		io_uring_prep_timeout(sqe, (struct __kernel_timespec *)&now, 0, 0);
		sqe->flags |= IOSQE_FIXED_FILE;
		io_uring_sqe_set_data64(sqe, UD_FILLER);
	}
}

static void shard_reap(struct shard *s)
{
	struct io_uring_cqe *cqe;

	if (s->read_done != INT32_MIN) {
		int res = s->read_done;

		s->read_done = INT32_MIN;
		shard_handle_cqe(s, UD_READ, res);
	}
	/* Completions beyond the queue's size wait in the kernel
	 * (IORING_FEAT_NODROP); peeking brings them in. Counted for tests. */
	if (IO_URING_READ_ONCE(*s->ring.sq.kflags) & IORING_SQ_CQ_OVERFLOW)
		s->stats.cq_overflows++;
	while (io_uring_peek_cqe(&s->ring, &cqe) == 0) {
		u64 ud = cqe->user_data;
		int res = cqe->res;

		io_uring_cqe_seen(&s->ring, cqe);
		shard_handle_cqe(s, ud, res);
	}
}

static void shard_fire_due(struct shard *s)
{
	u64 now = clock_now();
	u32 i;

	while ((i = sched_pop_due(&s->sched, now)) != SCHED_NONE)
		guest_settle(s, &s->g[i], now);
}

static void shard_end_all(struct shard *s)
{
	for (u32 i = 0; i < s->created; i++) {
		struct guest *g = &s->g[i];

		if (g->vm.state != VM_ENDED)
			vm_end(&g->vm, VM_END_STOPPED, "stopped with the spawn");
		g->reported = true; /* nobody is listening any more */
		/* The process ends next and frees all memory at once: releasing
		 * RAM guest by guest would cost an MMU-notifier walk each. */
		free(g->park);
		g->park = NULL;
		if (g->vm.vcpu_fd >= 0)
			vm_destroy(&g->vm);
	}
	while (s->pool_len)
		machine_destroy(&s->pool[--s->pool_len], s->kvm->run_size);
}

/* The thread's slice timer and its sandbox; stopping if either fails. */
static void shard_start(struct shard *s)
{
	if (kick_timer_create(&s->slice_timer) < 0) {
		char what[WIRE_LINE_MAX];

		snprintf(what, sizeof(what), "timer_create: %s", strerror(errno));
		shard_fatal(s, what);
		s->stopping = true;
	}
	/* Before the first guest is created, let alone run. */
	if (s->sandbox && sandbox_enter(SANDBOX_SHARD, s->err, sizeof(s->err)) < 0) {
		shard_fatal(s, s->err);
		s->stopping = true;
	}
	sandbox_probe(SANDBOX_SHARD);
	shard_submit_read(s);
	s->cpu_mark = clock_thread_cpu();
}

/* Nothing wants the CPU: sleep until a command, a deadline or the end of
 * a write. Nothing polls. */
static void shard_sleep(struct shard *s)
{
	guest_disarm_kick(s); /* no kick may wake an idle shard */
	guest_report(s);
	shard_fill_cq(s);
	sendbuf_submit(&s->to_sv);
	sendbuf_submit(&s->log);
	shard_submit_read(s);
	shard_arm_timeout(s);
	io_uring_submit_and_wait(&s->ring, 1);
}

void *shard_main(void *arg)
{
	struct shard *s = arg;

	shard_start(s);
	while (!s->stopping) {
		struct guest *g;
		bool creating;
		u64 cpu;

		shard_reap(s);
		if (s->stopping)
			break;
		shard_fire_due(s);
		creating = s->created < s->count && !s->create_stop;
		/* Known starvation: while 64 or more guests are always runnable
		 * (spinners), creation waits for good. */
		if (creating && s->sched.runq_len < 64) {
			cpu = shard_nobody_begin(s);
			creating = guest_create_some(s);
			shard_nobody_end(s, cpu);
		}
		g = guest_next(s);
		if (g) {
			guest_run_slice(s, g);
			if (s->stats.slices % 256 == 0)
				guest_report(s);
			sendbuf_submit(&s->to_sv);
			if (s->log.len >= SHARD_WBUF_SIZE / 2)
				sendbuf_submit(&s->log); /* log in batches while busy */
			io_uring_submit(&s->ring);
			continue;
		}
		/* More to create, and a VM for it: go on. With none to be had,
		 * sleep like an idle shard: what frees one (a guest's halt, the
		 * end of a throttled guest's period) wakes this loop. */
		if (creating)
			continue;
		if (pool_refill(s)) { /* nobody's work: making a VM, parking */
			io_uring_submit(&s->ring); /* then look for commands before the next */
			continue;
		}
		shard_sleep(s);
	}
	shard_end_all(s);
	sendbuf_submit(&s->log); /* what the log has not written yet */
	sendbuf_wait(&s->log);
	timer_delete(s->slice_timer);
	return NULL;
}

int shard_init(struct shard *s, u32 id, u32 first, u32 count, const struct kvm *kvm, const struct guest_image *images,
	       const struct spawn_opts *o, int sock, int log_fd, u32 vm_max)
{
	int files[] = { [FILE_SOCK] = sock, [FILE_LOG] = log_fd };

	memset(s, 0, sizeof(*s));
	s->id = id;
	s->first = first;
	s->count = count;
	s->kvm = kvm;
	s->images = images;
	s->firmware = o->firmware;
	s->park = o->park;
	s->sandbox = !o->no_sandbox;
	s->boot_timeout = (u64)(o->boot_timeout * 1e9);
	s->vm_max = o->park == PARK_NEVER ? count : vm_max;
	s->sock = sock;
	s->timeout_at = UINT64_MAX;
	s->read_done = INT32_MIN;
	if (arena_init(&s->ram, count, GUEST_SLOT_SIZE, s->err, sizeof(s->err)) < 0)
		return -1;
	s->pages.arena = mmap(NULL, (size_t)count * GUEST_OUT_SIZE, PROT_READ | PROT_WRITE,
			      MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE, -1, 0);
	s->to_sv = (struct sendbuf){ .ring = &s->ring,
				     .file = FILE_SOCK,
				     .user_data = UD_WRITE,
				     .fd = sock,
				     .socket = true,
				     .buf = malloc(SHARD_WBUF_SIZE),
				     .cap = SHARD_WBUF_SIZE,
				     .complete = shard_complete_waiting,
				     .ctx = s };
	s->log = (struct sendbuf){ .ring = &s->ring,
				   .file = FILE_LOG,
				   .user_data = UD_LOG,
				   .fd = log_fd,
				   .buf = log_fd >= 0 ? malloc(SHARD_WBUF_SIZE) : NULL,
				   .cap = SHARD_WBUF_SIZE,
				   .complete = shard_complete_waiting,
				   .ctx = s };
	s->g = calloc(count, sizeof(*s->g));
	if (s->pages.arena == MAP_FAILED || !s->to_sv.buf || (log_fd >= 0 && !s->log.buf) || !s->g ||
	    sched_init(&s->sched, count, o->cpu_max < 100 ? SCHED_CPU_PERIOD_NS * o->cpu_max / 100 : 0) < 0) {
		if (s->pages.arena == MAP_FAILED)
			s->pages.arena = NULL;
		snprintf(s->err, sizeof(s->err), "shard %u: out of memory for %u guests", id, count);
		shard_free(s);
		return -1;
	}
	s->full_cq = fault_next("full_cq");
	if (sandbox_ring_init(&s->ring, s->full_cq ? 1 : 64, SANDBOX_SHARD, s->sandbox, files, log_fd >= 0 ? 2 : 1) < 0) {
		snprintf(s->err, sizeof(s->err), "shard %u: io_uring_queue_init: %s", id, strerror(errno));
		shard_free(s);
		return -1;
	}
	for (u32 i = 0; i < count; i++) {
		s->g[i].shard = s;
		console_init(&s->g[i].con);
		s->g[i].vm.vcpu_fd = s->g[i].vm.vm_fd = -1;
		s->g[i].vm.index = first + i;
	}
	return 0;
}

void shard_free(struct shard *s)
{
	if (s->ring.ring_fd > 0)
		io_uring_queue_exit(&s->ring);
	arena_free(&s->ram);
	if (s->pages.arena)
		munmap(s->pages.arena, (size_t)s->count * GUEST_OUT_SIZE);
	free(s->to_sv.buf);
	free(s->log.buf);
	line_buf_free(&s->lines);
	for (u32 i = 0; s->g && i < s->count; i++) {
		console_free(&s->g[i].con);
		free(s->g[i].vm.why);
	}
	free(s->g);
	sched_free(&s->sched);
	free(s->fresh);
	s->fresh = NULL;
	templates_free(&s->templates);
	s->to_sv.buf = s->log.buf = NULL;
	s->g = NULL;
	s->pages.arena = NULL;
}
