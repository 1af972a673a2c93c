/* diff_pit_irq.S - differential test: IRQ 0 from the 8254: one-shot mode 0 fires once, mode 2 and mode 3 keep firing, counts stay in range. */
#define DIFF_PIT
#include "diff.inc"

#define IRQS 0x0500			/* byte: IRQ 0 count, kept by `tick` */

main:
	movw $tick, PIC_MASTER_VECTOR * 4
	movw $0, PIC_MASTER_VECTOR * 4 + 2
	/* stop the firmware's 18.2 Hz tick (one-shot, 55 ms away) ... */
	PITCW 0x30
	PIT0 0xff, 0xff
	/* ... and re-initialise the master PIC: that forgets any IRQ 0 already
	 * latched in IRR. Only IRQ 0 unmasked, so only it ends a hlt. */
	mov $0x11, %al
	out %al, $PIC_MASTER_CMD
	mov $PIC_MASTER_VECTOR, %al
	out %al, $PIC_MASTER_DATA
	mov $0x04, %al
	out %al, $PIC_MASTER_DATA
	mov $0x01, %al
	out %al, $PIC_MASTER_DATA
	mov $0xfe, %al
	out %al, $PIC_MASTER_DATA

	/* mode 0, count 0x8000 (27 ms): OUT low, one IRQ at terminal count */
	PITCW 0x30
	PIT0 0x00, 0x80
	call pit0_status
	stosb
	movb $0, IRQS
	sti
	hlt
	cli
	mov IRQS, %al
	stosb
	call pit0_status		/* OUT high after terminal count */
	stosb
	/* the count wraps to 0xffff and goes on down, but no second IRQ:
	 * wait (interrupts on) until it wraps once more, about 55 ms */
	sti
	call pit0_count
1:	mov %ax, %bx
	call pit0_count
	cmp %bx, %ax
	jbe 1b
	cli
	mov IRQS, %al
	stosb

	/* mode 2 (rate generator), count 0x1000 (3.4 ms): IRQs keep coming */
	PITCW 0x34
	PIT0 0x00, 0x10
	call pit0_status
	and $0x3f, %al
	stosb
	call periodic

	/* mode 3 (square wave), count 0x1000 */
	PITCW 0x36
	PIT0 0x00, 0x10
	call pit0_status
	and $0x3f, %al
	stosb
	call periodic

	PITCW 0x30			/* quiet before printing */
	PIT0 0xff, 0xff
	mov $labels, %si
	jmp finish

/*
 * periodic: wait for 5 IRQs (store the count: a missing one would hang
 * here, and the run time out), then store whether 16 latched counts all
 * lay in 1..0x1000.
 */
periodic:
	movb $0, IRQS
	mov $5, %cx
1:	sti
	hlt
	cli
	loop 1b
	mov IRQS, %al
	stosb
	mov $16, %cx
	mov $1, %dl
2:	call pit0_count
	dec %ax				/* 1..0x1000 -> 0..0x0fff */
	cmp $0x1000, %ax
	jb 3f
	mov $0, %dl
3:	loop 2b
	mov %dl, %al
	stosb
	ret

/* IRQ 0: count it, end it */
tick:
	incb %cs:IRQS
	push %ax
	mov $0x20, %al
	out %al, $PIC_MASTER_CMD
	pop %ax
	iret

labels:					/* one per stored byte, in order */
	.asciz "m0"			/* mode 0 status before terminal count */
	.asciz "m0irqs"			/* IRQs after the first hlt */
	.asciz "m0tc"			/* status after terminal count */
	.asciz "m0more"			/* IRQs after the count wrapped again */
	.asciz "m2"			/* mode 2 status & 0x3f */
	.asciz "m2irqs"
	.asciz "m2range"
	.asciz "m3"			/* mode 3 status & 0x3f */
	.asciz "m3irqs"
	.asciz "m3range"
	.byte 0
	SECTOR_END
