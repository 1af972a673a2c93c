/* fuzz_pit.c - libFuzzer target: port I/O, port 0x61 and host time on the 8254 model; deadlines and counts checked. */
#include <string.h>

#include "fuzz.h"
#include "devices/i8254.h"
#include "layout.h"

typedef unsigned __int128 u128;

#define NSEC_PER_SEC 1000000000ull

/*
 * The harness decodes every byte the guest writes as the Intel 8254
 * datasheet defines it (control word, LSB/MSB/word count writes) and so
 * knows, without asking the model, each counter's control word, count and
 * load time. With that it checks the counts a guest reads, the status
 * byte, port 0x61, and the promises of i8254.h about IRQ0: deadlines never
 * closer than PIT_MIN_PERIOD_NS to the load or to the previous edge, one
 * edge per pit_advance however late, none early, none from port I/O.
 */
struct counter {
	u8 ctrl;     /* RW, mode and BCD bits of the last control word (Figure 7) */
	bool fresh;  /* a control word and no count written since */
	bool loaded; /* a whole count was written since the last control word */
	bool half;   /* word mode: the LSB was written, the MSB is next */
	u8 lsb;	     /* that LSB */
	u32 count;   /* N in clocks: 1-65536, or 1-10000 in BCD */
	u64 load_ns; /* when the last whole count was written */
};

struct rig {
	struct pit p;
	u64 now;
	int level, rises; /* IRQ0 as the PIC sees it */
	bool any_edge;
	u64 last_edge;	      /* deadline of the last edge delivered */
	bool edge_since_load; /* counter 0 fired since its count was last written */
	struct counter c[3];
	u8 port61;
};

static void rig_irq(void *ctx, int irq, int level)
{
	struct rig *r = ctx;

	(void)irq;
	if (level && !r->level)
		r->rises++;
	r->level = level;
}

static u64 add_sat(u64 a, u128 b)
{
	u128 t = a + b;

	return t > UINT64_MAX ? UINT64_MAX : (u64)t;
}

static u8 mode_of(u8 ctrl)
{
	u8 m = (ctrl >> PIT_CW_MODE_SHIFT) & 7;

	return m > 5 ? m - 4 : m; /* 6 and 7 are 2 and 3 */
}

static u8 rw_of(u8 ctrl)
{
	return (ctrl >> PIT_CW_RW_SHIFT) & 3;
}

static bool periodic(u8 ctrl)
{
	return mode_of(ctrl) == 2 || mode_of(ctrl) == 3;
}

/* PIT clocks between load and t: the 1.193182 MHz input clock, counted from the load. */
static u64 clocks_since(u64 load, u64 t)
{
	return t > load ? (u64)((u128)(t - load) * PIT_HZ / NSEC_PER_SEC) : 0;
}

static bool bcd_ok(u8 b)
{
	return (b & 15) <= 9 && (b >> 4) <= 9;
}

static u32 from_bcd(u16 v)
{
	return (v & 15) + (v >> 4 & 15) * 10 + (v >> 8 & 15) * 100 + (v >> 12 & 15) * 1000u;
}

/* A whole count reached counter i (raw as written: BCD or binary; 0 is the largest count). */
static void counter_load(struct rig *r, int i, u16 raw)
{
	struct counter *c = &r->c[i];
	u32 max = (c->ctrl & PIT_CW_BCD) ? 10000 : 65536;
	u32 n = (c->ctrl & PIT_CW_BCD) ? from_bcd(raw) % 10000 : raw;

	c->count = n ? n : max;
	c->loaded = true;
	c->load_ns = r->now;
	if (i == 0)
		r->edge_since_load = false;
}

/* Replays one byte written to port (0-3). */
static void replay_write(struct rig *r, int port, u8 v)
{
	struct counter *c;
	int sc = v >> PIT_CW_SC_SHIFT;

	if (port == 3) {
		/* Read-back (SC=3) and counter latch (RW=0) commands leave the counter's programming alone. */
		if (sc == 3 || ((v >> PIT_CW_RW_SHIFT) & 3) == PIT_RW_LATCH)
			return;
		c = &r->c[sc];
		c->ctrl = v & PIT_ST_CTRL;
		c->fresh = true;
		c->loaded = false;
		c->half = false;
		return;
	}
	c = &r->c[port];
	c->fresh = false;
	switch (rw_of(c->ctrl)) {
	case PIT_RW_LSB:
		counter_load(r, port, v);
		break;
	case PIT_RW_MSB:
		counter_load(r, port, (u16)(v << 8));
		break;
	default:
		if (!c->half) {
			c->half = true;
			c->lsb = v;
			if (mode_of(c->ctrl) == 0)
				c->loaded = false; /* mode 0: the first byte stops the counter */
			return;
		}
		c->half = false;
		counter_load(r, port, (u16)(c->lsb | v << 8));
	}
}

