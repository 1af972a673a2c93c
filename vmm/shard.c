/* shard.c - one worker thread: creates its guests, runs them M:N, serves their consoles through one io_uring. */
#include <assert.h>
#include <errno.h>
#include <linux/kvm.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/socket.h>
#include <unistd.h>

#include "fault.h"
#include "kick.h"
#include "layout.h"
#include "sandbox.h"
#include "shard.h"

#define CREATE_BATCH 8 /* guests created per turn, so booting ones run meanwhile */
#define NONE	     UINT32_MAX

/* io_uring user_data: what a completion is for */
enum { UD_READ = 1, UD_WRITE, UD_LOG, UD_TIMEOUT, UD_TIMEOUT_UPDATE, UD_FILLER };
/*
 * The ring's registered files, which its operations name by index: the
 * only files it can reach (sandbox_ring_init). Every SQE is marked with
 * IOSQE_FIXED_FILE after its io_uring_prep_*(), timeouts too.
 */
enum { FILE_SOCK, FILE_LOG };

/* ---- the deadline heap: guests by the next moment they need attention ---- */

static u64 guest_key(const struct guest *g)
{
	/* Held back (a failed resume, a used-up CPU share): nothing before then. */
	u64 hold = g->retry_at > g->throttled_until ? g->retry_at : g->throttled_until;
	u64 d = hold ? hold : vm_deadline(&g->vm);

	/* its boot deadline: say so if it is silent. Not while it waits in the
	 * run queue: that time does not count, and it is looked at after its run. */
	if (g->silent_at && !g->queued && g->silent_at < d)
		d = g->silent_at;
	return g->req_deadline < d ? g->req_deadline : d;
}

static void heap_swap(struct shard *s, u32 a, u32 b)
{
	u32 t = s->heap[a];

	s->heap[a] = s->heap[b];
	s->heap[b] = t;
	s->g[s->heap[a]].heap_pos = a;
	s->g[s->heap[b]].heap_pos = b;
}

static void heap_sift(struct shard *s, u32 i)
{
	while (i > 0 && s->g[s->heap[(i - 1) / 2]].heap_key > s->g[s->heap[i]].heap_key) {
		heap_swap(s, i, (i - 1) / 2);
		i = (i - 1) / 2;
	}
	for (;;) {
		u32 l = 2 * i + 1, r = l + 1, m = i;

		if (l < s->heap_len && s->g[s->heap[l]].heap_key < s->g[s->heap[m]].heap_key)
			m = l;
		if (r < s->heap_len && s->g[s->heap[r]].heap_key < s->g[s->heap[m]].heap_key)
			m = r;
		if (m == i)
			return;
		heap_swap(s, i, m);
		i = m;
	}
}

static void heap_remove(struct shard *s, struct guest *g)
{
	u32 i = g->heap_pos;

	if (i == NONE)
		return;
	g->heap_pos = NONE;
	if (i != --s->heap_len) {
		s->heap[i] = s->heap[s->heap_len];
		s->g[s->heap[i]].heap_pos = i;
		heap_sift(s, i);
	}
}

/* Files the guest under its current deadline (or takes it out: none). */
static void heap_update(struct shard *s, struct guest *g)
{
	u64 key = g->vm.state == VM_ENDED ? UINT64_MAX : guest_key(g);

	if (key == UINT64_MAX) {
		heap_remove(s, g);
		return;
	}
	g->heap_key = key;
	if (g->heap_pos == NONE) {
		g->heap_pos = s->heap_len;
		s->heap[s->heap_len++] = (u32)(g - s->g);
	}
	heap_sift(s, g->heap_pos);
}

/* ---- CPU time: what each guest costs the shard's thread (--cpu-max, guest_charge()) ---- */

/*
 * Work done for no guest in particular (commands, creating guests, making
 * VMs, parking) is not charged to the next guest that runs: it lies
 * between shard_nobody_begin() and shard_nobody_end(). They nest (a
 * command may park a guest); only the outermost pair counts.
 */
static u64 shard_nobody_begin(struct shard *s)
{
	return s->nobody++ ? 0 : clock_thread_cpu();
}

static void shard_nobody_end(struct shard *s, u64 since)
{
	if (--s->nobody == 0)
		s->cpu_mark += clock_thread_cpu() - since;
}

/* ---- the run queue: guests that want the CPU, round robin ---- */

static void lru_remove(struct shard *s, struct guest *g);

static void runq_push(struct shard *s, struct guest *g)
{
	if (g->queued || g->vm.state != VM_RUNNING || g->retry_at)
		return;
	lru_remove(s, g); /* it is active again */
	if (g->throttled_until)
		return; /* it runs when its period ends: filed in the heap under that */
	g->queued = true;
	if (g->silent_at)
		g->queued_at = clock_now(); /* waiting for the CPU: not the guest's own time */
	s->runq[(s->runq_head + s->runq_len++) % s->count] = (u32)(g - s->g);
}

static struct guest *runq_pop(struct shard *s)
{
	struct guest *g;

	if (!s->runq_len)
		return NULL;
	g = &s->g[s->runq[s->runq_head]];
	s->runq_head = (s->runq_head + 1) % s->count;
	s->runq_len--;
	g->queued = false;
	if (g->silent_at) /* its boot deadline moves on by the time it waited for the CPU */
		g->silent_at += clock_now() - g->queued_at;
	return g;
}

/* ---- resident halted guests, least recently active first: whom --park auto parks ---- */

