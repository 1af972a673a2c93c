/* qemu_fleet.c - QEMU's side of the density experiments: boots guests one by one; host CPU, memory, startup. */
#define _GNU_SOURCE
#include <dirent.h>
#include <getopt.h>
#include <limits.h>
#include <poll.h>
#include <signal.h>
#include <stdarg.h>
#include <sys/prctl.h>
#include <sys/stat.h>
#include <sys/wait.h>

#include "rawvm.h"

#define BUDGET_PCT   90.0 /* stop at this share of host memory or CPU, as the research did */
#define SAMPLES	     5	  /* samples per ramp step (--samples), of --sample-s each: the error bars */
#define SAMPLES_MAX  60
#define MAX_FAILS    3	  /* boots failing in a row that end the run: the host is not fit */
#define SETTLE_S     3	  /* after the last boot, before --cost reads memory: QEMU's start-up tail */
#define PIDS_RESERVE 4096 /* PIDs left for a shell: each QEMU takes threads, each VM a kernel thread */
#define ERR_TAIL     400  /* bytes of a failed QEMU's stderr shown */

static const char usage_text[] =
	"usage: qemu_fleet MODE... [--guest mvm|tick|PATH] [--max N] [--csv FILE] [--guests-csv FILE] [--json]\n"
	"                  [--idle SECONDS] [--timeout SECONDS] [--cpu-budget PCT] [--samples N] [--sample-s S]\n"
	"Starts QEMU guests (SeaBIOS, -m 2, the boot sector as an IDE disk, snapshot=on) one after another,\n"
	"each once the previous has printed its first serial byte, up to --max (default 100), or until\n"
	"host memory in use or host CPU reaches 90%. Modes, combinable:\n"
	"  --ramp STEPS  at 0 and about STEPS evenly spaced counts, --samples N (default 5, at most 60)\n"
	"                samples of --sample-s S (default 1) seconds of host CPU (all CPUs, /proc/stat) and memory\n"
	"                in use; --csv FILE gets the rows\n"
	"                vmm,guest,count,cpu_mean,cpu_sd,mem_mean,mem_sd,samples (as they are taken)\n"
	"  --cost        with all guests up and idle: memory per VM (kernel: MemAvailable drop, Slab,\n"
	"                PageTables, KernelStack; QEMU: RSS, PSS, anonymous), idle CPU per VM over\n"
	"                --idle SECONDS (default 10), and the least-squares slope of memory vs count\n"
	"  --startup     each guest's time from fork/exec to its first serial byte (p50, p99, max) and\n"
	"                the batch time; QEMU's own stages (SeaBIOS, boot) are not visible from outside\n"
	"--guest: mvm (PIT off, the default) or tick (PIT periodic) from build/guest/, or an image file.\n"
	"--guests-csv FILE: one row per guest started (index, pid, boot time, result).\n"
	"--json: one JSON object on stdout instead of the readable summary.\n"
	"--cpu-budget PCT: the host CPU share (ramp steps) that ends the run, default 90; 0: none, for a\n"
	"host shared with other work, where the CPU rule would measure the others' load.\n"
	"--timeout: seconds a QEMU may take to its first serial byte (default 30); one that does not\n"
	"print is reported with its stderr and the run goes on (3 failures in a row end it).\n"
	"Run from the repository root. SIGINT/SIGTERM end the run: every QEMU is stopped, and the\n"
	"figures taken so far are reported.\n";

enum gstate { G_BOOTING, G_UP, G_FAILED, G_ENDED };

/* One QEMU process and the guest in it. */
struct guest {
	pid_t pid;
	bool running;			 /* not reaped yet */
	int out_fd;			 /* read end of its COM1 pipe (QEMU's stdout), -1 once closed */
	int err_fd;			 /* memfd that is QEMU's stderr: its tail explains a failure */
	u64 launch_ns, first_ns, end_ns; /* end_ns: when it failed (timeout or exit) */
	enum gstate state;
	u64 ticks0; /* CPU ticks at the start of the idle window */
};

struct ramp_row {
	int count, samples;
	double cpu_mean, cpu_sd, mem_mean, mem_sd;
};

enum stop_reason { STOP_MAX, STOP_MEM, STOP_CPU, STOP_PIDS, STOP_FAILS, STOP_SIGNAL };
static const char *const stop_text[] = { "reached --max",
					 "host memory in use reached 90%",
					 "host CPU reached --cpu-budget",
					 "kernel.pid_max nearly reached",
					 "3 boots in a row failed",
					 "interrupted" };

struct fleet {
	const char *qemu, *image, *name; /* name: the guest column of the CSV */
	int max, samples, tty, stdin_fd; /* stdin_fd: a pipe no one writes (its write end stays open): every COM1 input */
	double timeout_s, sample_s;
	struct guest *g;
	struct pollfd *pfd;
	int n, cap, up, failed, lost, fails_in_row;
	u64 t0;
	FILE *csv, *gcsv;
	struct hostinfo hi;
	int ncpu;
	u64 mem_total_kib;
	char qemu_version[64];
	/* memory in use after each boot: the points of the slope */
	double *fit_x, *fit_y;
	int nfit;
};

static volatile sig_atomic_t stop_sig;
static struct fleet *exit_fleet; /* for the atexit handler: no QEMU outlives an exit() */

static void on_signal(int sig)
{
	/* A second signal while stopping: leave now; PR_SET_PDEATHSIG takes the QEMUs down. */
	if (stop_sig)
		_exit(128 + sig);
	stop_sig = sig;
}

/* A one-line error, then exit (the atexit handler stops any QEMU started). */
static void __attribute__((format(printf, 2, 3))) die(int err, const char *fmt, ...)
{
	va_list ap;

	fprintf(stderr, "qemu_fleet: ");
	va_start(ap, fmt);
	vfprintf(stderr, fmt, ap);
	va_end(ap);
	if (err)
		fprintf(stderr, ": %s", strerror(err));
	fprintf(stderr, "\n");
	exit(1);
}

/* Square root by Newton's method: the bench rule links no libm. */
static double num_sqrt(double x)
{
	double r = x > 1 ? x : 1;

	if (x <= 0)
		return 0;
	for (int i = 0; i < 64; i++)
		r = (r + x / r) / 2;
	return r;
}