/*
 * When counter 0 must next raise IRQ0 (absolute ns), from the datasheet's
 * modes and the documented clamp: for a one-shot count N loaded at L, OUT
 * rises N clocks later (N+1 for the strobes of modes 4 and 5), but not
 * sooner than PIT_MIN_PERIOD_NS after L nor after the previous edge.
 * Returns false where the harness does not predict (periodic modes).
 */
static bool expected_deadline(const struct rig *r, u64 *d)
{
	const struct counter *c = &r->c[0];
	u8 mode = mode_of(c->ctrl);
	u128 clocks = (u128)c->count + (mode == 4), ns;

	if (c->loaded && periodic(c->ctrl))
		return false;
	/* Stopped, waiting for a GATE edge that never comes (GATE0 is tied high), or already fired. */
	if (!c->loaded || mode == 1 || mode == 5 || r->edge_since_load) {
		*d = PIT_NO_DEADLINE;
		return true;
	}
	ns = (clocks * NSEC_PER_SEC + PIT_HZ - 1) / PIT_HZ;
	*d = add_sat(c->load_ns, ns < PIT_MIN_PERIOD_NS ? PIT_MIN_PERIOD_NS : ns);
	if (r->any_edge && *d < add_sat(r->last_edge, PIT_MIN_PERIOD_NS))
		*d = add_sat(r->last_edge, PIT_MIN_PERIOD_NS);
	return true;
}

/* After each operation. */
static void rig_check(const struct rig *r)
{
	u64 d = pit_next_deadline(&r->p), want;

	FUZZ_CHECK(r->rises == (int)r->p.stats.irqs);
	if (d != PIT_NO_DEADLINE) {
		/* The rate limit: the host's timer never has to fire more often than this for one guest. */
		FUZZ_CHECK(r->c[0].loaded && d >= add_sat(r->c[0].load_ns, PIT_MIN_PERIOD_NS));
		FUZZ_CHECK(!r->any_edge || d >= add_sat(r->last_edge, PIT_MIN_PERIOD_NS));
	}
	if (expected_deadline(r, &want))
		FUZZ_CHECK(d == want);
	for (int i = 0; i < 3; i++) {
		const struct pit_channel *pc = &r->p.ch[i];

		FUZZ_CHECK(pc->ctrl == r->c[i].ctrl);
		if (r->c[i].fresh) /* a control word stops the counter until a count is written */
			FUZZ_CHECK(pc->state == PIT_IDLE);
		if (pc->state != PIT_IDLE)
			FUZZ_CHECK(pc->count >= 1 && pc->count <= ((pc->ctrl & PIT_CW_BCD) ? 10000u : 65536u));
		/* Counters 0 and 1 have GATE tied high: a count written starts them, except the triggered modes. */
		if (i < 2 && r->c[i].loaded && !r->c[i].half)
			FUZZ_CHECK(pc->state == (mode_of(r->c[i].ctrl) % 4 == 1 ? PIT_ARMED : PIT_RUNNING));
	}
}

static void rig_io(struct rig *r, u16 offset, u32 data, int size, bool is_write)
{
	int rises = r->rises;
	u32 val = pit_io(&r->p, offset, data, size, is_write, r->now);

	FUZZ_CHECK(r->rises == rises); /* edges come from pit_advance only */
	if (is_write) {
		FUZZ_CHECK(val == 0);
		for (int i = 0; i < size; i++)
			replay_write(r, (offset + i) & 3, (u8)(data >> (8 * i)));
		return;
	}
	for (int i = 0; i < size; i++)
		if (((offset + i) & 3) == 3)
			FUZZ_CHECK((u8)(val >> (8 * i)) == 0xff); /* the control register cannot be read */
	if (size < 4)
		FUZZ_CHECK(val >> (8 * size) == 0);
}

