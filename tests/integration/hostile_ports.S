/* hostile_ports.S - hostile guest: floods ports where no device is with string I/O of every width, forever. */
/*
 * `rep outsb/outsw/outsl` and `rep insb/insw/insl` at COM2, LPT1 and an
 * arbitrary port: each byte is counted in `unknown_ports`, reads give
 * 0xff, writes vanish; the guest gets no device and the VMM no work
 * beyond the count.
 */
#include "diff.inc"
#define BUF 0x1000			/* 4 KiB of guest RAM, read from and written to */
main:
	SAY "ports\n"
1:	mov $0x2f8, %dx			/* COM2: not modelled */
	mov $BUF, %si
	mov $1024, %cx
	rep outsb
	mov $0x378, %dx			/* LPT1 */
	mov $BUF, %si
	mov $512, %cx
	rep outsw
	mov $0x1234, %dx		/* nothing ever */
	mov $BUF, %si
	mov $256, %cx
	rep outsl
	mov $BUF, %di			/* and back: 0xff fills BUF */
	mov $1024, %cx
	rep insb
	mov $BUF, %di
	mov $256, %cx
	rep insl
	jmp 1b
	SECTOR_END