static void stats_mean_sd(const double *v, int n, double *mean, double *sd)
{
	double s = 0, q = 0;

	for (int i = 0; i < n; i++)
		s += v[i];
	*mean = n ? s / n : 0;
	for (int i = 0; i < n; i++)
		q += (v[i] - *mean) * (v[i] - *mean);
	*sd = n > 1 ? num_sqrt(q / (n - 1)) : 0; /* sample sd: few samples per step */
}

static int double_cmp(const void *a, const void *b)
{
	double x = *(const double *)a, y = *(const double *)b;

	return x < y ? -1 : x > y;
}

/* Nearest-rank percentile of n sorted values. */
static double stats_pct(const double *sorted, int n, int pct)
{
	int k = (pct * n + 99) / 100;

	return n ? sorted[k > 0 ? k - 1 : 0] : 0;
}

/* Least-squares slope of y over x. */
static double stats_slope(const double *x, const double *y, int n)
{
	double sx = 0, sy = 0, sxy = 0, sxx = 0, d;

	for (int i = 0; i < n; i++) {
		sx += x[i];
		sy += y[i];
		sxy += x[i] * y[i];
		sxx += x[i] * x[i];
	}
	d = n * sxx - sx * sx;
	return d > 0 ? (n * sxy - sx * sy) / d : 0;
}

/* smaps_rollup of one process, KiB: PSS shares its libraries' pages among the QEMUs. */
struct procmem {
	u64 rss, pss, anon, threads;
};

static int procmem_read(pid_t pid, struct procmem *m)
{
	char path[64], line[256], key[64];
	unsigned long long v;
	FILE *f;

	memset(m, 0, sizeof(*m));
	snprintf(path, sizeof(path), "/proc/%d/smaps_rollup", (int)pid);
	if (!(f = fopen(path, "r")))
		return -1;
	while (fgets(line, sizeof(line), f))
		if (sscanf(line, "%63[^:]: %llu", key, &v) == 2) {
			if (!strcmp(key, "Rss"))
				m->rss = v;
			else if (!strcmp(key, "Pss"))
				m->pss = v;
			else if (!strcmp(key, "Anonymous"))
				m->anon = v;
		}
	fclose(f);
	snprintf(path, sizeof(path), "/proc/%d/status", (int)pid);
	if ((f = fopen(path, "r"))) {
		while (fgets(line, sizeof(line), f))
			if (sscanf(line, "Threads: %llu", &v) == 1)
				m->threads = v;
		fclose(f);
	}
	return 0;
}

static double elapsed_s(const struct fleet *f)
{
	return (double)(now_ns() - f->t0) / 1e9;
}

/* The progress line: only on a terminal; logs get the summary. */
static void fleet_progress(const struct fleet *f, const char *what)
{
	if (!f->tty)
		return;
	fprintf(stderr, "\r\033[K[qemu %s] %d/%d up, %.0f s, memory %.1f%%: %s", f->name, f->up, f->max, elapsed_s(f),
		rawvm_used_pct(), what);
}

static void fleet_progress_end(const struct fleet *f)
{
	if (f->tty)
		fprintf(stderr, "\r\033[K");
}

/* A QEMU's own words on why it failed: the last lines of its stderr. */
static void guest_report(struct fleet *f, int i, const char *why)
{
	struct guest *g = &f->g[i];
	char buf[ERR_TAIL + 1], *line, *save;
	struct stat st;
	ssize_t r = 0;

	fleet_progress_end(f);
	fprintf(stderr, "qemu_fleet: guest %d (pid %d): %s\n", i, (int)g->pid, why);
	if (g->err_fd >= 0 && fstat(g->err_fd, &st) == 0) {
		off_t from = st.st_size > ERR_TAIL ? st.st_size - ERR_TAIL : 0;

		r = pread(g->err_fd, buf, ERR_TAIL, from);
	}
	buf[r > 0 ? r : 0] = 0;
	for (line = strtok_r(buf, "\n", &save); line; line = strtok_r(NULL, "\n", &save))
		fprintf(stderr, "  stderr: %s\n", line);
	if (r <= 0)
		fprintf(stderr, "  stderr: (empty)\n");
}

static void guest_close(struct guest *g)
{
	if (g->out_fd >= 0)
		close(g->out_fd);
	if (g->err_fd >= 0)
		close(g->err_fd);
	g->out_fd = g->err_fd = -1;
}

/* Kill (if still running) and reap one QEMU; returns its wait status. */
static int guest_reap(struct guest *g, int sig)
{
	int status = 0;

	if (!g->running)
		return 0;
	if (sig)
		kill(g->pid, sig);
	while (waitpid(g->pid, &status, 0) < 0 && errno == EINTR)
		;
	g->running = false;
	return status;
}

static void status_text(int status, char *buf, size_t len)
{
	if (WIFEXITED(status))
		snprintf(buf, len, "exit status %d", WEXITSTATUS(status));
	else if (WIFSIGNALED(status))
		snprintf(buf, len, "killed by signal %d", WTERMSIG(status));
	else
		snprintf(buf, len, "status %#x", status);
}

static void fleet_guest_row(struct fleet *f, int i, const char *result)
{
	struct guest *g = &f->g[i];

	if (!f->gcsv)
		return;
	fprintf(f->gcsv, "qemu,%s,%d,%d,%.3f,", f->name, i, (int)g->pid, (double)(g->launch_ns - f->t0) / 1e9);
	if (g->first_ns)
		fprintf(f->gcsv, "%.1f", (double)(g->first_ns - g->launch_ns) / 1e6);
	fprintf(f->gcsv, ",%s\n", result);
	fflush(f->gcsv);
}

