/* uart16550.c - the 16550A UART model: register file, RX FIFO, interrupt priority, loopback. */
#include <string.h>

#include "uart16550.h"

/*
 * Reference: National/TI PC16550D datasheet (Table II registers, Table III
 * reset configuration, Table IV interrupt control). Where a datasheet detail
 * is invisible to software, the model does what QEMU's hw/char/serial.c
 * shows, because kvmlite's differential tests compare the two.
 */

/* Modem inputs outside loopback: QEMU reports DCD, DSR and CTS up. */
#define UART_MSR_IDLE	   (UART_MSR_DCD | UART_MSR_DSR | UART_MSR_CTS)
#define UART_DIVISOR_RESET 0x0c /* 115200 / 12 = 9600 baud, QEMU's reset divisor */

static const u8 uart_trigger_levels[4] = { 1, 4, 8, 14 }; /* FCR bits 7:6 */

static bool uart_fifo_on(const struct uart *u)
{
	return u->fcr & UART_FCR_ENABLE;
}

/* IIR bits 3:0: the highest-priority pending source (Table IV). */
static u8 uart_iir_id(const struct uart *u)
{
	bool rx_on = u->ier & UART_IER_ERBFI;

	if ((u->ier & UART_IER_ELSI) && (u->lsr & UART_LSR_ERRORS))
		return UART_IIR_RLS;
	/* 16450 mode: one byte is "the trigger level". */
	if (rx_on && (u->lsr & UART_LSR_DR) && (!uart_fifo_on(u) || u->rx_count >= uart_trigger_levels[u->fcr >> 6]))
		return UART_IIR_RDA;
	/*
	 * ERBFI gates the timeout too (real chips and QEMU do). It ranks below
	 * RDA here: QEMU shows CTI only after 4 real character times, while
	 * our host may call uart_rx_idle before the guest has looked at all.
	 */
	if (rx_on && uart_fifo_on(u) && u->rx_count && u->rx_idle)
		return UART_IIR_CTI;
	if ((u->ier & UART_IER_ETBEI) && u->thr_pending)
		return UART_IIR_THRE;
	if ((u->ier & UART_IER_EDSSI) && (u->msr & UART_MSR_DELTAS))
		return UART_IIR_MSI;
	return UART_IIR_NONE;
}

/*
 * On a PC the UART's INTR pin reaches the 8259A through a buffer enabled
 * by OUT2, so software that leaves OUT2 clear gets no interrupts. QEMU does
 * not model the gate; kvmlite follows the PC. Drive only changes.
 */
static void uart_update_irq(struct uart *u)
{
	bool level = uart_iir_id(u) != UART_IIR_NONE && (u->mcr & UART_MCR_OUT2);

	if (level != u->irq_level) {
		u->irq_level = level;
		irq_line_set(&u->irq, level);
	}
}

/* The receiver takes one byte, from the host or from the loopback path. */
static void uart_receive(struct uart *u, u8 byte, bool from_host)
{
	u->rx_idle = false;
	if (uart_fifo_on(u)) {
		/* FIFO mode: the new byte is lost, the FIFO kept (PC16550D, LSR bit 1). */
		if (u->rx_count == UART_FIFO_SIZE) {
			u->lsr |= UART_LSR_OE;
			u->stats.overruns++;
			return;
		}
		u->rx_fifo[(u->rx_head + u->rx_count) % UART_FIFO_SIZE] = byte;
		u->rx_count++;
	} else {
		/* 16450 mode: the new byte overwrites an unread RBR, as on the chip and in QEMU. */
		if (u->lsr & UART_LSR_DR) {
			u->lsr |= UART_LSR_OE;
			u->stats.overruns++;
		}
		u->rbr = byte;
	}
	u->lsr |= UART_LSR_DR;
	if (from_host)
		u->stats.rx_bytes++;
}

