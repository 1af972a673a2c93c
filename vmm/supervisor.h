/* supervisor.h - the state of `kvmlite spawn`'s supervisor: its links to shards, its clients, their requests; the parts that act on it have their own headers. */
#ifndef KVMLITE_SUPERVISOR_H
#define KVMLITE_SUPERVISOR_H

#include <liburing.h>
#include <sys/signalfd.h>

#include "hostinfo.h"
#include "kvm.h"
#include "loader.h"
#include "metrics.h"
#include "outbuf.h"
#include "proto.h"
#include "spawn_opts.h"
#include "wire.h"

#define MAX_LINKS    256	  /* shards at most: worker processes x threads */
#define MAX_CONNS    4096	  /* client connections at once; more are refused with an error line */
#define CONN_OUT_MAX (16u << 20)  /* a client that reads nothing is dropped past this */
#define CONN_OUT_ALL (256u << 20) /* all clients' unread answers together: past it, the furthest behind goes */
#define FD_RESERVE   64		  /* fds a worker keeps for itself: ring, sockets, stdio */
#define TICK_NS	     200000000ull /* progress line and memory budget checks */
#define SETTLE_NS    1000000000ull /* after all booted: what the summary's idle CPU and memory noise are measured over */
#define PID_RESERVE  4096	  /* PIDs left to the host: a tick's worth of creation and then some */
#define WORKER_VMS   1000	  /* KVM VMs per worker process the default worker count aims at */
#define WORKERS_MAX  64		  /* default worker processes at most */
#define PARKED_THREADS 4	  /* default shards a worker when guests are parked as they halt (spawn.c) */
#define PARK_MARGIN  5		  /* --park auto holds the VM count this many points below --mem-budget */
#define METRICS_NS   5000000000ull /* how often the --metrics-file is refreshed */
#define ACCEPT_PAUSE 100000000	  /* ns: until a failed accept(), or a write to a half-closed client, goes again */
#define LINK_KEEP    65536	  /* a link's buffers keep this much once a long answer has gone through */

/*
 * io_uring user_data: kind in the top byte, then a connection's whole
 * 32-bit generation (a completion for an earlier connection in the same
 * slot is recognised by it), then the index of the connection or link.
 */
enum { K_ACCEPT = 1, K_CONN_READ, K_CONN_POLL, K_LINK_READ, K_SIGNAL, K_TICK, K_ACCEPT_WAIT, K_CONN_HUP, K_LINK_POLL,
       K_FRONT_ACCEPT, K_FRONT_WAIT, K_FRONT_SWEEP, K_FRONT_RETRY /* frontdoor.c's */ };
#define UD(kind, gen, idx) (((u64)(kind) << 56) | ((u64)(u32)(gen) << 24) | ((u32)(idx)&0xffffff))
#define UD_KIND(ud)	   ((int)((ud) >> 56))
#define UD_GEN(ud)	   ((u32)((ud) >> 24))
#define UD_IDX(ud)	   ((u32)(ud)&0xffffff)

/* One shard, seen from the supervisor: a socket to a worker thread. */
struct link {
	int fd;
	int worker_fd; /* the worker's end of the socketpair, until the worker is forked; then -1 */
	u32 proc;      /* the worker process it is in, sv->pids[proc] once forked... */
	pid_t pid;     /* ...which is this */
	u32 first, count, created;
	u32 parked;	   /* its guests parked now, as it last said */
	u64 parked_bytes;  /* and what they take */
	u64 templates, template_bytes; /* and their templates (one per image), what those take: fixed */
	u32 spare;	   /* KVM VMs in its pool, carrying no guest */
	u64 staged, stage_ns[NSTAGES]; /* boot stage times: the first byte's summed over its booted guests */
	u64 created_staged;	       /* and the others' over the guests it created */
	bool dead, read_busy, poll_busy;
	struct line_buf lines;
	struct outbuf out;
	size_t held; /* of lines and out, what is counted in out_held (spawn.c, link_fit) */
	u8 rbuf[65536];
};

struct spawn;
struct conn;

/*
 * A client that speaks another protocol than the control socket's (a
 * front door's: gateway.c). control.c hands it what it sent, the answers
 * of the request path and a watched guest's output through these, and
 * knows nothing else of it.
 */
struct conn_door {
	void (*process)(struct spawn *sv, struct conn *c); /* its bytes in rbuf, or an answer, are ready */
	bool (*capture)(struct spawn *sv, struct conn *c, const char *s, size_t n); /* an answer's bytes: taken? */
	void (*output)(struct spawn *sv, struct conn *c, const char *data);	     /* a watched guest wrote DATA */
	void (*flushed)(struct spawn *sv, struct conn *c);			     /* all that was queued was sent */
	void (*release)(struct spawn *sv, struct conn *c);			     /* it closes: its state goes */
};

