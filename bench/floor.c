/* floor.c - the raw KVM floors of a timer tick and of a `ping`: the guest's own work with nothing but KVM around it. */
#include <getopt.h>

#include "rawvm.h"

/*
 * kvmlite's CPU per tick and its ping latency, set beside what KVM itself
 * allows for the same guest work on this host (docs/experiments.md,
 * "The floors"). One VM, one thread, a loop around KVM_RUN that does
 * only what the guest's devices must answer:
 *
 * - the tick floor (guest/tickfloor.S): inject TICK_VECTOR into the guest
 *   halted in `sti; hlt`; its handler writes the EOI to port 0x20 and
 *   returns; it halts again. No timer, no sleep: N ticks back to back.
 *   Two variants: the EOI exits to this loop (KVM_EXIT_IO), or port 0x20
 *   is registered as coalesced PIO and the write lands in the ring KVM
 *   shares at KVM_COALESCED_MMIO_PAGE_OFFSET of the vCPU mapping, which
 *   the loop drains at every exit as a VMM would.
 * - the ping floor (guest/mvm.S itself, the guest kvmlite serves): per
 *   request, "ping\n" in the receive FIFO of a minimal 16550, its IRQ4
 *   injected once (the UART's interrupt rises once per request: one edge
 *   for the 8259A); the guest reads it all as it reads a 16550 (mvm: IIR,
 *   the trigger level's 4 bytes in one `rep insb`, then LSR and RBR until
 *   LSR shows none), writes "pong\n" and halts. The 16550 and the master
 *   8259A answer as the guest programmed them at boot: the RX FIFO's
 *   trigger level (FCR), automatic or written EOI (ICW4).
 *
 * - the boot floor (issue 19: the firmware and guest/mvm.S, as kvmlite
 *   boots every guest once its pool has VMs): one VM, made once, carries
 *   guest after guest. Per boot: the memory slot moves to RAM holding a
 *   fresh copy of the firmware and the image (delete, then add: KVM drops
 *   the last guest's mappings), the vCPU is given back the state it had
 *   new (registers, segments, FPU and SSE, XCR0, events, debug registers:
 *   what one guest may not leave to the next) with the firmware's reset
 *   stub and the guest's index in ESI, and the guest runs to its first
 *   idle `hlt`, its port writes taken as writes are (those kvmlite
 *   coalesces wait in the ring), LSR read as an idle transmitter. It must
 *   have said "ready\n" on COM1 by then.
 *
 * Figures: the process's own CPU (utime + stime: KVM accounts the time in
 * KVM_RUN to the thread in it) and wall time per tick or request, each the
 * median of --rounds rounds, every round on a fresh VM; exits per tick or
 * request. The guest is checked as it goes (one EOI per tick, "pong\n" per
 * ping): a floor that measured something else would be worthless.
 */
#define TICK_VECTOR 0x20			   /* guest/tickfloor.S sets the same IVT entry */
#define PING_VECTOR (PIC_MASTER_VECTOR + IRQ_COM1) /* mvm's IRQ4, as the 8259A delivers it */
#define EOI_PORT    PIC_MASTER_CMD
#define EOI_VALUE   0x20 /* OCW2: non-specific EOI */

/* 16550A registers and bits the ping's guest reads (PC16550D, table II) */
#define UART_RBR (COM1_BASE + 0)
#define UART_IIR (COM1_BASE + 2)
#define UART_FCR (COM1_BASE + 2) /* written: FIFO control */
#define UART_LSR (COM1_BASE + 5)
#define IIR_RDA	 0x04 /* received data at the trigger level (with FIFOs off: a byte) */
#define IIR_CTI	 0x0c /* character timeout: bytes below the trigger level, the line idle */
#define IIR_NONE 0x01 /* no interrupt pending */
#define IIR_FIFO 0xc0 /* bits 7:6 while FCR bit 0 has the FIFOs on */
#define FCR_FIFO 0x01
#define LSR_DR	 0x01 /* a byte waits in RBR */
#define LSR_IDLE 0x60 /* THRE | TEMT: the transmitter takes bytes at once */
#define PING	 "ping\n"
#define PONG	 "pong\n"

/* 8259A ICW1 and ICW4 bits (Intel 8259A datasheet, "Initialization Command Words") */
#define ICW1_IC4  0x01 /* ICW4 follows */
#define ICW1_SNGL 0x02 /* single chip: no ICW3 */
#define ICW1_INIT 0x10 /* a command-port write with this bit is ICW1 */
#define ICW4_AEOI 0x02 /* automatic EOI: INTA leaves nothing in service */

/* What the ping guest programmed at boot that its floor's devices must follow. */
struct pingsetup {
	u8 icw1, icw4; /* the master 8259A's */
	int icw_step;  /* A0=1 writes since ICW1: ICW2, ICW3 unless SNGL, ICW4 if IC4 */
	u8 fcr;	       /* the 16550's FIFO control: on, and the RX trigger level */
};

/* A boot's COM1, as far as the boot floor needs it: LCR's DLAB tells a THR byte from the divisor's. */
struct bootuart {
	u8 lcr;
	u32 tx_len;
	char tx[16]; /* what the guest said, its first bytes */
};

/* One floor VM: a rawvm guest, its VM fd kept for KVM_REGISTER_COALESCED_MMIO. */
struct floorvm {
	struct rawvm g;
	int vm_fd, run_size;
	u8 *ram;
	struct kvm_coalesced_mmio_ring *ring; /* NULL: nothing coalesced */
	struct pinguart *uart;		      /* a ping's 16550, for THR writes from the ring */
	struct bootuart *boot;		      /* a boot's COM1, for every write from the ring */
	u32 ring_max;			      /* entries in the ring's page */
	u64 exits, outs;		      /* outs: EOI writes seen, by exit or from the ring */
	bool synced;			      /* run->s.regs.events filled at the last exit (KVM_CAP_SYNC_REGS) */
};

