/* i8259.c - the 8259A PIC pair: edge/level requests, priority, ICW/OCW programming, INTA. */
#include <string.h>

#include "devices/i8259.h"
#include "devices/irq.h"
#include "layout.h"

/*
 * Section names in comments are those of the Intel 8259A datasheet
 * (order number 231468).
 *
 * Requests follow the datasheet's priority cell rather than QEMU/KVM: an IRR
 * bit is set by a rising edge (or, in level mode, a high level) and cleared
 * again when the input drops before INTA ("Edge and Level Triggered Modes":
 * the request must be held until the first INTA, else the chip answers as
 * if IR7 were active). QEMU and KVM keep an edge-triggered IRR bit latched
 * after the input drops, so a device there may pulse its line; here it must
 * hold the line high until the guest has taken the interrupt.
 */

/* Command bits at A0=0 ("Initialization Command Words", "Operation Command Words") */
#define ICW1_IC4  0x01 /* ICW4 will follow */
#define ICW1_SNGL 0x02 /* single chip: no ICW3 */
#define ICW1_LTIM 0x08 /* level triggered inputs */
#define ICW1_INIT 0x10 /* D4=1: this is ICW1 */
#define OCW3_SEL  0x08 /* D4=0 D3=1: OCW3; D4=0 D3=0: OCW2 */
#define OCW3_RIS  0x01 /* read ISR (1) or IRR (0) ... */
#define OCW3_RR	  0x02 /* ... only if RR is set */
#define OCW3_POLL 0x04 /* next read is a poll */
#define OCW3_SMM  0x20 /* special mask mode on (1) or off (0) ... */
#define OCW3_ESMM 0x40 /* ... only if ESMM is set */
#define ICW2_BASE 0xf8 /* T7-T3: A10-A8 only matter for an 8080 */
#define ICW4_AEOI 0x02 /* automatic EOI */
#define ICW4_SFNM 0x10 /* special fully nested mode */
#define POLL_INT  0x80 /* poll byte: I, a request was pending; bits 2:0 W2-W0 */

/* OCW2 bits 7:5 (R, SL, EOI); bits 2:0 name a level where SL=1 */
enum ocw2_cmd {
	OCW2_AEOI_ROTATE_CLEAR = 0,   /* "Rotate in Automatic EOI Mode (CLEAR)" */
	OCW2_EOI = 1,		      /* "Non-specific EOI command" */
	OCW2_NOP = 2,		      /* "No operation" */
	OCW2_SPECIFIC_EOI = 3,	      /* "Specific EOI command" */
	OCW2_AEOI_ROTATE_SET = 4,     /* "Rotate in Automatic EOI Mode (SET)" */
	OCW2_ROTATE_EOI = 5,	      /* "Rotate on non-specific EOI command" */
	OCW2_SET_PRIORITY = 6,	      /* "Set priority command": level L becomes lowest */
	OCW2_ROTATE_SPECIFIC_EOI = 7, /* "Rotate on specific EOI command" */
};

/* Priority rank of ir: 0 is the highest, 7 the lowest ("Interrupt Priorities"). */
static int chip_rank(const struct pic_chip *c, int ir)
{
	return (ir - c->top) & 7;
}

/* The highest-priority IR whose bit is set in mask, or -1. */
static int chip_highest(const struct pic_chip *c, u8 mask)
{
	for (int i = 0; i < 8; i++) {
		int ir = (c->top + i) & 7;

		if (mask & (1u << ir))
			return ir;
	}
	return -1;
}

/*
 * The priority resolver: the IR this chip would have the CPU service now, or
 * -1 (INT low). Fully nested mode: a request must rank above everything in
 * service. Special mask mode ("The Special Mask Mode"): a masked level in
 * service no longer blocks the levels below it. Special fully nested mode
 * (master only): the slave's IR may interrupt itself, because a second,
 * higher-priority slave request arrives on the same master input.
 */
static int chip_next(const struct pic_chip *c, bool master)
{
	int req = chip_highest(c, c->irr & ~c->imr);
	u8 busy = c->isr;
	int cur;

	if (req < 0)
		return -1;
	if (c->special_mask)
		busy &= ~c->imr;
	cur = chip_highest(c, busy);
	if (cur < 0 || chip_rank(c, req) < chip_rank(c, cur))
		return req;
	if (master && c->sfnm && req == IRQ_CASCADE && cur == IRQ_CASCADE)
		return req;
	return -1;
}

