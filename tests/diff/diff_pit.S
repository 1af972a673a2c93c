/* diff_pit.S - differential test: 8254 counter 0 as the firmware leaves it, read-back status, counter latch, LSB-only and MSB-only access, counter 2 OUT on port 0x61. */
#define DIFF_PIT
#include "diff.inc"

/* STORE_IF cc: store 1 if condition cc holds (after a cmp), else 0 */
.macro STORE_IF cc
	set\cc %al
	stosb
.endm

main:
	/* the firmware's tick: mode 2, LSB then MSB, binary (OUT masked:
	 * QEMU's mode 2 OUT is low between pulses, the 8254's is high) */
	call pit0_status
	and $0x3f, %al
	stosb

	/* mode 0 (interrupt on terminal count), count 0xffff */
	PITCW 0x30
	PIT0 0xff, 0xff
	call pit0_status		/* OUT low until terminal count */
	stosb
	call pit0_count
	mov %ax, %bx
	cmp $0xc000, %ax		/* counting down from 0xffff, only just started */
	STORE_IF a
	call pit0_count			/* a second latch reads a lower count */
	cmp %bx, %ax
	mov %ax, %bx
	STORE_IF b

	/* read-back latching status and count together: status comes first */
	PITCW 0xc2
	in $PIT_BASE, %al
	stosb
	in $PIT_BASE, %al
	mov %al, %ah
	in $PIT_BASE, %al
	xchg %al, %ah
	cmp %bx, %ax
	STORE_IF b

	/* LSB then MSB: a count is loaded only once both bytes are written */
	PITCW 0x30
	mov $0x00, %al
	out %al, $PIT_BASE
	mov $0xf0, %al
	out %al, $PIT_BASE		/* 0xf000 */
	call pit0_count
	cmp $0xf000, %ax
	STORE_IF be
	cmp $0x8000, %ax		/* (27 ms of slack for a busy host) */
	STORE_IF a

	/* LSB only (RW = 01): count 0x0080 reaches terminal count, OUT goes high */
	PITCW 0x10
	call pit0_status
	and $0x3f, %al
	stosb
	mov $0x80, %al
	out %al, $PIT_BASE
	call pit0_wait_out
	stosb

	/* MSB only (RW = 10): count 0xff00, a read returns the MSB */
	PITCW 0x20
	mov $0xff, %al
	out %al, $PIT_BASE
	call pit0_status
	stosb
	in $PIT_BASE, %al
	cmp $0x80, %al
	STORE_IF ae

	/* counter 2, gated by port 0x61 bit 0, its OUT read at port 0x61 bit 5 */
	in $PORT_SYSCTL_B, %al
	and $0xfc, %al			/* speaker data off */
	or $0x01, %al			/* gate on */
	out %al, $PORT_SYSCTL_B
	PITCW 0xb0			/* counter 2, LSB+MSB, mode 0 */
	mov $0x00, %al
	out %al, $PIT_BASE + 2
	mov $0x80, %al
	out %al, $PIT_BASE + 2		/* 0x8000: about 27 ms */
	in $PORT_SYSCTL_B, %al
	and $0x23, %al			/* OUT low right after loading */
	stosb
	xor %cx, %cx
1:	in $PORT_SYSCTL_B, %al
	test $0x20, %al
	loopz 1b
	and $0x23, %al			/* and high at terminal count */
	stosb
	and $0xfc, %al
	out %al, $PORT_SYSCTL_B		/* gate off again */

	mov $labels, %si
	jmp finish

labels:					/* one per stored byte, in order */
	.asciz "boot"			/* counter 0 status & 0x3f after boot */
	.asciz "m0"			/* status after mode 0 + count */
	.asciz "fresh"			/* first latched count > 0xc000 */
	.asciz "dec"			/* second latched count lower */
	.asciz "rb"			/* read-back status with the count */
	.asciz "rbdec"			/* and the count lower still */
	.asciz "lohi"			/* count <= 0xf000 after LSB, MSB */
	.asciz "lohi2"			/* ... and > 0x8000 */
	.asciz "lsb"			/* status & 0x3f, LSB-only mode 0 */
	.asciz "lsbtc"			/* status once OUT went high */
	.asciz "msb"			/* status, MSB-only mode 0 */
	.asciz "msbrd"			/* MSB read >= 0x80 */
	.asciz "p61"			/* port 0x61 & 0x23 after loading counter 2 */
	.asciz "p61tc"			/* ... at its terminal count */
	.byte 0
	SECTOR_END
