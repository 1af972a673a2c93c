/* summary.c - what the supervisor reports: the status line, the summary and its figures, the stats JSON and metrics. */
#include <errno.h>
#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "cli.h"
#include "clock.h"
#include "summary.h"
#include "version.h"

void summary_say(struct spawn *sv, const char *fmt, ...)
{
	va_list ap;

	if (sv->tty)
		fprintf(stderr, "\r\033[K");
	va_start(ap, fmt);
	cli_vwrap(stderr, "kvmlite: ", 9, cli_columns(STDERR_FILENO), fmt, ap);
	va_end(ap);
}

/* Guests created and not ended or lost: resident (on a KVM VM) or parked. */
u32 summary_live(const struct spawn *sv)
{
	u32 gone = sv->ended + sv->lost_live;

	return sv->created > gone ? sv->created - gone : 0;
}

/* Guests parked now, as their shards last said, and what they take. */
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

static const char *const park_names[] = { "never", "auto", "always" };

/* The --park mode asked for, and what --park auto chose. */
static const char *sv_park_name(const struct spawn *sv, bool said)
{
	if (said && sv->park_early)
		return "auto, parking every guest as it halts (more guests than the host holds on KVM VMs)";
	return park_names[sv->o->park];
}

void summary_stats_json(struct spawn *sv, struct outbuf *b, const u64 *sums)
{
	u64 bytes;
	u32 live = summary_live(sv), parked = sv_parked(sv, &bytes);

	outbuf_printf(b,
		      "{\"guests\":%u,\"created\":%u,\"booted\":%u,\"live\":%u,\"resident\":%u,\"parked\":%u,"
		      "\"ended\":%u,\"failed\":%u,\"silent\":%u,\"lost\":%u,\"park\":\"%s\",\"clients_dropped\":%u,"
		      "\"accept_errors\":%u",
		      sv->o->count, sv->created, sv->booted, live, live > parked ? live - parked : 0, parked,
		      sv->ended - sv->failed, sv->failed, sv->silent, sv->lost, sv_park_name(sv, false),
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

void summary_metrics_write(struct spawn *sv, const char *json, size_t len)
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
			summary_say(sv, "--metrics-file %s: cannot write: %s", sv->metrics.path,
				    n == 0 || n >= METRICS_TEXT_MAX ? "bad counters" : strerror(errno));
		}
	}
	free(in);
	free(text);
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
void summary_progress(struct spawn *sv, u64 now)
{
	struct meminfo m;
	double t = sv_elapsed(sv, now), rate = t > 0 ? sv->booted / t : 0;
	u64 bytes;
	u32 live = summary_live(sv), parked = sv_parked(sv, &bytes), resident = live > parked ? live - parked : 0;
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

void summary_worker_mem(struct spawn *sv, u64 *rss, u64 *anon)
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

/* The workers' page tables (VmPTE), KiB: those of the guests' RAM among them. NAN if unknown. */
static double summary_worker_ptes(struct spawn *sv)
{
	double sum = 0;

	for (u32 p = 0; p < sv->procs; p++) {
		long v = sv->pids[p] > 0 ? proc_pte_kib(sv->pids[p]) : -1;

		if (v < 0)
			return NAN;
		sum += (double)v;
	}
	return sum;
}

/* CPU time of the supervisor and every worker, in clock ticks. */
u64 summary_vmm_ticks(struct spawn *sv)
{
	u64 t = proc_cpu_ticks(getpid());

	for (u32 p = 0; p < sv->procs; p++)
		if (sv->pids[p] > 0)
			t += proc_cpu_ticks(sv->pids[p]);
	return t;
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
 *
 * Whole-VMM figures are totals. Each per-guest figure is divided by the
 * guests it is about: per parked guest what the shards count for their
 * parked guests, per resident guest the rest, and only when the resident
 * guests are many enough to outweigh the fixed costs in that rest
 * (RESIDENT_FIGURE_MIN a shard; with a million parked and 5 resident,
 * dividing the rest by 5 gave "8,199 KiB per resident guest").
 */
struct figures {
	bool timed;
	double boot_s, boot_ms[3], stage_us[NSTAGES];
	u32 live, parked, resident, spare;
	bool per_resident;		     /* enough resident guests for per-guest figures */
	u64 rss, anon;			     /* KiB, all workers */
	double parked_total_kib, parked_kib; /* the shards' count for parked guests: in all, per guest */
	double template_kib;		     /* their templates, in all: a fixed cost per shard and image */
	u64 templates;
	double kernel_total_kib, slab_total_kib, ptables_total_kib; /* host-wide, since the start */
	double user_kib, rss_kib, kernel_kib, slab_kib;		    /* per resident guest */
	double noise_kib, noise_s;				    /* host-wide, over the window after booting */
	double mem_used_pct, idle_cpu, vmm_cpu;
	u64 started_unix_ns; /* the start on the wall clock, to set beside a launcher's (dist/slurm) */
};

/*
 * Resident guests a shard must hold, on average, for per-resident figures.
 * What is not a parked guest's includes each shard's fixed costs: ~360
 * KiB of its worker's own memory (buffers, rings, tables) and up to
 * SHARD_POOL_LOW spare VMs (~350 KiB of kernel memory each). At 250
 * resident guests a shard (13 KiB and ~375 KiB each) they are at most a
 * tenth of the figure; below it the figures are shown as totals only.
 */
#define RESIDENT_FIGURE_MIN 250

/* A host-wide total, or NAN when it is below zero or within noise. */
static double sv_host_total(double total_kib, double noise_kib)
{
	return total_kib > 0 && total_kib > noise_kib ? total_kib : NAN;
}

/* Guests, KVM VMs in the shards' pools, and what parked guests take (KiB), as the shards last said. */
static void sv_held(struct spawn *sv, struct figures *f)
{
	u64 pbytes;

	f->live = summary_live(sv);
	f->parked = sv_parked(sv, &pbytes);
	f->resident = f->live > f->parked ? f->live - f->parked : 0;
	for (u32 i = 0; i < sv->nlinks; i++)
		f->spare += sv->links[i].dead ? 0 : sv->links[i].spare;
	f->parked_total_kib = (double)pbytes / 1024.0;
	for (u32 i = 0; i < sv->nlinks; i++) {
		f->templates += sv->links[i].dead ? 0 : sv->links[i].templates;
		f->template_kib += sv->links[i].dead ? 0 : (double)sv->links[i].template_bytes / 1024.0;
	}
	f->parked_kib = f->parked ? f->parked_total_kib / f->parked : NAN;
	f->per_resident = f->resident && f->resident >= (u64)RESIDENT_FIGURE_MIN * sv->nlinks;
}

/* The host's CPU and kvmlite's share since all booted, and how far host memory moved meanwhile. */
static void sv_idle(struct spawn *sv, struct figures *f, u64 now, const struct meminfo *m)
{
	struct cpustat cpu;
	long hz = sysconf(_SC_CLK_TCK), cpus = sysconf(_SC_NPROCESSORS_ONLN);
	u64 ticks;

	if (!sv->t_booted || now - sv->t_booted < SETTLE_NS - SETTLE_NS / 10 || cpustat_read(&cpu) < 0)
		return;
	f->idle_cpu = cpustat_busy_pct(&sv->cpu_booted, &cpu);
	/* kvmlite's own share: its processes' CPU time over the same window
	 * (unknown if a worker died meanwhile: its time left the sum) */
	ticks = summary_vmm_ticks(sv);
	f->vmm_cpu = ticks < sv->vmm_ticks_booted ? NAN
						  : 100.0 * (double)(ticks - sv->vmm_ticks_booted) / (double)hz /
							    ((double)(now - sv->t_booted) / 1e9) / (double)cpus;
	/* What the host's memory did meanwhile that kvmlite's processes did not. */
	f->noise_kib = ((double)sv->mem_booted.available_kib - (double)m->available_kib) -
		       ((double)f->anon - (double)sv->anon_booted);
	f->noise_kib = f->noise_kib < 0 ? -f->noise_kib : f->noise_kib;
	f->noise_s = (double)(now - sv->t_booted) / 1e9;
}

static void sv_figures(struct spawn *sv, struct figures *f)
{
	struct meminfo m;
	struct timespec wall;
	u64 now = clock_now();
	double user, noise;

	memset(f, 0, sizeof(*f));
	clock_gettime(CLOCK_REALTIME, &wall);
	f->started_unix_ns = (u64)wall.tv_sec * 1000000000ull + (u64)wall.tv_nsec - (now - sv->t0);
	f->timed = sv_boot_times(sv, f->boot_ms, f->stage_us);
	f->boot_s = sv->t_booted ? (double)(sv->t_booted - sv->t0) / 1e9 : NAN;
	sv_held(sv, f);
	meminfo_read(&m);
	f->mem_used_pct = meminfo_used_pct(&m);
	summary_worker_mem(sv, &f->rss, &f->anon);
	f->idle_cpu = f->vmm_cpu = f->noise_kib = NAN;
	sv_idle(sv, f, now, &m);
	noise = isnan(f->noise_kib) ? 0 : f->noise_kib;
	/* What the host lost, minus what the VMM's processes allocated: the
	 * kernel's share (the VMs held, resident guests' and spare ones, and
	 * the page tables of every guest's RAM in the workers). */
	f->kernel_total_kib =
		sv_host_total((double)sv->mem0.available_kib - (double)m.available_kib - (double)f->anon, noise);
	f->slab_total_kib = sv_host_total((double)m.slab_kib - (double)sv->mem0.slab_kib, 0);
	f->ptables_total_kib = summary_worker_ptes(sv); /* exact, where the host-wide growth holds others' too */
	f->user_kib = f->rss_kib = f->kernel_kib = f->slab_kib = NAN;
	if (!f->per_resident)
		return;
	/* The shards count what their parked guests take; the rest of the VMM's
	 * memory is the resident guests'. No figure mixes the two. */
	user = (double)f->anon - f->parked_total_kib;
	f->user_kib = user >= 0 ? user / f->resident : NAN;
	f->rss_kib = (double)f->rss >= f->parked_total_kib ? ((double)f->rss - f->parked_total_kib) / f->resident : NAN;
	/* the page tables of the parked guests' RAM are theirs, by their share */
	f->kernel_kib =
		(f->kernel_total_kib - (isnan(f->ptables_total_kib) ? 0 : f->ptables_total_kib) * f->parked / f->live) /
		f->resident;
	f->slab_kib = f->slab_total_kib / f->resident;
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
	       sv_park_name(sv, false), sv->resume_failed);
	printf(",\"park_early\":%s", sv->park_early ? "true" : "false");
	json_num("time_to_all_booted_s", f->boot_s, 3);
	json_num("boot_rate_per_s", f->boot_s > 0 ? sv->booted / f->boot_s : NAN, 1);
	printf(",\"spare_vms_at_end\":%u", f->spare);
	json_num("vmm_userspace_kib_per_guest", f->user_kib, 2);
	json_num("vmm_userspace_kib_per_parked", f->parked_kib, 2);
	json_num("vmm_rss_kib_per_guest", f->rss_kib, 2);
	printf(",\"vmm_anon_kib\":%llu", (unsigned long long)f->anon);
	json_num("vmm_parked_kib", f->parked_total_kib, 0);
	printf(",\"templates\":%llu", (unsigned long long)f->templates);
	json_num("vmm_template_kib", f->template_kib, 0);
	json_num("kernel_kib_per_guest", f->kernel_kib, 1);
	json_num("slab_kib_per_guest", f->slab_kib, 1);
	json_num("kernel_kib", f->kernel_total_kib, 0);
	json_num("slab_kib", f->slab_total_kib, 0);
	json_num("page_tables_kib", f->ptables_total_kib, 0);
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

/* How long the guests took to boot: all of them, each, and each stage. */
static void sv_print_boot(struct spawn *sv, const struct figures *f, int w)
{
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
				 f->stage_us[STAGE_SET_MEMORY], f->stage_us[STAGE_SET_REGS],
				 f->stage_us[STAGE_FIRMWARE], f->stage_us[STAGE_FIRST_BYTE]);
	}
}

