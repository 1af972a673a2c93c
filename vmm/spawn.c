/* spawn.c - `kvmlite spawn N`: sizes shards to the host's limits, forks the workers, relays their news, sums up. */
#define _GNU_SOURCE /* SO_PEERCRED, struct ucred */
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <liburing.h>
#include <malloc.h>
#include <math.h>
#include <poll.h>
#include <pthread.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/resource.h>
#include <sys/signalfd.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <sys/wait.h>
#include <unistd.h>

#include "cli.h"
#include "frontdoor.h"
#include "kick.h"
#include "sandbox.h"
#include "shard.h"
#include "supervisor.h"
#include "version.h"

/* A message on stderr, in place of the status line, wrapped to the terminal's width. */
static void sv_say(struct spawn *sv, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static void sv_say(struct spawn *sv, const char *fmt, ...)
{
	va_list ap;

	if (sv->tty)
		fprintf(stderr, "\r\033[K");
	va_start(ap, fmt);
	cli_vwrap(stderr, "kvmlite: ", 9, cli_columns(STDERR_FILENO), fmt, ap);
	va_end(ap);
}

static void sv_check_booted(struct spawn *sv);
static u64 sv_vmm_ticks(struct spawn *sv);
static u32 sv_live(const struct spawn *sv);

/* ---- what the shards say ---- */

static void sv_fail_reason(struct spawn *sv, const char *why)
{
	/* Group reasons without their guest-specific tail (addresses). */
	char key[128];
	size_t n = strcspn(why, "(");

	while (n > 0 && why[n - 1] == ' ') /* "triple fault (...)": the space before the tail goes too */
		n--;
	snprintf(key, sizeof(key), "%.*s", (int)(n < sizeof(key) - 1 ? n : sizeof(key) - 1), why);
	for (int i = 0; i < 8; i++) {
		if (sv->fail_count[i] && strcmp(sv->fail_reason[i], key) == 0) {
			sv->fail_count[i]++;
			return;
		}
		if (!sv->fail_count[i]) {
			snprintf(sv->fail_reason[i], sizeof(sv->fail_reason[i]), "%s", key);
			sv->fail_count[i] = 1;
			return;
		}
	}
}

/*
 * Records a guest's news in its flags. A guest settles once, whatever
 * comes first: it booted, ended (failed or not) or was lost; a guest that
 * booted and then failed is one settled guest, counted in both booted and
 * failed.
 */
static void sv_mark(struct spawn *sv, u32 i, u8 flags)
{
	if (!sv->gflags[i]) /* i: the guest's index in the per-guest arrays (its id - --first-id) */
		sv->settled++;
	sv->gflags[i] |= flags;
}

/* Groups what silent guests do, with CS:IP addresses left out ("xxxx:xxxx"). */
static void sv_silent_reason(struct spawn *sv, u32 id, const char *what)
{
	char key[128];
	size_t n = 0;

	for (const char *p = what; *p && n < sizeof(key) - 1; p++) {
		if (strspn(p, "0123456789abcdef") == 4 && p[4] == ':' && strspn(p + 5, "0123456789abcdef") == 4 &&
		    n + 9 < sizeof(key)) {
			memcpy(key + n, "xxxx:xxxx", 9);
			n += 9;
			p += 8;
			continue;
		}
		key[n++] = *p;
	}
	key[n] = '\0';
	for (int i = 0; i < 8; i++) {
		if (sv->silent_count[i] && strcmp(sv->silent_reason[i], key) == 0) {
			sv->silent_count[i]++;
			return;
		}
		if (!sv->silent_count[i]) {
			snprintf(sv->silent_reason[i], sizeof(sv->silent_reason[i]), "%s", key);
			sv->silent_count[i] = 1;
			sv->silent_example[i] = id;
			return;
		}
	}
}

/* Guest i ended, failed or not (why: the failure). */
static void sv_ended(struct spawn *sv, u32 i, bool failed, const char *why)
{
	if (!failed && !(sv->gflags[i] & G_BOOTED))
		sv->ended_mute++;
	sv_mark(sv, i, G_ENDED | (failed ? G_FAILED : 0));
	sv->ended++;
	if (sv->gflags[i] & G_SILENT) { /* it ended: counted as that now */
		sv->gflags[i] &= (u8)~G_SILENT;
		sv->silent--;
	}
	if (failed) {
		sv->failed++;
		sv_fail_reason(sv, why);
	}
}

/* Unsolicited news from a shard (wire.h): guests created, booted, silent, ended; output; its end. */
static void sv_shard_event(struct spawn *sv, struct link *l, const char *line)
{
	struct wire_event e;
	u32 i;

	wire_event_parse(line, &e);
	i = e.id - sv->o->first_id; /* per-guest arrays start at --first-id */
	if (e.kind == WIRE_CREATED) {
		sv->created += e.created.created - l->created;
		l->created = e.created.created;
		l->parked = e.created.parked;
		l->parked_bytes = e.created.parked_bytes;
		l->staged = e.created.staged;
		memcpy(l->stage_ns, e.created.stage_ns, sizeof(l->stage_ns));
		l->created_staged = e.created.created_staged;
	} else if (e.kind == WIRE_RESUME_FAILED) {
		sv->resume_failed++;
		if (sv->o->verbose)
			fprintf(stderr, "%skvmlite: guest %u: %s\n", sv->tty ? "\r\033[K" : "", e.id, e.text);
	} else if (e.kind == WIRE_BOOT && i < sv->o->count && !(sv->gflags[i] & G_BOOTED)) {
		sv->boot_us[i] = e.ns > sv->t0 ? (u32)((e.ns - sv->t0) / 1000) : 0;
		sv_mark(sv, i, G_BOOTED);
		sv->booted++;
		if (sv->gflags[i] & G_SILENT) { /* late, but it spoke (settled once: at the first) */
			sv->gflags[i] &= (u8)~G_SILENT;
			sv->silent--;
		}
	} else if (e.kind == WIRE_SILENT && i < sv->o->count && !(sv->gflags[i] & (G_BOOTED | G_SILENT))) {
		/* settled, for --for 0: it is not waited for (it may still speak) */
		sv_mark(sv, i, G_SILENT);
		sv->silent++;
		sv_silent_reason(sv, e.id, e.text);
		if (sv->o->verbose)
			fprintf(stderr, "%skvmlite: guest %u is silent: %s\n", sv->tty ? "\r\033[K" : "", e.id, e.text);
	} else if (e.kind == WIRE_END && i < sv->o->count && !(sv->gflags[i] & G_ENDED)) {
		sv_ended(sv, i, e.failed, e.text);
	} else if (e.kind == WIRE_OUT) {
		control_watch_output(sv, e.id, e.text);
	} else if (e.kind == WIRE_FATAL) {
		fprintf(stderr, "kvmlite: %s\n", e.text);
	}
}

/* A line from a shard: the link it came on. */
struct link_from {
	struct spawn *sv;
	struct link *l;
};

static void sv_shard_line(void *ctx, char *line, size_t len)
{
	struct spawn *sv = ((struct link_from *)ctx)->sv;
	struct link *l = ((struct link_from *)ctx)->l;

	if (line[0] == '@') {
		sv_shard_event(sv, l, line);
		sv_check_booted(sv);
		return;
	}
	control_answer(sv, l, line, len);
}

static void sv_link_dead(struct spawn *sv, struct link *l)
{
	if (l->dead)
		return;
	l->dead = true;
	/* Requests that wait on it are answered: forwarded ones with an
	 * error, fanned-out ones with what the other shards said. */
	for (u32 i = 0; i < sv->npend; i++) {
		struct pending *p = &sv->pend[i];
		char line[32];

		u32 li = (u32)(l - sv->links);

		if (!p->remaining || !(p->links_asked[li / 64] & (1ull << (li % 64))))
			continue;
		snprintf(line, sizeof(line), "%u %s", p->tag, p->kind == PEND_FORWARD ? "error guest lost" : "ok");
		control_answer(sv, l, line, strlen(line));
	}
}

static void sv_link_read(struct spawn *sv, struct link *l, int res)
{
	l->read_busy = false;
	if (res <= 0) {
		sv_link_dead(sv, l);
		return;
	}
	line_buf_feed(&l->lines, l->rbuf, (size_t)res, sv_shard_line, &(struct link_from){ sv, l });
	link_arm(sv, l);
	link_fit(sv, l);
}

/* A worker process died: its guests are lost, the others go on. */
static void sv_reap_children(struct spawn *sv)
{
	int status;
	pid_t pid;

	while ((pid = waitpid(-1, &status, WNOHANG)) > 0) {
		u32 lost = 0, lo = UINT32_MAX, hi = 0;

		for (u32 i = 0; i < sv->nlinks; i++) {
			struct link *l = &sv->links[i];

			if (l->pid != pid)
				continue;
			for (u32 id = l->first; id < l->first + l->count; id++) {
				u32 k = id - sv->o->first_id;

				if (!(sv->gflags[k] & (G_ENDED | G_LOST))) {
					sv_mark(sv, k, G_LOST);
					if (sv->gflags[k] & G_SILENT)
						sv->silent--;
					sv->gflags[k] &= (u8)~G_SILENT;
					lost++;
					/* only a created guest was live; the rest never will be */
					sv->lost_live += id - l->first < l->created;
				}
			}
			lo = l->first < lo ? l->first : lo;
			hi = l->first + l->count - 1 > hi ? l->first + l->count - 1 : hi;
			sv_link_dead(sv, l);
		}
		for (u32 p = 0; p < sv->procs; p++)
			if (sv->pids[p] == pid)
				sv->pids[p] = 0;
		sv->lost += lost;
		if (!sv->stopping) {
			if (WIFSIGNALED(status))
				sv_say(sv, "worker %d (guests %u-%u) killed by signal %d: %u guests lost", (int)pid, lo,
				       hi, WTERMSIG(status), lost);
			else
				sv_say(sv, "worker %d (guests %u-%u) exited with %d: %u guests lost", (int)pid, lo, hi,
				       WEXITSTATUS(status), lost);
		}
	}
}

/* ---- stats, progress, summary ---- */

static u32 sv_parked(const struct spawn *sv, u64 *bytes);

static const char *const park_names[] = { "never", "auto", "always" };

void spawn_stats_json(struct spawn *sv, struct outbuf *b, const u64 *sums)
{
	u64 bytes;
	u32 live = sv_live(sv), parked = sv_parked(sv, &bytes);

	outbuf_printf(b,
		      "{\"guests\":%u,\"created\":%u,\"booted\":%u,\"live\":%u,\"resident\":%u,\"parked\":%u,"
		      "\"ended\":%u,\"failed\":%u,\"silent\":%u,\"lost\":%u,\"park\":\"%s\",\"clients_dropped\":%u,"
		      "\"accept_errors\":%u",
		      sv->o->count, sv->created, sv->booted, live, live > parked ? live - parked : 0, parked,
		      sv->ended - sv->failed, sv->failed, sv->silent, sv->lost, park_names[sv->o->park],
		      sv->clients_dropped, sv->accept_errors);
	outbuf_printf(b,
		      ",\"workers\":%u,\"threads_per_worker\":%u,\"kvm_backend\":\"%s\",\"sandbox\":%s,\"cpu_max\":%u,"
		      "\"worker_pids\":[",
		      sv->procs, sv->threads, sv->kvm.backend, sv->o->no_sandbox ? "false" : "true", sv->o->cpu_max);
	for (u32 p = 0; p < sv->procs; p++)
		outbuf_printf(b, "%s%d", p ? "," : "", (int)sv->pids[p]);
	outbuf_printf(b, "],\"version\":\"%s\"", KVMLITE_VERSION);
	for (size_t i = 0; i < WIRE_NSTATS; i++)
		outbuf_printf(b, ",\"%s\":%llu", wire_stat_names[i], (unsigned long long)sums[i]);
	outbuf_printf(b, "}");
}

/* The --metrics-file's new content, from a `stats` object (len bytes of JSON). */
void spawn_metrics_write(struct spawn *sv, const char *json, size_t len)
{
	char *in = malloc(len + 1), *text = malloc(METRICS_TEXT_MAX);
	size_t n = 0;

	if (in && text && sv->metrics.dir_fd >= 0) {
		memcpy(in, json, len);
		in[len] = '\0';
		n = metrics_format(in, text, METRICS_TEXT_MAX);
		if ((n == 0 || n >= METRICS_TEXT_MAX || metrics_file_write(&sv->metrics, text, n) < 0) &&
		    !sv->metrics_failed) {
			sv->metrics_failed = true; /* said once; later refreshes try again */
			sv_say(sv, "--metrics-file %s: cannot write: %s", sv->metrics.path,
			       n == 0 || n >= METRICS_TEXT_MAX ? "bad counters" : strerror(errno));
		}
	}
	free(in);
	free(text);
}

/* Guests created and not ended or lost: resident (on a KVM VM) or parked. */
static u32 sv_live(const struct spawn *sv)
{
	u32 gone = sv->ended + sv->lost_live;

	return sv->created > gone ? sv->created - gone : 0;
}

static u32 sv_parked(const struct spawn *sv, u64 *bytes)
{
	u32 n = 0;

	*bytes = 0;
	for (u32 i = 0; i < sv->nlinks; i++) {
		if (sv->links[i].dead)
			continue;
		n += sv->links[i].parked;
		*bytes += sv->links[i].parked_bytes;
	}
	return n;
}

static double sv_elapsed(const struct spawn *sv, u64 now)
{
	return (double)(now - sv->t0) / 1e9;
}

/* Appends " NAME N" to the status line when N is not 0 (or always). */
static size_t status_item(char *b, size_t n, size_t cap, const char *name, u32 v, bool always)
{
	if ((v || always) && n < cap)
		n += (size_t)snprintf(b + n, cap - n, "  %s %u", name, v);
	return n < cap ? n : cap - 1;
}

/*
 * The status line on a terminal, redrawn in place: within the terminal's
 * width (one column spare, so that it never wraps and stacks up), with
 * the counts that are not 0.
 */
static void sv_progress(struct spawn *sv, u64 now)
{
	struct meminfo m;
	double t = sv_elapsed(sv, now), rate = t > 0 ? sv->booted / t : 0;
	u64 bytes;
	u32 live = sv_live(sv), parked = sv_parked(sv, &bytes), resident = live > parked ? live - parked : 0;
	char line[256];
	size_t n;

	if (!sv->tty || sv->o->json)
		return;
	meminfo_read(&m);
	if (sv->t_booted == 0) {
		n = (size_t)snprintf(line, sizeof(line), "spawning: booted %u/%u", sv->booted, sv->o->count);
		n = status_item(line, n, sizeof(line), "started", sv->created, true);
		n = status_item(line, n, sizeof(line), "parked", parked, false);
		n = status_item(line, n, sizeof(line), "failed", sv->failed, false);
		n = status_item(line, n, sizeof(line), "lost", sv->lost, false);
		snprintf(line + n, sizeof(line) - n, "  %.0f/s  mem %.0f%%  ETA %.0fs", rate, meminfo_used_pct(&m),
			 rate > 0 ? (sv->o->count - sv->settled) / rate : 0.0);
	} else {
		n = (size_t)snprintf(line, sizeof(line), "serving: resident %u", resident);
		n = status_item(line, n, sizeof(line), "parked", parked, false);
		n = status_item(line, n, sizeof(line), "ended", sv->ended - sv->failed, false);
		n = status_item(line, n, sizeof(line), "failed", sv->failed, false);
		n = status_item(line, n, sizeof(line), "lost", sv->lost, false);
		snprintf(line + n, sizeof(line) - n, "  mem %.0f%%  up %.0fs", meminfo_used_pct(&m), t);
	}
	cli_cut(line, cli_columns(STDERR_FILENO) - 1);
	fprintf(stderr, "\r\033[K%s", line);
	fflush(stderr);
}

/* All workers' memory, KiB: resident, and anonymous (their own allocations). */
static void sv_worker_mem(struct spawn *sv, u64 *rss, u64 *anon)
{
	*rss = *anon = 0;
	for (u32 p = 0; p < sv->procs; p++) {
		u64 r, s;

		if (sv->pids[p] > 0 && proc_mem_kib(sv->pids[p], &r, &s) == 0) {
			*rss += r;
			*anon += s;
		}
	}
}

static int u32_cmp(const void *a, const void *b)
{
	u32 x = *(const u32 *)a, y = *(const u32 *)b;

	return x < y ? -1 : x > y;
}

/*
 * Boot times as the provisioning research reports them: each guest from
 * the spawn's start (the launch request) to its first output byte (serial
 * or screen), as p50/p99/max in ms; and the mean time of each stage of a
 * boot, in µs: the creation stages over the guests created, the last over
 * those that booted (NAN where no guest was counted). False if no guest
 * booted.
 */
static bool sv_boot_times(struct spawn *sv, double ms[3], double us[NSTAGES])
{
	u32 *t = malloc((sv->booted ? sv->booted : 1) * sizeof(*t)), n = 0;
	u64 staged = 0, created = 0, sum[NSTAGES] = { 0 };

	for (u32 i = 0; t && i < sv->o->count; i++)
		if ((sv->gflags[i] & G_BOOTED) && n < sv->booted)
			t[n++] = sv->boot_us[i];
	if (!t || n == 0) {
		free(t);
		return false;
	}
	qsort(t, n, sizeof(*t), u32_cmp);
	ms[0] = t[(n + 1) / 2 - 1] / 1e3; /* nearest rank */
	ms[1] = t[(n * 99 + 99) / 100 - 1] / 1e3;
	ms[2] = t[n - 1] / 1e3;
	free(t);
	for (u32 i = 0; i < sv->nlinks; i++) {
		staged += sv->links[i].staged;
		created += sv->links[i].created_staged;
		for (int k = 0; k < NSTAGES; k++)
			sum[k] += sv->links[i].stage_ns[k];
	}
	for (int k = 0; k < NSTAGES; k++) {
		u64 over = k == STAGE_FIRST_BYTE ? staged : created;

		us[k] = over ? (double)sum[k] / (double)over / 1e3 : NAN;
	}
	return true;
}

/*
 * What the summary reports, worked out once for both its forms. A figure
 * that was not measured is NAN (JSON null, "n/a" in text). Host-wide memory
 * figures (MemAvailable, Slab) move with everything else on the host: their
 * noise is how far the host's memory moved, beyond kvmlite's own, in the
 * window after all guests booted, while the guests stood still. A figure
 * within that noise, or below zero, is NAN too and is said to be below
 * noise: no per-guest figure is ever printed negative.
 */
struct figures {
	bool timed;
	double boot_s, boot_ms[3], stage_us[NSTAGES];
	u32 live, parked, resident;
	u64 rss, anon;			   /* KiB, all workers */
	double parked_kib;		   /* per parked guest */
	double user_kib, rss_kib, kernel_kib, slab_kib; /* per resident guest */
	double noise_kib, noise_s;	   /* host-wide, over the window after booting */
	double mem_used_pct, idle_cpu, vmm_cpu;
	u64 started_unix_ns; /* the start on the wall clock, to set beside a launcher's (dist/slurm) */
};

/* A host-wide total per guest, or NAN when the total is below zero or within noise. */
static double sv_host_figure(double total_kib, u32 n, double noise_kib)
{
	return n && total_kib > 0 && total_kib > noise_kib ? total_kib / n : NAN;
}

static void sv_figures(struct spawn *sv, struct figures *f)
{
	struct meminfo m;
	struct cpustat cpu;
	struct timespec wall;
	u64 now = clock_now(), pbytes, ticks;
	double pkib, user;

	memset(f, 0, sizeof(*f));
	clock_gettime(CLOCK_REALTIME, &wall);
	f->started_unix_ns = (u64)wall.tv_sec * 1000000000ull + (u64)wall.tv_nsec - (now - sv->t0);
	f->timed = sv_boot_times(sv, f->boot_ms, f->stage_us);
	f->boot_s = sv->t_booted ? (double)(sv->t_booted - sv->t0) / 1e9 : NAN;
	f->live = sv_live(sv);
	f->parked = sv_parked(sv, &pbytes);
	f->resident = f->live > f->parked ? f->live - f->parked : 0;
	pkib = (double)pbytes / 1024.0;
	f->parked_kib = f->parked ? pkib / f->parked : NAN;
	meminfo_read(&m);
	f->mem_used_pct = meminfo_used_pct(&m);
	sv_worker_mem(sv, &f->rss, &f->anon);
	f->idle_cpu = f->vmm_cpu = f->noise_kib = NAN;
	if (sv->t_booted && now - sv->t_booted >= SETTLE_NS - SETTLE_NS / 10 && cpustat_read(&cpu) == 0) {
		long hz = sysconf(_SC_CLK_TCK), cpus = sysconf(_SC_NPROCESSORS_ONLN);

		f->idle_cpu = cpustat_busy_pct(&sv->cpu_booted, &cpu);
		/* kvmlite's own share: its processes' CPU time over the same window
		 * (unknown if a worker died meanwhile: its time left the sum) */
		ticks = sv_vmm_ticks(sv);
		f->vmm_cpu = ticks < sv->vmm_ticks_booted ? NAN
							   : 100.0 * (double)(ticks - sv->vmm_ticks_booted) / (double)hz /
								     ((double)(now - sv->t_booted) / 1e9) / (double)cpus;
		/* What the host's memory did meanwhile that kvmlite's processes did not. */
		f->noise_kib = ((double)sv->mem_booted.available_kib - (double)m.available_kib) -
			       ((double)f->anon - (double)sv->anon_booted);
		f->noise_kib = f->noise_kib < 0 ? -f->noise_kib : f->noise_kib;
		f->noise_s = (double)(now - sv->t_booted) / 1e9;
	}
	/* The shards count what their parked guests take; the rest of the VMM's
	 * memory is the resident guests'. No figure mixes the two. */
	user = (double)f->anon - pkib;
	f->user_kib = f->resident && user >= 0 ? user / f->resident : NAN;
	f->rss_kib = f->resident && (double)f->rss >= pkib ? ((double)f->rss - pkib) / f->resident : NAN;
	/* What the host lost, minus what the VMM's processes allocated: the
	 * kernel's share, all of it for resident guests (and the spare VMs). */
	f->kernel_kib = sv_host_figure((double)sv->mem0.available_kib - (double)m.available_kib - (double)f->anon,
				       f->resident, isnan(f->noise_kib) ? 0 : f->noise_kib);
	f->slab_kib = sv_host_figure((double)m.slab_kib - (double)sv->mem0.slab_kib, f->resident, 0);
}

/* "KEY":value with PREC decimals, or "KEY":null for a figure not measured. */
static void json_num(const char *key, double v, int prec)
{
	if (isnan(v))
		printf(",\"%s\":null", key);
	else
		printf(",\"%s\":%.*f", key, prec, v);
}

#define LABEL 23 /* the summary's second column */

/* What each guest got: its image, and the firmware with what it costs. */
static void sv_print_guests(struct spawn *sv, int w)
{
	for (u32 i = 0, first = 0; i < (u32)sv->o->nguest; first = sv->images[i++].upto - sv->o->first_id) {
		const struct image *img = &sv->images[i].img;

		cli_wrap(stdout, i ? "" : "  guests", LABEL, w, "%u-%u: %s (%s, %llu bytes)", sv->o->first_id + first,
			 sv->images[i].upto - 1, img->name, img->disk.size > BOOT_SIZE ? "disk image" : "boot sector",
			 (unsigned long long)(img->disk.size ? img->disk.size : BOOT_SIZE));
	}
	if (sv->o->firmware)
		cli_wrap(stdout, "  firmware", LABEL, w,
			 "pc: kvmlite's BIOS, copied into each guest's RAM: %d KiB a guest, no memslot of its own",
			 FIRMWARE_SIZE / 1024);
	else
		cli_wrap(stdout, "  firmware", LABEL, w,
			 "none (--firmware none): each guest started at 0000:7c00, devices at reset");
}

static bool sv_is_silent(void *ctx, u32 i)
{
	const struct spawn *sv = ctx;

	return sv->gflags[i] & G_SILENT;
}

/* Guests that wrote nothing by their boot deadline, and what they do. */
static void sv_print_silent(struct spawn *sv, int w)
{
	char ids[160];

	if (sv->ended_mute)
		cli_wrap(stdout, "  ended mute", LABEL, w,
			 "%u guests ended without writing anything ('kvmlite info ID' says why)", sv->ended_mute);
	if (!sv->silent)
		return;
	/* (ids from 0 here; a long list is cut) */
	if (proto_ranges(sv->o->count, sv_is_silent, sv, ids, sizeof(ids)) >= sizeof(ids))
		snprintf(ids + sizeof(ids) - 5, 5, "...");
	cli_wrap(stdout, "  silent", LABEL, w, "%u guests wrote nothing in their first %.0f s (--boot-timeout): %s%s",
		 sv->silent, sv->o->boot_timeout, sv->o->first_id ? "ids after --first-id " : "", ids);
	for (int i = 0; i < 8 && sv->silent_count[i]; i++)
		cli_wrap(stdout, "", LABEL, w, "%u: %s (e.g. guest %u)", sv->silent_count[i], sv->silent_reason[i],
			 sv->silent_example[i]);
}

static void sv_summary_json(struct spawn *sv, const struct figures *f)
{
	/* every guest is in one of live_at_end, ended, failed, lost, not_created (docs/json.md) */
	printf("{\"guests\":%u,\"created\":%u,\"booted\":%u,\"ended\":%u,\"failed\":%u,\"lost\":%u,"
	       "\"not_created\":%u,\"live_at_end\":%u,\"resident_at_end\":%u,\"parked_at_end\":%u,\"park\":\"%s\","
	       "\"resume_failures\":%u",
	       sv->o->count, sv->created, sv->booted, sv->ended - sv->failed, sv->failed, sv->lost,
	       sv->o->count - sv->created - (sv->lost - sv->lost_live), f->live, f->resident, f->parked,
	       park_names[sv->o->park], sv->resume_failed);
	json_num("time_to_all_booted_s", f->boot_s, 3);
	json_num("boot_rate_per_s", f->boot_s > 0 ? sv->booted / f->boot_s : NAN, 1);
	json_num("vmm_userspace_kib_per_guest", f->user_kib, 2);
	json_num("vmm_userspace_kib_per_parked", f->parked_kib, 2);
	json_num("vmm_rss_kib_per_guest", f->rss_kib, 2);
	printf(",\"vmm_anon_kib\":%llu", (unsigned long long)f->anon);
	json_num("kernel_kib_per_guest", f->kernel_kib, 1);
	json_num("slab_kib_per_guest", f->slab_kib, 1);
	json_num("host_mem_noise_kib", f->noise_kib, 0);
	json_num("host_mem_used_pct", f->mem_used_pct, 1);
	json_num("host_cpu_idle_pct", f->idle_cpu, 2);
	json_num("vmm_cpu_idle_pct", f->vmm_cpu, 3);
	printf(",\"workers\":%u,\"threads_per_worker\":%u,\"kvm_backend\":\"%s\",\"cpu_max\":%u,"
	       "\"firmware\":\"%s\",\"firmware_kib_per_guest\":%d,\"stopped_by\":\"%s\",\"failures\":[",
	       sv->procs, sv->threads, sv->kvm.backend, sv->o->cpu_max, sv->o->firmware ? "pc" : "none",
	       sv->o->firmware ? FIRMWARE_SIZE / 1024 : 0, sv->stop_reason);
	for (int i = 0; i < 8 && sv->fail_count[i]; i++)
		printf("%s{\"reason\":\"%s\",\"count\":%u}", i ? "," : "", sv->fail_reason[i], sv->fail_count[i]);
	printf("],\"silent\":%u,\"ended_without_output\":%u,\"silent_reasons\":[", sv->silent, sv->ended_mute);
	for (int i = 0; i < 8 && sv->silent_count[i]; i++)
		printf("%s{\"reason\":\"%s\",\"count\":%u,\"example\":%u}", i ? "," : "", sv->silent_reason[i],
		       sv->silent_count[i], sv->silent_example[i]);
	printf("],\"boot_ms\":");
	if (f->timed)
		printf("{\"p50\":%.1f,\"p99\":%.1f,\"max\":%.1f}", f->boot_ms[0], f->boot_ms[1], f->boot_ms[2]);
	else
		printf("null");
	printf(",\"stage_us\":%s", f->timed ? "{" : "null");
	for (int k = 0; f->timed && k < NSTAGES; k++)
		printf(isnan(f->stage_us[k]) ? "%s\"%s\":null" : "%s\"%s\":%.1f", k ? "," : "", wire_stage_names[k],
		       f->stage_us[k]);
	printf("%s,\"first_id\":%u,\"started_unix_ns\":%llu}\n", f->timed ? "}" : "", sv->o->first_id,
	       (unsigned long long)f->started_unix_ns);
}

/* The noise behind the host-wide memory figures, for people. */
static void sv_noise_text(const struct figures *f, char *buf, size_t len)
{
	if (isnan(f->noise_kib))
		snprintf(buf, len, "below noise (not measured: the spawn ended at once)");
	else
		snprintf(buf, len, "below noise (host memory moved %.0f KiB in the %.1f s after booting)", f->noise_kib,
			 f->noise_s);
}

static void sv_summary_text(struct spawn *sv, const struct figures *f)
{
	int w = cli_columns(STDOUT_FILENO);
	char noise[128], cpu[64];

	sv_noise_text(f, noise, sizeof(noise));
	cli_wrap(stdout, "kvmlite spawn: ", 2, w,
		 "%u of %u guests booted (wrote their first byte), %u failed, %u lost, %u silent; %s", sv->booted,
		 sv->o->count, sv->failed, sv->lost, sv->silent, sv->stop_reason);
	sv_print_guests(sv, w);
	sv_print_silent(sv, w);
	if (!isnan(f->boot_s))
		cli_wrap(stdout, "  time to all booted", LABEL, w, "%.2f s (%.0f guests/s)%s", f->boot_s,
			 f->boot_s > 0 ? sv->booted / f->boot_s : 0.0,
			 sv->booted < sv->settled ? ", counting the failed and lost as settled" : "");
	if (f->timed) {
		cli_wrap(stdout, "  boot, per guest", LABEL, w,
			 "p50 %.1f ms, p99 %.1f ms, max %.1f ms from the start to its first byte", f->boot_ms[0],
			 f->boot_ms[1], f->boot_ms[2]);
		if (!isnan(f->stage_us[0]))
			cli_wrap(stdout, "  stages, mean", LABEL, w,
				 "create VM %.0f µs, create vCPU %.0f µs, load %.0f µs, set memory %.0f µs, set "
				 "registers %.0f µs, firmware %.0f µs, then to the first byte %.0f µs",
				 f->stage_us[STAGE_CREATE_VM], f->stage_us[STAGE_CREATE_VCPU], f->stage_us[STAGE_LOAD],
				 f->stage_us[STAGE_SET_MEMORY], f->stage_us[STAGE_SET_REGS], f->stage_us[STAGE_FIRMWARE],
				 f->stage_us[STAGE_FIRST_BYTE]);
	}
	for (int i = 0; i < 8 && sv->fail_count[i]; i++)
		cli_wrap(stdout, "  failed", LABEL, w, "%u: %s", sv->fail_count[i], sv->fail_reason[i]);
	if (f->live)
		cli_wrap(stdout, "  at the end", LABEL, w,
			 "%u resident (on a KVM VM), %u parked (state only); --park %s", f->resident, f->parked,
			 park_names[sv->o->park]);
	if (f->resident) {
		if (!isnan(f->user_kib))
			cli_wrap(stdout, "  VMM userspace", LABEL, w,
				 "%.1f KiB per resident guest (anonymous: guest pages, output rings, state)",
				 f->user_kib);
		if (!isnan(f->kernel_kib))
			cli_wrap(stdout, "  kernel", LABEL, w,
				 "%.0f KiB per resident guest (MemAvailable drop minus VMM userspace; the host's own "
				 "noise ±%.1f KiB per guest)",
				 f->kernel_kib, isnan(f->noise_kib) ? 0.0 : f->noise_kib / f->resident);
		else
			cli_wrap(stdout, "  kernel", LABEL, w, "%s", noise);
		if (!isnan(f->slab_kib))
			cli_wrap(stdout, "", LABEL, w,
				 "of it slab %.0f KiB, and %.1f KiB of kvm_run pages mapped into the VMM (in its RSS)",
				 f->slab_kib, (double)(f->rss - f->anon) / f->resident);
	}
	if (f->parked)
		cli_wrap(stdout, "  parked", LABEL, w,
			 "%.1f KiB per parked guest (saved vCPU state, touched RAM pages, kept output, its "
			 "bookkeeping); no kernel memory",
			 f->parked_kib);
	if (sv->resume_failed)
		cli_wrap(stdout, "  resume failures", LABEL, w, "%u (those guests kept their state and were retried)",
			 sv->resume_failed);
	if (!isnan(f->idle_cpu))
		cli_wrap(stdout, "  CPU since all booted", LABEL, w,
			 "%.2f%% of the host (all CPUs), of which kvmlite's processes %.3f%%", f->idle_cpu, f->vmm_cpu);
	if (sv->o->cpu_max < 100)
		snprintf(cpu, sizeof(cpu), "each guest at most %u%% of a CPU (--cpu-max)", sv->o->cpu_max);
	else
		snprintf(cpu, sizeof(cpu), "no CPU cap per guest (--cpu-max 100)");
	cli_wrap(stdout, "  host", LABEL, w, "%u worker process%s x %u thread%s, KVM backend %s, sandbox %s; %s",
		 sv->procs, sv->procs == 1 ? "" : "es", sv->threads, sv->threads == 1 ? "" : "s", sv->kvm.backend,
		 sv->o->no_sandbox ? "off (--no-sandbox)" : "on (seccomp, io_uring)", cpu);
}

static void sv_summary(struct spawn *sv)
{
	struct figures f;

	sv_figures(sv, &f);
	if (sv->tty && !sv->o->json)
		fprintf(stderr, "\r\033[K");
	if (sv->o->json)
		sv_summary_json(sv, &f);
	else
		sv_summary_text(sv, &f);
}

/*
 * --boot-times FILE: every booted guest's id and its µs from the start to
 * its first serial byte, one a line. Percentiles do not add up: a fleet
 * of spawns (dist/slurm) needs each guest's time for its own, and so does
 * a plot of the whole distribution.
 */
static void sv_boot_times_write(struct spawn *sv, FILE *f)
{
	for (u32 i = 0; i < sv->o->count; i++)
		if (sv->gflags[i] & G_BOOTED)
			fprintf(f, "%u %u\n", sv->o->first_id + i, sv->boot_us[i]);
	if (fclose(f) != 0)
		fprintf(stderr, "kvmlite: --boot-times %s: %s\n", sv->o->boot_times, strerror(errno));
}

/* ---- host limits and workers ---- */

/*
 * Each live guest holds one fd (its vCPU) and one mapping (kvm_run). A
 * process may hold RLIMIT_NOFILE fds (hard limit; it cannot be raised
 * here) and vm.max_map_count mappings: guests are sharded over enough
 * worker processes to stay inside both. With parking, a VM holds two fds
 * (the VM fd moves its memslot from guest to guest) and a parked guest
 * none: the limits bound a process's VMs, not its guests.
 */
static u32 sv_plan(struct spawn *sv)
{
	struct rlimit rl;
	long maps = host_read_long("/proc/sys/vm/max_map_count", 65530);
	long cpus = sysconf(_SC_NPROCESSORS_ONLN);
	u64 by_fd, by_map, per, vms, vms_expected;
	long pids;

	getrlimit(RLIMIT_NOFILE, &rl);
	by_fd = rl.rlim_max == RLIM_INFINITY ? 1000000 : rl.rlim_max - FD_RESERVE;
	by_map = maps > 512 ? (u64)maps - 512 : 1;
	if (sv->o->park != PARK_NEVER)
		by_fd /= 2;
	per = by_fd < by_map ? by_fd : by_map;
	if (sv->o->per_process && sv->o->per_process < per)
		per = sv->o->per_process;
	vms = per;
	if (sv->o->park != PARK_NEVER && !sv->o->per_process)
		per = sv->o->count; /* any number of guests, vms of them with a VM at once */
	/*
	 * Single-threaded workers, at least one per CPU, and enough that each
	 * holds about WORKER_VMS KVM VMs at most. Every KVM VM registers an
	 * MMU notifier on its process's memory, and every munmap in that
	 * process walks all of them: creating and destroying n VMs in one
	 * process costs O(n^2). 20,000 guests boot in 32 s with 2 workers and
	 * in 13 s with 32, and tear down in 68 s against 12 s (docs/spawn.md).
	 * Threads would not help: VM creation takes the process's mmap_lock.
	 */
	pids = host_pids_left() - PID_RESERVE;
	vms_expected = sv->o->count;
	if ((s64)vms_expected > pids)
		vms_expected = pids > 0 ? (u64)pids : 1; /* no more VMs than PIDs allow */
	sv->procs = (u32)((vms_expected + WORKER_VMS - 1) / WORKER_VMS);
	if (sv->procs < (u32)cpus)
		sv->procs = (u32)(cpus > 0 ? cpus : 1);
	if (sv->procs > WORKERS_MAX)
		sv->procs = WORKERS_MAX;
	if (sv->o->workers)
		sv->procs = sv->o->workers;
	if (sv->procs < (sv->o->count + per - 1) / per)
		sv->procs = (u32)((sv->o->count + per - 1) / per);
	if (sv->procs > sv->o->count)
		sv->procs = sv->o->count;
	sv->threads = sv->o->threads ? sv->o->threads : 1;
	if (sv->procs * sv->threads > MAX_LINKS) {
		/* Not a host limit but ours: fewer, busier shards will do. */
		sv->threads = 1;
		if (sv->procs > MAX_LINKS)
			sv->procs = MAX_LINKS;
	}
	if (sv->threads > ((u64)sv->o->count + sv->procs - 1) / sv->procs)
		sv->threads = (u32)(((u64)sv->o->count + sv->procs - 1) / sv->procs);
	sv->vm_per_shard = (u32)(vms / sv->threads);
	if (sv->o->resident) {
		u32 shards = sv->procs * sv->threads, want = (sv->o->resident + shards - 1) / shards;

		if (want < sv->vm_per_shard)
			sv->vm_per_shard = want;
	}
	if (!sv->o->json && (long)sv->o->count > host_pids_left() - PID_RESERVE) {
		long left = host_pids_left() - PID_RESERVE;
		char more[64];

		if (left > 0)
			snprintf(more, sizeof(more), "about %ld more live VMs", left);
		else
			snprintf(more, sizeof(more), "no more live VMs beyond a reserve of %d", PID_RESERVE);
		sv_say(sv,
		       "kernel.pid_max %ld leaves PIDs for %s (each has a kernel thread): root can raise it with "
		       "sysctl kernel.pid_max=4194304",
		       host_read_long("/proc/sys/kernel/pid_max", 32768), more);
	}
	if (!sv->o->json)
		sv_say(sv,
		       "RLIMIT_NOFILE %llu, vm.max_map_count %ld -> at most %llu %s per process (limited by %s): "
		       "using %u worker process%s x %u threads",
		       (unsigned long long)rl.rlim_max, maps, (unsigned long long)vms,
		       sv->o->park == PARK_NEVER ? "guests" : "resident guests (parked ones hold no fd)",
		       vms < by_fd && vms < by_map ? "--per-process"
		       : by_fd <= by_map	   ? "open files"
						   : "mappings",
		       sv->procs, sv->procs == 1 ? "" : "es", sv->threads);
	return (u32)per;
}

static void worker_main(struct spawn *sv, u32 proc)
{
	struct rlimit rl;
	pthread_t tid[256];
	struct shard *shards;
	u32 n = 0, first = UINT32_MAX;
	char err[256];
	sigset_t set;

	/* Die with the supervisor; Ctrl-C is the supervisor's to handle. */
	prctl(PR_SET_PDEATHSIG, SIGKILL);
	signal(SIGINT, SIG_IGN);
	signal(SIGPIPE, SIG_IGN);
	sigemptyset(&set);
	sigprocmask(SIG_SETMASK, &set, NULL);
	getrlimit(RLIMIT_NOFILE, &rl);
	rl.rlim_cur = rl.rlim_max;
	setrlimit(RLIMIT_NOFILE, &rl);
	kick_install();
	/* Never give heap memory back to the kernel piecemeal: each munmap or
	 * MADV_DONTNEED in a process with thousands of KVM VMs walks all their
	 * MMU notifiers (see ring_get in shard.c). */
	mallopt(M_TRIM_THRESHOLD, INT_MAX);
	close(sv->listen_fd); /* the supervisor's alone */
	frontdoor_close(sv);
	close(sv->dir_fd);
	metrics_file_close(&sv->metrics, false);
	shards = calloc(sv->threads, sizeof(*shards));
	if (!shards) {
		fprintf(stderr, "kvmlite: worker %u: out of memory\n", proc);
		_exit(1);
	}
	for (u32 i = 0; i < sv->nlinks; i++) {
		struct link *l = &sv->links[i];

		if (l->proc != proc) {
			close(l->fd);
			continue;
		}
		if (shard_init(&shards[n], i, l->first, l->count, &sv->kvm, sv->images, sv->o, l->fd, sv->log_fd,
			       sv->vm_per_shard) < 0) {
			fprintf(stderr, "kvmlite: %s\n", shards[n].err);
			_exit(1);
		}
		first = l->first < first ? l->first : first;
		n++;
	}
	for (u32 i = 0; i < n; i++)
		pthread_create(&tid[i], NULL, shard_main, &shards[i]);
	/* This thread only waits for the shards now. */
	if (!sv->o->no_sandbox && sandbox_enter(SANDBOX_WORKER, err, sizeof(err)) < 0) {
		fprintf(stderr, "kvmlite: %s\n", err);
		_exit(1);
	}
	sandbox_probe(SANDBOX_WORKER);
	for (u32 i = 0; i < n; i++)
		pthread_join(tid[i], NULL);
	_exit(0);
}

static int sv_fork_workers(struct spawn *sv, u32 per_proc)
{
	u32 id = 0;

	sv->nlinks = sv->procs * sv->threads;
	sv->links = calloc(sv->nlinks, sizeof(*sv->links));
	sv->pids = calloc(sv->procs, sizeof(pid_t));
	if (!sv->links || !sv->pids) {
		sv->nlinks = sv->procs = 0; /* nothing to tear down */
		return -1;		    /* errno: ENOMEM */
	}
	for (u32 p = 0, li = 0; p < sv->procs; p++) {
		/* Even shares, each within per_proc since procs was sized so. */
		u32 in_proc = (sv->o->count - id + (sv->procs - p) - 1) / (sv->procs - p);

		if (in_proc > per_proc)
			in_proc = per_proc;
		for (u32 t = 0; t < sv->threads; t++, li++) {
			struct link *l = &sv->links[li];
			u32 share = (in_proc + sv->threads - 1 - t) / sv->threads;
			int sp[2];

			if (socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sp) < 0)
				return -1;
			l->fd = sp[0];
			l->proc = p;
			l->first = sv->o->first_id + id;
			l->count = share;
			id += share;
			l->worker_fd = sp[1];
		}
	}
	for (u32 p = 0; p < sv->procs; p++) {
		pid_t pid;

		fflush(NULL);
		pid = fork();
		if (pid < 0)
			return -1;
		if (pid == 0) {
			for (u32 i = 0; i < sv->nlinks; i++) {
				close(sv->links[i].fd);
				sv->links[i].fd = sv->links[i].worker_fd;
			}
			worker_main(sv, p);
		}
		sv->pids[p] = pid;
	}
	for (u32 i = 0; i < sv->nlinks; i++) {
		struct link *l = &sv->links[i];

		close(l->worker_fd);
		l->worker_fd = -1;
		l->pid = sv->pids[l->proc];
	}
	return 0;
}

