/* ticks_sleep.S - sleeps counted in BIOS ticks (the BDA's 0x46c, 18.2 a second): three naps of 5 ticks in hlt, each reported. */
#include "compat.inc"
main:
	SAY "sleeping\n"
	mov $3, %cx
1:	mov 0x46c, %bx
2:	hlt				/* the BIOS's tick wakes it */
	mov 0x46c, %ax
	sub %bx, %ax
	cmp $5, %ax
	jb 2b
	SAY "5 ticks\n"
	loop 1b
	SAY "awake\n"
	jmp exit
	SECTOR_END
