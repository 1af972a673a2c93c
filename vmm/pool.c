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

/* ---- RAM slots: given back late, and handed on ---- */

/*
 * Giving a parked guest's pages back (MADV_DONTNEED) walks the MMU
 * notifier of every KVM VM in the process (docs/architecture.md): ~0.3 us
 * a VM here, 330 us a park with 1,000 VMs, more than all the rest of
 * parking and resuming. So the slots of the last SHARD_KEPT_MAX guests
 * parked keep their pages a while (s->kept, oldest first), counted with
 * them. A kept guest resumed finds its RAM as it left it. Another guest
 * resumed takes the newest kept slot, zeroed, and gives that guest its own
 * slot, whose pages went back before: at the VM limit, where each resume
 * parks a guest, pages are recycled and none goes back. When the list is
 * full, its oldest half gives its pages back, together: guests park about
 * in the order they booted, in adjacent slots, so one call (one walk of
 * the notifiers) frees many (pool_kept_release). So a parked guest that is
 * not kept has a slot that reads as zeros, for its RAM to be rebuilt in.
 */
static size_t pool_ram_slot(const struct shard *s, const struct guest *g)
{
	return arena_index(&s->ram, g->vm.ram);
}

static int pool_kept_find(const struct shard *s, const struct guest *g)
{
	for (u32 i = 0; i < s->nkept; i++)
		if (s->kept[i] == guest_slot(s, g))
			return (int)i;
	return -1;
}

/* Kept guest i leaves the list: its pages go back to the host (release),
 * or the caller takes them; its count loses them either way. */
static void pool_kept_drop(struct shard *s, u32 i, bool release)
{
	struct guest *k = &s->g[s->kept[i]];
	u32 bytes = (u32)k->park->pages * GUEST_PAGE_SIZE;

	if (release)
		arena_release(&s->ram, pool_ram_slot(s, k), 1);
	k->park->counted -= bytes;
	s->parked_bytes -= bytes;
	memmove(&s->kept[i], &s->kept[i + 1], (s->nkept - i - 1) * sizeof(s->kept[0]));
	s->nkept--;
}

static int pool_slot_cmp(const void *a, const void *b)
{
	size_t x = *(const size_t *)a, y = *(const size_t *)b;

	return (x > y) - (x < y);
}

/* The oldest half of the kept guests give their pages back: runs of adjacent slots in one call each. */
static void pool_kept_release(struct shard *s)
{
	size_t slot[SHARD_KEPT_MAX / 2];
	u32 n = SHARD_KEPT_MAX / 2, i, j;

	for (i = 0; i < n; i++)
		slot[i] = pool_ram_slot(s, &s->g[s->kept[i]]);
	qsort(slot, n, sizeof(slot[0]), pool_slot_cmp);
	for (i = 0; i < n; i = j) {
		for (j = i + 1; j < n && slot[j] == slot[j - 1] + 1; j++)
			;
		arena_release(&s->ram, slot[i], j - i);
	}
	while (n--)
		pool_kept_drop(s, 0, false);
}

/* A guest just parked keeps its pages a while, counted with it. */
static void pool_keep(struct shard *s, struct guest *g)
{
	u32 bytes = (u32)g->park->pages * GUEST_PAGE_SIZE;

	if (s->nkept == SHARD_KEPT_MAX)
		pool_kept_release(s);
	s->kept[s->nkept++] = guest_slot(s, g);
	g->park->counted += bytes;
	s->parked_bytes += bytes;
}

/*
 * Before g's RAM is rebuilt: the newest kept slot with no more pages than
 * g had becomes g's, zeroed (its pages stay: a slot never holds many more
 * than its guest uses), and its guest, whose record holds all its RAM,
 * takes g's slot, all zeros. With none, g's RAM is rebuilt in its own.
 */
static void pool_slot_take(struct shard *s, struct guest *g)
{
	struct guest *k = NULL;
	u8 *ram;
	u32 i = s->nkept;

	while (i > 0 && !k)
		if (s->g[s->kept[--i]].park->pages <= g->park->pages)
			k = &s->g[s->kept[i]];
	if (!k)
		return;
	pool_kept_drop(s, i, false);
	arena_clear(&s->ram, pool_ram_slot(s, k));
	ram = k->vm.ram;
	k->vm.ram = g->vm.ram;
	g->vm.ram = ram;
}