/* The minimal 16550 and 8259A in-service bit of a ping. */
struct pinguart {
	const struct pingsetup *setup;
	size_t rx_pos;	/* bytes of PING the guest has read */
	char tx[64];	/* what it wrote to THR */
	size_t tx_len;	/* may exceed sizeof(tx): counted, not kept */
	int in_service; /* IRQ4 acknowledged, no EOI yet (never, in AEOI mode) */
};

static void ping_pio(struct pinguart *u, u16 port, int is_write, u8 *data);
static void boot_out(struct bootuart *u, u64 port, const u8 *data, u32 len);

static const char *why; /* what went wrong, for the one-line error */
static int why_errno;	/* its errno, 0 when the guest did something unexpected */

/* Record the first failure (an inner one explains better than the caller's); returns -1. */
static int fail(const char *what, int err)
{
	if (!why) {
		why = what;
		why_errno = err;
	}
	return -1;
}

static u64 cpu_ns(void)
{
	struct rusage ru;

	getrusage(RUSAGE_SELF, &ru);
	return (u64)(ru.ru_utime.tv_sec + ru.ru_stime.tv_sec) * 1000000000ull +
	       (u64)(ru.ru_utime.tv_usec + ru.ru_stime.tv_usec) * 1000ull;
}

static int image_read(const char *path, u8 image[BOOT_SIZE])
{
	FILE *f = fopen(path, "rb");
	size_t n = f ? fread(image, 1, BOOT_SIZE, f) : 0;

	if (f)
		fclose(f);
	if (n != BOOT_SIZE) {
		fprintf(stderr, "floor: %s: not a 512-byte boot sector (make all builds it)\n", path);
		return -1;
	}
	return 0;
}

/* kvmlite's firmware, as its loader places it: FIRMWARE_SIZE bytes, zeros after the file. */
static int firmware_read(const char *path, u8 fw[FIRMWARE_SIZE])
{
	FILE *f = fopen(path, "rb");
	size_t n = f ? fread(fw, 1, FIRMWARE_SIZE, f) : 0;

	if (f)
		fclose(f);
	if (n == 0) {
		fprintf(stderr, "floor: %s: no firmware (make all builds it)\n", path);
		return -1;
	}
	memset(fw + n, 0, FIRMWARE_SIZE - n);
	return 0;
}

/*
 * A boot I/O exit of the ping guest: keep the master 8259A's ICW4 (the ICW
 * sequence: ICW1 on the command port, then ICW2, ICW3 unless single, ICW4
 * if IC4 on the data port) and the 16550's FCR.
 */
static void ping_boot_io(void *ctx, const struct kvm_run *r)
{
	struct pingsetup *s = ctx;
	const u8 *d = (const u8 *)r + r->io.data_offset;

	if (r->io.direction != KVM_EXIT_IO_OUT || r->io.size != 1)
		return;
	for (u32 i = 0; i < r->io.count; i++) {
		if (r->io.port == PIC_MASTER_CMD && (d[i] & ICW1_INIT)) {
			s->icw1 = d[i];
			s->icw4 = 0; /* without IC4 every ICW4 bit is 0 */
			s->icw_step = 0;
		} else if (r->io.port == PIC_MASTER_DATA && s->icw_step >= 0) {
			if (++s->icw_step == ((s->icw1 & ICW1_SNGL) ? 2 : 3) && (s->icw1 & ICW1_IC4))
				s->icw4 = d[i];
			if (s->icw_step >= 3)
				s->icw_step = -1; /* the rest are OCW1 */
		} else if (r->io.port == UART_FCR) {
			s->fcr = d[i];
		}
	}
}

/* The ports kvmlite coalesces, as vmm/machine.c registers them: both of each 8259A, all of COM1, the firmware's event
 * port. */
static const struct kvm_coalesced_mmio_zone floor_zones[] = {
	{ .addr = PIC_MASTER_CMD, .size = 2, .pio = 1 },
	{ .addr = PIC_SLAVE_CMD, .size = 2, .pio = 1 },
	{ .addr = COM1_BASE, .size = COM1_PORTS, .pio = 1 },
	{ .addr = FW_EVENT_PORT, .size = 2, .pio = 1 },
};

/* Registers floor_zones on vm_fd; the ring in the vCPU mapping `run`, or NULL with why. */
static struct kvm_coalesced_mmio_ring *floor_coalesce(int kvm_fd, int vm_fd, void *run, int run_size, u32 *ring_max)
{
	/* KVM_CHECK_EXTENSION(KVM_CAP_COALESCED_MMIO) is the ring's page within the vCPU mapping. */
	int off = ioctl(kvm_fd, KVM_CHECK_EXTENSION, KVM_CAP_COALESCED_MMIO);
	struct kvm_coalesced_mmio_ring *ring;

	if (off <= 0 || (off + 1) * (long)getpagesize() > run_size) {
		fail("KVM_CAP_COALESCED_MMIO: no ring page in the vCPU mapping", 0);
		return NULL;
	}
	for (size_t i = 0; i < sizeof(floor_zones) / sizeof(floor_zones[0]); i++) {
		struct kvm_coalesced_mmio_zone zone = floor_zones[i];

		if (ioctl(vm_fd, KVM_REGISTER_COALESCED_MMIO, &zone) < 0) {
			fail("KVM_REGISTER_COALESCED_MMIO (pio = 1)", errno);
			return NULL;
		}
	}
	ring = (struct kvm_coalesced_mmio_ring *)((u8 *)run + (long)off * getpagesize());
	*ring_max = (u32)((getpagesize() - sizeof(*ring)) / sizeof(ring->coalesced_mmio[0]));
	return ring;
}

/*
 * A fresh VM running image to its first `hlt`; with coalesce, the ports
 * kvmlite coalesces (floor_zones) then go to the ring. setup, if not NULL,
 * learns what the boot programmed.
 */
