/* test_i8254.c - cmocka tests of the 8254 PIT model against the Intel datasheet, on a fake host clock. */
#include <string.h>

#include "unit.h"
#include "devices/i8254.h"
#include "layout.h"

#define T0	1000000000ull /* the fake host clock at power-on: 1 s */
#define CH0	0
#define CH2	2
#define CTRL	3
#define RW_LSB	1
#define RW_MSB	2
#define RW_WORD 3

struct rig {
	struct pit pit;
	struct irq_probe probe;
};

static void rig_init(struct rig *r)
{
	memset(r, 0, sizeof(*r));
	pit_init(&r->pit, (struct irq_line){ .set = irq_probe_set, .ctx = &r->probe, .irq = IRQ_PIT }, T0);
}

/* Host ns after which `clocks` PIT clocks have passed: computed here independently of the model. */
static u64 clk(u64 clocks)
{
	return (u64)(((unsigned __int128)clocks * 1000000000u + PIT_HZ - 1) / PIT_HZ);
}

static void out8(struct rig *r, u16 port, u8 v, u64 now)
{
	assert_int_equal(pit_io(&r->pit, port, v, 1, true, now), 0);
}

static u8 in8(struct rig *r, u16 port, u64 now)
{
	return (u8)pit_io(&r->pit, port, 0, 1, false, now);
}

static void control(struct rig *r, int ch, int rw, int mode, u64 now)
{
	out8(r, CTRL, (u8)(ch << 6 | rw << 4 | mode << 1), now);
}

/* Control word with LSB-then-MSB access and a 16-bit count, as BIOSes do it. */
static void program(struct rig *r, int ch, int mode, u16 count, u64 now)
{
	control(r, ch, RW_WORD, mode, now);
	out8(r, ch, count & 0xff, now);
	out8(r, ch, count >> 8, now);
}

/* Two reads, LSB first. */
static u16 read16(struct rig *r, int ch, u64 now)
{
	u8 lo = in8(r, ch, now);

	return (u16)(lo | in8(r, ch, now) << 8);
}

/* Counter latch command, then the two bytes. */
static u16 latched(struct rig *r, int ch, u64 now)
{
	out8(r, CTRL, (u8)(ch << 6), now);
	return read16(r, ch, now);
}

/* Read-back command latching only the status of one counter. */
static u8 status(struct rig *r, int ch, u64 now)
{
	out8(r, CTRL, (u8)(0xc0 | 0x20 | 2 << ch), now);
	return in8(r, ch, now);
}

static bool out2(struct rig *r, u64 now)
{
	return pit_port61_read(&r->pit, now) & 0x20;
}

static void test_power_on_has_no_deadline(void **state)
{
	struct rig r;

	rig_init(&r);
	assert_true(pit_next_deadline(&r.pit) == PIT_NO_DEADLINE);
	pit_advance(&r.pit, T0 + 10 * 1000000000ull);
	assert_int_equal(r.probe.sets, 0);
	assert_true(status(&r, CH0, T0) & 0x40); /* nothing loaded: null count */
}

static void test_mode0_fires_once_at_terminal_count(void **state)
{
	struct rig r;
	u64 d = T0 + clk(1000);

	rig_init(&r);
	program(&r, CH0, 0, 1000, T0);
	assert_int_equal(r.probe.level, 0); /* mode 0 control word: OUT low */
	assert_true(pit_next_deadline(&r.pit) == d);
	pit_advance(&r.pit, d - 1);
	assert_int_equal(r.probe.rises, 0);
	assert_false(status(&r, CH0, d - 1) & 0x80);
	pit_advance(&r.pit, d);
	assert_int_equal(r.probe.rises, 1);
	assert_int_equal(r.probe.level, 1);
	assert_true(status(&r, CH0, d) & 0x80);
	assert_int_equal(r.pit.stats.irqs, 1);
	assert_int_equal(r.pit.stats.clamped, 0);
}

static void test_mode0_no_deadline_after_fire(void **state)
{
	struct rig r;
	u64 d = T0 + clk(1000);

	rig_init(&r);
	program(&r, CH0, 0, 1000, T0);
	pit_advance(&r.pit, d);
	assert_true(pit_next_deadline(&r.pit) == PIT_NO_DEADLINE);
	pit_advance(&r.pit, d + 10 * 1000000000ull);
	assert_int_equal(r.probe.rises, 1);
	/* After terminal count the counter wraps to 0xffff and counts on; OUT stays high. */
	assert_int_equal(latched(&r, CH0, T0 + clk(1005)), 0x10000 - 5);
	assert_true(status(&r, CH0, T0 + clk(70000)) & 0x80);
}

