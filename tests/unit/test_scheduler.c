/* test_scheduler.c - one shard's scheduler with time passed in: round robin, the deadline heap, CPU shares, the LRU,
 * holds. */
#include <stdlib.h>

#include "unit.h"
#include "scheduler.h"

#define MS 1000000ull

static struct sched *sched_new(u32 count, u64 quota)
{
	struct sched *q = malloc(sizeof(*q));

	assert_non_null(q);
	assert_int_equal(sched_init(q, count, quota), 0);
	return q;
}

static void sched_del(struct sched *q)
{
	sched_free(q);
	free(q);
}

static void test_run_queue_is_round_robin(void **state)
{
	struct sched *q = sched_new(4, 0);

	sched_push(q, 2, 0);
	sched_push(q, 0, 0);
	sched_push(q, 3, 0);
	sched_push(q, 0, 0); /* already queued: not twice */
	assert_int_equal(q->runq_len, 3);
	assert_int_equal(sched_pop(q), 2);
	sched_push(q, 2, 0); /* ran its slice, wants more: after the others */
	assert_int_equal(sched_pop(q), 0);
	assert_int_equal(sched_pop(q), 3);
	assert_int_equal(sched_pop(q), 2);
	assert_int_equal(sched_pop(q), SCHED_NONE);
	/* the ring wraps: every guest once more, in the order pushed */
	for (u32 i = 0; i < 4; i++)
		sched_push(q, 3 - i, 0);
	for (u32 i = 0; i < 4; i++)
		assert_int_equal(sched_pop(q), 3 - i);
	sched_del(q);
}

static void test_heap_orders_by_deadline_and_keeps_equal_keys(void **state)
{
	struct sched *q = sched_new(8, 0);
	u64 keys[8] = { 50, 10, 50, 30, 10, 70, 50, 20 };
	u32 seen[8] = { 0 };
	u64 last = 0;

	for (u32 i = 0; i < 8; i++)
		sched_file(q, i, keys[i], UINT64_MAX);
	assert_int_equal(sched_next_due(q), 10);
	assert_int_equal(sched_pop_due(q, 9), SCHED_NONE); /* nothing due before 10 */
	for (u32 n = 0; n < 8; n++) {
		u32 i = sched_pop_due(q, 1000);

		assert_true(i < 8);
		assert_true(keys[i] >= last); /* never an earlier key after a later one */
		last = keys[i];
		seen[i]++;
		assert_int_equal(q->e[i].heap_pos, SCHED_NONE);
	}
	for (u32 i = 0; i < 8; i++)
		assert_int_equal(seen[i], 1); /* equal keys: each guest comes out once */
	assert_int_equal(sched_next_due(q), UINT64_MAX);
	sched_del(q);
}

static void test_heap_refiles_and_takes_out(void **state)
{
	struct sched *q = sched_new(4, 0);

	sched_file(q, 0, 100, UINT64_MAX);
	sched_file(q, 1, 200, UINT64_MAX);
	sched_file(q, 2, 300, UINT64_MAX);
	sched_file(q, 2, 50, UINT64_MAX); /* refiled earlier: moves up, is not added twice */
	assert_int_equal(q->heap_len, 3);
	assert_int_equal(sched_next_due(q), 50);
	sched_file(q, 1, 400, 150);		  /* a request's timeout comes first */
	sched_file(q, 0, UINT64_MAX, UINT64_MAX); /* no deadline: out */
	assert_int_equal(q->heap_len, 2);
	sched_unfile(q, 0); /* not in it: nothing happens */
	assert_int_equal(sched_pop_due(q, 1000), 2);
	assert_int_equal(sched_pop_due(q, 1000), 1);
	assert_int_equal(sched_pop_due(q, 1000), SCHED_NONE);
	sched_del(q);
}

static void test_throttled_at_quota_and_released_at_period_end(void **state)
{
	u64 quota = SCHED_CPU_PERIOD_NS / 5; /* --cpu-max 20 */
	struct sched *q = sched_new(2, quota);
	u64 t0 = 1000 * MS;

	assert_int_equal(sched_slice_start(q, 0, t0), quota);
	sched_charge(q, 0, quota / 2, true);
	assert_int_equal(q->e[0].throttled_until, 0);
	assert_int_equal(sched_slice_start(q, 0, t0 + 1 * MS), quota - quota / 2);
	sched_charge(q, 0, quota - quota / 2, true); /* its share is used up */
	assert_int_equal(q->e[0].throttled_until, t0 + SCHED_CPU_PERIOD_NS);
	assert_int_equal(q->e[0].throttles, 1);
	assert_int_equal(q->throttles, 1);
	/* not queued while throttled: filed under its period's end instead */
	sched_push(q, 0, t0 + 2 * MS);
	assert_false(q->e[0].queued);
	sched_file(q, 0, t0 + 3 * MS, UINT64_MAX);
	assert_int_equal(sched_next_due(q), t0 + SCHED_CPU_PERIOD_NS);
	/* before the period's end: still held; at it: released, a whole share again */
	sched_release(q, 0, t0 + SCHED_CPU_PERIOD_NS - 1);
	assert_int_not_equal(q->e[0].throttled_until, 0);
	sched_release(q, 0, t0 + SCHED_CPU_PERIOD_NS);
	assert_int_equal(q->e[0].throttled_until, 0);
	sched_push(q, 0, t0 + SCHED_CPU_PERIOD_NS);
	assert_int_equal(sched_pop(q), 0);
	assert_int_equal(sched_slice_start(q, 0, t0 + SCHED_CPU_PERIOD_NS), quota);
	/* an ended guest is never throttled; without a cap nobody is */
	sched_charge(q, 1, 2 * quota, false);
	assert_int_equal(q->e[1].throttled_until, 0);
	assert_int_equal(q->e[1].cpu_total, 2 * quota);
	sched_del(q);
	q = sched_new(1, 0);
	assert_int_equal(sched_slice_start(q, 0, t0), UINT64_MAX);
	sched_charge(q, 0, 10 * SCHED_CPU_PERIOD_NS, true);
	assert_int_equal(q->e[0].throttled_until, 0);
	sched_del(q);
}