static u8 uart_read_rbr(struct uart *u)
{
	u8 byte = 0; /* an empty FIFO reads 0, like QEMU */

	if (!uart_fifo_on(u)) {
		u->lsr &= (u8)~UART_LSR_DR;
		return u->rbr; /* re-reads the last byte when empty, like QEMU */
	}
	if (u->rx_count) {
		byte = u->rx_fifo[u->rx_head];
		u->rx_head = (u8)((u->rx_head + 1) % UART_FIFO_SIZE);
		u->rx_count--;
	}
	if (!u->rx_count)
		u->lsr &= (u8)~UART_LSR_DR;
	return byte;
}

/* THR write: the byte leaves at once, so the THR is empty again straight away. */
static void uart_write_thr(struct uart *u, u8 byte)
{
	/*
	 * Writing THR clears a pending THRE; completing the transmission sets
	 * it again. Drive the line in between, as QEMU does, so an edge-
	 * triggered 8259A sees one new THRE interrupt per byte sent.
	 */
	u->thr_pending = false;
	uart_update_irq(u);
	if (u->mcr & UART_MCR_LOOP) {
		uart_receive(u, byte, false);
	} else {
		if (u->tx)
			u->tx(u->tx_ctx, byte);
		u->stats.tx_bytes++;
	}
	u->thr_pending = true;
}

static void uart_write_ier(struct uart *u, u8 val)
{
	u8 changed = (u->ier ^ val) & 0x0f;

	u->ier = val & 0x0f;
	/*
	 * A rising ETBEI with THR empty makes THRE pending even if an IIR read
	 * had cleared it (the 16550 does, Windows relies on it); a falling one
	 * forgets it. THRE is always set in this model.
	 */
	if (changed & UART_IER_ETBEI)
		u->thr_pending = u->ier & UART_IER_ETBEI;
}

static void uart_write_fcr(struct uart *u, u8 val)
{
	/* Switching the FIFOs on or off empties them (PC16550D, FCR bit 0). */
	if ((val ^ u->fcr) & UART_FCR_ENABLE)
		val |= UART_FCR_CLEAR_RX | UART_FCR_CLEAR_TX;
	if (val & UART_FCR_CLEAR_RX) {
		u->rx_head = 0;
		u->rx_count = 0;
		u->rx_idle = false;
		u->lsr &= (u8)~UART_LSR_DR;
	}
	if (val & UART_FCR_CLEAR_TX)
		u->thr_pending = true; /* an emptied TX FIFO is a THR-empty event (QEMU) */
	u->fcr = val & (UART_FCR_ENABLE | UART_FCR_DMA | UART_FCR_TRIGGER);
}

/* The modem inputs: the idle line, or in loopback the MCR outputs (PC16550D, MCR bit 4). */
static u8 uart_modem_inputs(const struct uart *u)
{
	u8 m = u->mcr;

	if (!(m & UART_MCR_LOOP))
		return UART_MSR_IDLE;
	return (u8)((m & UART_MCR_RTS ? UART_MSR_CTS : 0) | (m & UART_MCR_DTR ? UART_MSR_DSR : 0) |
		    (m & UART_MCR_OUT1 ? UART_MSR_RI : 0) | (m & UART_MCR_OUT2 ? UART_MSR_DCD : 0));
}

static void uart_write_mcr(struct uart *u, u8 val)
{
	u8 old = u->msr & 0xf0, now, delta;

	u->mcr = val & 0x1f;
	now = uart_modem_inputs(u);
	delta = (u8)((old ^ now) >> 4);
	/* TERI reports only RI going from on to off. */
	if (!(old & UART_MSR_RI) || (now & UART_MSR_RI))
		delta &= (u8)~UART_MSR_TERI;
	u->msr = (u8)(now | (u->msr & UART_MSR_DELTAS) | delta);
}

static u8 uart_read(struct uart *u, u16 offset)
{
	bool dlab = u->lcr & UART_LCR_DLAB;
	u8 val, id;

	switch (offset) {
	case UART_RBR:
		return dlab ? u->dll : uart_read_rbr(u);
	case UART_IER:
		return dlab ? u->dlm : u->ier;
	case UART_IIR:
		id = uart_iir_id(u);
		if (id == UART_IIR_THRE)
			u->thr_pending = false; /* reading IIR acknowledges THRE (Table IV) */
		return (u8)(id | (uart_fifo_on(u) ? UART_IIR_FIFO : 0));
	case UART_LCR:
		return u->lcr;
	case UART_MCR:
		return u->mcr;
	case UART_LSR:
		val = u->lsr;
		u->lsr &= (u8)~UART_LSR_ERRORS; /* error bits clear when read */
		return val;
	case UART_MSR:
		val = u->msr;
		u->msr &= (u8)~UART_MSR_DELTAS;
		return val;
	default:
		return u->scr;
	}
}

