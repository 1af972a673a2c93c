/* i8259.h - the PC's two 8259A interrupt controllers, slave cascaded on master IR2. */
#ifndef KVMLITE_I8259_H
#define KVMLITE_I8259_H

#include "types.h"

/*
 * One 8259A. Register names follow the Intel datasheet. Bit n of irr, isr,
 * imr and last_level is input IRn. 16 bytes: a VM holds two of these by
 * value and there may be 100,000 VMs.
 */
struct pic_chip {
	u8 irr;		   /* interrupt request register: requests waiting for INTA */
	u8 isr;		   /* in-service register: acknowledged, waiting for EOI */
	u8 imr;		   /* interrupt mask register, written by OCW1 */
	u8 last_level;	   /* each IR input's level as last driven (the wire, not a latch) */
	u8 vector_base;	   /* ICW2 with bits 2:0 cleared: the vector of IR0 */
	u8 icw_step;	   /* the ICW the next A0=1 write is (2, 3 or 4); 0: it is OCW1 */
	u8 top;		   /* the IR with the highest priority; rotation moves it */
	bool read_isr;	   /* OCW3 RR/RIS: an A0=0 read returns ISR, not IRR */
	bool poll;	   /* OCW3 P: the next read is a poll (and acknowledges) */
	bool need_icw4;	   /* ICW1 IC4 */
	bool single;	   /* ICW1 SNGL: no ICW3 follows */
	bool level_mode;   /* ICW1 LTIM: requests are levels, not rising edges */
	bool auto_eoi;	   /* ICW4 AEOI: INTA does not leave the ISR bit set */
	bool sfnm;	   /* ICW4 SFNM: master only, lets a slave nest over itself */
	bool special_mask; /* OCW3 ESMM/SMM: masked levels do not block lower ones */
	bool rotate_aeoi;  /* OCW2 "rotate in AEOI mode": INTA makes its level lowest */
};

struct pic_stats {
	u64 spurious; /* INTA cycles with nothing to deliver: vector base+7 */
	u64 acks;     /* INTA cycles that delivered a real request */
};

struct pic {
	struct pic_chip chip[2]; /* 0 master (ports 0x20-0x21), 1 slave (0xa0-0xa1) */
	struct pic_stats stats;
};

/* Power-on state: everything clear, no ICW pending, vector bases 0. */
void pic_init(struct pic *p);

/*
 * A port access. offset bit 0 is A0 and bit 1 selects the slave:
 * 0 = 0x20, 1 = 0x21, 2 = 0xa0, 3 = 0xa1; other bits are ignored. A wide
 * access is split into bytes; a byte that lands past the chip's two ports
 * (0x22, 0xa2, ...) is not the PIC's: it reads 0xff and its write is dropped.
 * Writes return 0.
 */
u32 pic_io(struct pic *p, u16 offset, u32 data, int size, bool is_write);

/*
 * Drive input irq (0-7 master, 8-15 slave) to level (0 low, else high). The
 * signature matches struct irq_line's set(), ctx being the struct pic. IRQ 2
 * is the slave's INT output and only the slave drives it: calls for it, like
 * calls for irq numbers outside 0-15, are ignored.
 */
void pic_set_irq(void *pic, int irq, int level);

/* Whether the master's INT output to the CPU is asserted. */
bool pic_intr(const struct pic *p);

/*
 * The CPU's interrupt acknowledge cycle: returns the vector (0-255) and moves
 * the request from IRR to ISR, through the slave for IRQ 8-15. With nothing
 * to deliver it returns the master's base+7 (or, for IR2 with nothing on the
 * slave, the slave's base+7) and counts a spurious interrupt.
 */
int pic_intack(struct pic *p);

#endif
