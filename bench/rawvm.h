/* rawvm.h - the raw-ioctl guest and the host probes (/proc/meminfo, host names) shared by the bench programs. */
#ifndef KVMLITE_BENCH_RAWVM_H
#define KVMLITE_BENCH_RAWVM_H

/*
 * Header-only on purpose: each bench program is built from one .c file
 * (Makefile rule build/bench/%), and neither links libkvmlite, so the
 * baseline measures bare KVM and nothing of kvmlite's own code.
 */
#include <errno.h>
#include <fcntl.h>
#include <linux/kvm.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/mman.h>
#include <sys/resource.h>
#include <sys/utsname.h>
#include <time.h>
#include <unistd.h>

#include "hostinfo.h" /* vmm/hostinfo.c is linked into every benchmark */
#include "layout.h"
#include "types.h"

/*
 * The guest: `mov dx, 0x3f8; mov al, 'x'; out dx, al; hlt` at 0000:7c00.
 * Its first exit is the `out` to COM1, the same point at which a kvmlite
 * guest prints its first serial byte, so "booted" means the same in both.
 */
static const u8 rawvm_code[] = { 0xba, 0xf8, 0x03, 0xb0, 0x78, 0xee, 0xf4 };

/* Setup stages of one guest, in the order kvmlite's vm_init() does them. */
enum rawvm_stage { ST_CREATE_VM, ST_SET_MEMORY, ST_CREATE_VCPU, ST_MMAP, ST_SET_REGS, ST_FIRST_RUN, NSTAGES };

static const char *const rawvm_stage_name[NSTAGES] = { "create VM", "set memory", "create vCPU", "mmap kvm_run",
						       "set regs", "first run" };
static const char *const rawvm_stage_key[NSTAGES] = { "create_vm", "set_memory", "create_vcpu", "mmap",
						      "set_regs", "first_run" };
static const char *const rawvm_stage_call[NSTAGES] = { "KVM_CREATE_VM", "KVM_SET_USER_MEMORY_REGION",
						       "KVM_CREATE_VCPU", "mmap(kvm_run)",
						       "KVM_GET/SET_SREGS/REGS", "KVM_RUN" };

/* A live guest keeps only what a kvmlite guest keeps: its vCPU fd and kvm_run. */
struct rawvm {
	int vcpu_fd;
	struct kvm_run *run;
};

static inline u64 now_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (u64)ts.tv_sec * 1000000000ull + (u64)ts.tv_nsec;
}

#define RAWVM_ROM_ADDR 0xff000 /* the second slot's page: F000:F000, below the reset vector */

/*
 * Create one guest and run it to its first exit. ram is ram_size bytes of
 * the caller's arena with rawvm_code already at offset ip (BOOT_ADDR unless
 * the slot is too small to hold it); fw, if not NULL, is a read-only page
 * mapped as a second memslot at RAWVM_ROM_ADDR: where kvmlite kept its
 * firmware until it moved into the RAM slot (issue 13), for comparing. Stage times go
 * to ns[]. On failure returns -1 with errno set and the stage in *failed.
 * vm_fd: NULL closes the VM fd as kvmlite does; otherwise it is kept and
 * returned there, for VM ioctls after the first run (bench/floor.c's
 * KVM_REGISTER_COALESCED_MMIO), and the caller closes it. boot_io, if not
 * NULL, sees each I/O exit of that run before it is answered (bench/floor.c
 * learns how the guest programmed its devices).
 */