static void test_mode0_counts_down_exactly(void **state)
{
	struct rig r;

	rig_init(&r);
	program(&r, CH0, 0, 50000, T0);
	assert_int_equal(latched(&r, CH0, T0), 50000);
	for (u64 k = 1; k < 50000; k += 4999) {
		assert_int_equal(latched(&r, CH0, T0 + clk(k) - 1), 50000 - k + 1);
		assert_int_equal(latched(&r, CH0, T0 + clk(k)), 50000 - k);
	}
}

static void test_mode0_control_word_drives_out_low_and_rearms(void **state)
{
	struct rig r;
	u64 t1 = T0 + 1000000;

	rig_init(&r);
	program(&r, CH0, 0, 1000, T0);
	pit_advance(&r.pit, T0 + clk(1000));
	assert_int_equal(r.probe.level, 1);
	control(&r, CH0, RW_WORD, 0, t1);
	assert_int_equal(r.probe.level, 0);
	assert_false(status(&r, CH0, t1) & 0x80);
	assert_true(pit_next_deadline(&r.pit) == PIT_NO_DEADLINE);
	out8(&r, CH0, 0x00, t1);
	out8(&r, CH0, 0x10, t1); /* 4096 */
	assert_true(pit_next_deadline(&r.pit) == t1 + clk(4096));
	pit_advance(&r.pit, t1 + clk(4096));
	assert_int_equal(r.probe.rises, 2);
}

static void test_mode0_new_count_restarts_counting(void **state)
{
	struct rig r;
	u64 t1 = T0 + clk(500);

	rig_init(&r);
	program(&r, CH0, 0, 1000, T0);
	out8(&r, CH0, 0x00, t1);
	/* Mode 0: the first byte of a new count stops the counter. */
	assert_true(pit_next_deadline(&r.pit) == PIT_NO_DEADLINE);
	assert_int_equal(latched(&r, CH0, t1 + 5000000), 500);
	out8(&r, CH0, 0x08, t1 + 5000000); /* 2048 */
	assert_true(pit_next_deadline(&r.pit) == t1 + 5000000 + clk(2048));
}

static void test_mode2_period_matches_count(void **state)
{
	struct rig r;
	u64 d;

	rig_init(&r);
	program(&r, CH0, 2, 1193, T0); /* 999.85 us */
	for (u64 k = 1; k <= 1000; k++) {
		d = pit_next_deadline(&r.pit);
		/* From the load time, not the last deadline: no drift after 1000 periods. */
		assert_true(d == T0 + clk(k * 1193));
		pit_advance(&r.pit, d - 1);
		assert_int_equal(r.probe.rises, k - 1);
		pit_advance(&r.pit, d);
		assert_int_equal(r.probe.rises, k);
	}
	assert_int_equal(r.pit.stats.coalesced, 0);
	assert_int_equal(r.pit.stats.clamped, 0);
}

static void test_mode2_out_low_for_one_clock_at_count_one(void **state)
{
	struct rig r;

	rig_init(&r);
	pit_port61_write(&r.pit, 0x01, T0);
	program(&r, CH2, 2, 100, T0);
	assert_int_equal(latched(&r, CH2, T0 + clk(98)), 2);
	assert_true(out2(&r, T0 + clk(98)));
	assert_int_equal(latched(&r, CH2, T0 + clk(99)), 1);
	assert_false(out2(&r, T0 + clk(99)));
	assert_int_equal(latched(&r, CH2, T0 + clk(100)), 100); /* reloaded */
	assert_true(out2(&r, T0 + clk(100)));
	assert_false(out2(&r, T0 + clk(199)));
}

static void test_mode3_square_wave_output_levels(void **state)
{
	struct rig r;

	rig_init(&r);
	pit_port61_write(&r.pit, 0x01, T0);
	program(&r, CH2, 3, 10, T0);
	for (u64 k = 0; k < 30; k++)
		assert_int_equal(out2(&r, T0 + clk(k)), k % 10 < 5);
	/* Odd N: high for (N+1)/2 clocks, low for (N-1)/2. */
	program(&r, CH2, 3, 11, T0);
	for (u64 k = 0; k < 33; k++)
		assert_int_equal(out2(&r, T0 + clk(k)), k % 11 < 6);
}

static void test_mode3_count_decrements_by_two(void **state)
{
	static const u16 even[] = { 10, 8, 6, 4, 2, 10, 8, 6, 4, 2, 10 };
	static const u16 odd[] = { 6, 4, 2, 0, 6, 4, 2, 6 };
	struct rig r;

	rig_init(&r);
	pit_port61_write(&r.pit, 0x01, T0);
	program(&r, CH2, 3, 10, T0);
	for (u64 k = 0; k < ARRAY_SIZE(even); k++)
		assert_int_equal(latched(&r, CH2, T0 + clk(k)), even[k]);
	program(&r, CH2, 3, 7, T0); /* odd: N-1 is loaded, the high half has one clock more */
	for (u64 k = 0; k < ARRAY_SIZE(odd); k++)
		assert_int_equal(latched(&r, CH2, T0 + clk(k)), odd[k]);
}

