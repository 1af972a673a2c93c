/* trace.h - `--trace`: every exit decoded for a learner (port, device, register, value, direction). */
#ifndef KVMLITE_TRACE_H
#define KVMLITE_TRACE_H

#include "types.h"

struct vm;

void trace_pio(const struct vm *vm, u16 port, bool is_write, int size, u32 value);
void trace_mmio(const struct vm *vm, u64 addr, bool is_write, u32 len);
void trace_irq(const struct vm *vm, u32 vector);
/* Screen output: a character put on the screen by int 10h, or a text-buffer access. */
void trace_screen(const struct vm *vm, const char *how, u8 c);
void trace_vga(const struct vm *vm, u64 addr, bool is_write, const u8 *data, u32 len);
void trace_event(const struct vm *vm, const char *what, const char *detail);
/* The device and register behind a port, as a datasheet names them. */
const char *trace_port_name(const struct vm *vm, u16 port, bool is_write, const char **device);

#endif
