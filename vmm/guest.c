/* guest.c - a guest's life in a shard: started on a machine, run a slice at a time, settled after each event, ended. */
#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include "guest.h"
#include "kick.h"
#include "layout.h"
#include "pool.h"

#define CREATE_BATCH 8 /* guests created per turn, so booting ones run meanwhile */

/* ---- scheduling: scheduler.c keeps the queues by guest index; what they need of a guest ---- */

/* Files the guest under its next deadline in the heap (or takes it out: none). */
static void guest_file(struct shard *s, struct guest *g)
{
	u64 attention = g->con.req_deadline;

	if (g->vm.state == VM_ENDED) {
		sched_unfile(&s->sched, guest_slot(s, g));
		return;
	}
	/* its boot deadline: say so if it is silent. Not while it waits in the
	 * run queue: that time does not count, and it is looked at after its run. */
	if (g->silent_at && !guest_sched(s, g)->queued && g->silent_at < attention)
		attention = g->silent_at;
	/* Its PIT may fire a little late, so that ticks share wakeups (sched_late). */
	sched_file(&s->sched, guest_slot(s, g), sched_late(vm_deadline(&g->vm), clock_now()), attention);
}

/* A running guest wants the CPU: queued, unless it is held back. */
static void guest_queue(struct shard *s, struct guest *g)
{
	/* The time it joins is read only while it has a boot deadline: that
	 * is all the wait is needed for (guest_next). */
	if (g->vm.state == VM_RUNNING)
		sched_push(&s->sched, guest_slot(s, g), g->silent_at ? clock_now() : 0);
}

/* The next guest to run, round robin; NULL if none wants the CPU. */
struct guest *guest_next(struct shard *s)
{
	u32 i = sched_pop(&s->sched);
	struct guest *g;

	if (i == SCHED_NONE)
		return NULL;
	g = &s->g[i];
	if (g->silent_at) /* its boot deadline moves on by the time it waited for the CPU */
		g->silent_at += clock_now() - s->sched.e[i].queued_at;
	return g;
}

/* ---- a guest's life: created, run, settled after every event, ended ---- */

const char *guest_state(const struct guest *g)
{
	if (!g->created)
		return "creating";
	if (g->vm.state != VM_ENDED && guest_sched(g->shard, g)->retry_at)
		return "failed"; /* for now: it could not get a VM back, and will try again */
	if (g->vm.state != VM_ENDED && g->silent)
		return "silent"; /* wrote nothing by its boot deadline, and still has not */
	if (g->vm.state != VM_ENDED && g->park)
		return "parked";
	if (g->vm.state == VM_RUNNING)
		return "running";
	if (g->vm.state == VM_HALTED)
		return "halted";
	switch (g->vm.end) {
	case VM_END_HALT:
	case VM_END_IDLE:
	case VM_END_DEBUG_EXIT:
	case VM_END_STOPPED:
		return "ended";
	default:
		return "failed";
	}
}

/* Every byte the guest writes to COM1 lands here, inside vm_run(). */
static void guest_output(void *ctx, struct vm *vm, u8 byte)
{
	struct guest *g = ctx;
	struct shard *s = g->shard;
	bool line_end = console_put(&g->con, byte);

	if (!g->booted) {
		u64 now = clock_now();

		/* With the firmware, its run is a stage of its own: from the
		 * reset to entering the boot sector (bios_event). */
		u64 fw_done = vm->bios.boot_ns > g->t_ready ? vm->bios.boot_ns : g->t_ready;

		g->booted = true;
		g->silent = false;
		g->silent_at = 0;
		s->stats.stage_ns[STAGE_FIRMWARE] += fw_done - g->t_ready;
		s->stats.stage_ns[STAGE_FIRST_BYTE] += now - fw_done;
		s->stats.staged++;
		char line[WIRE_LINE_MAX];

		sendbuf_put(&s->to_sv, line, wire_boot_format(line, sizeof(line), vm->index, now));
	}
	if (line_end)
		console_line_end(&g->con, &s->to_sv, &s->log, vm->index);
}

/*
 * Its boot deadline passed and it has written nothing: tell the supervisor
 * what it does (its registers as parked, or read from its vCPU), so that
 * the user learns why, and `spawn --for 0` need not wait for it.
 */
static void guest_silent(struct shard *s, struct guest *g)
{
	char what[VM_WHY_MAX], line[WIRE_LINE_MAX];

	g->silent = true;
	g->silent_at = 0;
	if (g->park)
		pool_describe(s, g, what, sizeof(what));
	else
		vm_describe_live(&g->vm, what, sizeof(what));
	vm_set_why(&g->vm, what);
	sendbuf_put(&s->to_sv, line, wire_silent_format(line, sizeof(line), guest_id(g), what));
}

