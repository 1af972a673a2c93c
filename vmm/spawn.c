/* spawn.c - `kvmlite spawn N`: sizes shards to the host's limits, forks the workers, relays their news, sums up. */
#define _GNU_SOURCE /* SO_PEERCRED, struct ucred */
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <liburing.h>
#include <malloc.h>
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

#include "sandbox.h"
#include "supervisor.h"

/* An SQE from the supervisor's ring, submitting what is queued if it is full. */
struct io_uring_sqe *spawn_sqe(struct spawn *sv)
{
	struct io_uring_sqe *sqe = io_uring_get_sqe(&sv->ring);

	if (!sqe) {
		io_uring_submit(&sv->ring);
		sqe = io_uring_get_sqe(&sv->ring);
	}
	return sqe;
}

/* ---- links to the shards ---- */

struct link *spawn_link_of(struct spawn *sv, u32 id)
{
	for (u32 i = 0; i < sv->nlinks; i++)
		if (id - sv->links[i].first < sv->links[i].count)
			return &sv->links[i];
	return NULL;
}

static void link_arm(struct spawn *sv, struct link *l)
{
	u32 i = (u32)(l - sv->links);
	struct io_uring_sqe *sqe;

	if (l->dead)
		return;
	if (!l->read_busy) {
		sqe = spawn_sqe(sv);
		io_uring_prep_read(sqe, l->fd, l->rbuf, sizeof(l->rbuf), 0);
		io_uring_sqe_set_data64(sqe, UD(K_LINK_READ, 0, i));
		l->read_busy = true;
	}
	if (l->out.len && !outbuf_flush(l->fd, &l->out) && !l->poll_busy) {
		sqe = spawn_sqe(sv);
		io_uring_prep_poll_add(sqe, l->fd, POLLOUT);
		io_uring_sqe_set_data64(sqe, UD(K_LINK_READ + 100, 0, i));
		l->poll_busy = true;
	}
}