static void test_mode3_irq_every_period(void **state)
{
	struct rig r;

	rig_init(&r);
	program(&r, CH0, 3, 0, T0); /* the BIOS's 18.2 Hz */
	for (u64 k = 1; k <= 20; k++) {
		assert_true(pit_next_deadline(&r.pit) == T0 + clk(k * 65536));
		pit_advance(&r.pit, T0 + clk(k * 65536));
	}
	assert_int_equal(r.probe.rises, 20);
}

static void test_mode4_strobes_once(void **state)
{
	struct rig r;

	rig_init(&r);
	program(&r, CH0, 4, 1000, T0);
	assert_true(status(&r, CH0, T0) & 0x80);		  /* mode 4: OUT starts high */
	assert_true(pit_next_deadline(&r.pit) == T0 + clk(1001)); /* OUT rises one clock after TC */
	pit_advance(&r.pit, T0 + clk(1001));
	assert_int_equal(r.probe.rises, 1);
	assert_true(pit_next_deadline(&r.pit) == PIT_NO_DEADLINE);
	pit_port61_write(&r.pit, 0x01, T0);
	program(&r, CH2, 4, 50, T0);
	assert_true(out2(&r, T0 + clk(49)));
	assert_false(out2(&r, T0 + clk(50)));
	assert_true(out2(&r, T0 + clk(51)));
}

static void test_mode1_on_counter0_waits_for_a_gate_edge(void **state)
{
	struct rig r;

	rig_init(&r);
	program(&r, CH0, 1, 1000, T0);
	assert_true(pit_next_deadline(&r.pit) == PIT_NO_DEADLINE);
	assert_int_equal(status(&r, CH0, T0 + 1000000000), 0xc0 | 0x30 | 1 << 1); /* OUT high, still null */
}

static void test_mode6_and_7_alias_2_and_3(void **state)
{
	struct rig r;

	rig_init(&r);
	program(&r, CH0, 6, 2000, T0);
	pit_advance(&r.pit, T0 + clk(2000));
	assert_true(pit_next_deadline(&r.pit) == T0 + clk(4000));
	assert_int_equal(status(&r, CH0, T0 + clk(2001)) & 0x3f, 0x30 | 6 << 1); /* status shows M as written */
	pit_port61_write(&r.pit, 0x01, T0);
	program(&r, CH2, 7, 10, T0);
	assert_int_equal(latched(&r, CH2, T0 + clk(1)), 8);
	assert_false(out2(&r, T0 + clk(5)));
}

static void test_control_word_stops_counter(void **state)
{
	struct rig r;
	u64 t1 = T0 + clk(300);

	rig_init(&r);
	program(&r, CH0, 2, 1000, T0);
	control(&r, CH0, RW_WORD, 2, t1);
	assert_true(pit_next_deadline(&r.pit) == PIT_NO_DEADLINE);
	assert_int_equal(latched(&r, CH0, t1 + 1000000000), 700);
}

static void test_lohi_first_byte_leaves_counter_stopped(void **state)
{
	struct rig r;
	u64 t1 = T0 + 5000000;

	rig_init(&r);
	control(&r, CH0, RW_WORD, 2, T0);
	out8(&r, CH0, 0x34, T0);
	assert_true(pit_next_deadline(&r.pit) == PIT_NO_DEADLINE);
	pit_advance(&r.pit, T0 + 1000000000);
	assert_int_equal(r.probe.rises, 0);
	out8(&r, CH0, 0x12, t1);
	assert_true(pit_next_deadline(&r.pit) == t1 + clk(0x1234)); /* counts from the second byte */
}

static void test_lohi_reads_alternate_bytes(void **state)
{
	struct rig r;
	u64 t = T0 + clk(0x11);

	rig_init(&r);
	program(&r, CH2, 0, 0x1234, T0); /* gate 2 low: the count holds */
	for (int i = 0; i < 3; i++) {
		assert_int_equal(in8(&r, CH2, t), 0x34);
		assert_int_equal(in8(&r, CH2, t), 0x12);
	}
	/* A latch mid-way has its own LSB, MSB sequence. */
	assert_int_equal(in8(&r, CH2, t), 0x34);
	out8(&r, CTRL, 0x80, t);
	assert_int_equal(in8(&r, CH2, t), 0x34);
	assert_int_equal(in8(&r, CH2, t), 0x12);
	assert_int_equal(in8(&r, CH2, t), 0x12); /* unlatched flip-flop still wants the MSB */
}

