/* i8254.c - the 8254 PIT model: counter values computed from host time, IRQ0 deadlines with a rate limit. */
#include <string.h>

#include "i8254.h"
#include "layout.h"

/*
 * Reference: Intel 8254 Programmable Interval Timer datasheet (231164),
 * "Modes" and "Read-Back Command". Nothing here ticks: a counter remembers
 * when its counting element was loaded (load_ns) and every read computes
 * the clocks elapsed since then, so an idle guest costs no host CPU. The
 * owner asks pit_next_deadline() when IRQ0 must rise and calls pit_advance().
 *
 * Simplifications (invisible to the PC software we run, written down here):
 * - The count is loaded at the moment it is written, not on the next CLK
 *   edge; null count reads set until the first clock after that.
 * - A new count in modes 2/3 restarts the period at once instead of waiting
 *   for the end of the current one (QEMU and KVM do the same).
 * - A new count in modes 1/5 re-arms the counter: it waits for a new trigger.
 */

#define NSEC_PER_SEC	   1000000000ull
#define PIT_REFRESH_CLOCKS 18 /* counter 1 as the PC BIOS sets it: a DRAM refresh every 15.08 us */

typedef unsigned __int128 u128;

static u8 pit_mode(const struct pit_channel *c)
{
	u8 m = (c->ctrl >> PIT_CW_MODE_SHIFT) & 7;

	return m > 5 ? m - 4 : m; /* 6 and 7 are modes 2 and 3 (Figure 7, "X" bit) */
}

static u8 pit_rw(const struct pit_channel *c)
{
	return (c->ctrl >> PIT_CW_RW_SHIFT) & 3;
}

static bool pit_periodic(const struct pit_channel *c)
{
	return pit_mode(c) == 2 || pit_mode(c) == 3;
}

/* A count of 0 is the largest count: 2^16 in binary, 10^4 in BCD. */
static u32 pit_modulus(const struct pit_channel *c)
{
	return (c->ctrl & PIT_CW_BCD) ? 10000 : 65536;
}

static u16 pit_to_bcd(u32 v)
{
	return (u16)(v % 10 | (v / 10 % 10) << 4 | (v / 100 % 10) << 8 | (v / 1000 % 10) << 12);
}

/* Nibbles above 9 are not BCD; they are weighed as digits anyway and the result kept in range. */
static u32 pit_from_bcd(u16 raw)
{
	u32 v = (raw & 15) + (raw >> 4 & 15) * 10 + (raw >> 8 & 15) * 100 + (raw >> 12 & 15) * 1000u;

	v %= 10000;
	return v ? v : 10000;
}

static u64 pit_ticks(u64 ns)
{
	return (u64)((u128)ns * PIT_HZ / NSEC_PER_SEC);
}

/* start + ns, saturating at PIT_NO_DEADLINE: a deadline beyond 2^64 ns is never. */
static u64 pit_add_ns(u64 start, u128 ns)
{
	u128 t = start + ns;

	return t > UINT64_MAX ? UINT64_MAX : (u64)t;
}

/* The first host time at which `ticks` clocks have passed since `start` (the inverse of pit_ticks). */
static u64 pit_tick_time(u64 start, u128 ticks)
{
	return pit_add_ns(start, (ticks * NSEC_PER_SEC + PIT_HZ - 1) / PIT_HZ);
}

/*
 * GATE low disables counting in modes 0, 2, 3, 4; in modes 1 and 5 the gate
 * only triggers, so once triggered they count whatever it does.
 */
static bool pit_counting(const struct pit_channel *c)
{
	return c->state == PIT_RUNNING && (c->gate || pit_mode(c) == 1 || pit_mode(c) == 5);
}

/* Clocks the counting element has seen since it was loaded. */
static u64 pit_elapsed(const struct pit_channel *c, u64 now)
{
	if (!pit_counting(c) || now <= c->load_ns)
		return c->base;
	return c->base + pit_ticks(now - c->load_ns);
}

/* The counting element, in binary. */
static u32 pit_value(const struct pit_channel *c, u64 now)
{
	u32 n = c->count, m = pit_modulus(c);
	u64 t = pit_elapsed(c, now);

	if (c->state != PIT_RUNNING)
		return c->frozen;
	switch (pit_mode(c)) {
	case 2: /* N, N-1, ..., 1, reload: OUT low while it reads 1 */
		return (n - (u32)(t % n)) % m;
	case 3: {
		/*
		 * Decrement by two, reloading at each half period. An odd N loads
		 * N-1, so the high half lasts (N+1)/2 clocks, the low one (N-1)/2.
		 */
		u32 p = (u32)(t % n), half = (n + 1) / 2;

		return ((n & ~1u) - 2 * (p < half ? p : p - half)) % m;
	}
	default: /* 0, 1, 4, 5: one pass, then wrap to 0xffff (9999) and go on counting */
		return (u32)((n + m - t % m) % m);
	}
}

