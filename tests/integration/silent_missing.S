/* silent_missing.S - calls a BIOS service kvmlite's firmware lacks (int 17h AH=01), writes nothing for 36 ticks (~2 s), then "late" and exits. */
/*
 * For the silent-guest and missing-service reports: with --boot-timeout 1
 * it is silent for a second or more (its 36 ticks of the BIOS clock take
 * at least 2 s of host time, however late the PIT interrupts come), and
 * the report names int 17h AH=01; then it writes and is booted after all.
 * Exits through the debug exit with 0x10 (status 33).
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
	mov $0x0100, %ax		/* printer: initialize port 0 */
	xor %dx, %dx
	int $0x17
	mov 0x46c, %bx
2:	hlt				/* the BIOS tick wakes it */
	mov 0x46c, %ax
	sub %bx, %ax
	cmp $36, %ax
	jb 2b
	mov $late, %si
3:	lodsb
	test %al, %al
	jz 4f
	mov $0x01, %ah			/* int 14h send */
	xor %dx, %dx
	int $0x14
	jmp 3b
4:	mov $0x501, %dx
	mov $0x10, %al
	out %al, %dx
	cli
	hlt

late:	.asciz "late\n"

	.org 510
	.byte 0x55, 0xaa
