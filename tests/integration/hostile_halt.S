/* hostile_halt.S - hostile guest: halts with interrupts off (`cli; hlt`), which nothing can ever end. */
/*
 * On a real PC only an NMI or a reset could wake it. kvmlite must see that
 * nothing can (no NMI source), end the guest as "ended" (not failed: it
 * is a clean end) with its reason, and release its VM at once instead of
 * keeping it halted forever.
 */
#include "diff.inc"
main:
	SAY "halt\n"
	cli
	hlt
	jmp main			/* not reached: an NMI would print again */
	SECTOR_END