/* ---- the loop ---- */

/*
 * The supervisor's own timer: every 200 ms while guests are being created
 * (progress, memory and PID budgets), every second for the status line on a
 * terminal once all booted, otherwise only once, at the --for deadline:
 * an idle spawn wakes nobody.
 */
static void sv_tick_arm(struct spawn *sv)
{
	struct io_uring_sqe *sqe;
	u64 ns = TICK_NS, now = clock_now();

	if (sv->t_booted) {
		ns = sv->tty && !sv->o->json ? 1000000000ull : 0;
		if (sv->stop_at && (ns == 0 || sv->stop_at - now < ns))
			ns = sv->stop_at > now ? sv->stop_at - now : 1;
		if (sv->metrics.dir_fd >= 0 && (ns == 0 || sv->metrics_next - now < ns))
			ns = sv->metrics_next > now ? sv->metrics_next - now : 1;
		if (ns == 0)
			return;
	}
	sqe = link_sqe(sv);
	sv->tick_ts = clock_kernel_timespec(ns);
	io_uring_prep_timeout(sqe, &sv->tick_ts, 0, 0);
	io_uring_sqe_set_data64(sqe, UD(K_TICK, 0, 0));
}

static void sv_signal_arm(struct spawn *sv)
{
	struct io_uring_sqe *sqe = link_sqe(sv);

	io_uring_prep_read(sqe, sv->sig_fd, sv->sigbuf, sizeof(sv->sigbuf), 0);
	io_uring_sqe_set_data64(sqe, UD(K_SIGNAL, 0, 0));
}