/* After anything happened to a guest: file it where it belongs now. */
void guest_settle(struct shard *s, struct guest *g, u64 now)
{
	if (g->vm.state != VM_ENDED) {
		vm_advance(&g->vm, now);
		/* silent: nothing written by its deadline, counted in its own time
		 * (running or asleep), not in time it waited for the CPU behind
		 * others: a thousand guests booting at once are not silent */
		if (g->silent_at && !guest_sched(s, g)->queued && g->silent_at <= now && !g->booted)
			guest_silent(s, g);
		if (g->con.req_deadline <= now)
			console_request_fail(&g->con, &s->to_sv, "timeout");
		sched_release(&s->sched, guest_slot(s, g), now);
		guest_file(s, g);
		guest_queue(s, g);
		/* A guest that halted gives its VM up now (always), or becomes
		 * a candidate, most recently active last (auto). */
		if (g->vm.state == VM_HALTED && !g->park && s->park != PARK_NEVER &&
		    (s->park == PARK_AUTO || pool_park(s, g) < 0))
			sched_lru_append(&s->sched, guest_slot(s, g));
		return;
	}
	if (g->reported)
		return;
	/* It ended: tell the supervisor, give back its fd, mapping and RAM. */
	g->reported = true;
	if (s->log.fd >= 0 && g->con.log_pos < g->con.out_total)
		console_log_line(&g->con, &s->log, guest_id(g), true); /* its last words, as a whole line */
	console_request_fail(&g->con, &s->to_sv, "guest not running");
	sched_unfile(&s->sched, guest_slot(s, g));
	sched_lru_remove(&s->sched, guest_slot(s, g));
	char line[WIRE_LINE_MAX];

	sendbuf_put(&s->to_sv, line, wire_end_format(line, sizeof(line), guest_id(g), guest_state(g), vm_why(&g->vm)));
	pool_release(s, g);
}

/* Tells the supervisor what changed: guests created, guests parked, spare VMs. */
void guest_report(struct shard *s)
{
	if (s->created == s->created_reported && s->parked == s->parked_reported && s->pool_len == s->pool_reported &&
	    s->stats.staged == s->staged_reported)
		return;
	struct wire_created c = {
		.created = s->created,
		.parked = s->parked,
		.parked_bytes = s->parked_bytes,
		.spare = s->pool_len,
		.staged = s->stats.staged,
		.created_staged = s->stats.created_staged,
		.templates = s->templates.n,
		.template_bytes = s->templates.bytes,
	};
	char line[WIRE_LINE_MAX];

	memcpy(c.stage_ns, s->stats.stage_ns, sizeof(c.stage_ns));
	sendbuf_put(&s->to_sv, line, wire_created_format(line, sizeof(line), &c));
	s->created_reported = s->created;
	s->parked_reported = s->parked;
	s->pool_reported = s->pool_len;
	s->staged_reported = s->stats.staged;
}

/* Gives a new guest a VM and boots it. EAGAIN: no VM free yet, try later. */
static int guest_start(struct shard *s, struct guest *g, u32 index)
{
	struct vm_config cfg = { .index = index, .firmware = s->firmware, .output = guest_output, .output_ctx = g };
	const struct guest_image *gi = s->images;
	u8 *ram = arena_slot(&s->ram, index - s->first);
	u64 t[NSTAGES] = { 0 }, vm_ns = 0;
	const char *what;
	struct machine m;

	while (index >= gi->upto)
		gi++;
	cfg.disk = &gi->img.disk;
	vm_setup(&g->vm, ram, &cfg);
	if (!g->con.out)
		g->con.out = console_page_get(&s->pages);
	t[0] = clock_now();
	if (pool_get(s, &m, &what, &vm_ns) < 0) {
		if (errno == EAGAIN)
			return -1;
		goto fail;
	}
	t[1] = clock_now();
	loader_place(&gi->img, ram, GUEST_RAM_SIZE, s->firmware);
	t[2] = clock_now();
	if (vm_attach(&g->vm, &m, s->kvm->run_size, &what) < 0) {
		pool_put(s, &m);
		goto fail;
	}
	t[3] = clock_now();
	s->resident++;
	what = "resetting a reused VM's vCPU";
	if (m.used && park_renew(&g->vm, s->fresh) < 0)
		goto fail;
	/* A VM that will never carry another guest needs no VM fd: every fd
	 * kept counts against RLIMIT_NOFILE. */
	if (s->park == PARK_NEVER) {
		close(g->vm.vm_fd);
		g->vm.vm_fd = -1;
	}
	if (vm_boot(&g->vm, m.used ? &s->fresh->sregs : NULL, &what) < 0)
		goto fail;
	/* Stage times, as bench/raw_baseline splits its own: a VM from the
	 * pool counts as created in no time (that is what the pool is for). */
	g->t_ready = clock_now();
	g->silent_at = s->boot_timeout ? g->t_ready + s->boot_timeout : 0;
	s->stats.stage_ns[STAGE_CREATE_VM] += vm_ns;
	s->stats.stage_ns[STAGE_CREATE_VCPU] += t[1] - t[0] - vm_ns;
	s->stats.stage_ns[STAGE_LOAD] += t[2] - t[1];
	s->stats.stage_ns[STAGE_SET_MEMORY] += t[3] - t[2];
	s->stats.stage_ns[STAGE_SET_REGS] += g->t_ready - t[3];
	s->stats.created_staged++;
	return 0;
fail:
	/* This guest fails with its reason; the run goes on. */
	s->stats.create_failed++;
	vm_end(&g->vm, VM_END_HOST_ERROR, "guest %u: %s: %s", index, what, strerror(errno));
	return 0;
}