static void test_counter_latch_freezes_value(void **state)
{
	struct rig r;
	u64 t1 = T0 + clk(100), t2 = T0 + clk(300);

	rig_init(&r);
	program(&r, CH0, 2, 50000, T0);
	out8(&r, CTRL, 0x00, t1);
	assert_int_equal(in8(&r, CH0, t2), (50000 - 100) & 0xff);
	assert_int_equal(in8(&r, CH0, t2), (50000 - 100) >> 8);
	/* Released: the next reads see the counter live. */
	assert_int_equal(in8(&r, CH0, t2), (50000 - 300) & 0xff);
	assert_int_equal(in8(&r, CH0, t2), (50000 - 300) >> 8);
}

static void test_second_latch_ignored(void **state)
{
	struct rig r;
	u64 t1 = T0 + clk(100), t2 = T0 + clk(300);

	rig_init(&r);
	program(&r, CH0, 2, 50000, T0);
	out8(&r, CTRL, 0x00, t1);
	out8(&r, CTRL, 0x00, t2);
	assert_int_equal(read16(&r, CH0, t2), 50000 - 100);
	assert_int_equal(latched(&r, CH0, t2), 50000 - 300);
	/* The same holds for a status latched twice by read-back. */
	program(&r, CH0, 3, 1000, T0);
	out8(&r, CTRL, 0xe2, T0 + clk(1));   /* OUT high */
	out8(&r, CTRL, 0xe2, T0 + clk(600)); /* OUT low: ignored */
	assert_int_equal(in8(&r, CH0, T0 + clk(600)), 0x80 | 0x30 | 3 << 1);
}

static void test_readback_status_reports_mode_and_out(void **state)
{
	struct rig r;

	rig_init(&r);
	program(&r, CH0, 3, 1000, T0);
	assert_int_equal(status(&r, CH0, T0 + clk(1)), 0x80 | 0x30 | 3 << 1);
	assert_int_equal(status(&r, CH0, T0 + clk(500)), 0x30 | 3 << 1);
	control(&r, CH0, RW_LSB, 0, T0);
	out8(&r, CH0, 100, T0);
	assert_int_equal(status(&r, CH0, T0 + clk(99)), 0x10);
	assert_int_equal(status(&r, CH0, T0 + clk(100)), 0x80 | 0x10);
	out8(&r, CTRL, 0x80 | 0x20 | 4 << 1 | 1, T0); /* counter 2, MSB only, mode 4, BCD */
	assert_int_equal(status(&r, CH2, T0) & 0xbf, 0x80 | 0x20 | 4 << 1 | 1);
}

static void test_readback_status_then_count(void **state)
{
	struct rig r;
	u64 t = T0 + clk(0x100);

	rig_init(&r);
	program(&r, CH0, 2, 0x2000, T0);
	out8(&r, CTRL, 0xc0 | 1 << 1, t); /* latch count and status of counter 0 */
	assert_int_equal(in8(&r, CH0, t + 5000000), 0x80 | 0x30 | 2 << 1);
	assert_int_equal(in8(&r, CH0, t + 5000000), 0x00);
	assert_int_equal(in8(&r, CH0, t + 5000000), 0x1f);
	/* Another status-only read-back: one byte, then the counter is live again. */
	assert_int_equal(status(&r, CH0, t), 0x80 | 0x30 | 2 << 1);
	assert_int_equal(in8(&r, CH0, t), 0x00);
}

static void test_readback_selects_several_counters(void **state)
{
	struct rig r;
	u64 t = T0 + clk(10);

	rig_init(&r);
	pit_port61_write(&r.pit, 0x01, T0);
	program(&r, CH0, 2, 1000, T0);
	program(&r, 1, 2, 2000, T0);
	program(&r, CH2, 2, 3000, T0);
	out8(&r, CTRL, 0xc0 | 0x10 | 0x0a, t); /* counts of counters 0 and 2 */
	assert_int_equal(read16(&r, CH0, t + 99999), 990);
	assert_int_equal(read16(&r, CH2, t + 99999), 2990);
	assert_int_equal(read16(&r, 1, t + clk(1)), 1989); /* not latched */
}