/* Start guest i: QEMU with COM1 on a pipe we read, stderr in a memfd. */
static int fleet_launch(struct fleet *f, int i)
{
	struct guest *g = &f->g[i];
	char drive[PATH_MAX * 2 + 64], name[64], *d = drive;
	int out[2];
	pid_t parent = getpid();

	/* QEMU option values escape a comma by doubling it. */
	d += sprintf(d, "file=");
	for (const char *s = f->image; *s && d < drive + sizeof(drive) - 48; s++) {
		*d++ = *s;
		if (*s == ',')
			*d++ = ',';
	}
	/* An IDE disk, not a floppy: SeaBIOS's floppy driver misses its IRQ 6 on
	 * this nested host when it is busy, and the boot stalls (as the tests
	 * found: tests/diff/run.sh). snapshot=on writes to a temporary overlay,
	 * so the shared image is opened read-only and not locked. */
	sprintf(d, ",format=raw,if=ide,snapshot=on");
	/* The name lets `pgrep -af qemu_fleet` find what a run left (nothing, we hope). */
	snprintf(name, sizeof(name), "qemu_fleet-%d-%d", (int)parent, i);
	/* clang-format off */
	char *argv[] = { (char *)f->qemu, "-accel", "kvm", "-machine", "pc", /* SeaBIOS */
			 "-nodefaults", "-no-user-config", "-display", "none", "-monitor", "none",
			 "-m", "2", "-serial", "stdio", "-drive", drive, "-name", name, NULL };
	/* clang-format on */

	*g = (struct guest){ .out_fd = -1, .err_fd = memfd_create("qemu-stderr", MFD_CLOEXEC) };
	if (g->err_fd < 0 || pipe2(out, O_CLOEXEC) < 0)
		die(errno, "guest %d: memfd or pipe", i);
	g->launch_ns = now_ns();
	g->pid = fork();
	if (g->pid < 0)
		die(errno, "fork");
	g->running = g->pid > 0;
	if (g->pid == 0) {
		/* Dies with this program however it ends, even by SIGKILL or a crash. */
		prctl(PR_SET_PDEATHSIG, SIGKILL);
		if (getppid() != parent)
			_exit(127); /* the parent was gone before the prctl */
		if (dup2(f->stdin_fd, 0) < 0 || dup2(out[1], 1) < 0 || dup2(g->err_fd, 2) < 0)
			_exit(127);
		execvp(argv[0], argv);
		dprintf(2, "exec %s: %s\n", argv[0], strerror(errno));
		_exit(127);
	}
	close(out[1]);
	g->out_fd = out[0];
	fcntl(g->out_fd, F_SETFL, O_NONBLOCK);
	f->n = i + 1;
	return 0;
}

/*
 * Wait until deadline, draining every guest's serial output (a full pipe
 * would stall its QEMU), noting first bytes and QEMUs that ended. Returns
 * early when guest `watch` printed or ended, or on SIGINT/SIGTERM.
 */
static void fleet_pump(struct fleet *f, u64 deadline, int watch)
{
	char buf[4096], why[96];
	int np, status;

	while (!stop_sig) {
		u64 now = now_ns();
		int ms;

		if (watch >= 0 && f->g[watch].state != G_BOOTING)
			return;
		if (now >= deadline)
			return;
		np = 0;
		for (int i = 0; i < f->n; i++)
			if (f->g[i].out_fd >= 0)
				f->pfd[np++] = (struct pollfd){ .fd = f->g[i].out_fd, .events = POLLIN };
		ms = (int)((deadline - now + 999999) / 1000000);
		if (poll(f->pfd, (nfds_t)np, ms) <= 0)
			continue; /* timeout, or EINTR from a signal: the loop checks both */
		now = now_ns();
		for (int i = 0, k = 0; i < f->n; i++) {
			struct guest *g = &f->g[i];
			ssize_t r;

			if (g->out_fd < 0)
				continue;
			if (!(f->pfd[k++].revents & (POLLIN | POLLHUP | POLLERR)))
				continue;
			r = read(g->out_fd, buf, sizeof(buf));
			if (r > 0 && !g->first_ns) {
				g->first_ns = now;
				g->state = G_UP;
				f->up++;
				fleet_guest_row(f, i, "up");
			}
			if (r > 0 || (r < 0 && (errno == EAGAIN || errno == EINTR)))
				continue;
			/* EOF (or a broken pipe): QEMU closed its stdout, so it has ended. */
			status = guest_reap(g, SIGKILL);
			status_text(status, why, sizeof(why));
			if (g->state == G_BOOTING) {
				g->state = G_FAILED;
				g->end_ns = now;
				f->failed++;
				snprintf(buf, sizeof(buf), "QEMU ended before its first serial byte (%s)", why);
				fleet_guest_row(f, i, "failed: ended");
			} else {
				g->state = G_ENDED;
				f->up--;
				f->lost++;
				snprintf(buf, sizeof(buf), "QEMU ended while the guest was up (%s)", why);
				fleet_guest_row(f, i, "ended");
			}
			guest_report(f, i, buf);
			guest_close(g);
		}
	}
}

/* Stop every QEMU still running: SIGTERM, up to 5 s to exit, then SIGKILL. */
static void fleet_stop(struct fleet *f)
{
	u64 deadline = now_ns() + 5000000000ull;
	int left;

	for (int i = 0; i < f->n; i++)
		if (f->g[i].running)
			kill(f->g[i].pid, SIGTERM);
	do {
		left = 0;
		for (int i = 0; i < f->n; i++)
			if (f->g[i].running) {
				if (waitpid(f->g[i].pid, NULL, WNOHANG) == f->g[i].pid)
					f->g[i].running = false;
				else
					left++;
			}
		if (left)
			usleep(20000);
	} while (left && now_ns() < deadline);
	for (int i = 0; i < f->n; i++) {
		guest_reap(&f->g[i], SIGKILL);
		guest_close(&f->g[i]);
	}
}

static void fleet_atexit(void)
{
	if (exit_fleet)
		fleet_stop(exit_fleet);
}

/* Boot one more guest; 0 when it printed, -1 when it failed (reported). */
static int fleet_boot_one(struct fleet *f)
{
	int i = f->n;
	struct meminfo m;
	char why[96];

	if (f->n == f->cap) {
		f->cap = f->cap ? f->cap * 2 : 64;
		f->g = realloc(f->g, (size_t)f->cap * sizeof(*f->g));
		f->pfd = realloc(f->pfd, (size_t)f->cap * sizeof(*f->pfd));
		if (!f->g || !f->pfd)
			die(0, "out of memory");
	}
	fleet_launch(f, i);
	fleet_progress(f, "booting");
	fleet_pump(f, f->g[i].launch_ns + (u64)(f->timeout_s * 1e9), i);
	if (f->g[i].state == G_UP) {
		f->fails_in_row = 0;
		if (f->nfit <= f->max && meminfo_read(&m) == 0) {
			f->fit_x[f->nfit] = f->up;
			f->fit_y[f->nfit++] = (double)(m.total_kib - m.available_kib);
		}
		return 0;
	}
	if (f->g[i].state == G_BOOTING) {
		if (stop_sig)
			return -1; /* interrupted mid-boot: not the guest's fault */
		/* Its CPU time tells a slow boot (SeaBIOS emulated on a busy host) from a stall
		 * (SeaBIOS halting for good after "Boot failed: could not read the boot disk"). */
		snprintf(why, sizeof(why), "no serial output within %.0f s (QEMU used %.1f s of CPU)", f->timeout_s,
			 (double)proc_cpu_ticks(f->g[i].pid) / (double)sysconf(_SC_CLK_TCK));
		guest_report(f, i, why);
		guest_reap(&f->g[i], SIGKILL);
		guest_close(&f->g[i]);
		f->g[i].state = G_FAILED;
		f->g[i].end_ns = now_ns();
		f->failed++;
		fleet_guest_row(f, i, "failed: timeout");
	}
	f->fails_in_row++;
	return -1;
}

