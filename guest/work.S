/* work.S - the fairness experiment's CPU job: counts to a fixed number, reports its elapsed TSC cycles, halts for good. */
#include "pc.inc"

/*
 * Every copy does exactly the same work (WORK_COUNT trips of a two-instruction
 * loop, no exits), so K copies started at once on C CPUs should each take
 * about K / C times as long as one alone, if the VMM shares the CPUs fairly.
 * The guest times itself with rdtsc (the TSC runs at a constant rate; on
 * kvm_pvm the guest TSC is the host's), and prints one line, its first
 * output, so `kvmlite spawn --for 0` stops once every copy has finished:
 *   work CYCLES\n      (decimal, 64-bit: the cycles from before the loop to after it)
 * then halts with interrupts off (the guest ends).
 * Only instructions KVM's emulator knows: kvm_pvm emulates real mode.
 */
#define WORK_COUNT 1000000	/* ~0.5 s alone on kvm_pvm; well under 1 ms on VT-x */

	.struct 0x7e00
t0:	.skip 8			/* TSC before the loop */
val:	.skip 8			/* elapsed cycles, consumed by the division */
digits:	.skip 20		/* 2^64 has 20 decimal digits */
digits_end:
	.skip 1			/* the "\n" */

	.text
	.globl _start
_start:
	BOOT_PROLOGUE
	RUN_OUT_TABLE devices, devices_end
	rdtsc
	mov %eax, t0
	mov %edx, t0 + 4
	mov $WORK_COUNT, %ecx
1:	dec %ecx
	jnz 1b
	rdtsc
	sub t0, %eax
	sbb t0 + 4, %edx
	mov %eax, val
	mov %edx, val + 4

	/* val -> decimal, last digit first: 64-bit by 32-bit long division, twice per digit */
	mov $digits_end, %di
	movb $NL, (%di)
	mov $10, %ebx
2:	xor %edx, %edx
	mov val + 4, %eax
	div %ebx			/* high half: quotient, and the remainder carried down */
	mov %eax, val + 4
	mov val, %eax
	div %ebx			/* (remainder:low) / 10 */
	mov %eax, val
	add $'0', %dl
	dec %di
	mov %dl, (%di)
	or val + 4, %eax
	jnz 2b

	mov $s_work, %si
	call putstr
	mov %di, %si
	mov $(digits_end + 1), %cx
	sub %di, %cx
	call uart_write
	cli
3:	hlt				/* interrupts off: kvmlite ends the guest here */
	jmp 3b

	UART_WRITE_FUNCS

devices:
	PIC_INIT_TABLE MASK_ALL		/* no interrupts */
	UART_INIT_TABLE 0
	PIT_STOP_TABLE			/* the firmware's (or SeaBIOS's) 18.2 Hz tick off */
devices_end:

s_work:
	PSTR "work "

	SECTOR_END
