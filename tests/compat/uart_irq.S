/* uart_irq.S - receives through the 16550's interrupt (IRQ 4) on the PIC the BIOS set up; sleeps in hlt; answers each line with its length. */
/*
 * The interrupt-driven style: its own vector 0Ch (IRQ 4 at the BIOS's base
 * 08h), IRQ 4 unmasked in the master PIC's mask, the UART's receive
 * interrupt on, OUT2 up (the PC's gate to the PIC), FIFOs on with a
 * trigger of 1 byte. The handler moves bytes into a ring; the main loop
 * sleeps in `sti; hlt` and answers each line with "N: line" (N bytes);
 * the line "q" ends it.
 */
#include "compat.inc"
#define COM1 0x3f8
#define RING 0x0600			/* 256 bytes */
main:
	cli
	movw $irq4, 0x0c * 4
	movw $0, 0x0c * 4 + 2
	movb $0, head
	movb $0, tail
	mov $COM1 + 2, %dx		/* FIFOs on, trigger 1 */
	mov $0x07, %al
	out %al, %dx
	mov $COM1 + 4, %dx		/* DTR, RTS, OUT2 */
	mov $0x0b, %al
	out %al, %dx
	mov $COM1 + 1, %dx		/* IER: received data */
	mov $0x01, %al
	out %al, %dx
	in $0x21, %al			/* unmask IRQ 4 */
	and $~0x10, %al
	out %al, $0x21
	sti
	SAY "irq uart\n"
line:
	mov $buf, %di
1:	call getc
	cmp $'\n', %al
	je 2f
	stosb
	jmp 1b
2:	mov %di, %ax
	sub $buf, %ax
	cmp $1, %ax
	jne 3f
	cmpb $'q', buf
	je exit
3:	call ser_hex8			/* the length (< 256), then the line */
	SAY ": "
	mov $buf, %si
4:	cmp %di, %si
	je 5f
	lodsb
	call ser_putc
	jmp 4b
5:	mov $'\n', %al
	call ser_putc
	jmp line

getc:					/* the next byte from the ring, sleeping until there is one */
	cli
	movzbw tail, %bx
	cmp head, %bl
	jne 1f
	sti
	hlt
	jmp getc
1:	sti
	mov RING(%bx), %al
	incb tail
	ret

irq4:					/* drain the receiver into the ring */
	push %ax
	push %bx
	push %dx
1:	mov $COM1 + 5, %dx
	in %dx, %al
	test $0x01, %al
	jz 2f
	mov $COM1, %dx
	in %dx, %al
	movzbw head, %bx
	mov %al, RING(%bx)
	incb head
	jmp 1b
2:	mov $0x20, %al			/* EOI */
	out %al, $0x20
	pop %dx
	pop %bx
	pop %ax
	iret

head:	.byte 0
tail:	.byte 0
buf:
	SECTOR_END
