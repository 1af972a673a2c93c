/* test_uart16550.c - cmocka tests of the 16550A UART model (datasheet and QEMU behaviour). */
#include "unit.h"

#include <string.h>

#include "devices/uart16550.h"

struct fx {
	struct uart u;
	struct irq_probe irq;
	u8 tx[64];
	int ntx;
};

static void fx_tx(void *ctx, u8 byte)
{
	struct fx *f = ctx;

	if (f->ntx < (int)sizeof(f->tx))
		f->tx[f->ntx] = byte;
	f->ntx++;
}

static void fx_init(struct fx *f)
{
	struct irq_line line = { .set = irq_probe_set, .ctx = &f->irq, .irq = 4 };

	memset(f, 0, sizeof(*f));
	uart_init(&f->u, line, fx_tx, f);
}

static u8 rd(struct fx *f, u16 off)
{
	return (u8)uart_io(&f->u, off, 0, 1, false);
}

static void wr(struct fx *f, u16 off, u8 val)
{
	assert_int_equal(uart_io(&f->u, off, val, 1, true), 0);
}

static void test_reset_values_match_16550a(void **state)
{
	struct fx f;

	fx_init(&f);
	assert_int_equal(rd(&f, 1), 0x00); /* IER */
	assert_int_equal(rd(&f, 2), 0x01); /* IIR: nothing pending, FIFOs off */
	assert_int_equal(rd(&f, 3), 0x00); /* LCR */
	assert_int_equal(rd(&f, 4), 0x08); /* MCR: OUT2, as QEMU resets it */
	assert_int_equal(rd(&f, 5), 0x60); /* LSR: THRE | TEMT */
	assert_int_equal(rd(&f, 6), 0xb0); /* MSR: DCD | DSR | CTS, no deltas */
	assert_int_equal(rd(&f, 7), 0x00); /* SCR */
	assert_int_equal(rd(&f, 0), 0x00); /* RBR */
	wr(&f, 3, 0x80);
	assert_int_equal(rd(&f, 0), 0x0c); /* DLL: 9600 baud */
	assert_int_equal(rd(&f, 1), 0x00); /* DLM */
	assert_int_equal(f.irq.level, 0);
	assert_true(f.irq.sets >= 1); /* reset drove the line low */
	assert_int_equal(uart_rx_room(&f.u), 1);
}

static void test_reset_restores_state_and_keeps_stats(void **state)
{
	struct fx f;

	fx_init(&f);
	wr(&f, 1, UART_IER_ETBEI);
	assert_int_equal(f.irq.level, 1);
	wr(&f, 2, 0x01);
	wr(&f, 7, 0x5a);
	wr(&f, 0, 'x');
	uart_rx_byte(&f.u, 'y');
	uart_reset(&f.u);
	assert_int_equal(f.irq.level, 0);
	assert_int_equal(rd(&f, 2), 0x01);
	assert_int_equal(rd(&f, 5), 0x60);
	assert_int_equal(rd(&f, 7), 0x00);
	assert_int_equal(f.u.stats.tx_bytes, 1);
	assert_int_equal(f.u.stats.rx_bytes, 1);
}

static void test_dlab_latches_divisor(void **state)
{
	struct fx f;

	fx_init(&f);
	wr(&f, 1, 0x05);
	wr(&f, 3, 0x83);
	wr(&f, 0, 0x01);
	wr(&f, 1, 0x02);
	assert_int_equal(rd(&f, 0), 0x01);
	assert_int_equal(rd(&f, 1), 0x02);
	assert_int_equal(f.ntx, 0); /* a DLL write is not a THR write */
	wr(&f, 3, 0x03);
	assert_int_equal(rd(&f, 1), 0x05); /* IER untouched by DLM writes */
	assert_int_equal(rd(&f, 3), 0x03);
	wr(&f, 3, 0x80);
	assert_int_equal(rd(&f, 0), 0x01); /* the latch keeps its value */
}

static void test_thr_write_transmits_at_once(void **state)
{
	struct fx f;

	fx_init(&f);
	wr(&f, 0, 'h');
	wr(&f, 0, 'i');
	assert_int_equal(f.ntx, 2);
	assert_memory_equal(f.tx, "hi", 2);
	assert_int_equal(f.u.stats.tx_bytes, 2);
	assert_int_equal(rd(&f, 5), 0x60);
}