void spawn_link_send(struct spawn *sv, struct link *l, const char *fmt, ...)
{
	char tmp[PROTO_LINE_MAX + 64];
	va_list ap;
	int n;

	if (l->dead)
		return;
	va_start(ap, fmt);
	n = vsnprintf(tmp, sizeof(tmp), fmt, ap);
	va_end(ap);
	outbuf_put(&l->out, tmp, n < (int)sizeof(tmp) ? (size_t)n : sizeof(tmp) - 1);
	link_arm(sv, l);
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

/* Unsolicited news from a shard: "@created N", "@boot ID", "@silent ID WHAT", "@end ID STATE WHY", "@out ID DATA". */
static void sv_shard_event(struct spawn *sv, struct link *l, char *line)
{
	char *arg = strchr(line, ' ');
	u32 id = arg ? (u32)strtoul(arg + 1, &arg, 10) : 0;

	if (strncmp(line, "@created ", 9) == 0) {
		/* "@created N PARKED BYTES" */
		sv->created += id - l->created;
		l->created = id;
		l->parked = (u32)strtoul(arg, &arg, 10);
		l->parked_bytes = strtoull(arg, &arg, 10);
		l->staged = strtoull(arg, &arg, 10);
		for (int k = 0; k < NSTAGES; k++)
			l->stage_ns[k] = strtoull(arg, &arg, 10);
	} else if (strncmp(line, "@resume_failed ", 15) == 0) {
		sv->resume_failed++;
		if (sv->o->verbose)
			fprintf(stderr, "%skvmlite: guest %u: %s\n", sv->tty ? "\r\033[K" : "", id, arg + 1);
	} else if (strncmp(line, "@boot ", 6) == 0 && id < sv->o->count && !(sv->gflags[id] & G_BOOTED)) {
		/* "@boot ID NS": NS on the monotonic clock all processes share */
		u64 ns = strtoull(arg, NULL, 10);

		sv->boot_us[id] = ns > sv->t0 ? (u32)((ns - sv->t0) / 1000) : 0;
		sv->gflags[id] |= G_BOOTED;
		sv->booted++;
		if (sv->gflags[id] & G_SILENT) { /* late, but it spoke */
			sv->gflags[id] &= (u8)~G_SILENT;
			sv->silent--;
		}
	} else if (strncmp(line, "@silent ", 8) == 0 && id < sv->o->count &&
		   !(sv->gflags[id] & (G_BOOTED | G_SILENT))) {
		sv->gflags[id] |= G_SILENT;
		sv->silent++;
		sv_silent_reason(sv, id, arg + 1);
		if (sv->o->verbose)
			fprintf(stderr, "%skvmlite: guest %u is silent: %s\n", sv->tty ? "\r\033[K" : "", id, arg + 1);
	} else if (strncmp(line, "@end ", 5) == 0 && id < sv->o->count && !(sv->gflags[id] & G_ENDED)) {
		bool failed = strncmp(arg, " failed ", 8) == 0;

		if (!failed && !(sv->gflags[id] & G_BOOTED))
			sv->ended_mute++; /* settled too: --for 0 must not wait for it */
		sv->gflags[id] |= G_ENDED | (failed ? G_FAILED : 0);
		sv->ended++;
		if (sv->gflags[id] & G_SILENT) { /* it ended: counted as that now */
			sv->gflags[id] &= (u8)~G_SILENT;
			sv->silent--;
		}
		if (failed) {
			sv->failed++;
			sv_fail_reason(sv, arg + 8);
		}
	} else if (strncmp(line, "@out ", 5) == 0) {
		control_watch_output(sv, id, arg);
	} else if (strncmp(line, "@fatal ", 7) == 0) {
		fprintf(stderr, "kvmlite: %s\n", line + 7);
	}
}

static void sv_shard_line(void *ctx, char *line, size_t len)
{
	struct spawn *sv = ((void **)ctx)[0];
	struct link *l = ((void **)ctx)[1];

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
	line_buf_feed(&l->lines, l->rbuf, (size_t)res, sv_shard_line, (void *[]){ sv, l });
	link_arm(sv, l);
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
				if (!(sv->gflags[id] & (G_ENDED | G_LOST))) {
					if (sv->gflags[id] & G_SILENT)
						sv->silent--;
					sv->gflags[id] = (u8)((sv->gflags[id] & ~G_SILENT) | G_LOST);
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
				fprintf(stderr,
					"%skvmlite: worker %d (guests %u-%u) killed by signal %d: %u guests lost\n",
					sv->tty ? "\r\033[K" : "", (int)pid, lo, hi, WTERMSIG(status), lost);
			else
				fprintf(stderr, "%skvmlite: worker %d (guests %u-%u) exited with %d: %u guests lost\n",
					sv->tty ? "\r\033[K" : "", (int)pid, lo, hi, WEXITSTATUS(status), lost);
		}
	}
}

/* ---- stats, progress, summary ---- */

static u32 sv_parked(const struct spawn *sv, u64 *bytes);

static const char *const park_names[] = { "never", "auto", "always" };

