/* firmware.S - kvmlite's PC firmware: one 4 KiB page that sets up IVT, BDA, PIC and PIT, serves int 10h/14h/16h/1Ah over COM1 and int 13h through the VMM, and enters the boot sector. */
/*
 * The VMM copies the page into the guest's own RAM at FIRMWARE_ADDR
 * (0xb7000, see layout.h) and starts the CPU at FIRMWARE_SEG:0ff0, the
 * last 16 bytes of this file, as a PC starts 16 bytes below the top of its
 * ROM, with ESI = guest index; the boot sector is already at 0000:7c00.
 * The code is linked at offset 0 and takes its segment from CS, so the
 * same page runs wherever it is put (tests/diff/fw-qemu.sh runs it in
 * QEMU's BIOS ROM at segment 0xff00).
 *
 * What it leaves for the boot sector follows what SeaBIOS 1.16 leaves under
 * QEMU, so that the same image behaves the same on both (tests/diff/):
 *   - 8259A pair initialised ICW1-ICW4 with vectors 0x08/0x70, cascade on
 *     IRQ 2, and the interrupt masks SeaBIOS ends with (PIC_IMR1/PIC_IMR2);
 *   - 8254 counter 0 in mode 2 (rate generator, what SeaBIOS's pit_setup
 *     programs: control word 0x34) with count 0 = 65536: IRQ 0 at 18.2 Hz;
 *   - the 16550A untouched: SeaBIOS only probes it (IER=2, read IER and
 *     IIR, IER=0), which leaves QEMU's reset state: IER=0, LCR=0, MCR=OUT2
 *     (0x08), divisor 12. kvmlite's UART resets to the same values
 *     (uart_reset), so no port write is needed here; tests/diff/diff_uart
 *     checks them;
 *   - BDA: COM1 at 0x400, one serial port in the equipment word, COM1
 *     timeout 10 ticks at 0x47c, tick count 0 (SeaBIOS reads the RTC; there
 *     is none here), empty keyboard buffer;
 *   - SS:SP = 0000:7c00, DS = ES = 0, DL = 0x80, IF = 1, ESI unchanged.
 *
 * Services return like SeaBIOS's handlers: only CF (and ZF for int 16h
 * AH=1) is changed in the caller's FLAGS image; the other flags, IF
 * included, come back as the caller had them. Unknown functions return with
 * CF set and AX unchanged (SeaBIOS's set_unimplemented/set_invalid).
 *
 * Waits (int 10h/14h/16h) poll the UART's LSR and sleep with `sti; hlt`
 * between polls, so a waiting guest costs no host CPU: the next interrupt
 * (the 18.2 Hz tick, or the UART's own if the guest enabled it) wakes it.
 * The int 14h waits are bounded by the BDA timeout as in SeaBIOS; int 16h
 * AH=0 waits for ever, as a keyboard read does. No service touches the
 * modem control lines: input arrives whenever the receiver has room.
 *
 * All data lives in RAM page 0 (IVT and BDA); the firmware uses the
 * caller's stack and no other memory.
 */
#include "layout.h"

/* 16550A registers (offsets from COM1_BASE), PC16550D datasheet section 8 */
#define COM1_RBR (COM1_BASE + 0)	/* receive buffer (read), THR (write) */
#define COM1_THR (COM1_BASE + 0)
#define COM1_DLL (COM1_BASE + 0)	/* divisor latch, when LCR.DLAB = 1 */
#define COM1_DLM (COM1_BASE + 1)
#define COM1_LCR (COM1_BASE + 3)
#define COM1_LSR (COM1_BASE + 5)
#define COM1_MSR (COM1_BASE + 6)
#define LCR_DLAB 0x80
#define LSR_DR 0x01			/* a received byte is waiting */
#define LSR_THRE 0x20			/* transmit holding register empty */
#define LSR_TX_IDLE 0x60		/* THRE and TEMT: what SeaBIOS waits for */
#define LSR_TIMEOUT 0x80		/* int 14h: bit 7 of AH set = timed out */

/* 8259A: ICW1 = edge triggered, cascade, ICW4 follows; ICW4 = 8086 mode */
#define PIC_ICW1 0x11
#define PIC_ICW4 0x01
#define PIC_EOI 0x20			/* OCW2 non-specific end of interrupt */
/*
 * The masks SeaBIOS 1.16 leaves under QEMU when it jumps to a boot sector
 * (measured: tests/diff/diff_pic.expected): pic_setup masks all but IRQ 2,
 * then the timer, keyboard, floppy, RTC, mouse, FPU and ATA drivers unmask
 * IRQ 0, 1, 6, 8, 12, 13 and 14. kvmlite has no devices on the extra
 * lines, so they never fire; matching keeps IMR reads identical. The COM1
 * line (IRQ 4) stays masked, as under SeaBIOS.
 */