/* One ramp step: --samples samples of --sample-s seconds of host CPU and memory in use,
 * appended to rows (and the CSV) if at least one sample was taken. */
static void fleet_step(struct fleet *f, struct ramp_row *rows, int *nrows)
{
	double cpu[SAMPLES_MAX], mem[SAMPLES_MAX];
	struct ramp_row row = { .count = f->up };
	char what[64];

	for (int s = 0; s < f->samples && !stop_sig; s++) {
		struct cpustat a, b;

		snprintf(what, sizeof(what), "sampling %d guests, %d/%d", f->up, s + 1, f->samples);
		fleet_progress(f, what);
		cpustat_read(&a);
		fleet_pump(f, now_ns() + (u64)(f->sample_s * 1e9), -1);
		if (stop_sig)
			break; /* a partial sample is no sample */
		cpustat_read(&b);
		cpu[s] = cpustat_busy_pct(&a, &b);
		mem[s] = rawvm_used_pct();
		row.samples = s + 1;
	}
	stats_mean_sd(cpu, row.samples, &row.cpu_mean, &row.cpu_sd);
	stats_mean_sd(mem, row.samples, &row.mem_mean, &row.mem_sd);
	if (!row.samples)
		return;
	rows[(*nrows)++] = row;
	if (f->csv) {
		fprintf(f->csv, "qemu,%s,%d,%.2f,%.2f,%.2f,%.2f,%d\n", f->name, row.count, row.cpu_mean, row.cpu_sd,
			row.mem_mean, row.mem_sd, row.samples);
		fflush(f->csv); /* an interrupted run keeps every row taken */
	}
}

/* What --cost measures once all guests are up; the per-VM figures in KiB. */
struct cost {
	int guests, measured; /* guests up; QEMUs read both before and after the idle window */
	s64 before[NMI], after[NMI];
	struct procmem sum, min, max;
	int nproc;
	double avail_kib, anon_kib, kernel_kib, slab_kib, ptables_kib, kstack_kib, anon_pages_kib;
	double rss_kib, pss_kib, threads;
	double slope_kib, window_s, host_cpu_pct, qemu_cpu_pct, qemu_ms_per_vm_s;
	double pit_ms_per_vm_s; /* the VMs' in-kernel PIT threads (kvm-pit/PID), not in QEMU's own */
	/* The noise of the host-wide figures: how far MemAvailable (KiB, host-wide) and the host's
	 * CPU (points, over the window's quarters) moved while the VMs stood still. */
	double mem_noise_kib, cpu_noise_pct;
};

static void cost_memory(struct fleet *f, struct cost *c)
{
	double n;

	rawvm_meminfo(c->after);
	c->guests = f->up;
	for (int i = 0; i < f->n; i++) {
		struct procmem m;

		if (f->g[i].state != G_UP || procmem_read(f->g[i].pid, &m) < 0)
			continue;
		if (!c->nproc++)
			c->min = c->max = m;
		c->sum.rss += m.rss, c->sum.pss += m.pss, c->sum.anon += m.anon, c->sum.threads += m.threads;
#define MINMAX(k) (c->min.k = m.k < c->min.k ? m.k : c->min.k, c->max.k = m.k > c->max.k ? m.k : c->max.k)
		MINMAX(rss), MINMAX(pss), MINMAX(anon), MINMAX(threads);
#undef MINMAX
	}
	n = c->guests ? c->guests : 1;
	c->avail_kib = (double)(c->before[MI_AVAIL] - c->after[MI_AVAIL]) / n;
	c->slab_kib = (double)(c->after[MI_SLAB] - c->before[MI_SLAB]) / n;
	c->ptables_kib = (double)(c->after[MI_PTABLES] - c->before[MI_PTABLES]) / n;
	c->kstack_kib = (double)(c->after[MI_KSTACK] - c->before[MI_KSTACK]) / n;
	c->anon_pages_kib = (double)(c->after[MI_ANON] - c->before[MI_ANON]) / n; /* checks QEMU's anonymous */
	if (c->nproc) {
		c->rss_kib = (double)c->sum.rss / c->nproc;
		c->pss_kib = (double)c->sum.pss / c->nproc;
		c->anon_kib = (double)c->sum.anon / c->nproc;
		c->threads = (double)c->sum.threads / c->nproc;
	}
	/* QEMU's shared pages (binary, libraries) are page cache, which MemAvailable
	 * counts as available: what the host loses per VM beyond QEMU's anonymous
	 * memory is the kernel's (KVM, page tables, stacks, the VM's kernel threads). */
	c->kernel_kib = c->avail_kib - c->anon_kib;
	c->slope_kib = stats_slope(f->fit_x, f->fit_y, f->nfit);
}

/*
 * The idle window, in quarters: at each quarter's end MemAvailable and the
 * host's CPU are read, and how far they moved while the VMs stood still is
 * the noise of the host-wide figures. -1 if interrupted.
 */
static int cost_window(struct fleet *f, struct cost *c, const struct cpustat *start, u64 t, double window_s)
{
	struct cpustat q0 = *start, q1;
	s64 mi[NMI], lo = c->after[MI_AVAIL], hi = lo;
	double clo = 1e9, chi = -1, pct;

	for (int k = 1; k <= 4; k++) {
		fleet_pump(f, t + (u64)(window_s * 1e9 * k / 4), -1);
		if (stop_sig)
			return -1;
		rawvm_meminfo(mi);
		cpustat_read(&q1);
		pct = cpustat_busy_pct(&q0, &q1);
		q0 = q1;
		lo = mi[MI_AVAIL] < lo ? mi[MI_AVAIL] : lo;
		hi = mi[MI_AVAIL] > hi ? mi[MI_AVAIL] : hi;
		clo = pct < clo ? pct : clo;
		chi = pct > chi ? pct : chi;
	}
	c->mem_noise_kib = (double)(hi - lo);
	c->cpu_noise_pct = chi - clo;
	return 0;
}

