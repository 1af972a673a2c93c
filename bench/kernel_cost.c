/* kernel_cost.c - the host kernel's memory per live VM as a function of the RAM memslot size, to size GUEST_RAM_SIZE. */
#include <getopt.h>

#include "rawvm.h"

/*
 * KVM allocates per-memslot metadata in proportion to the slot size (with
 * the shadow MMU, which kvm_pvm uses: rmap arrays for three page sizes,
 * large-page info, write-tracking), so a bigger guest RAM costs kernel
 * memory even if the guest never touches it. Each array is its own vmalloc
 * area, so it costs at least a page: expect steps, not a slope, in
 * VmallocUsed. For each slot size this creates M live VMs,
 * exactly as raw_baseline does (VM fd closed, vCPU run to its first exit),
 * reads /proc/meminfo and /proc/slabinfo before and after, destroys them,
 * and waits for the host to recover before the next size. Each size runs
 * with one memslot, and with two (plus a read-only page, as kvmlite mapped
 * its firmware until issue 13; now the firmware is in the RAM slot).
 */

#define MAX_SIZES 16
#define MAX_CACHES 1024
#define TOP 5

/* Bytes held in each slab cache: active objects times object size, which,
 * unlike the Slab counter, does not depend on how full the slabs were.
 * SLUB merges caches of like size: a name may stand for several caches. */
struct slabsnap {
	int n;
	struct {
		char name[48];
		s64 bytes;
	} c[MAX_CACHES];
};

struct result {
	u64 size;
	int slots;
	long made;
	int failed_stage, failed_errno, budget_hit;
	double kib[NMI]; /* per VM; MemAvailable as used (positive) */
	double rate, setmem_us, recover_s, residual_kib;
	int ntop;
	char top_name[TOP][48];
	double top_kib[TOP];
};

static int slab_read(struct slabsnap *s)
{
	char line[512];
	long long active, total, objsize;
	FILE *f = fopen("/proc/slabinfo", "r"); /* root only */

	s->n = 0;
	if (!f)
		return -1;
	while (fgets(line, sizeof(line), f) && s->n < MAX_CACHES)
		if (line[0] != '#' && sscanf(line, "%47s %lld %lld %lld", s->c[s->n].name, &active, &total,
					     &objsize) == 4)
			s->c[s->n++].bytes = active * objsize;
	fclose(f);
	return 0;
}

/* The TOP caches that grew most from a to b, per VM. */
static void slab_movers(const struct slabsnap *a, const struct slabsnap *b, long vms, struct result *r)
{
	r->ntop = 0;
	for (int i = 0; i < b->n; i++) {
		s64 d = b->c[i].bytes;
		double kib;
		int k;

		for (int j = 0; j < a->n; j++)
			if (!strcmp(a->c[j].name, b->c[i].name))
				d -= a->c[j].bytes;
		if (d <= 0 || vms == 0)
			continue;
		kib = (double)d / 1024.0 / (double)vms;
		if (r->ntop == TOP && kib <= r->top_kib[TOP - 1])
			continue;
		/* Insert into the short sorted list, dropping its smallest if full. */
		k = r->ntop < TOP ? r->ntop++ : TOP - 1;
		for (; k > 0 && r->top_kib[k - 1] < kib; k--) {
			r->top_kib[k] = r->top_kib[k - 1];
			memcpy(r->top_name[k], r->top_name[k - 1], sizeof(r->top_name[k]));
		}
		r->top_kib[k] = kib;
		snprintf(r->top_name[k], sizeof(r->top_name[k]), "%s", b->c[i].name);
	}
}

static void measure(int kvm_fd, int run_size, const u8 *fw, long m, double budget, struct result *r,
		    struct slabsnap *sa, struct slabsnap *sb)
{
	struct rawvm *g = calloc((size_t)m, sizeof(*g));
	u32 *ns = calloc((size_t)m * NSTAGES, sizeof(*ns));
	s64 before[NMI], after[NMI], now[NMI];
	struct timespec sec = { 1, 0 };
	/* A slot too small to reach 0x7c00 (4 KiB) gets its code at 0000:0000. */
	u16 entry = r->size > BOOT_ADDR + sizeof(rawvm_code) ? BOOT_ADDR : 0;
	u8 *arena;
	u64 t0;