/* CPU time of the supervisor and every worker, in clock ticks. */
static u64 sv_vmm_ticks(struct spawn *sv)
{
	u64 t = proc_cpu_ticks(getpid());

	for (u32 p = 0; p < sv->procs; p++)
		if (sv->pids[p] > 0)
			t += proc_cpu_ticks(sv->pids[p]);
	return t;
}

/* Every guest booted, failed or was lost (or the budget stopped creation
 * and every created one settled): the spawn is complete. */
static void sv_check_booted(struct spawn *sv)
{
	u32 settled = sv->settled; /* each guest once: booted, ended, silent or lost, whichever came first */
	u64 now, rss;

	if (sv->t_booted || !(settled >= sv->o->count || (sv->create_stopped && settled >= sv->created)))
		return;
	now = clock_now();
	sv->t_booted = now;
	cpustat_read(&sv->cpu_booted);
	meminfo_read(&sv->mem_booted);
	sv_worker_mem(sv, &rss, &sv->anon_booted);
	sv->vmm_ticks_booted = sv_vmm_ticks(sv);
	/* --for 0 still measures for SETTLE_NS: the idle CPU and the host's
	 * memory noise need a window with the guests standing still. */
	if (sv->o->for_s >= 0)
		sv->stop_at = now + (sv->o->for_s > 0 ? (u64)(sv->o->for_s * 1e9) : SETTLE_NS);
}

