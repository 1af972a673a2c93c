/* uart16550.h - the 16550A UART (COM1) model: register names, state and API. */
#ifndef KVMLITE_UART16550_H
#define KVMLITE_UART16550_H

#include "types.h"
#include "irq.h"

#define UART_FIFO_SIZE 16 /* PC16550D: 16-byte receiver and transmitter FIFOs */

/* Register offsets from the base port (PC16550D Table II, Summary of Registers) */
#define UART_RBR 0 /* read, DLAB=0: receiver buffer */
#define UART_THR 0 /* write, DLAB=0: transmitter holding */
#define UART_DLL 0 /* DLAB=1: divisor latch, low byte */
#define UART_IER 1 /* DLAB=0: interrupt enable */
#define UART_DLM 1 /* DLAB=1: divisor latch, high byte */
#define UART_IIR 2 /* read: interrupt identification */
#define UART_FCR 2 /* write: FIFO control */
#define UART_LCR 3 /* line control */
#define UART_MCR 4 /* modem control */
#define UART_LSR 5 /* line status */
#define UART_MSR 6 /* modem status */
#define UART_SCR 7 /* scratch: no effect, the BIOS probes with it */

#define UART_IER_ERBFI 0x01 /* received data available (and timeout) */
#define UART_IER_ETBEI 0x02 /* transmitter holding register empty */
#define UART_IER_ELSI  0x04 /* receiver line status */
#define UART_IER_EDSSI 0x08 /* modem status */

#define UART_IIR_NONE 0x01 /* bit 0 = 1: no interrupt pending (Table IV) */
#define UART_IIR_RLS  0x06 /* priority 1: OE/PE/FE/BI; cleared by reading LSR */
#define UART_IIR_RDA  0x04 /* priority 2: RX data at trigger level; cleared by reading RBR */
#define UART_IIR_CTI  0x0c /* priority 2: character timeout; cleared by reading RBR */
#define UART_IIR_THRE 0x02 /* priority 3: THR empty; cleared by reading IIR or writing THR */
#define UART_IIR_MSI  0x00 /* priority 4: modem status; cleared by reading MSR */
#define UART_IIR_FIFO 0xc0 /* bits 7:6 set while FCR bit 0 enables the FIFOs */

#define UART_FCR_ENABLE	  0x01 /* enable both FIFOs; changing it clears them */
#define UART_FCR_CLEAR_RX 0x02 /* self-clearing: empty the RX FIFO */
#define UART_FCR_CLEAR_TX 0x04 /* self-clearing: empty the TX FIFO */
#define UART_FCR_DMA	  0x08 /* DMA mode select: stored, no effect without DMA */
#define UART_FCR_TRIGGER  0xc0 /* RX trigger level: 1, 4, 8, 14 bytes */

#define UART_LCR_DLAB 0x80 /* offsets 0 and 1 reach the divisor latch */

#define UART_MCR_DTR  0x01
#define UART_MCR_RTS  0x02
#define UART_MCR_OUT1 0x04
#define UART_MCR_OUT2 0x08 /* on a PC, gates INTR onto the IRQ line */
#define UART_MCR_LOOP 0x10 /* local loopback: TX to RX, MCR outputs to MSR inputs */

#define UART_LSR_DR	0x01 /* data ready */
#define UART_LSR_OE	0x02 /* overrun error; cleared by reading LSR */
#define UART_LSR_ERRORS 0x1e /* OE, PE, FE, BI: the line status interrupt sources */
#define UART_LSR_THRE	0x20 /* THR (TX FIFO) empty */
#define UART_LSR_TEMT	0x40 /* THR and shift register both empty */

#define UART_MSR_DCTS	0x01 /* delta CTS */
#define UART_MSR_DDSR	0x02 /* delta DSR */
#define UART_MSR_TERI	0x04 /* trailing edge of RI (1 -> 0) */
#define UART_MSR_DDCD	0x08 /* delta DCD */
#define UART_MSR_DELTAS 0x0f
#define UART_MSR_CTS	0x10
#define UART_MSR_DSR	0x20
#define UART_MSR_RI	0x40
#define UART_MSR_DCD	0x80

/* Host-side accounting; survives uart_reset (a guest reset is not a new VM). */
struct uart_stats {
	u64 tx_bytes; /* bytes handed to the tx callback (not loopback) */
	u64 rx_bytes; /* bytes from the host the receiver accepted */
	u64 overruns; /* bytes lost: FIFO/RBR full, or host input during loopback */
};

/*
 * One UART, held by value in the VM struct (there are very many of them,
 * so it is about 100 bytes). Transmission has no baud timing: a THR write
 * reaches the tx callback at once, so there is no TX FIFO to hold.
 */
struct uart {
	u8 rbr;	     /* receiver buffer when FIFOs are off (16450 mode) */
	u8 ier;	     /* interrupt enable, low 4 bits */
	u8 fcr;	     /* FIFO control bits that stick: enable, DMA mode, trigger */
	u8 lcr;	     /* line control; bit 7 is DLAB */
	u8 mcr;	     /* modem control, low 5 bits */
	u8 lsr;	     /* line status */
	u8 msr;	     /* modem status: inputs in 7:4, deltas in 3:0 */
	u8 scr;	     /* scratch */
	u8 dll, dlm; /* divisor latch */
	u8 rx_fifo[UART_FIFO_SIZE];
	u8 rx_head;	  /* index of the oldest byte */
	u8 rx_count;	  /* bytes in rx_fifo, 0..UART_FIFO_SIZE */
	bool thr_pending; /* THRE interrupt pending (meaningful while IER.ETBEI) */
	bool rx_idle;	  /* no byte received since uart_rx_idle: timeout may fire */
	bool irq_level;	  /* level last driven onto irq */
	struct irq_line irq;
	void (*tx)(void *ctx, u8 byte);
	void *tx_ctx;
	struct uart_stats stats;
};

/* Zero everything, store the callbacks, then uart_reset. */
void uart_init(struct uart *u, struct irq_line irq, void (*tx)(void *ctx, u8 byte), void *tx_ctx);
/* Power-on register state (as QEMU shows it); lowers the irq line. Keeps stats. */
void uart_reset(struct uart *u);
/* A guest in/out at COM1_BASE + offset (masked to 0-7), size 1, 2 or 4.
 * Returns the value read, 0 for writes. */
u32 uart_io(struct uart *u, u16 offset, u32 data, int size, bool is_write);
/* Bytes the receiver takes now without overrun: FIFO space, 1/0 with FIFOs off, 0 in loopback. */
int uart_rx_room(const struct uart *u);
/* A byte arrives from the host. Without room it is an overrun (LSR.OE, stats.overruns). */
void uart_rx_byte(struct uart *u, u8 byte);
/* The host has no more input for now: stands for "4 character times passed" (character timeout). */
void uart_rx_idle(struct uart *u);

/*
 * The host's end of the serial line: hands over bytes from buf while the
 * receiver has room (uart_rx_room), whatever the guest does with its modem
 * control lines, as QEMU's chardev does: the rest waits, nothing is lost.
 * FIFOs off (as at reset), that is one byte, held in RBR until the guest
 * reads it; a guest that then switches its FIFOs on empties them and loses
 * it, as under QEMU. When buf is taken whole the line goes idle
 * (uart_rx_idle). Returns how many bytes it took.
 */
size_t uart_rx_feed(struct uart *u, const u8 *buf, size_t len);

/* Offsets 0 and 1 reach the divisor latch (for tracing, which names registers). */
static inline bool uart_dlab(const struct uart *u)
{
	return u->lcr & 0x80;
}

#endif
