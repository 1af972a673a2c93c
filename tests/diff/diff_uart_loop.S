/* diff_uart_loop.S - differential test: 16550A loopback: MSR mirrors MCR, a byte comes back, overrun with and without FIFO, RX-data and line-status interrupt IDs. */
#include "diff.inc"

/* URDM reg, mask: read a COM1 register, keep the bits in mask, store */
.macro URDM reg, mask
	mov $(\reg) & 0xff, %dl
	in %dx, %al
	and $\mask, %al
	stosb
.endm

main:
	mov $COM1_BASE, %dx
	UOUT UART_FCR, 0x00
	/*
	 * Loopback ties DTR->DSR, RTS->CTS, OUT1->RI, OUT2->DCD. Only the
	 * levels (bits 7-4) are compared: QEMU sets no delta bits in loopback.
	 */
	UOUT UART_MCR, 0x11
	URDM UART_MSR, 0xf0
	UOUT UART_MCR, 0x12
	URDM UART_MSR, 0xf0
	UOUT UART_MCR, 0x14
	URDM UART_MSR, 0xf0
	UOUT UART_MCR, 0x18
	URDM UART_MSR, 0xf0

	/* one byte comes back: DR set, read it, DR clear */
	mov $0x41, %al
	call putc
	call wait_rx
	URD UART_THR			/* RBR */
	URD UART_LSR

	/* no FIFO: a second byte before the first is read overruns (OE) and replaces it */
	mov $0x42, %al
	call putc
	inc %ax
	call putc
	call wait_rx			/* DR, OE (cleared by the LSR read) */
	URD UART_LSR
	URD UART_THR

	/* line status interrupt on overrun (IIR 06), cleared by reading LSR */
	UOUT UART_IER, 0x04
	mov $0x44, %al
	call putc
	inc %ax
	call putc
	call wait_rx_iir
	URD UART_LSR
	URD UART_IIR
	URD UART_THR

	/*
	 * FIFO on (trigger level 1): RX data interrupt (IIR c4) until read.
	 * QEMU's FIFO times out (IIR cc) four character times after the byte
	 * came, on its clock: at 9600 baud 4 ms, which this guest overran on a
	 * busy host (seen in a CI run). At 0x0c00 (37.5 baud) it is a second;
	 * QEMU's loopback does not wait for the baud rate, so nothing slows.
	 */
	UOUT UART_LCR, 0x83		/* DLAB */
	UOUT UART_THR, 0x00		/* DLL */
	UOUT UART_IER, 0x0c		/* DLM */
	UOUT UART_LCR, 0x03
	UOUT UART_FCR, 0x07
	UOUT UART_IER, 0x01
	mov $0x46, %al
	call putc
	call wait_rx
	URD UART_IIR
	URD UART_THR
	URD UART_IIR
	UOUT UART_IER, 0x00

	/* 17 bytes into the 16-byte FIFO: OE, the first 16 are kept */
	mov $0, %al
1:	call putc
	inc %ax
	cmp $17, %al
	jne 1b
	call wait_rx
	xor %cx, %cx
2:	mov $UART_LSR & 0xff, %dl
	in %dx, %al
	test $0x01, %al
	jz 3f
	mov $UART_THR & 0xff, %dl
	in %dx, %al
	mov %al, %bl
	inc %cx
	jmp 2b
3:	mov %cl, %al			/* bytes read */
	stosb
	mov %bl, %al			/* the last of them */
	stosb

	UOUT UART_FCR, 0x00
	UOUT UART_MCR, 0x08		/* out of loopback, OUT2 as before */
	mov $labels, %si
	jmp finish

/*
 * wait_rx: poll LSR until the transmitter is empty and a byte is there,
 * store the OR of every LSR value read (reading LSR clears OE, so no poll
 * may lose it). Bounded: gives up after 65536 polls.
 */
wait_rx:
	xor %bx, %bx
	xor %cx, %cx
	mov $UART_LSR & 0xff, %dl
1:	in %dx, %al
	or %al, %bl
	and $0x41, %al
	cmp $0x41, %al
	loopne 1b
	mov %bl, %al
	stosb
	ret

/* wait_rx_iir: poll IIR (not LSR) until it shows the line status interrupt, store it */
wait_rx_iir:
	xor %cx, %cx
	mov $UART_IIR & 0xff, %dl
1:	in %dx, %al
	cmp $0x06, %al
	loopne 1b
	stosb
	ret

labels:					/* one per stored byte, in order */
	.asciz "dsr"			/* MSR levels with MCR = loop + DTR: DSR */
	.asciz "cts"			/* ... loop + RTS */
	.asciz "ri"			/* ... loop + OUT1 */
	.asciz "dcd"			/* ... loop + OUT2 */
	.asciz "lsr1"			/* one byte looped back */
	.asciz "rbr1"
	.asciz "lsr1b"			/* after reading it */
	.asciz "lsr2"			/* two bytes, no FIFO: overrun */
	.asciz "lsr2b"			/* OE gone after the LSR read */
	.asciz "rbr2"			/* the second byte */
	.asciz "iir3"			/* overrun with IER = line status */
	.asciz "lsr3"
	.asciz "iir3b"			/* after the LSR read */
	.asciz "rbr3"
	.asciz "lsr4"			/* FIFO on, IER = RX data */
	.asciz "iir4"
	.asciz "rbr4"
	.asciz "iir4b"			/* after reading the byte */
	.asciz "lsr5"			/* 17 bytes into the FIFO */
	.asciz "cnt5"			/* bytes read back */
	.asciz "last5"			/* the last of them */
	.byte 0
	SECTOR_END