void spawn_stats_json(struct spawn *sv, struct outbuf *b, const u64 *sums, const char *const *names, int n)
{
	u64 bytes;
	u32 live = sv_live(sv), parked = sv_parked(sv, &bytes);

	outbuf_printf(b,
		      "{\"guests\":%u,\"created\":%u,\"booted\":%u,\"live\":%u,\"resident\":%u,\"parked\":%u,"
		      "\"ended\":%u,\"failed\":%u,\"lost\":%u,\"park\":\"%s\",\"clients_dropped\":%u",
		      sv->o->count, sv->created, sv->booted, live, live > parked ? live - parked : 0, parked,
		      sv->ended - sv->failed, sv->failed, sv->lost, park_names[sv->o->park], sv->clients_dropped);
	outbuf_printf(b,
		      ",\"workers\":%u,\"threads_per_worker\":%u,\"kvm_backend\":\"%s\",\"sandbox\":%s,\"cpu_max\":%u,"
		      "\"worker_pids\":[",
		      sv->procs, sv->threads, sv->kvm.backend, sv->o->no_sandbox ? "false" : "true", sv->o->cpu_max);
	for (u32 p = 0; p < sv->procs; p++)
		outbuf_printf(b, "%s%d", p ? "," : "", (int)sv->pids[p]);
	outbuf_printf(b, "]");
	for (int i = 0; i < n; i++)
		outbuf_printf(b, ",\"%s\":%llu", names[i], (unsigned long long)sums[i]);
	outbuf_printf(b, "}");
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

static void sv_progress(struct spawn *sv, u64 now)
{
	struct meminfo m;
	double t = sv_elapsed(sv, now), rate = t > 0 ? sv->booted / t : 0;
	u64 bytes;
	u32 live = sv_live(sv), parked = sv_parked(sv, &bytes), resident = live > parked ? live - parked : 0;

	if (!sv->tty || sv->o->json)
		return;
	meminfo_read(&m);
	if (sv->t_booted == 0) {
		u32 left = sv->o->count - sv->booted - sv->failed - sv->lost;

		fprintf(stderr,
			"\r\033[Kspawning: started %u  booted %u  resident %u  parked %u  failed %u  lost %u  %.0f/s  "
			"host memory %.0f%%  ETA %.0fs",
			sv->created, sv->booted, resident, parked, sv->failed, sv->lost, rate, meminfo_used_pct(&m),
			rate > 0 ? left / rate : 0.0);
	} else {
		fprintf(stderr,
			"\r\033[Kserving: %u resident, %u parked, %u ended, %u failed, %u lost  host memory %.0f%%  up "
			"%.0fs",
			resident, parked, sv->ended - sv->failed, sv->failed, sv->lost, meminfo_used_pct(&m), t);
	}
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

static const char *const stage_keys[NSTAGES] = { "create_vm", "create_vcpu", "load",	  "set_memory",
						 "set_regs",  "firmware",    "first_byte" };

/*
 * Boot times as the provisioning research reports them: each guest from
 * the spawn's start (the launch request) to its first output byte (serial or screen), as
 * p50/p99/max in ms; and the mean time of each stage of a boot, in µs.
 * False if no guest booted.
 */
static bool sv_boot_times(struct spawn *sv, double ms[3], double us[NSTAGES])
{
	u32 *t = malloc((sv->booted ? sv->booted : 1) * sizeof(*t)), n = 0;
	u64 staged = 0, sum[NSTAGES] = { 0 };

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
		for (int k = 0; k < NSTAGES; k++)
			sum[k] += sv->links[i].stage_ns[k];
	}
	for (int k = 0; k < NSTAGES; k++)
		us[k] = staged ? (double)sum[k] / (double)staged / 1e3 : 0;
	return true;
}

/* What each guest got: its image, and the firmware with what it costs. */
static void sv_print_guests(struct spawn *sv)
{
	for (int i = 0, first = 0; i < sv->o->nguest; first = (int)sv->images[i++].upto)
		printf("  %-20s %u-%u: %s (boot sector, %d bytes)\n", i ? "" : "guests", first, sv->images[i].upto - 1,
		       sv->images[i].img.name, BOOT_SIZE);
	if (sv->o->firmware)
		printf("  firmware             pc: kvmlite's BIOS, copied into each guest's RAM: %d KiB a guest, no "
		       "memslot of its own\n",
		       FIRMWARE_SIZE / 1024);
	else
		printf("  firmware             none (--firmware none): each guest started at 0000:7c00, devices at "
		       "reset\n");
}

/* The ids with a flag, as ranges ("3,7-9"), at most len bytes (then "..."). */
static void sv_ids(const struct spawn *sv, u8 flag, char *buf, size_t len)
{
	size_t n = 0;

	buf[0] = '\0';
	for (u32 i = 0; i < sv->o->count && n + 24 < len;) {
		u32 j = i;

		if (!(sv->gflags[i] & flag)) {
			i++;
			continue;
		}
		while (j + 1 < sv->o->count && (sv->gflags[j + 1] & flag))
			j++;
		n += (size_t)snprintf(buf + n, len - n, n ? ",%u" : "%u", i);
		if (j > i)
			n += (size_t)snprintf(buf + n, len - n, "-%u", j);
		i = j + 1;
		if (i < sv->o->count && n + 24 >= len)
			snprintf(buf + n, len - n, ",...");
	}
}

/* Guests that wrote nothing by their boot deadline, and what they do. */
static void sv_print_silent(struct spawn *sv)
{
	char ids[160];

	if (sv->ended_mute)
		printf("  ended mute           %u guests ended without writing anything ('kvmlite info ID' says why)\n",
		       sv->ended_mute);
	if (!sv->silent)
		return;
	sv_ids(sv, G_SILENT, ids, sizeof(ids));
	printf("  silent               %u guests wrote nothing in their first %.0f s (--boot-timeout): %s\n",
	       sv->silent, sv->o->boot_timeout, ids);
	for (int i = 0; i < 8 && sv->silent_count[i]; i++)
		printf("                       %u: %s (e.g. guest %u)\n", sv->silent_count[i], sv->silent_reason[i],
		       sv->silent_example[i]);
}

static void sv_summary(struct spawn *sv)
{
	double boot_ms[3] = { 0 }, stage_us[NSTAGES] = { 0 };
	bool timed = sv_boot_times(sv, boot_ms, stage_us);
	struct meminfo m;
	struct cpustat cpu;
	u64 rss, anon, now = clock_now(), pbytes;
	u32 live = sv_live(sv), parked = sv_parked(sv, &pbytes), resident = live > parked ? live - parked : 0;
	double parked_kib = (double)pbytes / 1024.0;
	double boot_s = sv->t_booted ? (double)(sv->t_booted - sv->t0) / 1e9 : -1;
	double idle_cpu = -1, vmm_cpu = -1, avail_kib, kernel_kib;

	meminfo_read(&m);
	sv_worker_mem(sv, &rss, &anon);
	if (sv->t_booted && now - sv->t_booted > 1000000000ull && cpustat_read(&cpu) == 0) {
		long hz = sysconf(_SC_CLK_TCK), cpus = sysconf(_SC_NPROCESSORS_ONLN);

		idle_cpu = cpustat_busy_pct(&sv->cpu_booted, &cpu);
		/* kvmlite's own share: its processes' CPU time over the same window */
		vmm_cpu = 100.0 * (double)(sv_vmm_ticks(sv) - sv->vmm_ticks_booted) / (double)hz /
			  ((double)(now - sv->t_booted) / 1e9) / (double)cpus;
	}
	avail_kib = (double)sv->mem0.available_kib - (double)m.available_kib;
	/* What the host lost, minus what the VMM's processes allocated: the
	 * kernel's share, all of it for resident guests (and the spare VMs). */
	kernel_kib = avail_kib - (double)anon;
	/* The shards count what their parked guests take; the rest of the
	 * VMM's memory is the resident guests'. No figure mixes the two. */
	double res_kib = resident ? ((double)anon - parked_kib) / resident : 0;
	if (sv->tty && !sv->o->json)
		fprintf(stderr, "\r\033[K");
	if (sv->o->json) {
		printf("{\"guests\":%u,\"created\":%u,\"booted\":%u,\"failed\":%u,\"lost\":%u,\"live_at_end\":%u,"
		       "\"resident_at_end\":%u,\"parked_at_end\":%u,\"park\":\"%s\",\"resume_failures\":%u,"
		       "\"time_to_all_booted_s\":%.3f,\"boot_rate_per_s\":%.1f,"
		       "\"vmm_userspace_kib_per_guest\":%.2f,\"vmm_userspace_kib_per_parked\":%.2f,"
		       "\"vmm_rss_kib_per_guest\":%.2f,\"vmm_anon_kib\":%llu,"
		       "\"kernel_kib_per_guest\":%.1f,\"slab_kib_per_guest\":%.1f,\"host_mem_used_pct\":%.1f,"
		       "\"host_cpu_idle_pct\":%.2f,\"vmm_cpu_idle_pct\":%.3f,"
		       "\"workers\":%u,\"threads_per_worker\":%u,\"kvm_backend\":\"%s\",\"cpu_max\":%u,"
		       "\"firmware\":\"%s\",\"firmware_kib_per_guest\":%d,"
		       "\"stopped_by\":\"%s\",\"failures\":[",
		       sv->o->count, sv->created, sv->booted, sv->failed, sv->lost, live, resident, parked,
		       park_names[sv->o->park], sv->resume_failed, boot_s, boot_s > 0 ? sv->booted / boot_s : 0.0,
		       res_kib, parked ? parked_kib / parked : 0, resident ? ((double)rss - parked_kib) / resident : 0,
		       (unsigned long long)anon, resident ? kernel_kib / resident : 0,
		       resident ? ((double)m.slab_kib - (double)sv->mem0.slab_kib) / resident : 0, meminfo_used_pct(&m),
		       idle_cpu, vmm_cpu, sv->procs, sv->threads, sv->kvm.backend, sv->o->cpu_max,
		       sv->o->firmware ? "pc" : "none", sv->o->firmware ? FIRMWARE_SIZE / 1024 : 0, sv->stop_reason);
		for (int i = 0; i < 8 && sv->fail_count[i]; i++)
			printf("%s{\"reason\":\"%s\",\"count\":%u}", i ? "," : "", sv->fail_reason[i],
			       sv->fail_count[i]);
		printf("],\"silent\":%u,\"ended_without_output\":%u,\"silent_reasons\":[", sv->silent, sv->ended_mute);
		for (int i = 0; i < 8 && sv->silent_count[i]; i++)
			printf("%s{\"reason\":\"%s\",\"count\":%u,\"example\":%u}", i ? "," : "", sv->silent_reason[i],
			       sv->silent_count[i], sv->silent_example[i]);
		printf("],\"boot_ms\":{\"p50\":%.1f,\"p99\":%.1f,\"max\":%.1f},\"stage_us\":{", boot_ms[0],
		       boot_ms[1], boot_ms[2]);
		for (int k = 0; k < NSTAGES; k++)
			printf("%s\"%s\":%.1f", k ? "," : "", stage_keys[k], stage_us[k]);
		printf("}}\n");
		return;
	}
	printf("kvmlite spawn: %u of %u guests booted (first output byte), %u failed, %u lost, %u silent; %s\n",
	       sv->booted, sv->o->count, sv->failed, sv->lost, sv->silent, sv->stop_reason);
	sv_print_guests(sv);
	sv_print_silent(sv);
	if (boot_s >= 0)
		printf("  time to all booted   %.2f s (%.0f guests/s)\n", boot_s, sv->booted / boot_s);
	if (timed)
		printf("  boot, per guest      p50 %.1f ms, p99 %.1f ms, max %.1f ms from the start to its first "
		       "byte;\n"
		       "                       mean µs: create VM %.0f, create vCPU %.0f, load %.0f, set memory %.0f,\n"
		       "                       set registers %.0f, firmware %.0f, then to the first byte %.0f\n",
		       boot_ms[0], boot_ms[1], boot_ms[2], stage_us[0], stage_us[1], stage_us[2], stage_us[3],
		       stage_us[4], stage_us[5], stage_us[6]);
	for (int i = 0; i < 8 && sv->fail_count[i]; i++)
		printf("  failed               %u: %s\n", sv->fail_count[i], sv->fail_reason[i]);
	if (live)
		printf("  at the end           %u resident (on a KVM VM), %u parked (state only); --park %s\n", resident,
		       parked, park_names[sv->o->park]);
	if (resident) {
		printf("  VMM userspace        %.1f KiB per resident guest (anonymous: guest pages, output rings, "
		       "state)\n",
		       res_kib);
		printf("  kernel               %.0f KiB per resident guest (MemAvailable drop minus VMM userspace), slab "
		       "%.0f KiB;\n"
		       "                       of it %.1f KiB/guest of kvm_run pages mapped into the VMM (in its "
		       "RSS)\n",
		       kernel_kib / resident, ((double)m.slab_kib - (double)sv->mem0.slab_kib) / resident,
		       (double)(rss - anon) / resident);
	}
	if (parked)
		printf("  parked               %.1f KiB per parked guest (saved vCPU state, touched RAM pages, kept "
		       "output, its bookkeeping); no kernel memory\n",
		       parked_kib / parked);
	if (sv->resume_failed)
		printf("  resume failures      %u (those guests kept their state and were retried)\n",
		       sv->resume_failed);
	if (idle_cpu >= 0)
		printf("  CPU since all booted %.2f%% of the host (all CPUs), of which kvmlite's processes %.3f%%\n",
		       idle_cpu, vmm_cpu);
	printf("  host                 %u worker processes x %u threads, KVM backend %s, sandbox %s,\n", sv->procs,
	       sv->threads, sv->kvm.backend, sv->o->no_sandbox ? "off (--no-sandbox)" : "on (seccomp, io_uring)");
	if (sv->o->cpu_max < 100)
		printf("                       each guest at most %u%% of a CPU (--cpu-max)\n", sv->o->cpu_max);
	else
		printf("                       no CPU cap per guest (--cpu-max 100)\n");
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
	if (sv->threads > (sv->o->count + sv->procs - 1) / sv->procs)
		sv->threads = (sv->o->count + sv->procs - 1) / sv->procs;
	sv->vm_per_shard = (u32)(vms / sv->threads);
	if (sv->o->resident) {
		u32 shards = sv->procs * sv->threads, want = (sv->o->resident + shards - 1) / shards;

		if (want < sv->vm_per_shard)
			sv->vm_per_shard = want;
	}
	if (!sv->o->json && (long)sv->o->count > host_pids_left() - PID_RESERVE)
		fprintf(stderr,
			"kvmlite: kernel.pid_max %ld leaves PIDs for about %ld more live VMs (each has a kernel "
			"thread): root can raise it with sysctl kernel.pid_max=4194304\n",
			host_read_long("/proc/sys/kernel/pid_max", 32768), host_pids_left() - PID_RESERVE);
	if (!sv->o->json)
		fprintf(stderr,
			"kvmlite: RLIMIT_NOFILE %llu, vm.max_map_count %ld -> at most %llu %s per process "
			"(limited by %s): using %u worker process%s x %u threads\n",
			(unsigned long long)rl.rlim_max, maps, (unsigned long long)vms,
			sv->o->park == PARK_NEVER ? "guests" : "resident guests (parked ones hold no fd)",
			vms < by_fd && vms < by_map ? "--per-process"
			: by_fd <= by_map	    ? "open files"
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
	vm_kick_install(SIG_KICK);
	/* Never give heap memory back to the kernel piecemeal: each munmap or
	 * MADV_DONTNEED in a process with thousands of KVM VMs walks all their
	 * MMU notifiers (see ring_get in shard.c). */
	mallopt(M_TRIM_THRESHOLD, INT_MAX);
	close(sv->listen_fd); /* the supervisor's alone */
	shards = calloc(sv->threads, sizeof(*shards));
	for (u32 i = 0; i < sv->nlinks; i++) {
		struct link *l = &sv->links[i];

		if (l->pid != (pid_t)proc) { /* before fork, pid holds the process number */
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
			l->pid = (pid_t)p;
			l->first = id;
			l->count = share;
			id += share;
			/* The worker's end, kept in a slot only the child reads. */
			l->out.len = (size_t)sp[1];
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
				sv->links[i].fd = (int)sv->links[i].out.len;
				sv->links[i].out.len = 0;
			}
			worker_main(sv, p);
		}
		sv->pids[p] = pid;
	}
	for (u32 i = 0; i < sv->nlinks; i++) {
		struct link *l = &sv->links[i];

		close((int)l->out.len);
		l->out.len = 0;
		l->pid = sv->pids[l->pid];
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
		if (ns == 0)
			return;
	}
	sqe = spawn_sqe(sv);
	sv->tick_ts.tv_sec = (long long)(ns / 1000000000ull);
	sv->tick_ts.tv_nsec = (long long)(ns % 1000000000ull);
	io_uring_prep_timeout(sqe, &sv->tick_ts, 0, 0);
	io_uring_sqe_set_data64(sqe, UD(K_TICK, 0, 0));
}

static void sv_signal_arm(struct spawn *sv)
{
	struct io_uring_sqe *sqe = spawn_sqe(sv);

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
	u32 settled = sv->booted + sv->failed + sv->lost + sv->silent + sv->ended_mute;
	u64 now;

	if (sv->t_booted || !(settled >= sv->o->count || (sv->create_stopped && settled >= sv->created)))
		return;
	now = clock_now();
	sv->t_booted = now;
	cpustat_read(&sv->cpu_booted);
	sv->vmm_ticks_booted = sv_vmm_ticks(sv);
	if (sv->o->for_s >= 0)
		sv->stop_at = now + (u64)(sv->o->for_s * 1e9);
	if (sv->o->for_s == 0) {
		sv->stopping = true;
		if (!sv->create_stopped)
			snprintf(sv->stop_reason, sizeof(sv->stop_reason), "done (--for 0)");
	}
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

		if (sv->o->park != PARK_NEVER && !sv->held &&
		    ((mem_read && meminfo_used_pct(&m) >= sv->o->mem_budget - PARK_MARGIN) || pids_short)) {
			sv->held = true;
			for (u32 i = 0; i < sv->nlinks; i++)
				spawn_link_send(sv, &sv->links[i], "0 hold\n");
			if (sv->o->verbose)
				fprintf(stderr, "%skvmlite: %s with %u guests live: parking to make room from now on\n",
					sv->tty ? "\r\033[K" : "",
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
				spawn_link_send(sv, &sv->links[i], "0 nocreate\n");
			fprintf(stderr, "%skvmlite: %s after %u guests: creating no more\n", sv->tty ? "\r\033[K" : "",
				why, sv->created);
			snprintf(sv->stop_reason, sizeof(sv->stop_reason), "%s", why);
		}
	}
	sv_check_booted(sv);
	if (sv->stop_at && now >= sv->stop_at && !sv->stopping) {
		sv->stopping = true;
		if (!sv->create_stopped)
			snprintf(sv->stop_reason, sizeof(sv->stop_reason), "done (--for)");
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
	case K_CONN_POLL: {
		struct conn *c = &sv->conns[idx];

		if (!c->used || c->gen != UD_GEN(ud))
			return;
		if (UD_KIND(ud) == K_CONN_POLL) {
			c->poll_busy = false;
		} else {
			c->read_busy = false;
			if (res <= 0)
				c->closing = true; /* the client went away (or half-closed) */
			else
				c->rlen += (size_t)res;
			control_process(sv, c);
		}
		control_arm(sv, c);
		return;
	}
	case K_LINK_READ:
		sv_link_read(sv, &sv->links[idx], res);
		return;
	case K_LINK_READ + 100:
		sv->links[idx].poll_busy = false;
		link_arm(sv, &sv->links[idx]);
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
	}
}

static void sv_teardown(struct spawn *sv)
{
	/* KVM frees a VM in about a millisecond here, one after another per
	 * worker: 20,000 guests take a while. Past this, a worker is killed
	 * (the kernel still frees what it held). */
	u64 deadline = clock_now() + 120000000000ull;

	if (sv->tty && !sv->o->json)
		fprintf(stderr, "kvmlite: stopping: %u worker%s releasing %u guests...", sv->procs,
			sv->procs == 1 ? "" : "s", sv_live(sv));

	/* Closing a shard's socket tells it to end its guests and exit. */
	for (u32 i = 0; i < sv->nlinks; i++) {
		if (sv->links[i].fd >= 0)
			close(sv->links[i].fd);
		sv->links[i].fd = -1;
	}
	for (u32 p = 0; p < sv->procs; p++) {
		int status;

		while (sv->pids[p] > 0) {
			pid_t r = waitpid(sv->pids[p], &status, WNOHANG);

			if (r == sv->pids[p] || (r < 0 && errno == ECHILD))
				break;
			if (clock_now() > deadline) {
				kill(sv->pids[p], SIGKILL);
				waitpid(sv->pids[p], &status, 0);
				break;
			}
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
	for (u32 i = 0; sv->pend && i < sv->npend; i++) {
		free(sv->pend[i].text.buf);
		for (u32 k = 0; sv->pend[i].parts && k < sv->nlinks; k++)
			free(sv->pend[i].parts[k].buf);
		free(sv->pend[i].parts);
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
	char err[256];
	sigset_t set;
	u32 per;
	int status = 0;

	sv->o = o;
	sv->listen_fd = sv->sig_fd = sv->log_fd = -1;
	sv->tty = isatty(STDERR_FILENO);
	for (int i = 0, upto = 0; i < o->nguest; i++) {
		if (loader_open(o->guest[i], &sv->images[i].img, err, sizeof(err)) < 0) {
			fprintf(stderr, "kvmlite: %s\n", err);
			goto fail;
		}
		upto = o->guest_count[i] && i < o->nguest - 1 ? upto + (int)o->guest_count[i] : (int)o->count;
		sv->images[i].upto = (u32)upto;
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
	snprintf(sv->stop_reason, sizeof(sv->stop_reason), "running");
	/* One log for all workers: O_APPEND makes each batch land whole. */
	if (o->log && (sv->log_fd = open(o->log, O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0600)) < 0) {
		fprintf(stderr, "kvmlite: --log %s: %s\n", o->log, strerror(errno));
		goto fail;
	}
	if (control_listen(sv, err, sizeof(err)) < 0) {
		fprintf(stderr, "kvmlite: %s\n", err);
		goto fail;
	}
	meminfo_read(&sv->mem0);
	per = sv_plan(sv);
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
		unlink(sv->path);
		goto fail;
	}
	sv->sig_fd = signalfd(-1, &set, SFD_CLOEXEC);
	if (sandbox_ring_init(&sv->ring, 256, SANDBOX_SUPERVISOR, !o->no_sandbox) < 0) {
		fprintf(stderr, "kvmlite: io_uring_queue_init: %s\n", strerror(errno));
		sv_teardown(sv);
		unlink(sv->path);
		goto fail;
	}
	if (!o->json)
		fprintf(stderr, "kvmlite: spawning %u %s%s guests; control socket %s\n", o->count,
			sv->images[0].img.name, o->nguest > 1 ? " (and other)" : "", sv->path);
	for (u32 i = 0; i < sv->nlinks; i++)
		link_arm(sv, &sv->links[i]);
	control_accept_arm(sv);
	sv_signal_arm(sv);
	sv_tick_arm(sv);
	/* Everything is open that the supervisor will ever open, but /proc
	 * files; from here on it serves clients and watches workers. */
	if (!o->no_sandbox && sandbox_enter(SANDBOX_SUPERVISOR, err, sizeof(err)) < 0) {
		fprintf(stderr, "kvmlite: %s\n", err);
		io_uring_queue_exit(&sv->ring);
		sv_teardown(sv);
		unlink(sv->path);
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
	close(sv->listen_fd);
	sv->listen_fd = -1;
	unlink(sv->path);
	/* The ring goes first: its pending reads hold the shard sockets open,
	 * and the workers wait for those to close before they end. */
	io_uring_queue_exit(&sv->ring);
	sv_teardown(sv);
	status = sv->failed || sv->lost || sv->silent ? 1 : 0;
	sv_free(sv);
	return status;
fail:
	sv_free(sv);
	return 2;
}