static void test_null_count_bit(void **state)
{
	struct rig r;
	u64 t1 = T0 + 1000000;

	rig_init(&r);
	program(&r, CH0, 2, 1000, T0);
	assert_true(status(&r, CH0, T0) & 0x40); /* written, not yet loaded */
	assert_false(status(&r, CH0, T0 + clk(1)) & 0x40);
	control(&r, CH0, RW_WORD, 2, t1);
	assert_true(status(&r, CH0, t1 + 1000000) & 0x40);
	out8(&r, CH0, 0x00, t1 + 1000000);
	assert_true(status(&r, CH0, t1 + 2000000) & 0x40); /* half a count */
	out8(&r, CH0, 0x10, t1 + 2000000);
	assert_true(status(&r, CH0, t1 + 2000000) & 0x40);
	assert_false(status(&r, CH0, t1 + 2000000 + clk(1)) & 0x40);
}

static void test_count_zero_means_65536(void **state)
{
	struct rig r;

	rig_init(&r);
	program(&r, CH0, 2, 0, T0);
	assert_true(pit_next_deadline(&r.pit) == T0 + clk(65536));
	assert_int_equal(latched(&r, CH0, T0), 0);
	assert_int_equal(latched(&r, CH0, T0 + clk(1)), 0xffff);
	/* In BCD, 0 is 10000. */
	out8(&r, CTRL, 0x30 | 2 << 1 | 1, T0);
	out8(&r, CH0, 0, T0);
	out8(&r, CH0, 0, T0);
	assert_true(pit_next_deadline(&r.pit) == T0 + clk(10000));
	assert_int_equal(latched(&r, CH0, T0 + clk(1)), 0x9999);
}

static void test_bcd_counts_in_decimal(void **state)
{
	struct rig r;

	rig_init(&r);
	out8(&r, CTRL, 0x30 | 0 << 1 | 1, T0);
	out8(&r, CH0, 0x34, T0);
	out8(&r, CH0, 0x12, T0);
	assert_true(pit_next_deadline(&r.pit) == T0 + clk(1234));
	assert_int_equal(latched(&r, CH0, T0 + clk(35)), 0x1199);
	assert_int_equal(latched(&r, CH0, T0 + clk(1235)), 0x9999); /* wraps in decimal */
	assert_true(status(&r, CH0, T0) & 0x01);
	/* Non-decimal digits must not break it. */
	out8(&r, CH0, 0xff, T0);
	out8(&r, CH0, 0xff, T0);
	assert_true(latched(&r, CH0, T0 + clk(3)) <= 0x9999);
}

static void test_tiny_period_clamped(void **state)
{
	struct rig r;

	rig_init(&r);
	program(&r, CH0, 2, 2, T0);
	assert_int_equal(r.pit.stats.clamped, 1);
	for (u64 k = 1; k <= 5; k++) {
		assert_true(pit_next_deadline(&r.pit) == T0 + k * PIT_MIN_PERIOD_NS);
		pit_advance(&r.pit, T0 + k * PIT_MIN_PERIOD_NS);
	}
	assert_int_equal(r.probe.rises, 5);
	/* The guest still reads the real count. */
	assert_int_equal(latched(&r, CH0, T0 + clk(1)), 1);
	/* 239 clocks = 200.3 us: not clamped. */
	program(&r, CH0, 2, 239, T0 + 1000000000);
	assert_int_equal(r.pit.stats.clamped, 1);
	assert_true(pit_next_deadline(&r.pit) == T0 + 1000000000 + clk(239));
	/* A one-shot due sooner than the bound is moved to it. */
	program(&r, CH0, 0, 10, T0 + 2000000000);
	assert_int_equal(r.pit.stats.clamped, 2);
	assert_true(pit_next_deadline(&r.pit) == T0 + 2000000000 + PIT_MIN_PERIOD_NS);
	assert_int_equal(latched(&r, CH0, T0 + 2000000000 + clk(10)), 0);
	assert_true(status(&r, CH0, T0 + 2000000000 + clk(10)) & 0x80);
}

static void test_missed_periods_coalesce(void **state)
{
	struct rig r;

	rig_init(&r);
	program(&r, CH0, 2, 1193, T0);
	pit_advance(&r.pit, T0 + clk(10 * 1193 + 600));
	assert_int_equal(r.probe.rises, 1);
	assert_int_equal(r.pit.stats.irqs, 1);
	assert_int_equal(r.pit.stats.coalesced, 9);
	assert_true(pit_next_deadline(&r.pit) == T0 + clk(11 * 1193)); /* back on the grid */
	pit_advance(&r.pit, T0 + clk(11 * 1193));
	assert_int_equal(r.probe.rises, 2);
	assert_int_equal(r.pit.stats.coalesced, 9);
}

