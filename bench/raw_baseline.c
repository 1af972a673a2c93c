/* raw_baseline.c - what KVM itself allows on this host: spawn rate and memory per guest with bare ioctls. */
#include <getopt.h>
#include <sys/wait.h>

#include "rawvm.h"

/* -i IMAGE: the boot sector every guest runs (default: rawvm_code) */
static u8 image[BOOT_SIZE];
static size_t image_len;

/*
 * The baseline kvmlite's `spawn` is compared against: no devices, no
 * scheduler, no io_uring, just the ioctls every guest needs, in a loop.
 * A guest counts as booted at its first `hlt` (after its `out` to COM1).
 * Each worker process sends one report through its pipe, then keeps its
 * guests alive until the parent closes the release pipe, so the parent
 * reads /proc/meminfo while every guest of every process is live.
 */

/* What one worker process sends back; made * NSTAGES u32 samples follow. */
struct report {
	u64 start_ns, end_ns;
	long requested, made;
	int failed_stage; /* -1: none */
	int failed_errno;
	int budget_hit;
	double used_pct;
};

static int full_io(int fd, void *buf, size_t len, int is_write)
{
	u8 *p = buf;

	while (len) {
		ssize_t r = is_write ? write(fd, p, len) : read(fd, p, len);

		if (r < 0 && errno == EINTR)
			continue;
		if (r <= 0)
			return -1;
		p += r;
		len -= (size_t)r;
	}
	return 0;
}

static int worker(long n, double budget, int report_fd, int release_fd)
{
	struct report rep = { .requested = n, .failed_stage = -1 };
	struct rawvm *g = calloc((size_t)n, sizeof(*g));
	u32 *ns = calloc((size_t)n * NSTAGES, sizeof(*ns));
	u8 *arena, c;
	int kvm_fd, run_size;

	kvm_fd = open("/dev/kvm", O_RDWR | O_CLOEXEC);
	run_size = kvm_fd < 0 ? -1 : ioctl(kvm_fd, KVM_GET_VCPU_MMAP_SIZE, 0);
	/* One MAP_NORESERVE arena, as kvmlite: only each guest's code page is touched. */
	arena = mmap(NULL, (size_t)n * GUEST_RAM_SIZE, PROT_READ | PROT_WRITE,
		     MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE, -1, 0);
	if (!g || !ns || run_size < 0 || arena == MAP_FAILED) {
		fprintf(stderr, "raw_baseline: setup (/dev/kvm, arena): %s\n", strerror(errno));
		return 1;
	}
	rep.start_ns = now_ns();
	for (long i = 0; i < n; i++) {
		u8 *ram = arena + (size_t)i * GUEST_RAM_SIZE;

		/* Polling meminfo costs ~20 µs; every 256 guests it is noise. */
		if (budget > 0 && i % 256 == 0 && (rep.used_pct = rawvm_used_pct()) >= budget) {
			rep.budget_hit = 1;
			break;
		}
		/* Each VM has a kernel thread: stop while the host still has PIDs
		 * for a shell (kernel.pid_max is 32768 on small hosts). */
		if (i % 256 == 0 && host_pids_left() < 4096) {
			rep.budget_hit = 2;
			break;
		}
		if (image_len)
			memcpy(ram + BOOT_ADDR, image, image_len);
		else
			memcpy(ram + BOOT_ADDR, rawvm_code, sizeof(rawvm_code));
		if (rawvm_create(&g[i], kvm_fd, run_size, ram, GUEST_RAM_SIZE, BOOT_ADDR, NULL, &ns[i * NSTAGES],
				 &rep.failed_stage) < 0) {
			/* ENOMEM, EMFILE, or anything else: stop here, keep the live ones. */
			rep.failed_errno = errno;
			break;
		}
		rep.made = i + 1;
	}
	rep.end_ns = now_ns();
	if (full_io(report_fd, &rep, sizeof(rep), 1) < 0 ||
	    full_io(report_fd, ns, (size_t)rep.made * NSTAGES * sizeof(*ns), 1) < 0)
		return 1;
	close(report_fd);
	/* Hold: EOF on the release pipe means the parent has measured. */
	for (ssize_t r = 1; r > 0 || (r < 0 && errno == EINTR);)
		r = read(release_fd, &c, 1);
	for (long i = 0; i < rep.made; i++)
		rawvm_destroy(&g[i], run_size);
	munmap(arena, (size_t)n * GUEST_RAM_SIZE);
	close(kvm_fd);
	free(g);
	free(ns);
	return 0;
}

static void usage(void)
{
	fprintf(stderr, "usage: raw_baseline [-n guests] [-p processes] [-i IMAGE] [--mem-budget PCT] "
			"[--hold SECONDS] [--json]\n");
	exit(2);
}

