/* pool.c - a shard's KVM machines: the spare ones, parking a halted guest to free its machine, resuming it on another.
 */
#include <errno.h>
#include <malloc.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "fault.h"
#include "layout.h"
#include "pool.h"

/* A spare machine back to the pool, or closed if the pool is full. */
void pool_put(struct shard *s, struct machine *m)
{
	if (m->vm_fd >= 0 && s->pool_len < SHARD_POOL_MAX)
		s->pool[s->pool_len++] = *m;
	else
		machine_destroy(m, s->kvm->run_size);
}

/*
 * Tests make each step of making a machine fail as the host would
 * (KVMLITE_FAULT): after the steps before it, whose fds must be closed
 * again.
 */
static const struct {
	const char *point;
	int err;
} machine_faults[MACHINE_STEPS] = { { "create_vm", ENOMEM }, { "create_vcpu", EMFILE }, { "mmap_run", ENOMEM } };

/* A new machine, made step by step: the first step is the VM's stage time (vm_ns), the rest the vCPU's. */
static int pool_make(struct shard *s, struct machine *m, const char **what, u64 *vm_ns)
{
	u64 t0 = clock_now();

	*m = MACHINE_NONE;
	for (int step = 0; step < MACHINE_STEPS; step++) {
		if (fault_next(machine_faults[step].point)) {
			*what = machine_step_call[step];
			errno = machine_faults[step].err;
			goto fail;
		}
		if (machine_step(s->kvm, m, step, what) < 0)
			goto fail;
		if (step == MACHINE_CREATE_VM && vm_ns)
			*vm_ns = clock_now() - t0;
	}
	return 0;
fail:
	machine_destroy(m, s->kvm->run_size);
	return -1;
}

/* A new machine. The first one, before it ever runs, tells what a reused
 * VM is made into before a new guest boots on it, or that none can be. */
static int pool_create(struct shard *s, struct machine *m, const char **what, u64 *vm_ns)
{
	u64 cpu = shard_nobody_begin(s); /* making VMs is kvmlite's work, not a guest's */
	int r = pool_make(s, m, what, vm_ns);
	const char *why;

	shard_nobody_end(s, cpu);
	if (r < 0)
		return -1;
	s->stats.vms_created++;
	if (s->park != PARK_NEVER && !s->fresh) {
		struct vm probe = { .vcpu_fd = m->vcpu_fd, .run = m->run };

		/* Nothing of the last guest's CPU state (mode, FPU, debug
		 * registers, TSC) may reach the next: see park.c. */
		if (!(s->fresh = park_probe(s->kvm, &probe, &why))) {
			char text[WIRE_LINE_MAX];

			snprintf(text, sizeof(text), "parking is not possible on this host (%s): --park never", why);
			shard_fatal(s, text);
			s->park = PARK_NEVER;
			s->vm_max = s->count; /* as with --park never: no guest waits for a VM */
		}
	}
	return 0;
}

/*
 * A VM for a guest to run on: a spare one from the pool; else a new one,
 * while the shard holds fewer than vm_max; else the VM of the least
 * recently active halted guest, which is parked for it. EAGAIN: every VM
 * is busy with a running guest; try again later.
 */
int pool_get(struct shard *s, struct machine *m, const char **what, u64 *vm_ns)
{
	if (!s->pool_len && s->resident >= s->vm_max) {
		*what = "parking another guest for its VM";
		u32 oldest = sched_lru_oldest(&s->sched);

		if (oldest == SCHED_NONE) {
			errno = EAGAIN;
			return -1;
		}
		if (pool_park(s, &s->g[oldest]) < 0) {
			/* KVM refused to save it: it keeps its VM, and the next
			 * candidate is asked next time. */
			sched_lru_remove(&s->sched, oldest);
			errno = EAGAIN;
			return -1;
		}
	}
	if (s->pool_len) {
		*m = s->pool[--s->pool_len];
		return 0;
	}
	return pool_create(s, m, what, vm_ns);
}

/* The image a guest boots: its template's key. */
static const struct guest_image *pool_image(const struct shard *s, const struct guest *g)
{
	const struct guest_image *gi = s->images;

	while (guest_id(g) >= gi->upto)
		gi++;
	return gi;
}

/*
 * Parks a halted guest: saves its vCPU, takes its RAM out of its VM and
 * gives the VM to the pool; keeps its state and RAM as their difference
 * from its image's template (template.c) and gives the RAM's pages back to
 * the host; the output it keeps moves into the record so that its ring's
 * page can go. -1 (it stays as it was) if KVM refused or memory ran out.
 */
int pool_park(struct shard *s, struct guest *g)
{
	u8 kept[GUEST_OUT_SIZE];	 /* not static: shards of a worker are threads */
	u64 cpu = shard_nobody_begin(s); /* kvmlite's choice, not the guest's work */
	u32 n = console_copy_kept(&g->con, kept);
	u64 from = console_oldest(&g->con);
	struct parked *k = NULL;
	struct machine m;
	struct park *p;

	p = park_save(&g->vm, kept, n, from);
	if (p)
		k = template_pack(&s->templates, pool_image(s, g), p, g->vm.ram);
	free(p);
	if (!k) {
		shard_nobody_end(s, cpu);
		return -1;
	}
	vm_detach(&g->vm, &m);
	pool_put(s, &m);
	arena_release(&s->ram, guest_slot(s, g)); /* its bytes are in k now */
	g->park = k;
	console_page_put(&s->pages, console_park(&g->con, parked_output(k), from));
	sched_lru_remove(&s->sched, guest_slot(s, g));
	s->resident--;
	s->parked++;
	/* Counted once, here: nothing of it changes while it is parked. The
	 * record as malloc holds it (with its chunk header), and the guest's
	 * places in the scheduler's arrays (sched_init) beside its struct. Its
	 * template is the shard's, counted apart (templates.bytes). */
	k->counted = (u32)(sizeof(*g) + sizeof(struct sched_entry) + 2 * sizeof(u32) + malloc_usable_size(k) +
			   sizeof(size_t) + disk_overlay_bytes(&g->vm.disk) + vgatext_bytes(g->vm.vga));
	s->parked_bytes += k->counted;
	s->stats.parks++;
	shard_nobody_end(s, cpu);
	return 0;
}

