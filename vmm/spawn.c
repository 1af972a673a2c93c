/* spawn.c - `kvmlite spawn N`: sizes shards to the host's limits, forks the workers, runs the supervisor, sums up. */
#define _GNU_SOURCE /* SO_PEERCRED, struct ucred */
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <liburing.h>
#include <malloc.h>
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/resource.h>
#include <sys/signalfd.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include "cli.h"
#include "control_socket.h"
#include "frontdoor.h"
#include "kick.h"
#include "sandbox.h"
#include "shard.h"
#include "spawn.h"
#include "summary.h"
#include "supervise.h"

/* ---- host limits and workers ---- */

/*
 * Each live guest holds one fd (its vCPU) and one mapping (kvm_run). A
 * process may hold RLIMIT_NOFILE fds (hard limit; it cannot be raised
 * here) and vm.max_map_count mappings: guests are sharded over enough
 * worker processes to stay inside both. With parking, a VM holds two fds
 * (the VM fd moves its memslot from guest to guest) and a parked guest
 * none: the limits bound a process's VMs, not its guests.
 */
struct plan_limits {
	struct rlimit rl;
	long maps;
	u64 by_fd, by_map; /* KVM VMs a process may hold: by its open files, by its mappings */
	u64 vms;	   /* by both and --per-process */
	u64 per;	   /* guests a process may hold: vms, or any number when they park */
};

static void plan_limits(struct spawn *sv, struct plan_limits *lim)
{
	lim->maps = host_read_long("/proc/sys/vm/max_map_count", 65530);
	getrlimit(RLIMIT_NOFILE, &lim->rl);
	lim->by_fd = lim->rl.rlim_max == RLIM_INFINITY ? 1000000 : lim->rl.rlim_max - FD_RESERVE;
	lim->by_map = lim->maps > 512 ? (u64)lim->maps - 512 : 1;
	if (sv->o->park != PARK_NEVER)
		lim->by_fd /= 2;
	lim->vms = lim->by_fd < lim->by_map ? lim->by_fd : lim->by_map;
	if (sv->o->per_process && sv->o->per_process < lim->vms)
		lim->vms = sv->o->per_process;
	lim->per = lim->vms;
	if (sv->o->park != PARK_NEVER && !sv->o->per_process)
		lim->per = sv->o->count; /* any number of guests, vms of them with a VM at once */
}

/*
 * Single-threaded workers, at least one per CPU, and enough that each
 * holds about WORKER_VMS KVM VMs at most. Every KVM VM registers an
 * MMU notifier on its process's memory, and every munmap in that
 * process walks all of them: creating and destroying n VMs in one
 * process costs O(n^2). 20,000 guests boot in 32 s with 2 workers and
 * in 13 s with 32, and tear down in 68 s against 12 s (docs/spawn.md).
 * Threads would not help: VM creation takes the process's mmap_lock.
 */
static void plan_procs(struct spawn *sv, u64 per, u64 vms_expected)
{
	long cpus = sysconf(_SC_NPROCESSORS_ONLN);
	long pids = host_pids_left() - PID_RESERVE;

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
}

/* Threads per worker, and the KVM VMs each shard may hold (vms: a process's). */
static void plan_threads(struct spawn *sv, u64 vms)
{
	/* Guests parked as they halt: a shard waits in KVM at each boot (a
	 * memory slot change waits for KVM's SRCU readers); a few shards a
	 * worker, threads sharing its memory map, keep its CPU busy meanwhile. */
	if (sv->o->threads || sv->o->workers)
		sv->threads = sv->o->threads ? sv->o->threads : 1;
	else
		sv->threads = sv->park_early || sv->o->park == PARK_ALWAYS ? PARKED_THREADS : 1;
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
}

