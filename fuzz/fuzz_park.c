/* fuzz_park.c - libFuzzer target on /dev/kvm: random vCPU state, park, reuse the VM, resume; nothing leaks, nothing is
 * lost. */
#include <errno.h>
#include <linux/kvm.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <x86intrin.h>

#include "fuzz.h"
#include "layout.h"
#include "park.h"
#include "vm.h"

/*
 * The path `spawn --park` takes, on real KVM VMs, with the functions the
 * shard calls: guest 1 boots and halts, then gets random state of every
 * kind a guest can hold (registers, segments, control and debug registers,
 * x87/SSE, pending events and interrupt shadow, EFER, the one MSR it may
 * write), and is parked (park_save, its VM to the pool). Guest 2 boots on a
 * pooled VM (park_renew, vm_boot) and must find exactly what a guest on a
 * VM made for it finds: every register, every MSR KVM serves (not only
 * those a guest may touch), the XSAVE area; its TSC counting from its boot.
 * It gets random state of its own and is parked; guest 1 resumes on the VM
 * guest 2 left (park_restore) and must find exactly its own state again,
 * TSC offset included.
 *
 * The input is two programs of state changes, one per guest: each op is a
 * byte (what to change) and the bytes of the value. KVM refuses some
 * values (EINVAL): those changes are skipped, as a guest could not make
 * them either. Needs /dev/kvm: without it (or without the MSR filter, when
 * parking is off) the target says SKIP and exits at once.
 */

#define MSR_IA32_TSC 0x10
#define MSR_EFER     0xc0000080
#define MSRS_MAX     512
#define MSRS_IO	     128 /* per KVM_GET_MSRS (KVM takes fewer than 256) */
#define RAM_SIZE     GUEST_RAM_SIZE

/* What a vCPU holds, as KVM reports it. */
struct snap {
	struct kvm_regs regs;
	struct kvm_sregs sregs;
	struct kvm_vcpu_events events;
	struct kvm_debugregs debugregs;
	struct kvm_xcrs xcrs;
	struct kvm_mp_state mp;
	u64 tsc_offset;
	u64 tsc;	    /* the guest's TSC when read */
	struct kvm_fpu fpu; /* x87 and SSE registers as the vCPU's buffer holds them, whatever XSTATE_BV
			       says: what XRSTOR's standard form loads MXCSR from (SDM vol. 1, 13.8.1) */
	u32 xsave[1024];    /* struct kvm_xsave's region (its flexible tail is not used without XSAVE2) */
	struct kvm_msr_entry msrs[MSRS_MAX]; /* every MSR KVM serves but the TSC, indexes from `msr_index` */
};

static struct {
	struct kvm kvm;
	struct machine pool[2]; /* the shard's pool: last in, first out */
	u32 pool_len;
	struct park *fresh; /* park_probe() of the first VM */
	struct snap booted; /* a guest on a VM made for it, after boot and its first hlt */
	bool tsc_bound;	    /* userspace rdtsc is the TSC KVM offsets: the reuse bound can be checked */
	bool tsc_from_zero; /* a new vCPU's TSC starts at 0 (VT-x, SVM); on kvm_pvm it is the host's */
	u32 nmsrs;
	u32 msr_index[MSRS_MAX];
	u8 *ram[2];
	struct snap a, b; /* scratch */
} F;

static int xioctl(int fd, unsigned long req, void *arg)
{
	int r;

	do
		r = ioctl(fd, req, arg);
	while (r < 0 && (errno == EINTR || errno == EAGAIN));
	return r;
}

static void die(const char *what)
{
	fprintf(stderr, "fuzz_park: %s: %s\n", what, strerror(errno));
	__builtin_trap();
}

/* KVM_GET_MSRS of e[0..n), MSRS_IO at a time: how many KVM read before the first it refused. */
static u32 msrs_get(int fd, struct kvm_msr_entry *e, u32 n)
{
	union { /* struct kvm_msrs with room for MSRS_IO entries */
		struct kvm_msrs hdr;
		u8 bytes[sizeof(struct kvm_msrs) + MSRS_IO * sizeof(struct kvm_msr_entry)];
	} b;
	u32 done = 0;
	int r;

	while (done < n) {
		b.hdr = (struct kvm_msrs){ .nmsrs = n - done < MSRS_IO ? n - done : MSRS_IO };
		memcpy(b.hdr.entries, e + done, b.hdr.nmsrs * sizeof(*e));
		r = xioctl(fd, KVM_GET_MSRS, &b);
		if (r < 0)
			die("KVM_GET_MSRS");
		memcpy(e + done, b.hdr.entries, (u32)r * sizeof(*e));
		done += (u32)r;
		if ((u32)r < b.hdr.nmsrs)
			break;
	}
	return done;
}