static void sv_tick(struct spawn *sv)
{
	u64 now = clock_now();
	struct meminfo m;

	/* Stop creating before host memory in use reaches the budget, or
	 * before the host runs out of PIDs (each KVM VM has a kernel thread):
	 * either way the host must stay usable. With parking, the shards
	 * first hold the number of VMs where it is and park to make room. */
	if (!sv->create_stopped && sv->created < sv->o->count) {
		const char *why = NULL;
		bool mem_read = meminfo_read(&m) == 0;
		bool pids_short = host_pids_left() < PID_RESERVE;
		u32 hold_at = sv->o->mem_budget > PARK_MARGIN ? sv->o->mem_budget - PARK_MARGIN : 0;

		if (sv->o->park != PARK_NEVER && !sv->held &&
		    ((mem_read && meminfo_used_pct(&m) >= hold_at) || pids_short)) {
			sv->held = true;
			for (u32 i = 0; i < sv->nlinks; i++)
				link_control(sv, &sv->links[i], WIRE_HOLD, 0);
			if (sv->o->verbose)
				sv_say(sv, "%s with %u guests live: parking to make room from now on",
				       pids_short ? "PIDs are running short" : "host memory is near the --mem-budget",
				       sv_live(sv));
		}
		if (mem_read && meminfo_used_pct(&m) >= sv->o->mem_budget)
			why = "host memory in use reached the --mem-budget";
		else if (pids_short && sv->o->park == PARK_NEVER)
			why = "the host is near kernel.pid_max (one kernel thread per KVM VM)";
		if (why) {
			sv->create_stopped = true;
			for (u32 i = 0; i < sv->nlinks; i++)
				link_control(sv, &sv->links[i], WIRE_NOCREATE, 0);
			sv_say(sv, "%s after %u guests: creating no more", why, sv->created);
			snprintf(sv->stop_reason, sizeof(sv->stop_reason), "%s", why);
		}
	}
	sv_check_booted(sv);
	if (sv->stop_at && now >= sv->stop_at && !sv->stopping) {
		sv->stopping = true;
		if (!sv->create_stopped)
			snprintf(sv->stop_reason, sizeof(sv->stop_reason), "done (--for%s)", sv->o->for_s > 0 ? "" : " 0");
	}
	if (sv->metrics.dir_fd >= 0 && now >= sv->metrics_next) {
		control_metrics_request(sv);
		sv->metrics_next = now + METRICS_NS;
	}
	if (now - sv->t_last_progress >= TICK_NS - TICK_NS / 10) {
		sv_progress(sv, now);
		sv->t_last_progress = now;
	}
}

