/* fw_keyboard.S - int 16h AH=0 waits for a key that arrives on COM1, then int 14h and int 16h share the input. */
#include "diff.inc"
main:
	mov $0x0000, %ax
	int $0x16
	SHOW "key"
	mov $0x0200, %ax
	xor %dx,%dx
	int $0x14
	SHOW "rx"
	mov %ah,%al
	SHOW "rxah"
	mov $0x0100, %ax
	int $0x16
	SHOW "peek"
	jmp done
	SECTOR_END