/* Resident guests' figures: per guest when they are many enough, else why not. */
static void sv_print_resident(struct spawn *sv, const struct figures *f, int w)
{
	if (!f->per_resident) {
		cli_wrap(stdout, "  per resident guest", LABEL, w,
			 "none: %u resident guests are fewer than %u a shard (%u shards), too few for a figure "
			 "not made of the shards' fixed costs; totals below",
			 f->resident, RESIDENT_FIGURE_MIN, sv->nlinks);
		return;
	}
	if (!isnan(f->user_kib))
		cli_wrap(stdout, "  VMM userspace", LABEL, w,
			 "%.1f KiB per resident guest (anonymous: guest pages, output rings, state)", f->user_kib);
	if (!isnan(f->kernel_kib))
		cli_wrap(stdout, "  kernel", LABEL, w,
			 "%.0f KiB per resident guest (MemAvailable drop minus VMM userspace and the parked guests' "
			 "page tables; the host's own noise ±%.1f KiB per guest)",
			 f->kernel_kib, isnan(f->noise_kib) ? 0.0 : f->noise_kib / f->resident);
	if (!isnan(f->slab_kib))
		cli_wrap(stdout, "", LABEL, w,
			 "of it slab %.0f KiB, and %.1f KiB of kvm_run pages mapped into the VMM (in its RSS)",
			 f->slab_kib, (double)(f->rss - f->anon) / f->resident);
}