static void sv_handle(struct spawn *sv, u64 ud, int res)
{
	u32 idx = UD_IDX(ud);

	switch (UD_KIND(ud)) {
	case K_ACCEPT:
		control_accepted(sv, res);
		return;
	case K_CONN_READ:
	case K_CONN_POLL:
	case K_CONN_HUP: {
		struct conn *c = &sv->conns[idx];

		if (!c->used || c->gen != UD_GEN(ud))
			return;
		if (UD_KIND(ud) != K_CONN_READ) {
			control_polled(sv, c, UD_KIND(ud) == K_CONN_HUP, res);
			return;
		}
		c->read_busy = false;
		if (res <= 0)
			c->closing = true; /* the client went away (or half-closed) */
		else
			c->rlen += (size_t)res;
		control_process(sv, c);
		control_arm(sv, c);
		return;
	}
	case K_LINK_READ:
		sv_link_read(sv, &sv->links[idx], res);
		return;
	case K_LINK_POLL:
		sv->links[idx].poll_busy = false;
		link_arm(sv, &sv->links[idx]);
		link_fit(sv, &sv->links[idx]);
		return;
	case K_ACCEPT_WAIT:
		sv->accept_busy = false;
		control_accept_arm(sv);
		return;
	case K_SIGNAL: {
		struct signalfd_siginfo *si = (void *)sv->sigbuf;

		if (res == sizeof(*si)) {
			if (si->ssi_signo == SIGCHLD) {
				sv_reap_children(sv);
			} else if (!sv->stopping) {
				sv->stopping = true;
				snprintf(sv->stop_reason, sizeof(sv->stop_reason), "stopped by signal %u",
					 si->ssi_signo);
			}
		}
		sv_signal_arm(sv);
		return;
	}
	case K_TICK:
		sv_tick(sv);
		sv_tick_arm(sv);
		return;
	case K_FRONT_ACCEPT:
	case K_FRONT_WAIT:
	case K_FRONT_SWEEP:
	case K_FRONT_RETRY:
		frontdoor_handle(sv, ud, res);
		return;
	}
}