static void test_ier_keeps_low_four_bits(void **state)
{
	struct fx f;

	fx_init(&f);
	wr(&f, 1, 0xf0);
	assert_int_equal(rd(&f, 1), 0x00);
	wr(&f, 1, 0xff);
	assert_int_equal(rd(&f, 1), 0x0f);
	wr(&f, 4, 0xff);
	assert_int_equal(rd(&f, 4), 0x1f); /* MCR keeps the low five */
}

static void test_etbei_rising_edge_makes_thre_pending(void **state)
{
	struct fx f;

	fx_init(&f);
	wr(&f, 0, 'a');
	assert_int_equal(f.irq.level, 0); /* THRE alone is not enabled */
	wr(&f, 1, UART_IER_ETBEI);
	assert_int_equal(f.irq.level, 1);
	assert_int_equal(rd(&f, 2), 0x02);
}

static void test_iir_read_clears_thre(void **state)
{
	struct fx f;

	fx_init(&f);
	wr(&f, 1, UART_IER_ETBEI);
	assert_int_equal(rd(&f, 2), 0x02);
	assert_int_equal(f.irq.level, 0);
	assert_int_equal(rd(&f, 2), 0x01);
}

static void test_ier_rewrite_does_not_rearm_thre(void **state)
{
	struct fx f;

	fx_init(&f);
	wr(&f, 1, UART_IER_ETBEI);
	rd(&f, 2);
	wr(&f, 1, UART_IER_ETBEI); /* no edge: stays acknowledged */
	assert_int_equal(rd(&f, 2), 0x01);
	wr(&f, 1, 0);
	wr(&f, 1, UART_IER_ETBEI); /* toggling re-samples THRE */
	assert_int_equal(rd(&f, 2), 0x02);
}

static void test_thr_write_gives_one_edge_per_byte(void **state)
{
	struct fx f;

	fx_init(&f);
	wr(&f, 1, UART_IER_ETBEI);
	assert_int_equal(f.irq.rises, 1);
	wr(&f, 0, 'a'); /* pending THRE not acknowledged */
	assert_int_equal(f.irq.rises, 2);
	assert_int_equal(f.irq.level, 1);
	rd(&f, 2);
	wr(&f, 0, 'b');
	assert_int_equal(f.irq.rises, 3);
	assert_int_equal(rd(&f, 2), 0x02);
}

static void test_rx_byte_sets_dr_and_rda_interrupt(void **state)
{
	struct fx f;

	fx_init(&f);
	wr(&f, 1, UART_IER_ERBFI);
	uart_rx_byte(&f.u, 'q');
	assert_int_equal(rd(&f, 5), 0x61);
	assert_int_equal(f.irq.level, 1);
	assert_int_equal(rd(&f, 2), 0x04);
	assert_int_equal(uart_rx_room(&f.u), 0); /* 16450 mode: RBR is full */
	assert_int_equal(rd(&f, 0), 'q');
	assert_int_equal(rd(&f, 5), 0x60);
	assert_int_equal(rd(&f, 2), 0x01);
	assert_int_equal(f.irq.level, 0);
	assert_int_equal(uart_rx_room(&f.u), 1);
	assert_int_equal(f.u.stats.rx_bytes, 1);
}

static void test_rbr_overwritten_on_overrun_without_fifo(void **state)
{
	struct fx f;

	fx_init(&f);
	uart_rx_byte(&f.u, '1');
	uart_rx_byte(&f.u, '2');
	assert_int_equal(rd(&f, 5), 0x63); /* DR | OE */
	assert_int_equal(f.u.stats.overruns, 1);
	assert_int_equal(rd(&f, 0), '2'); /* the shift register wins in 16450 mode */
}

static void test_rx_overrun_sets_oe_and_counts(void **state)
{
	struct fx f;

	fx_init(&f);
	wr(&f, 2, 0x01);
	for (int i = 0; i < 17; i++)
		uart_rx_byte(&f.u, (u8)('a' + i));
	assert_int_equal(uart_rx_room(&f.u), 0);
	assert_int_equal(f.u.stats.overruns, 1);
	assert_int_equal(f.u.stats.rx_bytes, 16);
	assert_int_equal(rd(&f, 5), 0x63);
	for (int i = 0; i < 16; i++)
		assert_int_equal(rd(&f, 0), 'a' + i); /* FIFO kept, 17th lost */
	assert_int_equal(rd(&f, 5), 0x60);
	assert_int_equal(rd(&f, 0), 0); /* empty FIFO reads 0 */
}