	r->made = 0;
	r->failed_stage = -1;
	arena = mmap(NULL, (size_t)m * r->size, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE,
		     -1, 0);
	if (!g || !ns || arena == MAP_FAILED) {
		fprintf(stderr, "kernel_cost: arena of %ld x %llu KiB: %s\n", m, (unsigned long long)r->size / 1024,
			strerror(errno));
		exit(1);
	}
	meminfo_settle(60);
	rawvm_meminfo(before);
	slab_read(sa);
	t0 = now_ns();
	for (long i = 0; i < m; i++) {
		u8 *ram = arena + (size_t)i * r->size;

		if (budget > 0 && i % 256 == 0 && rawvm_used_pct() >= budget) {
			r->budget_hit = 1;
			break;
		}
		memcpy(ram + entry, rawvm_code, sizeof(rawvm_code));
		if (rawvm_create(&g[i], kvm_fd, run_size, ram, r->size, entry, r->slots > 1 ? fw : NULL,
				 &ns[i * NSTAGES], &r->failed_stage) < 0) {
			r->failed_errno = errno;
			break;
		}
		r->made = i + 1;
	}
	r->rate = r->made / ((double)(now_ns() - t0) / 1e9);
	r->setmem_us = median_us(ns, (size_t)r->made, NSTAGES, ST_SET_MEMORY);
	/* Per-CPU vmstat deltas are folded into /proc/meminfo once a second. */
	nanosleep(&sec, NULL);
	rawvm_meminfo(after);
	slab_read(sb);
	for (int k = 0; k < NMI; k++)
		r->kib[k] = r->made ? (double)(after[k] - before[k]) / (double)r->made : 0;
	r->kib[MI_AVAIL] = -r->kib[MI_AVAIL];
	slab_movers(sa, sb, r->made, r);
	for (long i = 0; i < r->made; i++)
		rawvm_destroy(&g[i], run_size);
	munmap(arena, (size_t)m * r->size);
	free(g);
	free(ns);
	r->recover_s = meminfo_settle(120);
	rawvm_meminfo(now);
	r->residual_kib = (double)(before[MI_AVAIL] - now[MI_AVAIL]);
}

static void usage(void)
{
	fprintf(stderr, "usage: kernel_cost [-m VMs] [--sizes KiB,KiB,...] [--slots 1|2|both] "
			"[--mem-budget PCT] [--json]\n");
	exit(2);
}