static void sv_teardown(struct spawn *sv)
{
	/* KVM frees a VM in about a millisecond here, one after another per
	 * worker: 20,000 guests take a while. Past this, the supervisor stops
	 * waiting: a worker still there dies with it (PR_SET_PDEATHSIG), and
	 * the kernel still frees what it held. The supervisor signals no
	 * process itself (docs/security.md). */
	u64 deadline = clock_now() + 120000000000ull;

	if (sv->tty && !sv->o->json) { /* erased when done: within the width, like the status line */
		char line[128];

		snprintf(line, sizeof(line), "kvmlite: stopping: %u worker%s releasing %u guests...", sv->procs,
			 sv->procs == 1 ? "" : "s", sv_live(sv));
		cli_cut(line, cli_columns(STDERR_FILENO) - 1);
		fprintf(stderr, "%s", line);
	}

	/* Closing a shard's socket tells it to end its guests and exit. */
	for (u32 i = 0; i < sv->nlinks; i++) {
		if (sv->links[i].fd >= 0)
			close(sv->links[i].fd);
		sv->links[i].fd = -1;
	}
	for (u32 p = 0; p < sv->procs; p++) {
		int status;

		while (sv->pids[p] > 0 && clock_now() < deadline) {
			pid_t r = waitpid(sv->pids[p], &status, WNOHANG);

			if (r == sv->pids[p] || (r < 0 && errno == ECHILD))
				break;
			usleep(10000);
		}
		sv->pids[p] = 0;
	}
	if (sv->tty && !sv->o->json)
		fprintf(stderr, "\r\033[K");
}

