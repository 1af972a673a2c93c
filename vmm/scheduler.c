/* scheduler.c - one shard's scheduler: run queue, deadline heap, LRU of halted guests, CPU shares; time passed in. */
#include <stdlib.h>

#include "scheduler.h"

int sched_init(struct sched *q, u32 count, u64 cpu_quota)
{
	*q = (struct sched){ .count = count, .lru_head = SCHED_NONE, .lru_tail = SCHED_NONE, .cpu_quota = cpu_quota };
	q->e = calloc(count, sizeof(*q->e));
	q->runq = calloc(count, sizeof(u32));
	q->heap = calloc(count, sizeof(u32));
	if (!q->e || !q->runq || !q->heap) {
		sched_free(q);
		return -1;
	}
	for (u32 i = 0; i < count; i++)
		q->e[i].heap_pos = SCHED_NONE;
	return 0;
}

void sched_free(struct sched *q)
{
	free(q->e);
	free(q->runq);
	free(q->heap);
	q->e = NULL;
	q->runq = q->heap = NULL;
}

/* ---- the run queue: guests that want the CPU, round robin ---- */

void sched_push(struct sched *q, u32 i, u64 now)
{
	struct sched_entry *e = &q->e[i];

	if (e->queued || e->retry_at)
		return;
	sched_lru_remove(q, i); /* it is active again */
	if (e->throttled_until)
		return; /* it runs when its period ends: filed in the heap under that */
	e->queued = true;
	e->queued_at = now;
	/* A guest is queued at most once, so count slots always suffice. */
	q->runq[(q->runq_head + q->runq_len++) % q->count] = i;
}

u32 sched_pop(struct sched *q)
{
	u32 i;

	if (!q->runq_len)
		return SCHED_NONE;
	i = q->runq[q->runq_head];
	q->runq_head = (q->runq_head + 1) % q->count;
	q->runq_len--;
	q->e[i].queued = false;
	return i;
}

/* ---- the deadline heap: guests by the next moment they need attention ---- */

static void heap_swap(struct sched *q, u32 a, u32 b)
{
	u32 t = q->heap[a];

	q->heap[a] = q->heap[b];
	q->heap[b] = t;
	q->e[q->heap[a]].heap_pos = a;
	q->e[q->heap[b]].heap_pos = b;
}

static u64 heap_key_at(const struct sched *q, u32 pos)
{
	return q->e[q->heap[pos]].heap_key;
}

/* Moves slot i up or down until its parent is no later and no child earlier. */
static void heap_sift(struct sched *q, u32 i)
{
	while (i > 0 && heap_key_at(q, (i - 1) / 2) > heap_key_at(q, i)) {
		heap_swap(q, i, (i - 1) / 2);
		i = (i - 1) / 2;
	}
	for (;;) {
		u32 l = 2 * i + 1, r = l + 1, m = i;

		if (l < q->heap_len && heap_key_at(q, l) < heap_key_at(q, m))
			m = l;
		if (r < q->heap_len && heap_key_at(q, r) < heap_key_at(q, m))
			m = r;
		if (m == i)
			return;
		heap_swap(q, i, m);
		i = m;
	}
}

u64 sched_late(u64 due, u64 now)
{
	u64 room = due > now && due != UINT64_MAX ? (due - now) / 16 : 0, grid;

	if (room < 1024) /* within 16 µs of it, or past: serve it on time */
		return due;
	grid = room >= SCHED_LATE_MAX_NS ? SCHED_LATE_MAX_NS : 1ull << (63 - __builtin_clzll(room));
	return due > UINT64_MAX - grid ? due : (due + grid - 1) & ~(grid - 1);
}

void sched_unfile(struct sched *q, u32 i)
{
	u32 pos = q->e[i].heap_pos;

	if (pos == SCHED_NONE)
		return;
	q->e[i].heap_pos = SCHED_NONE;
	if (pos != --q->heap_len) {
		q->heap[pos] = q->heap[q->heap_len];
		q->e[q->heap[pos]].heap_pos = pos;
		heap_sift(q, pos);
	}
}

