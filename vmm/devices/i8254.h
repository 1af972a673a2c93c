/* i8254.h - the PC's 8254 interval timer: three counters, counter 0 on IRQ0, counter 2 gated by port 0x61. */
#ifndef KVMLITE_I8254_H
#define KVMLITE_I8254_H

#include "types.h"
#include "irq.h"

#define PIT_NO_DEADLINE	  UINT64_MAX
#define PIT_MIN_PERIOD_NS 200000 /* as KVM's min_timer_period_us = 200: bound on host timer rate a guest can cause */

/* Control word, port 0x43 (Intel 8254 datasheet, Figure 7 "Control Word Format") */
#define PIT_CW_SC_SHIFT	  6    /* SC1-SC0: counter select; 3 = read-back command */
#define PIT_CW_RW_SHIFT	  4    /* RW1-RW0: access mode */
#define PIT_CW_MODE_SHIFT 1    /* M2-M1-M0: mode 0-5; 6 and 7 are 2 and 3 */
#define PIT_CW_BCD	  0x01 /* count in 4 BCD decades instead of 16 binary bits */
#define PIT_RW_LATCH	  0    /* counter latch command (Figure 8) */
#define PIT_RW_LSB	  1    /* read/write least significant byte only */
#define PIT_RW_MSB	  2    /* read/write most significant byte only */
#define PIT_RW_WORD	  3    /* LSB first, then MSB */

/* Read-back command, SC = 11 (Figure 10 "Read-Back Command Format") */
#define PIT_RB_NO_COUNT	 0x20 /* bit 5 COUNT, active low: latch the count of the selected counters */
#define PIT_RB_NO_STATUS 0x10 /* bit 4 STATUS, active low: latch their status */
#define PIT_RB_CNT_SHIFT 1    /* bits 1-3: CNT0, CNT1, CNT2 select counters */

/* Status byte (Figure 11 "Status Byte") */
#define PIT_ST_OUT  0x80 /* state of the OUT pin */
#define PIT_ST_NULL 0x40 /* null count: last count written not yet loaded into the counting element */
#define PIT_ST_CTRL 0x3f /* RW, mode and BCD as programmed */

/* System control port B, 0x61 (IBM PC/AT technical reference) */
#define PIT_P61_GATE2	0x01 /* r/w: GATE of counter 2 */
#define PIT_P61_SPEAKER 0x02 /* r/w: speaker data enable (AND with OUT2) */
#define PIT_P61_STORED	0x0f /* bits 0-3 read back as written (2, 3: parity check enables) */
#define PIT_P61_REFRESH 0x10 /* ro: toggles on every DRAM refresh request (counter 1, ~15 us) */
#define PIT_P61_OUT2	0x20 /* ro: OUT of counter 2 */

enum pit_state {
	PIT_IDLE,    /* no count loaded since the last control word: stopped */
	PIT_ARMED,   /* modes 1 and 5: count written, waiting for a gate rising edge */
	PIT_RUNNING, /* counting element loaded at load_ns */
};

/* One counter, about 40 bytes. */
struct pit_channel {
	u64 load_ns; /* host time the counting element was loaded (or counting resumed) */
	u64 base;    /* clocks counted before load_ns: kept while GATE pauses modes 0/4 */
	u32 count;   /* initial count N in binary: 1-65536 (1-10000 in BCD); 0 when never written */
	u16 frozen;  /* what the counter reads while stopped (binary) */
	u16 latch;   /* latched output value, as the guest reads it (BCD in BCD mode) */
	u8 ctrl;     /* RW, M, BCD bits of the last control word: the low bits of the status byte */
	u8 state;    /* enum pit_state */
	u8 status;   /* latched status byte */
	u8 latch_rw; /* bytes of latched count left: a PIT_RW_* value, 0 = no latch */
	u8 lsb;	     /* first byte of a two-byte count write */
	bool status_latched;
	bool read_msb;	 /* two-byte mode: the next unlatched read returns the MSB */
	bool write_msb;	 /* two-byte mode: the next write is the MSB */
	bool null_count; /* set by control word and count writes; cleared once the count is loaded */
	bool gate;	 /* GATE input: tied high for counters 0 and 1 */
};

struct pit_stats {
	u64 irqs;      /* rising edges delivered on IRQ0 */
	u64 clamped;   /* counter 0 loads whose interrupt timing was stretched to PIT_MIN_PERIOD_NS */
	u64 coalesced; /* counter 0 periods that passed without an edge of their own */
};

/* The whole PIT, held by value in the VM struct (about 200 bytes). */
struct pit {
	struct pit_channel ch[3];
	u64 irq_done;	  /* counter 0 OUT rises already delivered since its last load */
	u64 last_irq_ns;  /* the deadline of the last edge delivered (valid once stats.irqs > 0) */
	bool irq_clamped; /* counter 0's current load has its interrupt timing clamped */
	u8 port61;	  /* bits 0-3 of port 0x61 as last written */
	struct irq_line irq0;
	struct pit_stats stats;
};

/* Power-on state: all counters unprogrammed, no deadline, counter 2 gate low. */
void pit_init(struct pit *p, struct irq_line irq0, u64 now);
/* A guest in/out at PIT_BASE + offset (masked to 0-3: counters 0-2, 3 control word), size 1, 2 or 4
 * split into byte accesses. Returns the value read, 0 for writes. */
u32 pit_io(struct pit *p, u16 offset, u32 data, int size, bool is_write, u64 now);
/* Absolute host ns at which IRQ0 (counter 0 OUT) next rises, or PIT_NO_DEADLINE. Already rate-limited. */
u64 pit_next_deadline(const struct pit *p);
/* Counter 0 OUT rises since its last load, by `now`. Periodic modes: every rise by then, whether
 * delivered as an edge, merged into one (coalesced) or due and not yet delivered; one-shot modes:
 * the rise once delivered. Read-only: for figures and tests of time-keeping. */
u64 pit_periods(const struct pit *p, u64 now);
/* Deliver what became due by `now`: one rising edge on irq0, however many periods passed. */
void pit_advance(struct pit *p, u64 now);
/* Port 0x61 read: gate 2, speaker, refresh toggle, OUT2. */
u8 pit_port61_read(struct pit *p, u64 now);
/* Port 0x61 write: bit 0 drives the gate of counter 2, bit 1 the speaker. */
void pit_port61_write(struct pit *p, u8 val, u64 now);

#endif