#define PIC_IMR1 0xb8
#define PIC_IMR2 0x8e

/* 8254: counter 0, lobyte/hibyte, mode 2, binary (SeaBIOS's pit_setup) */
#define PIT_CTRL (PIT_BASE + 3)
#define PIT_MODE_TICK 0x34

/* BDA fields beyond those in layout.h (offsets as in SeaBIOS's biosvar.h) */
#define BDA_HDCOUNT 0x0475	/* byte: hard disks int 13h serves */
#define BDA_VIDEO_MODE 0x0449	/* byte: the video mode (3: 80 x 25 text, colour) */
#define BDA_VIDEO_COLS 0x044a	/* word: columns */
#define BDA_VIDEO_PAGESIZE 0x044c /* word: bytes of a page */
#define BDA_CURSOR 0x0450	/* 8 words: each page's cursor, column low byte, row high */
#define BDA_CURSOR_TYPE 0x0460	/* word: cursor shape, start and end scan lines */
#define BDA_VIDEO_PAGE 0x0462	/* byte: the active page */
#define BDA_CRTC 0x0463		/* word: the CRT controller's port */
#define BDA_VIDEO_ROWS 0x0484	/* byte: rows - 1 */
#define BDA_CHAR_HEIGHT 0x0485	/* word: scan lines a character */
#define VGA_COLS 80
#define VGA_CELLS (80 * 25)
#define BDA_KBD_HEAD 0x041a	/* word: keyboard buffer head, offset from 0x400 */
#define BDA_KBD_TAIL 0x041c	/* word: keyboard buffer tail */
#define BDA_KBD_BUF 0x041e	/* 16 words: the keyboard buffer */
#define KBD_BUF_OFF 0x1e	/* BDA_KBD_BUF - 0x400 */
#define COM_TIMEOUT_TICKS 0x0a	/* SeaBIOS's detect_serial value */
#define EQUIPMENT 0x0222	/* one serial port (bits 9-11), 80 x 25 colour video (bits 5-4), x87 (bit 1) */

#define TICKS_PER_DAY 0x1800b0	/* 18.2 Hz * 86400 s, SeaBIOS's TICKS_PER_DAY */

#define FLAGS_CF 0x01
#define FLAGS_ZF 0x40

	.code16
	.text
	.globl _start
_start:				/* offset 0 of the firmware's segment */

/* ---------------------------------------------------------------------- */
/* Returns that edit the caller's FLAGS image (at 6(%bp) after push %bp)   */
/* ---------------------------------------------------------------------- */

/* Unknown function, absent port: CF set, registers as the caller had them. */
svc_fail:
	push %bp
	mov %sp, %bp
	orb $FLAGS_CF, 6(%bp)
	pop %bp
	iret

svc_ok:
	push %bp
	mov %sp, %bp
	andb $~FLAGS_CF, 6(%bp)
	pop %bp
	iret

ret_zf_set:
	push %bp
	mov %sp, %bp
	orb $FLAGS_ZF, 6(%bp)
	pop %bp
	iret

ret_zf_clear:
	push %bp
	mov %sp, %bp
	andb $~FLAGS_ZF, 6(%bp)
	pop %bp
	iret

/* Every vector without a handler: return at once. */
default_iret:
	iret

/*
 * A BIOS service this firmware does not provide (SeaBIOS may): tell the
 * VMM which, (vector << 8) | AH on FW_EVENT_PORT, so that it is counted
 * and named for the user (vmm/bios.c); then return as for an unknown
 * function, CF set and AX unchanged. Each vector's stub pushes its number.
 */
.macro MISSING vec
miss\vec:
	push $0x\vec
	jmp svc_missing
.endm
	MISSING 05
	MISSING 10
	MISSING 14
	MISSING 15
	MISSING 16
	MISSING 17
	MISSING 18
	MISSING 19
	MISSING 1a

svc_missing:			/* stack: vector, IP, CS, FLAGS */
	push %bp
	mov %sp, %bp
	push %ax
	push %dx
	mov %ah, %al
	mov 2(%bp), %ah
	mov $FW_EVENT_PORT, %dx
	out %ax, %dx
	pop %dx
	pop %ax
	orb $FLAGS_CF, 8(%bp)
	pop %bp
	add $2, %sp		/* the vector; iret takes FLAGS from the frame */
	iret