/* Every MSR a vCPU that never ran lets the host read, in the blocks where KVM serves any: hidden from
 * guests by the MSR filter, these must still be a new vCPU's on a reused one. */
static void msrs_find(int fd)
{
	static const u32 blocks[][2] = {
		{ 0x00000000, 0x2000 }, { 0xc0000000, 0x2000 }, { 0xc0010000, 0x2000 },
		{ 0x40000000, 0x200 },	{ 0x4b564d00, 0x100 },
	};
	struct kvm_msr_entry e[MSRS_IO];

	for (size_t k = 0; k < ARRAY_SIZE(blocks); k++) {
		for (u32 i = 0; i < blocks[k][1];) {
			u32 n = blocks[k][1] - i < MSRS_IO ? blocks[k][1] - i : MSRS_IO, got;

			for (u32 j = 0; j < n; j++)
				e[j] = (struct kvm_msr_entry){ .index = blocks[k][0] + i + j };
			got = msrs_get(fd, e, n);
			for (u32 j = 0; j < got; j++)
				if (e[j].index != MSR_IA32_TSC && F.nmsrs < MSRS_MAX)
					F.msr_index[F.nmsrs++] = e[j].index;
			i += got + 1;
		}
	}
}

static void snap_take(struct snap *s, int fd)
{
	struct kvm_device_attr a = { .group = KVM_VCPU_TSC_CTRL, .attr = KVM_VCPU_TSC_OFFSET };
	struct kvm_msr_entry tsc = { .index = MSR_IA32_TSC };

	memset(s, 0, sizeof(*s));
	a.addr = (u64)(uintptr_t)&s->tsc_offset;
	for (u32 i = 0; i < F.nmsrs; i++)
		s->msrs[i].index = F.msr_index[i];
	if (xioctl(fd, KVM_GET_REGS, &s->regs) < 0 || xioctl(fd, KVM_GET_SREGS, &s->sregs) < 0 ||
	    xioctl(fd, KVM_GET_VCPU_EVENTS, &s->events) < 0 || xioctl(fd, KVM_GET_DEBUGREGS, &s->debugregs) < 0 ||
	    xioctl(fd, KVM_GET_XCRS, &s->xcrs) < 0 || xioctl(fd, KVM_GET_MP_STATE, &s->mp) < 0 ||
	    xioctl(fd, KVM_GET_XSAVE, s->xsave) < 0 || xioctl(fd, KVM_GET_DEVICE_ATTR, &a) < 0 ||
	    xioctl(fd, KVM_GET_FPU, &s->fpu) < 0)
		die("reading the vCPU");
	/* KVM_GET_XSAVE gives x87 and SSE state in full whether XSTATE_BV names them or
	 * not (their initial values then): the bits say nothing a guest can see. */
	s->xsave[512 / 4] |= 3;
	if (msrs_get(fd, s->msrs, F.nmsrs) != F.nmsrs || msrs_get(fd, &tsc, 1) != 1)
		die("an MSR that was readable is not");
	s->tsc = tsc.data;
}

/* Compares two snapshots part by part, naming the first part that differs. */
static void snap_same(const struct snap *x, const struct snap *y, bool tsc_offset, const char *what)
{
	static const struct {
		const char *name;
		size_t off, len;
	} parts[] = {
#define PART(f) { #f, offsetof(struct snap, f), sizeof(((struct snap *)0)->f) }
		PART(regs), PART(sregs), PART(events), PART(debugregs), PART(xcrs),
		PART(mp),   PART(xsave), PART(msrs),   PART(fpu),
#undef PART
	};

	for (size_t i = 0; i < ARRAY_SIZE(parts); i++) {
		const u8 *p = (const u8 *)x + parts[i].off, *q = (const u8 *)y + parts[i].off;

		for (size_t k = 0; k < parts[i].len; k++) {
			if (p[k] == q[k])
				continue;
			fprintf(stderr, "fuzz_park: %s: %s differs at byte %zu (0x%02x, not 0x%02x)\n", what,
				parts[i].name, k, q[k], p[k]);
			if (parts[i].off == offsetof(struct snap, msrs))
				fprintf(stderr, "fuzz_park: MSR 0x%x\n", x->msrs[k / sizeof(x->msrs[0])].index);
			FUZZ_CHECK(!"the vCPU state differs");
		}
	}
	if (tsc_offset && x->tsc_offset != y->tsc_offset) {
		fprintf(stderr, "fuzz_park: %s: TSC offset 0x%llx, not 0x%llx\n", what,
			(unsigned long long)y->tsc_offset, (unsigned long long)x->tsc_offset);
		FUZZ_CHECK(!"the TSC offset differs");
	}
}