/* What the host's limits decided, said on stderr (and what to raise when PIDs are short). */
static void plan_say(struct spawn *sv, const struct plan_limits *lim)
{
	if ((long)sv->o->count > host_pids_left() - PID_RESERVE) {
		long left = host_pids_left() - PID_RESERVE;
		char more[64];

		if (left > 0)
			snprintf(more, sizeof(more), "about %ld more live VMs", left);
		else
			snprintf(more, sizeof(more), "no more live VMs beyond a reserve of %d", PID_RESERVE);
		summary_say(sv,
			    "kernel.pid_max %ld leaves PIDs for %s (each has a kernel thread): root can raise it with "
			    "sysctl kernel.pid_max=4194304",
			    host_read_long("/proc/sys/kernel/pid_max", 32768), more);
	}
	summary_say(sv,
		    "RLIMIT_NOFILE %llu, vm.max_map_count %ld -> at most %llu %s per process (limited by %s): "
		    "using %u worker process%s x %u threads",
		    (unsigned long long)lim->rl.rlim_max, lim->maps, (unsigned long long)lim->vms,
		    sv->o->park == PARK_NEVER ? "guests" : "resident guests (parked ones hold no fd)",
		    lim->vms < lim->by_fd && lim->vms < lim->by_map ? "--per-process"
		    : lim->by_fd <= lim->by_map			    ? "open files"
								    : "mappings",
		    sv->procs, sv->procs == 1 ? "" : "es", sv->threads);
}

/*
 * KVM VMs the host can hold at once, and what limits them: PIDs (each VM
 * has a kernel thread), the workers' open files, memory up to where
 * --park auto holds the VM count (PARK_MARGIN points below --mem-budget)
 * at PLAN_VM_KIB a VM.
 */
#define PLAN_VM_KIB 400 /* a live VM here: ~375 KiB of the kernel's, ~13 KiB of the VMM's (docs/spawn.md) */
static u64 plan_vms_held(struct spawn *sv, const struct plan_limits *lim, const char **by)
{
	struct meminfo m;
	long pids = host_pids_left() - PID_RESERVE;
	u64 held = pids > 0 ? (u64)pids : 0, fds = lim->vms * sv->procs;
	u32 hold_at = sv->o->mem_budget > PARK_MARGIN ? sv->o->mem_budget - PARK_MARGIN : 0;

	*by = "PIDs (kernel.pid_max)";
	if (fds < held) {
		held = fds;
		*by = "the workers' open files";
	}
	if (meminfo_read(&m) == 0) {
		s64 room = (s64)m.available_kib - (s64)(m.total_kib * (100 - hold_at) / 100);
		u64 by_mem = room > 0 ? (u64)room / PLAN_VM_KIB : 0;

		if (by_mem < held) {
			held = by_mem;
			*by = "memory (--mem-budget)";
		}
	}
	return held;
}

/*
 * --park auto, with more guests coming than the host can hold on KVM VMs:
 * most of them will be parked anyway, so every guest is parked as it
 * halts, from the start, as with --park always. Filling the host with VMs
 * first would only cost their creation, their teardown and the memory
 * they hold at the end (a million guests: 28,000 VMs until PIDs ran
 * short). --resident is the user's own choice of how many stay: kept.
 */
static void plan_park(struct spawn *sv, const struct plan_limits *lim)
{
	const char *by;
	u64 held;

	if (sv->o->park != PARK_AUTO || sv->o->resident)
		return;
	held = plan_vms_held(sv, lim, &by);
	if (sv->o->count <= held)
		return;
	sv->park_early = true;
	if (!sv->o->json)
		summary_say(sv,
			    "%u guests are more than this host holds on KVM VMs (about %llu, by %s): --park auto "
			    "parks every guest as it halts, from the start",
			    sv->o->count, (unsigned long long)held, by);
}

/* Worker processes and threads for the host's limits; returns the guests one process may hold. */
static u32 sv_plan(struct spawn *sv)
{
	struct plan_limits lim;

	plan_limits(sv, &lim);
	plan_procs(sv, lim.per, sv->o->count);
	plan_park(sv, &lim);
	/*
	 * A guest parked as it halts holds its VM only while it runs: each
	 * shard keeps a few dozen VMs, whatever N is, and one worker a CPU is
	 * enough. More would only take turns on the CPUs, and every switch
	 * between processes leaves KVM's emulator and the MMU cold: booting
	 * 20,000 guests so took ~10% more CPU with 20 workers than with 2
	 * (issue 19).
	 */
	if (sv->park_early || sv->o->park == PARK_ALWAYS)
		plan_procs(sv, lim.per, 0); /* and PARKED_THREADS shards each (plan_threads) */
	plan_threads(sv, lim.vms);
	if (!sv->o->json)
		plan_say(sv, &lim);
	return (u32)lim.per;
}

/* A worker process as its shards need it: signals, its fd limit, the kick, the heap. */
static void worker_setup(void)
{
	struct rlimit rl;
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
	 * MMU notifiers (see console_page_get in console.c). */
	mallopt(M_TRIM_THRESHOLD, INT_MAX);
}