/* ---------------------------------------------------------------------- */
/* Hardware interrupts                                                     */
/* ---------------------------------------------------------------------- */

/*
 * IRQ 1-7 with no handler: end the interrupt so the master's ISR bit does
 * not stay set and block every lower-priority line (SeaBIOS's handle_hwpic1).
 */
irq_master:
	push %ax
	mov $PIC_EOI, %al
	out %al, $PIC_MASTER_CMD
	pop %ax
	iret

/* IRQ 8-15 with no handler: end it on the slave and on the master (cascade). */
irq_slave:
	push %ax
	mov $PIC_EOI, %al
	out %al, $PIC_SLAVE_CMD
	out %al, $PIC_MASTER_CMD
	pop %ax
	iret

/*
 * int 08h, IRQ 0: count a timer tick (SeaBIOS's handle_08). Past one day the
 * count restarts at 0 and the midnight byte is incremented; then the user
 * hook int 1Ch runs and the interrupt is ended.
 */
int08:
	push %ds
	push %eax
	xor %ax, %ax
	mov %ax, %ds
	mov BDA_TICKS, %eax
	inc %eax
	cmp $TICKS_PER_DAY, %eax
	jb 1f
	xor %eax, %eax
	incb BDA_MIDNIGHT
1:	mov %eax, BDA_TICKS
	int $0x1c
	mov $PIC_EOI, %al
	out %al, $PIC_MASTER_CMD
	pop %eax
	pop %ds
	iret

/* ---------------------------------------------------------------------- */
/* COM1 polling                                                            */
/* ---------------------------------------------------------------------- */

/*
 * com1_wait: poll COM1's LSR until all bits of BL are set.
 *   in:  BL = LSR bits; BH = polls to spin before sleeping between polls;
 *        CX = timeout, in timer ticks seen to pass (0 = wait for ever);
 *        DS = 0. Called with interrupts disabled.
 *   out: AL = the last LSR read; CF set if it timed out.
 *   clobbers AH, BH, CX.
 * Between polls it sleeps with `sti; hlt` (the sti shadow makes the pair
 * atomic: an interrupt pending at the sti still wakes the hlt).
 */
com1_wait:
	push %dx
	push %si
	mov BDA_TICKS, %si
	mov $COM1_LSR, %dx
1:	in %dx, %al
	mov %al, %ah
	and %bl, %ah
	cmp %bl, %ah
	je 4f			/* ready; CF clear from the cmp */
	test %bh, %bh
	jz 2f
	dec %bh			/* spin a little first: THRE is usually back at once */
	jmp 1b
2:	jcxz 3f			/* no timeout */
	cmp BDA_TICKS, %si
	je 3f
	mov BDA_TICKS, %si	/* a tick passed */
	dec %cx
	jz 5f
3:	sti
	hlt
	cli
	jmp 1b
5:	stc
4:	pop %si
	pop %dx
	ret

/* com1_timeout: CX = the BDA's COM1 timeout + 1 ticks (SeaBIOS waits until
 * `timeout + 1` ticks from now have passed). DS = 0. */
com1_timeout:
	xor %cx, %cx
	mov BDA_COM1_TIMEOUT, %cl
	inc %cx
	ret

/* ---------------------------------------------------------------------- */
/* int 10h: video, text mode 3 as SeaBIOS's VGA BIOS keeps it in the BDA.  */
/* Characters it writes go to the VMM (FW_SCREEN_PORT), which shows them   */
/* as the guest's screen output; the cursor is kept in the BDA as on a PC. */
/* They are not put in the text buffer (0xb8000): a guest reading it back  */
/* finds blank cells, and AH=08 gives a blank. Scrolling shows nothing.    */
/* ---------------------------------------------------------------------- */
int10:
	push %ds
	push %si
	push $0
	pop %ds
	cmp $0x0e, %ah
	je int10_tty
	cmp $0x13, %ah
	je int10_string
	cmp $0x02, %ah
	je int10_setcur
	cmp $0x03, %ah
	je int10_getcur
	cmp $0x09, %ah
	je int10_char
	cmp $0x0a, %ah
	je int10_char
	cmp $0x0f, %ah
	je int10_mode
	cmp $0x00, %ah
	je int10_setmode
	cmp $0x01, %ah
	je int10_shape
	cmp $0x05, %ah
	je int10_page
	cmp $0x06, %ah
	je int10_done		/* scroll up / down: nothing to show */
	cmp $0x07, %ah
	je int10_done
	cmp $0x08, %ah
	je int10_read
	cmp $0x1a, %ah
	je int10_dcc
	pop %si
	pop %ds
	jmp miss10