/* A guest of the rig: its struct vm on one of the two RAM slots, with `hlt` at the boot address. */
static void guest_setup(struct vm *g, u32 index)
{
	struct vm_config cfg = { .index = index };

	vm_setup(g, F.ram[index], &cfg);
}

static void machine_get(struct machine *m)
{
	FUZZ_CHECK(F.pool_len > 0);
	*m = F.pool[--F.pool_len];
}

static void machine_put(const struct machine *m)
{
	FUZZ_CHECK(F.pool_len < ARRAY_SIZE(F.pool));
	F.pool[F.pool_len++] = *m;
}

/* guest_start(): a VM from the pool, made new if it was used, booted, run to its first hlt. */
static void guest_start(struct vm *g, u64 *tsc_before)
{
	const char *what = "";
	struct machine m;

	machine_get(&m);
	if (vm_attach(g, &m, F.kvm.run_size, &what) < 0)
		die(what);
	*tsc_before = __rdtsc();
	if (m.used && park_renew(g, F.fresh) < 0)
		die("park_renew");
	if (vm_boot(g, m.used ? &F.fresh->sregs : NULL, &what) < 0)
		die(what);
	vm_run(g); /* `hlt` with interrupts off: it ends, which parking does not mind here */
	if (g->run->exit_reason != KVM_EXIT_HLT)
		fprintf(stderr, "fuzz_park: the guest did not reach its hlt: %s\n", vm_why(g));
	FUZZ_CHECK(g->run->exit_reason == KVM_EXIT_HLT);
}

/* guest_park(): its state saved, its VM to the pool. */
static struct park *guest_park(struct vm *g)
{
	struct park *p = park_save(g, NULL, 0, 0);
	struct machine m;

	if (!p)
		die("park_save");
	vm_detach(g, &m);
	machine_put(&m);
	return p;
}