static u8 read8(struct rig *r, int port)
{
	return (u8)pit_io(&r->p, (u16)port, 0, 1, false, r->now);
}

/* The owner delivers what is due at t (t may lag behind the guest's clock: a stale `now`). */
static void rig_advance(struct rig *r, u64 t)
{
	u64 d = pit_next_deadline(&r->p);
	int rises = r->rises;

	pit_advance(&r->p, t);
	/* Exactly one edge when due, however many periods passed; none early. */
	FUZZ_CHECK(r->rises == rises + (d != PIT_NO_DEADLINE && t >= d));
	if (r->rises == rises)
		return;
	FUZZ_CHECK(r->level == 1);
	r->any_edge = true;
	r->last_edge = d;
	r->edge_since_load = true;
	/* Missed periods coalesce: what comes next is after t, not a burst of overdue edges. */
	d = pit_next_deadline(&r->p);
	FUZZ_CHECK(d == PIT_NO_DEADLINE || d > t);
}

/* Counter latch command, then the latched count as the RW mode reads it; checked against the datasheet. */
static void rig_latch(struct rig *r, int i)
{
	const struct counter *c = &r->c[i];
	const struct pit_channel *pc = &r->p.ch[i];
	u8 rw = rw_of(c->ctrl), mode = mode_of(c->ctrl), lo = 0, hi = 0;
	bool bcd = c->ctrl & PIT_CW_BCD;
	u32 m = bcd ? 10000 : 65536, n = c->count, v, want;
	u64 e;

	/* An earlier latch or status not yet read would come first: then this latch command is ignored. */
	if (pc->latch_rw || pc->status_latched || rw == PIT_RW_LATCH)
		return;
	rig_io(r, 3, (u32)(i << PIT_CW_SC_SHIFT), 1, true);
	if (rw != PIT_RW_MSB)
		lo = read8(r, i);
	if (rw != PIT_RW_LSB)
		hi = read8(r, i);
	FUZZ_CHECK(!pc->latch_rw); /* released once read in full */
	if (bcd)
		FUZZ_CHECK(bcd_ok(lo) && bcd_ok(hi));
	/* Only a full value of a counter running with GATE high since a known load can be predicted. */
	if (rw != PIT_RW_WORD || i == 2 || !c->loaded || c->half || mode == 1 || mode == 5)
		return;
	v = bcd ? from_bcd((u16)(lo | hi << 8)) : (u32)(lo | hi << 8);
	e = clocks_since(c->load_ns, r->now);
	switch (mode) {
	case 2: /* N, N-1, ..., 1, then N again */
		want = (u32)((n - e % n) % m);
		break;
	case 3: {
		/*
		 * By twos from N (N-1 when odd), reloading at each half period;
		 * an odd N keeps OUT high one clock longer: (N+1)/2 clocks high.
		 */
		u32 p = (u32)(e % n), high = (n + 1) / 2;

		want = ((n & ~1u) - 2 * (p < high ? p : p - high)) % m;
		break;
	}
	default: /* 0 and 4: one pass from N, then wrap to the top and go on */
		want = (u32)((n + m - e % m) % m);
		break;
	}
	FUZZ_CHECK(v == want);
}

