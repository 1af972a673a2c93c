/* hostile_pit_rate.S - hostile guest: PIT counter 0 periodic at its shortest period (mode 2, count 1), IRQ0 on. */
/*
 * A count of 1 asks for an interrupt every 838 ns: 1.19 million a second.
 * The PIT model rate-limits counter 0 to one interrupt per 200 us (as
 * KVM's min_timer_period_us): the guest costs at most 5,000 interrupts a
 * second, and `pit_clamped` counts the clamped load. The IRQ0 handler
 * EOIs each one, so the next can come; between them the guest sleeps.
 */
#include "diff.inc"
#define PIT_CW_RATE_LOHI 0x34		/* counter 0, LSB then MSB, mode 2, binary */
main:
	SAY "pit rate\n"
	movl $irq0, 4 * 8		/* IRQ0 = vector 8 (ICW2 below), 0000:irq0 */
	mov $init, %si
	mov $(init_end - init) / 2, %cx
1:	lodsw				/* AL = port (all below 0x100), AH = value */
	movzbw %al, %dx
	mov %ah, %al
	out %al, %dx
	loop 1b
2:	sti
	hlt
	jmp 2b

irq0:
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
	.byte PIT_BASE, 1		/* count 1: LSB... */
	.byte PIT_BASE, 0		/* ...MSB: counting starts */
init_end:
	SECTOR_END
