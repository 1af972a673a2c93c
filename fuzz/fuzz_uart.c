/* fuzz_uart.c - libFuzzer target: port I/O and host input on the 16550A model, checked against a datasheet shadow. */
#include <string.h>

#include "fuzz.h"
#include "devices/uart16550.h"

/*
 * The harness keeps its own account of what the PC16550D datasheet says the
 * guest must see: the registers it wrote, the bytes the receiver accepted
 * and their order, overrun, the pending interrupt sources and their
 * priority (Table IV). Every byte of a port access is replayed on this
 * shadow after the model took it, every value read is checked, and after
 * each operation the model's state and its IRQ line are compared with it.
 * Where the datasheet leaves a choice, the shadow follows the choice the
 * model documents (QEMU's reset values, the empty FIFO reading 0).
 */
struct shadow {
	u8 ier, lcr, mcr, scr, dll, dlm;
	bool fifo_on;
	u8 trigger; /* FCR bits 7:6 */
	u8 fifo[UART_FIFO_SIZE];
	int head, count;  /* the RX FIFO in FIFO mode */
	u8 rbr;		  /* 16450 mode: the holding register */
	bool dr;	  /* 16450 mode: data ready */
	bool oe;	  /* overrun happened, not yet read from LSR */
	u8 msr_deltas;	  /* MSR bits 3:0: modem input changes not yet read */
	bool idle;	  /* the host said "no more input" and nothing arrived since */
	bool thr_pending; /* THRE interrupt source pending */
};

struct rig {
	struct uart u;
	struct shadow s;
	int level, rises; /* the IRQ line as the PIC sees it */
	u64 tx;		  /* bytes that reached the tx callback */
	u8 tx_last;
};

static const u8 trigger_levels[4] = { 1, 4, 8, 14 }; /* FCR bits 7:6 */

static void rig_irq(void *ctx, int irq, int level)
{
	struct rig *r = ctx;

	(void)irq;
	if (level && !r->level)
		r->rises++;
	r->level = level;
}

static void rig_tx(void *ctx, u8 byte)
{
	struct rig *r = ctx;

	r->tx++;
	r->tx_last = byte;
}

/* Power-on values: Table III, with MCR.OUT2 and the 9600-baud divisor that uart_reset documents (QEMU's). */
static void shadow_reset(struct shadow *s)
{
	memset(s, 0, sizeof(*s));
	s->mcr = UART_MCR_OUT2;
	s->dll = 0x0c;
}

static bool shadow_data_ready(const struct shadow *s)
{
	return s->fifo_on ? s->count > 0 : s->dr;
}

static int shadow_room(const struct shadow *s)
{
	if (s->mcr & UART_MCR_LOOP)
		return 0;
	return s->fifo_on ? UART_FIFO_SIZE - s->count : !s->dr;
}

/* The receiver takes a byte (host or loopback): the FIFO keeps its contents on overrun, RBR is overwritten. */
static void shadow_receive(struct shadow *s, u8 byte)
{
	s->idle = false;
	if (s->fifo_on) {
		if (s->count == UART_FIFO_SIZE) {
			s->oe = true;
			return;
		}
		s->fifo[(s->head + s->count++) % UART_FIFO_SIZE] = byte;
		return;
	}
	if (s->dr)
		s->oe = true;
	s->rbr = byte;
	s->dr = true;
}

/* IIR bits 3:0 from Table IV: the highest-priority pending source. */
static u8 shadow_iir_id(const struct shadow *s)
{
	bool rx_on = s->ier & UART_IER_ERBFI;

	if ((s->ier & UART_IER_ELSI) && s->oe) /* OE is the only line error a host byte can cause */
		return UART_IIR_RLS;
	if (rx_on && (s->fifo_on ? s->count >= trigger_levels[s->trigger] : s->dr))
		return UART_IIR_RDA;
	if (rx_on && s->fifo_on && s->count && s->idle)
		return UART_IIR_CTI;
	if ((s->ier & UART_IER_ETBEI) && s->thr_pending)
		return UART_IIR_THRE;
	if ((s->ier & UART_IER_EDSSI) && s->msr_deltas)
		return UART_IIR_MSI;
	return UART_IIR_NONE;
}

/* MSR bits 7:4: the idle line (DCD, DSR, CTS up), or in loopback the MCR outputs (PC16550D, MCR bit 4). */
static u8 modem_inputs(u8 mcr)
{
	if (!(mcr & UART_MCR_LOOP))
		return UART_MSR_DCD | UART_MSR_DSR | UART_MSR_CTS;
	return (u8)((mcr & UART_MCR_RTS ? UART_MSR_CTS : 0) | (mcr & UART_MCR_DTR ? UART_MSR_DSR : 0) |
		    (mcr & UART_MCR_OUT1 ? UART_MSR_RI : 0) | (mcr & UART_MCR_OUT2 ? UART_MSR_DCD : 0));
}

