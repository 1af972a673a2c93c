/* crash.S - boot-sector guest that prints "crash" and then triple-faults the CPU on purpose. */
#include "pc.inc"

#define GDT_CODE32 8			/* selector of the code descriptor in gdt */

	.text
	.globl _start
_start:
	BOOT_PROLOGUE
	RUN_OUT_TABLE devices, devices_end
	mov $banner, %si
	call putstr
	mov $UART_LSR, %dx		/* let the line leave the UART before the reset */
1:	in (%dx), %al
	test $LSR_TEMT, %al
	jz 1b
	/*
	 * Triple fault: with an empty IDT (limit 0) no vector can be
	 * delivered, so #UD becomes #GP, then #DF, and then the CPU shuts
	 * down. Under QEMU that resets the machine (or ends QEMU with
	 * -no-reboot); under KVM the VMM sees KVM_EXIT_SHUTDOWN.
	 *
	 * It is done in protected mode: real-mode interrupts may be
	 * delivered by KVM's instruction emulator, which reads the vector
	 * from IDT base + 4 * n without checking the limit (seen on this
	 * host's kvm_pvm: lidt 0 + int3 or ud2 in real mode just went on
	 * through the IVT). A protected-mode #UD is delivered by the CPU's
	 * own rules everywhere. (int3 is avoided: under kvm_pvm a
	 * protected-mode int3 with no IDT was seen to hang, not shut down.)
	 */
	lidt empty_idt
	lgdt gdt_desc
	mov %cr0, %eax
	or $1, %al			/* CR0.PE */
	mov %eax, %cr0
	ljmp $GDT_CODE32, $protected	/* load CS from the GDT, as the SDM asks */
	.code32
protected:
	ud2
	jmp .				/* not reached */
	.code16

	UART_WRITE_FUNCS

empty_idt:
	.word 0				/* limit: not even vector 0 fits */
	.long 0				/* base */

	.p2align 3
gdt:
	.quad 0				/* the null descriptor */
	.quad 0x00cf9a000000ffff	/* 32-bit ring-0 code, base 0, limit 4 GiB */
gdt_desc:
	.word . - gdt - 1		/* limit */
	.long gdt			/* base */

devices:
	PIC_INIT_TABLE MASK_ALL		/* no interrupts are used */
	UART_INIT_TABLE 0
devices_end:

banner:
	PSTR "crash\n"

	SECTOR_END