static int floorvm_open(struct floorvm *v, int kvm_fd, const u8 *image, int coalesce, struct pingsetup *setup)
{
	u32 ns[NSTAGES];
	int failed;

	memset(v, 0, sizeof(*v));
	v->vm_fd = v->g.vcpu_fd = -1;
	v->run_size = ioctl(kvm_fd, KVM_GET_VCPU_MMAP_SIZE, 0);
	if (v->run_size < 0)
		return fail("KVM_GET_VCPU_MMAP_SIZE", errno);
	v->ram = mmap(NULL, GUEST_RAM_SIZE, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	if (v->ram == MAP_FAILED) {
		v->ram = NULL;
		return fail("mmap(guest RAM)", errno);
	}
	memcpy(v->ram + BOOT_ADDR, image, BOOT_SIZE);
	if (setup)
		*setup = (struct pingsetup){ .icw_step = -1 };
	if (rawvm_create_keep(&v->g, kvm_fd, v->run_size, v->ram, GUEST_RAM_SIZE, BOOT_ADDR, NULL, ns, &failed,
			      &v->vm_fd, setup ? ping_boot_io : NULL, setup) < 0)
		return fail(errno == EPROTO ? "the guest's boot (an exit other than I/O or hlt)"
					    : rawvm_stage_call[failed],
			    errno);
	/* Interrupts ride in with KVM_RUN where the events are synced, as kvmlite's vm_inject() does. */
	if (ioctl(kvm_fd, KVM_CHECK_EXTENSION, KVM_CAP_SYNC_REGS) & KVM_SYNC_X86_EVENTS)
		v->g.run->kvm_valid_regs = KVM_SYNC_X86_EVENTS;
	if (!coalesce)
		return 0;
	v->ring = floor_coalesce(kvm_fd, v->vm_fd, v->g.run, v->run_size, &v->ring_max);
	return v->ring ? 0 : -1;
}

static void floorvm_close(struct floorvm *v)
{
	rawvm_destroy(&v->g, v->run_size);
	if (v->vm_fd >= 0)
		close(v->vm_fd);
	if (v->ram)
		munmap(v->ram, GUEST_RAM_SIZE);
	v->vm_fd = -1;
	v->ram = NULL;
}

/*
 * Take every write KVM queued in the ring, oldest first: KVM fills `last`,
 * the VMM consumes from `first` (Documentation/virt/kvm/api.rst,
 * KVM_REGISTER_COALESCED_MMIO). Each must be the EOI or, for a ping, a
 * byte of its answer.
 */
static int floorvm_drain(struct floorvm *v)
{
	u32 first, last;

	if (!v->ring)
		return 0;
	first = v->ring->first;
	last = __atomic_load_n(&v->ring->last, __ATOMIC_ACQUIRE); /* the entries before it are written */
	if (first >= v->ring_max || last >= v->ring_max)
		return fail("a coalesced ring index out of range", 0);
	for (; first != last; first = (first + 1) % v->ring_max) {
		struct kvm_coalesced_mmio *e = &v->ring->coalesced_mmio[first];

		if (v->boot) {
			boot_out(v->boot, e->phys_addr, e->data, e->len);
			continue;
		}
		if (e->phys_addr == COM1_BASE && e->len == 1 && v->uart) {
			ping_pio(v->uart, COM1_BASE, 1, e->data);
			continue;
		}
		if (e->phys_addr != EOI_PORT || e->len != 1 || e->data[0] != EOI_VALUE)
			return fail("a coalesced write that is not the EOI", 0);
		if (v->uart)
			ping_pio(v->uart, EOI_PORT, 1, e->data);
		v->outs++;
	}
	__atomic_store_n(&v->ring->first, first, __ATOMIC_RELEASE); /* the slots are free again */
	return 0;
}

/* Enter the guest until it exits; returns the exit reason, -1 on failure. */
static int floorvm_run(struct floorvm *v)
{
	/* A loaded host interrupts KVM_RUN (EINTR) or asks for a retry (EAGAIN). */
	while (ioctl(v->g.vcpu_fd, KVM_RUN, 0) < 0)
		if (errno != EINTR && errno != EAGAIN)
			return fail("KVM_RUN", errno);
	v->exits++;
	v->synced = (v->g.run->kvm_valid_regs & KVM_SYNC_X86_EVENTS) != 0;
	if (floorvm_drain(v) < 0)
		return -1;
	return (int)v->g.run->exit_reason;
}

/* An EOI that exited: the one port write the tick guest makes. */
static int floorvm_eoi(struct floorvm *v)
{
	struct kvm_run *r = v->g.run;

	if (r->io.direction != KVM_EXIT_IO_OUT || r->io.port != EOI_PORT || r->io.size != 1 || r->io.count != 1 ||
	    r->io.data_offset >= (u64)v->run_size || *((u8 *)r + r->io.data_offset) != EOI_VALUE)
		return fail("an I/O exit that is not the EOI", 0);
	v->outs++;
	return 0;
}

/*
 * Inject vector as kvmlite does without an in-kernel irqchip (vm_inject()
 * in vmm/vm.c): when the guest can take it now, else after an interrupt
 * window; in kvm_run's synced events where KVM offers them (no vCPU ioctl
 * of its own), else KVM_INTERRUPT.
 */
static int floorvm_inject(struct floorvm *v, u8 vector)
{
	struct kvm_run *r = v->g.run;
	struct kvm_interrupt irq = { .irq = vector };

	while (!(r->ready_for_interrupt_injection && r->if_flag)) {
		r->request_interrupt_window = 1;
		if (floorvm_run(v) != KVM_EXIT_IRQ_WINDOW_OPEN)
			return fail("the guest did not open an interrupt window", 0);
	}
	r->request_interrupt_window = 0;
	if (v->synced) {
		r->s.regs.events.interrupt.injected = 1;
		r->s.regs.events.interrupt.nr = vector;
		r->s.regs.events.interrupt.soft = 0;
		r->kvm_dirty_regs |= KVM_SYNC_X86_EVENTS;
		return 0;
	}
	if (ioctl(v->g.vcpu_fd, KVM_INTERRUPT, &irq) < 0)
		return fail("KVM_INTERRUPT", errno);
	return 0;
}

/* Per-round figures, ns: median_us() of rawvm.h takes them in this shape. */
enum { COL_CPU, COL_WALL, COL_OUT, NCOLS };

/*
 * tickfloor.S to its idle `sti; hlt`, timing on the way its run of EOI
 * writes with interrupts off (the cost of one `out`, into *out_ns).
 */
static int tick_floor_boot(struct floorvm *v, u32 *out_ns)
{
	u64 c0 = cpu_ns();
	int reason;

	while ((reason = floorvm_run(v)) == KVM_EXIT_IO)
		if (floorvm_eoi(v) < 0)
			return -1;
	if (reason != KVM_EXIT_HLT || v->outs == 0)
		return fail("the guest's EOI writes did not end in hlt", 0);
	*out_ns = (u32)((cpu_ns() - c0) / v->outs);
	v->outs = 0;
	if (floorvm_run(v) != KVM_EXIT_HLT || !v->g.run->if_flag)
		return fail("the guest did not reach its idle `sti; hlt`", 0);
	return 0;
}

/*
 * One round of a tick floor on a fresh VM, `ticks` ticks from its idle
 * `sti; hlt`. With server (guest/tick.S itself, the guest kvmlite's tick
 * figures run), IRQ0's vector is the one its boot gave the 8259A, and
 * its handler and main loop run as they do under kvmlite; otherwise
 * tickfloor.S, first timing one `out`.
 */
static int tick_round(int kvm_fd, const u8 *image, int coalesce, int server, long ticks, u32 row[NCOLS], double *exits)
{
	struct floorvm v;
	struct pingsetup setup;
	u64 c0, c1, t0, x0;
	int rc = -1, reason;
	u8 vector = server ? PIC_MASTER_VECTOR + IRQ_PIT : TICK_VECTOR;

	row[COL_OUT] = 0;
	if (floorvm_open(&v, kvm_fd, image, coalesce, server ? &setup : NULL) < 0)
		goto out;
	if (server && !v.g.run->if_flag) {
		fail("the tick guest halted with interrupts off at boot", 0);
		goto out;
	}
	if (!server && tick_floor_boot(&v, &row[COL_OUT]) < 0)
		goto out;
	x0 = v.exits;
	t0 = now_ns();
	c0 = cpu_ns();
	for (long i = 0; i < ticks; i++) {
		if (floorvm_inject(&v, vector) < 0)
			goto out;
		while ((reason = floorvm_run(&v)) == KVM_EXIT_IO)
			if (floorvm_eoi(&v) < 0)
				goto out;
		if (reason != KVM_EXIT_HLT || !v.g.run->if_flag) {
			fail("the guest did not halt again with interrupts on", 0);
			goto out;
		}
	}
	c1 = cpu_ns();
	row[COL_WALL] = (u32)((now_ns() - t0) / (u64)ticks);
	row[COL_CPU] = (u32)((c1 - c0) / (u64)ticks);
	*exits = (double)(v.exits - x0) / (double)ticks;
	if (v.outs != (u64)ticks) {
		fail("not one EOI per tick", 0);
		goto out;
	}
	rc = 0;
out:
	floorvm_close(&v);
	return rc;
}

/*
 * The same work as F_TICK_SERVER over `nvms` VMs at once, one tick each in
 * turn, as a kvmlite shard serves many guests from one thread: each
 * KVM_RUN then loads a vCPU other than the last one this thread ran.
 */
static int tick_round_many(int kvm_fd, const u8 *image, int nvms, long ticks, u32 row[NCOLS], double *exits)
{
	struct floorvm *v = calloc((size_t)nvms, sizeof(*v));
	struct pingsetup setup;
	u64 c0, t0, x = 0;
	int rc = -1, opened = 0;

	row[COL_OUT] = 0;
	if (!v)
		return fail("calloc", errno);
	for (; opened < nvms; opened++)
		if (floorvm_open(&v[opened], kvm_fd, image, 1, &setup) < 0 || !v[opened].g.run->if_flag)
			goto out;
	t0 = now_ns();
	c0 = cpu_ns();
	for (long i = 0; i < ticks; i++) {
		struct floorvm *g = &v[i % nvms];
		u64 x0 = g->exits;

		if (floorvm_inject(g, PIC_MASTER_VECTOR + IRQ_PIT) < 0 || floorvm_run(g) != KVM_EXIT_HLT ||
		    !g->g.run->if_flag) {
			fail("the tick guest did not halt again with interrupts on", 0);
			goto out;
		}
		x += g->exits - x0;
	}
	row[COL_CPU] = (u32)((cpu_ns() - c0) / (u64)ticks);
	row[COL_WALL] = (u32)((now_ns() - t0) / (u64)ticks);
	*exits = (double)x / (double)ticks;
	rc = 0;
out:
	while (opened-- > 0)
		floorvm_close(&v[opened]);
	free(v);
	return rc;
}

/*
 * The guest's port access, answered as a 16550 would (PC16550D, table IV)
 * with the whole request in its RX FIFO and the line idle since (so below
 * the trigger level it reports the character timeout at once, as kvmlite's
 * model does once the host has no more input), and the master 8259A's EOI.
 */
static void ping_pio(struct pinguart *u, u16 port, int is_write, u8 *data)
{
	static const u8 trigger[4] = { 1, 4, 8, 14 }; /* FCR bits 7:6: the RX trigger level */
	size_t left = sizeof(PING) - 1 - u->rx_pos;
	u8 fcr = u->setup->fcr;

	if (is_write) {
		if (port == COM1_BASE && u->tx_len < sizeof(u->tx))
			u->tx[u->tx_len] = (char)*data;
		if (port == COM1_BASE)
			u->tx_len++;
		if (port == EOI_PORT && *data == EOI_VALUE)
			u->in_service = 0;
		return;
	}
	if (port == UART_IIR && !(fcr & FCR_FIFO))
		*data = left ? IIR_RDA : IIR_NONE; /* 16450 mode: one byte is the trigger level */
	else if (port == UART_IIR)
		*data = IIR_FIFO | (left >= trigger[fcr >> 6] ? IIR_RDA : left ? IIR_CTI : IIR_NONE);
	else if (port == UART_RBR)
		*data = left ? (u8)PING[u->rx_pos++] : 0;
	else if (port == UART_LSR)
		*data = LSR_IDLE | (left ? LSR_DR : 0);
	else
		*data = 0xff; /* as every unknown port */
}

/* One request: "ping\n" received, IRQ4 raised; runs the guest until it halts having answered. */
static int ping_once(struct floorvm *v, const struct pingsetup *setup)
{
	struct kvm_run *r = v->g.run;
	struct pinguart u = { .setup = setup };
	int reason;

	v->uart = &u; /* its THR writes may come from the ring */
	/* One rising edge of IRQ4 per request, acknowledged as it is injected. */
	if (floorvm_inject(v, PING_VECTOR) < 0)
		return -1;
	u.in_service = !(setup->icw4 & ICW4_AEOI);
	for (;;) {
		reason = floorvm_run(v);
		if (reason == KVM_EXIT_HLT)
			break;
		if (reason != KVM_EXIT_IO)
			return fail("an exit other than I/O or hlt", 0);
		if (r->io.size != 1 || r->io.data_offset + r->io.count > (u64)v->run_size)
			return fail("an I/O exit wider than a byte", 0);
		/* String I/O (rep outsb) may arrive as one exit with count > 1. */
		for (u32 i = 0; i < r->io.count; i++)
			ping_pio(&u, r->io.port, r->io.direction == KVM_EXIT_IO_OUT, (u8 *)r + r->io.data_offset + i);
	}
	v->uart = NULL;
	if (!r->if_flag || u.tx_len != sizeof(PONG) - 1 || memcmp(u.tx, PONG, sizeof(PONG) - 1) ||
	    u.rx_pos != sizeof(PING) - 1 || u.in_service)
		return fail("the guest did not answer \"pong\" and halt", 0);
	return 0;
}

static int ping_round(int kvm_fd, const u8 *image, int coalesce, long requests, u32 row[NCOLS], double *exits)
{
	struct floorvm v;
	struct pingsetup setup;
	u64 c0, t0, x0;
	int rc = -1;

	if (floorvm_open(&v, kvm_fd, image, coalesce, &setup) < 0)
		goto out;
	if (!v.g.run->if_flag) {
		fail("the ping guest halted with interrupts off at boot", 0);
		goto out;
	}
	x0 = v.exits;
	t0 = now_ns();
	c0 = cpu_ns();
	for (long i = 0; i < requests; i++)
		if (ping_once(&v, &setup) < 0)
			goto out;
	row[COL_CPU] = (u32)((cpu_ns() - c0) / (u64)requests);
	row[COL_WALL] = (u32)((now_ns() - t0) / (u64)requests);
	row[COL_OUT] = 0;
	*exits = (double)(v.exits - x0) / (double)requests;
	rc = 0;
out:
	floorvm_close(&v);
	return rc;
}

/* ---- the boot floor ---- */

#define UART_LCR (COM1_BASE + 3)
#define LCR_DLAB 0x80 /* divisor latch access: port 0 is DLL, not THR */
#define READY	 "ready\n"

/* What a new vCPU has, taken once: a reused one is given it back before each boot. */
struct vcpustate {
	struct kvm_sregs sregs; /* with CS at the firmware's reset stub */
	struct kvm_vcpu_events events;
	struct kvm_debugregs debugregs;
	struct kvm_xcrs xcrs;
	struct kvm_xsave xsave;
};

static void boot_out(struct bootuart *u, u64 port, const u8 *data, u32 len)
{
	for (u32 i = 0; i < len; i++) {
		if (port + i == UART_LCR)
			u->lcr = data[i];
		else if (port + i == COM1_BASE && !(u->lcr & LCR_DLAB) && u->tx_len++ < sizeof(u->tx))
			u->tx[u->tx_len - 1] = (char)data[i];
	}
}

/* The state of the vCPU of v, never run, with the reset stub the firmware has at the top of its page. */
static int boot_fresh(struct floorvm *v, struct vcpustate *st)
{
	int fd = v->g.vcpu_fd;

	if (ioctl(fd, KVM_GET_SREGS, &st->sregs) < 0 || ioctl(fd, KVM_GET_VCPU_EVENTS, &st->events) < 0 ||
	    ioctl(fd, KVM_GET_DEBUGREGS, &st->debugregs) < 0 || ioctl(fd, KVM_GET_XCRS, &st->xcrs) < 0 ||
	    ioctl(fd, KVM_GET_XSAVE, &st->xsave) < 0)
		return fail("KVM_GET_SREGS/VCPU_EVENTS/DEBUGREGS/XCRS/XSAVE", errno);
	st->sregs.cs.selector = FIRMWARE_SEG;
	st->sregs.cs.base = (u64)FIRMWARE_SEG << 4;
	st->sregs.ss.selector = st->sregs.ds.selector = st->sregs.es.selector = 0;
	st->sregs.ss.base = st->sregs.ds.base = st->sregs.es.base = 0;
	st->events.flags |= KVM_VCPUEVENT_VALID_NMI_PENDING | KVM_VCPUEVENT_VALID_SIPI_VECTOR;
	return 0;
}

/* Fresh RAM for guest `index` in ram, the memory slot moved there, the vCPU made new: a boot's set-up. */
static int boot_reset(struct floorvm *v, const struct vcpustate *st, u8 *ram, const u8 *image, const u8 *fw, u32 index)
{
	struct kvm_userspace_memory_region slot = { .slot = 0 };
	struct kvm_regs regs = { .rflags = 0x2, /* IF off */
				 .rip = FIRMWARE_RESET_OFF,
				 .rsi = index,
				 .rdx = BOOT_DRIVE,
				 .rsp = BOOT_STACK };
	int fd = v->g.vcpu_fd;

	/* The pages the firmware and mvm write (the IVT and BIOS data area;
	 * the boot sector's, with its stack and variables) cleared, the
	 * firmware and the image copied in, as kvmlite's loader does. */
	memset(ram, 0, GUEST_PAGE_SIZE);
	memset(ram + (BOOT_ADDR & ~(GUEST_PAGE_SIZE - 1)), 0, GUEST_PAGE_SIZE);
	memcpy(ram + FIRMWARE_ADDR, fw, FIRMWARE_SIZE);
	memcpy(ram + BOOT_ADDR, image, BOOT_SIZE);
	if (v->exits && ioctl(v->vm_fd, KVM_SET_USER_MEMORY_REGION, &slot) < 0) /* size 0: delete */
		return fail("KVM_SET_USER_MEMORY_REGION (delete)", errno);
	slot.memory_size = GUEST_RAM_SIZE;
	slot.userspace_addr = (u64)(uintptr_t)ram;
	if (ioctl(v->vm_fd, KVM_SET_USER_MEMORY_REGION, &slot) < 0)
		return fail("KVM_SET_USER_MEMORY_REGION", errno);
	if (ioctl(fd, KVM_SET_SREGS, &st->sregs) < 0 || ioctl(fd, KVM_SET_REGS, &regs) < 0 ||
	    (st->xcrs.nr_xcrs && ioctl(fd, KVM_SET_XCRS, &st->xcrs) < 0) || ioctl(fd, KVM_SET_XSAVE, &st->xsave) < 0 ||
	    ioctl(fd, KVM_SET_VCPU_EVENTS, &st->events) < 0 || ioctl(fd, KVM_SET_DEBUGREGS, &st->debugregs) < 0)
		return fail("KVM_SET_SREGS/REGS/XCRS/XSAVE/VCPU_EVENTS/DEBUGREGS", errno);
	return 0;
}

/* One boot: set up, then run to the first idle `hlt`, taking the guest's port I/O. */
static int boot_once(struct floorvm *v, const struct vcpustate *st, u8 *ram, const u8 *image, const u8 *fw, u32 index)
{
	struct bootuart u = { 0 };
	struct kvm_run *r = v->g.run;
	int reason;

	if (boot_reset(v, st, ram, image, fw, index) < 0)
		return -1;
	v->boot = &u;
	while ((reason = floorvm_run(v)) == KVM_EXIT_IO) {
		u8 *d = (u8 *)r + r->io.data_offset;
		u32 n = (u32)r->io.size * r->io.count;

		if (r->io.data_offset + n > (u64)v->run_size)
			return fail("an I/O exit's data outside kvm_run", 0);
		if (r->io.direction == KVM_EXIT_IO_OUT)
			boot_out(&u, r->io.port, d, r->io.count * r->io.size);
		else
			memset(d, r->io.port == UART_LSR ? LSR_IDLE : 0xff, n); /* as every unknown port */
	}
	v->boot = NULL;
	if (reason != KVM_EXIT_HLT || !r->if_flag)
		return fail("the guest did not reach its idle `sti; hlt`", 0);
	if (u.tx_len != sizeof(READY) - 1 || memcmp(u.tx, READY, sizeof(READY) - 1))
		return fail("the guest did not say \"ready\" on COM1", 0);
	return 0;
}

/* One round of the boot floor: a VM made once, `boots` guests in turn on it, RAM in two slots alternately. */
static int boot_round(int kvm_fd, const u8 *image, const u8 *fw, long boots, u32 row[NCOLS], double *exits)
{
	struct floorvm v = { .vm_fd = -1, .g.vcpu_fd = -1 };
	struct vcpustate *st = malloc(sizeof(*st));
	u8 *ram[2] = { NULL, NULL };
	u64 c0, t0;
	int rc = -1;

	v.run_size = ioctl(kvm_fd, KVM_GET_VCPU_MMAP_SIZE, 0);
	for (int i = 0; i < 2; i++) {
		ram[i] = mmap(NULL, GUEST_RAM_SIZE, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
		if (ram[i] == MAP_FAILED)
			ram[i] = NULL;
	}
	if (!st || !ram[0] || !ram[1] || v.run_size < 0) {
		fail("memory for the boot floor", ENOMEM);
		goto out;
	}
	if ((v.vm_fd = ioctl(kvm_fd, KVM_CREATE_VM, 0)) < 0 || (v.g.vcpu_fd = ioctl(v.vm_fd, KVM_CREATE_VCPU, 0)) < 0) {
		fail("KVM_CREATE_VM/VCPU", errno);
		goto out;
	}
	v.g.run = mmap(NULL, (size_t)v.run_size, PROT_READ | PROT_WRITE, MAP_SHARED, v.g.vcpu_fd, 0);
	if (v.g.run == MAP_FAILED) {
		v.g.run = NULL;
		fail("mmap(kvm_run)", errno);
		goto out;
	}
	if (boot_fresh(&v, st) < 0 || (ioctl(kvm_fd, KVM_CHECK_EXTENSION, KVM_CAP_COALESCED_PIO) > 0 &&
				       !(v.ring = floor_coalesce(kvm_fd, v.vm_fd, v.g.run, v.run_size, &v.ring_max))))
		goto out;
	t0 = now_ns();
	c0 = cpu_ns();
	for (long i = 0; i < boots; i++)
		if (boot_once(&v, st, ram[i & 1], image, fw, (u32)i) < 0)
			goto out;
	row[COL_CPU] = (u32)((cpu_ns() - c0) / (u64)boots);
	row[COL_WALL] = (u32)((now_ns() - t0) / (u64)boots);
	row[COL_OUT] = 0;
	*exits = (double)v.exits / (double)boots;
	rc = 0;
out:
	floorvm_close(&v); /* closes the VM and vCPU; ram[] is ours */
	for (int i = 0; i < 2; i++)
		if (ram[i])
			munmap(ram[i], GUEST_RAM_SIZE);
	free(st);
	return rc;
}

/* One floor and what it reports: medians over the rounds. */
struct floor {
	const char *key, *name, *unit; /* unit: what n counts, "tick", "request" or "boot" */
	int is_tick, is_boot, coalesce, server, vms, wanted, done;
	const u8 *image, *fw; /* fw: the boot floor's firmware */
	long n;		      /* ticks, requests or boots per round */
	double cpu_us, wall_us, out_us, exits;
};

enum { F_TICK_EXIT, F_TICK_COALESCED, F_TICK_SERVER, F_TICK_MANY, F_PING, F_PING_COALESCED, F_BOOT, NFLOORS };

/* rounds rounds, each on a fresh VM, each filling one row; their medians into f. */
static int floor_measure(struct floor *f, int kvm_fd, int rounds)
{
	u32 rows[64][NCOLS];
	double exits = 0;

	for (int i = 0; i < rounds; i++)
		if ((f->vms > 1	  ? tick_round_many(kvm_fd, f->image, f->vms, f->n, rows[i], &exits)
		     : f->is_tick ? tick_round(kvm_fd, f->image, f->coalesce, f->server, f->n, rows[i], &exits)
		     : f->is_boot ? boot_round(kvm_fd, f->image, f->fw, f->n, rows[i], &exits)
				  : ping_round(kvm_fd, f->image, f->coalesce, f->n, rows[i], &exits)) < 0)
			return -1;
	f->cpu_us = median_us(&rows[0][0], (size_t)rounds, NCOLS, COL_CPU);
	f->wall_us = median_us(&rows[0][0], (size_t)rounds, NCOLS, COL_WALL);
	f->out_us = median_us(&rows[0][0], (size_t)rounds, NCOLS, COL_OUT);
	f->exits = exits; /* the same in every round: the guest is deterministic */
	f->done = 1;
	return 0;
}

static void floor_json(const struct floor *f)
{
	printf(",\"%s\":", f->key);
	if (!f->done) {
		printf("null"); /* KVM_CAP_COALESCED_PIO absent */
		return;
	}
	printf("{\"%ss\":%ld,\"cpu_us\":%.2f,\"wall_us\":%.2f,\"exits\":%.2f", f->unit, f->n, f->cpu_us, f->wall_us,
	       f->exits);
	if (f->is_tick && !f->server)
		printf(",\"out_us\":%.2f", f->out_us);
	printf("}");
}

static void floor_text(const struct floor *f)
{
	if (!f->done) {
		printf("%-22s not measured: KVM_CAP_COALESCED_PIO is absent\n", f->name);
		return;
	}
	printf("%-22s %8.2f µs CPU, %8.2f µs wall, %5.2f exits per %s", f->name, f->cpu_us, f->wall_us, f->exits,
	       f->unit);
	if (f->is_tick && !f->server)
		printf("; one EOI `out` alone %.2f µs", f->out_us);
	printf("\n");
}

static void floor_report(const struct floor fl[NFLOORS], int json, int rounds, int has_pio, double load)
{
	struct hostinfo hi;

	hostinfo_read(&hi);
	if (json)
		printf("{\"bench\":\"floor\",\"host\":\"%s\",\"cpu\":\"%s\",\"kernel\":\"%s\",\"backend\":\"%s\","
		       "\"loadavg_before\":%.2f,\"rounds\":%d,\"coalesced_pio\":%s",
		       hi.host, hi.cpu, hi.kernel, hi.backend, load, rounds, has_pio ? "true" : "false");
	else
		printf("floor: host %s, %s, Linux %s, backend %s, load %.2f; median of %d rounds\n", hi.host, hi.cpu,
		       hi.kernel, hi.backend, load, rounds);
	for (int i = 0; i < NFLOORS; i++)
		if (fl[i].wanted) {
			if (json)
				floor_json(&fl[i]);
			else
				floor_text(&fl[i]);
		}
	if (json)
		printf("}\n");
}

static void usage(void)
{
	fprintf(stderr,
		"usage: floor [--tick|--ping|--boot] [--ticks N] [--requests N] [--boots N] [--rounds R]\n"
		"             [--tick-image IMG] [--ping-image IMG] [--firmware BIN] [--vms N] [--json]\n"
		"The raw KVM floors of a timer tick (guest/tickfloor.S; the EOI exiting, and coalesced when\n"
		"KVM_CAP_COALESCED_PIO is present; and guest/tick.S's own handler and loop, coalesced as\n"
		"kvmlite does) and of a ping (guest/mvm.S answering \"ping\"; its answer's THR writes exiting,\n"
		"and coalesced): µs of this process's CPU and of wall time per tick or request, median of\n"
		"R rounds (default 5, at most 64), and exits per tick or request. --vms N (N > 1) adds\n"
		"tick.img's floor over N VMs served in turn from this one thread, as a kvmlite shard does.\n"
		"--boot: the boot floor, kvmlite's firmware and mvm.img booted to their first idle hlt on one\n"
		"reused VM, guest after guest (memory slot moved, vCPU made new). Defaults: all three floors,\n"
		"20000 ticks, 2000 requests, 2000 boots, images from build/guest/ (run from the repository\n"
		"root).\n");
	exit(2);
}

int main(int argc, char **argv)
{
	static const struct option opts[] = { { "tick", no_argument, NULL, 't' },
					      { "ping", no_argument, NULL, 'p' },
					      { "ticks", required_argument, NULL, 'n' },
					      { "requests", required_argument, NULL, 'q' },
					      { "rounds", required_argument, NULL, 'r' },
					      { "tick-image", required_argument, NULL, 'T' },
					      { "ping-image", required_argument, NULL, 'P' },
					      { "json", no_argument, NULL, 'j' },
					      { "vms", required_argument, NULL, 'v' },
					      { "boot", no_argument, NULL, 'b' },
					      { "boots", required_argument, NULL, 'B' },
					      { "firmware", required_argument, NULL, 'F' },
					      { 0 } };
	static u8 tick_img[BOOT_SIZE], ping_img[BOOT_SIZE], server_img[BOOT_SIZE], fw[FIRMWARE_SIZE];
	struct floor fl[NFLOORS] = {
		[F_TICK_EXIT] = { .key = "tick_exit",
				  .name = "tick, EOI exiting",
				  .unit = "tick",
				  .is_tick = 1,
				  .image = tick_img },
		[F_TICK_COALESCED] = { .key = "tick_coalesced",
				       .name = "tick, EOI coalesced",
				       .unit = "tick",
				       .is_tick = 1,
				       .coalesce = 1,
				       .image = tick_img },
		[F_TICK_SERVER] = { .key = "tick_server",
				    .name = "tick, tick.img coalesced",
				    .unit = "tick",
				    .is_tick = 1,
				    .coalesce = 1,
				    .server = 1,
				    .image = server_img },
		[F_TICK_MANY] = { .key = "tick_server_many",
				  .name = "tick, tick.img, N VMs",
				  .unit = "tick",
				  .is_tick = 1,
				  .coalesce = 1,
				  .server = 1,
				  .image = server_img },
		[F_PING] = { .key = "ping", .name = "ping (mvm)", .unit = "request", .image = ping_img },
		[F_BOOT] = { .key = "boot",
			     .name = "boot (firmware, mvm)",
			     .unit = "boot",
			     .is_boot = 1,
			     .coalesce = 1,
			     .image = ping_img,
			     .fw = fw },
		[F_PING_COALESCED] = { .key = "ping_coalesced",
				       .name = "ping (mvm) coalesced",
				       .unit = "request",
				       .coalesce = 1,
				       .image = ping_img },
	};
	const char *tick_path = "build/guest/tickfloor.img", *ping_path = "build/guest/mvm.img";
	const char *server_path = "build/guest/tick.img", *fw_path = "build/guest/firmware.bin";
	long ticks = 20000, requests = 2000, boots = 2000;
	int want_tick = 0, want_ping = 0, want_boot = 0, rounds = 5, json = 0, vms = 1, opt, kvm_fd, has_pio;
	double load = loadavg_1min(); /* before: other work on a 2-CPU host skews every figure */

	while ((opt = getopt_long(argc, argv, "", opts, NULL)) != -1) {
		switch (opt) {
		case 't':
			want_tick = 1;
			break;
		case 'p':
			want_ping = 1;
			break;
		case 'n':
			ticks = atol(optarg);
			break;
		case 'q':
			requests = atol(optarg);
			break;
		case 'r':
			rounds = atoi(optarg);
			break;
		case 'T':
			tick_path = optarg;
			break;
		case 'P':
			ping_path = optarg;
			break;
		case 'j':
			json = 1;
			break;
		case 'v':
			vms = atoi(optarg);
			break;
		case 'b':
			want_boot = 1;
			break;
		case 'B':
			boots = atol(optarg);
			break;
		case 'F':
			fw_path = optarg;
			break;
		default:
			usage();
		}
	}
	if (optind < argc || ticks < 1 || requests < 1 || boots < 1 || rounds < 1 || rounds > 64 || vms < 1 ||
	    vms > 4096)
		usage();
	if (!want_tick && !want_ping && !want_boot)
		want_tick = want_ping = want_boot = 1;
	if ((want_tick && (image_read(tick_path, tick_img) < 0 || image_read(server_path, server_img) < 0)) ||
	    ((want_ping || want_boot) && image_read(ping_path, ping_img) < 0) ||
	    (want_boot && firmware_read(fw_path, fw) < 0))
		return 2;
	kvm_fd = open("/dev/kvm", O_RDWR | O_CLOEXEC);
	if (kvm_fd < 0) {
		fprintf(stderr, "floor: /dev/kvm: %s\n", strerror(errno));
		return 1;
	}
	has_pio = ioctl(kvm_fd, KVM_CHECK_EXTENSION, KVM_CAP_COALESCED_PIO) > 0;
	fl[F_TICK_EXIT].wanted = fl[F_TICK_COALESCED].wanted = fl[F_TICK_SERVER].wanted = want_tick;
	fl[F_TICK_MANY].wanted = want_tick && vms > 1;
	fl[F_TICK_MANY].vms = vms;
	fl[F_TICK_MANY].n = ticks;
	fl[F_PING].wanted = fl[F_PING_COALESCED].wanted = want_ping;
	fl[F_TICK_EXIT].n = fl[F_TICK_COALESCED].n = fl[F_TICK_SERVER].n = ticks;
	fl[F_PING].n = fl[F_PING_COALESCED].n = requests;
	fl[F_BOOT].wanted = want_boot;
	fl[F_BOOT].n = boots;
	for (int i = 0; i < NFLOORS; i++)
		if (fl[i].wanted && (!fl[i].coalesce || has_pio || fl[i].is_boot) &&
		    floor_measure(&fl[i], kvm_fd, rounds) < 0) {
			fprintf(stderr, "floor: %s: %s%s%s\n", fl[i].name, why ? why : "failed", why_errno ? ": " : "",
				why_errno ? strerror(why_errno) : "");
			return 1;
		}
	close(kvm_fd);
	floor_report(fl, json, rounds, has_pio, load);
	return 0;
}
