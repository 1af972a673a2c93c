/* uart_poll.S - talks to the 16550 directly, polled, no interrupts: sets the line up itself, reads lines and answers each reversed. */
/*
 * The way a small monitor program does it: divisor, 8N1, FIFOs on, then
 * poll LSR for data (bit 0) and for room (bit 5). Each line comes back
 * reversed after "< "; the line "q" ends it.
 */
#include "compat.inc"
#define COM1 0x3f8
main:
	mov $COM1 + 3, %dx		/* LCR: DLAB */
	mov $0x80, %al
	out %al, %dx
	mov $COM1, %dx			/* divisor 1: 115200 baud */
	mov $1, %al
	out %al, %dx
	inc %dx
	xor %al, %al
	out %al, %dx
	mov $COM1 + 3, %dx		/* 8N1 */
	mov $0x03, %al
	out %al, %dx
	mov $COM1 + 2, %dx		/* FIFOs on, cleared */
	mov $0x07, %al
	out %al, %dx
	mov $COM1 + 4, %dx		/* DTR, RTS */
	mov $0x03, %al
	out %al, %dx
	mov $banner, %si
	call puts
line:
	mov $buf, %di
1:	call getc
	cmp $'\n', %al
	je 2f
	stosb
	jmp 1b
2:	cmpb $'q', buf			/* "q" and nothing else */
	jne 3f
	cmp $buf + 1, %di
	je exit
3:	mov $'<', %al
	call putc
	mov $' ', %al
	call putc
4:	cmp $buf, %di			/* the line backwards */
	je 5f
	dec %di
	mov (%di), %al
	call putc
	jmp 4b
5:	mov $'\n', %al
	call putc
	jmp line

getc:					/* wait for a byte: LSR bit 0 */
	mov $COM1 + 5, %dx
1:	in %dx, %al
	test $0x01, %al
	jz 1b
	mov $COM1, %dx
	in %dx, %al
	ret
putc:					/* wait for room: LSR bit 5 */
	push %ax
	mov $COM1 + 5, %dx
1:	in %dx, %al
	test $0x20, %al
	jz 1b
	pop %ax
	mov $COM1, %dx
	out %al, %dx
	ret
puts:
	lodsb
	test %al, %al
	jz 1f
	call putc
	jmp puts
1:	ret

banner:	.asciz "polled uart\n"
buf:
	SECTOR_END