static void test_lsr_read_clears_oe(void **state)
{
	struct fx f;

	fx_init(&f);
	uart_rx_byte(&f.u, 1);
	uart_rx_byte(&f.u, 2);
	assert_int_equal(rd(&f, 5) & UART_LSR_OE, UART_LSR_OE);
	assert_int_equal(rd(&f, 5) & UART_LSR_OE, 0);
	assert_int_equal(rd(&f, 5) & UART_LSR_DR, UART_LSR_DR);
}

static void test_iir_priority_line_status_over_rx(void **state)
{
	struct fx f;

	fx_init(&f);
	wr(&f, 1, 0x0f);
	rd(&f, 2); /* acknowledge THRE */
	uart_rx_byte(&f.u, 1);
	uart_rx_byte(&f.u, 2);
	assert_int_equal(rd(&f, 2), 0x06);
	rd(&f, 5);
	assert_int_equal(rd(&f, 2), 0x04);
	rd(&f, 0);
	assert_int_equal(rd(&f, 2), 0x01);
}

static void test_iir_priority_rx_over_thre(void **state)
{
	struct fx f;

	fx_init(&f);
	wr(&f, 1, UART_IER_ERBFI | UART_IER_ETBEI);
	uart_rx_byte(&f.u, 7);
	assert_int_equal(rd(&f, 2), 0x04);
	assert_int_equal(rd(&f, 2), 0x04); /* reading IIR for RDA keeps THRE */
	rd(&f, 0);
	assert_int_equal(rd(&f, 2), 0x02);
}

static void test_iir_priority_thre_over_modem_status(void **state)
{
	struct fx f;

	fx_init(&f);
	wr(&f, 4, UART_MCR_LOOP | UART_MCR_OUT2 | UART_MCR_RTS); /* deltas on CTS, DSR */
	wr(&f, 1, UART_IER_ETBEI | UART_IER_EDSSI);
	assert_int_equal(rd(&f, 2), 0x02);
	assert_int_equal(rd(&f, 2), 0x00);
	assert_int_equal(f.irq.level, 1);
	rd(&f, 6);
	assert_int_equal(rd(&f, 2), 0x01);
	assert_int_equal(f.irq.level, 0);
}

static void test_fifo_enable_sets_iir_high_bits(void **state)
{
	struct fx f;

	fx_init(&f);
	wr(&f, 2, 0x01);
	assert_int_equal(rd(&f, 2), 0xc1);
	assert_int_equal(uart_rx_room(&f.u), 16);
	wr(&f, 2, 0x00);
	assert_int_equal(rd(&f, 2), 0x01);
	assert_int_equal(uart_rx_room(&f.u), 1);
}

static void test_fifo_trigger_level(void **state)
{
	static const u8 fcr_level[4][2] = { { 0x01, 1 }, { 0x41, 4 }, { 0x81, 8 }, { 0xc1, 14 } };

	for (int t = 0; t < 4; t++) {
		struct fx f;

		fx_init(&f);
		wr(&f, 2, fcr_level[t][0]);
		wr(&f, 1, UART_IER_ERBFI);
		for (int i = 1; i < fcr_level[t][1]; i++)
			uart_rx_byte(&f.u, (u8)i);
		assert_int_equal(f.irq.level, 0);
		assert_int_equal(rd(&f, 2), 0xc1);
		uart_rx_byte(&f.u, 0xee);
		assert_int_equal(f.irq.level, 1);
		assert_int_equal(rd(&f, 2), 0xc4);
		rd(&f, 0); /* one below the level again */
		assert_int_equal(f.irq.level, 0);
	}
}

static void test_char_timeout_below_trigger(void **state)
{
	struct fx f;

	fx_init(&f);
	wr(&f, 2, 0x41); /* trigger at 4 */
	wr(&f, 1, UART_IER_ERBFI);
	uart_rx_byte(&f.u, 'a');
	uart_rx_byte(&f.u, 'b');
	assert_int_equal(f.irq.level, 0);
	uart_rx_idle(&f.u);
	assert_int_equal(f.irq.level, 1);
	assert_int_equal(rd(&f, 2), 0xcc);
	assert_int_equal(rd(&f, 0), 'a');
	assert_int_equal(rd(&f, 2), 0xcc); /* still idle, still data */
	assert_int_equal(rd(&f, 0), 'b');
	assert_int_equal(rd(&f, 2), 0xc1);
	assert_int_equal(f.irq.level, 0);
}

