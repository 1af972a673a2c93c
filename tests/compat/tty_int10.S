/* tty_int10.S - prints with int 10h teletype (AH=0Eh), the way most boot sectors say hello, then waits for a key on COM1 and exits. */
/*
 * Under QEMU + SeaBIOS the text goes to the VGA screen; under kvmlite to
 * the guest's output, marked as screen output in --trace. A byte on COM1
 * (int 14h AH=2, which waits up to the BIOS's timeout) ends it through the
 * debug exit, so that a test can read the screen first.
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
	sti
	mov $hello, %si
	call puts
wait:
	mov $0x02, %ah			/* int 14h receive: waits, then AH bit 7 on timeout */
	xor %dx, %dx
	int $0x14
	test $0x80, %ah
	jnz wait
	mov $0x501, %dx
	mov $0x10, %al
	out %al, %dx
	cli
	hlt

puts:					/* DS:SI, NUL-terminated, through int 10h AH=0Eh */
	lodsb
	test %al, %al
	jz 2f
	mov $0x0e, %ah
	mov $0x0007, %bx		/* page 0, grey on black */
	int $0x10
	jmp puts
2:	ret

hello:
	.ascii "Hello from int 10h!\r\n"
	.asciz "Two lines, teletype.\r\n"

	.org 510
	.byte 0x55, 0xaa