int main(int argc, char **argv)
{
	static const struct option opts[] = { { "sizes", required_argument, NULL, 's' },
					      { "slots", required_argument, NULL, 'S' },
					      { "mem-budget", required_argument, NULL, 'b' },
					      { "json", no_argument, NULL, 'j' },
					      { 0 } };
	/* 4 KiB: the smallest slot; 32/64 KiB: a boot sector and stack;
	 * 640 KiB: conventional memory; 1 MiB: real mode's reach; 16 MiB: big. */
	u64 sizes[MAX_SIZES] = { 4, 32, 64, 640, 1024, 16384 };
	int nsizes = 6, json = 0, slot_lo = 1, slot_hi = 2, opt, kvm_fd, run_size, nres = 0;
	long m = 2000, cap;
	double budget = 60; /* never take this host past 60% memory in use */
	struct result res[2 * MAX_SIZES], warm = { .size = 4096, .slots = 1 };
	struct slabsnap *sa = malloc(sizeof(*sa)), *sb = malloc(sizeof(*sb));
	struct hostinfo hi;
	u8 *fw;

	while ((opt = getopt_long(argc, argv, "m:", opts, NULL)) != -1) {
		switch (opt) {
		case 'm':
			m = atol(optarg);
			break;
		case 's':
			nsizes = 0;
			for (char *t = strtok(optarg, ","); t && nsizes < MAX_SIZES; t = strtok(NULL, ","))
				sizes[nsizes++] = strtoull(t, NULL, 0);
			break;
		case 'S':
			slot_lo = !strcmp(optarg, "2") ? 2 : 1;
			slot_hi = !strcmp(optarg, "1") ? 1 : 2;
			break;
		case 'b':
			budget = atof(optarg);
			break;
		case 'j':
			json = 1;
			break;
		default:
			usage();
		}
	}
	for (int i = 0; i < nsizes; i++)
		if (sizes[i] == 0 || sizes[i] % 4)
			usage(); /* memslots are whole pages */
	cap = nofile_raise() - 16;
	if (m < 1 || !sa || !sb)
		usage();
	if (m > cap) {
		fprintf(stderr, "kernel_cost: RLIMIT_NOFILE allows %ld live VMs per process; using that\n", cap);
		m = cap;
	}
	hostinfo_read(&hi);
	kvm_fd = open("/dev/kvm", O_RDWR | O_CLOEXEC);
	run_size = kvm_fd < 0 ? -1 : ioctl(kvm_fd, KVM_GET_VCPU_MMAP_SIZE, 0);
	/* One page shared by every VM, read-only, as kvmlite mapped its firmware. */
	fw = mmap(NULL, GUEST_PAGE_SIZE, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	if (run_size < 0 || fw == MAP_FAILED) {
		fprintf(stderr, "kernel_cost: /dev/kvm: %s\n", strerror(errno));
		return 1;
	}
	memset(fw, 0xf4, GUEST_PAGE_SIZE); /* hlt */
	mprotect(fw, GUEST_PAGE_SIZE, PROT_READ);

	/* An unrecorded round first: the first VMs after boot also pay for
	 * slab caches and module state that later VMs reuse. */
	measure(kvm_fd, run_size, fw, m, budget, &warm, sa, sb);
	for (int i = 0; i < nsizes; i++) {
		for (int s = slot_lo; s <= slot_hi; s++) {
			/* RAM past 0xff000 would overlap the read-only slot. */
			if (s == 2 && sizes[i] * 1024 > RAWVM_ROM_ADDR)
				continue;
			res[nres] = (struct result){ .size = sizes[i] * 1024, .slots = s };
			measure(kvm_fd, run_size, fw, m, budget, &res[nres], sa, sb);
			if (!json)
				fprintf(stderr, "kernel_cost: %llu KiB x %d slot(s): %ld VMs done\n",
					(unsigned long long)sizes[i], s, res[nres].made);
			nres++;
		}
	}

	if (json) {
		printf("{\"bench\":\"kernel_cost\",\"host\":\"%s\",\"cpu\":\"%s\",\"kernel\":\"%s\",\"backend\":\"%s\","
		       "\"vms\":%ld,\"results\":[",
		       hi.host, hi.cpu, hi.kernel, hi.backend, m);
		for (int i = 0; i < nres; i++) {
			struct result *r = &res[i];

			printf("%s{\"slot_kib\":%llu,\"slots\":%d,\"made\":%ld,\"stopped\":\"%s\",\"rate_per_s\":%.0f,"
			       "\"set_memory_median_us\":%.1f,\"recover_s\":%.1f,\"residual_kib\":%.0f,\"kib_per_vm\":{",
			       i ? "," : "", (unsigned long long)r->size / 1024, r->slots, r->made,
			       r->budget_hit ? "mem-budget" :
			       r->failed_stage >= 0 ? rawvm_stage_call[r->failed_stage] : "",
			       r->rate, r->setmem_us, r->recover_s, r->residual_kib);
			for (int k = MI_AVAIL; k < NMI; k++)
				printf("%s\"%s\":%.2f", k > MI_AVAIL ? "," : "", meminfo_key[k], r->kib[k]);
			printf("},\"slab_top_kib_per_vm\":{");
			for (int k = 0; k < r->ntop; k++)
				printf("%s\"%s\":%.2f", k ? "," : "", r->top_name[k], r->top_kib[k]);
			printf("}}");
		}
		printf("]}\n");
		return 0;
	}
	printf("kernel_cost: host %s, %s, Linux %s, backend %s; %ld live VMs per row; KiB per VM\n", hi.host, hi.cpu,
	       hi.kernel, hi.backend, m);
	printf("%8s %5s %6s %8s %8s %7s %7s %7s %7s %7s %7s %6s %8s %6s\n", "slot KiB", "slots", "VMs", "MemAvail",
	       "AnonPg", "Slab", "KStack", "PTables", "SecPT", "Vmalloc", "Percpu", "VMs/s", "setmem", "recov");
	for (int i = 0; i < nres; i++) {
		struct result *r = &res[i];

		printf("%8llu %5d %6ld %8.1f %8.1f %7.1f %7.1f %7.1f %7.1f %7.1f %7.1f %6.0f %6.1fus %5.1fs\n",
		       (unsigned long long)r->size / 1024, r->slots, r->made, r->kib[MI_AVAIL], r->kib[MI_ANON],
		       r->kib[MI_SLAB], r->kib[MI_KSTACK], r->kib[MI_PTABLES], r->kib[MI_SECPT], r->kib[MI_VMALLOC],
		       r->kib[MI_PERCPU], r->rate, r->setmem_us, r->recover_s);
	}
	printf("(vmap'd kernel stacks count in both KStack and Vmalloc: do not add them)\n");
	if (slot_hi == 2)
		printf("(2-slot rows only where RAM ends at or below the read-only page at 0x%x)\n", RAWVM_ROM_ADDR);
	printf("slab caches that grew most (KiB per VM, active objects x size):\n");
	for (int i = 0; i < nres; i++) {
		printf("%8llu x%d ", (unsigned long long)res[i].size / 1024, res[i].slots);
		for (int k = 0; k < res[i].ntop; k++)
			printf(" %s %.1f", res[i].top_name[k], res[i].top_kib[k]);
		if (res[i].budget_hit || res[i].failed_stage >= 0)
			printf("  [stopped: %s]", res[i].budget_hit ? "mem-budget" :
			       rawvm_stage_call[res[i].failed_stage]);
		printf("\n");
	}
	munmap(fw, GUEST_PAGE_SIZE);
	close(kvm_fd);
	free(sa);
	free(sb);
	return 0;
}
