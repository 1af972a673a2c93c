/* hostile_portscan.S - hostile guest: reads and writes every port 0-0xffff at every width, then asks for a reset. */
/*
 * In AL/AX/EAX, then out AL/AX/EAX of 0x5a5a5a5a, at every port: 393,000
 * accesses to its own UART, PIT and PICs (garbage commands included),
 * port 0x61, the reset ports and nothing at all. Two kinds of port end a
 * guest, by design: any write to the debug-exit port (0x501, 0x502), and a
 * reset request (0xfe to port 0x64, bit 2 to port 0xcf9). The scan skips
 * the debug-exit port as a start port and writes 0x5a, which is neither
 * reset value (bit 2 clear), so it covers every port and runs to its end;
 * then it writes 0x06 to port 0xcf9 and must be reported failed with the
 * reason "reset requested through port 0xcf9". Interrupts stay off: the
 * garbage it gives its PIT and PICs can never reach it.
 */
#include "diff.inc"
#define VALUE 0x5a5a5a5a		/* bit 2 clear in every byte: no reset through 0xcf9 */
main:
	SAY "portscan\n"
	xor %dx, %dx			/* DX = the port; it wraps to 0 after 0xffff */
	mov $VALUE, %ebx
1:	cmp $DEBUG_EXIT_PORT, %dx
	je 2f
	cmp $DEBUG_EXIT_PORT + 1, %dx
	je 2f
	in %dx, %al
	in %dx, %ax
	in %dx, %eax
	mov %ebx, %eax
	out %al, %dx
	out %ax, %dx
	out %eax, %dx
2:	inc %dx
	jnz 1b
	mov $PORT_RESET_CTRL, %dx	/* done: the reset a PC's BIOS would do */
	mov $0x06, %al			/* bit 2: reset; bit 1: hard */
	out %al, %dx
	cli
	hlt				/* not reached */
	SECTOR_END
