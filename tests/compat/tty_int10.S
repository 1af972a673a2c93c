/* tty_int10.S - prints with int 10h teletype (AH=0Eh), the way most boot sectors say hello; then where the cursor is, and "done", on COM1. */
/*
 * Under QEMU + SeaBIOS the text goes to the VGA screen (tests/compat/run.sh
 * reads it with the monitor); under kvmlite to the guest's output, marked
 * as screen output in --trace. Then, through int 14h: the cursor's column
 * (int 10h AH=03h; not its row: SeaBIOS's own lines are above it under
 * QEMU) and "done". A byte on COM1 ends it through the debug exit.
 */
#include "compat.inc"
main:
	mov $hello, %si
	call puts
	mov $0x03, %ah			/* the cursor: DH row, DL column */
	xor %bh, %bh
	int $0x10
	SAY "column "
	mov %dl, %al
	call ser_hex8
	SAY "\ndone\n"
1:	mov $0x02, %ah			/* int 14h receive: waits, bit 7 of AH on timeout */
	xor %dx, %dx
	int $0x14
	test $0x80, %ah
	jnz 1b
	jmp exit

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
	.ascii "Two lines, teletype.\r\n"
	.asciz "And a bell\a, a tab\tand no newline"
	SECTOR_END
