/* irq.h - an interrupt line from a device model to whoever wires it up. */
#ifndef KVMLITE_IRQ_H
#define KVMLITE_IRQ_H

#include "types.h"

/*
 * A device raises or lowers its interrupt output through this callback and
 * never knows what is on the other end: in the VMM it is the 8259A pair, in
 * a unit test it is a recorder. Level is 0 or 1; the receiver decides whether
 * it cares about edges (the 8259A in edge mode does) or levels.
 */
struct irq_line {
	void (*set)(void *ctx, int irq, int level);
	void *ctx;
	int irq;
};

static inline void irq_line_set(const struct irq_line *line, int level)
{
	if (line->set)
		line->set(line->ctx, line->irq, level);
}

/*
 * Most PC devices are 8 bits wide. A 16- or 32-bit `in`/`out` to one of them
 * reaches consecutive ports, lowest byte first, as the ISA bus splits it.
 * Device io functions use this to turn a wide access into byte accesses.
 */
static inline u32 io_bytewise(u8 (*io8)(void *dev, u16 offset, u8 data, bool is_write), void *dev, u16 offset, u32 data,
			      int size, bool is_write)
{
	u32 result = 0;

	for (int i = 0; i < size && i < 4; i++) {
		u8 byte = io8(dev, (u16)(offset + i), (u8)(data >> (8 * i)), is_write);
		result |= (u32)byte << (8 * i);
	}
	return result;
}

#endif