/*
 * An IR input changes level. The datasheet's priority cell ANDs the edge
 * sense latch with the live input, so a dropped line withdraws its request
 * in either mode; an edge-mode line held high asks only once.
 */
static void chip_input(struct pic_chip *c, int ir, bool high)
{
	u8 bit = 1u << ir;

	if (!high)
		c->irr &= ~bit;
	else if (c->level_mode || !(c->last_level & bit))
		c->irr |= bit;
	if (high)
		c->last_level |= bit;
	else
		c->last_level &= ~bit;
}

/* Acknowledge ir (INTA or poll): IRR to ISR, or straight through in AEOI mode. */
static void chip_ack(struct pic_chip *c, int ir)
{
	u8 bit = 1u << ir;

	/* Level mode: IRR just mirrors the input, only ISR holds it off. */
	if (!c->level_mode)
		c->irr &= ~bit;
	if (!c->auto_eoi)
		c->isr |= bit;
	else if (c->rotate_aeoi)
		c->top = (ir + 1) & 7;
}

/* Poll ("The Poll Command"): like INTA, but the level is read, not vectored. */
static u8 chip_poll(struct pic_chip *c, bool master)
{
	int ir = chip_next(c, master);

	if (ir < 0)
		return 0;
	chip_ack(c, ir);
	return POLL_INT | (u8)ir;
}

/* The slave's INT output is master input IR2: keep that wire up to date. */
static void pic_cascade(struct pic *p)
{
	chip_input(&p->chip[0], IRQ_CASCADE, chip_next(&p->chip[1], false) >= 0);
}

static void chip_icw1(struct pic_chip *c, u8 v)
{
	/*
	 * "Initialization Command Words": ICW1 clears IMR and the edge sense
	 * latches (so a line already high must go low and high again to ask:
	 * the latch is the IRR bit here, the wire level is kept), gives IR7
	 * the lowest priority, ends special mask mode and selects IRR for
	 * reads; without IC4 every ICW4 function is zero. ISR is cleared too,
	 * as QEMU does: a reinitialised chip has nothing in service.
	 */
	c->icw_step = 2;
	c->need_icw4 = v & ICW1_IC4;
	c->single = v & ICW1_SNGL;
	c->level_mode = v & ICW1_LTIM;
	c->irr = c->level_mode ? c->last_level : 0;
	c->isr = 0;
	c->imr = 0;
	c->top = 0;
	c->read_isr = false;
	c->poll = false;
	c->special_mask = false;
	c->rotate_aeoi = false;
	c->auto_eoi = false;
	c->sfnm = false;
}

static void chip_ocw2(struct pic_chip *c, u8 v)
{
	int ir = v & 7;

	switch ((enum ocw2_cmd)(v >> 5)) {
	case OCW2_AEOI_ROTATE_CLEAR:
	case OCW2_AEOI_ROTATE_SET:
		c->rotate_aeoi = v >> 7;
		break;
	case OCW2_EOI:
	case OCW2_ROTATE_EOI:
		/* Clears the highest-priority ISR bit, whatever the rotation. */
		ir = chip_highest(c, c->isr);
		if (ir < 0)
			break;
		c->isr &= ~(1u << ir);
		if (v >> 7)
			c->top = (ir + 1) & 7; /* the serviced level becomes lowest */
		break;
	case OCW2_SPECIFIC_EOI:
		c->isr &= ~(1u << ir);
		break;
	case OCW2_ROTATE_SPECIFIC_EOI:
		c->isr &= ~(1u << ir);
		c->top = (ir + 1) & 7;
		break;
	case OCW2_SET_PRIORITY:
		c->top = (ir + 1) & 7;
		break;
	case OCW2_NOP:
		break;
	}
}

static void chip_ocw3(struct pic_chip *c, u8 v)
{
	if (v & OCW3_RR)
		c->read_isr = v & OCW3_RIS;
	if (v & OCW3_ESMM)
		c->special_mask = v & OCW3_SMM;
	if (v & OCW3_POLL)
		c->poll = true;
}

