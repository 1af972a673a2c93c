/* diff_bios.S - differential test: what the firmware leaves for a boot sector (IF, ESI, BDA serial fields) and int 14h serial services. */
#include "diff.inc"

/* CF label: print CF of FLAGS as 00/01 (keeps AX) */
.macro CF label
	push %ax
	pushf
	pop %ax
	and $0x01, %al
	SHOW "\label"
	pop %ax
.endm

main:
	/* entry state: interrupts enabled, ESI = guest index 0 */
	mov %bp, %ax
	shr $9, %ax
	and $0x01, %al
	SHOW "if"
	test %esi, %esi
	setz %al
	SHOW "esi0"

	/* BDA: COM1 port, serial port count, COM1 int 14h timeout */
	mov BDA_COM1, %ax
	SHOW "com1lo"
	mov %ah, %al
	SHOW "com1hi"
	mov BDA_EQUIPMENT + 1, %al
	and $0x0e, %al			/* bits 9-11: serial ports */
	SHOW "eqser"
	mov BDA_COM1_TIMEOUT, %al
	SHOW "timeout"

	/* int 14h AH=0: 9600 baud, 8N1 -> AH = LSR, AL = MSR */
	mov $0x00e3, %ax
	xor %dx, %dx
	int $0x14
	CF "cf0"
	SHOW "msr0"
	mov %ah, %al
	SHOW "lsr0"

	/* AH=1 sends AL, AH = LSR from before the write */
	SAY "tx "
	mov $0x015a, %ax
	xor %dx, %dx
	int $0x14
	CF " cf1"
	mov %ah, %al
	SHOW "lsr1"

	/* AH=3 status, once the byte is out: AH = LSR, AL = MSR */
	mov $UART_LSR, %dx
1:	in %dx, %al
	test $0x40, %al
	jz 1b
	mov $0x0300, %ax
	xor %dx, %dx
	int $0x14
	CF "cf3"
	SHOW "msr3"
	mov %ah, %al
	SHOW "lsr3"

	/* a port that is not there: CF set, AX unchanged */
	mov $0x0300, %ax
	mov $1, %dx
	int $0x14
	CF "cfcom2"
	mov %ah, %al
	SHOW "ahcom2"

	/* an unknown function: CF set, AX unchanged */
	mov $0x0400, %ax
	xor %dx, %dx
	int $0x14
	CF "cf4"
	mov %ah, %al
	SHOW "ah4"

	jmp done
	SECTOR_END
