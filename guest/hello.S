/* hello.S - boot-sector guest that prints "hello, world" and halts with interrupts off. */
#include "pc.inc"

	.text
	.globl _start
_start:
	BOOT_PROLOGUE
	RUN_OUT_TABLE devices, devices_end
	mov $greeting, %si
	call putstr
	/* cli; hlt with nothing able to wake it: kvmlite ends the guest with
	 * status 0; QEMU just sits here until it is killed. */
	cli
1:	hlt
	jmp 1b				/* an NMI or SMI could still wake hlt */

	UART_WRITE_FUNCS

devices:
	PIC_INIT_TABLE MASK_ALL		/* no interrupts are used */
	UART_INIT_TABLE 0
devices_end:

greeting:
	PSTR "hello, world\n"

	SECTOR_END
