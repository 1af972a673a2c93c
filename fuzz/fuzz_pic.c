/* fuzz_pic.c - libFuzzer target: port I/O, IRQ lines and INTA on the 8259A pair; vectors, IRR and ISR checked. */
#include <string.h>

#include "fuzz.h"
#include "devices/i8259.h"
#include "layout.h"

/*
 * The harness decodes every byte the guest writes as the Intel 8259A
 * datasheet defines the ICW and OCW sequences, so it knows each chip's
 * vector base, mask, trigger mode and the IRs it acknowledged, and it
 * drives the IR lines itself. With that it checks what the datasheet and
 * i8259.h promise: a vector is base..base+7 of the ICW2 programmed, for an
 * IR whose line is up and unmasked and not already in service; a bit
 * reaches ISR only through an acknowledge; a dropped line withdraws its
 * request; a held request is not lost; INTA with nothing to deliver
 * answers IR7 and puts nothing in service.
 */
struct chip_shadow {
	u8 step;	  /* the ICW the next A0=1 write is: 2, 3, 4, or 0 for OCW1 */
	bool single, ic4; /* ICW1 SNGL, IC4 */
	bool level_mode;  /* ICW1 LTIM */
	bool aeoi, sfnm;  /* ICW4 */
	bool read_isr;	  /* OCW3 RR/RIS */
	bool poll;	  /* OCW3 P: the next read is the poll byte */
	u8 base, imr;
	u8 acked;   /* IRs acknowledged since ICW1: the only ones allowed in service */
	u8 pending; /* requests the harness made and nobody took (edge mode: rising edges) */
};

struct rig {
	struct pic p;
	struct chip_shadow c[2];
	u16 lines; /* the IR inputs as the harness drives them, bit n = IRQ n (bit 2 is the slave's INT) */
	/*
	 * The master (edge mode) saw no new edge on IR2 though the slave's INT is
	 * up: ICW1 cleared the edge latch, or a poll took IR2 without the INTA
	 * cycle that makes the slave's INT drop and rise again. Cleared once the
	 * slave's INT is down.
	 */
	bool cascade_stale;
};

static u8 chip_lines(const struct rig *r, int k)
{
	return (u8)(r->lines >> (8 * k));
}

/* Replays one byte written to port A0 = a0 of chip k. */
static void replay_write(struct rig *r, int k, int a0, u8 v)
{
	struct chip_shadow *c = &r->c[k];

	if (a0) {
		switch (c->step) {
		case 2: /* ICW2: T7-T3 */
			c->base = v & 0xf8;
			c->step = !c->single ? 3 : c->ic4 ? 4 : 0;
			break;
		case 3: /* ICW3 */
			c->step = c->ic4 ? 4 : 0;
			break;
		case 4: /* ICW4 */
			c->aeoi = v & 0x02;
			c->sfnm = v & 0x10;
			c->step = 0;
			break;
		default: /* OCW1 */
			c->imr = v;
		}
		return;
	}
	if (v & 0x10) {
		/* ICW1 clears IMR, the edge sense latches, ISR, and every ICW4 and OCW3 mode; ICW2 comes next. */
		u8 base = c->base;

		memset(c, 0, sizeof(*c));
		c->base = base;
		c->step = 2;
		c->ic4 = v & 0x01;
		c->single = v & 0x02;
		c->level_mode = v & 0x08;
		if (c->level_mode)
			c->pending = chip_lines(r, k) & (k ? 0xff : ~(1u << IRQ_CASCADE));
		if (!k && (r->p.chip[0].last_level & (1u << IRQ_CASCADE)))
			r->cascade_stale = true;
		return;
	}
	if (v & 0x08) { /* OCW3 */
		if (v & 0x02)
			c->read_isr = v & 0x01;
		if (v & 0x04)
			c->poll = true;
	}
	/* OCW2 (EOIs, rotation) only clears ISR bits and moves priorities: nothing here to track. */
}

/* An IR of chip k was acknowledged (INTA or poll). */
static void shadow_ack(struct rig *r, int k, int ir)
{
	struct chip_shadow *c = &r->c[k];

	if (!c->aeoi)
		c->acked |= 1u << ir;
	if (!c->level_mode)
		c->pending &= ~(1u << ir);
}