/*
 * CPU time, ns, of the kernel threads "kvm-pit/PID" of the QEMUs that are up:
 * the in-kernel PIT (KVM_CREATE_PIT2) injects a guest's ticks from its own
 * kthread, whose CPU the QEMU process does not hold (kvmlite's PIT is in its
 * workers). A few µs a tick: /proc/PID/schedstat's run time (ns), not the
 * 10 ms ticks of /proc/PID/stat, which would round it away.
 */
static u64 pit_ns(const struct fleet *f)
{
	char path[300];
	struct dirent *e;
	unsigned long long run;
	u64 ns = 0;
	DIR *d = opendir("/proc");
	FILE *c;
	int pid, match;

	while (d && (e = readdir(d))) {
		if (e->d_name[0] < '1' || e->d_name[0] > '9')
			continue;
		snprintf(path, sizeof(path), "/proc/%s/comm", e->d_name);
		if (!(c = fopen(path, "r")))
			continue;
		match = 0;
		if (fscanf(c, "kvm-pit/%d", &pid) == 1)
			for (int i = 0; i < f->n; i++)
				match |= f->g[i].state == G_UP && f->g[i].pid == pid;
		fclose(c);
		snprintf(path, sizeof(path), "/proc/%s/schedstat", e->d_name);
		if (match && (c = fopen(path, "r"))) {
			if (fscanf(c, "%llu", &run) == 1)
				ns += run;
			fclose(c);
		}
	}
	if (d)
		closedir(d);
	return ns;
}

static void cost_measure(struct fleet *f, struct cost *c, double window_s)
{
	u64 pit0, pit1;
	struct cpustat a, b;
	u64 ticks = 0, t;

	/* Let the last QEMU finish starting: its memory grows for a moment after the first byte. */
	fleet_progress(f, "settling");
	fleet_pump(f, now_ns() + SETTLE_S * 1000000000ull, -1);
	if (stop_sig)
		return;
	cost_memory(f, c);
	fleet_progress(f, "idle window");
	for (int i = 0; i < f->n; i++)
		if (f->g[i].state == G_UP)
			f->g[i].ticks0 = proc_cpu_ticks(f->g[i].pid);
	pit0 = pit_ns(f);
	cpustat_read(&a);
	t = now_ns();
	if (cost_window(f, c, &a, t, window_s) < 0)
		return;
	cpustat_read(&b);
	c->window_s = (double)(now_ns() - t) / 1e9;
	c->host_cpu_pct = cpustat_busy_pct(&a, &b);
	/* A QEMU's utime+stime holds its vCPU thread's time in KVM_RUN; not the
	 * kernel threads of its VM (in-kernel PIT), which pit_ns() reads. */
	pit1 = pit_ns(f); /* less than pit0 if a QEMU ended in the window */
	for (int i = 0; i < f->n; i++)
		if (f->g[i].state == G_UP) {
			ticks += proc_cpu_ticks(f->g[i].pid) - f->g[i].ticks0;
			c->measured++;
		}
	c->qemu_cpu_pct = 100.0 * (double)ticks / (double)sysconf(_SC_CLK_TCK) / c->window_s / f->ncpu;
	if (c->measured) {
		c->qemu_ms_per_vm_s = c->qemu_cpu_pct / 100 * f->ncpu * 1000 / c->measured;
		c->pit_ms_per_vm_s = pit1 > pit0 ? (double)(pit1 - pit0) / 1e6 / c->window_s / c->measured : 0;
	}
}

/* A string for JSON: the CPU model and paths are the only free text. */
static void json_str(const char *s)
{
	putchar('"');
	for (; *s; s++) {
		if (*s == '"' || *s == '\\')
			printf("\\%c", *s);
		else if ((unsigned char)*s < 0x20)
			printf("\\u%04x", *s);
		else
			putchar(*s);
	}
	putchar('"');
}

/* Where execvp will find QEMU, so that its absence is one clear line, not 100 failed boots. */
static const char *path_find(const char *name)
{
	static char buf[PATH_MAX];
	const char *p = getenv("PATH");

	if (!p)
		p = "/usr/bin:/bin";
	while (*p) {
		size_t len = strcspn(p, ":");

		snprintf(buf, sizeof(buf), "%.*s/%s", (int)len, p, name);
		if (access(buf, X_OK) == 0)
			return buf;
		p += len + (p[len] == ':');
	}
	return NULL;
}

static void host_check(struct fleet *f)
{
	char line[256];
	FILE *p;
	int fd = open("/dev/kvm", O_RDWR | O_CLOEXEC);

	if (fd < 0)
		die(errno, "/dev/kvm (QEMU runs its guests with -accel kvm)");
	close(fd);
	if (!path_find(f->qemu))
		die(0, "%s not found in PATH (Debian: apt-get install qemu-system-x86)", f->qemu);
	if (access(f->image, R_OK) < 0)
		die(errno, "%s (build the guests with `make all`; run from the repository root)", f->image);
	snprintf(f->qemu_version, sizeof(f->qemu_version), "?");
	snprintf(line, sizeof(line), "%s --version 2>/dev/null", f->qemu);
	if ((p = popen(line, "r"))) {
		if (fgets(line, sizeof(line), p) && strstr(line, "version "))
			sscanf(strstr(line, "version ") + 8, "%63s", f->qemu_version);
		pclose(p);
	}
}

static const char *guest_image(const char *g, char *name, size_t len)
{
	static char path[PATH_MAX];
	const char *base;

	if (!strcmp(g, "mvm") || !strcmp(g, "tick")) {
		snprintf(name, len, "%s", g);
		snprintf(path, sizeof(path), "build/guest/%s.img", g);
		return path;
	}
	/* A path: the guest column is its file name without .img. */
	base = strrchr(g, '/') ? strrchr(g, '/') + 1 : g;
	snprintf(name, len, "%.*s", (int)strcspn(base, "."), base);
	return g;
}

static void usage(void)
{
	fputs(usage_text, stderr);
	exit(2);
}