int10_done:
	pop %si
	pop %ds
	iret			/* flags as the caller had them, as SeaBIOS */

/* AH=0Eh: AL at the cursor of the active page, which moves on */
int10_tty:
	call tty_cursor
	call tty_put
	mov %dx, BDA_CURSOR(%si)
	pop %dx
	jmp int10_done

/* AH=13h: CX characters at ES:BP from row DH, column DL of page BH, as
 * teletype; AL bit 1: each is followed by its attribute; bit 0: the
 * cursor stays after them */
int10_string:
	push %bx
	push %cx
	push %dx
	push %bp
	movzbw %bh, %si
	shl %si
	jcxz 3f
1:	mov %es:(%bp), %bl	/* the character, while AL keeps the mode */
	inc %bp
	test $2, %al
	jz 2f
	inc %bp			/* its attribute: not shown */
2:	push %ax
	mov %bl, %al
	call tty_put
	pop %ax
	loop 1b
3:	test $1, %al
	jz 4f
	mov %dx, BDA_CURSOR(%si)
4:	pop %bp
	pop %dx
	pop %cx
	pop %bx
	jmp int10_done

/* AH=09h/0Ah: AL CX times from the cursor of page BH, which stays */
int10_char:
	push %cx
	push %dx
	mov $FW_SCREEN_PORT, %dx
	cmp $VGA_CELLS, %cx	/* more than a screen's worth shows nothing more */
	jbe 1f
	mov $VGA_CELLS, %cx
1:	jcxz 2f
	out %al, %dx
	loop 1b
2:	pop %dx
	pop %cx
	jmp int10_done

/* AH=02h: the cursor of page BH to row DH, column DL; AH=03h: where it
 * is (DX), and its shape (CX) */
int10_setcur:
	movzbw %bh, %si
	shl %si
	mov %dx, BDA_CURSOR(%si)
	jmp int10_done
int10_getcur:
	movzbw %bh, %si
	shl %si
	mov BDA_CURSOR(%si), %dx
	mov BDA_CURSOR_TYPE, %cx
	jmp int10_done

/* AH=0Fh: AL = mode, AH = columns, BH = active page */
int10_mode:
	mov BDA_VIDEO_MODE, %al
	mov BDA_VIDEO_COLS, %ah
	mov BDA_VIDEO_PAGE, %bh
	jmp int10_done

/* AH=00h: set mode AL (kept; text modes only have meaning here): the
 * cursors go home; AL = 30h for a text mode, as SeaBIOS */
int10_setmode:
	and $0x7f, %al
	mov %al, BDA_VIDEO_MODE
	movw $VGA_COLS, BDA_VIDEO_COLS
	cmp $1, %al
	ja 1f
	movw $VGA_COLS / 2, BDA_VIDEO_COLS
1:	push %di
	push %es
	push %cx
	push %ds
	pop %es
	mov $BDA_CURSOR, %di
	mov $8, %cx
	xor %ax, %ax
	rep stosw
	pop %cx
	pop %es
	pop %di
	movb $0, BDA_VIDEO_PAGE
	mov $0x30, %al
	jmp int10_done

/* AH=01h: cursor shape CX; AH=05h: active page AL */
int10_shape:
	mov %cx, BDA_CURSOR_TYPE
	jmp int10_done
int10_page:
	and $7, %al
	mov %al, BDA_VIDEO_PAGE
	jmp int10_done

/* AH=08h: character and attribute at the cursor: always a blank cell here */
int10_read:
	mov $0x0720, %ax
	jmp int10_done

/* AH=1Ah AL=00h: display combination: a VGA with a colour monitor */
int10_dcc:
	test %al, %al
	jnz 1f
	mov $0x1a, %al
	mov $0x0008, %bx
	jmp int10_done
1:	pop %si
	pop %ds
	jmp miss10

/* tty_cursor: pushes DX; SI = the active page's cursor offset in the BDA,
 * DX = its position. (Returns with DX on the stack under the return address.) */
tty_cursor:
	pop %si			/* the return address */
	push %dx
	push %si
	movzbw BDA_VIDEO_PAGE, %si
	shl %si
	mov BDA_CURSOR(%si), %dx
	ret

/* tty_put: shows AL as teletype does at cursor DX (DL column, DH row), and
 * moves it as SeaBIOS's write_teletype: CR, LF, BS move it; BEL nothing;
 * any other character advances it, wrapping at the end of the row; below
 * the last row the screen scrolls and the cursor stays on it. DS = 0. */