/* Replays one byte the model just took at offset off (0-7); returns true if it was transmitted. */
static bool shadow_write(struct shadow *s, int off, u8 v)
{
	bool dlab = s->lcr & UART_LCR_DLAB;

	switch (off) {
	case UART_THR:
		if (dlab) {
			s->dll = v;
			return false;
		}
		if (s->mcr & UART_MCR_LOOP)
			shadow_receive(s, v); /* loopback: TX goes to RX, nothing leaves */
		s->thr_pending = true;	      /* the byte left at once: THR is empty again */
		return !(s->mcr & UART_MCR_LOOP);
	case UART_IER:
		if (dlab) {
			s->dlm = v;
			break;
		}
		/* A change of ETBEI makes THRE pending (rising, THR is always empty) or forgets it. */
		if ((s->ier ^ v) & UART_IER_ETBEI)
			s->thr_pending = v & UART_IER_ETBEI;
		s->ier = v & 0x0f;
		break;
	case UART_FCR:
		/* Changing the enable bit clears both FIFOs, as do the self-clearing bits 1 and 2. */
		if (((v & UART_FCR_ENABLE) != 0) != s->fifo_on)
			v |= UART_FCR_CLEAR_RX | UART_FCR_CLEAR_TX;
		if (v & UART_FCR_CLEAR_RX) {
			s->count = 0;
			s->dr = false;
			s->idle = false;
		}
		if (v & UART_FCR_CLEAR_TX)
			s->thr_pending = true;
		s->fifo_on = v & UART_FCR_ENABLE;
		s->trigger = v >> 6;
		break;
	case UART_LCR:
		s->lcr = v;
		break;
	case UART_MCR: {
		u8 before = modem_inputs(s->mcr), after = modem_inputs(v & 0x1f);
		u8 delta = (u8)((before ^ after) >> 4);

		if (!(before & UART_MSR_RI) || (after & UART_MSR_RI))
			delta &= (u8)~UART_MSR_TERI; /* TERI: RI went from on to off, only */
		s->msr_deltas |= delta;
		s->mcr = v & 0x1f;
		break;
	}
	case UART_SCR:
		s->scr = v;
		break;
	default:
		break; /* LSR, MSR: read-only */
	}
	return false;
}

/* Replays one byte the model returned from offset off (0-7) and checks it. */
static void shadow_read(struct shadow *s, int off, u8 got)
{
	bool dlab = s->lcr & UART_LCR_DLAB;
	u8 want;

	switch (off) {
	case UART_RBR:
		if (dlab) {
			FUZZ_CHECK(got == s->dll);
		} else if (!s->fifo_on) {
			FUZZ_CHECK(got == s->rbr); /* re-reads the last byte when empty */
			s->dr = false;
		} else {
			/* First in, first out; nothing lost while there was room; empty reads 0. */
			want = 0;
			if (s->count) {
				want = s->fifo[s->head];
				s->head = (s->head + 1) % UART_FIFO_SIZE;
				s->count--;
			}
			FUZZ_CHECK(got == want);
		}
		break;
	case UART_IER:
		FUZZ_CHECK(got == (dlab ? s->dlm : s->ier));
		break;
	case UART_IIR:
		want = shadow_iir_id(s);
		FUZZ_CHECK(got == (want | (s->fifo_on ? UART_IIR_FIFO : 0)));
		if (want == UART_IIR_THRE)
			s->thr_pending = false; /* reading IIR acknowledges THRE */
		break;
	case UART_LCR:
		FUZZ_CHECK(got == s->lcr);
		break;
	case UART_MCR:
		FUZZ_CHECK(got == s->mcr);
		break;
	case UART_LSR:
		/* The transmitter is always empty; PE, FE, BI and the FIFO error bit never happen. */
		FUZZ_CHECK((got & ~(UART_LSR_DR | UART_LSR_OE)) == (UART_LSR_THRE | UART_LSR_TEMT));
		FUZZ_CHECK(!!(got & UART_LSR_DR) == shadow_data_ready(s));
		FUZZ_CHECK(!!(got & UART_LSR_OE) == s->oe);
		s->oe = false;
		break;
	case UART_MSR:
		FUZZ_CHECK(got == (modem_inputs(s->mcr) | s->msr_deltas));
		s->msr_deltas = 0;
		break;
	default:
		FUZZ_CHECK(got == s->scr);
		break;
	}
}