void sched_file(struct sched *q, u32 i, u64 run_at, u64 attention_at)
{
	struct sched_entry *e = &q->e[i];
	/* Held back (a failed resume, a used-up CPU share): not run before then. */
	u64 hold = e->retry_at > e->throttled_until ? e->retry_at : e->throttled_until;
	u64 key = hold ? hold : run_at;

	if (attention_at < key)
		key = attention_at;
	if (key == UINT64_MAX) {
		sched_unfile(q, i);
		return;
	}
	e->heap_key = key;
	if (e->heap_pos == SCHED_NONE) {
		e->heap_pos = q->heap_len;
		q->heap[q->heap_len++] = i;
	}
	heap_sift(q, e->heap_pos);
}

u64 sched_next_due(const struct sched *q)
{
	return q->heap_len ? heap_key_at(q, 0) : UINT64_MAX;
}

u32 sched_pop_due(struct sched *q, u64 now)
{
	u32 i;

	if (!q->heap_len || heap_key_at(q, 0) > now)
		return SCHED_NONE;
	i = q->heap[0];
	sched_unfile(q, i);
	return i;
}

/* ---- resident halted guests, least recently active first ---- */

void sched_lru_remove(struct sched *q, u32 i)
{
	struct sched_entry *e = &q->e[i];

	if (!e->in_lru)
		return;
	e->in_lru = false;
	if (e->lru_prev != SCHED_NONE)
		q->e[e->lru_prev].lru_next = e->lru_next;
	else
		q->lru_head = e->lru_next;
	if (e->lru_next != SCHED_NONE)
		q->e[e->lru_next].lru_prev = e->lru_prev;
	else
		q->lru_tail = e->lru_prev;
}

void sched_lru_append(struct sched *q, u32 i)
{
	struct sched_entry *e = &q->e[i];

	/* A guest waiting for the CPU is active, not a candidate for parking. */
	if (e->in_lru || e->queued)
		return;
	e->in_lru = true;
	e->lru_next = SCHED_NONE;
	e->lru_prev = q->lru_tail;
	if (q->lru_tail != SCHED_NONE)
		q->e[q->lru_tail].lru_next = i;
	else
		q->lru_head = i;
	q->lru_tail = i;
}

/* ---- CPU shares (--cpu-max) and holds ---- */

u64 sched_slice_start(struct sched *q, u32 i, u64 now)
{
	struct sched_entry *e = &q->e[i];

	if (now - e->cpu_since >= SCHED_CPU_PERIOD_NS) { /* a new period: its share is whole again */
		e->cpu_since = now;
		e->cpu_used = 0;
	}
	if (!q->cpu_quota)
		return UINT64_MAX;
	return e->cpu_used < q->cpu_quota ? q->cpu_quota - e->cpu_used : 0;
}

/*
 * A guest that used up its share of the period is throttled until the
 * period ends: it is not run, and the interrupts its PIT raises meanwhile
 * coalesce, as missed periods do. So no guest can take more than its share
 * of a CPU from the others, however it tries: spinning, a PIT storm, a
 * UART flood.
 */
void sched_charge(struct sched *q, u32 i, u64 used, bool may_run)
{
	struct sched_entry *e = &q->e[i];

	e->cpu_total += used;
	e->cpu_used += used;
	if (q->cpu_quota && e->cpu_used >= q->cpu_quota && may_run) {
		e->throttled_until = e->cpu_since + SCHED_CPU_PERIOD_NS;
		e->throttles++;
		q->throttles++;
	}
}

void sched_hold_retry(struct sched *q, u32 i, u64 now)
{
	struct sched_entry *e = &q->e[i];
	/* 100 ms, doubled per failure in a row, at most 5 times: 3.2 s */
	e->retry_at = now + (100000000ull << (e->retries < 5 ? e->retries : 5));
	e->retries++;
}

void sched_release(struct sched *q, u32 i, u64 now)
{
	struct sched_entry *e = &q->e[i];

	if (e->retry_at && e->retry_at <= now)
		e->retry_at = 0;
	if (e->throttled_until && e->throttled_until <= now)
		e->throttled_until = 0;
}
