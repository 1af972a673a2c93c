/* hostile_pit_oneshot.S - hostile guest: re-arms a one-shot PIT at count 1 forever, in its IRQ0 handler and its loop. */
/*
 * Mode 0 with a count of 1 would interrupt 838 ns after each load. The
 * PIT model delivers a one-shot no sooner than 200 us after it was
 * programmed, and never two interrupts closer than that, whatever the
 * guest reprograms: every load counts in `pit_clamped` (two per
 * interrupt here) and interrupts stay at 5,000 a second at most.
 */
#include "diff.inc"
#define PIT_CW_ONESHOT_LOHI 0x30	/* counter 0, LSB then MSB, mode 0, binary */
main:
	SAY "pit oneshot\n"
	movl $irq0, 4 * 8		/* IRQ0 = vector 8 (ICW2 below), 0000:irq0 */
	mov $init, %si
	mov $(init_end - init) / 2, %cx
1:	lodsw				/* AL = port (all below 0x100), AH = value */
	movzbw %al, %dx
	mov %ah, %al
	out %al, %dx
	loop 1b
2:	call arm			/* the loop re-arms (it also undoes the handler's arm) */
	sti
	hlt
	cli
	jmp 2b

irq0:
	push %ax
	call arm			/* the handler re-arms */
	mov $0x20, %al			/* OCW2: non-specific EOI */
	out %al, $PIC_MASTER_CMD
	pop %ax
	iret

/* arm: mode 0, count 1 (control word, LSB, MSB); clobbers AL */
arm:
	mov $PIT_CW_ONESHOT_LOHI, %al
	out %al, $PIT_BASE + 3
	mov $1, %al
	out %al, $PIT_BASE
	xor %al, %al
	out %al, $PIT_BASE
	ret

init:
	.byte PIC_MASTER_CMD, 0x11	/* ICW1: edge, cascade, ICW4 follows */
	.byte PIC_MASTER_DATA, 0x08	/* ICW2: vectors 0x08-0x0f */
	.byte PIC_MASTER_DATA, 0x04	/* ICW3: slave on IR2 */
	.byte PIC_MASTER_DATA, 0x01	/* ICW4: 8086 mode */
	.byte PIC_MASTER_DATA, 0xfe	/* OCW1: only IRQ0 */
init_end:
	SECTOR_END