/* Replays one byte read from port A0 = a0 of chip k and checks it. */
static void replay_read(struct rig *r, int k, int a0, u8 got)
{
	struct chip_shadow *c = &r->c[k];
	const struct pic_chip *pc = &r->p.chip[k];

	if (c->poll) {
		/* The poll byte: I in bit 7, the level in bits 2:0, and the read acknowledges it. */
		c->poll = false;
		if (!(got & 0x80)) {
			FUZZ_CHECK(got == 0);
			return;
		}
		FUZZ_CHECK(!(got & 0x78));
		FUZZ_CHECK(!(c->imr & (1u << (got & 7))));
		if (k || (got & 7) != IRQ_CASCADE)
			FUZZ_CHECK(chip_lines(r, k) & (1u << (got & 7)));
		else
			r->cascade_stale = true;
		shadow_ack(r, k, got & 7);
		return;
	}
	if (a0)
		FUZZ_CHECK(got == c->imr);
	else /* OCW3 selects IRR or ISR; a plain read changes nothing, so the state after is the state read */
		FUZZ_CHECK(got == (c->read_isr ? pc->isr : pc->irr));
}

static void rig_io(struct rig *r, u16 offset, u32 data, int size, bool is_write)
{
	int k = (offset >> 1) & 1;
	u32 val = pic_io(&r->p, offset, data, size, is_write);

	if (is_write)
		FUZZ_CHECK(val == 0);
	else if (size < 4)
		FUZZ_CHECK(val >> (8 * size) == 0);
	for (int i = 0; i < size; i++) {
		int port = (offset & 1) + i;
		u8 byte = (u8)((is_write ? data : val) >> (8 * i));

		if (port > 1) /* past the chip's two ports: not the PIC's */
			FUZZ_CHECK(is_write || byte == 0xff);
		else if (is_write)
			replay_write(r, k, port, byte);
		else
			replay_read(r, k, port, byte);
	}
}

static void rig_set_irq(struct rig *r, int irq, bool high)
{
	struct chip_shadow *c = &r->c[irq > 7];
	u16 bit = (u16)(1u << (irq & 15));
	u8 ir = (u8)(1u << (irq & 7));

	pic_set_irq(&r->p, irq, high);
	if (irq < 0 || irq > 15 || irq == IRQ_CASCADE)
		return; /* ignored by the model, as pic_set_irq documents */

	if (high && (c->level_mode || !(r->lines & bit)))
		c->pending |= ir;
	if (!high)
		c->pending &= (u8)~ir;
	r->lines = high ? r->lines | bit : r->lines & ~bit;
}

/* The CPU's INTA cycle: when the PIC asks for it (the CPU's way), or regardless (a late INTA). */
static void rig_intack(struct rig *r, bool only_if_asked)
{
	const struct pic_chip *m = &r->p.chip[0], *s = &r->p.chip[1];
	bool intr = pic_intr(&r->p);
	struct pic before = r->p, probe;
	bool from_slave;
	int v, ir;

	if (only_if_asked && !intr)
		return;
	v = pic_intack(&r->p);
	FUZZ_CHECK(v >= 0 && v <= 255);
	FUZZ_CHECK(r->p.stats.acks + r->p.stats.spurious == before.stats.acks + before.stats.spurious + 1);
	if (!intr) {
		/* Nothing to deliver: IR7's vector, and no ISR bit set. */
		FUZZ_CHECK(r->p.stats.spurious == before.stats.spurious + 1);
		FUZZ_CHECK(v == ((r->c[0].base + 7) & 0xff));
		FUZZ_CHECK(m->isr == before.chip[0].isr && s->isr == before.chip[1].isr);
		return;
	}
	/* The slave's INT is what raised master IR2, so the cascade always finds a request there. */
	FUZZ_CHECK(r->p.stats.acks == before.stats.acks + 1);
	/*
	 * Which chip answered? Both bases may be equal (they are at power-on),
	 * so ask a copy taken before INTA in which they differ: a base only
	 * names the vector, it takes no part in choosing the request.
	 */
	probe = before;
	probe.chip[1].vector_base = probe.chip[0].vector_base ^ 0x08;
	from_slave = (pic_intack(&probe) & 0xf8) == probe.chip[1].vector_base;
	FUZZ_CHECK((v & 0xf8) == r->c[from_slave].base);
	ir = v & 7;
	if (!from_slave) {
		FUZZ_CHECK(ir != IRQ_CASCADE);
		FUZZ_CHECK(r->lines & (1u << ir));
		FUZZ_CHECK(!(r->c[0].imr & (1u << ir)));
		FUZZ_CHECK(!(before.chip[0].isr & (1u << ir))); /* fully nested: a level in service blocks itself */
		FUZZ_CHECK(r->c[0].aeoi || (m->isr & (1u << ir)));
		shadow_ack(r, 0, ir);
		return;
	}
	FUZZ_CHECK(!(r->c[0].imr & (1u << IRQ_CASCADE)));
	FUZZ_CHECK(r->lines & (1u << (8 + ir)));
	FUZZ_CHECK(!(r->c[1].imr & (1u << ir)));
	FUZZ_CHECK(!(before.chip[1].isr & (1u << ir)));
	/* Only special fully nested mode lets the slave interrupt a slave request in service. */
	FUZZ_CHECK(r->c[0].sfnm || !(before.chip[0].isr & (1u << IRQ_CASCADE)));
	FUZZ_CHECK(r->c[0].aeoi || (m->isr & (1u << IRQ_CASCADE)));
	FUZZ_CHECK(r->c[1].aeoi || (s->isr & (1u << ir)));
	shadow_ack(r, 0, IRQ_CASCADE);
	shadow_ack(r, 1, ir);
}