static void test_rx_byte_after_idle_restarts_timeout(void **state)
{
	struct fx f;

	fx_init(&f);
	wr(&f, 2, 0x81);
	wr(&f, 1, UART_IER_ERBFI);
	uart_rx_byte(&f.u, 1);
	uart_rx_idle(&f.u);
	assert_int_equal(f.irq.level, 1);
	uart_rx_byte(&f.u, 2); /* the line is busy again */
	assert_int_equal(f.irq.level, 0);
	assert_int_equal(rd(&f, 2), 0xc1);
}

static void test_char_timeout_needs_fifo_and_erbfi(void **state)
{
	struct fx f;

	fx_init(&f);
	wr(&f, 2, 0x81);
	uart_rx_byte(&f.u, 1);
	uart_rx_idle(&f.u);
	assert_int_equal(rd(&f, 2), 0xc1); /* ERBFI off */
	wr(&f, 1, UART_IER_ERBFI);
	assert_int_equal(rd(&f, 2), 0xcc);
	wr(&f, 2, 0x00); /* FIFOs off: flushed, no timeout */
	uart_rx_idle(&f.u);
	assert_int_equal(rd(&f, 2), 0x01);
}

static void test_iir_priority_rx_over_timeout(void **state)
{
	struct fx f;

	fx_init(&f);
	wr(&f, 2, 0x41);
	wr(&f, 1, UART_IER_ERBFI);
	for (int i = 0; i < 4; i++)
		uart_rx_byte(&f.u, (u8)i);
	uart_rx_idle(&f.u);
	assert_int_equal(rd(&f, 2), 0xc4); /* at the trigger: RDA, not CTI */
	rd(&f, 0);
	assert_int_equal(rd(&f, 2), 0xcc);
}

static void test_fcr_clears_fifo(void **state)
{
	struct fx f;

	fx_init(&f);
	wr(&f, 2, 0x01);
	uart_rx_byte(&f.u, 'a');
	uart_rx_byte(&f.u, 'b');
	wr(&f, 2, 0x03); /* keep FIFOs on, clear RX */
	assert_int_equal(rd(&f, 5), 0x60);
	assert_int_equal(uart_rx_room(&f.u), 16);
	uart_rx_byte(&f.u, 'c');
	assert_int_equal(rd(&f, 0), 'c');
}

static void test_fifo_toggle_clears_fifo(void **state)
{
	struct fx f;

	fx_init(&f);
	wr(&f, 2, 0x01);
	uart_rx_byte(&f.u, 'a');
	wr(&f, 2, 0x00);
	assert_int_equal(rd(&f, 5), 0x60);
	wr(&f, 2, 0x01);
	assert_int_equal(uart_rx_room(&f.u), 16);
	assert_int_equal(rd(&f, 5), 0x60);
}

static void test_fcr_clear_tx_makes_thre_pending(void **state)
{
	struct fx f;

	fx_init(&f);
	wr(&f, 2, 0x01);
	wr(&f, 1, UART_IER_ETBEI);
	assert_int_equal(rd(&f, 2), 0xc2);
	assert_int_equal(rd(&f, 2), 0xc1);
	wr(&f, 2, 0x05);
	assert_int_equal(rd(&f, 2), 0xc2);
}

static void test_loopback_routes_tx_to_rx(void **state)
{
	struct fx f;

	fx_init(&f);
	wr(&f, 4, UART_MCR_LOOP | UART_MCR_OUT2);
	wr(&f, 1, UART_IER_ERBFI);
	wr(&f, 0, 'L');
	assert_int_equal(f.ntx, 0);
	assert_int_equal(f.u.stats.tx_bytes, 0);
	assert_int_equal(f.irq.level, 1);
	assert_int_equal(rd(&f, 5), 0x61);
	assert_int_equal(rd(&f, 0), 'L');
	wr(&f, 0, 1);
	wr(&f, 0, 2); /* RBR full: overrun, newest kept */
	assert_int_equal(rd(&f, 5), 0x63);
	assert_int_equal(f.u.stats.overruns, 1);
	wr(&f, 4, UART_MCR_OUT2);
	wr(&f, 0, 'T');
	assert_int_equal(f.ntx, 1);
}

