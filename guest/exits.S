/* exits.S - the exit-cost probe: EXIT_COUNT port reads with no device behind them, each one VM exit, then hlt. */
#include "pc.inc"

/*
 * The request experiment's KVM floor: bench/raw_baseline runs this to its
 * hlt (answering every read with all ones, the simplest possible device
 * model), so its "first run" time over EXIT_COUNT is what one I/O exit
 * costs on this host when nothing but KVM is involved. A request that
 * takes E exits cannot be served in less than E times that.
 * Only instructions KVM's emulator knows: kvm_pvm emulates real mode.
 */
#define EXIT_COUNT 10000	/* bench/experiments.sh divides by the same number */

	.text
	.globl _start
_start:
	BOOT_PROLOGUE
	mov $EXIT_COUNT, %cx
1:	in $PORT_POST, %al		/* a sink in kvmlite (reads all ones), as every port in the raw loop */
	dec %cx
	jnz 1b
	hlt				/* interrupts off: the raw loop's end, and kvmlite's */
2:	jmp 2b

	SECTOR_END
