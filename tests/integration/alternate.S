/* alternate.S - guest for limits.sh: says "ready", then even ids sleep forever and odd ids halt for good. */
/*
 * States that alternate by index are the worst case of a `list STATE`
 * answer (one range per guest: "1,3,5,..."), and a hostile image can
 * choose them (issue 12). An even id sleeps in `sti; hlt` with no
 * interrupt source enabled: it stays live (halted, or parked) and never
 * reads its input, so a `req` to it waits for the 5 s timeout. An odd id
 * halts with interrupts off, which ends it.
 */
#include "diff.inc"
main:
	SAY "ready\n"
	test $1, %si			/* ESI: the guest's index */
	jnz 2f
1:	sti
	hlt
	jmp 1b
2:	cli
	hlt
	jmp 2b
	SECTOR_END