/* Everything the supervisor holds, once the ring and the workers are gone. */
static void sv_free(struct spawn *sv)
{
	for (u32 i = 0; sv->conns && i < sv->nconns; i++) {
		if (sv->conns[i].used)
			close(sv->conns[i].fd);
		free(sv->conns[i].out.buf);
	}
	for (u32 i = 0; sv->links && i < sv->nlinks; i++) {
		free(sv->links[i].out.buf);
		line_buf_free(&sv->links[i].lines);
	}
	if (sv->listen_fd >= 0)
		close(sv->listen_fd);
	if (sv->sig_fd >= 0)
		close(sv->sig_fd);
	if (sv->log_fd >= 0)
		close(sv->log_fd);
	if (sv->dir_fd >= 0)
		close(sv->dir_fd);
	if (sv->spare_fd >= 0)
		close(sv->spare_fd);
	frontdoor_free(sv);
	/* gone with the spawn, as the socket is: no stale figures for a scraper */
	metrics_file_close(&sv->metrics, true);
	if (sv->kvm.fd > 0)
		kvm_close(&sv->kvm);
	free(sv->conns);
	free(sv->pend);
	free(sv->links);
	free(sv->pids);
	free(sv->gflags);
	free(sv->boot_us);
	free(sv->watchers);
	free(sv);
}