/* One state change a guest could make, from the input; KVM may refuse it. */
static void state_change(int fd, struct fuzz_in *in)
{
	static __thread struct kvm_xsave xs;
	u8 op = fuzz_u8(in), k = fuzz_u8(in);
	u64 v = fuzz_u64(in);
	struct kvm_regs regs;
	struct kvm_sregs sregs;
	struct kvm_debugregs dr;
	struct kvm_vcpu_events ev;
	struct kvm_segment *seg;
	union { /* struct kvm_msrs with one entry: EFER.SCE, all EFER takes without CPUID */
		struct kvm_msrs hdr;
		u8 bytes[sizeof(struct kvm_msrs) + sizeof(struct kvm_msr_entry)];
	} msr = { .hdr.nmsrs = 1 };

	switch (op % 8) {
	case 0: /* a general register, RIP or RFLAGS */
		if (xioctl(fd, KVM_GET_REGS, &regs) == 0) {
			((u64 *)&regs)[k % (sizeof(regs) / 8)] = v;
			xioctl(fd, KVM_SET_REGS, &regs);
		}
		break;
	case 1: /* a segment register: selector, base, limit, or its attributes */
		if (xioctl(fd, KVM_GET_SREGS, &sregs) < 0)
			break;
		seg = &(&sregs.cs)[k % 8];
		switch (k / 8 % 4) {
		case 0:
			seg->selector = (u16)v;
			break;
		case 1:
			seg->base = v;
			break;
		case 2:
			seg->limit = (u32)v;
			break;
		default:
			memcpy(&seg->type, &v, 8); /* type present dpl db s l g avl */
			break;
		}
		xioctl(fd, KVM_SET_SREGS, &sregs);
		break;
	case 2: /* a control register, EFER, APIC base, or a descriptor table */
		if (xioctl(fd, KVM_GET_SREGS, &sregs) < 0)
			break;
		switch (k % 9) {
		case 0:
			sregs.cr0 = (sregs.cr0 & ~0xffffull) | (v & 0xffff) |
				    0x10; /* the low bits: a real-mode guest's MP, EM, TS, NE... */
			break;
		case 1:
			sregs.cr2 = v;
			break;
		case 2:
			sregs.cr3 = v;
			break;
		case 3:
			sregs.cr4 = v & 0x7ff;
			break;
		case 4:
			sregs.cr8 = v & 0xf;
			break;
		case 5:
			sregs.efer = v & 1;
			break;
		case 6:
			sregs.gdt.base = v;
			sregs.gdt.limit = (u16)(v >> 48);
			break;
		case 7:
			sregs.idt.base = v;
			sregs.idt.limit = (u16)(v >> 48);
			break;
		default:
			sregs.cr0 = v;
			break;
		}
		xioctl(fd, KVM_SET_SREGS, &sregs);
		break;
	case 3: /* a debug register */
		if (xioctl(fd, KVM_GET_DEBUGREGS, &dr) < 0)
			break;
		if (k % 6 < 4)
			dr.db[k % 6] = v;
		else if (k % 6 == 4)
			dr.dr6 = v;
		else
			dr.dr7 = v;
		xioctl(fd, KVM_SET_DEBUGREGS, &dr);
		break;
	case 4: /* 8 bytes of the x87/SSE area (registers, control and status words, MXCSR), put in use */
		if (xioctl(fd, KVM_GET_XSAVE, &xs) < 0)
			break;
		memcpy((u8 *)xs.region + (k % 64) * 8, &v, 8);
		xs.region[512 / 4] |= k >> 6 & 3; /* XSTATE_BV: x87, SSE */
		xioctl(fd, KVM_SET_XSAVE, &xs);
		break;
	case 5: /* pending events: an exception, an interrupt, an NMI, the interrupt shadow */
		if (xioctl(fd, KVM_GET_VCPU_EVENTS, &ev) < 0)
			break;
		switch (k % 4) {
		case 0:
			ev.exception.injected = v & 1;
			ev.exception.nr = (u8)(v >> 8) % 32;
			ev.exception.has_error_code = (v >> 16) & 1;
			ev.exception.error_code = (u32)(v >> 32);
			break;
		case 1:
			ev.interrupt.injected = v & 1;
			ev.interrupt.nr = (u8)(v >> 8);
			ev.interrupt.soft = (v >> 16) & 1;
			break;
		case 2:
			ev.nmi.injected = v & 1;
			ev.nmi.pending = (v >> 8) & 1;
			ev.nmi.masked = (v >> 16) & 1;
			ev.flags |= KVM_VCPUEVENT_VALID_NMI_PENDING;
			break;
		default:
			ev.interrupt.shadow = v & 3; /* after mov ss / sti */
			ev.flags |= KVM_VCPUEVENT_VALID_SHADOW;
			break;
		}
		xioctl(fd, KVM_SET_VCPU_EVENTS, &ev);
		break;
	case 6: /* EFER through wrmsr, the one MSR a guest may write */
		msr.hdr.entries[0] = (struct kvm_msr_entry){ .index = MSR_EFER, .data = v & 1 };
		xioctl(fd, KVM_SET_MSRS, &msr);
		break;
	default: /* a whole register file of random bits */
		if (xioctl(fd, KVM_GET_REGS, &regs) == 0) {
			for (size_t i = 0; i < sizeof(regs) / 8; i++)
				((u64 *)&regs)[i] = v * (i + 1) ^ fuzz_u64(in);
			regs.rflags = (regs.rflags & 0x3f7fd5) | 2; /* only bits an RFLAGS can hold */
			xioctl(fd, KVM_SET_REGS, &regs);
		}
		break;
	}
}

static void state_program(int fd, struct fuzz_in *in, u32 ops)
{
	for (u32 i = 0; i < ops && in->left; i++)
		state_change(fd, in);
}

