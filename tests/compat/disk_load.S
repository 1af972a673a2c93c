/* disk_load.S - a two-stage loader: sector 0 reads the geometry and loads stage 2 with int 13h CHS reads; stage 2 reads with LBA, writes and reads back, probes errors; all reported on COM1. */
/*
 * Written as boot loaders are: DL from the BIOS says which drive, AH=08
 * gives the geometry, AH=02 loads the sectors after the boot sector to
 * 0x7e00, AH=41/42 (EDD) do the rest. Each fact is a line "name value" in
 * hex, through int 14h AH=1, so the same image prints the same lines under
 * QEMU + SeaBIOS (as an IDE disk) and under kvmlite. Images of several
 * sizes and partition tables are made from it (Makefile): the geometry
 * lines then differ by image, and must agree with QEMU's for each.
 * Writes go to a copy (QEMU snapshot=on, kvmlite's overlay): the image file
 * is never changed. Ends through the debug exit with 0x10 (status 33).
 */
#define STAGE2 0x7e00		/* where sector 1 onwards is loaded */
#define STAGE2_SECTORS 3
#define BUF 0x2000		/* segment of a scratch buffer (0x20000) */

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
	mov %dl, %al
	call say
	.asciz "dl"
	call hex8nl
	mov $0x08, %ah			/* geometry: CH, CL, DH; DL = drive count */
	mov drive, %dl
	xor %di, %di
	int $0x13
	call show_regs
	mov $0x15, %ah			/* type and size */
	mov drive, %dl
	int $0x13
	call show_regs
	mov $0x41, %ah			/* extensions? */
	mov $0x55aa, %bx
	mov drive, %dl
	int $0x13
	call show_regs
	mov $0x0200 + STAGE2_SECTORS, %ax /* read sectors 2.. (CHS 0/0/2) to 0x7e00 */
	mov $STAGE2, %bx
	mov $0x0002, %cx
	xor %dh, %dh
	mov drive, %dl
	int $0x13
	call show_regs
	cmpw $0x3253, magic		/* "S2" */
	je stage2
	call say
	.asciz "no stage 2"
	jmp done

/* show_regs: "ax AX bx BX cx CX dx DX cf F" of the last call; keeps nothing */
show_regs:
	pushf
	push %dx
	push %cx
	push %bx
	call say
	.asciz "ax"
	call hex16
	pop %ax
	call say
	.asciz " bx"
	call hex16
	pop %ax
	call say
	.asciz " cx"
	call hex16
	pop %ax
	call say
	.asciz " dx"
	call hex16
	pop %ax
	and $1, %al
	call say
	.asciz " cf"
	jmp hex8nl

/* say: print the NUL-terminated string after the call; keeps AX */
say:
	push %si
	push %ax
	mov %sp, %si
	mov 4(%si), %si
1:	lodsb
	test %al, %al
	jz 2f
	call putc
	jmp 1b
2:	mov %sp, %ax
	xchg %ax, %si
	mov %ax, 4(%si)
	pop %ax
	pop %si
	ret

hex16:					/* AX in hex, after a space */
	push %ax
	mov $' ', %al
	call putc
	pop %ax
	push %ax
	mov %ah, %al
	call hexb
	pop %ax
	jmp hexb
hex8nl:					/* " AL\n" */
	push %ax
	mov $' ', %al
	call putc
	pop %ax
	call hexb
	mov $'\n', %al
	jmp putc
hexb:
	push %ax
	shr $4, %al
	call hexd
	pop %ax
hexd:
	and $0x0f, %al
	add $'0', %al
	cmp $'9', %al
	jbe putc
	add $'a' - '9' - 1, %al
putc:					/* AL out through int 14h AH=1; keeps all */
	push %ax
	push %dx
	mov $0x01, %ah
	xor %dx, %dx
	int $0x14
	pop %dx
	pop %ax
	ret

done:
	mov $'\n', %al
	call putc
	mov $0x501, %dx
	mov $0x10, %al
	out %al, %dx
	cli
	hlt

drive:	.byte 0
	.org 0x1be			/* no partition table (the Makefile may add one) */
	.org 510
	.byte 0x55, 0xaa

/* ---- stage 2: sectors 1-3, at 0x7e00 ---- */
magic:	.ascii "S2"
stage2:
	call say
	.asciz "stage 2\n"
	/* EDD parameters into a 26-byte buffer */
	movw $26, edd
	mov $0x48, %ah
	mov drive, %dl
	mov $edd, %si
	int $0x13
	call show_regs
	mov $edd, %si
	mov $26, %cx
1:	lodsb
	call hexb
	loop 1b
	mov $'\n', %al
	call putc
	/* LBA: sector 3 (the last of stage 2) again, to 0x2000:0000, and compare */
	movw $3, dap_lba
	movw $1, dap_count
	mov $0x42, %ah
	call ext
	push %ds
	mov $BUF, %ax
	mov %ax, %ds
	xor %si, %si
	mov $STAGE2 + 2 * 512, %di
	mov $512, %cx
	repe cmpsb
	pop %ds
	sete %al
	call say
	.asciz "lba same"
	call hex8nl
	/* the last sector of the disk, and one past it */
	mov edd + 16, %ax		/* sectors, low word (the images are small) */
	dec %ax
	mov %ax, dap_lba
	movw $3, dap_count		/* only the first is there */
	mov $0x42, %ah
	call ext
	mov dap_count, %ax
	call say
	.asciz "count"
	call hex16
	mov $'\n', %al
	call putc
	mov edd + 16, %ax
	mov %ax, dap_lba		/* past the end: refused */
	movw $1, dap_count
	mov $0x42, %ah
	call ext
	/* write sector 6 (CHS 0/0/7) with a pattern, read it back with LBA */
	mov $pattern, %bx
	mov $0x0301, %ax
	mov $0x0007, %cx
	xor %dh, %dh
	mov drive, %dl
	int $0x13
	call show_regs
	movw $6, dap_lba
	movw $1, dap_count
	mov $0x42, %ah
	call ext
	push %ds
	mov $BUF, %ax
	mov %ax, %ds
	xor %si, %si
	mov $pattern, %di
	mov $512, %cx
	repe cmpsb
	pop %ds
	sete %al
	call say
	.asciz "rw same"
	call hex8nl
	/* errors: sector 0 in CHS, a second disk, then the status call */
	mov $0x0201, %ax
	mov $0x9000, %bx			/* (nothing is read: the calls fail) */
	mov $0x0000, %cx
	xor %dh, %dh
	mov drive, %dl
	int $0x13
	call show_regs
	mov $0x0201, %ax
	mov $0x0001, %cx
	mov $0x81, %dl
	int $0x13
	call show_regs
	mov $0x0100, %ax
	mov drive, %dl
	int $0x13
	call show_regs
	mov 0x474, %al
	call say
	.asciz "bda status"
	call hex8nl
	mov 0x475, %al
	call say
	.asciz "hd count"
	call hex8nl
	jmp done

/* ext: int 13h AH (42/43) with the packet below, buffer 0x2000:0000 */
ext:
	mov drive, %dl
	mov $dap, %si
	int $0x13
	jmp show_regs

	.balign 4
dap:	.byte 16, 0
dap_count: .word 1
	.word 0, BUF			/* buffer offset, segment */
dap_lba: .long 0, 0
edd:	.skip 26
	.balign 16
pattern:
	.rept 32
	.ascii "kvmlite disk i/o"
	.endr
	.org 4 * 512
