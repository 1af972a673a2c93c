/* hostile_mmio.S - hostile guest: reads and writes guest-physical memory it does not have (MMIO exits), forever. */
/*
 * The guest's RAM ends at 0xb8000 (layout.h); from 0xc0000 up to 1 MiB and
 * beyond nothing is mapped, so every access there exits as MMIO: writes are
 * dropped, reads give all ones, each is counted in `mmio`. Real mode
 * reaches 0xC0000 (option ROMs on a PC), 0xcfff0, a word that straddles
 * the end of RAM (half RAM, half the VGA text buffer; at offset 0xffff of a
 * segment it would be a #GP instead, as the word would pass the segment
 * limit), string moves between two MMIO areas, and 0xffff:0x0010 =
 * 0x100000 (past 1 MiB: no A20 gate here). The first byte read at 0xC0000
 * is printed ("c0000 ff"), so the test sees what a read gave.
 */
#include "diff.inc"
main:
	SAY "mmio\n"
	mov $0xc000, %ax
	mov %ax, %es
	mov %es:0, %al
	SHOW "c0000"
1:	mov $0xc000, %ax
	mov %ax, %es
	movb $0x5a, %es:0		/* a write: dropped */
	movl $0x12345678, %es:0x100
	mov %es:0x200, %eax		/* reads: all ones */
	mov $0xc000, %ax
	mov %ax, %fs
	movw $0xbeef, %fs:0xfff0	/* 0xcfff0, far beyond RAM */
	mov %fs:0xfff8, %ebx
	mov $0xb7ff, %ax		/* 0xb7ff:0x000f = 0xb7fff: a word there is */
	mov %ax, %fs			/* half RAM (0xb7fff), half VGA (0xb8000) */
	movw $0x1234, %fs:0x000f
	mov %fs:0x000f, %cx
	mov $0xffff, %ax
	mov %ax, %gs
	mov %gs:0x10, %edx		/* 0x100000 */
	push %ds			/* MMIO to MMIO: 0xd0000 -> 0xc0000, 16 bytes */
	mov $0xd000, %ax
	mov %ax, %ds
	xor %si, %si
	xor %di, %di
	mov $16, %cx
	rep movsb
	pop %ds
	xor %di, %di			/* and a string store into MMIO */
	mov $16, %cx
	rep stosb
	jmp 1b
	SECTOR_END
