/* trace.h - `--trace`: every exit decoded for a learner (port, device, register, value, direction). */
#ifndef KVMLITE_TRACE_H
#define KVMLITE_TRACE_H

#include <stdio.h>

#include "types.h"

/* Where a guest's trace goes, and what its lines say about it. */
struct trace {
	FILE *out;    /* NULL: not traced */
	u32 index;    /* the guest's number */
	u64 start_ns; /* when it was created: lines are stamped with the time since */
};

/* dlab: the UART's divisor latch is on (offsets 0 and 1 are DLL and DLM then). */
void trace_pio(const struct trace *t, u16 port, bool is_write, int size, u32 value, bool dlab);
void trace_mmio(const struct trace *t, u64 addr, bool is_write, u32 len);
void trace_irq(const struct trace *t, u32 vector);
/* Screen output: a character put on the screen by int 10h, or a text-buffer access. */
void trace_screen(const struct trace *t, const char *how, u8 c);
void trace_vga(const struct trace *t, u64 addr, bool is_write, const u8 *data, u32 len);
void trace_event(const struct trace *t, const char *what, const char *detail);
/* The device and register behind a port, as a datasheet names them. */
const char *trace_port_name(u16 port, bool is_write, bool dlab, const char **device);

#endif