/* After each operation. */
static void rig_check(struct rig *r)
{
	const struct pic_chip *m = &r->p.chip[0], *s = &r->p.chip[1];
	bool intr = pic_intr(&r->p);

	for (int k = 0; k < 2; k++) {
		const struct pic_chip *pc = &r->p.chip[k];
		const struct chip_shadow *c = &r->c[k];
		u8 wires = k ? 0xff : (u8) ~(1u << IRQ_CASCADE); /* the lines the harness drives */

		FUZZ_CHECK(pc->imr == c->imr && pc->vector_base == c->base);
		FUZZ_CHECK(!(pc->isr & ~c->acked)); /* ISR bits come from acknowledges only */
		/*
		 * IRR holds exactly the requests made and not taken: in edge mode a
		 * rising edge, withdrawn when the line drops; in level mode the line.
		 */
		FUZZ_CHECK((pc->irr & wires) == (c->pending & wires));
	}
	FUZZ_CHECK(!intr || (m->irr & ~m->imr));
	/* Nothing in service: a held, unmasked request on the master raises INT, and one on the slave its INT. */
	if (!m->isr && (r->c[0].pending & ~r->c[0].imr & ~(1u << IRQ_CASCADE)))
		FUZZ_CHECK(intr);
	if (!s->isr && (r->c[1].pending & ~r->c[1].imr)) {
		FUZZ_CHECK(m->last_level & (1u << IRQ_CASCADE));
		/* ... and the CPU through master IR2: an INTA makes a new edge there for the slave's next request */
		if (!m->isr && !(r->c[0].imr & (1u << IRQ_CASCADE)) && (r->c[0].level_mode || !r->cascade_stale))
			FUZZ_CHECK(intr);
	}
	if (!(m->last_level & (1u << IRQ_CASCADE)))
		r->cascade_stale = false;
	/* And the cascade wire is up only while the slave has an unmasked request. */
	if (m->last_level & (1u << IRQ_CASCADE))
		FUZZ_CHECK(s->irr & ~s->imr);
}

int LLVMFuzzerTestOneInput(const u8 *data, size_t size)
{
	struct fuzz_in in = { data, size };
	struct rig r;
	u8 b, icw1;
	u16 cmd;

	memset(&r, 0, sizeof(r));
	pic_init(&r.p);
	rig_check(&r);
	while (in.left) {
		switch (fuzz_u8(&in) % 7) {
		case 0:
			b = fuzz_u8(&in);
			rig_io(&r, b, fuzz_u32(&in), fuzz_size(&in), true);
			break;
		case 1:
			b = fuzz_u8(&in);
			rig_io(&r, b, 0, fuzz_size(&in), false);
			break;
		case 2: /* a device raises or drops its line; a few numbers outside 0-15 too */
			b = fuzz_u8(&in);
			rig_set_irq(&r, (b >> 1) % 20 - 2, b & 1);
			break;
		case 3:
			rig_intack(&r, true);
			break;
		case 4:
			rig_intack(&r, false);
			break;
		case 5: /* ICW1-ICW4 as a BIOS writes them, so the fuzzer reaches programmed states often */
			cmd = fuzz_u8(&in) & 2;
			icw1 = fuzz_u8(&in) | 0x10;
			rig_io(&r, cmd, icw1, 1, true);
			rig_io(&r, cmd + 1, fuzz_u8(&in), 1, true);
			if (!(icw1 & 0x02))
				rig_io(&r, cmd + 1, fuzz_u8(&in), 1, true);
			if (icw1 & 0x01)
				rig_io(&r, cmd + 1, fuzz_u8(&in), 1, true);
			break;
		default: /* OCW2/OCW3 on either chip: EOIs, rotation, special mask, poll */
			cmd = fuzz_u8(&in) & 2;
			rig_io(&r, cmd, fuzz_u8(&in) & 0xef, 1, true);
			break;
		}
		rig_check(&r);
	}
	return 0;
}
