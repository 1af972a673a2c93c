/* diff_uart.S - differential test: 16550A registers as the firmware leaves them, divisor latch, scratch, IER, FIFO bits of IIR, THRE interrupt. */
#include "diff.inc"

main:
	mov $COM1_BASE, %dx
	/* as the firmware left the UART (SeaBIOS: reset state, IER probed) */
	URD UART_IER
	URD UART_IIR
	URD UART_LCR
	URD UART_MCR
	URD UART_LSR
	URD UART_MSR
	URD UART_SCR

	/* LCR.DLAB maps the divisor latch on ports 0 and 1 */
	UOUT UART_LCR, 0x83
	UOUT UART_THR, 0x34		/* DLL */
	UOUT UART_IER, 0x12		/* DLM */
	URD UART_THR
	URD UART_IER
	URD UART_LCR
	UOUT UART_LCR, 0x03		/* DLAB off: port 1 is IER again */
	URD UART_IER
	URD UART_LCR

	/* scratch register keeps any byte */
	UOUT UART_SCR, 0xa5
	URD UART_SCR
	UOUT UART_SCR, 0x5a
	URD UART_SCR

	/* IER keeps bits 0-3 only */
	UOUT UART_IER, 0xf0
	URD UART_IER
	UOUT UART_IER, 0x0d		/* RX data, line status, modem status */
	URD UART_IER
	URD UART_IIR			/* none of them pending */

	/* IIR bits 7-6 show the FIFO enable */
	UOUT UART_FCR, 0x07		/* enable, clear both FIFOs */
	URD UART_IIR
	UOUT UART_FCR, 0x00
	URD UART_IIR

	/* THR empty interrupt: pending once ETBEI is set, cleared by reading IIR */
	UOUT UART_IER, 0x02
	URD UART_IIR
	URD UART_IIR
	UOUT UART_IER, 0x00		/* re-enabling ETBEI raises it again */
	UOUT UART_IER, 0x02
	URD UART_IIR
	UOUT UART_FCR, 0x01		/* same with FIFOs on */
	URD UART_IIR
	UOUT UART_IER, 0x00
	URD UART_IIR
	UOUT UART_FCR, 0x00

	mov $labels, %si
	jmp finish

labels:
	.asciz "ier0"
	.asciz "iir0"
	.asciz "lcr0"
	.asciz "mcr0"
	.asciz "lsr0"
	.asciz "msr0"
	.asciz "scr0"
	.asciz "dll"
	.asciz "dlm"
	.asciz "lcr_dlab"
	.asciz "ier"
	.asciz "lcr"
	.asciz "scr_a5"
	.asciz "scr_5a"
	.asciz "ier_f0"
	.asciz "ier_0d"
	.asciz "iir_none"
	.asciz "iir_fifo"
	.asciz "iir_nofifo"
	.asciz "iir_thri"
	.asciz "iir_read"
	.asciz "iir_rearm"
	.asciz "iir_thri_fifo"
	.asciz "iir_off"
	.byte 0
	SECTOR_END
