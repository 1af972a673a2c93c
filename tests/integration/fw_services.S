/* fw_services.S - firmware services kvmlite serves on COM1 that QEMU cannot compare: int 10h, 16h, 14h receive, 11h-13h. */
#include "diff.inc"
main:
	sti
	mov $0x0e48, %ax	/* int 10h teletype 'H' */
	int $0x10
	mov $0x0e69, %ax
	int $0x10
	mov $0x0e0a, %ax
	int $0x10
	mov $0x4f00, %ax		/* VBE: not provided, CF set */
	clc
	int $0x10
	pushf
	pop %ax
	and $1,%al
	SHOW "cf10"
	/* int 16h AH=1 until a key, then AH=0 */
1:	mov $0x0100, %ax
	int $0x16
	jz 1b
	SHOW "peek"
	mov $0x0100, %ax
	int $0x16
	SHOW "peek2"
	mov $0x0000, %ax
	int $0x16
	SHOW "key"
	mov %ah,%al
	SHOW "keyah"
	mov $0x0000, %ax
	int $0x16
	SHOW "key2"
	/* int 14h receive */
	mov $0x0200, %ax
	xor %dx,%dx
	int $0x14
	SHOW "rx"
	mov %ah,%al
	SHOW "rxah"
	mov $0x0200, %ax
	xor %dx,%dx
	int $0x14
	SHOW "rx2"
	mov %ah,%al
	SHOW "rx2ah"
	int $0x11
	SHOW "int11"
	int $0x12
	SHOW "int12"
	mov $0x0200, %ax
	stc
	int $0x13
	pushf
	pop %ax
	and $1,%al
	SHOW "cf13"
	jmp done
	SECTOR_END
