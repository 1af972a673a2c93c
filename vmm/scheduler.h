/* scheduler.h - one shard's scheduler: whom to run next, when to look at whom, whom to park; no KVM, no io_uring. */
#ifndef KVMLITE_SCHEDULER_H
#define KVMLITE_SCHEDULER_H

#include <stdbool.h>

#include "types.h"

#define SCHED_NONE	    UINT32_MAX	 /* no guest: an empty list's head, a guest in no heap slot */
#define SCHED_CPU_PERIOD_NS 100000000ull /* --cpu-max: a guest's share is counted over this period */

/*
 * What the scheduler keeps of one guest, addressed by the guest's index in
 * its shard. Time is given to every call, as the devices are given it, so
 * the scheduler can be tested without a clock, KVM or io_uring.
 */
struct sched_entry {
	u64 heap_key; /* the moment it is filed under in the deadline heap */
	u32 heap_pos; /* its slot in the heap, or SCHED_NONE */
	bool queued;  /* in the run queue */
	bool in_lru;  /* on the list of resident halted guests */
	u8 retries;   /* failed resumes in a row: the hold (retry_at) doubles with each */
	u32 lru_prev, lru_next;
	u64 queued_at;	     /* when it last joined the run queue */
	u64 retry_at;	     /* held after a failed resume until then; 0: not held */
	u64 cpu_since;	     /* --cpu-max: the start of its current period... */
	u64 cpu_used;	     /* ...and the CPU time it has used in it (ns) */
	u64 throttled_until; /* used up its share: runs again then; 0: not throttled */
	u64 cpu_total;	     /* all the CPU time it has used (ns) */
	u32 throttles;	     /* times it used up its share */
};

struct sched {
	u32 count;	       /* guests, indices 0 .. count - 1 */
	struct sched_entry *e; /* count entries */
	u32 *runq;	       /* ring of indices that want the CPU, round robin */
	u32 runq_head, runq_len;
	u32 *heap; /* min-heap of indices by heap_key */
	u32 heap_len;
	u32 lru_head, lru_tail; /* resident halted guests, least recently active first */
	u64 cpu_quota;		/* each guest's CPU time per SCHED_CPU_PERIOD_NS; 0: no cap */
	u64 throttles;		/* times any guest used up its share */
};

int sched_init(struct sched *q, u32 count, u64 cpu_quota);
void sched_free(struct sched *q);

/* The run queue. A guest held back (a failed resume, a used-up share) is
 * not queued: it is filed in the heap under the end of its hold. */
void sched_push(struct sched *q, u32 i, u64 now);
u32 sched_pop(struct sched *q); /* SCHED_NONE when nobody wants the CPU */

/*
 * The deadline heap: files guest i under the earliest moment it needs
 * attention. run_at (its devices' next deadline) counts only while it is
 * not held; attention_at (a request's timeout, its boot deadline) always.
 * Both UINT64_MAX: taken out.
 */
void sched_file(struct sched *q, u32 i, u64 run_at, u64 attention_at);
/*
 * When a device deadline due at `due` may be served, filed at `now`: late
 * by at most SCHED_LATE_MAX_NS and at most a 16th of the time left, on a
 * grid of that size, so that the deadlines of many guests falling into one
 * cell share one wakeup (an 18.2 Hz tick is at most 1.05 ms late; a 1 kHz
 * one 33 µs). Never earlier than due.
 */
u64 sched_late(u64 due, u64 now);
#define SCHED_LATE_MAX_NS (1ull << 20)
void sched_unfile(struct sched *q, u32 i);
u64 sched_next_due(const struct sched *q);   /* the earliest key; UINT64_MAX: none */
u32 sched_pop_due(struct sched *q, u64 now); /* takes out one guest due by now; SCHED_NONE: none */

/* Resident halted guests, least recently active first: whom --park auto parks. */
void sched_lru_append(struct sched *q, u32 i);
void sched_lru_remove(struct sched *q, u32 i);
static inline u32 sched_lru_oldest(const struct sched *q)
{
	return q->lru_head;
}

/* --cpu-max. At a slice's start: the CPU time guest i may use in it
 * (UINT64_MAX: no cap), its period renewed if it is over. */
u64 sched_slice_start(struct sched *q, u32 i, u64 now);
/* Charges guest i with CPU time it used; one that may still run and used
 * up its share is throttled until its period ends. */
void sched_charge(struct sched *q, u32 i, u64 used, bool may_run);

/* After a failed resume: held for 100 ms, doubling with each failure in a
 * row, up to 3.2 s. sched_retry_ok() after a success. */
void sched_hold_retry(struct sched *q, u32 i, u64 now);
static inline void sched_retry_ok(struct sched *q, u32 i)
{
	q->e[i].retries = 0;
}

/* Ends the holds that are over by now. */
void sched_release(struct sched *q, u32 i, u64 now);

#endif