tty_put:
	cmp $7, %al
	je 4f			/* the bell: neither shown nor moved */
	push %dx
	mov $FW_SCREEN_PORT, %dx
	out %al, %dx
	pop %dx
	cmp $'\r', %al
	jne 1f
	xor %dl, %dl
	ret
1:	cmp $'\n', %al
	je 3f
	cmp $8, %al
	jne 2f
	test %dl, %dl
	jz 4f
	dec %dl
	ret
2:	inc %dl
	cmp BDA_VIDEO_COLS, %dl
	jb 4f
	xor %dl, %dl
3:	inc %dh
	cmp BDA_VIDEO_ROWS, %dh
	jbe 4f
	mov BDA_VIDEO_ROWS, %dh
4:	ret

/* ---------------------------------------------------------------------- */
/* int 11h: equipment word; int 12h: conventional memory in KiB            */
/* ---------------------------------------------------------------------- */
int11:
	push %ds
	push $0
	pop %ds
	mov BDA_EQUIPMENT, %ax
	pop %ds
	iret

int12:
	push %ds
	push $0
	pop %ds
	mov BDA_MEM_KB, %ax
	pop %ds
	iret

/* ---------------------------------------------------------------------- */
/* int 13h: the hard disk (the guest's image). The VMM does the whole call  */
/* (vmm/disk.c): it reads the registers from this frame, moves the sectors  */
/* to or from the guest's memory, and writes the results into the frame:   */
/* AX, BX, CX, DX, the caller's CF, the BDA status. One exit a call.        */
/* ---------------------------------------------------------------------- */
int13:
	push %ds
	push %es
	pushal			/* 32-bit: a guest's upper register halves survive */
	xor %eax, %eax
	mov %ss, %ax
	shl $4, %eax
	movzwl %sp, %edx
	add %edx, %eax		/* the frame's guest-physical address */
	mov $FW_DISK_PORT, %dx
	out %eax, %dx
	popal
	pop %es
	pop %ds
	iret

/* ---------------------------------------------------------------------- */
/* int 14h: serial port services (SeaBIOS src/serial.c, handle_1400-1403)  */
/* DX = port number; only DX = 0 (COM1) exists. Unknown AH or port: CF set, */
/* AX unchanged. Otherwise CF clear and AH = line status.                  */
/* ---------------------------------------------------------------------- */
int14:
	cmp $3, %ah
	ja miss14
	test %dx, %dx
	jnz svc_fail		/* no such port: as SeaBIOS, CF set, nothing counted */
	push %ds
	push %bx
	push %cx
	push %dx
	push $0
	pop %ds
	cmp $1, %ah
	jb int14_init
	je int14_send
	cmp $2, %ah
	je int14_recv
	/* AH=3 status: AH = LSR, AL = MSR */
int14_status:
	mov $COM1_LSR, %dx
	in %dx, %al
	mov %al, %ah
	inc %dx			/* COM1_MSR */
	in %dx, %al
int14_done:
	pop %dx
	pop %cx
	pop %bx
	pop %ds
	jmp svc_ok

/*
 * AH=0 init. AL bits 7-5 = baud (110,150,300,600,1200,2400,4800,9600),
 * bits 4-0 go to LCR (parity, stop bits, word length). Divisor 0x417 for
 * 110 baud, else 0x600 >> (AL >> 5) (1.8432 MHz / 16 / baud).
 * Returns AH = LSR, AL = MSR.
 */
int14_init:
	mov %al, %bl
	mov $COM1_LCR, %dx
	in %dx, %al
	or $LCR_DLAB, %al
	out %al, %dx
	mov $0x0417, %ax
	mov %bl, %cl
	shr $5, %cl
	jz 1f
	mov $0x0600, %ax
	shr %cl, %ax
1:	mov $COM1_DLL, %dx
	out %al, %dx
	inc %dx			/* COM1_DLM */
	mov %ah, %al
	out %al, %dx
	mov %bl, %al
	and $0x1f, %al
	mov $COM1_LCR, %dx
	out %al, %dx
	jmp int14_status

/*
 * AH=1 send AL: wait (up to the BDA timeout) for THRE and TEMT, then write.
 * AH = the LSR read before writing; on timeout AH = LSR | 0x80, not sent.
 */
int14_send:
	mov %al, %dl		/* the character */
	mov $LSR_TX_IDLE, %bl
	mov $64, %bh
	call com1_timeout
	call com1_wait
	mov %al, %ah
	jc 1f
	mov %dl, %al
	mov $COM1_THR, %dx
	out %al, %dx
	jmp int14_done
