/* shard.h - one worker thread's share of a spawn: many guests run M:N, one io_uring, one socket to the supervisor. */
#ifndef KVMLITE_SHARD_H
#define KVMLITE_SHARD_H

#include <liburing.h>
#include <time.h>

#include "kvm.h"
#include "loader.h"
#include "mem.h"
#include "park.h"
#include "proto.h"
#include "spawn.h"
#include "vm.h"
#include "wire.h"

#define SHARD_SLICE_NS 10000000ull /* a guest that never halts is preempted after this */
#define GUEST_OUT_SIZE 4096	   /* each guest's output ring; older bytes are dropped and counted */
#define GUEST_IN_SIZE 256	   /* input queued for a guest that it has not read yet */
#define SHARD_WBUF_SIZE (1 << 20)  /* bytes to the supervisor not yet written */
#define SHARD_POOL_MAX	32	   /* spare KVM VMs a shard keeps; more are closed */
#define SHARD_POOL_LOW	8	   /* spare VMs made ready while the shard is idle */
#define SHARD_CPU_PERIOD_NS 100000000ull /* --cpu-max: a guest's share is counted over this period */

/*
 * One guest as a shard holds it: the VM, its place in the run queue and
 * the deadline heap, its serial console (output ring in an arena, input
 * queue here) and the client request waiting for its answer, if any.
 */
/*
 * Bytes on their way out through io_uring, to the supervisor's socket or the
 * log file. The kernel reads [0, busy) while a write is in flight; new
 * bytes go after it; nothing moves until the write completes.
 */
struct sendbuf {
	int fd;	      /* -1: none (bytes are dropped) */
	bool socket;  /* send() rather than write() at the file's end */
	bool inflight;
	char *buf;    /* SHARD_WBUF_SIZE bytes */
	size_t len, busy;
};

struct guest {
	struct vm vm;
	struct shard *shard;
	u8 *out;	     /* GUEST_OUT_SIZE ring: byte p is at out[p % GUEST_OUT_SIZE]; NULL while parked */
	u64 out_total;	     /* bytes ever written by the guest */
	u64 watch_pos;	     /* output up to here has been sent to watchers */
	u64 log_pos;	     /* output up to here has been logged (whole lines only) */
	u64 req_pos;	     /* the pending request's answer starts here */
	u64 req_deadline;    /* UINT64_MAX: no request pending */
	u64 heap_key;	     /* the deadline it is filed under in the heap */
	u32 heap_pos;	     /* index in the heap, or UINT32_MAX */
	u32 req_tag;	     /* the supervisor's tag for the pending request */
	u16 in_len, in_pos;  /* queued input */
	bool created, queued, booted, watched, reported;
	bool in_lru;	     /* on the shard's list of resident halted guests */
	u8 resume_tries;     /* failed attempts to give it a VM back, in a row */
	u32 lru_prev, lru_next;
	struct park *park;   /* while parked: its vCPU state; NULL while it has a VM */
	u64 retry_at;	     /* after a failed resume: when to try again; 0: not waiting */
	u64 cpu_since;	     /* --cpu-max: the start of its current period... */
	u64 cpu_used;	     /* ...and the shard's CPU time it has used in it (ns) */
	u64 throttled_until; /* used up its share: runs again then; 0: not throttled */
	u64 cpu_total;	     /* all the CPU time it has used (ns) */
	u32 throttles;	     /* times it used up its share */
	u64 t_ready;	     /* set up and queued to run, until its first byte (stage times) */
	u64 silent_at;	     /* not booted by then: reported silent (0: never, or done); moved on by queue waits */
	u64 queued_at;	     /* when it last joined the run queue (while silent_at is set) */
	bool silent;	     /* reported silent: wrote nothing by its boot deadline */
	u8 in[GUEST_IN_SIZE];
};

struct shard_stats {
	u64 slices, preempted, wakeups, create_failed, log_errors;
	u64 stage_ns[NSTAGES], staged; /* staged: guests counted in stage_ns[STAGE_FIRST_BYTE] (booted) */
	u64 created_staged;	       /* guests counted in the stages before it (created) */
	u64 parks, resumes, pool_hits, resume_failed, vms_created;
	u64 cq_overflows; /* turns that found completions waiting in the kernel's overflow list */
	u64 throttles;	  /* times a guest used up its --cpu-max share */
};

struct shard {
	u32 id;		    /* shard number, for messages */
	u32 first, count;   /* guest ids first .. first + count - 1 */
	u32 created;	    /* guests created so far, in id order */
	bool create_stop;   /* the supervisor said: create no more (memory budget) */
	bool stopping;	    /* the supervisor went away: end everything */
	const struct kvm *kvm;
	const struct guest_image *images; /* which image each guest id boots */
	bool firmware;
	enum park_mode park;
	bool sandbox;	    /* seccomp filter and io_uring restrictions (not --no-sandbox) */
	u64 cpu_quota;	    /* --cpu-max: each guest's CPU time per SHARD_CPU_PERIOD_NS; 0: no cap */
	u64 boot_timeout;   /* --boot-timeout (ns): a guest that wrote nothing by then is silent; 0: never */
	u64 cpu_mark;	    /* the thread's CPU time when its last work was charged (ns) */
	u32 nobody;	    /* depth of shard_nobody_begin(): work charged to no guest */
	bool full_cq;	    /* fault injection: a 1-entry ring whose completion queue keeps overflowing */
	u32 vm_max;	    /* KVM VMs this shard may hold: resident guests and the pool */
	u32 resident;	    /* guests that have a VM now */
	u32 parked, parked_reported, created_reported;
	u64 staged_reported;
	u64 parked_bytes;   /* what parked guests take: records, RAM pages, struct guest */
	struct machine pool[SHARD_POOL_MAX]; /* spare machines, no guest's RAM mapped */
	u32 pool_len;
	u32 lru_head, lru_tail; /* resident halted guests, least recently active first */
	struct park *fresh;	/* the first VM's state before it ever ran: a reused VM's reset */
	int sock;	    /* socketpair end to the supervisor */
	struct guest *g;
	struct arena ram;
	u8 *out_arena;	    /* output ring pages, handed out in order... */
	u32 out_used;	    /* ...this many so far */
	u8 *out_free;	    /* rings given back by parked guests, for reuse */
	u32 *runq;	    /* ring of guest indices that want the CPU */
	u32 runq_head, runq_len;
	u32 *heap;	    /* min-heap of guest indices by heap_key */
	u32 heap_len;
	struct io_uring ring;
	bool read_busy, timeout_busy;
	int read_done;	    /* a read completion kept aside while waiting for a write; INT32_MIN: none */
	u64 timeout_at;	    /* what the outstanding io_uring timeout is armed for */
	struct __kernel_timespec timeout_ts;
	timer_t slice_timer;
	struct line_buf lines; /* from the supervisor */
	u8 rbuf[16384];
	struct sendbuf to_sv;  /* lines to the supervisor */
	struct sendbuf log;    /* guest output lines for --log, if any */
	struct shard_stats stats;
	char err[256];	    /* why shard_init failed */
};

int shard_init(struct shard *s, u32 id, u32 first, u32 count, const struct kvm *kvm,
	       const struct guest_image *images, const struct spawn_opts *o, int sock, int log_fd, u32 vm_max);
/* The thread body: runs until the supervisor closes its socket. */
void *shard_main(void *arg);
void shard_free(struct shard *s);

#endif