/*
 * Parks a halted guest: saves its vCPU, takes its RAM out of its VM and
 * gives the VM to the pool; keeps its state and RAM as their difference
 * from its image's template (template.c), its pages going back to the host
 * later (above); the output it keeps moves into the record so that its
 * ring's page can go. -1 (it stays as it was) if KVM refused or memory ran
 * out.
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
	g->park = k;
	console_page_put(&s->pages, console_park(&g->con, parked_output(k), from));
	sched_lru_remove(&s->sched, guest_slot(s, g));
	s->resident--;
	s->parked++;
	/* Counted once, here: nothing of it changes while it is parked. The
	 * record as malloc holds it (with its chunk header), and the guest's
	 * places in the scheduler's arrays (sched_init) beside its struct; its
	 * pages while it is kept (pool_keep). Its template is the shard's,
	 * counted apart (templates.bytes). What it allocated as it ran
	 * counts too: written disk sectors, a text buffer, waiting input,
	 * the text of why it was silent or failed to resume. */
	k->counted = (u32)(sizeof(*g) + sizeof(struct sched_entry) + 2 * sizeof(u32) + malloc_usable_size(k) +
			   sizeof(size_t) + disk_overlay_bytes(&g->vm.disk) + vgatext_bytes(g->vm.vga) +
			   (g->con.in ? malloc_usable_size(g->con.in) + sizeof(size_t) : 0) +
			   (g->vm.why ? malloc_usable_size(g->vm.why) + sizeof(size_t) : 0));
	s->parked_bytes += k->counted;
	pool_keep(s, g);
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

/* Its RAM as it was (kept, or rebuilt in a slot of zeros) and its vCPU
 * state; NULL (its slot given back) if its record is damaged. Either way
 * it is not kept any more. */
static const struct park *pool_unpack(struct shard *s, struct guest *g)
{
	int i = pool_kept_find(s, g);
	const struct park *p = NULL;

	if (i >= 0)
		pool_kept_drop(s, (u32)i, false); /* its RAM is as it left it */
	else
		pool_slot_take(s, g);
	if (i >= 0 || template_unpack_ram(&s->templates, g->park, g->vm.ram) == 0)
		p = template_unpack_state(&s->templates, g->park);
	if (!p)
		arena_release(&s->ram, pool_ram_slot(s, g), 1);
	return p;
}

void pool_describe(struct shard *s, struct guest *g, char *buf, size_t len)
{
	const struct park *p = pool_unpack(s, g);

	/* vm_describe() reads its RAM too (the stack, the IVT): rebuilt for
	 * that moment, then kept as after parking. */
	if (!p) {
		snprintf(buf, len, "parked (its record is damaged)");
		return;
	}
	vm_describe(&g->vm, &p->regs, &p->sregs, true, buf, len);
	pool_keep(s, g);
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
	char line[WIRE_LINE_MAX], why[VM_WHY_MAX];
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
		arena_release(&s->ram, pool_ram_slot(s, g), 1);
		goto fail;
	}
	if (park_restore(&g->vm, p) < 0) {
		what = "restoring the vCPU state";
		vm_detach(&g->vm, &m);
		machine_destroy(&m, s->kvm->run_size); /* half-restored: not for another guest */
		arena_release(&s->ram, pool_ram_slot(s, g), 1);
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
	snprintf(why, sizeof(why), "resume: %s: %s (state kept, retrying)", what, strerror(errno));
	vm_set_why(&g->vm, why);
	sendbuf_put(&s->to_sv, line, wire_resume_failed_format(line, sizeof(line), guest_id(g), why));
	console_request_fail(&g->con, &s->to_sv, why);
	sched_hold_retry(&s->sched, guest_slot(s, g), clock_now());
	errno = EIO;
	return -1;
}

/* An ended guest gives back its VM (closed, not pooled: it may have ended
 * in any state) and its RAM; its output stays readable in its ring. */
void pool_release(struct shard *s, struct guest *g)
{
	if (g->park) {
		int i = pool_kept_find(s, g);

		if (i >= 0)
			pool_kept_drop(s, (u32)i, false); /* its slot goes back below */
		pool_unpark(s, g);
	} else if (g->vm.vcpu_fd >= 0) {
		vm_destroy(&g->vm);
		s->resident--;
	}
	console_free(&g->con); /* input it will never read */
	disk_free(&g->vm.disk);
	vgatext_free(g->vm.vga);
	g->vm.vga = NULL;
	arena_release(&s->ram, pool_ram_slot(s, g), 1);
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