/* A parked guest's output goes back into a ring, and its record away. */
static void pool_unpark(struct shard *s, struct guest *g)
{
	console_unpark(&g->con, console_page_get(&s->pages));
	s->parked_bytes -= g->park->counted;
	free(g->park);
	g->park = NULL;
	s->parked--;
}

/* Its RAM as it was, into its slot (given back while parked), and its vCPU
 * state; NULL (the slot given back again) if its record is damaged. */
static const struct park *pool_unpack(struct shard *s, struct guest *g)
{
	const struct park *p = NULL;

	if (template_unpack_ram(&s->templates, g->park, g->vm.ram) == 0)
		p = template_unpack_state(&s->templates, g->park);
	if (!p)
		arena_release(&s->ram, guest_slot(s, g));
	return p;
}

void pool_describe(struct shard *s, struct guest *g, char *buf, size_t len)
{
	const struct park *p = pool_unpack(s, g);

	/* vm_describe() reads its RAM too (the stack, the IVT): rebuilt for
	 * that moment, then given back. */
	if (!p) {
		snprintf(buf, len, "parked (its record is damaged)");
		return;
	}
	vm_describe(&g->vm, &p->regs, &p->sregs, true, buf, len);
	arena_release(&s->ram, guest_slot(s, g));
}

/*
 * Gives a parked guest a VM again and its state back. On failure the guest
 * keeps its record and tries again later (backing off up to 3.2 s): it is
 * reported failed meanwhile, with the reason; no other guest is touched.
 */
int pool_resume(struct shard *s, struct guest *g)
{
	const char *what = "KVM_SET_USER_MEMORY_REGION (RAM)";
	bool hit = s->pool_len > 0;
	char line[WIRE_LINE_MAX];
	const struct park *p;
	struct machine m;

	if (fault_hit("resume", g->vm.index)) {
		errno = ENOMEM; /* as a failing memslot allocation would say */
		goto fail;
	}
	if (pool_get(s, &m, &what, NULL) < 0) {
		if (errno == EAGAIN)
			return -1;
		goto fail;
	}
	/* Its RAM is rebuilt before any VM maps it. */
	if (!(p = pool_unpack(s, g))) {
		what = "rebuilding its RAM and vCPU state from its record";
		errno = EIO;
		pool_put(s, &m);
		goto fail;
	}
	if (vm_attach(&g->vm, &m, s->kvm->run_size, &what) < 0) {
		pool_put(s, &m);
		arena_release(&s->ram, guest_slot(s, g));
		goto fail;
	}
	if (park_restore(&g->vm, p) < 0) {
		what = "restoring the vCPU state";
		vm_detach(&g->vm, &m);
		machine_destroy(&m, s->kvm->run_size); /* half-restored: not for another guest */
		arena_release(&s->ram, guest_slot(s, g));
		goto fail;
	}
	pool_unpark(s, g);
	s->resident++;
	s->stats.resumes++;
	s->stats.pool_hits += hit;
	sched_retry_ok(&s->sched, guest_slot(s, g));
	return 0;
fail:
	s->stats.resume_failed++;
	snprintf(g->vm.why, sizeof(g->vm.why), "resume: %s: %s (state kept, retrying)", what, strerror(errno));
	sendbuf_put(&s->to_sv, line, wire_resume_failed_format(line, sizeof(line), guest_id(g), g->vm.why));
	console_request_fail(&g->con, &s->to_sv, g->vm.why);
	sched_hold_retry(&s->sched, guest_slot(s, g), clock_now());
	errno = EIO;
	return -1;
}

/* An ended guest gives back its VM (closed, not pooled: it may have ended
 * in any state) and its RAM; its output stays readable in its ring. */
void pool_release(struct shard *s, struct guest *g)
{
	if (g->park) {
		pool_unpark(s, g);
	} else if (g->vm.vcpu_fd >= 0) {
		vm_destroy(&g->vm);
		s->resident--;
	}
	disk_free(&g->vm.disk);
	vgatext_free(g->vm.vga);
	g->vm.vga = NULL;
	arena_release(&s->ram, (size_t)(g - s->g));
}

/*
 * While nothing wants the CPU: make one spare VM ready, so that a guest
 * resumed or created later finds one without waiting for KVM. Below the
 * VM limit it is a new VM; at the limit (--park auto) the least recently
 * active halted guest is parked for it. False when there is nothing to do.
 */
bool pool_refill(struct shard *s)
{
	struct machine m;
	const char *what;

	if (s->park == PARK_NEVER || s->pool_len >= SHARD_POOL_LOW)
		return false;
	if (s->resident + s->pool_len < s->vm_max) {
		if (pool_create(s, &m, &what, NULL) < 0) {
			s->vm_max = s->resident + s->pool_len; /* the host said no: stay below */
			return false;
		}
		pool_put(s, &m);
		return true;
	}
	return sched_lru_oldest(&s->sched) != SCHED_NONE && pool_park(s, &s->g[sched_lru_oldest(&s->sched)]) == 0;
}
