/* late.S - a guest that writes its first byte late: after 60 PIT periods (about 3.3 s), then ends. */
/*
 * For the spawn's accounting: beside guests that boot and fail at once,
 * the spawn must still wait for this one before it counts every guest as
 * settled (tests/integration/tool.sh). The wait is the PIT's, so it is at
 * least 3.3 s of wall time however slow the host (missed periods merge
 * into one interrupt, which only makes it longer).
 */
#include "diff.inc"
#define PERIODS 60
#define TICKS 0x0500			/* the interrupt count, in the free RAM below RESULTS */
#define PIT_CW_RATE_LOHI 0x34		/* counter 0, LSB then MSB, mode 2, binary */
main:
	movw $0, TICKS
	movw $irq0, 4 * 8		/* IRQ0 = vector 8 (ICW2 below) */
	movw $0, 4 * 8 + 2		/* segment 0 (a firmware may have set another) */
	mov $init, %si
	mov $(init_end - init) / 2, %cx
1:	lodsw				/* AL = port (all below 0x100), AH = value */
	movzbw %al, %dx
	mov %ah, %al
	out %al, %dx
	loop 1b
2:	sti
	hlt				/* until the next PIT interrupt */
	cli
	cmpw $PERIODS, TICKS
	jb 2b
	SAY "late\n"
	mov $0xff, %al			/* mask everything: nothing can wake it, it ends */
	out %al, $PIC_MASTER_DATA
	hlt
	jmp 2b				/* not reached */

irq0:
	incw TICKS
	push %ax
	mov $0x20, %al			/* OCW2: non-specific EOI */
	out %al, $PIC_MASTER_CMD
	pop %ax
	iret

init:
	.byte PIC_MASTER_CMD, 0x11	/* ICW1: edge, cascade, ICW4 follows */
	.byte PIC_MASTER_DATA, 0x08	/* ICW2: vectors 0x08-0x0f */
	.byte PIC_MASTER_DATA, 0x04	/* ICW3: slave on IR2 */
	.byte PIC_MASTER_DATA, 0x01	/* ICW4: 8086 mode */
	.byte PIC_MASTER_DATA, 0xfe	/* OCW1: only IRQ0 */
	.byte PIT_BASE + 3, PIT_CW_RATE_LOHI
	.byte PIT_BASE, 0		/* count 0 = 65536: 54.9 ms */
	.byte PIT_BASE, 0
init_end:
	SECTOR_END