/* An A0=1 write: the next ICW of the sequence, or else OCW1. */
static void chip_data(struct pic_chip *c, u8 v)
{
	switch (c->icw_step) {
	case 2: /* ICW2: vector base; then ICW3 unless single, then ICW4 if asked */
		c->vector_base = v & ICW2_BASE;
		c->icw_step = !c->single ? 3 : c->need_icw4 ? 4 : 0;
		break;
	case 3: /* ICW3: the PC always cascades the slave on IR2: nothing to keep */
		c->icw_step = c->need_icw4 ? 4 : 0;
		break;
	case 4: /* ICW4: uPM, M/S and BUF change nothing in a PC */
		c->auto_eoi = v & ICW4_AEOI;
		c->sfnm = v & ICW4_SFNM;
		c->icw_step = 0;
		break;
	default: /* OCW1 */
		c->imr = v;
		break;
	}
}

static u8 chip_read(struct pic_chip *c, bool a0, bool master)
{
	/* "The Poll Command": any read after OCW3 P is the poll byte */
	if (c->poll) {
		c->poll = false;
		return chip_poll(c, master);
	}
	if (a0)
		return c->imr;
	return c->read_isr ? c->isr : c->irr;
}

/*
 * One byte. pic_io passes the chip in bit 8 and the port within it in bits
 * 7:0, so a wide access that runs past the chip's two ports stays off the
 * other chip (0x22 is not 0xa0).
 */
static u8 pic_io8(void *dev, u16 offset, u8 data, bool is_write)
{
	struct pic *p = dev;
	int which = (offset >> 8) & 1;
	int port = offset & 0xff;
	struct pic_chip *c = &p->chip[which];
	u8 ret = 0;

	if (port > 1)
		return is_write ? 0 : 0xff;
	if (!is_write)
		ret = chip_read(c, port, which == 0);
	else if (port == 1)
		chip_data(c, data);
	else if (data & ICW1_INIT)
		chip_icw1(c, data);
	else if (data & OCW3_SEL)
		chip_ocw3(c, data);
	else
		chip_ocw2(c, data);
	pic_cascade(p);
	return ret;
}

void pic_init(struct pic *p)
{
	memset(p, 0, sizeof(*p));
}

u32 pic_io(struct pic *p, u16 offset, u32 data, int size, bool is_write)
{
	u16 local = (u16)(((offset >> 1) & 1) << 8 | (offset & 1));

	return io_bytewise(pic_io8, p, local, data, size, is_write);
}

void pic_set_irq(void *pic, int irq, int level)
{
	struct pic *p = pic;

	if (!p || irq < 0 || irq > 15 || irq == IRQ_CASCADE)
		return;
	chip_input(&p->chip[irq >> 3], irq & 7, level != 0);
	pic_cascade(p);
}

bool pic_intr(const struct pic *p)
{
	return chip_next(&p->chip[0], true) >= 0;
}

int pic_intack(struct pic *p)
{
	struct pic_chip *m = &p->chip[0], *s = &p->chip[1];
	int ir = chip_next(m, true), ir2;
	int vector;

	/*
	 * "Interrupt Sequence": with no request left by the time of INTA
	 * (withdrawn, or masked meanwhile) the chip answers as if IR7 were
	 * active, but does not set ISR bit 7.
	 */
	if (ir < 0) {
		p->stats.spurious++;
		return (m->vector_base + 7) & 0xff;
	}
	chip_ack(m, ir);
	if (ir != IRQ_CASCADE) {
		p->stats.acks++;
		return (m->vector_base + ir) & 0xff;
	}

	/*
	 * Cascade: the slave supplies the vector. If it has nothing (which the
	 * wiring here keeps from happening), it answers IR7 in its turn; the
	 * master has already put IR2 in service, as the hardware would, so the
	 * guest's slave IR7 handler must still EOI the master.
	 */
	ir2 = chip_next(s, false);
	if (ir2 < 0) {
		p->stats.spurious++;
		vector = s->vector_base + 7;
	} else {
		chip_ack(s, ir2);
		p->stats.acks++;
		vector = s->vector_base + ir2;
	}
	/*
	 * The slave's INT drops while the acknowledged level is frozen into its
	 * ISR; if another of its requests is still serviceable afterwards (AEOI,
	 * special mask mode) INT rises again: a new edge on master IR2.
	 */
	chip_input(m, IRQ_CASCADE, false);
	pic_cascade(p);
	return vector & 0xff;
}