static void test_lru_is_least_recently_active_first(void **state)
{
	struct sched *q = sched_new(4, 0);

	assert_int_equal(sched_lru_oldest(q), SCHED_NONE);
	sched_lru_append(q, 1);
	sched_lru_append(q, 3);
	sched_lru_append(q, 0);
	sched_lru_append(q, 1); /* already on it: stays where it was */
	assert_int_equal(sched_lru_oldest(q), 1);
	sched_lru_remove(q, 1);
	assert_int_equal(sched_lru_oldest(q), 3);
	sched_lru_remove(q, 0); /* the tail */
	sched_lru_append(q, 2);
	sched_lru_remove(q, 3);
	assert_int_equal(sched_lru_oldest(q), 2);
	sched_lru_remove(q, 2);
	assert_int_equal(sched_lru_oldest(q), SCHED_NONE);
	assert_int_equal(q->lru_tail, SCHED_NONE);
	sched_del(q);
}

/* The run queue and the LRU exclude each other: a guest that wants the CPU
 * is active, and an active guest is not whom parking should take. */
static void test_never_on_two_queues(void **state)
{
	struct sched *q = sched_new(3, 0);

	sched_lru_append(q, 0);
	sched_lru_append(q, 1);
	sched_push(q, 0, 0); /* woken: leaves the LRU */
	assert_false(q->e[0].in_lru);
	assert_int_equal(sched_lru_oldest(q), 1);
	sched_lru_append(q, 0); /* queued: not a parking candidate */
	assert_false(q->e[0].in_lru);
	assert_int_equal(q->lru_tail, 1);
	for (u32 i = 0; i < 3; i++)
		assert_false(q->e[i].queued && q->e[i].in_lru);
	sched_del(q);
}

static void test_failed_resume_holds_with_backoff(void **state)
{
	struct sched *q = sched_new(1, 0);
	u64 now = 10000 * MS;

	sched_hold_retry(q, 0, now);
	assert_int_equal(q->e[0].retry_at, now + 100 * MS);
	sched_push(q, 0, now); /* held: not queued */
	assert_int_equal(q->runq_len, 0);
	sched_file(q, 0, now + 1, UINT64_MAX);
	assert_int_equal(sched_next_due(q), now + 100 * MS);
	sched_release(q, 0, now + 100 * MS);
	assert_int_equal(q->e[0].retry_at, 0);
	for (int n = 0; n < 6; n++)
		sched_hold_retry(q, 0, now);
	assert_int_equal(q->e[0].retry_at, now + 3200 * MS); /* doubled five times, no more */
	sched_retry_ok(q, 0);
	sched_hold_retry(q, 0, now);
	assert_int_equal(q->e[0].retry_at, now + 100 * MS);
	sched_del(q);
}

/*
 * Device deadlines may be served late, within a bound, so that many
 * guests' ticks share a wakeup: never early, never later than a 16th of
 * the time left or SCHED_LATE_MAX_NS, and deadlines close together land on
 * the same key.
 */
static void test_late_deadlines_share_a_key_within_the_bound(void **state)
{
	const u64 now = 5000 * MS + 123457, tick = 54925439; /* 18.2 Hz */
	u64 keys[64];
	u32 distinct = 1;

	(void)state;
	for (u32 i = 0; i < 64; i++) {
		u64 due = now + tick + i * 7919; /* 64 guests' ticks within 0.5 ms */

		keys[i] = sched_late(due, now);
		assert_true(keys[i] >= due);
		assert_true(keys[i] - due < SCHED_LATE_MAX_NS);
		distinct += i && keys[i] != keys[i - 1];
	}
	assert_true(distinct <= 2); /* one grid cell, or two if they straddle a line */
	/* about 1 ms ahead (a 1 kHz PIT): a 16th of the time left at most */
	for (u64 due = now + MS; due < now + MS + 100000; due += 997)
		assert_true(sched_late(due, now) - due <= (due - now) / 16);
	assert_true(sched_late(now + MS, now) - (now + MS) < 32768);
	/* within 16 µs, past, or none: exactly when due */
	assert_true(sched_late(now + 16000, now) == now + 16000);
	assert_true(sched_late(now - 5, now) == now - 5);
	assert_true(sched_late(UINT64_MAX, now) == UINT64_MAX);
	assert_true(sched_late(UINT64_MAX - 3, 0) == UINT64_MAX - 3);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_run_queue_is_round_robin),
		cmocka_unit_test(test_heap_orders_by_deadline_and_keeps_equal_keys),
		cmocka_unit_test(test_heap_refiles_and_takes_out),
		cmocka_unit_test(test_throttled_at_quota_and_released_at_period_end),
		cmocka_unit_test(test_lru_is_least_recently_active_first),
		cmocka_unit_test(test_never_on_two_queues),
		cmocka_unit_test(test_failed_resume_holds_with_backoff),
		cmocka_unit_test(test_late_deadlines_share_a_key_within_the_bound),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
