/* diff_bios_time.S - differential test: the timer tick in the BDA, int 1Ah time of day and midnight flag, int 16h status calls, unknown int 1Ah function. */
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
	/* the tick count advances while the sector waits in hlt (by one per
	 * change: SeaBIOS starts it from the RTC, so only deltas are printed) */
	call next_tick
	mov BDA_TICKS, %ebx
	call next_tick
	mov BDA_TICKS, %eax
	sub %ebx, %eax
	SHOW "tick"

	/* int 1Ah AH=0 right after a tick: CX:DX = the BDA count, CF clear */
	call next_tick
	mov $0x0000, %ax
	int $0x1a
	CF "cf0"
	shl $16, %ecx
	mov %dx, %cx
	cmp BDA_TICKS, %ecx
	sete %al
	SHOW "same"

	/* AH=1 sets the count: one tick before midnight (0x1800b0 per day) */
	mov $0x0100, %ax
	mov $0x0018, %cx
	mov $0x00af, %dx
	int $0x1a
	CF "cf1"
	mov %ah, %al
	SHOW "ah1"
	call next_tick			/* past midnight: count 0, flag set */
	mov $0x0000, %ax
	int $0x1a
	SHOW "midnight"
	mov %cx, %ax
	or %dx, %ax
	SHOW "count"
	mov $0x0000, %ax
	int $0x1a			/* the read cleared the flag */
	SHOW "midnight2"

	/* an unknown int 1Ah function: CF set, AH unchanged */
	mov $0x0f00, %ax
	clc
	int $0x1a
	CF "cf_1a0f"

	/* int 16h AH=1: nothing typed, ZF set; AH=2: no shift keys */
	mov $0x0100, %ax
	int $0x16
	pushf
	pop %ax
	shr $6, %al
	and $0x01, %al
	SHOW "zf"
	mov $0x0200, %ax
	int $0x16
	SHOW "shift"

	jmp done

/* next_tick: sleep until the BDA tick count changes (right after a tick) */
next_tick:
	mov BDA_TICKS, %ax
1:	sti
	hlt
	cli
	cmp BDA_TICKS, %ax
	je 1b
	ret

	SECTOR_END