/* pit_periods: every periodic rise by `now`, whether delivered, merged or still due; it changes nothing. */
static void test_periods_count_every_rise_delivered_or_not(void **state)
{
	struct rig r;

	rig_init(&r);
	assert_int_equal(pit_periods(&r.pit, T0 + 1000000000), 0); /* not programmed */
	program(&r, CH0, 2, 1193, T0);
	assert_int_equal(pit_periods(&r.pit, T0 + clk(1193) - 1), 0);
	assert_int_equal(pit_periods(&r.pit, T0 + clk(1193)), 1);
	assert_int_equal(pit_periods(&r.pit, T0 + clk(10 * 1193 + 600)), 10); /* none delivered yet */
	assert_int_equal(r.probe.rises, 0);
	pit_advance(&r.pit, T0 + clk(10 * 1193 + 600));
	assert_int_equal(pit_periods(&r.pit, T0 + clk(10 * 1193 + 600)), r.pit.stats.irqs + r.pit.stats.coalesced);
	assert_int_equal(pit_periods(&r.pit, T0 + clk(25 * 1193)), 25);
	/* A one-shot rises once per load, counted once delivered. */
	program(&r, CH0, 0, 1000, T0 + 1000000000);
	assert_int_equal(pit_periods(&r.pit, T0 + 1000000000 + clk(999)), 0);
	assert_int_equal(pit_periods(&r.pit, T0 + 3000000000), 0); /* due, not delivered */
	pit_advance(&r.pit, T0 + 3000000000);
	assert_int_equal(pit_periods(&r.pit, T0 + 4000000000), 1);
}

static void test_edges_stay_apart_even_if_clock_steps_back(void **state)
{
	struct rig r;
	u64 d1 = T0 + clk(1000);

	rig_init(&r);
	program(&r, CH0, 0, 1000, T0);
	pit_advance(&r.pit, d1);
	/* Reprogrammed "before" the last edge: its own deadline would be T0 + 251 us. */
	program(&r, CH0, 0, 300, T0);
	assert_true(pit_next_deadline(&r.pit) == d1 + PIT_MIN_PERIOD_NS);
	pit_advance(&r.pit, d1 + PIT_MIN_PERIOD_NS);
	assert_int_equal(r.probe.rises, 2);
}

static void test_deadline_saturates_at_end_of_time(void **state)
{
	struct rig r;
	u64 t = UINT64_MAX - 1000000;

	rig_init(&r);
	program(&r, CH0, 0, 0xffff, t); /* due 55 ms later: past 2^64 ns */
	assert_true(pit_next_deadline(&r.pit) == PIT_NO_DEADLINE);
	program(&r, CH0, 2, 1193, t);
	assert_true(pit_next_deadline(&r.pit) == t + clk(1193));
	pit_advance(&r.pit, UINT64_MAX - 1);
	assert_int_equal(r.probe.rises, 1);
	assert_true(pit_next_deadline(&r.pit) == PIT_NO_DEADLINE);
}

static void test_counter2_gate_from_port61(void **state)
{
	struct rig r;
	u64 t1 = T0 + 1000000, t2 = t1 + clk(40), t3 = t2 + 1000000;

	rig_init(&r);
	program(&r, CH2, 0, 100, T0);
	/* GATE low: mode 0 does not count. */
	assert_int_equal(latched(&r, CH2, t1), 100);
	assert_false(pit_port61_read(&r.pit, t1) & 0x21);
	pit_port61_write(&r.pit, 0x03, t1);
	assert_int_equal(pit_port61_read(&r.pit, t1) & 0x23, 0x03);
	assert_int_equal(latched(&r, CH2, t2), 60);
	pit_port61_write(&r.pit, 0x02, t2); /* pause */
	assert_int_equal(latched(&r, CH2, t3), 60);
	pit_port61_write(&r.pit, 0x03, t3); /* resume */
	assert_false(out2(&r, t3 + clk(59)));
	assert_true(out2(&r, t3 + clk(60)));
	/* Counter 2 never reaches IRQ0. */
	assert_true(pit_next_deadline(&r.pit) == PIT_NO_DEADLINE);
}

static void test_counter2_mode1_triggered_by_gate_edge(void **state)
{
	struct rig r;
	u64 t1 = T0 + 1000000, t2 = t1 + clk(30);

	rig_init(&r);
	pit_port61_write(&r.pit, 0x01, T0); /* gate already high: no edge yet */
	program(&r, CH2, 1, 50, T0);
	assert_true(out2(&r, t1));
	pit_port61_write(&r.pit, 0x00, t1);
	pit_port61_write(&r.pit, 0x01, t1); /* trigger */
	assert_false(out2(&r, t1));
	assert_int_equal(latched(&r, CH2, t1 + clk(10)), 40);
	pit_port61_write(&r.pit, 0x00, t1 + clk(20)); /* GATE low does not stop mode 1 */
	assert_int_equal(latched(&r, CH2, t1 + clk(25)), 25);
	pit_port61_write(&r.pit, 0x00, t2);
	pit_port61_write(&r.pit, 0x01, t2); /* retrigger: the one-shot starts over */
	assert_false(out2(&r, t2 + clk(49)));
	assert_true(out2(&r, t2 + clk(50)));
}

