/* disk_readall.S - reads its whole disk with int 13h LBA reads and prints a checksum of it; writes its index into the last sector and reads it back; waits for 'q'. */
/*
 * For a spawn of many guests of one image: each reads every sector (the
 * image's pages are shared, read-only, by all of them), and each first
 * finds the last sector as the image has it (zeros), then writes its own
 * index (ESI at boot) there and reads it back: one guest's writes must
 * never reach another, nor the image file. Prints "sectors N sum S", then
 * "last pristine" or "last CHANGED", then "last mine" or "last NOT MINE",
 * and waits for 'q' on COM1 (int 14h), then exits through the debug exit.
 */
#define BUF 0x1000			/* segment of the 32 KiB read buffer */
	.code16
	.text
	.globl _start
_start:
	ljmp $0, $1f
1:	xor %ax, %ax
	mov %ax, %ds
	mov %ax, %es
	mov %ax, %ss
	mov $0x7c00, %sp
	sti
	mov %dl, drive
	mov %esi, index
	movw $26, edd
	mov $0x48, %ah
	mov $edd, %si
	int $0x13
	xor %bp, %bp			/* BP = checksum, BX = next LBA */
	xor %bx, %bx
next:	mov sectors, %cx
	sub %bx, %cx
	jz summed
	cmp $64, %cx
	jbe 2f
	mov $64, %cx
2:	mov %cx, dap_count
	mov %bx, dap_lba
	call read
	add %cx, %bx
	push %ds			/* sum the first word of each sector (all of them */
	push $BUF			/* would take ~1 s of an emulated CPU a guest) */
	pop %ds
	xor %si, %si
3:	add (%si), %bp
	add $512, %si
	loop 3b
	pop %ds
	jmp next
summed:
	call say
	.asciz "sectors "
	mov sectors, %ax
	call hex16
	call say
	.asciz " sum "
	mov %bp, %ax
	call hex16
	/* the last sector: zeros in the image; then ours */
	dec %bx
	mov %bx, dap_lba
	movw $1, dap_count
	call read
	call last_is
	.asciz "0"
	call say
	.asciz "\nlast "
	call verdict
	.asciz "pristine"
	.asciz "CHANGED"
	push %es			/* fill the buffer with our index */
	push $BUF
	pop %es
	xor %di, %di
	mov index, %ax
	mov $256, %cx
	rep stosw
	pop %es
	mov $0x43, %ah
	mov $dap, %si
	mov drive, %dl
	int $0x13
	push %es			/* clear it, and read the sector back */
	push $BUF
	pop %es
	xor %di, %di
	xor %ax, %ax
	mov $256, %cx
	rep stosw
	pop %es
	call read
	call last_is
	.asciz "i"
	call say
	.asciz "\nlast "
	call verdict
	.asciz "mine"
	.asciz "NOT MINE"
	mov $'\n', %al
	call putc
wait:	mov $0x02, %ah			/* int 14h receive, until 'q' */
	xor %dx, %dx
	int $0x14
	test $0x80, %ah
	jnz wait
	cmp $'q', %al
	jne wait
	mov $0x501, %dx
	mov $0x10, %al
	out %al, %dx
	cli
	hlt

read:					/* int 13h AH=42 with dap; keeps BX, CX */
	mov $0x42, %ah
	mov $dap, %si
	mov drive, %dl
	int $0x13
	ret

/* last_is: ZF = the buffer's 256 words all equal 0 ("0" after the call) or our index ("i") */
last_is:
	pop %si
	lodsb
	inc %si				/* past its NUL */
	push %si
	xor %dx, %dx
	cmp $'i', %al
	jne 1f
	mov index, %dx
1:	push %ds
	push $BUF
	pop %ds
	xor %si, %si
	mov $256, %cx
2:	lodsw
	cmp %dx, %ax
	loope 2b
	pop %ds
	ret

/* verdict: print the first string after the call if ZF, else the second */
verdict:
	pop %si
	jnz 1f
	call pr
	call skip
	jmp *%si
1:	call skip
	call pr
	jmp *%si

say:	pop %si				/* print the string after the call */
	call pr
	jmp *%si
pr:	lodsb				/* DS:SI up to its NUL */
	test %al, %al
	jz 1f
	call putc
	jmp pr
1:	ret
skip:	lodsb
	test %al, %al
	jnz skip
	ret

hex16:	push %ax
	mov %ah, %al
	call hexb
	pop %ax
hexb:	push %ax
	shr $4, %al
	call hexd
	pop %ax
hexd:	and $0x0f, %al
	add $'0', %al
	cmp $'9', %al
	jbe putc
	add $'a' - '9' - 1, %al
putc:	push %ax			/* int 14h AH=1; keeps all but flags */
	push %dx
	mov $0x01, %ah
	xor %dx, %dx
	int $0x14
	pop %dx
	pop %ax
	ret

	.balign 4
dap:	.byte 16, 0
dap_count: .word 0
	.word 0, BUF
dap_lba: .long 0, 0
drive:	.byte 0
	.balign 2
index:	.long 0
edd:	.word 0, 0
	.long 0, 0, 0
sectors: .long 0, 0
	.word 0
	.org 510
	.byte 0x55, 0xaa