/* What a run was asked for, and what it found. */
struct run {
	int steps, nsteps, *step_at; /* --ramp: the counts at which to sample */
	int do_cost, do_startup, json, nrows;
	double idle_s, cpu_budget, load;
	struct ramp_row *rows;
	struct cost cost;
	enum stop_reason stop;
	char host_line[1536];
};

/* Boot times (fork/exec to first serial byte) of the guests that printed, s. */
struct startup {
	int n;
	double p50, p99, max, mean, sd, batch_s;
};

static void startup_summarize(const struct fleet *f, struct startup *s)
{
	double *v = calloc((size_t)f->n + 1, sizeof(double));

	memset(s, 0, sizeof(*s));
	if (!v)
		return;
	for (int i = 0; i < f->n; i++) {
		const struct guest *g = &f->g[i];
		u64 end = g->first_ns ? g->first_ns : g->end_ns;

		if (g->first_ns)
			v[s->n++] = (double)(g->first_ns - g->launch_ns) / 1e9;
		/* One after another: the batch is the sum of every boot, failed ones
		 * included, without the pauses the ramp makes to sample. */
		if (end)
			s->batch_s += (double)(end - g->launch_ns) / 1e9;
	}
	qsort(v, (size_t)s->n, sizeof(double), double_cmp);
	s->p50 = stats_pct(v, s->n, 50);
	s->p99 = stats_pct(v, s->n, 99);
	s->max = s->n ? v[s->n - 1] : 0;
	stats_mean_sd(v, s->n, &s->mean, &s->sd);
	free(v);
}

/* Boot one guest at a time (QEMU boots started together stall here) until
 * --max or a limit; sample the ramp steps on the way; then measure --cost. */
static void run_fleet(struct fleet *f, struct run *r)
{
	int next = 0;

	if (r->steps)
		fleet_step(f, r->rows, &r->nrows); /* count 0: the host without guests */
	r->stop = STOP_MAX;
	while (f->up < f->max) {
		if (stop_sig)
			break;
		if (rawvm_used_pct() >= BUDGET_PCT) {
			r->stop = STOP_MEM;
			break;
		}
		if (host_pids_left() < PIDS_RESERVE) {
			r->stop = STOP_PIDS;
			break;
		}
		if (fleet_boot_one(f) < 0) {
			if (f->fails_in_row < MAX_FAILS)
				continue;
			r->stop = STOP_FAILS;
			break;
		}
		fleet_progress(f, "up");
		if (next < r->nsteps && f->up >= r->step_at[next]) {
			while (next < r->nsteps && r->step_at[next] <= f->up)
				next++;
			fleet_step(f, r->rows, &r->nrows);
			if (r->nrows && r->rows[r->nrows - 1].cpu_mean >= r->cpu_budget) {
				r->stop = STOP_CPU;
				break;
			}
		}
	}
	/* Stopped early by a limit: the last count is a step too, the end of the curve. */
	if (r->steps && !stop_sig && f->up > 0 && (!r->nrows || r->rows[r->nrows - 1].count != f->up))
		fleet_step(f, r->rows, &r->nrows);
	if (r->do_cost && !stop_sig && f->up > 0)
		cost_measure(f, &r->cost, r->idle_s);
	if (stop_sig)
		r->stop = STOP_SIGNAL;
}

static void report_json(const struct fleet *f, const struct run *r, const struct startup *s)
{
	const struct cost *c = &r->cost;

	printf("{\"bench\":\"qemu_fleet\",\"vmm\":\"qemu\",\"qemu_version\":");
	json_str(f->qemu_version);
	printf(",\"guest\":");
	json_str(f->name);
	printf(",\"image\":");
	json_str(f->image);
	printf(",\"host\":");
	json_str(f->hi.host);
	printf(",\"cpu\":");
	json_str(f->hi.cpu);
	printf(",\"cpus\":%d,\"mem_total_kib\":%llu,\"kernel\":", f->ncpu, (unsigned long long)f->mem_total_kib);
	json_str(f->hi.kernel);
	printf(",\"backend\":");
	json_str(f->hi.backend);
	printf(",\"loadavg_before\":%.2f,\"max\":%d,\"launched\":%d,\"booted\":%d,\"failed\":%d,\"lost\":%d,"
	       "\"stopped\":",
	       r->load, f->max, f->n, s->n, f->failed, f->lost);
	json_str(stop_text[r->stop]);
	if (r->do_startup)
		printf(",\"startup\":{\"measure\":\"fork/exec to first serial byte\",\"guests\":%d,\"p50_s\":%.3f,"
		       "\"p99_s\":%.3f,\"max_s\":%.3f,\"mean_s\":%.3f,\"sd_s\":%.3f,\"batch_s\":%.3f,\"per_s\":%.3f}",
		       s->n, s->p50, s->p99, s->max, s->mean, s->sd, s->batch_s,
		       s->batch_s > 0 ? s->n / s->batch_s : 0);
	if (r->steps) {
		printf(",\"ramp\":[");
		for (int i = 0; i < r->nrows; i++)
			printf("%s{\"count\":%d,\"cpu_mean\":%.2f,\"cpu_sd\":%.2f,\"mem_mean\":%.2f,\"mem_sd\":%.2f,"
			       "\"samples\":%d}",
			       i ? "," : "", r->rows[i].count, r->rows[i].cpu_mean, r->rows[i].cpu_sd,
			       r->rows[i].mem_mean, r->rows[i].mem_sd, r->rows[i].samples);
		printf("]");
	}
	if (r->do_cost && c->measured)
		printf(",\"cost\":{\"guests\":%d,\"memavailable_drop_kib_per_vm\":%.1f,\"kernel_kib_per_vm\":%.1f,"
		       "\"slab_kib_per_vm\":%.1f,\"page_tables_kib_per_vm\":%.1f,\"kernel_stack_kib_per_vm\":%.1f,"
		       "\"anon_pages_kib_per_vm\":%.1f,"
		       "\"qemu_rss_kib\":%.1f,\"qemu_pss_kib\":%.1f,\"qemu_anon_kib\":%.1f,\"qemu_threads\":%.1f,"
		       "\"slope_kib_per_vm\":%.1f,\"slope_points\":%d,\"idle_s\":%.1f,\"host_cpu_pct\":%.3f,"
		       "\"qemu_cpu_pct\":%.3f,\"qemu_cpu_ms_per_vm_per_s\":%.3f,\"pit_cpu_ms_per_vm_per_s\":%.3f,"
		       "\"mem_noise_kib\":%.0f,\"cpu_noise_pct\":%.2f}",
		       c->guests, c->avail_kib, c->kernel_kib, c->slab_kib, c->ptables_kib, c->kstack_kib,
		       c->anon_pages_kib, c->rss_kib, c->pss_kib, c->anon_kib, c->threads, c->slope_kib, f->nfit,
		       c->window_s, c->host_cpu_pct, c->qemu_cpu_pct, c->qemu_ms_per_vm_s, c->pit_ms_per_vm_s,
		       c->mem_noise_kib, c->cpu_noise_pct);
	printf("}\n");
}