1:	or $LSR_TIMEOUT, %ah
	mov %dl, %al
	jmp int14_done

/*
 * AH=2 receive: wait (up to the BDA timeout) for DR. AL = the byte, AH = LSR;
 * on timeout AH = LSR | 0x80 and AL unchanged.
 */
int14_recv:
	mov %al, %dl
	mov $LSR_DR, %bl
	xor %bh, %bh
	call com1_timeout
	call com1_wait
	mov %al, %ah
	jc 1f
	mov $COM1_RBR, %dx
	in %dx, %al
	jmp int14_done
1:	or $LSR_TIMEOUT, %ah
	mov %dl, %al
	jmp int14_done

/* ---------------------------------------------------------------------- */
/* int 16h: keyboard, read from COM1.                                      */
/* A byte seen by AH=1 (check) is kept in the BDA keyboard buffer, one     */
/* entry (head = 0x1e, tail = 0x20), until AH=0 takes it.                  */
/* ---------------------------------------------------------------------- */
int16:
	push %ds
	push $0
	pop %ds
	cmp $0x02, %ah
	je int16_shift
	cmp $0x12, %ah
	je int16_shift
	cmp $0x00, %ah
	je int16_read
	cmp $0x10, %ah
	je int16_read
	cmp $0x01, %ah
	je int16_check
	cmp $0x11, %ah
	je int16_check
	pop %ds
	jmp miss16

/* AH=2 (and 12h): shift flags. No keyboard, so none are ever down. */
int16_shift:
	mov $0, %al
	cmp $0x12, %ah
	jne 1f
	mov $0, %ah		/* 12h: extended flags in AH too */
1:	pop %ds
	iret

/* AH=0 (and 10h): wait for a byte; AX = the keystroke it stands for (kbd_key). */
int16_read:
	mov BDA_KBD_HEAD, %ax
	cmp BDA_KBD_TAIL, %ax
	je 1f
	mov BDA_KBD_BUF, %ax	/* the byte AH=1 saw */
	movw $KBD_BUF_OFF, BDA_KBD_TAIL
	pop %ds
	iret
1:	push %bx
	push %cx
	push %dx
	mov $LSR_DR, %bl
	xor %bh, %bh
	xor %cx, %cx		/* no timeout: sleep until a byte comes */
	call com1_wait
	mov $COM1_RBR, %dx
	in %dx, %al
	call kbd_key
	pop %dx
	pop %cx
	pop %bx
	pop %ds
	iret

/* AH=1 (and 11h): is a byte waiting? ZF clear and AX = its keystroke, or ZF set. */
int16_check:
	push %ax
	mov BDA_KBD_HEAD, %ax
	cmp BDA_KBD_TAIL, %ax
	jne 2f			/* AH=1 saw one before and AH=0 has not taken it */
	push %dx
	mov $COM1_LSR, %dx
	in %dx, %al
	test $LSR_DR, %al
	jnz 1f
	pop %dx
	pop %ax			/* nothing there: AX as it was, ZF set */
	pop %ds
	jmp ret_zf_set
1:	mov $COM1_RBR, %dx	/* take it from the UART, keep it for AH=0 */
	in %dx, %al
	call kbd_key
	pop %dx
	mov %ax, BDA_KBD_BUF
	movw $KBD_BUF_OFF + 2, BDA_KBD_TAIL
2:	pop %ax
	mov BDA_KBD_BUF, %ax
	pop %ds
	jmp ret_zf_clear

/*
 * kbd_key: AL = a byte from COM1 -> AX = what a PC keyboard gives int 16h
 * for the key that types it (scan code in AH, ASCII in AL), as SeaBIOS's
 * int 16h does for QEMU's keyboard: so 'a' is 1E61h, Enter 1C0Dh. A
 * newline (a terminal's or a script's Enter) is Enter, DEL is Backspace;
 * bytes above 7Fh have no key: AH = 0.
 */
kbd_key:
	cmp $'\n', %al
	jne 1f
	mov $'\r', %al
1:	cmp $0x7f, %al
	jne 2f
	mov $8, %al
2:	xor %ah, %ah
	test $0x80, %al
	jnz 3f
	push %bx
	movzbw %al, %bx
	mov %cs:kbd_scan(%bx), %ah
	pop %bx
3:	ret

