/* disk_cprog.S - sector 0 of a C program built with gcc -m16: loads the rest with int 13h LBA reads (AH=42) and calls its cmain(). */
/*
 * The program (cprog.c) is linked after this sector, at 0x7e00
 * (tests/compat/disk.ld); its size comes from the linker. cmain() is
 * 32-bit code for real mode (gcc -m16: operand-size prefixes), so it is
 * called with a 32-bit return address (calll) and a clean ESP.
 */
	.code16
	.section .boot, "ax"
	.globl _start
_start:
	ljmp $0, $1f
1:	xor %eax, %eax
	mov %ax, %ds
	mov %ax, %es
	mov %ax, %ss
	mov $0x7c00, %esp
	sti
	mov %dl, boot_drive
	movw $(prog_sectors), dap_count
	mov $0x42, %ah
	mov $dap, %si
	int $0x13
	jc 2f
	calll cmain
	mov $0x10, %al			/* the debug exit: status 33 */
	jmp 3f
2:	mov $0x11, %al			/* the load failed: status 35 */
3:	mov $0x501, %dx
	out %al, %dx
	cli
	hlt

	.balign 4
dap:	.byte 16, 0
dap_count: .word 0
	.word 0x7e00, 0			/* to 0000:7e00 */
	.long 1, 0			/* from sector 1 */
	.globl boot_drive
boot_drive: .byte 0
	.org 510
	.byte 0x55, 0xaa
