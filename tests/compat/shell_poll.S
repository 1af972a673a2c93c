/* shell_poll.S - an int 14h shell that polls AH=3 until data is ready, sleeping ten BIOS ticks between polls, then reads with AH=2. */
/*
 * The guest of issue 13 that deadlocked under kvmlite: it asks the BIOS for
 * a byte (AH=2) only once the line status (AH=3) says one is there, so input
 * held back until the guest asks for it never comes. It prints "$>", answers
 * each byte with the byte plus one and "!", a newline with a newline and a
 * new prompt; 'q' ends it through the debug exit (QEMU's isa-debug-exit and
 * kvmlite's port 0x501). Input "a\n" then "z\n" gives "$>b!\n$>{!\n$>".
 */
	.code16
	.text
	.globl _start
_start:
	ljmp $0, $1f
1:	xor %ax, %ax
	mov %ax, %ds
	mov %ax, %ss
	mov $0x7c00, %sp
	sti				/* the BIOS tick wakes the hlt below */
prompt:
	mov $'$', %al
	call putc
	mov $'>', %al
	call putc
poll:
	mov $0x03, %ah			/* line status: AH = LSR */
	xor %dx, %dx			/* COM1 */
	int $0x14
	test $0x01, %ah			/* data ready */
	jnz read
	mov 0x46c, %bx			/* sleep ten ticks of the BIOS clock */
1:	hlt
	mov 0x46c, %ax
	sub %bx, %ax
	cmp $10, %ax
	jb 1b
	jmp poll
read:
	mov $0x02, %ah			/* receive: AL = the byte */
	xor %dx, %dx
	int $0x14
	cmp $'q', %al
	je quit
	cmp $'\n', %al
	je newline
	inc %al
	call putc
	mov $'!', %al
	call putc
	jmp poll
newline:
	call putc
	jmp prompt
quit:
	mov $0x501, %dx
	mov $0x10, %al
	out %al, %dx
	cli
	hlt

putc:					/* AL out through int 14h AH=1 */
	mov $0x01, %ah
	xor %dx, %dx
	int $0x14
	ret

	.org 510
	.byte 0x55, 0xaa
