/* time_1ah.S - the BIOS clock through int 1Ah: sets it (AH=01), reads it back (AH=00), waits a second by it, and over midnight. */
#include "compat.inc"
main:
	mov $0x01, %ah			/* set: 0001:2345 ticks */
	mov $0x0001, %cx
	mov $0x2345, %dx
	int $0x1a
	mov $0x00, %ah			/* and read it back */
	int $0x1a
	mov %al, %bl			/* the midnight flag */
	sub $0x2345, %dx		/* a tick or two may have passed */
	cmp $3, %dx
	setb %bh
	SAY "cx "
	mov %cx, %ax
	call ser_hex16
	SAY " dx near "
	mov %bh, %al
	call ser_hex8
	SAY " midnight "
	mov %bl, %al
	call ser_hex8
	mov $'\n', %al
	call ser_putc
	mov $0x00, %ah			/* wait 18 ticks (a second) by int 1Ah */
	int $0x1a
	mov %dx, %bx
1:	hlt
	mov $0x00, %ah
	int $0x1a
	mov %dx, %ax
	sub %bx, %ax
	cmp $18, %ax
	jb 1b
	SAY "a second\n"
	mov $0x01, %ah			/* two ticks before midnight */
	mov $0x0018, %cx
	mov $0x00ae, %dx
	int $0x1a
2:	hlt
	mov $0x00, %ah
	int $0x1a
	test %al, %al			/* the midnight flag, cleared by this read */
	jz 2b
	mov %cx, %bx			/* the high word: 0 again */
	mov $0x00, %ah
	int $0x1a
	mov %al, %cl			/* the flag, read once: 0 now */
	SAY "past midnight "
	mov %bx, %ax
	call ser_hex16
	SAY " flag "
	mov %cl, %al
	call ser_hex8
	mov $'\n', %al
	call ser_putc
	jmp exit
	SECTOR_END