/* The OUT pin (datasheet, "Modes": OUT after control word, after count, at terminal count). */
static bool pit_out(const struct pit_channel *c, u64 now)
{
	u64 n = c->count, t = pit_elapsed(c, now);

	if (c->state == PIT_IDLE)
		return pit_mode(c) != 0; /* a mode 0 control word sets OUT low, the others high */
	if (c->state == PIT_ARMED)
		return true;
	switch (pit_mode(c)) {
	case 0:
	case 1:
		return t >= n;
	case 2: /* low for the clock at count 1; GATE low forces it high. N = 1 is illegal: stays high */
		return !c->gate || n < 2 || t % n != n - 1;
	case 3:
		return !c->gate || t % n < (n + 1) / 2;
	default: /* 4, 5: strobe low for one clock at terminal count */
		return t != n;
	}
}

/* What a read of the counter shows: the counting element in the programmed number format. */
static u16 pit_output(const struct pit_channel *c, u64 now)
{
	u32 v = pit_value(c, now);

	return (c->ctrl & PIT_CW_BCD) ? pit_to_bcd(v) : (u16)v;
}

static u8 pit_status(const struct pit_channel *c, u64 now)
{
	bool loaded = c->state == PIT_RUNNING && pit_elapsed(c, now) >= 1;
	u8 st = c->ctrl & PIT_ST_CTRL;

	if (pit_out(c, now))
		st |= PIT_ST_OUT;
	if (c->null_count && !loaded)
		st |= PIT_ST_NULL;
	return st;
}

/* Clocks from load to the first rise of OUT: terminal count, one clock later for the strobes 4 and 5. */
static u64 pit_first_rise(const struct pit_channel *c)
{
	return pit_mode(c) == 4 || pit_mode(c) == 5 ? (u64)c->count + 1 : c->count;
}

/* OUT of counter 0 goes low (mode 0 control word or count): let IRQ0 follow, so its rise is an edge. */
static void pit_irq0_low(struct pit *p, int i)
{
	if (i == 0 && pit_mode(&p->ch[0]) == 0)
		irq_line_set(&p->irq0, 0);
}

/* Counter 0 loaded: restart the interrupt sequence and apply the rate limit. */
static void pit_irq0_restart(struct pit *p)
{
	const struct pit_channel *c = &p->ch[0];

	p->irq_done = 0;
	/*
	 * Clamp policy (as KVM's min_timer_period_us): a guest may ask for a
	 * period of one clock (838 ns), which would make the host take a timer
	 * interrupt per microsecond per guest. A periodic mode whose period is
	 * shorter than PIT_MIN_PERIOD_NS interrupts every PIT_MIN_PERIOD_NS
	 * instead (still on a grid from load time); a one-shot due sooner than
	 * PIT_MIN_PERIOD_NS after it was programmed is delivered at that bound.
	 * Counted once per load. The counter values the guest reads are exact.
	 */
	if (pit_periodic(c))
		p->irq_clamped = (u64)c->count * NSEC_PER_SEC < (u64)PIT_MIN_PERIOD_NS * PIT_HZ;
	else
		p->irq_clamped = pit_tick_time(0, pit_first_rise(c)) < PIT_MIN_PERIOD_NS;
	if (p->irq_clamped && c->state == PIT_RUNNING)
		p->stats.clamped++;
	pit_irq0_low(p, 0);
}

/* A control word or a mode 0 first byte stops the counter where it is. */
static void pit_stop(struct pit_channel *c, u64 now)
{
	c->frozen = (u16)pit_value(c, now);
	c->state = PIT_IDLE;
}

/* A whole count was written (raw: as the guest wrote it, BCD or binary). */
static void pit_load(struct pit *p, int i, u16 raw, u64 now)
{
	struct pit_channel *c = &p->ch[i];

	c->count = (c->ctrl & PIT_CW_BCD) ? pit_from_bcd(raw) : (raw ? raw : 65536u);
	c->null_count = true;
	if (pit_mode(c) == 1 || pit_mode(c) == 5) {
		/* Hardware triggered: the count waits in the count register for a GATE rising edge. */
		c->frozen = (u16)pit_value(c, now);
		c->state = PIT_ARMED;
	} else {
		c->state = PIT_RUNNING;
		c->load_ns = now;
		c->base = 0;
	}
	if (i == 0)
		pit_irq0_restart(p);
}