static void test_loopback_disconnects_host_input(void **state)
{
	struct fx f;

	fx_init(&f);
	wr(&f, 2, 0x01);
	wr(&f, 4, UART_MCR_LOOP);
	assert_int_equal(uart_rx_room(&f.u), 0);
	uart_rx_byte(&f.u, 'x');
	assert_int_equal(f.u.stats.overruns, 1);
	assert_int_equal(f.u.stats.rx_bytes, 0);
	assert_int_equal(rd(&f, 5), 0x60); /* no DR, no OE: the pin is cut */
}

static void test_loopback_msr_mirrors_mcr(void **state)
{
	struct fx f;

	fx_init(&f);
	wr(&f, 4, UART_MCR_LOOP);
	rd(&f, 6);
	wr(&f, 4, UART_MCR_LOOP | UART_MCR_RTS);
	assert_int_equal(rd(&f, 6) & 0xf0, UART_MSR_CTS);
	wr(&f, 4, UART_MCR_LOOP | UART_MCR_DTR);
	assert_int_equal(rd(&f, 6) & 0xf0, UART_MSR_DSR);
	wr(&f, 4, UART_MCR_LOOP | UART_MCR_OUT1);
	assert_int_equal(rd(&f, 6) & 0xf0, UART_MSR_RI);
	wr(&f, 4, UART_MCR_LOOP | UART_MCR_OUT2);
	assert_int_equal(rd(&f, 6) & 0xf0, UART_MSR_DCD);
	wr(&f, 4, UART_MCR_LOOP | 0x0a); /* Linux's 8250 probe: expects 0x90 */
	assert_int_equal(rd(&f, 6) & 0xf0, 0x90);
	wr(&f, 4, UART_MCR_OUT2);
	assert_int_equal(rd(&f, 6) & 0xf0, 0xb0);
}

static void test_msr_delta_cleared_on_read(void **state)
{
	struct fx f;

	fx_init(&f);
	wr(&f, 4, UART_MCR_LOOP | UART_MCR_OUT2 | UART_MCR_DTR); /* CTS drops */
	assert_int_equal(rd(&f, 6), UART_MSR_DCD | UART_MSR_DSR | UART_MSR_DCTS);
	assert_int_equal(rd(&f, 6), UART_MSR_DCD | UART_MSR_DSR);
}

static void test_msr_teri_only_on_ri_falling_edge(void **state)
{
	struct fx f;

	fx_init(&f);
	wr(&f, 4, UART_MCR_LOOP | UART_MCR_OUT2);
	rd(&f, 6);
	wr(&f, 4, UART_MCR_LOOP | UART_MCR_OUT2 | UART_MCR_OUT1);
	assert_int_equal(rd(&f, 6) & UART_MSR_TERI, 0); /* RI rose */
	wr(&f, 4, UART_MCR_LOOP | UART_MCR_OUT2);
	assert_int_equal(rd(&f, 6) & UART_MSR_DELTAS, UART_MSR_TERI);
}

static void test_out2_gates_irq(void **state)
{
	struct fx f;

	fx_init(&f);
	wr(&f, 4, 0x00);
	wr(&f, 1, UART_IER_ETBEI);
	assert_int_equal(f.irq.level, 0);
	assert_int_equal(f.irq.rises, 0);
	wr(&f, 4, UART_MCR_OUT2);
	assert_int_equal(f.irq.level, 1);
	wr(&f, 4, 0x00);
	assert_int_equal(f.irq.level, 0);
	assert_int_equal(rd(&f, 2), 0x02); /* still pending inside the chip */
}