/* After each operation: the model's receiver and IRQ line agree with the shadow. */
static void rig_check(const struct rig *r)
{
	const struct uart *u = &r->u;
	const struct shadow *s = &r->s;
	bool pending = shadow_iir_id(s) != UART_IIR_NONE;

	FUZZ_CHECK(u->rx_count <= UART_FIFO_SIZE && u->rx_head < UART_FIFO_SIZE);
	FUZZ_CHECK(u->rx_count == (s->fifo_on ? s->count : 0));
	FUZZ_CHECK(!!(u->lsr & UART_LSR_DR) == shadow_data_ready(s));
	FUZZ_CHECK(!!(u->lsr & UART_LSR_OE) == s->oe);
	FUZZ_CHECK(uart_rx_room(u) == shadow_room(s));
	FUZZ_CHECK(u->msr == (modem_inputs(s->mcr) | s->msr_deltas));
	/* OUT2 gates INTR onto the IRQ line; the model drives the level it believes it drives. */
	FUZZ_CHECK(r->level == (pending && (s->mcr & UART_MCR_OUT2)));
	FUZZ_CHECK(r->level == u->irq_level);
	FUZZ_CHECK(u->stats.tx_bytes == r->tx);
}

/* One guest in/out: the model takes it whole, then the shadow replays it byte by byte (the ISA bus split). */
static void rig_io(struct rig *r, u16 offset, u32 data, int size, bool is_write)
{
	u64 tx = r->tx;
	int rises = r->rises, sent = 0;
	u32 val = uart_io(&r->u, offset, data, size, is_write);
	u8 thr = (u8)data;

	if (is_write)
		FUZZ_CHECK(val == 0);
	else if (size < 4)
		FUZZ_CHECK(val >> (8 * size) == 0);
	for (int i = 0; i < size; i++) {
		int off = (offset & 7) + i;
		u8 byte = (u8)((is_write ? data : val) >> (8 * i));

		if (off >= 8) {
			FUZZ_CHECK(is_write || byte == 0xff); /* past the UART: open bus */
			continue;
		}
		if (is_write)
			sent += shadow_write(&r->s, off, byte);
		else
			shadow_read(&r->s, off, byte);
	}
	FUZZ_CHECK(r->tx == tx + (u64)sent);
	if (sent)
		FUZZ_CHECK(r->tx_last == thr);
	/* A THR write with THRE then the only source is a new edge, so an edge-triggered PIC sees every byte. */
	if (sent && size == 1 && shadow_iir_id(&r->s) == UART_IIR_THRE && (r->s.mcr & UART_MCR_OUT2) &&
	    !((r->s.ier & UART_IER_EDSSI) && r->s.msr_deltas))
		FUZZ_CHECK(r->rises > rises);
}

/* The host's end of the line: input through uart_rx_feed, as QEMU's chardev gives it. */
static void rig_feed(struct rig *r, const u8 *buf, size_t len)
{
	size_t room = (size_t)shadow_room(&r->s), want = len < room ? len : room;
	size_t took = uart_rx_feed(&r->u, buf, len);

	FUZZ_CHECK(took == want); /* it sends while there is room, whatever the modem lines say, and no further */
	for (size_t i = 0; i < took; i++)
		shadow_receive(&r->s, buf[i]);
	if (took == len)
		r->s.idle = true;
}

int LLVMFuzzerTestOneInput(const u8 *data, size_t size)
{
	struct fuzz_in in = { data, size };
	struct rig r;
	u8 buf[40];
	size_t len;
	u16 off;

	memset(&r, 0, sizeof(r));
	uart_init(&r.u, (struct irq_line){ rig_irq, &r, 4 }, rig_tx, &r);
	shadow_reset(&r.s);
	rig_check(&r);
	while (in.left) {
		switch (fuzz_u8(&in) % 6) {
		case 0:
			off = fuzz_u8(&in);
			rig_io(&r, off, fuzz_u32(&in), fuzz_size(&in), true);
			break;
		case 1:
			off = fuzz_u8(&in);
			rig_io(&r, off, 0, fuzz_size(&in), false);
			break;
		case 2:
			len = fuzz_u8(&in) % (sizeof(buf) + 1);
			for (size_t i = 0; i < len; i++)
				buf[i] = fuzz_u8(&in);
			rig_feed(&r, buf, len);
			break;
		case 3: /* a serial line without flow control: the byte comes whatever the room */
			buf[0] = fuzz_u8(&in);
			uart_rx_byte(&r.u, buf[0]);
			if (!(r.s.mcr & UART_MCR_LOOP)) /* in loopback the input pin is disconnected */
				shadow_receive(&r.s, buf[0]);
			break;
		case 4:
			uart_rx_idle(&r.u);
			r.s.idle = true;
			break;
		default:
			uart_reset(&r.u);
			shadow_reset(&r.s);
			FUZZ_CHECK(r.level == 0);
			break;
		}
		rig_check(&r);
	}
	return 0;
}