/* Set-1 scan codes by ASCII (US layout; control characters by their letter) */
kbd_scan:
	.byte 0x00, 0x1e, 0x30, 0x2e, 0x20, 0x12, 0x21, 0x22, 0x0e, 0x0f, 0x1c, 0x25, 0x26, 0x1c, 0x31, 0x18	/* 00-0f */
	.byte 0x19, 0x10, 0x13, 0x1f, 0x14, 0x16, 0x2f, 0x11, 0x2d, 0x15, 0x2c, 0x01, 0x00, 0x00, 0x00, 0x00	/* 10-1f */
	.byte 0x39, 0x02, 0x28, 0x04, 0x05, 0x06, 0x08, 0x28, 0x0a, 0x0b, 0x09, 0x0d, 0x33, 0x0c, 0x34, 0x35	/* 20-2f */
	.byte 0x0b, 0x02, 0x03, 0x04, 0x05, 0x06, 0x07, 0x08, 0x09, 0x0a, 0x27, 0x27, 0x33, 0x0d, 0x34, 0x35	/* 30-3f */
	.byte 0x03, 0x1e, 0x30, 0x2e, 0x20, 0x12, 0x21, 0x22, 0x23, 0x17, 0x24, 0x25, 0x26, 0x32, 0x31, 0x18	/* 40-4f */
	.byte 0x19, 0x10, 0x13, 0x1f, 0x14, 0x16, 0x2f, 0x11, 0x2d, 0x15, 0x2c, 0x1a, 0x2b, 0x1b, 0x07, 0x0c	/* 50-5f */
	.byte 0x29, 0x1e, 0x30, 0x2e, 0x20, 0x12, 0x21, 0x22, 0x23, 0x17, 0x24, 0x25, 0x26, 0x32, 0x31, 0x18	/* 60-6f */
	.byte 0x19, 0x10, 0x13, 0x1f, 0x14, 0x16, 0x2f, 0x11, 0x2d, 0x15, 0x2c, 0x1a, 0x2b, 0x1b, 0x29, 0x0e	/* 70-7f */

/* ---------------------------------------------------------------------- */
/* int 1Ah: time of day (SeaBIOS src/clock.c handle_1a00/handle_1a01)      */
/* ---------------------------------------------------------------------- */
int1a:
	cmp $1, %ah
	ja miss1a
	push %ds
	push $0
	pop %ds
	je 1f
	/* AH=0: CX:DX = ticks since midnight, AL = midnight flag, then cleared */
	mov BDA_TICKS, %dx
	mov BDA_TICKS + 2, %cx
	mov BDA_MIDNIGHT, %al
	movb $0, BDA_MIDNIGHT
	pop %ds
	jmp svc_ok
	/* AH=1: ticks = CX:DX, midnight flag cleared, AH = 0 */
1:	mov %dx, BDA_TICKS
	mov %cx, BDA_TICKS + 2
	movb $0, BDA_MIDNIGHT
	mov $0, %ah
	pop %ds
	jmp svc_ok

/* ---------------------------------------------------------------------- */
/* Start-up                                                                */
/* ---------------------------------------------------------------------- */

/* IVT entries that get their own handler: vector, offset */
.macro VEC n, handler
	movw $\handler, (\n) * 4
.endm