static inline int rawvm_create_keep(struct rawvm *g, int kvm_fd, int run_size, u8 *ram, u64 ram_size, u16 ip,
				    const u8 *fw, u32 ns[NSTAGES], int *failed, int *vm_fd_out,
				    void (*boot_io)(void *ctx, const struct kvm_run *r), void *io_ctx)
{
	struct kvm_userspace_memory_region slot = { .slot = 0, .memory_size = ram_size,
						    .userspace_addr = (u64)(uintptr_t)ram };
	struct kvm_sregs sregs;
	struct kvm_regs regs = { .rflags = 0x2, .rip = ip, .rsp = BOOT_STACK };
	int vm_fd = -1, st = ST_CREATE_VM, saved;
	u64 t = now_ns(), t1;

#define STAGE_DONE(s) (t1 = now_ns(), ns[s] = (u32)(t1 - t), t = t1, st = (s) + 1)
	g->vcpu_fd = -1;
	g->run = NULL;
	if (vm_fd_out)
		*vm_fd_out = -1;
	vm_fd = ioctl(kvm_fd, KVM_CREATE_VM, 0);
	if (vm_fd < 0)
		goto fail;
	STAGE_DONE(ST_CREATE_VM);
	if (ioctl(vm_fd, KVM_SET_USER_MEMORY_REGION, &slot) < 0)
		goto fail;
	if (fw) {
		slot = (struct kvm_userspace_memory_region){ .slot = 1, .flags = KVM_MEM_READONLY,
							     .guest_phys_addr = RAWVM_ROM_ADDR,
							     .memory_size = GUEST_PAGE_SIZE,
							     .userspace_addr = (u64)(uintptr_t)fw };
		if (ioctl(vm_fd, KVM_SET_USER_MEMORY_REGION, &slot) < 0)
			goto fail;
	}
	STAGE_DONE(ST_SET_MEMORY);
	g->vcpu_fd = ioctl(vm_fd, KVM_CREATE_VCPU, 0);
	if (g->vcpu_fd < 0)
		goto fail;
	/* The vCPU pins its VM; dropping the VM fd halves the fds per guest. */
	if (!vm_fd_out)
		close(vm_fd);
	else
		*vm_fd_out = vm_fd;
	vm_fd = -1;
	STAGE_DONE(ST_CREATE_VCPU);
	g->run = mmap(NULL, (size_t)run_size, PROT_READ | PROT_WRITE, MAP_SHARED, g->vcpu_fd, 0);
	if (g->run == MAP_FAILED) {
		g->run = NULL;
		goto fail;
	}
	STAGE_DONE(ST_MMAP);
	if (ioctl(g->vcpu_fd, KVM_GET_SREGS, &sregs) < 0)
		goto fail;
	/* KVM resets to real mode at F000:FFF0; only CS moves, to 0000:ip. */
	sregs.cs.selector = 0;
	sregs.cs.base = 0;
	if (ioctl(g->vcpu_fd, KVM_SET_SREGS, &sregs) < 0 || ioctl(g->vcpu_fd, KVM_SET_REGS, &regs) < 0)
		goto fail;
	STAGE_DONE(ST_SET_REGS);
	/*
	 * Run to the first `hlt`, as the issue defines the baseline. The
	 * simplest possible device model: every port reads all ones and
	 * swallows writes, so a real guest (-i IMAGE, e.g. mvm) boots through
	 * its device set-up, prints, and halts, as it does under kvmlite.
	 */
	for (;;) {
		struct kvm_run *r = g->run;

		/* A loaded host interrupts KVM_RUN (EINTR) or asks for a retry (EAGAIN). */
		if (ioctl(g->vcpu_fd, KVM_RUN, 0) < 0) {
			if (errno != EINTR && errno != EAGAIN)
				goto fail;
			continue;
		}
		if (r->exit_reason == KVM_EXIT_HLT)
			break;
		if (r->exit_reason != KVM_EXIT_IO) {
			errno = EPROTO; /* the guest did not run as written */
			goto fail;
		}
		if (r->io.data_offset + (u64)r->io.size * r->io.count > (u64)run_size)
			continue; /* nothing to see or answer outside the mapping */
		if (boot_io)
			boot_io(io_ctx, r);
		if (r->io.direction == KVM_EXIT_IO_IN)
			memset((u8 *)r + r->io.data_offset, 0xff, (size_t)r->io.size * r->io.count);
	}
	STAGE_DONE(ST_FIRST_RUN);
#undef STAGE_DONE
	return 0;
fail:
	saved = errno;
	*failed = st;
	if (vm_fd >= 0)
		close(vm_fd);
	if (vm_fd_out && *vm_fd_out >= 0) {
		close(*vm_fd_out);
		*vm_fd_out = -1;
	}
	if (g->run)
		munmap(g->run, (size_t)run_size);
	if (g->vcpu_fd >= 0)
		close(g->vcpu_fd);
	g->vcpu_fd = -1;
	g->run = NULL;
	errno = saved;
	return -1;
}

static inline int rawvm_create(struct rawvm *g, int kvm_fd, int run_size, u8 *ram, u64 ram_size, u16 ip,
			       const u8 *fw, u32 ns[NSTAGES], int *failed)
{
	return rawvm_create_keep(g, kvm_fd, run_size, ram, ram_size, ip, fw, ns, failed, NULL, NULL, NULL);
}

static inline void rawvm_destroy(struct rawvm *g, int run_size)
{
	if (g->run)
		munmap(g->run, (size_t)run_size);
	if (g->vcpu_fd >= 0)
		close(g->vcpu_fd);
	g->vcpu_fd = -1;
	g->run = NULL;
}

/* /proc/meminfo fields the benchmarks watch, all in KiB. */
enum { MI_TOTAL, MI_AVAIL, MI_SLAB, MI_KSTACK, MI_PTABLES, MI_SECPT, MI_VMALLOC, MI_PERCPU, MI_ANON, NMI };
static const char *const meminfo_key[NMI] = { "MemTotal",      "MemAvailable", "Slab",	  "KernelStack", "PageTables",
					      "SecPageTables", "VmallocUsed",  "Percpu", "AnonPages" };

static inline int rawvm_meminfo(s64 v[NMI])
{
	char line[256], key[64];
	long long kib;
	FILE *f = fopen("/proc/meminfo", "r");

	if (!f)
		return -1;
	memset(v, 0, NMI * sizeof(v[0]));
	while (fgets(line, sizeof(line), f))
		if (sscanf(line, "%63[^:]: %lld", key, &kib) == 2)
			for (int i = 0; i < NMI; i++)
				if (!strcmp(key, meminfo_key[i]))
					v[i] = kib;
	fclose(f);
	return 0;
}