struct conn {
	int fd;
	u32 gen;
	bool used, read_busy, poll_busy, closing, waiting; /* waiting: an answer is owed... */
	u32 tag;					   /* ...to the request with this tag */
	bool hup_busy;					   /* a poll watches for a hang-up while it waits */
	bool half_closed;				   /* it shut down its writing (it may still read) */
	bool watching;
	u32 watch_id;
	size_t rlen, rpos;
	bool skipping; /* inside a line that was too long */
	u8 rbuf[PROTO_LINE_MAX + 2];
	struct outbuf out;
	const struct conn_door *door; /* a front door's client (gateway.c); NULL: the control socket's */
	struct front *front;	      /* and its state there */
};

/*
 * A request forwarded to one shard, or fanned out to them. Its answer is
 * put straight into its connection's buffer as it comes, so that an
 * answer is held once and counts against the clients' limits; only
 * counts and stats are summed here first.
 */
enum { PEND_FORWARD, PEND_COUNTS, PEND_RANGES, PEND_STATS };
#define PEND_NO_CONN UINT32_MAX /* a request of the supervisor's own (--metrics-file) */
struct pending {
	u32 tag;
	u32 conn, gen;
	u32 remaining;
	u64 links_asked[MAX_LINKS / 64]; /* which shards still owe a part */
	int kind;			 /* PEND_*: how the shards' answers are put together */
	u64 sums[WIRE_NSTATS]; /* PEND_STATS: by wire_stat_names; PEND_COUNTS: by wire_count_names */
	char state[16]; /* PEND_RANGES: the state asked for; shards are asked in turn */
	struct proto_join join; /* PEND_RANGES: the ranges written, and the last one held back */
};

struct spawn {
	const struct spawn_opts *o;
	struct kvm kvm;
	struct guest_image images[8];
	struct link *links;
	u32 nlinks, procs, threads;
	u32 vm_per_shard; /* KVM VMs one shard may hold (parking modes) */
	pid_t *pids;
	u16 *watchers; /* per guest: connections watching it */
	u32 *boot_us;  /* per guest: first output byte, µs after the spawn started */
	u8 *gflags;    /* per guest: */
#define G_BOOTED 1
#define G_ENDED	 2
#define G_FAILED 4
#define G_LOST	 8
#define G_SILENT 16 /* wrote nothing by its boot deadline (and has not since) */
	u32 booted, ended, failed, lost, created, silent;
	u32 settled;	   /* guests that booted, ended, went silent or were lost: each counted once, at the first */
	u32 ended_mute;	   /* ended (not failed) without having written anything */
	u32 resume_failed; /* times a parked guest could not get a VM back */
	u32 lost_live; /* lost guests that had been created (were live) */
	char fail_reason[8][128];
	u32 fail_count[8];
	char silent_reason[8][128]; /* what silent guests do, addresses left out */
	u32 silent_count[8];
	u32 silent_example[8]; /* a guest doing it */
	struct conn *conns;
	u32 nconns;
	size_t out_held;     /* bytes held for clients: answer buffers, and the links' while they carry theirs */
	u32 clients_dropped; /* clients hung up on for not reading their answers */
	u32 accept_errors;   /* accept() failures (EMFILE: the supervisor's fds are all in use) */
	int spare_fd;	     /* given up at the fd limit to accept a client and refuse it (control_accepted) */
	bool refusing;	     /* the spare was given up: the next client accepted is refused */
	struct __kernel_timespec pause_ts; /* ACCEPT_PAUSE: before accept(), or a write to a client, is tried again */
	struct pending *pend;
	u32 npend, next_tag;
	int listen_fd, sig_fd, log_fd;
	char path[108];	       /* the control socket; its sun_path, with the NUL */
	int dir_fd;	       /* its directory, held open from the checks to the end (control_listen) */
	const char *sock_name; /* its name there: the end of path */
	struct io_uring ring;
	struct __kernel_timespec tick_ts;
	u64 t0, t_booted, t_last_progress, stop_at;
	bool stopping, tty, create_stopped, accept_busy;
	bool held; /* --park auto: shards were told to hold their VM count */
	bool park_early; /* --park auto parks every guest as it halts: more guests than the host holds on VMs */
	char stop_reason[128];
	struct meminfo mem0, mem_booted; /* host memory at the start, and once all booted */
	u64 anon_booted;		 /* the workers' anonymous memory (KiB) once all booted */
	struct cpustat cpu_booted;
	u64 vmm_ticks_booted; /* CPU time of all kvmlite processes when all had booted */
	u8 sigbuf[sizeof(struct signalfd_siginfo)];
	struct metrics_file metrics; /* --metrics-file, when metrics.dir_fd >= 0 */
	u64 metrics_next;	     /* when it is refreshed next */
	bool metrics_failed;	     /* a write failed (said once) */
	struct frontdoor *front;     /* --http, --tcp, --tcp-per-guest (frontdoor.c); NULL: none */
};

#endif