/* Whole-VMM figures, as totals: the workers' memory, and the kernel's. */
static void sv_print_totals(const struct figures *f, int w)
{
	char noise[128], slab[64] = "", pt[64] = "";

	cli_wrap(stdout, "  VMM userspace, all", LABEL, w,
		 "%llu KiB (the workers' anonymous memory), of which parked guests %.0f KiB; %.1f KiB per live "
		 "guest, everything included",
		 (unsigned long long)f->anon, f->parked_total_kib, f->live ? (double)f->anon / f->live : 0.0);
	if (isnan(f->kernel_total_kib)) {
		sv_noise_text(f, noise, sizeof(noise));
		cli_wrap(stdout, "  kernel, all", LABEL, w, "%s", noise);
		return;
	}
	if (!isnan(f->slab_total_kib))
		snprintf(slab, sizeof(slab), "; of it slab %.0f KiB", f->slab_total_kib);
	if (!isnan(f->ptables_total_kib))
		snprintf(pt, sizeof(pt), "%s page tables %.0f KiB", slab[0] ? "," : "; of it", f->ptables_total_kib);
	cli_wrap(stdout, "  kernel, all", LABEL, w,
		 "%.0f KiB (MemAvailable drop minus VMM userspace): %u resident guests' and %u spare KVM VMs, the "
		 "page tables of every guest's RAM%s%s",
		 f->kernel_total_kib, f->resident, f->spare, slab, pt);
}