static void test_counter2_mode2_gate_low_forces_out_high(void **state)
{
	struct rig r;
	u64 t1 = T0 + clk(99);

	rig_init(&r);
	pit_port61_write(&r.pit, 0x01, T0);
	program(&r, CH2, 2, 100, T0);
	assert_false(out2(&r, t1));
	pit_port61_write(&r.pit, 0x00, t1);
	assert_true(out2(&r, t1));
	pit_port61_write(&r.pit, 0x01, t1 + 1000000);	    /* rising gate reloads */
	assert_false(status(&r, CH2, t1 + 1000000) & 0x40); /* from the count register: no null count */
	assert_int_equal(latched(&r, CH2, t1 + 1000000 + clk(3)), 97);
}

static void test_port61_refresh_bit_toggles(void **state)
{
	struct rig r;
	int seen[2] = { 0, 0 };

	rig_init(&r);
	for (u64 t = T0; t < T0 + 100000; t += 1000)
		seen[(pit_port61_read(&r.pit, t) >> 4) & 1]++;
	assert_true(seen[0] > 0 && seen[1] > 0);
	pit_port61_write(&r.pit, 0xff, T0);
	assert_int_equal(pit_port61_read(&r.pit, T0) & 0xcf, 0x0f);
}

static void test_lsb_only_and_msb_only_access(void **state)
{
	struct rig r;

	rig_init(&r);
	control(&r, CH2, RW_LSB, 0, T0);
	out8(&r, CH2, 0x34, T0); /* count 0x0034 at once */
	assert_int_equal(in8(&r, CH2, T0), 0x34);
	assert_int_equal(in8(&r, CH2, T0), 0x34); /* no flip-flop */
	control(&r, CH0, RW_MSB, 0, T0);
	out8(&r, CH0, 0x12, T0); /* count 0x1200 */
	assert_true(pit_next_deadline(&r.pit) == T0 + clk(0x1200));
	assert_int_equal(in8(&r, CH0, T0 + clk(0x100)), 0x11);
	assert_int_equal(in8(&r, CH0, T0 + clk(0x100)), 0x11);
	out8(&r, CTRL, 0x00, T0 + clk(0x201)); /* a latch in MSB mode is one byte */
	assert_int_equal(in8(&r, CH0, T0 + clk(0x500)), 0x0f);
	assert_int_equal(in8(&r, CH0, T0 + clk(0x500)), 0x0d);
}

static void test_wide_access_splits_into_bytes(void **state)
{
	struct rig r;

	rig_init(&r);
	control(&r, CH0, RW_LSB, 0, T0);
	control(&r, 1, RW_LSB, 0, T0);
	control(&r, CH2, RW_LSB, 0, T0);
	/* 16-bit out to 0x40: low byte to counter 0, high byte to counter 1. */
	assert_int_equal(pit_io(&r.pit, 0, 0x2211, 2, true, T0), 0);
	out8(&r, CH2, 0x33, T0);
	assert_int_equal(pit_io(&r.pit, 0, 0, 2, false, T0), 0x2211);
	/* 32-bit in: three counters, then the control register, which reads as open bus. */
	assert_int_equal(pit_io(&r.pit, 0, 0, 4, false, T0), 0xff332211);
	/* Offsets are masked to 0-3: 0x47 is the control word, 0x44 counter 0. */
	assert_int_equal(pit_io(&r.pit, 7, 0, 2, false, T0), 0x11ff);
	/* A 32-bit write whose last byte is a control word (counter 0, mode 0) lands there too. */
	assert_int_equal(pit_io(&r.pit, 0, 0x30445566, 4, true, T0), 0);
	assert_int_equal(status(&r, CH0, T0) & 0x3f, 0x30);
	assert_int_equal(pit_io(&r.pit, 1, 0, 2, false, T0), 0x4455);
	assert_int_equal(pit_io(&r.pit, 0, 0, 0, false, T0), 0);
}

static void test_control_register_reads_open_bus(void **state)
{
	struct rig r;

	rig_init(&r);
	assert_int_equal(in8(&r, CTRL, T0), 0xff);
}

static u64 xorshift(u64 *s)
{
	*s ^= *s << 13;
	*s ^= *s >> 7;
	*s ^= *s << 17;
	return *s;
}