/*
 * Wait until MemAvailable stops rising: KVM frees a destroyed VM partly
 * asynchronously (RCU, workqueues; ~6 s for 2,000 VMs here), and a run
 * started during that teardown measures the teardown too. Returns seconds
 * waited; gives up after timeout_s.
 */
static inline double meminfo_settle(double timeout_s)
{
	s64 prev[NMI], cur[NMI];
	u64 t0 = now_ns();
	struct timespec half = { 0, 500000000 };
	int calm = 0;

	rawvm_meminfo(prev);
	while (calm < 2 && (double)(now_ns() - t0) / 1e9 < timeout_s) {
		nanosleep(&half, NULL);
		rawvm_meminfo(cur);
		calm = cur[MI_AVAIL] - prev[MI_AVAIL] < 1024 ? calm + 1 : 0; /* < 1 MiB per 0.5 s */
		prev[MI_AVAIL] = cur[MI_AVAIL];
	}
	return (double)(now_ns() - t0) / 1e9;
}

/* Host memory in use, percent: what --mem-budget and the 60% rule watch
 * (100 when /proc/meminfo cannot be read: stop rather than guess). */
static inline double rawvm_used_pct(void)
{
	struct meminfo m;

	return meminfo_read(&m) == 0 ? meminfo_used_pct(&m) : 100.0;
}

/* Every figure names its host and KVM backend (DESIGN.md, "Honest numbers"). */
struct hostinfo {
	char host[65], cpu[128], kernel[65], backend[16];
};

static inline void hostinfo_read(struct hostinfo *h)
{
	static const char *const mods[] = { "kvm_intel", "kvm_amd", "kvm_pvm" };
	struct utsname u;
	char line[256], path[64], *p;
	FILE *f;

	snprintf(h->host, sizeof(h->host), "?");
	snprintf(h->kernel, sizeof(h->kernel), "?");
	snprintf(h->cpu, sizeof(h->cpu), "?");
	snprintf(h->backend, sizeof(h->backend), "unknown");
	if (uname(&u) == 0) {
		snprintf(h->host, sizeof(h->host), "%s", u.nodename);
		snprintf(h->kernel, sizeof(h->kernel), "%s", u.release);
	}
	f = fopen("/proc/cpuinfo", "r");
	while (f && fgets(line, sizeof(line), f)) {
		p = strchr(line, ':');
		if (!strncmp(line, "model name", 10) && p) {
			p[strcspn(p, "\n")] = 0;
			snprintf(h->cpu, sizeof(h->cpu), "%s", p + 2);
			break;
		}
	}
	if (f)
		fclose(f);
	for (size_t i = 0; i < ARRAY_SIZE(mods); i++) {
		snprintf(path, sizeof(path), "/sys/module/%s", mods[i]);
		if (access(path, F_OK) == 0)
			snprintf(h->backend, sizeof(h->backend), "%s", mods[i]);
	}
}

/* Soft RLIMIT_NOFILE up to the hard limit (no privilege needed); returns the hard limit. */
static inline long nofile_raise(void)
{
	struct rlimit rl;

	if (getrlimit(RLIMIT_NOFILE, &rl) < 0)
		return 1024;
	rl.rlim_cur = rl.rlim_max;
	setrlimit(RLIMIT_NOFILE, &rl);
	return rl.rlim_max == RLIM_INFINITY ? 1L << 20 : (long)rl.rlim_max;
}

static inline int u32_cmp(const void *a, const void *b)
{
	u32 x = *(const u32 *)a, y = *(const u32 *)b;

	return x < y ? -1 : x > y;
}

/* Median, in µs, of column `col` of n rows of `stride` u32 nanosecond samples. */
static inline double median_us(const u32 *rows, size_t n, size_t stride, size_t col)
{
	u32 *v;
	double m;

	if (n == 0 || !(v = malloc(n * sizeof(*v))))
		return 0;
	for (size_t i = 0; i < n; i++)
		v[i] = rows[i * stride + col];
	qsort(v, n, sizeof(*v), u32_cmp);
	m = n % 2 ? v[n / 2] : ((double)v[n / 2 - 1] + v[n / 2]) / 2;
	free(v);
	return m / 1000.0;
}

/* Mean, in µs, of the same column: with the median it shows how heavy the tail is. */
static inline double mean_us(const u32 *rows, size_t n, size_t stride, size_t col)
{
	double sum = 0;

	for (size_t i = 0; i < n; i++)
		sum += rows[i * stride + col];
	return n ? sum / (double)n / 1000.0 : 0;
}

/* The 1-minute load average: other work on a 2-core host skews every rate. */
static inline double loadavg_1min(void)
{
	double l = -1;
	FILE *f = fopen("/proc/loadavg", "r");

	if (f) {
		if (fscanf(f, "%lf", &l) != 1)
			l = -1;
		fclose(f);
	}
	return l;
}

#endif
