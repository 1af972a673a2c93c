/* shard_state.h - what the parts of a shard share (shard.c, guest.c, pool.c): struct shard, struct guest and a few helpers. */
#ifndef KVMLITE_SHARD_STATE_H
#define KVMLITE_SHARD_STATE_H

/*
 * A header of its own, apart from shard.h, so that the parts below the
 * loop (guest.c, pool.c) can see the shard's state without including the
 * loop's header: the loop calls them, they never call it.
 */
#include <liburing.h>
#include <stdio.h>
#include <time.h>

#include "clock.h"
#include "console.h"
#include "kvm.h"
#include "loader.h"
#include "mem.h"
#include "park.h"
#include "proto.h"
#include "scheduler.h"
#include "spawn_opts.h"
#include "template.h"
#include "vm.h"
#include "wire.h"

#define SHARD_SLICE_NS 10000000ull /* a guest that never halts is preempted after this */
#define SHARD_WBUF_SIZE (1 << 20)  /* bytes to the supervisor not yet written */
#define SHARD_POOL_MAX	32	   /* spare KVM VMs a shard keeps; more are closed */
#define SHARD_POOL_LOW	8	   /* spare VMs made ready while the shard is idle */
#define SHARD_KEPT_MAX	32	   /* parked guests whose pages are given back later, half at a time (pool.c) */

/*
 * One guest as a shard holds it: the VM, its serial console (output ring
 * in an arena, input queue here) and the client request waiting for its
 * answer, if any. Its place in the run queue, the deadline heap and the
 * LRU is in the shard's sched, at the same index.
 */
struct guest {
	struct vm vm;
	struct shard *shard;
	struct console con; /* its COM1: output ring, input queue, watchers, a request's answer */
	bool created, booted, reported;
	bool silent;	     /* reported silent: wrote nothing by its boot deadline */
	struct parked *park; /* while parked: its vCPU state and RAM (template.c); NULL while it has a VM */
	u64 t_ready;	     /* set up and queued to run, until its first byte (stage times) */
	u64 silent_at;	     /* not booted by then: reported silent (0: never, or done); moved on by queue waits */
};

struct shard_stats {
	u64 slices, preempted, wakeups, create_failed, log_errors;
	u64 stage_ns[NSTAGES], staged; /* staged: guests counted in stage_ns[STAGE_FIRST_BYTE] (booted) */
	u64 created_staged;	       /* guests counted in the stages before it (created) */
	u64 parks, resumes, pool_hits, resume_failed, vms_created;
	u64 cq_overflows; /* turns that found completions waiting in the kernel's overflow list */
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
	u64 boot_timeout;   /* --boot-timeout (ns): a guest that wrote nothing by then is silent; 0: never */
	u64 cpu_mark;	    /* the thread's CPU time when its last work was charged (ns) */
	u32 nobody;	    /* depth of shard_nobody_begin(): work charged to no guest */
	bool full_cq;	    /* fault injection: a 1-entry ring whose completion queue keeps overflowing */
	u32 vm_max;	    /* KVM VMs this shard may hold: resident guests and the pool */
	u32 resident;	    /* guests that have a VM now */
	u32 parked, parked_reported, created_reported;
	u64 staged_reported;
	u64 parked_bytes;   /* what parked guests take: records, struct guest, scheduler slots */
	struct templates templates; /* one per image, parked guests' base: a fixed cost (templates.bytes) */
	u32 kept[SHARD_KEPT_MAX], nkept; /* parked guests whose RAM pages are still in their slots, oldest first */
	struct machine pool[SHARD_POOL_MAX]; /* spare machines, no guest's RAM mapped */
	u32 pool_len, pool_reported;
	struct park *fresh;	/* the first VM's state before it ever ran: a reused VM's reset */
	int sock;	    /* socketpair end to the supervisor */
	struct guest *g;
	struct arena ram;
	struct console_pages pages; /* the guests' output rings */
	struct sched sched; /* run queue, deadline heap, LRU, CPU shares: by guest index */
	struct io_uring ring;
	bool read_busy, timeout_busy;
	int read_done;	    /* a read completion kept aside while waiting for a write; INT32_MIN: none */
	u64 timeout_at;	    /* what the outstanding io_uring timeout is armed for */
	struct __kernel_timespec timeout_ts;
	timer_t slice_timer;
	u64 slice_timer_at; /* when it fires (guest_arm_kick); 0: disarmed */
	struct line_buf lines; /* from the supervisor */
	u8 rbuf[16384];
	struct sendbuf to_sv;  /* lines to the supervisor */
	struct sendbuf log;    /* guest output lines for --log, if any */
	struct shard_stats stats;
	char err[256];	    /* why shard_init failed */
};

/* Helpers the shard's parts share: they call nothing above them. */

/*
 * Work done for no guest in particular (commands, creating guests, making
 * VMs, parking) is not charged to the next guest that runs: it lies
 * between shard_nobody_begin() and shard_nobody_end(). They nest (a
 * command may park a guest); only the outermost pair counts.
 */
static inline u64 shard_nobody_begin(struct shard *s)
{
	return s->nobody++ ? 0 : clock_thread_cpu();
}

static inline void shard_nobody_end(struct shard *s, u64 since)
{
	if (--s->nobody == 0)
		s->cpu_mark += clock_thread_cpu() - since;
}

/* The guest's index in its shard: its slot in the arenas and in s->sched. */
static inline u32 guest_slot(const struct shard *s, const struct guest *g)
{
	return (u32)(g - s->g);
}

static inline struct sched_entry *guest_sched(struct shard *s, const struct guest *g)
{
	return &s->sched.e[guest_slot(s, g)];
}

/* "@fatal shard ID: WHAT": this shard cannot go on. */
static inline void shard_fatal(struct shard *s, const char *what)
{
	char text[WIRE_LINE_MAX + 32], line[WIRE_LINE_MAX];

	snprintf(text, sizeof(text), "shard %u: %s", s->id, what);
	sendbuf_put(&s->to_sv, line, wire_fatal_format(line, sizeof(line), text));
}

static inline u32 guest_id(const struct guest *g)
{
	return g->vm.index;
}

#endif