static void uart_write(struct uart *u, u16 offset, u8 val)
{
	bool dlab = u->lcr & UART_LCR_DLAB;

	switch (offset) {
	case UART_THR:
		if (dlab)
			u->dll = val;
		else
			uart_write_thr(u, val);
		break;
	case UART_IER:
		if (dlab)
			u->dlm = val;
		else
			uart_write_ier(u, val);
		break;
	case UART_FCR:
		uart_write_fcr(u, val);
		break;
	case UART_LCR:
		u->lcr = val;
		break;
	case UART_MCR:
		uart_write_mcr(u, val);
		break;
	case UART_SCR:
		u->scr = val;
		break;
	default:
		break; /* LSR and MSR are read-only: writes are dropped */
	}
}

/* One byte access. Bytes of a wide access past offset 7 are not this device: open bus. */
static u8 uart_io8(void *dev, u16 offset, u8 data, bool is_write)
{
	struct uart *u = dev;
	u8 val = 0;

	if (offset >= 8)
		return is_write ? 0 : 0xff;
	if (is_write)
		uart_write(u, offset, data);
	else
		val = uart_read(u, offset);
	uart_update_irq(u);
	return val;
}

u32 uart_io(struct uart *u, u16 offset, u32 data, int size, bool is_write)
{
	u32 val = io_bytewise(uart_io8, u, offset & 7, data, size, is_write);

	return is_write ? 0 : val;
}

void uart_reset(struct uart *u)
{
	u->rbr = 0;
	u->ier = 0;
	u->fcr = 0;
	u->lcr = 0;
	u->mcr = UART_MCR_OUT2; /* datasheet: 0; QEMU: OUT2, and guests are compared with QEMU */
	u->lsr = UART_LSR_THRE | UART_LSR_TEMT;
	u->msr = UART_MSR_IDLE;
	u->scr = 0;
	u->dll = UART_DIVISOR_RESET;
	u->dlm = 0;
	u->rx_head = 0;
	u->rx_count = 0;
	u->thr_pending = false;
	u->rx_idle = false;
	u->irq_level = false;
	irq_line_set(&u->irq, 0);
}

void uart_init(struct uart *u, struct irq_line irq, void (*tx)(void *ctx, u8 byte), void *tx_ctx)
{
	memset(u, 0, sizeof(*u));
	u->irq = irq;
	u->tx = tx;
	u->tx_ctx = tx_ctx;
	uart_reset(u);
}

int uart_rx_room(const struct uart *u)
{
	if (u->mcr & UART_MCR_LOOP)
		return 0;
	if (uart_fifo_on(u))
		return UART_FIFO_SIZE - u->rx_count;
	return !(u->lsr & UART_LSR_DR);
}

void uart_rx_byte(struct uart *u, u8 byte)
{
	/*
	 * In loopback the serial input pin is disconnected from the receiver
	 * (PC16550D, MCR bit 4): the byte never reaches the chip, so the guest
	 * sees nothing, not even OE. The host still learns it was lost.
	 */
	if (u->mcr & UART_MCR_LOOP) {
		u->stats.overruns++;
		return;
	}
	uart_receive(u, byte, true);
	uart_update_irq(u);
}

void uart_rx_idle(struct uart *u)
{
	u->rx_idle = true;
	uart_update_irq(u);
}

size_t uart_rx_feed(struct uart *u, const u8 *buf, size_t len)
{
	size_t n = 0;

	while (n < len && uart_rx_room(u) > 0)
		uart_rx_byte(u, buf[n++]);
	if (n == len)
		uart_rx_idle(u);
	return n;
}