int LLVMFuzzerInitialize(int *argc, char ***argv)
{
	char err[256];
	const char *what = "", *why;
	struct vm g;
	struct machine m;
	u64 t0, t1;

	if (kvm_open(&F.kvm, err, sizeof(err)) < 0 || !F.kvm.msr_filter) {
		printf("fuzz_park: SKIP: %s: the park/reuse path cannot run here\n",
		       F.kvm.fd < 0 ? err : "KVM has no MSR filter, so kvmlite does not reuse VMs");
		exit(0);
	}
	for (int i = 0; i < 2; i++) {
		F.ram[i] = aligned_alloc(GUEST_PAGE_SIZE, RAM_SIZE);
		if (!F.ram[i])
			die("aligned_alloc");
		memset(F.ram[i], 0, RAM_SIZE);
		F.ram[i][BOOT_ADDR] = 0xf4; /* hlt */
	}
	/* Two VMs, as the shard makes them; the first one, before it runs, is the probe. */
	for (int i = 0; i < 2; i++) {
		t0 = __rdtsc();
		if (machine_create(&F.kvm, &m, &what) < 0)
			die(what);
		if (i == 0) {
			struct vm probe = { .vcpu_fd = m.vcpu_fd, .run = m.run };

			F.nmsrs = 0;
			snap_take(&F.a, m.vcpu_fd);
			F.tsc_from_zero = F.a.tsc <= __rdtsc() - t0;

			F.fresh = park_probe(&F.kvm, &probe, &why);
			if (!F.fresh) {
				fprintf(stderr, "fuzz_park: park_probe: %s\n", why);
				__builtin_trap();
			}
			msrs_find(m.vcpu_fd);
		}
		machine_put(&m);
	}
	/* The reference: a guest on a VM that was never used, after boot and its first hlt
	 * (index 1, in ESI, as guest 2's). */
	guest_setup(&g, 1);
	guest_start(&g, &t0);
	snap_take(&F.booted, g.vcpu_fd);
	/* Whether this process's rdtsc reads the TSC KVM offsets (no TSC scaling): then a
	 * guest's TSC after park_renew can be bounded by the time since. */
	t0 = __rdtsc();
	snap_take(&F.a, g.vcpu_fd);
	t1 = __rdtsc();
	F.tsc_bound = F.a.tsc - F.a.tsc_offset >= t0 && F.a.tsc - F.a.tsc_offset <= t1;
	if (!F.tsc_bound)
		printf("fuzz_park: the host TSC KVM uses is not this rdtsc: the TSC bound is not checked\n");
	free(guest_park(&g));
	free(g.why); /* it ended at its hlt */
	printf("fuzz_park: %u MSRs compared, KVM backend %s, a new vCPU's TSC %s\n", F.nmsrs, F.kvm.backend,
	       F.tsc_from_zero ? "starts at 0" : "is the host's");
	return 0;
}

int LLVMFuzzerTestOneInput(const u8 *data, size_t size)
{
	struct fuzz_in in = { data, size };
	struct vm g1, g2;
	struct park *p1, *p2;
	u8 ops1 = fuzz_u8(&in) % 32, ops2 = fuzz_u8(&in) % 32, flags = fuzz_u8(&in);
	u64 t0, t1;

	guest_setup(&g1, 0);
	guest_setup(&g2, 1);

	/* Guest 1 boots, halts, takes random state, and is parked. */
	guest_start(&g1, &t0);
	state_program(g1.vcpu_fd, &in, ops1);
	snap_take(&F.a, g1.vcpu_fd);
	p1 = guest_park(&g1);

	/* Guest 2 boots on the VM guest 1 left (or on the other one) and finds a new VM's state. */
	if (flags & 1) {
		struct machine top = F.pool[F.pool_len - 1];

		F.pool[F.pool_len - 1] = F.pool[0];
		F.pool[0] = top;
	}
	guest_start(&g2, &t0);
	snap_take(&F.b, g2.vcpu_fd);
	t1 = __rdtsc();
	snap_same(&F.booted, &F.b, false, "a guest on a reused VM");
	/* Its TSC is a new vCPU's: counting from its boot (no more than the time since), or the host's. */
	if (F.tsc_from_zero ? F.tsc_bound && F.b.tsc > t1 - t0 : F.b.tsc_offset != F.booted.tsc_offset) {
		fprintf(stderr,
			"fuzz_park: guest TSC %llu (offset %lld) on a reused VM, %llu cycles after it was made new\n",
			(unsigned long long)F.b.tsc, (long long)F.b.tsc_offset, (unsigned long long)(t1 - t0));
		FUZZ_CHECK(!"the TSC of a reused VM is not a new one's");
	}

	/* Guest 2 takes random state and is parked; guest 1 resumes on the VM it left. */
	state_program(g2.vcpu_fd, &in, ops2);
	p2 = guest_park(&g2);
	{
		const char *what = "";
		struct machine m;

		machine_get(&m);
		if (vm_attach(&g1, &m, F.kvm.run_size, &what) < 0)
			die(what);
		if (park_restore(&g1, p1) < 0)
			die("park_restore");
	}
	snap_take(&F.b, g1.vcpu_fd);
	snap_same(&F.a, &F.b, true, "a resumed guest");
	/* What vm_inject() reads before the next entry describes the resumed guest. */
	FUZZ_CHECK(g1.run->if_flag == !!(F.a.regs.rflags & 0x200));
	free(guest_park(&g1));
	free(p1);
	free(p2);
	free(g1.why); /* each ended at its hlt */
	free(g2.why);
	return 0;
}