static void lru_remove(struct shard *s, struct guest *g)
{
	if (!g->in_lru)
		return;
	g->in_lru = false;
	if (g->lru_prev != NONE)
		s->g[g->lru_prev].lru_next = g->lru_next;
	else
		s->lru_head = g->lru_next;
	if (g->lru_next != NONE)
		s->g[g->lru_next].lru_prev = g->lru_prev;
	else
		s->lru_tail = g->lru_prev;
}

static void lru_append(struct shard *s, struct guest *g)
{
	u32 i = (u32)(g - s->g);

	if (g->in_lru)
		return;
	g->in_lru = true;
	g->lru_next = NONE;
	g->lru_prev = s->lru_tail;
	if (s->lru_tail != NONE)
		s->g[s->lru_tail].lru_next = i;
	else
		s->lru_head = i;
	s->lru_tail = i;
}

/* ---- bytes out: to the supervisor, and to the log ---- */

static void sendbuf_done(struct sendbuf *b, int res);

static void sendbuf_submit(struct shard *s, struct sendbuf *b)
{
	struct io_uring_sqe *sqe;

	if (b->inflight || b->len == 0)
		return;
	if (b->fd < 0) {
		b->len = 0;
		return;
	}
	if (fault_next("write_eagain")) {
		/* Tests: as if the write had completed with -EAGAIN. */
		b->inflight = true;
		sendbuf_done(b, -EAGAIN);
		return;
	}
	sqe = io_uring_get_sqe(&s->ring);
	if (!sqe)
		return; /* the ring is full: the next turn submits it */
	/* Tests make some writes short, as a full socket buffer would. */
	b->busy = b->len > 1 && fault_next("short_write") ? b->len / 2 : b->len;
	if (b->socket)
		io_uring_prep_send(sqe, FILE_SOCK, b->buf, b->busy, MSG_NOSIGNAL);
	else
		io_uring_prep_write(sqe, FILE_LOG, b->buf, (unsigned)b->busy, (u64)-1); /* O_APPEND: at the end */
	sqe->flags |= IOSQE_FIXED_FILE;
	io_uring_sqe_set_data64(sqe, b == &s->log ? UD_LOG : UD_WRITE);
	b->inflight = true;
}

static void sendbuf_done(struct sendbuf *b, int res)
{
	b->inflight = false;
	if (res == -EAGAIN || res == -EINTR) {
		b->busy = 0; /* nothing was written: all of it goes again */
		return;
	}
	if (res < 0) {
		b->len = b->busy = 0; /* the reader is gone: drop, do not retry */
		return;
	}
	/* Drop what was written; a short write's rest goes out next. */
	memmove(b->buf, b->buf + res, b->len - (size_t)res);
	b->len -= (size_t)res;
	b->busy = 0;
}

static void shard_handle_cqe(struct shard *s, u64 ud, int res);

/* Waits for b's write in flight, handling what else completes meanwhile. */
static void sendbuf_wait(struct shard *s, struct sendbuf *b)
{
	while (b->inflight) {
		struct io_uring_cqe *cqe;
		u64 ud;
		int res;

		io_uring_submit(&s->ring);
		if (io_uring_wait_cqe(&s->ring, &cqe) < 0)
			continue;
		ud = cqe->user_data;
		res = cqe->res;
		io_uring_cqe_seen(&s->ring, cqe);
		if (ud == UD_READ) {
			/* Commands are handled on the next turn of the loop, not
			 * in the middle of writing an answer: keep it aside. */
			s->read_done = res;
			continue;
		}
		shard_handle_cqe(s, ud, res);
	}
}

/* Room for n more bytes in b, waiting for its reader if need be. An
 * answer longer than the buffer is written in pieces of at most its size
 * (see shard_list), each reserved in turn. */
static char *sendbuf_reserve(struct shard *s, struct sendbuf *b, size_t n)
{
	assert(n <= SHARD_WBUF_SIZE);
	while (b->len + n > SHARD_WBUF_SIZE && b->len > 0) {
		sendbuf_submit(s, b);
		sendbuf_wait(s, b);
		if (b->fd < 0)
			b->len = 0;
	}
	return b->buf + b->len;
}

static char *shard_reserve(struct shard *s, size_t n)
{
	return sendbuf_reserve(s, &s->to_sv, n);
}

