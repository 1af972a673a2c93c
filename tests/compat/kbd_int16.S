/* kbd_int16.S - reads keys with int 16h (AH=1 to look, AH=0 to take) and prints each keystroke's code, AX, on COM1. */
/*
 * The keyboard style: under QEMU the keys come from its keyboard (the
 * monitor's sendkey), under kvmlite from COM1; both must give the same
 * AX: scan code and ASCII. Prints "AAAA" per key, a newline after Enter;
 * 'q' ends it.
 */
#include "compat.inc"
main:
	SAY "keys\n"
1:	mov $0x01, %ah			/* anything there? */
	int $0x16
	jnz 2f
	hlt				/* not yet: sleep until the next interrupt */
	jmp 1b
2:	mov $0x00, %ah			/* take it */
	int $0x16
	call ser_hex16
	cmp $'q', %al
	je exit
	cmp $'\r', %al
	jne 3f
	mov $'\n', %al
	call ser_putc
	jmp 1b
3:	mov $' ', %al
	call ser_putc
	jmp 1b
	SECTOR_END