static void test_garbage_never_crashes(void **state)
{
	static const int sizes[] = { 1, 1, 1, 2, 4, 0, 3, -1, 5 };
	struct rig r;
	u64 seed = 0x9e3779b97f4a7c15ull, now = T0, last_edge = 0;
	bool any_edge = false;

	rig_init(&r);
	for (int i = 0; i < 300000; i++) {
		u64 x = xorshift(&seed), d;

		switch (x % 16) {
		case 0:
			now += x >> 40;
			break; /* up to 16 ms */
		case 1:
			now += (x >> 20) % 5000;
			break; /* a few clocks */
		case 2:
			now = (x & 0xff) == 0 ? now - (x >> 50) : now;
			break; /* rarely back */
		case 3:
			now = (x & 0xfff) == 0 ? UINT64_MAX - (x >> 48) : now;
			break; /* end of time */
		case 4:
			pit_port61_write(&r.pit, (u8)(x >> 8), now);
			break;
		case 5:
			pit_port61_read(&r.pit, now);
			break;
		case 6: /* counter 0 in a plausible setup, so deadlines happen often */
			program(&r, CH0, (x >> 8) % 8, (u16)(x >> 16), now);
			break;
		default:
			pit_io(&r.pit, (u16)(x >> 8), (u32)(x >> 24), sizes[(x >> 56) % ARRAY_SIZE(sizes)], x & 0x100,
			       now);
		}
		d = pit_next_deadline(&r.pit);
		if (d != PIT_NO_DEADLINE)
			assert_true(d >= r.pit.ch[0].load_ns + PIT_MIN_PERIOD_NS ||
				    r.pit.ch[0].load_ns > UINT64_MAX - PIT_MIN_PERIOD_NS);
		if (x & 0x200) {
			int before = r.probe.rises;

			pit_advance(&r.pit, now);
			assert_true(r.probe.rises - before <= 1);
			if (r.probe.rises > before) {
				assert_true(d <= now);
				/* The host's timer rate stays bounded, whatever the guest does. */
				if (any_edge)
					assert_true(d >= last_edge + PIT_MIN_PERIOD_NS);
				last_edge = d;
				any_edge = true;
			}
		}
		assert_int_equal(r.probe.rises, r.pit.stats.irqs);
	}
	assert_true(r.pit.stats.irqs > 100);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_power_on_has_no_deadline),
		cmocka_unit_test(test_mode0_fires_once_at_terminal_count),
		cmocka_unit_test(test_mode0_no_deadline_after_fire),
		cmocka_unit_test(test_mode0_counts_down_exactly),
		cmocka_unit_test(test_mode0_control_word_drives_out_low_and_rearms),
		cmocka_unit_test(test_mode0_new_count_restarts_counting),
		cmocka_unit_test(test_mode2_period_matches_count),
		cmocka_unit_test(test_mode2_out_low_for_one_clock_at_count_one),
		cmocka_unit_test(test_mode3_square_wave_output_levels),
		cmocka_unit_test(test_mode3_count_decrements_by_two),
		cmocka_unit_test(test_mode3_irq_every_period),
		cmocka_unit_test(test_mode4_strobes_once),
		cmocka_unit_test(test_mode1_on_counter0_waits_for_a_gate_edge),
		cmocka_unit_test(test_mode6_and_7_alias_2_and_3),
		cmocka_unit_test(test_control_word_stops_counter),
		cmocka_unit_test(test_lohi_first_byte_leaves_counter_stopped),
		cmocka_unit_test(test_lohi_reads_alternate_bytes),
		cmocka_unit_test(test_counter_latch_freezes_value),
		cmocka_unit_test(test_second_latch_ignored),
		cmocka_unit_test(test_readback_status_reports_mode_and_out),
		cmocka_unit_test(test_readback_status_then_count),
		cmocka_unit_test(test_readback_selects_several_counters),
		cmocka_unit_test(test_null_count_bit),
		cmocka_unit_test(test_count_zero_means_65536),
		cmocka_unit_test(test_bcd_counts_in_decimal),
		cmocka_unit_test(test_tiny_period_clamped),
		cmocka_unit_test(test_missed_periods_coalesce),
		cmocka_unit_test(test_periods_count_every_rise_delivered_or_not),
		cmocka_unit_test(test_edges_stay_apart_even_if_clock_steps_back),
		cmocka_unit_test(test_deadline_saturates_at_end_of_time),
		cmocka_unit_test(test_counter2_gate_from_port61),
		cmocka_unit_test(test_counter2_mode1_triggered_by_gate_edge),
		cmocka_unit_test(test_counter2_mode2_gate_low_forces_out_high),
		cmocka_unit_test(test_port61_refresh_bit_toggles),
		cmocka_unit_test(test_lsb_only_and_msb_only_access),
		cmocka_unit_test(test_wide_access_splits_into_bytes),
		cmocka_unit_test(test_control_register_reads_open_bus),
		cmocka_unit_test(test_garbage_never_crashes),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