/* Read-back command latching the status of counter i; the next read returns it (Figure 11). */
static void rig_status(struct rig *r, int i)
{
	const struct counter *c = &r->c[i];
	bool earlier = r->p.ch[i].status_latched, out;
	u8 st, mode = mode_of(c->ctrl);
	u64 e = clocks_since(c->load_ns, r->now);
	u32 n = c->count;

	rig_io(r, 3, 0xc0 | PIT_RB_NO_COUNT | 2u << i, 1, true);
	st = read8(r, i);
	FUZZ_CHECK((st & PIT_ST_CTRL) == c->ctrl);
	if (c->fresh) {
		/* After a control word: null count, and OUT low in mode 0, high in the others. */
		FUZZ_CHECK(st & PIT_ST_NULL);
		FUZZ_CHECK(!!(st & PIT_ST_OUT) == (mode != 0));
	}
	/* A status latched earlier and not yet read shows an earlier moment. */
	if (earlier)
		return;
	if (c->half && mode == 0)
		FUZZ_CHECK(!(st & PIT_ST_OUT)); /* mode 0: the first byte of a new count sets OUT low */
	/* Counter 2's GATE comes and goes with port 0x61: no prediction there. */
	if (i == 2 || !c->loaded || c->half)
		return;
	switch (mode) {
	case 0: /* low until terminal count */
		out = e >= n;
		break;
	case 2: /* low for the one clock at count 1 */
		out = n < 2 || e % n != n - 1;
		break;
	case 3: /* square wave, (N+1)/2 clocks high */
		out = e % n < (n + 1) / 2;
		break;
	case 4: /* strobe: low for one clock at terminal count */
		out = e != n;
		break;
	default: /* 1 and 5 wait for a GATE rising edge, OUT high */
		out = true;
		break;
	}
	FUZZ_CHECK(!!(st & PIT_ST_OUT) == out);
	/* Null count: the count is not in the counting element yet (one clock after the write, or the trigger). */
	FUZZ_CHECK(!!(st & PIT_ST_NULL) == (mode == 1 || mode == 5 || e == 0));
}

int LLVMFuzzerTestOneInput(const u8 *data, size_t size)
{
	struct fuzz_in in = { data, size };
	struct rig r;
	u8 b;
	u16 off;
	u64 d;

	memset(&r, 0, sizeof(r));
	r.now = fuzz_u64(&in);
	pit_init(&r.p, (struct irq_line){ rig_irq, &r, IRQ_PIT }, r.now);
	for (int i = 0; i < 3; i++)
		r.c[i].ctrl = PIT_RW_WORD << PIT_CW_RW_SHIFT; /* pit_init: mode 0, word access, nothing loaded */
	rig_check(&r);
	while (in.left) {
		switch (fuzz_u8(&in) % 14) {
		case 0:
			off = fuzz_u8(&in);
			rig_io(&r, off, fuzz_u32(&in), fuzz_size(&in), true);
			break;
		case 1:
			off = fuzz_u8(&in);
			rig_io(&r, off, 0, fuzz_size(&in), false);
			break;
		case 2: /* time passes: clocks, milliseconds, hours */
			r.now = add_sat(r.now, fuzz_u16(&in));
			break;
		case 3:
			r.now = add_sat(r.now, (u128)fuzz_u16(&in) * 1000);
			break;
		case 4:
			r.now = add_sat(r.now, (u128)fuzz_u32(&in) * 1000);
			break;
		case 5:
			rig_advance(&r, r.now);
			break;
		case 6: /* the owner read its clock before the guest's last port access */
			d = (u64)fuzz_u16(&in) * 1000;
			rig_advance(&r, r.now > d ? r.now - d : 0);
			break;
		case 7: /* the owner sleeps until the deadline, as kvmlite run and the shards do */
			d = pit_next_deadline(&r.p);
			if (d != PIT_NO_DEADLINE && d > r.now)
				r.now = d;
			rig_advance(&r, r.now);
			break;
		case 8:
			b = fuzz_u8(&in);
			pit_port61_write(&r.p, b, r.now);
			r.port61 = b & PIT_P61_STORED;
			break;
		case 9: /* bits 0-3 read back as written; 6 and 7 are not driven */
			b = pit_port61_read(&r.p, r.now);
			FUZZ_CHECK((b & PIT_P61_STORED) == r.port61 && !(b & 0xc0));
			break;
		case 10: /* program a counter as BIOSes do: control word, LSB, MSB */
			b = fuzz_u8(&in);
			off = fuzz_u16(&in);
			rig_io(&r, 3, (u32)((b % 3) << 6 | PIT_RW_WORD << 4 | (b & 0x0f)), 1, true);
			rig_io(&r, b % 3, off & 0xff, 1, true);
			rig_io(&r, b % 3, off >> 8, 1, true);
			break;
		case 11:
			rig_latch(&r, fuzz_u8(&in) % 3);
			break;
		case 12: /* a clock that steps back: the model promises its limits hold even then */
			d = (u64)fuzz_u16(&in) * 1000;
			r.now = r.now > d ? r.now - d : 0;
			break;
		default:
			rig_status(&r, fuzz_u8(&in) % 3);
			break;
		}
		rig_check(&r);
	}
	return 0;
}