static void pit_set_gate(struct pit_channel *c, bool gate, u64 now)
{
	u8 mode = pit_mode(c);

	if (gate == c->gate)
		return;
	if (!gate) {
		/* Modes 0/4 hold the count, 2/3 hold it and force OUT high; 1/5 count on regardless. */
		if (mode != 1 && mode != 5)
			c->base = pit_elapsed(c, now);
		c->gate = false;
		return;
	}
	c->gate = true;
	if (c->state == PIT_IDLE)
		return;
	c->load_ns = now;
	if (mode == 0 || mode == 4)
		return; /* counting resumes from the held count */
	/* Modes 1, 5 trigger and 2, 3 reload on a rising edge: the count register goes into the element. */
	c->state = PIT_RUNNING;
	c->base = 0;
	c->null_count = false;
}

/* Counter latch command: a second latch before the first is read is ignored. */
static void pit_latch_count(struct pit_channel *c, u64 now)
{
	if (c->latch_rw)
		return;
	c->latch = pit_output(c, now);
	c->latch_rw = pit_rw(c);
}

static void pit_control(struct pit *p, u8 cw, u64 now)
{
	u8 sc = cw >> PIT_CW_SC_SHIFT;
	struct pit_channel *c;

	if (sc == 3) { /* read-back: latch count and/or status of each selected counter */
		for (int i = 0; i < 3; i++) {
			c = &p->ch[i];
			if (!(cw & (1 << (PIT_RB_CNT_SHIFT + i))))
				continue;
			if (!(cw & PIT_RB_NO_COUNT))
				pit_latch_count(c, now);
			if (!(cw & PIT_RB_NO_STATUS) && !c->status_latched) {
				c->status = pit_status(c, now);
				c->status_latched = true;
			}
		}
		return;
	}
	c = &p->ch[sc];
	if (((cw >> PIT_CW_RW_SHIFT) & 3) == PIT_RW_LATCH) {
		pit_latch_count(c, now);
		return;
	}
	/* A control word resets the counter's control logic and stops it until a count is written. */
	pit_stop(c, now);
	c->ctrl = cw & PIT_ST_CTRL;
	c->latch_rw = 0;
	c->status_latched = false;
	c->read_msb = false;
	c->write_msb = false;
	c->null_count = true;
	pit_irq0_low(p, sc);
}

static u8 pit_read_counter(struct pit_channel *c, u64 now)
{
	u16 v;

	if (c->status_latched) { /* status before a latched count */
		c->status_latched = false;
		return c->status;
	}
	if (c->latch_rw) {
		u8 rw = c->latch_rw;

		c->latch_rw = rw == PIT_RW_WORD ? PIT_RW_MSB : 0; /* released once fully read */
		return rw == PIT_RW_MSB ? c->latch >> 8 : c->latch & 0xff;
	}
	v = pit_output(c, now);
	switch (pit_rw(c)) {
	case PIT_RW_LSB:
		return v & 0xff;
	case PIT_RW_MSB:
		return v >> 8;
	default:
		c->read_msb = !c->read_msb;
		return c->read_msb ? v & 0xff : v >> 8;
	}
}

static void pit_write_counter(struct pit *p, int i, u8 byte, u64 now)
{
	struct pit_channel *c = &p->ch[i];

	switch (pit_rw(c)) {
	case PIT_RW_LSB:
		pit_load(p, i, byte, now);
		break;
	case PIT_RW_MSB:
		pit_load(p, i, (u16)(byte << 8), now);
		break;
	default:
		if (!c->write_msb) {
			c->lsb = byte;
			c->write_msb = true;
			if (pit_mode(c) == 0) { /* mode 0: the first byte stops counting, OUT goes low */
				pit_stop(c, now);
				pit_irq0_low(p, i);
			}
			return;
		}
		c->write_msb = false;
		pit_load(p, i, (u16)(c->lsb | byte << 8), now);
	}
}

