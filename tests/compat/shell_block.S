/* shell_block.S - an int 14h shell that blocks in AH=2 (receive), going round again when it times out; echoes each byte upper-cased. */
/*
 * Prompt "> "; each byte comes back upper-cased, a newline as a newline and
 * a new prompt; 'q' ends it. The BIOS's receive waits up to its timeout
 * (10 ticks) and says so with bit 7 of AH: the guest just asks again.
 */
#include "compat.inc"
main:
prompt:
	SAY "> "
next:
	mov $0x02, %ah
	xor %dx, %dx
	int $0x14
	test $0x80, %ah			/* timed out: nothing came */
	jnz next
	cmp $'q', %al
	je exit
	cmp $'a', %al
	jb 1f
	cmp $'z', %al
	ja 1f
	sub $'a' - 'A', %al
1:	call ser_putc
	cmp $'\n', %al
	je prompt
	jmp next
	SECTOR_END