static void worker_main(struct spawn *sv, u32 proc)
{
	struct spawn_opts o = *sv->o; /* as the plan settled them (plan_park) */
	pthread_t tid[256];
	struct shard *shards;
	u32 n = 0, first = UINT32_MAX;
	char err[256];

	worker_setup();
	o.park = sv->park_early ? PARK_ALWAYS : o.park;
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
		if (shard_init(&shards[n], i, l->first, l->count, &sv->kvm, sv->images, &o, l->fd, sv->log_fd,
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
			 sv->procs == 1 ? "" : "s", summary_live(sv));
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

/* The guests' images, each with the id it boots up to (--guest NAME:COUNT). */
static int spawn_load_images(struct spawn *sv)
{
	const struct spawn_opts *o = sv->o;
	char err[256];

	for (int i = 0, upto = 0; i < o->nguest; i++) {
		if (loader_open(o->guest[i], &sv->images[i].img, err, sizeof(err)) < 0) {
			fprintf(stderr, "kvmlite: %s\n", err);
			return -1;
		}
		upto = o->guest_count[i] && i < o->nguest - 1 ? upto + (int)o->guest_count[i] : (int)o->count;
		sv->images[i].upto = o->first_id + (u32)upto;
	}
	return 0;
}

/* The supervisor's tables: per guest, and its clients and their requests. */
static int spawn_alloc_tables(struct spawn *sv)
{
	u32 count = sv->o->count;

	sv->gflags = calloc(count, 1);
	sv->boot_us = calloc(count, sizeof(*sv->boot_us));
	sv->watchers = calloc(count, sizeof(*sv->watchers));
	sv->nconns = MAX_CONNS;
	sv->conns = calloc(MAX_CONNS, sizeof(*sv->conns));
	sv->npend = MAX_CONNS + 16;
	sv->pend = calloc(sv->npend, sizeof(*sv->pend));
	if (!sv->gflags || !sv->boot_us || !sv->watchers || !sv->conns || !sv->pend) {
		fprintf(stderr, "kvmlite: out of memory for the supervisor's tables of %u guests (%zu bytes each)\n",
			count, 1 + sizeof(*sv->boot_us) + sizeof(*sv->watchers));
		return -1;
	}
	snprintf(sv->stop_reason, sizeof(sv->stop_reason), "running");
	return 0;
}

/* The files it was given (--log, --metrics-file, --boot-times) and the control socket. */
static int spawn_open_files(struct spawn *sv, FILE **times)
{
	const struct spawn_opts *o = sv->o;
	char err[256];

	/* One log for all workers: O_APPEND makes each batch land whole. */
	if (o->log && (sv->log_fd = open(o->log, O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0600)) < 0) {
		fprintf(stderr, "kvmlite: --log %s: %s\n", o->log, strerror(errno));
		return -1;
	}
	if (o->metrics_file && metrics_file_open(&sv->metrics, o->metrics_file, err, sizeof(err)) < 0) {
		fprintf(stderr, "kvmlite: %s\n", err);
		return -1;
	}
	if (o->boot_times && !(*times = fopen(o->boot_times, "we"))) {
		fprintf(stderr, "kvmlite: --boot-times %s: %s\n", o->boot_times, strerror(errno));
		return -1;
	}
	if (control_listen(sv, err, sizeof(err)) < 0) {
		fprintf(stderr, "kvmlite: %s\n", err);
		return -1;
	}
	return 0;
}

/* Everything the spawn needs before it starts a worker; false (said on stderr) if something is missing. */
static bool spawn_open(struct spawn *sv, FILE **times)
{
	char err[256];

	if (spawn_load_images(sv) < 0)
		return false;
	if (kvm_open(&sv->kvm, err, sizeof(err)) < 0) {
		fprintf(stderr, "kvmlite: %s\n", err);
		return false;
	}
	return spawn_alloc_tables(sv) == 0 && spawn_open_files(sv, times) == 0;
}

/*
 * The workers forked and the supervisor's ring made, its first reads
 * queued. On failure the workers are stopped and the socket removed.
 */
static bool spawn_start(struct spawn *sv, u32 per)
{
	char err[256];
	sigset_t set;

	/* the front doors' sockets: sized to the plan's fds, made before the workers (which close them) */
	if (frontdoor_open(sv, err, sizeof(err)) < 0) {
		fprintf(stderr, "kvmlite: %s\n", err);
		control_unlink(sv);
		return false;
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
		goto fail;
	}
	/* The workers write the log; the supervisor writes to no file. */
	if (sv->log_fd >= 0)
		close(sv->log_fd);
	sv->log_fd = -1;
	/* An fd kept in reserve, for the moment all others are in use (control_accepted). */
	sv->spare_fd = open("/dev/null", O_RDONLY | O_CLOEXEC);
	sv->sig_fd = signalfd(-1, &set, SFD_CLOEXEC);
	if (sandbox_ring_init(&sv->ring, 256, SANDBOX_SUPERVISOR, !sv->o->no_sandbox, NULL, 0) < 0) {
		fprintf(stderr, "kvmlite: io_uring_queue_init: %s\n", strerror(errno));
		goto fail;
	}
	if (!sv->o->json)
		summary_say(sv, "spawning %u %s%s guests; control socket %s", sv->o->count, sv->images[0].img.name,
			    sv->o->nguest > 1 ? " (and other)" : "", sv->path);
	supervise_arm(sv);
	sv->metrics_next = sv->t0;
	return true;
fail:
	sv_teardown(sv);
	control_unlink(sv);
	return false;
}

/*
 * Everything is open that the supervisor will ever open, but /proc
 * files; from here on it serves clients and watches workers, and
 * writes only to stdout, stderr, the files it was given and the
 * --metrics-file (sandbox.h). On failure it stops as spawn_start does.
 */
static bool spawn_confine(struct spawn *sv, FILE *times)
{
	int out_fds[1];
	struct sandbox_grant grant = { .dir = sv->dir_fd,
				       .out = out_fds,
				       .metrics = sv->metrics.dir_fd >= 0,
				       .metrics_dir = sv->metrics.dir_fd,
				       .metrics_fd = { sv->metrics.fd[0], sv->metrics.fd[1] } };
	char err[256];

	if (times)
		out_fds[grant.nout++] = fileno(times);
	if (!sv->o->no_sandbox && sandbox_enter_supervisor(&grant, err, sizeof(err)) < 0) {
		fprintf(stderr, "kvmlite: %s\n", err);
		io_uring_queue_exit(&sv->ring);
		sv_teardown(sv);
		control_unlink(sv);
		return false;
	}
	sandbox_probe(SANDBOX_SUPERVISOR);
	return true;
}

/* After the loop: the summary, then the socket, the ring and the workers go; the exit status. */
static int spawn_finish(struct spawn *sv, FILE *times)
{
	int status;
	u32 live;
	u64 t;

	summary_print(sv);
	fflush(stdout); /* the summary is out before the teardown, to a file or a pipe too */
	if (times)
		summary_boot_times_write(sv, times);
	close(sv->listen_fd);
	sv->listen_fd = -1;
	frontdoor_close(sv);
	control_unlink(sv);
	/* The ring goes first: its pending reads hold the shard sockets open,
	 * and the workers wait for those to close before they end. */
	io_uring_queue_exit(&sv->ring);
	t = clock_now();
	live = summary_live(sv);
	sv_teardown(sv);
	if (!sv->o->json && sv->procs)
		summary_say(sv, "%u worker process%s released %u guests and exited in %.1f s", sv->procs,
			    sv->procs == 1 ? "" : "es", live, (double)(clock_now() - t) / 1e9);
	status = sv->failed || sv->lost || sv->silent ? 1 : 0;
	sv_free(sv);
	return status;
}

int spawn_main(const struct spawn_opts *o)
{
	struct spawn *sv = calloc(1, sizeof(*sv));
	FILE *times = NULL;

	sv->o = o;
	sv->listen_fd = sv->sig_fd = sv->log_fd = sv->dir_fd = sv->spare_fd = -1;
	sv->metrics.dir_fd = sv->metrics.fd[0] = sv->metrics.fd[1] = -1;
	sv->pause_ts = (struct __kernel_timespec){ .tv_nsec = ACCEPT_PAUSE };
	sv->tty = isatty(STDERR_FILENO);
	if (!spawn_open(sv, &times))
		goto fail;
	meminfo_read(&sv->mem0);
	if (!spawn_start(sv, sv_plan(sv)) || !spawn_confine(sv, times))
		goto fail;
	supervise_run(sv);
	return spawn_finish(sv, times);
fail:
	if (times)
		fclose(times);
	sv_free(sv);
	return 2;
}