entry:
	cli
	cld
	xor %eax, %eax
	mov %ax, %ds
	mov %ax, %es
	mov %ax, %ss
	mov %ax, %fs
	mov %ax, %gs
	mov $BOOT_STACK, %sp

	/* IVT: every vector to an iret, then the hardware IRQs to EOI stubs;
	 * the segment of each is this code's own */
	xor %edi, %edi
	mov $256, %ecx
	mov %cs, %ax
	shl $16, %eax
	mov $default_iret, %ax
	mov %eax, %ebx		/* EBX = CS:0 + handler, reused below */
	rep stosl
	/* BDA: zero its 256 bytes (a reset keeps RAM), DI is now 0x400 */
	mov $64, %cx
	xor %eax, %eax
	rep stosl
	mov $PIC_MASTER_VECTOR * 4, %di
	mov $8, %cl
	mov %ebx, %eax
	mov $irq_master, %ax
	rep stosl
	mov $PIC_SLAVE_VECTOR * 4, %di
	mov $8, %cl
	mov $irq_slave, %ax
	rep stosl
	VEC PIC_MASTER_VECTOR + IRQ_PIT, int08
	VEC 0x10, int10
	VEC 0x11, int11
	VEC 0x12, int12
	VEC 0x05, miss05	/* print screen */
	VEC 0x13, int13
	VEC 0x14, int14
	VEC 0x15, miss15	/* system services */
	VEC 0x16, int16
	VEC 0x17, miss17	/* printer */
	VEC 0x18, miss18	/* no bootable device (ROM BASIC) */
	VEC 0x19, miss19	/* bootstrap loader */
	VEC 0x1a, int1a

	/* BDA */
	movw $COM1_BASE, BDA_COM1
	movw $EQUIPMENT, BDA_EQUIPMENT
	movw $CONV_MEM_KB, BDA_MEM_KB
	movw $EBDA_SEG, BDA_EBDA
	movl $(KBD_BUF_OFF << 16) | KBD_BUF_OFF, BDA_KBD_HEAD	/* head = tail: empty */
	movb $COM_TIMEOUT_TICKS, BDA_COM1_TIMEOUT
	movb $1, BDA_HDCOUNT	/* one hard disk: the image, drive 80h */
	/* video: mode 3, 80 x 25 colour text, as SeaBIOS's VGA BIOS leaves it */
	movb $3, BDA_VIDEO_MODE
	movw $VGA_COLS, BDA_VIDEO_COLS
	movw $0x1000, BDA_VIDEO_PAGESIZE
	movw $0x0607, BDA_CURSOR_TYPE
	movw $0x3d4, BDA_CRTC
	movb $24, BDA_VIDEO_ROWS
	movw $16, BDA_CHAR_HEIGHT
	/* ticks (0x46c) and the midnight flag (0x470) are 0 from the clearing */

	/* 8259A pair: ICW1-ICW4, then the masks (8259A datasheet, "Initialization") */
	mov $PIC_ICW1, %al
	out %al, $PIC_MASTER_CMD
	out %al, $PIC_SLAVE_CMD
	mov $PIC_MASTER_VECTOR, %al	/* ICW2: vector base */
	out %al, $PIC_MASTER_DATA
	mov $PIC_SLAVE_VECTOR, %al
	out %al, $PIC_SLAVE_DATA
	mov $1 << IRQ_CASCADE, %al	/* ICW3 master: a slave on IRQ 2 */
	out %al, $PIC_MASTER_DATA
	mov $IRQ_CASCADE, %al		/* ICW3 slave: its id is 2 */
	out %al, $PIC_SLAVE_DATA
	mov $PIC_ICW4, %al
	out %al, $PIC_MASTER_DATA
	out %al, $PIC_SLAVE_DATA
	mov $PIC_IMR1, %al
	out %al, $PIC_MASTER_DATA
	mov $PIC_IMR2, %al
	out %al, $PIC_SLAVE_DATA

	/* 8254 counter 0: mode 2, count 0 = 65536 -> 1193182 / 65536 = 18.2 Hz */
	mov $PIT_MODE_TICK, %al
	out %al, $PIT_CTRL
	xor %al, %al
	out %al, $PIT_BASE
	out %al, $PIT_BASE

	/* 16550A: nothing to do, see the top of the file */

#ifdef FIRMWARE_QEMU_TEST
	/*
	 * Development only (tests/diff/fw-qemu.sh): under QEMU with this page as
	 * -bios, nobody loads a boot sector, so take it from the start of the
	 * 64 KiB BIOS image (F000:0000).
	 */
	mov $0x1b, %ecx		/* IA32_APIC_BASE: disable QEMU's local APIC so */
	rdmsr			/* the 8259A reaches the CPU directly (SeaBIOS */
	and $~0x800, %ax	/* instead sets LINT0 to ExtINT) */
	wrmsr
	push %ds
	push $0xf000
	pop %ds
	xor %si, %si
	mov $BOOT_ADDR, %di
	mov $BOOT_SIZE / 2, %cx
	rep movsw
	pop %ds
	xor %esi, %esi		/* the guest index, as SeaBIOS leaves it */
#endif

	/* Tell the VMM the firmware is done (its boot time ends here), then
	 * enter the boot sector as a PC BIOS does. ESI was never touched. */
	mov $FW_EVENT_PORT, %dx
	mov $FW_EVENT_BOOT, %ax
	out %ax, %dx
	xor %eax, %eax
	xor %ebx, %ebx
	xor %ecx, %ecx
	xor %edi, %edi
	xor %ebp, %ebp
	mov $BOOT_DRIVE, %edx
	sti
	ljmp $0, $BOOT_ADDR

/* ---------------------------------------------------------------------- */
	.org FIRMWARE_RESET_OFF
reset:				/* where the vCPU starts */
#ifdef FIRMWARE_QEMU_TEST
	ljmp $0xff00, $entry	/* QEMU's reset vector F000:FFF0 is this page's 0ff0 */
#else
	jmp entry
#endif
	.ascii "kvmlite"
	.org FIRMWARE_SIZE