static void test_wide_access_splits_into_bytes(void **state)
{
	struct fx f;

	fx_init(&f);
	wr(&f, 3, 0x80);
	uart_io(&f.u, 0, 0x1234, 2, true); /* DLL, DLM */
	assert_int_equal(rd(&f, 0), 0x34);
	assert_int_equal(rd(&f, 1), 0x12);
	assert_int_equal(uart_io(&f.u, 0, 0, 2, false), 0x1234);
	wr(&f, 3, 0x03);
	wr(&f, 7, 0xa5);
	assert_int_equal(uart_io(&f.u, 4, 0, 4, false), 0xa5b06008); /* MCR LSR MSR SCR */
	assert_int_equal(uart_io(&f.u, 6, 0, 4, false), 0xffffa5b0); /* past offset 7: open bus */
	assert_int_equal(uart_io(&f.u, 6, 0x11223344, 4, true), 0);
	assert_int_equal(rd(&f, 7), 0x33);
	assert_int_equal(rd(&f, 3), 0x03); /* the bytes past the UART reached nothing */
}

static void test_offset_is_masked_to_eight_ports(void **state)
{
	struct fx f;

	fx_init(&f);
	wr(&f, 0x3ff, 0x42);
	assert_int_equal(rd(&f, 7), 0x42);
	assert_int_equal(rd(&f, 0xfffd), 0x60);
	assert_int_equal(uart_io(&f.u, 0, 0, 0, false), 0); /* size 0: nothing */
}

static void test_scratch_register(void **state)
{
	struct fx f;

	fx_init(&f);
	for (int v = 0; v < 256; v += 0x55) {
		wr(&f, 7, (u8)v);
		assert_int_equal(rd(&f, 7), v);
	}
	assert_int_equal(f.irq.sets, 1); /* only the reset touched the line */
}

static void test_rx_feed_fills_rbr_whatever_the_modem_lines(void **state)
{
	struct fx f;
	u8 buf[3] = { 'a', 'b', 'c' };

	fx_init(&f);
	wr(&f, 4, 0x00); /* RTS, DTR and OUT2 all low: the line delivers anyway */
	assert_int_equal(uart_rx_feed(&f.u, buf, sizeof(buf)), 1); /* FIFOs off: RBR holds one */
	assert_int_equal(rd(&f, 5) & 0x03, 0x01);		   /* DR, no overrun */
	assert_int_equal(uart_rx_feed(&f.u, buf + 1, 2), 0);	   /* no room until it is read */
	assert_int_equal(rd(&f, 0), 'a');
	assert_int_equal(uart_rx_feed(&f.u, buf + 1, 2), 1);
	assert_int_equal(rd(&f, 0), 'b');
	assert_int_equal(f.u.stats.overruns, 0);
}

static void test_rx_byte_held_in_rbr_is_lost_when_fifos_go_on(void **state)
{
	struct fx f;
	u8 buf[2] = { 'p', 'q' };

	fx_init(&f);
	assert_int_equal(uart_rx_feed(&f.u, buf, 2), 1); /* 'p' waits in RBR before the guest set up */
	wr(&f, 2, 0x07);				 /* FIFOs on (and cleared): as in QEMU, 'p' is gone */
	assert_int_equal(rd(&f, 5) & 0x01, 0);
	assert_int_equal(uart_rx_feed(&f.u, buf + 1, 1), 1);
	assert_int_equal(rd(&f, 0), 'q');
}

static void test_rx_feed_waits_for_fifo_room(void **state)
{
	struct fx f;
	u8 buf[20];

	fx_init(&f);
	memset(buf, 'a', sizeof(buf));
	wr(&f, 2, 0xc1);					    /* FIFOs on, trigger at 14 */
	assert_int_equal(uart_rx_feed(&f.u, buf, sizeof(buf)), 16); /* the FIFO is full */
	assert_int_equal(f.u.stats.overruns, 0);
	assert_int_equal(rd(&f, 5) & 0x02, 0); /* no overrun */
	for (int i = 0; i < 16; i++)
		rd(&f, 0);
	assert_int_equal(uart_rx_feed(&f.u, buf, 4), 4);
	wr(&f, 1, 0x01); /* ERBFI: the idle line after the whole feed gives the timeout */
	assert_int_equal(rd(&f, 2) & 0x0f, 0x0c);
}

static void test_lsr_msr_writes_ignored(void **state)
{
	struct fx f;

	fx_init(&f);
	wr(&f, 5, 0x00);
	wr(&f, 6, 0x0f);
	assert_int_equal(rd(&f, 5), 0x60);
	assert_int_equal(rd(&f, 6), 0xb0);
}