/* A host-wide memory figure per VM: below the host's own movement (noise, KiB host-wide), or
 * negative, it is not the VMs' and is said to be below noise. */
static const char *host_kib(char *buf, size_t len, double per_vm, int n, double noise)
{
	if (per_vm < 0 || per_vm * n <= noise)
		snprintf(buf, len, "below noise (±%.0f KiB per VM)", noise / (n ? n : 1));
	else
		snprintf(buf, len, "%.0f KiB", per_vm);
	return buf;
}

static void report_text(const struct fleet *f, const struct run *r, const struct startup *s, const char *csv)
{
	const struct cost *c = &r->cost;

	printf("qemu_fleet: QEMU %s, guest %s (%s), SeaBIOS, -m 2, started one at a time\n", f->qemu_version, f->name,
	       f->image);
	printf("host: %s, load %.2f at start\n", r->host_line, r->load);
	printf("guests: %d booted of %d wanted (%d launched, %d failed, %d ended on their own); stopped: %s\n", s->n,
	       f->max, f->n, f->failed, f->lost, stop_text[r->stop]);
	if (r->do_startup && s->n)
		printf("startup, fork/exec to first serial byte (QEMU's own stages are not visible from outside):\n"
		       "  per guest   p50 %.2f s, p99 %.2f s, max %.2f s, mean %.2f s (sd %.2f)\n"
		       "  batch       %.1f s for %d guests booted one after another (%.2f guests/s)%s\n",
		       s->p50, s->p99, s->max, s->mean, s->sd, s->batch_s, s->n, s->batch_s > 0 ? s->n / s->batch_s : 0,
		       f->failed ? ", failed boots included" : "");
	if (r->steps) {
		printf("ramp: host CPU (all %d CPUs) and memory in use, mean ± sd of %d samples of %g s\n", f->ncpu,
		       f->samples, f->sample_s);
		printf("  %6s  %16s  %16s\n", "guests", "CPU %", "memory %");
		for (int i = 0; i < r->nrows; i++)
			printf("  %6d  %7.2f ± %-6.2f  %7.2f ± %-6.2f%s\n", r->rows[i].count, r->rows[i].cpu_mean,
			       r->rows[i].cpu_sd, r->rows[i].mem_mean, r->rows[i].mem_sd,
			       r->rows[i].samples < f->samples ? "  (interrupted)" : "");
		if (csv)
			printf("  rows in %s\n", csv);
	}
	if (r->do_cost && c->measured) {
		printf("cost per VM, %d guests up and idle:\n", c->guests);
		char drop[64], kern[64];

		printf("  memory         MemAvailable drop %s = QEMU anonymous %.0f KiB + kernel %s\n",
		       host_kib(drop, sizeof(drop), c->avail_kib, c->guests, c->mem_noise_kib), c->anon_kib,
		       host_kib(kern, sizeof(kern), c->kernel_kib, c->guests, c->mem_noise_kib));
		printf("  noise          over the idle window's quarters, with the VMs standing still, host memory "
		       "moved %.0f KiB and host CPU %.2f points\n",
		       c->mem_noise_kib, c->cpu_noise_pct);
		printf("  /proc/meminfo  Slab %+.0f KiB, PageTables %+.0f KiB, KernelStack %+.0f KiB, "
		       "AnonPages %+.0f KiB\n",
		       c->slab_kib, c->ptables_kib, c->kstack_kib, c->anon_pages_kib);
		/* The host-wide figures hold whatever else the host did meanwhile. */
		if (c->kernel_kib < 0 || c->anon_pages_kib < 0.9 * c->anon_kib)
			printf("  (the host-wide figures moved less than QEMU's own memory: other work on the host "
			       "freed memory meanwhile; the per-process figures below stand, the kernel share does "
			       "not)\n");
		printf("  QEMU           RSS %.0f KiB (%llu-%llu), PSS %.0f KiB (%llu-%llu), "
		       "anonymous %.0f KiB, %.1f threads\n",
		       c->rss_kib, (unsigned long long)c->min.rss, (unsigned long long)c->max.rss, c->pss_kib,
		       (unsigned long long)c->min.pss, (unsigned long long)c->max.pss, c->anon_kib, c->threads);
		printf("  slope          %.0f KiB per VM (least squares of memory in use after each boot, %d points)\n",
		       c->slope_kib, f->nfit);
		printf("  idle CPU       over %.1f s: host %.2f%%, QEMU processes %.3f%% of the host "
		       "(%.2f ms of CPU per VM per s; their kvm-pit threads %.2f)\n",
		       c->window_s, c->host_cpu_pct, c->qemu_cpu_pct, c->qemu_ms_per_vm_s, c->pit_ms_per_vm_s);
	} else if (r->do_cost) {
		printf("cost: not measured (%s)\n", stop_sig ? "interrupted" : "no guest up");
	}
}

