/* silent_int10.S - with --firmware none, calls int 10h into an empty IVT and runs through zeroed memory back to itself, for ever: a silent guest. */
/*
 * Issue 13's hang: a boot sector that prints with the BIOS, run without
 * one. Its int 10h jumps to 0000:0000, where the empty vector table (zero
 * bytes: `add [bx+si], al`) and zeroed memory lead back to 0x7c00, and
 * the sector calls again. DS and SS point far away, so that neither the
 * adds nor the interrupt frames touch the code: the loop is the same each
 * time, and nothing is ever written. kvmlite must report it silent, saying
 * it executes after int 10h with an empty IVT.
 */
	.code16
	.text
	.globl _start
_start:
	ljmp $0, $1f
1:	cli
	mov $0x5000, %ax		/* where the zeros' adds land */
	mov %ax, %ds
	mov $0x6000, %ax		/* interrupt frames, away from the code */
	mov %ax, %ss
	mov $0xfffe, %sp
	xor %bx, %bx
	xor %si, %si
	mov $0x0e48, %ax		/* teletype 'H' */
	int $0x10
	jmp .				/* not reached */

	.org 510
	.byte 0x55, 0xaa