static void shard_printf(struct shard *s, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static void shard_printf(struct shard *s, const char *fmt, ...)
{
	va_list ap;
	char *p = shard_reserve(s, 512);
	int n;

	va_start(ap, fmt);
	n = vsnprintf(p, 512, fmt, ap);
	va_end(ap);
	s->to_sv.len += n < 512 ? (size_t)n : 511;
}

/* One line of the wire (wire.h), formatted in line, to the supervisor. */
static void shard_send(struct shard *s, const char *line, size_t n)
{
	memcpy(shard_reserve(s, n), line, n);
	s->to_sv.len += n;
}

/* "@fatal shard ID: WHAT": this shard cannot go on. */
static void shard_fatal(struct shard *s, const char *what)
{
	char text[WIRE_LINE_MAX + 32], line[WIRE_LINE_MAX];

	snprintf(text, sizeof(text), "shard %u: %s", s->id, what);
	shard_send(s, line, wire_fatal_format(line, sizeof(line), text));
}

/*
 * Output ring pages. A guest holds one while it has a VM; parking moves
 * what it holds into the park record and the page goes to a free list for
 * the next guest, never back to the kernel: in a process holding many KVM
 * VMs, every munmap or MADV_DONTNEED walks each VM's MMU notifier (about
 * 1 ms at 10,000 VMs here), while a page reused costs nothing. A free
 * page's first bytes link to the next free one.
 */
static u8 *ring_get(struct shard *s)
{
	u8 *p = s->out_free;

	if (p) {
		memcpy(&s->out_free, p, sizeof(p));
		return p;
	}
	return s->out_arena + (size_t)s->out_used++ * GUEST_OUT_SIZE;
}

static void ring_put(struct shard *s, u8 *p)
{
	memcpy(p, &s->out_free, sizeof(p));
	s->out_free = p;
}

/*
 * Where the guest's output byte `pos` is kept, and how many of the bytes
 * up to `to` follow it there: its ring while it has a VM; its park record
 * while parked (the ring's page is given back then). pos must be at least
 * the oldest byte kept.
 */
static const u8 *guest_out_at(const struct guest *g, u64 pos, u64 to, size_t *n)
{
	u32 off = (u32)(pos % GUEST_OUT_SIZE);

	if (g->park) {
		*n = (size_t)(to - pos);
		return park_output(g->park) + (pos - g->park->out_from);
	}
	*n = to - pos < GUEST_OUT_SIZE - off ? (size_t)(to - pos) : GUEST_OUT_SIZE - off;
	return g->out + off;
}

static u64 guest_out_oldest(const struct guest *g)
{
	return g->out_total > GUEST_OUT_SIZE ? g->out_total - GUEST_OUT_SIZE : 0;
}

/* Appends escaped guest output bytes [from, to). */
static void shard_put_output(struct shard *s, const struct guest *g, u64 from, u64 to)
{
	while (from < to) {
		size_t n;
		const u8 *src = guest_out_at(g, from, to, &n);
		char *p = shard_reserve(s, PROTO_ESCAPED_MAX(n) + 1);

		proto_escape(src, n, p, PROTO_ESCAPED_MAX(n) + 1);
		s->to_sv.len += strlen(p);
		from += n;
	}
}

/* ---- guests ---- */

static u32 guest_id(const struct guest *g)
{
	return g->vm.index;
}

static const char *guest_state(const struct guest *g)
{
	if (!g->created)
		return "creating";
	if (g->vm.state != VM_ENDED && g->retry_at)
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

static void guest_answer(struct guest *g, u64 line_end)
{
	struct shard *s = g->shard;
	u64 from = g->req_pos, oldest = g->out_total > GUEST_OUT_SIZE ? g->out_total - GUEST_OUT_SIZE : 0;

	if (from < oldest)
		from = oldest;
	if (line_end > from && g->out[(line_end - 1) % GUEST_OUT_SIZE] == '\r')
		line_end--;
	shard_printf(s, "%u ok ", g->req_tag);
	shard_put_output(s, g, from, line_end);
	shard_printf(s, "\n");
	g->req_deadline = UINT64_MAX;
}

/* --log: the guest's line, prefixed with its id, raw bytes as it wrote them. */
static void guest_log_line(struct guest *g, bool add_newline)
{
	struct shard *s = g->shard;
	u64 from = g->log_pos, oldest = guest_out_oldest(g);
	char *p = sendbuf_reserve(s, &s->log, GUEST_OUT_SIZE + 17);
	size_t n = (size_t)snprintf(p, 16, "%u ", g->vm.index), len = 0;

	if (from < oldest)
		from = oldest; /* a line longer than the ring: its start is gone */
	for (; from < g->out_total; from += len, n += len) {
		const u8 *src = guest_out_at(g, from, g->out_total, &len);

		memcpy(p + n, src, len);
	}
	if (add_newline)
		p[n++] = '\n';
	s->log.len += n;
	g->log_pos = g->out_total;
}

/* Every byte the guest writes to COM1 lands here, inside vm_run(). */
static void guest_output(void *ctx, struct vm *vm, u8 byte)
{
	struct guest *g = ctx;

	g->out[g->out_total % GUEST_OUT_SIZE] = byte;
	g->out_total++;
	if (!g->booted) {
		u64 now = clock_now();

		/* With the firmware, its run is a stage of its own: from the
		 * reset to entering the boot sector (bios_event). */
		u64 fw_done = vm->bios.boot_ns > g->t_ready ? vm->bios.boot_ns : g->t_ready;

		g->booted = true;
		g->silent = false;
		g->silent_at = 0;
		g->shard->stats.stage_ns[STAGE_FIRMWARE] += fw_done - g->t_ready;
		g->shard->stats.stage_ns[STAGE_FIRST_BYTE] += now - fw_done;
		g->shard->stats.staged++;
		char line[WIRE_LINE_MAX];

		shard_send(g->shard, line, wire_boot_format(line, sizeof(line), vm->index, now));
	}
	if (byte == '\n' && g->req_deadline != UINT64_MAX)
		guest_answer(g, g->out_total - 1);
	if (byte == '\n' && g->shard->log.fd >= 0)
		guest_log_line(g, false);
}

/* Hands queued input to the UART whenever its receiver has room, as QEMU's
 * chardev does; the rest waits in the queue (uart_rx_feed). */
static void guest_feed(struct guest *g)
{
	if (g->in_pos == g->in_len || g->vm.state == VM_ENDED)
		return;
	g->in_pos += (u16)uart_rx_feed(&g->vm.uart, g->in + g->in_pos, g->in_len - g->in_pos);
	if (g->in_pos == g->in_len)
		g->in_pos = g->in_len = 0;
}

/* ---- KVM VMs: the pool, parking and resuming ---- */

/* A spare machine back to the pool, or closed if the pool is full. */
static void shard_machine_put(struct shard *s, struct machine *m)
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
static int shard_machine_make(struct shard *s, struct machine *m, const char **what, u64 *vm_ns)
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
static int shard_machine_create(struct shard *s, struct machine *m, const char **what, u64 *vm_ns)
{
	u64 cpu = shard_nobody_begin(s); /* making VMs is kvmlite's work, not a guest's */
	int r = shard_machine_make(s, m, what, vm_ns);
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

static int guest_park(struct shard *s, struct guest *g);

/*
 * A VM for a guest to run on: a spare one from the pool; else a new one,
 * while the shard holds fewer than vm_max; else the VM of the least
 * recently active halted guest, which is parked for it. EAGAIN: every VM
 * is busy with a running guest; try again later.
 */
static int shard_machine_get(struct shard *s, struct machine *m, const char **what, u64 *vm_ns)
{
	if (!s->pool_len && s->resident >= s->vm_max) {
		*what = "parking another guest for its VM";
		if (s->lru_head == NONE) {
			errno = EAGAIN;
			return -1;
		}
		if (guest_park(s, &s->g[s->lru_head]) < 0) {
			/* KVM refused to save it: it keeps its VM, and the next
			 * candidate is asked next time. */
			lru_remove(s, &s->g[s->lru_head]);
			errno = EAGAIN;
			return -1;
		}
	}
	if (s->pool_len) {
		*m = s->pool[--s->pool_len];
		return 0;
	}
	return shard_machine_create(s, m, what, vm_ns);
}

/* Bytes of RAM the guest has touched: all of it is the VMM's to keep. */
static size_t guest_ram_resident(struct shard *s, struct guest *g)
{
	unsigned char vec[GUEST_RAM_SIZE / GUEST_PAGE_SIZE];
	size_t n = 0;

	if (mincore(g->vm.ram, GUEST_RAM_SIZE, vec) < 0)
		return GUEST_RAM_SIZE;
	for (size_t i = 0; i < sizeof(vec); i++)
		n += vec[i] & 1;
	return n * GUEST_PAGE_SIZE;
}


/*
 * Parks a halted guest: saves its vCPU, takes its RAM out of its VM and
 * gives the VM to the pool; the output it keeps moves into the record so
 * that its ring's page can go. -1 (it stays as it was) if KVM refused.
 */
static int guest_park(struct shard *s, struct guest *g)
{
	u8 kept[GUEST_OUT_SIZE]; /* not static: shards of a worker are threads */
	u64 from = guest_out_oldest(g), cpu = shard_nobody_begin(s); /* kvmlite's choice, not the guest's work */
	size_t n, len = 0;
	struct machine m;
	struct park *p;

	for (n = 0; from + n < g->out_total; n += len) {
		const u8 *src = guest_out_at(g, from + n, g->out_total, &len);

		memcpy(kept + n, src, len);
	}
	p = park_save(&g->vm, kept, (u32)n, from);
	if (!p) {
		shard_nobody_end(s, cpu);
		return -1;
	}
	vm_detach(&g->vm, &m);
	shard_machine_put(s, &m);
	g->park = p;
	ring_put(s, g->out);
	g->out = NULL;
	lru_remove(s, g);
	s->resident--;
	s->parked++;
	/* Counted once, here: its pages cannot change while it is parked. */
	p->counted = (u32)(sizeof(*g) + park_size(p) + guest_ram_resident(s, g) + disk_overlay_bytes(&g->vm.disk) +
			   vgatext_bytes(g->vm.vga));
	s->parked_bytes += p->counted;
	s->stats.parks++;
	shard_nobody_end(s, cpu);
	return 0;
}

/* A parked guest's output goes back into a ring, and its record away. */
static void guest_unpark(struct shard *s, struct guest *g)
{
	const struct park *p = g->park;

	g->out = ring_get(s);
	for (u64 i = 0; i < p->out_len; i++)
		g->out[(p->out_from + i) % GUEST_OUT_SIZE] = park_output(p)[i];
	s->parked_bytes -= p->counted;
	free(g->park);
	g->park = NULL;
	s->parked--;
}

/*
 * Gives a parked guest a VM again and its state back. On failure the guest
 * keeps its record and tries again later (backing off up to 5 s): it is
 * reported failed meanwhile, with the reason; no other guest is touched.
 */
static int guest_resume(struct shard *s, struct guest *g)
{
	const struct park *p = g->park;
	const char *what = "KVM_SET_USER_MEMORY_REGION (RAM)";
	bool hit = s->pool_len > 0;
	char line[WIRE_LINE_MAX];
	struct machine m;
	u64 backoff;

	if (fault_hit("resume", g->vm.index)) {
		errno = ENOMEM; /* as a failing memslot allocation would say */
		goto fail;
	}
	if (shard_machine_get(s, &m, &what, NULL) < 0) {
		if (errno == EAGAIN)
			return -1;
		goto fail;
	}
	if (vm_attach(&g->vm, &m, s->kvm->run_size, &what) < 0) {
		shard_machine_put(s, &m);
		goto fail;
	}
	if (park_restore(&g->vm, p) < 0) {
		what = "restoring the vCPU state";
		vm_detach(&g->vm, &m);
		machine_destroy(&m, s->kvm->run_size); /* half-restored: not for another guest */
		goto fail;
	}
	guest_unpark(s, g);
	s->resident++;
	s->stats.resumes++;
	s->stats.pool_hits += hit;
	g->resume_tries = 0;
	return 0;
fail:
	s->stats.resume_failed++;
	snprintf(g->vm.why, sizeof(g->vm.why), "resume: %s: %s (state kept, retrying)", what, strerror(errno));
	shard_send(s, line, wire_resume_failed_format(line, sizeof(line), guest_id(g), g->vm.why));
	if (g->req_deadline != UINT64_MAX) {
		shard_printf(s, "%u error %s\n", g->req_tag, g->vm.why);
		g->req_deadline = UINT64_MAX;
	}
	backoff = 100000000ull << (g->resume_tries < 5 ? g->resume_tries : 5);
	g->resume_tries++;
	g->retry_at = clock_now() + (backoff < 5000000000ull ? backoff : 5000000000ull);
	errno = EIO;
	return -1;
}

/* An ended guest gives back its VM (closed, not pooled: it may have ended
 * in any state) and its RAM; its output stays readable in its ring. */
static void guest_release(struct shard *s, struct guest *g)
{
	if (g->park) {
		guest_unpark(s, g);
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
 * Its boot deadline passed and it has written nothing: tell the supervisor
 * what it does (its registers as parked, or read from its vCPU), so that
 * the user learns why, and `spawn --for 0` need not wait for it.
 */
static void guest_silent(struct shard *s, struct guest *g)
{
	char what[sizeof(g->vm.why)], line[WIRE_LINE_MAX];

	g->silent = true;
	g->silent_at = 0;
	if (g->park)
		vm_describe(&g->vm, &g->park->regs, &g->park->sregs, true, what, sizeof(what));
	else
		vm_describe_live(&g->vm, what, sizeof(what));
	snprintf(g->vm.why, sizeof(g->vm.why), "%s", what);
	shard_send(s, line, wire_silent_format(line, sizeof(line), guest_id(g), what));
}

/* After anything happened to a guest: file it where it belongs now. */
static void guest_settle(struct shard *s, struct guest *g, u64 now)
{
	if (g->vm.state != VM_ENDED) {
		vm_advance(&g->vm, now);
		/* silent: nothing written by its deadline, counted in its own time
		 * (running or asleep), not in time it waited for the CPU behind
		 * others: a thousand guests booting at once are not silent */
		if (g->silent_at && !g->queued && g->silent_at <= now && !g->booted)
			guest_silent(s, g);
		if (g->req_deadline <= now) {
			shard_printf(s, "%u error timeout\n", g->req_tag);
			g->req_deadline = UINT64_MAX;
		}
		if (g->retry_at && g->retry_at <= now)
			g->retry_at = 0;
		if (g->throttled_until && g->throttled_until <= now)
			g->throttled_until = 0;
		heap_update(s, g);
		runq_push(s, g);
		/* A guest that halted gives its VM up now (always), or becomes
		 * a candidate, most recently active last (auto). */
		if (g->vm.state == VM_HALTED && !g->park && s->park != PARK_NEVER &&
		    (s->park == PARK_AUTO || guest_park(s, g) < 0))
			lru_append(s, g);
		return;
	}
	if (g->reported)
		return;
	/* It ended: tell the supervisor, give back its fd, mapping and RAM. */
	g->reported = true;
	if (s->log.fd >= 0 && g->log_pos < g->out_total)
		guest_log_line(g, true); /* its last words, as a whole line */
	if (g->req_deadline != UINT64_MAX)
		shard_printf(s, "%u error guest not running\n", g->req_tag);
	g->req_deadline = UINT64_MAX;
	heap_remove(s, g);
	lru_remove(s, g);
	char line[WIRE_LINE_MAX];

	shard_send(s, line, wire_end_format(line, sizeof(line), guest_id(g), guest_state(g), g->vm.why));
	guest_release(s, g);
}

/* Tells the supervisor what changed: guests created, guests parked. */
static void shard_report(struct shard *s)
{
	if (s->created == s->created_reported && s->parked == s->parked_reported &&
	    s->stats.staged == s->staged_reported)
		return;
	struct wire_created c = {
		.created = s->created,
		.parked = s->parked,
		.parked_bytes = s->parked_bytes,
		.staged = s->stats.staged,
		.created_staged = s->stats.created_staged,
	};
	char line[WIRE_LINE_MAX];

	memcpy(c.stage_ns, s->stats.stage_ns, sizeof(c.stage_ns));
	shard_send(s, line, wire_created_format(line, sizeof(line), &c));
	s->created_reported = s->created;
	s->parked_reported = s->parked;
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
	if (!g->out)
		g->out = ring_get(s);
	t[0] = clock_now();
	if (shard_machine_get(s, &m, &what, &vm_ns) < 0) {
		if (errno == EAGAIN)
			return -1;
		goto fail;
	}
	t[1] = clock_now();
	loader_place(&gi->img, ram, GUEST_RAM_SIZE, s->firmware);
	t[2] = clock_now();
	if (vm_attach(&g->vm, &m, s->kvm->run_size, &what) < 0) {
		shard_machine_put(s, &m);
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
	if (vm_boot(&g->vm, &what) < 0)
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
static bool shard_create_some(struct shard *s)
{
	for (int n = 0; n < CREATE_BATCH && s->created < s->count && !s->create_stop; n++) {
		struct guest *g = &s->g[s->created];

		if (guest_start(s, g, s->first + s->created) < 0) {
			shard_report(s);
			return false; /* go on when a guest halts, or its CPU period ends */
		}
		s->created++;
		g->created = true;
		if (g->vm.state == VM_ENDED)
			guest_settle(s, g, 0);
		else
			runq_push(s, g);
	}
	shard_report(s);
	return true;
}

/*
 * Charges the guest that just ran with the thread's CPU time since the
 * last charge: its slice and the wakeup that led to it. (For a guest woken
 * by its own PIT deadline the wakeup is half its cost on this host: going
 * to sleep and being woken are not cheap under nested KVM.) With
 * --cpu-max, a guest that used up its share of the period is throttled
 * until the period ends: it is not run, and the interrupts its PIT raises
 * meanwhile coalesce, as missed periods do. So no guest can take more than
 * its share of a CPU from the others, however it tries: spinning, a PIT
 * storm, a UART flood.
 */
static void guest_charge(struct shard *s, struct guest *g)
{
	u64 cpu = clock_thread_cpu(), used = cpu > s->cpu_mark ? cpu - s->cpu_mark : 0;

	s->cpu_mark = cpu;
	g->cpu_total += used;
	g->cpu_used += used;
	if (s->cpu_quota && g->cpu_used >= s->cpu_quota && g->vm.state != VM_ENDED) {
		g->throttled_until = g->cpu_since + SHARD_CPU_PERIOD_NS;
		g->throttles++;
		s->stats.throttles++;
	}
}

/* Runs one guest until it halts, ends, or its slice (or CPU share) is over. */
static void shard_run_slice(struct shard *s, struct guest *g)
{
	u64 now = clock_now(), until = now + SHARD_SLICE_NS, deadline = vm_deadline(&g->vm);
	u64 kicks = g->vm.stats.kicks;

	if (now - g->cpu_since >= SHARD_CPU_PERIOD_NS) { /* a new period: its share is whole again */
		g->cpu_since = now;
		g->cpu_used = 0;
	}
	if (s->cpu_quota) {
		u64 left = g->cpu_used < s->cpu_quota ? s->cpu_quota - g->cpu_used : 0;

		if (now + left < until)
			until = now + left;
	}

	if (g->park && guest_resume(s, g) < 0) {
		bool busy = errno == EAGAIN;

		guest_charge(s, g);
		if (busy && !g->throttled_until)
			runq_push(s, g); /* every VM is busy: after the others */
		else
			heap_update(s, g); /* filed under its retry time, or its period's end */
		return;
	}
	if (deadline < until)
		until = deadline;
	kick_target(g->vm.run);
	kick_timer_at(s->slice_timer, until);
	s->stats.slices++;
	do {
		vm_run(&g->vm);
		guest_feed(g);
		now = clock_now();
		if (vm_deadline(&g->vm) <= now)
			vm_advance(&g->vm, now);
	} while (g->vm.state == VM_RUNNING && g->vm.stats.kicks == kicks);
	if (g->vm.stats.kicks != kicks)
		s->stats.preempted++;
	guest_charge(s, g);
	kick_timer_at(s->slice_timer, 0);
	/* A kick that came after the last exit is for this slice, not the next. */
	if (g->vm.run)
		g->vm.run->immediate_exit = 0;
	if (g->watched && g->out_total > g->watch_pos) {
		u64 from = g->watch_pos, oldest = g->out_total > GUEST_OUT_SIZE ? g->out_total - GUEST_OUT_SIZE : 0;

		char line[WIRE_LINE_MAX];

		shard_send(s, line, wire_out_head_format(line, sizeof(line), guest_id(g)));
		shard_put_output(s, g, from > oldest ? from : oldest, g->out_total);
		shard_printf(s, "\n");
		g->watch_pos = g->out_total;
	}
	guest_settle(s, g, now);
}

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
	shard_send(((struct shard_list *)ctx)->s, text, n);
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
		shard_send(s, line, wire_counts_format(line, sizeof(line), tag, n, booted));
		return;
	}
	struct shard_list l = { .s = s };

	snprintf(l.state, sizeof(l.state), "%.*s", (int)r->arg_len, r->arg);
	shard_printf(s, "%u ok ", tag);
	/* Range by range: the answer may be longer than the buffer that
	 * carries it (one range per guest or two when states alternate, as
	 * a guest can make them), which is sent and refilled meanwhile.
	 * Local indices are shifted to global ids as they are written. */
	proto_ranges_write(s->count, s->first, shard_list_has, shard_list_put, &l);
	shard_printf(s, "\n");
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
		.cq_overflows = st->cq_overflows,
		.throttles = st->throttles,
	};
	char line[2 * WIRE_LINE_MAX]; /* 25 numbers at their longest */

	for (u32 i = 0; i < s->created; i++) {
		const struct vm *vm = &s->g[i].vm;

		w.exits += vm->stats.exits;
		w.io_exits += vm->stats.io_exits;
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
		if (s->g[i].out_total > GUEST_OUT_SIZE)
			w.out_dropped += s->g[i].out_total - GUEST_OUT_SIZE;
	}
	shard_send(s, line, wire_stats_format(line, sizeof(line), tag, &w));
}

/* Queues bytes for a guest's COM1; false when its input queue is full. */
static bool guest_queue_input(struct guest *g, const u8 *data, size_t n)
{
	if (g->in_pos > 0) { /* compact: keep the queue at the front */
		memmove(g->in, g->in + g->in_pos, g->in_len - g->in_pos);
		g->in_len -= g->in_pos;
		g->in_pos = 0;
	}
	if (n > (size_t)(GUEST_IN_SIZE - g->in_len))
		return false;
	memcpy(g->in + g->in_len, data, n);
	g->in_len += (u16)n;
	guest_feed(g);
	return true;
}

static void shard_guest_command(struct shard *s, u32 tag, const struct proto_req *r, struct guest *g)
{
	u8 data[PROTO_LINE_MAX + 1];
	ssize_t n = 0;

	if (r->cmd == PROTO_SEND || r->cmd == PROTO_REQ) {
		n = proto_unescape(r->arg, r->arg_len, data, sizeof(data) - 1);
		if (n < 0) {
			shard_printf(s, "%u error bad argument\n", tag);
			return;
		}
	}
	if (r->cmd == PROTO_REQ) {
		if (g->req_deadline != UINT64_MAX) {
			shard_printf(s, "%u error busy\n", tag);
			return;
		}
		data[n++] = '\n';
	}
	switch (r->cmd) {
	case PROTO_SEND:
	case PROTO_REQ:
		if (!guest_queue_input(g, data, (size_t)n)) {
			shard_printf(s, "%u error input full\n", tag);
			return;
		}
		if (r->cmd == PROTO_SEND) {
			shard_printf(s, "%u ok\n", tag);
		} else {
			g->req_tag = tag;
			g->req_pos = g->out_total;
			g->req_deadline = clock_now() + PROTO_REQ_TIMEOUT_MS * 1000000ull;
		}
		s->stats.wakeups++;
		break;
	case PROTO_WATCH:
		g->watched = true;
		g->watch_pos = g->out_total;
		shard_printf(s, "%u ok\n", tag);
		break;
	case PROTO_STOP:
		vm_end(&g->vm, VM_END_STOPPED, "stopped by a client");
		shard_printf(s, "%u ok\n", tag);
		break;
	default:
		break;
	}
	guest_settle(s, g, clock_now());
}

static void shard_command(void *ctx, char *line, size_t len)
{
	struct shard *s = ctx;
	struct wire_command cmd;
	struct proto_req r;
	const char *err;
	char *rest;
	u32 tag;
	struct guest *g = NULL;

	wire_command_parse(line, len, &cmd);
	switch (cmd.control) {
	case WIRE_MALFORMED:
		return; /* not from our supervisor: ignore */
	case WIRE_NOCREATE:
		s->create_stop = true;
		return;
	case WIRE_HOLD:
		/* The host is near its budget: no more VMs than now; new and
		 * resumed guests get theirs by parking others (--park auto). */
		if (s->vm_max > s->resident + s->pool_len)
			s->vm_max = s->resident + s->pool_len;
		return;
	case WIRE_UNWATCH:
		if (cmd.id - s->first < s->count)
			s->g[cmd.id - s->first].watched = false;
		return;
	case WIRE_REQUEST:
		break;
	}
	tag = cmd.tag;
	rest = (char *)cmd.request;
	len = cmd.len;
	if (proto_parse(rest, len, &r, &err) < 0) {
		shard_printf(s, "%u error %s\n", tag, err);
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
		shard_printf(s, "%u error no such guest\n", tag);
		return;
	}
	g = &s->g[r.id - s->first];
	if (r.cmd == PROTO_INFO || r.cmd == PROTO_READ) {
		u64 oldest = g->out_total > GUEST_OUT_SIZE ? g->out_total - GUEST_OUT_SIZE : 0;

		if (r.cmd == PROTO_INFO) {
			bool why = g->vm.state == VM_ENDED || g->retry_at || g->silent;
			char missing[160], reason[sizeof(g->vm.why) + sizeof(missing) + 64];

			/* reason: why it ended or fails, what a silent one does, and
			 * the BIOS services it called that the firmware lacks */
			bios_missing_names(&g->vm.bios, missing, sizeof(missing));
			snprintf(reason, sizeof(reason), "%s%s%s%s%s", why || *missing ? " reason=" : "",
				 why ? g->vm.why : "", why && *missing ? "; " : "",
				 *missing ? "BIOS services kvmlite's firmware does not provide: " : "", missing);
			shard_printf(s,
				     "%u ok %s booted=%d exits=%llu out=%llu in=%llu dropped=%llu cpu_us=%llu throttles=%u "
				     "pit_irqs=%llu pit_periods=%llu bios_missing=%u%s\n",
				     tag, guest_state(g), g->booted, (unsigned long long)g->vm.stats.exits,
				     (unsigned long long)g->out_total, (unsigned long long)g->vm.uart.stats.rx_bytes,
				     (unsigned long long)oldest, (unsigned long long)(g->cpu_total / 1000), g->throttles,
				     (unsigned long long)g->vm.pit.stats.irqs,
				     (unsigned long long)pit_periods(&g->vm.pit, clock_now()), g->vm.bios.missing_total,
				     reason);
		} else {
			u64 from = r.has_from ? r.from : oldest;

			if (from > g->out_total)
				from = g->out_total;
			shard_printf(s, "%u ok %llu %llu ", tag, (unsigned long long)g->out_total,
				     (unsigned long long)(from < oldest ? oldest - from : 0));
			shard_put_output(s, g, from < oldest ? oldest : from, g->out_total);
			shard_printf(s, "\n");
		}
		return;
	}
	if (!g->created || g->vm.state == VM_ENDED) {
		shard_printf(s, "%u error guest not running\n", tag);
		return;
	}
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

/* One io_uring timeout for the earliest deadline of all this shard's guests. */
static void shard_arm_timeout(struct shard *s)
{
	u64 when = s->heap_len ? s->g[s->heap[0]].heap_key : UINT64_MAX;
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

	while (s->heap_len && s->g[s->heap[0]].heap_key <= now) {
		struct guest *g = &s->g[s->heap[0]];

		heap_remove(s, g);
		guest_settle(s, g, now);
	}
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

/*
 * While nothing wants the CPU: make one spare VM ready, so that a guest
 * resumed or created later finds one without waiting for KVM. Below the
 * VM limit it is a new VM; at the limit (--park auto) the least recently
 * active halted guest is parked for it. False when there is nothing to do.
 */
static bool shard_refill_pool(struct shard *s)
{
	struct machine m;
	const char *what;

	if (s->park == PARK_NEVER || s->pool_len >= SHARD_POOL_LOW)
		return false;
	if (s->resident + s->pool_len < s->vm_max) {
		if (shard_machine_create(s, &m, &what, NULL) < 0) {
			s->vm_max = s->resident + s->pool_len; /* the host said no: stay below */
			return false;
		}
		shard_machine_put(s, &m);
		return true;
	}
	return s->lru_head != NONE && guest_park(s, &s->g[s->lru_head]) == 0;
}

void *shard_main(void *arg)
{
	struct shard *s = arg;

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
	while (!s->stopping) {
		struct guest *g;
		bool creating;
		u64 cpu;

		shard_reap(s);
		if (s->stopping)
			break;
		shard_fire_due(s);
		creating = s->created < s->count && !s->create_stop;
		if (creating && s->runq_len < 64) {
			cpu = shard_nobody_begin(s);
			creating = shard_create_some(s);
			shard_nobody_end(s, cpu);
		}
		g = runq_pop(s);
		if (g) {
			shard_run_slice(s, g);
			if (s->stats.slices % 256 == 0)
				shard_report(s);
			sendbuf_submit(s, &s->to_sv);
			if (s->log.len >= SHARD_WBUF_SIZE / 2)
				sendbuf_submit(s, &s->log); /* log in batches while busy */
			io_uring_submit(&s->ring);
			continue;
		}
		/* More to create, and a VM for it: go on. With none to be had,
		 * sleep like an idle shard: what frees one (a guest's halt, the
		 * end of a throttled guest's period) wakes this loop. */
		if (creating)
			continue;
		if (shard_refill_pool(s)) { /* nobody's work: making a VM, parking */
			io_uring_submit(&s->ring); /* then look for commands before the next */
			continue;
		}
		/* Nothing wants the CPU: sleep until a command, a deadline or
		 * the end of a write. Nothing polls. */
		shard_report(s);
		shard_fill_cq(s);
		sendbuf_submit(s, &s->to_sv);
		sendbuf_submit(s, &s->log);
		shard_submit_read(s);
		shard_arm_timeout(s);
		io_uring_submit_and_wait(&s->ring, 1);
	}
	shard_end_all(s);
	sendbuf_submit(s, &s->log); /* what the log has not written yet */
	sendbuf_wait(s, &s->log);
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
	s->cpu_quota = o->cpu_max < 100 ? SHARD_CPU_PERIOD_NS * o->cpu_max / 100 : 0;
	s->boot_timeout = (u64)(o->boot_timeout * 1e9);
	s->vm_max = o->park == PARK_NEVER ? count : vm_max;
	s->lru_head = s->lru_tail = NONE;
	s->sock = sock;
	s->timeout_at = UINT64_MAX;
	s->read_done = INT32_MIN;
	if (arena_init(&s->ram, count, GUEST_RAM_SIZE, s->err, sizeof(s->err)) < 0)
		return -1;
	s->out_arena = mmap(NULL, (size_t)count * GUEST_OUT_SIZE, PROT_READ | PROT_WRITE,
			    MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE, -1, 0);
	s->to_sv = (struct sendbuf){ .fd = sock, .socket = true, .buf = malloc(SHARD_WBUF_SIZE) };
	s->log = (struct sendbuf){ .fd = log_fd, .buf = log_fd >= 0 ? malloc(SHARD_WBUF_SIZE) : NULL };
	s->g = calloc(count, sizeof(*s->g));
	s->runq = calloc(count, sizeof(u32));
	s->heap = calloc(count, sizeof(u32));
	if (s->out_arena == MAP_FAILED || !s->to_sv.buf || (log_fd >= 0 && !s->log.buf) || !s->g || !s->runq ||
	    !s->heap) {
		if (s->out_arena == MAP_FAILED)
			s->out_arena = NULL;
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
		s->g[i].heap_pos = NONE;
		s->g[i].req_deadline = UINT64_MAX;
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
	if (s->out_arena)
		munmap(s->out_arena, (size_t)s->count * GUEST_OUT_SIZE);
	free(s->to_sv.buf);
	free(s->log.buf);
	line_buf_free(&s->lines);
	free(s->g);
	free(s->runq);
	free(s->heap);
	free(s->fresh);
	s->fresh = NULL;
	s->to_sv.buf = s->log.buf = NULL;
	s->g = NULL;
	s->runq = s->heap = NULL;
	s->out_arena = NULL;
}