int spawn_main(const struct spawn_opts *o)
{
	struct spawn *sv = calloc(1, sizeof(*sv));
	FILE *times = NULL;
	char err[256];
	sigset_t set;
	u32 per;
	int status = 0;

	sv->o = o;
	sv->listen_fd = sv->sig_fd = sv->log_fd = sv->dir_fd = sv->spare_fd = -1;
	sv->metrics.dir_fd = sv->metrics.fd[0] = sv->metrics.fd[1] = -1;
	sv->pause_ts = (struct __kernel_timespec){ .tv_nsec = ACCEPT_PAUSE };
	sv->tty = isatty(STDERR_FILENO);
	for (int i = 0, upto = 0; i < o->nguest; i++) {
		if (loader_open(o->guest[i], &sv->images[i].img, err, sizeof(err)) < 0) {
			fprintf(stderr, "kvmlite: %s\n", err);
			goto fail;
		}
		upto = o->guest_count[i] && i < o->nguest - 1 ? upto + (int)o->guest_count[i] : (int)o->count;
		sv->images[i].upto = o->first_id + (u32)upto;
	}
	if (kvm_open(&sv->kvm, err, sizeof(err)) < 0) {
		fprintf(stderr, "kvmlite: %s\n", err);
		goto fail;
	}
	sv->gflags = calloc(o->count, 1);
	sv->boot_us = calloc(o->count, sizeof(*sv->boot_us));
	sv->watchers = calloc(o->count, sizeof(*sv->watchers));
	sv->nconns = MAX_CONNS;
	sv->conns = calloc(MAX_CONNS, sizeof(*sv->conns));
	sv->npend = MAX_CONNS + 16;
	sv->pend = calloc(sv->npend, sizeof(*sv->pend));
	if (!sv->gflags || !sv->boot_us || !sv->watchers || !sv->conns || !sv->pend) {
		fprintf(stderr, "kvmlite: out of memory for the supervisor's tables of %u guests (%zu bytes each)\n",
			o->count, 1 + sizeof(*sv->boot_us) + sizeof(*sv->watchers));
		goto fail;
	}
	snprintf(sv->stop_reason, sizeof(sv->stop_reason), "running");
	/* One log for all workers: O_APPEND makes each batch land whole. */
	if (o->log && (sv->log_fd = open(o->log, O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0600)) < 0) {
		fprintf(stderr, "kvmlite: --log %s: %s\n", o->log, strerror(errno));
		goto fail;
	}
	if (o->metrics_file && metrics_file_open(&sv->metrics, o->metrics_file, err, sizeof(err)) < 0) {
		fprintf(stderr, "kvmlite: %s\n", err);
		goto fail;
	}
	if (o->boot_times && !(times = fopen(o->boot_times, "we"))) {
		fprintf(stderr, "kvmlite: --boot-times %s: %s\n", o->boot_times, strerror(errno));
		goto fail;
	}
	if (control_listen(sv, err, sizeof(err)) < 0) {
		fprintf(stderr, "kvmlite: %s\n", err);
		goto fail;
	}
	meminfo_read(&sv->mem0);
	per = sv_plan(sv);
	if (frontdoor_open(sv, err, sizeof(err)) < 0) {
		fprintf(stderr, "kvmlite: %s\n", err);
		control_unlink(sv);
		goto fail;
	}
	/* Signals arrive through a signalfd read on the ring: block them
	 * before forking so no worker inherits a handler of ours. */
	sigemptyset(&set);
	sigaddset(&set, SIGINT);
	sigaddset(&set, SIGTERM);
	sigaddset(&set, SIGHUP);
	sigaddset(&set, SIGCHLD);
	sigprocmask(SIG_BLOCK, &set, NULL);
	signal(SIGPIPE, SIG_IGN);
	sv->t0 = clock_now();
	if (sv_fork_workers(sv, per) < 0) {
		fprintf(stderr, "kvmlite: starting workers: %s\n", strerror(errno));
		sv_teardown(sv);
		control_unlink(sv);
		goto fail;
	}
	/* The workers write the log; the supervisor writes to no file. */
	if (sv->log_fd >= 0)
		close(sv->log_fd);
	sv->log_fd = -1;
	/* An fd kept in reserve, for the moment all others are in use (control_accepted). */
	sv->spare_fd = open("/dev/null", O_RDONLY | O_CLOEXEC);
	sv->sig_fd = signalfd(-1, &set, SFD_CLOEXEC);
	if (sandbox_ring_init(&sv->ring, 256, SANDBOX_SUPERVISOR, !o->no_sandbox, NULL, 0) < 0) {
		fprintf(stderr, "kvmlite: io_uring_queue_init: %s\n", strerror(errno));
		sv_teardown(sv);
		control_unlink(sv);
		goto fail;
	}
	if (!o->json)
		sv_say(sv, "spawning %u %s%s guests; control socket %s", o->count, sv->images[0].img.name,
		       o->nguest > 1 ? " (and other)" : "", sv->path);
	for (u32 i = 0; i < sv->nlinks; i++)
		link_arm(sv, &sv->links[i]);
	control_accept_arm(sv);
	frontdoor_arm(sv);
	sv_signal_arm(sv);
	sv_tick_arm(sv);
	/* Everything is open that the supervisor will ever open, but /proc
	 * files; from here on it serves clients and watches workers, and
	 * writes only to stdout, stderr, the files it was given and the
	 * --metrics-file (sandbox.h). */
	int out_fds[1];
	struct sandbox_grant grant = { .dir = sv->dir_fd,
				       .out = out_fds,
				       .metrics = sv->metrics.dir_fd >= 0,
				       .metrics_dir = sv->metrics.dir_fd,
				       .metrics_fd = { sv->metrics.fd[0], sv->metrics.fd[1] } };

	if (times)
		out_fds[grant.nout++] = fileno(times);
	sv->metrics_next = sv->t0;
	if (!o->no_sandbox && sandbox_enter_supervisor(&grant, err, sizeof(err)) < 0) {
		fprintf(stderr, "kvmlite: %s\n", err);
		io_uring_queue_exit(&sv->ring);
		sv_teardown(sv);
		control_unlink(sv);
		goto fail;
	}
	sandbox_probe(SANDBOX_SUPERVISOR);
	while (!sv->stopping) {
		struct io_uring_cqe *cqe;

		io_uring_submit_and_wait(&sv->ring, 1);
		while (io_uring_peek_cqe(&sv->ring, &cqe) == 0) {
			u64 ud = cqe->user_data;
			int res = cqe->res;

			io_uring_cqe_seen(&sv->ring, cqe);
			sv_handle(sv, ud, res);
		}
	}
	/* Answer whoever asked to stop before the socket goes away. */
	for (u32 i = 0; i < sv->nconns; i++)
		if (sv->conns[i].used)
			outbuf_flush(sv->conns[i].fd, &sv->conns[i].out);
	sv_summary(sv);
	if (times)
		sv_boot_times_write(sv, times);
	close(sv->listen_fd);
	sv->listen_fd = -1;
	frontdoor_close(sv);
	control_unlink(sv);
	/* The ring goes first: its pending reads hold the shard sockets open,
	 * and the workers wait for those to close before they end. */
	io_uring_queue_exit(&sv->ring);
	sv_teardown(sv);
	status = sv->failed || sv->lost || sv->silent ? 1 : 0;
	sv_free(sv);
	return status;
fail:
	if (times)
		fclose(times);
	sv_free(sv);
	return 2;
}