/* Random accesses and input: no crash, FIFO bounded, line level = IIR pending && OUT2. */
static void test_random_accesses_keep_invariants(void **state)
{
	struct fx f;
	u32 seed = 12345;

	fx_init(&f);
	for (int i = 0; i < 200000; i++) {
		u32 r;

		seed = seed * 1103515245u + 12345u;
		r = seed >> 8;
		switch (r % 8) {
		case 0:
			uart_rx_byte(&f.u, (u8)(r >> 4));
			break;
		case 1:
			uart_rx_idle(&f.u);
			break;
		case 2:
		case 3:
		case 4:
			uart_io(&f.u, (u16)(r >> 3), r >> 11, 1 << ((r >> 19) % 3), true);
			break;
		default:
			uart_io(&f.u, (u16)(r >> 3), 0, 1 << ((r >> 19) % 3), false);
			break;
		}
		assert_true(f.u.rx_count <= UART_FIFO_SIZE);
		assert_true(uart_rx_room(&f.u) >= 0 && uart_rx_room(&f.u) <= UART_FIFO_SIZE);
		if (i % 4 == 0) {
			int level = f.irq.level;
			u8 out2 = rd(&f, 4) & UART_MCR_OUT2;
			u8 iir = rd(&f, 2);

			assert_non_null(memchr("\x01\x06\x04\x0c\x02\x00", iir & 0x3f, 6));
			assert_true((iir & 0xc0) == 0 || (iir & 0xc0) == 0xc0);
			assert_int_equal(level, !(iir & 1) && out2);
		}
	}
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_reset_values_match_16550a),
		cmocka_unit_test(test_reset_restores_state_and_keeps_stats),
		cmocka_unit_test(test_dlab_latches_divisor),
		cmocka_unit_test(test_thr_write_transmits_at_once),
		cmocka_unit_test(test_ier_keeps_low_four_bits),
		cmocka_unit_test(test_etbei_rising_edge_makes_thre_pending),
		cmocka_unit_test(test_iir_read_clears_thre),
		cmocka_unit_test(test_ier_rewrite_does_not_rearm_thre),
		cmocka_unit_test(test_thr_write_gives_one_edge_per_byte),
		cmocka_unit_test(test_rx_byte_sets_dr_and_rda_interrupt),
		cmocka_unit_test(test_rbr_overwritten_on_overrun_without_fifo),
		cmocka_unit_test(test_rx_overrun_sets_oe_and_counts),
		cmocka_unit_test(test_lsr_read_clears_oe),
		cmocka_unit_test(test_iir_priority_line_status_over_rx),
		cmocka_unit_test(test_iir_priority_rx_over_thre),
		cmocka_unit_test(test_iir_priority_thre_over_modem_status),
		cmocka_unit_test(test_fifo_enable_sets_iir_high_bits),
		cmocka_unit_test(test_fifo_trigger_level),
		cmocka_unit_test(test_char_timeout_below_trigger),
		cmocka_unit_test(test_rx_byte_after_idle_restarts_timeout),
		cmocka_unit_test(test_char_timeout_needs_fifo_and_erbfi),
		cmocka_unit_test(test_iir_priority_rx_over_timeout),
		cmocka_unit_test(test_fcr_clears_fifo),
		cmocka_unit_test(test_fifo_toggle_clears_fifo),
		cmocka_unit_test(test_fcr_clear_tx_makes_thre_pending),
		cmocka_unit_test(test_loopback_routes_tx_to_rx),
		cmocka_unit_test(test_loopback_disconnects_host_input),
		cmocka_unit_test(test_loopback_msr_mirrors_mcr),
		cmocka_unit_test(test_msr_delta_cleared_on_read),
		cmocka_unit_test(test_msr_teri_only_on_ri_falling_edge),
		cmocka_unit_test(test_out2_gates_irq),
		cmocka_unit_test(test_wide_access_splits_into_bytes),
		cmocka_unit_test(test_offset_is_masked_to_eight_ports),
		cmocka_unit_test(test_scratch_register),
		cmocka_unit_test(test_rx_feed_fills_rbr_whatever_the_modem_lines),
		cmocka_unit_test(test_rx_byte_held_in_rbr_is_lost_when_fifos_go_on),
		cmocka_unit_test(test_rx_feed_waits_for_fifo_room),
		cmocka_unit_test(test_lsr_msr_writes_ignored),
		cmocka_unit_test(test_random_accesses_keep_invariants),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
