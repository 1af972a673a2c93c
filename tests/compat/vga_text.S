/* vga_text.S - writes the VGA text buffer directly (0xb8000), as boot sectors that avoid the BIOS do; then says "done" on COM1 and waits for 'q'. */
/*
 * It clears the screen (spaces, grey on black: nothing to show), writes a
 * title on row 0 in one colour, a line on row 2 from column 4, a word
 * further along that row, and one on row 3, each character with its
 * attribute byte. Under QEMU the screen holds them; under kvmlite they are
 * its screen output, in reading order. Then "done" through int 14h, and
 * 'q' on COM1 ends it through the debug exit (status 33).
 */
	.code16
	.text
	.globl _start
_start:
	ljmp $0, $1f
1:	xor %ax, %ax
	mov %ax, %ds
	mov %ax, %ss
	mov $0x7c00, %sp
	sti
	mov $0xb800, %ax
	mov %ax, %es
	xor %di, %di			/* clear: 2000 cells of 0x0720 */
	mov $0x0720, %ax
	mov $80 * 25, %cx
	cld
	rep stosw
	mov $title, %si			/* row 0, yellow on blue */
	xor %di, %di
	mov $0x1e, %ah
	call put
	mov $line, %si			/* row 2, column 4 */
	mov $(2 * 80 + 4) * 2, %di
	mov $0x07, %ah
	call put
	mov $far, %si			/* row 2, column 30 */
	mov $(2 * 80 + 30) * 2, %di
	call put
	mov $last, %si			/* row 3, column 0 */
	mov $(3 * 80) * 2, %di
	call put
	mov $done, %si
2:	lodsb
	test %al, %al
	jz 3f
	mov $0x01, %ah			/* int 14h send */
	xor %dx, %dx
	int $0x14
	jmp 2b
3:	mov $0x02, %ah			/* wait for 'q' */
	xor %dx, %dx
	int $0x14
	test $0x80, %ah
	jnz 3b
	cmp $'q', %al
	jne 3b
	mov $0x501, %dx
	mov $0x10, %al
	out %al, %dx
	cli
	hlt

put:					/* DS:SI to ES:DI, attribute AH */
	lodsb
	test %al, %al
	jz 1f
	stosw
	jmp put
1:	ret

title:	.asciz "VGA text buffer, row 0"
line:	.asciz "row 2, column 4"
far:	.asciz "and column 30"
last:	.asciz "row 3"
done:	.asciz "done\n"

	.org 510
	.byte 0x55, 0xaa