int main(int argc, char **argv)
{
	static const struct option opts[] = { { "mem-budget", required_argument, NULL, 'b' },
					      { "hold", required_argument, NULL, 'h' },
					      { "json", no_argument, NULL, 'j' },
					      { 0 } };
	long n = 1000, procs = 1, hard, cap, total = 0, capped = 0;
	double budget = 0, hold = 0, wall, rate, med[NSTAGES], mean[NSTAGES], load;
	int json = 0, opt, release[2], stopped = -1;
	struct report *reps;
	struct hostinfo hi;
	u64 t0 = UINT64_MAX, t1 = 0;
	s64 before[NMI], after[NMI];
	pid_t *pids;
	u32 *ns;
	int *fds;

	while ((opt = getopt_long(argc, argv, "n:p:i:", opts, NULL)) != -1) {
		switch (opt) {
		case 'i': {
			/* A boot sector to run instead of the 4-instruction guest,
			 * to compare with kvmlite on the same guest. */
			FILE *f = fopen(optarg, "rb");

			image_len = f ? fread(image, 1, sizeof(image), f) : 0;
			if (f)
				fclose(f);
			if (image_len != sizeof(image)) {
				fprintf(stderr, "raw_baseline: %s: not a 512-byte boot sector\n", optarg);
				return 2;
			}
			break;
		}
		case 'n':
			n = atol(optarg);
			break;
		case 'p':
			procs = atol(optarg);
			break;
		case 'b':
			budget = atof(optarg);
			break;
		case 'h':
			hold = atof(optarg);
			break;
		case 'j':
			json = 1;
			break;
		default:
			usage();
		}
	}
	if (n < 1 || procs < 1 || procs > n || budget < 0 || budget > 100)
		usage();
	/* Each live guest holds one fd (its vCPU); keep 16 for stdio, /dev/kvm, pipes. */
	hard = nofile_raise();
	cap = hard - 16;
	if ((n + procs - 1) / procs > cap) {
		fprintf(stderr, "raw_baseline: RLIMIT_NOFILE hard limit is %ld: at most %ld guests per process, "
				"capping (use more -p)\n", hard, cap);
		capped = 1;
	}
	hostinfo_read(&hi);
	reps = calloc((size_t)procs, sizeof(*reps));
	pids = calloc((size_t)procs, sizeof(*pids));
	fds = calloc((size_t)procs, sizeof(*fds));
	/* Let the teardown of any earlier run finish first, or it is measured too. */
	meminfo_settle(30);
	load = loadavg_1min();
	if (!reps || !pids || !fds || pipe(release) < 0 || rawvm_meminfo(before) < 0) {
		perror("raw_baseline: setup");
		return 1;
	}
	for (long p = 0; p < procs; p++) {
		long share = n / procs + (p < n % procs);
		int rp[2];

		if (share > cap)
			share = cap;
		if (pipe(rp) < 0 || (pids[p] = fork()) < 0) {
			perror("raw_baseline: fork");
			return 1;
		}
		if (pids[p] == 0) {
			close(rp[0]);
			close(release[1]); /* or the hold would never see EOF */
			for (long q = 0; q < p; q++)
				close(fds[q]);
			_exit(worker(share, budget, rp[1], release[0]));
		}
		close(rp[1]);
		fds[p] = rp[0];
	}
	close(release[0]);

	/* Read every report in turn; a worker blocks on its pipe until then. */
	ns = NULL;
	for (long p = 0; p < procs; p++) {
		u32 *grown;

		if (full_io(fds[p], &reps[p], sizeof(reps[p]), 0) < 0) {
			fprintf(stderr, "raw_baseline: worker %ld died before reporting\n", p);
			reps[p] = (struct report){ .failed_stage = -1 };
			close(fds[p]);
			continue;
		}
		grown = realloc(ns, (size_t)(total + reps[p].made) * NSTAGES * sizeof(*ns));
		if (!grown || full_io(fds[p], grown + total * NSTAGES,
				      (size_t)reps[p].made * NSTAGES * sizeof(*ns), 0) < 0) {
			fprintf(stderr, "raw_baseline: short report from worker %ld\n", p);
			return 1;
		}
		ns = grown;
		total += reps[p].made;
		t0 = reps[p].start_ns < t0 ? reps[p].start_ns : t0;
		t1 = reps[p].end_ns > t1 ? reps[p].end_ns : t1;
		if (reps[p].failed_stage >= 0 || reps[p].budget_hit)
			stopped = (int)p;
		close(fds[p]);
	}
	/* All workers have reported, so all their guests are live now. */
	rawvm_meminfo(after);
	wall = t1 > t0 ? (double)(t1 - t0) / 1e9 : 0;
	rate = wall > 0 ? (double)total / wall : 0;
	for (int s = 0; s < NSTAGES; s++) {
		med[s] = median_us(ns, (size_t)total, NSTAGES, (size_t)s);
		mean[s] = mean_us(ns, (size_t)total, NSTAGES, (size_t)s);
	}
#define PER_GUEST(k) (total ? (double)(after[k] - before[k]) / (double)total : 0)
	if (json) {
		printf("{\"bench\":\"raw_baseline\",\"host\":\"%s\",\"cpu\":\"%s\",\"kernel\":\"%s\","
		       "\"backend\":\"%s\",\"loadavg_before\":%.2f,\"guest_ram_bytes\":%d,\"processes\":%ld,\"requested\":%ld,"
		       "\"created\":%ld,\"nofile_hard\":%ld,\"capped\":%s,\"wall_s\":%.3f,\"rate_per_s\":%.1f,"
		       "\"median_us\":{",
		       hi.host, hi.cpu, hi.kernel, hi.backend, load, GUEST_RAM_SIZE, procs, n, total, hard,
		       capped ? "true" : "false", wall, rate);
		for (int s = 0; s < NSTAGES; s++)
			printf("%s\"%s\":%.1f", s ? "," : "", rawvm_stage_key[s], med[s]);
		printf("},\"mean_us\":{");
		for (int s = 0; s < NSTAGES; s++)
			printf("%s\"%s\":%.1f", s ? "," : "", rawvm_stage_key[s], mean[s]);
		printf("},\"memavailable_kib_per_guest\":%.1f,\"slab_kib_per_guest\":%.1f,\"stopped\":",
		       -PER_GUEST(MI_AVAIL), PER_GUEST(MI_SLAB));
		if (stopped < 0)
			printf("null");
		else if (reps[stopped].budget_hit == 2)
			printf("{\"by\":\"pid_max\",\"made\":%ld}", reps[stopped].made);
		else if (reps[stopped].budget_hit)
			printf("{\"by\":\"mem-budget\",\"used_pct\":%.1f}", reps[stopped].used_pct);
		else
			printf("{\"by\":\"%s\",\"errno\":\"%s\",\"made\":%ld}",
			       rawvm_stage_call[reps[stopped].failed_stage], strerror(reps[stopped].failed_errno),
			       reps[stopped].made);
		printf("}\n");
	} else {
		printf("raw_baseline: host %s, %s, Linux %s, backend %s, load %.2f\n", hi.host, hi.cpu, hi.kernel,
		       hi.backend, load);
		printf("guests created     %ld of %ld (%ld process%s, %d KiB memslot each)\n", total, n, procs,
		       procs > 1 ? "es" : "", GUEST_RAM_SIZE / 1024);
		printf("wall time          %.3f s\n", wall);
		printf("rate               %.0f guests/s to first hlt\n", rate);
		printf("stage, µs          median / mean\n");
		for (int s = 0; s < NSTAGES; s++)
			printf("  %-16s %8.1f / %.1f\n", rawvm_stage_name[s], med[s], mean[s]);
		printf("per live guest     MemAvailable %.1f KiB used, Slab %+.1f KiB\n", -PER_GUEST(MI_AVAIL),
		       PER_GUEST(MI_SLAB));
		if (capped)
			printf("capped             RLIMIT_NOFILE hard limit %ld: %ld guests per process\n", hard, cap);
		for (long p = 0; p < procs; p++) {
			if (reps[p].budget_hit == 2)
				printf("stopped            worker %ld: near kernel.pid_max after %ld guests\n", p,
				       reps[p].made);
			else if (reps[p].budget_hit)
				printf("stopped            worker %ld: host memory %.1f%% >= budget %.1f%% after %ld "
				       "guests\n", p, reps[p].used_pct, budget, reps[p].made);
			else if (reps[p].failed_stage >= 0)
				printf("stopped            worker %ld: %s failed (%s) after %ld guests\n", p,
				       rawvm_stage_call[reps[p].failed_stage], strerror(reps[p].failed_errno),
				       reps[p].made);
		}
	}
	fflush(stdout);
	if (hold > 0) {
		struct timespec ts = { (time_t)hold, (long)((hold - (double)(time_t)hold) * 1e9) };
		struct cpustat a, b;

		/* The host's CPU while these guests sit idle: KVM's own floor,
		 * the baseline for kvmlite's idle figure. */
		cpustat_read(&a);
		while (nanosleep(&ts, &ts) < 0 && errno == EINTR)
			;
		cpustat_read(&b);
		if (json)
			printf("{\"bench\":\"raw_baseline_hold\",\"seconds\":%.1f,\"guests\":%ld,\"host_cpu_pct\":%.2f}\n",
			       hold, total, cpustat_busy_pct(&a, &b));
		else
			printf("held idle          %.0f s: host CPU %.2f%% (all CPUs)\n", hold, cpustat_busy_pct(&a, &b));
		fflush(stdout);
	}
	/* Release the workers; each closes all its fds and exits. */
	close(release[1]);
	for (long p = 0; p < procs; p++)
		waitpid(pids[p], NULL, 0);
	free(ns);
	free(reps);
	free(pids);
	free(fds);
	return 0;
}