/* What the guests live at the end take: per parked guest, per resident guest, and in all. */
static void sv_print_memory(struct spawn *sv, const struct figures *f, int w)
{
	if (!f->live)
		return;
	cli_wrap(stdout, "  at the end", LABEL, w,
		 "%u resident (on a KVM VM), %u parked (state only), %u spare KVM VMs; --park %s", f->resident,
		 f->parked, f->spare, sv_park_name(sv, true));
	if (f->parked)
		cli_wrap(stdout, "  parked", LABEL, w,
			 "%.1f KiB per parked guest (its vCPU state and RAM as their difference from its image's "
			 "template, kept output, its bookkeeping); no kernel memory but the page tables of its "
			 "RAM; and %llu templates (one per image and shard, fixed) %.0f KiB in all",
			 f->parked_kib, (unsigned long long)f->templates, f->template_kib);
	if (f->resident)
		sv_print_resident(sv, f, w);
	sv_print_totals(f, w);
}

static void sv_summary_text(struct spawn *sv, const struct figures *f)
{
	int w = cli_columns(STDOUT_FILENO);
	char cpu[64];

	cli_wrap(stdout, "kvmlite spawn: ", 2, w,
		 "%u of %u guests booted (wrote their first byte), %u failed, %u lost, %u silent; %s", sv->booted,
		 sv->o->count, sv->failed, sv->lost, sv->silent, sv->stop_reason);
	sv_print_guests(sv, w);
	sv_print_silent(sv, w);
	sv_print_boot(sv, f, w);
	for (int i = 0; i < 8 && sv->fail_count[i]; i++)
		cli_wrap(stdout, "  failed", LABEL, w, "%u: %s", sv->fail_count[i], sv->fail_reason[i]);
	sv_print_memory(sv, f, w);
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

void summary_print(struct spawn *sv)
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
void summary_boot_times_write(struct spawn *sv, FILE *f)
{
	for (u32 i = 0; i < sv->o->count; i++)
		if (sv->gflags[i] & G_BOOTED)
			fprintf(f, "%u %u\n", sv->o->first_id + i, sv->boot_us[i]);
	if (fclose(f) != 0)
		fprintf(stderr, "kvmlite: --boot-times %s: %s\n", sv->o->boot_times, strerror(errno));
}
