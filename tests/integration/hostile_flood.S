/* hostile_flood.S - hostile guest: writes to its UART as fast as it can, forever, every byte value 0-255 in turn. */
/*
 * It never waits for LSR.THRE and never stops. The VMM keeps the last
 * 4 KiB of a guest's output and counts the rest as dropped: whatever the
 * guest writes, it costs the VMM one 4 KiB ring. Every byte value is sent
 * (newlines, escapes, bytes above 0x7f) so readers of the ring get the
 * worst case of escaping: a `read` answer is about 12 KiB.
 * `rep outsb` is used because it is the fastest a guest can write: on a
 * VT-x host it is one exit per page of bytes; this host's kvm_pvm exits
 * once per byte (about 80,000 bytes/s).
 */
#include "diff.inc"
#define PATTERN 0x1000			/* 256 bytes: 0, 1, ..., 255 */
main:
	SAY "flood\n"
	mov $PATTERN, %di		/* ES:DI; AL counts 0..255 */
	xor %al, %al
1:	stosb
	inc %al
	jnz 1b
	mov $UART_THR, %dx
2:	mov $PATTERN, %si
	mov $256, %cx
	rep outsb
	jmp 2b
	SECTOR_END
