/* spin.S - boot-sector guest that prints "spin" and then loops forever with interrupts off. */
#include "pc.inc"

	.text
	.globl _start
_start:
	BOOT_PROLOGUE
	RUN_OUT_TABLE devices, devices_end
	mov $banner, %si
	call putstr
	cli
	jmp .				/* never halts, never exits: the VMM must preempt it */

	UART_WRITE_FUNCS

devices:
	PIC_INIT_TABLE MASK_ALL		/* no interrupts are used */
	UART_INIT_TABLE 0
devices_end:

banner:
	PSTR "spin\n"

	SECTOR_END
