/* diff_pic.S - differential test: 8259A masks as the firmware leaves them, IMR round trip, IRR/ISR reads through OCW3, specific and non-specific EOI, poll command. */
#include "diff.inc"

/* OCW3 on the master: 0x0a selects IRR for reads of port 0x20, 0x0b ISR, 0x0c polls */
.macro MASTER_READ ocw3
	mov $\ocw3, %al
	out %al, $PIC_MASTER_CMD
	in $PIC_MASTER_CMD, %al
.endm
/* OCW2 on the master */
.macro MASTER_CMD val
	mov $\val, %al
	out %al, $PIC_MASTER_CMD
.endm

main:
	/* masks as the firmware left them (SeaBIOS: 0xb8 / 0x8e) */
	in $PIC_MASTER_DATA, %al
	stosb
	in $PIC_SLAVE_DATA, %al
	stosb
	/* IMR keeps any value */
	mov $0x5a, %al
	out %al, $PIC_MASTER_DATA
	in $PIC_MASTER_DATA, %al
	stosb
	mov $0xa5, %al
	out %al, $PIC_SLAVE_DATA
	in $PIC_SLAVE_DATA, %al
	stosb
	mov $0xff, %al
	out %al, $PIC_SLAVE_DATA

	movw $isr0, PIC_MASTER_VECTOR * 4
	movw $0, PIC_MASTER_VECTOR * 4 + 2
	/* stop the 18.2 Hz tick, re-initialise the master (clears IRR), all masked */
	PITCW 0x30
	PIT0 0xff, 0xff
	MASTER_CMD 0x11
	mov $PIC_MASTER_VECTOR, %al
	out %al, $PIC_MASTER_DATA
	mov $0x04, %al
	out %al, $PIC_MASTER_DATA
	mov $0x01, %al
	out %al, $PIC_MASTER_DATA
	mov $0xff, %al
	out %al, $PIC_MASTER_DATA

	/* a masked IRQ 0 waits in IRR, not in ISR */
	MASTER_READ 0x0a
	and $0x01, %al
	stosb
	call shot
	MASTER_READ 0x0a
	and $0x01, %al
	stosb
	MASTER_READ 0x0b
	stosb

	/* unmasked, it is delivered: ISR set, IRR clear, until an EOI */
	mov $0xfe, %al
	out %al, $PIC_MASTER_DATA
	sti
	hlt				/* isr0 returns without EOI */
	cli
	MASTER_READ 0x0b
	stosb
	MASTER_READ 0x0a
	and $0x01, %al
	stosb
	MASTER_CMD 0x61			/* specific EOI for IRQ 1: not IRQ 0's */
	MASTER_READ 0x0b
	stosb
	MASTER_CMD 0x60			/* specific EOI for IRQ 0 */
	MASTER_READ 0x0b
	stosb

	/* again, ended by a non-specific EOI */
	call shot
	sti
	hlt
	cli
	MASTER_READ 0x0b
	stosb
	MASTER_CMD 0x20
	MASTER_READ 0x0b
	stosb

	/*
	 * poll command with IRQ 0 pending (interrupts off): 0x80 | level.
	 * (Not compared: ISR after the poll. The 8259A sets the ISR bit as for
	 * an INTA; KVM's in-kernel PIC clears it.)
	 */
	call shot
	MASTER_READ 0x0c
	stosb
	MASTER_CMD 0x20

	mov $labels, %si
	jmp finish

/*
 * shot: one IRQ 0 edge (counter 0 mode 0, count 0x0100), and wait until it
 * shows in IRR: KVM's PIT (QEMU's) raises it from a host timer, a little
 * after OUT goes high. It also injects one only once the previous one was
 * acknowledged or IRQ 0 was unmasked since: so unmask it for a moment
 * (interrupts are off) and put the mask back.
 */
shot:
	in $PIC_MASTER_DATA, %al
	mov %al, %ah
	mov $0xff, %al
	out %al, $PIC_MASTER_DATA
	mov $0xfe, %al
	out %al, $PIC_MASTER_DATA
	mov %ah, %al
	out %al, $PIC_MASTER_DATA
	PITCW 0x30
	PIT0 0x00, 0x01
	xor %cx, %cx
1:	MASTER_READ 0x0a
	test $0x01, %al
	loopz 1b
	ret

isr0:
	iret

labels:					/* one per stored byte, in order */
	.asciz "imr1"			/* masks after boot */
	.asciz "imr2"
	.asciz "imr1w"			/* after writing 0x5a */
	.asciz "imr2w"			/* after writing 0xa5 */
	.asciz "irr"			/* IRR & 1 after re-init */
	.asciz "irrm"			/* IRR & 1 with a masked IRQ 0 */
	.asciz "isrm"			/* ISR then */
	.asciz "isr"			/* delivered, no EOI yet */
	.asciz "irrt"			/* IRR & 1 once delivered */
	.asciz "seoi1"			/* ISR after specific EOI for IRQ 1 */
	.asciz "seoi0"			/* ISR after specific EOI for IRQ 0 */
	.asciz "isr2"			/* delivered again */
	.asciz "eoi"			/* ISR after non-specific EOI */
	.asciz "poll"			/* poll command, IRQ 0 pending */
	.byte 0
	SECTOR_END
