/* ramfill.S - writes bytes of its own all over 33 pages of its RAM, and at each request checks them and writes new ones. */
/*
 * For park.sh: many of these, parked after every request (--park always),
 * must each find exactly its own bytes again. Guests of one image differ
 * from each other (and from their shard's template, the first one parked)
 * in two bytes a page: pages 0x10-0x2f hold the same pattern in every guest
 * (bytes 0x40 + page number) but for two bytes whose place and value depend
 * on the guest's index and the round (page 0x10: the first two of the page,
 * page 0x2f: the last two). Page 0x30 (0x31 in odd guests) is the guest's
 * own from end to end (byte k = k + 7 * index + round): no delta is smaller
 * than the page, so it is kept raw. The other of the two it never writes,
 * and checks that it reads as zeros: no byte of a guest that had its slot
 * before may show. Each line received gets "ok IIII" (its index, from its RAM, in
 * hex) if every byte was as written, else "bad PP" (the first page that was
 * not); then the round advances and every page gets its new bytes.
 */
#include "pc.inc"

#define PAGES	  32		/* pattern pages, from 0x10 */
#define FIRST_SEG 0x1000	/* page 0x10 */
#define FULL_SEG  0x3000	/* page 0x30 (even guests), 0x31 (odd ones) */

	.struct 0x7e00
index:	.skip 2			/* the guest index (ESI at boot), low 16 bits */
round:	.skip 1			/* requests answered */
flag:	.skip 1			/* a line ended: check */
lsr:	.skip 1			/* the last LSR value read (UART_WRITE_FUNCS) */
answer:	.skip 8			/* "ok IIII\n" or "bad PP\n" */

	.text
	.globl _start
_start:
	BOOT_PROLOGUE
	mov %si, index
	mov %ax, round			/* round and flag: 0 (AX = 0) */
	SET_VECTOR IRQ_COM1, irq_com1
	RUN_OUT_TABLE devices, devices_end
	call fill
	mov $s_ready, %si
	call putstr
idle:
	cli
	cmpb $0, flag
	jne 1f
	sti				/* an interrupt pending now still ends the hlt */
	hlt
	jmp idle
1:	movb $0, flag
	sti
	call check
	incb round
	call fill
	jmp idle

/* special: for page BP in this round, DI = the offset of its own two bytes and AX their value. */
special:
	imul $61, index, %di
	imul $127, %bp, %ax
	add %ax, %di
	movzbw round, %ax
	imul $17, %ax, %ax
	add %ax, %di
	and $0xffe, %di
	test %bp, %bp
	jnz 1f
	xor %di, %di			/* the first pattern page: its first bytes */
1:	cmp $PAGES - 1, %bp
	jne 2f
	mov $0xffe, %di			/* the last: its last bytes */
2:	mov index, %al
	add round, %al
	xor %bh, %al			/* BH: the page number (its segment's high byte) */
	mov round, %ah
	or $0x80, %ah			/* never the pattern's: the two bytes differ from it */
	ret

/* pattern: AX = the pattern word of page BP (both bytes 0x40 + page) */
pattern:
	lea 0x10 + 0x40(%bp), %ax
	mov %al, %ah
	ret

/* fill: every pattern page and its own byte, then the guest's own page. */
fill:
	xor %bp, %bp
	mov $FIRST_SEG, %bx
1:	mov %bx, %es
	call pattern
	xor %di, %di
	mov $2048, %cx
	rep stosw
	call special
	mov %ax, %es:(%di)
	add $0x100, %bx
	inc %bp
	cmp $PAGES, %bp
	jb 1b
	call full_start
2:	stosb
	inc %al
	loop 2b
	jmp es0

/* full_start: ES:DI = the guest's own page, AL its first byte, CX its size; DX the other parity's page */
full_start:
	mov index, %ah
	and $1, %ah
	mov $FULL_SEG >> 8, %dh
	xor %ah, %dh
	mov %dh, %ah
	xor $1, %dh
	mov $0, %al
	mov $0, %dl
	mov %ax, %es
	xor %di, %di
	mov $4096, %cx
	imul $7, index, %ax
	add round, %al
	ret

/* check: every byte as fill wrote it in this round; answers. */
check:
	xor %bp, %bp
	mov $FIRST_SEG, %bx
1:	mov %bx, %es
	call special
	cmp %ax, %es:(%di)
	jne bad
	call pattern
	mov %ax, %es:(%di)		/* its own bytes back to the pattern, */
	xor %di, %di			/* then the whole page is the pattern */
	mov $2048, %cx
	repe scasw
	jne bad
	add $0x100, %bx
	inc %bp
	cmp $PAGES, %bp
	jb 1b
	call full_start
2:	scasb
	jne bad
	inc %al
	loop 2b
	mov %dx, %es			/* never written: it must read as zeros, */
	mov %dh, %bh			/* whoever's slot this RAM was before */
	xor %ax, %ax
	xor %di, %di
	mov $2048, %cx
	repe scasw
	jne bad
	movl $('o' | 'k' << 8 | ' ' << 16), answer
	mov $answer + 3, %di
	call es0
	mov index + 1, %al
	call hex2
	mov index, %al
	call hex2
	jmp 3f
bad:
	call es0
	movl $('b' | 'a' << 8 | 'd' << 16 | ' ' << 24), answer
	mov $answer + 4, %di
	mov %bh, %al			/* the page */
	call hex2
3:	movb $NL, (%di)
	mov $answer, %si
	lea 1(%di), %cx
	sub %si, %cx
	jmp uart_write

/* hex2: AL as two hex digits at ES:DI */
hex2:
	push %ax
	shr $4, %al
	call nib
	pop %ax
nib:
	and $0xf, %al
	add $'0', %al
	cmp $'9', %al
	jbe 1f
	add $'a' - '9' - 1, %al
1:	stosb
	ret

es0:
	push $0
	pop %es
	ret

	UART_WRITE_FUNCS lsr

/* IRQ4: take every byte COM1 holds; a "\n" among them asks for a check. */
irq_com1:
	push %ax
	push %dx
	mov $UART_LSR, %dx
1:	in (%dx), %al
	mov %al, lsr
	test $LSR_DR, %al
	jz 2f
	mov $UART_LO(UART_RBR), %dl
	in (%dx), %al
	mov $UART_LO(UART_LSR), %dl
	cmp $NL, %al
	jne 1b
	movb $1, flag
	jmp 1b
2:	pop %dx
	pop %ax
	iret

devices:
	PIC_INIT_TABLE (MASK_ALL & ~IRQ_BIT(IRQ_COM1)), (ICW4_8086 | ICW4_AEOI)
	PIT_STOP_TABLE
	UART_INIT_TABLE IER_RDA
devices_end:

s_ready:	PSTR "ready\n"
	SECTOR_END