/* Creates up to CREATE_BATCH guests; false when no VM could be had for the
 * next (every VM carries a guest that is running or held back). */
bool guest_create_some(struct shard *s)
{
	for (int n = 0; n < CREATE_BATCH && s->created < s->count && !s->create_stop; n++) {
		struct guest *g = &s->g[s->created];

		if (guest_start(s, g, s->first + s->created) < 0) {
			guest_report(s);
			return false; /* go on when a guest halts, or its CPU period ends */
		}
		s->created++;
		g->created = true;
		if (g->vm.state == VM_ENDED)
			guest_settle(s, g, 0);
		else
			guest_queue(s, g);
	}
	guest_report(s);
	return true;
}

/*
 * Charges the guest that just ran with the thread's CPU time since the
 * last charge: its slice and the wakeup that led to it. (For a guest woken
 * by its own PIT deadline the wakeup is half its cost on this host: going
 * to sleep and being woken are not cheap under nested KVM.) sched_charge()
 * throttles it if that used up its --cpu-max share.
 */
static void guest_charge(struct shard *s, struct guest *g)
{
	u64 cpu = clock_thread_cpu(), used = cpu > s->cpu_mark ? cpu - s->cpu_mark : 0;

	s->cpu_mark = cpu;
	sched_charge(&s->sched, guest_slot(s, g), used, g->vm.state != VM_ENDED);
}

/*
 * Makes sure the slice timer kicks g out of KVM_RUN by `until`. The timer
 * is set only when it is not already due by then: slices that follow one
 * another within one wakeup (the ticks of many guests) share one setting,
 * which fires at most SHARD_SLICE_NS after the first of them began, and the
 * shard disarms it before it sleeps (guest_disarm_kick). A kick that lands
 * on a guest after its slice ended is dropped at its next slice's start;
 * one that lands between that and the check below is caught by the check.
 */
static void guest_arm_kick(struct shard *s, struct guest *g, u64 until)
{
	if (g->vm.run) /* none for a guest stopped while it waited in the queue: vm_run() returns at once */
		g->vm.run->immediate_exit = 0;
	kick_target(g->vm.run);
	if (s->slice_timer_at && s->slice_timer_at > clock_now() && s->slice_timer_at <= until)
		return;
	kick_timer_at(s->slice_timer, until);
	s->slice_timer_at = until;
}

void guest_disarm_kick(struct shard *s)
{
	if (!s->slice_timer_at)
		return;
	kick_timer_at(s->slice_timer, 0);
	s->slice_timer_at = 0;
}

/* Runs one guest until it halts, ends, or its slice (or CPU share) is over. */
void guest_run_slice(struct shard *s, struct guest *g)
{
	u64 now = clock_now(), until = now + SHARD_SLICE_NS, deadline = vm_deadline(&g->vm);
	u64 kicks = g->vm.stats.kicks, share = sched_slice_start(&s->sched, guest_slot(s, g), now);

	if (share < SHARD_SLICE_NS) /* --cpu-max: what is left of its share */
		until = now + share;
	if (g->park && pool_resume(s, g) < 0) {
		bool busy = errno == EAGAIN;

		guest_charge(s, g);
		if (busy && !guest_sched(s, g)->throttled_until)
			guest_queue(s, g); /* every VM is busy: after the others */
		else
			guest_file(s, g); /* filed under its retry time, or its period's end */
		return;
	}
	if (deadline < until)
		until = deadline;
	guest_arm_kick(s, g, until);
	s->stats.slices++;
	do {
		vm_run(&g->vm);
		if (g->vm.state != VM_ENDED)
			console_feed(&g->con, &g->vm.uart);
		now = clock_now();
		if (vm_deadline(&g->vm) <= now)
			vm_advance(&g->vm, now);
	} while (g->vm.state == VM_RUNNING && g->vm.stats.kicks == kicks);
	if (g->vm.stats.kicks != kicks)
		s->stats.preempted++;
	guest_charge(s, g);
	/* A kick that came after the last exit is for this slice, not the next. */
	if (g->vm.run)
		g->vm.run->immediate_exit = 0;
	console_send_watched(&g->con, &s->to_sv, guest_id(g));
	guest_settle(s, g, now);
}
