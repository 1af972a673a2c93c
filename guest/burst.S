/* burst.S - CPU-profile guest: forever print ".", spin a while, then sleep ~10 ms on a one-shot PIT. */
#include "pc.inc"

#define BURST_LOOPS 200000		/* busy-loop iterations per cycle */
#define SLEEP_COUNT ((PIT_HZ + 50) / 100) /* 11932 PIT clocks = 10.0 ms */

	.struct 0x7e00
woken:	.skip 1				/* set by the IRQ0 handler */

	.text
	.globl _start
_start:
	BOOT_PROLOGUE
	SET_VECTOR IRQ_PIT, irq_pit
	RUN_OUT_TABLE devices, devices_end

cycle:					/* interrupts are off here */
	mov $UART_LSR, %dx		/* one "." per cycle: first byte = booted */
1:	in (%dx), %al
	test $LSR_THRE, %al
	jz 1b
	mov $'.', %al
	mov $UART_LO(UART_THR), %dl
	out %al, (%dx)

	mov $BURST_LOOPS, %ecx		/* the burst: pure CPU, no exits */
2:	dec %ecx
	jnz 2b

	movb $0, woken			/* the sleep: arm the one-shot... */
	RUN_OUT_TABLE sleep, sleep_end
3:	sti				/* ...and wait for its IRQ0 */
	hlt
	cli
	cmpb $0, woken
	je 3b
	jmp cycle

/* IRQ0: the one-shot PIT expired */
irq_pit:
	movb $1, woken
	push %ax
	mov $OCW2_EOI, %al
	out %al, $PIC_MASTER_CMD
	pop %ax
	iret

devices:
	PIC_INIT_TABLE (MASK_ALL & ~IRQ_BIT(IRQ_PIT))
	UART_INIT_TABLE 0
	PIT_STOP_TABLE			/* the BIOS's periodic tick off, nothing armed */
devices_end:

sleep:					/* re-arming mode 0 restarts the count */
	PIT_INIT_TABLE PIT_MODE_ONESHOT, SLEEP_COUNT
sleep_end:

	SECTOR_END