static u8 pit_io8(struct pit *p, u16 offset, u8 data, bool is_write, u64 now)
{
	offset &= 3; /* the PC decodes A0-A1 only */
	if (offset == 3) {
		if (is_write)
			pit_control(p, data, now);
		return 0xff; /* the control word register cannot be read (3-state) */
	}
	if (is_write) {
		pit_write_counter(p, offset, data, now);
		return 0;
	}
	return pit_read_counter(&p->ch[offset], now);
}

void pit_init(struct pit *p, struct irq_line irq0, u64 now)
{
	memset(p, 0, sizeof(*p));
	p->irq0 = irq0;
	for (int i = 0; i < 3; i++) {
		p->ch[i].ctrl = PIT_RW_WORD << PIT_CW_RW_SHIFT; /* mode 0, binary: nothing loaded yet */
		p->ch[i].state = PIT_IDLE;
		p->ch[i].null_count = true;
		p->ch[i].gate = i != 2; /* counters 0 and 1: GATE tied high on the PC */
	}
}

u32 pit_io(struct pit *p, u16 offset, u32 data, int size, bool is_write, u64 now)
{
	u32 result = 0;

	/* A wide access reaches consecutive ports lowest byte first (as io_bytewise), each with `now`. */
	for (int i = 0; i < size && i < 4; i++) {
		u8 byte = pit_io8(p, (u16)(offset + i), (u8)(data >> (8 * i)), is_write, now);

		result |= (u32)byte << (8 * i);
	}
	return is_write ? 0 : result;
}

u64 pit_next_deadline(const struct pit *p)
{
	const struct pit_channel *c = &p->ch[0]; /* gate tied high: base stays 0 */
	u64 t, k = p->irq_done + 1;

	if (!pit_counting(c))
		return PIT_NO_DEADLINE;
	if (pit_periodic(c)) {
		/* Rises at k * N clocks from the load: the k-th deadline never drifts. */
		t = p->irq_clamped ? pit_add_ns(c->load_ns, (u128)k * PIT_MIN_PERIOD_NS)
				   : pit_tick_time(c->load_ns, (u128)k * c->count);
	} else {
		if (p->irq_done) /* one-shot modes rise once per load */
			return PIT_NO_DEADLINE;
		t = p->irq_clamped ? pit_add_ns(c->load_ns, PIT_MIN_PERIOD_NS)
				   : pit_tick_time(c->load_ns, pit_first_rise(c));
	}
	/* Whatever the guest does (reprogramming included), edges stay PIT_MIN_PERIOD_NS apart. */
	if (p->stats.irqs && t < pit_add_ns(p->last_irq_ns, PIT_MIN_PERIOD_NS))
		t = pit_add_ns(p->last_irq_ns, PIT_MIN_PERIOD_NS);
	return t;
}

u64 pit_periods(const struct pit *p, u64 now)
{
	const struct pit_channel *c = &p->ch[0];
	u64 passed = 0;

	if (pit_counting(c) && pit_periodic(c) && now > c->load_ns)
		passed = p->irq_clamped ? (now - c->load_ns) / PIT_MIN_PERIOD_NS : pit_ticks(now - c->load_ns) / c->count;
	return passed > p->irq_done ? passed : p->irq_done;
}

void pit_advance(struct pit *p, u64 now)
{
	const struct pit_channel *c = &p->ch[0];
	u64 deadline = pit_next_deadline(p), due = p->irq_done + 1;

	if (deadline == PIT_NO_DEADLINE || now < deadline)
		return;
	if (pit_periodic(c) && now > c->load_ns) {
		u64 e = now - c->load_ns;
		u64 passed = p->irq_clamped ? e / PIT_MIN_PERIOD_NS : pit_ticks(e) / c->count;

		if (passed > due)
			due = passed;
	}
	p->stats.coalesced += due - p->irq_done - 1;
	p->irq_done = due;
	p->stats.irqs++;
	p->last_irq_ns = deadline;
	/* One edge for the 8259A, however many rises it stands for. */
	irq_line_set(&p->irq0, 0);
	irq_line_set(&p->irq0, 1);
}

u8 pit_port61_read(struct pit *p, u64 now)
{
	u8 v = p->port61 & PIT_P61_STORED;

	if ((pit_ticks(now) / PIT_REFRESH_CLOCKS) & 1)
		v |= PIT_P61_REFRESH;
	if (pit_out(&p->ch[2], now))
		v |= PIT_P61_OUT2;
	return v;
}

void pit_port61_write(struct pit *p, u8 val, u64 now)
{
	p->port61 = val & PIT_P61_STORED;
	pit_set_gate(&p->ch[2], val & PIT_P61_GATE2, now);
}
