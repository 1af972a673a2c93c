/* trace.c - decodes exits into lines a learner can read next to the datasheets. */
#include <stdio.h>
#include <string.h>

#include "clock.h"
#include "devices/vgatext.h"
#include "layout.h"
#include "trace.h"

/* 16550A registers by offset; offsets 0 and 1 change meaning with LCR.DLAB. */
static const char *uart_reg(u16 off, bool is_write, bool dlab)
{
	static const char *const rd[8] = { "RBR", "IER", "IIR", "LCR", "MCR", "LSR", "MSR", "SCR" };
	static const char *const wr[8] = { "THR", "IER", "FCR", "LCR", "MCR", "LSR(ro)", "MSR(ro)", "SCR" };

	if (dlab && off < 2)
		return off == 0 ? "DLL" : "DLM";
	return is_write ? wr[off & 7] : rd[off & 7];
}

const char *trace_port_name(u16 port, bool is_write, bool dlab, const char **device)
{
	static const char *const pit_regs[4] = { "counter 0", "counter 1", "counter 2", "control word" };

	if (port >= COM1_BASE && port < COM1_BASE + COM1_PORTS) {
		*device = "COM1";
		return uart_reg(port - COM1_BASE, is_write, dlab);
	}
	if (port >= PIT_BASE && port < PIT_BASE + PIT_PORTS) {
		*device = "PIT";
		return pit_regs[port - PIT_BASE];
	}
	if (port >= DEBUG_EXIT_PORT && port < DEBUG_EXIT_PORT + DEBUG_EXIT_PORTS) {
		*device = "debug-exit";
		return "exit";
	}
	if (port == FW_SCREEN_PORT) {
		*device = "firmware";
		return "int 10h character";
	}
	if (port == FW_DISK_PORT) {
		*device = "firmware";
		return "int 13h call";
	}
	if (port == FW_EVENT_PORT) {
		*device = "firmware";
		return "event (0: boot sector entered; else int << 8 | AH it lacks)";
	}
	switch (port) {
	case PIC_MASTER_CMD:
		*device = "PIC1";
		return is_write ? "ICW1/OCW2/OCW3" : "IRR/ISR";
	case PIC_MASTER_DATA:
		*device = "PIC1";
		return is_write ? "ICW2-4/IMR" : "IMR";
	case PIC_SLAVE_CMD:
		*device = "PIC2";
		return is_write ? "ICW1/OCW2/OCW3" : "IRR/ISR";
	case PIC_SLAVE_DATA:
		*device = "PIC2";
		return is_write ? "ICW2-4/IMR" : "IMR";
	case PORT_SYSCTL_B:
		*device = "sysctl";
		return "port B (PIT gate 2)";
	case PORT_KBD_CMD:
		*device = "8042";
		return "command";
	case PORT_RESET_CTRL:
		*device = "chipset";
		return "reset control";
	case PORT_POST:
		*device = "POST";
		return "diagnostic";
	}
	*device = "none";
	return "unknown port";
}

static void trace_prefix(const struct trace *t)
{
	u64 ns = clock_now() - t->start_ns;

	fprintf(t->out, "[%4llu.%06llu] guest %u ", (unsigned long long)(ns / 1000000000),
		(unsigned long long)(ns / 1000 % 1000000), t->index);
}

void trace_pio(const struct trace *t, u16 port, bool is_write, int size, u32 value, bool dlab)
{
	const char *device;
	const char *reg = trace_port_name(port, is_write, dlab, &device);

	trace_prefix(t);
	fprintf(t->out, "%-3s 0x%04x %-10s %-14s %s 0x%0*x", is_write ? "out" : "in", port, device, reg,
		is_write ? "<-" : "->", size * 2, value);
	/* a data byte is shown as the character it is; register values stay hex */
	if (size == 1 && value >= 0x20 && value < 0x7f && !strcmp(device, "COM1") &&
	    (!strcmp(reg, "THR") || !strcmp(reg, "RBR")))
		fprintf(t->out, " '%c'", (char)value);
	fputc('\n', t->out);
}

void trace_mmio(const struct trace *t, u64 addr, bool is_write, u32 len)
{
	trace_prefix(t);
	fprintf(t->out, "mmio 0x%05llx %u bytes %s (no device: %s)\n", (unsigned long long)addr, len,
		is_write ? "write" : "read", is_write ? "dropped" : "reads all ones");
}

void trace_screen(const struct trace *t, const char *how, u8 c)
{
	trace_prefix(t);
	fprintf(t->out, "screen 0x%02x", c);
	if (c >= 0x20 && c < 0x7f)
		fprintf(t->out, " '%c'", (char)c);
	fprintf(t->out, " (%s): screen output\n", how);
}

void trace_vga(const struct trace *t, u64 addr, bool is_write, const u8 *data, u32 len)
{
	u32 off = (u32)(addr - VGA_TEXT_ADDR);

	trace_prefix(t);
	fprintf(t->out, "vga  0x%05llx %u byte%s %s", (unsigned long long)addr, len, len == 1 ? "" : "s",
		is_write ? "write" : "read");
	if (is_write) {
		fprintf(t->out, " <-");
		for (u32 i = 0; i < len; i++)
			fprintf(t->out, " %02x", data[i]);
		if (off < VGA_COLS * VGA_ROWS * 2)
			fprintf(t->out, " (text buffer row %u col %u: screen output)", off / (2 * VGA_COLS),
				off / 2 % VGA_COLS);
	}
	fputc('\n', t->out);
}

void trace_irq(const struct trace *t, u32 vector)
{
	trace_prefix(t);
	fprintf(t->out, "irq  inject vector 0x%02x\n", vector);
}

void trace_event(const struct trace *t, const char *what, const char *detail)
{
	trace_prefix(t);
	fprintf(t->out, "%-4s %s\n", what, detail);
}