int main(int argc, char **argv)
{
	static const struct option opts[] = { { "ramp", required_argument, NULL, 'r' },
					      { "cost", no_argument, NULL, 'c' },
					      { "startup", no_argument, NULL, 's' },
					      { "guest", required_argument, NULL, 'g' },
					      { "max", required_argument, NULL, 'm' },
					      { "csv", required_argument, NULL, 'o' },
					      { "guests-csv", required_argument, NULL, 'G' },
					      { "json", no_argument, NULL, 'j' },
					      { "idle", required_argument, NULL, 'i' },
					      { "timeout", required_argument, NULL, 't' },
					      { "cpu-budget", required_argument, NULL, 'B' },
					      { "samples", required_argument, NULL, 'S' },
					      { "sample-s", required_argument, NULL, 'T' },
					      { "help", no_argument, NULL, 'h' },
					      { 0 } };
	struct fleet fl = { .qemu = "qemu-system-x86_64", .max = 100, .samples = SAMPLES, .timeout_s = 30,
			    .sample_s = 1 }, *f = &fl;
	struct run run = { .idle_s = 10, .cpu_budget = BUDGET_PCT }, *r = &run;
	struct sigaction sa = { .sa_handler = on_signal };
	const char *csv = NULL, *gcsv = NULL;
	struct startup st;
	struct meminfo mi;
	char name[64];
	int opt, pipefd[2];
	long hard;

	f->image = guest_image("mvm", name, sizeof(name));
	while ((opt = getopt_long(argc, argv, "h", opts, NULL)) != -1) {
		switch (opt) {
		case 'r':
			if ((r->steps = atoi(optarg)) < 1)
				usage();
			break;
		case 'c':
			r->do_cost = 1;
			break;
		case 's':
			r->do_startup = 1;
			break;
		case 'g':
			f->image = guest_image(optarg, name, sizeof(name));
			break;
		case 'm':
			f->max = atoi(optarg);
			break;
		case 'o':
			csv = optarg;
			break;
		case 'G':
			gcsv = optarg;
			break;
		case 'j':
			r->json = 1;
			break;
		case 'i':
			r->idle_s = atof(optarg);
			break;
		case 't':
			f->timeout_s = atof(optarg);
			break;
		case 'B':
			r->cpu_budget = atof(optarg);
			break;
		case 'S':
			f->samples = atoi(optarg);
			break;
		case 'T':
			f->sample_s = atof(optarg);
			break;
		default:
			usage();
		}
	}
	if (r->cpu_budget <= 0)
		r->cpu_budget = 1e9;
	if (optind < argc || (!r->steps && !r->do_cost && !r->do_startup) || f->max < 1 || r->idle_s <= 0 ||
	    f->samples < 1 || f->samples > SAMPLES_MAX || !(f->sample_s >= 0.1 && f->sample_s <= 60) ||
	    f->timeout_s <= 0)
		usage();
	f->name = name;
	host_check(f);
	/* Each live guest holds two fds here: its COM1 pipe and its stderr memfd. */
	hard = nofile_raise();
	if (2L * f->max + 32 > hard) {
		fprintf(stderr, "qemu_fleet: RLIMIT_NOFILE %ld allows %ld guests: --max lowered\n", hard,
			(hard - 32) / 2);
		f->max = (int)((hard - 32) / 2);
	}
	if (csv && !(f->csv = fopen(csv, "w")))
		die(errno, "%s", csv);
	if (gcsv && !(f->gcsv = fopen(gcsv, "w")))
		die(errno, "%s", gcsv);
	hostinfo_read(&f->hi);
	f->ncpu = (int)sysconf(_SC_NPROCESSORS_ONLN);
	meminfo_read(&mi);
	f->mem_total_kib = mi.total_kib;
	snprintf(r->host_line, sizeof(r->host_line), "%s, %s, %d CPUs, %.1f GiB, Linux %s, KVM backend %s", f->hi.host,
		 f->hi.cpu, f->ncpu, (double)mi.total_kib / (1 << 20), f->hi.kernel, f->hi.backend);
	f->tty = isatty(2);
	/* The ramp's counts: round(max * k / steps), k = 1..steps, each once. */
	r->step_at = calloc((size_t)r->steps + 1, sizeof(*r->step_at));
	for (int k = 1; r->step_at && k <= r->steps; k++) {
		int at = (f->max * k + r->steps / 2) / r->steps;

		if (at > 0 && (!r->nsteps || at > r->step_at[r->nsteps - 1]))
			r->step_at[r->nsteps++] = at;
	}
	r->rows = calloc((size_t)r->steps + 2, sizeof(*r->rows));
	f->fit_x = calloc((size_t)f->max + 1, sizeof(double));
	f->fit_y = calloc((size_t)f->max + 1, sizeof(double));
	/* COM1 input of every QEMU: a pipe whose write end stays open here, so
	 * QEMU never sees EOF and nothing is ever typed into a guest. */
	if (!f->fit_x || !f->fit_y || !r->rows || !r->step_at || pipe2(pipefd, O_CLOEXEC) < 0)
		die(errno, "setup");
	f->stdin_fd = pipefd[0];
	if (f->csv) {
		fprintf(f->csv, "# host: %s\n# qemu_fleet: QEMU %s, guest %s (%s), %d samples of %g s per step\n",
			r->host_line, f->qemu_version, f->name, f->image, f->samples, f->sample_s);
		fprintf(f->csv, "vmm,guest,count,cpu_mean,cpu_sd,mem_mean,mem_sd,samples\n");
		fflush(f->csv);
	}
	if (f->gcsv) {
		fprintf(f->gcsv, "vmm,guest,index,pid,launch_s,boot_ms,result\n");
		fflush(f->gcsv);
	}

	sigaction(SIGINT, &sa, NULL); /* no SA_RESTART: poll() returns and the loops see the flag */
	sigaction(SIGTERM, &sa, NULL);
	sigaction(SIGHUP, &sa, NULL);
	exit_fleet = f;
	atexit(fleet_atexit);

	/* The teardown of an earlier run would be measured as this run's memory. */
	if (f->tty)
		fprintf(stderr, "[qemu %s] waiting for host memory to settle", f->name);
	meminfo_settle(30);
	r->load = loadavg_1min();
	rawvm_meminfo(r->cost.before);
	f->fit_x[0] = 0;
	f->fit_y[0] = (double)(r->cost.before[MI_TOTAL] - r->cost.before[MI_AVAIL]);
	f->nfit = 1;
	f->t0 = now_ns();
	run_fleet(f, r);
	fleet_progress_end(f);
	if (stop_sig && f->tty)
		fprintf(stderr, "qemu_fleet: interrupted: stopping %d QEMU processes\n", f->up);
	/* Every QEMU is stopped before anything is printed: output may block, QEMUs must not linger. */
	fleet_stop(f);
	exit_fleet = NULL;
	if (f->csv)
		fclose(f->csv);
	if (f->gcsv)
		fclose(f->gcsv);
	startup_summarize(f, &st);
	if (r->json)
		report_json(f, r, &st);
	else
		report_text(f, r, &st, csv);
	/* Failing boots are a failed run; a limit reached is a result. */
	return r->stop == STOP_SIGNAL ? 130 : r->stop == STOP_FAILS ? 1 : 0;
}
